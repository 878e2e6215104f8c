//! Reports (issue 17, part 7): a month of generated data with known answers — tickets created
//! through the desk (stamped with their branch), deadlines met on time, late or never, alerts,
//! and queue-log calls with known holds and outcomes — recounted by the test's own code (from
//! what it generated and from the raw rows read back, never the report's SQL) and compared with
//! every section, on SQLite and PostgreSQL. Same input gives the same bytes (golden CSV; XLSX
//! written twice). Bad input: empty period, range past today, `to` before `from`, unknown
//! branch, overlapping branch map, month-end boundaries.

use hotline_acd::SlRules;
use hotline_core::auth::Principal;
use hotline_core::clock::ManualClock;
use hotline_core::desk::Desk;
use hotline_core::desk::reports::{QueueSource, ReportQuery, Reporting, period};
use hotline_core::error::CoreError;
use hotline_domain::rules::DeskRules;
use hotline_domain::ticket::NewTicket;
use hotline_domain::{Role, Timestamp};
use hotline_report::period::day_start_ms;
use hotline_report::{
    BranchConfig, BranchEntry, Cell, ExportFormat, ExportOptions, PeriodKind, Report, ReportConfig,
    ReportKind,
};
use hotline_store::{QueueLogRow, Store, StoreOptions};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::macros::date;

/// A ticket row read back plainly: id, faulty number, fault type, channel, customer class,
/// received at, repeat of, report branch.
type RawTicket = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    String,
);

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// A tiny deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn branch_config() -> BranchConfig {
    let e = |name: &str, p: &[&str], x: &[&str]| BranchEntry {
        name: name.into(),
        prefixes: p.iter().map(|s| s.to_string()).collect(),
        exchanges: x.iter().map(|s| s.to_string()).collect(),
    };
    BranchConfig {
        area_code: "010".into(),
        branches: vec![
            e("朝阳分公司", &["0108590"], &["6500"]),
            e("海淀营业区", &["01062"], &[]),
            e("西城营业区", &["010625"], &[]),
        ],
    }
}

/// The test's own branch rule (not `BranchMap`): longest prefix first, by hand.
fn expected_branch(n: &str) -> &'static str {
    if n.starts_with("010625") {
        "西城营业区"
    } else if n.starts_with("01062") {
        "海淀营业区"
    } else if n.starts_with("0108590") || n.starts_with("6500") || n.starts_with("0106500") {
        "朝阳分公司"
    } else {
        "未归属"
    }
}

const NUMBERS: [&str; 6] = ["0108590", "6500", "01062", "010625", "0107777", "0106500"];
const FAULTS: [&str; 4] = ["no_dial_tone", "noise", "cable_damage", "drops"];
const CHANNELS: [&str; 3] = ["phone", "ivr", "letter"];
const CLASSES: [&str; 2] = ["ordinary", "big"];

struct Call {
    join: i64,
    hold: i64,
    /// 0 answered, 1 abandoned, 2 voicemail
    outcome: u8,
    agent: &'static str,
    ring_secs: i64,
    missed_by: Option<&'static str>,
}

const AGENTS: [&str; 3] = ["a1", "a2", "a3"];

