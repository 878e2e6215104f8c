//! The FastAGI side of `hotline serve` (`hotline-agi`: the IVR behind an Asterisk PBX) and
//! `hotline agi-demo`, a scripted FastAGI caller that plays Asterisk's part so a newcomer can
//! watch the AGI path without an Asterisk.
//!
//! Settings: `[agi]` in the config file (`hotline_agi::AgiConfig`), `--agi-listen`, `--no-agi`.
//! The AGI sessions reach the core over gRPC as the IVR's `system` account, like the SIP side,
//! and record voicemail into the core's voicemail directory (shared with Asterisk).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use hotline_agi::channel::ChannelSettings;
use hotline_agi::queue::{AgiQueue, AnswerHooks, QueueSettings};
use hotline_agi::stats::Turnaround;
use hotline_agi::{AgiConfig, AgiContext, AgiServer, GrpcQueueCore, PromptMap, RecordingPaths};
use hotline_ivr::{GrpcBackend, IvrConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Flags of `serve` for the FastAGI side; they serialize with `[agi]`'s key names, so
/// [`crate::config::layer`] puts them over the file's section.
#[derive(Args, Debug, Default, serde::Serialize)]
pub struct AgiArgs {
    /// Run without the FastAGI server.
    #[arg(long, env = "HOTLINE_NO_AGI")]
    #[serde(skip)]
    pub no_agi: bool,
    /// FastAGI listener (default 0.0.0.0:4573).
    #[arg(long, env = "HOTLINE_AGI_LISTEN", value_name = "HOST:PORT")]
    #[serde(rename = "listen")]
    pub agi_listen: Option<SocketAddr>,
}

/// What `serve` starts the AGI server with. `None` with `--no-agi`.
#[derive(Debug)]
pub struct AgiPlan {
    cfg: AgiConfig,
    listen: SocketAddr,
    ivr: IvrConfig,
    prompts: PathBuf,
}

/// The `[agi]` section and flags, checked; `ivr`/`prompts` as the SIP side uses them.
pub fn agi_plan(
    args: &AgiArgs,
    file: Option<&AgiConfig>,
    ivr: Option<&IvrConfig>,
    prompts: PathBuf,
    voicemail_dir: &Path,
) -> anyhow::Result<Option<AgiPlan>> {
    if args.no_agi {
        return Ok(None);
    }
    let cfg: AgiConfig = crate::config::layer(file, args)?;
    cfg.validate()?;
    let listen = cfg.listen;
    let mut ivr = ivr.cloned().unwrap_or_default();
    // The IVR records where the core reads (the shared directory Asterisk writes into).
    ivr.voicemail_dir = voicemail_dir.to_owned();
    Ok(Some(AgiPlan {
        cfg,
        listen,
        ivr,
        prompts,
    }))
}

/// The running AGI server.
pub struct RunningAgi {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningAgi {
    /// Hangs up live sessions and stops listening.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "agi server task failed");
        }
    }
}

