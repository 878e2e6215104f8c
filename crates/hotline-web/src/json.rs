//! Domain values as the desktop's script reads them (labels in zh-CN next to wire values).

use hotline_core::acd::CallInfo;
use hotline_domain::Ticket;
use hotline_store::{AlertRecord, AuditRecord, TicketView, VoicemailRecord};
use serde_json::{Value, json};

/// A ticket row (lists, screen pops). `show_contact` false blanks the contact number.
pub fn ticket(t: &Ticket, limit_hours: u32, show_contact: bool) -> Value {
    json!({
        "id": t.id,
        "faulty_number": t.faulty_number.as_str(),
        "contact_number": if show_contact { t.contact_number.as_ref().map_or("", |n| n.as_str()) } else { "" },
        "customer_name": t.customer.name,
        "customer_class": t.customer.class.as_str(),
        "customer_class_label": t.customer.class.label_zh(),
        "branch": t.customer.branch,
        "fault_type": t.fault_type.as_str(),
        "fault_type_label": t.fault_type.label_zh(),
        "description": t.description,
        "channel": t.channel.as_str(),
        "channel_label": t.channel.label_zh(),
        "received_at": t.received_at.0,
        "created_at": t.created_at.0,
        "created_by": t.created_by,
        "urgent": t.urgent,
        "status": t.status.as_str(),
        "status_label": t.status.label_zh(),
        "repeat_of": t.repeat_of,
        "version": t.version,
        "updated_at": t.updated_at.0,
        "repair_limit_hours": limit_hours,
    })
}

/// A ticket with its orders and deadlines (the ticket panel, the review queue).
pub fn view(v: &TicketView, limit_hours: u32, show_contact: bool) -> Value {
    let mut t = ticket(&v.ticket, limit_hours, show_contact);
    t["orders"] = v
        .orders
        .iter()
        .map(|(o, d)| {
            json!({
                "id": o.id,
                "kind": o.kind.as_str(),
                "kind_label": o.kind.label_zh(),
                "review": o.review.as_str(),
                "review_label": o.review.label_zh(),
                "urgent": o.urgent,
                "note": o.note,
                "created_by": o.created_by,
                "created_at": o.created_at.0,
                "reviewed_by": o.reviewed_by,
                "review_note": o.review_note,
                "delivery": d.state.as_str(),
            })
        })
        .collect();
    t["deadlines"] = v
        .deadlines
        .iter()
        .map(|d| {
            json!({
                "kind": d.deadline.kind.as_str(),
                "label": d.deadline.kind.label_zh(),
                "due_at": d.deadline.due_at.0,
                "met_at": d.deadline.met_at.map(|m| m.0),
                "warned": d.warned,
                "breached": d.breached,
            })
        })
        .collect();
    t
}

pub fn history(events: &[AuditRecord]) -> Value {
    events
        .iter()
        .map(|e| {
            json!({
                "at": e.at.0,
                "actor": e.actor,
                "role": e.role.as_str(),
                "action": e.action.wire(),
                "action_label": e.action.label_zh(),
                "from": e.before_status.map(|s| s.as_str()).unwrap_or(""),
                "to": e.after_status.map(|s| s.as_str()).unwrap_or(""),
                "detail": e.detail,
            })
        })
        .collect()
}

pub fn alert(a: &AlertRecord) -> Value {
    json!({
        "id": a.id,
        "ticket_id": a.ticket_id,
        "deadline_kind": a.deadline_kind,
        "level": a.level,
        "at": a.at.0,
        "due_at": a.due_at.0,
        "message": a.message,
    })
}

pub fn voicemail(v: &VoicemailRecord) -> Value {
    json!({
        "id": v.id,
        "caller_id": v.caller_id,
        "number_entered": v.number_entered,
        "duration_ms": v.duration_ms,
        "received_at": v.received_at.0,
        "state": v.state.as_str(),
        "state_label": v.state.label_zh(),
        "claimed_by": v.claimed_by,
        "ticket_id": v.ticket_id,
        "note": v.note,
    })
}

/// The screen pop of an offered or connected call.
pub fn call(c: &CallInfo, limit: impl Fn(&Ticket) -> u32) -> Value {
    json!({
        "call_id": c.call_id,
        "caller_number": c.caller_number,
        "faulty_number": if c.faulty_number.is_empty() { &c.caller_number } else { &c.faulty_number },
        "senior": c.senior,
        "reason": c.reason,
        "customer_name": c.customer.as_ref().map_or("", |x| x.name.as_str()),
        "customer_class": c.customer.as_ref().map_or("", |x| x.class.as_str()),
        "customer_class_label": c.customer.as_ref().map_or("", |x| x.class.label_zh()),
        "branch": c.customer.as_ref().map_or("", |x| x.branch.as_str()),
        "repeat": c.repeat,
        "recent": c.recent.iter().map(|t| ticket(t, limit(t), true)).collect::<Vec<_>>(),
    })
}

/// One entry of a surveyor's worklist (the number to call is shown: it is the surveyor's
/// work, SS2).
pub fn survey_entry(e: &hotline_core::desk::surveys::WorkEntry) -> Value {
    let t = &e.ticket;
    json!({
        "list": e.list.as_str(),
        "source": e.source.map(|s| s.as_str()),
        "source_label": e.source.map(|s| s.label_zh()),
        "ticket_id": t.id,
        "faulty_number": t.faulty_number.as_str(),
        "contact_number": e.contact,
        "customer_name": t.customer.name,
        "fault_type_label": t.fault_type.label_zh(),
        "status": t.status.as_str(),
        "status_label": t.status.label_zh(),
        "since": e.since.0,
        "attempts": e.attempts,
        "last_attempt_at": e.last_attempt_at.map(|t| t.0),
        "next_attempt_at": e.next_attempt_at.map(|t| t.0),
        "callable_now": e.callable_now,
        "due_at": e.deadline.map(|d| d.deadline.due_at.0),
        "warned": e.deadline.is_some_and(|d| d.warned),
        "urged": hotline_core::desk::surveys::Surveys::is_urged(e),
        "repeats": e.repeats,
        "dissatisfied": e.dissatisfied,
    })
}

/// A document of the clerk's inbox, with the time left of its two hours (TE1).
pub fn document(d: &hotline_store::DocumentRecord, now_ms: i64, time_left_ms: i64) -> Value {
    json!({
        "due_at": now_ms + time_left_ms,
        "id": d.id,
        "file_name": d.file_name,
        "media_type": d.media_type,
        "size": d.size,
        "channel": d.channel.as_str(),
        "channel_label": d.channel.label_zh(),
        "received_at": d.received_at.0,
        "time_left_ms": time_left_ms,
        "state": d.state.as_str(),
        "state_label": d.state.label_zh(),
        "sender": d.sender,
        "subject": d.subject,
        "body_text": d.body_text.chars().take(2000).collect::<String>(),
        "registered_by": d.registered_by,
        "pass_reason": d.pass_reason,
        "passed_by": d.passed_by,
    })
}
