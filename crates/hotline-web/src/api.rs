//! The JSON actions the desktop's script calls. Each one checks the session's role against the
//! gRPC method it stands for, validates its input (errors name the field), calls the same desk
//! operation as the gRPC handler and converts the result ([`crate::json`]).
//!
//! State-changing actions may carry an `Idempotency-Key` header: a repeat of a key (a double
//! click, a retry after a lost answer) gets the first answer and runs nothing. Ticket actions
//! carry the `version` the page showed; when the ticket has moved on, the answer is 409
//! `stale` with the newer ticket, and nothing is done.

use crate::session::{Session, WebError, method as m};
use crate::{Answer, Web, json};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hotline_core::desk::voicemail::TicketForm;
use hotline_domain::ticket::NewTicket;
use hotline_domain::workflow::{Action, ManagerReason};
use hotline_domain::{PhoneNumber, Role, TicketStatus, ValidationError};
use hotline_store::{ListFilter, VoicemailState};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

type ApiResult = Result<Json<Value>, WebError>;

const MAX_TEXT: usize = 2000;

fn text(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let n = s.chars().count();
    if n > MAX_TEXT {
        return Err(ValidationError::new(
            field,
            format!("is {n} characters long; at most {MAX_TEXT} are allowed"),
        ));
    }
    Ok(s.trim().to_string())
}

fn positive(field: &'static str, id: i64) -> Result<i64, ValidationError> {
    if id <= 0 {
        return Err(ValidationError::new(
            field,
            format!("must be a positive id, got {id}"),
        ));
    }
    Ok(id)
}

/// How long an idempotency key's answer is kept.
const IDEM_TTL: Duration = Duration::from_secs(600);

