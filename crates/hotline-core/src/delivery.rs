//! Delivery of the outbox to the 112 centre, and the centre's events back.
//!
//! The worker takes due outbox rows (at most one per ticket, so a ticket's orders arrive in
//! order), sends them concurrently across tickets, marks each delivered only after the centre's
//! 2xx, and on a retryable failure schedules the next attempt with exponential backoff and jitter.
//! Dispatches carry the order id as external identifier and idempotency key, and notes carry the
//! outbox row id, so a retry after a lost reply never creates a second order at the centre. A
//! row undelivered longer than `stuck_after` raises an alert once; a row the centre refuses for
//! good is parked with an alert. Events from the centre are verified (HMAC), applied once and
//! never backwards; a resolved dispatch clears the ticket (回单) and creates the survey task.

use crate::auth::Principal;
use crate::desk::Desk;
use crate::events::DeskEvent;
use futures::StreamExt;
use hotline_center112::wire::{Characteristic, ExternalIdentifier, Note, TroubleTicketCreate};
use hotline_center112::{Center112, CenterError};
use hotline_domain::workflow::Action;
use hotline_domain::{Role, Timestamp};
use hotline_store::outbox::Delivered;
use hotline_store::{EventOutcome, OutboxRow};
use rand::Rng;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub concurrency: usize,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// An order undelivered this long raises an alert.
    pub stuck_after: Duration,
    /// Longest sleep between looks at the outbox.
    pub max_sleep: Duration,
    /// Most rows one pass sends (a pass ends before the next starts, so short passes keep
    /// the latency of newly approved orders low).
    pub max_batch: u32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            concurrency: 64,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(60),
            stuck_after: Duration::from_secs(300),
            max_sleep: Duration::from_millis(500),
            max_batch: 1000,
        }
    }
}

/// The principal the adapter acts as (回单 clears tickets as this system account).
pub fn center_principal() -> Principal {
    Principal {
        agent_id: "center112".into(),
        role: Role::System,
    }
}

#[derive(serde::Deserialize)]
struct Payload {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    urgent: bool,
    #[serde(default)]
    note: String,
    #[serde(default)]
    faulty_number: String,
    #[serde(default)]
    contact_number: String,
    #[serde(default)]
    customer_class: String,
    #[serde(default)]
    customer_name: String,
    #[serde(default)]
    branch: String,
    #[serde(default)]
    fault_type: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    ticket_id: i64,
}

/// Exponential backoff with ±50 % jitter.
pub fn backoff(cfg: &DeliveryConfig, attempts: i64) -> Duration {
    let exp = cfg
        .backoff_base
        .saturating_mul(1u32 << attempts.clamp(0, 16) as u32)
        .min(cfg.backoff_max);
    let jitter = rand::rng().random_range(0.5..1.5);
    exp.mul_f64(jitter)
}

fn create_body(row: &OutboxRow, p: &Payload) -> TroubleTicketCreate {
    let ch = |name: &str, value: &str| Characteristic {
        name: name.into(),
        value: value.into(),
    };
    let mut characteristic = vec![
        ch("faultyNumber", &p.faulty_number),
        ch("faultType", &p.fault_type),
        ch("customerClass", &p.customer_class),
        ch("customerName", &p.customer_name),
        ch("contactNumber", &p.contact_number),
        ch("branch", &p.branch),
        ch("hotlineTicketId", &p.ticket_id.to_string()),
    ];
    let mut note = Vec::new();
    if row.kind == "second_dispatch" {
        if let Some(prev) = &row.dispatch_center_ref {
            characteristic.push(ch("relatedTroubleTicket", prev));
        }
        // SO5: the written warning to the local measurement centre goes with the dispatch
        note.push(Note {
            id: format!("outbox-{}", row.id),
            author: "hotline".into(),
            date: String::new(),
            text: format!("二次派单书面警告: {}", p.note),
            kind: "warning".into(),
        });
    } else if !p.note.is_empty() {
        note.push(Note {
            id: format!("outbox-{}", row.id),
            author: "hotline".into(),
            date: String::new(),
            text: p.note.clone(),
            kind: "dispatch".into(),
        });
    }
    TroubleTicketCreate {
        external_identifier: vec![ExternalIdentifier {
            id: row.order_id.to_string(),
            external_identifier_type: "hotlineOrder".into(),
            owner: "hotline".into(),
        }],
        name: format!("{} 障碍申告", p.faulty_number),
        description: p.description.clone(),
        severity: if p.urgent {
            "Critical".into()
        } else {
            "Major".into()
        },
        priority: if p.urgent { "1".into() } else { "3".into() },
        ticket_type: "lineFault".into(),
        characteristic,
        note,
    }
}