/// Starts the FastAGI server against the core at `grpc_addr`.
pub async fn start(
    plan: AgiPlan,
    grpc_addr: SocketAddr,
    ivr_password: &str,
) -> anyhow::Result<RunningAgi> {
    let catalog =
        hotline_ivr::prepare(&plan.prompts, &plan.ivr).context("the IVR cannot start (FastAGI)")?;
    let host = if grpc_addr.ip().is_unspecified() {
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), grpc_addr.port())
    } else {
        grpc_addr
    };
    let uri = format!("http://{host}");
    let backend = GrpcBackend::connect(&uri, crate::calls::IVR_ACCOUNT, ivr_password)
        .await
        .context("the FastAGI IVR cannot log in to the core")?;
    let core = GrpcQueueCore::connect_lazy(&uri, crate::calls::IVR_ACCOUNT, ivr_password)
        .map_err(|e| anyhow::anyhow!(e))?;
    let cfg = &plan.cfg;
    let local_dir = plan.ivr.voicemail_dir.clone();
    let local_dir = std::fs::canonicalize(&local_dir).unwrap_or(local_dir);
    let asterisk_dir = cfg
        .asterisk_recording_dir
        .clone()
        .unwrap_or_else(|| local_dir.clone());
    let mut ivr = plan.ivr.clone();
    ivr.voicemail_dir = local_dir.clone();
    tracing::info!(
        hotline_dir = %local_dir.display(), asterisk_dir = %asterisk_dir.display(),
        "FastAGI voicemail: Asterisk records into the shared directory"
    );
    let ctx = AgiContext {
        backend: Arc::new(backend),
        ivr: Arc::new(ivr),
        queue: Some(AgiQueue {
            core: Arc::new(core),
            hooks: Arc::new(AnswerHooks::default()),
            settings: QueueSettings {
                dial: cfg.dial.clone(),
                dial_options: cfg.dial_options.clone(),
                hold_interval: cfg.hold_interval,
                max_call: cfg.max_call,
            },
        }),
        channel: ChannelSettings {
            prompts: Arc::new(PromptMap::from_catalog(&catalog, &cfg.prompt_prefix)),
            command_timeout: cfg.command_timeout,
            read_back: cfg.read_back,
            recordings: RecordingPaths {
                local_dir,
                asterisk_dir,
            },
            record_format: cfg.record_format.clone(),
            record_beep: cfg.record_beep,
            recording_wait: cfg.recording_wait,
            turnaround: Arc::new(Turnaround::default()),
        },
        language: cfg.language.clone(),
        header_timeout: cfg.header_timeout,
        seq: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let server = AgiServer::bind(
        plan.listen,
        Arc::new(ctx),
        cfg.max_sessions,
        shutdown.clone(),
    )
    .await
    .with_context(|| format!("cannot listen for FastAGI on {}", plan.listen))?;
    let addr = server.local_addr()?;
    let task = tokio::spawn(server.run());
    tracing::info!(agi = %addr, "FastAGI server listening (agi://{addr}/hotline)");
    Ok(RunningAgi { shutdown, task })
}

/// `hotline agi-demo`.
#[derive(Args, Debug)]
pub struct AgiDemoArgs {
    /// The hotline's FastAGI address.
    #[arg(long, default_value = "127.0.0.1:4573")]
    pub agi: SocketAddr,
    #[command(flatten)]
    pub report: crate::calls::DemoReport,
}

