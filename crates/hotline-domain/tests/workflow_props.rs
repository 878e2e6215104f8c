//! Property tests of the workflow (issue "hardening", part 1): no sequence of actions, by any
//! role, reaches a state that the table does not allow, and the invariants the store relies on
//! hold after every accepted step.
//!
//! Each case drives one ticket through a random sequence of (role, actor, action) triples. An
//! accepted [`Transition`] is applied to an in-memory model the way `hotline-store`'s
//! `tickets::commit` applies it (new order appended, review verdict recorded, the dispatch
//! order moved, status set); a refused one leaves the model as it was. After each step the
//! invariants below are checked against the model, with an independent reading of the table.

use hotline_domain::order::{Order, OrderKind, ReviewState};
use hotline_domain::workflow::{
    self, Action, ActionKind, Context, ManagerReason, SendableOrder, TABLE, Target, Transition,
    decide,
};
use hotline_domain::{
    Channel, Customer, CustomerClass, FaultType, PhoneNumber, Role, Ticket, TicketStatus, Timestamp,
};
use proptest::prelude::*;

fn new_ticket() -> Ticket {
    Ticket {
        id: 1,
        faulty_number: PhoneNumber::parse("01066554433").unwrap(),
        contact_number: None,
        customer: Customer {
            name: "张三".into(),
            class: CustomerClass::Ordinary,
            branch: "东城".into(),
        },
        fault_type: FaultType::NoDialTone,
        description: String::new(),
        channel: Channel::Phone,
        received_at: Timestamp(0),
        created_at: Timestamp(0),
        created_by: "junior-0".into(),
        urgent: false,
        status: TicketStatus::New,
        repeat_of: None,
        supplement_of: None,
        dispatch_order: None,
        version: 1,
        updated_at: Timestamp(0),
    }
}

/// One step of a sequence: who acts, and what they ask for.
#[derive(Clone, Debug)]
struct Step {
    role: Role,
    /// Two people per role, so "nobody reviews their own order" is exercised.
    person: u8,
    action: ActionKind,
    /// Empty or not: the text-needing actions refuse empty text.
    text: bool,
    /// Which order a review names: an index into the orders so far (or one past them).
    order_pick: u8,
    approve: bool,
    manager_overdue: bool,
    repeat_overdue: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop::sample::select(Role::ALL.to_vec()),
        0u8..2,
        prop::sample::select(ActionKind::ALL.to_vec()),
        any::<bool>(),
        any::<u8>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(role, person, action, text, order_pick, approve, manager_overdue, repeat_overdue)| {
                Step {
                    role,
                    person,
                    action,
                    text,
                    order_pick,
                    approve,
                    manager_overdue,
                    repeat_overdue,
                }
            },
        )
}

fn action_of(s: &Step, orders: &[Order]) -> Action {
    let text = if s.text {
        "说明".to_string()
    } else {
        String::new()
    };
    match s.action {
        ActionKind::Dispatch => Action::Dispatch { note: text },
        ActionKind::FollowUp => Action::FollowUp { note: text },
        ActionKind::Cancel => Action::Cancel { reason: text },
        ActionKind::Escalate => Action::Escalate { reason: text },
        ActionKind::Answer => Action::Answer { answer: text },
        ActionKind::Review => {
            let i = usize::from(s.order_pick) % (orders.len() + 1);
            let order_id = orders.get(i).map_or(999, |o| o.id);
            Action::Review {
                order_id,
                approve: s.approve,
                note: text,
            }
        }
        ActionKind::MarkUrgent => Action::MarkUrgent { reason: text },
        ActionKind::AddNote => Action::AddNote { text },
        ActionKind::TransferToManager => Action::TransferToManager {
            reason: if s.manager_overdue {
                ManagerReason::OverdueRepeat
            } else {
                ManagerReason::CallerRefusedAnswer
            },
            note: text,
        },
        ActionKind::Clear => Action::Clear { note: text },
        ActionKind::Close => Action::Close { note: text },
        ActionKind::SecondDispatch => Action::SecondDispatch { warning: text },
    }
}

