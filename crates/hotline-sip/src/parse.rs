//! Parsing a message from bytes (RFC 3261 §7, §18.3 framing, RFC 4475 robustness): unfold
//! header lines, map compact and odd-case names to canonical ones, frame the body by
//! Content-Length, check the mandatory headers and ranges, and cross-check with `rsip`.
//! A malformed request yields [`ParseError::BadRequest`] carrying what is needed for a 400.

use bytes::Bytes;

use crate::headers::{HeaderError, NameAddr, Via, is_token_char, uri_scheme};
use crate::message::{Header, MAX_MESSAGE, Message, Method, StartLine};

/// Why bytes did not become a usable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Only CRLF keep-alives or whitespace.
    #[error("keep-alive or empty datagram")]
    Empty,
    /// Not a message we can answer (no request line or no Via): drop it.
    #[error("unparseable message dropped: {0}")]
    Unparseable(String),
    /// A malformed response: responses are never answered, drop it.
    #[error("malformed response dropped: {0}")]
    BadResponse(String),
    /// A malformed request that can be answered with `status` (400 or 505).
    #[error("bad request ({status}): {why}")]
    BadRequest {
        /// 400 or 505.
        status: u16,
        /// Reason, sent in a Warning header.
        why: String,
        /// The request as far as it could be read (used to build the response).
        request: Box<Message>,
    },
}

impl ParseError {
    /// The error response to send, if any (§8.2, Warning 399 with the reason).
    pub fn reply(&self, to_tag: &str) -> Option<Message> {
        match self {
            ParseError::BadRequest {
                status,
                why,
                request,
            } => {
                let mut r = Message::response_to(request, *status, Some(to_tag));
                let why: String = why
                    .chars()
                    .map(|c| if c == '"' || c.is_control() { '\'' } else { c })
                    .collect();
                r.push("Warning", format!("399 hotline \"{why}\""));
                Some(r)
            }
            _ => None,
        }
    }
}

/// Canonical name for a header name as received (compact forms of RFC 3261 §7.3.3 and
/// extensions, case-insensitive long names).
pub fn canonical_name(name: &str) -> String {
    const COMPACT: [(&str, &str); 20] = [
        ("i", "Call-ID"),
        ("v", "Via"),
        ("f", "From"),
        ("t", "To"),
        ("l", "Content-Length"),
        ("m", "Contact"),
        ("c", "Content-Type"),
        ("k", "Supported"),
        ("s", "Subject"),
        ("e", "Content-Encoding"),
        ("o", "Event"),
        ("u", "Allow-Events"),
        ("r", "Refer-To"),
        ("b", "Referred-By"),
        ("x", "Session-Expires"),
        ("a", "Accept-Contact"),
        ("j", "Reject-Contact"),
        ("d", "Request-Disposition"),
        ("y", "Identity"),
        ("n", "Identity-Info"),
    ];
    const LONG: [&str; 38] = [
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Error-Info",
        "Event",
        "Expires",
        "From",
        "Max-Forwards",
        "Min-Expires",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "Reason",
        "Record-Route",
        "Require",
        "Route",
        "Server",
        "Subject",
        "Supported",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
    ];
    if name.len() == 1
        && let Some((_, long)) = COMPACT.iter().find(|(c, _)| c.eq_ignore_ascii_case(name))
    {
        return (*long).to_string();
    }
    if name.eq_ignore_ascii_case("WWW-Authenticate") {
        return "WWW-Authenticate".to_string();
    }
    match LONG.iter().find(|l| l.eq_ignore_ascii_case(name)) {
        Some(l) => (*l).to_string(),
        None => name.to_string(),
    }
}

/// Headers that must appear at most once.
const SINGLE: [&str; 6] = [
    "Call-ID",
    "CSeq",
    "From",
    "To",
    "Max-Forwards",
    "Content-Type",
];