/// Runs `f` once per (agent, `Idempotency-Key`); repeats get the first answer.
async fn once(
    web: &Web,
    s: &Session,
    headers: &HeaderMap,
    f: impl Future<Output = ApiResult>,
) -> Response {
    let render = |r: ApiResult| -> Answer {
        match r {
            Ok(Json(v)) => (200, v.to_string()),
            Err(e) => (e.parts().0.as_u16(), e.body().to_string()),
        }
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 80);
    let (code, body) = match key {
        None => render(f.await),
        Some(key) => {
            let cell = {
                let mut map = match web.idem.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                if map.len() > 1000 {
                    map.retain(|_, (at, _)| at.elapsed() < IDEM_TTL);
                }
                map.entry((s.who.agent_id.clone(), key.to_string()))
                    .or_insert_with(|| (Instant::now(), Arc::default()))
                    .1
                    .clone()
            };
            cell.get_or_init(|| async { render(f.await) }).await.clone()
        }
    };
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// GET /api/me
pub async fn me(State(web): State<Web>, s: Session) -> ApiResult {
    s.allow(m::GET_ME)?;
    let a = web.core.desk.agent(&s.who.agent_id).await?;
    Ok(Json(json!({
        "agent_id": a.agent_id,
        "name": a.name,
        "role": a.role.as_str(),
        "role_label": a.role.label_zh(),
        "presence": web.core.acd.presence(&a.agent_id).unwrap_or(a.presence).as_str(),
        "now": web.core.desk.clock.now().0,
    })))
}

#[derive(Deserialize)]
pub struct PresenceBody {
    pub presence: String,
}

/// POST /api/presence {presence}: 示闲 available, 示忙 not_ready, 话后整理 wrap_up.
pub async fn presence(
    State(web): State<Web>,
    s: Session,
    Json(b): Json<PresenceBody>,
) -> ApiResult {
    s.allow(m::SET_PRESENCE)?;
    if !matches!(b.presence.as_str(), "available" | "not_ready" | "wrap_up") {
        return Err(WebError::Invalid(format!(
            "presence {:?}: expected available, not_ready or wrap_up",
            b.presence
        )));
    }
    let presence = hotline_core::desk::agents::parse_presence(&b.presence)?;
    let a = web
        .core
        .desk
        .set_presence(&web.core.acd, &web.core.auth, &s.who, presence)
        .await?;
    Ok(Json(json!({ "presence": a.presence })))
}

async fn show_contact(web: &Web, s: &Session, id: i64) -> Result<bool, WebError> {
    Ok(web
        .core
        .desk
        .contact_visible(&s.who)
        .await?
        .is_none_or(|ids| ids.contains(&id)))
}

async fn ticket_value(
    web: &Web,
    s: &Session,
    v: &hotline_store::TicketView,
) -> Result<Value, WebError> {
    let show = show_contact(web, s, v.ticket.id).await?;
    Ok(json::view(
        v,
        web.core.desk.repair_limit_hours(&v.ticket),
        show,
    ))
}

#[derive(Deserialize, Default)]
pub struct TicketBody {
    #[serde(default)]
    pub faulty_number: String,
    #[serde(default)]
    pub contact_number: String,
    #[serde(default)]
    pub customer_name: String,
    #[serde(default)]
    pub customer_class: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub fault_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub urgent: bool,
}

/// POST /api/tickets: a report taken on the phone (channel `phone`).
pub async fn create_ticket(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Json(b): Json<TicketBody>,
) -> Response {
    let f = async {
        s.allow(m::CREATE_TICKET)?;
        let new = NewTicket {
            faulty_number: b.faulty_number,
            contact_number: b.contact_number,
            customer_name: b.customer_name,
            customer_class: b.customer_class,
            branch: b.branch,
            fault_type: b.fault_type,
            description: text("description", &b.description)?,
            channel: "phone".into(),
            received_at: None,
            urgent: b.urgent,
            supplement_of: None,
        };
        let created = web.core.desk.create_ticket(&s.who, new).await?;
        let v = web.core.desk.get(created.ticket.id).await?;
        let repeat = created.repeat.map(|r| format!("{r:?}"));
        let mut t = ticket_value(&web, &s, &v).await?;
        t["repeat_advice"] = json!(repeat);
        Ok(Json(t))
    };
    once(&web, &s, &headers, f).await
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub limit: u32,
}

/// GET /api/tickets?status=&number=&limit=: newest first.
pub async fn list_tickets(
    State(web): State<Web>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    s.allow(m::LIST_TICKETS)?;
    let status = hotline_core::Desk::parse_status(&q.status)?;
    let tickets = web
        .core
        .desk
        .list(&ListFilter {
            status,
            faulty_number: (!q.number.is_empty()).then(|| q.number.clone()),
            limit: q.limit.clamp(1, 200),
            ..Default::default()
        })
        .await?;
    let visible = web.core.desk.contact_visible(&s.who).await?;
    Ok(Json(Value::Array(
        tickets
            .iter()
            .map(|t| {
                let show = visible.as_ref().is_none_or(|ids| ids.contains(&t.id));
                json::ticket(t, web.core.desk.repair_limit_hours(t), show)
            })
            .collect(),
    )))
}

/// GET /api/tickets/{id}: the ticket, its orders, deadlines and history.
pub async fn get_ticket(State(web): State<Web>, s: Session, Path(id): Path<i64>) -> ApiResult {
    s.allow(m::GET_TICKET)?;
    let id = positive("id", id)?;
    let v = web.core.desk.get(id).await?;
    let mut t = ticket_value(&web, &s, &v).await?;
    if s.may(m::HISTORY) {
        t["history"] = json::history(&web.core.desk.history(id).await?);
    }
    Ok(Json(t))
}

#[derive(Deserialize, Default)]
pub struct ActBody {
    pub action: String,
    #[serde(default)]
    pub note: String,
    /// For `manager`: overdue_repeat or caller_refused_answer.
    #[serde(default)]
    pub reason: String,
    /// The version the page showed; absent: act on whatever is current.
    pub version: Option<i64>,
}

/// The workflow action and its gRPC method.
fn action_of(b: &ActBody) -> Result<(&'static str, Action), WebError> {
    let note = text("note", &b.note)?;
    Ok(match b.action.as_str() {
        "dispatch" => (m::DISPATCH, Action::Dispatch { note }),
        "escalate" => (m::ESCALATE, Action::Escalate { reason: note }),
        "follow_up" => (m::FOLLOW_UP, Action::FollowUp { note }),
        "cancel" => (m::CANCEL, Action::Cancel { reason: note }),
        "urgent" => (m::URGENT, Action::MarkUrgent { reason: note }),
        "manager" => {
            let reason = ManagerReason::parse(&b.reason).ok_or_else(|| {
                WebError::Invalid(format!(
                    "reason {:?}: expected overdue_repeat or caller_refused_answer",
                    b.reason
                ))
            })?;
            (m::MANAGER, Action::TransferToManager { reason, note })
        }
        other => {
            return Err(WebError::Invalid(format!(
                "action {other:?}: expected dispatch, escalate, follow_up, cancel, urgent or manager"
            )));
        }
    })
}

/// Refuses (with the newer ticket) when the ticket is no longer at `version`.
async fn fresh(web: &Web, s: &Session, id: i64, version: Option<i64>) -> Result<(), WebError> {
    if let Some(version) = version {
        let v = web.core.desk.get(id).await?;
        if v.ticket.version != version {
            return Err(WebError::Stale(ticket_value(web, s, &v).await?));
        }
    }
    Ok(())
}

async fn apply(web: &Web, s: &Session, id: i64, action: Action) -> ApiResult {
    let (v, _) = web.core.desk.act(&s.who, id, action).await?;
    Ok(Json(ticket_value(web, s, &v).await?))
}

/// POST /api/tickets/{id}/act {action, note, reason, version}
pub async fn act(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<ActBody>,
) -> Response {
    let f = async {
        let id = positive("id", id)?;
        let (method, action) = action_of(&b)?;
        s.allow(method)?;
        fresh(&web, &s, id, b.version).await?;
        apply(&web, &s, id, action).await
    };
    once(&web, &s, &headers, f).await
}

#[derive(Deserialize)]
pub struct ReviewBody {
    pub order_id: i64,
    pub approve: bool,
    #[serde(default)]
    pub note: String,
    pub version: Option<i64>,
}

/// POST /api/tickets/{id}/review {order_id, approve, note, version}: the senior's second review.
pub async fn review(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<ReviewBody>,
) -> Response {
    let f = async {
        s.allow(m::REVIEW)?;
        let id = positive("ticket_id", id)?;
        let order_id = positive("order_id", b.order_id)?;
        let note = text("note", &b.note)?;
        fresh(&web, &s, id, b.version).await?;
        apply(
            &web,
            &s,
            id,
            Action::Review {
                order_id,
                approve: b.approve,
                note,
            },
        )
        .await
    };
    once(&web, &s, &headers, f).await
}

/// GET /api/review: tickets awaiting a senior's second review, with their orders.
pub async fn review_queue(State(web): State<Web>, s: Session) -> ApiResult {
    s.allow(m::REVIEW)?;
    s.allow(m::LIST_TICKETS)?;
    let tickets = web
        .core
        .desk
        .list(&ListFilter {
            status: Some(TicketStatus::AwaitingReview),
            limit: 200,
            ..Default::default()
        })
        .await?;
    let mut out = Vec::with_capacity(tickets.len());
    for t in tickets.iter().rev() {
        let v = web.core.desk.get(t.id).await?;
        out.push(ticket_value(&web, &s, &v).await?);
    }
    Ok(Json(Value::Array(out)))
}

/// GET /api/tickets/{id}/progress: the 112 centre's progress on the dispatch (SF6).
pub async fn progress(State(web): State<Web>, s: Session, Path(id): Path<i64>) -> ApiResult {
    s.allow(m::PROGRESS)?;
    let id = positive("id", id)?;
    let (order_id, tt) = web
        .core
        .desk
        .center_progress(web.core.center.as_deref(), id)
        .await?;
    Ok(Json(json!({
        "order_id": order_id,
        "center_ref": tt.id,
        "status": format!("{:?}", tt.status),
        "detail": serde_json::to_value(&tt).unwrap_or(Value::Null),
    })))
}

#[derive(Deserialize)]
pub struct LineTestQuery {
    pub number: String,
}

/// GET /api/line-test?number=: the 112 centre's line test (SF5).
pub async fn line_test(
    State(web): State<Web>,
    s: Session,
    Query(q): Query<LineTestQuery>,
) -> ApiResult {
    s.allow(m::LINE_TEST)?;
    let number =
        PhoneNumber::parse(&q.number).map_err(|e| ValidationError::new("number", e.to_string()))?;
    let r = web
        .core
        .desk
        .line_test(web.core.center.as_deref(), &number)
        .await?;
    Ok(Json(serde_json::to_value(&r).unwrap_or(Value::Null)))
}

/// GET /api/alerts: the newest alerts.
pub async fn alerts(State(web): State<Web>, s: Session) -> ApiResult {
    s.allow(m::LIST_ALERTS)?;
    let a = web.core.desk.alerts(None, 50).await?;
    Ok(Json(Value::Array(a.iter().map(json::alert).collect())))
}

/// GET /api/voicemails: messages new, claimed or escalated, oldest first.
pub async fn voicemails(State(web): State<Web>, s: Session) -> ApiResult {
    s.allow(m::LIST_VOICEMAILS)?;
    let mb = web.core.desk.mailbox(&web.core.voicemail_dir);
    let mut all = Vec::new();
    for st in [
        VoicemailState::New,
        VoicemailState::Claimed,
        VoicemailState::Escalated,
    ] {
        all.extend(mb.list(Some(st), 200).await?);
    }
    all.sort_by_key(|v| v.id);
    Ok(Json(Value::Array(
        all.iter().map(json::voicemail).collect(),
    )))
}

/// POST /api/voicemails/{id}/claim
pub async fn claim(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let f = async {
        s.allow(m::CLAIM_VOICEMAIL)?;
        let id = positive("id", id)?;
        let v = web
            .core
            .desk
            .mailbox(&web.core.voicemail_dir)
            .claim(&s.who, id)
            .await?;
        Ok(Json(json::voicemail(&v)))
    };
    once(&web, &s, &headers, f).await
}

/// POST /api/voicemails/{id}/convert {ticket fields}: the message becomes a ticket.
pub async fn convert(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<TicketBody>,
) -> Response {
    let f = async {
        s.allow(m::CONVERT_VOICEMAIL)?;
        let id = positive("id", id)?;
        let form = TicketForm {
            faulty_number: b.faulty_number,
            contact_number: b.contact_number,
            customer_name: b.customer_name,
            customer_class: b.customer_class,
            branch: b.branch,
            fault_type: b.fault_type,
            description: text("description", &b.description)?,
            urgent: b.urgent,
        };
        let (v, created) = web
            .core
            .desk
            .mailbox(&web.core.voicemail_dir)
            .convert(&s.who, id, form)
            .await?;
        Ok(Json(json!({
            "voicemail": json::voicemail(&v),
            "ticket_id": created.ticket.id,
        })))
    };
    once(&web, &s, &headers, f).await
}

#[derive(Deserialize)]
pub struct ReasonBody {
    #[serde(default)]
    pub reason: String,
}

/// POST /api/voicemails/{id}/escalate {reason}
pub async fn escalate(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<ReasonBody>,
) -> Response {
    let f = async {
        s.allow(m::ESCALATE_VOICEMAIL)?;
        let id = positive("id", id)?;
        let reason = text("reason", &b.reason)?;
        let v = web
            .core
            .desk
            .mailbox(&web.core.voicemail_dir)
            .escalate(&s.who, id, &reason)
            .await?;
        Ok(Json(json::voicemail(&v)))
    };
    once(&web, &s, &headers, f).await
}

/// A `Range` header that cannot be satisfied (416).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsatisfiable;

/// A `Range: bytes=...` header against a body of `len` bytes: the inclusive range to send,
/// `Ok(None)` for the whole body, `Err(Unsatisfiable)` when it cannot be satisfied.
pub fn byte_range(range: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let bad = |_| Unsatisfiable;
    let Some(r) = range else { return Ok(None) };
    let Some(spec) = r.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    // one range only; a list is answered with the whole body
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (a, b) = (a.trim(), b.trim());
    if len == 0 {
        return Err(Unsatisfiable);
    }
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(bad)?;
        if n == 0 {
            return Err(Unsatisfiable);
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let s: u64 = a.parse().map_err(bad)?;
        let e: u64 = if b.is_empty() {
            len - 1
        } else {
            b.parse::<u64>().map_err(bad)?.min(len - 1)
        };
        (s, e)
    };
    if start > end || start >= len {
        return Err(Unsatisfiable);
    }
    Ok(Some((start, end)))
}

/// GET /voicemails/{id}/audio: the WAV, with HTTP range requests (the browser's player seeks).
pub async fn audio(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    s.allow(m::VOICEMAIL_AUDIO)?;
    let id = positive("id", id)?;
    let mut file = web
        .core
        .desk
        .mailbox(&web.core.voicemail_dir)
        .open_recording(&s.who, id)
        .await?;
    let len = file
        .metadata()
        .await
        .map_err(|e| hotline_core::CoreError::Internal(format!("voicemail {id} audio: {e}")))?
        .len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let common = [
        (header::CONTENT_TYPE, "audio/wav".to_string()),
        (header::ACCEPT_RANGES, "bytes".to_string()),
        (header::CACHE_CONTROL, "private, no-store".to_string()),
    ];
    match byte_range(range, len) {
        Err(Unsatisfiable) => Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response()),
        Ok(None) => Ok((
            StatusCode::OK,
            common,
            [(header::CONTENT_LENGTH, len.to_string())],
            Body::from_stream(tokio_util::io::ReaderStream::new(file)),
        )
            .into_response()),
        Ok(Some((start, end))) => {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|e| hotline_core::CoreError::Internal(format!("voicemail {id}: {e}")))?;
            let n = end - start + 1;
            Ok((
                StatusCode::PARTIAL_CONTENT,
                common,
                [
                    (header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
                    (header::CONTENT_LENGTH, n.to_string()),
                ],
                Body::from_stream(tokio_util::io::ReaderStream::new(file.take(n))),
            )
                .into_response())
        }
    }
}

