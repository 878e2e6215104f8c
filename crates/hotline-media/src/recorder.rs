//! Recording state machine: max length, end on a key or after N seconds of silence (mean
//! absolute amplitude under a threshold), minimum length (shorter recordings are discarded
//! and their file removed — never a 0-byte message). Samples go to a [`SampleSink`]; the
//! file sink is in [`crate::wav`]. Time is injected.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::wav::{SampleSink, WavError};

/// Silence end condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilenceSpec {
    /// End after this much continuous silence.
    pub duration: Duration,
    /// A 20 ms frame whose mean |sample| is below this is silence (e.g. 300 ≈ -40 dBFS).
    pub threshold: u16,
}

/// How to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// Stop after this long.
    pub max_duration: Duration,
    /// Stop after this much silence, if set.
    pub silence: Option<SilenceSpec>,
    /// Recordings shorter than this are discarded.
    pub min_duration: Duration,
    /// Keys that end the recording (the key itself is not recorded).
    pub end_keys: String,
}

impl Default for RecordSpec {
    fn default() -> Self {
        RecordSpec {
            max_duration: Duration::from_secs(120),
            silence: Some(SilenceSpec {
                duration: Duration::from_secs(5),
                threshold: 300,
            }),
            min_duration: Duration::from_secs(1),
            end_keys: "#".to_owned(),
        }
    }
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEnd {
    /// An end key.
    Key(char),
    /// Silence for the configured time.
    Silence,
    /// `max_duration` reached.
    MaxDuration,
    /// Stopped by the application or hangup.
    Stopped,
}

/// The result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// File kept.
    Saved {
        /// The file.
        path: PathBuf,
        /// Audio length.
        duration: Duration,
        /// Why it ended.
        end: RecordEnd,
    },
    /// Too short: file removed.
    Discarded {
        /// Audio length.
        duration: Duration,
        /// Why it ended.
        end: RecordEnd,
    },
}

/// A recording in progress.
pub struct Recorder {
    spec: RecordSpec,
    path: PathBuf,
    sink: Option<Box<dyn SampleSink + Send>>,
    start: Instant,
    samples: u64,
    last_voice: Instant,
    end: Option<RecordEnd>,
    error: Option<WavError>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("samples", &self.samples)
            .field("end", &self.end)
            .finish()
    }
}

impl Recorder {
    /// Starts recording at `now` into `sink` (whose file is `path`).
    pub fn new(
        now: Instant,
        spec: RecordSpec,
        path: PathBuf,
        sink: Box<dyn SampleSink + Send>,
    ) -> Self {
        Recorder {
            spec,
            path,
            sink: Some(sink),
            start: now,
            samples: 0,
            last_voice: now,
            end: None,
            error: None,
        }
    }

    fn max_samples(&self) -> u64 {
        self.spec.max_duration.as_millis() as u64 * 8
    }

    /// True once ended.
    pub fn is_done(&self) -> bool {
        self.end.is_some()
    }

    /// Received audio (already decoded).
    pub fn handle_audio(&mut self, now: Instant, samples: &[i16]) {
        if self.end.is_some() {
            return;
        }
        let room = self.max_samples().saturating_sub(self.samples) as usize;
        let take = &samples[..samples.len().min(room)];
        if let Some(sink) = self.sink.as_mut()
            && let Err(e) = sink.write(take)
        {
            self.error = Some(e);
            self.end = Some(RecordEnd::Stopped);
            return;
        }
        self.samples += take.len() as u64;
        if let Some(s) = self.spec.silence {
            let energy = if take.is_empty() {
                0
            } else {
                take.iter()
                    .map(|x| u64::from(x.unsigned_abs()))
                    .sum::<u64>()
                    / take.len() as u64
            };
            if energy >= u64::from(s.threshold) {
                self.last_voice = now;
            }
        }
        if self.samples >= self.max_samples() {
            self.end = Some(RecordEnd::MaxDuration);
        }
        self.handle_timeout(now);
    }

    /// A key was pressed.
    pub fn handle_digit(&mut self, _now: Instant, digit: char) {
        if self.end.is_none() && self.spec.end_keys.contains(digit) {
            self.end = Some(RecordEnd::Key(digit));
        }
    }

    /// Stops (hangup, application).
    pub fn stop(&mut self) {
        self.end.get_or_insert(RecordEnd::Stopped);
    }

