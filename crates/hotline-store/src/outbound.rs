//! Automated outbound survey calls (`ivr-outbound`): the candidates for a call, the claim of
//! one call (once per number per Beijing day, enforced by a unique index), its result
//! written once, stale claims closed as lost, the trunk alert, and the do-not-call list.

use crate::alerts::{AlertRecord, DeadlineOwner, insert_alert};
use crate::rows::parse;
use crate::surveys::{WorkRow, WorkRow0};
use crate::tickets::audit;
use crate::{Result, Store, StoreError};
use hotline_domain::audit::{AuditAction, DeskEventKind};
use hotline_domain::outbound::{OutboundResult, STALE_CLAIM_MS};
use hotline_domain::rules::{AlertKind, DueLevel};
use hotline_domain::{Role, TicketId, Timestamp};
use sqlx::Row;

/// The number a survey calls: the contact number, else the faulty number.
const NUMBER_SQL: &str =
    "CASE WHEN t.contact_number <> '' THEN t.contact_number ELSE t.faulty_number END";

/// A claimed call, to be placed now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundClaim {
    pub id: i64,
    pub ticket_id: TicketId,
    pub task_id: i64,
    pub number: String,
    /// The survey attempt this call is (decided at the claim, within calling hours).
    pub attempt: u32,
    pub claimed_at: Timestamp,
}

/// A stored automated call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundCallRecord {
    pub claim: OutboundClaim,
    pub day: i64,
    pub claimed_by: String,
    pub finished_at: Option<Timestamp>,
    pub result: Option<OutboundResult>,
    pub answer_key: String,
    pub sip_status: Option<u16>,
}

/// A claim to store.
#[derive(Clone, Debug)]
pub struct NewClaim<'a> {
    pub ticket_id: TicketId,
    pub task_id: i64,
    pub number: &'a str,
    pub day: i64,
    pub attempt: u32,
    pub by: &'a str,
    pub now: Timestamp,
}

/// A do-not-call entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoNotCallEntry {
    pub number: String,
    pub reason: String,
    pub added_by: String,
    pub added_at: Timestamp,
}

const CALL_COLUMNS: &str = "id, ticket_id, task_id, number, day, attempt, claimed_by, claimed_at, finished_at, result, answer_key, sip_status";

fn call_row(r: &sqlx::any::AnyRow) -> Result<OutboundCallRecord> {
    let result: Option<String> = r.try_get("result")?;
    Ok(OutboundCallRecord {
        claim: OutboundClaim {
            id: r.try_get("id")?,
            ticket_id: r.try_get("ticket_id")?,
            task_id: r.try_get("task_id")?,
            number: r.try_get("number")?,
            attempt: u32::try_from(r.try_get::<i64, _>("attempt")?).unwrap_or(0),
            claimed_at: Timestamp(r.try_get("claimed_at")?),
        },
        day: r.try_get("day")?,
        claimed_by: r.try_get("claimed_by")?,
        finished_at: r.try_get::<Option<i64>, _>("finished_at")?.map(Timestamp),
        result: match result {
            Some(s) => Some(parse("outbound result", &s, OutboundResult::parse)?),
            None => None,
        },
        answer_key: r.try_get("answer_key")?,
        sip_status: r
            .try_get::<Option<i64>, _>("sip_status")?
            .and_then(|s| u16::try_from(s).ok()),
    })
}

fn dnc_row(r: &sqlx::any::AnyRow) -> Result<DoNotCallEntry> {
    Ok(DoNotCallEntry {
        number: r.try_get("number")?,
        reason: r.try_get("reason")?,
        added_by: r.try_get("added_by")?,
        added_at: Timestamp(r.try_get("added_at")?),
    })
}

