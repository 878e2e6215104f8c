//! The outbox side of delivery to the 112 centre: which rows are due, marking them delivered,
//! failed (with backoff) or parked, and applying the centre's events idempotently.
//!
//! Invariants: an order is marked delivered only after the centre's 2xx; rows of one ticket are
//! handed out strictly in id order (a later row waits while an earlier one is undelivered); an
//! event id is applied at most once, and an event never moves an order's centre status to a
//! lower rank or to an older event time.

use crate::rows::DeliveryState;
use crate::{Result, Store, StoreError};
use hotline_domain::audit::DeskEventKind;
use hotline_domain::order::{CenterStatus, OrderId, OutboxKind};
use hotline_domain::rules::{AlertKind, DueLevel};
use hotline_domain::{TicketId, Timestamp};
use sqlx::Row;

/// An outbox row's kind as stored; an unknown one is corruption, not a row to skip.
fn outbox_kind(s: &str) -> Result<OutboxKind> {
    OutboxKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown outbox kind {s:?}")))
}

/// One outbox row to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub ticket_id: TicketId,
    pub order_id: OrderId,
    pub kind: OutboxKind,
    pub payload: String,
    pub attempts: i64,
    pub created_at: Timestamp,
    /// The centre's id of the ticket's current dispatch, once delivered.
    pub dispatch_center_ref: Option<String>,
}

/// A row the centre acknowledged, with what it answered and when.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub row: OutboxRow,
    pub center_ref: Option<String>,
    pub center_status: Option<CenterStatus>,
    pub at: Timestamp,
}

/// What applying a centre event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// Seen before (same event id): nothing changed.
    Duplicate,
    /// Older than, or behind, what the order already shows: nothing changed.
    Stale,
    /// Applied to this order of this ticket.
    Applied {
        ticket_id: TicketId,
        order_id: OrderId,
    },
}

/// A centre status read back from `orders.center_status`.
pub(crate) fn center_status_col(v: Option<String>) -> Result<Option<CenterStatus>> {
    v.map(|v| {
        CenterStatus::parse(&v)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown centre status {v:?}")))
    })
    .transpose()
}

/// Rows per statement of [`Store::record_attempts`] (≤ 9 parameters a row, far below the
/// SQLite and PostgreSQL limits).
const RECORD_CHUNK: usize = 200;

/// `($1, $2), ($3, $4), ...`: `rows` tuples of `width` numbered parameters.
fn placeholders(rows: usize, width: usize) -> String {
    let mut out = String::with_capacity(rows * width * 5);
    crate::create::push_tuples(&mut out, rows, width, 0);
    out
}

impl Store {
    /// Due rows, at most one per ticket (the earliest undelivered), oldest first.
    pub async fn due_outbox(&self, now: Timestamp, limit: u32) -> Result<Vec<OutboxRow>> {
        Ok(self.due_outbox_and_next(now, limit).await?.0)
    }

    /// Due rows (at most one per ticket, the earliest undelivered, oldest first, at most
    /// `limit`), and when fewer than `limit` were due, the earliest later attempt of an
    /// undelivered row (so the caller knows how long it may sleep). A row waiting out its
    /// backoff is never returned before its time.
    ///
    /// "Earliest open row of its ticket" is a correlated `MIN` (a per-row index probe on
    /// `outbox_open_by_ticket`) rather than `NOT EXISTS`: on a PostgreSQL table without
    /// statistics yet (a fresh database under load) the anti-join was planned as a nested
    /// loop over the whole index, O(open rows²) — over a second per look at 10,000 rows.
    pub async fn due_outbox_and_next(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<(Vec<OutboxRow>, Option<Timestamp>)> {
        let rows = sqlx::query(
            "SELECT o.id, o.ticket_id, o.order_id, o.kind, o.payload, o.attempts, o.created_at, d.center_ref
             FROM outbox o
             JOIN tickets t ON t.id = o.ticket_id
             LEFT JOIN orders d ON d.id = t.dispatch_order
             WHERE o.delivered_at IS NULL AND o.parked_at IS NULL AND o.next_attempt_at <= $1
               AND o.id = (SELECT MIN(e.id) FROM outbox e WHERE e.ticket_id = o.ticket_id AND e.delivered_at IS NULL AND e.parked_at IS NULL)
             ORDER BY o.next_attempt_at, o.id LIMIT $2",
        )
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(OutboxRow {
                id: r.try_get("id")?,
                ticket_id: r.try_get("ticket_id")?,
                order_id: r.try_get("order_id")?,
                kind: outbox_kind(&r.try_get::<String, _>("kind")?)?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                created_at: Timestamp(r.try_get("created_at")?),
                dispatch_center_ref: r.try_get("center_ref")?,
            });
        }
        let next = if out.len() < limit as usize {
            let r = sqlx::query("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL AND next_attempt_at > $1")
                .bind(now.0)
                .fetch_one(&self.pool)
                .await?;
            r.try_get::<Option<i64>, _>("t")?.map(Timestamp)
        } else {
            None
        };
        Ok((out, next))
    }

