//! SIP methods (RFC 3261 §7.1 and the RFCs that add methods): the tokens in one place.

/// SIP methods; unknown ones keep their token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// REGISTER
    Register,
    /// INFO (RFC 6086)
    Info,
    /// Methods defined elsewhere that this UA does not implement (PRACK, UPDATE, MESSAGE, ...).
    Known(&'static str),
    /// A method no RFC we know defines.
    Other(String),
}

/// Methods defined by other RFCs: answered 405 rather than 501.
const OTHER_KNOWN: [&str; 8] = [
    "PRACK",
    "UPDATE",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
    "PING",
];

impl Method {
    /// Maps a token (case-sensitive, as RFC 3261 requires) to a method.
    pub fn from_token(t: &str) -> Method {
        match t {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "INFO" => Method::Info,
            _ => match OTHER_KNOWN.iter().find(|m| **m == t) {
                Some(m) => Method::Known(m),
                None => Method::Other(t.to_string()),
            },
        }
    }

    /// The method token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Known(m) => m,
            Method::Other(m) => m,
        }
    }

    /// Whether rsip can parse a request line with this method.
    pub(crate) fn rsip_knows(&self) -> bool {
        !matches!(self, Method::Other(_) | Method::Known("PING"))
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
