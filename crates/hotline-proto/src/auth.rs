//! The bearer token on outgoing requests, parsed once: [`BearerToken`] is a tonic
//! [`Interceptor`] (`XServiceClient::with_interceptor(channel, token)`, as in tonic's
//! `examples/src/authentication`) and, for callers that pick the token per request (log in
//! again on `UNAUTHENTICATED`), [`BearerToken::authorize`] on one request.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// The metadata key the core reads the token from.
pub const AUTHORIZATION: &str = "authorization";

/// `authorization: Bearer <token>`, checked as header text once.
#[derive(Clone)]
pub struct BearerToken {
    value: MetadataValue<Ascii>,
}

/// A token that cannot travel as header text (a control character such as CR, LF or NUL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidToken;

impl std::fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("token is not valid header text")
    }
}

impl std::error::Error for InvalidToken {}

impl From<InvalidToken> for Status {
    fn from(e: InvalidToken) -> Self {
        Status::unauthenticated(e.to_string())
    }
}

impl BearerToken {
    /// `token` as issued by `Login`, without the `Bearer ` prefix.
    pub fn new(token: &str) -> Result<Self, InvalidToken> {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| InvalidToken)?;
        Ok(BearerToken { value })
    }

    /// Sets the `authorization` header on `req` (replacing one already there).
    pub fn authorize<T>(&self, mut req: Request<T>) -> Request<T> {
        req.metadata_mut().insert(AUTHORIZATION, self.value.clone());
        req
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

impl Interceptor for BearerToken {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        Ok(self.authorize(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interceptor_sets_the_header() {
        let mut t = BearerToken::new("abc.123").unwrap();
        let req = t.call(Request::new(())).unwrap();
        assert_eq!(
            req.metadata().get(AUTHORIZATION).unwrap().to_str().unwrap(),
            "Bearer abc.123"
        );
    }

    #[test]
    fn authorize_replaces_an_older_header() {
        let old = BearerToken::new("old")
            .unwrap()
            .authorize(Request::new(7u8));
        let req = BearerToken::new("new").unwrap().authorize(old);
        let all: Vec<_> = req.metadata().get_all(AUTHORIZATION).iter().collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].to_str().unwrap(), "Bearer new");
        assert_eq!(*req.get_ref(), 7);
    }

    #[test]
    fn an_invalid_token_is_refused() {
        assert_eq!(BearerToken::new("bad\ntoken").unwrap_err(), InvalidToken);
        assert!(BearerToken::new("nul\0byte").is_err());
        let s = Status::from(InvalidToken);
        assert_eq!(s.code(), tonic::Code::Unauthenticated);
        assert_eq!(s.message(), "token is not valid header text");
    }

    #[test]
    fn debug_hides_the_token() {
        let t = BearerToken::new("secret").unwrap();
        assert!(!format!("{t:?}").contains("secret"));
    }
}
