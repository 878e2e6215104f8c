//! Interop with a real RTP peer: sipp (Debian `sip-tester`) started with `-rtp_echo` echoes
//! every datagram sent to its media port. A leg plays a prompt and sends RFC 4733 digits to it
//! while recording: the echo must come back as audio in the recording and as exactly one digit
//! per key. Media only — no SIP is exchanged. Skips (with a note) when sipp is not installed.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hotline_media::collector::{CollectEnd, CollectSpec};
use hotline_media::leg_core::DtmfSource;
use hotline_media::port::PortRange;
use hotline_media::prompt::Prompt;
use hotline_media::recorder::{RecordOutcome, RecordSpec};
use hotline_media::{MediaConfig, MediaLeg};

struct Sipp(Child);
impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn sipp_rtp_echo_roundtrip() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let mp = hotline_testkit::sipp_media_port();
    let child = Command::new("/usr/bin/sipp")
        .args(["-sn", "uas", "-i", "127.0.0.1", "-nostdin", "-rtp_echo"])
        .args(["-p", &free_port().to_string()])
        .args(["-cp", &free_port().to_string()])
        .args(["-mp", &mp.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp");
    let _sipp = Sipp(child);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut cfg = MediaConfig::new("127.0.0.1".parse().unwrap());
    cfg.port_range = PortRange {
        first: 32000,
        last: 32400,
    };
    let leg = MediaLeg::bind(&cfg).await.unwrap();
    let offer = format!(
        "v=0\r\no=sipp 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {mp} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    leg.local_sdp_answer(offer.as_bytes()).unwrap();

    let path = std::env::temp_dir().join(format!("hotline-media-echo-{}.wav", std::process::id()));
    let spec = RecordSpec {
        max_duration: Duration::from_secs(10),
        silence: None,
        min_duration: Duration::from_millis(500),
        end_keys: "#".into(),
    };
    let voice = Prompt::from_samples(
        "v",
        (0..8000)
            .map(|i| ((i as f32 * 0.1).sin() * 8000.0) as i16)
            .collect(),
    );
    let mut events = leg.dtmf_events();
    let (rec, play) = tokio::join!(leg.record(&path, spec), async {
        let r = leg.play(&[voice], false).await;
        // Digits go out after the prompt; their echo comes back as RFC 4733 events. "#" ends
        // the recording.
        leg.send_dtmf("12#").unwrap();
        r
    });
    play.unwrap();
    match rec.unwrap() {
        RecordOutcome::Saved { duration, .. } => {
            assert!(duration >= Duration::from_millis(900), "{duration:?}")
        }
        other => panic!("{other:?}"),
    }
    let samples: Vec<i16> = hound::WavReader::open(&path)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap())
        .collect();
    let loud = samples.iter().filter(|s| s.unsigned_abs() > 4000).count();
    assert!(
        loud > 2000,
        "echoed prompt audible in the recording ({loud} loud samples)"
    );
    let _ = std::fs::remove_file(&path);

    let got = leg
        .collect_digits(CollectSpec {
            max_digits: 5,
            first_digit_timeout: Duration::from_secs(2),
            ..CollectSpec::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (got.digits.as_str(), got.end),
        ("12", CollectEnd::Terminator('#'))
    );
    let first = events.recv().await.unwrap();
    assert_eq!((first.digit, first.source), ('1', DtmfSource::Rfc4733));
    let stats = leg.stats().await.unwrap();
    assert_eq!(stats.session.dropped_garbage, 0);
    leg.close().await;
}
