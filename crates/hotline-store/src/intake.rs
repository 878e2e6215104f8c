//! Text intake's storage (TE1-TE4, DM5): document metadata (the bytes are in the
//! content-addressed document store), the clerks' inbox oldest first, the archive search,
//! the TE1/TE4 deadlines of each document and their alerts, and the retention pass.
//!
//! Every state change is a conditional update on the state it starts from (two clerks never
//! enter one document twice) and writes a `document_audit` row in the same transaction.
//! Document deadlines live in `document_deadlines` (same columns as a ticket's `deadlines`);
//! their alerts are rows of `alerts` with `ticket_id` 0 and `document_id` set, so the alert
//! list, counts and the event feed carry them unchanged.

use crate::alerts::{AlertRecord, DeadlineOwner, DueLevel, raise_once};
use crate::rows::parse;
use crate::{Result, Store, StoreError};
use hotline_domain::audit::AuditAction;
use hotline_domain::intake::{DocumentChannel, DocumentEvent, DocumentState};
use hotline_domain::rules::{Deadline, DeadlineKind};
use hotline_domain::task::TaskKind;
use hotline_domain::{Role, TicketId, Timestamp};
use sqlx::{AnyConnection, Row};

/// A document as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRecord {
    pub id: i64,
    /// SHA-256 of the bytes, hex.
    pub digest: String,
    pub size: i64,
    pub media_type: String,
    pub file_name: String,
    pub channel: DocumentChannel,
    pub received_at: Timestamp,
    pub registered_by: String,
    pub registered_at: Timestamp,
    pub state: DocumentState,
    pub dedup_key: String,
    /// The e-mail an attachment came with.
    pub parent_id: Option<i64>,
    pub sender: String,
    pub subject: String,
    pub body_text: String,
    pub ticket_id: Option<TicketId>,
    pub faulty_number: String,
    pub entered_by: Option<String>,
    pub entered_at: Option<Timestamp>,
    pub passed_by: Option<String>,
    pub pass_reason: String,
    pub archived_by: Option<String>,
    pub archived_at: Option<Timestamp>,
    /// When the retention rule removed the bytes (the metadata stays).
    pub purged_at: Option<Timestamp>,
}

/// A document to register.
#[derive(Clone, Debug)]
pub struct NewDocument {
    pub digest: String,
    pub size: i64,
    pub media_type: String,
    pub file_name: String,
    pub channel: DocumentChannel,
    pub received_at: Timestamp,
    pub registered_by: String,
    pub registered_role: Role,
    pub registered_at: Timestamp,
    pub dedup_key: String,
    pub parent_id: Option<i64>,
    pub sender: String,
    pub subject: String,
    pub body_text: String,
}

/// Archive (and inbox) search; every `None` matches all.
#[derive(Clone, Debug, Default)]
pub struct DocumentFilter {
    pub states: Vec<DocumentState>,
    pub ticket_id: Option<TicketId>,
    /// The faulty number of the ticket a document was entered as.
    pub faulty_number: Option<String>,
    pub channel: Option<DocumentChannel>,
    /// received_at in [from, to).
    pub received_from: Option<Timestamp>,
    pub received_to: Option<Timestamp>,
    /// Only documents that are not attachments.
    pub top_level: bool,
    pub limit: u32,
}

/// A document deadline whose warning or due time has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDocumentDeadline {
    pub document_id: i64,
    pub kind: DeadlineKind,
    pub level: DueLevel,
    pub due_at: Timestamp,
}

const COLUMNS: &str = "SELECT id, digest, size, media_type, file_name, channel, received_at, registered_by, registered_at, state, dedup_key, parent_id, sender, subject, body_text, ticket_id, faulty_number, entered_by, entered_at, passed_by, pass_reason, archived_by, archived_at, purged_at FROM documents";

