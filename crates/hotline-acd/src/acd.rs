//! The ACD state machine (JO2, JO8, PR1): who gets the next offer, the 15-second answer rule,
//! re-offers, not-ready after repeated misses, maximum wait, wrap-up. Sans-I/O: inputs carry
//! `now` (ms since the epoch); outputs are polled.

use crate::queue_log::{QueueEvent, QueueLogEntry};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// What a call needs / what an agent can take. Seniors also take ordinary calls when no
/// junior is idle (overflow); juniors never take senior calls (JO8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skill {
    Ordinary,
    Senior,
}

/// An agent's presence: the domain's one enum (wire names and labels in one place).
pub use hotline_domain::role::Presence;

#[derive(Clone, Debug)]
pub struct AcdConfig {
    pub queue_name: &'static str,
    /// JO2: an offered call must be answered within this long (15 s; shorter only in tests).
    pub answer_timeout_ms: i64,
    /// After this long in queue the caller is offered voicemail.
    pub max_wait_ms: i64,
    pub wrap_up_ms: i64,
    /// Consecutive no-answers after which an agent is set not ready.
    pub misses_before_not_ready: u32,
}

impl Default for AcdConfig {
    fn default() -> Self {
        AcdConfig {
            queue_name: "hotline",
            answer_timeout_ms: 15_000,
            max_wait_ms: 180_000,
            wrap_up_ms: 10_000,
            misses_before_not_ready: 2,
        }
    }
}

/// What the caller of the ACD must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcdAction {
    /// Ring this agent for this call (screen pop on the agent's desktop too).
    Offer { call: String, agent: String },
    /// Stop ringing: the 15 s passed (`no_answer`) or the caller hung up.
    CancelOffer {
        call: String,
        agent: String,
        no_answer: bool,
    },
    /// Offer the caller voicemail (max wait reached, or nobody logged in).
    ToVoicemail { call: String },
    /// The agent was set not ready after consecutive no-answers (raise an alert).
    AgentNotReady { agent: String, misses: u32 },
}

/// Who ended a connected call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallEnd {
    Caller,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    #[error("unknown agent {0}")]
    UnknownAgent(String),
    #[error("unknown call {0}")]
    UnknownCall(String),
    #[error("call {0} is already queued")]
    DuplicateCall(String),
    #[error(
        "call {call} is not being offered to agent {agent}; another agent may have answered it"
    )]
    NotOffered { call: String, agent: String },
    #[error("agent {agent} is {presence} and cannot do that now")]
    AgentBusy {
        agent: String,
        presence: &'static str,
    },
}

type Key = (i64, u64);

#[derive(Clone, Debug)]
struct Agent {
    tier: Skill,
    presence: Presence,
    idle_key: Key,
    misses: u32,
    no_answers: u64,
    call: Option<String>,
    wrap_until: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum CallState {
    Waiting,
    Offered { agent: String, at: i64 },
    Connected { agent: String, at: i64 },
}

#[derive(Clone, Debug)]
struct Call {
    caller: String,
    need: Skill,
    /// Which queue it waits in (a senior call with no senior logged in overflows).
    queue: Skill,
    key: Key,
    orig_position: usize,
    state: CallState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    OfferTimeout,
    MaxWait,
    WrapUpEnd,
}

#[derive(Default)]
pub struct Acd {
    cfg: AcdConfig,
    seq: u64,
    agents: HashMap<String, Agent>,
    idle: [BTreeSet<(Key, String)>; 2],
    queues: [BTreeMap<Key, String>; 2],
    calls: HashMap<String, Call>,
    timers: BTreeSet<(i64, u64, TimerKind, String)>,
    actions: VecDeque<AcdAction>,
    log: VecDeque<QueueLogEntry>,
}

fn tier_index(s: Skill) -> usize {
    match s {
        Skill::Ordinary => 0,
        Skill::Senior => 1,
    }
}

impl Acd {
    pub fn new(cfg: AcdConfig) -> Self {
        Acd {
            cfg,
            ..Default::default()
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn log(&mut self, now: i64, call: &str, agent: &str, event: QueueEvent, data: [String; 3]) {
        self.log.push_back(QueueLogEntry {
            at_ms: now,
            call_id: call.to_string(),
            queue: self.cfg.queue_name,
            agent: agent.to_string(),
            event,
            data,
        });
    }

    fn timer(&mut self, at: i64, kind: TimerKind, id: &str) {
        let seq = self.next_seq();
        self.timers.insert((at, seq, kind, id.to_string()));
    }

    fn make_idle(&mut self, agent: &str, key: Key) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.presence = Presence::Available;
            a.idle_key = key;
            a.call = None;
            self.idle[tier_index(a.tier)].insert((key, agent.to_string()));
        }
    }

