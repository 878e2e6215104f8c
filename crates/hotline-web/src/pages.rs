//! The HTML of each view. Every text that comes from data goes through [`esc`]; data the
//! script needs is embedded as JSON with `<` escaped ([`boot`]), and the script renders it with
//! `textContent`, never as HTML.

use crate::Web;
use crate::api::takes_calls;
use crate::session::{Session, method as m};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use hotline_domain::{CustomerClass, FaultType, Role};
use serde_json::{Value, json};

pub const SCRIPT: &str = include_str!("../assets/app.js");
pub const STYLE: &str = include_str!("../assets/app.css");

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// JSON for a `<script type="application/json">` block (no `</script>` can close it early).
pub fn boot(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// A view in the navigation: label, path, and whether the role may open it.
struct NavItem {
    label: &'static str,
    path: &'static str,
    /// Not built yet: its issue has not landed; the page says so and shows no data.
    soon: bool,
}

/// The views a role may open, in the navigation's order. Built views are decided by the
/// permission matrix (the gRPC method each stands for); the call desk also needs a role that
/// takes calls from the queue. Placeholders (not yet available) follow the division of labour.
fn nav(s: &Session) -> Vec<NavItem> {
    let r = s.who.role;
    let mut v = Vec::new();
    let mut add = |ok: bool, label, path, soon| {
        if ok {
            v.push(NavItem { label, path, soon });
        }
    };
    add(
        s.may(m::DISPATCH) && s.may(m::CREATE_TICKET) && takes_calls(r),
        "话务台",
        "/desk",
        false,
    );
    add(s.may(m::REVIEW), "二次审核", "/review", false);
    add(s.may(m::LIST_VOICEMAILS), "语音留言", "/voicemail", false);
    add(
        s.may(m::QUEUE_METRICS) && matches!(r, Role::Senior | Role::Admin | Role::Qa),
        "监控大屏",
        "/wallboard",
        false,
    );
    add(
        s.may(m::LIST_INBOX) && s.may(m::ENTER_DOCUMENT),
        "文字受理",
        "/intake",
        false,
    );
    add(s.may(m::LIST_SURVEY_WORK), "回访", "/surveys", false);
    add(
        matches!(r, Role::DataManager | Role::Admin),
        "资料管理",
        "/soon/data",
        true,
    );
    add(
        matches!(r, Role::Qa | Role::Admin),
        "质检",
        "/soon/qa",
        true,
    );
    add(
        matches!(r, Role::Senior | Role::DataManager | Role::Qa | Role::Admin),
        "报表",
        "/soon/reports",
        true,
    );
    add(
        matches!(r, Role::Junior | Role::Senior | Role::Admin),
        "知识库",
        "/soon/kb",
        true,
    );
    v
}

fn asset_version() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(SCRIPT.as_bytes());
    h.update(STYLE.as_bytes());
    hex::encode(&h.finalize()[..6])
}

/// A page of the desktop around `main` (already escaped HTML).
fn layout(web: &Web, s: &Session, view: &str, title: &str, main: &str, data: &Value) -> String {
    let _ = web;
    let nav: String = nav(s)
        .iter()
        .map(|n| {
            let cur = if n.path.ends_with(view) {
                " aria-current=\"page\""
            } else {
                ""
            };
            let soon = if n.soon {
                "<small class=\"soon\">尚未开放</small>"
            } else {
                ""
            };
            format!(
                "<a href=\"{}\"{cur}>{}{soon}</a>",
                esc(n.path),
                esc(n.label)
            )
        })
        .collect();
    let v = asset_version();
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="{csrf}">
<title>{title} · 112 障碍申告</title>
<link rel="stylesheet" href="/assets/app.css?v={v}">
</head>
<body data-view="{view}" data-agent="{agent}" data-role="{role}">
<header class="top"><b class="brand">112 障碍申告</b><nav>{nav}</nav>
<span class="me">{agent} · {role_label}</span>
<span id="conn" class="conn" title="实时连接">连接中…</span>
<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" id="logout">退出</button></form>
</header>
<div id="flash" class="flash" role="status" hidden></div>
<main>{main}</main>
<script type="application/json" id="boot">{boot}</script>
<script src="/assets/app.js?v={v}"></script>
</body></html>"#,
        csrf = esc(&s.csrf),
        title = esc(title),
        view = esc(view),
        agent = esc(&s.who.agent_id),
        role = esc(s.who.role.as_str()),
        role_label = esc(s.who.role.label_zh()),
        boot = boot(data),
    )
}

