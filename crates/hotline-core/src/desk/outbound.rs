//! Automated outbound survey calls (`ivr-outbound`, issue 16 part 5), the core's half: the
//! call server's service account claims the next callback due (a 回单's open survey, in
//! calling hours, its retry time passed, attempts left, the number not called today and not
//! on the do-not-call list), places the call, and reports how it ended. An answer (1 满意,
//! 2 基本满意, 3 不满意) is recorded as the survey's result with channel `ivr-outbound`
//! (不满意 puts the ticket on the SS4 investigation worklist); no answer, busy, a dead number
//! or no key is an unreached attempt retried by the same rules as a surveyor's; 9 (a person)
//! leaves the survey open; a trunk failure records nothing and frees the day, and a run of
//! them raises the `outbound` alert.
//!
//! Claims are rows of `outbound_calls`, once per number per Beijing day (a unique index), so
//! two call servers never call one customer twice a day. A claim nobody finishes within
//! [`STALE_CLAIM_MS`] is closed as lost at the next claim.

use super::surveys::{Attempt, CallbackRecorded, Surveys};
use crate::auth::Principal;
use crate::error::CoreError;
use crate::events::DeskEvent;
use hotline_domain::outbound::{self, OutboundResult, STALE_CLAIM_MS};
use hotline_domain::survey::{Callback, Consent, CustomerProfile};
use hotline_domain::{Role, Timestamp};
use hotline_store::{DoNotCallEntry, NewClaim, OutboundCallRecord, OutboundClaim};
use tracing::Instrument;

/// Candidates read per claim.
const CANDIDATES: u32 = 200;

/// This many trunk failures in a row raise the `outbound` alert ...
pub const TRUNK_FAILURES_ALERT: u32 = 5;

/// ... at most once per this long.
const TRUNK_ALERT_QUIET_MS: i64 = 60 * 60 * 1000;

/// A finished automated call.
#[derive(Clone, Debug)]
pub struct OutboundFinished {
    pub call: OutboundCallRecord,
    /// The survey attempt written (none for a person, a trunk failure, a survey closed
    /// meanwhile).
    pub callback: Option<CallbackRecorded>,
    /// 不满意: the ticket is on the SS4 investigation worklist.
    pub investigate: bool,
}

impl Surveys {
    fn check_campaign(who: &Principal, what: &'static str) -> Result<(), CoreError> {
        if who.role == Role::System {
            Ok(())
        } else {
            Err(CoreError::Forbidden {
                role: who.role.as_str(),
                what,
            })
        }
    }

    fn check_list_keeper(who: &Principal, what: &'static str) -> Result<(), CoreError> {
        if matches!(who.role, Role::Surveyor | Role::DataManager | Role::Admin) {
            Ok(())
        } else {
            Err(CoreError::Forbidden {
                role: who.role.as_str(),
                what,
            })
        }
    }

