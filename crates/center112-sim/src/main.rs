//! `center112-sim`: runs the 112 measurement-centre simulator until Ctrl-C or SIGTERM.
//!
//! Durations take a unit: `250ms`, `30s`, `5m`, `1h`.

use center112_sim::{Faults, SimConfig, Simulator};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "center112-sim",
    about = "Simulator of the 112 measurement centre (TMF621-shaped HTTP API)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8112", env = "CENTER112_SIM_LISTEN")]
    listen: String,
    /// SQLite file of the simulator (created if missing); `:memory:` keeps nothing.
    #[arg(long, default_value = "center112-sim.db", env = "CENTER112_SIM_DB")]
    db: PathBuf,
    /// Shared secret of the event signatures.
    #[arg(long, env = "CENTER112_SECRET")]
    secret: String,
    /// acknowledged → inProgress after this long.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    progress_after: Duration,
    /// inProgress → resolved after this long.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    resolve_after: Duration,
    /// Fraction of tickets resolved late.
    #[arg(long, default_value_t = 0.1)]
    late_fraction: f64,
    /// How many times longer a late ticket takes.
    #[arg(long, default_value_t = 3.0)]
    late_factor: f64,
    /// Fraction of repairs that fail (resolved with repairOutcome=failed).
    #[arg(long, default_value_t = 0.05)]
    fail_fraction: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 112)]
    seed: u64,
    /// Answer every API call 503.
    #[arg(long)]
    down: bool,
    /// Added latency of every API call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
    /// Fraction of API calls answered 500 without processing.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Fraction of API calls processed and then answered 500.
    #[arg(long, default_value_t = 0.0)]
    drop_reply_rate: f64,
    /// Send each event twice.
    #[arg(long)]
    duplicate_events: bool,
    /// Hold an event back and send it after the next one.
    #[arg(long)]
    reorder_events: bool,
    /// Delivery attempts per event.
    #[arg(long, default_value_t = 5)]
    event_attempts: u32,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, default_value = "info", env = "RUST_LOG")]
    log: String,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit (ms, s, m, h)"))?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("{s:?}: unit must be ms, s, m or h")),
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cfg = SimConfig {
        listen: args.listen,
        db_path: args.db,
        secret: args.secret,
        progress_after: args.progress_after,
        resolve_after: args.resolve_after,
        late_fraction: args.late_fraction,
        late_factor: args.late_factor,
        fail_fraction: args.fail_fraction,
        seed: args.seed,
        faults: Faults {
            down: args.down,
            slow_ms: args.slow_ms,
            error_rate: args.error_rate,
            drop_reply_rate: args.drop_reply_rate,
            duplicate_events: args.duplicate_events,
            reorder_events: args.reorder_events,
        },
        event_attempts: args.event_attempts,
        ..SimConfig::default()
    };
    let sim = match Simulator::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the simulator");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("center112-sim listening; API at {}", sim.base_url());
    wait_for_signal().await;
    sim.shutdown().await;
    std::process::ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }
}
