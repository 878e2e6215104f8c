//! Quality inspection (QA1, QA2) and seniors' assessments (SO1, SO4): draws and their samples,
//! scores with their items (never overwritten: a re-score supersedes), call recordings, and
//! the evidence on a person's record (reviews passed and rejected, escalations, offers not
//! answered).
//!
//! A ticket is sampled at most once per pool and period (`qa_samples_once`): a draw that
//! races another one fails as a whole with [`StoreError::Duplicate`] and changes nothing.
//! Scoring is guarded by the sample's score in force (`score_id`), so two inspectors scoring
//! at once cannot both win ([`StoreError::Conflict`] for the second).

use crate::rows::parse;
use crate::{Result, Store, StoreError};
use hotline_domain::qa::{Candidate, ItemScore, SampleKind, Scored};
use hotline_domain::{Role, TicketId, Timestamp};
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeSet;

/// The pool of scheduled and random samples.
pub const QA_POOL: &str = "qa";

/// The pool of a senior's assessments of one agent.
pub fn assessment_pool(senior: &str, agent: &str) -> String {
    format!("assessment:{senior}:{agent}")
}

/// A draw to store.
#[derive(Clone, Debug)]
pub struct NewDraw {
    pub kind: SampleKind,
    /// `2026-W50`.
    pub period: String,
    pub seed: u64,
    pub per_agent: u32,
    /// The agents the draw was limited to (empty: all).
    pub agents: Vec<String>,
    pub drawn_by: String,
    pub drawn_at: Timestamp,
}

/// A sample as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleRecord {
    pub id: i64,
    pub draw_id: Option<i64>,
    pub kind: SampleKind,
    pub period: String,
    pub agent_id: String,
    pub ticket_id: TicketId,
    pub seed: u64,
    pub opened_by: String,
    pub opened_at: Timestamp,
    /// The score in force.
    pub score_id: Option<i64>,
}

/// Which samples to list.
#[derive(Clone, Debug, Default)]
pub struct SampleFilter {
    pub period: Option<String>,
    pub agent_id: Option<String>,
    pub kind: Option<SampleKind>,
    pub opened_by: Option<String>,
    pub unscored_only: bool,
    pub limit: u32,
}

/// A score as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreRecord {
    pub id: i64,
    pub sample_id: i64,
    pub agent_id: String,
    pub ticket_id: TicketId,
    pub kind: SampleKind,
    pub period: String,
    pub items: Vec<ItemScore>,
    pub total_centi: i64,
    pub comment: String,
    pub scored_by: String,
    pub scored_role: Role,
    pub scored_at: Timestamp,
    pub rescore_reason: String,
    pub superseded_at: Option<Timestamp>,
}

/// A score to store.
#[derive(Clone, Debug)]
pub struct NewScore<'a> {
    pub sample: &'a SampleRecord,
    pub scored: &'a Scored,
    pub comment: &'a str,
    pub by: &'a str,
    pub role: Role,
    pub rescore_reason: &'a str,
    pub now: Timestamp,
}

/// A recording to register (its bytes are already in the document store).
#[derive(Clone, Debug)]
pub struct NewRecording {
    pub call_id: String,
    pub ticket_id: Option<TicketId>,
    pub agent_id: String,
    pub digest: String,
    pub size: i64,
    pub duration_ms: i64,
    pub sample_rate: u32,
    pub channels: u16,
    pub started_at: Timestamp,
    pub stored_by: String,
    pub stored_at: Timestamp,
}

/// A recording as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingRecord {
    pub id: i64,
    pub call_id: String,
    /// Given at upload, or the ticket registered on the call (`tickets.call_id`).
    pub ticket_id: Option<TicketId>,
    pub agent_id: String,
    pub digest: String,
    pub size: i64,
    pub duration_ms: i64,
    pub sample_rate: u32,
    pub channels: u16,
    pub started_at: Timestamp,
    pub stored_by: String,
    pub stored_at: Timestamp,
    pub purged_at: Option<Timestamp>,
}

