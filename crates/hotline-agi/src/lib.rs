//! hotline-agi: the FastAGI front end of the 112 hotline. Behind an Asterisk PBX whose
//! dialplan says `AGI(agi://hotline-host:4573/hotline)`, the IVR's flows (`hotline-ivr`) run
//! unchanged over an [`AgiChannel`] and create the same tickets as over native SIP; callers
//! who ask for an agent join the core's queue and are rung through `EXEC Dial`.
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`proto`] | sans-I/O protocol core: line framing (8 KiB limit), the `agi_*` header block, command encoding and quoting, replies (`200`, `510`, `511`, `520-` block, `HANGUP`) |
//! | [`channel`] | [`AgiChannel`]: `hotline_ivr::Channel` over one session (STREAM FILE, GET DATA, WAIT FOR DIGIT, SAY DIGITS, RECORD FILE, ...) |
//! | [`session`] | one connection: header with a deadline, script dispatch, the end-of-session log line |
//! | [`server`] | [`AgiServer`]: the listener, one task per session, session limit, clean shutdown |
//! | [`queue`] | [`queue::AgiQueue`]: the core's agent queue carried out with `EXEC Dial` + `DIALSTATUS`, the answer hook |
//! | [`core_queue`] | [`core_queue::QueueCore`] and its gRPC implementation (the only protobuf here) |
//! | [`config`] | `[agi]` settings, the prompt map (ids → `hotline/<stem>`), the shared recording directory |
//! | [`stats`] | server-side command turnaround histogram |
//!
//! # Choices
//!
//! - The protocol core never touches a socket or a clock; the channel is generic over the
//!   byte stream, so its tests run over `tokio::io::duplex` with a scripted Asterisk.
//! - `result` stays a string end to end: GET DATA digit strings keep leading zeros and `*`.
//! - Every wait is bounded: the header block by `header_timeout_ms`, each command by its own
//!   length plus `command_timeout_ms`; a peer that breaks the protocol ends its session only.
//! - Voicemail: Asterisk records into the core's voicemail directory through a shared mount
//!   (`asterisk_recording_dir` is its path there); the file is checked on our side before
//!   the flow registers it.

pub mod channel;
pub mod config;
pub mod core_queue;
pub mod proto;
pub mod queue;
pub mod server;
pub mod session;
pub mod stats;

pub use channel::{AgiChannel, AgiError, ChannelSettings};
pub use config::{AgiConfig, PromptMap, ReadBack, RecordingPaths};
pub use core_queue::{GrpcQueueCore, QueueCore};
pub use server::AgiServer;
pub use session::AgiContext;
