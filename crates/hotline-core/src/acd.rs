//! The agent queue at run time (JO2, JO8, PR1). The pure [`hotline_acd::Acd`] state machine
//! sits behind one mutex; `QueueService` calls, agents' presence changes and a timer task feed
//! it; its actions become instructions on the waiting call's stream (ring, stop ringing,
//! voicemail, connected) and events on agents' feeds (screen pop, offer ended, alerts); its
//! log is appended to the store's `queue_log` by a writer task.
//!
//! Invariants:
//! - every state change goes through the state machine under the lock, and its actions and
//!   log entries are drained in the same critical section, so instructions leave in the order
//!   the machine decided them;
//! - a call's instruction stream ends exactly when the call leaves the queue (voicemail,
//!   ended, abandoned); dropping the stream from the call server's side abandons the call;
//! - time comes from the injected [`Clock`]; the timer task re-reads it at least every
//!   250 ms, so a manual clock in tests drives the 15 s rule too.

use crate::clock::Clock;
use crate::events::{AgentAlertKind, DeskEvent, EventBus, OfferEndReason};
use crate::metrics::{CoreMetrics, QueueWatch};
use hotline_acd::{
    Acd, AcdAction, AcdConfig, AcdError, CallEnd, Presence, QueueLogEntry, Skill, SlRules,
};
use hotline_domain::named::named_enum;
use hotline_domain::{Customer, Role, Ticket, Timestamp};
use hotline_store::{QueueLogRow, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// The queue's time rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcdSettings {
    /// JO2: an offered call must be answered within this long (15 s; shorter only in tests).
    pub answer_timeout: Duration,
    /// After this long waiting, the caller is offered voicemail.
    pub max_wait: Duration,
    /// Wrap-up after a call before the next offer.
    pub wrap_up: Duration,
    /// Consecutive no-answers after which an agent is set not ready.
    pub misses_before_not_ready: u32,
}

impl Default for AcdSettings {
    fn default() -> Self {
        AcdSettings {
            answer_timeout: Duration::from_secs(15),
            max_wait: Duration::from_secs(180),
            wrap_up: Duration::from_secs(10),
            misses_before_not_ready: 2,
        }
    }
}

/// What the call server must do for one waiting call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    Position(u32),
    Offer {
        agent_id: String,
        agent_name: String,
        ring_timeout_ms: u32,
    },
    CancelOffer {
        agent_id: String,
        no_answer: bool,
    },
    /// The last instruction of a call that leaves for voicemail.
    ToVoicemail {
        reason: VoicemailReason,
    },
    Connected {
        agent_id: String,
    },
}

/// What the offered agent's screen shows (the screen pop), fetched once when the call joins.
#[derive(Clone, Debug)]
pub struct CallInfo {
    pub call_id: String,
    pub caller_number: String,
    pub faulty_number: String,
    pub senior: bool,
    pub reason: String,
    pub customer: Option<Customer>,
    /// Newest first.
    pub recent: Vec<Ticket>,
    /// An open ticket exists for the number.
    pub repeat: bool,
}

named_enum!(
    /// Why a queued call goes to voicemail (`ToVoicemail.reason`).
    VoicemailReason {
        /// It waited the maximum time.
        MaxWait = "max_wait", "等待超时";
        /// Nobody is logged in.
        NoAgents = "no_agents", "无话务员登录";
    }
);

named_enum!(
    /// Where a queued call is (`QueueEntry.state` on the wire, the `state` label of the
    /// `/metrics` queue gauge).
    QueueCallState {
        /// Waiting for an agent.
        Waiting = "waiting", "排队中";
        /// Ringing an agent's softphone.
        Offered = "offered", "振铃中";
        /// Bridged to an agent.
        Connected = "connected", "通话中";
    }
);

/// A call as `ListQueue` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueEntry {
    pub call_id: String,
    pub caller_number: String,
    pub senior: bool,
    pub state: QueueCallState,
    pub agent_id: String,
    pub entered_at: Timestamp,
}

/// Errors of queue operations, mapped to gRPC codes by `error::to_status`'s caller.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("call {0} is already in the queue")]
    Duplicate(String),
    #[error("call {0} is not in the queue")]
    UnknownCall(String),
    #[error(
        "call {call} is not being offered to agent {agent}; it was answered elsewhere, timed out or the caller left"
    )]
    NotOffered { call: String, agent: String },
    #[error("presence {presence}: {reason}")]
    Presence { presence: String, reason: String },
}

