//! In-band DTMF detection with the Goertzel algorithm (ITU-T Q.23/Q.24 frequencies), for peers
//! that negotiate no telephone-event. Works on 205-sample blocks at 8 kHz; a digit must be seen
//! in two consecutive blocks to count and is reported once until two blocks without it.

const BLOCK: usize = 205;
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Minimum mean square of a block (about -40 dBm0 per tone).
const MIN_ENERGY: f32 = 200.0 * 200.0;

/// Streaming in-band DTMF detector.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    coeffs: [f32; 8],
    block: Vec<f32>,
    last: Option<char>,
    hits: u32,
    misses: u32,
    reported: Option<char>,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

fn goertzel_power(samples: &[f32], coeff: f32) -> f32 {
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

impl InbandDetector {
    /// New detector for 8 kHz audio.
    pub fn new() -> Self {
        let mut coeffs = [0.0; 8];
        for (c, f) in coeffs.iter_mut().zip(ROWS.iter().chain(COLS.iter())) {
            *c = 2.0 * (2.0 * std::f32::consts::PI * f / 8000.0).cos();
        }
        InbandDetector {
            coeffs,
            block: Vec::with_capacity(BLOCK),
            last: None,
            hits: 0,
            misses: 0,
            reported: None,
        }
    }

    /// Feeds samples; returns digits newly detected, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<char> {
        let mut out = Vec::new();
        for &s in samples {
            self.block.push(f32::from(s));
            if self.block.len() == BLOCK {
                let d = self.classify();
                self.block.clear();
                if let Some(d) = self.step(d) {
                    out.push(d);
                }
            }
        }
        out
    }

    fn classify(&self) -> Option<char> {
        let energy: f32 = self.block.iter().map(|x| x * x).sum();
        if energy / (BLOCK as f32) < MIN_ENERGY {
            return None;
        }
        let mut p = [0.0f32; 8];
        for (pi, c) in p.iter_mut().zip(self.coeffs) {
            // Normalised so that a pure sine gives ≈ 1.0.
            *pi = goertzel_power(&self.block, c) / (energy * BLOCK as f32 / 2.0);
        }
        let best = |s: &[f32]| {
            let mut idx = 0;
            for i in 1..4 {
                if s[i] > s[idx] {
                    idx = i;
                }
            }
            idx
        };
        let (r, c) = (best(&p[..4]), best(&p[4..]));
        let (pr, pc) = (p[r], p[4 + c]);
        // Both tones present, they hold most of the energy, twist within ~8 dB,
        // and no second strong tone in the same group.
        if pr < 0.1 || pc < 0.1 || pr + pc < 0.6 {
            return None;
        }
        if pr > 6.3 * pc || pc > 6.3 * pr {
            return None;
        }
        let others_r = p[..4]
            .iter()
            .enumerate()
            .any(|(i, v)| i != r && *v > pr / 6.3);
        let others_c = p[4..]
            .iter()
            .enumerate()
            .any(|(i, v)| i != c && *v > pc / 6.3);
        if others_r || others_c {
            return None;
        }
        Some(KEYS[r][c])
    }

    fn step(&mut self, d: Option<char>) -> Option<char> {
        if d.is_some() && d == self.last {
            self.hits += 1;
        } else {
            self.hits = u32::from(d.is_some());
        }
        self.last = d;
        if d.is_none() || d != self.reported {
            self.misses += 1;
        } else {
            self.misses = 0;
        }
        if self.reported.is_some() && self.misses >= 2 {
            self.reported = None;
        }
        if self.hits >= 2 && self.reported.is_none() {
            self.reported = d;
            self.misses = 0;
            return d;
        }
        None
    }
}

/// Generates a DTMF tone (two sines, each at `amplitude`) for tests and in-band sending.
pub fn dtmf_tone(digit: char, samples: usize, amplitude: f32) -> Option<Vec<i16>> {
    let (r, c) = KEYS.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|k| *k == digit.to_ascii_uppercase())
            .map(|c| (r, c))
    })?;
    let w = |f: f32, n: usize| (2.0 * std::f32::consts::PI * f * n as f32 / 8000.0).sin();
    Some(
        (0..samples)
            .map(|n| (amplitude * (w(ROWS[r], n) + w(COLS[c], n))) as i16)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(digits: &str, tone_ms: usize, gap_ms: usize, amp: f32) -> Vec<i16> {
        let mut v = Vec::new();
        for d in digits.chars() {
            v.extend(dtmf_tone(d, tone_ms * 8, amp).unwrap());
            v.extend(std::iter::repeat_n(0i16, gap_ms * 8));
        }
        v
    }

    #[test]
    fn detects_every_key_once() {
        let keys = "0123456789*#ABCD";
        let audio = sequence(keys, 100, 100, 6000.0);
        let mut det = InbandDetector::new();
        let got: String = audio.chunks(160).flat_map(|c| det.push(c)).collect();
        assert_eq!(got, keys);
    }

    #[test]
    fn repeated_digit_needs_a_gap_and_long_tone_counts_once() {
        let mut audio = dtmf_tone('7', 8000, 4000.0).unwrap(); // one second
        audio.extend(std::iter::repeat_n(0i16, 480));
        audio.extend(dtmf_tone('7', 640, 4000.0).unwrap());
        let mut det = InbandDetector::new();
        let got: String = det.push(&audio).into_iter().collect();
        assert_eq!(got, "77");
    }

    #[test]
    fn quiet_tones_single_tones_and_noise_are_ignored() {
        let mut det = InbandDetector::new();
        assert!(det.push(&sequence("5", 100, 50, 50.0)).is_empty());
        let single: Vec<i16> = (0..1600)
            .map(|n| {
                (8000.0 * (2.0 * std::f32::consts::PI * 697.0 * n as f32 / 8000.0).sin()) as i16
            })
            .collect();
        assert!(det.push(&single).is_empty());
        let mut x: u32 = 7;
        let noise: Vec<i16> = (0..8000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((x >> 16) as i16) / 4
            })
            .collect();
        assert!(det.push(&noise).is_empty());
    }

    #[test]
    fn survives_g711_companding() {
        let audio = sequence("159#", 80, 80, 5000.0);
        let coded: Vec<i16> = audio
            .iter()
            .map(|s| crate::g711::alaw_decode(crate::g711::alaw_encode(*s)))
            .collect();
        let mut det = InbandDetector::new();
        let got: String = det.push(&coded).into_iter().collect();
        assert_eq!(got, "159#");
    }
}
