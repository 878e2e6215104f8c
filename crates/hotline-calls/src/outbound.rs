//! Automated outbound survey calls (issue 16 part 5): the call server calls customers back
//! after a 回单 and asks by keypad.
//!
//! One campaign task ([`run`], started by [`crate::CallServer::run`] when
//! [`CallServerConfig::outbound`](crate::CallServerConfig) is set) keeps at most
//! `max_concurrent` calls up. For each free slot it claims the next callback due from the core
//! ([`SurveyCampaignCore::claim`]: the core applies calling hours, the retry rules, once per
//! customer per day and the do-not-call list), places the call through the trunk (our UAC:
//! INVITE to the outbound proxy with digest credentials, early media accepted, the ring
//! timeout), runs the survey flow on the answered call (`hotline_ivr::flows::survey`), and
//! reports the end ([`SurveyCampaignCore::finish`]). Key 9 is queued for an agent like an
//! inbound caller, with the ticket for the screen pop.
//!
//! A trunk that refuses calls (403, 5xx, a failed challenge) backs the campaign off: each
//! failure in a row doubles the pause before the next claim, up to `max_backoff`, and the core
//! raises the `outbound` alert after a run of them. Nothing spins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hotline_domain::outbound::OutboundResult;
use hotline_ivr::flows::survey::{self, SurveyAnswer};
use hotline_ivr::flows::{Flow, FlowOutcome};
use hotline_media::MediaLeg;
use hotline_media::prompt::PromptCache;
use hotline_proto::session::ServiceSession;
use hotline_proto::v1 as pb;
use hotline_proto::v1::survey_service_client::SurveyServiceClient;
use hotline_sip::endpoint::{Event, OutgoingCall, Transport, UacAuth};
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::SipChannel;
use crate::queue::{AgentQueue, AgentRequest, CallContext};
use crate::server::CallSummary;

/// Where and how the campaign calls (`[outbound]` in the config file).
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// The trunk / outbound proxy every INVITE is sent to.
    pub trunk: SocketAddr,
    /// Host part of the Request-URI `sip:<number>@<domain>` (default: the trunk's address).
    pub domain: Option<String>,
    /// Our number in From (the hotline's, e.g. `112`).
    pub caller_id: String,
    /// Digest credentials when the trunk challenges.
    pub auth: Option<UacAuth>,
    /// At most this many survey calls at once.
    pub max_concurrent: usize,
    /// How long a call may ring before it counts as not answered.
    pub ring_timeout: Duration,
    /// Wait before asking again when nothing is due (or the core did not answer).
    pub idle_poll: Duration,
    /// The longest pause after trunk failures in a row.
    pub max_backoff: Duration,
}

impl OutboundConfig {
    /// Defaults around a trunk address: caller id `112`, 10 calls, 30 s ring, 5 s poll,
    /// backoff up to 5 minutes.
    pub fn new(trunk: SocketAddr) -> OutboundConfig {
        OutboundConfig {
            trunk,
            domain: None,
            caller_id: "112".into(),
            auth: None,
            max_concurrent: 10,
            ring_timeout: Duration::from_secs(30),
            idle_poll: Duration::from_secs(5),
            max_backoff: Duration::from_secs(300),
        }
    }

    fn target(&self, number: &str) -> String {
        match &self.domain {
            Some(d) => format!("sip:{number}@{d}"),
            None => format!("sip:{number}@{}", self.trunk),
        }
    }
}

/// `[outbound]` in the config file: present = the campaign runs.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSettings {
    /// The trunk / outbound proxy, HOST:PORT (an IP address).
    pub trunk: SocketAddr,
    /// Host part of the Request-URI (default: the trunk's address).
    #[serde(default)]
    pub domain: Option<String>,
    /// Our number in From (default `112`).
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Digest user name and password at the trunk (both or neither).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// At most this many calls at once (default 10, 1-1000).
    #[serde(default)]
    pub max_concurrent: Option<usize>,
    /// Ring time before a call counts as not answered (default 30 s, 5-120).
    #[serde(default)]
    pub ring_timeout_secs: Option<u64>,
    /// Wait when nothing is due (default 5 s, 1-600).
    #[serde(default)]
    pub idle_poll_secs: Option<u64>,
    /// The longest pause after trunk failures in a row (default 300 s, 1-3600).
    #[serde(default)]
    pub max_backoff_secs: Option<u64>,
}

