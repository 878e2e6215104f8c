//! Tickets, orders, the audit trail, deadlines, tasks and the outbox.
//!
//! Two write paths: [`Store::create_ticket`] (group-committed by [`crate::batch`]) and
//! [`Store::commit`], which stores a workflow [`Transition`] decided by the domain. Both write
//! the audit row (who, role, when, action, before → after) in the same transaction as the change.

use crate::rows::{self, DeadlineState, ORDER_COLUMNS, TICKET_COLUMNS};
use crate::{Backend, Result, Store, StoreError};
use hotline_domain::audit::{AuditAction, DeskEventKind};
use hotline_domain::order::{Order, OrderId, OrderKind, ReviewState};
use hotline_domain::repeat::{PriorTicket, RepeatAdvice, RepeatPolicy};
use hotline_domain::rules::{Deadline, DeadlineKind, DeskRules, DueLevel, deadlines_met_by};
use hotline_domain::task::TaskKind;
use hotline_domain::ticket::ValidTicket;
use hotline_domain::workflow::{SendableOrder, Transition};
use hotline_domain::{Role, Ticket, TicketId, TicketStatus, Timestamp};
use sqlx::AnyConnection;
use sqlx::{AssertSqlSafe, Row};
use std::sync::Arc;

/// A ticket with its orders (and their delivery states) and deadlines.
#[derive(Clone, Debug)]
pub struct TicketView {
    pub ticket: Ticket,
    pub orders: Vec<(Order, rows::OrderDelivery)>,
    pub deadlines: Vec<DeadlineState>,
}

impl TicketView {
    pub fn plain_orders(&self) -> Vec<Order> {
        self.orders.iter().map(|(o, _)| o.clone()).collect()
    }
    pub fn deadline(&self, kind: DeadlineKind) -> Option<&DeadlineState> {
        self.deadlines.iter().find(|d| d.deadline.kind == kind)
    }
}

/// A new ticket to create, with the rules in force.
#[derive(Clone, Debug)]
pub struct CreateRequest {
    pub valid: ValidTicket,
    pub actor: String,
    pub role: Role,
    pub now: Timestamp,
    pub rules: Arc<DeskRules>,
    /// The branch the core's branch map gives the faulty number (SF11), stamped on the
    /// ticket (`report_branch`); empty without a map.
    pub report_branch: String,
    /// The SIP Call-ID of the call the report was taken on ('' when none), which links the
    /// ticket to the call's recording (QA1).
    pub call_id: String,
}

#[derive(Clone, Debug)]
pub struct Created {
    pub ticket: Ticket,
    pub repeat: Option<RepeatAdvice>,
    pub deadlines: Vec<Deadline>,
    /// TE1 breached: the text report was entered more than the allowance after receipt.
    pub late_entry_alert: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub status: Option<TicketStatus>,
    pub faulty_number: Option<String>,
    pub channel: Option<String>,
    pub urgent_only: bool,
    /// Only tickets with an id below this (page token).
    pub before_id: Option<TicketId>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub ticket_id: TicketId,
    pub order_id: Option<OrderId>,
    pub actor: String,
    pub role: Role,
    pub at: Timestamp,
    pub action: AuditAction,
    /// The ticket's status before the action; `None` where it had none yet (creation) or the
    /// event is not about the ticket's own status (a 112 delivery, a supplement noted).
    pub before_status: Option<TicketStatus>,
    /// The status after it, `None` as above.
    pub after_status: Option<TicketStatus>,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: i64,
    pub ticket_id: TicketId,
    pub kind: TaskKind,
    pub order_id: Option<OrderId>,
    pub created_at: Timestamp,
}