    fn remove_idle(&mut self, agent: &str) {
        if let Some(a) = self.agents.get(agent) {
            self.idle[tier_index(a.tier)].remove(&(a.idle_key, agent.to_string()));
        }
    }

    fn logged_in(&self, tier: Skill) -> bool {
        self.agents.values().any(|a| {
            a.presence != Presence::LoggedOut && (a.tier == tier || tier == Skill::Ordinary)
        })
    }

    // ---- agents ----------------------------------------------------------------------------

    /// An agent logs in (not ready until [`Acd::handle_available`]).
    pub fn handle_login(&mut self, now: i64, agent: &str, tier: Skill) {
        let _ = now;
        self.agents.entry(agent.to_string()).or_insert(Agent {
            tier,
            presence: Presence::NotReady,
            idle_key: (0, 0),
            misses: 0,
            no_answers: 0,
            call: None,
            wrap_until: 0,
        });
    }

    /// Ready for calls. The agent joins the end of the idle line.
    pub fn handle_available(&mut self, now: i64, agent: &str) -> Result<(), AcdError> {
        let a = self
            .agents
            .get(agent)
            .ok_or_else(|| AcdError::UnknownAgent(agent.into()))?;
        match a.presence {
            Presence::Available => return Ok(()),
            Presence::Ringing | Presence::OnCall => {
                return Err(AcdError::AgentBusy {
                    agent: agent.into(),
                    presence: a.presence.as_str(),
                });
            }
            Presence::LoggedOut | Presence::NotReady | Presence::WrapUp => {}
        }
        if let Some(a) = self.agents.get_mut(agent) {
            a.misses = 0;
        }
        let key = (now, self.next_seq());
        self.make_idle(agent, key);
        self.dispatch(now);
        Ok(())
    }

    pub fn handle_not_ready(&mut self, now: i64, agent: &str) -> Result<(), AcdError> {
        let _ = now;
        let a = self
            .agents
            .get(agent)
            .ok_or_else(|| AcdError::UnknownAgent(agent.into()))?;
        if matches!(a.presence, Presence::Ringing | Presence::OnCall) {
            return Err(AcdError::AgentBusy {
                agent: agent.into(),
                presence: a.presence.as_str(),
            });
        }
        self.remove_idle(agent);
        if let Some(a) = self.agents.get_mut(agent) {
            a.presence = Presence::NotReady;
        }
        Ok(())
    }

    pub fn handle_logout(&mut self, now: i64, agent: &str) -> Result<(), AcdError> {
        self.handle_not_ready(now, agent)?;
        if let Some(a) = self.agents.get_mut(agent) {
            a.presence = Presence::LoggedOut;
        }
        Ok(())
    }

    pub fn presence(&self, agent: &str) -> Option<Presence> {
        self.agents.get(agent).map(|a| a.presence)
    }

    /// No-answers counted against an agent.
    pub fn no_answers(&self, agent: &str) -> u64 {
        self.agents.get(agent).map(|a| a.no_answers).unwrap_or(0)
    }

    // ---- calls -----------------------------------------------------------------------------

