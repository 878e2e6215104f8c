//! One FastAGI session: read the `agi_*` header block (bounded in time and size), pick the
//! script, run it, and log why the session ended. Scripts:
//!
//! | script | what |
//! |---|---|
//! | `hotline` | the IVR's main menu ([`hotline_ivr::flows::run_call`]); `ToAgent` → [`crate::queue::AgiQueue`] |
//! | `hotline-answered` | the answer hook run on an agent's channel by `Dial`'s `U()` option (argument: the caller's unique id) |
//! | anything else | `VERBOSE` the reason, `HANGUP` |

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hotline_ivr::flows::{self, Flow, FlowOutcome};
use hotline_ivr::prompts::id;
use hotline_ivr::{Backend, IvrConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::channel::{AgiChannel, ChannelSettings};
use crate::proto::{AgiRequest, Decoder, Incoming};
use crate::queue::AgiQueue;

/// The main menu script.
pub const SCRIPT_HOTLINE: &str = "hotline";
/// The answer hook script.
pub const SCRIPT_ANSWERED: &str = "hotline-answered";

/// What every session of a server shares.
pub struct AgiContext {
    /// The core.
    pub backend: Arc<dyn Backend>,
    /// IVR settings.
    pub ivr: Arc<IvrConfig>,
    /// The agent queue (`None`: callers for an agent leave a message).
    pub queue: Option<AgiQueue>,
    /// Channel settings.
    pub channel: ChannelSettings,
    /// Language of our sounds.
    pub language: String,
    /// Header block deadline.
    pub header_timeout: Duration,
    /// For call ids of sessions without `agi_uniqueid`.
    pub seq: AtomicU64,
}

impl std::fmt::Debug for AgiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgiContext").finish_non_exhaustive()
    }
}

/// A unique id as a call id and file name: `[A-Za-z0-9._-]`, no leading dot, ≤ 100 chars.
pub fn call_id_of(uniqueid: &str) -> Option<String> {
    let s: String = uniqueid
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_owned();
    (!s.is_empty()).then_some(s)
}

/// Reads the header block; the reason when it cannot.
async fn read_header<S: AsyncRead + Unpin>(
    io: &mut S,
    dec: &mut Decoder,
    timeout: Duration,
    shutdown: &CancellationToken,
) -> Result<AgiRequest, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match dec.poll() {
            Ok(Some(Incoming::Header(r))) => return Ok(r),
            Ok(Some(other)) => return Err(format!("unexpected {other:?} before the header")),
            Ok(None) => {}
            Err(e) => return Err(format!("bad header block: {e}")),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Err("server shutdown before the header block".into()),
            () = tokio::time::sleep_until(deadline) => {
                return Err(format!("no complete header block within {timeout:?} ({} bytes received)", dec.buffered()));
            }
            r = io.read_buf(dec.buffer_mut()) => match r {
                Ok(0) => return Err("closed before the header block ended".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("socket read: {e}")),
            },
        }
    }
}

/// Runs one session to its end.
pub async fn run_session<S: AsyncRead + AsyncWrite + Unpin + Send>(
    mut io: S,
    peer: String,
    ctx: Arc<AgiContext>,
    shutdown: CancellationToken,
) {
    let mut dec = Decoder::new();
    let req = match read_header(&mut io, &mut dec, ctx.header_timeout, &shutdown).await {
        Ok(r) => r,
        Err(reason) => {
            tracing::warn!(%peer, %reason, "agi session ended");
            return;
        }
    };
    let call_id = call_id_of(&req.uniqueid)
        .unwrap_or_else(|| format!("agi-{}", ctx.seq.fetch_add(1, Ordering::Relaxed)));
    let span = tracing::info_span!("agi", call_id = %call_id, script = %req.script);
    async move {
        tracing::debug!(%peer, channel = %req.channel, caller_id = %req.caller_id, "agi session");
        let mut ch = AgiChannel::new(
            io,
            dec,
            call_id,
            req.caller_id.clone(),
            ctx.channel.clone(),
            shutdown,
        );
        let outcome = match req.script.as_str() {
            SCRIPT_HOTLINE => hotline(&mut ch, &req, &ctx).await,
            SCRIPT_ANSWERED => {
                match (&ctx.queue, req.args.first().and_then(|a| call_id_of(a))) {
                    (Some(q), Some(caller)) => q.answered_hook(&mut ch, &caller).await,
                    _ => {
                        ch.verbose("hotline: hotline-answered needs the caller's unique id and an agent queue").await;
                    }
                }
                // No HANGUP: this session runs on the agent's channel, which Dial bridges next.
                "answer hook".to_owned()
            }
            other => {
                tracing::warn!(script = other, "unknown AGI script; hanging up");
                ch.verbose(&format!(
                    "hotline: unknown script {other:?} (expected {SCRIPT_HOTLINE:?})"
                ))
                .await;
                let _ = hotline_ivr::Channel::hangup(&mut ch).await;
                "unknown script".to_owned()
            }
        };
        tracing::info!(
            %outcome,
            reason = ch.end_reason().unwrap_or("script finished"),
            "agi session ended"
        );
    }
    .instrument(span)
    .await;
}

async fn hotline<S: AsyncRead + AsyncWrite + Unpin + Send>(
    ch: &mut AgiChannel<S>,
    req: &AgiRequest,
    ctx: &AgiContext,
) -> String {
    let lang = req.param("lang").unwrap_or(&ctx.language).to_owned();
    if !lang.is_empty()
        && req.language != lang
        && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && ch.set_variable("CHANNEL(language)", &lang).await.is_err()
        && ch.is_dead()
    {
        return "caller hung up".into();
    }
    let backend = ctx.backend.as_ref();
    let outcome = flows::run_call(ch, backend, &ctx.ivr, time::OffsetDateTime::now_utc()).await;
    let outcome = match outcome {
        Ok(FlowOutcome::ToAgent { senior, ticket }) => match &ctx.queue {
            Some(q) => q.take(ch, backend, &ctx.ivr, senior, ticket).await,
            None => {
                tracing::info!("no agent queue: voicemail");
                let mut f = Flow::new(ch, backend, &ctx.ivr);
                let r = async {
                    f.say(&[id::NO_AGENT]).await?;
                    flows::voicemail::run(&mut f, "").await
                }
                .await;
                flows::finish(&mut f, r).await
            }
        },
        other => other,
    };
    let _ = hotline_ivr::Channel::hangup(ch).await;
    match outcome {
        Ok(o) => format!("{o:?}"),
        Err(e) => format!("failed: {e}"),
    }
}

#[cfg(test)]
mod tests;
