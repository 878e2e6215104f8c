//! Client INVITE transaction (RFC 3261 §17.1.1, with the RFC 6026 Accepted state):
//! retransmits the INVITE on Timer A until a response, gives up on Timer B, ACKs non-2xx
//! finals itself (Timer D absorbs their retransmissions) and passes 2xx (and their
//! retransmissions, until Timer M) to the TU, which sends the ACK for 2xx.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Outputs, Transaction, TxEvent, ack_for_non_2xx};
use crate::message::Message;
use crate::timers::{Timer, Timers};

/// States of Figure 5 plus RFC 6026 Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// INVITE sent, nothing heard.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 2xx arrived; further 2xx go to the TU until Timer M.
    Accepted,
    /// A non-2xx final arrived and was ACKed.
    Completed,
    /// Done.
    Terminated,
}

/// A client INVITE transaction.
#[derive(Debug)]
pub struct ClientInvite {
    state: State,
    reliable: bool,
    timers: Timers,
    request: Message,
    request_bytes: Bytes,
    ack: Option<Bytes>,
    a_interval: Duration,
    timer_a: Option<Instant>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    out: Outputs,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE is queued for sending at once.
    pub fn new(now: Instant, reliable: bool, timers: Timers, request: Message) -> ClientInvite {
        let request_bytes = request.to_bytes();
        let a = timers.initial(Timer::A, reliable);
        ClientInvite {
            state: State::Calling,
            reliable,
            timers,
            request,
            out: Outputs::sending(request_bytes.clone()),
            request_bytes,
            ack: None,
            a_interval: a.unwrap_or(timers.t1),
            timer_a: a.map(|d| now + d),
            timer_b: Some(now + timers.get(Timer::B, reliable)),
            timer_d: None,
            timer_m: None,
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The INVITE this transaction sends.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// A response matched to this transaction.
    pub fn handle_response(&mut self, now: Instant, resp: &Message) {
        let Some(code) = resp.status() else { return };
        match (self.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.timer_a = None;
                self.timer_b = None;
                self.out.event(TxEvent::Response(Box::new(resp.clone())));
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_m = Some(now + self.timers.t1 * 64);
                self.out.event(TxEvent::Response(Box::new(resp.clone())));
            }
            (State::Calling | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timer_a = None;
                self.timer_b = None;
                let ack = ack_for_non_2xx(&self.request, resp).to_bytes();
                self.out.send(ack.clone());
                self.ack = Some(ack);
                self.timer_d = Some(now + self.timers.get(Timer::D, self.reliable));
                self.out.event(TxEvent::Response(Box::new(resp.clone())));
                self.handle_timeout(now);
            }
            (State::Accepted, 200..=299) => {
                self.out.event(TxEvent::Response(Box::new(resp.clone())));
            }
            (State::Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    self.out.send(ack.clone());
                }
            }
            _ => {}
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_a.is_some_and(|t| t <= now) {
            self.out.send(self.request_bytes.clone());
            self.a_interval *= 2;
            self.timer_a = Some(now + self.a_interval);
        }
        if self.timer_b.is_some_and(|t| t <= now) {
            self.out.event(TxEvent::Timeout);
            self.terminate();
        }
        if self.timer_d.is_some_and(|t| t <= now) || self.timer_m.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
    }

    /// Whether the transaction can be forgotten.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}

impl Transaction for ClientInvite {
    fn outputs(&mut self) -> &mut Outputs {
        &mut self.out
    }

    fn timers(&self) -> Vec<Option<Instant>> {
        vec![self.timer_a, self.timer_b, self.timer_d, self.timer_m]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Method;
    use crate::parse::parse;
    use crate::transaction::test_util::*;

    #[test]
    fn timer_a_doubles_until_b() {
        let t0 = Instant::now();
        let mut tx = ClientInvite::new(t0, false, Timers::default(), invite("z9hG4bKc"));
        let mut sends = vec![];
        loop {
            while tx.poll_transmit().is_some() {
                sends.push(0);
            }
            let Some(at) = tx.poll_timeout() else { break };
            tx.handle_timeout(at);
            if tx.is_terminated() {
                break;
            }
            sends.pop();
            sends.push((at - t0).as_millis() as u64);
        }
        // 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s then B at 32 s.
        assert_eq!(sends.len(), 7);
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
    }

    #[test]
    fn non_2xx_is_acked_with_same_branch() {
        let t0 = Instant::now();
        let inv = invite("z9hG4bKc");
        let mut tx = ClientInvite::new(t0, false, Timers::default(), inv.clone());
        tx.poll_transmit();
        tx.handle_response(t0, &response(&inv, 180));
        assert_eq!(tx.state(), State::Proceeding);
        tx.handle_response(t0, &response(&inv, 486));
        let ack = parse(&tx.poll_transmit().unwrap(), false).unwrap();
        assert_eq!(ack.method(), Some(Method::Ack));
        assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKc"));
        assert_eq!(ack.to_addr().unwrap().tag(), Some("b1"));
        tx.handle_response(t0, &response(&inv, 486));
        assert!(
            tx.poll_transmit().is_some(),
            "retransmitted 486 is re-ACKed"
        );
        let events: Vec<_> = std::iter::from_fn(|| tx.poll_event()).collect();
        assert_eq!(events.len(), 2, "180 and one 486 reach the TU");
        tx.handle_timeout(t0 + Duration::from_secs(32));
        assert!(tx.is_terminated());
    }

    #[test]
    fn retransmitted_2xx_reach_tu() {
        let t0 = Instant::now();
        let inv = invite("z9hG4bKc");
        let mut tx = ClientInvite::new(t0, true, Timers::default(), inv.clone());
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + Duration::from_secs(32)),
            "no A on TCP"
        );
        tx.handle_response(t0, &response(&inv, 200));
        tx.handle_response(t0, &response(&inv, 200));
        assert_eq!(std::iter::from_fn(|| tx.poll_event()).count(), 2);
        assert_eq!(tx.state(), State::Accepted);
    }
}
