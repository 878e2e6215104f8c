//! [`GrpcQueue`]: the [`AgentQueue`] over the core's ACD (`hotline.v1.QueueService`), as the
//! IVR's `system` service account. The only protobuf in this crate.
//!
//! For one transferred caller: `JoinQueue` and follow its instructions until the call leaves
//! the queue:
//! - `Position` → the hold announcement with the position, at once and then every 30 s
//!   (played in the background; the loop keeps listening);
//! - `Offer` → ring the agent's registered softphone (`bindings(sip_user)`) with our UAC and a
//!   second media leg (ring timeout a little over the core's, which owns the 15-second rule);
//!   not registered or refused → `ReportOffer FAILED`;
//! - the softphone answers → `ReportOffer ANSWERED`; accepted → stop the hold prompt and
//!   bridge the legs until either side hangs up (`EndCall` says which), mixing both into
//!   `<qa_recording_dir>/<call-id>.wav` when quality inspection is configured; refused
//!   (`FAILED_PRECONDITION`: the offer was already withdrawn) → BYE to the agent;
//! - `CancelOffer` → CANCEL the ring (a no-answer one not before the softphone has rung the
//!   full limit since our INVITE: the core counts from the offer, a few ms earlier);
//!   `ToVoicemail` → the voicemail flow;
//! - the caller hangs up while waiting → the stream is dropped (the core counts an abandon);
//! - the core unreachable or the stream broken before a connection → the voicemail flow, so
//!   the caller can still leave a message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hotline_ivr::Channel as _;
use hotline_ivr::flows::{self, Flow, FlowError, FlowOutcome, agent};
use hotline_media::{MediaLeg, bridge};
use hotline_proto::session::ServiceSession;
use hotline_proto::v1 as pb;
use hotline_proto::v1::queue_instruction::Kind;
use hotline_sip::endpoint::{CallId, Event, OutgoingCall};
use hotline_sip::registrar::Contact;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic::{Status, Streaming};

use crate::SipChannel;
use crate::qa_upload::{self, RecordingInfo};
use crate::queue::{AgentQueue, AgentRequest, CallContext, VoicemailFallback};

/// How often a waiting caller hears the position (issue 5: every 30 s).
pub const HOLD_INTERVAL: Duration = Duration::from_secs(30);

/// The longest a no-answer CANCEL is held back so that the softphone rings the full limit
/// counted from our INVITE (see `Ring::full_ring_at`).
const MAX_CANCEL_HOLD: Duration = Duration::from_millis(500);

/// The agent queue in the core, over gRPC.
#[derive(Debug)]
pub struct GrpcQueue {
    session: Arc<ServiceSession>,
    hold_interval: Duration,
}

/// Where to send an INVITE for a registered contact: the Contact URI's address when it is
/// the address the REGISTER came from (same host), else the source (the softphone is
/// behind NAT and wrote its private address).
pub fn contact_dest(c: &Contact) -> SocketAddr {
    let rest = c
        .uri
        .strip_prefix("sips:")
        .or_else(|| c.uri.strip_prefix("sip:"))
        .unwrap_or(&c.uri);
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.split([';', '?', '>']).next().unwrap_or("");
    let parsed = hostport.parse::<SocketAddr>().ok().or_else(|| {
        hostport
            .parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 5060))
    });
    match parsed {
        Some(a) if a.ip() == c.source.ip() => a,
        _ => c.source,
    }
}

/// One ring of an agent's softphone.
struct Ring {
    agent_id: String,
    call: CallId,
    leg: MediaLeg,
    events: mpsc::UnboundedReceiver<Event>,
    /// When the INVITE went out, plus the core's ring limit: a no-answer CANCEL is held
    /// back until then, so the softphone has rung the full limit (JO2) even though the
    /// core's timer started at the offer, a few milliseconds before our INVITE.
    full_ring_at: tokio::time::Instant,
}

impl Ring {
    /// CANCEL (or BYE) the ring and free the leg.
    async fn stop(self, ctx: &CallContext) {
        let _ = ctx.sip.hangup(&self.call).await;
        self.leg.close().await;
    }
}

enum Waited {
    /// Bridged, then someone hung up.
    Done(FlowOutcome),
    /// The call cannot be queued: leave a message instead.
    Voicemail,
}

impl GrpcQueue {
    /// Over an existing (possibly lazy) channel to the core; logs in on first use.
    pub fn new(channel: Channel, agent_id: impl Into<String>, password: impl Into<String>) -> Self {
        GrpcQueue {
            session: Arc::new(ServiceSession::new(channel, agent_id, password)),
            hold_interval: HOLD_INTERVAL,
        }
    }