struct CallMeta {
    tx: mpsc::UnboundedSender<Instruction>,
    info: Arc<CallInfo>,
    entered_at: Timestamp,
    state: QueueCallState,
    agent: String,
    position: u32,
}

struct State {
    acd: Acd,
    calls: HashMap<String, CallMeta>,
    names: HashMap<String, String>,
    watch: QueueWatch,
}

struct Shared {
    st: Mutex<State>,
    wake: Notify,
    clock: Arc<dyn Clock>,
    bus: EventBus,
    log_tx: mpsc::UnboundedSender<QueueLogRow>,
    settings: AcdSettings,
    queue_name: &'static str,
    metrics: CoreMetrics,
    sl: SlRules,
}

/// The running queue; cheap to clone.
#[derive(Clone)]
pub struct AcdHandle(Arc<Shared>);

/// Where an agent's role puts it in the queue: juniors take ordinary calls, seniors (and
/// admins standing in) take senior calls first and ordinary ones as overflow; other roles
/// take no calls.
pub fn tier_for(role: Role) -> Option<Skill> {
    match role {
        Role::Junior => Some(Skill::Ordinary),
        Role::Senior | Role::Admin => Some(Skill::Senior),
        _ => None,
    }
}

impl AcdHandle {
    /// Creates the queue and spawns its timer task and log writer; both stop on `cancel`
    /// (the writer after writing what is left). Its log is counted into `metrics` as it is
    /// written, judged by `sl` (the service level's thresholds).
    pub fn start(
        settings: AcdSettings,
        clock: Arc<dyn Clock>,
        bus: EventBus,
        store: Store,
        cancel: CancellationToken,
        metrics: CoreMetrics,
        sl: SlRules,
    ) -> (AcdHandle, Vec<tokio::task::JoinHandle<()>>) {
        let cfg = AcdConfig {
            queue_name: "hotline",
            answer_timeout_ms: settings.answer_timeout.as_millis() as i64,
            max_wait_ms: settings.max_wait.as_millis() as i64,
            wrap_up_ms: settings.wrap_up.as_millis() as i64,
            misses_before_not_ready: settings.misses_before_not_ready,
        };
        let (log_tx, log_rx) = mpsc::unbounded_channel();
        let h = AcdHandle(Arc::new(Shared {
            st: Mutex::new(State {
                acd: Acd::new(cfg.clone()),
                calls: HashMap::new(),
                names: HashMap::new(),
                watch: QueueWatch::default(),
            }),
            wake: Notify::new(),
            clock,
            bus,
            log_tx,
            settings,
            queue_name: cfg.queue_name,
            metrics,
            sl,
        }));
        let timer = tokio::spawn(timer_task(h.clone(), cancel.clone()));
        let writer = tokio::spawn(log_writer(store, log_rx, cancel));
        (h, vec![timer, writer])
    }

    pub fn settings(&self) -> &AcdSettings {
        &self.0.settings
    }

    pub fn queue_name(&self) -> &'static str {
        self.0.queue_name
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // a panic while holding the lock would be a bug in the state machine; keep serving
        self.0.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> i64 {
        self.0.clock.now().0
    }

    // ---- presence --------------------------------------------------------------------------

    /// An agent of `role` sets its presence. Only `available`, `not_ready` and `logged_out`
    /// can be chosen; `ringing`, `on_call` and `wrap_up` are the queue's to set. Roles that
    /// take no calls are not tracked here.
    pub fn set_presence(
        &self,
        agent: &str,
        name: &str,
        role: Role,
        presence: Presence,
    ) -> Result<(), QueueError> {
        let Some(tier) = tier_for(role) else {
            return Ok(());
        };
        let now = self.now();
        let mut st = self.lock();
        st.names.insert(agent.to_string(), name.to_string());
        let r = match presence {
            Presence::Available => {
                st.acd.handle_login(now, agent, tier);
                st.acd.handle_available(now, agent)
            }
            Presence::NotReady => {
                st.acd.handle_login(now, agent, tier);
                st.acd.handle_not_ready(now, agent)
            }
            Presence::LoggedOut => match st.acd.presence(agent) {
                None => Ok(()),
                Some(_) => st.acd.handle_logout(now, agent),
            },
            other @ (Presence::Ringing | Presence::OnCall | Presence::WrapUp) => {
                return Err(QueueError::Presence {
                    presence: other.as_str().to_string(),
                    reason: "set by the queue, not by the agent; choose available, not_ready or logged_out".into(),
                });
            }
        };
        if let Err(AcdError::AgentBusy { presence, .. }) = &r {
            return Err(QueueError::Presence {
                presence: presence.to_string(),
                reason: "the agent has a call ringing or connected; finish it first".into(),
            });
        }
        self.drain(&mut st, now);
        Ok(())
    }

