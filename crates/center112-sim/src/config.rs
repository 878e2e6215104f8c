//! Configuration of the simulator: where it listens and stores, how fast tickets move, and the
//! faults it injects.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The path that selects a private in-memory database (quick tests; nothing survives a restart).
pub const IN_MEMORY: &str = ":memory:";

/// How a [`crate::Simulator`] is started. `SimConfig::default()` suits a quick test: it listens
/// on `127.0.0.1:0`, keeps its store in memory and moves tickets in tens of milliseconds.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// `host:port`; port 0 picks a free port (see [`crate::RunningSim::addr`]).
    pub listen: String,
    /// SQLite file, created if missing; [`IN_MEMORY`] for a throw-away store.
    pub db_path: PathBuf,
    /// Shared secret of the event signatures (`X-Hotline-Signature`).
    pub secret: String,
    /// acknowledged → inProgress after this long (the line is tested, a crew sent).
    pub progress_after: Duration,
    /// inProgress → resolved (回单) after this long (times `late_factor` for late tickets).
    pub resolve_after: Duration,
    /// Fraction (0..=1) of tickets resolved late.
    pub late_fraction: f64,
    /// How much longer a late ticket takes to resolve (3.0 = three times `resolve_after`).
    pub late_factor: f64,
    /// Fraction (0..=1) of tickets resolved with `repairOutcome=failed`.
    pub fail_fraction: f64,
    /// Seeds every random choice: late/failed per ticket (drawn from the seed and the external
    /// identifier, so independent of arrival order) and the fault-injection draws.
    pub seed: u64,
    /// Faults injected from the start; change them later with [`crate::RunningSim::set_faults`]
    /// or `PUT /sim/faults`.
    pub faults: Faults,
    /// Delivery attempts per event and subscriber (at least 1).
    pub event_attempts: u32,
    /// Delay before the second attempt; doubled for each further attempt.
    pub event_backoff: Duration,
    /// Timeout of one event POST.
    pub event_timeout: Duration,
    /// With `reorder_events`, how long a held event waits for a successor before it is sent
    /// anyway.
    pub reorder_hold: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: "127.0.0.1:0".into(),
            db_path: PathBuf::from(IN_MEMORY),
            secret: "center112-sim-secret".into(),
            progress_after: Duration::from_millis(50),
            resolve_after: Duration::from_millis(100),
            late_fraction: 0.0,
            late_factor: 3.0,
            fail_fraction: 0.0,
            seed: 112,
            faults: Faults::default(),
            event_attempts: 4,
            event_backoff: Duration::from_millis(50),
            event_timeout: Duration::from_secs(5),
            reorder_hold: Duration::from_millis(500),
        }
    }
}

impl SimConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("late_fraction", self.late_fraction),
            ("fail_fraction", self.fail_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be within 0..=1, got {v}"));
            }
        }
        if !(self.late_factor.is_finite() && self.late_factor >= 1.0 && self.late_factor <= 1000.0)
        {
            return Err(format!(
                "late_factor must be within 1..=1000, got {}",
                self.late_factor
            ));
        }
        if self.secret.is_empty() {
            return Err("secret must not be empty".into());
        }
        if self.event_attempts == 0 {
            return Err("event_attempts must be at least 1".into());
        }
        self.faults.validate()
    }
}

/// Injected faults. `PUT /sim/faults` takes this as JSON (camelCase; missing fields are off).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Faults {
    /// Every API call is answered 503 (the admin endpoints still work).
    pub down: bool,
    /// Added latency of every API call, in milliseconds.
    pub slow_ms: u64,
    /// Fraction of API calls answered 500 without being processed.
    pub error_rate: f64,
    /// Fraction of API calls processed (committed) and then answered 500: the reply is "lost".
    pub drop_reply_rate: f64,
    /// Each event is sent twice (same event id, same body).
    pub duplicate_events: bool,
    /// An event is held back and sent after the next one.
    pub reorder_events: bool,
}

impl Faults {
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("errorRate", self.error_rate),
            ("dropReplyRate", self.drop_reply_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be within 0..=1, got {v}"));
            }
        }
        if self.slow_ms > 600_000 {
            return Err(format!(
                "slowMs must be at most 600000, got {}",
                self.slow_ms
            ));
        }
        Ok(())
    }
}
