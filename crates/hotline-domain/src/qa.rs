//! Quality inspection (QA1, QA2) and the seniors' assessment of juniors (SO1, SO4): the
//! scoring form, score computation, reproducible sampling, the recording rule, and who may
//! score what.
//!
//! - A **form** ([`FormItem`]s with weights and a maximum each) comes from `[qa]` of the config
//!   ([`QaConfig`]). A score sheet gives every item a whole number in `0..=max`;
//!   [`score_sheet`] checks it (every item scored once, none unknown, none out of range) and
//!   computes the total on a 0-100 scale in hundredths (`total_centi`, exact integers):
//!   `10000 × Σ wᵢ·sᵢ/maxᵢ / Σ wᵢ`, rounded half up. The items are kept with the score as they
//!   were, so a later change of the form does not rewrite history.
//! - **Sampling** ([`draw`]) is a pure function of the seed, the candidate tickets and the
//!   tickets already sampled in the period: candidates are grouped by agent (sorted), each
//!   agent's tickets (sorted by id, already-sampled ones removed) are shuffled by a
//!   [`SplitMix64`] seeded with `seed ^ fnv1a(agent)`, and the first `per_agent` are taken. The
//!   generator is written out here (not `rand`'s `StdRng`, whose stream may change between
//!   releases) so a recorded seed reproduces its sample for as long as the data is kept.
//! - **Periods** are ISO weeks in Beijing time ([`Week`], `2026-W50`): Monday 00:00 to the
//!   next Monday 00:00, UTC+8.
//! - **Recording** every agent call, a share of them, or none ([`RecordingMode`]);
//!   [`should_record`] decides a sampled call from its Call-ID alone, so every node agrees.
//! - **Who scores** ([`may_score`]): the QA role and admins score scheduled and random
//!   samples; a senior scores only the assessments they opened, of the juniors, clerks and
//!   extractors whose work they reviewed; nobody scores their own work; a scored sample is
//!   scored again only as an explicit re-score with a reason, by QA or an admin.

use crate::named::named_enum;
use crate::role::Role;
use crate::ticket::ValidationError;
use crate::time::{DAY_MS, HOUR_MS, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

named_enum!(
    /// How a sample was drawn (`qa_samples.kind`, the API's `Sample.kind`).
    SampleKind {
        /// The weekly quota: N tickets per agent per week (QA2).
        Scheduled = "scheduled", "定期抽检";
        /// An unannounced random draw (QA2).
        Random = "random", "随机抽检";
        /// A senior's assessment of a junior's, clerk's or extractor's work (SO1, SO4).
        Assessment = "assessment", "考核评分";
    }
);

named_enum!(
    /// Which agent calls are recorded (`[qa] recording`).
    RecordingMode {
        /// Every bridged agent call.
        All = "all", "全部录音";
        /// `recording_percent` of the calls, chosen by Call-ID.
        Sampled = "sampled", "按比例录音";
        /// None.
        None = "none", "不录音";
    }
);

/// One line of the scoring form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormItem {
    /// Stable key (`greeting`), what a score sheet names.
    pub key: String,
    /// What the inspector sees (问候语).
    pub label: String,
    /// Relative weight in the total (> 0).
    pub weight: u32,
    /// Highest score of the item (1..=100); scores are 0..=max.
    pub max: u32,
}

impl FormItem {
    fn new(key: &str, label: &str, weight: u32, max: u32) -> Self {
        FormItem {
            key: key.into(),
            label: label.into(),
            weight,
            max,
        }
    }
}

/// The built-in form: greeting, registration completeness, correct routing, time rules kept,
/// courtesy; weights summing to 100, each scored 0-10.
pub fn default_form() -> Vec<FormItem> {
    vec![
        FormItem::new("greeting", "问候语", 15, 10),
        FormItem::new("registration", "登记完整", 25, 10),
        FormItem::new("routing", "流转正确", 25, 10),
        FormItem::new("time_rules", "时限遵守", 20, 10),
        FormItem::new("courtesy", "服务态度", 15, 10),
    ]
}

