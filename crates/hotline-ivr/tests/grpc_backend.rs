//! `GrpcBackend` against an in-process fake of the core's `TicketService` and `AgentService`
//! on a loopback port: bearer token on every call, one login reused, a new login when the
//! token is refused, the report as the core receives it, the agent-offer rule, progress from
//! list + get, agents logged in, voicemail registered by file name (and unsupported by a
//! core without the RPC), and a stuck core timing out.

use std::sync::{Arc, Mutex};

use hotline_ivr::{
    Backend, BackendError, FaultType, GrpcBackend, NewReport, NewVoicemail, Progress,
};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_server::{AgentService, AgentServiceServer};
use hotline_proto::v1::ticket_service_server::{TicketService, TicketServiceServer};
use hotline_proto::v1::voicemail_service_server::{VoicemailService, VoicemailServiceServer};
use tonic::{Request, Response, Status};

#[derive(Default)]
struct Seen {
    logins: u32,
    /// Tokens issued so far; only the latest is accepted.
    token: String,
    /// Refuse the next authorized call once, as if the token expired.
    expire_next: bool,
    created: Vec<pb::CreateTicketRequest>,
    authorizations: Vec<String>,
    create_status: String,
    advice: String,
    agents: Vec<pb::Agent>,
    /// ListAgents never answers in time.
    stall: bool,
    voicemails: Vec<pb::CreateVoicemailRequest>,
}

#[derive(Clone, Default)]
struct FakeCore(Arc<Mutex<Seen>>);

impl FakeCore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap()
    }

    fn check<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let mut s = self.lock();
        let auth = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        s.authorizations.push(auth.clone());
        if s.expire_next {
            s.expire_next = false;
            s.token = "expired".into();
            return Err(Status::unauthenticated("token expired"));
        }
        if auth != format!("Bearer {}", s.token) {
            return Err(Status::unauthenticated("bad token"));
        }
        Ok(())
    }
}

fn ticket(id: i64, status: &str) -> pb::Ticket {
    pb::Ticket {
        id,
        faulty_number: "01066554433".into(),
        status: status.into(),
        repair_limit_hours: 24,
        ..Default::default()
    }
}

macro_rules! unimplemented_rpcs {
    ($trait:ident for $ty:ty { $($own:tt)* } $($name:ident($req:ident) -> $resp:ident;)*) => {
        #[tonic::async_trait]
        impl $trait for $ty {
            $($own)*
            $(
                async fn $name(&self, _: Request<pb::$req>) -> Result<Response<pb::$resp>, Status> {
                    Err(Status::unimplemented(stringify!($name)))
                }
            )*
        }
    };
}

unimplemented_rpcs! {
    TicketService for FakeCore {
        async fn create_ticket(
            &self,
            req: Request<pb::CreateTicketRequest>,
        ) -> Result<Response<pb::CreateTicketResponse>, Status> {
            self.check(&req)?;
            let mut s = self.lock();
            s.created.push(req.into_inner());
            let id = 1000 + s.created.len() as i64;
            Ok(Response::new(pb::CreateTicketResponse {
                ticket: Some(ticket(id, &s.create_status)),
                repeat: Some(pb::RepeatInfo {
                    is_repeat: !s.advice.is_empty(),
                    original_ticket_id: 0,
                    advice: s.advice.clone(),
                    advice_label: String::new(),
                }),
            }))
        }

        async fn list_tickets(
            &self,
            req: Request<pb::ListTicketsRequest>,
        ) -> Result<Response<pb::ListTicketsResponse>, Status> {
            self.check(&req)?;
            let r = req.into_inner();
            let tickets = if r.faulty_number == "01066554433" {
                assert_eq!(r.page_size, 1);
                vec![ticket(77, "dispatched")]
            } else {
                Vec::new()
            };
            Ok(Response::new(pb::ListTicketsResponse {
                tickets,
                next_page_token: String::new(),
            }))
        }

        async fn get_ticket(
            &self,
            req: Request<pb::GetTicketRequest>,
        ) -> Result<Response<pb::Ticket>, Status> {
            self.check(&req)?;
            let mut t = ticket(req.get_ref().id, "dispatched");
            t.orders.push(pb::Order {
                kind: "dispatch".into(),
                center_status: "inProgress".into(),
                ..Default::default()
            });
            Ok(Response::new(t))
        }
    }
    get_ticket_history(GetTicketHistoryRequest) -> GetTicketHistoryResponse;
    dispatch_ticket(DispatchTicketRequest) -> ActionResponse;
    follow_up_ticket(FollowUpTicketRequest) -> ActionResponse;
    cancel_ticket(CancelTicketRequest) -> ActionResponse;
    escalate_ticket(EscalateTicketRequest) -> ActionResponse;
    answer_ticket(AnswerTicketRequest) -> ActionResponse;
    review_order(ReviewOrderRequest) -> ActionResponse;
    mark_urgent(MarkUrgentRequest) -> ActionResponse;
    add_note(AddNoteRequest) -> ActionResponse;
    transfer_to_manager(TransferToManagerRequest) -> ActionResponse;
    clear_ticket(ClearTicketRequest) -> ActionResponse;
    close_ticket(CloseTicketRequest) -> ActionResponse;
    second_dispatch(SecondDispatchRequest) -> ActionResponse;
    list_alerts(ListAlertsRequest) -> ListAlertsResponse;
    list_tasks(ListTasksRequest) -> ListTasksResponse;
    complete_task(CompleteTaskRequest) -> Task;
    get_time_rules(GetTimeRulesRequest) -> TimeRules;
    run_line_test(RunLineTestRequest) -> LineTestResult;
    get_center_progress(GetCenterProgressRequest) -> CenterProgress;
}

type EventStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

unimplemented_rpcs! {
    AgentService for FakeCore {
        type StreamEventsStream = EventStream;

        async fn login(
            &self,
            req: Request<pb::LoginRequest>,
        ) -> Result<Response<pb::LoginResponse>, Status> {
            let r = req.into_inner();
            if r.agent_id != "ivr" || r.password != "secret" {
                return Err(Status::unauthenticated("wrong agent id or password"));
            }
            let mut s = self.lock();
            s.logins += 1;
            s.token = format!("tok-{}", s.logins);
            Ok(Response::new(pb::LoginResponse {
                token: s.token.clone(),
                expires_at: None,
                agent: Some(pb::Agent {
                    agent_id: "ivr".into(),
                    role: "system".into(),
                    active: true,
                    ..Default::default()
                }),
            }))
        }

        async fn list_agents(
            &self,
            req: Request<pb::ListAgentsRequest>,
        ) -> Result<Response<pb::ListAgentsResponse>, Status> {
            self.check(&req)?;
            if self.lock().stall {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
            Ok(Response::new(pb::ListAgentsResponse {
                agents: self.lock().agents.clone(),
            }))
        }

        async fn stream_events(
            &self,
            _: Request<pb::StreamEventsRequest>,
        ) -> Result<Response<EventStream>, Status> {
            Err(Status::unimplemented("stream_events"))
        }
    }
    logout(LogoutRequest) -> LogoutResponse;
    get_me(GetMeRequest) -> Agent;
    set_presence(SetPresenceRequest) -> Agent;
    create_agent(CreateAgentRequest) -> Agent;
}

type AudioStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<pb::AudioChunk, Status>> + Send + 'static>,
>;

unimplemented_rpcs! {
    VoicemailService for FakeCore {
        type FetchVoicemailAudioStream = AudioStream;

        async fn create_voicemail(
            &self,
            req: Request<pb::CreateVoicemailRequest>,
        ) -> Result<Response<pb::Voicemail>, Status> {
            self.check(&req)?;
            let r = req.into_inner();
            let mut s = self.lock();
            s.voicemails.push(r.clone());
            Ok(Response::new(pb::Voicemail {
                id: s.voicemails.len() as i64,
                call_id: r.call_id,
                state: "new".into(),
                ..Default::default()
            }))
        }

        async fn fetch_voicemail_audio(
            &self,
            _: Request<pb::FetchVoicemailAudioRequest>,
        ) -> Result<Response<AudioStream>, Status> {
            Err(Status::unimplemented("fetch_voicemail_audio"))
        }
    }
    list_voicemails(ListVoicemailsRequest) -> ListVoicemailsResponse;
    claim_voicemail(ClaimVoicemailRequest) -> Voicemail;
    convert_voicemail(ConvertVoicemailRequest) -> ConvertVoicemailResponse;
    escalate_voicemail(EscalateVoicemailRequest) -> Voicemail;
}

async fn start(core: FakeCore) -> String {
    serve(core, true).await
}

async fn serve(core: FakeCore, with_voicemail: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = tonic::transport::Server::builder()
        .add_service(TicketServiceServer::new(core.clone()))
        .add_service(AgentServiceServer::new(core.clone()))
        .add_optional_service(with_voicemail.then(|| VoicemailServiceServer::new(core)));
    tokio::spawn(
        router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

fn report(caller_id: &str) -> NewReport {
    NewReport {
        faulty_number: "01066554433".into(),
        fault_type: FaultType::Noise,
        caller_id: caller_id.into(),
        call_id: "call-1".into(),
    }
}

#[tokio::test]
async fn sf1_report_reaches_the_core_with_channel_ivr_and_the_token() {
    let core = FakeCore::default();
    core.lock().create_status = "new".into();
    let uri = start(core.clone()).await;
    let backend = GrpcBackend::connect(&uri, "ivr", "secret").await.unwrap();

    let created = backend.create_report(&report("01088887777")).await.unwrap();
    assert_eq!(created.ticket_id, 1001);
    assert!(!created.offer_agent && !created.senior);
    // A withheld caller id does not make the core refuse the report.
    backend.create_report(&report("anonymous")).await.unwrap();

    let s = core.lock();
    assert_eq!(s.logins, 1, "one login, token reused");
    assert!(s.authorizations.iter().all(|a| a == "Bearer tok-1"));
    let first = &s.created[0];
    assert_eq!(first.faulty_number, "01066554433");
    assert_eq!(first.fault_type, "noise");
    assert_eq!(first.channel, "ivr");
    assert_eq!(first.contact_number, "01088887777");
    assert_eq!(s.created[1].contact_number, "");
}

#[tokio::test]
async fn jo8_escalated_or_overdue_repeat_offers_a_senior() {
    let core = FakeCore::default();
    core.lock().create_status = "escalated".into();
    let uri = start(core.clone()).await;
    let backend = GrpcBackend::connect(&uri, "ivr", "secret").await.unwrap();
    let created = backend.create_report(&report("01088887777")).await.unwrap();
    assert!(created.offer_agent && created.senior);

    {
        let mut s = core.lock();
        s.create_status = "new".into();
        s.advice = "manager_hotline".into();
    }
    let created = backend.create_report(&report("01088887777")).await.unwrap();
    assert!(created.offer_agent && created.senior);
}

#[tokio::test]
async fn a_refused_token_means_one_new_login_and_a_retry() {
    let core = FakeCore::default();
    let uri = start(core.clone()).await;
    let backend = GrpcBackend::connect(&uri, "ivr", "secret").await.unwrap();
    core.lock().expire_next = true;
    backend.create_report(&report("01088887777")).await.unwrap();
    let s = core.lock();
    assert_eq!(s.logins, 2);
    assert_eq!(s.created.len(), 1);
    assert_eq!(s.authorizations.last().unwrap(), "Bearer tok-2");
}

#[tokio::test]
async fn wrong_credentials_fail_at_connect() {
    let uri = start(FakeCore::default()).await;
    let err = GrpcBackend::connect(&uri, "ivr", "wrong")
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Login(_)), "{err}");
}

#[tokio::test]
async fn jo9_latest_ticket_reads_the_centre_status() {
    let uri = start(FakeCore::default()).await;
    let backend = GrpcBackend::connect(&uri, "ivr", "secret").await.unwrap();
    let s = backend.latest_ticket("01066554433").await.unwrap().unwrap();
    assert_eq!(s.ticket_id, 77);
    assert_eq!(s.progress, Progress::CrewDispatched);
    assert!(s.at_centre);
    assert_eq!(s.repair_limit_hours, 24);
    assert_eq!(backend.latest_ticket("0109999").await.unwrap(), None);
}

#[tokio::test]
async fn agents_available_means_an_answering_agent_logged_in() {
    let core = FakeCore::default();
    let agent = |role: &str, presence: &str| pb::Agent {
        agent_id: format!("{role}-{presence}"),
        role: role.into(),
        presence: presence.into(),
        active: true,
        ..Default::default()
    };
    core.lock().agents = vec![agent("junior", "logged_out"), agent("admin", "available")];
    let uri = start(core.clone()).await;
    let backend = GrpcBackend::connect(&uri, "ivr", "secret").await.unwrap();
    assert!(!backend.agents_available().await.unwrap());
    core.lock().agents.push(agent("senior", "not_ready"));
    assert!(backend.agents_available().await.unwrap());
}

fn voicemail() -> NewVoicemail {
    NewVoicemail {
        call_id: "c/1".into(),
        caller_id: "01088887777".into(),
        number_entered: "01066554433".into(),
        path: "var/voicemail/c_1.wav".into(),
        duration: std::time::Duration::from_millis(3_250),
    }
}

#[tokio::test]
async fn sf9_voicemail_is_registered_by_file_name() {
    let core = FakeCore::default();
    let uri = start(core.clone()).await;
    let backend = GrpcBackend::connect(&uri, "ivr", "secret").await.unwrap();
    backend.save_voicemail(&voicemail()).await.unwrap();
    let s = core.lock();
    assert_eq!(
        s.voicemails,
        vec![pb::CreateVoicemailRequest {
            call_id: "c/1".into(),
            caller_id: "01088887777".into(),
            number_entered: "01066554433".into(),
            file_name: "c_1.wav".into(),
            duration_ms: 3_250,
        }]
    );
    assert_eq!(s.authorizations.last().unwrap(), "Bearer tok-1");
}

#[tokio::test]
async fn sf9_voicemail_is_unsupported_by_a_core_without_the_rpc() {
    let uri = serve(FakeCore::default(), false).await;
    let backend = GrpcBackend::connect(&uri, "ivr", "secret").await.unwrap();
    let err = backend.save_voicemail(&voicemail()).await.unwrap_err();
    assert!(matches!(err, BackendError::Unsupported(_)), "{err}");
}

#[tokio::test]
async fn a_stuck_core_does_not_keep_the_caller_waiting() {
    let core = FakeCore::default();
    core.lock().stall = true;
    let uri = start(core).await;
    let backend = GrpcBackend::connect(&uri, "ivr", "secret")
        .await
        .unwrap()
        .with_timeout(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = backend.agents_available().await.unwrap_err();
    assert!(matches!(err, BackendError::Unavailable(_)), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
