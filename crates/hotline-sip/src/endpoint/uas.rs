//! Incoming requests (RFC 3261 §8.2 UAS behaviour, §9.2 CANCEL, §12-§15 in-dialog requests,
//! RFC 6086 INFO) and the answering commands: ring, answer, reject, hang up, answer re-INVITE.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::{
    ALLOW, Call, CallId, CallState, CommandError, EndReason, Endpoint, Event, Role, ServerEntry,
    ServerTx, Transport, patch_top_via,
};
use crate::dialog::{Dialog, Retransmit2xx};
use crate::headers::uri_scheme;
use crate::message::{Message, Method};
use crate::registrar::RegisterOutcome;
use crate::transaction::{ServerInvite, ServerNonInvite, TxKey, server_invite};

impl Endpoint {
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        transport: Transport,
        src: SocketAddr,
        mut req: Message,
    ) {
        let dest = patch_top_via(&mut req, src, transport);
        let Some(key) = TxKey::server(&req) else {
            return;
        };
        let method = req.method().unwrap_or(Method::Other(String::new()));

        if method == Method::Ack {
            if let Some(e) = self.server_txs.get_mut(&key)
                && let ServerTx::Invite(t) = &mut e.tx
                && t.state() != server_invite::State::Accepted
            {
                t.handle_request(now, &req);
                self.flush_server(&key);
                return;
            }
            self.handle_ack(now, &req);
            return;
        }
        if let Some(e) = self.server_txs.get_mut(&key) {
            match &mut e.tx {
                ServerTx::Invite(t) => t.handle_request(now, &req),
                ServerTx::NonInvite(t) => t.handle_request(now),
            }
            self.flush_server(&key);
            return;
        }

        let reliable = transport == Transport::Tcp;
        let tx = if method == Method::Invite {
            ServerTx::Invite(ServerInvite::new(reliable, self.config.timers))
        } else {
            ServerTx::NonInvite(ServerNonInvite::new(reliable, self.config.timers))
        };
        self.server_txs.insert(
            key.clone(),
            ServerEntry {
                tx,
                dest,
                transport,
            },
        );

        let tag = self.token();
        let reply = |code: u16| Message::response_to(&req, code, Some(&tag));
        let scheme = uri_scheme(req.request_uri().unwrap_or(""));
        if !matches!(scheme.as_str(), "sip" | "sips" | "tel") {
            return self.respond(now, &key, &reply(416));
        }
        match &method {
            Method::Other(_) | Method::Known(_) => {
                let code = if matches!(method, Method::Other(_)) {
                    501
                } else {
                    405
                };
                let mut r = reply(code);
                r.push("Allow", ALLOW);
                return self.respond(now, &key, &r);
            }
            _ => {}
        }
        let required: Vec<String> = req
            .header_list("Require")
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        if !required.is_empty() && method != Method::Cancel {
            let mut r = reply(420);
            r.push("Unsupported", required.join(", "));
            return self.respond(now, &key, &r);
        }
        let to_tag = req.to_addr().ok().and_then(|t| t.tag().map(str::to_string));
        match method {
            Method::Options => {
                let mut r = reply(200);
                r.push("Allow", ALLOW);
                r.push("Accept", "application/sdp");
                self.respond(now, &key, &r);
            }
            Method::Register => {
                // the account the digest names (digest brute force is counted per account and
                // source; a locked pair gets 403 even with the right password)
                let account = req
                    .header("Authorization")
                    .and_then(crate::digest::Credentials::parse)
                    .map(|c| c.username);
                if let Some(a) = &account
                    && self.abuse.is_locked(now, src.ip(), a)
                {
                    self.drops.locked_out += 1;
                    let mut r = reply(403);
                    r.push("Warning", "399 hotline \"too many failed authentications\"");
                    return self.respond(now, &key, &r);
                }
                let (mut r, outcome) = self.registrar.handle_register(now, &req, src, transport);
                r = add_tag(r, &tag);
                match outcome {
                    RegisterOutcome::Updated { aor, contacts } => {
                        self.events.push_back(Event::Registration { aor, contacts })
                    }
                    RegisterOutcome::AuthFailed => {
                        self.drops.auth_failures += 1;
                        self.abuse
                            .auth_failed(now, src.ip(), account.as_deref().unwrap_or(""));
                    }
                    RegisterOutcome::Other => {}
                }
                self.respond(now, &key, &r);
            }
            Method::Cancel => self.handle_cancel(now, &key, &req, &tag),
            Method::Invite if to_tag.is_none() => {
                self.new_call(now, key, req, tag, dest, transport)
            }
            Method::Invite => self.handle_reinvite(now, key, req),
            Method::Bye => {
                let id = req.call_id().unwrap_or("").to_string();
                match self.calls.get(&id) {
                    Some(c) if c.dialog.matches(&req) => {
                        let early_uas = c.role == Role::Uas && c.state == CallState::Early;
                        let invite_key = c.invite_key.clone();
                        self.respond(now, &key, &reply(200));
                        if early_uas {
                            let inv = self
                                .calls
                                .get(&id)
                                .map(|c| (c.invite.clone(), c.dialog.local_tag.clone()));
                            if let Some((inv, tag)) = inv {
                                self.respond(
                                    now,
                                    &invite_key,
                                    &Message::response_to(&inv, 487, Some(&tag)),
                                );
                            }
                        }
                        self.end_call(&id, EndReason::RemoteBye);
                    }
                    _ => self.respond(now, &key, &reply(481)),
                }
            }
            Method::Info => {
                let id = req.call_id().unwrap_or("").to_string();
                let known = self.calls.get(&id).is_some_and(|c| c.dialog.matches(&req));
                if !known {
                    return self.respond(now, &key, &reply(481));
                }
                match dtmf_from_info(&req) {
                    Ok(Some((digit, duration_ms))) => {
                        self.events.push_back(Event::Dtmf {
                            call: CallId(id),
                            digit,
                            duration_ms,
                        });
                        self.respond(now, &key, &reply(200));
                    }
                    Ok(None) => self.respond(now, &key, &reply(200)),
                    Err(()) => {
                        let mut r = reply(415);
                        r.push("Accept", "application/dtmf-relay, application/dtmf");
                        self.respond(now, &key, &r);
                    }
                }
            }
            _ => {
                let mut r = reply(405);
                r.push("Allow", ALLOW);
                self.respond(now, &key, &r);
            }
        }
    }

    fn new_call(
        &mut self,
        now: Instant,
        key: TxKey,
        req: Message,
        tag: String,
        dest: SocketAddr,
        transport: Transport,
    ) {
        let reply = |code: u16| Message::response_to(&req, code, Some(&tag));
        if !req.body.is_empty() && req.content_type().as_deref() != Some("application/sdp") {
            let mut r = reply(415);
            r.push("Accept", "application/sdp");
            return self.respond(now, &key, &r);
        }
        let accept = req.header_list("Accept");
        if req.count("Accept") > 0
            && !accept.iter().any(|a| {
                let a = a
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                matches!(a.as_str(), "application/sdp" | "application/*" | "*/*" | "")
            })
        {
            let mut r = reply(406);
            r.push(
                "Warning",
                "399 hotline \"only application/sdp bodies are produced\"",
            );
            return self.respond(now, &key, &r);
        }
        let id = req.call_id().unwrap_or("").to_string();
        if self.calls.len() >= self.config.max_calls {
            tracing::warn!(calls = self.calls.len(), "call limit reached: 503");
            let mut r = reply(503);
            r.push("Retry-After", "5");
            return self.respond(now, &key, &r);
        }
        if self.calls.contains_key(&id) {
            // Same Call-ID without To tag on a new branch: a merged or looped request (§8.2.2.2).
            return self.respond(now, &key, &reply(482));
        }
        self.respond(now, &key, &Message::response_to(&req, 100, None));
        let offer = (!req.body.is_empty()).then(|| req.body.clone());
        let from = req.from_addr().map(|f| f.uri).unwrap_or_default();
        let to = req.to_addr().map(|t| t.uri).unwrap_or_default();
        tracing::debug!(call_id = %id, %from, "incoming call");
        self.calls.insert(
            id.clone(),
            Call {
                role: Role::Uas,
                state: CallState::Early,
                dialog: Dialog::uas(&req, &tag),
                remote: dest,
                transport,
                offerless: offer.is_none(),
                invite: req,
                invite_key: key,
                retransmit: None,
                reinvite: None,
                ring_deadline: Some(now + self.config.answer_timeout),
                provisional: false,
                cancel: None,
                cancel_deadline: None,
                ack: None,
                bye_after_ack: false,
            },
        );
        self.schedule_call(&id);
        self.events.push_back(Event::IncomingCall {
            call: CallId(id),
            from,
            to,
            remote: dest,
            offer,
        });
    }

    fn handle_reinvite(&mut self, now: Instant, key: TxKey, req: Message) {
        let id = req.call_id().unwrap_or("").to_string();
        let tag = self.token();
        let status = match self.calls.get(&id) {
            Some(c) if c.dialog.matches(&req) => {
                if c.state != CallState::Confirmed || c.reinvite.is_some() {
                    491
                } else if c
                    .dialog
                    .remote_seq
                    .is_some_and(|s| req.cseq().map(|c| c.seq).unwrap_or(0) <= s)
                {
                    500
                } else {
                    0
                }
            }
            _ => 481,
        };
        if status != 0 {
            return self.respond(now, &key, &Message::response_to(&req, status, Some(&tag)));
        }
        self.respond(now, &key, &Message::response_to(&req, 100, None));
        let offer = (!req.body.is_empty()).then(|| req.body.clone());
        if let Some(c) = self.calls.get_mut(&id) {
            c.dialog.remote_seq = req.cseq().ok().map(|c| c.seq);
            c.reinvite = Some((key, req));
        }
        self.events.push_back(Event::ReInvite {
            call: CallId(id),
            offer,
        });
    }

    fn handle_ack(&mut self, now: Instant, req: &Message) {
        let id = req.call_id().unwrap_or("").to_string();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if !c.dialog.matches(req) || c.retransmit.is_none() {
            return;
        }
        c.retransmit = None;
        if c.reinvite.take().is_some() || c.state != CallState::Answered {
            return;
        }
        if c.bye_after_ack {
            c.state = CallState::Terminating;
            self.send_bye(now, &id);
            return;
        }
        c.state = CallState::Confirmed;
        let answer = (c.offerless && !req.body.is_empty()).then(|| req.body.clone());
        self.events.push_back(Event::CallAcked {
            call: CallId(id),
            answer,
        });
    }

    fn handle_cancel(&mut self, now: Instant, key: &TxKey, req: &Message, tag: &str) {
        let invite_key = TxKey {
            method: "INVITE".into(),
            ..key.clone()
        };
        let proceeding = match self.server_txs.get(&invite_key).map(|e| &e.tx) {
            Some(ServerTx::Invite(t)) => Some(t.state() == server_invite::State::Proceeding),
            _ => None,
        };
        match proceeding {
            None => self.respond(now, key, &Message::response_to(req, 481, Some(tag))),
            Some(false) => self.respond(now, key, &Message::response_to(req, 200, Some(tag))),
            Some(true) => {
                self.respond(now, key, &Message::response_to(req, 200, Some(tag)));
                let id = req.call_id().unwrap_or("").to_string();
                if let Some(c) = self.calls.get(&id) {
                    let r = Message::response_to(&c.invite, 487, Some(&c.dialog.local_tag));
                    self.respond(now, &invite_key, &r);
                    self.end_call(&id, EndReason::Cancelled);
                }
            }
        }
    }

    /// The application left an incoming call unanswered for `answer_timeout`: 480.
    pub(super) fn uas_answer_timeout(&mut self, now: Instant, id: &str) {
        let due = self.calls.get(id).is_some_and(|c| {
            c.role == Role::Uas
                && c.state == CallState::Early
                && c.ring_deadline.is_some_and(|t| t <= now)
        });
        if due {
            tracing::warn!(
                call_id = id,
                "incoming call never answered by the application: 480"
            );
            let _ = self.reject(now, &CallId(id.to_string()), 480);
        }
    }

    fn uas_call(
        &mut self,
        call: &CallId,
        command: &'static str,
    ) -> Result<&mut Call, CommandError> {
        match self.calls.get_mut(&call.0) {
            None => Err(CommandError::NoSuchCall(call.clone())),
            Some(c) if c.role != Role::Uas || c.state != CallState::Early => {
                Err(CommandError::WrongState {
                    call: call.clone(),
                    command,
                })
            }
            Some(c) => Ok(c),
        }
    }

    /// Sends 180 Ringing for an incoming call.
    pub fn ring(&mut self, now: Instant, call: &CallId) -> Result<(), CommandError> {
        let contact = self.our_contact(Transport::Udp);
        let c = self.uas_call(call, "ring")?;
        let mut r = Message::response_to(&c.invite, 180, Some(&c.dialog.local_tag));
        r.push("Contact", contact);
        let key = c.invite_key.clone();
        self.respond(now, &key, &r);
        Ok(())
    }

    /// Answers an incoming call with 200 and the application's SDP (offer or answer).
    pub fn answer(&mut self, now: Instant, call: &CallId, sdp: Bytes) -> Result<(), CommandError> {
        let ua = self.config.user_agent.clone();
        let transport = self
            .calls
            .get(&call.0)
            .map(|c| c.transport)
            .unwrap_or(Transport::Udp);
        let contact = self.our_contact(transport);
        let timers = self.config.timers;
        let c = self.uas_call(call, "answer")?;
        let mut r = Message::response_to(&c.invite, 200, Some(&c.dialog.local_tag));
        r.push("Contact", contact);
        r.push("Allow", ALLOW);
        r.push("Server", ua);
        for rr in c.invite.headers.iter().filter(|h| h.name == "Record-Route") {
            r.push("Record-Route", rr.value.clone());
        }
        r.set_body("application/sdp", sdp);
        let bytes = r.to_bytes();
        c.state = CallState::Answered;
        c.retransmit = Some(Retransmit2xx::new(
            now,
            bytes.clone(),
            &timers,
            c.transport == Transport::Tcp,
        ));
        let key = c.invite_key.clone();
        if let Some(e) = self.server_txs.get_mut(&key)
            && let ServerTx::Invite(t) = &mut e.tx
        {
            t.send_response(now, 200, bytes);
        }
        self.flush_server(&key);
        self.schedule_call(&call.0);
        Ok(())
    }

    /// Rejects an incoming call with `code` (4xx-6xx).
    pub fn reject(&mut self, now: Instant, call: &CallId, code: u16) -> Result<(), CommandError> {
        let code = if (300..700).contains(&code) {
            code
        } else {
            480
        };
        let c = self.uas_call(call, "reject")?;
        let r = Message::response_to(&c.invite, code, Some(&c.dialog.local_tag));
        let key = c.invite_key.clone();
        self.respond(now, &key, &r);
        self.end_call(&call.0, EndReason::Rejected(code));
        Ok(())
    }

    /// Answers a pending re-INVITE with 200 and the application's SDP.
    pub fn answer_reinvite(
        &mut self,
        now: Instant,
        call: &CallId,
        sdp: Bytes,
    ) -> Result<(), CommandError> {
        let contact = self.our_contact(Transport::Udp);
        let timers = self.config.timers;
        let Some(c) = self.calls.get_mut(&call.0) else {
            return Err(CommandError::NoSuchCall(call.clone()));
        };
        let Some((key, req)) = c.reinvite.clone() else {
            return Err(CommandError::WrongState {
                call: call.clone(),
                command: "answer_reinvite",
            });
        };
        let mut r = Message::response_to(&req, 200, None);
        r.push("Contact", contact);
        r.set_body("application/sdp", sdp);
        let bytes = r.to_bytes();
        c.retransmit = Some(Retransmit2xx::new(
            now,
            bytes.clone(),
            &timers,
            c.transport == Transport::Tcp,
        ));
        if let Some(e) = self.server_txs.get_mut(&key)
            && let ServerTx::Invite(t) = &mut e.tx
        {
            t.send_response(now, 200, bytes);
        }
        self.flush_server(&key);
        self.schedule_call(&call.0);
        Ok(())
    }

    /// Ends a call in whatever state: BYE if answered, CANCEL if our INVITE is unanswered,
    /// 480 if an incoming call was not answered yet.
    pub fn hangup(&mut self, now: Instant, call: &CallId) -> Result<(), CommandError> {
        let Some(c) = self.calls.get(&call.0) else {
            return Err(CommandError::NoSuchCall(call.clone()));
        };
        match (c.role, c.state) {
            (Role::Uas, CallState::Early) => self.reject(now, call, 480),
            (Role::Uac, CallState::Early) => {
                self.cancel_uac(now, &call.0, super::CancelReason::HungUp);
                Ok(())
            }
            (_, CallState::Terminating) => Ok(()),
            (Role::Uas, CallState::Answered) => {
                // §15: no BYE before the ACK of our 2xx (or its timeout, which BYEs anyway).
                if let Some(c) = self.calls.get_mut(&call.0) {
                    c.bye_after_ack = true;
                }
                Ok(())
            }
            (_, CallState::Answered | CallState::Confirmed) => {
                self.send_bye(now, &call.0);
                if let Some(c) = self.calls.get_mut(&call.0) {
                    c.state = CallState::Terminating;
                    c.retransmit = None;
                }
                Ok(())
            }
        }
    }
}

