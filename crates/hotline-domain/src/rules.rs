//! Time rules as data (JO1, TE1, TE4, SO2, SS3): the repair time-limit table by fault type ×
//! customer class, the desk deadlines, and the deadlines a ticket carries.

use crate::named::named_enum;
use crate::ticket::{Channel, CustomerClass, FaultType, TicketStatus};
use crate::time::{HOUR_MS, MINUTE_MS, Timestamp};
use serde::{Deserialize, Serialize};

named_enum!(
    DeadlineKind {
        Entry = "entry", "文本录入时限";
        Escalation = "escalation", "转高级话务员时限";
        Dispatch = "dispatch", "派单时限";
        Repair = "repair", "查修时限";
    }
);

named_enum!(
    /// How far past a deadline an alert is: warned before it (预警), or past it (超时).
    DueLevel {
        Warning = "warning", "预警";
        Breach = "breach", "超时";
    }
);

named_enum!(
    /// What an alert is about: a desk deadline, or an order the 112 centre has not taken.
    AlertKind {
        Entry = "entry", "文本录入时限";
        Escalation = "escalation", "转高级话务员时限";
        Dispatch = "dispatch", "派单时限";
        Repair = "repair", "查修时限";
        /// An order not delivered to the 112 centre in time, or refused by it.
        Delivery = "delivery", "送达测量台";
        /// The monthly satisfaction analysis not published before the 21st (SS5).
        Analysis = "analysis", "月度分析发布时限";
        /// The automated survey calls' trunk refused every recent call (issue 16 part 5).
        Outbound = "outbound", "外呼中继故障";
    }
);

impl From<DeadlineKind> for AlertKind {
    fn from(k: DeadlineKind) -> Self {
        match k {
            DeadlineKind::Entry => AlertKind::Entry,
            DeadlineKind::Escalation => AlertKind::Escalation,
            DeadlineKind::Dispatch => AlertKind::Dispatch,
            DeadlineKind::Repair => AlertKind::Repair,
        }
    }
}

impl DeadlineKind {
    /// Requirement ID the deadline enforces.
    pub fn requirement(self) -> &'static str {
        match self {
            DeadlineKind::Entry => "TE1",
            DeadlineKind::Escalation => "TE4",
            DeadlineKind::Dispatch => "SO2",
            DeadlineKind::Repair => "SS3",
        }
    }
}

/// One row of the repair time-limit table; `None` matches any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimitRule {
    #[serde(default)]
    pub fault_type: Option<FaultType>,
    #[serde(default)]
    pub customer_class: Option<CustomerClass>,
    pub hours: u32,
}

/// 查修时限: the most specific matching row wins (fault type and class > class > fault type).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimitTable {
    pub rules: Vec<TimeLimitRule>,
    /// When no row matches.
    pub default_hours: u32,
}

impl Default for TimeLimitTable {
    /// Published Chinese norms: non-cable faults 24 h, cable faults 72 h, leased lines 4 h
    /// (equipment) or 24 h (line), important users 6 h. VIPs 12 h is this centre's default,
    /// not a published norm: operators set their own row in `[rules]`.
    fn default() -> Self {
        let rule = |f: Option<FaultType>, c: Option<CustomerClass>, hours| TimeLimitRule {
            fault_type: f,
            customer_class: c,
            hours,
        };
        TimeLimitTable {
            rules: vec![
                rule(Some(FaultType::CableDamage), None, 72),
                rule(None, Some(CustomerClass::Important), 6),
                rule(
                    Some(FaultType::LeasedLineDown),
                    Some(CustomerClass::LeasedLine),
                    4,
                ),
                rule(None, Some(CustomerClass::LeasedLine), 24),
                rule(None, Some(CustomerClass::Vip), 12),
            ],
            default_hours: 24,
        }
    }
}

impl TimeLimitTable {
    pub fn hours_for(&self, fault: FaultType, class: CustomerClass) -> u32 {
        let score = |r: &TimeLimitRule| -> Option<u8> {
            let f = match r.fault_type {
                Some(x) if x == fault => 1,
                Some(_) => return None,
                None => 0,
            };
            let c = match r.customer_class {
                Some(x) if x == class => 2,
                Some(_) => return None,
                None => 0,
            };
            Some(f + c)
        };
        self.rules
            .iter()
            .filter_map(|r| score(r).map(|s| (s, r.hours)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, h)| h)
            .unwrap_or(self.default_hours)
    }
}

