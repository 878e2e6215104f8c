//! Repeat reports (重复申告): a new report on a number with an open ticket, or with one resolved
//! within the repeat window, is linked to that ticket. Within its repair limit the operator gives
//! a progress answer (JO9); past it the caller goes to the manager hotline (JO5); a repeat on a
//! finished order goes to the satisfaction surveyor (SS4).

use crate::ticket::TicketId;
use crate::time::{DAY_MS, Timestamp};

/// A previous ticket on the same faulty number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriorTicket {
    pub id: TicketId,
    pub open: bool,
    pub received_at: Timestamp,
    /// When it left the open states, if it did.
    pub resolved_at: Option<Timestamp>,
    pub repair_due_at: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepeatAdvice {
    /// JO9: open and within its time limit: answer from the progress the system shows.
    ProgressAnswer { original: TicketId },
    /// JO5: open and past its time limit: transfer to the manager hotline.
    ManagerHotline { original: TicketId },
    /// SS4: resolved within the window: the surveyor investigates (maybe a second dispatch).
    ResolvedRecently { original: TicketId },
}

impl RepeatAdvice {
    pub fn original(self) -> TicketId {
        match self {
            RepeatAdvice::ProgressAnswer { original }
            | RepeatAdvice::ManagerHotline { original }
            | RepeatAdvice::ResolvedRecently { original } => original,
        }
    }
    pub fn is_overdue(self) -> bool {
        matches!(self, RepeatAdvice::ManagerHotline { .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepeatPolicy {
    pub window_days: u32,
}

impl RepeatPolicy {
    /// Classifies a new report against the number's prior tickets (any order). An open ticket
    /// wins over a resolved one; among open tickets the earliest (where the repair clock
    /// started); among resolved ones the most recently resolved.
    pub fn classify(self, now: Timestamp, prior: &[PriorTicket]) -> Option<RepeatAdvice> {
        let window = i64::from(self.window_days) * DAY_MS;
        if let Some(p) = prior
            .iter()
            .filter(|p| p.open)
            .min_by_key(|p| (p.received_at, p.id))
        {
            let overdue = matches!(p.repair_due_at, Some(due) if now > due);
            return Some(if overdue {
                RepeatAdvice::ManagerHotline { original: p.id }
            } else {
                RepeatAdvice::ProgressAnswer { original: p.id }
            });
        }
        prior
            .iter()
            .filter(|p| matches!(p.resolved_at, Some(r) if now.since(r) <= window))
            .max_by_key(|p| (p.resolved_at, p.id))
            .map(|p| RepeatAdvice::ResolvedRecently { original: p.id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_MS;

    fn open(id: i64, received: i64, due: i64) -> PriorTicket {
        PriorTicket {
            id,
            open: true,
            received_at: Timestamp(received),
            resolved_at: None,
            repair_due_at: Some(Timestamp(due)),
        }
    }

    #[test]
    fn jo9_open_within_limit_gets_progress_answer() {
        let p = RepeatPolicy { window_days: 7 };
        let advice = p.classify(Timestamp(HOUR_MS), &[open(1, 0, 24 * HOUR_MS)]);
        assert_eq!(advice, Some(RepeatAdvice::ProgressAnswer { original: 1 }));
    }

    #[test]
    fn jo5_open_past_limit_goes_to_manager_hotline() {
        let p = RepeatPolicy { window_days: 7 };
        let advice = p.classify(Timestamp(25 * HOUR_MS), &[open(1, 0, 24 * HOUR_MS)]);
        assert_eq!(advice, Some(RepeatAdvice::ManagerHotline { original: 1 }));
        assert!(advice.unwrap().is_overdue());
    }

    #[test]
    fn ss4_resolved_within_window_is_a_repeat_and_older_is_not() {
        let p = RepeatPolicy { window_days: 7 };
        let resolved = PriorTicket {
            id: 2,
            open: false,
            received_at: Timestamp(0),
            resolved_at: Some(Timestamp(DAY_MS)),
            repair_due_at: Some(Timestamp(DAY_MS)),
        };
        assert_eq!(
            p.classify(Timestamp(3 * DAY_MS), &[resolved]),
            Some(RepeatAdvice::ResolvedRecently { original: 2 })
        );
        assert_eq!(p.classify(Timestamp(9 * DAY_MS), &[resolved]), None);
        assert_eq!(p.classify(Timestamp(0), &[]), None);
    }

    #[test]
    fn open_ticket_wins_over_resolved_and_earliest_open_wins() {
        let p = RepeatPolicy { window_days: 7 };
        let resolved = PriorTicket {
            id: 9,
            open: false,
            received_at: Timestamp(50),
            resolved_at: Some(Timestamp(60)),
            repair_due_at: None,
        };
        let got = p.classify(
            Timestamp(100),
            &[open(3, 10, 1000), resolved, open(4, 20, 1000)],
        );
        assert_eq!(got, Some(RepeatAdvice::ProgressAnswer { original: 3 }));
    }
}
