//! [`TestCore`]: one builder for the integration tests that run a core over real gRPC, so a
//! new [`CoreConfig`] field changes this file, not every test (STYLE.md, "Fixture builders").
//!
//! ```ignore
//! for tc in TestCore::backends("e2e").await {
//!     let core = tc.with_agent("s1", Role::Senior, "s1-password").start().await;
//!     let mut tickets = core.client(TicketServiceClient::new);
//!     tickets.list_tickets(authed(core.token("s1"), ...)).await?;
//!     core.shutdown().await;
//! }
//! ```

use crate::{fresh_postgres, sqlite_url, temp_dir};
use hotline_core::server::{CoreConfig, RunningCore, start};
use hotline_core::{Clock, SystemClock};
use hotline_domain::Role;
use hotline_domain::rules::DeskRules;
use hotline_proto::auth::BearerToken;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tonic::Request;
use tonic::transport::Channel;

/// The bootstrap admin every [`TestCore`] creates: (agent id, password).
pub const ADMIN: (&str, &str) = ("admin", "admin-secret");

/// `msg` with `authorization: Bearer <token>` (through [`BearerToken`], the interceptor the
/// CLI and the IVR use).
pub fn authed<T>(token: &str, msg: T) -> Request<T> {
    BearerToken::new(token)
        .expect("a token is header text")
        .authorize(Request::new(msg))
}

/// A scratch directory removed when dropped.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(tag: &str) -> Self {
        ScratchDir(temp_dir(tag))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A core to start: its config with the tests' defaults, its clock, the agents to create.
pub struct TestCore {
    cfg: CoreConfig,
    clock: Arc<dyn Clock>,
    agents: Vec<(String, String, Role, String)>,
    dir: ScratchDir,
}

impl TestCore {
    /// A core on a SQLite file (`core.db`) in its own scratch directory.
    pub fn sqlite() -> Self {
        let dir = ScratchDir::new("core");
        let url = sqlite_url(dir.path(), "core.db");
        Self::with_dir(url, dir)
    }

    /// A core on the database at `url` (a scratch directory still holds its voicemail).
    pub fn on(url: impl Into<String>) -> Self {
        Self::with_dir(url.into(), ScratchDir::new("core"))
    }

    /// One core per backend a storage scenario runs on: SQLite always, then a fresh
    /// PostgreSQL database when [`crate::POSTGRES_ENV`] is set (see [`crate::database_urls`]).
    /// `tag` names the scratch directories.
    pub async fn backends(tag: &str) -> Vec<TestCore> {
        let dir = ScratchDir::new(tag);
        let url = sqlite_url(dir.path(), "core.db");
        let mut out = vec![Self::with_dir(url, dir)];
        if let Some(url) = fresh_postgres().await {
            out.push(Self::with_dir(url, ScratchDir::new(tag)));
        }
        out
    }

    fn with_dir(database_url: String, dir: ScratchDir) -> Self {
        let voicemail_dir = dir.path().join("voicemail");
        std::fs::create_dir_all(&voicemail_dir).expect("voicemail dir");
        TestCore {
            cfg: CoreConfig {
                grpc_listen: "127.0.0.1:0".parse().expect("addr"),
                http_listen: "127.0.0.1:0".parse().expect("addr"),
                database_url,
                store: Default::default(),
                rules: DeskRules::default(),
                bootstrap_admin: Some((ADMIN.0.into(), ADMIN.1.into())),
                service_account: None,
                acd: Default::default(),
                scheduler_max_sleep: Duration::from_millis(100),
                intake: hotline_core::desk::intake::IntakeConfig::under(dir.path()),
                voicemail_dir,
                kb_index_dir: None,
                qa: Default::default(),
                reports: Default::default(),
                surveys: Default::default(),
                center: None,
                http_extension: None,
            },
            clock: Arc::new(SystemClock),
            agents: Vec::new(),
            dir,
        }
    }

    /// The database this core will open.
    pub fn database_url(&self) -> &str {
        &self.cfg.database_url
    }

    /// The scratch directory (removed when the started core is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Tweaks any config field.
    pub fn with_config(mut self, f: impl FnOnce(&mut CoreConfig)) -> Self {
        f(&mut self.cfg);
        self
    }

    /// Runs the core on `clock` (a `ManualClock` for virtual time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// An agent the admin creates after start (named after its id) and logs in.
    pub fn with_agent(self, id: &str, role: Role, password: &str) -> Self {
        self.with_named_agent(id, id, role, password)
    }

