//! A message is never lost (SF9): recordings in flight are marked on disk, and a start-up
//! sweep registers whatever a crash left behind.
//!
//! - [`PendingMarker`]: `<voicemail_dir>/<call>.wav.pending`, written by
//!   [`crate::SipChannel::record`] *before* the first sample (TOML: call id, caller id,
//!   start time). It goes away when the recording is discarded (too short) or when the core
//!   has registered it.
//! - [`MarkingBackend`]: wraps the IVR's [`Backend`]; after a successful `save_voicemail`
//!   it removes the marker. A registration that fails (core down) leaves it for the sweep.
//! - [`sweep`]: at start-up, for every marker whose WAV has not been written to for
//!   `quiet` (another IVR node sharing the directory may still be recording it): repair the
//!   WAV header ([`hotline_media::wav::repair_wav`]: the writer may have died between two
//!   header updates), register it (`CreateVoicemail` is idempotent by call id, so a message
//!   registered just before the crash is not doubled), remove the marker. Shorter than the
//!   minimum → deleted, as the flow would have done; no WAV or an unrepairable one → the
//!   marker is removed and the problem logged. The marker also holds the number the caller
//!   typed before the message (from the record spec), so a recovered message keeps it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hotline_ivr::{Backend, BackendError, NewReport, NewVoicemail, ReportCreated, TicketState};
use serde::{Deserialize, Serialize};

/// Suffix of a marker file, after the WAV's own name.
pub const MARKER_SUFFIX: &str = ".pending";

/// What a marker holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerData {
    /// SIP Call-ID: the core's idempotency key for the message.
    pub call_id: String,
    /// The caller's number (may be empty).
    pub caller_id: String,
    /// The number the caller typed before the message (may be empty; absent in markers
    /// written before this field existed).
    #[serde(default)]
    pub number_entered: String,
}

/// The marker beside one recording.
#[derive(Debug, Clone)]
pub struct PendingMarker {
    wav: PathBuf,
    path: PathBuf,
}

impl PendingMarker {
    /// The marker of `wav`.
    pub fn for_wav(wav: &Path) -> PendingMarker {
        let mut name = wav.as_os_str().to_owned();
        name.push(MARKER_SUFFIX);
        PendingMarker {
            wav: wav.to_owned(),
            path: PathBuf::from(name),
        }
    }

    /// The marker of a marker file name (`x.wav.pending` → `x.wav`), if it is one.
    pub fn from_marker(path: &Path) -> Option<PendingMarker> {
        let s = path.to_str()?;
        let wav = s.strip_suffix(MARKER_SUFFIX)?;
        wav.ends_with(".wav").then(|| PendingMarker {
            wav: PathBuf::from(wav),
            path: path.to_owned(),
        })
    }

    /// The marker file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recording.
    pub fn wav(&self) -> &Path {
        &self.wav
    }

    /// Writes the marker (and syncs it, so it is there before the first sample).
    pub fn write(
        &self,
        call_id: &str,
        caller_id: &str,
        number_entered: &str,
    ) -> std::io::Result<()> {
        use std::io::Write;
        let text = toml::to_string(&MarkerData {
            call_id: call_id.to_owned(),
            caller_id: caller_id.to_owned(),
            number_entered: number_entered.to_owned(),
        })
        .map_err(std::io::Error::other)?;
        let mut f = std::fs::File::create(&self.path)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    }

    /// Reads it back.
    pub fn read(&self) -> Result<MarkerData, String> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| e.to_string())?;
        toml::from_str(&text).map_err(|e| e.to_string())
    }

    /// Removes it (a missing marker is fine).
    pub fn remove(&self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove voicemail marker")
            }
        }
    }
}

/// The IVR's backend, removing a recording's marker once the core has registered it.
pub struct MarkingBackend {
    inner: Arc<dyn Backend>,
}

impl MarkingBackend {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Backend>) -> MarkingBackend {
        MarkingBackend { inner }
    }
}

#[async_trait]
impl Backend for MarkingBackend {
    async fn create_report(&self, report: &NewReport) -> Result<ReportCreated, BackendError> {
        self.inner.create_report(report).await
    }

    async fn latest_ticket(&self, number: &str) -> Result<Option<TicketState>, BackendError> {
        self.inner.latest_ticket(number).await
    }

    async fn agents_available(&self) -> Result<bool, BackendError> {
        self.inner.agents_available().await
    }