/// GET /: the role's first view.
pub async fn home(s: Session) -> Response {
    match nav(&s).first() {
        Some(n) => Redirect::to(n.path).into_response(),
        None => Html(denied_page("此角色没有可用的页面")).into_response(),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    pub next: String,
    #[serde(default)]
    pub expired: String,
}

fn login_html(message: &str, next: &str) -> String {
    let msg = if message.is_empty() {
        String::new()
    } else {
        format!("<p class=\"error\" id=\"login-error\">{}</p>", esc(message))
    };
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · 112 障碍申告</title><link rel="stylesheet" href="/assets/app.css?v={v}"></head>
<body class="login"><form method="post" action="/login" class="card login-card">
<h1>112 障碍申告 · 话务台登录</h1>{msg}
<label>工号 <input name="agent_id" id="agent_id" autocomplete="username" required></label>
<label>密码 <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login">登录</button>
</form></body></html>"#,
        v = asset_version(),
        next = esc(next),
    )
}

/// The login page with a message (bad password, expired session, ...).
pub fn login_response(code: StatusCode, message: &str, next: &str) -> Response {
    (code, Html(login_html(message, next))).into_response()
}

/// GET /login
pub async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    let msg = if q.expired == "1" {
        "登录已过期，请重新登录（未提交的内容已保存在本机，登录后自动恢复）"
    } else {
        ""
    };
    login_response(StatusCode::OK, msg, &q.next)
}

/// The page of a refusal by the permission matrix.
pub fn denied_page(reason: &str) -> String {
    format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>无权访问</title>
<link rel="stylesheet" href="/assets/app.css?v={}"></head><body class="login"><div class="card">
<h1>无权访问</h1><p id="denied">{}</p><p><a href="/">返回</a></p></div></body></html>"#,
        asset_version(),
        esc(reason)
    )
}

fn options<T: Copy>(
    all: &[T],
    wire: impl Fn(T) -> &'static str,
    zh: impl Fn(T) -> &'static str,
) -> String {
    all.iter()
        .map(|&x| format!("<option value=\"{}\">{}</option>", esc(wire(x)), esc(zh(x))))
        .collect()
}

/// The repair time limit (JO1) of every fault type and customer class, in hours.
fn limits(web: &Web) -> Value {
    let mut m = serde_json::Map::new();
    for f in FaultType::ALL {
        for c in CustomerClass::ALL {
            m.insert(
                format!("{}|{}", f.as_str(), c.as_str()),
                json!(web.core.desk.rules.time_limits.hours_for(f, c)),
            );
        }
    }
    Value::Object(m)
}

