//! Wiring: the gRPC server (tickets, agents, health, reflection v1 + v1alpha), the HTTP side
//! (`/healthz`, `/metrics`), and the deadline scheduler, all stopping on one cancellation token.

use crate::auth::Auth;
use crate::clock::Clock;
use crate::desk::Desk;
use crate::grpc::{agents::Agents, tickets::Tickets};
use crate::scheduler;
use axum::extract::State;
use axum::routing::get;
use hotline_domain::rules::DeskRules;
use hotline_proto::v1::agent_service_server::AgentServiceServer;
use hotline_proto::v1::ticket_service_server::TicketServiceServer;
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
    pub rules: DeskRules,
    /// Created at start-up if no agent exists yet: (agent id, password).
    pub bootstrap_admin: Option<(String, String)>,
    pub scheduler_max_sleep: Duration,
}

/// A running core.
pub struct RunningCore {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub desk: Desk,
    pub auth: Arc<Auth>,
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
    #[error("reflection: {0}")]
    Reflection(String),
}

/// Opens the store, binds both listeners and spawns everything.
pub async fn start(cfg: CoreConfig, clock: Arc<dyn Clock>) -> Result<RunningCore, StartError> {
    let store = Store::open(StoreOptions::new(cfg.database_url.clone())).await?;
    tracing::info!(backend = ?store.backend(), "store open");
    let desk = Desk::new(store.clone(), cfg.rules.clone(), clock.clone());
    let auth = Arc::new(Auth::new(store.clone(), clock.clone()));
    if let Some((id, pw)) = &cfg.bootstrap_admin
        && store.count_agents().await? == 0
    {
        auth.create_agent(None, id, "管理员", "admin", pw).await?;
        tracing::info!(agent_id = %id, "bootstrap admin created");
    }
    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();

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
    let router = tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(TicketServiceServer::new(Tickets {
            desk: desk.clone(),
            auth: auth.clone(),
        }))
        .add_service(AgentServiceServer::new(Agents {
            desk: desk.clone(),
            auth: auth.clone(),
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
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(desk.clone());
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

    let c = cancel.clone();
    tasks.push(tokio::spawn(scheduler::run(
        desk.clone(),
        cfg.scheduler_max_sleep,
        c.cancelled_owned(),
    )));

    Ok(RunningCore {
        grpc_addr,
        http_addr,
        desk,
        auth,
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

/// Prometheus text format: alerts by deadline kind and level.
async fn metrics(State(desk): State<Desk>) -> String {
    let mut out = String::from(
        "# HELP hotline_deadline_alerts_total Deadline alerts raised (warning = 预警, breach = 超时).\n# TYPE hotline_deadline_alerts_total counter\n",
    );
    match desk.store.alert_counts().await {
        Ok(rows) => {
            for (kind, level, n) in rows {
                out.push_str(&format!(
                    "hotline_deadline_alerts_total{{kind=\"{kind}\",level=\"{level}\"}} {n}\n"
                ));
            }
            out.push_str("hotline_store_up 1\n");
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: store unavailable");
            out.push_str("hotline_store_up 0\n");
        }
    }
    out
}
