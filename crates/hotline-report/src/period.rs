//! Report periods in Beijing time (UTC+8, no daylight saving): a day, a week (Monday to
//! Sunday), a month, or a custom range of whole days. A period is `[start, end)` in ms since
//! the epoch; dates are inclusive.
//!
//! Against "now" ([`Period::clip`]): a period that starts after now is refused
//! ([`PeriodError::InFuture`]); one that starts before now and ends after it is cut at now and
//! says so (`clipped_at`), so "this month" gives the month so far.

use hotline_acd::metrics::BEIJING_OFFSET_MS;
use hotline_domain::time::DAY_MS;
use serde::Serialize;
use time::{Date, Duration, Month, Weekday};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Day,
    Week,
    Month,
    Custom,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    pub kind: PeriodKind,
    /// First day (Beijing), inclusive.
    #[serde(serialize_with = "ser_date")]
    pub from: Date,
    /// Last day (Beijing), inclusive.
    #[serde(serialize_with = "ser_date")]
    pub to: Date,
    /// Start, ms since the epoch (Beijing midnight of `from`).
    pub start_ms: i64,
    /// End, exclusive (Beijing midnight after `to`, or now when clipped).
    pub end_ms: i64,
    /// Set when the period was cut at this instant (it ran past now).
    pub clipped_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("to ({to}) is before from ({from})")]
    ToBeforeFrom { from: Date, to: Date },
    #[error("{field}: {value:?} is not a date (YYYY-MM-DD)")]
    BadDate { field: &'static str, value: String },
    #[error("{field}: {value:?} is not a month (YYYY-MM)")]
    BadMonth { field: &'static str, value: String },
    #[error("the period starts on {from}, after today ({today}); reports cover the past")]
    InFuture { from: Date, today: Date },
    #[error("a custom range is at most {max} days ({days} asked)")]
    TooLong { days: i64, max: i64 },
}

fn ser_date<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// Longest custom range.
pub const MAX_DAYS: i64 = 400;

/// Beijing midnight starting `d`, ms since the epoch.
pub fn day_start_ms(d: Date) -> i64 {
    let days = i64::from(d.to_julian_day() - UNIX_EPOCH_JULIAN);
    days * DAY_MS - BEIJING_OFFSET_MS
}

const UNIX_EPOCH_JULIAN: i32 = 2_440_588;

/// The Beijing date holding `ms`.
pub fn date_of(ms: i64) -> Date {
    let days = (ms + BEIJING_OFFSET_MS).div_euclid(DAY_MS);
    Date::from_julian_day(UNIX_EPOCH_JULIAN + days as i32).unwrap_or(Date::MIN)
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(field: &'static str, s: &str) -> Result<Date, PeriodError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &fmt).map_err(|_| PeriodError::BadDate {
        field,
        value: s.to_string(),
    })
}

fn last_of_month(year: i32, month: Month) -> Date {
    let first = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN);
    let next = if month == Month::December {
        Date::from_calendar_date(year + 1, Month::January, 1)
    } else {
        Date::from_calendar_date(year, month.next(), 1)
    };
    next.map(|n| n - Duration::days(1)).unwrap_or(first)
}

impl Period {
    fn span(kind: PeriodKind, from: Date, to: Date) -> Period {
        Period {
            kind,
            from,
            to,
            start_ms: day_start_ms(from),
            end_ms: day_start_ms(to) + DAY_MS,
            clipped_at: None,
        }
    }

    pub fn day(d: Date) -> Period {
        Period::span(PeriodKind::Day, d, d)
    }

    /// The Monday-to-Sunday week holding `d`.
    pub fn week(d: Date) -> Period {
        let monday = d - Duration::days(i64::from(d.weekday().number_days_from_monday()));
        Period::span(PeriodKind::Week, monday, monday + Duration::days(6))
    }

    /// The calendar month holding `d`.
    pub fn month(d: Date) -> Period {
        let first = d.replace_day(1).unwrap_or(d);
        Period::span(PeriodKind::Month, first, last_of_month(d.year(), d.month()))
    }

