//! The [`Center112`] trait (what the centre offers) and [`HttpCenter`], its HTTP/JSON client.
//! Errors say whether a retry can help: the outbox retries `Unavailable` and `Server` with
//! backoff and parks `Rejected` for a person to look at.

use crate::wire::{
    CancelRefused, HubSubscription, IDEMPOTENCY_HEADER, LineTest, LineTestRequest, Note, Status,
    TroubleTicket, TroubleTicketCreate, TroubleTicketPatch,
};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CenterError {
    /// Could not connect, timed out, or the reply was lost: retry.
    #[error("the 112 centre is unreachable: {0}")]
    Unavailable(String),
    /// 5xx or 429: retry.
    #[error("the 112 centre failed ({status}): {body}")]
    Server { status: u16, body: String },
    /// 4xx other than 404/409/429: retrying the same request will not help.
    #[error("the 112 centre rejected the request ({status}): {body}")]
    Rejected { status: u16, body: String },
    #[error("the 112 centre has no trouble ticket {0}")]
    NotFound(String),
    /// The centre refused a cancellation (退单被拒).
    #[error("the 112 centre refused the cancellation: {0}")]
    CancelRefused(String),
    /// The centre answered something we cannot read.
    #[error("unreadable answer from the 112 centre: {0}")]
    Protocol(String),
}

impl CenterError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CenterError::Unavailable(_) | CenterError::Server { .. }
        )
    }
}

/// Outcome of a dispatch: whether this call created the centre's ticket or found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatched {
    pub ticket: TroubleTicket,
    /// `false` when the centre already had a ticket for this external identifier (a retry).
    pub created: bool,
}

#[async_trait::async_trait]
pub trait Center112: Send + Sync + 'static {
    /// 派单 (and 二次派单). `idempotency_key` is sent as a header; the centre also
    /// deduplicates on the external identifier.
    async fn dispatch(
        &self,
        order: &TroubleTicketCreate,
        idempotency_key: &str,
    ) -> Result<Dispatched, CenterError>;
    /// 追单, 催单, the written warning: add a note (idempotent by note id), maybe raise priority.
    async fn add_note(
        &self,
        id: &str,
        note: Note,
        priority: Option<String>,
    ) -> Result<TroubleTicket, CenterError>;
    /// 退单.
    async fn cancel(&self, id: &str, reason: &str) -> Result<TroubleTicket, CenterError>;
    /// 查询112进程.
    async fn get(&self, id: &str) -> Result<TroubleTicket, CenterError>;
    /// 人工测试.
    async fn line_test(&self, number: &str) -> Result<LineTest, CenterError>;
    /// Subscribes `callback` to the centre's events.
    async fn subscribe(&self, callback: &str) -> Result<HubSubscription, CenterError>;
}

/// The HTTP client. `base` is the API root, e.g.
/// `http://127.0.0.1:8112/tmf-api/troubleTicketManagement/v4` (the simulator's).
#[derive(Clone)]
pub struct HttpCenter {
    base: String,
    http: reqwest::Client,
}

