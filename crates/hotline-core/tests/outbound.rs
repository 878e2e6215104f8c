//! Automated outbound survey calls (ivr-outbound, issue 16 part 5), the core's half, over
//! gRPC on SQLite and PostgreSQL under a manual clock: the call server's account claims the
//! callbacks due (calling hours, once per customer per Beijing day, never a do-not-call
//! number), reports each end once; an answer is the survey's result with channel
//! `ivr-outbound` (不满意 lands on the SS4 list), busy/no answer is an unreached attempt
//! retried by the same rules as a person's, 9 leaves the survey open, a trunk failure records
//! nothing and frees the day, a run of them raises the `outbound` alert, a claim nobody
//! finishes is closed as lost; bad fields are INVALID_ARGUMENT naming them, other roles
//! PERMISSION_DENIED.

use hotline_core::clock::ManualClock;
use hotline_domain::Role;
use hotline_domain::outbound::OutboundResult;
use hotline_domain::rules::AlertKind;
use hotline_domain::time::{DAY_MS, HOUR_MS, MINUTE_MS};
use hotline_proto::auth::BearerToken;
use hotline_proto::v1 as pb;
use hotline_proto::v1::survey_service_client::SurveyServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{StartedCore, TestCore};
use std::sync::Arc;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Sv = SurveyServiceClient<InterceptedService<Channel, BearerToken>>;
type Tk = TicketServiceClient<InterceptedService<Channel, BearerToken>>;

/// 10:00 Beijing time on 2024-10-04.
const TEN: i64 = 20_000 * DAY_MS - 8 * HOUR_MS + 10 * HOUR_MS;

async fn cores(tag: &str) -> Vec<(StartedCore, ManualClock)> {
    let mut out = Vec::new();
    for tc in TestCore::backends(tag).await {
        let clock = ManualClock::new(hotline_domain::Timestamp(TEN));
        let core = tc
            .with_clock(Arc::new(clock.clone()))
            .with_agent("camp", Role::System, "camp-password")
            .with_agent("sv1", Role::Surveyor, "sv1-password")
            .with_agent("dm1", Role::DataManager, "dm1-password")
            .with_agent("s1", Role::Senior, "s1-password")
            .with_agent("j1", Role::Junior, "j1-password")
            .start()
            .await;
        out.push((core, clock));
    }
    out
}

fn sv(core: &StartedCore, who: &str) -> Sv {
    core.client_as(core.token(who), SurveyServiceClient::with_interceptor)
}

fn tk(core: &StartedCore, who: &str) -> Tk {
    core.client_as(core.token(who), TicketServiceClient::with_interceptor)
}

/// A fresh session (the manual clock may run past a token's life).
async fn fresh_token(core: &StartedCore, who: &str) -> String {
    let mut agents =
        hotline_proto::v1::agent_service_client::AgentServiceClient::new(core.channel.clone());
    hotline_testkit::login(&mut agents, who, &format!("{who}-password")).await
}

async fn relogin(core: &StartedCore, who: &str) -> Sv {
    let token = fresh_token(core, who).await;
    core.client_as(&token, SurveyServiceClient::with_interceptor)
}

