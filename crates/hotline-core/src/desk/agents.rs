//! Agents as the desk sees them: the stored record, presence (the queue's for agents who take
//! calls, JO2), and leaving the queue on log-out.

use super::Desk;
use crate::acd::AcdHandle;
use crate::auth::{Auth, Principal};
use crate::error::CoreError;
use hotline_domain::ValidationError;
use hotline_domain::role::Presence;
use hotline_store::AgentRecord;

impl Desk {
    pub async fn agent(&self, agent_id: &str) -> Result<AgentRecord, CoreError> {
        Ok(self.store.get_agent(agent_id).await?)
    }

    pub async fn agents(&self) -> Result<Vec<AgentRecord>, CoreError> {
        Ok(self.store.list_agents().await?)
    }

    /// Takes `who` out of the queue as it logs out. An agent with a call ringing or connected
    /// stays in the queue until the call ends (and its stored presence stays as it is).
    pub async fn leave_queue(&self, acd: &AcdHandle, who: &Principal) {
        if acd
            .set_presence(&who.agent_id, "", who.role, Presence::LoggedOut)
            .is_ok()
        {
            let _ = self
                .store
                .set_presence(&who.agent_id, Presence::LoggedOut)
                .await;
        }
    }

    /// Sets `who`'s presence: in the queue first (which may refuse it), then as stored.
    pub async fn set_presence(
        &self,
        acd: &AcdHandle,
        auth: &Auth,
        who: &Principal,
        presence: Presence,
    ) -> Result<AgentRecord, CoreError> {
        let me = self.store.get_agent(&who.agent_id).await?;
        acd.set_presence(&who.agent_id, &me.name, who.role, presence)?;
        auth.set_presence(who, presence).await
    }
}

/// The presence a request names (the API's spelling), or INVALID_ARGUMENT naming `presence`.
pub fn parse_presence(s: &str) -> Result<Presence, CoreError> {
    Presence::parse(s).ok_or_else(|| {
        let names: Vec<_> = Presence::ALL.iter().map(|p| p.as_str()).collect();
        ValidationError::new(
            "presence",
            format!(
                "unknown presence {s:?}; expected one of {}",
                names.join(", ")
            ),
        )
        .into()
    })
}
