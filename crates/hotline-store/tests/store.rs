//! Store behaviour, the same on SQLite and PostgreSQL (PostgreSQL at
//! `HOTLINE_TEST_DATABASE_URL` (default 127.0.0.1:5432), as CI does).

mod common;

use hotline_domain::order::ReviewState;
use hotline_domain::repeat::RepeatAdvice;
use hotline_domain::rules::{DeadlineKind, DeskRules};
use hotline_domain::task::TaskKind;
use hotline_domain::ticket::NewTicket;
use hotline_domain::time::{HOUR_MS, MINUTE_MS};
use hotline_domain::workflow::{Action, Context, decide};
use hotline_domain::{Role, TicketStatus, Timestamp};
use hotline_store::tickets::{CommitRequest, CreateRequest};
use hotline_store::{DueLevel, ListFilter, Store, StoreError};
use std::sync::Arc;

const T0: i64 = 1_780_000_000_000;

fn report(number: &str, channel: &str, class: &str) -> NewTicket {
    NewTicket {
        faulty_number: number.into(),
        fault_type: "no_dial_tone".into(),
        channel: channel.into(),
        customer_class: class.into(),
        customer_name: "李四".into(),
        branch: "海淀分公司".into(),
        description: "电话无拨号音".into(),
        ..Default::default()
    }
}

fn create_req(t: NewTicket, now: i64) -> CreateRequest {
    CreateRequest {
        valid: t.validate(Timestamp(now)).expect("valid"),
        actor: "ivr".into(),
        role: Role::System,
        now: Timestamp(now),
        rules: Arc::new(DeskRules::default()),
        report_branch: String::new(),
        call_id: String::new(),
    }
}

async fn act(
    store: &Store,
    id: i64,
    actor: &str,
    role: Role,
    action: Action,
    now: i64,
) -> Result<(), StoreError> {
    let view = store.get_ticket(id).await?;
    commit_decided(store, &view, actor, role, &action, now, |_| ())
        .await
        .map(|_| ())
}

#[tokio::test]
async fn create_get_and_audit_on_every_backend() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let c = store
            .create_ticket(create_req(report("01066554433", "ivr", ""), T0))
            .await
            .unwrap();
        assert!(c.repeat.is_none(), "{}", db.name);
        let v = store.get_ticket(c.ticket.id).await.unwrap();
        assert_eq!(v.ticket, c.ticket, "{}", db.name);
        assert_eq!(v.ticket.customer.branch, "海淀分公司");
        assert_eq!(v.deadlines.len(), 2, "dispatch + repair on {}", db.name);
        let h = store.history(c.ticket.id).await.unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(
            (&*h[0].action.wire(), h[0].actor.as_str(), h[0].after_status),
            ("create", "ivr", Some(TicketStatus::New))
        );
        assert!(matches!(
            store.get_ticket(999_999).await,
            Err(StoreError::NotFound(_))
        ));
        store.close().await;
    }
}

#[tokio::test]
async fn jo8_big_customers_and_urgent_reports_start_in_the_senior_queue() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        for class in ["big", "important", "leased_line"] {
            let c = store
                .create_ticket(create_req(report("02088887777", "phone", class), T0))
                .await
                .unwrap();
            assert_eq!(
                c.ticket.status,
                TicketStatus::Escalated,
                "{class} on {}",
                db.name
            );
        }
        let mut urgent = report("02088880000", "phone", "");
        urgent.urgent = true;
        let c = store.create_ticket(create_req(urgent, T0)).await.unwrap();
        assert_eq!(c.ticket.status, TicketStatus::Escalated);
        let d = c
            .deadlines
            .iter()
            .find(|d| d.kind == DeadlineKind::Dispatch)
            .unwrap();
        assert_eq!(
            d.due_at,
            Timestamp(T0 + 5 * MINUTE_MS),
            "SO2 urgent dispatch at once"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn jo9_jo5_repeat_reports_link_to_the_original() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let first = store
            .create_ticket(create_req(report("075512345678", "ivr", ""), T0))
            .await
            .unwrap();
        let second = store
            .create_ticket(create_req(report("075512345678", "ivr", ""), T0 + HOUR_MS))
            .await
            .unwrap();
        assert_eq!(
            second.repeat,
            Some(RepeatAdvice::ProgressAnswer {
                original: first.ticket.id
            }),
            "{}",
            db.name
        );
        assert_eq!(second.ticket.repeat_of, Some(first.ticket.id));
        let third = store
            .create_ticket(create_req(
                report("075512345678", "ivr", ""),
                T0 + 25 * HOUR_MS,
            ))
            .await
            .unwrap();
        assert!(
            matches!(third.repeat, Some(RepeatAdvice::ManagerHotline { .. })),
            "{:?}",
            third.repeat
        );
        store.close().await;
    }
}

