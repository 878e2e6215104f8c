//! Registrar (RFC 3261 §10.3) for agent softphones: digest authentication (see
//! [`crate::digest`]), several contacts per address-of-record, expiry, un-REGISTER with
//! `Expires: 0` or `Contact: *`, and a lookup API for the UAC that rings agents.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::digest::{Algorithm, AuthError, Credentials, DigestAuth};
use crate::headers::{NameAddr, param};
use crate::message::{Message, Method};
use crate::transport::Transport;

/// Registrar settings.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Digest realm.
    pub realm: String,
    /// user → password; `None` disables authentication (tests, trusted networks).
    pub credentials: Option<HashMap<String, String>>,
    /// Algorithms challenged, most preferred first (RFC 8760 §2.1). Default SHA-256 then MD5.
    /// Interop (tested here): sipp 3.6.1 answers only the first challenge and knows only MD5,
    /// so it needs MD5 first; baresip 1.0 (libre) fails the REGISTER with "Function not
    /// implemented" when *any* challenge is SHA-256, so it needs `[Md5]` alone.
    pub algorithms: Vec<Algorithm>,
    /// Nonce lifetime; older nonces get `stale=true`.
    pub nonce_ttl: Duration,
    /// Expiry when the request names none.
    pub default_expires: u32,
    /// Shortest accepted non-zero expiry (423 below it).
    pub min_expires: u32,
    /// Longest granted expiry.
    pub max_expires: u32,
}

impl Default for RegistrarConfig {
    fn default() -> RegistrarConfig {
        RegistrarConfig {
            realm: "hotline".into(),
            credentials: Some(HashMap::new()),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_ttl: Duration::from_secs(300),
            default_expires: 3600,
            min_expires: 30,
            max_expires: 7200,
        }
    }
}

/// One registered contact of an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact URI exactly as registered (URI parameters kept, header parameters not).
    pub uri: String,
    /// When the binding lapses.
    pub expires_at: Instant,
    /// Where the REGISTER came from (send here to traverse NAT).
    pub source: SocketAddr,
    /// Transport the REGISTER came over.
    pub transport: Transport,
}

/// Outcome of a REGISTER for the endpoint to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// Bindings changed; the AOR now has this many contacts.
    Updated {
        /// Canonical AOR (`user@host`).
        aor: String,
        /// Number of live contacts.
        contacts: usize,
    },
    /// Authentication failed (already logged).
    AuthFailed,
    /// Rejected or challenged without an auth failure.
    Other,
}

/// Bindings plus the authenticator.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    auth: DigestAuth,
    bindings: HashMap<String, Vec<Contact>>,
}

/// `user@host` (host lower-cased, no parameters) of a SIP/SIPS URI.
pub fn aor_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    let rest = &rest[..rest.find([';', '?']).unwrap_or(rest.len())];
    Some(match rest.rsplit_once('@') {
        Some((user, host)) => format!("{user}@{}", host.to_ascii_lowercase()),
        None => rest.to_ascii_lowercase(),
    })
}

impl Registrar {
    /// A registrar; `secret` keys its nonces.
    pub fn new(config: RegistrarConfig, secret: [u8; 32], epoch: Instant) -> Registrar {
        let auth = DigestAuth::new(&config.realm, secret, epoch, config.nonce_ttl);
        Registrar {
            config,
            auth,
            bindings: HashMap::new(),
        }
    }

