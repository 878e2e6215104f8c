//! Outgoing calls (RFC 3261 §13.2 UAC INVITE, §9.1 CANCEL, §15 BYE): ring a registered agent
//! with our SDP offer, report 180/183, ACK the 2xx, CANCEL when the ring timeout fires or the
//! application hangs up first. Also the routing of responses to client transactions.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    Call, CallId, CallState, CancelReason, ClientKind, EndReason, Endpoint, Event, Role, Transport,
};
use crate::dialog::Dialog;
use crate::message::{Message, Method};
use crate::transaction::{TxEvent, TxKey};

/// Parameters of an outgoing call.
#[derive(Debug, Clone)]
pub struct OutgoingCall {
    /// Request-URI (e.g. a registered contact URI).
    pub target: String,
    /// Where to send (e.g. the binding's source address, for NAT).
    pub dest: SocketAddr,
    /// Transport.
    pub transport: Transport,
    /// Our From URI.
    pub from: String,
    /// To URI (the agent's AOR).
    pub to: String,
    /// Our SDP offer.
    pub sdp: Bytes,
    /// Ring timeout (the call-centre rule is 15 s); `None` waits for Timer B / the callee.
    pub ring_timeout: Option<Duration>,
}

impl Endpoint {
    /// Starts an outgoing call; its outcome arrives as Ringing/Answered/Failed/TimedOut events.
    pub fn invite(&mut self, now: Instant, out: OutgoingCall) -> CallId {
        let tag = self.token();
        let call_id = format!("{}@{}", self.token(), self.config.public_addr.ip());
        let via = self.our_via(out.transport);
        let mut req = Message::request(Method::Invite, out.target.clone());
        req.push("Via", via);
        req.push("Max-Forwards", "70");
        req.push("From", format!("<{}>;tag={tag}", out.from));
        req.push("To", format!("<{}>", out.to));
        req.push("Call-ID", call_id.clone());
        req.push("CSeq", "1 INVITE");
        req.push("Contact", self.our_contact(out.transport));
        req.push("Allow", super::ALLOW);
        req.set_body("application/sdp", out.sdp.clone());
        let key = TxKey::client(&req).unwrap_or(TxKey {
            branch: String::new(),
            method: "INVITE".into(),
            sent_by: String::new(),
        });
        tracing::debug!(call_id = %call_id, target = %out.target, "outgoing call");
        self.calls.insert(
            call_id.clone(),
            Call {
                role: Role::Uac,
                state: CallState::Early,
                dialog: Dialog::uac(&req, &tag),
                remote: out.dest,
                transport: out.transport,
                invite: req.clone(),
                invite_key: key,
                offerless: false,
                retransmit: None,
                reinvite: None,
                ring_deadline: out.ring_timeout.map(|d| now + d),
                provisional: false,
                cancel: None,
                cancel_deadline: None,
                ack: None,
                bye_after_ack: false,
            },
        );
        self.start_client(
            now,
            req,
            out.dest,
            out.transport,
            Some(call_id.clone()),
            ClientKind::Invite,
        );
        self.schedule_call(&call_id);
        CallId(call_id)
    }

    pub(super) fn handle_response(&mut self, now: Instant, resp: Message) {
        let Some(key) = TxKey::client(&resp) else {
            return;
        };
        let Some(e) = self.client_txs.get_mut(&key) else {
            // A 2xx retransmission after the INVITE transaction ended: re-ACK from the call.
            if resp.status().is_some_and(|c| (200..300).contains(&c))
                && resp.method() == Some(Method::Invite)
            {
                let id = resp.call_id().unwrap_or("").to_string();
                if let Some(c) = self.calls.get(&id)
                    && let Some(ack) = c.ack.clone()
                {
                    let (t, d) = (c.transport, c.remote);
                    self.send(t, d, ack);
                }
            }
            return;
        };
        match &mut e.tx {
            super::ClientTx::Invite(t) => t.handle_response(now, &resp),
            super::ClientTx::NonInvite(t) => t.handle_response(now, &resp),
        }
        self.flush_client(now, &key);
    }

    pub(super) fn on_client_event(
        &mut self,
        now: Instant,
        id: &str,
        kind: ClientKind,
        ev: TxEvent,
    ) {
        match kind {
            ClientKind::Cancel => {}
            ClientKind::Bye => {
                let done = match &ev {
                    TxEvent::Timeout => true,
                    TxEvent::Response(r) => r.status().is_some_and(|c| c >= 200),
                };
                if done {
                    self.end_call(id, EndReason::LocalBye);
                }
            }
            ClientKind::Invite => match ev {
                TxEvent::Timeout => self.uac_final(id, 408),
                TxEvent::Response(r) => self.on_invite_response(now, id, &r),
            },
        }
    }

