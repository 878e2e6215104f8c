//! `/metrics`: the core's Prometheus families, kept in a `prometheus-client` [`Registry`] and
//! encoded as OpenMetrics text.
//!
//! - Counters (`*_total`) count events as they happen in this process: calls leaving the agent
//!   queue by outcome, offers by outcome, no-answers per agent. Two counters read from the
//!   database at scrape time are monotonic there (rows are never deleted): deadline alerts
//!   raised and outbox messages delivered.
//! - Histograms (`*_seconds`): queue wait (join → connect / abandon / voicemail), ring time
//!   (offer → answer / no-answer / failure / caller gone), CreateTicket latency (request →
//!   reply, measured by a tower layer), 112 delivery latency (outbox row committed → the
//!   centre's 2xx). The call server's call-setup histogram and live-calls gauge are registered
//!   into the same registry by the binary ([`SharedRegistry`]).
//! - Gauges for what is live: callers waiting, agents by presence, the outbox backlog, the store
//!   being reachable, and the service level / JO2 offer answer rate of the current 15-minute
//!   interval and of today (Beijing time), computed from the stored queue log at scrape time.
//!
//! Invariant: nothing here decides anything; the ACD and the desk call `observe_*`.

use crate::acd::AcdHandle;
use crate::desk::Desk;
use hotline_acd::{QueueEvent, QueueLogEntry, SlRules};
use hotline_domain::order::OutboxKind;
use hotline_domain::role::Presence;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{BoxFuture, Service};

/// The content type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry `/metrics` encodes, shared with whoever registers more families into it
/// (the binary passes it to the call server).
#[derive(Clone, Debug, Default)]
pub struct SharedRegistry(Arc<Mutex<Registry>>);

impl SharedRegistry {
    /// Registers into the registry (at start-up).
    pub fn with<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut r)
    }

    /// OpenMetrics text of everything registered.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r)?;
        Ok(out)
    }
}

