//! The call server's own metric families, registered into a `prometheus-client` registry
//! the binary passes in (the core's, so one `/metrics` shows both; this crate does not depend
//! on the core).

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Instant;

/// Call-setup buckets (seconds): binding a leg and sending the 200 OK is milliseconds; a
/// slow core or a busy host shows in the upper buckets.
const SETUP_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Call setup time and live calls. Cheap to clone (handles to shared atomics); unregistered
/// families count but are shown nowhere.
#[derive(Clone, Debug)]
pub struct CallMetrics {
    /// INVITE received → 200 OK sent.
    pub setup: Histogram,
    /// Calls with a task now (INVITE received, not finished).
    pub live: Gauge,
}

impl Default for CallMetrics {
    fn default() -> Self {
        CallMetrics {
            setup: Histogram::new(SETUP_BUCKETS),
            live: Gauge::default(),
        }
    }
}

impl CallMetrics {
    /// Registers the families (`hotline_call_setup_seconds`, `hotline_calls_live`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "hotline_call_setup_seconds",
            "Call setup: SIP INVITE received to 200 OK sent",
            self.setup.clone(),
        );
        registry.register(
            "hotline_calls_live",
            "Calls the call server is handling now (INVITE received, not yet ended)",
            self.live.clone(),
        );
    }

    /// Counts a call as live until the guard drops (also when its task is aborted).
    pub(crate) fn live_call(&self) -> LiveCall {
        self.live.inc();
        LiveCall(self.live.clone())
    }
}

/// See [`CallMetrics::live_call`].
pub(crate) struct LiveCall(Gauge);

impl Drop for LiveCall {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// When a call's INVITE arrived, and where its setup time goes once the 200 OK is sent.
#[derive(Clone, Debug)]
pub struct SetupTimer {
    pub received: Instant,
    pub histogram: Histogram,
}

impl SetupTimer {
    pub(crate) fn answered(&self) {
        self.histogram
            .observe(self.received.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_typed_and_a_live_call_is_counted_until_it_ends() {
        let m = CallMetrics::default();
        let mut r = Registry::default();
        m.register(&mut r);
        let live = m.live_call();
        SetupTimer {
            received: Instant::now(),
            histogram: m.setup.clone(),
        }
        .answered();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        assert!(
            text.contains("# TYPE hotline_call_setup_seconds histogram\n"),
            "{text}"
        );
        assert!(
            text.contains("hotline_call_setup_seconds_count 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE hotline_calls_live gauge\n"), "{text}");
        assert!(text.contains("hotline_calls_live 1\n"), "{text}");
        drop(live);
        assert_eq!(m.live.get(), 0);
    }
}
