//! The agent queue over real gRPC (JO2, JO8): offers to the longest-idle agent, the 15-second
//! rule in virtual time (the real 15 000 ms limit, moved by a manual clock), re-offer at once,
//! screen pops and alerts on the event feed, presence owned by the queue, abandon, voicemail
//! when nobody is logged in or after the maximum wait, metrics from the stored queue log, and
//! the bad input the service refuses. SQLite, and PostgreSQL at `HOTLINE_TEST_DATABASE_URL`
//! (default 127.0.0.1:5432).

use hotline_core::clock::ManualClock;
use hotline_domain::Timestamp;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::queue_service_client::QueueServiceClient;
use hotline_testkit::{StartedCore, TestCore, authed};
use pb::queue_instruction::Kind;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Streaming};

const T0: i64 = 1_790_000_000_000;

struct Env {
    core: StartedCore,
    clock: ManualClock,
    agents: AgentServiceClient<Channel>,
    queue: QueueServiceClient<Channel>,
    admin: String,
    ivr: String,
}

async fn boot(tc: TestCore) -> Env {
    let clock = ManualClock::new(Timestamp(T0));
    let core = tc
        .with_clock(Arc::new(clock.clone()))
        .with_config(|cfg| cfg.service_account = Some(("ivr".into(), "ivr-secret-1".into())))
        .start()
        .await;
    let (admin, ivr) = (core.admin.clone(), core.token("ivr").to_string());
    Env {
        agents: core.client(AgentServiceClient::new),
        queue: core.client(QueueServiceClient::new),
        core,
        clock,
        admin,
        ivr,
    }
}