    fn on_invite_response(&mut self, now: Instant, id: &str, resp: &Message) {
        let code = resp.status().unwrap_or(500);
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        match code {
            100 => {}
            101..=199 => {
                let first = !c.provisional;
                c.provisional = true;
                if matches!(c.cancel, Some((_, false))) {
                    self.cancel_uac(now, id, CancelReason::HungUp);
                    return;
                }
                if first || code == 183 {
                    let early_sdp =
                        (code == 183 && !resp.body.is_empty()).then(|| resp.body.clone());
                    self.events.push_back(Event::Ringing {
                        call: CallId(id.to_string()),
                        early_sdp,
                    });
                }
            }
            200..=299 => {
                if let Some(ack) = c.ack.clone() {
                    let (t, d) = (c.transport, c.remote);
                    self.send(t, d, ack);
                    return;
                }
                c.dialog.confirm_uac(resp);
                let seq = c.invite.cseq().map(|s| s.seq).unwrap_or(1);
                let transport = c.transport;
                let via = self.our_via(transport);
                let Some(c) = self.calls.get_mut(id) else {
                    return;
                };
                let ack = c.dialog.ack(seq, via).to_bytes();
                c.ack = Some(ack.clone());
                let dest = c.remote;
                let cancelling = c.cancel.map(|(r, _)| r);
                c.state = CallState::Confirmed;
                c.cancel_deadline = None;
                self.send(transport, dest, ack);
                match cancelling {
                    // The 2xx crossed our CANCEL: ACK it, then BYE (§9.1). The app already
                    // had its TimedOut/Cancelled, so the call is forgotten silently.
                    Some(_) => {
                        self.send_bye(now, id);
                        self.calls.remove(id);
                    }
                    None => {
                        let sdp = (!resp.body.is_empty()).then(|| resp.body.clone());
                        self.events.push_back(Event::Answered {
                            call: CallId(id.to_string()),
                            sdp,
                        });
                    }
                }
            }
            _ => self.uac_final(id, code),
        }
    }

    /// A non-2xx final (or Timer B): report (unless cancelled, already reported) and forget.
    fn uac_final(&mut self, id: &str, code: u16) {
        let Some(c) = self.calls.get(id) else { return };
        if c.state != CallState::Early {
            return;
        }
        let cancelled = c.cancel.is_some();
        self.calls.remove(id);
        if !cancelled {
            self.events.push_back(Event::Failed {
                call: CallId(id.to_string()),
                code,
            });
        }
    }

    /// Ring timeout and CANCEL give-up timers of a UAC call.
    pub(super) fn uac_call_timeout(&mut self, now: Instant, id: &str) {
        let Some(c) = self.calls.get(id) else { return };
        if c.role != Role::Uac || c.state != CallState::Early {
            return;
        }
        if c.cancel_deadline.is_some_and(|t| t <= now) {
            if let Some(c) = self.calls.get_mut(id) {
                c.cancel_deadline = None;
            }
            self.uac_final(id, 487);
            return;
        }
        if c.cancel.is_none() && c.ring_deadline.is_some_and(|t| t <= now) {
            tracing::debug!(call_id = id, "ring timeout: cancelling");
            self.cancel_uac(now, id, CancelReason::RingTimeout);
        }
    }

    /// Sends CANCEL for our unanswered INVITE, or arms it until a provisional arrives. The app
    /// hears `TimedOut`/`Cancelled` at once (the ACD moves on at 15 s even if the agent's phone
    /// never answered at all); the CANCEL/487/ACK (or 200/ACK/BYE if the answer crosses the
    /// CANCEL) then finish without further events.
    pub(super) fn cancel_uac(&mut self, now: Instant, id: &str, reason: CancelReason) {
        let t1 = self.config.timers.t1;
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        if c.cancel.is_none() {
            self.events.push_back(cancel_event(id, reason));
        }
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let reason = c.cancel.map(|(r, _)| r).unwrap_or(reason);
        if !c.provisional {
            // §9.1: no CANCEL before a provisional response; send it when one arrives.
            c.cancel = Some((reason, false));
            c.cancel_deadline.get_or_insert(now + t1 * 64);
            self.schedule_call(id);
            return;
        }
        if matches!(c.cancel, Some((_, true))) {
            return;
        }
        c.cancel = Some((reason, true));
        c.cancel_deadline = Some(now + t1 * 64);
        let inv = &c.invite;
        let mut cancel = Message::request(Method::Cancel, inv.request_uri().unwrap_or(""));
        for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let Some(v) = inv.header(name) {
                cancel.push(name, v.to_string());
            }
        }
        let seq = inv.cseq().map(|s| s.seq).unwrap_or(1);
        cancel.push("CSeq", format!("{seq} CANCEL"));
        for r in inv.headers.iter().filter(|h| h.name == "Route") {
            cancel.push("Route", r.value.clone());
        }
        let (dest, transport) = (c.remote, c.transport);
        self.start_client(
            now,
            cancel,
            dest,
            transport,
            Some(id.to_string()),
            ClientKind::Cancel,
        );
        self.schedule_call(id);
    }
}

fn cancel_event(id: &str, reason: CancelReason) -> Event {
    let call = CallId(id.to_string());
    match reason {
        CancelReason::HungUp => Event::Cancelled { call },
        CancelReason::RingTimeout => Event::TimedOut { call },
    }
}
