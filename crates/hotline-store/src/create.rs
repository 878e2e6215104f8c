//! A group commit's tickets written with a fixed number of statements, whatever the batch size:
//! ids taken in one statement, one lookup of all the numbers' prior tickets (repeats
//! classified here in submission order, so a second report of a number in the same batch is a
//! repeat of the first, exactly as if they had come one by one), then one multi-row `INSERT`
//! per table (tickets, deadlines, audit, tasks, and alerts for late entries), each split into
//! chunks that stay far below the bind-parameter limits (SQLite 32,766, PostgreSQL 65,535).
//! Row counts are padded to powers of two so the statement texts repeat and stay prepared.
//!
//! [`crate::tickets::insert_ticket`] is the one-at-a-time equivalent (the fallback when a batch
//! fails); tests check that both write the same rows.

use crate::tickets::{self, CreateRequest, Created};
use crate::{Backend, Result, StoreError, rows};
use hotline_domain::audit::DeskEventKind;
use hotline_domain::repeat::{PriorTicket, RepeatPolicy};
use hotline_domain::rules::{Deadline, DeadlineKind, DueLevel};
use hotline_domain::task::TaskKind;
use hotline_domain::{TicketId, TicketStatus};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{HashMap, HashSet};

/// Most bind parameters in one statement.
const MAX_PARAMS: usize = 16_000;

/// Most items of one `IN (...)` list (a power of two, so padding stays under [`MAX_PARAMS`]).
const IN_CHUNK: usize = 8_192;

/// Most numbers in one prior-ticket lookup (one subquery each; SQLite allows 500 terms in a
/// compound SELECT).
const PRIOR_CHUNK: usize = 256;

/// Prior tickets per number that repeat detection looks at (as in `tickets::prior_tickets`).
const PRIOR_LIMIT: usize = 20;

/// One bound value.
#[derive(Clone, Copy)]
enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
}

impl Arg<'_> {
    /// A NULL of the same SQL type (for padding rows).
    fn null(self) -> Self {
        match self {
            Arg::Int(_) | Arg::OptInt(_) => Arg::OptInt(None),
            Arg::Text(_) | Arg::OptText(_) => Arg::OptText(None),
        }
    }
}

/// Rows (or list items) in one statement: `n` rounded up to a power of two, at most `max`.
/// Statements are prepared and cached per SQL text, so padding every batch to one of a few
/// sizes keeps a writer's statements prepared instead of preparing (and, on PostgreSQL,
/// planning) a new text for almost every batch.
fn bucket(n: usize, max: usize) -> usize {
    n.next_power_of_two().min(max).max(n)
}

