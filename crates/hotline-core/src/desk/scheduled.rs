//! Scheduled reports (issue 17): after midnight (Beijing) the daily report of the day before,
//! on the 1st the monthly report of the month before, each the full report (every section) as
//! XLSX, generated once and kept in the document store (content-addressed, checked on every
//! read) with a row of metadata. The scheduler calls [`Desk::generate_scheduled_reports`];
//! those who run the centre list and download them over `ReportService`.

use super::Desk;
use super::reports::{QueueSource, ReportQuery, file_name};
use crate::error::CoreError;
use hotline_docstore::{Digest, DocumentStore};
use hotline_domain::Timestamp;
use hotline_domain::analysis::ScheduledReportKind;
use hotline_report::{ExportFormat, Period, ReportKind};
use hotline_store::ScheduledReportRecord;

/// The format the scheduler keeps (a sheet per section, Chinese headers).
pub const SCHEDULED_FORMAT: ExportFormat = ExportFormat::Xlsx;

/// The period a scheduled report of `kind` made at `now` covers, and its key (`2026-11-30`,
/// `2026-11`).
pub fn scheduled_period(kind: ScheduledReportKind, now: Timestamp) -> (String, Period) {
    match kind {
        ScheduledReportKind::Daily => {
            let p = Period::yesterday(now.0);
            (p.from.to_string(), p)
        }
        ScheduledReportKind::Monthly => {
            let p = Period::last_month(now.0);
            (
                format!("{:04}-{:02}", p.from.year(), p.from.month() as u8),
                p,
            )
        }
    }
}

impl Desk {
    /// Makes the scheduled reports due at the clock's now that are not stored yet; returns
    /// the ones this call stored (another core may have stored one first: it is skipped).
    pub async fn generate_scheduled_reports(
        &self,
        docs: &dyn DocumentStore,
        src: &QueueSource,
    ) -> Result<Vec<ScheduledReportRecord>, CoreError> {
        let now = self.clock.now();
        let format = SCHEDULED_FORMAT.as_str();
        let mut made = Vec::new();
        for kind in ScheduledReportKind::ALL {
            let (key, period) = scheduled_period(kind, now);
            if self.store.has_scheduled_report(kind, &key, format).await? {
                continue;
            }
            let report = self
                .report(
                    ReportQuery {
                        kind: ReportKind::Full,
                        branch: None,
                        period: period.clone(),
                    },
                    QueueSource {
                        rules: src.rules,
                        queue: src.queue,
                    },
                )
                .await?;
            let title = format!("{}（{}）", kind.label_zh(), period.label());
            let name = format!("{}-{}", kind.as_str(), file_name(&report, SCHEDULED_FORMAT));
            let bytes = self.export_report(report, SCHEDULED_FORMAT).await?;
            let stored = docs.put(&bytes).await.map_err(|e| {
                CoreError::Internal(format!("storing the {} report: {e}", kind.as_str()))
            })?;
            let rec = ScheduledReportRecord {
                id: 0,
                kind,
                period: key,
                period_start: Timestamp(period.start_ms),
                period_end: Timestamp(period.end_ms),
                format: format.to_owned(),
                file_name: name,
                sha256: stored.digest.to_hex(),
                size: bytes.len() as i64,
                title,
                generated_at: now,
            };
            if let Some(r) = self.store.insert_scheduled_report(&rec).await? {
                tracing::info!(kind = kind.as_str(), period = %r.period, size = r.size, "scheduled report stored");
                made.push(r);
            }
        }
        Ok(made)
    }

    /// The stored scheduled reports, newest first.
    pub async fn scheduled_reports(
        &self,
        kind: Option<ScheduledReportKind>,
        limit: u32,
    ) -> Result<Vec<ScheduledReportRecord>, CoreError> {
        let limit = if limit == 0 { 60 } else { limit.min(1000) };
        Ok(self.store.scheduled_reports(kind, limit).await?)
    }

    /// A scheduled report and its file, checked against its SHA-256.
    pub async fn scheduled_report_file(
        &self,
        docs: &dyn DocumentStore,
        id: i64,
    ) -> Result<(ScheduledReportRecord, Vec<u8>), CoreError> {
        let rec = self.store.scheduled_report(id).await?;
        let digest = Digest::parse(&rec.sha256)
            .map_err(|e| CoreError::Internal(format!("scheduled report {id}: {e}")))?;
        let bytes = docs
            .get(&digest)
            .await
            .map_err(|e| CoreError::Internal(format!("scheduled report {id}: {e}")))?;
        Ok((rec, bytes))
    }
}
