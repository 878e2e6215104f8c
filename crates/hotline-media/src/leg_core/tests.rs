//! Virtual-time tests of the leg engine: no sockets, no sleeping.

use super::*;
use crate::dtmf::TelephoneEvent;
use crate::recorder::{RecordEnd, RecordSpec};
use crate::rtp::RtpPacket;
use crate::sdp::Direction;
use rand::SeedableRng;
use rand::rngs::StdRng;

const PEER: &str = "192.0.2.7:40000";
const F: Duration = Duration::from_millis(20);

fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

fn media(codec: Codec, te: Option<u8>) -> NegotiatedMedia {
    NegotiatedMedia {
        remote: Some(peer()),
        codec,
        payload_type: codec.static_pt(),
        telephone_event_pt: te,
        direction: Direction::SendRecv,
        ptime: 20,
    }
}

fn core(t0: Instant, seed: u64, m: NegotiatedMedia) -> LegCore {
    let mut c = LegCore::new(t0, &mut StdRng::seed_from_u64(seed), LegConfig::default());
    c.set_media(t0, m);
    c
}

/// A leg that makes playback frames 8 ms ahead, as it does for a pacer.
fn paced_core(t0: Instant, seed: u64, m: NegotiatedMedia) -> LegCore {
    let config = LegConfig {
        send_ahead: Duration::from_millis(8),
        ..LegConfig::default()
    };
    let mut c = LegCore::new(t0, &mut StdRng::seed_from_u64(seed), config);
    c.set_media(t0, m);
    c
}

/// Steps virtual time to `end`, collecting what is sent.
fn run(c: &mut LegCore, end: Instant) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(t) = c.poll_timeout() {
        if t > end {
            break;
        }
        c.handle_timeout(t);
        while let Some(tx) = c.poll_transmit() {
            assert_eq!(tx.destination, peer());
            out.push((t, tx.payload));
        }
    }
    out
}

fn events(c: &mut LegCore) -> Vec<LegEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    RtpPacket {
        marker,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc: 0xCAFE,
        payload,
    }
    .to_vec()
}

fn tone(ms: usize) -> Prompt {
    Prompt::from_samples(
        "tone",
        (0..ms * 8)
            .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
            .collect(),
    )
}

#[test]
fn plays_a_prompt_with_continuous_seq_and_ts() {
    let t0 = Instant::now();
    let mut c = core(t0, 1, media(Codec::Pcma, Some(101)));
    c.play(t0, 7, vec![tone(1000)], false, false);
    let sent = run(&mut c, t0 + Duration::from_secs(2));
    assert_eq!(sent.len(), 50);
    let pkts: Vec<RtpPacket<'_>> = sent
        .iter()
        .map(|(_, b)| RtpPacket::parse(b).unwrap())
        .collect();
    for (i, p) in pkts.iter().enumerate() {
        assert_eq!(p.payload_type, 8);
        assert_eq!(p.ssrc, c.ssrc());
        assert_eq!(p.marker, i == 0, "marker only on talk-spurt start");
        assert_eq!(p.payload.len(), 160);
        if i > 0 {
            assert_eq!(p.sequence, pkts[i - 1].sequence.wrapping_add(1));
            assert_eq!(p.timestamp, pkts[i - 1].timestamp.wrapping_add(160));
        }
        if i > 1 {
            // (The first frame goes out inside play(), before the loop's first tick.)
            assert_eq!(sent[i].0 - sent[i - 1].0, F);
        }
    }
    let ev = events(&mut c);
    assert!(
        matches!(
            ev[..],
            [LegEvent::PlayDone {
                id: 7,
                outcome: PlayOutcome::Completed
            }]
        ),
        "{ev:?}"
    );
}

