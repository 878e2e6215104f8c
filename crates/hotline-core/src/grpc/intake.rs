//! `hotline.v1.IntakeService`: documents (upload, e-mail import, verified download), the
//! clerks' inbox with the two-hour rule (TE1), entering a document as a ticket, passing it to
//! a senior (TE4), walk-in reports (TE2), the archive (TE3, DM5). Handlers validate and
//! convert; the operations and rules on rows are `desk::intake`'s.

use super::{caller, positive_id, text, upload_head, upload_next};
use crate::convert;
use crate::desk::Desk;
use crate::desk::intake::{EntryForm, IntakeConfig, MailOutcome, UploadForm};
use crate::error::CoreError;
use hotline_docstore::DocumentStore;
use hotline_domain::ValidationError;
use hotline_domain::intake::{DocumentChannel, DocumentState};
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_service_server::IntakeService;
use hotline_store::{Created, DocumentFilter, DocumentRecord};
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

pub struct IntakeApi {
    pub desk: Desk,
    pub docs: Arc<dyn DocumentStore>,
    pub cfg: IntakeConfig,
}

type R<T> = Result<Response<T>, Status>;

/// Bytes per chunk of a download.
const CHUNK: usize = 64 * 1024;

pub fn to_pb(d: &DocumentRecord, time_left_ms: i64) -> pb::Document {
    pb::Document {
        id: d.id,
        digest: d.digest.clone(),
        size: d.size,
        media_type: d.media_type.clone(),
        file_name: d.file_name.clone(),
        channel: d.channel.as_str().into(),
        channel_label: d.channel.label_zh().into(),
        received_at: Some(convert::ts(d.received_at)),
        registered_by: d.registered_by.clone(),
        state: d.state.as_str().into(),
        state_label: d.state.label_zh().into(),
        ticket_id: d.ticket_id.unwrap_or(0),
        faulty_number: d.faulty_number.clone(),
        sender: d.sender.clone(),
        subject: d.subject.clone(),
        body_text: d.body_text.clone(),
        parent_id: d.parent_id.unwrap_or(0),
        entry_time_left_ms: time_left_ms,
        entered_by: d.entered_by.clone().unwrap_or_default(),
        passed_by: d.passed_by.clone().unwrap_or_default(),
        pass_reason: d.pass_reason.clone(),
        archived_by: d.archived_by.clone().unwrap_or_default(),
        archived_at: d.archived_at.map(convert::ts),
        purged: d.purged_at.is_some(),
    }
}

fn form(t: pb::CreateTicketRequest) -> EntryForm {
    EntryForm {
        faulty_number: t.faulty_number,
        contact_number: t.contact_number,
        customer_name: t.customer_name,
        customer_class: t.customer_class,
        branch: t.branch,
        fault_type: t.fault_type,
        description: t.description,
        urgent: t.urgent,
    }
}

fn created_pb(desk: &Desk, c: &Created) -> pb::Ticket {
    let limit = desk.repair_limit_hours(&c.ticket);
    convert::ticket(&c.ticket, limit)
}

fn limit(page_size: i32) -> u32 {
    if page_size <= 0 {
        100
    } else {
        page_size.min(1000) as u32
    }
}

