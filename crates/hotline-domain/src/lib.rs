//! The fault-report desk's domain: pure types and rules, no I/O.
//!
//! Layout:
//! - [`audit`]: what an audit row records (workflow action, desk event, finished task), with
//!   its wire name and label.
//! - [`ids`]: `TicketId`, `OrderId` (a leaf: `ticket` and `order` do not import each other).
//! - [`named`]: `named_enum!`, the one way an enum gets its wire name and Chinese label.
//! - [`time`]: `Timestamp` (ms since the Unix epoch) and `Duration` helpers; the domain never
//!   reads a clock, callers pass `now`.
//! - [`phone`]: validated phone numbers.
//! - [`ticket`]: the fault report (申告单) with customer, fault type, channel, links and status.
//! - [`order`]: orders attached to a ticket: dispatch (派单), follow-up (追单), cancellation (退单),
//!   second dispatch (二次派单), each with a review state (二次审核).
//! - [`role`]: the desk's roles.
//! - [`workflow`]: the state machine: an explicit table of (role, action, from) → to, and the
//!   guards that the table cannot express (references, self-review, repeat limits).
//! - [`rules`]: time rules as data: the repair time-limit table and the desk deadlines
//!   (TE1/TE4 two hours, SO2 one hour, urgent at once), and the deadlines a ticket carries.
//! - [`repeat`]: repeat-report (重复申告) classification.
//! - [`kb`]: knowledge-base articles: states (draft → in review → published → retired), who
//!   may move them (SO7 seniors submit, DM1/DM2 the data manager keeps), version checks.
//! - [`intake`]: text intake (TE1-TE4, DM5): document channels and states, the two-hour
//!   deadlines from receipt, file-name checks, type sniffing.
//! - [`qa`]: quality inspection and assessment (QA1, QA2, SO1, SO4): the scoring form and
//!   totals, reproducible sampling (seeded SplitMix64), ISO weeks, the recording rule, who
//!   may score.
//! - [`survey`]: the satisfaction surveyor (SS1-SS6, SO5): satisfaction, callback outcomes,
//!   calling hours and retries, customer information only with consent, investigation
//!   outcomes, the weekly figures and weakest areas.
//! - [`customer`]: the customer directory (JO8): a customer's lines, class, branch, contacts
//!   and SLA notes validated, and an import file planned as a whole (refused rows and why).
//! - [`permissions`]: the permission matrix: which roles may call each gRPC method and why
//!   the others may not (rendered into `docs/permissions.md`).
//!
//! Invariant: nothing here performs I/O, reads a clock, or panics on caller input; every
//! refusal is a typed error carrying a reason a person can act on.

pub mod analysis;
pub mod audit;
pub mod customer;
pub mod ids;
pub mod intake;
pub mod kb;
pub mod named;
pub mod order;
pub mod outbound;
pub mod permissions;
pub mod phone;
pub mod qa;
pub mod repeat;
pub mod role;
pub mod rules;
pub mod survey;
pub mod task;
pub mod ticket;
pub mod time;
pub mod workflow;

pub use order::{Order, OrderId, OrderKind, ReviewState};
pub use phone::{PhoneError, PhoneNumber};
pub use repeat::{RepeatAdvice, RepeatPolicy};
pub use role::Role;
pub use rules::{Deadline, DeadlineKind, DeskRules, TimeLimitTable};
pub use ticket::{
    Channel, Customer, CustomerClass, FaultType, NewTicket, Ticket, TicketId, TicketStatus,
    ValidationError,
};
pub use time::Timestamp;
pub use workflow::{Action, ActionKind, Refusal, Transition};