#[test]
fn sequence_of_prompts_then_second_spurt_has_marker_and_ts_gap() {
    let t0 = Instant::now();
    let mut c = core(t0, 2, media(Codec::Pcmu, Some(101)));
    c.play(t0, 1, vec![tone(100), tone(100), tone(100)], false, false);
    let a = run(&mut c, t0 + Duration::from_secs(1));
    assert_eq!(a.len(), 15);
    let t1 = t0 + Duration::from_secs(1);
    c.play(t1, 2, vec![tone(40)], false, false);
    let b = run(&mut c, t1 + Duration::from_secs(1));
    let last = RtpPacket::parse(&a[14].1).unwrap();
    let first = RtpPacket::parse(&b[0].1).unwrap();
    assert!(first.marker);
    assert_eq!(first.sequence, last.sequence.wrapping_add(1));
    // Timestamp follows the media clock across the pause (1 s after start = 8000 samples).
    assert_eq!(
        first.timestamp.wrapping_sub(last.timestamp),
        8000 - 14 * 160
    );
}

/// With a send-ahead (a pacer), playback completes when its last frame is made, 8 ms before
/// that frame's instant; a prompt played at that moment (the IVR's next `play`) starts a frame
/// later, not on the same instant with the same RTP timestamp.
#[test]
fn prompt_played_when_the_last_one_completes_starts_a_frame_later() {
    let t0 = Instant::now();
    let mut c = paced_core(t0, 9, media(Codec::Pcmu, None));
    let mut sent: Vec<(Option<Instant>, u32)> = Vec::new();
    let mut collect = |c: &mut LegCore| {
        while let Some(tx) = c.poll_transmit() {
            sent.push((tx.due, RtpPacket::parse(&tx.payload).unwrap().timestamp));
        }
    };
    let mut plays = 0;
    c.play(t0, 1, vec![tone(100)], false, false);
    collect(&mut c);
    while let Some(t) = c.poll_timeout() {
        c.handle_timeout(t);
        collect(&mut c);
        if events(&mut c)
            .iter()
            .any(|e| matches!(e, LegEvent::PlayDone { .. }))
        {
            plays += 1;
            if plays == 3 {
                break;
            }
            // The IVR's next prompt, at once (before the last frame is due).
            c.play(t, 1 + plays, vec![tone(100)], false, false);
            collect(&mut c);
        }
    }
    assert_eq!(sent.len(), 15, "{sent:?}");
    for w in sent.windows(2) {
        let (a, b) = (w[0].0.unwrap(), w[1].0.unwrap());
        assert_eq!(b - a, F, "frame instants {sent:?}");
        assert_eq!(w[1].1.wrapping_sub(w[0].1), 160, "timestamps {sent:?}");
    }
}

/// A key sent (RFC 4733) while a paced prompt plays, and the prompt after it: in the order the
/// packets are made, RTP timestamps never go back (the event starts after the last frame
/// already made, not at `now`, which lies before that frame's instant).
#[test]
fn dtmf_sent_during_paced_playback_never_steps_the_timestamp_back() {
    let t0 = Instant::now();
    let mut c = paced_core(t0, 10, media(Codec::Pcmu, Some(101)));
    c.play(t0, 1, vec![tone(1000)], false, false);
    let mut sent: Vec<(u8, u32)> = Vec::new();
    let mut keyed = false;
    while let Some(t) = c.poll_timeout() {
        if t > t0 + Duration::from_secs(2) {
            break;
        }
        c.handle_timeout(t);
        if !keyed && t >= t0 + Duration::from_millis(205) {
            c.send_dtmf(t, "5");
            keyed = true;
        }
        while let Some(tx) = c.poll_transmit() {
            let p = RtpPacket::parse(&tx.payload).unwrap();
            sent.push((p.payload_type, p.timestamp));
        }
    }
    assert!(
        sent.iter().any(|p| p.0 == 101),
        "the key was sent: {sent:?}"
    );
    assert!(
        sent.last().is_some_and(|p| p.0 == 0),
        "audio resumed: {sent:?}"
    );
    for w in sent.windows(2) {
        assert!(
            w[1].1.wrapping_sub(w[0].1) < 1 << 31,
            "timestamp stepped back {} -> {}: {sent:?}",
            w[0].1,
            w[1].1
        );
    }
}

