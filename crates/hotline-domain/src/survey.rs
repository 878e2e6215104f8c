//! The satisfaction surveyor's rules (SS1-SS6, SO5): what a callback records, when a customer
//! may be called, how often an unreached customer is tried again, what customer information
//! may be kept, what an investigation ends in, and the weekly figures.
//!
//! Pure: callers pass `now`; nothing here reads a clock or a database. Calling hours are
//! Beijing time (UTC+8, no daylight saving), like every day boundary of the desk.

use crate::named::named_enum;
use crate::ticket::{TicketStatus, ValidationError};
use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Beijing time's offset from UTC.
pub const BEIJING_OFFSET_MS: i64 = 8 * HOUR_MS;

named_enum!(
    /// The customer's answer (SS5).
    Satisfaction {
        Satisfied = "satisfied", "满意";
        BasicallySatisfied = "basically_satisfied", "基本满意";
        Dissatisfied = "dissatisfied", "不满意";
    }
);

impl Satisfaction {
    /// Counts towards the satisfaction rate (满意 + 基本满意).
    pub fn is_satisfied(self) -> bool {
        self != Satisfaction::Dissatisfied
    }
}

named_enum!(
    /// How a callback attempt went.
    CallOutcome {
        /// The customer answered the survey.
        Reached = "reached", "已接通";
        /// No answer, busy, wrong number: try again later within the rules.
        NotReached = "not_reached", "未接通";
    }
);

named_enum!(
    /// Which worklist a survey belongs to.
    SurveySource {
        /// SS2: the 112 centre cleared the fault (回单).
        Cleared = "cleared", "回单回访";
        /// SS1: business completed by a junior or senior operator (answered without dispatch).
        Completed = "completed", "业务回访";
    }
);

named_enum!(
    /// The surveyor's worklists.
    Worklist {
        /// SS2: callbacks after a clearance (回单), the open survey tasks.
        Cleared = "cleared", "回单回访";
        /// SS1: reports answered by an operator, not yet surveyed.
        Completed = "completed", "业务回访";
        /// SS3: dispatched orders near (预警) or past (催单) their repair limit.
        Due = "due", "预警催单";
        /// SS4: finished orders with a repeat report or a 不满意 answer, not yet investigated.
        Investigate = "investigate", "重复申告调查";
    }
);

named_enum!(
    /// Whether the customer agreed to give information about themselves (SS6).
    Consent {
        NotAsked = "not_asked", "未询问";
        Given = "given", "同意";
        Refused = "refused", "拒绝";
    }
);

named_enum!(
    /// SS6 education.
    Education {
        Primary = "primary", "小学及以下";
        Secondary = "secondary", "中学";
        College = "college", "大专/本科";
        Postgraduate = "postgraduate", "研究生及以上";
    }
);

named_enum!(
    /// SS6 age band.
    AgeBand {
        Under30 = "under_30", "30岁以下";
        From30To44 = "30_44", "30-44岁";
        From45To59 = "45_59", "45-59岁";
        Over60 = "60_plus", "60岁及以上";
    }
);

named_enum!(
    /// SS6 spending level (monthly telephone spending as the customer puts it).
    SpendingLevel {
        Low = "low", "低";
        Medium = "medium", "中";
        High = "high", "高";
    }
);

named_enum!(
    /// SS6: the customer's opinion of the operator who took the report.
    OperatorOpinion {
        Good = "good", "好";
        Fair = "fair", "一般";
        Poor = "poor", "差";
    }
);

named_enum!(
    /// SS4: what the investigation of a repeat report on a finished order ended in.
    InvestigationOutcome {
        Apology = "apology", "道歉";
        Explanation = "explanation", "解释";
        /// SO5: re-dispatched through the senior's review, with a written warning to the
        /// local measurement centre.
        SecondDispatch = "second_dispatch", "二次派单";
    }
);

