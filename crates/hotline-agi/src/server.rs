//! [`AgiServer`]: the FastAGI listener. One tokio task per connection
//! ([`crate::session::run_session`]); connections over `max_sessions` are closed at once;
//! an accept error (out of file descriptors) is logged and retried, never fatal. On
//! shutdown it stops accepting, lets sessions hang up their calls (each `select!`s on the
//! token) for up to `grace`, then aborts what is left and logs the turnaround figures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::session::{AgiContext, run_session};

/// How often the turnaround figures are logged (and their window restarted).
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The listener and its sessions.
pub struct AgiServer {
    listener: TcpListener,
    ctx: Arc<AgiContext>,
    max_sessions: usize,
    grace: Duration,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for AgiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgiServer")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl AgiServer {
    /// Binds `addr`.
    pub async fn bind(
        addr: SocketAddr,
        ctx: Arc<AgiContext>,
        max_sessions: usize,
        shutdown: CancellationToken,
    ) -> std::io::Result<AgiServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(AgiServer {
            listener,
            ctx,
            max_sessions,
            grace: Duration::from_secs(3),
            shutdown,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts until shutdown.
    pub async fn run(self) {
        let live = Arc::new(AtomicUsize::new(0));
        let mut sessions = JoinSet::new();
        let turnaround = self.ctx.channel.turnaround.clone();
        let mut report = tokio::time::interval(REPORT_EVERY);
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                _ = report.tick() => {
                    // One line per window with traffic, then a fresh window.
                    let s = turnaround.summary();
                    if s.count > 0 {
                        tracing::info!(sessions = live.load(Ordering::Relaxed), turnaround = %s, "agi command turnaround, last {REPORT_EVERY:?} (reply received -> next command sent)");
                        turnaround.reset();
                    }
                }
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                r = self.listener.accept() => match r {
                    Ok((sock, peer)) => {
                        if live.load(Ordering::Relaxed) >= self.max_sessions {
                            tracing::warn!(%peer, max = self.max_sessions, "agi session refused: too many sessions");
                            drop(sock);
                            continue;
                        }
                        let _ = sock.set_nodelay(true);
                        let ctx = self.ctx.clone();
                        let token = self.shutdown.child_token();
                        let live = live.clone();
                        live.fetch_add(1, Ordering::Relaxed);
                        sessions.spawn(async move {
                            run_session(sock, peer.to_string(), ctx, token).await;
                            live.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "agi accept failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        tracing::info!(sessions = sessions.len(), "agi server stopping");
        let drain = async { while sessions.join_next().await.is_some() {} };
        if tokio::time::timeout(self.grace, drain).await.is_err() {
            tracing::warn!(
                left = sessions.len(),
                "agi sessions aborted after the grace period"
            );
            sessions.abort_all();
        }
        tracing::info!(turnaround = %turnaround.summary(), "agi command turnaround, last window (reply received -> next command sent)");
    }
}