/// Inserts `rows` (each `cols` long) into `head` (`table (columns)`), in chunks. Each
/// statement is `INSERT ... SELECT * FROM (VALUES ...) v WHERE column1 IS NOT NULL` padded
/// with rows of NULLs to a [`bucket`] size; the first column must never be NULL.
async fn insert_rows(
    conn: &mut AnyConnection,
    head: &str,
    cols: usize,
    rows: &[Arg<'_>],
) -> Result<()> {
    debug_assert_eq!(rows.len() % cols, 0);
    let per_chunk = prev_power_of_two((MAX_PARAMS / cols).max(1));
    for chunk in rows.chunks(per_chunk * cols) {
        let n = chunk.len() / cols;
        let padded = bucket(n, per_chunk);
        let mut sql = String::with_capacity(head.len() + 80 + padded * cols * 6);
        sql.push_str("INSERT INTO ");
        sql.push_str(head);
        sql.push_str(" SELECT * FROM (VALUES ");
        push_tuples(&mut sql, padded, cols, 0);
        sql.push_str(") AS v WHERE column1 IS NOT NULL");
        let pad = chunk[..cols].iter().map(|a| a.null());
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in chunk
            .iter()
            .copied()
            .chain(pad.cycle().take((padded - n) * cols))
        {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::OptInt(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
            };
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

fn prev_power_of_two(n: usize) -> usize {
    if n.is_power_of_two() {
        n
    } else {
        n.next_power_of_two() / 2
    }
}

/// `items` padded to a [`bucket`] size by repeating the last (for `IN (...)` lists).
fn padded<T: Copy>(items: &[T]) -> impl Iterator<Item = T> + '_ {
    let extra = bucket(items.len(), usize::MAX) - items.len();
    items
        .iter()
        .copied()
        .chain(items.last().copied().into_iter().cycle().take(extra))
}

/// `($1, $2), ($3, $4)` for `n` tuples of `cols`, numbering from `first + 1`.
pub(crate) fn push_tuples(sql: &mut String, n: usize, cols: usize, first: usize) {
    use std::fmt::Write;
    let mut k = first;
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            k += 1;
            let _ = write!(sql, "${k}");
        }
        sql.push(')');
    }
}

/// `n` fresh ids of `table`, ascending. On SQLite the caller holds the write lock (`BEGIN
/// IMMEDIATE`), so the next ids are those after the highest ever given (`sqlite_sequence`, as
/// AUTOINCREMENT does); inserting them explicitly moves `sqlite_sequence` on. On PostgreSQL
/// they come from the identity column's sequence, which other writers share.
pub(crate) async fn allocate_ids(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &'static str,
    n: usize,
) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    match backend {
        Backend::Sqlite => {
            let sql = format!(
                "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), COALESCE((SELECT MAX(id) FROM {table}), 0)) AS last"
            );
            let last: i64 = sqlx::query(AssertSqlSafe(sql))
                .fetch_one(&mut *conn)
                .await?
                .try_get("last")?;
            Ok((1..=n as i64).map(|i| last + i).collect())
        }
        Backend::Postgres => {
            let sql = format!(
                "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id FROM generate_series(1, $1)"
            );
            let mut ids = sqlx::query(AssertSqlSafe(sql))
                .bind(n as i64)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get::<i64, _>("id"))
                .collect::<Result<Vec<_>, _>>()?;
            ids.sort_unstable();
            if ids.len() != n {
                return Err(StoreError::Corrupt(format!(
                    "asked the {table} sequence for {n} ids, got {}",
                    ids.len()
                )));
            }
            Ok(ids)
        }
    }
}

/// Which of `ids` exist as tickets.
async fn existing_tickets(conn: &mut AnyConnection, ids: &[i64]) -> Result<HashSet<i64>> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = String::from("SELECT id FROM tickets WHERE id IN ");
        push_tuples(&mut sql, 1, bucket(chunk.len(), usize::MAX), 0);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in padded(chunk) {
            q = q.bind(id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            found.insert(r.try_get::<i64, _>("id")?);
        }
    }
    Ok(found)
}

/// The prior tickets of each number (newest first, at most [`PRIOR_LIMIT`] each): one
/// `ORDER BY id DESC LIMIT 20` subquery per number (the single-ticket query, which walks the
/// `(faulty_number, id)` index whatever the statistics say), joined by `UNION ALL`.
async fn prior_tickets(
    conn: &mut AnyConnection,
    numbers: &[&str],
) -> Result<HashMap<String, Vec<PriorTicket>>> {
    use std::fmt::Write;
    let mut out: HashMap<String, Vec<PriorTicket>> = HashMap::new();
    for chunk in numbers.chunks(PRIOR_CHUNK) {
        let n = bucket(chunk.len(), PRIOR_CHUNK);
        let mut sql = String::with_capacity(n * 260);
        for i in 1..=n {
            if i > 1 {
                sql.push_str(" UNION ALL ");
            }
            let _ = write!(
                sql,
                "SELECT * FROM (SELECT t.id, t.faulty_number, t.status, t.received_at, t.resolved_at, d.due_at FROM tickets t LEFT JOIN deadlines d ON d.ticket_id = t.id AND d.kind = 'repair' WHERE t.faulty_number = ${i} ORDER BY t.id DESC LIMIT {PRIOR_LIMIT}) AS p{i}"
            );
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        // Padding matches no ticket (a faulty number is never empty).
        for number in chunk
            .iter()
            .copied()
            .chain(std::iter::repeat_n("", n - chunk.len()))
        {
            q = q.bind(number);
        }
        for r in q.fetch_all(&mut *conn).await? {
            let number: String = r.try_get("faulty_number")?;
            out.entry(number).or_default().push(rows::prior_ticket(&r)?);
        }
    }
    // Newest first within each number, as the single-ticket query returns them.
    for v in out.values_mut() {
        v.sort_unstable_by_key(|p| std::cmp::Reverse(p.id));
    }
    Ok(out)
}

/// A ticket of the batch, decided in memory before anything is written.
struct Planned<'a> {
    req: &'a CreateRequest,
    created: Created,
    /// Set on the entry deadline when entry itself was late (TE1).
    entry_breached: bool,
    late_alert_message: Option<String>,
}