async fn login(c: &mut AgentServiceClient<Channel>, id: &str, pw: &str) -> String {
    c.login(pb::LoginRequest {
        agent_id: id.into(),
        password: pw.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .token
}

impl Env {
    /// Creates an agent and logs it in; returns its token.
    async fn agent(&mut self, id: &str, role: &str) -> String {
        let pw = format!("{id}-password");
        self.agents
            .create_agent(authed(
                &self.admin,
                pb::CreateAgentRequest {
                    agent_id: id.into(),
                    name: format!("话务员{id}"),
                    role: role.into(),
                    password: pw.clone(),
                },
            ))
            .await
            .unwrap();
        login(&mut self.agents, id, &pw).await
    }

    async fn presence(&mut self, token: &str, p: &str) -> Result<pb::Agent, tonic::Status> {
        self.agents
            .set_presence(authed(token, pb::SetPresenceRequest { presence: p.into() }))
            .await
            .map(|r| r.into_inner())
    }

    async fn feed(&mut self, token: &str) -> Streaming<pb::Event> {
        self.agents
            .stream_events(authed(token, pb::StreamEventsRequest {}))
            .await
            .unwrap()
            .into_inner()
    }

    async fn join(
        &mut self,
        call: &str,
        caller: &str,
        senior: bool,
    ) -> Streaming<pb::QueueInstruction> {
        self.queue
            .join_queue(authed(
                &self.ivr,
                pb::JoinQueueRequest {
                    call_id: call.into(),
                    caller_number: caller.into(),
                    faulty_number: String::new(),
                    senior,
                    reason: "menu_0".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
    }

    async fn report(
        &mut self,
        call: &str,
        agent: &str,
        outcome: pb::OfferOutcome,
    ) -> Result<(), tonic::Status> {
        self.queue
            .report_offer(authed(
                &self.ivr,
                pb::ReportOfferRequest {
                    call_id: call.into(),
                    agent_id: agent.into(),
                    outcome: outcome as i32,
                },
            ))
            .await
            .map(|_| ())
    }

    async fn presence_of(&mut self, id: &str) -> String {
        let list = self
            .agents
            .list_agents(authed(&self.admin, pb::ListAgentsRequest {}))
            .await
            .unwrap()
            .into_inner();
        list.agents
            .into_iter()
            .find(|a| a.agent_id == id)
            .map(|a| a.presence)
            .unwrap()
    }

    async fn metrics(&mut self) -> pb::QueueMetrics {
        self.queue
            .get_queue_metrics(authed(
                &self.admin,
                pb::GetQueueMetricsRequest {
                    with_intervals: true,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
    }
}

async fn next(s: &mut Streaming<pb::QueueInstruction>) -> Kind {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("an instruction within 5 s")
        .expect("stream open")
        .expect("no error")
        .kind
        .expect("a kind")
}

/// The next call-related event on an agent's feed (other events skipped).
async fn next_call_event(s: &mut Streaming<pb::Event>) -> pb::event::Kind {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("an event within 5 s")
            .expect("feed open")
            .expect("no error");
        match e.kind {
            Some(
                k @ (pb::event::Kind::CallOffered(_)
                | pb::event::Kind::CallConnected(_)
                | pb::event::Kind::CallOfferEnded(_)
                | pb::event::Kind::AgentAlert(_)),
            ) => return k,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn jo2_unanswered_offer_moves_to_the_next_idle_agent_after_15_s() {
    for tc in TestCore::backends("queue").await {
        let mut env = boot(tc).await;
        let j1 = env.agent("j1", "junior").await;
        let j2 = env.agent("j2", "junior").await;
        let s1 = env.agent("s1", "senior").await;
        let mut feed_j1 = env.feed(&j1).await;
        let mut feed_j2 = env.feed(&j2).await;
        let mut feed_s1 = env.feed(&s1).await;
        env.presence(&j1, "available").await.unwrap();
        env.clock.advance_ms(1_000);
        env.presence(&j2, "available").await.unwrap();

        let mut call = env.join("call-1@test", "01088880001", false).await;
        // j1 has been idle longest
        match next(&mut call).await {
            Kind::Offer(o) => {
                assert_eq!(o.agent_id, "j1");
                assert_eq!(o.sip_user, "j1");
                assert_eq!(o.ring_timeout_ms, 15_000);
            }
            other => panic!("expected an offer, got {other:?}"),
        }
        match next_call_event(&mut feed_j1).await {
            pb::event::Kind::CallOffered(p) => {
                assert_eq!(p.call_id, "call-1@test");
                assert_eq!(p.caller_number, "01088880001");
                assert!(!p.repeat);
            }
            other => panic!("expected a screen pop, got {other:?}"),
        }
        assert_eq!(env.presence_of("j1").await, "ringing");

        // 14.999 s: still ringing j1
        env.clock.advance_ms(14_999);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(env.presence_of("j1").await, "ringing");
        // 15 s: cancelled as a no-answer and offered to j2 at once
        env.clock.advance_ms(1);
        match next(&mut call).await {
            Kind::CancelOffer(c) => {
                assert_eq!(c.agent_id, "j1");
                assert!(c.no_answer);
            }
            other => panic!("expected the ring to be cancelled, got {other:?}"),
        }
        match next(&mut call).await {
            Kind::Offer(o) => assert_eq!(o.agent_id, "j2"),
            other => panic!("expected a re-offer, got {other:?}"),
        }
        match next_call_event(&mut feed_j1).await {
            pb::event::Kind::CallOfferEnded(e) => assert_eq!(e.reason, "no_answer"),
            other => panic!("expected the offer to end, got {other:?}"),
        }
        match next_call_event(&mut feed_s1).await {
            pb::event::Kind::AgentAlert(a) => {
                assert_eq!(a.agent_id, "j1");
                assert_eq!(a.kind, "no_answer");
                assert!(a.message.contains("15 秒"), "{}", a.message);
            }
            other => panic!("expected an alert for seniors, got {other:?}"),
        }
        assert!(matches!(
            next_call_event(&mut feed_j2).await,
            pb::event::Kind::CallOffered(_)
        ));

        // j1 answering late loses; j2 answering connects
        let late = env
            .report("call-1@test", "j1", pb::OfferOutcome::Answered)
            .await
            .unwrap_err();
        assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
        env.clock.advance_ms(3_000);
        env.report("call-1@test", "j2", pb::OfferOutcome::Answered)
            .await
            .unwrap();
        match next(&mut call).await {
            Kind::Connected(c) => assert_eq!(c.agent_id, "j2"),
            other => panic!("expected connected, got {other:?}"),
        }
        match next_call_event(&mut feed_j2).await {
            pb::event::Kind::CallConnected(c) => {
                let d = c.draft.expect("a draft ticket");
                assert_eq!(d.faulty_number, "01088880001");
                assert_eq!(d.contact_number, "01088880001");
                assert_eq!(d.channel, "phone");
            }
            other => panic!("expected the draft ticket, got {other:?}"),
        }
        assert_eq!(env.presence_of("j2").await, "on_call");
        // an agent on a call cannot make itself available
        let busy = env.presence(&j2, "available").await.unwrap_err();
        assert_eq!(busy.code(), Code::InvalidArgument);
        assert!(busy.message().starts_with("presence"), "{busy:?}");

        env.clock.advance_ms(60_000);
        env.queue
            .end_call(authed(
                &env.ivr,
                pb::EndCallRequest {
                    call_id: "call-1@test".into(),
                    ended_by: pb::CallEndedBy::Caller as i32,
                },
            ))
            .await
            .unwrap();
        let end = tokio::time::timeout(Duration::from_secs(5), call.next())
            .await
            .unwrap();
        assert!(end.is_none(), "the stream ends with the call: {end:?}");
        assert_eq!(env.presence_of("j2").await, "wrap_up");

        // metrics from the stored log (written by a background task)
        let mut m = env.metrics().await;
        for _ in 0..50 {
            if m.answered == 1 && m.entered == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            m = env.metrics().await;
        }
        assert_eq!((m.entered, m.answered, m.abandoned), (1, 1, 0));
        // the caller waited 18 s (15 s ringing j1, 3 s ringing j2): late in the service level
        assert_eq!(m.queue_service_level, 0.0, "{m:?}");
        // of the two offers, j2's was answered within 15 s of ringing, j1's not at all
        assert_eq!(m.offer_answer_rate, 0.5, "{m:?}");
        // ASA: entered at t, connected 18 s later
        assert!(
            (m.average_speed_of_answer_secs - 18.0).abs() < 0.01,
            "{m:?}"
        );
        let j1_misses = m
            .no_answers
            .iter()
            .find(|n| n.agent_id == "j1")
            .map(|n| n.no_answers);
        assert_eq!(j1_misses, Some(1));

        // the same figures on /metrics
        let text = http_get(env.core.http_addr, "/metrics").await;
        assert!(
            text.contains("hotline_queue_calls_total{outcome=\"answered_late\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("hotline_queue_offers_total{outcome=\"no_answer\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("hotline_agents{presence=\"wrap_up\"} 1"),
            "{text}"
        );
        env.core.shutdown().await;
    }
}

/// Waits until the stored queue log shows `n` calls that left the queue.
async fn settled_metrics(env: &mut Env, n: u64) -> pb::QueueMetrics {
    let mut m = env.metrics().await;
    for _ in 0..50 {
        let t = m.total.unwrap_or_default();
        if t.answered + t.abandoned + t.to_voicemail >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        m = env.metrics().await;
    }
    m
}

#[tokio::test]
async fn jo2_caller_who_waited_18_s_answered_on_the_first_ring_is_late_in_the_service_level() {
    for tc in TestCore::backends("queue").await {
        let mut env = boot(tc).await;
        let j1 = env.agent("j1", "junior").await;
        env.presence(&j1, "not_ready").await.unwrap();
        // a short abandon (3 s) and a long one (8 s) first
        let short = env.join("short@test", "01088880011", false).await;
        env.clock.advance_ms(3_000);
        drop(short);
        let long = env.join("long@test", "01088880012", false).await;
        env.clock.advance_ms(8_000);
        drop(long);
        tokio::time::sleep(Duration::from_millis(200)).await;

        let mut call = env.join("waited@test", "01088880013", false).await;
        assert!(matches!(next(&mut call).await, Kind::Position(_)));
        // the agent becomes free after 17 s; its phone rings and it answers 1 s later
        env.clock.advance_ms(17_000);
        env.presence(&j1, "available").await.unwrap();
        match next(&mut call).await {
            Kind::Offer(o) => assert_eq!(o.agent_id, "j1"),
            other => panic!("expected an offer, got {other:?}"),
        }
        env.clock.advance_ms(1_000);
        env.report("waited@test", "j1", pb::OfferOutcome::Answered)
            .await
            .unwrap();
        assert!(matches!(next(&mut call).await, Kind::Connected(_)));

        let m = settled_metrics(&mut env, 3).await;
        let t = m.total.unwrap();
        assert_eq!(
            (
                t.entered,
                t.answered,
                t.answered_in_time,
                t.abandoned,
                t.short_abandons
            ),
            (3, 1, 0, 2, 1),
            "{t:?}"
        );
        // denominator: the answered call and the 8-second abandon; the 3-second one is left out
        assert_eq!(t.service_level_calls, 2);
        assert_eq!(m.queue_service_level, 0.0, "18 s after joining is late");
        assert_eq!((t.offers, t.offers_answered_in_time), (1, 1));
        assert_eq!(m.offer_answer_rate, 1.0, "answered 1 s into the ring");
        let rules = m.rules.unwrap();
        assert_eq!(
            (
                rules.service_level_secs,
                rules.short_abandon_secs,
                rules.answer_limit_secs
            ),
            (15, 5, 15)
        );
        assert_eq!(m.days.len(), 1, "{:?}", m.days);
        assert_eq!(m.days[0].entered, 3);
        assert!(!m.intervals.is_empty());
        assert_eq!(m.intervals.iter().map(|i| i.entered).sum::<u64>(), 3);

        // /metrics: OpenMetrics from prometheus-client, the families typed
        let resp = http_get(env.core.http_addr, "/metrics").await;
        let (head, text) = resp.split_once("\r\n\r\n").unwrap();
        assert!(
            head.to_ascii_lowercase().contains(
                "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"
            ),
            "{head}"
        );
        for (family, kind) in [
            ("hotline_queue_joined", "counter"),
            ("hotline_queue_calls", "counter"),
            ("hotline_queue_offers", "counter"),
            ("hotline_queue_wait_seconds", "histogram"),
            ("hotline_queue_ring_seconds", "histogram"),
            ("hotline_ticket_create_seconds", "histogram"),
            ("hotline_center112_delivery_seconds", "histogram"),
            ("hotline_queue_waiting", "gauge"),
            ("hotline_queue_live_calls", "gauge"),
            ("hotline_agents", "gauge"),
            ("hotline_store_up", "gauge"),
            ("hotline_queue_service_level_ratio", "gauge"),
            ("hotline_queue_offer_answer_ratio", "gauge"),
            ("hotline_deadline_alerts", "counter"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} {kind}\n")),
                "{family} {kind}: {text}"
            );
        }
        for line in [
            "hotline_queue_joined_total 3",
            "hotline_queue_calls_total{outcome=\"short_abandon\"} 1",
            "hotline_queue_calls_total{outcome=\"abandon\"} 1",
            "hotline_queue_calls_total{outcome=\"answered_late\"} 1",
            "hotline_queue_offers_total{outcome=\"answered_in_time\"} 1",
            "hotline_queue_wait_seconds_count{outcome=\"answered\"} 1",
            "hotline_queue_wait_seconds_sum{outcome=\"answered\"} 18.0",
            "hotline_queue_ring_seconds_sum{outcome=\"answered\"} 1.0",
            "hotline_queue_service_level_ratio{period=\"day\"} 0.0",
            "hotline_queue_offer_answer_ratio{period=\"day\"} 1.0",
            "hotline_store_up 1",
            "hotline_queue_live_calls{state=\"connected\"} 1",
            "hotline_queue_live_calls{state=\"waiting\"} 0",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line}: {text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        env.core.shutdown().await;
    }
}

#[tokio::test]
async fn nobody_logged_in_or_maximum_wait_sends_the_caller_to_voicemail() {
    for tc in TestCore::backends("queue").await {
        let mut env = boot(tc).await;
        let mut call = env.join("call-vm@test", "01088880002", false).await;
        match next(&mut call).await {
            Kind::ToVoicemail(v) => assert_eq!(v.reason, "no_agents"),
            other => panic!("expected voicemail, got {other:?}"),
        }
        assert!(call.next().await.is_none());

        // a junior logged in but not ready: the caller waits, then goes to voicemail at 180 s
        let j = env.agent("j9", "junior").await;
        env.presence(&j, "not_ready").await.unwrap();
        let mut call = env.join("call-wait@test", "01088880003", false).await;
        match next(&mut call).await {
            Kind::Position(p) => assert_eq!(p.position, 1),
            other => panic!("expected a position, got {other:?}"),
        }
        let mut second = env.join("call-wait2@test", "01088880004", false).await;
        match next(&mut second).await {
            Kind::Position(p) => assert_eq!(p.position, 2),
            other => panic!("expected position 2, got {other:?}"),
        }
        env.clock.advance_ms(180_000);
        match next(&mut call).await {
            Kind::ToVoicemail(v) => assert_eq!(v.reason, "max_wait"),
            other => panic!("expected voicemail after the maximum wait, got {other:?}"),
        }
        env.core.shutdown().await;
    }
}

#[tokio::test]
async fn two_misses_set_the_agent_not_ready_and_a_caller_hanging_up_frees_the_agent() {
    for tc in TestCore::backends("queue").await {
        let mut env = boot(tc).await;
        let j = env.agent("j1", "junior").await;
        let s = env.agent("s1", "senior").await;
        let mut seniors = env.feed(&s).await;
        env.presence(&j, "available").await.unwrap();
        let mut call = env.join("call-a@test", "01088880005", false).await;
        assert!(matches!(next(&mut call).await, Kind::Offer(_)));
        env.clock.advance_ms(15_000);
        assert!(matches!(next(&mut call).await, Kind::CancelOffer(_)));
        // j1 is still the only agent: offered again, and misses again
        assert!(matches!(next(&mut call).await, Kind::Offer(_)));
        env.clock.advance_ms(15_000);
        assert!(matches!(next(&mut call).await, Kind::CancelOffer(_)));
        let mut kinds = Vec::new();
        for _ in 0..3 {
            if let pb::event::Kind::AgentAlert(a) = next_call_event(&mut seniors).await {
                kinds.push(a.kind);
            }
        }
        assert!(kinds.contains(&"not_ready".to_string()), "{kinds:?}");
        assert_eq!(env.presence_of("j1").await, "not_ready");

        // the senior becomes available: the ordinary call overflows to it; the caller hangs
        // up while it rings → the senior is free again at once
        env.presence(&s, "available").await.unwrap();
        let mut k = next(&mut call).await;
        while let Kind::Position(_) = k {
            k = next(&mut call).await;
        }
        match k {
            Kind::Offer(o) => assert_eq!(o.agent_id, "s1"),
            other => panic!("expected overflow to the senior, got {other:?}"),
        }
        drop(call);
        let mut freed = false;
        for _ in 0..50 {
            if env.presence_of("s1").await == "available" {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(freed, "the senior is available again after the caller left");
        let mut m = env.metrics().await;
        for _ in 0..50 {
            if m.abandoned == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            m = env.metrics().await;
        }
        assert_eq!(m.abandoned, 1);
        env.core.shutdown().await;
    }
}

#[tokio::test]
async fn bad_queue_requests_are_refused_naming_the_field() {
    let mut env = boot(TestCore::sqlite()).await;
    let j = env.agent("j1", "junior").await;
    // only the IVR's service account queues calls
    let e = env
        .queue
        .join_queue(authed(
            &j,
            pb::JoinQueueRequest {
                call_id: "x".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = env
        .queue
        .join_queue(authed(&env.ivr, pb::JoinQueueRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("call_id"), "{e:?}");
    let e = env
        .queue
        .join_queue(authed(
            &env.ivr,
            pb::JoinQueueRequest {
                call_id: "c".into(),
                caller_number: "010-8888".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert!(e.message().starts_with("caller_number"), "{e:?}");
    env.presence(&j, "available").await.unwrap();
    let _held = env.join("dup@test", "", false).await;
    let e = env
        .queue
        .join_queue(authed(
            &env.ivr,
            pb::JoinQueueRequest {
                call_id: "dup@test".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
    let e = env
        .report("dup@test", "j1", pb::OfferOutcome::Unspecified)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("outcome"), "{e:?}");
    let e = env
        .report("nope@test", "j1", pb::OfferOutcome::Answered)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = env.presence(&j, "on_call").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("presence"), "{e:?}");
    env.core.shutdown().await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}
