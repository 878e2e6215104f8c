//! `hotline ticket create --received-at` (issue 19 part 6, TE1): a letter or a late entry keeps
//! the time it reached the desk. The real binary: `hotline serve` on SQLite, the CLI as a
//! separate process with `HOTLINE_SERVER` and `HOTLINE_TOKEN`, the stored ticket read back
//! over gRPC. A time in the future or in a format the CLI does not know is refused with the
//! flag named, and nothing is created.

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_proto::v1::{GetTicketRequest, ListTicketsRequest, LoginRequest};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_hotline");
const ADMIN_PASSWORD: &str = "admin-pw-123";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `hotline serve` without the telephone side on SQLite in `dir`; returns the server address
/// and an admin token once gRPC answers a login.
async fn start(dir: &Path) -> (Child, String, String) {
    let (grpc, http) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(["--data-dir", &dir.join("var").to_string_lossy()])
        .args(["--grpc-listen", &format!("127.0.0.1:{grpc}")])
        .args(["--http-listen", &format!("127.0.0.1:{http}")])
        .args(["--admin-password", ADMIN_PASSWORD])
        .args(["--no-sip", "--no-agi"])
        .env("HOTLINE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start hotline serve");
    let server = format!("http://127.0.0.1:{grpc}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("serve status") {
            panic!("hotline serve exited during start-up: {status}");
        }
        if let Ok(ch) = Channel::from_shared(server.clone())
            .unwrap()
            .connect()
            .await
            && let Ok(r) = AgentServiceClient::new(ch)
                .login(LoginRequest {
                    agent_id: "admin".into(),
                    password: ADMIN_PASSWORD.into(),
                })
                .await
        {
            return (child, server, r.into_inner().token);
        }
        assert!(
            Instant::now() < deadline,
            "hotline serve did not answer gRPC in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn cli(server: &str, token: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("HOTLINE_SERVER", server)
        .env("HOTLINE_TOKEN", token)
        .env("HOTLINE_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run hotline")
}

/// A time as a clerk types it for `--received-at`: `YYYY-MM-DD HH:MM`.
fn typed(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn authed<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn te1_ticket_create_received_at_keeps_the_letters_time_and_refuses_bad_times() {
    let dir = hotline_testkit::temp_dir("cli-ticket");
    std::fs::create_dir_all(dir.join("var")).unwrap();
    let (_serve, server, token) = start(&dir).await;
    let ch = Channel::from_shared(server.clone())
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let mut tickets = TicketServiceClient::new(ch);

    // Three hours ago, in Beijing time to the minute, as a clerk types it.
    let now = time::OffsetDateTime::now_utc();
    let arrived = (now - time::Duration::hours(3)).to_offset(time::macros::offset!(+8));
    let given = typed(arrived);
    let out = cli(
        &server,
        &token,
        &[
            "ticket",
            "create",
            "--number",
            "02088880123",
            "--channel",
            "letter",
            "--received-at",
            &given,
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ticket create failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("受理时间 {given}")),
        "the CLI shows the received time it was given: {stdout}"
    );
    let id: i64 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("ticket id in {stdout:?}"));
    let t = tickets
        .get_ticket(authed(&token, GetTicketRequest { id }))
        .await
        .expect("get ticket")
        .into_inner();
    let expected = arrived.unix_timestamp() - i64::from(arrived.second());
    assert_eq!(
        t.received_at.as_ref().map(|x| x.seconds),
        Some(expected),
        "received_at is the letter's time, to the minute"
    );
    let created = t.created_at.as_ref().map_or(0, |x| x.seconds);
    assert!(
        created >= now.unix_timestamp() - 5,
        "created_at is now, not the letter's time: {created}"
    );
    // TE1: the two-hour entry deadline counts from receipt, so entering it three hours late
    // leaves the entry deadline already breached (met late).
    let entry = t
        .deadlines
        .iter()
        .find(|d| d.kind == "entry")
        .expect("a letter has a TE1 entry deadline");
    assert_eq!(
        entry.due_at.as_ref().map(|x| x.seconds),
        Some(expected + 2 * 3600),
        "TE1 is due two hours after receipt"
    );
    assert!(
        entry.breached,
        "entered 3 h after receipt: late ({entry:?})"
    );

    // Refused before anything is sent: an unknown format (named flag), and a future time
    // (the core's INVALID_ARGUMENT naming received_at).
    let bad = cli(
        &server,
        &token,
        &[
            "ticket",
            "create",
            "--number",
            "02088880124",
            "--received-at",
            "yesterday",
        ],
    )
    .await;
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "an unknown time format is refused");
    assert!(
        err.contains("--received-at") && err.contains("YYYY-MM-DD HH:MM"),
        "the error names the flag and the format: {err}"
    );
    let future = typed((now + time::Duration::days(1)).to_offset(time::macros::offset!(+8)));
    let bad = cli(
        &server,
        &token,
        &[
            "ticket",
            "create",
            "--number",
            "02088880125",
            "--received-at",
            &future,
        ],
    )
    .await;
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "a time in the future is refused");
    assert!(
        err.contains("received_at") && err.contains("future"),
        "the core's refusal names the field: {err}"
    );
    let listed = tickets
        .list_tickets(authed(
            &token,
            ListTicketsRequest {
                page_size: 50,
                ..Default::default()
            },
        ))
        .await
        .expect("list")
        .into_inner();
    let numbers: Vec<&str> = listed
        .tickets
        .iter()
        .map(|t| t.faulty_number.as_str())
        .collect();
    assert_eq!(numbers, ["02088880123"], "only the good report was created");
    let _ = std::fs::remove_dir_all(&dir);
}
