//! Benchmark: the ACD's offer decision with 1,000 agents and 10,000 waiting callers (issue 5:
//! p99 ≤ 1 ms). Each measured step is one input that makes a decision: an agent becoming
//! available picks the oldest waiting call of its skill, or a call ends and the agent's wrap-up
//! timer fires. Run: `cargo bench -p hotline-acd --bench decision`.

use hotline_acd::{Acd, AcdAction, AcdConfig, CallEnd, Skill};
use std::time::Instant;

fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let agents = 1_000;
    let waiting = 10_000;
    let mut acd = Acd::new(AcdConfig {
        wrap_up_ms: 0,
        ..AcdConfig::default()
    });
    let mut now = 1_780_000_000_000i64;
    for a in 0..agents {
        let tier = if a % 5 == 0 {
            Skill::Senior
        } else {
            Skill::Ordinary
        };
        acd.handle_login(now, &format!("a{a}"), tier);
    }
    // every agent busy on a call, then 10,000 callers queue up
    for a in 0..agents {
        acd.handle_available(now, &format!("a{a}")).unwrap();
    }
    for c in 0..agents {
        acd.handle_enqueue(now, &format!("busy{c}"), "010", Skill::Ordinary)
            .unwrap();
    }
    while let Some(act) = acd.poll_action() {
        if let AcdAction::Offer { call, agent } = act {
            acd.handle_answered(now, &call, &agent).unwrap();
        }
    }
    for c in 0..waiting {
        let need = if c % 10 == 0 {
            Skill::Senior
        } else {
            Skill::Ordinary
        };
        acd.handle_enqueue(now, &format!("w{c}"), "010", need)
            .unwrap();
    }
    assert_eq!(acd.waiting(), waiting);
    while acd.poll_log().is_some() {}

    // measured: a call ends, the agent's wrap-up ends, the ACD offers it the next caller
    let mut samples = Vec::with_capacity(5_000);
    let mut connected: Vec<(String, String)> = (0..agents)
        .map(|c| (format!("busy{c}"), String::new()))
        .collect();
    let mut i = 0;
    while samples.len() < 5_000 {
        let (call, _) = connected[i % connected.len()].clone();
        now += 1;
        acd.handle_hangup(now, &call, CallEnd::Caller).unwrap();
        let t = Instant::now();
        acd.handle_timeout(now); // wrap-up (0 ms) ends → decision → Offer
        let dt = t.elapsed().as_secs_f64() * 1000.0;
        let mut offered = None;
        while let Some(act) = acd.poll_action() {
            if let AcdAction::Offer { call, agent } = act {
                offered = Some((call, agent));
            }
        }
        let (call, agent) = offered.expect("an offer per freed agent");
        acd.handle_answered(now, &call, &agent).unwrap();
        let n = connected.len();
        connected[i % n] = (call, agent);
        samples.push(dt);
        while acd.poll_log().is_some() {}
        // keep the queue at 10,000
        acd.handle_enqueue(now, &format!("r{i}"), "010", Skill::Ordinary)
            .unwrap();
        i += 1;
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "ACD decision, {agents} agents, {} waiting: n={} p50 {:.4} ms, p99 {:.4} ms, max {:.4} ms",
        acd.waiting(),
        samples.len(),
        pct(&samples, 0.5),
        pct(&samples, 0.99),
        samples[samples.len() - 1]
    );
}
