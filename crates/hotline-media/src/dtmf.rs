//! RFC 4733 telephone-event payloads (§2.3): receiving (one digit per event, keyed by RTP
//! timestamp, §2.5.2) and sending (start packet with marker, updates, three end packets, §2.5.1).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Packet interval of events we send.
pub const EVENT_INTERVAL: Duration = Duration::from_millis(20);

/// Maps an event code (§3.2) to a DTMF digit.
pub fn event_to_digit(code: u8) -> Option<char> {
    Some(match code {
        0..=9 => char::from(b'0' + code),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + code - 12),
        _ => return None,
    })
}

/// Maps a DTMF digit to its event code.
pub fn digit_to_event(digit: char) -> Option<u8> {
    Some(match digit {
        '0'..='9' => digit as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => digit as u8 - b'A' + 12,
        'a'..='d' => digit as u8 - b'a' + 12,
        _ => return None,
    })
}

/// A telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code.
    pub event: u8,
    /// E bit.
    pub end: bool,
    /// Volume (0..=63, -dBm0).
    pub volume: u8,
    /// Duration in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the 4-byte payload (extra bytes, e.g. redundancy, ignored).
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let b = payload.get(..4)?;
        Some(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// Serialises.
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// Turns a stream of telephone-event packets into digits: exactly one per event, whether or
/// not the marker bit or the start packets arrived, however many end packets are repeated.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    /// Recently seen events as (ssrc, timestamp); a short history survives reordering.
    seen: VecDeque<(u32, u32)>,
}

impl DtmfReceiver {
    /// New receiver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event packet; returns the digit when this is a new event.
    pub fn handle(&mut self, ssrc: u32, timestamp: u32, payload: &[u8]) -> Option<char> {
        let ev = TelephoneEvent::parse(payload)?;
        let digit = event_to_digit(ev.event)?;
        let key = (ssrc, timestamp);
        if self.seen.contains(&key) {
            return None;
        }
        if self.seen.len() == 8 {
            self.seen.pop_front();
        }
        self.seen.push_back(key);
        Some(digit)
    }
}

/// One packet the sender wants out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Marker bit (first packet of the event).
    pub marker: bool,
    /// Media instant of the event start (for the RTP timestamp).
    pub started: Instant,
    /// The payload.
    pub event: TelephoneEvent,
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    event: u8,
    started: Instant,
    /// Packets sent so far for this event.
    sent: u32,
    end_sent: u32,
}

/// Sends queued digits as RFC 4733 events paced every 20 ms: a start packet with marker,
/// updates with growing duration, then the end packet three times.
#[derive(Debug)]
pub struct DtmfSender {
    tone: Duration,
    gap: Duration,
    queue: VecDeque<u8>,
    current: Option<Sending>,
    next: Option<Instant>,
}

impl DtmfSender {
    /// `tone`: duration of each digit (e.g. 100 ms); `gap`: pause between digits.
    pub fn new(tone: Duration, gap: Duration) -> Self {
        DtmfSender {
            tone,
            gap,
            queue: VecDeque::new(),
            current: None,
            next: None,
        }
    }

    /// Queues a digit; unknown characters are ignored (returns false).
    pub fn push(&mut self, now: Instant, digit: char) -> bool {
        let Some(ev) = digit_to_event(digit) else {
            return false;
        };
        self.queue.push_back(ev);
        if self.next.is_none() {
            self.next = Some(now);
        }
        true
    }

    /// True while an event is being sent or queued.
    pub fn is_active(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty()
    }

