//! The live event bus: alerts, review requests and ticket changes, fanned out to each agent's
//! stream filtered by role.

use hotline_domain::Role;
use hotline_domain::order::Order;
use hotline_store::{AlertRecord, TicketView, VoicemailRecord};
use tokio::sync::broadcast;

#[derive(Clone, Debug)]
pub enum DeskEvent {
    Alert(AlertRecord),
    ReviewRequested {
        view: Box<TicketView>,
        order: Box<Order>,
    },
    TicketChanged {
        view: Box<TicketView>,
        action: String,
        actor: String,
    },
    Voicemail {
        record: Box<VoicemailRecord>,
        action: String,
        actor: String,
    },
}

impl DeskEvent {
    /// Who sees what: review requests go to seniors; alerts and changes to every desk role.
    pub fn visible_to(&self, role: Role) -> bool {
        match self {
            DeskEvent::ReviewRequested { .. } => role.is_senior(),
            DeskEvent::Voicemail { action, .. } => match action.as_str() {
                "escalated" => role.is_senior(),
                _ => role.is_senior() || role == Role::RecordingExtractor,
            },
            DeskEvent::Alert(_) | DeskEvent::TicketChanged { .. } => role != Role::System,
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<DeskEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(4096);
        EventBus { tx }
    }
}

impl EventBus {
    pub fn publish(&self, e: DeskEvent) {
        // no subscribers is fine
        let _ = self.tx.send(e);
    }
    pub fn subscribe(&self) -> broadcast::Receiver<DeskEvent> {
        self.tx.subscribe()
    }
}
