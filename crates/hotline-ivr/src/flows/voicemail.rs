//! Leave a message (SF9): intro and beep, record up to the maximum (end on `#` or silence),
//! discard one under the minimum, else register it with the core. The WAV is
//! `<voicemail_dir>/<call id>.wav`; a message is registered even when the caller hangs up to
//! end it, and stays on disk (logged) if the core cannot take it.

use std::path::PathBuf;

use super::{Flow, FlowError, FlowOutcome};
use crate::backend::NewVoicemail;
use crate::channel::{ChannelError, RecordEnd, RecordOutcome, RecordSpec};
use crate::prompts::id;

/// The file for a call's message: the call id with anything but `[A-Za-z0-9._-]` replaced,
/// so a hostile Call-ID cannot leave the directory.
pub fn message_path(f: &Flow<'_>) -> PathBuf {
    let stem: String =
        f.ch.call_id()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    let stem = stem.trim_start_matches('.');
    let stem = if stem.is_empty() { "call" } else { stem };
    f.cfg.voicemail_dir.join(format!("{stem}.wav"))
}

/// Records and registers a message; `number_entered` is a number the caller typed earlier.
pub async fn run(f: &mut Flow<'_>, number_entered: &str) -> Result<FlowOutcome, FlowError> {
    let path = message_path(f);
    tokio::fs::create_dir_all(&f.cfg.voicemail_dir)
        .await
        .map_err(|e| ChannelError::Record {
            path: path.clone(),
            reason: format!("creating the voicemail directory: {e}"),
        })?;
    f.say(&[id::VOICEMAIL_INTRO, id::BEEP]).await?;
    let spec = RecordSpec {
        number_entered: number_entered.to_owned(),
        ..f.cfg.voicemail_spec()
    };
    match f.ch.record(&path, &spec).await? {
        RecordOutcome::Saved {
            path,
            duration,
            end,
        } => {
            let vm = NewVoicemail {
                call_id: f.ch.call_id().to_owned(),
                caller_id: f.ch.caller_id().to_owned(),
                number_entered: number_entered.to_owned(),
                path: path.clone(),
                duration,
            };
            match f.backend.save_voicemail(&vm).await {
                Ok(()) => {
                    tracing::info!(path = %path.display(), ?duration, ?end, "voicemail saved")
                }
                Err(e) => tracing::error!(
                    path = %path.display(), ?duration, error = %e,
                    "voicemail kept on disk but not registered with the core"
                ),
            }
            if end == RecordEnd::Hangup {
                return Ok(FlowOutcome::CallerHungUp);
            }
            f.say(&[id::VOICEMAIL_SAVED]).await?;
            f.ch.hangup().await?;
            Ok(FlowOutcome::Done)
        }
        RecordOutcome::Discarded { duration, end } => {
            tracing::info!(?duration, ?end, "voicemail too short; discarded");
            if end == RecordEnd::Hangup {
                return Ok(FlowOutcome::CallerHungUp);
            }
            f.say(&[id::VOICEMAIL_TOO_SHORT, id::GOODBYE]).await?;
            f.ch.hangup().await?;
            Ok(FlowOutcome::Done)
        }
    }
}
