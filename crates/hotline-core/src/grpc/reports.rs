//! `hotline.v1.ReportService` (issue 17): reports as rows, as streamed files, the SO8
//! overview, restamping branches. Thin: requests become `desk::reports` queries.

use super::caller;
use crate::acd::AcdHandle;
use crate::desk::Desk;
use crate::desk::reports::{QueueSource, ReportQuery, file_name, period};
use crate::error::CoreError;
use hotline_domain::ValidationError;
use hotline_domain::analysis::ScheduledReportKind;
use hotline_proto::v1 as pb;
use hotline_proto::v1::report_service_server::ReportService;
use hotline_report::{ExportFormat, PeriodKind, Report, ReportKind};
use hotline_store::ScheduledReportRecord;
use std::pin::Pin;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

pub struct Reports {
    pub desk: Desk,
    pub acd: AcdHandle,
    /// Where the scheduled reports' files are.
    pub docs: std::sync::Arc<dyn hotline_docstore::DocumentStore>,
}

type R<T> = Result<Response<T>, Status>;

/// Chunks of a streamed file.
const CHUNK: usize = 64 * 1024;

fn kind(k: i32) -> Result<ReportKind, ValidationError> {
    Ok(match pb::ReportKind::try_from(k) {
        Ok(pb::ReportKind::Tickets) => ReportKind::Tickets,
        Ok(pb::ReportKind::Repair) => ReportKind::Repair,
        Ok(pb::ReportKind::Queue) => ReportKind::Queue,
        Ok(pb::ReportKind::Deadlines) => ReportKind::Deadlines,
        Ok(pb::ReportKind::Quality) => ReportKind::Quality,
        Ok(pb::ReportKind::Full) => ReportKind::Full,
        _ => {
            return Err(ValidationError::new(
                "kind",
                "must be tickets, repair, queue, deadlines, quality or full",
            ));
        }
    })
}

fn period_kind(k: i32) -> Result<PeriodKind, ValidationError> {
    Ok(match pb::PeriodKind::try_from(k) {
        Ok(pb::PeriodKind::Day) => PeriodKind::Day,
        Ok(pb::PeriodKind::Week) => PeriodKind::Week,
        Ok(pb::PeriodKind::Month) => PeriodKind::Month,
        Ok(pb::PeriodKind::Custom) => PeriodKind::Custom,
        _ => {
            return Err(ValidationError::new(
                "period",
                "must be day, week, month or custom",
            ));
        }
    })
}

fn format(f: i32) -> Result<ExportFormat, ValidationError> {
    Ok(match pb::ExportFormat::try_from(f) {
        Ok(pb::ExportFormat::Csv) => ExportFormat::Csv,
        Ok(pb::ExportFormat::Xlsx) => ExportFormat::Xlsx,
        Ok(pb::ExportFormat::Svg) => ExportFormat::Svg,
        Ok(pb::ExportFormat::Png) => ExportFormat::Png,
        Ok(pb::ExportFormat::Json) => ExportFormat::Json,
        _ => {
            return Err(ValidationError::new(
                "format",
                "must be csv, xlsx, svg, png or json",
            ));
        }
    })
}

