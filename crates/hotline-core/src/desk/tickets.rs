//! Tickets: create (JO3, TE1, TE2, RE1, SF4), act on (the workflow table, with re-decide on a
//! version conflict), read, list, history.

use super::Desk;
use crate::auth::Principal;
use crate::error::CoreError;
use crate::events::DeskEvent;
use hotline_domain::order::{OrderId, ReviewState};
use hotline_domain::rules::DeadlineKind;
use hotline_domain::ticket::NewTicket;
use hotline_domain::workflow::{Action, Context, decide};
use hotline_domain::{TicketId, TicketStatus};
use hotline_store::tickets::{CommitRequest, CreateRequest};
use hotline_store::{AuditRecord, Created, ListFilter, StoreError, TicketView};
use tracing::Instrument;

const MAX_ATTEMPTS: usize = 4;

impl Desk {
    /// Registers a report (JO3, TE1, TE2, RE1, SF4). Durable before it returns. Who may is
    /// the permission matrix's (`CreateTicket`, `ConvertVoicemail`), checked before the call.
    pub async fn create_ticket(&self, who: &Principal, t: NewTicket) -> Result<Created, CoreError> {
        self.create_ticket_on_call(who, t, "").await
    }

    /// [`Desk::create_ticket`] for a report taken on the call with SIP Call-ID `call_id`
    /// (`""`: none), stored on the ticket so the call's recording finds it (QA1).
    pub async fn create_ticket_on_call(
        &self,
        who: &Principal,
        t: NewTicket,
        call_id: &str,
    ) -> Result<Created, CoreError> {
        let call_id = crate::desk::qa::call_id("call_id", call_id)?;
        let now = self.clock.now();
        let unknown_customer =
            t.customer_name.is_empty() && t.customer_class.is_empty() && t.branch.is_empty();
        let mut valid = t.validate(now)?;
        if let Some(dir) = self
            .directory_customer(valid.faulty_number.as_str())
            .await?
        {
            // JO8, issue 19: a listed number's class is the directory's, whatever was typed;
            // a big customer's report is 加急 from the start. A typed name or branch stays.
            let c = &dir.customer;
            tracing::info!(customer = %c.code, class = c.class.as_str(), "number is in the customer directory");
            valid.customer.class = c.class;
            if valid.customer.name.is_empty() {
                valid.customer.name = c.name.clone();
            }
            if valid.customer.branch.is_empty() {
                valid.customer.branch = c.branch.clone();
            }
            valid.urgent |= c.class.marks_urgent();
        } else if unknown_customer {
            // The IVR cannot ask who the customer is: the number's latest ticket knows (class
            // decides JO8 escalation and the repair time limit).
            if let Some(prev) = self
                .store
                .list_tickets(&ListFilter {
                    faulty_number: Some(valid.faulty_number.to_string()),
                    limit: 1,
                    ..Default::default()
                })
                .await?
                .into_iter()
                .next()
            {
                valid.customer = prev.customer;
            }
        }
        let report_branch = self.branch_of(valid.faulty_number.as_str());
        let created = self
            .store
            .create_ticket(CreateRequest {
                valid,
                actor: who.agent_id.clone(),
                role: who.role,
                now,
                rules: self.rules.clone(),
                report_branch,
                call_id,
            })
            .await?;
        let id = created.ticket.id;
        tracing::info!(ticket_id = id, status = created.ticket.status.as_str(), repeat_of = ?created.ticket.repeat_of, "ticket created");
        if let Some(alert_id) = created.late_entry_alert
            && let Ok(alerts) = self.store.list_alerts(Some(id), 5).await
            && let Some(a) = alerts.into_iter().find(|a| a.id == alert_id)
        {
            self.events.publish(DeskEvent::Alert(a));
        }
        let view = TicketView {
            ticket: created.ticket.clone(),
            orders: Vec::new(),
            deadlines: created
                .deadlines
                .iter()
                .map(|d| hotline_store::rows::DeadlineState {
                    deadline: *d,
                    warned: false,
                    breached: d.met_late(),
                })
                .collect(),
        };
        self.events.publish(DeskEvent::TicketChanged {
            view: Box::new(view),
            action: "create".into(),
            actor: who.agent_id.clone(),
        });
        Ok(created)
    }

    pub async fn get(&self, id: TicketId) -> Result<TicketView, CoreError> {
        Ok(self.store.get_ticket(id).await?)
    }

    pub async fn list(&self, f: &ListFilter) -> Result<Vec<hotline_domain::Ticket>, CoreError> {
        Ok(self.store.list_tickets(f).await?)
    }

