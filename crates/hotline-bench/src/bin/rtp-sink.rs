//! RTP receiver for the full-SIP looping-prompt benchmark (`tests/bench/sip-prompts.sh`):
//! every call's SDP points here, each stream is told apart by its source address, and for the
//! measuring window the sink histograms |inter-packet interval − 20 ms| over consecutive
//! sequence numbers, as a caller's jitter buffer would see it. Prints one JSON line with two
//! sets of figures: `p*_ms` from when this process read each packet (includes the sink's own
//! scheduling delays on a shared machine) and `kernel_p*_ms` from the kernel's receive
//! timestamps (SO_TIMESTAMPNS: when the packet reached the socket, as a receiver on another
//! machine would see its arrival).
//!
//! `rtp-sink --port P --start-after S --seconds S`
//!
//! With `--blast N` it is the raw-UDP baseline instead: one thread sends N streams of 20 ms
//! PCMU-sized RTP packets to `--port` from N sockets, each stream on its own phase of the
//! 20 ms period, sleeping to absolute deadlines, for `--start-after` + `--seconds`.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
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
    last_kernel: Option<Duration>,
}

/// |interval − 20 ms| histogram in 10 µs buckets.
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max_us: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: vec![0; BUCKETS],
            count: 0,
            max_us: 0,
        }
    }

    fn add(&mut self, interval: Duration) {
        let dev = (interval.as_micros() as u64).abs_diff(20_000);
        self.max_us = self.max_us.max(dev);
        self.buckets[((dev / BUCKET_US) as usize).min(BUCKETS - 1)] += 1;
        self.count += 1;
    }

    fn pct(&self, q: f64) -> f64 {
        let target = (self.count as f64 * q).ceil() as u64;
        let mut acc = 0;
        for (i, c) in self.buckets.iter().enumerate() {
            acc += c;
            if acc >= target && target > 0 {
                return (i as u64 * BUCKET_US) as f64 / 1000.0;
            }
        }
        f64::NAN
    }
}

/// Receives one datagram with the kernel's receive timestamp (SO_TIMESTAMPNS).
fn recv(sock: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr, Option<Duration>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg};
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrIn>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .ok()?;
    let src = SocketAddr::V4(msg.address?.into());
    let kernel = msg.cmsgs().ok().and_then(|mut c| {
        c.find_map(|m| match m {
            ControlMessageOwned::ScmTimestampns(ts) => Some(Duration::from(ts)),
            _ => None,
        })
    });
    Some((msg.bytes, src, kernel))
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
    nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimestampns, &true)?;
    let t0 = Instant::now();
    let start = t0 + Duration::from_secs(args.start_after);
    let end = start + Duration::from_secs(args.seconds);
    let mut streams: HashMap<SocketAddr, Stream> = HashMap::new();
    // When this process read each packet, and when the kernel queued it on the socket (the
    // latter leaves out the sink's own scheduling delays: a receiver on another machine does
    // not share our two cores).
    let (mut user, mut kernel) = (Histogram::new(), Histogram::new());
    let (mut packets, mut lost) = (0u64, 0u64);
    let mut measured_sources = std::collections::HashSet::new();
    let mut buf = [0u8; 2048];
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let Some((n, src, kts)) = recv(&sock, &mut buf) else {
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
                        user.add(now.duration_since(s.last));
                        if let (Some(k), Some(lk)) = (kts, s.last_kernel) {
                            kernel.add(k.saturating_sub(lk));
                        }
                    } else if d > 1 && d < 1000 {
                        lost += u64::from(d - 1);
                    }
                }
                s.last_seq = seq;
                s.last = now;
                s.last_kernel = kts;
            }
            None => {
                streams.insert(
                    src,
                    Stream {
                        last_seq: seq,
                        last: now,
                        last_kernel: kts,
                    },
                );
            }
        }
    }
    let expected = measured_sources.len() as f64 * args.seconds as f64 * 50.0;
    println!(
        "{{\"streams_seen\":{},\"streams_measured\":{},\"packets\":{packets},\"expected\":{expected:.0},\"lost\":{lost},\"intervals\":{},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"p999_ms\":{:.2},\"max_ms\":{:.2},\"kernel_intervals\":{},\"kernel_p50_ms\":{:.2},\"kernel_p99_ms\":{:.2},\"kernel_p999_ms\":{:.2},\"kernel_max_ms\":{:.2}}}",
        streams.len(),
        measured_sources.len(),
        user.count,
        user.pct(0.5),
        user.pct(0.99),
        user.pct(0.999),
        user.max_us as f64 / 1000.0,
        kernel.count,
        kernel.pct(0.5),
        kernel.pct(0.99),
        kernel.pct(0.999),
        kernel.max_us as f64 / 1000.0,
    );
    Ok(())
}