/// Writes the batch's tickets inside the caller's transaction. A supplement of an unknown
/// ticket is that request's `NotFound` (nothing written for it); any database error fails the
/// whole batch (the caller then rolls back and retries one by one).
pub(crate) async fn insert_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    reqs: &[&CreateRequest],
) -> Result<Vec<Result<Created>>> {
    if reqs.is_empty() {
        return Ok(Vec::new());
    }
    let ids = allocate_ids(conn, backend, "tickets", reqs.len()).await?;
    let mut supplement_ids: Vec<i64> = reqs.iter().filter_map(|r| r.valid.supplement_of).collect();
    supplement_ids.sort_unstable();
    supplement_ids.dedup();
    let known = if supplement_ids.is_empty() {
        HashSet::new()
    } else {
        existing_tickets(conn, &supplement_ids).await?
    };
    let mut numbers: Vec<&str> = reqs
        .iter()
        .map(|r| r.valid.faulty_number.as_str())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut prior = prior_tickets(conn, &numbers).await?;

    // Decide every ticket in submission order, as one-by-one creation would.
    let mut next_id = ids.into_iter();
    let mut created_here: HashSet<i64> = HashSet::new();
    let mut results: Vec<Option<Result<Created>>> = Vec::with_capacity(reqs.len());
    let mut planned: Vec<Planned> = Vec::with_capacity(reqs.len());
    for req in reqs {
        let v = &req.valid;
        if let Some(orig) = v.supplement_of
            && !known.contains(&orig)
            && !created_here.contains(&orig)
        {
            results.push(Some(Err(StoreError::NotFound(format!(
                "ticket {orig} (supplement_of)"
            )))));
            continue;
        }
        let id = next_id
            .next()
            .ok_or_else(|| StoreError::Corrupt("ran out of allocated ticket ids".into()))?;
        let policy = RepeatPolicy {
            window_days: req.rules.repeat_window_days,
        };
        let prior_of_number = prior
            .entry(v.faulty_number.as_str().to_string())
            .or_default();
        let repeat = policy.classify(req.now, prior_of_number);
        let status = if v.customer.class.needs_senior() || v.urgent {
            TicketStatus::Escalated
        } else {
            TicketStatus::New
        };
        let deadlines = req.rules.initial_deadlines(
            v.channel,
            v.fault_type,
            v.customer.class,
            v.urgent,
            status,
            v.received_at,
            req.now,
        );
        // The new ticket is the newest prior ticket for the rest of the batch.
        prior_of_number.insert(
            0,
            PriorTicket {
                id,
                open: status.is_open(),
                received_at: v.received_at,
                resolved_at: None,
                repair_due_at: deadlines
                    .iter()
                    .find(|d| d.kind == DeadlineKind::Repair)
                    .map(|d| d.due_at),
            },
        );
        prior_of_number.truncate(PRIOR_LIMIT);
        created_here.insert(id);
        let late_entry = deadlines
            .iter()
            .find(|d| d.kind == DeadlineKind::Entry && d.met_late())
            .is_some();
        let late_alert_message = late_entry.then(|| {
            format!(
                "工单 {id} 文本录入超时 (TE1): entered {} min after receipt",
                req.now.since(v.received_at) / 60_000
            )
        });
        let ticket = tickets::new_ticket(id, req, status, repeat.map(|r| r.original()));
        results.push(None);
        planned.push(Planned {
            req,
            created: Created {
                ticket,
                repeat,
                deadlines,
                late_entry_alert: None,
            },
            entry_breached: late_entry,
            late_alert_message,
        });
    }

    // Tickets.
    let mut args: Vec<Arg> = Vec::with_capacity(planned.len() * 19);
    for p in &planned {
        let (t, req) = (&p.created.ticket, p.req);
        args.extend([
            Arg::Int(t.id),
            Arg::Text(t.faulty_number.as_str()),
            Arg::Text(t.contact_number.as_ref().map(|c| c.as_str()).unwrap_or("")),
            Arg::Text(t.customer.name.as_str()),
            Arg::Text(t.customer.class.as_str()),
            Arg::Text(t.customer.branch.as_str()),
            Arg::Text(t.fault_type.as_str()),
            Arg::Text(t.description.as_str()),
            Arg::Text(t.channel.as_str()),
            Arg::Int(t.received_at.0),
            Arg::Int(req.now.0),
            Arg::Text(req.actor.as_str()),
            Arg::Int(i64::from(t.urgent)),
            Arg::Text(t.status.as_str()),
            Arg::OptInt(t.repeat_of),
            Arg::OptInt(t.supplement_of),
            Arg::Int(req.now.0),
            Arg::Text(req.report_branch.as_str()),
            Arg::Text(req.call_id.as_str()),
        ]);
    }
    insert_rows(
        conn,
        "tickets (id, faulty_number, contact_number, customer_name, customer_class, branch, fault_type, description, channel, received_at, created_at, created_by, urgent, status, repeat_of, supplement_of, updated_at, report_branch, call_id)",
        19,
        &args,
    )
    .await?;

    // Deadlines (a late entry is breached at creation, TE1).
    args.clear();
    for p in &planned {
        let id = p.created.ticket.id;
        for d in &p.created.deadlines {
            let breached = p.entry_breached && d.kind == DeadlineKind::Entry;
            args.extend(deadline_args(id, d, breached.then_some(p.req.now.0)));
        }
    }
    insert_rows(
        conn,
        "deadlines (ticket_id, kind, due_at, warn_at, met_at, breached_at)",
        6,
        &args,
    )
    .await?;

    // Audit rows: the creation, and a supplement on its original.
    let details: Vec<(String, Option<String>)> = planned
        .iter()
        .map(|p| {
            let t = &p.created.ticket;
            (
                t.repeat_of
                    .map(|o| format!("repeat of {o}"))
                    .unwrap_or_default(),
                t.supplement_of.map(|_| {
                    format!(
                        "supplementary complaint (补充申诉) received as ticket {}",
                        t.id
                    )
                }),
            )
        })
        .collect();
    args.clear();
    for (p, (create_detail, supplement_detail)) in planned.iter().zip(&details) {
        let t = &p.created.ticket;
        let req = p.req;
        args.extend([
            Arg::Int(t.id),
            Arg::Text(req.actor.as_str()),
            Arg::Text(req.role.as_str()),
            Arg::Int(req.now.0),
            Arg::Text(DeskEventKind::Create.as_str()),
            Arg::Text(""),
            Arg::Text(t.status.as_str()),
            Arg::Text(create_detail),
        ]);
        if let (Some(orig), Some(detail)) = (t.supplement_of, supplement_detail) {
            args.extend([
                Arg::Int(orig),
                Arg::Text(req.actor.as_str()),
                Arg::Text(req.role.as_str()),
                Arg::Int(req.now.0),
                Arg::Text(DeskEventKind::Supplement.as_str()),
                Arg::Text(""),
                Arg::Text(""),
                Arg::Text(detail),
            ]);
        }
    }
    insert_rows(
        conn,
        "audit (ticket_id, actor, role, at, action, before_status, after_status, detail)",
        8,
        &args,
    )
    .await?;

    // TE3: the original of a letter, fax or e-mail is filed by the data manager.
    args.clear();
    for p in planned
        .iter()
        .filter(|p| p.created.ticket.channel.has_original())
    {
        args.extend([
            Arg::Int(p.created.ticket.id),
            Arg::Text(TaskKind::FileOriginal.as_str()),
            Arg::Int(p.req.now.0),
        ]);
    }
    if !args.is_empty() {
        insert_rows(conn, "tasks (ticket_id, kind, created_at)", 3, &args).await?;
    }

    // TE1: a text report entered late raises its breach alert at creation.
    let late: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].late_alert_message.is_some())
        .collect();
    if !late.is_empty() {
        let alert_ids = allocate_ids(conn, backend, "alerts", late.len()).await?;
        args.clear();
        for (&i, &alert_id) in late.iter().zip(&alert_ids) {
            let p = &planned[i];
            let due = p
                .created
                .deadlines
                .iter()
                .find(|d| d.kind == DeadlineKind::Entry)
                .map(|d| d.due_at.0)
                .unwrap_or(p.req.now.0);
            args.extend([
                Arg::Int(alert_id),
                Arg::Int(p.created.ticket.id),
                Arg::Text(DeadlineKind::Entry.as_str()),
                Arg::Text(DueLevel::Breach.as_str()),
                Arg::Int(p.req.now.0),
                Arg::Int(due),
                Arg::Text(p.late_alert_message.as_deref().unwrap_or("")),
            ]);
        }
        insert_rows(
            conn,
            "alerts (id, ticket_id, deadline_kind, level, at, due_at, message)",
            7,
            &args,
        )
        .await?;
        drop(args);
        for (&i, &alert_id) in late.iter().zip(&alert_ids) {
            planned[i].created.late_entry_alert = Some(alert_id);
        }
    }

    let mut planned = planned.into_iter();
    Ok(results
        .into_iter()
        .map(|r| match r {
            Some(refused) => refused,
            None => planned.next().map(|p| p.created).ok_or_else(|| {
                StoreError::Corrupt("a planned ticket went missing from its batch".into())
            }),
        })
        .collect())
}

