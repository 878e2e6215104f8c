//! `hotline kb ...`: the knowledge base over gRPC (DM1, DM2, DM6, SO7): add, submit a case from
//! a ticket, edit on a version, publish/retire, show with versions and diffs, search.

use crate::client::{Conn, beijing_time, connect_authed};
use anyhow::Context;
use clap::Subcommand;
use hotline_proto::v1 as pb;
use hotline_proto::v1::knowledge_service_client::KnowledgeServiceClient;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(crate) enum KbCmd {
    /// Write an article (data manager): a draft, or into review with --submit.
    Add {
        #[command(flatten)]
        content: Content,
        #[arg(long)]
        submit: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Submit a difficult case with its answer from a ticket (senior, SO7).
    Submit {
        /// The ticket the case comes from.
        #[arg(long)]
        ticket: i64,
        #[command(flatten)]
        content: Content,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Replace an article's content, made on version --version (refused if it is stale).
    Edit {
        id: i64,
        #[arg(long)]
        version: i64,
        #[command(flatten)]
        content: Content,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// submit | publish | return | retire | reopen, on version --version.
    State {
        id: i64,
        action: String,
        #[arg(long)]
        version: i64,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Publish an article at version --version.
    Publish {
        id: i64,
        #[arg(long)]
        version: i64,
    },
    /// An article with its versions; --diff FROM:TO prints a diff between two versions.
    Show {
        id: i64,
        #[arg(long)]
        diff: Option<String>,
    },
    /// Articles, newest change first (draft | in_review | published | retired).
    List {
        #[arg(long, default_value = "")]
        state: String,
    },
    /// Full-text search (Chinese words, ASCII, numbers).
    Search {
        query: String,
        #[arg(long, default_value = "")]
        fault: String,
        #[arg(long)]
        tag: Vec<String>,
        /// Drafts and reviews too (data manager).
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 10)]
        limit: i32,
    },
    /// Put classification tags on a ticket (scope ticket) or its survey result (scope survey).
    Tag {
        ticket: i64,
        #[arg(long, default_value = "ticket")]
        scope: String,
        tags: Vec<String>,
    },
    /// How many tickets carry each tag.
    Tags {
        #[arg(long, default_value = "ticket")]
        scope: String,
    },
}

#[derive(clap::Args, Debug)]
pub(crate) struct Content {
    #[arg(long)]
    title: String,
    /// The body (Markdown); or --body-file.
    #[arg(long, default_value = "")]
    body: String,
    #[arg(long)]
    body_file: Option<PathBuf>,
    #[arg(long)]
    tag: Vec<String>,
    /// Fault types (no_dial_tone, noise, ...).
    #[arg(long)]
    fault: Vec<String>,
}

impl Content {
    fn into_pb(self) -> anyhow::Result<pb::ArticleContent> {
        let body = match &self.body_file {
            Some(p) => std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            None => self.body,
        };
        Ok(pb::ArticleContent {
            title: self.title,
            body,
            tags: self.tag,
            fault_types: self.fault,
        })
    }
}

fn print_article(a: &pb::Article) {
    println!("#{} v{} [{}] {}", a.id, a.version, a.state_label, a.title);
    if !a.tags.is_empty() || !a.fault_types.is_empty() {
        println!(
            "  标签 tags: {}  障碍类型 fault types: {}",
            a.tags.join(", "),
            a.fault_types.join(", ")
        );
    }
    if a.ticket_id != 0 {
        println!("  来自申告单 from ticket {}", a.ticket_id);
    }
    println!(
        "  {} {} / {} {}",
        a.created_by,
        beijing_time(a.created_at.as_ref()),
        a.updated_by,
        beijing_time(a.updated_at.as_ref())
    );
}

/// `text` with its highlighted byte ranges in 【】.
fn marked(h: &pb::Highlight) -> String {
    let mut out = String::new();
    let mut at = 0usize;
    for r in &h.ranges {
        let (s, e) = (r.start as usize, r.end as usize);
        if s < at || e > h.text.len() || !h.text.is_char_boundary(s) || !h.text.is_char_boundary(e)
        {
            continue;
        }
        out.push_str(&h.text[at..s]);
        out.push('【');
        out.push_str(&h.text[s..e]);
        out.push('】');
        at = e;
    }
    out.push_str(&h.text[at..]);
    out
}

pub(crate) async fn kb(conn: Conn, cmd: KbCmd) -> anyhow::Result<()> {
    let mut c = KnowledgeServiceClient::new(connect_authed(&conn).await?);
    match cmd {
        KbCmd::Add {
            content,
            submit,
            note,
        } => {
            let a = c
                .create_article(pb::CreateArticleRequest {
                    content: Some(content.into_pb()?),
                    submit,
                    note,
                })
                .await?
                .into_inner();
            print_article(&a);
        }
        KbCmd::Submit {
            ticket,
            content,
            note,
        } => {
            let a = c
                .submit_case(pb::SubmitCaseRequest {
                    ticket_id: ticket,
                    content: Some(content.into_pb()?),
                    note,
                })
                .await?
                .into_inner();
            print_article(&a);
        }
        KbCmd::Edit {
            id,
            version,
            content,
            note,
        } => {
            let a = c
                .edit_article(pb::EditArticleRequest {
                    id,
                    expected_version: version,
                    content: Some(content.into_pb()?),
                    note,
                })
                .await?
                .into_inner();
            print_article(&a);
        }
        KbCmd::State {
            id,
            action,
            version,
            note,
        } => {
            let a = c
                .change_article_state(pb::ChangeArticleStateRequest {
                    id,
                    expected_version: version,
                    action,
                    note,
                })
                .await?
                .into_inner();
            print_article(&a);
        }
        KbCmd::Publish { id, version } => {
            let a = c
                .change_article_state(pb::ChangeArticleStateRequest {
                    id,
                    expected_version: version,
                    action: "publish".into(),
                    note: String::new(),
                })
                .await?
                .into_inner();
            print_article(&a);
        }
        KbCmd::Show { id, diff } => {
            if let Some(d) = diff {
                let (from, to) = d
                    .split_once(':')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                    .context("--diff takes FROM:TO, e.g. 1:2")?;
                let r = c
                    .diff_article(pb::DiffArticleRequest {
                        id,
                        from_version: from,
                        to_version: to,
                    })
                    .await?
                    .into_inner();
                print!("{}", r.unified);
                return Ok(());
            }
            let d = c
                .get_article(pb::GetArticleRequest { id })
                .await?
                .into_inner();
            if let Some(a) = &d.article {
                print_article(a);
                println!("\n{}\n", a.body);
            }
            for v in &d.versions {
                println!(
                    "  v{} {} {} {} {}",
                    v.version,
                    v.change,
                    v.changed_by,
                    beijing_time(v.changed_at.as_ref()),
                    v.note
                );
            }
        }
        KbCmd::List { state } => {
            let r = c
                .list_articles(pb::ListArticlesRequest {
                    state,
                    page_size: 100,
                })
                .await?
                .into_inner();
            for a in &r.articles {
                print_article(a);
            }
        }
        KbCmd::Search {
            query,
            fault,
            tag,
            all,
            limit,
        } => {
            let r = c
                .search_articles(pb::SearchArticlesRequest {
                    query,
                    fault_type: fault,
                    tags: tag,
                    include_unpublished: all,
                    limit,
                })
                .await?
                .into_inner();
            if r.hits.is_empty() {
                println!("没有找到 no article found");
            }
            for h in &r.hits {
                let title = h.title.as_ref().map(marked).unwrap_or_default();
                let snippet = h.snippet.as_ref().map(marked).unwrap_or_default();
                println!("#{} ({:.2}) {}\n    {}", h.id, h.score, title, snippet);
            }
        }
        KbCmd::Tag {
            ticket,
            scope,
            tags,
        } => {
            let r = c
                .tag_ticket(pb::TagTicketRequest {
                    ticket_id: ticket,
                    scope,
                    tags,
                })
                .await?
                .into_inner();
            println!("{}", r.tags.join(", "));
        }
        KbCmd::Tags { scope } => {
            let r = c
                .count_by_tag(pb::CountByTagRequest {
                    scope,
                    from: None,
                    to: None,
                })
                .await?
                .into_inner();
            for t in &r.counts {
                println!("{}\t{}", t.tag, t.tickets);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_are_marked_and_bad_ranges_skipped() {
        let h = pb::Highlight {
            text: "小区突然停电".into(),
            ranges: vec![
                pb::Range { start: 12, end: 18 },
                pb::Range { start: 1, end: 2 },
            ],
        };
        assert_eq!(marked(&h), "小区突然【停电】");
    }
}
