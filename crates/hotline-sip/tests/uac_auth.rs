//! Digest authentication of our outgoing INVITEs (RFC 3261 §22.2-22.3, §8.1.3.5, RFC 8760):
//! one sans-I/O endpoint against a scripted trunk that challenges with our own server-side
//! digest code ([`DigestAuth`]) and checks the credentials we send back with it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hotline_sip::digest::{Algorithm, AuthError, Credentials, DigestAuth};
use hotline_sip::endpoint::{
    CallId, Endpoint, EndpointConfig, Event, OutgoingCall, Transport, UacAuth,
};
use hotline_sip::message::{Message, Method};
use hotline_sip::parse::parse;

const US: &str = "10.0.0.1:5060";
const TRUNK: &str = "10.0.0.9:5060";
const TARGET: &str = "sip:5551234@10.0.0.9";
const OFFER: &[u8] = b"v=0\r\no=a 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const ANSWER: &[u8] = b"v=0\r\no=t 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
const USER: &str = "alice";
const PASSWORD: &str = "s3cret";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn creds(password: &str) -> Option<UacAuth> {
    Some(UacAuth {
        username: USER.into(),
        password: password.into(),
    })
}

/// Our endpoint, the trunk's digest server, and a virtual clock.
struct Trunk {
    now: Instant,
    ep: Endpoint,
    auth: DigestAuth,
}

impl Trunk {
    /// A trunk whose nonces go stale after `nonce_ttl`.
    fn new(nonce_ttl: Duration) -> Trunk {
        let now = Instant::now();
        let mut cfg = EndpointConfig::new(addr(US));
        cfg.seed = 7;
        Trunk {
            now,
            ep: Endpoint::new(cfg, now),
            auth: DigestAuth::new("trunk.example", [9; 32], now, nonce_ttl),
        }
    }

    /// Places a call; returns it and the first INVITE.
    fn call(&mut self, auth: Option<UacAuth>, ring_timeout: Option<Duration>) -> (CallId, Message) {
        let call = self.ep.invite(
            self.now,
            OutgoingCall {
                target: TARGET.into(),
                dest: addr(TRUNK),
                transport: Transport::Udp,
                from: format!("sip:hotline@{US}"),
                to: TARGET.into(),
                sdp: Bytes::from_static(OFFER),
                ring_timeout,
                auth,
            },
        );
        let mut out = self.sent();
        assert_eq!(out.len(), 1);
        (call, out.remove(0))
    }

    /// Everything the endpoint sent since the last call (all of it to the trunk).
    fn sent(&mut self) -> Vec<Message> {
        std::iter::from_fn(|| self.ep.poll_transmit())
            .map(|t| {
                assert_eq!(t.dest, addr(TRUNK));
                parse(&t.payload, true).unwrap()
            })
            .collect()
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    /// Sends the trunk's response `code` to `req`, with extra headers.
    fn reply(&mut self, req: &Message, code: u16, headers: &[(&str, String)]) {
        let mut r = Message::response_to(req, code, Some("trunk-tag"));
        for (name, value) in headers {
            r.push(name, value.clone());
        }
        if code == 200 && req.method() == Some(Method::Invite) {
            r.push("Contact", "<sip:5551234@10.0.0.9:5060>");
            r.set_body("application/sdp", Bytes::from_static(ANSWER));
        }
        self.ep
            .handle_input(self.now, Transport::Udp, addr(TRUNK), &r.to_bytes());
    }

    /// A 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) with a fresh MD5 challenge.
    fn challenge(&mut self, req: &Message, code: u16, stale: bool) {
        let value = self.auth.challenge(self.now, Algorithm::Md5, stale);
        self.reply(req, code, &[(challenge_header(code), value)]);
    }

    /// Checks the credentials in `req`'s `header` as the trunk would.
    fn check(&self, req: &Message, header: &str) -> Result<Credentials, AuthError> {
        let creds = req
            .header(header)
            .and_then(Credentials::parse)
            .ok_or(AuthError::Missing)?;
        let password_of = |u: &str| (u == USER).then(|| PASSWORD.to_string());
        self.auth
            .verify(self.now, "INVITE", &creds, password_of)
            .map(|()| creds)
    }
}

fn challenge_header(code: u16) -> &'static str {
    if code == 401 {
        "WWW-Authenticate"
    } else {
        "Proxy-Authenticate"
    }
}