/// What one delivery attempt ended with.
enum Attempt {
    Delivered {
        center_ref: Option<String>,
        status: Option<String>,
    },
    /// The dispatch this row refers to is not at the centre yet.
    Waiting,
    Failed(CenterError),
}

async fn attempt(center: &dyn Center112, row: &OutboxRow) -> Attempt {
    let p: Payload = match serde_json::from_str(&row.payload) {
        Ok(p) => p,
        Err(e) => return Attempt::Failed(CenterError::Protocol(format!("outbox payload: {e}"))),
    };
    let kind = if p.kind.is_empty() {
        row.kind.as_str()
    } else {
        p.kind.as_str()
    };
    let note = |k: &str, text: String| Note {
        id: format!("outbox-{}", row.id),
        author: "hotline".into(),
        date: String::new(),
        text,
        kind: k.into(),
    };
    let res = match kind {
        "dispatch" | "second_dispatch" => center
            .dispatch(
                &create_body(row, &p),
                &format!("hotline-order-{}", row.order_id),
            )
            .await
            .map(|d| {
                (
                    Some(d.ticket.id),
                    Some(d.ticket.status.as_str().to_string()),
                )
            }),
        "follow_up" | "cancellation" | "urge" => {
            let Some(target) = row.dispatch_center_ref.clone() else {
                return Attempt::Waiting;
            };
            match kind {
                "follow_up" => {
                    center
                        .add_note(&target, note("followUp", format!("追单: {}", p.note)), None)
                        .await
                }
                "urge" => {
                    center
                        .add_note(
                            &target,
                            note("urge", format!("催单: {}", p.note)),
                            Some("1".into()),
                        )
                        .await
                }
                _ => center.cancel(&target, &format!("退单: {}", p.note)).await,
            }
            .map(|_| (Some(target), None))
        }
        other => Err(CenterError::Protocol(format!(
            "unknown outbox kind {other:?}"
        ))),
    };
    match res {
        Ok((center_ref, status)) => Attempt::Delivered { center_ref, status },
        Err(e) => Attempt::Failed(e),
    }
}

/// One pass over the due rows: send them (concurrently across tickets, in order within one),
/// then record the outcomes in one transaction each for successes and failures. Returns how
/// many were delivered.
pub async fn deliver_due(
    desk: &Desk,
    center: &Arc<dyn Center112>,
    cfg: &DeliveryConfig,
) -> Result<usize, hotline_store::StoreError> {
    let rows = desk
        .store
        .due_outbox(desk.clock.now(), cfg.max_batch)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let outcomes: Vec<(OutboxRow, Attempt, Timestamp)> = futures::stream::iter(rows)
        .map(|row| {
            let center = center.clone();
            let span = tracing::info_span!("deliver", ticket_id = row.ticket_id, order_id = row.order_id, kind = %row.kind);
            async move {
                let outcome = attempt(center.as_ref(), &row).await;
                (row, outcome, desk.clock.now())
            }
            .instrument(span)
        })
        .buffer_unordered(cfg.concurrency.max(1))
        .collect()
        .await;
    let mut delivered = Vec::new();
    let mut failed = Vec::new();
    let mut had_failures = false;
    for (row, outcome, at) in outcomes {
        match outcome {
            Attempt::Delivered { center_ref, status } => {
                tracing::info!(ticket_id = row.ticket_id, order_id = row.order_id, kind = %row.kind, center = ?center_ref, "delivered to the 112 centre");
                delivered.push(Delivered {
                    row,
                    center_ref,
                    center_status: status,
                    at,
                });
            }
            Attempt::Waiting => {
                let next = at.plus_ms(backoff(cfg, 0).as_millis() as i64);
                failed.push((
                    row,
                    next,
                    "waiting for the dispatch to reach the centre".to_string(),
                ));
            }
            Attempt::Failed(e) if e.is_retryable() => {
                had_failures = true;
                let next = at.plus_ms(backoff(cfg, row.attempts).as_millis() as i64);
                tracing::warn!(ticket_id = row.ticket_id, order_id = row.order_id, attempts = row.attempts + 1, error = %e, "delivery failed; will retry");
                failed.push((row, next, e.to_string()));
            }
            Attempt::Failed(e) => {
                tracing::error!(ticket_id = row.ticket_id, order_id = row.order_id, error = %e, "the 112 centre refused; parked");
                let alert = desk.store.park(&row, &e.to_string(), at).await?;
                desk.events.publish(DeskEvent::Alert(alert));
            }
        }
    }
    desk.store.mark_delivered(&delivered).await?;
    desk.store.mark_attempts_failed(&failed).await?;
    if !delivered.is_empty() && !had_failures {
        // the centre answers again: whatever waits out a backoff from an outage goes now
        let pulled = desk.store.retry_waiting_now(desk.clock.now()).await?;
        if pulled > 0 {
            tracing::info!(
                rows = pulled,
                "112 centre reachable again; retrying the backlog now"
            );
        }
    }
    Ok(delivered.len())
}