/// What a commit wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitOutcome {
    /// The order created or reviewed.
    pub order_id: Option<OrderId>,
    /// The order queued for the 112 centre, if any.
    pub queued_order: Option<OrderId>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    order_id: Option<OrderId>,
    actor: &str,
    role: Role,
    at: Timestamp,
    action: AuditAction,
    before: Option<TicketStatus>,
    after: Option<TicketStatus>,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO audit (ticket_id, order_id, actor, role, at, action, before_status, after_status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(ticket_id)
        .bind(order_id)
        .bind(actor)
        .bind(role.as_str())
        .bind(at.0)
        .bind(action.wire().into_owned())
        .bind(status_col(before))
        .bind(status_col(after))
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// The audit table's spelling of an optional status: the wire name, or `''` for none.
pub(crate) fn status_col(s: Option<TicketStatus>) -> &'static str {
    s.map(TicketStatus::as_str).unwrap_or("")
}

fn status_from_col(v: &str) -> Result<Option<TicketStatus>> {
    if v.is_empty() {
        return Ok(None);
    }
    rows::parse("ticket status", v, TicketStatus::parse).map(Some)
}

/// A ticket's current status, read inside the caller's transaction.
pub(crate) async fn current_status(
    conn: &mut AnyConnection,
    ticket: TicketId,
) -> Result<TicketStatus> {
    let v: String = sqlx::query("SELECT status FROM tickets WHERE id = $1")
        .bind(ticket)
        .fetch_one(conn)
        .await?
        .try_get("status")?;
    rows::parse("ticket status", &v, TicketStatus::parse)
}

async fn prior_tickets(conn: &mut AnyConnection, number: &str) -> Result<Vec<PriorTicket>> {
    let rows = sqlx::query(
        "SELECT t.id, t.status, t.received_at, t.resolved_at, d.due_at FROM tickets t LEFT JOIN deadlines d ON d.ticket_id = t.id AND d.kind = 'repair' WHERE t.faulty_number = $1 ORDER BY t.id DESC LIMIT 20",
    )
    .bind(number)
    .fetch_all(conn)
    .await?;
    rows.iter().map(rows::prior_ticket).collect()
}

async fn insert_deadlines(conn: &mut AnyConnection, id: TicketId, ds: &[Deadline]) -> Result<()> {
    if ds.is_empty() {
        return Ok(());
    }
    let mut sql =
        String::from("INSERT INTO deadlines (ticket_id, kind, due_at, warn_at, met_at) VALUES ");
    for i in 0..ds.len() {
        let b = i * 5;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5
        ));
    }
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for d in ds {
        q = q
            .bind(id)
            .bind(d.kind.as_str())
            .bind(d.due_at.0)
            .bind(d.warn_at.0)
            .bind(d.met_at.map(|t| t.0));
    }
    q.execute(conn).await?;
    Ok(())
}

/// Inserts one ticket inside the caller's transaction. `NotFound` (a supplement of an unknown
/// ticket) is detected before anything is written, so the transaction stays usable.
/// The row of a ticket being created from `req` (both creation paths build it here).
pub(crate) fn new_ticket(
    id: TicketId,
    req: &CreateRequest,
    status: TicketStatus,
    repeat_of: Option<TicketId>,
) -> Ticket {
    let v = &req.valid;
    Ticket {
        id,
        faulty_number: v.faulty_number.clone(),
        contact_number: v.contact_number.clone(),
        customer: v.customer.clone(),
        fault_type: v.fault_type,
        description: v.description.clone(),
        channel: v.channel,
        received_at: v.received_at,
        created_at: req.now,
        created_by: req.actor.clone(),
        urgent: v.urgent,
        status,
        repeat_of,
        supplement_of: v.supplement_of,
        dispatch_order: None,
        version: 1,
        updated_at: req.now,
    }
}

