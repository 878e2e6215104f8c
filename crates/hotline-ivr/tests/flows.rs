//! The call flows against a scripted caller and an in-memory core, no sockets: each test
//! names the requirement it checks (SF1 report, JO9 progress, SF9 voicemail, JO8 senior,
//! PR1 bad input) and asserts what the caller heard and what reached the core.

use std::path::PathBuf;

use hotline_ivr::flows::{FlowOutcome, agent, run_call};
use hotline_ivr::prompts::id;
use hotline_ivr::testing::{FakeBackend, ScriptedChannel};
use hotline_ivr::{
    BackendError, FaultType, FlowError, IvrConfig, Progress, RecordEnd, TicketState,
};
use time::OffsetDateTime;
use time::macros::datetime;

const CALLER: &str = "01088887777";

/// A Monday 10:00 in Beijing.
const OPEN: OffsetDateTime = datetime!(2026-11-30 02:00 UTC);
/// A Sunday 03:00 in Beijing.
const CLOSED: OffsetDateTime = datetime!(2026-11-28 19:00 UTC);

fn voicemail_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hotline-ivr-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config(test: &str) -> IvrConfig {
    IvrConfig {
        voicemail_dir: voicemail_dir(test),
        ..IvrConfig::default()
    }
}

fn office_hours(test: &str) -> IvrConfig {
    let mut cfg = config(test);
    cfg.service_hours = toml::from_str(
        r#"
        utc_offset_minutes = 480
        [[open]]
        days = ["mon", "tue", "wed", "thu", "fri"]
        from = "08:00"
        to = "20:00"
        "#,
    )
    .unwrap();
    cfg
}

async fn call(
    ch: &mut ScriptedChannel,
    backend: &FakeBackend,
    cfg: &IvrConfig,
) -> Result<FlowOutcome, FlowError> {
    run_call(ch, backend, cfg, OPEN).await
}

fn digits(s: &str) -> Vec<String> {
    s.chars().map(|c| format!("digit_{c}")).collect()
}

/// `needle` appears in `hay` as a contiguous run.
fn contains_run(hay: &[String], needle: &[String]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn sf1_full_report_creates_a_noise_ticket_and_reads_it_back() {
    let backend = FakeBackend::new();
    let cfg = config("sf1-full");
    let mut ch = ScriptedChannel::new("c1", CALLER)
        .keys("1")
        .keys("01066554433#")
        .keys("1")
        .keys("2");
    let outcome = call(&mut ch, &backend, &cfg).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    assert!(ch.answered && ch.hung_up_by_ivr);

    let reports = backend.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].faulty_number, "01066554433");
    assert_eq!(reports[0].fault_type, FaultType::Noise);
    assert_eq!(reports[0].caller_id, CALLER);
    assert_eq!(reports[0].call_id, "c1");

    // The number read back digit by digit before the confirm menu.
    let mut read_back = vec![id::NUMBER_READ_BACK.to_string()];
    read_back.extend(digits("01066554433"));
    read_back.push(id::CONFIRM_NUMBER.into());
    assert!(contains_run(&ch.played, &read_back), "{:?}", ch.played);
    // The fault type and the ticket number (1001) digit by digit, then goodbye.
    let mut accepted = vec![
        id::FAULT_TYPE_IS.to_string(),
        id::FAULT_NOISE.into(),
        id::REPORT_ACCEPTED.into(),
    ];
    accepted.extend(digits("1001"));
    accepted.push(id::THANKS_GOODBYE.into());
    assert!(ch.played.ends_with(&accepted), "{:?}", ch.played);
    assert!(!ch.heard(id::INVALID_INPUT) && !ch.heard(id::INVALID_NUMBER));
    assert!(ch.remaining().is_empty());
}

#[tokio::test]
async fn sf1_full_report_by_a_caller_who_types_ahead() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c1b", CALLER)
        .barging()
        .keys("101066554433#12");
    let outcome = call(&mut ch, &backend, &config("sf1-barge")).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    let reports = backend.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].faulty_number, "01066554433");
    assert_eq!(reports[0].fault_type, FaultType::Noise);
    // Interrupted prompts are not replayed; the ticket is still read back in full.
    assert_eq!(ch.times_heard(id::ENTER_NUMBER), 1);
    assert!(ch.played.ends_with(&[
        "digit_1".to_string(),
        "digit_0".into(),
        "digit_0".into(),
        "digit_1".into(),
        id::THANKS_GOODBYE.into()
    ]));
}

