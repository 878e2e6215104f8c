//! Follow-up tasks (`hotline_domain::task`): callbacks after a rejected dispatch (SO4),
//! surveys after a clearance (SS2), originals to file (TE3). Each role sees the kinds it works
//! on; a conditional update completes a task once, audited on its ticket.

use super::Desk;
use crate::auth::Principal;
use crate::error::CoreError;
use hotline_domain::task::TaskKind;
use hotline_domain::{TicketId, ValidationError};
use hotline_store::{CompleteOutcome, Task};
use std::collections::HashSet;

impl Desk {
    /// Tasks of `kind` (`None`: every kind `who` works on), open ones only unless
    /// `include_done`, oldest first, with an id above `after_id` (0: from the start).
    pub async fn list_tasks(
        &self,
        who: &Principal,
        kind: Option<TaskKind>,
        include_done: bool,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<Task>, CoreError> {
        let kinds = match kind {
            None => TaskKind::for_role(who.role),
            Some(k) if k.worked_by(who.role) => vec![k],
            Some(_) => {
                return Err(CoreError::Forbidden {
                    role: who.role.as_str(),
                    what: "see this kind of task",
                });
            }
        };
        if after_id < 0 {
            return Err(ValidationError::new("after_id", "must be a task id or 0").into());
        }
        Ok(self
            .store
            .list_tasks(&kinds, include_done, after_id, limit)
            .await?)
    }

    /// Completes a task of a kind `who` works on, once; returns it done.
    pub async fn complete_task(
        &self,
        who: &Principal,
        id: i64,
        note: String,
    ) -> Result<Task, CoreError> {
        let task = self.store.get_task(id).await?;
        if !task.kind.worked_by(who.role) {
            return Err(CoreError::Forbidden {
                role: who.role.as_str(),
                what: "complete this kind of task",
            });
        }
        let now = self.clock.now();
        match self
            .store
            .complete_task(id, &who.agent_id, who.role, now, &note)
            .await?
        {
            CompleteOutcome::Done(mut t) => {
                tracing::info!(task_id = id, ticket_id = t.ticket_id, kind = t.kind.as_str(), agent = %who.agent_id, "task done");
                t.done_at = Some(now);
                t.note = note;
                Ok(t)
            }
            CompleteOutcome::AlreadyDone(_) => {
                Err(CoreError::NotReady(format!("task {id} is already done")))
            }
        }
    }

    /// The tickets with an open survey task: a surveyor's worklist (SS2). At most 20 pages of
    /// 1000 are read; past that, tickets are left out (callers fail closed).
    pub async fn survey_worklist(&self) -> Result<HashSet<TicketId>, CoreError> {
        let mut ids = HashSet::new();
        let mut after = 0;
        for _ in 0..20 {
            let page = self
                .store
                .list_tasks(&[TaskKind::Survey], false, after, 1000)
                .await?;
            ids.extend(page.iter().map(|t| t.ticket_id));
            match page.last() {
                Some(t) if page.len() == 1000 => after = t.id,
                _ => break,
            }
        }
        Ok(ids)
    }
}