    /// The queue's view of an agent's presence, when it tracks the agent.
    pub fn presence(&self, agent: &str) -> Option<Presence> {
        self.lock().acd.presence(agent)
    }

    pub fn no_answers(&self, agent: &str) -> u64 {
        self.lock().acd.no_answers(agent)
    }

    // ---- calls -----------------------------------------------------------------------------

    /// A caller joins; the returned receiver carries its instructions (the first is its
    /// position, or voicemail when nobody is logged in).
    pub fn join(&self, info: CallInfo) -> Result<mpsc::UnboundedReceiver<Instruction>, QueueError> {
        let now = self.now();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.lock();
        if st.calls.contains_key(&info.call_id) {
            return Err(QueueError::Duplicate(info.call_id));
        }
        let need = if info.senior {
            Skill::Senior
        } else {
            Skill::Ordinary
        };
        let call_id = info.call_id.clone();
        let caller = info.caller_number.clone();
        st.calls.insert(
            call_id.clone(),
            CallMeta {
                tx,
                info: Arc::new(info),
                entered_at: Timestamp(now),
                state: QueueCallState::Waiting,
                agent: String::new(),
                position: 0,
            },
        );
        if let Err(e) = st.acd.handle_enqueue(now, &call_id, &caller, need) {
            st.calls.remove(&call_id);
            return Err(match e {
                AcdError::DuplicateCall(c) => QueueError::Duplicate(c),
                other => QueueError::UnknownCall(other.to_string()),
            });
        }
        self.drain(&mut st, now);
        drop(st);
        self.0.wake.notify_one();
        Ok(rx)
    }

    /// The ring of an offer ended: answered (connect) or failed (re-offer).
    pub fn report_offer(&self, call: &str, agent: &str, answered: bool) -> Result<(), QueueError> {
        let now = self.now();
        let mut st = self.lock();
        let r = if answered {
            st.acd.handle_answered(now, call, agent)
        } else {
            st.acd.handle_offer_failed(now, call, agent)
        };
        match r {
            Ok(()) => {
                if answered && let Some(c) = st.calls.get_mut(call) {
                    c.state = QueueCallState::Connected;
                    c.agent = agent.to_string();
                    let _ = c.tx.send(Instruction::Connected {
                        agent_id: agent.to_string(),
                    });
                    let info = c.info.clone();
                    self.0.bus.publish(DeskEvent::CallConnected {
                        agent_id: agent.to_string(),
                        info,
                    });
                }
                self.drain(&mut st, now);
                drop(st);
                self.0.wake.notify_one();
                Ok(())
            }
            Err(AcdError::UnknownCall(c)) => Err(QueueError::UnknownCall(c)),
            Err(AcdError::NotOffered { call, agent }) => {
                if answered {
                    // tell that agent's desktop the call went elsewhere
                    self.0.bus.publish(DeskEvent::CallOfferEnded {
                        agent_id: agent.clone(),
                        call_id: call.clone(),
                        reason: OfferEndReason::AnsweredElsewhere,
                    });
                }
                Err(QueueError::NotOffered { call, agent })
            }
            Err(e) => Err(QueueError::UnknownCall(e.to_string())),
        }
    }

    /// The call ended (connected: by caller or agent) or the caller left while waiting.
    pub fn end_call(&self, call: &str, by_agent: bool) -> Result<(), QueueError> {
        let now = self.now();
        let mut st = self.lock();
        let by = if by_agent {
            CallEnd::Agent
        } else {
            CallEnd::Caller
        };
        match st.acd.handle_hangup(now, call, by) {
            Ok(()) => {}
            Err(AcdError::UnknownCall(c)) => {
                st.calls.remove(call);
                return Err(QueueError::UnknownCall(c));
            }
            Err(e) => return Err(QueueError::UnknownCall(e.to_string())),
        }
        self.drain(&mut st, now);
        // dropping the sender ends the call's instruction stream
        st.calls.remove(call);
        drop(st);
        self.0.wake.notify_one();
        Ok(())
    }

    /// The call server's stream for `call` went away (the caller hung up, or the server
    /// died): abandon the call if it is still queued. A no-op after `end_call`.
    pub fn stream_closed(&self, call: &str) {
        let now = self.now();
        let mut st = self.lock();
        if !st.calls.contains_key(call) {
            return;
        }
        let _ = st.acd.handle_abandon(now, call);
        self.drain(&mut st, now);
        st.calls.remove(call);
        drop(st);
        self.0.wake.notify_one();
    }

