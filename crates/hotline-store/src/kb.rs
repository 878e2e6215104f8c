//! The knowledge base (DM1, DM2, DM6, SO7) and classification tags (DM3, DM4).
//!
//! Articles keep every version whole in `kb_article_versions` (who, when, what kind of change),
//! so any two can be diffed. Every write is guarded by the article's `version` (optimistic
//! concurrency): a write on a stale version changes nothing and returns the current version
//! ([`ArticleWrite::Stale`]). Every article change bumps `kb_state.generation` in the same
//! transaction and stamps the article with it; a search index that knows the generation it
//! reflects re-reads only [`Store::articles_changed_since`].

use crate::rows::parse;
use crate::{Result, Store, StoreError};
use hotline_domain::kb::{ArticleAction, ArticleChange, ArticleContent, ArticleState, TagScope};
use hotline_domain::{FaultType, TicketId, Timestamp};
use sqlx::Row;

/// An article as stored (its current version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArticleRecord {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub fault_types: Vec<FaultType>,
    pub state: ArticleState,
    pub version: i64,
    /// The ticket a senior submitted it from (SO7).
    pub ticket_id: Option<TicketId>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_by: String,
    pub updated_at: Timestamp,
    /// The KB generation of its last change.
    pub generation: i64,
}

/// One stored version of an article.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArticleVersion {
    pub article_id: i64,
    pub version: i64,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub fault_types: Vec<FaultType>,
    pub state: ArticleState,
    /// What the change was.
    pub change: ArticleChange,
    pub note: String,
    pub changed_by: String,
    pub changed_at: Timestamp,
}

/// A new article.
#[derive(Clone, Debug)]
pub struct NewArticle {
    pub content: ArticleContent,
    pub state: ArticleState,
    pub ticket_id: Option<TicketId>,
    pub note: String,
}

/// A guarded write's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArticleWrite {
    Done(ArticleRecord),
    /// The article is at `current`, not the version the write was made on; nothing changed.
    Stale {
        current: i64,
    },
}

/// How many tickets carry a tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagCount {
    pub tag: String,
    pub tickets: i64,
}

fn join<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| s.as_ref())
        .collect::<Vec<_>>()
        .join("\n")
}

