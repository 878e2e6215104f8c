//! Prompt playback pacing: a sequence of prompts played back-to-back as one stream of 20 ms /
//! 160-sample G.711 frames (RFC 3551 §4.5.14, ptime 20). Deadlines are `start + n × 20 ms`, so
//! the schedule never drifts however long it runs. Sans-I/O: the caller supplies `now`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::g711::{ALAW_SILENCE, ULAW_SILENCE};
use crate::prompt::Prompt;
use crate::sdp::Codec;

/// Frame duration.
pub const FRAME: Duration = Duration::from_millis(20);
/// Samples per frame.
pub const FRAME_SAMPLES: usize = 160;
/// If the driver wakes up later than this, skip frames instead of bursting.
const MAX_CATCH_UP: u64 = 5;

/// One frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Its media instant (deadline), used for the RTP timestamp.
    pub at: Instant,
    /// First frame of a talk spurt.
    pub marker: bool,
    /// Encoded audio.
    pub payload: [u8; FRAME_SAMPLES],
}

/// A playback in progress.
#[derive(Debug, Clone)]
pub struct Playback {
    prompts: Vec<Prompt>,
    /// Start offset (in samples) of each prompt in the concatenation.
    offsets: Vec<usize>,
    total: usize,
    codec: Codec,
    start: Instant,
    sent: u64,
    looping: bool,
    /// How long before its deadline a frame is produced.
    ahead: Duration,
    /// Frames skipped because the driver was late.
    pub skipped: u64,
}

impl Playback {
    /// Starts playing `prompts` back-to-back at `now` (the first frame is due at once).
    pub fn new(now: Instant, prompts: Vec<Prompt>, codec: Codec, looping: bool) -> Self {
        let mut offsets = Vec::with_capacity(prompts.len());
        let mut total = 0;
        for p in &prompts {
            offsets.push(total);
            total += p.samples().len();
        }
        Playback {
            prompts,
            offsets,
            total,
            codec,
            start: now,
            sent: 0,
            looping,
            ahead: Duration::ZERO,
            skipped: 0,
        }
    }

    /// Moves the start to the first instant at or after it that lies on `anchor`'s 20 ms grid
    /// (`anchor + k × 20 ms`), delaying the first frame by less than a frame. Legs anchored
    /// on evenly spread phases send evenly spread instead of in bunches when calls arrive in
    /// step, and a leg keeps one cadence across the prompts it plays.
    pub fn on_grid(mut self, anchor: Instant) -> Self {
        self.start = next_on_grid(anchor, self.start);
        self
    }

    /// Produces every frame `ahead` of its deadline (its [`Frame::at`] stays the deadline),
    /// for a driver that hands frames to a pacer which sends them at `at`.
    pub fn send_ahead(mut self, ahead: Duration) -> Self {
        self.ahead = ahead;
        self
    }

    fn frames_total(&self) -> u64 {
        self.total.div_ceil(FRAME_SAMPLES) as u64
    }

    /// True when every frame has been produced.
    pub fn is_finished(&self) -> bool {
        !self.looping && self.sent >= self.frames_total() || self.total == 0
    }

    fn deadline(&self, n: u64) -> Instant {
        self.start + FRAME * (n as u32)
    }

    /// When the next frame should be produced (its deadline less the send-ahead; `None` when
    /// finished).
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_finished()).then(|| {
            let at = self.deadline(self.sent);
            at.checked_sub(self.ahead).unwrap_or(at)
        })
    }

    /// The next frame if it should be produced at `now`.
    pub fn poll_frame(&mut self, now: Instant) -> Option<Frame> {
        if self.is_finished() {
            return None;
        }
        let mut at = self.deadline(self.sent);
        if now + self.ahead < at {
            return None;
        }
        let behind =
            now.saturating_duration_since(at).as_millis() as u64 / FRAME.as_millis() as u64;
        if behind > MAX_CATCH_UP {
            self.skipped += behind;
            self.sent += behind;
            if self.is_finished() {
                return None;
            }
            at = self.deadline(self.sent);
        }
        let n = self.sent;
        self.sent += 1;
        let mut payload = [match self.codec {
            Codec::Pcmu => ULAW_SILENCE,
            Codec::Pcma => ALAW_SILENCE,
        }; FRAME_SAMPLES];
        self.fill(n, &mut payload);
        Some(Frame {
            at,
            marker: n == 0,
            payload,
        })
    }

    fn fill(&self, frame: u64, out: &mut [u8; FRAME_SAMPLES]) {
        let mut pos = if self.looping {
            (frame as usize * FRAME_SAMPLES) % self.total.max(1)
        } else {
            frame as usize * FRAME_SAMPLES
        };
        let mut filled = 0;
        while filled < FRAME_SAMPLES && pos < self.total {
            let idx = self.offsets.partition_point(|o| *o <= pos) - 1;
            let data = self.prompts[idx].encoded(self.codec);
            let local = pos - self.offsets[idx];
            let n = (data.len() - local).min(FRAME_SAMPLES - filled);
            out[filled..filled + n].copy_from_slice(&data[local..local + n]);
            filled += n;
            pos += n;
            if self.looping && pos >= self.total {
                pos = 0;
            }
        }
    }
}