#[tokio::test]
async fn sf1_hash_alone_reports_the_callers_own_number() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c2", CALLER).keys("1#16");
    let outcome = call(&mut ch, &backend, &config("sf1-own")).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    let reports = backend.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].faulty_number, CALLER);
    assert_eq!(reports[0].fault_type, FaultType::Other);
    let mut read_back = vec![id::NUMBER_READ_BACK.to_string()];
    read_back.extend(digits(CALLER));
    assert!(contains_run(&ch.played, &read_back));
}

#[tokio::test]
async fn sf1_re_enter_with_2_then_confirm() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c3", CALLER)
        .keys("1")
        .keys("01066554430#2")
        .keys("01066554433#1")
        .keys("5");
    call(&mut ch, &backend, &config("sf1-reenter"))
        .await
        .unwrap();
    let reports = backend.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].faulty_number, "01066554433");
    assert_eq!(reports[0].fault_type, FaultType::Drops);
    assert_eq!(ch.times_heard(id::ENTER_NUMBER), 2);
}

#[tokio::test]
async fn pr1_invalid_menu_keys_play_the_hint_and_the_menu_again() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c4", CALLER)
        .keys("9")
        .keys("*")
        .keys("2#");
    let outcome = call(&mut ch, &backend, &config("pr1-invalid"))
        .await
        .unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    assert_eq!(ch.times_heard(id::INVALID_INPUT), 2);
    assert_eq!(ch.times_heard(id::MAIN_MENU), 3);
    // Reached the progress query with the caller's number.
    assert!(ch.heard(id::PROGRESS_NONE));
}

#[tokio::test]
async fn pr1_no_input_plays_its_own_hint() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c5", CALLER).timeout().keys("0");
    let outcome = call(&mut ch, &backend, &config("pr1-noinput"))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        FlowOutcome::ToAgent {
            senior: false,
            ticket: None
        }
    );
    assert_eq!(ch.times_heard(id::NO_INPUT), 1);
    assert!(ch.heard(id::TRANSFER_AGENT));
}

#[tokio::test]
async fn pr1_three_failures_go_to_an_agent() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c6", CALLER)
        .keys("7")
        .timeout()
        .keys("#");
    let outcome = call(&mut ch, &backend, &config("pr1-three")).await.unwrap();
    assert_eq!(
        outcome,
        FlowOutcome::ToAgent {
            senior: false,
            ticket: None
        }
    );
    assert_eq!(ch.times_heard(id::MAIN_MENU), 3);
    assert!(ch.heard(id::TRANSFER_AGENT));
    assert!(backend.reports().is_empty());
}

#[tokio::test]
async fn pr1_three_failures_go_to_voicemail_when_no_agent_is_logged_in() {
    let backend = FakeBackend::new().with_agents(false);
    let cfg = config("pr1-three-vm");
    let mut ch = ScriptedChannel::new("c7", CALLER)
        .timeout()
        .timeout()
        .timeout()
        .speak(10, RecordEnd::Key('#'));
    let outcome = call(&mut ch, &backend, &cfg).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    assert!(ch.heard(id::NO_AGENT) && ch.heard(id::BEEP) && ch.heard(id::VOICEMAIL_SAVED));
    assert_eq!(backend.voicemails().len(), 1);
    let _ = std::fs::remove_dir_all(&cfg.voicemail_dir);
}

#[tokio::test]
async fn pr1_configured_retry_count_is_honoured() {
    let backend = FakeBackend::new();
    let mut cfg = config("pr1-retries");
    cfg.menu_retries = 1;
    let mut ch = ScriptedChannel::new("c8", CALLER).keys("9");
    let outcome = call(&mut ch, &backend, &cfg).await.unwrap();
    assert!(matches!(outcome, FlowOutcome::ToAgent { .. }));
    assert_eq!(ch.times_heard(id::MAIN_MENU), 1);
    assert_eq!(
        ch.collects[0].first_digit_timeout,
        cfg.menu_key_spec().first_digit_timeout
    );
}

