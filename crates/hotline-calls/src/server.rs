//! [`CallServer`]: binds the SIP driver, answers every INVITE with a media leg and runs the IVR
//! flows on it, one task per call, until its shutdown token is cancelled.
//!
//! Start-up ([`CallServer::start`]) refuses to run when a prompt or a setting is bad
//! ([`hotline_ivr::prepare`]), preloads every prompt of the catalog, sweeps the voicemail
//! directory for messages a crash left behind ([`crate::voicemail::sweep`]) and binds SIP.
//!
//! [`CallServer::run`]: one loop reads the driver's events; an `IncomingCall` gets a task
//! (bind a leg → [`SipChannel`] → [`hotline_ivr::flows::run_call`] → the [`AgentQueue`] for
//! `ToAgent` → hang up, close), every other event goes to its call's task through the
//! [`Router`]. Shutdown: new INVITEs get 503, every call's token is cancelled (its flow sees a
//! hang-up: a recording is finalised and registered), the call tasks get `shutdown_grace` to
//! finish (each sends its BYE), then the driver stops (hanging up anything left).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hotline_ivr::flows::{FlowError, FlowOutcome, run_call};
use hotline_ivr::{Backend, IvrConfig, PromptCatalog, StartError as IvrStartError};
use hotline_media::prompt::{Prompt, PromptCache};
use hotline_media::{MediaConfig, MediaLeg};
use hotline_sip::digest::Algorithm;
use hotline_sip::driver::{Driver, DriverError, SipHandle};
use hotline_sip::endpoint::{CallId, EndpointConfig, Event};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::channel::{Incoming, SipChannel};
use crate::queue::{AgentQueue, AgentRequest, CallContext};
use crate::router::Router;
use crate::voicemail::{MarkingBackend, SweepReport, sweep};

/// Settings of the call server.
#[derive(Debug, Clone)]
pub struct CallServerConfig {
    /// SIP listener, UDP and TCP (`0.0.0.0:5060`).
    pub sip_listen: SocketAddr,
    /// Address put in Via/Contact (default: the listener, or the host's outside address when
    /// listening on `0.0.0.0`).
    pub sip_public: Option<SocketAddr>,
    /// Agent softphones allowed to register: SIP user (= the core's agent id) → password.
    pub agents: HashMap<String, String>,
    /// Digest algorithms challenged at REGISTER. Default MD5 alone: common softphones
    /// (baresip 1.0, sipp) fail on SHA-256 challenges (see `RegistrarConfig`).
    pub digest_algorithms: Vec<Algorithm>,
    /// RTP: port range, bind address, advertised address, inactivity timeout. Its `shutdown`
    /// token is replaced by the server's.
    pub media: MediaConfig,
    /// The prompt catalog (`prompts/prompts.toml`).
    pub prompts: PathBuf,
    /// IVR flows: timeouts, retries, voicemail directory and limits, service hours.
    pub ivr: IvrConfig,
    /// A recording left with a marker counts as abandoned when its WAV has not changed for
    /// this long (another IVR node sharing the directory may still be writing it).
    pub sweep_quiet: Duration,
    /// On shutdown, how long calls get to finish (register a message, send BYE).
    pub shutdown_grace: Duration,
    /// Seed of the SIP endpoint's randomness (tests); `None` = random.
    pub sip_seed: Option<u64>,
    /// Quality inspection (QA1): when set, calls bridged to an agent (those `qa_recording`
    /// picks) are recorded into this spool as `<call-id>.wav` (8 kHz mono 16-bit, both
    /// parties mixed; the Call-ID with anything but `[A-Za-z0-9._-]` replaced by `_`) and
    /// uploaded to the core when the call ends (`crate::qa_upload`). Created at start.
    /// `None` = off.
    pub qa_recording_dir: Option<PathBuf>,
    /// Which bridged calls are recorded when `qa_recording_dir` is set (`[qa] recording`).
    pub qa_recording: crate::qa_upload::RecordingPolicy,
    /// Call setup time and live calls (register them where `/metrics` shows them).
    pub metrics: crate::metrics::CallMetrics,
    /// Automated outbound survey calls through this trunk (`crate::outbound`), run when a
    /// campaign core is given ([`CallServer::with_campaign`]). `None` = no outbound calls.
    pub outbound: Option<crate::outbound::OutboundConfig>,
}

