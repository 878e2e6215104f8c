//! The HTTP API: the TMF621-shaped resources under [`BASE_PATH`] (behind the fault-injection
//! middleware) and the admin endpoints under `/sim` (never faulted).
//!
//! Input is checked before anything is stored: unknown ids are 404, unreadable JSON or a missing
//! `externalIdentifier` 400 with the reason, bodies over 64 KiB 413, a PATCH with a content type
//! other than JSON 415. Errors are TMF-style `{code, reason, message, status}` JSON.

use crate::faults;
use crate::lifecycle::set_status;
use crate::linetest;
use crate::state::Shared;
use crate::store::{self, Write};
use crate::util::{BASE_PATH, error_response, now_ms, rfc3339};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use hotline_center112::wire::{
    CancelRefused, HubSubscription, IDEMPOTENCY_HEADER, LineTestRequest, Status, TroubleTicket,
    TroubleTicketCreate, TroubleTicketPatch,
};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;
const MAX_ID_LEN: usize = 128;

/// An API failure, answered by [`error_response`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Body(String, StatusCode),
    #[error(
        "unsupported content type {0:?}: send application/json or application/merge-patch+json"
    )]
    MediaType(String),
    #[error("internal error: {0}")]
    Internal(#[from] store::StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "badRequest"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "notFound"),
            ApiError::Body(_, s) => (
                *s,
                if *s == StatusCode::PAYLOAD_TOO_LARGE {
                    "payloadTooLarge"
                } else {
                    "badRequest"
                },
            ),
            ApiError::MediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupportedMediaType"),
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internalError")
            }
        };
        if status.is_client_error() {
            tracing::info!(status = status.as_u16(), reason = %self, "request refused");
        }
        error_response(status, code, self.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/troubleTicket", post(create_ticket).get(list_tickets))
        .route("/troubleTicket/{id}", get(get_ticket).patch(patch_ticket))
        .route("/lineTest", post(line_test))
        .route("/hub", post(subscribe))
        .route("/hub/{id}", delete(unsubscribe))
        .layer(axum::middleware::from_fn_with_state(
            shared.faults.clone(),
            faults::inject,
        ));
    let admin = Router::new()
        .route("/faults", get(get_faults).put(put_faults))
        .route("/stats", get(stats));
    Router::new()
        .nest(BASE_PATH, api)
        .nest("/sim", admin)
        .fallback(|| async {
            error_response(StatusCode::NOT_FOUND, "notFound", "no such resource")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// The body, or the 400/413 of a body that could not be read.
fn body(b: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    b.map_err(|e| ApiError::Body(e.body_text(), e.status()))
}

fn parse<T: DeserializeOwned>(b: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(b).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}

fn check_json(headers: &HeaderMap) -> ApiResult<()> {
    match headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None => Ok(()),
        Some(ct) if ct.to_ascii_lowercase().contains("json") => Ok(()),
        Some(ct) => Err(ApiError::MediaType(ct.chars().take(80).collect())),
    }
}

fn check_priority(p: &str) -> ApiResult<()> {
    if matches!(p, "1" | "2" | "3" | "4") {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "priority must be \"1\" (highest) to \"4\", got {:?}",
            p.chars().take(20).collect::<String>()
        )))
    }
}

fn check_notes(notes: &[hotline_center112::wire::Note]) -> ApiResult<()> {
    for n in notes {
        if n.id.trim().is_empty() || n.id.len() > MAX_ID_LEN {
            return Err(ApiError::BadRequest(format!(
                "note id must be 1 to {MAX_ID_LEN} characters"
            )));
        }
    }
    Ok(())
}

fn seq_of(id: &str) -> ApiResult<i64> {
    store::parse_ticket_id(id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "troubleTicket {:?}",
            id.chars().take(64).collect::<String>()
        ))
    })
}

fn created(status: StatusCode, href: &str, body: impl serde::Serialize) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if status == StatusCode::CREATED
        && let Ok(v) = href.parse()
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

