//! The workflow state machine of the front desk.
//!
//! [`TABLE`] is the whole of it: one row per (roles, action, from-states) → target. An action
//! by a role from a state that no row names is refused with a reason. [`decide`] applies the
//! table and then the guards that a table cannot express (an order must reference a dispatch
//! that exists, nobody reviews their own order, one review at a time, a junior transfers to the
//! manager hotline only for an overdue repeat or a caller who refuses the answer).

use crate::named::named_enum;
use crate::order::{Order, OrderId, OrderKind, ReviewState};
use crate::role::Role;
use crate::ticket::{Ticket, TicketStatus};

named_enum!(
    ActionKind {
        Dispatch = "dispatch", "派单";
        FollowUp = "follow_up", "追单";
        Cancel = "cancel", "退单";
        Escalate = "escalate", "转高级话务员";
        Answer = "answer", "直接答复";
        Review = "review", "二次审核";
        MarkUrgent = "mark_urgent", "加急";
        AddNote = "add_note", "备注";
        TransferToManager = "transfer_to_manager", "转经理热线";
        Clear = "clear", "回单";
        Close = "close", "结案";
        SecondDispatch = "second_dispatch", "二次派单";
    }
);

named_enum!(
    /// Why a ticket goes to the manager hotline.
    ManagerReason {
        OverdueRepeat = "overdue_repeat", "重复申告超时限";
        CallerRefusedAnswer = "caller_refused_answer", "用户不接受答复";
    }
);

/// An action with its payload, as requested by an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Dispatch {
        note: String,
    },
    FollowUp {
        note: String,
    },
    Cancel {
        reason: String,
    },
    Escalate {
        reason: String,
    },
    Answer {
        answer: String,
    },
    Review {
        order_id: OrderId,
        approve: bool,
        note: String,
    },
    MarkUrgent {
        reason: String,
    },
    AddNote {
        text: String,
    },
    TransferToManager {
        reason: ManagerReason,
        note: String,
    },
    Clear {
        note: String,
    },
    Close {
        note: String,
    },
    SecondDispatch {
        warning: String,
    },
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Dispatch { .. } => ActionKind::Dispatch,
            Action::FollowUp { .. } => ActionKind::FollowUp,
            Action::Cancel { .. } => ActionKind::Cancel,
            Action::Escalate { .. } => ActionKind::Escalate,
            Action::Answer { .. } => ActionKind::Answer,
            Action::Review { .. } => ActionKind::Review,
            Action::MarkUrgent { .. } => ActionKind::MarkUrgent,
            Action::AddNote { .. } => ActionKind::AddNote,
            Action::TransferToManager { .. } => ActionKind::TransferToManager,
            Action::Clear { .. } => ActionKind::Clear,
            Action::Close { .. } => ActionKind::Close,
            Action::SecondDispatch { .. } => ActionKind::SecondDispatch,
        }
    }

    /// The free text carried by the action (note, reason, answer, warning).
    pub fn text(&self) -> &str {
        match self {
            Action::Dispatch { note }
            | Action::FollowUp { note }
            | Action::Answer { answer: note }
            | Action::AddNote { text: note }
            | Action::Clear { note }
            | Action::Close { note }
            | Action::Review { note, .. }
            | Action::TransferToManager { note, .. } => note,
            Action::Cancel { reason }
            | Action::Escalate { reason }
            | Action::MarkUrgent { reason } => reason,
            Action::SecondDispatch { warning } => warning,
        }
    }
}

/// Where a row leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Stay,
    To(TicketStatus),
    /// Depends on the reviewed order's kind and the verdict: see [`review_target`].
    ByReview,
}

/// What new order, if any, a row creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Creates {
    Nothing,
    Order(OrderKind, ReviewState),
}

#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub roles: &'static [Role],
    pub action: ActionKind,
    pub from: &'static [TicketStatus],
    pub to: Target,
    pub creates: Creates,
    /// Requirement IDs this row implements.
    pub reqs: &'static str,
}

use ActionKind as A;
use Creates::{Nothing, Order as Ord};
use OrderKind as K;
use ReviewState::{NotRequired, Pending};
use Role as R;
use Target::{ByReview, Stay, To};
use TicketStatus as S;