#[tokio::test]
async fn pr1_too_short_a_number_re_prompts() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c9", CALLER)
        .keys("1")
        .keys("12#")
        .keys("01066554433#12");
    call(&mut ch, &backend, &config("pr1-short")).await.unwrap();
    assert_eq!(ch.times_heard(id::INVALID_NUMBER), 1);
    assert_eq!(ch.times_heard(id::ENTER_NUMBER), 2);
    assert_eq!(backend.reports()[0].faulty_number, "01066554433");
}

#[tokio::test]
async fn pr1_too_long_a_number_re_prompts() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c10", CALLER)
        .keys("1")
        .keys("012345678901234567890")
        .keys("01066554433#12");
    call(&mut ch, &backend, &config("pr1-long")).await.unwrap();
    assert_eq!(ch.times_heard(id::INVALID_NUMBER), 1);
    assert_eq!(backend.reports()[0].faulty_number, "01066554433");
}

#[tokio::test]
async fn pr1_star_in_a_number_re_prompts() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c11", CALLER)
        .keys("1")
        .keys("0106*554433#")
        .keys("01066554433#12");
    call(&mut ch, &backend, &config("pr1-star")).await.unwrap();
    assert_eq!(ch.times_heard(id::INVALID_NUMBER), 1);
    assert_eq!(backend.reports().len(), 1);
    assert_eq!(backend.reports()[0].faulty_number, "01066554433");
}

#[tokio::test]
async fn pr1_hang_up_at_any_step_before_the_fault_type_creates_no_ticket() {
    let scripts: [&str; 5] = ["", "1", "1010665", "101066554433#", "101066554433#1"];
    for (i, keys) in scripts.into_iter().enumerate() {
        let backend = FakeBackend::new();
        let mut ch = ScriptedChannel::new("c12", CALLER).keys(keys).hangup();
        let outcome = call(&mut ch, &backend, &config("pr1-hangup")).await;
        assert_eq!(
            outcome,
            Ok(FlowOutcome::CallerHungUp),
            "script {i}: {keys:?}"
        );
        assert!(backend.reports().is_empty(), "script {i}: {keys:?}");
        assert!(!ch.hung_up_by_ivr);
    }
}

#[tokio::test]
async fn pr1_hang_up_during_the_read_back_keeps_the_confirmed_ticket() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c13", CALLER)
        .keys("101066554433#11")
        .hangup();
    let outcome = call(&mut ch, &backend, &config("pr1-hangup-late")).await;
    assert_eq!(outcome, Ok(FlowOutcome::CallerHungUp));
    assert_eq!(backend.reports().len(), 1);
}

#[tokio::test]
async fn jo8_repeat_past_limit_goes_to_a_senior_with_the_ticket() {
    let backend = FakeBackend::new().escalating();
    let mut ch = ScriptedChannel::new("c14", CALLER).keys("101066554433#13");
    let outcome = call(&mut ch, &backend, &config("jo8")).await.unwrap();
    assert_eq!(
        outcome,
        FlowOutcome::ToAgent {
            senior: true,
            ticket: Some(1001)
        }
    );
    assert_eq!(backend.reports()[0].fault_type, FaultType::CannotCallOut);
    // The caller still hears the ticket number, then the transfer.
    let mut tail = digits("1001");
    tail.extend([id::REPORT_TO_AGENT.to_string(), id::TRANSFER_AGENT.into()]);
    assert!(ch.played.ends_with(&tail), "{:?}", ch.played);
    assert!(!ch.heard(id::THANKS_GOODBYE));
}

#[tokio::test]
async fn core_failure_on_create_tells_the_caller_and_reports_the_error() {
    let backend = FakeBackend::new().failing_create(BackendError::Unavailable("down".into()));
    let mut ch = ScriptedChannel::new("c15", CALLER).keys("101066554433#11");
    let outcome = call(&mut ch, &backend, &config("core-down")).await;
    assert!(matches!(outcome, Err(FlowError::Backend(_))), "{outcome:?}");
    assert!(ch.heard(id::SERVICE_ERROR));
    assert!(ch.hung_up_by_ivr);
}

