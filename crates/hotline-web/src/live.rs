//! `GET /events`: the core's event bus as Server-Sent Events, filtered by role and agent like
//! `AgentService.StreamEvents` (`DeskEvent::visible_to_agent`), plus the wallboard's queue
//! figures (`event: queue`, every two seconds, computed once for all desktops).
//!
//! The stream opens with `retry: 1000` and a `hello` carrying the server's clock (countdowns
//! are drawn against it); the browser's EventSource reconnects by itself after a restart and
//! the page then reloads its lists. A session that expires ends its stream with `expired`.

use crate::session::{Session, WebError, method as m};
use crate::{Web, json};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use hotline_core::CoreError;
use hotline_core::acd::QueueCallState;
use hotline_core::events::DeskEvent;
use hotline_domain::role::Presence;
use hotline_domain::{Role, Timestamp};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::StreamExt;

const DAY_MS: i64 = 86_400_000;
const BEIJING_MS: i64 = 8 * 3_600_000;

/// The event's name and body for one desktop (`None`: not shown to this role).
pub fn event_json(web: &Web, e: &DeskEvent, role: Role) -> Option<(&'static str, Value)> {
    let desk = &web.core.desk;
    let surveyor = role == Role::Surveyor;
    Some(match e {
        DeskEvent::Alert(a) => ("alert", json::alert(a)),
        DeskEvent::ReviewRequested { view, order } => (
            "review",
            json!({
                "ticket": json::view(view, desk.repair_limit_hours(&view.ticket), !surveyor),
                "order_id": order.id,
            }),
        ),
        DeskEvent::TicketChanged {
            view,
            action,
            actor,
        } => (
            "ticket",
            json!({
                "ticket": json::view(view, desk.repair_limit_hours(&view.ticket), !surveyor),
                "action": action,
                "actor": actor,
            }),
        ),
        DeskEvent::Voicemail {
            record,
            action,
            actor,
        } => (
            "voicemail",
            json!({
                "voicemail": json::voicemail(record),
                "action": action.as_str(),
                "action_label": action.label_zh(),
                "actor": actor,
            }),
        ),
        DeskEvent::CallOffered {
            info,
            ring_timeout_ms,
            ..
        } => {
            let mut c = json::call(info, |t| desk.repair_limit_hours(t));
            c["ring_timeout_ms"] = json!(ring_timeout_ms);
            ("offer", c)
        }
        DeskEvent::CallConnected { info, .. } => (
            "connected",
            json::call(info, |t| desk.repair_limit_hours(t)),
        ),
        DeskEvent::CallOfferEnded {
            call_id, reason, ..
        } => (
            "offer_ended",
            json!({ "call_id": call_id, "reason": reason.as_str(), "reason_label": reason.label_zh() }),
        ),
        DeskEvent::AgentAlert {
            agent_id,
            kind,
            call_id,
            message,
        } => (
            "agent_alert",
            json!({ "agent_id": agent_id, "kind": kind.as_str(), "kind_label": kind.label_zh(), "call_id": call_id, "message": message }),
        ),
    })
}

fn sse(name: &str, v: &Value) -> Event {
    Event::default().event(name).data(v.to_string())
}

