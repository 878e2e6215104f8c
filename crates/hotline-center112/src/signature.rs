//! Event signatures: `X-Hotline-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with a
//! secret shared between the centre and the hotline. Verified in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length
    let mut mac = HmacSha256::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature header")]
    Missing,
    #[error("signature header is not `sha256=<hex>`")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
}

pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let h = header.ok_or(SignatureError::Missing)?;
    let hex_sig = h
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let sig = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::Malformed)?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bodies_verify_and_tampering_is_caught() {
        let s = sign(b"k", b"{\"a\":1}");
        assert!(s.starts_with("sha256="));
        assert_eq!(verify(b"k", b"{\"a\":1}", Some(&s)), Ok(()));
        assert_eq!(
            verify(b"k", b"{\"a\":2}", Some(&s)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", b"{\"a\":1}", Some(&s)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(b"k", b"x", None), Err(SignatureError::Missing));
        assert_eq!(
            verify(b"k", b"x", Some("md5=00")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(b"k", b"x", Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
    }
}