/// The desk's time rules, all configurable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeskRules {
    /// TE1: text reports entered within this long of receipt.
    pub entry_minutes: u32,
    /// TE4: what a junior cannot handle reaches a senior within this long of receipt.
    pub escalation_minutes: u32,
    /// SO2: dispatch within this long of receipt.
    pub dispatch_minutes: u32,
    /// SO2: urgent events and big customers are dispatched "at once": this allowance.
    pub urgent_dispatch_minutes: u32,
    /// Warn when this fraction of a deadline's allowance has passed.
    pub warn_ratio: f64,
    /// A report on a number with a ticket resolved this recently is a repeat.
    pub repeat_window_days: u32,
    /// JO2 service level (15秒接听率): a call counts as answered in time when an agent answered
    /// within this many seconds of the caller joining the agent queue.
    pub queue_service_level_secs: u32,
    /// Abandons within this many seconds of joining the queue are short abandons, left out of
    /// the service level's denominator; later abandons count as not answered in time. 0 counts
    /// every abandon.
    pub queue_short_abandon_secs: u32,
    pub time_limits: TimeLimitTable,
}

impl Default for DeskRules {
    fn default() -> Self {
        DeskRules {
            entry_minutes: 120,
            escalation_minutes: 120,
            dispatch_minutes: 60,
            urgent_dispatch_minutes: 5,
            warn_ratio: 0.8,
            repeat_window_days: 7,
            queue_service_level_secs: 15,
            queue_short_abandon_secs: 5,
            time_limits: TimeLimitTable::default(),
        }
    }
}

/// A deadline a ticket carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub kind: DeadlineKind,
    pub due_at: Timestamp,
    pub warn_at: Timestamp,
    /// Set once the rule is satisfied (or no longer applies).
    pub met_at: Option<Timestamp>,
}

impl Deadline {
    /// A deadline met after it was due is a breach to count.
    pub fn met_late(&self) -> bool {
        matches!(self.met_at, Some(m) if m > self.due_at)
    }
}

impl DeskRules {
    fn deadline(&self, kind: DeadlineKind, start: Timestamp, allowance_ms: i64) -> Deadline {
        let ratio = self.warn_ratio.clamp(0.0, 1.0);
        Deadline {
            kind,
            due_at: start.plus_ms(allowance_ms),
            warn_at: start.plus_ms((allowance_ms as f64 * ratio) as i64),
            met_at: None,
        }
    }

    pub fn repair_limit_ms(&self, fault: FaultType, class: CustomerClass) -> i64 {
        i64::from(self.time_limits.hours_for(fault, class)) * HOUR_MS
    }

    pub fn dispatch_allowance_ms(&self, urgent: bool) -> i64 {
        let m = if urgent {
            self.urgent_dispatch_minutes
        } else {
            self.dispatch_minutes
        };
        i64::from(m) * MINUTE_MS
    }

    /// The deadlines of a newly created ticket. The entry deadline (TE1) is met at creation;
    /// [`Deadline::met_late`] tells whether entry itself was late.
    #[allow(clippy::too_many_arguments)]
    pub fn initial_deadlines(
        &self,
        channel: Channel,
        fault: FaultType,
        class: CustomerClass,
        urgent: bool,
        status: TicketStatus,
        received_at: Timestamp,
        created_at: Timestamp,
    ) -> Vec<Deadline> {
        let mut out = Vec::with_capacity(4);
        if channel.is_text() {
            let mut d = self.deadline(
                DeadlineKind::Entry,
                received_at,
                i64::from(self.entry_minutes) * MINUTE_MS,
            );
            d.met_at = Some(created_at);
            out.push(d);
            if status == TicketStatus::New {
                out.push(self.deadline(
                    DeadlineKind::Escalation,
                    received_at,
                    i64::from(self.escalation_minutes) * MINUTE_MS,
                ));
            }
        }
        out.push(self.deadline(
            DeadlineKind::Dispatch,
            received_at,
            self.dispatch_allowance_ms(urgent || class.needs_senior()),
        ));
        out.push(self.deadline(
            DeadlineKind::Repair,
            received_at,
            self.repair_limit_ms(fault, class),
        ));
        out
    }

    /// A deadline re-armed from `start` (second dispatch restarts the repair clock; marking a
    /// ticket urgent shortens the dispatch allowance).
    pub fn rearmed(&self, kind: DeadlineKind, start: Timestamp, allowance_ms: i64) -> Deadline {
        self.deadline(kind, start, allowance_ms)
    }
}

