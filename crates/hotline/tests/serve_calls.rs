//! The binary end to end: `hotline serve` (SQLite, embedded 112 simulator, SIP on loopback,
//! the real Mandarin prompts) answers `hotline demo`, which reports a fault with RFC 4733 keys
//! and prints the ticket the IVR created; then SIGTERM stops serve cleanly. This is the
//! README's tour, as a test.

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hotline");

/// A loopback port free for TCP and for UDP (gRPC and HTTP listen on TCP, SIP on both).
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn repo_prompts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../prompts/prompts.toml")
}

/// `hotline serve` on fresh loopback ports, started up to the line that says it answers
/// calls. Returns the child, the remaining stderr, and (grpc, sip) ports. A port taken between
/// choosing and binding it (other tests run beside us) is retried with new ports; any other
/// start-up failure panics with what serve printed.
async fn start_serve(
    dir: &Path,
) -> (
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    u16,
    u16,
) {
    for _attempt in 0..3 {
        let (grpc, http, sip) = (free_port(), free_port(), free_port());
        let mut serve = Command::new(BIN)
            .arg("serve")
            .args(["--data-dir", &dir.join("var").to_string_lossy()])
            .args(["--grpc-listen", &format!("127.0.0.1:{grpc}")])
            .args(["--http-listen", &format!("127.0.0.1:{http}")])
            .args(["--sip-listen", &format!("127.0.0.1:{sip}")])
            .args(["--media-ip", "127.0.0.1", "--rtp-ports", "31000-31998"])
            .args(["--prompts", &repo_prompts().to_string_lossy()])
            .args(["--admin-password", "admin-pw-123"])
            // SIP only: no FastAGI listener to collide with another server on :4573
            .arg("--no-agi")
            .env("HOTLINE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start hotline serve");
        let mut lines = BufReader::new(serve.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("the hotline answers calls") {
                    return true;
                }
            }
            false
        })
        .await;
        if ready == Ok(true) {
            return (serve, lines, grpc, sip);
        }
        let status = serve.wait().await;
        if seen.contains("in use") {
            eprintln!("serve found a port taken, retrying:\n{seen}");
            let _ = std::fs::remove_dir_all(dir.join("var"));
            continue;
        }
        panic!("hotline serve did not start SIP ({ready:?}, exit {status:?}); it printed:\n{seen}");
    }
    panic!("hotline serve found its ports taken three times");
}

#[tokio::test]
async fn serve_answers_the_demo_call_and_creates_an_ivr_ticket() {
    let dir = hotline_testkit::temp_dir("serve-calls");
    let (mut serve, mut lines, grpc, sip) = start_serve(&dir).await;
    let server = format!("http://127.0.0.1:{grpc}");
    let log = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });

    let login = Command::new(BIN)
        .args(["login", "--server", &server, "--agent-id", "admin"])
        .env("HOTLINE_PASSWORD", "admin-pw-123")
        .output()
        .await
        .unwrap();
    assert!(login.status.success(), "{login:?}");
    let token = String::from_utf8(login.stdout).unwrap().trim().to_owned();

    let demo = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new(BIN)
            .args([
                "demo",
                "--sip",
                &format!("127.0.0.1:{sip}"),
                "--server",
                &server,
            ])
            .args(["--number", "02088776655", "--fault", "1"])
            .env("HOTLINE_TOKEN", &token)
            .env("HOTLINE_LOG", "warn")
            .output(),
    )
    .await
    .expect("the demo call ends within 120 s")
    .unwrap();
    let out = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let ticket_line = out
        .lines()
        .find(|l| l.starts_with("新工单"))
        .unwrap_or_else(|| panic!("no ticket printed:\n{out}"));
    assert!(ticket_line.contains("02088776655"), "{ticket_line}");
    assert!(ticket_line.contains("(no_dial_tone)"), "{ticket_line}");
    assert!(ticket_line.contains("渠道 ivr"), "{ticket_line}");
    assert!(ticket_line.contains("来电 13800138000"), "{ticket_line}");

    // SIGTERM: calls, then the core, stop; the process exits 0.
    let pid = serve.id().unwrap().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(30), serve.wait())
        .await
        .expect("serve stops within 30 s of SIGTERM")
        .unwrap();
    let log = log.await.unwrap();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("call finished outcome=Ok(Done)"), "{log}");
    assert!(log.contains("core stopped"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
