//! A terminal agent desktop: `hotline desk` sets the agent available and prints its feed —
//! screen pops while the softphone rings (JO2), the draft ticket when a call connects, offers
//! that ended, alerts — and sets it not ready on Ctrl-C. `hotline queue` shows who waits and
//! the queue's service level.

use crate::client::{Conn, beijing_time, connect_authed};
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::queue_service_client::QueueServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use pb::event::Kind;

/// One line (or a few) per event, in Chinese for the agent.
pub fn describe(e: &pb::Event) -> Option<String> {
    let at = beijing_time(e.at.as_ref());
    Some(match e.kind.as_ref()? {
        Kind::CallOffered(p) => {
            let mut s = format!(
                "[{at}] 来电振铃 请在 {} 秒内接听  主叫 {}  故障号码 {}",
                p.ring_timeout_ms / 1000,
                or_dash(&p.caller_number),
                or_dash(&p.faulty_number)
            );
            if let Some(c) = &p.customer {
                s.push_str(&format!(
                    "\n    客户 {} ({}) {}",
                    or_dash(&c.name),
                    c.class_label,
                    c.branch
                ));
            }
            if p.senior {
                s.push_str("\n    需高级话务员处理");
            }
            if p.repeat {
                s.push_str("\n    重复申告：该号码有未结工单");
            }
            for t in &p.recent_tickets {
                s.push_str(&format!(
                    "\n    近期工单 #{} {} {} {}",
                    t.id,
                    beijing_time(t.received_at.as_ref()),
                    t.fault_type_label,
                    t.status_label
                ));
            }
            s
        }
        Kind::CallConnected(c) => {
            let d = c.draft.clone().unwrap_or_default();
            format!(
                "[{at}] 已接通 主叫 {}\n    草稿工单: 故障号码 {} 联系电话 {} 客户 {} 渠道 电话\n    用 `hotline ticket create` 补全故障类型和描述后提交",
                or_dash(&c.caller_number),
                or_dash(&d.faulty_number),
                or_dash(&d.contact_number),
                or_dash(&d.customer_name)
            )
        }
        Kind::CallOfferEnded(o) => {
            let why = match o.reason.as_str() {
                "no_answer" => "超时未接听，已转其他话务员",
                "caller_hung_up" => "主叫已挂机",
                "answered_elsewhere" => "已由其他话务员接听",
                _ => "振铃结束",
            };
            format!("[{at}] 振铃结束 {}: {why}", o.call_id)
        }
        Kind::AgentAlert(a) => format!("[{at}] 坐席告警 {}", a.message),
        Kind::Alert(a) => format!(
            "[{at}] 时限告警 工单 {} [{}/{}] {}",
            a.ticket_id, a.deadline_kind, a.level, a.message
        ),
        Kind::ReviewRequested(r) => format!(
            "[{at}] 待审核 工单 {}",
            r.ticket.as_ref().map_or(0, |t| t.id)
        ),
        Kind::TicketChanged(t) => format!(
            "[{at}] 工单 {} {} ({})",
            t.ticket.as_ref().map_or(0, |t| t.id),
            t.action,
            t.actor
        ),
        Kind::VoicemailChanged(v) => format!(
            "[{at}] 留言 {} {}",
            v.voicemail.as_ref().map_or(0, |v| v.id),
            v.action
        ),
    })
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// Sets `presence`, prints the feed until Ctrl-C or the server ends it, then sets not ready.
pub async fn desk(conn: &Conn, presence: &str) -> anyhow::Result<()> {
    let mut agents = AgentServiceClient::new(connect_authed(conn).await?);
    let me = agents
        .set_presence(pb::SetPresenceRequest {
            presence: presence.into(),
        })
        .await?
        .into_inner();
    println!(
        "坐席 {} ({}) 状态 {}；等待来电，Ctrl-C 退出",
        me.agent_id, me.role_label, me.presence
    );
    let mut feed = agents
        .stream_events(pb::StreamEventsRequest {})
        .await?
        .into_inner();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            e = feed.message() => match e {
                Ok(Some(e)) => {
                    if let Some(line) = describe(&e) {
                        println!("{line}");
                    }
                }
                Err(s) => {
                    eprintln!("事件流中断 event stream ended: {}", s.message());
                    break;
                }
                Ok(None) => break,
            }
        }
    }
    let _ = agents
        .set_presence(pb::SetPresenceRequest {
            presence: "not_ready".into(),
        })
        .await;
    println!("已置为未就绪 set not ready");
    Ok(())
}

/// "93.0% (40/43)", or "-" when no call counts.
fn percent(ok: u64, of: u64, ratio: f64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1}% ({ok}/{of})", ratio * 100.0)
    }
}

fn period_sl(p: Option<&pb::QueuePeriod>) -> String {
    p.map(|p| percent(p.answered_in_time, p.service_level_calls, p.service_level))
        .unwrap_or_else(|| "-".into())
}

fn period_offer_rate(p: Option<&pb::QueuePeriod>) -> String {
    p.map(|p| percent(p.offers_answered_in_time, p.offers, p.offer_answer_rate))
        .unwrap_or_else(|| "-".into())
}

