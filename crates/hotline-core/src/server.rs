//! Wiring: the gRPC server (tickets, agents, health, reflection v1 + v1alpha), the HTTP side
//! (`/healthz`, `/metrics`), and the deadline scheduler, all stopping on one cancellation token.

use crate::acd::AcdHandle;
use crate::auth::Auth;
use crate::clock::Clock;
use crate::delivery::{self, DeliveryConfig};
use crate::desk::Desk;
use crate::grpc::intake::IntakeApi;
use crate::grpc::{agents::Agents, queue::Queue, tickets::Tickets, voicemail::Voicemails};
use crate::metrics::{CoreMetrics, SharedRegistry};
use crate::scheduler;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::routing::post;
use hotline_center112::Center112;
use hotline_domain::rules::DeskRules;
use hotline_proto::v1::agent_service_server::AgentServiceServer;
use hotline_proto::v1::intake_service_server::IntakeServiceServer;
use hotline_proto::v1::knowledge_service_server::KnowledgeServiceServer;
use hotline_proto::v1::quality_service_server::QualityServiceServer;
use hotline_proto::v1::queue_service_server::QueueServiceServer;
use hotline_proto::v1::report_service_server::ReportServiceServer;
use hotline_proto::v1::survey_service_server::SurveyServiceServer;
use hotline_proto::v1::ticket_service_server::TicketServiceServer;
use hotline_proto::v1::voicemail_service_server::VoicemailServiceServer;
use hotline_store::{Store, StoreOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub grpc_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub database_url: String,
    /// Operator overrides of the store's pool size and group commit (`[store]`).
    pub store: hotline_store::StoreTuning,
    pub rules: DeskRules,
    /// Created at start-up if no agent exists yet: (agent id, password).
    pub bootstrap_admin: Option<(String, String)>,
    /// A `system`-role service account (agent id, password) created or re-keyed at start-up:
    /// how an IVR started by the same process reaches the core over gRPC.
    pub service_account: Option<(String, String)>,
    /// The agent queue's time rules (JO2's 15 s answer limit, maximum wait, wrap-up).
    pub acd: crate::acd::AcdSettings,
    pub scheduler_max_sleep: Duration,
    /// Where the IVR writes voicemail recordings (served to extractors).
    pub voicemail_dir: std::path::PathBuf,
    /// Text intake: the document store's directory, the upload limit, the retention rule.
    pub intake: crate::desk::intake::IntakeConfig,
    /// Where the knowledge base's search index lives (a cache rebuilt from the database when
    /// missing or stale); `None` keeps it in memory.
    pub kb_index_dir: Option<std::path::PathBuf>,
    /// Quality inspection (`[qa]`): the scoring form, the weekly quota, the recording rule and
    /// retention (checked at start).
    pub qa: hotline_domain::qa::QaConfig,
    /// Reports (issue 17): the `[branches]` map (checked at start: overlaps refused) and the
    /// `[reports]` options.
    pub reports: hotline_report::ReportConfig,
    /// The satisfaction surveyor's rules (`[surveys]`: calling hours, attempts, SS1 window).
    pub surveys: hotline_domain::survey::SurveyRules,
    /// The 112 centre; `None` runs without delivery (orders stay queued in the outbox).
    pub center: Option<CenterLink>,
    /// More routes for the HTTP listener, built from the started core (the web desktop).
    pub http_extension: Option<HttpExtension>,
}

/// What an [`HttpExtension`] is given: the started core's handles.
#[derive(Clone)]
pub struct CoreHandles {
    pub desk: Desk,
    pub auth: Arc<Auth>,
    pub acd: AcdHandle,
    pub metrics: CoreMetrics,
    /// The 112 centre's client, for line tests and progress queries.
    pub center: Option<Arc<dyn Center112>>,
    pub voicemail_dir: std::path::PathBuf,
    /// The surveyor's operations with the `[surveys]` rules.
    pub surveys: crate::desk::surveys::Surveys,
    /// The document store of originals and its `[intake]` rules (the clerk's inbox).
    pub docs: Arc<dyn hotline_docstore::DocumentStore>,
    pub intake: crate::desk::intake::IntakeConfig,
    /// Cancelled when the core shuts down (long-lived responses end on it).
    pub shutdown: CancellationToken,
}

/// Builds extra routes merged into the HTTP app (`hotline-core` does not know who supplies
/// them: the binary passes `hotline_web`'s desktop).
#[derive(Clone)]
pub struct HttpExtension(pub Arc<dyn Fn(CoreHandles) -> axum::Router + Send + Sync>);

