//! The whole hotline in one test process: the real core (SQLite in a temp dir, or a fresh
//! PostgreSQL database at `HOTLINE_TEST_DATABASE_URL` (default 127.0.0.1:5432)) with the IVR's service
//! account, and a call server on 127.0.0.1 reaching it over gRPC. Prompts are short tones
//! (every id the flows use, 120 ms each) so calls take seconds, not minutes.
#![allow(dead_code)]

pub mod agents;
pub mod directory;
pub mod sipp;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hotline_calls::{
    AgentQueue, CallServer, CallServerConfig, CallSummary, GrpcQueue, VoicemailFallback,
};
use hotline_ivr::{GrpcBackend, IvrConfig};
use hotline_proto::v1 as pb;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::StartedCore;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::Request;
use tonic::transport::Channel;

pub const IVR_ID: &str = "ivr";
pub const IVR_PASSWORD: &str = "ivr-test-password-1";
/// The agent whose softphone may register (SIP user = agent id).
pub const AGENT_ID: &str = "j1";
pub const SOFTPHONE_PASSWORD: &str = "softphone-pw-1";

/// Databases to run a scenario on: SQLite always, PostgreSQL when configured.
pub async fn database_urls(dir: &Path) -> Vec<String> {
    hotline_testkit::database_urls(dir).await
}

pub fn temp_dir(name: &str) -> PathBuf {
    hotline_testkit::temp_dir(&format!("calls-{name}"))
}

