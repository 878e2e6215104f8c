//! SS5 over gRPC, on SQLite and PostgreSQL, under a manual clock: after the month ends the
//! scheduler drafts the monthly satisfaction analysis (and the last week's statistics) from the
//! recorded callbacks, once; seniors read it, only the surveyor publishes it, once; an
//! unpublished monthly analysis raises a warning on the 20th and a breach on the 21st, and a
//! published one raises nothing.

use hotline_core::clock::ManualClock;
use hotline_domain::Role;
use hotline_domain::rules::{AlertKind, DueLevel};
use hotline_domain::time::{DAY_MS, HOUR_MS, MINUTE_MS};
use hotline_proto::auth::BearerToken;
use hotline_proto::v1 as pb;
use hotline_proto::v1::survey_service_client::SurveyServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{StartedCore, TestCore};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Sv = SurveyServiceClient<InterceptedService<Channel, BearerToken>>;

/// 2026-12-01 00:00 Beijing time.
const DEC_1: i64 = 1_796_083_200_000 - 8 * HOUR_MS;
/// 2026-11-16 10:00 Beijing time (a Monday, in calling hours).
const NOV_16_TEN: i64 = DEC_1 - 15 * DAY_MS + 10 * HOUR_MS;

async fn login(core: &StartedCore, who: &str) -> String {
    let mut agents =
        hotline_proto::v1::agent_service_client::AgentServiceClient::new(core.channel.clone());
    hotline_testkit::login(&mut agents, who, &format!("{who}-password")).await
}

async fn sv(core: &StartedCore, who: &str) -> Sv {
    let token = login(core, who).await;
    core.client_as(&token, SurveyServiceClient::with_interceptor)
}