/// GET /desk: the call desk (junior, senior).
pub async fn desk(
    State(web): State<Web>,
    s: Session,
) -> Result<Response, crate::session::WebError> {
    s.allow(m::DISPATCH)?;
    s.allow(m::CREATE_TICKET)?;
    s.allow(m::SET_PRESENCE)?;
    let faults = options(&FaultType::ALL, |f| f.as_str(), |f| f.label_zh());
    let classes = options(&CustomerClass::ALL, |c| c.as_str(), |c| c.label_zh());
    let main = format!(
        r#"<section class="bar card" id="presence-bar">
<span>状态：<b id="presence">—</b></span>
<button type="button" data-presence="available" id="p-available">示闲</button>
<button type="button" data-presence="not_ready" id="p-not_ready">示忙</button>
<button type="button" data-presence="wrap_up" id="p-wrap_up">话后整理</button>
</section>
<div class="grid">
<section class="card pop" id="pop" hidden>
<h2>来电弹屏 <span id="pop-state" class="tag"></span> <span id="pop-ring" class="countdown"></span></h2>
<dl class="kv">
<dt>来电号码</dt><dd id="pop-caller"></dd>
<dt>故障号码</dt><dd id="pop-number"></dd>
<dt>客户</dt><dd id="pop-customer"></dd>
<dt>重复申告</dt><dd id="pop-repeat"></dd>
<dt>转接原因</dt><dd id="pop-reason"></dd>
</dl>
<h3>近期工单</h3><ul id="pop-recent" class="list"></ul>
<h3>知识库</h3><p class="soon-box">知识库尚未开放（待知识库上线后在此显示匹配条目）</p>
<button type="button" id="pop-fill">按来电填单</button>
</section>
<section class="card">
<h2>受理申告</h2>
<form id="ticket-form" data-keep="ticket-form" data-limits="{limits}">
<label>故障号码 <input name="faulty_number" id="f-faulty" required></label>
<label>联系电话 <input name="contact_number" id="f-contact"></label>
<label>客户名称 <input name="customer_name" id="f-name"></label>
<label>客户类别 <select name="customer_class" id="f-class">{classes}</select></label>
<label>分公司 <input name="branch" id="f-branch"></label>
<label>故障类型 <select name="fault_type" id="f-fault">{faults}</select></label>
<p class="limit">查修时限（JO1）：<b id="f-limit">—</b></p>
<label class="wide">故障描述 <textarea name="description" id="f-desc" rows="3"></textarea></label>
<label class="check"><input type="checkbox" name="urgent" id="f-urgent"> 紧急</label>
<button type="submit" id="f-submit">受理</button>
</form>
</section>
<section class="card" id="ticket" hidden>
<h2>当前工单 <span id="t-id"></span> <span id="t-status" class="tag"></span> <span id="t-urgent" class="tag red" hidden>紧急</span></h2>
<div id="t-stale" class="stale" hidden></div>
<dl class="kv">
<dt>故障号码</dt><dd id="t-number"></dd>
<dt>客户</dt><dd id="t-customer"></dd>
<dt>故障类型</dt><dd id="t-fault"></dd>
<dt>查修时限</dt><dd id="t-limit"></dd>
<dt>描述</dt><dd id="t-desc" class="pre"></dd>
</dl>
<h3>时限</h3><ul id="t-deadlines" class="list"></ul>
<h3>派单</h3><ul id="t-orders" class="list"></ul>
<label class="wide">备注 / 原因 <textarea id="t-note" rows="2" data-keep-field="t-note"></textarea></label>
<div class="actions">
<button type="button" data-act="dispatch" id="a-dispatch">派单</button>
<button type="button" data-act="escalate" id="a-escalate">转高级话务员</button>
<button type="button" data-act="follow_up" id="a-follow_up">追单</button>
<button type="button" data-act="cancel" id="a-cancel">退单</button>
<button type="button" data-act="urgent" id="a-urgent">加急</button>
<select id="t-manager-reason"><option value="overdue_repeat">超时重复申告</option><option value="caller_refused_answer">用户不接受答复</option></select>
<button type="button" data-act="manager" id="a-manager">转经理热线</button>
</div>
<div class="actions">
<button type="button" id="a-progress">查询112进程（SF6）</button>
<button type="button" id="a-linetest">线路测试（SF5）</button>
</div>
<pre id="t-result" class="result" hidden></pre>
<h3>处理记录</h3><ul id="t-history" class="list small"></ul>
</section>
<section class="card">
<h2>告警 <small>（实时倒计时）</small></h2><ul id="alerts" class="list"></ul>
</section>
<section class="card">
<h2>最近工单</h2><ul id="recent" class="list"></ul>
</section>
</div>"#,
        limits = esc(&limits(&web).to_string()),
    );
    let data = json!({});
    Ok(Html(layout(&web, &s, "desk", "话务台", &main, &data)).into_response())
}

/// GET /review: the senior's second-review queue.
pub async fn review(
    State(web): State<Web>,
    s: Session,
) -> Result<Response, crate::session::WebError> {
    s.allow(m::REVIEW)?;
    let main = r#"<section class="card"><h2>待二次审核派单 <span id="review-count" class="tag"></span></h2>
<p class="hint">初级话务员的派单须经高级话务员审核后才发往 112 中心（JO7/SO4）。</p>
<ul id="review-list" class="list big"></ul></section>
<section class="card"><h2>告警</h2><ul id="alerts" class="list"></ul></section>"#;
    Ok(Html(layout(&web, &s, "review", "二次审核", main, &json!({}))).into_response())
}

/// GET /voicemail: the recording extractor's messages.
pub async fn voicemail(
    State(web): State<Web>,
    s: Session,
) -> Result<Response, crate::session::WebError> {
    s.allow(m::LIST_VOICEMAILS)?;
    let faults = options(&FaultType::ALL, |f| f.as_str(), |f| f.label_zh());
    let main = format!(
        r#"<section class="card"><h2>语音留言</h2>
<p class="hint">认领后可播放录音，再转为工单或转高级话务员。</p>
<template id="vm-faults">{faults}</template>
<ul id="vm-list" class="list big"></ul></section>"#
    );
    Ok(Html(layout(&web, &s, "voicemail", "语音留言", &main, &json!({}))).into_response())
}