impl Store {
    /// Open surveys of cleared (or closed) tickets whose number was not called on `day` and is
    /// not on the do-not-call list, oldest first, with their attempts. The survey rules
    /// (calling hours, retry time, attempts left) are the caller's to apply.
    pub async fn outbound_candidates(&self, day: i64, limit: u32) -> Result<Vec<WorkRow>> {
        let sql = format!(
            "SELECT k.id, k.ticket_id, k.created_at, (SELECT COUNT(*) FROM survey_attempts a WHERE a.task_id = k.id) AS attempts, (SELECT MAX(a.made_at) FROM survey_attempts a WHERE a.task_id = k.id) AS last_at FROM tasks k JOIN tickets t ON t.id = k.ticket_id WHERE k.kind = 'survey' AND k.done_at IS NULL AND t.status IN ('cleared', 'closed') AND NOT EXISTS (SELECT 1 FROM outbound_calls o WHERE o.number = {NUMBER_SQL} AND o.day = $1 AND o.counts = 1) AND NOT EXISTS (SELECT 1 FROM outbound_calls o WHERE o.task_id = k.id AND o.finished_at IS NULL) AND NOT EXISTS (SELECT 1 FROM do_not_call d WHERE d.number = {NUMBER_SQL}) ORDER BY k.id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(day)
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await?;
        self.work_of(&rows, "ticket_id", |r| {
            Ok(WorkRow0 {
                task_id: Some(r.try_get("id")?),
                since: Timestamp(r.try_get("created_at")?),
                attempts: crate::surveys::count(r, "attempts")?,
                last_attempt_at: r.try_get::<Option<i64>, _>("last_at")?.map(Timestamp),
                ..Default::default()
            })
        })
        .await
    }

    /// Claims one call: `None` when the number was called on that day already (or is being
    /// called), or was put on the do-not-call list meanwhile.
    pub async fn claim_outbound(&self, c: &NewClaim<'_>) -> Result<Option<OutboundClaim>> {
        let mut tx = self.begin_write().await?;
        let dnc = sqlx::query("SELECT 1 AS x FROM do_not_call WHERE number = $1")
            .bind(c.number)
            .fetch_optional(&mut *tx)
            .await?;
        if dnc.is_some() {
            tx.rollback().await?;
            return Ok(None);
        }
        let inserted = sqlx::query("INSERT INTO outbound_calls (ticket_id, task_id, number, day, attempt, counts, claimed_by, claimed_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7) RETURNING id")
            .bind(c.ticket_id)
            .bind(c.task_id)
            .bind(c.number)
            .bind(c.day)
            .bind(i64::from(c.attempt))
            .bind(c.by)
            .bind(c.now.0)
            .fetch_one(&mut *tx)
            .await;
        let id: i64 = match inserted {
            Ok(r) => r.try_get("id")?,
            Err(e) => {
                let e = StoreError::from(e);
                let _ = tx.rollback().await;
                return match e {
                    StoreError::Duplicate(_) => Ok(None),
                    e => Err(e),
                };
            }
        };
        tx.commit().await?;
        Ok(Some(OutboundClaim {
            id,
            ticket_id: c.ticket_id,
            task_id: c.task_id,
            number: c.number.to_owned(),
            attempt: c.attempt,
            claimed_at: c.now,
        }))
    }

    /// One stored call.
    pub async fn outbound_call(&self, id: i64) -> Result<OutboundCallRecord> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM outbound_calls WHERE id = $1");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("outbound call {id}")))?;
        call_row(&r)
    }

