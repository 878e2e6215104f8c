//! Reconciliation with the 112 centre: dispatches whose centre status has not moved for a
//! while are polled (the centre's events may have been lost), oldest news first.

use crate::{Result, Store};
use hotline_domain::order::CenterStatus;
use hotline_domain::{OrderId, TicketId, Timestamp};
use sqlx::Row;

/// A dispatch the core should ask the centre about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuietOrder {
    pub order_id: OrderId,
    pub ticket_id: TicketId,
    pub center_ref: String,
    pub center_status: Option<CenterStatus>,
}

impl Store {
    /// Current dispatches of tickets still `dispatched`, known to the centre, with no status
    /// change and no poll since `quiet_before`.
    pub async fn quiet_center_orders(
        &self,
        quiet_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<QuietOrder>> {
        let rows = sqlx::query(
            "SELECT o.id, o.ticket_id, o.center_ref, o.center_status FROM tickets t JOIN orders o ON o.id = t.dispatch_order \
             WHERE t.status = 'dispatched' AND o.center_ref IS NOT NULL \
             AND COALESCE(o.center_event_at, 0) < $1 AND COALESCE(o.center_polled_at, 0) < $1 \
             ORDER BY COALESCE(o.center_polled_at, 0), o.id LIMIT $2",
        )
        .bind(quiet_before.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QuietOrder {
                    order_id: r.try_get("id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    center_ref: r.try_get("center_ref")?,
                    center_status: crate::outbox::center_status_col(r.try_get("center_status")?)?,
                })
            })
            .collect()
    }

    /// Notes that an order was polled at `at` (whatever the answer).
    pub async fn mark_center_polled(&self, order_id: OrderId, at: Timestamp) -> Result<()> {
        sqlx::query("UPDATE orders SET center_polled_at = $1 WHERE id = $2")
            .bind(at.0)
            .bind(order_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