type Labels1 = [(&'static str, &'static str); 1];
type Owned1 = [(&'static str, String); 1];
type FloatGauge = Gauge<f64, AtomicU64>;

/// Queue-wait buckets (seconds): around the 15 s service level, up to the 180 s maximum wait.
const WAIT_BUCKETS: [f64; 13] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0,
];
/// Ring-time buckets (seconds): the 15 s answer limit (JO2) in the middle.
const RING_BUCKETS: [f64; 10] = [1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0];
/// Request latency buckets (seconds).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// 112 delivery buckets (seconds): retries with backoff stretch this to minutes.
const DELIVERY_BUCKETS: [f64; 13] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The core's families. Cheap to clone (all handles to shared atomics).
#[derive(Clone, Debug)]
pub struct CoreMetrics {
    /// Callers who joined the agent queue.
    pub queue_joined: Counter,
    /// Calls that left the queue, by outcome.
    pub queue_calls: Family<Labels1, Counter>,
    /// Offers that ended, by outcome.
    pub queue_offers: Family<Labels1, Counter>,
    pub queue_no_answers: Family<Owned1, Counter>,
    pub queue_wait: Family<Labels1, Histogram, fn() -> Histogram>,
    pub queue_ring: Family<Labels1, Histogram, fn() -> Histogram>,
    pub ticket_create: Histogram,
    pub delivery: Histogram,
    waiting: Gauge,
    queue_live: Family<Labels1, Gauge>,
    agents: Family<Labels1, Gauge>,
    outbox_backlog: Family<Owned1, Gauge>,
    store_up: Gauge,
    service_level: Family<Labels1, FloatGauge>,
    offer_answer_rate: Family<Labels1, FloatGauge>,
    db: Arc<DbCounters>,
}

const CALL_OUTCOMES: [&str; 5] = [
    "answered_in_time",
    "answered_late",
    "short_abandon",
    "abandon",
    "voicemail",
];
const OFFER_OUTCOMES: [&str; 5] = [
    "answered_in_time",
    "answered_late",
    "no_answer",
    "failed",
    "caller_left",
];

fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

fn ring_histogram() -> Histogram {
    Histogram::new(RING_BUCKETS)
}

impl CoreMetrics {
    /// Creates the families and registers them into `registry`.
    pub fn register(registry: &SharedRegistry) -> CoreMetrics {
        let m = CoreMetrics {
            queue_joined: Counter::default(),
            queue_calls: Family::default(),
            queue_offers: Family::default(),
            queue_no_answers: Family::default(),
            queue_wait: Family::new_with_constructor(wait_histogram as fn() -> Histogram),
            queue_ring: Family::new_with_constructor(ring_histogram as fn() -> Histogram),
            ticket_create: Histogram::new(LATENCY_BUCKETS),
            delivery: Histogram::new(DELIVERY_BUCKETS),
            waiting: Gauge::default(),
            queue_live: Family::default(),
            agents: Family::default(),
            outbox_backlog: Family::default(),
            store_up: Gauge::default(),
            service_level: Family::default(),
            offer_answer_rate: Family::default(),
            db: Arc::new(DbCounters::default()),
        };
        registry.with(|r| {
            r.register(
                "hotline_queue_joined",
                "Callers who joined the agent queue",
                m.queue_joined.clone(),
            );
            r.register(
                "hotline_queue_calls",
                "Calls that left the agent queue, by outcome: answered_in_time (within the service-level threshold of joining), answered_late, short_abandon (left out of the service level), abandon, voicemail",
                m.queue_calls.clone(),
            );
            r.register(
                "hotline_queue_offers",
                "Offers to agents that ended, by outcome: answered_in_time (before the JO2 answer limit of ringing ran out), answered_late, no_answer, failed (the phone refused or failed), caller_left",
                m.queue_offers.clone(),
            );
            r.register(
                "hotline_queue_no_answers",
                "No-answers and phone failures per agent",
                m.queue_no_answers.clone(),
            );
            r.register(
                "hotline_queue_wait_seconds",
                "Time from joining the agent queue to leaving it, by outcome (answered, abandoned, voicemail)",
                m.queue_wait.clone(),
            );
            r.register(
                "hotline_queue_ring_seconds",
                "Time an offer rang, by outcome (answered, no_answer, failed, caller_left)",
                m.queue_ring.clone(),
            );
            r.register(
                "hotline_ticket_create_seconds",
                "CreateTicket latency, request received to reply sent",
                m.ticket_create.clone(),
            );
            r.register(
                "hotline_center112_delivery_seconds",
                "112 delivery latency: outbox row committed to the centre's 2xx (retries included)",
                m.delivery.clone(),
            );
            r.register(
                "hotline_queue_waiting",
                "Callers waiting for an agent now",
                m.waiting.clone(),
            );
            r.register(
                "hotline_queue_live_calls",
                "Calls in the agent queue now, by state (waiting, offered, connected), whatever front end (SIP or FastAGI) holds them",
                m.queue_live.clone(),
            );
            r.register(
                "hotline_agents",
                "Agents taking calls, by presence",
                m.agents.clone(),
            );
            r.register(
                "hotline_center112_outbox_backlog",
                "Messages to the 112 centre not delivered yet, by kind (dispatch, follow_up, cancellation, urge = 催单)",
                m.outbox_backlog.clone(),
            );
            r.register(
                "hotline_store_up",
                "1 when the database answered the last scrape",
                m.store_up.clone(),
            );
            r.register(
                "hotline_queue_service_level_ratio",
                "15秒接听率: calls answered within the threshold of joining the queue / calls that joined (short abandons left out), for the current 15-minute interval and today (Beijing time); absent without calls",
                m.service_level.clone(),
            );
            r.register(
                "hotline_queue_offer_answer_ratio",
                "JO2: offers answered within the answer limit of ringing / offers made (caller-gone offers left out), for the current 15-minute interval and today (Beijing time); absent without offers",
                m.offer_answer_rate.clone(),
            );
            r.register_collector(Box::new(m.db.clone()));
        });
        // every known series exists from the start (at 0), so rates and ratios have both sides
        for o in CALL_OUTCOMES {
            let _ = m.queue_calls.get_or_create(&[("outcome", o)]);
        }
        for o in OFFER_OUTCOMES {
            let _ = m.queue_offers.get_or_create(&[("outcome", o)]);
        }
        for o in ["answered", "abandoned", "voicemail"] {
            let _ = m.queue_wait.get_or_create(&[("outcome", o)]);
        }
        for o in ["answered", "no_answer", "failed", "caller_left"] {
            let _ = m.queue_ring.get_or_create(&[("outcome", o)]);
        }
        for k in OutboxKind::ALL {
            let _ = m
                .outbox_backlog
                .get_or_create(&[("kind", k.as_str().to_string())]);
        }
        m
    }

    /// Counts one queue-log entry as the ACD writes it. `watch` keeps what the entries do not
    /// carry at full precision (when each call joined, when its current offer started).
    pub(crate) fn observe_queue(&self, watch: &mut QueueWatch, rules: SlRules, e: &QueueLogEntry) {
        let t = e.at_ms;
        let secs = |ms: i64| ms.max(0) as f64 / 1000.0;
        let data_ms = |i: usize| e.data[i].trim().parse::<i64>().unwrap_or(0);
        match e.event {
            QueueEvent::EnterQueue => {
                self.queue_joined.inc();
                watch.joined.insert(e.call_id.clone(), t);
            }
            QueueEvent::Connect => {
                if let Some(joined) = watch.joined.remove(&e.call_id) {
                    let hold = t - joined;
                    self.queue_wait
                        .get_or_create(&[("outcome", "answered")])
                        .observe(secs(hold));
                    let outcome = if hold <= rules.service_level_ms {
                        "answered_in_time"
                    } else {
                        "answered_late"
                    };
                    self.queue_calls
                        .get_or_create(&[("outcome", outcome)])
                        .inc();
                }
                let ring = watch
                    .offered
                    .remove(&e.call_id)
                    .map(|at| t - at)
                    .unwrap_or_else(|| data_ms(2).saturating_mul(1000));
                self.queue_ring
                    .get_or_create(&[("outcome", "answered")])
                    .observe(secs(ring));
                // before the limit ran out (the ACD withdraws the offer at the limit)
                let outcome = if ring < rules.answer_limit_ms {
                    "answered_in_time"
                } else {
                    "answered_late"
                };
                self.queue_offers
                    .get_or_create(&[("outcome", outcome)])
                    .inc();
            }
            QueueEvent::Abandon => {
                if let Some(joined) = watch.joined.remove(&e.call_id) {
                    let hold = t - joined;
                    self.queue_wait
                        .get_or_create(&[("outcome", "abandoned")])
                        .observe(secs(hold));
                    let outcome = if rules.short_abandon_ms > 0 && hold <= rules.short_abandon_ms {
                        "short_abandon"
                    } else {
                        "abandon"
                    };
                    self.queue_calls
                        .get_or_create(&[("outcome", outcome)])
                        .inc();
                }
                watch.offered.remove(&e.call_id);
                if !e.agent.is_empty() {
                    self.queue_ring
                        .get_or_create(&[("outcome", "caller_left")])
                        .observe(secs(data_ms(0)));
                    self.queue_offers
                        .get_or_create(&[("outcome", "caller_left")])
                        .inc();
                }
            }
            QueueEvent::ExitWithTimeout | QueueEvent::ExitEmpty => {
                watch.offered.remove(&e.call_id);
                if let Some(joined) = watch.joined.remove(&e.call_id) {
                    self.queue_wait
                        .get_or_create(&[("outcome", "voicemail")])
                        .observe(secs(t - joined));
                    self.queue_calls
                        .get_or_create(&[("outcome", "voicemail")])
                        .inc();
                }
            }
            QueueEvent::RingNoAnswer | QueueEvent::RingCanceled => {
                let outcome = if e.event == QueueEvent::RingNoAnswer {
                    "no_answer"
                } else {
                    "failed"
                };
                self.queue_ring
                    .get_or_create(&[("outcome", outcome)])
                    .observe(secs(data_ms(0)));
                self.queue_offers
                    .get_or_create(&[("outcome", outcome)])
                    .inc();
                self.queue_no_answers
                    .get_or_create(&[("agent", e.agent.clone())])
                    .inc();
            }
            QueueEvent::CompleteCaller | QueueEvent::CompleteAgent | QueueEvent::AgentNotReady => {}
        }
    }

    /// Reads what lives in the database and the queue into the gauges and DB counters, then
    /// encodes the registry. A store that does not answer leaves its families empty and
    /// `hotline_store_up` 0.
    pub async fn scrape(
        &self,
        registry: &SharedRegistry,
        desk: &Desk,
        acd: &AcdHandle,
    ) -> Result<String, std::fmt::Error> {
        self.waiting.set(acd.waiting() as i64);
        let live = acd.list();
        for state in crate::acd::QueueCallState::ALL {
            let n = live.iter().filter(|c| c.state == state).count();
            self.queue_live
                .get_or_create(&[("state", state.as_str())])
                .set(n as i64);
        }
        let mut up = true;
        match desk.store.alert_counts().await {
            Ok(rows) => self.db.set_alerts(rows),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: store unavailable");
                up = false;
            }
        }
        match desk.store.outbox_counts().await {
            Ok(rows) => {
                for k in OutboxKind::ALL {
                    self.outbox_backlog
                        .get_or_create(&[("kind", k.as_str().to_string())])
                        .set(0);
                }
                for (kind, _, pending) in &rows {
                    self.outbox_backlog
                        .get_or_create(&[("kind", kind.as_str().to_string())])
                        .set(*pending);
                }
                self.db.set_delivered(rows);
            }
            Err(_) => up = false,
        }
        match desk.store.list_agents().await {
            Ok(agents) => {
                let ids: Vec<String> = agents.into_iter().map(|a| a.agent_id).collect();
                let counts = acd.presence_counts(&ids);
                for p in Presence::ALL {
                    self.agents
                        .get_or_create(&[("presence", p.as_str())])
                        .set(counts.get(&p).copied().unwrap_or(0) as i64);
                }
            }
            Err(_) => up = false,
        }
        // the service level of the current interval and of today, from the stored log
        let now = desk.clock.now().0;
        let window = hotline_acd::Window::beijing(0, now + 1);
        let day_start = window.period_start(now, hotline_acd::metrics::DAY_MS);
        self.service_level.clear();
        self.offer_answer_rate.clear();
        match desk
            .queue_metrics(
                acd,
                hotline_domain::Timestamp(day_start),
                hotline_domain::Timestamp(now + 1),
            )
            .await
        {
            Ok(m) => {
                let interval = hotline_acd::Metrics::period_at(&m.intervals, now);
                for (period, f) in [("interval", interval), ("day", Some(&m.total))] {
                    let Some(f) = f else { continue };
                    if let Some(v) = f.service_level() {
                        self.service_level
                            .get_or_create(&[("period", period)])
                            .set(v);
                    }
                    if let Some(v) = f.offer_answer_rate() {
                        self.offer_answer_rate
                            .get_or_create(&[("period", period)])
                            .set(v);
                    }
                }
            }
            Err(_) => up = false,
        }
        self.store_up.set(i64::from(up));
        registry.encode()
    }
}