async fn create_ticket(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_json(&headers)?;
    let b = body(b)?;
    let create: TroubleTicketCreate = parse(&b)?;
    let Some(ext) = create.external_identifier.first() else {
        return Err(ApiError::BadRequest(
            "externalIdentifier is missing: it must hold the hotline's order id".into(),
        ));
    };
    if ext.id.trim().is_empty() || ext.id.len() > MAX_ID_LEN {
        return Err(ApiError::BadRequest(format!(
            "externalIdentifier[0].id must be 1 to {MAX_ID_LEN} characters"
        )));
    }
    check_priority(&create.priority)?;
    check_notes(&create.note)?;
    let key = headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let new = s.plan.new_ticket(create, now_ms());
    let external_id = new.external_id.clone();
    let out = s.store.create(new).await?;
    let t = out.ticket.ticket;
    if out.created {
        tracing::info!(id = %t.id, %external_id, idempotency_key = %key, late = out.ticket.late, failed = out.ticket.failed, "trouble ticket created");
        s.wake.notify_one();
        let href = t.href.clone();
        Ok(created(StatusCode::CREATED, &href, t))
    } else {
        tracing::info!(id = %t.id, %external_id, idempotency_key = %key, "duplicate dispatch absorbed");
        let href = t.href.clone();
        Ok(created(StatusCode::OK, &href, t))
    }
}

async fn list_tickets(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<TroubleTicket>>> {
    if let Some(ext) = q.get("externalIdentifier.id") {
        let found = s.store.get_by_external_id(ext).await?;
        return Ok(Json(found.into_iter().map(|t| t.ticket).collect()));
    }
    let num = |k: &str, d: i64, max: i64| -> ApiResult<i64> {
        match q.get(k) {
            None => Ok(d),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| ApiError::BadRequest(format!("{k} must be 0 to {max}"))),
        }
    };
    let offset = num("offset", 0, i64::MAX / 2)?;
    let limit = num("limit", 100, 1000)?;
    Ok(Json(
        s.store
            .list(offset, limit)
            .await?
            .into_iter()
            .map(|t| t.ticket)
            .collect(),
    ))
}

async fn get_ticket(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> ApiResult<Json<TroubleTicket>> {
    let seq = seq_of(&id)?;
    match s.store.get(seq).await? {
        Some(t) => Ok(Json(t.ticket)),
        None => Err(ApiError::NotFound(format!("troubleTicket {id}"))),
    }
}

/// Why a PATCH was refused after reading the ticket.
enum Refusal {
    Cancel(Box<TroubleTicket>),
}

async fn patch_ticket(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let seq = seq_of(&id)?;
    check_json(&headers)?;
    let b = body(b)?;
    let patch: TroubleTicketPatch = parse(&b)?;
    if let Some(p) = &patch.priority {
        check_priority(p)?;
    }
    check_notes(&patch.note)?;
    match patch.status {
        None | Some(Status::Cancelled) => {}
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status {} cannot be set by the client; only cancelled",
                other.as_str()
            )));
        }
    }
    let now = now_ms();
    let at = rfc3339(now);
    let result = s
        .store
        .update(seq, |t| {
            let mut write = Write::default();
            let mut cancelled = false;
            if patch.status == Some(Status::Cancelled) {
                match t.ticket.status {
                    Status::Cancelled => {}
                    Status::Resolved | Status::Closed | Status::Rejected => {
                        return Err(Refusal::Cancel(Box::new(t.ticket.clone())));
                    }
                    Status::Acknowledged | Status::InProgress | Status::Pending | Status::Held => {
                        let reason = patch
                            .status_change_reason
                            .as_deref()
                            .filter(|r| !r.trim().is_empty())
                            .unwrap_or("用户退单");
                        set_status(&mut t.ticket, Status::Cancelled, reason, &at);
                        t.next_at = None;
                        cancelled = true;
                        write.ticket = true;
                    }
                }
            }
            for n in &patch.note {
                if t.ticket.note.iter().any(|m| m.id == n.id) {
                    write.duplicate_notes += 1;
                    continue;
                }
                let mut n = n.clone();
                if n.date.is_empty() {
                    n.date = at.clone();
                }
                t.ticket.note.push(n);
                t.note_count += 1;
                t.ticket.last_update = at.clone();
                write.ticket = true;
            }
            if let Some(p) = &patch.priority
                && *p != t.ticket.priority
            {
                t.ticket.priority = p.clone();
                t.ticket.last_update = at.clone();
                write.ticket = true;
            }
            Ok(((t.ticket.clone(), cancelled), write))
        })
        .await?;
    match result {
        None => Err(ApiError::NotFound(format!("troubleTicket {id}"))),
        Some(Ok((t, cancelled))) => {
            if cancelled {
                tracing::info!(%id, "trouble ticket cancelled");
                s.hub.emit(&t, at);
            }
            Ok((StatusCode::OK, Json(t)).into_response())
        }
        Some(Err(Refusal::Cancel(t))) => {
            tracing::info!(%id, status = t.status.as_str(), "cancellation refused");
            let body = CancelRefused {
                code: "alreadyResolved".into(),
                reason: format!(
                    "故障已{}, 不能退单 (status {})",
                    t.status.label_zh(),
                    t.status.as_str()
                ),
                trouble_ticket: *t,
            };
            Ok((StatusCode::CONFLICT, Json(body)).into_response())
        }
    }
}

