//! The reports' aggregation queries (issue 17: SF11, DM3, SS3, SS5, SO2, TE1, TE4, SO8). One
//! SQL text for both backends; counts are `GROUP BY`s over the period's rows, sums are cast to
//! BIGINT (PostgreSQL's SUM of a BIGINT is NUMERIC, which the `Any` driver does not read).
//!
//! A branch filter is the branch stamped on the ticket (`report_branch`, migration 8); an
//! empty filter is every branch. `unstamped_too` also takes tickets created before the map
//! existed (stamp `''`), for the 未归属 branch.

use crate::rows;
use crate::{Result, Store};
use hotline_domain::TicketStatus;
use hotline_domain::survey::Satisfaction;
use hotline_report::facts::*;
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;

/// Which tickets a report covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Empty: all branches.
    pub branch: String,
    /// Also tickets stamped `''` (created before the branch map).
    pub unstamped_too: bool,
}

impl Scope {
    /// `$3` and `$4` of every query: the branch, and its alias for unstamped tickets.
    /// `sql` (the period as `$1`/`$2`, [`BRANCH`]'s `$3`/`$4`) with the scope bound.
    fn query(&self, sql: String) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
        let (b, alias) = self.branch_args();
        sqlx::query(AssertSqlSafe(sql))
            .bind(self.start_ms)
            .bind(self.end_ms)
            .bind(b)
            .bind(alias)
    }

    fn branch_args(&self) -> (&str, &str) {
        let alias = if self.unstamped_too {
            ""
        } else {
            self.branch.as_str()
        };
        (self.branch.as_str(), alias)
    }
}

/// The branch condition on `t` (binds `$3`, `$4`).
const BRANCH: &str = "($3 = '' OR t.report_branch = $3 OR t.report_branch = $4)";

