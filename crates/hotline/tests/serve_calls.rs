//! The binary end to end: `hotline serve` (SQLite, embedded 112 simulator, SIP on loopback,
//! the real Mandarin prompts) answers `hotline demo`, which reports a fault with RFC 4733 keys
//! and prints the ticket the IVR created; then SIGTERM stops serve cleanly. This is the
//! README's tour, as a test.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hotline");

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn repo_prompts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../prompts/prompts.toml")
}

#[tokio::test]
async fn serve_answers_the_demo_call_and_creates_an_ivr_ticket() {
    let dir = std::env::temp_dir().join(format!("hotline-serve-calls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (grpc, http, sip) = (free_port(), free_port(), free_port());
    let server = format!("http://127.0.0.1:{grpc}");
    let mut serve = Command::new(BIN)
        .arg("serve")
        .args(["--data-dir", &dir.join("var").to_string_lossy()])
        .args(["--grpc-listen", &format!("127.0.0.1:{grpc}")])
        .args(["--http-listen", &format!("127.0.0.1:{http}")])
        .args(["--sip-listen", &format!("127.0.0.1:{sip}")])
        .args(["--media-ip", "127.0.0.1", "--rtp-ports", "31000-31998"])
        .args(["--prompts", &repo_prompts().to_string_lossy()])
        .args(["--admin-password", "admin-pw-123"])
        .env("HOTLINE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start hotline serve");
    // Ready when it says it answers calls.
    let mut lines = BufReader::new(serve.stderr.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("the hotline answers calls") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "hotline serve did not start SIP");
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
