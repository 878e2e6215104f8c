//! End to end against the real core in-process (SQLite in a temp dir, gRPC on port 0): the
//! IVR's service account logs in, a scripted caller reports a fault through the real flows
//! and the ticket is in the core with channel `ivr`; the progress query reads it back (JO9);
//! agents count as available once one sets a presence; a voicemail is registered (SF9); a
//! repeat report past the original's repair limit sends the caller to a senior (JO5/JO8).

use std::sync::Arc;
use std::time::Duration;

use hotline_core::SystemClock;
use hotline_core::clock::ManualClock;
use hotline_core::server::{CoreConfig, start};
use hotline_domain::Timestamp;
use hotline_domain::rules::DeskRules;
use hotline_ivr::flows::{FlowOutcome, run_call};
use hotline_ivr::prompts::id;
use hotline_ivr::testing::ScriptedChannel;
use hotline_ivr::{Backend, GrpcBackend, IvrConfig, Progress, RecordEnd};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use tonic::Request;
use tonic::transport::Channel;

fn authed<T>(token: &str, msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

async fn login(agents: &mut AgentServiceClient<Channel>, id: &str, pw: &str) -> String {
    agents
        .login(pb::LoginRequest {
            agent_id: id.into(),
            password: pw.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

#[tokio::test]
async fn sf1_jo9_sf9_flows_against_the_real_core() {
    let dir = std::env::temp_dir().join(format!("hotline-ivr-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let vm_dir = dir.join("voicemail");
    std::fs::create_dir_all(&vm_dir).unwrap();
    let core = start(
        CoreConfig {
            grpc_listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}?mode=rwc", dir.join("core.db").display()),
            store: Default::default(),
            rules: DeskRules::default(),
            bootstrap_admin: Some(("admin".into(), "admin-secret".into())),
            service_account: None,
            acd: Default::default(),
            scheduler_max_sleep: Duration::from_millis(200),
            voicemail_dir: vm_dir.clone(),
            kb_index_dir: None,
            center: None,
            http_extension: None,
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let uri = format!("http://{}", core.grpc_addr);
    let ch = Channel::from_shared(uri.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut agents = AgentServiceClient::new(ch.clone());
    let admin = login(&mut agents, "admin", "admin-secret").await;
    for (agent, role) in [("ivr", "system"), ("j1", "junior")] {
        agents
            .create_agent(authed(
                &admin,
                pb::CreateAgentRequest {
                    agent_id: agent.into(),
                    name: agent.into(),
                    role: role.into(),
                    password: format!("{agent}-password"),
                },
            ))
            .await
            .unwrap();
    }

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
    let mut tickets = TicketServiceClient::new(ch.clone());
    let admin = login(&mut agents, "admin", "admin-secret").await;
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
    let j1 = login(&mut agents, "j1", "j1-password").await;
    agents
        .set_presence(authed(
            &j1,
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
    let vms = hotline_proto::v1::voicemail_service_client::VoicemailServiceClient::new(ch)
        .list_voicemails(authed(&admin, pb::ListVoicemailsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .voicemails;
    assert_eq!(vms.len(), 1);
    assert_eq!(vms[0].call_id, "e2e-3");
    assert_eq!(vms[0].duration_ms, 4000);

    drop(core);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn jo8_repeat_past_the_limit_goes_to_a_senior_with_the_real_core() {
    let dir = std::env::temp_dir().join(format!("hotline-ivr-e2e-jo8-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let vm_dir = dir.join("voicemail");
    std::fs::create_dir_all(&vm_dir).unwrap();
    let clock = ManualClock::new(Timestamp(
        time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
    ));
    let core = start(
        CoreConfig {
            grpc_listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}?mode=rwc", dir.join("core.db").display()),
            store: Default::default(),
            rules: DeskRules::default(),
            bootstrap_admin: Some(("admin".into(), "admin-secret".into())),
            service_account: None,
            acd: Default::default(),
            scheduler_max_sleep: Duration::from_millis(200),
            voicemail_dir: vm_dir.clone(),
            kb_index_dir: None,
            center: None,
            http_extension: None,
        },
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let uri = format!("http://{}", core.grpc_addr);
    let ch = Channel::from_shared(uri.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut agents = AgentServiceClient::new(ch);
    let admin = login(&mut agents, "admin", "admin-secret").await;
    for (agent, role) in [("ivr", "system"), ("s1", "senior")] {
        agents
            .create_agent(authed(
                &admin,
                pb::CreateAgentRequest {
                    agent_id: agent.into(),
                    name: agent.into(),
                    role: role.into(),
                    password: format!("{agent}-password"),
                },
            ))
            .await
            .unwrap();
    }
    let s1 = login(&mut agents, "s1", "s1-password").await;
    agents
        .set_presence(authed(
            &s1,
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

    drop(core);
    let _ = std::fs::remove_dir_all(&dir);
}