/// GET /api/wallboard: the supervisor's figures now.
pub async fn wallboard(State(web): State<Web>, s: Session) -> ApiResult {
    s.allow(m::QUEUE_METRICS)?;
    Ok(Json(crate::live::board(&web).await?))
}

/// Roles whose home is the call desk (they take calls from the queue).
pub fn takes_calls(role: Role) -> bool {
    hotline_core::acd::tier_for(role).is_some()
}

#[derive(Deserialize)]
pub struct SurveyQuery {
    #[serde(default = "cleared")]
    pub list: String,
}

fn cleared() -> String {
    "cleared".into()
}

/// GET /api/surveys?list=cleared|completed|due|investigate: a surveyor's worklist.
pub async fn survey_work(
    State(web): State<Web>,
    s: Session,
    Query(q): Query<SurveyQuery>,
) -> ApiResult {
    s.allow(m::LIST_SURVEY_WORK)?;
    let list = hotline_domain::survey::Worklist::parse(&q.list).ok_or_else(|| {
        ValidationError::new(
            "list",
            format!(
                "unknown list {:?}: cleared, completed, due or investigate",
                q.list
            ),
        )
    })?;
    let entries = web.core.surveys.worklist(&s.who, list, 200).await?;
    Ok(Json(Value::Array(
        entries.iter().map(json::survey_entry).collect(),
    )))
}

