//! [`AgiChannel`]: the IVR's [`Channel`] over one FastAGI session, so `hotline-ivr`'s flows
//! run unchanged behind Asterisk. Generic over the byte stream (a `TcpStream` in the server,
//! an in-memory duplex in tests).
//!
//! | `Channel` | AGI |
//! |---|---|
//! | `answer` | `ANSWER` (once) |
//! | `play(ids, barge_in)` | `STREAM FILE <prefix>/<stem>` per prompt, escape digits = every key when `barge_in`; with `barge_in` the last prompt is held back: a collection that follows plays it with `GET DATA` (one round trip, keys while it plays are taken), anything else plays it with `STREAM FILE` first |
//! | read-backs | `digit_N` prompts, or one `SAY DIGITS` ([`ReadBack::SayDigits`]) |
//! | `collect_digits` | `GET DATA` (held-back prompt, `#` ends), else `WAIT FOR DIGIT` per key; type-ahead first |
//! | `record` | `RECORD FILE <asterisk dir>/<call> wav <end keys> <max ms> [BEEP] s=<silence>`, then the WAV is checked on our side of the shared directory |
//! | `hangup` | `HANGUP` (once) |
//!
//! A bare `HANGUP` line (AGISIGHUP), a `511` (dead channel), `result=-1` from a command that
//! only fails that way, or the socket closing all mean the caller is gone: the pending and
//! every later operation return [`ChannelError::Hangup`]. Every command waits at most its own
//! length (prompt length, key timeouts, recording limit) plus `command_timeout`; the server
//! shutting down ends the wait at once. The first reason a session ended is kept
//! ([`AgiChannel::end_reason`]) for the server's log line.
//!
//! Keys pressed during a prompt played without barge-in are lost (Asterisk discards them
//! unless they are escape digits), unlike over SIP where they are kept as type-ahead.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hotline_ivr::prompts::id;
use hotline_ivr::{
    Channel, ChannelError, CollectEnd, CollectSpec, Collected, PlayOutcome, RecordEnd,
    RecordOutcome, RecordSpec,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{PromptMap, ReadBack, RecordingPaths};
use crate::proto::{Command, Decoder, Incoming, ProtocolError, Reply};
use crate::stats::Turnaround;

/// Every key: barge-in escape digits.
pub const ALL_KEYS: &str = "0123456789*#";

/// What a channel needs besides its stream; shared by every session of a server.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    /// Prompt ids → sound names.
    pub prompts: Arc<PromptMap>,
    /// Slack beyond a command's own length.
    pub command_timeout: Duration,
    /// How digit strings are read back.
    pub read_back: ReadBack,
    /// The shared recording directory, both sides.
    pub recordings: RecordingPaths,
    /// `RECORD FILE` format.
    pub record_format: String,
    /// `BEEP` on `RECORD FILE`.
    pub record_beep: bool,
    /// How long to wait for the recording to appear complete on our side.
    pub recording_wait: Duration,
    /// Server-side command turnaround (reply received → next command written).
    pub turnaround: Arc<Turnaround>,
}

/// Why a command did not give a usable reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgiError {
    /// The caller hung up (HANGUP line, 511, socket closed).
    #[error("caller hung up")]
    Hangup,
    /// The peer broke the protocol.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// Asterisk refused the command (510 unknown, 520 bad syntax).
    #[error("{command} refused with {code}: {text}")]
    Refused {
        /// The command.
        command: &'static str,
        /// 510 or 520.
        code: u16,
        /// Asterisk's text (and usage).
        text: String,
    },
    /// No reply in time.
    #[error("no reply to {command} within {after:?}")]
    Timeout {
        /// The command.
        command: &'static str,
        /// How long we waited.
        after: Duration,
    },
    /// Reading or writing the socket failed.
    #[error("socket: {0}")]
    Io(String),
    /// The server is shutting down.
    #[error("the hotline is shutting down")]
    Shutdown,
}

impl From<AgiError> for ChannelError {
    fn from(e: AgiError) -> Self {
        match e {
            AgiError::Hangup => ChannelError::Hangup,
            other => ChannelError::Failed(other.to_string()),
        }
    }
}

