//! HTTP digest authentication for SIP (RFC 3261 §22.4, RFC 8760 for SHA-256, `qop=auth`):
//! challenges, response verification, and stateless nonces (HMAC-SHA-256 of a timestamp, so a
//! nonce needs no server state and expires by age, reported as `stale=true`).

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
        let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let mut c = Credentials::default();
        for part in crate::headers::split_list(rest) {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').to_string();
            match k.trim().to_ascii_lowercase().as_str() {
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
}
