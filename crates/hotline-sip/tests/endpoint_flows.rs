//! Call flows between two sans-I/O endpoints over a simulated network in virtual time
//! (seeded loss, fixed latency): no sockets, no sleeping. Also raw-message flows for what the
//! UAC side does not send (offerless INVITE, re-INVITE, INFO DTMF, CANCEL, missing ACK).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hotline_sip::endpoint::{
    CallId, EndReason, Endpoint, EndpointConfig, Event, OutgoingCall, Transport,
};
use hotline_sip::message::Message;
use hotline_sip::parse::parse;
use rand::{Rng, SeedableRng, rngs::StdRng};

const A: &str = "10.0.0.1:5060";
const B: &str = "10.0.0.2:5060";
const OFFER: &[u8] = b"v=0\r\no=a 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const ANSWER: &[u8] = b"v=0\r\no=b 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn endpoint(at: &str, seed: u64, now: Instant) -> Endpoint {
    let mut cfg = EndpointConfig::new(addr(at));
    cfg.seed = seed;
    Endpoint::new(cfg, now)
}

/// Two endpoints, a lossy wire with 20 ms latency, and a virtual clock.
struct Net {
    now: Instant,
    a: Endpoint,
    b: Endpoint,
    wire: VecDeque<(Instant, SocketAddr, SocketAddr, Bytes)>,
    rng: StdRng,
    loss: f64,
    events_a: Vec<Event>,
    events_b: Vec<Event>,
}

impl Net {
    fn new(seed: u64, loss: f64) -> Net {
        let now = Instant::now();
        Net {
            now,
            a: endpoint(A, seed, now),
            b: endpoint(B, seed + 1000, now),
            wire: VecDeque::new(),
            rng: StdRng::seed_from_u64(seed),
            loss,
            events_a: vec![],
            events_b: vec![],
        }
    }

    fn collect(&mut self) {
        for (ep, from) in [(&mut self.a, addr(A)), (&mut self.b, addr(B))] {
            while let Some(t) = ep.poll_transmit() {
                if !self.rng.random_bool(self.loss) {
                    self.wire.push_back((
                        self.now + Duration::from_millis(20),
                        from,
                        t.dest,
                        t.payload,
                    ));
                }
            }
        }
        while let Some(e) = self.a.poll_event() {
            self.events_a.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.events_b.push(e);
        }
    }

    /// Advances to the next delivery or timer; `false` when nothing is left to do.
    fn step(&mut self) -> bool {
        self.collect();
        let next = [
            self.wire.front().map(|w| w.0),
            self.a.poll_timeout(),
            self.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        while self.wire.front().is_some_and(|w| w.0 <= self.now) {
            let Some((_, from, to, bytes)) = self.wire.pop_front() else {
                break;
            };
            let ep = if to == addr(A) {
                &mut self.a
            } else {
                &mut self.b
            };
            ep.handle_input(self.now, Transport::Udp, from, &bytes);
        }
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.collect();
        true
    }

    /// Steps until nothing is pending (every timer ran out).
    fn drain(&mut self, limit: Duration) {
        let start = self.now;
        while self.step() {
            assert!(self.now - start < limit, "still busy after {limit:?}");
        }
    }

    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Net) -> bool) {
        let start = self.now;
        while !done(self) {
            assert!(
                self.now - start < limit,
                "timed out: a={:?} b={:?}",
                self.events_a,
                self.events_b
            );
            if !self.step() {
                assert!(
                    done(self),
                    "idle: a={:?} b={:?}",
                    self.events_a,
                    self.events_b
                );
                return;
            }
        }
    }
}

fn outgoing(ring_timeout: Option<Duration>) -> OutgoingCall {
    OutgoingCall {
        target: format!("sip:agent@{B}"),
        dest: addr(B),
        transport: Transport::Udp,
        from: format!("sip:hotline@{A}"),
        to: format!("sip:agent@{B}"),
        sdp: Bytes::from_static(OFFER),
        ring_timeout,
        auth: None,
    }
}

fn incoming_call(events: &[Event]) -> Option<(CallId, Option<Bytes>)> {
    events.iter().find_map(|e| match e {
        Event::IncomingCall { call, offer, .. } => Some((call.clone(), offer.clone())),
        _ => None,
    })
}

fn has(events: &[Event], f: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(f)
}

