//! Sessions, CSRF and permissions.
//!
//! A session is the core's own bearer token (`Auth::login`, the same accounts and expiry as
//! gRPC) carried in the `hl_session` cookie (HttpOnly, SameSite=Strict). The CSRF token is
//! derived from it (SHA-256 of a label and the token), put in each page's `<meta name="csrf">`
//! and required in the `X-CSRF-Token` header (or a `csrf` form field) of every POST; a request
//! whose `Sec-Fetch-Site` or `Origin` says it came from another site is refused too.
//!
//! Every page and API call names the gRPC method it stands for and is decided by
//! `hotline_domain::permissions::authorize`, so the web and gRPC share one list of who may do
//! what.

use crate::Web;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hotline_core::CoreError;
use hotline_core::auth::Principal;
use hotline_domain::permissions::{self, Denied};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "hl_session";

/// The methods the desktop's pages and actions stand for.
pub mod method {
    pub const SET_PRESENCE: &str = "hotline.v1.AgentService/SetPresence";
    pub const GET_ME: &str = "hotline.v1.AgentService/GetMe";
    pub const LOGOUT: &str = "hotline.v1.AgentService/Logout";
    pub const LIST_AGENTS: &str = "hotline.v1.AgentService/ListAgents";
    pub const STREAM_EVENTS: &str = "hotline.v1.AgentService/StreamEvents";
    pub const CREATE_TICKET: &str = "hotline.v1.TicketService/CreateTicket";
    pub const GET_TICKET: &str = "hotline.v1.TicketService/GetTicket";
    pub const LIST_TICKETS: &str = "hotline.v1.TicketService/ListTickets";
    pub const HISTORY: &str = "hotline.v1.TicketService/GetTicketHistory";
    pub const DISPATCH: &str = "hotline.v1.TicketService/DispatchTicket";
    pub const FOLLOW_UP: &str = "hotline.v1.TicketService/FollowUpTicket";
    pub const CANCEL: &str = "hotline.v1.TicketService/CancelTicket";
    pub const ESCALATE: &str = "hotline.v1.TicketService/EscalateTicket";
    pub const REVIEW: &str = "hotline.v1.TicketService/ReviewOrder";
    pub const URGENT: &str = "hotline.v1.TicketService/MarkUrgent";
    pub const MANAGER: &str = "hotline.v1.TicketService/TransferToManager";
    pub const LIST_ALERTS: &str = "hotline.v1.TicketService/ListAlerts";
    pub const LINE_TEST: &str = "hotline.v1.TicketService/RunLineTest";
    pub const PROGRESS: &str = "hotline.v1.TicketService/GetCenterProgress";
    pub const LIST_VOICEMAILS: &str = "hotline.v1.VoicemailService/ListVoicemails";
    pub const LIST_INBOX: &str = "hotline.v1.IntakeService/ListInbox";
    pub const ENTER_DOCUMENT: &str = "hotline.v1.IntakeService/EnterDocument";
    pub const PASS_TO_SENIOR: &str = "hotline.v1.IntakeService/PassToSenior";
    pub const DOWNLOAD_DOCUMENT: &str = "hotline.v1.IntakeService/DownloadDocument";
    pub const LIST_SURVEY_WORK: &str = "hotline.v1.SurveyService/ListSurveyWork";
    pub const RECORD_CALLBACK: &str = "hotline.v1.SurveyService/RecordCallback";
    pub const CLAIM_VOICEMAIL: &str = "hotline.v1.VoicemailService/ClaimVoicemail";
    pub const VOICEMAIL_AUDIO: &str = "hotline.v1.VoicemailService/FetchVoicemailAudio";
    pub const CONVERT_VOICEMAIL: &str = "hotline.v1.VoicemailService/ConvertVoicemail";
    pub const ESCALATE_VOICEMAIL: &str = "hotline.v1.VoicemailService/EscalateVoicemail";
    pub const QUEUE_METRICS: &str = "hotline.v1.QueueService/GetQueueMetrics";
    pub const LIST_QUEUE: &str = "hotline.v1.QueueService/ListQueue";
}

