//! `hotline.v1.QueueService`: the call server queues callers for agents and reports what its
//! softphone rings did; desktops read the queue and its metrics (JO2, JO8, PR1).

use super::caller;
use crate::acd::{AcdHandle, CallInfo, Instruction};
use crate::auth::Auth;
use crate::convert;
use crate::desk::Desk;
use crate::desk::queue::Caller;
use crate::error::CoreError;
use hotline_domain::{Timestamp, ValidationError};
use hotline_proto::v1 as pb;
use hotline_proto::v1::queue_service_server::QueueService;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub struct Queue {
    pub desk: Desk,
    pub auth: Arc<Auth>,
    pub acd: AcdHandle,
    pub shutdown: CancellationToken,
}

type R<T> = Result<Response<T>, Status>;

fn call_id(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 256 || s.chars().any(|c| c.is_control()) {
        return Err(ValidationError::new(
            field,
            "must be 1-256 printable characters (the SIP Call-ID)",
        ));
    }
    Ok(s.to_string())
}

fn digits(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.len() > 32 || !s.chars().all(|c| c.is_ascii_digit() || c == '+') {
        return Err(ValidationError::new(
            field,
            format!("must be at most 32 digits, got {s:?}"),
        ));
    }
    Ok(s.to_string())
}

/// The ticket form the agent's desktop opens when the call connects: numbers and customer
/// filled in, channel `phone` (the agent completes fault type and description).
pub fn draft(info: &CallInfo) -> pb::CreateTicketRequest {
    let number = if info.faulty_number.is_empty() {
        info.caller_number.clone()
    } else {
        info.faulty_number.clone()
    };
    let (name, class, branch) = match &info.customer {
        Some(c) => (
            c.name.clone(),
            c.class.as_str().to_string(),
            c.branch.clone(),
        ),
        None => (String::new(), "ordinary".to_string(), String::new()),
    };
    pb::CreateTicketRequest {
        faulty_number: number,
        contact_number: info.caller_number.clone(),
        customer_name: name,
        customer_class: class,
        branch,
        fault_type: String::new(),
        description: String::new(),
        channel: "phone".into(),
        received_at: None,
        urgent: false,
        // a repeat is linked by the core itself when the ticket is created
        supplement_of: 0,
        call_id: info.call_id.clone(),
    }
}

/// The call server's end of a waiting call: when tonic drops it (the client cancelled the
/// stream or went away), the call is abandoned.
struct CallStream {
    call_id: String,
    acd: AcdHandle,
    rx: mpsc::UnboundedReceiver<Instruction>,
    shutdown: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
}

