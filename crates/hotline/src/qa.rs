//! `hotline qa ...`: quality inspection and assessments over gRPC (QA1, QA2, SO1, SO4): draw
//! samples, list them, show one with its ticket history and recording, score, play the
//! recording to a file or stdout, a person's summary.

use crate::client::{Conn, beijing_time, connect_authed};
use anyhow::Context;
use clap::Subcommand;
use hotline_proto::v1 as pb;
use hotline_proto::v1::quality_service_client::QualityServiceClient;
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(crate) enum QaCmd {
    /// Draw samples (QA and admins): scheduled (the weekly quota) or random.
    Draw {
        /// scheduled | random
        kind: String,
        /// ISO week, 2026-W50 (default: this week).
        #[arg(long, default_value = "")]
        period: String,
        /// Tickets per agent (0: the configured quota for scheduled, 1 for random).
        #[arg(long, default_value_t = 0)]
        per_agent: u32,
        /// Repeat a draw with this seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Only these agents.
        #[arg(long)]
        agent: Vec<String>,
    },
    /// Samples, newest first.
    List {
        #[arg(long, default_value = "")]
        period: String,
        #[arg(long, default_value = "")]
        agent: String,
        #[arg(long)]
        unscored: bool,
    },
    /// A sample with its ticket's history, recording and scores.
    Show { id: i64 },
    /// Score a sample: `--item greeting=9 --item courtesy=10 ...` (every form item).
    Score {
        id: i64,
        #[arg(long = "item", value_name = "KEY=SCORE")]
        items: Vec<String>,
        #[arg(long, default_value = "")]
        comment: String,
        /// Re-score a scored sample, saying why (QA and admins).
        #[arg(long, default_value = "")]
        rescore_reason: String,
    },
    /// Write a recording's WAV to a file (`-`: stdout).
    Play {
        id: i64,
        #[arg(long, short, default_value = "-")]
        output: PathBuf,
    },
    /// Reviews passed and rejected, escalations, no-answers and scores of a person.
    Summary {
        #[arg(default_value = "")]
        agent: String,
    },
}

fn print_sample(s: &pb::Sample) {
    println!(
        "sample {}  {} ({})  {}  agent {}  ticket {}  seed {}  by {} at {}  {}",
        s.id,
        s.kind,
        s.kind_label,
        s.period,
        s.agent_id,
        s.ticket_id,
        s.seed,
        s.opened_by,
        beijing_time(s.opened_at.as_ref()),
        if s.score_id == 0 {
            "unscored"
        } else {
            "scored"
        }
    );
}

fn print_score(s: &pb::Score) {
    let items: Vec<String> = s
        .items
        .iter()
        .map(|i| format!("{}({})={}/{}", i.item, i.label, i.score, i.max))
        .collect();
    println!(
        "score {}  total {:.2}  by {} ({}) at {}{}  {}  {}",
        s.id,
        s.total,
        s.scored_by,
        s.scored_role,
        beijing_time(s.scored_at.as_ref()),
        if s.superseded_at.is_some() {
            "  [superseded]"
        } else {
            ""
        },
        items.join(" "),
        s.comment
    );
}

pub(crate) async fn qa(conn: Conn, cmd: QaCmd) -> anyhow::Result<()> {
    let mut c = QualityServiceClient::new(connect_authed(&conn).await?);
    match cmd {
        QaCmd::Draw {
            kind,
            period,
            per_agent,
            seed,
            agent,
        } => {
            let d = c
                .draw_samples(pb::DrawSamplesRequest {
                    kind,
                    period,
                    per_agent,
                    seed,
                    agents: agent,
                })
                .await?
                .into_inner();
            println!(
                "draw {}  period {}  seed {}  {} samples",
                d.draw_id,
                d.period,
                d.seed,
                d.samples.len()
            );
            d.samples.iter().for_each(print_sample);
        }
        QaCmd::List {
            period,
            agent,
            unscored,
        } => {
            let l = c
                .list_samples(pb::ListSamplesRequest {
                    period,
                    agent_id: agent,
                    unscored_only: unscored,
                    ..Default::default()
                })
                .await?
                .into_inner();
            l.samples.iter().for_each(print_sample);
        }
        QaCmd::Show { id } => {
            let d = c
                .get_sample(pb::GetSampleRequest { id })
                .await?
                .into_inner();
            if let Some(s) = &d.sample {
                print_sample(s);
            }
            if let Some(t) = &d.ticket {
                println!(
                    "ticket {}  {}  {}  {}",
                    t.id, t.faulty_number, t.status_label, t.description
                );
            }
            for e in &d.history {
                println!(
                    "  {}  {} ({})  {}  {} → {}  {}",
                    beijing_time(e.at.as_ref()),
                    e.actor,
                    e.role,
                    e.action,
                    e.before_status,
                    e.after_status,
                    e.detail
                );
            }
            match &d.recording {
                Some(r) => println!(
                    "recording {}  call {}  {:.1} s  {} Hz × {}  (hotline qa play {})",
                    r.id,
                    r.call_id,
                    r.duration_ms as f64 / 1000.0,
                    r.sample_rate,
                    r.channels,
                    r.id
                ),
                None => println!("no recording"),
            }
            d.scores.iter().for_each(print_score);
        }
        QaCmd::Score {
            id,
            items,
            comment,
            rescore_reason,
        } => {
            let mut map = std::collections::HashMap::new();
            for it in &items {
                let (k, v) = it
                    .split_once('=')
                    .with_context(|| format!("--item {it:?}: use KEY=SCORE"))?;
                let v: u32 = v
                    .trim()
                    .parse()
                    .with_context(|| format!("--item {it:?}: the score is a whole number"))?;
                map.insert(k.trim().to_string(), v);
            }
            let s = c
                .score_sample(pb::ScoreSampleRequest {
                    sample_id: id,
                    items: map,
                    comment,
                    rescore_reason,
                })
                .await?
                .into_inner();
            print_score(&s);
        }
        QaCmd::Play { id, output } => {
            let mut stream = c
                .play_recording(pb::PlayRecordingRequest { id, sample_id: 0 })
                .await?
                .into_inner();
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.message().await? {
                bytes.extend_from_slice(&chunk.data);
            }
            if output.as_os_str() == "-" {
                std::io::stdout().write_all(&bytes)?;
            } else {
                std::fs::write(&output, &bytes)
                    .with_context(|| format!("writing {}", output.display()))?;
                eprintln!("{} bytes written to {}", bytes.len(), output.display());
            }
        }
        QaCmd::Summary { agent } => {
            let s = c
                .person_summary(pb::PersonSummaryRequest {
                    agent_id: agent,
                    ..Default::default()
                })
                .await?
                .into_inner();
            println!(
                "{}: reviews passed {}, rejected {}; escalations {}; offers not answered {}; scores {} (average {})",
                s.agent_id,
                s.reviews_passed,
                s.reviews_rejected,
                s.escalations,
                s.no_answers,
                s.scores,
                s.average_score
                    .map(|a| format!("{a:.2}"))
                    .unwrap_or_else(|| "-".into())
            );
        }
    }
    Ok(())
}
