//! Floods and password guessing against the sans-I/O endpoint (issue "hardening", part 3):
//! a source far past its budget is banned while other sources are answered; wrong digests lock
//! one account for one source, and the same account from the agent's own phone still registers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hotline_sip::abuse::AbuseConfig;
use hotline_sip::digest::Algorithm;
use hotline_sip::endpoint::{Endpoint, EndpointConfig, Transport};
use hotline_sip::registrar::RegistrarConfig;

fn endpoint(abuse: AbuseConfig) -> Endpoint {
    let mut cfg = EndpointConfig::new("192.0.2.2:5060".parse().unwrap());
    cfg.registrar = RegistrarConfig {
        credentials: Some([("1001".to_string(), "pw-1001".to_string())].into()),
        algorithms: vec![Algorithm::Md5],
        ..RegistrarConfig::default()
    };
    cfg.abuse = abuse;
    cfg.seed = 7;
    Endpoint::new(cfg, Instant::now())
}

fn statuses(ep: &mut Endpoint) -> Vec<(u16, String)> {
    std::iter::from_fn(|| ep.poll_transmit())
        .filter_map(|t| {
            let text = String::from_utf8_lossy(&t.payload).into_owned();
            let code = text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
            Some((code, text))
        })
        .collect()
}

fn options(branch: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:hotline@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK{branch}\r\n\
         From: <sip:probe@203.0.113.5>;tag=a\r\nTo: <sip:hotline@192.0.2.2>\r\nCall-ID: {branch}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn register(n: u32, auth: Option<&str>) -> Vec<u8> {
    let mut text = format!(
        "REGISTER sip:192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKreg{n}\r\n\
         From: <sip:1001@192.0.2.2>;tag=r{n}\r\nTo: <sip:1001@192.0.2.2>\r\nCall-ID: reg-{n}\r\n\
         CSeq: {n} REGISTER\r\nMax-Forwards: 70\r\nContact: <sip:1001@203.0.113.5:5060>\r\n"
    );
    if let Some(a) = auth {
        text.push_str(&format!("Authorization: {a}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text.into_bytes()
}

fn digest(nonce: &str, password: &str) -> String {
    let alg = Algorithm::Md5;
    let ha1 = alg.hash(&format!("1001:hotline:{password}"));
    let ha2 = alg.hash("REGISTER:sip:192.0.2.2");
    let resp = alg.hash(&format!("{ha1}:{nonce}:00000001:c:auth:{ha2}"));
    format!(
        "Digest username=\"1001\", realm=\"hotline\", nonce=\"{nonce}\", uri=\"sip:192.0.2.2\", \
         response=\"{resp}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c\""
    )
}

fn nonce_of(challenge: &str) -> String {
    challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a nonce in the challenge")
        .to_string()
}

#[test]
fn a_flood_from_one_source_is_banned_and_other_sources_are_still_answered() {
    let t0 = Instant::now();
    let mut ep = endpoint(AbuseConfig {
        budget_per_sec: 100,
        ban_after_excess: 50,
        ban: Duration::from_secs(60),
        ..AbuseConfig::default()
    });
    let flood: SocketAddr = "203.0.113.5:5060".parse().unwrap();
    let caller: SocketAddr = "198.51.100.7:5060".parse().unwrap();
    for i in 0..1_000 {
        ep.handle_input(t0, Transport::Udp, flood, &options(&format!("f{i}")));
    }
    let answered = statuses(&mut ep).len();
    assert_eq!(answered, 100, "the budget is answered, the rest dropped");
    let d = ep.drops();
    assert_eq!(d.rate_limited, 50, "50 over budget, then the ban");
    assert_eq!(d.banned, 850);
    // the next second, and the next minute, the source is still banned
    ep.handle_input(
        t0 + Duration::from_secs(5),
        Transport::Udp,
        flood,
        &options("later"),
    );
    assert!(statuses(&mut ep).is_empty());
    // a caller from elsewhere is answered throughout
    ep.handle_input(t0, Transport::Udp, caller, &options("caller"));
    assert_eq!(statuses(&mut ep).len(), 1);
    // the ban runs out
    ep.handle_input(
        t0 + Duration::from_secs(61),
        Transport::Udp,
        flood,
        &options("after"),
    );
    assert_eq!(statuses(&mut ep).len(), 1);
}

#[test]
fn wrong_digests_lock_the_account_for_that_source_only() {
    let t0 = Instant::now();
    let mut ep = endpoint(AbuseConfig {
        auth_max_failures: 3,
        auth_lockout: Duration::from_secs(600),
        ..AbuseConfig::default()
    });
    let attacker: SocketAddr = "203.0.113.5:5060".parse().unwrap();
    let phone: SocketAddr = "198.51.100.7:5060".parse().unwrap();
    ep.handle_input(t0, Transport::Udp, attacker, &register(1, None));
    let r = statuses(&mut ep);
    assert_eq!(r[0].0, 401);
    let nonce = nonce_of(&r[0].1);
    for n in 2..5 {
        let auth = digest(&nonce, &format!("guess{n}"));
        ep.handle_input(t0, Transport::Udp, attacker, &register(n, Some(&auth)));
        assert_eq!(statuses(&mut ep)[0].0, 401, "wrong password {n}");
    }
    assert_eq!(ep.drops().auth_failures, 3);
    // locked: even the right password from the attacker's address is refused
    let right = digest(&nonce, "pw-1001");
    ep.handle_input(t0, Transport::Udp, attacker, &register(5, Some(&right)));
    let r = statuses(&mut ep);
    assert_eq!(r[0].0, 403, "{}", r[0].1);
    assert!(r[0].1.contains("too many failed authentications"));
    assert_eq!(ep.drops().locked_out, 1);
    // the agent's own phone registers the same account
    ep.handle_input(t0, Transport::Udp, phone, &register(6, Some(&right)));
    assert_eq!(statuses(&mut ep)[0].0, 200);
    // after the lockout the attacker's address may try again
    let later = t0 + Duration::from_secs(601);
    ep.handle_input(later, Transport::Udp, attacker, &register(7, None));
    let r = statuses(&mut ep);
    assert_eq!(r[0].0, 401);
}
