//! The core's agent queue as the AGI side uses it: [`QueueCore`] (join, report an offer's
//! outcome, end a call, the faulty number for the screen pop) in plain Rust types, and
//! [`GrpcQueueCore`], the same `hotline.v1.QueueService` calls `hotline-calls`' `GrpcQueue`
//! makes (both through `hotline_proto::session::ServiceSession`), as the IVR's `system`
//! service account. The only protobuf in this crate.
//!
//! The instruction stream is forwarded into a channel by a small task, so the session can
//! take what is ready without waiting (`try_recv`) while it is busy with Asterisk; dropping
//! the receiver drops the gRPC stream, which the core counts as the caller abandoning.

use std::time::Duration;

use async_trait::async_trait;
use hotline_proto::session::ServiceSession;
use hotline_proto::v1 as pb;
use hotline_proto::v1::queue_instruction::Kind;
use tokio::sync::mpsc;
use tonic::{Code, Status};

/// One instruction of the core for a queued call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// Place in the queue (1 = next).
    Position(u32),
    /// Ring this agent now.
    Offer {
        /// The agent.
        agent_id: String,
        /// Their endpoint user (`{agent}` in the dial pattern).
        sip_user: String,
        /// How long the core lets it ring (JO2: 15 s).
        ring_timeout: Duration,
    },
    /// Stop ringing that agent.
    CancelOffer {
        /// The agent.
        agent_id: String,
        /// Rang past the limit.
        no_answer: bool,
    },
    /// Give up: voicemail. Last instruction.
    ToVoicemail {
        /// `max_wait` | `no_agents`.
        reason: String,
    },
    /// Connected to this agent.
    Connected {
        /// The agent.
        agent_id: String,
    },
}

/// What a caller joins the queue with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// `agi_uniqueid`.
    pub call_id: String,
    /// Caller id (digits or empty).
    pub caller_number: String,
    /// The faulty number (screen pop), or empty.
    pub faulty_number: String,
    /// Needs a senior.
    pub senior: bool,
    /// `ivr` | `escalation`.
    pub reason: String,
}

/// The core refused or could not take a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The request came too late or does not fit the call's state (FAILED_PRECONDITION,
    /// NOT_FOUND): e.g. an answer after the offer was withdrawn.
    #[error("refused: {0}")]
    Refused(String),
    /// The core is unreachable or failed.
    #[error("core unavailable: {0}")]
    Unavailable(String),
}

/// The core's agent queue.
#[async_trait]
pub trait QueueCore: Send + Sync {
    /// Joins the queue; instructions arrive on the receiver until the call leaves it.
    async fn join(&self, req: JoinRequest) -> Result<mpsc::Receiver<Instruction>, QueueError>;
    /// Reports how the ring of an offer ended.
    async fn report_offer(
        &self,
        call_id: &str,
        agent_id: &str,
        answered: bool,
    ) -> Result<(), QueueError>;
    /// A connected call ended.
    async fn end_call(&self, call_id: &str, by_agent: bool);
    /// The faulty number of a ticket (empty when unknown).
    async fn faulty_number(&self, ticket: i64) -> String;
}

/// [`QueueCore`] over gRPC, as the service account's [`ServiceSession`].
#[derive(Debug)]
pub struct GrpcQueueCore {
    session: ServiceSession,
}

fn queue_error(s: Status) -> QueueError {
    let text = format!("{:?}: {}", s.code(), s.message());
    match s.code() {
        Code::FailedPrecondition | Code::NotFound | Code::InvalidArgument => {
            QueueError::Refused(text)
        }
        _ => QueueError::Unavailable(text),
    }
}

fn instruction(k: Kind) -> Instruction {
    match k {
        Kind::Position(p) => Instruction::Position(p.position),
        Kind::Offer(o) => Instruction::Offer {
            agent_id: o.agent_id,
            sip_user: o.sip_user,
            ring_timeout: Duration::from_millis(u64::from(o.ring_timeout_ms)),
        },
        Kind::CancelOffer(c) => Instruction::CancelOffer {
            agent_id: c.agent_id,
            no_answer: c.no_answer,
        },
        Kind::ToVoicemail(v) => Instruction::ToVoicemail { reason: v.reason },
        Kind::Connected(c) => Instruction::Connected {
            agent_id: c.agent_id,
        },
    }
}

impl GrpcQueueCore {
    /// A lazy channel to `uri` (`http://127.0.0.1:50051`) as the service account.
    pub fn connect_lazy(
        uri: &str,
        agent_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, String> {
        Ok(GrpcQueueCore {
            session: ServiceSession::connect_lazy(uri, agent_id, password)?,
        })
    }
}

#[async_trait]
impl QueueCore for GrpcQueueCore {
    async fn join(&self, req: JoinRequest) -> Result<mpsc::Receiver<Instruction>, QueueError> {
        let msg = pb::JoinQueueRequest {
            call_id: req.call_id,
            caller_number: req.caller_number,
            faulty_number: req.faulty_number,
            senior: req.senior,
            reason: req.reason,
        };
        let mut stream = self.session.join_queue(msg).await.map_err(queue_error)?;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // The session dropped the receiver: dropping the stream abandons the call.
                    () = tx.closed() => break,
                    m = stream.message() => match m {
                        Ok(Some(pb::QueueInstruction { kind: Some(k) })) => {
                            if tx.send(instruction(k)).await.is_err() {
                                break;
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "queue stream broken");
                            break;
                        }
                    },
                }
            }
        });
        Ok(rx)
    }

    async fn report_offer(
        &self,
        call_id: &str,
        agent_id: &str,
        answered: bool,
    ) -> Result<(), QueueError> {
        self.session
            .report_offer(call_id, agent_id, answered)
            .await
            .map_err(queue_error)
    }

    async fn end_call(&self, call_id: &str, by_agent: bool) {
        if let Err(e) = self.session.end_call(call_id, by_agent).await {
            tracing::warn!(error = %e, "EndCall failed");
        }
    }

    async fn faulty_number(&self, ticket: i64) -> String {
        self.session.faulty_number(ticket).await
    }
}
