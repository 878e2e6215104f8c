//! `ivr-load`: callers through the real Mandarin menu (issue 5 benchmark). Each caller dials
//! the hotline over SIP (our own UAC, `hotline_calls::dialer`), waits for the prompts, presses
//! 1 (report a fault), a faulty number unique to the call and `#`, 1 (confirm) and a fault-type
//! key as RFC 4733 events, and waits for the IVR to read the ticket number back and hang up.
//! Afterwards every faulty number is looked up over gRPC: a call that finished without a
//! ticket carrying exactly its number, fault type, channel `ivr` and caller id counts as a
//! missed digit. Prints one JSON line.
//!
//! ```text
//! ivr-load --sip 127.0.0.1:5060 --server http://127.0.0.1:50051 --token $T \
//!          --calls 500 --rate 50 --concurrency 500
//! ```

use anyhow::Context;
use clap::Parser;
use hotline_calls::dialer::Caller;
use hotline_proto::v1 as pb;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Parser, Debug)]
struct Args {
    /// The hotline's SIP address.
    #[arg(long, default_value = "127.0.0.1:5060")]
    sip: SocketAddr,
    /// The core's gRPC address (to check the tickets).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// A token that may list tickets.
    #[arg(long, env = "HOTLINE_TOKEN")]
    token: String,
    /// Calls to place.
    #[arg(long, default_value_t = 500)]
    calls: usize,
    /// New calls per second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Most calls up at once.
    #[arg(long, default_value_t = 500)]
    concurrency: usize,
    /// Pause before each step (the caller listening to the prompt; keys barge in).
    #[arg(long, default_value_t = 1500)]
    beat_ms: u64,
    /// First faulty number (each call adds its index).
    #[arg(long, default_value_t = 1_070_000_000)]
    first_number: u64,
}

#[derive(Debug)]
struct CallResult {
    number: String,
    caller: String,
    fault: char,
    setup_ms: Option<f64>,
    total_ms: f64,
    error: Option<String>,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

async fn one_call(
    a: Arc<Args>,
    i: usize,
    up: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
) -> CallResult {
    let number = format!("0{}", a.first_number + i as u64);
    let caller = format!("139{:08}", i);
    let fault = char::from(b'1' + (i % 6) as u8);
    let start = Instant::now();
    let mut r = CallResult {
        number: number.clone(),
        caller: caller.clone(),
        fault,
        setup_ms: None,
        total_ms: 0.0,
        error: None,
    };
    let mut c = match Caller::dial(a.sip, &caller).await {
        Ok(c) => c,
        Err(e) => {
            r.error = Some(format!("dial: {e}"));
            r.total_ms = start.elapsed().as_secs_f64() * 1e3;
            return r;
        }
    };
    r.setup_ms = Some(start.elapsed().as_secs_f64() * 1e3);
    let now_up = up.fetch_add(1, Ordering::SeqCst) + 1;
    peak.fetch_max(now_up, Ordering::SeqCst);
    let beat = Duration::from_millis(a.beat_ms);
    let steps = [
        "1".to_string(),
        format!("{number}#"),
        "1".into(),
        fault.to_string(),
    ];
    let mut err = None;
    for keys in &steps {
        tokio::time::sleep(beat).await;
        if let Err(e) = c.press(keys).await {
            err = Some(format!("press {keys}: {e}"));
            break;
        }
    }
    if err.is_none()
        && let Err(e) = c.wait_ended(Duration::from_secs(120)).await
    {
        err = Some(format!("end: {e}"));
    }
    up.fetch_sub(1, Ordering::SeqCst);
    c.close().await;
    r.error = err;
    r.total_ms = start.elapsed().as_secs_f64() * 1e3;
    r
}

fn fault_name(k: char) -> &'static str {
    match k {
        '1' => "no_dial_tone",
        '2' => "noise",
        '3' => "cannot_call_out",
        '4' => "cannot_receive",
        '5' => "drops",
        _ => "other",
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Arc::new(Args::parse());
    let sem = Arc::new(Semaphore::new(a.concurrency));
    let up = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / a.rate);
    let mut tasks = Vec::with_capacity(a.calls);
    let mut offered_late = 0usize;
    for i in 0..a.calls {
        let due = started + gap.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let permit = sem.clone().acquire_owned().await?;
        if Instant::now() > due + Duration::from_millis(100) {
            offered_late += 1;
        }
        let (a, up, peak) = (a.clone(), up.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            let r = one_call(a, i, up, peak).await;
            drop(permit);
            r
        }));
    }
    let offered_secs = started.elapsed().as_secs_f64();
    let mut results = Vec::with_capacity(a.calls);
    for t in tasks {
        results.push(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();

    // every finished call must have produced exactly its ticket
    let ch = tonic::transport::Channel::from_shared(a.server.clone())?
        .connect()
        .await
        .context("core")?;
    let mut tickets = TicketServiceClient::new(ch);
    let mut missed = Vec::new();
    for r in results.iter().filter(|r| r.error.is_none()) {
        let mut req = tonic::Request::new(pb::ListTicketsRequest {
            page_size: 5,
            faulty_number: r.number.clone(),
            ..Default::default()
        });
        req.metadata_mut()
            .insert("authorization", format!("Bearer {}", a.token).parse()?);
        let list = tickets.list_tickets(req).await?.into_inner().tickets;
        let ok = list.len() == 1
            && list[0].channel == "ivr"
            && list[0].fault_type == fault_name(r.fault)
            && list[0].contact_number == r.caller;
        if !ok {
            missed.push(r.number.clone());
        }
    }
    let failed: Vec<&CallResult> = results.iter().filter(|r| r.error.is_some()).collect();
    let mut setup: Vec<f64> = results.iter().filter_map(|r| r.setup_ms).collect();
    let mut total: Vec<f64> = results
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.total_ms)
        .collect();
    let mut first_errors: Vec<String> = failed
        .iter()
        .filter_map(|r| r.error.clone())
        .take(5)
        .collect();
    first_errors.dedup();
    println!(
        "{{\"calls\":{},\"rate_offered\":{:.1},\"rate_achieved\":{:.1},\"offered_late\":{},\"concurrency_limit\":{},\"peak_in_menu\":{},\"completed\":{},\"failed\":{},\"missed_digits\":{},\"setup_p50_ms\":{:.1},\"setup_p99_ms\":{:.1},\"call_p50_s\":{:.2},\"call_p99_s\":{:.2},\"elapsed_s\":{:.1},\"first_errors\":{:?},\"missed_numbers\":{:?}}}",
        a.calls,
        a.rate,
        a.calls as f64 / offered_secs,
        offered_late,
        a.concurrency,
        peak.load(Ordering::SeqCst),
        results.len() - failed.len(),
        failed.len(),
        missed.len(),
        pct(&mut setup, 0.5),
        pct(&mut setup, 0.99),
        pct(&mut total, 0.5) / 1e3,
        pct(&mut total, 0.99) / 1e3,
        elapsed,
        first_errors,
        missed.iter().take(10).collect::<Vec<_>>()
    );
    Ok(())
}
