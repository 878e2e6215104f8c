//! The transport a message came in on or goes out on (RFC 3261 §18): UDP or TCP.

/// Transport of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP datagrams (unreliable: retransmission timers run).
    Udp,
    /// TCP stream (reliable).
    Tcp,
}

impl Transport {
    /// Via token.
    pub fn token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    pub(crate) fn reliable(self) -> bool {
        self == Transport::Tcp
    }
}