struct World {
    month_start: i64,
    month_end: i64,
    calls: Vec<Call>,
    /// (ticket id, alert kind, level, at)
    alerts: Vec<(i64, &'static str, &'static str, i64)>,
    /// Survey answers: (satisfaction, recorded at); every ticket is taken by `who()`.
    surveys: Vec<(&'static str, i64)>,
    /// QA scores: (agent scored, total in hundredths, scored at, superseded).
    scores: Vec<(&'static str, i64, i64, bool)>,
}

fn who() -> Principal {
    Principal {
        agent_id: "op1".into(),
        role: Role::Junior,
    }
}

async fn generate(desk: &Desk, clock: &ManualClock, url: &str) -> World {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let month_start = day_start_ms(date!(2026 - 11 - 01));
    let month_end = day_start_ms(date!(2026 - 12 - 01));
    // tickets: 240 in the month, 2 on each side of its boundaries
    let mut times: Vec<i64> = (0..240)
        .map(|_| month_start + rng.below((month_end - month_start) as u64) as i64)
        .collect();
    times.extend([month_start - 1, month_start, month_end - 1, month_end]);
    times.sort();
    for (i, t) in times.iter().enumerate() {
        let prefix = NUMBERS[rng.below(NUMBERS.len() as u64) as usize];
        let number = format!("{prefix}{:04}", rng.below(8));
        let channel = CHANNELS[i % CHANNELS.len()];
        let created = if channel == "letter" {
            t + rng.below(4 * HOUR as u64) as i64
        } else {
            *t
        };
        clock.set(Timestamp(created));
        desk.create_ticket(
            &who(),
            NewTicket {
                faulty_number: number,
                customer_class: CLASSES[rng.below(2) as usize].into(),
                customer_name: "用户".into(),
                fault_type: FAULTS[rng.below(FAULTS.len() as u64) as usize].into(),
                channel: channel.into(),
                received_at: Some(Timestamp(*t)),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    }
    // deadlines: met on time, late, or never (the generator decides; the store is told by SQL)
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let rows = sqlx::query("SELECT ticket_id, kind, due_at FROM deadlines WHERE met_at IS NULL ORDER BY ticket_id, kind")
        .fetch_all(&pool)
        .await
        .unwrap();
    for r in rows {
        let (id, kind, due): (i64, String, i64) = (r.get(0), r.get(1), r.get(2));
        let met = match rng.below(10) {
            0 => None,
            1 | 2 => Some(due + 1 + rng.below(HOUR as u64) as i64),
            3 => Some(due),
            _ => Some(due - 1 - rng.below(HOUR as u64) as i64),
        };
        if let Some(m) = met {
            sqlx::query("UPDATE deadlines SET met_at = $1 WHERE ticket_id = $2 AND kind = $3")
                .bind(m)
                .bind(id)
                .bind(kind)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    // alerts
    let mut alerts = Vec::new();
    for _ in 0..60 {
        let id = 1 + rng.below(times.len() as u64) as i64;
        let kind = ["dispatch", "repair", "entry", "escalation"][rng.below(4) as usize];
        let level = ["warning", "breach"][rng.below(2) as usize];
        let at =
            month_start - 2 * HOUR + rng.below((month_end - month_start + 4 * HOUR) as u64) as i64;
        sqlx::query("INSERT INTO alerts (ticket_id, deadline_kind, level, at, due_at, message) VALUES ($1, $2, $3, $4, $5, 'generated')")
            .bind(id)
            .bind(kind)
            .bind(level)
            .bind(at)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        alerts.push((id, kind, level, at));
    }
    pool.close().await;
    // queue calls, including some joining just before midnight and the month's end
    let mut calls = Vec::new();
    let mut log = Vec::new();
    for i in 0..1500u64 {
        let join = if i < 10 {
            day_start_ms(date!(2026 - 11 - 15)) - 10_000 + i as i64 * 1000
        } else if i < 15 {
            month_end - 20_000 + i as i64 * 1000
        } else {
            month_start + rng.below((month_end - month_start) as u64) as i64
        };
        let outcome = match rng.below(10) {
            0 | 1 => 1,
            2 => 2,
            _ => 0,
        };
        let hold = match outcome {
            2 => 180_000,
            _ => rng.below(40_000) as i64,
        };
        let c = Call {
            join,
            hold,
            outcome,
            agent: AGENTS[rng.below(3) as usize],
            ring_secs: rng.below(15) as i64,
            missed_by: (rng.below(5) == 0).then(|| AGENTS[rng.below(3) as usize]),
        };
        let id = format!("call-{i}");
        let row = |at: i64, agent: &str, event: &str, d: [String; 3]| QueueLogRow {
            id: 0,
            at: Timestamp(at),
            call_id: id.clone(),
            queue: "112".into(),
            agent: agent.into(),
            event: event.into(),
            data: d,
        };
        log.push(row(
            join,
            "",
            "ENTERQUEUE",
            [String::new(), "13800000000".into(), String::new()],
        ));
        if let Some(m) = c.missed_by
            && c.hold > 1000
        {
            log.push(row(
                join + c.hold / 2,
                m,
                "RINGNOANSWER",
                ["15000".into(), String::new(), String::new()],
            ));
        }
        let end = join + hold;
        match outcome {
            0 => {
                log.push(row(
                    end,
                    c.agent,
                    "CONNECT",
                    [
                        (hold / 1000).to_string(),
                        format!("b-{i}"),
                        c.ring_secs.to_string(),
                    ],
                ));
                log.push(row(
                    end + 60_000 + rng.below(240_000) as i64,
                    c.agent,
                    "COMPLETECALLER",
                    ["0".into(), "60".into(), "1".into()],
                ));
            }
            1 => log.push(row(
                end,
                "",
                "ABANDON",
                ["1".into(), "1".into(), (hold / 1000).to_string()],
            )),
            _ => log.push(row(
                end,
                "",
                "EXITWITHTIMEOUT",
                ["1".into(), "1".into(), "180".into()],
            )),
        }
        calls.push(c);
    }
    log.sort_by_key(|r| r.at);
    desk.store.append_queue_log(&log).await.unwrap();
    // survey answers (SS2) and QA scores (QA2), some just outside the month, some scores
    // superseded by a re-score
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let around = |rng: &mut Rng| {
        month_start - 2 * HOUR + rng.below((month_end - month_start + 4 * HOUR) as u64) as i64
    };
    let mut surveys = Vec::new();
    for task in 1..=90i64 {
        let ticket = 1 + rng.below(times.len() as u64) as i64;
        let sat = ["satisfied", "basically_satisfied", "dissatisfied"][rng.below(3) as usize];
        let at = around(&mut rng);
        sqlx::query("INSERT INTO survey_results (task_id, ticket_id, source, channel, satisfaction, consent, recorded_by, recorded_at) VALUES ($1, $2, 'cleared', 'phone', $3, 'not_asked', 'sv1', $4)")
            .bind(1_000_000 + task)
            .bind(ticket)
            .bind(sat)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        surveys.push((sat, at));
    }
    let mut scores = Vec::new();
    for i in 0..40i64 {
        let ticket = 1 + rng.below(times.len() as u64) as i64;
        let agent = AGENTS[rng.below(3) as usize];
        let at = around(&mut rng);
        let sample: i64 = sqlx::query_scalar("INSERT INTO qa_samples (kind, pool, period, agent_id, ticket_id, seed, opened_by, opened_at) VALUES ('random', 'qa', $1, $2, $3, 7, 'qa1', $4) RETURNING id")
            .bind(format!("gen-{i}"))
            .bind(agent)
            .bind(ticket)
            .bind(at)
            .fetch_one(&pool)
            .await
            .unwrap();
        let total = 5000 + rng.below(5001) as i64;
        let superseded = rng.below(5) == 0;
        sqlx::query("INSERT INTO qa_scores (sample_id, agent_id, total_centi, scored_by, scored_role, scored_at, superseded_at) VALUES ($1, $2, $3, 'qa1', 'quality_inspector', $4, $5)")
            .bind(sample)
            .bind(agent)
            .bind(total)
            .bind(at)
            .bind(superseded.then_some(at + 1))
            .execute(&pool)
            .await
            .unwrap();
        scores.push((agent, total, at, superseded));
    }
    pool.close().await;
    World {
        month_start,
        month_end,
        calls,
        alerts,
        surveys,
        scores,
    }
}

fn src() -> QueueSource {
    QueueSource {
        rules: SlRules::default(),
        queue: "112",
    }
}

/// The cell at (`section`, the row whose first cells are `key`, column `col`).
fn cell<'a>(r: &'a Report, section: &str, key: &[&str], col: usize) -> &'a Cell {
    let s = r
        .section(section)
        .unwrap_or_else(|| panic!("no section {section}"));
    let row = s
        .rows
        .iter()
        .find(|row| {
            key.iter()
                .enumerate()
                .all(|(i, k)| matches!(&row.cells[i], Cell::Text(t) if t == k))
        })
        .unwrap_or_else(|| panic!("{section}: no row {key:?}"));
    &row.cells[col]
}

fn int(c: &Cell) -> i64 {
    match c {
        Cell::Int(n) => *n,
        other => panic!("not a count: {other:?}"),
    }
}

fn approx(c: &Cell, want: Option<f64>) {
    match (c, want) {
        (Cell::Num(x), Some(w)) => assert!((x - w).abs() < 1e-9, "{x} != {w}"),
        (Cell::Empty, None) => {}
        (got, want) => panic!("{got:?} != {want:?}"),
    }
}

async fn desk_on(url: &str) -> (Desk, ManualClock) {
    let store = Store::open(StoreOptions::new(url.to_string()))
        .await
        .unwrap();
    let clock = ManualClock::new(Timestamp(day_start_ms(date!(2026 - 10 - 31))));
    let mut desk = Desk::new(store, DeskRules::default(), Arc::new(clock.clone()));
    desk.reporting = Arc::new(
        Reporting::new(ReportConfig {
            branches: branch_config(),
            options: Default::default(),
        })
        .unwrap(),
    );
    (desk, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sf11_dm3_ss5_a_month_recounted_from_raw_rows_on_both_backends() {
    let dir = hotline_testkit::temp_dir("reports");
    let mut csvs = Vec::new();
    for url in hotline_testkit::database_urls(&dir).await {
        let (desk, clock) = desk_on(&url).await;
        let w = generate(&desk, &clock, &url).await;
        clock.set(Timestamp(day_start_ms(date!(2026 - 12 - 05))));
        let now = clock.now_for_test().0;
        let month = period(PeriodKind::Month, "2026-11", "", now).unwrap();
        assert_eq!((month.start_ms, month.end_ms), (w.month_start, w.month_end));
        let r = desk
            .report(
                ReportQuery {
                    kind: ReportKind::Full,
                    branch: None,
                    period: month.clone(),
                },
                src(),
            )
            .await
            .unwrap();

        // raw rows, read back plainly
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let tickets: Vec<RawTicket> = sqlx::query(
            "SELECT id, faulty_number, fault_type, channel, customer_class, received_at, repeat_of, report_branch FROM tickets ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7)))
        .collect();
        let deadlines: Vec<(i64, String, i64, Option<i64>)> =
            sqlx::query("SELECT ticket_id, kind, due_at, met_at FROM deadlines")
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
        let alert_rows: Vec<(String, String, i64)> =
            sqlx::query("SELECT deadline_kind, level, at FROM alerts")
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
        assert!(
            w.alerts.iter().all(|g| alert_rows
                .iter()
                .any(|a| a.0 == g.1 && a.1 == g.2 && a.2 == g.3)),
            "generated alerts stored ({} of ticket ids)",
            w.alerts.len()
        );
        pool.close().await;

        // tickets: every one stamped by the map at creation
        for t in &tickets {
            assert_eq!(t.7, expected_branch(&t.1), "ticket {} number {}", t.0, t.1);
        }
        let inside: Vec<_> = tickets
            .iter()
            .filter(|t| t.5 >= w.month_start && t.5 < w.month_end)
            .collect();
        assert_eq!(
            inside.len(),
            242,
            "the month holds its own 240 + 2 boundary tickets"
        );
        let mut by_fault: BTreeMap<&str, i64> = BTreeMap::new();
        let mut by_branch: BTreeMap<&str, i64> = BTreeMap::new();
        for t in &inside {
            *by_fault.entry(t.2.as_str()).or_default() += 1;
            *by_branch.entry(expected_branch(&t.1)).or_default() += 1;
        }
        for (f, n) in &by_fault {
            let zh = hotline_domain::FaultType::parse(f).unwrap().label_zh();
            assert_eq!(int(cell(&r, "tickets_by_fault", &[zh], 1)), *n, "{f}");
        }
        for (b, n) in &by_branch {
            assert_eq!(int(cell(&r, "tickets_by_branch", &[b], 1)), *n, "{b}");
        }
        let letters = inside.iter().filter(|t| t.3 == "letter").count() as i64;
        assert_eq!(int(cell(&r, "tickets_by_channel", &["信函"], 1)), letters);
        let repeats = inside.iter().filter(|t| t.6.is_some()).count() as u64;
        assert!(repeats > 0, "the number pool makes repeats");
        let rep = &r.section("repeat_rate").unwrap().rows[0].cells;
        assert_eq!((int(&rep[0]), int(&rep[1])), (242, repeats as i64));
        approx(&rep[2], Some(repeats as f64 / 242.0));

        // repair and the other deadlines, from the raw deadline rows
        let cable: BTreeMap<i64, (bool, &str)> = tickets
            .iter()
            .map(|t| (t.0, (t.2 == "cable_damage", expected_branch(&t.1))))
            .collect();
        let mut repair: BTreeMap<(&str, bool), (i64, i64)> = BTreeMap::new();
        let mut rules: BTreeMap<&str, [i64; 4]> = BTreeMap::new();
        for (id, kind, due, met) in &deadlines {
            if *due < w.month_start || *due >= w.month_end {
                continue;
            }
            let on_time = met.is_some_and(|m| m <= *due);
            let c = rules.entry(kind.as_str()).or_default();
            c[0] += 1;
            c[1] += i64::from(on_time);
            c[2] += i64::from(met.is_some_and(|m| m > *due));
            c[3] += i64::from(met.is_none());
            if kind == "repair" {
                let (is_cable, b) = cable[id];
                let e = repair.entry((b, is_cable)).or_default();
                e.0 += 1;
                e.1 += i64::from(on_time);
            }
        }
        assert!(!repair.is_empty());
        let mut late = 0;
        for ((b, is_cable), (due, ok)) in &repair {
            let group = if *is_cable {
                "线缆故障"
            } else {
                "非线缆故障"
            };
            assert_eq!(int(cell(&r, "repair_by_branch", &[b, group], 2)), *due);
            assert_eq!(int(cell(&r, "repair_by_branch", &[b, group], 3)), *ok);
            approx(
                cell(&r, "repair_by_branch", &[b, group], 4),
                Some(*ok as f64 / *due as f64),
            );
            late += due - ok;
        }
        assert_eq!(r.section("late_orders").unwrap().rows.len() as i64, late);
        for k in hotline_domain::rules::DeadlineKind::ALL {
            let label = format!("{}（{}）", k.label_zh(), k.requirement());
            let want = rules.get(k.as_str()).copied().unwrap_or_default();
            for (col, n) in want.iter().enumerate() {
                assert_eq!(
                    int(cell(&r, "deadlines", &[&label], col + 1)),
                    *n,
                    "{label} col {col}"
                );
            }
            // the generated alerts and the store's own (TE1 late entries at creation), as rows
            let alerts = |lvl: &str| {
                alert_rows
                    .iter()
                    .filter(|a| {
                        a.0 == k.as_str() && a.1 == lvl && a.2 >= w.month_start && a.2 < w.month_end
                    })
                    .count() as i64
            };
            assert_eq!(int(cell(&r, "alerts", &[&label], 1)), alerts("warning"));
            assert_eq!(int(cell(&r, "alerts", &[&label], 2)), alerts("breach"));
        }

        // queue: the generator's calls, counted by hand
        let month_calls: Vec<&Call> = w
            .calls
            .iter()
            .filter(|c| c.join >= w.month_start && c.join < w.month_end)
            .collect();
        let answered: Vec<&&Call> = month_calls.iter().filter(|c| c.outcome == 0).collect();
        let in_time = answered.iter().filter(|c| c.hold <= 15_000).count() as i64;
        let abandoned = month_calls.iter().filter(|c| c.outcome == 1).count() as i64;
        let short = month_calls
            .iter()
            .filter(|c| c.outcome == 1 && c.hold <= 5_000)
            .count() as i64;
        let vm = month_calls.iter().filter(|c| c.outcome == 2).count() as i64;
        let total = cell(&r, "queue_days", &["合计"], 0);
        assert_eq!(total, &Cell::text("合计"));
        let t = |col| int(cell(&r, "queue_days", &["合计"], col));
        assert_eq!(
            (t(1), t(2), t(3), t(4), t(5), t(6)),
            (
                month_calls.len() as i64,
                answered.len() as i64,
                in_time,
                abandoned,
                short,
                vm
            )
        );
        let sl_den = answered.len() as i64 + abandoned - short + vm;
        approx(
            cell(&r, "queue_days", &["合计"], 7),
            Some(in_time as f64 / sl_den as f64),
        );
        let hold_sum: i64 = answered.iter().map(|c| c.hold).sum();
        approx(
            cell(&r, "queue_days", &["合计"], 8),
            Some(hold_sum as f64 / 1000.0 / answered.len() as f64),
        );
        // days add up to the total; 15-minute intervals too
        let days = r.section("queue_days").unwrap();
        let day_sum: i64 = days
            .rows
            .iter()
            .filter(|r| r.cells[0] != Cell::text("合计"))
            .map(|r| int(&r.cells[1]))
            .sum();
        assert_eq!(day_sum, month_calls.len() as i64);
        let iv_sum: i64 = r
            .section("queue_intervals")
            .unwrap()
            .rows
            .iter()
            .map(|r| int(&r.cells[1]))
            .sum();
        assert_eq!(iv_sum, month_calls.len() as i64);
        // per agent: answers and offers
        for a in AGENTS {
            let ans = answered.iter().filter(|c| c.agent == a).count() as i64;
            let ans_in_time = answered
                .iter()
                .filter(|c| c.agent == a && c.hold <= 15_000)
                .count() as i64;
            let missed = w
                .calls
                .iter()
                .filter(|c| {
                    c.missed_by == Some(a)
                        && c.hold > 1000
                        && c.join + c.hold / 2 >= w.month_start
                        && c.join + c.hold / 2 < w.month_end
                })
                .count() as i64;
            let connects_in_month = w
                .calls
                .iter()
                .filter(|c| {
                    c.outcome == 0
                        && c.agent == a
                        && c.join + c.hold >= w.month_start
                        && c.join + c.hold < w.month_end
                })
                .count() as i64;
            assert_eq!(int(cell(&r, "queue_agents", &[a], 1)), ans, "{a} answered");
            assert_eq!(
                int(cell(&r, "queue_agents", &[a], 2)),
                ans_in_time,
                "{a} in time"
            );
            assert_eq!(
                int(cell(&r, "queue_agents", &[a], 4)),
                connects_in_month + missed,
                "{a} offers"
            );
            assert_eq!(
                int(cell(&r, "queue_agents", &[a], 6)),
                missed,
                "{a} no-answers"
            );
        }
        // staffing: offered calls add up; advice is Erlang C of the half hour's load
        let st = r.section("staffing").unwrap();
        let offered: i64 = st.rows.iter().map(|r| int(&r.cells[1])).sum();
        assert_eq!(offered, month_calls.len() as i64);
        for row in &st.rows {
            let (Cell::Num(aht), Cell::Num(erl)) = (&row.cells[3], &row.cells[4]) else {
                panic!()
            };
            assert!((erl - int(&row.cells[1]) as f64 * aht / 1800.0).abs() < 1e-9);
            assert_eq!(
                int(&row.cells[5]) as u32,
                hotline_report::erlang::agents_needed(*erl, *aht, 15.0, 0.8)
            );
        }
        // quality: survey answers per agent who took the report, QA scores per agent scored
        let q = r.section("quality").unwrap();
        assert!(!q.definition.starts_with("暂无数据"), "{}", q.definition);
        let in_month = |at: i64| at >= w.month_start && at < w.month_end;
        let answers: Vec<_> = w.surveys.iter().filter(|(_, at)| in_month(*at)).collect();
        let satisfied = answers.iter().filter(|(s, _)| *s != "dissatisfied").count() as i64;
        let taker = who().agent_id;
        assert_eq!(
            int(cell(&r, "quality", &[taker.as_str()], 1)),
            answers.len() as i64
        );
        assert_eq!(int(cell(&r, "quality", &[taker.as_str()], 2)), satisfied);
        assert!(
            answers.len() > 50 && satisfied > 0,
            "the generator's month has answers"
        );
        let mut scored_total = 0;
        for a in AGENTS {
            let mine: Vec<_> = w
                .scores
                .iter()
                .filter(|(g, _, at, sup)| *g == a && in_month(*at) && !sup)
                .collect();
            scored_total += mine.len() as i64;
            if mine.is_empty() {
                continue;
            }
            assert_eq!(int(cell(&r, "quality", &[a], 4)), mine.len() as i64, "{a}");
            let avg = mine.iter().map(|s| s.1 as f64 / 100.0).sum::<f64>() / mine.len() as f64;
            approx(cell(&r, "quality", &[a], 5), Some(avg));
        }
        assert!(scored_total > 10, "the generator's month has scores");
        let total = q.rows.last().unwrap();
        assert_eq!(int(&total.cells[1]), answers.len() as i64);
        assert_eq!(int(&total.cells[4]), scored_total);

        // one branch: only its tickets
        let b = desk
            .report(
                ReportQuery {
                    kind: ReportKind::Tickets,
                    branch: Some("西城营业区".into()),
                    period: month.clone(),
                },
                src(),
            )
            .await
            .unwrap();
        assert_eq!(
            int(&b.section("repeat_rate").unwrap().rows[0].cells[0]),
            by_branch.get("西城营业区").copied().unwrap_or(0)
        );

        // the same input gives the same bytes
        let opts = ExportOptions::default();
        let csv = hotline_report::export(&r, ExportFormat::Csv, &opts).unwrap();
        let again = desk
            .report(
                ReportQuery {
                    kind: ReportKind::Full,
                    branch: None,
                    period: month.clone(),
                },
                src(),
            )
            .await
            .unwrap();
        assert_eq!(
            csv,
            hotline_report::export(&again, ExportFormat::Csv, &opts).unwrap()
        );
        let x1 = hotline_report::export(&r, ExportFormat::Xlsx, &opts).unwrap();
        let x2 = hotline_report::export(&again, ExportFormat::Xlsx, &opts).unwrap();
        assert!(x1.starts_with(b"PK"));
        assert_eq!(x1, x2, "XLSX content is fixed (no timestamps)");
        let svg = hotline_report::export(&r, ExportFormat::Svg, &opts).unwrap();
        assert!(std::str::from_utf8(&svg).unwrap().contains("15秒接听率"));
        let png = hotline_report::export(&r, ExportFormat::Png, &opts).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        csvs.push(csv);

        // an empty period: zeros, not an error
        let oct = period(PeriodKind::Month, "2025-10", "", now).unwrap();
        let e = desk
            .report(
                ReportQuery {
                    kind: ReportKind::Full,
                    branch: None,
                    period: oct,
                },
                src(),
            )
            .await
            .unwrap();
        let rr = &e.section("repeat_rate").unwrap().rows[0].cells;
        assert_eq!((int(&rr[0]), int(&rr[1]), &rr[2]), (0, 0, &Cell::Empty));
        assert_eq!(int(cell(&e, "queue_days", &["合计"], 1)), 0);
        assert!(e.section("late_orders").unwrap().rows.is_empty());

        // restamping after the map changed: 西城 folds into 海淀
        let mut cfg = branch_config();
        cfg.branches.pop();
        let mut d2 = desk.clone();
        d2.reporting = Arc::new(
            Reporting::new(ReportConfig {
                branches: cfg,
                options: Default::default(),
            })
            .unwrap(),
        );
        let changed = d2.restamp_branches().await.unwrap();
        assert_eq!(
            changed as usize,
            tickets.iter().filter(|t| t.7 == "西城营业区").count()
        );
        assert_eq!(d2.restamp_branches().await.unwrap(), 0);
        desk.store.close().await;
    }
    // both backends give the same CSV, and it matches the golden file
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/report_full_2026-11.csv");
    if std::env::var_os("HOTLINE_BLESS").is_some() {
        std::fs::write(&golden, &csvs[0]).unwrap();
    }
    let want = std::fs::read(&golden).expect("golden CSV (HOTLINE_BLESS=1 writes it)");
    for c in &csvs {
        assert!(c == &want, "CSV differs from {}", golden.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn ss5_bad_input_is_refused_with_the_field_named() {
    let now = day_start_ms(date!(2026 - 12 - 05)) + 9 * HOUR;
    let field = |e: CoreError| match e {
        CoreError::Invalid(v) => v.field,
        other => panic!("not invalid: {other:?}"),
    };
    assert_eq!(
        field(period(PeriodKind::Custom, "2026-11-10", "2026-11-01", now).unwrap_err()),
        "to"
    );
    assert_eq!(
        field(period(PeriodKind::Day, "2026-12-06", "", now).unwrap_err()),
        "from"
    );
    assert_eq!(
        field(period(PeriodKind::Day, "2026-11-31", "", now).unwrap_err()),
        "from"
    );
    assert_eq!(
        field(period(PeriodKind::Custom, "2026-11-01", "", now).unwrap_err()),
        "to"
    );
    // a month running past now is cut at now
    let m = period(PeriodKind::Month, "2026-12-01", "", now).unwrap();
    assert_eq!((m.end_ms, m.clipped_at), (now, Some(now)));
    // a custom range over a month end: whole Beijing days on both sides
    let c = period(PeriodKind::Custom, "2026-11-30", "2026-12-01", now).unwrap();
    assert_eq!(
        (c.start_ms, c.end_ms),
        (
            day_start_ms(date!(2026 - 11 - 30)),
            day_start_ms(date!(2026 - 12 - 02))
        )
    );

    let dir = hotline_testkit::temp_dir("reports-bad");
    let url = hotline_testkit::sqlite_url(&dir, "r.db");
    let (desk, _clock) = desk_on(&url).await;
    assert_eq!(
        field(desk.check_branch("branch", "东城分公司").unwrap_err()),
        "branch"
    );
    assert_eq!(
        desk.check_branch("branch", "未归属").unwrap(),
        Some("未归属".into())
    );
    assert_eq!(desk.check_branch("branch", "").unwrap(), None);
    desk.store.close().await;
    let mut cfg = branch_config();
    cfg.branches.push(BranchEntry {
        name: "东城分公司".into(),
        prefixes: vec!["01062".into()],
        exchanges: vec![],
    });
    let err = Reporting::new(ReportConfig {
        branches: cfg,
        options: Default::default(),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("海淀营业区") && err.contains("东城分公司"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