#[test]
fn barge_in_by_rfc4733_one_digit_per_event() {
    let t0 = Instant::now();
    let mut c = core(t0, 3, media(Codec::Pcmu, Some(101)));
    c.play(t0, 9, vec![tone(5000)], true, false);
    run(&mut c, t0 + Duration::from_millis(500));
    let t = t0 + Duration::from_millis(510);
    // No marker, start lost; updates; three end packets.
    for (i, (end, dur)) in [
        (false, 320u16),
        (false, 480),
        (true, 800),
        (true, 800),
        (true, 800),
    ]
    .into_iter()
    .enumerate()
    {
        let ev = TelephoneEvent {
            event: 5,
            end,
            volume: 10,
            duration: dur,
        }
        .to_bytes();
        c.handle_packet(
            t + F * i as u32,
            peer(),
            &rtp(101, 10 + i as u16, 4000, false, &ev),
        );
    }
    let ev = events(&mut c);
    let digits: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            LegEvent::Dtmf(d) => Some(*d),
            _ => None,
        })
        .collect();
    assert_eq!(
        digits,
        [DtmfEvent {
            digit: '5',
            source: DtmfSource::Rfc4733
        }]
    );
    assert!(ev.iter().any(|e| matches!(
        e,
        LegEvent::PlayDone {
            id: 9,
            outcome: PlayOutcome::Interrupted('5')
        }
    )));
    // Nothing more is sent after the interruption.
    assert!(run(&mut c, t0 + Duration::from_secs(3)).is_empty());
}

#[test]
fn no_barge_in_keeps_playing_and_sip_info_digits_count() {
    let t0 = Instant::now();
    let mut c = core(t0, 4, media(Codec::Pcmu, Some(101)));
    c.play(t0, 1, vec![tone(200)], false, false);
    c.inject_dtmf(t0, '#');
    c.inject_dtmf(t0, 'x'); // not a DTMF key: ignored
    assert_eq!(run(&mut c, t0 + Duration::from_secs(1)).len(), 10);
    let ev = events(&mut c);
    assert!(matches!(
        ev[0],
        LegEvent::Dtmf(DtmfEvent {
            digit: '#',
            source: DtmfSource::SipInfo
        })
    ));
    assert!(matches!(
        ev[1],
        LegEvent::PlayDone {
            outcome: PlayOutcome::Completed,
            ..
        }
    ));
}

fn feed_audio(c: &mut LegCore, t0: Instant, codec: Codec, samples: &[i16]) {
    for (i, chunk) in samples.chunks(160).enumerate() {
        let payload: Vec<u8> = chunk.iter().map(|s| codec.encode(*s)).collect();
        let b = rtp(
            codec.static_pt(),
            i as u16,
            i as u32 * 160,
            i == 0,
            &payload,
        );
        c.handle_packet(t0 + F * i as u32, peer(), &b);
    }
}

fn digits_of(ev: &[LegEvent], source: DtmfSource) -> String {
    ev.iter()
        .filter_map(|e| match e {
            LegEvent::Dtmf(d) if d.source == source => Some(d.digit),
            _ => None,
        })
        .collect()
}

#[test]
fn inband_dtmf_when_no_telephone_event_negotiated() {
    let t0 = Instant::now();
    let mut c = core(t0, 5, media(Codec::Pcma, None));
    let mut audio = Vec::new();
    for d in "0815*#".chars() {
        audio.extend(dtmf_tone(d, 720, 4000.0).unwrap());
        audio.extend(std::iter::repeat_n(0i16, 720));
    }
    feed_audio(&mut c, t0, Codec::Pcma, &audio);
    assert_eq!(digits_of(&events(&mut c), DtmfSource::Inband), "0815*#");
}

#[test]
fn inband_dtmf_from_sox_fixture() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dtmf_1590_hash_star_0.wav");
    let prompt = Prompt::load(&path).unwrap();
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let t0 = Instant::now();
        let mut c = core(t0, 6, media(codec, None));
        feed_audio(&mut c, t0, codec, prompt.samples());
        assert_eq!(
            digits_of(&events(&mut c), DtmfSource::Inband),
            "1590#*0",
            "{codec:?}"
        );
    }
}

#[test]
fn hold_recvonly_sends_nothing_but_still_receives() {
    let t0 = Instant::now();
    let mut m = media(Codec::Pcmu, Some(101));
    m.direction = Direction::RecvOnly;
    let mut c = core(t0, 7, m);
    c.play(t0, 1, vec![tone(200)], false, false);
    assert!(run(&mut c, t0 + Duration::from_secs(1)).is_empty());
    c.inject_dtmf(t0, '1');
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, LegEvent::Dtmf(_)))
    );
}

