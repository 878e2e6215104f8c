//! Calls placed by our own UAC (`hotline_calls::dialer`, RFC 4733 keys) into the call server
//! and the real core: a report reaches the core (SF1), a caller hanging up mid-report leaves
//! no ticket, shutdown hangs up live calls.

mod common;

use std::time::Duration;

use common::{Hotline, database_urls, temp_dir};
use hotline_calls::dialer::Caller;
use hotline_ivr::FlowOutcome;
use hotline_sip::endpoint::EndReason;

#[tokio::test]
async fn sf1_report_by_rfc4733_keys_creates_an_ivr_ticket() {
    let dir = temp_dir("dialer-report");
    for url in database_urls(&dir).await {
        let mut h = Hotline::start(&url, &dir).await;
        let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
        c.press("1").await.unwrap(); // report a fault
        c.press("01066554433#").await.unwrap();
        c.press("1").await.unwrap(); // the number is right
        c.press("2").await.unwrap(); // noise
        let reason = c.wait_ended(Duration::from_secs(30)).await.unwrap();
        assert_eq!(
            reason,
            EndReason::RemoteBye,
            "the IVR hangs up after the read-back"
        );
        let call_id = c.call_id().to_owned();
        c.close().await;

        let summary = h.next_call().await;
        assert_eq!(summary.call_id, call_id);
        assert_eq!(summary.caller_id, "13800138000");
        assert_eq!(summary.outcome, Ok(FlowOutcome::Done));
        let tickets = h.tickets_on("01066554433").await;
        assert_eq!(tickets.len(), 1, "{tickets:?}");
        let t = &tickets[0];
        assert_eq!(t.channel, "ivr");
        assert_eq!(t.fault_type, "noise");
        assert_eq!(t.contact_number, "13800138000");
        // The ticket number was read back digit by digit before goodbye.
        let digits: Vec<String> =
            t.id.to_string()
                .chars()
                .map(|d| format!("digit_{d}"))
                .collect();
        let played = summary.played.join(" ");
        assert!(
            played.contains(&format!(
                "report_accepted {} thanks_goodbye",
                digits.join(" ")
            )),
            "{played}"
        );
        h.stop().await;
    }
}

#[tokio::test]
async fn caller_hanging_up_mid_report_creates_no_ticket() {
    let dir = temp_dir("dialer-hangup");
    for url in database_urls(&dir).await {
        let mut h = Hotline::start(&url, &dir).await;
        let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
        c.press("1").await.unwrap();
        c.press("01066554433#").await.unwrap();
        c.press("1").await.unwrap(); // confirmed, but no fault type yet
        c.hang_up().await.unwrap();
        c.close().await;
        let summary = h.next_call().await;
        assert_eq!(summary.outcome, Ok(FlowOutcome::CallerHungUp));
        assert!(
            summary.played.iter().any(|p| p == "fault_type_menu"),
            "hung up at the fault-type menu: {:?}",
            summary.played
        );
        assert!(h.tickets_on("01066554433").await.is_empty());
        // the call was set up once (INVITE → 200 OK) and is no longer live once its task ends
        let mut registry = prometheus_client::registry::Registry::default();
        h.call_metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("hotline_call_setup_seconds_count 1\n"),
            "{text}"
        );
        let mut live = h.call_metrics.live.get();
        for _ in 0..50 {
            if live == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            live = h.call_metrics.live.get();
        }
        assert_eq!(live, 0);
        h.stop().await;
    }
}

#[tokio::test]
async fn shutdown_hangs_up_live_calls() {
    let dir = temp_dir("dialer-shutdown");
    let url = database_urls(&dir).await.remove(0);
    let mut h = Hotline::start(&url, &dir).await;
    let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
    c.press("1").await.unwrap();
    h.shutdown.cancel();
    let reason = c.wait_ended(Duration::from_secs(10)).await.unwrap();
    assert_eq!(reason, EndReason::RemoteBye);
    assert_eq!(h.next_call().await.outcome, Ok(FlowOutcome::CallerHungUp));
    h.server.take().unwrap().await.unwrap();
    c.close().await;
    h.stop().await;
}