/// UAC → UAS: INVITE, 180, 200 (app SDP), ACK, BYE from the caller; with and without loss.
#[test]
fn basic_call_over_lossy_network() {
    for (seed, loss) in (0..40).map(|s| (s, if s == 0 { 0.0 } else { 0.2 })) {
        let mut net = Net::new(seed, loss);
        let now = net.now;
        let call_a = net.a.invite(now, outgoing(None));
        net.run_until(Duration::from_secs(40), |n| {
            incoming_call(&n.events_b).is_some()
        });
        let (call_b, offer) = incoming_call(&net.events_b).unwrap();
        assert_eq!(offer.as_deref(), Some(OFFER));
        net.b.ring(net.now, &call_b).unwrap();
        net.b
            .answer(net.now, &call_b, Bytes::from_static(ANSWER))
            .unwrap();
        net.run_until(Duration::from_secs(40), |n| {
            has(&n.events_a, |e| matches!(e, Event::Answered { .. }))
                && has(&n.events_b, |e| matches!(e, Event::CallAcked { .. }))
        });
        assert!(has(&net.events_a, |e| *e
            == Event::Answered {
                call: call_a.clone(),
                sdp: Some(Bytes::from_static(ANSWER))
            }));
        net.a.hangup(net.now, &call_a).unwrap();
        net.run_until(Duration::from_secs(40), |n| {
            has(&n.events_b, |e| {
                matches!(
                    e,
                    Event::CallEnded {
                        reason: EndReason::RemoteBye,
                        ..
                    }
                )
            }) && has(&n.events_a, |e| {
                matches!(
                    e,
                    Event::CallEnded {
                        reason: EndReason::LocalBye,
                        ..
                    }
                )
            })
        });
        // Let every transaction (and stale timer, e.g. the 120 s answer timeout) run out.
        net.drain(Duration::from_secs(150));
        assert_eq!(
            (net.a.call_count(), net.b.call_count()),
            (0, 0),
            "seed {seed}"
        );
        assert_eq!(net.a.transaction_count(), (0, 0));
        assert_eq!(net.b.transaction_count(), (0, 0));
        assert_eq!(
            net.events_b
                .iter()
                .filter(|e| matches!(e, Event::IncomingCall { .. }))
                .count(),
            1,
            "retransmitted INVITEs were absorbed (seed {seed})"
        );
    }
}

/// The agent rings but never answers: the 15 s ring timeout CANCELs (487 + 200).
#[test]
fn ring_timeout_cancels() {
    let mut net = Net::new(7, 0.0);
    let now = net.now;
    let call_a = net.a.invite(now, outgoing(Some(Duration::from_secs(15))));
    net.run_until(Duration::from_secs(1), |n| {
        incoming_call(&n.events_b).is_some()
    });
    let (call_b, _) = incoming_call(&net.events_b).unwrap();
    net.b.ring(net.now, &call_b).unwrap();
    net.run_until(Duration::from_secs(20), |n| {
        has(&n.events_a, |e| matches!(e, Event::TimedOut { .. }))
    });
    assert!(has(&net.events_a, |e| *e
        == Event::Ringing {
            call: call_a.clone(),
            early_sdp: None
        }));
    assert!(net.now - now >= Duration::from_secs(15));
    assert!(net.now - now < Duration::from_secs(16));
    net.run_until(Duration::from_secs(1), |n| {
        has(&n.events_b, |e| matches!(e, Event::CallEnded { .. }))
    });
    assert!(has(&net.events_b, |e| *e
        == Event::CallEnded {
            call: call_b.clone(),
            reason: EndReason::Cancelled
        }));
}

/// A rejected call reports the status; hanging up before answer reports Cancelled.
#[test]
fn rejected_and_hung_up_before_answer() {
    let mut net = Net::new(8, 0.0);
    let call_a = net.a.invite(net.now, outgoing(None));
    net.run_until(Duration::from_secs(1), |n| {
        incoming_call(&n.events_b).is_some()
    });
    let (call_b, _) = incoming_call(&net.events_b).unwrap();
    net.b.reject(net.now, &call_b, 486).unwrap();
    net.run_until(Duration::from_secs(1), |n| {
        has(&n.events_a, |e| matches!(e, Event::Failed { .. }))
    });
    assert!(has(&net.events_a, |e| *e
        == Event::Failed {
            call: call_a.clone(),
            code: 486
        }));

    let mut net = Net::new(9, 0.0);
    let call_a = net.a.invite(net.now, outgoing(None));
    net.run_until(Duration::from_secs(1), |n| {
        incoming_call(&n.events_b).is_some()
    });
    let (call_b, _) = incoming_call(&net.events_b).unwrap();
    net.b.ring(net.now, &call_b).unwrap();
    net.run_until(Duration::from_secs(1), |n| {
        has(&n.events_a, |e| matches!(e, Event::Ringing { .. }))
    });
    net.a.hangup(net.now, &call_a).unwrap();
    net.run_until(Duration::from_secs(2), |n| {
        has(&n.events_a, |e| matches!(e, Event::Cancelled { .. }))
    });
    assert!(has(&net.events_b, |e| matches!(
        e,
        Event::CallEnded {
            reason: EndReason::Cancelled,
            ..
        }
    )));
}

