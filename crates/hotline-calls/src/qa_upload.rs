//! Quality-inspection recordings (QA1) on their way to the core: a bridged call is recorded
//! into the spool directory (`qa_recording_dir`) as `<call>.wav` with a `<call>.wav.meta`
//! beside it (Call-ID, agent, start time); when the call ends the WAV is uploaded through
//! `QualityService.UploadRecording` (stored once per Call-ID in the core's document store,
//! linked to the ticket made in the call through `tickets.call_id`) and both files are removed.
//! An upload that fails is retried a few times; what still fails stays in the spool with its
//! meta file and is uploaded by [`sweep`] when the call server starts again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotline_domain::qa::{RecordingMode, should_record};
use hotline_proto::session::ServiceSession;
use hotline_proto::v1 as pb;
use tonic::Code;

/// Which bridged calls are recorded (`[qa] recording`, `recording_percent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordingPolicy {
    pub mode: RecordingMode,
    pub percent: u32,
}

impl Default for RecordingPolicy {
    fn default() -> Self {
        RecordingPolicy {
            mode: RecordingMode::All,
            percent: 100,
        }
    }
}

impl RecordingPolicy {
    /// Whether the call with this Call-ID is recorded (the same answer on every node).
    pub fn records(&self, call_id: &str) -> bool {
        should_record(self.mode, self.percent, call_id)
    }
}

/// What the core needs to file a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingInfo {
    pub call_id: String,
    pub agent_id: String,
    /// When the bridge began, ms since the epoch.
    pub started_at_ms: i64,
}

fn meta_path(wav: &Path) -> PathBuf {
    let mut p = wav.as_os_str().to_owned();
    p.push(".meta");
    PathBuf::from(p)
}

impl RecordingInfo {
    /// Writes the meta file beside `wav` (three lines: Call-ID, agent, start).
    pub fn write_beside(&self, wav: &Path) -> std::io::Result<()> {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        std::fs::write(
            meta_path(wav),
            format!(
                "{}\n{}\n{}\n",
                one_line(&self.call_id),
                one_line(&self.agent_id),
                self.started_at_ms
            ),
        )
    }

    /// Reads the meta file beside `wav`; `None` when it is missing or not three lines.
    pub fn read_beside(wav: &Path) -> Option<RecordingInfo> {
        let text = std::fs::read_to_string(meta_path(wav)).ok()?;
        let mut l = text.lines();
        let (call_id, agent_id, started) = (l.next()?, l.next()?, l.next()?);
        Some(RecordingInfo {
            call_id: call_id.to_owned(),
            agent_id: agent_id.to_owned(),
            started_at_ms: started.parse().ok()?,
        })
    }

    fn meta(&self) -> pb::RecordingMeta {
        pb::RecordingMeta {
            call_id: self.call_id.clone(),
            ticket_id: 0,
            agent_id: self.agent_id.clone(),
            started_at: Some(prost_types::Timestamp {
                seconds: self.started_at_ms.div_euclid(1000),
                nanos: (self.started_at_ms.rem_euclid(1000) * 1_000_000) as i32,
            }),
        }
    }
}

/// Why a recording did not reach the core.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the core refused the recording: {0}")]
    Refused(tonic::Status),
}

/// Uploads one spooled recording; removes it (and its meta file) once the core has it, also
/// when the core already had it (`ALREADY_EXISTS`: an earlier upload whose answer was lost).
pub async fn upload(
    session: &ServiceSession,
    wav: &Path,
    info: &RecordingInfo,
) -> Result<(), UploadError> {
    let bytes = tokio::fs::read(wav)
        .await
        .map_err(|source| UploadError::Read {
            path: wav.to_owned(),
            source,
        })?;
    match session.upload_recording(info.meta(), &bytes).await {
        Ok(r) => {
            tracing::info!(call_id = %info.call_id, recording = r.id, bytes = bytes.len(), "QA recording uploaded");
        }
        Err(s) if s.code() == Code::AlreadyExists => {
            tracing::info!(call_id = %info.call_id, "QA recording already with the core");
        }
        Err(s) => return Err(UploadError::Refused(s)),
    }
    let _ = std::fs::remove_file(meta_path(wav));
    if let Err(e) = std::fs::remove_file(wav) {
        tracing::warn!(path = %wav.display(), error = %e, "uploaded recording not removed from the spool");
    }
    Ok(())
}

