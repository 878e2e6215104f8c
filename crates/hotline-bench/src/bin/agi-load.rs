//! agi-load: many FastAGI sessions held in the IVR's main menu, playing Asterisk's part
//! (header block, then a reply to every command after a think time standing in for the
//! prompt's playback), or the same traffic against a bare TCP echo server as the baseline.
//!
//!   agi-load echo-server --listen 127.0.0.1:4600
//!   agi-load run --mode agi  --target 127.0.0.1:4573 --sessions 2000 --seconds 30
//!   agi-load run --mode echo --target 127.0.0.1:4600 --sessions 2000 --seconds 30
//!
//! Each session replies to every command `--think-ms` after it arrived (`200 result=0
//! endpos=...` to STREAM FILE, `200 result= (timeout)` to GET DATA, so a server with a large
//! `[ivr] menu_retries` keeps the caller in the menu); in echo mode it writes a reply-sized
//! line and reads it back. Measured per exchange, after the ramp-up: the round trip from our
//! reply written to the next command read (echo: line written → line read back). Prints one
//! JSON line. Sessions that end early (the server hung up or broke the protocol) are counted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// A bare TCP line echo server (the baseline).
    EchoServer {
        #[arg(long, default_value = "127.0.0.1:4600")]
        listen: SocketAddr,
    },
    /// The load.
    Run(RunArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Agi,
    Echo,
}

#[derive(clap::Args, Debug, Clone)]
struct RunArgs {
    #[arg(long, value_enum, default_value = "agi")]
    mode: Mode,
    #[arg(long, default_value = "127.0.0.1:4573")]
    target: SocketAddr,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 2000)]
    sessions: usize,
    /// Measured time after the ramp-up.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Ramp-up: sessions are opened evenly over this time, then held this long again.
    #[arg(long, default_value_t = 10)]
    ramp_seconds: u64,
    /// Think time per command (the prompt playing), in ms.
    #[arg(long, default_value_t = 1000)]
    think_ms: u64,
    /// Give up on a reply after this long (ms).
    #[arg(long, default_value_t = 10_000)]
    read_timeout_ms: u64,
}

