//! `hotline.v1.TicketService`.

use super::{caller, positive_id, text};
use crate::auth::Auth;
use crate::convert;
use crate::desk::Desk;
use crate::error::CoreError;
use hotline_center112::Center112;
use hotline_domain::task::TaskKind;
use hotline_domain::ticket::NewTicket;
use hotline_domain::workflow::{Action, ManagerReason};
use hotline_domain::{Role, TicketId, ValidationError};
use hotline_proto::v1 as pb;
use hotline_proto::v1::ticket_service_server::TicketService;
use hotline_store::ListFilter;
use std::collections::HashSet;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct Tickets {
    pub desk: Desk,
    pub auth: Arc<Auth>,
    pub center: Option<Arc<dyn Center112>>,
}

/// Blanks the customer's contact number on tickets outside `visible` (row rule of the
/// permission matrix for surveyors).
pub fn redact_contact(t: &mut pb::Ticket, visible: Option<&HashSet<TicketId>>) {
    if let Some(ids) = visible
        && !ids.contains(&t.id)
    {
        t.contact_number.clear();
    }
}

type R<T> = Result<Response<T>, Status>;

/// How many tickets the system account's progress query returns at most.
pub const SYSTEM_LIST_LIMIT: u32 = 5;

impl Tickets {
    /// Takes the caller, builds the domain action from the request, applies it.
    async fn action<T>(
        &self,
        req: Request<T>,
        build: impl FnOnce(T) -> Result<(i64, Action), ValidationError>,
    ) -> R<pb::ActionResponse> {
        let who = caller(&req)?;
        let (id, action) = build(req.into_inner()).map_err(CoreError::from)?;
        let (view, order) = self.desk.act(&who, id, action).await?;
        let limit = self.desk.repair_limit_hours(&view.ticket);
        let order = order
            .and_then(|oid| view.orders.iter().find(|(o, _)| o.id == oid))
            .map(|(o, d)| convert::order(o, d));
        let mut ticket = convert::view(&view, limit);
        let visible = self.desk.contact_visible(&who).await?;
        redact_contact(&mut ticket, visible.as_ref());
        Ok(Response::new(pb::ActionResponse {
            ticket: Some(ticket),
            order,
        }))
    }
}

fn id_text(id: i64, field: &'static str, s: &str) -> Result<(i64, String), ValidationError> {
    Ok((positive_id("id", id)?, text(field, s)?))
}

