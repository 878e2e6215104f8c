//! Query progress (JO9): the number (`#` alone = the caller's own), then the state of its
//! latest ticket in plain words (accepted, at the 112 centre, crew dispatched, cleared) and,
//! while it is open, the repair time limit in hours.

use super::{Flow, FlowError, FlowOutcome, agent, enter_number};
use crate::backend::{Progress, TicketState};
use crate::prompts::{self, id};

/// Runs the progress query.
pub async fn run(f: &mut Flow<'_>) -> Result<FlowOutcome, FlowError> {
    let Some(number) = enter_number(f, id::QUERY_NUMBER, false).await? else {
        tracing::info!("number entry failed too often");
        return agent::to_agent_or_voicemail(f, false, None, "").await;
    };
    let state = f.backend.latest_ticket(&number).await?;
    let mut said = match &state {
        Some(s) => {
            tracing::info!(ticket_id = s.ticket_id, status = %s.status, "progress answered");
            answer_prompts(s)
        }
        None => vec![id::PROGRESS_NONE],
    };
    said.push(id::GOODBYE);
    f.say(&said).await?;
    f.ch.hangup().await?;
    Ok(FlowOutcome::Done)
}

/// What the caller hears about a ticket.
pub fn answer_prompts(s: &TicketState) -> Vec<&'static str> {
    let word = match s.progress {
        Progress::Accepted => id::PROGRESS_ACCEPTED,
        Progress::AtCentre => id::PROGRESS_AT_CENTRE,
        Progress::CrewDispatched => id::PROGRESS_CREW_DISPATCHED,
        Progress::Cleared => id::PROGRESS_CLEARED,
        Progress::Cancelled => id::PROGRESS_CANCELLED,
    };
    let mut said = vec![id::PROGRESS_INTRO, word];
    let open = matches!(
        s.progress,
        Progress::Accepted | Progress::AtCentre | Progress::CrewDispatched
    );
    if open && s.repair_limit_hours > 0 {
        said.push(id::PROGRESS_LIMIT);
        said.extend(prompts::number_prompts(s.repair_limit_hours));
        said.push(id::HOURS);
    }
    said
}