/// The CSRF token of a session token.
pub fn csrf_for(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hotline-web csrf\0");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

/// Why a web request was refused or failed.
#[derive(Debug)]
pub enum WebError {
    /// No session, or it expired: pages go back to the login page, API calls get 401.
    LoggedOut {
        expired: bool,
        api: bool,
        next: String,
    },
    /// A state-changing request without the session's CSRF token, or from another site.
    Csrf,
    /// The permission matrix refused the role.
    Denied {
        denied: Denied,
        api: bool,
    },
    /// The ticket changed since the page read it: the newer state.
    Stale(serde_json::Value),
    /// A field of the request is wrong.
    Invalid(String),
    Core(CoreError),
}

impl From<CoreError> for WebError {
    fn from(e: CoreError) -> Self {
        WebError::Core(e)
    }
}

impl From<hotline_domain::ValidationError> for WebError {
    fn from(e: hotline_domain::ValidationError) -> Self {
        WebError::Core(e.into())
    }
}

impl WebError {
    /// Status, machine code and zh-CN message of an API error.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        use CoreError as C;
        match self {
            WebError::LoggedOut { expired: true, .. } => (
                StatusCode::UNAUTHORIZED,
                "expired",
                "登录已过期，请重新登录（未提交的内容已保存在本机）".into(),
            ),
            WebError::LoggedOut { .. } => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "请先登录".into(),
            ),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "csrf",
                "请求来源校验失败（缺少或错误的 CSRF 令牌，或来自其他站点），已拒绝".into(),
            ),
            WebError::Denied { denied, .. } => (
                StatusCode::FORBIDDEN,
                "denied",
                format!("无权执行此操作：{denied}"),
            ),
            WebError::Stale(_) => (
                StatusCode::CONFLICT,
                "stale",
                "工单已被他人更新，页面已显示最新状态，请确认后再操作".into(),
            ),
            WebError::Invalid(m) => (StatusCode::BAD_REQUEST, "invalid", format!("输入有误：{m}")),
            WebError::Core(e) => {
                let (code, kind, zh) = match e {
                    C::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid", "输入有误"),
                    C::Refused(_) => (StatusCode::CONFLICT, "refused", "当前状态不允许此操作"),
                    C::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "未找到"),
                    C::AlreadyExists(_) => (StatusCode::CONFLICT, "exists", "已存在"),
                    C::Unauthenticated | C::BadCredentials => {
                        (StatusCode::UNAUTHORIZED, "unauthenticated", "请先登录")
                    }
                    C::SessionExpired => (StatusCode::UNAUTHORIZED, "expired", "登录已过期"),
                    C::Denied(_) | C::Forbidden { .. } | C::NotAllowed(_) => {
                        (StatusCode::FORBIDDEN, "denied", "无权执行此操作")
                    }
                    C::Contended => (
                        StatusCode::CONFLICT,
                        "contended",
                        "工单正被频繁修改，请重试",
                    ),
                    C::NotReady(_) => (StatusCode::CONFLICT, "not_ready", "暂不能执行"),
                    C::Unavailable => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "服务正在停止",
                    ),
                    C::Center(_) => (StatusCode::BAD_GATEWAY, "center", "112 中心暂不可用"),
                    C::Internal(_) | C::OutcomeUnknown(_) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "服务器内部错误",
                    ),
                };
                (code, kind, format!("{zh}：{e}"))
            }
        }
    }

    /// The JSON body of an API error.
    pub fn body(&self) -> serde_json::Value {
        let (_, code, message) = self.parts();
        let mut v = serde_json::json!({ "error": code, "message": message });
        if let WebError::Stale(t) = self {
            v["ticket"] = t.clone();
        }
        v
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match &self {
            WebError::LoggedOut {
                expired,
                api: false,
                next,
            } => {
                let mut to = format!("/login?next={}", crate::pages::url_encode(next));
                if *expired {
                    to.push_str("&expired=1");
                }
                Redirect::to(&to).into_response()
            }
            WebError::Denied { denied, api: false } => (
                StatusCode::FORBIDDEN,
                axum::response::Html(crate::pages::denied_page(&denied.to_string())),
            )
                .into_response(),
            _ => {
                let (code, _, _) = self.parts();
                (code, axum::Json(self.body())).into_response()
            }
        }
    }
}

