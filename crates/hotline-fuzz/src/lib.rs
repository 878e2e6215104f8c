//! The bodies of the fuzz targets: one function per parser that takes bytes off the network
//! (or off a disk an attacker can write to), each of which must return without panicking,
//! whatever the bytes.
//!
//! `fuzz/fuzz_targets/<name>.rs` wraps each in libFuzzer's `fuzz_target!` (run by
//! `tests/fuzz.sh` with the nightly toolchain and cargo-fuzz); `tests/corpus.rs` replays
//! `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/` through the same functions on stable,
//! so every crash once found stays a regression test.
//!
//! Besides "no panic", a target checks what must hold of any input it accepts (a SIP message
//! that parses serialises into one that parses again with the same method and Call-ID; an RTP
//! packet's payload lies inside the datagram); a broken property panics, which the fuzzer
//! reports like a crash.

use std::io::Cursor;

/// A fuzz target: its name (the directory under `fuzz/corpus/`) and its body.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "sip_message",
        run: sip_message,
    },
    Target {
        name: "sip_stream",
        run: sip_stream,
    },
    Target {
        name: "sip_headers",
        run: sip_headers,
    },
    Target {
        name: "sdp",
        run: sdp,
    },
    Target {
        name: "rtp",
        run: rtp,
    },
    Target {
        name: "wav",
        run: wav,
    },
    Target {
        name: "agi",
        run: agi,
    },
    Target {
        name: "center112_event",
        run: center112_event,
    },
];

/// A SIP message as a UDP datagram and as a complete stream message (RFC 3261 §7, §18.3).
pub fn sip_message(data: &[u8]) {
    for datagram in [true, false] {
        if let Ok(m) = hotline_sip::parse::parse(data, datagram) {
            let again = hotline_sip::parse::parse(&m.to_bytes(), datagram).unwrap_or_else(|e| {
                panic!("a parsed message does not parse after serialising: {e}")
            });
            assert_eq!(
                again.header("call-id"),
                m.header("call-id"),
                "Call-ID changed in the round trip"
            );
            let _ = hotline_sip::dialog::contact_uri(&m);
        }
    }
}

/// Bytes arriving on a SIP/TCP connection in arbitrary pieces (RFC 3261 §18.3 framing).
pub fn sip_stream(data: &[u8]) {
    let mut framer = hotline_sip::framer::Framer::new();
    // split the input at the first byte's value, so the fuzzer explores piece boundaries
    let cut = data.first().map_or(0, |&b| usize::from(b).min(data.len()));
    for piece in [&data[..cut], &data[cut..]] {
        framer.push(piece);
        while let Ok(Some(frame)) = framer.next_frame() {
            let _ = hotline_sip::parse::parse(&frame, false);
        }
    }
}

/// Header values the endpoint parses itself: Via, CSeq, name-addr, digest credentials.
pub fn sip_headers(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    use hotline_sip::headers;
    let _ = headers::Via::parse(s);
    let _ = headers::CSeq::parse(s);
    let _ = headers::NameAddr::parse("to", s);
    let _ = headers::parse_params("via", s);
    let _ = headers::parse_host_port(s);
    let _ = headers::uri_socket_addr(s);
    let _ = headers::split_list(s);
    let _ = hotline_sip::digest::Credentials::parse(s);
    let _ = hotline_sip::registrar::aor_of(s);
    let _ = hotline_sip::parse::parse_content_length(s);
}

/// An SDP offer or answer (RFC 4566).
pub fn sdp(data: &[u8]) {
    let _ = hotline_media::sdp::SessionDescription::parse(data);
}

/// An RTP or RTCP datagram and an RFC 4733 telephone-event payload.
pub fn rtp(data: &[u8]) {
    let _ = hotline_media::rtp::is_rtcp(data);
    if let Ok(p) = hotline_media::rtp::RtpPacket::parse(data) {
        assert!(
            p.payload.len() <= data.len(),
            "payload longer than the datagram"
        );
        let _ = hotline_media::dtmf::TelephoneEvent::parse(p.payload);
    }
    if let Some(ev) = hotline_media::dtmf::TelephoneEvent::parse(data) {
        assert_eq!(
            hotline_media::dtmf::TelephoneEvent::parse(&ev.to_bytes()),
            Some(ev),
            "telephone-event round trip"
        );
        let _ = hotline_media::dtmf::event_to_digit(ev.event);
    }
}

/// A WAV file as the extractor's replay and the prompt loader read it (hound).
pub fn wav(data: &[u8]) {
    let Ok(mut r) = hound::WavReader::new(Cursor::new(data)) else {
        return;
    };
    let spec = r.spec();
    // bounded: a header may claim gigabytes
    match spec.sample_format {
        hound::SampleFormat::Int => {
            for s in r.samples::<i32>().take(1 << 16) {
                if s.is_err() {
                    break;
                }
            }
        }
        hound::SampleFormat::Float => {
            for s in r.samples::<f32>().take(1 << 16) {
                if s.is_err() {
                    break;
                }
            }
        }
    }
}

/// What Asterisk sends a FastAGI server: the `agi_*` header block, then `200 result=...`
/// replies and `HANGUP` lines, in arbitrary pieces.
pub fn agi(data: &[u8]) {
    let mut d = hotline_agi::proto::Decoder::new();
    let cut = data.first().map_or(0, |&b| usize::from(b).min(data.len()));
    'feed: for piece in [&data[..cut], &data[cut..]] {
        d.feed(piece);
        loop {
            match d.poll() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Some(reply) = hotline_agi::proto::parse_200(s)
    {
        let _ = reply.result_int();
    }
}

/// The 112 centre's signed event POST: the signature header and the JSON body.
pub fn center112_event(data: &[u8]) {
    // the first line is the signature header's value, the rest the body
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let header = std::str::from_utf8(&data[..split]).ok();
    let body = data.get(split + 1..).unwrap_or_default();
    let secret = b"fuzz-secret";
    let _ = hotline_center112::signature::verify(secret, body, header);
    let signed = hotline_center112::signature::sign(secret, body);
    assert!(
        hotline_center112::signature::verify(secret, body, Some(&signed)).is_ok(),
        "a body's own signature is refused"
    );
    let _ = serde_json::from_slice::<hotline_center112::wire::Event>(body);
}