/// Clears tickets whose dispatch the centre resolved (回单) and that are still dispatched.
pub async fn clear_resolved(desk: &Desk) -> Result<usize, crate::error::CoreError> {
    let mut n = 0;
    for id in desk.store.resolved_but_not_cleared(100).await? {
        match desk
            .act(
                &center_principal(),
                id,
                Action::Clear {
                    note: "测量台回单: 障碍已修复".into(),
                },
            )
            .await
        {
            Ok(_) => n += 1,
            Err(e) => {
                tracing::warn!(ticket_id = id, error = %e, "could not clear a resolved ticket")
            }
        }
    }
    Ok(n)
}

/// Runs the delivery worker until `shutdown` resolves.
pub async fn run(
    desk: Desk,
    center: Arc<dyn Center112>,
    cfg: DeliveryConfig,
    wake: Arc<Notify>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = deliver_due(&desk, &center, &cfg).await {
            tracing::error!(error = %e, "outbox delivery pass failed");
        }
        let now = desk.clock.now();
        let stuck_before = Timestamp(now.0 - cfg.stuck_after.as_millis() as i64);
        match desk.store.alert_stuck_outbox(stuck_before, now).await {
            Ok(alerts) => {
                for a in alerts {
                    tracing::warn!(ticket_id = a.ticket_id, "order undelivered too long");
                    desk.events.publish(DeskEvent::Alert(a));
                }
            }
            Err(e) => tracing::error!(error = %e, "stuck-outbox check failed"),
        }
        if let Err(e) = clear_resolved(&desk).await {
            tracing::error!(error = %e, "clearing resolved tickets failed");
        }
        let sleep = match desk.store.next_outbox_at().await {
            Ok(Some(t)) => {
                Duration::from_millis(t.since(desk.clock.now()).max(0) as u64).min(cfg.max_sleep)
            }
            _ => cfg.max_sleep,
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    tracing::info!("outbox delivery stopped");
}

/// Why an incoming event was refused.
#[derive(Debug, thiserror::Error)]
pub enum EventRefused {
    #[error("bad signature: {0}")]
    Signature(#[from] hotline_center112::signature::SignatureError),
    #[error("unreadable event: {0}")]
    Body(String),
    #[error("{0}")]
    Unknown(String),
    #[error("store: {0}")]
    Store(String),
}

fn parse_time(s: &str) -> Option<Timestamp> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64))
}

/// Verifies and applies one event POSTed by the centre.
pub async fn handle_event(
    desk: &Desk,
    secret: &[u8],
    signature: Option<&str>,
    body: &[u8],
) -> Result<EventOutcome, EventRefused> {
    hotline_center112::signature::verify(secret, body, signature)?;
    let ev: hotline_center112::wire::Event =
        serde_json::from_slice(body).map_err(|e| EventRefused::Body(e.to_string()))?;
    if ev.event_id.is_empty() || ev.event_id.len() > 128 {
        return Err(EventRefused::Body(
            "eventId must have 1-128 characters".into(),
        ));
    }
    let at = parse_time(&ev.event_time).ok_or_else(|| {
        EventRefused::Body(format!("eventTime {:?} is not RFC 3339", ev.event_time))
    })?;
    let tt = &ev.event.trouble_ticket;
    let now = desk.clock.now();
    let outcome = desk
        .store
        .apply_center_event(&ev.event_id, &tt.id, tt.status.as_str(), at, now)
        .await
        .map_err(|e| match e {
            hotline_store::StoreError::NotFound(what) => {
                EventRefused::Unknown(format!("no {what}"))
            }
            other => EventRefused::Store(other.to_string()),
        })?;
    tracing::info!(event_id = %ev.event_id, center = %tt.id, status = tt.status.as_str(), outcome = ?outcome, "112 centre event");
    if matches!(outcome, EventOutcome::Applied { .. })
        && matches!(
            tt.status,
            hotline_center112::wire::Status::Resolved | hotline_center112::wire::Status::Closed
        )
    {
        let _ = clear_resolved(desk).await;
    }
    Ok(outcome)
}
