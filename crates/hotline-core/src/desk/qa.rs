//! Quality inspection (QA1, QA2) and seniors' assessments (SO1, SO4): drawing samples, reading
//! a sample with its ticket, audit history and recording, scoring on the configured form,
//! scores per agent over time, the per-person summary, and call recordings (stored in the
//! document store, checked as WAV with `hound`).
//!
//! Rules on rows, past the permission matrix: an agent reads only their own scores and
//! summary; a senior sees and scores only the assessments they opened, of people whose work
//! they reviewed; nobody scores their own work; a scored sample is scored again only as a
//! re-score with a reason by QA or an admin (`hotline_domain::qa::may_score`).

use super::Desk;
use crate::auth::Principal;
use crate::error::CoreError;
use hotline_docstore::{Digest, DocumentStore};
use hotline_domain::qa::{
    self, QaConfig, QaRefusal, SampleKind, ScoreAsk, Week, is_assessable, is_inspector,
};
use hotline_domain::{Role, TicketId, Timestamp, ValidationError};
use hotline_store::qa::QA_POOL;
use hotline_store::{
    AuditRecord, Evidence, NewDraw, NewRecording, NewScore, RecordingRecord, SampleFilter,
    SampleRecord, ScoreRecord, StoreError, TicketView,
};

/// Draws again after a concurrent draw took one of the picked tickets, at most this often.
const MAX_DRAW_TRIES: u32 = 5;
/// Longest SIP Call-ID accepted.
pub const MAX_CALL_ID: usize = 200;

/// Checks a Call-ID (`""`: none): printable ASCII without spaces, at most [`MAX_CALL_ID`].
pub fn call_id(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.len() > MAX_CALL_ID || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationError::new(
            field,
            format!("a Call-ID is at most {MAX_CALL_ID} printable ASCII characters without spaces"),
        ));
    }
    Ok(s.to_string())
}

fn refusal(r: QaRefusal) -> CoreError {
    if r.is_permission() {
        CoreError::NotAllowed(r.to_string())
    } else {
        CoreError::NotReady(r.to_string())
    }
}

/// A draw as asked.
#[derive(Clone, Debug, Default)]
pub struct DrawAsk {
    /// scheduled | random
    pub kind: String,
    /// `2026-W50`; empty: this week.
    pub period: String,
    /// 0: the configured weekly quota (scheduled) or 1 (random).
    pub per_agent: u32,
    /// `None`: a fresh seed.
    pub seed: Option<u64>,
    /// Limit the draw to these agents (empty: every agent with tickets in the period).
    pub agents: Vec<String>,
}

/// What a draw did.
#[derive(Clone, Debug)]
pub struct Drawn {
    pub draw_id: i64,
    pub seed: u64,
    pub period: String,
    pub samples: Vec<SampleRecord>,
}

/// A sample with what the inspector looks at.
#[derive(Clone, Debug)]
pub struct SampleDetail {
    pub sample: SampleRecord,
    pub ticket: TicketView,
    pub history: Vec<AuditRecord>,
    pub recording: Option<RecordingRecord>,
    /// Every score given, oldest first (a superseded one has `superseded_at`).
    pub scores: Vec<ScoreRecord>,
}

/// A score sheet as submitted.
#[derive(Clone, Debug, Default)]
pub struct ScoreForm {
    pub items: Vec<(String, u32)>,
    pub comment: String,
    /// `Some`: a re-score, with its reason.
    pub rescore_reason: Option<String>,
}

/// The per-person summary (SO1, SO4) over `[from, to)`.
#[derive(Clone, Debug)]
pub struct PersonSummary {
    pub agent_id: String,
    pub evidence: Evidence,
    pub scores: i64,
    /// Mean total of the scores in force, in hundredths of a point (`None`: no score).
    pub average_centi: Option<i64>,
}

/// The recording being uploaded: metadata from the first chunk.
#[derive(Clone, Debug, Default)]
pub struct RecordingMeta {
    pub call_id: String,
    pub ticket_id: Option<TicketId>,
    pub agent_id: String,
    /// `None`: now minus the recording's duration.
    pub started_at: Option<Timestamp>,
}

