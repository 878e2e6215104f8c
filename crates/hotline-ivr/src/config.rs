//! IVR settings (TOML-friendly): key timeouts and retry counts, voicemail limits and
//! directory, and the service-hours calendar (weekly open hours, closed dates).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset, Weekday};

use crate::channel::{CollectSpec, RecordSpec};

/// Everything the flows can be tuned by. Every field has a default (`#[serde(default)]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IvrConfig {
    /// Attempts at a menu (invalid key or no key) before the caller goes to an agent.
    pub menu_retries: u32,
    /// Attempts at entering a number before the caller goes to an agent.
    pub number_retries: u32,
    /// Wait for the first key of a menu choice or a number, in milliseconds.
    pub first_digit_timeout_ms: u64,
    /// Wait for each further key of a number, in milliseconds.
    pub inter_digit_timeout_ms: u64,
    /// Where voicemail WAVs are written (`<dir>/<call id>.wav`).
    pub voicemail_dir: PathBuf,
    /// Longest message, in seconds (SF9: 120).
    pub voicemail_max_secs: u64,
    /// Silence that ends a message, in seconds (5).
    pub voicemail_silence_secs: u64,
    /// Messages shorter than this are discarded, in seconds (2).
    pub voicemail_min_secs: u64,
    /// When the desk is open.
    pub service_hours: ServiceHours,
}

impl Default for IvrConfig {
    fn default() -> Self {
        IvrConfig {
            menu_retries: 3,
            number_retries: 3,
            first_digit_timeout_ms: 5_000,
            inter_digit_timeout_ms: 5_000,
            voicemail_dir: PathBuf::from("var/voicemail"),
            voicemail_max_secs: 120,
            voicemail_silence_secs: 5,
            voicemail_min_secs: 2,
            service_hours: ServiceHours::default(),
        }
    }
}

/// Shortest and longest valid number (digits only).
pub const NUMBER_DIGITS: std::ops::RangeInclusive<usize> = 3..=20;

impl IvrConfig {
    /// Checks the values that would make flows misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.menu_retries == 0 {
            return Err(ConfigError::new("menu_retries", "must be at least 1"));
        }
        if self.number_retries == 0 {
            return Err(ConfigError::new("number_retries", "must be at least 1"));
        }
        if self.first_digit_timeout_ms == 0 {
            return Err(ConfigError::new(
                "first_digit_timeout_ms",
                "must be positive",
            ));
        }
        if self.inter_digit_timeout_ms == 0 {
            return Err(ConfigError::new(
                "inter_digit_timeout_ms",
                "must be positive",
            ));
        }
        if self.voicemail_max_secs == 0 || self.voicemail_min_secs >= self.voicemail_max_secs {
            return Err(ConfigError::new(
                "voicemail_max_secs",
                "must be positive and above voicemail_min_secs",
            ));
        }
        self.service_hours.validate()
    }

    /// A one-key menu choice.
    pub fn menu_key_spec(&self) -> CollectSpec {
        CollectSpec {
            max_digits: 1,
            first_digit_timeout: Duration::from_millis(self.first_digit_timeout_ms),
            inter_digit_timeout: Duration::from_millis(self.inter_digit_timeout_ms),
            terminators: String::new(),
        }
    }

    /// A number ending with `#`. One key more than the longest valid number, so a number
    /// that is too long is seen as such rather than cut.
    pub fn number_spec(&self) -> CollectSpec {
        CollectSpec {
            max_digits: NUMBER_DIGITS.end() + 1,
            first_digit_timeout: Duration::from_millis(self.first_digit_timeout_ms),
            inter_digit_timeout: Duration::from_millis(self.inter_digit_timeout_ms),
            terminators: "#".into(),
        }
    }

    /// A voicemail: up to the maximum, `#` or silence ends it, short ones discarded.
    pub fn voicemail_spec(&self) -> RecordSpec {
        RecordSpec {
            max_duration: Duration::from_secs(self.voicemail_max_secs),
            silence_end: (self.voicemail_silence_secs > 0)
                .then(|| Duration::from_secs(self.voicemail_silence_secs)),
            end_keys: "#".into(),
            min_duration: Duration::from_secs(self.voicemail_min_secs),
            number_entered: String::new(),
        }
    }
}

