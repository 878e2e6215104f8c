//! Satisfaction surveys (SS1-SS6, SO5): the surveyor's worklists, callback attempts and
//! results, SS4 investigations, and the facts the statistics count.
//!
//! A callback is one transaction: the ticket row is locked first (a no-op update, so two
//! surveyors on one ticket queue on PostgreSQL as they do on SQLite's write lock), the survey
//! task is checked open (or, for SS1, created), the attempt is numbered after the stored ones
//! (`UNIQUE (task_id, attempt)` catches a race), the result is stored once per task
//! (`UNIQUE (task_id)`), the task is completed when the attempt ends the survey, and an audit
//! row goes on the ticket. A refused write changes nothing and says why ([`CallbackWritten`]).

use crate::rows::{self, DeadlineState, TICKET_COLUMNS, parse};
use crate::tickets::audit;
use crate::{Result, Store, StoreError};
use hotline_domain::audit::{AuditAction, DeskEventKind};
use hotline_domain::survey::{
    CallOutcome, Consent, CustomerProfile, InvestigationOutcome, ResultFact, Satisfaction,
    SurveySource,
};
use hotline_domain::task::TaskKind;
use hotline_domain::{OrderId, Role, Ticket, TicketId, TicketStatus, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

/// Where a ticket's survey stands, read before a callback is decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SurveyState {
    pub ticket_id: TicketId,
    pub status: TicketStatus,
    /// The open survey task and when it was made.
    pub open_task: Option<(i64, Timestamp)>,
    /// Attempts on the open task so far, and the last one's time.
    pub attempts: u32,
    pub last_attempt_at: Option<Timestamp>,
    /// Results recorded on this ticket (any task).
    pub results: u32,
}

/// One entry of a worklist as stored: the ticket, its survey task (if any) and attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkRow {
    pub ticket: Ticket,
    pub task_id: Option<i64>,
    /// When the work began: the task's creation (SS2), the answer (SS1), the deadline's due
    /// time (SS3), the ticket's resolution (SS4).
    pub since: Timestamp,
    pub attempts: u32,
    pub last_attempt_at: Option<Timestamp>,
    /// SS3: the repair deadline.
    pub deadline: Option<DeadlineState>,
    /// SS4: repeat reports received after the ticket was finished, and 不满意 answers.
    pub repeats: u32,
    pub dissatisfied: u32,
}

/// A callback to store, decided by the domain.
#[derive(Clone, Debug)]
pub struct CallbackWrite<'a> {
    pub ticket_id: TicketId,
    /// `Some(id)`: the open task the decision was made on; `None`: start an SS1 survey (a
    /// task is made, refused if one is open by now).
    pub task_id: Option<i64>,
    /// The attempt's number: one more than the stored ones.
    pub attempt: u32,
    pub outcome: CallOutcome,
    pub comment: &'a str,
    /// `person` (the surveyor) or `ivr-outbound`.
    pub channel: &'a str,
    /// The answer, when reached.
    pub result: Option<ResultWrite<'a>>,
    /// The attempt ends the survey: the task is completed.
    pub closes: bool,
    /// Detail of the audit row (what happened, in words).
    pub audit_detail: &'a str,
    pub actor: &'a str,
    pub role: Role,
    pub now: Timestamp,
}

/// The answer of a reached customer.
#[derive(Clone, Debug)]
pub struct ResultWrite<'a> {
    pub source: SurveySource,
    pub satisfaction: Satisfaction,
    pub consent: Consent,
    pub profile: &'a CustomerProfile,
}

/// What a callback write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackWritten {
    Done {
        task_id: i64,
        attempt_id: i64,
        result_id: Option<i64>,
    },
    /// The task already has its result: a callback is recorded once.
    AlreadyRecorded,
    /// The task was closed (unreachable, or completed by hand) meanwhile.
    TaskClosed,
    /// Someone recorded an attempt (or opened the SS1 task) since the decision: decide again.
    Raced,
}

/// A stored result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SurveyResultRecord {
    pub id: i64,
    pub task_id: i64,
    pub ticket_id: TicketId,
    pub source: SurveySource,
    pub channel: String,
    pub satisfaction: Satisfaction,
    pub comment: String,
    pub consent: Consent,
    pub profile: CustomerProfile,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
}

