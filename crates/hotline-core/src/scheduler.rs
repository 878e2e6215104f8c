//! The deadline scheduler: wakes when the next deadline's warning or due time comes (at most
//! every `max_sleep`), raises each warning (预警) and breach (超时) once, persists it, counts it,
//! and publishes it on the event bus. All its state is in the database, so it resumes after a
//! restart; several core replicas may run it (the store marks each deadline once).

use crate::desk::Desk;
use crate::events::DeskEvent;
use hotline_store::{DueDeadline, DueDocumentDeadline, DueLevel};
use std::future::Future;
use std::time::Duration;

fn message(d: &DueDeadline) -> String {
    let what = match d.level {
        DueLevel::Warning => "即将超时 (预警)",
        DueLevel::Breach => "已超时 (告警)",
    };
    format!(
        "工单 {} {}{}, 时限 {} ({})",
        d.ticket_id,
        d.kind.label_zh(),
        what,
        d.due_at.0,
        d.kind.requirement()
    )
}

fn document_message(d: &DueDocumentDeadline) -> String {
    let what = match d.level {
        DueLevel::Warning => "即将超时 (预警)",
        DueLevel::Breach => "已超时 (告警)",
    };
    format!(
        "文档 {} {}{}, 时限 {} ({})",
        d.document_id,
        d.kind.label_zh(),
        what,
        d.due_at.0,
        d.kind.requirement()
    )
}

/// Raises every due TE1/TE4 alert of a document (intake); returns how many.
async fn tick_documents(desk: &Desk) -> Result<usize, hotline_store::StoreError> {
    let now = desk.clock.now();
    let mut raised = 0;
    loop {
        let due = desk.store.due_document_deadlines(now, 200).await?;
        let mut progressed = false;
        for d in &due {
            if let Some(alert) = desk
                .store
                .raise_document_alert(d, now, &document_message(d))
                .await?
            {
                tracing::warn!(
                    document_id = d.document_id,
                    kind = d.kind.as_str(),
                    level = d.level.as_str(),
                    "document deadline alert"
                );
                desk.events.publish(DeskEvent::Alert(alert));
                raised += 1;
                progressed = true;
            }
        }
        if !progressed || due.len() < 200 {
            break;
        }
    }
    Ok(raised)
}

/// Raises every alert due now (tickets' and documents' deadlines); returns how many it raised.
pub async fn tick(desk: &Desk) -> Result<usize, hotline_store::StoreError> {
    let now = desk.clock.now();
    let mut raised = 0;
    loop {
        let due = desk.store.due_deadlines(now, 200).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = false;
        for d in &due {
            if let Some(alert) = desk.store.raise_alert(d, now, &message(d)).await? {
                tracing::warn!(
                    ticket_id = d.ticket_id,
                    kind = d.kind.as_str(),
                    level = d.level.as_str(),
                    "deadline alert"
                );
                desk.events.publish(DeskEvent::Alert(alert));
                if d.kind == hotline_domain::rules::DeadlineKind::Repair
                    && d.level == DueLevel::Breach
                {
                    desk.outbox_wake.notify_one(); // an urge (催单) may have been queued
                }
                raised += 1;
                progressed = true;
            }
        }
        if !progressed || due.len() < 200 {
            break;
        }
    }
    Ok(raised + tick_documents(desk).await?)
}

/// SS5: drafts the analyses of the periods that ended, and raises the monthly analysis's
/// publication alerts (20th: warning, 21st: breach) while it is unpublished; returns how many
/// alerts it raised.
pub async fn tick_analyses(
    desk: &Desk,
    analyses: &crate::desk::analyses::Analyses,
) -> Result<usize, crate::error::CoreError> {
    analyses.draft_due().await?;
    let now = desk.clock.now();
    let mut raised = 0;
    for d in desk.store.due_analysis_deadlines(now, 50).await? {
        let what = match d.level {
            DueLevel::Warning => "明日到期 (预警)",
            DueLevel::Breach => "已超时 (告警)",
        };
        let msg = format!(
            "{} {} 尚未发布，{what}，时限 {} (SS5)",
            d.kind.label_zh(),
            d.period,
            hotline_report::period::format_beijing(d.due_at.0)
        );
        if let Some(alert) = desk.store.raise_analysis_alert(&d, now, &msg).await? {
            tracing::warn!(
                analysis = d.analysis_id,
                level = d.level.as_str(),
                "analysis publication alert"
            );
            desk.events.publish(DeskEvent::Alert(alert));
            raised += 1;
        }
    }
    Ok(raised)
}

/// The earliest coming warning or due time of a ticket's, a document's or an analysis's
/// deadline.
async fn next_at(
    desk: &Desk,
) -> Result<Option<hotline_domain::Timestamp>, hotline_store::StoreError> {
    let all = [
        desk.store.next_deadline_at().await?,
        desk.store.next_document_deadline_at().await?,
        desk.store.next_analysis_deadline_at().await?,
    ];
    Ok(all.into_iter().flatten().min())
}

/// The retention rules, every `every` (and at start): archived originals past the intake's
/// `retention_days` lose their bytes, audited (DM5; nothing else ever deletes one), and call
/// recordings past `[qa] retention_days` lose their audio (QA1; the rows and links stay).
pub async fn run_retention(
    desk: Desk,
    docs: std::sync::Arc<dyn hotline_docstore::DocumentStore>,
    cfg: crate::desk::intake::IntakeConfig,
    qa: hotline_domain::qa::QaConfig,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        match desk.intake(docs.as_ref(), &cfg).retention_pass().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "retention pass"),
            Err(e) => tracing::error!(error = %e, "retention pass failed"),
        }
        match desk.quality(docs.as_ref(), &qa).purge_recordings().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "recordings past their retention purged"),
            Err(e) => tracing::error!(error = %e, "recording retention pass failed"),
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Scheduled reports (issue 17), every `every` (and at start): the daily report of the day
/// before and the monthly report of the month before, each made once and kept as a file.
pub async fn run_scheduled_reports(
    desk: Desk,
    docs: std::sync::Arc<dyn hotline_docstore::DocumentStore>,
    acd: crate::acd::AcdHandle,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let src = crate::desk::reports::QueueSource {
            rules: desk.sl_rules(&acd),
            queue: acd.queue_name(),
        };
        if let Err(e) = desk.generate_scheduled_reports(docs.as_ref(), &src).await {
            tracing::error!(error = %e, "scheduled reports failed; retried at the next pass");
        }
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Runs until `shutdown` resolves.
pub async fn run(
    desk: Desk,
    analyses: crate::desk::analyses::Analyses,
    max_sleep: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = tick(&desk).await {
            tracing::error!(error = %e, "deadline scheduler tick failed");
        }
        if let Err(e) = tick_analyses(&desk, &analyses).await {
            tracing::error!(error = %e, "analysis scheduler tick failed");
        }
        let sleep = match next_at(&desk).await {
            Ok(Some(next)) => {
                let ms = next.since(desk.clock.now()).max(10) as u64;
                Duration::from_millis(ms).min(max_sleep)
            }
            _ => max_sleep,
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    tracing::info!("deadline scheduler stopped");
}
