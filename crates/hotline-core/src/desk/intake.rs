//! Text intake (TE1-TE4) and the originals' archive (TE3, DM5): documents are uploaded or
//! imported from e-mail, stored once in the content-addressed [`DocumentStore`] (checked on
//! every read), listed in the clerks' inbox oldest first with the time left of their two
//! hours, entered as tickets (received at the document's time), passed to a senior, filed by
//! the data manager, found again in the archive, and removed only by the retention rule.
//! Walk-in reports (TE2) are tickets of channel `walk_in`, received when entered.
//!
//! Who may call what is the permission matrix's; the rules on rows are here: a clerk's inbox
//! is the unentered documents, a senior's the ones passed to seniors; a document passed to a
//! senior is entered by a senior.

use super::Desk;
use crate::auth::Principal;
use crate::error::CoreError;
use hotline_docstore::{Digest, DocStoreError, DocumentStore, ObjectWriter};
use hotline_domain::intake::{
    DocumentChannel, DocumentState, check_file_name, document_deadlines, entry_time_left_ms,
    media_type_for, sanitize_file_name,
};
use hotline_domain::ticket::NewTicket;
use hotline_domain::time::DAY_MS;
use hotline_domain::{Role, Timestamp, ValidationError};
use hotline_store::{Created, DocumentFilter, DocumentRecord, NewDocument};
use std::path::{Path, PathBuf};

/// `[intake]` of the config: where originals are kept and the rules on them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntakeConfig {
    /// Root of the content-addressed document store.
    pub documents_dir: PathBuf,
    /// Largest upload (and imported message) accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Archived originals older than this many days (counted from filing) have their bytes
    /// removed by the scheduler, with an audit row; 0 keeps them forever.
    pub retention_days: u32,
}

impl IntakeConfig {
    /// 50 MiB uploads, originals kept forever, under `data_dir/documents`.
    pub fn under(data_dir: &Path) -> Self {
        IntakeConfig {
            documents_dir: data_dir.join("documents"),
            max_upload_bytes: 50 * 1024 * 1024,
            retention_days: 0,
        }
    }
}

impl From<DocStoreError> for CoreError {
    fn from(e: DocStoreError) -> Self {
        match e {
            DocStoreError::NotFound(d) => CoreError::NotFound(format!("original {d}")),
            DocStoreError::BadDigest(s) => CoreError::Invalid(ValidationError::new(
                "digest",
                format!("{s:?} is not a SHA-256 digest (64 hex digits)"),
            )),
            e @ (DocStoreError::Corrupt { .. } | DocStoreError::Io { .. }) => {
                CoreError::Internal(e.to_string())
            }
        }
    }
}

/// What the clerk typed about an upload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadForm {
    pub file_name: String,
    pub channel: String,
    /// `None`: now.
    pub received_at: Option<Timestamp>,
    pub sender: String,
    pub subject: String,
}

/// The ticket a clerk writes from a document (channel and received-at are the document's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryForm {
    pub faulty_number: String,
    pub contact_number: String,
    pub customer_name: String,
    pub customer_class: String,
    pub branch: String,
    pub fault_type: String,
    pub description: String,
    pub urgent: bool,
}

/// How one imported e-mail ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailOutcome {
    Imported(i64),
    /// Already imported (same Message-ID or content): nothing written.
    Skipped(i64),
    Failed {
        origin: String,
        reason: String,
    },
}

/// The intake operations over one document store.
pub struct Intake<'a> {
    desk: &'a Desk,
    docs: &'a dyn DocumentStore,
    cfg: &'a IntakeConfig,
}

impl Desk {
    pub fn intake<'a>(&'a self, docs: &'a dyn DocumentStore, cfg: &'a IntakeConfig) -> Intake<'a> {
        Intake {
            desk: self,
            docs,
            cfg,
        }
    }
}

/// Bytes kept for type sniffing.
const HEAD: usize = 8192;
/// How far in the future a received-at time may be (clock skew between desks).
const FUTURE_SLACK_MS: i64 = 5 * 60 * 1000;

