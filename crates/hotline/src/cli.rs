//! Command line: `serve`, `admin`, and a gRPC client (`login`, `ticket`, `agent`, `alerts`).

use crate::config;
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use hotline_core::SystemClock;
use hotline_core::auth::Auth;
use hotline_core::delivery::DeliveryConfig;
use hotline_core::server::{CenterLink, CoreConfig};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Channel;

#[derive(Parser, Debug)]
#[command(
    name = "hotline",
    version,
    about = "电话障碍申告 112 fault-report hotline"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

impl Cli {
    /// The log level when HOTLINE_LOG is unset: `demo` prints its own story, so only warnings.
    pub fn default_log_level(&self) -> &'static str {
        match self.cmd {
            Cmd::Demo(_) | Cmd::AgiDemo(_) => "warn",
            _ => "info",
        }
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the system: core (gRPC), HTTP side, deadline scheduler, SIP and the IVR.
    Serve(Box<ServeArgs>),
    /// Call the hotline (`serve` running), report a fault with the keypad, show the ticket.
    Demo(crate::calls::DemoArgs),
    /// Play Asterisk against the FastAGI server (`serve` running): report a fault over AGI.
    AgiDemo(crate::agi::AgiDemoArgs),
    /// Create an agent directly in the store (bootstrap the first admin).
    Admin(AdminArgs),
    /// Log in and print a bearer token (export it as HOTLINE_TOKEN).
    Login(LoginArgs),
    /// Work with tickets over gRPC.
    Ticket {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: TicketCmd,
    },
    /// Create an agent over gRPC (admin token).
    Agent {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        new: NewAgent,
    },
    /// List recent deadline alerts.
    Alerts {
        #[command(flatten)]
        conn: Conn,
    },
    /// Agent desktop in the terminal: set available and print screen pops and alerts.
    Desk {
        #[command(flatten)]
        conn: Conn,
        /// available | not_ready
        #[arg(long, default_value = "available")]
        presence: String,
    },
    /// Who is waiting for an agent, and the queue's figures (service level, ASA, abandons).
    Queue {
        #[command(flatten)]
        conn: Conn,
    },
    /// Follow-up tasks: callbacks (SO4), surveys (SS2), originals to file (TE3).
    Task {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: crate::desktop::TaskCmd,
    },
}

#[derive(Args, Debug)]
struct StoreArgs {
    /// Where SQLite and recordings live.
    #[arg(long, env = "HOTLINE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data dir).
    #[arg(long, env = "HOTLINE_DATABASE_URL")]
    database_url: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "HOTLINE_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[arg(long, env = "HOTLINE_GRPC_LISTEN")]
    grpc_listen: Option<String>,
    #[arg(long, env = "HOTLINE_HTTP_LISTEN")]
    http_listen: Option<String>,
    /// SIP listener, UDP and TCP (default 0.0.0.0:5060).
    #[arg(long, env = "HOTLINE_SIP_LISTEN")]
    sip_listen: Option<String>,
    #[command(flatten)]
    sip: crate::calls::SipArgs,
    #[command(flatten)]
    agi: crate::agi::AgiArgs,
    /// First admin's id, created if no agent exists.
    #[arg(long, env = "HOTLINE_ADMIN_ID", default_value = "admin")]
    admin_id: String,
    /// First admin's password (created only if set and no agent exists).
    #[arg(long, env = "HOTLINE_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Base URL of a real 112 centre (TMF621 API root). Unset: the embedded simulator runs.
    #[arg(long, env = "HOTLINE_CENTER112_URL")]
    center112_url: Option<String>,
    /// Shared secret of the centre's event signatures (required with --center112-url).
    #[arg(long, env = "HOTLINE_CENTER112_SECRET", hide_env_values = true)]
    center112_secret: Option<String>,
    /// URL the centre posts events to (default: http://<http-listen>/center112/events).
    #[arg(long, env = "HOTLINE_CENTER112_CALLBACK")]
    center112_callback: Option<String>,
    /// Embedded simulator: seconds from acknowledged to inProgress.
    #[arg(long, env = "HOTLINE_SIM_PROGRESS_SECS", default_value_t = 60)]
    sim_progress_secs: u64,
    /// Embedded simulator: seconds from inProgress to resolved (回单).
    #[arg(long, env = "HOTLINE_SIM_RESOLVE_SECS", default_value_t = 300)]
    sim_resolve_secs: u64,
}

