//! The group commit's batch path (a fixed number of statements per batch) against the
//! one-by-one path: same ids, repeat links (also between reports in the same batch), deadlines,
//! audit rows, tasks and alerts; batches larger than one statement's chunk; a bad request
//! failing alone. On SQLite, and on PostgreSQL at `HOTLINE_TEST_DATABASE_URL` (default 127.0.0.1:5432).

mod common;

use hotline_domain::repeat::RepeatAdvice;
use hotline_domain::rules::DeskRules;
use hotline_domain::task::TaskKind;
use hotline_domain::ticket::NewTicket;
use hotline_domain::time::{DAY_MS, HOUR_MS};
use hotline_domain::{Role, Timestamp};
use hotline_store::tickets::{CreateRequest, Created};
use hotline_store::{Store, StoreError};
use sqlx::Executor;
use std::sync::Arc;

const T0: i64 = 1_780_000_000_000;

fn report(number: &str, channel: &str) -> NewTicket {
    NewTicket {
        faulty_number: number.into(),
        fault_type: "no_dial_tone".into(),
        channel: channel.into(),
        customer_name: "王五".into(),
        branch: "朝阳分公司".into(),
        description: "电话有杂音".into(),
        ..Default::default()
    }
}

fn req(t: NewTicket, now: i64) -> CreateRequest {
    CreateRequest {
        valid: t.validate(Timestamp(now)).expect("valid"),
        actor: "op1".into(),
        role: Role::Junior,
        now: Timestamp(now),
        rules: Arc::new(DeskRules::default()),
        report_branch: String::new(),
        call_id: String::new(),
    }
}

/// A mix: repeats of one number inside the batch, a number with an overdue open ticket, text
/// channels (entry deadline; one entered late → TE1 alert; originals to file → TE3 task), an
/// urgent and a big customer's report (escalated), supplements of a stored ticket and of one
/// created earlier in the same batch, and a supplement of an unknown ticket (refused alone).
fn mixed(seed: i64) -> Vec<CreateRequest> {
    let now = T0 + DAY_MS;
    let mut out = vec![
        req(report("01061110001", "phone"), now),
        req(report("01061110001", "ivr"), now),
        req(report("01061110002", "ivr"), now),
        req(report("01061110001", "phone"), now),
        req(report("01061119999", "phone"), now), // the seed's number: overdue repeat
    ];
    let mut late_fax = report("01061110003", "fax");
    late_fax.received_at = Some(Timestamp(now - 5 * HOUR_MS));
    out.push(req(late_fax, now));
    out.push(req(report("01061110004", "letter"), now));
    out.push(req(report("01061110005", "email"), now));
    out.push(req(report("01061110006", "other_department"), now));
    let mut urgent = report("01061110007", "phone");
    urgent.urgent = true;
    out.push(req(urgent, now));
    let mut big = report("01061110008", "phone");
    big.customer_class = "big".into();
    out.push(req(big, now));
    let mut supplement = report("01061110009", "phone");
    supplement.supplement_of = Some(seed);
    out.push(req(supplement, now));
    let mut unknown = report("01061110010", "phone");
    unknown.supplement_of = Some(seed + 10_000);
    out.push(req(unknown, now));
    // The batch's first ticket gets the id after the seed's.
    let mut in_batch = report("01061110011", "phone");
    in_batch.supplement_of = Some(seed + 1);
    out.push(req(in_batch, now));
    out.push(req(report("01061110002", "fax"), now));
    out
}

/// Compares two snapshots line by line (the first differing line is the message).
fn same(got: &[String], want: &[String], backend: &str) {
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g, w, "on {backend}");
    }
    assert_eq!(got.len(), want.len(), "on {backend}");
}

/// Everything stored about these tickets, as text to compare.
async fn snapshot(store: &Store, ids: &[i64]) -> Vec<String> {
    let mut out = Vec::new();
    for &id in ids {
        let view = store.get_ticket(id).await.expect("ticket");
        out.push(format!("{:?} {:?}", view.ticket, view.deadlines));
        for a in store.history(id).await.expect("history") {
            out.push(format!("{a:?}"));
        }
        for a in store.list_alerts(Some(id), 100).await.expect("alerts") {
            out.push(format!("{a:?}"));
        }
    }
    let tasks = store
        .list_tasks(
            &[TaskKind::Callback, TaskKind::Survey, TaskKind::FileOriginal],
            true,
            0,
            1000,
        )
        .await
        .expect("tasks");
    out.push(format!("{tasks:?}"));
    out
}

