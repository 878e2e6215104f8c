//! To an agent: the caller hears "transferring" and the glue queues the call in the core's
//! ACD ([`FlowOutcome::ToAgent`]); with no agent logged in, the caller leaves a message
//! instead. Also the hold prompt with the caller's queue position, for the queue wait.

use super::{Flow, FlowError, FlowOutcome, voicemail};
use crate::channel::{Channel, ChannelError, PlayOutcome};
use crate::prompts::{self, id};

/// Menu key 0.
pub async fn run(f: &mut Flow<'_>) -> Result<FlowOutcome, FlowError> {
    to_agent_or_voicemail(f, false, None, "").await
}

/// Transfers to an agent when one is logged in, else records a message (`number_entered`
/// goes with it). When the core cannot say, the call is transferred: the ACD offers
/// voicemail itself when nobody answers.
pub async fn to_agent_or_voicemail(
    f: &mut Flow<'_>,
    senior: bool,
    ticket: Option<i64>,
    number_entered: &str,
) -> Result<FlowOutcome, FlowError> {
    let available = match f.backend.agents_available().await {
        Ok(available) => available,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell whether agents are logged in; transferring");
            true
        }
    };
    if !available {
        tracing::info!("no agent logged in; voicemail");
        f.say(&[id::NO_AGENT]).await?;
        return voicemail::run(f, number_entered).await;
    }
    f.say(&[id::TRANSFER_AGENT]).await?;
    Ok(FlowOutcome::ToAgent { senior, ticket })
}

/// The hold announcement: "please hold, you are number N in the queue".
pub fn hold_prompts(position: u32) -> Vec<&'static str> {
    let mut p = vec![id::PLEASE_HOLD, id::QUEUE_POSITION];
    p.extend(prompts::number_prompts(position));
    p.push(id::QUEUE_POSITION_END);
    p
}

/// Plays the hold announcement (the glue calls this every 30 s while the call waits).
pub async fn announce_position(
    ch: &mut dyn Channel,
    position: u32,
) -> Result<PlayOutcome, ChannelError> {
    ch.play(&hold_prompts(position), false).await
}