    /// The earliest next attempt of an undelivered row, if any.
    pub async fn next_outbox_at(&self) -> Result<Option<Timestamp>> {
        let r = sqlx::query("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<Option<i64>, _>("t")?.map(Timestamp))
    }

    /// Marks rows delivered after the centre's 2xx, in one transaction; for a (second) dispatch
    /// records the centre's trouble-ticket id on the order. A row already marked is skipped.
    /// (Marking late is safe: a row sent again after a crash is deduplicated by the centre.)
    pub async fn mark_delivered(&self, done: &[Delivered]) -> Result<()> {
        self.record_attempts(done, &[]).await
    }

    /// Records failed attempts and when to try each again, in one transaction.
    pub async fn mark_attempts_failed(
        &self,
        failed: &[(OutboxRow, Timestamp, String)],
    ) -> Result<()> {
        self.record_attempts(&[], failed).await
    }

    /// Group commit of delivery outcomes: rows delivered (see [`Store::mark_delivered`]) and
    /// failed attempts with their next attempt time, all in one transaction, so a busy worker
    /// takes the write lock once per batch rather than once per row.
    pub async fn record_attempts(
        &self,
        done: &[Delivered],
        failed: &[(OutboxRow, Timestamp, String)],
    ) -> Result<()> {
        if done.is_empty() && failed.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        // set-based, a chunk at a time: a few statements per batch rather than three per row
        // (per-row round trips made the commit the bottleneck of a PostgreSQL backlog drain)
        for chunk in done.chunks(RECORD_CHUNK) {
            let sql = format!(
                "UPDATE outbox SET delivered_at = v.column2, attempts = attempts + 1, last_error = '' FROM (VALUES {}) AS v WHERE outbox.id = v.column1 AND outbox.delivered_at IS NULL RETURNING id",
                placeholders(chunk.len(), 2)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in chunk {
                q = q.bind(d.row.id).bind(d.at.0);
            }
            let marked: std::collections::HashSet<i64> = q
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get::<i64, _>("id"))
                .collect::<std::result::Result<_, _>>()?;
            // a row already marked is skipped (its order and audit were written then)
            let fresh: Vec<&Delivered> = chunk
                .iter()
                .filter(|d| marked.contains(&d.row.id))
                .collect();
            let orders: Vec<&&Delivered> = fresh.iter().filter(|d| d.row.kind.is_order()).collect();
            if !orders.is_empty() {
                let sql = format!(
                    "UPDATE orders SET delivery = '{}', center_ref = COALESCE(v.column2, orders.center_ref), center_status = COALESCE(orders.center_status, v.column3) FROM (VALUES {}) AS v WHERE orders.id = v.column1",
                    DeliveryState::Delivered.as_str(),
                    placeholders(orders.len(), 3)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for d in &orders {
                    q = q
                        .bind(d.row.order_id)
                        .bind(d.center_ref.as_deref())
                        .bind(d.center_status.map(CenterStatus::as_str));
                }
                q.execute(&mut *tx).await?;
            }
            if !fresh.is_empty() {
                let sql = format!(
                    "INSERT INTO audit (ticket_id, order_id, actor, role, at, action, before_status, after_status, detail) VALUES {}",
                    placeholders(fresh.len(), 9)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for d in &fresh {
                    let detail = format!(
                        "{} delivered to the 112 centre{}",
                        d.row.kind.as_str(),
                        d.center_ref
                            .as_deref()
                            .map(|c| format!(" as {c}"))
                            .unwrap_or_default()
                    );
                    q = q
                        .bind(d.row.ticket_id)
                        .bind(d.row.order_id)
                        .bind("center112")
                        .bind(hotline_domain::Role::System.as_str())
                        .bind(d.at.0)
                        .bind(DeskEventKind::Delivered.as_str())
                        .bind("")
                        .bind("")
                        .bind(detail);
                }
                q.execute(&mut *tx).await?;
            }
        }
        for chunk in failed.chunks(RECORD_CHUNK) {
            let sql = format!(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = v.column2, last_error = v.column3 FROM (VALUES {}) AS v WHERE outbox.id = v.column1 AND outbox.delivered_at IS NULL",
                placeholders(chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (row, next, error) in chunk {
                q = q
                    .bind(row.id)
                    .bind(next.0)
                    .bind(error.chars().take(500).collect::<String>());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The centre answered again: rows waiting out a backoff become due now.
    pub async fn retry_waiting_now(&self, now: Timestamp) -> Result<u64> {
        let r = sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE delivered_at IS NULL AND parked_at IS NULL AND next_attempt_at > $2")
            .bind(now.0)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Delivery latency of delivered rows created at or after `since`: (created_at, delivered_at).
    pub async fn delivery_times(&self, since: Timestamp) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query("SELECT created_at, delivered_at FROM outbox WHERE delivered_at IS NOT NULL AND created_at >= $1 ORDER BY id")
            .bind(since.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("created_at")?, r.try_get("delivered_at")?)))
            .collect()
    }

    /// Delivered rows created at or after `since`: (ticket, created_at, delivered_at), for
    /// benchmarks that relate delivery to when the approval returned.
    pub async fn delivered_by_ticket(&self, since: Timestamp) -> Result<Vec<(TicketId, i64, i64)>> {
        let rows = sqlx::query("SELECT ticket_id, created_at, delivered_at FROM outbox WHERE delivered_at IS NOT NULL AND created_at >= $1 ORDER BY id")
            .bind(since.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("ticket_id")?,
                    r.try_get("created_at")?,
                    r.try_get("delivered_at")?,
                ))
            })
            .collect()
    }

    /// Stops retrying a row the centre refused for good; the order shows `failed` and an alert
    /// is recorded. Returns the alert.
    pub async fn park(
        &self,
        row: &OutboxRow,
        error: &str,
        now: Timestamp,
    ) -> Result<crate::AlertRecord> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE outbox SET parked_at = $1, last_error = $2 WHERE id = $3")
            .bind(now.0)
            .bind(error.chars().take(500).collect::<String>())
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        if row.kind.is_order() {
            sqlx::query("UPDATE orders SET delivery = $1 WHERE id = $2")
                .bind(DeliveryState::Failed.as_str())
                .bind(row.order_id)
                .execute(&mut *tx)
                .await?;
        }
        let msg = format!(
            "工单 {} 的{}被测量台拒绝: {}",
            row.ticket_id,
            row.kind.label_zh(),
            error
        );
        crate::tickets::audit(
            &mut tx,
            row.ticket_id,
            Some(row.order_id),
            "center112",
            hotline_domain::Role::System,
            now,
            DeskEventKind::DeliveryFailed.into(),
            None,
            None,
            &msg,
        )
        .await?;
        let alert = insert_delivery_alert(&mut tx, row, now, &msg).await?;
        tx.commit().await?;
        Ok(alert)
    }

    /// Rows undelivered since before `older_than` and not yet alerted: marks and alerts each once.
    pub async fn alert_stuck_outbox(
        &self,
        older_than: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<crate::AlertRecord>> {
        let rows = sqlx::query("SELECT id, ticket_id, order_id, kind, payload, attempts, created_at FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL AND alerted_at IS NULL AND created_at < $1 ORDER BY id LIMIT 100")
            .bind(older_than.0)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let row = OutboxRow {
                id: r.try_get("id")?,
                ticket_id: r.try_get("ticket_id")?,
                order_id: r.try_get("order_id")?,
                kind: outbox_kind(&r.try_get::<String, _>("kind")?)?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                created_at: Timestamp(r.try_get("created_at")?),
                dispatch_center_ref: None,
            };
            let mut tx = self.begin_write().await?;
            let marked = sqlx::query(
                "UPDATE outbox SET alerted_at = $1 WHERE id = $2 AND alerted_at IS NULL",
            )
            .bind(now.0)
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                continue;
            }
            let msg = format!(
                "工单 {} 的{}已 {} 秒未送达测量台 (尝试 {} 次)",
                row.ticket_id,
                row.kind.label_zh(),
                now.since(row.created_at) / 1000,
                row.attempts
            );
            out.push(insert_delivery_alert(&mut tx, &row, now, &msg).await?);
            tx.commit().await?;
        }
        Ok(out)
    }

    /// Applies a status event from the centre to the (second) dispatch order it names.
    pub async fn apply_center_event(
        &self,
        event_id: &str,
        center_ref: &str,
        status: CenterStatus,
        event_at: Timestamp,
        now: Timestamp,
    ) -> Result<EventOutcome> {
        let rank = status.rank();
        let mut tx = self.begin_write().await?;
        let fresh = sqlx::query("INSERT INTO center_events (event_id, received_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING")
            .bind(event_id)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        if fresh.rows_affected() == 0 {
            return Ok(EventOutcome::Duplicate);
        }
        let row = sqlx::query("SELECT id, ticket_id, center_status, center_event_at FROM orders WHERE center_ref = $1 AND kind IN ('dispatch', 'second_dispatch') ORDER BY id DESC LIMIT 1")
            .bind(center_ref)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("an order at the centre as {center_ref}")))?;
        let order_id: OrderId = row.try_get("id")?;
        let ticket_id: TicketId = row.try_get("ticket_id")?;
        let current = center_status_col(row.try_get("center_status")?)?;
        let current_at: Option<i64> = row.try_get("center_event_at")?;
        let current_rank = current.map_or(0, CenterStatus::rank);
        let stale = rank < current_rank
            || (rank == current_rank && current_at.is_some_and(|t| event_at.0 <= t))
            || current.is_some_and(CenterStatus::is_final);
        if stale {
            tx.commit().await?; // remember the event id
            return Ok(EventOutcome::Stale);
        }
        sqlx::query("UPDATE orders SET center_status = $1, center_event_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(event_at.0)
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        let detail = format!(
            "112 centre status {} → {}",
            current.map_or("-", CenterStatus::as_str),
            status.as_str()
        );
        crate::tickets::audit(
            &mut tx,
            ticket_id,
            Some(order_id),
            "center112",
            hotline_domain::Role::System,
            now,
            DeskEventKind::CenterStatus.into(),
            None,
            None,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(EventOutcome::Applied {
            ticket_id,
            order_id,
        })
    }

    /// Tickets still `dispatched` whose current dispatch the centre reports resolved (回单 not
    /// yet applied, e.g. after a crash between the event and the clearance).
    pub async fn resolved_but_not_cleared(&self, limit: u32) -> Result<Vec<TicketId>> {
        let rows = sqlx::query("SELECT t.id FROM tickets t JOIN orders o ON o.id = t.dispatch_order WHERE t.status = 'dispatched' AND o.center_status IN ('resolved', 'closed') ORDER BY t.id LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Rows delivered and pending, for the adapter's metrics: (kind, delivered, pending).
    pub async fn outbox_counts(&self) -> Result<Vec<(OutboxKind, i64, i64)>> {
        let rows = sqlx::query("SELECT kind, SUM(CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END) AS delivered, SUM(CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END) AS pending FROM outbox GROUP BY kind ORDER BY kind")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    outbox_kind(&r.try_get::<String, _>("kind")?)?,
                    r.try_get::<Option<i64>, _>("delivered")?.unwrap_or(0),
                    r.try_get::<Option<i64>, _>("pending")?.unwrap_or(0),
                ))
            })
            .collect()
    }

    /// The centre's id for an order (its own, or for follow-ups the dispatch's).
    pub async fn order_center_ref(&self, order_id: OrderId) -> Result<Option<String>> {
        let r = sqlx::query("SELECT center_ref FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("order {order_id}")))?;
        Ok(r.try_get("center_ref")?)
    }
}

async fn insert_delivery_alert(
    conn: &mut sqlx::AnyConnection,
    row: &OutboxRow,
    now: Timestamp,
    msg: &str,
) -> Result<crate::AlertRecord> {
    let r = sqlx::query("INSERT INTO alerts (ticket_id, deadline_kind, level, at, due_at, message) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(row.ticket_id)
        .bind(AlertKind::Delivery.as_str())
        .bind(DueLevel::Breach.as_str())
        .bind(now.0)
        .bind(row.created_at.0)
        .bind(msg)
        .fetch_one(conn)
        .await?;
    Ok(crate::AlertRecord {
        id: r.try_get("id")?,
        ticket_id: row.ticket_id,
        deadline_kind: AlertKind::Delivery,
        level: DueLevel::Breach,
        at: now,
        due_at: row.created_at,
        message: msg.to_string(),
    })
}
