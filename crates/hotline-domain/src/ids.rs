//! The identifiers tickets and orders refer to each other by, in a leaf so that `ticket` and
//! `order` need not import each other.

/// A ticket's number: numeric so the IVR can read it back digit by digit.
pub type TicketId = i64;

/// An order's number.
pub type OrderId = i64;