#[test]
fn sends_rfc4733_with_marker_and_three_ends() {
    let t0 = Instant::now();
    let mut c = core(t0, 8, media(Codec::Pcmu, Some(96)));
    c.send_dtmf(t0, "7");
    let sent = run(&mut c, t0 + Duration::from_secs(1));
    let pkts: Vec<_> = sent
        .iter()
        .map(|(_, b)| RtpPacket::parse(b).unwrap())
        .collect();
    assert_eq!(pkts.len(), 8);
    assert!(
        pkts.iter()
            .all(|p| p.payload_type == 96 && p.timestamp == pkts[0].timestamp)
    );
    assert!(pkts[0].marker && pkts[1..].iter().all(|p| !p.marker));
    let ends = pkts
        .iter()
        .filter(|p| TelephoneEvent::parse(p.payload).unwrap().end)
        .count();
    assert_eq!(ends, 3);
}

#[test]
fn sends_inband_tones_without_telephone_event() {
    let t0 = Instant::now();
    let mut c = core(t0, 9, media(Codec::Pcmu, None));
    c.send_dtmf(t0, "42");
    let sent = run(&mut c, t0 + Duration::from_secs(2));
    // A receiver without telephone-event detects them in-band.
    let t1 = t0 + Duration::from_secs(5);
    let mut rx = core(t1, 10, media(Codec::Pcmu, None));
    for (i, (_, b)) in sent.iter().enumerate() {
        rx.handle_packet(t1 + F * i as u32, peer(), b);
    }
    assert_eq!(digits_of(&events(&mut rx), DtmfSource::Inband), "42");
    // The internal playback reports nothing.
    assert!(
        !events(&mut c)
            .iter()
            .any(|e| matches!(e, LegEvent::PlayDone { .. }))
    );
}

#[test]
fn lost_packets_become_silence_and_duplicates_are_dropped() {
    let t0 = Instant::now();
    let mut c = core(t0, 14, media(Codec::Pcmu, Some(101)));
    let path = crate::prompt::tests::temp_path("leg-gap.wav");
    let sink = crate::wav::WavFileSink::create(&path).unwrap();
    let spec = RecordSpec {
        min_duration: Duration::ZERO,
        ..RecordSpec::default()
    };
    c.record(t0, 4, Recorder::new(t0, spec, path.clone(), Box::new(sink)));
    let loud = [ulaw(5000); 160];
    // seq 1, 2, (3 and 4 lost), 5, then a duplicate of 5 and a late 2.
    for (seq, ts) in [(1u16, 160u32), (2, 320), (5, 800), (5, 800), (2, 320)] {
        c.handle_packet(t0, peer(), &rtp(0, seq, ts, false, &loud));
    }
    c.stop_record();
    let ev = events(&mut c);
    assert!(
        ev.iter()
            .any(|e| matches!(e, LegEvent::RecordDone { result: Ok(_), .. })),
        "{ev:?}"
    );
    let samples: Vec<i16> = hound::WavReader::open(&path)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap())
        .collect();
    assert_eq!(samples.len(), 5 * 160);
    assert!(samples[320..640].iter().all(|s| *s == 0));
    assert!(samples[640] != 0);
}

#[test]
fn no_inactivity_hangup_while_held() {
    let t0 = Instant::now();
    let mut m = media(Codec::Pcmu, Some(101));
    m.direction = Direction::SendOnly; // the peer put us on hold (offered recvonly)
    let mut c = core(t0, 15, m);
    run(&mut c, t0 + Duration::from_secs(300));
    assert!(
        !events(&mut c)
            .iter()
            .any(|e| matches!(e, LegEvent::Inactive))
    );
    let t1 = t0 + Duration::from_secs(300);
    c.set_media(t1, media(Codec::Pcmu, Some(101))); // unhold
    run(&mut c, t1 + Duration::from_secs(61));
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, LegEvent::Inactive))
    );
}

