//! Report a fault (SF1): the faulty number ending with `#` (`#` alone = the caller's own
//! number), read back and confirmed with 1 (2 re-enters), the fault type from a menu, then
//! the ticket is created in the core and its number read back digit by digit. Nothing is
//! created before the fault type is chosen, so a caller hanging up earlier leaves nothing.
//! When the core says so (JO8 customer, JO5 repeat past its limit), the caller goes to an
//! agent with the new ticket.

use super::{Flow, FlowError, FlowOutcome, agent, enter_number, menu_choice};
use crate::backend::{FaultType, NewReport};
use crate::prompts::{self, id};

/// Runs the report flow.
pub async fn run(f: &mut Flow<'_>) -> Result<FlowOutcome, FlowError> {
    let Some(number) = enter_number(f, id::ENTER_NUMBER, true).await? else {
        tracing::info!("number entry failed too often");
        return agent::to_agent_or_voicemail(f, false, None, "").await;
    };
    let Some(fault_type) = menu_choice(f, &[id::FAULT_TYPE_MENU], "123456")
        .await?
        .and_then(FaultType::from_key)
    else {
        tracing::info!("fault-type menu failed too often");
        return agent::to_agent_or_voicemail(f, false, None, &number).await;
    };
    let report = NewReport {
        faulty_number: number.clone(),
        fault_type,
        caller_id: f.ch.caller_id().to_owned(),
        call_id: f.ch.call_id().to_owned(),
    };
    let created = f.backend.create_report(&report).await?;
    tracing::info!(
        ticket_id = created.ticket_id,
        fault_type = fault_type.as_str(),
        offer_agent = created.offer_agent,
        senior = created.senior,
        "report created"
    );
    let mut said = vec![
        id::FAULT_TYPE_IS,
        prompts::fault_type_prompt(fault_type),
        id::REPORT_ACCEPTED,
    ];
    said.extend(prompts::digit_prompts(&created.ticket_id.to_string()));
    if created.offer_agent {
        said.push(id::REPORT_TO_AGENT);
        f.say(&said).await?;
        return agent::to_agent_or_voicemail(f, created.senior, Some(created.ticket_id), &number)
            .await;
    }
    said.push(id::THANKS_GOODBYE);
    f.say(&said).await?;
    f.ch.hangup().await?;
    Ok(FlowOutcome::Done)
}
