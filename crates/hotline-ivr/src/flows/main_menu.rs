//! The main menu: welcome, then 1 report a fault, 2 query progress, 3 leave a message,
//! 0 agent. Invalid or no input repeats the menu with a hint; after the configured number of
//! failures the caller goes to an agent, or to voicemail when none is logged in.

use super::{Flow, FlowError, FlowOutcome, agent, menu_choice, progress, report, voicemail};
use crate::prompts::id;

/// Runs the main menu and the flow chosen.
pub async fn run(f: &mut Flow<'_>) -> Result<FlowOutcome, FlowError> {
    f.prompt(&[id::WELCOME]).await?;
    match menu_choice(f, &[id::MAIN_MENU], "1230").await? {
        Some('1') => report::run(f).await,
        Some('2') => progress::run(f).await,
        Some('3') => voicemail::run(f, "").await,
        Some(_) => agent::run(f).await,
        None => {
            tracing::info!("main menu failed too often");
            agent::to_agent_or_voicemail(f, false, None, "").await
        }
    }
}
