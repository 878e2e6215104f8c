"""Interop: a client that owes nothing to our code (Python grpcio, reflection-built messages)
drives the core through log-in, agent administration, ticket creation and the second-review
workflow, and checks the status codes of refusals."""

from __future__ import annotations

import itertools

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

TICKETS = "hotline.v1.TicketService"
AGENTS = "hotline.v1.AgentService"
HEALTH = "grpc.health.v1.Health"

_numbers = itertools.count(1)


def fresh_number() -> str:
    """A faulty number no other test uses (so no repeat linking across tests)."""
    return f"0571{next(_numbers):08d}"


def rpc_error(fn, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, **kwargs)
    return info.value


# --- reflection and health -----------------------------------------------------------------


def test_reflection_lists_services(reflected):
    services = set(reflected.db.get_services())
    assert {TICKETS, AGENTS, HEALTH} <= services, services


def test_reflection_resolves_every_method_and_import(reflected):
    # Resolving each method's types pulls every file and its dependencies over reflection,
    # including google/protobuf/timestamp.proto.
    for name in (TICKETS, AGENTS):
        sd = reflected.pool.FindServiceByName(name)
        assert len(sd.methods) > 0
        for md in sd.methods:
            assert md.input_type.full_name.startswith("hotline.v1.")
            assert md.output_type.full_name.startswith("hotline.v1.")
    created_at = reflected.pool.FindMessageTypeByName("hotline.v1.Ticket").fields_by_name["created_at"]
    assert created_at.message_type.full_name == "google.protobuf.Timestamp"
    assert set(reflected.pool.FindServiceByName(TICKETS).methods_by_name) >= {
        "CreateTicket",
        "GetTicket",
        "DispatchTicket",
        "ReviewOrder",
        "GetTimeRules",
    }


def test_reflection_v1_answers_like_v1alpha(channel):
    # grpcio-reflection ships only a v1alpha client; v1's messages are wire-identical, so the
    # same classes can talk to grpc.reflection.v1.ServerReflection.
    for svc in ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"):
        call = channel.stream_stream(
            f"/{svc}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        reqs = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=TICKETS),
        ]
        responses = list(call(iter(reqs), timeout=10))
        assert len(responses) == 2, svc
        names = {s.name for s in responses[0].list_services_response.service}
        assert {TICKETS, AGENTS} <= names, (svc, names)
        assert len(responses[1].file_descriptor_response.file_descriptor_proto) >= 1, svc


