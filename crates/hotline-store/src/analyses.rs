//! Periodic analyses (SS5): one draft per (kind, period), written with its publication limit
//! in one transaction; published once (the limit met in the same transaction); the limit's
//! warning and breach raised once each, like a ticket's deadlines.

use crate::alerts::{AlertRecord, DeadlineOwner, DueLevel, raise_once};
use crate::rows::parse;
use crate::{Result, Store, StoreError};
use hotline_domain::Timestamp;
use hotline_domain::analysis::{AnalysisKind, AnalysisState};
use hotline_domain::rules::AlertKind;
use sqlx::Row;
use sqlx::any::AnyRow;

/// The one kind of an analysis's deadline (`analysis_deadlines.kind`).
const PUBLISH: &str = "publish";

const COLUMNS: &str = "SELECT id, kind, period, period_start, period_end, state, title, body, drafted_at, published_by, published_at, publish_note FROM analyses";

/// A stored analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisRecord {
    pub id: i64,
    pub kind: AnalysisKind,
    /// `2026-11` (monthly) or `2026-11-23` (the week's Monday).
    pub period: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    pub state: AnalysisState,
    pub title: String,
    /// The analysis itself (zh-CN text).
    pub body: String,
    pub drafted_at: Timestamp,
    pub published_by: Option<String>,
    pub published_at: Option<Timestamp>,
    pub publish_note: String,
}

/// A draft to store.
#[derive(Clone, Debug)]
pub struct NewAnalysis {
    pub kind: AnalysisKind,
    pub period: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    pub title: String,
    pub body: String,
    pub now: Timestamp,
    /// `(warn_at, due_at)` of its publication, if it has a limit.
    pub limit: Option<(Timestamp, Timestamp)>,
}

/// A publication limit due for a warning or a breach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueAnalysisDeadline {
    pub analysis_id: i64,
    pub kind: AnalysisKind,
    pub period: String,
    pub level: DueLevel,
    pub due_at: Timestamp,
}

fn kind_col(r: &AnyRow) -> Result<AnalysisKind> {
    parse(
        "analysis kind",
        &r.try_get::<String, _>("kind")?,
        AnalysisKind::parse,
    )
}

fn record(r: &AnyRow) -> Result<AnalysisRecord> {
    Ok(AnalysisRecord {
        id: r.try_get("id")?,
        kind: kind_col(r)?,
        period: r.try_get("period")?,
        period_start: Timestamp(r.try_get("period_start")?),
        period_end: Timestamp(r.try_get("period_end")?),
        state: parse(
            "analysis state",
            &r.try_get::<String, _>("state")?,
            AnalysisState::parse,
        )?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        drafted_at: Timestamp(r.try_get("drafted_at")?),
        published_by: r.try_get("published_by")?,
        published_at: r.try_get::<Option<i64>, _>("published_at")?.map(Timestamp),
        publish_note: r.try_get("publish_note")?,
    })
}

impl Store {
    /// Whether the analysis of `(kind, period)` exists.
    pub async fn analysis_exists(&self, kind: AnalysisKind, period: &str) -> Result<bool> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM analyses WHERE kind = $1 AND period = $2")
                .bind(kind.as_str())
                .bind(period)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    /// Whether any ticket was received before `t` (a period before the centre's first ticket
    /// has nothing to analyse).
    pub async fn any_ticket_before(&self, t: Timestamp) -> Result<bool> {
        let r = sqlx::query("SELECT id FROM tickets WHERE received_at < $1 LIMIT 1")
            .bind(t.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.is_some())
    }

