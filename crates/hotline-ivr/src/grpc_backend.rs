//! [`Backend`] over the core's gRPC API (`hotline.v1`): logs in once as a service account
//! (role `system`), sends `authorization: Bearer <token>` on every call and logs in again
//! once when the token is refused (`hotline_proto::session::ServiceSession`, shared with the
//! call servers). The only place in this crate that sees protobuf.
//!
//! Voicemail goes to `VoicemailService.CreateVoicemail` with the file's *name* only: the core
//! opens it in its own voicemail directory, so the IVR's `voicemail_dir` must be that
//! directory (same host, or a shared volume). A core without the RPC answers UNIMPLEMENTED,
//! which becomes [`BackendError::Unsupported`] and the message stays on disk (logged).

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use hotline_proto::auth::BearerToken;
use hotline_proto::session::{self, ServiceSession};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_proto::v1::voicemail_service_client::VoicemailServiceClient;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::backend::{
    Backend, BackendError, NewReport, NewVoicemail, ReportCreated, TicketState, progress_of,
};
use crate::flows::validate_number;

/// The channel name the core files IVR reports under.
pub const CHANNEL_IVR: &str = "ivr";

/// Roles that answer calls: an agent of these logged in means a caller can be transferred.
const ANSWERING_ROLES: [&str; 2] = ["junior", "senior"];

/// How long one RPC may take before the caller hears "system busy" (default).
pub const DEFAULT_RPC_TIMEOUT: Duration = session::DEFAULT_RPC_TIMEOUT;

/// The core over gRPC, as a service account.
#[derive(Debug)]
pub struct GrpcBackend {
    session: ServiceSession,
}

fn status_error(s: Status) -> BackendError {
    let text = format!("{:?}: {}", s.code(), s.message());
    match s.code() {
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::FailedPrecondition
        | Code::PermissionDenied
        | Code::OutOfRange => BackendError::Refused(text),
        Code::Unauthenticated => BackendError::Login(text),
        Code::Unimplemented => BackendError::Unsupported("the core does not implement this RPC"),
        _ => BackendError::Unavailable(text),
    }
}

impl GrpcBackend {
    /// Over an existing (possibly lazy) channel; logs in on first use.
    pub fn new(channel: Channel, agent_id: impl Into<String>, password: impl Into<String>) -> Self {
        GrpcBackend {
            session: ServiceSession::new(channel, agent_id, password),
        }
    }

    /// Sets how long one RPC may take (default [`DEFAULT_RPC_TIMEOUT`]); a caller is not kept
    /// in silence longer than this by a stuck core.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.session = self.session.with_timeout(timeout);
        self
    }

    /// Connects to `uri` (`http://127.0.0.1:50051`) and logs in, so bad credentials or an
    /// unreachable core show at start-up.
    pub async fn connect(
        uri: &str,
        agent_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, BackendError> {
        let endpoint = Endpoint::from_shared(uri.to_owned())
            .map_err(|e| BackendError::Unavailable(format!("core address {uri:?}: {e}")))?;
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| BackendError::Unavailable(format!("connecting to {uri}: {e}")))?;
        let backend = GrpcBackend::new(channel, agent_id, password);
        let resp = backend
            .session
            .login()
            .await
            .map_err(|s| match status_error(s) {
                BackendError::Refused(t) => BackendError::Login(t),
                other => other,
            })?;
        let agent_id = backend.session.agent_id();
        if let Some(agent) = &resp.agent
            && agent.role != "system"
        {
            tracing::warn!(%agent_id, role = %agent.role, "IVR account is not role system");
        }
        tracing::info!(%agent_id, "IVR logged in to the core");
        Ok(backend)
    }

    /// Runs `call` through the session (token, one login again on UNAUTHENTICATED, time limit).
    async fn authed<T, F, Fut>(&self, call: F) -> Result<T, BackendError>
    where
        F: Fn(Channel, BearerToken) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.session.call(call).await.map_err(status_error)
    }
}

/// What the core's answer to CreateTicket means for the caller: escalated (JO8 customer, the
/// core knows the class) or a repeat past its limit (JO5, advice `manager_hotline`) → a
/// senior agent.
pub fn report_created(resp: &pb::CreateTicketResponse) -> Result<ReportCreated, BackendError> {
    let ticket = resp
        .ticket
        .as_ref()
        .ok_or_else(|| BackendError::Protocol("CreateTicket returned no ticket".into()))?;
    let escalated = ticket.status == "escalated";
    let overdue_repeat = resp
        .repeat
        .as_ref()
        .is_some_and(|r| r.advice == "manager_hotline");
    Ok(ReportCreated {
        ticket_id: ticket.id,
        offer_agent: escalated || overdue_repeat,
        senior: escalated || overdue_repeat,
    })
}

/// The latest ticket as the IVR says it; the centre status is the latest dispatch order's.
pub fn ticket_state(t: &pb::Ticket) -> TicketState {
    let center_status = t
        .orders
        .iter()
        .rev()
        .find(|o| matches!(o.kind.as_str(), "dispatch" | "second_dispatch"))
        .map(|o| o.center_status.as_str())
        .unwrap_or("");
    let progress = progress_of(&t.status, center_status);
    TicketState {
        ticket_id: t.id,
        status: t.status.clone(),
        progress,
        repair_limit_hours: t.repair_limit_hours,
        at_centre: t.status == "dispatched",
    }
}

