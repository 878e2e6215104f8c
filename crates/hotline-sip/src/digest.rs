//! HTTP digest authentication for SIP (RFC 3261 §22.4, RFC 8760 for SHA-256, `qop=auth`).
//! Server side: challenges, response verification, and stateless nonces (HMAC-SHA-256 of a
//! timestamp, so a nonce needs no server state and expires by age, reported as `stale=true`).
//! Client side ([`Challenge`]): reading a `WWW-Authenticate`/`Proxy-Authenticate` challenge and
//! computing the `Authorization`/`Proxy-Authorization` answer (RFC 2617 §3.2.2, RFC 7616).

use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

/// Digest algorithms offered (RFC 8760 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `MD5`
    Md5,
    /// `SHA-256`
    Sha256,
}

impl Algorithm {
    /// Token used in headers.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn from_token(t: &str) -> Option<Algorithm> {
        if t.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if t.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Lower-case hex digest of `data`.
    pub fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

/// Why a credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Digest` header.
    #[error("no digest credentials")]
    Missing,
    /// Credentials present but unreadable or missing parameters.
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    /// The nonce was not issued by us.
    #[error("nonce not issued by this server")]
    BadNonce,
    /// The nonce is ours but too old: challenge again with `stale=true`.
    #[error("nonce expired")]
    Stale,
    /// Unknown user name.
    #[error("unknown user {0}")]
    UnknownUser(String),
    /// Wrong response digest (wrong password).
    #[error("wrong password for {0}")]
    WrongPassword(String),
}

/// Parsed `Authorization: Digest ...` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// username
    pub username: String,
    /// realm
    pub realm: String,
    /// nonce
    pub nonce: String,
    /// digest-uri
    pub uri: String,
    /// response
    pub response: String,
    /// algorithm (MD5 when absent)
    pub algorithm: String,
    /// qop (`auth` or empty)
    pub qop: String,
    /// nonce count
    pub nc: String,
    /// client nonce
    pub cnonce: String,
}

impl Credentials {
    /// Parses the value of an Authorization header; `None` unless the scheme is Digest.
    pub fn parse(value: &str) -> Option<Credentials> {
        let mut c = Credentials::default();
        for (k, v) in digest_params(value)? {
            match k.as_str() {
                "username" => c.username = v,
                "realm" => c.realm = v,
                "nonce" => c.nonce = v,
                "uri" => c.uri = v,
                "response" => c.response = v.to_ascii_lowercase(),
                "algorithm" => c.algorithm = v,
                "qop" => c.qop = v,
                "nc" => c.nc = v,
                "cnonce" => c.cnonce = v,
                _ => {}
            }
        }
        Some(c)
    }
}

/// A `WWW-Authenticate` or `Proxy-Authenticate` Digest challenge, as a client answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// realm
    pub realm: String,
    /// nonce
    pub nonce: String,
    /// opaque (echoed back unchanged)
    pub opaque: Option<String>,
    /// algorithm (MD5 when absent)
    pub algorithm: Algorithm,
    /// `qop=auth` is offered; without qop the answer takes the RFC 2069 form.
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired but the previous credentials were right.
    pub stale: bool,
}

/// The nonce count we send: we answer each nonce once.
const NONCE_COUNT: &str = "00000001";

impl Challenge {
    /// Parses a challenge header value. `None` unless the scheme is Digest with a realm and
    /// a nonce, the algorithm is one we know, and a qop list (if any) includes `auth`.
    pub fn parse(value: &str) -> Option<Challenge> {
        let (mut realm, mut nonce, mut opaque) = (None, None, None);
        let (mut algorithm, mut qop, mut stale) = (Some(Algorithm::Md5), None, false);
        for (k, v) in digest_params(value)? {
            match k.as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "opaque" => opaque = Some(v),
                "algorithm" => algorithm = Algorithm::from_token(&v),
                "qop" => qop = Some(v),
                "stale" => stale = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        // A qop list must offer `auth` (auth-int is not implemented); no list: RFC 2069 form.
        let qop_auth = qop.is_some();
        if qop.is_some_and(|list| {
            !list
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"))
        }) {
            return None;
        }
        Some(Challenge {
            realm: realm?,
            nonce: nonce?,
            opaque,
            algorithm: algorithm?,
            qop_auth,
            stale,
        })
    }

    /// The challenge to answer among several (one header each): SHA-256 if offered, else the
    /// first usable one.
    pub fn best<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
        values
            .into_iter()
            .filter_map(Challenge::parse)
            .min_by_key(|c| c.algorithm != Algorithm::Sha256)
    }

