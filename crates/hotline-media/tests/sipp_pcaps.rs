//! Interop on data: the RTP packets of sipp's RFC 2833 DTMF pcaps (Debian `sip-tester`,
//! `/usr/share/sip-tester/`) fed to the leg engine must give exactly one digit each, and its
//! A-law audio pcap must decode without drops. Skips (with a note) when sipp is not installed.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hotline_media::leg_core::{LegConfig, LegCore, LegEvent};
use hotline_media::sdp::{Codec, Direction, NegotiatedMedia};
use rand::SeedableRng;
use rand::rngs::StdRng;

const DIR: &str = "/usr/share/sip-tester";

/// UDP payloads of an Ethernet/IPv4 pcap (classic format, little-endian).
fn udp_payloads(path: &Path) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).unwrap();
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "classic LE pcap");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= d.len() {
        let incl = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16;
        let pkt = &d[off..(off + incl).min(d.len())];
        off += incl;
        if pkt.len() < 14 + 20 + 8 || pkt[12..14] != [0x08, 0x00] {
            continue;
        }
        let ihl = usize::from(pkt[14] & 0x0F) * 4;
        if pkt[14 + 9] != 17 {
            continue;
        }
        let udp = 14 + ihl;
        out.push(pkt[udp + 8..].to_vec());
    }
    out
}

fn leg(codec: Codec, te: Option<u8>) -> LegCore {
    let mut c = LegCore::new(
        Instant::now(),
        &mut StdRng::seed_from_u64(1),
        LegConfig::default(),
    );
    c.set_media(
        Instant::now(),
        NegotiatedMedia {
            remote: None,
            codec,
            payload_type: codec.static_pt(),
            telephone_event_pt: te,
            direction: Direction::SendRecv,
            ptime: 20,
        },
    );
    c
}

#[test]
fn sipp_rfc2833_pcaps_give_one_digit_each() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let src: SocketAddr = "192.168.0.3:49176".parse().unwrap();
    for (name, digit) in [
        ("0", '0'),
        ("1", '1'),
        ("2", '2'),
        ("3", '3'),
        ("4", '4'),
        ("5", '5'),
        ("6", '6'),
        ("7", '7'),
        ("8", '8'),
        ("9", '9'),
        ("pound", '#'),
        ("star", '*'),
    ] {
        let packets = udp_payloads(&Path::new(DIR).join(format!("dtmf_2833_{name}.pcap")));
        assert!(packets.len() >= 5, "{name}: {}", packets.len());
        let mut c = leg(Codec::Pcmu, Some(101));
        let t0 = Instant::now();
        for (i, p) in packets.iter().enumerate() {
            c.handle_packet(t0 + Duration::from_millis(20 * i as u64), src, p);
        }
        let digits: String = std::iter::from_fn(|| c.poll_event())
            .filter_map(|e| match e {
                LegEvent::Dtmf(d) => Some(d.digit),
                _ => None,
            })
            .collect();
        assert_eq!(digits, digit.to_string(), "{name}");
        assert_eq!(c.stats().dropped_garbage, 0);
    }
}

#[test]
fn sipp_g711a_pcap_decodes() {
    let path = Path::new(DIR).join("g711a.pcap");
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let packets = udp_payloads(&path);
    let mut c = leg(Codec::Pcma, Some(101));
    let t0 = Instant::now();
    let src: SocketAddr = "192.168.0.3:49176".parse().unwrap();
    for (i, p) in packets.iter().enumerate() {
        c.handle_packet(t0 + Duration::from_millis(20 * i as u64), src, p);
    }
    let s = c.stats();
    assert_eq!(s.received as usize, packets.len());
    assert_eq!(s.dropped_garbage, 0);
    assert_eq!(c.unknown_payload, 0);
}