/// Prints the waiting and connected calls and the last 24 hours' figures.
pub async fn queue(conn: &Conn) -> anyhow::Result<()> {
    let mut q = QueueServiceClient::new(connect_authed(conn).await?);
    let list = q.list_queue(pb::ListQueueRequest {}).await?.into_inner();
    if list.entries.is_empty() {
        println!("队列为空 nobody waiting");
    }
    for e in &list.entries {
        let state = hotline_core::acd::QueueCallState::parse(&e.state)
            .map_or(e.state.as_str(), |s| s.label_zh());
        println!(
            "{}  主叫 {}  {}{}  {}  进入 {}",
            e.call_id,
            or_dash(&e.caller_number),
            state,
            if e.agent_id.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.agent_id)
            },
            if e.senior { "高级" } else { "普通" },
            beijing_time(e.entered_at.as_ref())
        );
    }
    let m = q
        .get_queue_metrics(pb::GetQueueMetricsRequest {
            since: None,
            until: None,
            with_intervals: true,
        })
        .await?
        .into_inner();
    let rules = m.rules.unwrap_or_default();
    println!(
        "近24小时: 进入 {}  接通 {}  放弃 {}  转留言 {}  15秒接听率 {}  坐席15秒应答率 {}  平均应答 {:.1} 秒  放弃率 {:.1}%  当前排队 {}",
        m.entered,
        m.answered,
        m.abandoned,
        m.to_voicemail,
        period_sl(m.total.as_ref()),
        period_offer_rate(m.total.as_ref()),
        m.average_speed_of_answer_secs,
        m.abandonment_rate * 100.0,
        m.waiting_now
    );
    println!(
        "  口径 definitions: 15秒接听率 = 进队 {} 秒内接通 ÷ 进队呼叫 (进队 {} 秒内放弃不计, 其后放弃和转留言算未及时接听); 坐席15秒应答率 = 振铃 {} 秒内应答 ÷ 振铃次数 (来电方挂机的振铃不计)",
        rules.service_level_secs, rules.short_abandon_secs, rules.answer_limit_secs
    );
    for (label, periods) in [("按日 (北京时间)", &m.days), ("按15分钟", &m.intervals)] {
        if periods.is_empty() {
            continue;
        }
        println!("{label}:");
        for p in periods {
            println!(
                "  {}  进入 {}  接通 {}  放弃 {} (短放弃 {})  转留言 {}  15秒接听率 {}  坐席15秒应答率 {}",
                beijing_time(p.start.as_ref()),
                p.entered,
                p.answered,
                p.abandoned,
                p.short_abandons,
                p.to_voicemail,
                period_sl(Some(p)),
                period_offer_rate(Some(p)),
            );
        }
    }
    for n in &m.no_answers {
        println!("  坐席 {} 未接听 {} 次", n.agent_id, n.no_answers);
    }
    Ok(())
}

/// `hotline task ...`
#[derive(clap::Subcommand, Debug)]
pub enum TaskCmd {
    /// Open tasks of the kinds your role works on.
    List {
        /// callback | survey | file_original (default: all of yours)
        #[arg(long, default_value = "")]
        kind: String,
        /// Include done tasks.
        #[arg(long)]
        all: bool,
    },
    /// Mark a task done, with what was done.
    Done {
        id: i64,
        #[arg(long, default_value = "")]
        note: String,
    },
}

pub async fn task(conn: &Conn, cmd: TaskCmd) -> anyhow::Result<()> {
    let mut c = TicketServiceClient::new(connect_authed(conn).await?);
    match cmd {
        TaskCmd::List { kind, all } => {
            let r = c
                .list_tasks(pb::ListTasksRequest {
                    kind,
                    include_done: all,
                    page_size: 200,
                    after_id: 0,
                })
                .await?
                .into_inner();
            if r.tasks.is_empty() {
                println!("没有待办任务 no open tasks");
            }
            for t in r.tasks {
                println!(
                    "任务 {}  {}  工单 {}  创建 {}{}",
                    t.id,
                    t.kind_label,
                    t.ticket_id,
                    beijing_time(t.created_at.as_ref()),
                    match &t.done_at {
                        Some(d) => format!("  已完成 {} {}", beijing_time(Some(d)), t.note),
                        None => String::new(),
                    }
                );
            }
        }
        TaskCmd::Done { id, note } => {
            let t = c
                .complete_task(pb::CompleteTaskRequest { id, note })
                .await?
                .into_inner();
            println!(
                "任务 {} ({}) 已完成 done, 工单 {}",
                t.id, t.kind_label, t.ticket_id
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_screen_pop_shows_customer_repeat_and_recent_tickets() {
        let e = pb::Event {
            at: None,
            kind: Some(Kind::CallOffered(pb::CallOffered {
                call_id: "c1".into(),
                caller_number: "01088880001".into(),
                faulty_number: "01088880001".into(),
                customer: Some(pb::Customer {
                    name: "王五".into(),
                    class: "big".into(),
                    class_label: "大用户".into(),
                    branch: "朝阳分公司".into(),
                }),
                recent_tickets: vec![pb::Ticket {
                    id: 42,
                    fault_type_label: "无音".into(),
                    status_label: "已派单".into(),
                    ..Default::default()
                }],
                repeat: true,
                senior: true,
                reason: "escalation".into(),
                ring_timeout_ms: 15_000,
            })),
        };
        let s = describe(&e).unwrap();
        assert!(s.contains("15 秒内接听"), "{s}");
        assert!(s.contains("王五 (大用户)"), "{s}");
        assert!(s.contains("重复申告"), "{s}");
        assert!(s.contains("#42"), "{s}");
        assert!(s.contains("高级话务员"), "{s}");
    }
}