#[tokio::test]
async fn te1_late_text_entry_raises_a_breach_alert_at_creation() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let mut letter = report("01012345678", "letter", "");
        letter.received_at = Some(Timestamp(T0 - 3 * HOUR_MS));
        let c = store.create_ticket(create_req(letter, T0)).await.unwrap();
        assert!(c.late_entry_alert.is_some(), "{}", db.name);
        let alerts = store.list_alerts(Some(c.ticket.id), 10).await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            (alerts[0].deadline_kind.as_str(), alerts[0].level.as_str()),
            ("entry", "breach")
        );
        store.close().await;
    }
}

#[tokio::test]
async fn jo7_so4_review_flow_writes_order_outbox_task_and_audit_atomically() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let id = store
            .create_ticket(create_req(report("01066554433", "ivr", ""), T0))
            .await
            .unwrap()
            .ticket
            .id;
        act(
            &store,
            id,
            "j1",
            Role::Junior,
            Action::Dispatch {
                note: "无音派单".into(),
            },
            T0 + 1000,
        )
        .await
        .unwrap();
        let v = store.get_ticket(id).await.unwrap();
        assert_eq!(v.ticket.status, TicketStatus::AwaitingReview);
        assert_eq!(v.orders.len(), 1);
        assert_eq!(
            (v.orders[0].0.review, v.orders[0].1.state.as_str()),
            (ReviewState::Pending, "not_sendable")
        );
        assert!(
            store.pending_outbox(10).await.unwrap().is_empty(),
            "nothing sent before review on {}",
            db.name
        );
        let order_id = v.orders[0].0.id;
        act(
            &store,
            id,
            "s1",
            Role::Senior,
            Action::Review {
                order_id,
                approve: true,
                note: "同意".into(),
            },
            T0 + 2000,
        )
        .await
        .unwrap();
        let v = store.get_ticket(id).await.unwrap();
        assert_eq!(v.ticket.status, TicketStatus::Dispatched);
        assert_eq!(v.ticket.dispatch_order, Some(order_id));
        assert_eq!(v.orders[0].1.state.as_str(), "queued");
        let outbox = store.pending_outbox(10).await.unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].1, order_id);
        assert!(outbox[0].2.contains("\"kind\":\"dispatch\""));
        assert!(
            v.deadline(DeadlineKind::Dispatch)
                .unwrap()
                .deadline
                .met_at
                .is_some()
        );
        let h = store.history(id).await.unwrap();
        let actions: Vec<_> = h
            .iter()
            .map(|a| format!("{} {} {}", a.action.wire(), a.actor, a.role.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                "create ivr system",
                "dispatch j1 junior",
                "review s1 senior"
            ]
        );
        assert_eq!(
            (h[2].before_status, h[2].after_status),
            (
                Some(TicketStatus::AwaitingReview),
                Some(TicketStatus::Dispatched)
            )
        );

        // a rejected follow-up creates a callback task (SO4)
        act(
            &store,
            id,
            "j1",
            Role::Junior,
            Action::FollowUp {
                note: "用户改约时间".into(),
            },
            T0 + 3000,
        )
        .await
        .unwrap();
        let v = store.get_ticket(id).await.unwrap();
        let fu = v
            .orders
            .iter()
            .find(|(o, _)| o.review == ReviewState::Pending)
            .unwrap()
            .0
            .clone();
        assert_eq!(
            fu.references,
            Some(order_id),
            "JO4 follow-up references the dispatch"
        );
        act(
            &store,
            id,
            "s1",
            Role::Senior,
            Action::Review {
                order_id: fu.id,
                approve: false,
                note: "无需追单".into(),
            },
            T0 + 4000,
        )
        .await
        .unwrap();
        let tasks = store.open_tasks(TaskKind::Callback, 10).await.unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].ticket_id, id);
        store.close().await;
    }
}

