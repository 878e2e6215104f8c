//! Storage of the fault-report desk, on SQLite (default) or PostgreSQL, through sqlx's `Any`
//! driver so one set of queries and one schema serve both.
//!
//! Layout:
//! - [`migrate`]: the schema, applied at start-up (`schema_version` table).
//! - [`tickets`]: tickets, orders, audit trail, deadlines and tasks; every change to a ticket
//!   or order appends an audit row and (for sendable orders) an outbox row in the same
//!   transaction, guarded by the ticket's optimistic version.
//! - [`batch`]: group commit for new tickets: a writer task per shard gathers concurrent
//!   creations into one transaction, so each reply still follows its durable commit; `create`
//!   writes such a batch with a fixed number of statements.
//! - [`agents`]: agents, password hashes (hashed by the caller) and sessions.
//! - [`outbox`]: delivery to the 112 centre: due rows in order per ticket, delivered/failed/
//!   parked marks, centre events applied once and never backwards.
//! - [`alerts`]: the deadline scheduler's queries: due deadlines, alerts, counts.
//! - [`intake`]: text intake: documents, the inbox, the archive search, TE1/TE4 document
//!   deadlines and alerts, retention.
//! - [`voicemail`]: voicemail messages: stored, claimed once, converted or escalated.
//! - [`kb`]: knowledge-base articles with every version kept, guarded by version; the KB
//!   generation a search index follows; classification tags on tickets and surveys.
//! - [`qa`]: quality inspection (QA1, QA2) and seniors' assessments (SO1, SO4): draws and
//!   samples (a ticket once per pool and period), scores kept whole (a re-score supersedes),
//!   call recordings linked to call and ticket, the evidence on a person's record.
//! - [`surveys`]: satisfaction surveys (SS1-SS6, SO5): worklists, callback attempts and
//!   results (once per survey task), SS4 investigations, the facts of the statistics.
//! - [`customers`]: the customer directory (JO8): customers by code, the numbers they own
//!   (one owner each, looked up by primary key), an audit row per change; saves idempotent.
//! - [`reports`]: the reports' aggregation queries (issue 17) and restamping branches.
//! - [`rows`]: row ↔ domain conversions.
//!
//! Invariants: `sqlx::Error` never leaves this crate (it becomes [`StoreError`]); times are
//! integer milliseconds; nothing here reads a clock — callers pass `now`.

pub mod agents;
pub mod alerts;
pub mod analyses;
pub mod batch;
mod create;
pub mod customers;
pub mod intake;
pub mod kb;
pub mod migrate;
pub mod outbound;
pub mod outbox;
pub mod qa;
pub mod queue_log;
pub mod reconcile;
pub mod reports;
pub mod rows;
pub mod scheduled;
pub mod surveys;
pub mod tasks;
pub mod tickets;
pub mod voicemail;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::sync::Arc;
use std::time::Duration;

pub use agents::{AgentRecord, SessionRecord};
pub use alerts::{AlertRecord, DueDeadline, DueLevel};
pub use analyses::{AnalysisRecord, DueAnalysisDeadline, NewAnalysis};
pub use customers::{Change, CustomerAudit, CustomerFilter, CustomerRecord, Expect, Saved};
pub use intake::{DocumentAudit, DocumentFilter, DocumentRecord, DueDocumentDeadline, NewDocument};
pub use kb::{ArticleRecord, ArticleVersion, ArticleWrite, NewArticle, TagCount};
pub use outbound::{DoNotCallEntry, NewClaim, OutboundCallRecord, OutboundClaim};
pub use outbox::{EventOutcome, OutboxRow};
pub use qa::{
    Evidence, NewDraw, NewRecording, NewScore, RecordingRecord, SampleFilter, SampleRecord,
    ScoreRecord,
};
pub use queue_log::QueueLogRow;
pub use reconcile::QuietOrder;
pub use scheduled::ScheduledReportRecord;
pub use surveys::{
    AttemptCounts, CallbackWrite, CallbackWritten, InvestigationRecord, ResultWrite,
    SurveyResultRecord, SurveyState, WarningCount, WorkRow,
};
pub use tasks::{CompleteOutcome, Task};
pub use tickets::{AuditRecord, CommitOutcome, Created, ListFilter, TaskRecord, TicketView};
pub use voicemail::{Finish, NewVoicemail, VoicemailRecord, VoicemailState};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("the ticket was changed by someone else; reload and try again")]
    Conflict,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Db(#[source] sqlx::Error),
    /// The database did not confirm a commit: the change may or may not be stored.
    #[error(
        "the database did not confirm the commit ({0}); it may or may not have been saved: look it up before trying again"
    )]
    OutcomeUnknown(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Duplicate(db.message().to_string());
        }
        StoreError::Db(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The process-wide turn to write, on SQLite: one database-wide write lock that every writer
/// of this process queues for in FIFO order, instead of spinning in SQLite's busy handler
/// (which sleeps 1, 2, 5 … 100 ms between tries and made the tail of every write path).
/// `busy_timeout` stays as the fallback for writers in other processes. PostgreSQL has row
/// locks and needs no turn.
#[derive(Clone, Default)]
pub(crate) struct WriteTurn(Option<Arc<tokio::sync::Mutex<()>>>);

impl WriteTurn {
    fn for_backend(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => WriteTurn(Some(Arc::new(tokio::sync::Mutex::new(())))),
            Backend::Postgres => WriteTurn(None),
        }
    }

    /// Waits for this process's turn to write; the turn ends when the guard drops.
    pub(crate) async fn take(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.0 {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }
}

/// A write transaction holding the process's [`WriteTurn`]. Derefs to the connection, so
/// statements run on `&mut *tx` as on a plain transaction.
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

async fn connect(url: &str, backend: Backend, max_connections: u32) -> Result<AnyPool> {
    let mut pool_opts = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10));
    if backend == Backend::Sqlite {
        pool_opts = pool_opts.after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL with synchronous=FULL: every commit is fsynced, so an acknowledged
                // ticket survives a crash or power loss.
                conn.execute("PRAGMA journal_mode=WAL").await?;
                conn.execute("PRAGMA synchronous=FULL").await?;
                conn.execute("PRAGMA busy_timeout=10000").await?;
                conn.execute("PRAGMA foreign_keys=ON").await?;
                Ok(())
            })
        });
    }
    Ok(pool_opts.connect(url).await?)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How the store is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    /// Group-commit writer shards (PostgreSQL only; SQLite has one writer).
    pub writer_shards: usize,
    /// Most tickets one group commit takes.
    pub max_batch: usize,
}

