//! The telephone side of `hotline serve` (the call server from `hotline-calls`: SIP, RTP,
//! the IVR flows) and `hotline demo`, a scripted caller that reports a fault.
//!
//! Settings: `[sip]` (`hotline_calls::SipSettings`, which also declares the flags and
//! `HOTLINE_*` variables) and `[ivr]` in the config file, env and flags layered over the file.
//! Quality-inspection recording of bridged calls (`[sip] qa_recording_dir`,
//! `--qa-recording-dir`: the spool; `[qa] recording`/`recording_percent`: which calls) is off
//! unless a directory is given; recordings are uploaded to the core after each call, and
//! those left in the spool by an earlier run at start. With `[outbound]` the call server
//! also places the automated survey calls through that trunk (`hotline_calls::outbound`).
//! The IVR reaches the core over gRPC as the `system` service account
//! `ivr`, whose password is drawn at random on every start (the core re-keys the account).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use hotline_calls::dialer::Caller;
use hotline_calls::{CallServer, CallServerConfig, GrpcQueue, SipSettings};
use hotline_ivr::{GrpcBackend, IvrConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The IVR's service account in the core.
pub const IVR_ACCOUNT: &str = "ivr";

/// The prompt catalog: the given path, else `prompts/prompts.toml` under the working
/// directory, else the one in this source tree (for `cargo run` from elsewhere).
pub(crate) fn prompts_path(given: Option<PathBuf>) -> PathBuf {
    if let Some(p) = given {
        return p;
    }
    let cwd = PathBuf::from("prompts/prompts.toml");
    if cwd.exists() {
        return cwd;
    }
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts/prompts.toml");
    if tree.exists() { tree } else { cwd }
}

/// The call server's settings: `[sip]` (the file layered under env and flags) applied to the
/// defaults, `[ivr]`, and the core's voicemail directory (the IVR must write where the core
/// reads).
pub fn call_server_config(
    sip_listen: SocketAddr,
    sip: &SipSettings,
    ivr: Option<&IvrConfig>,
    voicemail_dir: &Path,
) -> CallServerConfig {
    let mut cfg = CallServerConfig::new(sip_listen);
    sip.apply(&mut cfg);
    cfg.prompts = prompts_path(sip.prompts.clone());
    if let Some(d) = &cfg.qa_recording_dir {
        tracing::info!(dir = %d.display(), "bridged calls are recorded for quality inspection");
    }
    let mut ivr = ivr.cloned().unwrap_or_default();
    if ivr.voicemail_dir != IvrConfig::default().voicemail_dir && ivr.voicemail_dir != voicemail_dir
    {
        tracing::warn!(
            configured = %ivr.voicemail_dir.display(),
            used = %voicemail_dir.display(),
            "[ivr] voicemail_dir ignored: the IVR records into the core's voicemail directory"
        );
    }
    ivr.voicemail_dir = voicemail_dir.to_owned();
    cfg.ivr = ivr;
    cfg
}

/// A fresh random password for the IVR's service account.
pub fn random_password() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

/// The running call server.
pub struct RunningCalls {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningCalls {
    /// Hangs up live calls (their messages registered) and stops SIP.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "call server task failed");
        }
    }
}

/// Starts the call server against the core at `grpc_addr` as the IVR account.
pub async fn start(
    cfg: CallServerConfig,
    grpc_addr: SocketAddr,
    ivr_password: &str,
) -> anyhow::Result<RunningCalls> {
    // The core may listen on 0.0.0.0; the IVR talks to it on loopback then.
    let host = if grpc_addr.ip().is_unspecified() {
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), grpc_addr.port())
    } else {
        grpc_addr
    };
    let backend = GrpcBackend::connect(&format!("http://{host}"), IVR_ACCOUNT, ivr_password)
        .await
        .context("the IVR cannot log in to the core")?;
    // Callers who want an agent join the core's ACD (QueueService) as the same account.
    let queue = Arc::new(
        GrpcQueue::connect_lazy(&format!("http://{host}"), IVR_ACCOUNT, ivr_password)
            .map_err(|e| anyhow::anyhow!(e))?,
    );
    if let Some(dir) = cfg.qa_recording_dir.clone() {
        // recordings an earlier run could not hand to the core
        let q = queue.clone();
        tokio::spawn(async move { q.sweep_recordings(&dir).await });
    }
    let shutdown = CancellationToken::new();
    let listen = cfg.sip_listen;
    let outbound = cfg.outbound.is_some();
    let mut server = CallServer::start(cfg, Arc::new(backend), queue, shutdown.clone())
        .await
        .with_context(|| format!("cannot start the call server (SIP {listen})"))?;
    if outbound {
        // automated survey calls, claimed and reported as the same account
        let core = hotline_calls::outbound::GrpcCampaignCore::connect_lazy(
            &format!("http://{host}"),
            IVR_ACCOUNT,
            ivr_password,
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        server = server.with_campaign(Arc::new(core));
    }
    let addr = server.local_addr();
    let task = tokio::spawn(async move {
        if let Err(e) = server.run().await {
            tracing::error!(error = %e, "call server stopped");
        }
    });
    tracing::info!(sip = %addr, "the hotline answers calls");
    Ok(RunningCalls { shutdown, task })
}