fn to_pb(r: &Report) -> pb::Report {
    pb::Report {
        title: r.title(),
        branch: r.branch.clone().unwrap_or_default(),
        from: r.period.from.to_string(),
        to: r.period.to.to_string(),
        start_ms: r.period.start_ms,
        end_ms: r.period.end_ms,
        sections: r
            .sections
            .iter()
            .map(|s| pb::ReportSection {
                id: s.id.clone(),
                title: s.title.clone(),
                definition: s.definition.clone(),
                headers: s.columns.iter().map(|c| c.header.clone()).collect(),
                rows: s
                    .rows
                    .iter()
                    .map(|row| pb::ReportRow {
                        cells: row
                            .cells
                            .iter()
                            .zip(&s.columns)
                            .map(|(c, col)| c.render(col.format))
                            .collect(),
                        filter: row.filter.clone(),
                        ticket_ids: row.ticket_ids.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

type FileStream = Pin<Box<dyn Stream<Item = Result<pb::FileChunk, Status>> + Send>>;

/// A file as chunks, the first with its name and MIME type.
fn file_stream(bytes: &[u8], name: String, mime: &str) -> FileStream {
    let mut chunks: Vec<Result<pb::FileChunk, Status>> = bytes
        .chunks(CHUNK)
        .map(|c| {
            Ok(pb::FileChunk {
                data: c.to_vec(),
                ..Default::default()
            })
        })
        .collect();
    if chunks.is_empty() {
        chunks.push(Ok(pb::FileChunk::default()));
    }
    if let Some(Ok(first)) = chunks.first_mut() {
        first.file_name = name;
        first.mime_type = mime.to_string();
    }
    Box::pin(tokio_stream::iter(chunks))
}

fn scheduled(r: &ScheduledReportRecord) -> pb::ScheduledReport {
    pb::ScheduledReport {
        id: r.id,
        kind: r.kind.as_str().into(),
        kind_label: r.kind.label_zh().into(),
        period: r.period.clone(),
        title: r.title.clone(),
        file_name: r.file_name.clone(),
        format: r.format.clone(),
        size: r.size,
        sha256: r.sha256.clone(),
        generated_at: Some(crate::convert::ts(r.generated_at)),
    }
}

impl Reports {
    fn source(&self) -> QueueSource {
        QueueSource {
            rules: self.desk.sl_rules(&self.acd),
            queue: self.acd.queue_name(),
        }
    }

    fn query(&self, r: &pb::ReportRequest) -> Result<ReportQuery, CoreError> {
        let kind = kind(r.kind)?;
        let pk = period_kind(r.period)?;
        let branch = self.desk.check_branch("branch", &r.branch)?;
        let period = period(pk, &r.from, &r.to, self.desk.clock.now().0)?;
        Ok(ReportQuery {
            kind,
            branch,
            period,
        })
    }
}

#[tonic::async_trait]
impl ReportService for Reports {
    async fn get_report(&self, req: Request<pb::ReportRequest>) -> R<pb::Report> {
        caller(&req)?;
        let q = self.query(req.get_ref())?;
        let r = self.desk.report(q, self.source()).await?;
        Ok(Response::new(to_pb(&r)))
    }

    type ExportReportStream = FileStream;
    type GetScheduledReportStream = FileStream;

    async fn export_report(
        &self,
        req: Request<pb::ExportReportRequest>,
    ) -> R<Self::ExportReportStream> {
        caller(&req)?;
        let r = req.get_ref();
        let fmt = format(r.format).map_err(CoreError::from)?;
        let Some(rr) = &r.report else {
            return Err(CoreError::from(ValidationError::new("report", "is required")).into());
        };
        let q = self.query(rr)?;
        let report = self.desk.report(q, self.source()).await?;
        let name = file_name(&report, fmt);
        let bytes = self.desk.export_report(report, fmt).await?;
        Ok(Response::new(file_stream(&bytes, name, fmt.mime())))
    }

    async fn get_overview(&self, req: Request<pb::OverviewRequest>) -> R<pb::Report> {
        caller(&req)?;
        let branch = self.desk.check_branch("branch", &req.get_ref().branch)?;
        let r = self.desk.overview(branch, self.source()).await?;
        Ok(Response::new(to_pb(&r)))
    }

    async fn restamp_branches(
        &self,
        req: Request<pb::RestampBranchesRequest>,
    ) -> R<pb::RestampBranchesResponse> {
        caller(&req)?;
        let changed = self.desk.restamp_branches().await?;
        Ok(Response::new(pb::RestampBranchesResponse { changed }))
    }

    async fn list_scheduled_reports(
        &self,
        req: Request<pb::ListScheduledReportsRequest>,
    ) -> R<pb::ListScheduledReportsResponse> {
        caller(&req)?;
        let r = req.get_ref();
        let kind = match r.kind.trim() {
            "" => None,
            k => Some(ScheduledReportKind::parse(k).ok_or_else(|| {
                CoreError::from(ValidationError::new(
                    "kind",
                    format!("unknown scheduled report {k:?}; one of daily, monthly"),
                ))
            })?),
        };
        let list = self.desk.scheduled_reports(kind, r.limit).await?;
        Ok(Response::new(pb::ListScheduledReportsResponse {
            reports: list.iter().map(scheduled).collect(),
        }))
    }

    async fn get_scheduled_report(
        &self,
        req: Request<pb::GetScheduledReportRequest>,
    ) -> R<Self::GetScheduledReportStream> {
        caller(&req)?;
        let id = super::positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let (rec, bytes) = self
            .desk
            .scheduled_report_file(self.docs.as_ref(), id)
            .await?;
        let mime = ExportFormat::parse(&rec.format)
            .map(|f| f.mime())
            .unwrap_or("application/octet-stream");
        Ok(Response::new(file_stream(&bytes, rec.file_name, mime)))
    }
}