/// The agent's phone never answers at all (no provisional): TimedOut at 15 s all the same, and
/// nothing more later.
#[test]
fn ring_timeout_without_any_response() {
    let now = Instant::now();
    let mut a = endpoint(A, 12, now);
    let call = a.invite(now, outgoing(Some(Duration::from_secs(15))));
    let mut events = vec![];
    while let Some(at) = a.poll_timeout() {
        a.handle_timeout(at);
        while a.poll_transmit().is_some() {}
        while let Some(e) = a.poll_event() {
            events.push((at - now, e));
        }
    }
    assert_eq!(
        events,
        vec![(Duration::from_secs(15), Event::TimedOut { call })]
    );
    assert_eq!(a.call_count(), 0);
}

/// Nobody answers at all: Timer B ends the call with 408.
#[test]
fn no_answer_is_408_after_timer_b() {
    let now = Instant::now();
    let mut a = endpoint(A, 1, now);
    let call = a.invite(now, outgoing(None));
    let mut sends = 0;
    let mut t = now;
    while let Some(at) = a.poll_timeout() {
        while a.poll_transmit().is_some() {
            sends += 1;
        }
        t = at;
        a.handle_timeout(at);
    }
    assert_eq!(sends, 7, "INVITE plus 6 Timer A retransmissions");
    assert_eq!(t - now, Duration::from_secs(32));
    assert_eq!(a.poll_event(), Some(Event::Failed { call, code: 408 }));
}

// ---- raw-message flows against one endpoint ----

fn raw(method: &str, branch: &str, extra: &str, body: &str) -> Vec<u8> {
    let cseq = match method {
        "ACK" => "1 ACK".to_string(),
        "CANCEL" => "1 CANCEL".to_string(),
        "INVITE" if extra.contains("tag=b") => "2 INVITE".to_string(),
        m => format!("{} {m}", if m == "INVITE" { 1 } else { 3 }),
    };
    let to = if extra.contains("TO-TAG") {
        "<sip:ivr@10.0.0.2>;tag=TAG"
    } else {
        "<sip:ivr@10.0.0.2>"
    };
    let extra = extra.replace("TO-TAG", "");
    format!(
        "{method} sip:ivr@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.5:5062;rport;branch={branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:caller@10.0.0.1>;tag=c1\r\nTo: {to}\r\nCall-ID: raw-1\r\nCSeq: {cseq}\r\n\
         Contact: <sip:caller@192.168.1.5:5062>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn sent(ep: &mut Endpoint) -> Vec<(SocketAddr, Message)> {
    std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| (t.dest, parse(&t.payload, true).unwrap()))
        .collect()
}

/// NAT: the caller's Via says 192.168.1.5:5062 but packets come from 203.0.113.9:40000.
const NAT_SRC: &str = "203.0.113.9:40000";

fn with_tag(bytes: &[u8], tag: &str) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .replace(";tag=TAG", &format!(";tag={tag}"))
        .into_bytes()
}

