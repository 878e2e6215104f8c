//! The deadline scheduler's storage: which deadlines are due for a warning (预警) or a breach
//! (超时), marking them and recording the alert in one transaction, and alert queries/counts.
//! Deadlines live in the database, so the scheduler resumes after a restart.

use crate::{Result, Store};
use hotline_domain::order::OutboxKind;
use hotline_domain::rules::{AlertKind, DeadlineKind};
use hotline_domain::{TicketId, Timestamp};
use sqlx::AnyConnection;
use sqlx::Row;

pub use hotline_domain::rules::DueLevel;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDeadline {
    pub ticket_id: TicketId,
    pub kind: DeadlineKind,
    pub level: DueLevel,
    pub due_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: i64,
    pub ticket_id: TicketId,
    pub deadline_kind: AlertKind,
    pub level: DueLevel,
    pub at: Timestamp,
    pub due_at: Timestamp,
    pub message: String,
}

/// Whose deadline is due: a ticket's (`deadlines`), a document's (`document_deadlines`) or an
/// analysis's (`analysis_deadlines`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeadlineOwner {
    Ticket(TicketId),
    Document(i64),
    Analysis(i64),
}

impl DeadlineOwner {
    fn table_and_key(self) -> (&'static str, &'static str, i64) {
        match self {
            DeadlineOwner::Ticket(id) => ("deadlines", "ticket_id", id),
            DeadlineOwner::Document(id) => ("document_deadlines", "document_id", id),
            DeadlineOwner::Analysis(id) => ("analysis_deadlines", "analysis_id", id),
        }
    }

    fn ticket(self) -> TicketId {
        match self {
            DeadlineOwner::Ticket(id) => id,
            DeadlineOwner::Document(_) | DeadlineOwner::Analysis(_) => 0,
        }
    }

    fn document(self) -> Option<i64> {
        match self {
            DeadlineOwner::Document(id) => Some(id),
            _ => None,
        }
    }

    fn analysis(self) -> Option<i64> {
        match self {
            DeadlineOwner::Analysis(id) => Some(id),
            _ => None,
        }
    }
}

/// Marks an unmet deadline warned or breached (a breach also counts as warned, so no late
/// warning follows it). `false` when another scheduler, or an earlier run, already did.
pub(crate) async fn mark_raised(
    conn: &mut AnyConnection,
    owner: DeadlineOwner,
    kind: &str,
    level: DueLevel,
    now: Timestamp,
) -> Result<bool> {
    let (table, key, id) = owner.table_and_key();
    let sql = match level {
        DueLevel::Breach => format!(
            "UPDATE {table} SET breached_at = $1, warned_at = COALESCE(warned_at, $1) WHERE {key} = $2 AND kind = $3 AND breached_at IS NULL AND met_at IS NULL"
        ),
        DueLevel::Warning => format!(
            "UPDATE {table} SET warned_at = $1 WHERE {key} = $2 AND kind = $3 AND warned_at IS NULL AND met_at IS NULL"
        ),
    };
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now.0)
        .bind(id)
        .bind(kind)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Records an alert; a document's or an analysis's alert has ticket 0 and the owner's id.
pub(crate) async fn insert_alert(
    conn: &mut AnyConnection,
    owner: DeadlineOwner,
    kind: AlertKind,
    level: DueLevel,
    at: Timestamp,
    due_at: Timestamp,
    message: &str,
) -> Result<AlertRecord> {
    let row = sqlx::query("INSERT INTO alerts (ticket_id, deadline_kind, level, at, due_at, message, document_id, analysis_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
        .bind(owner.ticket())
        .bind(kind.as_str())
        .bind(level.as_str())
        .bind(at.0)
        .bind(due_at.0)
        .bind(message)
        .bind(owner.document())
        .bind(owner.analysis())
        .fetch_one(conn)
        .await?;
    Ok(AlertRecord {
        id: row.try_get("id")?,
        ticket_id: owner.ticket(),
        deadline_kind: kind,
        level,
        at,
        due_at,
        message: message.to_string(),
    })
}

/// Marks `owner`'s due deadline `deadline_kind` warned or breached and records its alert, in one
/// transaction, once: `None` if another scheduler or an earlier pass already raised it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn raise_once(
    store: &Store,
    owner: DeadlineOwner,
    deadline_kind: &str,
    alert: AlertKind,
    level: DueLevel,
    due_at: Timestamp,
    now: Timestamp,
    message: &str,
) -> Result<Option<AlertRecord>> {
    let mut tx = store.begin_write().await?;
    if !mark_raised(&mut tx, owner, deadline_kind, level, now).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let a = insert_alert(&mut tx, owner, alert, level, now, due_at, message).await?;
    tx.commit().await?;
    Ok(Some(a))
}

