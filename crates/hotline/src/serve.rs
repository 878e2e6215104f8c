//! `hotline serve`: the core, the call server and the FastAGI server in one process, the
//! embedded 112-centre simulator when no real centre is configured, until SIGINT/SIGTERM.

use crate::config::{self, ListenKeys, StoreArgs};
use anyhow::Context;
use clap::Args;
use hotline_core::SystemClock;
use hotline_core::delivery::DeliveryConfig;
use hotline_core::server::{CenterLink, CoreConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    listen: ListenKeys,
    /// Run without the telephone side (no SIP, no IVR).
    #[arg(long, env = "HOTLINE_NO_SIP")]
    no_sip: bool,
    /// `[sip]`'s keys as flags (declared once, in `hotline_calls::SipSettings`).
    #[command(flatten)]
    sip: hotline_calls::SipSettings,
    #[command(flatten)]
    agi: crate::agi::AgiArgs,
    /// First admin's id, created if no agent exists.
    #[arg(long, env = "HOTLINE_ADMIN_ID", default_value = "admin")]
    admin_id: String,
    /// First admin's password (created only if set and no agent exists).
    #[arg(long, env = "HOTLINE_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Base URL of a real 112 centre (TMF621 API root). Unset: the embedded simulator runs.
    #[arg(long, env = "HOTLINE_CENTER112_URL")]
    center112_url: Option<String>,
    /// Shared secret of the centre's event signatures (required with --center112-url).
    #[arg(long, env = "HOTLINE_CENTER112_SECRET", hide_env_values = true)]
    center112_secret: Option<String>,
    /// URL the centre posts events to (default: http://<http-listen>/center112/events).
    #[arg(long, env = "HOTLINE_CENTER112_CALLBACK")]
    center112_callback: Option<String>,
    /// Embedded simulator: seconds from acknowledged to inProgress.
    #[arg(long, env = "HOTLINE_SIM_PROGRESS_SECS", default_value_t = 60)]
    sim_progress_secs: u64,
    /// Embedded simulator: seconds from inProgress to resolved (回单).
    #[arg(long, env = "HOTLINE_SIM_RESOLVE_SECS", default_value_t = 300)]
    sim_resolve_secs: u64,
}

pub(crate) async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let file = config::load(a.store.config.as_deref())?;
    let listen = a.listen.over(&file);
    let grpc_listen = listen
        .grpc_listen
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 50051)));
    let http_listen = listen
        .http_listen
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    let sip_listen = listen
        .sip_listen
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 5060)));
    let store = a.store.keys.over(&file);
    let sip: hotline_calls::SipSettings = config::layer(file.sip.as_ref(), &a.sip)?;
    let bootstrap = match (&file.admin, a.admin_password) {
        (_, Some(pw)) => Some((a.admin_id.clone(), pw)),
        (Some(adm), None) => Some((adm.agent_id.clone(), adm.password.clone())),
        (None, None) => None,
    };
    let data_dir = store.data_dir();
    // the 112 centre: a real one, or the embedded simulator
    let (url, secret, sim) = match a.center112_url.clone() {
        Some(url) => {
            let secret = a
                .center112_secret
                .clone()
                .context("--center112-secret is required with --center112-url")?;
            (url, secret, None)
        }
        None => {
            let sim = start_simulator(&data_dir, a.sim_progress_secs, a.sim_resolve_secs).await?;
            (sim.0, sim.1, Some(sim.2))
        }
    };
    let center = CenterLink {
        client: Arc::new(
            hotline_center112::HttpCenter::new(url, Duration::from_secs(10))
                .context("112 centre client")?,
        ),
        secret: secret.into_bytes(),
        callback_url: a.center112_callback.clone(),
        delivery: DeliveryConfig::default(),
    };
    let voicemail_dir = data_dir.join("voicemail");
    let calls = (!a.no_sip).then(|| {
        let mut c =
            crate::calls::call_server_config(sip_listen, &sip, file.ivr.as_ref(), &voicemail_dir);
        let qa = file.qa.clone().unwrap_or_default();
        c.qa_recording = hotline_calls::qa_upload::RecordingPolicy {
            mode: qa.recording,
            percent: qa.recording_percent,
        };
        // checked when the file was loaded
        c.outbound = file.outbound.as_ref().and_then(|o| o.config().ok());
        c
    });
    let agi = crate::agi::agi_plan(
        &a.agi,
        file.agi.as_ref(),
        file.ivr.as_ref(),
        crate::calls::prompts_path(sip.prompts.clone()),
        &voicemail_dir,
    )?;
    let ivr_password = crate::calls::random_password();
    let cfg = CoreConfig {
        grpc_listen,
        http_listen,
        database_url: store.database_url()?,
        store: file.store_tuning(),
        rules: file.rules.unwrap_or_default(),
        bootstrap_admin: bootstrap,
        service_account: (calls.is_some() || agi.is_some())
            .then(|| (crate::calls::IVR_ACCOUNT.to_owned(), ivr_password.clone())),
        acd: Default::default(),
        scheduler_max_sleep: Duration::from_secs(1),
        voicemail_dir: voicemail_dir.clone(),
        intake: crate::intake::core_config(&data_dir, file.intake.as_ref()),
        kb_index_dir: Some(data_dir.join("kb-index")),
        qa: file.qa.clone().unwrap_or_default(),
        reports: hotline_report::ReportConfig {
            branches: file.branches.unwrap_or_default(),
            options: file.reports.unwrap_or_default(),
        },
        surveys: file.surveys.unwrap_or_default(),
        center: Some(center),
        http_extension: Some(hotline_web::extension()),
    };
    let res = serve_core_and_calls(cfg, calls, agi, &ivr_password).await;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    res
}

