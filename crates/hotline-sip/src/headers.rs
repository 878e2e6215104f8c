//! Small typed views over header values (RFC 3261 §20, §25.1 grammar): Via, name-addr
//! (From/To/Contact), CSeq, parameters and comma-separated lists. Values are taken from
//! [`crate::message::Message`] after compact forms and folding were normalised.

use std::net::SocketAddr;

use crate::method::Method;

/// A `;name=value` parameter list; a valueless parameter has `None`.
pub type Params = Vec<(String, Option<String>)>;

/// Why a header value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{header}: {why}")]
pub struct HeaderError {
    /// Canonical header name.
    pub header: &'static str,
    /// Human readable reason, used in the Warning of a 400.
    pub why: &'static str,
}

fn err(header: &'static str, why: &'static str) -> HeaderError {
    HeaderError { header, why }
}

/// Splits a header value on commas that are outside quoted strings and `<...>`.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_quote, mut in_angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            ',' if !in_quote && !in_angle => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out
}

/// Parses `;a=b;c` (leading `;` optional). Empty parameter names are an error.
pub fn parse_params(header: &'static str, s: &str) -> Result<Params, HeaderError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let s = s.strip_prefix(';').unwrap_or(s);
    let mut out = Vec::new();
    for part in split_outside_quotes(s, ';') {
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().to_string())),
            None => (part.trim(), None),
        };
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(err(header, "empty or invalid parameter name"));
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    Ok(out)
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_quote, mut escaped, mut start) = (false, false, 0);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            c if c == sep && !in_quote => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Looks up a parameter by (lower-case) name.
pub fn param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_deref())
}

/// RFC 3261 `token` characters.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// One Via value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Protocol version, e.g. `2.0`.
    pub version: String,
    /// Transport token, upper-cased.
    pub transport: String,
    /// sent-by host.
    pub host: String,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters (branch, rport, received, ...).
    pub params: Params,
}

impl Via {
    /// Parses one Via value (not a comma list).
    pub fn parse(value: &str) -> Result<Via, HeaderError> {
        const H: &str = "Via";
        let (proto, rest) = split_protocol(value).ok_or(err(H, "bad sent-protocol"))?;
        let (name, version, transport) = proto;
        if !name.eq_ignore_ascii_case("SIP") {
            return Err(err(H, "protocol is not SIP"));
        }
        let rest = rest.trim_start();
        let (sent_by, params) = match rest.find(';') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = parse_host_port(sent_by.trim()).ok_or(err(H, "bad sent-by"))?;
        let params = parse_params(H, params)?;
        Ok(Via {
            version: version.to_string(),
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    /// The branch parameter, if any.
    pub fn branch(&self) -> Option<&str> {
        param(&self.params, "branch").flatten()
    }

    /// `host[:port]` as written.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Splits `SIP / 2.0 / UDP rest` into its three protocol tokens (LWS around `/` allowed).
fn split_protocol(value: &str) -> Option<((&str, &str, &str), &str)> {
    let mut parts = Vec::with_capacity(3);
    let mut rest = value.trim_start();
    for i in 0..3 {
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(rest.len());
        let tok = &rest[..end];
        if tok.is_empty() || !tok.chars().all(is_token_char) {
            return None;
        }
        parts.push(tok);
        rest = rest[end..].trim_start();
        if i < 2 {
            rest = rest.strip_prefix('/')?.trim_start();
        }
    }
    Some(((parts[0], parts[1], parts[2]), rest))
}

/// Parses `host`, `host:port`, `[v6]`, `[v6]:port`.
pub fn parse_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if s.is_empty() {
        return None;
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &s[..end + 2];
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.trim().parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.trim().parse().ok()?)),
            None => (s, None),
        }
    };
    let host = host.trim();
    if host.is_empty()
        || host.contains(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
    {
        return None;
    }
    Some((host.to_string(), port))
}

/// A name-addr or addr-spec with header parameters (From, To, Contact, Route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name without quotes, if any.
    pub display: Option<String>,
    /// The URI text (inside the angle brackets when bracketed).
    pub uri: String,
    /// Whether the URI was written in `<...>`.
    pub bracketed: bool,
    /// Header parameters (after the URI).
    pub params: Params,
}