/// Plays Asterisk: sends the header block of `AGI(agi://.../hotline)`, answers each command
/// as `res_agi` would, with the caller's keys for the menus, and prints the dialogue.
pub async fn agi_demo(a: AgiDemoArgs) -> anyhow::Result<()> {
    a.report.check()?;
    let report = &a.report;
    let sock = tokio::net::TcpStream::connect(a.agi)
        .await
        .with_context(|| {
            format!(
                "cannot reach the FastAGI server at {}; is `hotline serve` running?",
                a.agi
            )
        })?;
    sock.set_nodelay(true)?;
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let uniqueid = format!(
        "{}.{}",
        time::OffsetDateTime::now_utc().unix_timestamp(),
        std::process::id()
    );
    let header = format!(
        "agi_network: yes\nagi_network_script: hotline?lang=zh\nagi_request: agi://{}/hotline?lang=zh\n\
         agi_channel: PJSIP/demo-00000001\nagi_language: zh\nagi_type: PJSIP\nagi_uniqueid: {uniqueid}\n\
         agi_version: 20.0.0-demo\nagi_callerid: {}\nagi_calleridname: unknown\nagi_dnid: 112\n\
         agi_context: from-demo\nagi_extension: 112\nagi_priority: 1\n\n",
        a.agi, report.caller
    );
    println!(
        "扮演 Asterisk playing Asterisk: AGI(agi://{}/hotline) for caller {}",
        a.agi, report.caller
    );
    w.write_all(header.as_bytes()).await?;
    let mut ticket_digits = String::new();
    let mut after_accepted = false;
    let mut line = String::new();
    loop {
        line.clear();
        let n = tokio::time::timeout(Duration::from_secs(30), r.read_line(&mut line))
            .await
            .context("the hotline sent no command for 30 s")??;
        if n == 0 {
            println!("连接已关闭 the hotline closed the session");
            break;
        }
        let cmd = line.trim_end().to_owned();
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let file = words.get(2).copied().unwrap_or("");
        let reply = match words.as_slice() {
            ["ANSWER", ..] => "200 result=0".to_owned(),
            ["HANGUP", ..] => "200 result=1".to_owned(),
            ["STREAM", "FILE", ..] => {
                if file.ends_with("/report_accepted") {
                    after_accepted = true;
                } else if after_accepted {
                    match file.rsplit_once("/digit_") {
                        Some((_, d)) if d.len() == 1 => ticket_digits.push_str(d),
                        _ => after_accepted = false,
                    }
                }
                "200 result=0 endpos=8000".to_owned()
            }
            ["GET", "DATA", ..] => {
                let keys = match file.rsplit('/').next().unwrap_or("") {
                    "main_menu" => "1".to_owned(),
                    "enter_number" => report.number.clone(),
                    "confirm_number" => "1".to_owned(),
                    "fault_type_menu" => report.fault.to_string(),
                    _ => String::new(),
                };
                if keys.is_empty() {
                    "200 result= (timeout)".to_owned()
                } else {
                    format!("200 result={keys}")
                }
            }
            ["WAIT", "FOR", "DIGIT", ..] => "200 result=0".to_owned(),
            ["SET", "VARIABLE", ..] => "200 result=1".to_owned(),
            ["GET", "VARIABLE", ..] => "200 result=0".to_owned(),
            _ => "200 result=0".to_owned(),
        };
        println!("  hotline → {cmd}");
        println!("  asterisk ← {reply}");
        w.write_all(format!("{reply}\n").as_bytes()).await?;
        if cmd == "HANGUP" {
            break;
        }
    }
    if !ticket_digits.is_empty() {
        println!("读回的工单号 ticket number read back: {ticket_digits}");
    }
    report.print_ticket().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_has_a_valid_agi_section() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/hotline.example.toml");
        let c = crate::config::load(Some(&p)).unwrap();
        let agi = c.agi.expect("[agi] in the example");
        agi.validate().unwrap();
        assert_eq!(agi.dial, "PJSIP/{agent}");
        assert_eq!(agi.listen, "0.0.0.0:4573".parse().unwrap());
    }

    #[test]
    fn flags_over_the_file_and_no_agi() {
        let file: AgiConfig =
            toml::from_str("listen = \"127.0.0.1:4600\"\ndial = \"SIP/{agent}\"\n").unwrap();
        let vm = Path::new("/data/voicemail");
        let p = agi_plan(&AgiArgs::default(), Some(&file), None, "p.toml".into(), vm)
            .unwrap()
            .unwrap();
        assert_eq!(p.listen, "127.0.0.1:4600".parse().unwrap());
        assert_eq!(p.cfg.dial, "SIP/{agent}");
        assert_eq!(p.ivr.voicemail_dir, vm);
        let flag = AgiArgs {
            agi_listen: Some("127.0.0.1:4700".parse().unwrap()),
            ..Default::default()
        };
        let p = agi_plan(&flag, Some(&file), None, "p.toml".into(), vm)
            .unwrap()
            .unwrap();
        assert_eq!(p.listen.port(), 4700);
        let off = AgiArgs {
            no_agi: true,
            ..Default::default()
        };
        assert!(
            agi_plan(&off, None, None, "p.toml".into(), vm)
                .unwrap()
                .is_none()
        );
        let bad = AgiConfig {
            max_sessions: 0,
            ..file
        };
        let e = agi_plan(&AgiArgs::default(), Some(&bad), None, "p.toml".into(), vm).unwrap_err();
        assert!(e.to_string().contains("max_sessions"), "{e}");
    }
}
