//! Benchmark: N concurrent legs (default 2,000) each playing a looping prompt to a UDP sink on
//! 127.0.0.1. The sink (its own OS thread) timestamps every packet and reports the deviation of
//! the inter-packet interval from 20 ms (p50/p99/p99.9/max), loss, CPU use and RSS per leg
//! beyond the shared prompt cache.
//!
//! `cargo bench -p hotline-media --bench media_legs -- [--legs N] [--seconds S] [--warmup W] [--workers T] [--shards K]`
//! `[--pacing thread|timer] [--grid on|off]`
//! (`--shards K`: K threads each with a current-thread runtime instead of one multi-thread
//! runtime; `--pacing timer`: no pacer thread, each leg sends when tokio's timer wakes it;
//! `--grid off`: every leg plays on the phase its playback started, here all the same one)

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hotline_media::port::PortRange;
use hotline_media::prompt::Prompt;
use hotline_media::{MediaConfig, MediaLeg};

const BUCKET_US: u64 = 10;
const BUCKETS: usize = 20_000; // up to 200 ms of deviation

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn arg_str(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// utime + stime of this process, in clock ticks (100 Hz on Linux).
fn cpu_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let g = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    g(11) + g(12)
}

struct SinkStats {
    hist: Vec<u64>,
    intervals: u64,
    packets: u64,
    lost: u64,
    max_us: u64,
}

fn run_sink(sock: UdpSocket, measuring: Arc<AtomicBool>, stop: Arc<AtomicBool>) -> SinkStats {
    let base = Instant::now();
    let mut last_ns = vec![0u64; 65536];
    let mut last_seq = vec![0u16; 65536];
    let mut seen = vec![false; 65536];
    let mut st = SinkStats {
        hist: vec![0; BUCKETS],
        intervals: 0,
        packets: 0,
        lost: 0,
        max_us: 0,
    };
    let mut buf = [0u8; 1500];
    sock.set_read_timeout(Some(Duration::from_millis(100))).ok();
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, src)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let now = base.elapsed().as_nanos() as u64;
        if n < 12 {
            continue;
        }
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let p = usize::from(src.port());
        let m = measuring.load(Ordering::Relaxed);
        if m {
            st.packets += 1;
        }
        if seen[p] && m {
            let d = seq.wrapping_sub(last_seq[p]);
            if d == 1 {
                let us = (now - last_ns[p]) / 1000;
                let dev = us.abs_diff(20_000);
                st.max_us = st.max_us.max(dev);
                st.hist[((dev / BUCKET_US) as usize).min(BUCKETS - 1)] += 1;
                st.intervals += 1;
            } else if d > 1 && d < 1000 {
                st.lost += u64::from(d - 1);
            }
        }
        seen[p] = true;
        last_seq[p] = seq;
        last_ns[p] = now;
    }
    st
}

fn pct(st: &SinkStats, q: f64) -> f64 {
    let target = (st.intervals as f64 * q).ceil() as u64;
    let mut acc = 0;
    for (i, c) in st.hist.iter().enumerate() {
        acc += c;
        if acc >= target {
            return (i as u64 * BUCKET_US) as f64 / 1000.0;
        }
    }
    f64::NAN
}