impl CallServerConfig {
    /// Defaults around a SIP listener: media on 0.0.0.0 ports 10000-20000, the repository's
    /// prompts, default IVR settings.
    pub fn new(sip_listen: SocketAddr) -> CallServerConfig {
        CallServerConfig {
            sip_listen,
            sip_public: None,
            agents: HashMap::new(),
            digest_algorithms: vec![Algorithm::Md5],
            media: MediaConfig::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            prompts: PathBuf::from("prompts/prompts.toml"),
            ivr: IvrConfig::default(),
            sweep_quiet: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            sip_seed: None,
            qa_recording_dir: None,
            qa_recording: Default::default(),
            metrics: crate::metrics::CallMetrics::default(),
            outbound: None,
        }
    }
}

/// Why the call server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Prompts or IVR settings (named).
    #[error(transparent)]
    Ivr(#[from] IvrStartError),
    /// A prompt file in the catalog but unplayable (not one the flows use).
    #[error("prompt {id:?}: {reason}")]
    Prompt {
        /// The id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The quality-inspection recording directory cannot be created.
    #[error("QA recording directory {dir}: {source}")]
    QaRecordingDir {
        /// The directory.
        dir: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// SIP sockets.
    #[error("SIP on {addr}: {source}")]
    Sip {
        /// The listener address.
        addr: SocketAddr,
        /// The error.
        source: DriverError,
    },
}

/// How one call went (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSummary {
    /// SIP Call-ID.
    pub call_id: String,
    /// The caller's number (empty when withheld).
    pub caller_id: String,
    /// The flow's outcome (after the agent queue, for transferred calls), or the error.
    pub outcome: Result<FlowOutcome, String>,
    /// Prompt ids played, in order (at most 256).
    pub played: Vec<String>,
}

struct Shared {
    ctx: CallContext,
    prompts: Arc<PromptCache>,
    queue: Arc<dyn AgentQueue>,
    shutdown: CancellationToken,
    call_log: Option<mpsc::UnboundedSender<CallSummary>>,
    metrics: crate::metrics::CallMetrics,
}

/// The SIP side of the hotline: answers calls and runs the IVR on them.
pub struct CallServer {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    /// The address in our Via/Contact/From.
    public_addr: SocketAddr,
    outbound: Option<crate::outbound::OutboundConfig>,
    campaign: Option<Arc<dyn crate::outbound::SurveyCampaignCore>>,
    driver: Driver,
    events: mpsc::UnboundedReceiver<Event>,
    sweep: SweepReport,
    grace: Duration,
}

impl std::fmt::Debug for CallServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// The source address the kernel would use for outside traffic (no packet is sent).
fn route_source_ip() -> IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:5060")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Loads every prompt of the catalog into a cache keyed by id (decoded once, shared by calls).
pub fn load_prompts(catalog: &PromptCatalog) -> Result<PromptCache, StartError> {
    let cache = PromptCache::new(catalog.dir());
    for e in catalog.entries() {
        let path = catalog.dir().join(&e.file);
        let p = Prompt::load(&path).map_err(|err| StartError::Prompt {
            id: e.id.clone(),
            reason: err.to_string(),
        })?;
        cache.insert(&e.id, p);
    }
    Ok(cache)
}

impl CallServer {
    /// Checks prompts and settings, sweeps the voicemail directory (registering messages a
    /// crash left behind through `backend`), binds SIP. Calls are taken by [`CallServer::run`]
    /// until `shutdown` is cancelled.
    pub async fn start(
        mut cfg: CallServerConfig,
        backend: Arc<dyn Backend>,
        queue: Arc<dyn AgentQueue>,
        shutdown: CancellationToken,
    ) -> Result<CallServer, StartError> {
        let catalog = hotline_ivr::prepare(&cfg.prompts, &cfg.ivr)?;
        if let Some(dir) = &cfg.qa_recording_dir {
            std::fs::create_dir_all(dir).map_err(|source| StartError::QaRecordingDir {
                dir: dir.clone(),
                source,
            })?;
        }
        let prompts = Arc::new(load_prompts(&catalog)?);
        tracing::info!(prompts = %cfg.prompts.display(), "prompts loaded");
        let backend: Arc<dyn Backend> = Arc::new(MarkingBackend::new(backend));
        let report = sweep(
            &cfg.ivr.voicemail_dir,
            backend.as_ref(),
            Duration::from_secs(cfg.ivr.voicemail_min_secs),
            cfg.sweep_quiet,
        )
        .await;

        let public = cfg.sip_public.unwrap_or(cfg.sip_listen);
        let mut ep = EndpointConfig::new(public);
        if let Some(seed) = cfg.sip_seed {
            ep.seed = seed;
        }
        ep.user_agent = "hotline-112".into();
        ep.contact_user = "112".into();
        ep.registrar.credentials = Some(cfg.agents.clone());
        if !cfg.digest_algorithms.is_empty() {
            ep.registrar.algorithms = cfg.digest_algorithms.clone();
        }
        let (driver, sip, events) =
            Driver::bind(cfg.sip_listen, ep)
                .await
                .map_err(|source| StartError::Sip {
                    addr: cfg.sip_listen,
                    source,
                })?;
        let local_addr = driver.local_addr();
        if cfg.media.local_ip.is_unspecified() && cfg.media.advertised_ip.is_none() {
            let ip = match cfg.sip_public {
                Some(p) if !p.ip().is_unspecified() => p.ip(),
                _ if !local_addr.ip().is_unspecified() => local_addr.ip(),
                _ => route_source_ip(),
            };
            cfg.media.advertised_ip = Some(ip);
        }
        cfg.media.shutdown = shutdown.clone();
        tracing::info!(
            sip = %local_addr,
            rtp_ports = %format!("{}-{}", cfg.media.port_range.first, cfg.media.port_range.last),
            media_ip = %cfg.media.advertised_ip.unwrap_or(cfg.media.local_ip),
            agents = cfg.agents.len(),
            rtp_pacing = match &cfg.media.pacer {
                Some(p) => match p.realtime() {
                    Some(prio) => format!("thread (SCHED_FIFO {prio} asked for)"),
                    None => "thread (normal scheduler)".to_owned(),
                },
                None => "timer".to_owned(),
            },
            "call server listening"
        );
        let ctx = CallContext {
            backend,
            ivr: Arc::new(cfg.ivr.clone()),
            sip,
            media: cfg.media.clone(),
            qa_recording_dir: cfg.qa_recording_dir.clone().map(Arc::from),
            qa_recording: cfg.qa_recording,
            router: Router::default(),
        };
        Ok(CallServer {
            shared: Arc::new(Shared {
                ctx,
                prompts,
                queue,
                shutdown,
                call_log: None,
                metrics: cfg.metrics.clone(),
            }),
            local_addr,
            public_addr: match cfg.sip_public {
                Some(p) => p,
                None => local_addr,
            },
            outbound: cfg.outbound.clone(),
            campaign: None,
            driver,
            events,
            sweep: report,
            grace: cfg.shutdown_grace,
        })
    }

    /// Sends a [`CallSummary`] of every finished call to `tx`.
    pub fn with_call_log(mut self, tx: mpsc::UnboundedSender<CallSummary>) -> CallServer {
        if let Some(s) = Arc::get_mut(&mut self.shared) {
            s.call_log = Some(tx);
        }
        self
    }

    /// Runs the automated survey calls of `CallServerConfig::outbound` against `core`
    /// (without an `outbound` config this does nothing).
    pub fn with_campaign(
        mut self,
        core: Arc<dyn crate::outbound::SurveyCampaignCore>,
    ) -> CallServer {
        self.campaign = Some(core);
        self
    }

    /// The bound SIP address (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What the start-up voicemail sweep did.
    pub fn sweep_report(&self) -> &SweepReport {
        &self.sweep
    }

    /// The SIP handle (registrar bindings, drop counters).
    pub fn sip(&self) -> SipHandle {
        self.shared.ctx.sip.clone()
    }

    /// Takes calls until the shutdown token is cancelled, then ends them cleanly.
    pub async fn run(self) -> Result<(), DriverError> {
        let CallServer {
            shared,
            driver,
            mut events,
            grace,
            public_addr,
            outbound,
            campaign,
            ..
        } = self;
        let driver_stop = CancellationToken::new();
        let stop = driver_stop.clone();
        // If this future is dropped (task aborted), the driver stops too.
        let _stop_driver_on_drop = driver_stop.clone().drop_guard();
        let driver_task: JoinHandle<Result<(), DriverError>> =
            tokio::spawn(driver.run(async move { stop.cancelled().await }));
        let router = shared.ctx.router.clone();
        let mut calls: JoinSet<()> = JoinSet::new();
        if let (Some(cfg), Some(core)) = (outbound, campaign) {
            let parts = Arc::new(crate::outbound::CampaignParts {
                ctx: shared.ctx.clone(),
                prompts: shared.prompts.clone(),
                queue: shared.queue.clone(),
                call_log: shared.call_log.clone(),
                shutdown: shared.shutdown.clone(),
                sip_addr: public_addr,
            });
            calls.spawn(crate::outbound::run(cfg, core, parts).in_current_span());
        }
        loop {
            tokio::select! {
                () = shared.shutdown.cancelled() => break,
                ev = events.recv() => {
                    let Some(ev) = ev else { break };
                    match ev {
                        Event::IncomingCall { call, from, offer, remote, .. } => {
                            let received = std::time::Instant::now();
                            let rx = router.insert(call.clone()).await;
                            let span = tracing::info_span!("sip", call_id = %call);
                            tracing::info!(parent: &span, %from, %remote, "incoming call");
                            calls.spawn(call_task(shared.clone(), call, from, offer, rx, received).instrument(span));
                        }
                        Event::Registration { aor, contacts } => {
                            tracing::info!(%aor, contacts, "agent registration");
                        }
                        ev => {
                            if !router.route(ev.clone()).await {
                                tracing::debug!(event = ?ev, "SIP event for no live call");
                            }
                        }
                    }
                }
                Some(done) = calls.join_next(), if !calls.is_empty() => {
                    if let Err(e) = done && e.is_panic() {
                        tracing::error!(error = %e, "a call task panicked");
                    }
                }
            }
        }
        tracing::info!(calls = calls.len(), "call server stopping");
        // Every call's token is a child of the shutdown token; events still route while the
        // calls finish (BYE responses, INVITEs refused).
        let deadline = tokio::time::Instant::now() + grace;
        while !calls.is_empty() {
            tokio::select! {
                _ = calls.join_next() => {}
                ev = events.recv() => match ev {
                    Some(Event::IncomingCall { call, .. }) => {
                        let _ = shared.ctx.sip.reject(&call, 503).await;
                    }
                    Some(ev) => { router.route(ev).await; }
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(calls = calls.len(), "calls did not finish in time; aborting them");
                    calls.abort_all();
                    while calls.join_next().await.is_some() {}
                    break;
                }
            }
        }
        driver_stop.cancel();
        match driver_task.await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "SIP driver task failed");
                Ok(())
            }
        }
    }
}

