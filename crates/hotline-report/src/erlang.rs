//! Erlang C staffing advice (beyond the anchors): from the queue log, per half hour, the
//! offered load in Erlangs and the agents Erlang C says are needed to answer a target share of
//! calls (80 %, configurable) within the answer threshold (15 s), beside the agents seen.
//!
//! Offered load A = calls offered in the half hour × mean handle time ÷ 1800 s. The mean
//! handle time is the mean talk time (CONNECT to COMPLETECALLER/COMPLETEAGENT, from the log's
//! timestamps) of the calls answered in that half hour; a half hour without a completed call
//! uses [`StaffingRules::default_handle_secs`]. With N agents (N > A), the chance a caller
//! waits is Erlang C: C(N, A) = B·N / (N − A·(1 − B)) with B the Erlang B blocking, and the
//! share answered within t seconds is 1 − C(N, A)·e^(−(N − A)·t / AHT). Advice: the least N
//! reaching the target.

use crate::period::format_hhmm;
use hotline_acd::{QueueEvent, QueueLogEntry};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Half an hour, ms.
pub const HALF_HOUR_MS: i64 = 30 * 60_000;

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffingRules {
    /// Target share answered within `answer_secs` (0.8).
    pub target: f64,
    pub answer_secs: u32,
    /// Mean handle time for a half hour without completed calls.
    pub default_handle_secs: u32,
}

impl Default for StaffingRules {
    fn default() -> Self {
        StaffingRules {
            target: 0.8,
            answer_secs: 15,
            default_handle_secs: 180,
        }
    }
}

/// Erlang B blocking for `n` servers at load `a` (the stable recursion).
pub fn erlang_b(n: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=n {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// Erlang C: the chance an arriving call waits, `n` agents at load `a` (1 when n ≤ a).
pub fn erlang_c(n: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    if f64::from(n) <= a {
        return 1.0;
    }
    let b = erlang_b(n, a);
    let n = f64::from(n);
    b * n / (n - a * (1.0 - b))
}

/// Share of calls answered within `t_secs` with `n` agents, load `a`, handle time `aht_secs`.
pub fn service_level(n: u32, a: f64, aht_secs: f64, t_secs: f64) -> f64 {
    if a <= 0.0 {
        return 1.0;
    }
    if f64::from(n) <= a || aht_secs <= 0.0 {
        return 0.0;
    }
    1.0 - erlang_c(n, a) * (-(f64::from(n) - a) * t_secs / aht_secs).exp()
}

/// The least number of agents reaching `target` (0 without load; capped at 10,000).
pub fn agents_needed(a: f64, aht_secs: f64, t_secs: f64, target: f64) -> u32 {
    if a <= 0.0 {
        return 0;
    }
    let mut n = a.floor() as u32 + 1;
    while n < 10_000 && service_level(n, a, aht_secs, t_secs) < target {
        n += 1;
    }
    n
}

/// One half hour of advice.
#[derive(Clone, Debug, PartialEq)]
pub struct HalfHour {
    pub start_ms: i64,
    pub offered: u64,
    pub handle_secs: f64,
    pub erlangs: f64,
    pub needed: u32,
    /// Distinct agents with a queue event (offer, answer, no-answer) in the half hour.
    pub agents_seen: u32,
}

impl HalfHour {
    pub fn label(&self) -> String {
        format!(
            "{}-{}",
            format_hhmm(self.start_ms),
            format_hhmm(self.start_ms + HALF_HOUR_MS)
        )
    }
}

/// Half hours (Beijing-aligned, only those with calls or agents) of `[since, until)`.
pub fn advise(
    entries: &[QueueLogEntry],
    since: i64,
    until: i64,
    rules: StaffingRules,
) -> Vec<HalfHour> {
    let slot = |t: i64| t - (t + hotline_acd::metrics::BEIJING_OFFSET_MS).rem_euclid(HALF_HOUR_MS);
    #[derive(Default)]
    struct Acc {
        offered: u64,
        talk_ms: i64,
        completed: u64,
        agents: BTreeSet<String>,
    }
    let mut slots: BTreeMap<i64, Acc> = BTreeMap::new();
    let mut connected: HashMap<&str, i64> = HashMap::new();
    for e in entries {
        let t = e.at_ms;
        let inside = t >= since && t < until;
        match e.event {
            QueueEvent::EnterQueue if inside => slots.entry(slot(t)).or_default().offered += 1,
            QueueEvent::Connect => {
                connected.insert(e.call_id.as_str(), t);
                if inside {
                    slots
                        .entry(slot(t))
                        .or_default()
                        .agents
                        .insert(e.agent.clone());
                }
            }
            QueueEvent::RingNoAnswer | QueueEvent::RingCanceled if inside => {
                slots
                    .entry(slot(t))
                    .or_default()
                    .agents
                    .insert(e.agent.clone());
            }
            QueueEvent::CompleteCaller | QueueEvent::CompleteAgent => {
                if let Some(c) = connected.remove(e.call_id.as_str())
                    && c >= since
                    && c < until
                {
                    let a = slots.entry(slot(c)).or_default();
                    a.talk_ms += (t - c).max(0);
                    a.completed += 1;
                }
            }
            _ => {}
        }
    }
    slots
        .into_iter()
        .map(|(start_ms, a)| {
            let handle_secs = if a.completed > 0 {
                a.talk_ms as f64 / 1000.0 / a.completed as f64
            } else {
                f64::from(rules.default_handle_secs)
            };
            let erlangs = a.offered as f64 * handle_secs / (HALF_HOUR_MS as f64 / 1000.0);
            HalfHour {
                start_ms,
                offered: a.offered,
                handle_secs,
                erlangs,
                needed: agents_needed(
                    erlangs,
                    handle_secs,
                    f64::from(rules.answer_secs),
                    rules.target,
                ),
                agents_seen: a.agents.iter().filter(|s| !s.is_empty()).count() as u32,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_the_textbook_example() {
        // The usual worked example: 100 calls in a half hour, 180 s handle time → 10 E;
        // 80 % within 20 s needs 14 agents (C = 0.1741, SL = 88.84 %; 13 give 79.56 %).
        // Figures from the closed formula A^N/N!·N/(N−A) / (Σ A^k/k! + ...), not the recursion.
        let a: f64 = 100.0 * 180.0 / 1800.0;
        assert!((a - 10.0).abs() < 1e-9);
        assert!((service_level(13, a, 180.0, 20.0) - 0.7956).abs() < 1e-4);
        assert!((service_level(14, a, 180.0, 20.0) - 0.8884).abs() < 1e-4);
        assert!((erlang_c(14, a) - 0.1741).abs() < 1e-4);
        assert_eq!(agents_needed(a, 180.0, 20.0, 0.8), 14);
        assert_eq!(agents_needed(24.0, 240.0, 20.0, 0.8), 29);
        assert_eq!(agents_needed(0.0, 240.0, 15.0, 0.8), 0);
        assert_eq!(erlang_c(2, 3.0), 1.0);
    }
}