/// An upload in progress: bytes are streamed into the store, counted against the limit, the
/// first ones kept to check the type. Dropped unfinished, it leaves nothing.
pub struct Upload<'a> {
    intake: &'a Intake<'a>,
    who: Principal,
    file_name: String,
    channel: DocumentChannel,
    received_at: Timestamp,
    sender: String,
    subject: String,
    writer: Box<dyn ObjectWriter>,
    head: Vec<u8>,
}

impl Upload<'_> {
    pub async fn push(&mut self, chunk: &[u8]) -> Result<(), CoreError> {
        let max = self.intake.cfg.max_upload_bytes;
        if self.writer.written() + chunk.len() as u64 > max {
            return Err(ValidationError::new(
                "data",
                format!("the file is larger than the limit of {max} bytes"),
            )
            .into());
        }
        if self.head.len() < HEAD {
            let n = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        self.writer.write(chunk).await?;
        Ok(())
    }

    /// Checks size and type, makes the bytes durable and registers the document; the same
    /// bytes uploaded before return that document and `true`.
    pub async fn finish(self) -> Result<(DocumentRecord, bool), CoreError> {
        if self.writer.written() == 0 {
            return Err(ValidationError::new("data", "the file is empty (0 bytes)").into());
        }
        let media_type = media_type_for(&self.file_name, &self.head)?;
        let stored = self.writer.finish().await?;
        let desk = self.intake.desk;
        let now = desk.clock.now();
        let (doc, created) = desk
            .store
            .register_document(
                &NewDocument {
                    digest: stored.digest.to_hex(),
                    size: stored.size as i64,
                    media_type: media_type.into(),
                    file_name: self.file_name,
                    channel: self.channel,
                    received_at: self.received_at,
                    registered_by: self.who.agent_id.clone(),
                    registered_role: self.who.role,
                    registered_at: now,
                    dedup_key: format!("sha256:{}", stored.digest.to_hex()),
                    parent_id: None,
                    sender: self.sender,
                    subject: self.subject,
                    body_text: String::new(),
                },
                &document_deadlines(&desk.rules, self.received_at),
            )
            .await?;
        tracing::info!(document_id = doc.id, digest = %doc.digest, created, "document registered");
        Ok((doc, !created))
    }
}

