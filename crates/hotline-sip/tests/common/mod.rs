//! Shared helpers for the interop tests: start the tokio driver on 127.0.0.1:<free port> with a
//! scripted application, find free ports, run sipp with a hard timeout.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hotline_sip::driver::{Driver, SipHandle};
use hotline_sip::endpoint::{EndpointConfig, Event};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SIPP: &str = "/usr/bin/sipp";

pub const OUR_SDP: &[u8] = b"v=0\r\no=hotline 1 1 IN IP4 127.0.0.1\r\ns=hotline\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";

/// Our answer to a hold (a=sendonly) re-INVITE.
pub const HOLD_ANSWER: &[u8] = b"v=0\r\no=hotline 1 2 IN IP4 127.0.0.1\r\ns=hotline\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=recvonly\r\n";

/// What the scripted application does with an incoming call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppMode {
    /// 180 then 200 with [`OUR_SDP`]; wait for the caller's BYE.
    Answer,
    /// 180 only (the caller is expected to CANCEL).
    RingOnly,
}

pub struct Running {
    pub addr: SocketAddr,
    pub handle: SipHandle,
    pub events: Arc<Mutex<Vec<Event>>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.lock().unwrap().iter().filter(|e| f(e)).count()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Starts the driver plus an application task in `mode`.
pub async fn start(mode: AppMode, tweak: impl FnOnce(&mut EndpointConfig)) -> Running {
    let mut cfg = EndpointConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.seed = 42;
    tweak(&mut cfg);
    let (driver, handle, mut rx) = Driver::bind("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .expect("bind");
    let addr = driver.local_addr();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let events = Arc::new(Mutex::new(Vec::new()));
    let app_events = events.clone();
    let app_handle = handle.clone();
    let task = tokio::spawn(async move {
        let app = async move {
            while let Some(ev) = rx.recv().await {
                app_events.lock().unwrap().push(ev.clone());
                match ev {
                    Event::IncomingCall { call, .. } => {
                        let _ = app_handle.ring(&call).await;
                        if mode == AppMode::Answer {
                            let _ = app_handle.answer(&call, Bytes::from_static(OUR_SDP)).await;
                        }
                    }
                    Event::ReInvite { call, .. } => {
                        let _ = app_handle
                            .answer_reinvite(&call, Bytes::from_static(HOLD_ANSWER))
                            .await;
                    }
                    _ => {}
                }
            }
        };
        let drive = driver.run(async {
            let _ = stop_rx.await;
        });
        tokio::select! {
            r = drive => { r.expect("driver"); }
            _ = app => {}
        }
    });
    Running {
        addr,
        handle,
        events,
        stop: Some(stop_tx),
        task,
    }
}

/// A UDP port that was free a moment ago (also used for TCP/media by sipp).
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn scenario(name: &str) -> String {
    format!("{}/tests/sipp/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs sipp with `args` plus the usual flags (-nostdin, local ports, -timeout), killing it
/// after `limit`.
pub async fn sipp(args: &[&str], limit: Duration) -> Output {
    assert!(
        std::path::Path::new(SIPP).exists(),
        "sipp missing: apt-get install -y sip-tester"
    );
    let port = free_port().to_string();
    let media = hotline_testkit::sipp_media_port().to_string();
    let timeout = format!("{}s", limit.as_secs().saturating_sub(2).max(1));
    let mut cmd = tokio::process::Command::new(SIPP);
    cmd.args(args)
        .args(["-nostdin", "-i", "127.0.0.1", "-p", &port, "-mp", &media])
        .args(["-timeout", &timeout, "-timeout_error", "-trace_err"])
        .args([
            "-error_file",
            &format!("{}/sipp-{port}-errors.log", std::env::temp_dir().display()),
        ])
        .kill_on_drop(true);
    match tokio::time::timeout(limit, cmd.output()).await {
        Ok(out) => out.expect("run sipp"),
        Err(_) => panic!("sipp {args:?} did not finish within {limit:?}"),
    }
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stderr)
    )
}