/// Deadlines that a status change satisfies.
pub fn deadlines_met_by(from: TicketStatus, to: TicketStatus) -> Vec<DeadlineKind> {
    use TicketStatus as S;
    let mut out = Vec::new();
    if from == to {
        return out;
    }
    if from == S::New {
        out.push(DeadlineKind::Escalation);
    }
    if !matches!(to, S::New | S::Escalated | S::AwaitingReview) {
        out.push(DeadlineKind::Dispatch);
    }
    if matches!(to, S::Cleared | S::Cancelled | S::Answered | S::Closed) {
        out.push(DeadlineKind::Repair);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jo1_default_limits_follow_published_norms() {
        let t = TimeLimitTable::default();
        assert_eq!(
            t.hours_for(FaultType::NoDialTone, CustomerClass::Ordinary),
            24
        );
        assert_eq!(
            t.hours_for(FaultType::CableDamage, CustomerClass::Ordinary),
            72
        );
        assert_eq!(
            t.hours_for(FaultType::LeasedLineDown, CustomerClass::LeasedLine),
            4
        );
        assert_eq!(t.hours_for(FaultType::Noise, CustomerClass::LeasedLine), 24);
        assert_eq!(t.hours_for(FaultType::Noise, CustomerClass::Important), 6);
        assert_eq!(t.hours_for(FaultType::Noise, CustomerClass::Vip), 12);
        // a cable fault of a VIP: the class row (12 h) beats the fault row (72 h)
        assert_eq!(t.hours_for(FaultType::CableDamage, CustomerClass::Vip), 12);
        // class beats fault type when both single rows match
        assert_eq!(
            t.hours_for(FaultType::CableDamage, CustomerClass::Important),
            6
        );
    }

    #[test]
    fn te1_te4_text_reports_carry_entry_and_escalation_deadlines() {
        let r = DeskRules::default();
        let received = Timestamp(0);
        let created = Timestamp(3 * HOUR_MS);
        let ds = r.initial_deadlines(
            Channel::Letter,
            FaultType::Noise,
            CustomerClass::Ordinary,
            false,
            TicketStatus::New,
            received,
            created,
        );
        let entry = ds.iter().find(|d| d.kind == DeadlineKind::Entry).unwrap();
        assert_eq!(entry.due_at, Timestamp(2 * HOUR_MS));
        assert!(entry.met_late(), "entered 3 h after receipt breaches TE1");
        let esc = ds
            .iter()
            .find(|d| d.kind == DeadlineKind::Escalation)
            .unwrap();
        assert_eq!(esc.due_at, Timestamp(2 * HOUR_MS));
        assert_eq!(esc.warn_at, Timestamp(96 * MINUTE_MS));
        assert!(esc.met_at.is_none());
    }

    #[test]
    fn so2_dispatch_within_an_hour_urgent_at_once() {
        let r = DeskRules::default();
        let ds = r.initial_deadlines(
            Channel::Ivr,
            FaultType::Noise,
            CustomerClass::Ordinary,
            false,
            TicketStatus::New,
            Timestamp(0),
            Timestamp(0),
        );
        assert!(ds.iter().all(|d| d.kind != DeadlineKind::Entry));
        let d = ds
            .iter()
            .find(|d| d.kind == DeadlineKind::Dispatch)
            .unwrap();
        assert_eq!(d.due_at, Timestamp(HOUR_MS));
        let urgent = r.initial_deadlines(
            Channel::Ivr,
            FaultType::Noise,
            CustomerClass::Big,
            false,
            TicketStatus::Escalated,
            Timestamp(0),
            Timestamp(0),
        );
        let d = urgent
            .iter()
            .find(|d| d.kind == DeadlineKind::Dispatch)
            .unwrap();
        assert_eq!(d.due_at, Timestamp(5 * MINUTE_MS));
    }

    #[test]
    fn status_changes_meet_the_right_deadlines() {
        use TicketStatus as S;
        assert_eq!(
            deadlines_met_by(S::New, S::Escalated),
            vec![DeadlineKind::Escalation]
        );
        assert_eq!(
            deadlines_met_by(S::Escalated, S::Dispatched),
            vec![DeadlineKind::Dispatch]
        );
        assert_eq!(
            deadlines_met_by(S::Dispatched, S::Cleared),
            vec![DeadlineKind::Dispatch, DeadlineKind::Repair]
        );
        assert!(deadlines_met_by(S::New, S::AwaitingReview) == vec![DeadlineKind::Escalation]);
        assert!(deadlines_met_by(S::Dispatched, S::Dispatched).is_empty());
    }
}
