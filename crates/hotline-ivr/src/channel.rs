//! The `Channel` trait: everything a call flow may do to a call, and nothing about how
//! (SIP+RTP natively, FastAGI later). Modelled on Asterisk's channel-independent applications.
//!
//! # Implementing it over `hotline-sip` + `hotline-media`
//!
//! One `Channel` per answered INVITE, owning the dialog handle and the `MediaLeg`:
//! - `call_id`/`caller_id`: the Call-ID and the From user part (digits; empty if withheld).
//! - `answer`: send 200 OK with `MediaLeg::local_sdp_answer(offer)`; a no-op the second time.
//! - `play(ids, barge_in)`: ids → `PromptCache::get(id)` (a cache over the directory of the
//!   catalog's files, checked at start-up by `check_prompts`; a load error →
//!   [`ChannelError::Prompt`]) → `MediaLeg::play(&prompts, barge_in)`. `Completed` and
//!   `Interrupted(k)` map one to one; `Stopped` or `MediaError::Closed` → [`ChannelError::Hangup`].
//! - `collect_digits`: `MediaLeg::collect_digits(CollectSpec { .. })` field for field;
//!   `CollectEnd::Hangup` or `Closed` → [`ChannelError::Hangup`]. SIP INFO keys go in with
//!   `MediaLeg::inject_dtmf`.
//! - `record`: `RecordSpec { max_duration, silence: silence_end.map(|d| SilenceSpec { duration: d,
//!   threshold: 300 }), min_duration, end_keys }`; `Saved`/`Discarded` map one to one, with
//!   media's `RecordEnd::Stopped` → [`RecordEnd::Hangup`] when the BYE came in (the file is
//!   kept: a message ended by hanging up is normal).
//! - `hangup`: send BYE, `MediaLeg::close()`. A BYE from the caller (or `MediaLeg::inactive`)
//!   must make the pending and every later operation return [`ChannelError::Hangup`]: close
//!   the leg, which ends a playback `Stopped`, a collection `Hangup` and finalises a recording.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

/// How a prompt sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayOutcome {
    /// Every prompt was played.
    Completed,
    /// The caller pressed a key during a barge-in playback. The key stays queued: the next
    /// [`Channel::collect_digits`] returns it first (type-ahead).
    Interrupted(char),
}

/// How to collect keys (Asterisk `Read()`, AGI `GET DATA`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectSpec {
    /// Stop after this many keys (0 = no limit).
    pub max_digits: usize,
    /// Give up when no key comes within this time.
    pub first_digit_timeout: Duration,
    /// Stop when the next key does not come within this time.
    pub inter_digit_timeout: Duration,
    /// Keys that end collection; not part of the result.
    pub terminators: String,
}

/// Why a collection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectEnd {
    /// `max_digits` reached.
    MaxDigits,
    /// A terminator key.
    Terminator(char),
    /// No (further) key in time.
    Timeout,
}

/// Keys as typed: leading zeros and `*` kept, terminator removed; may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// The keys.
    pub digits: String,
    /// Why collection ended.
    pub end: CollectEnd,
}

/// How to record the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// Stop after this long.
    pub max_duration: Duration,
    /// Stop after this much continuous silence (the level is the channel's business).
    pub silence_end: Option<Duration>,
    /// Keys that end the recording (not recorded).
    pub end_keys: String,
    /// Shorter recordings are discarded and their file removed.
    pub min_duration: Duration,
    /// A number the caller typed before the message (may be empty). The channel keeps it
    /// beside a recording in progress, so a message recovered after a crash still has it.
    pub number_entered: String,
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEnd {
    /// An end key.
    Key(char),
    /// Silence for `silence_end`.
    Silence,
    /// `max_duration` reached.
    MaxDuration,
    /// The caller hung up: the normal end of many messages. The recording is kept when long
    /// enough; every later channel operation fails with [`ChannelError::Hangup`].
    Hangup,
}

/// The result of [`Channel::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The file at `path` holds `duration` of audio (8 kHz mono 16-bit WAV).
    Saved {
        /// The file written.
        path: PathBuf,
        /// Audio length.
        duration: Duration,
        /// Why it ended.
        end: RecordEnd,
    },
    /// Shorter than `min_duration`: no file is left behind.
    Discarded {
        /// Audio length.
        duration: Duration,
        /// Why it ended.
        end: RecordEnd,
    },
}

/// What can go wrong on a channel. [`ChannelError::Hangup`] is how most calls end: flows
/// treat it as a normal outcome, never as a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The caller hung up (BYE, AGI `HANGUP`, media gone).
    #[error("caller hung up")]
    Hangup,
    /// A prompt could not be played (unknown id, missing or corrupt file).
    #[error("prompt {id:?}: {reason}")]
    Prompt {
        /// The prompt id.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A recording could not be written.
    #[error("recording to {}: {reason}", path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Any other failure of the underlying call (transport, media, AGI protocol).
    #[error("channel failed: {0}")]
    Failed(String),
}

impl ChannelError {
    /// True for the normal end of a call.
    pub fn is_hangup(&self) -> bool {
        matches!(self, ChannelError::Hangup)
    }
}

/// One live call as a flow sees it. Implemented by the SIP+RTP glue and, later, FastAGI.
///
/// Object-safe (`&mut dyn Channel`): flows never know the concrete type. Once the caller has
/// hung up, every operation returns [`ChannelError::Hangup`].
#[async_trait]
pub trait Channel: Send {
    /// The call's id (SIP Call-ID, AGI `agi_uniqueid`); names voicemail files and log spans.
    fn call_id(&self) -> &str;

    /// The caller's number as presented (may be empty when withheld).
    fn caller_id(&self) -> &str;

    /// Answers the call (200 OK / AGI `ANSWER`). Idempotent.
    async fn answer(&mut self) -> Result<(), ChannelError>;

    /// Plays prompts back to back, by catalog id. With `barge_in`, a key pressed while they
    /// play stops playback and is returned as [`PlayOutcome::Interrupted`] (and kept for the
    /// next collection); without it, keys typed during playback are still kept (type-ahead).
    /// Keys typed before the call need not interrupt: flows skip their own prompts then.
    async fn play(&mut self, prompts: &[&str], barge_in: bool)
    -> Result<PlayOutcome, ChannelError>;

    /// Collects keys per `spec`, type-ahead first.
    async fn collect_digits(&mut self, spec: &CollectSpec) -> Result<Collected, ChannelError>;

    /// Records the caller to `path` (8 kHz mono 16-bit WAV).
    async fn record(
        &mut self,
        path: &Path,
        spec: &RecordSpec,
    ) -> Result<RecordOutcome, ChannelError>;

    /// Ends the call from our side (BYE / AGI `HANGUP`). Idempotent; fine after the caller left.
    async fn hangup(&mut self) -> Result<(), ChannelError>;
}