#[tokio::test]
async fn stale_version_is_a_conflict_and_writes_nothing() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let id = store
            .create_ticket(create_req(report("01066554433", "ivr", ""), T0))
            .await
            .unwrap()
            .ticket
            .id;
        let stale = store.get_ticket(id).await.unwrap();
        act(
            &store,
            id,
            "j1",
            Role::Junior,
            Action::Escalate {
                reason: "复杂".into(),
            },
            T0 + 1,
        )
        .await
        .unwrap();
        let action = Action::Dispatch { note: "x".into() };
        let tr = decide(
            &stale.ticket,
            &[],
            "j2",
            Role::Junior,
            &action,
            Context::default(),
        )
        .unwrap();
        let err = store
            .commit(CommitRequest {
                ticket: &stale.ticket,
                transition: &tr,
                actor: "j2",
                role: Role::Junior,
                now: Timestamp(T0 + 2),
                rules: &DeskRules::default(),
                text: "x",
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict), "{err} on {}", db.name);
        let v = store.get_ticket(id).await.unwrap();
        assert!(
            v.orders.is_empty(),
            "the order insert was rolled back on {}",
            db.name
        );
        assert_eq!(store.history(id).await.unwrap().len(), 2);
        store.close().await;
    }
}

#[tokio::test]
async fn deadlines_warn_then_breach_once_and_survive_a_restart() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let id = store
            .create_ticket(create_req(report("01066554433", "ivr", ""), T0))
            .await
            .unwrap()
            .ticket
            .id;
        // dispatch deadline: 1 h, warn at 48 min
        assert!(
            store
                .due_deadlines(Timestamp(T0 + 47 * MINUTE_MS), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.next_deadline_at().await.unwrap(),
            Some(Timestamp(T0 + 48 * MINUTE_MS))
        );
        let due = store
            .due_deadlines(Timestamp(T0 + 49 * MINUTE_MS), 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].ticket_id, due[0].kind, due[0].level),
            (id, DeadlineKind::Dispatch, DueLevel::Warning)
        );
        assert!(
            store
                .raise_alert(&due[0], Timestamp(T0 + 49 * MINUTE_MS), "预警")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .raise_alert(&due[0], Timestamp(T0 + 49 * MINUTE_MS), "预警")
                .await
                .unwrap()
                .is_none(),
            "once only"
        );
        store.close().await;

        let store = common::open(&db).await; // restart: state comes from the database
        assert!(
            store
                .due_deadlines(Timestamp(T0 + 59 * MINUTE_MS), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let due = store
            .due_deadlines(Timestamp(T0 + 61 * MINUTE_MS), 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].level, DueLevel::Breach);
        store
            .raise_alert(&due[0], Timestamp(T0 + 61 * MINUTE_MS), "超时")
            .await
            .unwrap()
            .unwrap();
        let counts = store.alert_counts().await.unwrap();
        assert_eq!(
            counts,
            vec![
                ("dispatch".to_string(), "breach".to_string(), 1),
                ("dispatch".to_string(), "warning".to_string(), 1)
            ]
        );
        // dispatching meets the deadline: nothing more is due for it
        act(
            &store,
            id,
            "s1",
            Role::Senior,
            Action::Dispatch {
                note: "派单".into(),
            },
            T0 + 62 * MINUTE_MS,
        )
        .await
        .unwrap();
        assert!(
            store
                .due_deadlines(Timestamp(T0 + 120 * MINUTE_MS), 10)
                .await
                .unwrap()
                .is_empty()
        );
        store.close().await;
    }
}

