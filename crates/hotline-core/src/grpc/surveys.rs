//! `hotline.v1.SurveyService`: the satisfaction surveyor's worklists (SS1-SS4), callbacks
//! (SS2, SS5, SS6), investigations (SS4, SO5) and statistics (SS5). Who may call it is the
//! permission matrix's (surveyors and admins); the rules are `desk::surveys`' and the
//! domain's. Handlers validate the request, call the desk and convert the result.

use super::{caller, positive_id};
use crate::convert;
use crate::desk::surveys::{CallbackRecorded, SurveyReport, Surveys, WorkEntry};
use crate::error::CoreError;
use hotline_domain::ValidationError;
use hotline_domain::analysis::AnalysisKind;
use hotline_domain::survey::{self, CallbackForm, GroupStats, NextStep, Tally, Worklist};
use hotline_proto::v1 as pb;
use hotline_proto::v1::survey_service_server::SurveyService;
use hotline_store::{AnalysisRecord, DoNotCallEntry, InvestigationRecord};
use tonic::{Request, Response, Status};

pub struct SurveyApi {
    pub surveys: Surveys,
}

type R<T> = Result<Response<T>, Status>;

fn analysis(a: &AnalysisRecord, with_body: bool) -> pb::Analysis {
    pb::Analysis {
        id: a.id,
        kind: a.kind.as_str().into(),
        kind_label: a.kind.label_zh().into(),
        period: a.period.clone(),
        period_start: Some(convert::ts(a.period_start)),
        period_end: Some(convert::ts(a.period_end)),
        state: a.state.as_str().into(),
        state_label: a.state.label_zh().into(),
        title: a.title.clone(),
        body: if with_body {
            a.body.clone()
        } else {
            String::new()
        },
        drafted_at: Some(convert::ts(a.drafted_at)),
        published_by: a.published_by.clone().unwrap_or_default(),
        published_at: a.published_at.map(convert::ts),
        publish_note: a.publish_note.clone(),
        due_at: hotline_domain::analysis::publish_limit(a.kind, a.period_end)
            .map(|(_, due)| convert::ts(due)),
    }
}

fn entry(e: &WorkEntry) -> pb::SurveyWorkEntry {
    let t = &e.ticket;
    pb::SurveyWorkEntry {
        list: e.list.as_str().into(),
        source: e.source.map_or("", |s| s.as_str()).into(),
        source_label: e.source.map_or("", |s| s.label_zh()).into(),
        ticket_id: t.id,
        task_id: e.task_id.unwrap_or(0),
        faulty_number: t.faulty_number.as_str().into(),
        contact_number: e.contact.clone(),
        customer_name: t.customer.name.clone(),
        branch: t.customer.branch.clone(),
        fault_type: t.fault_type.as_str().into(),
        fault_type_label: t.fault_type.label_zh().into(),
        status: t.status.as_str().into(),
        status_label: t.status.label_zh().into(),
        since: Some(convert::ts(e.since)),
        elapsed_ms: e.elapsed_ms,
        attempts: e.attempts,
        last_attempt_at: convert::opt_ts(e.last_attempt_at),
        next_attempt_at: convert::opt_ts(e.next_attempt_at),
        callable_now: e.callable_now,
        due_at: e.deadline.map(|d| convert::ts(d.deadline.due_at)),
        warned: e.deadline.is_some_and(|d| d.warned),
        urged: Surveys::is_urged(e),
        repeats: e.repeats,
        dissatisfied: e.dissatisfied,
    }
}

fn tally(t: &Tally) -> pb::SatisfactionTally {
    pb::SatisfactionTally {
        satisfied: t.satisfied,
        basically_satisfied: t.basically_satisfied,
        dissatisfied: t.dissatisfied,
        total: t.total(),
        rate: t.rate().unwrap_or(0.0),
    }
}

fn group(g: &GroupStats) -> pb::SurveyGroup {
    pb::SurveyGroup {
        dimension: g.dimension.as_str().into(),
        key: g.key.clone(),
        tally: Some(tally(&g.tally)),
    }
}

fn report(r: &SurveyReport) -> pb::SurveyStats {
    pb::SurveyStats {
        from: Some(convert::ts(r.from)),
        to: Some(convert::ts(r.to)),
        overall: Some(tally(&r.stats.overall)),
        groups: r.stats.groups.iter().map(group).collect(),
        weakest: r.stats.weakest.iter().map(group).collect(),
        weak_points: r.weak_points.clone(),
        attempts: r.attempts.attempts,
        not_reached: r.attempts.not_reached,
        unreachable: r.attempts.unreachable,
        warnings: r
            .warnings
            .iter()
            .map(|w| pb::BranchWarnings {
                branch: w.branch.clone(),
                warnings: w.warnings,
            })
            .collect(),
    }
}

