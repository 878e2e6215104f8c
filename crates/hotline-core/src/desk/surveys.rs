//! The satisfaction surveyor's work (SS1-SS6, SO5): worklists, recording callbacks,
//! investigating repeat reports on finished orders, and the weekly statistics.
//!
//! [`Surveys`] holds the desk and the `[surveys]` rules (calling hours, attempts). The rules on
//! what a callback may contain and when a customer may be called are
//! `hotline_domain::survey`'s; the store writes each callback in one transaction and refuses a
//! second result for one survey. A second dispatch (SS4) goes through the workflow's
//! `SecondDispatch` action, so a surveyor's order waits for a senior's review and, approved,
//! is sent with the written warning (书面警告) by the delivery worker (SO5).

use super::Desk;
use crate::auth::Principal;
use crate::error::CoreError;
use hotline_domain::rules::DeadlineKind;
use hotline_domain::survey::{
    self, CallOutcome, Callback, CallbackForm, InvestigationOutcome, NextStep, SurveyRefusal,
    SurveyRules, SurveySource, SurveyStats, Worklist,
};
use hotline_domain::workflow::Action;
use hotline_domain::{Role, Ticket, TicketId, TicketStatus, Timestamp};
use hotline_store::rows::DeadlineState;
use hotline_store::{
    AttemptCounts, CallbackWrite, CallbackWritten, InvestigationRecord, ResultWrite, WarningCount,
};
use std::sync::Arc;

/// How a person records a callback (`survey_attempts.channel`); the automated outbound
/// campaign records [`hotline_domain::outbound::CHANNEL_IVR_OUTBOUND`].
pub const CHANNEL_PERSON: &str = "person";

/// Who makes a callback attempt, and so how it is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// A surveyor, now: the rules decide whether it may be made.
    Person,
    /// The automated call claimed earlier (`desk/outbound.rs`), decided at its claim.
    Outbound,
}

impl Attempt {
    fn channel(self) -> &'static str {
        match self {
            Attempt::Person => CHANNEL_PERSON,
            Attempt::Outbound => hotline_domain::outbound::CHANNEL_IVR_OUTBOUND,
        }
    }
}

/// Re-decisions after a concurrent callback on the same ticket.
const MAX_TRIES: usize = 3;

/// The surveyor's operations over the desk (cheap to clone).
#[derive(Clone)]
pub struct Surveys {
    pub desk: Desk,
    pub rules: Arc<SurveyRules>,
}

/// One entry of a worklist.
#[derive(Clone, Debug)]
pub struct WorkEntry {
    pub list: Worklist,
    /// SS1/SS2: which survey this is.
    pub source: Option<SurveySource>,
    pub ticket: Ticket,
    /// The open survey task (none yet for SS1 before the first attempt).
    pub task_id: Option<i64>,
    /// The number to call: the contact number, else the faulty number.
    pub contact: String,
    /// When the work began (clearance, answer, deadline, finish).
    pub since: Timestamp,
    /// Milliseconds from `since` to now.
    pub elapsed_ms: i64,
    pub attempts: u32,
    pub last_attempt_at: Option<Timestamp>,
    /// SS1/SS2: the earliest time the next attempt may be made.
    pub next_attempt_at: Option<Timestamp>,
    /// SS1/SS2: an attempt may be made now (calling hours, retry time).
    pub callable_now: bool,
    /// SS3: the repair deadline (warned: 预警; breached: 催单 sent to the centre).
    pub deadline: Option<DeadlineState>,
    /// SS4: repeat reports after the finish, and 不满意 answers.
    pub repeats: u32,
    pub dissatisfied: u32,
}

/// A stored callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackRecorded {
    pub ticket_id: TicketId,
    pub task_id: i64,
    pub attempt: u32,
    pub outcome: CallOutcome,
    pub next: NextStep,
    pub result_id: Option<i64>,
}

/// A period's survey figures (SS5).
#[derive(Clone, Debug)]
pub struct SurveyReport {
    pub from: Timestamp,
    pub to: Timestamp,
    pub stats: SurveyStats,
    pub attempts: AttemptCounts,
    /// SO5: written warnings (approved second dispatches) by branch.
    pub warnings: Vec<WarningCount>,
    /// The weakest areas, one sentence each (zh-CN).
    pub weak_points: Vec<String>,
}

fn refusal(r: SurveyRefusal) -> CoreError {
    match r {
        SurveyRefusal::AlreadyRecorded(t) => {
            CoreError::AlreadyExists(format!("the callback of ticket {t}"))
        }
        r => CoreError::NotReady(r.to_string()),
    }
}

fn contact(t: &Ticket) -> String {
    t.contact_number
        .as_ref()
        .unwrap_or(&t.faulty_number)
        .as_str()
        .to_string()
}

impl Desk {
    /// The surveyor's operations with these rules.
    pub fn surveys(&self, rules: SurveyRules) -> Surveys {
        Surveys {
            desk: self.clone(),
            rules: Arc::new(rules),
        }
    }
}