fn branch(m: &Message) -> String {
    m.top_via().unwrap().branch().unwrap().to_string()
}

fn cseq(m: &Message) -> &str {
    m.header("CSeq").unwrap()
}

/// The ACK the INVITE transaction sends for a non-2xx final (§17.1.1.3).
fn assert_acks(ack: &Message, invite: &Message) {
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(branch(ack), branch(invite));
    let seq = invite.cseq().unwrap().seq;
    assert_eq!(cseq(ack), format!("{seq} ACK"));
}

/// The challenge is ACKed, then answered by a second INVITE that differs from the first only
/// in CSeq, branch and the credentials; returns that INVITE.
fn retried(t: &mut Trunk, first: &Message, code: u16) -> Message {
    let out = t.sent();
    assert_eq!(out.len(), 2, "ACK and the new INVITE: {out:?}");
    assert_acks(&out[0], first);
    let inv = out[1].clone();
    assert_eq!(inv.method(), Some(Method::Invite));
    assert_eq!(inv.request_uri(), Some(TARGET));
    let seq = first.cseq().unwrap().seq + 1;
    assert_eq!(cseq(&inv), format!("{seq} INVITE"));
    assert_ne!(branch(&inv), branch(first));
    assert!(branch(&inv).starts_with("z9hG4bK"));
    for same in ["Call-ID", "From", "To", "Contact", "Content-Type"] {
        assert_eq!(inv.header(same), first.header(same), "{same}");
    }
    assert!(inv.to_addr().unwrap().tag().is_none(), "To without tag");
    assert_eq!(inv.body, Bytes::from_static(OFFER));
    let (wanted, other) = match code {
        401 => ("Authorization", "Proxy-Authorization"),
        _ => ("Proxy-Authorization", "Authorization"),
    };
    assert_eq!(inv.count(wanted), 1, "{wanted}");
    assert_eq!(inv.count(other), 0, "{other}");
    inv
}

/// (a) 407 → INVITE with Proxy-Authorization, CSeq 2, a new branch; 200 → Answered; the ACK
/// has CSeq 2 and the credentials; the BYE has CSeq 3.
#[test]
fn proxy_challenge_is_answered_and_the_dialog_continues() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (call, first) = t.call(creds(PASSWORD), None);
    assert_eq!(cseq(&first), "1 INVITE");
    assert_eq!(first.count("Proxy-Authorization"), 0);
    t.challenge(&first, 407, false);
    let second = retried(&mut t, &first, 407);
    assert_eq!(t.events(), vec![], "the app hears nothing of the challenge");
    let c = t
        .check(&second, "Proxy-Authorization")
        .expect("valid response");
    assert_eq!(
        (c.username.as_str(), c.realm.as_str(), c.uri.as_str()),
        (USER, "trunk.example", TARGET)
    );
    assert_eq!((c.algorithm.as_str(), c.qop.as_str()), ("MD5", "auth"));
    assert_eq!(c.nc, "00000001");
    assert_eq!(c.cnonce.len(), 16, "cnonce from the endpoint's rng");

    // A retransmission of the 407 is only re-ACKed: no second retry for the same challenge.
    t.challenge(&first, 407, false);
    let out = t.sent();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_acks(&out[0], &first);

    t.reply(&second, 180, &[]);
    t.reply(&second, 200, &[]);
    assert_eq!(
        t.events(),
        vec![
            Event::Ringing {
                call: call.clone(),
                early_sdp: None
            },
            Event::Answered {
                call: call.clone(),
                sdp: Some(Bytes::from_static(ANSWER))
            },
        ]
    );
    let out = t.sent();
    assert_eq!(out.len(), 1, "{out:?}");
    let ack = &out[0];
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(cseq(ack), "2 ACK");
    assert_ne!(
        branch(ack),
        branch(&second),
        "the 2xx ACK is its own transaction"
    );
    assert_eq!(ack.to_addr().unwrap().tag(), Some("trunk-tag"));
    assert_eq!(
        ack.header("Proxy-Authorization"),
        second.header("Proxy-Authorization"),
        "§13.2.2.4: the ACK carries the INVITE's credentials"
    );

    t.ep.hangup(t.now, &call).unwrap();
    let out = t.sent();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].method(), Some(Method::Bye));
    assert_eq!(cseq(&out[0]), "3 BYE");
    assert_eq!(out[0].header("Call-ID"), first.header("Call-ID"));
}

