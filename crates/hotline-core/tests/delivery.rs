//! Outbox delivery and centre events against an in-memory centre with injected faults: exactly
//! once through lost replies, in order per ticket, parked refusals, stuck alerts, urging, and
//! events applied once and never backwards. Virtual time (ManualClock); no sockets. The
//! pipelined worker ([`delivery::run`]) is tested in real time: a slow request for one ticket
//! does not hold back another ticket's order, and a ticket's orders stay in order (never two
//! in flight) under random latency and failures.

use hotline_center112::wire::{
    Event, EventPayload, EventType, HubSubscription, LineTest, Note, Status, TroubleTicket,
    TroubleTicketCreate,
};
use hotline_center112::{Center112, CenterError, client::Dispatched, signature};
use hotline_core::auth::Principal;
use hotline_core::clock::ManualClock;
use hotline_core::delivery::{self, DeliveryConfig, EventRefused};
use hotline_core::desk::Desk;
use hotline_domain::order::CenterStatus;
use hotline_domain::rules::{AlertKind, DeskRules, DueLevel};
use hotline_domain::task::TaskKind;
use hotline_domain::ticket::NewTicket;
use hotline_domain::workflow::Action;
use hotline_domain::{Role, TicketStatus, Timestamp};
use hotline_store::{EventOutcome, Store, StoreOptions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T0: i64 = 1_780_000_000_000;
const SECRET: &[u8] = b"test-secret";

#[derive(Default)]
struct FakeState {
    tickets: Vec<TroubleTicket>,
    /// every call, in order: ("dispatch", external id) / ("note", ticket id) / ("cancel", id)
    calls: Vec<(String, String)>,
    /// fail this many calls with "unavailable" before processing
    fail_before: usize,
    /// process, then lose this many replies
    lose_after: usize,
    /// answer every call with a permanent 400
    reject: bool,
    /// delay before a dispatch of this faulty number is processed
    slow: HashMap<String, Duration>,
    /// every call waits a random 0..jitter before it is processed
    jitter: Duration,
    /// every n-th call fails with "unavailable" (0: never)
    fail_every: usize,
    n_calls: usize,
    /// requests being served per faulty number, and how often one came while another of the
    /// same number was being served
    in_flight: HashMap<String, usize>,
    overlaps: usize,
    /// successfully processed calls per faulty number: "dispatch", "note:<text>", "cancel"
    by_number: HashMap<String, Vec<String>>,
}

/// Leaves the in-flight count of a number when a call ends, however it ends.
struct Serving(FakeCenter, String);

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(n) = self.0.state().in_flight.get_mut(&self.1) {
            *n -= 1;
        }
    }
}

fn number_of(characteristic: &[hotline_center112::wire::Characteristic]) -> String {
    characteristic
        .iter()
        .find(|c| c.name == "faultyNumber")
        .map(|c| c.value.clone())
        .unwrap_or_default()
}

#[derive(Clone, Default)]
struct FakeCenter(Arc<Mutex<FakeState>>);

