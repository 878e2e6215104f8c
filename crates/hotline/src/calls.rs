//! The telephone side of `hotline serve` (the call server from `hotline-calls`: SIP, RTP,
//! the IVR flows) and `hotline demo`, a scripted caller that reports a fault.
//!
//! Settings: `[sip]` and `[ivr]` in the config file, overridden by flags. Quality-inspection
//! recording of bridged calls (`[sip] qa_recording_dir`, `--qa-recording-dir`) is off unless
//! a directory is given. The IVR reaches the core over gRPC as the `system` service account
//! `ivr`, whose password is drawn at random on every start (the core re-keys the account).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use hotline_calls::dialer::Caller;
use hotline_calls::{CallServer, CallServerConfig, GrpcQueue};
use hotline_ivr::{GrpcBackend, IvrConfig};
use hotline_media::pacer::Pacer;
use hotline_media::port::PortRange;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The IVR's service account in the core.
pub const IVR_ACCOUNT: &str = "ivr";

/// `[sip]` in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// Address put in Via/Contact (HOST:PORT), when callers reach us through NAT.
    pub public: Option<String>,
    /// RTP port range, `FIRST-LAST` (default 10000-20000).
    pub rtp_ports: Option<String>,
    /// Address RTP sockets bind (default 0.0.0.0).
    pub media_ip: Option<String>,
    /// Address written into SDP (default: the SIP public address, or the host's).
    pub media_advertise: Option<String>,
    /// Real-time (SCHED_FIFO) priority of the thread that sends RTP on time, 1-99; 0 = the
    /// normal scheduler (default 10).
    pub rtp_pacer_priority: Option<u8>,
    /// Who sends playback frames: `thread` (default; the pacer thread, the lowest jitter) or
    /// `timer` (each call's task when tokio's 1 ms timer wakes it; about a third less CPU).
    pub rtp_pacing: Option<String>,
    /// The prompt catalog (default prompts/prompts.toml).
    pub prompts: Option<PathBuf>,
    /// Agent softphones: SIP user (= the core's agent id) → password.
    #[serde(default)]
    pub agents: HashMap<String, String>,
    /// Quality inspection: record every call bridged to an agent into this directory as
    /// `<call-id>.wav` (both parties mixed). Unset = no recording.
    pub qa_recording_dir: Option<PathBuf>,
}

/// Flags of `serve` for the telephone side.
#[derive(Args, Debug, Default)]
pub struct SipArgs {
    /// Run without the telephone side (no SIP, no IVR).
    #[arg(long, env = "HOTLINE_NO_SIP")]
    pub no_sip: bool,
    /// Address put in Via/Contact (HOST:PORT) when callers reach us through NAT.
    #[arg(long, env = "HOTLINE_SIP_PUBLIC")]
    pub sip_public: Option<String>,
    /// RTP port range FIRST-LAST (default 10000-20000).
    #[arg(long, env = "HOTLINE_RTP_PORTS")]
    pub rtp_ports: Option<String>,
    /// Address RTP sockets bind (default 0.0.0.0).
    #[arg(long, env = "HOTLINE_MEDIA_IP")]
    pub media_ip: Option<String>,
    /// Address written into SDP for RTP (default: the SIP public address, or the host's).
    #[arg(long, env = "HOTLINE_MEDIA_ADVERTISE")]
    pub media_advertise: Option<String>,
    /// Real-time (SCHED_FIFO) priority of the thread that sends RTP on time, 1-99; 0 = the
    /// normal scheduler (default 10; needs root, CAP_SYS_NICE or LimitRTPRIO, else a warning).
    #[arg(long, env = "HOTLINE_RTP_PACER_PRIORITY", value_name = "PRIO")]
    pub rtp_pacer_priority: Option<u8>,
    /// Who sends playback frames: `thread` (default: one pacer thread sends every frame at
    /// its instant, the lowest jitter) or `timer` (each call's task on tokio's 1 ms timer:
    /// about a third less CPU, receiver jitter p99 ~1.5 ms instead of ~0.7 ms at 2,000 calls).
    #[arg(long, env = "HOTLINE_RTP_PACING", value_name = "thread|timer")]
    pub rtp_pacing: Option<String>,
    /// The IVR's prompt catalog (default prompts/prompts.toml).
    #[arg(long, env = "HOTLINE_PROMPTS")]
    pub prompts: Option<PathBuf>,
    /// An agent softphone allowed to register, USER:PASSWORD (repeatable; USER is the agent id).
    #[arg(long = "sip-agent", value_name = "USER:PASSWORD")]
    pub sip_agents: Vec<String>,
    /// Record every call bridged to an agent (quality inspection) into DIR as
    /// `<call-id>.wav`, 8 kHz mono, both parties mixed (default: not recorded).
    #[arg(long, env = "HOTLINE_QA_RECORDING_DIR", value_name = "DIR")]
    pub qa_recording_dir: Option<PathBuf>,
}

