//! Sans-I/O RTP session for one stream (RFC 3550 §5, §8): SSRC/sequence/timestamp of what we
//! send, symmetric RTP latching (RFC 4961) of where we send, garbage and RTCP filtering
//! (RFC 5761 §4) and inactivity detection. No sockets, no clock: `now` comes from the caller.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::rtp::{RtpPacket, is_rtcp};

/// How long the latched source must be silent before another source may take over.
const RELATCH_AFTER: Duration = Duration::from_millis(500);
/// Consecutive in-sequence packets a new source must send before we latch to it.
const PROBATION: u8 = 3;

/// Session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// No RTP for this long raises [`SessionEvent::Inactive`] (default 60 s).
    pub inactivity_timeout: Duration,
    /// Send to where the peer's packets come from (default true).
    pub symmetric: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            inactivity_timeout: Duration::from_secs(60),
            symmetric: true,
        }
    }
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub destination: SocketAddr,
    /// RTP bytes.
    pub payload: Vec<u8>,
    /// When it should leave, if produced ahead of time (playback frames); `None` = now.
    pub due: Option<Instant>,
}

/// Things the session reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// We now send to this address (first packet, or after the peer moved).
    RemoteLatched(SocketAddr),
    /// No RTP for the configured time.
    Inactive,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// RTP packets accepted.
    pub received: u64,
    /// RTP packets queued for sending.
    pub sent: u64,
    /// Datagrams that were not RTP (short, wrong version, bad padding).
    pub dropped_garbage: u64,
    /// RTCP packets ignored.
    pub rtcp_ignored: u64,
    /// RTP from a source other than the active latched one (dropped).
    pub dropped_foreign: u64,
    /// Packets sent while no destination was known (dropped).
    pub unsent_no_remote: u64,
}

/// One RTP stream, both directions.
#[derive(Debug)]
pub struct RtpSession {
    config: SessionConfig,
    remote: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    ssrc: u32,
    sequence: u16,
    timestamp_base: u32,
    epoch: Instant,
    last_rx: Instant,
    last_rx_latched: Instant,
    /// Source on probation: (address, SSRC, last sequence, packets in sequence).
    candidate: Option<(SocketAddr, u32, u16, u8)>,
    inactive_reported: bool,
    /// False while the peer is not expected to send (we are `sendonly`/`inactive`: hold).
    expect_rtp: bool,
    stats: SessionStats,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SessionEvent>,
}