    /// A lazy channel to `uri` (`http://127.0.0.1:50051`).
    pub fn connect_lazy(
        uri: &str,
        agent_id: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, String> {
        Ok(GrpcQueue {
            session: Arc::new(ServiceSession::connect_lazy(uri, agent_id, password)?),
            hold_interval: HOLD_INTERVAL,
        })
    }

    /// Uploads the QA recordings left in the spool `dir` by an earlier run (see
    /// [`qa_upload::sweep`]); returns (uploaded, left).
    pub async fn sweep_recordings(&self, dir: &std::path::Path) -> (usize, usize) {
        qa_upload::sweep(&self.session, dir).await
    }

    /// Sets how often the position is announced (default [`HOLD_INTERVAL`]).
    pub fn with_hold_interval(mut self, every: Duration) -> Self {
        self.hold_interval = every;
        self
    }

    async fn report(&self, call_id: &str, agent_id: &str, answered: bool) -> Result<(), Status> {
        self.session.report_offer(call_id, agent_id, answered).await
    }

    async fn end(&self, call_id: &str, by_agent: bool) {
        if let Err(e) = self.session.end_call(call_id, by_agent).await {
            tracing::warn!(error = %e, "EndCall failed");
        }
    }

    /// Rings the offered agent; `None` (after reporting FAILED) when that cannot start.
    async fn ring(&self, ch: &SipChannel, ctx: &CallContext, offer: &pb::Offer) -> Option<Ring> {
        let call_id = ch.call_id();
        let contacts = ctx.sip.bindings(&offer.sip_user).await.unwrap_or_default();
        let Some(contact) = contacts.last() else {
            tracing::info!(agent_id = %offer.agent_id, sip_user = %offer.sip_user, "agent's softphone not registered");
            let _ = self.report(call_id, &offer.agent_id, false).await;
            return None;
        };
        // Its own token (under the server's): the caller's end must not look like the agent's.
        let mut media = ctx.media.clone();
        media.shutdown = ctx.media.shutdown.child_token();
        let leg = match MediaLeg::bind(&media).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "no media leg for the agent");
                let _ = self.report(call_id, &offer.agent_id, false).await;
                return None;
            }
        };
        let dest = contact_dest(contact);
        let caller = if ch.caller_id().is_empty() {
            "112"
        } else {
            ch.caller_id()
        };
        let out = OutgoingCall {
            target: contact.uri.clone(),
            dest,
            transport: contact.transport,
            from: format!("sip:{caller}@hotline"),
            to: format!("sip:{}@{}", offer.sip_user, dest.ip()),
            sdp: Bytes::from(leg.offer()),
            // The core cancels at its limit (JO2); this only stops a ring the core forgot.
            ring_timeout: Some(
                Duration::from_millis(u64::from(offer.ring_timeout_ms.max(1_000)))
                    + Duration::from_secs(2),
            ),
            auth: None,
        };
        let ring_limit = Duration::from_millis(u64::from(offer.ring_timeout_ms));
        match ctx.invite(out).await {
            Ok((call, events)) => {
                let full_ring_at = tokio::time::Instant::now() + ring_limit;
                tracing::info!(agent_id = %offer.agent_id, %dest, agent_call = %call, "ringing the agent");
                Some(Ring {
                    agent_id: offer.agent_id.clone(),
                    call,
                    leg,
                    events,
                    full_ring_at,
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot ring the agent");
                let _ = self.report(call_id, &offer.agent_id, false).await;
                leg.close().await;
                None
            }
        }
    }

    /// Waits in the queue; returns once the call has been bridged and ended, the caller left,
    /// or the call must go to voicemail.
    async fn wait(
        &self,
        ch: &mut SipChannel,
        ctx: &CallContext,
        mut stream: Streaming<pb::QueueInstruction>,
    ) -> Result<Waited, FlowError> {
        let call_id = ch.call_id().to_owned();
        let gone = ch.gone().clone();
        let mut ring: Option<Ring> = None;
        let mut position: u32 = 0;
        let mut next_announce: Option<tokio::time::Instant> = None;
        loop {
            let ring_event = async {
                match ring.as_mut() {
                    Some(r) => r.events.recv().await,
                    None => std::future::pending().await,
                }
            };
            let announce = async {
                match next_announce {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = gone.cancelled() => {
                    tracing::info!("caller left the queue");
                    if let Some(r) = ring.take() {
                        r.stop(ctx).await;
                    }
                    // Dropping the stream tells the core (abandon).
                    return Ok(Waited::Done(FlowOutcome::CallerHungUp));
                }
                msg = stream.message() => {
                    let kind = match msg {
                        Ok(Some(pb::QueueInstruction { kind: Some(k) })) => k,
                        Ok(Some(_)) => continue,
                        Ok(None) | Err(_) => {
                            tracing::warn!(result = ?msg.err(), "queue stream ended before a connection");
                            if let Some(r) = ring.take() {
                                r.stop(ctx).await;
                            }
                            return Ok(Waited::Voicemail);
                        }
                    };
                    match kind {
                        Kind::Position(p) => {
                            position = p.position;
                            tracing::debug!(position, "queue position");
                            if next_announce.is_none() && position > 0 {
                                next_announce = Some(tokio::time::Instant::now());
                            }
                        }
                        Kind::Offer(o) => {
                            if let Some(r) = ring.take() {
                                r.stop(ctx).await;
                            }
                            ring = self.ring(ch, ctx, &o).await;
                        }
                        Kind::CancelOffer(c) => {
                            if ring.as_ref().is_some_and(|r| r.agent_id == c.agent_id)
                                && let Some(r) = ring.take()
                            {
                                tracing::info!(agent_id = %c.agent_id, no_answer = c.no_answer, "offer withdrawn: CANCEL");
                                if c.no_answer {
                                    // At most the offer → INVITE latency (capped: a slow
                                    // start must not hold the caller's loop).
                                    let until = r.full_ring_at.min(
                                        tokio::time::Instant::now() + MAX_CANCEL_HOLD,
                                    );
                                    tokio::time::sleep_until(until).await;
                                }
                                r.stop(ctx).await;
                            }
                        }
                        Kind::ToVoicemail(v) => {
                            tracing::info!(reason = %v.reason, "queue gives up: voicemail");
                            if let Some(r) = ring.take() {
                                r.stop(ctx).await;
                            }
                            return Ok(Waited::Voicemail);
                        }
                        Kind::Connected(c) => tracing::debug!(agent_id = %c.agent_id, "connected"),
                    }
                }
                () = announce => {
                    if position > 0 {
                        ch.play_in_background(&agent::hold_prompts(position))?;
                    }
                    next_announce = Some(tokio::time::Instant::now() + self.hold_interval);
                }
                ev = ring_event => {
                    let Some(ev) = ev else {
                        ring = None;
                        continue;
                    };
                    match ev {
                        Event::Answered { sdp, .. } => {
                            let Some(r) = ring.take() else { continue };
                            if let Some(sdp) = sdp
                                && let Err(e) = r.leg.accept_answer(&sdp)
                            {
                                tracing::warn!(error = %e, "agent's SDP refused");
                                let _ = self.report(&call_id, &r.agent_id, false).await;
                                r.stop(ctx).await;
                                continue;
                            }
                            match self.report(&call_id, &r.agent_id, true).await {
                                Ok(()) => {
                                    let outcome = self.connected(ch, ctx, r).await;
                                    return Ok(Waited::Done(outcome));
                                }
                                Err(e) => {
                                    tracing::info!(error = %e, agent_id = %r.agent_id, "answer came too late; hanging up the agent");
                                    r.stop(ctx).await;
                                }
                            }
                        }
                        Event::Failed { code, .. } => {
                            if let Some(r) = ring.take() {
                                tracing::info!(code, agent_id = %r.agent_id, "agent's softphone refused");
                                let _ = self.report(&call_id, &r.agent_id, false).await;
                                r.leg.close().await;
                            }
                        }
                        Event::TimedOut { .. } | Event::Cancelled { .. } | Event::CallEnded { .. } => {
                            if let Some(r) = ring.take() {
                                r.leg.close().await;
                            }
                        }
                        Event::Ringing { .. } => tracing::debug!("agent's softphone rings"),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Caller and agent talk until one hangs up.
    async fn connected(&self, ch: &mut SipChannel, ctx: &CallContext, mut r: Ring) -> FlowOutcome {
        let call_id = ch.call_id().to_owned();
        let Some(caller_leg) = ch.leg().cloned() else {
            r.stop(ctx).await;
            self.end(&call_id, false).await;
            return FlowOutcome::CallerHungUp;
        };
        let _ = caller_leg.stop_play();
        // Quality inspection: both parties mixed into one WAV, if configured. A recording
        // that cannot be opened must not cost the caller the agent: bridge without it.
        let recording = ctx.qa_recording_path(&call_id);
        let info = RecordingInfo {
            call_id: call_id.clone(),
            agent_id: r.agent_id.clone(),
            started_at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        };
        let mut bridged = bridge(&caller_leg, &r.leg, recording.as_deref()).await;
        if let (Err(e), Some(path)) = (&bridged, &recording) {
            tracing::error!(error = %e, path = %path.display(), "QA recording not started; bridging without it");
            bridged = bridge(&caller_leg, &r.leg, None).await;
        }
        let bridged = match bridged {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot bridge");
                r.stop(ctx).await;
                self.end(&call_id, false).await;
                return FlowOutcome::CallerHungUp;
            }
        };
        tracing::info!(agent_id = %r.agent_id, "caller and agent bridged");
        let gone = ch.gone().clone();
        let by_agent = loop {
            tokio::select! {
                biased;
                () = gone.cancelled() => break false,
                () = r.leg.inactive() => {
                    tracing::warn!("no RTP from the agent; ending the call");
                    break true;
                }
                ev = r.events.recv() => match ev {
                    None | Some(Event::CallEnded { .. }) => break true,
                    Some(Event::ReInvite { offer, .. }) => {
                        let sdp = match offer.map(|o| r.leg.local_sdp_answer(&o)) {
                            Some(Ok(a)) => a,
                            _ => r.leg.offer(),
                        };
                        let _ = ctx.sip.answer_reinvite(&r.call, Bytes::from(sdp)).await;
                    }
                    Some(_) => {}
                },
            }
        };
        match bridged.stop() {
            Ok(Some((path, length))) => {
                tracing::info!(path = %path.display(), ?length, "QA recording written");
                match info.write_beside(&path) {
                    Ok(()) => {
                        let session = self.session.clone();
                        tokio::spawn(async move {
                            qa_upload::upload_with_retries(&session, &path, &info).await;
                        });
                    }
                    Err(e) => {
                        tracing::error!(error = %e, path = %path.display(), "QA recording's meta file not written; left in the spool")
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "QA recording failed"),
        }
        tracing::info!(by_agent, "bridged call ended");
        self.end(&call_id, by_agent).await;
        if by_agent {
            r.leg.close().await;
            FlowOutcome::Done
        } else {
            r.stop(ctx).await;
            FlowOutcome::CallerHungUp
        }
    }
}

#[async_trait]
impl AgentQueue for GrpcQueue {
    async fn take(
        &self,
        ch: &mut SipChannel,
        ctx: &CallContext,
        request: AgentRequest,
    ) -> Result<FlowOutcome, FlowError> {
        // A report escalated to an agent (JO8, JO5): its number goes on the screen pop.
        let faulty_number = match request.ticket {
            Some(t) => self.session.faulty_number(t).await,
            None => String::new(),
        };
        let msg = pb::JoinQueueRequest {
            call_id: ch.call_id().to_owned(),
            caller_number: ch.caller_id().to_owned(),
            faulty_number,
            senior: request.senior,
            reason: if request.ticket.is_some() {
                "escalation".into()
            } else {
                "ivr".into()
            },
        };
        let waited = match self.session.join_queue(msg).await {
            Ok(stream) => {
                tracing::info!(senior = request.senior, "caller queued for an agent");
                self.wait(ch, ctx, stream).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot queue the caller");
                Ok(Waited::Voicemail)
            }
        };
        match waited {
            Ok(Waited::Done(outcome)) => Ok(outcome),
            Ok(Waited::Voicemail) => {
                if ch.is_gone() {
                    return Ok(FlowOutcome::CallerHungUp);
                }
                VoicemailFallback.take(ch, ctx, request).await
            }
            Err(e) => {
                let mut f = Flow::new(ch, ctx.backend.as_ref(), &ctx.ivr);
                flows::finish(&mut f, Err(e)).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_sip::endpoint::Transport;
    use std::time::Instant;

    fn contact(uri: &str, source: &str) -> Contact {
        Contact {
            uri: uri.into(),
            expires_at: Instant::now(),
            source: source.parse().unwrap(),
            transport: Transport::Udp,
        }
    }

    #[test]
    fn contact_destination_prefers_the_uri_on_the_same_host_else_the_source() {
        let same = contact("sip:j1@127.0.0.1:5070;transport=udp", "127.0.0.1:40000");
        assert_eq!(contact_dest(&same), "127.0.0.1:5070".parse().unwrap());
        let nat = contact("sip:j1@192.168.1.20:5060", "203.0.113.9:61000");
        assert_eq!(contact_dest(&nat), "203.0.113.9:61000".parse().unwrap());
        let no_port = contact("sip:j1@10.0.0.5", "10.0.0.5:5062");
        assert_eq!(contact_dest(&no_port), "10.0.0.5:5060".parse().unwrap());
        let name = contact("sip:j1@phone.example", "10.0.0.5:5062");
        assert_eq!(contact_dest(&name), "10.0.0.5:5062".parse().unwrap());
    }
}