/// What a demo caller reports, and where to read the ticket back: shared by `hotline demo`
/// (over SIP) and `hotline agi-demo` (playing Asterisk).
#[derive(Args, Debug)]
pub struct DemoReport {
    /// The caller id (the number we call from).
    #[arg(long, default_value = "13800138000")]
    pub caller: String,
    /// The faulty number to report.
    #[arg(long, default_value = "01066554433")]
    pub number: String,
    /// Fault-type key: 1 no dial tone, 2 noise, 3 cannot call out, 4 cannot receive, 5 drops, 6 other.
    #[arg(long, default_value = "2")]
    pub fault: char,
    /// The core's gRPC address (to show the ticket).
    #[arg(long, env = "HOTLINE_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Bearer token (`hotline login`), to show the ticket.
    #[arg(long, env = "HOTLINE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl DemoReport {
    /// Refuses a fault key outside the menu or a number that is not digits.
    pub fn check(&self) -> anyhow::Result<()> {
        if !('1'..='6').contains(&self.fault) {
            bail!("--fault: expected a key 1-6");
        }
        if self.number.is_empty() || !self.number.chars().all(|c| c.is_ascii_digit()) {
            bail!("--number: digits only");
        }
        Ok(())
    }

    /// Prints the ticket the IVR created for the number.
    pub async fn print_ticket(&self) -> anyhow::Result<()> {
        crate::client::print_reported_ticket(&self.server, self.token.as_deref(), &self.number)
            .await
    }
}

/// `hotline demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The hotline's SIP address.
    #[arg(long, default_value = "127.0.0.1:5060")]
    pub sip: SocketAddr,
    #[command(flatten)]
    pub report: DemoReport,
}

/// Places a call, reports a fault with the keypad and prints the ticket the IVR created.
pub async fn demo(a: DemoArgs) -> anyhow::Result<()> {
    a.report.check()?;
    let r = &a.report;
    // The keys go in while the prompts play (barge-in); each step waits this long first.
    let beat = Duration::from_millis(1500);
    println!("拨打热线 calling sip:112@{} from {} ...", a.sip, r.caller);
    let mut c = Caller::dial(a.sip, &r.caller).await.with_context(|| {
        format!(
            "cannot reach the hotline at {}; is `hotline serve` running with SIP?",
            a.sip
        )
    })?;
    println!("已接通 answered (Call-ID {})", c.call_id());
    let steps = [
        (
            "按 1 报障 press 1: report a fault".to_owned(),
            "1".to_owned(),
        ),
        (
            format!("输入故障号码 enter the faulty number {}#", r.number),
            format!("{}#", r.number),
        ),
        (
            "按 1 确认号码 press 1: the number is right".into(),
            "1".into(),
        ),
        (
            format!(
                "按 {} 选择障碍类型 press {}: the fault type",
                r.fault, r.fault
            ),
            r.fault.to_string(),
        ),
    ];
    for (what, keys) in &steps {
        tokio::time::sleep(beat).await;
        println!("  {what}");
        c.press(keys).await?;
    }
    println!("听取工单号 listening to the ticket number read back ...");
    let ended = c.wait_ended(Duration::from_secs(90)).await;
    c.close().await;
    ended.context("the hotline did not finish the call")?;
    println!("热线已挂机 the hotline hung up");
    r.print_ticket().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_media::pacer::Pacer;

    fn layered(file: &str, flags: &SipSettings) -> CallServerConfig {
        let file = crate::config::parse(file).unwrap();
        let sip: SipSettings = crate::config::layer(file.sip.as_ref(), flags).unwrap();
        let listen = "0.0.0.0:5060".parse().unwrap();
        call_server_config(listen, &sip, None, Path::new("/data/voicemail"))
    }

    #[test]
    fn file_env_and_flags_make_one_call_server_config() {
        let flags = SipSettings {
            agents: vec!["j1:pw-1".parse().unwrap()],
            rtp_ports: Some("30000-30100".parse().unwrap()),
            ..Default::default()
        };
        let cfg = layered("[sip.agents]\ns1 = \"pw-2\"\nj1 = \"old\"\n", &flags);
        assert_eq!(cfg.agents.get("j1").map(String::as_str), Some("pw-1"));
        assert_eq!(cfg.agents.get("s1").map(String::as_str), Some("pw-2"));
        assert_eq!(cfg.media.port_range.first, 30000);
        assert_eq!(cfg.ivr.voicemail_dir, Path::new("/data/voicemail"));
        assert_eq!(cfg.qa_recording_dir, None, "QA recording is off by default");
        assert_eq!(
            cfg.media.pacer.as_ref().and_then(Pacer::realtime),
            Some(hotline_media::leg::DEFAULT_PACER_PRIORITY),
            "RTP is paced at real-time priority by default"
        );
        let cfg = layered("[sip]\nrtp_pacer_priority = 0\n", &SipSettings::default());
        assert_eq!(
            cfg.media.pacer.as_ref().expect("still paced").realtime(),
            None
        );
        // Timer pacing: no pacer thread, the phase grid kept; the flag over the file.
        let cfg = layered("[sip]\nrtp_pacing = \"timer\"\n", &SipSettings::default());
        assert!(
            cfg.media.pacer.is_none(),
            "timer pacing has no pacer thread"
        );
        assert!(cfg.media.frame_grid.is_some(), "the phase grid stays");
        let thread = SipSettings {
            rtp_pacing: Some("thread".parse().unwrap()),
            ..Default::default()
        };
        let cfg = layered("[sip]\nrtp_pacing = \"timer\"\n", &thread);
        assert!(
            cfg.media.pacer.is_some(),
            "--rtp-pacing thread wins over the file"
        );
        // QA recording: the file's directory, the flag over it.
        let qa = "[sip]\nqa_recording_dir = \"/data/qa\"\n";
        let cfg = layered(qa, &SipSettings::default());
        assert_eq!(cfg.qa_recording_dir.as_deref(), Some(Path::new("/data/qa")));
        let flag = SipSettings {
            qa_recording_dir: Some("/var/qa".into()),
            ..Default::default()
        };
        let cfg = layered(qa, &flag);
        assert_eq!(cfg.qa_recording_dir.as_deref(), Some(Path::new("/var/qa")));
    }
}
