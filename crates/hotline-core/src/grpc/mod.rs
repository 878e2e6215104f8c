//! The tonic services. Each handler: authenticate, validate, call the desk, map errors once.

pub mod agents;
pub mod queue;
pub mod tickets;
pub mod voicemail;

use crate::auth::{Auth, Principal};
use crate::error::CoreError;
use hotline_domain::ValidationError;
use tonic::Request;

/// The bearer token of a request.
pub fn bearer<T>(req: &Request<T>) -> Result<String, CoreError> {
    let v = req
        .metadata()
        .get("authorization")
        .ok_or(CoreError::Unauthenticated)?
        .to_str()
        .map_err(|_| CoreError::Unauthenticated)?;
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .ok_or(CoreError::Unauthenticated)?;
    Ok(token.trim().to_string())
}

pub async fn principal<T>(auth: &Auth, req: &Request<T>) -> Result<Principal, CoreError> {
    auth.authenticate(&bearer(req)?).await
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