#[async_trait]
impl Backend for GrpcBackend {
    async fn create_report(&self, report: &NewReport) -> Result<ReportCreated, BackendError> {
        // A withheld or odd caller id must not make the core refuse the report.
        let contact_number = if validate_number(&report.caller_id).is_ok() {
            report.caller_id.clone()
        } else {
            String::new()
        };
        let msg = pb::CreateTicketRequest {
            faulty_number: report.faulty_number.clone(),
            contact_number,
            fault_type: report.fault_type.as_str().into(),
            channel: CHANNEL_IVR.into(),
            ..Default::default()
        };
        let resp = self
            .authed(|ch, token| {
                let req = token.authorize(Request::new(msg.clone()));
                async move {
                    Ok(TicketServiceClient::new(ch)
                        .create_ticket(req)
                        .await?
                        .into_inner())
                }
            })
            .await?;
        report_created(&resp)
    }

    async fn latest_ticket(&self, number: &str) -> Result<Option<TicketState>, BackendError> {
        let list = self
            .authed(|ch, token| {
                let req = token.authorize(Request::new(pb::ListTicketsRequest {
                    page_size: 1,
                    faulty_number: number.to_owned(),
                    ..Default::default()
                }));
                async move {
                    Ok(TicketServiceClient::new(ch)
                        .list_tickets(req)
                        .await?
                        .into_inner())
                }
            })
            .await?;
        let Some(latest) = list.tickets.first() else {
            return Ok(None);
        };
        // The list carries no orders; the ticket itself does (the centre's status).
        let ticket = self
            .session
            .get_ticket(latest.id)
            .await
            .map_err(status_error)?;
        Ok(Some(ticket_state(&ticket)))
    }

    async fn agents_available(&self) -> Result<bool, BackendError> {
        let agents = self
            .authed(|ch, token| {
                let req = token.authorize(Request::new(pb::ListAgentsRequest {}));
                async move {
                    Ok(AgentServiceClient::new(ch)
                        .list_agents(req)
                        .await?
                        .into_inner())
                }
            })
            .await?;
        Ok(agents.agents.iter().any(|a| {
            a.active && ANSWERING_ROLES.contains(&a.role.as_str()) && a.presence != "logged_out"
        }))
    }

    async fn save_voicemail(&self, voicemail: &NewVoicemail) -> Result<(), BackendError> {
        let file_name = voicemail
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "voicemail path {} has no UTF-8 file name",
                    voicemail.path.display()
                ))
            })?
            .to_owned();
        let msg = pb::CreateVoicemailRequest {
            call_id: voicemail.call_id.clone(),
            caller_id: voicemail.caller_id.clone(),
            number_entered: voicemail.number_entered.clone(),
            file_name,
            duration_ms: i64::try_from(voicemail.duration.as_millis()).unwrap_or(i64::MAX),
        };
        let created = self
            .authed(|ch, token| {
                let req = token.authorize(Request::new(msg.clone()));
                async move {
                    Ok(VoicemailServiceClient::new(ch)
                        .create_voicemail(req)
                        .await?
                        .into_inner())
                }
            })
            .await?;
        tracing::info!(voicemail_id = created.id, call_id = %created.call_id, "voicemail registered");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Progress;

    fn ticket(status: &str) -> pb::Ticket {
        pb::Ticket {
            id: 7,
            status: status.into(),
            repair_limit_hours: 24,
            ..Default::default()
        }
    }

    #[test]
    fn jo8_escalated_ticket_offers_a_senior() {
        let resp = pb::CreateTicketResponse {
            ticket: Some(ticket("escalated")),
            repeat: None,
        };
        let r = report_created(&resp).unwrap();
        assert!(r.offer_agent && r.senior);
        assert_eq!(r.ticket_id, 7);
    }

    #[test]
    fn jo5_repeat_past_limit_offers_a_senior_and_others_do_not() {
        let repeat = |advice: &str| pb::CreateTicketResponse {
            ticket: Some(ticket("new")),
            repeat: Some(pb::RepeatInfo {
                is_repeat: true,
                original_ticket_id: 3,
                advice: advice.into(),
                advice_label: String::new(),
            }),
        };
        assert!(report_created(&repeat("manager_hotline")).unwrap().senior);
        let r = report_created(&repeat("progress_answer")).unwrap();
        assert!(!r.offer_agent && !r.senior);
    }

    #[test]
    fn missing_ticket_is_a_protocol_error() {
        let resp = pb::CreateTicketResponse::default();
        assert!(matches!(
            report_created(&resp),
            Err(BackendError::Protocol(_))
        ));
    }

    #[test]
    fn jo9_ticket_state_uses_the_dispatch_orders_centre_status() {
        let mut t = ticket("dispatched");
        assert_eq!(ticket_state(&t).progress, Progress::AtCentre);
        t.orders.push(pb::Order {
            kind: "dispatch".into(),
            center_status: "inProgress".into(),
            ..Default::default()
        });
        t.orders.push(pb::Order {
            kind: "follow_up".into(),
            center_status: "acknowledged".into(),
            ..Default::default()
        });
        let s = ticket_state(&t);
        assert_eq!(s.progress, Progress::CrewDispatched);
        assert!(s.at_centre);
        assert_eq!(s.repair_limit_hours, 24);
        assert_eq!(ticket_state(&ticket("closed")).progress, Progress::Cleared);
        assert_eq!(
            ticket_state(&ticket("awaiting_review")).progress,
            Progress::Accepted
        );
    }

    #[test]
    fn status_codes_map_to_backend_errors() {
        assert!(matches!(
            status_error(Status::unavailable("down")),
            BackendError::Unavailable(_)
        ));
        assert!(matches!(
            status_error(Status::invalid_argument("faulty_number: too short")),
            BackendError::Refused(_)
        ));
        assert!(matches!(
            status_error(Status::unimplemented("no")),
            BackendError::Unsupported(_)
        ));
    }
}