pub(crate) fn alert_row(r: &sqlx::any::AnyRow) -> Result<AlertRecord> {
    Ok(AlertRecord {
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        deadline_kind: crate::rows::parse(
            "alert kind",
            &r.try_get::<String, _>("deadline_kind")?,
            AlertKind::parse,
        )?,
        level: crate::rows::parse(
            "alert level",
            &r.try_get::<String, _>("level")?,
            DueLevel::parse,
        )?,
        at: Timestamp(r.try_get("at")?),
        due_at: Timestamp(r.try_get("due_at")?),
        message: r.try_get("message")?,
    })
}

impl Store {
    /// Unmet deadlines whose warning or due time has come, earliest first. A deadline both
    /// warned-due and breach-due is reported as a breach only.
    pub async fn due_deadlines(&self, now: Timestamp, limit: u32) -> Result<Vec<DueDeadline>> {
        let rows = sqlx::query("SELECT ticket_id, kind, due_at, warn_at, warned_at, breached_at FROM deadlines WHERE met_at IS NULL AND ((breached_at IS NULL AND due_at <= $1) OR (warned_at IS NULL AND warn_at <= $2)) ORDER BY warn_at LIMIT $3")
            .bind(now.0)
            .bind(now.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind = crate::rows::parse(
                "deadline",
                &r.try_get::<String, _>("kind")?,
                DeadlineKind::parse,
            )?;
            let due_at = Timestamp(r.try_get("due_at")?);
            let breached: Option<i64> = r.try_get("breached_at")?;
            let level = if breached.is_none() && due_at <= now {
                DueLevel::Breach
            } else {
                DueLevel::Warning
            };
            out.push(DueDeadline {
                ticket_id: r.try_get("ticket_id")?,
                kind,
                level,
                due_at,
            });
        }
        Ok(out)
    }

    /// The earliest future warning or due time of an unmet deadline (for the scheduler's sleep).
    pub async fn next_deadline_at(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT MIN(CASE WHEN warned_at IS NULL THEN warn_at ELSE due_at END) AS t FROM deadlines WHERE met_at IS NULL AND breached_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("t")?.map(Timestamp))
    }

    /// Marks a due deadline warned or breached and records the alert, once: returns `None` if
    /// another scheduler (or an earlier run) already did.
    pub async fn raise_alert(
        &self,
        due: &DueDeadline,
        now: Timestamp,
        message: &str,
    ) -> Result<Option<AlertRecord>> {
        let mut tx = self.begin_write().await?;
        let owner = DeadlineOwner::Ticket(due.ticket_id);
        if !mark_raised(&mut tx, owner, due.kind.as_str(), due.level, now).await? {
            return Ok(None);
        }
        let alert = insert_alert(
            &mut tx,
            owner,
            due.kind.into(),
            due.level,
            now,
            due.due_at,
            message,
        )
        .await?;
        if due.kind == DeadlineKind::Repair && due.level == DueLevel::Breach {
            // SS3 催单: a dispatched order past its repair limit is urged at the centre, through
            // the outbox like every other message to it.
            let dispatch: Option<Option<i64>> = sqlx::query(
                "SELECT dispatch_order FROM tickets WHERE id = $1 AND status = 'dispatched'",
            )
            .bind(due.ticket_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("dispatch_order"))
            .transpose()?;
            if let Some(Some(order)) = dispatch {
                let payload = serde_json::json!({"order_id": order, "ticket_id": due.ticket_id, "kind": OutboxKind::Urge.as_str(), "note": message}).to_string();
                sqlx::query("INSERT INTO outbox (ticket_id, order_id, kind, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(due.ticket_id)
                    .bind(order)
                    .bind(OutboxKind::Urge.as_str())
                    .bind(payload)
                    .bind(now.0)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(alert))
    }

    /// Newest first, optionally for one ticket.
    pub async fn list_alerts(
        &self,
        ticket: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>> {
        let limit = i64::from(limit.clamp(1, 1000));
        let rows = match ticket {
            Some(t) => sqlx::query("SELECT id, ticket_id, deadline_kind, level, at, due_at, message FROM alerts WHERE ticket_id = $1 ORDER BY id DESC LIMIT $2")
                .bind(t)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
            None => sqlx::query("SELECT id, ticket_id, deadline_kind, level, at, due_at, message FROM alerts ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        };
        rows.iter().map(alert_row).collect()
    }

    /// Alerts counted by (deadline kind, level), for reports.
    pub async fn alert_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query("SELECT deadline_kind, level, COUNT(*) AS n FROM alerts GROUP BY deadline_kind, level ORDER BY deadline_kind, level")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("deadline_kind")?,
                    r.try_get("level")?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }
}