/// A stored SS4 investigation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvestigationRecord {
    pub id: i64,
    pub ticket_id: TicketId,
    pub outcome: InvestigationOutcome,
    pub note: String,
    pub order_id: Option<OrderId>,
    pub made_by: String,
    pub made_at: Timestamp,
}

/// Attempts in a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttemptCounts {
    pub attempts: i64,
    pub not_reached: i64,
    /// Surveys closed as unreachable (the last allowed attempt not reached).
    pub unreachable: i64,
}

/// SO5 evidence: second dispatches approved in a period, by the branch they went to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarningCount {
    pub branch: String,
    pub warnings: i64,
}

fn optional<T>(what: &str, s: &str, f: fn(&str) -> Option<T>) -> Result<Option<T>> {
    if s.is_empty() {
        Ok(None)
    } else {
        parse(what, s, f).map(Some)
    }
}

fn result_row(r: &sqlx::any::AnyRow) -> Result<SurveyResultRecord> {
    use hotline_domain::survey::{AgeBand, Education, OperatorOpinion, SpendingLevel};
    Ok(SurveyResultRecord {
        id: r.try_get("id")?,
        task_id: r.try_get("task_id")?,
        ticket_id: r.try_get("ticket_id")?,
        source: parse(
            "survey source",
            &r.try_get::<String, _>("source")?,
            SurveySource::parse,
        )?,
        channel: r.try_get("channel")?,
        satisfaction: parse(
            "satisfaction",
            &r.try_get::<String, _>("satisfaction")?,
            Satisfaction::parse,
        )?,
        comment: r.try_get("comment")?,
        consent: parse(
            "consent",
            &r.try_get::<String, _>("consent")?,
            Consent::parse,
        )?,
        profile: CustomerProfile {
            education: optional(
                "education",
                &r.try_get::<String, _>("education")?,
                Education::parse,
            )?,
            age_band: optional(
                "age band",
                &r.try_get::<String, _>("age_band")?,
                AgeBand::parse,
            )?,
            spending_level: optional(
                "spending level",
                &r.try_get::<String, _>("spending_level")?,
                SpendingLevel::parse,
            )?,
            operator_opinion: optional(
                "operator opinion",
                &r.try_get::<String, _>("operator_opinion")?,
                OperatorOpinion::parse,
            )?,
        },
        recorded_by: r.try_get("recorded_by")?,
        recorded_at: Timestamp(r.try_get("recorded_at")?),
    })
}

fn investigation_row(r: &sqlx::any::AnyRow) -> Result<InvestigationRecord> {
    Ok(InvestigationRecord {
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        outcome: parse(
            "investigation outcome",
            &r.try_get::<String, _>("outcome")?,
            InvestigationOutcome::parse,
        )?,
        note: r.try_get("note")?,
        order_id: r.try_get("order_id")?,
        made_by: r.try_get("made_by")?,
        made_at: Timestamp(r.try_get("made_at")?),
    })
}

pub(crate) fn count(r: &sqlx::any::AnyRow, col: &str) -> Result<u32> {
    Ok(u32::try_from(r.try_get::<i64, _>(col)?.max(0)).unwrap_or(u32::MAX))
}

