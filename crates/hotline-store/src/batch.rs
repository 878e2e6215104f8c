//! Group commit for new tickets and for workflow transitions. Each shard is one writer task
//! that takes every job waiting in its queue (up to `max_batch`): the creations it writes in one
//! transaction with a fixed number of statements (`create::insert_batch`), the
//! workflow commits (`tickets::commit_in`) one after another in a second one; it
//! commits, and only then replies to each caller — so a reply still means "durable", at a
//! fraction of the fsyncs and round trips. Creations are sharded by faulty number, so repeat
//! detection for one number is serialised. Workflow commits come here on SQLite only (one
//! shard); on PostgreSQL each runs in its own transaction (see [`Store::commit`]).
//!
//! A workflow commit refused by its version check writes nothing, so its neighbours go on; one
//! that fails after writing rolls the batch back, and the batch is retried one by one.
//!
//! Each writer keeps one connection of the pool for itself (taken on its first batch, given
//! back and taken again after any error), so a batch does not wait for the pool.
//!
//! Failures:
//! - A batch that fails before its commit was rolled back. If the connection was lost, the
//!   batch is tried once more on a fresh one; otherwise each of its tickets is retried in a
//!   transaction of its own (`tickets::insert_ticket`), so one bad ticket cannot sink
//!   its neighbours.
//! - A commit whose outcome is unknown (the connection broke, the server went away, an I/O
//!   error during SQLite's commit) is not retried — that could store a ticket twice — and not
//!   acknowledged: every ticket of the batch gets [`StoreError::OutcomeUnknown`].

use crate::tickets::{
    CommitError, CommitJob, CommitOutcome, CreateRequest, Created, commit_in, insert_ticket,
};
use crate::{Backend, Result, Store, StoreError, WriteTurn};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Transaction};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

enum Job {
    Create(Box<CreateRequest>, oneshot::Sender<Result<Created>>),
    Commit(Box<CommitJob>, oneshot::Sender<Result<CommitOutcome>>),
}