#[tokio::test]
async fn group_commit_creates_concurrent_tickets_with_distinct_ids_and_serial_repeats() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let mut handles = Vec::new();
        for i in 0..200 {
            let s = store.clone();
            // numbers repeat every 50, so each number is reported 4 times
            let number = format!("0106600{:04}", i % 50);
            handles.push(tokio::spawn(async move {
                s.create_ticket(create_req(report(&number, "ivr", ""), T0 + i))
                    .await
            }));
        }
        let mut ids = Vec::new();
        let mut repeats = 0;
        for h in handles {
            let c = h.await.unwrap().unwrap();
            ids.push(c.ticket.id);
            repeats += usize::from(c.repeat.is_some());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200, "{}", db.name);
        assert_eq!(
            repeats, 150,
            "every report after the first on a number is a repeat on {}",
            db.name
        );
        let page1 = store
            .list_tickets(&ListFilter {
                limit: 150,
                ..Default::default()
            })
            .await
            .unwrap();
        let page2 = store
            .list_tickets(&ListFilter {
                limit: 150,
                before_id: page1.last().map(|t| t.id),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!((page1.len(), page2.len()), (150, 50));
        let one = store
            .list_tickets(&ListFilter {
                limit: 10,
                faulty_number: Some("01066000007".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(one.len(), 4);
        store.close().await;
    }
}

#[tokio::test]
async fn te3_a_fax_ticket_gets_one_file_original_task_and_a_phone_ticket_none() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        // Through the group-commit writer, and through the one-by-one path (its fallback).
        let fax = store
            .create_ticket(create_req(report("01066550001", "fax", ""), T0))
            .await
            .unwrap();
        let phone = store
            .create_ticket(create_req(report("01066550002", "phone", ""), T0))
            .await
            .unwrap();
        let fax2 = store
            .create_ticket_unbatched(create_req(report("01066550003", "fax", ""), T0))
            .await
            .unwrap();
        let phone2 = store
            .create_ticket_unbatched(create_req(report("01066550004", "phone", ""), T0))
            .await
            .unwrap();
        let tasks = store
            .list_tasks(
                &[TaskKind::Callback, TaskKind::Survey, TaskKind::FileOriginal],
                true,
                0,
                100,
            )
            .await
            .unwrap();
        for fax in [&fax, &fax2] {
            let mine: Vec<_> = tasks
                .iter()
                .filter(|t| t.ticket_id == fax.ticket.id)
                .collect();
            assert_eq!(mine.len(), 1, "{}", db.name);
            assert_eq!(mine[0].kind.as_str(), "file_original");
            assert_eq!(mine[0].order_id, None);
            assert_eq!(mine[0].created_at, Timestamp(T0));
            assert_eq!(mine[0].done_at, None);
        }
        for phone in [&phone, &phone2] {
            assert!(
                tasks.iter().all(|t| t.ticket_id != phone.ticket.id),
                "{}",
                db.name
            );
        }
        store.close().await;
    }
}

/// Stores `action` as decided on `view` (which may be stale by the time it lands), after
/// `tamper` has had its way with the transition.
async fn commit_decided(
    store: &Store,
    view: &hotline_store::TicketView,
    actor: &str,
    role: Role,
    action: &Action,
    now: i64,
    tamper: impl FnOnce(&mut hotline_domain::workflow::Transition),
) -> Result<hotline_store::CommitOutcome, StoreError> {
    let mut tr = decide(
        &view.ticket,
        &view.plain_orders(),
        actor,
        role,
        action,
        Context::default(),
    )
    .expect("allowed");
    tamper(&mut tr);
    store
        .commit(CommitRequest {
            ticket: &view.ticket,
            transition: &tr,
            actor,
            role,
            now: Timestamp(now),
            rules: &DeskRules::default(),
            text: action.text(),
        })
        .await
}

#[tokio::test]
async fn group_committed_workflow_changes_race_per_ticket_and_a_failing_one_sinks_no_neighbour() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let mut views = Vec::new();
        for i in 0..40 {
            let id = store
                .create_ticket(create_req(
                    report(&format!("0106700{i:04}"), "ivr", ""),
                    T0 + i,
                ))
                .await
                .unwrap()
                .ticket
                .id;
            views.push(store.get_ticket(id).await.unwrap());
        }
        // Two seniors dispatch every ticket at once from the same read: one of each pair wins.
        // Ticket 0 also gets a review of an order that does not exist, which fails only after
        // its version check passed (so inside a batch it forces the one-by-one fallback).
        let dispatch = Action::Dispatch {
            note: "派单".into(),
        };
        let mut handles = Vec::new();
        for (i, v) in views.iter().enumerate() {
            for who in ["s1", "s2"] {
                let (s, v, a) = (store.clone(), v.clone(), dispatch.clone());
                handles.push(tokio::spawn(async move {
                    (
                        i,
                        commit_decided(&s, &v, who, Role::Senior, &a, T0 + 5000, |_| ()).await,
                    )
                }));
            }
        }
        let bogus = {
            let (s, v) = (store.clone(), views[0].clone());
            tokio::spawn(async move {
                commit_decided(&s, &v, "s3", Role::Senior, &dispatch, T0 + 5000, |tr| {
                    tr.reviewed = Some((987_654, ReviewState::Approved));
                })
                .await
            })
        };
        let mut wins = vec![0; views.len()];
        for h in handles {
            let (i, res) = h.await.unwrap();
            match res {
                Ok(out) => {
                    wins[i] += 1;
                    assert!(out.queued_order.is_some(), "{}", db.name);
                }
                Err(StoreError::Conflict) => {}
                Err(e) => panic!("unexpected {e} on {}", db.name),
            }
        }
        let bogus = bogus.await.unwrap();
        assert!(
            matches!(bogus, Err(StoreError::Conflict)),
            "{bogus:?} on {}",
            db.name
        );
        // the bogus review wrote nothing (rolled back), so ticket 0 too has exactly one winner
        for (i, v) in views.iter().enumerate() {
            let after = store.get_ticket(v.ticket.id).await.unwrap();
            let won = wins[i];
            assert_eq!(
                won, 1,
                "dispatches of ticket {i} that succeeded on {}",
                db.name
            );
            assert_eq!(after.orders.len(), won, "ticket {i} on {}", db.name);
            assert_eq!(
                after.ticket.version,
                v.ticket.version + won as i64,
                "ticket {i} on {}",
                db.name
            );
            assert_eq!(
                after.ticket.dispatch_order,
                after.orders.first().map(|(o, _)| o.id),
                "ticket {i} on {}",
                db.name
            );
            // creation + the winning dispatch, nothing from the losers or the bogus review
            assert_eq!(
                store.history(v.ticket.id).await.unwrap().len(),
                1 + won,
                "ticket {i} on {}",
                db.name
            );
        }
        let queued = store.pending_outbox(1000).await.unwrap();
        assert_eq!(
            queued.len(),
            wins.iter().sum::<usize>(),
            "one outbox row per winning dispatch on {}",
            db.name
        );
        store.close().await;
    }
}

