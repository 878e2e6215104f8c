//! Row ↔ domain conversions. A stored value the domain does not know is `StoreError::Corrupt`.

use crate::{Result, StoreError};
use hotline_domain::named::named_enum;
use hotline_domain::order::{CenterStatus, Order, OrderKind, ReviewState};
use hotline_domain::rules::{Deadline, DeadlineKind};
use hotline_domain::{
    Channel, Customer, CustomerClass, FaultType, PhoneNumber, Role, Ticket, TicketStatus, Timestamp,
};
use sqlx::Row;
use sqlx::any::AnyRow;

pub const TICKET_COLUMNS: &str = "id, faulty_number, contact_number, customer_name, customer_class, branch, fault_type, description, channel, received_at, created_at, created_by, urgent, status, repeat_of, supplement_of, dispatch_order, version, updated_at";

pub const ORDER_COLUMNS: &str = "id, ticket_id, kind, refs, review, urgent, note, created_by, created_role, created_at, reviewed_by, reviewed_at, review_note, delivery, center_ref, center_status";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {v:?}"))
}

pub(crate) fn parse<T>(what: &str, v: &str, f: fn(&str) -> Option<T>) -> Result<T> {
    f(v).ok_or_else(|| corrupt(what, v))
}

pub fn ticket(row: &AnyRow) -> Result<Ticket> {
    let number: String = row.try_get("faulty_number")?;
    let contact: String = row.try_get("contact_number")?;
    Ok(Ticket {
        id: row.try_get("id")?,
        faulty_number: PhoneNumber::parse(&number).map_err(|_| corrupt("number", &number))?,
        contact_number: if contact.is_empty() {
            None
        } else {
            Some(PhoneNumber::parse(&contact).map_err(|_| corrupt("number", &contact))?)
        },
        customer: Customer {
            name: row.try_get("customer_name")?,
            class: parse(
                "class",
                &row.try_get::<String, _>("customer_class")?,
                CustomerClass::parse,
            )?,
            branch: row.try_get("branch")?,
        },
        fault_type: parse(
            "fault type",
            &row.try_get::<String, _>("fault_type")?,
            FaultType::parse,
        )?,
        description: row.try_get("description")?,
        channel: parse(
            "channel",
            &row.try_get::<String, _>("channel")?,
            Channel::parse,
        )?,
        received_at: Timestamp(row.try_get("received_at")?),
        created_at: Timestamp(row.try_get("created_at")?),
        created_by: row.try_get("created_by")?,
        urgent: row.try_get::<i64, _>("urgent")? != 0,
        status: parse(
            "status",
            &row.try_get::<String, _>("status")?,
            TicketStatus::parse,
        )?,
        repeat_of: row.try_get("repeat_of")?,
        supplement_of: row.try_get("supplement_of")?,
        dispatch_order: row.try_get("dispatch_order")?,
        version: row.try_get("version")?,
        updated_at: Timestamp(row.try_get("updated_at")?),
    })
}

named_enum!(
    /// Where an order is on its way to the 112 centre (`orders.delivery`, `Order.delivery`).
    DeliveryState {
        /// Not to be sent (pending review, or rejected).
        NotSendable = "not_sendable", "无需送测量台";
        /// In the outbox, waiting for the delivery worker.
        Queued = "queued", "待送测量台";
        /// The centre acknowledged it.
        Delivered = "delivered", "已送达测量台";
        /// The centre refused it, or delivery gave up (parked).
        Failed = "failed", "送达失败";
    }
);

/// Where an order is on its way to and at the 112 centre.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderDelivery {
    pub state: DeliveryState,
    /// The centre's trouble-ticket id.
    pub center_ref: Option<String>,
    /// The centre's TMF621 status, as last reported.
    pub center_status: Option<CenterStatus>,
}

/// An order with its delivery state.
pub fn order(row: &AnyRow) -> Result<(Order, OrderDelivery)> {
    let o = Order {
        id: row.try_get("id")?,
        ticket_id: row.try_get("ticket_id")?,
        kind: parse(
            "order kind",
            &row.try_get::<String, _>("kind")?,
            OrderKind::parse,
        )?,
        references: row.try_get("refs")?,
        review: parse(
            "review",
            &row.try_get::<String, _>("review")?,
            ReviewState::parse,
        )?,
        urgent: row.try_get::<i64, _>("urgent")? != 0,
        note: row.try_get("note")?,
        created_by: row.try_get("created_by")?,
        created_role: parse(
            "role",
            &row.try_get::<String, _>("created_role")?,
            Role::parse,
        )?,
        created_at: Timestamp(row.try_get("created_at")?),
        reviewed_by: row.try_get("reviewed_by")?,
        reviewed_at: row.try_get::<Option<i64>, _>("reviewed_at")?.map(Timestamp),
        review_note: row.try_get("review_note")?,
    };
    let d = OrderDelivery {
        state: parse(
            "delivery state",
            &row.try_get::<String, _>("delivery")?,
            DeliveryState::parse,
        )?,
        center_ref: row.try_get("center_ref")?,
        center_status: crate::outbox::center_status_col(row.try_get("center_status")?)?,
    };
    Ok((o, d))
}

/// A deadline with whether the scheduler has warned about it or seen it breached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadlineState {
    pub deadline: Deadline,
    pub warned: bool,
    pub breached: bool,
}

pub fn deadline(row: &AnyRow) -> Result<DeadlineState> {
    Ok(DeadlineState {
        deadline: Deadline {
            kind: parse(
                "deadline",
                &row.try_get::<String, _>("kind")?,
                DeadlineKind::parse,
            )?,
            due_at: Timestamp(row.try_get("due_at")?),
            warn_at: Timestamp(row.try_get("warn_at")?),
            met_at: row.try_get::<Option<i64>, _>("met_at")?.map(Timestamp),
        },
        warned: row.try_get::<Option<i64>, _>("warned_at")?.is_some(),
        breached: row.try_get::<Option<i64>, _>("breached_at")?.is_some(),
    })
}

/// A prior ticket for repeat detection, from `id, status, received_at, resolved_at, due_at`
/// (the repair deadline's due time).
pub(crate) fn prior_ticket(r: &AnyRow) -> Result<hotline_domain::repeat::PriorTicket> {
    let status = parse(
        "status",
        &r.try_get::<String, _>("status")?,
        TicketStatus::parse,
    )?;
    Ok(hotline_domain::repeat::PriorTicket {
        id: r.try_get("id")?,
        open: status.is_open(),
        received_at: Timestamp(r.try_get("received_at")?),
        resolved_at: r.try_get::<Option<i64>, _>("resolved_at")?.map(Timestamp),
        repair_due_at: r.try_get::<Option<i64>, _>("due_at")?.map(Timestamp),
    })
}
