//! `hotline.v1.AgentService`: log-in, presence, administration and the event feed.

use super::{bearer, principal};
use crate::auth::Auth;
use crate::convert;
use crate::desk::Desk;
use crate::error::to_status;
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
                    state: "not_sendable".into(),
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
            action: action.clone(),
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
    };
    pb::Event {
        at: Some(convert::ts(desk.clock.now())),
        kind: Some(kind),
    }
}

#[tonic::async_trait]
impl AgentService for Agents {
    async fn login(&self, req: Request<pb::LoginRequest>) -> R<pb::LoginResponse> {
        let r = req.into_inner();
        if r.agent_id.is_empty() {
            return Err(to_status(
                ValidationError::new("agent_id", "is empty").into(),
            ));
        }
        let (token, expires, agent) = self
            .auth
            .login(&r.agent_id, &r.password)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::LoginResponse {
            token,
            expires_at: Some(convert::ts(expires)),
            agent: Some(convert::agent(&agent)),
        }))
    }

    async fn logout(&self, req: Request<pb::LogoutRequest>) -> R<pb::LogoutResponse> {
        principal(&self.auth, &req).await.map_err(to_status)?;
        let token = bearer(&req).map_err(to_status)?;
        self.auth.logout(&token).await.map_err(to_status)?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_me(&self, req: Request<pb::GetMeRequest>) -> R<pb::Agent> {
        let who = principal(&self.auth, &req).await.map_err(to_status)?;
        let a = self
            .desk
            .store
            .get_agent(&who.agent_id)
            .await
            .map_err(|e| to_status(e.into()))?;
        Ok(Response::new(convert::agent(&a)))
    }

    async fn set_presence(&self, req: Request<pb::SetPresenceRequest>) -> R<pb::Agent> {
        let who = principal(&self.auth, &req).await.map_err(to_status)?;
        let a = self
            .auth
            .set_presence(&who, &req.get_ref().presence)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::agent(&a)))
    }

    async fn create_agent(&self, req: Request<pb::CreateAgentRequest>) -> R<pb::Agent> {
        let who = principal(&self.auth, &req).await.map_err(to_status)?;
        let r = req.into_inner();
        let a = self
            .auth
            .create_agent(Some(&who), &r.agent_id, &r.name, &r.role, &r.password)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::agent(&a)))
    }

    async fn list_agents(&self, req: Request<pb::ListAgentsRequest>) -> R<pb::ListAgentsResponse> {
        principal(&self.auth, &req).await.map_err(to_status)?;
        let agents = self
            .desk
            .store
            .list_agents()
            .await
            .map_err(|e| to_status(e.into()))?;
        Ok(Response::new(pb::ListAgentsResponse {
            agents: agents.iter().map(convert::agent).collect(),
        }))
    }

    type StreamEventsStream =
        Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

    async fn stream_events(
        &self,
        req: Request<pb::StreamEventsRequest>,
    ) -> R<Self::StreamEventsStream> {
        let who = principal(&self.auth, &req).await.map_err(to_status)?;
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
                if !e.visible_to(who.role) {
                    continue;
                }
                if tx.send(Ok(event(&desk, &e))).await.is_err() {
                    break; // the client went away
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}