/// (b) 401 → the retry carries Authorization (not Proxy-Authorization).
#[test]
fn www_authenticate_gets_authorization() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (call, first) = t.call(creds(PASSWORD), None);
    t.challenge(&first, 401, false);
    let second = retried(&mut t, &first, 401);
    t.check(&second, "Authorization").expect("valid response");
    t.reply(&second, 200, &[]);
    assert!(matches!(&t.events()[..], [Event::Answered { call: c, .. }] if *c == call));
    let ack = t.sent().remove(0);
    assert_eq!(cseq(&ack), "2 ACK");
    assert_eq!(ack.header("Authorization"), second.header("Authorization"));
}

/// (c) A wrong password is refused with a second (non-stale) 407: reported as Failed 407,
/// no third INVITE, the call forgotten.
#[test]
fn wrong_password_fails_without_another_try() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (call, first) = t.call(creds("not-the-password"), None);
    t.challenge(&first, 407, false);
    let second = retried(&mut t, &first, 407);
    assert_eq!(
        t.check(&second, "Proxy-Authorization").map(|_| ()),
        Err(AuthError::WrongPassword(USER.into()))
    );
    t.challenge(&second, 407, false);
    let out = t.sent();
    assert_eq!(out.len(), 1, "only the ACK: {out:?}");
    assert_acks(&out[0], &second);
    assert_eq!(t.events(), vec![Event::Failed { call, code: 407 }]);
    assert_eq!(t.ep.call_count(), 0);
    // Nothing else ever goes out (the old transactions only wait out Timer D).
    t.ep.handle_timeout(t.now + Duration::from_secs(40));
    assert!(t.sent().is_empty());
    assert_eq!(t.ep.transaction_count(), (0, 0));
}

/// (d) A stale=true re-challenge with a new nonce earns exactly one more try.
#[test]
fn stale_nonce_gets_one_more_try() {
    let mut t = Trunk::new(Duration::from_secs(1));
    let (call, first) = t.call(creds(PASSWORD), None);
    t.challenge(&first, 407, false);
    let second = retried(&mut t, &first, 407);
    let nonce2 = t.check(&second, "Proxy-Authorization").unwrap().nonce;

    t.now += Duration::from_secs(5);
    assert_eq!(
        t.check(&second, "Proxy-Authorization").map(|_| ()),
        Err(AuthError::Stale)
    );
    t.challenge(&second, 407, true);
    let third = retried(&mut t, &second, 407);
    assert_eq!(cseq(&third), "3 INVITE");
    let c = t.check(&third, "Proxy-Authorization").expect("valid again");
    assert_ne!(c.nonce, nonce2, "answers the new nonce");
    assert_eq!(t.events(), vec![]);

    // Stale again: no loop, the call fails.
    t.now += Duration::from_secs(5);
    t.challenge(&third, 407, true);
    let out = t.sent();
    assert_eq!(out.len(), 1, "only the ACK: {out:?}");
    assert_acks(&out[0], &third);
    assert_eq!(t.events(), vec![Event::Failed { call, code: 407 }]);
}

/// stale=true with the nonce we already answered is not a reason to try again.
#[test]
fn stale_with_the_same_nonce_fails() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (call, first) = t.call(creds(PASSWORD), None);
    t.challenge(&first, 401, false);
    let second = retried(&mut t, &first, 401);
    let used = t.check(&second, "Authorization").unwrap().nonce;
    let again =
        format!("Digest realm=\"trunk.example\", nonce=\"{used}\", qop=\"auth\", stale=true");
    t.reply(&second, 401, &[("WWW-Authenticate", again)]);
    assert_eq!(t.sent().len(), 1, "only the ACK");
    assert_eq!(t.events(), vec![Event::Failed { call, code: 401 }]);
}

/// (e) Without credentials a challenge is a failure at once.
#[test]
fn without_credentials_a_challenge_fails() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (call, first) = t.call(None, None);
    t.challenge(&first, 407, false);
    let out = t.sent();
    assert_eq!(out.len(), 1, "only the ACK: {out:?}");
    assert_acks(&out[0], &first);
    assert_eq!(t.events(), vec![Event::Failed { call, code: 407 }]);
    assert_eq!(t.ep.call_count(), 0);
}

