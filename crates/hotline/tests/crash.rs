//! Nothing acknowledged is lost: `hotline serve` takes CreateTicket calls from several clients
//! at load, is killed with SIGKILL in the middle of the run (no shutdown, no flush), and is
//! started again on the same database. Every ticket whose CreateTicket returned OK must be
//! there, with the number it was created with, its creation audit row and its deadlines.
//! SQLite (the default, a file in the data dir) and PostgreSQL at `HOTLINE_TEST_DATABASE_URL`
//! (default 127.0.0.1:5432).

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_proto::v1::{
    CreateAgentRequest, CreateTicketRequest, GetTicketHistoryRequest, GetTicketRequest,
    LoginRequest,
};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_hotline");
const ADMIN_PASSWORD: &str = "admin-pw-123";
const CLIENTS: usize = 8;
/// Kill once this many tickets were acknowledged (or after `KILL_AFTER`, whichever is first).
const KILL_AT_ACKED: usize = 300;
const KILL_AFTER: Duration = Duration::from_secs(8);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `hotline serve` without the telephone side, on `url`, gRPC on a free port; returns once
/// gRPC answers a login.
async fn start(dir: &Path, url: &str) -> (Child, String) {
    let (grpc, http) = (free_port(), free_port());
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .args(["--data-dir", &dir.join("var").to_string_lossy()])
        .args(["--database-url", url])
        .args(["--grpc-listen", &format!("127.0.0.1:{grpc}")])
        .args(["--http-listen", &format!("127.0.0.1:{http}")])
        .args(["--admin-password", ADMIN_PASSWORD])
        .arg("--no-sip")
        .env("HOTLINE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .arg("--no-agi");
    let mut child = cmd.spawn().expect("start hotline serve");
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
            && login(ch, "admin", ADMIN_PASSWORD).await.is_ok()
        {
            return (child, server);
        }
        assert!(
            Instant::now() < deadline,
            "hotline serve did not answer gRPC in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn login(ch: Channel, id: &str, password: &str) -> Result<String, tonic::Status> {
    let r = AgentServiceClient::new(ch)
        .login(LoginRequest {
            agent_id: id.into(),
            password: password.into(),
        })
        .await?;
    Ok(r.into_inner().token)
}

fn authed<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

async fn channel(server: &str) -> Channel {
    Channel::from_shared(server.to_string())
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

/// (ticket id, faulty number) of every acknowledged CreateTicket.
type Acked = Arc<Mutex<Vec<(i64, String)>>>;

async fn client(server: String, token: String, n: usize, acked: Acked) -> usize {
    let mut c = TicketServiceClient::new(channel(&server).await);
    let mut errors = 0;
    for i in 0.. {
        let number = format!("0207{n:02}{i:05}");
        let req = CreateTicketRequest {
            faulty_number: number.clone(),
            contact_number: "13800138000".into(),
            fault_type: "noise".into(),
            description: format!("crash test client {n} ticket {i}"),
            channel: "phone".into(),
            ..Default::default()
        };
        match c.create_ticket(authed(&token, req)).await {
            Ok(r) => {
                let t = r.into_inner().ticket.expect("a created ticket");
                acked.lock().unwrap().push((t.id, number));
            }
            // after the kill every call fails: stop at the first few errors
            Err(_) => {
                errors += 1;
                if errors >= 3 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    errors
}

async fn kill_mid_load_then_check(dir: &Path, url: &str) {
    let (mut serve, server) = start(dir, url).await;
    let admin = login(channel(&server).await, "admin", ADMIN_PASSWORD)
        .await
        .unwrap();
    AgentServiceClient::new(channel(&server).await)
        .create_agent(authed(
            &admin,
            CreateAgentRequest {
                agent_id: "j1".into(),
                name: "王小明".into(),
                role: "junior".into(),
                password: "junior-pw-1".into(),
            },
        ))
        .await
        .expect("create the junior");
    let token = login(channel(&server).await, "j1", "junior-pw-1")
        .await
        .unwrap();

    let acked: Acked = Arc::default();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(client(server.clone(), token.clone(), n, acked.clone())))
        .collect();
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < KILL_AT_ACKED && t0.elapsed() < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SIGKILL: no signal handler runs, nothing is flushed on the way out.
    serve.start_kill().expect("SIGKILL");
    let status = serve.wait().await.expect("wait for serve");
    assert!(!status.success(), "serve was killed, not stopped: {status}");
    for c in clients {
        c.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.len() >= 50,
        "the load acknowledged only {} tickets before the kill: the test checked too little",
        acked.len()
    );

    let (mut serve, server) = start(dir, url).await;
    let token = login(channel(&server).await, "j1", "junior-pw-1")
        .await
        .unwrap();
    let mut tickets = TicketServiceClient::new(channel(&server).await);
    for (id, number) in &acked {
        let t = tickets
            .get_ticket(authed(&token, GetTicketRequest { id: *id }))
            .await
            .unwrap_or_else(|e| panic!("acknowledged ticket {id} lost after SIGKILL: {e}"))
            .into_inner();
        assert_eq!(&t.faulty_number, number, "ticket {id}");
        assert!(
            !t.deadlines.is_empty(),
            "ticket {id} came back without its deadlines"
        );
        let history = tickets
            .get_ticket_history(authed(&token, GetTicketHistoryRequest { id: *id }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            history.events.iter().any(|e| e.after_status == "new"),
            "ticket {id} has no creation audit row: {:?}",
            history.events
        );
    }
    eprintln!(
        "{url}: {} acknowledged tickets before SIGKILL, all present after restart",
        acked.len()
    );
    serve.start_kill().unwrap();
    let _ = serve.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_tickets_survive_sigkill_mid_load() {
    let dir = hotline_testkit::temp_dir("crash");
    std::fs::create_dir_all(dir.join("var")).unwrap();
    let mut urls = vec![hotline_testkit::sqlite_url(&dir, "crash.db")];
    urls.extend(hotline_testkit::fresh_postgres().await);
    for url in &urls {
        let run = dir.join(format!(
            "run-{}",
            urls.iter().position(|u| u == url).unwrap()
        ));
        std::fs::create_dir_all(&run).unwrap();
        kill_mid_load_then_check(&run, url).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
