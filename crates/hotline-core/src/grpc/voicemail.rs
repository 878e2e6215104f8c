//! `hotline.v1.VoicemailService`: the IVR registers recorded messages; recording extractors
//! list, claim (one extractor per message), replay, convert into tickets or escalate (RE1).
//! Who may call what is the permission matrix's; the operations and the claim rules are
//! `desk::voicemail`'s. Handlers validate the request, call the desk and convert the result.

use super::{caller, positive_id, text};
use crate::auth::Auth;
use crate::convert;
use crate::desk::Desk;
use crate::desk::voicemail::{Recording, TicketForm};
use crate::error::CoreError;
use hotline_domain::ValidationError;
use hotline_proto::v1 as pb;
use hotline_proto::v1::voicemail_service_server::VoicemailService;
use hotline_store::{VoicemailRecord, VoicemailState};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

pub struct Voicemails {
    pub desk: Desk,
    pub auth: Arc<Auth>,
    /// Where the IVR writes recordings.
    pub dir: PathBuf,
}

type R<T> = Result<Response<T>, Status>;

pub fn to_pb(v: &VoicemailRecord) -> pb::Voicemail {
    pb::Voicemail {
        id: v.id,
        call_id: v.call_id.clone(),
        caller_id: v.caller_id.clone(),
        number_entered: v.number_entered.clone(),
        duration_ms: v.duration_ms,
        received_at: Some(convert::ts(v.received_at)),
        state: v.state.as_str().into(),
        state_label: v.state.label_zh().into(),
        claimed_by: v.claimed_by.clone().unwrap_or_default(),
        ticket_id: v.ticket_id.unwrap_or(0),
        note: v.note.clone(),
    }
}

#[tonic::async_trait]
impl VoicemailService for Voicemails {
    async fn create_voicemail(&self, req: Request<pb::CreateVoicemailRequest>) -> R<pb::Voicemail> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let check = || -> Result<(), ValidationError> {
            if r.call_id.is_empty() || r.call_id.len() > 200 {
                return Err(ValidationError::new(
                    "call_id",
                    "must have 1-200 characters",
                ));
            }
            if !(0..=3_600_000).contains(&r.duration_ms) {
                return Err(ValidationError::new(
                    "duration_ms",
                    "must be between 0 and one hour",
                ));
            }
            text("caller_id", &r.caller_id)?;
            text("number_entered", &r.number_entered)?;
            Ok(())
        };
        check().map_err(CoreError::from)?;
        let v = self
            .desk
            .mailbox(&self.dir)
            .register(
                &who,
                Recording {
                    call_id: r.call_id,
                    caller_id: r.caller_id,
                    number_entered: r.number_entered,
                    file_name: r.file_name,
                    duration_ms: r.duration_ms,
                },
            )
            .await?;
        Ok(Response::new(to_pb(&v)))
    }

    async fn list_voicemails(
        &self,
        req: Request<pb::ListVoicemailsRequest>,
    ) -> R<pb::ListVoicemailsResponse> {
        caller(&req)?;
        let r = req.into_inner();
        let state = if r.state.is_empty() {
            None
        } else {
            Some(VoicemailState::parse(&r.state).ok_or_else(|| {
                CoreError::from(ValidationError::new(
                    "state",
                    format!("unknown state {:?}", r.state),
                ))
            })?)
        };
        let limit = if r.page_size <= 0 {
            100
        } else {
            r.page_size.min(1000) as u32
        };
        let list = self.desk.mailbox(&self.dir).list(state, limit).await?;
        Ok(Response::new(pb::ListVoicemailsResponse {
            voicemails: list.iter().map(to_pb).collect(),
        }))
    }

    async fn claim_voicemail(&self, req: Request<pb::ClaimVoicemailRequest>) -> R<pb::Voicemail> {
        let who = caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let v = self.desk.mailbox(&self.dir).claim(&who, id).await?;
        Ok(Response::new(to_pb(&v)))
    }

    type FetchVoicemailAudioStream =
        Pin<Box<dyn Stream<Item = Result<pb::AudioChunk, Status>> + Send + 'static>>;

    async fn fetch_voicemail_audio(
        &self,
        req: Request<pb::FetchVoicemailAudioRequest>,
    ) -> R<Self::FetchVoicemailAudioStream> {
        let who = caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let mut file = self
            .desk
            .mailbox(&self.dir)
            .open_recording(&who, id)
            .await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match file.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx
                            .send(Ok(pb::AudioChunk {
                                data: buf[..n].to_vec(),
                            }))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(Status::internal(format!(
                                "reading voicemail audio: {e}"
                            ))))
                            .await;
                        break;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn convert_voicemail(
        &self,
        req: Request<pb::ConvertVoicemailRequest>,
    ) -> R<pb::ConvertVoicemailResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let t = r.ticket.unwrap_or_default();
        let form = TicketForm {
            faulty_number: t.faulty_number,
            contact_number: t.contact_number,
            customer_name: t.customer_name,
            customer_class: t.customer_class,
            branch: t.branch,
            fault_type: t.fault_type,
            description: t.description,
            urgent: t.urgent,
        };
        let (v, created) = self.desk.mailbox(&self.dir).convert(&who, id, form).await?;
        let limit = self.desk.repair_limit_hours(&created.ticket);
        Ok(Response::new(pb::ConvertVoicemailResponse {
            voicemail: Some(to_pb(&v)),
            ticket: Some(convert::ticket(&created.ticket, limit)),
        }))
    }

    async fn escalate_voicemail(
        &self,
        req: Request<pb::EscalateVoicemailRequest>,
    ) -> R<pb::Voicemail> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let reason = text("reason", &r.reason).map_err(CoreError::from)?;
        let v = self
            .desk
            .mailbox(&self.dir)
            .escalate(&who, id, &reason)
            .await?;
        Ok(Response::new(to_pb(&v)))
    }
}