/// Parses one message. `datagram` says whether the bytes are a whole UDP datagram (a missing
/// Content-Length then means "to the end"); for stream frames the framer already cut the bytes.
pub fn parse(bytes: &[u8], datagram: bool) -> Result<Message, ParseError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(ParseError::Unparseable("message larger than 64 KiB".into()));
    }
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(ParseError::Empty)?;
    let bytes = &bytes[start..];
    let (head, body_start) = match find(bytes, b"\r\n\r\n") {
        Some(i) => (&bytes[..i], i + 4),
        None => match find(bytes, b"\n\n") {
            Some(i) => (&bytes[..i], i + 2),
            None => (bytes, bytes.len()),
        },
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");

    // Headers first, leniently, so an error response can still copy Via/From/To/Call-ID/CSeq.
    let mut headers: Vec<Header> = Vec::new();
    let mut first_error: Option<String> = None;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some(h) => {
                    if !h.value.is_empty() {
                        h.value.push(' ');
                    }
                    h.value.push_str(line.trim());
                }
                None => {
                    first_error.get_or_insert("continuation line before any header".into());
                }
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) => {
                let name = name.trim_end();
                if name.is_empty() || !name.chars().all(is_token_char) {
                    first_error.get_or_insert(format!("invalid header name '{name}'"));
                    continue;
                }
                headers.push(Header {
                    name: canonical_name(name),
                    value: value.trim().to_string(),
                });
            }
            None => {
                first_error.get_or_insert("header line without ':'".into());
            }
        }
    }

    let is_response = first.starts_with("SIP/") || first.starts_with("sip/");
    if is_response {
        let msg = parse_response_line(first, headers)?;
        let body =
            frame_body(&msg, bytes, body_start, datagram).map_err(ParseError::BadResponse)?;
        let msg = Message { body, ..msg };
        if let Some(e) = first_error {
            return Err(ParseError::BadResponse(e));
        }
        check_common(&msg).map_err(|e| ParseError::BadResponse(e.to_string()))?;
        rsip_check(&msg).map_err(ParseError::BadResponse)?;
        return Ok(msg);
    }

    // Request line: exactly three elements separated by single spaces (RFC 4475 §3.1.2.9/10).
    let parts: Vec<&str> = first.split(' ').collect();
    let method_token = parts.first().copied().unwrap_or("");
    if method_token.is_empty() || !method_token.chars().all(is_token_char) {
        return Err(ParseError::Unparseable("no request line".into()));
    }
    let method = Method::from_token(method_token);
    let uri = parts.get(1).copied().unwrap_or("").to_string();
    let mut msg = Message {
        start: StartLine::Request { method, uri },
        headers,
        body: Bytes::new(),
    };
    if msg.count("Via") == 0 {
        return Err(ParseError::Unparseable("request without Via".into()));
    }
    let bad = |status: u16, why: String, msg: &Message| ParseError::BadRequest {
        status,
        why,
        request: Box::new(msg.clone()),
    };
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad(400, "malformed Request-Line".into(), &msg));
    }
    let version = parts[2];
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        let looks_like_version = version.len() > 4
            && version.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/")
            && version
                .bytes()
                .skip(4)
                .all(|c| c.is_ascii_digit() || c == b'.');
        let status = if looks_like_version { 505 } else { 400 };
        return Err(bad(status, format!("unsupported version {version}"), &msg));
    }
    match frame_body(&msg, bytes, body_start, datagram) {
        Ok(body) => msg.body = body,
        Err(why) => return Err(bad(400, why, &msg)),
    }
    if let Some(e) = first_error {
        return Err(bad(400, e, &msg));
    }
    if let Err(e) = check_common(&msg) {
        return Err(bad(400, e.to_string(), &msg));
    }
    if let Err(why) = check_request(&msg) {
        return Err(bad(400, why, &msg));
    }
    if let Err(why) = rsip_check(&msg) {
        return Err(bad(400, why, &msg));
    }
    Ok(msg)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_response_line(first: &str, headers: Vec<Header>) -> Result<Message, ParseError> {
    let mut it = first.splitn(3, ' ');
    let version = it.next().unwrap_or("");
    let code = it.next().unwrap_or("");
    let reason = it.next().unwrap_or("").to_string();
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(ParseError::BadResponse(format!("version {version}")));
    }
    let code: u16 = match code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) {
        true => code.parse().unwrap_or(0),
        false => 0,
    };
    if !(100..=699).contains(&code) {
        return Err(ParseError::BadResponse("status code out of range".into()));
    }
    Ok(Message {
        start: StartLine::Response { code, reason },
        headers,
        body: Bytes::new(),
    })
}

/// Body framing by Content-Length (§18.3, §20.14).
fn frame_body(msg: &Message, bytes: &[u8], start: usize, datagram: bool) -> Result<Bytes, String> {
    let available = bytes.len().saturating_sub(start);
    let values: Vec<&str> = msg
        .headers
        .iter()
        .filter(|h| h.name == "Content-Length")
        .map(|h| h.value.as_str())
        .collect();
    let len = match values.as_slice() {
        [] if datagram => available,
        [] => 0,
        [v] => parse_content_length(v)?,
        _ => return Err("duplicate Content-Length".into()),
    };
    if len > available {
        return Err(format!(
            "Content-Length {len} larger than the {available} bytes present"
        ));
    }
    Ok(Bytes::copy_from_slice(&bytes[start..start + len]))
}

/// A Content-Length value: digits only, bounded by the message size limit.
pub fn parse_content_length(v: &str) -> Result<usize, String> {
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid Content-Length '{v}'"));
    }
    match v.parse::<usize>() {
        Ok(n) if n <= MAX_MESSAGE => Ok(n),
        _ => Err("Content-Length too large".into()),
    }
}

