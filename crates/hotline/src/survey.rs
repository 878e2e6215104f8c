//! `hotline survey ...`: the satisfaction surveyor over gRPC (SS1-SS6, SO5): the worklists,
//! recording a callback (with customer information only when consent was given), an
//! investigation of a repeat report, the week's (or a period's) statistics.

use crate::client::parse_time;
use crate::client::{Conn, beijing_time, connect_authed};
use clap::Subcommand;
use hotline_proto::v1 as pb;
use hotline_proto::v1::survey_service_client::SurveyServiceClient;

#[derive(Subcommand, Debug)]
pub(crate) enum SurveyCmd {
    /// A worklist: cleared (回单回访, SS2) | completed (业务回访, SS1) | due (预警催单, SS3) |
    /// investigate (重复申告调查, SS4).
    List {
        #[arg(default_value = "cleared")]
        list: String,
        #[arg(long, default_value_t = 0)]
        limit: u32,
    },
    /// Record one callback attempt on a ticket's survey.
    Record {
        ticket: i64,
        /// reached | not_reached
        #[arg(long, default_value = "reached")]
        outcome: String,
        /// satisfied (满意) | basically_satisfied (基本满意) | dissatisfied (不满意)
        #[arg(long, default_value = "")]
        satisfaction: String,
        #[arg(long, default_value = "")]
        comment: String,
        /// not_asked | given | refused: customer information needs `given` (SS6).
        #[arg(long, default_value = "")]
        consent: String,
        /// primary | secondary | college | postgraduate
        #[arg(long, default_value = "")]
        education: String,
        /// under_30 | 30_44 | 45_59 | 60_plus
        #[arg(long, default_value = "")]
        age_band: String,
        /// low | medium | high
        #[arg(long, default_value = "")]
        spending_level: String,
        /// good | fair | poor
        #[arg(long, default_value = "")]
        operator_opinion: String,
    },
    /// Investigate a finished order (SS4): apology | explanation | second_dispatch (the note
    /// is the written warning sent with it, SO5).
    Investigate {
        ticket: i64,
        outcome: String,
        #[arg(long)]
        note: String,
    },
    /// Satisfaction figures: this week (Beijing) by default, or --from/--to
    /// (RFC 3339 or `YYYY-MM-DD HH:MM`, Beijing time).
    Stats {
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
    },
    /// The drafted and published analyses (SS5): survey_weekly | survey_monthly, or both.
    Analyses {
        #[arg(long, default_value = "")]
        kind: String,
        #[arg(long, default_value_t = 0)]
        limit: u32,
    },
    /// One analysis, its whole text.
    Analysis { id: i64 },
    /// Publish a drafted analysis (once; the monthly one is due before the 21st).
    Publish {
        id: i64,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The do-not-call list the automated survey calls honour (免打扰名单).
    #[command(subcommand)]
    Dnc(DncCmd),
}

#[derive(Subcommand, Debug)]
pub(crate) enum DncCmd {
    /// Never call this number again (or change the reason).
    Add {
        number: String,
        #[arg(long)]
        reason: String,
    },
    /// Take a number off the list.
    Remove { number: String },
    /// The list.
    List {
        #[arg(long, default_value_t = 0)]
        limit: u32,
    },
}

fn print_analysis_line(a: &pb::Analysis) {
    let due = a
        .due_at
        .as_ref()
        .map(|t| format!(" 时限 {}", beijing_time(Some(t))))
        .unwrap_or_default();
    let published = if a.state == "published" {
        format!(
            " {} {}",
            a.published_by,
            beijing_time(a.published_at.as_ref())
        )
    } else {
        String::new()
    };
    println!(
        "#{} {} {} [{}]{published}{due}",
        a.id, a.kind_label, a.period, a.state_label
    );
}

fn minutes(ms: i64) -> String {
    let m = ms / 60_000;
    if m.abs() >= 60 {
        format!("{}h{:02}m", m / 60, (m % 60).abs())
    } else {
        format!("{m}m")
    }
}

fn print_entry(e: &pb::SurveyWorkEntry) {
    let mut line = format!(
        "#{} {} 拨打 {} {} [{}] {} 已过 {}",
        e.ticket_id,
        e.faulty_number,
        e.contact_number,
        e.customer_name,
        e.status_label,
        e.fault_type_label,
        minutes(e.elapsed_ms),
    );
    match e.list.as_str() {
        "cleared" | "completed" => line.push_str(&format!(
            " {} 已拨 {} 次 下次 {}{}",
            e.source_label,
            e.attempts,
            beijing_time(e.next_attempt_at.as_ref()),
            if e.callable_now { " (可拨打)" } else { "" }
        )),
        "due" => line.push_str(&format!(
            " 时限 {} {}",
            beijing_time(e.due_at.as_ref()),
            if e.urged {
                "已催单"
            } else if e.warned {
                "已预警"
            } else {
                "即将到期"
            }
        )),
        _ => line.push_str(&format!(
            " 重复申告 {} 不满意 {}",
            e.repeats, e.dissatisfied
        )),
    }
    println!("{line}");
}

fn print_tally(label: &str, t: &pb::SatisfactionTally) {
    println!(
        "{label}: 满意 {} 基本满意 {} 不满意 {} 共 {} 满意率 {:.1}%",
        t.satisfied,
        t.basically_satisfied,
        t.dissatisfied,
        t.total,
        t.rate * 100.0
    );
}

pub(crate) async fn survey(conn: Conn, cmd: SurveyCmd) -> anyhow::Result<()> {
    let mut c = SurveyServiceClient::new(connect_authed(&conn).await?);
    match cmd {
        SurveyCmd::List { list, limit } => {
            let r = c
                .list_survey_work(pb::ListSurveyWorkRequest { list, limit })
                .await?
                .into_inner();
            for e in &r.entries {
                print_entry(e);
            }
            println!("{} 条 entries", r.entries.len());
        }
        SurveyCmd::Record {
            ticket,
            outcome,
            satisfaction,
            comment,
            consent,
            education,
            age_band,
            spending_level,
            operator_opinion,
        } => {
            let r = c
                .record_callback(pb::RecordCallbackRequest {
                    ticket_id: ticket,
                    outcome,
                    satisfaction,
                    comment,
                    consent,
                    profile: Some(pb::CustomerProfile {
                        education,
                        age_band,
                        spending_level,
                        operator_opinion,
                    }),
                })
                .await?
                .into_inner();
            let next = match r.next.as_str() {
                "retry" => format!("下次回访 {}", beijing_time(r.next_attempt_at.as_ref())),
                "unreachable" => "已达最多次数，回访结束 (unreachable)".into(),
                _ => "回访完成 (done)".into(),
            };
            println!(
                "申告单 {} 第 {} 次回访 {}: {next}",
                r.ticket_id, r.attempt, r.outcome
            );
        }
        SurveyCmd::Investigate {
            ticket,
            outcome,
            note,
        } => {
            let i = c
                .investigate(pb::InvestigateRequest {
                    ticket_id: ticket,
                    outcome,
                    note,
                })
                .await?
                .into_inner();
            print!("申告单 {} 调查 #{}: {}", i.ticket_id, i.id, i.outcome_label);
            if i.order_id != 0 {
                print!(
                    " 二次派单 order {} (待高级话务员审核 awaiting a senior's review)",
                    i.order_id
                );
            }
            println!();
        }
        SurveyCmd::Analyses { kind, limit } => {
            let r = c
                .list_analyses(pb::ListAnalysesRequest { kind, limit })
                .await?
                .into_inner();
            for a in &r.analyses {
                print_analysis_line(a);
            }
            println!("{} 份 analyses", r.analyses.len());
        }
        SurveyCmd::Analysis { id } => {
            let a = c
                .get_analysis(pb::GetAnalysisRequest { id })
                .await?
                .into_inner();
            print_analysis_line(&a);
            println!("\n{}", a.body);
        }
        SurveyCmd::Publish { id, note } => {
            let a = c
                .publish_analysis(pb::PublishAnalysisRequest { id, note })
                .await?
                .into_inner();
            print_analysis_line(&a);
        }
        SurveyCmd::Dnc(DncCmd::Add { number, reason }) => {
            let e = c
                .add_do_not_call(pb::AddDoNotCallRequest { number, reason })
                .await?
                .into_inner();
            println!("{} 已加入免打扰名单 (do not call): {}", e.number, e.reason);
        }
        SurveyCmd::Dnc(DncCmd::Remove { number }) => {
            c.remove_do_not_call(pb::RemoveDoNotCallRequest {
                number: number.clone(),
            })
            .await?;
            println!("{number} 已移出免打扰名单 (removed)");
        }
        SurveyCmd::Dnc(DncCmd::List { limit }) => {
            let r = c
                .list_do_not_call(pb::ListDoNotCallRequest { limit })
                .await?
                .into_inner();
            for e in &r.entries {
                println!(
                    "{}\t{}\t{}\t{}",
                    e.number,
                    e.reason,
                    e.added_by,
                    beijing_time(e.added_at.as_ref())
                );
            }
            println!("{} 个号码 numbers", r.entries.len());
        }
        SurveyCmd::Stats { from, to } => {
            let s = c
                .get_survey_stats(pb::GetSurveyStatsRequest {
                    from: from.as_deref().map(parse_time).transpose()?,
                    to: to.as_deref().map(parse_time).transpose()?,
                })
                .await?
                .into_inner();
            println!(
                "{} — {}",
                beijing_time(s.from.as_ref()),
                beijing_time(s.to.as_ref())
            );
            if let Some(t) = &s.overall {
                print_tally("合计", t);
            }
            for g in &s.groups {
                if let Some(t) = &g.tally {
                    let dim = if g.dimension == "branch" {
                        "分局"
                    } else {
                        "故障类型"
                    };
                    print_tally(&format!("{dim} {}", g.key), t);
                }
            }
            println!(
                "回访 {} 次, 未接通 {} 次, 无法联系 {} 户",
                s.attempts, s.not_reached, s.unreachable
            );
            for w in &s.weak_points {
                println!("薄弱环节: {w}");
            }
            for w in &s.warnings {
                println!("二次派单书面警告 {}: {}", w.branch, w.warnings);
            }
        }
    }
    Ok(())
}