impl Surveys {
    /// Surveyors and admins work surveys (the matrix says so for gRPC; this holds for direct
    /// callers too).
    fn check_role(who: &Principal, what: &'static str) -> Result<(), CoreError> {
        if matches!(who.role, Role::Surveyor | Role::Admin) {
            Ok(())
        } else {
            Err(CoreError::Forbidden {
                role: who.role.as_str(),
                what,
            })
        }
    }

    fn source_of(status: TicketStatus) -> SurveySource {
        if status == TicketStatus::Answered {
            SurveySource::Completed
        } else {
            SurveySource::Cleared
        }
    }

    /// A worklist, at most `limit` entries (0: 100).
    pub async fn worklist(
        &self,
        who: &Principal,
        list: Worklist,
        limit: u32,
    ) -> Result<Vec<WorkEntry>, CoreError> {
        Self::check_role(who, "see the survey worklists")?;
        let limit = if limit == 0 { 100 } else { limit.min(1000) };
        let now = self.desk.clock.now();
        let store = &self.desk.store;
        let rows = match list {
            Worklist::Cleared => store.open_surveys(limit).await?,
            Worklist::Completed => {
                let window =
                    i64::from(self.rules.completed_window_days) * hotline_domain::time::DAY_MS;
                store
                    .completed_unsurveyed(now.plus_ms(-window), limit)
                    .await?
            }
            Worklist::Due => store.repair_due(now, limit).await?,
            Worklist::Investigate => store.investigation_candidates(limit).await?,
        };
        Ok(rows
            .into_iter()
            .map(|w| {
                let surveyed = matches!(list, Worklist::Cleared | Worklist::Completed);
                let next = surveyed.then(|| match w.last_attempt_at {
                    Some(last) => self.rules.retry_at(last),
                    None => self.rules.next_calling_time(now),
                });
                WorkEntry {
                    list,
                    source: surveyed.then(|| Self::source_of(w.ticket.status)),
                    contact: contact(&w.ticket),
                    task_id: w.task_id,
                    since: w.since,
                    elapsed_ms: now.since(w.since),
                    attempts: w.attempts,
                    last_attempt_at: w.last_attempt_at,
                    next_attempt_at: next,
                    callable_now: next
                        .is_some_and(|n| n <= now && w.attempts < self.rules.max_attempts),
                    deadline: w.deadline,
                    repeats: w.repeats,
                    dissatisfied: w.dissatisfied,
                    ticket: w.ticket,
                }
            })
            .collect())
    }

    /// Records a callback on a ticket's survey (SS1, SS2, SS5, SS6): refused for a ticket with
    /// no survey to make, outside calling hours, before the retry time, after the last
    /// attempt, and when the survey's answer is already recorded.
    pub async fn record_callback(
        &self,
        who: &Principal,
        ticket_id: TicketId,
        form: &CallbackForm,
    ) -> Result<CallbackRecorded, CoreError> {
        Self::check_role(who, "record a callback survey")?;
        let cb = form.validate()?;
        self.write_callback(who, ticket_id, &cb, Attempt::Person)
            .await?
            .ok_or(CoreError::Contended)
    }