async fn line_test(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_json(&headers)?;
    let b = body(b)?;
    let req: LineTestRequest = parse(&b)?;
    let n = s.line_tests.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("LT-{}-{n}", s.run_id);
    let result = linetest::test_line(&req.line_number, id, rfc3339(now_ms()))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    s.store.bump_counter(store::LINE_TESTS).await?;
    tracing::info!(number = %result.line_number, verdict = ?result.verdict, "line tested");
    Ok((StatusCode::CREATED, Json(result)).into_response())
}

async fn subscribe(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    check_json(&headers)?;
    let b = body(b)?;
    let mut sub: HubSubscription = parse(&b)?;
    let url = reqwest::Url::parse(&sub.callback)
        .map_err(|e| ApiError::BadRequest(format!("callback is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ApiError::BadRequest(
            "callback must be an http(s) URL with a host".into(),
        ));
    }
    if sub.query.len() > 1024 {
        return Err(ApiError::BadRequest("query is too long".into()));
    }
    sub.id = format!("HUB-{:016x}", rand::random::<u64>());
    let (sub, new) = s.store.add_subscription(&sub).await?;
    if !new {
        tracing::info!(id = %sub.id, callback = %sub.callback, "existing subscription returned");
        return Ok((StatusCode::OK, Json(sub)).into_response());
    }
    s.hub.add(&sub);
    let href = format!("{BASE_PATH}/hub/{}", sub.id);
    Ok(created(StatusCode::CREATED, &href, sub))
}

async fn unsubscribe(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if id.len() > MAX_ID_LEN || !s.store.remove_subscription(&id).await? {
        return Err(ApiError::NotFound(format!(
            "hub {:?}",
            id.chars().take(64).collect::<String>()
        )));
    }
    s.hub.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

async fn get_faults(State(s): State<Arc<Shared>>) -> Json<crate::Faults> {
    Json(s.faults.get())
}

async fn put_faults(
    State(s): State<Arc<Shared>>,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<crate::Faults>> {
    let b = body(b)?;
    let f: crate::Faults = parse(&b)?;
    s.faults.set(f).map_err(ApiError::BadRequest)?;
    Ok(Json(s.faults.get()))
}

async fn stats(State(s): State<Arc<Shared>>) -> ApiResult<Json<crate::Stats>> {
    Ok(Json(s.stats().await?))
}