/// A logged-in request.
#[derive(Clone, Debug)]
pub struct Session {
    pub who: Principal,
    pub token: String,
    pub csrf: String,
    /// An API call (`/api/...`, `/events`, audio): errors as JSON, not pages.
    pub api: bool,
}

impl Session {
    /// The permission matrix's decision on `method` for this session's role.
    pub fn allow(&self, method: &str) -> Result<(), WebError> {
        permissions::authorize(self.who.role, method).map_err(|denied| WebError::Denied {
            denied,
            api: self.api,
        })
    }

    /// Whether the role may call `method` (for navigation).
    pub fn may(&self, method: &str) -> bool {
        permissions::authorize(self.who.role, method).is_ok()
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/events" || path.starts_with("/voicemails/")
}

/// Whether the request says it was sent by another site (`Sec-Fetch-Site`, `Origin`).
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return true;
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let o = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or(origin);
        return o != host;
    }
    false
}

impl FromRequestParts<Web> for Session {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, WebError> {
        let path = parts.uri.path().to_string();
        let api = is_api(&path);
        let next = parts
            .uri
            .path_and_query()
            .map_or(path.clone(), |p| p.as_str().to_string());
        let logged_out = |expired| WebError::LoggedOut {
            expired,
            api,
            next: next.clone(),
        };
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(logged_out(false));
        };
        let who = match web.core.auth.authenticate(&token).await {
            Ok(p) => p,
            Err(CoreError::SessionExpired) => return Err(logged_out(true)),
            Err(CoreError::Unauthenticated) | Err(CoreError::NotFound(_)) => {
                return Err(logged_out(false));
            }
            Err(e) => return Err(WebError::Core(e)),
        };
        let csrf = csrf_for(&token);
        if parts.method != axum::http::Method::GET && parts.method != axum::http::Method::HEAD {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if cross_site(&parts.headers) || sent != Some(csrf.as_str()) {
                tracing::warn!(agent = %who.agent_id, %path, "refused a request without its CSRF token");
                return Err(WebError::Csrf);
            }
        }
        Ok(Session {
            who,
            token,
            csrf,
            api,
        })
    }
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    pub agent_id: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

/// Where to go after logging in: a path on this site only.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// POST /login: the gRPC account's id and password; sets the session cookie.
pub async fn login(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    if cross_site(&headers) {
        return WebError::Csrf.into_response();
    }
    match web.core.auth.login(f.agent_id.trim(), &f.password).await {
        Ok((token, expires, agent)) => {
            if agent.role == hotline_domain::Role::System {
                let _ = web.core.auth.logout(&token).await;
                return crate::pages::login_response(
                    StatusCode::FORBIDDEN,
                    "服务账号不能登录话务台",
                    &f.next,
                );
            }
            let max_age = ((expires.0 - web.core.desk.clock.now().0) / 1000).max(0);
            let cookie =
                format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}");
            tracing::info!(agent = %agent.agent_id, "web login");
            let mut r = Redirect::to(safe_next(&f.next)).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(CoreError::BadCredentials) => {
            crate::pages::login_response(StatusCode::UNAUTHORIZED, "工号或密码错误", &f.next)
        }
        Err(e) => {
            tracing::error!(error = %e, "web login failed");
            crate::pages::login_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "暂时无法登录，请稍后再试",
                &f.next,
            )
        }
    }
}

#[derive(serde::Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    pub csrf: String,
}

/// POST /logout (form with the CSRF token): ends the session and leaves the queue.
pub async fn logout(
    State(web): State<Web>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LogoutForm>,
) -> Result<Response, WebError> {
    let Some(token) = cookie(&headers, COOKIE) else {
        return Ok(Redirect::to("/login").into_response());
    };
    if cross_site(&headers) || f.csrf != csrf_for(&token) {
        return Err(WebError::Csrf);
    }
    if let Ok(who) = web.core.auth.authenticate(&token).await {
        web.core.desk.leave_queue(&web.core.acd, &who).await;
    }
    web.core.auth.logout(&token).await?;
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("hl_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(r)
}
