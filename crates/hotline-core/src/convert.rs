//! Domain ↔ protobuf: the only file that knows both.

use hotline_domain::order::Order;
use hotline_domain::repeat::RepeatAdvice;
use hotline_domain::rules::DeskRules;
use hotline_domain::{Ticket, Timestamp, ValidationError};
use hotline_proto::v1 as pb;
use hotline_store::rows::{DeadlineState, OrderDelivery};
use hotline_store::{AgentRecord, AlertRecord, AuditRecord, TicketView};

pub fn ts(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.0.div_euclid(1000),
        nanos: (t.0.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub fn opt_ts(t: Option<Timestamp>) -> Option<prost_types::Timestamp> {
    t.map(ts)
}

/// A protobuf timestamp from a client, checked.
pub fn from_ts(
    field: &'static str,
    t: &prost_types::Timestamp,
) -> Result<Timestamp, ValidationError> {
    if !(0..1_000_000_000).contains(&t.nanos) || t.seconds < 0 || t.seconds > 253_402_300_799 {
        return Err(ValidationError::new(field, "is not a valid timestamp"));
    }
    Ok(Timestamp(t.seconds * 1000 + i64::from(t.nanos) / 1_000_000))
}

pub fn order(o: &Order, d: &OrderDelivery) -> pb::Order {
    pb::Order {
        id: o.id,
        ticket_id: o.ticket_id,
        kind: o.kind.as_str().into(),
        kind_label: o.kind.label_zh().into(),
        references: o.references.unwrap_or(0),
        review: o.review.as_str().into(),
        review_label: o.review.label_zh().into(),
        urgent: o.urgent,
        note: o.note.clone(),
        created_by: o.created_by.clone(),
        created_at: Some(ts(o.created_at)),
        reviewed_by: o.reviewed_by.clone().unwrap_or_default(),
        reviewed_at: opt_ts(o.reviewed_at),
        review_note: o.review_note.clone(),
        delivery: d.state.as_str().into(),
        center_ticket_id: d.center_ref.clone().unwrap_or_default(),
        center_status: d
            .center_status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
    }
}

fn deadline(d: &DeadlineState) -> pb::Deadline {
    pb::Deadline {
        kind: d.deadline.kind.as_str().into(),
        kind_label: d.deadline.kind.label_zh().into(),
        due_at: Some(ts(d.deadline.due_at)),
        warn_at: Some(ts(d.deadline.warn_at)),
        met_at: opt_ts(d.deadline.met_at),
        warned: d.warned,
        breached: d.breached,
    }
}

pub fn task(t: &hotline_store::Task) -> pb::Task {
    pb::Task {
        id: t.id,
        ticket_id: t.ticket_id,
        kind: t.kind.as_str().into(),
        kind_label: t.kind.label_zh().into(),
        order_id: t.order_id.unwrap_or(0),
        created_at: Some(ts(t.created_at)),
        done_at: t.done_at.map(ts),
        note: t.note.clone(),
    }
}

pub fn customer(c: &hotline_domain::Customer) -> pb::Customer {
    pb::Customer {
        name: c.name.clone(),
        class: c.class.as_str().into(),
        class_label: c.class.label_zh().into(),
        branch: c.branch.clone(),
    }
}

pub fn ticket(t: &Ticket, limit_hours: u32) -> pb::Ticket {
    pb::Ticket {
        id: t.id,
        faulty_number: t.faulty_number.to_string(),
        contact_number: t
            .contact_number
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default(),
        customer: Some(customer(&t.customer)),
        fault_type: t.fault_type.as_str().into(),
        fault_type_label: t.fault_type.label_zh().into(),
        description: t.description.clone(),
        channel: t.channel.as_str().into(),
        received_at: Some(ts(t.received_at)),
        created_at: Some(ts(t.created_at)),
        created_by: t.created_by.clone(),
        urgent: t.urgent,
        status: t.status.as_str().into(),
        status_label: t.status.label_zh().into(),
        repeat_of: t.repeat_of.unwrap_or(0),
        supplement_of: t.supplement_of.unwrap_or(0),
        deadlines: Vec::new(),
        orders: Vec::new(),
        version: t.version,
        updated_at: Some(ts(t.updated_at)),
        repair_limit_hours: limit_hours,
    }
}

pub fn view(v: &TicketView, limit_hours: u32) -> pb::Ticket {
    let mut t = ticket(&v.ticket, limit_hours);
    t.deadlines = v.deadlines.iter().map(deadline).collect();
    t.orders = v.orders.iter().map(|(o, d)| order(o, d)).collect();
    t
}

pub fn repeat(r: Option<RepeatAdvice>) -> pb::RepeatInfo {
    let Some(r) = r else {
        return pb::RepeatInfo::default();
    };
    let (advice, label) = match r {
        RepeatAdvice::ProgressAnswer { .. } => {
            ("progress_answer", "时限内重复申告: 查询进度答复用户")
        }
        RepeatAdvice::ManagerHotline { .. } => ("manager_hotline", "超时限重复申告: 转经理热线"),
        RepeatAdvice::ResolvedRecently { .. } => {
            ("resolved_recently", "已修复后重复申告: 转满意度调查员核查")
        }
    };
    pb::RepeatInfo {
        is_repeat: true,
        original_ticket_id: r.original(),
        advice: advice.into(),
        advice_label: label.into(),
    }
}

/// The API's spelling of an optional status: the wire name, or empty for none.
fn status_wire(s: Option<hotline_domain::TicketStatus>) -> String {
    s.map(|s| s.as_str().to_owned()).unwrap_or_default()
}

pub fn audit(a: &AuditRecord) -> pb::AuditEvent {
    pb::AuditEvent {
        id: a.id,
        ticket_id: a.ticket_id,
        order_id: a.order_id.unwrap_or(0),
        actor: a.actor.clone(),
        role: a.role.as_str().into(),
        at: Some(ts(a.at)),
        action: a.action.wire().into_owned(),
        action_label: a.action.label_zh().into_owned(),
        before_status: status_wire(a.before_status),
        after_status: status_wire(a.after_status),
        detail: a.detail.clone(),
    }
}

pub fn alert(a: &AlertRecord) -> pb::Alert {
    pb::Alert {
        id: a.id,
        ticket_id: a.ticket_id,
        deadline_kind: a.deadline_kind.as_str().into(),
        level: a.level.as_str().into(),
        at: Some(ts(a.at)),
        due_at: Some(ts(a.due_at)),
        message: a.message.clone(),
    }
}

pub fn agent(a: &AgentRecord) -> pb::Agent {
    pb::Agent {
        agent_id: a.agent_id.clone(),
        name: a.name.clone(),
        role: a.role.as_str().into(),
        role_label: a.role.label_zh().into(),
        presence: a.presence.as_str().into(),
        active: a.active,
        created_at: Some(ts(a.created_at)),
    }
}

pub fn rules(r: &DeskRules) -> pb::TimeRules {
    pb::TimeRules {
        time_limits: r
            .time_limits
            .rules
            .iter()
            .map(|row| pb::TimeLimitRow {
                fault_type: row.fault_type.map(|f| f.as_str()).unwrap_or("*").into(),
                customer_class: row.customer_class.map(|c| c.as_str()).unwrap_or("*").into(),
                hours: row.hours,
            })
            .collect(),
        default_hours: r.time_limits.default_hours,
        entry_minutes: r.entry_minutes,
        escalation_minutes: r.escalation_minutes,
        dispatch_minutes: r.dispatch_minutes,
        urgent_dispatch_minutes: r.urgent_dispatch_minutes,
        warn_ratio: r.warn_ratio,
        repeat_window_days: r.repeat_window_days,
    }
}