/// The QA operations over one document store and the `[qa]` config.
pub struct Quality<'a> {
    desk: &'a Desk,
    docs: &'a dyn DocumentStore,
    cfg: &'a QaConfig,
}

impl Desk {
    pub fn quality<'a>(&'a self, docs: &'a dyn DocumentStore, cfg: &'a QaConfig) -> Quality<'a> {
        Quality {
            desk: self,
            docs,
            cfg,
        }
    }
}

fn kind(s: &str) -> Result<SampleKind, ValidationError> {
    SampleKind::parse(s.trim()).ok_or_else(|| {
        ValidationError::new(
            "kind",
            format!(
                "unknown sample kind {s:?}; use one of {}",
                SampleKind::ALL.map(SampleKind::as_str).join(", ")
            ),
        )
    })
}

fn fresh_seed() -> u64 {
    rand::random()
}

impl Quality<'_> {
    fn period(&self, s: &str) -> Result<Week, ValidationError> {
        if s.trim().is_empty() {
            Ok(Week::containing(self.desk.clock.now()))
        } else {
            Week::parse("period", s)
        }
    }

    /// The form in force.
    pub fn form(&self) -> &[qa::FormItem] {
        &self.cfg.form
    }

    /// Draws scheduled or random samples (QA2). The same seed on the same data draws the
    /// same sample; tickets already sampled in the period are never drawn again.
    pub async fn draw(&self, who: &Principal, a: DrawAsk) -> Result<Drawn, CoreError> {
        if !is_inspector(who.role) {
            return Err(refusal(QaRefusal::RoleMayNot {
                role: who.role,
                what: "draw samples",
            }));
        }
        let kind = kind(&a.kind)?;
        if kind == SampleKind::Assessment {
            return Err(ValidationError::new(
                "kind",
                "assessments are opened by a senior with OpenAssessment, not drawn",
            )
            .into());
        }
        if a.per_agent > qa::MAX_PER_AGENT {
            return Err(ValidationError::new(
                "per_agent",
                format!("{} is more than {}", a.per_agent, qa::MAX_PER_AGENT),
            )
            .into());
        }
        let per_agent = match (a.per_agent, kind) {
            (0, SampleKind::Scheduled) => self.cfg.scheduled_per_agent,
            (0, _) => 1,
            (n, _) => n,
        };
        let week = self.period(&a.period)?;
        let seed = a.seed.unwrap_or_else(fresh_seed);
        // Two draws of one period at once may pick the same ticket: the store's unique key
        // refuses the later one, which then reads what is sampled now and draws again.
        let mut tries = 0;
        let (draw_id, samples) = loop {
            tries += 1;
            let candidates = self
                .desk
                .store
                .qa_candidates(week.start, week.end, &a.agents)
                .await?;
            let already = self
                .desk
                .store
                .sampled_tickets(QA_POOL, &week.name())
                .await?;
            let picked = qa::draw(seed, &candidates, &already, per_agent);
            let now = self.desk.clock.now();
            let inserted = self
                .desk
                .store
                .insert_draw(
                    &NewDraw {
                        kind,
                        period: week.name(),
                        seed,
                        per_agent,
                        agents: a.agents.clone(),
                        drawn_by: who.agent_id.clone(),
                        drawn_at: now,
                    },
                    &picked,
                )
                .await;
            match inserted {
                Ok(r) => break r,
                Err(StoreError::Duplicate(_)) if tries < MAX_DRAW_TRIES => {
                    tracing::debug!(tries, "a concurrent draw took a ticket; drawing again");
                }
                Err(StoreError::Duplicate(_)) => return Err(CoreError::Contended),
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Drawn {
            draw_id,
            seed,
            period: week.name(),
            samples,
        })
    }

    /// A senior opens an assessment of `agent`'s work on `ticket` (SO1, SO4): the agent must
    /// be a junior, clerk or extractor who worked on the ticket, and the senior must have
    /// reviewed that work (an admin may assess any such work).
    pub async fn open_assessment(
        &self,
        who: &Principal,
        agent: &str,
        ticket: TicketId,
    ) -> Result<SampleRecord, CoreError> {
        if !matches!(who.role, Role::Senior | Role::Admin) {
            return Err(refusal(QaRefusal::RoleMayNot {
                role: who.role,
                what: "open an assessment",
            }));
        }
        if agent == who.agent_id {
            return Err(refusal(QaRefusal::OwnWork {
                agent: agent.into(),
            }));
        }
        let a = self.desk.store.get_agent(agent).await?;
        if !is_assessable(a.role) {
            return Err(refusal(QaRefusal::NotAssessable {
                agent: agent.into(),
                role: a.role,
            }));
        }
        self.desk.store.get_ticket(ticket).await?;
        let reviewed = if who.role == Role::Admin {
            self.desk.store.worked_on(agent, ticket).await?
        } else {
            self.desk
                .store
                .senior_reviewed(&who.agent_id, agent, ticket)
                .await?
        };
        if !reviewed {
            return Err(refusal(QaRefusal::NotReviewed {
                senior: who.agent_id.clone(),
                agent: agent.into(),
                ticket,
            }));
        }
        let now = self.desk.clock.now();
        let week = Week::containing(now);
        match self
            .desk
            .store
            .open_assessment(&who.agent_id, agent, ticket, &week.name(), now)
            .await
        {
            Err(StoreError::Duplicate(_)) => Err(CoreError::AlreadyExists(format!(
                "{}'s assessment of {agent} on ticket {ticket} in {}",
                who.agent_id,
                week.name()
            ))),
            r => Ok(r?),
        }
    }

    fn may_see(&self, who: &Principal, s: &SampleRecord) -> Result<(), CoreError> {
        if is_inspector(who.role) || s.opened_by == who.agent_id {
            return Ok(());
        }
        Err(CoreError::Forbidden {
            role: who.role.as_str(),
            what: "see a sample they did not open (seniors see their own assessments)",
        })
    }

    /// Samples: QA and admins all, a senior their own assessments.
    pub async fn list(
        &self,
        who: &Principal,
        mut f: SampleFilter,
        kind_s: &str,
        period: &str,
    ) -> Result<Vec<SampleRecord>, CoreError> {
        if !kind_s.trim().is_empty() {
            f.kind = Some(kind(kind_s)?);
        }
        if !period.trim().is_empty() {
            f.period = Some(Week::parse("period", period)?.name());
        }
        if !is_inspector(who.role) {
            f.opened_by = Some(who.agent_id.clone());
        }
        Ok(self.desk.store.list_samples(&f).await?)
    }

    /// A sample with its ticket, audit history, recording and scores.
    pub async fn get(&self, who: &Principal, id: i64) -> Result<SampleDetail, CoreError> {
        let sample = self.desk.store.get_sample(id).await?;
        self.may_see(who, &sample)?;
        let ticket = self.desk.store.get_ticket(sample.ticket_id).await?;
        let history = self.desk.store.history(sample.ticket_id).await?;
        let recording = self
            .desk
            .store
            .recording_for_ticket(sample.ticket_id)
            .await?;
        let scores = self.desk.store.sample_scores(id).await?;
        Ok(SampleDetail {
            sample,
            ticket,
            history,
            recording,
            scores,
        })
    }

    /// Scores a sample on the configured form.
    pub async fn score(
        &self,
        who: &Principal,
        id: i64,
        f: ScoreForm,
    ) -> Result<ScoreRecord, CoreError> {
        let sample = self.desk.store.get_sample(id).await?;
        let reason = f.rescore_reason.as_deref().map(str::trim);
        qa::may_score(
            &who.agent_id,
            who.role,
            &ScoreAsk {
                sample: id,
                kind: sample.kind,
                agent: &sample.agent_id,
                opened_by: &sample.opened_by,
                scored: sample.score_id.is_some(),
                rescore_reason: reason,
            },
        )
        .map_err(refusal)?;
        if sample.score_id.is_none() && reason.is_some() {
            return Err(ValidationError::new(
                "rescore_reason",
                format!("sample {id} has no score yet; score it without a re-score reason"),
            )
            .into());
        }
        let scored = qa::score_sheet(&self.cfg.form, &f.items)?;
        let comment = crate::grpc::text("comment", &f.comment)?;
        let now = self.desk.clock.now();
        self.desk
            .store
            .record_score(&NewScore {
                sample: &sample,
                scored: &scored,
                comment: &comment,
                by: &who.agent_id,
                role: who.role,
                rescore_reason: reason.unwrap_or(""),
                now,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict => {
                    CoreError::NotReady(format!("sample {id} was scored meanwhile; reload it"))
                }
                e => e.into(),
            })
    }

    fn own_or_reader(&self, who: &Principal, agent: &str) -> Result<(), CoreError> {
        if agent == who.agent_id || is_inspector(who.role) || who.role == Role::Senior {
            return Ok(());
        }
        Err(CoreError::Forbidden {
            role: who.role.as_str(),
            what: "read another agent's scores (agents see their own)",
        })
    }

    /// Scores per agent over time (`agent` empty: the caller's own; QA, seniors and admins
    /// may name anyone, or `*` for everyone).
    pub async fn scores(
        &self,
        who: &Principal,
        agent: &str,
        from: Timestamp,
        to: Timestamp,
        include_superseded: bool,
    ) -> Result<Vec<ScoreRecord>, CoreError> {
        let agent = agent.trim();
        let target = match agent {
            "" => Some(who.agent_id.as_str()),
            "*" => {
                self.own_or_reader(who, "*")?;
                None
            }
            a => {
                self.own_or_reader(who, a)?;
                Some(a)
            }
        };
        Ok(self
            .desk
            .store
            .list_scores(target, from, to, include_superseded)
            .await?)
    }

    /// Reviews passed and rejected, escalations, no-answers and QA scores of a person.
    pub async fn summary(
        &self,
        who: &Principal,
        agent: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<PersonSummary, CoreError> {
        let agent = if agent.trim().is_empty() {
            who.agent_id.clone()
        } else {
            agent.trim().to_string()
        };
        self.own_or_reader(who, &agent)?;
        self.desk.store.get_agent(&agent).await?;
        let evidence = self.desk.store.person_evidence(&agent, from, to).await?;
        let scores = self
            .desk
            .store
            .list_scores(Some(&agent), from, to, false)
            .await?;
        let n = scores.len() as i64;
        let average_centi = (n > 0).then(|| {
            let sum: i64 = scores.iter().map(|s| s.total_centi).sum();
            (2 * sum + n) / (2 * n)
        });
        Ok(PersonSummary {
            agent_id: agent,
            evidence,
            scores: n,
            average_centi,
        })
    }

    /// Checks and stores an uploaded recording (the whole WAV in `bytes`).
    pub async fn store_recording(
        &self,
        who: &Principal,
        meta: RecordingMeta,
        bytes: &[u8],
    ) -> Result<RecordingRecord, CoreError> {
        let call = call_id("call_id", &meta.call_id)?;
        if call.is_empty() {
            return Err(ValidationError::new("call_id", "is empty").into());
        }
        if bytes.len() as u64 > self.cfg.max_recording_bytes {
            return Err(ValidationError::new(
                "data",
                format!(
                    "the recording is larger than the limit of {} bytes",
                    self.cfg.max_recording_bytes
                ),
            )
            .into());
        }
        let wav = check_wav(bytes)?;
        let now = self.desk.clock.now();
        let started_at = meta
            .started_at
            .unwrap_or(Timestamp(now.0 - wav.duration_ms));
        let stored = self.docs.put(bytes).await?;
        let rec = self
            .desk
            .store
            .insert_recording(&NewRecording {
                call_id: call.clone(),
                ticket_id: meta.ticket_id,
                agent_id: meta.agent_id.trim().to_string(),
                digest: stored.digest.to_hex(),
                size: stored.size as i64,
                duration_ms: wav.duration_ms,
                sample_rate: wav.sample_rate,
                channels: wav.channels,
                started_at,
                stored_by: who.agent_id.clone(),
                stored_at: now,
            })
            .await;
        match rec {
            Err(StoreError::Duplicate(_)) => Err(CoreError::AlreadyExists(format!(
                "a recording of call {call}"
            ))),
            r => Ok(r?),
        }
    }

    /// A recording and its verified bytes (QA, seniors and admins).
    pub async fn fetch_recording(&self, id: i64) -> Result<(RecordingRecord, Vec<u8>), CoreError> {
        let r = self.desk.store.get_recording(id).await?;
        if r.purged_at.is_some() {
            return Err(CoreError::NotFound(format!(
                "recording {id}'s audio (removed after the retention period)"
            )));
        }
        let bytes = self.docs.get(&Digest::parse(&r.digest)?).await?;
        Ok((r, bytes))
    }

    /// Removes the audio of recordings older than `retention_days` (0 keeps them forever);
    /// the rows and links stay. Returns how many were purged.
    pub async fn purge_recordings(&self) -> Result<usize, CoreError> {
        if self.cfg.retention_days == 0 {
            return Ok(0);
        }
        let now = self.desk.clock.now();
        let before =
            Timestamp(now.0 - i64::from(self.cfg.retention_days) * hotline_domain::time::DAY_MS);
        let mut n = 0;
        for r in self.desk.store.recordings_started_before(before).await? {
            self.desk.store.mark_recording_purged(r.id, now).await?;
            if !self.desk.store.recording_digest_in_use(&r.digest).await? {
                self.docs.remove(&Digest::parse(&r.digest)?).await?;
            }
            n += 1;
        }
        Ok(n)
    }
}

/// What a valid WAV holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavInfo {
    pub sample_rate: u32,
    pub channels: u16,
    pub duration_ms: i64,
}