fn main() {
    let legs = arg("--legs", 2000) as usize;
    let seconds = arg("--seconds", 20);
    let warmup = arg("--warmup", 3);
    let workers = arg("--workers", 2) as usize;
    let shards = arg("--shards", 0) as usize;

    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).expect("socket");
    sock.set_recv_buffer_size(4 << 20).ok();
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .expect("bind sink");
    let sink: UdpSocket = sock.into();
    let sink_port = sink.local_addr().unwrap().port();
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let sink_thread = {
        let (m, s) = (measuring.clone(), stop.clone());
        std::thread::spawn(move || run_sink(sink, m, s))
    };

    // The shared prompt: 3 s, encoded once for PCMU.
    let prompt = Prompt::from_samples(
        "bench",
        (0..24_000)
            .map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16)
            .collect(),
    );
    let _ = prompt.encoded(hotline_media::sdp::Codec::Pcmu);

    let offer = format!(
        "v=0\r\no=sink 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {sink_port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    let mut cfg = MediaConfig::new("127.0.0.1".parse().unwrap());
    cfg.port_range = PortRange {
        first: 10000,
        last: 20000,
    };
    cfg.leg.session.inactivity_timeout = Duration::from_secs(3600);
    if arg_str("--pacing").as_deref() == Some("timer") {
        cfg.pacer = None;
    }
    if arg_str("--grid").as_deref() == Some("off") {
        cfg.frame_grid = None;
    }
    let pacing = format!(
        "pacing: {}, grid: {}",
        if cfg.pacer.is_some() {
            "thread"
        } else {
            "timer"
        },
        if cfg.frame_grid.is_some() {
            "on"
        } else {
            "off"
        }
    );
    let shutdown = cfg.shutdown.clone();
    let ready = Arc::new(AtomicUsize::new(0));

    // Hosts `n` legs on the current runtime until shutdown.
    let host = |n: usize| {
        let (cfg, offer, prompt, ready) =
            (cfg.clone(), offer.clone(), prompt.clone(), ready.clone());
        async move {
            let mut tasks = Vec::with_capacity(n);
            for _ in 0..n {
                let leg = MediaLeg::bind(&cfg).await.expect("bind leg");
                leg.local_sdp_answer(offer.as_bytes()).expect("answer");
                let p = prompt.clone();
                tasks.push(tokio::spawn(async move {
                    let _ = leg.play_looping(&[p], false).await;
                    leg
                }));
                ready.fetch_add(1, Ordering::Relaxed);
            }
            cfg.shutdown.cancelled().await;
            for t in tasks {
                if let Ok(leg) = t.await {
                    leg.close().await;
                }
            }
        }
    };

    let rss_before = status_kib("VmRSS:");
    let t = Instant::now();
    let mut threads = Vec::new();
    let mode;
    if shards == 0 {
        mode = format!("one multi-thread runtime, {workers} workers");
        let h = host(legs);
        threads.push(std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(h);
        }));
    } else {
        mode = format!("{shards} current-thread runtimes (shards)");
        for i in 0..shards {
            let n = legs / shards + usize::from(i < legs % shards);
            let h = host(n);
            threads.push(std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(h);
            }));
        }
    }
    while ready.load(Ordering::Relaxed) < legs {
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = t.elapsed();
    std::thread::sleep(Duration::from_secs(warmup));
    let rss_steady = status_kib("VmRSS:");
    measuring.store(true, Ordering::Relaxed);
    let (c0, w0) = (cpu_ticks(), Instant::now());
    let late0 = hotline_media::leg::wakeup_lateness();
    std::thread::sleep(Duration::from_secs(seconds));
    let late1 = hotline_media::leg::wakeup_lateness();
    measuring.store(false, Ordering::Relaxed);
    let cpu_pct = (cpu_ticks() - c0) as f64 / w0.elapsed().as_secs_f64(); // ticks/s = % of one core
    shutdown.cancel();
    for th in threads {
        th.join().expect("runtime thread");
    }
    stop.store(true, Ordering::Relaxed);
    let st = sink_thread.join().expect("sink thread");
    let expected = legs as f64 * seconds as f64 * 50.0;
    println!("legs: {legs}, {mode}, {pacing}, measured {seconds} s after {warmup} s warm-up");
    let total: u64 = late1.iter().zip(late0).map(|(a, b)| a - b).sum();
    print!("driver wake-up lateness ({total} wake-ups):");
    for (i, b) in hotline_media::leg::LATENESS_BUCKETS_US.iter().enumerate() {
        let n = late1[i] - late0[i];
        if *b == u64::MAX {
            print!(" >20ms {:.3}%", 100.0 * n as f64 / total.max(1) as f64);
        } else {
            print!(" <={}us {:.3}%", b, 100.0 * n as f64 / total.max(1) as f64);
        }
    }
    println!();
    println!("legs bound+started in {:.2} s", started.as_secs_f64());
    println!(
        "packets at sink: {} ({:.1}% of the {:.0} expected), lost (seq gaps): {}",
        st.packets,
        100.0 * st.packets as f64 / expected,
        expected,
        st.lost
    );
    println!(
        "interval deviation from 20 ms: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} intervals)",
        pct(&st, 0.5),
        pct(&st, 0.99),
        pct(&st, 0.999),
        st.max_us as f64 / 1000.0,
        st.intervals
    );
    println!(
        "RSS: {} KiB before legs, {} KiB steady; {:.1} KiB per leg; CPU {:.0}% of one core (process incl. sink)",
        rss_before,
        rss_steady,
        (rss_steady.saturating_sub(rss_before)) as f64 / legs as f64,
        cpu_pct
    );
}