fn add_tag(mut r: Message, tag: &str) -> Message {
    if let Some(h) = r.headers.iter_mut().find(|h| h.name == "To")
        && !h.value.contains("tag=")
    {
        h.value.push_str(&format!(";tag={tag}"));
    }
    r
}

/// DTMF from an INFO body: `Ok(None)` without a body, `Err` for a body type we do not know.
fn dtmf_from_info(req: &Message) -> Result<Option<(char, u32)>, ()> {
    if req.body.is_empty() {
        return Ok(None);
    }
    let body = String::from_utf8_lossy(&req.body);
    let digit_of = |s: &str| -> Option<char> {
        let s = s.trim();
        match s {
            "10" => Some('*'),
            "11" => Some('#'),
            _ => {
                let mut chars = s.chars();
                let c = chars.next()?.to_ascii_uppercase();
                (chars.next().is_none() && (c.is_ascii_digit() || "*#ABCD".contains(c)))
                    .then_some(c)
            }
        }
    };
    match req.content_type().as_deref() {
        Some("application/dtmf-relay") => {
            let mut digit = None;
            let mut duration = 0;
            for line in body.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "signal" => digit = digit_of(v),
                        "duration" => duration = v.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            Ok(digit.map(|d| (d, duration)))
        }
        Some("application/dtmf") => Ok(digit_of(&body).map(|d| (d, 0))),
        _ => Err(()),
    }
}
