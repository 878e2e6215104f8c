//! Stream framing for SIP over TCP (RFC 3261 §18.3): a message ends after its header block
//! plus Content-Length bytes. Incomplete input is a normal outcome (`Ok(None)`); a missing,
//! negative, duplicate or over-large Content-Length is fatal for the connection.

use bytes::{Buf, Bytes, BytesMut};

use crate::message::MAX_MESSAGE;
use crate::parse::{canonical_name, parse_content_length};

/// Why the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Header block or announced message larger than 64 KiB.
    #[error("message larger than 64 KiB")]
    TooLarge,
    /// No Content-Length header (mandatory on streams).
    #[error("missing Content-Length on a stream transport")]
    MissingContentLength,
    /// Two or more Content-Length headers.
    #[error("duplicate Content-Length")]
    DuplicateContentLength,
    /// Non-numeric or negative Content-Length.
    #[error("invalid Content-Length: {0}")]
    InvalidContentLength(String),
}

/// Accumulates bytes of one TCP connection and cuts them into messages.
#[derive(Debug, Default)]
pub struct Framer {
    buf: BytesMut,
}

impl Framer {
    /// An empty framer.
    pub fn new() -> Framer {
        Framer::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        // CRLF keep-alives between messages (RFC 5626 §3.5.1) are skipped.
        let skip = self
            .buf
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .unwrap_or(self.buf.len());
        self.buf.advance(skip);
        let Some(head_end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.buf.len() > MAX_MESSAGE {
                return Err(FrameError::TooLarge);
            }
            return Ok(None);
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]);
        let mut found: Option<Result<usize, String>> = None;
        for line in head.split("\r\n").skip(1) {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if canonical_name(name.trim()) == "Content-Length" {
                if found.is_some() {
                    return Err(FrameError::DuplicateContentLength);
                }
                found = Some(parse_content_length(value));
            }
        }
        let len = match found {
            None => return Err(FrameError::MissingContentLength),
            Some(Err(e)) if e.contains("too large") => return Err(FrameError::TooLarge),
            Some(Err(e)) => return Err(FrameError::InvalidContentLength(e)),
            Some(Ok(n)) => n,
        };
        let total = head_end + 4 + len;
        if total > MAX_MESSAGE {
            return Err(FrameError::TooLarge);
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(self.buf.split_to(total).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\n\r\nhello";

    #[test]
    fn byte_by_byte_then_whole() {
        let mut f = Framer::new();
        let mut frames = Vec::new();
        let stream: Vec<u8> = [b"\r\n\r\n".as_slice(), MSG, MSG].concat();
        for b in &stream {
            f.push(&[*b]);
            while let Some(m) = f.next_frame().unwrap() {
                frames.push(m);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(&frames[0][..], MSG);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn incomplete_is_not_an_error() {
        let mut f = Framer::new();
        f.push(&MSG[..MSG.len() - 1]);
        assert_eq!(f.next_frame(), Ok(None));
    }

    #[test]
    fn bad_lengths_close() {
        let case = |cl: &str| {
            let mut f = Framer::new();
            f.push(format!("OPTIONS sip:a@b SIP/2.0\r\n{cl}\r\n\r\n").as_bytes());
            f.next_frame()
        };
        assert!(matches!(
            case("Content-Length: -999"),
            Err(FrameError::InvalidContentLength(_))
        ));
        assert_eq!(
            case("Content-Length: 13\r\nl: 5"),
            Err(FrameError::DuplicateContentLength)
        );
        assert_eq!(case("Content-Length: 99999999"), Err(FrameError::TooLarge));
        assert_eq!(case("X: y"), Err(FrameError::MissingContentLength));
    }

    #[test]
    fn endless_header_block_is_too_large() {
        let mut f = Framer::new();
        f.push(&vec![b'a'; MAX_MESSAGE + 1]);
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge));
    }
}
