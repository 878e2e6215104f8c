//! `hotline.v1.QualityService`: samples (draw, open an assessment, list, read, score), the
//! form, scores per agent, the per-person summary, and call recordings (client-streamed
//! upload by the call server, server-streamed playback). Handlers validate and convert; the
//! operations and the rules on rows are `desk::qa`'s.

use super::{caller, positive_id, upload_head, upload_next};
use crate::convert;
use crate::desk::Desk;
use crate::desk::qa::{DrawAsk, Quality, RecordingMeta, ScoreForm};
use crate::error::CoreError;
use hotline_docstore::DocumentStore;
use hotline_domain::qa::QaConfig;
use hotline_domain::{Timestamp, ValidationError};
use hotline_proto::v1 as pb;
use hotline_proto::v1::quality_service_server::QualityService;
use hotline_store::{RecordingRecord, SampleFilter, SampleRecord, ScoreRecord};
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

pub struct QualityApi {
    pub desk: Desk,
    pub docs: Arc<dyn DocumentStore>,
    pub cfg: QaConfig,
}

type R<T> = Result<Response<T>, Status>;

/// Bytes per chunk of a playback.
const CHUNK: usize = 64 * 1024;

pub fn sample_pb(s: &SampleRecord) -> pb::Sample {
    pb::Sample {
        id: s.id,
        kind: s.kind.as_str().into(),
        kind_label: s.kind.label_zh().into(),
        period: s.period.clone(),
        agent_id: s.agent_id.clone(),
        ticket_id: s.ticket_id,
        seed: s.seed,
        opened_by: s.opened_by.clone(),
        opened_at: Some(convert::ts(s.opened_at)),
        draw_id: s.draw_id.unwrap_or(0),
        score_id: s.score_id.unwrap_or(0),
    }
}

pub fn score_pb(s: &ScoreRecord) -> pb::Score {
    pb::Score {
        id: s.id,
        sample_id: s.sample_id,
        agent_id: s.agent_id.clone(),
        ticket_id: s.ticket_id,
        kind: s.kind.as_str().into(),
        period: s.period.clone(),
        items: s
            .items
            .iter()
            .map(|i| pb::ItemScore {
                item: i.key.clone(),
                label: i.label.clone(),
                weight: i.weight,
                max: i.max,
                score: i.score,
            })
            .collect(),
        total: s.total_centi as f64 / 100.0,
        total_centi: s.total_centi,
        comment: s.comment.clone(),
        scored_by: s.scored_by.clone(),
        scored_role: s.scored_role.as_str().into(),
        scored_at: Some(convert::ts(s.scored_at)),
        rescore_reason: s.rescore_reason.clone(),
        superseded_at: convert::opt_ts(s.superseded_at),
    }
}

pub fn recording_pb(r: &RecordingRecord) -> pb::Recording {
    pb::Recording {
        id: r.id,
        call_id: r.call_id.clone(),
        ticket_id: r.ticket_id.unwrap_or(0),
        agent_id: r.agent_id.clone(),
        digest: r.digest.clone(),
        size: r.size,
        duration_ms: r.duration_ms,
        sample_rate: r.sample_rate,
        channels: u32::from(r.channels),
        started_at: Some(convert::ts(r.started_at)),
        stored_at: Some(convert::ts(r.stored_at)),
        purged: r.purged_at.is_some(),
    }
}

fn range(
    from: &Option<prost_types::Timestamp>,
    to: &Option<prost_types::Timestamp>,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), CoreError> {
    let from = match from {
        Some(t) => convert::from_ts("from", t)?,
        None => Timestamp(0),
    };
    let to = match to {
        Some(t) => convert::from_ts("to", t)?,
        None => now.plus_ms(1),
    };
    if to < from {
        return Err(ValidationError::new("to", "is before from").into());
    }
    Ok((from, to))
}

fn page(page_size: i32) -> u32 {
    if page_size <= 0 {
        100
    } else {
        page_size.min(1000) as u32
    }
}

impl QualityApi {
    fn qa(&self) -> Quality<'_> {
        self.desk.quality(self.docs.as_ref(), &self.cfg)
    }
}