/// Offerless INVITE (offer in our 200, answer in the ACK), rport/received, INFO DTMF,
/// re-INVITE, BYE from the caller.
#[test]
fn offerless_invite_dtmf_reinvite_bye() {
    let now = Instant::now();
    let mut b = endpoint(B, 3, now);
    let src = addr(NAT_SRC);
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw("INVITE", "z9hG4bKi1", "", ""),
    );
    let out = sent(&mut b);
    assert_eq!(out[0].1.status(), Some(100));
    assert_eq!(
        out[0].0, src,
        "response goes where the request came from (rport)"
    );
    let via = out[0].1.header("Via").unwrap();
    assert!(
        via.contains("rport=40000") && via.contains("received=203.0.113.9"),
        "{via}"
    );
    let Some(Event::IncomingCall {
        call, offer: None, ..
    }) = b.poll_event()
    else {
        panic!("no offerless call")
    };
    b.answer(now, &call, Bytes::from_static(ANSWER)).unwrap();
    let ok = sent(&mut b).remove(0).1;
    assert_eq!(ok.status(), Some(200));
    assert_eq!(&ok.body[..], ANSWER);
    let tag = ok.to_addr().unwrap().tag().unwrap().to_string();
    let ack = with_tag(
        &raw(
            "ACK",
            "z9hG4bKa1",
            "TO-TAGContent-Type: application/sdp\r\n",
            "v=0\r\n",
        ),
        &tag,
    );
    b.handle_input(now, Transport::Udp, src, &ack);
    assert_eq!(
        b.poll_event(),
        Some(Event::CallAcked {
            call: call.clone(),
            answer: Some(Bytes::from_static(b"v=0\r\n"))
        })
    );

    for (ct, body, digit, dur) in [
        (
            "application/dtmf-relay",
            "Signal=5\r\nDuration=160\r\n",
            '5',
            160,
        ),
        ("application/dtmf", "#", '#', 0),
    ] {
        let info = with_tag(
            &raw(
                "INFO",
                &format!("z9hG4bKinfo{digit}"),
                &format!("TO-TAGContent-Type: {ct}\r\n"),
                body,
            ),
            &tag,
        );
        b.handle_input(now, Transport::Udp, src, &info);
        assert_eq!(sent(&mut b)[0].1.status(), Some(200));
        assert_eq!(
            b.poll_event(),
            Some(Event::Dtmf {
                call: call.clone(),
                digit,
                duration_ms: dur
            })
        );
    }

    let reinvite = with_tag(
        &raw(
            "INVITE",
            "z9hG4bKre",
            "TO-TAGContent-Type: application/sdp\r\n",
            "v=0\r\na=sendonly\r\n",
        )
        .to_vec(),
        &tag,
    );
    let reinvite = String::from_utf8_lossy(&reinvite)
        .replace("CSeq: 1 INVITE", "CSeq: 5 INVITE")
        .into_bytes();
    b.handle_input(now, Transport::Udp, src, &reinvite);
    assert_eq!(sent(&mut b)[0].1.status(), Some(100));
    assert_eq!(
        b.poll_event(),
        Some(Event::ReInvite {
            call: call.clone(),
            offer: Some(Bytes::from_static(b"v=0\r\na=sendonly\r\n"))
        })
    );
    b.answer_reinvite(now, &call, Bytes::from_static(b"v=0\r\na=recvonly\r\n"))
        .unwrap();
    let ok = sent(&mut b).remove(0).1;
    assert_eq!(
        (ok.status(), &ok.body[..]),
        (Some(200), &b"v=0\r\na=recvonly\r\n"[..])
    );
    let ack2 = String::from_utf8_lossy(&with_tag(&raw("ACK", "z9hG4bKa2", "TO-TAG", ""), &tag))
        .replace("CSeq: 1 ACK", "CSeq: 5 ACK")
        .into_bytes();
    b.handle_input(now, Transport::Udp, src, &ack2);
    b.handle_timeout(now + Duration::from_secs(1));
    assert!(
        sent(&mut b).is_empty(),
        "ACKed re-INVITE 200 is not retransmitted"
    );

    let bye = with_tag(&raw("BYE", "z9hG4bKbye", "TO-TAG", ""), &tag);
    b.handle_input(now, Transport::Udp, src, &bye);
    assert_eq!(sent(&mut b)[0].1.status(), Some(200));
    assert_eq!(
        b.poll_event(),
        Some(Event::CallEnded {
            call,
            reason: EndReason::RemoteBye
        })
    );
    b.handle_input(now, Transport::Udp, src, &bye);
    assert_eq!(
        sent(&mut b)[0].1.status(),
        Some(200),
        "retransmitted BYE gets the same 200"
    );
}

