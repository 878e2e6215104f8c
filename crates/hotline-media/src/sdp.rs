//! SDP parsing and building (RFC 4566) and the offer/answer model (RFC 3264) for one
//! G.711 audio stream with `telephone-event` (RFC 4733 §7) — sans-I/O.
//!
//! The SIP layer carries SDP as opaque bytes; [`SessionDescription::parse`] and
//! [`SessionDescription::to_bytes`] are the boundary. [`answer_offer`] builds our answer
//! (first codec of the caller's list that we support, direction mirrored per RFC 3264 §6.1,
//! so a `sendonly` hold re-offer is answered `recvonly`); [`build_offer`] and [`accept_answer`]
//! cover calls we originate and offerless INVITEs.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

/// SDP errors. Parsing never panics; any malformed line is reported with its number (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Body is not UTF-8.
    #[error("SDP is not UTF-8")]
    NotUtf8,
    /// Body is empty or does not start with `v=0`.
    #[error("SDP does not start with v=0")]
    NoVersion,
    /// A line is not of the form `x=value` or has a bad value.
    #[error("SDP line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// No connection address for the audio stream (neither session nor media `c=`).
    #[error("no c= line for the audio stream")]
    NoConnection,
    /// The description has no usable audio stream.
    #[error("no audio stream in SDP")]
    NoAudio,
    /// The peer offers/answers no codec we support.
    #[error("no common codec (we support PCMU and PCMA)")]
    NoCommonCodec,
}

/// G.711 codecs we speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// Static payload type (RFC 3551).
    pub fn static_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }
    /// Encoding name in `a=rtpmap`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
    fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }
}

/// Media direction attribute (RFC 4566 §6, RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Send and receive (default).
    #[default]
    SendRecv,
    /// Only send.
    SendOnly,
    /// Only receive.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    fn attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    fn from_attr(a: &str) -> Option<Direction> {
        Some(match a {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
    /// The direction of the answer to an offer with this direction (RFC 3264 §6.1),
    /// limited by what we want (`local`).
    pub fn answer_to(self, local: Direction) -> Direction {
        let (peer_sends, peer_recvs) = self.flags();
        let (we_send, we_recv) = local.flags();
        Direction::from_flags(we_send && peer_recvs, we_recv && peer_sends)
    }
    /// Whether this side sends / receives.
    pub fn flags(self) -> (bool, bool) {
        match self {
            Direction::SendRecv => (true, true),
            Direction::SendOnly => (true, false),
            Direction::RecvOnly => (false, true),
            Direction::Inactive => (false, false),
        }
    }
    fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

/// `a=rtpmap:<pt> <name>/<clock>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written.
    pub encoding: String,
    /// Clock rate.
    pub clock_rate: u32,
    /// Channels, if given.
    pub channels: Option<u8>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type (`audio`, `video`, ...).
    pub media: String,
    /// Port (0 = rejected/disabled stream).
    pub port: u16,
    /// Transport (`RTP/AVP`, ...).
    pub proto: String,
    /// Format list as written (payload types for RTP).
    pub formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` lines as (payload type, parameters).
    pub fmtps: Vec<(u8, String)>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// Direction attribute, if present at media level.
    pub direction: Option<Direction>,
    /// Other attributes, verbatim after `a=`.
    pub other_attributes: Vec<String>,
}

impl MediaDescription {
    fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt < 128)
    }

    fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == pt)
    }

    /// Codec for a payload type: by rtpmap when present, else by static number.
    pub fn codec_of(&self, pt: u8) -> Option<Codec> {
        match self.rtpmap(pt) {
            Some(m) if m.clock_rate == 8000 && m.channels.unwrap_or(1) == 1 => {
                Codec::from_name(&m.encoding)
            }
            Some(_) => None,
            None => match pt {
                0 => Some(Codec::Pcmu),
                8 => Some(Codec::Pcma),
                _ => None,
            },
        }
    }

    /// Payload type of `telephone-event/8000`, if offered.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.payload_types().find(|pt| {
            self.rtpmap(*pt).is_some_and(|m| {
                m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000
            })
        })
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` line value, verbatim.
    pub origin: String,
    /// `s=` value.
    pub session_name: String,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// Media sections in order.
    pub media: Vec<MediaDescription>,
}

fn bad(line: usize, reason: &'static str) -> SdpError {
    SdpError::BadLine { line, reason }
}

fn parse_connection(value: &str, line: usize) -> Result<IpAddr, SdpError> {
    // c=IN IP4 192.0.2.1[/ttl[/n]]
    let mut it = value.split_ascii_whitespace();
    let (net, addrtype, addr) = match (it.next(), it.next(), it.next()) {
        (Some(n), Some(t), Some(a)) => (n, t, a),
        _ => return Err(bad(line, "c= needs nettype addrtype address")),
    };
    if net != "IN" {
        return Err(bad(line, "c= nettype is not IN"));
    }
    let addr = addr.split('/').next().unwrap_or(addr);
    match addrtype {
        "IP4" => addr
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| bad(line, "c= address is not IPv4")),
        "IP6" => addr
            .parse::<std::net::Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| bad(line, "c= address is not IPv6")),
        _ => Err(bad(line, "c= addrtype is not IP4/IP6")),
    }
}

