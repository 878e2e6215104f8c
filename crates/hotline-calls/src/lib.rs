//! hotline-calls: the call server of the 112 hotline. It joins the SIP stack
//! (`hotline-sip`), RTP media (`hotline-media`) and the IVR flows (`hotline-ivr`): every
//! INVITE gets a media leg and a [`SipChannel`], the flows run on it and reach the core over
//! gRPC, callers who want an agent go to an [`AgentQueue`].
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`channel`] | [`SipChannel`]: `hotline_ivr::Channel` over one dialog + one `MediaLeg`; SIP INFO keys, re-INVITE answers, BYE/no RTP → hang-up |
//! | [`server`] | [`CallServer`]: start-up checks, SIP driver, per-call tasks, event routing, clean shutdown |
//! | [`router`] | [`router::Router`]: call handle → the task that owns the call (incoming and outgoing) |
//! | [`queue`] | [`AgentQueue`] (what `ToAgent` becomes), [`CallContext`], [`VoicemailFallback`] |
//! | [`grpc_queue`] | [`GrpcQueue`]: the agent queue in the core (`QueueService`): hold announcements, ring the agent's softphone, bridge |
//! | [`voicemail`] | markers beside recordings in flight, [`voicemail::MarkingBackend`], the start-up [`voicemail::sweep`] |
//! | [`settings`] | [`SipSettings`]: `[sip]` and `serve`'s telephone flags (feature `cli`), one typed declaration per key, applied to a [`CallServerConfig`] |
//! | [`metrics`] | [`metrics::CallMetrics`]: call setup time (INVITE → 200 OK) and live calls, registered into the registry the binary passes in |
//! | [`outbound`] | automated survey calls: claim from the core, call through the trunk (digest auth), ask 1/2/3 (9 = a person), report; backoff on trunk failures |
//! | [`dialer`] | a scripted caller (our UAC + a media leg sending RFC 4733 keys): `hotline demo` and tests |
//!
//! # Choices
//!
//! - One task per call runs the flow; one signalling task per call handles SIP meanwhile
//!   (INFO keys, re-INVITEs are answered at once even while the flow waits on the core).
//! - A call's end is one `CancellationToken` (`gone`), which is also its leg's shutdown
//!   token: cancelling it closes the leg, which ends whatever media operation is pending.
//!   Server shutdown cancels the parent of every call's token.
//! - The IVR reaches the core only through `hotline_ivr::Backend` (gRPC in `hotline serve`,
//!   even in one process).
//! - No message is lost: a marker file is written before a recording starts and removed
//!   only once the core has registered the message; the start-up sweep repairs and registers
//!   what a crash left.

pub mod channel;
pub mod dialer;
pub mod grpc_queue;
pub mod metrics;
pub mod outbound;
pub mod qa_upload;
pub mod queue;
pub mod router;
pub mod server;
pub mod settings;
pub mod voicemail;

pub use channel::SipChannel;
pub use grpc_queue::GrpcQueue;
pub use metrics::CallMetrics;
pub use queue::{AgentQueue, AgentRequest, CallContext, VoicemailFallback};
pub use server::{CallServer, CallServerConfig, CallSummary, StartError};
pub use settings::{SipAgent, SipSettings};