/// A time of day (Beijing), minutes after midnight; `"08:30"` in config files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// `hour:minute`; `None` outside 00:00..=24:00.
    pub fn new(hour: u16, minute: u16) -> Option<TimeOfDay> {
        (minute < 60 && (hour < 24 || (hour == 24 && minute == 0)))
            .then_some(TimeOfDay(hour * 60 + minute))
    }

    pub fn minutes(self) -> i64 {
        i64::from(self.0)
    }

    /// `"HH:MM"`.
    pub fn parse(s: &str) -> Option<TimeOfDay> {
        let (h, m) = s.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        TimeOfDay::new(h.parse().ok()?, m.parse().ok()?)
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeOfDay::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not a time of day HH:MM (00:00-24:00)"))
        })
    }
}

/// `[surveys]` of the config: when customers may be called and how often.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurveyRules {
    /// First minute of calling hours (Beijing time).
    pub calling_from: TimeOfDay,
    /// End of calling hours (exclusive).
    pub calling_until: TimeOfDay,
    /// At most this many attempts per survey; the last unreached one closes it.
    pub max_attempts: u32,
    /// Wait after an unreached attempt before the next (moved into calling hours).
    pub retry_after_minutes: u32,
    /// SS1: answered tickets from the last this many days are on the worklist.
    pub completed_window_days: u32,
    /// A branch or fault type needs at least this many results to be named a weak area.
    pub weak_area_min_results: u32,
}

impl Default for SurveyRules {
    fn default() -> Self {
        SurveyRules {
            calling_from: TimeOfDay(8 * 60 + 30),
            calling_until: TimeOfDay(20 * 60 + 30),
            max_attempts: 3,
            retry_after_minutes: 120,
            completed_window_days: 7,
            weak_area_min_results: 3,
        }
    }
}

/// Why the survey rules refuse something. Each message says what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SurveyRefusal {
    #[error(
        "outside calling hours {from}-{until} (Beijing time); call again from {next_ms} (ms since the epoch)"
    )]
    OutsideCallingHours {
        from: TimeOfDay,
        until: TimeOfDay,
        next_ms: i64,
    },
    #[error(
        "survey of ticket {ticket} already had {attempts} attempts, the most allowed ({max}); it is closed as unreachable"
    )]
    AttemptsExhausted {
        ticket: i64,
        attempts: u32,
        max: u32,
    },
    #[error(
        "the next attempt on ticket {ticket} is due at {next_ms} (ms since the epoch), {retry_after_minutes} minutes after the last unreached one"
    )]
    TooSoon {
        ticket: i64,
        next_ms: i64,
        retry_after_minutes: u32,
    },
    #[error("the callback of ticket {0} is already recorded; a callback is recorded once")]
    AlreadyRecorded(i64),
    #[error(
        "ticket {ticket} is {}, with no open callback survey: a callback follows a clearance (回单, SS2) or a report answered by an operator (SS1)",
        status.as_str()
    )]
    NotSurveyable { ticket: i64, status: TicketStatus },
    #[error(
        "ticket {ticket} is {}: only a finished order (cleared, closed or answered) is investigated (SS4)",
        status.as_str()
    )]
    NotFinished { ticket: i64, status: TicketStatus },
}