    /// A caller asks for an agent. `need` is [`Skill::Senior`] for big/important/leased-line
    /// callers and escalations (JO8).
    pub fn handle_enqueue(
        &mut self,
        now: i64,
        call: &str,
        caller: &str,
        need: Skill,
    ) -> Result<(), AcdError> {
        if self.calls.contains_key(call) {
            return Err(AcdError::DuplicateCall(call.into()));
        }
        if !self.logged_in(Skill::Ordinary) {
            self.log(
                now,
                call,
                "",
                QueueEvent::EnterQueue,
                [String::new(), caller.into(), String::new()],
            );
            self.log(
                now,
                call,
                "",
                QueueEvent::ExitEmpty,
                ["1".into(), String::new(), String::new()],
            );
            self.actions
                .push_back(AcdAction::ToVoicemail { call: call.into() });
            return Ok(());
        }
        // a senior call waits for a senior; with no senior logged in it overflows to everyone
        let queue = if need == Skill::Senior && !self.logged_in(Skill::Senior) {
            Skill::Ordinary
        } else {
            need
        };
        let key = (now, self.next_seq());
        let position = self.queues[tier_index(queue)].len() + 1;
        self.queues[tier_index(queue)].insert(key, call.to_string());
        self.calls.insert(
            call.to_string(),
            Call {
                caller: caller.into(),
                need,
                queue,
                key,
                orig_position: position,
                state: CallState::Waiting,
            },
        );
        self.log(
            now,
            call,
            "",
            QueueEvent::EnterQueue,
            [String::new(), caller.into(), String::new()],
        );
        self.timer(now + self.cfg.max_wait_ms, TimerKind::MaxWait, call);
        self.dispatch(now);
        Ok(())
    }

    /// 1-based position of a waiting call in its queue.
    pub fn position(&self, call: &str) -> Option<usize> {
        let c = self.calls.get(call)?;
        if c.state != CallState::Waiting {
            return None;
        }
        Some(self.queues[tier_index(c.queue)].range(..c.key).count() + 1)
    }

    pub fn waiting(&self) -> usize {
        self.queues[0].len() + self.queues[1].len()
    }

    /// Offers waiting calls to idle agents until one side runs out.
    fn dispatch(&mut self, now: i64) {
        loop {
            // senior calls → seniors
            if let (Some((&key, _)), Some(_)) =
                (self.queues[1].first_key_value(), self.idle[1].first())
            {
                let agent = self.idle[1]
                    .first()
                    .map(|(_, a)| a.clone())
                    .unwrap_or_default();
                self.offer(now, Skill::Senior, key, &agent);
                continue;
            }
            // ordinary calls → juniors, then seniors as overflow
            if let Some((&key, _)) = self.queues[0].first_key_value() {
                let agent = self.idle[0]
                    .first()
                    .or_else(|| self.idle[1].first())
                    .map(|(_, a)| a.clone());
                if let Some(agent) = agent {
                    self.offer(now, Skill::Ordinary, key, &agent);
                    continue;
                }
            }
            break;
        }
    }

    fn offer(&mut self, now: i64, queue: Skill, key: Key, agent: &str) {
        let Some(call) = self.queues[tier_index(queue)].remove(&key) else {
            return;
        };
        self.remove_idle(agent);
        if let Some(a) = self.agents.get_mut(agent) {
            a.presence = Presence::Ringing;
            a.call = Some(call.clone());
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.state = CallState::Offered {
                agent: agent.into(),
                at: now,
            };
        }
        self.timer(
            now + self.cfg.answer_timeout_ms,
            TimerKind::OfferTimeout,
            &call,
        );
        self.actions.push_back(AcdAction::Offer {
            call,
            agent: agent.into(),
        });
    }

    /// Puts an offered call back in its queue at its original place and frees the agent.
    fn withdraw_offer(
        &mut self,
        now: i64,
        call: &str,
        agent: &str,
        event: QueueEvent,
        counts_as_miss: bool,
        idle_key: Option<Key>,
    ) {
        let ring_ms = match self.calls.get(call).map(|c| &c.state) {
            Some(CallState::Offered { at, .. }) => now - at,
            _ => 0,
        };
        self.log(
            now,
            call,
            agent,
            event,
            [ring_ms.to_string(), String::new(), String::new()],
        );
        let mut not_ready = None;
        if let Some(a) = self.agents.get_mut(agent) {
            a.call = None;
            if counts_as_miss {
                a.misses += 1;
                a.no_answers += 1;
                if a.misses >= self.cfg.misses_before_not_ready {
                    a.presence = Presence::NotReady;
                    not_ready = Some(a.misses);
                }
            }
        }
        match not_ready {
            Some(misses) => {
                self.log(
                    now,
                    "NONE",
                    agent,
                    QueueEvent::AgentNotReady,
                    [misses.to_string(), String::new(), String::new()],
                );
                self.actions.push_back(AcdAction::AgentNotReady {
                    agent: agent.into(),
                    misses,
                });
            }
            None => {
                // a miss sends the agent to the back of the idle line; a caller's hang-up does not
                let key = match idle_key {
                    Some(k) => k,
                    None => (now, self.next_seq()),
                };
                self.make_idle(agent, key);
            }
        }
    }