/// GET /intake: the text-entry clerk's inbox (TE1, TE4): documents waiting, oldest first, with
/// the time left of their two hours; each is entered as a ticket or passed to a senior.
pub async fn intake(
    State(web): State<Web>,
    s: Session,
) -> Result<Response, crate::session::WebError> {
    s.allow(m::LIST_INBOX)?;
    let faults = options(&FaultType::ALL, |f| f.as_str(), |f| f.label_zh());
    let main = format!(
        r#"<section class="card"><h2>文字受理</h2>
<p class="hint">信函、传真、电子邮件按收到时间排列，须在收到后两小时内录入；处理不了的在同样时限内转高级话务员。</p>
<template id="in-faults">{faults}</template>
<ul id="in-list" class="list big"></ul></section>"#
    );
    Ok(Html(layout(&web, &s, "intake", "文字受理", &main, &json!({}))).into_response())
}

/// GET /surveys: the satisfaction surveyor's worklists and callbacks (SS1-SS4).
pub async fn surveys(
    State(web): State<Web>,
    s: Session,
) -> Result<Response, crate::session::WebError> {
    s.allow(m::LIST_SURVEY_WORK)?;
    let lists = options(
        &hotline_domain::survey::Worklist::ALL,
        |w| w.as_str(),
        |w| w.label_zh(),
    );
    let r = &web.core.surveys.rules;
    let main = format!(
        r#"<section class="card"><h2>回访工作单</h2>
<p class="hint">回访时间 {from}–{until}（北京时间），每个回访最多 {max} 次；未接通的 {retry} 分钟后可再次回访。</p>
<label>工作单 <select id="sv-list">{lists}</select></label>
<ul id="sv-work" class="list big"></ul></section>"#,
        from = r.calling_from,
        until = r.calling_until,
        max = r.max_attempts,
        retry = r.retry_after_minutes,
    );
    Ok(Html(layout(&web, &s, "surveys", "回访", &main, &json!({}))).into_response())
}

/// GET /wallboard: the supervisor's wall screen.
pub async fn wallboard(
    State(web): State<Web>,
    s: Session,
) -> Result<Response, crate::session::WebError> {
    s.allow(m::QUEUE_METRICS)?;
    let secs = web.core.desk.rules.queue_service_level_secs;
    let main = format!(
        r#"<div class="wall">
<div class="tile"><div class="label">{secs}秒接通率（今日）</div><div class="num" id="w-sl">—</div></div>
<div class="tile"><div class="label">排队等待</div><div class="num" id="w-waiting">—</div></div>
<div class="tile"><div class="label">最长等待</div><div class="num" id="w-longest">—</div></div>
<div class="tile"><div class="label">今日呼入 / 接通</div><div class="num" id="w-calls">—</div></div>
<div class="tile wide"><div class="label">话务员状态</div><div id="w-states" class="states"></div><ul id="w-agents" class="agents"></ul></div>
<div class="tile wide"><div class="label">今日曲线（每15分钟 呼入/接通）</div><div id="w-curve" class="curve"></div></div>
<div class="tile wide"><div class="label">告警</div><ul id="alerts" class="list"></ul></div>
</div>"#
    );
    Ok(Html(layout(&web, &s, "wallboard", "监控大屏", &main, &json!({}))).into_response())
}

/// GET /soon/{what}: a back-office view whose issue has not landed: says so, shows no data.
pub async fn placeholder(State(web): State<Web>, s: Session, Path(what): Path<String>) -> Response {
    let name = match what.as_str() {
        "text" => "文字受理（信函、传真、电子邮件录入）",
        "survey" => "回访工作单",
        "data" => "资料管理（原件归档）",
        "qa" => "质检",
        "reports" => "报表",
        "kb" => "知识库",
        _ => return (StatusCode::NOT_FOUND, Html(denied_page("没有这个页面"))).into_response(),
    };
    let main = format!(
        r#"<section class="card soon-page"><h2>{} <span class="tag">尚未开放</span></h2>
<p id="soon">此功能尚未开放：对应的功能上线后，这里将显示该角色的工作单。当前没有任何数据。</p></section>"#,
        esc(name)
    );
    Html(layout(&web, &s, "soon", name, &main, &json!({}))).into_response()
}

/// GET /assets/app.js
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// GET /assets/app.css
pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        STYLE,
    )
        .into_response()
}