fn investigation(i: &InvestigationRecord) -> pb::Investigation {
    pb::Investigation {
        id: i.id,
        ticket_id: i.ticket_id,
        outcome: i.outcome.as_str().into(),
        outcome_label: i.outcome.label_zh().into(),
        note: i.note.clone(),
        order_id: i.order_id.unwrap_or(0),
        made_by: i.made_by.clone(),
        made_at: Some(convert::ts(i.made_at)),
    }
}

fn callback(rec: &CallbackRecorded) -> pb::RecordCallbackResponse {
    let (next, at) = match rec.next {
        NextStep::Done => ("done", None),
        NextStep::RetryAt(t) => ("retry", Some(convert::ts(t))),
        NextStep::Unreachable => ("unreachable", None),
    };
    pb::RecordCallbackResponse {
        ticket_id: rec.ticket_id,
        task_id: rec.task_id,
        attempt: rec.attempt,
        outcome: rec.outcome.as_str().into(),
        next: next.into(),
        next_attempt_at: at,
        result_id: rec.result_id.unwrap_or(0),
    }
}

fn do_not_call(e: &DoNotCallEntry) -> pb::DoNotCallEntry {
    pb::DoNotCallEntry {
        number: e.number.clone(),
        reason: e.reason.clone(),
        added_by: e.added_by.clone(),
        added_at: Some(convert::ts(e.added_at)),
    }
}

fn worklist(s: &str) -> Result<Worklist, ValidationError> {
    Worklist::parse(s).ok_or_else(|| {
        ValidationError::new(
            "list",
            format!(
                "unknown list {s:?}; use one of {}",
                Worklist::ALL.map(Worklist::as_str).join(", ")
            ),
        )
    })
}

