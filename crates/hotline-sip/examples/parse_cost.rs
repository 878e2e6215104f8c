//! Where parsing time goes: times `parse::parse` (normalise + checks + rsip cross-check) and
//! rsip's own parse of the same INVITE (the one sipp sends), for BENCHMARKS.md.
//!
//! `cargo run --release -p hotline-sip --example parse_cost`

use std::time::Instant;

const INVITE: &str = "INVITE sip:service@127.0.0.1:5080 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=4242SIPpTag001\r\n\
To: service <sip:service@127.0.0.1:5080>\r\n\
Call-ID: 1-4242@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   129\r\n\r\n\
v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn main() {
    const N: u32 = 200_000;
    let bytes = INVITE.as_bytes();
    let t = Instant::now();
    for _ in 0..N {
        std::hint::black_box(hotline_sip::parse::parse(std::hint::black_box(bytes), true).is_ok());
    }
    let ours = t.elapsed() / N;
    let t = Instant::now();
    for _ in 0..N {
        std::hint::black_box(rsip::SipMessage::try_from(std::hint::black_box(bytes)).is_ok());
    }
    let rsip_only = t.elapsed() / N;
    let msg = hotline_sip::parse::parse(bytes, true).expect("parses");
    let t = Instant::now();
    for _ in 0..N {
        std::hint::black_box(std::hint::black_box(&msg).to_bytes());
    }
    let ser = t.elapsed() / N;
    println!(
        "parse (ours, incl. rsip cross-check): {ours:?}/msg; rsip alone: {rsip_only:?}/msg; serialise: {ser:?}/msg"
    );
}
