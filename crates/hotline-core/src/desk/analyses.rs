//! The periodic survey analyses (SS5): after each Monday-to-Sunday week and each calendar month
//! (Beijing time) the scheduler drafts the period's figures and the weak points they name, once;
//! the satisfaction surveyor reads, then publishes them. The monthly analysis must be published
//! before the 21st of the following month: its limit warns on the 20th and breaches on the 21st
//! through the deadline scheduler (`AlertKind::Analysis`).

use super::Desk;
use super::surveys::{SurveyReport, Surveys};
use crate::auth::Principal;
use crate::error::CoreError;
use hotline_domain::analysis::{self, AnalysisKind, AnalysisRefusal};
use hotline_domain::survey::{Dimension, Tally};
use hotline_domain::{FaultType, Role, Timestamp};
use hotline_report::Period;
use hotline_report::period::date_of;
use hotline_store::{AnalysisRecord, NewAnalysis};
use std::fmt::Write as _;

/// The survey analyses over the desk (cheap to clone).
#[derive(Clone)]
pub struct Analyses {
    surveys: Surveys,
}

impl Surveys {
    /// The SS5 analyses, with these survey rules (the weak-area minimum).
    pub fn analyses(&self) -> Analyses {
        Analyses {
            surveys: self.clone(),
        }
    }
}

fn refusal(r: AnalysisRefusal) -> CoreError {
    CoreError::NotReady(r.to_string())
}

/// The last whole period of `kind` before `now`, and its key (`2026-11`, or the week's
/// Monday `2026-11-23`).
pub fn last_period(kind: AnalysisKind, now: Timestamp) -> (String, Period) {
    match kind {
        AnalysisKind::SurveyMonthly => {
            let p = Period::last_month(now.0);
            (
                format!("{:04}-{:02}", p.from.year(), p.from.month() as u8),
                p,
            )
        }
        AnalysisKind::SurveyWeekly => {
            let this_week = Period::week(date_of(now.0));
            let p = Period::week(this_week.from - time::Duration::days(7));
            (p.from.to_string(), p)
        }
    }
}

fn percent(t: &Tally) -> String {
    match t.rate() {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "—".into(),
    }
}

fn tally_line(t: &Tally) -> String {
    format!(
        "{} 条：满意 {}，基本满意 {}，不满意 {}；满意率 {}",
        t.total(),
        t.satisfied,
        t.basically_satisfied,
        t.dissatisfied,
        percent(t)
    )
}

/// The analysis's text (zh-CN): overall figures against the ≥ 95 % target, per branch and per
/// fault type, the weak points the numbers name, callback attempts, written warnings (SO5).
pub fn render(kind: AnalysisKind, period: &Period, r: &SurveyReport) -> (String, String) {
    let title = format!("{}（{}）", kind.label_zh(), period.label());
    let mut b = String::new();
    let s = &r.stats;
    let _ = writeln!(b, "{title}\n");
    let _ = writeln!(b, "一、总体");
    let _ = writeln!(
        b,
        "回访结果 {}（目标满意率 ≥ 95%）。",
        tally_line(&s.overall)
    );
    match s.overall.rate() {
        Some(rate) if rate < 0.95 => {
            let _ = writeln!(b, "满意率低于 95% 的目标。");
        }
        Some(_) => {
            let _ = writeln!(b, "满意率达到 95% 的目标。");
        }
        None => {
            let _ = writeln!(b, "本期没有回访结果。");
        }
    }
    for (no, dim) in [("二", Dimension::Branch), ("三", Dimension::FaultType)] {
        let _ = writeln!(b, "\n{no}、按{}", dim.label_zh());
        let mut any = false;
        for g in s.groups.iter().filter(|g| g.dimension == dim) {
            any = true;
            let name = match dim {
                Dimension::FaultType => FaultType::parse(&g.key).map_or(&*g.key, |f| f.label_zh()),
                Dimension::Branch => &*g.key,
            };
            let _ = writeln!(b, "- {name}：{}", tally_line(&g.tally));
        }
        if !any {
            let _ = writeln!(b, "- 无");
        }
    }
    let _ = writeln!(b, "\n四、薄弱环节");
    if r.weak_points.is_empty() {
        let _ = writeln!(b, "- 结果不足，未能指出薄弱环节。");
    }
    for w in &r.weak_points {
        let _ = writeln!(b, "- {w}");
    }
    let a = &r.attempts;
    let _ = writeln!(b, "\n五、回访工作");
    let _ = writeln!(
        b,
        "回访尝试 {} 次，其中未接通 {} 次；因多次未接通而结束的回访 {} 个。",
        a.attempts, a.not_reached, a.unreachable
    );
    let _ = writeln!(b, "\n六、书面警告（二次派单）");
    if r.warnings.is_empty() {
        let _ = writeln!(b, "- 无");
    }
    for w in &r.warnings {
        let _ = writeln!(b, "- {}：{} 次", w.branch, w.warnings);
    }
    (title, b)
}

