//! Shared helpers of the contract tests: a simulator with an `HttpCenter` client, orders, an
//! event receiver that verifies signatures, and polling.

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use center112_sim::{RunningSim, SimConfig, Simulator};
use hotline_center112::HttpCenter;
use hotline_center112::signature::{self, SignatureError};
use hotline_center112::wire::{
    Characteristic, Event, ExternalIdentifier, Note, SIGNATURE_HEADER, TroubleTicketCreate,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SECRET: &str = "test-secret";

pub fn config() -> SimConfig {
    SimConfig {
        secret: SECRET.into(),
        progress_after: Duration::from_millis(40),
        resolve_after: Duration::from_millis(80),
        event_backoff: Duration::from_millis(20),
        ..SimConfig::default()
    }
}

/// A config whose tickets stay `acknowledged` for the whole test.
pub fn slow_config() -> SimConfig {
    SimConfig {
        progress_after: Duration::from_secs(600),
        resolve_after: Duration::from_secs(600),
        ..config()
    }
}

pub async fn start(cfg: SimConfig) -> (RunningSim, HttpCenter) {
    let sim = Simulator::start(cfg).await.expect("simulator starts");
    let center = HttpCenter::new(sim.base_url(), Duration::from_secs(5)).expect("client");
    (sim, center)
}

pub fn order(external_id: &str, number: &str) -> TroubleTicketCreate {
    TroubleTicketCreate {
        external_identifier: vec![ExternalIdentifier {
            id: external_id.into(),
            external_identifier_type: "hotlineOrder".into(),
            owner: "hotline".into(),
        }],
        name: format!("障碍申告 {number}"),
        description: "电话无拨号音".into(),
        severity: "Major".into(),
        priority: "3".into(),
        ticket_type: "lineFault".into(),
        characteristic: vec![
            Characteristic {
                name: "faultyNumber".into(),
                value: number.into(),
            },
            Characteristic {
                name: "faultType".into(),
                value: "noDialTone".into(),
            },
        ],
        note: vec![],
    }
}

pub fn note(id: &str, kind: &str, text: &str) -> Note {
    Note {
        id: id.into(),
        author: "hotline".into(),
        date: String::new(),
        text: text.into(),
        kind: kind.into(),
    }
}

/// Polls `f` every 10 ms until it holds or `within` has passed.
pub async fn until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the receiver saw: the event (if it parsed) and the signature check.
#[derive(Clone, Debug)]
pub struct Received {
    pub event: Event,
    pub signature: Result<(), SignatureError>,
    pub body: Vec<u8>,
    pub header: Option<String>,
}

#[derive(Clone)]
struct RxState {
    got: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<AtomicU32>,
    refused: Arc<AtomicU32>,
}

/// A small HTTP receiver of events, standing in for the hotline's listener.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    refused: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answers the first `refuse_first` POSTs with 500.
    pub async fn start(refuse_first: u32) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let refused: Arc<AtomicU32> = Arc::default();
        let state = RxState {
            got: got.clone(),
            refuse: Arc::new(AtomicU32::new(refuse_first)),
            refused: refused.clone(),
        };
        let app = axum::Router::new()
            .route("/events", axum::routing::post(take))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/events", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url,
            got,
            refused,
            task,
        }
    }

    pub fn events(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn refused(&self) -> u32 {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn take(State(s): State<RxState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if s.refuse.load(Ordering::SeqCst) > 0 {
        s.refuse.fetch_sub(1, Ordering::SeqCst);
        s.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let signature = signature::verify(SECRET.as_bytes(), &body, header.as_deref());
    let Ok(event) = serde_json::from_slice::<Event>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    s.got.lock().unwrap().push(Received {
        event,
        signature,
        body: body.to_vec(),
        header,
    });
    StatusCode::OK
}