fn open_statuses() -> String {
    TicketStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn push_linked(map: &mut BTreeMap<String, Linked>, key: String, id: i64) {
    let l = map.entry(key).or_default();
    l.count += 1;
    if l.ids.len() < hotline_report::model::MAX_LINKED {
        l.ids.push(id);
    }
}

impl Store {
    /// DM3/SF11: tickets received in the scope, by fault, channel, class, branch; repeats.
    pub async fn report_tickets(&self, s: &Scope) -> Result<TicketFacts> {
        let rows = s.query(format!(
            "SELECT t.fault_type, t.channel, t.customer_class, t.report_branch, COUNT(*) AS n, CAST(SUM(CASE WHEN t.repeat_of IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS r FROM tickets t WHERE t.received_at >= $1 AND t.received_at < $2 AND {BRANCH} GROUP BY t.fault_type, t.channel, t.customer_class, t.report_branch"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut f = TicketFacts::default();
        for r in rows {
            let n = r.try_get::<i64, _>("n")? as u64;
            let rep = r.try_get::<i64, _>("r")? as u64;
            f.total += n;
            f.repeats += rep;
            *f.by_fault.entry(r.try_get("fault_type")?).or_default() += n;
            *f.by_channel.entry(r.try_get("channel")?).or_default() += n;
            *f.by_class.entry(r.try_get("customer_class")?).or_default() += n;
            *f.by_branch.entry(r.try_get("report_branch")?).or_default() += n;
        }
        Ok(f)
    }

    /// SS3/SS5: repair limits due in the scope, on time or not, by branch and cable; the late
    /// ones listed (oldest limit first).
    pub async fn report_repair(&self, s: &Scope) -> Result<RepairFacts> {
        let rows = s.query(format!(
            "SELECT t.report_branch, CASE WHEN t.fault_type = 'cable_damage' THEN 1 ELSE 0 END AS cable, COUNT(*) AS n, CAST(SUM(CASE WHEN d.met_at IS NOT NULL AND d.met_at <= d.due_at THEN 1 ELSE 0 END) AS BIGINT) AS ok FROM deadlines d JOIN tickets t ON t.id = d.ticket_id WHERE d.kind = 'repair' AND d.due_at >= $1 AND d.due_at < $2 AND {BRANCH} GROUP BY t.report_branch, CASE WHEN t.fault_type = 'cable_damage' THEN 1 ELSE 0 END"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut f = RepairFacts::default();
        for r in rows {
            let key = (
                r.try_get::<String, _>("report_branch")?,
                r.try_get::<i64, _>("cable")? == 1,
            );
            let c = f.by_branch.entry(key).or_default();
            c.due += r.try_get::<i64, _>("n")? as u64;
            c.on_time += r.try_get::<i64, _>("ok")? as u64;
        }
        let late = s.query(format!(
            "SELECT t.id, t.report_branch, t.faulty_number, t.fault_type, t.customer_class, t.received_at, d.due_at, d.met_at FROM deadlines d JOIN tickets t ON t.id = d.ticket_id WHERE d.kind = 'repair' AND d.due_at >= $1 AND d.due_at < $2 AND {BRANCH} AND (d.met_at IS NULL OR d.met_at > d.due_at) ORDER BY d.due_at, t.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        for r in late {
            f.late.push(LateOrder {
                ticket_id: r.try_get("id")?,
                branch: r.try_get("report_branch")?,
                faulty_number: r.try_get("faulty_number")?,
                fault_type: r.try_get("fault_type")?,
                customer_class: r.try_get("customer_class")?,
                received_at: r.try_get("received_at")?,
                due_at: r.try_get("due_at")?,
                met_at: r.try_get("met_at")?,
            });
        }
        Ok(f)
    }

    /// SO2/TE1/TE4/SS3: deadlines due in the scope by rule; alerts raised in it by rule/level.
    pub async fn report_deadlines(&self, s: &Scope) -> Result<DeadlineFacts> {
        let rows = s.query(format!(
            "SELECT d.kind, COUNT(*) AS n, CAST(SUM(CASE WHEN d.met_at IS NOT NULL AND d.met_at <= d.due_at THEN 1 ELSE 0 END) AS BIGINT) AS ok, CAST(SUM(CASE WHEN d.met_at > d.due_at THEN 1 ELSE 0 END) AS BIGINT) AS late, CAST(SUM(CASE WHEN d.met_at IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS open FROM deadlines d JOIN tickets t ON t.id = d.ticket_id WHERE d.due_at >= $1 AND d.due_at < $2 AND {BRANCH} GROUP BY d.kind"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut f = DeadlineFacts::default();
        for r in rows {
            let c = f.by_rule.entry(r.try_get("kind")?).or_default();
            c.due = r.try_get::<i64, _>("n")? as u64;
            c.met_in_time = r.try_get::<i64, _>("ok")? as u64;
            c.met_late = r.try_get::<i64, _>("late")? as u64;
            c.open = r.try_get::<i64, _>("open")? as u64;
        }
        let alerts = s.query(format!(
            "SELECT a.deadline_kind, a.level, COUNT(*) AS n FROM alerts a JOIN tickets t ON t.id = a.ticket_id WHERE a.at >= $1 AND a.at < $2 AND {BRANCH} GROUP BY a.deadline_kind, a.level"
        ))
        .fetch_all(&self.pool)
        .await?;
        for r in alerts {
            let c = f.by_rule.entry(r.try_get("deadline_kind")?).or_default();
            let n = r.try_get::<i64, _>("n")? as u64;
            match r.try_get::<String, _>("level")?.as_str() {
                "warning" => c.warnings += n,
                _ => c.breaches += n,
            }
        }
        Ok(f)
    }

    /// SS2 and QA2: survey tasks done in the scope; per agent who took the report (the
    /// ticket's creator), the survey answers recorded in the scope and how many were 满意 or
    /// 基本满意; per agent scored, the QA scores given in the scope (current ones only, a
    /// re-score replaces the score it supersedes).
    pub async fn report_quality(&self, s: &Scope) -> Result<QualityFacts> {
        let n: i64 = s.query(format!(
            "SELECT COUNT(*) AS n FROM tasks k JOIN tickets t ON t.id = k.ticket_id WHERE k.kind = 'survey' AND k.done_at >= $1 AND k.done_at < $2 AND {BRANCH}"
        ))
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let mut f = QualityFacts {
            surveys_done: n as u64,
            ..Default::default()
        };
        let answers = s.query(format!(
            "SELECT t.created_by AS agent, r.satisfaction, COUNT(*) AS n FROM survey_results r JOIN tickets t ON t.id = r.ticket_id WHERE r.recorded_at >= $1 AND r.recorded_at < $2 AND {BRANCH} GROUP BY t.created_by, r.satisfaction"
        ))
        .fetch_all(&self.pool)
        .await?;
        for r in answers {
            let satisfaction = rows::parse(
                "satisfaction",
                &r.try_get::<String, _>("satisfaction")?,
                Satisfaction::parse,
            )?;
            let n = r.try_get::<i64, _>("n")? as u64;
            let e = f.by_agent.entry(r.try_get("agent")?).or_default();
            e.0 += n;
            if satisfaction.is_satisfied() {
                e.1 += n;
            }
        }
        let scores = s.query(format!(
            "SELECT q.agent_id AS agent, COUNT(*) AS n, CAST(SUM(q.total_centi) AS BIGINT) AS centi FROM qa_scores q JOIN qa_samples p ON p.id = q.sample_id JOIN tickets t ON t.id = p.ticket_id WHERE q.superseded_at IS NULL AND q.scored_at >= $1 AND q.scored_at < $2 AND {BRANCH} GROUP BY q.agent_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        for r in scores {
            let e = f.by_agent.entry(r.try_get("agent")?).or_default();
            e.2 += r.try_get::<i64, _>("n")? as u64;
            e.3 += r.try_get::<i64, _>("centi")? as f64 / 100.0;
        }
        f.has_results = !f.by_agent.is_empty();
        Ok(f)
    }

    /// SO8: open tickets by state and age, limits near or past, yesterday's repeats and
    /// breaches (`yesterday` = `[s.start_ms, s.end_ms)`), as of `now`.
    pub async fn report_overview(&self, s: &Scope, now: i64) -> Result<OverviewFacts> {
        let (b, alias) = s.branch_args();
        let mut f = OverviewFacts::default();
        let open = sqlx::query(AssertSqlSafe(format!(
            "SELECT t.id, t.status, t.received_at FROM tickets t WHERE t.status IN ({}) AND {} ORDER BY t.id",
            open_statuses(),
            BRANCH.replace("$3", "$1").replace("$4", "$2")
        )))
        .bind(b)
        .bind(alias)
        .fetch_all(&self.pool)
        .await?;
        for r in open {
            let id: i64 = r.try_get("id")?;
            let age = now - r.try_get::<i64, _>("received_at")?;
            let key = (r.try_get::<String, _>("status")?, age_bucket(age));
            let l = f.open_by_state_age.entry(key).or_default();
            l.count += 1;
            if l.ids.len() < hotline_report::model::MAX_LINKED {
                l.ids.push(id);
            }
        }
        let lim = sqlx::query(AssertSqlSafe(format!(
            "SELECT d.ticket_id, d.kind, d.due_at FROM deadlines d JOIN tickets t ON t.id = d.ticket_id WHERE d.met_at IS NULL AND d.warn_at <= $1 AND {} ORDER BY d.ticket_id",
            BRANCH.replace("$3", "$2").replace("$4", "$3")
        )))
        .bind(now)
        .bind(b)
        .bind(alias)
        .fetch_all(&self.pool)
        .await?;
        for r in lim {
            let id: i64 = r.try_get("ticket_id")?;
            let kind: String = r.try_get("kind")?;
            let map = if r.try_get::<i64, _>("due_at")? <= now {
                &mut f.past_limit
            } else {
                &mut f.at_limit
            };
            push_linked(map, kind, id);
        }
        let rep = s.query(format!(
            "SELECT t.id FROM tickets t WHERE t.received_at >= $1 AND t.received_at < $2 AND {BRANCH} AND t.repeat_of IS NOT NULL ORDER BY t.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        for r in rep {
            let l = &mut f.repeats_yesterday;
            l.count += 1;
            if l.ids.len() < hotline_report::model::MAX_LINKED {
                l.ids.push(r.try_get("id")?);
            }
        }
        let br = s.query(format!(
            "SELECT a.ticket_id, a.deadline_kind FROM alerts a JOIN tickets t ON t.id = a.ticket_id WHERE a.level = 'breach' AND a.at >= $1 AND a.at < $2 AND {BRANCH} ORDER BY a.ticket_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        for r in br {
            push_linked(
                &mut f.breaches_yesterday,
                r.try_get("deadline_kind")?,
                r.try_get("ticket_id")?,
            );
        }
        Ok(f)
    }

    /// Queue-log rows with `since <= at < until`, oldest first.
    pub async fn queue_log_between(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<crate::QueueLogRow>> {
        let rows = sqlx::query(
            "SELECT id, at, call_id, queue, agent, event, data1, data2, data3 FROM queue_log WHERE at >= $1 AND at < $2 ORDER BY at, id",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::QueueLogRow {
                    id: r.try_get("id")?,
                    at: hotline_domain::Timestamp(r.try_get("at")?),
                    call_id: r.try_get("call_id")?,
                    queue: r.try_get("queue")?,
                    agent: r.try_get("agent")?,
                    event: r.try_get("event")?,
                    data: [
                        r.try_get("data1")?,
                        r.try_get("data2")?,
                        r.try_get("data3")?,
                    ],
                })
            })
            .collect()
    }

    /// Stamps every ticket again with `branch_of(faulty_number)`; returns how many changed.
    /// Pages of 5,000 tickets, one write transaction each.
    pub async fn restamp_branches(
        &self,
        branch_of: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<u64> {
        let mut after = 0i64;
        let mut changed = 0u64;
        loop {
            let rows = sqlx::query("SELECT id, faulty_number, report_branch FROM tickets WHERE id > $1 ORDER BY id LIMIT 5000")
                .bind(after)
                .fetch_all(&self.pool)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("id")?;
            let mut by_branch: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for r in &rows {
                let want = branch_of(&r.try_get::<String, _>("faulty_number")?);
                if want != r.try_get::<String, _>("report_branch")? {
                    by_branch.entry(want).or_default().push(r.try_get("id")?);
                }
            }
            if by_branch.is_empty() {
                continue;
            }
            let mut tx = self.begin_write().await?;
            for (branch, ids) in by_branch {
                for chunk in ids.chunks(1000) {
                    let list = chunk
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ");
                    let done = sqlx::query(AssertSqlSafe(format!(
                        "UPDATE tickets SET report_branch = $1 WHERE id IN ({list})"
                    )))
                    .bind(branch.as_str())
                    .execute(&mut *tx)
                    .await?;
                    changed += done.rows_affected();
                }
            }
            tx.commit().await?;
        }
        Ok(changed)
    }
}