pub(crate) async fn insert_ticket(
    conn: &mut AnyConnection,
    req: &CreateRequest,
) -> Result<Created> {
    let v = &req.valid;
    if let Some(orig) = v.supplement_of {
        let found = sqlx::query("SELECT id FROM tickets WHERE id = $1")
            .bind(orig)
            .fetch_optional(&mut *conn)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!(
                "ticket {orig} (supplement_of)"
            )));
        }
    }
    let policy = RepeatPolicy {
        window_days: req.rules.repeat_window_days,
    };
    let prior = prior_tickets(conn, v.faulty_number.as_str()).await?;
    let repeat = policy.classify(req.now, &prior);
    let status = if v.customer.class.needs_senior() || v.urgent {
        TicketStatus::Escalated
    } else {
        TicketStatus::New
    };
    let row = sqlx::query("INSERT INTO tickets (faulty_number, contact_number, customer_name, customer_class, branch, fault_type, description, channel, received_at, created_at, created_by, urgent, status, repeat_of, supplement_of, version, updated_at, report_branch, call_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $17, $18) RETURNING id")
        .bind(v.faulty_number.as_str())
        .bind(v.contact_number.as_ref().map(|c| c.as_str()).unwrap_or(""))
        .bind(v.customer.name.as_str())
        .bind(v.customer.class.as_str())
        .bind(v.customer.branch.as_str())
        .bind(v.fault_type.as_str())
        .bind(v.description.as_str())
        .bind(v.channel.as_str())
        .bind(v.received_at.0)
        .bind(req.now.0)
        .bind(req.actor.as_str())
        .bind(i64::from(v.urgent))
        .bind(status.as_str())
        .bind(repeat.map(|r| r.original()))
        .bind(v.supplement_of)
        .bind(req.now.0)
        .bind(req.report_branch.as_str())
        .bind(req.call_id.as_str())
        .fetch_one(&mut *conn)
        .await?;
    let id: TicketId = row.try_get("id")?;
    let deadlines = req.rules.initial_deadlines(
        v.channel,
        v.fault_type,
        v.customer.class,
        v.urgent,
        status,
        v.received_at,
        req.now,
    );
    insert_deadlines(conn, id, &deadlines).await?;
    let detail = match repeat {
        Some(r) => format!("repeat of {}", r.original()),
        None => String::new(),
    };
    audit(
        conn,
        id,
        None,
        &req.actor,
        req.role,
        req.now,
        DeskEventKind::Create.into(),
        None,
        Some(status),
        &detail,
    )
    .await?;
    if let Some(orig) = v.supplement_of {
        let detail = format!("supplementary complaint (补充申诉) received as ticket {id}");
        audit(
            conn,
            orig,
            None,
            &req.actor,
            req.role,
            req.now,
            DeskEventKind::Supplement.into(),
            None,
            None,
            &detail,
        )
        .await?;
    }
    if v.channel.has_original() {
        // TE3: the original of a letter, fax or e-mail is filed by the data manager.
        sqlx::query(
            "INSERT INTO tasks (ticket_id, kind, order_id, created_at) VALUES ($1, $2, NULL, $3)",
        )
        .bind(id)
        .bind(TaskKind::FileOriginal.as_str())
        .bind(req.now.0)
        .execute(&mut *conn)
        .await?;
    }
    let mut late_entry_alert = None;
    if let Some(entry) = deadlines
        .iter()
        .find(|d| d.kind == DeadlineKind::Entry && d.met_late())
    {
        sqlx::query(
            "UPDATE deadlines SET breached_at = $1 WHERE ticket_id = $2 AND kind = 'entry'",
        )
        .bind(req.now.0)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        let msg = format!(
            "工单 {id} 文本录入超时 (TE1): entered {} min after receipt",
            req.now.since(v.received_at) / 60_000
        );
        late_entry_alert = Some(
            crate::alerts::insert_alert(
                conn,
                crate::alerts::DeadlineOwner::Ticket(id),
                DeadlineKind::Entry.into(),
                DueLevel::Breach,
                req.now,
                entry.due_at,
                &msg,
            )
            .await?
            .id,
        );
    }
    let ticket = new_ticket(id, req, status, repeat.map(|r| r.original()));
    Ok(Created {
        ticket,
        repeat,
        deadlines,
        late_entry_alert,
    })
}

