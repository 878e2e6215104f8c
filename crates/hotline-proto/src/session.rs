//! [`ServiceSession`]: a service account's session with the core, shared by the IVR's gRPC
//! backend, the SIP call server's queue and the FastAGI server's queue.
//!
//! It logs in on first use, sends `authorization: Bearer <token>` on every call, and when the
//! core refuses the token (`UNAUTHENTICATED`: it expired, or the core restarted) logs in again
//! and retries that call once. Every RPC, the login included, has one time limit (default
//! [`DEFAULT_RPC_TIMEOUT`]), so a stuck core never keeps a caller in silence longer than that.
//!
//! The queue calls both call sides make (`JoinQueue`, `ReportOffer`, `EndCall`, and
//! `GetTicket` for the screen pop) are methods here, so their request shapes are written once.

use std::future::Future;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status, Streaming};

use crate::auth::BearerToken;
use crate::v1 as pb;
use crate::v1::agent_service_client::AgentServiceClient;
use crate::v1::quality_service_client::QualityServiceClient;
use crate::v1::queue_service_client::QueueServiceClient;
use crate::v1::ticket_service_client::TicketServiceClient;

/// How long one RPC may take (default).
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an upload of a call recording may take.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Bytes per chunk of a streamed upload.
pub const UPLOAD_CHUNK: usize = 64 * 1024;

/// A logged-in service account (role `system`) over one channel to the core.
pub struct ServiceSession {
    channel: Channel,
    agent_id: String,
    password: String,
    timeout: Duration,
    token: tokio::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for ServiceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSession")
            .field("agent_id", &self.agent_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ServiceSession {
    /// Over an existing (possibly lazy) channel; logs in on first use.
    pub fn new(channel: Channel, agent_id: impl Into<String>, password: impl Into<String>) -> Self {
        ServiceSession {
            channel,
            agent_id: agent_id.into(),
            password: password.into(),
            timeout: DEFAULT_RPC_TIMEOUT,
            token: tokio::sync::Mutex::new(None),
        }
    }

    /// A lazy channel to `uri` (`http://127.0.0.1:50051`); nothing is sent until the first call.
    pub fn connect_lazy(
        uri: &str,
        agent_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, String> {
        let channel = Endpoint::from_shared(uri.to_owned())
            .map_err(|e| format!("core address {uri:?}: {e}"))?
            .connect_lazy();
        Ok(ServiceSession::new(channel, agent_id, password))
    }

    /// Sets the time limit of one RPC (default [`DEFAULT_RPC_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The account's id.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// The channel, for clients this module has no method for.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Runs `rpc` within the time limit.
    async fn timed<T>(&self, rpc: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
        tokio::time::timeout(self.timeout, rpc)
            .await
            .unwrap_or_else(|_| {
                Err(Status::deadline_exceeded(format!(
                    "no answer from the core within {:?}",
                    self.timeout
                )))
            })
    }

    /// Logs in now (replacing any token held) and returns the core's answer, so a caller can
    /// check the account's role at start-up.
    pub async fn login(&self) -> Result<pb::LoginResponse, Status> {
        let mut slot = self.token.lock().await;
        let resp = self.login_locked().await?;
        *slot = Some(resp.token.clone());
        Ok(resp)
    }

    async fn login_locked(&self) -> Result<pb::LoginResponse, Status> {
        let mut client = AgentServiceClient::new(self.channel.clone());
        let login = client.login(pb::LoginRequest {
            agent_id: self.agent_id.clone(),
            password: self.password.clone(),
        });
        self.timed(async { Ok(login.await?.into_inner()) }).await
    }

    /// The token held, or a new one.
    async fn token(&self) -> Result<String, Status> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = self.login_locked().await?.token;
        *slot = Some(t.clone());
        Ok(t)
    }

    /// Runs `rpc` with the channel and the token. On `UNAUTHENTICATED` the token is dropped
    /// (unless another call already replaced it), the account logs in again and `rpc` runs
    /// once more.
    pub async fn call<T, F, Fut>(&self, rpc: F) -> Result<T, Status>
    where
        F: Fn(Channel, BearerToken) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        self.call_within(self.timeout, rpc).await
    }

    /// [`ServiceSession::call`] with its own time limit for the RPC (the login keeps the
    /// session's).
    pub async fn call_within<T, F, Fut>(&self, limit: Duration, rpc: F) -> Result<T, Status>
    where
        F: Fn(Channel, BearerToken) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let token = self.token().await?;
        let bearer = BearerToken::new(&token)?;
        let timed = |f: Fut| async move {
            tokio::time::timeout(limit, f).await.map_err(|_| {
                Status::deadline_exceeded(format!("no answer from the core within {limit:?}"))
            })?
        };
        match timed(rpc(self.channel.clone(), bearer)).await {
            Err(s) if s.code() == Code::Unauthenticated => {
                tracing::info!(agent_id = %self.agent_id, "token refused; logging in again");
                {
                    let mut slot = self.token.lock().await;
                    if slot.as_deref() == Some(token.as_str()) {
                        *slot = None;
                    }
                }
                let bearer = BearerToken::new(&self.token().await?)?;
                timed(rpc(self.channel.clone(), bearer)).await
            }
            r => r,
        }
    }

