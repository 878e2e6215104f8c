//! Outside the service calendar: the caller hears that the desk is closed and is offered
//! voicemail (1); anything else ends the call politely.

use super::{Flow, FlowError, FlowOutcome, menu_choice, voicemail};
use crate::prompts::id;

/// Runs the out-of-hours flow.
pub async fn run(f: &mut Flow<'_>) -> Result<FlowOutcome, FlowError> {
    tracing::info!("out of service hours");
    match menu_choice(f, &[id::OUT_OF_HOURS, id::VOICEMAIL_OFFER], "1").await? {
        Some(_) => voicemail::run(f, "").await,
        None => {
            f.say(&[id::GOODBYE]).await?;
            f.ch.hangup().await?;
            Ok(FlowOutcome::Done)
        }
    }
}