/// Everything needed to store one accepted workflow action.
pub struct CommitRequest<'a> {
    pub ticket: &'a Ticket,
    pub transition: &'a Transition,
    pub actor: &'a str,
    pub role: Role,
    pub now: Timestamp,
    pub rules: &'a DeskRules,
    pub text: &'a str,
}

#[derive(serde::Serialize)]
struct OutboxPayload<'a> {
    order_id: OrderId,
    ticket_id: TicketId,
    kind: &'a str,
    references: Option<OrderId>,
    urgent: bool,
    note: &'a str,
    faulty_number: &'a str,
    contact_number: &'a str,
    customer_class: &'a str,
    customer_name: &'a str,
    branch: &'a str,
    fault_type: &'a str,
    description: &'a str,
    received_at: i64,
}

/// A workflow commit as the group-commit writer takes it: owned, with the deadlines it may
/// re-arm computed up front, so the writer needs neither the caller's borrows nor the rules.
pub(crate) struct CommitJob {
    ticket: Ticket,
    transition: Transition,
    actor: String,
    role: Role,
    now: Timestamp,
    text: String,
    /// SO2: the shortened dispatch deadline, when the transition marks the ticket urgent.
    urgent_dispatch: Option<Deadline>,
    /// SO5: the restarted repair deadline, used if the queued order is a second dispatch.
    repair_restart: Deadline,
}

impl CommitJob {
    pub(crate) fn new(c: &CommitRequest<'_>) -> Self {
        let t = c.transition;
        let urgent_dispatch = (t.set_urgent
            && matches!(
                t.to,
                TicketStatus::New | TicketStatus::Escalated | TicketStatus::AwaitingReview
            ))
        .then(|| {
            c.rules.rearmed(
                DeadlineKind::Dispatch,
                c.now,
                c.rules.dispatch_allowance_ms(true),
            )
        });
        let limit = c
            .rules
            .repair_limit_ms(c.ticket.fault_type, c.ticket.customer.class);
        CommitJob {
            ticket: c.ticket.clone(),
            transition: t.clone(),
            actor: c.actor.to_string(),
            role: c.role,
            now: c.now,
            text: c.text.to_string(),
            urgent_dispatch,
            repair_restart: c.rules.rearmed(DeadlineKind::Repair, c.now, limit),
        }
    }

    pub(crate) fn ticket_id(&self) -> TicketId {
        self.ticket.id
    }
}

/// Why [`commit_in`] did not store a transition.
pub(crate) enum CommitError {
    /// Refused before anything was written (the ticket's version moved on): the transaction
    /// it ran in can carry on with other commits.
    Refused(StoreError),
    /// Failed after a write: the transaction must be rolled back.
    Failed(StoreError),
}

/// Writes one accepted transition in the caller's transaction. The optimistic version check
/// comes first, so a stale decision is refused before this commit has written anything.
pub(crate) async fn commit_in(
    conn: &mut AnyConnection,
    c: &CommitJob,
) -> std::result::Result<CommitOutcome, CommitError> {
    let t = &c.transition;
    let urgent = c.ticket.urgent || t.set_urgent;
    let resolved = !t.to.is_open() && c.ticket.status.is_open();
    let updated = sqlx::query("UPDATE tickets SET status = $1, urgent = $2, resolved_at = CASE WHEN $3 = 1 THEN $4 ELSE resolved_at END, version = version + 1, updated_at = $5 WHERE id = $6 AND version = $7")
        .bind(t.to.as_str())
        .bind(i64::from(urgent))
        .bind(i64::from(resolved))
        .bind(c.now.0)
        .bind(c.now.0)
        .bind(c.ticket.id)
        .bind(c.ticket.version)
        .execute(&mut *conn)
        .await
        .map_err(|e| CommitError::Failed(e.into()))?;
    if updated.rows_affected() != 1 {
        return Err(CommitError::Refused(StoreError::Conflict));
    }
    commit_rest(conn, c, urgent)
        .await
        .map_err(CommitError::Failed)
}