#[derive(Deserialize)]
pub struct CallbackBody {
    /// reached | not_reached
    pub outcome: String,
    #[serde(default)]
    pub satisfaction: String,
    #[serde(default)]
    pub comment: String,
}

/// POST /api/surveys/{ticket}/callback {outcome, satisfaction, comment}: one attempt.
pub async fn record_callback(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(ticket): Path<i64>,
    Json(b): Json<CallbackBody>,
) -> Response {
    let f = async {
        s.allow(m::RECORD_CALLBACK)?;
        let ticket = positive("ticket", ticket)?;
        let form = hotline_domain::survey::CallbackForm {
            outcome: b.outcome,
            satisfaction: b.satisfaction,
            comment: text("comment", &b.comment)?,
            ..Default::default()
        };
        let r = web
            .core
            .surveys
            .record_callback(&s.who, ticket, &form)
            .await?;
        let (next, at) = match r.next {
            hotline_domain::survey::NextStep::Done => ("done", None),
            hotline_domain::survey::NextStep::RetryAt(t) => ("retry", Some(t.0)),
            hotline_domain::survey::NextStep::Unreachable => ("unreachable", None),
        };
        Ok(Json(json!({
            "ticket_id": r.ticket_id,
            "attempt": r.attempt,
            "outcome": r.outcome.as_str(),
            "next": next,
            "next_attempt_at": at,
        })))
    };
    once(&web, &s, &headers, f).await
}

