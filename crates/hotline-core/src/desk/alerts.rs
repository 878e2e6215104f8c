//! Alerts the deadline scheduler and the delivery worker raised (warnings, breaches, stuck
//! deliveries), as listed on the desktop.

use super::Desk;
use crate::error::CoreError;
use hotline_domain::TicketId;
use hotline_store::AlertRecord;

impl Desk {
    /// The newest alerts, of one ticket or of all.
    pub async fn alerts(
        &self,
        ticket: Option<TicketId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, CoreError> {
        Ok(self.store.list_alerts(ticket, limit).await?)
    }
}
