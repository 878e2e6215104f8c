//! RTP receiver for the full-SIP looping-prompt benchmark (`tests/bench/sip-prompts.sh`):
//! every call's SDP points here, each stream is told apart by its source address, and for the
//! measuring window the sink histograms |inter-packet interval − 20 ms| over consecutive
//! sequence numbers, as a caller's jitter buffer would see it. Prints one JSON line.
//!
//! `rtp-sink --port P --start-after S --seconds S`
//!
//! With `--blast N` it is the raw-UDP baseline instead: one thread sends N streams of 20 ms
//! PCMU-sized RTP packets to `--port` from N sockets, each stream on its own phase of the
//! 20 ms period, sleeping to absolute deadlines, for `--start-after` + `--seconds`.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use clap::Parser;

const BUCKET_US: u64 = 10;
const BUCKETS: usize = 20_000; // up to 200 ms

#[derive(Parser)]
struct Args {
    /// UDP port on 127.0.0.1 to receive on.
    #[arg(long)]
    port: u16,
    /// Seconds to wait (packets are tracked but not counted) before measuring.
    #[arg(long, default_value_t = 10)]
    start_after: u64,
    /// Seconds to measure.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Send N raw streams to the port instead of receiving (the baseline).
    #[arg(long)]
    blast: Option<usize>,
}

fn blast(args: &Args, n: usize) -> anyhow::Result<()> {
    let to = SocketAddr::from(([127, 0, 0, 1], args.port));
    let socks = (0..n)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut pkt = [0xffu8; 172];
    pkt[0] = 0x80;
    pkt[1] = 0;
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(args.start_after + args.seconds);
    // stream i sends at t0 + k*20 ms + i*(20 ms / n)
    let period = Duration::from_millis(20);
    let mut k: u32 = 0;
    let mut sent = 0u64;
    while Instant::now() < end {
        let base = t0 + period * k;
        for (i, s) in socks.iter().enumerate() {
            let due = base + period * (i as u32) / (n as u32);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            pkt[2..4].copy_from_slice(&(k as u16).to_be_bytes());
            pkt[4..8].copy_from_slice(&(k * 160).to_be_bytes());
            pkt[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            if s.send_to(&pkt, to).is_ok() {
                sent += 1;
            }
        }
        k += 1;
    }
    println!("{{\"blast_streams\":{n},\"sent\":{sent}}}");
    Ok(())
}

struct Stream {
    last_seq: u16,
    last: Instant,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(n) = args.blast {
        return blast(&args, n.max(1));
    }
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    sock.set_recv_buffer_size(8 << 20)?;
    sock.bind(&SocketAddr::from(([127, 0, 0, 1], args.port)).into())?;
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let t0 = Instant::now();
    let start = t0 + Duration::from_secs(args.start_after);
    let end = start + Duration::from_secs(args.seconds);
    let mut streams: HashMap<SocketAddr, Stream> = HashMap::new();
    let mut hist = vec![0u64; BUCKETS];
    let (mut intervals, mut packets, mut lost, mut max_us) = (0u64, 0u64, 0u64, 0u64);
    let mut measured_sources = std::collections::HashSet::new();
    let mut buf = [0u8; 2048];
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let Ok((n, src)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let now = Instant::now();
        if n < 12 || buf[0] >> 6 != 2 {
            continue;
        }
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let measuring = now >= start;
        if measuring {
            packets += 1;
            measured_sources.insert(src);
        }
        match streams.get_mut(&src) {
            Some(s) => {
                if measuring {
                    let d = seq.wrapping_sub(s.last_seq);
                    if d == 1 {
                        let us = now.duration_since(s.last).as_micros() as u64;
                        let dev = us.abs_diff(20_000);
                        max_us = max_us.max(dev);
                        hist[((dev / BUCKET_US) as usize).min(BUCKETS - 1)] += 1;
                        intervals += 1;
                    } else if d > 1 && d < 1000 {
                        lost += u64::from(d - 1);
                    }
                }
                s.last_seq = seq;
                s.last = now;
            }
            None => {
                streams.insert(
                    src,
                    Stream {
                        last_seq: seq,
                        last: now,
                    },
                );
            }
        }
    }
    let pct = |q: f64| {
        let target = (intervals as f64 * q).ceil() as u64;
        let mut acc = 0;
        for (i, c) in hist.iter().enumerate() {
            acc += c;
            if acc >= target && target > 0 {
                return (i as u64 * BUCKET_US) as f64 / 1000.0;
            }
        }
        f64::NAN
    };
    let expected = measured_sources.len() as f64 * args.seconds as f64 * 50.0;
    println!(
        "{{\"streams_seen\":{},\"streams_measured\":{},\"packets\":{packets},\"expected\":{expected:.0},\"lost\":{lost},\"intervals\":{intervals},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"p999_ms\":{:.2},\"max_ms\":{:.2}}}",
        streams.len(),
        measured_sources.len(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        max_us as f64 / 1000.0
    );
    Ok(())
}
