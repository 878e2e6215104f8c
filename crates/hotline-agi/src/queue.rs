//! A caller the IVR sends to an agent ([`FlowOutcome::ToAgent`]) under Asterisk: joins the
//! core's queue exactly as a SIP caller does (`JoinQueue`), hears the hold announcement with
//! the position (at once, then every `hold_interval`), and every `Offer` is carried out by
//! Asterisk: `EXEC Dial <dial pattern>,<seconds left of the ring limit + 1>,<options>`.
//!
//! The default options run `U(hotline-answered^<uniqueid>)` on the agent's channel when it
//! answers, *before* Asterisk bridges: that subroutine opens a second FastAGI session
//! (script `hotline-answered`, argument the caller's unique id), which reports `ANSWERED` to
//! the core through [`AnswerHooks`] while the caller's session is still inside `Dial`. If the
//! core refuses (the offer was withdrawn: 15 s passed, the caller left), the hook sets
//! `GOSUB_RESULT=CONTINUE`, Asterisk hangs up the agent and `Dial` returns. Without the hook
//! the core could not know of the answer until the whole conversation was over.
//!
//! When `Dial` returns, `DIALSTATUS` is read: `ANSWER` after a connection → `EndCall` (the
//! agent hung up first; with `g` the caller's AGI goes on); `NOANSWER` → nothing when the
//! core has withdrawn the offer itself (its 15-second rule, `CancelOffer{no_answer}`), else
//! `ReportOffer FAILED`; `BUSY`, `CHANUNAVAIL`, `CONGESTION` → `ReportOffer FAILED` (the core
//! offers the next agent at once); `CANCEL` or the caller gone → leave the queue. A caller
//! who hangs up while waiting drops the instruction stream (the core counts an abandon); the
//! core unreachable or `ToVoicemail` → the voicemail flow.
//!
//! Without the hook (`dial_options` lacking `U(...)`), an answered `Dial` returns only after
//! the conversation: the session logs an error naming the missing hook and leaves the queue
//! (the core counts it as abandoned) rather than offer the caller again.
//!
//! Asterisk cannot stop a `Dial` through AGI: a `CancelOffer` that arrives while it rings
//! (not for the 15-second rule, whose `Dial` timeout ends with it) takes effect when the
//! agent answers (the hook is refused) or at the `Dial` timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotline_ivr::flows::{self, Flow, FlowOutcome, agent};
use hotline_ivr::prompts::id;
use hotline_ivr::{Backend, Channel, FlowError, IvrConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::channel::{AgiChannel, AgiError};
use crate::core_queue::{Instruction, JoinRequest, QueueCore};
use crate::proto::Command;

/// The ring in progress of each caller, by unique id, for the answer hook.
#[derive(Debug, Default)]
pub struct AnswerHooks {
    rings: Mutex<HashMap<String, Arc<Ring>>>,
}

/// One `Dial` in progress.
#[derive(Debug)]
pub struct Ring {
    /// The offered agent.
    pub agent_id: String,
    connected: std::sync::atomic::AtomicBool,
    /// The answer hook ran (accepted or not).
    hooked: std::sync::atomic::AtomicBool,
}

impl Ring {
    fn connected(&self) -> bool {
        self.connected.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn hooked(&self) -> bool {
        self.hooked.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl AnswerHooks {
    fn insert(&self, call_id: &str, agent_id: &str) -> Arc<Ring> {
        let ring = Arc::new(Ring {
            agent_id: agent_id.to_owned(),
            connected: false.into(),
            hooked: false.into(),
        });
        if let Ok(mut m) = self.rings.lock() {
            m.insert(call_id.to_owned(), ring.clone());
        }
        ring
    }

    fn remove(&self, call_id: &str) {
        if let Ok(mut m) = self.rings.lock() {
            m.remove(call_id);
        }
    }

    fn get(&self, call_id: &str) -> Option<Arc<Ring>> {
        self.rings.lock().ok()?.get(call_id).cloned()
    }
}

/// Settings of the agent queue.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// `PJSIP/{agent}`.
    pub dial: String,
    /// `gU(hotline-answered^{uniqueid})`.
    pub dial_options: String,
    /// Hold announcement interval.
    pub hold_interval: Duration,
    /// Longest bridged call.
    pub max_call: Duration,
}

/// Everything a transferred caller needs.
pub struct AgiQueue {
    /// The core's queue.
    pub core: Arc<dyn QueueCore>,
    /// Rings waiting for their answer hook.
    pub hooks: Arc<AnswerHooks>,
    /// Settings.
    pub settings: QueueSettings,
}

enum Waited {
    Done(FlowOutcome),
    Voicemail,
}

/// How one `Dial` ended.
enum Dialled {
    /// The caller is gone (CANCEL, hang-up, -1).
    CallerGone { connected: bool },
    /// Connected, then the agent hung up.
    AgentEnded,
    /// Not connected; the caller still waits.
    NotConnected(String),
    /// Shutdown during a bridged call: the session let go, the call goes on.
    Detached,
}

/// Keeps only what a dial string may hold of a SIP user.
fn endpoint_user(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
        .collect()
}

impl AgiQueue {
    /// Handles one transferred caller; returns how the call ended (the session hangs up).
    pub async fn take<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        ch: &mut AgiChannel<S>,
        backend: &dyn Backend,
        ivr: &IvrConfig,
        senior: bool,
        ticket: Option<i64>,
    ) -> Result<FlowOutcome, FlowError> {
        let faulty_number = match ticket {
            Some(t) => self.core.faulty_number(t).await,
            None => String::new(),
        };
        let req = JoinRequest {
            call_id: ch.call_id().to_owned(),
            caller_number: ch.caller_id().to_owned(),
            faulty_number,
            senior,
            reason: if ticket.is_some() {
                "escalation"
            } else {
                "ivr"
            }
            .into(),
        };
        let waited = match self.core.join(req).await {
            Ok(rx) => {
                tracing::info!(senior, "caller queued for an agent");
                self.wait(ch, rx).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot queue the caller");
                Ok(Waited::Voicemail)
            }
        };
        match waited {
            Ok(Waited::Done(o)) => Ok(o),
            Ok(Waited::Voicemail) if ch.is_dead() => Ok(FlowOutcome::CallerHungUp),
            Ok(Waited::Voicemail) => {
                let mut f = Flow::new(ch, backend, ivr);
                let r = async {
                    f.say(&[id::NO_AGENT]).await?;
                    flows::voicemail::run(&mut f, "").await
                }
                .await;
                flows::finish(&mut f, r).await
            }
            Err(e) => {
                let mut f = Flow::new(ch, backend, ivr);
                flows::finish(&mut f, Err(e)).await
            }
        }
    }

    async fn wait<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        ch: &mut AgiChannel<S>,
        mut rx: mpsc::Receiver<Instruction>,
    ) -> Result<Waited, FlowError> {
        let call_id = ch.call_id().to_owned();
        let mut position = 0u32;
        let mut next_announce: Option<Instant> = None;
        let mut hold: std::collections::VecDeque<&'static str> = Default::default();
        let mut offer: Option<(String, String, Instant)> = None;
        let mut backlog: std::collections::VecDeque<Instruction> = Default::default();
        loop {
            // What the core sent while we were busy with Asterisk.
            while let Ok(i) = rx.try_recv() {
                backlog.push_back(i);
            }
            while let Some(i) = backlog.pop_front() {
                match i {
                    Instruction::Position(p) => {
                        position = p;
                        if next_announce.is_none() && p > 0 {
                            next_announce = Some(Instant::now());
                        }
                    }
                    Instruction::Offer {
                        agent_id,
                        sip_user,
                        ring_timeout,
                    } => offer = Some((agent_id, sip_user, Instant::now() + ring_timeout)),
                    Instruction::CancelOffer {
                        agent_id,
                        no_answer,
                    } => {
                        if offer.as_ref().is_some_and(|o| o.0 == agent_id) {
                            tracing::info!(%agent_id, no_answer, "offer withdrawn before Dial");
                            offer = None;
                        }
                    }
                    Instruction::ToVoicemail { reason } => {
                        tracing::info!(%reason, "queue gives up: voicemail");
                        return Ok(Waited::Voicemail);
                    }
                    Instruction::Connected { agent_id } => {
                        tracing::debug!(%agent_id, "connected");
                    }
                }
            }
            if let Some((agent_id, sip_user, until)) = offer.take() {
                hold.clear();
                match self
                    .dial(
                        ch,
                        &call_id,
                        &agent_id,
                        &sip_user,
                        until,
                        &mut rx,
                        &mut backlog,
                    )
                    .await
                {
                    Dialled::CallerGone { connected } => {
                        if connected {
                            self.core.end_call(&call_id, false).await;
                        }
                        tracing::info!(connected, "caller left");
                        return Ok(Waited::Done(FlowOutcome::CallerHungUp));
                    }
                    Dialled::AgentEnded => {
                        self.core.end_call(&call_id, true).await;
                        tracing::info!("agent ended the call");
                        return Ok(Waited::Done(FlowOutcome::Done));
                    }
                    Dialled::Detached => return Ok(Waited::Done(FlowOutcome::Done)),
                    Dialled::NotConnected(status) => {
                        tracing::info!(%agent_id, %status, "agent not connected; still queued");
                    }
                }
                continue;
            }
            if let Some(p) = hold.pop_front() {
                match ch.play(&[p], false).await {
                    Ok(_) => continue,
                    Err(e) if e.is_hangup() => {
                        tracing::info!("caller left the queue");
                        return Ok(Waited::Done(FlowOutcome::CallerHungUp));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let announce = async {
                match next_announce {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let shutdown = ch.shutdown_token().clone();
            tokio::select! {
                () = shutdown.cancelled() => {
                    tracing::info!("server shutdown while queued");
                    return Err(hotline_ivr::ChannelError::Failed("the hotline is shutting down".into()).into());
                }
                i = rx.recv() => match i {
                    Some(i) => backlog.push_back(i),
                    None => {
                        tracing::warn!("queue stream ended before a connection");
                        return Ok(Waited::Voicemail);
                    }
                },
                e = ch.wait_hangup() => {
                    return match e {
                        AgiError::Hangup => {
                            tracing::info!("caller left the queue");
                            Ok(Waited::Done(FlowOutcome::CallerHungUp))
                        }
                        other => Err(hotline_ivr::ChannelError::from(other).into()),
                    };
                }
                () = announce => {
                    if position > 0 {
                        hold.extend(agent::hold_prompts(position));
                    }
                    next_announce = Some(Instant::now() + self.settings.hold_interval);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn dial<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        ch: &mut AgiChannel<S>,
        call_id: &str,
        agent_id: &str,
        sip_user: &str,
        until: Instant,
        rx: &mut mpsc::Receiver<Instruction>,
        backlog: &mut std::collections::VecDeque<Instruction>,
    ) -> Dialled {
        let left = until.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(500) {
            return Dialled::NotConnected("ring limit already over".into());
        }
        // One second over the core's limit: its no-answer CancelOffer comes first.
        let secs = left.as_millis().div_ceil(1000) as u64 + 1;
        let target = self
            .settings
            .dial
            .replace("{agent}", &endpoint_user(sip_user));
        let options = self.settings.dial_options.replace("{uniqueid}", call_id);
        let cmd = Command::Exec {
            app: "Dial".into(),
            args: format!("{target},{secs},{options}"),
        };
        tracing::info!(%agent_id, dial = %cmd.encode().trim_end(), "ringing the agent");
        let ring = self.core_ring(call_id, agent_id);
        let result = async {
            ch.send(&cmd).await?;
            let mut deadline = Instant::now() + Duration::from_secs(secs) + Duration::from_secs(10);
            loop {
                match ch.recv_reply("EXEC", deadline).await {
                    Err(AgiError::Timeout { .. }) if ring.connected() => {
                        deadline = Instant::now()
                            .checked_add(self.settings.max_call)
                            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
                    }
                    Err(AgiError::Timeout { command, .. }) => {
                        return Err(AgiError::Timeout {
                            command,
                            after: Duration::from_secs(secs + 10),
                        });
                    }
                    other => return other,
                }
            }
        }
        .await;
        self.hooks.remove(call_id);
        let connected = ring.connected();
        let reply = match result {
            Ok(r) => r,
            Err(AgiError::Hangup) => return Dialled::CallerGone { connected },
            Err(AgiError::Shutdown) if connected => {
                // Leave the conversation up: Asterisk bridges it without us.
                tracing::warn!("hotline shutting down: the bridged call stays up in Asterisk");
                ch.detach();
                return Dialled::Detached;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Dial failed");
                if !connected {
                    let _ = self.core.report_offer(call_id, agent_id, false).await;
                }
                return Dialled::CallerGone { connected };
            }
        };
        if reply.is_failure() || ch.is_dead() {
            return Dialled::CallerGone { connected };
        }
        let status = match ch.get_variable("DIALSTATUS").await {
            Ok(s) => s.unwrap_or_default(),
            Err(AgiError::Hangup) => return Dialled::CallerGone { connected },
            Err(e) => {
                tracing::warn!(error = %e, "DIALSTATUS not read");
                String::new()
            }
        };
        tracing::info!(%agent_id, %status, connected, "Dial returned");
        match status.as_str() {
            "ANSWER" if connected => Dialled::AgentEnded,
            "CANCEL" => Dialled::CallerGone { connected },
            "NOANSWER" => {
                // The core's own 15-second rule withdraws the offer; report only if it did not.
                tokio::time::sleep(Duration::from_millis(50)).await;
                while let Ok(i) = rx.try_recv() {
                    backlog.push_back(i);
                }
                let cancelled = backlog.iter().any(
                    |i| matches!(i, Instruction::CancelOffer { agent_id: a, .. } if a == agent_id),
                );
                if !cancelled {
                    let _ = self.core.report_offer(call_id, agent_id, false).await;
                }
                Dialled::NotConnected(status)
            }
            "ANSWER" if ring.hooked() => {
                Dialled::NotConnected("answered too late: the core had withdrawn the offer".into())
            }
            "ANSWER" => {
                // Bridged by Asterisk without the hook: the core never heard of the answer.
                tracing::error!(
                    %agent_id,
                    "the agent answered but the hotline-answered hook did not run: add \
                     U(hotline-answered^{{uniqueid}}) to [agi] dial_options and the context from \
                     deploy/asterisk/extensions.conf; the call leaves the queue uncounted"
                );
                Dialled::CallerGone { connected: false }
            }
            _ => {
                // BUSY, CHANUNAVAIL, CONGESTION, anything else: the core offers the next agent.
                if let Err(e) = self.core.report_offer(call_id, agent_id, false).await {
                    tracing::debug!(error = %e, "ReportOffer FAILED not taken");
                }
                Dialled::NotConnected(status)
            }
        }
    }

    fn core_ring(&self, call_id: &str, agent_id: &str) -> Arc<Ring> {
        self.hooks.insert(call_id, agent_id)
    }

    /// The `hotline-answered` session: the agent answered the ring of caller `caller`.
    /// Reports it to the core; refused → `GOSUB_RESULT=CONTINUE` (Asterisk hangs up the
    /// agent, the caller waits on).
    pub async fn answered_hook<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        ch: &mut AgiChannel<S>,
        caller: &str,
    ) {
        let accepted = match self.hooks.get(caller) {
            None => {
                tracing::warn!(
                    caller,
                    "answer hook for a call that is not ringing an agent"
                );
                false
            }
            Some(ring) => {
                ring.hooked.store(true, std::sync::atomic::Ordering::SeqCst);
                match self.core.report_offer(caller, &ring.agent_id, true).await {
                    Ok(()) => {
                        ring.connected
                            .store(true, std::sync::atomic::Ordering::SeqCst);
                        tracing::info!(caller, agent_id = %ring.agent_id, "agent answered: connected");
                        true
                    }
                    Err(e) => {
                        tracing::info!(caller, agent_id = %ring.agent_id, error = %e, "answer came too late");
                        false
                    }
                }
            }
        };
        if !accepted {
            let _ = ch.set_variable("GOSUB_RESULT", "CONTINUE").await;
            ch.verbose("hotline: this call is no longer offered to you")
                .await;
        }
    }
}

#[cfg(test)]
mod tests;