/// (f) CANCEL after a retry: the retried INVITE's CSeq number and branch, and only once a
/// provisional response to *that* INVITE arrived (§9.1), even if the first INVITE had one.
#[test]
fn cancel_after_retry_targets_the_retried_invite() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (call, first) = t.call(creds(PASSWORD), None);
    t.reply(&first, 180, &[]);
    t.challenge(&first, 407, false);
    let second = retried(&mut t, &first, 407);
    t.ep.hangup(t.now, &call).unwrap();
    assert!(
        t.sent().is_empty(),
        "no CANCEL before a provisional to the retry"
    );
    t.reply(&second, 180, &[]);
    let out = t.sent();
    assert_eq!(out.len(), 1, "{out:?}");
    let cancel = &out[0];
    assert_eq!(cancel.method(), Some(Method::Cancel));
    assert_eq!(cseq(cancel), "2 CANCEL");
    assert_eq!(branch(cancel), branch(&second));
    assert_eq!(cancel.request_uri(), Some(TARGET));
    assert_eq!(cancel.header("From"), second.header("From"));
    assert_eq!(cancel.header("To"), second.header("To"));

    t.reply(cancel, 200, &[]);
    t.reply(&second, 487, &[]);
    let out = t.sent();
    assert_eq!(out.len(), 1, "ACK for the 487: {out:?}");
    assert_acks(&out[0], &second);
    assert_eq!(
        t.events(),
        vec![
            Event::Ringing {
                call: call.clone(),
                early_sdp: None
            },
            Event::Cancelled { call },
        ]
    );
    assert_eq!(t.ep.call_count(), 0);
}

/// SHA-256 and MD5 both offered: SHA-256 is answered, whatever the order.
#[test]
fn sha256_is_preferred_over_md5() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (_call, first) = t.call(creds(PASSWORD), None);
    let md5 = t.auth.challenge(t.now, Algorithm::Md5, false);
    let sha = t.auth.challenge(t.now, Algorithm::Sha256, false);
    t.reply(
        &first,
        407,
        &[("Proxy-Authenticate", md5), ("Proxy-Authenticate", sha)],
    );
    let second = retried(&mut t, &first, 407);
    let c = t
        .check(&second, "Proxy-Authorization")
        .expect("valid response");
    assert_eq!(c.algorithm, "SHA-256");
    assert_eq!(c.response.len(), 64);
}

/// A challenge with an algorithm we do not implement is reported, not answered.
#[test]
fn unknown_algorithm_is_not_answered() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (call, first) = t.call(creds(PASSWORD), None);
    let odd = "Digest realm=\"trunk.example\", nonce=\"abc\", algorithm=SHA-512-256".to_string();
    t.reply(&first, 401, &[("WWW-Authenticate", odd)]);
    assert_eq!(t.sent().len(), 1, "only the ACK");
    assert_eq!(t.events(), vec![Event::Failed { call, code: 401 }]);
}

/// The ring timeout counts from the first INVITE, not from the retry.
#[test]
fn ring_timeout_counts_from_the_first_invite() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let start = t.now;
    let (call, first) = t.call(creds(PASSWORD), Some(Duration::from_secs(15)));
    t.now += Duration::from_secs(5);
    t.challenge(&first, 407, false);
    let _second = retried(&mut t, &first, 407);
    let deadline = start + Duration::from_secs(15);
    while let Some(at) = t.ep.poll_timeout().filter(|at| *at < deadline) {
        t.ep.handle_timeout(at);
        assert_eq!(t.events(), vec![], "nothing before 15 s");
    }
    assert_eq!(t.ep.poll_timeout(), Some(deadline));
    t.ep.handle_timeout(deadline);
    assert_eq!(t.events(), vec![Event::TimedOut { call }]);
}

/// A challenge arriving after the app hung up (before any provisional, so no CANCEL went out
/// yet) is not answered: the call is already over for the app and is forgotten silently.
#[test]
fn challenge_after_hangup_is_not_answered() {
    let mut t = Trunk::new(Duration::from_secs(60));
    let (call, first) = t.call(creds(PASSWORD), None);
    t.ep.hangup(t.now, &call).unwrap();
    assert_eq!(t.events(), vec![Event::Cancelled { call }]);
    assert!(t.sent().is_empty(), "no CANCEL before a provisional");
    t.challenge(&first, 407, false);
    let out = t.sent();
    assert_eq!(out.len(), 1, "only the ACK: {out:?}");
    assert_acks(&out[0], &first);
    assert_eq!(t.events(), vec![]);
    assert_eq!(t.ep.call_count(), 0);
}
