//! The core and the 112-centre simulator together, over real HTTP: a ticket from review to
//! clearance (回单) and the survey task; exactly-once delivery of 200 orders across a centre
//! outage and restart; duplicated and reordered events; a core restart mid-delivery; a shutdown
//! that lets requests in flight finish and records them; line test and progress over gRPC. SQLite, and PostgreSQL at `HOTLINE_TEST_DATABASE_URL` (default 127.0.0.1:5432).

use center112_sim::{Faults, RunningSim, SimConfig, Simulator};
use hotline_core::auth::Principal;
use hotline_core::delivery::DeliveryConfig;
use hotline_core::server::{CenterLink, RunningCore};
use hotline_domain::audit::{AuditAction, DeskEventKind};
use hotline_domain::order::CenterStatus;
use hotline_domain::ticket::NewTicket;
use hotline_domain::workflow::{Action, ActionKind};
use hotline_domain::{Role, TicketStatus};
use hotline_testkit::{StartedCore, TestCore};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "e2e-secret";

struct Dbs {
    urls: Vec<String>,
    dir: PathBuf,
}

impl Drop for Dbs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn databases() -> Dbs {
    let dir = hotline_testkit::temp_dir("c112");
    let urls = hotline_testkit::database_urls(&dir).await;
    Dbs { urls, dir }
}

