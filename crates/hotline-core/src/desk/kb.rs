//! The knowledge base (DM1, DM2, DM3, DM4, DM6, SO7): articles in the store (the source of
//! truth, every version kept), a tantivy index over them (`hotline_kb`) that this module keeps
//! in step, search and suggestions where agents work, and classification tags.
//!
//! The index follows the store's KB generation: [`Knowledge::sync`] re-indexes the articles
//! changed since the generation the index was committed at, or rebuilds it whole when it is
//! missing, unreadable, or disagrees with the store. It runs at start-up, after every change
//! made here, and periodically ([`Knowledge::spawn_refresh`]) for changes made by other nodes.

use super::Desk;
use crate::auth::Principal;
use crate::error::CoreError;
use hotline_domain::kb::{
    self, ArticleAction, ArticleDraft, ArticleState, KbRefusal, TagScope, is_keeper,
};
use hotline_domain::{FaultType, TicketId, Timestamp, ValidationError};
use hotline_kb::{ArticleDoc, DiffLine, Hit, KbError, KbIndex, SearchQuery, Segmenter};
use hotline_store::{ArticleRecord, ArticleVersion, ArticleWrite, NewArticle, TagCount};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Most characters of a search text.
pub const MAX_QUERY: usize = 200;

/// The knowledge base over the desk's store and an index (cheap to clone).
#[derive(Clone)]
pub struct Knowledge {
    desk: Desk,
    index: Arc<KbIndex>,
    /// One sync at a time, so the index never goes back to an older article.
    syncing: Arc<tokio::sync::Mutex<()>>,
}

/// What a sync did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synced {
    /// Nothing had changed.
    Current,
    /// These articles were re-indexed.
    Updated(usize),
    /// The index was rebuilt whole with this many articles.
    Rebuilt(usize),
}

/// A search as asked.
#[derive(Clone, Debug, Default)]
pub struct Search {
    pub query: String,
    pub fault_type: String,
    pub tags: Vec<String>,
    pub include_unpublished: bool,
    pub limit: u32,
}

fn refusal(r: KbRefusal) -> CoreError {
    match r {
        KbRefusal::RoleMayNot { role, what } => CoreError::Forbidden {
            role: role.as_str(),
            what: match what {
                "create" => "create an article",
                "edit" => "edit an article",
                _ => "change an article's state",
            },
        },
        r @ (KbRefusal::StaleVersion { .. } | KbRefusal::WrongState { .. }) => {
            CoreError::NotReady(r.to_string())
        }
    }
}

fn index_error(e: KbError) -> CoreError {
    match e {
        KbError::NoSearchTerms => ValidationError::new(
            "query",
            "has no words to search for (only punctuation or spaces)",
        )
        .into(),
        KbError::Index(msg) => CoreError::Internal(msg),
    }
}

fn doc(a: &ArticleRecord) -> ArticleDoc {
    ArticleDoc {
        id: a.id,
        title: a.title.clone(),
        body: a.body.clone(),
        tags: a.tags.clone(),
        fault_types: a
            .fault_types
            .iter()
            .map(|f| f.as_str().to_string())
            .collect(),
        state: a.state.as_str().into(),
        version: a.version,
        updated_at: a.updated_at.0,
    }
}

fn fault_type(field: &'static str, s: &str) -> Result<Option<FaultType>, ValidationError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    FaultType::parse(s.trim()).map(Some).ok_or_else(|| {
        ValidationError::new(
            field,
            format!(
                "unknown fault type {s:?}; use one of {}",
                FaultType::ALL.map(FaultType::as_str).join(", ")
            ),
        )
    })
}

fn query_text(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let n = s.chars().count();
    if n > MAX_QUERY {
        return Err(ValidationError::new(
            field,
            format!("is {n} characters long; at most {MAX_QUERY} are allowed"),
        ));
    }
    Ok(s.trim().to_string())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KbError> + Send + 'static,
) -> Result<T, CoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Internal(format!("search task: {e}")))?
        .map_err(index_error)
}

