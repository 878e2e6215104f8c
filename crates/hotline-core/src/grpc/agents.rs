//! `hotline.v1.AgentService`: log-in, presence, administration and the event feed.

use super::{bearer, caller};
use crate::auth::Auth;
use crate::convert;
use crate::desk::Desk;
use crate::error::CoreError;
use crate::events::DeskEvent;
use hotline_domain::ValidationError;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_server::AgentService;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub struct Agents {
    pub desk: Desk,
    pub auth: Arc<Auth>,
    /// Presence of agents who take calls is the queue's (JO2).
    pub acd: crate::acd::AcdHandle,
    /// Ends open event streams on shutdown, so graceful shutdown does not wait on them.
    pub shutdown: CancellationToken,
}

type R<T> = Result<Response<T>, Status>;

fn event(desk: &Desk, e: &DeskEvent) -> pb::Event {
    use pb::event::Kind;
    let kind = match e {
        DeskEvent::Alert(a) => Kind::Alert(convert::alert(a)),
        DeskEvent::ReviewRequested { view, order } => Kind::ReviewRequested(pb::ReviewRequested {
            ticket: Some(convert::view(view, desk.repair_limit_hours(&view.ticket))),
            order: Some(convert::order(
                order,
                &hotline_store::rows::OrderDelivery {
                    state: hotline_store::rows::DeliveryState::NotSendable,
                    center_ref: None,
                    center_status: None,
                },
            )),
        }),
        DeskEvent::Voicemail {
            record,
            action,
            actor,
        } => Kind::VoicemailChanged(pb::VoicemailChanged {
            voicemail: Some(super::voicemail::to_pb(record)),
            action: action.as_str().into(),
            actor: actor.clone(),
        }),
        DeskEvent::TicketChanged {
            view,
            action,
            actor,
        } => Kind::TicketChanged(pb::TicketChanged {
            ticket: Some(convert::view(view, desk.repair_limit_hours(&view.ticket))),
            action: action.clone(),
            actor: actor.clone(),
        }),
        DeskEvent::CallOffered {
            info,
            ring_timeout_ms,
            ..
        } => Kind::CallOffered(pb::CallOffered {
            call_id: info.call_id.clone(),
            caller_number: info.caller_number.clone(),
            faulty_number: info.faulty_number.clone(),
            customer: info.customer.as_ref().map(convert::customer),
            recent_tickets: info
                .recent
                .iter()
                .map(|t| convert::ticket(t, desk.repair_limit_hours(t)))
                .collect(),
            repeat: info.repeat,
            senior: info.senior,
            reason: info.reason.clone(),
            ring_timeout_ms: *ring_timeout_ms,
        }),
        DeskEvent::CallConnected { info, .. } => Kind::CallConnected(pb::CallConnected {
            call_id: info.call_id.clone(),
            caller_number: info.caller_number.clone(),
            draft: Some(crate::grpc::queue::draft(info)),
        }),
        DeskEvent::CallOfferEnded {
            call_id, reason, ..
        } => Kind::CallOfferEnded(pb::CallOfferEnded {
            call_id: call_id.clone(),
            reason: reason.as_str().into(),
        }),
        DeskEvent::AgentAlert {
            agent_id,
            kind,
            call_id,
            message,
        } => Kind::AgentAlert(pb::AgentAlert {
            agent_id: agent_id.clone(),
            kind: kind.as_str().into(),
            call_id: call_id.clone(),
            message: message.clone(),
        }),
    };
    pb::Event {
        at: Some(convert::ts(desk.clock.now())),
        kind: Some(kind),
    }
}

/// The feed carries no customer contact number to a surveyor (matrix row rule; it reads the
/// contact of its worklist's tickets with GetTicket).
fn redact_for_surveyor(ev: &mut pb::Event) {
    use pb::event::Kind;
    let ticket = match &mut ev.kind {
        Some(Kind::TicketChanged(c)) => c.ticket.as_mut(),
        Some(Kind::ReviewRequested(r)) => r.ticket.as_mut(),
        _ => None,
    };
    if let Some(t) = ticket {
        t.contact_number.clear();
    }
}

impl Agents {
    /// Ringing, on a call and wrap-up live in the queue, not in the store.
    fn with_live_presence(&self, mut a: pb::Agent) -> pb::Agent {
        if let Some(p) = self.acd.presence(&a.agent_id) {
            a.presence = p.as_str().into();
        }
        a
    }
}

#[tonic::async_trait]
impl AgentService for Agents {
    async fn login(&self, req: Request<pb::LoginRequest>) -> R<pb::LoginResponse> {
        let r = req.into_inner();
        if r.agent_id.is_empty() {
            return Err(CoreError::from(ValidationError::new("agent_id", "is empty")).into());
        }
        let (token, expires, agent) = self.auth.login(&r.agent_id, &r.password).await?;
        Ok(Response::new(pb::LoginResponse {
            token,
            expires_at: Some(convert::ts(expires)),
            agent: Some(convert::agent(&agent)),
        }))
    }

    async fn logout(&self, req: Request<pb::LogoutRequest>) -> R<pb::LogoutResponse> {
        let who = caller(&req)?;
        let token = bearer(&req)?;
        // an agent with a call ringing or connected stays in the queue until it ends
        self.desk.leave_queue(&self.acd, &who).await;
        self.auth.logout(&token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_me(&self, req: Request<pb::GetMeRequest>) -> R<pb::Agent> {
        let who = caller(&req)?;
        let a = self.desk.agent(&who.agent_id).await?;
        Ok(Response::new(self.with_live_presence(convert::agent(&a))))
    }

    async fn set_presence(&self, req: Request<pb::SetPresenceRequest>) -> R<pb::Agent> {
        let who = caller(&req)?;
        let presence = crate::desk::agents::parse_presence(&req.get_ref().presence)?;
        let a = self
            .desk
            .set_presence(&self.acd, &self.auth, &who, presence)
            .await?;
        Ok(Response::new(self.with_live_presence(convert::agent(&a))))
    }

    async fn create_agent(&self, req: Request<pb::CreateAgentRequest>) -> R<pb::Agent> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let a = self
            .auth
            .create_agent(Some(&who), &r.agent_id, &r.name, &r.role, &r.password)
            .await?;
        Ok(Response::new(convert::agent(&a)))
    }

    async fn list_agents(&self, req: Request<pb::ListAgentsRequest>) -> R<pb::ListAgentsResponse> {
        caller(&req)?;
        let agents = self.desk.agents().await?;
        Ok(Response::new(pb::ListAgentsResponse {
            agents: agents
                .iter()
                .map(|a| self.with_live_presence(convert::agent(a)))
                .collect(),
        }))
    }

    type StreamEventsStream =
        Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

    async fn stream_events(
        &self,
        req: Request<pb::StreamEventsRequest>,
    ) -> R<Self::StreamEventsStream> {
        let who = caller(&req)?;
        let mut rx = self.desk.events.subscribe();
        let desk = self.desk.clone();
        let (tx, out) = tokio::sync::mpsc::channel::<Result<pb::Event, Status>>(256);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    e = rx.recv() => e,
                };
                let e = match next {
                    Ok(e) => e,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(agent = %who.agent_id, skipped = n, "event stream lagged");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                };
                if !e.visible_to_agent(&who.agent_id, who.role) {
                    continue;
                }
                let mut ev = event(&desk, &e);
                if who.role == hotline_domain::Role::Surveyor {
                    redact_for_surveyor(&mut ev);
                }
                if tx.send(Ok(ev)).await.is_err() {
                    break; // the client went away
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}
