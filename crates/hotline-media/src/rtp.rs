//! RTP fixed header parsing and writing (RFC 3550 §5.1), RTCP demultiplexing (RFC 5761 §4)
//! and u16/u32 wrap-around arithmetic for sequence numbers and timestamps (RFC 3550 §A.1).
//!
//! Parsing never panics: every length is checked against the datagram.

/// Why a datagram was not accepted as RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpParseError {
    /// Shorter than the 12-byte fixed header (or than its CSRC list / extension).
    #[error("datagram too short for RTP")]
    TooShort,
    /// Version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// Padding count larger than the payload.
    #[error("bad RTP padding")]
    BadPadding,
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
    /// Parses a datagram.
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpParseError> {
        if data.len() < 12 {
            return Err(RtpParseError::TooShort);
        }
        let version = data[0] >> 6;
        if version != 2 {
            return Err(RtpParseError::BadVersion(version));
        }
        let padding = data[0] & 0x20 != 0;
        let extension = data[0] & 0x10 != 0;
        let csrc_count = usize::from(data[0] & 0x0F);
        let mut offset = 12 + 4 * csrc_count;
        if data.len() < offset {
            return Err(RtpParseError::TooShort);
        }
        if extension {
            let ext = data
                .get(offset..offset + 4)
                .ok_or(RtpParseError::TooShort)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            offset += 4 + 4 * words;
            if data.len() < offset {
                return Err(RtpParseError::TooShort);
            }
        }
        let mut end = data.len();
        if padding {
            let pad = usize::from(data[end - 1]);
            if pad == 0 || pad > end - offset {
                return Err(RtpParseError::BadPadding);
            }
            end -= pad;
        }
        Ok(RtpPacket {
            marker: data[1] & 0x80 != 0,
            payload_type: data[1] & 0x7F,
            sequence: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            payload: &data[offset..end],
        })
    }

    /// Serialises the packet (no CSRCs, no extension, no padding) into `out`, replacing its contents.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(12 + self.payload.len());
        out.push(0x80);
        out.push((u8::from(self.marker) << 7) | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(self.payload);
    }

    /// Serialises into a fresh vector.
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

/// True when sequence `b` is after `a` (modulo 2^16).
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
    fn csrc_extension_and_padding() {
        let mut b = vec![0x80 | 0x20 | 0x10 | 0x01, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        b.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        b.extend_from_slice(&[0xBE, 0xDE, 0, 1, 7, 7, 7, 7]); // extension of 1 word
        b.extend_from_slice(&[42, 43]); // payload
        b.extend_from_slice(&[0, 0, 3]); // padding of 3
        let p = RtpPacket::parse(&b).unwrap();
        assert_eq!(p.payload, &[42, 43]);
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
        // Every prefix of a good packet and a byte soup.
        let good = sample();
        for n in 0..good.len() {
            let _ = RtpPacket::parse(&good[..n]);
        }
        let mut x: u32 = 1;
        for _ in 0..2000 {
            let mut buf = [0u8; 40];
            for b in buf.iter_mut() {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (x >> 16) as u8;
            }
            let _ = RtpPacket::parse(&buf[..(x as usize % 40)]);
        }
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
    }
}