impl HttpCenter {
    pub fn new(base: impl Into<String>, timeout: Duration) -> Result<Self, CenterError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| CenterError::Protocol(e.to_string()))?;
        Ok(HttpCenter {
            base: base.into().trim_end_matches('/').to_string(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, bytes_body::Body), CenterError> {
        let resp = req
            .send()
            .await
            .map_err(|e| CenterError::Unavailable(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| CenterError::Unavailable(e.to_string()))?;
        Ok((status, bytes_body::Body(body.to_vec())))
    }
}

mod bytes_body {
    pub struct Body(pub Vec<u8>);
    impl Body {
        pub fn text(&self) -> String {
            let s = String::from_utf8_lossy(&self.0);
            s.chars().take(500).collect()
        }
    }
}

fn classify(status: u16, body: &bytes_body::Body, what: &str) -> CenterError {
    match status {
        404 => CenterError::NotFound(what.to_string()),
        429 | 500..=599 => CenterError::Server {
            status,
            body: body.text(),
        },
        _ => CenterError::Rejected {
            status,
            body: body.text(),
        },
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &bytes_body::Body) -> Result<T, CenterError> {
    serde_json::from_slice(&body.0).map_err(|e| CenterError::Protocol(e.to_string()))
}

/// Trouble-ticket ids are opaque to us but go into a URL path: refuse anything odd.
fn check_id(id: &str) -> Result<(), CenterError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CenterError::Protocol(format!(
            "invalid trouble ticket id {id:?}"
        )));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Center112 for HttpCenter {
    async fn dispatch(
        &self,
        order: &TroubleTicketCreate,
        idempotency_key: &str,
    ) -> Result<Dispatched, CenterError> {
        let (status, body) = self
            .send(
                self.http
                    .post(self.url("/troubleTicket"))
                    .header(IDEMPOTENCY_HEADER, idempotency_key)
                    .json(order),
            )
            .await?;
        match status {
            200 | 201 => Ok(Dispatched {
                ticket: parse(&body)?,
                created: status == 201,
            }),
            _ => Err(classify(status, &body, "troubleTicket")),
        }
    }

    async fn add_note(
        &self,
        id: &str,
        note: Note,
        priority: Option<String>,
    ) -> Result<TroubleTicket, CenterError> {
        check_id(id)?;
        let patch = TroubleTicketPatch {
            note: vec![note],
            priority,
            ..Default::default()
        };
        let (status, body) = self
            .send(
                self.http
                    .patch(self.url(&format!("/troubleTicket/{id}")))
                    .header("content-type", "application/merge-patch+json")
                    .body(
                        serde_json::to_vec(&patch)
                            .map_err(|e| CenterError::Protocol(e.to_string()))?,
                    ),
            )
            .await?;
        match status {
            200 => parse(&body),
            _ => Err(classify(status, &body, id)),
        }
    }

    async fn cancel(&self, id: &str, reason: &str) -> Result<TroubleTicket, CenterError> {
        check_id(id)?;
        let patch = TroubleTicketPatch {
            status: Some(Status::Cancelled),
            status_change_reason: Some(reason.to_string()),
            ..Default::default()
        };
        let (status, body) = self
            .send(
                self.http
                    .patch(self.url(&format!("/troubleTicket/{id}")))
                    .header("content-type", "application/merge-patch+json")
                    .body(
                        serde_json::to_vec(&patch)
                            .map_err(|e| CenterError::Protocol(e.to_string()))?,
                    ),
            )
            .await?;
        match status {
            200 => parse(&body),
            409 => {
                let refused: CancelRefused = parse(&body)?;
                Err(CenterError::CancelRefused(refused.reason))
            }
            _ => Err(classify(status, &body, id)),
        }
    }

    async fn get(&self, id: &str) -> Result<TroubleTicket, CenterError> {
        check_id(id)?;
        let (status, body) = self
            .send(self.http.get(self.url(&format!("/troubleTicket/{id}"))))
            .await?;
        match status {
            200 => parse(&body),
            _ => Err(classify(status, &body, id)),
        }
    }

    async fn line_test(&self, number: &str) -> Result<LineTest, CenterError> {
        let req = LineTestRequest {
            line_number: number.to_string(),
        };
        let (status, body) = self
            .send(self.http.post(self.url("/lineTest")).json(&req))
            .await?;
        match status {
            200 | 201 => parse(&body),
            _ => Err(classify(status, &body, "lineTest")),
        }
    }

    async fn subscribe(&self, callback: &str) -> Result<HubSubscription, CenterError> {
        let req = HubSubscription {
            id: String::new(),
            callback: callback.to_string(),
            query: String::new(),
        };
        let (status, body) = self
            .send(self.http.post(self.url("/hub")).json(&req))
            .await?;
        match status {
            200 | 201 => parse(&body),
            _ => Err(classify(status, &body, "hub")),
        }
    }
}