/// Hands out 20 ms phases spread evenly over the frame, one per leg (the k-th leg gets
/// `frac(k × 0.618…) × 20 ms`, a low-discrepancy sequence: any number of legs covers the frame
/// nearly evenly). Shared by the legs of a process (cheap to clone).
#[derive(Debug, Clone)]
pub struct FrameGrid {
    inner: Arc<(Instant, AtomicU64)>,
}

impl Default for FrameGrid {
    fn default() -> Self {
        FrameGrid::new()
    }
}

impl FrameGrid {
    /// A grid whose epoch is now.
    pub fn new() -> Self {
        FrameGrid {
            inner: Arc::new((Instant::now(), AtomicU64::new(0))),
        }
    }

    /// The anchor of the next leg (see [`Playback::on_grid`]).
    pub fn next_anchor(&self) -> Instant {
        let k = self.inner.1.fetch_add(1, Ordering::Relaxed);
        self.inner.0 + phase(k)
    }
}

/// `frac(k × (√5 − 1)/2) × FRAME`, in whole nanoseconds.
fn phase(k: u64) -> Duration {
    // 0.618… in 64-bit fixed point; the wrapping product keeps the fraction.
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    let frac = k.wrapping_mul(GOLDEN);
    Duration::from_nanos(((u128::from(frac) * FRAME.as_nanos()) >> 64) as u64)
}

