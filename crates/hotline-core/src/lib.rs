//! The desk's core: the only owner of state and rules.
//!
//! Layout:
//! - [`desk`]: the operations, one file per concern (tickets, tasks, voicemail, agents, alerts,
//!   queue), written against the domain and the store; no protobuf here.
//! - [`acd`]: the agent queue at run time (JO2): the pure `hotline_acd` machine behind a lock,
//!   instruction streams for the call server, screen pops, the stored queue log.
//! - [`auth`]: agents, argon2 password hashes, bearer tokens (hashed in the store, cached).
//! - [`authorize`]: the tower layer that authenticates every gRPC call and checks it against
//!   the permission matrix (`hotline_domain::permissions`), once, before any handler.
//! - [`events`]: the live event bus (alerts, review requests, ticket changes) with role filters.
//! - [`reconcile`]: polls the 112 centre for dispatches whose status went quiet (lost events).
//! - [`scheduler`]: raises warnings and breaches when deadlines come due; state in the database.
//! - [`error`]: `CoreError` and the one mapping to a gRPC status (`From<CoreError> for Status`).
//! - [`convert`]: domain ↔ protobuf, the only place that knows both.
//! - [`grpc`]: the tonic services; each handler takes the checked caller, validates, calls the
//!   desk, and ends with `?`. No handler touches the store.
//! - [`metrics`]: the `/metrics` families (prometheus-client): live counters, histograms in
//!   seconds, gauges read at scrape time, the CreateTicket timing layer.
//! - [`server`]: wiring: gRPC with health and reflection, the HTTP side, shutdown.
//! - [`clock`]: the injected clock.

pub mod acd;
pub mod auth;
pub mod authorize;
pub mod clock;
pub mod convert;
pub mod delivery;
pub mod desk;
pub mod error;
pub mod events;
pub mod grpc;
pub mod metrics;
pub mod reconcile;
pub mod scheduler;
pub mod server;

pub use clock::{Clock, SystemClock};
pub use desk::Desk;
pub use error::{CoreError, to_status};
pub use server::{CoreConfig, serve};
