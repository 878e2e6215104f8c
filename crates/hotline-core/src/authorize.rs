//! Authentication and authorisation of every gRPC call, in one tower layer around all the
//! services (tickets, agents, voicemail, queue, health, reflection).
//!
//! For each request the layer reads the path (`/hotline.v1.TicketService/CreateTicket`),
//! looks up its gate in [`hotline_domain::permissions`], resolves the bearer token when the
//! gate needs one, and checks the caller's role against the method's row. A refused call is
//! answered here (`UNAUTHENTICATED` or `PERMISSION_DENIED` with the matrix's reason) and never
//! reaches a handler; an allowed call carries its [`Principal`] in the request extensions,
//! where handlers read it with [`caller`]. A handler therefore cannot forget the check, and a
//! method added to a proto is refused until the matrix lists it.
//!
//! Rules that need data (a surveyor sees contact numbers only on its worklist's tickets, an
//! extractor converts only a message it claimed) stay with the handlers that read the data.

use crate::auth::{Auth, Principal};
use crate::error::{CoreError, to_status};
use hotline_domain::permissions::{self, Gate};
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::codegen::{BoxFuture, Service};

/// The bearer token of a request's headers.
pub fn bearer_token(headers: &HeaderMap) -> Result<String, CoreError> {
    let v = headers
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

/// Resolves the caller of `path` and checks the matrix: `Ok(None)` for a method that needs no
/// token, `Ok(Some(p))` for an allowed caller.
pub async fn check(
    auth: &Auth,
    path: &str,
    headers: &HeaderMap,
) -> Result<Option<Principal>, CoreError> {
    match permissions::gate(path) {
        Gate::Public | Gate::Anonymous => Ok(None),
        // deny by default, whoever calls
        Gate::Unknown => Err(permissions::Denied::NotInMatrix(
            path.strip_prefix('/').unwrap_or(path).to_string(),
        )
        .into()),
        Gate::Authenticated(_) => {
            let who = auth.authenticate(&bearer_token(headers)?).await?;
            permissions::authorize(who.role, path)?;
            Ok(Some(who))
        }
    }
}

/// The caller the layer authenticated and authorised.
pub fn caller<T>(req: &tonic::Request<T>) -> Result<Principal, CoreError> {
    // Missing only when a service is served without the layer: fail closed.
    req.extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(CoreError::Unauthenticated)
}

/// The layer, added once to the server builder.
#[derive(Clone)]
pub struct AuthorizeLayer {
    auth: Arc<Auth>,
}

impl AuthorizeLayer {
    pub fn new(auth: Arc<Auth>) -> Self {
        AuthorizeLayer { auth }
    }
}

impl<S> tower_layer::Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;
    fn layer(&self, inner: S) -> Authorize<S> {
        Authorize {
            inner,
            auth: self.auth.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Authorize<S> {
    inner: S,
    auth: Arc<Auth>,
}

impl<S, B> Service<Request<B>> for Authorize<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // the clone that was polled ready serves this request
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            match check(&auth, req.uri().path(), req.headers()).await {
                Ok(who) => {
                    if let Some(who) = who {
                        req.extensions_mut().insert(who);
                    }
                    inner.call(req).await
                }
                Err(e) => {
                    tracing::info!(path = req.uri().path(), error = %e, "call refused");
                    Ok(to_status(e).into_http())
                }
            }
        })
    }
}
