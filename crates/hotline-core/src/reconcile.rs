//! Reconciliation with the 112 centre. Events are the fast path, but the centre may lose one
//! (a restart with events still queued, a callback URL that changed): every `every`, the
//! dispatches of tickets still `dispatched` whose centre status has not moved (and that were
//! not polled) for `quiet` are read back with GET and the answer is applied like an event —
//! once (the poll's event id names the status and its time), never backwards — so a fault the
//! centre resolved is cleared (回单) even when its event never arrived.

use crate::delivery::clear_resolved;
use crate::desk::Desk;
use hotline_center112::Center112;
use hotline_domain::Timestamp;
use hotline_store::EventOutcome;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How often and after how much silence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileConfig {
    pub every: Duration,
    pub quiet: Duration,
    /// Most orders polled per pass.
    pub batch: u32,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            every: Duration::from_secs(60),
            quiet: Duration::from_secs(10 * 60),
            batch: 100,
        }
    }
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub polled: usize,
    /// Status changes the events had not brought.
    pub applied: usize,
    pub cleared: usize,
    pub failed: usize,
}

fn parse_time(s: &str) -> Option<Timestamp> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
}

/// One pass: poll the quiet dispatches, apply what changed, clear what was resolved.
pub async fn pass(desk: &Desk, center: &dyn Center112, cfg: &ReconcileConfig) -> PassReport {
    let now = desk.clock.now();
    let quiet_before = Timestamp(now.0 - cfg.quiet.as_millis() as i64);
    let mut report = PassReport::default();
    let orders = match desk
        .store
        .quiet_center_orders(quiet_before, cfg.batch)
        .await
    {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "reconcile: cannot read quiet orders");
            return report;
        }
    };
    let mut resolved = false;
    for o in orders {
        report.polled += 1;
        let _ = desk.store.mark_center_polled(o.order_id, now).await;
        let tt = match center.get(&o.center_ref).await {
            Ok(tt) => tt,
            Err(e) => {
                report.failed += 1;
                tracing::warn!(order_id = o.order_id, center = %o.center_ref, error = %e, "reconcile: cannot read the order at the centre");
                continue;
            }
        };
        let status = tt.status;
        let at = parse_time(&tt.last_update).unwrap_or(now);
        let event_id = format!("poll:{}:{}:{}", o.center_ref, status.as_str(), at.0);
        match desk
            .store
            .apply_center_event(&event_id, &o.center_ref, status, at, now)
            .await
        {
            Ok(EventOutcome::Applied { .. }) => {
                report.applied += 1;
                tracing::info!(ticket_id = o.ticket_id, center = %o.center_ref, from = ?o.center_status, to = status.as_str(), "reconcile: status the events had not brought");
                if status.is_cleared() {
                    resolved = true;
                }
            }
            Ok(_) => {}
            Err(e) => {
                report.failed += 1;
                tracing::warn!(order_id = o.order_id, error = %e, "reconcile: cannot apply the centre's status");
            }
        }
    }
    if resolved {
        report.cleared = clear_resolved(desk).await.unwrap_or(0);
    }
    report
}

/// Runs passes until `shutdown` resolves.
pub async fn run(
    desk: Desk,
    center: Arc<dyn Center112>,
    cfg: ReconcileConfig,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(cfg.every) => {}
        }
        let r = pass(&desk, center.as_ref(), &cfg).await;
        if r.applied > 0 || r.failed > 0 {
            tracing::info!(?r, "reconciled with the 112 centre");
        }
    }
}
