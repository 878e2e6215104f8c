//! The simulator's own SQLite store: trouble tickets (one row each, the ticket as JSON plus the
//! columns the lifecycle and the deduplication need), hub subscriptions and counters.
//!
//! Invariants: `external_id` has a unique index, so a dispatch creates at most one ticket however
//! many retries race; every change is a transaction on the one connection, so the lifecycle and
//! the API never interleave inside a read-modify-write. Ticket ids are `TT-` and the row's
//! sequence number; they are not stored in the JSON but derived from the row.

use crate::util::BASE_PATH;
use hotline_center112::wire::{HubSubscription, TroubleTicket};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored ticket {seq} is unreadable: {source}")]
    Corrupt {
        seq: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode a ticket: {0}")]
    Encode(#[source] serde_json::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS tickets (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        external_id TEXT NOT NULL,
        status TEXT NOT NULL,
        next_at INTEGER,
        late INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        note_count INTEGER NOT NULL DEFAULT 0,
        doc TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX IF NOT EXISTS tickets_external_id ON tickets (external_id)",
    "CREATE INDEX IF NOT EXISTS tickets_next_at ON tickets (next_at) WHERE next_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS subscriptions (
        id TEXT PRIMARY KEY,
        callback TEXT NOT NULL,
        query TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_callback ON subscriptions (callback, query)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL)",
];

/// Counter names in the `counters` table.
pub const DUPLICATE_DISPATCHES: &str = "duplicate_dispatches";
pub const DUPLICATE_NOTES: &str = "duplicate_notes";
pub const LINE_TESTS: &str = "line_tests";

/// A ticket as stored, with its scheduling columns.
#[derive(Clone, Debug)]
pub struct StoredTicket {
    pub seq: i64,
    pub ticket: TroubleTicket,
    /// When the next lifecycle step is due (ms since the Unix epoch); `None` when none is.
    pub next_at: Option<i64>,
    pub late: bool,
    pub failed: bool,
    /// Notes added by the hotline (not the centre's own).
    pub note_count: i64,
}

/// What [`Store::create`] found.
pub struct Created {
    pub ticket: StoredTicket,
    /// `false`: a ticket with this external identifier already existed and is returned.
    pub created: bool,
}

/// The external id and plan of a new ticket; the id and href are filled in by the store.
pub struct NewTicket {
    pub external_id: String,
    pub ticket: TroubleTicket,
    pub next_at: Option<i64>,
    pub late: bool,
    pub failed: bool,
    pub note_count: i64,
}

pub fn ticket_id(seq: i64) -> String {
    format!("TT-{seq:06}")
}

/// The row of a ticket id, or `None` for anything that is not an id we would have issued.
pub fn parse_ticket_id(id: &str) -> Option<i64> {
    let digits = id.strip_prefix("TT-")?;
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: i64 = digits.parse().ok()?;
    (ticket_id(seq) == id).then_some(seq)
}

pub fn ticket_href(id: &str) -> String {
    format!("{BASE_PATH}/troubleTicket/{id}")
}

