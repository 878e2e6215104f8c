//! RFC 3261 timer values (§17, Table 4 of appendix A) as one table, computed from T1, T2, T4.
//! Over a reliable transport the retransmission timers are unused and the wait timers D, I,
//! J, K are zero.

use std::time::Duration;

/// Names of the transaction timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmit interval (client, unreliable): starts at T1, doubles.
    A,
    /// INVITE transaction timeout (client): 64*T1.
    B,
    /// Wait time for response retransmits (client INVITE, after non-2xx): 32 s / 0.
    D,
    /// Non-INVITE request retransmit interval (client, unreliable): T1 doubling up to T2.
    E,
    /// Non-INVITE transaction timeout (client): 64*T1.
    F,
    /// INVITE response retransmit interval (server, unreliable): T1 doubling up to T2.
    G,
    /// Wait time for ACK receipt (server INVITE): 64*T1.
    H,
    /// Wait time for ACK retransmits (server INVITE): T4 / 0.
    I,
    /// Wait time for non-INVITE request retransmits (server): 64*T1 / 0.
    J,
    /// Wait time for response retransmits (client non-INVITE): T4 / 0.
    K,
}

/// The base values; everything else derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, default 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// Initial value of `timer` for the given transport reliability (`None` = not used).
    pub fn initial(&self, timer: Timer, reliable: bool) -> Option<Duration> {
        let zero_if_reliable = |d: Duration| if reliable { Duration::ZERO } else { d };
        match timer {
            Timer::A | Timer::E | Timer::G => (!reliable).then_some(self.t1),
            Timer::B | Timer::F | Timer::H => Some(self.t1 * 64),
            Timer::D => Some(if reliable {
                Duration::ZERO
            } else {
                Duration::from_secs(32).max(self.t1 * 64 / 2)
            }),
            Timer::I | Timer::K => Some(zero_if_reliable(self.t4)),
            Timer::J => Some(zero_if_reliable(self.t1 * 64)),
        }
    }

    /// Next retransmit interval after `current` for timers capped by T2 (E, G, 2xx retransmit).
    pub fn backoff_capped(&self, current: Duration) -> Duration {
        (current * 2).min(self.t2)
    }

    /// Shorthand for timers that are always used.
    pub(crate) fn get(&self, timer: Timer, reliable: bool) -> Duration {
        self.initial(timer, reliable).unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3261 Table 4, unreliable transport, default T1/T2/T4.
    #[test]
    fn table_four_values() {
        let t = Timers::default();
        let ms = |x: u64| Some(Duration::from_millis(x));
        let table = [
            (Timer::A, ms(500), None),
            (Timer::B, ms(32_000), ms(32_000)),
            (Timer::D, ms(32_000), ms(0)),
            (Timer::E, ms(500), None),
            (Timer::F, ms(32_000), ms(32_000)),
            (Timer::G, ms(500), None),
            (Timer::H, ms(32_000), ms(32_000)),
            (Timer::I, ms(5_000), ms(0)),
            (Timer::J, ms(32_000), ms(0)),
            (Timer::K, ms(5_000), ms(0)),
        ];
        for (timer, udp, tcp) in table {
            assert_eq!(t.initial(timer, false), udp, "{timer:?} over UDP");
            assert_eq!(t.initial(timer, true), tcp, "{timer:?} over TCP");
        }
        let mut e = t.t1;
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(e.as_millis());
            e = t.backoff_capped(e);
        }
        assert_eq!(seen, [500, 1000, 2000, 4000, 4000]);
    }
}
