//! The call flows, one file per flow, and what they share: the [`Flow`] context, the menu
//! and number-entry helpers, [`FlowOutcome`] and [`FlowError`]. [`run_call`] is the entry
//! point the channel glue calls for every answered call.
//!
//! | file | flow | ends with |
//! |---|---|---|
//! | `main_menu.rs` | welcome, 1 report / 2 progress / 3 message / 0 agent, retries | the chosen flow |
//! | `report.rs` | number (`#` alone = caller), read-back 1/2, fault type, ticket read back (SF1, JO8) | `Done`, `ToAgent` |
//! | `progress.rs` | number, latest ticket in plain words and the limit (JO9) | `Done` |
//! | `voicemail.rs` | beep, record, register with the core (SF9) | `Done`, `CallerHungUp` |
//! | `agent.rs` | to an agent, or voicemail when none is logged in; queue position prompts | `ToAgent` |
//! | `out_of_hours.rs` | closed: say so, offer voicemail | `Done` |
//! | `survey.rs` | an automated survey call (outbound): who calls, 1/2/3 answer, 9 a person | a `SurveyAnswer` |

pub mod agent;
pub mod main_menu;
pub mod out_of_hours;
pub mod progress;
pub mod report;
pub mod survey;
pub mod voicemail;

use time::OffsetDateTime;
use tracing::Instrument;

use crate::backend::{Backend, BackendError};
use crate::channel::{Channel, ChannelError, CollectEnd, CollectSpec, Collected, PlayOutcome};
use crate::config::{IvrConfig, NUMBER_DIGITS};
use crate::prompts::{self, id};

/// How a call left the IVR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowOutcome {
    /// The IVR finished (goodbye said) and hung up.
    Done,
    /// The caller hung up; nothing half-done was left in the core.
    CallerHungUp,
    /// The glue must queue the call for an agent in the core's ACD (the caller has heard
    /// "transferring"). `senior` for JO8 callers and escalations; `ticket` when a report was
    /// just created for this call, so the agent's screen pop shows it.
    ToAgent {
        /// Needs a senior agent.
        senior: bool,
        /// The ticket created in this call, if any.
        ticket: Option<i64>,
    },
}

/// A call that could not be carried on. A caller hanging up is not one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The channel failed (other than a hang-up).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The core failed; the caller heard the "system busy" prompt.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// What every flow works with.
pub struct Flow<'a> {
    /// The call.
    pub ch: &'a mut dyn Channel,
    /// The core.
    pub backend: &'a dyn Backend,
    /// Timeouts, retries, voicemail, calendar.
    pub cfg: &'a IvrConfig,
    /// A key interrupted a prompt and waits for the next collection: further skippable
    /// prompts are not played (a channel interrupts only on keys pressed while it plays).
    key_waiting: bool,
}

impl<'a> Flow<'a> {
    /// A flow context for one call.
    pub fn new(ch: &'a mut dyn Channel, backend: &'a dyn Backend, cfg: &'a IvrConfig) -> Self {
        Flow {
            ch,
            backend,
            cfg,
            key_waiting: false,
        }
    }

    /// Plays prompts the caller may cut short with a key (menus, hints). Skipped when a key
    /// typed earlier is waiting: the caller has already answered.
    pub async fn prompt(&mut self, ids: &[&str]) -> Result<(), FlowError> {
        if self.key_waiting {
            return Ok(());
        }
        if let PlayOutcome::Interrupted(_) = self.ch.play(ids, true).await? {
            self.key_waiting = true;
        }
        Ok(())
    }

    /// Plays prompts the caller must hear in full (read-backs, transfer, goodbye).
    pub async fn say(&mut self, ids: &[&str]) -> Result<(), FlowError> {
        self.ch.play(ids, false).await?;
        Ok(())
    }

    /// Collects keys (a waiting key comes first).
    pub async fn collect(&mut self, spec: &CollectSpec) -> Result<Collected, FlowError> {
        self.key_waiting = false;
        Ok(self.ch.collect_digits(spec).await?)
    }
}

