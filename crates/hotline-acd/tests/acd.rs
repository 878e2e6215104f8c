//! The ACD in virtual time: longest-idle selection by skill, the 15-second rule with re-offer
//! and not-ready after two misses, abandon, two agents answering, max wait, no agents, and the
//! metrics computed from the queue log.

use hotline_acd::{
    Acd, AcdAction, AcdConfig, AcdError, CallEnd, Metrics, Presence, QueueEvent, Skill, SlRules,
    Window,
};

const T: i64 = 1_780_000_000_000;

fn acd() -> Acd {
    Acd::new(AcdConfig::default())
}

fn actions(a: &mut Acd) -> Vec<AcdAction> {
    std::iter::from_fn(|| a.poll_action()).collect()
}

fn logs(a: &mut Acd) -> Vec<hotline_acd::QueueLogEntry> {
    std::iter::from_fn(|| a.poll_log()).collect()
}

fn offer(call: &str, agent: &str) -> AcdAction {
    AcdAction::Offer {
        call: call.into(),
        agent: agent.into(),
    }
}

#[test]
fn jo2_longest_idle_agent_gets_the_offer() {
    let mut a = acd();
    for (i, id) in ["j1", "j2", "j3"].iter().enumerate() {
        a.handle_login(T, id, Skill::Ordinary);
        a.handle_available(T + i as i64 * 1000, id).unwrap();
    }
    a.handle_enqueue(T + 5000, "c1", "13800138000", Skill::Ordinary)
        .unwrap();
    assert_eq!(actions(&mut a), vec![offer("c1", "j1")]);
    assert_eq!(a.presence("j1"), Some(Presence::Ringing));
    a.handle_enqueue(T + 5001, "c2", "13800138001", Skill::Ordinary)
        .unwrap();
    assert_eq!(
        actions(&mut a),
        vec![offer("c2", "j2")],
        "never an agent already ringing"
    );
}

#[test]
fn jo8_senior_calls_go_to_seniors_and_seniors_take_ordinary_overflow() {
    let mut a = acd();
    a.handle_login(T, "j1", Skill::Ordinary);
    a.handle_login(T, "s1", Skill::Senior);
    a.handle_available(T, "s1").unwrap(); // the senior has idled longer
    a.handle_available(T + 10, "j1").unwrap();
    a.handle_enqueue(T + 20, "big", "01011112222", Skill::Senior)
        .unwrap();
    assert_eq!(actions(&mut a), vec![offer("big", "s1")]);
    a.handle_enqueue(T + 30, "c1", "010", Skill::Ordinary)
        .unwrap();
    assert_eq!(actions(&mut a), vec![offer("c1", "j1")]);
    // a second senior call waits for a senior, even with juniors free
    a.handle_answered(T + 40, "c1", "j1").unwrap();
    a.handle_hangup(T + 50, "c1", CallEnd::Agent).unwrap();
    a.handle_timeout(T + 50 + 10_000); // j1's wrap-up ends
    a.handle_enqueue(T + 20_000, "big2", "010", Skill::Senior)
        .unwrap();
    assert!(actions(&mut a).is_empty(), "juniors never get senior calls");
    assert_eq!(a.position("big2"), Some(1));
}

#[test]
fn jo2_no_answer_in_15_s_re_offers_at_once_and_two_misses_set_not_ready() {
    let mut a = acd();
    for id in ["j1", "j2"] {
        a.handle_login(T, id, Skill::Ordinary);
    }
    a.handle_available(T, "j1").unwrap();
    a.handle_available(T + 1, "j2").unwrap();
    a.handle_enqueue(T + 100, "c1", "010", Skill::Ordinary)
        .unwrap();
    assert_eq!(actions(&mut a), vec![offer("c1", "j1")]);
    assert_eq!(a.poll_timeout(), Some(T + 100 + 15_000));
    a.handle_timeout(T + 100 + 14_999);
    assert!(actions(&mut a).is_empty(), "not before 15 s");
    a.handle_timeout(T + 100 + 15_000);
    assert_eq!(
        actions(&mut a),
        vec![
            AcdAction::CancelOffer {
                call: "c1".into(),
                agent: "j1".into(),
                no_answer: true
            },
            offer("c1", "j2")
        ]
    );
    assert_eq!(a.no_answers("j1"), 1);
    // j2 misses too and j1 is back in line: j1 gets it and misses a second time → not ready
    a.handle_timeout(T + 100 + 30_000);
    assert_eq!(
        actions(&mut a),
        vec![
            AcdAction::CancelOffer {
                call: "c1".into(),
                agent: "j2".into(),
                no_answer: true
            },
            offer("c1", "j1")
        ]
    );
    a.handle_timeout(T + 100 + 45_000);
    let acts = actions(&mut a);
    assert!(
        acts.contains(&AcdAction::AgentNotReady {
            agent: "j1".into(),
            misses: 2
        }),
        "{acts:?}"
    );
    assert_eq!(a.presence("j1"), Some(Presence::NotReady));
    let events: Vec<QueueEvent> = logs(&mut a).iter().map(|e| e.event).collect();
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == QueueEvent::RingNoAnswer)
            .count(),
        3
    );
}

