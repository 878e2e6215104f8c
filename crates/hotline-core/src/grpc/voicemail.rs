//! `hotline.v1.VoicemailService`: the IVR registers recorded messages; recording extractors
//! list, claim (one extractor per message), replay, convert into tickets or escalate (RE1).
//! Who may call what is the permission matrix's; the claim rules stay here.

use super::{caller, positive_id, text};
use crate::auth::{Auth, Principal};
use crate::convert;
use crate::desk::Desk;
use crate::error::{CoreError, to_status};
use crate::events::DeskEvent;
use hotline_domain::ticket::NewTicket;
use hotline_domain::{Role, ValidationError};
use hotline_proto::v1 as pb;
use hotline_proto::v1::voicemail_service_server::VoicemailService;
use hotline_store::{NewVoicemail, VoicemailRecord};
use std::path::{Path, PathBuf};
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

fn state_label(s: &str) -> &'static str {
    match s {
        "new" => "新留言",
        "claimed" => "处理中",
        "converted" => "已转工单",
        "escalated" => "已转高级话务员",
        _ => "",
    }
}

pub fn to_pb(v: &VoicemailRecord) -> pb::Voicemail {
    pb::Voicemail {
        id: v.id,
        call_id: v.call_id.clone(),
        caller_id: v.caller_id.clone(),
        number_entered: v.number_entered.clone(),
        duration_ms: v.duration_ms,
        received_at: Some(convert::ts(v.received_at)),
        state: v.state.clone(),
        state_label: state_label(&v.state).into(),
        claimed_by: v.claimed_by.clone().unwrap_or_default(),
        ticket_id: v.ticket_id.unwrap_or(0),
        note: v.note.clone(),
    }
}

/// A bare file name of a WAV inside `dir`: no separators, no parent references.
fn recording_path(dir: &Path, file_name: &str) -> Result<PathBuf, ValidationError> {
    let ok = !file_name.is_empty()
        && file_name.len() <= 200
        && file_name.ends_with(".wav")
        && !file_name.contains(['/', '\\'])
        && !file_name.starts_with('.');
    if !ok {
        return Err(ValidationError::new(
            "file_name",
            "must be a .wav file name inside the voicemail directory",
        ));
    }
    Ok(dir.join(file_name))
}

impl Voicemails {
    fn publish(&self, v: &VoicemailRecord, action: &str, who: &Principal) {
        self.desk.events.publish(DeskEvent::Voicemail {
            record: Box::new(v.clone()),
            action: action.into(),
            actor: who.agent_id.clone(),
        });
    }

    /// The message, if `who` holds its claim.
    async fn claimed_by(&self, id: i64, who: &Principal) -> Result<VoicemailRecord, CoreError> {
        let v = self.desk.store.get_voicemail(id).await?;
        if v.state != "claimed" || v.claimed_by.as_deref() != Some(who.agent_id.as_str()) {
            return Err(CoreError::NotReady(format!(
                "voicemail {id} is {} and not claimed by you; claim it first",
                v.state
            )));
        }
        Ok(v)
    }
}

#[tonic::async_trait]
impl VoicemailService for Voicemails {
    async fn create_voicemail(&self, req: Request<pb::CreateVoicemailRequest>) -> R<pb::Voicemail> {
        let who = caller(&req).map_err(to_status)?;
        let r = req.into_inner();
        let check = || -> Result<PathBuf, ValidationError> {
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
            recording_path(&self.dir, &r.file_name)
        };
        let path = check().map_err(|e| to_status(e.into()))?;
        if let Err(e) = hound::WavReader::open(&path) {
            return Err(to_status(
                ValidationError::new(
                    "file_name",
                    format!("{} is not a readable WAV: {e}", r.file_name),
                )
                .into(),
            ));
        }
        let v = self
            .desk
            .store
            .create_voicemail(&NewVoicemail {
                call_id: r.call_id,
                caller_id: r.caller_id,
                number_entered: r.number_entered,
                file_name: r.file_name,
                duration_ms: r.duration_ms,
                received_at: self.desk.clock.now(),
            })
            .await
            .map_err(|e| to_status(e.into()))?;
        self.publish(&v, "created", &who);
        Ok(Response::new(to_pb(&v)))
    }

    async fn list_voicemails(
        &self,
        req: Request<pb::ListVoicemailsRequest>,
    ) -> R<pb::ListVoicemailsResponse> {
        caller(&req).map_err(to_status)?;
        let r = req.into_inner();
        if !["", "new", "claimed", "converted", "escalated"].contains(&r.state.as_str()) {
            return Err(to_status(
                ValidationError::new("state", format!("unknown state {:?}", r.state)).into(),
            ));
        }
        let limit = if r.page_size <= 0 {
            100
        } else {
            r.page_size.min(1000) as u32
        };
        let list = self
            .desk
            .store
            .list_voicemails(&r.state, limit)
            .await
            .map_err(|e| to_status(e.into()))?;
        Ok(Response::new(pb::ListVoicemailsResponse {
            voicemails: list.iter().map(to_pb).collect(),
        }))
    }