    fn requeue(&mut self, now: i64, call: &str) {
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        c.state = CallState::Waiting;
        let (queue, key, enq) = (c.queue, c.key, c.key.0);
        if now - enq >= self.cfg.max_wait_ms {
            self.exit_timeout(now, call);
            return;
        }
        self.queues[tier_index(queue)].insert(key, call.to_string());
    }

    fn exit_timeout(&mut self, now: i64, call: &str) {
        let pos = self.position(call).unwrap_or(1);
        if let Some(c) = self.calls.remove(call) {
            self.queues[tier_index(c.queue)].remove(&c.key);
            self.log(
                now,
                call,
                "",
                QueueEvent::ExitWithTimeout,
                [
                    pos.to_string(),
                    c.orig_position.to_string(),
                    ((now - c.key.0) / 1000).to_string(),
                ],
            );
            self.actions
                .push_back(AcdAction::ToVoicemail { call: call.into() });
        }
    }

    /// The offered agent answered. Another agent answering (or an answer after the offer was
    /// withdrawn) is refused: that agent must be told the call is gone.
    pub fn handle_answered(&mut self, now: i64, call: &str, agent: &str) -> Result<(), AcdError> {
        let c = self
            .calls
            .get_mut(call)
            .ok_or_else(|| AcdError::UnknownCall(call.into()))?;
        let offered_at = match &c.state {
            CallState::Offered { agent: a, at } if a == agent => *at,
            _ => {
                return Err(AcdError::NotOffered {
                    call: call.into(),
                    agent: agent.into(),
                });
            }
        };
        c.state = CallState::Connected {
            agent: agent.into(),
            at: now,
        };
        let hold_s = (now - c.key.0) / 1000;
        let ring_s = (now - offered_at) / 1000;
        if let Some(a) = self.agents.get_mut(agent) {
            a.presence = Presence::OnCall;
            a.misses = 0;
        }
        self.log(
            now,
            call,
            agent,
            QueueEvent::Connect,
            [hold_s.to_string(), call.into(), ring_s.to_string()],
        );
        Ok(())
    }

    /// The agent's phone refused or failed, or the agent hung up while it rang: re-offer.
    pub fn handle_offer_failed(
        &mut self,
        now: i64,
        call: &str,
        agent: &str,
    ) -> Result<(), AcdError> {
        match self.calls.get(call).map(|c| &c.state) {
            Some(CallState::Offered { agent: a, .. }) if a == agent => {}
            Some(_) => {
                return Err(AcdError::NotOffered {
                    call: call.into(),
                    agent: agent.into(),
                });
            }
            None => return Err(AcdError::UnknownCall(call.into())),
        }
        self.withdraw_offer(now, call, agent, QueueEvent::RingCanceled, true, None);
        self.requeue(now, call);
        self.dispatch(now);
        Ok(())
    }

