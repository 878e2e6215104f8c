//! Questions the desk puts to the 112 centre on an agent's behalf: a line test of a number,
//! and the centre's progress on a ticket's dispatch (read back live, not from the store).

use super::Desk;
use crate::error::CoreError;
use hotline_center112::Center112;
use hotline_center112::wire::{LineTest, TroubleTicket};
use hotline_domain::{OrderId, PhoneNumber, TicketId};

fn configured(center: Option<&dyn Center112>) -> Result<&dyn Center112, CoreError> {
    center.ok_or_else(|| CoreError::NotReady("no 112 centre is configured".into()))
}

impl Desk {
    /// Runs the centre's line test on `number`.
    pub async fn line_test(
        &self,
        center: Option<&dyn Center112>,
        number: &PhoneNumber,
    ) -> Result<LineTest, CoreError> {
        Ok(configured(center)?.line_test(number.as_str()).await?)
    }

    /// The centre's trouble ticket for ticket `id`'s dispatch order, and that order's id.
    /// Not ready while the ticket was never dispatched or its order has not reached the centre.
    pub async fn center_progress(
        &self,
        center: Option<&dyn Center112>,
        id: TicketId,
    ) -> Result<(OrderId, TroubleTicket), CoreError> {
        let view = self.get(id).await?;
        let Some(order_id) = view.ticket.dispatch_order else {
            return Err(CoreError::NotReady(format!(
                "ticket {id} was never dispatched to the 112 centre"
            )));
        };
        let delivery = view
            .orders
            .iter()
            .find(|(o, _)| o.id == order_id)
            .map(|(_, d)| d.clone());
        let Some(center_ref) = delivery.as_ref().and_then(|d| d.center_ref.clone()) else {
            let state = delivery.map_or("", |d| d.state.as_str());
            return Err(CoreError::NotReady(format!(
                "ticket {id} has not reached the 112 centre yet (delivery: {state})"
            )));
        };
        let tt = configured(center)?.get(&center_ref).await?;
        Ok((order_id, tt))
    }
}