impl std::fmt::Debug for OutboundSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundSettings")
            .field("trunk", &self.trunk)
            .field("domain", &self.domain)
            .field("username", &self.username)
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl OutboundSettings {
    /// The campaign's settings, with bounds checked naming the key.
    pub fn config(&self) -> Result<OutboundConfig, String> {
        let mut c = OutboundConfig::new(self.trunk);
        c.domain = self.domain.clone();
        if let Some(id) = &self.caller_id {
            if id.is_empty() || !id.chars().all(|ch| ch.is_ascii_digit()) {
                return Err(format!("outbound.caller_id: {id:?} is not a number"));
            }
            c.caller_id = id.clone();
        }
        c.auth = match (&self.username, &self.password) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some(UacAuth {
                username: u.clone(),
                password: p.clone(),
            }),
            (None, None) => None,
            _ => {
                return Err(
                    "outbound.username and outbound.password: give both (or neither)".into(),
                );
            }
        };
        let bounded = |key: &str, v: Option<u64>, default: u64, lo: u64, hi: u64| match v {
            None => Ok(default),
            Some(v) if (lo..=hi).contains(&v) => Ok(v),
            Some(v) => Err(format!("outbound.{key}: {v} is not in {lo}..={hi}")),
        };
        c.max_concurrent = bounded(
            "max_concurrent",
            self.max_concurrent.map(|n| n as u64),
            10,
            1,
            1000,
        )? as usize;
        c.ring_timeout = Duration::from_secs(bounded(
            "ring_timeout_secs",
            self.ring_timeout_secs,
            30,
            5,
            120,
        )?);
        c.idle_poll =
            Duration::from_secs(bounded("idle_poll_secs", self.idle_poll_secs, 5, 1, 600)?);
        c.max_backoff = Duration::from_secs(bounded(
            "max_backoff_secs",
            self.max_backoff_secs,
            300,
            1,
            3600,
        )?);
        Ok(c)
    }
}

/// A call to place, claimed from the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub claim_id: i64,
    pub ticket_id: i64,
    pub number: String,
    pub attempt: u32,
}

/// How a call ended, as reported to the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnd {
    pub result: OutboundResult,
    /// The key pressed (1-3 answered, 9 person), or none.
    pub key: Option<char>,
    /// The final SIP status of an unanswered call.
    pub sip_status: Option<u16>,
}

/// The core as the campaign sees it.
#[async_trait]
pub trait SurveyCampaignCore: Send + Sync {
    /// The next call due, if any.
    async fn claim(&self) -> Result<Option<Claim>, tonic::Status>;
    /// Reports how a claimed call ended.
    async fn finish(&self, claim: &Claim, end: &CallEnd) -> Result<(), tonic::Status>;
}

/// [`SurveyCampaignCore`] over gRPC (`SurveyService.ClaimOutboundSurvey` /
/// `FinishOutboundSurvey`), as the call server's service account.
pub struct GrpcCampaignCore {
    session: Arc<ServiceSession>,
}

impl std::fmt::Debug for GrpcCampaignCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcCampaignCore").finish_non_exhaustive()
    }
}

impl GrpcCampaignCore {
    /// Over a lazy channel to `uri`, logged in as `agent_id` (role `system`).
    pub fn connect_lazy(uri: &str, agent_id: &str, password: &str) -> Result<Self, String> {
        Ok(GrpcCampaignCore {
            session: Arc::new(ServiceSession::connect_lazy(uri, agent_id, password)?),
        })
    }
}