    /// Writes one attempt: a person's is decided now by the rules (calling hours, retry
    /// time, attempts left); an automated call's was decided when it was claimed (within
    /// calling hours) and is written whatever the time now. `None`: the automated call's
    /// survey was closed meanwhile (a surveyor finished it), nothing to write.
    pub(crate) async fn write_callback(
        &self,
        who: &Principal,
        ticket_id: TicketId,
        cb: &Callback,
        how: Attempt,
    ) -> Result<Option<CallbackRecorded>, CoreError> {
        for _ in 0..MAX_TRIES {
            let now = self.desk.clock.now();
            let st = self.desk.store.survey_state(ticket_id).await?;
            let task_id = match st.open_task {
                Some((id, _)) => Some(id),
                None if st.results > 0 => {
                    return Err(refusal(SurveyRefusal::AlreadyRecorded(ticket_id)));
                }
                None if how == Attempt::Outbound => return Ok(None),
                None if st.status == TicketStatus::Answered => None,
                None => {
                    return Err(refusal(SurveyRefusal::NotSurveyable {
                        ticket: ticket_id,
                        status: st.status,
                    }));
                }
            };
            let attempt = match how {
                Attempt::Person => self
                    .rules
                    .check_attempt(ticket_id, now, st.attempts, st.last_attempt_at)
                    .map_err(refusal)?,
                Attempt::Outbound => st.attempts + 1,
            };
            let next = self.rules.after_attempt(now, attempt, cb.outcome);
            let source = Self::source_of(st.status);
            let by = match how {
                Attempt::Person => String::new(),
                Attempt::Outbound => " [自动外呼]".to_owned(),
            };
            let detail = match (cb.satisfaction, next) {
                (Some(s), _) => format!(
                    "第{attempt}次回访 ({}){by}: 已接通, {}{}",
                    source.label_zh(),
                    s.label_zh(),
                    if cb.comment.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", cb.comment)
                    }
                ),
                (None, NextStep::Unreachable) => format!(
                    "第{attempt}次回访 ({}){by}: 未接通, 已达最多 {} 次, 回访结束",
                    source.label_zh(),
                    self.rules.max_attempts
                ),
                (None, _) => format!("第{attempt}次回访 ({}){by}: 未接通", source.label_zh()),
            };
            let written = self
                .desk
                .store
                .record_callback(&CallbackWrite {
                    ticket_id,
                    task_id,
                    attempt,
                    outcome: cb.outcome,
                    comment: &cb.comment,
                    channel: how.channel(),
                    result: cb.satisfaction.map(|satisfaction| ResultWrite {
                        source,
                        satisfaction,
                        consent: cb.consent,
                        profile: &cb.profile,
                    }),
                    closes: next.closes(),
                    audit_detail: &detail,
                    actor: &who.agent_id,
                    role: who.role,
                    now,
                })
                .await?;
            match written {
                CallbackWritten::Done {
                    task_id, result_id, ..
                } => {
                    tracing::info!(ticket_id, task_id, attempt, outcome = cb.outcome.as_str(), channel = how.channel(), agent = %who.agent_id, "survey callback recorded");
                    return Ok(Some(CallbackRecorded {
                        ticket_id,
                        task_id,
                        attempt,
                        outcome: cb.outcome,
                        next,
                        result_id,
                    }));
                }
                CallbackWritten::AlreadyRecorded => {
                    return Err(refusal(SurveyRefusal::AlreadyRecorded(ticket_id)));
                }
                CallbackWritten::TaskClosed if how == Attempt::Outbound => return Ok(None),
                CallbackWritten::TaskClosed | CallbackWritten::Raced => continue,
            }
        }
        Err(CoreError::Contended)
    }

    /// Investigates a finished order (SS4): an apology or an explanation is recorded; a second
    /// dispatch goes through the workflow (a surveyor's waits for a senior's review, SO5; the
    /// note is the written warning) and is linked to the investigation.
    pub async fn investigate(
        &self,
        who: &Principal,
        ticket_id: TicketId,
        outcome: &str,
        note: &str,
    ) -> Result<InvestigationRecord, CoreError> {
        Self::check_role(who, "investigate a repeat report")?;
        let (outcome, note) = survey::check_investigation(outcome, note)?;
        let view = self.desk.store.get_ticket(ticket_id).await?;
        survey::check_investigable(ticket_id, view.ticket.status).map_err(refusal)?;
        let order_id = match outcome {
            InvestigationOutcome::SecondDispatch => {
                let (_, order) = self
                    .desk
                    .act(
                        who,
                        ticket_id,
                        Action::SecondDispatch {
                            warning: note.clone(),
                        },
                    )
                    .await?;
                order
            }
            InvestigationOutcome::Apology | InvestigationOutcome::Explanation => None,
        };
        let rec = self
            .desk
            .store
            .record_investigation(
                ticket_id,
                outcome,
                &note,
                order_id,
                &who.agent_id,
                who.role,
                self.desk.clock.now(),
            )
            .await?;
        tracing::info!(ticket_id, outcome = outcome.as_str(), order = ?order_id, agent = %who.agent_id, "survey investigation recorded");
        Ok(rec)
    }

    /// The figures of `[from, to)` (SS5): counts and rates per branch and fault type, the
    /// weakest areas, attempts, and the written warnings per branch (SO5).
    pub async fn stats(
        &self,
        who: &Principal,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<SurveyReport, CoreError> {
        Self::check_role(who, "read the survey statistics")?;
        if to <= from {
            return Err(hotline_domain::ValidationError::new("to", "must be after from").into());
        }
        self.figures(from, to).await
    }

    /// The figures of `[from, to)`, for whoever the caller checked (the scheduler drafting
    /// the SS5 analyses, [`Surveys::stats`]).
    pub(crate) async fn figures(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<SurveyReport, CoreError> {
        let store = &self.desk.store;
        let facts = store.survey_facts(from, to).await?;
        let stats = survey::summarize(&facts, self.rules.weak_area_min_results);
        let weak_points = stats.weakest.iter().map(survey::describe_weak).collect();
        Ok(SurveyReport {
            from,
            to,
            attempts: store.survey_attempt_counts(from, to).await?,
            warnings: store.second_dispatch_warnings(from, to).await?,
            stats,
            weak_points,
        })
    }

    /// SS3: whether the centre has been urged (催单) for an entry: its repair deadline is
    /// breached, and the scheduler queued the urge with the breach alert.
    pub fn is_urged(entry: &WorkEntry) -> bool {
        entry
            .deadline
            .is_some_and(|d| d.deadline.kind == DeadlineKind::Repair && d.breached)
    }
}