impl FakeCenter {
    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.0.lock().unwrap()
    }
    fn gate(&self) -> Result<(), CenterError> {
        let mut s = self.state();
        if s.reject {
            return Err(CenterError::Rejected {
                status: 400,
                body: "bad order".into(),
            });
        }
        if s.fail_before > 0 {
            s.fail_before -= 1;
            return Err(CenterError::Unavailable("connection refused".into()));
        }
        Ok(())
    }
    /// Counts the call as in flight for `number`, then waits its delay (slow number, jitter).
    async fn serve(&self, number: String) -> Serving {
        let delay = {
            let mut s = self.state();
            let n = s.in_flight.entry(number.clone()).or_default();
            *n += 1;
            if *n > 1 {
                s.overlaps += 1;
            }
            let mut d = s.slow.get(&number).copied().unwrap_or_default();
            if !s.jitter.is_zero() {
                use rand::Rng;
                d += s.jitter.mul_f64(rand::rng().random_range(0.0..1.0));
            }
            d
        };
        let guard = Serving(self.clone(), number);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        guard
    }
    fn flaky(&self) -> Result<(), CenterError> {
        let mut s = self.state();
        s.n_calls += 1;
        if s.fail_every > 0 && s.n_calls.is_multiple_of(s.fail_every) {
            return Err(CenterError::Unavailable("flaky".into()));
        }
        Ok(())
    }
    fn number_of_ticket(&self, id: &str) -> String {
        self.state()
            .tickets
            .iter()
            .find(|t| t.id == id)
            .map(|t| number_of(&t.characteristic))
            .unwrap_or_default()
    }
    fn processed(&self, number: &str, what: String) {
        self.state()
            .by_number
            .entry(number.to_string())
            .or_default()
            .push(what);
    }
    fn lose(&self) -> Result<(), CenterError> {
        let mut s = self.state();
        if s.lose_after > 0 {
            s.lose_after -= 1;
            return Err(CenterError::Server {
                status: 500,
                body: "reply lost".into(),
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Center112 for FakeCenter {
    async fn dispatch(
        &self,
        order: &TroubleTicketCreate,
        _key: &str,
    ) -> Result<Dispatched, CenterError> {
        let number = number_of(&order.characteristic);
        let _serving = self.serve(number.clone()).await;
        self.flaky()?;
        self.gate()?;
        self.processed(&number, "dispatch".into());
        let ext = order.external_identifier[0].id.clone();
        let res = {
            let mut s = self.state();
            s.calls.push(("dispatch".into(), ext.clone()));
            if let Some(t) = s
                .tickets
                .iter()
                .find(|t| t.external_identifier[0].id == ext)
            {
                Dispatched {
                    ticket: t.clone(),
                    created: false,
                }
            } else {
                let t = TroubleTicket {
                    id: format!("TT-{}", s.tickets.len() + 1),
                    href: String::new(),
                    external_identifier: order.external_identifier.clone(),
                    name: order.name.clone(),
                    description: order.description.clone(),
                    severity: order.severity.clone(),
                    priority: order.priority.clone(),
                    ticket_type: order.ticket_type.clone(),
                    status: Status::Acknowledged,
                    status_change_reason: String::new(),
                    status_change_history: vec![],
                    creation_date: String::new(),
                    last_update: String::new(),
                    expected_resolution_date: String::new(),
                    resolution_date: String::new(),
                    characteristic: order.characteristic.clone(),
                    note: order.note.clone(),
                };
                s.tickets.push(t.clone());
                Dispatched {
                    ticket: t,
                    created: true,
                }
            }
        };
        self.lose()?;
        Ok(res)
    }
    async fn add_note(
        &self,
        id: &str,
        note: Note,
        priority: Option<String>,
    ) -> Result<TroubleTicket, CenterError> {
        let number = self.number_of_ticket(id);
        let _serving = self.serve(number.clone()).await;
        self.flaky()?;
        self.gate()?;
        self.processed(&number, format!("note:{}", note.text));
        let t = {
            let mut s = self.state();
            s.calls.push(("note".into(), id.into()));
            let t = s
                .tickets
                .iter_mut()
                .find(|t| t.id == id)
                .ok_or_else(|| CenterError::NotFound(id.into()))?;
            if !t.note.iter().any(|n| n.id == note.id) {
                t.note.push(note);
            }
            if let Some(p) = priority {
                t.priority = p;
            }
            t.clone()
        };
        self.lose()?;
        Ok(t)
    }
    async fn cancel(&self, id: &str, _reason: &str) -> Result<TroubleTicket, CenterError> {
        let number = self.number_of_ticket(id);
        let _serving = self.serve(number.clone()).await;
        self.flaky()?;
        self.gate()?;
        self.processed(&number, "cancel".into());
        let mut s = self.state();
        s.calls.push(("cancel".into(), id.into()));
        let t = s
            .tickets
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| CenterError::NotFound(id.into()))?;
        t.status = Status::Cancelled;
        Ok(t.clone())
    }
    async fn get(&self, id: &str) -> Result<TroubleTicket, CenterError> {
        self.state()
            .tickets
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .ok_or_else(|| CenterError::NotFound(id.into()))
    }
    async fn line_test(&self, _number: &str) -> Result<LineTest, CenterError> {
        Err(CenterError::Rejected {
            status: 501,
            body: "not in the fake".into(),
        })
    }
    async fn subscribe(&self, callback: &str) -> Result<HubSubscription, CenterError> {
        Ok(HubSubscription {
            id: "sub-1".into(),
            callback: callback.into(),
            query: String::new(),
        })
    }
}

struct Rig {
    desk: Desk,
    clock: ManualClock,
    center: FakeCenter,
    dyn_center: Arc<dyn Center112>,
    cfg: DeliveryConfig,
    _dir: hotline_testkit::ScratchDir,
}

async fn rig() -> Rig {
    let dir = hotline_testkit::ScratchDir::new("delivery");
    let store = Store::open(StoreOptions::new(hotline_testkit::sqlite_url(
        dir.path(),
        "d.db",
    )))
    .await
    .unwrap();
    let clock = ManualClock::new(Timestamp(T0));
    let desk = Desk::new(store, DeskRules::default(), Arc::new(clock.clone()));
    let center = FakeCenter::default();
    Rig {
        desk,
        clock,
        dyn_center: Arc::new(center.clone()),
        center,
        cfg: DeliveryConfig {
            stuck_after: Duration::from_secs(60),
            ..DeliveryConfig::default()
        },
        _dir: dir,
    }
}

fn who(id: &str, role: Role) -> Principal {
    Principal {
        agent_id: id.into(),
        role,
    }
}

impl Rig {
    /// A ticket dispatched by a senior (its order is queued at once).
    async fn dispatched(&self, number: &str) -> i64 {
        let t = NewTicket {
            faulty_number: number.into(),
            fault_type: "noise".into(),
            channel: "phone".into(),
            ..Default::default()
        };
        let id = self
            .desk
            .create_ticket(&who("j1", Role::Junior), t)
            .await
            .unwrap()
            .ticket
            .id;
        self.desk
            .act(
                &who("s1", Role::Senior),
                id,
                Action::Dispatch {
                    note: "派单".into(),
                },
            )
            .await
            .unwrap();
        id
    }
    /// Runs delivery passes, moving virtual time past every backoff.
    async fn drain(&self, passes: usize) {
        for _ in 0..passes {
            delivery::deliver_due(&self.desk, &self.dyn_center, &self.cfg)
                .await
                .unwrap();
            self.clock.advance_ms(120_000);
        }
    }
    fn event(&self, id: &str, center_ref: &str, status: Status, at: &str) -> Vec<u8> {
        let mut tt = self
            .center
            .state()
            .tickets
            .iter()
            .find(|t| t.id == center_ref)
            .cloned()
            .unwrap();
        tt.status = status;
        serde_json::to_vec(&Event {
            event_id: id.into(),
            event_time: at.into(),
            event_type: if status == Status::Resolved {
                EventType::TroubleTicketResolvedEvent
            } else {
                EventType::TroubleTicketStatusChangeEvent
            },
            event: EventPayload { trouble_ticket: tt },
        })
        .unwrap()
    }
}

#[tokio::test]
async fn lost_replies_and_outages_still_deliver_each_order_exactly_once() {
    let r = rig().await;
    {
        let mut s = r.center.state();
        s.fail_before = 2; // centre down for two attempts
        s.lose_after = 2; // then processes but the replies are lost twice
    }
    let id = r.dispatched("01066554433").await;
    r.drain(8).await;
    let (tickets, dispatches) = {
        let s = r.center.state();
        let dispatches = s.calls.iter().filter(|(k, _)| k == "dispatch").count();
        (s.tickets.len(), dispatches)
    };
    assert_eq!(tickets, 1, "one order at the centre");
    assert_eq!(
        dispatches, 3,
        "processed once, then two retries found it (lost replies)"
    );
    let v = r.desk.get(id).await.unwrap();
    let (_, d) = &v.orders[0];
    assert_eq!(
        (d.state.as_str(), d.center_ref.as_deref()),
        ("delivered", Some("TT-1"))
    );
}

#[tokio::test]
async fn a_tickets_orders_reach_the_centre_in_order() {
    let r = rig().await;
    r.center.state().fail_before = 3;
    let id = r.dispatched("01066554433").await;
    r.desk
        .act(
            &who("s1", Role::Senior),
            id,
            Action::FollowUp {
                note: "用户改约上门时间".into(),
            },
        )
        .await
        .unwrap();
    r.drain(10).await;
    let calls: Vec<String> = r
        .center
        .state()
        .calls
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(
        calls,
        vec!["dispatch", "note"],
        "the follow-up waited for its dispatch"
    );
    let tt = r.center.state().tickets[0].clone();
    assert!(
        tt.note
            .iter()
            .any(|n| n.kind == "followUp" && n.text.contains("改约")),
        "{:?}",
        tt.note
    );
}

#[tokio::test]
async fn a_permanent_refusal_is_parked_with_an_alert_and_a_stuck_order_alerts_once() {
    let r = rig().await;
    r.center.state().reject = true;
    let id = r.dispatched("01066554433").await;
    r.drain(1).await;
    let v = r.desk.get(id).await.unwrap();
    assert_eq!(v.orders[0].1.state.as_str(), "failed");
    let alerts = r.desk.store.list_alerts(Some(id), 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].deadline_kind, AlertKind::Delivery);

    let r = rig().await;
    r.center.state().fail_before = usize::MAX;
    let id = r.dispatched("01066554433").await;
    r.drain(3).await;
    let now = r.clock.now_for_test();
    let older = Timestamp(now.0 - 60_000);
    assert_eq!(
        r.desk
            .store
            .alert_stuck_outbox(older, now)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        r.desk
            .store
            .alert_stuck_outbox(older, now)
            .await
            .unwrap()
            .len(),
        0,
        "once"
    );
    assert_eq!(
        r.desk.get(id).await.unwrap().orders[0].1.state.as_str(),
        "queued"
    );
}

#[tokio::test]
async fn resolved_event_clears_the_ticket_once_and_old_events_change_nothing() {
    let r = rig().await;
    let id = r.dispatched("01066554433").await;
    r.drain(1).await;
    let in_progress = r.event("e1", "TT-1", Status::InProgress, "2026-06-01T10:00:00Z");
    let resolved = r.event("e2", "TT-1", Status::Resolved, "2026-06-01T12:00:00Z");
    let sig = |b: &[u8]| signature::sign(SECRET, b);

    // resolved arrives first (reordered), then the older inProgress, then resolved again
    let out = delivery::handle_event(&r.desk, SECRET, Some(&sig(&resolved)), &resolved)
        .await
        .unwrap();
    assert!(matches!(out, EventOutcome::Applied { .. }), "{out:?}");
    let v = r.desk.get(id).await.unwrap();
    assert_eq!(
        v.ticket.status,
        TicketStatus::Cleared,
        "回单 clears the ticket"
    );
    let out = delivery::handle_event(&r.desk, SECRET, Some(&sig(&in_progress)), &in_progress)
        .await
        .unwrap();
    assert_eq!(out, EventOutcome::Stale);
    let out = delivery::handle_event(&r.desk, SECRET, Some(&sig(&resolved)), &resolved)
        .await
        .unwrap();
    assert_eq!(out, EventOutcome::Duplicate);
    let v = r.desk.get(id).await.unwrap();
    assert_eq!(v.ticket.status, TicketStatus::Cleared);
    assert_eq!(v.orders[0].1.center_status, Some(CenterStatus::Resolved));
    let surveys = r.desk.store.open_tasks(TaskKind::Survey, 10).await.unwrap();
    assert_eq!(surveys.len(), 1, "SS2: one callback survey task");
    assert_eq!(surveys[0].ticket_id, id);

    // bad signature, garbage, unknown centre ticket: refused, nothing changes
    let e = delivery::handle_event(&r.desk, SECRET, Some("sha256=00"), &resolved)
        .await
        .unwrap_err();
    assert!(matches!(e, EventRefused::Signature(_)), "{e}");
    let junk = b"{\"eventId\": 1}";
    let e = delivery::handle_event(&r.desk, SECRET, Some(&sig(junk)), junk)
        .await
        .unwrap_err();
    assert!(matches!(e, EventRefused::Body(_)), "{e}");
    let mut other = r.event("e3", "TT-1", Status::Resolved, "2026-06-01T13:00:00Z");
    other = String::from_utf8(other)
        .unwrap()
        .replace("\"TT-1\"", "\"TT-999\"")
        .into_bytes();
    let e = delivery::handle_event(&r.desk, SECRET, Some(&sig(&other)), &other)
        .await
        .unwrap_err();
    assert!(matches!(e, EventRefused::Unknown(_)), "{e}");
    assert_eq!(
        r.desk.get(id).await.unwrap().ticket.version,
        v.ticket.version
    );
}

#[tokio::test]
async fn ss3_repair_breach_urges_the_centre_with_a_raised_priority() {
    let r = rig().await;
    let id = r.dispatched("01066554433").await;
    r.drain(1).await;
    // past the 24 h repair limit
    r.clock.advance_ms(25 * 3_600_000);
    let raised = hotline_core::scheduler::tick(&r.desk).await.unwrap();
    assert!(raised >= 1);
    let alerts = r.desk.store.list_alerts(Some(id), 10).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.deadline_kind == AlertKind::Repair && a.level == DueLevel::Breach),
        "{alerts:?}"
    );
    r.drain(1).await;
    let tt = r.center.state().tickets[0].clone();
    assert_eq!(tt.priority, "1", "urged");
    assert!(
        tt.note
            .iter()
            .any(|n| n.kind == "urge" && n.text.starts_with("催单")),
        "{:?}",
        tt.note
    );
}