/// [`upload`] with retries after 1 s and 4 s; what still fails stays in the spool for
/// [`sweep`]. Returns whether it was uploaded.
pub async fn upload_with_retries(
    session: &ServiceSession,
    wav: &Path,
    info: &RecordingInfo,
) -> bool {
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=3 {
        match upload(session, wav, info).await {
            Ok(()) => return true,
            // an invalid WAV or a refused account will not get better by retrying
            Err(UploadError::Refused(s))
                if matches!(
                    s.code(),
                    Code::InvalidArgument | Code::PermissionDenied | Code::FailedPrecondition
                ) =>
            {
                tracing::error!(call_id = %info.call_id, error = %s, "QA recording refused by the core; kept in the spool");
                return false;
            }
            Err(e) => {
                tracing::warn!(call_id = %info.call_id, attempt, error = %e, "QA recording upload failed");
            }
        }
        if attempt < 3 {
            tokio::time::sleep(wait).await;
            wait *= 4;
        }
    }
    tracing::error!(call_id = %info.call_id, path = %wav.display(), "QA recording not uploaded; kept in the spool for the next start");
    false
}

/// Uploads every recording left in the spool with its meta file (a crash, the core down);
/// returns (uploaded, left). A WAV without a meta file is left alone (a call still being
/// recorded by this node, or not ours).
pub async fn sweep(session: &ServiceSession, dir: &Path) -> (usize, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    let (mut done, mut left) = (0, 0);
    for e in entries.flatten() {
        let wav = e.path();
        if wav.extension().and_then(|x| x.to_str()) != Some("wav") {
            continue;
        }
        let Some(info) = RecordingInfo::read_beside(&wav) else {
            continue;
        };
        match upload(session, &wav, &info).await {
            Ok(()) => done += 1,
            Err(err) => {
                tracing::warn!(path = %wav.display(), error = %err, "spooled QA recording not uploaded");
                left += 1;
            }
        }
    }
    if done + left > 0 {
        tracing::info!(uploaded = done, left, dir = %dir.display(), "QA recording spool swept");
    }
    (done, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qa1_meta_file_round_trips_and_a_broken_one_is_ignored() {
        let dir = std::env::temp_dir().join(format!("qa-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wav = dir.join("abc.wav");
        let info = RecordingInfo {
            call_id: "abc@10.0.0.1\nX".into(),
            agent_id: "j1".into(),
            started_at_ms: 1_796_083_200_123,
        };
        info.write_beside(&wav).unwrap();
        let back = RecordingInfo::read_beside(&wav).unwrap();
        assert_eq!(
            back.call_id, "abc@10.0.0.1 X",
            "a newline cannot split the file"
        );
        assert_eq!(
            (back.agent_id.as_str(), back.started_at_ms),
            ("j1", 1_796_083_200_123)
        );
        let m = back.meta();
        let t = m.started_at.unwrap();
        assert_eq!((t.seconds, t.nanos), (1_796_083_200, 123_000_000));
        std::fs::write(meta_path(&wav), "only one line\n").unwrap();
        assert_eq!(RecordingInfo::read_beside(&wav), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn qa1_policy_records_all_none_or_the_same_share_by_call_id() {
        let all = RecordingPolicy::default();
        let none = RecordingPolicy {
            mode: RecordingMode::None,
            percent: 100,
        };
        let half = RecordingPolicy {
            mode: RecordingMode::Sampled,
            percent: 50,
        };
        let ids: Vec<String> = (0..1000).map(|i| format!("call-{i}@h")).collect();
        assert!(ids.iter().all(|c| all.records(c)));
        assert!(!ids.iter().any(|c| none.records(c)));
        let n = ids.iter().filter(|c| half.records(c)).count();
        assert!((400..600).contains(&n), "{n} of 1000 at 50 %");
        assert!(ids.iter().all(|c| half.records(c) == half.records(c)));
    }
}
