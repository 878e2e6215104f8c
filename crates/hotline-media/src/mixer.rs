//! Two-party mixer for bridge recordings: the audio heard from each leg is summed (with
//! saturation) into one 8 kHz mono stream. A side that stops sending is treated as silence
//! after a short lag so the recording keeps real time.

use std::collections::VecDeque;

use crate::wav::{SampleSink, WavError};

/// Which leg of a bridge the audio came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// First leg (caller).
    A,
    /// Second leg (agent).
    B,
}

/// How far one side may run ahead of the other before the other is taken as silent (200 ms).
const MAX_LAG: usize = 1600;

/// Mixes two sides into a sink.
pub struct Mixer {
    a: VecDeque<i16>,
    b: VecDeque<i16>,
    sink: Option<Box<dyn SampleSink + Send>>,
    written: u64,
    error: Option<WavError>,
    scratch: Vec<i16>,
}

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixer")
            .field("written", &self.written)
            .finish()
    }
}

impl Mixer {
    /// A mixer writing to `sink`.
    pub fn new(sink: Box<dyn SampleSink + Send>) -> Self {
        Mixer {
            a: VecDeque::new(),
            b: VecDeque::new(),
            sink: Some(sink),
            written: 0,
            error: None,
            scratch: Vec::new(),
        }
    }

    /// Samples written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Adds audio from one side.
    pub fn push(&mut self, side: Side, samples: &[i16]) {
        match side {
            Side::A => self.a.extend(samples),
            Side::B => self.b.extend(samples),
        }
        self.drain(false);
    }

    fn drain(&mut self, all: bool) {
        let both = self.a.len().min(self.b.len());
        let longest = self.a.len().max(self.b.len());
        let n = if all {
            longest
        } else if longest > MAX_LAG {
            longest - MAX_LAG / 2
        } else {
            both
        };
        if n == 0 {
            return;
        }
        self.scratch.clear();
        for _ in 0..n {
            let x = i32::from(self.a.pop_front().unwrap_or(0))
                + i32::from(self.b.pop_front().unwrap_or(0));
            self.scratch
                .push(x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16);
        }
        if let Some(sink) = self.sink.as_mut()
            && self.error.is_none()
        {
            match sink.write(&self.scratch) {
                Ok(()) => self.written += n as u64,
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// Writes what is left and closes the sink. Returns samples written.
    pub fn finish(&mut self) -> Result<u64, WavError> {
        self.drain(true);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(sink) = self.sink.take() {
            sink.finish(self.written > 0)?;
        }
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Mem(Arc<Mutex<Vec<i16>>>);
    impl SampleSink for Mem {
        fn write(&mut self, s: &[i16]) -> Result<(), WavError> {
            self.0.lock().unwrap().extend_from_slice(s);
            Ok(())
        }
        fn finish(self: Box<Self>, _keep: bool) -> Result<(), WavError> {
            Ok(())
        }
    }

    #[test]
    fn mixes_and_saturates() {
        let mem = Mem::default();
        let mut m = Mixer::new(Box::new(mem.clone()));
        m.push(Side::A, &[100; 160]);
        assert_eq!(m.written(), 0);
        m.push(Side::B, &[20_000; 160]);
        m.push(Side::A, &[20_000; 160]);
        m.push(Side::B, &[20_000; 160]);
        let out = mem.0.lock().unwrap().clone();
        assert_eq!(out.len(), 320);
        assert_eq!(out[0], 20_100);
        assert_eq!(out[200], i16::MAX);
    }

    #[test]
    fn silent_side_does_not_stall() {
        let mem = Mem::default();
        let mut m = Mixer::new(Box::new(mem.clone()));
        for _ in 0..50 {
            m.push(Side::A, &[7; 160]);
        }
        assert!(mem.0.lock().unwrap().len() >= 50 * 160 - MAX_LAG);
        assert_eq!(m.finish().unwrap(), 8000);
        assert_eq!(mem.0.lock().unwrap().len(), 8000);
    }
}
