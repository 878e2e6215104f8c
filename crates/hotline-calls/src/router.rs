//! Per-call routing of SIP events: one table from call handle to the owning task's sender.
//! The server's event loop inserts incoming calls; [`Router::invite`] inserts an outgoing
//! call while holding the table, so none of its events can be routed before it is there.

use std::collections::HashMap;
use std::sync::Arc;

use hotline_sip::driver::{DriverError, SipHandle};
use hotline_sip::endpoint::{CallId, Event, OutgoingCall};
use tokio::sync::{Mutex, mpsc};

/// The routing table (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Router {
    table: Arc<Mutex<HashMap<CallId, mpsc::UnboundedSender<Event>>>>,
}

/// The call an event belongs to (`None` for registrations).
pub fn event_call(ev: &Event) -> Option<&CallId> {
    match ev {
        Event::IncomingCall { call, .. }
        | Event::CallAcked { call, .. }
        | Event::CallEnded { call, .. }
        | Event::Dtmf { call, .. }
        | Event::ReInvite { call, .. }
        | Event::Ringing { call, .. }
        | Event::Answered { call, .. }
        | Event::Failed { call, .. }
        | Event::Cancelled { call }
        | Event::TimedOut { call } => Some(call),
        Event::Registration { .. } => None,
    }
}

/// Events after which the application hears nothing more of a call.
fn is_final(ev: &Event) -> bool {
    matches!(
        ev,
        Event::CallEnded { .. }
            | Event::Failed { .. }
            | Event::Cancelled { .. }
            | Event::TimedOut { .. }
    )
}

impl Router {
    /// Registers a call; returns the receiver of its events.
    pub async fn insert(&self, call: CallId) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.table.lock().await.insert(call, tx);
        rx
    }

    /// Forgets a call (its task ended).
    pub async fn remove(&self, call: &CallId) {
        self.table.lock().await.remove(call);
    }

    /// Live calls in the table.
    pub async fn len(&self) -> usize {
        self.table.lock().await.len()
    }

    /// Whether no call is in the table.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// Delivers `ev` to its call's task; returns false when no task owns the call.
    pub async fn route(&self, ev: Event) -> bool {
        let Some(call) = event_call(&ev).cloned() else {
            return false;
        };
        let mut table = self.table.lock().await;
        let fin = is_final(&ev);
        let delivered = match table.get(&call) {
            Some(tx) => tx.send(ev).is_ok(),
            None => false,
        };
        if fin || !delivered {
            table.remove(&call);
        }
        delivered
    }

    /// Places an outgoing call and registers it before its first event can be routed.
    pub async fn invite(
        &self,
        sip: &SipHandle,
        out: OutgoingCall,
    ) -> Result<(CallId, mpsc::UnboundedReceiver<Event>), DriverError> {
        let mut table = self.table.lock().await;
        let call = sip.invite(out).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        table.insert(call.clone(), tx);
        Ok((call, rx))
    }
}
