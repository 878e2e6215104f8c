//! `ticket-load`: a closed-loop gRPC load generator for the core.
//!
//! Logs in once, opens a few HTTP/2 channels, and runs `--clients` tasks that each call the
//! chosen RPC back to back until `--seconds` have passed:
//! - `create`: `TicketService.CreateTicket` with (mostly) distinct faulty numbers; each reply
//!   follows the ticket's commit, so this measures durable ticket creation.
//! - `baseline`: `TicketService.GetTimeRules`, authenticated but touching no database: the
//!   cost of the gRPC stack, auth and the load generator itself.
//!
//! Prints one line of JSON with the counts, throughput and latency percentiles. Each distinct
//! error status code is reported once on stderr.

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Rpc {
    /// TicketService.CreateTicket (a durable write per call).
    Create,
    /// TicketService.GetTimeRules (authenticated, no database).
    Baseline,
}

impl Rpc {
    fn name(self) -> &'static str {
        match self {
            Rpc::Create => "create",
            Rpc::Baseline => "baseline",
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "ticket-load",
    about = "Closed-loop gRPC load on the hotline core; prints one JSON line"
)]
struct Args {
    /// The core's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    #[arg(long)]
    agent_id: String,
    #[arg(long, env = "TICKET_LOAD_PASSWORD", hide_env_values = true)]
    password: String,
    /// Concurrent client tasks, each with one call in flight.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Which RPC to call.
    #[arg(long, value_enum, default_value_t = Rpc::Create)]
    rpc: Rpc,
    /// HTTP/2 connections shared by the clients (round robin).
    #[arg(long, default_value_t = 4)]
    connections: usize,
}

/// What one client task saw.
#[derive(Default)]
struct Tally {
    /// Latencies of successful calls, in microseconds.
    latencies_us: Vec<u64>,
    errors: u64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    sorted[idx] as f64 / 1000.0
}

/// A faulty number unique to (run, client, sequence) for up to 10^7 calls per client: digits
/// only, 17 long. `run` varies between runs so a second run on the same database mostly does
/// not hit the first run's numbers (repeat detection is part of creation, not an error).
fn faulty_number(run: u64, client: usize, seq: u64) -> String {
    format!(
        "9{:04}{:04}{:08}",
        run % 10_000,
        client % 10_000,
        seq % 100_000_000
    )
}

async fn connect(server: &str) -> anyhow::Result<Channel> {
    Endpoint::from_shared(server.to_string())
        .context("--server")?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach {server}"))
}

async fn client_task(
    channel: Channel,
    auth: MetadataValue<tonic::metadata::Ascii>,
    rpc: Rpc,
    client: usize,
    run: u64,
    deadline: Instant,
    seen_codes: Arc<Mutex<HashSet<tonic::Code>>>,
) -> Tally {
    let mut c = TicketServiceClient::new(channel);
    let mut tally = Tally {
        latencies_us: Vec::with_capacity(4096),
        errors: 0,
    };
    let mut seq: u64 = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        let res = match rpc {
            Rpc::Baseline => {
                let mut req = tonic::Request::new(pb::GetTimeRulesRequest {});
                req.metadata_mut().insert("authorization", auth.clone());
                c.get_time_rules(req).await.map(|_| ())
            }
            Rpc::Create => {
                let mut req = tonic::Request::new(pb::CreateTicketRequest {
                    faulty_number: faulty_number(run, client, seq),
                    contact_number: String::new(),
                    customer_name: format!("负载测试 {client}"),
                    customer_class: "ordinary".into(),
                    branch: String::new(),
                    fault_type: "noise".into(),
                    description: "ticket-load".into(),
                    channel: "phone".into(),
                    received_at: None,
                    urgent: false,
                    supplement_of: 0,
                    call_id: String::new(),
                });
                req.metadata_mut().insert("authorization", auth.clone());
                c.create_ticket(req).await.map(|_| ())
            }
        };
        let elapsed = started.elapsed();
        seq += 1;
        match res {
            Ok(()) => tally.latencies_us.push(elapsed.as_micros() as u64),
            Err(status) => {
                tally.errors += 1;
                let first = seen_codes
                    .lock()
                    .map(|mut s| s.insert(status.code()))
                    .unwrap_or(false);
                if first {
                    eprintln!(
                        "ticket-load: client {client}: {:?}: {}",
                        status.code(),
                        status.message()
                    );
                }
            }
        }
    }
    tally
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clients == 0 || args.seconds == 0 || args.connections == 0 {
        bail!("--clients, --seconds and --connections must be positive");
    }

    let first = connect(&args.server).await?;
    let login = AgentServiceClient::new(first.clone())
        .login(pb::LoginRequest {
            agent_id: args.agent_id.clone(),
            password: args.password.clone(),
        })
        .await
        .context("login")?
        .into_inner();
    let auth: MetadataValue<_> = format!("Bearer {}", login.token)
        .parse()
        .context("token is not ASCII")?;

    let mut channels = vec![first];
    for _ in 1..args.connections {
        channels.push(connect(&args.server).await?);
    }

    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let seen_codes = Arc::new(Mutex::new(HashSet::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::with_capacity(args.clients);
    for client in 0..args.clients {
        let ch = channels[client % channels.len()].clone();
        tasks.push(tokio::spawn(client_task(
            ch,
            auth.clone(),
            args.rpc,
            client,
            run,
            deadline,
            seen_codes.clone(),
        )));
    }
    let mut latencies = Vec::new();
    let mut errors = 0u64;
    for t in tasks {
        let tally = t.await.context("client task panicked")?;
        latencies.extend(tally.latencies_us);
        errors += tally.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let ok = latencies.len() as u64;
    println!(
        "{{\"rpc\":\"{}\",\"clients\":{},\"seconds\":{},\"ok\":{},\"errors\":{},\"per_sec\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        args.rpc.name(),
        args.clients,
        args.seconds,
        ok,
        errors,
        ok as f64 / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().map(|&m| m as f64 / 1000.0).unwrap_or(0.0),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faulty_numbers_are_valid_and_distinct() {
        let a = faulty_number(1_764_530_000, 3, 41);
        let b = faulty_number(1_764_530_000, 3, 42);
        let c = faulty_number(1_764_530_000, 4, 41);
        for n in [&a, &b, &c] {
            assert!(n.chars().all(|ch| ch.is_ascii_digit()), "{n}");
            assert!((3..=20).contains(&n.len()), "{n}");
        }
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7000], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
