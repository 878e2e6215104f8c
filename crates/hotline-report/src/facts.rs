//! The aggregates a report is made of, as the store counts them (keys are the domain's wire
//! names: `cable_damage`, `ivr`, `ordinary`, `dispatch`, ...).

use std::collections::BTreeMap;

/// Tickets received in the period (DM3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketFacts {
    pub total: u64,
    pub by_fault: BTreeMap<String, u64>,
    pub by_channel: BTreeMap<String, u64>,
    pub by_class: BTreeMap<String, u64>,
    /// By stamped branch (SF11).
    pub by_branch: BTreeMap<String, u64>,
    /// Tickets the desk classified as a repeat of an earlier one (`repeat_of` set).
    pub repeats: u64,
}

/// On-time repair of one branch and fault group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairCount {
    /// Repair limits that fell due in the period.
    pub due: u64,
    /// ... met (cleared) no later than the limit.
    pub on_time: u64,
}

/// A repair limit that was missed (met late, or still open past it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateOrder {
    pub ticket_id: i64,
    pub branch: String,
    pub faulty_number: String,
    pub fault_type: String,
    pub customer_class: String,
    pub received_at: i64,
    pub due_at: i64,
    /// `None`: still not repaired.
    pub met_at: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairFacts {
    /// (branch, cable?) → counts.
    pub by_branch: BTreeMap<(String, bool), RepairCount>,
    pub late: Vec<LateOrder>,
}

/// One desk rule's deadlines (SO2 dispatch, TE1 entry, TE4 escalation, SS3 repair).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleCount {
    /// Deadlines that fell due in the period.
    pub due: u64,
    /// ... met no later than due.
    pub met_in_time: u64,
    /// ... met after due.
    pub met_late: u64,
    /// ... still open (past due).
    pub open: u64,
    /// Warnings (预警) raised in the period (alerts, level `warning`).
    pub warnings: u64,
    /// Breaches (超时) raised in the period (alerts, level `breach`).
    pub breaches: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeadlineFacts {
    /// Deadline kind → counts.
    pub by_rule: BTreeMap<String, RuleCount>,
}

/// Survey and QA results per agent (SS2); empty until results are recorded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QualityFacts {
    /// Survey tasks completed in the period.
    pub surveys_done: u64,
    /// agent → (surveys, satisfied, QA reviews, QA score sum).
    pub by_agent: BTreeMap<String, (u64, u64, u64, f64)>,
    /// Whether any structured result exists (false: the section says there is no data yet).
    pub has_results: bool,
}

/// One figure of the morning overview with the tickets behind it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Linked {
    pub count: u64,
    /// The first ids (ascending).
    pub ids: Vec<i64>,
}

/// SO8's figures (open tickets as of now; yesterday's repeats and breaches).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OverviewFacts {
    /// (status, age bucket index into [`AGE_BUCKETS`]) → tickets.
    pub open_by_state_age: BTreeMap<(String, usize), Linked>,
    /// Deadline kind → open deadlines past their warning time but not yet due.
    pub at_limit: BTreeMap<String, Linked>,
    /// Deadline kind → open deadlines past due.
    pub past_limit: BTreeMap<String, Linked>,
    /// Repeats received yesterday.
    pub repeats_yesterday: Linked,
    /// Deadline kind → breaches raised yesterday.
    pub breaches_yesterday: BTreeMap<String, Linked>,
}

/// Age buckets of open tickets: (upper bound in hours, exclusive; label).
pub const AGE_BUCKETS: [(i64, &str); 4] = [
    (1, "1小时内"),
    (4, "1-4小时"),
    (24, "4-24小时"),
    (i64::MAX, "24小时以上"),
];

/// The bucket of an age in ms.
pub fn age_bucket(age_ms: i64) -> usize {
    let h = age_ms / hotline_domain::time::HOUR_MS;
    AGE_BUCKETS
        .iter()
        .position(|(max, _)| h < *max)
        .unwrap_or(AGE_BUCKETS.len() - 1)
}