    /// Fires due timers (the timer task calls this; tests may too).
    pub fn tick(&self) {
        let now = self.now();
        let mut st = self.lock();
        st.acd.handle_timeout(now);
        self.drain(&mut st, now);
    }

    fn next_timeout(&self) -> Option<i64> {
        self.lock().acd.poll_timeout()
    }

    pub fn list(&self) -> Vec<QueueEntry> {
        let st = self.lock();
        let mut v: Vec<QueueEntry> = st
            .calls
            .values()
            .map(|c| QueueEntry {
                call_id: c.info.call_id.clone(),
                caller_number: c.info.caller_number.clone(),
                senior: c.info.senior,
                state: c.state,
                agent_id: c.agent.clone(),
                entered_at: c.entered_at,
            })
            .collect();
        v.sort_by(|a, b| (a.entered_at, &a.call_id).cmp(&(b.entered_at, &b.call_id)));
        v
    }

    pub fn waiting(&self) -> usize {
        self.lock().acd.waiting()
    }

    /// Agents tracked by the queue per presence.
    pub fn presence_counts(&self, agents: &[String]) -> HashMap<Presence, u64> {
        let st = self.lock();
        let mut m = HashMap::new();
        for a in agents {
            if let Some(p) = st.acd.presence(a) {
                *m.entry(p).or_insert(0) += 1;
            }
        }
        m
    }

    /// Turns the machine's actions and log into instructions, events and stored rows.
    fn drain(&self, st: &mut State, now: i64) {
        let ring_timeout_ms = self.0.settings.answer_timeout.as_millis() as u32;
        while let Some(a) = st.acd.poll_action() {
            match a {
                AcdAction::Offer { call, agent } => {
                    st.watch.offered(&call, now);
                    let name = st.names.get(&agent).cloned().unwrap_or_default();
                    if let Some(c) = st.calls.get_mut(&call) {
                        c.state = QueueCallState::Offered;
                        c.agent = agent.clone();
                        let _ = c.tx.send(Instruction::Offer {
                            agent_id: agent.clone(),
                            agent_name: name,
                            ring_timeout_ms,
                        });
                        tracing::info!(call_id = %call, agent_id = %agent, "offering call");
                        self.0.bus.publish(DeskEvent::CallOffered {
                            agent_id: agent,
                            info: c.info.clone(),
                            ring_timeout_ms,
                        });
                    }
                }
                AcdAction::CancelOffer {
                    call,
                    agent,
                    no_answer,
                } => {
                    if let Some(c) = st.calls.get_mut(&call) {
                        c.state = QueueCallState::Waiting;
                        c.agent.clear();
                        let _ = c.tx.send(Instruction::CancelOffer {
                            agent_id: agent.clone(),
                            no_answer,
                        });
                    }
                    // the machine withdraws an offer without a no-answer only when the caller left
                    let reason = if no_answer {
                        OfferEndReason::NoAnswer
                    } else {
                        OfferEndReason::CallerHungUp
                    };
                    self.0.bus.publish(DeskEvent::CallOfferEnded {
                        agent_id: agent.clone(),
                        call_id: call.clone(),
                        reason,
                    });
                    if no_answer {
                        tracing::warn!(call_id = %call, agent_id = %agent, "agent did not answer within the limit");
                        self.0.bus.publish(DeskEvent::AgentAlert {
                            agent_id: agent.clone(),
                            kind: AgentAlertKind::NoAnswer,
                            call_id: call.clone(),
                            message: format!(
                                "话务员 {agent} 未在 {} 秒内应答来电，已转其他话务员",
                                ring_timeout_ms / 1000
                            ),
                        });
                    }
                }
                AcdAction::ToVoicemail { call } => {
                    if let Some(c) = st.calls.remove(&call) {
                        let reason = if st.acd_logged_in_any() {
                            VoicemailReason::MaxWait
                        } else {
                            VoicemailReason::NoAgents
                        };
                        tracing::info!(call_id = %call, reason = reason.as_str(), "caller offered voicemail");
                        let _ = c.tx.send(Instruction::ToVoicemail { reason });
                    }
                }
                AcdAction::AgentNotReady { agent, misses } => {
                    tracing::warn!(agent_id = %agent, misses, "agent set not ready after missed calls");
                    self.0.bus.publish(DeskEvent::AgentAlert {
                        agent_id: agent.clone(),
                        kind: AgentAlertKind::NotReady,
                        call_id: String::new(),
                        message: format!("话务员 {agent} 连续 {misses} 次未应答，已置为未就绪"),
                    });
                }
            }
        }
        // positions of waiting calls, sent when they change
        let ids: Vec<String> = st
            .calls
            .iter()
            .filter(|(_, c)| c.state == QueueCallState::Waiting)
            .map(|(k, _)| k.clone())
            .collect();
        for id in ids {
            let pos = st.acd.position(&id).unwrap_or(0) as u32;
            if let Some(c) = st.calls.get_mut(&id)
                && pos != 0
                && pos != c.position
            {
                c.position = pos;
                let _ = c.tx.send(Instruction::Position(pos));
            }
        }
        while let Some(e) = st.acd.poll_log() {
            self.0.metrics.observe_queue(&mut st.watch, self.0.sl, &e);
            let _ = self.0.log_tx.send(row(&e));
        }
    }
}