    /// A ticket's automated calls, oldest first.
    pub async fn outbound_calls_of(&self, ticket_id: TicketId) -> Result<Vec<OutboundCallRecord>> {
        let sql =
            format!("SELECT {CALL_COLUMNS} FROM outbound_calls WHERE ticket_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ticket_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(call_row).collect()
    }

    /// Writes a call's result, once (`Duplicate` when it was already finished). An end that
    /// does not use the day (the trunk refused it) frees the number for another call today.
    /// `audit_detail`, when given, goes on the ticket's history (ends that record no survey
    /// attempt; an attempt writes its own row).
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_outbound(
        &self,
        id: i64,
        result: OutboundResult,
        key: &str,
        sip_status: Option<u16>,
        audit_detail: Option<&str>,
        actor: &str,
        now: Timestamp,
    ) -> Result<OutboundCallRecord> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE outbound_calls SET finished_at = $1, result = $2, answer_key = $3, sip_status = $4, counts = $5 WHERE id = $6 AND finished_at IS NULL")
            .bind(now.0)
            .bind(result.as_str())
            .bind(key)
            .bind(sip_status.map(i64::from))
            .bind(i64::from(result.uses_the_day()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            let call = self.outbound_call(id).await?;
            return Err(StoreError::Duplicate(format!(
                "the result of outbound call {} ({})",
                call.claim.id,
                call.result.map(|r| r.as_str()).unwrap_or("")
            )));
        }
        let sql = format!("SELECT {CALL_COLUMNS} FROM outbound_calls WHERE id = $1");
        let call = call_row(
            &sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?,
        )?;
        if let Some(detail) = audit_detail {
            audit(
                &mut tx,
                call.claim.ticket_id,
                None,
                actor,
                Role::System,
                now,
                AuditAction::Desk(DeskEventKind::SurveyCallback),
                None,
                None,
                detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(call)
    }

    /// Closes claims nobody finished since before `now - STALE_CLAIM_MS` as `lost` (the day
    /// stays used); returns how many.
    pub async fn expire_outbound_claims(&self, now: Timestamp) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE outbound_calls SET finished_at = $1, result = 'lost' WHERE finished_at IS NULL AND claimed_at < $2")
            .bind(now.0)
            .bind(now.0 - STALE_CLAIM_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Results of the last `n` finished calls, newest first.
    pub async fn recent_outbound_results(&self, n: u32) -> Result<Vec<OutboundResult>> {
        let rows = sqlx::query("SELECT result FROM outbound_calls WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT $1")
            .bind(i64::from(n.max(1)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                parse(
                    "outbound result",
                    &r.try_get::<String, _>("result")?,
                    OutboundResult::parse,
                )
            })
            .collect()
    }

    /// Raises the trunk alert (ticket 0), at most once per `quiet_ms`: `None` when one was
    /// raised within it.
    pub async fn raise_outbound_alert(
        &self,
        now: Timestamp,
        quiet_ms: i64,
        message: &str,
    ) -> Result<Option<AlertRecord>> {
        let mut tx = self.begin_write().await?;
        let recent = sqlx::query("SELECT 1 AS x FROM alerts WHERE deadline_kind = $1 AND at > $2")
            .bind(AlertKind::Outbound.as_str())
            .bind(now.0 - quiet_ms)
            .fetch_optional(&mut *tx)
            .await?;
        if recent.is_some() {
            tx.rollback().await?;
            return Ok(None);
        }
        let a = insert_alert(
            &mut tx,
            DeadlineOwner::Ticket(0),
            AlertKind::Outbound,
            DueLevel::Breach,
            now,
            now,
            message,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(a))
    }

    /// Adds (or replaces the reason of) a do-not-call number.
    pub async fn add_do_not_call(
        &self,
        number: &str,
        reason: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<DoNotCallEntry> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO do_not_call (number, reason, added_by, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT (number) DO UPDATE SET reason = excluded.reason, added_by = excluded.added_by, added_at = excluded.added_at")
            .bind(number)
            .bind(reason)
            .bind(by)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DoNotCallEntry {
            number: number.to_owned(),
            reason: reason.to_owned(),
            added_by: by.to_owned(),
            added_at: now,
        })
    }

    /// Removes a do-not-call number; `false` when it was not listed.
    pub async fn remove_do_not_call(&self, number: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM do_not_call WHERE number = $1")
            .bind(number)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The do-not-call list, by number.
    pub async fn do_not_call_list(&self, limit: u32) -> Result<Vec<DoNotCallEntry>> {
        let rows = sqlx::query(
            "SELECT number, reason, added_by, added_at FROM do_not_call ORDER BY number LIMIT $1",
        )
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(dnc_row).collect()
    }
}
