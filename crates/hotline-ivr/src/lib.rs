//! hotline-ivr: the call flows of the 112 hotline (电话障碍申告), written against a small
//! [`Channel`] trait so they know nothing of SIP, RTP or FastAGI, and reaching the core only
//! through the [`Backend`] trait (gRPC in production, fakes in tests).
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`channel`] | [`Channel`]: answer, play with barge-in, collect digits, record, hang up; [`ChannelError::Hangup`] is a normal end |
//! | [`backend`] | [`Backend`]: create a report, latest ticket of a number, agents logged in, register a voicemail |
//! | [`grpc_backend`] | [`GrpcBackend`]: `Backend` over `hotline.v1` as a `system` service account (the only protobuf here) |
//! | [`flows`] | [`flows::run_call`] and one file per flow → [`FlowOutcome`] |
//! | [`prompts`] | `prompts/prompts.toml` catalog, the ids flows use, [`check_prompts`], number reading |
//! | [`start`] | [`prepare`]: validate the config, load the catalog, [`check_prompts`]; refuse to start naming the problem |
//! | [`config`] | [`IvrConfig`]: timeouts, retries, voicemail limits, [`config::ServiceHours`] calendar |
//! | `testing` | (feature `testing`, for tests only) `ScriptedChannel`, `FakeBackend`: flows tested without sockets |
//!
//! # Choices
//!
//! - `Channel` has no "bridge to agent": a flow ends with [`FlowOutcome::ToAgent`] and the
//!   glue queues the call in the core's ACD, plays [`flows::agent::hold_prompts`] while it
//!   waits and bridges the media; the flows stay free of queue and SIP state.
//! - A caller hanging up is `Err(ChannelError::Hangup)` from the channel and
//!   `Ok(FlowOutcome::CallerHungUp)` from [`flows::run_call`]: never logged as a failure.
//! - Barge-in: a channel interrupts only on keys pressed while it plays; the flows skip
//!   their own skippable prompts when a key is already waiting ([`flows::Flow::prompt`]).
//! - A report is created only after the number is confirmed and the fault type chosen.
//! - Voicemail is registered by file name (`VoicemailService.CreateVoicemail`): the IVR's
//!   `voicemail_dir` must be the core's voicemail directory.
//! - `tests/core_e2e.rs` runs the real `hotline-core` in-process; it is a dev-dependency
//!   only, the library reaches the core over gRPC alone.
//!
//! # Start-up and a call
//!
//! ```no_run
//! # async fn start(ch: &mut dyn hotline_ivr::Channel, backend: &dyn hotline_ivr::Backend)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use hotline_ivr::{IvrConfig, flows::run_call};
//! let cfg = IvrConfig::default();
//! // Refuses to start naming a missing prompt or a bad setting.
//! let catalog = hotline_ivr::prepare("prompts/prompts.toml".as_ref(), &cfg)?;
//! let outcome = run_call(ch, backend, &cfg, time::OffsetDateTime::now_utc()).await?;
//! # let _ = (outcome, catalog); Ok(()) }
//! ```

pub mod backend;
pub mod channel;
pub mod config;
pub mod flows;
pub mod grpc_backend;
pub mod prompts;
pub mod start;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use backend::{
    Backend, BackendError, FaultType, NewReport, NewVoicemail, Progress, ReportCreated, TicketState,
};
pub use channel::{
    Channel, ChannelError, CollectEnd, CollectSpec, Collected, PlayOutcome, RecordEnd,
    RecordOutcome, RecordSpec,
};
pub use config::IvrConfig;
pub use flows::{FlowError, FlowOutcome};
pub use grpc_backend::GrpcBackend;
pub use prompts::{MissingPrompt, PromptCatalog, check_prompts};
pub use start::{StartError, prepare};