#[test]
fn two_agents_answering_one_call_one_wins_the_other_is_told() {
    let mut a = acd();
    for id in ["j1", "j2"] {
        a.handle_login(T, id, Skill::Ordinary);
        a.handle_available(T, id).unwrap();
    }
    a.handle_enqueue(T, "c1", "010", Skill::Ordinary).unwrap();
    let AcdAction::Offer { agent, .. } = actions(&mut a).remove(0) else {
        panic!()
    };
    let other = if agent == "j1" { "j2" } else { "j1" };
    assert_eq!(
        a.handle_answered(T + 3000, "c1", other),
        Err(AcdError::NotOffered {
            call: "c1".into(),
            agent: other.into()
        })
    );
    a.handle_answered(T + 3000, "c1", &agent).unwrap();
    assert_eq!(a.presence(&agent), Some(Presence::OnCall));
    assert!(
        a.handle_answered(T + 3001, "c1", &agent).is_err(),
        "answering twice is refused"
    );
}

#[test]
fn caller_hanging_up_during_the_offer_frees_the_agent_in_place() {
    let mut a = acd();
    a.handle_login(T, "j1", Skill::Ordinary);
    a.handle_available(T, "j1").unwrap();
    a.handle_enqueue(T, "c1", "010", Skill::Ordinary).unwrap();
    actions(&mut a);
    a.handle_abandon(T + 5000, "c1").unwrap();
    assert_eq!(
        actions(&mut a),
        vec![AcdAction::CancelOffer {
            call: "c1".into(),
            agent: "j1".into(),
            no_answer: false
        }]
    );
    assert_eq!(a.presence("j1"), Some(Presence::Available));
    assert_eq!(a.no_answers("j1"), 0, "not the agent's fault");
    // an agent hanging up while it rings counts as a miss and the call goes on
    a.handle_login(T, "j2", Skill::Ordinary);
    a.handle_available(T + 6000, "j2").unwrap();
    a.handle_enqueue(T + 7000, "c2", "010", Skill::Ordinary)
        .unwrap();
    assert_eq!(actions(&mut a), vec![offer("c2", "j1")]);
    a.handle_offer_failed(T + 8000, "c2", "j1").unwrap();
    assert_eq!(actions(&mut a), vec![offer("c2", "j2")]);
}

#[test]
fn max_wait_or_nobody_logged_in_means_voicemail() {
    let mut a = acd();
    a.handle_enqueue(T, "c0", "010", Skill::Ordinary).unwrap();
    assert_eq!(
        actions(&mut a),
        vec![AcdAction::ToVoicemail { call: "c0".into() }]
    );
    a.handle_login(T, "j1", Skill::Ordinary); // logged in but not ready
    a.handle_enqueue(T, "c1", "010", Skill::Ordinary).unwrap();
    assert!(actions(&mut a).is_empty());
    a.handle_timeout(T + 179_999);
    assert!(actions(&mut a).is_empty());
    a.handle_timeout(T + 180_000);
    assert_eq!(
        actions(&mut a),
        vec![AcdAction::ToVoicemail { call: "c1".into() }]
    );
    let events: Vec<QueueEvent> = logs(&mut a).iter().map(|e| e.event).collect();
    assert_eq!(
        events,
        vec![
            QueueEvent::EnterQueue,
            QueueEvent::ExitEmpty,
            QueueEvent::EnterQueue,
            QueueEvent::ExitWithTimeout
        ]
    );
}

#[test]
fn positions_and_queue_log_lines_and_metrics() {
    let mut a = acd();
    a.handle_login(T, "j1", Skill::Ordinary);
    for c in ["c1", "c2", "c3"] {
        a.handle_enqueue(T, c, "010", Skill::Ordinary).unwrap();
    }
    assert_eq!((a.position("c1"), a.position("c3")), (Some(1), Some(3)));
    a.handle_abandon(T + 20_000, "c2").unwrap(); // abandoned after 20 s
    assert_eq!(a.position("c3"), Some(2));
    a.handle_available(T + 5_000, "j1").unwrap();
    a.handle_answered(T + 8_000, "c1", "j1").unwrap(); // hold 8 s, ring 3 s
    a.handle_hangup(T + 68_000, "c1", CallEnd::Caller).unwrap();
    a.handle_timeout(T + 78_000); // wrap-up over → c3 offered
    a.handle_answered(T + 98_000, "c3", "j1").unwrap(); // ring 20 s: past 15 s, hold 98 s
    let log = logs(&mut a);
    let line = log
        .iter()
        .find(|e| e.event == QueueEvent::Connect)
        .unwrap()
        .to_string();
    assert_eq!(
        line,
        format!("{}|c1|hotline|j1|CONNECT|8|c1|3", T / 1000 + 8)
    );
    let m = Metrics::from_log(&log, SlRules::default(), Window::beijing(T, T + 3_600_000)).total;
    assert_eq!((m.entered, m.answered, m.abandoned), (3, 2, 1));
    assert_eq!(
        m.service_level(),
        Some(1.0 / 3.0),
        "c1 answered 8 s after joining; c3 after 98 s and c2 abandoned after 20 s are late"
    );
    assert_eq!(
        m.offer_answer_rate(),
        Some(0.5),
        "one of two offers answered within 15 s of ringing"
    );
    assert_eq!(
        m.service_level2(),
        Some(1.0 / 3.0),
        "the abandon after 20 s counts against SL2"
    );
    assert_eq!(m.asa_seconds(), Some(53.0));
}
