//! RTP port allocation from a configurable range of even ports (RFC 3550 §11: RTP on an even
//! port, RTCP on the next odd one, which we leave unbound since RTCP is ignored).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::net::UdpSocket;

/// An inclusive range of ports; only even ports are used. In settings it is written
/// `"FIRST-LAST"` (`"10000-20000"`), parsed by [`FromStr`](std::str::FromStr) (flags) and
/// serde (the config file) alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    /// First port (rounded up to even).
    pub first: u16,
    /// Last port.
    pub last: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange {
            first: 10000,
            last: 20000,
        }
    }
}

/// A port range that cannot be used, with the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    /// Not two port numbers joined by `-`.
    #[error("{0:?} is not a range lo-hi (e.g. 10000-20000)")]
    Syntax(String),
    /// `lo >= hi`.
    #[error("{0:?} is not a range lo-hi with lo < hi")]
    Order(String),
    /// Starts in the well-known ports.
    #[error("{0:?} starts below 1024 (reserved ports)")]
    Reserved(String),
}

impl std::str::FromStr for PortRange {
    type Err = PortRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || PortRangeError::Syntax(s.to_owned());
        let (a, b) = s.split_once('-').ok_or_else(syntax)?;
        let first: u16 = a.trim().parse().map_err(|_| syntax())?;
        let last: u16 = b.trim().parse().map_err(|_| syntax())?;
        if first >= last {
            return Err(PortRangeError::Order(s.to_owned()));
        }
        if first < 1024 {
            return Err(PortRangeError::Reserved(s.to_owned()));
        }
        Ok(PortRange { first, last })
    }
}

impl TryFrom<String> for PortRange {
    type Error = PortRangeError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl From<PortRange> for String {
    fn from(r: PortRange) -> String {
        r.to_string()
    }
}

impl PortRange {
    /// Even ports in the range.
    pub fn even_ports(&self) -> u32 {
        let first = u32::from(self.first.next_multiple_of(2));
        let last = u32::from(self.last);
        if last < first {
            0
        } else {
            (last - first) / 2 + 1
        }
    }

    fn nth(&self, n: u32) -> u16 {
        (u32::from(self.first.next_multiple_of(2)) + 2 * n) as u16
    }
}

/// Rotates through the range so consecutive legs do not retry the same busy ports.
static CURSOR: AtomicU32 = AtomicU32::new(0);

/// Binds a UDP socket on the next free even port of `range`, starting after `start_hint`
/// (e.g. random) and trying every even port once.
pub async fn bind_in_range(range: PortRange, ip: IpAddr, start_hint: u32) -> io::Result<UdpSocket> {
    let count = range.even_ports();
    if count == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty RTP port range",
        ));
    }
    let start = start_hint.wrapping_add(CURSOR.fetch_add(1, Ordering::Relaxed));
    let mut last_err = None;
    for i in 0..count {
        let port = range.nth(start.wrapping_add(i) % count);
        match UdpSocket::bind(SocketAddr::new(ip, port)).await {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "RTP port range exhausted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_even_ports() {
        assert_eq!(PortRange::default().even_ports(), 5001);
        assert_eq!(
            PortRange {
                first: 11,
                last: 16
            }
            .even_ports(),
            3
        );
        assert_eq!(
            PortRange {
                first: 11,
                last: 11
            }
            .even_ports(),
            0
        );
        assert_eq!(
            PortRange {
                first: 11,
                last: 16
            }
            .nth(2),
            16
        );
    }

    #[tokio::test]
    async fn binds_even_ports_and_exhausts() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let range = PortRange {
            first: 25001,
            last: 25006,
        };
        let mut socks = Vec::new();
        for _ in 0..3 {
            let s = bind_in_range(range, ip, 0).await.unwrap();
            let port = s.local_addr().unwrap().port();
            assert!(port % 2 == 0 && (25002..=25006).contains(&port), "{port}");
            socks.push(s);
        }
        let e = bind_in_range(range, ip, 0).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
    }
}
