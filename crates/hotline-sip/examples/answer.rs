//! Minimal answering machine on the SIP stack, for trying it by hand and for the call-setup
//! benchmark: answers every INVITE at once with a fixed SDP, logs DTMF, waits for BYE.
//!
//! `cargo run -p hotline-sip --example answer -- 127.0.0.1:5080 [--ring] [--drops]`
//!
//! `--drops` prints the endpoint's drop counters (rate limited, banned, scanner, malformed,
//! auth failures, locked out) to stderr every second (used by `tests/bench/sip-flood.sh`).

use bytes::Bytes;
use hotline_sip::driver::Driver;
use hotline_sip::endpoint::{EndpointConfig, Event};

const SDP: &[u8] = b"v=0\r\no=hotline 1 1 IN IP4 127.0.0.1\r\ns=hotline\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:5080".into())
        .parse()?;
    let rest: Vec<String> = args.collect();
    let ring = rest.iter().any(|a| a == "--ring");
    let drops = rest.iter().any(|a| a == "--drops");
    let mut cfg = EndpointConfig::new(listen);
    cfg.seed = std::process::id().into();
    let (driver, sip, mut events) = Driver::bind(listen, cfg).await?;
    eprintln!("answering on {} (UDP+TCP)", driver.local_addr());
    let run = tokio::spawn(driver.run(async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    if drops {
        let sip = sip.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                match sip.drops().await {
                    Ok(d) => eprintln!("drops: {d:?}"),
                    Err(_) => break,
                }
            }
        });
    }
    let app = async {
        while let Some(ev) = events.recv().await {
            match ev {
                Event::IncomingCall { call, .. } => {
                    if ring {
                        let _ = sip.ring(&call).await;
                    }
                    let _ = sip.answer(&call, Bytes::from_static(SDP)).await;
                }
                Event::Dtmf { call, digit, .. } => eprintln!("{call}: DTMF {digit}"),
                _ => {}
            }
        }
    };
    tokio::select! {
        r = run => { r??; }
        _ = app => {}
    }
    Ok(())
}