fn state(progress: Progress, status: &str, hours: u32) -> TicketState {
    TicketState {
        ticket_id: 42,
        status: status.into(),
        progress,
        repair_limit_hours: hours,
        at_centre: matches!(progress, Progress::AtCentre | Progress::CrewDispatched),
    }
}

#[tokio::test]
async fn jo9_progress_query_says_the_state_and_the_limit() {
    let backend =
        FakeBackend::new().with_ticket("01066554433", state(Progress::AtCentre, "dispatched", 24));
    let mut ch = ScriptedChannel::new("c16", CALLER)
        .keys("2")
        .keys("01066554433#");
    let outcome = call(&mut ch, &backend, &config("jo9")).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    let expected: Vec<String> = [
        id::PROGRESS_INTRO,
        id::PROGRESS_AT_CENTRE,
        id::PROGRESS_LIMIT,
        "digit_2",
        id::TEN,
        "digit_4",
        id::HOURS,
        id::GOODBYE,
    ]
    .map(String::from)
    .to_vec();
    assert!(ch.played.ends_with(&expected), "{:?}", ch.played);
    assert!(backend.reports().is_empty(), "a query creates nothing");
}

#[tokio::test]
async fn jo9_progress_words_for_every_state() {
    let cases = [
        (Progress::Accepted, "new", id::PROGRESS_ACCEPTED, true),
        (
            Progress::CrewDispatched,
            "dispatched",
            id::PROGRESS_CREW_DISPATCHED,
            true,
        ),
        (Progress::Cleared, "cleared", id::PROGRESS_CLEARED, false),
        (
            Progress::Cancelled,
            "cancelled",
            id::PROGRESS_CANCELLED,
            false,
        ),
    ];
    for (progress, status, word, says_limit) in cases {
        let backend = FakeBackend::new().with_ticket(CALLER, state(progress, status, 6));
        let mut ch = ScriptedChannel::new("c17", CALLER).keys("2#");
        call(&mut ch, &backend, &config("jo9-words")).await.unwrap();
        assert!(ch.heard(word), "{status}: {:?}", ch.played);
        assert_eq!(ch.heard(id::PROGRESS_LIMIT), says_limit, "{status}");
    }
}

#[tokio::test]
async fn jo9_progress_of_a_number_without_tickets() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c18", CALLER)
        .keys("2")
        .keys("01066554433#");
    call(&mut ch, &backend, &config("jo9-none")).await.unwrap();
    assert!(ch.heard(id::PROGRESS_NONE));
}

#[tokio::test]
async fn sf9_voicemail_is_recorded_and_saved_under_the_call_id() {
    let backend = FakeBackend::new();
    let cfg = config("sf9-saved");
    let mut ch = ScriptedChannel::new("vm-call/1", CALLER)
        .keys("3")
        .speak(30, RecordEnd::Silence);
    let outcome = call(&mut ch, &backend, &cfg).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    let vms = backend.voicemails();
    assert_eq!(vms.len(), 1);
    let vm = &vms[0];
    assert_eq!(vm.call_id, "vm-call/1");
    assert_eq!(vm.caller_id, CALLER);
    assert_eq!(vm.duration.as_secs(), 30);
    // The call id is made safe as a file name inside the voicemail directory.
    assert_eq!(vm.path, cfg.voicemail_dir.join("vm-call_1.wav"));
    let wav = hound::WavReader::open(&vm.path).unwrap();
    assert_eq!(wav.spec().sample_rate, 8000);
    assert_eq!(wav.duration(), 30 * 8000);
    let heard: Vec<&str> = ch.played.iter().map(String::as_str).collect();
    assert!(heard.ends_with(&[id::VOICEMAIL_INTRO, id::BEEP, id::VOICEMAIL_SAVED]));
    // The recording asked for: 120 s, 5 s silence, '#', 2 s minimum.
    let _ = std::fs::remove_dir_all(&cfg.voicemail_dir);
}

#[test]
fn sf9_voicemail_spec_defaults() {
    let spec = IvrConfig::default().voicemail_spec();
    assert_eq!(spec.max_duration.as_secs(), 120);
    assert_eq!(spec.silence_end.map(|d| d.as_secs()), Some(5));
    assert_eq!(spec.end_keys, "#");
    assert_eq!(spec.min_duration.as_secs(), 2);
}

