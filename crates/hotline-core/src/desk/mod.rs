//! The desk's operations, written against the domain and the store (no protobuf), one file per
//! concern. Each operation takes typed domain inputs and returns a domain result; the gRPC
//! handlers in `crate::grpc` only convert requests and results around them, and no handler
//! touches the store.
//!
//! - [`tickets`]: create a ticket, act on it (workflow), read, list, history, contact rules.
//! - [`tasks`]: list and complete follow-up tasks (SO4, SS2, TE3).
//! - [`voicemail`]: register, list, claim, replay, convert and escalate messages (RE1).
//! - [`intake`]: text intake: upload, e-mail import, inbox (TE1), enter, pass to a senior
//!   (TE4), walk-ins (TE2), the archive and its retention (TE3, DM5).
//! - [`agents`]: agents as stored, presence, log-out (with the queue).
//! - [`alerts`]: the alert list.
//! - [`center`]: line tests and dispatch progress asked of the 112 centre.
//! - [`kb`]: the knowledge base: articles, versions, the search index kept in step with
//!   the store, search and suggestions, classification tags (DM1-DM4, DM6, SO7).
//! - [`qa`]: quality inspection and assessments: draw, list, read and score samples, scores
//!   per agent, the per-person summary (SO1, SO4), call recordings checked as WAV (QA1, QA2).
//! - [`reports`]: reports and statistics per branch and period, the SO8 overview (issue 17).
//! - [`surveys`]: the satisfaction surveyor: worklists (SS1-SS4), callbacks with retries in
//!   calling hours and consent for customer information (SS2, SS6), investigations with a
//!   second dispatch (SS4, SO5), weekly statistics (SS5).
//! - [`customers`]: the customer directory (JO8): import a CSV/XLSX file, edits with audit
//!   rows, the lookup by number that gives calls and tickets their class.
//! - [`queue`]: the screen pop of a queued call and the queue metrics from the stored log.
//!
//! Every workflow action is decided by `hotline_domain::workflow::decide` on the ticket as read,
//! then committed with an optimistic version check; a concurrent change makes it re-read and
//! re-decide (a few times) rather than overwrite.

pub mod agents;
pub mod alerts;
pub mod analyses;
pub mod center;
pub mod customers;
pub mod intake;
pub mod kb;
pub mod outbound;
pub mod qa;
pub mod queue;
pub mod reports;
pub mod scheduled;
pub mod surveys;
pub mod tasks;
pub mod tickets;
pub mod voicemail;

use crate::clock::Clock;
use crate::events::EventBus;
use hotline_domain::rules::DeskRules;
use hotline_store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct Desk {
    pub store: Store,
    pub rules: Arc<DeskRules>,
    pub clock: Arc<dyn Clock>,
    pub events: EventBus,
    /// Woken when an order is queued for the 112 centre, so delivery starts at once.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// The branch map and report options (issue 17); empty by default.
    pub reporting: Arc<reports::Reporting>,
}

impl Desk {
    pub fn new(store: Store, rules: DeskRules, clock: Arc<dyn Clock>) -> Self {
        Desk {
            store,
            rules: Arc::new(rules),
            clock,
            events: EventBus::default(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            reporting: Arc::default(),
        }
    }
}