    /// The `Authorization`/`Proxy-Authorization` value answering this challenge for `method`
    /// on `uri` (the Request-URI), with client nonce `cnonce` (used only with qop).
    pub fn authorize(
        &self,
        method: &str,
        uri: &str,
        username: &str,
        password: &str,
        cnonce: &str,
    ) -> String {
        let alg = self.algorithm;
        let ha1 = alg.hash(&format!("{username}:{}:{password}", self.realm));
        let ha2 = alg.hash(&format!("{method}:{uri}"));
        let response = if self.qop_auth {
            alg.hash(&format!(
                "{ha1}:{}:{NONCE_COUNT}:{cnonce}:auth:{ha2}",
                self.nonce
            ))
        } else {
            alg.hash(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut v = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\", algorithm={}",
            quote(username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            alg.token()
        );
        if self.qop_auth {
            v.push_str(&format!(
                ", qop=auth, nc={NONCE_COUNT}, cnonce={}",
                quote(cnonce)
            ));
        }
        if let Some(o) = &self.opaque {
            v.push_str(&format!(", opaque={}", quote(o)));
        }
        v
    }
}

/// The `name=value` pairs of a `Digest ...` header value (names lower-cased, quoted strings
/// unquoted); `None` for another scheme.
fn digest_params(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return None;
    }
    let pairs = crate::headers::split_list(rest)
        .into_iter()
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), unquote(v.trim())))
        })
        .collect();
    Some(pairs)
}

/// The contents of a quoted-string (`\` escapes resolved), or a token as it is.
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return v.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let c = if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        };
        out.push(c);
    }
    out
}

/// `s` as a quoted-string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Issues and checks nonces and digests for one realm.
#[derive(Debug, Clone)]
pub struct DigestAuth {
    realm: String,
    secret: [u8; 32],
    epoch: Instant,
    nonce_ttl: Duration,
}