fn channel(s: &str) -> Result<DocumentChannel, ValidationError> {
    DocumentChannel::parse(s).ok_or_else(|| {
        ValidationError::new(
            "channel",
            format!("unknown channel {s:?}: use letter, fax, email or other_department"),
        )
    })
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl<'a> Intake<'a> {
    /// Checks the form and opens the upload.
    pub async fn begin_upload(
        &'a self,
        who: &Principal,
        f: UploadForm,
    ) -> Result<Upload<'a>, CoreError> {
        let file_name = check_file_name(&f.file_name)?;
        let channel = channel(&f.channel)?;
        let now = self.desk.clock.now();
        let received_at = f.received_at.unwrap_or(now);
        if received_at.since(now) > FUTURE_SLACK_MS {
            return Err(ValidationError::new("received_at", "is in the future").into());
        }
        Ok(Upload {
            intake: self,
            who: who.clone(),
            file_name,
            channel,
            received_at,
            sender: clip(f.sender.trim(), 200),
            subject: clip(f.subject.trim(), 500),
            writer: self.docs.begin().await?,
            head: Vec::with_capacity(HEAD),
        })
    }

    /// Imports one raw e-mail once: the message (as a `.eml` original) and its attachments.
    /// A broken message is `Failed` with the reason; nothing of it is stored.
    pub async fn import_mail(
        &self,
        who: &Principal,
        origin: &str,
        raw: &[u8],
        envelope_secs: Option<i64>,
    ) -> Result<MailOutcome, CoreError> {
        if raw.len() as u64 > self.cfg.max_upload_bytes {
            return Ok(MailOutcome::Failed {
                origin: origin.into(),
                reason: format!(
                    "larger than the limit of {} bytes",
                    self.cfg.max_upload_bytes
                ),
            });
        }
        let m = match hotline_mail::parse_message(origin, raw) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(origin, reason = %e.reason, "e-mail not imported");
                return Ok(MailOutcome::Failed {
                    origin: e.origin,
                    reason: e.reason,
                });
            }
        };
        let now = self.desk.clock.now();
        if self.desk.store.document_key_exists(&m.dedup_key).await? {
            let d = self.desk.store.document_by_key(&m.dedup_key).await?;
            // a crash between the message and its attachments is repaired by a re-run
            self.import_attachments(who, &d, &m, now).await?;
            return Ok(MailOutcome::Skipped(d.id));
        }
        // the Date header is the received-at time; a clock in the future counts from now
        let received_at = m
            .date_ms
            .or(envelope_secs.map(|s| s * 1000))
            .map(|t| Timestamp(t.min(now.0)))
            .unwrap_or(now);
        let stored = self.docs.put(&m.raw).await?;
        let name_hint = m
            .message_id
            .as_deref()
            .map(|id| format!("{id}.eml"))
            .unwrap_or_else(|| format!("mail-{}.eml", &stored.digest.to_hex()[..12]));
        let (d, created) = self
            .desk
            .store
            .register_document(
                &NewDocument {
                    digest: stored.digest.to_hex(),
                    size: stored.size as i64,
                    media_type: "message/rfc822".into(),
                    file_name: sanitize_file_name(&name_hint, "mail.eml"),
                    channel: DocumentChannel::Email,
                    received_at,
                    registered_by: who.agent_id.clone(),
                    registered_role: who.role,
                    registered_at: now,
                    dedup_key: m.dedup_key.clone(),
                    parent_id: None,
                    sender: clip(&m.from, 200),
                    subject: clip(&m.subject, 500),
                    body_text: clip(&m.body_text, 20_000),
                },
                &document_deadlines(&self.desk.rules, received_at),
            )
            .await?;
        self.import_attachments(who, &d, &m, now).await?;
        Ok(if created {
            MailOutcome::Imported(d.id)
        } else {
            MailOutcome::Skipped(d.id)
        })
    }

    async fn import_attachments(
        &self,
        who: &Principal,
        parent: &DocumentRecord,
        m: &hotline_mail::ParsedMail,
        now: Timestamp,
    ) -> Result<(), CoreError> {
        for (i, a) in m.attachments.iter().enumerate() {
            let key = format!("{}#{}", m.dedup_key, i + 1);
            if a.bytes.is_empty() || self.desk.store.document_key_exists(&key).await? {
                continue;
            }
            let stored = self.docs.put(&a.bytes).await?;
            let name = sanitize_file_name(&a.file_name, &format!("attachment-{}", i + 1));
            let sniffed = hotline_domain::intake::sniff(&a.bytes[..a.bytes.len().min(HEAD)]);
            self.desk
                .store
                .register_document(
                    &NewDocument {
                        digest: stored.digest.to_hex(),
                        size: stored.size as i64,
                        media_type: if sniffed == hotline_domain::intake::Sniffed::Binary {
                            clip(&a.media_type, 100)
                        } else {
                            sniffed.media_type().into()
                        },
                        file_name: name,
                        channel: DocumentChannel::Email,
                        received_at: parent.received_at,
                        registered_by: who.agent_id.clone(),
                        registered_role: who.role,
                        registered_at: now,
                        dedup_key: key,
                        parent_id: Some(parent.id),
                        sender: parent.sender.clone(),
                        subject: parent.subject.clone(),
                        body_text: String::new(),
                    },
                    &[],
                )
                .await?;
        }
        Ok(())
    }

    /// The caller's inbox, oldest received first: clerks see unentered documents, seniors
    /// those passed to seniors, admins both.
    pub async fn inbox(
        &self,
        who: &Principal,
        limit: u32,
    ) -> Result<Vec<DocumentRecord>, CoreError> {
        let states = match who.role {
            Role::TextEntry => vec![DocumentState::Unentered],
            Role::Senior => vec![DocumentState::PassedToSenior],
            _ => vec![DocumentState::Unentered, DocumentState::PassedToSenior],
        };
        Ok(self
            .desk
            .store
            .list_documents(&DocumentFilter {
                states,
                top_level: true,
                limit,
                ..Default::default()
            })
            .await?)
    }

    /// Milliseconds left of a document's two hours (TE1) now.
    pub fn time_left_ms(&self, d: &DocumentRecord) -> i64 {
        entry_time_left_ms(&self.desk.rules, d.received_at, self.desk.clock.now())
    }

    /// Creates the ticket from a document: the document's channel, received at the
    /// document's time; the document is linked to it (TE1), its deadlines met.
    pub async fn enter(
        &self,
        who: &Principal,
        id: i64,
        f: EntryForm,
    ) -> Result<(DocumentRecord, Created), CoreError> {
        let d = self.desk.store.get_document(id).await?;
        if d.parent_id.is_some() {
            return Err(CoreError::NotReady(format!(
                "document {id} is an attachment of document {}; enter that one",
                d.parent_id.unwrap_or(0)
            )));
        }
        if d.state == DocumentState::PassedToSenior && !who.role.is_senior() {
            return Err(CoreError::NotReady(format!(
                "document {id} was passed to a senior; a senior enters it"
            )));
        }
        if !d.state.can_enter() {
            return Err(CoreError::NotReady(format!(
                "document {id} is already {} (ticket {})",
                d.state.as_str(),
                d.ticket_id.unwrap_or(0)
            )));
        }
        let now = self.desk.clock.now();
        let Some(before) = self
            .desk
            .store
            .begin_document_entry(id, &who.agent_id, now)
            .await?
        else {
            return Err(CoreError::NotReady(format!(
                "document {id} was just taken by someone else"
            )));
        };
        let description = if f.description.trim().is_empty() {
            clip(
                format!("{} {}", d.subject, d.body_text).trim(),
                hotline_domain::ticket::MAX_DESCRIPTION_CHARS,
            )
        } else {
            f.description
        };
        let new = NewTicket {
            faulty_number: f.faulty_number,
            contact_number: f.contact_number,
            customer_name: f.customer_name,
            customer_class: f.customer_class,
            branch: f.branch,
            fault_type: f.fault_type,
            description,
            channel: d.channel.ticket_channel().as_str().into(),
            received_at: Some(d.received_at),
            urgent: f.urgent,
            supplement_of: None,
        };
        let created = match self.desk.create_ticket(who, new).await {
            Ok(c) => c,
            Err(e) => {
                self.desk.store.abort_document_entry(id, before).await?;
                return Err(e);
            }
        };
        let d = self
            .desk
            .store
            .complete_document_entry(
                id,
                created.ticket.id,
                created.ticket.faulty_number.as_str(),
                &who.agent_id,
                who.role,
                now,
            )
            .await?;
        tracing::info!(
            document_id = id,
            ticket_id = created.ticket.id,
            "document entered"
        );
        Ok((d, created))
    }

    /// TE4: passes an unentered document to the seniors, saying why.
    pub async fn pass_to_senior(
        &self,
        who: &Principal,
        id: i64,
        reason: &str,
    ) -> Result<DocumentRecord, CoreError> {
        if reason.trim().is_empty() {
            return Err(ValidationError::new("reason", "must say why a senior is needed").into());
        }
        let now = self.desk.clock.now();
        if !self
            .desk
            .store
            .pass_document_to_senior(id, &who.agent_id, who.role, reason.trim(), now)
            .await?
        {
            let d = self.desk.store.get_document(id).await?;
            return Err(CoreError::NotReady(format!(
                "document {id} is {}, not unentered",
                d.state.as_str()
            )));
        }
        Ok(self.desk.store.get_document(id).await?)
    }

    /// TE2: a walk-in report, entered on the spot: channel `walk_in`, received now.
    pub async fn walk_in(&self, who: &Principal, f: EntryForm) -> Result<Created, CoreError> {
        self.desk
            .create_ticket(
                who,
                NewTicket {
                    faulty_number: f.faulty_number,
                    contact_number: f.contact_number,
                    customer_name: f.customer_name,
                    customer_class: f.customer_class,
                    branch: f.branch,
                    fault_type: f.fault_type,
                    description: f.description,
                    channel: hotline_domain::ticket::Channel::WalkIn.as_str().into(),
                    received_at: None,
                    urgent: f.urgent,
                    supplement_of: None,
                },
            )
            .await
    }

    /// TE3/DM5: files an entered original; the ticket's "file the original" task is done.
    pub async fn archive(&self, who: &Principal, id: i64) -> Result<DocumentRecord, CoreError> {
        let now = self.desk.clock.now();
        if !self
            .desk
            .store
            .archive_document(id, &who.agent_id, who.role, now)
            .await?
        {
            let d = self.desk.store.get_document(id).await?;
            return Err(CoreError::NotReady(format!(
                "document {id} is {}; only an entered top-level document is filed",
                d.state.as_str()
            )));
        }
        Ok(self.desk.store.get_document(id).await?)
    }

    pub async fn search(&self, f: &DocumentFilter) -> Result<Vec<DocumentRecord>, CoreError> {
        Ok(self.desk.store.list_documents(f).await?)
    }

    /// The document holding these bytes (the oldest, when several do).
    pub async fn by_digest(&self, digest: &str) -> Result<i64, CoreError> {
        let d = Digest::parse(digest)?;
        Ok(self.desk.store.document_id_by_digest(&d.to_hex()).await?)
    }

    pub async fn get(&self, id: i64) -> Result<DocumentRecord, CoreError> {
        Ok(self.desk.store.get_document(id).await?)
    }

    /// The original's bytes, verified against its digest.
    pub async fn fetch(&self, id: i64) -> Result<(DocumentRecord, Vec<u8>), CoreError> {
        let d = self.desk.store.get_document(id).await?;
        if let Some(at) = d.purged_at {
            return Err(CoreError::NotFound(format!(
                "the original of document {id} (removed by the retention rule at {} ms)",
                at.0
            )));
        }
        let digest = Digest::parse(&d.digest)?;
        match self.docs.get(&digest).await {
            Ok(b) => Ok((d, b)),
            Err(DocStoreError::Corrupt { actual, .. }) => {
                tracing::error!(document_id = id, %digest, %actual, "original is damaged");
                Err(CoreError::Internal(format!(
                    "the original of document {id} is damaged: its bytes no longer match SHA-256 {digest}"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The retention rule (DM5): bytes of originals filed more than `retention_days` ago are
    /// removed (unless another kept document has the same bytes); each removal is audited.
    /// Returns how many documents it purged. 0 days: nothing is ever removed.
    pub async fn retention_pass(&self) -> Result<usize, CoreError> {
        if self.cfg.retention_days == 0 {
            return Ok(0);
        }
        let now = self.desk.clock.now();
        let cutoff = Timestamp(now.0 - i64::from(self.cfg.retention_days) * DAY_MS);
        let mut purged = 0;
        loop {
            let due = self
                .desk
                .store
                .documents_past_retention(cutoff, 200)
                .await?;
            if due.is_empty() {
                break;
            }
            for d in &due {
                let Some(still_used) = self
                    .desk
                    .store
                    .mark_document_purged(d.id, self.cfg.retention_days, now)
                    .await?
                else {
                    continue;
                };
                if !still_used {
                    self.docs.remove(&Digest::parse(&d.digest)?).await?;
                }
                tracing::info!(
                    document_id = d.id,
                    still_used,
                    "original removed by retention"
                );
                purged += 1;
            }
            if due.len() < 200 {
                break;
            }
        }
        Ok(purged)
    }
}
