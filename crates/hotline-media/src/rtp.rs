//! RTP packets (RFC 3550 §5.1) on top of the [`rtp_rs`] crate, RTCP demultiplexing (RFC 5761 §4)
//! and u16/u32 wrap-around arithmetic for sequence numbers and timestamps (RFC 3550 §A.1).
//!
//! What rtp-rs does: [`rtp_rs::RtpReader`] checks the version and the lengths and steps over
//! the CSRC list, the header extension and the padding of every packet we receive;
//! [`rtp_rs::RtpPacketBuilder`] writes every packet we send. What stays ours: the
//! [`RtpPacket`] view the rest of the crate uses (payload type, marker, sequence, timestamp,
//! SSRC, payload: what to do with them is decided in [`crate::session`] and
//! [`crate::leg_core`]), the typed [`RtpParseError`], RTCP demultiplexing, and the wrap-safe
//! [`seq_delta`] / [`seq_after`] / [`ts_delta`]: rtp-rs's `Seq` ordering is not a total order
//! across wrap-around (`Seq(0) < Seq(32768)` and `Seq(32768) < Seq(0)` both hold), so it is not
//! used.
//!
//! Parsing never panics: rtp-rs checks every length against the datagram and its errors are
//! mapped to [`RtpParseError`].

use rtp_rs::{RtpPacketBuilder, RtpReader, RtpReaderError, Seq};

/// Why a datagram was not accepted as RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpParseError {
    /// Shorter than the 12-byte fixed header (or than its CSRC list / extension).
    #[error("datagram too short for RTP")]
    TooShort,
    /// Version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// Padding count zero or larger than the payload.
    #[error("bad RTP padding")]
    BadPadding,
}

impl From<RtpReaderError> for RtpParseError {
    fn from(e: RtpReaderError) -> Self {
        match e {
            RtpReaderError::BufferTooShort(_) | RtpReaderError::HeadersTruncated { .. } => {
                RtpParseError::TooShort
            }
            RtpReaderError::UnsupportedVersion(v) => RtpParseError::BadVersion(v),
            RtpReaderError::PaddingLengthInvalid(_) => RtpParseError::BadPadding,
        }
    }
}

/// A parsed RTP packet borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload, without CSRCs, header extension and padding.
    pub payload: &'a [u8],
}

/// True when the datagram is RTCP multiplexed on the RTP port (RFC 5761 §4:
/// second byte 192-223; SR/RR/SDES/BYE/APP are 200-204).
pub fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] >> 6 == 2 && (192..=223).contains(&data[1])
}

impl<'a> RtpPacket<'a> {
    /// Parses a datagram with [`RtpReader`]. CSRCs and the header extension are skipped (we
    /// mix nothing and negotiate no extension), padding is removed from the payload.
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpParseError> {
        let reader = RtpReader::new(data)?;
        Ok(RtpPacket {
            marker: reader.mark(),
            payload_type: reader.payload_type(),
            sequence: reader.sequence_number().into(),
            timestamp: reader.timestamp(),
            ssrc: reader.ssrc(),
            payload: reader.payload(),
        })
    }

    /// The rtp-rs builder for this packet (no CSRCs, no extension, no padding; the payload
    /// type is cut to its 7 bits, as it is on the wire).
    fn builder(&self) -> RtpPacketBuilder<'a> {
        RtpPacketBuilder::new()
            .payload_type(self.payload_type & 0x7F)
            .marked(self.marker)
            .sequence(Seq::from(self.sequence))
            .timestamp(self.timestamp)
            .ssrc(self.ssrc)
            .payload(self.payload)
    }

    /// Serialises the packet (no CSRCs, no extension, no padding) into `out`, replacing its
    /// contents; `out`'s allocation is reused when it is large enough.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let builder = self.builder();
        out.clear();
        out.resize(builder.target_length(), 0);
        // The checks of `build_into` cannot fail here: `out` has the target length, the
        // payload type has 7 bits and there is no extension. Skipping them keeps this
        // infallible (and panic-free: the buffer is exactly as long as the builder writes).
        let written = builder.build_into_unchecked(out);
        debug_assert_eq!(written, out.len());
    }

    /// Serialises into a fresh vector (one allocation of the exact length).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }
}