    /// When [`DtmfSender::poll_packet`] has something.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// The next packet if due.
    pub fn poll_packet(&mut self, now: Instant) -> Option<EventPacket> {
        let due = self.next?;
        if now < due {
            return None;
        }
        let cur = match self.current.as_mut() {
            Some(c) => c,
            None => {
                let event = self.queue.pop_front()?;
                self.current.insert(Sending {
                    event,
                    started: due,
                    sent: 0,
                    end_sent: 0,
                })
            }
        };
        let tone_packets = (self.tone.as_millis() / EVENT_INTERVAL.as_millis()).max(1) as u32;
        let marker = cur.sent == 0;
        cur.sent += 1;
        let end = cur.sent > tone_packets;
        let units = if end { tone_packets } else { cur.sent };
        let packet = EventPacket {
            marker,
            started: cur.started,
            event: TelephoneEvent {
                event: cur.event,
                end,
                volume: 10,
                duration: (units * 160).min(u32::from(u16::MAX)) as u16,
            },
        };
        if end {
            cur.end_sent += 1;
        }
        if cur.end_sent >= 3 {
            self.current = None;
            self.next = if self.queue.is_empty() {
                None
            } else {
                Some(due + EVENT_INTERVAL + self.gap)
            };
        } else {
            self.next = Some(due + EVENT_INTERVAL);
        }
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .to_bytes()
    }

    #[test]
    fn digit_mapping() {
        for d in "0123456789*#ABCD".chars() {
            assert_eq!(event_to_digit(digit_to_event(d).unwrap()), Some(d));
        }
        assert_eq!(event_to_digit(16), None);
        assert_eq!(digit_to_event('x'), None);
    }

    #[test]
    fn one_digit_per_event_with_three_end_packets_and_no_marker() {
        let mut rx = DtmfReceiver::new();
        let mut got = Vec::new();
        // Event "5" at ts 1000: start packets lost, no marker seen; updates then 3 ends.
        for (dur, end) in [
            (320, false),
            (480, false),
            (800, true),
            (800, true),
            (800, true),
        ] {
            got.extend(rx.handle(9, 1000, &payload(5, end, dur)));
        }
        // Event "5" again (new press, new timestamp), only end packets arrive.
        for _ in 0..3 {
            got.extend(rx.handle(9, 3000, &payload(5, true, 800)));
        }
        // "#" then a late retransmission of the first event's end.
        got.extend(rx.handle(9, 5000, &payload(11, false, 160)));
        got.extend(rx.handle(9, 1000, &payload(5, true, 800)));
        assert_eq!(got, ['5', '5', '#']);
        // Short or unknown payloads are ignored.
        assert_eq!(rx.handle(9, 7000, &[1, 2]), None);
        assert_eq!(rx.handle(9, 7000, &payload(32, false, 0)), None);
    }

    #[test]
    fn sender_sequence() {
        let t0 = Instant::now();
        let mut tx = DtmfSender::new(Duration::from_millis(100), Duration::from_millis(60));
        tx.push(t0, '1');
        tx.push(t0, '#');
        let mut now = t0;
        let mut packets = Vec::new();
        while let Some(due) = tx.poll_timeout() {
            now = now.max(due);
            if let Some(p) = tx.poll_packet(now) {
                packets.push((now - t0, p));
            }
        }
        // Per digit: 5 tone packets + 3 end packets.
        assert_eq!(packets.len(), 16);
        let first: Vec<_> = packets[..8].iter().map(|(_, p)| *p).collect();
        assert!(first[0].marker);
        assert!(first[1..].iter().all(|p| !p.marker));
        assert_eq!(first[0].event.duration, 160);
        assert_eq!(first[4].event.duration, 800);
        assert!(
            first[5..]
                .iter()
                .all(|p| p.event.end && p.event.duration == 800)
        );
        assert!(first.iter().all(|p| p.started == t0 && p.event.event == 1));
        // Second digit starts after the gap, with marker.
        let (at, p) = packets[8];
        assert!(p.marker);
        assert_eq!(p.event.event, 11);
        assert_eq!(at, Duration::from_millis(160 + 60));
        // The receiver decodes exactly the two digits from the sender's output.
        let mut rx = DtmfReceiver::new();
        let digits: String = packets
            .iter()
            .filter_map(|(_, p)| {
                let ts = (p.started - t0).as_millis() as u32 * 8;
                rx.handle(1, ts, &p.event.to_bytes())
            })
            .collect();
        assert_eq!(digits, "1#");
    }
}
