//! Periodic analyses (SS5): the weekly satisfaction statistics and the monthly satisfaction
//! analysis, drafted by the system after their period ends and published by the satisfaction
//! surveyor. The monthly one must be out before the 21st of the month after its period: a
//! warning (预警) on the 20th, a breach (超时) on the 21st, while it is still a draft.

use crate::named::named_enum;
use crate::time::{DAY_MS, Timestamp};

named_enum!(
    /// What an analysis is: the database's `analyses.kind`, the API's `Analysis.kind`.
    AnalysisKind {
        /// The Monday-to-Sunday week's survey figures (SS5 周统计).
        SurveyWeekly = "survey_weekly", "满意度周统计";
        /// The calendar month's satisfaction analysis naming the weak points (SS5 月度分析).
        SurveyMonthly = "survey_monthly", "月度满意度分析";
    }
);

named_enum!(
    /// A report the scheduler generates by itself and keeps as a file (issue 17): the
    /// database's `scheduled_reports.kind`.
    ScheduledReportKind {
        /// Yesterday's full report (every section), made after midnight (Beijing).
        Daily = "daily", "日报";
        /// Last month's full report, made on the 1st.
        Monthly = "monthly", "月报";
    }
);

named_enum!(
    /// Where an analysis is.
    AnalysisState {
        /// Drafted by the system from the data; not yet released.
        Draft = "draft", "草稿";
        /// Released by the surveyor (or an admin); never changes again.
        Published = "published", "已发布";
    }
);

/// The publication limit of an analysis of the period ending at `period_end` (Beijing
/// midnight): `(warn_at, due_at)`. The monthly analysis is due at 00:00 on the 21st of the
/// month after its period (its end is the 1st, so the 21st is 20 days later) and warned 24
/// hours before; the weekly statistics have no limit.
pub fn publish_limit(kind: AnalysisKind, period_end: Timestamp) -> Option<(Timestamp, Timestamp)> {
    match kind {
        AnalysisKind::SurveyWeekly => None,
        AnalysisKind::SurveyMonthly => Some((
            period_end.plus_ms(19 * DAY_MS),
            period_end.plus_ms(20 * DAY_MS),
        )),
    }
}

/// Why an analysis cannot be published.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisRefusal {
    #[error("analysis {0} is already published")]
    AlreadyPublished(i64),
}

/// A draft may be published once.
pub fn check_publishable(id: i64, state: AnalysisState) -> Result<(), AnalysisRefusal> {
    match state {
        AnalysisState::Draft => Ok(()),
        AnalysisState::Published => Err(AnalysisRefusal::AlreadyPublished(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_MS;

    /// 2026-12-01 00:00 Beijing = 2026-11-30 16:00 UTC.
    const DEC_1: Timestamp = Timestamp(1_796_083_200_000 - 8 * HOUR_MS);

    #[test]
    fn ss5_the_monthly_analysis_is_warned_on_the_20th_and_due_on_the_21st() {
        let (warn, due) = publish_limit(AnalysisKind::SurveyMonthly, DEC_1).unwrap();
        // 2026-12-20 00:00 and 2026-12-21 00:00 Beijing
        assert_eq!(warn.0, 1_797_724_800_000 - 8 * HOUR_MS);
        assert_eq!(due.0, 1_797_811_200_000 - 8 * HOUR_MS);
        assert_eq!(publish_limit(AnalysisKind::SurveyWeekly, DEC_1), None);
    }

    #[test]
    fn ss5_an_analysis_is_published_once() {
        assert_eq!(check_publishable(3, AnalysisState::Draft), Ok(()));
        assert_eq!(
            check_publishable(3, AnalysisState::Published),
            Err(AnalysisRefusal::AlreadyPublished(3))
        );
    }
}
