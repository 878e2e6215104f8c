//! The ACD (automatic call distribution) of the hotline, sans-I/O.
//!
//! Layout:
//! - [`acd`]: [`Acd`], the state machine: agents with presence and skills, callers waiting in
//!   queue, offers with the 15-second answer rule (JO2). Inputs are `handle_*(now, ...)`;
//!   outputs are drained with [`Acd::poll_action`], [`Acd::poll_log`] and
//!   [`Acd::poll_timeout`]. It never reads a clock and never does I/O.
//! - [`queue_log`]: entries shaped like Asterisk's `queue_log`
//!   (`time|callid|queue|agent|event|data1|data2|data3`).
//! - [`metrics`]: service level (the JO2 rule: answered within 15 s of the offer; Asterisk SL
//!   and SL2 by hold time), ASA, abandonment, per-agent no-answers, computed from the log.
//!
//! Invariants: an agent has at most one offer or call at a time; a call is offered to at most
//! one agent at a time; the longest-idle available agent with the right skill gets the next
//! offer; every state change of a call appends one queue_log entry.

pub mod acd;
pub mod metrics;
pub mod queue_log;

pub use acd::{Acd, AcdAction, AcdConfig, AcdError, CallEnd, Presence, Skill};
pub use metrics::Metrics;
pub use queue_log::{QueueEvent, QueueLogEntry};
