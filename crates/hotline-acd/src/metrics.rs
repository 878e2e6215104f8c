//! Call-centre metrics computed from the queue log, as the industry computes them.
//!
//! Two different 15-second figures, never mixed up:
//!
//! - **Service level (15秒接听率)**, the call centre's figure, per *call*: calls answered within
//!   [`SlRules::service_level_ms`] (15 s) **of joining the queue** ÷ calls that joined the queue
//!   and left it, where
//!   - an abandon within [`SlRules::short_abandon_ms`] (5 s) of joining is a *short abandon*
//!     and is left out of the denominator (the caller gave up before anyone could answer);
//!   - a later abandon counts as not answered in time;
//!   - a call sent to voicemail (maximum wait, or nobody logged in) counts as not answered in
//!     time;
//!   - a call still in the queue when the log is read is not counted yet (`in_queue`).
//!
//!   Calls are attributed to the period in which they **joined** the queue; a call whose
//!   `ENTERQUEUE` lies before the window is not counted. Hold time is measured from the log's
//!   timestamps (ms), not from the whole seconds in the `CONNECT` line.
//! - **Offer answer rate (JO2, the agent-side 15-second rule)**, per *offer*: offers answered
//!   within [`SlRules::answer_limit_ms`] (15 s) **of ringing** ÷ offers made, where an offer
//!   counts as made when it ended by an answer, a no-answer (the limit passed) or a failure of
//!   the agent's phone; offers withdrawn because the caller hung up are left out (the agent
//!   had no full chance). Offers are attributed to the period in which they ended. In time
//!   means answered *before* the limit ran out (ring < 15 s: at 15 s the ACD withdraws the
//!   offer); the ring time of an answer is the `CONNECT` line's whole seconds (Asterisk's
//!   format), and whole seconds below 15 are exactly the rings shorter than 15 000 ms.
//!
//! Also: Asterisk SL2 ((answered + abandoned, each within the service-level threshold of
//! joining) ÷ (answered + abandoned)), ASA (mean hold time of answered calls), abandonment
//! rate, and per-agent no-answers. Periods: the whole window, 15-minute intervals and days,
//! both aligned to Beijing time (UTC+8) by default.

use crate::queue_log::{QueueEvent, QueueLogEntry};
use std::collections::{BTreeMap, HashMap};

/// Beijing time (UTC+8), in ms: where days start.
pub const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;
/// The length of a reporting interval (15 minutes).
pub const INTERVAL_MS: i64 = 15 * 60_000;
/// The length of a reporting day.
pub const DAY_MS: i64 = 24 * 3_600_000;

/// The thresholds of the two 15-second figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlRules {
    /// Service level: answered within this long of joining the queue (15 s).
    pub service_level_ms: i64,
    /// Abandons within this long of joining are short abandons, left out of the service
    /// level's denominator (5 s); 0 counts every abandon as not answered in time.
    pub short_abandon_ms: i64,
    /// JO2: an offer must be answered before it has rung this long (15 s; the ACD withdraws
    /// it at this point).
    pub answer_limit_ms: i64,
}

impl Default for SlRules {
    fn default() -> Self {
        SlRules {
            service_level_ms: 15_000,
            short_abandon_ms: 5_000,
            answer_limit_ms: 15_000,
        }
    }
}

/// The figures of one period (the window, a 15-minute interval or a day).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Period start, ms since the epoch (inclusive).
    pub start_ms: i64,
    /// Period end, ms since the epoch (exclusive).
    pub end_ms: i64,
    /// Calls that joined the queue in the period.
    pub entered: u64,
    /// ... of which answered by an agent.
    pub answered: u64,
    /// ... of which answered within the service-level threshold of joining.
    pub answered_in_time: u64,
    /// ... of which the caller hung up before being answered (short abandons included).
    pub abandoned: u64,
    /// ... of which abandoned within the short-abandon threshold of joining.
    pub short_abandons: u64,
    /// ... of which abandoned within the service-level threshold (Asterisk SL2 only).
    pub abandoned_in_time: u64,
    /// ... of which sent to voicemail (maximum wait, or nobody logged in).
    pub to_voicemail: u64,
    /// ... of which still in the queue when the log was read (not counted yet).
    pub in_queue: u64,
    /// Sum of the hold times of answered calls, ms.
    pub answered_hold_ms: i64,
    /// Offers that ended in the period by an answer, a no-answer or a phone failure.
    pub offers: u64,
    pub offers_answered: u64,
    /// Offers answered within the answer limit of ringing.
    pub offers_answered_in_time: u64,
    pub offers_no_answer: u64,
    pub offers_failed: u64,
    /// Offers withdrawn because the caller hung up while it rang (not in `offers`).
    pub offers_caller_left: u64,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    if b == 0 {
        None
    } else {
        Some(a as f64 / b as f64)
    }
}

