//! Command line: parse `Cli` and dispatch. `serve` (serve.rs), `admin` (admin.rs), and a gRPC
//! client: `login`/`agent` (agent.rs), `ticket`/`alerts` (ticket.rs), `desk`/`queue`/`task`
//! (desktop.rs), over client.rs.

use crate::client::Conn;
use clap::{Parser, Subcommand};

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
    Serve(Box<crate::serve::ServeArgs>),
    /// Call the hotline (`serve` running), report a fault with the keypad, show the ticket.
    Demo(crate::calls::DemoArgs),
    /// Play Asterisk against the FastAGI server (`serve` running): report a fault over AGI.
    AgiDemo(crate::agi::AgiDemoArgs),
    /// Create an agent directly in the store (bootstrap the first admin).
    Admin(crate::admin::AdminArgs),
    /// Log in and print a bearer token (export it as HOTLINE_TOKEN).
    Login(crate::agent::LoginArgs),
    /// Work with tickets over gRPC.
    Ticket {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: crate::ticket::TicketCmd,
    },
    /// Create an agent over gRPC (admin token).
    Agent {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        new: crate::agent::NewAgent,
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
    /// The knowledge base: articles, cases from tickets, versions, search (DM1-DM6, SO7).
    Kb {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: crate::kb::KbCmd,
    },
    /// Quality inspection and assessments: samples, scores, recordings (QA1, QA2, SO1, SO4).
    Qa {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: crate::qa::QaCmd,
    },
    /// Reports per branch and period, as a table or a csv/xlsx/svg/png/json file (issue 17).
    Report(Box<crate::report::ReportArgs>),
    /// Text intake: documents, e-mail import, the inbox, entry, the archive (TE1-TE4, DM5).
    Intake {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: crate::intake::IntakeCmd,
    },
    /// The satisfaction surveyor: worklists, callbacks, investigations, statistics (SS1-SS6).
    Survey {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: crate::survey::SurveyCmd,
    },
    /// Follow-up tasks: callbacks (SO4), surveys (SS2), originals to file (TE3).
    Task {
        #[command(flatten)]
        conn: Conn,
        #[command(subcommand)]
        cmd: crate::desktop::TaskCmd,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve(a) => crate::serve::serve(*a).await,
        Cmd::Demo(a) => crate::calls::demo(a).await,
        Cmd::AgiDemo(a) => crate::agi::agi_demo(a).await,
        Cmd::Admin(a) => crate::admin::admin(a).await,
        Cmd::Login(a) => crate::agent::login(a).await,
        Cmd::Ticket { conn, cmd } => crate::ticket::ticket(conn, cmd).await,
        Cmd::Agent { conn, new } => crate::agent::create(conn, new).await,
        Cmd::Desk { conn, presence } => crate::desktop::desk(&conn, &presence).await,
        Cmd::Queue { conn } => crate::desktop::queue(&conn).await,
        Cmd::Task { conn, cmd } => crate::desktop::task(&conn, cmd).await,
        Cmd::Kb { conn, cmd } => crate::kb::kb(conn, cmd).await,
        Cmd::Qa { conn, cmd } => crate::qa::qa(conn, cmd).await,
        Cmd::Survey { conn, cmd } => crate::survey::survey(conn, cmd).await,
        Cmd::Alerts { conn } => crate::ticket::alerts(conn).await,
        Cmd::Intake { conn, cmd } => crate::intake::intake(conn, cmd).await,
        Cmd::Report(a) => crate::report::report(*a).await,
    }
}
