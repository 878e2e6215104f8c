//! Contract tests: the hotline's own client (`hotline_center112::HttpCenter`) against the
//! simulator — dispatch exactly once, notes, urging, cancellation, history, line tests, signed
//! events and their faults, injected HTTP faults, restarts, and refused input.

mod common;

use center112_sim::{Faults, SimConfig, Simulator};
use common::*;
use hotline_center112::signature;
use hotline_center112::wire::{EventType, LineVerdict, Status, TroubleTicket};
use hotline_center112::{Center112, CenterError};
use std::time::Duration;

async fn wait_status(
    center: &hotline_center112::HttpCenter,
    id: &str,
    status: Status,
) -> TroubleTicket {
    let end = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let t = center.get(id).await.expect("get");
        if t.status == status {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "ticket {id} never reached {status:?}; last {:?}",
            t.status
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn dispatch_creates_once_and_a_retry_returns_the_same_ticket() {
    let (sim, center) = start(slow_config()).await;
    let first = center
        .dispatch(&order("order-1", "01066554433"), "key-1")
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.ticket.status, Status::Acknowledged);
    assert_eq!(first.ticket.external_identifier[0].id, "order-1");
    assert_eq!(
        first.ticket.characteristic("faultyNumber"),
        Some("01066554433")
    );
    let again = center
        .dispatch(&order("order-1", "01066554433"), "key-1")
        .await
        .unwrap();
    assert!(!again.created, "a retry answers 200, not 201");
    assert_eq!(again.ticket.id, first.ticket.id);
    let other = center
        .dispatch(&order("order-2", "01066554433"), "key-2")
        .await
        .unwrap();
    assert!(other.created);
    assert_ne!(other.ticket.id, first.ticket.id);
    let stats = sim.stats().await.unwrap();
    assert_eq!((stats.tickets, stats.duplicate_dispatches), (2, 1));
    assert_eq!(stats.by_status.get("acknowledged"), Some(&2));
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_duplicate_dispatches_create_one_ticket() {
    let (sim, center) = start(slow_config()).await;
    let o = order("order-race", "01066554433");
    let results = futures::future::join_all((0..24).map(|_| center.dispatch(&o, "key-race"))).await;
    let results: Vec<_> = results.into_iter().map(|r| r.expect("dispatch")).collect();
    assert_eq!(results.iter().filter(|d| d.created).count(), 1);
    assert!(results.iter().all(|d| d.ticket.id == results[0].ticket.id));
    let stats = sim.stats().await.unwrap();
    assert_eq!((stats.tickets, stats.duplicate_dispatches), (1, 23));
    sim.shutdown().await;
}

#[tokio::test]
async fn notes_are_idempotent_by_id_and_urging_raises_priority() {
    let (sim, center) = start(slow_config()).await;
    let id = center
        .dispatch(&order("order-n", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    let t = center
        .add_note(&id, note("n1", "followUp", "用户再次来电追单"), None)
        .await
        .unwrap();
    assert_eq!(t.note.len(), 1);
    assert!(
        !t.note[0].date.is_empty(),
        "the centre dates an undated note"
    );
    let t = center
        .add_note(&id, note("n1", "followUp", "用户再次来电追单"), None)
        .await
        .unwrap();
    assert_eq!(
        t.note.iter().filter(|n| n.id == "n1").count(),
        1,
        "same note id is not added again"
    );
    assert_eq!(t.priority, "3");
    let t = center
        .add_note(&id, note("u1", "urge", "超时催单"), Some("1".into()))
        .await
        .unwrap();
    assert_eq!(t.priority, "1");
    assert_eq!(
        t.note.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(),
        ["followUp", "urge"]
    );
    assert_eq!(center.get(&id).await.unwrap().priority, "1");
    let stats = sim.stats().await.unwrap();
    assert_eq!((stats.notes, stats.duplicate_notes), (2, 1));
    assert!(matches!(
        center
            .add_note(&id, note("u2", "urge", "x"), Some("0".into()))
            .await,
        Err(CenterError::Rejected { status: 400, .. })
    ));
    assert!(matches!(
        center
            .add_note("TT-999999", note("n9", "followUp", "x"), None)
            .await,
        Err(CenterError::NotFound(_))
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn cancel_works_before_resolution_and_is_refused_after() {
    let (sim, center) = start(config()).await;
    // before: a ticket of a slow simulator stays acknowledged
    let (slow, slow_center) = start(slow_config()).await;
    let id = slow_center
        .dispatch(&order("order-c1", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    let t = slow_center.cancel(&id, "用户已自行修复").await.unwrap();
    assert_eq!(t.status, Status::Cancelled);
    assert_eq!(t.status_change_reason, "用户已自行修复");
    assert_eq!(
        t.status_change_history.last().map(|h| h.status),
        Some(Status::Cancelled)
    );
    let again = slow_center.cancel(&id, "用户已自行修复").await.unwrap();
    assert_eq!(
        again.status_change_history.len(),
        t.status_change_history.len(),
        "a repeated cancel changes nothing"
    );
    slow.shutdown().await;

    // after: the quick simulator resolves, then refuses
    let id = center
        .dispatch(&order("order-c2", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    wait_status(&center, &id, Status::Resolved).await;
    match center.cancel(&id, "太晚了").await {
        Err(CenterError::CancelRefused(reason)) => assert!(!reason.is_empty()),
        other => panic!("expected CancelRefused, got {other:?}"),
    }
    assert_eq!(
        center.get(&id).await.unwrap().status,
        Status::Resolved,
        "a refused cancel changes nothing"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn get_shows_the_status_history_through_resolution() {
    let (sim, center) = start(config()).await;
    let id = center
        .dispatch(&order("order-h", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    let t = wait_status(&center, &id, Status::Resolved).await;
    let statuses: Vec<_> = t.status_change_history.iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        [Status::Acknowledged, Status::InProgress, Status::Resolved]
    );
    assert!(
        t.status_change_history
            .iter()
            .all(|h| !h.change_date.is_empty())
    );
    assert_eq!(t.characteristic("repairOutcome"), Some("repaired"));
    assert!(t.note.iter().any(|n| n.text.contains("已派维修人员")));
    assert!(!t.resolution_date.is_empty());
    assert!(matches!(
        center.get("TT-999999").await,
        Err(CenterError::NotFound(_))
    ));
    assert!(matches!(
        center.get("nonsense").await,
        Err(CenterError::NotFound(_))
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn failed_and_late_repairs_follow_the_fractions() {
    let (sim, center) = start(SimConfig {
        fail_fraction: 1.0,
        ..config()
    })
    .await;
    let id = center
        .dispatch(&order("order-f", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    let t = wait_status(&center, &id, Status::Resolved).await;
    assert_eq!(t.characteristic("repairOutcome"), Some("failed"));
    sim.shutdown().await;

    let late = SimConfig {
        progress_after: Duration::from_millis(10),
        resolve_after: Duration::from_millis(100),
        late_fraction: 1.0,
        late_factor: 6.0,
        ..config()
    };
    let (sim, center) = start(late).await;
    let id = center
        .dispatch(&order("order-l", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    wait_status(&center, &id, Status::InProgress).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        center.get(&id).await.unwrap().status,
        Status::InProgress,
        "a late ticket is not resolved on time"
    );
    let t = wait_status(&center, &id, Status::Resolved).await;
    assert_eq!(t.characteristic("repairOutcome"), Some("repaired"));
    assert!(
        t.resolution_date > t.expected_resolution_date,
        "{} vs {}",
        t.resolution_date,
        t.expected_resolution_date
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn line_test_verdict_follows_the_number() {
    let (sim, center) = start(slow_config()).await;
    for (n, v) in [
        ("01066554430", LineVerdict::Normal),
        ("01066554434", LineVerdict::Normal),
        ("01066554435", LineVerdict::OpenCircuit),
        ("01066554436", LineVerdict::ShortCircuit),
        ("01066554437", LineVerdict::EarthFault),
        ("01066554438", LineVerdict::CrossedLine),
        ("01066554439", LineVerdict::TerminalFault),
    ] {
        let r = center.line_test(n).await.unwrap();
        assert_eq!(r.verdict, v, "{n}");
        assert_eq!(r.line_number, n);
        let again = center.line_test(n).await.unwrap();
        assert_eq!(
            (again.loop_resistance_ohm, again.insulation_resistance_mohm),
            (r.loop_resistance_ohm, r.insulation_resistance_mohm)
        );
    }
    assert!(matches!(
        center.line_test("not a number").await,
        Err(CenterError::Rejected { status: 400, .. })
    ));
    assert_eq!(sim.stats().await.unwrap().line_tests, 14);
    sim.shutdown().await;
}

#[tokio::test]
async fn events_are_signed_and_arrive_status_change_then_resolved() {
    let rx = Receiver::start(0).await;
    let (sim, center) = start(config()).await;
    let sub = center.subscribe(&rx.url).await.unwrap();
    assert!(sub.id.starts_with("HUB-"));
    let again = center.subscribe(&rx.url).await.unwrap();
    assert_eq!(
        again.id, sub.id,
        "a repeated subscription is the same one: events are not doubled"
    );
    let id = center
        .dispatch(&order("order-e", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    assert!(
        until(Duration::from_secs(5), || rx.events().len() >= 2).await,
        "events: {:?}",
        rx.events()
    );
    let ev = rx.events();
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|r| r.signature.is_ok()), "{ev:?}");
    // the signature really depends on the secret
    assert!(signature::verify(b"wrong secret", &ev[0].body, ev[0].header.as_deref()).is_err());
    assert_eq!(
        ev[0].event.event_type,
        EventType::TroubleTicketStatusChangeEvent
    );
    assert_eq!(ev[0].event.event.trouble_ticket.status, Status::InProgress);
    assert_eq!(
        ev[1].event.event_type,
        EventType::TroubleTicketResolvedEvent
    );
    assert_eq!(ev[1].event.event.trouble_ticket.status, Status::Resolved);
    assert!(ev.iter().all(|r| r.event.event.trouble_ticket.id == id));
    assert_ne!(ev[0].event.event_id, ev[1].event.event_id);

    // a cancellation is a status change too; unsubscribing stops delivery
    let (slow, slow_center) = start(slow_config()).await;
    let rx2 = Receiver::start(0).await;
    let sub2 = slow_center.subscribe(&rx2.url).await.unwrap();
    let id2 = slow_center
        .dispatch(&order("order-e2", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    slow_center.cancel(&id2, "退单").await.unwrap();
    assert!(until(Duration::from_secs(5), || rx2.events().len() == 1).await);
    assert_eq!(
        rx2.events()[0].event.event.trouble_ticket.status,
        Status::Cancelled
    );
    let http = reqwest::Client::new();
    let del = http
        .delete(format!("{}/hub/{}", slow.base_url(), sub2.id))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let del = http
        .delete(format!("{}/hub/{}", slow.base_url(), sub2.id))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 404);
    let id3 = slow_center
        .dispatch(&order("order-e3", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    slow_center.cancel(&id3, "退单").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx2.events().len(), 1, "no events after unsubscribing");
    slow.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn event_delivery_is_retried_with_backoff() {
    let rx = Receiver::start(2).await;
    let (sim, center) = start(slow_config()).await;
    center.subscribe(&rx.url).await.unwrap();
    let id = center
        .dispatch(&order("order-r", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    center.cancel(&id, "退单").await.unwrap();
    assert!(until(Duration::from_secs(5), || rx.events().len() == 1).await);
    assert_eq!(rx.refused(), 2);
    let stats = sim.stats().await.unwrap();
    assert_eq!(
        (
            stats.events_emitted,
            stats.events_delivered,
            stats.events_failed
        ),
        (1, 1, 0)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicated_events_fault_sends_each_event_twice() {
    let rx = Receiver::start(0).await;
    let (sim, center) = start(SimConfig {
        faults: Faults {
            duplicate_events: true,
            ..Faults::default()
        },
        ..config()
    })
    .await;
    center.subscribe(&rx.url).await.unwrap();
    center
        .dispatch(&order("order-d", "01066554433"), "k")
        .await
        .unwrap();
    assert!(
        until(Duration::from_secs(5), || rx.events().len() >= 4).await,
        "{:?}",
        rx.events()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ev = rx.events();
    assert_eq!(ev.len(), 4);
    assert_eq!(ev[0].event, ev[1].event);
    assert_eq!(ev[2].event, ev[3].event);
    assert_eq!(
        ev[2].event.event_type,
        EventType::TroubleTicketResolvedEvent
    );
    assert!(ev.iter().all(|r| r.signature.is_ok()));
    sim.shutdown().await;
}

#[tokio::test]
async fn reordered_events_fault_sends_resolved_before_the_status_change() {
    let rx = Receiver::start(0).await;
    let cfg = SimConfig {
        faults: Faults {
            reorder_events: true,
            ..Faults::default()
        },
        reorder_hold: Duration::from_secs(3),
        ..config()
    };
    let (sim, center) = start(cfg).await;
    center.subscribe(&rx.url).await.unwrap();
    center
        .dispatch(&order("order-o", "01066554433"), "k")
        .await
        .unwrap();
    assert!(
        until(Duration::from_secs(5), || rx.events().len() >= 2).await,
        "{:?}",
        rx.events()
    );
    let ev = rx.events();
    assert_eq!(ev[0].event.event.trouble_ticket.status, Status::Resolved);
    assert_eq!(ev[1].event.event.trouble_ticket.status, Status::InProgress);
    assert!(ev.iter().all(|r| r.signature.is_ok()));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_down_centre_gives_retryable_errors_and_recovers() {
    let (sim, center) = start(slow_config()).await;
    sim.set_faults(Faults {
        down: true,
        ..Faults::default()
    })
    .unwrap();
    let err = center
        .dispatch(&order("order-down", "01066554433"), "k")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(matches!(err, CenterError::Server { status: 503, .. }));
    assert!(
        center
            .line_test("01066554430")
            .await
            .unwrap_err()
            .is_retryable()
    );
    assert_eq!(
        sim.stats().await.unwrap().tickets,
        0,
        "admin endpoints still answer while down"
    );
    sim.set_faults(Faults::default()).unwrap();
    assert!(
        center
            .dispatch(&order("order-down", "01066554433"), "k")
            .await
            .unwrap()
            .created
    );

    // a 500 without processing: nothing is stored
    sim.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    })
    .unwrap();
    let err = center
        .dispatch(&order("order-err", "01066554433"), "k")
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert!(
        sim.ticket_by_external_id("order-err")
            .await
            .unwrap()
            .is_none()
    );
    let stats = sim.stats().await.unwrap();
    assert_eq!(
        (
            stats.tickets,
            stats.faults_down_refused,
            stats.faults_errors_injected
        ),
        (1, 2, 1)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_lost_reply_is_retryable_and_the_retry_finds_the_ticket() {
    let (sim, center) = start(SimConfig {
        faults: Faults {
            drop_reply_rate: 1.0,
            ..Faults::default()
        },
        ..slow_config()
    })
    .await;
    let err = center
        .dispatch(&order("order-lost", "01066554433"), "k")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    let stored = sim
        .ticket_by_external_id("order-lost")
        .await
        .unwrap()
        .expect("processed before the reply was lost");
    // still losing replies: the retry is processed again, and absorbed
    assert!(
        center
            .dispatch(&order("order-lost", "01066554433"), "k")
            .await
            .unwrap_err()
            .is_retryable()
    );
    sim.set_faults(Faults::default()).unwrap();
    let retry = center
        .dispatch(&order("order-lost", "01066554433"), "k")
        .await
        .unwrap();
    assert!(!retry.created);
    assert_eq!(retry.ticket.id, stored.id);
    let stats = sim.stats().await.unwrap();
    assert_eq!(
        (
            stats.tickets,
            stats.duplicate_dispatches,
            stats.faults_replies_dropped
        ),
        (1, 2, 2)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_are_settable_over_http() {
    let (sim, center) = start(slow_config()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/sim/faults", sim.root_url());
    let r = http
        .put(&url)
        .json(&serde_json::json!({"down": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(sim.faults().down);
    assert!(center.get("TT-000001").await.unwrap_err().is_retryable());
    let got: Faults = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        got,
        Faults {
            down: true,
            ..Faults::default()
        }
    );
    let r = http
        .put(&url)
        .json(&serde_json::json!({"errorRate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .put(&url)
        .json(&serde_json::json!({"dwn": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "unknown fault names are refused");
    assert!(sim.faults().down, "refused settings change nothing");
    http.put(&url)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        center.get("TT-000001").await,
        Err(CenterError::NotFound(_))
    ));
    let stats: serde_json::Value = http
        .get(format!("{}/sim/stats", sim.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["tickets"], 0);
    assert!(stats["byStatus"].is_object());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_restart_on_the_same_file_and_port_keeps_tickets_and_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("center112.db");
    let rx = Receiver::start(0).await;
    let (sim, center) = start(SimConfig {
        db_path: db.clone(),
        ..slow_config()
    })
    .await;
    let addr = sim.addr();
    center.subscribe(&rx.url).await.unwrap();
    let first = center
        .dispatch(&order("order-keep", "01066554433"), "k")
        .await
        .unwrap()
        .ticket;
    center
        .add_note(&first.id, note("n1", "followUp", "追单"), Some("2".into()))
        .await
        .unwrap();
    sim.shutdown().await;
    assert!(
        center.get(&first.id).await.unwrap_err().is_retryable(),
        "stopped means unreachable"
    );

    let (sim, center) = start(SimConfig {
        db_path: db.clone(),
        listen: addr.to_string(),
        ..slow_config()
    })
    .await;
    assert_eq!(sim.addr(), addr);
    let t = center.get(&first.id).await.unwrap();
    assert_eq!((t.priority.as_str(), t.note.len()), ("2", 1));
    let retry = center
        .dispatch(&order("order-keep", "01066554433"), "k")
        .await
        .unwrap();
    assert!(!retry.created);
    assert_eq!(retry.ticket.id, first.id);
    let second = center
        .dispatch(&order("order-new", "01066554433"), "k")
        .await
        .unwrap()
        .ticket;
    assert_ne!(second.id, first.id);
    // the stored subscription still receives events
    center.cancel(&second.id, "退单").await.unwrap();
    assert!(until(Duration::from_secs(5), || rx.events().len() == 1).await);
    let stats = sim.stats().await.unwrap();
    assert_eq!(
        (
            stats.tickets,
            stats.duplicate_dispatches,
            stats.notes,
            stats.subscriptions
        ),
        (2, 1, 1, 1)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_restarted_simulator_catches_up_with_the_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("center112.db");
    let cfg = SimConfig {
        db_path: db,
        progress_after: Duration::from_millis(300),
        ..config()
    };
    let (sim, center) = start(cfg.clone()).await;
    let id = center
        .dispatch(&order("order-catch", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    sim.shutdown().await;
    let (sim, center) = start(cfg).await;
    let t = wait_status(&center, &id, Status::Resolved).await;
    assert_eq!(t.status_change_history.len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason() {
    let (sim, _center) = start(slow_config()).await;
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let post = |path: &str, body: Vec<u8>| {
        http.post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let r = post("/troubleTicket", b"{not json".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("malformed JSON"),
        "{body}"
    );

    let mut no_ext = serde_json::to_value(order("x", "01066554433")).unwrap();
    no_ext.as_object_mut().unwrap().remove("externalIdentifier");
    let r = post("/troubleTicket", serde_json::to_vec(&no_ext).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("externalIdentifier"));
    no_ext["externalIdentifier"] = serde_json::json!([]);
    let r = post("/troubleTicket", serde_json::to_vec(&no_ext).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("externalIdentifier"));

    let mut huge = order("huge", "01066554433");
    huge.description = "障".repeat(30_000);
    let r = post("/troubleTicket", serde_json::to_vec(&huge).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let r = http
        .patch(format!("{base}/troubleTicket/TT-000001"))
        .header("content-type", "application/merge-patch+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = post("/hub", br#"{"callback":"ftp://example.org/x"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = post("/lineTest", br#"{"lineNumber":42}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // a PATCH may only cancel
    let center = hotline_center112::HttpCenter::new(base.clone(), Duration::from_secs(5)).unwrap();
    let id = center
        .dispatch(&order("order-b", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    let r = http
        .patch(format!("{base}/troubleTicket/{id}"))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"status":"resolved"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .patch(format!("{base}/troubleTicket/{id}"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(center.get(&id).await.unwrap().status, Status::Acknowledged);
    assert_eq!(sim.stats().await.unwrap().tickets, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_same_seed_gives_the_same_outcomes() {
    async fn outcomes(seed: u64) -> Vec<(String, String)> {
        let (sim, center) = start(SimConfig {
            fail_fraction: 0.5,
            seed,
            ..config()
        })
        .await;
        let mut ids = Vec::new();
        for i in 0..16 {
            ids.push(
                center
                    .dispatch(&order(&format!("order-s{i}"), "01066554433"), "k")
                    .await
                    .unwrap()
                    .ticket
                    .id,
            );
        }
        let mut out = Vec::new();
        for id in ids {
            let t = wait_status(&center, &id, Status::Resolved).await;
            out.push((
                t.external_identifier[0].id.clone(),
                t.characteristic("repairOutcome").unwrap_or("").to_string(),
            ));
        }
        sim.shutdown().await;
        out
    }
    let a = outcomes(1).await;
    assert_eq!(a, outcomes(1).await);
    assert!(
        a.iter().any(|o| o.1 == "failed") && a.iter().any(|o| o.1 == "repaired"),
        "{a:?}"
    );
    assert_ne!(a, outcomes(2).await);
    assert!(matches!(
        Simulator::start(SimConfig {
            late_fraction: 2.0,
            ..config()
        })
        .await,
        Err(center112_sim::SimError::Config(_))
    ));
}

#[tokio::test]
async fn a_slow_centre_times_the_client_out_retryably() {
    let (sim, center) = start(SimConfig {
        faults: Faults {
            slow_ms: 150,
            ..Faults::default()
        },
        ..slow_config()
    })
    .await;
    let started = tokio::time::Instant::now();
    center.line_test("01066554430").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    let impatient =
        hotline_center112::HttpCenter::new(sim.base_url(), Duration::from_millis(50)).unwrap();
    let err = impatient
        .dispatch(&order("order-slow", "01066554433"), "k")
        .await
        .unwrap_err();
    assert!(matches!(err, CenterError::Unavailable(_)), "{err:?}");
    sim.shutdown().await;
}

/// The delivery worker's view: retry every retryable error until the centre answers.
async fn dispatch_until_accepted(
    center: &hotline_center112::HttpCenter,
    external_id: &str,
) -> (u32, hotline_center112::client::Dispatched) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match center
            .dispatch(&order(external_id, "01066554433"), external_id)
            .await
        {
            Ok(d) => return (attempts, d),
            Err(e) if e.is_retryable() && attempts < 50 => {
                tokio::time::sleep(Duration::from_millis(2)).await
            }
            Err(e) => panic!("{external_id}: {e:?} after {attempts} attempts"),
        }
    }
}

#[tokio::test]
async fn many_retried_dispatches_under_faults_are_stored_exactly_once() {
    const N: usize = 400;
    let faults = Faults {
        error_rate: 0.2,
        drop_reply_rate: 0.3,
        ..Faults::default()
    };
    let (sim, center) = start(SimConfig {
        faults,
        ..slow_config()
    })
    .await;
    let started = tokio::time::Instant::now();
    let ids: Vec<String> = (0..N).map(|i| format!("order-many-{i}")).collect();
    let results =
        futures::future::join_all(ids.iter().map(|id| dispatch_until_accepted(&center, id))).await;
    let elapsed = started.elapsed();
    let attempts: u32 = results.iter().map(|r| r.0).sum();
    println!(
        "{N} orders, {attempts} attempts in {elapsed:?} ({:.0} attempts/s)",
        attempts as f64 / elapsed.as_secs_f64()
    );
    let tickets = sim.tickets().await.unwrap();
    assert_eq!(tickets.len(), N);
    let mut seen: Vec<&str> = tickets
        .iter()
        .map(|t| t.external_identifier[0].id.as_str())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), N, "every order exactly once");
    for (id, (_, d)) in ids.iter().zip(&results) {
        assert_eq!(&d.ticket.external_identifier[0].id, id);
    }
    let stats = sim.stats().await.unwrap();
    assert!(stats.faults_replies_dropped > 0 && stats.faults_errors_injected > 0);
    // every attempt was answered, injected-failed or processed-and-lost; each processed attempt
    // after the first of its order was absorbed as a duplicate
    assert_eq!(
        attempts as u64,
        N as u64 + stats.faults_errors_injected + stats.faults_replies_dropped
    );
    assert_eq!(stats.duplicate_dispatches, stats.faults_replies_dropped);
    assert!(results.iter().filter(|r| !r.1.created).count() as u64 <= stats.duplicate_dispatches);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_subscription_query_filters_event_types_and_tickets_can_be_listed() {
    let all = Receiver::start(0).await;
    let resolved_only = Receiver::start(0).await;
    let (sim, center) = start(config()).await;
    center.subscribe(&all.url).await.unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/hub", sim.base_url()))
        .json(&serde_json::json!({"callback": resolved_only.url, "query": "eventType=TroubleTicketResolvedEvent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = center
        .dispatch(&order("order-q", "01066554433"), "k")
        .await
        .unwrap()
        .ticket
        .id;
    assert!(
        until(Duration::from_secs(5), || all.events().len() == 2
            && resolved_only.events().len() == 1)
        .await
    );
    assert_eq!(
        resolved_only.events()[0].event.event_type,
        EventType::TroubleTicketResolvedEvent
    );
    center
        .dispatch(&order("order-q2", "01066554433"), "k")
        .await
        .unwrap();

    let list: Vec<TroubleTicket> = http
        .get(format!("{}/troubleTicket", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.iter()
            .map(|t| t.external_identifier[0].id.as_str())
            .collect::<Vec<_>>(),
        ["order-q", "order-q2"]
    );
    let one: Vec<TroubleTicket> = http
        .get(format!(
            "{}/troubleTicket?externalIdentifier.id=order-q",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, id);
    let r = http
        .get(format!("{}/troubleTicket?limit=5000", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sim.shutdown().await;
}
