//! The satisfaction surveyor over gRPC (SS1-SS6, SO5), on SQLite and PostgreSQL, under a
//! manual clock in Beijing calling hours: a cleared ticket's callback is recorded once; an
//! unreached customer is retried only after the wait, in calling hours, at most N times; an
//! answered report is surveyed from the SS1 list; customer information needs consent; orders
//! near or past their limit are listed with their warning and urge; a second dispatch from an
//! investigation waits for a senior and is queued with its written warning; the week's figures
//! name the weakest areas; every refusal has its code and reason; other roles are refused.

use hotline_core::clock::ManualClock;
use hotline_domain::Role;
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

/// 10:00 Beijing time on 2024-10-04 (a Friday).
const TEN: i64 = 20_000 * DAY_MS - 8 * HOUR_MS + 10 * HOUR_MS;

async fn cores(tag: &str) -> Vec<(StartedCore, ManualClock)> {
    let mut out = Vec::new();
    for tc in TestCore::backends(tag).await {
        let clock = ManualClock::new(hotline_domain::Timestamp(TEN));
        let core = tc
            .with_clock(Arc::new(clock.clone()))
            .with_agent("sv1", Role::Surveyor, "sv1-password")
            .with_agent("s1", Role::Senior, "s1-password")
            .with_agent("s2", Role::Senior, "s2-password")
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

/// A new session for `who` (the manual clock may have run past the old one's expiry).
async fn relogin(core: &StartedCore, who: &str) -> String {
    let mut agents =
        hotline_proto::v1::agent_service_client::AgentServiceClient::new(core.channel.clone());
    hotline_testkit::login(&mut agents, who, &format!("{who}-password")).await
}

fn tk(core: &StartedCore, who: &str) -> Tk {
    core.client_as(core.token(who), TicketServiceClient::with_interceptor)
}

async fn new_ticket(s1: &mut Tk, number: &str, branch: &str, fault: &str) -> pb::Ticket {
    s1.create_ticket(pb::CreateTicketRequest {
        faulty_number: number.into(),
        contact_number: "13800138000".into(),
        customer_name: "王五".into(),
        branch: branch.into(),
        fault_type: fault.into(),
        channel: "phone".into(),
        description: "电话有杂音".into(),
        ..Default::default()
    })
    .await
    .expect("create")
    .into_inner()
    .ticket
    .expect("ticket")
}

async fn dispatched(s1: &mut Tk, number: &str, branch: &str, fault: &str) -> pb::Ticket {
    let t = new_ticket(s1, number, branch, fault).await;
    s1.dispatch_ticket(pb::DispatchTicketRequest {
        id: t.id,
        note: "派修".into(),
    })
    .await
    .expect("dispatch")
    .into_inner()
    .ticket
    .expect("ticket")
}

/// A ticket dispatched and cleared (回单) by a senior: it has a survey task.
async fn cleared(s1: &mut Tk, number: &str, branch: &str, fault: &str) -> i64 {
    let t = dispatched(s1, number, branch, fault).await;
    s1.clear_ticket(pb::ClearTicketRequest {
        id: t.id,
        note: "已修复".into(),
    })
    .await
    .expect("clear");
    t.id
}

fn reached(ticket_id: i64, satisfaction: &str) -> pb::RecordCallbackRequest {
    pb::RecordCallbackRequest {
        ticket_id,
        outcome: "reached".into(),
        satisfaction: satisfaction.into(),
        comment: "修得很快".into(),
        ..Default::default()
    }
}

fn not_reached(ticket_id: i64) -> pb::RecordCallbackRequest {
    pb::RecordCallbackRequest {
        ticket_id,
        outcome: "not_reached".into(),
        ..Default::default()
    }
}

async fn list(c: &mut Sv, l: &str) -> Vec<pb::SurveyWorkEntry> {
    c.list_survey_work(pb::ListSurveyWorkRequest {
        list: l.into(),
        limit: 0,
    })
    .await
    .unwrap_or_else(|e| panic!("list {l}: {e}"))
    .into_inner()
    .entries
}

#[tokio::test]
async fn ss2_cleared_ticket_callback_recorded_once() {
    for (core, clock) in cores("ss2-once").await {
        let mut s1 = tk(&core, "s1");
        let id = cleared(&mut s1, "01061110001", "东城", "noise").await;
        clock.advance_ms(30 * MINUTE_MS);
        let mut c = sv(&core, "sv1");
        let work = list(&mut c, "cleared").await;
        assert_eq!(work.len(), 1);
        let e = &work[0];
        assert_eq!(e.ticket_id, id);
        assert!(e.task_id > 0);
        assert_eq!(e.source, "cleared");
        assert_eq!(e.source_label, "回单回访");
        assert_eq!(e.contact_number, "13800138000");
        assert_eq!(e.elapsed_ms, 30 * MINUTE_MS);
        assert_eq!(e.attempts, 0);
        assert!(e.callable_now);

        let r = c
            .record_callback(reached(id, "satisfied"))
            .await
            .expect("record")
            .into_inner();
        assert_eq!((r.attempt, r.next.as_str()), (1, "done"));
        assert!(r.result_id > 0);
        assert_eq!(r.task_id, e.task_id);
        assert!(list(&mut c, "cleared").await.is_empty());

        let again = c
            .record_callback(reached(id, "dissatisfied"))
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
        assert!(
            again.message().contains(&format!("ticket {id}")),
            "{again:?}"
        );

        let results = core.desk.store.survey_results(id).await.unwrap();
        assert_eq!(results.len(), 1, "the second callback stored nothing");
        assert_eq!(results[0].satisfaction.as_str(), "satisfied");
        assert_eq!(results[0].comment, "修得很快");
        let history = s1
            .get_ticket_history(pb::GetTicketHistoryRequest { id })
            .await
            .unwrap()
            .into_inner()
            .events;
        let actions: Vec<&str> = history.iter().map(|a| a.action.as_str()).collect();
        assert!(actions.contains(&"survey_callback"), "{actions:?}");
        assert!(actions.contains(&"task_done:survey"), "{actions:?}");
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss2_unreached_customer_retried_within_hours_at_most_n_times() {
    for (core, clock) in cores("ss2-retry").await {
        let mut s1 = tk(&core, "s1");
        let id = cleared(&mut s1, "01061110002", "东城", "noise").await;
        let mut c = sv(&core, "sv1");
        let r = c
            .record_callback(not_reached(id))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((r.attempt, r.next.as_str()), (1, "retry"));
        let next = r.next_attempt_at.unwrap();
        assert_eq!(next.seconds * 1000, TEN + 2 * HOUR_MS);

        // too soon
        let e = c.record_callback(not_reached(id)).await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert!(e.message().contains("next attempt"), "{e:?}");
        let w = list(&mut c, "cleared").await;
        assert_eq!(w[0].attempts, 1);
        assert!(!w[0].callable_now);

        clock.advance_ms(2 * HOUR_MS);
        let r = c
            .record_callback(not_reached(id))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((r.attempt, r.next.as_str()), (2, "retry"));

        // 21:00 Beijing: outside calling hours, even though the wait is over
        clock.set(hotline_domain::Timestamp(TEN + 11 * HOUR_MS));
        let e = c.record_callback(not_reached(id)).await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert!(e.message().contains("calling hours 08:30-20:30"), "{e:?}");

        // next morning: the third and last attempt closes the survey as unreachable
        clock.set(hotline_domain::Timestamp(TEN + DAY_MS - HOUR_MS));
        let mut c = core.client_as(
            &relogin(&core, "sv1").await,
            SurveyServiceClient::with_interceptor,
        );
        let r = c
            .record_callback(not_reached(id))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((r.attempt, r.next.as_str()), (3, "unreachable"));
        assert!(list(&mut c, "cleared").await.is_empty());
        let e = c
            .record_callback(reached(id, "satisfied"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert!(e.message().contains("no open callback survey"), "{e:?}");

        let stats = c
            .get_survey_stats(pb::GetSurveyStatsRequest {
                from: Some(prost_types::Timestamp {
                    seconds: (TEN - DAY_MS) / 1000,
                    nanos: 0,
                }),
                to: Some(prost_types::Timestamp {
                    seconds: (TEN + 2 * DAY_MS) / 1000,
                    nanos: 0,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (stats.attempts, stats.not_reached, stats.unreachable),
            (3, 3, 1)
        );
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss2_callback_refusals_name_the_reason_or_the_field() {
    for (core, _clock) in cores("ss2-refusals").await {
        let mut s1 = tk(&core, "s1");
        let mut c = sv(&core, "sv1");
        // not cleared
        let open = dispatched(&mut s1, "01061110003", "西城", "drops").await;
        let e = c
            .record_callback(reached(open.id, "satisfied"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert!(e.message().contains("dispatched"), "{e:?}");
        assert!(e.message().contains("回单"), "{e:?}");
        // unknown ticket
        let e = c
            .record_callback(reached(999_999, "satisfied"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound, "{e:?}");
        let e = c
            .record_callback(reached(0, "satisfied"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("ticket_id"), "{e:?}");

        let id = cleared(&mut s1, "01061110004", "西城", "drops").await;
        for (req, field) in [
            (reached(id, "very_happy"), "satisfaction"),
            (reached(id, ""), "satisfaction"),
            (
                pb::RecordCallbackRequest {
                    outcome: "maybe".into(),
                    ..reached(id, "satisfied")
                },
                "outcome",
            ),
            (
                pb::RecordCallbackRequest {
                    consent: "perhaps".into(),
                    ..reached(id, "satisfied")
                },
                "consent",
            ),
        ] {
            let e = c.record_callback(req).await.unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
            assert!(e.message().starts_with(field), "{field}: {e:?}");
        }
        let e = c
            .list_survey_work(pb::ListSurveyWorkRequest {
                list: "everything".into(),
                limit: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("list"), "{e:?}");
        // nothing was stored by the refusals
        assert!(core.desk.store.survey_results(id).await.unwrap().is_empty());
        assert_eq!(list(&mut c, "cleared").await[0].attempts, 0);
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss6_customer_information_kept_only_with_consent() {
    for (core, _clock) in cores("ss6-consent").await {
        let mut s1 = tk(&core, "s1");
        let mut c = sv(&core, "sv1");
        let id = cleared(&mut s1, "01061110005", "东城", "noise").await;
        let profile = pb::CustomerProfile {
            education: "college".into(),
            age_band: "45_59".into(),
            spending_level: "medium".into(),
            operator_opinion: "good".into(),
        };
        for consent in ["", "not_asked", "refused"] {
            let e = c
                .record_callback(pb::RecordCallbackRequest {
                    consent: consent.into(),
                    profile: Some(profile.clone()),
                    ..reached(id, "satisfied")
                })
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{consent}: {e:?}");
            assert!(e.message().starts_with("profile"), "{e:?}");
            assert!(e.message().contains("consent"), "{e:?}");
        }
        assert!(core.desk.store.survey_results(id).await.unwrap().is_empty());
        c.record_callback(pb::RecordCallbackRequest {
            consent: "given".into(),
            profile: Some(profile),
            ..reached(id, "basically_satisfied")
        })
        .await
        .expect("with consent");
        let r = &core.desk.store.survey_results(id).await.unwrap()[0];
        assert_eq!(r.consent.as_str(), "given");
        assert_eq!(r.profile.education.map(|e| e.as_str()), Some("college"));
        assert_eq!(r.profile.age_band.map(|e| e.as_str()), Some("45_59"));
        assert_eq!(r.profile.spending_level.map(|e| e.as_str()), Some("medium"));
        assert_eq!(r.profile.operator_opinion.map(|e| e.as_str()), Some("good"));

        // a refusal is recorded, with no information
        let id2 = cleared(&mut s1, "01061110006", "东城", "noise").await;
        c.record_callback(pb::RecordCallbackRequest {
            consent: "refused".into(),
            ..reached(id2, "satisfied")
        })
        .await
        .expect("refused consent, no profile");
        let r = &core.desk.store.survey_results(id2).await.unwrap()[0];
        assert_eq!(r.consent.as_str(), "refused");
        assert!(r.profile.is_empty());
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss1_answered_report_surveyed_from_the_completed_list() {
    for (core, _clock) in cores("ss1-completed").await {
        let mut s1 = tk(&core, "s1");
        let mut c = sv(&core, "sv1");
        let t = new_ticket(&mut s1, "01061110007", "南城", "other").await;
        s1.answer_ticket(pb::AnswerTicketRequest {
            id: t.id,
            answer: "话费问题请到营业厅".into(),
        })
        .await
        .expect("answer");
        let work = list(&mut c, "completed").await;
        assert_eq!(work.len(), 1);
        assert_eq!(work[0].ticket_id, t.id);
        assert_eq!(
            work[0].task_id, 0,
            "no survey task before the first attempt"
        );
        assert_eq!(work[0].source, "completed");
        assert!(work[0].callable_now);

        let r = c
            .record_callback(not_reached(t.id))
            .await
            .unwrap()
            .into_inner();
        assert!(r.task_id > 0);
        assert!(list(&mut c, "completed").await.is_empty());
        // begun, it is an open survey: on the survey list with its attempt
        let open = list(&mut c, "cleared").await;
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].source.as_str(), open[0].attempts),
            ("completed", 1)
        );
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss1_answered_report_callback_recorded_once() {
    for (core, _clock) in cores("ss1-once").await {
        let mut s1 = tk(&core, "s1");
        let mut c = sv(&core, "sv1");
        let t = new_ticket(&mut s1, "01061110008", "南城", "other").await;
        s1.answer_ticket(pb::AnswerTicketRequest {
            id: t.id,
            answer: "已解释".into(),
        })
        .await
        .expect("answer");
        c.record_callback(reached(t.id, "satisfied"))
            .await
            .expect("first");
        let e = c
            .record_callback(reached(t.id, "satisfied"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
        let results = core.desk.store.survey_results(t.id).await.unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].source.as_str(), "completed");
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss3_due_list_shows_orders_warned_and_urged() {
    for (core, clock) in cores("ss3-due").await {
        let mut s1 = tk(&core, "s1");
        let mut c = sv(&core, "sv1");
        let t = dispatched(&mut s1, "01061110009", "北城", "noise").await;
        assert!(
            list(&mut c, "due").await.is_empty(),
            "not near its limit yet"
        );
        let limit_ms = i64::from(t.repair_limit_hours) * HOUR_MS;
        // past the limit: the scheduler raises the breach and queues the urge (催单)
        clock.advance_ms(limit_ms + MINUTE_MS);
        hotline_core::scheduler::tick(&core.desk).await.unwrap();
        let mut c = core.client_as(
            &relogin(&core, "sv1").await,
            SurveyServiceClient::with_interceptor,
        );
        let due = list(&mut c, "due").await;
        assert_eq!(due.len(), 1);
        let e = &due[0];
        assert_eq!(e.ticket_id, t.id);
        assert!(e.warned && e.urged, "{e:?}");
        assert_eq!(e.contact_number, "13800138000");
        assert_eq!(e.elapsed_ms, MINUTE_MS, "time past the limit");
        let urges = core.desk.store.pending_outbox(50).await.unwrap();
        assert!(
            urges.iter().any(|(_, _, p)| p.contains("\"urge\"")),
            "{urges:?}"
        );
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss4_second_dispatch_goes_to_a_senior_and_is_sent_with_the_written_warning() {
    for (core, _clock) in cores("ss4-second").await {
        let mut s1 = tk(&core, "s1");
        let mut c = sv(&core, "sv1");
        let id = cleared(&mut s1, "01061110010", "东城", "noise").await;
        c.record_callback(reached(id, "dissatisfied"))
            .await
            .expect("record");
        // a repeat report on the finished order
        new_ticket(&mut s1, "01061110010", "东城", "noise").await;
        let work = list(&mut c, "investigate").await;
        let e = work
            .iter()
            .find(|e| e.ticket_id == id)
            .expect("on the list");
        assert_eq!((e.repeats, e.dissatisfied), (1, 1));

        // refusals first
        let bad = c
            .investigate(pb::InvestigateRequest {
                ticket_id: id,
                outcome: "second_dispatch".into(),
                note: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);
        assert!(bad.message().starts_with("note"), "{bad:?}");
        let bad = c
            .investigate(pb::InvestigateRequest {
                ticket_id: id,
                outcome: "refund".into(),
                note: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);
        assert!(bad.message().starts_with("outcome"), "{bad:?}");

        let inv = c
            .investigate(pb::InvestigateRequest {
                ticket_id: id,
                outcome: "second_dispatch".into(),
                note: "修复后仍有杂音，重复申告".into(),
            })
            .await
            .expect("investigate")
            .into_inner();
        assert_eq!(inv.outcome_label, "二次派单");
        assert!(inv.order_id > 0);
        assert!(
            list(&mut c, "investigate")
                .await
                .iter()
                .all(|e| e.ticket_id != id)
        );
        let view = s1
            .get_ticket(pb::GetTicketRequest { id })
            .await
            .unwrap()
            .into_inner();
        let order = view.orders.iter().find(|o| o.id == inv.order_id).unwrap();
        assert_eq!(order.kind, "second_dispatch");
        assert_eq!(order.review, "pending", "a senior reviews it (SO5)");
        assert!(
            core.desk
                .store
                .pending_outbox(50)
                .await
                .unwrap()
                .iter()
                .all(|(_, o, _)| *o != inv.order_id),
            "not sent before the review"
        );
        // the ticket is not finished any more: a second investigation is refused
        let s = s1
            .review_order(pb::ReviewOrderRequest {
                ticket_id: id,
                order_id: inv.order_id,
                approve: true,
                note: "同意二次派单".into(),
            })
            .await
            .expect("review")
            .into_inner();
        assert_eq!(s.ticket.unwrap().status, "dispatched");
        let queued = core.desk.store.pending_outbox(50).await.unwrap();
        let (_, _, payload) = queued
            .iter()
            .find(|(_, o, _)| *o == inv.order_id)
            .expect("queued for the 112 centre");
        assert!(payload.contains("second_dispatch"), "{payload}");
        assert!(
            payload.contains("修复后仍有杂音"),
            "the surveyor's written warning is what is sent: {payload}"
        );
        let e = c
            .investigate(pb::InvestigateRequest {
                ticket_id: id,
                outcome: "apology".into(),
                note: "致歉".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert!(e.message().contains("finished order"), "{e:?}");

        // SO5 evidence: the written warning counts against the branch
        let stats = c
            .get_survey_stats(pb::GetSurveyStatsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stats.warnings.len(), 1);
        assert_eq!(
            (
                stats.warnings[0].branch.as_str(),
                stats.warnings[0].warnings
            ),
            ("东城", 1)
        );
        let history = s1
            .get_ticket_history(pb::GetTicketHistoryRequest { id })
            .await
            .unwrap()
            .into_inner()
            .events;
        assert!(
            history
                .iter()
                .any(|a| a.action == "survey_investigation:second_dispatch")
        );
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss4_apology_and_explanation_are_recorded_and_audited() {
    for (core, _clock) in cores("ss4-apology").await {
        let mut s1 = tk(&core, "s1");
        let mut c = sv(&core, "sv1");
        let id = cleared(&mut s1, "01061110011", "西城", "drops").await;
        for outcome in ["apology", "explanation"] {
            let inv = c
                .investigate(pb::InvestigateRequest {
                    ticket_id: id,
                    outcome: outcome.into(),
                    note: "已向用户说明".into(),
                })
                .await
                .expect("investigate")
                .into_inner();
            assert_eq!(inv.outcome, outcome);
            assert_eq!(inv.order_id, 0);
            assert_eq!(inv.made_by, "sv1");
        }
        assert_eq!(core.desk.store.investigations(id).await.unwrap().len(), 2);
        let status = s1
            .get_ticket(pb::GetTicketRequest { id })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, "cleared", "an apology changes no state");
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss5_weekly_rates_per_branch_and_fault_type_name_the_weakest() {
    for (core, _clock) in cores("ss5-stats").await {
        let mut s1 = tk(&core, "s1");
        let mut c = sv(&core, "sv1");
        let plan = [
            ("01061110020", "东城", "noise", "satisfied"),
            ("01061110021", "东城", "noise", "basically_satisfied"),
            ("01061110022", "东城", "drops", "satisfied"),
            ("01061110023", "西城", "noise", "dissatisfied"),
            ("01061110024", "西城", "drops", "dissatisfied"),
            ("01061110025", "西城", "drops", "satisfied"),
        ];
        for (n, b, f, s) in plan {
            let id = cleared(&mut s1, n, b, f).await;
            c.record_callback(reached(id, s)).await.expect("record");
        }
        let st = c
            .get_survey_stats(pb::GetSurveyStatsRequest::default())
            .await
            .unwrap()
            .into_inner();
        let overall = st.overall.unwrap();
        assert_eq!((overall.total, overall.dissatisfied), (6, 2));
        assert!((overall.rate - 4.0 / 6.0).abs() < 1e-9);
        let group = |d: &str, k: &str| {
            st.groups
                .iter()
                .find(|g| g.dimension == d && g.key == k)
                .unwrap()
                .tally
                .unwrap()
        };
        assert_eq!(group("branch", "东城").rate, 1.0);
        assert!((group("branch", "西城").rate - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(group("fault_type", "drops").total, 3);
        assert_eq!(st.weakest[0].key, "西城");
        assert_eq!(st.weak_points[0], "分局 西城: 满意率 33.3% (1/3), 不满意 2");
        // this week is Monday 2024-09-30 .. Monday 2024-10-07 (Beijing)
        let from = st.from.unwrap().seconds * 1000;
        assert_eq!(from, TEN - 10 * HOUR_MS - 4 * DAY_MS);
        assert_eq!(st.to.unwrap().seconds * 1000, from + 7 * DAY_MS);
        // a period with nothing in it; a half-given one is refused naming the field
        let empty = c
            .get_survey_stats(pb::GetSurveyStatsRequest {
                from: Some(prost_types::Timestamp {
                    seconds: 1_000,
                    nanos: 0,
                }),
                to: Some(prost_types::Timestamp {
                    seconds: 2_000,
                    nanos: 0,
                }),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(empty.overall.unwrap().total, 0);
        let e = c
            .get_survey_stats(pb::GetSurveyStatsRequest {
                from: Some(prost_types::Timestamp {
                    seconds: 1_000,
                    nanos: 0,
                }),
                to: None,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("to"), "{e:?}");
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ss1_other_roles_are_permission_denied_with_the_reason() {
    for (core, _clock) in cores("ss-perm").await {
        let mut s1 = tk(&core, "s1");
        let id = cleared(&mut s1, "01061110030", "东城", "noise").await;
        for who in ["j1", "s1"] {
            let mut c = sv(&core, who);
            let e = c
                .list_survey_work(pb::ListSurveyWorkRequest {
                    list: "cleared".into(),
                    limit: 0,
                })
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::PermissionDenied, "{who}: {e:?}");
            assert!(e.message().contains("satisfaction surveyor"), "{e:?}");
            let e = c
                .record_callback(reached(id, "satisfied"))
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::PermissionDenied, "{who}: {e:?}");
        }
        // the admin stands in for the surveyor
        let mut admin = core.client_as(&core.admin, SurveyServiceClient::with_interceptor);
        assert_eq!(list(&mut admin, "cleared").await.len(), 1);
        assert!(core.desk.store.survey_results(id).await.unwrap().is_empty());
        core.shutdown().await;
    }
}
