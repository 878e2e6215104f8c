//! Benchmark: outbox → 112 centre (issue 4). Runs the core's store, desk and delivery worker
//! in-process against the centre simulator over loopback HTTP, and measures:
//! 1. baseline: raw `POST /troubleTicket` to the simulator at 64 concurrent requests;
//! 2. sustained: orders approved at a fixed rate, latency from approval (outbox row committed)
//!    to the centre's 2xx, p50/p99/max, and the delivered rate;
//! 3. backlog: 10,000 orders approved while the centre is down, then the time to drain.
//!
//! `cargo bench -p hotline --bench outbox` (SQLite in a temp dir). Set
//! `HOTLINE_BENCH_DATABASE_URL=postgres://...` to run the core on PostgreSQL instead: the run
//! creates a scratch database `hotline_bench_<uuid>` on that server and drops it at the end,
//! so leftover outbox rows of earlier runs never count.
//! Env: `RATE` (orders/s, default 1000), `SECONDS` (default 10), `BACKLOG` (default 10000);
//! `MARK_INTERVAL_MS`, `LOOK_GAP_MS` override the worker's defaults.
//!
//! Sustained latency is reported three ways: approval→2xx (the outbox row's `created_at`, taken
//! when the approval's transaction starts, to the centre's 2xx); the approval itself (the
//! `act` call: read, decide, commit, read back); and the worker's share, 2xx minus the moment
//! `act` returned (clamped at 0; `act` returns just after the commit, so this slightly
//! understates the commit→2xx time).

use center112_sim::{Faults, SimConfig, Simulator};
use futures::StreamExt;
use hotline_center112::wire::{ExternalIdentifier, TroubleTicketCreate};
use hotline_center112::{Center112, HttpCenter};
use hotline_core::SystemClock;
use hotline_core::auth::Principal;
use hotline_core::delivery::DeliveryConfig;
use hotline_core::server::{CenterLink, CoreConfig, start};
use hotline_domain::Role;
use hotline_domain::rules::DeskRules;
use hotline_domain::ticket::NewTicket;
use hotline_domain::workflow::Action;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn tickets(core: &hotline_core::server::RunningCore, n: usize, prefix: &str) -> Vec<i64> {
    let who = Principal {
        agent_id: "bench".into(),
        role: Role::System,
    };
    futures::stream::iter(0..n)
        .map(|i| {
            let who = who.clone();
            let desk = core.desk.clone();
            let number = format!("{prefix}{i:07}");
            async move {
                let t = NewTicket {
                    faulty_number: number,
                    fault_type: "noise".into(),
                    channel: "ivr".into(),
                    ..Default::default()
                };
                desk.create_ticket(&who, t).await.expect("create").ticket.id
            }
        })
        .buffer_unordered(64)
        .collect()
        .await
}