/// One FastAGI session as an IVR channel.
pub struct AgiChannel<S> {
    io: S,
    dec: Decoder,
    call_id: String,
    caller_id: String,
    settings: ChannelSettings,
    shutdown: CancellationToken,
    typeahead: String,
    /// A barge-in prompt held back for a following collection.
    held: Option<String>,
    answered: bool,
    /// The caller is gone (HANGUP line, 511, -1); cleanup commands may still go.
    dead: bool,
    /// The socket is closed or unusable: nothing more is sent.
    closed: bool,
    hangup_sent: bool,
    last_reply_at: Option<Instant>,
    end_reason: Option<String>,
}

impl<S> std::fmt::Debug for AgiChannel<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgiChannel")
            .field("call_id", &self.call_id)
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> AgiChannel<S> {
    /// A channel over a session whose header block `dec` has already read.
    pub fn new(
        io: S,
        dec: Decoder,
        call_id: String,
        caller_id: String,
        settings: ChannelSettings,
        shutdown: CancellationToken,
    ) -> Self {
        AgiChannel {
            io,
            dec,
            call_id,
            caller_id,
            settings,
            shutdown,
            typeahead: String::new(),
            held: None,
            answered: false,
            dead: false,
            closed: false,
            hangup_sent: false,
            last_reply_at: None,
            end_reason: None,
        }
    }

    /// Why the session ended (first reason seen), if it has.
    pub fn end_reason(&self) -> Option<&str> {
        self.end_reason.as_deref()
    }

    /// The session's shutdown token (server shutdown).
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Stops using the session without a `HANGUP`: the call goes on in Asterisk (a bridged
    /// call when the hotline shuts down).
    pub fn detach(&mut self) {
        self.closed = true;
        self.ended("detached: the call goes on in Asterisk");
    }

    /// Whether the caller is gone.
    pub fn is_dead(&self) -> bool {
        self.dead || self.closed
    }

    fn ended(&mut self, why: impl Into<String>) {
        if self.end_reason.is_none() {
            self.end_reason = Some(why.into());
        }
    }

    fn fail(&mut self, e: AgiError) -> AgiError {
        match &e {
            AgiError::Hangup => {
                self.dead = true;
                self.ended("caller hung up");
            }
            AgiError::Shutdown => self.ended("server shutdown"),
            other => {
                // A peer that breaks the protocol or stops answering gets nothing more.
                self.closed = true;
                self.ended(other.to_string());
            }
        }
        e
    }

    /// The next item from the peer. Cancel-safe: bytes read stay in the decoder.
    async fn next_incoming(&mut self) -> Result<Incoming, AgiError> {
        loop {
            if let Some(x) = self.dec.poll()? {
                return Ok(x);
            }
            match self.io.read_buf(self.dec.buffer_mut()).await {
                Ok(0) => {
                    self.closed = true;
                    self.dead = true;
                    self.ended("peer closed the connection");
                    return Err(AgiError::Hangup);
                }
                Ok(_) => {}
                Err(e) => {
                    self.closed = true;
                    self.dead = true;
                    self.ended(format!("socket read: {e}"));
                    return Err(AgiError::Hangup);
                }
            }
        }
    }

    /// Writes one command.
    pub async fn send(&mut self, cmd: &Command) -> Result<(), AgiError> {
        if self.closed {
            return Err(AgiError::Hangup);
        }
        if self.dead && !cmd.allowed_when_dead() {
            return Err(AgiError::Hangup);
        }
        let line = cmd.encode();
        let slack = self.settings.command_timeout;
        let write = async {
            self.io.write_all(line.as_bytes()).await?;
            self.io.flush().await
        };
        let r = tokio::time::timeout(slack, write).await;
        if let Some(at) = self.last_reply_at.take() {
            self.settings.turnaround.record(at.elapsed());
        }
        match r {
            Ok(Ok(())) => {
                tracing::trace!(command = %line.trim_end(), "agi >");
                Ok(())
            }
            Ok(Err(e)) => {
                self.closed = true;
                self.dead = true;
                self.ended(format!("socket write: {e}"));
                Err(AgiError::Hangup)
            }
            Err(_) => Err(self.fail(AgiError::Timeout {
                command: cmd.name(),
                after: slack,
            })),
        }
    }

    /// Waits for the reply to `command` until `deadline`. Cancel-safe. A timeout is returned
    /// without ending the session: the caller decides (see the agent queue's `Dial`).
    pub async fn recv_reply(
        &mut self,
        command: &'static str,
        deadline: Instant,
    ) -> Result<Reply, AgiError> {
        let shutdown = self.shutdown.clone();
        loop {
            let next = tokio::select! {
                biased;
                () = shutdown.cancelled() => return Err(self.fail(AgiError::Shutdown)),
                () = tokio::time::sleep_until(deadline) => {
                    return Err(AgiError::Timeout { command, after: Duration::ZERO });
                }
                n = self.next_incoming() => n,
            };
            match next {
                Err(e) => return Err(self.fail(e)),
                Ok(Incoming::Hangup) => {
                    tracing::debug!("HANGUP from Asterisk");
                    self.dead = true;
                    self.ended("caller hung up");
                }
                Ok(Incoming::Header(_)) => {
                    return Err(self.fail(AgiError::Protocol(ProtocolError::BadReply(
                        "a second header block".into(),
                    ))));
                }
                Ok(Incoming::Reply(r)) => {
                    tracing::trace!(code = r.code, text = %r.text, "agi <");
                    return match r.code {
                        200 => {
                            self.last_reply_at = Some(Instant::now());
                            Ok(r)
                        }
                        511 => Err(self.fail(AgiError::Hangup)),
                        code => {
                            self.last_reply_at = Some(Instant::now());
                            let mut text = r.text;
                            if !r.usage.is_empty() {
                                text = format!("{text} [{}]", r.usage.join(" | "));
                            }
                            Err(AgiError::Refused {
                                command,
                                code,
                                text,
                            })
                        }
                    };
                }
            }
        }
    }

    /// Sends a command and waits for its reply: at most `length` (what the command itself
    /// may take) plus `command_timeout`.
    pub async fn command(&mut self, cmd: &Command, length: Duration) -> Result<Reply, AgiError> {
        self.send(cmd).await?;
        let after = length.saturating_add(self.settings.command_timeout);
        let deadline = Instant::now()
            .checked_add(after)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        match self.recv_reply(cmd.name(), deadline).await {
            Err(AgiError::Timeout { command, .. }) => {
                let e = AgiError::Timeout { command, after };
                tracing::warn!(error = %e, "Asterisk stopped answering; ending the session");
                Err(self.fail(e))
            }
            Err(e @ AgiError::Refused { .. }) => {
                tracing::warn!(error = %e, "command refused");
                Err(e)
            }
            other => other,
        }
    }

    /// Waits while no command is in flight until the caller hangs up (HANGUP line or the
    /// socket closing). Cancel-safe; anything else from the peer is a protocol error.
    pub async fn wait_hangup(&mut self) -> AgiError {
        if self.is_dead() {
            return AgiError::Hangup;
        }
        match self.next_incoming().await {
            Ok(Incoming::Hangup) => self.fail(AgiError::Hangup),
            Ok(other) => self.fail(AgiError::Protocol(ProtocolError::BadReply(format!(
                "unsolicited {other:?}"
            )))),
            Err(e) => self.fail(e),
        }
    }

    /// `VERBOSE` a line to the Asterisk console (errors ignored: it is only a log).
    pub async fn verbose(&mut self, message: &str) {
        let cmd = Command::Verbose {
            message: message.to_owned(),
            level: 1,
        };
        let _ = self.command(&cmd, Duration::ZERO).await;
    }

    /// `GET VARIABLE`: `None` when unset.
    pub async fn get_variable(&mut self, name: &str) -> Result<Option<String>, AgiError> {
        let cmd = Command::GetVariable { name: name.into() };
        let r = self.command(&cmd, Duration::ZERO).await?;
        Ok((r.result == "1").then(|| r.data.unwrap_or_default()))
    }

    /// `SET VARIABLE`.
    pub async fn set_variable(&mut self, name: &str, value: &str) -> Result<(), AgiError> {
        let cmd = Command::SetVariable {
            name: name.into(),
            value: value.into(),
        };
        self.command(&cmd, Duration::ZERO).await.map(|_| ())
    }

    fn sound(&self, prompt: &str) -> Result<crate::config::Sound, ChannelError> {
        self.settings
            .prompts
            .get(prompt)
            .cloned()
            .ok_or_else(|| ChannelError::Prompt {
                id: prompt.to_owned(),
                reason: "not in the prompt catalog".into(),
            })
    }

    /// Plays one prompt; `Some(key)` when a key interrupted it.
    async fn stream(&mut self, prompt: &str, escape: &str) -> Result<Option<char>, ChannelError> {
        let sound = self.sound(prompt)?;
        let cmd = Command::StreamFile {
            file: sound.name.clone(),
            escape: escape.to_owned(),
        };
        let r = self.command(&cmd, sound.length).await?;
        match key_of(&r, self.dead) {
            Ok(k) => Ok(k),
            Err(()) if self.dead => Err(ChannelError::Hangup),
            Err(()) => {
                // -1 on a live channel: Asterisk could not open the sound.
                tracing::warn!(file = %sound.name, "STREAM FILE failed: is the sound installed on the Asterisk host?");
                Ok(None)
            }
        }
    }

    /// Plays prompts (digit runs as one `SAY DIGITS` when configured); stops at a key when
    /// `escape` is not empty.
    async fn play_now(
        &mut self,
        ids: &[String],
        escape: &str,
    ) -> Result<Option<char>, ChannelError> {
        let mut i = 0;
        while i < ids.len() {
            if self.settings.read_back == ReadBack::SayDigits && digit_of(&ids[i]).is_some() {
                let mut digits = String::new();
                while let Some(d) = ids.get(i).and_then(|p| digit_of(p)) {
                    digits.push(d);
                    i += 1;
                }
                let cmd = Command::SayDigits {
                    digits: digits.clone(),
                    escape: escape.to_owned(),
                };
                let r = self
                    .command(&cmd, Duration::from_secs(digits.len() as u64 + 1))
                    .await?;
                if let Ok(Some(k)) = key_of(&r, self.dead) {
                    return Ok(Some(k));
                }
                if self.dead {
                    return Err(ChannelError::Hangup);
                }
                continue;
            }
            if let Some(k) = self.stream(&ids[i].clone(), escape).await? {
                return Ok(Some(k));
            }
            i += 1;
        }
        Ok(None)
    }

    /// Plays a held-back prompt (barge-in); a key goes to type-ahead.
    async fn flush_held(&mut self) -> Result<(), ChannelError> {
        if let Some(p) = self.held.take()
            && let Some(k) = self.stream(&p, ALL_KEYS).await?
        {
            self.typeahead.push(k);
        }
        Ok(())
    }

    async fn wait_digit(&mut self, timeout: Duration) -> Result<Option<char>, ChannelError> {
        let ms = timeout.as_millis().min(i64::MAX as u128) as i64;
        let r = self
            .command(&Command::WaitForDigit { timeout_ms: ms }, timeout)
            .await?;
        key_of(&r, self.dead).map_err(|()| {
            self.dead = true;
            ChannelError::Hangup
        })
    }

    async fn collect(&mut self, spec: &CollectSpec) -> Result<Collected, ChannelError> {
        let mut digits = String::new();
        // Type-ahead first.
        while !self.typeahead.is_empty() {
            let k = self.typeahead.remove(0);
            if let Some(done) = take_key(spec, &mut digits, k) {
                return Ok(done);
            }
        }
        if digits.is_empty()
            && spec.max_digits > 0
            && (spec.terminators.is_empty() || spec.terminators == "#")
            && let Some(p) = self.held.take()
        {
            let sound = self.sound(&p)?;
            let timeout = spec.first_digit_timeout.max(spec.inter_digit_timeout);
            let cmd = Command::GetData {
                file: sound.name.clone(),
                timeout_ms: timeout.as_millis() as u64,
                max_digits: spec.max_digits,
            };
            let length = sound
                .length
                .saturating_add(timeout.saturating_mul((spec.max_digits as u32).min(64)));
            let r = self.command(&cmd, length).await?;
            if r.is_failure() || self.dead {
                self.dead = true;
                return Err(ChannelError::Hangup);
            }
            let got: String = r
                .result
                .chars()
                .filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#'))
                .collect();
            if r.data.as_deref() == Some("timeout") {
                digits.push_str(&got);
                return Ok(Collected {
                    digits,
                    end: CollectEnd::Timeout,
                });
            }
            if got.chars().count() >= spec.max_digits {
                return Ok(Collected {
                    digits: got,
                    end: CollectEnd::MaxDigits,
                });
            }
            // Fewer keys and no timeout: `#` ended GET DATA.
            if spec.terminators.contains('#') {
                return Ok(Collected {
                    digits: got,
                    end: CollectEnd::Terminator('#'),
                });
            }
            // `#` is an ordinary key here (a menu): keep it and go on.
            for k in got.chars().chain(std::iter::once('#')) {
                if let Some(done) = take_key(spec, &mut digits, k) {
                    return Ok(done);
                }
            }
        }
        self.flush_held().await?;
        while !self.typeahead.is_empty() {
            let k = self.typeahead.remove(0);
            if let Some(done) = take_key(spec, &mut digits, k) {
                return Ok(done);
            }
        }
        loop {
            let timeout = if digits.is_empty() {
                spec.first_digit_timeout
            } else {
                spec.inter_digit_timeout
            };
            match self.wait_digit(timeout).await? {
                None => {
                    return Ok(Collected {
                        digits,
                        end: CollectEnd::Timeout,
                    });
                }
                Some(k) => {
                    if let Some(done) = take_key(spec, &mut digits, k) {
                        return Ok(done);
                    }
                }
            }
        }
    }

    async fn record_now(
        &mut self,
        path: &Path,
        spec: &RecordSpec,
    ) -> Result<RecordOutcome, ChannelError> {
        let record_err = |reason: String| ChannelError::Record {
            path: path.to_owned(),
            reason,
        };
        let file = self
            .settings
            .recordings
            .asterisk_file(path)
            .ok_or_else(|| {
                record_err(format!(
                    "not under the shared recording directory {}",
                    self.settings.recordings.local_dir.display()
                ))
            })?;
        // A stale file of an earlier attempt must not pass for this recording.
        let _ = tokio::fs::remove_file(path).await;
        let cmd = Command::RecordFile {
            file: file.clone(),
            format: self.settings.record_format.clone(),
            escape: spec.end_keys.clone(),
            timeout_ms: spec.max_duration.as_millis() as i64,
            beep: self.settings.record_beep,
            silence_s: spec.silence_end.map(|d| d.as_secs().max(1) as u32),
        };
        let r = self.command(&cmd, spec.max_duration).await?;
        let end = match (r.result_int(), r.data.as_deref()) {
            (Some(-1), Some("hangup")) => {
                self.dead = true;
                RecordEnd::Hangup
            }
            (Some(-1), _) if self.dead => RecordEnd::Hangup,
            (Some(-1), what) => {
                let why = format!(
                    "Asterisk could not record to {file} ({})",
                    what.unwrap_or("no reason given")
                );
                tracing::error!(%why, "voicemail not recorded");
                let _ = self.play_now(&[id::SERVICE_ERROR.to_owned()], "").await;
                return Err(record_err(why));
            }
            (Some(k), Some("dtmf")) if k > 0 => {
                RecordEnd::Key(u8::try_from(k).map_or('#', char::from))
            }
            _ => {
                // `(timeout)`: the limit or silence; endpos tells which.
                let max_samples = spec.max_duration.as_millis() as u64 * 8;
                match r.endpos {
                    Some(e) if e + 8000 < max_samples && spec.silence_end.is_some() => {
                        RecordEnd::Silence
                    }
                    _ => RecordEnd::MaxDuration,
                }
            }
        };
        match wait_for_recording(path, self.settings.recording_wait).await {
            Ok(duration) if duration < spec.min_duration => {
                let _ = tokio::fs::remove_file(path).await;
                Ok(RecordOutcome::Discarded { duration, end })
            }
            Ok(duration) => Ok(RecordOutcome::Saved {
                path: path.to_owned(),
                duration,
                end,
            }),
            Err(why) => {
                tracing::error!(
                    path = %path.display(), asterisk_file = %file, reason = %why,
                    "voicemail recording from Asterisk rejected: not registered"
                );
                if !self.is_dead() {
                    let _ = self.play_now(&[id::SERVICE_ERROR.to_owned()], "").await;
                }
                Err(record_err(why))
            }
        }
    }
}

/// Waits up to `wait` for a complete WAV at `path`; its length.
async fn wait_for_recording(path: &Path, wait: Duration) -> Result<Duration, String> {
    {
        let until = Instant::now() + wait;
        loop {
            let p = path.to_owned();
            let r = tokio::task::spawn_blocking(move || check_recording(&p))
                .await
                .unwrap_or_else(|e| Err(format!("check failed: {e}")));
            match r {
                Ok(d) => return Ok(d),
                Err(why) if Instant::now() >= until => return Err(why),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// A recording as Asterisk's `wav` format writes it: 8 kHz mono 16-bit PCM, and as long as
/// its header says (a truncated copy is refused).
pub fn check_recording(path: &Path) -> Result<Duration, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() == 0 {
        return Err(format!("{} is empty (0 bytes)", path.display()));
    }
    let samples = hotline_ivr::prompts::check_wav(path)
        .map_err(|e| format!("{} is not a usable WAV: {e}", path.display()))?;
    let reader = hound::WavReader::open(path).map_err(|e| e.to_string())?;
    let data_bytes = u64::from(samples) * 2;
    drop(reader);
    if meta.len() < 44 + data_bytes {
        return Err(format!(
            "{} is truncated: its header announces {data_bytes} bytes of audio, the file has {}",
            path.display(),
            meta.len()
        ));
    }
    Ok(Duration::from_millis(u64::from(samples) / 8))
}

/// `digit_N` → N.
fn digit_of(prompt: &str) -> Option<char> {
    id::DIGITS
        .iter()
        .position(|d| *d == prompt)
        .and_then(|n| char::from_digit(n as u32, 10))
}

/// A key from a `STREAM FILE`/`WAIT FOR DIGIT` result: `Ok(None)` = none, `Err` = -1.
fn key_of(r: &Reply, dead: bool) -> Result<Option<char>, ()> {
    match r.result_int() {
        Some(-1) => Err(()),
        _ if dead => Err(()),
        Some(k) if k > 0 => Ok(u8::try_from(k)
            .ok()
            .map(char::from)
            .filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#'))),
        _ => Ok(None),
    }
}

/// Adds a key; `Some` when the collection is complete.
fn take_key(spec: &CollectSpec, digits: &mut String, k: char) -> Option<Collected> {
    if spec.terminators.contains(k) {
        return Some(Collected {
            digits: std::mem::take(digits),
            end: CollectEnd::Terminator(k),
        });
    }
    digits.push(k);
    (spec.max_digits > 0 && digits.chars().count() >= spec.max_digits).then(|| Collected {
        digits: std::mem::take(digits),
        end: CollectEnd::MaxDigits,
    })
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Channel for AgiChannel<S> {
    fn call_id(&self) -> &str {
        &self.call_id
    }

    fn caller_id(&self) -> &str {
        &self.caller_id
    }

    async fn answer(&mut self) -> Result<(), ChannelError> {
        if self.answered {
            return Ok(());
        }
        let r = self.command(&Command::Answer, Duration::ZERO).await?;
        if r.is_failure() {
            self.dead = true;
            return Err(ChannelError::Hangup);
        }
        self.answered = true;
        Ok(())
    }

    async fn play(
        &mut self,
        prompts: &[&str],
        barge_in: bool,
    ) -> Result<PlayOutcome, ChannelError> {
        if self.is_dead() {
            return Err(ChannelError::Hangup);
        }
        for p in prompts {
            self.sound(p)?;
        }
        if barge_in {
            let mut ids: Vec<String> = self.held.take().into_iter().collect();
            ids.extend(prompts.iter().map(|p| (*p).to_owned()));
            let last = ids.pop();
            if let Some(k) = self.play_now(&ids, ALL_KEYS).await? {
                self.typeahead.push(k);
                return Ok(PlayOutcome::Interrupted(k));
            }
            self.held = last;
            return Ok(PlayOutcome::Completed);
        }
        self.flush_held().await?;
        let ids: Vec<String> = prompts.iter().map(|p| (*p).to_owned()).collect();
        self.play_now(&ids, "").await?;
        Ok(PlayOutcome::Completed)
    }

    async fn collect_digits(&mut self, spec: &CollectSpec) -> Result<Collected, ChannelError> {
        if self.is_dead() {
            return Err(ChannelError::Hangup);
        }
        self.collect(spec).await
    }

    async fn record(
        &mut self,
        path: &Path,
        spec: &RecordSpec,
    ) -> Result<RecordOutcome, ChannelError> {
        if self.is_dead() {
            return Err(ChannelError::Hangup);
        }
        self.flush_held().await?;
        self.record_now(path, spec).await
    }

    async fn hangup(&mut self) -> Result<(), ChannelError> {
        self.held = None;
        if self.hangup_sent || self.closed {
            return Ok(());
        }
        self.hangup_sent = true;
        // Also during shutdown: a short wait of its own, not the shutdown token.
        if self.send(&Command::Hangup).await.is_ok() {
            let deadline =
                Instant::now() + Duration::from_secs(1).min(self.settings.command_timeout);
            let saved = std::mem::take(&mut self.shutdown);
            let _ = self.recv_reply("HANGUP", deadline).await;
            self.shutdown = saved;
        }
        self.dead = true;
        self.ended("hung up by the hotline");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
