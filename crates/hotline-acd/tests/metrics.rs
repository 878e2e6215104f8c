//! The two 15-second figures (JO2) computed from the log the state machine writes: the
//! service level (15秒接听率, from joining the queue, short abandons left out) and the offer
//! answer rate (from ringing), the abandon rule, voicemail, and 15-minute / Beijing-day
//! periods.

use hotline_acd::metrics::{BEIJING_OFFSET_MS, DAY_MS, INTERVAL_MS};
use hotline_acd::{Acd, AcdConfig, Metrics, QueueLogEntry, Skill, SlRules, Window};

/// 2026-06-01 00:00:00 Beijing time (2026-05-31 16:00 UTC).
const T: i64 = 1_780_243_200_000;

fn logs(a: &mut Acd) -> Vec<QueueLogEntry> {
    std::iter::from_fn(|| a.poll_log()).collect()
}

fn drain(a: &mut Acd) {
    while a.poll_action().is_some() {}
}

fn metrics(log: &[QueueLogEntry], rules: SlRules) -> Metrics {
    Metrics::from_log(log, rules, Window::beijing(T - DAY_MS, T + DAY_MS))
}

/// One junior logged in but not ready, so callers wait until it becomes available.
fn acd_with_busy_junior() -> Acd {
    let mut a = Acd::new(AcdConfig::default());
    a.handle_login(T, "j1", Skill::Ordinary);
    a
}

#[test]
fn jo2_caller_who_waited_18_s_answered_on_the_first_ring_is_late_in_the_service_level() {
    let mut a = acd_with_busy_junior();
    a.handle_enqueue(T, "c1", "010", Skill::Ordinary).unwrap();
    // the agent becomes free after 17 s, its phone rings, it answers 1 s later
    a.handle_available(T + 17_000, "j1").unwrap();
    a.handle_answered(T + 18_000, "c1", "j1").unwrap();
    drain(&mut a);
    let m = metrics(&logs(&mut a), SlRules::default()).total;
    assert_eq!((m.entered, m.answered, m.answered_in_time), (1, 1, 0));
    assert_eq!(
        m.service_level(),
        Some(0.0),
        "18 s after joining the queue is not within 15 s"
    );
    assert_eq!(
        (m.offers, m.offers_answered_in_time),
        (1, 1),
        "the agent answered 1 s into the ring"
    );
    assert_eq!(m.offer_answer_rate(), Some(1.0));
    assert_eq!(m.asa_seconds(), Some(18.0));
}

#[test]
fn jo2_caller_answered_within_15_s_of_joining_is_on_time() {
    let mut a = acd_with_busy_junior();
    a.handle_enqueue(T, "c1", "010", Skill::Ordinary).unwrap();
    a.handle_available(T + 10_000, "j1").unwrap();
    a.handle_answered(T + 15_000, "c1", "j1").unwrap();
    drain(&mut a);
    let m = metrics(&logs(&mut a), SlRules::default()).total;
    assert_eq!(m.service_level(), Some(1.0), "exactly 15 s is within 15 s");
}

#[test]
fn jo2_short_abandon_is_left_out_and_a_long_abandon_counts_late() {
    let mut a = acd_with_busy_junior();
    a.handle_enqueue(T, "short", "010", Skill::Ordinary)
        .unwrap();
    a.handle_enqueue(T, "long", "010", Skill::Ordinary).unwrap();
    a.handle_enqueue(T, "ok", "010", Skill::Ordinary).unwrap();
    a.handle_abandon(T + 4_000, "short").unwrap(); // gave up after 4 s
    a.handle_abandon(T + 9_000, "long").unwrap(); // after 9 s: within 15 s, but not short
    a.handle_available(T + 11_000, "j1").unwrap();
    a.handle_answered(T + 12_000, "ok", "j1").unwrap();
    drain(&mut a);
    let log = logs(&mut a);
    let m = metrics(&log, SlRules::default()).total;
    assert_eq!((m.entered, m.abandoned, m.short_abandons), (3, 2, 1));
    assert_eq!(
        m.service_level_calls(),
        2,
        "the 4-second abandon is left out"
    );
    assert_eq!(m.service_level(), Some(0.5), "the 9-second abandon is late");

    // the rule is configurable: with no short-abandon threshold every abandon counts
    let strict = SlRules {
        short_abandon_ms: 0,
        ..SlRules::default()
    };
    let m = metrics(&log, strict).total;
    assert_eq!((m.short_abandons, m.service_level_calls()), (0, 3));
    assert_eq!(m.service_level(), Some(1.0 / 3.0));
    // and so is the 15 s threshold itself
    let ten = SlRules {
        service_level_ms: 10_000,
        ..SlRules::default()
    };
    assert_eq!(metrics(&log, ten).total.service_level(), Some(0.0));
}