/// Signed distance `b - a` between two sequence numbers, modulo 2^16.
pub fn seq_delta(a: u16, b: u16) -> i16 {
    b.wrapping_sub(a) as i16
}

/// True when sequence `b` is after `a` (modulo 2^16). Exactly half the range apart, neither
/// is after the other.
pub fn seq_after(a: u16, b: u16) -> bool {
    seq_delta(a, b) > 0
}

/// Signed distance `b - a` between two timestamps, modulo 2^32.
pub fn ts_delta(a: u32, b: u32) -> i32 {
    b.wrapping_sub(a) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::Pad;

    fn sample() -> Vec<u8> {
        RtpPacket {
            marker: true,
            payload_type: 8,
            sequence: 65535,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x0102_0304,
            payload: &[1, 2, 3],
        }
        .to_vec()
    }

    #[test]
    fn roundtrip() {
        let b = sample();
        let p = RtpPacket::parse(&b).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, 8);
        assert_eq!(p.sequence, 65535);
        assert_eq!(p.timestamp, 0xDEAD_BEEF);
        assert_eq!(p.ssrc, 0x0102_0304);
        assert_eq!(p.payload, &[1, 2, 3]);
    }

    #[test]
    fn writes_the_rfc3550_fixed_header_byte_for_byte() {
        // V=2, no padding/extension/CSRC; M=1, PT=8; seq; timestamp; SSRC; payload.
        assert_eq!(
            sample(),
            [
                0x80, 0x88, 0xFF, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 1, 2, 3
            ]
        );
        // A payload type above 127 cannot be written: it is cut to its 7 bits, the marker
        // is untouched.
        let b = RtpPacket {
            marker: false,
            payload_type: 0x80 | 101,
            sequence: 1,
            timestamp: 2,
            ssrc: 3,
            payload: &[],
        }
        .to_vec();
        assert_eq!(b[1], 101);
        assert_eq!(b.len(), 12);
    }

    #[test]
    fn write_to_reuses_the_buffer() {
        let mut out = Vec::with_capacity(256);
        let ptr = out.as_ptr();
        for payload in [&[7u8; 160][..], &[9u8; 4][..]] {
            RtpPacket {
                marker: false,
                payload_type: 0,
                sequence: 1,
                timestamp: 2,
                ssrc: 3,
                payload,
            }
            .write_to(&mut out);
            assert_eq!(out.len(), 12 + payload.len());
            assert_eq!(&out[12..], payload);
            assert_eq!(out.as_ptr(), ptr, "no new allocation");
        }
    }

    #[test]
    fn csrc_extension_and_padding() {
        let mut b = vec![0x80 | 0x20 | 0x10 | 0x01, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        b.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        b.extend_from_slice(&[0xBE, 0xDE, 0, 1, 7, 7, 7, 7]); // extension of 1 word
        b.extend_from_slice(&[42, 43]); // payload
        b.extend_from_slice(&[0, 0, 3]); // padding of 3
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(p.payload, &[42, 43]);
        assert_eq!((p.sequence, p.timestamp, p.ssrc), (1, 2, 3));
    }

    /// A conference mixer (RFC 3550 §7.1) lists the talkers as CSRCs: the SSRC is the
    /// mixer's, the payload starts after the list.
    #[test]
    fn csrc_list_from_a_mixer() {
        let mut b = vec![
            0x82, 0x00, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xAA, 0xBB, 0xCC, 0xDD,
        ];
        b.extend_from_slice(&[0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22]);
        b.extend_from_slice(&[0xFF; 160]);
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(p.ssrc, 0xAABB_CCDD);
        assert_eq!(p.sequence, 0x1234);
        assert_eq!(p.timestamp, 320);
        assert_eq!(p.payload, &[0xFF; 160][..]);
        // The full list of 15, also as rtp-rs's builder writes it.
        let csrcs: Vec<u32> = (1..=15).collect();
        let built = RtpPacketBuilder::new()
            .payload_type(0)
            .ssrc(5)
            .set_csrc(&csrcs)
            .payload(&[1, 2, 3])
            .build()
            .unwrap();
        assert_eq!(built[0] & 0x0F, 15);
        let p = RtpPacket::parse(&built).unwrap();
        assert_eq!((p.ssrc, p.payload), (5, &[1u8, 2, 3][..]));
        // A list announced longer than the datagram.
        assert_eq!(
            RtpPacket::parse(&built[..12 + 4 * 14]),
            Err(RtpParseError::TooShort)
        );
    }

    /// WebRTC gateways send RFC 8285 header extensions even when none was negotiated
    /// (one-byte form 0xBEDE, e.g. RFC 6464 audio level; two-byte form 0x100x).
    #[test]
    fn header_extensions_one_and_two_byte_forms() {
        let header = [0x90, 0x00, 0, 7, 0, 0, 0x03, 0x20, 0, 0, 0, 9];
        // One-byte form: ID 1, length 1 (L=0), level 0x80|30, two bytes of padding.
        let mut one = header.to_vec();
        one.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 0x10, 0x9E, 0x00, 0x00]);
        one.extend_from_slice(&[0xD5; 160]);
        let p = RtpPacket::parse(&one).unwrap();
        assert_eq!((p.sequence, p.timestamp, p.ssrc), (7, 800, 9));
        assert_eq!(p.payload, &[0xD5; 160][..]);
        // Two-byte form with two words of elements.
        let mut two = header.to_vec();
        two.extend_from_slice(&[0x10, 0x00, 0x00, 0x02, 1, 3, 0xA, 0xB, 0xC, 0, 0, 0]);
        two.extend_from_slice(&[0x55; 80]);
        assert_eq!(RtpPacket::parse(&two).unwrap().payload, &[0x55; 80][..]);
        // An extension header of zero words is allowed.
        let mut empty = header.to_vec();
        empty.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x00, 42]);
        assert_eq!(RtpPacket::parse(&empty).unwrap().payload, &[42]);
        // Extension words announced beyond the datagram, and a cut extension header.
        let mut long = header.to_vec();
        long.extend_from_slice(&[0xBE, 0xDE, 0x01, 0x00, 1, 2, 3, 4]);
        assert_eq!(RtpPacket::parse(&long), Err(RtpParseError::TooShort));
        assert_eq!(RtpPacket::parse(&one[..14]), Err(RtpParseError::TooShort));
    }

    #[test]
    fn padding_is_removed_and_checked() {
        // As rtp-rs pads to a multiple of 4: 12 + 5 payload bytes + 3 of padding.
        let padded = RtpPacketBuilder::new()
            .payload_type(0)
            .payload(&[1, 2, 3, 4, 5])
            .padded(Pad::round_to(4))
            .build()
            .unwrap();
        assert_eq!(padded.len(), 20);
        assert_ne!(padded[0] & 0x20, 0);
        assert_eq!(RtpPacket::parse(&padded).unwrap().payload, &[1, 2, 3, 4, 5]);
        // Padding may take everything after the header (SRTP-style keep-alive).
        let mut all = vec![0xA0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        all.extend_from_slice(&[0, 0, 0, 4]);
        assert_eq!(RtpPacket::parse(&all).unwrap().payload, &[] as &[u8]);
        // A count of zero, or more than there is after the header.
        *all.last_mut().unwrap() = 0;
        assert_eq!(RtpPacket::parse(&all), Err(RtpParseError::BadPadding));
        *all.last_mut().unwrap() = 5;
        assert_eq!(RtpPacket::parse(&all), Err(RtpParseError::BadPadding));
        // Padding flag with nothing after the header.
        assert_eq!(RtpPacket::parse(&all[..12]), Err(RtpParseError::TooShort));
    }

    #[test]
    fn everything_rtp_rs_builds_we_parse() {
        let csrcs = [0x0A0B_0C0D, 0x0102_0304];
        let ext = [0x10, 0x9E, 0, 0, 0x21, 1, 2, 0];
        for pad in [0u8, 2, 4, 8] {
            for ncsrc in 0..=2 {
                for with_ext in [false, true] {
                    let mut b = RtpPacketBuilder::new()
                        .payload_type(101)
                        .marked(true)
                        .sequence(Seq::from(65_535))
                        .timestamp(u32::MAX)
                        .ssrc(0x5EED)
                        .set_csrc(&csrcs[..ncsrc])
                        .payload(&[9, 8, 7]);
                    if with_ext {
                        b = b.extension(0xBEDE, &ext);
                    }
                    if pad > 0 {
                        b = b.padded(Pad::round_to(pad));
                    }
                    let bytes = b.build().unwrap();
                    let p = RtpPacket::parse(&bytes).unwrap();
                    assert_eq!(
                        (p.marker, p.payload_type, p.sequence, p.timestamp, p.ssrc),
                        (true, 101, 65_535, u32::MAX, 0x5EED),
                        "pad {pad}, {ncsrc} CSRCs, extension {with_ext}"
                    );
                    assert_eq!(p.payload, &[9, 8, 7]);
                }
            }
        }
    }

    #[test]
    fn garbage_is_rejected_without_panic() {
        assert_eq!(RtpPacket::parse(&[]), Err(RtpParseError::TooShort));
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpParseError::TooShort));
        assert_eq!(
            RtpPacket::parse(&[0x40; 20]),
            Err(RtpParseError::BadVersion(1))
        );
        // 15 CSRCs announced, none present.
        assert_eq!(RtpPacket::parse(&[0x8F; 20]), Err(RtpParseError::TooShort));
        // Padding byte larger than the packet.
        let mut b = sample();
        b[0] |= 0x20;
        *b.last_mut().unwrap() = 200;
        assert_eq!(RtpPacket::parse(&b), Err(RtpParseError::BadPadding));
        // Extension header truncated.
        let b = [0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xBE, 0xDE, 0, 9];
        assert_eq!(RtpPacket::parse(&b), Err(RtpParseError::TooShort));
        // Every prefix of a good packet and a byte soup; half of it with version 2 and random
        // P/X/CC bits, so that rtp-rs's CSRC, extension and padding checks all run.
        let good = sample();
        for n in 0..good.len() {
            let parsed = RtpPacket::parse(&good[..n]);
            if n < 12 {
                assert_eq!(parsed, Err(RtpParseError::TooShort));
            } else {
                assert_eq!(parsed.unwrap().payload, &good[12..n]);
            }
        }
        let mut x: u32 = 1;
        let mut accepted = 0;
        for i in 0..20_000 {
            let mut buf = [0u8; 64];
            for b in buf.iter_mut() {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (x >> 16) as u8;
            }
            if i % 2 == 0 {
                buf[0] = 0x80 | (buf[0] & 0x3F);
            }
            // The high bits: an LCG's low 6 bits repeat every 64 steps.
            let len = (x >> 16) as usize % 65;
            if let Ok(p) = RtpPacket::parse(&buf[..len]) {
                accepted += 1;
                assert!(p.payload.len() <= 64 - 12);
            }
        }
        assert!(accepted > 0, "the soup should contain some valid packets");
    }

    #[test]
    fn rtcp_demux() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 201, 0, 1]));
        assert!(!is_rtcp(&[0x80, 0, 0, 1]));
        assert!(!is_rtcp(&[0x80, 0x80 | 8, 0, 1]));
        assert!(!is_rtcp(&[0x80]));
    }

    #[test]
    fn wrap_arithmetic() {
        assert_eq!(seq_delta(65535, 0), 1);
        assert!(seq_after(65535, 2));
        assert!(!seq_after(2, 65535));
        assert_eq!(ts_delta(u32::MAX - 79, 80), 160);
        // Exactly half the range apart: neither is after the other.
        assert!(!seq_after(0, 32768) && !seq_after(32768, 0));
        assert!(!seq_after(40_000, 7_232) && !seq_after(7_232, 40_000));
    }

    /// Why `seq_after` is ours: rtp-rs's `Seq` says each of two sequence numbers half the
    /// range apart is less than the other, which breaks `Ord` (sorting, `BTreeMap`, `max`).
    /// If this starts failing, rtp-rs has fixed it and its `Seq` could be reconsidered.
    #[test]
    fn rtp_rs_seq_ordering_is_not_antisymmetric() {
        let (a, b) = (Seq::from(0), Seq::from(32768));
        assert!(a < b && b < a);
    }
}
