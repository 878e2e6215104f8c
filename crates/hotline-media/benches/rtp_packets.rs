//! Per-packet cost of RTP parsing and building (`hotline_media::rtp::RtpPacket`), for the A/B
//! in BENCHMARKS.md (rtp-rs against the hand-written code before it). Uses only
//! `RtpPacket::{parse, to_vec, write_to}`, which both have, so the same file builds on either.
//!
//! `cargo bench -p hotline-media --bench rtp_packets [-- --millions N]`

use std::hint::black_box;
use std::time::Instant;

use hotline_media::rtp::RtpPacket;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = arg("--millions", 5) * 1_000_000;
    let payload = [0xD5u8; 160];
    let packet = |seq: u16| RtpPacket {
        marker: false,
        payload_type: 0,
        sequence: seq,
        timestamp: u32::from(seq).wrapping_mul(160),
        ssrc: 0x1234_5678,
        payload: &payload,
    };
    // A 20 ms PCMU packet as a phone sends it, and one with two CSRCs, a one-byte header
    // extension and 4 bytes of padding.
    let plain = packet(1).to_vec();
    let mut decorated = plain[..12].to_vec();
    decorated[0] |= 0x20 | 0x10 | 2;
    decorated.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0xBE, 0xDE, 0, 1, 0x10, 0x9E, 0, 0]);
    decorated.extend_from_slice(&payload);
    decorated.extend_from_slice(&[0, 0, 0, 4]);
    assert_eq!(RtpPacket::parse(&decorated).unwrap().payload, &payload[..]);

    let time = |what: &str, f: &mut dyn FnMut(u64)| {
        for i in 0..n / 10 {
            f(i); // warm-up
        }
        let t = Instant::now();
        for i in 0..n {
            f(i);
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        // 2,000 calls: 100,000 packets/s each way.
        println!(
            "{what:<28} {ns:7.1} ns/packet  = {:.2} % of a core at 100,000 packets/s",
            ns * 100_000.0 / 1e9 * 100.0
        );
    };
    time("build to_vec (session.rs)", &mut |i| {
        black_box(black_box(packet(i as u16)).to_vec());
    });
    let mut buf = Vec::with_capacity(256);
    time("build write_to (reused buf)", &mut |i| {
        black_box(packet(i as u16)).write_to(&mut buf);
        black_box(&buf);
    });
    time("parse plain", &mut |_| {
        black_box(RtpPacket::parse(black_box(&plain)).ok());
    });
    time("parse CSRC+ext+padding", &mut |_| {
        black_box(RtpPacket::parse(black_box(&decorated)).ok());
    });
}