/// `[qa]` of the config file: the form, the weekly quota, the recording rule, retention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QaConfig {
    /// `[[qa.form]]` rows; the built-in form when absent.
    pub form: Vec<FormItem>,
    /// Scheduled samples: tickets per agent per week.
    pub scheduled_per_agent: u32,
    /// all | sampled | none.
    pub recording: RecordingMode,
    /// With `recording = "sampled"`: the share of calls recorded, 1-100.
    pub recording_percent: u32,
    /// Recordings are removed this many days after the call; 0 keeps them forever.
    pub retention_days: u32,
    /// Largest recording accepted by UploadRecording, bytes.
    pub max_recording_bytes: u64,
}

impl Default for QaConfig {
    fn default() -> Self {
        QaConfig {
            form: default_form(),
            scheduled_per_agent: 5,
            recording: RecordingMode::All,
            recording_percent: 100,
            retention_days: 180,
            // an hour of 8 kHz 16-bit stereo is 115 MB
            max_recording_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Most items of a form.
pub const MAX_FORM_ITEMS: usize = 30;
/// Most tickets per agent one draw takes.
pub const MAX_PER_AGENT: u32 = 100;

impl QaConfig {
    /// Refuses a config the desk cannot work with, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.form.is_empty() || self.form.len() > MAX_FORM_ITEMS {
            return Err(format!(
                "qa.form: a form has 1-{MAX_FORM_ITEMS} items, not {}",
                self.form.len()
            ));
        }
        let mut keys = BTreeSet::new();
        for (i, f) in self.form.iter().enumerate() {
            let ok_key = !f.key.is_empty()
                && f.key.len() <= 32
                && f.key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok_key {
                return Err(format!(
                    "qa.form[{i}].key: {:?} is not 1-32 characters of a-z, 0-9 and _",
                    f.key
                ));
            }
            if !keys.insert(f.key.as_str()) {
                return Err(format!("qa.form[{i}].key: {:?} appears twice", f.key));
            }
            if f.label.trim().is_empty() {
                return Err(format!("qa.form[{i}].label: is empty"));
            }
            if f.weight == 0 || f.weight > 1000 {
                return Err(format!(
                    "qa.form[{i}].weight: {} is not in 1..=1000",
                    f.weight
                ));
            }
            if f.max == 0 || f.max > 100 {
                return Err(format!("qa.form[{i}].max: {} is not in 1..=100", f.max));
            }
        }
        if self.scheduled_per_agent > MAX_PER_AGENT {
            return Err(format!(
                "qa.scheduled_per_agent: {} is more than {MAX_PER_AGENT}",
                self.scheduled_per_agent
            ));
        }
        if self.recording == RecordingMode::Sampled && !(1..=100).contains(&self.recording_percent)
        {
            return Err(format!(
                "qa.recording_percent: {} is not in 1..=100 (recording = \"sampled\")",
                self.recording_percent
            ));
        }
        if self.max_recording_bytes < 44 {
            return Err("qa.max_recording_bytes: smaller than a WAV header".into());
        }
        Ok(())
    }
}

/// One item as scored, with the form line it was scored on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemScore {
    pub key: String,
    pub label: String,
    pub weight: u32,
    pub max: u32,
    pub score: u32,
}

/// A checked score sheet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scored {
    /// In the form's order.
    pub items: Vec<ItemScore>,
    /// The total on 0-100, in hundredths (0..=10000).
    pub total_centi: i64,
}