impl Figures {
    fn empty(start_ms: i64, end_ms: i64) -> Figures {
        Figures {
            start_ms,
            end_ms,
            ..Default::default()
        }
    }

    /// The service level's denominator: calls that joined and left the queue, less short
    /// abandons.
    pub fn service_level_calls(&self) -> u64 {
        self.answered + (self.abandoned - self.short_abandons) + self.to_voicemail
    }

    /// 15秒接听率: answered within the threshold of joining ÷ [`Figures::service_level_calls`];
    /// `None` when no call counts.
    pub fn service_level(&self) -> Option<f64> {
        ratio(self.answered_in_time, self.service_level_calls())
    }

    /// JO2: offers answered within the answer limit ÷ offers made; `None` without offers.
    pub fn offer_answer_rate(&self) -> Option<f64> {
        ratio(self.offers_answered_in_time, self.offers)
    }

    /// The old, narrower ring-time figure: offers answered within the limit ÷ offers
    /// answered (ignores no-answers; kept for the deprecated gRPC field).
    pub fn answered_offers_in_time_rate(&self) -> Option<f64> {
        ratio(self.offers_answered_in_time, self.offers_answered)
    }

    /// Asterisk SL2: (answered + abandoned, within the threshold) ÷ (answered + abandoned).
    pub fn service_level2(&self) -> Option<f64> {
        ratio(
            self.answered_in_time + self.abandoned_in_time,
            self.answered + self.abandoned,
        )
    }

    /// Average speed of answer: mean hold time of answered calls, seconds.
    pub fn asa_seconds(&self) -> Option<f64> {
        if self.answered == 0 {
            None
        } else {
            Some(self.answered_hold_ms as f64 / 1000.0 / self.answered as f64)
        }
    }

    /// abandoned ÷ (answered + abandoned + to voicemail).
    pub fn abandonment_rate(&self) -> Option<f64> {
        ratio(
            self.abandoned,
            self.answered + self.abandoned + self.to_voicemail,
        )
    }
}

/// Which part of the log to read, and how to cut it into periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Calls joining / offers ending at or after this (ms since the epoch) ...
    pub since_ms: i64,
    /// ... and before this.
    pub until_ms: i64,
    /// Offset of local time from UTC, ms (Beijing: [`BEIJING_OFFSET_MS`]).
    pub utc_offset_ms: i64,
}

impl Window {
    pub fn beijing(since_ms: i64, until_ms: i64) -> Window {
        Window {
            since_ms,
            until_ms,
            utc_offset_ms: BEIJING_OFFSET_MS,
        }
    }

    fn contains(&self, t: i64) -> bool {
        t >= self.since_ms && t < self.until_ms
    }

    /// Start of the local period of length `len` holding `t`.
    pub fn period_start(&self, t: i64, len: i64) -> i64 {
        t - (t + self.utc_offset_ms).rem_euclid(len)
    }
}

/// Metrics of a window: its totals, its 15-minute intervals and its days (only periods in
/// which something happened, oldest first), and no-answers per agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    pub rules: SlRules,
    pub total: Figures,
    pub intervals: Vec<Figures>,
    pub days: Vec<Figures>,
    /// No-answers and phone failures per agent (offers ended in the window).
    pub no_answers_by_agent: BTreeMap<String, u64>,
}

struct Periods {
    total: Figures,
    intervals: BTreeMap<i64, Figures>,
    days: BTreeMap<i64, Figures>,
    window: Window,
}

impl Periods {
    /// Applies `f` to the window's totals and to the interval and day holding `t`.
    fn at(&mut self, t: i64, f: impl Fn(&mut Figures)) {
        f(&mut self.total);
        let w = self.window;
        let i = w.period_start(t, INTERVAL_MS);
        f(self
            .intervals
            .entry(i)
            .or_insert_with(|| Figures::empty(i, i + INTERVAL_MS)));
        let d = w.period_start(t, DAY_MS);
        f(self
            .days
            .entry(d)
            .or_insert_with(|| Figures::empty(d, d + DAY_MS)));
    }
}

