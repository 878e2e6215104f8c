//! Scheduled reports (issue 17, "scheduled generation: the daily report after midnight, the
//! monthly one on the 1st, stored as documents"), on SQLite and PostgreSQL under a manual
//! clock: the scheduler makes yesterday's full report and last month's once each, keeps them
//! as XLSX files in the document store, lists them newest first; the file served is the same
//! bytes as the same report exported on demand, checked against its SHA-256; other roles are
//! refused, bad fields named.

use hotline_core::clock::ManualClock;
use hotline_domain::Role;
use hotline_domain::time::{HOUR_MS, MINUTE_MS};
use hotline_proto::auth::BearerToken;
use hotline_proto::v1 as pb;
use hotline_proto::v1::report_service_client::ReportServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{StartedCore, TestCore};
use sha2::Digest as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Rp = ReportServiceClient<InterceptedService<Channel, BearerToken>>;

/// 2026-11-30 10:00 Beijing (a Monday).
const NOV30_10: i64 = 1_796_004_000_000;

async fn fresh(core: &StartedCore, who: &str) -> String {
    let mut agents =
        hotline_proto::v1::agent_service_client::AgentServiceClient::new(core.channel.clone());
    hotline_testkit::login(&mut agents, who, &format!("{who}-password")).await
}

async fn list(rp: &mut Rp, kind: &str) -> Vec<pb::ScheduledReport> {
    rp.list_scheduled_reports(pb::ListScheduledReportsRequest {
        kind: kind.into(),
        limit: 0,
    })
    .await
    .expect("list")
    .into_inner()
    .reports
}

async fn wait_for_period(rp: &mut Rp, kind: &str, period: &str) -> pb::ScheduledReport {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(r) = list(rp, kind)
            .await
            .into_iter()
            .find(|r| r.period == period)
        {
            return r;
        }
        assert!(
            Instant::now() < until,
            "the {kind} report of {period} was never made"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn collect(
    mut s: tonic::Streaming<pb::FileChunk>,
) -> Result<(String, String, Vec<u8>), tonic::Status> {
    let mut bytes = Vec::new();
    let (mut name, mut mime) = (String::new(), String::new());
    while let Some(c) = s.message().await? {
        if name.is_empty() {
            name = c.file_name.clone();
            mime = c.mime_type.clone();
        }
        bytes.extend_from_slice(&c.data);
    }
    Ok((name, mime, bytes))
}

#[tokio::test]
async fn sf11_daily_and_monthly_reports_are_made_once_and_kept_as_files() {
    // the instant is what the test says: Beijing 2026-11-30 10:00
    assert_eq!(
        hotline_report::period::format_beijing(NOV30_10),
        "2026-11-30 10:00"
    );
    for tc in TestCore::backends("scheduled-reports").await {
        let clock = ManualClock::new(hotline_domain::Timestamp(NOV30_10));
        let core = tc
            .with_clock(Arc::new(clock.clone()))
            .with_config(|c| c.scheduler_max_sleep = Duration::from_millis(50))
            .with_agent("s1", Role::Senior, "s1-password")
            .with_agent("dm1", Role::DataManager, "dm1-password")
            .with_agent("j1", Role::Junior, "j1-password")
            .start()
            .await;
        let mut s1 = core.client_as(core.token("s1"), TicketServiceClient::with_interceptor);
        for i in 0..3 {
            s1.create_ticket(pb::CreateTicketRequest {
                faulty_number: format!("0106111000{i}"),
                fault_type: "noise".into(),
                channel: "phone".into(),
                description: "电话有杂音".into(),
                ..Default::default()
            })
            .await
            .expect("create");
        }
        let mut rp: Rp = core.client_as(core.token("dm1"), ReportServiceClient::with_interceptor);
        // on the 30th: the 29th's daily report and October's monthly one
        wait_for_period(&mut rp, "daily", "2026-11-29").await;
        wait_for_period(&mut rp, "monthly", "2026-10").await;

        // after midnight: the 30th's daily report, and November's on the 1st
        clock.set(hotline_domain::Timestamp(
            NOV30_10 + 14 * HOUR_MS + 30 * MINUTE_MS,
        ));
        let token = fresh(&core, "dm1").await;
        let mut rp: Rp = core.client_as(&token, ReportServiceClient::with_interceptor);
        let daily = wait_for_period(&mut rp, "daily", "2026-11-30").await;
        let monthly = wait_for_period(&mut rp, "monthly", "2026-11").await;
        assert_eq!(daily.kind_label, "日报");
        assert_eq!(monthly.kind_label, "月报");
        assert_eq!(daily.format, "xlsx");
        assert!(daily.title.contains("2026-11-30"), "{}", daily.title);

        // the file is the report of that day, as exported on demand, and its digest holds
        let (name, mime, bytes) = collect(
            rp.get_scheduled_report(pb::GetScheduledReportRequest { id: daily.id })
                .await
                .expect("get")
                .into_inner(),
        )
        .await
        .expect("stream");
        assert_eq!(name, daily.file_name);
        assert!(mime.contains("spreadsheetml"), "{mime}");
        assert_eq!(bytes.len() as i64, daily.size);
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), daily.sha256);
        assert_eq!(&bytes[..2], b"PK", "an XLSX (zip) file");
        let (_, _, on_demand) = collect(
            rp.export_report(pb::ExportReportRequest {
                report: Some(pb::ReportRequest {
                    kind: pb::ReportKind::Full as i32,
                    branch: String::new(),
                    period: pb::PeriodKind::Day as i32,
                    from: "2026-11-30".into(),
                    to: String::new(),
                }),
                format: pb::ExportFormat::Xlsx as i32,
            })
            .await
            .expect("export")
            .into_inner(),
        )
        .await
        .expect("export stream");
        assert!(
            bytes == on_demand,
            "the stored daily report is the full report of its day ({} vs {} bytes)",
            bytes.len(),
            on_demand.len()
        );

        // more passes make nothing twice
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let all = list(&mut rp, "").await;
        let periods: Vec<(String, String)> = all
            .iter()
            .map(|r| (r.kind.clone(), r.period.clone()))
            .collect();
        assert_eq!(
            periods,
            vec![
                ("monthly".to_string(), "2026-11".to_string()),
                ("daily".to_string(), "2026-11-30".to_string()),
                ("daily".to_string(), "2026-11-29".to_string()),
                ("monthly".to_string(), "2026-10".to_string()),
            ],
            "newest period first, once each"
        );

        // bad input and other roles
        let e = rp
            .list_scheduled_reports(pb::ListScheduledReportsRequest {
                kind: "weekly".into(),
                limit: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().contains("kind"), "{}", e.message());
        let e = rp
            .get_scheduled_report(pb::GetScheduledReportRequest { id: 0 })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        let e = rp
            .get_scheduled_report(pb::GetScheduledReportRequest { id: 999 })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let jt = fresh(&core, "j1").await;
        let e = core
            .client_as(&jt, ReportServiceClient::with_interceptor)
            .list_scheduled_reports(pb::ListScheduledReportsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        core.shutdown().await;
    }
}
