//! `hotline report KIND ...` (issue 17): reports over gRPC as a table, or as a file in a
//! format (`-o FILE`, else stdout); `hotline admin restamp-branches` is in admin.rs' style:
//! directly on the store with the config file's `[branches]`.

use crate::client::{Conn, connect_authed};
use anyhow::{Context, bail};
use clap::Args;
use hotline_proto::v1 as pb;
use hotline_proto::v1::report_service_client::ReportServiceClient;
use std::io::Write;

#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    conn: Conn,
    /// tickets | repair | queue | deadlines | quality | full | overview, or `scheduled`: the
    /// daily and monthly reports the server made by itself (`--period day|month` to pick one
    /// kind; `--id N` downloads one, to `-o FILE` or stdout)
    kind: String,
    /// With `scheduled`: the report to download.
    #[arg(long)]
    id: Option<i64>,
    /// A branch of the branch map, or 未归属 (default: every branch).
    #[arg(long, default_value = "")]
    branch: String,
    /// day | week | month | custom (default: custom when --to is given, else day)
    #[arg(long)]
    period: Option<String>,
    /// First day, YYYY-MM-DD Beijing time (month: YYYY-MM also); not needed for overview.
    #[arg(long, default_value = "")]
    from: String,
    /// Last day of a custom range, YYYY-MM-DD.
    #[arg(long, default_value = "")]
    to: String,
    /// csv | xlsx | svg | png | json (default: a table on stdout)
    #[arg(long)]
    format: Option<String>,
    /// Write the file here instead of stdout.
    #[arg(short = 'o', long)]
    output: Option<std::path::PathBuf>,
}

fn kind(s: &str) -> anyhow::Result<pb::ReportKind> {
    Ok(match s {
        "tickets" => pb::ReportKind::Tickets,
        "repair" => pb::ReportKind::Repair,
        "queue" => pb::ReportKind::Queue,
        "deadlines" => pb::ReportKind::Deadlines,
        "quality" => pb::ReportKind::Quality,
        "full" => pb::ReportKind::Full,
        other => bail!(
            "unknown report {other:?}: tickets | repair | queue | deadlines | quality | full | overview"
        ),
    })
}

fn period(s: Option<&str>, to: &str) -> anyhow::Result<pb::PeriodKind> {
    Ok(match s {
        None if !to.is_empty() => pb::PeriodKind::Custom,
        None | Some("day") => pb::PeriodKind::Day,
        Some("week") => pb::PeriodKind::Week,
        Some("month") => pb::PeriodKind::Month,
        Some("custom") => pb::PeriodKind::Custom,
        Some(other) => bail!("--period {other:?}: day | week | month | custom"),
    })
}

fn format(s: &str) -> anyhow::Result<pb::ExportFormat> {
    Ok(match s {
        "csv" => pb::ExportFormat::Csv,
        "xlsx" => pb::ExportFormat::Xlsx,
        "svg" => pb::ExportFormat::Svg,
        "png" => pb::ExportFormat::Png,
        "json" => pb::ExportFormat::Json,
        other => bail!("--format {other:?}: csv | xlsx | svg | png | json"),
    })
}

fn print_table(r: &pb::Report) {
    println!("{}", r.title);
    for s in &r.sections {
        println!("\n【{}】", s.title);
        println!("口径：{}", s.definition);
        println!("{}", s.headers.join("\t"));
        for row in &s.rows {
            let mut line = row.cells.join("\t");
            if !row.filter.is_empty() {
                line.push_str(&format!("\t→ {}", row.filter));
            }
            if !row.ticket_ids.is_empty() {
                let ids: Vec<String> = row.ticket_ids.iter().take(10).map(i64::to_string).collect();
                line.push_str(&format!(
                    " [{}{}]",
                    ids.join(","),
                    if row.ticket_ids.len() > 10 {
                        ",…"
                    } else {
                        ""
                    }
                ));
            }
            println!("{line}");
        }
    }
}

pub(crate) async fn report(a: ReportArgs) -> anyhow::Result<()> {
    let mut c = ReportServiceClient::new(connect_authed(&a.conn).await?);
    if a.kind == "scheduled" {
        return scheduled(&mut c, &a).await;
    }
    if a.kind == "overview" {
        let r = c
            .get_overview(pb::OverviewRequest {
                branch: a.branch.clone(),
            })
            .await?
            .into_inner();
        print_table(&r);
        return Ok(());
    }
    let req = pb::ReportRequest {
        kind: kind(&a.kind)? as i32,
        branch: a.branch.clone(),
        period: period(a.period.as_deref(), &a.to)? as i32,
        from: a.from.clone(),
        to: a.to.clone(),
    };
    let Some(f) = a.format.as_deref() else {
        let r = c.get_report(req).await?.into_inner();
        print_table(&r);
        return Ok(());
    };
    let stream = c
        .export_report(pb::ExportReportRequest {
            report: Some(req),
            format: format(f)? as i32,
        })
        .await?
        .into_inner();
    save(stream, a.output.as_deref()).await
}

/// `hotline report scheduled`: the list, or one file.
async fn scheduled(
    c: &mut ReportServiceClient<crate::client::AuthedChannel>,
    a: &ReportArgs,
) -> anyhow::Result<()> {
    if let Some(id) = a.id {
        let stream = c
            .get_scheduled_report(pb::GetScheduledReportRequest { id })
            .await?
            .into_inner();
        return save(stream, a.output.as_deref()).await;
    }
    let kind = match a.period.as_deref() {
        None => "",
        Some("day") => "daily",
        Some("month") => "monthly",
        Some(other) => bail!("--period {other:?}: day | month with `scheduled`"),
    };
    let r = c
        .list_scheduled_reports(pb::ListScheduledReportsRequest {
            kind: kind.into(),
            limit: 0,
        })
        .await?
        .into_inner();
    for s in &r.reports {
        println!(
            "{}\t{}\t{}\t{}\t{} 字节 bytes\t{}",
            s.id,
            s.kind_label,
            s.period,
            s.file_name,
            s.size,
            crate::client::beijing_time(s.generated_at.as_ref())
        );
    }
    println!("{} 份 reports", r.reports.len());
    Ok(())
}

/// Writes a streamed file to `output` or stdout.
async fn save(
    mut stream: tonic::Streaming<pb::FileChunk>,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    let mut name = String::new();
    while let Some(chunk) = stream.message().await? {
        if name.is_empty() {
            name = chunk.file_name.clone();
        }
        bytes.extend_from_slice(&chunk.data);
    }
    match output {
        Some(p) => {
            std::fs::write(p, &bytes).with_context(|| format!("writing {}", p.display()))?;
            eprintln!(
                "wrote {} ({} bytes; server name {name})",
                p.display(),
                bytes.len()
            );
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

/// `hotline admin restamp-branches`: every ticket stamped again with the config's map.
pub(crate) async fn restamp(store: &crate::config::StoreArgs) -> anyhow::Result<()> {
    let file = crate::config::load(store.config.as_deref())?;
    let map = hotline_report::BranchMap::new(&file.report_config().branches)?;
    let url = crate::config::database_url(store, &file)?;
    let s = hotline_store::Store::open(hotline_store::StoreOptions::new(url)).await?;
    let res = s
        .restamp_branches(&|n: &str| {
            if map.is_empty() {
                String::new()
            } else {
                map.branch_of(n).to_string()
            }
        })
        .await;
    s.close().await;
    println!("已重新标注分公司 restamped {} tickets", res?);
    Ok(())
}
