//! Transaction layer (RFC 3261 §17): one sans-I/O state machine per kind, matched by branch,
//! method and sent-by (§17.2.3), with the RFC 2543 fallback key for branches without the magic
//! cookie. Each machine queues its own transmissions, timeouts and events.

pub mod client_invite;
pub mod client_non_invite;
pub mod server_invite;
pub mod server_non_invite;

pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::message::{Message, Method};

/// What every transaction queues for its user: bytes to send and events, drained in order.
#[derive(Debug, Default)]
pub struct Outputs {
    transmit: VecDeque<Bytes>,
    events: VecDeque<TxEvent>,
}

impl Outputs {
    /// Outputs with `bytes` already queued (a client transaction's first request).
    pub(crate) fn sending(bytes: Bytes) -> Outputs {
        Outputs {
            transmit: VecDeque::from([bytes]),
            events: VecDeque::new(),
        }
    }

    pub(crate) fn send(&mut self, bytes: Bytes) {
        self.transmit.push_back(bytes);
    }

    pub(crate) fn event(&mut self, event: TxEvent) {
        self.events.push_back(event);
    }
}

/// The draining side shared by the four state machines ([`Outputs`]), and the earliest of
/// their timers. `handle_*` stay per machine: their inputs differ.
pub trait Transaction {
    /// The machine's queues.
    fn outputs(&mut self) -> &mut Outputs;

    /// Its timers (unset ones `None`), for [`Transaction::poll_timeout`].
    fn timers(&self) -> Vec<Option<Instant>>;

    /// Next message to send.
    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outputs().transmit.pop_front()
    }

    /// Next event for the transaction user.
    fn poll_event(&mut self) -> Option<TxEvent> {
        self.outputs().events.pop_front()
    }

    /// Earliest pending timer.
    fn poll_timeout(&self) -> Option<Instant> {
        self.timers().into_iter().flatten().min()
    }
}

/// The states of both non-INVITE machines (RFC 3261 Figures 6 and 8 share their names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteState {
    /// Client: request sent. Server: no response yet.
    Trying,
    /// A provisional response arrived (client) or was sent (server).
    Proceeding,
    /// The final response arrived (client) or was sent (server).
    Completed,
    /// Done.
    Terminated,
}

/// The RFC 3261 branch prefix.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// What a transaction reports to the transaction user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// A response for a client transaction (first copy of each, plus 2xx retransmissions).
    Response(Box<Message>),
    /// Timer B/F (client) or H (server) fired.
    Timeout,
}

/// Key matching requests and responses to transactions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxKey {
    /// Branch (or an RFC 2543 composite).
    pub branch: String,
    /// Method, with ACK folded into INVITE (ACK for non-2xx belongs to the INVITE transaction).
    pub method: String,
    /// sent-by of the top Via (server side).
    pub sent_by: String,
}

impl TxKey {
    /// Server-side key of an incoming request (§17.2.3), `None` if the Via is unreadable.
    pub fn server(req: &Message) -> Option<TxKey> {
        let via = req.top_via().ok()?;
        let method = match req.method()? {
            Method::Ack => "INVITE".to_string(),
            m => m.as_str().to_string(),
        };
        let branch = match via.branch() {
            Some(b) if b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len() => b.to_string(),
            // RFC 2543 fallback (§17.2.3, last paragraphs): Call-ID, CSeq number, From tag,
            // To tag is ignored so the ACK matches, top Via.
            _ => format!(
                "2543|{}|{}|{}|{}",
                req.call_id().unwrap_or(""),
                req.cseq().map(|c| c.seq).unwrap_or(0),
                req.from_addr()
                    .ok()
                    .and_then(|f| f.tag().map(str::to_string))
                    .unwrap_or_default(),
                via.branch().unwrap_or(""),
            ),
        };
        Some(TxKey {
            branch,
            method,
            sent_by: via.sent_by().to_ascii_lowercase(),
        })
    }

    /// Client-side key of an incoming response (§17.1.3): branch and CSeq method.
    pub fn client(resp: &Message) -> Option<TxKey> {
        let via = resp.top_via().ok()?;
        Some(TxKey {
            branch: via.branch()?.to_string(),
            method: resp.cseq().ok()?.method.as_str().to_string(),
            sent_by: String::new(),
        })
    }
}

/// Builds the ACK for a non-2xx final response (§17.1.1.3).
pub fn ack_for_non_2xx(invite: &Message, response: &Message) -> Message {
    let mut ack = Message::request(
        Method::Ack,
        invite.request_uri().unwrap_or("sip:invalid").to_string(),
    );
    if let Some(v) = invite.header("Via") {
        ack.push("Via", crate::headers::split_list(v)[0].to_string());
    }
    for name in ["From", "Call-ID"] {
        if let Some(v) = invite.header(name) {
            ack.push(name, v.to_string());
        }
    }
    if let Some(to) = response.header("To") {
        ack.push("To", to.to_string());
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
    ack.push("CSeq", format!("{seq} ACK"));
    for r in invite.headers.iter().filter(|h| h.name == "Route") {
        ack.push("Route", r.value.clone());
    }
    ack.push("Max-Forwards", "70");
    ack
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::message::Message;
    use crate::parse::parse;

    pub fn invite(branch: &str) -> Message {
        request("INVITE", branch)
    }

    pub fn request(method: &str, branch: &str) -> Message {
        let text = format!(
            "{method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
             From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\n\
             Call-ID: c1@127.0.0.1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        parse(text.as_bytes(), true).expect("test request parses")
    }

    pub fn response(req: &Message, code: u16) -> Message {
        Message::response_to(req, code, Some("b1"))
    }
}