fn secs_to_ms(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().map(|s| s.saturating_mul(1000))
}

impl Metrics {
    /// Reads `entries` (in log order) under `rules`. Entries outside the window are skipped
    /// except the outcomes of calls that joined inside it.
    pub fn from_log<'a>(
        entries: impl IntoIterator<Item = &'a QueueLogEntry>,
        rules: SlRules,
        window: Window,
    ) -> Metrics {
        let mut p = Periods {
            total: Figures::empty(window.since_ms, window.until_ms),
            intervals: BTreeMap::new(),
            days: BTreeMap::new(),
            window,
        };
        let mut no_answers: BTreeMap<String, u64> = BTreeMap::new();
        // calls that joined in the window and have not left the queue yet: call id → joined at
        let mut open: HashMap<&str, i64> = HashMap::new();
        for e in entries {
            let t = e.at_ms;
            match e.event {
                QueueEvent::EnterQueue => {
                    if window.contains(t) {
                        // a call id seen again: the earlier visit never logged its outcome
                        open.insert(e.call_id.as_str(), t);
                        p.at(t, |f| f.entered += 1);
                    }
                }
                QueueEvent::Connect => {
                    if let Some(joined) = open.remove(e.call_id.as_str()) {
                        let hold = (t - joined).max(0);
                        let in_time = hold <= rules.service_level_ms;
                        p.at(joined, |f| {
                            f.answered += 1;
                            f.answered_hold_ms += hold;
                            if in_time {
                                f.answered_in_time += 1;
                            }
                        });
                    }
                    if window.contains(t) {
                        let ring_ok =
                            secs_to_ms(&e.data[2]).is_some_and(|ring| ring < rules.answer_limit_ms);
                        p.at(t, |f| {
                            f.offers += 1;
                            f.offers_answered += 1;
                            if ring_ok {
                                f.offers_answered_in_time += 1;
                            }
                        });
                    }
                }
                QueueEvent::Abandon => {
                    if let Some(joined) = open.remove(e.call_id.as_str()) {
                        let hold = (t - joined).max(0);
                        let short = rules.short_abandon_ms > 0 && hold <= rules.short_abandon_ms;
                        let in_time = hold <= rules.service_level_ms;
                        p.at(joined, |f| {
                            f.abandoned += 1;
                            if short {
                                f.short_abandons += 1;
                            }
                            if in_time {
                                f.abandoned_in_time += 1;
                            }
                        });
                    }
                    // the caller hung up while an agent's phone rang
                    if !e.agent.is_empty() && window.contains(t) {
                        p.at(t, |f| f.offers_caller_left += 1);
                    }
                }
                QueueEvent::ExitWithTimeout | QueueEvent::ExitEmpty => {
                    if let Some(joined) = open.remove(e.call_id.as_str()) {
                        p.at(joined, |f| f.to_voicemail += 1);
                    }
                }
                QueueEvent::RingNoAnswer | QueueEvent::RingCanceled => {
                    if window.contains(t) {
                        let no_answer = e.event == QueueEvent::RingNoAnswer;
                        p.at(t, |f| {
                            f.offers += 1;
                            if no_answer {
                                f.offers_no_answer += 1;
                            } else {
                                f.offers_failed += 1;
                            }
                        });
                        *no_answers.entry(e.agent.clone()).or_default() += 1;
                    }
                }
                QueueEvent::CompleteCaller
                | QueueEvent::CompleteAgent
                | QueueEvent::AgentNotReady => {}
            }
        }
        for joined in open.into_values() {
            p.at(joined, |f| f.in_queue += 1);
        }
        Metrics {
            rules,
            total: p.total,
            intervals: p.intervals.into_values().collect(),
            days: p.days.into_values().collect(),
            no_answers_by_agent: no_answers,
        }
    }

    /// The interval or day (from [`Metrics::intervals`] / [`Metrics::days`]) holding `t`.
    pub fn period_at(periods: &[Figures], t: i64) -> Option<&Figures> {
        periods.iter().find(|f| f.start_ms <= t && t < f.end_ms)
    }
}
