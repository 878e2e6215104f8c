//! A content-addressed document store: every object is named by the SHA-256 of its bytes,
//! stored once, and its checksum is verified on every read.
//!
//! - [`DocumentStore`]: the trait (write through an [`ObjectWriter`], read verified bytes,
//!   check presence, remove). An object store such as S3/MinIO can implement it later.
//! - [`FsStore`]: the filesystem implementation. Objects live at `<root>/ab/cdef…` (the first
//!   two hex digits of the digest, then the other 62); a write goes to `<root>/tmp/<uuid>`
//!   while it is hashed, is fsynced, then renamed into place (and the directory fsynced), so a
//!   crash leaves either the whole object or none. Nothing outside `<root>` is ever touched:
//!   paths are built only from digests.
//!
//! Users: text intake (letters, faxes, e-mail and their attachments); later QA recordings and
//! generated reports. The store knows nothing of what an object is: bytes in, digest and size
//! out.

mod fs;

pub use fs::FsStore;

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A SHA-256 digest, shown and parsed as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits (either case); anything else is refused.
    pub fn parse(s: &str) -> Result<Digest, DocStoreError> {
        let mut out = [0u8; 32];
        if s.len() != 64 || hex::decode_to_slice(s, &mut out).is_err() {
            return Err(DocStoreError::BadDigest(s.chars().take(80).collect()));
        }
        Ok(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// What a finished write stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub digest: Digest,
    pub size: u64,
    /// `false` when an object with these bytes was already there (nothing was written).
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DocStoreError {
    #[error("object {0} not found")]
    NotFound(Digest),
    /// The bytes read do not hash to the object's name: the stored copy is damaged.
    #[error("object {digest} is corrupt: its bytes hash to {actual}")]
    Corrupt { digest: Digest, actual: Digest },
    #[error("not a SHA-256 digest (64 hex digits): {0:?}")]
    BadDigest(String),
    #[error("document store I/O ({what}): {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl DocStoreError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DocStoreError {
        let what = what.into();
        move |source| DocStoreError::Io { what, source }
    }
}

pub type Result<T, E = DocStoreError> = std::result::Result<T, E>;

/// One object being written: bytes are hashed as they come; nothing is visible under the
/// digest before [`ObjectWriter::finish`]. Dropping an unfinished writer discards it.
#[async_trait::async_trait]
pub trait ObjectWriter: Send {
    async fn write(&mut self, chunk: &[u8]) -> Result<()>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Makes the object durable and visible under its digest.
    async fn finish(self: Box<Self>) -> Result<Stored>;
}

/// A content-addressed store of immutable objects.
#[async_trait::async_trait]
pub trait DocumentStore: Send + Sync {
    /// Starts writing a new object.
    async fn begin(&self) -> Result<Box<dyn ObjectWriter>>;
    /// The object's bytes, verified against its digest (`Corrupt` when they do not match).
    async fn get(&self, digest: &Digest) -> Result<Vec<u8>>;
    /// Whether the object is stored (not verified).
    async fn contains(&self, digest: &Digest) -> Result<bool>;
    /// Removes the object; `false` if it was not there. Only retention rules call this.
    async fn remove(&self, digest: &Digest) -> Result<bool>;

    /// Stores `bytes` in one go.
    async fn put(&self, bytes: &[u8]) -> Result<Stored> {
        let mut w = self.begin().await?;
        w.write(bytes).await?;
        w.finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trips_and_refuses_non_hex() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::parse(&d.to_hex()).unwrap(), d);
        assert_eq!(Digest::parse(&d.to_hex().to_uppercase()).unwrap(), d);
        for bad in ["", "../../etc/passwd", &"g".repeat(64), &"a".repeat(63)] {
            assert!(matches!(
                Digest::parse(bad),
                Err(DocStoreError::BadDigest(_))
            ));
        }
    }
}