    pub async fn history(&self, id: TicketId) -> Result<Vec<AuditRecord>, CoreError> {
        self.store.get_ticket(id).await?;
        Ok(self.store.history(id).await?)
    }

    /// Whether the ticket is a repeat whose original is open and past its repair limit (JO5).
    async fn context(&self, view: &TicketView) -> Result<Context, CoreError> {
        let Some(orig) = view.ticket.repeat_of else {
            return Ok(Context::default());
        };
        let now = self.clock.now();
        let original = match self.store.get_ticket(orig).await {
            Ok(v) => v,
            Err(StoreError::NotFound(_)) => return Ok(Context::default()),
            Err(e) => return Err(e.into()),
        };
        let overdue = original.ticket.status.is_open()
            && original
                .deadline(DeadlineKind::Repair)
                .is_some_and(|d| d.deadline.due_at < now);
        Ok(Context {
            repeat_overdue: overdue,
        })
    }

    /// Applies a workflow action; returns the ticket after it and the order created or reviewed.
    pub async fn act(
        &self,
        who: &Principal,
        id: TicketId,
        action: Action,
    ) -> Result<(TicketView, Option<OrderId>), CoreError> {
        let span = tracing::info_span!("act", ticket_id = id, action = action.kind().as_str(), agent = %who.agent_id);
        async move {
            for attempt in 1..=MAX_ATTEMPTS {
                let view = self.store.get_ticket(id).await?;
                let ctx = self.context(&view).await?;
                let tr = decide(&view.ticket, &view.plain_orders(), &who.agent_id, who.role, &action, ctx)?;
                let res = self
                    .store
                    .commit(CommitRequest {
                        ticket: &view.ticket,
                        transition: &tr,
                        actor: &who.agent_id,
                        role: who.role,
                        now: self.clock.now(),
                        rules: &self.rules,
                        text: action.text(),
                    })
                    .await;
                match res {
                    Ok(out) => {
                        if out.queued_order.is_some() {
                            self.outbox_wake.notify_one();
                        }
                        let after = self.store.get_ticket(id).await?;
                        tracing::info!(from = tr.from.as_str(), to = tr.to.as_str(), order = ?out.order_id, queued = ?out.queued_order, "ticket changed");
                        self.publish_change(&after, &action, who, out.order_id);
                        return Ok((after, out.order_id));
                    }
                    Err(StoreError::Conflict) => {
                        tracing::debug!(attempt, "concurrent change; re-deciding");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(CoreError::Contended)
        }
        .instrument(span)
        .await
    }

    fn publish_change(
        &self,
        after: &TicketView,
        action: &Action,
        who: &Principal,
        order: Option<OrderId>,
    ) {
        if let Some(oid) = order
            && let Some((o, _)) = after.orders.iter().find(|(o, _)| o.id == oid)
            && o.review == ReviewState::Pending
        {
            self.events.publish(DeskEvent::ReviewRequested {
                view: Box::new(after.clone()),
                order: Box::new(o.clone()),
            });
        }
        self.events.publish(DeskEvent::TicketChanged {
            view: Box::new(after.clone()),
            action: action.kind().as_str().to_string(),
            actor: who.agent_id.clone(),
        });
    }

    /// Repair limit in hours for a ticket (JO1).
    pub fn repair_limit_hours(&self, t: &hotline_domain::Ticket) -> u32 {
        self.rules
            .time_limits
            .hours_for(t.fault_type, t.customer.class)
    }

    /// Status filter parsing for list calls.
    pub fn parse_status(s: &str) -> Result<Option<TicketStatus>, CoreError> {
        if s.is_empty() {
            return Ok(None);
        }
        TicketStatus::parse(s).map(Some).ok_or_else(|| {
            hotline_domain::ValidationError::new("status", format!("unknown status {s:?}")).into()
        })
    }
}

impl Desk {
    /// The tickets whose customer contact `who` may see, or `None` for every ticket. A
    /// surveyor sees it only on tickets with an open survey task: its worklist (SS2); the
    /// system account (the IVR's progress query, the call server's screen pop) on none.
    pub async fn contact_visible(
        &self,
        who: &Principal,
    ) -> Result<Option<std::collections::HashSet<TicketId>>, CoreError> {
        match who.role {
            hotline_domain::Role::System => Ok(Some(Default::default())),
            hotline_domain::Role::Surveyor => Ok(Some(self.survey_worklist().await?)),
            _ => Ok(None),
        }
    }
}