#[test]
fn jo2_caller_sent_to_voicemail_counts_as_not_answered_in_time() {
    // nobody logged in: straight to voicemail
    let mut a = Acd::new(AcdConfig::default());
    a.handle_enqueue(T, "nobody", "010", Skill::Ordinary)
        .unwrap();
    // the maximum wait passes
    a.handle_login(T, "j1", Skill::Ordinary);
    a.handle_enqueue(T, "waited", "010", Skill::Ordinary)
        .unwrap();
    a.handle_timeout(T + 180_000);
    drain(&mut a);
    let m = metrics(&logs(&mut a), SlRules::default()).total;
    assert_eq!((m.entered, m.to_voicemail), (2, 2));
    assert_eq!(m.service_level_calls(), 2);
    assert_eq!(m.service_level(), Some(0.0));
}

#[test]
fn jo2_offer_answer_rate_counts_no_answers_and_failures_but_not_a_caller_leaving() {
    let mut a = Acd::new(AcdConfig::default());
    a.handle_login(T, "j1", Skill::Ordinary);
    a.handle_login(T, "j2", Skill::Ordinary);
    a.handle_available(T, "j1").unwrap();
    a.handle_available(T + 1, "j2").unwrap();
    a.handle_enqueue(T + 1_000, "c1", "010", Skill::Ordinary)
        .unwrap(); // rings j1
    a.handle_timeout(T + 16_000); // j1 lets it ring 15 s: no-answer, re-offered to j2
    a.handle_offer_failed(T + 17_000, "c1", "j2").unwrap(); // j2's phone fails
    // j1 is the only idle agent left: it rings again and the caller hangs up meanwhile
    a.handle_abandon(T + 20_000, "c1").unwrap();
    a.handle_enqueue(T + 30_000, "c2", "010", Skill::Ordinary)
        .unwrap();
    a.handle_answered(T + 32_000, "c2", "j1").unwrap();
    drain(&mut a);
    let m = metrics(&logs(&mut a), SlRules::default());
    let t = &m.total;
    assert_eq!(
        (
            t.offers,
            t.offers_no_answer,
            t.offers_failed,
            t.offers_caller_left
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(t.offer_answer_rate(), Some(1.0 / 3.0));
    assert_eq!(
        t.answered_offers_in_time_rate(),
        Some(1.0),
        "the old figure saw only the answered offer"
    );
    assert_eq!(m.no_answers_by_agent.get("j1"), Some(&1));
    assert_eq!(m.no_answers_by_agent.get("j2"), Some(&1));
    // c1 abandoned 19 s after joining (late), c2 answered 2 s after joining
    assert_eq!(t.service_level(), Some(0.5));
}

#[test]
fn jo2_figures_per_15_minute_interval_and_per_beijing_day() {
    let mut a = acd_with_busy_junior();
    // 23:59:50 Beijing on 31 May: answered 20 s later, after midnight (late)
    let before_midnight = T - 10_000;
    a.handle_enqueue(before_midnight, "late", "010", Skill::Ordinary)
        .unwrap();
    a.handle_available(before_midnight + 19_000, "j1").unwrap();
    a.handle_answered(before_midnight + 20_000, "late", "j1")
        .unwrap();
    a.handle_hangup(T + 60_000, "late", hotline_acd::CallEnd::Agent)
        .unwrap();
    a.handle_timeout(T + 80_000); // wrap-up over
    // 00:20 Beijing on 1 June: answered at once
    let next_interval = T + 20 * 60_000;
    a.handle_enqueue(next_interval, "fast", "010", Skill::Ordinary)
        .unwrap();
    a.handle_answered(next_interval + 2_000, "fast", "j1")
        .unwrap();
    // 00:25: still waiting when the log is read (j1 is on a call)
    a.handle_enqueue(
        next_interval + 5 * 60_000,
        "waiting",
        "010",
        Skill::Ordinary,
    )
    .unwrap();
    drain(&mut a);
    let m = metrics(&logs(&mut a), SlRules::default());

    // the late call belongs to the interval and the day it joined in, not where it was answered
    assert_eq!(m.days.len(), 2, "{:?}", m.days);
    let may31 = &m.days[0];
    assert_eq!(
        (may31.start_ms + BEIJING_OFFSET_MS).rem_euclid(DAY_MS),
        0,
        "a day starts at Beijing midnight"
    );
    assert_eq!(may31.end_ms, T);
    assert_eq!((may31.entered, may31.service_level()), (1, Some(0.0)));
    let june1 = &m.days[1];
    assert_eq!(june1.start_ms, T);
    assert_eq!((june1.entered, june1.in_queue), (2, 1));
    assert_eq!(
        june1.service_level(),
        Some(1.0),
        "the waiting call is not counted yet"
    );
    // the late call's offer ended (answered, 1 s ring) after midnight
    assert_eq!((may31.offers, june1.offers), (0, 2));

    assert_eq!(m.intervals.len(), 3, "{:?}", m.intervals);
    assert!(
        m.intervals
            .iter()
            .all(|i| i.end_ms - i.start_ms == INTERVAL_MS)
    );
    assert_eq!(m.intervals[0].start_ms, T - INTERVAL_MS);
    assert_eq!(
        m.intervals[1].start_ms, T,
        "the late call's offer ended at 00:00:10"
    );
    assert_eq!((m.intervals[1].entered, m.intervals[1].offers), (0, 1));
    assert_eq!(m.intervals[2].start_ms, T + INTERVAL_MS);
    assert_eq!(m.intervals[2].service_level(), Some(1.0));
    assert!(Metrics::period_at(&m.intervals, next_interval).is_some());
    assert_eq!((m.total.entered, m.total.answered_in_time), (3, 1));
}

#[test]
fn jo2_a_call_that_joined_before_the_window_is_not_counted() {
    let mut a = acd_with_busy_junior();
    a.handle_enqueue(T - 10_000, "old", "010", Skill::Ordinary)
        .unwrap();
    a.handle_available(T + 10_000, "j1").unwrap();
    a.handle_answered(T + 11_000, "old", "j1").unwrap();
    drain(&mut a);
    let m = Metrics::from_log(
        &logs(&mut a),
        SlRules::default(),
        Window::beijing(T, T + DAY_MS),
    );
    assert_eq!((m.total.entered, m.total.answered), (0, 0));
    assert_eq!(m.total.offers, 1, "its offer ended inside the window");
}

#[test]
fn jo2_an_answer_reported_after_the_limit_ran_out_is_late_in_the_offer_answer_rate() {
    let mut a = acd_with_busy_junior();
    a.handle_available(T, "j1").unwrap();
    a.handle_enqueue(T, "c1", "010", Skill::Ordinary).unwrap();
    // the answer arrives 15.2 s into the ring, before the timer task fired the limit
    a.handle_answered(T + 15_200, "c1", "j1").unwrap();
    drain(&mut a);
    let t = metrics(&logs(&mut a), SlRules::default()).total;
    assert_eq!(
        (t.offers, t.offers_answered, t.offers_answered_in_time),
        (1, 1, 0)
    );
    assert_eq!(t.offer_answer_rate(), Some(0.0));
    assert_eq!(
        t.service_level(),
        Some(0.0),
        "and 15.2 s after joining the queue is late too"
    );
}