impl Store {
    /// The tickets with these ids, by id.
    async fn tickets_by_id(&self, ids: &[TicketId]) -> Result<HashMap<TicketId, Ticket>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                let t = rows::ticket(&r)?;
                out.insert(t.id, t);
            }
        }
        Ok(out)
    }

    /// Assembles work rows in the order of `items` (ticket id, then the rest).
    /// [`Store::work_rows`] of query rows: the ticket id from column `ticket_col`, the rest
    /// from `row`.
    pub(crate) async fn work_of(
        &self,
        rows: &[AnyRow],
        ticket_col: &str,
        row: impl Fn(&AnyRow) -> Result<WorkRow0>,
    ) -> Result<Vec<WorkRow>> {
        let items = rows
            .iter()
            .map(|r| Ok((r.try_get(ticket_col)?, row(r)?)))
            .collect::<Result<Vec<_>>>()?;
        self.work_rows(items).await
    }

    async fn work_rows(&self, items: Vec<(TicketId, WorkRow0)>) -> Result<Vec<WorkRow>> {
        let ids: Vec<TicketId> = items.iter().map(|(id, _)| *id).collect();
        let mut tickets = self.tickets_by_id(&ids).await?;
        Ok(items
            .into_iter()
            .filter_map(|(id, w)| {
                tickets.remove(&id).map(|ticket| WorkRow {
                    ticket,
                    task_id: w.task_id,
                    since: w.since,
                    attempts: w.attempts,
                    last_attempt_at: w.last_attempt_at,
                    deadline: w.deadline,
                    repeats: w.repeats,
                    dissatisfied: w.dissatisfied,
                })
            })
            .collect())
    }

    /// SS2 (and SS1 surveys already begun): open survey tasks, oldest first, with attempts.
    pub async fn open_surveys(&self, limit: u32) -> Result<Vec<WorkRow>> {
        let rows = sqlx::query("SELECT k.id, k.ticket_id, k.created_at, (SELECT COUNT(*) FROM survey_attempts a WHERE a.task_id = k.id) AS attempts, (SELECT MAX(a.made_at) FROM survey_attempts a WHERE a.task_id = k.id) AS last_at FROM tasks k WHERE k.kind = 'survey' AND k.done_at IS NULL ORDER BY k.id LIMIT $1")
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        self.work_of(&rows, "ticket_id", |r| {
            Ok(WorkRow0 {
                task_id: Some(r.try_get("id")?),
                since: Timestamp(r.try_get("created_at")?),
                attempts: count(r, "attempts")?,
                last_attempt_at: r.try_get::<Option<i64>, _>("last_at")?.map(Timestamp),
                ..Default::default()
            })
        })
        .await
    }

    /// SS1: answered reports changed since `since` that have no survey task at all, oldest
    /// first.
    pub async fn completed_unsurveyed(&self, since: Timestamp, limit: u32) -> Result<Vec<WorkRow>> {
        let rows = sqlx::query("SELECT t.id, t.updated_at FROM tickets t WHERE t.status = 'answered' AND t.updated_at >= $1 AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.ticket_id = t.id AND k.kind = 'survey') ORDER BY t.updated_at, t.id LIMIT $2")
            .bind(since.0)
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        self.work_of(&rows, "id", |r| {
            Ok(WorkRow0 {
                since: Timestamp(r.try_get("updated_at")?),
                ..Default::default()
            })
        })
        .await
    }

    /// SS3: dispatched tickets whose repair deadline is in its warning time or past, most
    /// urgent first.
    pub async fn repair_due(&self, now: Timestamp, limit: u32) -> Result<Vec<WorkRow>> {
        let rows = sqlx::query("SELECT d.ticket_id, d.kind, d.due_at, d.warn_at, d.warned_at, d.breached_at, d.met_at FROM deadlines d JOIN tickets t ON t.id = d.ticket_id WHERE d.kind = 'repair' AND d.met_at IS NULL AND d.warn_at <= $1 AND t.status = 'dispatched' ORDER BY d.due_at, d.ticket_id LIMIT $2")
            .bind(now.0)
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        self.work_of(&rows, "ticket_id", |r| {
            let d = rows::deadline(r)?;
            Ok(WorkRow0 {
                since: d.deadline.due_at,
                deadline: Some(d),
                ..Default::default()
            })
        })
        .await
    }

    /// SS4: finished tickets (cleared, closed, answered) with a later repeat report or a
    /// 不满意 answer, and no investigation yet; most recently finished first.
    pub async fn investigation_candidates(&self, limit: u32) -> Result<Vec<WorkRow>> {
        let rows = sqlx::query("SELECT t.id, COALESCE(t.resolved_at, t.updated_at) AS since, (SELECT COUNT(*) FROM tickets r WHERE r.repeat_of = t.id AND r.received_at >= COALESCE(t.resolved_at, t.updated_at)) AS repeats, (SELECT COUNT(*) FROM survey_results s WHERE s.ticket_id = t.id AND s.satisfaction = 'dissatisfied') AS dissatisfied FROM tickets t WHERE t.status IN ('cleared', 'closed', 'answered') AND NOT EXISTS (SELECT 1 FROM survey_investigations i WHERE i.ticket_id = t.id) AND (EXISTS (SELECT 1 FROM tickets r WHERE r.repeat_of = t.id AND r.received_at >= COALESCE(t.resolved_at, t.updated_at)) OR EXISTS (SELECT 1 FROM survey_results s WHERE s.ticket_id = t.id AND s.satisfaction = 'dissatisfied')) ORDER BY since DESC, t.id DESC LIMIT $1")
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        self.work_of(&rows, "id", |r| {
            Ok(WorkRow0 {
                since: Timestamp(r.try_get("since")?),
                repeats: count(r, "repeats")?,
                dissatisfied: count(r, "dissatisfied")?,
                ..Default::default()
            })
        })
        .await
    }

    /// Where a ticket's survey stands.
    pub async fn survey_state(&self, ticket_id: TicketId) -> Result<SurveyState> {
        let status: String = sqlx::query("SELECT status FROM tickets WHERE id = $1")
            .bind(ticket_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ticket {ticket_id}")))?
            .try_get("status")?;
        let status = parse("status", &status, TicketStatus::parse)?;
        let task = sqlx::query("SELECT id, created_at FROM tasks WHERE ticket_id = $1 AND kind = 'survey' AND done_at IS NULL ORDER BY id LIMIT 1")
            .bind(ticket_id)
            .fetch_optional(&self.pool)
            .await?;
        let open_task = match &task {
            Some(r) => Some((r.try_get("id")?, Timestamp(r.try_get("created_at")?))),
            None => None,
        };
        let (attempts, last_attempt_at) = match open_task {
            Some((id, _)) => {
                let r = sqlx::query("SELECT COUNT(*) AS n, MAX(made_at) AS last_at FROM survey_attempts WHERE task_id = $1")
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
                (
                    count(&r, "n")?,
                    r.try_get::<Option<i64>, _>("last_at")?.map(Timestamp),
                )
            }
            None => (0, None),
        };
        let r = sqlx::query("SELECT COUNT(*) AS n FROM survey_results WHERE ticket_id = $1")
            .bind(ticket_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(SurveyState {
            ticket_id,
            status,
            open_task,
            attempts,
            last_attempt_at,
            results: count(&r, "n")?,
        })
    }

    /// Stores one callback attempt (and the answer, and the task's completion) in one
    /// transaction, audited on the ticket.
    pub async fn record_callback(&self, w: &CallbackWrite<'_>) -> Result<CallbackWritten> {
        let mut tx = self.begin_write().await?;
        // lock the ticket's row: surveys of one ticket are written one at a time
        let status: String =
            sqlx::query("UPDATE tickets SET version = version WHERE id = $1 RETURNING status")
                .bind(w.ticket_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("ticket {}", w.ticket_id)))?
                .try_get("status")?;
        let status = parse("status", &status, TicketStatus::parse)?;
        let task_id = match w.task_id {
            Some(id) => {
                let done: Option<Option<i64>> = sqlx::query("SELECT done_at FROM tasks WHERE id = $1 AND ticket_id = $2 AND kind = 'survey'")
                    .bind(id)
                    .bind(w.ticket_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.try_get("done_at"))
                    .transpose()?;
                match done {
                    None => return Err(StoreError::NotFound(format!("survey task {id}"))),
                    Some(Some(_)) => {
                        let has: Option<i64> =
                            sqlx::query_scalar("SELECT id FROM survey_results WHERE task_id = $1")
                                .bind(id)
                                .fetch_optional(&mut *tx)
                                .await?;
                        tx.rollback().await?;
                        return Ok(if has.is_some() {
                            CallbackWritten::AlreadyRecorded
                        } else {
                            CallbackWritten::TaskClosed
                        });
                    }
                    Some(None) => id,
                }
            }
            None => {
                let open: Option<i64> = sqlx::query_scalar("SELECT id FROM tasks WHERE ticket_id = $1 AND kind = 'survey' AND done_at IS NULL")
                    .bind(w.ticket_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if open.is_some() {
                    tx.rollback().await?;
                    return Ok(CallbackWritten::Raced);
                }
                sqlx::query_scalar("INSERT INTO tasks (ticket_id, kind, order_id, created_at) VALUES ($1, $2, NULL, $3) RETURNING id")
                    .bind(w.ticket_id)
                    .bind(TaskKind::Survey.as_str())
                    .bind(w.now.0)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        let stored: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM survey_attempts WHERE task_id = $1")
                .bind(task_id)
                .fetch_one(&mut *tx)
                .await?;
        if stored + 1 != i64::from(w.attempt) {
            tx.rollback().await?;
            return Ok(CallbackWritten::Raced);
        }
        let attempt_id: i64 = match sqlx::query_scalar("INSERT INTO survey_attempts (task_id, ticket_id, attempt, outcome, note, channel, made_by, made_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(task_id)
            .bind(w.ticket_id)
            .bind(i64::from(w.attempt))
            .bind(w.outcome.as_str())
            .bind(w.comment)
            .bind(w.channel)
            .bind(w.actor)
            .bind(w.now.0)
            .fetch_one(&mut *tx)
            .await
        {
            Ok(id) => id,
            Err(e) => match StoreError::from(e) {
                StoreError::Duplicate(_) => return Ok(CallbackWritten::Raced),
                e => return Err(e),
            },
        };
        let mut result_id = None;
        if let Some(r) = &w.result {
            let p = r.profile;
            let id = sqlx::query_scalar("INSERT INTO survey_results (task_id, ticket_id, source, channel, satisfaction, comment, consent, education, age_band, spending_level, operator_opinion, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id")
                .bind(task_id)
                .bind(w.ticket_id)
                .bind(r.source.as_str())
                .bind(w.channel)
                .bind(r.satisfaction.as_str())
                .bind(w.comment)
                .bind(r.consent.as_str())
                .bind(p.education.map_or("", |v| v.as_str()))
                .bind(p.age_band.map_or("", |v| v.as_str()))
                .bind(p.spending_level.map_or("", |v| v.as_str()))
                .bind(p.operator_opinion.map_or("", |v| v.as_str()))
                .bind(w.actor)
                .bind(w.now.0)
                .fetch_one(&mut *tx)
                .await;
            match id {
                Ok(id) => result_id = Some(id),
                Err(e) => match StoreError::from(e) {
                    StoreError::Duplicate(_) => return Ok(CallbackWritten::AlreadyRecorded),
                    e => return Err(e),
                },
            }
        }
        audit(
            &mut tx,
            w.ticket_id,
            None,
            w.actor,
            w.role,
            w.now,
            DeskEventKind::SurveyCallback.into(),
            Some(status),
            Some(status),
            w.audit_detail,
        )
        .await?;
        if w.closes {
            let done = sqlx::query(
                "UPDATE tasks SET done_at = $1, note = $2 WHERE id = $3 AND done_at IS NULL",
            )
            .bind(w.now.0)
            .bind(w.audit_detail)
            .bind(task_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 1 {
                audit(
                    &mut tx,
                    w.ticket_id,
                    None,
                    w.actor,
                    w.role,
                    w.now,
                    AuditAction::TaskDone(TaskKind::Survey),
                    Some(status),
                    Some(status),
                    w.audit_detail,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(CallbackWritten::Done {
            task_id,
            attempt_id,
            result_id,
        })
    }

    /// The survey results of a ticket, oldest first.
    pub async fn survey_results(&self, ticket_id: TicketId) -> Result<Vec<SurveyResultRecord>> {
        sqlx::query("SELECT id, task_id, ticket_id, source, channel, satisfaction, comment, consent, education, age_band, spending_level, operator_opinion, recorded_by, recorded_at FROM survey_results WHERE ticket_id = $1 ORDER BY id")
            .bind(ticket_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(result_row)
            .collect()
    }

    /// Stores an SS4 investigation, audited on the ticket.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_investigation(
        &self,
        ticket_id: TicketId,
        outcome: InvestigationOutcome,
        note: &str,
        order_id: Option<OrderId>,
        actor: &str,
        role: Role,
        now: Timestamp,
    ) -> Result<InvestigationRecord> {
        let mut tx = self.begin_write().await?;
        let status: String = sqlx::query("SELECT status FROM tickets WHERE id = $1")
            .bind(ticket_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ticket {ticket_id}")))?
            .try_get("status")?;
        let status = parse("status", &status, TicketStatus::parse)?;
        let id: i64 = sqlx::query_scalar("INSERT INTO survey_investigations (ticket_id, outcome, note, order_id, made_by, made_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(ticket_id)
            .bind(outcome.as_str())
            .bind(note)
            .bind(order_id)
            .bind(actor)
            .bind(now.0)
            .fetch_one(&mut *tx)
            .await?;
        audit(
            &mut tx,
            ticket_id,
            order_id,
            actor,
            role,
            now,
            AuditAction::Investigated(outcome),
            Some(status),
            Some(status),
            note,
        )
        .await?;
        tx.commit().await?;
        Ok(InvestigationRecord {
            id,
            ticket_id,
            outcome,
            note: note.to_string(),
            order_id,
            made_by: actor.to_string(),
            made_at: now,
        })
    }

    /// The investigations of a ticket, oldest first.
    pub async fn investigations(&self, ticket_id: TicketId) -> Result<Vec<InvestigationRecord>> {
        sqlx::query("SELECT id, ticket_id, outcome, note, order_id, made_by, made_at FROM survey_investigations WHERE ticket_id = $1 ORDER BY id")
            .bind(ticket_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(investigation_row)
            .collect()
    }

    /// The results recorded in `[from, to)` with the ticket's branch (the branch map's, else
    /// the customer's) and fault type.
    pub async fn survey_facts(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ResultFact>> {
        let rows = sqlx::query("SELECT s.satisfaction, t.report_branch, t.branch, t.fault_type FROM survey_results s JOIN tickets t ON t.id = s.ticket_id WHERE s.recorded_at >= $1 AND s.recorded_at < $2 ORDER BY s.id")
            .bind(from.0)
            .bind(to.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let report: String = r.try_get("report_branch")?;
                Ok(ResultFact {
                    satisfaction: parse(
                        "satisfaction",
                        &r.try_get::<String, _>("satisfaction")?,
                        Satisfaction::parse,
                    )?,
                    branch: if report.is_empty() {
                        r.try_get("branch")?
                    } else {
                        report
                    },
                    fault_type: r.try_get("fault_type")?,
                })
            })
            .collect()
    }

    /// Attempts made in `[from, to)`; surveys closed as unreachable in it.
    pub async fn survey_attempt_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<AttemptCounts> {
        let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN outcome = 'not_reached' THEN 1 ELSE 0 END), 0) AS nr FROM survey_attempts WHERE made_at >= $1 AND made_at < $2")
            .bind(from.0)
            .bind(to.0)
            .fetch_one(&self.pool)
            .await?;
        let unreachable: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks k WHERE k.kind = 'survey' AND k.done_at >= $1 AND k.done_at < $2 AND NOT EXISTS (SELECT 1 FROM survey_results s WHERE s.task_id = k.id) AND EXISTS (SELECT 1 FROM survey_attempts a WHERE a.task_id = k.id)")
            .bind(from.0)
            .bind(to.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(AttemptCounts {
            attempts: r.try_get("n")?,
            not_reached: r.try_get("nr")?,
            unreachable,
        })
    }

    /// SO5 evidence: second dispatches approved (or issued by a senior) in `[from, to)`, each
    /// sent with a written warning, counted by the branch of the local centre.
    pub async fn second_dispatch_warnings(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<WarningCount>> {
        let rows = sqlx::query("SELECT CASE WHEN t.report_branch = '' THEN t.branch ELSE t.report_branch END AS b, COUNT(*) AS n FROM orders o JOIN tickets t ON t.id = o.ticket_id WHERE o.kind = 'second_dispatch' AND o.review IN ('approved', 'not_required') AND COALESCE(o.reviewed_at, o.created_at) >= $1 AND COALESCE(o.reviewed_at, o.created_at) < $2 GROUP BY CASE WHEN t.report_branch = '' THEN t.branch ELSE t.report_branch END ORDER BY n DESC, b")
            .bind(from.0)
            .bind(to.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WarningCount {
                    branch: r.try_get("b")?,
                    warnings: r.try_get("n")?,
                })
            })
            .collect()
    }
}

/// A work row before its ticket is read.
pub(crate) struct WorkRow0 {
    pub(crate) task_id: Option<i64>,
    pub(crate) since: Timestamp,
    pub(crate) attempts: u32,
    pub(crate) last_attempt_at: Option<Timestamp>,
    pub(crate) deadline: Option<DeadlineState>,
    pub(crate) repeats: u32,
    pub(crate) dissatisfied: u32,
}

impl Default for WorkRow0 {
    fn default() -> Self {
        WorkRow0 {
            task_id: None,
            since: Timestamp(0),
            attempts: 0,
            last_attempt_at: None,
            deadline: None,
            repeats: 0,
            dissatisfied: 0,
        }
    }
}
