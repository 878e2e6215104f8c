//! The tonic services. Each handler: take the caller the authorisation layer checked
//! ([`caller`]), validate and convert the request (errors name the field), call the desk
//! (`crate::desk`), convert the result; errors become statuses by `?` through the one
//! `From<CoreError> for Status`. No handler touches the store.

pub mod agents;
pub mod intake;
pub mod kb;
pub mod qa;
pub mod queue;
pub mod reports;
pub mod surveys;
pub mod tickets;
pub mod voicemail;

use crate::error::CoreError;
use hotline_domain::ValidationError;
use tonic::Request;

pub use crate::authorize::caller;

/// The bearer token of a request (the layer has already resolved it to the caller; `Logout`
/// needs the token itself).
pub fn bearer<T>(req: &Request<T>) -> Result<String, CoreError> {
    crate::authorize::bearer_token(&req.metadata().clone().into_headers())
}

pub fn positive_id(field: &'static str, id: i64) -> Result<i64, ValidationError> {
    if id <= 0 {
        return Err(ValidationError::new(
            field,
            format!("must be a positive id, got {id}"),
        ));
    }
    Ok(id)
}

pub const MAX_TEXT: usize = 2000;

pub fn text(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let n = s.chars().count();
    if n > MAX_TEXT {
        return Err(ValidationError::new(
            field,
            format!("is {n} characters long; at most {MAX_TEXT} are allowed"),
        ));
    }
    Ok(s.trim().to_string())
}

/// A chunk of a client-streamed upload whose first chunk alone carries the metadata.
pub trait UploadChunk: Send + 'static {
    type Meta;
    /// Takes the chunk's metadata, if it carries any.
    fn take_meta(&mut self) -> Option<Self::Meta>;
    /// The chunk's bytes.
    fn into_data(self) -> Vec<u8>;
}

impl UploadChunk for hotline_proto::v1::UploadChunk {
    type Meta = hotline_proto::v1::UploadMeta;
    fn take_meta(&mut self) -> Option<Self::Meta> {
        self.meta.take()
    }
    fn into_data(self) -> Vec<u8> {
        self.data
    }
}

impl UploadChunk for hotline_proto::v1::RecordingChunk {
    type Meta = hotline_proto::v1::RecordingMeta;
    fn take_meta(&mut self) -> Option<Self::Meta> {
        self.meta.take()
    }
    fn into_data(self) -> Vec<u8> {
        self.data
    }
}

/// The first chunk of an upload: its metadata (`missing` says what it must carry) and bytes.
pub async fn upload_head<T: UploadChunk>(
    stream: &mut tonic::Streaming<T>,
    missing: &str,
) -> Result<(T::Meta, Vec<u8>), tonic::Status> {
    let mut first = stream
        .message()
        .await?
        .ok_or_else(|| CoreError::from(ValidationError::new("meta", "the upload is empty")))?;
    let meta = first.take_meta().ok_or_else(|| {
        CoreError::from(ValidationError::new(
            "meta",
            format!("the first chunk must carry {missing}"),
        ))
    })?;
    Ok((meta, first.into_data()))
}

/// The bytes of the upload's next chunk, `None` at its end; a later chunk with metadata is
/// refused.
pub async fn upload_next<T: UploadChunk>(
    stream: &mut tonic::Streaming<T>,
) -> Result<Option<Vec<u8>>, tonic::Status> {
    match stream.message().await? {
        None => Ok(None),
        Some(mut c) => {
            if c.take_meta().is_some() {
                return Err(CoreError::from(ValidationError::new(
                    "meta",
                    "only the first chunk carries meta",
                ))
                .into());
            }
            Ok(Some(c.into_data()))
        }
    }
}
