//! The queue's side of the desk (JO2, JO8, PR1): the screen pop of a queued call, read once
//! when it joins, and the queue metrics computed from the stored queue log.

use super::Desk;
use crate::acd::{self, AcdHandle, CallInfo};
use crate::error::CoreError;
use hotline_domain::Timestamp;
use hotline_store::ListFilter;

/// A caller the call server queues (validated by the handler).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub call_id: String,
    pub caller_number: String,
    /// What the caller keyed in (empty: the caller number is the faulty number).
    pub faulty_number: String,
    pub senior: bool,
    pub reason: String,
}

impl Desk {
    /// The call as the queue carries it: the number's recent tickets and customer, read once
    /// for the screen pop.
    pub async fn screen_pop(&self, c: Caller) -> Result<CallInfo, CoreError> {
        let number = if c.faulty_number.is_empty() {
            &c.caller_number
        } else {
            &c.faulty_number
        };
        let recent = if number.is_empty() {
            Vec::new()
        } else {
            self.list(&ListFilter {
                faulty_number: Some(number.clone()),
                limit: 5,
                ..Default::default()
            })
            .await?
        };
        // JO8, issue 19: a number in the customer directory shows its customer and routes a
        // big, important or leased-line customer to a senior, whatever the IVR decided.
        let listed = self.directory_customer(number).await?;
        let to_senior = listed
            .as_ref()
            .is_some_and(|r| r.customer.class.needs_senior());
        let reason = match &listed {
            Some(r) if to_senior && !c.senior && c.reason.is_empty() => {
                format!("目录客户: {}", r.customer.class.label_zh())
            }
            _ => c.reason,
        };
        Ok(CallInfo {
            call_id: c.call_id,
            caller_number: c.caller_number,
            faulty_number: c.faulty_number,
            senior: c.senior || to_senior,
            reason,
            customer: listed
                .as_ref()
                .map(|r| r.customer.ticket_customer())
                .or_else(|| recent.first().map(|t| t.customer.clone())),
            repeat: recent.iter().any(|t| t.status.is_open()),
            recent,
        })
    }

    /// The service-level thresholds in force: `[rules]` for the service level, the queue's answer
    /// limit for JO2.
    pub fn sl_rules(&self, acd: &AcdHandle) -> hotline_acd::SlRules {
        hotline_acd::SlRules {
            service_level_ms: i64::from(self.rules.queue_service_level_secs) * 1000,
            short_abandon_ms: i64::from(self.rules.queue_short_abandon_secs) * 1000,
            answer_limit_ms: acd.settings().answer_timeout.as_millis() as i64,
        }
    }

    /// Metrics over the stored queue log for calls that joined in `[since, until)` (at most a
    /// million rows from `since` on). Periods are cut in Beijing time.
    pub async fn queue_metrics(
        &self,
        acd: &AcdHandle,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<hotline_acd::Metrics, CoreError> {
        let rows = self.store.queue_log_since(since, 1_000_000).await?;
        let entries = acd::entries(&rows, acd.queue_name());
        Ok(hotline_acd::Metrics::from_log(
            &entries,
            self.sl_rules(acd),
            hotline_acd::Window::beijing(since.0, until.0),
        ))
    }
}