fn outcome(r: &Result<Created, StoreError>) -> String {
    match r {
        Ok(c) => format!(
            "{:?}",
            (&c.ticket, c.repeat, &c.deadlines, c.late_entry_alert)
        ),
        Err(e) => format!("error: {e}"),
    }
}

async fn seed(store: &Store) -> i64 {
    let mut old = report("01061119999", "phone");
    old.received_at = Some(Timestamp(T0 - 10 * DAY_MS));
    store
        .create_ticket_unbatched(req(old, T0))
        .await
        .expect("seed")
        .ticket
        .id
}

#[tokio::test]
async fn a_mixed_batch_stores_what_one_by_one_creation_stores() {
    for (a, b) in common::databases()
        .await
        .into_iter()
        .zip(common::databases().await)
    {
        let batched = common::open(&a).await;
        let single = common::open(&b).await;
        let s1 = seed(&batched).await;
        let s2 = seed(&single).await;
        assert_eq!(s1, s2);
        let in_batch = batched.create_tickets_as_one_batch(mixed(s1)).await;
        let mut one_by_one = Vec::new();
        for r in mixed(s2) {
            one_by_one.push(single.create_ticket_unbatched(r).await);
        }
        let got: Vec<String> = in_batch.iter().map(outcome).collect();
        let want: Vec<String> = one_by_one.iter().map(outcome).collect();
        same(&got, &want, a.name);

        // What the mix was meant to exercise.
        let c = |i: usize| in_batch[i].as_ref().expect("created");
        let first = c(0).ticket.id;
        assert_eq!(first, s1 + 1, "{}", a.name);
        assert_eq!(c(0).repeat, None);
        assert_eq!(
            c(1).repeat,
            Some(RepeatAdvice::ProgressAnswer { original: first }),
            "a second report in the same batch repeats the first on {}",
            a.name
        );
        assert_eq!(c(3).ticket.repeat_of, Some(first));
        assert_eq!(
            c(4).repeat,
            Some(RepeatAdvice::ManagerHotline { original: s1 })
        );
        assert_eq!(c(14).ticket.repeat_of, Some(c(2).ticket.id));
        assert!(c(5).late_entry_alert.is_some());
        assert_eq!(c(11).ticket.supplement_of, Some(s1));
        assert_eq!(c(13).ticket.supplement_of, Some(first));
        assert!(matches!(in_batch[12], Err(StoreError::NotFound(_))));

        let mut ids: Vec<i64> = in_batch
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|c| c.ticket.id))
            .collect();
        ids.push(s1);
        same(
            &snapshot(&batched, &ids).await,
            &snapshot(&single, &ids).await,
            a.name,
        );
        let tasks = batched
            .list_tasks(&[TaskKind::FileOriginal], false, 0, 100)
            .await
            .unwrap();
        assert_eq!(
            tasks.len(),
            4,
            "fax ×2, letter, email; not other_department on {}",
            a.name
        );
        batched.close().await;
        single.close().await;
    }
}

