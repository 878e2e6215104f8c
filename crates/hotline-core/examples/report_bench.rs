//! Benchmark of issue 17's reports (numbers in BENCHMARKS.md):
//!
//! `report_bench report URL TICKETS CALLS` — fills a fresh database with bulk SQL (recursive
//! CTE: TICKETS tickets in November 2026 with repair and dispatch deadlines, CALLS queue calls
//! of 3 queue-log rows each), then times the monthly full report (all sections), median of 3.
//!
//! `report_bench xlsx ROWS FILE` — streams ROWS rows of 8 columns into one XLSX sheet in
//! constant-memory mode and prints the time and the process's peak RSS (VmHWM).

use hotline_acd::SlRules;
use hotline_core::clock::ManualClock;
use hotline_core::desk::Desk;
use hotline_core::desk::reports::{QueueSource, ReportQuery, period};
use hotline_domain::Timestamp;
use hotline_domain::rules::DeskRules;
use hotline_report::model::{Cell, Format, col};
use hotline_report::period::day_start_ms;
use hotline_report::{PeriodKind, ReportKind};
use hotline_store::{Store, StoreOptions};
use std::sync::Arc;
use std::time::Instant;
use time::macros::date;

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map(|k| k / 1024.0)
        .unwrap_or(0.0)
}

async fn fill(url: &str, tickets: i64, calls: i64) {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let start = day_start_ms(date!(2026 - 11 - 01));
    let span = 30 * 86_400_000i64;
    let t0 = Instant::now();
    let seq = |n: i64| {
        format!(
            "WITH RECURSIVE seq(n) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT n + 1 FROM seq WHERE n < {n})"
        )
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tickets (faulty_number, customer_class, fault_type, channel, received_at, created_at, created_by, status, updated_at, report_branch, repeat_of) {} SELECT '0108590' || CAST(n % 50000 AS TEXT), CASE WHEN n % 10 = 0 THEN 'big' ELSE 'ordinary' END, CASE n % 4 WHEN 0 THEN 'no_dial_tone' WHEN 1 THEN 'noise' WHEN 2 THEN 'cable_damage' ELSE 'drops' END, CASE n % 3 WHEN 0 THEN 'ivr' WHEN 1 THEN 'phone' ELSE 'letter' END, {start} + n * {step}, {start} + n * {step}, 'bench', CASE WHEN n % 7 = 0 THEN 'dispatched' ELSE 'closed' END, {start} + n * {step}, CASE n % 3 WHEN 0 THEN '朝阳分公司' WHEN 1 THEN '海淀营业区' ELSE '' END, CASE WHEN n % 20 = 0 THEN 1 ELSE NULL END FROM seq",
        seq(tickets),
        step = span / tickets
    )))
    .execute(&pool)
    .await
    .unwrap();
    for (kind, hours) in [("repair", 24), ("dispatch", 1)] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO deadlines (ticket_id, kind, due_at, warn_at, met_at) SELECT id, '{kind}', received_at + {due}, received_at + {warn}, CASE WHEN id % 50 = 0 THEN NULL WHEN id % 30 = 0 THEN received_at + {due} + 1000 ELSE received_at + 60000 END FROM tickets",
            due = hours * 3_600_000,
            warn = hours * 2_880_000
        )))
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO alerts (ticket_id, deadline_kind, level, at, due_at, message) SELECT ticket_id, kind, 'breach', due_at, due_at, 'bench' FROM deadlines WHERE met_at IS NULL",
    )
    .execute(&pool)
    .await
    .unwrap();
    let step = span / calls;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO queue_log (at, call_id, queue, agent, event, data1, data2, data3) {} SELECT {start} + n * {step} + e.o, 'c' || CAST(n AS TEXT), '112', CASE WHEN e.k = 'ENTERQUEUE' THEN '' ELSE 'a' || CAST(n % 40 AS TEXT) END, e.k, '0', '', CAST(n % 20 AS TEXT) FROM seq CROSS JOIN (SELECT 'ENTERQUEUE' AS k, 0 AS o UNION ALL SELECT 'CONNECT', 9000 UNION ALL SELECT 'COMPLETECALLER', 180000) e",
        seq(calls)
    )))
    .execute(&pool)
    .await
    .unwrap();
    // both backends plan the report's queries from fresh statistics
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    pool.close().await;
    eprintln!(
        "filled {tickets} tickets, {} queue-log rows in {:.1} s",
        calls * 3,
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("report") => {
            let url = &args[2];
            let tickets: i64 = args[3].parse().unwrap();
            let calls: i64 = args[4].parse().unwrap();
            let store = Store::open(StoreOptions::new(url.clone())).await.unwrap();
            fill(url, tickets, calls).await;
            let now = day_start_ms(date!(2026 - 12 - 05));
            let desk = Desk::new(
                store,
                DeskRules::default(),
                Arc::new(ManualClock::new(Timestamp(now))),
            );
            let month = period(PeriodKind::Month, "2026-11", "", now).unwrap();
            let src = QueueSource {
                rules: SlRules::default(),
                queue: "112",
            };
            let mut times = Vec::new();
            for _ in 0..3 {
                let t = Instant::now();
                let r = desk
                    .report(
                        ReportQuery {
                            kind: ReportKind::Full,
                            branch: None,
                            period: month.clone(),
                        },
                        src,
                    )
                    .await
                    .unwrap();
                let secs = t.elapsed().as_secs_f64();
                let rows: usize = r.sections.iter().map(|s| s.rows.len()).sum();
                eprintln!(
                    "monthly full report: {secs:.2} s ({} sections, {rows} rows)",
                    r.sections.len()
                );
                times.push(secs);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "report median {:.2} s; peak RSS {:.0} MiB",
                times[1],
                peak_rss_mib()
            );
            desk.store.close().await;
        }
        Some("xlsx") => {
            let n: u64 = args[2].parse().unwrap();
            let path = &args[3];
            let cols = vec![
                col("申告单号", Format::Int),
                col("分公司", Format::Text),
                col("障碍号码", Format::Text),
                col("故障类型", Format::Text),
                col("受理时间", Format::Time),
                col("时限", Format::Time),
                col("修复及时率", Format::Percent),
                col("时长(秒)", Format::Decimal),
            ];
            let base = day_start_ms(date!(2026 - 11 - 01));
            let rows = (0..n).map(|i| {
                vec![
                    Cell::Int(i as i64 + 1),
                    Cell::text(if i % 2 == 0 {
                        "朝阳分公司"
                    } else {
                        "海淀营业区"
                    }),
                    Cell::Text(format!("0108590{:04}", i % 10_000)),
                    Cell::text("线缆故障"),
                    Cell::Time(base + i as i64 * 1000),
                    Cell::Time(base + i as i64 * 1000 + 86_400_000),
                    Cell::Num((i % 100) as f64 / 100.0),
                    Cell::Num(i as f64 / 7.0),
                ]
            });
            let t = Instant::now();
            let f = std::fs::File::create(path).unwrap();
            let written = hotline_report::export::xlsx::write_rows(
                "超时工单",
                &cols,
                rows,
                std::io::BufWriter::new(f),
            )
            .unwrap();
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            println!(
                "xlsx {written} rows: {:.1} s, {:.0} MiB file, peak RSS {:.0} MiB",
                t.elapsed().as_secs_f64(),
                size as f64 / 1048576.0,
                peak_rss_mib()
            );
        }
        _ => {
            eprintln!("usage: report_bench report URL TICKETS CALLS | report_bench xlsx ROWS FILE")
        }
    }
}