/// Database counts for `/sim/stats`.
pub struct DbCounts {
    pub tickets: u64,
    pub notes: u64,
    pub by_status: BTreeMap<String, u64>,
    pub counters: BTreeMap<String, u64>,
    pub subscriptions: u64,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if missing) the file at `path`, or a private in-memory database for
    /// [`crate::config::IN_MEMORY`], and applies the schema.
    pub async fn open(path: &Path) -> Result<Store> {
        let opts = if path == Path::new(crate::config::IN_MEMORY) {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL: a commit survives a crash of the simulator (not a power loss),
                // which is what a simulator needs, at a fraction of the fsyncs.
                .synchronous(SqliteSynchronous::Normal)
        }
        .busy_timeout(Duration::from_secs(10));
        // One connection: SQLite has one writer anyway, it serialises every read-modify-write,
        // and it keeps an in-memory database alive and shared.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        for stmt in SCHEMA {
            sqlx::query(*stmt).execute(&pool).await?;
        }
        Ok(Store { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn row_to_ticket(row: &sqlx::sqlite::SqliteRow) -> Result<StoredTicket> {
        let seq: i64 = row.try_get("seq")?;
        let doc: String = row.try_get("doc")?;
        let mut ticket: TroubleTicket =
            serde_json::from_str(&doc).map_err(|source| StoreError::Corrupt { seq, source })?;
        ticket.id = ticket_id(seq);
        ticket.href = ticket_href(&ticket.id);
        Ok(StoredTicket {
            seq,
            ticket,
            next_at: row.try_get("next_at")?,
            late: row.try_get::<i64, _>("late")? != 0,
            failed: row.try_get::<i64, _>("failed")? != 0,
            note_count: row.try_get("note_count")?,
        })
    }

    fn encode(t: &TroubleTicket) -> Result<String> {
        let mut doc = t.clone();
        doc.id.clear();
        doc.href.clear();
        serde_json::to_string(&doc).map_err(StoreError::Encode)
    }

    /// Creates the ticket unless one with the same external id exists (then returns that one
    /// and counts a duplicate dispatch).
    pub async fn create(&self, new: NewTicket) -> Result<Created> {
        let doc = Self::encode(&new.ticket)?;
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO tickets (external_id, status, next_at, late, failed, note_count, doc)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (external_id) DO NOTHING RETURNING seq",
        )
        .bind(&new.external_id)
        .bind(new.ticket.status.as_str())
        .bind(new.next_at)
        .bind(new.late as i64)
        .bind(new.failed as i64)
        .bind(new.note_count)
        .bind(doc)
        .fetch_optional(&mut *tx)
        .await?;
        let out = match inserted {
            Some(row) => {
                let seq: i64 = row.try_get("seq")?;
                let mut ticket = new.ticket;
                ticket.id = ticket_id(seq);
                ticket.href = ticket_href(&ticket.id);
                Created {
                    ticket: StoredTicket {
                        seq,
                        ticket,
                        next_at: new.next_at,
                        late: new.late,
                        failed: new.failed,
                        note_count: new.note_count,
                    },
                    created: true,
                }
            }
            None => {
                let row = sqlx::query("SELECT * FROM tickets WHERE external_id = ?")
                    .bind(&new.external_id)
                    .fetch_one(&mut *tx)
                    .await?;
                bump(&mut tx, DUPLICATE_DISPATCHES, 1).await?;
                Created {
                    ticket: Self::row_to_ticket(&row)?,
                    created: false,
                }
            }
        };
        tx.commit().await?;
        Ok(out)
    }

    pub async fn get(&self, seq: i64) -> Result<Option<StoredTicket>> {
        let row = sqlx::query("SELECT * FROM tickets WHERE seq = ?")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::row_to_ticket).transpose()
    }

    pub async fn get_by_external_id(&self, external_id: &str) -> Result<Option<StoredTicket>> {
        let row = sqlx::query("SELECT * FROM tickets WHERE external_id = ?")
            .bind(external_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::row_to_ticket).transpose()
    }

    /// All tickets in creation order, `limit` from `offset`.
    pub async fn list(&self, offset: i64, limit: i64) -> Result<Vec<StoredTicket>> {
        let rows = sqlx::query("SELECT * FROM tickets ORDER BY seq LIMIT ? OFFSET ?")
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::row_to_ticket).collect()
    }

    /// Read-modify-write of one ticket in a transaction. `f` returns its result and what to
    /// write (the ticket, counted duplicate notes); an `Err` from `f` writes nothing and is
    /// handed back. `None` when the ticket does not exist.
    pub async fn update<T, E>(
        &self,
        seq: i64,
        f: impl FnOnce(&mut StoredTicket) -> std::result::Result<(T, Write), E>,
    ) -> Result<Option<std::result::Result<T, E>>> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query("SELECT * FROM tickets WHERE seq = ?")
            .bind(seq)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let mut t = Self::row_to_ticket(&row)?;
        match f(&mut t) {
            Err(e) => Ok(Some(Err(e))),
            Ok((out, write)) => {
                if write.ticket {
                    write_back(&mut tx, &t).await?;
                }
                if write.duplicate_notes > 0 {
                    bump(&mut tx, DUPLICATE_NOTES, write.duplicate_notes).await?;
                }
                tx.commit().await?;
                Ok(Some(Ok(out)))
            }
        }
    }

    /// Applies `step` to up to `limit` tickets whose next step is due at `now`, in one
    /// transaction; returns the tickets `step` changed (it returns `false` to leave one as is).
    pub async fn advance_due(
        &self,
        now: i64,
        limit: i64,
        mut step: impl FnMut(&mut StoredTicket) -> bool,
    ) -> Result<Vec<StoredTicket>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT * FROM tickets WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT ?")
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut changed = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut t = match Self::row_to_ticket(row) {
                Ok(t) => t,
                Err(e) => {
                    // never loop on a bad row: take it off the schedule
                    tracing::error!(error = %e, "unreadable ticket taken off the schedule");
                    let seq: i64 = row.try_get("seq")?;
                    sqlx::query("UPDATE tickets SET next_at = NULL WHERE seq = ?")
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                    continue;
                }
            };
            if step(&mut t) {
                write_back(&mut tx, &t).await?;
                changed.push(t);
            } else {
                sqlx::query("UPDATE tickets SET next_at = NULL WHERE seq = ?")
                    .bind(t.seq)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// The earliest due time of a lifecycle step.
    pub async fn next_due(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT MIN(next_at) AS t FROM tickets WHERE next_at IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("t")?)
    }

    /// Stores the subscription unless one with the same callback and query exists; returns the
    /// stored one and whether it is new (a retried subscription must not double every event).
    pub async fn add_subscription(&self, s: &HubSubscription) -> Result<(HubSubscription, bool)> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("INSERT INTO subscriptions (id, callback, query) VALUES (?, ?, ?) ON CONFLICT (callback, query) DO NOTHING")
            .bind(&s.id)
            .bind(&s.callback)
            .bind(&s.query)
            .execute(&mut *tx)
            .await?;
        let out = if r.rows_affected() > 0 {
            (s.clone(), true)
        } else {
            let row = sqlx::query("SELECT id FROM subscriptions WHERE callback = ? AND query = ?")
                .bind(&s.callback)
                .bind(&s.query)
                .fetch_one(&mut *tx)
                .await?;
            (
                HubSubscription {
                    id: row.try_get("id")?,
                    callback: s.callback.clone(),
                    query: s.query.clone(),
                },
                false,
            )
        };
        tx.commit().await?;
        Ok(out)
    }

    /// `false` when there was no such subscription.
    pub async fn remove_subscription(&self, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM subscriptions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn subscriptions(&self) -> Result<Vec<HubSubscription>> {
        let rows = sqlx::query("SELECT id, callback, query FROM subscriptions ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HubSubscription {
                    id: r.try_get("id")?,
                    callback: r.try_get("callback")?,
                    query: r.try_get("query")?,
                })
            })
            .collect()
    }

    pub async fn bump_counter(&self, name: &'static str) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        bump(&mut conn, name, 1).await
    }

    pub async fn counts(&self) -> Result<DbCounts> {
        let mut by_status = BTreeMap::new();
        let mut tickets = 0;
        for r in sqlx::query("SELECT status, COUNT(*) AS n FROM tickets GROUP BY status")
            .fetch_all(&self.pool)
            .await?
        {
            let n = r.try_get::<i64, _>("n")?.max(0) as u64;
            tickets += n;
            by_status.insert(r.try_get("status")?, n);
        }
        let notes: Option<i64> = sqlx::query("SELECT SUM(note_count) AS n FROM tickets")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let mut counters = BTreeMap::new();
        for r in sqlx::query("SELECT name, n FROM counters")
            .fetch_all(&self.pool)
            .await?
        {
            counters.insert(r.try_get("name")?, r.try_get::<i64, _>("n")?.max(0) as u64);
        }
        let subscriptions: i64 = sqlx::query("SELECT COUNT(*) AS n FROM subscriptions")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(DbCounts {
            tickets,
            notes: notes.unwrap_or(0).max(0) as u64,
            by_status,
            counters,
            subscriptions: subscriptions.max(0) as u64,
        })
    }
}

