//! N connected desktops on `GET /events`; ticket changes are made through the desk and every
//! stream's `ticket` event is timed against the change's commit time (`updated_at`, the core's
//! system clock). Prints p50/p99/max over all streams and the first page load's size.
//!
//!   cargo bench -p hotline-web --bench sse_fanout -- [desktops] [changes]
//!
//! Defaults: 500 desktops, 20 changes.

use hotline_core::auth::Principal;
use hotline_domain::Role;
use hotline_domain::ticket::NewTicket;
use hotline_domain::workflow::Action;
use hotline_testkit::TestCore;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let desktops: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(500);
    let changes: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let core = TestCore::sqlite()
        .with_config(|c| c.http_extension = Some(hotline_web::extension()))
        .with_agent("j1", Role::Junior, "bench-pw-1")
        .start()
        .await;
    let base = format!("http://{}", core.http_addr);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = http
        .post(format!("{base}/login"))
        .form(&[("agent_id", "j1"), ("password", "bench-pw-1")])
        .send()
        .await
        .expect("login");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    // first load: login page, desk page, script, style
    let mut first = 0;
    for p in ["/login", "/desk", "/assets/app.js", "/assets/app.css"] {
        first += http
            .get(format!("{base}{p}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
    }

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<i64>();
    let mut ready = Vec::new();
    for _ in 0..desktops {
        let http = reqwest::Client::new();
        let url = format!("{base}/events");
        let cookie = cookie.clone();
        let tx = tx.clone();
        let (rtx, rrx) = tokio::sync::oneshot::channel::<()>();
        ready.push(rrx);
        tokio::spawn(async move {
            let mut r = http
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .expect("stream");
            let mut rtx = Some(rtx);
            let mut buf = String::new();
            while let Ok(Some(chunk)) = r.chunk().await {
                let at = now_ms();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let frame: String = buf.drain(..end + 2).collect();
                    if frame.contains("event: hello")
                        && let Some(t) = rtx.take()
                    {
                        let _ = t.send(());
                    }
                    if frame.contains("event: ticket") {
                        let data = frame
                            .lines()
                            .find_map(|l| l.strip_prefix("data: "))
                            .unwrap_or("");
                        let v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
                        if let Some(u) = v["ticket"]["updated_at"].as_i64() {
                            let _ = tx.send(at - u);
                        }
                    }
                }
            }
        });
    }
    for r in ready {
        r.await.expect("stream ready");
    }
    drop(tx);
    eprintln!("{desktops} desktops connected");

    let who = Principal {
        agent_id: "j1".into(),
        role: Role::Junior,
    };
    for i in 0..changes {
        let t = core
            .desk
            .create_ticket(
                &who,
                NewTicket {
                    faulty_number: format!("0106655{:04}", i),
                    fault_type: "noise".into(),
                    description: "bench".into(),
                    channel: "phone".into(),
                    ..Default::default()
                },
            )
            .await
            .expect("ticket");
        core.desk
            .act(
                &who,
                t.ticket.id,
                Action::Dispatch {
                    note: String::new(),
                },
            )
            .await
            .expect("dispatch");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut lat = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while lat.len() < desktops * changes {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ms)) => lat.push(ms),
            _ => break,
        }
    }
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "desktops={desktops} changes={changes} received={}/{} p50={}ms p99={}ms max={}ms first_load={}B",
        lat.len(),
        desktops * changes,
        q(0.5),
        q(0.99),
        lat.last().copied().unwrap_or(0),
        first
    );
    core.shutdown().await;
    std::process::exit(0);
}
