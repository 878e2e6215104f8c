//! The web desktop in a real Chromium (Debian `chromium` + `chromium-driver`, headless, through
//! WebDriver with fantoccini): a junior logs in, goes available, gets a call offered by the
//! core's queue (screen pop within 1 s), files and dispatches a ticket (a `<script>` in the
//! description stays text), keeps a half-typed form across a lost session; a senior in a
//! second browser approves it and the junior's page updates live; an extractor claims and
//! plays a voicemail; the surveyor records a callback from the worklist; the clerk enters a
//! faxed letter; the supervisor's
//! wallboard shows the queue.
//!
//! `HOTLINE_SCREENSHOTS=1` saves the main views to `docs/screenshots/*.png`.

mod support;

use fantoccini::{Client, ClientBuilder, Locator};
use hotline_core::desk::queue::Caller;
use hotline_testkit::{Peer, TestCore, require_peer};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{PW, base, desktop, voicemail};

struct Driver {
    child: tokio::process::Child,
    url: String,
    profiles: Vec<hotline_testkit::ScratchDir>,
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles: Vec::new(),
        }
    }

    /// A new headless browser with a fresh profile.
    async fn browser(&mut self) -> Client {
        let profile = hotline_testkit::ScratchDir::new("chromium");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--autoplay-policy=no-user-gesture-required",
                    "--lang=zh-CN", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        self.profiles.push(profile);
        let c = ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session");
        c.set_window_size(1400, 1000).await.expect("window size");
        c
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Polls a JavaScript expression until it is truthy; returns its value.
async fn until(c: &Client, expr: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let v = c
            .execute(&format!("return ({expr});"), vec![])
            .await
            .unwrap_or(Value::Null);
        let truthy =
            !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
        if truthy {
            return v;
        }
        if Instant::now() > deadline {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let flash = c
                .execute(
                    "return (document.getElementById('flash')||{}).textContent || ''",
                    vec![],
                )
                .await
                .unwrap_or(Value::Null);
            panic!("timed out waiting for `{expr}` on {url} (flash: {flash})");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect(script)
}

async fn login(c: &Client, base: &str, id: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    c.find(Locator::Id("agent_id"))
        .await
        .unwrap()
        .send_keys(id)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PW)
        .await
        .unwrap();
    c.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(c, "document.body.dataset.agent", Duration::from_secs(10)).await;
}

async fn shot(c: &Client, name: &str) {
    if std::env::var("HOTLINE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

async fn type_into(c: &Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui7_desk_review_and_voicemail_in_a_real_chromium() {
    if !require_peer(Peer::Chromium) {
        return;
    }
    let core = desktop(TestCore::sqlite())
        .with_config(|c| {
            // the surveyor may call at any hour of the test
            c.surveys.calling_from = hotline_domain::survey::TimeOfDay::new(0, 0).unwrap();
            c.surveys.calling_until = hotline_domain::survey::TimeOfDay::new(24, 0).unwrap();
        })
        .start()
        .await;
    let base = base(&core);
    let vm = voicemail(&core, "browser-vm-1").await;
    let mut driver = Driver::start().await;

    // ---- the junior ----
    let j = driver.browser().await;
    j.goto(&format!("{base}/")).await.unwrap();
    until(
        &j,
        "document.getElementById('login')",
        Duration::from_secs(10),
    )
    .await;
    shot(&j, "login").await;
    login(&j, &base, "j1").await;
    until(
        &j,
        "location.pathname === '/desk' && document.getElementById('conn').textContent === '实时'",
        Duration::from_secs(10),
    )
    .await;
    j.find(Locator::Id("p-available"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &j,
        "document.getElementById('presence').textContent === '示闲'",
        Duration::from_secs(5),
    )
    .await;

    // a call offered by the core's queue pops up within a second
    let info = core
        .desk
        .screen_pop(Caller {
            call_id: "browser-call-1".into(),
            caller_number: "13800138000".into(),
            faulty_number: "01066554433".into(),
            senior: false,
            reason: "caller_pressed_0".into(),
        })
        .await
        .unwrap();
    let t0 = Instant::now();
    let _call = core.acd.join(info).expect("queued");
    until(&j, "!document.getElementById('pop').hidden && document.getElementById('pop-caller').textContent === '13800138000'", Duration::from_secs(1)).await;
    let pop = t0.elapsed();
    assert!(pop < Duration::from_secs(1), "screen pop after {pop:?}");
    eprintln!("screen pop {pop:?} after the offer");
    // the softphone answers: the form is filled from the call
    core.acd
        .report_offer("browser-call-1", "j1", true)
        .expect("answered");
    until(&j, "document.getElementById('f-faulty').value === '01066554433' && document.getElementById('f-contact').value === '13800138000'", Duration::from_secs(2)).await;

    j.find(Locator::Id("f-fault"))
        .await
        .unwrap()
        .select_by_value("noise")
        .await
        .unwrap();
    until(
        &j,
        "document.getElementById('f-limit').textContent.indexOf('小时') > 0",
        Duration::from_secs(2),
    )
    .await;
    let evil =
        "<script>window.__pwned=1</script><b>粗体</b><img src=x onerror=\"window.__pwned=2\">";
    type_into(&j, "f-desc", evil).await;
    type_into(&j, "f-name", "王先生").await;
    shot(&j, "desk").await;
    j.find(Locator::Id("f-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &j,
        "!document.getElementById('ticket').hidden && document.getElementById('t-id').textContent",
        Duration::from_secs(5),
    )
    .await;
    let id: i64 = js(
        &j,
        "return document.getElementById('t-id').textContent.slice(1)",
    )
    .await
    .as_str()
    .unwrap()
    .parse()
    .unwrap();
    // the description is shown as text: no element was made from it and nothing ran
    assert_eq!(
        js(&j, "return document.getElementById('t-desc').textContent").await,
        json!(evil)
    );
    assert_eq!(
        js(
            &j,
            "return document.querySelectorAll('#t-desc *, #recent img, #pop-recent img').length"
        )
        .await,
        json!(0)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        js(&j, "return typeof window.__pwned").await,
        json!("undefined")
    );

    // dispatch: a junior's order waits for the senior's review
    type_into(&j, "t-note", "请尽快派单").await;
    j.find(Locator::Id("a-dispatch"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &j,
        "document.getElementById('t-status').textContent === '待二次审核'",
        Duration::from_secs(5),
    )
    .await;
    shot(&j, "ticket").await;

    // ---- the senior, in a second browser ----
    let s = driver.browser().await;
    login(&s, &base, "s1").await;
    s.goto(&format!("{base}/review")).await.unwrap();
    let item = format!("document.querySelector('.review-item[data-id=\"{id}\"]')");
    until(&s, &item, Duration::from_secs(5)).await;
    assert_eq!(
        js(
            &s,
            &format!("return {item}.querySelector('.desc').textContent")
        )
        .await,
        json!(evil)
    );
    shot(&s, "review").await;
    s.find(Locator::Css(".review-note"))
        .await
        .unwrap()
        .send_keys("同意派单")
        .await
        .unwrap();
    s.find(Locator::Css(".approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(&s, &format!("!{item}"), Duration::from_secs(5)).await;
    // the junior's page follows by itself (live ticket change)
    until(
        &j,
        "document.getElementById('t-status').textContent === '已派单'",
        Duration::from_secs(3),
    )
    .await;

    // ---- an expired session keeps the half-typed form ----
    type_into(&j, "f-faulty", "01012345678").await;
    type_into(&j, "f-desc", "未提交的内容").await;
    j.delete_all_cookies().await.unwrap();
    j.find(Locator::Id("p-not_ready"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(&j, "location.pathname === '/login'", Duration::from_secs(5)).await;
    type_into(&j, "agent_id", "j1").await;
    type_into(&j, "password", PW).await;
    j.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(&j, "location.pathname === '/desk' && document.getElementById('f-faulty').value === '01012345678'", Duration::from_secs(5)).await;
    assert_eq!(
        js(&j, "return document.getElementById('f-desc').value").await,
        json!("未提交的内容")
    );

    // ---- the extractor plays a voicemail ----
    s.find(Locator::Id("logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(&s, "location.pathname === '/login'", Duration::from_secs(5)).await;
    login(&s, &base, "x1").await;
    until(
        &s,
        "location.pathname === '/voicemail'",
        Duration::from_secs(5),
    )
    .await;
    let row = format!("document.querySelector('.vm[data-id=\"{vm}\"]')");
    until(
        &s,
        &format!("{row} && {row}.querySelector('.claim')"),
        Duration::from_secs(5),
    )
    .await;
    s.find(Locator::Css(".claim"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &s,
        &format!("{row} && {row}.querySelector('audio')"),
        Duration::from_secs(5),
    )
    .await;
    js(
        &s,
        &format!("{row}.querySelector('audio').play(); return 1"),
    )
    .await;
    let played = until(
        &s,
        &format!("(function(a){{ return a.currentTime > 0.3 || a.ended ? [a.duration, a.error === null] : null; }})({row}.querySelector('audio'))"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(played[1], json!(true), "{played}");
    assert!(
        (played[0].as_f64().unwrap() - 1.0).abs() < 0.05,
        "a one-second WAV: {played}"
    );
    shot(&s, "voicemail").await;

    // ---- the surveyor records a callback (SS2) ----
    let admin = hotline_core::auth::Principal {
        agent_id: "a1".into(),
        role: hotline_domain::Role::Admin,
    };
    let id = core
        .core
        .desk
        .create_ticket(
            &admin,
            hotline_domain::ticket::NewTicket {
                faulty_number: "01061110009".into(),
                contact_number: "13800138009".into(),
                fault_type: "noise".into(),
                channel: "phone".into(),
                description: "回访测试".into(),
                ..Default::default()
            },
        )
        .await
        .expect("ticket")
        .ticket
        .id;
    for action in [
        hotline_domain::Action::Dispatch {
            note: "派修".into(),
        },
        hotline_domain::Action::Clear {
            note: "已修复".into(),
        },
    ] {
        core.core.desk.act(&admin, id, action).await.expect("act");
    }
    let v = driver.browser().await;
    login(&v, &base, "v1").await;
    let button =
        format!("document.querySelector('#sv-work li[data-ticket=\"{id}\"] .sv-satisfied')");
    until(
        &v,
        &format!("location.pathname === '/surveys' && {button} && !{button}.disabled"),
        Duration::from_secs(10),
    )
    .await;
    shot(&v, "surveys").await;
    js(&v, &format!("{button}.click(); return 1")).await;
    until(
        &v,
        &format!("!document.querySelector('#sv-work li[data-ticket=\"{id}\"]') && document.getElementById('flash').textContent.indexOf('回访已记录') >= 0"),
        Duration::from_secs(10),
    )
    .await;
    let results = core.core.desk.store.survey_results(id).await.unwrap();
    assert_eq!(results.len(), 1, "one callback recorded from the browser");
    assert_eq!(results[0].satisfaction.as_str(), "satisfied");
    assert_eq!(results[0].recorded_by, "v1");

    // ---- the clerk enters a faxed letter (TE1) ----
    let cfg = hotline_core::desk::intake::IntakeConfig {
        documents_dir: core.intake_dir.clone(),
        max_upload_bytes: 1 << 20,
        retention_days: 0,
    };
    let clerk = hotline_core::auth::Principal {
        agent_id: "t1".into(),
        role: hotline_domain::Role::TextEntry,
    };
    let intake = core.core.desk.intake(core.core.docs.as_ref(), &cfg);
    let mut up = intake
        .begin_upload(
            &clerk,
            hotline_core::desk::intake::UploadForm {
                file_name: "fax.txt".into(),
                channel: "fax".into(),
                received_at: None,
                sender: "朝阳营业厅".into(),
                subject: "<img src=x onerror=alert(1)> 报修".into(),
            },
        )
        .await
        .unwrap();
    up.push("01061234567 无拨号音".as_bytes()).await.unwrap();
    let doc = up.finish().await.unwrap().0.id;
    let t = driver.browser().await;
    login(&t, &base, "t1").await;
    let row = format!("document.querySelector('#in-list li[data-id=\"{doc}\"]')");
    until(
        &t,
        &format!("location.pathname === '/intake' && {row} && {row}.querySelector('.countdown').textContent.indexOf('剩余') === 0"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        js(&t, &format!("return {row}.querySelectorAll('img').length")).await,
        json!(0),
        "the subject is text, not markup"
    );
    shot(&t, "intake").await;
    js(
        &t,
        &format!("var r = {row}; r.querySelector('.in-number').value = '01061234567'; r.querySelector('.in-enter').click(); return 1"),
    )
    .await;
    until(
        &t,
        &format!(
            "!{row} && document.getElementById('flash').textContent.indexOf('已录入工单') >= 0"
        ),
        Duration::from_secs(10),
    )
    .await;
    let entered = intake.get(doc).await.unwrap();
    let ticket = entered
        .ticket_id
        .expect("the document is linked to its ticket");
    assert_eq!(
        core.core
            .desk
            .get(ticket)
            .await
            .unwrap()
            .ticket
            .faulty_number
            .as_str(),
        "01061234567"
    );

    // ---- the supervisor's wallboard ----
    let w = driver.browser().await;
    login(&w, &base, "a1").await;
    w.goto(&format!("{base}/wallboard")).await.unwrap();
    until(&w, "document.getElementById('w-waiting').textContent !== '—' && document.getElementById('w-agents').children.length > 0", Duration::from_secs(6)).await;
    shot(&w, "wallboard").await;

    for c in [j, s, w, v, t] {
        c.close().await.unwrap();
    }
    drop(driver);
    core.shutdown().await;
}