#[tokio::test]
async fn sf9_voicemail_ended_by_hanging_up_is_still_saved() {
    let backend = FakeBackend::new();
    let cfg = config("sf9-hangup");
    let mut ch = ScriptedChannel::new("c19", CALLER)
        .keys("3")
        .speak(12, RecordEnd::Hangup);
    let outcome = call(&mut ch, &backend, &cfg).await.unwrap();
    assert_eq!(outcome, FlowOutcome::CallerHungUp);
    assert_eq!(backend.voicemails().len(), 1);
    assert!(!ch.heard(id::VOICEMAIL_SAVED));
    let _ = std::fs::remove_dir_all(&cfg.voicemail_dir);
}

#[tokio::test]
async fn sf9_short_voicemail_is_discarded() {
    let backend = FakeBackend::new();
    let cfg = config("sf9-short");
    let mut ch = ScriptedChannel::new("c20", CALLER)
        .keys("3")
        .speak(1, RecordEnd::Key('#'));
    let outcome = call(&mut ch, &backend, &cfg).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    assert!(backend.voicemails().is_empty());
    assert!(ch.heard(id::VOICEMAIL_TOO_SHORT));
    assert!(!cfg.voicemail_dir.join("c20.wav").exists());
    let _ = std::fs::remove_dir_all(&cfg.voicemail_dir);
}

#[tokio::test]
async fn sf9_voicemail_is_capped_at_the_maximum() {
    let backend = FakeBackend::new();
    let mut cfg = config("sf9-max");
    cfg.voicemail_max_secs = 4;
    let mut ch = ScriptedChannel::new("c21", CALLER)
        .keys("3")
        .speak(60, RecordEnd::Silence);
    call(&mut ch, &backend, &cfg).await.unwrap();
    assert_eq!(backend.voicemails()[0].duration.as_secs(), 4);
    let _ = std::fs::remove_dir_all(&cfg.voicemail_dir);
}

#[tokio::test]
async fn agent_key_0_goes_to_an_agent_or_voicemail_when_none() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c22", CALLER).keys("0");
    assert_eq!(
        call(&mut ch, &backend, &config("agent")).await.unwrap(),
        FlowOutcome::ToAgent {
            senior: false,
            ticket: None
        }
    );
    let backend = FakeBackend::new().with_agents(false);
    let cfg = config("agent-none");
    let mut ch = ScriptedChannel::new("c23", CALLER)
        .keys("0")
        .speak(8, RecordEnd::Key('#'));
    assert_eq!(
        call(&mut ch, &backend, &cfg).await.unwrap(),
        FlowOutcome::Done
    );
    assert!(ch.heard(id::NO_AGENT));
    assert_eq!(backend.voicemails().len(), 1);
    let _ = std::fs::remove_dir_all(&cfg.voicemail_dir);
}

#[test]
fn jo2_hold_announcement_says_the_queue_position() {
    assert_eq!(
        agent::hold_prompts(3),
        vec![
            id::PLEASE_HOLD,
            id::QUEUE_POSITION,
            "digit_3",
            id::QUEUE_POSITION_END
        ]
    );
    assert_eq!(agent::hold_prompts(12)[2..4], [id::TEN, "digit_2"]);
}

#[tokio::test]
async fn out_of_hours_offers_voicemail() {
    let backend = FakeBackend::new();
    let cfg = office_hours("ooh");
    let mut ch = ScriptedChannel::new("c24", CALLER)
        .keys("1")
        .speak(20, RecordEnd::Silence);
    let outcome = run_call(&mut ch, &backend, &cfg, CLOSED).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    assert!(ch.heard(id::OUT_OF_HOURS) && ch.heard(id::VOICEMAIL_OFFER));
    assert!(!ch.heard(id::MAIN_MENU));
    assert_eq!(backend.voicemails().len(), 1);
    let _ = std::fs::remove_dir_all(&cfg.voicemail_dir);
}

