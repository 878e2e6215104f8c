//! `hotline`: the one binary. `serve` runs the system; `admin` bootstraps agents; `ticket` and
//! `agent` are a small gRPC client for operators trying the system.

mod admin;
mod agent;
mod agi;
mod calls;
mod cli;
mod client;
mod config;
mod desktop;
mod intake;
mod kb;
mod qa;
mod report;
mod serve;
mod survey;
mod ticket;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(args.default_log_level())),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误 error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