    /// [`TestCore::with_agent`] with a display name.
    pub fn with_named_agent(mut self, id: &str, name: &str, role: Role, password: &str) -> Self {
        self.agents
            .push((id.into(), name.into(), role, password.into()));
        self
    }

    /// Starts the core, connects a channel, logs in the admin, the service account (when
    /// configured) and every agent.
    pub async fn start(self) -> StartedCore {
        let service_account = self.cfg.service_account.clone();
        let voicemail_dir = self.cfg.voicemail_dir.clone();
        let intake_dir = self.cfg.intake.documents_dir.clone();
        let core = start(self.cfg, self.clock).await.expect("core starts");
        let channel = Channel::from_shared(format!("http://{}", core.grpc_addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect to the core");
        let mut agents = AgentServiceClient::new(channel.clone());
        let admin = login(&mut agents, ADMIN.0, ADMIN.1).await;
        let mut tokens = HashMap::new();
        if let Some((id, pw)) = service_account {
            let token = login(&mut agents, &id, &pw).await;
            tokens.insert(id, token);
        }
        for (id, name, role, password) in self.agents {
            agents
                .create_agent(authed(
                    &admin,
                    pb::CreateAgentRequest {
                        agent_id: id.clone(),
                        name,
                        role: role.as_str().into(),
                        password: password.clone(),
                    },
                ))
                .await
                .unwrap_or_else(|e| panic!("create agent {id}: {e}"));
            let token = login(&mut agents, &id, &password).await;
            tokens.insert(id, token);
        }
        StartedCore {
            core,
            channel,
            admin,
            voicemail_dir,
            intake_dir,
            tokens,
            _dir: self.dir,
        }
    }
}

/// Logs `id` in; panics on refusal.
pub async fn login(c: &mut AgentServiceClient<Channel>, id: &str, pw: &str) -> String {
    c.login(pb::LoginRequest {
        agent_id: id.into(),
        password: pw.into(),
    })
    .await
    .unwrap_or_else(|e| panic!("login {id}: {e}"))
    .into_inner()
    .token
}

/// A running core (derefs to [`RunningCore`]) with a connected channel and tokens. Its scratch
/// directory is removed when it is dropped.
pub struct StartedCore {
    pub core: RunningCore,
    pub channel: Channel,
    /// The bootstrap admin's token.
    pub admin: String,
    /// Where the core reads voicemail recordings (in the scratch directory unless configured).
    pub voicemail_dir: PathBuf,
    /// The document store's directory (text intake).
    pub intake_dir: PathBuf,
    tokens: HashMap<String, String>,
    _dir: ScratchDir,
}

impl StartedCore {
    /// The token of an agent created by [`TestCore::with_agent`] or of the service account.
    pub fn token(&self, id: &str) -> &str {
        self.tokens
            .get(id)
            .unwrap_or_else(|| panic!("no agent {id} was created by the builder"))
    }

    /// A client on the shared channel: `core.client(TicketServiceClient::new)`.
    pub fn client<C>(&self, new: impl FnOnce(Channel) -> C) -> C {
        new(self.channel.clone())
    }

    /// A client whose every request carries `token`:
    /// `core.client_as(core.token("s1"), TicketServiceClient::with_interceptor)`.
    pub fn client_as<C>(&self, token: &str, new: impl FnOnce(Channel, BearerToken) -> C) -> C {
        new(
            self.channel.clone(),
            BearerToken::new(token).expect("a token is header text"),
        )
    }

    /// Shuts the core down (then removes its scratch directory).
    pub async fn shutdown(self) {
        self.core.shutdown().await;
    }
}

impl std::ops::Deref for StartedCore {
    type Target = RunningCore;
    fn deref(&self) -> &RunningCore {
        &self.core
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_started_core_knows_its_agents_and_removes_its_scratch_dir() {
        let tc = TestCore::sqlite().with_agent("s1", Role::Senior, "s1-password");
        let dir = tc.dir().to_path_buf();
        let core = tc.start().await;
        assert!(core.voicemail_dir.starts_with(&dir));
        let me = core
            .client_as(core.token("s1"), AgentServiceClient::with_interceptor)
            .get_me(pb::GetMeRequest {})
            .await
            .expect("the agent's token is accepted")
            .into_inner();
        assert_eq!((me.agent_id.as_str(), me.role.as_str()), ("s1", "senior"));
        let admin = core
            .client(AgentServiceClient::new)
            .get_me(authed(&core.admin, pb::GetMeRequest {}))
            .await
            .expect("the admin's token is accepted")
            .into_inner();
        assert_eq!(admin.role, "admin");
        core.shutdown().await;
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
}
