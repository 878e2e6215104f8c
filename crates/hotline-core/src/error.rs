//! The core's errors and the single place they become gRPC statuses.

use hotline_domain::ValidationError;
use hotline_domain::workflow::Refusal;
use hotline_store::StoreError;
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("missing or invalid bearer token; log in with AgentService.Login")]
    Unauthenticated,
    #[error("the session has expired; log in again")]
    SessionExpired,
    #[error("wrong agent id or password")]
    BadCredentials,
    /// Refused by the permission matrix (the role may not call the method at all).
    #[error("{0}")]
    Denied(#[from] hotline_domain::permissions::Denied),
    /// Refused by a rule on rows or fields that needs the data (a task kind the role does
    /// not work, ...).
    #[error("the {role} role may not {what}")]
    Forbidden {
        role: &'static str,
        what: &'static str,
    },
    /// Refused by a rule on rows that needs the data, with the reason (QA: own work, another
    /// senior's assessment, work not reviewed by the caller).
    #[error("{0}")]
    NotAllowed(String),
    #[error("the ticket kept changing under concurrent updates; try again")]
    Contended,
    #[error("the service is shutting down")]
    Unavailable,
    #[error("{0}")]
    Center(#[from] hotline_center112::CenterError),
    #[error("{0}")]
    NotReady(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A write whose commit the database did not confirm (a retry could store it twice).
    #[error("{0}")]
    OutcomeUnknown(String),
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => CoreError::NotFound(what),
            StoreError::Duplicate(what) => CoreError::AlreadyExists(what),
            StoreError::Conflict => CoreError::Contended,
            StoreError::Closed => CoreError::Unavailable,
            e @ StoreError::OutcomeUnknown(_) => CoreError::OutcomeUnknown(e.to_string()),
            e @ (StoreError::Corrupt(_) | StoreError::UnsupportedUrl(_) | StoreError::Db(_)) => {
                CoreError::Internal(e.to_string())
            }
        }
    }
}

impl From<crate::acd::QueueError> for CoreError {
    fn from(e: crate::acd::QueueError) -> Self {
        use crate::acd::QueueError as Q;
        match e {
            Q::Duplicate(c) => CoreError::AlreadyExists(format!("call {c} in the queue")),
            Q::UnknownCall(c) => CoreError::NotFound(format!("call {c} in the queue")),
            e @ Q::NotOffered { .. } => CoreError::NotReady(e.to_string()),
            Q::Presence { presence, reason } => CoreError::Invalid(ValidationError::new(
                "presence",
                format!("{presence}: {reason}"),
            )),
        }
    }
}

/// The one mapping from core errors to gRPC status codes (exhaustive: no `_` arm), so
/// handlers end with `?`.
impl From<CoreError> for Status {
    fn from(e: CoreError) -> Status {
        let code = match &e {
            CoreError::Invalid(_) => Code::InvalidArgument,
            CoreError::Refused(r) if r.is_permission() => Code::PermissionDenied,
            CoreError::Refused(Refusal::OrderNotFound(_)) => Code::NotFound,
            CoreError::Refused(_) => Code::FailedPrecondition,
            CoreError::NotFound(_) => Code::NotFound,
            CoreError::AlreadyExists(_) => Code::AlreadyExists,
            CoreError::Unauthenticated | CoreError::SessionExpired | CoreError::BadCredentials => {
                Code::Unauthenticated
            }
            CoreError::Denied(_) | CoreError::Forbidden { .. } | CoreError::NotAllowed(_) => {
                Code::PermissionDenied
            }
            CoreError::Contended => Code::Aborted,
            CoreError::Unavailable => Code::Unavailable,
            CoreError::Center(c) if c.is_retryable() => Code::Unavailable,
            CoreError::Center(hotline_center112::CenterError::NotFound(_)) => Code::NotFound,
            CoreError::Center(_) => Code::FailedPrecondition,
            CoreError::NotReady(_) => Code::FailedPrecondition,
            CoreError::OutcomeUnknown(msg) => {
                tracing::error!(error = %msg, "commit outcome unknown");
                Code::Unknown
            }
            CoreError::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                Code::Internal
            }
        };
        Status::new(code, e.to_string())
    }
}

/// [`CoreError`] as a gRPC status (the `From` impl above), for `map_err`.
pub fn to_status(e: CoreError) -> Status {
    e.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_domain::Role;
    use hotline_domain::workflow::ActionKind;

    #[test]
    fn codes_follow_the_api_contract() {
        let invalid = to_status(ValidationError::new("faulty_number", "is empty").into());
        assert_eq!(invalid.code(), Code::InvalidArgument);
        assert!(invalid.message().starts_with("faulty_number"));
        let perm = to_status(
            Refusal::RoleMayNot {
                role: Role::Qa,
                action: ActionKind::Dispatch,
            }
            .into(),
        );
        assert_eq!(perm.code(), Code::PermissionDenied);
        assert_eq!(
            to_status(Refusal::NeverDispatched.into()).code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            to_status(CoreError::SessionExpired).code(),
            Code::Unauthenticated
        );
        assert_eq!(
            to_status(StoreError::NotFound("ticket 9".into()).into()).code(),
            Code::NotFound
        );
    }
}