#[async_trait]
impl SurveyCampaignCore for GrpcCampaignCore {
    async fn claim(&self) -> Result<Option<Claim>, tonic::Status> {
        let c = self
            .session
            .call(|ch, t| async move {
                let req = t.authorize(tonic::Request::new(pb::ClaimOutboundSurveyRequest {}));
                Ok(SurveyServiceClient::new(ch)
                    .claim_outbound_survey(req)
                    .await?
                    .into_inner())
            })
            .await?;
        Ok((c.claim_id > 0).then_some(Claim {
            claim_id: c.claim_id,
            ticket_id: c.ticket_id,
            number: c.number,
            attempt: c.attempt,
        }))
    }

    async fn finish(&self, claim: &Claim, end: &CallEnd) -> Result<(), tonic::Status> {
        let req = pb::FinishOutboundSurveyRequest {
            claim_id: claim.claim_id,
            result: end.result.as_str().into(),
            key: end.key.map(String::from).unwrap_or_default(),
            sip_status: end.sip_status.map_or(0, u32::from),
        };
        let r = self
            .session
            .call(|ch, t| {
                let req = t.authorize(tonic::Request::new(req.clone()));
                async move {
                    Ok(SurveyServiceClient::new(ch)
                        .finish_outbound_survey(req)
                        .await?
                        .into_inner())
                }
            })
            .await;
        match r {
            Ok(_) => Ok(()),
            // an earlier report whose answer was lost
            Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
            Err(s) => Err(s),
        }
    }
}

/// What the campaign's calls share with the call server.
pub(crate) struct CampaignParts {
    pub ctx: CallContext,
    pub prompts: Arc<PromptCache>,
    pub queue: Arc<dyn AgentQueue>,
    pub call_log: Option<mpsc::UnboundedSender<CallSummary>>,
    pub shutdown: CancellationToken,
    /// Our SIP address, the host of From.
    pub sip_addr: SocketAddr,
}

/// Trunk failures in a row and the pause they call for.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn pause(&self, max: Duration) -> Option<Duration> {
        (self.failures > 0).then(|| {
            let secs = 1u64 << self.failures.min(16).saturating_sub(1);
            Duration::from_secs(secs).min(max)
        })
    }
}

/// Times a report of a call's end is tried before the claim is left to go stale.
const FINISH_TRIES: u32 = 5;

/// Runs the campaign until the shutdown token is cancelled, then waits for its calls.
pub(crate) async fn run(
    cfg: OutboundConfig,
    core: Arc<dyn SurveyCampaignCore>,
    parts: Arc<CampaignParts>,
) {
    let cfg = Arc::new(cfg);
    let slots = Arc::new(Semaphore::new(cfg.max_concurrent.max(1)));
    let backoff = Arc::new(Mutex::new(Backoff::default()));
    let mut calls: JoinSet<()> = JoinSet::new();
    let stop = parts.shutdown.clone();
    tracing::info!(trunk = %cfg.trunk, max_concurrent = cfg.max_concurrent, "automated survey calls: campaign running");
    loop {
        while calls.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let pause = backoff.lock().await.pause(cfg.max_backoff);
        if let Some(pause) = pause {
            tracing::warn!(?pause, "trunk refusing calls: backing off");
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        let claim = match core.claim().await {
            Ok(Some(c)) => c,
            Ok(None) => {
                drop(permit);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(cfg.idle_poll) => {}
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a survey call from the core");
                drop(permit);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(cfg.idle_poll) => {}
                }
                continue;
            }
        };
        let span = tracing::info_span!(
            "outbound",
            claim = claim.claim_id,
            ticket_id = claim.ticket_id
        );
        let (cfg, core, parts, backoff) =
            (cfg.clone(), core.clone(), parts.clone(), backoff.clone());
        calls.spawn(
            async move {
                let _permit = permit;
                let end = survey_call(&cfg, &claim, &parts).await;
                {
                    let mut b = backoff.lock().await;
                    if end.result == OutboundResult::TrunkFailed {
                        b.failures += 1;
                    } else {
                        b.failures = 0;
                    }
                }
                report(core.as_ref(), &claim, &end).await;
            }
            .instrument(span),
        );
    }
    tracing::info!(
        calls = calls.len(),
        "automated survey calls: campaign stopping"
    );
    while calls.join_next().await.is_some() {}
}