/// The rest of [`commit_in`], after the version check: orders, audit, deadlines, tasks, outbox.
async fn commit_rest(
    conn: &mut AnyConnection,
    c: &CommitJob,
    urgent: bool,
) -> Result<CommitOutcome> {
    let t = &c.transition;
    let mut order_id = None;
    let mut queued = None;
    let mut dispatch_order = c.ticket.dispatch_order;
    if let Some(o) = &t.new_order {
        let delivery = if o.review.is_sendable() {
            rows::DeliveryState::Queued
        } else {
            rows::DeliveryState::NotSendable
        };
        let row = sqlx::query("INSERT INTO orders (ticket_id, kind, refs, review, urgent, note, created_by, created_role, created_at, delivery) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
            .bind(c.ticket.id)
            .bind(o.kind.as_str())
            .bind(o.references)
            .bind(o.review.as_str())
            .bind(i64::from(o.urgent || t.set_urgent))
            .bind(o.note.as_str())
            .bind(c.actor.as_str())
            .bind(c.role.as_str())
            .bind(c.now.0)
            .bind(delivery.as_str())
            .fetch_one(&mut *conn)
            .await?;
        let id: OrderId = row.try_get("id")?;
        order_id = Some(id);
        if t.sendable_order == SendableOrder::New {
            queued = Some((id, o.kind));
            if matches!(o.kind, OrderKind::Dispatch | OrderKind::SecondDispatch) {
                dispatch_order = Some(id);
            }
        }
    }
    let mut warning: Option<String> = None;
    if let Some((rid, verdict)) = t.reviewed {
        let delivery = if verdict == ReviewState::Approved {
            rows::DeliveryState::Queued
        } else {
            rows::DeliveryState::NotSendable
        };
        let row = sqlx::query("UPDATE orders SET review = $1, reviewed_by = $2, reviewed_at = $3, review_note = $4, delivery = $5 WHERE id = $6 AND ticket_id = $7 AND review = 'pending' RETURNING kind, note")
            .bind(verdict.as_str())
            .bind(c.actor.as_str())
            .bind(c.now.0)
            .bind(c.text.as_str())
            .bind(delivery.as_str())
            .bind(rid)
            .bind(c.ticket.id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::Conflict)?;
        let kind = rows::parse(
            "order kind",
            &row.try_get::<String, _>("kind")?,
            OrderKind::parse,
        )?;
        order_id = Some(rid);
        if verdict == ReviewState::Approved {
            if kind == OrderKind::SecondDispatch {
                // SO5: the written warning sent with it is the surveyor's, not the review note
                warning = Some(row.try_get::<String, _>("note")?);
            }
            queued = Some((rid, kind));
            if matches!(kind, OrderKind::Dispatch | OrderKind::SecondDispatch) {
                dispatch_order = Some(rid);
            }
        }
    }
    if dispatch_order != c.ticket.dispatch_order {
        sqlx::query("UPDATE tickets SET dispatch_order = $1 WHERE id = $2")
            .bind(dispatch_order)
            .bind(c.ticket.id)
            .execute(&mut *conn)
            .await?;
    }
    audit(
        conn,
        c.ticket.id,
        order_id,
        &c.actor,
        c.role,
        c.now,
        t.action.into(),
        Some(t.from),
        Some(t.to),
        &c.text,
    )
    .await?;
    for kind in deadlines_met_by(t.from, t.to) {
        sqlx::query("UPDATE deadlines SET met_at = $1 WHERE ticket_id = $2 AND kind = $3 AND met_at IS NULL")
            .bind(c.now.0)
            .bind(c.ticket.id)
            .bind(kind.as_str())
            .execute(&mut *conn)
            .await?;
    }
    if let Some(d) = &c.urgent_dispatch {
        // SO2: an urgent ticket is dispatched at once: the dispatch clock shortens.
        rearm(conn, c.ticket.id, d, true).await?;
    }
    if matches!(queued, Some((_, OrderKind::SecondDispatch))) {
        // SO5: a second dispatch restarts the repair clock.
        rearm(conn, c.ticket.id, &c.repair_restart, false).await?;
    }
    for (kind, wanted) in [
        (TaskKind::Callback, t.callback_task),
        (TaskKind::Survey, t.survey_task),
    ] {
        if wanted {
            sqlx::query(
                "INSERT INTO tasks (ticket_id, kind, order_id, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(c.ticket.id)
            .bind(kind.as_str())
            .bind(order_id)
            .bind(c.now.0)
            .execute(&mut *conn)
            .await?;
        }
    }
    if let Some((oid, kind)) = queued {
        let tk = &c.ticket;
        let payload = OutboxPayload {
            order_id: oid,
            ticket_id: tk.id,
            kind: kind.as_str(),
            references: if kind == OrderKind::Dispatch {
                None
            } else {
                tk.dispatch_order
            },
            urgent,
            note: warning.as_deref().unwrap_or(&c.text),
            faulty_number: tk.faulty_number.as_str(),
            contact_number: tk.contact_number.as_ref().map(|n| n.as_str()).unwrap_or(""),
            customer_class: tk.customer.class.as_str(),
            customer_name: &tk.customer.name,
            branch: &tk.customer.branch,
            fault_type: tk.fault_type.as_str(),
            description: &tk.description,
            received_at: tk.received_at.0,
        };
        let json =
            serde_json::to_string(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO outbox (ticket_id, order_id, kind, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(tk.id)
            .bind(oid)
            .bind(kind.as_str())
            .bind(json)
            .bind(c.now.0)
            .bind(c.now.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(CommitOutcome {
        order_id,
        queued_order: queued.map(|(id, _)| id),
    })
}

impl Store {
    /// Creates a ticket; the reply comes after the group commit that holds it is durable.
    pub async fn create_ticket(&self, req: CreateRequest) -> Result<Created> {
        self.batcher.submit(req).await
    }

    pub async fn get_ticket(&self, id: TicketId) -> Result<TicketView> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {id}")))?;
        let ticket = rows::ticket(&row)?;
        let orders = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE ticket_id = $1 ORDER BY id"
        )))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(rows::order)
        .collect::<Result<Vec<_>>>()?;
        let deadlines = sqlx::query("SELECT kind, due_at, warn_at, warned_at, breached_at, met_at FROM deadlines WHERE ticket_id = $1 ORDER BY due_at, kind")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(rows::deadline)
            .collect::<Result<Vec<_>>>()?;
        Ok(TicketView {
            ticket,
            orders,
            deadlines,
        })
    }

    /// Newest first; `before_id` pages backwards.
    pub async fn list_tickets(&self, f: &ListFilter) -> Result<Vec<Ticket>> {
        let mut sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE 1 = 1");
        let mut n = 0;
        let mut next = |sql: &mut String, cond: &str| {
            n += 1;
            sql.push_str(&format!(" AND {cond} ${n}"));
        };
        if f.status.is_some() {
            next(&mut sql, "status =");
        }
        if f.faulty_number.is_some() {
            next(&mut sql, "faulty_number =");
        }
        if f.channel.is_some() {
            next(&mut sql, "channel =");
        }
        if f.before_id.is_some() {
            next(&mut sql, "id <");
        }
        if f.urgent_only {
            sql.push_str(" AND urgent = 1");
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            f.limit.clamp(1, 1000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(num) = &f.faulty_number {
            q = q.bind(num.clone());
        }
        if let Some(c) = &f.channel {
            q = q.bind(c.clone());
        }
        if let Some(b) = f.before_id {
            q = q.bind(b);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::ticket)
            .collect()
    }

    pub async fn history(&self, id: TicketId) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query("SELECT id, ticket_id, order_id, actor, role, at, action, before_status, after_status, detail FROM audit WHERE ticket_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get("id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    order_id: r.try_get("order_id")?,
                    actor: r.try_get("actor")?,
                    role: rows::parse("role", &r.try_get::<String, _>("role")?, Role::parse)?,
                    at: Timestamp(r.try_get("at")?),
                    action: rows::parse(
                        "audit action",
                        &r.try_get::<String, _>("action")?,
                        AuditAction::parse,
                    )?,
                    before_status: status_from_col(&r.try_get::<String, _>("before_status")?)?,
                    after_status: status_from_col(&r.try_get::<String, _>("after_status")?)?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// Open tasks of a kind, oldest first.
    pub async fn open_tasks(&self, kind: TaskKind, limit: u32) -> Result<Vec<TaskRecord>> {
        let rows = sqlx::query("SELECT id, ticket_id, kind, order_id, created_at FROM tasks WHERE kind = $1 AND done_at IS NULL ORDER BY id LIMIT $2")
            .bind(kind.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TaskRecord {
                    id: r.try_get("id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    kind: rows::parse(
                        "task kind",
                        &r.try_get::<String, _>("kind")?,
                        TaskKind::parse,
                    )?,
                    order_id: r.try_get("order_id")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Stores a transition decided by the domain on the ticket as it was read. Fails with
    /// [`StoreError::Conflict`] (and writes nothing) if the ticket changed since. The reply
    /// comes after the transaction holding it is durable.
    ///
    /// On SQLite, where there is one writer at a time and each commit is an fsync, workflow
    /// commits are group-committed by the writer task like ticket creations (approvals at
    /// 1,000/s: p99 of the approval 506 → 105 ms). PostgreSQL runs concurrent transactions
    /// and already flushes concurrent commits' WAL together; there, serialising them on a
    /// writer's one connection measured no better (BENCHMARKS.md), so each commits on its own.
    pub async fn commit(&self, c: CommitRequest<'_>) -> Result<CommitOutcome> {
        let job = CommitJob::new(&c);
        match self.backend {
            Backend::Sqlite => self.batcher.commit(job).await,
            Backend::Postgres => {
                let mut tx = self.begin_write().await?;
                match commit_in(&mut tx, &job).await {
                    Ok(out) => {
                        tx.commit().await?;
                        Ok(out)
                    }
                    // dropping `tx` rolls it back
                    Err(CommitError::Refused(e) | CommitError::Failed(e)) => Err(e),
                }
            }
        }
    }

    /// Outbox rows not yet delivered (for the 112 adapter), oldest first.
    pub async fn pending_outbox(&self, limit: u32) -> Result<Vec<(i64, OrderId, String)>> {
        let rows = sqlx::query("SELECT id, order_id, payload FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("order_id")?,
                    r.try_get("payload")?,
                ))
            })
            .collect()
    }

    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }
}

async fn rearm(
    conn: &mut AnyConnection,
    ticket: TicketId,
    d: &Deadline,
    only_if_earlier: bool,
) -> Result<()> {
    let sql = if only_if_earlier {
        "UPDATE deadlines SET due_at = $1, warn_at = $2, warned_at = NULL, breached_at = NULL WHERE ticket_id = $3 AND kind = $4 AND met_at IS NULL AND due_at > $5"
    } else {
        "UPDATE deadlines SET due_at = $1, warn_at = $2, warned_at = NULL, breached_at = NULL, met_at = NULL WHERE ticket_id = $3 AND kind = $4 AND due_at <> $5"
    };
    sqlx::query(sql)
        .bind(d.due_at.0)
        .bind(d.warn_at.0)
        .bind(ticket)
        .bind(d.kind.as_str())
        .bind(d.due_at.0)
        .execute(conn)
        .await?;
    Ok(())
}
