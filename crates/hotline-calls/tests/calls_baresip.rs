//! baresip (Debian's 1.0, headless) as an agent's softphone through the core's ACD (issue 5:
//! "baresip agents registering and answering"): it REGISTERs as j1 with digest (MD5: baresip
//! 1.0 fails the whole REGISTER on a SHA-256 challenge, so the call server offers MD5 only,
//! its default), the agent is set available in the core, a caller presses 0, our UAC rings
//! baresip, which answers by itself (`answermode=auto`) and sends a tone from a file
//! (`aufile`), the legs are bridged; the caller hangs up, baresip gets our BYE.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::agents::{Agent, metrics, wait_log, wait_state};
use common::sipp::free_port;
use common::{AGENT_ID, Hotline, SOFTPHONE_PASSWORD, database_urls, temp_dir};
use hotline_calls::dialer::Caller;
use hotline_ivr::FlowOutcome;
use tokio::io::{AsyncBufReadExt, BufReader};

const BARESIP: &str = "/usr/bin/baresip";

/// `secs` of a 500 Hz tone, 8 kHz mono 16-bit (what the agent "says").
fn write_tone(path: &Path, secs: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..8000 * secs {
        let t = f64::from(i) / 8000.0;
        w.write_sample((6000.0 * (2.0 * std::f64::consts::PI * 500.0 * t).sin()) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// baresip running headless with its own config directory; its output collected.
struct Baresip {
    child: tokio::process::Child,
    output: Arc<Mutex<String>>,
}

impl Baresip {
    /// Registers `user`/`password` at `registrar`, auto-answers, plays `source`.
    fn start(dir: &Path, registrar: std::net::SocketAddr, user: &str, password: &str) -> Self {
        let conf = dir.join("baresip");
        std::fs::create_dir_all(&conf).unwrap();
        let tone = conf.join("agent-tone.wav");
        write_tone(&tone, 20);
        let sip_port = hotline_testkit::baresip_sip_port();
        let rtp = free_port() & !1;
        std::fs::write(
            conf.join("config"),
            format!(
                "poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\nmodule_path /usr/lib/baresip/modules\n\
                 module g711.so\nmodule aufile.so\nmodule account.so\n\
                 audio_source aufile,{tone}\naudio_player aufile,/dev/null\naudio_alert aufile,/dev/null\n\
                 rtp_ports {rtp}-{}\n",
                rtp + 20,
                tone = tone.display()
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("accounts"),
            format!(
                "<sip:{user}@{registrar}>;auth_pass={password};regint=60;answermode=auto;audio_codecs=pcmu,pcma\n"
            ),
        )
        .unwrap();
        let mut child = tokio::process::Command::new(BARESIP)
            .args(["-f", &conf.display().to_string(), "-t", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn baresip");
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let out = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    let mut o = out.lock().unwrap();
                    o.push_str(&l);
                    o.push('\n');
                }
            });
        }
        Baresip { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits (at most `within`) for `needle` in baresip's output.
    async fn wait_output(&self, needle: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.output().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.output()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_agent_registers_auto_answers_a_queued_caller_and_gets_the_bye() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Baresip) {
        return;
    }
    let dir = temp_dir("agent-baresip");
    let url = database_urls(&dir).await.remove(0);
    let mut h = Hotline::start_with(&url, &dir, true, Duration::from_secs(15)).await;
    let mut j1 = Agent::create(&h, AGENT_ID, "junior").await;
    let phone = Baresip::start(&dir, h.sip, AGENT_ID, SOFTPHONE_PASSWORD);

    // baresip registers (digest) with the call server's registrar.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let server_sip = h.server_sip.clone().expect("call server's SIP handle");
    loop {
        if !server_sip.bindings(AGENT_ID).await.unwrap().is_empty() {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let out = phone.stop().await;
            panic!("baresip did not register as {AGENT_ID}:\n{out}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    j1.set_presence("available").await;

    // A caller presses 0: offered to j1, baresip answers by itself, connected.
    let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
    c.press("0").await.unwrap();
    let call_id = c.call_id().to_owned();
    wait_state(
        &h,
        &call_id,
        "connected",
        Some(AGENT_ID),
        Duration::from_secs(15),
    )
    .await;
    let connect = wait_log(
        &h,
        &call_id,
        "CONNECT",
        Some(AGENT_ID),
        Duration::from_secs(5),
    )
    .await;
    let m = metrics(&h).await;
    assert_eq!((m.entered, m.answered, m.abandoned), (1, 1, 0), "{m:?}");
    assert!(
        m.no_answers.iter().all(|n| n.no_answers == 0),
        "baresip answered, no miss: {m:?}"
    );
    // baresip: "call: answering call ... from sip:13800138000@hotline", "Call established".
    for needle in [
        "answering call on line 1 from sip:13800138000@",
        "Call established: sip:13800138000@",
    ] {
        assert!(
            phone.wait_output(needle, Duration::from_secs(5)).await,
            "baresip never said {needle:?}:\n{}",
            phone.output()
        );
    }

    // They talk (caller's tone one way, baresip's file the other), then the caller hangs up.
    c.speak(Duration::from_millis(1000)).await.unwrap();
    // The caller's voice reached baresip through the bridge.
    assert!(
        phone
            .wait_output(
                "incoming rtp for 'audio' established",
                Duration::from_secs(5)
            )
            .await,
        "no RTP reached baresip:\n{}",
        phone.output()
    );
    c.hang_up().await.unwrap();
    c.close().await;
    let s = h.next_call().await;
    assert_eq!(s.outcome, Ok(FlowOutcome::CallerHungUp));
    wait_log(
        &h,
        &call_id,
        "COMPLETECALLER",
        Some(AGENT_ID),
        Duration::from_secs(10),
    )
    .await;
    // baresip got our BYE: the peer closed the session (ECONNRESET is how baresip 1.0
    // reports a BYE received) and the call is over.
    let closed = phone
        .wait_output(
            "session closed: Connection reset by peer",
            Duration::from_secs(10),
        )
        .await
        && phone
            .wait_output("terminated (duration:", Duration::from_secs(5))
            .await;
    let out = phone.stop().await;
    assert!(closed, "baresip did not see our BYE:\n{out}");
    assert_eq!(connect.data[1], call_id, "{connect:?}");
    h.stop().await;
}
