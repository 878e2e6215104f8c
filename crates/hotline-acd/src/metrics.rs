//! Call-centre metrics computed from the queue log, as the industry computes them:
//! - JO2 service level: connected calls whose agent answered within the answer limit of the
//!   offer (ring time), ÷ connected calls;
//! - Asterisk SL: connected within the threshold of entering the queue (hold time) ÷ connected;
//!   SL2: (connected + abandoned within the threshold) ÷ (connected + abandoned);
//! - ASA (average speed of answer, hold time of connected calls), abandonment rate, and
//!   per-agent no-answers.

use crate::queue_log::{QueueEvent, QueueLogEntry};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub entered: u64,
    pub connected: u64,
    pub abandoned: u64,
    pub timed_out: u64,
    /// Ring time ≤ threshold ÷ connected (the 15-second rule).
    pub service_level_offer: f64,
    /// Asterisk SL: hold time ≤ threshold ÷ connected.
    pub service_level: f64,
    /// Asterisk SL2: (connected + abandoned within threshold) ÷ (connected + abandoned).
    pub service_level2: f64,
    /// Average hold time of connected calls, seconds.
    pub asa_seconds: f64,
    /// abandoned ÷ (connected + abandoned + timed out).
    pub abandonment_rate: f64,
    pub no_answers_by_agent: BTreeMap<String, u64>,
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or(0.0)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Metrics {
    /// `threshold_s`: 15 for the JO2 rule.
    pub fn from_log<'a>(
        entries: impl IntoIterator<Item = &'a QueueLogEntry>,
        threshold_s: f64,
    ) -> Metrics {
        let mut m = Metrics::default();
        let (mut ring_ok, mut hold_ok, mut aband_ok, mut hold_sum) = (0u64, 0u64, 0u64, 0.0);
        for e in entries {
            match e.event {
                QueueEvent::EnterQueue => m.entered += 1,
                QueueEvent::Connect => {
                    m.connected += 1;
                    let hold = num(&e.data[0]);
                    hold_sum += hold;
                    if hold <= threshold_s {
                        hold_ok += 1;
                    }
                    if num(&e.data[2]) <= threshold_s {
                        ring_ok += 1;
                    }
                }
                QueueEvent::Abandon => {
                    m.abandoned += 1;
                    if num(&e.data[2]) <= threshold_s {
                        aband_ok += 1;
                    }
                }
                QueueEvent::ExitWithTimeout | QueueEvent::ExitEmpty => m.timed_out += 1,
                QueueEvent::RingNoAnswer | QueueEvent::RingCanceled => {
                    *m.no_answers_by_agent.entry(e.agent.clone()).or_default() += 1;
                }
                QueueEvent::CompleteCaller
                | QueueEvent::CompleteAgent
                | QueueEvent::AgentNotReady => {}
            }
        }
        m.service_level_offer = ratio(ring_ok, m.connected);
        m.service_level = ratio(hold_ok, m.connected);
        m.service_level2 = ratio(hold_ok + aband_ok, m.connected + m.abandoned);
        m.asa_seconds = if m.connected == 0 {
            0.0
        } else {
            hold_sum / m.connected as f64
        };
        m.abandonment_rate = ratio(m.abandoned, m.connected + m.abandoned + m.timed_out);
        m
    }

    /// Prometheus text format.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut g = |name: &str, help: &str, v: f64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
            ));
        };
        g(
            "hotline_acd_entered_total",
            "Callers who asked for an agent.",
            self.entered as f64,
        );
        g(
            "hotline_acd_connected_total",
            "Callers connected to an agent.",
            self.connected as f64,
        );
        g(
            "hotline_acd_abandoned_total",
            "Callers who hung up while waiting or ringing.",
            self.abandoned as f64,
        );
        g(
            "hotline_acd_service_level_offer",
            "JO2: share of connected calls answered within 15 s of the offer.",
            self.service_level_offer,
        );
        g(
            "hotline_acd_service_level",
            "Asterisk SL: share connected within the threshold of entering the queue.",
            self.service_level,
        );
        g(
            "hotline_acd_service_level2",
            "Asterisk SL2: (connected + abandoned within the threshold) / (connected + abandoned).",
            self.service_level2,
        );
        g(
            "hotline_acd_asa_seconds",
            "Average speed of answer.",
            self.asa_seconds,
        );
        g(
            "hotline_acd_abandonment_rate",
            "Abandoned / (connected + abandoned + timed out).",
            self.abandonment_rate,
        );
        out.push_str("# HELP hotline_acd_no_answers_total No-answers per agent.\n# TYPE hotline_acd_no_answers_total counter\n");
        for (agent, n) in &self.no_answers_by_agent {
            out.push_str(&format!(
                "hotline_acd_no_answers_total{{agent=\"{agent}\"}} {n}\n"
            ));
        }
        out
    }
}