/// A scratch database on the PostgreSQL server of `base` (dropped by [`drop_scratch`]).
async fn scratch_postgres(base: &str) -> (String, String) {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let name = format!("hotline_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(base)
        .await
        .expect("PostgreSQL reachable");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("CREATE DATABASE");
    admin.close().await;
    let i = base.rfind('/').expect("the URL has a database path");
    (format!("{}/{name}", &base[..i]), name)
}

async fn drop_scratch(base: &str, name: &str) {
    use sqlx::Executor;
    if let Ok(admin) = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(base)
        .await
    {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await;
        admin.close().await;
    }
}

async fn dispatch(desk: &hotline_core::desk::Desk, id: i64) {
    let s = Principal {
        agent_id: "s1".into(),
        role: Role::Senior,
    };
    desk.act(
        &s,
        id,
        Action::Dispatch {
            note: "bench".into(),
        },
    )
    .await
    .expect("dispatch");
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rate = env_or("RATE", 1000);
    let seconds = env_or("SECONDS", 10);
    let backlog = env_or("BACKLOG", 10_000) as usize;
    let dir = std::env::temp_dir().join(format!("hotline-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pg_base = std::env::var("HOTLINE_BENCH_DATABASE_URL").ok();
    let (db, scratch) = match &pg_base {
        Some(base) => {
            let (url, name) = scratch_postgres(base).await;
            (url, Some(name))
        }
        None => (
            format!("sqlite://{}?mode=rwc", dir.join("core.db").display()),
            None,
        ),
    };
    let mut delivery = DeliveryConfig::default();
    if let Some(ms) = std::env::var("MARK_INTERVAL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        delivery.mark_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = std::env::var("LOOK_GAP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        delivery.look_gap = Duration::from_millis(ms);
    }
    println!("delivery config: {delivery:?}");
    println!(
        "outbox benchmark: core on {}, rate {rate}/s for {seconds}s, backlog {backlog}",
        if db.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );

    let sim = Simulator::start(SimConfig {
        db_path: dir.join("sim.db"),
        secret: "bench".into(),
        // keep the centre's lifecycle out of the way: no status events during the run
        progress_after: Duration::from_secs(3600),
        resolve_after: Duration::from_secs(3600),
        ..SimConfig::default()
    })
    .await
    .expect("simulator");

    // 1. baseline: the simulator alone
    let client = HttpCenter::new(sim.base_url(), Duration::from_secs(10)).unwrap();
    let n_base = (rate * seconds) as usize;
    let t0 = Instant::now();
    let mut lat: Vec<f64> = futures::stream::iter(0..n_base)
        .map(|i| {
            let client = client.clone();
            async move {
                let body = TroubleTicketCreate {
                    external_identifier: vec![ExternalIdentifier {
                        id: format!("base-{i}"),
                        external_identifier_type: "bench".into(),
                        owner: "bench".into(),
                    }],
                    name: "bench".into(),
                    description: String::new(),
                    severity: "Major".into(),
                    priority: "3".into(),
                    ticket_type: "lineFault".into(),
                    characteristic: vec![],
                    note: vec![],
                };
                let s = Instant::now();
                client
                    .dispatch(&body, &format!("base-{i}"))
                    .await
                    .expect("baseline dispatch");
                s.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let base_secs = t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    println!(
        "baseline  raw POST /troubleTicket x{n_base}, 64 concurrent: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms",
        n_base as f64 / base_secs,
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    let core = start(
        CoreConfig {
            grpc_listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: "127.0.0.1:0".parse().unwrap(),
            database_url: db.clone(),
            store: Default::default(),
            rules: DeskRules::default(),
            bootstrap_admin: None,
            service_account: None,
            acd: Default::default(),
            scheduler_max_sleep: Duration::from_secs(1),
            intake: hotline_core::desk::intake::IntakeConfig::under(
                &std::env::temp_dir().join("hotline-bench-intake"),
            ),
            voicemail_dir: std::env::temp_dir(),
            kb_index_dir: None,
            qa: Default::default(),
            surveys: Default::default(),
            reports: Default::default(),
            center: Some(CenterLink {
                client: Arc::new(HttpCenter::new(sim.base_url(), Duration::from_secs(10)).unwrap()),
                secret: b"bench".to_vec(),
                callback_url: None,
                delivery,
            }),
            http_extension: None,
        },
        Arc::new(SystemClock),
    )
    .await
    .expect("core");

    // 2. sustained rate
    let n = (rate * seconds) as usize;
    let ids = tickets(&core, n, "010").await;
    let since = now_ms();
    let t0 = Instant::now();
    let per_tick = (rate / 100).max(1) as usize; // every 10 ms
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut handles = Vec::with_capacity(n);
    for chunk in ids.chunks(per_tick) {
        tick.tick().await;
        for &id in chunk {
            let desk = core.desk.clone();
            handles.push(tokio::spawn(async move {
                let s = now_ms();
                dispatch(&desk, id).await;
                (id, s, now_ms())
            }));
        }
    }
    let mut acted = std::collections::HashMap::with_capacity(n);
    for h in handles {
        let (id, s, e) = h.await.unwrap();
        acted.insert(id, (s, e));
    }
    let approve_secs = t0.elapsed().as_secs_f64();
    loop {
        let done = core
            .desk
            .store
            .delivery_times(hotline_domain::Timestamp(since))
            .await
            .unwrap();
        if done.len() >= n || t0.elapsed() > Duration::from_secs(seconds * 6 + 30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let times = core
        .desk
        .store
        .delivery_times(hotline_domain::Timestamp(since))
        .await
        .unwrap();
    let mut l: Vec<f64> = times.iter().map(|(c, d)| (d - c) as f64).collect();
    l.sort_by(f64::total_cmp);
    let span =
        times.iter().map(|t| t.1).max().unwrap_or(0) - times.iter().map(|t| t.0).min().unwrap_or(0);
    println!(
        "sustained {n} orders approved at {:.0}/s: delivered {} at {:.0}/s; approval→2xx p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        n as f64 / approve_secs,
        times.len(),
        times.len() as f64 / (span.max(1) as f64 / 1000.0),
        pct(&l, 0.5),
        pct(&l, 0.99),
        l.last().copied().unwrap_or(f64::NAN)
    );
    let mut approve: Vec<f64> = acted.values().map(|(s, e)| (e - s) as f64).collect();
    approve.sort_by(f64::total_cmp);
    let mut share: Vec<f64> = core
        .desk
        .store
        .delivered_by_ticket(hotline_domain::Timestamp(since))
        .await
        .unwrap()
        .iter()
        .filter_map(|(t, _, d)| acted.get(t).map(|(_, e)| (d - e).max(0) as f64))
        .collect();
    share.sort_by(f64::total_cmp);
    println!(
        "          approval (act) p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; act returned→2xx p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(&approve, 0.5),
        pct(&approve, 0.99),
        approve.last().copied().unwrap_or(f64::NAN),
        pct(&share, 0.5),
        pct(&share, 0.99),
        share.last().copied().unwrap_or(f64::NAN)
    );

    // 3. backlog after an outage
    let ids = tickets(&core, backlog, "020").await;
    sim.set_faults(Faults {
        down: true,
        ..Faults::default()
    })
    .unwrap();
    let since = now_ms();
    futures::stream::iter(ids)
        .map(|id| {
            let desk = core.desk.clone();
            async move { dispatch(&desk, id).await }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let queued = core
        .desk
        .store
        .delivery_times(hotline_domain::Timestamp(since))
        .await
        .unwrap()
        .len();
    sim.set_faults(Faults::default()).unwrap();
    let t0 = Instant::now();
    loop {
        let done = core
            .desk
            .store
            .delivery_times(hotline_domain::Timestamp(since))
            .await
            .unwrap()
            .len();
        if done >= backlog || t0.elapsed() > Duration::from_secs(600) {
            println!(
                "backlog   {backlog} orders queued during an outage ({queued} got through): drained {done} in {:.1} s after the centre came back ({:.0}/s)",
                t0.elapsed().as_secs_f64(),
                done as f64 / t0.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at_centre = sim
        .stats()
        .await
        .map(|s| format!("{s:?}"))
        .unwrap_or_default();
    println!("simulator: {at_centre}");
    core.shutdown().await;
    sim.shutdown().await;
    if let (Some(base), Some(name)) = (&pg_base, &scratch) {
        drop_scratch(base, name).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
