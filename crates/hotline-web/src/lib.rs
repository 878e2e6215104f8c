//! The agent web desktop (issue 18): server-rendered zh-CN pages, one small plain script and
//! one style sheet built into the binary, live updates by Server-Sent Events, all on the core's
//! HTTP listener through [`hotline_core::server::HttpExtension`].
//!
//! Layout:
//! - [`session`]: log-in with the gRPC accounts (the core's bearer token in an HttpOnly,
//!   SameSite=Strict cookie), the CSRF token of every state-changing request, the permission
//!   check of every page and API call (each web action is named by its gRPC method and decided
//!   by `hotline_domain::permissions`), errors as pages or JSON.
//! - [`pages`]: the HTML of each view (login, call desk, review queue, voicemail, wallboard,
//!   the surveyor's callbacks, the clerk's inbox,
//!   placeholders for the back-office roles), navigation by role, escaping.
//! - [`api`]: the JSON actions the script calls; each calls the same desk operation
//!   (`hotline_core::desk`) as the gRPC handler, never the store. Double submits carry an
//!   idempotency key; a stale ticket version returns the newer ticket.
//! - [`live`]: `GET /events`, the core's event bus filtered like `AgentService.StreamEvents`,
//!   and the wallboard's queue figures every two seconds.
//! - [`json`]: domain values as the script reads them.
//!
//! Assets (`assets/app.js`, `assets/app.css`) are `include_str!`ed.

pub mod api;
pub mod json;
pub mod live;
pub mod pages;
pub mod session;

use axum::Router;
use axum::routing::{get, post};
use hotline_core::server::{CoreHandles, HttpExtension};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OnceCell, watch};

/// One answer of an action, kept for its idempotency key: status and JSON body.
pub(crate) type Answer = (u16, String);
type Idem = HashMap<(String, String), (Instant, Arc<OnceCell<Answer>>)>;

/// The desktop's state: the core's handles, answers by idempotency key, the wallboard feed.
#[derive(Clone)]
pub struct Web {
    pub core: CoreHandles,
    pub(crate) idem: Arc<Mutex<Idem>>,
    pub(crate) board: Arc<watch::Sender<Arc<serde_json::Value>>>,
}

/// The extension the binary puts in `CoreConfig::http_extension`.
pub fn extension() -> HttpExtension {
    HttpExtension(Arc::new(router))
}

/// The desktop's routes over a started core. Spawns the wallboard's figure task (it stops
/// with the core).
pub fn router(core: CoreHandles) -> Router {
    let (tx, _) = watch::channel(Arc::new(serde_json::Value::Null));
    let web = Web {
        core,
        idem: Arc::default(),
        board: Arc::new(tx),
    };
    tokio::spawn(live::board_task(web.clone()));
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/desk", get(pages::desk))
        .route("/review", get(pages::review))
        .route("/voicemail", get(pages::voicemail))
        .route("/wallboard", get(pages::wallboard))
        .route("/surveys", get(pages::surveys))
        .route("/intake", get(pages::intake))
        .route("/soon/{what}", get(pages::placeholder))
        .route("/assets/app.js", get(pages::script))
        .route("/assets/app.css", get(pages::style))
        .route("/events", get(live::events))
        .route("/api/me", get(api::me))
        .route("/api/presence", post(api::presence))
        .route(
            "/api/tickets",
            get(api::list_tickets).post(api::create_ticket),
        )
        .route("/api/tickets/{id}", get(api::get_ticket))
        .route("/api/tickets/{id}/act", post(api::act))
        .route("/api/tickets/{id}/review", post(api::review))
        .route("/api/tickets/{id}/progress", get(api::progress))
        .route("/api/line-test", get(api::line_test))
        .route("/api/review", get(api::review_queue))
        .route("/api/alerts", get(api::alerts))
        .route("/api/voicemails", get(api::voicemails))
        .route("/api/voicemails/{id}/claim", post(api::claim))
        .route("/api/voicemails/{id}/convert", post(api::convert))
        .route("/api/voicemails/{id}/escalate", post(api::escalate))
        .route("/voicemails/{id}/audio", get(api::audio))
        .route("/api/wallboard", get(api::wallboard))
        .route("/api/intake", get(api::inbox))
        .route("/api/intake/{id}/enter", post(api::enter_document))
        .route("/api/intake/{id}/pass", post(api::pass_document))
        .route("/intake/{id}/original", get(api::original))
        .route("/api/surveys", get(api::survey_work))
        .route("/api/surveys/{ticket}/callback", post(api::record_callback))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(web)
}
