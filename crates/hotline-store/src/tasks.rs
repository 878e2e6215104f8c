//! Follow-up work the workflow leaves behind: callbacks to customers whose dispatch was
//! rejected (SO4), callback surveys after a repair (SS2), originals of letters, faxes and
//! e-mails to be filed by the data manager (TE3). Completing one appends an audit row to its
//! ticket in the same transaction.

use crate::rows::parse;
use crate::tickets::audit;
use crate::{Result, Store, StoreError};
use hotline_domain::audit::AuditAction;
use hotline_domain::task::TaskKind;
use hotline_domain::{OrderId, Role, TicketId, Timestamp};
use sqlx::Row;

/// A task as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub ticket_id: TicketId,
    pub kind: TaskKind,
    pub order_id: Option<OrderId>,
    pub created_at: Timestamp,
    pub done_at: Option<Timestamp>,
    pub note: String,
}

const COLUMNS: &str = "SELECT id, ticket_id, kind, order_id, created_at, done_at, note FROM tasks";

fn row(r: &sqlx::any::AnyRow) -> Result<Task> {
    Ok(Task {
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        kind: parse(
            "task kind",
            &r.try_get::<String, _>("kind")?,
            TaskKind::parse,
        )?,
        order_id: r.try_get("order_id")?,
        created_at: Timestamp(r.try_get("created_at")?),
        done_at: r.try_get::<Option<i64>, _>("done_at")?.map(Timestamp),
        note: r.try_get("note")?,
    })
}

/// Why a task could not be completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompleteOutcome {
    Done(Task),
    /// Someone completed it first (at that time).
    AlreadyDone(Task),
}

impl Store {
    /// Tasks of the given kinds, open ones only unless `include_done`, oldest first, with an
    /// id above `after_id` (page token).
    pub async fn list_tasks(
        &self,
        kinds: &[TaskKind],
        include_done: bool,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<Task>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "{COLUMNS} WHERE id > $1 AND ($2 = 1 OR done_at IS NULL) AND kind IN ({}) ORDER BY id LIMIT {}",
            marks.join(", "),
            limit.min(1000)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after_id)
            .bind(i64::from(include_done));
        for k in kinds {
            q = q.bind(k.as_str());
        }
        q.fetch_all(&self.pool).await?.iter().map(row).collect()
    }

    pub async fn get_task(&self, id: i64) -> Result<Task> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("task {id}")))?;
        row(&r)
    }

    /// Marks a task done (once: a conditional update decides between two agents) and audits
    /// it on its ticket.
    pub async fn complete_task(
        &self,
        id: i64,
        actor: &str,
        role: Role,
        at: Timestamp,
        note: &str,
    ) -> Result<CompleteOutcome> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE tasks SET done_at = $1, note = $2 WHERE id = $3 AND done_at IS NULL",
        )
        .bind(at.0)
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("task {id}")))?;
        let task = row(&r)?;
        if !done {
            tx.rollback().await?;
            return Ok(CompleteOutcome::AlreadyDone(task));
        }
        let status = crate::tickets::current_status(&mut tx, task.ticket_id).await?;
        audit(
            &mut tx,
            task.ticket_id,
            task.order_id,
            actor,
            role,
            at,
            AuditAction::TaskDone(task.kind),
            Some(status),
            Some(status),
            note,
        )
        .await?;
        tx.commit().await?;
        Ok(CompleteOutcome::Done(task))
    }
}
