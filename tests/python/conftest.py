"""Fixtures for the Python interop tests.

A real `hotline serve` is started once per session on free loopback ports with SQLite in a
temporary data dir. The client side uses only what the server tells it through gRPC server
reflection: services and message classes are built at run time from the served descriptors
(grpcio-reflection's ProtoReflectionDescriptorDatabase + a protobuf DescriptorPool), never from
stubs generated from our .proto files.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
ADMIN_ID = "admin"
ADMIN_PASSWORD = "secret123"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 10.0


def hotline_bin() -> pathlib.Path:
    p = pathlib.Path(os.environ.get("HOTLINE_BIN", "target/debug/hotline"))
    if not p.is_absolute():
        p = REPO / p
    if not p.is_file():
        pytest.exit(f"hotline binary not found at {p}; run `cargo build -p hotline` or set HOTLINE_BIN", 2)
    return p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    grpc_addr: str
    data_dir: pathlib.Path
    log_path: pathlib.Path
    # The HTTP listener (/healthz, /metrics), host:port.
    http_addr: str = ""

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _wait_serving(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with grpc.insecure_channel(server.grpc_addr) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"hotline serve exited with {server.proc.returncode}:\n{server.log()}")
            try:
                r = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if r.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"hotline serve not SERVING after {START_TIMEOUT_S} s:\n{server.log()}")


def _start(binary: pathlib.Path, data_dir: pathlib.Path) -> Server:
    grpc_port, http_port = free_port(), free_port()
    while http_port == grpc_port:
        http_port = free_port()
    log_path = data_dir / f"serve-{grpc_port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--data-dir",
                str(data_dir),
                "--grpc-listen",
                f"127.0.0.1:{grpc_port}",
                "--http-listen",
                f"127.0.0.1:{http_port}",
                # gRPC interop only: no SIP or FastAGI listener to collide with another
                # server on :5060 or :4573
                "--no-sip",
                "--no-agi",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(proc, f"127.0.0.1:{grpc_port}", data_dir, log_path, f"127.0.0.1:{http_port}")
    try:
        _wait_serving(server)
    except Exception:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    return server


@pytest.fixture(scope="session")
def server():
    binary = hotline_bin()
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="hotline-pytest-"))
    try:
        subprocess.run(
            [
                str(binary),
                "admin",
                "--data-dir",
                str(data_dir),
                "--agent-id",
                ADMIN_ID,
                "--role",
                "admin",
                "--password",
                ADMIN_PASSWORD,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        # The free-port probe can race with another process taking the port: try a few times.
        last: Exception | None = None
        srv = None
        for _ in range(3):
            try:
                srv = _start(binary, data_dir)
                break
            except RuntimeError as e:
                last = e
        if srv is None:
            raise RuntimeError(f"could not start hotline serve: {last}")
        yield srv
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()
            pytest.fail(f"hotline serve did not exit within {STOP_TIMEOUT_S} s of SIGTERM:\n{srv.log()[-4000:]}")
        assert rc == 0, f"hotline serve exited with {rc} after SIGTERM:\n{srv.log()[-4000:]}"
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Reflected:
    """A client for the server built from reflection alone."""

    channel: grpc.Channel
    db: ProtoReflectionDescriptorDatabase
    pool: descriptor_pool.DescriptorPool
    _stubs: dict = field(default_factory=dict)

    def message(self, full_name: str, **fields):
        cls = message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))
        return cls(**fields)

    def method(self, service: str, method: str):
        key = (service, method)
        if key not in self._stubs:
            sd = self.pool.FindServiceByName(service)
            md = sd.methods_by_name[method]
            req_cls = message_factory.GetMessageClass(md.input_type)
            resp_cls = message_factory.GetMessageClass(md.output_type)
            call = self.channel.unary_unary(
                f"/{sd.full_name}/{md.name}",
                request_serializer=req_cls.SerializeToString,
                response_deserializer=resp_cls.FromString,
            )
            self._stubs[key] = (call, req_cls)
        return self._stubs[key]

    def call(self, service: str, method: str, token: str | None = None, /, **fields):
        """Calls `service/method` with a request built from `fields` (nested messages as dicts)."""
        call, req_cls = self.method(service, method)
        metadata = [("authorization", f"Bearer {token}")] if token else None
        return call(req_cls(**fields), metadata=metadata, timeout=CALL_TIMEOUT_S)

    def tickets(self, method: str, token: str | None = None, /, **fields):
        return self.call("hotline.v1.TicketService", method, token, **fields)

    def agents(self, method: str, token: str | None = None, /, **fields):
        return self.call("hotline.v1.AgentService", method, token, **fields)

    def login(self, agent_id: str, password: str) -> str:
        return self.agents("Login", agent_id=agent_id, password=password).token


@pytest.fixture(scope="session")
def channel(server):
    ch = grpc.insecure_channel(server.grpc_addr)
    yield ch
    ch.close()


@pytest.fixture(scope="session")
def reflected(channel) -> Reflected:
    db = ProtoReflectionDescriptorDatabase(channel)
    return Reflected(channel, db, descriptor_pool.DescriptorPool(db))


@pytest.fixture(scope="session")
def admin_token(reflected) -> str:
    return reflected.login(ADMIN_ID, ADMIN_PASSWORD)


@dataclass
class DeskAgents:
    junior: object
    senior: object
    junior_token: str
    senior_token: str


@pytest.fixture(scope="session")
def desk_agents(reflected, admin_token) -> DeskAgents:
    junior = reflected.agents(
        "CreateAgent", admin_token, agent_id="jr1", name="初级话务员", role="junior", password="junior-pass-1"
    )
    senior = reflected.agents(
        "CreateAgent", admin_token, agent_id="sr1", name="高级话务员", role="senior", password="senior-pass-1"
    )
    return DeskAgents(
        junior=junior,
        senior=senior,
        junior_token=reflected.login("jr1", "junior-pass-1"),
        senior_token=reflected.login("sr1", "senior-pass-1"),
    )
