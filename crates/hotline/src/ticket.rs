//! `hotline ticket ...` and `hotline alerts`: tickets and deadline alerts over gRPC.

use crate::client::{Conn, beijing_time, connect_authed, parse_time};
use anyhow::{Context, bail};
use clap::Subcommand;
use hotline_proto::v1 as pb;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;

#[derive(Subcommand, Debug)]
pub(crate) enum TicketCmd {
    /// Register a report.
    Create {
        /// The faulty line's number.
        #[arg(long)]
        number: String,
        /// no_dial_tone | noise | cannot_call_out | cannot_receive | drops | crosstalk | leased_line_down | cable_damage | other
        #[arg(long, default_value = "no_dial_tone")]
        fault: String,
        /// ivr | phone | letter | fax | email | walk_in | voicemail | other_department
        #[arg(long, default_value = "phone")]
        channel: String,
        /// ordinary | big | important | leased_line
        #[arg(long, default_value = "ordinary")]
        class: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        branch: String,
        #[arg(long, default_value = "")]
        contact: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        urgent: bool,
        /// When the report reached the desk, for a letter or a late entry: RFC 3339 or
        /// `YYYY-MM-DD HH:MM` (Beijing time); default now. Not in the future; the TE1 entry
        /// deadline and the repair time limit count from it.
        #[arg(long)]
        received_at: Option<String>,
    },
    /// Newest tickets first.
    List {
        #[arg(long, default_value = "")]
        status: String,
        #[arg(long, default_value = "")]
        number: String,
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    Show {
        id: i64,
    },
    History {
        id: i64,
    },
    /// dispatch | follow-up | cancel | escalate | answer | urgent | note | clear | close | second-dispatch | manager
    Act {
        id: i64,
        action: String,
        #[arg(long, default_value = "")]
        text: String,
        /// for `manager`: overdue_repeat | caller_refused_answer
        #[arg(long, default_value = "caller_refused_answer")]
        reason: String,
    },
    /// Second review of a pending order.
    Review {
        id: i64,
        order: i64,
        #[arg(long)]
        reject: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
}

fn print_ticket(t: &pb::Ticket) {
    let c = t.customer.clone().unwrap_or_default();
    println!(
        "工单 {}  {}  {} ({})  号码 {}  {}{}",
        t.id,
        t.status_label,
        t.fault_type_label,
        t.fault_type,
        t.faulty_number,
        c.class_label,
        if t.urgent { "  [加急]" } else { "" }
    );
    println!(
        "  受理时间 {}  录入时间 {}  渠道 {}",
        beijing_time(t.received_at.as_ref()),
        beijing_time(t.created_at.as_ref()),
        t.channel
    );
    if t.repeat_of != 0 {
        println!("  重复申告 repeat of {}", t.repeat_of);
    }
    for d in &t.deadlines {
        let due = beijing_time(d.due_at.as_ref());
        let state = if d.met_at.is_some() {
            "已完成"
        } else if d.breached {
            "已超时"
        } else if d.warned {
            "预警"
        } else {
            "进行中"
        };
        println!("  {} ({}) due {} {}", d.kind_label, d.kind, due, state);
    }
    for o in &t.orders {
        println!(
            "  单 {} {} {} ({}) by {} {}",
            o.id, o.kind_label, o.review_label, o.delivery, o.created_by, o.note
        );
    }
}

pub(crate) async fn ticket(conn: Conn, cmd: TicketCmd) -> anyhow::Result<()> {
    let mut c = TicketServiceClient::new(connect_authed(&conn).await?);
    match cmd {
        TicketCmd::Create {
            number,
            fault,
            channel,
            class,
            name,
            branch,
            contact,
            description,
            urgent,
            received_at,
        } => {
            let received_at = received_at
                .as_deref()
                .map(parse_time)
                .transpose()
                .context("--received-at")?;
            let r = c
                .create_ticket(pb::CreateTicketRequest {
                    faulty_number: number,
                    contact_number: contact,
                    customer_name: name,
                    customer_class: class,
                    branch,
                    fault_type: fault,
                    description,
                    channel,
                    received_at,
                    urgent,
                    supplement_of: 0,
                    call_id: String::new(),
                })
                .await?
                .into_inner();
            if let Some(t) = &r.ticket {
                print_ticket(t);
            }
            if let Some(rep) = r.repeat.filter(|r| r.is_repeat) {
                println!("  {} (原工单 {})", rep.advice_label, rep.original_ticket_id);
            }
        }
        TicketCmd::List {
            status,
            number,
            limit,
        } => {
            let r = c
                .list_tickets(pb::ListTicketsRequest {
                    page_size: limit,
                    page_token: String::new(),
                    status,
                    faulty_number: number,
                    channel: String::new(),
                    urgent_only: false,
                })
                .await?
                .into_inner();
            for t in &r.tickets {
                print_ticket(t);
            }
            if !r.next_page_token.is_empty() {
                println!("(more: page token {})", r.next_page_token);
            }
        }
        TicketCmd::Show { id } => print_ticket(
            &c.get_ticket(pb::GetTicketRequest { id })
                .await?
                .into_inner(),
        ),
        TicketCmd::History { id } => {
            for e in c
                .get_ticket_history(pb::GetTicketHistoryRequest { id })
                .await?
                .into_inner()
                .events
            {
                println!(
                    "{} {} {}({}) {} → {} {}",
                    beijing_time(e.at.as_ref()),
                    e.action_label,
                    e.actor,
                    e.role,
                    e.before_status,
                    e.after_status,
                    e.detail
                );
            }
        }
        TicketCmd::Review {
            id,
            order,
            reject,
            note,
        } => {
            let r = c
                .review_order(pb::ReviewOrderRequest {
                    ticket_id: id,
                    order_id: order,
                    approve: !reject,
                    note,
                })
                .await?
                .into_inner();
            if let Some(t) = &r.ticket {
                print_ticket(t);
            }
        }
        TicketCmd::Act {
            id,
            action,
            text,
            reason,
        } => {
            let r = match action.as_str() {
                "dispatch" => {
                    c.dispatch_ticket(pb::DispatchTicketRequest { id, note: text })
                        .await
                }
                "follow-up" => {
                    c.follow_up_ticket(pb::FollowUpTicketRequest { id, note: text })
                        .await
                }
                "cancel" => {
                    c.cancel_ticket(pb::CancelTicketRequest { id, reason: text })
                        .await
                }
                "escalate" => {
                    c.escalate_ticket(pb::EscalateTicketRequest { id, reason: text })
                        .await
                }
                "answer" => {
                    c.answer_ticket(pb::AnswerTicketRequest { id, answer: text })
                        .await
                }
                "urgent" => {
                    c.mark_urgent(pb::MarkUrgentRequest { id, reason: text })
                        .await
                }
                "note" => c.add_note(pb::AddNoteRequest { id, text }).await,
                "clear" => {
                    c.clear_ticket(pb::ClearTicketRequest { id, note: text })
                        .await
                }
                "close" => {
                    c.close_ticket(pb::CloseTicketRequest { id, note: text })
                        .await
                }
                "second-dispatch" => {
                    c.second_dispatch(pb::SecondDispatchRequest { id, warning: text })
                        .await
                }
                "manager" => {
                    c.transfer_to_manager(pb::TransferToManagerRequest {
                        id,
                        reason,
                        note: text,
                    })
                    .await
                }
                other => bail!("unknown action {other:?}"),
            }?
            .into_inner();
            if let Some(t) = &r.ticket {
                print_ticket(t);
            }
        }
    }
    Ok(())
}

/// Lists recent deadline alerts.
pub(crate) async fn alerts(conn: Conn) -> anyhow::Result<()> {
    let mut c = TicketServiceClient::new(connect_authed(&conn).await?);
    let r = c
        .list_alerts(pb::ListAlertsRequest {
            page_size: 50,
            ticket_id: 0,
        })
        .await?
        .into_inner();
    for a in r.alerts {
        println!(
            "#{} 工单 {} [{}/{}] {}",
            a.id, a.ticket_id, a.deadline_kind, a.level, a.message
        );
    }
    Ok(())
}