    /// `QualityService.UploadRecording`: a call's recording (a whole WAV), streamed in
    /// [`UPLOAD_CHUNK`]-byte chunks, the first with the metadata; [`UPLOAD_TIMEOUT`].
    pub async fn upload_recording(
        &self,
        meta: pb::RecordingMeta,
        wav: &[u8],
    ) -> Result<pb::Recording, Status> {
        self.call_within(UPLOAD_TIMEOUT, |ch, t| {
            let mut chunks: Vec<pb::RecordingChunk> = wav
                .chunks(UPLOAD_CHUNK)
                .map(|c| pb::RecordingChunk {
                    meta: None,
                    data: c.to_vec(),
                })
                .collect();
            match chunks.first_mut() {
                Some(first) => first.meta = Some(meta.clone()),
                None => chunks.push(pb::RecordingChunk {
                    meta: Some(meta.clone()),
                    data: Vec::new(),
                }),
            }
            let req = t.authorize(Request::new(tokio_stream::iter(chunks)));
            async move {
                Ok(QualityServiceClient::new(ch)
                    .upload_recording(req)
                    .await?
                    .into_inner())
            }
        })
        .await
    }

    /// `QueueService.JoinQueue`: the core's instructions for this call until it leaves the
    /// queue. Dropping the stream is an abandon.
    pub async fn join_queue(
        &self,
        msg: pb::JoinQueueRequest,
    ) -> Result<Streaming<pb::QueueInstruction>, Status> {
        self.call(|ch, t| {
            let req = t.authorize(Request::new(msg.clone()));
            async move {
                Ok(QueueServiceClient::new(ch)
                    .join_queue(req)
                    .await?
                    .into_inner())
            }
        })
        .await
    }

    /// `QueueService.ReportOffer`: how the ring of an offer ended.
    pub async fn report_offer(
        &self,
        call_id: &str,
        agent_id: &str,
        answered: bool,
    ) -> Result<(), Status> {
        let outcome = if answered {
            pb::OfferOutcome::Answered
        } else {
            pb::OfferOutcome::Failed
        };
        let msg = pb::ReportOfferRequest {
            call_id: call_id.to_owned(),
            agent_id: agent_id.to_owned(),
            outcome: outcome.into(),
        };
        self.call(|ch, t| {
            let req = t.authorize(Request::new(msg.clone()));
            async move {
                QueueServiceClient::new(ch).report_offer(req).await?;
                Ok(())
            }
        })
        .await
    }

    /// `QueueService.EndCall`: a connected call ended, hung up by the agent or the caller.
    pub async fn end_call(&self, call_id: &str, by_agent: bool) -> Result<(), Status> {
        let ended_by = if by_agent {
            pb::CallEndedBy::Agent
        } else {
            pb::CallEndedBy::Caller
        };
        let msg = pb::EndCallRequest {
            call_id: call_id.to_owned(),
            ended_by: ended_by.into(),
        };
        self.call(|ch, t| {
            let req = t.authorize(Request::new(msg.clone()));
            async move {
                QueueServiceClient::new(ch).end_call(req).await?;
                Ok(())
            }
        })
        .await
    }

    /// `TicketService.GetTicket`.
    pub async fn get_ticket(&self, id: i64) -> Result<pb::Ticket, Status> {
        self.call(|ch, t| {
            let req = t.authorize(Request::new(pb::GetTicketRequest { id }));
            async move {
                Ok(TicketServiceClient::new(ch)
                    .get_ticket(req)
                    .await?
                    .into_inner())
            }
        })
        .await
    }

    /// The faulty number of a ticket, for the agent's screen pop; empty when it cannot be read
    /// (the pop then shows the caller id only).
    pub async fn faulty_number(&self, ticket: i64) -> String {
        match self.get_ticket(ticket).await {
            Ok(t) => t.faulty_number,
            Err(e) => {
                tracing::debug!(error = %e, ticket, "ticket not read for the screen pop");
                String::new()
            }
        }
    }
}
