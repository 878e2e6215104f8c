//! The RTP pacer where the system refuses it real-time priority (an unprivileged service
//! without `LimitRTPRIO=`): it must say so and still send every frame in order and on its
//! cadence, at the normal scheduler. A file of its own: it lowers this process's
//! RLIMIT_RTPRIO, which no other test should run under.

use std::time::{Duration, Instant};

use caps::{CapSet, Capability};
use hotline_media::pacer::Pacer;
use hotline_media::port::PortRange;
use hotline_media::prompt::Prompt;
use hotline_media::rtp::RtpPacket;
use hotline_media::{MediaConfig, MediaLeg};
use nix::sys::resource::{Resource, setrlimit};

fn tone(ms: usize) -> Prompt {
    Prompt::from_samples(
        "t",
        (0..ms * 8)
            .map(|i| ((i as f32 * 0.3).sin() * 6000.0) as i16)
            .collect(),
    )
}

#[test]
fn pacer_refused_realtime_priority_still_sends_every_frame_in_order() {
    // No privilege left: RLIMIT_RTPRIO 0 for the process and, when running as root, no
    // CAP_SYS_NICE in this thread's effective set. Capabilities are per thread and a new
    // thread inherits its creator's; the pacer thread is started by the first leg that
    // sends, which runs on this thread (a current-thread runtime).
    setrlimit(Resource::RLIMIT_RTPRIO, 0, 0).expect("lower RLIMIT_RTPRIO");
    caps::drop(None, CapSet::Effective, Capability::CAP_SYS_NICE).expect("drop CAP_SYS_NICE");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pacer = Pacer::new(Some(10));
        let mut cfg = MediaConfig::new("127.0.0.1".parse().unwrap());
        cfg.port_range = PortRange {
            first: 32500,
            last: 32700,
        };
        cfg.pacer = Some(pacer.clone());
        assert!(
            cfg.leg.send_ahead > Duration::ZERO,
            "frames go through the pacer"
        );
        let leg = MediaLeg::bind(&cfg).await.unwrap();
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let offer = format!(
            "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0\r\na=ptime:20\r\n",
            peer.local_addr().unwrap().port()
        );
        leg.local_sdp_answer(offer.as_bytes()).unwrap();
        let play = tokio::spawn(async move {
            let r = leg.play(&[tone(1000)], false).await;
            (leg, r)
        });
        let mut buf = [0u8; 1500];
        let mut seqs = Vec::new();
        let mut arrivals = Vec::new();
        while seqs.len() < 50 {
            let n = tokio::time::timeout(Duration::from_secs(3), peer.recv(&mut buf))
                .await
                .expect("the pacer keeps sending without real-time priority")
                .unwrap();
            arrivals.push(Instant::now());
            seqs.push(RtpPacket::parse(&buf[..n]).unwrap().sequence);
        }
        let (leg, r) = play.await.unwrap();
        r.unwrap();
        leg.close().await;

        assert_eq!(
            pacer.realtime_granted(),
            Some(false),
            "the system was expected to refuse SCHED_FIFO here"
        );
        for w in seqs.windows(2) {
            assert_eq!(w[1], w[0].wrapping_add(1), "in order: {seqs:?}");
        }
        // Paced, not flushed: 49 frame intervals of 20 ms span about 980 ms (a burst would
        // take a few ms). Loose bounds; timing figures belong to the benchmarks.
        let span = arrivals[49] - arrivals[0];
        assert!(
            span > Duration::from_millis(800) && span < Duration::from_millis(3000),
            "50 frames spanned {span:?}"
        );
    });
}
