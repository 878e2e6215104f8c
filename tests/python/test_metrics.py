"""/metrics read by a real parser: Python prometheus_client's OpenMetrics parser reads the
exposition of a running `hotline serve` (prometheus-client on the Rust side), the families have
the types they claim, and counters and histograms move after gRPC actions (CreateTicket; a
caller joining the queue with nobody logged in)."""

from __future__ import annotations

import time
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from test_queue import join_stream

QUEUE = "hotline.v1.QueueService"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

# family name (as the parser names it: counters without _total) → type
EXPECTED = {
    "hotline_queue_joined": "counter",
    "hotline_queue_calls": "counter",
    "hotline_queue_offers": "counter",
    "hotline_deadline_alerts": "counter",
    "hotline_center112_outbox_delivered": "counter",
    "hotline_queue_wait_seconds": "histogram",
    "hotline_queue_ring_seconds": "histogram",
    "hotline_ticket_create_seconds": "histogram",
    "hotline_center112_delivery_seconds": "histogram",
    "hotline_queue_waiting": "gauge",
    "hotline_queue_live_calls": "gauge",
    "hotline_agents": "gauge",
    "hotline_center112_outbox_backlog": "gauge",
    "hotline_store_up": "gauge",
}
# present once a call joined the queue today (absent without calls, not a made-up 0 or 1)
AFTER_A_CALL = {
    "hotline_queue_service_level_ratio": "gauge",
}


def scrape(server) -> tuple[str, dict]:
    with urllib.request.urlopen(f"http://{server.http_addr}/metrics", timeout=10) as r:
        content_type = r.headers.get("Content-Type")
        text = r.read().decode("utf-8")
    return content_type, {f.name: f for f in text_string_to_metric_families(text)}


def sample(families: dict, family: str, sample_name: str, **labels) -> float:
    """The value of one sample (0 when the labelled series does not exist yet)."""
    for s in families[family].samples:
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


def test_metrics_parse_as_openmetrics_with_the_declared_types(server):
    content_type, families = scrape(server)
    assert content_type == OPENMETRICS
    for name, kind in EXPECTED.items():
        assert name in families, f"{name} missing; have {sorted(families)}"
        assert families[name].type == kind, (name, families[name].type)
    assert sample(families, "hotline_store_up", "hotline_store_up") == 1.0
    # agents by presence: one series per presence, all present
    presences = {s.labels["presence"] for s in families["hotline_agents"].samples}
    assert {"available", "ringing", "on_call", "wrap_up", "not_ready", "logged_out"} <= presences
    # every outcome series exists from the start, so rates have both sides
    outcomes = {s.labels["outcome"] for s in families["hotline_queue_calls"].samples}
    assert outcomes == {"answered_in_time", "answered_late", "short_abandon", "abandon", "voicemail"}
    # histograms carry buckets in seconds up to +Inf; the ring buckets hold the 15 s limit (JO2)
    ring_bounds = {
        s.labels["le"] for s in families["hotline_queue_ring_seconds"].samples if s.name.endswith("_bucket")
    }
    assert {"15.0", "+Inf"} <= ring_bounds, ring_bounds
    create_bounds = [s.labels["le"] for s in families["hotline_ticket_create_seconds"].samples if s.name.endswith("_bucket")]
    assert create_bounds and create_bounds[-1] == "+Inf"


def test_create_ticket_moves_the_create_latency_histogram(server, reflected, desk_agents):
    _, before = scrape(server)
    count = "hotline_ticket_create_seconds_count"
    n0 = sample(before, "hotline_ticket_create_seconds", count)
    s0 = sample(before, "hotline_ticket_create_seconds", "hotline_ticket_create_seconds_sum")
    t = reflected.tickets(
        "CreateTicket", desk_agents.junior_token, faulty_number="057199990001", fault_type="noise", channel="phone"
    ).ticket
    assert t.id > 0
    _, after = scrape(server)
    assert sample(after, "hotline_ticket_create_seconds", count) == n0 + 1
    assert sample(after, "hotline_ticket_create_seconds", "hotline_ticket_create_seconds_sum") > s0
    inf = sample(after, "hotline_ticket_create_seconds", "hotline_ticket_create_seconds_bucket", le="+Inf")
    assert inf == n0 + 1


def test_a_caller_sent_to_voicemail_moves_the_queue_counters(server, reflected, admin_token):
    reflected.agents(
        "CreateAgent", admin_token, agent_id="pymetrics", name="指标测试", role="system", password="pymetrics-secret-1"
    )
    token = reflected.login("pymetrics", "pymetrics-secret-1")
    _, before = scrape(server)
    joined0 = sample(before, "hotline_queue_joined", "hotline_queue_joined_total")
    vm0 = sample(before, "hotline_queue_calls", "hotline_queue_calls_total", outcome="voicemail")
    wait0 = sample(before, "hotline_queue_wait_seconds", "hotline_queue_wait_seconds_count", outcome="voicemail")

    kinds = [i.WhichOneof("kind") for i in join_stream(reflected, token, call_id="py-metrics-1", caller_number="057100000009")]
    assert kinds == ["to_voicemail"]

    # counted as the ACD writes its log (in the same critical section as the instruction)
    _, after = scrape(server)
    assert sample(after, "hotline_queue_joined", "hotline_queue_joined_total") == joined0 + 1
    assert sample(after, "hotline_queue_calls", "hotline_queue_calls_total", outcome="voicemail") == vm0 + 1
    assert sample(after, "hotline_queue_wait_seconds", "hotline_queue_wait_seconds_count", outcome="voicemail") == wait0 + 1
    # today's service level comes from the stored log (written by a background task): a call
    # sent to voicemail is not answered in time, and no call today was answered
    level = None
    for _ in range(50):
        _, fams = scrape(server)
        ratio = fams.get("hotline_queue_service_level_ratio")
        days = [s for s in ratio.samples if s.labels.get("period") == "day"] if ratio else []
        if days:
            assert ratio.type == AFTER_A_CALL["hotline_queue_service_level_ratio"]
            level = days[0].value
            break
        time.sleep(0.1)
    assert level == 0.0