impl IntakeApi {
    fn intake(&self) -> crate::desk::intake::Intake<'_> {
        self.desk.intake(self.docs.as_ref(), &self.cfg)
    }

    fn doc(&self, d: &DocumentRecord) -> pb::Document {
        let left = if d.state.can_enter() {
            self.intake().time_left_ms(d)
        } else {
            0
        };
        to_pb(d, left)
    }
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn upload_document(
        &self,
        req: Request<Streaming<pb::UploadChunk>>,
    ) -> R<pb::UploadDocumentResponse> {
        let who = caller(&req)?;
        let mut stream = req.into_inner();
        let (meta, first) = upload_head(&mut stream, "the file name and channel").await?;
        let received_at = match &meta.received_at {
            Some(t) => Some(convert::from_ts("received_at", t).map_err(CoreError::from)?),
            None => None,
        };
        let intake = self.intake();
        let mut up = intake
            .begin_upload(
                &who,
                UploadForm {
                    file_name: meta.file_name,
                    channel: meta.channel,
                    received_at,
                    sender: meta.sender,
                    subject: meta.subject,
                },
            )
            .await?;
        up.push(&first).await?;
        while let Some(data) = upload_next(&mut stream).await? {
            up.push(&data).await?;
        }
        let (d, duplicate) = up.finish().await?;
        Ok(Response::new(pb::UploadDocumentResponse {
            document: Some(self.doc(&d)),
            duplicate,
        }))
    }

    async fn import_mail(
        &self,
        req: Request<Streaming<pb::MailChunk>>,
    ) -> R<pb::ImportMailResponse> {
        let who = caller(&req)?;
        let mut stream = req.into_inner();
        let intake = self.intake();
        let mut out = pb::ImportMailResponse::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut origin = String::new();
        let mut too_big = false;
        while let Some(c) = stream.message().await? {
            if origin.is_empty() {
                origin = text("origin", &c.origin).map_err(CoreError::from)?;
            }
            if buf.len() + c.data.len() > self.cfg.max_upload_bytes as usize {
                too_big = true;
                buf.clear();
            } else if !too_big {
                buf.extend_from_slice(&c.data);
            }
            if !c.end_of_message {
                continue;
            }
            let outcome = if too_big {
                MailOutcome::Failed {
                    origin: origin.clone(),
                    reason: format!(
                        "larger than the limit of {} bytes",
                        self.cfg.max_upload_bytes
                    ),
                }
            } else {
                intake.import_mail(&who, &origin, &buf, None).await?
            };
            match outcome {
                MailOutcome::Imported(id) => {
                    out.imported += 1;
                    out.document_ids.push(id);
                }
                MailOutcome::Skipped(id) => {
                    out.skipped += 1;
                    out.document_ids.push(id);
                }
                MailOutcome::Failed { origin, reason } => {
                    out.failed += 1;
                    out.failures.push(pb::MailFailure { origin, reason });
                }
            }
            buf.clear();
            origin.clear();
            too_big = false;
        }
        if !buf.is_empty() {
            return Err(CoreError::from(ValidationError::new(
                "end_of_message",
                "the last message was not ended with end_of_message",
            ))
            .into());
        }
        Ok(Response::new(out))
    }

    type DownloadDocumentStream =
        Pin<Box<dyn Stream<Item = Result<pb::DocumentChunk, Status>> + Send + 'static>>;

    async fn download_document(
        &self,
        req: Request<pb::DownloadDocumentRequest>,
    ) -> R<Self::DownloadDocumentStream> {
        caller(&req)?;
        let r = req.get_ref();
        let id = if r.id == 0 && !r.digest.is_empty() {
            self.intake().by_digest(&r.digest).await?
        } else {
            positive_id("id", r.id).map_err(CoreError::from)?
        };
        // verified before the first byte leaves
        let (_, bytes) = self.intake().fetch(id).await?;
        let chunks: Vec<Result<pb::DocumentChunk, Status>> = bytes
            .chunks(CHUNK)
            .map(|c| Ok(pb::DocumentChunk { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn list_inbox(&self, req: Request<pb::ListInboxRequest>) -> R<pb::ListInboxResponse> {
        let who = caller(&req)?;
        let docs = self
            .intake()
            .inbox(&who, limit(req.get_ref().page_size))
            .await?;
        Ok(Response::new(pb::ListInboxResponse {
            documents: docs.iter().map(|d| self.doc(d)).collect(),
        }))
    }

    async fn enter_document(
        &self,
        req: Request<pb::EnterDocumentRequest>,
    ) -> R<pb::EnterDocumentResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let (d, created) = self
            .intake()
            .enter(&who, id, form(r.ticket.unwrap_or_default()))
            .await?;
        Ok(Response::new(pb::EnterDocumentResponse {
            document: Some(self.doc(&d)),
            ticket: Some(created_pb(&self.desk, &created)),
        }))
    }

    async fn pass_to_senior(&self, req: Request<pb::PassToSeniorRequest>) -> R<pb::Document> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let reason = text("reason", &r.reason).map_err(CoreError::from)?;
        let d = self.intake().pass_to_senior(&who, id, &reason).await?;
        Ok(Response::new(self.doc(&d)))
    }

    async fn register_walk_in(
        &self,
        req: Request<pb::CreateTicketRequest>,
    ) -> R<pb::CreateTicketResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        if !r.channel.is_empty() && r.channel != "walk_in" {
            return Err(CoreError::from(ValidationError::new(
                "channel",
                "a walk-in report is always channel walk_in (leave it empty)",
            ))
            .into());
        }
        if r.received_at.is_some() {
            return Err(CoreError::from(ValidationError::new(
                "received_at",
                "a walk-in report is entered on the spot: leave it unset",
            ))
            .into());
        }
        let created = self.intake().walk_in(&who, form(r)).await?;
        Ok(Response::new(pb::CreateTicketResponse {
            ticket: Some(created_pb(&self.desk, &created)),
            ..Default::default()
        }))
    }

    async fn archive_document(&self, req: Request<pb::ArchiveDocumentRequest>) -> R<pb::Document> {
        let who = caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let d = self.intake().archive(&who, id).await?;
        Ok(Response::new(self.doc(&d)))
    }

    async fn search_archive(
        &self,
        req: Request<pb::SearchArchiveRequest>,
    ) -> R<pb::SearchArchiveResponse> {
        caller(&req)?;
        let r = req.into_inner();
        let bad = |f: &'static str, why: String| {
            Status::from(CoreError::from(ValidationError::new(f, why)))
        };
        if r.ticket_id < 0 {
            return Err(bad("ticket_id", "must be a ticket id or 0".into()));
        }
        let channel = if r.channel.is_empty() {
            None
        } else {
            Some(
                DocumentChannel::parse(&r.channel)
                    .ok_or_else(|| bad("channel", format!("unknown channel {:?}", r.channel)))?,
            )
        };
        let states = match r.state.as_str() {
            "" => vec![DocumentState::Entered, DocumentState::Archived],
            s => match DocumentState::parse(s) {
                Some(st) => vec![st],
                None => return Err(bad("state", format!("unknown state {s:?}"))),
            },
        };
        let ts = |f: &'static str, t: &Option<prost_types::Timestamp>| match t {
            Some(t) => convert::from_ts(f, t).map(Some).map_err(CoreError::from),
            None => Ok(None),
        };
        let number = text("faulty_number", &r.faulty_number).map_err(CoreError::from)?;
        let f = DocumentFilter {
            states,
            ticket_id: (r.ticket_id > 0).then_some(r.ticket_id),
            faulty_number: (!number.is_empty()).then_some(number),
            channel,
            received_from: ts("received_from", &r.received_from)?,
            received_to: ts("received_to", &r.received_to)?,
            top_level: false,
            limit: limit(r.page_size),
        };
        let docs = self.intake().search(&f).await?;
        Ok(Response::new(pb::SearchArchiveResponse {
            documents: docs.iter().map(|d| self.doc(d)).collect(),
        }))
    }

    async fn get_document(&self, req: Request<pb::GetDocumentRequest>) -> R<pb::Document> {
        caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let d = self.intake().get(id).await?;
        Ok(Response::new(self.doc(&d)))
    }
}
