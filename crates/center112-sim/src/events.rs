//! Event hub: subscriptions and the delivery of signed events to their callbacks.
//!
//! Every status change is emitted once: a `TroubleTicketResolvedEvent` when the ticket became
//! `resolved` (回单), a `TroubleTicketStatusChangeEvent` for any other status. A dispatcher task
//! applies the event faults (duplicate: each event queued twice; reorder: an event is held and
//! queued after the next one, or after `reorder_hold` if none comes) and fans events out to one
//! queue per subscriber. A worker per subscriber POSTs them in queue order, the body signed with
//! the shared secret in `X-Hotline-Signature`, retrying connection errors, 5xx, 408 and 429 with
//! doubling backoff; other 4xx answers are not retried.
//!
//! Events live in memory only: an event still queued when the simulator stops is lost (the
//! hotline also polls `GET /troubleTicket/{id}`). Subscriptions are stored and survive restarts.

use crate::config::SimConfig;
use crate::faults::FaultState;
use hotline_center112::signature;
use hotline_center112::wire::{
    Event, EventPayload, EventType, HubSubscription, SIGNATURE_HEADER, Status, TroubleTicket,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Most events queued for one subscriber; more are dropped (and counted).
const QUEUE: usize = 100_000;

#[derive(Default)]
pub struct EventCounters {
    pub emitted: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

/// One signed event, ready to POST.
struct Outgoing {
    event_id: String,
    event_type: EventType,
    body: Arc<Vec<u8>>,
    signature: Arc<str>,
}

struct Subscriber {
    callback: String,
    /// Event types wanted (`query` = `eventType=A,B`); empty for all.
    types: Vec<String>,
    tx: mpsc::Sender<Arc<Outgoing>>,
    cancel: CancellationToken,
}

#[derive(Clone, Debug)]
struct Delivery {
    attempts: u32,
    backoff: Duration,
}

pub struct Hub {
    emit_tx: mpsc::UnboundedSender<Event>,
    subs: Arc<Mutex<HashMap<String, Subscriber>>>,
    pub counters: Arc<EventCounters>,
    http: reqwest::Client,
    delivery: Delivery,
    cancel: CancellationToken,
    next_event: AtomicU64,
    run_id: u64,
}

impl Hub {
    /// Starts the dispatcher; returns the hub and the dispatcher's task.
    pub fn start(
        cfg: &SimConfig,
        faults: Arc<FaultState>,
        cancel: CancellationToken,
    ) -> Result<(Arc<Hub>, JoinHandle<()>), reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(cfg.event_timeout)
            .connect_timeout(cfg.event_timeout)
            .build()?;
        let (emit_tx, emit_rx) = mpsc::unbounded_channel();
        let subs: Arc<Mutex<HashMap<String, Subscriber>>> = Arc::default();
        let counters: Arc<EventCounters> = Arc::default();
        let hub = Arc::new(Hub {
            emit_tx,
            subs: subs.clone(),
            counters: counters.clone(),
            http,
            delivery: Delivery {
                attempts: cfg.event_attempts.max(1),
                backoff: cfg.event_backoff,
            },
            cancel: cancel.clone(),
            next_event: AtomicU64::new(1),
            run_id: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        });
        let secret: Arc<[u8]> = cfg.secret.as_bytes().into();
        let task = tokio::spawn(dispatch(
            emit_rx,
            subs,
            counters,
            faults,
            secret,
            cfg.reorder_hold,
            cancel,
        ));
        Ok((hub, task))
    }

    /// Queues the event of the ticket's current status for every subscriber.
    pub fn emit(&self, ticket: &TroubleTicket, now: String) {
        let n = self.next_event.fetch_add(1, Ordering::Relaxed);
        let event = Event {
            event_id: format!("EV-{}-{n}", self.run_id),
            event_time: now,
            event_type: if ticket.status == Status::Resolved {
                EventType::TroubleTicketResolvedEvent
            } else {
                EventType::TroubleTicketStatusChangeEvent
            },
            event: EventPayload {
                trouble_ticket: ticket.clone(),
            },
        };
        self.counters.emitted.fetch_add(1, Ordering::Relaxed);
        if self.emit_tx.send(event).is_err() {
            tracing::debug!("event hub stopped; event not sent");
        }
    }

    /// Starts delivering to a (stored) subscription.
    pub fn add(&self, sub: &HubSubscription) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let cancel = self.cancel.child_token();
        let types = sub
            .query
            .split('&')
            .filter_map(|kv| kv.trim().strip_prefix("eventType="))
            .flat_map(|v| v.split(',').map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect();
        tokio::spawn(deliver(
            sub.id.clone(),
            sub.callback.clone(),
            rx,
            self.http.clone(),
            self.delivery.clone(),
            self.counters.clone(),
            cancel.clone(),
        ));
        let old = self.subs.lock().unwrap_or_else(|e| e.into_inner()).insert(
            sub.id.clone(),
            Subscriber {
                callback: sub.callback.clone(),
                types,
                tx,
                cancel,
            },
        );
        if let Some(old) = old {
            old.cancel.cancel();
        }
        tracing::info!(id = %sub.id, callback = %sub.callback, "subscriber added");
    }

    /// Stops delivering to a subscription; `false` if there was none.
    pub fn remove(&self, id: &str) -> bool {
        match self
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
        {
            Some(s) => {
                s.cancel.cancel();
                tracing::info!(%id, callback = %s.callback, "subscriber removed");
                true
            }
            None => false,
        }
    }
}

fn type_name(t: EventType) -> &'static str {
    match t {
        EventType::TroubleTicketStatusChangeEvent => "TroubleTicketStatusChangeEvent",
        EventType::TroubleTicketResolvedEvent => "TroubleTicketResolvedEvent",
    }
}