fn parse_ports(s: &str) -> anyhow::Result<PortRange> {
    let bad = || anyhow::anyhow!("--rtp-ports: {s:?} is not FIRST-LAST (e.g. 10000-20000)");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (first, last): (u16, u16) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if first < 1024 || last < first.saturating_add(1) {
        bail!(
            "--rtp-ports: {s:?} must be an increasing range above 1023 with room for one even port"
        );
    }
    Ok(PortRange { first, last })
}

fn parse_ip(s: &str, what: &str) -> anyhow::Result<IpAddr> {
    s.parse()
        .with_context(|| format!("{what}: {s:?} is not an IP address"))
}

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

/// The call server's settings from flags, the file's `[sip]`/`[ivr]` and the core's
/// voicemail directory (the IVR must write where the core reads). `None` with `--no-sip`.
pub fn call_server_config(
    args: &SipArgs,
    sip_listen: SocketAddr,
    sip: Option<&SipSection>,
    ivr: Option<&IvrConfig>,
    voicemail_dir: &Path,
) -> anyhow::Result<Option<CallServerConfig>> {
    if args.no_sip {
        return Ok(None);
    }
    let empty = SipSection::default();
    let file = sip.unwrap_or(&empty);
    let mut cfg = CallServerConfig::new(sip_listen);
    if let Some(p) = args.sip_public.as_ref().or(file.public.as_ref()) {
        cfg.sip_public = Some(
            p.parse()
                .with_context(|| format!("--sip-public: {p:?} is not HOST:PORT"))?,
        );
    }
    if let Some(r) = args.rtp_ports.as_ref().or(file.rtp_ports.as_ref()) {
        cfg.media.port_range = parse_ports(r)?;
    }
    cfg.media.local_ip = match args.media_ip.as_ref().or(file.media_ip.as_ref()) {
        Some(ip) => parse_ip(ip, "--media-ip")?,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    if let Some(ip) = args
        .media_advertise
        .as_ref()
        .or(file.media_advertise.as_ref())
    {
        cfg.media.advertised_ip = Some(parse_ip(ip, "--media-advertise")?);
    }
    if let Some(p) = args.rtp_pacer_priority.or(file.rtp_pacer_priority) {
        if p > 99 {
            bail!("--rtp-pacer-priority: {p} is not 0 (normal scheduling) or 1-99");
        }
        cfg.media.pacer = Some(Pacer::new((p > 0).then_some(p)));
    }
    match args.rtp_pacing.as_ref().or(file.rtp_pacing.as_ref()) {
        None => {}
        Some(m) if m == "thread" => {}
        // The per-leg phase grid stays: it alone keeps the receiver's p99 under 2 ms.
        Some(m) if m == "timer" => cfg.media.pacer = None,
        Some(m) => bail!("--rtp-pacing: {m:?} is not \"thread\" or \"timer\""),
    }
    cfg.prompts = prompts_path(args.prompts.clone().or(file.prompts.clone()));
    let mut agents = file.agents.clone();
    for a in &args.sip_agents {
        let (user, pw) = a
            .split_once(':')
            .filter(|(u, p)| !u.is_empty() && !p.is_empty())
            .with_context(|| format!("--sip-agent: {a:?} is not USER:PASSWORD"))?;
        agents.insert(user.to_owned(), pw.to_owned());
    }
    cfg.agents = agents;
    cfg.qa_recording_dir = args
        .qa_recording_dir
        .clone()
        .or(file.qa_recording_dir.clone());
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
    Ok(Some(cfg))
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
    let queue = GrpcQueue::connect_lazy(&format!("http://{host}"), IVR_ACCOUNT, ivr_password)
        .map_err(|e| anyhow::anyhow!(e))?;
    let shutdown = CancellationToken::new();
    let listen = cfg.sip_listen;
    let server = CallServer::start(cfg, Arc::new(backend), Arc::new(queue), shutdown.clone())
        .await
        .with_context(|| format!("cannot start the call server (SIP {listen})"))?;
    let addr = server.local_addr();
    let task = tokio::spawn(async move {
        if let Err(e) = server.run().await {
            tracing::error!(error = %e, "call server stopped");
        }
    });
    tracing::info!(sip = %addr, "the hotline answers calls");
    Ok(RunningCalls { shutdown, task })
}

/// `hotline demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The hotline's SIP address.
    #[arg(long, default_value = "127.0.0.1:5060")]
    pub sip: SocketAddr,
    /// The number we call from (the caller id).
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

/// Places a call, reports a fault with the keypad and prints the ticket the IVR created.
pub async fn demo(a: DemoArgs) -> anyhow::Result<()> {
    if !('1'..='6').contains(&a.fault) {
        bail!("--fault: expected a key 1-6");
    }
    if a.number.is_empty() || !a.number.chars().all(|c| c.is_ascii_digit()) {
        bail!("--number: digits only");
    }
    // The keys go in while the prompts play (barge-in); each step waits this long first.
    let beat = Duration::from_millis(1500);
    println!("拨打热线 calling sip:112@{} from {} ...", a.sip, a.caller);
    let mut c = Caller::dial(a.sip, &a.caller).await.with_context(|| {
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
            format!("输入故障号码 enter the faulty number {}#", a.number),
            format!("{}#", a.number),
        ),
        (
            "按 1 确认号码 press 1: the number is right".into(),
            "1".into(),
        ),
        (
            format!(
                "按 {} 选择障碍类型 press {}: the fault type",
                a.fault, a.fault
            ),
            a.fault.to_string(),
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
    crate::client::print_reported_ticket(&a.server, a.token.as_deref(), &a.number).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_agents_parse_and_bad_ones_are_named() {
        assert_eq!(
            parse_ports("10000-20000").unwrap(),
            PortRange {
                first: 10000,
                last: 20000
            }
        );
        assert!(parse_ports("20000-10000").is_err());
        assert!(parse_ports("80-90").is_err());
        let args = SipArgs {
            sip_agents: vec!["j1:pw-1".into()],
            rtp_ports: Some("30000-30100".into()),
            ..Default::default()
        };
        let file: SipSection = toml::from_str("[agents]\ns1 = \"pw-2\"\nj1 = \"old\"\n").unwrap();
        let cfg = call_server_config(
            &args,
            "0.0.0.0:5060".parse().unwrap(),
            Some(&file),
            None,
            Path::new("/data/voicemail"),
        )
        .unwrap()
        .unwrap();
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
        let normal: SipSection = toml::from_str("rtp_pacer_priority = 0\n").unwrap();
        let cfg = call_server_config(
            &SipArgs::default(),
            "0.0.0.0:5060".parse().unwrap(),
            Some(&normal),
            None,
            Path::new("/data/voicemail"),
        )
        .unwrap()
        .unwrap();
        let pacer = cfg.media.pacer.as_ref().expect("still paced");
        assert_eq!(pacer.realtime(), None);
        let err = call_server_config(
            &SipArgs {
                rtp_pacer_priority: Some(120),
                ..Default::default()
            },
            "0.0.0.0:5060".parse().unwrap(),
            None,
            None,
            Path::new("/data/voicemail"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--rtp-pacer-priority"), "{err}");
        // Timer pacing: no pacer thread, the phase grid kept; the flag over the file.
        let pacing = |flag: Option<&str>, file: Option<&str>| {
            let args = SipArgs {
                rtp_pacing: flag.map(str::to_owned),
                ..Default::default()
            };
            let file = file.map(|f| SipSection {
                rtp_pacing: Some(f.to_owned()),
                ..Default::default()
            });
            let sip = "0.0.0.0:5060".parse().unwrap();
            call_server_config(
                &args,
                sip,
                file.as_ref(),
                None,
                Path::new("/data/voicemail"),
            )
        };
        let cfg = pacing(None, Some("timer")).unwrap().unwrap();
        assert!(
            cfg.media.pacer.is_none(),
            "timer pacing has no pacer thread"
        );
        assert!(cfg.media.frame_grid.is_some(), "the phase grid stays");
        let cfg = pacing(Some("thread"), Some("timer")).unwrap().unwrap();
        assert!(
            cfg.media.pacer.is_some(),
            "--rtp-pacing thread wins over the file"
        );
        let err = pacing(Some("fast"), None).unwrap_err();
        assert!(err.to_string().contains("--rtp-pacing"), "{err}");
        // QA recording: the file's directory, the flag over it.
        let file: SipSection = toml::from_str("qa_recording_dir = \"/data/qa\"\n").unwrap();
        let sip = "0.0.0.0:5060".parse().unwrap();
        let vm = Path::new("/data/voicemail");
        let cfg = call_server_config(&SipArgs::default(), sip, Some(&file), None, vm)
            .unwrap()
            .unwrap();
        assert_eq!(cfg.qa_recording_dir.as_deref(), Some(Path::new("/data/qa")));
        let flag = SipArgs {
            qa_recording_dir: Some("/var/qa".into()),
            ..Default::default()
        };
        let cfg = call_server_config(&flag, sip, Some(&file), None, vm)
            .unwrap()
            .unwrap();
        assert_eq!(cfg.qa_recording_dir.as_deref(), Some(Path::new("/var/qa")));
        let bad = SipArgs {
            sip_agents: vec!["nopassword".into()],
            ..Default::default()
        };
        let e = call_server_config(
            &bad,
            "0.0.0.0:5060".parse().unwrap(),
            None,
            None,
            Path::new("v"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--sip-agent"));
        let off = SipArgs {
            no_sip: true,
            ..Default::default()
        };
        assert!(
            call_server_config(
                &off,
                "0.0.0.0:5060".parse().unwrap(),
                None,
                None,
                Path::new("v")
            )
            .unwrap()
            .is_none()
        );
    }
}