/// Caller CANCELs: 200 for the CANCEL, 487 for the INVITE, ACK absorbed.
#[test]
fn caller_cancel() {
    let now = Instant::now();
    let mut b = endpoint(B, 4, now);
    let src = addr(NAT_SRC);
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw(
            "INVITE",
            "z9hG4bKc1",
            "Content-Type: application/sdp\r\n",
            "v=0\r\n",
        ),
    );
    sent(&mut b);
    let Some(Event::IncomingCall { call, .. }) = b.poll_event() else {
        panic!()
    };
    b.ring(now, &call).unwrap();
    sent(&mut b);
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw("CANCEL", "z9hG4bKc1", "", ""),
    );
    let codes: Vec<_> = sent(&mut b)
        .iter()
        .map(|(_, m)| (m.status(), m.cseq().unwrap().method))
        .collect();
    assert_eq!(codes.len(), 2);
    assert!(codes.contains(&(Some(200), hotline_sip::message::Method::Cancel)));
    assert!(codes.contains(&(Some(487), hotline_sip::message::Method::Invite)));
    assert_eq!(
        b.poll_event(),
        Some(Event::CallEnded {
            call,
            reason: EndReason::Cancelled
        })
    );
    b.handle_input(now, Transport::Udp, src, &raw("ACK", "z9hG4bKc1", "", ""));
    b.handle_timeout(now + Duration::from_secs(10));
    assert!(
        sent(&mut b).is_empty(),
        "487 ACKed: no more retransmissions"
    );
    assert_eq!(
        b.transaction_count().0,
        1,
        "only the CANCEL's transaction lingers (Timer J)"
    );
}

/// Our 200 is retransmitted (T1 doubling to T2) and the call is torn down after 64*T1.
#[test]
fn missing_ack_retransmits_then_byes() {
    let now = Instant::now();
    let mut b = endpoint(B, 5, now);
    let src = addr(NAT_SRC);
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw(
            "INVITE",
            "z9hG4bKn1",
            "Content-Type: application/sdp\r\n",
            "v=0\r\n",
        ),
    );
    let Some(Event::IncomingCall { call, .. }) = b.poll_event() else {
        panic!()
    };
    b.answer(now, &call, Bytes::from_static(ANSWER)).unwrap();
    sent(&mut b);
    let mut oks = vec![];
    let mut bye = None;
    while let Some(at) = b.poll_timeout() {
        if at - now > Duration::from_secs(40) {
            break;
        }
        b.handle_timeout(at);
        for (_, m) in sent(&mut b) {
            match m.status() {
                Some(200) => oks.push((at - now).as_millis()),
                None if bye.is_none() => bye = Some((at - now, m)),
                None => {}
                _ => {}
            }
        }
    }
    assert_eq!(&oks[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
    let (at, bye) = bye.expect("BYE after ACK timeout");
    assert_eq!(at, Duration::from_secs(32));
    assert_eq!(bye.method(), Some(hotline_sip::message::Method::Bye));
    assert_eq!(bye.request_uri(), Some("sip:caller@192.168.1.5:5062"));
    assert_eq!(
        b.poll_event(),
        Some(Event::CallEnded {
            call,
            reason: EndReason::AckTimeout
        })
    );
}

/// OPTIONS gets 200 with Allow; unknown methods 501; scanners and floods are dropped.
#[test]
fn options_unknown_scanner_and_budget() {
    let now = Instant::now();
    let mut cfg = EndpointConfig::new(addr(B));
    cfg.abuse.budget_per_sec = 5;
    let mut b = Endpoint::new(cfg, now);
    let src = addr(NAT_SRC);
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw("OPTIONS", "z9hG4bKo1", "", ""),
    );
    let ok = sent(&mut b).remove(0).1;
    assert_eq!(ok.status(), Some(200));
    assert!(ok.header("Allow").unwrap().contains("INVITE"));
    let unknown = String::from_utf8_lossy(&raw("FOO", "z9hG4bKf1", "", "")).into_owned();
    b.handle_input(now, Transport::Udp, src, unknown.as_bytes());
    let r = sent(&mut b).remove(0).1;
    assert_eq!(r.status(), Some(501));
    assert!(r.header("Allow").is_some());
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw(
            "OPTIONS",
            "z9hG4bKs1",
            "User-Agent: friendly-scanner\r\n",
            "",
        ),
    );
    assert!(sent(&mut b).is_empty());
    assert_eq!(b.drops().scanner, 1);
    for i in 0..10 {
        b.handle_input(
            now,
            Transport::Udp,
            src,
            &raw("OPTIONS", &format!("z9hG4bKflood{i}"), "", ""),
        );
    }
    assert_eq!(
        sent(&mut b).len(),
        2,
        "budget of 5/s: 3 used above, 2 more answered"
    );
    assert_eq!(b.drops().rate_limited, 8);
}