impl SessionDescription {
    /// Parses SDP bytes. Accepts CRLF or LF line ends; unknown line types are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, SdpError> {
        let text = std::str::from_utf8(bytes).map_err(|_| SdpError::NotUtf8)?;
        let mut sd = SessionDescription {
            origin: String::new(),
            session_name: String::new(),
            connection: None,
            direction: None,
            media: Vec::new(),
        };
        let mut saw_version = false;
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let bytes = line.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
                return Err(bad(n, "not of the form x=value"));
            }
            let kind = bytes[0];
            let value = &line[2..];
            if !saw_version {
                if kind != b'v' || value.trim() != "0" {
                    return Err(SdpError::NoVersion);
                }
                saw_version = true;
                continue;
            }
            match kind {
                b'o' => sd.origin = value.to_owned(),
                b's' => sd.session_name = value.to_owned(),
                b'c' => {
                    let addr = parse_connection(value, n)?;
                    match sd.media.last_mut() {
                        Some(m) => m.connection = Some(addr),
                        None => sd.connection = Some(addr),
                    }
                }
                b'm' => {
                    let mut it = value.split_ascii_whitespace();
                    let media = it.next().ok_or_else(|| bad(n, "m= without media"))?;
                    let port = it.next().ok_or_else(|| bad(n, "m= without port"))?;
                    let port = port.split('/').next().unwrap_or(port);
                    let port: u16 = port
                        .parse()
                        .map_err(|_| bad(n, "m= port is not a number"))?;
                    let proto = it.next().ok_or_else(|| bad(n, "m= without proto"))?;
                    let formats: Vec<String> = it.map(str::to_owned).collect();
                    sd.media.push(MediaDescription {
                        media: media.to_owned(),
                        port,
                        proto: proto.to_owned(),
                        formats,
                        connection: None,
                        rtpmaps: Vec::new(),
                        fmtps: Vec::new(),
                        ptime: None,
                        direction: None,
                        other_attributes: Vec::new(),
                    });
                }
                b'a' => Self::parse_attribute(&mut sd, value, n)?,
                _ => {}
            }
        }
        if !saw_version {
            return Err(SdpError::NoVersion);
        }
        Ok(sd)
    }

    fn parse_attribute(sd: &mut SessionDescription, value: &str, n: usize) -> Result<(), SdpError> {
        let (name, arg) = match value.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (value, None),
        };
        let Some(m) = sd.media.last_mut() else {
            if let Some(d) = Direction::from_attr(name) {
                sd.direction = Some(d);
            }
            return Ok(());
        };
        if let Some(d) = Direction::from_attr(name) {
            m.direction = Some(d);
            return Ok(());
        }
        match (name, arg) {
            ("rtpmap", Some(arg)) => {
                let (pt, rest) = arg
                    .split_once(' ')
                    .ok_or_else(|| bad(n, "rtpmap without encoding"))?;
                let payload_type: u8 = pt
                    .trim()
                    .parse()
                    .ok()
                    .filter(|p| *p < 128)
                    .ok_or_else(|| bad(n, "rtpmap payload type"))?;
                let mut parts = rest.trim().split('/');
                let encoding = parts.next().unwrap_or("").to_owned();
                let clock_rate: u32 = parts
                    .next()
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| bad(n, "rtpmap clock rate"))?;
                let channels = match parts.next() {
                    Some(c) => Some(c.parse().map_err(|_| bad(n, "rtpmap channels"))?),
                    None => None,
                };
                if encoding.is_empty() {
                    return Err(bad(n, "rtpmap without encoding"));
                }
                m.rtpmaps.push(RtpMap {
                    payload_type,
                    encoding,
                    clock_rate,
                    channels,
                });
            }
            ("fmtp", Some(arg)) => {
                let (pt, params) = arg.split_once(' ').unwrap_or((arg, ""));
                let pt: u8 = pt.trim().parse().map_err(|_| bad(n, "fmtp payload type"))?;
                m.fmtps.push((pt, params.trim().to_owned()));
            }
            ("ptime", Some(arg)) => {
                m.ptime = Some(arg.trim().parse().map_err(|_| bad(n, "ptime"))?);
            }
            _ => m.other_attributes.push(value.to_owned()),
        }
        Ok(())
    }

    /// Serialises with CRLF line ends.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::new();
        let _ = write!(s, "v=0\r\no={}\r\ns={}\r\n", self.origin, self.session_name);
        if let Some(c) = self.connection {
            let _ = write!(s, "c={}\r\n", conn_line(c));
        }
        s.push_str("t=0 0\r\n");
        if let Some(d) = self.direction {
            let _ = write!(s, "a={}\r\n", d.attr());
        }
        for m in &self.media {
            let _ = write!(s, "m={} {} {}", m.media, m.port, m.proto);
            for f in &m.formats {
                let _ = write!(s, " {f}");
            }
            s.push_str("\r\n");
            if let Some(c) = m.connection {
                let _ = write!(s, "c={}\r\n", conn_line(c));
            }
            for r in &m.rtpmaps {
                let _ = write!(
                    s,
                    "a=rtpmap:{} {}/{}",
                    r.payload_type, r.encoding, r.clock_rate
                );
                if let Some(ch) = r.channels {
                    let _ = write!(s, "/{ch}");
                }
                s.push_str("\r\n");
            }
            for (pt, p) in &m.fmtps {
                let _ = write!(s, "a=fmtp:{pt} {p}\r\n");
            }
            if let Some(p) = m.ptime {
                let _ = write!(s, "a=ptime:{p}\r\n");
            }
            if let Some(d) = m.direction {
                let _ = write!(s, "a={}\r\n", d.attr());
            }
            for a in &m.other_attributes {
                let _ = write!(s, "a={a}\r\n");
            }
        }
        s.into_bytes()
    }

    /// Connection address for a media section (media-level overrides session-level).
    pub fn connection_for(&self, m: &MediaDescription) -> Option<IpAddr> {
        m.connection.or(self.connection)
    }

    /// Effective direction of a media section.
    pub fn direction_for(&self, m: &MediaDescription) -> Direction {
        m.direction.or(self.direction).unwrap_or_default()
    }
}

fn conn_line(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("IN IP4 {a}"),
        IpAddr::V6(a) => format!("IN IP6 {a}"),
    }
}

mod negotiate;
pub use negotiate::{LocalMedia, NegotiatedMedia, accept_answer, answer_offer, build_offer};

#[cfg(test)]
mod tests;
