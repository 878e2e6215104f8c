//! Prompt playback pacing: a sequence of prompts played back-to-back as one stream of 20 ms /
//! 160-sample G.711 frames (RFC 3551 §4.5.14, ptime 20). Deadlines are `start + n × 20 ms`, so
//! the schedule never drifts however long it runs. Sans-I/O: the caller supplies `now`.

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
            skipped: 0,
        }
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

    /// When the next frame is due (`None` when finished).
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_finished()).then(|| self.deadline(self.sent))
    }

    /// The next frame if due at `now`.
    pub fn poll_frame(&mut self, now: Instant) -> Option<Frame> {
        if self.is_finished() {
            return None;
        }
        let mut at = self.deadline(self.sent);
        if now < at {
            return None;
        }
        let behind = (now - at).as_millis() as u64 / FRAME.as_millis() as u64;
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
