//! The web desktop over HTTP, on SQLite and PostgreSQL: log-in and the session cookie, CSRF,
//! the permission matrix, idempotent double submits, stale versions, session expiry, voicemail
//! audio with range requests, the live event stream, the first page's weight.

mod support;

use hotline_core::clock::ManualClock;
use hotline_domain::Timestamp;
use hotline_testkit::{StartedCore, TestCore};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, redirect};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::{PW, base, desktop, voicemail};

fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("client")
}

/// A logged-in browser: its cookie and the CSRF token read from a page.
struct Browser {
    http: Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn login(core: &StartedCore, id: &str) -> Browser {
        let http = client();
        let base = base(core);
        let r = http
            .post(format!("{base}/login"))
            .form(&[("agent_id", id), ("password", PW), ("next", "/")])
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "login of {id}");
        let set = r
            .headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .to_string();
        let cookie = set.split(';').next().unwrap().to_string();
        let mut b = Browser {
            http,
            base,
            cookie,
            csrf: String::new(),
        };
        let page = b.get("/soon/kb").await.text().await.unwrap();
        let marker = "name=\"csrf\" content=\"";
        let at = page.find(marker).expect("csrf meta") + marker.len();
        b.csrf = page[at..at + 64].to_string();
        b
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_str(&self.cookie).unwrap());
        h
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .headers(self.headers())
            .send()
            .await
            .expect("GET")
    }

    async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value, key: Option<&str>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .headers(self.headers())
            .header("x-csrf-token", &self.csrf)
            .json(&body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.expect("POST");
        let code = r.status();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    async fn new_ticket(&self, description: &str) -> Value {
        let (code, t) = self
            .post(
                "/api/tickets",
                json!({
                    "faulty_number": "01066554433",
                    "contact_number": "13800138000",
                    "customer_name": "王先生",
                    "customer_class": "ordinary",
                    "fault_type": "no_dial_tone",
                    "description": description,
                }),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "create: {t}");
        t
    }
}

async fn each_backend(tag: &str) -> Vec<StartedCore> {
    let mut out = Vec::new();
    for c in TestCore::backends(tag).await {
        out.push(desktop(c).start().await);
    }
    out
}