impl std::fmt::Debug for HttpExtension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpExtension")
    }
}

/// How the core reaches the 112 centre and verifies what it sends back.
#[derive(Clone)]
pub struct CenterLink {
    pub client: Arc<dyn Center112>,
    /// Shared secret of the event signatures.
    pub secret: Vec<u8>,
    /// The URL the centre should POST events to; default `http://<http listener>/center112/events`.
    pub callback_url: Option<String>,
    pub delivery: DeliveryConfig,
}

impl std::fmt::Debug for CenterLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CenterLink")
            .field("callback_url", &self.callback_url)
            .finish_non_exhaustive()
    }
}

/// A running core.
pub struct RunningCore {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub desk: Desk,
    pub auth: Arc<Auth>,
    pub acd: AcdHandle,
    /// The families `/metrics` shows (the call server may register more into `registry`).
    pub metrics: CoreMetrics,
    pub registry: SharedRegistry,
    /// The document store (originals, recordings, scheduled reports).
    pub docs: Arc<dyn hotline_docstore::DocumentStore>,
    tasks: Vec<JoinHandle<()>>,
    cancel: CancellationToken,
}

impl RunningCore {
    /// Stops accepting, lets in-flight calls and group commits finish, closes the store.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for mut t in self.tasks {
            // in-flight calls get a grace period; a peer that never lets go does not hold us
            if tokio::time::timeout(Duration::from_secs(10), &mut t)
                .await
                .is_err()
            {
                tracing::warn!("a server task did not stop within 10 s; aborting it");
                t.abort();
            }
        }
        self.desk.store.close().await;
        tracing::info!("core stopped");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("store: {0}")]
    Store(#[from] hotline_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("bootstrap admin: {0}")]
    Bootstrap(#[from] crate::error::CoreError),
    #[error("knowledge base: {0}")]
    Kb(crate::error::CoreError),
    #[error("{0}")]
    Branches(#[from] hotline_report::BranchMapError),
    #[error("reflection: {0}")]
    Reflection(String),
    #[error("{0}")]
    Qa(String),
    #[error("document store: {0}")]
    Documents(#[from] hotline_docstore::DocStoreError),
}

/// Opens the store, binds both listeners and spawns everything, with a registry of its own.
pub async fn start(cfg: CoreConfig, clock: Arc<dyn Clock>) -> Result<RunningCore, StartError> {
    start_with_registry(cfg, clock, SharedRegistry::default()).await
}

/// [`start`], registering the core's metric families into `registry`, which `/metrics`
/// encodes (the binary registers the call server's families into the same one).
pub async fn start_with_registry(
    cfg: CoreConfig,
    clock: Arc<dyn Clock>,
    registry: SharedRegistry,
) -> Result<RunningCore, StartError> {
    let metrics = CoreMetrics::register(&registry);
    let store = Store::open(StoreOptions::new(cfg.database_url.clone()).tuned(&cfg.store)).await?;
    tracing::info!(backend = ?store.backend(), "store open");
    let mut desk = Desk::new(store.clone(), cfg.rules.clone(), clock.clone());
    desk.reporting = Arc::new(crate::desk::reports::Reporting::new(cfg.reports.clone())?);
    cfg.qa.validate().map_err(StartError::Qa)?;
    let auth = Arc::new(Auth::new(store.clone(), clock.clone()));
    if let Some((id, pw)) = &cfg.bootstrap_admin
        && store.count_agents().await? == 0
    {
        auth.create_agent(None, id, "管理员", "admin", pw).await?;
        tracing::info!(agent_id = %id, "bootstrap admin created");
    }
    if let Some((id, pw)) = &cfg.service_account {
        auth.ensure_service_account(id, pw).await?;
    }
    let docs: Arc<dyn hotline_docstore::DocumentStore> =
        Arc::new(hotline_docstore::FsStore::open(&cfg.intake.documents_dir).await?);
    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();
    let kb = crate::desk::kb::Knowledge::open(desk.clone(), cfg.kb_index_dir.clone())
        .await
        .map_err(StartError::Kb)?;
    tasks.push(kb.spawn_refresh(Duration::from_secs(5), cancel.clone()));
    let (acd, acd_tasks) = AcdHandle::start(
        cfg.acd.clone(),
        clock.clone(),
        desk.events.clone(),
        store.clone(),
        cancel.clone(),
        metrics.clone(),
        hotline_acd::SlRules {
            service_level_ms: i64::from(cfg.rules.queue_service_level_secs) * 1000,
            short_abandon_ms: i64::from(cfg.rules.queue_short_abandon_secs) * 1000,
            answer_limit_ms: cfg.acd.answer_timeout.as_millis() as i64,
        },
    );
    tasks.extend(acd_tasks);
    // agents who were available or not ready before a restart stay so (in idle order of id)
    for a in store.list_agents().await? {
        use hotline_domain::role::Presence;
        if a.active && matches!(a.presence, Presence::Available | Presence::NotReady) {
            let _ = acd.set_presence(&a.agent_id, &a.name, a.role, a.presence);
        }
    }

    let incoming = tonic::transport::server::TcpIncoming::bind(cfg.grpc_listen)
        .map_err(|source| StartError::Bind {
            addr: cfg.grpc_listen,
            source,
        })?
        .with_nodelay(Some(true));
    let grpc_addr = incoming.local_addr().map_err(|source| StartError::Bind {
        addr: cfg.grpc_listen,
        source,
    })?;
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<TicketServiceServer<Tickets>>()
        .await;
    health_reporter
        .set_serving::<AgentServiceServer<Agents>>()
        .await;
    health_reporter
        .set_serving::<VoicemailServiceServer<Voicemails>>()
        .await;
    health_reporter
        .set_serving::<IntakeServiceServer<IntakeApi>>()
        .await;
    health_reporter
        .set_serving::<QueueServiceServer<Queue>>()
        .await;
    health_reporter
        .set_serving::<KnowledgeServiceServer<crate::grpc::kb::Kb>>()
        .await;
    health_reporter
        .set_serving::<QualityServiceServer<crate::grpc::qa::QualityApi>>()
        .await;
    health_reporter
        .set_serving::<SurveyServiceServer<crate::grpc::surveys::SurveyApi>>()
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(hotline_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| StartError::Reflection(e.to_string()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| StartError::Reflection(e.to_string()))?;
    // every call is authenticated and checked against the permission matrix here, once
    let router = tonic::transport::Server::builder()
        .layer(crate::metrics::TimingLayer::new(&metrics))
        .layer(crate::authorize::AuthorizeLayer::new(auth.clone()))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(TicketServiceServer::new(Tickets {
            desk: desk.clone(),
            auth: auth.clone(),
            center: cfg.center.as_ref().map(|c| c.client.clone()),
        }))
        .add_service(KnowledgeServiceServer::new(crate::grpc::kb::Kb { kb }))
        .add_service(SurveyServiceServer::new(crate::grpc::surveys::SurveyApi {
            surveys: desk.surveys(cfg.surveys.clone()),
        }))
        .add_service(ReportServiceServer::new(crate::grpc::reports::Reports {
            desk: desk.clone(),
            acd: acd.clone(),
            docs: docs.clone(),
        }))
        .add_service(QualityServiceServer::new(crate::grpc::qa::QualityApi {
            desk: desk.clone(),
            docs: docs.clone(),
            cfg: cfg.qa.clone(),
        }))
        .add_service(IntakeServiceServer::new(IntakeApi {
            desk: desk.clone(),
            docs: docs.clone(),
            cfg: cfg.intake.clone(),
        }))
        .add_service(VoicemailServiceServer::new(Voicemails {
            desk: desk.clone(),
            auth: auth.clone(),
            dir: cfg.voicemail_dir.clone(),
        }))
        .add_service(AgentServiceServer::new(Agents {
            desk: desk.clone(),
            auth: auth.clone(),
            acd: acd.clone(),
            shutdown: cancel.clone(),
        }))
        .add_service(QueueServiceServer::new(Queue {
            desk: desk.clone(),
            auth: auth.clone(),
            acd: acd.clone(),
            shutdown: cancel.clone(),
        }));
    let c = cancel.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, c.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "gRPC server failed");
        }
    }));
    tracing::info!(%grpc_addr, "gRPC listening");

    let http = tokio::net::TcpListener::bind(cfg.http_listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: cfg.http_listen,
            source,
        })?;
    let http_addr = http.local_addr().map_err(|source| StartError::Bind {
        addr: cfg.http_listen,
        source,
    })?;
    let secret: Arc<Vec<u8>> = Arc::new(
        cfg.center
            .as_ref()
            .map(|c| c.secret.clone())
            .unwrap_or_default(),
    );
    let mut app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics_page))
        .route("/center112/events", post(center_event))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(HttpState {
            desk: desk.clone(),
            acd: acd.clone(),
            secret,
            metrics: metrics.clone(),
            registry: registry.clone(),
        });
    if let Some(ext) = &cfg.http_extension {
        app = app.merge((ext.0)(CoreHandles {
            desk: desk.clone(),
            auth: auth.clone(),
            acd: acd.clone(),
            metrics: metrics.clone(),
            center: cfg.center.as_ref().map(|c| c.client.clone()),
            voicemail_dir: cfg.voicemail_dir.clone(),
            surveys: desk.surveys(cfg.surveys.clone()),
            docs: docs.clone(),
            intake: cfg.intake.clone(),
            shutdown: cancel.clone(),
        }));
    }
    let c = cancel.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(http, app)
            .with_graceful_shutdown(c.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "HTTP server failed");
        }
    }));
    tracing::info!(%http_addr, "HTTP listening");

    if let Some(link) = cfg.center.clone() {
        let callback = link
            .callback_url
            .clone()
            .unwrap_or_else(|| format!("http://{http_addr}/center112/events"));
        let c = cancel.clone();
        let client = link.client.clone();
        tasks.push(tokio::spawn(async move {
            // keep trying until the centre takes the subscription (it may be down at start)
            let mut wait = Duration::from_millis(200);
            loop {
                match client.subscribe(&callback).await {
                    Ok(s) => {
                        tracing::info!(subscription = %s.id, %callback, "subscribed to 112 centre events");
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot subscribe to the 112 centre yet"),
                }
                tokio::select! {
                    _ = c.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }));
        let c = cancel.clone();
        tasks.push(tokio::spawn(crate::reconcile::run(
            desk.clone(),
            link.client.clone(),
            crate::reconcile::ReconcileConfig::default(),
            c.cancelled_owned(),
        )));
        let c = cancel.clone();
        let mut delivery_cfg = link.delivery.clone();
        delivery_cfg.latency_histogram = Some(metrics.delivery.clone());
        tasks.push(tokio::spawn(delivery::run(
            desk.clone(),
            link.client.clone(),
            delivery_cfg,
            desk.outbox_wake.clone(),
            c.cancelled_owned(),
        )));
    }

    let docs_handle = docs.clone();
    tasks.push(tokio::spawn(scheduler::run_scheduled_reports(
        desk.clone(),
        docs.clone(),
        acd.clone(),
        (cfg.scheduler_max_sleep * 10).max(Duration::from_secs(1)),
        cancel.clone().cancelled_owned(),
    )));
    tasks.push(tokio::spawn(scheduler::run_retention(
        desk.clone(),
        docs,
        cfg.intake.clone(),
        cfg.qa.clone(),
        Duration::from_secs(3600),
        cancel.clone().cancelled_owned(),
    )));
    let c = cancel.clone();
    tasks.push(tokio::spawn(scheduler::run(
        desk.clone(),
        desk.surveys(cfg.surveys.clone()).analyses(),
        cfg.scheduler_max_sleep,
        c.cancelled_owned(),
    )));

    Ok(RunningCore {
        grpc_addr,
        http_addr,
        desk,
        auth,
        acd,
        metrics,
        registry,
        docs: docs_handle,
        tasks,
        cancel,
    })
}

/// Runs the core until `shutdown` resolves.
pub async fn serve(
    cfg: CoreConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let running = start(cfg, clock).await?;
    shutdown.await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

#[derive(Clone)]
struct HttpState {
    desk: Desk,
    acd: AcdHandle,
    secret: Arc<Vec<u8>>,
    metrics: CoreMetrics,
    registry: SharedRegistry,
}

/// POST /center112/events: a signed event from the 112 centre.
async fn center_event(
    State(st): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    use delivery::EventRefused as E;
    if st.secret.is_empty() {
        return (StatusCode::NOT_FOUND, "no 112 centre is configured".into());
    }
    let sig = headers
        .get(hotline_center112::wire::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    match delivery::handle_event(&st.desk, &st.secret, sig, &body).await {
        Ok(outcome) => (StatusCode::OK, format!("{outcome:?}")),
        Err(e) => {
            tracing::warn!(error = %e, "refused an event from the 112 centre");
            let code = match e {
                E::Signature(_) => StatusCode::UNAUTHORIZED,
                E::Body(_) => StatusCode::BAD_REQUEST,
                E::Unknown(_) => StatusCode::UNPROCESSABLE_ENTITY,
                E::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            (code, e.to_string())
        }
    }
}

/// GET /metrics: OpenMetrics text from the registry (see [`crate::metrics`]); what lives in
/// the database is read first.
async fn metrics_page(State(st): State<HttpState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match st.metrics.scrape(&st.registry, &st.desk, &st.acd).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                crate::metrics::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics: cannot encode");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response()
        }
    }
}