impl SurveyRules {
    /// Bounds no type expresses, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.calling_from >= self.calling_until {
            return Err(format!(
                "surveys.calling_from {} must be before surveys.calling_until {}",
                self.calling_from, self.calling_until
            ));
        }
        if !(1..=20).contains(&self.max_attempts) {
            return Err(format!(
                "surveys.max_attempts: {} is not in 1..=20",
                self.max_attempts
            ));
        }
        if !(1..=7 * 24 * 60).contains(&self.retry_after_minutes) {
            return Err(format!(
                "surveys.retry_after_minutes: {} is not in 1..=10080",
                self.retry_after_minutes
            ));
        }
        if !(1..=366).contains(&self.completed_window_days) {
            return Err(format!(
                "surveys.completed_window_days: {} is not in 1..=366",
                self.completed_window_days
            ));
        }
        Ok(())
    }

    fn minute_of_day(t: Timestamp) -> i64 {
        (t.0 + BEIJING_OFFSET_MS).rem_euclid(DAY_MS) / MINUTE_MS
    }

    /// Whether `t` is within calling hours.
    pub fn in_calling_hours(&self, t: Timestamp) -> bool {
        let m = Self::minute_of_day(t);
        m >= self.calling_from.minutes() && m < self.calling_until.minutes()
    }

    /// The first moment at or after `t` within calling hours.
    pub fn next_calling_time(&self, t: Timestamp) -> Timestamp {
        if self.in_calling_hours(t) {
            return t;
        }
        let local = t.0 + BEIJING_OFFSET_MS;
        let day_start = local - local.rem_euclid(DAY_MS);
        let opens_today = day_start + self.calling_from.minutes() * MINUTE_MS;
        let opens = if local < opens_today {
            opens_today
        } else {
            opens_today + DAY_MS
        };
        Timestamp(opens - BEIJING_OFFSET_MS)
    }

    /// When the attempt after an unreached one at `last` may be made.
    pub fn retry_at(&self, last: Timestamp) -> Timestamp {
        self.next_calling_time(last.plus_ms(i64::from(self.retry_after_minutes) * MINUTE_MS))
    }

    /// Decides an attempt on a survey that has had `attempts` (the last, unreached, at
    /// `last_attempt`): refused outside calling hours, before the retry time, or after the
    /// last allowed attempt. Returns the attempt's number (1-based).
    pub fn check_attempt(
        &self,
        ticket: i64,
        now: Timestamp,
        attempts: u32,
        last_attempt: Option<Timestamp>,
    ) -> Result<u32, SurveyRefusal> {
        if attempts >= self.max_attempts {
            return Err(SurveyRefusal::AttemptsExhausted {
                ticket,
                attempts,
                max: self.max_attempts,
            });
        }
        if !self.in_calling_hours(now) {
            return Err(SurveyRefusal::OutsideCallingHours {
                from: self.calling_from,
                until: self.calling_until,
                next_ms: self.next_calling_time(now).0,
            });
        }
        if let Some(last) = last_attempt {
            let next = self.retry_at(last);
            if now < next {
                return Err(SurveyRefusal::TooSoon {
                    ticket,
                    next_ms: next.0,
                    retry_after_minutes: self.retry_after_minutes,
                });
            }
        }
        Ok(attempts + 1)
    }

    /// What follows attempt number `attempt` made at `now` with `outcome`.
    pub fn after_attempt(&self, now: Timestamp, attempt: u32, outcome: CallOutcome) -> NextStep {
        match outcome {
            CallOutcome::Reached => NextStep::Done,
            CallOutcome::NotReached if attempt >= self.max_attempts => NextStep::Unreachable,
            CallOutcome::NotReached => NextStep::RetryAt(self.retry_at(now)),
        }
    }
}

/// What a survey does after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// The customer answered: the survey is done.
    Done,
    /// Not reached: try again at this time.
    RetryAt(Timestamp),
    /// Not reached on the last allowed attempt: the survey is closed as unreachable.
    Unreachable,
}

impl NextStep {
    /// Whether the survey task is finished by this attempt.
    pub fn closes(self) -> bool {
        !matches!(self, NextStep::RetryAt(_))
    }
}

/// SS6: what the customer told about themselves (each optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerProfile {
    pub education: Option<Education>,
    pub age_band: Option<AgeBand>,
    pub spending_level: Option<SpendingLevel>,
    pub operator_opinion: Option<OperatorOpinion>,
}

impl CustomerProfile {
    pub fn is_empty(&self) -> bool {
        *self == CustomerProfile::default()
    }
}

/// A callback as the surveyor reports it, with wire strings still unchecked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackForm {
    pub outcome: String,
    pub satisfaction: String,
    pub comment: String,
    pub consent: String,
    pub education: String,
    pub age_band: String,
    pub spending_level: String,
    pub operator_opinion: String,
}

/// A checked callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Callback {
    pub outcome: CallOutcome,
    /// Present exactly when reached.
    pub satisfaction: Option<Satisfaction>,
    pub comment: String,
    pub consent: Consent,
    /// Empty unless consent was given.
    pub profile: CustomerProfile,
}

/// Most characters of a callback's comment or an investigation's note.
pub const MAX_COMMENT: usize = 2000;

