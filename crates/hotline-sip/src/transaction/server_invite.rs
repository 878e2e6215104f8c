//! Server INVITE transaction (RFC 3261 §17.2.1, with the RFC 6026 Accepted state): absorbs
//! retransmitted INVITEs by re-sending the last response, retransmits non-2xx finals on
//! Timer G until the ACK (Timer H gives up), then waits Timer I. 2xx retransmission until the
//! ACK is the TU's job (see `crate::dialog`).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Outputs, Transaction, TxEvent};
use crate::message::{Message, Method};
use crate::timers::{Timer, Timers};

/// States of Figure 7 plus RFC 6026 Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Provisional responses may be sent.
    Proceeding,
    /// A 2xx was sent; retransmitted INVITEs are absorbed until Timer L.
    Accepted,
    /// A non-2xx final was sent; waiting for the ACK.
    Completed,
    /// ACK received; absorbing ACK retransmissions.
    Confirmed,
    /// Done.
    Terminated,
}

/// A server INVITE transaction.
#[derive(Debug)]
pub struct ServerInvite {
    state: State,
    reliable: bool,
    timers: Timers,
    last_response: Option<Bytes>,
    g_interval: Duration,
    timer_g: Option<Instant>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
    out: Outputs,
}

impl ServerInvite {
    /// A new transaction for a received INVITE (state Proceeding).
    pub fn new(reliable: bool, timers: Timers) -> ServerInvite {
        ServerInvite {
            state: State::Proceeding,
            reliable,
            timers,
            last_response: None,
            g_interval: timers.t1,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
            out: Outputs::default(),
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// A request matched to this transaction: an INVITE retransmission or the ACK of a non-2xx.
    pub fn handle_request(&mut self, now: Instant, req: &Message) {
        match (req.method(), self.state) {
            (Some(Method::Invite), State::Proceeding | State::Completed) => {
                if let Some(r) = &self.last_response {
                    self.out.send(r.clone());
                }
            }
            (Some(Method::Ack), State::Completed) => {
                self.state = State::Confirmed;
                self.timer_g = None;
                self.timer_h = None;
                self.timer_i = Some(now + self.timers.get(Timer::I, self.reliable));
                self.handle_timeout(now);
            }
            _ => {}
        }
    }

    /// The TU sends a response (`code` is its status, `bytes` the serialised message).
    pub fn send_response(&mut self, now: Instant, code: u16, bytes: Bytes) {
        if self.state != State::Proceeding {
            return;
        }
        self.out.send(bytes.clone());
        self.last_response = Some(bytes);
        match code {
            100..=199 => {}
            200..=299 => {
                // Retransmitted INVITEs are absorbed from now on: the TU resends the 2xx.
                self.last_response = None;
                self.state = State::Accepted;
                self.timer_l = Some(now + self.timers.t1 * 64);
            }
            _ => {
                self.state = State::Completed;
                self.timer_g = self
                    .timers
                    .initial(Timer::G, self.reliable)
                    .map(|d| now + d);
                self.timer_h = Some(now + self.timers.get(Timer::H, self.reliable));
            }
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_g.is_some_and(|t| t <= now) {
            if let Some(r) = &self.last_response {
                self.out.send(r.clone());
            }
            self.g_interval = self.timers.backoff_capped(self.g_interval);
            self.timer_g = Some(now + self.g_interval);
        }
        if self.timer_h.is_some_and(|t| t <= now) {
            self.out.event(TxEvent::Timeout);
            self.terminate();
        }
        if self.timer_i.is_some_and(|t| t <= now) || self.timer_l.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
    }

    /// Whether the transaction can be forgotten.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}

impl Transaction for ServerInvite {
    fn outputs(&mut self) -> &mut Outputs {
        &mut self.out
    }

    fn timers(&self) -> Vec<Option<Instant>> {
        vec![self.timer_g, self.timer_h, self.timer_i, self.timer_l]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_util::*;

    fn drain(tx: &mut ServerInvite) -> usize {
        std::iter::from_fn(|| tx.poll_transmit()).count()
    }

    #[test]
    fn non_2xx_retransmits_on_g_until_h() {
        let t0 = Instant::now();
        let inv = invite("z9hG4bK1");
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.send_response(t0, 100, response(&inv, 100).to_bytes());
        tx.handle_request(t0, &inv);
        assert_eq!(
            drain(&mut tx),
            2,
            "100 sent, then re-sent for the retransmitted INVITE"
        );
        tx.send_response(t0, 486, response(&inv, 486).to_bytes());
        assert_eq!(drain(&mut tx), 1);
        let mut sends = Vec::new();
        while let Some(at) = tx.poll_timeout() {
            tx.handle_timeout(at);
            let n = drain(&mut tx);
            if n > 0 {
                sends.push((at - t0).as_millis());
            }
        }
        // G: 0.5, 1.5, 3.5, 7.5, 11.5, ... every 4 s up to H at 32 s.
        assert_eq!(&sends[..5], &[500, 1500, 3500, 7500, 11500]);
        assert!(sends.iter().all(|ms| *ms < 32_000));
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
        assert!(tx.is_terminated());
    }

    #[test]
    fn ack_confirms_then_timer_i() {
        let t0 = Instant::now();
        let inv = invite("z9hG4bK1");
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.send_response(t0, 487, response(&inv, 487).to_bytes());
        tx.handle_request(t0 + Duration::from_millis(10), &request("ACK", "z9hG4bK1"));
        assert_eq!(tx.state(), State::Confirmed);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(5010)));
        tx.handle_timeout(t0 + Duration::from_millis(5010));
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_event(), None);
    }

    #[test]
    fn reliable_has_no_g_and_zero_i() {
        let t0 = Instant::now();
        let inv = invite("z9hG4bK1");
        let mut tx = ServerInvite::new(true, Timers::default());
        tx.send_response(t0, 404, response(&inv, 404).to_bytes());
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        tx.handle_request(t0, &request("ACK", "z9hG4bK1"));
        assert!(tx.is_terminated());
    }

    #[test]
    fn accepted_absorbs_invite_retransmissions() {
        let t0 = Instant::now();
        let inv = invite("z9hG4bK1");
        let mut tx = ServerInvite::new(false, Timers::default());
        tx.send_response(t0, 200, response(&inv, 200).to_bytes());
        drain(&mut tx);
        tx.handle_request(t0, &inv);
        assert_eq!(drain(&mut tx), 0);
        assert_eq!(tx.state(), State::Accepted);
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert!(tx.is_terminated());
    }
}