async fn cleared_ticket(core: &StartedCore, number: &str, branch: &str) -> i64 {
    let token = login(core, "s1").await;
    let mut s1 = core.client_as(&token, TicketServiceClient::with_interceptor);
    let t = s1
        .create_ticket(pb::CreateTicketRequest {
            faulty_number: number.into(),
            contact_number: "13800138000".into(),
            customer_name: "王五".into(),
            branch: branch.into(),
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

async fn analyses(c: &mut Sv, kind: &str) -> Vec<pb::Analysis> {
    c.list_analyses(pb::ListAnalysesRequest {
        kind: kind.into(),
        limit: 0,
    })
    .await
    .expect("list analyses")
    .into_inner()
    .analyses
}

/// Waits (real time) until the scheduler has drafted the analysis of `kind` for `period`.
async fn drafted(c: &mut Sv, kind: &str, period: &str) -> pb::Analysis {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(a) = analyses(c, kind)
            .await
            .into_iter()
            .find(|a| a.period == period)
        {
            return a;
        }
        assert!(Instant::now() < until, "no {kind} analysis for {period}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the analysis has `n` alerts.
async fn alerts(core: &StartedCore, id: i64, n: usize) -> Vec<hotline_store::AlertRecord> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let a = core.core.desk.store.analysis_alerts(id).await.unwrap();
        if a.len() >= n {
            return a;
        }
        assert!(
            Instant::now() < until,
            "analysis {id}: {} alerts of {n}",
            a.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ss5_monthly_analysis_drafted_after_month_end_published_once_alerted_on_the_20th_and_21st()
{
    for tc in TestCore::backends("ss5-analysis").await {
        let db = tc.database_url().to_string();
        let clock = ManualClock::new(hotline_domain::Timestamp(NOV_16_TEN));
        let core = tc
            .with_clock(Arc::new(clock.clone()))
            .with_agent("sv1", Role::Surveyor, "sv1-password")
            .with_agent("s1", Role::Senior, "s1-password")
            .with_agent("dm1", Role::DataManager, "dm1-password")
            .with_agent("j1", Role::Junior, "j1-password")
            .start()
            .await;

        // November: three callbacks, one of each answer, in two branches
        let mut c = sv(&core, "sv1").await;
        for (n, (branch, answer)) in [
            ("东城", "satisfied"),
            ("东城", "dissatisfied"),
            ("西城", "basically_satisfied"),
        ]
        .into_iter()
        .enumerate()
        {
            let id = cleared_ticket(&core, &format!("0106111000{n}"), branch).await;
            clock.advance_ms(10 * MINUTE_MS);
            c.record_callback(pb::RecordCallbackRequest {
                ticket_id: id,
                outcome: "reached".into(),
                satisfaction: answer.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("callback {n} on {db}: {e}"));
        }
        assert!(
            analyses(&mut c, "").await.is_empty(),
            "nothing is drafted before a period with tickets ends ({db})"
        );

        // 1 December, 00:30: November's analysis and the last week's statistics are drafted
        clock.set(hotline_domain::Timestamp(DEC_1 + 30 * MINUTE_MS));
        let mut c = sv(&core, "sv1").await;
        let month = drafted(&mut c, "survey_monthly", "2026-11").await;
        let week = drafted(&mut c, "survey_weekly", "2026-11-23").await;
        assert_eq!(
            (month.state.as_str(), week.state.as_str()),
            ("draft", "draft")
        );
        assert!(month.body.is_empty(), "lists carry no body");
        assert_eq!(
            month.due_at.as_ref().map(|t| t.seconds * 1000),
            Some(DEC_1 + 20 * DAY_MS),
            "due at 00:00 on the 21st"
        );
        assert!(week.due_at.is_none(), "the weekly statistics have no limit");

        // a senior reads the text; the figures are November's callbacks
        let mut senior = sv(&core, "s1").await;
        let full = senior
            .get_analysis(pb::GetAnalysisRequest { id: month.id })
            .await
            .expect("a senior reads the analysis")
            .into_inner();
        assert!(
            full.title.contains("2026-11-01 至 2026-11-30"),
            "{}",
            full.title
        );
        for want in [
            "回访结果 3 条：满意 1，基本满意 1，不满意 1；满意率 66.7%",
            "满意率低于 95% 的目标",
            "- 东城：2 条：满意 1，基本满意 0，不满意 1；满意率 50.0%",
            "- 西城：1 条",
            "杂音",
        ] {
            assert!(full.body.contains(want), "{want:?} not in\n{}", full.body);
        }
        let weekly = senior
            .get_analysis(pb::GetAnalysisRequest { id: week.id })
            .await
            .unwrap()
            .into_inner();
        assert!(weekly.body.contains("本期没有回访结果"), "{}", weekly.body);

        // who may do what
        let e = senior
            .publish_analysis(pb::PublishAnalysisRequest {
                id: month.id,
                note: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e}");
        let mut dm = sv(&core, "dm1").await;
        assert_eq!(analyses(&mut dm, "survey_monthly").await.len(), 1);
        let mut j1 = sv(&core, "j1").await;
        let e = j1
            .list_analyses(pb::ListAnalysesRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e}");
        let e = c
            .list_analyses(pb::ListAnalysesRequest {
                kind: "yearly".into(),
                limit: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().contains("kind"), "{e}");

        // the weekly statistics are published, once
        let p = c
            .publish_analysis(pb::PublishAnalysisRequest {
                id: week.id,
                note: "已阅".into(),
            })
            .await
            .expect("publish")
            .into_inner();
        assert_eq!(
            (p.state.as_str(), p.published_by.as_str()),
            ("published", "sv1")
        );
        let e = c
            .publish_analysis(pb::PublishAnalysisRequest {
                id: week.id,
                note: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e}");

        // the scheduler keeps running: still one draft of each
        clock.advance_ms(2 * HOUR_MS);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let mut c = sv(&core, "sv1").await;
        assert_eq!(analyses(&mut c, "survey_monthly").await.len(), 1);

        // unpublished on the 20th: a warning; on the 21st: a breach
        assert!(
            core.core
                .desk
                .store
                .analysis_alerts(month.id)
                .await
                .unwrap()
                .is_empty()
        );
        clock.set(hotline_domain::Timestamp(DEC_1 + 19 * DAY_MS + MINUTE_MS));
        let a = alerts(&core, month.id, 1).await;
        assert_eq!(
            (a[0].deadline_kind, a[0].level, a[0].ticket_id),
            (AlertKind::Analysis, DueLevel::Warning, 0)
        );
        assert!(
            a[0].message.contains("月度满意度分析 2026-11 尚未发布"),
            "{}",
            a[0].message
        );
        clock.set(hotline_domain::Timestamp(DEC_1 + 20 * DAY_MS + MINUTE_MS));
        let a = alerts(&core, month.id, 2).await;
        assert_eq!(a[1].level, DueLevel::Breach);
        assert!(
            core.core
                .desk
                .store
                .analysis_alerts(week.id)
                .await
                .unwrap()
                .is_empty(),
            "the published weekly statistics raise nothing"
        );

        // published late: no further alerts
        let mut c = sv(&core, "sv1").await;
        c.publish_analysis(pb::PublishAnalysisRequest {
            id: month.id,
            note: "迟发".into(),
        })
        .await
        .expect("publish the month");
        clock.advance_ms(DAY_MS);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            core.core
                .desk
                .store
                .analysis_alerts(month.id)
                .await
                .unwrap()
                .len(),
            2
        );
        core.shutdown().await;
    }
}
