//! The life of a trouble ticket at the simulated centre, driven by a background task:
//!
//! `acknowledged` —(`progress_after`)→ `inProgress` (note "线路测试完成, 已派维修人员")
//! —(`resolve_after`, × `late_factor` for a late ticket)→ `resolved` (回单), with the
//! characteristic `repairOutcome` = `repaired`, or `failed` for a failed repair.
//!
//! Whether a ticket is late or failed is drawn from the seed and its external identifier, so a
//! run is reproducible whatever the order in which dispatches arrive. Step times are counted from
//! the previous step's due time, so a simulator that was down catches up after a restart. Each
//! step appends `statusChangeHistory` and emits an event after its commit.

use crate::events::Hub;
use crate::store::{NewTicket, Store, StoredTicket};
use crate::util::{now_ms, rfc3339};
use hotline_center112::wire::{
    Characteristic, Note, Status, StatusChange, TroubleTicket, TroubleTicketCreate,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Who writes the centre's own notes.
pub const CENTER_AUTHOR: &str = "112测量管理中心";
pub const PROGRESS_NOTE: &str = "线路测试完成, 已派维修人员";

/// The timing and draws of the lifecycle.
#[derive(Clone, Debug)]
pub struct Plan {
    pub progress_after_ms: i64,
    pub resolve_after_ms: i64,
    pub late_factor: f64,
    pub late_fraction: f64,
    pub fail_fraction: f64,
    pub seed: u64,
}

/// A uniform draw in [0, 1) fixed by the seed, a purpose and the external identifier.
fn draw(seed: u64, purpose: &str, external_id: &str) -> f64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(external_id.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

impl Plan {
    /// (late, failed) of the ticket with this external identifier.
    pub fn draws(&self, external_id: &str) -> (bool, bool) {
        (
            draw(self.seed, "late", external_id) < self.late_fraction,
            draw(self.seed, "fail", external_id) < self.fail_fraction,
        )
    }

    fn resolve_ms(&self, late: bool) -> i64 {
        if late {
            (self.resolve_after_ms as f64 * self.late_factor).round() as i64
        } else {
            self.resolve_after_ms
        }
    }

    /// The acknowledged ticket for a dispatch (id and href are the store's).
    pub fn new_ticket(&self, create: TroubleTicketCreate, now: i64) -> NewTicket {
        let external_id = create
            .external_identifier
            .first()
            .map(|e| e.id.clone())
            .unwrap_or_default();
        let (late, failed) = self.draws(&external_id);
        let at = rfc3339(now);
        let mut notes: Vec<Note> = Vec::with_capacity(create.note.len());
        for mut n in create.note {
            if notes.iter().any(|m| m.id == n.id) {
                continue;
            }
            if n.date.is_empty() {
                n.date = at.clone();
            }
            notes.push(n);
        }
        let note_count = notes.len() as i64;
        let ticket = TroubleTicket {
            id: String::new(),
            href: String::new(),
            external_identifier: create.external_identifier,
            name: create.name,
            description: create.description,
            severity: create.severity,
            priority: create.priority,
            ticket_type: create.ticket_type,
            status: Status::Acknowledged,
            status_change_reason: "测量台已受理".into(),
            status_change_history: vec![StatusChange {
                status: Status::Acknowledged,
                change_date: at.clone(),
                change_reason: "测量台已受理".into(),
            }],
            creation_date: at.clone(),
            last_update: at,
            // the nominal promise; a late ticket misses it
            expected_resolution_date: rfc3339(
                now.saturating_add(self.progress_after_ms)
                    .saturating_add(self.resolve_after_ms),
            ),
            resolution_date: String::new(),
            characteristic: create.characteristic,
            note: notes,
        };
        NewTicket {
            external_id,
            ticket,
            next_at: Some(now.saturating_add(self.progress_after_ms)),
            late,
            failed,
            note_count,
        }
    }

    /// Moves a due ticket one step; `false` when it has no step to take.
    pub fn step(&self, t: &mut StoredTicket, now: i64) -> bool {
        let due = t.next_at.unwrap_or(now);
        let at = rfc3339(now);
        match t.ticket.status {
            Status::Acknowledged => {
                set_status(&mut t.ticket, Status::InProgress, PROGRESS_NOTE, &at);
                t.ticket.note.push(Note {
                    id: format!("{}-progress", t.ticket.id),
                    author: CENTER_AUTHOR.into(),
                    date: at,
                    text: PROGRESS_NOTE.into(),
                    kind: "progress".into(),
                });
                t.next_at = Some(due.saturating_add(self.resolve_ms(t.late)));
                true
            }
            Status::InProgress | Status::Pending | Status::Held => {
                let (outcome, reason) = if t.failed {
                    ("failed", "回单: 维修未能排除故障")
                } else {
                    ("repaired", "回单: 故障已排除")
                };
                set_status(&mut t.ticket, Status::Resolved, reason, &at);
                t.ticket.resolution_date = at.clone();
                t.ticket
                    .characteristic
                    .retain(|c| c.name != "repairOutcome");
                t.ticket.characteristic.push(Characteristic {
                    name: "repairOutcome".into(),
                    value: outcome.into(),
                });
                t.ticket.note.push(Note {
                    id: format!("{}-resolution", t.ticket.id),
                    author: CENTER_AUTHOR.into(),
                    date: at,
                    text: reason.into(),
                    kind: "resolution".into(),
                });
                t.next_at = None;
                true
            }
            _ => false,
        }
    }
}

/// Sets the status, its reason and `lastUpdate`, and appends the history.
pub fn set_status(t: &mut TroubleTicket, status: Status, reason: &str, at: &str) {
    t.status = status;
    t.status_change_reason = reason.to_string();
    t.last_update = at.to_string();
    t.status_change_history.push(StatusChange {
        status,
        change_date: at.to_string(),
        change_reason: reason.to_string(),
    });
}

/// The background task: sleeps until the next due step (or a wake-up for a new ticket), applies
/// due steps in batches and emits their events.
pub async fn run(
    store: Store,
    hub: Arc<Hub>,
    plan: Plan,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    const BATCH: i64 = 256;
    loop {
        let now = now_ms();
        let changed = match store.advance_due(now, BATCH, |t| plan.step(t, now)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "lifecycle step failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    _ = cancel.cancelled() => return,
                }
            }
        };
        let at = rfc3339(now);
        for t in &changed {
            tracing::info!(id = %t.ticket.id, status = t.ticket.status.as_str(), "ticket moved");
            hub.emit(&t.ticket, at.clone());
        }
        if changed.len() as i64 >= BATCH {
            continue;
        }
        let wait = match store.next_due().await {
            Ok(Some(t)) => Duration::from_millis((t - now_ms()).clamp(0, 60_000) as u64),
            Ok(None) => Duration::from_secs(60),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the next due step");
                Duration::from_millis(500)
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
            _ = cancel.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_deterministic_and_follow_the_fractions() {
        let p = Plan {
            progress_after_ms: 1,
            resolve_after_ms: 1,
            late_factor: 3.0,
            late_fraction: 0.3,
            fail_fraction: 0.1,
            seed: 9,
        };
        let ids: Vec<String> = (0..2000).map(|i| format!("order-{i}")).collect();
        let a: Vec<_> = ids.iter().map(|i| p.draws(i)).collect();
        let b: Vec<_> = ids.iter().map(|i| p.draws(i)).collect();
        assert_eq!(a, b);
        let late = a.iter().filter(|d| d.0).count();
        let failed = a.iter().filter(|d| d.1).count();
        assert!((500..700).contains(&late), "{late}");
        assert!((140..260).contains(&failed), "{failed}");
        let other = Plan {
            seed: 10,
            ..p.clone()
        };
        assert_ne!(a, ids.iter().map(|i| other.draws(i)).collect::<Vec<_>>());
        let none = Plan {
            late_fraction: 0.0,
            fail_fraction: 0.0,
            ..p.clone()
        };
        let all = Plan {
            late_fraction: 1.0,
            fail_fraction: 1.0,
            ..p
        };
        assert!(
            ids.iter()
                .all(|i| none.draws(i) == (false, false) && all.draws(i) == (true, true))
        );
    }
}