impl Analyses {
    fn desk(&self) -> &Desk {
        &self.surveys.desk
    }

    /// Drafts the last whole week's and month's analyses if they are not there yet; returns
    /// the new drafts. Run by the scheduler; idempotent (one draft per kind and period, also
    /// with several schedulers). A period that ended before the first ticket was received
    /// (a new installation) is not drafted.
    pub async fn draft_due(&self) -> Result<Vec<AnalysisRecord>, CoreError> {
        let now = self.desk().clock.now();
        let mut out = Vec::new();
        for kind in AnalysisKind::ALL {
            let (key, period) = last_period(kind, now);
            let store = &self.desk().store;
            if store.analysis_exists(kind, &key).await?
                || !store.any_ticket_before(Timestamp(period.end_ms)).await?
            {
                continue;
            }
            let report = self
                .surveys
                .figures(Timestamp(period.start_ms), Timestamp(period.end_ms))
                .await?;
            let (title, body) = render(kind, &period, &report);
            let (rec, fresh) = self
                .desk()
                .store
                .draft_analysis(&NewAnalysis {
                    kind,
                    period: key,
                    period_start: Timestamp(period.start_ms),
                    period_end: Timestamp(period.end_ms),
                    title,
                    body,
                    now,
                    limit: analysis::publish_limit(kind, Timestamp(period.end_ms)),
                })
                .await?;
            if fresh {
                tracing::info!(analysis = rec.id, kind = kind.as_str(), period = %rec.period, "analysis drafted");
                out.push(rec);
            }
        }
        Ok(out)
    }

    fn check_reader(who: &Principal) -> Result<(), CoreError> {
        if matches!(
            who.role,
            Role::Surveyor | Role::Senior | Role::DataManager | Role::Admin
        ) {
            Ok(())
        } else {
            Err(CoreError::Forbidden {
                role: who.role.as_str(),
                what: "read the survey analyses",
            })
        }
    }

    /// Analyses of a kind (`None`: both), newest first.
    pub async fn list(
        &self,
        who: &Principal,
        kind: Option<AnalysisKind>,
        limit: u32,
    ) -> Result<Vec<AnalysisRecord>, CoreError> {
        Self::check_reader(who)?;
        Ok(self.desk().store.list_analyses(kind, limit).await?)
    }

    pub async fn get(&self, who: &Principal, id: i64) -> Result<AnalysisRecord, CoreError> {
        Self::check_reader(who)?;
        Ok(self.desk().store.get_analysis(id).await?)
    }

    /// Publishes a draft (surveyors and admins; once).
    pub async fn publish(
        &self,
        who: &Principal,
        id: i64,
        note: &str,
    ) -> Result<AnalysisRecord, CoreError> {
        if !matches!(who.role, Role::Surveyor | Role::Admin) {
            return Err(CoreError::Forbidden {
                role: who.role.as_str(),
                what: "publish the survey analyses",
            });
        }
        let store = &self.desk().store;
        let a = store.get_analysis(id).await?;
        analysis::check_publishable(id, a.state).map_err(refusal)?;
        match store
            .publish_analysis(id, &who.agent_id, note, self.desk().clock.now())
            .await?
        {
            Some(rec) => {
                tracing::info!(analysis = id, by = %who.agent_id, "analysis published");
                Ok(rec)
            }
            None => Err(refusal(AnalysisRefusal::AlreadyPublished(id))),
        }
    }
}