    /// `YYYY-MM`.
    pub fn parse_month(field: &'static str, s: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError::BadMonth {
            field,
            value: s.to_string(),
        };
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let y: i32 = y.parse().map_err(|_| bad())?;
        let m: u8 = m.parse().map_err(|_| bad())?;
        let month = Month::try_from(m).map_err(|_| bad())?;
        let d = Date::from_calendar_date(y, month, 1).map_err(|_| bad())?;
        Ok(Period::month(d))
    }

    /// Whole days `from` to `to`, both inclusive.
    pub fn custom(from: Date, to: Date) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError::ToBeforeFrom { from, to });
        }
        let days = (to - from).whole_days() + 1;
        if days > MAX_DAYS {
            return Err(PeriodError::TooLong {
                days,
                max: MAX_DAYS,
            });
        }
        Ok(Period::span(PeriodKind::Custom, from, to))
    }

    /// Refuses a period starting after `now`; cuts one running past `now` at `now`.
    pub fn clip(mut self, now_ms: i64) -> Result<Period, PeriodError> {
        if self.start_ms > now_ms {
            return Err(PeriodError::InFuture {
                from: self.from,
                today: date_of(now_ms),
            });
        }
        if self.end_ms > now_ms {
            self.end_ms = now_ms;
            self.clipped_at = Some(now_ms);
        }
        Ok(self)
    }

    /// The day before the day holding `now` (the daily report after midnight).
    pub fn yesterday(now_ms: i64) -> Period {
        Period::day(date_of(now_ms) - Duration::days(1))
    }

    /// The month before the one holding `now` (the monthly report on the 1st).
    pub fn last_month(now_ms: i64) -> Period {
        let first = date_of(now_ms).replace_day(1).unwrap_or(date_of(now_ms));
        Period::month(first - Duration::days(1))
    }

    /// `2026-11-01 至 2026-11-30（北京时间）`, with the cut when clipped.
    pub fn label(&self) -> String {
        let mut s = if self.from == self.to {
            format!("{}（北京时间）", self.from)
        } else {
            format!("{} 至 {}（北京时间）", self.from, self.to)
        };
        if let Some(at) = self.clipped_at {
            s.push_str(&format!("，截至 {}", format_beijing(at)));
        }
        s
    }

    pub fn is_weekday_start(&self) -> bool {
        self.from.weekday() == Weekday::Monday
    }
}

/// `YYYY-MM-DD HH:MM` in Beijing time.
pub fn format_beijing(ms: i64) -> String {
    let local = ms + BEIJING_OFFSET_MS;
    let d = date_of(ms);
    let secs_of_day = local.rem_euclid(DAY_MS) / 1000;
    format!("{d} {:02}:{:02}", secs_of_day / 3600, secs_of_day / 60 % 60)
}

/// `HH:MM` in Beijing time.
pub fn format_hhmm(ms: i64) -> String {
    let secs_of_day = (ms + BEIJING_OFFSET_MS).rem_euclid(DAY_MS) / 1000;
    format!("{:02}:{:02}", secs_of_day / 3600, secs_of_day / 60 % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn ss5_month_end_boundaries_in_beijing_time() {
        let p = Period::parse_month("month", "2026-02").unwrap();
        assert_eq!(
            (p.from, p.to),
            (date!(2026 - 02 - 01), date!(2026 - 02 - 28))
        );
        // 2026-02-01 00:00 Beijing is 2026-01-31 16:00 UTC
        assert_eq!(p.start_ms, 1_769_875_200_000);
        assert_eq!(p.end_ms - p.start_ms, 28 * DAY_MS);
        let leap = Period::month(date!(2028 - 02 - 10));
        assert_eq!(leap.to, date!(2028 - 02 - 29));
        let dec = Period::month(date!(2026 - 12 - 31));
        assert_eq!(dec.end_ms, day_start_ms(date!(2027 - 01 - 01)));
        // a custom range across a month end is whole days on both sides
        let c = Period::custom(date!(2026 - 01 - 31), date!(2026 - 02 - 01)).unwrap();
        assert_eq!(c.end_ms - c.start_ms, 2 * DAY_MS);
        assert_eq!(date_of(c.start_ms), date!(2026 - 01 - 31));
        assert_eq!(date_of(c.end_ms - 1), date!(2026 - 02 - 01));
    }

    #[test]
    fn ss5_bad_ranges_are_refused() {
        assert!(matches!(
            Period::custom(date!(2026 - 03 - 02), date!(2026 - 03 - 01)),
            Err(PeriodError::ToBeforeFrom { .. })
        ));
        assert!(matches!(
            parse_date("from", "2026-13-01"),
            Err(PeriodError::BadDate { field: "from", .. })
        ));
        assert!(matches!(
            Period::parse_month("month", "2026"),
            Err(PeriodError::BadMonth { .. })
        ));
        let now = day_start_ms(date!(2026 - 03 - 10)) + 3_600_000;
        assert!(matches!(
            Period::day(date!(2026 - 03 - 11)).clip(now),
            Err(PeriodError::InFuture { .. })
        ));
        let m = Period::month(date!(2026 - 03 - 01)).clip(now).unwrap();
        assert_eq!((m.end_ms, m.clipped_at), (now, Some(now)));
        assert!(m.label().contains("截至 2026-03-10 01:00"));
    }

    #[test]
    fn weeks_run_monday_to_sunday() {
        let w = Period::week(date!(2026 - 12 - 06)); // a Sunday
        assert_eq!(
            (w.from, w.to),
            (date!(2026 - 11 - 30), date!(2026 - 12 - 06))
        );
        assert!(w.is_weekday_start());
        assert_eq!(
            Period::yesterday(day_start_ms(date!(2026 - 03 - 01)) + 60_000).from,
            date!(2026 - 02 - 28)
        );
        assert_eq!(
            Period::last_month(day_start_ms(date!(2026 - 03 - 01)) + 60_000).to,
            date!(2026 - 02 - 28)
        );
    }
}