/// Runs a whole call: answer, then the main menu (or the out-of-hours flow when `now` is
/// outside the service calendar). Returns what the glue must do next.
pub async fn run_call(
    ch: &mut dyn Channel,
    backend: &dyn Backend,
    cfg: &IvrConfig,
    now: OffsetDateTime,
) -> Result<FlowOutcome, FlowError> {
    let span = tracing::info_span!("call", call_id = %ch.call_id(), caller_id = %ch.caller_id());
    let mut f = Flow::new(ch, backend, cfg);
    let result = async {
        f.ch.answer().await?;
        if cfg.service_hours.is_open(now) {
            main_menu::run(&mut f).await
        } else {
            out_of_hours::run(&mut f).await
        }
    }
    .instrument(span.clone())
    .await;
    finish(&mut f, result).instrument(span).await
}

/// Turns a hang-up into [`FlowOutcome::CallerHungUp`]; on a failure tells the caller (when
/// still there) and hangs up.
pub async fn finish(
    f: &mut Flow<'_>,
    result: Result<FlowOutcome, FlowError>,
) -> Result<FlowOutcome, FlowError> {
    match result {
        Ok(outcome) => {
            tracing::info!(?outcome, "flow ended");
            Ok(outcome)
        }
        Err(FlowError::Channel(ChannelError::Hangup)) => {
            tracing::info!("caller hung up");
            Ok(FlowOutcome::CallerHungUp)
        }
        Err(e) => {
            tracing::warn!(error = %e, "flow failed");
            if matches!(e, FlowError::Backend(_)) {
                let _ = f.ch.play(&[id::SERVICE_ERROR], false).await;
            }
            let _ = f.ch.hangup().await;
            Err(e)
        }
    }
}

/// Plays `prompts` (barge-in) and waits for one key in `valid`. A wrong key or none plays a
/// short hint and the menu again; after `menu_retries` failures returns `None`.
pub async fn menu_choice(
    f: &mut Flow<'_>,
    prompts: &[&str],
    valid: &str,
) -> Result<Option<char>, FlowError> {
    for attempt in 1..=f.cfg.menu_retries {
        f.prompt(prompts).await?;
        let got = f.collect(&f.cfg.menu_key_spec()).await?;
        let hint = match got.digits.chars().next() {
            Some(k) if valid.contains(k) => return Ok(Some(k)),
            Some(k) => {
                tracing::debug!(key = %k, attempt, "invalid menu key");
                id::INVALID_INPUT
            }
            None => {
                tracing::debug!(attempt, "no menu key");
                id::NO_INPUT
            }
        };
        f.prompt(&[hint]).await?;
    }
    Ok(None)
}

/// Why a typed number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadNumber {
    /// Something other than 0-9 (`*`, or `#` inside a caller id).
    NotDigits,
    /// Fewer than 3 or more than 20 digits.
    Length(usize),
}

/// A faulty number: 3 to 20 digits, nothing else.
pub fn validate_number(number: &str) -> Result<(), BadNumber> {
    if !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(BadNumber::NotDigits);
    }
    if !NUMBER_DIGITS.contains(&number.len()) {
        return Err(BadNumber::Length(number.len()));
    }
    Ok(())
}

/// Asks for a number ending with `#` (`#` alone = the caller's own number), validates it and,
/// with `confirm`, reads it back for 1 (yes) / 2 (re-enter). `None` after `number_retries`
/// failed attempts (a re-entry counts as one).
pub async fn enter_number(
    f: &mut Flow<'_>,
    prompt: &str,
    confirm: bool,
) -> Result<Option<String>, FlowError> {
    for attempt in 1..=f.cfg.number_retries {
        f.prompt(&[prompt]).await?;
        let got = f.collect(&f.cfg.number_spec()).await?;
        let number = match got.end {
            CollectEnd::Terminator(_) if got.digits.is_empty() => f.ch.caller_id().to_owned(),
            CollectEnd::Timeout if got.digits.is_empty() => {
                f.prompt(&[id::NO_INPUT]).await?;
                continue;
            }
            // Ended by `#`, by the inter-digit timeout, or one key over the longest number.
            _ => got.digits,
        };
        if let Err(why) = validate_number(&number) {
            tracing::debug!(?why, attempt, "number refused");
            f.prompt(&[id::INVALID_NUMBER]).await?;
            continue;
        }
        if !confirm {
            return Ok(Some(number));
        }
        let mut read_back = vec![id::NUMBER_READ_BACK];
        read_back.extend(prompts::digit_prompts(&number));
        read_back.push(id::CONFIRM_NUMBER);
        match menu_choice(f, &read_back, "12").await? {
            Some('1') => return Ok(Some(number)),
            Some(_) => continue,
            None => return Ok(None),
        }
    }
    Ok(None)
}
