//! Dialog state (RFC 3261 §12): Call-ID, local and remote tags, CSeq counters, remote target and
//! route set, and construction of in-dialog requests (BYE, ACK for 2xx). Also the TU-level 2xx
//! retransmission of §13.3.1.4 (T1 doubling to T2 until the ACK, giving up after 64*T1).

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::headers::{NameAddr, split_list};
use crate::message::{Message, Method};
use crate::timers::Timers;

/// One dialog, seen from our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag (absent for RFC 2543 peers, or before the UAC saw a response).
    pub remote_tag: Option<String>,
    /// Our From (for requests we send), tag included.
    pub local_header: String,
    /// The peer's header for our To, tag included once known.
    pub remote_header: String,
    /// Our last CSeq number.
    pub local_seq: u32,
    /// The peer's last CSeq number.
    pub remote_seq: Option<u32>,
    /// Where in-dialog requests go (the peer's Contact).
    pub remote_target: String,
    /// Route set (Record-Route, in the order our requests must carry it).
    pub route_set: Vec<String>,
}

impl Dialog {
    /// The UAS side of a dialog created by `invite`, answered with `local_tag` (§12.1.1).
    pub fn uas(invite: &Message, local_tag: &str) -> Dialog {
        let from = invite.header("From").unwrap_or("").to_string();
        let to = invite.header("To").unwrap_or("").to_string();
        Dialog {
            call_id: invite.call_id().unwrap_or("").to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: invite
                .from_addr()
                .ok()
                .and_then(|f| f.tag().map(str::to_string)),
            local_header: format!("{to};tag={local_tag}"),
            remote_header: from,
            local_seq: 0,
            remote_seq: invite.cseq().ok().map(|c| c.seq),
            remote_target: contact_uri(invite).unwrap_or_else(|| {
                invite
                    .from_addr()
                    .map(|f| f.uri)
                    .unwrap_or_else(|_| "sip:invalid".into())
            }),
            route_set: invite
                .header_list("Record-Route")
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }

    /// The UAC side, before any response: `invite` is our request.
    pub fn uac(invite: &Message, local_tag: &str) -> Dialog {
        Dialog {
            call_id: invite.call_id().unwrap_or("").to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: None,
            local_header: invite.header("From").unwrap_or("").to_string(),
            remote_header: invite.header("To").unwrap_or("").to_string(),
            local_seq: invite.cseq().map(|c| c.seq).unwrap_or(1),
            remote_seq: None,
            remote_target: invite.request_uri().unwrap_or("sip:invalid").to_string(),
            route_set: Vec::new(),
        }
    }

    /// Completes a UAC dialog from a 2xx (or dialog-creating 1xx) response (§12.1.2).
    pub fn confirm_uac(&mut self, resp: &Message) {
        if let Some(to) = resp.header("To") {
            self.remote_header = to.to_string();
        }
        self.remote_tag = resp
            .to_addr()
            .ok()
            .and_then(|t| t.tag().map(str::to_string));
        if let Some(target) = contact_uri(resp) {
            self.remote_target = target;
        }
        let mut rr: Vec<String> = resp
            .header_list("Record-Route")
            .into_iter()
            .map(str::to_string)
            .collect();
        rr.reverse();
        self.route_set = rr;
    }

    /// Whether an incoming in-dialog request belongs to this dialog (tags checked).
    pub fn matches(&self, req: &Message) -> bool {
        let to_tag = req.to_addr().ok().and_then(|t| t.tag().map(str::to_string));
        let from_tag = req
            .from_addr()
            .ok()
            .and_then(|f| f.tag().map(str::to_string));
        req.call_id() == Some(self.call_id.as_str())
            && to_tag.as_deref() == Some(self.local_tag.as_str())
            && (self.remote_tag.is_none() || from_tag == self.remote_tag)
    }

    /// A new in-dialog request (§12.2.1.1); `via` is the full Via value with a fresh branch.
    pub fn request(&mut self, method: Method, via: String) -> Message {
        self.local_seq = self.local_seq.wrapping_add(1);
        let seq = self.local_seq;
        self.build(method, seq, via)
    }

    /// The ACK for a 2xx to our INVITE with CSeq `seq` (§13.2.2.4).
    pub fn ack(&self, seq: u32, via: String) -> Message {
        self.build(Method::Ack, seq, via)
    }

    fn build(&self, method: Method, seq: u32, via: String) -> Message {
        let mut m = Message::request(method.clone(), self.remote_target.clone());
        m.push("Via", via);
        m.push("Max-Forwards", "70");
        m.push("From", self.local_header.clone());
        m.push("To", self.remote_header.clone());
        m.push("Call-ID", self.call_id.clone());
        m.push("CSeq", format!("{seq} {method}"));
        for r in &self.route_set {
            m.push("Route", r.clone());
        }
        m
    }
}

/// URI of the first Contact, if readable.
pub fn contact_uri(msg: &Message) -> Option<String> {
    let first = msg.header("Contact").map(split_list)?;
    NameAddr::parse("Contact", first.first()?)
        .ok()
        .map(|c| c.uri)
}

/// TU retransmission of a 2xx to INVITE until the ACK arrives (§13.3.1.4).
#[derive(Debug, Clone)]
pub struct Retransmit2xx {
    /// The serialised 2xx.
    pub bytes: Bytes,
    interval: Duration,
    next: Option<Instant>,
    /// When we give up waiting for the ACK (64*T1).
    pub deadline: Instant,
    t2: Duration,
}

impl Retransmit2xx {
    /// Starts after the first send at `now`; no retransmissions over reliable transports.
    pub fn new(now: Instant, bytes: Bytes, timers: &Timers, reliable: bool) -> Retransmit2xx {
        Retransmit2xx {
            bytes,
            interval: timers.t1,
            next: (!reliable).then_some(now + timers.t1),
            deadline: now + timers.t1 * 64,
            t2: timers.t2,
        }
    }