impl Knowledge {
    /// Opens the index in `dir` (`None`: in memory) and brings it in step with the store.
    pub async fn open(desk: Desk, dir: Option<PathBuf>) -> Result<Knowledge, CoreError> {
        let (index, opened) =
            blocking(move || KbIndex::open(dir.as_deref(), Segmenter::shared())).await?;
        tracing::info!(?opened, generation = ?index.generation(), "KB index open");
        let kb = Knowledge {
            desk,
            index: Arc::new(index),
            syncing: Arc::new(tokio::sync::Mutex::new(())),
        };
        kb.sync().await?;
        Ok(kb)
    }

    /// The index (for its generation and size).
    pub fn index(&self) -> &KbIndex {
        &self.index
    }

    /// Brings the index in step with the store.
    #[tracing::instrument(skip(self))]
    pub async fn sync(&self) -> Result<Synced, CoreError> {
        let _one = self.syncing.lock().await;
        let store = &self.desk.store;
        // read before the articles: what changes meanwhile is re-read next time
        let db_gen = store.kb_generation().await?;
        let indexed = self.index.generation();
        let current = match indexed {
            Some(g) if g <= db_gen => g,
            _ => return self.rebuild(db_gen).await,
        };
        if current == db_gen {
            return Ok(Synced::Current);
        }
        let changed: Vec<ArticleDoc> = store
            .articles_changed_since(current)
            .await?
            .iter()
            .map(doc)
            .collect();
        let n = changed.len();
        let index = self.index.clone();
        blocking(move || index.upsert(&changed, db_gen)).await?;
        if self.index.len() != store.count_articles().await? as u64 {
            tracing::warn!("KB index disagrees with the store on the number of articles");
            return self.rebuild(db_gen).await;
        }
        Ok(Synced::Updated(n))
    }

    async fn rebuild(&self, db_gen: i64) -> Result<Synced, CoreError> {
        let all: Vec<ArticleDoc> = self
            .desk
            .store
            .articles_changed_since(-1)
            .await?
            .iter()
            .map(doc)
            .collect();
        let index = self.index.clone();
        let n = blocking(move || index.replace_all(all, db_gen)).await?;
        tracing::info!(articles = n, generation = db_gen, "KB index rebuilt");
        Ok(Synced::Rebuilt(n))
    }