#[test]
fn inactivity_event() {
    let t0 = Instant::now();
    let mut c = core(t0, 11, media(Codec::Pcmu, Some(101)));
    c.handle_packet(
        t0 + Duration::from_secs(10),
        peer(),
        &rtp(0, 1, 0, false, &[0xFF; 160]),
    );
    run(&mut c, t0 + Duration::from_secs(69));
    assert!(
        !events(&mut c)
            .iter()
            .any(|e| matches!(e, LegEvent::Inactive))
    );
    run(&mut c, t0 + Duration::from_secs(70));
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, LegEvent::Inactive))
    );
}

#[test]
fn garbage_rtcp_and_unknown_payload_are_harmless() {
    let t0 = Instant::now();
    let mut c = core(t0, 12, media(Codec::Pcmu, Some(101)));
    c.play(t0, 1, vec![tone(100)], true, false);
    c.handle_packet(t0, peer(), b"\x00\x01garbage");
    c.handle_packet(t0, peer(), &[0x80, 200, 0, 6, 0, 0, 0, 1]);
    c.handle_packet(t0, peer(), &rtp(101, 1, 0, true, &[1])); // short event payload
    c.handle_packet(t0, peer(), &rtp(18, 1, 0, true, &[1, 2, 3])); // G.729, not negotiated
    assert_eq!(c.stats().dropped_garbage, 1);
    assert_eq!(c.stats().rtcp_ignored, 1);
    assert_eq!(c.unknown_payload, 1);
    assert_eq!(run(&mut c, t0 + Duration::from_secs(1)).len(), 5);
}