#[tokio::test]
async fn an_unknown_stored_voicemail_state_or_task_kind_is_corrupt_not_a_panic() {
    use hotline_store::{NewVoicemail, VoicemailState};
    use sqlx::Executor;
    for db in common::databases().await {
        let store = common::open(&db).await;
        let v = store
            .create_voicemail(&NewVoicemail {
                call_id: "odd".into(),
                caller_id: "13800138000".into(),
                number_entered: "01066554433".into(),
                file_name: "odd.wav".into(),
                duration_ms: 1000,
                received_at: Timestamp(T0),
            })
            .await
            .unwrap();
        assert_eq!(v.state, VoicemailState::New, "{}", db.name);
        let fax = store
            .create_ticket_unbatched(create_req(report("01066550009", "fax", ""), T0))
            .await
            .unwrap();
        let task = store
            .list_tasks(&[TaskKind::FileOriginal], false, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.ticket_id == fax.ticket.id)
            .expect("the fax's TE3 task");
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&db.url)
            .await
            .unwrap();
        pool.execute("UPDATE voicemails SET state = 'lost'")
            .await
            .unwrap();
        pool.execute("UPDATE tasks SET kind = 'gardening'")
            .await
            .unwrap();
        let e = store.get_voicemail(v.id).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("voicemail state") && m.contains("lost")),
            "{}: {e:?}",
            db.name
        );
        let e = store.get_task(task.id).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Corrupt(m) if m.contains("task kind") && m.contains("gardening")),
            "{}: {e:?}",
            db.name
        );
        pool.close().await;
        store.close().await;
    }
}