async fn sim(db: &Path, listen: &str, faults: Faults) -> RunningSim {
    Simulator::start(SimConfig {
        listen: listen.into(),
        db_path: db.to_path_buf(),
        secret: SECRET.into(),
        progress_after: Duration::from_millis(100),
        resolve_after: Duration::from_millis(300),
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

async fn core(url: &str, center_base: &str) -> StartedCore {
    core_with_callback(url, center_base, None).await
}

/// `callback`: where the centre is told to send events (`None`: our own listener).
async fn core_with_callback(url: &str, center_base: &str, callback: Option<String>) -> StartedCore {
    TestCore::on(url)
        .with_config(|cfg| {
            cfg.scheduler_max_sleep = Duration::from_millis(200);
            cfg.center = Some(CenterLink {
                client: Arc::new(
                    hotline_center112::HttpCenter::new(center_base, Duration::from_secs(2))
                        .unwrap(),
                ),
                secret: SECRET.as_bytes().to_vec(),
                callback_url: callback,
                delivery: DeliveryConfig {
                    backoff_base: Duration::from_millis(50),
                    backoff_max: Duration::from_millis(500),
                    max_sleep: Duration::from_millis(100),
                    ..DeliveryConfig::default()
                },
            });
        })
        .start()
        .await
}

fn who(id: &str, role: Role) -> Principal {
    Principal {
        agent_id: id.into(),
        role,
    }
}

async fn report(core: &RunningCore, number: &str) -> i64 {
    let t = NewTicket {
        faulty_number: number.into(),
        fault_type: "noise".into(),
        channel: "ivr".into(),
        description: "杂音".into(),
        ..Default::default()
    };
    core.desk
        .create_ticket(&who("ivr", Role::System), t)
        .await
        .unwrap()
        .ticket
        .id
}

/// Junior dispatch, senior approval: the order is queued for the centre.
async fn dispatch_reviewed(core: &RunningCore, id: i64) {
    let (v, order) = core
        .desk
        .act(
            &who("j1", Role::Junior),
            id,
            Action::Dispatch {
                note: "派单".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(v.ticket.status, TicketStatus::AwaitingReview);
    core.desk
        .act(
            &who("s1", Role::Senior),
            id,
            Action::Review {
                order_id: order.unwrap(),
                approve: true,
                note: "同意".into(),
            },
        )
        .await
        .unwrap();
}

async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// The centre's events never arrive (its callback points nowhere): the reconciliation pass
/// reads the quiet dispatch back, applies the resolution once and clears the ticket (回单).
#[tokio::test]
async fn lost_events_are_reconciled_by_polling_the_centre() {
    let dbs = databases().await;
    for url in &dbs.urls {
        let centre = sim(
            &dbs.dir.join(format!("sim-{}.db", uuid::Uuid::new_v4())),
            "127.0.0.1:0",
            Faults::default(),
        )
        .await;
        let core = core_with_callback(
            url,
            &centre.base_url(),
            Some("http://127.0.0.1:9/events-lost".into()),
        )
        .await;
        let id = report(&core, "01066550001").await;
        dispatch_reviewed(&core, id).await;
        wait_for(
            "the centre resolves the order",
            Duration::from_secs(15),
            async || {
                centre
                    .tickets()
                    .await
                    .unwrap()
                    .iter()
                    .any(|t| t.status == hotline_center112::wire::Status::Resolved)
            },
        )
        .await;
        // no event came: the ticket is still dispatched
        assert_eq!(
            core.desk.get(id).await.unwrap().ticket.status,
            TicketStatus::Dispatched
        );
        let client =
            hotline_center112::HttpCenter::new(centre.base_url(), Duration::from_secs(2)).unwrap();
        let cfg = hotline_core::reconcile::ReconcileConfig {
            quiet: Duration::ZERO,
            ..Default::default()
        };
        let r = hotline_core::reconcile::pass(&core.desk, &client, &cfg).await;
        assert_eq!(
            (r.polled, r.applied, r.cleared, r.failed),
            (1, 1, 1, 0),
            "{url}"
        );
        let v = core.desk.get(id).await.unwrap();
        assert_eq!(v.ticket.status, TicketStatus::Cleared);
        assert_eq!(v.orders[0].1.center_status, Some(CenterStatus::Resolved));
        let surveys = core
            .desk
            .store
            .open_tasks(hotline_domain::task::TaskKind::Survey, 10)
            .await
            .unwrap();
        assert_eq!(surveys.iter().filter(|t| t.ticket_id == id).count(), 1);
        // nothing left to poll; a second pass changes nothing
        let again = hotline_core::reconcile::pass(&core.desk, &client, &cfg).await;
        assert_eq!((again.polled, again.applied), (0, 0));
        core.shutdown().await;
        centre.shutdown().await;
    }
}

#[tokio::test]
async fn ticket_goes_from_review_to_clearance_and_a_survey_task() {
    let dbs = databases().await;
    for url in &dbs.urls {
        let centre = sim(
            &dbs.dir.join(format!("sim-{}.db", uuid::Uuid::new_v4())),
            "127.0.0.1:0",
            Faults::default(),
        )
        .await;
        let core = core(url, &centre.base_url()).await;
        let id = report(&core, "01066554433").await;
        dispatch_reviewed(&core, id).await;
        wait_for(
            "回单 clears the ticket",
            Duration::from_secs(15),
            async || core.desk.get(id).await.unwrap().ticket.status == TicketStatus::Cleared,
        )
        .await;
        let v = core.desk.get(id).await.unwrap();
        let (order, d) = &v.orders[0];
        assert_eq!(d.state.as_str(), "delivered", "{url}");
        assert_eq!(d.center_status, Some(CenterStatus::Resolved));
        let at_centre = centre
            .ticket_by_external_id(&order.id.to_string())
            .await
            .unwrap()
            .expect("order at the centre");
        assert_eq!(Some(at_centre.id.as_str()), d.center_ref.as_deref());
        let surveys = core
            .desk
            .store
            .open_tasks(hotline_domain::task::TaskKind::Survey, 10)
            .await
            .unwrap();
        assert_eq!(
            surveys.iter().filter(|t| t.ticket_id == id).count(),
            1,
            "SS2 survey task"
        );
        // /metrics: one delivery observed (outbox row committed → the centre's 2xx), counted
        let text = core.registry.encode().unwrap();
        assert!(
            text.contains("hotline_center112_delivery_seconds_count 1\n"),
            "{text}"
        );
        core.shutdown().await;
        centre.shutdown().await;
    }
}

#[tokio::test]
async fn two_hundred_orders_approved_during_an_outage_arrive_exactly_once() {
    let dbs = databases().await;
    for url in &dbs.urls {
        let sim_db = dbs.dir.join(format!("sim-{}.db", uuid::Uuid::new_v4()));
        let centre = sim(&sim_db, "127.0.0.1:0", Faults::default()).await;
        let addr = centre.addr();
        let base = centre.base_url();
        let core = core(url, &base).await;
        centre.shutdown().await; // the centre goes away
        let mut ids = Vec::new();
        for i in 0..200 {
            let id = report(&core, &format!("0106{:07}", i)).await;
            dispatch_reviewed(&core, id).await;
            ids.push(id);
        }
        tokio::time::sleep(Duration::from_millis(800)).await; // retries fail meanwhile
        let centre = sim(
            &sim_db,
            &addr.to_string(),
            Faults {
                drop_reply_rate: 0.2,
                ..Faults::default()
            },
        )
        .await;
        wait_for(
            "all 200 orders delivered",
            Duration::from_secs(60),
            async || {
                let mut all = true;
                for id in &ids {
                    if core.desk.get(*id).await.unwrap().orders[0].1.state.as_str() != "delivered" {
                        all = false;
                        break;
                    }
                }
                all
            },
        )
        .await;
        let tickets = centre.tickets().await.unwrap();
        assert_eq!(tickets.len(), 200, "exactly once at the centre ({url})");
        let mut ext: Vec<String> = tickets
            .iter()
            .map(|t| t.external_identifier[0].id.clone())
            .collect();
        ext.sort();
        ext.dedup();
        assert_eq!(ext.len(), 200);
        core.shutdown().await;
        centre.shutdown().await;
    }
}

#[tokio::test]
async fn duplicated_and_reordered_events_leave_one_correct_state() {
    let dbs = databases().await;
    for url in &dbs.urls {
        let faults = Faults {
            duplicate_events: true,
            reorder_events: true,
            ..Faults::default()
        };
        let centre = sim(
            &dbs.dir.join(format!("sim-{}.db", uuid::Uuid::new_v4())),
            "127.0.0.1:0",
            faults,
        )
        .await;
        let core = core(url, &centre.base_url()).await;
        let mut ids = Vec::new();
        for i in 0..5 {
            let id = report(&core, &format!("0207{:07}", i)).await;
            dispatch_reviewed(&core, id).await;
            ids.push(id);
        }
        wait_for("all cleared", Duration::from_secs(20), async || {
            let mut all = true;
            for id in &ids {
                all &= core.desk.get(*id).await.unwrap().ticket.status == TicketStatus::Cleared;
            }
            all
        })
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await; // let held and duplicate events land
        for id in &ids {
            let v = core.desk.get(*id).await.unwrap();
            assert_eq!(v.ticket.status, TicketStatus::Cleared, "{url}");
            assert_eq!(
                v.orders[0].1.center_status,
                Some(CenterStatus::Resolved),
                "never moved back"
            );
            let clears = core
                .desk
                .store
                .history(*id)
                .await
                .unwrap()
                .iter()
                .filter(|a| a.action == AuditAction::Workflow(ActionKind::Clear))
                .count();
            assert_eq!(clears, 1, "cleared once");
        }
        let surveys = core
            .desk
            .store
            .open_tasks(hotline_domain::task::TaskKind::Survey, 100)
            .await
            .unwrap();
        assert_eq!(surveys.len(), 5, "one survey task per ticket");
        core.shutdown().await;
        centre.shutdown().await;
    }
}

#[tokio::test]
async fn a_core_restart_mid_delivery_loses_nothing() {
    let dbs = databases().await;
    for url in &dbs.urls {
        let centre = sim(
            &dbs.dir.join(format!("sim-{}.db", uuid::Uuid::new_v4())),
            "127.0.0.1:0",
            Faults {
                slow_ms: 30,
                ..Faults::default()
            },
        )
        .await;
        let first = core(url, &centre.base_url()).await;
        let mut ids = Vec::new();
        for i in 0..60 {
            let id = report(&first, &format!("0758{:07}", i)).await;
            dispatch_reviewed(&first, id).await;
            ids.push(id);
        }
        first.shutdown().await; // mid-delivery: the centre is slow
        let delivered_before = centre.tickets().await.unwrap().len();
        let second = core(url, &centre.base_url()).await;
        wait_for(
            "all delivered after restart",
            Duration::from_secs(30),
            async || {
                let mut all = true;
                for id in &ids {
                    all &= second.desk.get(*id).await.unwrap().orders[0]
                        .1
                        .state
                        .as_str()
                        == "delivered";
                }
                all
            },
        )
        .await;
        assert_eq!(
            centre.tickets().await.unwrap().len(),
            60,
            "exactly once ({delivered_before} before the restart, {url})"
        );
        second.shutdown().await;
        centre.shutdown().await;
    }
}

/// Shutdown while the (slow) centre is serving requests: nothing new starts, the requests in
/// flight finish within the grace period and are recorded before the core stops — the store
/// then shows exactly the orders the centre has — and after a restart the rest arrive, none
/// twice and each marked delivered once.
#[tokio::test]
async fn shutdown_records_requests_in_flight_and_a_restart_doubles_nothing() {
    let dbs = databases().await;
    for url in &dbs.urls {
        let centre = sim(
            &dbs.dir.join(format!("sim-{}.db", uuid::Uuid::new_v4())),
            "127.0.0.1:0",
            Faults {
                slow_ms: 400,
                ..Faults::default()
            },
        )
        .await;
        let first = core(url, &centre.base_url()).await;
        let mut ids = Vec::new();
        for i in 0..20 {
            let id = report(&first, &format!("0759{:07}", i)).await;
            dispatch_reviewed(&first, id).await;
            ids.push(id);
        }
        tokio::time::sleep(Duration::from_millis(150)).await; // requests are in flight
        let t0 = Instant::now();
        first.shutdown().await;
        let stopping = t0.elapsed();
        let at_centre: std::collections::HashSet<String> = centre
            .tickets()
            .await
            .unwrap()
            .iter()
            .map(|t| t.external_identifier[0].id.clone())
            .collect();
        assert!(!at_centre.is_empty(), "{url}");
        assert!(stopping < Duration::from_secs(5), "{stopping:?}");
        let store = hotline_store::Store::open(hotline_store::StoreOptions::new(url.clone()))
            .await
            .unwrap();
        let mut marked = 0;
        for id in &ids {
            let v = store.get_ticket(*id).await.unwrap();
            let (order, d) = &v.orders[0];
            assert_eq!(
                d.state.as_str() == "delivered",
                at_centre.contains(&order.id.to_string()),
                "ticket {id}: the store agrees with the centre after shutdown ({url})"
            );
            marked += usize::from(d.state.as_str() == "delivered");
        }
        store.close().await;
        let second = core(url, &centre.base_url()).await;
        wait_for(
            "all delivered after restart",
            Duration::from_secs(30),
            async || {
                let mut all = true;
                for id in &ids {
                    all &= second.desk.get(*id).await.unwrap().orders[0]
                        .1
                        .state
                        .as_str()
                        == "delivered";
                }
                all
            },
        )
        .await;
        assert_eq!(
            centre.tickets().await.unwrap().len(),
            20,
            "exactly once ({marked} recorded at shutdown, {url})"
        );
        for id in &ids {
            let delivered = second
                .desk
                .store
                .history(*id)
                .await
                .unwrap()
                .iter()
                .filter(|a| a.action == AuditAction::Desk(DeskEventKind::Delivered))
                .count();
            assert_eq!(delivered, 1, "ticket {id} marked delivered once ({url})");
        }
        second.shutdown().await;
        centre.shutdown().await;
    }
}

#[tokio::test]
async fn sf5_line_test_and_sf6_progress_over_grpc() {
    use hotline_proto::v1 as pb;
    use hotline_proto::v1::ticket_service_client::TicketServiceClient;
    let dbs = databases().await;
    let url = &dbs.urls[0];
    let centre = sim(&dbs.dir.join("sim.db"), "127.0.0.1:0", Faults::default()).await;
    let core = core(url, &centre.base_url()).await;
    core.auth
        .create_agent(None, "s9", "高级", "senior", "senior-pass")
        .await
        .unwrap();
    let (token, _, _) = core.auth.login("s9", "senior-pass").await.unwrap();
    let ch = tonic::transport::Channel::from_shared(format!("http://{}", core.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = TicketServiceClient::new(ch);
    let authed = |msg| {
        let mut r = tonic::Request::new(msg);
        r.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    };
    // the simulator's verdict is fixed by the last digit: 5 = open circuit
    let t = c
        .run_line_test(authed(pb::RunLineTestRequest {
            faulty_number: "01066554435".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.verdict, "openCircuit");
    assert!(!t.verdict_label.is_empty());
    let bad = c
        .run_line_test(authed(pb::RunLineTestRequest {
            faulty_number: "abc".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    let id = report(&core, "01066554433").await;
    let early = c
        .get_center_progress(authed_progress(&token, id))
        .await
        .unwrap_err();
    assert_eq!(early.code(), tonic::Code::FailedPrecondition, "{early:?}");
    dispatch_reviewed(&core, id).await;
    wait_for("delivered", Duration::from_secs(10), async || {
        core.desk.get(id).await.unwrap().orders[0].1.state.as_str() == "delivered"
    })
    .await;
    let p = c
        .get_center_progress(authed_progress(&token, id))
        .await
        .unwrap()
        .into_inner();
    assert!(!p.center_ticket_id.is_empty());
    assert!(!p.history.is_empty() && !p.status_label.is_empty(), "{p:?}");
    core.shutdown().await;
    centre.shutdown().await;
}

fn authed_progress(
    token: &str,
    id: i64,
) -> tonic::Request<hotline_proto::v1::GetCenterProgressRequest> {
    let mut r = tonic::Request::new(hotline_proto::v1::GetCenterProgressRequest { ticket_id: id });
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}
