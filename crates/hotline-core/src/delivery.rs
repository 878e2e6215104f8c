//! Delivery of the outbox to the 112 centre, and the centre's events back.
//!
//! The worker takes due outbox rows (at most one per ticket, so a ticket's orders arrive in
//! order), sends them concurrently across tickets, marks each delivered only after the centre's
//! 2xx, and on a retryable failure schedules the next attempt with exponential backoff and jitter.
//!
//! [`run`] is pipelined: a dispatcher keeps up to `concurrency` requests in flight and starts
//! the next row as soon as a slot frees (no pass waits for its slowest request); a look at the
//! outbox fetches up to `max_batch` due rows into a local queue (a backlog is fetched in big
//! bites, not one query per freed slot); a recorder group-commits the outcomes (one transaction
//! per `mark_interval`) and only then releases their tickets, so a ticket's next row is looked
//! for after its predecessor is marked — never two rows of one ticket in flight. The worker
//! reads and writes over connections of its own, and stuck alerts and 回单 clearing run in a
//! housekeeping task off the hot path. On shutdown nothing new starts, requests in flight get
//! `shutdown_grace` to finish and their outcomes are recorded before the worker stops.
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
use hotline_domain::TicketId;
use hotline_domain::order::OutboxKind;
use hotline_domain::workflow::Action;
use hotline_domain::{Role, Timestamp};
use hotline_store::outbox::Delivered;
use hotline_store::{EventOutcome, OutboxRow, Store};
use rand::Rng;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub concurrency: usize,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// An order undelivered this long raises an alert.
    pub stuck_after: Duration,
    /// Longest sleep between looks at the outbox (and between housekeeping rounds: stuck
    /// alerts, clearing resolved tickets).
    pub max_sleep: Duration,
    /// Most rows one look at the outbox fetches (the rest of a backlog is fetched when the
    /// local queue runs low), and most outcomes one group commit records.
    pub max_batch: u32,
    /// How long the recorder gathers outcomes after the first before committing them in one
    /// transaction (zero: commit what has arrived at once). Fewer, bigger commits take the
    /// SQLite write lock less often, at the price of this much later release of a ticket's
    /// next row; the approval→2xx latency does not include it.
    pub mark_interval: Duration,
    /// Shortest time between two looks at the outbox prompted by new orders or released
    /// tickets (so a busy desk costs one query per gap, not one per approval). 10 ms: at
    /// 1,000 approvals/s on SQLite, with approvals group-committed and writers queueing for
    /// the store's write turn, approval→2xx p99 was 34 ms at 10 ms, 64 ms at 20 ms, 76 ms at
    /// 50 ms and 185 ms at 5 ms (looks then compete with the approvals; BENCHMARKS.md). A lone
    /// approval is still looked for at once.
    pub look_gap: Duration,
    /// On shutdown, how long requests in flight may take to finish (their outcomes are then
    /// recorded); what is still in flight after it is abandoned and sent again after the
    /// restart (the centre deduplicates by the idempotency key).
    pub shutdown_grace: Duration,
    /// Where each delivery's latency (outbox row created → the centre's 2xx, retries
    /// included) is observed; the server sets its `/metrics` histogram here.
    pub latency_histogram: Option<prometheus_client::metrics::histogram::Histogram>,
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
            mark_interval: Duration::from_millis(5),
            look_gap: Duration::from_millis(10),
            shutdown_grace: Duration::from_secs(5),
            latency_histogram: None,
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
    if row.kind == OutboxKind::SecondDispatch {
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
        status: Option<hotline_domain::order::CenterStatus>,
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
    // The row's kind is the one the store wrote; the payload's copy is informational.
    let kind = row.kind;
    let note = |k: &str, text: String| Note {
        id: format!("outbox-{}", row.id),
        author: "hotline".into(),
        date: String::new(),
        text,
        kind: k.into(),
    };
    let res = match kind {
        OutboxKind::Dispatch | OutboxKind::SecondDispatch => center
            .dispatch(
                &create_body(row, &p),
                &format!("hotline-order-{}", row.order_id),
            )
            .await
            .map(|d| (Some(d.ticket.id), Some(d.ticket.status))),
        OutboxKind::FollowUp | OutboxKind::Cancellation | OutboxKind::Urge => {
            let Some(target) = row.dispatch_center_ref.clone() else {
                return Attempt::Waiting;
            };
            match kind {
                OutboxKind::FollowUp => {
                    center
                        .add_note(&target, note("followUp", format!("追单: {}", p.note)), None)
                        .await
                }
                OutboxKind::Urge => {
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
    };
    match res {
        Ok((center_ref, status)) => Attempt::Delivered { center_ref, status },
        Err(e) => Attempt::Failed(e),
    }
}

/// One attempt and when it ended.
struct Outcome {
    row: OutboxRow,
    attempt: Attempt,
    at: Timestamp,
}

async fn attempt_now(desk: &Desk, center: &dyn Center112, row: OutboxRow) -> Outcome {
    let span = tracing::info_span!(
        "deliver",
        ticket_id = row.ticket_id,
        order_id = row.order_id,
        kind = row.kind.as_str()
    );
    let outcome = attempt(center, &row).instrument(span).await;
    Outcome {
        row,
        attempt: outcome,
        at: desk.clock.now(),
    }
}

/// Records outcomes: parks refusals (one transaction each, with an alert), then the deliveries
/// and failed attempts in one transaction. When something was delivered, nothing failed and a
/// failure was seen before (`saw_failure`), the centre answers again: rows waiting out a
/// backoff are made due now. Returns how many were delivered.
async fn record_outcomes(
    desk: &Desk,
    store: &Store,
    cfg: &DeliveryConfig,
    outcomes: Vec<Outcome>,
    saw_failure: &mut bool,
) -> Result<usize, hotline_store::StoreError> {
    let mut delivered = Vec::new();
    let mut failed = Vec::new();
    let mut had_failures = false;
    for Outcome { row, attempt, at } in outcomes {
        match attempt {
            Attempt::Delivered { center_ref, status } => {
                tracing::info!(ticket_id = row.ticket_id, order_id = row.order_id, kind = row.kind.as_str(), center = ?center_ref, "delivered to the 112 centre");
                if let Some(h) = &cfg.latency_histogram {
                    h.observe((at.0 - row.created_at.0).max(0) as f64 / 1000.0);
                }
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
                let alert = store.park(&row, &e.to_string(), at).await?;
                desk.events.publish(DeskEvent::Alert(alert));
            }
        }
    }
    store.record_attempts(&delivered, &failed).await?;
    if had_failures {
        *saw_failure = true;
    } else if !delivered.is_empty() && *saw_failure {
        *saw_failure = false;
        // the centre answers again: whatever waits out a backoff from an outage goes now
        let pulled = store.retry_waiting_now(desk.clock.now()).await?;
        if pulled > 0 {
            tracing::info!(
                rows = pulled,
                "112 centre reachable again; retrying the backlog now"
            );
        }
    }
    Ok(delivered.len())
}

/// One pass over the due rows: send them (concurrently across tickets, in order within one),
/// wait for all, then record the outcomes. Returns how many were delivered. (Tests drive
/// delivery with it step by step; the server runs the pipelined [`run`].)
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
    let outcomes: Vec<Outcome> = futures::stream::iter(rows)
        .map(|row| attempt_now(desk, center.as_ref(), row))
        .buffer_unordered(cfg.concurrency.max(1))
        .collect()
        .await;
    let mut saw_failure = true;
    record_outcomes(desk, &desk.store, cfg, outcomes, &mut saw_failure).await
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

/// Stuck alerts and clearing resolved tickets, every `max_sleep`, off the delivery path.
async fn housekeeping(desk: Desk, cfg: DeliveryConfig, stop: CancellationToken) {
    loop {
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
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(cfg.max_sleep.max(Duration::from_millis(10))) => {}
        }
    }
}

/// The recorder: gathers outcomes for `mark_interval` after the first, records them in one
/// transaction, then releases their tickets to the dispatcher. Ends when every sender is gone
/// (after recording what they sent).
async fn recorder(
    desk: Desk,
    store: Store,
    cfg: DeliveryConfig,
    mut outcomes: mpsc::UnboundedReceiver<Outcome>,
    release: mpsc::UnboundedSender<Vec<TicketId>>,
) {
    let max = cfg.max_batch.max(1) as usize;
    let mut saw_failure = true; // rows may wait out a backoff from before a restart
    while let Some(first) = outcomes.recv().await {
        let mut batch = vec![first];
        if !cfg.mark_interval.is_zero() {
            let until = Instant::now() + cfg.mark_interval;
            while batch.len() < max {
                tokio::select! {
                    o = outcomes.recv() => match o {
                        Some(o) => batch.push(o),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(until) => break,
                }
            }
        }
        while batch.len() < max {
            match outcomes.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        let tickets: Vec<TicketId> = batch.iter().map(|o| o.row.ticket_id).collect();
        if let Err(e) = record_outcomes(&desk, &store, &cfg, batch, &mut saw_failure).await {
            // not marked: the rows are sent again (the centre deduplicates by the key)
            tracing::error!(error = %e, rows = tickets.len(), "recording delivery outcomes failed");
            tokio::time::sleep(cfg.look_gap.max(Duration::from_millis(50))).await;
        }
        let _ = release.send(tickets);
    }
}

/// Runs the delivery worker until `shutdown` resolves (see the module documentation).
pub async fn run(
    desk: Desk,
    center: Arc<dyn Center112>,
    cfg: DeliveryConfig,
    wake: Arc<Notify>,
    shutdown: impl Future<Output = ()>,
) {
    // one connection for the dispatcher's looks, one for the recorder's commits
    let (store, dedicated) = match desk.store.dedicated(2).await {
        Ok(s) => (s, true),
        Err(e) => {
            tracing::warn!(error = %e, "no dedicated connections for the outbox worker; sharing the pool");
            (desk.store.clone(), false)
        }
    };
    let concurrency = cfg.concurrency.max(1);
    let max_batch = cfg.max_batch.max(1) as usize;
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Outcome>();
    let (rel_tx, mut rel_rx) = mpsc::unbounded_channel::<Vec<TicketId>>();
    let recorder = tokio::spawn(recorder(
        desk.clone(),
        store.clone(),
        cfg.clone(),
        out_rx,
        rel_tx,
    ));
    let stop = CancellationToken::new();
    let housekeeping = tokio::spawn(housekeeping(desk.clone(), cfg.clone(), stop.clone()));

    // tickets with a row queued here, in flight, or waiting to be recorded
    let mut busy: HashSet<TicketId> = HashSet::new();
    let mut queue: VecDeque<OutboxRow> = VecDeque::new();
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut dirty = true; // something may be due that we have not fetched
    let mut next_due: Option<Instant> = None;
    let mut last_look: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        while in_flight.len() < concurrency {
            let Some(row) = queue.pop_front() else { break };
            let (desk, center, out) = (desk.clone(), center.clone(), out_tx.clone());
            in_flight.spawn(async move {
                let _ = out.send(attempt_now(&desk, center.as_ref(), row).await);
            });
        }
        let now = Instant::now();
        // look when a slot is free and the local queue runs low (a backlog is fetched in
        // bites of max_batch, not a query per freed slot)
        let can_look = in_flight.len() < concurrency && queue.len() < concurrency;
        if can_look && next_due.is_some_and(|t| t <= now) {
            dirty = true;
        }
        let look_at = last_look.map_or(now, |t| t + cfg.look_gap);
        if can_look && dirty && look_at <= now {
            last_look = Some(now);
            let at = desk.clock.now();
            let limit = max_batch + busy.len();
            match store
                .due_outbox_and_next(at, u32::try_from(limit).unwrap_or(u32::MAX))
                .await
            {
                Ok((rows, next)) => {
                    dirty = rows.len() >= limit;
                    for row in rows {
                        // a busy ticket's row is ours already (or just recorded: its
                        // release, sent after the commit, has not been read yet)
                        if busy.insert(row.ticket_id) {
                            queue.push_back(row);
                        }
                    }
                    next_due = next.map(|t| now + Duration::from_millis(t.since(at).max(0) as u64));
                }
                Err(e) => {
                    tracing::error!(error = %e, "looking at the outbox failed");
                    dirty = false;
                    next_due = Some(now + cfg.max_sleep);
                }
            }
            continue;
        }
        let timer = match (can_look, dirty) {
            (true, true) => look_at,
            (true, false) => {
                let idle = last_look.unwrap_or(now) + cfg.max_sleep;
                next_due.map_or(idle, |t| t.min(idle))
            }
            (false, _) => now + cfg.max_sleep,
        };
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            Some(tickets) = rel_rx.recv() => {
                for t in tickets {
                    busy.remove(&t);
                }
                dirty = true; // a released ticket's next row may be due
            }
            _ = wake.notified() => dirty = true,
            _ = tokio::time::sleep_until(timer) => {
                if can_look {
                    dirty = true;
                }
            }
        }
    }

    // shutdown: start nothing new; let what is in flight finish and be recorded
    queue.clear();
    stop.cancel();
    if !in_flight.is_empty() {
        tracing::info!(
            in_flight = in_flight.len(),
            grace = ?cfg.shutdown_grace,
            "outbox delivery stopping; waiting for requests in flight"
        );
        let grace = tokio::time::sleep(cfg.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                r = in_flight.join_next() => {
                    if r.is_none() {
                        break;
                    }
                }
                _ = &mut grace => {
                    tracing::warn!(
                        abandoned = in_flight.len(),
                        "requests still in flight after the grace period; they are sent again after the restart"
                    );
                    in_flight.abort_all();
                    while in_flight.join_next().await.is_some() {}
                    break;
                }
            }
        }
    }
    drop(out_tx);
    let _ = recorder.await;
    let _ = housekeeping.await;
    if dedicated {
        store.close_dedicated().await;
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
        .apply_center_event(&ev.event_id, &tt.id, tt.status, at, now)
        .await
        .map_err(|e| match e {
            hotline_store::StoreError::NotFound(what) => {
                EventRefused::Unknown(format!("no {what}"))
            }
            other => EventRefused::Store(other.to_string()),
        })?;
    tracing::info!(event_id = %ev.event_id, center = %tt.id, status = tt.status.as_str(), outcome = ?outcome, "112 centre event");
    if matches!(outcome, EventOutcome::Applied { .. }) && tt.status.is_cleared() {
        let _ = clear_resolved(desk).await;
    }
    Ok(outcome)
}