#[tokio::test]
async fn a_batch_larger_than_one_statement_chunk_matches_one_by_one() {
    for (a, b) in common::databases()
        .await
        .into_iter()
        .zip(common::databases().await)
    {
        let batched = common::open(&a).await;
        let single = common::open(&b).await;
        // 1,200 tickets × 17 columns and ~3,600 deadlines × 6 exceed one 16,000-parameter
        // statement; numbers repeat every 400, so most reports are repeats in the batch.
        let reqs = || {
            (0..1200)
                .map(|i| {
                    let channel = ["phone", "fax", "ivr"][i % 3];
                    req(report(&format!("0107{:07}", i % 400), channel), T0)
                })
                .collect::<Vec<_>>()
        };
        let in_batch = batched.create_tickets_as_one_batch(reqs()).await;
        let mut one_by_one = Vec::new();
        for r in reqs() {
            one_by_one.push(single.create_ticket_unbatched(r).await);
        }
        let got: Vec<String> = in_batch.iter().map(outcome).collect();
        let want: Vec<String> = one_by_one.iter().map(outcome).collect();
        same(&got, &want, a.name);
        let ids: Vec<i64> = in_batch
            .iter()
            .map(|r| r.as_ref().expect("created").ticket.id)
            .collect();
        assert_eq!(ids, (1..=1200).collect::<Vec<_>>(), "{}", a.name);
        assert_eq!(
            in_batch
                .iter()
                .filter(|r| r.as_ref().is_ok_and(|c| c.repeat.is_some()))
                .count(),
            800
        );
        same(
            &snapshot(&batched, &ids).await,
            &snapshot(&single, &ids).await,
            a.name,
        );
        batched.close().await;
        single.close().await;
    }
}

/// A trigger that refuses tickets described as "poison".
async fn poison(url: &str, backend: &str) {
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect");
    if backend == "sqlite" {
        pool.execute("CREATE TRIGGER poison BEFORE INSERT ON tickets WHEN NEW.description = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned ticket'); END")
            .await
            .expect("trigger");
    } else {
        pool.execute("CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.description = 'poison' THEN RAISE EXCEPTION 'poisoned ticket'; END IF; RETURN NEW; END $$")
            .await
            .expect("function");
        pool.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION poison()",
        )
        .await
        .expect("trigger");
    }
    pool.close().await;
}

#[tokio::test]
async fn a_bad_request_in_a_batch_fails_alone() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        poison(&db.url, db.name).await;
        let mut reqs: Vec<CreateRequest> = (0..6)
            .map(|i| req(report(&format!("0108000000{i}"), "fax"), T0))
            .collect();
        let mut bad = report("01080000009", "phone");
        bad.description = "poison".into();
        reqs.insert(3, req(bad, T0));
        let results = store.create_tickets_as_one_batch(reqs).await;
        assert_eq!(results.len(), 7);
        for (i, r) in results.iter().enumerate() {
            if i == 3 {
                let e = r.as_ref().expect_err("the poisoned ticket fails");
                assert!(e.to_string().contains("poisoned"), "{e} on {}", db.name);
            } else {
                let c = r.as_ref().unwrap_or_else(|e| panic!("{e} on {}", db.name));
                let view = store.get_ticket(c.ticket.id).await.expect("stored");
                assert_eq!(view.ticket.faulty_number, c.ticket.faulty_number);
                assert_eq!(store.history(c.ticket.id).await.unwrap().len(), 1);
            }
        }
        let tickets = store
            .list_tickets(&hotline_store::ListFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(tickets.len(), 6, "{}", db.name);
        let tasks = store
            .list_tasks(&[TaskKind::FileOriginal], false, 0, 100)
            .await
            .unwrap();
        assert_eq!(tasks.len(), 6, "one original per fax on {}", db.name);
        // The writer's path still works afterwards.
        let c = store
            .create_ticket(req(report("01080000010", "phone"), T0))
            .await
            .expect("create after a failed batch");
        assert!(c.ticket.id > 0);
        store.close().await;
    }
}

#[tokio::test]
async fn the_writer_takes_a_new_connection_when_its_own_was_killed() {
    for db in common::databases().await {
        if db.name != "postgres" {
            continue;
        }
        let store = common::open(&db).await;
        let first = store
            .create_ticket(req(report("01090000001", "phone"), T0))
            .await
            .expect("first");
        // Kill every connection of the store (the writer's kept one among them).
        let admin = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&db.url)
            .await
            .expect("connect");
        admin
            .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            .await
            .expect("terminate");
        admin.close().await;
        let second = store
            .create_ticket(req(report("01090000001", "phone"), T0 + 1))
            .await
            .expect("created on a fresh connection");
        assert_eq!(second.ticket.repeat_of, Some(first.ticket.id));
        let all = store
            .list_tickets(&hotline_store::ListFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 2, "stored once");
        store.close().await;
    }
}