const JUNIORS: &[Role] = &[R::Junior, R::TextEntry, R::RecordingExtractor];
const SENIORS: &[Role] = &[R::Senior, R::Admin];
const DESK: &[Role] = &[
    R::Junior,
    R::TextEntry,
    R::RecordingExtractor,
    R::Senior,
    R::Admin,
];
const STAFF: &[Role] = &[
    R::Junior,
    R::Senior,
    R::TextEntry,
    R::RecordingExtractor,
    R::Surveyor,
    R::DataManager,
    R::Qa,
    R::Admin,
];
const NOT_CLOSED: &[TicketStatus] = &[
    S::New,
    S::Escalated,
    S::AwaitingReview,
    S::Dispatched,
    S::Answered,
    S::ManagerHotline,
    S::Cleared,
    S::Cancelled,
];

/// The transition table. Order matters only for reading; rows never overlap.
pub const TABLE: &[Row] = &[
    Row {
        roles: JUNIORS,
        action: A::Dispatch,
        from: &[S::New],
        to: To(S::AwaitingReview),
        creates: Ord(K::Dispatch, Pending),
        reqs: "JO3 JO7 TE1 TE2 RE1",
    },
    Row {
        roles: SENIORS,
        action: A::Dispatch,
        from: &[S::New, S::Escalated],
        to: To(S::Dispatched),
        creates: Ord(K::Dispatch, NotRequired),
        reqs: "SO1 SO2",
    },
    Row {
        roles: JUNIORS,
        action: A::FollowUp,
        from: &[S::Dispatched],
        to: Stay,
        creates: Ord(K::FollowUp, Pending),
        reqs: "JO4 JO6 JO7",
    },
    Row {
        roles: SENIORS,
        action: A::FollowUp,
        from: &[S::Dispatched],
        to: Stay,
        creates: Ord(K::FollowUp, NotRequired),
        reqs: "SO3",
    },
    Row {
        roles: JUNIORS,
        action: A::Cancel,
        from: &[S::Dispatched],
        to: Stay,
        creates: Ord(K::Cancellation, Pending),
        reqs: "JO4 JO6 SO4",
    },
    Row {
        roles: SENIORS,
        action: A::Cancel,
        from: &[S::Dispatched],
        to: To(S::Cancelled),
        creates: Ord(K::Cancellation, NotRequired),
        reqs: "SO3",
    },
    Row {
        roles: JUNIORS,
        action: A::Escalate,
        from: &[S::New],
        to: To(S::Escalated),
        creates: Nothing,
        reqs: "JO3 TE4 RE1",
    },
    Row {
        roles: JUNIORS,
        action: A::Answer,
        from: &[S::New],
        to: To(S::Answered),
        creates: Nothing,
        reqs: "JO3 JO6 JO9",
    },
    Row {
        roles: SENIORS,
        action: A::Answer,
        from: &[S::New, S::Escalated],
        to: To(S::Answered),
        creates: Nothing,
        reqs: "SO1",
    },
    Row {
        roles: SENIORS,
        action: A::Review,
        from: &[S::AwaitingReview, S::Dispatched, S::Cleared, S::Closed],
        to: ByReview,
        creates: Nothing,
        reqs: "JO7 SO4 SO5",
    },
    Row {
        roles: SENIORS,
        action: A::MarkUrgent,
        from: &[S::New, S::Escalated, S::AwaitingReview, S::Dispatched],
        to: Stay,
        creates: Nothing,
        reqs: "SO2",
    },
    Row {
        roles: STAFF,
        action: A::AddNote,
        from: NOT_CLOSED,
        to: Stay,
        creates: Nothing,
        reqs: "JO3 SO8",
    },
    Row {
        roles: DESK,
        action: A::TransferToManager,
        from: &[
            S::New,
            S::Escalated,
            S::AwaitingReview,
            S::Dispatched,
            S::Answered,
        ],
        to: To(S::ManagerHotline),
        creates: Nothing,
        reqs: "JO5 SO6",
    },
    Row {
        roles: &[R::System, R::Senior, R::Admin],
        action: A::Clear,
        from: &[S::Dispatched],
        to: To(S::Cleared),
        creates: Nothing,
        reqs: "SF3 SS2",
    },
    Row {
        roles: &[R::Senior, R::Admin, R::Surveyor],
        action: A::Close,
        from: &[S::Answered, S::Cleared, S::Cancelled, S::ManagerHotline],
        to: To(S::Closed),
        creates: Nothing,
        reqs: "SO8 SS1",
    },
    Row {
        roles: &[R::Surveyor],
        action: A::SecondDispatch,
        from: &[S::Cleared, S::Closed],
        to: Stay,
        creates: Ord(K::SecondDispatch, Pending),
        reqs: "SS4 SO5",
    },
    Row {
        roles: SENIORS,
        action: A::SecondDispatch,
        from: &[S::Cleared, S::Closed],
        to: To(S::Dispatched),
        creates: Ord(K::SecondDispatch, NotRequired),
        reqs: "SO5",
    },
];

