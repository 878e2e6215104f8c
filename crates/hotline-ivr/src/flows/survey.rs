//! The automated satisfaction survey (issue 16 part 5): the hotline has called the customer
//! back after a 回单 and the call is answered. The customer hears who calls and why, then the
//! question (1 满意, 2 基本满意, 3 不满意, 9 a person), with the menu's retries; an answer is
//! thanked and the call ends, 9 hears "transferring" and the glue queues the call for an agent.
//!
//! The flow only asks; what an answer means for the survey is the core's
//! (`hotline_domain::outbound`). Runs on any [`Channel`](crate::Channel), so the same survey
//! works on a native SIP leg and behind Asterisk.

use super::{Flow, FlowError, menu_choice};
use crate::channel::ChannelError;
use crate::prompts::id;

/// The keys the survey question accepts: 1-3 answer it, 9 asks for a person.
pub const KEYS: &str = "1239";

/// The key that asks for a person.
pub const PERSON: char = '9';

/// What the customer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyAnswer {
    /// Pressed 1, 2 or 3; the call has been ended with thanks.
    Answer(char),
    /// Pressed 9; has heard "transferring": the glue must queue the call.
    Person,
    /// No valid key after the menu's retries; the call has been ended.
    NoKey,
    /// Hung up before answering.
    HungUp,
}

/// Asks the survey question on an answered call.
pub async fn run(f: &mut Flow<'_>) -> Result<SurveyAnswer, FlowError> {
    match ask(f).await {
        Err(FlowError::Channel(ChannelError::Hangup)) => Ok(SurveyAnswer::HungUp),
        r => r,
    }
}

async fn ask(f: &mut Flow<'_>) -> Result<SurveyAnswer, FlowError> {
    f.prompt(&[id::SURVEY_INTRO]).await?;
    match menu_choice(f, &[id::SURVEY_QUESTION], KEYS).await? {
        Some(PERSON) => {
            tracing::info!("survey: the customer asks for a person");
            f.say(&[id::TRANSFER_AGENT]).await?;
            Ok(SurveyAnswer::Person)
        }
        Some(k) => {
            tracing::info!(key = %k, "survey answered");
            f.say(&[id::SURVEY_THANKS]).await?;
            f.ch.hangup().await?;
            Ok(SurveyAnswer::Answer(k))
        }
        None => {
            tracing::info!("survey: no valid key");
            f.say(&[id::GOODBYE]).await?;
            f.ch.hangup().await?;
            Ok(SurveyAnswer::NoKey)
        }
    }
}