/// A desk in real time with the fake centre, and the pipelined worker running.
struct Live {
    desk: Desk,
    center: FakeCenter,
    stop: tokio_util::sync::CancellationToken,
    worker: tokio::task::JoinHandle<()>,
    _dir: hotline_testkit::ScratchDir,
}

async fn live(center: FakeCenter, cfg: DeliveryConfig) -> Live {
    let dir = hotline_testkit::ScratchDir::new("delivery");
    let store = Store::open(StoreOptions::new(hotline_testkit::sqlite_url(
        dir.path(),
        "d.db",
    )))
    .await
    .unwrap();
    let desk = Desk::new(
        store,
        DeskRules::default(),
        Arc::new(hotline_core::SystemClock),
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(delivery::run(
        desk.clone(),
        Arc::new(center.clone()),
        cfg,
        desk.outbox_wake.clone(),
        stop.clone().cancelled_owned(),
    ));
    Live {
        desk,
        center,
        stop,
        worker,
        _dir: dir,
    }
}

impl Live {
    async fn dispatched(&self, number: &str) -> i64 {
        let t = NewTicket {
            faulty_number: number.into(),
            fault_type: "noise".into(),
            channel: "phone".into(),
            ..Default::default()
        };
        let id = self
            .desk
            .create_ticket(&who("j1", Role::Junior), t)
            .await
            .unwrap()
            .ticket
            .id;
        self.desk
            .act(
                &who("s1", Role::Senior),
                id,
                Action::Dispatch {
                    note: "派单".into(),
                },
            )
            .await
            .unwrap();
        id
    }
    async fn all_delivered(&self, id: i64) -> bool {
        let v = self.desk.get(id).await.unwrap();
        v.orders
            .iter()
            .all(|(_, d)| d.state.as_str() == "delivered")
    }
    async fn wait_delivered(&self, ids: &[i64], limit: Duration) {
        let start = Instant::now();
        loop {
            let mut all = true;
            for id in ids {
                all &= self.all_delivered(*id).await;
            }
            if all {
                return;
            }
            assert!(start.elapsed() < limit, "not delivered within {limit:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    async fn stop(self) {
        self.stop.cancel();
        self.worker.await.unwrap();
    }
}

#[tokio::test]
async fn a_slow_request_for_one_ticket_does_not_hold_back_another_tickets_order() {
    let center = FakeCenter::default();
    center
        .state()
        .slow
        .insert("01066550001".into(), Duration::from_millis(1500));
    let l = live(center, DeliveryConfig::default()).await;
    let slow = l.dispatched("01066550001").await;
    tokio::time::sleep(Duration::from_millis(100)).await; // its request is in flight
    let t0 = Instant::now();
    let fast = l.dispatched("01066550002").await;
    l.wait_delivered(&[fast], Duration::from_secs(5)).await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(600),
        "the second ticket waited {took:?} behind the slow request"
    );
    assert!(
        !l.all_delivered(slow).await,
        "the slow request is still in flight"
    );
    l.wait_delivered(&[slow], Duration::from_secs(5)).await;
    assert_eq!(l.center.state().tickets.len(), 2);
    l.stop().await;
}

#[tokio::test]
async fn a_tickets_orders_stay_in_order_under_pipelining_latency_and_failures() {
    let center = FakeCenter::default();
    {
        let mut s = center.state();
        s.jitter = Duration::from_millis(15);
        s.fail_every = 7;
    }
    let cfg = DeliveryConfig {
        concurrency: 16,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        max_batch: 8, // small looks: the local queue and refills are exercised too
        ..DeliveryConfig::default()
    };
    let l = live(center, cfg).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let id = l.dispatched(&format!("0106655{i:04}")).await;
        for n in 1..=2 {
            l.desk
                .act(
                    &who("s1", Role::Senior),
                    id,
                    Action::FollowUp {
                        note: format!("第{n}次"),
                    },
                )
                .await
                .unwrap();
        }
        ids.push(id);
    }
    l.wait_delivered(&ids, Duration::from_secs(30)).await;
    {
        let s = l.center.state();
        assert_eq!(
            s.overlaps, 0,
            "two requests of one ticket were in flight at once"
        );
        assert_eq!(s.tickets.len(), 30, "one order per ticket at the centre");
        assert!(s.n_calls > 90, "some calls failed and were retried");
        for i in 0..30 {
            let number = format!("0106655{i:04}");
            let done: Vec<&str> = s.by_number[&number]
                .iter()
                .map(String::as_str)
                .filter(|c| !c.starts_with("note") || c.contains("次"))
                .collect();
            // a retried call may be processed again, but never before its predecessor
            let mut firsts: Vec<&str> = Vec::new();
            for c in done {
                if !firsts.contains(&c) {
                    firsts.push(c);
                }
            }
            assert_eq!(
                firsts,
                vec!["dispatch", "note:追单: 第1次", "note:追单: 第2次"],
                "{number}"
            );
            let t = s
                .tickets
                .iter()
                .find(|t| number_of(&t.characteristic) == number)
                .unwrap();
            let notes: Vec<&str> = t
                .note
                .iter()
                .filter(|n| n.kind == "followUp")
                .map(|n| n.text.as_str())
                .collect();
            assert_eq!(notes, vec!["追单: 第1次", "追单: 第2次"], "{number}");
        }
    }
    l.stop().await;
}