/// What the ACD's log lines do not carry at full precision, per call in the queue.
#[derive(Debug, Default)]
pub(crate) struct QueueWatch {
    joined: HashMap<String, i64>,
    offered: HashMap<String, i64>,
}

impl QueueWatch {
    /// An offer of `call` started at `at` (ms).
    pub(crate) fn offered(&mut self, call: &str, at: i64) {
        self.offered.insert(call.to_string(), at);
    }
}

/// Counters kept in the database, monotonic there: read at each scrape, encoded as counters.
#[derive(Debug, Default)]
struct DbCounters {
    /// (deadline kind, level) → alerts raised.
    alerts: Mutex<Vec<(String, String, u64)>>,
    /// kind → outbox messages delivered.
    delivered: Mutex<Vec<(String, u64)>>,
}

impl DbCounters {
    fn set_alerts(&self, rows: Vec<(String, String, i64)>) {
        *self.alerts.lock().unwrap_or_else(|p| p.into_inner()) = rows
            .into_iter()
            .map(|(k, l, n)| (k, l, n.max(0) as u64))
            .collect();
    }

    fn set_delivered(&self, rows: Vec<(OutboxKind, i64, i64)>) {
        *self.delivered.lock().unwrap_or_else(|p| p.into_inner()) = rows
            .into_iter()
            .map(|(k, d, _)| (k.as_str().to_string(), d.max(0) as u64))
            .collect();
    }
}