#[tonic::async_trait]
impl QualityService for QualityApi {
    async fn draw_samples(
        &self,
        req: Request<pb::DrawSamplesRequest>,
    ) -> R<pb::DrawSamplesResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let d = self
            .qa()
            .draw(
                &who,
                DrawAsk {
                    kind: r.kind,
                    period: r.period,
                    per_agent: r.per_agent,
                    seed: r.seed,
                    agents: r.agents.iter().map(|a| a.trim().to_string()).collect(),
                },
            )
            .await?;
        Ok(Response::new(pb::DrawSamplesResponse {
            draw_id: d.draw_id,
            seed: d.seed,
            period: d.period,
            samples: d.samples.iter().map(sample_pb).collect(),
        }))
    }

    async fn open_assessment(&self, req: Request<pb::OpenAssessmentRequest>) -> R<pb::Sample> {
        let who = caller(&req)?;
        let r = req.get_ref();
        let ticket = positive_id("ticket_id", r.ticket_id).map_err(CoreError::from)?;
        if r.agent_id.trim().is_empty() {
            return Err(CoreError::from(ValidationError::new("agent_id", "is empty")).into());
        }
        let s = self
            .qa()
            .open_assessment(&who, r.agent_id.trim(), ticket)
            .await?;
        Ok(Response::new(sample_pb(&s)))
    }

    async fn list_samples(
        &self,
        req: Request<pb::ListSamplesRequest>,
    ) -> R<pb::ListSamplesResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let f = SampleFilter {
            agent_id: (!r.agent_id.trim().is_empty()).then(|| r.agent_id.trim().to_string()),
            unscored_only: r.unscored_only,
            limit: page(r.page_size),
            ..Default::default()
        };
        let list = self.qa().list(&who, f, &r.kind, &r.period).await?;
        Ok(Response::new(pb::ListSamplesResponse {
            samples: list.iter().map(sample_pb).collect(),
        }))
    }

    async fn get_sample(&self, req: Request<pb::GetSampleRequest>) -> R<pb::SampleDetail> {
        let who = caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let d = self.qa().get(&who, id).await?;
        let limit = self.desk.repair_limit_hours(&d.ticket.ticket);
        Ok(Response::new(pb::SampleDetail {
            sample: Some(sample_pb(&d.sample)),
            ticket: Some(convert::view(&d.ticket, limit)),
            history: d.history.iter().map(convert::audit).collect(),
            recording: d.recording.as_ref().map(recording_pb),
            scores: d.scores.iter().map(score_pb).collect(),
        }))
    }

    async fn score_sample(&self, req: Request<pb::ScoreSampleRequest>) -> R<pb::Score> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("sample_id", r.sample_id).map_err(CoreError::from)?;
        let reason = r.rescore_reason.trim();
        let s = self
            .qa()
            .score(
                &who,
                id,
                ScoreForm {
                    items: r.items.into_iter().collect(),
                    comment: r.comment,
                    rescore_reason: (!reason.is_empty()).then(|| reason.to_string()),
                },
            )
            .await?;
        Ok(Response::new(score_pb(&s)))
    }

    async fn get_form(&self, req: Request<pb::GetFormRequest>) -> R<pb::Form> {
        caller(&req)?;
        Ok(Response::new(pb::Form {
            items: self
                .cfg
                .form
                .iter()
                .map(|f| pb::FormItem {
                    key: f.key.clone(),
                    label: f.label.clone(),
                    weight: f.weight,
                    max: f.max,
                })
                .collect(),
            scheduled_per_agent: self.cfg.scheduled_per_agent,
        }))
    }

    async fn list_scores(&self, req: Request<pb::ListScoresRequest>) -> R<pb::ListScoresResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let (from, to) = range(&r.from, &r.to, self.desk.clock.now())?;
        let list = self
            .qa()
            .scores(&who, &r.agent_id, from, to, r.include_superseded)
            .await?;
        Ok(Response::new(pb::ListScoresResponse {
            scores: list.iter().map(score_pb).collect(),
        }))
    }

    async fn person_summary(
        &self,
        req: Request<pb::PersonSummaryRequest>,
    ) -> R<pb::PersonSummaryResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let (from, to) = range(&r.from, &r.to, self.desk.clock.now())?;
        let s = self.qa().summary(&who, &r.agent_id, from, to).await?;
        Ok(Response::new(pb::PersonSummaryResponse {
            agent_id: s.agent_id,
            reviews_passed: s.evidence.reviews_passed,
            reviews_rejected: s.evidence.reviews_rejected,
            escalations: s.evidence.escalations,
            no_answers: s.evidence.no_answers,
            scores: s.scores,
            average_score: s.average_centi.map(|c| c as f64 / 100.0),
        }))
    }

    async fn upload_recording(
        &self,
        req: Request<Streaming<pb::RecordingChunk>>,
    ) -> R<pb::Recording> {
        let who = caller(&req)?;
        let mut stream = req.into_inner();
        let (meta, mut bytes) = upload_head(&mut stream, "the call's metadata").await?;
        if meta.ticket_id < 0 {
            return Err(CoreError::from(ValidationError::new(
                "ticket_id",
                "must be a ticket id or 0",
            ))
            .into());
        }
        let started_at = match &meta.started_at {
            Some(t) => Some(convert::from_ts("started_at", t).map_err(CoreError::from)?),
            None => None,
        };
        let limit = self.cfg.max_recording_bytes as usize;
        while let Some(data) = upload_next(&mut stream).await? {
            if bytes.len() + data.len() > limit {
                return Err(CoreError::from(ValidationError::new(
                    "data",
                    format!("the recording is larger than the limit of {limit} bytes"),
                ))
                .into());
            }
            bytes.extend_from_slice(&data);
        }
        let rec = self
            .qa()
            .store_recording(
                &who,
                RecordingMeta {
                    call_id: meta.call_id,
                    ticket_id: (meta.ticket_id > 0).then_some(meta.ticket_id),
                    agent_id: meta.agent_id,
                    started_at,
                },
                &bytes,
            )
            .await?;
        Ok(Response::new(recording_pb(&rec)))
    }

    type PlayRecordingStream =
        Pin<Box<dyn Stream<Item = Result<pb::RecordingData, Status>> + Send + 'static>>;

    async fn play_recording(
        &self,
        req: Request<pb::PlayRecordingRequest>,
    ) -> R<Self::PlayRecordingStream> {
        let who = caller(&req)?;
        let r = req.get_ref();
        let qa = self.qa();
        let id = if r.id == 0 && r.sample_id > 0 {
            let d = qa.get(&who, r.sample_id).await?;
            d.recording.map(|rec| rec.id).ok_or_else(|| {
                CoreError::NotFound(format!("recording of sample {}", r.sample_id))
            })?
        } else {
            positive_id("id", r.id).map_err(CoreError::from)?
        };
        // verified against the digest before the first byte leaves
        let (_, bytes) = qa.fetch_recording(id).await?;
        let chunks: Vec<Result<pb::RecordingData, Status>> = bytes
            .chunks(CHUNK)
            .map(|c| Ok(pb::RecordingData { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}