fn split(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn fault_types(s: &str) -> Result<Vec<FaultType>> {
    split(s)
        .iter()
        .map(|f| parse("fault type", f, FaultType::parse))
        .collect()
}

fn fault_type_names(f: &[FaultType]) -> String {
    join(&f.iter().map(|f| f.as_str()).collect::<Vec<_>>())
}

const COLUMNS: &str = "SELECT id, title, body, tags, fault_types, state, version, ticket_id, created_by, created_at, updated_by, updated_at, generation FROM kb_articles";

fn article(r: &sqlx::any::AnyRow) -> Result<ArticleRecord> {
    Ok(ArticleRecord {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        tags: split(&r.try_get::<String, _>("tags")?),
        fault_types: fault_types(&r.try_get::<String, _>("fault_types")?)?,
        state: parse(
            "article state",
            &r.try_get::<String, _>("state")?,
            ArticleState::parse,
        )?,
        version: r.try_get("version")?,
        ticket_id: r.try_get("ticket_id")?,
        created_by: r.try_get("created_by")?,
        created_at: Timestamp(r.try_get("created_at")?),
        updated_by: r.try_get("updated_by")?,
        updated_at: Timestamp(r.try_get("updated_at")?),
        generation: r.try_get("generation")?,
    })
}

fn version(r: &sqlx::any::AnyRow) -> Result<ArticleVersion> {
    Ok(ArticleVersion {
        article_id: r.try_get("article_id")?,
        version: r.try_get("version")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        tags: split(&r.try_get::<String, _>("tags")?),
        fault_types: fault_types(&r.try_get::<String, _>("fault_types")?)?,
        state: parse(
            "article state",
            &r.try_get::<String, _>("state")?,
            ArticleState::parse,
        )?,
        change: parse(
            "article change",
            &r.try_get::<String, _>("change")?,
            ArticleChange::parse,
        )?,
        note: r.try_get("note")?,
        changed_by: r.try_get("changed_by")?,
        changed_at: Timestamp(r.try_get("changed_at")?),
    })
}

/// Bumps the KB generation (inside the caller's transaction) and returns the new one. The
/// row lock serialises writers, so generations become visible in commit order.
async fn bump(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    sqlx::query("UPDATE kb_state SET generation = generation + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT generation FROM kb_state WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?,
    )
}

async fn insert_version(
    conn: &mut sqlx::AnyConnection,
    a: &ArticleRecord,
    change: ArticleChange,
    note: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO kb_article_versions (article_id, version, title, body, tags, fault_types, state, change, note, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(a.id)
        .bind(a.version)
        .bind(a.title.as_str())
        .bind(a.body.as_str())
        .bind(join(&a.tags))
        .bind(fault_type_names(&a.fault_types))
        .bind(a.state.as_str())
        .bind(change.as_str())
        .bind(note)
        .bind(a.updated_by.as_str())
        .bind(a.updated_at.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What a guarded write changes.
enum Change<'a> {
    Content(&'a ArticleContent),
    State(ArticleState),
}

impl Store {
    /// Stores a new article at version 1 (and its first version row).
    pub async fn create_article(
        &self,
        a: &NewArticle,
        by: &str,
        now: Timestamp,
    ) -> Result<ArticleRecord> {
        if let Some(t) = a.ticket_id {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE id = $1")
                .bind(t)
                .fetch_optional(&self.pool)
                .await?;
            if found.is_none() {
                return Err(StoreError::NotFound(format!("ticket {t}")));
            }
        }
        let mut tx = self.begin_write().await?;
        let generation = bump(&mut tx).await?;
        let c = &a.content;
        let id: i64 = sqlx::query_scalar("INSERT INTO kb_articles (title, body, tags, fault_types, state, version, ticket_id, created_by, created_at, updated_by, updated_at, generation) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(c.title.as_str())
            .bind(c.body.as_str())
            .bind(join(&c.tags))
            .bind(fault_type_names(&c.fault_types))
            .bind(a.state.as_str())
            .bind(a.ticket_id)
            .bind(by)
            .bind(now.0)
            .bind(by)
            .bind(now.0)
            .bind(generation)
            .fetch_one(&mut *tx)
            .await?;
        let rec = ArticleRecord {
            id,
            title: c.title.clone(),
            body: c.body.clone(),
            tags: c.tags.clone(),
            fault_types: c.fault_types.clone(),
            state: a.state,
            version: 1,
            ticket_id: a.ticket_id,
            created_by: by.into(),
            created_at: now,
            updated_by: by.into(),
            updated_at: now,
            generation,
        };
        insert_version(&mut tx, &rec, ArticleChange::Create, &a.note).await?;
        tx.commit().await?;
        tracing::info!(article = id, state = a.state.as_str(), "KB article created");
        Ok(rec)
    }

    /// Replaces an article's content, if it is still at `expected` (the new version is
    /// `expected + 1`).
    pub async fn edit_article(
        &self,
        id: i64,
        expected: i64,
        content: &ArticleContent,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<ArticleWrite> {
        self.guarded(
            id,
            expected,
            Change::Content(content),
            ArticleChange::Edit,
            by,
            note,
            now,
        )
        .await
    }

    /// Moves an article to `state` by `action`, if it is still at `expected`.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_article_state(
        &self,
        id: i64,
        expected: i64,
        state: ArticleState,
        action: ArticleAction,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<ArticleWrite> {
        self.guarded(
            id,
            expected,
            Change::State(state),
            action.into(),
            by,
            note,
            now,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn guarded(
        &self,
        id: i64,
        expected: i64,
        what: Change<'_>,
        change: ArticleChange,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<ArticleWrite> {
        let mut tx = self.begin_write().await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM kb_articles WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(current) = current else {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("article {id}")));
        };
        if current != expected {
            tx.rollback().await?;
            return Ok(ArticleWrite::Stale { current });
        }
        let generation = bump(&mut tx).await?;
        let done = match what {
            Change::Content(c) => sqlx::query("UPDATE kb_articles SET title = $1, body = $2, tags = $3, fault_types = $4, version = version + 1, updated_by = $5, updated_at = $6, generation = $7 WHERE id = $8 AND version = $9")
                .bind(c.title.as_str())
                .bind(c.body.as_str())
                .bind(join(&c.tags))
                .bind(fault_type_names(&c.fault_types))
                .bind(by)
                .bind(now.0)
                .bind(generation)
                .bind(id)
                .bind(expected)
                .execute(&mut *tx)
                .await?,
            Change::State(s) => sqlx::query("UPDATE kb_articles SET state = $1, version = version + 1, updated_by = $2, updated_at = $3, generation = $4 WHERE id = $5 AND version = $6")
                .bind(s.as_str())
                .bind(by)
                .bind(now.0)
                .bind(generation)
                .bind(id)
                .bind(expected)
                .execute(&mut *tx)
                .await?,
        };
        if done.rows_affected() != 1 {
            // changed between the read and the update (PostgreSQL, read committed)
            tx.rollback().await?;
            let current = self.get_article(id).await?.version;
            return Ok(ArticleWrite::Stale { current });
        }
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let rec = article(&r)?;
        insert_version(&mut tx, &rec, change, note).await?;
        tx.commit().await?;
        tracing::info!(
            article = id,
            version = rec.version,
            change = change.as_str(),
            "KB article changed"
        );
        Ok(ArticleWrite::Done(rec))
    }

    pub async fn get_article(&self, id: i64) -> Result<ArticleRecord> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("article {id}")))?;
        article(&r)
    }

    /// Articles in a state (`None` = any), newest change first.
    pub async fn list_articles(
        &self,
        state: Option<ArticleState>,
        limit: u32,
    ) -> Result<Vec<ArticleRecord>> {
        let limit = i64::from(limit.clamp(1, 1000));
        let rows = match state {
            Some(s) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{COLUMNS} WHERE state = $1 ORDER BY updated_at DESC, id DESC LIMIT $2"
                )))
                .bind(s.as_str())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{COLUMNS} ORDER BY updated_at DESC, id DESC LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(article).collect()
    }

    /// Every version of an article, oldest first.
    pub async fn article_versions(&self, id: i64) -> Result<Vec<ArticleVersion>> {
        let rows = sqlx::query("SELECT article_id, version, title, body, tags, fault_types, state, change, note, changed_by, changed_at FROM kb_article_versions WHERE article_id = $1 ORDER BY version")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound(format!("article {id}")));
        }
        rows.iter().map(version).collect()
    }

    /// The KB generation: bumped by every article change.
    pub async fn kb_generation(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT generation FROM kb_state WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Articles whose last change came after generation `after` (all of them for `after` <
    /// 1), oldest change first.
    pub async fn articles_changed_since(&self, after: i64) -> Result<Vec<ArticleRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE generation > $1 ORDER BY generation"
        )))
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(article).collect()
    }

    /// How many articles there are.
    pub async fn count_articles(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM kb_articles")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Puts classification tags on a ticket (DM3) or its survey result (DM4); a tag it already
    /// has is kept as it was. Returns the ticket's tags in `scope` afterwards.
    pub async fn tag_ticket(
        &self,
        ticket: TicketId,
        scope: TagScope,
        tags: &[String],
        by: &str,
        now: Timestamp,
    ) -> Result<Vec<String>> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE id = $1")
            .bind(ticket)
            .fetch_optional(&self.pool)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!("ticket {ticket}")));
        }
        let mut tx = self.begin_write().await?;
        for t in tags {
            sqlx::query("INSERT INTO ticket_tags (ticket_id, scope, tag, tagged_by, tagged_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_id, scope, tag) DO NOTHING")
                .bind(ticket)
                .bind(scope.as_str())
                .bind(t.as_str())
                .bind(by)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.ticket_tags(ticket, scope).await
    }

    /// A ticket's tags in `scope`, in code-point order (the same on both backends, whatever
    /// the database's collation).
    pub async fn ticket_tags(&self, ticket: TicketId, scope: TagScope) -> Result<Vec<String>> {
        let mut tags: Vec<String> =
            sqlx::query_scalar("SELECT tag FROM ticket_tags WHERE ticket_id = $1 AND scope = $2")
                .bind(ticket)
                .bind(scope.as_str())
                .fetch_all(&self.pool)
                .await?;
        tags.sort();
        Ok(tags)
    }

    /// How many tickets carry each tag in `scope`, tagged in `[from, to)`, most first (ties
    /// in code-point order of the tag).
    pub async fn count_by_tag(
        &self,
        scope: TagScope,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<TagCount>> {
        let rows = sqlx::query("SELECT tag, COUNT(*) AS n FROM ticket_tags WHERE scope = $1 AND tagged_at >= $2 AND tagged_at < $3 GROUP BY tag")
            .bind(scope.as_str())
            .bind(from.0)
            .bind(to.0)
            .fetch_all(&self.pool)
            .await?;
        let mut counts = rows
            .iter()
            .map(|r| {
                Ok(TagCount {
                    tag: r.try_get("tag")?,
                    tickets: r.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        counts.sort_by(|a, b| b.tickets.cmp(&a.tickets).then_with(|| a.tag.cmp(&b.tag)));
        Ok(counts)
    }
}
