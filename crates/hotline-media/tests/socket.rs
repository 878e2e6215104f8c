//! End-to-end over UDP on 127.0.0.1: a leg plays to a plain UDP peer (interval deviation is
//! printed, not asserted — timing belongs to the benchmark), receives DTMF, records, bridges,
//! detects inactivity and shuts down cleanly.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hotline_media::collector::{CollectEnd, CollectSpec};
use hotline_media::dtmf::TelephoneEvent;
use hotline_media::leg_core::{DtmfSource, PlayOutcome};
use hotline_media::port::PortRange;
use hotline_media::prompt::Prompt;
use hotline_media::recorder::{RecordEnd, RecordOutcome, RecordSpec};
use hotline_media::rtp::RtpPacket;
use hotline_media::{MediaConfig, MediaLeg, bridge};
use tokio::net::UdpSocket;

fn config(first: u16) -> MediaConfig {
    let mut c = MediaConfig::new("127.0.0.1".parse().unwrap());
    c.port_range = PortRange {
        first,
        last: first + 200,
    };
    c
}

fn offer(port: u16, pts: &str, te: bool) -> Vec<u8> {
    let mut s = format!(
        "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP {pts}{}\r\na=ptime:20\r\n",
        if te { " 101" } else { "" }
    );
    if te {
        s.push_str("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n");
    }
    s.into_bytes()
}

fn tone(ms: usize) -> Prompt {
    Prompt::from_samples(
        "t",
        (0..ms * 8)
            .map(|i| ((i as f32 * 0.3).sin() * 6000.0) as i16)
            .collect(),
    )
}

async fn peer() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let p = s.local_addr().unwrap().port();
    (s, p)
}

fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    RtpPacket {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc: 77,
        payload,
    }
    .to_vec()
}

async fn send_digit(s: &UdpSocket, to: SocketAddr, event: u8, ts: u32, seq: &mut u16) {
    for (end, dur) in [
        (false, 160u16),
        (false, 320),
        (true, 800),
        (true, 800),
        (true, 800),
    ] {
        let p = TelephoneEvent {
            event,
            end,
            volume: 10,
            duration: dur,
        }
        .to_bytes();
        s.send_to(&rtp(101, *seq, ts, &p), to).await.unwrap();
        *seq = seq.wrapping_add(1);
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test]
async fn plays_prompt_to_udp_peer() {
    let (sock, port) = peer().await;
    let leg = MediaLeg::bind(&config(22000)).await.unwrap();
    let answer =
        String::from_utf8(leg.local_sdp_answer(&offer(port, "0 8", true)).unwrap()).unwrap();
    assert!(answer.contains(&format!(
        "m=audio {} RTP/AVP 0 101",
        leg.local_addr().port()
    )));
    assert_eq!(leg.local_addr().port() % 2, 0);
    let outcome = tokio::spawn(async move {
        let r = leg.play(&[tone(1000), tone(1000)], false).await;
        (leg, r)
    });
    let mut buf = [0u8; 1500];
    let mut arrivals = Vec::new();
    let mut seqs = Vec::new();
    while arrivals.len() < 100 {
        let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        arrivals.push(Instant::now());
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(p.payload_type, 0);
        assert_eq!(p.payload.len(), 160);
        seqs.push(p.sequence);
    }
    let (leg, r) = outcome.await.unwrap();
    assert_eq!(r.unwrap(), PlayOutcome::Completed);
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1));
    }
    let mut dev: Vec<f64> = arrivals
        .windows(2)
        .map(|w| ((w[1] - w[0]).as_secs_f64() * 1000.0 - 20.0).abs())
        .collect();
    let total = (arrivals[99] - arrivals[0]).as_secs_f64() * 1000.0;
    eprintln!(
        "socket playback: 100 packets, interval deviation p50 {:.3} ms p99 {:.3} ms max {:.3} ms; 99 intervals took {:.1} ms (ideal 1980)",
        percentile(&mut dev, 0.5),
        percentile(&mut dev, 0.99),
        percentile(&mut dev, 1.0),
        total
    );
    let stats = leg.stats().await.unwrap();
    assert_eq!(stats.session.sent, 100);
    leg.close().await;
}