/// Why an action was refused. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("角色 {role} 不能执行 {action}: the {role} role may not {action}", role = .role.as_str(), action = .action.as_str())]
    RoleMayNot { role: Role, action: ActionKind },
    #[error("cannot {action} a ticket that is {status}; allowed from: {allowed}", action = .action.as_str(), status = .status.as_str())]
    WrongState {
        action: ActionKind,
        status: TicketStatus,
        allowed: String,
    },
    #[error("the ticket was never dispatched; dispatch it before a follow-up or cancellation")]
    NeverDispatched,
    #[error("order {0} does not belong to this ticket")]
    OrderNotFound(OrderId),
    #[error("order {order} is {state}, not awaiting review", state = .state.as_str())]
    NotPending { order: OrderId, state: ReviewState },
    #[error("order {0} was made by you; a different senior must review it")]
    OwnOrder(OrderId),
    #[error("order {0} is still awaiting review; review it before issuing another order")]
    ReviewPending(OrderId),
    #[error(
        "a junior transfers to the manager hotline only for a repeat report past its time limit or a caller who refuses the answer"
    )]
    RepeatNotOverdue,
    #[error("{0} must not be empty")]
    EmptyText(&'static str),
}

impl Refusal {
    /// Refusals that are about who acts rather than the ticket's state.
    pub fn is_permission(&self) -> bool {
        matches!(self, Refusal::RoleMayNot { .. } | Refusal::OwnOrder(_))
    }
}

/// A new order to store, decided by the workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub kind: OrderKind,
    pub review: ReviewState,
    pub references: Option<OrderId>,
    pub urgent: bool,
    pub note: String,
}

/// The outcome of an accepted action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub action: ActionKind,
    pub from: TicketStatus,
    pub to: TicketStatus,
    pub new_order: Option<NewOrder>,
    /// A review verdict on an existing order.
    pub reviewed: Option<(OrderId, ReviewState)>,
    /// SO4: a rejected order (no dispatch needed) gets a proactive call back to the customer.
    pub callback_task: bool,
    /// SS2: a cleared ticket gets a satisfaction-survey callback.
    pub survey_task: bool,
    pub set_urgent: bool,
    /// The order that becomes sendable to the 112 centre (goes to the outbox).
    pub sendable_order: SendableOrder,
    pub row_reqs: &'static str,
}

/// Which order, if any, becomes sendable by this transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendableOrder {
    None,
    /// The order created by this transition.
    New,
    Existing(OrderId),
}

/// Facts about the ticket that the table needs beyond its status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The ticket is a repeat whose original is past its repair time limit (JO5).
    pub repeat_overdue: bool,
}

/// Finds the row for (role, action, from), or explains why there is none.
pub fn find_row(
    role: Role,
    action: ActionKind,
    from: TicketStatus,
) -> Result<&'static Row, Refusal> {
    let mut role_may = false;
    let mut allowed: Vec<&str> = Vec::new();
    for row in TABLE
        .iter()
        .filter(|r| r.action == action && r.roles.contains(&role))
    {
        role_may = true;
        if row.from.contains(&from) {
            return Ok(row);
        }
        allowed.extend(row.from.iter().map(|s| s.as_str()));
    }
    if !role_may {
        return Err(Refusal::RoleMayNot { role, action });
    }
    Err(Refusal::WrongState {
        action,
        status: from,
        allowed: allowed.join(", "),
    })
}