def test_health_serving(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", TICKETS, AGENTS):
        r = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert r.status == health_pb2.HealthCheckResponse.SERVING, service


def test_health_serving_via_reflection(reflected):
    # The same check with a message class built from the served descriptors.
    r = reflected.call(HEALTH, "Check", service=TICKETS)
    assert r.DESCRIPTOR.full_name == "grpc.health.v1.HealthCheckResponse"
    assert r.DESCRIPTOR.fields_by_name["status"].enum_type.values_by_number[r.status].name == "SERVING"


# --- agents ----------------------------------------------------------------------------------


def test_login_returns_token(reflected):
    r = reflected.agents("Login", agent_id="admin", password="secret123")
    assert len(r.token) >= 16
    assert r.agent.agent_id == "admin"
    assert r.agent.role == "admin"
    assert r.HasField("expires_at") and r.expires_at.seconds > 0
    me = reflected.agents("GetMe", r.token)
    assert me.agent_id == "admin"


def test_wrong_password_is_unauthenticated(reflected):
    e = rpc_error(reflected.agents, "Login", agent_id="admin", password="wrong-password")
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED


def test_admin_creates_junior_and_senior(reflected, admin_token, desk_agents):
    assert (desk_agents.junior.agent_id, desk_agents.junior.role) == ("jr1", "junior")
    assert (desk_agents.senior.agent_id, desk_agents.senior.role) == ("sr1", "senior")
    assert desk_agents.junior.role_label and desk_agents.senior.role_label
    assert reflected.agents("GetMe", desk_agents.junior_token).role == "junior"
    assert reflected.agents("GetMe", desk_agents.senior_token).role == "senior"
    listed = {a.agent_id: a.role for a in reflected.agents("ListAgents", admin_token).agents}
    assert listed.get("jr1") == "junior" and listed.get("sr1") == "senior", listed


def test_junior_may_not_create_agents(reflected, desk_agents):
    e = rpc_error(
        reflected.agents, "CreateAgent", desk_agents.junior_token, agent_id="x1", role="junior", password="password-x1"
    )
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED


# --- tickets ---------------------------------------------------------------------------------


def test_create_ticket_and_read_it_back(reflected, admin_token):
    number = fresh_number()
    req = reflected.message(
        "hotline.v1.CreateTicketRequest",
        faulty_number=number,
        fault_type="noise",
        channel="ivr",
        customer_name="张三",
        description="线路有杂音",
    )
    call, _ = reflected.method(TICKETS, "CreateTicket")
    created = call(req, metadata=[("authorization", f"Bearer {admin_token}")], timeout=10)
    t = created.ticket
    assert t.id > 0
    assert t.faulty_number == number
    assert not created.repeat.is_repeat

    got = reflected.tickets("GetTicket", admin_token, id=t.id)
    assert got.DESCRIPTOR.full_name == "hotline.v1.Ticket"
    assert got.id == t.id
    assert got.faulty_number == number
    assert got.status == "new"
    assert got.fault_type == "noise"
    assert got.fault_type_label == "杂音"
    assert got.channel == "ivr"
    assert got.customer.name == "张三"
    assert got.created_by == "admin"
    assert got.HasField("created_at") and got.created_at.seconds > 0


def test_no_token_is_unauthenticated(reflected):
    e = rpc_error(reflected.tickets, "CreateTicket", None, faulty_number=fresh_number(), fault_type="noise", channel="ivr")
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    e = rpc_error(reflected.tickets, "GetTimeRules", None)
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bogus_token_is_unauthenticated(reflected):
    e = rpc_error(reflected.tickets, "GetTimeRules", "not-a-real-token")
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bad_faulty_number_is_invalid_argument(reflected, admin_token):
    e = rpc_error(reflected.tickets, "CreateTicket", admin_token, faulty_number="12a45", fault_type="noise", channel="ivr")
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "faulty_number" in e.details(), e.details()
    assert e.details().startswith("faulty_number"), e.details()


def test_unknown_fault_type_is_invalid_argument(reflected, admin_token):
    e = rpc_error(
        reflected.tickets, "CreateTicket", admin_token, faulty_number=fresh_number(), fault_type="gremlins", channel="ivr"
    )
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "fault_type" in e.details(), e.details()


def test_junior_dispatch_needs_senior_review(reflected, desk_agents):
    jr, sr = desk_agents.junior_token, desk_agents.senior_token
    t = reflected.tickets("CreateTicket", jr, faulty_number=fresh_number(), fault_type="no_dial_tone", channel="phone").ticket
    assert t.status == "new"

    dispatched = reflected.tickets("DispatchTicket", jr, id=t.id, note="请派修")
    assert dispatched.ticket.status == "awaiting_review"
    order = dispatched.order
    assert order.id > 0 and order.ticket_id == t.id
    assert order.kind == "dispatch"
    assert order.review == "pending"
    assert order.created_by == "jr1"

    # The same junior may not approve (not a reviewer's role).
    e = rpc_error(reflected.tickets, "ReviewOrder", jr, ticket_id=t.id, order_id=order.id, approve=True)
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED, e.details()
    assert reflected.tickets("GetTicket", jr, id=t.id).status == "awaiting_review"

    approved = reflected.tickets("ReviewOrder", sr, ticket_id=t.id, order_id=order.id, approve=True, note="同意")
    assert approved.ticket.status == "dispatched"
    assert approved.order.id == order.id
    assert approved.order.review == "approved"
    assert approved.order.reviewed_by == "sr1"

    after = reflected.tickets("GetTicket", sr, id=t.id)
    assert after.status == "dispatched"
    assert [o.review for o in after.orders if o.id == order.id] == ["approved"]


def test_time_rules_over_reflection(reflected, admin_token):
    r = reflected.tickets("GetTimeRules", admin_token)
    assert r.DESCRIPTOR.full_name == "hotline.v1.TimeRules"
    assert len(r.time_limits) > 0
    assert r.default_hours > 0