/// The evidence on a person's record over a time range (SO1, SO4, JO2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Their orders a senior approved.
    pub reviews_passed: i64,
    /// Their orders a senior rejected.
    pub reviews_rejected: i64,
    /// Tickets they escalated to a senior.
    pub escalations: i64,
    /// Calls offered to them and not answered in time (queue_log RINGNOANSWER).
    pub no_answers: i64,
}

fn seed_bits(seed: u64) -> i64 {
    seed as i64
}

fn seed_of(bits: i64) -> u64 {
    bits as u64
}

const SAMPLE_COLUMNS: &str = "SELECT id, draw_id, kind, period, agent_id, ticket_id, seed, opened_by, opened_at, score_id FROM qa_samples";

fn sample(r: &sqlx::any::AnyRow) -> Result<SampleRecord> {
    Ok(SampleRecord {
        id: r.try_get("id")?,
        draw_id: r.try_get("draw_id")?,
        kind: parse(
            "sample kind",
            &r.try_get::<String, _>("kind")?,
            SampleKind::parse,
        )?,
        period: r.try_get("period")?,
        agent_id: r.try_get("agent_id")?,
        ticket_id: r.try_get("ticket_id")?,
        seed: seed_of(r.try_get("seed")?),
        opened_by: r.try_get("opened_by")?,
        opened_at: Timestamp(r.try_get("opened_at")?),
        score_id: r.try_get("score_id")?,
    })
}

const RECORDING_COLUMNS: &str = "SELECT r.id, r.call_id, COALESCE(r.ticket_id, (SELECT MIN(t.id) FROM tickets t WHERE t.call_id = r.call_id)) AS linked_ticket, r.agent_id, r.digest, r.size, r.duration_ms, r.sample_rate, r.channels, r.started_at, r.stored_by, r.stored_at, r.purged_at FROM qa_recordings r";

fn recording(r: &sqlx::any::AnyRow) -> Result<RecordingRecord> {
    Ok(RecordingRecord {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        ticket_id: r.try_get("linked_ticket")?,
        agent_id: r.try_get("agent_id")?,
        digest: r.try_get("digest")?,
        size: r.try_get("size")?,
        duration_ms: r.try_get("duration_ms")?,
        sample_rate: r.try_get::<i64, _>("sample_rate")? as u32,
        channels: r.try_get::<i64, _>("channels")? as u16,
        started_at: Timestamp(r.try_get("started_at")?),
        stored_by: r.try_get("stored_by")?,
        stored_at: Timestamp(r.try_get("stored_at")?),
        purged_at: r.try_get::<Option<i64>, _>("purged_at")?.map(Timestamp),
    })
}

/// The roles whose registered tickets are sampled (people who take calls and enter reports).
const SAMPLED_ROLES: &str = "('junior', 'senior', 'text_entry', 'recording_extractor')";

