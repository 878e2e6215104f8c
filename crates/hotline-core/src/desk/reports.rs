//! Reports and statistics (issue 17: SF11, DM3, SS5, SO8): the store's aggregates and the
//! queue log made into `hotline_report` sections, per branch and Beijing period.
//!
//! Queue figures reuse the queue metrics' one definition (`hotline_acd::Metrics::from_log`,
//! the same as `QueueService.GetQueueMetrics`); the log is read one Beijing day at a time
//! (plus an hour for the outcomes of calls that joined late in the day) and the days' figures
//! added up, so a month of a busy centre is never in memory at once. Per agent: the same
//! reading over the agent's own rows and the ENTERQUEUE rows of the calls it answered.

use super::Desk;
use crate::error::CoreError;
use hotline_acd::{Figures, Metrics, SlRules, Window};
use hotline_domain::ValidationError;
use hotline_domain::time::{DAY_MS, HOUR_MS};
use hotline_report::erlang::{self, HalfHour};
use hotline_report::{BranchMap, Period, Report, ReportConfig, ReportKind, UNASSIGNED, sections};
use hotline_store::reports::Scope;
use std::collections::{BTreeMap, HashSet};

/// The checked branch map and the report options (built once at start-up).
#[derive(Clone, Debug, Default)]
pub struct Reporting {
    pub map: BranchMap,
    pub cfg: ReportConfig,
}

impl Reporting {
    /// Checks the branch map (overlaps refused naming both entries).
    pub fn new(cfg: ReportConfig) -> Result<Reporting, hotline_report::BranchMapError> {
        Ok(Reporting {
            map: BranchMap::new(&cfg.branches)?,
            cfg,
        })
    }
}

/// What report to make (validated by the handler or the CLI).
#[derive(Clone, Debug, PartialEq)]
pub struct ReportQuery {
    pub kind: ReportKind,
    /// `None`: every branch.
    pub branch: Option<String>,
    pub period: Period,
}

/// How the queue log is read: the rules in force and the queue's name in the log.
#[derive(Clone, Copy, Debug)]
pub struct QueueSource {
    pub rules: SlRules,
    pub queue: &'static str,
}

/// Outcomes of a call are looked for this long after the window ends.
const OUTCOME_SLACK_MS: i64 = HOUR_MS;

/// Adds `b`'s counts to `a` (periods keep `a`'s bounds).
pub fn add_figures(a: &mut Figures, b: &Figures) {
    a.entered += b.entered;
    a.answered += b.answered;
    a.answered_in_time += b.answered_in_time;
    a.abandoned += b.abandoned;
    a.short_abandons += b.short_abandons;
    a.abandoned_in_time += b.abandoned_in_time;
    a.to_voicemail += b.to_voicemail;
    a.in_queue += b.in_queue;
    a.answered_hold_ms += b.answered_hold_ms;
    a.offers += b.offers;
    a.offers_answered += b.offers_answered;
    a.offers_answered_in_time += b.offers_answered_in_time;
    a.offers_no_answer += b.offers_no_answer;
    a.offers_failed += b.offers_failed;
    a.offers_caller_left += b.offers_caller_left;
}

/// Queue figures of a window: the metrics, per agent, the staffing half hours.
pub struct QueueFacts {
    pub metrics: Metrics,
    pub agents: BTreeMap<String, Figures>,
    pub staffing: Vec<HalfHour>,
}

impl Desk {
    /// The branch the map gives `number` (stamped on new tickets).
    pub fn branch_of(&self, number: &str) -> String {
        if self.reporting.map.is_empty() {
            return String::new();
        }
        self.reporting.map.branch_of(number).to_string()
    }