impl State {
    fn acd_logged_in_any(&self) -> bool {
        self.names
            .keys()
            .any(|a| !matches!(self.acd.presence(a), None | Some(Presence::LoggedOut)))
    }
}

fn row(e: &QueueLogEntry) -> QueueLogRow {
    QueueLogRow {
        id: 0,
        at: Timestamp(e.at_ms),
        call_id: e.call_id.clone(),
        queue: e.queue.to_string(),
        agent: e.agent.clone(),
        event: e.event.as_str().to_string(),
        data: e.data.clone(),
    }
}

/// Stored rows back into the shape the metrics read.
pub fn entries(rows: &[QueueLogRow], queue: &'static str) -> Vec<QueueLogEntry> {
    rows.iter()
        .filter_map(|r| {
            Some(QueueLogEntry {
                at_ms: r.at.0,
                call_id: r.call_id.clone(),
                queue,
                agent: r.agent.clone(),
                event: hotline_acd::QueueEvent::parse(&r.event)?,
                data: r.data.clone(),
            })
        })
        .collect()
}

async fn timer_task(h: AcdHandle, cancel: CancellationToken) {
    const MAX_SLEEP_MS: i64 = 250;
    loop {
        let now = h.now();
        let wait = h
            .next_timeout()
            .map(|t| (t - now).clamp(0, MAX_SLEEP_MS))
            .unwrap_or(MAX_SLEEP_MS);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = h.0.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
        }
        h.tick();
    }
}

/// Appends the queue log in batches; keeps rows and retries while the store is unavailable;
/// writes what is left at shutdown.
async fn log_writer(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<QueueLogRow>,
    cancel: CancellationToken,
) {
    let mut pending: Vec<QueueLogRow> = Vec::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        if pending.is_empty() {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(row) => pending.push(row),
                    None => break,
                },
                _ = cancel.cancelled() => break,
            }
        }
        while pending.len() < 1000 {
            match rx.try_recv() {
                Ok(row) => pending.push(row),
                Err(_) => break,
            }
        }
        match store.append_queue_log(&pending).await {
            Ok(()) => {
                pending.clear();
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                tracing::warn!(error = %e, rows = pending.len(), "cannot write the queue log yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = cancel.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    while let Ok(row) = rx.try_recv() {
        pending.push(row);
    }
    if !pending.is_empty()
        && let Err(e) = store.append_queue_log(&pending).await
    {
        tracing::error!(error = %e, rows = pending.len(), "queue log rows lost at shutdown");
    }
}

#[cfg(test)]
mod tests {
    use super::{QueueCallState, VoicemailReason};
    use crate::events::{AgentAlertKind, OfferEndReason};

    #[test]
    fn queue_reasons_and_alert_kinds_keep_their_wire_names() {
        assert_eq!(
            VoicemailReason::ALL.map(|r| r.as_str()),
            ["max_wait", "no_agents"]
        );
        assert_eq!(
            OfferEndReason::ALL.map(|r| r.as_str()),
            ["no_answer", "caller_hung_up", "answered_elsewhere"]
        );
        assert_eq!(
            AgentAlertKind::ALL.map(|k| k.as_str()),
            ["no_answer", "not_ready"]
        );
    }

    #[test]
    fn queue_call_states_keep_their_wire_names_and_desktop_labels() {
        let named: Vec<_> = QueueCallState::ALL
            .iter()
            .map(|s| (s.as_str(), s.label_zh()))
            .collect();
        assert_eq!(
            named,
            [
                ("waiting", "排队中"),
                ("offered", "振铃中"),
                ("connected", "通话中")
            ]
        );
    }
}