#[test]
fn records_until_key() {
    let t0 = Instant::now();
    let mut c = core(t0, 13, media(Codec::Pcmu, Some(101)));
    let path = crate::prompt::tests::temp_path("leg-rec.wav");
    let sink = crate::wav::WavFileSink::create(&path).unwrap();
    let spec = RecordSpec {
        min_duration: Duration::from_millis(500),
        ..RecordSpec::default()
    };
    c.record(t0, 3, Recorder::new(t0, spec, path.clone(), Box::new(sink)));
    let voice: Vec<i16> = (0..8000)
        .map(|i| ((i as f32 * 0.2).sin() * 5000.0) as i16)
        .collect();
    feed_audio(&mut c, t0, Codec::Pcmu, &voice);
    c.inject_dtmf(t0 + Duration::from_secs(1), '#');
    let ev = events(&mut c);
    let rec = ev.iter().find_map(|e| match e {
        LegEvent::RecordDone { id: 3, result } => Some(result),
        _ => None,
    });
    match rec {
        Some(Ok(RecordOutcome::Saved {
            end: RecordEnd::Key('#'),
            duration,
            ..
        })) => {
            assert_eq!(*duration, Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hound::WavReader::open(&path).unwrap().len(), 8000);
}

#[test]
fn bridge_relays_with_continuity_and_transcoding() {
    let t0 = Instant::now();
    let mut a = core(t0, 20, media(Codec::Pcmu, Some(101)));
    let mut b = core(t0, 21, media(Codec::Pcma, Some(96)));
    // B played a prompt before the bridge.
    b.play(t0, 1, vec![tone(100)], false, false);
    let before = run(&mut b, t0 + Duration::from_millis(200));
    let sink_path = crate::prompt::tests::temp_path("bridge-mix.wav");
    let mixer = Arc::new(Mutex::new(Mixer::new(Box::new(
        crate::wav::WavFileSink::create(&sink_path).unwrap(),
    ))));
    a.bridge(Some((mixer.clone(), Side::A)));
    b.bridge(Some((mixer.clone(), Side::B)));
    let t1 = t0 + Duration::from_secs(1);
    let mut relayed = Vec::new();
    for i in 0..10u32 {
        // Caller's SSRC changes half-way (e.g. a re-INVITE to another device).
        let ssrc = if i < 5 { 0x1111 } else { 0x2222 };
        let pkt = RtpPacket {
            marker: false,
            payload_type: 0,
            sequence: 60_000u16.wrapping_add(i as u16),
            timestamp: 1_000_000 + i * 160,
            ssrc,
            payload: &[ulaw(1000); 160],
        }
        .to_vec();
        a.handle_packet(t1 + F * i, peer(), &pkt);
        while let Some(f) = a.poll_relay() {
            b.handle_relay(t1 + F * i, f);
        }
        while let Some(tx) = b.poll_transmit() {
            relayed.push(tx.payload);
        }
    }
    // A DTMF event from the caller passes through to the agent with B's event PT.
    let ev = TelephoneEvent {
        event: 11,
        end: true,
        volume: 10,
        duration: 800,
    }
    .to_bytes();
    a.handle_packet(
        t1 + F * 10,
        peer(),
        &rtp(101, 9, 1_000_000 + 1600, false, &ev),
    );
    while let Some(f) = a.poll_relay() {
        b.handle_relay(t1 + F * 10, f);
    }
    while let Some(tx) = b.poll_transmit() {
        relayed.push(tx.payload);
    }
    let last_prompt = RtpPacket::parse(&before.last().unwrap().1).unwrap();
    let pkts: Vec<_> = relayed
        .iter()
        .map(|p| RtpPacket::parse(p).unwrap())
        .collect();
    assert_eq!(pkts.len(), 11);
    for (i, p) in pkts.iter().enumerate() {
        assert_eq!(p.ssrc, b.ssrc(), "our SSRC, not the caller's");
        assert_eq!(
            p.sequence,
            last_prompt.sequence.wrapping_add(1 + i as u16),
            "seq continues"
        );
    }
    assert!(pkts[0].marker && !pkts[1].marker && pkts[5].marker);
    assert_eq!(pkts[4].timestamp.wrapping_sub(pkts[0].timestamp), 640);
    assert_eq!(pkts[0].payload_type, 8);
    assert_eq!(
        pkts[0].payload[0],
        crate::g711::alaw_encode(crate::g711::ulaw_decode(ulaw(1000)))
    );
    assert_eq!(pkts[10].payload_type, 96);
    assert_eq!(TelephoneEvent::parse(pkts[10].payload).unwrap().event, 11);
    // Timestamps are re-anchored on B's clock (1 s after its prompt started).
    assert_eq!(
        pkts[0].timestamp.wrapping_sub(last_prompt.timestamp),
        8000 - 4 * 160
    );
    a.unbridge();
    b.unbridge();
    let written = mixer.lock().unwrap().finish().unwrap();
    assert_eq!(written, 1600);
    assert_eq!(hound::WavReader::open(&sink_path).unwrap().len(), 1600);
}

fn ulaw(s: i16) -> u8 {
    crate::g711::ulaw_encode(s)
}

#[test]
fn random_datagrams_never_panic() {
    use rand::Rng;
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(99);
    for (codec, te) in [(Codec::Pcmu, Some(101)), (Codec::Pcma, None)] {
        let mut c = core(t0, 30, media(codec, te));
        c.play(t0, 1, vec![tone(200)], true, false);
        for i in 0..20_000u32 {
            let len = rng.random_range(0..300);
            let mut b: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if i % 2 == 0 && b.len() >= 12 {
                // Mostly-valid headers reach the deeper code paths.
                b[0] = 0x80 | (b[0] & 0x3F);
                b[1] = [0u8, 8, 101, 13, 0x80 | 101][i as usize % 5];
            }
            let now = t0 + Duration::from_micros(u64::from(i) * 500);
            c.handle_packet(now, peer(), &b);
            c.handle_timeout(now);
            while c.poll_transmit().is_some() {}
            while c.poll_event().is_some() {}
        }
        assert!(c.stats().received > 1000);
    }
}

/// The agent answers while the hold prompt's last frames still wait in the pacer: the first
/// relayed talk spurt starts a frame after the last prompt frame, with a marker, never on an
/// earlier RTP timestamp.
#[test]
fn relayed_talk_spurt_after_a_paced_prompt_never_steps_the_timestamp_back() {
    let t0 = Instant::now();
    let mut b = paced_core(t0, 22, media(Codec::Pcmu, Some(101)));
    b.play(t0, 1, vec![tone(100)], false, false);
    // (marker, RTP timestamp) of what the leg sends, in order.
    let mut sent: Vec<(bool, u32)> = Vec::new();
    let mut keep = |c: &mut LegCore| {
        while let Some(tx) = c.poll_transmit() {
            let p = RtpPacket::parse(&tx.payload).unwrap();
            sent.push((p.marker, p.timestamp));
        }
    };
    keep(&mut b);
    let mut done_at = None;
    while let Some(t) = b.poll_timeout() {
        b.handle_timeout(t);
        keep(&mut b);
        if events(&mut b)
            .iter()
            .any(|e| matches!(e, LegEvent::PlayDone { .. }))
        {
            done_at = Some(t);
            break;
        }
    }
    // Bridged the moment the prompt completes (its last frame is still 8 ms from its instant).
    let t = done_at.expect("the prompt completed");
    b.bridge(None);
    b.handle_relay(
        t,
        RelayFrame {
            kind: RelayKind::Audio(Codec::Pcmu),
            ssrc: 0x3333,
            timestamp: 5_000,
            marker: false,
            payload: vec![0xFF; 160],
        },
    );
    keep(&mut b);
    assert_eq!(sent.len(), 6, "5 prompt frames and 1 relayed: {sent:?}");
    let (last_prompt, relayed) = (sent[4], sent[5]);
    assert!(relayed.0, "a new talk spurt");
    let step = relayed.1.wrapping_sub(last_prompt.1);
    assert!(
        (160..1 << 31).contains(&step),
        "relayed audio {step} samples after the last prompt frame"
    );
}

/// A packet as a conference bridge or WebRTC gateway sends it: CSRC list, an RFC 8285
/// one-byte header extension (audio level) and padding to a multiple of 4, built by rtp-rs.
fn rtp_decorated(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    rtp_rs::RtpPacketBuilder::new()
        .payload_type(pt)
        .marked(marker)
        .sequence(rtp_rs::Seq::from(seq))
        .timestamp(ts)
        .ssrc(0xCAFE)
        .set_csrc(&[0x1111_1111, 0x2222_2222])
        .extension(0xBEDE, &[0x10, 0x9E, 0, 0])
        .padded(rtp_rs::Pad::round_to(4))
        .payload(payload)
        .build()
        .unwrap()
}

#[test]
fn keys_and_audio_in_packets_with_csrcs_extension_and_padding() {
    let t0 = Instant::now();
    let mut c = core(t0, 30, media(Codec::Pcmu, Some(101)));
    let path = crate::prompt::tests::temp_path("leg-decorated.wav");
    let sink = crate::wav::WavFileSink::create(&path).unwrap();
    let spec = RecordSpec {
        min_duration: Duration::ZERO,
        end_keys: String::new(),
        ..RecordSpec::default()
    };
    c.record(t0, 5, Recorder::new(t0, spec, path.clone(), Box::new(sink)));
    // 3 frames of audio of 158 samples each (so that rtp-rs pads 2 bytes), then a key as
    // telephone-event.
    let loud = [ulaw(5000); 158];
    for i in 0..3u16 {
        let b = rtp_decorated(0, 100 + i, 8000 + u32::from(i) * 158, i == 0, &loud);
        assert_eq!(b.len(), 12 + 8 + 8 + 158 + 2);
        assert_ne!(b[0] & 0x30, 0, "padding and extension flags set");
        c.handle_packet(t0 + F * u32::from(i), peer(), &b);
    }
    for (i, end) in [false, true, true, true].into_iter().enumerate() {
        let ev = TelephoneEvent {
            event: 9,
            end,
            volume: 10,
            duration: 400,
        }
        .to_bytes();
        let b = rtp_decorated(101, 103 + i as u16, 8474, i == 0, &ev);
        c.handle_packet(t0 + F * (3 + i as u32), peer(), &b);
    }
    c.stop_record();
    let ev = events(&mut c);
    assert_eq!(digits_of(&ev, DtmfSource::Rfc4733), "9");
    assert!(
        ev.iter()
            .any(|e| matches!(e, LegEvent::RecordDone { result: Ok(_), .. })),
        "{ev:?}"
    );
    assert_eq!(c.unknown_payload, 0);
    let samples: Vec<i16> = hound::WavReader::open(&path)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap())
        .collect();
    // Only the payloads were recorded: no CSRC, extension or padding bytes as samples.
    let expected = crate::g711::ulaw_decode(ulaw(5000));
    assert_eq!(samples.len(), 3 * 158);
    assert!(samples.iter().all(|s| *s == expected));
}
