//! Voicemail messages (RE1, SF9): the IVR registers a recording; recording extractors list,
//! claim (a conditional update: one extractor per message), replay, convert into a
//! `voicemail`-channel ticket, or escalate to a senior. Who may call what is the permission
//! matrix's; the claim rules are here.

use super::Desk;
use crate::auth::Principal;
use crate::error::CoreError;
use crate::events::{DeskEvent, VoicemailAction};
use hotline_domain::ticket::NewTicket;
use hotline_domain::{Role, ValidationError};
use hotline_store::{Created, Finish, NewVoicemail, VoicemailRecord, VoicemailState};
use std::path::{Path, PathBuf};

/// The desk's voicemail operations over the directory the IVR records into.
pub struct Mailbox<'a> {
    desk: &'a Desk,
    dir: &'a Path,
}

/// A recording the IVR made, as it registers it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    pub call_id: String,
    pub caller_id: String,
    pub number_entered: String,
    /// A bare `.wav` file name inside the voicemail directory.
    pub file_name: String,
    pub duration_ms: i64,
}

/// The ticket an extractor writes from a message. An empty faulty number is the number the
/// caller entered, an empty contact number the caller id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketForm {
    pub faulty_number: String,
    pub contact_number: String,
    pub customer_name: String,
    pub customer_class: String,
    pub branch: String,
    pub fault_type: String,
    pub description: String,
    pub urgent: bool,
}

/// A bare file name of a WAV inside `dir`: no separators, no parent references.
pub fn recording_path(dir: &Path, file_name: &str) -> Result<PathBuf, ValidationError> {
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

impl Desk {
    /// The voicemail operations over the recordings in `dir`.
    pub fn mailbox<'a>(&'a self, dir: &'a Path) -> Mailbox<'a> {
        Mailbox { desk: self, dir }
    }
}

impl Mailbox<'_> {
    fn publish(&self, v: &VoicemailRecord, action: VoicemailAction, who: &Principal) {
        self.desk.events.publish(DeskEvent::Voicemail {
            record: Box::new(v.clone()),
            action,
            actor: who.agent_id.clone(),
        });
    }

    /// The message, if `who` holds its claim.
    async fn claimed_by(&self, id: i64, who: &Principal) -> Result<VoicemailRecord, CoreError> {
        let v = self.desk.store.get_voicemail(id).await?;
        if v.state != VoicemailState::Claimed
            || v.claimed_by.as_deref() != Some(who.agent_id.as_str())
        {
            return Err(CoreError::NotReady(format!(
                "voicemail {id} is {} and not claimed by you; claim it first",
                v.state.as_str()
            )));
        }
        Ok(v)
    }

    /// Registers a recording (idempotent by call id: the same call id returns the first
    /// record). The file must be a readable WAV inside the directory.
    pub async fn register(
        &self,
        who: &Principal,
        r: Recording,
    ) -> Result<VoicemailRecord, CoreError> {
        let path = recording_path(self.dir, &r.file_name)?;
        if let Err(e) = hound::WavReader::open(&path) {
            return Err(ValidationError::new(
                "file_name",
                format!("{} is not a readable WAV: {e}", r.file_name),
            )
            .into());
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
            .await?;
        self.publish(&v, VoicemailAction::Created, who);
        Ok(v)
    }

    /// Messages in a state (`None`: any), oldest first.
    pub async fn list(
        &self,
        state: Option<VoicemailState>,
        limit: u32,
    ) -> Result<Vec<VoicemailRecord>, CoreError> {
        Ok(self.desk.store.list_voicemails(state, limit).await?)
    }

    /// Claims a new message for `who`; refused (not ready) when someone else has it.
    pub async fn claim(&self, who: &Principal, id: i64) -> Result<VoicemailRecord, CoreError> {
        let now = self.desk.clock.now();
        match self
            .desk
            .store
            .claim_voicemail(id, &who.agent_id, now)
            .await?
        {
            Some(v) => {
                self.publish(&v, VoicemailAction::Claimed, who);
                Ok(v)
            }
            None => {
                let v = self.desk.store.get_voicemail(id).await?;
                Err(CoreError::NotReady(format!(
                    "voicemail {id} is already {} by {}",
                    v.state.as_str(),
                    v.claimed_by.unwrap_or_default()
                )))
            }
        }
    }

    /// The message's recording, opened for replay. An extractor replays only a message it
    /// claimed.
    pub async fn open_recording(
        &self,
        who: &Principal,
        id: i64,
    ) -> Result<tokio::fs::File, CoreError> {
        let v = self.desk.store.get_voicemail(id).await?;
        if who.role == Role::RecordingExtractor
            && v.claimed_by.as_deref() != Some(who.agent_id.as_str())
        {
            return Err(CoreError::NotReady(format!(
                "claim voicemail {id} before replaying it"
            )));
        }
        let path = recording_path(self.dir, &v.file_name)?;
        tokio::fs::File::open(&path)
            .await
            .map_err(|e| CoreError::Internal(format!("voicemail {id} audio: {e}")))
    }

    /// Turns a message `who` claimed into a `voicemail`-channel ticket received when the
    /// message was; returns the message after it and the ticket.
    pub async fn convert(
        &self,
        who: &Principal,
        id: i64,
        t: TicketForm,
    ) -> Result<(VoicemailRecord, Created), CoreError> {
        let v = self.claimed_by(id, who).await?;
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
        let created = self.desk.create_ticket(who, new).await?;
        let v = self
            .finish(who, id, Finish::Converted(created.ticket.id), "")
            .await?;
        Ok((v, created))
    }

    /// Hands a message `who` claimed to a senior, saying why (`reason` is not empty).
    pub async fn escalate(
        &self,
        who: &Principal,
        id: i64,
        reason: &str,
    ) -> Result<VoicemailRecord, CoreError> {
        if reason.is_empty() {
            return Err(ValidationError::new("reason", "must say why a senior is needed").into());
        }
        self.claimed_by(id, who).await?;
        self.finish(who, id, Finish::Escalated, reason).await
    }

    async fn finish(
        &self,
        who: &Principal,
        id: i64,
        how: Finish,
        note: &str,
    ) -> Result<VoicemailRecord, CoreError> {
        let now = self.desk.clock.now();
        if !self
            .desk
            .store
            .finish_voicemail(id, &who.agent_id, how, note, now)
            .await?
        {
            return Err(CoreError::Contended);
        }
        let v = self.desk.store.get_voicemail(id).await?;
        let action = match how {
            Finish::Converted(_) => VoicemailAction::Converted,
            Finish::Escalated => VoicemailAction::Escalated,
        };
        self.publish(&v, action, who);
        Ok(v)
    }
}