fn row(r: &sqlx::any::AnyRow) -> Result<DocumentRecord> {
    Ok(DocumentRecord {
        id: r.try_get("id")?,
        digest: r.try_get("digest")?,
        size: r.try_get("size")?,
        media_type: r.try_get("media_type")?,
        file_name: r.try_get("file_name")?,
        channel: parse(
            "document channel",
            &r.try_get::<String, _>("channel")?,
            DocumentChannel::parse,
        )?,
        received_at: Timestamp(r.try_get("received_at")?),
        registered_by: r.try_get("registered_by")?,
        registered_at: Timestamp(r.try_get("registered_at")?),
        state: parse(
            "document state",
            &r.try_get::<String, _>("state")?,
            DocumentState::parse,
        )?,
        dedup_key: r.try_get("dedup_key")?,
        parent_id: r.try_get("parent_id")?,
        sender: r.try_get("sender")?,
        subject: r.try_get("subject")?,
        body_text: r.try_get("body_text")?,
        ticket_id: r.try_get("ticket_id")?,
        faulty_number: r.try_get("faulty_number")?,
        entered_by: r.try_get("entered_by")?,
        entered_at: r.try_get::<Option<i64>, _>("entered_at")?.map(Timestamp),
        passed_by: r.try_get("passed_by")?,
        pass_reason: r.try_get("pass_reason")?,
        archived_by: r.try_get("archived_by")?,
        archived_at: r.try_get::<Option<i64>, _>("archived_at")?.map(Timestamp),
        purged_at: r.try_get::<Option<i64>, _>("purged_at")?.map(Timestamp),
    })
}