#[tonic::async_trait]
impl SurveyService for SurveyApi {
    async fn list_survey_work(
        &self,
        req: Request<pb::ListSurveyWorkRequest>,
    ) -> R<pb::ListSurveyWorkResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let list = worklist(&r.list).map_err(CoreError::from)?;
        let entries = self.surveys.worklist(&who, list, r.limit).await?;
        Ok(Response::new(pb::ListSurveyWorkResponse {
            entries: entries.iter().map(entry).collect(),
            now: Some(convert::ts(self.surveys.desk.clock.now())),
        }))
    }

    async fn record_callback(
        &self,
        req: Request<pb::RecordCallbackRequest>,
    ) -> R<pb::RecordCallbackResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let ticket = positive_id("ticket_id", r.ticket_id).map_err(CoreError::from)?;
        let p = r.profile.unwrap_or_default();
        let form = CallbackForm {
            outcome: r.outcome,
            satisfaction: r.satisfaction,
            comment: r.comment,
            consent: r.consent,
            education: p.education,
            age_band: p.age_band,
            spending_level: p.spending_level,
            operator_opinion: p.operator_opinion,
        };
        let rec = self.surveys.record_callback(&who, ticket, &form).await?;
        Ok(Response::new(callback(&rec)))
    }

    async fn investigate(&self, req: Request<pb::InvestigateRequest>) -> R<pb::Investigation> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let ticket = positive_id("ticket_id", r.ticket_id).map_err(CoreError::from)?;
        let rec = self
            .surveys
            .investigate(&who, ticket, &r.outcome, &r.note)
            .await?;
        Ok(Response::new(investigation(&rec)))
    }

    async fn get_survey_stats(
        &self,
        req: Request<pb::GetSurveyStatsRequest>,
    ) -> R<pb::SurveyStats> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let (from, to) = match (r.from, r.to) {
            (None, None) => survey::week_containing(self.surveys.desk.clock.now()),
            (Some(f), Some(t)) => (
                convert::from_ts("from", &f).map_err(CoreError::from)?,
                convert::from_ts("to", &t).map_err(CoreError::from)?,
            ),
            (None, Some(_)) => {
                return Err(CoreError::from(ValidationError::new(
                    "from",
                    "is required with to (or leave both empty for this week)",
                ))
                .into());
            }
            (Some(_), None) => {
                return Err(CoreError::from(ValidationError::new(
                    "to",
                    "is required with from (or leave both empty for this week)",
                ))
                .into());
            }
        };
        let rep = self.surveys.stats(&who, from, to).await?;
        Ok(Response::new(report(&rep)))
    }
    async fn list_analyses(
        &self,
        req: Request<pb::ListAnalysesRequest>,
    ) -> R<pb::ListAnalysesResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let kind = match r.kind.trim() {
            "" => None,
            k => Some(AnalysisKind::parse(k).ok_or_else(|| {
                CoreError::from(ValidationError::new(
                    "kind",
                    format!(
                        "unknown analysis kind {k:?}; one of {}",
                        AnalysisKind::ALL.map(AnalysisKind::as_str).join(", ")
                    ),
                ))
            })?),
        };
        let limit = if r.limit == 0 { 50 } else { r.limit.min(1000) };
        let list = self.surveys.analyses().list(&who, kind, limit).await?;
        Ok(Response::new(pb::ListAnalysesResponse {
            analyses: list.iter().map(|a| analysis(a, false)).collect(),
        }))
    }

    async fn get_analysis(&self, req: Request<pb::GetAnalysisRequest>) -> R<pb::Analysis> {
        let who = caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let a = self.surveys.analyses().get(&who, id).await?;
        Ok(Response::new(analysis(&a, true)))
    }

    async fn publish_analysis(&self, req: Request<pb::PublishAnalysisRequest>) -> R<pb::Analysis> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let note = super::text("note", &r.note).map_err(CoreError::from)?;
        let a = self.surveys.analyses().publish(&who, id, &note).await?;
        Ok(Response::new(analysis(&a, true)))
    }

    async fn claim_outbound_survey(
        &self,
        req: Request<pb::ClaimOutboundSurveyRequest>,
    ) -> R<pb::OutboundSurveyClaim> {
        let who = caller(&req)?;
        let claim = self.surveys.claim_outbound(&who).await?;
        Ok(Response::new(match claim {
            Some(c) => pb::OutboundSurveyClaim {
                claim_id: c.id,
                ticket_id: c.ticket_id,
                number: c.number,
                attempt: c.attempt,
            },
            None => pb::OutboundSurveyClaim::default(),
        }))
    }

    async fn finish_outbound_survey(
        &self,
        req: Request<pb::FinishOutboundSurveyRequest>,
    ) -> R<pb::FinishOutboundSurveyResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let claim = positive_id("claim_id", r.claim_id).map_err(CoreError::from)?;
        let status = match r.sip_status {
            0 => None,
            s @ 100..=699 => Some(s as u16),
            s => {
                return Err(CoreError::from(ValidationError::new(
                    "sip_status",
                    format!("{s} is not a SIP status (100-699, or 0 for none)"),
                ))
                .into());
            }
        };
        let done = self
            .surveys
            .finish_outbound(&who, claim, &r.result, &r.key, status)
            .await?;
        let result = done.call.result;
        Ok(Response::new(pb::FinishOutboundSurveyResponse {
            claim_id: done.call.claim.id,
            ticket_id: done.call.claim.ticket_id,
            result: result.map_or("", |r| r.as_str()).into(),
            result_label: result.map_or("", |r| r.label_zh()).into(),
            callback: done.callback.as_ref().map(callback),
            investigate: done.investigate,
        }))
    }

    async fn add_do_not_call(
        &self,
        req: Request<pb::AddDoNotCallRequest>,
    ) -> R<pb::DoNotCallEntry> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let e = self
            .surveys
            .add_do_not_call(&who, &r.number, &r.reason)
            .await?;
        Ok(Response::new(do_not_call(&e)))
    }

    async fn remove_do_not_call(
        &self,
        req: Request<pb::RemoveDoNotCallRequest>,
    ) -> R<pb::RemoveDoNotCallResponse> {
        let who = caller(&req)?;
        self.surveys
            .remove_do_not_call(&who, &req.get_ref().number)
            .await?;
        Ok(Response::new(pb::RemoveDoNotCallResponse {}))
    }

    async fn list_do_not_call(
        &self,
        req: Request<pb::ListDoNotCallRequest>,
    ) -> R<pb::ListDoNotCallResponse> {
        let who = caller(&req)?;
        let list = self.surveys.do_not_call(&who, req.get_ref().limit).await?;
        Ok(Response::new(pb::ListDoNotCallResponse {
            entries: list.iter().map(do_not_call).collect(),
        }))
    }
}
