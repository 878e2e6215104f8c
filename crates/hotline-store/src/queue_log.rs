//! The ACD's queue log (JO2, PR1): append-only rows in the shape of Asterisk's `queue_log`.
//! The core writes what the ACD state machine logs; metrics are computed from these rows.

use crate::{Result, Store};
use hotline_domain::Timestamp;
use sqlx::Row;

/// One queue event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueLogRow {
    pub id: i64,
    pub at: Timestamp,
    pub call_id: String,
    pub queue: String,
    /// Empty when no agent is involved.
    pub agent: String,
    /// Asterisk's event name: ENTERQUEUE, CONNECT, RINGNOANSWER, ...
    pub event: String,
    pub data: [String; 3],
}

/// Rows per INSERT statement (9 binds each, well under both backends' limits).
const CHUNK: usize = 200;

impl Store {
    /// Appends rows in one transaction, in the given order.
    pub async fn append_queue_log(&self, rows: &[QueueLogRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(CHUNK) {
            let mut sql = String::from(
                "INSERT INTO queue_log (at, call_id, queue, agent, event, data1, data2, data3) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 8;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                ));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.at.0)
                    .bind(r.call_id.as_str())
                    .bind(r.queue.as_str())
                    .bind(r.agent.as_str())
                    .bind(r.event.as_str())
                    .bind(r.data[0].as_str())
                    .bind(r.data[1].as_str())
                    .bind(r.data[2].as_str());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Rows at or after `since`, oldest first, at most `limit`.
    pub async fn queue_log_since(&self, since: Timestamp, limit: u32) -> Result<Vec<QueueLogRow>> {
        let rows = sqlx::query(
            "SELECT id, at, call_id, queue, agent, event, data1, data2, data3 FROM queue_log WHERE at >= $1 ORDER BY at, id LIMIT $2",
        )
        .bind(since.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueLogRow {
                    id: r.try_get("id")?,
                    at: Timestamp(r.try_get("at")?),
                    call_id: r.try_get("call_id")?,
                    queue: r.try_get("queue")?,
                    agent: r.try_get("agent")?,
                    event: r.try_get("event")?,
                    data: [
                        r.try_get("data1")?,
                        r.try_get("data2")?,
                        r.try_get("data3")?,
                    ],
                })
            })
            .collect()
    }
}
