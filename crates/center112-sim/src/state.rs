//! What the HTTP handlers and the background tasks share ([`Shared`]), and the [`Stats`] view
//! of it. A leaf below `api` and `sim`, so neither has to import the other for it.

use crate::events::Hub;
use crate::faults::FaultState;
use crate::lifecycle::Plan;
use crate::store::{self, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// Counts for `GET /sim/stats` and [`RunningSim::stats`]. Ticket and note counts come from the
/// store (they survive restarts); event and fault counts are since this start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub tickets: u64,
    /// Dispatches answered with an existing ticket (same externalIdentifier).
    pub duplicate_dispatches: u64,
    /// Notes added by the hotline (follow-ups, urges, warnings, dispatch notes).
    pub notes: u64,
    /// Notes not added again because the ticket already had their id.
    pub duplicate_notes: u64,
    pub by_status: BTreeMap<String, u64>,
    pub line_tests: u64,
    pub subscriptions: u64,
    pub events_emitted: u64,
    pub events_delivered: u64,
    /// Deliveries given up after the last attempt.
    pub events_failed: u64,
    /// Events not queued because a subscriber's queue was full.
    pub events_dropped: u64,
    pub faults_down_refused: u64,
    pub faults_errors_injected: u64,
    pub faults_replies_dropped: u64,
}

/// State shared by the handlers and tasks.
pub(crate) struct Shared {
    pub store: Store,
    pub hub: Arc<Hub>,
    pub faults: Arc<FaultState>,
    pub plan: Plan,
    pub wake: Arc<Notify>,
    pub line_tests: AtomicU64,
    pub run_id: u64,
}

impl Shared {
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let c = self.store.counts().await?;
        let counter = |n: &str| c.counters.get(n).copied().unwrap_or(0);
        let ev = &self.hub.counters;
        Ok(Stats {
            tickets: c.tickets,
            duplicate_dispatches: counter(store::DUPLICATE_DISPATCHES),
            notes: c.notes,
            duplicate_notes: counter(store::DUPLICATE_NOTES),
            by_status: c.by_status,
            line_tests: counter(store::LINE_TESTS),
            subscriptions: c.subscriptions,
            events_emitted: ev.emitted.load(Ordering::Relaxed),
            events_delivered: ev.delivered.load(Ordering::Relaxed),
            events_failed: ev.failed.load(Ordering::Relaxed),
            events_dropped: ev.dropped.load(Ordering::Relaxed),
            faults_down_refused: self.faults.refused_down.load(Ordering::Relaxed),
            faults_errors_injected: self.faults.injected_errors.load(Ordering::Relaxed),
            faults_replies_dropped: self.faults.dropped_replies.load(Ordering::Relaxed),
        })
    }
}
