//! The live event bus: alerts, review requests and ticket changes, fanned out to each agent's
//! stream filtered by role.

use crate::acd::CallInfo;
use hotline_domain::Role;
use hotline_domain::named::named_enum;
use hotline_domain::order::Order;
use hotline_store::{AlertRecord, TicketView, VoicemailRecord};
use std::sync::Arc;
use tokio::sync::broadcast;

named_enum!(
    /// What happened to a voicemail message (`VoicemailChanged.action` on the feed).
    VoicemailAction {
        /// The IVR registered it.
        Created = "created", "新留言";
        /// An extractor claimed it.
        Claimed = "claimed", "已认领";
        /// It became a ticket.
        Converted = "converted", "已转工单";
        /// It went to a senior.
        Escalated = "escalated", "已转高级话务员";
    }
);

named_enum!(
    /// Why a ring stopped without that agent getting the call (`CallOfferEnded.reason`).
    OfferEndReason {
        /// Not answered within the limit (JO2).
        NoAnswer = "no_answer", "未应答";
        /// The caller left while it rang.
        CallerHungUp = "caller_hung_up", "主叫挂机";
        /// Another agent's answer was reported first.
        AnsweredElsewhere = "answered_elsewhere", "已由他人接听";
    }
);

named_enum!(
    /// What an `AgentAlert` is about (JO2).
    AgentAlertKind {
        /// The agent did not answer an offered call in time.
        NoAnswer = "no_answer", "未应答";
        /// The queue set the agent not ready after missed calls.
        NotReady = "not_ready", "已置为未就绪";
    }
);

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
        action: VoicemailAction,
        actor: String,
    },
    /// Screen pop for the offered agent only.
    CallOffered {
        agent_id: String,
        info: Arc<CallInfo>,
        ring_timeout_ms: u32,
    },
    /// The agent's call is bridged; the draft ticket opens on that agent's desktop.
    CallConnected {
        agent_id: String,
        info: Arc<CallInfo>,
    },
    /// The ring stopped without that agent getting the call.
    CallOfferEnded {
        agent_id: String,
        call_id: String,
        reason: OfferEndReason,
    },
    /// JO2 no-answers and agents set not ready, for seniors and admins.
    AgentAlert {
        agent_id: String,
        kind: AgentAlertKind,
        call_id: String,
        message: String,
    },
}

impl DeskEvent {
    /// Who sees what: review requests go to seniors; alerts and changes to every desk role.
    pub fn visible_to(&self, role: Role) -> bool {
        match self {
            DeskEvent::ReviewRequested { .. } => role.is_senior(),
            DeskEvent::Voicemail { action, .. } => match action {
                VoicemailAction::Escalated => role.is_senior(),
                VoicemailAction::Created
                | VoicemailAction::Claimed
                | VoicemailAction::Converted => {
                    role.is_senior() || role == Role::RecordingExtractor
                }
            },
            DeskEvent::Alert(_) | DeskEvent::TicketChanged { .. } => role != Role::System,
            DeskEvent::AgentAlert { .. } => role.is_senior(),
            DeskEvent::CallOffered { .. }
            | DeskEvent::CallConnected { .. }
            | DeskEvent::CallOfferEnded { .. } => false,
        }
    }

    /// [`DeskEvent::visible_to`], plus the events addressed to one agent (its own calls).
    pub fn visible_to_agent(&self, agent_id: &str, role: Role) -> bool {
        match self {
            DeskEvent::CallOffered { agent_id: a, .. }
            | DeskEvent::CallConnected { agent_id: a, .. }
            | DeskEvent::CallOfferEnded { agent_id: a, .. } => a == agent_id,
            DeskEvent::AgentAlert { agent_id: a, .. } if a == agent_id => true,
            _ => self.visible_to(role),
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
