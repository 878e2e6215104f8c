"""Fixtures for the FastAGI peer tests: one real `hotline serve` (SQLite in a temp data dir,
SIP on a free port for the SIP-vs-AGI comparison, FastAGI on a free port, short AGI timeouts
so the bad-input cases end quickly), an admin token, and a small gRPC client built from
server reflection (no stubs generated from our .proto files)."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

sys.path.insert(0, str(pathlib.Path(__file__).parent))

REPO = pathlib.Path(__file__).resolve().parents[2]
ADMIN_ID, ADMIN_PASSWORD = "admin", "secret123"
# How Asterisk sees the shared recording directory (the server maps it to <data>/voicemail).
ASTERISK_VM_DIR = "/var/spool/asterisk/hotline"
HEADER_TIMEOUT_MS = 1500
COMMAND_TIMEOUT_MS = 2000


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_udp_port() -> int:
    for _ in range(50):
        p = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
    raise RuntimeError("no free TCP+UDP port")


@dataclass
class Server:
    proc: subprocess.Popen
    binary: pathlib.Path
    data_dir: pathlib.Path
    log_path: pathlib.Path
    grpc_addr: str
    agi: tuple[str, int]
    sip_port: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def voicemail_dir(self) -> pathlib.Path:
        return self.data_dir / "voicemail"


class Core:
    """The core over gRPC, methods found through reflection."""

    def __init__(self, addr: str):
        self.channel = grpc.insecure_channel(addr)
        self.pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(self.channel))

    def _method(self, service: str, method: str, stream: bool = False):
        sd = self.pool.FindServiceByName(f"hotline.v1.{service}")
        md = sd.methods_by_name[method]
        req = message_factory.GetMessageClass(md.input_type)
        resp = message_factory.GetMessageClass(md.output_type)
        make = self.channel.unary_stream if stream else self.channel.unary_unary
        return make(f"/{sd.full_name}/{md.name}", request_serializer=req.SerializeToString,
                    response_deserializer=resp.FromString), req

    def call(self, service: str, method: str, token: str | None = None, /, **fields):
        fn, req = self._method(service, method)
        md = [("authorization", f"Bearer {token}")] if token else None
        return fn(req(**fields), metadata=md, timeout=10)

    def stream(self, service: str, method: str, token: str, /, **fields):
        fn, req = self._method(service, method, stream=True)
        return fn(req(**fields), metadata=[("authorization", f"Bearer {token}")])

    def login(self, agent_id: str, password: str) -> str:
        return self.call("AgentService", "Login", agent_id=agent_id, password=password).token

    def tickets(self, token: str, number: str):
        return list(self.call("TicketService", "ListTickets", token, faulty_number=number, page_size=50).tickets)


def _wait_serving(srv: Server) -> None:
    deadline = time.monotonic() + 60
    with grpc.insecure_channel(srv.grpc_addr) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.monotonic() < deadline:
            if srv.proc.poll() is not None:
                raise RuntimeError(f"hotline serve exited with {srv.proc.returncode}:\n{srv.log()}")
            try:
                if stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status == 1:
                    break
            except grpc.RpcError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"hotline serve not serving:\n{srv.log()}")
    while time.monotonic() < deadline:  # the AGI listener comes up after the core
        try:
            socket.create_connection(srv.agi, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no FastAGI listener on {srv.agi}:\n{srv.log()}")


@pytest.fixture(scope="session")
def server():
    binary = pathlib.Path(os.environ.get("HOTLINE_BIN", "target/debug/hotline"))
    if not binary.is_absolute():
        binary = REPO / binary
    if not binary.is_file():
        pytest.exit(f"hotline binary not found at {binary}; set HOTLINE_BIN", 2)
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="hotline-agi-"))
    subprocess.run([str(binary), "admin", "--data-dir", str(data_dir), "--agent-id", ADMIN_ID,
                    "--role", "admin", "--password", ADMIN_PASSWORD], check=True, capture_output=True, timeout=60)
    config = data_dir / "hotline.toml"
    config.write_text(
        "[agi]\n"
        f'asterisk_recording_dir = "{ASTERISK_VM_DIR}"\n'
        f"header_timeout_ms = {HEADER_TIMEOUT_MS}\n"
        f"command_timeout_ms = {COMMAND_TIMEOUT_MS}\n"
        "recording_wait_ms = 500\n"
        'dial = "PJSIP/{agent}"\n'
        "[sip]\nrtp_pacer_priority = 0\n"
        "[ivr]\nfirst_digit_timeout_ms = 3000\ninter_digit_timeout_ms = 2000\n"
    )
    last = None
    for _ in range(3):
        grpc_port, http_port, agi_port, sip_port = free_port(), free_port(), free_port(), free_tcp_udp_port()
        rtp = 30000 + (os.getpid() % 200) * 100
        log_path = data_dir / f"serve-{agi_port}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(binary), "serve", "--config", str(config), "--data-dir", str(data_dir),
                 "--grpc-listen", f"127.0.0.1:{grpc_port}", "--http-listen", f"127.0.0.1:{http_port}",
                 "--sip-listen", f"127.0.0.1:{sip_port}", "--rtp-ports", f"{rtp}-{rtp + 99}",
                 "--media-ip", "127.0.0.1", "--agi-listen", f"127.0.0.1:{agi_port}",
                 "--prompts", str(REPO / "prompts/prompts.toml")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "HOTLINE_LOG": os.environ.get("HOTLINE_LOG", "info,hotline_agi=debug")},
            )
        srv = Server(proc, binary, data_dir, log_path, f"127.0.0.1:{grpc_port}", ("127.0.0.1", agi_port), sip_port)
        try:
            _wait_serving(srv)
            break
        except RuntimeError as e:
            last = e
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    else:
        raise RuntimeError(f"could not start hotline serve: {last}")
    yield srv
    srv.proc.send_signal(signal.SIGTERM)
    try:
        rc = srv.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        srv.proc.wait()
        pytest.fail(f"hotline serve did not stop on SIGTERM:\n{srv.log()[-3000:]}")
    if os.environ.get("AGI_KEEP_LOG"):
        shutil.copy(srv.log_path, os.environ["AGI_KEEP_LOG"])
    assert rc == 0, f"hotline serve exited {rc}:\n{srv.log()[-3000:]}"
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def core(server) -> Core:
    return Core(server.grpc_addr)


@pytest.fixture(scope="session")
def admin(core) -> str:
    return core.login(ADMIN_ID, ADMIN_PASSWORD)