/// A dispatched and cleared (回单) ticket whose customer is reached on `contact`.
async fn cleared(s1: &mut Tk, number: &str, contact: &str) -> i64 {
    let t = s1
        .create_ticket(pb::CreateTicketRequest {
            faulty_number: number.into(),
            contact_number: contact.into(),
            customer_name: "王五".into(),
            branch: "东城".into(),
            fault_type: "noise".into(),
            channel: "phone".into(),
            description: "电话有杂音".into(),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .ticket
        .expect("ticket");
    s1.dispatch_ticket(pb::DispatchTicketRequest {
        id: t.id,
        note: "派修".into(),
    })
    .await
    .expect("dispatch");
    s1.clear_ticket(pb::ClearTicketRequest {
        id: t.id,
        note: "已修复".into(),
    })
    .await
    .expect("clear");
    t.id
}

async fn claim(c: &mut Sv) -> pb::OutboundSurveyClaim {
    c.claim_outbound_survey(pb::ClaimOutboundSurveyRequest {})
        .await
        .expect("claim")
        .into_inner()
}

async fn finish(
    c: &mut Sv,
    claim_id: i64,
    result: &str,
    key: &str,
    sip: u32,
) -> Result<pb::FinishOutboundSurveyResponse, tonic::Status> {
    c.finish_outbound_survey(pb::FinishOutboundSurveyRequest {
        claim_id,
        result: result.into(),
        key: key.into(),
        sip_status: sip,
    })
    .await
    .map(|r| r.into_inner())
}

#[tokio::test]
async fn ss2_outbound_calls_claim_once_a_day_record_answers_retry_and_honour_the_list() {
    for (core, clock) in cores("outbound-claims").await {
        let mut s1 = tk(&core, "s1");
        let a = cleared(&mut s1, "01061110001", "13800138001").await;
        let b = cleared(&mut s1, "01061110002", "13800138002").await;
        // the same customer as A (one call a day per number)
        let c_id = cleared(&mut s1, "01061110003", "13800138001").await;
        // a customer who asked not to be called
        let d = cleared(&mut s1, "01061110004", "13800138004").await;
        let mut sv1 = sv(&core, "sv1");
        sv1.add_do_not_call(pb::AddDoNotCallRequest {
            number: "13800138004".into(),
            reason: "客户要求不再回访".into(),
        })
        .await
        .expect("dnc add");

        // outside calling hours (07:00) nothing is due
        clock.set(hotline_domain::Timestamp(TEN - 3 * HOUR_MS));
        let mut camp = relogin(&core, "camp").await;
        assert_eq!(
            claim(&mut camp).await.claim_id,
            0,
            "07:00 is outside calling hours"
        );
        clock.set(hotline_domain::Timestamp(TEN));
        let mut camp = relogin(&core, "camp").await;

        // 10:00: A, then B; C shares A's number, D is on the list
        let ca = claim(&mut camp).await;
        assert_eq!(
            (ca.ticket_id, ca.number.as_str(), ca.attempt),
            (a, "13800138001", 1)
        );
        let cb = claim(&mut camp).await;
        assert_eq!((cb.ticket_id, cb.number.as_str()), (b, "13800138002"));
        assert_eq!(
            claim(&mut camp).await.claim_id,
            0,
            "C (A's number) and D (listed) wait"
        );

        // A pressed 3: 不满意 recorded as the survey's result, SS4 follows
        let fa = finish(&mut camp, ca.claim_id, "answered", "3", 0)
            .await
            .unwrap();
        assert!(fa.investigate);
        let cba = fa.callback.expect("an attempt was written");
        assert_eq!(
            (cba.outcome.as_str(), cba.next.as_str()),
            ("reached", "done")
        );
        assert!(cba.result_id > 0);
        let again = finish(&mut camp, ca.claim_id, "answered", "3", 0)
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
        let results = core.core.desk.store.survey_results(a).await.unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].channel, "ivr-outbound");
        assert_eq!(results[0].satisfaction.as_str(), "dissatisfied");
        let ss4 = sv1
            .list_survey_work(pb::ListSurveyWorkRequest {
                list: "investigate".into(),
                limit: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        assert!(
            ss4.iter().any(|e| e.ticket_id == a && e.dissatisfied == 1),
            "不满意 puts A on the SS4 list: {ss4:?}"
        );

        // B was busy: an unreached attempt, retried by the rules (not today: called once)
        let fb = finish(&mut camp, cb.claim_id, "busy", "", 486)
            .await
            .unwrap();
        let cbb = fb.callback.expect("an attempt");
        assert_eq!(
            (cbb.outcome.as_str(), cbb.next.as_str(), cbb.attempt),
            ("not_reached", "retry", 1)
        );
        clock.advance_ms(3 * HOUR_MS);
        let mut camp = relogin(&core, "camp").await;
        assert_eq!(
            claim(&mut camp).await.claim_id,
            0,
            "B and A's number were called today; D is listed"
        );

        // the next day: B (its retry time passed), then C (A's number is free again)
        clock.set(hotline_domain::Timestamp(TEN + DAY_MS));
        let mut camp = relogin(&core, "camp").await;
        let cb2 = claim(&mut camp).await;
        assert_eq!((cb2.ticket_id, cb2.attempt), (b, 2));
        // the trunk refused it: nothing recorded, the day is free, B is claimed again
        let ft = finish(&mut camp, cb2.claim_id, "trunk_failed", "", 503)
            .await
            .unwrap();
        assert!(ft.callback.is_none());
        let cb3 = claim(&mut camp).await;
        assert_eq!(
            (cb3.ticket_id, cb3.attempt),
            (b, 2),
            "a refused call used neither the day nor an attempt"
        );
        // B pressed 9: transferred to a person, the survey stays open
        let fp = finish(&mut camp, cb3.claim_id, "person", "9", 0)
            .await
            .unwrap();
        assert!(fp.callback.is_none());
        let st = core.core.desk.store.survey_state(b).await.unwrap();
        assert!(st.open_task.is_some(), "the survey waits for the person");
        assert_eq!(st.attempts, 1);
        let cc = claim(&mut camp).await;
        assert_eq!((cc.ticket_id, cc.number.as_str()), (c_id, "13800138001"));
        finish(&mut camp, cc.claim_id, "no_answer", "", 0)
            .await
            .unwrap();
        assert_eq!(claim(&mut camp).await.claim_id, 0);

        // taken off the list, D is called
        let mut sv1 = relogin(&core, "sv1").await;
        sv1.remove_do_not_call(pb::RemoveDoNotCallRequest {
            number: "13800138004".into(),
        })
        .await
        .expect("dnc remove");
        let cd = claim(&mut camp).await;
        assert_eq!(cd.ticket_id, d);
        // nobody finishes D's call: 11 minutes later the next claim closes it as lost
        clock.advance_ms(11 * MINUTE_MS);
        let mut camp = relogin(&core, "camp").await;
        assert_eq!(claim(&mut camp).await.claim_id, 0);
        let calls = core.core.desk.store.outbound_calls_of(d).await.unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].result, Some(OutboundResult::Lost));
        let late = finish(&mut camp, cd.claim_id, "answered", "1", 0)
            .await
            .unwrap_err();
        assert_eq!(late.code(), Code::AlreadyExists);

        // the history says what happened
        let s1_token = fresh_token(&core, "s1").await;
        let hist = core
            .client_as(&s1_token, TicketServiceClient::with_interceptor)
            .get_ticket_history(pb::GetTicketHistoryRequest { id: b })
            .await
            .unwrap()
            .into_inner();
        let lines: Vec<String> = hist.events.iter().map(|r| r.detail.clone()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("自动外呼") && l.contains("未接通")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.contains("转人工")), "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("中继故障") && l.contains("503")),
            "{lines:?}"
        );
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss2_outbound_trunk_failures_raise_one_alert_and_bad_reports_are_refused() {
    for (core, _clock) in cores("outbound-trunk").await {
        let mut s1 = tk(&core, "s1");
        let t = cleared(&mut s1, "01061110011", "13800138011").await;
        let mut camp = sv(&core, "camp");
        for i in 0..6 {
            let c = claim(&mut camp).await;
            assert_eq!(c.ticket_id, t, "round {i}");
            finish(&mut camp, c.claim_id, "trunk_failed", "", 403)
                .await
                .unwrap();
        }
        let alerts: Vec<_> = core
            .core
            .desk
            .store
            .list_alerts(None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.deadline_kind == AlertKind::Outbound)
            .collect();
        assert_eq!(
            alerts.len(),
            1,
            "one alert for the run, not one per call: {alerts:?}"
        );
        assert!(alerts[0].message.contains("中继"), "{}", alerts[0].message);

        // bad reports name their field
        let c = claim(&mut camp).await;
        for (result, key, sip, field) in [
            ("maybe", "", 0, "result"),
            ("answered", "7", 0, "key"),
            ("answered", "", 0, "key"),
            ("busy", "1", 0, "key"),
            ("lost", "", 0, "result"),
            ("no_answer", "", 900, "sip_status"),
        ] {
            let e = finish(&mut camp, c.claim_id, result, key, sip)
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{result}/{key}: {e:?}");
            assert!(
                e.message().contains(field),
                "{result}/{key}: {}",
                e.message()
            );
        }
        let e = finish(&mut camp, 0, "busy", "", 0).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().contains("claim_id"));
        let e = finish(&mut camp, 999_999, "busy", "", 0).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        // the refused reports changed nothing: the claim still finishes once
        finish(&mut camp, c.claim_id, "answered", "1", 0)
            .await
            .unwrap();

        // only the call server claims; only the list's keepers keep it
        let e = sv(&core, "sv1")
            .claim_outbound_survey(pb::ClaimOutboundSurveyRequest {})
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let e = sv(&core, "j1")
            .add_do_not_call(pb::AddDoNotCallRequest {
                number: "13800138011".into(),
                reason: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let mut dm = sv(&core, "dm1");
        let e = dm
            .add_do_not_call(pb::AddDoNotCallRequest {
                number: "not-a-number".into(),
                reason: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().contains("number"), "{}", e.message());
        let e = dm
            .add_do_not_call(pb::AddDoNotCallRequest {
                number: "13800138011".into(),
                reason: " ".into(),
            })
            .await
            .unwrap_err();
        assert!(e.message().contains("reason"), "{}", e.message());
        dm.add_do_not_call(pb::AddDoNotCallRequest {
            number: "13800138011".into(),
            reason: "投诉".into(),
        })
        .await
        .unwrap();
        let list = dm
            .list_do_not_call(pb::ListDoNotCallRequest { limit: 0 })
            .await
            .unwrap()
            .into_inner()
            .entries;
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].number.as_str(), list[0].added_by.as_str()),
            ("13800138011", "dm1")
        );
        dm.remove_do_not_call(pb::RemoveDoNotCallRequest {
            number: "13800138011".into(),
        })
        .await
        .unwrap();
        let e = dm
            .remove_do_not_call(pb::RemoveDoNotCallRequest {
                number: "13800138011".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        core.shutdown().await;
    }
}
