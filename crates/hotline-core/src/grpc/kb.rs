//! `hotline.v1.KnowledgeService`: articles (DM1, DM2), difficult cases from tickets (SO7),
//! search and suggestions (DM6), classification tags (DM3, DM4). Who may call what is the
//! permission matrix's; the operations and the rules on states, versions and visibility are
//! `desk::kb`'s. Handlers validate the request, call the desk and convert the result.

use super::{caller, positive_id, text};
use crate::convert;
use crate::desk::kb::{Knowledge, Search};
use crate::error::CoreError;
use hotline_domain::ValidationError;
use hotline_domain::kb::{ArticleAction, ArticleDraft, ArticleState, TagScope};
use hotline_kb::{Highlighted, Hit, LineChange};
use hotline_proto::v1 as pb;
use hotline_proto::v1::knowledge_service_server::KnowledgeService;
use hotline_store::{ArticleRecord, ArticleVersion};
use tonic::{Request, Response, Status};

pub struct Kb {
    pub kb: Knowledge,
}

type R<T> = Result<Response<T>, Status>;

fn names(f: &[hotline_domain::FaultType]) -> Vec<String> {
    f.iter().map(|f| f.as_str().to_string()).collect()
}

pub fn article(a: &ArticleRecord) -> pb::Article {
    pb::Article {
        id: a.id,
        title: a.title.clone(),
        body: a.body.clone(),
        tags: a.tags.clone(),
        fault_types: names(&a.fault_types),
        state: a.state.as_str().into(),
        state_label: a.state.label_zh().into(),
        version: a.version,
        ticket_id: a.ticket_id.unwrap_or(0),
        created_by: a.created_by.clone(),
        created_at: Some(convert::ts(a.created_at)),
        updated_by: a.updated_by.clone(),
        updated_at: Some(convert::ts(a.updated_at)),
    }
}

fn version(v: &ArticleVersion) -> pb::ArticleVersion {
    pb::ArticleVersion {
        version: v.version,
        title: v.title.clone(),
        body: v.body.clone(),
        tags: v.tags.clone(),
        fault_types: names(&v.fault_types),
        state: v.state.as_str().into(),
        change: v.change.as_str().into(),
        note: v.note.clone(),
        changed_by: v.changed_by.clone(),
        changed_at: Some(convert::ts(v.changed_at)),
    }
}

fn highlight(h: &Highlighted) -> pb::Highlight {
    pb::Highlight {
        text: h.text.clone(),
        ranges: h
            .ranges
            .iter()
            .map(|(s, e)| pb::Range {
                start: *s as u32,
                end: *e as u32,
            })
            .collect(),
    }
}

fn hits(h: Vec<Hit>) -> pb::SearchArticlesResponse {
    pb::SearchArticlesResponse {
        hits: h
            .iter()
            .map(|h| pb::ArticleHit {
                id: h.id,
                score: h.score,
                title: Some(highlight(&h.title)),
                snippet: Some(highlight(&h.snippet)),
                tags: h.tags.clone(),
                fault_types: h.fault_types.clone(),
                state: h.state.clone(),
                version: h.version,
            })
            .collect(),
    }
}

fn draft(c: Option<pb::ArticleContent>) -> Result<ArticleDraft, ValidationError> {
    let c = c.ok_or_else(|| ValidationError::new("content", "is required"))?;
    Ok(ArticleDraft {
        title: c.title,
        body: c.body,
        tags: c.tags,
        fault_types: c.fault_types,
    })
}

fn expected(v: i64) -> Result<i64, ValidationError> {
    if v <= 0 {
        return Err(ValidationError::new(
            "expected_version",
            format!("must be the version the change was made on (1 or more), got {v}"),
        ));
    }
    Ok(v)
}

fn limit(n: i32) -> Result<u32, ValidationError> {
    if n < 0 {
        return Err(ValidationError::new("limit", "must not be negative"));
    }
    Ok(n as u32)
}

fn scope(s: &str) -> Result<TagScope, ValidationError> {
    TagScope::parse(s).ok_or_else(|| {
        ValidationError::new(
            "scope",
            format!("unknown scope {s:?}; use ticket or survey"),
        )
    })
}

