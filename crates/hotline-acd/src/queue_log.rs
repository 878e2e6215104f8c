//! Queue events in the shape of Asterisk's `queue_log`: one line per event,
//! `epoch|callid|queue|agent|EVENT|data1|data2|data3`, append-only.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueueEvent {
    /// data1: (unused), data2: caller id.
    EnterQueue,
    /// data1: hold time (s), data2: bridged call id, data3: ring time (s).
    Connect,
    /// data1: ring time (ms).
    RingNoAnswer,
    /// The agent's phone refused or failed during the offer. data1: ring time (ms).
    RingCanceled,
    /// data1: position, data2: original position, data3: hold time (s).
    Abandon,
    /// data1: position, data2: original position, data3: hold time (s).
    ExitWithTimeout,
    /// No agent logged in: straight to voicemail. data1: position.
    ExitEmpty,
    /// data1: hold time (s), data2: call time (s), data3: original position.
    CompleteCaller,
    /// data1: hold time (s), data2: call time (s), data3: original position.
    CompleteAgent,
    /// The agent was set not ready after consecutive no-answers. data1: misses.
    AgentNotReady,
}

impl QueueEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueEvent::EnterQueue => "ENTERQUEUE",
            QueueEvent::Connect => "CONNECT",
            QueueEvent::RingNoAnswer => "RINGNOANSWER",
            QueueEvent::RingCanceled => "RINGCANCELED",
            QueueEvent::Abandon => "ABANDON",
            QueueEvent::ExitWithTimeout => "EXITWITHTIMEOUT",
            QueueEvent::ExitEmpty => "EXITEMPTY",
            QueueEvent::CompleteCaller => "COMPLETECALLER",
            QueueEvent::CompleteAgent => "COMPLETEAGENT",
            QueueEvent::AgentNotReady => "PAUSE",
        }
    }

    /// The event named by [`QueueEvent::as_str`] (as stored).
    pub fn parse(s: &str) -> Option<QueueEvent> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    pub const ALL: [QueueEvent; 10] = [
        QueueEvent::EnterQueue,
        QueueEvent::Connect,
        QueueEvent::RingNoAnswer,
        QueueEvent::RingCanceled,
        QueueEvent::Abandon,
        QueueEvent::ExitWithTimeout,
        QueueEvent::ExitEmpty,
        QueueEvent::CompleteCaller,
        QueueEvent::CompleteAgent,
        QueueEvent::AgentNotReady,
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueLogEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub call_id: String,
    pub queue: &'static str,
    pub agent: String,
    pub event: QueueEvent,
    pub data: [String; 3],
}

impl fmt::Display for QueueLogEntry {
    /// Asterisk's line format (time in whole seconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clean = |s: &str| s.replace(['|', '\n', '\r'], " ");
        write!(
            f,
            "{}|{}|{}|{}|{}|{}|{}|{}",
            self.at_ms.div_euclid(1000),
            clean(&self.call_id),
            self.queue,
            if self.agent.is_empty() {
                "NONE".to_string()
            } else {
                clean(&self.agent)
            },
            self.event.as_str(),
            clean(&self.data[0]),
            clean(&self.data[1]),
            clean(&self.data[2])
        )
    }
}