impl DigestAuth {
    /// `secret` keys the nonce MAC (from the endpoint's RNG); `epoch` anchors nonce timestamps.
    pub fn new(realm: &str, secret: [u8; 32], epoch: Instant, nonce_ttl: Duration) -> DigestAuth {
        DigestAuth {
            realm: realm.to_string(),
            secret,
            epoch,
            nonce_ttl,
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A fresh nonce for `now`.
    pub fn nonce(&self, now: Instant) -> String {
        let ts = now.saturating_duration_since(self.epoch).as_secs();
        format!("{ts:x}.{}", self.mac(ts))
    }

    fn mac(&self, ts: u64) -> String {
        let tag = hmac_sha256(&self.secret, format!("{ts:x}:{}", self.realm).as_bytes());
        hex::encode(&tag[..16])
    }

    /// A `WWW-Authenticate` value for `algorithm`.
    pub fn challenge(&self, now: Instant, algorithm: Algorithm, stale: bool) -> String {
        format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"{}",
            self.realm,
            self.nonce(now),
            algorithm.token(),
            if stale { ", stale=true" } else { "" }
        )
    }

    /// Verifies credentials for `method` against `password_of(username)`.
    pub fn verify(
        &self,
        now: Instant,
        method: &str,
        creds: &Credentials,
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<(), AuthError> {
        if creds.username.is_empty() || creds.nonce.is_empty() || creds.response.is_empty() {
            return Err(AuthError::Malformed("missing username, nonce or response"));
        }
        if creds.realm != self.realm {
            return Err(AuthError::Malformed("wrong realm"));
        }
        let algorithm = if creds.algorithm.is_empty() {
            Algorithm::Md5
        } else {
            Algorithm::from_token(&creds.algorithm).ok_or(AuthError::Malformed("algorithm"))?
        };
        let (ts_hex, mac) = creds.nonce.split_once('.').ok_or(AuthError::BadNonce)?;
        let ts = u64::from_str_radix(ts_hex, 16).map_err(|_| AuthError::BadNonce)?;
        if !constant_time_eq(self.mac(ts).as_bytes(), mac.as_bytes()) {
            return Err(AuthError::BadNonce);
        }
        let password = password_of(&creds.username)
            .ok_or_else(|| AuthError::UnknownUser(creds.username.clone()))?;
        let ha1 = algorithm.hash(&format!("{}:{}:{password}", creds.username, self.realm));
        let ha2 = algorithm.hash(&format!("{method}:{}", creds.uri));
        let expected = match creds.qop.as_str() {
            "" => algorithm.hash(&format!("{ha1}:{}:{ha2}", creds.nonce)),
            "auth" => algorithm.hash(&format!(
                "{ha1}:{}:{}:{}:auth:{ha2}",
                creds.nonce, creds.nc, creds.cnonce
            )),
            _ => return Err(AuthError::Malformed("qop")),
        };
        if !constant_time_eq(expected.as_bytes(), creds.response.as_bytes()) {
            return Err(AuthError::WrongPassword(creds.username.clone()));
        }
        let age = now
            .saturating_duration_since(self.epoch)
            .as_secs()
            .saturating_sub(ts);
        if age > self.nonce_ttl.as_secs() {
            return Err(AuthError::Stale);
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA-256 (RFC 2104).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computes what a client would send.
    pub fn client_response(
        alg: Algorithm,
        user: &str,
        pass: &str,
        realm: &str,
        nonce: &str,
        uri: &str,
    ) -> Credentials {
        let ha1 = alg.hash(&format!("{user}:{realm}:{pass}"));
        let ha2 = alg.hash(&format!("REGISTER:{uri}"));
        Credentials {
            username: user.into(),
            realm: realm.into(),
            nonce: nonce.into(),
            uri: uri.into(),
            response: alg.hash(&format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}")),
            algorithm: alg.token().into(),
            qop: "auth".into(),
            nc: "00000001".into(),
            cnonce: "abc".into(),
        }
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn rfc8760_sha256_hash() {
        // RFC 7616 §3.9.1 example: H(A1) for Mufasa with SHA-256.
        assert_eq!(
            Algorithm::Sha256.hash("Mufasa:http-auth@example.org:Circle of Life"),
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
    }

    #[test]
    fn verify_md5_and_sha256_and_stale() {
        let t0 = Instant::now();
        let auth = DigestAuth::new("hotline", [7; 32], t0, Duration::from_secs(60));
        let pw = |u: &str| (u == "alice").then(|| "secret".to_string());
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let nonce = auth.nonce(t0);
            let c = client_response(alg, "alice", "secret", "hotline", &nonce, "sip:h");
            assert_eq!(auth.verify(t0, "REGISTER", &c, pw), Ok(()));
            assert_eq!(
                auth.verify(t0 + Duration::from_secs(120), "REGISTER", &c, pw),
                Err(AuthError::Stale)
            );
            let bad = client_response(alg, "alice", "nope", "hotline", &nonce, "sip:h");
            assert!(matches!(
                auth.verify(t0, "REGISTER", &bad, pw),
                Err(AuthError::WrongPassword(_))
            ));
        }
        let other = DigestAuth::new("hotline", [8; 32], t0, Duration::from_secs(60));
        let c = client_response(
            Algorithm::Md5,
            "alice",
            "secret",
            "hotline",
            &other.nonce(t0),
            "sip:h",
        );
        assert_eq!(
            auth.verify(t0, "REGISTER", &c, pw),
            Err(AuthError::BadNonce)
        );
    }

    #[test]
    fn parses_authorization() {
        let c = Credentials::parse(
            "Digest username=\"alice\",realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"AB\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c\"",
        )
        .unwrap();
        assert_eq!(c.username, "alice");
        assert_eq!(c.response, "ab");
        assert_eq!(c.qop, "auth");
        assert!(Credentials::parse("NoOneKnowsThisScheme opaque-data=here").is_none());
    }

    #[test]
    fn client_answers_rfc2617_example() {
        // RFC 2617 §3.5.
        let ch = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(ch.algorithm, Algorithm::Md5);
        assert!(ch.qop_auth && !ch.stale);
        let value = ch.authorize(
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
        );
        let c = Credentials::parse(&value).unwrap();
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(
            (c.username.as_str(), c.realm.as_str(), c.uri.as_str()),
            ("Mufasa", "testrealm@host.com", "/dir/index.html")
        );
        assert_eq!((c.qop.as_str(), c.nc.as_str()), ("auth", "00000001"));
        assert_eq!(c.cnonce, "0a4f113b");
        assert!(value.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
    }

    #[test]
    fn client_answers_rfc7616_examples() {
        // RFC 7616 §3.9.1, the same challenge with SHA-256 and with MD5.
        for (alg, expected) in [
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ] {
            let ch = Challenge::parse(&format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
                 algorithm={alg}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                 opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            ))
            .unwrap();
            let value = ch.authorize(
                "GET",
                "/dir/index.html",
                "Mufasa",
                "Circle of Life",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            );
            let c = Credentials::parse(&value).unwrap();
            assert_eq!(c.response, expected, "{alg}");
            assert_eq!(c.algorithm, alg);
        }
    }

    #[test]
    fn client_answers_verify_with_our_server() {
        let t0 = Instant::now();
        let auth = DigestAuth::new("trunk", [3; 32], t0, Duration::from_secs(60));
        let pw = |u: &str| (u == "bob").then(|| "pa\"ss".to_string());
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let ch = Challenge::parse(&auth.challenge(t0, alg, false)).unwrap();
            assert_eq!((ch.algorithm, ch.realm.as_str()), (alg, "trunk"));
            let answer = ch.authorize("INVITE", "sip:1000@trunk", "bob", "pa\"ss", "c1");
            let c = Credentials::parse(&answer).unwrap();
            assert_eq!(auth.verify(t0, "INVITE", &c, pw), Ok(()), "{alg:?}");
            assert_eq!(
                auth.verify(t0, "BYE", &c, pw),
                Err(AuthError::WrongPassword("bob".into())),
                "the method is covered"
            );
            let wrong = ch.authorize("INVITE", "sip:1000@trunk", "bob", "nope", "c1");
            assert_eq!(
                auth.verify(t0, "INVITE", &Credentials::parse(&wrong).unwrap(), pw),
                Err(AuthError::WrongPassword("bob".into()))
            );
        }
        // No qop: the RFC 2069 form, without qop, nc or cnonce.
        let ch = Challenge::parse(&format!(
            "Digest realm=\"trunk\", nonce=\"{}\"",
            auth.nonce(t0)
        ))
        .unwrap();
        assert!(!ch.qop_auth);
        let answer = ch.authorize("INVITE", "sip:1000@trunk", "bob", "pa\"ss", "unused");
        assert!(
            !answer.contains("qop") && !answer.contains("cnonce"),
            "{answer}"
        );
        let c = Credentials::parse(&answer).unwrap();
        assert_eq!(auth.verify(t0, "INVITE", &c, pw), Ok(()));
    }

    #[test]
    fn challenge_parsing_and_choice() {
        let stale = Challenge::parse(
            "digest realm=\"r\",nonce=\"n2\", stale=TRUE, algorithm=sha-256, qop=auth",
        )
        .unwrap();
        assert!(stale.stale && stale.qop_auth);
        assert_eq!(stale.algorithm, Algorithm::Sha256);
        assert_eq!(stale.opaque, None);
        assert!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256").is_none()
        );
        assert!(Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess").is_none());
        assert!(Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"").is_none());
        assert!(Challenge::parse("Digest realm=\"r\"").is_none(), "no nonce");
        assert!(Challenge::parse("Basic realm=\"r\"").is_none());
        let plain = Challenge::parse("Digest realm=\"r\", nonce=\"n\"").unwrap();
        let answer = plain.authorize("INVITE", "sip:x", "o\"brien\\", "pw", "c");
        assert_eq!(
            Credentials::parse(&answer).unwrap().username,
            "o\"brien\\",
            "quoted and unquoted: {answer}"
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"a \\\"b\\\"\", nonce=n")
                .unwrap()
                .realm,
            "a \"b\""
        );
        let md5 = "Digest realm=\"r\", nonce=\"m\", algorithm=MD5";
        let sha = "Digest realm=\"r\", nonce=\"s\", algorithm=SHA-256";
        let odd = "Digest realm=\"r\", nonce=\"o\", algorithm=SHA-512-256";
        for order in [[md5, sha, odd], [sha, md5, odd], [odd, md5, sha]] {
            assert_eq!(Challenge::best(order).unwrap().nonce, "s", "{order:?}");
        }
        assert_eq!(Challenge::best([odd, md5]).unwrap().nonce, "m");
        assert_eq!(Challenge::best([odd]), None);
    }
}