#[derive(Args, Debug)]
struct NewAgent {
    #[arg(long)]
    agent_id: String,
    #[arg(long, default_value = "")]
    name: String,
    /// junior | senior | text_entry | recording_extractor | surveyor | data_manager | qa | admin | system
    #[arg(long)]
    role: String,
    #[arg(long, env = "HOTLINE_NEW_PASSWORD", hide_env_values = true)]
    password: String,
}

#[derive(Args, Debug)]
struct AdminArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    new: NewAgent,
}

#[derive(Args, Debug)]
pub(crate) struct Conn {
    /// The core's gRPC address.
    #[arg(
        long,
        env = "HOTLINE_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub(crate) server: String,
    /// Bearer token from `hotline login`.
    #[arg(long, env = "HOTLINE_TOKEN", hide_env_values = true, global = true)]
    pub(crate) token: Option<String>,
}

#[derive(Args, Debug)]
struct LoginArgs {
    #[arg(long, env = "HOTLINE_SERVER", default_value = "http://127.0.0.1:50051")]
    server: String,
    #[arg(long)]
    agent_id: String,
    #[arg(long, env = "HOTLINE_PASSWORD", hide_env_values = true)]
    password: String,
}

#[derive(Subcommand, Debug)]
enum TicketCmd {
    /// Register a report.
    Create {
        /// The faulty line's number.
        #[arg(long)]
        number: String,
        /// no_dial_tone | noise | cannot_call_out | cannot_receive | drops | crosstalk | leased_line_down | cable_damage | other
        #[arg(long, default_value = "no_dial_tone")]
        fault: String,
        /// ivr | phone | letter | fax | email | walk_in | voicemail | other_department
        #[arg(long, default_value = "phone")]
        channel: String,
        /// ordinary | big | important | leased_line
        #[arg(long, default_value = "ordinary")]
        class: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        branch: String,
        #[arg(long, default_value = "")]
        contact: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        urgent: bool,
    },
    /// Newest tickets first.
    List {
        #[arg(long, default_value = "")]
        status: String,
        #[arg(long, default_value = "")]
        number: String,
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    Show {
        id: i64,
    },
    History {
        id: i64,
    },
    /// dispatch | follow-up | cancel | escalate | answer | urgent | note | clear | close | second-dispatch | manager
    Act {
        id: i64,
        action: String,
        #[arg(long, default_value = "")]
        text: String,
        /// for `manager`: overdue_repeat | caller_refused_answer
        #[arg(long, default_value = "caller_refused_answer")]
        reason: String,
    },
    /// Second review of a pending order.
    Review {
        id: i64,
        order: i64,
        #[arg(long)]
        reject: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
}

fn addr(s: &str, what: &str) -> anyhow::Result<SocketAddr> {
    s.parse()
        .with_context(|| format!("{what}: {s:?} is not HOST:PORT"))
}

fn database_url(args: &StoreArgs, file: &config::FileConfig) -> anyhow::Result<String> {
    if let Some(u) = args
        .database_url
        .clone()
        .or_else(|| file.database_url.clone())
    {
        return Ok(u);
    }
    let dir = args
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./var"));
    config::sqlite_url(&dir)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve(a) => serve(*a).await,
        Cmd::Demo(a) => crate::calls::demo(a).await,
        Cmd::AgiDemo(a) => crate::agi::agi_demo(a).await,
        Cmd::Admin(a) => admin(a).await,
        Cmd::Login(a) => {
            let mut c = AgentServiceClient::new(connect(&a.server).await?);
            let r = c
                .login(pb::LoginRequest {
                    agent_id: a.agent_id,
                    password: a.password,
                })
                .await?
                .into_inner();
            println!("{}", r.token);
            Ok(())
        }
        Cmd::Ticket { conn, cmd } => ticket(conn, cmd).await,
        Cmd::Agent { conn, new } => {
            let ch = connect(&conn.server).await?;
            let mut c = AgentServiceClient::new(ch);
            let a = c
                .create_agent(authed(
                    &conn,
                    pb::CreateAgentRequest {
                        agent_id: new.agent_id,
                        name: new.name,
                        role: new.role,
                        password: new.password,
                    },
                )?)
                .await?
                .into_inner();
            println!("已创建坐席 created agent {} ({})", a.agent_id, a.role_label);
            Ok(())
        }
        Cmd::Desk { conn, presence } => crate::desktop::desk(&conn, &presence).await,
        Cmd::Queue { conn } => crate::desktop::queue(&conn).await,
        Cmd::Task { conn, cmd } => crate::desktop::task(&conn, cmd).await,
        Cmd::Alerts { conn } => {
            let mut c = TicketServiceClient::new(connect(&conn.server).await?);
            let r = c
                .list_alerts(authed(
                    &conn,
                    pb::ListAlertsRequest {
                        page_size: 50,
                        ticket_id: 0,
                    },
                )?)
                .await?
                .into_inner();
            for a in r.alerts {
                println!(
                    "#{} 工单 {} [{}/{}] {}",
                    a.id, a.ticket_id, a.deadline_kind, a.level, a.message
                );
            }
            Ok(())
        }
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let file = config::load(a.store.config.as_deref())?;
    let grpc = a
        .grpc_listen
        .or(file.grpc_listen.clone())
        .unwrap_or_else(|| "127.0.0.1:50051".into());
    let http = a
        .http_listen
        .or(file.http_listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let sip = a
        .sip_listen
        .or(file.sip_listen.clone())
        .unwrap_or_else(|| "0.0.0.0:5060".into());
    let sip_listen = addr(&sip, "--sip-listen")?;
    let bootstrap = match (&file.admin, a.admin_password) {
        (_, Some(pw)) => Some((a.admin_id.clone(), pw)),
        (Some(adm), None) => Some((adm.agent_id.clone(), adm.password.clone())),
        (None, None) => None,
    };
    let data_dir = a
        .store
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./var"));
    // the 112 centre: a real one, or the embedded simulator
    let (url, secret, sim) = match a.center112_url.clone() {
        Some(url) => {
            let secret = a
                .center112_secret
                .clone()
                .context("--center112-secret is required with --center112-url")?;
            (url, secret, None)
        }
        None => {
            let sim = start_simulator(&data_dir, a.sim_progress_secs, a.sim_resolve_secs).await?;
            (sim.0, sim.1, Some(sim.2))
        }
    };
    let center = CenterLink {
        client: Arc::new(
            hotline_center112::HttpCenter::new(url, Duration::from_secs(10))
                .context("112 centre client")?,
        ),
        secret: secret.into_bytes(),
        callback_url: a.center112_callback.clone(),
        delivery: DeliveryConfig::default(),
    };
    let voicemail_dir = data_dir.join("voicemail");
    let calls = crate::calls::call_server_config(
        &a.sip,
        sip_listen,
        file.sip.as_ref(),
        file.ivr.as_ref(),
        &voicemail_dir,
    )?;
    let agi = crate::agi::agi_plan(
        &a.agi,
        file.agi.as_ref(),
        file.ivr.as_ref(),
        crate::calls::prompts_path(
            a.sip
                .prompts
                .clone()
                .or_else(|| file.sip.as_ref().and_then(|s| s.prompts.clone())),
        ),
        &voicemail_dir,
    )?;
    let ivr_password = crate::calls::random_password();
    let cfg = CoreConfig {
        grpc_listen: addr(&grpc, "--grpc-listen")?,
        http_listen: addr(&http, "--http-listen")?,
        database_url: database_url(&a.store, &file)?,
        store: file.store_tuning()?,
        rules: file.rules.unwrap_or_default(),
        bootstrap_admin: bootstrap,
        service_account: (calls.is_some() || agi.is_some())
            .then(|| (crate::calls::IVR_ACCOUNT.to_owned(), ivr_password.clone())),
        acd: Default::default(),
        scheduler_max_sleep: Duration::from_secs(1),
        voicemail_dir: voicemail_dir.clone(),
        center: Some(center),
    };
    let res = serve_core_and_calls(cfg, calls, agi, &ivr_password).await;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    res
}

/// Runs the core and, unless `--no-sip`, the call server (which reaches the core over gRPC)
/// until SIGINT/SIGTERM; stops calls first, then the core.
async fn serve_core_and_calls(
    cfg: CoreConfig,
    calls: Option<hotline_calls::CallServerConfig>,
    agi: Option<crate::agi::AgiPlan>,
    ivr_password: &str,
) -> anyhow::Result<()> {
    // one registry for /metrics: the core's families and the call server's
    let registry = hotline_core::metrics::SharedRegistry::default();
    let core =
        hotline_core::server::start_with_registry(cfg, Arc::new(SystemClock), registry.clone())
            .await?;
    let calls = match calls {
        Some(c) => {
            registry.with(|r| c.metrics.register(r));
            match crate::calls::start(c, core.grpc_addr, ivr_password).await {
                Ok(running) => Some(running),
                Err(e) => {
                    core.shutdown().await;
                    return Err(e);
                }
            }
        }
        None => {
            tracing::info!("--no-sip: the telephone side is off");
            None
        }
    };
    // FastAGI (Asterisk in front), beside or instead of SIP.
    let agi = match agi {
        Some(plan) => match crate::agi::start(plan, core.grpc_addr, ivr_password).await {
            Ok(running) => Some(running),
            Err(e) => {
                if let Some(c) = calls {
                    c.shutdown().await;
                }
                core.shutdown().await;
                return Err(e);
            }
        },
        None => {
            tracing::info!("--no-agi: the FastAGI server is off");
            None
        }
    };
    shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(a) = agi {
        a.shutdown().await;
    }
    if let Some(c) = calls {
        c.shutdown().await;
    }
    core.shutdown().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT"),
        _ = term => tracing::info!("SIGTERM"),
    }
}

async fn admin(a: AdminArgs) -> anyhow::Result<()> {
    let file = config::load(a.store.config.as_deref())?;
    let url = database_url(&a.store, &file)?;
    let store = hotline_store::Store::open(hotline_store::StoreOptions::new(url)).await?;
    let auth = Auth::new(store.clone(), Arc::new(SystemClock));
    let name = if a.new.name.is_empty() {
        a.new.agent_id.clone()
    } else {
        a.new.name.clone()
    };
    let res = auth
        .create_agent(None, &a.new.agent_id, &name, &a.new.role, &a.new.password)
        .await;
    store.close().await;
    let rec = res?;
    println!(
        "已创建坐席 created agent {} ({})",
        rec.agent_id,
        rec.role.label_zh()
    );
    Ok(())
}

pub(crate) async fn connect(server: &str) -> anyhow::Result<Channel> {
    Channel::from_shared(server.to_string())
        .context("--server")?
        .connect()
        .await
        .with_context(|| format!("cannot reach the core at {server}; is `hotline serve` running?"))
}

pub(crate) fn authed<T>(conn: &Conn, msg: T) -> anyhow::Result<tonic::Request<T>> {
    let Some(token) = &conn.token else {
        bail!("no token: run `hotline login` and export HOTLINE_TOKEN");
    };
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().context("token")?,
    );
    Ok(r)
}

/// A protobuf timestamp as China Standard Time (UTC+8), e.g. `2026-11-30 21:33`.
pub(crate) fn beijing_time(t: Option<&prost_types::Timestamp>) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    match time::OffsetDateTime::from_unix_timestamp(t.seconds) {
        Ok(dt) => {
            let dt = dt.to_offset(offset);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute()
            )
        }
        Err(_) => t.seconds.to_string(),
    }
}