/// A catalog with every prompt the flows use, each a short tone.
pub fn short_prompts(dir: &Path) -> PathBuf {
    let pdir = dir.join("prompts");
    std::fs::create_dir_all(&pdir).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut toml = String::new();
    for id in hotline_ivr::prompts::USED {
        let file = pdir.join(format!("{id}.wav"));
        let mut w = hound::WavWriter::create(&file, spec).unwrap();
        for i in 0..960 {
            let t = f64::from(i) / 8000.0;
            w.write_sample((3000.0 * (2.0 * std::f64::consts::PI * 600.0 * t).sin()) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
        toml.push_str(&format!(
            "[[prompt]]\nid = \"{id}\"\nfile = \"{id}.wav\"\ntext = \"测试\"\n\n"
        ));
    }
    let path = pdir.join("prompts.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

pub fn authed<T>(token: &str, msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

pub struct Hotline {
    pub dir: PathBuf,
    pub vm_dir: PathBuf,
    pub core: Option<StartedCore>,
    pub grpc: Channel,
    pub grpc_uri: String,
    pub admin: String,
    pub sip: SocketAddr,
    pub calls: mpsc::UnboundedReceiver<CallSummary>,
    pub shutdown: CancellationToken,
    pub server: Option<JoinHandle<()>>,
    pub sweep: hotline_calls::voicemail::SweepReport,
    /// Softphones allowed to register (SIP user = agent id → password).
    pub softphones: Vec<(String, String)>,
    /// Where bridged calls are recorded (quality inspection), if anywhere.
    pub qa_recording_dir: Option<PathBuf>,
    /// The running call server's SIP handle (registrar bindings).
    pub server_sip: Option<hotline_sip::driver::SipHandle>,
    /// See [`Options::big_customers`].
    pub big_customers: Vec<String>,
    /// The call server's metric families (call setup time, live calls).
    pub call_metrics: hotline_calls::CallMetrics,
    /// See [`Options::outbound`].
    pub outbound: Option<hotline_calls::outbound::OutboundConfig>,
}

/// How [`Hotline::start_opts`] sets the system up.
#[derive(Debug, Clone)]
pub struct Options {
    /// Transferred callers go to the core's agent queue ([`GrpcQueue`], hold announcements
    /// every second); else to voicemail.
    pub acd: bool,
    /// The ACD's ring limit (JO2: 15 s).
    pub answer_timeout: Duration,
    /// The registrar's credentials: SIP user (= agent id) → password.
    pub softphones: Vec<(String, String)>,
    /// Record bridged calls here (`CallServerConfig::qa_recording_dir`).
    pub qa_recording_dir: Option<PathBuf>,
    /// Big customers' numbers: reports on them reach the core as class `big`
    /// ([`directory::DirectoryBackend`]).
    pub big_customers: Vec<String>,
    /// Automated survey calls through this trunk (the core calls all day long then).
    pub outbound: Option<hotline_calls::outbound::OutboundConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            acd: false,
            answer_timeout: Duration::from_secs(15),
            softphones: vec![(AGENT_ID.into(), SOFTPHONE_PASSWORD.into())],
            qa_recording_dir: None,
            big_customers: Vec::new(),
            outbound: None,
        }
    }
}

pub fn ivr_config(vm_dir: &Path) -> IvrConfig {
    IvrConfig {
        first_digit_timeout_ms: 4_000,
        inter_digit_timeout_ms: 4_000,
        voicemail_dir: vm_dir.to_owned(),
        voicemail_max_secs: 60,
        voicemail_silence_secs: 0,
        voicemail_min_secs: 1,
        ..IvrConfig::default()
    }
}

impl Hotline {
    /// Core + call server on `url`, files under `dir`.
    pub async fn start(url: &str, dir: &Path) -> Hotline {
        Self::start_with(url, dir, false, Duration::from_secs(15)).await
    }

    /// With `acd`, transferred callers go to the core's agent queue ([`GrpcQueue`], hold
    /// announcements every second); else to voicemail. `answer_timeout`: the ACD's ring
    /// limit (JO2: 15 s).
    pub async fn start_with(url: &str, dir: &Path, acd: bool, answer_timeout: Duration) -> Hotline {
        Self::start_opts(
            url,
            dir,
            Options {
                acd,
                answer_timeout,
                ..Options::default()
            },
        )
        .await
    }

    /// Core + call server on `url`, files under `dir`, set up as `opts` says.
    pub async fn start_opts(url: &str, dir: &Path, opts: Options) -> Hotline {
        let Options {
            acd,
            answer_timeout,
            softphones,
            qa_recording_dir,
            big_customers,
            outbound,
        } = opts;
        // HOTLINE_LOG=debug shows the servers' logs.
        if let Ok(f) = tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(f)
                .with_test_writer()
                .try_init();
        }
        let vm_dir = dir.join("voicemail");
        std::fs::create_dir_all(&vm_dir).unwrap();
        let all_day = outbound.is_some();
        let core = hotline_testkit::TestCore::on(url)
            .with_config(|cfg| {
                cfg.service_account = Some((IVR_ID.into(), IVR_PASSWORD.into()));
                cfg.acd = hotline_core::acd::AcdSettings {
                    answer_timeout,
                    ..Default::default()
                };
                cfg.scheduler_max_sleep = Duration::from_millis(200);
                cfg.voicemail_dir = vm_dir.clone();
                if all_day {
                    // the tests call at any hour of the day
                    cfg.surveys.calling_from =
                        hotline_domain::survey::TimeOfDay::new(0, 0).unwrap();
                    cfg.surveys.calling_until =
                        hotline_domain::survey::TimeOfDay::new(24, 0).unwrap();
                }
            })
            .start()
            .await;
        let grpc_uri = format!("http://{}", core.grpc_addr);
        let grpc = core.channel.clone();
        let admin = core.admin.clone();
        let mut h = Hotline {
            dir: dir.to_owned(),
            vm_dir,
            core: Some(core),
            grpc,
            grpc_uri,
            admin,
            sip: "127.0.0.1:0".parse().unwrap(),
            calls: mpsc::unbounded_channel().1,
            shutdown: CancellationToken::new(),
            server: None,
            sweep: Default::default(),
            softphones,
            qa_recording_dir,
            server_sip: None,
            big_customers,
            call_metrics: Default::default(),
            outbound,
        };
        let queue: Arc<dyn AgentQueue> = if acd {
            Arc::new(
                GrpcQueue::connect_lazy(&h.grpc_uri, IVR_ID, IVR_PASSWORD)
                    .unwrap()
                    .with_hold_interval(Duration::from_secs(1)),
            )
        } else {
            Arc::new(VoicemailFallback)
        };
        h.start_calls(queue).await;
        h
    }

    /// Starts a (new) call server on the same core and voicemail directory.
    pub async fn start_calls(&mut self, queue: Arc<dyn AgentQueue>) {
        let mut backend: Arc<dyn hotline_ivr::Backend> = Arc::new(
            GrpcBackend::connect(&self.grpc_uri, IVR_ID, IVR_PASSWORD)
                .await
                .expect("IVR logs in"),
        );
        if !self.big_customers.is_empty() {
            backend = Arc::new(directory::DirectoryBackend {
                inner: backend,
                grpc: self.grpc.clone(),
                big: self.big_customers.clone(),
            });
        }
        let mut cfg = CallServerConfig::new("127.0.0.1:0".parse().unwrap());
        cfg.media.local_ip = "127.0.0.1".parse().unwrap();
        cfg.prompts = short_prompts(&self.dir);
        cfg.ivr = ivr_config(&self.vm_dir);
        cfg.sweep_quiet = Duration::ZERO;
        cfg.sip_seed = Some(7);
        cfg.agents = self.softphones.iter().cloned().collect();
        cfg.qa_recording_dir = self.qa_recording_dir.clone();
        cfg.metrics = self.call_metrics.clone();
        cfg.outbound = self.outbound.clone();
        let shutdown = CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut server = CallServer::start(cfg, backend, queue, shutdown.clone())
            .await
            .expect("call server starts")
            .with_call_log(tx);
        if self.outbound.is_some() {
            server = server.with_campaign(Arc::new(
                hotline_calls::outbound::GrpcCampaignCore::connect_lazy(
                    &self.grpc_uri,
                    IVR_ID,
                    IVR_PASSWORD,
                )
                .unwrap(),
            ));
        }
        self.sip = server.local_addr();
        self.server_sip = Some(server.sip());
        self.sweep = server.sweep_report().clone();
        self.calls = rx;
        self.shutdown = shutdown;
        self.server = Some(tokio::spawn(async move {
            server.run().await.expect("call server runs");
        }));
    }

    /// The next finished call's summary.
    pub async fn next_call(&mut self) -> CallSummary {
        tokio::time::timeout(Duration::from_secs(60), self.calls.recv())
            .await
            .expect("a call finishes within 60 s")
            .expect("call server running")
    }

    pub fn tickets(&self) -> TicketServiceClient<Channel> {
        TicketServiceClient::new(self.grpc.clone())
    }

    /// Tickets on `number`, newest first.
    pub async fn tickets_on(&self, number: &str) -> Vec<pb::Ticket> {
        self.tickets()
            .list_tickets(authed(
                &self.admin,
                pb::ListTicketsRequest {
                    page_size: 50,
                    faulty_number: number.into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .tickets
    }

    /// Stops the call server (cleanly) and the core.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        if let Some(core) = self.core.take() {
            core.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