impl Store {
    /// Tickets registered in `[from, to)` by agents who take calls or enter reports (limited
    /// to `agents` when not empty): the candidates of a draw.
    pub async fn qa_candidates(
        &self,
        from: Timestamp,
        to: Timestamp,
        agents: &[String],
    ) -> Result<Vec<Candidate>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT t.id, t.created_by FROM tickets t JOIN agents a ON a.agent_id = t.created_by WHERE t.created_at >= $1 AND t.created_at < $2 AND a.role IN {SAMPLED_ROLES} ORDER BY t.id"
        )))
        .bind(from.0)
        .bind(to.0)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let agent: String = r.try_get("created_by")?;
            if agents.is_empty() || agents.contains(&agent) {
                out.push(Candidate {
                    agent,
                    ticket_id: r.try_get("id")?,
                });
            }
        }
        Ok(out)
    }

    /// The tickets already sampled in `pool` for `period`.
    pub async fn sampled_tickets(&self, pool: &str, period: &str) -> Result<BTreeSet<i64>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT ticket_id FROM qa_samples WHERE pool = $1 AND period = $2")
                .bind(pool)
                .bind(period)
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().collect())
    }

    /// Stores a draw and its samples in one transaction (all or nothing).
    pub async fn insert_draw(
        &self,
        d: &NewDraw,
        picked: &[Candidate],
    ) -> Result<(i64, Vec<SampleRecord>)> {
        let mut tx = self.begin_write().await?;
        let draw_id: i64 = sqlx::query_scalar("INSERT INTO qa_draws (kind, period, seed, per_agent, agents, drawn_by, drawn_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(d.kind.as_str())
            .bind(d.period.as_str())
            .bind(seed_bits(d.seed))
            .bind(i64::from(d.per_agent))
            .bind(d.agents.join("\n"))
            .bind(d.drawn_by.as_str())
            .bind(d.drawn_at.0)
            .fetch_one(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(picked.len());
        for c in picked {
            let id: i64 = sqlx::query_scalar("INSERT INTO qa_samples (draw_id, kind, pool, period, agent_id, ticket_id, seed, opened_by, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
                .bind(draw_id)
                .bind(d.kind.as_str())
                .bind(QA_POOL)
                .bind(d.period.as_str())
                .bind(c.agent.as_str())
                .bind(c.ticket_id)
                .bind(seed_bits(d.seed))
                .bind(d.drawn_by.as_str())
                .bind(d.drawn_at.0)
                .fetch_one(&mut *tx)
                .await?;
            out.push(SampleRecord {
                id,
                draw_id: Some(draw_id),
                kind: d.kind,
                period: d.period.clone(),
                agent_id: c.agent.clone(),
                ticket_id: c.ticket_id,
                seed: d.seed,
                opened_by: d.drawn_by.clone(),
                opened_at: d.drawn_at,
                score_id: None,
            });
        }
        tx.commit().await?;
        tracing::info!(
            draw = draw_id,
            kind = d.kind.as_str(),
            period = %d.period,
            seed = d.seed,
            samples = out.len(),
            "QA samples drawn"
        );
        Ok((draw_id, out))
    }

    /// Opens a senior's assessment of `agent`'s work on `ticket` (at most one per senior,
    /// agent, ticket and period: [`StoreError::Duplicate`] otherwise).
    pub async fn open_assessment(
        &self,
        senior: &str,
        agent: &str,
        ticket: TicketId,
        period: &str,
        now: Timestamp,
    ) -> Result<SampleRecord> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar("INSERT INTO qa_samples (draw_id, kind, pool, period, agent_id, ticket_id, seed, opened_by, opened_at) VALUES (NULL, $1, $2, $3, $4, $5, 0, $6, $7) RETURNING id")
            .bind(SampleKind::Assessment.as_str())
            .bind(assessment_pool(senior, agent))
            .bind(period)
            .bind(agent)
            .bind(ticket)
            .bind(senior)
            .bind(now.0)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SampleRecord {
            id,
            draw_id: None,
            kind: SampleKind::Assessment,
            period: period.into(),
            agent_id: agent.into(),
            ticket_id: ticket,
            seed: 0,
            opened_by: senior.into(),
            opened_at: now,
            score_id: None,
        })
    }

    pub async fn get_sample(&self, id: i64) -> Result<SampleRecord> {
        let r = sqlx::query(AssertSqlSafe(format!("{SAMPLE_COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("sample {id}")))?;
        sample(&r)
    }

    /// Samples, newest first.
    pub async fn list_samples(&self, f: &SampleFilter) -> Result<Vec<SampleRecord>> {
        let mut sql = format!("{SAMPLE_COLUMNS} WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut cond = |col: &str, v: &Option<String>| {
            if let Some(v) = v {
                binds.push(v.clone());
                sql.push_str(&format!(" AND {col} = ${}", binds.len()));
            }
        };
        cond("period", &f.period);
        cond("agent_id", &f.agent_id);
        cond("kind", &f.kind.map(|k| k.as_str().to_string()));
        cond("opened_by", &f.opened_by);
        if f.unscored_only {
            sql.push_str(" AND score_id IS NULL");
        }
        let limit = if f.limit == 0 { 100 } else { f.limit.min(1000) };
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b.as_str());
        }
        q.fetch_all(&self.pool).await?.iter().map(sample).collect()
    }

    /// Stores a score for `s.sample` if its score in force is still `s.sample.score_id`
    /// (otherwise [`StoreError::Conflict`], nothing written); the previous score, if any, is
    /// marked superseded.
    pub async fn record_score(&self, s: &NewScore<'_>) -> Result<ScoreRecord> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar("INSERT INTO qa_scores (sample_id, agent_id, total_centi, comment, scored_by, scored_role, scored_at, rescore_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(s.sample.id)
            .bind(s.sample.agent_id.as_str())
            .bind(s.scored.total_centi)
            .bind(s.comment)
            .bind(s.by)
            .bind(s.role.as_str())
            .bind(s.now.0)
            .bind(s.rescore_reason)
            .fetch_one(&mut *tx)
            .await?;
        for (i, it) in s.scored.items.iter().enumerate() {
            sqlx::query("INSERT INTO qa_score_items (score_id, position, item, label, weight, max_score, score) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(i as i64)
                .bind(it.key.as_str())
                .bind(it.label.as_str())
                .bind(i64::from(it.weight))
                .bind(i64::from(it.max))
                .bind(i64::from(it.score))
                .execute(&mut *tx)
                .await?;
        }
        let moved = match s.sample.score_id {
            None => sqlx::query(
                "UPDATE qa_samples SET score_id = $1 WHERE id = $2 AND score_id IS NULL",
            )
            .bind(id)
            .bind(s.sample.id)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            Some(prev) => {
                sqlx::query("UPDATE qa_scores SET superseded_at = $1 WHERE id = $2")
                    .bind(s.now.0)
                    .bind(prev)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE qa_samples SET score_id = $1 WHERE id = $2 AND score_id = $3")
                    .bind(id)
                    .bind(s.sample.id)
                    .bind(prev)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            }
        };
        if moved != 1 {
            tx.rollback().await?;
            return Err(StoreError::Conflict);
        }
        tx.commit().await?;
        tracing::info!(
            sample = s.sample.id,
            score = id,
            total_centi = s.scored.total_centi,
            "QA sample scored"
        );
        Ok(ScoreRecord {
            id,
            sample_id: s.sample.id,
            agent_id: s.sample.agent_id.clone(),
            ticket_id: s.sample.ticket_id,
            kind: s.sample.kind,
            period: s.sample.period.clone(),
            items: s.scored.items.clone(),
            total_centi: s.scored.total_centi,
            comment: s.comment.into(),
            scored_by: s.by.into(),
            scored_role: s.role,
            scored_at: s.now,
            rescore_reason: s.rescore_reason.into(),
            superseded_at: None,
        })
    }

    /// Scores of `agent` (all agents when `None`) scored in `[from, to)`, oldest first; with
    /// `include_superseded` also the scores a re-score replaced.
    pub async fn list_scores(
        &self,
        agent: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        include_superseded: bool,
    ) -> Result<Vec<ScoreRecord>> {
        let mut sql = String::from(
            "SELECT c.id, c.sample_id, c.agent_id, s.ticket_id, s.kind, s.period, c.total_centi, c.comment, c.scored_by, c.scored_role, c.scored_at, c.rescore_reason, c.superseded_at FROM qa_scores c JOIN qa_samples s ON s.id = c.sample_id WHERE c.scored_at >= $1 AND c.scored_at < $2",
        );
        if !include_superseded {
            sql.push_str(" AND c.superseded_at IS NULL");
        }
        if agent.is_some() {
            sql.push_str(" AND c.agent_id = $3");
        }
        sql.push_str(" ORDER BY c.scored_at, c.id LIMIT 10000");
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(from.0).bind(to.0);
        if let Some(a) = agent {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(ScoreRecord {
                id: r.try_get("id")?,
                sample_id: r.try_get("sample_id")?,
                agent_id: r.try_get("agent_id")?,
                ticket_id: r.try_get("ticket_id")?,
                kind: parse(
                    "sample kind",
                    &r.try_get::<String, _>("kind")?,
                    SampleKind::parse,
                )?,
                period: r.try_get("period")?,
                items: Vec::new(),
                total_centi: r.try_get("total_centi")?,
                comment: r.try_get("comment")?,
                scored_by: r.try_get("scored_by")?,
                scored_role: parse("role", &r.try_get::<String, _>("scored_role")?, Role::parse)?,
                scored_at: Timestamp(r.try_get("scored_at")?),
                rescore_reason: r.try_get("rescore_reason")?,
                superseded_at: r.try_get::<Option<i64>, _>("superseded_at")?.map(Timestamp),
            });
        }
        for s in &mut out {
            s.items = self.score_items(s.id).await?;
        }
        Ok(out)
    }

    /// Every score given to a sample, oldest first (superseded ones included).
    pub async fn sample_scores(&self, sample_id: i64) -> Result<Vec<ScoreRecord>> {
        let s = self.get_sample(sample_id).await?;
        let all = self
            .list_scores(
                Some(&s.agent_id),
                Timestamp(i64::MIN),
                Timestamp(i64::MAX),
                true,
            )
            .await?;
        Ok(all
            .into_iter()
            .filter(|c| c.sample_id == sample_id)
            .collect())
    }

    async fn score_items(&self, score_id: i64) -> Result<Vec<ItemScore>> {
        let rows = sqlx::query("SELECT item, label, weight, max_score, score FROM qa_score_items WHERE score_id = $1 ORDER BY position")
            .bind(score_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ItemScore {
                    key: r.try_get("item")?,
                    label: r.try_get("label")?,
                    weight: r.try_get::<i64, _>("weight")? as u32,
                    max: r.try_get::<i64, _>("max_score")? as u32,
                    score: r.try_get::<i64, _>("score")? as u32,
                })
            })
            .collect()
    }

    /// The evidence on `agent`'s record in `[from, to)` (SO1, SO4): reviews of their orders
    /// (by review time), their escalations, offers they let ring out.
    pub async fn person_evidence(
        &self,
        agent: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Evidence> {
        let reviews = |verdict: &'static str| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM orders WHERE created_by = $1 AND review = $2 AND reviewed_at >= $3 AND reviewed_at < $4")
                .bind(agent)
                .bind(verdict)
                .bind(from.0)
                .bind(to.0)
                .fetch_one(&self.pool)
        };
        let reviews_passed = reviews("approved").await?;
        let reviews_rejected = reviews("rejected").await?;
        let escalations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE actor = $1 AND action = 'escalate' AND at >= $2 AND at < $3")
            .bind(agent)
            .bind(from.0)
            .bind(to.0)
            .fetch_one(&self.pool)
            .await?;
        let no_answers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue_log WHERE agent = $1 AND event = 'RINGNOANSWER' AND at >= $2 AND at < $3")
            .bind(agent)
            .bind(from.0)
            .bind(to.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(Evidence {
            reviews_passed,
            reviews_rejected,
            escalations,
            no_answers,
        })
    }

    /// Whether `senior` reviewed `agent`'s work on `ticket`: reviewed one of the agent's
    /// orders on it, or acted on it after the agent escalated it.
    pub async fn senior_reviewed(
        &self,
        senior: &str,
        agent: &str,
        ticket: TicketId,
    ) -> Result<bool> {
        let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE ticket_id = $1 AND created_by = $2 AND reviewed_by = $3")
            .bind(ticket)
            .bind(agent)
            .bind(senior)
            .fetch_one(&self.pool)
            .await?;
        if orders > 0 {
            return Ok(true);
        }
        let escalated: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit e JOIN audit s ON s.ticket_id = e.ticket_id AND s.id > e.id WHERE e.ticket_id = $1 AND e.actor = $2 AND e.action = 'escalate' AND s.actor = $3")
            .bind(ticket)
            .bind(agent)
            .bind(senior)
            .fetch_one(&self.pool)
            .await?;
        Ok(escalated > 0)
    }

    /// Whether `agent` did any work on `ticket` (registered it, or has an audit row on it).
    pub async fn worked_on(&self, agent: &str, ticket: TicketId) -> Result<bool> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE ticket_id = $1 AND actor = $2")
                .bind(ticket)
                .bind(agent)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    /// The SIP Call-ID a ticket was registered on (`""`: none).
    pub async fn ticket_call_id(&self, ticket: TicketId) -> Result<String> {
        sqlx::query_scalar("SELECT call_id FROM tickets WHERE id = $1")
            .bind(ticket)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ticket {ticket}")))
    }

    /// Registers a recording; a second one for the same call is [`StoreError::Duplicate`].
    pub async fn insert_recording(&self, r: &NewRecording) -> Result<RecordingRecord> {
        if let Some(t) = r.ticket_id {
            self.ticket_call_id(t).await?;
        }
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar("INSERT INTO qa_recordings (call_id, ticket_id, agent_id, digest, size, duration_ms, sample_rate, channels, started_at, stored_by, stored_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(r.call_id.as_str())
            .bind(r.ticket_id)
            .bind(r.agent_id.as_str())
            .bind(r.digest.as_str())
            .bind(r.size)
            .bind(r.duration_ms)
            .bind(i64::from(r.sample_rate))
            .bind(i64::from(r.channels))
            .bind(r.started_at.0)
            .bind(r.stored_by.as_str())
            .bind(r.stored_at.0)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(recording = id, call_id = %r.call_id, ticket_id = ?r.ticket_id, "call recording stored");
        self.get_recording(id).await
    }

    pub async fn get_recording(&self, id: i64) -> Result<RecordingRecord> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "{RECORDING_COLUMNS} WHERE r.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("recording {id}")))?;
        recording(&r)
    }

    /// The recording of a call, by its SIP Call-ID.
    pub async fn recording_by_call(&self, call_id: &str) -> Result<Option<RecordingRecord>> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "{RECORDING_COLUMNS} WHERE r.call_id = $1"
        )))
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(recording).transpose()
    }

    /// The recording of a ticket's call: linked at upload, or through the ticket's Call-ID.
    pub async fn recording_for_ticket(&self, ticket: TicketId) -> Result<Option<RecordingRecord>> {
        let r = sqlx::query(AssertSqlSafe(format!(
            "{RECORDING_COLUMNS} WHERE r.ticket_id = $1 OR (r.call_id <> '' AND r.call_id = (SELECT t.call_id FROM tickets t WHERE t.id = $1)) ORDER BY r.id LIMIT 1"
        )))
        .bind(ticket)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(recording).transpose()
    }

    /// Recordings of calls started before `before` whose bytes are still kept (retention).
    pub async fn recordings_started_before(
        &self,
        before: Timestamp,
    ) -> Result<Vec<RecordingRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{RECORDING_COLUMNS} WHERE r.started_at < $1 AND r.purged_at IS NULL ORDER BY r.started_at, r.id LIMIT 1000"
        )))
        .bind(before.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording).collect()
    }

    /// Marks a recording's bytes removed (the row and its links stay).
    pub async fn mark_recording_purged(&self, id: i64, now: Timestamp) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE qa_recordings SET purged_at = $1 WHERE id = $2 AND purged_at IS NULL")
            .bind(now.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether any recording still kept refers to `digest` (the document store dedupes bytes).
    pub async fn recording_digest_in_use(&self, digest: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM qa_recordings WHERE digest = $1 AND purged_at IS NULL",
        )
        .bind(digest)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }
}
