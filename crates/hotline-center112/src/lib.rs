//! The 112 measurement centre (测量管理中心) as the hotline sees it.
//!
//! Layout:
//! - [`wire`]: the JSON shapes, after TM Forum TMF621 Trouble Ticket (troubleTicket, notes,
//!   status history, hub subscriptions, events) plus the line-test resource. Shared with the
//!   simulator (`center112-sim`).
//! - [`signature`]: HMAC-SHA256 event signatures (`X-Hotline-Signature: sha256=<hex>`).
//! - [`client`]: the [`Center112`] trait and its HTTP implementation.
//!
//! Invariant: nothing here knows tickets or the store; the core maps orders to calls.

pub mod client;
pub mod signature;
pub mod wire;

pub use client::{Center112, CenterError, HttpCenter};