impl prometheus_client::collector::Collector for DbCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let alerts = self
            .alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut fam = encoder.encode_descriptor(
            "hotline_deadline_alerts",
            "Deadline alerts raised (warning = 预警, breach = 超时), as recorded in the database.",
            None,
            MetricType::Counter,
        )?;
        for (kind, level, n) in &alerts {
            let labels = [("kind", kind.as_str()), ("level", level.as_str())];
            ConstCounter::new(*n).encode(fam.encode_family(&labels)?)?;
        }
        let delivered = self
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut fam = encoder.encode_descriptor(
            "hotline_center112_outbox_delivered",
            "Messages delivered to the 112 centre, by kind, as recorded in the database.",
            None,
            MetricType::Counter,
        )?;
        for (kind, n) in &delivered {
            let labels = [("kind", kind.as_str())];
            ConstCounter::new(*n).encode(fam.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The tower layer timing `TicketService/CreateTicket` from request to reply.
#[derive(Clone)]
pub struct TimingLayer {
    create: Histogram,
}

impl TimingLayer {
    pub fn new(m: &CoreMetrics) -> Self {
        TimingLayer {
            create: m.ticket_create.clone(),
        }
    }
}

impl<S> tower_layer::Layer<S> for TimingLayer {
    type Service = Timing<S>;
    fn layer(&self, inner: S) -> Timing<S> {
        Timing {
            inner,
            create: self.create.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Timing<S> {
    inner: S,
    create: Histogram,
}

const CREATE_TICKET: &str = "/hotline.v1.TicketService/CreateTicket";

impl<S, B, RB> Service<Request<B>> for Timing<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // the clone that was polled ready serves this request
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let timed = (req.uri().path() == CREATE_TICKET).then(|| self.create.clone());
        Box::pin(async move {
            let start = Instant::now();
            let r = inner.call(req).await;
            // a unary reply is complete when its response is: the body is one message
            if let Some(h) = timed {
                h.observe(start.elapsed().as_secs_f64());
            }
            r
        })
    }
}