async fn echo_server(listen: SocketAddr) -> anyhow::Result<()> {
    let l = TcpListener::bind(listen).await?;
    eprintln!("echo server on {}", l.local_addr()?);
    loop {
        let (s, _) = l.accept().await?;
        s.set_nodelay(true)?;
        tokio::spawn(async move {
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if w.write_all(line.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
}

struct Shared {
    measuring_from: Instant,
    until: Instant,
    ended_early: AtomicU64,
    connect_failures: AtomicU64,
    exchanges: AtomicU64,
}

fn header(i: usize) -> String {
    format!(
        "agi_network: yes\nagi_network_script: hotline\nagi_request: agi://127.0.0.1/hotline\n\
         agi_channel: PJSIP/load-{i:08}\nagi_language: zh\nagi_type: PJSIP\n\
         agi_uniqueid: 1733600000.{i}\nagi_version: 20.5.0\nagi_callerid: 1380013{:04}\n\
         agi_calleridname: unknown\nagi_dnid: 112\nagi_context: from-load\nagi_extension: 112\n\
         agi_priority: 1\nagi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: {i}\n\n",
        i % 10_000
    )
}

fn reply_to(cmd: &str) -> &'static str {
    if cmd.starts_with("GET DATA") {
        "200 result= (timeout)\n"
    } else if cmd.starts_with("STREAM FILE") {
        "200 result=0 endpos=16000\n"
    } else if cmd.starts_with("SET VARIABLE") || cmd.starts_with("HANGUP") {
        "200 result=1\n"
    } else {
        "200 result=0\n"
    }
}

/// One session; returns round-trip samples (µs) taken in the measuring window.
async fn session(i: usize, a: RunArgs, sh: Arc<Shared>) -> Vec<u32> {
    let mut samples = Vec::new();
    let Ok(Ok(sock)) =
        tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(a.target)).await
    else {
        sh.connect_failures.fetch_add(1, Ordering::Relaxed);
        return samples;
    };
    let _ = sock.set_nodelay(true);
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::with_capacity(512, r);
    let mut line = String::new();
    let think = Duration::from_millis(a.think_ms);
    let read_timeout = Duration::from_millis(a.read_timeout_ms);
    if a.mode == Mode::Agi && w.write_all(header(i).as_bytes()).await.is_err() {
        sh.ended_early.fetch_add(1, Ordering::Relaxed);
        return samples;
    }
    // Echo: the first "command" is our own line.
    let mut cmd = String::from("STREAM FILE hotline/welcome 0123456789*#");
    if a.mode == Mode::Agi {
        match tokio::time::timeout(read_timeout, r.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => cmd = line.trim_end().to_owned(),
            _ => {
                sh.ended_early.fetch_add(1, Ordering::Relaxed);
                return samples;
            }
        }
    }
    // Spread the sessions' phases over the think time.
    tokio::time::sleep(Duration::from_micros(
        (i as u64 * 7919) % (a.think_ms.max(1) * 1000),
    ))
    .await;
    loop {
        if Instant::now() >= sh.until {
            break;
        }
        tokio::time::sleep(think).await;
        let reply = reply_to(&cmd);
        let sent = Instant::now();
        if w.write_all(reply.as_bytes()).await.is_err() {
            sh.ended_early.fetch_add(1, Ordering::Relaxed);
            break;
        }
        line.clear();
        match tokio::time::timeout(read_timeout, r.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => {
                sh.ended_early.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        let rtt = sent.elapsed();
        if sent >= sh.measuring_from {
            samples.push(u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX));
            sh.exchanges.fetch_add(1, Ordering::Relaxed);
        }
        if a.mode == Mode::Agi {
            cmd = line.trim_end().to_owned();
            if cmd == "HANGUP" {
                let _ = w.write_all(b"200 result=1\n").await;
                sh.ended_early.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    samples
}

fn pct(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

async fn run(a: RunArgs) -> anyhow::Result<()> {
    if a.sessions == 0 {
        bail!("--sessions must be positive");
    }
    let start = Instant::now();
    let ramp = Duration::from_secs(a.ramp_seconds);
    let measuring_from = start + ramp * 2;
    let until = measuring_from + Duration::from_secs(a.seconds);
    let sh = Arc::new(Shared {
        measuring_from,
        until,
        ended_early: AtomicU64::new(0),
        connect_failures: AtomicU64::new(0),
        exchanges: AtomicU64::new(0),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..a.sessions {
        let at = start + ramp.mul_f64(i as f64 / a.sessions as f64);
        tokio::time::sleep_until(at.into()).await;
        tasks.spawn(session(i, a.clone(), sh.clone()));
    }
    eprintln!(
        "{} sessions opened in {:.1} s; measuring from +{} s for {} s",
        a.sessions,
        start.elapsed().as_secs_f64(),
        2 * a.ramp_seconds,
        a.seconds
    );
    let mut all: Vec<u32> = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.context("session task")?);
    }
    all.sort_unstable();
    let secs = a.seconds as f64;
    println!(
        "{{\"mode\":\"{:?}\",\"sessions\":{},\"think_ms\":{},\"seconds\":{},\"exchanges\":{},\"per_s\":{:.0},\"rtt_p50_us\":{},\"rtt_p99_us\":{},\"rtt_p999_us\":{},\"rtt_max_us\":{},\"ended_early\":{},\"connect_failures\":{}}}",
        a.mode,
        a.sessions,
        a.think_ms,
        a.seconds,
        all.len(),
        all.len() as f64 / secs,
        pct(&all, 0.5),
        pct(&all, 0.99),
        pct(&all, 0.999),
        all.last().copied().unwrap_or(0),
        sh.ended_early.load(Ordering::Relaxed),
        sh.connect_failures.load(Ordering::Relaxed),
    );
    let _ = sh.exchanges.load(Ordering::Relaxed);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        match cli.cmd {
            Cmd::EchoServer { listen } => echo_server(listen).await,
            Cmd::Run(a) => run(a).await,
        }
    })
}