impl Stream for CallStream {
    type Item = Result<pb::QueueInstruction, Status>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Status::unavailable(
                "the core is shutting down; the call left the queue",
            ))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(i)) => Poll::Ready(Some(Ok(instruction(i)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for CallStream {
    fn drop(&mut self) {
        self.acd.stream_closed(&self.call_id);
    }
}

fn instruction(i: Instruction) -> pb::QueueInstruction {
    use pb::queue_instruction::Kind;
    let kind = match i {
        Instruction::Position(p) => Kind::Position(pb::QueuePosition { position: p }),
        Instruction::Offer {
            agent_id,
            agent_name,
            ring_timeout_ms,
        } => Kind::Offer(pb::Offer {
            sip_user: agent_id.clone(),
            agent_id,
            agent_name,
            ring_timeout_ms,
        }),
        Instruction::CancelOffer {
            agent_id,
            no_answer,
        } => Kind::CancelOffer(pb::CancelOffer {
            agent_id,
            no_answer,
        }),
        Instruction::ToVoicemail { reason } => Kind::ToVoicemail(pb::ToVoicemail {
            reason: reason.as_str().into(),
        }),
        Instruction::Connected { agent_id } => Kind::Connected(pb::Connected { agent_id }),
    };
    pb::QueueInstruction { kind: Some(kind) }
}

#[tonic::async_trait]
impl QueueService for Queue {
    type JoinQueueStream =
        Pin<Box<dyn Stream<Item = Result<pb::QueueInstruction, Status>> + Send + 'static>>;

    async fn join_queue(&self, req: Request<pb::JoinQueueRequest>) -> R<Self::JoinQueueStream> {
        caller(&req)?;
        let r = req.into_inner();
        let c = (|| -> Result<Caller, ValidationError> {
            Ok(Caller {
                call_id: call_id("call_id", &r.call_id)?,
                caller_number: digits("caller_number", &r.caller_number)?,
                faulty_number: digits("faulty_number", &r.faulty_number)?,
                senior: r.senior,
                reason: super::text("reason", &r.reason)?,
            })
        })()
        .map_err(CoreError::from)?;
        let info = self.desk.screen_pop(c).await?;
        let call_id = info.call_id.clone();
        let span = tracing::info_span!("queue", call_id = %call_id);
        let _g = span.enter();
        let rx = self.acd.join(info).map_err(CoreError::from)?;
        tracing::info!("caller joined the agent queue");
        Ok(Response::new(Box::pin(CallStream {
            call_id,
            acd: self.acd.clone(),
            rx,
            shutdown: Box::pin(self.shutdown.clone().cancelled_owned()),
        })))
    }

    async fn report_offer(
        &self,
        req: Request<pb::ReportOfferRequest>,
    ) -> R<pb::ReportOfferResponse> {
        caller(&req)?;
        let r = req.into_inner();
        let call = call_id("call_id", &r.call_id).map_err(CoreError::from)?;
        if r.agent_id.is_empty() {
            return Err(CoreError::from(ValidationError::new("agent_id", "is empty")).into());
        }
        let answered = match pb::OfferOutcome::try_from(r.outcome) {
            Ok(pb::OfferOutcome::Answered) => true,
            Ok(pb::OfferOutcome::Failed) => false,
            _ => {
                return Err(CoreError::from(ValidationError::new(
                    "outcome",
                    "must be OFFER_OUTCOME_ANSWERED or OFFER_OUTCOME_FAILED",
                ))
                .into());
            }
        };
        self.acd
            .report_offer(&call, &r.agent_id, answered)
            .map_err(CoreError::from)?;
        Ok(Response::new(pb::ReportOfferResponse {}))
    }

    async fn end_call(&self, req: Request<pb::EndCallRequest>) -> R<pb::EndCallResponse> {
        caller(&req)?;
        let r = req.into_inner();
        let call = call_id("call_id", &r.call_id).map_err(CoreError::from)?;
        let by_agent = match pb::CallEndedBy::try_from(r.ended_by) {
            Ok(pb::CallEndedBy::Caller) => false,
            Ok(pb::CallEndedBy::Agent) => true,
            _ => {
                return Err(CoreError::from(ValidationError::new(
                    "ended_by",
                    "must be CALL_ENDED_BY_CALLER or CALL_ENDED_BY_AGENT",
                ))
                .into());
            }
        };
        self.acd
            .end_call(&call, by_agent)
            .map_err(CoreError::from)?;
        Ok(Response::new(pb::EndCallResponse {}))
    }

    async fn get_queue_metrics(
        &self,
        req: Request<pb::GetQueueMetricsRequest>,
    ) -> R<pb::QueueMetrics> {
        caller(&req)?;
        let now = self.desk.clock.now();
        let r = req.get_ref();
        let ms = |ts: &prost_types::Timestamp| {
            Timestamp(ts.seconds.saturating_mul(1000) + i64::from(ts.nanos) / 1_000_000)
        };
        let since = r
            .since
            .as_ref()
            .map(ms)
            .unwrap_or(Timestamp(now.0 - 24 * 3_600_000));
        let until = r.until.as_ref().map(ms).unwrap_or(Timestamp(now.0 + 1));
        if until.0 <= since.0 {
            return Err(
                CoreError::from(ValidationError::new("until", "must be after since")).into(),
            );
        }
        let m = self.desk.queue_metrics(&self.acd, since, until).await?;
        let t = &m.total;
        Ok(Response::new(pb::QueueMetrics {
            entered: t.entered,
            answered: t.answered,
            abandoned: t.abandoned,
            to_voicemail: t.to_voicemail,
            #[allow(deprecated)]
            answered_offers_in_time_rate: t.answered_offers_in_time_rate().unwrap_or(0.0),
            service_level_with_abandons: t.service_level2().unwrap_or(0.0),
            average_speed_of_answer_secs: t.asa_seconds().unwrap_or(0.0),
            abandonment_rate: t.abandonment_rate().unwrap_or(0.0),
            no_answers: m
                .no_answers_by_agent
                .iter()
                .map(|(a, n)| pb::AgentNoAnswers {
                    agent_id: a.clone(),
                    no_answers: *n,
                })
                .collect(),
            waiting_now: self.acd.waiting() as u32,
            queue_service_level: t.service_level().unwrap_or(0.0),
            offer_answer_rate: t.offer_answer_rate().unwrap_or(0.0),
            rules: Some(pb::ServiceLevelRules {
                service_level_secs: (m.rules.service_level_ms / 1000) as u32,
                short_abandon_secs: (m.rules.short_abandon_ms / 1000) as u32,
                answer_limit_secs: (m.rules.answer_limit_ms / 1000) as u32,
            }),
            total: Some(period(t)),
            intervals: if r.with_intervals {
                m.intervals.iter().map(period).collect()
            } else {
                Vec::new()
            },
            days: m.days.iter().map(period).collect(),
        }))
    }

    async fn list_queue(&self, req: Request<pb::ListQueueRequest>) -> R<pb::ListQueueResponse> {
        caller(&req)?;
        Ok(Response::new(pb::ListQueueResponse {
            entries: self
                .acd
                .list()
                .into_iter()
                .map(|e| pb::QueueEntry {
                    call_id: e.call_id,
                    caller_number: e.caller_number,
                    senior: e.senior,
                    state: e.state.as_str().into(),
                    agent_id: e.agent_id,
                    entered_at: Some(convert::ts(e.entered_at)),
                })
                .collect(),
        }))
    }
}

/// One period's figures on the wire (ratios 0 when their denominator is 0).
fn period(f: &hotline_acd::Figures) -> pb::QueuePeriod {
    pb::QueuePeriod {
        start: Some(convert::ts(Timestamp(f.start_ms))),
        end: Some(convert::ts(Timestamp(f.end_ms))),
        entered: f.entered,
        answered: f.answered,
        answered_in_time: f.answered_in_time,
        abandoned: f.abandoned,
        short_abandons: f.short_abandons,
        to_voicemail: f.to_voicemail,
        in_queue: f.in_queue,
        service_level: f.service_level().unwrap_or(0.0),
        service_level_calls: f.service_level_calls(),
        offers: f.offers,
        offers_answered: f.offers_answered,
        offers_answered_in_time: f.offers_answered_in_time,
        offer_answer_rate: f.offer_answer_rate().unwrap_or(0.0),
        average_speed_of_answer_secs: f.asa_seconds().unwrap_or(0.0),
    }
}