fn intake(web: &Web) -> hotline_core::desk::intake::Intake<'_> {
    web.core
        .desk
        .intake(web.core.docs.as_ref(), &web.core.intake)
}

fn document_value(web: &Web, d: &hotline_store::DocumentRecord) -> Value {
    let i = intake(web);
    let left = if d.state.can_enter() {
        i.time_left_ms(d)
    } else {
        0
    };
    json::document(d, web.core.desk.clock.now().0, left)
}

/// GET /api/intake: the caller's inbox, oldest received first (clerks: unentered; seniors:
/// passed to them).
pub async fn inbox(State(web): State<Web>, s: Session) -> ApiResult {
    s.allow(m::LIST_INBOX)?;
    let docs = intake(&web).inbox(&s.who, 200).await?;
    Ok(Json(Value::Array(
        docs.iter().map(|d| document_value(&web, d)).collect(),
    )))
}

#[derive(Deserialize)]
pub struct EntryBody {
    #[serde(default)]
    pub faulty_number: String,
    #[serde(default)]
    pub contact_number: String,
    #[serde(default)]
    pub customer_name: String,
    #[serde(default)]
    pub fault_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub urgent: bool,
}

/// POST /api/intake/{id}/enter {faulty_number, fault_type, description, ...}: the document
/// becomes a ticket received at the document's time (TE1).
pub async fn enter_document(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<EntryBody>,
) -> Response {
    let f = async {
        s.allow(m::ENTER_DOCUMENT)?;
        let id = positive("id", id)?;
        let form = hotline_core::desk::intake::EntryForm {
            faulty_number: b.faulty_number,
            contact_number: b.contact_number,
            customer_name: b.customer_name,
            fault_type: b.fault_type,
            description: text("description", &b.description)?,
            urgent: b.urgent,
            ..Default::default()
        };
        let (d, created) = intake(&web).enter(&s.who, id, form).await?;
        Ok(Json(json!({
            "document": document_value(&web, &d),
            "ticket_id": created.ticket.id,
        })))
    };
    once(&web, &s, &headers, f).await
}

/// POST /api/intake/{id}/pass {reason}: to the seniors within the same two hours (TE4).
pub async fn pass_document(
    State(web): State<Web>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(b): Json<ReasonBody>,
) -> Response {
    let f = async {
        s.allow(m::PASS_TO_SENIOR)?;
        let id = positive("id", id)?;
        let reason = text("reason", &b.reason)?;
        let d = intake(&web).pass_to_senior(&s.who, id, &reason).await?;
        Ok(Json(document_value(&web, &d)))
    };
    once(&web, &s, &headers, f).await
}

/// GET /intake/{id}/original: the original as stored (checked against its SHA-256), always
/// as a download (`attachment`, `nosniff`, a sandbox CSP), never rendered as a page of ours.
pub async fn original(
    State(web): State<Web>,
    s: Session,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    s.allow(m::DOWNLOAD_DOCUMENT)?;
    let id = positive("id", id)?;
    let (d, bytes) = intake(&web).fetch(id).await?;
    let ascii: String = d
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}
