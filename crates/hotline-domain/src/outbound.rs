//! The automated outbound survey call (`ivr-outbound`, issue 16 part 5): after a 回单 the
//! hotline calls the customer by itself and asks by keypad. This module holds what that call
//! means for the survey: the keys (1 满意, 2 基本满意, 3 不满意, 9 a person), how a call
//! attempt ended ([`OutboundResult`], from the SIP status or the keys), which ends count as an
//! attempt by the same rules as a surveyor's callback, the Beijing day that limits a customer
//! to one call a day, and the do-not-call list's entries.
//!
//! Pure: no clock, no database.

use crate::PhoneNumber;
use crate::named::named_enum;
use crate::survey::{BEIJING_OFFSET_MS, CallOutcome, Satisfaction};
use crate::ticket::ValidationError;
use crate::time::{DAY_MS, Timestamp};

/// The survey channel of an automated call (`survey_attempts.channel`, `survey_results.channel`).
pub const CHANNEL_IVR_OUTBOUND: &str = "ivr-outbound";

/// The key that asks for a person (转人工).
pub const PERSON_KEY: char = '9';

/// Every key the survey menu accepts.
pub const MENU_KEYS: &str = "1239";

/// A claim nobody finished within this long (the call server died mid-call) is closed as
/// lost: the customer may have been called, so the day still counts, but no attempt is
/// recorded and the survey may be tried again on another day.
pub const STALE_CLAIM_MS: i64 = 10 * 60 * 1000;

/// The answer a survey key gives: 1 满意, 2 基本满意, 3 不满意.
pub fn satisfaction_of_key(key: char) -> Option<Satisfaction> {
    match key {
        '1' => Some(Satisfaction::Satisfied),
        '2' => Some(Satisfaction::BasicallySatisfied),
        '3' => Some(Satisfaction::Dissatisfied),
        _ => None,
    }
}

named_enum!(
    /// How one automated survey call ended.
    OutboundResult {
        /// The customer pressed 1, 2 or 3.
        Answered = "answered", "已按键回答";
        /// The customer pressed 9: transferred to a person; the survey stays open for them.
        Person = "person", "转人工";
        /// Answered, but no valid key after the retries (or hung up before one).
        NoKey = "no_key", "接通未按键";
        /// Rang out (ring timeout, 408, 480).
        NoAnswer = "no_answer", "无人接听";
        /// Busy (486, 600).
        Busy = "busy", "忙音";
        /// The number does not work (404, 484, 604, 410).
        Unreachable = "unreachable", "无法接通";
        /// The trunk refused the call (403, 5xx, a challenge our credentials did not pass):
        /// the customer was not called, no attempt is counted, the day is not used.
        TrunkFailed = "trunk_failed", "中继故障";
        /// The call server lost the call (it stopped mid-call; set by the core on stale
        /// claims): the day counts, no attempt is recorded.
        Lost = "lost", "呼叫中断";
    }
);

impl OutboundResult {
    /// The end of a call that was never answered, from the final SIP status (`None`: the
    /// ring timeout fired first).
    pub fn of_sip_status(status: Option<u16>) -> OutboundResult {
        match status {
            None | Some(408) | Some(480) | Some(487) => OutboundResult::NoAnswer,
            Some(486) | Some(600) => OutboundResult::Busy,
            Some(404) | Some(410) | Some(484) | Some(604) | Some(603) => {
                OutboundResult::Unreachable
            }
            Some(_) => OutboundResult::TrunkFailed,
        }
    }

    /// The survey attempt this end records (`None`: no attempt: transferred to a person,
    /// the trunk's failure, a lost call).
    pub fn call_outcome(self) -> Option<CallOutcome> {
        match self {
            OutboundResult::Answered => Some(CallOutcome::Reached),
            OutboundResult::NoKey
            | OutboundResult::NoAnswer
            | OutboundResult::Busy
            | OutboundResult::Unreachable => Some(CallOutcome::NotReached),
            OutboundResult::Person | OutboundResult::TrunkFailed | OutboundResult::Lost => None,
        }
    }

    /// Whether the customer's one call of the day is used by this end.
    pub fn uses_the_day(self) -> bool {
        self != OutboundResult::TrunkFailed
    }
}

