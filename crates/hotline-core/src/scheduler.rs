//! The deadline scheduler: wakes when the next deadline's warning or due time comes (at most
//! every `max_sleep`), raises each warning (预警) and breach (超时) once, persists it, counts it,
//! and publishes it on the event bus. All its state is in the database, so it resumes after a
//! restart; several core replicas may run it (the store marks each deadline once).

use crate::desk::Desk;
use crate::events::DeskEvent;
use hotline_store::{DueDeadline, DueLevel};
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

/// Raises every alert due now; returns how many it raised.
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
    Ok(raised)
}

/// Runs until `shutdown` resolves.
pub async fn run(desk: Desk, max_sleep: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = tick(&desk).await {
            tracing::error!(error = %e, "deadline scheduler tick failed");
        }
        let sleep = match desk.store.next_deadline_at().await {
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