    /// Claims the next automated survey call due now; `None` when nothing is due (outside
    /// calling hours, every customer called today or waiting for the retry time).
    pub async fn claim_outbound(
        &self,
        who: &Principal,
    ) -> Result<Option<OutboundClaim>, CoreError> {
        Self::check_campaign(who, "claim automated survey calls")?;
        let now = self.desk.clock.now();
        let store = &self.desk.store;
        let lost = store.expire_outbound_claims(now).await?;
        if lost > 0 {
            tracing::warn!(
                lost,
                stale_after_ms = STALE_CLAIM_MS,
                "automated survey calls never finished; closed as lost"
            );
        }
        if !self.rules.in_calling_hours(now) {
            return Ok(None);
        }
        let day = outbound::beijing_day(now);
        for w in store.outbound_candidates(day, CANDIDATES).await? {
            let Some(task_id) = w.task_id else { continue };
            let Ok(attempt) =
                self.rules
                    .check_attempt(w.ticket.id, now, w.attempts, w.last_attempt_at)
            else {
                continue;
            };
            let number = w
                .ticket
                .contact_number
                .as_ref()
                .unwrap_or(&w.ticket.faulty_number)
                .as_str()
                .to_owned();
            let claim = store
                .claim_outbound(&NewClaim {
                    ticket_id: w.ticket.id,
                    task_id,
                    number: &number,
                    day,
                    attempt,
                    by: &who.agent_id,
                    now,
                })
                .await?;
            if let Some(c) = claim {
                tracing::info!(
                    claim = c.id,
                    ticket_id = c.ticket_id,
                    attempt,
                    "automated survey call claimed"
                );
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Records how a claimed call ended (`result`, the key pressed, the final SIP status of
    /// an unanswered call). A call is finished once (`ALREADY_EXISTS` after).
    pub async fn finish_outbound(
        &self,
        who: &Principal,
        claim_id: i64,
        result: &str,
        key: &str,
        sip_status: Option<u16>,
    ) -> Result<OutboundFinished, CoreError> {
        Self::check_campaign(who, "report automated survey calls")?;
        let end = outbound::check_end(result, key)?;
        let now = self.desk.clock.now();
        let store = &self.desk.store;
        let outcome = end.result.call_outcome();
        let no_attempt_detail = outcome
            .is_none()
            .then(|| outbound::describe(None, end, sip_status));
        let call = store
            .finish_outbound(
                claim_id,
                end.result,
                key,
                sip_status,
                no_attempt_detail.as_deref(),
                &who.agent_id,
                now,
            )
            .await?;
        let callback = match outcome {
            Some(outcome) => {
                let cb = Callback {
                    outcome,
                    satisfaction: end.satisfaction,
                    comment: outbound::describe(None, end, sip_status),
                    consent: Consent::NotAsked,
                    profile: CustomerProfile::default(),
                };
                self.write_callback(who, call.claim.ticket_id, &cb, Attempt::Outbound)
                    .instrument(tracing::info_span!(
                        "outbound",
                        claim = claim_id,
                        ticket_id = call.claim.ticket_id
                    ))
                    .await?
            }
            None => None,
        };
        tracing::info!(
            claim = claim_id,
            ticket_id = call.claim.ticket_id,
            result = end.result.as_str(),
            sip_status,
            "automated survey call finished"
        );
        if end.result == OutboundResult::TrunkFailed {
            self.trunk_alert(now, sip_status).await?;
        }
        Ok(OutboundFinished {
            call,
            callback,
            investigate: outbound::needs_investigation(end),
        })
    }

    /// Raises the `outbound` alert when the last [`TRUNK_FAILURES_ALERT`] calls all failed
    /// at the trunk (once an hour at most).
    async fn trunk_alert(&self, now: Timestamp, status: Option<u16>) -> Result<(), CoreError> {
        let store = &self.desk.store;
        let recent = store.recent_outbound_results(TRUNK_FAILURES_ALERT).await?;
        if recent.len() < TRUNK_FAILURES_ALERT as usize
            || recent.iter().any(|r| *r != OutboundResult::TrunkFailed)
        {
            return Ok(());
        }
        let msg = format!(
            "自动外呼回访: 最近 {TRUNK_FAILURES_ALERT} 次呼叫均被中继拒绝{}，请检查外呼中继配置与账号",
            status.map(|s| format!(" (SIP {s})")).unwrap_or_default()
        );
        if let Some(alert) = store
            .raise_outbound_alert(now, TRUNK_ALERT_QUIET_MS, &msg)
            .await?
        {
            tracing::error!(
                status,
                "every recent automated survey call failed at the trunk"
            );
            self.desk.events.publish(DeskEvent::Alert(alert));
        }
        Ok(())
    }

    /// Puts a number on the do-not-call list (or changes its reason).
    pub async fn add_do_not_call(
        &self,
        who: &Principal,
        number: &str,
        reason: &str,
    ) -> Result<DoNotCallEntry, CoreError> {
        Self::check_list_keeper(who, "keep the do-not-call list")?;
        let (number, reason) = outbound::check_do_not_call(number, reason)?;
        let e = self
            .desk
            .store
            .add_do_not_call(
                number.as_str(),
                &reason,
                &who.agent_id,
                self.desk.clock.now(),
            )
            .await?;
        tracing::info!(agent = %who.agent_id, "number put on the do-not-call list");
        Ok(e)
    }

    /// Takes a number off the do-not-call list (`NOT_FOUND` when it was not on it).
    pub async fn remove_do_not_call(&self, who: &Principal, number: &str) -> Result<(), CoreError> {
        Self::check_list_keeper(who, "keep the do-not-call list")?;
        let number = hotline_domain::PhoneNumber::parse(number)
            .map_err(|e| hotline_domain::ValidationError::new("number", e.to_string()))?;
        if self.desk.store.remove_do_not_call(number.as_str()).await? {
            tracing::info!(agent = %who.agent_id, "number taken off the do-not-call list");
            Ok(())
        } else {
            Err(CoreError::NotFound(format!(
                "{} on the do-not-call list",
                number.as_str()
            )))
        }
    }

    /// The do-not-call list.
    pub async fn do_not_call(
        &self,
        who: &Principal,
        limit: u32,
    ) -> Result<Vec<DoNotCallEntry>, CoreError> {
        Self::check_list_keeper(who, "read the do-not-call list")?;
        let limit = if limit == 0 { 1000 } else { limit };
        Ok(self.desk.store.do_not_call_list(limit).await?)
    }
}