pub struct Batcher {
    shards: Mutex<Vec<mpsc::Sender<Job>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Batcher {
    pub(crate) fn start(
        pool: AnyPool,
        backend: Backend,
        turn: WriteTurn,
        shards: usize,
        max_batch: usize,
    ) -> Batcher {
        let mut senders = Vec::with_capacity(shards);
        let mut tasks = Vec::with_capacity(shards);
        for shard in 0..shards {
            let (tx, rx) = mpsc::channel::<Job>(4096);
            senders.push(tx);
            tasks.push(tokio::spawn(writer(
                pool.clone(),
                backend,
                turn.clone(),
                rx,
                max_batch.max(1),
                shard,
            )));
        }
        Batcher {
            shards: Mutex::new(senders),
            tasks: Mutex::new(tasks),
        }
    }

    pub(crate) async fn submit(&self, req: CreateRequest) -> Result<Created> {
        let mut h = DefaultHasher::new();
        req.valid.faulty_number.as_str().hash(&mut h);
        let (tx, rx) = oneshot::channel();
        self.send(h.finish(), Job::Create(Box::new(req), tx))
            .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    pub(crate) async fn commit(&self, job: CommitJob) -> Result<CommitOutcome> {
        let key = job.ticket_id() as u64;
        let (tx, rx) = oneshot::channel();
        self.send(key, Job::Commit(Box::new(job), tx)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn send(&self, key: u64, job: Job) -> Result<()> {
        let sender = {
            let shards = self.shards.lock().map_err(|_| StoreError::Closed)?;
            if shards.is_empty() {
                return Err(StoreError::Closed);
            }
            shards[(key % shards.len() as u64) as usize].clone()
        };
        sender.send(job).await.map_err(|_| StoreError::Closed)
    }

    /// Closes the queues and waits for the writers to drain what was already submitted.
    pub(crate) async fn shutdown(&self) {
        if let Ok(mut s) = self.shards.lock() {
            s.clear();
        }
        let tasks: Vec<_> = match self.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// The writer's own connection, if it holds one.
type Slot = Option<PoolConnection<Any>>;

async fn writer(
    pool: AnyPool,
    backend: Backend,
    turn: WriteTurn,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    shard: usize,
) {
    let mut slot: Slot = None;
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    let mut creates = Vec::with_capacity(max_batch);
    let mut commits = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        for job in batch.drain(..) {
            match job {
                Job::Create(req, reply) => creates.push((req, reply)),
                Job::Commit(job, reply) => commits.push((job, reply)),
            }
        }
        if !creates.is_empty() {
            let reqs: Vec<&CreateRequest> = creates.iter().map(|(r, _)| &**r).collect();
            let results = write(&pool, backend, &turn, &mut slot, &reqs, shard).await;
            drop(reqs);
            for ((_, reply), res) in creates.drain(..).zip(results) {
                let _ = reply.send(res);
            }
        }
        if !commits.is_empty() {
            let jobs: Vec<&CommitJob> = commits.iter().map(|(j, _)| &**j).collect();
            let results = write(&pool, backend, &turn, &mut slot, &jobs, shard).await;
            drop(jobs);
            for ((_, reply), res) in commits.drain(..).zip(results) {
                let _ = reply.send(res);
            }
        }
    }
}

/// What the writer group-commits: ticket creations and workflow commits. A kind says how to
/// write a whole batch, and one job, inside a transaction the writer opens and commits.
trait Grouped: Sync {
    type Out;
    /// For the logs.
    const WHAT: &'static str;
    /// The whole batch in `tx`: per-job refusals are results, an error fails the batch.
    async fn write_all(
        tx: &mut AnyConnection,
        backend: Backend,
        jobs: &[&Self],
    ) -> Result<Vec<Result<Self::Out>>>;
    /// One job in `tx` (the fallback); an error rolls it back.
    async fn write_each(tx: &mut AnyConnection, job: &Self) -> Result<Self::Out>;
    /// A refusal of one job that leaves the writer's connection usable.
    fn is_refusal(e: &StoreError) -> bool;
}

impl Grouped for CreateRequest {
    type Out = Created;
    const WHAT: &'static str = "tickets";
    async fn write_all(
        tx: &mut AnyConnection,
        backend: Backend,
        jobs: &[&Self],
    ) -> Result<Vec<Result<Created>>> {
        crate::create::insert_batch(tx, backend, jobs).await
    }
    async fn write_each(tx: &mut AnyConnection, job: &Self) -> Result<Created> {
        insert_ticket(tx, job).await
    }
    fn is_refusal(e: &StoreError) -> bool {
        matches!(e, StoreError::NotFound(_))
    }
}

impl Grouped for CommitJob {
    type Out = CommitOutcome;
    const WHAT: &'static str = "workflow changes";
    async fn write_all(
        tx: &mut AnyConnection,
        _backend: Backend,
        jobs: &[&Self],
    ) -> Result<Vec<Result<CommitOutcome>>> {
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            match commit_in(tx, job).await {
                Ok(out) => results.push(Ok(out)),
                // refused by its version check before writing: the batch goes on
                Err(CommitError::Refused(e)) => results.push(Err(e)),
                Err(CommitError::Failed(e)) => return Err(e),
            }
        }
        Ok(results)
    }
    async fn write_each(tx: &mut AnyConnection, job: &Self) -> Result<CommitOutcome> {
        commit_in(tx, job)
            .await
            .map_err(|(CommitError::Refused(e) | CommitError::Failed(e))| e)
    }
    fn is_refusal(e: &StoreError) -> bool {
        matches!(e, StoreError::Conflict)
    }
}

/// Writes a batch (falling back to one transaction per job if the batch fails); one result per
/// job, in order.
async fn write<J: Grouped>(
    pool: &AnyPool,
    backend: Backend,
    turn: &WriteTurn,
    slot: &mut Slot,
    jobs: &[&J],
    shard: usize,
) -> Vec<Result<J::Out>> {
    let what = J::WHAT;
    let mut outcome = write_batch::<J>(pool, backend, turn, slot, jobs).await;
    if let Err(Failure::RolledBack(e)) = &outcome
        && connection_lost(e)
    {
        // The kept connection may have gone stale while idle (server restart, idle timeout):
        // try the batch once more on a fresh one before going one by one.
        tracing::info!(shard, what, error = %e, "writer connection lost; retrying the batch on a new one");
        discard(slot);
        outcome = write_batch::<J>(pool, backend, turn, slot, jobs).await;
    }
    match outcome {
        Ok(results) => results,
        Err(Failure::Unknown(e)) => {
            discard(slot);
            let msg = e.to_string();
            tracing::error!(shard, what, jobs = jobs.len(), error = %msg, "group commit outcome unknown; nothing of the batch is acknowledged");
            jobs.iter()
                .map(|_| Err(StoreError::OutcomeUnknown(msg.clone())))
                .collect()
        }
        Err(Failure::RolledBack(e)) => {
            discard(slot);
            if jobs.len() > 1 {
                tracing::warn!(shard, what, jobs = jobs.len(), error = %e, "group commit failed; retrying one by one");
            }
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                let res = write_one::<J>(pool, backend, turn, slot, job).await;
                if matches!(&res, Err(e) if !J::is_refusal(e)) {
                    discard(slot);
                }
                out.push(res);
            }
            out
        }
    }
}

/// Why a transaction did not go through.
enum Failure {
    /// Nothing was committed: safe to try again.
    RolledBack(StoreError),
    /// The commit may or may not have happened.
    Unknown(sqlx::Error),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::RolledBack(e)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::RolledBack(e.into())
    }
}

/// One transaction for the whole batch (any error fails it: dropping `tx` rolls it back).
async fn write_batch<J: Grouped>(
    pool: &AnyPool,
    backend: Backend,
    turn: &WriteTurn,
    slot: &mut Slot,
    jobs: &[&J],
) -> Result<Vec<Result<J::Out>>, Failure> {
    let _turn = turn.take().await;
    let conn = connection(pool, slot).await?;
    let mut tx = begin(conn, backend).await?;
    let results = J::write_all(&mut tx, backend, jobs).await?;
    commit(tx, backend).await?;
    Ok(results)
}

/// One job in a transaction of its own.
async fn write_one<J: Grouped>(
    pool: &AnyPool,
    backend: Backend,
    turn: &WriteTurn,
    slot: &mut Slot,
    job: &J,
) -> Result<J::Out> {
    let inner = async {
        let _turn = turn.take().await;
        let conn = connection(pool, slot).await?;
        let mut tx = begin(conn, backend).await?;
        let out = J::write_each(&mut tx, job).await?;
        commit(tx, backend).await?;
        Ok::<_, Failure>(out)
    };
    match inner.await {
        Ok(out) => Ok(out),
        Err(Failure::RolledBack(e)) => Err(e),
        Err(Failure::Unknown(e)) => {
            tracing::error!(what = J::WHAT, error = %e, "commit outcome unknown; not acknowledged");
            Err(StoreError::OutcomeUnknown(e.to_string()))
        }
    }
}

async fn connection<'s>(pool: &AnyPool, slot: &'s mut Slot) -> Result<&'s mut AnyConnection> {
    if slot.is_none() {
        *slot = Some(pool.acquire().await?);
    }
    match slot.as_mut() {
        Some(c) => Ok(&mut **c),
        None => Err(StoreError::Closed),
    }
}

