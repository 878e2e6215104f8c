//! Server-side command turnaround: the time from a reply being read to the next command
//! being written, in a fixed histogram shared by every session (atomics, no locks), so the
//! benchmark can read p50/p99 from inside the server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket width.
const STEP_US: u64 = 5;
/// Buckets: 0-10 ms in 5 µs steps; later ones land in the overflow bucket.
const BUCKETS: usize = 2000;

/// A histogram of turnaround times.
pub struct Turnaround {
    buckets: Vec<AtomicU64>,
    overflow: AtomicU64,
    max_us: AtomicU64,
}

impl std::fmt::Debug for Turnaround {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turnaround")
            .field("summary", &self.summary())
            .finish()
    }
}

impl Default for Turnaround {
    fn default() -> Self {
        Turnaround {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            overflow: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

/// Figures of a [`Turnaround`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Median (upper bucket edge), µs.
    pub p50_us: u64,
    /// 99th percentile (upper bucket edge), µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest, µs.
    pub max_us: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={}us p99={}us p99.9={}us max={}us",
            self.count, self.p50_us, self.p99_us, self.p999_us, self.max_us
        )
    }
}

impl Turnaround {
    /// Counts one turnaround.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = (us / STEP_US) as usize;
        match self.buckets.get(i) {
            Some(b) => b.fetch_add(1, Ordering::Relaxed),
            None => self.overflow.fetch_add(1, Ordering::Relaxed),
        };
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Empties the histogram (the benchmark measures after the ramp-up).
    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.overflow.store(0, Ordering::Relaxed);
        self.max_us.store(0, Ordering::Relaxed);
    }

    /// p50, p99, p99.9 and the maximum.
    pub fn summary(&self) -> Summary {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let overflow = self.overflow.load(Ordering::Relaxed);
        let count = counts.iter().sum::<u64>() + overflow;
        let max_us = self.max_us.load(Ordering::Relaxed);
        let quantile = |q: f64| -> u64 {
            if count == 0 {
                return 0;
            }
            let rank = ((count as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return ((i as u64 + 1) * STEP_US).min(max_us.max(STEP_US));
                }
            }
            max_us
        };
        Summary {
            count,
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
            p999_us: quantile(0.999),
            max_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_from_the_buckets() {
        let t = Turnaround::default();
        assert_eq!(t.summary(), Summary::default());
        for _ in 0..98 {
            t.record(Duration::from_micros(12));
        }
        t.record(Duration::from_micros(700));
        t.record(Duration::from_millis(50));
        let s = t.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_us, 15, "12 µs lands in the 10-15 µs bucket");
        assert_eq!(s.p99_us, 705);
        assert_eq!(s.max_us, 50_000);
        t.reset();
        assert_eq!(t.summary().count, 0);
    }
}