/// Checks a score sheet (item key → score) against `form` and computes the total. Errors name
/// the field (`items`, or `items.<key>`).
pub fn score_sheet(form: &[FormItem], given: &[(String, u32)]) -> Result<Scored, ValidationError> {
    let mut by_key: BTreeMap<&str, u32> = BTreeMap::new();
    for (k, s) in given {
        let k = k.trim();
        let Some(item) = form.iter().find(|f| f.key == k) else {
            return Err(ValidationError::new(
                "items",
                format!(
                    "unknown item {k:?}; the form has {}",
                    form.iter()
                        .map(|f| f.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if by_key.insert(item.key.as_str(), *s).is_some() {
            return Err(ValidationError::new(
                "items",
                format!("item {k:?} is scored twice"),
            ));
        }
        if *s > item.max {
            return Err(ValidationError::new(
                "items",
                format!("{k} ({}): {s} is out of range 0..={}", item.label, item.max),
            ));
        }
    }
    let missing: Vec<&str> = form
        .iter()
        .filter(|f| !by_key.contains_key(f.key.as_str()))
        .map(|f| f.key.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ValidationError::new(
            "items",
            format!("every item must be scored; missing: {}", missing.join(", ")),
        ));
    }
    let items: Vec<ItemScore> = form
        .iter()
        .map(|f| ItemScore {
            key: f.key.clone(),
            label: f.label.clone(),
            weight: f.weight,
            max: f.max,
            score: by_key[f.key.as_str()],
        })
        .collect();
    Ok(Scored {
        total_centi: total_centi(&items),
        items,
    })
}

/// `10000 × Σ wᵢ·sᵢ/maxᵢ / Σ wᵢ`, rounded half up, in exact integer arithmetic.
pub fn total_centi(items: &[ItemScore]) -> i64 {
    // common denominator: Π maxᵢ would overflow for 30 items; use the lcm of the maxima
    let l = items.iter().fold(1_i128, |l, i| lcm(l, i128::from(i.max)));
    let num: i128 = items
        .iter()
        .map(|i| i128::from(i.weight) * i128::from(i.score) * (l / i128::from(i.max)))
        .sum();
    let den: i128 = items.iter().map(|i| i128::from(i.weight)).sum::<i128>() * l;
    if den == 0 {
        return 0;
    }
    ((num * 10000 * 2 + den) / (den * 2)) as i64
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn lcm(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { a / gcd(a, b) * b }
}

/// A ticket that may be sampled and the agent whose work it is (who registered it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    pub agent: String,
    pub ticket_id: i64,
}

/// SplitMix64 (Steele, Lea, Flood 2014; the seeding generator of xoshiro): a 64-bit state
/// advanced by the golden-gamma constant and mixed. Fixed here so that a recorded seed draws
/// the same sample in every version of the program.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by rejection so there is no modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// FNV-1a, 64 bits: a stable hash of a name (the agent's, a Call-ID).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Draws up to `per_agent` tickets of each agent among `candidates`, never one in `already`
/// (the tickets sampled in the period) and never one twice. The result is sorted by (agent,
/// ticket) and depends only on the arguments.
pub fn draw(
    seed: u64,
    candidates: &[Candidate],
    already: &BTreeSet<i64>,
    per_agent: u32,
) -> Vec<Candidate> {
    let mut by_agent: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for c in candidates {
        if !already.contains(&c.ticket_id) {
            by_agent.entry(&c.agent).or_default().insert(c.ticket_id);
        }
    }
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for (agent, tickets) in by_agent {
        let mut pool: Vec<i64> = tickets.into_iter().filter(|t| !taken.contains(t)).collect();
        let mut rng = SplitMix64::new(seed ^ fnv1a(agent));
        let n = (per_agent as usize).min(pool.len());
        // partial Fisher-Yates: the first n places
        for i in 0..n {
            let j = i + rng.below((pool.len() - i) as u64) as usize;
            pool.swap(i, j);
        }
        let mut picked: Vec<i64> = pool[..n].to_vec();
        picked.sort_unstable();
        for t in picked {
            taken.insert(t);
            out.push(Candidate {
                agent: agent.to_string(),
                ticket_id: t,
            });
        }
    }
    out
}

/// Whether a call is recorded: all, none, or `percent` of them by the Call-ID's hash.
pub fn should_record(mode: RecordingMode, percent: u32, call_id: &str) -> bool {
    match mode {
        RecordingMode::All => true,
        RecordingMode::None => false,
        RecordingMode::Sampled => fnv1a(call_id) % 100 < u64::from(percent.min(100)),
    }
}

/// Beijing time (UTC+8, no daylight saving), the centre's clock for periods.
pub const BEIJING_OFFSET_MS: i64 = 8 * HOUR_MS;

/// An ISO week in Beijing time: Monday 00:00 (inclusive) to the next Monday 00:00.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Week {
    pub year: i32,
    pub week: u32,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Week {
    /// The week `t` falls in.
    pub fn containing(t: Timestamp) -> Week {
        let day = (t.0 + BEIJING_OFFSET_MS).div_euclid(DAY_MS);
        let monday = day - (day + 3).rem_euclid(7);
        let (year, _, _) = civil_from_days(monday + 3);
        let jan4 = days_from_civil(year, 1, 4);
        let week1 = jan4 - (jan4 + 3).rem_euclid(7);
        Week::from_monday(year, ((monday - week1) / 7 + 1) as u32, monday)
    }

    fn from_monday(year: i32, week: u32, monday: i64) -> Week {
        Week {
            year,
            week,
            start: Timestamp(monday * DAY_MS - BEIJING_OFFSET_MS),
            end: Timestamp((monday + 7) * DAY_MS - BEIJING_OFFSET_MS),
        }
    }

    /// Parses `YYYY-Www` (`2026-W50`); errors name `field`.
    pub fn parse(field: &'static str, s: &str) -> Result<Week, ValidationError> {
        let bad = || {
            ValidationError::new(
                field,
                format!("{s:?} is not an ISO week (YYYY-Www, e.g. 2026-W50)"),
            )
        };
        let (y, w) = s.trim().split_once("-W").ok_or_else(bad)?;
        if y.len() != 4 || w.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let week: u32 = w.parse().map_err(|_| bad())?;
        if !(1970..=9999).contains(&year) || week == 0 {
            return Err(bad());
        }
        let jan4 = days_from_civil(year, 1, 4);
        let monday = jan4 - (jan4 + 3).rem_euclid(7) + 7 * (i64::from(week) - 1);
        let w = Week::from_monday(year, week, monday);
        if Week::containing(w.start) != w {
            return Err(ValidationError::new(
                field,
                format!("{year} has no week {week}"),
            ));
        }
        Ok(w)
    }

    /// `2026-W50`.
    pub fn name(&self) -> String {
        format!("{:04}-W{:02}", self.year, self.week)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

/// Why a QA or assessment action is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QaRefusal {
    #[error("the {} role may not {}", role.as_str(), what)]
    RoleMayNot { role: Role, what: &'static str },
    #[error("{agent} may not score their own work")]
    OwnWork { agent: String },
    #[error(
        "sample {sample} is an assessment opened by {opened_by}; only they (or an admin) score it"
    )]
    NotYourAssessment { sample: i64, opened_by: String },
    #[error(
        "sample {sample} is already scored; a re-score must say why (rescore_reason) and is for the QA role or an admin"
    )]
    AlreadyScored { sample: i64 },
    #[error(
        "seniors assess juniors, clerks and extractors; {agent} is a {}",
        role.as_str()
    )]
    NotAssessable { agent: String, role: Role },
    #[error("{senior} has not reviewed {agent}'s work on ticket {ticket}")]
    NotReviewed {
        senior: String,
        agent: String,
        ticket: i64,
    },
}

