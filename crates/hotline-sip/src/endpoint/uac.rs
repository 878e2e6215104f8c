//! Outgoing calls (RFC 3261 §13.2 UAC INVITE, §9.1 CANCEL, §15 BYE): ring a registered agent
//! with our SDP offer, report 180/183, ACK the 2xx, CANCEL when the ring timeout fires or the
//! application hangs up first. A 401/407 challenge to the INVITE is answered when the call
//! has digest credentials (§22.2-22.3, §8.1.3.5, RFC 8760): the transaction has ACKed the
//! challenge; the INVITE goes out again as a new transaction with CSeq + 1, a new branch and
//! Authorization/Proxy-Authorization, unheard by the application, the ring timeout still
//! counting from the first INVITE. A re-challenge with `stale=true` and a new nonce earns one
//! more try; any other is reported as `Failed` (wrong password), so there is never a loop.
//! Also the routing of responses to client transactions.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    Call, CallId, CallState, CancelReason, ClientKind, EndReason, Endpoint, Event, Role, Transport,
};
use crate::dialog::Dialog;
use crate::digest::Challenge;
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
    /// Digest credentials for a trunk or outbound proxy that challenges the INVITE (401/407,
    /// RFC 3261 §22.2-22.3); `None` reports a challenge as a failure.
    pub auth: Option<UacAuth>,
}

/// A UAC's digest credentials (user name and password at the trunk).
#[derive(Clone, PartialEq, Eq)]
pub struct UacAuth {
    /// Digest user name.
    pub username: String,
    /// Digest password (never logged).
    pub password: String,
}

impl std::fmt::Debug for UacAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UacAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Credentials of an outgoing call and how far its digest retries got.
#[derive(Debug)]
pub(super) struct UacDigest {
    creds: UacAuth,
    step: DigestStep,
}

/// Digest retries of one call: at most one per challenge, and one more only for a stale nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DigestStep {
    /// No challenge answered yet.
    Unchallenged,
    /// The INVITE was re-sent with credentials for this nonce.
    Answered(String),
    /// Re-sent again after a `stale=true` re-challenge: a further challenge is a failure.
    Exhausted,
}

impl DigestStep {
    /// The step after answering `ch`, or `None` if it must not be answered (the credentials
    /// were refused, or the retries are used up).
    fn answer(&self, ch: &Challenge) -> Option<DigestStep> {
        match self {
            DigestStep::Unchallenged => Some(DigestStep::Answered(ch.nonce.clone())),
            DigestStep::Answered(nonce) if ch.stale && ch.nonce != *nonce => {
                Some(DigestStep::Exhausted)
            }
            _ => None,
        }
    }
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
        if let Some(creds) = out.auth {
            let step = DigestStep::Unchallenged;
            self.uac_digest
                .insert(call_id.clone(), UacDigest { creds, step });
        }
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
                let mut ack = c.dialog.ack(seq, via);
                // §13.2.2.4: the ACK carries the INVITE's credentials.
                for h in c.invite.headers.iter().filter(|h| is_credentials(&h.name)) {
                    ack.push(&h.name, h.value.clone());
                }
                let ack = ack.to_bytes();
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
                        self.forget_call(id);
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
            401 | 407 => {
                if !self.retry_with_credentials(now, id, resp) {
                    self.uac_final(id, code);
                }
            }
            _ => self.uac_final(id, code),
        }
    }

    /// Answers a 401/407 (already ACKed by the INVITE transaction, §17.1.1.3) with a new
    /// INVITE transaction carrying credentials (§22.2, §8.1.3.5): same Call-ID, From tag, To,
    /// Request-URI, Route and body, CSeq + 1, a new branch. `false` (the caller reports the
    /// failure) without credentials, a usable challenge or a retry left, or when cancelling.
    fn retry_with_credentials(&mut self, now: Instant, id: &str, resp: &Message) -> bool {
        let (challenge_name, answer_name) = match resp.status() {
            Some(401) => ("WWW-Authenticate", "Authorization"),
            _ => ("Proxy-Authenticate", "Proxy-Authorization"),
        };
        let (Some(c), Some(digest)) = (self.calls.get(id), self.uac_digest.get(id)) else {
            return false;
        };
        if c.cancel.is_some() {
            return false;
        }
        let challenges = resp
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(challenge_name))
            .map(|h| h.value.as_str());
        let Some(challenge) = Challenge::best(challenges) else {
            tracing::info!(call_id = id, "no digest challenge we can answer");
            return false;
        };
        let Some(step) = digest.step.answer(&challenge) else {
            tracing::info!(
                call_id = id,
                realm = %challenge.realm,
                user = %digest.creds.username,
                "digest credentials refused"
            );
            return false;
        };
        let transport = c.transport;
        let cnonce = self.token();
        let via = self.our_via(transport);
        let (Some(c), Some(digest)) = (self.calls.get_mut(id), self.uac_digest.get_mut(id)) else {
            return false;
        };
        let seq = c.invite.cseq().map(|s| s.seq).unwrap_or(1) + 1;
        let mut req = c.invite.clone();
        req.headers.retain(|h| h.name != answer_name);
        for h in &mut req.headers {
            match h.name.as_str() {
                "Via" => h.value.clone_from(&via),
                "CSeq" => h.value = format!("{seq} INVITE"),
                _ => {}
            }
        }
        let uri = req.request_uri().unwrap_or("").to_string();
        let UacAuth { username, password } = &digest.creds;
        let answer = challenge.authorize("INVITE", &uri, username, password, &cnonce);
        req.push(answer_name, answer);
        let Some(key) = TxKey::client(&req) else {
            return false;
        };
        tracing::debug!(
            call_id = id,
            realm = %challenge.realm,
            algorithm = challenge.algorithm.token(),
            seq,
            "answering digest challenge"
        );
        digest.step = step;
        c.invite = req.clone();
        c.invite_key = key;
        c.dialog.local_seq = seq; // so the BYE's CSeq is above this INVITE's
        // §9.1: a CANCEL waits for a provisional response to this INVITE.
        c.provisional = false;
        let dest = c.remote;
        self.start_client(
            now,
            req,
            dest,
            transport,
            Some(id.to_string()),
            ClientKind::Invite,
        );
        true
    }

    /// A non-2xx final (or Timer B): report (unless cancelled, already reported) and forget.
    fn uac_final(&mut self, id: &str, code: u16) {
        let Some(c) = self.calls.get(id) else { return };
        if c.state != CallState::Early {
            return;
        }
        let cancelled = c.cancel.is_some();
        self.forget_call(id);
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

/// Whether a header carries our digest credentials.
fn is_credentials(name: &str) -> bool {
    name == "Authorization" || name == "Proxy-Authorization"
}

fn cancel_event(id: &str, reason: CancelReason) -> Event {
    let call = CallId(id.to_string());
    match reason {
        CancelReason::HungUp => Event::Cancelled { call },
        CancelReason::RingTimeout => Event::TimedOut { call },
    }
}
