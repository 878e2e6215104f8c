//! End to end against the real core in-process (`hotline_testkit::TestCore`: SQLite, and
//! PostgreSQL when configured; gRPC on port 0): the IVR's service account logs in, a scripted
//! caller reports a fault through the real flows and the ticket is in the core with channel
//! `ivr`; the progress query reads it back (JO9); agents count as available once one sets a
//! presence; a voicemail is registered (SF9); a repeat report past the original's repair limit
//! sends the caller to a senior (JO5/JO8).

use std::sync::Arc;
use std::time::Duration;

use hotline_core::clock::ManualClock;
use hotline_domain::{Role, Timestamp};
use hotline_ivr::flows::{FlowOutcome, run_call};
use hotline_ivr::prompts::id;
use hotline_ivr::testing::ScriptedChannel;
use hotline_ivr::{Backend, GrpcBackend, IvrConfig, Progress, RecordEnd};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{TestCore, authed};

#[tokio::test]
async fn sf1_jo9_sf9_flows_against_the_real_core() {
    for core in TestCore::backends("ivr-e2e").await {
        flows_against_the_real_core(core).await;
    }
}

async fn flows_against_the_real_core(core: TestCore) {
    let core = core
        .with_agent("ivr", Role::System, "ivr-password")
        .with_agent("j1", Role::Junior, "j1-password")
        .with_config(|c| c.scheduler_max_sleep = Duration::from_millis(200))
        .start()
        .await;
    let vm_dir = core.voicemail_dir.clone();
    let uri = format!("http://{}", core.grpc_addr);
    let mut agents = core.client(AgentServiceClient::new);
    let admin = core.admin.clone();
    let backend = GrpcBackend::connect(&uri, "ivr", "ivr-password")
        .await
        .unwrap();
    let cfg = IvrConfig {
        voicemail_dir: vm_dir.clone(),
        ..IvrConfig::default()
    };
    let now = time::OffsetDateTime::now_utc();

    // SF1: a report through the real flows.
    let mut caller = ScriptedChannel::new("e2e-1", "01088887777")
        .keys("1")
        .keys("01066554433#")
        .keys("1")
        .keys("2");
    let outcome = run_call(&mut caller, &backend, &cfg, now).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    let mut tickets = core.client(TicketServiceClient::new);
    let list = tickets
        .list_tickets(authed(
            &admin,
            pb::ListTicketsRequest {
                faulty_number: "01066554433".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.tickets.len(), 1);
    let t = &list.tickets[0];
    assert_eq!(
        (t.channel.as_str(), t.fault_type.as_str()),
        ("ivr", "noise")
    );
    assert_eq!(t.contact_number, "01088887777");
    assert_eq!(t.created_by, "ivr");
    // The caller heard that ticket's number.
    let heard: String = caller
        .played
        .iter()
        .filter_map(|p| p.strip_prefix("digit_"))
        .collect();
    assert!(heard.ends_with(&t.id.to_string()), "{heard}");

    // JO9: the progress query reads the same ticket.
    let state = backend.latest_ticket("01066554433").await.unwrap().unwrap();
    assert_eq!(state.ticket_id, t.id);
    assert_eq!(state.progress, Progress::Accepted);
    assert!(state.repair_limit_hours > 0);
    let mut caller = ScriptedChannel::new("e2e-2", "01066554433").keys("2#");
    run_call(&mut caller, &backend, &cfg, now).await.unwrap();
    assert!(caller.heard(id::PROGRESS_ACCEPTED) && caller.heard(id::HOURS));

    // Agents: none logged in until one sets a presence.
    assert!(!backend.agents_available().await.unwrap());
    agents
        .set_presence(authed(
            core.token("j1"),
            pb::SetPresenceRequest {
                presence: "available".into(),
            },
        ))
        .await
        .unwrap();
    assert!(backend.agents_available().await.unwrap());

    // SF9: a message recorded by the flow is registered in the core.
    let mut caller = ScriptedChannel::new("e2e-3", "01088887777")
        .keys("3")
        .speak(4, RecordEnd::Key('#'));
    let outcome = run_call(&mut caller, &backend, &cfg, now).await.unwrap();
    assert_eq!(outcome, FlowOutcome::Done);
    let vms = core
        .client(hotline_proto::v1::voicemail_service_client::VoicemailServiceClient::new)
        .list_voicemails(authed(&admin, pb::ListVoicemailsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .voicemails;
    assert_eq!(vms.len(), 1);
    assert_eq!(vms[0].call_id, "e2e-3");
    assert_eq!(vms[0].duration_ms, 4000);

    core.shutdown().await;
}

#[tokio::test]
async fn jo8_repeat_past_the_limit_goes_to_a_senior_with_the_real_core() {
    for core in TestCore::backends("ivr-e2e-jo8").await {
        repeat_goes_to_a_senior(core).await;
    }
}

async fn repeat_goes_to_a_senior(core: TestCore) {
    let clock = ManualClock::new(Timestamp(
        time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
    ));
    let core = core
        .with_clock(Arc::new(clock.clone()))
        .with_agent("ivr", Role::System, "ivr-password")
        .with_agent("s1", Role::Senior, "s1-password")
        .with_config(|c| c.scheduler_max_sleep = Duration::from_millis(200))
        .start()
        .await;
    let vm_dir = core.voicemail_dir.clone();
    let uri = format!("http://{}", core.grpc_addr);
    let mut agents = core.client(AgentServiceClient::new);
    agents
        .set_presence(authed(
            core.token("s1"),
            pb::SetPresenceRequest {
                presence: "available".into(),
            },
        ))
        .await
        .unwrap();
    let backend = GrpcBackend::connect(&uri, "ivr", "ivr-password")
        .await
        .unwrap();
    let cfg = IvrConfig {
        voicemail_dir: vm_dir,
        ..IvrConfig::default()
    };
    let now = time::OffsetDateTime::now_utc();

    let mut first = ScriptedChannel::new("jo8-1", "01088887777").keys("101066554433#11");
    assert_eq!(
        run_call(&mut first, &backend, &cfg, now).await.unwrap(),
        FlowOutcome::Done
    );
    // Far past any repair limit (the longest default is 72 h); the IVR's token may expire
    // meanwhile and the backend logs in again.
    clock.advance_ms(200 * 3_600_000);
    let mut again = ScriptedChannel::new("jo8-2", "01088887777").keys("101066554433#11");
    let outcome = run_call(&mut again, &backend, &cfg, now).await.unwrap();
    let FlowOutcome::ToAgent { senior, ticket } = outcome else {
        panic!(
            "expected ToAgent, got {outcome:?}; heard {:?}",
            again.played
        );
    };
    assert!(senior);
    assert!(ticket.is_some());
    assert!(again.heard(id::REPORT_TO_AGENT) && again.heard(id::TRANSFER_AGENT));

    core.shutdown().await;
}