impl QaRefusal {
    /// A refusal of the caller (PERMISSION_DENIED) rather than of the sample's state
    /// (FAILED_PRECONDITION).
    pub fn is_permission(&self) -> bool {
        !matches!(
            self,
            QaRefusal::AlreadyScored { .. } | QaRefusal::NotAssessable { .. }
        )
    }
}

/// The roles that draw and score samples (QA2).
pub fn is_inspector(role: Role) -> bool {
    matches!(role, Role::Qa | Role::Admin)
}

/// Whose work a senior assesses (SO1, SO4).
pub fn is_assessable(role: Role) -> bool {
    role.works_junior_flow()
}

/// What [`may_score`] is asked about.
#[derive(Clone, Debug)]
pub struct ScoreAsk<'a> {
    pub sample: i64,
    pub kind: SampleKind,
    /// The agent whose work is scored.
    pub agent: &'a str,
    /// Who drew or opened the sample.
    pub opened_by: &'a str,
    /// A score is in force already.
    pub scored: bool,
    /// The caller asked for a re-score, with this reason (trimmed, may be empty).
    pub rescore_reason: Option<&'a str>,
}

/// Whether `who` (of `role`) may score the sample. The re-score rule: a scored sample is
/// refused (`AlreadyScored`) unless the caller is QA or an admin and gives a non-empty
/// reason; the old score is kept, marked superseded.
pub fn may_score(who: &str, role: Role, ask: &ScoreAsk<'_>) -> Result<(), QaRefusal> {
    if who == ask.agent {
        return Err(QaRefusal::OwnWork {
            agent: who.to_string(),
        });
    }
    match (ask.kind, role) {
        (_, Role::Admin) => {}
        (SampleKind::Scheduled | SampleKind::Random, Role::Qa) => {}
        (SampleKind::Assessment, Role::Senior) if ask.opened_by == who => {}
        (SampleKind::Assessment, Role::Senior) => {
            return Err(QaRefusal::NotYourAssessment {
                sample: ask.sample,
                opened_by: ask.opened_by.to_string(),
            });
        }
        (SampleKind::Assessment, Role::Qa) => {}
        (_, role) => {
            return Err(QaRefusal::RoleMayNot {
                role,
                what: "score this sample",
            });
        }
    }
    if ask.scored {
        let reason_given = ask.rescore_reason.is_some_and(|r| !r.trim().is_empty());
        if !(reason_given && is_inspector(role)) {
            return Err(QaRefusal::AlreadyScored { sample: ask.sample });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
        pairs.iter().map(|(k, s)| (k.to_string(), *s)).collect()
    }

    fn full(s: u32) -> Vec<(String, u32)> {
        default_form().iter().map(|f| (f.key.clone(), s)).collect()
    }

    #[test]
    fn qa2_default_form_is_valid_and_weights_sum_to_100() {
        let c = QaConfig::default();
        c.validate().expect("default config");
        assert_eq!(c.form.iter().map(|f| f.weight).sum::<u32>(), 100);
        let keys: Vec<&str> = c.form.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "greeting",
                "registration",
                "routing",
                "time_rules",
                "courtesy"
            ]
        );
    }

    #[test]
    fn qa2_total_is_weighted_and_exact() {
        let form = default_form();
        assert_eq!(score_sheet(&form, &full(10)).unwrap().total_centi, 10000);
        assert_eq!(score_sheet(&form, &full(0)).unwrap().total_centi, 0);
        // greeting 15 × 10/10 + registration 25 × 5/10 + rest 0 = 15 + 12.5 = 27.5
        let s = score_sheet(
            &form,
            &sheet(&[
                ("greeting", 10),
                ("registration", 5),
                ("routing", 0),
                ("time_rules", 0),
                ("courtesy", 0),
            ]),
        )
        .unwrap();
        assert_eq!(s.total_centi, 2750);
        assert_eq!(s.items[1].score, 5);
        // different maxima: 1/3 of weight 1 and 2/2 of weight 1 → (1/3 + 1)/2 = 66.67
        let odd = vec![FormItem::new("a", "A", 1, 3), FormItem::new("b", "B", 1, 2)];
        assert_eq!(
            score_sheet(&odd, &sheet(&[("a", 1), ("b", 2)]))
                .unwrap()
                .total_centi,
            6667
        );
    }

    #[test]
    fn qa2_score_sheet_refusals_name_the_item() {
        let form = default_form();
        let mut s = full(5);
        s[0].1 = 11;
        let e = score_sheet(&form, &s).unwrap_err();
        assert_eq!(e.field, "items");
        assert!(
            e.reason.contains("greeting") && e.reason.contains("0..=10"),
            "{e:?}"
        );
        let mut s = full(5);
        s.push(("smile".into(), 3));
        let e = score_sheet(&form, &s).unwrap_err();
        assert!(e.reason.contains("unknown item \"smile\""), "{e:?}");
        let e = score_sheet(&form, &full(5)[1..]).unwrap_err();
        assert!(e.reason.contains("missing: greeting"), "{e:?}");
        let mut s = full(5);
        s.push(("courtesy".into(), 3));
        let e = score_sheet(&form, &s).unwrap_err();
        assert!(e.reason.contains("twice"), "{e:?}");
    }

    #[test]
    fn qa2_config_refusals_name_the_key() {
        let mut c = QaConfig::default();
        c.form[1].key = "greeting".into();
        assert!(c.validate().unwrap_err().starts_with("qa.form[1].key"));
        let mut c = QaConfig::default();
        c.form[0].weight = 0;
        assert!(c.validate().unwrap_err().starts_with("qa.form[0].weight"));
        let c = QaConfig {
            recording: RecordingMode::Sampled,
            recording_percent: 0,
            ..QaConfig::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .starts_with("qa.recording_percent")
        );
        let c = QaConfig {
            form: vec![],
            ..QaConfig::default()
        };
        assert!(c.validate().unwrap_err().starts_with("qa.form"));
    }

    #[test]
    fn qa2_config_reads_from_toml_shaped_serde() {
        let c: QaConfig = serde_json::from_str(
            r#"{"scheduled_per_agent": 3, "recording": "sampled", "recording_percent": 20,
                "form": [{"key": "greeting", "label": "问候语", "weight": 1, "max": 5}]}"#,
        )
        .unwrap();
        assert_eq!(c.scheduled_per_agent, 3);
        assert_eq!(c.recording, RecordingMode::Sampled);
        assert_eq!(c.retention_days, QaConfig::default().retention_days);
        c.validate().unwrap();
        assert!(serde_json::from_str::<QaConfig>(r#"{"recordng": "all"}"#).is_err());
    }

    fn candidates() -> Vec<Candidate> {
        let mut v = Vec::new();
        for (agent, n) in [("j1", 30), ("j2", 12), ("j3", 2)] {
            for i in 0..n {
                v.push(Candidate {
                    agent: agent.into(),
                    ticket_id: 1000 * (agent.as_bytes()[1] as i64) + i,
                });
            }
        }
        v
    }

    #[test]
    fn qa2_random_sample_same_for_same_seed() {
        let c = candidates();
        let a = draw(42, &c, &BTreeSet::new(), 5);
        let mut shuffled = c.clone();
        shuffled.reverse();
        assert_eq!(
            a,
            draw(42, &shuffled, &BTreeSet::new(), 5),
            "order of input"
        );
        assert_eq!(a.len(), 5 + 5 + 2);
        let b = draw(43, &c, &BTreeSet::new(), 5);
        assert_ne!(a, b, "another seed draws another sample");
        // fixed forever: the generator is ours, so this sample is the seed's
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn qa2_never_the_same_ticket_twice_in_a_period() {
        let c = candidates();
        let mut already = BTreeSet::new();
        let mut seen = Vec::new();
        for seed in 0..10 {
            let d = draw(seed, &c, &already, 4);
            for x in &d {
                assert!(already.insert(x.ticket_id), "{} drawn twice", x.ticket_id);
            }
            seen.extend(d);
        }
        assert_eq!(seen.len(), c.len(), "every ticket once, then nothing");
        assert!(draw(99, &c, &already, 4).is_empty());
        // duplicated candidates are one ticket
        let mut dup = c.clone();
        dup.extend(c.clone());
        let d = draw(7, &dup, &BTreeSet::new(), 100);
        assert_eq!(d.len(), c.len());
    }

    #[test]
    fn qa2_draws_cover_every_ticket_roughly_evenly() {
        // 2,000 draws of 1 from 10: each ticket about 200 times
        let c: Vec<Candidate> = (0..10)
            .map(|i| Candidate {
                agent: "j1".into(),
                ticket_id: i,
            })
            .collect();
        let mut counts = [0u32; 10];
        for seed in 0..2000 {
            counts[draw(seed, &c, &BTreeSet::new(), 1)[0].ticket_id as usize] += 1;
        }
        assert!(
            counts.iter().all(|&n| (130..270).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn qa1_recording_rule() {
        assert!(should_record(RecordingMode::All, 0, "x"));
        assert!(!should_record(RecordingMode::None, 100, "x"));
        let n = (0..1000)
            .filter(|i| should_record(RecordingMode::Sampled, 20, &format!("call-{i}@h")))
            .count();
        assert!((150..250).contains(&n), "{n}");
        assert_eq!(
            should_record(RecordingMode::Sampled, 20, "abc@h"),
            should_record(RecordingMode::Sampled, 20, "abc@h")
        );
    }

    #[test]
    fn qa2_iso_weeks_in_beijing_time() {
        // 2026-12-07 is a Monday; 00:00 Beijing is 2026-12-06T16:00Z = 1796572800000 ms
        let monday = Timestamp(1_796_572_800_000);
        let w = Week::containing(monday);
        assert_eq!(w.name(), "2026-W50");
        assert_eq!(w.start, monday);
        assert_eq!(w.end.since(w.start), 7 * DAY_MS);
        assert_eq!(Week::containing(monday.plus_ms(-1)).name(), "2026-W49");
        assert_eq!(Week::parse("p", "2026-W50").unwrap(), w);
        // 2021-01-01 (Friday) belongs to 2020-W53; 2025 has no week 53 (2026, starting on a
        // Thursday, has one)
        let d = Timestamp(days_from_civil(2021, 1, 1) * DAY_MS);
        assert_eq!(Week::containing(d).name(), "2020-W53");
        assert!(Week::parse("p", "2020-W53").is_ok());
        assert!(Week::parse("p", "2025-W53").is_err());
        assert!(Week::parse("p", "2026-W53").is_ok());
        for bad in ["2026-50", "26-W50", "2026-W5", "2026-W00", "x"] {
            assert_eq!(
                Week::parse("period", bad).unwrap_err().field,
                "period",
                "{bad}"
            );
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    fn ask(kind: SampleKind, scored: bool, reason: Option<&str>) -> ScoreAsk<'_> {
        ScoreAsk {
            sample: 1,
            kind,
            agent: "j1",
            opened_by: "s1",
            scored,
            rescore_reason: reason,
        }
    }

    #[test]
    fn so4_who_may_score() {
        use SampleKind as K;
        assert!(may_score("qa1", Role::Qa, &ask(K::Random, false, None)).is_ok());
        assert!(may_score("s1", Role::Senior, &ask(K::Assessment, false, None)).is_ok());
        assert!(matches!(
            may_score("s2", Role::Senior, &ask(K::Assessment, false, None)),
            Err(QaRefusal::NotYourAssessment { .. })
        ));
        assert!(matches!(
            may_score("s1", Role::Senior, &ask(K::Scheduled, false, None)),
            Err(QaRefusal::RoleMayNot { .. })
        ));
        assert!(matches!(
            may_score("j2", Role::Junior, &ask(K::Random, false, None)),
            Err(QaRefusal::RoleMayNot { .. })
        ));
        let e = may_score("j1", Role::Admin, &ask(K::Random, false, None)).unwrap_err();
        assert!(matches!(e, QaRefusal::OwnWork { .. }) && e.is_permission());
    }

    #[test]
    fn qa2_rescore_needs_a_reason_and_an_inspector() {
        use SampleKind as K;
        let e = may_score("qa1", Role::Qa, &ask(K::Random, true, None)).unwrap_err();
        assert!(matches!(e, QaRefusal::AlreadyScored { .. }) && !e.is_permission());
        assert!(may_score("qa1", Role::Qa, &ask(K::Random, true, Some("  "))).is_err());
        assert!(may_score("qa1", Role::Qa, &ask(K::Random, true, Some("wrong item"))).is_ok());
        assert!(
            may_score("s1", Role::Senior, &ask(K::Assessment, true, Some("again"))).is_err(),
            "seniors do not re-score"
        );
    }
}