/// Checks that `bytes` is a whole, readable WAV (header and every sample) and gives its
/// length.
pub fn check_wav(bytes: &[u8]) -> Result<WavInfo, ValidationError> {
    let bad = |e: hound::Error| ValidationError::new("data", format!("not a valid WAV file: {e}"));
    let mut r = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    let spec = r.spec();
    if spec.sample_rate == 0 || spec.channels == 0 {
        return Err(ValidationError::new(
            "data",
            "not a valid WAV file: no channels or a zero sample rate",
        ));
    }
    let frames = i64::from(r.duration());
    match spec.sample_format {
        hound::SampleFormat::Float => {
            for s in r.samples::<f32>() {
                s.map_err(bad)?;
            }
        }
        hound::SampleFormat::Int => {
            for s in r.samples::<i32>() {
                s.map_err(bad)?;
            }
        }
    }
    Ok(WavInfo {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        duration_ms: frames * 1000 / i64::from(spec.sample_rate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(samples: usize) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for i in 0..samples {
            w.write_sample((i % 100) as i16).unwrap();
        }
        w.finalize().unwrap();
        buf.into_inner()
    }

    #[test]
    fn qa1_a_wav_is_checked_whole() {
        let ok = wav(16000);
        assert_eq!(
            check_wav(&ok).unwrap(),
            WavInfo {
                sample_rate: 8000,
                channels: 1,
                duration_ms: 2000
            }
        );
        let e = check_wav(b"RIFF not really").unwrap_err();
        assert_eq!(e.field, "data");
        let cut = &ok[..ok.len() - 1001];
        assert!(check_wav(cut).is_err(), "a truncated WAV is refused");
    }

    #[test]
    fn qa1_call_ids_are_printable() {
        assert_eq!(call_id("call_id", " a@b ").unwrap(), "a@b");
        assert!(call_id("call_id", "a b").is_err());
        assert!(call_id("call_id", &"x".repeat(201)).is_err());
    }
}