fn one_of<T: Copy>(
    field: &'static str,
    s: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Option<T>, ValidationError> {
    if s.is_empty() {
        return Ok(None);
    }
    parse(s).map(Some).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
        ValidationError::new(
            field,
            format!("unknown value {s:?}; use one of {}", names.join(", ")),
        )
    })
}

fn comment(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let n = s.chars().count();
    if n > MAX_COMMENT {
        return Err(ValidationError::new(
            field,
            format!("is {n} characters long; at most {MAX_COMMENT} are allowed"),
        ));
    }
    Ok(s.trim().to_string())
}

impl CallbackForm {
    /// Checks the form: a reached call needs a satisfaction, an unreached one has none and no
    /// customer information; customer information needs the consent recorded as given (SS6).
    /// Errors name the field.
    pub fn validate(&self) -> Result<Callback, ValidationError> {
        let outcome = one_of(
            "outcome",
            &self.outcome,
            CallOutcome::parse,
            &CallOutcome::ALL,
            CallOutcome::as_str,
        )?
        .ok_or_else(|| ValidationError::new("outcome", "is required: reached or not_reached"))?;
        let satisfaction = one_of(
            "satisfaction",
            &self.satisfaction,
            Satisfaction::parse,
            &Satisfaction::ALL,
            Satisfaction::as_str,
        )?;
        let consent = one_of(
            "consent",
            &self.consent,
            Consent::parse,
            &Consent::ALL,
            Consent::as_str,
        )?
        .unwrap_or(Consent::NotAsked);
        let profile = CustomerProfile {
            education: one_of(
                "profile.education",
                &self.education,
                Education::parse,
                &Education::ALL,
                Education::as_str,
            )?,
            age_band: one_of(
                "profile.age_band",
                &self.age_band,
                AgeBand::parse,
                &AgeBand::ALL,
                AgeBand::as_str,
            )?,
            spending_level: one_of(
                "profile.spending_level",
                &self.spending_level,
                SpendingLevel::parse,
                &SpendingLevel::ALL,
                SpendingLevel::as_str,
            )?,
            operator_opinion: one_of(
                "profile.operator_opinion",
                &self.operator_opinion,
                OperatorOpinion::parse,
                &OperatorOpinion::ALL,
                OperatorOpinion::as_str,
            )?,
        };
        let comment = comment("comment", &self.comment)?;
        match (outcome, satisfaction) {
            (CallOutcome::Reached, None) => {
                return Err(ValidationError::new(
                    "satisfaction",
                    "is required when the customer was reached: satisfied, basically_satisfied or dissatisfied",
                ));
            }
            (CallOutcome::NotReached, Some(_)) => {
                return Err(ValidationError::new(
                    "satisfaction",
                    "must be empty when the customer was not reached",
                ));
            }
            _ => {}
        }
        if !profile.is_empty() {
            if outcome == CallOutcome::NotReached {
                return Err(ValidationError::new(
                    "profile",
                    "customer information is taken only from a customer who was reached",
                ));
            }
            if consent != Consent::Given {
                return Err(ValidationError::new(
                    "profile",
                    format!(
                        "customer information is kept only with the customer's consent (SS6); consent is {}: record consent given, or leave the profile empty",
                        consent.as_str()
                    ),
                ));
            }
        }
        Ok(Callback {
            outcome,
            satisfaction,
            comment,
            consent,
            profile,
        })
    }
}

/// The Monday-to-Sunday week (Beijing time) holding `t`: `[monday 00:00, next monday 00:00)`.
pub fn week_containing(t: Timestamp) -> (Timestamp, Timestamp) {
    let day = (t.0 + BEIJING_OFFSET_MS).div_euclid(DAY_MS);
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counted from Monday
    let monday = day - (day + 3).rem_euclid(7);
    let start = monday * DAY_MS - BEIJING_OFFSET_MS;
    (Timestamp(start), Timestamp(start + 7 * DAY_MS))
}

/// A ticket may be investigated (SS4) once its order is finished.
pub fn check_investigable(ticket: i64, status: TicketStatus) -> Result<(), SurveyRefusal> {
    match status {
        TicketStatus::Cleared | TicketStatus::Closed | TicketStatus::Answered => Ok(()),
        status => Err(SurveyRefusal::NotFinished { ticket, status }),
    }
}