async fn call_task(
    shared: Arc<Shared>,
    call: CallId,
    from: String,
    offer: Option<Bytes>,
    events: mpsc::UnboundedReceiver<Event>,
    received: std::time::Instant,
) {
    let _live = shared.metrics.live_call();
    let ctx = &shared.ctx;
    let gone = shared.shutdown.child_token();
    let mut media = ctx.media.clone();
    media.shutdown = gone.clone();
    let leg = match MediaLeg::bind(&media).await {
        Ok(leg) => leg,
        Err(e) => {
            tracing::error!(error = %e, "no media leg for the call: 503");
            let _ = ctx.sip.reject(&call, 503).await;
            ctx.router.remove(&call).await;
            return;
        }
    };
    let mut ch = SipChannel::new(
        Incoming {
            call: call.clone(),
            from,
            offer,
            events,
        },
        ctx.sip.clone(),
        leg,
        shared.prompts.clone(),
        gone,
    )
    .with_setup_timer(crate::metrics::SetupTimer {
        received,
        histogram: shared.metrics.setup.clone(),
    });
    let now = time::OffsetDateTime::now_utc();
    let mut outcome = run_call(&mut ch, ctx.backend.as_ref(), &ctx.ivr, now).await;
    if let Ok(FlowOutcome::ToAgent { senior, ticket }) = outcome {
        outcome = shared
            .queue
            .take(&mut ch, ctx, AgentRequest { senior, ticket })
            .await;
    }
    ch.close().await;
    ctx.router.remove(&call).await;
    let outcome = outcome.map_err(|e: FlowError| e.to_string());
    tracing::info!(?outcome, "call finished");
    if let Some(log) = &shared.call_log {
        let _ = log.send(CallSummary {
            call_id: call.0.clone(),
            caller_id: hotline_ivr::Channel::caller_id(&ch).to_owned(),
            outcome,
            played: ch.played().to_vec(),
        });
    }
}