/// A setting that cannot work, named as in the config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ivr config {field}: {reason}")]
pub struct ConfigError {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A day of the week as written in the config (`mon` ... `sun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    /// Every day.
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Monday,
            Day::Tue => Weekday::Tuesday,
            Day::Wed => Weekday::Wednesday,
            Day::Thu => Weekday::Thursday,
            Day::Fri => Weekday::Friday,
            Day::Sat => Weekday::Saturday,
            Day::Sun => Weekday::Sunday,
        }
    }
}

/// Open hours on some days of the week: `from` inclusive to `to` exclusive, `"HH:MM"` local
/// time (`"24:00"` allowed as `to`). A range does not cross midnight: use two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenHours {
    /// The days this applies to.
    pub days: Vec<Day>,
    /// Opening time.
    pub from: String,
    /// Closing time.
    pub to: String,
}

/// The service calendar. In TOML:
///
/// ```toml
/// [service_hours]
/// utc_offset_minutes = 480          # Beijing time
/// closed_dates = ["2026-10-01"]     # YYYY-MM-DD, local
/// [[service_hours.open]]
/// days = ["mon", "tue", "wed", "thu", "fri"]
/// from = "08:00"
/// to = "20:00"
/// ```
///
/// The default is open around the clock every day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceHours {
    /// Local time's offset from UTC, in minutes.
    pub utc_offset_minutes: i32,
    /// Weekly open hours; closed outside them.
    pub open: Vec<OpenHours>,
    /// Whole local days closed (holidays), `YYYY-MM-DD`.
    pub closed_dates: Vec<String>,
}

impl Default for ServiceHours {
    fn default() -> Self {
        ServiceHours {
            utc_offset_minutes: 480,
            open: vec![OpenHours {
                days: Day::ALL.to_vec(),
                from: "00:00".into(),
                to: "24:00".into(),
            }],
            closed_dates: Vec::new(),
        }
    }
}

fn minute_of_day(field: &str, s: &str) -> Result<u32, ConfigError> {
    let bad = || {
        ConfigError::new(
            field,
            format!("{s:?} is not a time HH:MM between 00:00 and 24:00"),
        )
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) || h * 60 + m > 24 * 60 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_date(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &format).ok()
}

impl ServiceHours {
    /// Checks every time, date and the offset.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if UtcOffset::from_whole_seconds(self.utc_offset_minutes.saturating_mul(60)).is_err() {
            return Err(ConfigError::new(
                "service_hours.utc_offset_minutes",
                "is out of range",
            ));
        }
        for (i, o) in self.open.iter().enumerate() {
            let from = minute_of_day(&format!("service_hours.open[{i}].from"), &o.from)?;
            let to = minute_of_day(&format!("service_hours.open[{i}].to"), &o.to)?;
            if from >= to {
                return Err(ConfigError::new(
                    format!("service_hours.open[{i}]"),
                    "from must be before to (split a range that crosses midnight in two)",
                ));
            }
        }
        for d in &self.closed_dates {
            if parse_date(d).is_none() {
                return Err(ConfigError::new(
                    "service_hours.closed_dates",
                    format!("{d:?} is not a date YYYY-MM-DD"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the desk is open at `now`. Entries that do not validate count as closed.
    pub fn is_open(&self, now: OffsetDateTime) -> bool {
        let offset = UtcOffset::from_whole_seconds(self.utc_offset_minutes.saturating_mul(60))
            .unwrap_or(UtcOffset::UTC);
        let local = now.to_offset(offset);
        if self
            .closed_dates
            .iter()
            .any(|d| parse_date(d) == Some(local.date()))
        {
            return false;
        }
        let minute = u32::from(local.hour()) * 60 + u32::from(local.minute());
        self.open.iter().any(|o| {
            o.days.iter().any(|d| d.weekday() == local.weekday())
                && matches!(
                    (minute_of_day("", &o.from), minute_of_day("", &o.to)),
                    (Ok(from), Ok(to)) if from <= minute && minute < to
                )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn office() -> ServiceHours {
        toml::from_str(
            r#"
            utc_offset_minutes = 480
            closed_dates = ["2026-10-01"]
            [[open]]
            days = ["mon", "tue", "wed", "thu", "fri"]
            from = "08:00"
            to = "20:00"
            [[open]]
            days = ["sat"]
            from = "09:00"
            to = "12:00"
            "#,
        )
        .expect("valid calendar")
    }

    #[test]
    fn default_is_always_open() {
        let h = ServiceHours::default();
        h.validate().unwrap();
        assert!(h.is_open(datetime!(2026-11-29 03:00 UTC)));
        assert!(h.is_open(datetime!(2026-11-29 23:59 UTC)));
    }

    #[test]
    fn weekly_hours_in_local_time() {
        let h = office();
        h.validate().unwrap();
        // Monday 2026-11-30 08:30 Beijing = 00:30 UTC.
        assert!(h.is_open(datetime!(2026-11-30 00:30 UTC)));
        // Monday 07:59 Beijing.
        assert!(!h.is_open(datetime!(2026-11-29 23:59 UTC)));
        // Monday 20:00 Beijing: closed (to is exclusive).
        assert!(!h.is_open(datetime!(2026-11-30 12:00 UTC)));
        // Saturday 2026-11-28 10:00 Beijing open, 13:00 closed; Sunday closed.
        assert!(h.is_open(datetime!(2026-11-28 02:00 UTC)));
        assert!(!h.is_open(datetime!(2026-11-28 05:00 UTC)));
        assert!(!h.is_open(datetime!(2026-11-29 02:00 UTC)));
        // Thursday 2026-10-01 is a closed date.
        assert!(!h.is_open(datetime!(2026-10-01 02:00 UTC)));
    }

    #[test]
    fn bad_calendars_are_refused_naming_the_field() {
        let mut h = office();
        h.open[0].to = "07:00".into();
        assert_eq!(h.validate().unwrap_err().field, "service_hours.open[0]");
        let mut h = office();
        h.open[1].from = "9h".into();
        assert_eq!(
            h.validate().unwrap_err().field,
            "service_hours.open[1].from"
        );
        let mut h = office();
        h.closed_dates.push("1 Oct".into());
        assert_eq!(
            h.validate().unwrap_err().field,
            "service_hours.closed_dates"
        );
    }

    #[test]
    fn default_config_is_valid_and_round_trips_through_toml() {
        let c = IvrConfig::default();
        c.validate().unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(toml::from_str::<IvrConfig>(&text).unwrap(), c);
    }
}
