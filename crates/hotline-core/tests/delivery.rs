//! Outbox delivery and centre events against an in-memory centre with injected faults: exactly
//! once through lost replies, in order per ticket, parked refusals, stuck alerts, urging, and
//! events applied once and never backwards. Virtual time (ManualClock); no sockets.

use hotline_center112::wire::{
    Event, EventPayload, EventType, HubSubscription, LineTest, Note, Status, TroubleTicket,
    TroubleTicketCreate,
};
use hotline_center112::{Center112, CenterError, client::Dispatched, signature};
use hotline_core::auth::Principal;
use hotline_core::clock::ManualClock;
use hotline_core::delivery::{self, DeliveryConfig, EventRefused};
use hotline_core::desk::Desk;
use hotline_domain::rules::DeskRules;
use hotline_domain::ticket::NewTicket;
use hotline_domain::workflow::Action;
use hotline_domain::{Role, TicketStatus, Timestamp};
use hotline_store::{EventOutcome, Store, StoreOptions};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
        self.gate()?;
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
        self.gate()?;
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
        self.gate()?;
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
    _dir: std::path::PathBuf,
}

async fn rig() -> Rig {
    let dir = std::env::temp_dir().join(format!("hotline-delivery-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(StoreOptions::new(format!(
        "sqlite://{}?mode=rwc",
        dir.join("d.db").display()
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
    assert_eq!(v.orders[0].1.state, "failed");
    let alerts = r.desk.store.list_alerts(Some(id), 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].deadline_kind, "delivery");

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
    assert_eq!(r.desk.get(id).await.unwrap().orders[0].1.state, "queued");
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
    assert_eq!(v.orders[0].1.center_status.as_deref(), Some("resolved"));
    let surveys = r.desk.store.open_tasks("survey", 10).await.unwrap();
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
            .any(|a| a.deadline_kind == "repair" && a.level == "breach"),
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
