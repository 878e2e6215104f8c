//! Group commit for new tickets. Each shard is one writer task that takes every creation
//! waiting in its queue (up to `max_batch`), writes them in one transaction, commits, and only
//! then replies to each caller — so a reply still means "durable", at a fraction of the fsyncs.
//! Tickets are sharded by faulty number, so repeat detection for one number is serialised.
//! If a batch fails as a whole, each of its tickets is retried in a transaction of its own, so
//! one bad ticket cannot sink its neighbours.

use crate::tickets::{CreateRequest, Created, insert_ticket};
use crate::{Backend, Result, StoreError};
use sqlx::AnyPool;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

type Job = (CreateRequest, oneshot::Sender<Result<Created>>);

pub struct Batcher {
    shards: Mutex<Vec<mpsc::Sender<Job>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Batcher {
    pub(crate) fn start(
        pool: AnyPool,
        backend: Backend,
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
        let sender = {
            let shards = self.shards.lock().map_err(|_| StoreError::Closed)?;
            if shards.is_empty() {
                return Err(StoreError::Closed);
            }
            let mut h = DefaultHasher::new();
            req.valid.faulty_number.as_str().hash(&mut h);
            shards[(h.finish() as usize) % shards.len()].clone()
        };
        let (tx, rx) = oneshot::channel();
        sender
            .send((req, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
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

async fn writer(
    pool: AnyPool,
    backend: Backend,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    shard: usize,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let n = batch.len();
        match write_batch(&pool, backend, &batch).await {
            Ok(results) => {
                for ((_, reply), res) in batch.drain(..).zip(results) {
                    let _ = reply.send(res);
                }
            }
            Err(e) => {
                tracing::warn!(shard, tickets = n, error = %e, "group commit failed; retrying tickets one by one");
                for (req, reply) in batch.drain(..) {
                    let res = write_one(&pool, backend, &req).await;
                    let _ = reply.send(res);
                }
            }
        }
    }
}

/// One transaction for the whole batch. Per-ticket refusals (`NotFound`) are results; any
/// database error fails the batch.
async fn write_batch(
    pool: &AnyPool,
    backend: Backend,
    batch: &[Job],
) -> Result<Vec<Result<Created>>> {
    let mut tx = crate::begin_write(pool, backend).await?;
    let mut results = Vec::with_capacity(batch.len());
    for (req, _) in batch {
        match insert_ticket(&mut tx, req).await {
            Ok(c) => results.push(Ok(c)),
            Err(e @ StoreError::NotFound(_)) => results.push(Err(e)),
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn write_one(pool: &AnyPool, backend: Backend, req: &CreateRequest) -> Result<Created> {
    let mut tx = crate::begin_write(pool, backend).await?;
    let c = insert_ticket(&mut tx, req).await?;
    tx.commit().await?;
    Ok(c)
}