#[tokio::test]
async fn ui1_login_sets_an_httponly_samesite_strict_cookie_and_pages_need_it() {
    for core in each_backend("web-login").await {
        let http = client();
        let base = base(&core);
        let r = http.get(format!("{base}/desk")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/login?next=/desk");
        let r = http.get(format!("{base}/api/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        let r = http
            .post(format!("{base}/login"))
            .form(&[("agent_id", "j1"), ("password", "wrong")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get("set-cookie").is_none());
        assert!(r.text().await.unwrap().contains("工号或密码错误"));

        let r = http
            .post(format!("{base}/login"))
            .form(&[("agent_id", "j1"), ("password", PW), ("next", "/desk")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/desk");
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("hl_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");

        // an off-site `next` is not followed
        let r = http
            .post(format!("{base}/login"))
            .form(&[
                ("agent_id", "j1"),
                ("password", PW),
                ("next", "//evil.example/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/");

        // each role lands on its own first view
        for (id, home) in [
            ("j1", "/desk"),
            ("s1", "/desk"),
            ("x1", "/voicemail"),
            ("v1", "/surveys"),
            ("t1", "/intake"),
        ] {
            let b = Browser::login(&core, id).await;
            let r = b.get("/").await;
            assert_eq!(r.headers()["location"], home, "{id}");
        }

        // logout ends the session: the cookie no longer opens anything
        let b = Browser::login(&core, "j1").await;
        let r = b
            .http
            .post(format!("{}/logout", b.base))
            .headers(b.headers())
            .form(&[("csrf", b.csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(b.get("/api/me").await.status(), StatusCode::UNAUTHORIZED);
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ui2_a_forged_cross_site_post_is_refused() {
    for core in each_backend("web-csrf").await {
        let b = Browser::login(&core, "j1").await;
        let body =
            json!({"faulty_number": "01066554433", "fault_type": "noise", "description": "伪造"});
        // no token (what a form on another site can send with the cookie)
        let r = b
            .http
            .post(format!("{}/api/tickets", b.base))
            .headers(b.headers())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "csrf");
        // a wrong token
        let r = b
            .http
            .post(format!("{}/api/tickets", b.base))
            .headers(b.headers())
            .header("x-csrf-token", "0".repeat(64))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // the right token but sent from another origin
        for (h, v) in [
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let r = b
                .http
                .post(format!("{}/api/tickets", b.base))
                .headers(b.headers())
                .header("x-csrf-token", &b.csrf)
                .header(h, v)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{h}: {v}");
        }
        // a cross-site log-in form and a logout without the token are refused too
        let r = b
            .http
            .post(format!("{}/login", b.base))
            .header("origin", "http://evil.example")
            .form(&[("agent_id", "j1"), ("password", PW)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = b
            .http
            .post(format!("{}/logout", b.base))
            .headers(b.headers())
            .form(&[("csrf", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // nothing was created and the session still works
        let list = b.get_json("/api/tickets?limit=10").await;
        assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ui3_pages_and_actions_follow_the_permission_matrix() {
    for core in each_backend("web-perm").await {
        let j = Browser::login(&core, "j1").await;
        let x = Browser::login(&core, "x1").await;
        let v = Browser::login(&core, "v1").await;
        let t = j.new_ticket("无音").await;
        let id = t["id"].as_i64().unwrap();
        // a junior has no review queue and no voicemail
        let r = j.get("/review").await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.unwrap().contains("ReviewOrder"));
        assert_eq!(
            j.get("/api/voicemails").await.status(),
            StatusCode::FORBIDDEN
        );
        // an extractor may not review, a surveyor may not take calls
        let (code, e) = x
            .post(
                &format!("/api/tickets/{id}/review"),
                json!({"order_id": 1, "approve": true}),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(e["error"], "denied");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("hotline.v1.TicketService/ReviewOrder"),
            "{e}"
        );
        assert_eq!(v.get("/desk").await.status(), StatusCode::FORBIDDEN);
        let (code, _) = v
            .post("/api/presence", json!({"presence": "available"}), None)
            .await;
        assert_eq!(
            code,
            StatusCode::OK,
            "the matrix lets every desk role set presence"
        );
        // a surveyor sees no contact number outside its worklist (row rule)
        let seen = v.get_json(&format!("/api/tickets/{id}")).await;
        assert_eq!(seen["contact_number"], "", "{seen}");
        assert_eq!(
            j.get_json(&format!("/api/tickets/{id}")).await["contact_number"],
            "13800138000"
        );
        // navigation: built views by the matrix, the back office marked not yet available
        let page = j.get("/desk").await.text().await.unwrap();
        assert!(page.contains("href=\"/desk\""));
        assert!(!page.contains("href=\"/review\""));
        let page = x.get("/voicemail").await.text().await.unwrap();
        assert!(!page.contains("href=\"/desk\""));
        let page = v.get("/surveys").await.text().await.unwrap();
        assert!(page.contains("回访工作单") && page.contains("href=\"/surveys\""));
        let page = v.get("/soon/kb").await.text().await.unwrap();
        assert!(page.contains("尚未开放"));
        core.shutdown().await;
    }
}

#[tokio::test]
async fn jo3_a_double_submitted_dispatch_dispatches_once_and_a_stale_version_shows_the_newer_ticket()
 {
    for core in each_backend("web-idem").await {
        let j = Browser::login(&core, "j1").await;
        let t = j.new_ticket("杂音很大").await;
        let id = t["id"].as_i64().unwrap();
        let version = t["version"].as_i64().unwrap();
        let body = json!({"action": "dispatch", "note": "请派单", "version": version});
        let path = format!("/api/tickets/{id}/act");
        // a double click: two requests with one key, at once
        let (a, b) = tokio::join!(
            j.post(&path, body.clone(), Some("key-1")),
            j.post(&path, body.clone(), Some("key-1"))
        );
        assert_eq!(a.0, StatusCode::OK, "{}", a.1);
        assert_eq!(a, b, "the repeat gets the first answer");
        let after = j.get_json(&format!("/api/tickets/{id}")).await;
        assert_eq!(after["orders"].as_array().unwrap().len(), 1, "{after}");
        assert_eq!(after["status"], "awaiting_review");
        let dispatches = after["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["action"] == "dispatch")
            .count();
        assert_eq!(dispatches, 1, "{after}");
        // the same form submitted again (new key, the old version): stale, with the newer ticket
        let (code, e) = j.post(&path, body, Some("key-2")).await;
        assert_eq!(code, StatusCode::CONFLICT);
        assert_eq!(e["error"], "stale");
        assert_eq!(e["ticket"]["status"], "awaiting_review");
        assert!(e["ticket"]["version"].as_i64().unwrap() > version);
        assert_eq!(
            j.get_json(&format!("/api/tickets/{id}")).await["orders"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // the senior approves (second review)
        let s = Browser::login(&core, "s1").await;
        let queue = s.get_json("/api/review").await;
        let item = &queue.as_array().unwrap()[0];
        assert_eq!(item["id"], id);
        let order = item["orders"][0]["id"].as_i64().unwrap();
        let (code, done) = s
            .post(
                &format!("/api/tickets/{id}/review"),
                json!({"order_id": order, "approve": true, "note": "同意", "version": item["version"]}),
                Some("r-1"),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{done}");
        assert_eq!(done["status"], "dispatched");
        assert_eq!(s.get_json("/api/review").await.as_array().unwrap().len(), 0);
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ui4_an_expired_session_goes_back_to_login() {
    let clock = ManualClock::new(Timestamp(1_780_000_000_000));
    let core = desktop(TestCore::sqlite().with_clock(Arc::new(clock.clone())))
        .start()
        .await;
    let j = Browser::login(&core, "j1").await;
    assert_eq!(j.get("/api/me").await.status(), StatusCode::OK);
    clock.advance_ms(13 * 3_600_000);
    let r = j.get("/api/me").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "expired");
    let r = j.get("/desk").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?next=/desk&expired=1");
    let page = client()
        .get(format!("{}/login?next=/desk&expired=1", j.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("登录已过期"));
    let (code, e) = j
        .post("/api/presence", json!({"presence": "available"}), None)
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{e}");
    core.shutdown().await;
}

#[tokio::test]
async fn re1_voicemail_audio_is_served_with_range_requests_after_a_claim() {
    for core in each_backend("web-vm").await {
        let id = voicemail(&core, "vm-call-1").await;
        let x = Browser::login(&core, "x1").await;
        let list = x.get_json("/api/voicemails").await;
        assert_eq!(list[0]["id"], id);
        assert_eq!(list[0]["state"], "new");
        let audio = format!("/voicemails/{id}/audio");
        assert_eq!(
            x.get(&audio).await.status(),
            StatusCode::CONFLICT,
            "claim first"
        );
        let (code, v) = x
            .post(
                &format!("/api/voicemails/{id}/claim"),
                json!({}),
                Some("c1"),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{v}");
        assert_eq!(v["state"], "claimed");
        let whole = x.get(&audio).await;
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(whole.headers()["accept-ranges"], "bytes");
        assert_eq!(whole.headers()["content-type"], "audio/wav");
        let bytes = whole.bytes().await.unwrap();
        assert_eq!(&bytes[..4], b"RIFF");
        let len = bytes.len();
        let range = |r: &'static str| {
            let x = &x;
            let audio = audio.clone();
            async move {
                x.http
                    .get(format!("{}{audio}", x.base))
                    .headers(x.headers())
                    .header("range", r)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let r = range("bytes=0-99").await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes 0-99/{len}").as_str()
        );
        assert_eq!(r.bytes().await.unwrap(), bytes[..100]);
        let r = range("bytes=-10").await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.bytes().await.unwrap(), bytes[len - 10..]);
        let r = range("bytes=100-").await;
        assert_eq!(r.bytes().await.unwrap(), bytes[100..]);
        let r = range("bytes=999999-").await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes */{len}").as_str()
        );
        // a junior may not fetch voicemail audio at all
        let j = Browser::login(&core, "j1").await;
        assert_eq!(j.get(&audio).await.status(), StatusCode::FORBIDDEN);
        // convert it into a ticket
        let (code, r) = x
            .post(
                &format!("/api/voicemails/{id}/convert"),
                json!({"fault_type": "noise", "description": "留言说有杂音"}),
                Some("cv1"),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{r}");
        let t = x
            .get_json(&format!("/api/tickets/{}", r["ticket_id"]))
            .await;
        assert_eq!(t["channel"], "voicemail");
        assert_eq!(t["faulty_number"], "02155556666");
        core.shutdown().await;
    }
}

/// Reads SSE frames until one named `name` arrives (or the time runs out).
async fn next_event(r: &mut reqwest::Response, buf: &mut String, name: &str) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut ev = "";
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    ev = e;
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if ev == name {
                return serde_json::from_str(&data).ok();
            }
        }
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .ok()?
            .ok()??;
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn so8_the_event_stream_carries_review_requests_to_seniors_only() {
    for core in each_backend("web-sse").await {
        let j = Browser::login(&core, "j1").await;
        let s = Browser::login(&core, "s1").await;
        let x = Browser::login(&core, "x1").await;
        let mut ss = s.get("/events").await;
        assert_eq!(ss.status(), StatusCode::OK);
        assert_eq!(ss.headers()["content-type"], "text/event-stream");
        let mut xs = x.get("/events").await;
        let (mut sb, mut xb) = (String::new(), String::new());
        assert!(next_event(&mut ss, &mut sb, "hello").await.is_some());
        assert!(next_event(&mut xs, &mut xb, "hello").await.is_some());
        let t = j.new_ticket("<script>alert(1)</script>").await;
        let id = t["id"].as_i64().unwrap();
        let (code, _) = j
            .post(
                &format!("/api/tickets/{id}/act"),
                json!({"action": "dispatch", "note": ""}),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK);
        let review = next_event(&mut ss, &mut sb, "review")
            .await
            .expect("a review request");
        assert_eq!(review["ticket"]["id"], id);
        assert_eq!(review["ticket"]["description"], "<script>alert(1)</script>");
        // the extractor's stream sees the ticket change but never the review request
        let change = next_event(&mut xs, &mut xb, "ticket")
            .await
            .expect("a ticket change");
        assert_eq!(change["ticket"]["id"], id);
        assert!(!xb.contains("event: review"));
        // an unauthenticated stream is refused
        let r = client()
            .get(format!("{}/events", j.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        core.shutdown().await;
    }
}

#[tokio::test]
async fn ui5_the_first_page_load_is_under_300_kib() {
    let core = desktop(TestCore::sqlite()).start().await;
    let j = Browser::login(&core, "j1").await;
    let page = j.get("/desk").await.bytes().await.unwrap();
    let html = String::from_utf8_lossy(&page).to_string();
    let mut total = page.len();
    for asset in ["/assets/app.js", "/assets/app.css"] {
        assert!(html.contains(asset), "{asset} is linked");
        total += j.get(asset).await.bytes().await.unwrap().len();
    }
    let login = client()
        .get(format!("{}/login", j.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    total += login.len();
    assert!(total <= 300 * 1024, "first load is {total} bytes");
    eprintln!("first load (login page, desk page, script, style): {total} bytes");
    core.shutdown().await;
}

#[test]
fn ui6_escaping_and_ranges() {
    use hotline_web::api::byte_range;
    use hotline_web::pages::{boot, esc};
    assert_eq!(
        esc("<script>\"x\"&'y'</script>"),
        "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
    );
    let b = boot(&json!({"d": "</script><script>alert(1)</script>"}));
    assert!(!b.contains("</script>"), "{b}");
    assert_eq!(
        serde_json::from_str::<Value>(&b).unwrap()["d"],
        "</script><script>alert(1)</script>"
    );
    assert_eq!(byte_range(None, 10), Ok(None));
    assert_eq!(byte_range(Some("bytes=2-4"), 10), Ok(Some((2, 4))));
    assert_eq!(byte_range(Some("bytes=8-"), 10), Ok(Some((8, 9))));
    assert_eq!(byte_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
    assert_eq!(byte_range(Some("bytes=5-100"), 10), Ok(Some((5, 9))));
    assert_eq!(
        byte_range(Some("bytes=10-"), 10),
        Err(hotline_web::api::Unsatisfiable)
    );
    assert_eq!(
        byte_range(Some("bytes=4-2"), 10),
        Err(hotline_web::api::Unsatisfiable)
    );
    assert_eq!(
        byte_range(Some("bytes=x-"), 10),
        Err(hotline_web::api::Unsatisfiable)
    );
    assert_eq!(
        byte_range(Some("bytes=-0"), 10),
        Err(hotline_web::api::Unsatisfiable)
    );
}

/// The surveyor's view (SS2 over HTTP): the cleared ticket is on the worklist with the number
/// to call; a callback is recorded once (the second is 409), an unknown list is named, other
/// roles are refused by the matrix.
#[tokio::test]
async fn ss2_surveyor_records_a_callback_from_the_worklist_once() {
    for tc in TestCore::backends("web-surveys").await {
        let core = desktop(tc)
            .with_config(|c| {
                // any hour of the day is calling hours here
                c.surveys.calling_from = hotline_domain::survey::TimeOfDay::new(0, 0).unwrap();
                c.surveys.calling_until = hotline_domain::survey::TimeOfDay::new(24, 0).unwrap();
            })
            .start()
            .await;
        // a ticket registered by a senior, dispatched and cleared (回单) at the desk
        let sen = Browser::login(&core, "s1").await;
        let id = sen.new_ticket("杂音").await["id"].as_i64().unwrap();
        let admin = hotline_core::auth::Principal {
            agent_id: "a1".into(),
            role: hotline_domain::Role::Admin,
        };
        for action in [
            hotline_domain::Action::Dispatch {
                note: "派修".into(),
            },
            hotline_domain::Action::Clear {
                note: "已修复".into(),
            },
        ] {
            core.core.desk.act(&admin, id, action).await.unwrap();
        }
        let v = Browser::login(&core, "v1").await;
        let work = v.get_json("/api/surveys?list=cleared").await;
        let e = work
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["ticket_id"] == id)
            .unwrap_or_else(|| panic!("the cleared ticket is on the list: {work}"));
        assert_eq!(e["contact_number"], "13800138000");
        assert_eq!(e["callable_now"], true);
        let path = format!("/api/surveys/{id}/callback");
        let body = json!({"outcome": "reached", "satisfaction": "satisfied", "comment": "很满意"});
        let (code, r) = v.post(&path, body.clone(), None).await;
        assert_eq!(code, StatusCode::OK, "{r}");
        assert_eq!(
            (r["attempt"].as_i64(), r["next"].as_str()),
            (Some(1), Some("done"))
        );
        let (code, r) = v.post(&path, body, None).await;
        assert_eq!(code, StatusCode::CONFLICT, "recorded once: {r}");
        let results = core.core.desk.store.survey_results(id).await.unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(
            (results[0].channel.as_str(), results[0].recorded_by.as_str()),
            ("person", "v1")
        );
        let work = v.get_json("/api/surveys?list=cleared").await;
        assert!(
            !work
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["ticket_id"] == id),
            "done surveys leave the list: {work}"
        );
        // bad input is named; other roles are refused
        let r = v.get("/api/surveys?list=weekly").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("list"));
        let (code, r) = v
            .post(
                &path,
                json!({"outcome": "reached", "satisfaction": "great"}),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{r}");
        let j = Browser::login(&core, "j1").await;
        assert_eq!(j.get("/api/surveys").await.status(), StatusCode::FORBIDDEN);
        assert_eq!(j.get("/surveys").await.status(), StatusCode::FORBIDDEN);
        core.shutdown().await;
    }
}

/// The clerk's inbox (TE1, TE4 over HTTP): a faxed letter is listed with the time left of its
/// two hours; entering it makes a ticket received at the document's time; a second one is
/// passed to the seniors and shows in a senior's inbox; the original downloads as an
/// attachment, never as a page; bad input is named, other roles refused.
#[tokio::test]
async fn te1_clerk_enters_a_document_and_passes_another_to_a_senior() {
    for core in each_backend("web-intake").await {
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
        let received = core.core.desk.clock.now().plus_ms(-30 * 60 * 1000);
        let mut ids = Vec::new();
        for (name, text) in [
            (
                "fax-1.txt",
                "<script>alert(1)</script> 01061234567 电话无拨号音",
            ),
            ("fax-2.txt", "看不清的传真"),
        ] {
            let mut up = intake
                .begin_upload(
                    &clerk,
                    hotline_core::desk::intake::UploadForm {
                        file_name: name.into(),
                        channel: "fax".into(),
                        received_at: Some(received),
                        sender: "朝阳营业厅".into(),
                        subject: String::new(),
                    },
                )
                .await
                .unwrap();
            up.push(text.as_bytes()).await.unwrap();
            ids.push(up.finish().await.unwrap().0.id);
        }
        let t = Browser::login(&core, "t1").await;
        let inbox = t.get_json("/api/intake").await;
        let items = inbox.as_array().unwrap();
        assert_eq!(items.len(), 2, "{inbox}");
        let left = items[0]["time_left_ms"].as_i64().unwrap();
        assert!(
            (85 * 60_000..=90 * 60_000).contains(&left),
            "received 30 min ago: about 90 min of the two hours left, got {left} ms"
        );
        let (code, r) = t
            .post(
                &format!("/api/intake/{}/enter", ids[0]),
                json!({"faulty_number": "01061234567", "fault_type": "no_dial_tone"}),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{r}");
        let ticket = r["ticket_id"].as_i64().unwrap();
        let view = core.core.desk.get(ticket).await.unwrap();
        assert_eq!(
            view.ticket.received_at, received,
            "the document's time, not now"
        );
        assert_eq!(view.ticket.channel.as_str(), "fax");
        let (code, r) = t
            .post(
                &format!("/api/intake/{}/enter", ids[0]),
                json!({"faulty_number": "01061234567", "fault_type": "no_dial_tone"}),
                None,
            )
            .await;
        assert_ne!(code, StatusCode::OK, "entered once: {r}");
        // bad input is named
        let (code, r) = t
            .post(
                &format!("/api/intake/{}/enter", ids[1]),
                json!({"faulty_number": "abc", "fault_type": "no_dial_tone"}),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{r}");
        assert!(r.to_string().contains("faulty_number"), "{r}");
        let (code, r) = t
            .post(
                &format!("/api/intake/{}/pass", ids[1]),
                json!({"reason": "字迹不清"}),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{r}");
        assert!(
            t.get_json("/api/intake")
                .await
                .as_array()
                .unwrap()
                .is_empty()
        );
        let s = Browser::login(&core, "s1").await;
        let theirs = s.get_json("/api/intake").await;
        assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
        assert_eq!(theirs[0]["pass_reason"], "字迹不清");
        // the original is a download, never rendered
        let r = t.get(&format!("/intake/{}/original", ids[0])).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        assert!(r.text().await.unwrap().contains("<script>"));
        // the page lists it; other roles are refused
        let page = t.get("/intake").await.text().await.unwrap();
        assert!(page.contains("文字受理") && page.contains("href=\"/intake\""));
        let v = Browser::login(&core, "v1").await;
        assert_eq!(v.get("/api/intake").await.status(), StatusCode::FORBIDDEN);
        core.shutdown().await;
    }
}