/// An error of the connection rather than of the statements (nothing was committed).
fn connection_lost(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Db(sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed)
    )
}

/// Closes the writer's connection (it may be broken); the next batch takes a fresh one.
fn discard(slot: &mut Slot) {
    if let Some(mut c) = slot.take() {
        c.close_on_drop();
    }
}

async fn begin(conn: &mut AnyConnection, backend: Backend) -> Result<Transaction<'_, Any>> {
    Ok(match backend {
        // Take the write lock at once (see `Store::begin_write`).
        Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => conn.begin().await?,
    })
}

async fn commit(tx: Transaction<'_, Any>, backend: Backend) -> Result<(), Failure> {
    match tx.commit().await {
        Ok(()) => Ok(()),
        Err(e) if commit_surely_failed(backend, &e) => Err(Failure::RolledBack(e.into())),
        Err(e) => Err(Failure::Unknown(e)),
    }
}

/// Whether a failed COMMIT certainly committed nothing: the database answered it with an error
/// that means "rolled back". Anything else — a broken connection, a server shutting down, an
/// I/O error while SQLite wrote its WAL — leaves the outcome unknown.
fn commit_surely_failed(backend: Backend, e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    let Some(code) = db.code() else {
        return false;
    };
    match backend {
        // SQLITE_BUSY, SQLITE_LOCKED (and their extended codes): the commit did not start.
        Backend::Sqlite => code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
        // SQLSTATE classes 08 (connection), 57 (operator intervention: shutdown, cancel),
        // 58 (system error) and XX (internal) may come after the commit was durable.
        Backend::Postgres => !["08", "57", "58", "XX"]
            .iter()
            .any(|class| code.starts_with(class)),
    }
}

impl Store {
    /// Writes `reqs` as one group commit on a connection of the pool (with the one-by-one
    /// fallback), bypassing the writers' queues. For tests of the batch path.
    #[doc(hidden)]
    pub async fn create_tickets_as_one_batch(
        &self,
        reqs: Vec<CreateRequest>,
    ) -> Vec<Result<Created>> {
        let refs: Vec<&CreateRequest> = reqs.iter().collect();
        let mut slot = None;
        write(
            &self.pool,
            self.backend,
            &self.turn,
            &mut slot,
            &refs,
            usize::MAX,
        )
        .await
    }

    /// Writes one ticket with the one-by-one path (the batch's fallback). For tests.
    #[doc(hidden)]
    pub async fn create_ticket_unbatched(&self, req: CreateRequest) -> Result<Created> {
        let mut slot = None;
        write_one(&self.pool, self.backend, &self.turn, &mut slot, &req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_without_an_answer_is_not_a_failure() {
        assert!(!commit_surely_failed(
            Backend::Postgres,
            &sqlx::Error::Io(std::io::Error::other("connection reset"))
        ));
        assert!(!commit_surely_failed(
            Backend::Sqlite,
            &sqlx::Error::WorkerCrashed
        ));
        assert!(!commit_surely_failed(
            Backend::Postgres,
            &sqlx::Error::PoolClosed
        ));
    }
}