    async fn save_voicemail(&self, voicemail: &NewVoicemail) -> Result<(), BackendError> {
        self.inner.save_voicemail(voicemail).await?;
        PendingMarker::for_wav(&voicemail.path).remove();
        Ok(())
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Call ids of messages repaired and registered.
    pub registered: Vec<String>,
    /// Recordings under the minimum length, deleted.
    pub discarded: Vec<PathBuf>,
    /// Markers left for the next start (core unreachable or refusing), with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// Markers skipped because their WAV is still being written (younger than `quiet`).
    pub busy: Vec<PathBuf>,
}

/// Sweeps `dir` (see the module docs). `min_duration` is the voicemail minimum; `quiet`
/// how long a WAV must have been untouched to count as abandoned.
pub async fn sweep(
    dir: &Path,
    backend: &dyn Backend,
    min_duration: Duration,
    quiet: Duration,
) -> SweepReport {
    let mut report = SweepReport::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the voicemail directory");
            return report;
        }
    };
    let mut markers: Vec<PendingMarker> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| PendingMarker::from_marker(&e.path()))
        .collect();
    markers.sort_by(|a, b| a.path.cmp(&b.path));
    for m in markers {
        sweep_one(&m, backend, min_duration, quiet, &mut report).await;
    }
    if !report.registered.is_empty() || !report.failed.is_empty() {
        tracing::info!(
            registered = report.registered.len(),
            discarded = report.discarded.len(),
            failed = report.failed.len(),
            busy = report.busy.len(),
            "voicemail sweep"
        );
    }
    report
}

async fn sweep_one(
    m: &PendingMarker,
    backend: &dyn Backend,
    min_duration: Duration,
    quiet: Duration,
    report: &mut SweepReport,
) {
    let wav = m.wav();
    let meta = match std::fs::metadata(wav) {
        Ok(meta) => meta,
        Err(_) => {
            tracing::info!(marker = %m.path().display(), "marker without a recording; removed");
            m.remove();
            return;
        }
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or(Duration::MAX);
    if age < quiet {
        report.busy.push(wav.to_owned());
        return;
    }
    let data = match m.read() {
        Ok(d) => d,
        Err(e) => {
            // Unreadable marker: the call id is the file's stem (the flow names files so).
            tracing::warn!(marker = %m.path().display(), error = %e, "unreadable marker; using the file name");
            MarkerData {
                call_id: wav
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("call")
                    .to_owned(),
                caller_id: String::new(),
                number_entered: String::new(),
            }
        }
    };
    let bytes = match hotline_media::wav::repair_wav(wav) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(path = %wav.display(), error = %e, "recording left by a crash cannot be repaired");
            report.failed.push((wav.to_owned(), e.to_string()));
            return;
        }
    };
    // 8 kHz, 16-bit mono: 16 bytes per millisecond.
    let duration = Duration::from_millis(u64::from(bytes) / 16);
    if duration < min_duration {
        tracing::info!(path = %wav.display(), ?duration, "recording left by a crash is too short; deleted");
        let _ = std::fs::remove_file(wav);
        m.remove();
        report.discarded.push(wav.to_owned());
        return;
    }
    let vm = NewVoicemail {
        call_id: data.call_id.clone(),
        caller_id: data.caller_id,
        number_entered: data.number_entered.clone(),
        path: wav.to_owned(),
        duration,
    };
    match backend.save_voicemail(&vm).await {
        Ok(()) => {
            tracing::info!(call_id = %data.call_id, path = %wav.display(), ?duration, "recovered voicemail registered");
            m.remove();
            report.registered.push(data.call_id);
        }
        Err(e) => {
            tracing::error!(call_id = %data.call_id, error = %e, "recovered voicemail not registered; kept for the next start");
            report.failed.push((wav.to_owned(), e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_names() {
        let m = PendingMarker::for_wav(Path::new("/v/abc@h.wav"));
        assert_eq!(m.path(), Path::new("/v/abc@h.wav.pending"));
        let back = PendingMarker::from_marker(m.path()).unwrap();
        assert_eq!(back.wav(), Path::new("/v/abc@h.wav"));
        assert!(PendingMarker::from_marker(Path::new("/v/x.wav")).is_none());
        assert!(PendingMarker::from_marker(Path::new("/v/x.txt.pending")).is_none());
    }

    #[test]
    fn sf9_marker_keeps_the_number_entered_and_reads_old_markers() {
        let dir = std::env::temp_dir().join(format!("hotline-marker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = PendingMarker::for_wav(&dir.join("c1.wav"));
        m.write("c1@h", "13500135000", "01066554433").unwrap();
        assert_eq!(
            m.read().unwrap(),
            MarkerData {
                call_id: "c1@h".into(),
                caller_id: "13500135000".into(),
                number_entered: "01066554433".into(),
            }
        );
        // A marker written before `number_entered` existed still reads.
        std::fs::write(m.path(), "call_id = \"c0@h\"\ncaller_id = \"1\"\n").unwrap();
        let old = m.read().unwrap();
        assert_eq!(
            (old.call_id.as_str(), old.number_entered.as_str()),
            ("c0@h", "")
        );
        m.remove();
        assert!(!m.path().exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