    /// Next instant something must happen.
    pub fn poll_timeout(&self) -> Instant {
        self.next.map_or(self.deadline, |n| n.min(self.deadline))
    }

    /// What to do at `now`: resend the 2xx, nothing, or give up (no ACK within 64*T1).
    pub fn handle_timeout(&mut self, now: Instant) -> RetransmitStep {
        if now >= self.deadline {
            return RetransmitStep::GaveUp;
        }
        match self.next {
            Some(n) if n <= now => {
                self.interval = (self.interval * 2).min(self.t2);
                self.next = Some(now + self.interval);
                RetransmitStep::Resend(self.bytes.clone())
            }
            _ => RetransmitStep::Idle,
        }
    }
}

/// Outcome of [`Retransmit2xx::handle_timeout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetransmitStep {
    /// Nothing due.
    Idle,
    /// Send these bytes again.
    Resend(Bytes),
    /// The ACK never came.
    GaveUp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_util::invite;

    #[test]
    fn uas_dialog_builds_bye() {
        let inv = invite("z9hG4bK1");
        let mut d = Dialog::uas(&inv, "loc");
        assert_eq!(d.remote_tag.as_deref(), Some("a1"));
        let bye = d.request(Method::Bye, "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx".into());
        assert_eq!(bye.header("From").unwrap(), "<sip:bob@127.0.0.1>;tag=loc");
        assert_eq!(bye.header("To").unwrap(), "<sip:alice@127.0.0.1>;tag=a1");
        assert_eq!(bye.cseq().unwrap().seq, 1);
        assert_eq!(bye.request_uri(), Some("sip:alice@127.0.0.1"));
    }

    #[test]
    fn retransmit_2xx_schedule() {
        let t0 = Instant::now();
        let mut r = Retransmit2xx::new(t0, Bytes::from_static(b"200"), &Timers::default(), false);
        let mut at = vec![];
        loop {
            let t = r.poll_timeout();
            match r.handle_timeout(t) {
                RetransmitStep::Resend(_) => at.push((t - t0).as_millis()),
                RetransmitStep::Idle => {}
                RetransmitStep::GaveUp => break,
            }
        }
        assert_eq!(&at[..5], &[500, 1500, 3500, 7500, 11500]);
        assert!(at.iter().all(|t| *t < 32_000));
    }
}