    async fn claim_voicemail(&self, req: Request<pb::ClaimVoicemailRequest>) -> R<pb::Voicemail> {
        let who = caller(&req).map_err(to_status)?;
        let id = positive_id("id", req.get_ref().id).map_err(|e| to_status(e.into()))?;
        match self
            .desk
            .store
            .claim_voicemail(id, &who.agent_id, self.desk.clock.now())
            .await
            .map_err(|e| to_status(e.into()))?
        {
            Some(v) => {
                self.publish(&v, "claimed", &who);
                Ok(Response::new(to_pb(&v)))
            }
            None => {
                let v = self
                    .desk
                    .store
                    .get_voicemail(id)
                    .await
                    .map_err(|e| to_status(e.into()))?;
                Err(to_status(CoreError::NotReady(format!(
                    "voicemail {id} is already {} by {}",
                    v.state,
                    v.claimed_by.unwrap_or_default()
                ))))
            }
        }
    }

    type FetchVoicemailAudioStream =
        Pin<Box<dyn Stream<Item = Result<pb::AudioChunk, Status>> + Send + 'static>>;

    async fn fetch_voicemail_audio(
        &self,
        req: Request<pb::FetchVoicemailAudioRequest>,
    ) -> R<Self::FetchVoicemailAudioStream> {
        let who = caller(&req).map_err(to_status)?;
        let id = positive_id("id", req.get_ref().id).map_err(|e| to_status(e.into()))?;
        let v = self
            .desk
            .store
            .get_voicemail(id)
            .await
            .map_err(|e| to_status(e.into()))?;
        if who.role == Role::RecordingExtractor
            && v.claimed_by.as_deref() != Some(who.agent_id.as_str())
        {
            return Err(to_status(CoreError::NotReady(format!(
                "claim voicemail {id} before replaying it"
            ))));
        }
        let path = recording_path(&self.dir, &v.file_name).map_err(|e| to_status(e.into()))?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| to_status(CoreError::Internal(format!("voicemail {id} audio: {e}"))))?;
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
        let who = caller(&req).map_err(to_status)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(|e| to_status(e.into()))?;
        let v = self.claimed_by(id, &who).await.map_err(to_status)?;
        let t = r.ticket.unwrap_or_default();
        let new = NewTicket {
            faulty_number: if t.faulty_number.is_empty() {
                v.number_entered.clone()
            } else {
                t.faulty_number
            },
            contact_number: if t.contact_number.is_empty() {
                v.caller_id.clone()
            } else {
                t.contact_number
            },
            customer_name: t.customer_name,
            customer_class: t.customer_class,
            branch: t.branch,
            fault_type: t.fault_type,
            description: format!("[语音留言 {id}] {}", t.description),
            channel: "voicemail".into(),
            received_at: Some(v.received_at),
            urgent: t.urgent,
            supplement_of: None,
        };
        let created = self
            .desk
            .create_ticket(&who, new)
            .await
            .map_err(to_status)?;
        let now = self.desk.clock.now();
        if !self
            .desk
            .store
            .finish_voicemail(
                id,
                &who.agent_id,
                "converted",
                Some(created.ticket.id),
                "",
                now,
            )
            .await
            .map_err(|e| to_status(e.into()))?
        {
            return Err(to_status(CoreError::Contended));
        }
        let v = self
            .desk
            .store
            .get_voicemail(id)
            .await
            .map_err(|e| to_status(e.into()))?;
        self.publish(&v, "converted", &who);
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
        let who = caller(&req).map_err(to_status)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(|e| to_status(e.into()))?;
        let reason = text("reason", &r.reason).map_err(|e| to_status(e.into()))?;
        if reason.is_empty() {
            return Err(to_status(
                ValidationError::new("reason", "must say why a senior is needed").into(),
            ));
        }
        self.claimed_by(id, &who).await.map_err(to_status)?;
        if !self
            .desk
            .store
            .finish_voicemail(
                id,
                &who.agent_id,
                "escalated",
                None,
                &reason,
                self.desk.clock.now(),
            )
            .await
            .map_err(|e| to_status(e.into()))?
        {
            return Err(to_status(CoreError::Contended));
        }
        let v = self
            .desk
            .store
            .get_voicemail(id)
            .await
            .map_err(|e| to_status(e.into()))?;
        self.publish(&v, "escalated", &who);
        Ok(Response::new(to_pb(&v)))
    }
}