    /// Checks a branch filter: empty is every branch; otherwise a branch of the map or 未归属.
    pub fn check_branch(
        &self,
        field: &'static str,
        name: &str,
    ) -> Result<Option<String>, CoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(None);
        }
        if !self.reporting.map.knows(name) {
            let known: Vec<&str> = self.reporting.map.names().collect();
            return Err(ValidationError::new(
                field,
                format!(
                    "unknown branch {name:?}; the branch map has: {}",
                    known.join(", ")
                ),
            )
            .into());
        }
        Ok(Some(name.to_string()))
    }

    fn scope(&self, branch: &Option<String>, start_ms: i64, end_ms: i64) -> Scope {
        let b = branch.clone().unwrap_or_default();
        Scope {
            start_ms,
            end_ms,
            unstamped_too: b == UNASSIGNED,
            branch: b,
        }
    }

    fn branch_names(&self) -> Vec<String> {
        self.reporting.map.names().map(str::to_string).collect()
    }

    /// Queue figures of `[since, until)`, a day of log at a time.
    pub async fn queue_facts(
        &self,
        src: QueueSource,
        since: i64,
        until: i64,
    ) -> Result<QueueFacts, CoreError> {
        let mut total = Figures {
            start_ms: since,
            end_ms: until,
            ..Default::default()
        };
        let mut intervals = Vec::new();
        let mut days = Vec::new();
        let mut no_answers: BTreeMap<String, u64> = BTreeMap::new();
        let mut agents: BTreeMap<String, Figures> = BTreeMap::new();
        let mut staffing = Vec::new();
        let w = Window::beijing(since, until);
        let mut day = since;
        while day < until {
            let next = (w.period_start(day, DAY_MS) + DAY_MS).min(until);
            let rows = self
                .store
                .queue_log_between(day, next + OUTCOME_SLACK_MS)
                .await?;
            let entries = crate::acd::entries(&rows, src.queue);
            drop(rows);
            let m = Metrics::from_log(&entries, src.rules, Window::beijing(day, next));
            add_figures(&mut total, &m.total);
            intervals.extend(m.intervals);
            days.extend(m.days);
            for (a, n) in m.no_answers_by_agent {
                *no_answers.entry(a).or_default() += n;
            }
            // per agent: its own rows and the ENTERQUEUE rows of the calls it answered
            let mut by_agent: BTreeMap<&str, Vec<&hotline_acd::QueueLogEntry>> = BTreeMap::new();
            let mut answered_by: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
            for e in &entries {
                if !e.agent.is_empty() {
                    by_agent.entry(e.agent.as_str()).or_default().push(e);
                    if e.event == hotline_acd::QueueEvent::Connect {
                        answered_by
                            .entry(e.agent.as_str())
                            .or_default()
                            .insert(e.call_id.as_str());
                    }
                }
            }
            for (agent, own) in by_agent {
                let calls = answered_by.get(agent);
                let mut mine: Vec<&hotline_acd::QueueLogEntry> = entries
                    .iter()
                    .filter(|e| {
                        e.event == hotline_acd::QueueEvent::EnterQueue
                            && calls.is_some_and(|c| c.contains(e.call_id.as_str()))
                    })
                    .collect();
                mine.extend(own);
                mine.sort_by_key(|e| e.at_ms);
                let am = Metrics::from_log(mine, src.rules, Window::beijing(day, next));
                let f = agents.entry(agent.to_string()).or_default();
                add_figures(f, &am.total);
            }
            staffing.extend(erlang::advise(
                &entries,
                day,
                next,
                self.reporting.cfg.options.staffing,
            ));
            day = next;
        }
        agents.retain(|_, f| f.offers > 0 || f.answered > 0 || f.offers_caller_left > 0);
        Ok(QueueFacts {
            metrics: Metrics {
                rules: src.rules,
                total,
                intervals,
                days,
                no_answers_by_agent: no_answers,
            },
            agents,
            staffing,
        })
    }

    /// A report of `q.kind` over `q.period` (already clipped to now by the caller).
    #[tracing::instrument(skip(self, src), fields(kind = q.kind.as_str(), branch = ?q.branch))]
    pub async fn report(&self, q: ReportQuery, src: QueueSource) -> Result<Report, CoreError> {
        let scope = self.scope(&q.branch, q.period.start_ms, q.period.end_ms);
        let names = self.branch_names();
        let mut out = Vec::new();
        if q.kind.includes(ReportKind::Tickets) {
            let f = self.store.report_tickets(&scope).await?;
            out.extend(sections::tickets(&unstamped_as_unassigned(f), &names));
        }
        if q.kind.includes(ReportKind::Repair) {
            let mut f = self.store.report_repair(&scope).await?;
            f.by_branch = f.by_branch.into_iter().fold(
                BTreeMap::new(),
                |mut m, ((b, c), v): ((String, bool), hotline_report::facts::RepairCount)| {
                    let e: &mut hotline_report::facts::RepairCount =
                        m.entry((unassigned(b), c)).or_default();
                    e.due += v.due;
                    e.on_time += v.on_time;
                    m
                },
            );
            for o in &mut f.late {
                o.branch = unassigned(std::mem::take(&mut o.branch));
            }
            out.extend(sections::repair(&f, &names));
        }
        if q.kind.includes(ReportKind::Queue) {
            let qf = self
                .queue_facts(src, q.period.start_ms, q.period.end_ms)
                .await?;
            out.extend(sections::queue(
                &qf.metrics,
                &qf.agents,
                &qf.staffing,
                self.reporting.cfg.options.staffing,
            ));
        }
        if q.kind.includes(ReportKind::Deadlines) {
            let f = self.store.report_deadlines(&scope).await?;
            out.extend(sections::deadlines(&f));
        }
        if q.kind.includes(ReportKind::Quality) {
            let f = self.store.report_quality(&scope).await?;
            out.extend(sections::quality(&f));
        }
        Ok(Report {
            kind: q.kind,
            branch: q.branch,
            period: q.period,
            sections: out,
        })
    }

    /// SO8: the morning overview as of now.
    #[tracing::instrument(skip(self, src))]
    pub async fn overview(
        &self,
        branch: Option<String>,
        src: QueueSource,
    ) -> Result<Report, CoreError> {
        let now = self.clock.now().0;
        let today = Period::day(hotline_report::period::date_of(now));
        let yesterday = Period::yesterday(now);
        let scope = self.scope(&branch, yesterday.start_ms, yesterday.end_ms);
        let f = self.store.report_overview(&scope, now).await?;
        let q = self
            .queue_facts(src, today.start_ms, now.max(today.start_ms))
            .await?;
        let period = today
            .clip(now)
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(Report {
            kind: ReportKind::Overview,
            branch,
            period,
            sections: sections::overview(&f, &q.metrics.total, now),
        })
    }

    /// Stamps every ticket again with the current map's branch.
    #[tracing::instrument(skip(self))]
    pub async fn restamp_branches(&self) -> Result<u64, CoreError> {
        let desk = self.clone();
        let n = self
            .store
            .restamp_branches(&move |n: &str| desk.branch_of(n))
            .await?;
        tracing::info!(changed = n, "tickets restamped with their branch");
        Ok(n)
    }
}

