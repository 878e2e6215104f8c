//! sipp callers against the call server and the real core: keys as RFC 2833 packets (sipp's
//! own DTMF pcaps, renumbered per press) report a fault and query it (SF1, JO9); one caller
//! reports with SIP INFO keys (and holds/resumes by re-INVITE on the way); one hangs up
//! mid-report and leaves no ticket.

mod common;

use std::time::Duration;

use common::sipp::{self, KeyPcaps, Step};
use common::{Hotline, database_urls, temp_dir};
use hotline_ivr::FlowOutcome;

const PAUSE: Duration = Duration::from_millis(400);

fn keys(p: &mut KeyPcaps, k: &str) -> Step {
    let (path, d) = p.keys(k);
    Step::Rtp(path, d)
}

#[tokio::test]
async fn sf1_jo9_sipp_reports_with_rfc2833_keys_then_queries_progress() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("sipp-report");
    for url in database_urls(&dir).await {
        let mut h = Hotline::start(&url, &dir).await;
        let mut p = KeyPcaps::new(&dir);
        let steps = [
            Step::Pause(PAUSE),
            keys(&mut p, "1"), // report a fault
            keys(&mut p, "01066554433#"),
            keys(&mut p, "1"), // the number is right
            keys(&mut p, "1"), // no dial tone
            Step::ExpectBye,
        ];
        let out = sipp::call(&dir, h.sip, &sipp::scenario("13800138000", &steps)).await;
        assert!(out.status.success(), "{}", sipp::describe(&out, &dir));
        let s = h.next_call().await;
        assert_eq!(s.caller_id, "13800138000");
        assert_eq!(s.outcome, Ok(FlowOutcome::Done), "{:?}", s.played);
        let tickets = h.tickets_on("01066554433").await;
        assert_eq!(tickets.len(), 1);
        let t = &tickets[0];
        assert_eq!(
            (
                t.channel.as_str(),
                t.fault_type.as_str(),
                t.contact_number.as_str()
            ),
            ("ivr", "no_dial_tone", "13800138000")
        );

        // JO9: the same number's progress, from another caller.
        let mut p = KeyPcaps::new(&dir);
        let steps = [
            Step::Pause(PAUSE),
            keys(&mut p, "2"),
            keys(&mut p, "01066554433#"),
            Step::ExpectBye,
        ];
        let out = sipp::call(&dir, h.sip, &sipp::scenario("13700137000", &steps)).await;
        assert!(out.status.success(), "{}", sipp::describe(&out, &dir));
        let s = h.next_call().await;
        assert_eq!(s.outcome, Ok(FlowOutcome::Done));
        let played = s.played.join(" ");
        assert!(
            played.contains("progress_intro progress_accepted progress_limit"),
            "{played}"
        );
        h.stop().await;
    }
}

/// Also: the caller puts the hotline on hold and resumes (re-INVITEs answered) mid-report.
#[tokio::test]
async fn sipp_reports_with_sip_info_keys() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("sipp-info");
    let url = database_urls(&dir).await.remove(0);
    let mut h = Hotline::start(&url, &dir).await;
    let mut steps = vec![
        Step::Pause(PAUSE),
        Step::Info('1'),
        Step::Reinvite("sendonly"),
        Step::Reinvite("sendrecv"),
    ];
    steps.extend("075512345678#".chars().map(Step::Info));
    steps.extend([Step::Info('1'), Step::Info('6'), Step::ExpectBye]);
    let out = sipp::call(&dir, h.sip, &sipp::scenario("13600136000", &steps)).await;
    assert!(out.status.success(), "{}", sipp::describe(&out, &dir));
    let s = h.next_call().await;
    assert_eq!(s.outcome, Ok(FlowOutcome::Done), "{:?}", s.played);
    let tickets = h.tickets_on("075512345678").await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].fault_type, "other");
    assert_eq!(tickets[0].contact_number, "13600136000");
    h.stop().await;
}

#[tokio::test]
async fn sipp_caller_hanging_up_before_the_fault_type_leaves_no_ticket() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("sipp-hangup");
    let url = database_urls(&dir).await.remove(0);
    let mut h = Hotline::start(&url, &dir).await;
    let mut p = KeyPcaps::new(&dir);
    let steps = [
        Step::Pause(PAUSE),
        keys(&mut p, "1"),
        keys(&mut p, "02088776655#"),
        keys(&mut p, "1"),
        Step::Pause(PAUSE),
        Step::Bye,
    ];
    let out = sipp::call(&dir, h.sip, &sipp::scenario("13800138000", &steps)).await;
    assert!(out.status.success(), "{}", sipp::describe(&out, &dir));
    let s = h.next_call().await;
    assert_eq!(s.outcome, Ok(FlowOutcome::CallerHungUp));
    assert!(
        s.played.iter().any(|p| p == "fault_type_menu"),
        "{:?}",
        s.played
    );
    assert!(h.tickets_on("02088776655").await.is_empty());
    h.stop().await;
}
