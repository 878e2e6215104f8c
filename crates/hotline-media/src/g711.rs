//! G.711 µ-law (PCMU) and A-law (PCMA) companding, ITU-T G.711 / RFC 3551 §4.5.14.
//!
//! Decoding uses 256-entry tables, encoding a 16384-entry table indexed by the
//! top 14 bits of the linear sample (the low two bits never change the code).
//! All tables are built at compile time.

const ULAW_BIAS: i32 = 0x84;
const ALAW_AMI_MASK: i32 = 0x55;

/// µ-law code of digital silence.
pub const ULAW_SILENCE: u8 = 0xFF;
/// A-law code of digital silence.
pub const ALAW_SILENCE: u8 = 0xD5;

const fn top_bit(x: i32) -> i32 {
    31 - (x as u32).leading_zeros() as i32
}

/// Reference (non-table) µ-law encoder.
pub const fn linear_to_ulaw_ref(sample: i16) -> u8 {
    let (mask, linear) = if sample < 0 {
        (0x7F, ULAW_BIAS - sample as i32 - 1)
    } else {
        (0xFF, ULAW_BIAS + sample as i32)
    };
    let seg = top_bit(linear | 0xFF) - 7;
    if seg >= 8 {
        (0x7F ^ mask) as u8
    } else {
        (((seg << 4) | ((linear >> (seg + 3)) & 0xF)) ^ mask) as u8
    }
}

/// Reference (non-table) µ-law decoder.
pub const fn ulaw_to_linear_ref(code: u8) -> i16 {
    let u = !code as i32 & 0xFF;
    let t = (((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

/// Reference (non-table) A-law encoder.
pub const fn linear_to_alaw_ref(sample: i16) -> u8 {
    let (mask, linear) = if sample >= 0 {
        (ALAW_AMI_MASK | 0x80, sample as i32)
    } else {
        (ALAW_AMI_MASK, -(sample as i32) - 1)
    };
    let seg = top_bit(linear | 0xFF) - 7;
    if seg >= 8 {
        (0x7F ^ mask) as u8
    } else {
        let shift = if seg != 0 { seg + 3 } else { 4 };
        (((seg << 4) | ((linear >> shift) & 0x0F)) ^ mask) as u8
    }
}

/// Reference (non-table) A-law decoder.
pub const fn alaw_to_linear_ref(code: u8) -> i16 {
    let a = (code as i32) ^ ALAW_AMI_MASK;
    let mut i = (a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    if seg != 0 {
        i = (i + 0x108) << (seg - 1);
    } else {
        i += 8;
    }
    (if a & 0x80 != 0 { i } else { -i }) as i16
}

const fn build_decode(ulaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if ulaw {
            ulaw_to_linear_ref(i as u8)
        } else {
            alaw_to_linear_ref(i as u8)
        };
        i += 1;
    }
    t
}

const fn build_encode(ulaw: bool) -> [u8; 16384] {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        let sample = ((i as i32 - 8192) << 2) as i16;
        t[i] = if ulaw {
            linear_to_ulaw_ref(sample)
        } else {
            linear_to_alaw_ref(sample)
        };
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = build_decode(true);
static ALAW_DECODE: [i16; 256] = build_decode(false);
static ULAW_ENCODE: [u8; 16384] = build_encode(true);
static ALAW_ENCODE: [u8; 16384] = build_encode(false);

#[inline]
fn index(sample: i16) -> usize {
    ((sample >> 2) as i32 + 8192) as usize
}

/// Encodes one linear sample to µ-law.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    ULAW_ENCODE[index(sample)]
}

/// Decodes one µ-law code.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Encodes one linear sample to A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    ALAW_ENCODE[index(sample)]
}

/// Decodes one A-law code.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Direct µ-law → A-law transcoding (via linear).
#[inline]
pub fn ulaw_to_alaw(code: u8) -> u8 {
    alaw_encode(ulaw_decode(code))
}

/// Direct A-law → µ-law transcoding (via linear).
#[inline]
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ulaw_encode(alaw_decode(code))
}

use crate::sdp::Codec;

impl Codec {
    /// Decodes one code of this codec.
    #[inline]
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Codec::Pcmu => ulaw_decode(code),
            Codec::Pcma => alaw_decode(code),
        }
    }

    /// Encodes one sample with this codec.
    #[inline]
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => ulaw_encode(sample),
            Codec::Pcma => alaw_encode(sample),
        }
    }

    /// Code of digital silence.
    pub fn silence(self) -> u8 {
        match self {
            Codec::Pcmu => ULAW_SILENCE,
            Codec::Pcma => ALAW_SILENCE,
        }
    }

    /// Translates one code of `from` into this codec (identity when equal).
    #[inline]
    pub fn transcode_from(self, from: Codec, code: u8) -> u8 {
        match (from, self) {
            (Codec::Pcmu, Codec::Pcma) => ulaw_to_alaw(code),
            (Codec::Pcma, Codec::Pcmu) => alaw_to_ulaw(code),
            _ => code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ulaw_values() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        // 1000 lies in segment 3: code 0xCE decodes to 988 (ITU tables).
        assert_eq!(ulaw_encode(1000), 0xCE);
        assert_eq!(ulaw_decode(0xCE), 988);
    }

    #[test]
    fn known_alaw_values() {
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn tables_match_reference_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(ulaw_encode(s), linear_to_ulaw_ref(s), "ulaw {s}");
            assert_eq!(alaw_encode(s), linear_to_alaw_ref(s), "alaw {s}");
        }
    }

    #[test]
    fn code_roundtrip_is_identity() {
        for c in 0..=255u8 {
            // µ-law has two zero codes (0x7F, 0xFF); both decode to 0 which encodes to 0xFF.
            if c != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(c)), c, "ulaw {c:#x}");
            }
            assert_eq!(alaw_encode(alaw_decode(c)), c, "alaw {c:#x}");
        }
    }

    #[test]
    fn linear_roundtrip_error_is_bounded() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let s32 = i32::from(s);
            let eu = (i32::from(ulaw_decode(ulaw_encode(s))) - s32).abs();
            let ea = (i32::from(alaw_decode(alaw_encode(s))) - s32).abs();
            // Quantisation step is at most 1/16 of the magnitude (+ small floor).
            let bound = s32.abs() / 16 + 16;
            assert!(
                eu <= bound.max(1024) && eu <= s32.abs() / 15 + 40,
                "ulaw {s}: {eu}"
            );
            assert!(
                ea <= bound.max(1024) && ea <= s32.abs() / 15 + 40,
                "alaw {s}: {ea}"
            );
        }
    }

    #[test]
    fn transcoding_keeps_silence() {
        assert_eq!(ulaw_to_alaw(ULAW_SILENCE), ALAW_SILENCE);
        assert!(ulaw_decode(alaw_to_ulaw(ALAW_SILENCE)).abs() <= 8);
    }
}