    /// Syncs every `period` until `cancel` (changes made through other nodes).
    pub fn spawn_refresh(
        &self,
        period: Duration,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let kb = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(period) => {}
                }
                if let Err(e) = kb.sync().await {
                    tracing::warn!(error = %e, "KB index refresh failed");
                }
            }
        })
    }

    /// After a change: the store has it; the index catches up now or at the next sync.
    async fn after_change(&self) {
        if let Err(e) = self.sync().await {
            tracing::warn!(error = %e, "KB index not updated; the next sync retries");
        }
    }

    fn now(&self) -> Timestamp {
        self.desk.clock.now()
    }

    /// The data manager writes an article: a draft, or straight into review (DM1).
    #[tracing::instrument(skip(self, draft), fields(agent = %who.agent_id))]
    pub async fn create(
        &self,
        who: &Principal,
        draft: &ArticleDraft,
        submit: bool,
        note: &str,
    ) -> Result<ArticleRecord, CoreError> {
        let content = draft.validate()?;
        if !is_keeper(who.role) {
            return Err(refusal(KbRefusal::RoleMayNot {
                role: who.role,
                what: "create",
            }));
        }
        let state = kb::initial_state(who.role, submit).map_err(refusal)?;
        let a = self
            .desk
            .store
            .create_article(
                &NewArticle {
                    content,
                    state,
                    ticket_id: None,
                    note: note.into(),
                },
                &who.agent_id,
                self.now(),
            )
            .await?;
        self.after_change().await;
        Ok(a)
    }

    /// A senior submits a difficult case with its answer from a ticket (SO7): in review,
    /// linked to the ticket.
    #[tracing::instrument(skip(self, draft), fields(agent = %who.agent_id))]
    pub async fn submit_case(
        &self,
        who: &Principal,
        ticket: TicketId,
        draft: &ArticleDraft,
        note: &str,
    ) -> Result<ArticleRecord, CoreError> {
        let content = draft.validate()?;
        let state = kb::initial_state(who.role, true).map_err(refusal)?;
        let a = self
            .desk
            .store
            .create_article(
                &NewArticle {
                    content,
                    state,
                    ticket_id: Some(ticket),
                    note: note.into(),
                },
                &who.agent_id,
                self.now(),
            )
            .await?;
        self.after_change().await;
        Ok(a)
    }

    /// Replaces an article's content; refused with the current version unless `expected` is
    /// it (DM2).
    #[tracing::instrument(skip(self, draft), fields(agent = %who.agent_id))]
    pub async fn edit(
        &self,
        who: &Principal,
        id: i64,
        expected: i64,
        draft: &ArticleDraft,
        note: &str,
    ) -> Result<ArticleRecord, CoreError> {
        let content = draft.validate()?;
        let a = self.desk.store.get_article(id).await?;
        kb::may_edit(who.role, a.state).map_err(refusal)?;
        kb::check_version(id, expected, a.version).map_err(refusal)?;
        match self
            .desk
            .store
            .edit_article(id, expected, &content, &who.agent_id, note, self.now())
            .await?
        {
            ArticleWrite::Done(a) => {
                self.after_change().await;
                Ok(a)
            }
            ArticleWrite::Stale { current } => Err(refusal(KbRefusal::StaleVersion {
                article: id,
                expected,
                current,
            })),
        }
    }

    /// Submit, publish, return, retire or reopen an article at version `expected`.
    #[tracing::instrument(skip(self), fields(agent = %who.agent_id))]
    pub async fn change_state(
        &self,
        who: &Principal,
        id: i64,
        expected: i64,
        action: ArticleAction,
        note: &str,
    ) -> Result<ArticleRecord, CoreError> {
        let a = self.desk.store.get_article(id).await?;
        let to = kb::transition(who.role, a.state, action).map_err(refusal)?;
        kb::check_version(id, expected, a.version).map_err(refusal)?;
        match self
            .desk
            .store
            .set_article_state(id, expected, to, action, &who.agent_id, note, self.now())
            .await?
        {
            ArticleWrite::Done(a) => {
                self.after_change().await;
                Ok(a)
            }
            ArticleWrite::Stale { current } => Err(refusal(KbRefusal::StaleVersion {
                article: id,
                expected,
                current,
            })),
        }
    }

    /// Whether `who` may see `a`: the keepers everything, others published articles and the
    /// cases they submitted.
    fn visible(who: &Principal, a: &ArticleRecord) -> bool {
        is_keeper(who.role) || a.state == ArticleState::Published || a.created_by == who.agent_id
    }

    /// The article and every version of it.
    pub async fn get(
        &self,
        who: &Principal,
        id: i64,
    ) -> Result<(ArticleRecord, Vec<ArticleVersion>), CoreError> {
        let a = self.desk.store.get_article(id).await?;
        if !Self::visible(who, &a) {
            // not revealed as existing
            return Err(CoreError::NotFound(format!("article {id}")));
        }
        let versions = self.desk.store.article_versions(id).await?;
        Ok((a, versions))
    }

    /// A line diff from version `from` to version `to` (the title as a `# ` first line).
    pub async fn diff(
        &self,
        who: &Principal,
        id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<DiffLine>, CoreError> {
        let (_, versions) = self.get(who, id).await?;
        let pick = |field: &'static str, v: i64| {
            versions
                .iter()
                .find(|x| x.version == v)
                .map(|x| format!("# {}\n{}\n", x.title, x.body))
                .ok_or_else(|| {
                    CoreError::from(ValidationError::new(
                        field,
                        format!("article {id} has no version {v} (1..={})", versions.len()),
                    ))
                })
        };
        let old = pick("from_version", from)?;
        let new = pick("to_version", to)?;
        Ok(hotline_kb::diff_lines(&old, &new))
    }

    /// Articles in `state` (`None`: any); others than the keepers see published ones only.
    pub async fn list(
        &self,
        who: &Principal,
        state: Option<ArticleState>,
        limit: u32,
    ) -> Result<Vec<ArticleRecord>, CoreError> {
        let state = if is_keeper(who.role) {
            state
        } else {
            Some(ArticleState::Published)
        };
        Ok(self.desk.store.list_articles(state, limit).await?)
    }

    /// Full-text search (DM6). Others than the keepers search published articles only.
    #[tracing::instrument(skip(self, s), fields(agent = %who.agent_id))]
    pub async fn search(&self, who: &Principal, s: &Search) -> Result<Vec<Hit>, CoreError> {
        let text = query_text("query", &s.query)?;
        let ft = fault_type("fault_type", &s.fault_type)?;
        let tags = kb::tags("tags", &s.tags)?;
        if text.is_empty() && ft.is_none() && tags.is_empty() {
            return Err(ValidationError::new("query", "is empty: type what to search for").into());
        }
        let states = if s.include_unpublished && is_keeper(who.role) {
            Vec::new()
        } else {
            vec![ArticleState::Published.as_str().to_string()]
        };
        let q = SearchQuery {
            text,
            fault_type: ft.map(|f| f.as_str().to_string()),
            fault_type_boost: false,
            tags,
            states,
            limit: if s.limit == 0 {
                10
            } else {
                s.limit.min(100) as usize
            },
        };
        let index = self.index.clone();
        blocking(move || index.search(&q)).await
    }

    /// The top published articles for the caller's fault type and the text typed so far
    /// (screen pop, ticket form). Text without words and no fault type: nothing.
    pub async fn suggest(
        &self,
        fault_type_name: &str,
        text: &str,
        limit: u32,
    ) -> Result<Vec<Hit>, CoreError> {
        let text = query_text("text", text)?;
        let ft = fault_type("fault_type", fault_type_name)?;
        let has_words = !Segmenter::shared().terms(&text).is_empty();
        if !has_words && ft.is_none() {
            return Ok(Vec::new());
        }
        let q = SearchQuery {
            text: if has_words { text } else { String::new() },
            fault_type: ft.map(|f| f.as_str().to_string()),
            fault_type_boost: true,
            tags: Vec::new(),
            states: vec![ArticleState::Published.as_str().to_string()],
            limit: if limit == 0 {
                5
            } else {
                limit.min(20) as usize
            },
        };
        let index = self.index.clone();
        blocking(move || index.search(&q)).await
    }

    /// Classifies a ticket (DM3) or its survey result (DM4); returns its tags in `scope`.
    pub async fn tag_ticket(
        &self,
        who: &Principal,
        ticket: TicketId,
        scope: TagScope,
        tags: &[String],
    ) -> Result<Vec<String>, CoreError> {
        let tags = kb::tags("tags", tags)?;
        if tags.is_empty() {
            return Err(ValidationError::new("tags", "name at least one tag").into());
        }
        Ok(self
            .desk
            .store
            .tag_ticket(ticket, scope, &tags, &who.agent_id, self.now())
            .await?)
    }

    /// How many tickets carry each tag in `scope`, tagged in `[from, to)`.
    pub async fn count_by_tag(
        &self,
        scope: TagScope,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<TagCount>, CoreError> {
        if to.0 <= from.0 {
            return Err(ValidationError::new("to", "must be after from").into());
        }
        Ok(self.desk.store.count_by_tag(scope, from, to).await?)
    }
}
