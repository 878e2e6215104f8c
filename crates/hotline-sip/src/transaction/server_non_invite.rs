//! Server non-INVITE transaction (RFC 3261 §17.2.2): retransmitted requests get the last
//! response again; after a final response the transaction lingers for Timer J.

use std::time::Instant;

use bytes::Bytes;

use super::{Outputs, Transaction};
use crate::timers::{Timer, Timers};

/// States of Figure 8 (the same four as the other non-INVITE machine).
pub use super::NonInviteState as State;

/// A server non-INVITE transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    state: State,
    reliable: bool,
    timers: Timers,
    last_response: Option<Bytes>,
    timer_j: Option<Instant>,
    out: Outputs,
}

impl ServerNonInvite {
    /// A new transaction for a received request (state Trying).
    pub fn new(reliable: bool, timers: Timers) -> ServerNonInvite {
        ServerNonInvite {
            state: State::Trying,
            reliable,
            timers,
            last_response: None,
            timer_j: None,
            out: Outputs::default(),
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// A retransmission of the request.
    pub fn handle_request(&mut self, _now: Instant) {
        if matches!(self.state, State::Proceeding | State::Completed)
            && let Some(r) = &self.last_response
        {
            self.out.send(r.clone());
        }
    }

    /// The TU sends a response.
    pub fn send_response(&mut self, now: Instant, code: u16, bytes: Bytes) {
        if !matches!(self.state, State::Trying | State::Proceeding) {
            return;
        }
        self.out.send(bytes.clone());
        self.last_response = Some(bytes);
        if code < 200 {
            self.state = State::Proceeding;
        } else {
            self.state = State::Completed;
            self.timer_j = Some(now + self.timers.get(Timer::J, self.reliable));
        }
    }

    /// Fires Timer J.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_j.is_some_and(|t| t <= now) {
            self.timer_j = None;
            self.state = State::Terminated;
        }
    }

    /// Whether the transaction can be forgotten.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}

/// It reports no events: a retransmitted request is absorbed, Timer J only ends it.
impl Transaction for ServerNonInvite {
    fn outputs(&mut self) -> &mut Outputs {
        &mut self.out
    }

    fn timers(&self) -> Vec<Option<Instant>> {
        vec![self.timer_j]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retransmissions_absorbed_until_j() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(false, Timers::default());
        tx.handle_request(t0);
        assert_eq!(tx.poll_transmit(), None, "nothing to repeat while Trying");
        tx.send_response(t0, 200, Bytes::from_static(b"200"));
        assert_eq!(tx.poll_transmit().as_deref(), Some(&b"200"[..]));
        tx.handle_request(t0 + Duration::from_secs(1));
        assert_eq!(tx.poll_transmit().as_deref(), Some(&b"200"[..]));
        tx.send_response(t0, 500, Bytes::from_static(b"500"));
        assert_eq!(tx.poll_transmit(), None, "a second final is ignored");
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert!(tx.is_terminated());
    }

    #[test]
    fn reliable_terminates_at_once() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(true, Timers::default());
        tx.send_response(t0, 200, Bytes::from_static(b"200"));
        tx.handle_timeout(t0);
        assert!(tx.is_terminated());
    }
}