/// The pacer sends playback frames at their due instant, handed over ahead of time; a DTMF
/// event the leg sends meanwhile must not overtake audio already queued (the peer would see
/// sequence numbers go backwards).
#[tokio::test]
async fn dtmf_sent_during_paced_playback_keeps_sequence_order() {
    let (sock, port) = peer().await;
    let cfg = config(22400);
    assert!(cfg.pacer.is_some() && cfg.leg.send_ahead > Duration::ZERO);
    let leg = std::sync::Arc::new(MediaLeg::bind(&cfg).await.unwrap());
    leg.local_sdp_answer(&offer(port, "0", true)).unwrap();
    let player = tokio::spawn({
        let leg = leg.clone();
        async move { leg.play_looping(&[tone(1000)], false).await }
    });
    let mut buf = [0u8; 1500];
    let mut seqs = Vec::new();
    let mut events = 0;
    while events < 3 {
        let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        seqs.push(p.sequence);
        if p.payload_type == 101 {
            events += 1;
        }
        if seqs.len() == 5 {
            // 15 ms after a frame went out, the next one (made 8 ms before its instant) is
            // waiting in the pacer when the DTMF packets are made.
            tokio::time::sleep(Duration::from_millis(15)).await;
            leg.send_dtmf("5").unwrap();
        }
    }
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "arrival order {seqs:?}");
    }
    leg.stop_play().unwrap();
    assert_eq!(player.await.unwrap().unwrap(), PlayOutcome::Stopped);
}

/// Each leg plays on its own 20 ms phase: a second prompt continues the first one's cadence,
/// so the RTP timestamp steps between the two are whole frames (160 samples).
#[tokio::test]
async fn successive_prompts_keep_the_legs_frame_cadence() {
    let (sock, port) = peer().await;
    let leg = MediaLeg::bind(&config(22600)).await.unwrap();
    leg.local_sdp_answer(&offer(port, "0", false)).unwrap();
    let mut timestamps = Vec::new();
    let mut buf = [0u8; 1500];
    for _ in 0..2 {
        assert_eq!(
            leg.play(&[tone(100)], false).await.unwrap(),
            PlayOutcome::Completed
        );
        // Gap between the prompts: not a whole number of frames.
        tokio::time::sleep(Duration::from_millis(33)).await;
    }
    while timestamps.len() < 10 {
        let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        timestamps.push(RtpPacket::parse(&buf[..n]).unwrap().timestamp);
    }
    for w in timestamps.windows(2) {
        assert_eq!(
            w[1].wrapping_sub(w[0]) % 160,
            0,
            "timestamps {timestamps:?}"
        );
    }
    // The second prompt starts after the gap (playback completes when its last frame is
    // handed over), on the grid: more than one frame after the last one.
    assert!(
        timestamps[5].wrapping_sub(timestamps[4]) >= 2 * 160,
        "timestamps {timestamps:?}"
    );
    leg.close().await;
}

/// The IVR often plays one prompt right after another. Playback completes when its last frame
/// is handed to the pacer, before that frame is due; the next prompt's first frame must come a
/// frame after it, not at the same instant with the same RTP timestamp.
#[tokio::test]
async fn back_to_back_prompts_never_repeat_a_frame_instant() {
    let (sock, port) = peer().await;
    let leg = MediaLeg::bind(&config(23100)).await.unwrap();
    leg.local_sdp_answer(&offer(port, "0", false)).unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..3 {
        assert_eq!(
            leg.play(&[tone(100)], false).await.unwrap(),
            PlayOutcome::Completed
        );
    }
    let mut packets = Vec::new();
    while packets.len() < 15 {
        let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        packets.push((p.sequence, p.timestamp, Instant::now()));
    }
    for w in packets.windows(2) {
        let step = w[1].1.wrapping_sub(w[0].1);
        assert!(
            step >= 160 && step % 160 == 0,
            "RTP timestamp step {step}: {:?}",
            packets.iter().map(|p| p.1).collect::<Vec<_>>()
        );
        assert_eq!(w[1].0, w[0].0.wrapping_add(1));
    }
    leg.close().await;
}