/// An investigation as asked, checked.
pub fn check_investigation(
    outcome: &str,
    note: &str,
) -> Result<(InvestigationOutcome, String), ValidationError> {
    let outcome = one_of(
        "outcome",
        outcome,
        InvestigationOutcome::parse,
        &InvestigationOutcome::ALL,
        InvestigationOutcome::as_str,
    )?
    .ok_or_else(|| {
        ValidationError::new(
            "outcome",
            "is required: apology, explanation or second_dispatch",
        )
    })?;
    let note = comment("note", note)?;
    if note.is_empty() {
        return Err(ValidationError::new(
            "note",
            match outcome {
                InvestigationOutcome::SecondDispatch => {
                    "must say what failed: it is the written warning (书面警告) sent to the local measurement centre (SO5)"
                }
                _ => "must say what the customer was told",
            },
        ));
    }
    Ok((outcome, note))
}

/// One recorded survey result, as the statistics need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultFact {
    pub satisfaction: Satisfaction,
    pub branch: String,
    pub fault_type: String,
}

/// Counts of one group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub satisfied: u32,
    pub basically_satisfied: u32,
    pub dissatisfied: u32,
}

impl Tally {
    fn add(&mut self, s: Satisfaction) {
        match s {
            Satisfaction::Satisfied => self.satisfied += 1,
            Satisfaction::BasicallySatisfied => self.basically_satisfied += 1,
            Satisfaction::Dissatisfied => self.dissatisfied += 1,
        }
    }

    pub fn total(&self) -> u32 {
        self.satisfied + self.basically_satisfied + self.dissatisfied
    }

    /// (满意 + 基本满意) / total, `None` without results.
    pub fn rate(&self) -> Option<f64> {
        let n = self.total();
        (n > 0).then(|| f64::from(self.satisfied + self.basically_satisfied) / f64::from(n))
    }
}

/// What a group is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    Branch,
    FaultType,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Branch => "branch",
            Dimension::FaultType => "fault_type",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Dimension::Branch => "分局",
            Dimension::FaultType => "故障类型",
        }
    }
}

/// One group's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupStats {
    pub dimension: Dimension,
    pub key: String,
    pub tally: Tally,
}

/// A period's figures (SS5).
#[derive(Clone, Debug, PartialEq)]
pub struct SurveyStats {
    pub overall: Tally,
    /// By branch, then by fault type, each sorted by key.
    pub groups: Vec<GroupStats>,
    /// The groups with the lowest rate among those with at least the minimum of results,
    /// lowest first (at most 3 per dimension); ties by more dissatisfied, then key.
    pub weakest: Vec<GroupStats>,
}

/// Name of a ticket without a branch.
pub const NO_BRANCH: &str = "未归属";

/// Counts the facts, by branch and by fault type, and names the weakest areas.
pub fn summarize(facts: &[ResultFact], min_results: u32) -> SurveyStats {
    let mut overall = Tally::default();
    let mut by: BTreeMap<(Dimension, String), Tally> = BTreeMap::new();
    for f in facts {
        overall.add(f.satisfaction);
        let branch = if f.branch.is_empty() {
            NO_BRANCH.to_string()
        } else {
            f.branch.clone()
        };
        by.entry((Dimension::Branch, branch))
            .or_default()
            .add(f.satisfaction);
        by.entry((Dimension::FaultType, f.fault_type.clone()))
            .or_default()
            .add(f.satisfaction);
    }
    let groups: Vec<GroupStats> = by
        .into_iter()
        .map(|((dimension, key), tally)| GroupStats {
            dimension,
            key,
            tally,
        })
        .collect();
    let mut weakest = Vec::new();
    for d in [Dimension::Branch, Dimension::FaultType] {
        let mut cands: Vec<&GroupStats> = groups
            .iter()
            .filter(|g| g.dimension == d && g.tally.total() >= min_results.max(1))
            .filter(|g| g.tally.dissatisfied > 0)
            .collect();
        cands.sort_by(|a, b| {
            let (ra, rb) = (a.tally.rate().unwrap_or(1.0), b.tally.rate().unwrap_or(1.0));
            ra.total_cmp(&rb)
                .then(b.tally.dissatisfied.cmp(&a.tally.dissatisfied))
                .then(a.key.cmp(&b.key))
        });
        weakest.extend(cands.into_iter().take(3).cloned());
    }
    SurveyStats {
        overall,
        groups,
        weakest,
    }
}