/// What [`Store::update`] writes after the closure ran.
#[derive(Clone, Copy, Debug, Default)]
pub struct Write {
    pub ticket: bool,
    pub duplicate_notes: u64,
}

async fn write_back(conn: &mut sqlx::SqliteConnection, t: &StoredTicket) -> Result<()> {
    sqlx::query(
        "UPDATE tickets SET status = ?, next_at = ?, note_count = ?, doc = ? WHERE seq = ?",
    )
    .bind(t.ticket.status.as_str())
    .bind(t.next_at)
    .bind(t.note_count)
    .bind(Store::encode(&t.ticket)?)
    .bind(t.seq)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn bump(conn: &mut sqlx::SqliteConnection, name: &str, by: u64) -> Result<()> {
    sqlx::query("INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n")
        .bind(name)
        .bind(by as i64)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_round_trip_and_odd_ids_are_refused() {
        assert_eq!(ticket_id(42), "TT-000042");
        assert_eq!(parse_ticket_id("TT-000042"), Some(42));
        assert_eq!(parse_ticket_id("TT-1234567"), Some(1_234_567));
        for bad in [
            "",
            "TT-",
            "TT-42",
            "tt-000042",
            "TT-00004a",
            "TT-+00042",
            "TT-0000000000000000000042",
            "../etc",
        ] {
            assert_eq!(parse_ticket_id(bad), None, "{bad}");
        }
    }
}