fn unassigned(b: String) -> String {
    if b.is_empty() {
        UNASSIGNED.to_string()
    } else {
        b
    }
}

fn unstamped_as_unassigned(
    mut f: hotline_report::facts::TicketFacts,
) -> hotline_report::facts::TicketFacts {
    if let Some(n) = f.by_branch.remove("") {
        *f.by_branch.entry(UNASSIGNED.to_string()).or_default() += n;
    }
    f
}

/// The period a request names: `kind` with `from` (and `to` for a custom range), in Beijing
/// days, clipped at `now` (a period starting after today is refused).
pub fn period(
    kind: hotline_report::PeriodKind,
    from: &str,
    to: &str,
    now: i64,
) -> Result<Period, CoreError> {
    use hotline_report::PeriodKind as K;
    use hotline_report::period::{PeriodError, parse_date};
    let invalid = |e: PeriodError| -> CoreError {
        let field = match &e {
            PeriodError::BadDate { field, .. } | PeriodError::BadMonth { field, .. } => field,
            PeriodError::ToBeforeFrom { .. } => "to",
            PeriodError::TooLong { .. } => "to",
            PeriodError::InFuture { .. } => "from",
        };
        ValidationError::new(field, e.to_string()).into()
    };
    if from.trim().is_empty() {
        return Err(ValidationError::new("from", "is required (YYYY-MM-DD, Beijing time)").into());
    }
    let p = match kind {
        K::Month if from.trim().len() == 7 => Period::parse_month("from", from).map_err(invalid)?,
        K::Day | K::Week | K::Month => {
            if !to.trim().is_empty() {
                return Err(ValidationError::new("to", "only a custom period takes `to`").into());
            }
            let d = parse_date("from", from).map_err(invalid)?;
            match kind {
                K::Day => Period::day(d),
                K::Week => Period::week(d),
                _ => Period::month(d),
            }
        }
        K::Custom => {
            let f = parse_date("from", from).map_err(invalid)?;
            if to.trim().is_empty() {
                return Err(
                    ValidationError::new("to", "a custom period needs `to` (YYYY-MM-DD)").into(),
                );
            }
            let t = parse_date("to", to).map_err(invalid)?;
            Period::custom(f, t).map_err(invalid)?
        }
    };
    p.clip(now).map_err(invalid)
}

impl Desk {
    /// The report as a file (CPU work, off the async threads).
    pub async fn export_report(
        &self,
        report: Report,
        format: hotline_report::ExportFormat,
    ) -> Result<Vec<u8>, CoreError> {
        let opts = hotline_report::ExportOptions {
            font_path: self.reporting.cfg.options.font.clone(),
        };
        let out =
            tokio::task::spawn_blocking(move || hotline_report::export(&report, format, &opts))
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?;
        out.map_err(|e| match e {
            hotline_report::ExportError::NoChart => {
                ValidationError::new("format", e.to_string()).into()
            }
            hotline_report::ExportError::NoFont(_) => CoreError::NotReady(e.to_string()),
            e => CoreError::Internal(e.to_string()),
        })
    }
}

/// A file name for a report: `full-朝阳分公司-2026-11-01_2026-11-30.xlsx`.
pub fn file_name(r: &Report, format: hotline_report::ExportFormat) -> String {
    format!(
        "{}-{}-{}_{}.{}",
        r.kind.as_str(),
        r.branch.as_deref().unwrap_or("all"),
        r.period.from,
        r.period.to,
        format.as_str()
    )
}