#[tokio::test]
async fn dtmf_over_udp_barge_in_then_collect() {
    let (sock, port) = peer().await;
    let leg = MediaLeg::bind(&config(22300)).await.unwrap();
    leg.local_sdp_answer(&offer(port, "8", true)).unwrap();
    let to = leg.local_addr();
    let mut events = leg.dtmf_events();
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut seq = 1;
        // "0", "0", "7", "#": leading zeros survive.
        for (i, ev) in [0u8, 0, 7, 11].into_iter().enumerate() {
            send_digit(&sock, to, ev, 1000 + 2000 * i as u32, &mut seq).await;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        sock
    });
    let r = leg.play(&[tone(5000)], true).await.unwrap();
    assert_eq!(r, PlayOutcome::Interrupted('0'));
    let got = leg
        .collect_digits(CollectSpec {
            max_digits: 10,
            ..CollectSpec::default()
        })
        .await
        .unwrap();
    assert_eq!(got.digits, "007");
    assert_eq!(got.end, CollectEnd::Terminator('#'));
    let first = events.recv().await.unwrap();
    assert_eq!((first.digit, first.source), ('0', DtmfSource::Rfc4733));
    // SIP INFO digits join the same queue.
    leg.inject_dtmf('5').unwrap();
    let got = leg
        .collect_digits(CollectSpec {
            max_digits: 1,
            ..CollectSpec::default()
        })
        .await
        .unwrap();
    assert_eq!(got.digits, "5");
    // First-digit timeout.
    let got = leg
        .collect_digits(CollectSpec {
            first_digit_timeout: Duration::from_millis(100),
            ..CollectSpec::default()
        })
        .await
        .unwrap();
    assert_eq!((got.digits.as_str(), got.end), ("", CollectEnd::Timeout));
    sender.await.unwrap();
    leg.close().await;
}