/// Runs the core and, unless `--no-sip`, the call server (which reaches the core over gRPC)
/// until SIGINT/SIGTERM; stops calls first, then the core.
async fn serve_core_and_calls(
    cfg: CoreConfig,
    calls: Option<hotline_calls::CallServerConfig>,
    agi: Option<crate::agi::AgiPlan>,
    ivr_password: &str,
) -> anyhow::Result<()> {
    // one registry for /metrics: the core's families and the call server's
    let registry = hotline_core::metrics::SharedRegistry::default();
    let core =
        hotline_core::server::start_with_registry(cfg, Arc::new(SystemClock), registry.clone())
            .await?;
    let calls = match calls {
        Some(c) => {
            registry.with(|r| c.metrics.register(r));
            match crate::calls::start(c, core.grpc_addr, ivr_password).await {
                Ok(running) => Some(running),
                Err(e) => {
                    core.shutdown().await;
                    return Err(e);
                }
            }
        }
        None => {
            tracing::info!("--no-sip: the telephone side is off");
            None
        }
    };
    // FastAGI (Asterisk in front), beside or instead of SIP.
    let agi = match agi {
        Some(plan) => match crate::agi::start(plan, core.grpc_addr, ivr_password).await {
            Ok(running) => Some(running),
            Err(e) => {
                if let Some(c) = calls {
                    c.shutdown().await;
                }
                core.shutdown().await;
                return Err(e);
            }
        },
        None => {
            tracing::info!("--no-agi: the FastAGI server is off");
            None
        }
    };
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(a) = agi {
        a.shutdown().await;
    }
    if let Some(c) = calls {
        c.shutdown().await;
    }
    core.shutdown().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT"),
        _ = term => tracing::info!("SIGTERM"),
    }
}

/// Starts the embedded 112-centre simulator with a fresh event secret; returns (URL, secret, sim).
async fn start_simulator(
    data_dir: &std::path::Path,
    progress_secs: u64,
    resolve_secs: u64,
) -> anyhow::Result<(String, String, center112_sim::RunningSim)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut raw = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    let secret = hex::encode(raw);
    let sim = center112_sim::Simulator::start(center112_sim::SimConfig {
        db_path: data_dir.join("center112-sim.db"),
        secret: secret.clone(),
        progress_after: Duration::from_secs(progress_secs),
        resolve_after: Duration::from_secs(resolve_secs),
        late_fraction: 0.1,
        fail_fraction: 0.05,
        ..center112_sim::SimConfig::default()
    })
    .await
    .context("embedded 112 centre simulator")?;
    tracing::info!(url = %sim.base_url(), "embedded 112 centre simulator running (set --center112-url for a real centre)");
    Ok((sim.base_url(), secret, sim))
}
