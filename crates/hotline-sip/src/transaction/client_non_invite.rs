//! Client non-INVITE transaction (RFC 3261 §17.1.2): retransmits on Timer E (T1 doubling to
//! T2, T2 once a provisional arrived), gives up on Timer F, lingers for Timer K after the final.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Outputs, Transaction, TxEvent};
use crate::message::Message;
use crate::timers::{Timer, Timers};

/// States of Figure 6 (the same four as the other non-INVITE machine).
pub use super::NonInviteState as State;

/// A client non-INVITE transaction.
#[derive(Debug)]
pub struct ClientNonInvite {
    state: State,
    reliable: bool,
    timers: Timers,
    request_bytes: Bytes,
    e_interval: Duration,
    timer_e: Option<Instant>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
    out: Outputs,
}

impl ClientNonInvite {
    /// Starts the transaction: the request is queued for sending at once.
    pub fn new(now: Instant, reliable: bool, timers: Timers, request: &Message) -> ClientNonInvite {
        let request_bytes = request.to_bytes();
        let e = timers.initial(Timer::E, reliable);
        ClientNonInvite {
            state: State::Trying,
            reliable,
            timers,
            out: Outputs::sending(request_bytes.clone()),
            request_bytes,
            e_interval: e.unwrap_or(timers.t1),
            timer_e: e.map(|d| now + d),
            timer_f: Some(now + timers.get(Timer::F, reliable)),
            timer_k: None,
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// A response matched to this transaction.
    pub fn handle_response(&mut self, now: Instant, resp: &Message) {
        let Some(code) = resp.status() else { return };
        if !matches!(self.state, State::Trying | State::Proceeding) {
            return;
        }
        self.out.event(TxEvent::Response(Box::new(resp.clone())));
        if code < 200 {
            self.state = State::Proceeding;
        } else {
            self.state = State::Completed;
            self.timer_e = None;
            self.timer_f = None;
            self.timer_k = Some(now + self.timers.get(Timer::K, self.reliable));
            self.handle_timeout(now);
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_e.is_some_and(|t| t <= now) {
            self.out.send(self.request_bytes.clone());
            self.e_interval = match self.state {
                State::Proceeding => self.timers.t2,
                _ => self.timers.backoff_capped(self.e_interval),
            };
            self.timer_e = Some(now + self.e_interval);
        }
        if self.timer_f.is_some_and(|t| t <= now) {
            self.out.event(TxEvent::Timeout);
            self.terminate();
        }
        if self.timer_k.is_some_and(|t| t <= now) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }

    /// Whether the transaction can be forgotten.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}

impl Transaction for ClientNonInvite {
    fn outputs(&mut self) -> &mut Outputs {
        &mut self.out
    }

    fn timers(&self) -> Vec<Option<Instant>> {
        vec![self.timer_e, self.timer_f, self.timer_k]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::ServerNonInvite;
    use crate::transaction::test_util::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    #[test]
    fn timer_e_schedule_and_f() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(
            t0,
            false,
            Timers::default(),
            &request("OPTIONS", "z9hG4bKo"),
        );
        tx.poll_transmit();
        let mut at_ms = vec![];
        while let Some(at) = tx.poll_timeout() {
            tx.handle_timeout(at);
            if tx.poll_transmit().is_some() {
                at_ms.push((at - t0).as_millis());
            }
        }
        assert_eq!(&at_ms[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(*at_ms.last().unwrap(), 31500);
        assert_eq!(tx.poll_event(), Some(TxEvent::Timeout));
    }

    #[test]
    fn provisional_moves_e_to_t2_and_final_waits_k() {
        let t0 = Instant::now();
        let req = request("BYE", "z9hG4bKb");
        let mut tx = ClientNonInvite::new(t0, false, Timers::default(), &req);
        tx.handle_response(t0, &response(&req, 100));
        tx.handle_timeout(t0 + Duration::from_millis(500));
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(4500)));
        tx.handle_response(t0 + Duration::from_secs(1), &response(&req, 200));
        assert_eq!(tx.state(), State::Completed);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(6)));
        tx.handle_response(t0 + Duration::from_secs(2), &response(&req, 200));
        assert_eq!(
            std::iter::from_fn(|| tx.poll_event()).count(),
            2,
            "100 and one 200"
        );
    }

    /// Client and server non-INVITE over a seeded network losing 40% of packets each way:
    /// the request completes through retransmissions and the server answers once.
    #[test]
    fn lossy_network_completes() {
        for seed in 0..50u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let t0 = Instant::now();
            let req = request("OPTIONS", "z9hG4bKlossy");
            let mut client = ClientNonInvite::new(t0, false, Timers::default(), &req);
            let mut server: Option<ServerNonInvite> = None;
            let mut now = t0;
            let mut final_seen = false;
            for _ in 0..200 {
                while let Some(_bytes) = client.poll_transmit() {
                    if rng.random_bool(0.4) {
                        continue;
                    }
                    let s = server.get_or_insert_with(|| {
                        let mut s = ServerNonInvite::new(false, Timers::default());
                        s.send_response(now, 200, response(&req, 200).to_bytes());
                        s
                    });
                    s.handle_request(now);
                }
                if let Some(s) = server.as_mut() {
                    while s.poll_transmit().is_some() {
                        if !rng.random_bool(0.4) {
                            client.handle_response(now, &response(&req, 200));
                        }
                    }
                }
                while let Some(ev) = client.poll_event() {
                    assert!(matches!(ev, TxEvent::Response(_)), "seed {seed}: {ev:?}");
                    final_seen = true;
                }
                match client.poll_timeout() {
                    Some(at) => {
                        now = at;
                        client.handle_timeout(now);
                    }
                    None => break,
                }
            }
            assert!(final_seen, "seed {seed} never completed");
            assert!(client.is_terminated());
        }
    }
}