fn deadline_args(id: TicketId, d: &Deadline, breached_at: Option<i64>) -> [Arg<'_>; 6] {
    [
        Arg::Int(id),
        Arg::Text(d.kind.as_str()),
        Arg::Int(d.due_at.0),
        Arg::Int(d.warn_at.0),
        Arg::OptInt(d.met_at.map(|t| t.0)),
        Arg::OptInt(breached_at),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_number_their_parameters_in_order() {
        let mut s = String::new();
        push_tuples(&mut s, 2, 3, 0);
        assert_eq!(s, "($1, $2, $3), ($4, $5, $6)");
        let mut s = String::new();
        push_tuples(&mut s, 1, 2, 4);
        assert_eq!(s, "($5, $6)");
    }

    #[test]
    fn statements_come_in_a_few_sizes() {
        assert_eq!(bucket(1, 64), 1);
        assert_eq!(bucket(3, 64), 4);
        assert_eq!(bucket(33, 64), 64);
        assert_eq!(bucket(64, 64), 64);
        assert_eq!(prev_power_of_two(16_000 / 17), 512);
        assert_eq!(prev_power_of_two(8), 8);
        assert_eq!(padded(&[1, 2, 3]).collect::<Vec<_>>(), vec![1, 2, 3, 3]);
        assert_eq!(padded::<i64>(&[]).count(), 0);
    }
}