impl NameAddr {
    /// Parses one name-addr / addr-spec value for `header`.
    pub fn parse(header: &'static str, value: &str) -> Result<NameAddr, HeaderError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(err(header, "empty value"));
        }
        let (display, after_display) = if let Some(rest) = v.strip_prefix('"') {
            let end = closing_quote(rest).ok_or(err(header, "unterminated quoted string"))?;
            (Some(rest[..end].to_string()), rest[end + 1..].trim_start())
        } else if let Some(lt) = v.find('<') {
            let d = v[..lt].trim();
            if !d.split_whitespace().all(|w| w.chars().all(is_token_char)) {
                return Err(err(header, "display name must be a token or quoted string"));
            }
            ((!d.is_empty()).then(|| d.to_string()), &v[lt..])
        } else {
            (None, v)
        };
        if let Some(rest) = after_display.strip_prefix('<') {
            let end = rest.find('>').ok_or(err(header, "missing '>'"))?;
            let uri = &rest[..end];
            if uri.is_empty() || uri.contains(char::is_whitespace) {
                return Err(err(header, "whitespace in URI"));
            }
            let params = parse_params(header, &rest[end + 1..])?;
            Ok(NameAddr {
                display,
                uri: uri.to_string(),
                bracketed: true,
                params,
            })
        } else {
            if display.is_some() {
                return Err(err(header, "display name without <URI>"));
            }
            // addr-spec: the URI ends at the first ';' (RFC 3261 §20.10).
            let (uri, params) = match after_display.find(';') {
                Some(i) => (&after_display[..i], &after_display[i..]),
                None => (after_display, ""),
            };
            let uri = uri.trim();
            if uri.is_empty()
                || uri.contains(|c: char| c.is_whitespace() || c == '?' || c == ',' || c == '"')
                || !uri.contains(':')
            {
                return Err(err(header, "malformed addr-spec"));
            }
            Ok(NameAddr {
                display: None,
                uri: uri.to_string(),
                bracketed: false,
                params: parse_params(header, params)?,
            })
        }
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        param(&self.params, "tag").flatten()
    }

    /// URI scheme, lower-cased.
    pub fn scheme(&self) -> String {
        uri_scheme(&self.uri)
    }
}

/// Index of the closing quote in `s` (which starts after the opening quote).
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some(i);
        }
    }
    None
}

/// Lower-cased scheme of a URI (`sip`, `sips`, `tel`, ...), empty if none.
pub fn uri_scheme(uri: &str) -> String {
    uri.split_once(':')
        .map(|(s, _)| s.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// CSeq: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (≤ 2^32-1).
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1234 INVITE`; numbers beyond 2^32-1 are rejected.
    pub fn parse(value: &str) -> Result<CSeq, HeaderError> {
        let mut it = value.split_whitespace();
        let num = it.next().ok_or(err("CSeq", "empty"))?;
        let method = it.next().ok_or(err("CSeq", "missing method"))?;
        if it.next().is_some() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("CSeq", "malformed"));
        }
        let seq: u32 = num
            .parse()
            .map_err(|_| err("CSeq", "number out of range"))?;
        Ok(CSeq {
            seq,
            method: Method::from_token(method),
        })
    }
}

/// Best-effort host:port of a `sip:` URI, for sending to a Contact without DNS.
pub fn uri_socket_addr(uri: &str) -> Option<SocketAddr> {
    let rest = uri.split_once(':')?.1;
    let rest = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let end = rest.find([';', '?', '>']).unwrap_or(rest.len());
    let (host, port) = parse_host_port(&rest[..end])?;
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some(SocketAddr::new(ip, port.unwrap_or(5060)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_lws_and_params() {
        let v = Via::parse("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "192.0.2.2");
        assert_eq!(v.branch(), Some("390skdjuw"));
        let v = Via::parse("SIP/2.0/UDP [2001:db8::9]:5070;rport;branch=z9hG4bKx").unwrap();
        assert_eq!(v.port, Some(5070));
        assert_eq!(param(&v.params, "rport"), Some(None));
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse("From", "\"J R \\\"\" <sip:j@example.com>;tag = 98").unwrap();
        assert_eq!(n.uri, "sip:j@example.com");
        assert_eq!(n.tag(), Some("98"));
        let n = NameAddr::parse("To", "sip:a@b.com;tag=1").unwrap();
        assert!(!n.bracketed);
        assert_eq!(n.tag(), Some("1"));
        assert!(NameAddr::parse("To", "\"unterminated <sip:a@b>").is_err());
        assert!(NameAddr::parse("To", "<sip:a @b>").is_err());
        assert!(NameAddr::parse("To", "Bell, Alexander <sip:a@b>").is_err());
    }

    #[test]
    fn cseq_range() {
        assert_eq!(CSeq::parse("0009 INVITE").unwrap().seq, 9);
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("1").is_err());
    }

    #[test]
    fn list_split_respects_quotes() {
        assert_eq!(
            split_list("\"a,b\" <sip:x>, <sip:y,z>"),
            vec!["\"a,b\" <sip:x>", "<sip:y,z>"]
        );
    }

    #[test]
    fn contact_addr() {
        assert_eq!(
            uri_socket_addr("sip:alice@127.0.0.1:5090;transport=udp"),
            Some("127.0.0.1:5090".parse().unwrap())
        );
    }
}
