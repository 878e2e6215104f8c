//! The SIP message model (RFC 3261 §7): start line, ordered headers under canonical names,
//! an opaque body; serialisation and response construction (§8.2.6).

use std::fmt::Write as _;

use bytes::Bytes;

use crate::headers::{CSeq, HeaderError, NameAddr, Via, split_list};
pub use crate::method::Method;

/// Largest message we accept or emit (UDP and TCP).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// First line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD uri SIP/2.0`
    Request {
        /// Method.
        method: Method,
        /// Request-URI text.
        uri: String,
    },
    /// `SIP/2.0 code reason`
    Response {
        /// Status code 100..=699.
        code: u16,
        /// Reason phrase (opaque).
        reason: String,
    },
}

/// A header line after normalisation (canonical name, unfolded value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Canonical name (`Call-ID`, `Via`, ...); unknown names keep their spelling.
    pub name: String,
    /// Value with folding replaced by single spaces, trimmed.
    pub value: String,
}

/// A parsed (or locally built) SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request or status line.
    pub start: StartLine,
    /// Headers in order of appearance; Content-Length is recomputed on output.
    pub headers: Vec<Header>,
    /// Body bytes, framed by Content-Length.
    pub body: Bytes,
}

impl Message {
    /// A new request with no headers.
    pub fn request(method: Method, uri: impl Into<String>) -> Message {
        Message {
            start: StartLine::Request {
                method,
                uri: uri.into(),
            },
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Builds a response to `req` (§8.2.6.2): copies Via, From, To, Call-ID, CSeq; adds `to_tag`
    /// to To when it has none.
    pub fn response_to(req: &Message, code: u16, to_tag: Option<&str>) -> Message {
        let mut m = Message {
            start: StartLine::Response {
                code,
                reason: reason_phrase(code).to_string(),
            },
            headers: Vec::new(),
            body: Bytes::new(),
        };
        for h in &req.headers {
            match h.name.as_str() {
                "Via" => m.push("Via", h.value.clone()),
                "From" | "Call-ID" | "CSeq" if m.header(&h.name).is_none() => {
                    m.push(&h.name.clone(), h.value.clone())
                }
                "To" if m.header("To").is_none() => {
                    let has_tag = NameAddr::parse("To", &h.value)
                        .map(|n| n.tag().is_some())
                        .unwrap_or(true);
                    let value = match to_tag {
                        Some(tag) if !has_tag => format!("{};tag={tag}", h.value),
                        _ => h.value.clone(),
                    };
                    m.push("To", value);
                }
                _ => {}
            }
        }
        m
    }

    /// Appends a header.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push(Header {
            name: name.to_string(),
            value: value.into(),
        });
    }

    /// Sets the body and its Content-Type.
    pub fn set_body(&mut self, content_type: &str, body: Bytes) {
        self.headers.retain(|h| h.name != "Content-Type");
        if !body.is_empty() {
            self.push("Content-Type", content_type);
        }
        self.body = body;
    }

    /// First value of a header (canonical name, case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// All values of a header, comma lists split.
    pub fn header_list(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| split_list(&h.value))
            .collect()
    }

    /// Number of header lines with this name.
    pub fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .count()
    }

    /// Method of a request, or of the CSeq for a response.
    pub fn method(&self) -> Option<Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method.clone()),
            StartLine::Response { .. } => self.cseq().ok().map(|c| c.method),
        }
    }

    /// Status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// Request-URI of a request.
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// Topmost Via.
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        let v = self.header_list("Via");
        let first = v.first().ok_or(HeaderError {
            header: "Via",
            why: "missing",
        })?;
        Via::parse(first)
    }

    /// Parsed CSeq.
    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        CSeq::parse(self.header("CSeq").ok_or(HeaderError {
            header: "CSeq",
            why: "missing",
        })?)
    }

    /// Call-ID value.
    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// Parsed From.
    pub fn from_addr(&self) -> Result<NameAddr, HeaderError> {
        NameAddr::parse("From", self.header("From").unwrap_or(""))
    }

    /// Parsed To.
    pub fn to_addr(&self) -> Result<NameAddr, HeaderError> {
        NameAddr::parse("To", self.header("To").unwrap_or(""))
    }

    /// Content-Type, lower-cased, without parameters.
    pub fn content_type(&self) -> Option<String> {
        self.header("Content-Type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// Serialises with a correct Content-Length.
    pub fn to_bytes(&self) -> Bytes {
        let mut s = String::with_capacity(512 + self.body.len());
        match &self.start {
            StartLine::Request { method, uri } => {
                let _ = write!(s, "{method} {uri} SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                let _ = write!(s, "SIP/2.0 {code} {reason}\r\n");
            }
        }
        for h in self.headers.iter().filter(|h| h.name != "Content-Length") {
            let _ = write!(s, "{}: {}\r\n", h.name, h.value);
        }
        let _ = write!(s, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        Bytes::from(out)
    }
}

/// Default reason phrases (RFC 3261 §21 and extensions).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Unknown",
    }
}