/// Checks shared by requests and responses: mandatory headers, duplicates, Via, From, To, CSeq.
fn check_common(msg: &Message) -> Result<(), HeaderError> {
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if msg.count(name) == 0 {
            return Err(HeaderError {
                header: static_name(name),
                why: "missing mandatory header",
            });
        }
    }
    for name in SINGLE {
        if msg.count(name) > 1 {
            return Err(HeaderError {
                header: static_name(name),
                why: "appears more than once",
            });
        }
    }
    for v in msg.header_list("Via") {
        Via::parse(v)?;
    }
    msg.from_addr()?;
    msg.to_addr()?;
    msg.cseq()?;
    if msg
        .call_id()
        .is_some_and(|c| c.is_empty() || c.contains(char::is_whitespace))
    {
        return Err(HeaderError {
            header: "Call-ID",
            why: "malformed",
        });
    }
    Ok(())
}

fn static_name(name: &str) -> &'static str {
    match name {
        "Via" => "Via",
        "From" => "From",
        "To" => "To",
        "Call-ID" => "Call-ID",
        "CSeq" => "CSeq",
        "Max-Forwards" => "Max-Forwards",
        _ => "Content-Type",
    }
}

/// Request-only checks: CSeq method, Max-Forwards range, Request-URI shape, Contact values.
fn check_request(msg: &Message) -> Result<(), String> {
    let StartLine::Request { method, uri } = &msg.start else {
        return Ok(());
    };
    let cseq = msg.cseq().map_err(|e| e.to_string())?;
    if !matches!(method, Method::Other(_)) && cseq.method != *method {
        return Err("CSeq method does not match the request method".into());
    }
    if let Some(mf) = msg.header("Max-Forwards") {
        let ok = !mf.is_empty()
            && mf.bytes().all(|b| b.is_ascii_digit())
            && mf.parse::<u32>().is_ok_and(|n| n <= 255);
        if !ok {
            return Err("Max-Forwards out of range".into());
        }
    }
    if uri.contains(['<', '>', '"']) || uri.contains(char::is_whitespace) {
        return Err("malformed Request-URI".into());
    }
    let scheme = uri_scheme(uri);
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err("Request-URI without scheme".into());
    }
    let host_part = uri.rsplit_once('@').map(|(_, h)| h).unwrap_or(uri);
    if (scheme == "sip" || scheme == "sips") && host_part.contains('?') {
        return Err("Request-URI must not carry headers".into());
    }
    for c in msg.header_list("Contact") {
        if c != "*" {
            NameAddr::parse("Contact", c).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Cross-check with rsip on the normalised text. rsip's URI grammar is narrower than RFC 3261
/// (it refuses `user;par=...@host`, legal per RFC 4475 §3.1.1.9), so the Request-URI is
/// checked by [`check_request`] and rsip sees a placeholder there; rsip checks the rest.
fn rsip_check(msg: &Message) -> Result<(), String> {
    let mut normalised = msg.clone();
    normalised.body = Bytes::new();
    if let StartLine::Request { method, uri } = &mut normalised.start {
        if !method.rsip_knows() {
            return Ok(());
        }
        *uri = "sip:placeholder.invalid".to_string();
    }
    let text = normalised.to_bytes();
    rsip::SipMessage::try_from(text.as_ref())
        .map(|_| ())
        .map_err(|e| format!("rsip: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
        f: <sip:alice@example.com>;tag=a\r\n\
        t: <sip:bob@example.com>\r\n\
        i: abc@10.0.0.1\r\n\
        CSeq: 1 INVITE\r\n\
        m: <sip:alice@10.0.0.1>\r\n\
        c: application/sdp\r\n\
        l: 4\r\n\r\nv=0\r\n";

    #[test]
    fn compact_forms_are_normalised() {
        let m = parse(BASIC.as_bytes(), true).unwrap();
        assert_eq!(m.call_id(), Some("abc@10.0.0.1"));
        assert_eq!(m.content_type().as_deref(), Some("application/sdp"));
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(&m.body[..], b"v=0\r");
    }

    #[test]
    fn roundtrip_is_stable() {
        let m = parse(BASIC.as_bytes(), true).unwrap();
        let again = parse(&m.to_bytes(), false).unwrap();
        assert_eq!(m, again);
    }

    #[test]
    fn bad_request_carries_reply() {
        let text = BASIC.replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
        let e = parse(text.as_bytes(), true).unwrap_err();
        let r = e.reply("x").unwrap();
        assert_eq!(r.status(), Some(400));
        assert!(r.header("Warning").unwrap().contains("CSeq"));
        assert!(r.header("To").unwrap().contains("tag=x"));
    }

    #[test]
    fn keepalive_is_empty() {
        assert_eq!(parse(b"\r\n\r\n", true), Err(ParseError::Empty));
    }

    #[test]
    fn oversized_is_dropped() {
        let big = vec![b'a'; MAX_MESSAGE + 1];
        assert!(matches!(parse(&big, true), Err(ParseError::Unparseable(_))));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 7u32;
        for n in 0..2000 {
            let mut b = BASIC.as_bytes().to_vec();
            for _ in 0..(n % 7 + 1) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let i = (seed as usize >> 8) % b.len();
                b[i] = (seed >> 16) as u8;
            }
            let _ = parse(&b, n % 2 == 0);
            let _ = parse(&b[..(seed as usize) % b.len()], true);
        }
    }
}
