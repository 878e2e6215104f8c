//! Orders attached to a ticket (派单/追单/退单/二次派单), each with its second-review state (二次审核).

use crate::ids::TicketId;
use crate::named::named_enum;
use crate::role::Role;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::ids::OrderId;

named_enum!(
    OrderKind {
        Dispatch = "dispatch", "派单";
        FollowUp = "follow_up", "追单";
        Cancellation = "cancellation", "退单";
        SecondDispatch = "second_dispatch", "二次派单";
    }
);

named_enum!(
    /// Second review (二次审核, JO7/SO4): juniors' orders wait for a senior.
    ReviewState {
        NotRequired = "not_required", "无需审核";
        Pending = "pending", "待审核";
        Approved = "approved", "已批准";
        Rejected = "rejected", "已驳回";
    }
);

named_enum!(
    /// What an outbox row sends to the 112 centre: an order, or an urge (催单, SS3) on a
    /// dispatch that has passed its limit.
    OutboxKind {
        Dispatch = "dispatch", "派单";
        FollowUp = "follow_up", "追单";
        Cancellation = "cancellation", "退单";
        SecondDispatch = "second_dispatch", "二次派单";
        Urge = "urge", "催单";
    }
);

impl From<OrderKind> for OutboxKind {
    fn from(k: OrderKind) -> Self {
        match k {
            OrderKind::Dispatch => OutboxKind::Dispatch,
            OrderKind::FollowUp => OutboxKind::FollowUp,
            OrderKind::Cancellation => OutboxKind::Cancellation,
            OrderKind::SecondDispatch => OutboxKind::SecondDispatch,
        }
    }
}

impl OutboxKind {
    /// Creates a trouble ticket at the centre (the others add to the dispatch's).
    pub fn creates_center_ticket(self) -> bool {
        matches!(self, OutboxKind::Dispatch | OutboxKind::SecondDispatch)
    }

    /// An order of the ticket (an urge is not: it is sent for the deadline, not by a person).
    pub fn is_order(self) -> bool {
        self != OutboxKind::Urge
    }
}

impl OrderKind {
    /// JO4: follow-ups and cancellations reference the original dispatch.
    pub fn references_dispatch(self) -> bool {
        matches!(self, OrderKind::FollowUp | OrderKind::Cancellation)
    }
}

impl ReviewState {
    /// The order may be sent to the 112 centre.
    pub fn is_sendable(self) -> bool {
        matches!(self, ReviewState::NotRequired | ReviewState::Approved)
    }
}

named_enum!(
    /// The 112 centre's status of a trouble ticket (TMF621): `acknowledged → inProgress ↔
    /// held/pending → resolved → closed`, plus `cancelled` and `rejected`. The wire names are
    /// the centre's JSON, stored as they are in `orders.center_status`.
    CenterStatus {
        Acknowledged = "acknowledged", "测量台已受理";
        InProgress = "inProgress", "正在测试或维修";
        Pending = "pending", "等待用户或外部条件";
        Held = "held", "暂缓处理";
        Resolved = "resolved", "已修复 (回单)";
        Closed = "closed", "已关闭";
        Cancelled = "cancelled", "已撤销";
        Rejected = "rejected", "测量台拒绝";
    }
);

impl CenterStatus {
    /// Progress rank: an event never moves a ticket to a lower rank (duplicates and reordered
    /// events change nothing). `inProgress`, `pending` and `held` share a rank.
    pub fn rank(self) -> u8 {
        use CenterStatus as S;
        match self {
            S::Acknowledged => 1,
            S::InProgress | S::Pending | S::Held => 2,
            S::Resolved => 3,
            S::Closed | S::Cancelled | S::Rejected => 4,
        }
    }

    /// No event moves the ticket on from here.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CenterStatus::Closed | CenterStatus::Cancelled | CenterStatus::Rejected
        )
    }

    /// The line is repaired (or the ticket closed after it was).
    pub fn is_cleared(self) -> bool {
        matches!(self, CenterStatus::Resolved | CenterStatus::Closed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub ticket_id: TicketId,
    pub kind: OrderKind,
    /// The dispatch this order refers to (follow-up, cancellation, second dispatch).
    pub references: Option<OrderId>,
    pub review: ReviewState,
    pub urgent: bool,
    pub note: String,
    pub created_by: String,
    pub created_role: Role,
    pub created_at: Timestamp,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<Timestamp>,
    pub review_note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_kind_is_an_outbox_kind_of_the_same_name() {
        for k in OrderKind::ALL {
            let o = OutboxKind::from(k);
            assert_eq!(o.as_str(), k.as_str());
            assert!(o.is_order());
        }
        assert!(!OutboxKind::Urge.is_order());
        let creating: Vec<_> = OutboxKind::ALL
            .into_iter()
            .filter(|k| k.creates_center_ticket())
            .collect();
        assert_eq!(creating, [OutboxKind::Dispatch, OutboxKind::SecondDispatch]);
    }
}