/// The status a review leads to, by order kind and verdict.
pub fn review_target(kind: OrderKind, approve: bool, current: TicketStatus) -> TicketStatus {
    match (kind, approve) {
        (OrderKind::Dispatch, true) => TicketStatus::Dispatched,
        // SO4: no dispatch needed: the ticket is answered, and the customer gets a callback.
        (OrderKind::Dispatch, false) => TicketStatus::Answered,
        (OrderKind::Cancellation, true) => TicketStatus::Cancelled,
        (OrderKind::SecondDispatch, true) => TicketStatus::Dispatched,
        (OrderKind::FollowUp, _)
        | (OrderKind::Cancellation, false)
        | (OrderKind::SecondDispatch, false) => current,
    }
}

/// Decides an action on a ticket with its orders. Pure: the caller stores the outcome.
pub fn decide(
    ticket: &Ticket,
    orders: &[Order],
    actor: &str,
    role: Role,
    action: &Action,
    ctx: Context,
) -> Result<Transition, Refusal> {
    let kind = action.kind();
    let row = find_row(role, kind, ticket.status)?;
    if matches!(
        kind,
        ActionKind::AddNote | ActionKind::Escalate | ActionKind::Answer
    ) && action.text().trim().is_empty()
    {
        return Err(Refusal::EmptyText(match kind {
            ActionKind::AddNote => "text",
            ActionKind::Answer => "answer",
            _ => "reason",
        }));
    }
    let pending = orders.iter().find(|o| o.review == ReviewState::Pending);
    let mut t = Transition {
        action: kind,
        from: ticket.status,
        to: ticket.status,
        new_order: None,
        reviewed: None,
        callback_task: false,
        survey_task: false,
        set_urgent: false,
        sendable_order: SendableOrder::None,
        row_reqs: row.reqs,
    };
    if let Creates::Order(order_kind, review) = row.creates {
        if let Some(p) = pending {
            return Err(Refusal::ReviewPending(p.id));
        }
        let references = match order_kind {
            OrderKind::Dispatch => None,
            _ => Some(ticket.dispatch_order.ok_or(Refusal::NeverDispatched)?),
        };
        t.new_order = Some(NewOrder {
            kind: order_kind,
            review,
            references,
            urgent: ticket.urgent,
            note: action.text().to_string(),
        });
        if review.is_sendable() {
            t.sendable_order = SendableOrder::New;
        }
    }
    match action {
        Action::Review {
            order_id, approve, ..
        } => {
            let order = orders
                .iter()
                .find(|o| o.id == *order_id && o.ticket_id == ticket.id)
                .ok_or(Refusal::OrderNotFound(*order_id))?;
            if order.review != ReviewState::Pending {
                return Err(Refusal::NotPending {
                    order: order.id,
                    state: order.review,
                });
            }
            if order.created_by == actor {
                return Err(Refusal::OwnOrder(order.id));
            }
            let verdict = if *approve {
                ReviewState::Approved
            } else {
                ReviewState::Rejected
            };
            t.reviewed = Some((order.id, verdict));
            t.to = review_target(order.kind, *approve, ticket.status);
            if *approve {
                t.sendable_order = SendableOrder::Existing(order.id);
            } else {
                t.callback_task = true;
            }
        }
        Action::TransferToManager { reason, .. }
            if role.works_junior_flow()
                && *reason == ManagerReason::OverdueRepeat
                && !ctx.repeat_overdue =>
        {
            return Err(Refusal::RepeatNotOverdue);
        }
        Action::MarkUrgent { .. } => t.set_urgent = true,
        Action::Clear { .. } => t.survey_task = true,
        _ => {}
    }
    match row.to {
        Target::Stay | Target::ByReview => {}
        Target::To(s) => t.to = s,
    }
    Ok(t)
}