fn print_ticket(t: &pb::Ticket) {
    let c = t.customer.clone().unwrap_or_default();
    println!(
        "工单 {}  {}  {} ({})  号码 {}  {}{}",
        t.id,
        t.status_label,
        t.fault_type_label,
        t.fault_type,
        t.faulty_number,
        c.class_label,
        if t.urgent { "  [加急]" } else { "" }
    );
    if t.repeat_of != 0 {
        println!("  重复申告 repeat of {}", t.repeat_of);
    }
    for d in &t.deadlines {
        let due = beijing_time(d.due_at.as_ref());
        let state = if d.met_at.is_some() {
            "已完成"
        } else if d.breached {
            "已超时"
        } else if d.warned {
            "预警"
        } else {
            "进行中"
        };
        println!("  {} ({}) due {} {}", d.kind_label, d.kind, due, state);
    }
    for o in &t.orders {
        println!(
            "  单 {} {} {} ({}) by {} {}",
            o.id, o.kind_label, o.review_label, o.delivery, o.created_by, o.note
        );
    }
}

async fn ticket(conn: Conn, cmd: TicketCmd) -> anyhow::Result<()> {
    let mut c = TicketServiceClient::new(connect(&conn.server).await?);
    match cmd {
        TicketCmd::Create {
            number,
            fault,
            channel,
            class,
            name,
            branch,
            contact,
            description,
            urgent,
        } => {
            let r = c
                .create_ticket(authed(
                    &conn,
                    pb::CreateTicketRequest {
                        faulty_number: number,
                        contact_number: contact,
                        customer_name: name,
                        customer_class: class,
                        branch,
                        fault_type: fault,
                        description,
                        channel,
                        received_at: None,
                        urgent,
                        supplement_of: 0,
                    },
                )?)
                .await?
                .into_inner();
            if let Some(t) = &r.ticket {
                print_ticket(t);
            }
            if let Some(rep) = r.repeat.filter(|r| r.is_repeat) {
                println!("  {} (原工单 {})", rep.advice_label, rep.original_ticket_id);
            }
        }
        TicketCmd::List {
            status,
            number,
            limit,
        } => {
            let r = c
                .list_tickets(authed(
                    &conn,
                    pb::ListTicketsRequest {
                        page_size: limit,
                        page_token: String::new(),
                        status,
                        faulty_number: number,
                        channel: String::new(),
                        urgent_only: false,
                    },
                )?)
                .await?
                .into_inner();
            for t in &r.tickets {
                print_ticket(t);
            }
            if !r.next_page_token.is_empty() {
                println!("(more: page token {})", r.next_page_token);
            }
        }
        TicketCmd::Show { id } => print_ticket(
            &c.get_ticket(authed(&conn, pb::GetTicketRequest { id })?)
                .await?
                .into_inner(),
        ),
        TicketCmd::History { id } => {
            for e in c
                .get_ticket_history(authed(&conn, pb::GetTicketHistoryRequest { id })?)
                .await?
                .into_inner()
                .events
            {
                println!(
                    "{} {} {}({}) {} → {} {}",
                    beijing_time(e.at.as_ref()),
                    e.action_label,
                    e.actor,
                    e.role,
                    e.before_status,
                    e.after_status,
                    e.detail
                );
            }
        }
        TicketCmd::Review {
            id,
            order,
            reject,
            note,
        } => {
            let r = c
                .review_order(authed(
                    &conn,
                    pb::ReviewOrderRequest {
                        ticket_id: id,
                        order_id: order,
                        approve: !reject,
                        note,
                    },
                )?)
                .await?
                .into_inner();
            if let Some(t) = &r.ticket {
                print_ticket(t);
            }
        }
        TicketCmd::Act {
            id,
            action,
            text,
            reason,
        } => {
            let r = match action.as_str() {
                "dispatch" => {
                    c.dispatch_ticket(authed(&conn, pb::DispatchTicketRequest { id, note: text })?)
                        .await
                }
                "follow-up" => {
                    c.follow_up_ticket(authed(&conn, pb::FollowUpTicketRequest { id, note: text })?)
                        .await
                }
                "cancel" => {
                    c.cancel_ticket(authed(&conn, pb::CancelTicketRequest { id, reason: text })?)
                        .await
                }
                "escalate" => {
                    c.escalate_ticket(authed(
                        &conn,
                        pb::EscalateTicketRequest { id, reason: text },
                    )?)
                    .await
                }
                "answer" => {
                    c.answer_ticket(authed(&conn, pb::AnswerTicketRequest { id, answer: text })?)
                        .await
                }
                "urgent" => {
                    c.mark_urgent(authed(&conn, pb::MarkUrgentRequest { id, reason: text })?)
                        .await
                }
                "note" => {
                    c.add_note(authed(&conn, pb::AddNoteRequest { id, text })?)
                        .await
                }
                "clear" => {
                    c.clear_ticket(authed(&conn, pb::ClearTicketRequest { id, note: text })?)
                        .await
                }
                "close" => {
                    c.close_ticket(authed(&conn, pb::CloseTicketRequest { id, note: text })?)
                        .await
                }
                "second-dispatch" => {
                    c.second_dispatch(authed(
                        &conn,
                        pb::SecondDispatchRequest { id, warning: text },
                    )?)
                    .await
                }
                "manager" => {
                    c.transfer_to_manager(authed(
                        &conn,
                        pb::TransferToManagerRequest {
                            id,
                            reason,
                            note: text,
                        },
                    )?)
                    .await
                }
                other => bail!("unknown action {other:?}"),
            }?
            .into_inner();
            if let Some(t) = &r.ticket {
                print_ticket(t);
            }
        }
    }
    Ok(())
}

/// Starts the embedded 112-centre simulator with a fresh event secret; returns (URL, secret, sim).
async fn start_simulator(
    data_dir: &std::path::Path,
    progress_secs: u64,
    resolve_secs: u64,
) -> anyhow::Result<(String, String, center112_sim::RunningSim)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut raw = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    let secret = hex::encode(raw);
    let sim = center112_sim::Simulator::start(center112_sim::SimConfig {
        db_path: data_dir.join("center112-sim.db"),
        secret: secret.clone(),
        progress_after: Duration::from_secs(progress_secs),
        resolve_after: Duration::from_secs(resolve_secs),
        late_fraction: 0.1,
        fail_fraction: 0.05,
        ..center112_sim::SimConfig::default()
    })
    .await
    .context("embedded 112 centre simulator")?;
    tracing::info!(url = %sim.base_url(), "embedded 112 centre simulator running (set --center112-url for a real centre)");
    Ok((sim.base_url(), secret, sim))
}