async fn doc_audit(
    conn: &mut AnyConnection,
    document_id: i64,
    actor: &str,
    role: Role,
    at: Timestamp,
    action: DocumentEvent,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO document_audit (document_id, actor, role, at, action, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(document_id)
        .bind(actor)
        .bind(role.as_str())
        .bind(at.0)
        .bind(action.as_str())
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// One row of a document's audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentAudit {
    pub actor: String,
    pub role: Role,
    pub at: Timestamp,
    pub action: DocumentEvent,
    pub detail: String,
}

impl Store {
    /// Registers a document once per dedup key: returns the record and whether it is new (the
    /// same key again returns the first record and writes nothing). A top-level document gets
    /// its TE1/TE4 `deadlines` in the same transaction.
    pub async fn register_document(
        &self,
        d: &NewDocument,
        deadlines: &[Deadline],
    ) -> Result<(DocumentRecord, bool)> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query("INSERT INTO documents (digest, size, media_type, file_name, channel, received_at, registered_by, registered_at, dedup_key, parent_id, sender, subject, body_text, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (dedup_key) DO NOTHING RETURNING id")
            .bind(d.digest.as_str())
            .bind(d.size)
            .bind(d.media_type.as_str())
            .bind(d.file_name.as_str())
            .bind(d.channel.as_str())
            .bind(d.received_at.0)
            .bind(d.registered_by.as_str())
            .bind(d.registered_at.0)
            .bind(d.dedup_key.as_str())
            .bind(d.parent_id)
            .bind(d.sender.as_str())
            .bind(d.subject.as_str())
            .bind(d.body_text.as_str())
            .bind(d.registered_at.0)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?;
        let Some(id) = id else {
            tx.rollback().await?;
            return Ok((self.document_by_key(&d.dedup_key).await?, false));
        };
        if d.parent_id.is_none() {
            for dl in deadlines {
                sqlx::query("INSERT INTO document_deadlines (document_id, kind, due_at, warn_at) VALUES ($1, $2, $3, $4)")
                    .bind(id)
                    .bind(dl.kind.as_str())
                    .bind(dl.due_at.0)
                    .bind(dl.warn_at.0)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        doc_audit(
            &mut tx,
            id,
            &d.registered_by,
            d.registered_role,
            d.registered_at,
            DocumentEvent::Registered,
            &format!("{} {} bytes {}", d.channel.as_str(), d.size, d.file_name),
        )
        .await?;
        tx.commit().await?;
        Ok((self.get_document(id).await?, true))
    }

    pub async fn get_document(&self, id: i64) -> Result<DocumentRecord> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("document {id}")))?;
        row(&r)
    }

    pub async fn document_by_key(&self, key: &str) -> Result<DocumentRecord> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE dedup_key = $1"
        )))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("document {key}")))?;
        row(&r)
    }

    /// The oldest document whose bytes have this SHA-256 (hex, lower case).
    pub async fn document_id_by_digest(&self, digest: &str) -> Result<i64> {
        let r = sqlx::query("SELECT MIN(id) AS id FROM documents WHERE digest = $1")
            .bind(digest)
            .fetch_one(&self.pool)
            .await?;
        r.try_get::<Option<i64>, _>("id")?
            .ok_or_else(|| StoreError::NotFound(format!("document with SHA-256 {digest}")))
    }

    /// Whether a document with this dedup key exists (an import's no-op check).
    pub async fn document_key_exists(&self, key: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM documents WHERE dedup_key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Documents matching `f`, oldest received first.
    pub async fn list_documents(&self, f: &DocumentFilter) -> Result<Vec<DocumentRecord>> {
        enum Arg {
            I(i64),
            T(String),
        }
        let mut sql = format!("{COLUMNS} WHERE 1 = 1");
        let mut args = Vec::new();
        let mut push = |sql: &mut String, cond: &str, a: Arg| {
            args.push(a);
            sql.push_str(&format!(" AND {cond} ${}", args.len()));
        };
        if !f.states.is_empty() {
            let list = f
                .states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            sql.push_str(&format!(" AND state IN ({list})"));
        }
        if let Some(t) = f.ticket_id {
            push(&mut sql, "ticket_id =", Arg::I(t));
        }
        if let Some(n) = &f.faulty_number {
            push(&mut sql, "faulty_number =", Arg::T(n.clone()));
        }
        if let Some(c) = f.channel {
            push(&mut sql, "channel =", Arg::T(c.as_str().into()));
        }
        if let Some(t) = f.received_from {
            push(&mut sql, "received_at >=", Arg::I(t.0));
        }
        if let Some(t) = f.received_to {
            push(&mut sql, "received_at <", Arg::I(t.0));
        }
        if f.top_level {
            sql.push_str(" AND parent_id IS NULL");
        }
        args.push(Arg::I(i64::from(f.limit.clamp(1, 1000))));
        sql.push_str(&format!(" ORDER BY received_at, id LIMIT ${}", args.len()));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = match a {
                Arg::I(i) => q.bind(i),
                Arg::T(t) => q.bind(t),
            };
        }
        q.fetch_all(&self.pool).await?.iter().map(row).collect()
    }

    /// The attachments registered with an e-mail.
    pub async fn document_children(&self, parent: i64) -> Result<Vec<DocumentRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE parent_id = $1 ORDER BY id"
        )))
        .bind(parent)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }

    /// Takes a document for entry: `unentered` or `passed_to_senior` → `entered` (no ticket
    /// yet). `None` when it is not in a state to enter (someone else took it first).
    pub async fn begin_document_entry(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<DocumentState>> {
        let mut tx = self.begin_write().await?;
        let before: Option<String> =
            sqlx::query("SELECT state FROM documents WHERE id = $1 AND parent_id IS NULL")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("state"))
                .transpose()?;
        let Some(before) = before else {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("document {id}")));
        };
        let before = parse("document state", &before, DocumentState::parse)?;
        let n = sqlx::query("UPDATE documents SET state = 'entered', entered_by = $1, entered_at = $2, updated_at = $3 WHERE id = $4 AND state = $5 AND ticket_id IS NULL")
            .bind(actor)
            .bind(now.0)
            .bind(now.0)
            .bind(id)
            .bind(before.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 || !before.can_enter() {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(before))
    }

    /// Gives a taken document back (the ticket could not be created).
    pub async fn abort_document_entry(&self, id: i64, back_to: DocumentState) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE documents SET state = $1, entered_by = NULL, entered_at = NULL WHERE id = $2 AND state = 'entered' AND ticket_id IS NULL")
            .bind(back_to.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Links a taken document (and its attachments) to the ticket created from it, meets its
    /// TE1 and TE4 deadlines, and audits it.
    pub async fn complete_document_entry(
        &self,
        id: i64,
        ticket: TicketId,
        faulty_number: &str,
        actor: &str,
        role: Role,
        now: Timestamp,
    ) -> Result<DocumentRecord> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE documents SET ticket_id = $1, faulty_number = $2, updated_at = $3 WHERE (id = $4 OR parent_id = $5) AND ticket_id IS NULL")
            .bind(ticket)
            .bind(faulty_number)
            .bind(now.0)
            .bind(id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE documents SET state = 'entered', entered_by = $1, entered_at = $2 WHERE parent_id = $3")
            .bind(actor)
            .bind(now.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE document_deadlines SET met_at = $1 WHERE document_id = $2 AND met_at IS NULL",
        )
        .bind(now.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        doc_audit(
            &mut tx,
            id,
            actor,
            role,
            now,
            DocumentEvent::Entered,
            &format!("ticket {ticket}"),
        )
        .await?;
        tx.commit().await?;
        self.get_document(id).await
    }

    /// TE4: the clerk passes an unentered document to a senior; meets its escalation
    /// deadline (the entry deadline still runs: the senior enters it). `false` when it was not
    /// unentered.
    pub async fn pass_document_to_senior(
        &self,
        id: i64,
        actor: &str,
        role: Role,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE documents SET state = 'passed_to_senior', passed_by = $1, passed_at = $2, pass_reason = $3, updated_at = $4 WHERE id = $5 AND state = 'unentered' AND parent_id IS NULL")
            .bind(actor)
            .bind(now.0)
            .bind(reason)
            .bind(now.0)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE document_deadlines SET met_at = $1 WHERE document_id = $2 AND kind = $3 AND met_at IS NULL")
            .bind(now.0)
            .bind(id)
            .bind(DeadlineKind::Escalation.as_str())
            .execute(&mut *tx)
            .await?;
        doc_audit(
            &mut tx,
            id,
            actor,
            role,
            now,
            DocumentEvent::PassedToSenior,
            reason,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// TE3/DM5: the data manager files an entered original (and its attachments); the
    /// ticket's open "file the original" task is completed with it, audited on the ticket.
    /// `false` when the document was not entered.
    pub async fn archive_document(
        &self,
        id: i64,
        actor: &str,
        role: Role,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let ticket: Option<Option<i64>> = sqlx::query(
            "SELECT ticket_id FROM documents WHERE id = $1 AND state = 'entered' AND parent_id IS NULL",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("ticket_id"))
        .transpose()?;
        let Some(Some(ticket)) = ticket else {
            tx.rollback().await?;
            return Ok(false);
        };
        sqlx::query("UPDATE documents SET state = 'archived', archived_by = $1, archived_at = $2, updated_at = $3 WHERE (id = $4 OR parent_id = $5) AND state = 'entered'")
            .bind(actor)
            .bind(now.0)
            .bind(now.0)
            .bind(id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let tasks = sqlx::query("UPDATE tasks SET done_at = $1, note = $2 WHERE ticket_id = $3 AND kind = $4 AND done_at IS NULL")
            .bind(now.0)
            .bind(format!("document {id} archived"))
            .bind(ticket)
            .bind(TaskKind::FileOriginal.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if tasks > 0 {
            let status = crate::tickets::current_status(&mut tx, ticket).await?;
            crate::tickets::audit(
                &mut tx,
                ticket,
                None,
                actor,
                role,
                now,
                AuditAction::TaskDone(TaskKind::FileOriginal),
                Some(status),
                Some(status),
                &format!("document {id} archived"),
            )
            .await?;
        }
        doc_audit(&mut tx, id, actor, role, now, DocumentEvent::Archived, "").await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn document_history(&self, id: i64) -> Result<Vec<DocumentAudit>> {
        let rows = sqlx::query("SELECT actor, role, at, action, detail FROM document_audit WHERE document_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DocumentAudit {
                    actor: r.try_get("actor")?,
                    role: parse("role", &r.try_get::<String, _>("role")?, Role::parse)?,
                    at: Timestamp(r.try_get("at")?),
                    action: parse(
                        "document event",
                        &r.try_get::<String, _>("action")?,
                        DocumentEvent::parse,
                    )?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// Unmet document deadlines whose warning or due time has come, earliest first (a breach
    /// only, when both are due).
    pub async fn due_document_deadlines(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueDocumentDeadline>> {
        let rows = sqlx::query("SELECT document_id, kind, due_at, breached_at FROM document_deadlines WHERE met_at IS NULL AND ((breached_at IS NULL AND due_at <= $1) OR (warned_at IS NULL AND warn_at <= $2)) ORDER BY warn_at LIMIT $3")
            .bind(now.0)
            .bind(now.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind = parse(
                "deadline",
                &r.try_get::<String, _>("kind")?,
                DeadlineKind::parse,
            )?;
            let due_at = Timestamp(r.try_get("due_at")?);
            let breached: Option<i64> = r.try_get("breached_at")?;
            out.push(DueDocumentDeadline {
                document_id: r.try_get("document_id")?,
                kind,
                level: if breached.is_none() && due_at <= now {
                    DueLevel::Breach
                } else {
                    DueLevel::Warning
                },
                due_at,
            });
        }
        Ok(out)
    }

    /// The earliest future warning or due time of an unmet document deadline.
    pub async fn next_document_deadline_at(&self) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT MIN(CASE WHEN warned_at IS NULL THEN warn_at ELSE due_at END) AS t FROM document_deadlines WHERE met_at IS NULL AND breached_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("t")?.map(Timestamp))
    }

    /// Marks a due document deadline warned or breached and records the alert (ticket 0,
    /// this document), once: `None` if it was already raised.
    pub async fn raise_document_alert(
        &self,
        due: &DueDocumentDeadline,
        now: Timestamp,
        message: &str,
    ) -> Result<Option<AlertRecord>> {
        raise_once(
            self,
            DeadlineOwner::Document(due.document_id),
            due.kind.as_str(),
            due.kind.into(),
            due.level,
            due.due_at,
            now,
            message,
        )
        .await
    }

    /// Alerts raised on a document, oldest first.
    pub async fn document_alerts(&self, id: i64) -> Result<Vec<AlertRecord>> {
        let rows = sqlx::query("SELECT id, ticket_id, deadline_kind, level, at, due_at, message FROM alerts WHERE document_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(crate::alerts::alert_row).collect()
    }

    /// Archived documents filed before `cutoff` whose bytes are still kept (retention).
    pub async fn documents_past_retention(
        &self,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<Vec<DocumentRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE state = 'archived' AND purged_at IS NULL AND archived_at < $1 ORDER BY archived_at, id LIMIT $2"
        )))
        .bind(cutoff.0)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }

    /// Marks a document's bytes removed by the retention rule (audited as `system`). Returns
    /// `Some(still_used)`: whether another kept document has the same digest (then the bytes
    /// must stay), or `None` if it was already marked.
    pub async fn mark_document_purged(
        &self,
        id: i64,
        retention_days: u32,
        now: Timestamp,
    ) -> Result<Option<bool>> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE documents SET purged_at = $1, updated_at = $2 WHERE id = $3 AND purged_at IS NULL AND state = 'archived'")
            .bind(now.0)
            .bind(now.0)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let used: i64 = sqlx::query("SELECT COUNT(*) AS n FROM documents WHERE digest = (SELECT digest FROM documents WHERE id = $1) AND purged_at IS NULL")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        doc_audit(
            &mut tx,
            id,
            "system",
            Role::System,
            now,
            DocumentEvent::RetentionPurged,
            &format!("retention {retention_days} days"),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(used > 0))
    }
}
