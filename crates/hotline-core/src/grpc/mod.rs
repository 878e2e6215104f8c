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