#[tokio::test]
async fn out_of_hours_without_a_choice_says_goodbye() {
    let backend = FakeBackend::new();
    let cfg = office_hours("ooh-bye");
    let mut ch = ScriptedChannel::new("c25", CALLER)
        .timeout()
        .timeout()
        .timeout();
    let outcome = run_call(&mut ch, &backend, &cfg, CLOSED).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    assert!(ch.played.last().is_some_and(|p| p == id::GOODBYE));
    assert!(backend.voicemails().is_empty());
    // The same calendar is open on a weekday morning.
    let mut ch = ScriptedChannel::new("c26", CALLER).keys("0");
    run_call(&mut ch, &backend, &cfg, OPEN).await.unwrap();
    assert!(ch.heard(id::MAIN_MENU) && !ch.heard(id::OUT_OF_HOURS));
}

#[tokio::test]
async fn keys_typed_during_the_welcome_skip_the_menu_prompt() {
    let backend = FakeBackend::new();
    let mut ch = ScriptedChannel::new("c27", CALLER).barging().keys("0");
    call(&mut ch, &backend, &config("typeahead")).await.unwrap();
    assert!(ch.heard(id::WELCOME));
    assert!(!ch.heard(id::MAIN_MENU), "{:?}", ch.played);
}

#[test]
fn channel_and_backend_are_object_safe_and_run_call_can_be_spawned() {
    fn spawnable<F: std::future::Future + Send>(_: F) {}
    let backend: Box<dyn hotline_ivr::Backend> = Box::new(FakeBackend::new());
    let mut ch: Box<dyn hotline_ivr::Channel> = Box::new(ScriptedChannel::new("s", CALLER));
    let cfg = IvrConfig::default();
    spawnable(run_call(ch.as_mut(), backend.as_ref(), &cfg, OPEN));
}

mod outbound_survey {
    //! The automated survey call (issue 16 part 5): the customer's keys and what they heard.
    use super::*;
    use hotline_ivr::flows::Flow;
    use hotline_ivr::flows::survey::{self, SurveyAnswer};

    async fn ask(ch: &mut ScriptedChannel) -> SurveyAnswer {
        let backend = FakeBackend::new();
        let cfg = config("survey");
        let mut f = Flow::new(ch, &backend, &cfg);
        survey::run(&mut f).await.expect("the survey flow")
    }

    #[tokio::test]
    async fn ss2_keys_1_2_3_answer_and_are_thanked() {
        for k in ['1', '2', '3'] {
            let mut ch = ScriptedChannel::new("c1", CALLER).keys(&k.to_string());
            assert_eq!(ask(&mut ch).await, SurveyAnswer::Answer(k));
            assert_eq!(
                ch.played,
                vec![id::SURVEY_INTRO, id::SURVEY_QUESTION, id::SURVEY_THANKS],
                "key {k}"
            );
            assert!(
                ch.hung_up_by_ivr,
                "the hotline ends the call after the thanks"
            );
        }
    }

    #[tokio::test]
    async fn ss2_key_9_is_transferred_without_hanging_up() {
        let mut ch = ScriptedChannel::new("c1", CALLER).keys("9");
        assert_eq!(ask(&mut ch).await, SurveyAnswer::Person);
        assert_eq!(
            ch.played.last().map(String::as_str),
            Some(id::TRANSFER_AGENT)
        );
        assert!(!ch.hung_up_by_ivr, "the call stays up for the agent queue");
    }

    #[tokio::test]
    async fn pr1_a_key_outside_the_menu_is_asked_again_and_silence_ends_politely() {
        let mut ch = ScriptedChannel::new("c1", CALLER).keys("7").keys("2");
        assert_eq!(ask(&mut ch).await, SurveyAnswer::Answer('2'));
        assert_eq!(ch.times_heard(id::SURVEY_QUESTION), 2);
        assert!(ch.heard(id::INVALID_INPUT));

        let mut ch = ScriptedChannel::new("c1", CALLER)
            .timeout()
            .timeout()
            .timeout();
        assert_eq!(ask(&mut ch).await, SurveyAnswer::NoKey);
        assert_eq!(ch.times_heard(id::SURVEY_QUESTION), 3);
        assert_eq!(ch.played.last().map(String::as_str), Some(id::GOODBYE));
        assert!(ch.hung_up_by_ivr);

        let mut ch = ScriptedChannel::new("c1", CALLER).hangup();
        assert_eq!(ask(&mut ch).await, SurveyAnswer::HungUp);
        assert!(!ch.heard(id::SURVEY_THANKS));
    }
}