#[tonic::async_trait]
impl KnowledgeService for Kb {
    async fn create_article(&self, req: Request<pb::CreateArticleRequest>) -> R<pb::Article> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let d = draft(r.content).map_err(CoreError::from)?;
        let note = text("note", &r.note).map_err(CoreError::from)?;
        let a = self.kb.create(&who, &d, r.submit, &note).await?;
        Ok(Response::new(article(&a)))
    }

    async fn submit_case(&self, req: Request<pb::SubmitCaseRequest>) -> R<pb::Article> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let ticket = positive_id("ticket_id", r.ticket_id).map_err(CoreError::from)?;
        let d = draft(r.content).map_err(CoreError::from)?;
        let note = text("note", &r.note).map_err(CoreError::from)?;
        let a = self.kb.submit_case(&who, ticket, &d, &note).await?;
        Ok(Response::new(article(&a)))
    }

    async fn edit_article(&self, req: Request<pb::EditArticleRequest>) -> R<pb::Article> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let v = expected(r.expected_version).map_err(CoreError::from)?;
        let d = draft(r.content).map_err(CoreError::from)?;
        let note = text("note", &r.note).map_err(CoreError::from)?;
        let a = self.kb.edit(&who, id, v, &d, &note).await?;
        Ok(Response::new(article(&a)))
    }

    async fn change_article_state(
        &self,
        req: Request<pb::ChangeArticleStateRequest>,
    ) -> R<pb::Article> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let v = expected(r.expected_version).map_err(CoreError::from)?;
        let action = ArticleAction::parse(&r.action).ok_or_else(|| {
            CoreError::from(ValidationError::new(
                "action",
                format!(
                    "unknown action {:?}; use one of {}",
                    r.action,
                    ArticleAction::ALL.map(ArticleAction::as_str).join(", ")
                ),
            ))
        })?;
        let note = text("note", &r.note).map_err(CoreError::from)?;
        let a = self.kb.change_state(&who, id, v, action, &note).await?;
        Ok(Response::new(article(&a)))
    }

    async fn get_article(&self, req: Request<pb::GetArticleRequest>) -> R<pb::ArticleDetail> {
        let who = caller(&req)?;
        let id = positive_id("id", req.get_ref().id).map_err(CoreError::from)?;
        let (a, versions) = self.kb.get(&who, id).await?;
        Ok(Response::new(pb::ArticleDetail {
            article: Some(article(&a)),
            versions: versions.iter().map(version).collect(),
        }))
    }

    async fn diff_article(
        &self,
        req: Request<pb::DiffArticleRequest>,
    ) -> R<pb::DiffArticleResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let id = positive_id("id", r.id).map_err(CoreError::from)?;
        let from = positive_id("from_version", r.from_version).map_err(CoreError::from)?;
        let to = positive_id("to_version", r.to_version).map_err(CoreError::from)?;
        let lines = self.kb.diff(&who, id, from, to).await?;
        Ok(Response::new(pb::DiffArticleResponse {
            unified: hotline_kb::diff::render(&lines),
            lines: lines
                .into_iter()
                .map(|l| pb::DiffLine {
                    change: match l.change {
                        LineChange::Same => "same",
                        LineChange::Added => "added",
                        LineChange::Removed => "removed",
                    }
                    .into(),
                    text: l.text,
                })
                .collect(),
        }))
    }

    async fn list_articles(
        &self,
        req: Request<pb::ListArticlesRequest>,
    ) -> R<pb::ListArticlesResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let state = if r.state.is_empty() {
            None
        } else {
            Some(ArticleState::parse(&r.state).ok_or_else(|| {
                CoreError::from(ValidationError::new(
                    "state",
                    format!(
                        "unknown state {:?}; use one of {}",
                        r.state,
                        ArticleState::ALL.map(ArticleState::as_str).join(", ")
                    ),
                ))
            })?)
        };
        let n = if r.page_size <= 0 {
            100
        } else {
            r.page_size.min(1000) as u32
        };
        let list = self.kb.list(&who, state, n).await?;
        Ok(Response::new(pb::ListArticlesResponse {
            articles: list.iter().map(article).collect(),
        }))
    }

    async fn search_articles(
        &self,
        req: Request<pb::SearchArticlesRequest>,
    ) -> R<pb::SearchArticlesResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let s = Search {
            query: r.query,
            fault_type: r.fault_type,
            tags: r.tags,
            include_unpublished: r.include_unpublished,
            limit: limit(r.limit).map_err(CoreError::from)?,
        };
        let h = self.kb.search(&who, &s).await?;
        Ok(Response::new(hits(h)))
    }

    async fn suggest_articles(
        &self,
        req: Request<pb::SuggestArticlesRequest>,
    ) -> R<pb::SearchArticlesResponse> {
        caller(&req)?;
        let r = req.into_inner();
        let n = limit(r.limit).map_err(CoreError::from)?;
        let h = self.kb.suggest(&r.fault_type, &r.text, n).await?;
        Ok(Response::new(hits(h)))
    }

    async fn tag_ticket(&self, req: Request<pb::TagTicketRequest>) -> R<pb::TagTicketResponse> {
        let who = caller(&req)?;
        let r = req.into_inner();
        let ticket = positive_id("ticket_id", r.ticket_id).map_err(CoreError::from)?;
        let scope = scope(&r.scope).map_err(CoreError::from)?;
        let tags = self.kb.tag_ticket(&who, ticket, scope, &r.tags).await?;
        Ok(Response::new(pb::TagTicketResponse { tags }))
    }

    async fn count_by_tag(&self, req: Request<pb::CountByTagRequest>) -> R<pb::CountByTagResponse> {
        caller(&req)?;
        let r = req.into_inner();
        let scope = scope(&r.scope).map_err(CoreError::from)?;
        let from = match &r.from {
            Some(t) => convert::from_ts("from", t).map_err(CoreError::from)?,
            None => hotline_domain::Timestamp(0),
        };
        let to = match &r.to {
            Some(t) => convert::from_ts("to", t).map_err(CoreError::from)?,
            None => hotline_domain::Timestamp(i64::MAX),
        };
        let counts = self.kb.count_by_tag(scope, from, to).await?;
        Ok(Response::new(pb::CountByTagResponse {
            counts: counts
                .into_iter()
                .map(|c| pb::TagCount {
                    tag: c.tag,
                    tickets: c.tickets,
                })
                .collect(),
        }))
    }
}
