//! Starting and stopping a simulator: [`Simulator::start`] opens the store, binds the listener,
//! starts the HTTP server, the lifecycle task and the event hub, and hands back a
//! [`RunningSim`] to inspect, steer and stop it.

use crate::config::{Faults, SimConfig};
use crate::events::Hub;
use crate::faults::FaultState;
use crate::lifecycle::{self, Plan};
use crate::state::Shared;
pub use crate::state::Stats;
use crate::store::{Store, StoreError};
use hotline_center112::wire::TroubleTicket;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the event client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Entry point: `Simulator::start(config).await`.
pub struct Simulator;

impl Simulator {
    pub async fn start(cfg: SimConfig) -> Result<RunningSim, SimError> {
        cfg.validate().map_err(SimError::Config)?;
        let ms = |d: Duration| {
            i64::try_from(d.as_millis()).map_err(|_| SimError::Config("duration too long".into()))
        };
        let plan = Plan {
            progress_after_ms: ms(cfg.progress_after)?,
            resolve_after_ms: ms(cfg.resolve_after)?,
            late_factor: cfg.late_factor,
            late_fraction: cfg.late_fraction,
            fail_fraction: cfg.fail_fraction,
            seed: cfg.seed,
        };
        let addr = resolve(&cfg.listen).await?;
        let listener = bind(addr).map_err(|source| SimError::Bind {
            addr: cfg.listen.clone(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: cfg.listen.clone(),
            source,
        })?;
        let store = Store::open(&cfg.db_path).await?;
        let cancel = CancellationToken::new();
        let faults = Arc::new(FaultState::new(cfg.faults.clone(), cfg.seed));
        let (hub, dispatcher) = Hub::start(&cfg, faults.clone(), cancel.clone())?;
        let subs = match store.subscriptions().await {
            Ok(s) => s,
            Err(e) => {
                cancel.cancel();
                store.close().await;
                return Err(e.into());
            }
        };
        for s in &subs {
            hub.add(s);
        }
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            store: store.clone(),
            hub: hub.clone(),
            faults,
            plan: plan.clone(),
            wake: wake.clone(),
            line_tests: AtomicU64::new(0),
            run_id: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        });
        let lifecycle = tokio::spawn(lifecycle::run(store, hub, plan, wake, cancel.clone()));
        let app = crate::api::router(shared.clone());
        let stop = cancel.clone();
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "simulator server failed");
            }
        });
        tracing::info!(%addr, db = %cfg.db_path.display(), subscriptions = subs.len(), "112 centre simulator listening");
        Ok(RunningSim {
            addr,
            shared,
            cancel,
            tasks: vec![server, lifecycle, dispatcher],
        })
    }
}

async fn resolve(listen: &str) -> Result<SocketAddr, SimError> {
    let mut addrs = tokio::net::lookup_host(listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: listen.to_string(),
            source,
        })?;
    addrs
        .next()
        .ok_or_else(|| SimError::Config(format!("{listen:?} resolves to no address")))
}

/// Binds with SO_REUSEADDR so a restart on the same port works while old connections linger in
/// TIME_WAIT.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.set_nodelay(true)?;
    sock.bind(addr)?;
    sock.listen(1024)
}

/// A started simulator. Dropping it stops its tasks; [`RunningSim::shutdown`] stops it
/// gracefully and waits until the port and the database file are free.
pub struct RunningSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSim {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The trouble-ticket API root, for `HttpCenter::new`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, crate::util::BASE_PATH)
    }

    /// `http://ADDR`, under which `/sim/faults` and `/sim/stats` live.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults.get()
    }

    /// Replaces the injected faults (takes effect on the next request or event).
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        self.shared.faults.set(faults).map_err(SimError::Config)
    }

    pub async fn stats(&self) -> Result<Stats, SimError> {
        Ok(self.shared.stats().await?)
    }

    /// The ticket dispatched with this external identifier (our order id), if any.
    pub async fn ticket_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<TroubleTicket>, SimError> {
        Ok(self
            .shared
            .store
            .get_by_external_id(external_id)
            .await?
            .map(|t| t.ticket))
    }

    /// All tickets in creation order.
    pub async fn tickets(&self) -> Result<Vec<TroubleTicket>, SimError> {
        let mut out = Vec::new();
        loop {
            let page = self.shared.store.list(out.len() as i64, 1000).await?;
            let n = page.len();
            out.extend(page.into_iter().map(|t| t.ticket));
            if n < 1000 {
                return Ok(out);
            }
        }
    }

    /// Stops accepting requests, lets running ones finish (5 s at most), stops the lifecycle
    /// and event delivery (queued events are dropped) and closes the database.
    pub async fn shutdown(mut self) {
        tracing::info!(addr = %self.addr, "112 centre simulator stopping");
        self.cancel.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("simulator task did not stop in time; aborted");
                abort.abort();
            }
        }
        if tokio::time::timeout(Duration::from_secs(5), self.shared.store.close())
            .await
            .is_err()
        {
            tracing::warn!("simulator database did not close in time");
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