/// Reports a call's end, retried while the core does not answer.
async fn report(core: &dyn SurveyCampaignCore, claim: &Claim, end: &CallEnd) {
    for attempt in 1..=FINISH_TRIES {
        match core.finish(claim, end).await {
            Ok(()) => return,
            Err(e) if e.code() == tonic::Code::InvalidArgument => {
                tracing::error!(error = %e, "the core refused the call's report");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "cannot report the call's end; retrying");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
        }
    }
    tracing::error!("the call's end was never reported; the core closes the claim as lost");
}

/// Places one survey call and runs it to its end.
async fn survey_call(cfg: &OutboundConfig, claim: &Claim, parts: &CampaignParts) -> CallEnd {
    let ctx = &parts.ctx;
    let not_placed = |why: &str| {
        tracing::error!(why, "survey call not placed");
        CallEnd {
            result: OutboundResult::TrunkFailed,
            key: None,
            sip_status: None,
        }
    };
    let gone = parts.shutdown.child_token();
    let mut media = ctx.media.clone();
    media.shutdown = gone.clone();
    let leg = match MediaLeg::bind(&media).await {
        Ok(l) => l,
        Err(e) => return not_placed(&format!("no media leg: {e}")),
    };
    let target = cfg.target(&claim.number);
    let from_host = parts.sip_addr;
    let out = OutgoingCall {
        target: target.clone(),
        dest: cfg.trunk,
        transport: Transport::Udp,
        from: format!("sip:{}@{from_host}", cfg.caller_id),
        to: target,
        sdp: Bytes::from(leg.offer()),
        ring_timeout: Some(cfg.ring_timeout),
        auth: cfg.auth.clone(),
    };
    let (call, mut events) = match ctx.invite(out).await {
        Ok(c) => c,
        Err(e) => {
            leg.close().await;
            return not_placed(&format!("SIP: {e}"));
        }
    };
    tracing::info!(call_id = %call, attempt = claim.attempt, "survey call placed");
    // ringing until answered or failed
    let unanswered = loop {
        let ev = tokio::select! {
            () = gone.cancelled() => {
                let _ = ctx.sip.hangup(&call).await;
                break Some(None);
            }
            ev = events.recv() => ev,
        };
        match ev {
            Some(Event::Ringing { early_sdp, .. }) => {
                if let Some(sdp) = early_sdp
                    && let Err(e) = leg.accept_answer(&sdp)
                {
                    tracing::debug!(error = %e, "early media SDP refused");
                }
            }
            Some(Event::Answered { sdp, .. }) => {
                if let Some(sdp) = sdp
                    && let Err(e) = leg.accept_answer(&sdp)
                {
                    tracing::warn!(error = %e, "the customer's SDP answer refused; hanging up");
                    let _ = ctx.sip.hangup(&call).await;
                    break Some(None);
                }
                break None;
            }
            Some(Event::Failed { code, .. }) => break Some(Some(code)),
            Some(Event::TimedOut { .. } | Event::Cancelled { .. }) | None => break Some(None),
            Some(other) => tracing::debug!(event = ?other, "SIP event while ringing"),
        }
    };
    if let Some(status) = unanswered {
        ctx.router.remove(&call).await;
        leg.close().await;
        let result = OutboundResult::of_sip_status(status);
        tracing::info!(
            ?status,
            result = result.as_str(),
            "survey call not answered"
        );
        return CallEnd {
            result,
            key: None,
            sip_status: status,
        };
    }
    let mut ch = SipChannel::outgoing(
        call.clone(),
        &claim.number,
        events,
        ctx.sip.clone(),
        leg,
        parts.prompts.clone(),
        gone,
    );
    let answer = {
        let mut f = Flow::new(&mut ch, ctx.backend.as_ref(), &ctx.ivr);
        survey::run(&mut f).await
    };
    let (end, outcome) = match answer {
        Ok(SurveyAnswer::Answer(k)) => (
            CallEnd {
                result: OutboundResult::Answered,
                key: Some(k),
                sip_status: None,
            },
            Ok(FlowOutcome::Done),
        ),
        Ok(SurveyAnswer::Person) => {
            let outcome = parts
                .queue
                .take(
                    &mut ch,
                    ctx,
                    AgentRequest {
                        senior: false,
                        ticket: Some(claim.ticket_id),
                    },
                )
                .await;
            (
                CallEnd {
                    result: OutboundResult::Person,
                    key: Some(survey::PERSON),
                    sip_status: None,
                },
                outcome,
            )
        }
        Ok(SurveyAnswer::NoKey) => (
            CallEnd {
                result: OutboundResult::NoKey,
                key: None,
                sip_status: None,
            },
            Ok(FlowOutcome::Done),
        ),
        Ok(SurveyAnswer::HungUp) => (
            CallEnd {
                result: OutboundResult::NoKey,
                key: None,
                sip_status: None,
            },
            Ok(FlowOutcome::CallerHungUp),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "survey flow failed");
            (
                CallEnd {
                    result: OutboundResult::NoKey,
                    key: None,
                    sip_status: None,
                },
                Err(e),
            )
        }
    };
    ch.close().await;
    ctx.router.remove(&call).await;
    tracing::info!(result = end.result.as_str(), key = ?end.key, "survey call finished");
    if let Some(log) = &parts.call_log {
        let _ = log.send(CallSummary {
            call_id: call.0.clone(),
            caller_id: claim.number.clone(),
            outcome: outcome.map_err(|e| e.to_string()),
            played: ch.played().to_vec(),
        });
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_up_to_the_cap() {
        let max = Duration::from_secs(60);
        let mut b = Backoff::default();
        assert_eq!(b.pause(max), None);
        let pauses: Vec<u64> = (0..9)
            .map(|_| {
                b.failures += 1;
                b.pause(max).unwrap().as_secs()
            })
            .collect();
        assert_eq!(pauses, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.failures = 40;
        assert_eq!(b.pause(max), Some(max));
    }

    #[test]
    fn settings_parse_and_bad_values_name_their_key() {
        let s: OutboundSettings = toml::from_str(
            "trunk = \"192.0.2.10:5060\"\nusername = \"hl\"\npassword = \"pw\"\nmax_concurrent = 50\n",
        )
        .unwrap();
        let c = s.config().unwrap();
        assert_eq!(c.max_concurrent, 50);
        assert_eq!(c.auth.as_ref().map(|a| a.username.as_str()), Some("hl"));
        assert_eq!(c.ring_timeout, Duration::from_secs(30));
        assert!(
            !format!("{s:?}").contains("pw"),
            "the password is not in Debug"
        );
        for (text, says) in [
            ("max_concurrent = 0", "outbound.max_concurrent"),
            ("ring_timeout_secs = 1", "outbound.ring_timeout_secs"),
            ("username = \"x\"", "give both"),
            ("caller_id = \"abc\"", "outbound.caller_id"),
        ] {
            let s: OutboundSettings =
                toml::from_str(&format!("trunk = \"192.0.2.10:5060\"\n{text}\n")).unwrap();
            let e = s.config().unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
        assert!(toml::from_str::<OutboundSettings>("trunk = \"x\"").is_err());
        assert!(toml::from_str::<OutboundSettings>("trunk = \"192.0.2.1:5060\"\nfoo = 1").is_err());
    }

    #[test]
    fn request_uri_uses_the_domain_or_the_trunk() {
        let mut c = OutboundConfig::new("192.0.2.10:5060".parse().unwrap());
        assert_eq!(c.target("01066554433"), "sip:01066554433@192.0.2.10:5060");
        c.domain = Some("trunk.example.net".into());
        assert_eq!(c.target("01066554433"), "sip:01066554433@trunk.example.net");
    }
}