/// A finished automated call as the call server reports it, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboundEnd {
    pub result: OutboundResult,
    /// With [`OutboundResult::Answered`]: the answer.
    pub satisfaction: Option<Satisfaction>,
}

/// Checks a call server's report: `answered` needs a key 1-3, no other result carries one;
/// `lost` is the core's own.
pub fn check_end(result: &str, key: &str) -> Result<OutboundEnd, ValidationError> {
    let result = OutboundResult::parse(result).ok_or_else(|| {
        ValidationError::new(
            "result",
            format!(
                "unknown result {result:?}: one of {}",
                OutboundResult::ALL
                    .iter()
                    .filter(|r| **r != OutboundResult::Lost)
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let mut keys = key.chars();
    let k = keys.next();
    if keys.next().is_some() {
        return Err(ValidationError::new("key", "at most one key"));
    }
    match (result, k) {
        (OutboundResult::Lost, _) => Err(ValidationError::new(
            "result",
            "lost is set by the core on claims nobody finished",
        )),
        (OutboundResult::Answered, Some(k)) => match satisfaction_of_key(k) {
            Some(s) => Ok(OutboundEnd {
                result,
                satisfaction: Some(s),
            }),
            None => Err(ValidationError::new(
                "key",
                format!("{k:?} is not an answer: 1 满意, 2 基本满意, 3 不满意"),
            )),
        },
        (OutboundResult::Answered, None) => Err(ValidationError::new(
            "key",
            "an answered survey needs the key pressed (1, 2 or 3)",
        )),
        (OutboundResult::Person, Some(PERSON_KEY) | None) => Ok(OutboundEnd {
            result,
            satisfaction: None,
        }),
        (_, Some(k)) => Err(ValidationError::new(
            "key",
            format!("{k:?} given with result {}", result.as_str()),
        )),
        (_, None) => Ok(OutboundEnd {
            result,
            satisfaction: None,
        }),
    }
}

/// The Beijing calendar day of `t` (days since 1970-01-01 Beijing): a customer is called at
/// most once per day.
pub fn beijing_day(t: Timestamp) -> i64 {
    (t.0 + BEIJING_OFFSET_MS).div_euclid(DAY_MS)
}

/// Most characters of a do-not-call entry's reason.
pub const MAX_DNC_REASON: usize = 200;

/// A checked do-not-call entry: a valid number and a reason (the customer asked, a complaint).
pub fn check_do_not_call(
    number: &str,
    reason: &str,
) -> Result<(PhoneNumber, String), ValidationError> {
    let number = PhoneNumber::parse(number.trim())
        .map_err(|e| ValidationError::new("number", e.to_string()))?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ValidationError::new(
            "reason",
            "say why the number is not to be called (客户要求, 投诉 ...)",
        ));
    }
    if reason.chars().count() > MAX_DNC_REASON {
        return Err(ValidationError::new(
            "reason",
            format!("at most {MAX_DNC_REASON} characters"),
        ));
    }
    Ok((number, reason.to_owned()))
}

/// The audit detail of an automated call (zh-CN), for the ticket's history.
pub fn describe(attempt: Option<u32>, end: OutboundEnd, sip_status: Option<u16>) -> String {
    let status = sip_status
        .map(|s| format!(" (SIP {s})"))
        .unwrap_or_default();
    let what = match (end.result, end.satisfaction) {
        (OutboundResult::Answered, Some(s)) => format!("客户按键: {}", s.label_zh()),
        (r, _) => format!("{}{status}", r.label_zh()),
    };
    match attempt {
        Some(n) => format!("第{n}次回访 (自动外呼): {what}"),
        None => format!("自动外呼回访: {what}"),
    }
}

/// Whether `reached` with this answer calls for an SS4 investigation (不满意).
pub fn needs_investigation(end: OutboundEnd) -> bool {
    end.satisfaction == Some(Satisfaction::Dissatisfied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_answers_and_nine_is_a_person() {
        assert_eq!(satisfaction_of_key('1'), Some(Satisfaction::Satisfied));
        assert_eq!(
            satisfaction_of_key('2'),
            Some(Satisfaction::BasicallySatisfied)
        );
        assert_eq!(satisfaction_of_key('3'), Some(Satisfaction::Dissatisfied));
        assert_eq!(satisfaction_of_key('9'), None);
        assert_eq!(satisfaction_of_key('4'), None);
        assert!(MENU_KEYS.contains(PERSON_KEY));
    }

    #[test]
    fn sip_statuses_classify_and_only_customer_ends_count_as_attempts() {
        use OutboundResult as R;
        for (s, r) in [
            (None, R::NoAnswer),
            (Some(408), R::NoAnswer),
            (Some(480), R::NoAnswer),
            (Some(486), R::Busy),
            (Some(600), R::Busy),
            (Some(404), R::Unreachable),
            (Some(484), R::Unreachable),
            (Some(403), R::TrunkFailed),
            (Some(503), R::TrunkFailed),
            (Some(407), R::TrunkFailed),
        ] {
            assert_eq!(R::of_sip_status(s), r, "{s:?}");
        }
        assert_eq!(R::Answered.call_outcome(), Some(CallOutcome::Reached));
        assert_eq!(R::Busy.call_outcome(), Some(CallOutcome::NotReached));
        assert_eq!(R::NoKey.call_outcome(), Some(CallOutcome::NotReached));
        assert_eq!(R::TrunkFailed.call_outcome(), None);
        assert_eq!(R::Person.call_outcome(), None);
        assert!(!R::TrunkFailed.uses_the_day());
        assert!(R::Lost.uses_the_day() && R::NoAnswer.uses_the_day());
    }

    #[test]
    fn reports_are_checked_naming_the_field() {
        let ok = check_end("answered", "3").unwrap();
        assert_eq!(ok.satisfaction, Some(Satisfaction::Dissatisfied));
        assert!(needs_investigation(ok));
        assert!(!needs_investigation(check_end("answered", "1").unwrap()));
        assert_eq!(check_end("answered", "").unwrap_err().field, "key");
        assert_eq!(check_end("answered", "7").unwrap_err().field, "key");
        assert_eq!(check_end("answered", "12").unwrap_err().field, "key");
        assert_eq!(check_end("busy", "1").unwrap_err().field, "key");
        assert_eq!(check_end("lost", "").unwrap_err().field, "result");
        let e = check_end("maybe", "").unwrap_err();
        assert_eq!(e.field, "result");
        assert!(e.to_string().contains("trunk_failed"), "{e}");
        assert_eq!(
            check_end("person", "9").unwrap().result,
            OutboundResult::Person
        );
        assert_eq!(check_end("no_answer", "").unwrap().satisfaction, None);
    }

    #[test]
    fn beijing_days_turn_at_16_00_utc() {
        // 2026-12-06 15:59:59.999 UTC is 23:59:59.999 in Beijing; a millisecond later it is
        // the 7th.
        let t = Timestamp(1_796_572_799_999);
        assert_eq!(beijing_day(t) + 1, beijing_day(t.plus_ms(1)));
        assert_eq!(
            beijing_day(t.plus_ms(1)),
            beijing_day(t.plus_ms(DAY_MS - 1))
        );
    }

    #[test]
    fn do_not_call_entries_need_a_number_and_a_reason() {
        let (n, r) = check_do_not_call(" 01066554433 ", " 客户要求 ").unwrap();
        assert_eq!((n.as_str(), r.as_str()), ("01066554433", "客户要求"));
        assert_eq!(check_do_not_call("abc", "x").unwrap_err().field, "number");
        assert_eq!(
            check_do_not_call("01066554433", " ").unwrap_err().field,
            "reason"
        );
        assert_eq!(
            check_do_not_call("01066554433", &"长".repeat(201))
                .unwrap_err()
                .field,
            "reason"
        );
    }

    #[test]
    fn history_lines_say_what_happened() {
        let end = check_end("answered", "2").unwrap();
        assert_eq!(
            describe(Some(1), end, None),
            "第1次回访 (自动外呼): 客户按键: 基本满意"
        );
        let busy = check_end("busy", "").unwrap();
        assert_eq!(
            describe(Some(2), busy, Some(486)),
            "第2次回访 (自动外呼): 忙音 (SIP 486)"
        );
    }
}