    /// Next deadline (max length by wall clock, silence).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        let max = self.start + self.spec.max_duration;
        Some(match self.spec.silence {
            Some(s) => max.min(self.last_voice + s.duration),
            None => max,
        })
    }

    /// Advances time.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.end.is_some() {
            return;
        }
        if now >= self.start + self.spec.max_duration {
            self.end = Some(RecordEnd::MaxDuration);
        } else if let Some(s) = self.spec.silence
            && now >= self.last_voice + s.duration
        {
            self.end = Some(RecordEnd::Silence);
        }
    }

    /// Closes the file (or removes it when too short) and reports.
    pub fn finish(mut self) -> Result<RecordOutcome, WavError> {
        let end = self.end.unwrap_or(RecordEnd::Stopped);
        let duration = Duration::from_micros(self.samples * 125);
        let keep = self.samples > 0 && duration >= self.spec.min_duration;
        let res = match self.sink.take() {
            Some(sink) => sink.finish(keep),
            None => Ok(()),
        };
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        res?;
        Ok(if keep {
            RecordOutcome::Saved {
                path: self.path,
                duration,
                end,
            }
        } else {
            RecordOutcome::Discarded { duration, end }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::tests::temp_path;
    use crate::wav::WavFileSink;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Mem(Arc<Mutex<(Vec<i16>, Option<bool>)>>);
    impl SampleSink for Mem {
        fn write(&mut self, s: &[i16]) -> Result<(), WavError> {
            self.0.lock().unwrap().0.extend_from_slice(s);
            Ok(())
        }
        fn finish(self: Box<Self>, keep: bool) -> Result<(), WavError> {
            self.0.lock().unwrap().1 = Some(keep);
            Ok(())
        }
    }

    const F: Duration = Duration::from_millis(20);

    fn spec() -> RecordSpec {
        RecordSpec {
            max_duration: Duration::from_secs(10),
            silence: Some(SilenceSpec {
                duration: Duration::from_secs(2),
                threshold: 300,
            }),
            min_duration: Duration::from_secs(1),
            end_keys: "#".into(),
        }
    }

    fn run(rec: &mut Recorder, t0: Instant, frames: u32, level: i16) -> Instant {
        let mut now = t0;
        for i in 0..frames {
            now = t0 + F * i;
            rec.handle_audio(now, &[level; 160]);
            if rec.is_done() {
                break;
            }
        }
        now
    }

    #[test]
    fn ends_on_silence() {
        let t0 = Instant::now();
        let mem = Mem::default();
        let mut rec = Recorder::new(t0, spec(), "x.wav".into(), Box::new(mem.clone()));
        let t = run(&mut rec, t0, 150, 2000); // 3 s of voice
        let t = run(&mut rec, t + F, 500, 10); // then silence
        assert!(rec.is_done());
        assert!(t - t0 >= Duration::from_millis(4960) && t - t0 < Duration::from_millis(5100));
        let out = rec.finish().unwrap();
        assert!(
            matches!(
                out,
                RecordOutcome::Saved {
                    end: RecordEnd::Silence,
                    ..
                }
            ),
            "{out:?}"
        );
        assert_eq!(mem.0.lock().unwrap().1, Some(true));
    }

    #[test]
    fn silence_also_ends_when_no_packets_arrive() {
        let t0 = Instant::now();
        let mut rec = Recorder::new(t0, spec(), "x.wav".into(), Box::new(Mem::default()));
        assert_eq!(rec.poll_timeout(), Some(t0 + Duration::from_secs(2)));
        rec.handle_timeout(t0 + Duration::from_secs(2));
        assert!(rec.is_done());
        // Nothing recorded: discarded, never a 0-byte message.
        assert!(matches!(
            rec.finish().unwrap(),
            RecordOutcome::Discarded { .. }
        ));
    }

    #[test]
    fn key_ends_and_short_recording_is_discarded() {
        let t0 = Instant::now();
        let mem = Mem::default();
        let mut rec = Recorder::new(t0, spec(), "x.wav".into(), Box::new(mem.clone()));
        let t = run(&mut rec, t0, 25, 3000); // 0.5 s
        rec.handle_digit(t, '5');
        assert!(!rec.is_done());
        rec.handle_digit(t, '#');
        assert!(rec.is_done());
        let out = rec.finish().unwrap();
        assert_eq!(
            out,
            RecordOutcome::Discarded {
                duration: Duration::from_millis(500),
                end: RecordEnd::Key('#')
            }
        );
        assert_eq!(mem.0.lock().unwrap().1, Some(false));
    }

    #[test]
    fn max_duration_caps_samples() {
        let t0 = Instant::now();
        let mut s = spec();
        s.silence = None;
        s.max_duration = Duration::from_secs(1);
        let mem = Mem::default();
        let mut rec = Recorder::new(t0, s, "x.wav".into(), Box::new(mem.clone()));
        // Peer sends faster than real time: the cap is by samples too.
        for _ in 0..100 {
            rec.handle_audio(t0, &[1000; 160]);
        }
        assert!(rec.is_done());
        assert_eq!(mem.0.lock().unwrap().0.len(), 8000);
        let out = rec.finish().unwrap();
        assert!(matches!(
            out,
            RecordOutcome::Saved {
                end: RecordEnd::MaxDuration,
                ..
            }
        ));
    }

    #[test]
    fn to_a_real_file() {
        let t0 = Instant::now();
        let path = temp_path("rec-real.wav");
        let sink = WavFileSink::create(&path).unwrap();
        let mut rec = Recorder::new(t0, spec(), path.clone(), Box::new(sink));
        run(&mut rec, t0, 100, 1234);
        rec.handle_digit(t0 + Duration::from_secs(2), '#');
        let out = rec.finish().unwrap();
        assert!(matches!(out, RecordOutcome::Saved { .. }));
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.len(), 16_000);
        // Too short: the file disappears.
        let path = temp_path("rec-short.wav");
        let sink = WavFileSink::create(&path).unwrap();
        let mut rec = Recorder::new(t0, spec(), path.clone(), Box::new(sink));
        run(&mut rec, t0, 10, 1234);
        rec.stop();
        assert!(matches!(
            rec.finish().unwrap(),
            RecordOutcome::Discarded { .. }
        ));
        assert!(!path.exists());
    }
}