    /// Live contacts of `aor` (`user@host` or a `sip:` URI).
    pub fn bindings(&self, aor: &str, now: Instant) -> Vec<Contact> {
        let key = aor_of(aor).unwrap_or_else(|| aor.to_string());
        self.bindings
            .get(&key)
            .map(|v| v.iter().filter(|c| c.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }

    /// Live contacts of every AOR whose user part is `user` (agents registering with any host).
    pub fn bindings_for_user(&self, user: &str, now: Instant) -> Vec<Contact> {
        self.bindings
            .iter()
            .filter(|(aor, _)| aor.split_once('@').map(|(u, _)| u) == Some(user))
            .flat_map(|(_, v)| v.iter().filter(|c| c.expires_at > now).cloned())
            .collect()
    }

    /// Drops lapsed bindings.
    pub fn purge(&mut self, now: Instant) {
        for v in self.bindings.values_mut() {
            v.retain(|c| c.expires_at > now);
        }
        self.bindings.retain(|_, v| !v.is_empty());
    }

    /// Handles a REGISTER and returns the response (To tag is added by the caller).
    pub fn handle_register(
        &mut self,
        now: Instant,
        req: &Message,
        source: SocketAddr,
        transport: Transport,
    ) -> (Message, RegisterOutcome) {
        if self.bindings.len() > 1024 {
            self.purge(now);
        }
        let reply = |code: u16| Message::response_to(req, code, None);
        let Some(aor) = req.to_addr().ok().and_then(|to| aor_of(&to.uri)) else {
            let mut r = reply(400);
            r.push(
                "Warning",
                "399 hotline \"address-of-record must be a SIP URI\"",
            );
            return (r, RegisterOutcome::Other);
        };
        if let Some(creds) = &self.config.credentials {
            let found = req
                .headers
                .iter()
                .filter(|h| h.name == "Authorization")
                .find_map(|h| Credentials::parse(&h.value));
            let result = match &found {
                None => Err(AuthError::Missing),
                Some(c) => self
                    .auth
                    .verify(now, Method::Register.as_str(), c, |u| creds.get(u).cloned()),
            };
            let user_ok = found
                .as_ref()
                .is_none_or(|c| aor.split_once('@').map(|(u, _)| u).unwrap_or(&aor) == c.username);
            match result {
                Ok(()) if user_ok => {}
                Ok(()) => {
                    tracing::warn!(%source, %aor, "REGISTER: authenticated user does not own the AOR");
                    return (reply(403), RegisterOutcome::AuthFailed);
                }
                Err(e) => {
                    let failed = !matches!(e, AuthError::Missing | AuthError::Stale);
                    if failed {
                        tracing::warn!(%source, %aor, error = %e, "REGISTER authentication failed");
                    }
                    let mut r = reply(401);
                    for alg in &self.config.algorithms {
                        r.push(
                            "WWW-Authenticate",
                            self.auth.challenge(now, *alg, e == AuthError::Stale),
                        );
                    }
                    let outcome = if failed {
                        RegisterOutcome::AuthFailed
                    } else {
                        RegisterOutcome::Other
                    };
                    return (r, outcome);
                }
            }
        }
        let header_expires = req.header("Expires").map(|v| {
            v.trim()
                .parse::<u64>()
                .unwrap_or(u64::from(self.config.default_expires))
        });
        let contacts = req.header_list("Contact");
        if contacts.contains(&"*") {
            if contacts.len() != 1 || header_expires != Some(0) {
                let mut r = reply(400);
                r.push(
                    "Warning",
                    "399 hotline \"Contact: * needs Expires: 0 alone\"",
                );
                return (r, RegisterOutcome::Other);
            }
            self.bindings.remove(&aor);
            return (
                self.ok(req, &aor, now),
                RegisterOutcome::Updated { aor, contacts: 0 },
            );
        }
        let mut parsed = Vec::new();
        for c in contacts {
            let Ok(na) = NameAddr::parse("Contact", c) else {
                return (reply(400), RegisterOutcome::Other);
            };
            let expires = param(&na.params, "expires")
                .flatten()
                .map(|v| {
                    v.parse::<u64>()
                        .unwrap_or(u64::from(self.config.default_expires))
                })
                .or(header_expires)
                .unwrap_or(u64::from(self.config.default_expires));
            if expires != 0 && expires < u64::from(self.config.min_expires) {
                let mut r = reply(423);
                r.push("Min-Expires", self.config.min_expires.to_string());
                return (r, RegisterOutcome::Other);
            }
            parsed.push((na.uri, expires.min(u64::from(self.config.max_expires))));
        }
        let list = self.bindings.entry(aor.clone()).or_default();
        for (uri, expires) in parsed {
            list.retain(|c| c.uri != uri);
            if expires > 0 {
                list.push(Contact {
                    uri,
                    expires_at: now + Duration::from_secs(expires),
                    source,
                    transport,
                });
            }
        }
        list.retain(|c| c.expires_at > now);
        let n = list.len();
        if n == 0 {
            self.bindings.remove(&aor);
        }
        (
            self.ok(req, &aor, now),
            RegisterOutcome::Updated { aor, contacts: n },
        )
    }

    fn ok(&self, req: &Message, aor: &str, now: Instant) -> Message {
        let mut r = Message::response_to(req, 200, None);
        for c in self.bindings(aor, now) {
            let left = c.expires_at.saturating_duration_since(now).as_secs();
            r.push("Contact", format!("<{}>;expires={left}", c.uri));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn register(contacts: &str, expires: Option<u32>, auth: Option<&str>) -> Message {
        let mut text = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKr\r\n\
             From: <sip:alice@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: r1\r\n\
             CSeq: 1 REGISTER\r\n{contacts}"
        );
        if let Some(e) = expires {
            text.push_str(&format!("Expires: {e}\r\n"));
        }
        if let Some(a) = auth {
            text.push_str(&format!("Authorization: {a}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        parse(text.as_bytes(), true).unwrap()
    }

    fn open() -> Registrar {
        let cfg = RegistrarConfig {
            credentials: None,
            ..RegistrarConfig::default()
        };
        Registrar::new(cfg, [1; 32], Instant::now())
    }

    const SRC: &str = "127.0.0.1:5090";

    #[test]
    fn several_contacts_expiry_and_unregister() {
        let t0 = Instant::now();
        let mut reg = open();
        let src = SRC.parse().unwrap();
        let req = register(
            "Contact: <sip:alice@10.0.0.1>, <sip:alice@10.0.0.2>;expires=60\r\n",
            Some(120),
            None,
        );
        let (r, _) = reg.handle_register(t0, &req, src, Transport::Udp);
        assert_eq!(r.status(), Some(200));
        assert_eq!(r.header_list("Contact").len(), 2);
        assert_eq!(reg.bindings("sip:alice@127.0.0.1", t0).len(), 2);
        assert_eq!(
            reg.bindings("alice@127.0.0.1", t0 + Duration::from_secs(61))
                .len(),
            1
        );
        assert_eq!(reg.bindings_for_user("alice", t0).len(), 2);
        let unreg = register("Contact: <sip:alice@10.0.0.1>\r\n", Some(0), None);
        reg.handle_register(t0, &unreg, src, Transport::Udp);
        assert_eq!(reg.bindings("alice@127.0.0.1", t0).len(), 1);
        let star = register("Contact: *\r\n", Some(0), None);
        let (r, _) = reg.handle_register(t0, &star, src, Transport::Udp);
        assert_eq!(r.status(), Some(200));
        assert!(reg.bindings("alice@127.0.0.1", t0).is_empty());
        let bad_star = register("Contact: *\r\n", Some(60), None);
        assert_eq!(
            reg.handle_register(t0, &bad_star, src, Transport::Udp)
                .0
                .status(),
            Some(400)
        );
        let brief = register("Contact: <sip:a@b>\r\n", Some(5), None);
        let (r, _) = reg.handle_register(t0, &brief, src, Transport::Udp);
        assert_eq!(
            (r.status(), r.header("Min-Expires")),
            (Some(423), Some("30"))
        );
    }

    #[test]
    fn digest_challenge_then_accept() {
        let t0 = Instant::now();
        let cfg = RegistrarConfig {
            credentials: Some(HashMap::from([("alice".into(), "secret".into())])),
            ..RegistrarConfig::default()
        };
        let mut reg = Registrar::new(cfg, [1; 32], t0);
        let src = SRC.parse().unwrap();
        let (r, _) = reg.handle_register(
            t0,
            &register("Contact: <sip:alice@10.0.0.1>\r\n", None, None),
            src,
            Transport::Udp,
        );
        assert_eq!(r.status(), Some(401));
        let challenges: Vec<_> = r
            .headers
            .iter()
            .filter(|h| h.name == "WWW-Authenticate")
            .collect();
        assert_eq!(challenges.len(), 2);
        assert!(challenges[0].value.contains("algorithm=SHA-256"));
        assert!(challenges[1].value.contains("algorithm=MD5"));
        let nonce = challenges[1]
            .value
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        for (pass, code) in [("wrong", 401), ("secret", 200)] {
            let alg = Algorithm::Md5;
            let ha1 = alg.hash(&format!("alice:hotline:{pass}"));
            let ha2 = alg.hash("REGISTER:sip:127.0.0.1");
            let resp = alg.hash(&format!("{ha1}:{nonce}:00000001:xyz:auth:{ha2}"));
            let auth = format!(
                "Digest username=\"alice\", realm=\"hotline\", nonce=\"{nonce}\", uri=\"sip:127.0.0.1\", response=\"{resp}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"xyz\""
            );
            let req = register("Contact: <sip:alice@10.0.0.1>\r\n", None, Some(&auth));
            let (r, _) = reg.handle_register(t0, &req, src, Transport::Udp);
            assert_eq!(r.status(), Some(code), "password {pass}");
            // An hour later the same nonce is stale.
            let (r, _) =
                reg.handle_register(t0 + Duration::from_secs(3600), &req, src, Transport::Udp);
            if code == 200 {
                assert!(r.headers.iter().any(|h| h.value.contains("stale=true")));
            }
        }
        assert_eq!(reg.bindings("alice@127.0.0.1", t0).len(), 1);
    }
}
