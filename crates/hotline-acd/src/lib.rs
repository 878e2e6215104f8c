//! The ACD (automatic call distribution) of the hotline, sans-I/O.
//!
//! Layout:
//! - [`acd`]: [`Acd`], the state machine: agents with presence and skills, callers waiting in
//!   queue, offers with the 15-second answer rule (JO2). Inputs are `handle_*(now, ...)`;
//!   outputs are drained with [`Acd::poll_action`], [`Acd::poll_log`] and
//!   [`Acd::poll_timeout`]. It never reads a clock and never does I/O.
//! - [`queue_log`]: entries shaped like Asterisk's `queue_log`
//!   (`time|callid|queue|agent|event|data1|data2|data3`).
//! - [`metrics`]: the service level (15秒接听率: answered within 15 s of joining the queue,
//!   short abandons left out) and, separately, the JO2 offer answer rate (offers answered
//!   within 15 s of ringing), Asterisk SL2, ASA, abandonment, per-agent no-answers, per
//!   15-minute interval and per Beijing day, computed from the log.
//!
//! Invariants: an agent has at most one offer or call at a time; a call is offered to at most
//! one agent at a time; the longest-idle available agent with the right skill gets the next
//! offer; every state change of a call appends one queue_log entry.

pub mod acd;
pub mod metrics;
pub mod queue_log;

pub use acd::{Acd, AcdAction, AcdConfig, AcdError, CallEnd, Presence, Skill};
pub use metrics::{Figures, Metrics, SlRules, Window};
pub use queue_log::{QueueEvent, QueueLogEntry};