    /// The caller hung up, wherever the call was.
    pub fn handle_abandon(&mut self, now: i64, call: &str) -> Result<(), AcdError> {
        let c = self
            .calls
            .get(call)
            .cloned()
            .ok_or_else(|| AcdError::UnknownCall(call.into()))?;
        match c.state {
            CallState::Connected { .. } => return self.handle_hangup(now, call, CallEnd::Caller),
            CallState::Offered { agent, .. } => {
                let key = self.agents.get(&agent).map(|a| a.idle_key);
                self.actions.push_back(AcdAction::CancelOffer {
                    call: call.into(),
                    agent: agent.clone(),
                    no_answer: false,
                });
                // the agent keeps its place in the idle line
                self.withdraw_offer(now, call, &agent, QueueEvent::Abandon, false, key);
            }
            CallState::Waiting => {
                let pos = self.position(call).unwrap_or(1);
                self.queues[tier_index(c.queue)].remove(&c.key);
                self.log(
                    now,
                    call,
                    "",
                    QueueEvent::Abandon,
                    [
                        pos.to_string(),
                        c.orig_position.to_string(),
                        ((now - c.key.0) / 1000).to_string(),
                    ],
                );
            }
        }
        self.calls.remove(call);
        self.dispatch(now);
        Ok(())
    }

    /// A connected call ended; the agent goes to wrap-up.
    pub fn handle_hangup(&mut self, now: i64, call: &str, by: CallEnd) -> Result<(), AcdError> {
        let c = self
            .calls
            .get(call)
            .cloned()
            .ok_or_else(|| AcdError::UnknownCall(call.into()))?;
        let CallState::Connected { agent, at } = c.state else {
            return self.handle_abandon(now, call);
        };
        let event = match by {
            CallEnd::Caller => QueueEvent::CompleteCaller,
            CallEnd::Agent => QueueEvent::CompleteAgent,
        };
        self.log(
            now,
            call,
            &agent,
            event,
            [
                ((at - c.key.0) / 1000).to_string(),
                ((now - at) / 1000).to_string(),
                c.orig_position.to_string(),
            ],
        );
        self.calls.remove(call);
        if let Some(a) = self.agents.get_mut(&agent) {
            a.presence = Presence::WrapUp;
            a.call = None;
            a.wrap_until = now + self.cfg.wrap_up_ms;
        }
        self.timer(now + self.cfg.wrap_up_ms, TimerKind::WrapUpEnd, &agent);
        Ok(())
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: i64) {
        while let Some(first) = self.timers.first().cloned() {
            if first.0 > now {
                break;
            }
            self.timers.pop_first();
            let (_, _, kind, id) = first;
            match kind {
                TimerKind::OfferTimeout => {
                    // valid only if the call is still offered and the 15 s are up
                    let offered = match self.calls.get(&id).map(|c| &c.state) {
                        Some(CallState::Offered { agent, at })
                            if now - at >= self.cfg.answer_timeout_ms =>
                        {
                            Some(agent.clone())
                        }
                        _ => None,
                    };
                    if let Some(agent) = offered {
                        self.actions.push_back(AcdAction::CancelOffer {
                            call: id.clone(),
                            agent: agent.clone(),
                            no_answer: true,
                        });
                        self.withdraw_offer(now, &id, &agent, QueueEvent::RingNoAnswer, true, None);
                        self.requeue(now, &id);
                    }
                }
                TimerKind::MaxWait => {
                    if matches!(
                        self.calls.get(&id).map(|c| &c.state),
                        Some(CallState::Waiting)
                    ) {
                        self.exit_timeout(now, &id);
                    }
                }
                TimerKind::WrapUpEnd => {
                    let done = self
                        .agents
                        .get(&id)
                        .is_some_and(|a| a.presence == Presence::WrapUp && a.wrap_until <= now);
                    if done {
                        let key = (now, self.next_seq());
                        self.make_idle(&id, key);
                    }
                }
            }
        }
        self.dispatch(now);
    }

    pub fn poll_timeout(&self) -> Option<i64> {
        self.timers.first().map(|t| t.0)
    }

    pub fn poll_action(&mut self) -> Option<AcdAction> {
        self.actions.pop_front()
    }

    pub fn poll_log(&mut self) -> Option<QueueLogEntry> {
        self.log.pop_front()
    }

    /// The caller number of a call the ACD knows.
    pub fn caller(&self, call: &str) -> Option<&str> {
        self.calls.get(call).map(|c| c.caller.as_str())
    }

    /// The skill a call asked for.
    pub fn need(&self, call: &str) -> Option<Skill> {
        self.calls.get(call).map(|c| c.need)
    }
}