/// Shutdown hangs up live calls with BYE.
#[test]
fn shutdown_sends_bye() {
    let mut net = Net::new(11, 0.0);
    let call_a = net.a.invite(net.now, outgoing(None));
    net.run_until(Duration::from_secs(1), |n| {
        incoming_call(&n.events_b).is_some()
    });
    let (call_b, _) = incoming_call(&net.events_b).unwrap();
    net.b
        .answer(net.now, &call_b, Bytes::from_static(ANSWER))
        .unwrap();
    net.run_until(Duration::from_secs(1), |n| {
        has(&n.events_b, |e| matches!(e, Event::CallAcked { .. }))
    });
    net.b.shutdown(net.now);
    net.run_until(Duration::from_secs(1), |n| {
        has(&n.events_a, |e| matches!(e, Event::CallEnded { .. }))
            && has(&n.events_b, |e| matches!(e, Event::CallEnded { .. }))
    });
    assert!(has(&net.events_a, |e| *e
        == Event::CallEnded {
            call: call_a.clone(),
            reason: EndReason::RemoteBye
        }));
    assert!(has(&net.events_b, |e| *e
        == Event::CallEnded {
            call: call_b.clone(),
            reason: EndReason::LocalBye
        }));
}

/// Hanging up before the ACK of our 200 waits for the ACK, then sends BYE (§15).
#[test]
fn hangup_before_ack_waits_for_ack() {
    let now = Instant::now();
    let mut b = endpoint(B, 6, now);
    let src = addr(NAT_SRC);
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw(
            "INVITE",
            "z9hG4bKh1",
            "Content-Type: application/sdp\r\n",
            "v=0\r\n",
        ),
    );
    let Some(Event::IncomingCall { call, .. }) = b.poll_event() else {
        panic!()
    };
    b.answer(now, &call, Bytes::from_static(ANSWER)).unwrap();
    let tag = sent(&mut b)
        .last()
        .unwrap()
        .1
        .to_addr()
        .unwrap()
        .tag()
        .unwrap()
        .to_string();
    b.hangup(now, &call).unwrap();
    assert!(sent(&mut b).is_empty(), "no BYE before the ACK");
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &with_tag(&raw("ACK", "z9hG4bKh2", "TO-TAG", ""), &tag),
    );
    let out = sent(&mut b);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.method(), Some(hotline_sip::message::Method::Bye));
    let ok = Message::response_to(&out[0].1, 200, None).to_bytes();
    b.handle_input(now, Transport::Udp, src, &ok);
    assert_eq!(
        b.poll_event(),
        Some(Event::CallEnded {
            call,
            reason: EndReason::LocalBye
        })
    );
}

/// Beyond `max_calls` live calls, new INVITEs get 503 with Retry-After.
#[test]
fn call_limit_gives_503() {
    let now = Instant::now();
    let mut cfg = EndpointConfig::new(addr(B));
    cfg.max_calls = 1;
    let mut b = Endpoint::new(cfg, now);
    let src = addr(NAT_SRC);
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw("INVITE", "z9hG4bKm1", "", ""),
    );
    assert_eq!(sent(&mut b)[0].1.status(), Some(100));
    let second = String::from_utf8_lossy(&raw("INVITE", "z9hG4bKm2", "", ""))
        .replace("raw-1", "raw-2")
        .into_bytes();
    b.handle_input(now, Transport::Udp, src, &second);
    let r = sent(&mut b).remove(0).1;
    assert_eq!(
        (r.status(), r.header("Retry-After")),
        (Some(503), Some("5"))
    );
}

/// An incoming call the application forgets gets 480 after `answer_timeout`.
#[test]
fn unanswered_call_is_released() {
    let now = Instant::now();
    let mut b = endpoint(B, 13, now);
    let src = addr(NAT_SRC);
    b.handle_input(
        now,
        Transport::Udp,
        src,
        &raw("INVITE", "z9hG4bKu1", "", ""),
    );
    sent(&mut b);
    let Some(Event::IncomingCall { call, .. }) = b.poll_event() else {
        panic!()
    };
    assert_eq!(b.poll_timeout(), Some(now + Duration::from_secs(120)));
    b.handle_timeout(now + Duration::from_secs(120));
    assert_eq!(sent(&mut b)[0].1.status(), Some(480));
    assert_eq!(
        b.poll_event(),
        Some(Event::CallEnded {
            call,
            reason: EndReason::Rejected(480)
        })
    );
}