/// Applies an accepted transition as the store does.
fn apply(ticket: &mut Ticket, orders: &mut Vec<Order>, t: &Transition, actor: &str, role: Role) {
    if let Some(o) = &t.new_order {
        let id = orders.len() as i64 + 1;
        orders.push(Order {
            id,
            ticket_id: ticket.id,
            kind: o.kind,
            references: o.references,
            review: o.review,
            urgent: o.urgent || t.set_urgent,
            note: o.note.clone(),
            created_by: actor.to_string(),
            created_role: role,
            created_at: Timestamp(0),
            reviewed_by: None,
            reviewed_at: None,
            review_note: String::new(),
        });
        if t.sendable_order == SendableOrder::New
            && matches!(o.kind, OrderKind::Dispatch | OrderKind::SecondDispatch)
        {
            ticket.dispatch_order = Some(id);
        }
    }
    if let Some((id, verdict)) = t.reviewed {
        let o = orders.iter_mut().find(|o| o.id == id).unwrap();
        o.review = verdict;
        o.reviewed_by = Some(actor.to_string());
        if verdict == ReviewState::Approved
            && matches!(o.kind, OrderKind::Dispatch | OrderKind::SecondDispatch)
        {
            ticket.dispatch_order = Some(id);
        }
    }
    if t.set_urgent {
        ticket.urgent = true;
    }
    ticket.status = t.to;
    ticket.version += 1;
}

/// The target the table gives, read independently of `decide`.
fn table_allows(role: Role, kind: ActionKind, from: TicketStatus) -> Option<&'static Target> {
    TABLE
        .iter()
        .find(|r| r.action == kind && r.roles.contains(&role) && r.from.contains(&from))
        .map(|r| &r.to)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_actions_leaves_the_table(steps in prop::collection::vec(step(), 1..40)) {
        let mut ticket = new_ticket();
        let mut orders: Vec<Order> = Vec::new();
        for s in &steps {
            let actor = format!("{}-{}", s.role.as_str(), s.person);
            let action = action_of(s, &orders);
            let ctx = Context { repeat_overdue: s.repeat_overdue };
            let before = (ticket.clone(), orders.clone());
            let outcome = decide(&ticket, &orders, &actor, s.role, &action, ctx);
            // the same inputs always give the same answer
            prop_assert_eq!(&outcome, &decide(&ticket, &orders, &actor, s.role, &action, ctx));
            let allowed = table_allows(s.role, s.action, ticket.status);
            match outcome {
                Err(refusal) => {
                    // a role with no row for the action is refused as a permission matter
                    if !TABLE.iter().any(|r| r.action == s.action && r.roles.contains(&s.role)) {
                        prop_assert!(refusal.is_permission(), "{refusal:?}");
                    }
                    prop_assert_eq!(&(ticket.clone(), orders.clone()), &before);
                }
                Ok(t) => {
                    let target = allowed.ok_or_else(|| TestCaseError::fail(format!(
                        "{:?} by {:?} from {:?} accepted without a row", s.action, s.role, ticket.status
                    )))?;
                    prop_assert_eq!(t.from, ticket.status);
                    prop_assert_eq!(t.action, s.action);
                    match target {
                        Target::Stay => prop_assert_eq!(t.to, ticket.status),
                        Target::To(to) => prop_assert_eq!(t.to, *to),
                        Target::ByReview => {
                            let (id, verdict) = t.reviewed.expect("a review row records a verdict");
                            let o = orders.iter().find(|o| o.id == id).unwrap();
                            prop_assert_eq!(o.review, ReviewState::Pending);
                            prop_assert_ne!(&o.created_by, &actor, "reviewed own order");
                            prop_assert_eq!(
                                t.to,
                                workflow::review_target(o.kind, verdict == ReviewState::Approved, ticket.status)
                            );
                        }
                    }
                    if let SendableOrder::Existing(id) = t.sendable_order {
                        prop_assert_eq!(t.reviewed, Some((id, ReviewState::Approved)));
                    }
                    apply(&mut ticket, &mut orders, &t, &actor, s.role);
                }
            }
            // invariants of the model after every step
            let pending = orders.iter().filter(|o| o.review == ReviewState::Pending).count();
            prop_assert!(pending <= 1, "{pending} orders wait for review at once");
            if ticket.status == TicketStatus::Dispatched || ticket.status == TicketStatus::Cleared {
                let d = ticket.dispatch_order.and_then(|id| orders.iter().find(|o| o.id == id));
                prop_assert!(
                    d.is_some_and(|o| o.review.is_sendable()),
                    "{:?} without a sendable dispatch order: {orders:?}", ticket.status
                );
            }
            if ticket.status == TicketStatus::AwaitingReview {
                prop_assert!(pending == 1, "awaiting review with no pending order");
            }
            if ticket.status == TicketStatus::Cancelled {
                prop_assert!(orders.iter().any(|o| o.kind == OrderKind::Cancellation && o.review.is_sendable()));
            }
            for o in &orders {
                if o.kind != OrderKind::Dispatch {
                    prop_assert!(o.references.is_some(), "{:?} order without its dispatch", o.kind);
                }
                if let Some(by) = &o.reviewed_by {
                    prop_assert_ne!(by, &o.created_by);
                }
            }
        }
    }
}