    /// Stores a draft once per (kind, period), with its publication limit: the record and
    /// whether it is new (a second draft of the same period writes nothing).
    pub async fn draft_analysis(&self, a: &NewAnalysis) -> Result<(AnalysisRecord, bool)> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar("INSERT INTO analyses (kind, period, period_start, period_end, state, title, body, drafted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (kind, period) DO NOTHING RETURNING id")
            .bind(a.kind.as_str())
            .bind(&a.period)
            .bind(a.period_start.0)
            .bind(a.period_end.0)
            .bind(AnalysisState::Draft.as_str())
            .bind(&a.title)
            .bind(&a.body)
            .bind(a.now.0)
            .fetch_optional(&mut *tx)
            .await?;
        let fresh = id.is_some();
        if let (Some(id), Some((warn_at, due_at))) = (id, a.limit) {
            sqlx::query("INSERT INTO analysis_deadlines (analysis_id, kind, due_at, warn_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(PUBLISH)
                .bind(due_at.0)
                .bind(warn_at.0)
                .execute(&mut *tx)
                .await?;
        }
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE kind = $1 AND period = $2"
        )))
        .bind(a.kind.as_str())
        .bind(&a.period)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((record(&r)?, fresh))
    }

    pub async fn get_analysis(&self, id: i64) -> Result<AnalysisRecord> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("analysis {id}")))?;
        record(&r)
    }

    /// Analyses of a kind (`None`: all), newest period first.
    pub async fn list_analyses(
        &self,
        kind: Option<AnalysisKind>,
        limit: u32,
    ) -> Result<Vec<AnalysisRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE ($1 = '' OR kind = $1) ORDER BY period_start DESC, id DESC LIMIT $2"
        )))
        .bind(kind.map_or("", AnalysisKind::as_str))
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
    }

    /// Publishes a draft and meets its limit, in one transaction. `None` when it is no longer
    /// a draft (published meanwhile); nothing changes then.
    pub async fn publish_analysis(
        &self,
        id: i64,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<Option<AnalysisRecord>> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE analyses SET state = $1, published_by = $2, published_at = $3, publish_note = $4 WHERE id = $5 AND state = $6")
            .bind(AnalysisState::Published.as_str())
            .bind(by)
            .bind(now.0)
            .bind(note)
            .bind(id)
            .bind(AnalysisState::Draft.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(
            "UPDATE analysis_deadlines SET met_at = $1 WHERE analysis_id = $2 AND met_at IS NULL",
        )
        .bind(now.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(record(&r)?))
    }

    /// Unpublished analyses whose warning or due time has come (a breach only, when both are).
    pub async fn due_analysis_deadlines(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueAnalysisDeadline>> {
        let rows = sqlx::query("SELECT d.analysis_id, a.kind, a.period, d.due_at, d.breached_at FROM analysis_deadlines d JOIN analyses a ON a.id = d.analysis_id WHERE d.met_at IS NULL AND ((d.breached_at IS NULL AND d.due_at <= $1) OR (d.warned_at IS NULL AND d.warn_at <= $2)) ORDER BY d.warn_at LIMIT $3")
            .bind(now.0)
            .bind(now.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let due_at = Timestamp(r.try_get("due_at")?);
                let breached: Option<i64> = r.try_get("breached_at")?;
                Ok(DueAnalysisDeadline {
                    analysis_id: r.try_get("analysis_id")?,
                    kind: kind_col(r)?,
                    period: r.try_get("period")?,
                    level: if breached.is_none() && due_at <= now {
                        DueLevel::Breach
                    } else {
                        DueLevel::Warning
                    },
                    due_at,
                })
            })
            .collect()
    }

    /// The earliest future warning or due time of an unpublished analysis.
    pub async fn next_analysis_deadline_at(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT MIN(CASE WHEN warned_at IS NULL THEN warn_at ELSE due_at END) AS t FROM analysis_deadlines WHERE met_at IS NULL AND breached_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("t")?.map(Timestamp))
    }

    /// Marks a due publication limit warned or breached and records the alert (ticket 0,
    /// this analysis), once: `None` if it was already raised.
    pub async fn raise_analysis_alert(
        &self,
        due: &DueAnalysisDeadline,
        now: Timestamp,
        message: &str,
    ) -> Result<Option<AlertRecord>> {
        raise_once(
            self,
            DeadlineOwner::Analysis(due.analysis_id),
            PUBLISH,
            AlertKind::Analysis,
            due.level,
            due.due_at,
            now,
            message,
        )
        .await
    }

    /// Alerts raised on an analysis, oldest first.
    pub async fn analysis_alerts(&self, id: i64) -> Result<Vec<AlertRecord>> {
        let rows = sqlx::query("SELECT id, ticket_id, deadline_kind, level, at, due_at, message FROM alerts WHERE analysis_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(crate::alerts::alert_row).collect()
    }
}