/// The weakest areas in one Chinese sentence each ("分局 东城: 满意率 40.0% (2/5), 不满意 3").
pub fn describe_weak(g: &GroupStats) -> String {
    let t = &g.tally;
    format!(
        "{} {}: 满意率 {:.1}% ({}/{}), 不满意 {}",
        g.dimension.label_zh(),
        g.key,
        t.rate().unwrap_or(0.0) * 100.0,
        t.satisfied + t.basically_satisfied,
        t.total(),
        t.dissatisfied
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A midnight in Beijing time (2024-10-04 00:00 +08:00).
    const DAY: i64 = 20_000 * DAY_MS - BEIJING_OFFSET_MS;

    fn at(h: i64, m: i64) -> Timestamp {
        Timestamp(DAY + h * HOUR_MS + m * MINUTE_MS)
    }

    fn form(outcome: &str, satisfaction: &str) -> CallbackForm {
        CallbackForm {
            outcome: outcome.into(),
            satisfaction: satisfaction.into(),
            ..Default::default()
        }
    }

    #[test]
    fn ss2_calling_hours_are_beijing_time_and_the_next_opening_is_computed() {
        let r = SurveyRules::default();
        assert_eq!(SurveyRules::minute_of_day(at(0, 0)), 0);
        assert!(!r.in_calling_hours(at(8, 29)));
        assert!(r.in_calling_hours(at(8, 30)));
        assert!(r.in_calling_hours(at(20, 29)));
        assert!(!r.in_calling_hours(at(20, 30)));
        assert_eq!(r.next_calling_time(at(7, 0)), at(8, 30));
        assert_eq!(r.next_calling_time(at(12, 0)), at(12, 0));
        assert_eq!(r.next_calling_time(at(21, 0)), at(24 + 8, 30));
        assert_eq!(r.next_calling_time(at(23, 59)), at(24 + 8, 30));
    }

    #[test]
    fn ss2_unreached_customers_are_retried_within_hours_at_most_n_times() {
        let r = SurveyRules::default();
        assert_eq!(r.check_attempt(1, at(9, 0), 0, None), Ok(1));
        // retry two hours later, moved into calling hours
        assert_eq!(
            r.after_attempt(at(9, 0), 1, CallOutcome::NotReached),
            NextStep::RetryAt(at(11, 0))
        );
        assert_eq!(
            r.after_attempt(at(19, 45), 2, CallOutcome::NotReached),
            NextStep::RetryAt(at(24 + 8, 30))
        );
        assert_eq!(
            r.after_attempt(at(19, 45), 3, CallOutcome::NotReached),
            NextStep::Unreachable
        );
        assert_eq!(
            r.after_attempt(at(9, 0), 1, CallOutcome::Reached),
            NextStep::Done
        );
        assert!(NextStep::Unreachable.closes() && NextStep::Done.closes());
        assert!(!NextStep::RetryAt(at(9, 0)).closes());
        // too soon after the last
        assert_eq!(
            r.check_attempt(1, at(10, 0), 1, Some(at(9, 0))),
            Err(SurveyRefusal::TooSoon {
                ticket: 1,
                next_ms: at(11, 0).0,
                retry_after_minutes: 120
            })
        );
        assert_eq!(r.check_attempt(1, at(11, 0), 1, Some(at(9, 0))), Ok(2));
        // outside hours
        let e = r.check_attempt(1, at(21, 0), 0, None).unwrap_err();
        assert_eq!(
            e,
            SurveyRefusal::OutsideCallingHours {
                from: r.calling_from,
                until: r.calling_until,
                next_ms: at(24 + 8, 30).0
            }
        );
        assert!(e.to_string().contains("08:30-20:30"), "{e}");
        // exhausted
        assert!(matches!(
            r.check_attempt(1, at(12, 0), 3, Some(at(9, 0))),
            Err(SurveyRefusal::AttemptsExhausted {
                attempts: 3,
                max: 3,
                ..
            })
        ));
    }

    #[test]
    fn ss5_callback_needs_a_known_satisfaction_when_reached() {
        let ok = form("reached", "basically_satisfied").validate().unwrap();
        assert_eq!(ok.satisfaction, Some(Satisfaction::BasicallySatisfied));
        assert_eq!(ok.consent, Consent::NotAsked);
        let e = form("reached", "very_happy").validate().unwrap_err();
        assert_eq!(e.field, "satisfaction");
        assert!(
            e.reason
                .contains("satisfied, basically_satisfied, dissatisfied")
        );
        assert_eq!(
            form("reached", "").validate().unwrap_err().field,
            "satisfaction"
        );
        assert_eq!(
            form("not_reached", "satisfied")
                .validate()
                .unwrap_err()
                .field,
            "satisfaction"
        );
        assert_eq!(form("", "").validate().unwrap_err().field, "outcome");
        assert_eq!(form("maybe", "").validate().unwrap_err().field, "outcome");
        let nr = form("not_reached", "").validate().unwrap();
        assert_eq!(nr.outcome, CallOutcome::NotReached);
        let long = CallbackForm {
            comment: "长".repeat(MAX_COMMENT + 1),
            ..form("reached", "satisfied")
        };
        assert_eq!(long.validate().unwrap_err().field, "comment");
    }

    #[test]
    fn ss6_customer_information_only_with_consent() {
        let with = |consent: &str| CallbackForm {
            consent: consent.into(),
            education: "college".into(),
            age_band: "30_44".into(),
            spending_level: "high".into(),
            operator_opinion: "good".into(),
            ..form("reached", "satisfied")
        };
        let ok = with("given").validate().unwrap();
        assert_eq!(ok.profile.education, Some(Education::College));
        assert_eq!(ok.profile.age_band, Some(AgeBand::From30To44));
        assert_eq!(ok.profile.spending_level, Some(SpendingLevel::High));
        assert_eq!(ok.profile.operator_opinion, Some(OperatorOpinion::Good));
        for c in ["", "not_asked", "refused"] {
            let e = with(c).validate().unwrap_err();
            assert_eq!(e.field, "profile", "{c}");
            assert!(e.reason.contains("consent"), "{e}");
        }
        // refusal with no profile is fine and recorded
        let refused = CallbackForm {
            consent: "refused".into(),
            ..form("reached", "satisfied")
        };
        assert_eq!(refused.validate().unwrap().consent, Consent::Refused);
        let bad = CallbackForm {
            age_band: "old".into(),
            ..with("given")
        };
        assert_eq!(bad.validate().unwrap_err().field, "profile.age_band");
        let unreached = CallbackForm {
            outcome: "not_reached".into(),
            satisfaction: String::new(),
            ..with("given")
        };
        assert_eq!(unreached.validate().unwrap_err().field, "profile");
    }

    #[test]
    fn ss4_investigation_outcomes_and_finished_orders() {
        assert_eq!(
            check_investigation("apology", " 已致歉 ").unwrap(),
            (InvestigationOutcome::Apology, "已致歉".into())
        );
        assert_eq!(
            check_investigation("second_dispatch", "")
                .unwrap_err()
                .field,
            "note"
        );
        let e = check_investigation("refund", "x").unwrap_err();
        assert_eq!(e.field, "outcome");
        assert!(e.reason.contains("apology, explanation, second_dispatch"));
        assert!(check_investigable(1, TicketStatus::Cleared).is_ok());
        assert!(check_investigable(1, TicketStatus::Closed).is_ok());
        assert_eq!(
            check_investigable(1, TicketStatus::Dispatched),
            Err(SurveyRefusal::NotFinished {
                ticket: 1,
                status: TicketStatus::Dispatched
            })
        );
    }

    #[test]
    fn ss5_rates_per_branch_and_fault_type_and_the_weakest_named() {
        let f = |s: Satisfaction, b: &str, t: &str| ResultFact {
            satisfaction: s,
            branch: b.into(),
            fault_type: t.into(),
        };
        use Satisfaction::*;
        let facts = vec![
            f(Satisfied, "东城", "noise"),
            f(BasicallySatisfied, "东城", "noise"),
            f(Satisfied, "东城", "drops"),
            f(Dissatisfied, "西城", "noise"),
            f(Dissatisfied, "西城", "drops"),
            f(Satisfied, "西城", "drops"),
            f(Dissatisfied, "", "drops"),
        ];
        let s = summarize(&facts, 3);
        assert_eq!(s.overall.total(), 7);
        assert_eq!(s.overall.dissatisfied, 3);
        assert!((s.overall.rate().unwrap() - 4.0 / 7.0).abs() < 1e-9);
        let g = |d: Dimension, k: &str| {
            s.groups
                .iter()
                .find(|g| g.dimension == d && g.key == k)
                .unwrap()
                .tally
                .clone()
        };
        assert_eq!(g(Dimension::Branch, "东城").rate(), Some(1.0));
        assert_eq!(g(Dimension::Branch, NO_BRANCH).total(), 1);
        assert_eq!(g(Dimension::FaultType, "drops").total(), 4);
        // 西城 (1/3) is weakest among branches with ≥ 3 results; 东城 has no dissatisfied;
        // 未归属 has too few results
        let weak: Vec<(Dimension, &str)> = s
            .weakest
            .iter()
            .map(|g| (g.dimension, g.key.as_str()))
            .collect();
        assert_eq!(
            weak,
            vec![
                (Dimension::Branch, "西城"),
                (Dimension::FaultType, "drops"),
                (Dimension::FaultType, "noise"),
            ]
        );
        assert_eq!(
            describe_weak(&s.weakest[0]),
            "分局 西城: 满意率 33.3% (1/3), 不满意 2"
        );
        assert_eq!(summarize(&[], 3).overall.rate(), None);
    }

    #[test]
    fn ss5_weeks_run_monday_to_sunday_in_beijing_time() {
        // DAY is a Friday (2024-10-04); its week starts on Monday 2024-09-30
        let (from, to) = week_containing(at(12, 0));
        assert_eq!(from, at(-4 * 24, 0));
        assert_eq!(to, at(3 * 24, 0));
        assert_eq!(week_containing(from), (from, to));
        assert_eq!(week_containing(Timestamp(to.0 - 1)), (from, to));
        assert_eq!(week_containing(to).0, to);
    }

    #[test]
    fn survey_rules_parse_from_config_and_bad_values_name_the_key() {
        let r: SurveyRules =
            serde_json::from_str(r#"{"calling_from":"09:00","max_attempts":5}"#).unwrap();
        assert_eq!(r.calling_from, TimeOfDay::new(9, 0).unwrap());
        assert_eq!(r.calling_until, SurveyRules::default().calling_until);
        assert_eq!(r.max_attempts, 5);
        assert!(r.validate().is_ok());
        let e = serde_json::from_str::<SurveyRules>(r#"{"calling_from":"9am"}"#).unwrap_err();
        assert!(e.to_string().contains("HH:MM"), "{e}");
        assert!(serde_json::from_str::<SurveyRules>(r#"{"calling_hours":"x"}"#).is_err());
        let bad = SurveyRules {
            calling_from: TimeOfDay::new(21, 0).unwrap(),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("surveys.calling_from"));
        let bad = SurveyRules {
            max_attempts: 0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("surveys.max_attempts"));
        assert_eq!(TimeOfDay::parse("24:00").map(|t| t.minutes()), Some(1440));
        assert_eq!(TimeOfDay::parse("24:01"), None);
        assert_eq!(TimeOfDay::parse("8:30"), None);
        for s in Satisfaction::ALL {
            assert_eq!(Satisfaction::parse(s.as_str()), Some(s));
        }
        assert_eq!(Satisfaction::Dissatisfied.label_zh(), "不满意");
    }
}