/// GET /events
pub async fn events(
    State(web): State<Web>,
    s: Session,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, WebError> {
    s.allow(m::STREAM_EVENTS)?;
    let mut rx = web.core.desk.events.subscribe();
    let mut board = s.may(m::QUEUE_METRICS).then(|| web.board.subscribe());
    let (tx, out) = tokio::sync::mpsc::channel::<Event>(256);
    let shutdown = web.core.shutdown.clone();
    let hello = json!({ "now": web.core.desk.clock.now().0, "agent_id": s.who.agent_id });
    let _ = tx
        .send(Event::default().retry(Duration::from_millis(1000)))
        .await;
    let _ = tx.send(sse("hello", &hello)).await;
    if let Some(b) = &mut board {
        let v = b.borrow_and_update().clone();
        if !v.is_null() {
            let _ = tx.send(sse("queue", &v)).await;
        }
    }
    tokio::spawn(async move {
        let mut check = tokio::time::interval(Duration::from_secs(30));
        check.tick().await;
        loop {
            let ev = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tx.closed() => break,
                _ = check.tick() => {
                    match web.core.auth.authenticate(&s.token).await {
                        Ok(_) => continue,
                        Err(_) => {
                            let _ = tx.send(sse("expired", &json!({}))).await;
                            break;
                        }
                    }
                }
                changed = async {
                    match &mut board {
                        Some(b) => b.changed().await.map(|_| b.borrow_and_update().clone()),
                        None => std::future::pending().await,
                    }
                } => match changed {
                    Ok(v) => sse("queue", &v),
                    Err(_) => { board = None; continue; }
                },
                e = rx.recv() => match e {
                    Ok(e) => {
                        if !e.visible_to_agent(&s.who.agent_id, s.who.role) {
                            continue;
                        }
                        match event_json(&web, &e, s.who.role) {
                            Some((name, v)) => sse(name, &v),
                            None => continue,
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(agent = %s.who.agent_id, skipped = n, "web event stream lagged");
                        sse("lagged", &json!({ "skipped": n }))
                    }
                    Err(RecvError::Closed) => break,
                },
            };
            if tx.send(ev).await.is_err() {
                break;
            }
        }
    });
    Ok(
        Sse::new(tokio_stream::wrappers::ReceiverStream::new(out).map(Ok))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
}

/// The wallboard's figures now: today's (Beijing) service level and curve from the stored
/// queue log, calls waiting and the longest wait from the live queue, agents by state.
pub async fn board(web: &Web) -> Result<Value, CoreError> {
    let desk = &web.core.desk;
    let acd = &web.core.acd;
    let now = desk.clock.now();
    let day0 = (now.0 + BEIJING_MS).div_euclid(DAY_MS) * DAY_MS - BEIJING_MS;
    let m = desk
        .queue_metrics(acd, Timestamp(day0), Timestamp(now.0 + 1))
        .await?;
    let queue = acd.list();
    let waiting: Vec<_> = queue
        .iter()
        .filter(|e| e.state == QueueCallState::Waiting)
        .collect();
    let longest = waiting
        .iter()
        .map(|e| now.0 - e.entered_at.0)
        .max()
        .unwrap_or(0);
    let mut agents = Vec::new();
    let mut by_state = serde_json::Map::new();
    for a in desk.agents().await? {
        if !a.active || hotline_core::acd::tier_for(a.role).is_none() {
            continue;
        }
        let p = acd
            .presence(&a.agent_id)
            .unwrap_or(Presence::LoggedOut)
            .as_str();
        let n = by_state.get(p).and_then(Value::as_u64).unwrap_or(0);
        by_state.insert(p.to_string(), json!(n + 1));
        agents.push(json!({ "agent_id": a.agent_id, "name": a.name, "role_label": a.role.label_zh(), "presence": p }));
    }
    let t = &m.total;
    Ok(json!({
        "now": now.0,
        "service_level_secs": desk.rules.queue_service_level_secs,
        "service_level": t.service_level(),
        "entered": t.entered,
        "answered": t.answered,
        "answered_in_time": t.answered_in_time,
        "abandoned": t.abandoned,
        "to_voicemail": t.to_voicemail,
        "waiting": waiting.len(),
        "longest_wait_ms": longest,
        "in_queue": queue.len(),
        "by_state": by_state,
        "agents": agents,
        "curve": m.intervals.iter().map(|f| json!({
            "start": f.start_ms, "entered": f.entered, "answered": f.answered,
            "answered_in_time": f.answered_in_time, "service_level": f.service_level(),
        })).collect::<Vec<_>>(),
    }))
}

/// Recomputes the wallboard every two seconds while some desktop watches it.
pub async fn board_task(web: Web) {
    let shutdown = web.core.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if web.board.receiver_count() == 0 {
            continue;
        }
        match board(&web).await {
            Ok(v) => {
                web.board.send_replace(Arc::new(v));
            }
            Err(e) => tracing::warn!(error = %e, "wallboard figures"),
        }
    }
}