async fn dispatch(
    mut rx: mpsc::UnboundedReceiver<Event>,
    subs: Arc<Mutex<HashMap<String, Subscriber>>>,
    counters: Arc<EventCounters>,
    faults: Arc<FaultState>,
    secret: Arc<[u8]>,
    hold: Duration,
    cancel: CancellationToken,
) {
    let fan_out = |ev: Event| {
        let body = match serde_json::to_vec(&ev) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an event");
                return;
            }
        };
        let out = Arc::new(Outgoing {
            signature: signature::sign(&secret, &body).into(),
            body: Arc::new(body),
            event_id: ev.event_id,
            event_type: ev.event_type,
        });
        let copies = if faults.get().duplicate_events { 2 } else { 1 };
        let subs = subs.lock().unwrap_or_else(|e| e.into_inner());
        for s in subs.values() {
            if !s.types.is_empty() && !s.types.iter().any(|t| t == type_name(out.event_type)) {
                continue;
            }
            for _ in 0..copies {
                if s.tx.try_send(out.clone()).is_err() {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(callback = %s.callback, event_id = %out.event_id, "subscriber queue full or closed; event dropped");
                }
            }
        }
    };
    let mut held: Option<Event> = None;
    loop {
        let next = if held.is_some() {
            tokio::select! {
                ev = rx.recv() => ev,
                _ = tokio::time::sleep(hold) => {
                    if let Some(h) = held.take() {
                        fan_out(h);
                    }
                    continue;
                }
                _ = cancel.cancelled() => return,
            }
        } else {
            tokio::select! {
                ev = rx.recv() => ev,
                _ = cancel.cancelled() => return,
            }
        };
        let Some(ev) = next else {
            if let Some(h) = held.take() {
                fan_out(h);
            }
            return;
        };
        if let Some(h) = held.take() {
            tracing::debug!(held = %h.event_id, after = %ev.event_id, "fault: events reordered");
            fan_out(ev);
            fan_out(h);
        } else if faults.get().reorder_events {
            held = Some(ev);
        } else {
            fan_out(ev);
        }
    }
}

async fn deliver(
    id: String,
    callback: String,
    mut rx: mpsc::Receiver<Arc<Outgoing>>,
    http: reqwest::Client,
    delivery: Delivery,
    counters: Arc<EventCounters>,
    cancel: CancellationToken,
) {
    loop {
        let out = tokio::select! {
            o = rx.recv() => match o { Some(o) => o, None => return },
            _ = cancel.cancelled() => return,
        };
        let mut backoff = delivery.backoff;
        let mut attempt = 1;
        loop {
            let req = http
                .post(&callback)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, &*out.signature)
                .body(out.body.as_ref().clone());
            let result = tokio::select! {
                r = req.send() => r,
                _ = cancel.cancelled() => return,
            };
            let retry = match result {
                Ok(resp) if resp.status().is_success() => {
                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(sub = %id, event_id = %out.event_id, "event delivered");
                    break;
                }
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    tracing::warn!(sub = %id, event_id = %out.event_id, status = s, attempt, "subscriber refused an event");
                    s >= 500 || s == 408 || s == 429
                }
                Err(e) => {
                    tracing::warn!(sub = %id, event_id = %out.event_id, error = %e, attempt, "event delivery failed");
                    true
                }
            };
            if !retry || attempt >= delivery.attempts {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(sub = %id, event_id = %out.event_id, attempt, "event given up");
                break;
            }
            attempt += 1;
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = cancel.cancelled() => return,
            }
            backoff = backoff.saturating_mul(2);
        }
    }
}