/// The first instant `≥ t` of the form `anchor + k × FRAME` (k may be negative).
pub fn next_on_grid(anchor: Instant, t: Instant) -> Instant {
    let frame = FRAME.as_nanos();
    match t.checked_duration_since(anchor) {
        Some(d) => {
            let k = d.as_nanos().div_ceil(frame);
            anchor + Duration::from_nanos((k * frame) as u64)
        }
        None => {
            // t before anchor: step back whole frames from the anchor.
            let k = (anchor - t).as_nanos() / frame;
            anchor - Duration::from_nanos((k * frame) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::ulaw_encode;

    fn ramp(name: &str, n: usize, base: i16) -> Prompt {
        Prompt::from_samples(name, (0..n).map(|i| base + i as i16).collect())
    }

    #[test]
    fn frames_are_paced_from_start_without_drift() {
        let t0 = Instant::now();
        // Ten minutes of audio.
        let p = Prompt::from_samples("long", vec![0; 8000 * 600]);
        let mut pb = Playback::new(t0, vec![p], Codec::Pcmu, false);
        let mut count = 0u64;
        let mut now = t0;
        // The driver always wakes 3 ms late; deadlines stay on the 20 ms grid.
        while let Some(due) = pb.poll_timeout() {
            now = due + Duration::from_millis(3);
            let f = pb.poll_frame(now).unwrap();
            assert_eq!(f.at, t0 + FRAME * count as u32);
            assert_eq!(f.marker, count == 0);
            count += 1;
        }
        assert_eq!(count, 30_000);
        assert_eq!(
            now,
            t0 + Duration::from_secs(600) - FRAME + Duration::from_millis(3)
        );
    }

    #[test]
    fn frames_sent_ahead_keep_their_deadline_and_wake_the_driver_early() {
        let t0 = Instant::now();
        let ahead = Duration::from_millis(8);
        let p = Prompt::from_samples("p", vec![0; 160 * 10]);
        let mut pb = Playback::new(t0, vec![p], Codec::Pcmu, false).send_ahead(ahead);
        assert_eq!(pb.poll_frame(t0).unwrap().at, t0);
        assert_eq!(pb.poll_timeout(), Some(t0 + FRAME - ahead));
        assert!(
            pb.poll_frame(t0 + FRAME - ahead - Duration::from_micros(1))
                .is_none()
        );
        let f = pb.poll_frame(t0 + FRAME - ahead).unwrap();
        assert_eq!(f.at, t0 + FRAME, "the frame still carries its own deadline");
        assert!(pb.poll_frame(t0 + FRAME).is_none(), "only one frame ahead");
    }

    #[test]
    fn playback_on_a_grid_starts_at_the_next_grid_instant() {
        let anchor = Instant::now();
        let t = anchor + Duration::from_millis(47);
        let p = Prompt::from_samples("p", vec![0; 160 * 10]);
        let mut pb = Playback::new(t, vec![p], Codec::Pcmu, false).on_grid(anchor);
        assert_eq!(pb.poll_timeout(), Some(anchor + Duration::from_millis(60)));
        assert!(pb.poll_frame(t).is_none());
        let f = pb.poll_frame(anchor + Duration::from_millis(60)).unwrap();
        assert!(f.marker);
        assert_eq!(next_on_grid(anchor, anchor + FRAME), anchor + FRAME);
        assert_eq!(
            next_on_grid(anchor + Duration::from_millis(45), anchor),
            anchor + Duration::from_millis(5)
        );
    }

    #[test]
    fn grid_phases_cover_the_frame_evenly_for_any_number_of_legs() {
        for legs in [4u64, 100, 2000] {
            let mut per_ms = [0u64; 20];
            for k in 0..legs {
                let p = phase(k);
                assert!(p < FRAME);
                per_ms[(p.as_millis()) as usize] += 1;
            }
            let even = legs as f64 / 20.0;
            let worst = per_ms
                .iter()
                .map(|c| (*c as f64 - even).abs())
                .fold(0.0, f64::max);
            assert!(worst <= even * 0.2 + 1.0, "{legs} legs: {per_ms:?}");
        }
        let g = FrameGrid::new();
        let (a, b) = (g.next_anchor(), g.next_anchor());
        assert_ne!(a, b);
    }

    #[test]
    fn prompts_are_concatenated_and_last_frame_padded() {
        let t0 = Instant::now();
        let a = ramp("a", 100, 0);
        let b = ramp("b", 100, 1000);
        let mut pb = Playback::new(t0, vec![a, b], Codec::Pcmu, false);
        let f1 = pb.poll_frame(t0).unwrap();
        assert_eq!(f1.payload[99], ulaw_encode(99));
        assert_eq!(f1.payload[100], ulaw_encode(1000));
        assert_eq!(f1.payload[159], ulaw_encode(1059));
        assert!(pb.poll_frame(t0).is_none(), "second frame not yet due");
        let f2 = pb.poll_frame(t0 + FRAME).unwrap();
        assert!(!f2.marker);
        assert_eq!(f2.payload[39], ulaw_encode(1099));
        assert_eq!(f2.payload[40], ULAW_SILENCE);
        assert!(pb.is_finished());
        assert_eq!(pb.poll_timeout(), None);
    }

    #[test]
    fn late_driver_skips_instead_of_bursting() {
        let t0 = Instant::now();
        let p = Prompt::from_samples("p", vec![0; 160 * 100]);
        let mut pb = Playback::new(t0, vec![p], Codec::Pcma, false);
        pb.poll_frame(t0).unwrap();
        // One second late.
        let now = t0 + Duration::from_secs(1);
        let f = pb.poll_frame(now).unwrap();
        assert_eq!(f.at, t0 + Duration::from_secs(1));
        assert_eq!(pb.skipped, 49);
        // A small delay is caught up frame by frame.
        let now = t0 + Duration::from_millis(1070);
        let mut n = 0;
        while pb.poll_frame(now).is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn looping_wraps_around() {
        let t0 = Instant::now();
        let p = ramp("p", 100, 0);
        let mut pb = Playback::new(t0, vec![p], Codec::Pcmu, true);
        let f = pb.poll_frame(t0).unwrap();
        assert_eq!(f.payload[100], ulaw_encode(0));
        assert_eq!(f.payload[159], ulaw_encode(59));
        for i in 1..1000u32 {
            assert!(pb.poll_frame(t0 + FRAME * i).is_some());
        }
        assert!(!pb.is_finished());
    }

    #[test]
    fn empty_prompts_inside_a_sequence_are_skipped() {
        let t0 = Instant::now();
        let e = Prompt::from_samples("empty", vec![]);
        let mut pb = Playback::new(
            t0,
            vec![
                e.clone(),
                ramp("a", 100, 0),
                e.clone(),
                e,
                ramp("b", 100, 500),
            ],
            Codec::Pcmu,
            false,
        );
        let f = pb.poll_frame(t0).unwrap();
        assert_eq!(f.payload[0], ulaw_encode(0));
        assert_eq!(f.payload[100], ulaw_encode(500));
        assert!(pb.poll_frame(t0 + FRAME).is_some());
        assert!(pb.is_finished());
    }

    #[test]
    fn empty_sequence_is_finished() {
        let pb = Playback::new(Instant::now(), vec![], Codec::Pcmu, false);
        assert!(pb.is_finished());
    }
}