#[tonic::async_trait]
impl TicketService for Tickets {
    async fn create_ticket(
        &self,
        req: Request<pb::CreateTicketRequest>,
    ) -> R<pb::CreateTicketResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let received_at = match &r.received_at {
            Some(t) => Some(convert::from_ts("received_at", t).map_err(CoreError::from)?),
            None => None,
        };
        if r.supplement_of < 0 {
            return Err(CoreError::from(ValidationError::new(
                "supplement_of",
                "must be a ticket id or 0",
            ))
            .into());
        }
        let new = NewTicket {
            faulty_number: r.faulty_number,
            contact_number: r.contact_number,
            customer_name: r.customer_name,
            customer_class: r.customer_class,
            branch: r.branch,
            fault_type: r.fault_type,
            description: r.description,
            channel: r.channel,
            received_at,
            urgent: r.urgent,
            supplement_of: (r.supplement_of > 0).then_some(r.supplement_of),
        };
        let created = self
            .desk
            .create_ticket_on_call(&who, new, &r.call_id)
            .await?;
        let limit = self.desk.repair_limit_hours(&created.ticket);
        let mut t = convert::ticket(&created.ticket, limit);
        t.deadlines = created
            .deadlines
            .iter()
            .map(|d| pb::Deadline {
                kind: d.kind.as_str().into(),
                kind_label: d.kind.label_zh().into(),
                due_at: Some(convert::ts(d.due_at)),
                warn_at: Some(convert::ts(d.warn_at)),
                met_at: convert::opt_ts(d.met_at),
                warned: false,
                breached: d.met_late(),
            })
            .collect();
        Ok(Response::new(pb::CreateTicketResponse {
            ticket: Some(t),
            repeat: Some(convert::repeat(created.repeat)),
        }))
    }

    async fn get_ticket(&self, req: Request<pb::GetTicketRequest>) -> R<pb::Ticket> {
        let who = caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let v = self.desk.get(id).await?;
        let mut t = convert::view(&v, self.desk.repair_limit_hours(&v.ticket));
        let visible = self.desk.contact_visible(&who).await?;
        redact_contact(&mut t, visible.as_ref());
        Ok(Response::new(t))
    }

    async fn list_tickets(
        &self,
        req: Request<pb::ListTicketsRequest>,
    ) -> R<pb::ListTicketsResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let f = (|| -> Result<ListFilter, CoreError> {
            // the IVR's progress query (JO9): by number, a few at a time, never a browse
            if who.role == Role::System && r.faulty_number.is_empty() {
                return Err(ValidationError::new(
                    "faulty_number",
                    "is required for the system account, which looks tickets up by number only",
                )
                .into());
            }
            if r.page_size < 0 || r.page_size > 1000 {
                return Err(ValidationError::new("page_size", "must be between 0 and 1000").into());
            }
            let before_id = if r.page_token.is_empty() {
                None
            } else {
                Some(
                    r.page_token
                        .parse::<i64>()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| {
                            ValidationError::new("page_token", "is not a token this service issued")
                        })?,
                )
            };
            if !r.channel.is_empty() && hotline_domain::Channel::parse(&r.channel).is_none() {
                return Err(ValidationError::new(
                    "channel",
                    format!("unknown channel {:?}", r.channel),
                )
                .into());
            }
            Ok(ListFilter {
                status: Desk::parse_status(&r.status)?,
                faulty_number: (!r.faulty_number.is_empty()).then(|| r.faulty_number.clone()),
                channel: (!r.channel.is_empty()).then(|| r.channel.clone()),
                urgent_only: r.urgent_only,
                before_id,
                limit: match (who.role, r.page_size) {
                    (Role::System, 0) => SYSTEM_LIST_LIMIT,
                    (Role::System, n) => (n as u32).min(SYSTEM_LIST_LIMIT),
                    (_, 0) => 50,
                    (_, n) => n as u32,
                },
            })
        })()?;
        let tickets = self.desk.list(&f).await?;
        let next = if tickets.len() as u32 == f.limit {
            tickets.last().map(|t| t.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let visible = self.desk.contact_visible(&who).await?;
        Ok(Response::new(pb::ListTicketsResponse {
            tickets: tickets
                .iter()
                .map(|t| {
                    let mut t = convert::ticket(t, self.desk.repair_limit_hours(t));
                    redact_contact(&mut t, visible.as_ref());
                    t
                })
                .collect(),
            next_page_token: next,
        }))
    }

    async fn get_ticket_history(
        &self,
        req: Request<pb::GetTicketHistoryRequest>,
    ) -> R<pb::GetTicketHistoryResponse> {
        caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let events = self.desk.history(id).await?;
        Ok(Response::new(pb::GetTicketHistoryResponse {
            events: events.iter().map(convert::audit).collect(),
        }))
    }

    async fn dispatch_ticket(
        &self,
        req: Request<pb::DispatchTicketRequest>,
    ) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "note", &r.note).map(|(id, note)| (id, Action::Dispatch { note }))
        })
        .await
    }

    async fn follow_up_ticket(
        &self,
        req: Request<pb::FollowUpTicketRequest>,
    ) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "note", &r.note).map(|(id, note)| (id, Action::FollowUp { note }))
        })
        .await
    }

    async fn cancel_ticket(&self, req: Request<pb::CancelTicketRequest>) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "reason", &r.reason).map(|(id, reason)| (id, Action::Cancel { reason }))
        })
        .await
    }

    async fn escalate_ticket(
        &self,
        req: Request<pb::EscalateTicketRequest>,
    ) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "reason", &r.reason).map(|(id, reason)| (id, Action::Escalate { reason }))
        })
        .await
    }

    async fn answer_ticket(&self, req: Request<pb::AnswerTicketRequest>) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "answer", &r.answer).map(|(id, answer)| (id, Action::Answer { answer }))
        })
        .await
    }

    async fn review_order(&self, req: Request<pb::ReviewOrderRequest>) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            let id = positive_id("ticket_id", r.ticket_id)?;
            let order_id = positive_id("order_id", r.order_id)?;
            Ok((
                id,
                Action::Review {
                    order_id,
                    approve: r.approve,
                    note: text("note", &r.note)?,
                },
            ))
        })
        .await
    }

    async fn mark_urgent(&self, req: Request<pb::MarkUrgentRequest>) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "reason", &r.reason)
                .map(|(id, reason)| (id, Action::MarkUrgent { reason }))
        })
        .await
    }

    async fn add_note(&self, req: Request<pb::AddNoteRequest>) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "text", &r.text).map(|(id, text)| (id, Action::AddNote { text }))
        })
        .await
    }

    async fn transfer_to_manager(
        &self,
        req: Request<pb::TransferToManagerRequest>,
    ) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            let (id, note) = id_text(r.id, "note", &r.note)?;
            let reason = ManagerReason::parse(&r.reason).ok_or_else(|| {
                ValidationError::new(
                    "reason",
                    format!(
                        "unknown reason {:?}; expected overdue_repeat or caller_refused_answer",
                        r.reason
                    ),
                )
            })?;
            Ok((id, Action::TransferToManager { reason, note }))
        })
        .await
    }

    async fn clear_ticket(&self, req: Request<pb::ClearTicketRequest>) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "note", &r.note).map(|(id, note)| (id, Action::Clear { note }))
        })
        .await
    }

    async fn close_ticket(&self, req: Request<pb::CloseTicketRequest>) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "note", &r.note).map(|(id, note)| (id, Action::Close { note }))
        })
        .await
    }

    async fn second_dispatch(
        &self,
        req: Request<pb::SecondDispatchRequest>,
    ) -> R<pb::ActionResponse> {
        self.action(req, |r| {
            id_text(r.id, "warning", &r.warning)
                .map(|(id, warning)| (id, Action::SecondDispatch { warning }))
        })
        .await
    }

    async fn list_tasks(&self, req: Request<pb::ListTasksRequest>) -> R<pb::ListTasksResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let kind = if r.kind.is_empty() {
            None
        } else {
            Some(TaskKind::parse(&r.kind).ok_or_else(|| {
                CoreError::from(ValidationError::new(
                    "kind",
                    format!(
                        "unknown task kind {:?}; expected callback, survey or file_original",
                        r.kind
                    ),
                ))
            })?)
        };
        let limit = if r.page_size <= 0 {
            100
        } else {
            r.page_size.min(1000) as u32
        };
        let tasks = self
            .desk
            .list_tasks(&who, kind, r.include_done, r.after_id, limit)
            .await?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks: tasks.iter().map(convert::task).collect(),
        }))
    }

    async fn complete_task(&self, req: Request<pb::CompleteTaskRequest>) -> R<pb::Task> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let note = text("note", &r.note).map_err(CoreError::from)?;
        let t = self.desk.complete_task(&who, id, note).await?;
        Ok(Response::new(convert::task(&t)))
    }

    async fn list_alerts(&self, req: Request<pb::ListAlertsRequest>) -> R<pb::ListAlertsResponse> {
        caller(&req)?;
        let r = req.into_inner();
        if r.ticket_id < 0 {
            return Err(CoreError::from(ValidationError::new(
                "ticket_id",
                "must be a ticket id or 0",
            ))
            .into());
        }
        let limit = if r.page_size <= 0 {
            100
        } else {
            r.page_size.min(1000) as u32
        };
        let alerts = self
            .desk
            .alerts((r.ticket_id > 0).then_some(r.ticket_id), limit)
            .await?;
        Ok(Response::new(pb::ListAlertsResponse {
            alerts: alerts.iter().map(convert::alert).collect(),
        }))
    }

    async fn get_time_rules(&self, req: Request<pb::GetTimeRulesRequest>) -> R<pb::TimeRules> {
        caller(&req)?;
        Ok(Response::new(convert::rules(&self.desk.rules)))
    }

    async fn run_line_test(&self, req: Request<pb::RunLineTestRequest>) -> R<pb::LineTestResult> {
        caller(&req)?;
        let number = hotline_domain::PhoneNumber::parse(&req.get_ref().faulty_number)
            .map_err(|e| CoreError::from(ValidationError::new("faulty_number", e.to_string())))?;
        let t = self.desk.line_test(self.center.as_deref(), &number).await?;
        Ok(Response::new(pb::LineTestResult {
            id: t.id,
            faulty_number: t.line_number,
            loop_resistance_ohm: t.loop_resistance_ohm,
            insulation_resistance_mohm: t.insulation_resistance_mohm,
            ac_voltage_v: t.ac_voltage_v,
            dc_voltage_v: t.dc_voltage_v,
            verdict: serde_json::to_value(t.verdict)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            verdict_label: t.verdict.label_zh().into(),
            tested_at: t.tested_at,
        }))
    }

    async fn get_center_progress(
        &self,
        req: Request<pb::GetCenterProgressRequest>,
    ) -> R<pb::CenterProgress> {
        caller(&req)?;
        let id = positive_id("ticket_id", req.get_ref().ticket_id).map_err(CoreError::from)?;
        let (order_id, tt) = self
            .desk
            .center_progress(self.center.as_deref(), id)
            .await?;
        Ok(Response::new(pb::CenterProgress {
            ticket_id: id,
            order_id,
            center_ticket_id: tt.id.clone(),
            status: tt.status.as_str().into(),
            status_label: tt.status.label_zh().into(),
            priority: tt.priority.clone(),
            history: tt
                .status_change_history
                .iter()
                .map(|h| pb::CenterStatusChange {
                    status: h.status.as_str().into(),
                    status_label: h.status.label_zh().into(),
                    change_date: h.change_date.clone(),
                    change_reason: h.change_reason.clone(),
                })
                .collect(),
            notes: tt.note.iter().map(|n| n.text.clone()).collect(),
        }))
    }
}