#[tokio::test]
async fn records_over_udp() {
    let (sock, port) = peer().await;
    let leg = MediaLeg::bind(&config(22600)).await.unwrap();
    leg.local_sdp_answer(&offer(port, "0", true)).unwrap();
    let to = leg.local_addr();
    let path = std::env::temp_dir().join(format!("hotline-media-sock-{}.wav", std::process::id()));
    let p2 = path.clone();
    let rec = tokio::spawn(async move {
        let r = leg.record(&p2, RecordSpec::default()).await;
        (leg, r)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let payload = [hotline_media::g711::ulaw_encode(3000); 160];
    let mut seq = 0u16;
    for i in 0..75u32 {
        sock.send_to(&rtp(0, seq, i * 160, &payload), to)
            .await
            .unwrap();
        seq += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    send_digit(&sock, to, 11, 99_999, &mut seq).await;
    let (leg, r) = rec.await.unwrap();
    match r.unwrap() {
        RecordOutcome::Saved { end, duration, .. } => {
            assert_eq!(end, RecordEnd::Key('#'));
            assert_eq!(duration, Duration::from_millis(1500));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hound::WavReader::open(&path).unwrap().len(), 12_000);
    let _ = std::fs::remove_file(&path);
    leg.close().await;
}

#[tokio::test]
async fn bridges_pcmu_caller_to_pcma_agent() {
    let (caller, cport) = peer().await;
    let (agent, aport) = peer().await;
    let a = MediaLeg::bind(&config(22900)).await.unwrap();
    let b = MediaLeg::bind(&config(22900)).await.unwrap();
    a.local_sdp_answer(&offer(cport, "0", true)).unwrap();
    // Agent leg: we offer, the softphone answers PCMA.
    let our_offer = String::from_utf8(b.offer()).unwrap();
    assert!(our_offer.contains("RTP/AVP 0 8 101"));
    let ans = String::from_utf8(offer(aport, "8", true)).unwrap();
    b.accept_answer(ans.as_bytes()).unwrap();
    let path =
        std::env::temp_dir().join(format!("hotline-media-bridge-{}.wav", std::process::id()));
    let br = bridge(&a, &b, Some(&path)).await.unwrap();
    let code = hotline_media::g711::ulaw_encode(-2000);
    for i in 0..20u32 {
        caller
            .send_to(&rtp(0, i as u16, i * 160, &[code; 160]), a.local_addr())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut buf = [0u8; 1500];
    let mut got = 0;
    while got < 20 {
        let n = tokio::time::timeout(Duration::from_secs(2), agent.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!(p.payload_type, 8);
        assert_ne!(p.ssrc, 77);
        assert_eq!(p.payload[0], hotline_media::g711::ulaw_to_alaw(code));
        got += 1;
    }
    let (_, dur) = br.stop().unwrap().unwrap();
    assert!(dur >= Duration::from_millis(400), "{dur:?}");
    assert!(hound::WavReader::open(&path).unwrap().len() >= 3200);
    let _ = std::fs::remove_file(&path);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn inactivity_and_shutdown() {
    let (_sock, port) = peer().await;
    let mut cfg = config(23200);
    cfg.leg.session.inactivity_timeout = Duration::from_millis(300);
    let leg = MediaLeg::bind(&cfg).await.unwrap();
    leg.local_sdp_answer(&offer(port, "0", false)).unwrap();
    tokio::time::timeout(Duration::from_secs(2), leg.inactive())
        .await
        .unwrap();
    // Process shutdown: a looping playback ends Stopped, then the leg is closed.
    let shutdown = cfg.shutdown.clone();
    let play = tokio::spawn(async move { leg.play_looping(&[tone(100)], false).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.cancel();
    let r = tokio::time::timeout(Duration::from_secs(2), play)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            r,
            Ok(PlayOutcome::Stopped) | Err(hotline_media::MediaError::Closed)
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn garbage_sdp_and_missing_prompt_are_typed_errors() {
    let leg = MediaLeg::bind(&config(23500)).await.unwrap();
    assert!(matches!(
        leg.local_sdp_answer(b"garbage"),
        Err(hotline_media::MediaError::Sdp(_))
    ));
    assert!(matches!(
        leg.play(&[tone(10)], false).await,
        Err(hotline_media::MediaError::NotNegotiated)
    ));
    let cache = hotline_media::prompt::PromptCache::new("/nonexistent");
    let e = cache.get("welcome").unwrap_err();
    assert!(e.to_string().contains("welcome.wav"));
    leg.close().await;
}

#[test]
fn media_leg_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<MediaLeg>();
    check::<hotline_media::Bridge>();
}

#[tokio::test]
async fn hold_and_unhold_by_reinvite_during_playback() {
    let (sock, port) = peer().await;
    let leg = std::sync::Arc::new(MediaLeg::bind(&config(23800)).await.unwrap());
    leg.local_sdp_answer(&offer(port, "0", true)).unwrap();
    let player = leg.clone();
    let play = tokio::spawn(async move { player.play_looping(&[tone(1000)], false).await });
    let mut buf = [0u8; 1500];
    tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    // Hold: the peer re-offers sendonly; we answer recvonly and stop sending.
    let origin = |sdp: &str| {
        sdp.lines()
            .find(|l| l.starts_with("o="))
            .unwrap()
            .to_owned()
    };
    // A session refresh with the same offer keeps the o= version (RFC 3264 §8).
    let same = String::from_utf8(leg.local_sdp_answer(&offer(port, "0", true)).unwrap()).unwrap();
    let first = origin(&same);
    let hold = String::from_utf8(offer(port, "0", true)).unwrap() + "a=sendonly\r\n";
    let answer = String::from_utf8(leg.local_sdp_answer(hold.as_bytes()).unwrap()).unwrap();
    assert!(answer.contains("a=recvonly"), "{answer}");
    assert_ne!(origin(&answer), first, "changed answer, new version");
    // Packets already in flight may still arrive; then the stream must go quiet.
    let held_at = Instant::now();
    while tokio::time::timeout(Duration::from_millis(300), sock.recv(&mut buf))
        .await
        .is_ok()
    {
        assert!(
            held_at.elapsed() < Duration::from_secs(2),
            "still sending while held"
        );
    }
    // Unhold: sending resumes with a marker bit (new talk spurt).
    let answer = leg.local_sdp_answer(&offer(port, "0", true)).unwrap();
    assert!(String::from_utf8(answer).unwrap().contains("a=sendrecv"));
    let n = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(RtpPacket::parse(&buf[..n]).unwrap().marker);
    leg.stop_play().unwrap();
    assert_eq!(play.await.unwrap().unwrap(), PlayOutcome::Stopped);
}

#[tokio::test]
async fn garbage_flood_does_not_stall_playback() {
    let (sock, port) = peer().await;
    let leg = MediaLeg::bind(&config(24100)).await.unwrap();
    leg.local_sdp_answer(&offer(port, "0", true)).unwrap();
    let target = leg.local_addr();
    let flood = std::thread::spawn(move || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..20_000u32 {
            let junk = [(i % 251) as u8; 40];
            let _ = s.send_to(&junk, target);
        }
    });
    let prompts = [tone(500)];
    let play = leg.play(&prompts, false);
    let recv = async {
        let mut buf = [0u8; 1500];
        let mut n = 0;
        while n < 25 {
            let len = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
                .await
                .expect("playback stalled")
                .unwrap();
            if RtpPacket::parse(&buf[..len]).is_ok() {
                n += 1;
            }
        }
        n
    };
    let (r, n) = tokio::join!(play, recv);
    assert_eq!(r.unwrap(), PlayOutcome::Completed);
    assert_eq!(n, 25);
    flood.join().unwrap();
    let stats = leg.stats().await.unwrap();
    assert!(stats.session.dropped_garbage > 0);
    leg.close().await;
}