/// Operator overrides of [`StoreOptions`] (`[store]` in the config file, deserialized as
/// is; unknown keys refused); `None` keeps the built-in value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreTuning {
    /// Connections in the shared pool.
    pub max_connections: Option<u32>,
    /// Group-commit writer shards (PostgreSQL only).
    pub writer_shards: Option<usize>,
    /// Most tickets one group commit takes.
    pub max_batch: Option<usize>,
}

impl StoreTuning {
    /// Refuses values the store cannot work with, naming the setting.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let check = |name: &str, v: Option<usize>, max: usize| match v {
            Some(n) if n == 0 || n > max => Err(format!("store {name}: {n} is not in 1..={max}")),
            _ => Ok(()),
        };
        check(
            "max_connections",
            self.max_connections.map(|n| n as usize),
            1024,
        )?;
        check("writer_shards", self.writer_shards, 64)?;
        check("max_batch", self.max_batch, 4096)
    }
}

impl StoreOptions {
    /// These options with the operator's overrides applied.
    pub fn tuned(mut self, t: &StoreTuning) -> Self {
        if let Some(n) = t.max_connections {
            self.max_connections = n;
        }
        if let Some(n) = t.writer_shards {
            self.writer_shards = n;
        }
        if let Some(n) = t.max_batch {
            self.max_batch = n;
        }
        self
    }

    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            max_connections: 16,
            // one writer, so concurrent creations share commits: with batches written by a
            // fixed number of statements, 64 clients on PostgreSQL gave p99 median 15.9 ms at
            // 1 shard against 21.8 ms at 2 and 20.8 ms at 4, at 6.9–8.7k tickets/s
            // (BENCHMARKS.md); more shards only pay once one writer's connection saturates
            writer_shards: 1,
            max_batch: 256,
        }
    }
}

/// The store: a pool and the group-commit writers. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) batcher: Arc<batch::Batcher>,
    /// SQLite's in-process write lock, shared with the writers and dedicated stores.
    pub(crate) turn: WriteTurn,
    /// Where the pool connects, so a task can open its own connections ([`Store::dedicated`]).
    pub(crate) url: Arc<str>,
}

impl Store {
    /// Connects, applies the schema, and starts the group-commit writers.
    pub async fn open(opts: StoreOptions) -> Result<Store> {
        install_default_drivers();
        let backend = if opts.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if opts.url.starts_with("postgres:") || opts.url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(opts.url));
        };
        let pool = connect(&opts.url, backend, opts.max_connections).await?;
        migrate::run(&pool, backend).await?;
        let shards = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => opts.writer_shards.max(1),
        };
        let turn = WriteTurn::for_backend(backend);
        let batcher =
            batch::Batcher::start(pool.clone(), backend, turn.clone(), shards, opts.max_batch);
        Ok(Store {
            pool,
            backend,
            batcher: Arc::new(batcher),
            turn,
            url: opts.url.into(),
        })
    }

    /// The same store over `max_connections` connections of its own, for a task that must not
    /// wait behind the shared pool (the outbox worker) nor hold its connections. Shares the
    /// group-commit writers; close it with [`Store::close_dedicated`], not [`Store::close`].
    pub async fn dedicated(&self, max_connections: u32) -> Result<Store> {
        let pool = connect(&self.url, self.backend, max_connections.max(1)).await?;
        Ok(Store {
            pool,
            backend: self.backend,
            batcher: self.batcher.clone(),
            turn: self.turn.clone(),
            url: self.url.clone(),
        })
    }

    /// Closes the connections of a [`Store::dedicated`] store (the shared writers keep running).
    pub async fn close_dedicated(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads first and writes later fails with
    /// SQLITE_BUSY when another writer committed in between, which a busy timeout cannot cure.
    /// Before that it waits for the process's [`WriteTurn`].
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        let turn = self.turn.take().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _turn: turn })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Stops accepting new tickets, lets the writers finish, and closes the pool.
    pub async fn close(&self) {
        self.batcher.shutdown().await;
        self.pool.close().await;
    }
}
