//! The server side of the full-SIP looping-prompt benchmark (`tests/bench/sip-prompts.sh`):
//! answers every INVITE on the real stack (`hotline-sip` driver + endpoint), negotiates the
//! caller's offer with a `hotline-media` leg, and plays a looping prompt on it until the caller
//! hangs up. Prints the number of live calls once a second on stderr.
//!
//! `prompt_uas LISTEN [--prompt FILE.wav] [--workers N] [--pacing thread|timer] [--grid off]
//! [--send-ahead-ms N]`
//! (`--pacing timer`: no pacer thread, each leg sends when tokio's timer wakes it;
//! `--grid off`: each playback starts at once instead of on its leg's 20 ms phase)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hotline_media::prompt::Prompt;
use hotline_media::{MediaConfig, MediaLeg};
use hotline_sip::driver::{Driver, SipHandle};
use hotline_sip::endpoint::{CallId, EndpointConfig, Event};
use tokio::sync::oneshot;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5080".into())
        .parse()?;
    let workers = arg("--workers").and_then(|w| w.parse().ok()).unwrap_or(2);
    let timer_pacing = arg("--pacing").as_deref() == Some("timer");
    let no_grid = arg("--grid").as_deref() == Some("off");
    let send_ahead = arg("--send-ahead-ms").and_then(|v| v.parse().ok());
    let prompt = match arg("--prompt") {
        Some(path) => Prompt::load(std::path::Path::new(&path))?,
        // 3 s of a tone, like the media-legs bench
        None => Prompt::from_samples(
            "bench",
            (0..24_000)
                .map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16)
                .collect(),
        ),
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(serve(listen, prompt, timer_pacing, no_grid, send_ahead))
}

async fn serve(
    listen: SocketAddr,
    prompt: Prompt,
    timer_pacing: bool,
    no_grid: bool,
    send_ahead_ms: Option<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = EndpointConfig::new(listen);
    cfg.seed = std::process::id().into();
    let (driver, sip, mut events) = Driver::bind(listen, cfg).await?;
    eprintln!("prompt_uas: answering on {} (UDP+TCP)", driver.local_addr());
    let mut media = MediaConfig::new(listen.ip());
    media.leg.session.inactivity_timeout = Duration::from_secs(3600);
    if timer_pacing {
        media.pacer = None;
    }
    if no_grid {
        media.frame_grid = None;
    }
    if let Some(ms) = send_ahead_ms {
        media.leg.send_ahead = Duration::from_millis(ms);
    }
    let shutdown = media.shutdown.clone();
    let run = tokio::spawn(driver.run({
        let shutdown = shutdown.clone();
        async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
        }
    }));
    let live = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let live = live.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                eprintln!("prompt_uas: {} live calls", live.load(Ordering::Relaxed));
            }
        }
    });
    let mut hangups: HashMap<CallId, oneshot::Sender<()>> = HashMap::new();
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = shutdown.cancelled() => None,
        };
        let Some(ev) = ev else { break };
        match ev {
            Event::IncomingCall { call, offer, .. } => {
                let (tx, rx) = oneshot::channel();
                hangups.insert(call.clone(), tx);
                tokio::spawn(call_task(
                    sip.clone(),
                    media.clone(),
                    call,
                    offer,
                    prompt.clone(),
                    rx,
                    live.clone(),
                ));
            }
            Event::CallEnded { call, .. } => {
                if let Some(tx) = hangups.remove(&call) {
                    let _ = tx.send(());
                }
            }
            _ => {}
        }
    }
    shutdown.cancel();
    let _ = run.await;
    let late = hotline_media::pacer::send_lateness();
    eprintln!(
        "prompt_uas: pacer send lateness (us <= {:?}): {late:?}",
        hotline_media::pacer::LATENESS_BUCKETS_US
    );
    let late = hotline_media::leg::wakeup_lateness();
    eprintln!(
        "prompt_uas: leg task wake-up lateness (us <= {:?}): {late:?}",
        hotline_media::leg::LATENESS_BUCKETS_US
    );
    Ok(())
}

async fn call_task(
    sip: SipHandle,
    media: MediaConfig,
    call: CallId,
    offer: Option<Bytes>,
    prompt: Prompt,
    hangup: oneshot::Receiver<()>,
    live: Arc<AtomicUsize>,
) {
    let leg = match MediaLeg::bind(&media).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("prompt_uas: {call:?}: no RTP port: {e}");
            let _ = sip.reject(&call, 503).await;
            return;
        }
    };
    let sdp = match offer.map(|o| leg.local_sdp_answer(&o)) {
        Some(Ok(sdp)) => sdp,
        other => {
            eprintln!("prompt_uas: {call:?}: no usable offer ({other:?})");
            let _ = sip.reject(&call, 488).await;
            leg.close().await;
            return;
        }
    };
    if sip.answer(&call, Bytes::from(sdp)).await.is_ok() {
        live.fetch_add(1, Ordering::Relaxed);
        let prompts = [prompt];
        tokio::select! {
            _ = leg.play_looping(&prompts, false) => {}
            _ = hangup => { let _ = leg.stop_play(); }
        }
        live.fetch_sub(1, Ordering::Relaxed);
    }
    leg.close().await;
}