impl RtpSession {
    /// A new session; SSRC, first sequence number and timestamp base come from `rng` (RFC 3550 §5.1).
    pub fn new(now: Instant, rng: &mut impl RngCore, config: SessionConfig) -> Self {
        RtpSession {
            config,
            remote: None,
            latched: None,
            ssrc: rng.next_u32(),
            sequence: rng.next_u32() as u16,
            timestamp_base: rng.next_u32(),
            epoch: now,
            last_rx: now,
            last_rx_latched: now,
            candidate: None,
            inactive_reported: false,
            expect_rtp: true,
            stats: SessionStats::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Next sequence number we will send.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// Sets the address from SDP (`None` when the peer said 0.0.0.0). A new address from a
    /// re-INVITE also resets latching.
    pub fn set_remote(&mut self, remote: Option<SocketAddr>) {
        if remote != self.remote {
            self.latched = None;
            self.candidate = None;
        }
        self.remote = remote;
    }

    /// Changes the inactivity timeout (e.g. longer while on hold).
    pub fn set_inactivity_timeout(&mut self, now: Instant, timeout: Duration) {
        self.config.inactivity_timeout = timeout;
        self.last_rx = now;
        self.inactive_reported = false;
    }

    /// Whether the peer is expected to send RTP (false while it holds us or the stream is
    /// inactive). Inactivity is only measured while RTP is expected, from `now` on.
    pub fn set_expect_rtp(&mut self, now: Instant, expect: bool) {
        if expect && !self.expect_rtp {
            self.last_rx = now;
            self.inactive_reported = false;
        }
        self.expect_rtp = expect;
    }

    /// Where we currently send.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.remote)
    }

    /// Feeds one received datagram. Returns the packet if it is RTP for us; garbage and RTCP
    /// are counted and dropped.
    pub fn handle_packet<'a>(
        &mut self,
        now: Instant,
        src: SocketAddr,
        data: &'a [u8],
    ) -> Option<RtpPacket<'a>> {
        if is_rtcp(data) {
            self.stats.rtcp_ignored += 1;
            return None;
        }
        let Ok(packet) = RtpPacket::parse(data) else {
            self.stats.dropped_garbage += 1;
            return None;
        };
        if self.config.symmetric {
            match self.latched {
                Some(addr) if addr == src => self.last_rx_latched = now,
                // Another source while the latched one is active: dropped, so that nobody
                // can inject audio or DTMF into the call (the "RTP bleed" attack).
                Some(_) if now.saturating_duration_since(self.last_rx_latched) < RELATCH_AFTER => {
                    self.stats.dropped_foreign += 1;
                    return None;
                }
                _ => {
                    // Probation: a new source must send PROBATION packets in sequence from one
                    // SSRC before we send to it.
                    let n = match self.candidate {
                        Some((a, ssrc, seq, n))
                            if a == src
                                && ssrc == packet.ssrc
                                && seq.wrapping_add(1) == packet.sequence =>
                        {
                            n + 1
                        }
                        _ => 1,
                    };
                    self.candidate = Some((src, packet.ssrc, packet.sequence, n));
                    if n >= PROBATION {
                        self.candidate = None;
                        self.latched = Some(src);
                        self.last_rx_latched = now;
                        self.events.push_back(SessionEvent::RemoteLatched(src));
                    }
                }
            }
        }
        self.stats.received += 1;
        self.last_rx = now;
        self.inactive_reported = false;
        Some(packet)
    }

    /// RTP timestamp (8 kHz clock) of the media instant `at`.
    pub fn media_timestamp(&self, at: Instant) -> u32 {
        let elapsed = at.saturating_duration_since(self.epoch);
        let samples = elapsed.as_nanos() * 8000 / 1_000_000_000;
        self.timestamp_base.wrapping_add(samples as u32)
    }

    /// Queues one RTP packet with the next sequence number, to leave now.
    pub fn send(&mut self, payload_type: u8, marker: bool, timestamp: u32, payload: &[u8]) {
        self.send_due(payload_type, marker, timestamp, payload, None);
    }

    /// Queues one RTP packet with the next sequence number, to leave at `due` (`None` = now).
    pub fn send_due(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        due: Option<Instant>,
    ) {
        let Some(destination) = self.destination() else {
            self.stats.unsent_no_remote += 1;
            return;
        };
        let packet = RtpPacket {
            marker,
            payload_type,
            sequence: self.sequence,
            timestamp,
            ssrc: self.ssrc,
            payload,
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.stats.sent += 1;
        self.transmits.push_back(Transmit {
            destination,
            payload: packet.to_vec(),
            due,
        });
    }

    /// Next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`RtpSession::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.inactive_reported || !self.expect_rtp {
            return None;
        }
        // A timeout too large to represent means "never".
        self.last_rx.checked_add(self.config.inactivity_timeout)
    }

    /// Advances timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout()
            && now >= deadline
        {
            self.inactive_reported = true;
            self.events.push_back(SessionEvent::Inactive);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn rtp(seq: u16) -> Vec<u8> {
        RtpPacket {
            marker: false,
            payload_type: 0,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 7,
            payload: &[0xFF; 160],
        }
        .to_vec()
    }

    fn session(now: Instant) -> RtpSession {
        RtpSession::new(now, &mut StdRng::seed_from_u64(1), SessionConfig::default())
    }

    #[test]
    fn ssrc_and_sequence_come_from_rng_and_increment() {
        let now = Instant::now();
        let a = RtpSession::new(now, &mut StdRng::seed_from_u64(1), SessionConfig::default());
        let b = RtpSession::new(now, &mut StdRng::seed_from_u64(1), SessionConfig::default());
        let c = RtpSession::new(now, &mut StdRng::seed_from_u64(2), SessionConfig::default());
        assert_eq!(a.ssrc(), b.ssrc());
        assert_ne!(a.ssrc(), c.ssrc());
        let mut s = a;
        s.set_remote(Some(addr("10.0.0.1:4000")));
        let first = s.next_sequence();
        for _ in 0..3 {
            s.send(0, false, 0, &[1]);
        }
        let seqs: Vec<u16> = std::iter::from_fn(|| s.poll_transmit())
            .map(|t| RtpPacket::parse(&t.payload).unwrap().sequence)
            .collect();
        assert_eq!(seqs, [first, first.wrapping_add(1), first.wrapping_add(2)]);
    }

    #[test]
    fn timestamps_follow_media_time_without_drift() {
        let now = Instant::now();
        let s = session(now);
        let t0 = s.media_timestamp(now);
        let ten_min = now + Duration::from_millis(20) * 30_000;
        assert_eq!(s.media_timestamp(ten_min).wrapping_sub(t0), 160 * 30_000);
    }

    #[test]
    fn symmetric_rtp_latches_to_source_after_probation() {
        let now = Instant::now();
        let mut s = session(now);
        s.set_remote(Some(addr("10.0.0.1:4000")));
        assert_eq!(s.destination(), Some(addr("10.0.0.1:4000")));
        // Peer behind NAT: packets come from elsewhere; three in sequence latch.
        let nat = addr("203.0.113.9:31000");
        assert!(s.handle_packet(now, nat, &rtp(1)).is_some());
        assert!(s.handle_packet(now, nat, &rtp(2)).is_some());
        assert_eq!(
            s.destination(),
            Some(addr("10.0.0.1:4000")),
            "still on probation"
        );
        assert!(s.handle_packet(now, nat, &rtp(3)).is_some());
        assert_eq!(s.poll_event(), Some(SessionEvent::RemoteLatched(nat)));
        s.send(0, true, 0, &[0]);
        assert_eq!(s.poll_transmit().unwrap().destination, nat);
        // An intruder while the peer is active is dropped and does not steal the stream.
        let t = now + Duration::from_millis(20);
        for seq in 4..10 {
            assert!(
                s.handle_packet(t, addr("198.51.100.66:1"), &rtp(seq))
                    .is_none()
            );
        }
        assert_eq!(s.stats().dropped_foreign, 6);
        assert_eq!(s.destination(), Some(nat));
        // After the peer has been silent for a while, a new source (NAT rebinding) takes over.
        let t = now + Duration::from_secs(2);
        let moved = addr("203.0.113.9:31002");
        for seq in 10..13 {
            s.handle_packet(t, moved, &rtp(seq));
        }
        assert_eq!(s.destination(), Some(moved));
    }

    #[test]
    fn out_of_sequence_flood_never_latches() {
        let now = Instant::now();
        let mut s = session(now);
        let attacker = addr("198.51.100.66:1");
        for seq in [5u16, 9, 2, 7, 100, 3, 50] {
            s.handle_packet(now, attacker, &rtp(seq));
        }
        assert_eq!(s.destination(), None);
    }

    #[test]
    fn garbage_and_rtcp_are_dropped_and_counted() {
        let now = Instant::now();
        let mut s = session(now);
        let src = addr("10.0.0.1:4000");
        assert!(s.handle_packet(now, src, b"hello").is_none());
        assert!(s.handle_packet(now, src, &[0x40; 20]).is_none());
        assert!(s.handle_packet(now, src, &[]).is_none());
        // RTCP receiver report on the RTP port.
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 7];
        assert!(s.handle_packet(now, src, &rr).is_none());
        assert_eq!(s.stats().dropped_garbage, 3);
        assert_eq!(s.stats().rtcp_ignored, 1);
        assert_eq!(s.destination(), None, "garbage must not latch");
        assert!(s.handle_packet(now, src, &rtp(5)).is_some());
        assert_eq!(s.stats().received, 1);
    }

    #[test]
    fn inactivity_is_reported_once_and_rearmed_by_rtp() {
        let now = Instant::now();
        let mut s = RtpSession::new(
            now,
            &mut StdRng::seed_from_u64(1),
            SessionConfig {
                inactivity_timeout: Duration::from_secs(5),
                symmetric: true,
            },
        );
        assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(5)));
        s.handle_timeout(now + Duration::from_secs(4));
        assert_eq!(s.poll_event(), None);
        let src = addr("10.0.0.1:4000");
        // RTCP does not count as activity.
        s.handle_packet(now + Duration::from_secs(4), src, &[0x80, 200, 0, 0]);
        s.handle_timeout(now + Duration::from_secs(5));
        assert_eq!(s.poll_event(), Some(SessionEvent::Inactive));
        assert_eq!(s.poll_timeout(), None);
        s.handle_packet(now + Duration::from_secs(6), src, &rtp(1));
        assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(11)));
    }

    #[test]
    fn no_inactivity_while_on_hold() {
        let now = Instant::now();
        let mut s = session(now);
        s.set_expect_rtp(now, false);
        assert_eq!(s.poll_timeout(), None);
        s.handle_timeout(now + Duration::from_secs(600));
        assert_eq!(s.poll_event(), None);
        let later = now + Duration::from_secs(600);
        s.set_expect_rtp(later, true);
        assert_eq!(s.poll_timeout(), Some(later + Duration::from_secs(60)));
    }

    #[test]
    fn no_destination_counts_unsent() {
        let now = Instant::now();
        let mut s = session(now);
        s.send(0, false, 0, &[0]);
        assert!(s.poll_transmit().is_none());
        assert_eq!(s.stats().unsent_no_remote, 1);
    }
}
