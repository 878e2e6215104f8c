//! Scheduled reports (issue 17): the metadata of the daily and monthly report files the
//! scheduler keeps in the document store, one per (kind, period, format).

use crate::rows::parse;
use crate::{Result, Store, StoreError};
use hotline_domain::Timestamp;
use hotline_domain::analysis::ScheduledReportKind;
use sqlx::Row;

/// A stored scheduled report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledReportRecord {
    pub id: i64,
    pub kind: ScheduledReportKind,
    /// `2026-11-30` (daily) or `2026-11` (monthly).
    pub period: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    /// `xlsx`.
    pub format: String,
    pub file_name: String,
    /// The file's SHA-256 in the document store (hex).
    pub sha256: String,
    pub size: i64,
    pub title: String,
    pub generated_at: Timestamp,
}

const COLUMNS: &str = "id, kind, period, period_start, period_end, format, file_name, sha256, size, title, generated_at";

fn record(r: &sqlx::any::AnyRow) -> Result<ScheduledReportRecord> {
    Ok(ScheduledReportRecord {
        id: r.try_get("id")?,
        kind: parse(
            "scheduled report kind",
            &r.try_get::<String, _>("kind")?,
            ScheduledReportKind::parse,
        )?,
        period: r.try_get("period")?,
        period_start: Timestamp(r.try_get("period_start")?),
        period_end: Timestamp(r.try_get("period_end")?),
        format: r.try_get("format")?,
        file_name: r.try_get("file_name")?,
        sha256: r.try_get("sha256")?,
        size: r.try_get("size")?,
        title: r.try_get("title")?,
        generated_at: Timestamp(r.try_get("generated_at")?),
    })
}

impl Store {
    /// Whether the report of (kind, period, format) is stored.
    pub async fn has_scheduled_report(
        &self,
        kind: ScheduledReportKind,
        period: &str,
        format: &str,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 AS x FROM scheduled_reports WHERE kind = $1 AND period = $2 AND format = $3",
        )
        .bind(kind.as_str())
        .bind(period)
        .bind(format)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Records a generated report; `None` when another core stored it first.
    pub async fn insert_scheduled_report(
        &self,
        r: &ScheduledReportRecord,
    ) -> Result<Option<ScheduledReportRecord>> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query("INSERT INTO scheduled_reports (kind, period, period_start, period_end, format, file_name, sha256, size, title, generated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
            .bind(r.kind.as_str())
            .bind(&r.period)
            .bind(r.period_start.0)
            .bind(r.period_end.0)
            .bind(&r.format)
            .bind(&r.file_name)
            .bind(&r.sha256)
            .bind(r.size)
            .bind(&r.title)
            .bind(r.generated_at.0)
            .fetch_one(&mut *tx)
            .await;
        match inserted {
            Ok(row) => {
                let id: i64 = row.try_get("id")?;
                tx.commit().await?;
                Ok(Some(ScheduledReportRecord { id, ..r.clone() }))
            }
            Err(e) => {
                let _ = tx.rollback().await;
                match StoreError::from(e) {
                    StoreError::Duplicate(_) => Ok(None),
                    e => Err(e),
                }
            }
        }
    }

    /// Scheduled reports, the latest period end first (at one end, the month before its last
    /// day); `kind` `None`: both.
    pub async fn scheduled_reports(
        &self,
        kind: Option<ScheduledReportKind>,
        limit: u32,
    ) -> Result<Vec<ScheduledReportRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM scheduled_reports WHERE ($1 = '' OR kind = $1) ORDER BY period_end DESC, period_start, id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind.map_or("", |k| k.as_str()))
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record).collect()
    }

    /// One scheduled report.
    pub async fn scheduled_report(&self, id: i64) -> Result<ScheduledReportRecord> {
        let sql = format!("SELECT {COLUMNS} FROM scheduled_reports WHERE id = $1");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("scheduled report {id}")))?;
        record(&r)
    }
}
