//! The customer directory (JO8, issue 19): customers by code, the numbers they own (one owner
//! per number, the primary key, so a lookup by number is one index probe), and an audit row
//! for every change.
//!
//! A save is idempotent by code: the same customer saved again is [`Saved::Unchanged`] and
//! writes nothing; a number that another customer owns refuses the whole save
//! ([`Saved::NumberTaken`], naming the owner) and writes nothing of it.

use std::collections::HashMap;

use hotline_domain::customer::{self, ValidCustomer};
use hotline_domain::{CustomerClass, PhoneNumber, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::rows::parse;
use crate::{Result, Store, StoreError, WriteTx};

/// A stored customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerRecord {
    pub customer: ValidCustomer,
    /// Bumped on every change; a save or delete may name the version it read.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// What a save expects to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Create or update, whatever is stored (an import).
    Any,
    /// Create only: a stored customer of that code is [`StoreError::Duplicate`].
    Absent,
    /// Update the version read: another version is [`StoreError::Conflict`], none is
    /// [`StoreError::NotFound`].
    Version(i64),
}

/// The outcome of saving one customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    Created(CustomerRecord),
    Updated(CustomerRecord),
    /// Stored as given already; nothing written.
    Unchanged(CustomerRecord),
    /// `number` belongs to customer `owner`; nothing written.
    NumberTaken {
        number: String,
        owner: String,
    },
}

/// Who saves, from where, and when.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    pub actor: &'a str,
    /// `grpc`, or `import:FILE` for a directory file.
    pub source: &'a str,
    pub now: Timestamp,
}

/// One audit row of a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerAudit {
    pub id: i64,
    pub code: String,
    /// `create`, `update` or `delete`.
    pub action: String,
    pub actor: String,
    pub source: String,
    pub at: Timestamp,
    /// zh-CN lines of what changed ([`customer::changes`]), joined by `\n`.
    pub changes: String,
}

/// A page of the directory, by code.
#[derive(Clone, Debug, Default)]
pub struct CustomerFilter {
    pub class: Option<CustomerClass>,
    pub branch: Option<String>,
    /// Part of the name.
    pub name_contains: Option<String>,
    /// Codes after this one (keyset paging).
    pub after_code: Option<String>,
    pub limit: u32,
}

const COLUMNS: &str =
    "code, name, class, branch, contacts, sla_note, version, created_at, updated_at, updated_by";
/// Numbers per statement when numbers are checked or written in bulk.
const CHUNK: usize = 200;

fn record(r: &AnyRow, numbers: Vec<PhoneNumber>) -> Result<CustomerRecord> {
    let contacts: String = r.try_get("contacts")?;
    Ok(CustomerRecord {
        customer: ValidCustomer {
            code: r.try_get("code")?,
            name: r.try_get("name")?,
            class: parse(
                "customer class",
                &r.try_get::<String, _>("class")?,
                CustomerClass::parse,
            )?,
            branch: r.try_get("branch")?,
            numbers,
            contacts: customer::parse_contacts(&contacts)
                .map_err(|e| StoreError::Corrupt(format!("customer contacts: {e}")))?,
            sla_note: r.try_get("sla_note")?,
        },
        version: r.try_get("version")?,
        created_at: Timestamp(r.try_get("created_at")?),
        updated_at: Timestamp(r.try_get("updated_at")?),
        updated_by: r.try_get("updated_by")?,
    })
}

fn number(s: &str) -> Result<PhoneNumber> {
    PhoneNumber::parse(s).map_err(|_| StoreError::Corrupt(format!("customer number {s:?}")))
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn numbers_of(conn: &mut sqlx::AnyConnection, code: &str) -> Result<Vec<PhoneNumber>> {
    let rows = sqlx::query("SELECT number FROM customer_numbers WHERE code = $1 ORDER BY position")
        .bind(code)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| number(&r.try_get::<String, _>("number")?))
        .collect()
}

async fn load(conn: &mut sqlx::AnyConnection, code: &str) -> Result<Option<CustomerRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM customers WHERE code = $1");
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let numbers = numbers_of(conn, code).await?;
    Ok(Some(record(&row, numbers)?))
}

/// The first of `numbers` that a customer other than `code` owns, with its owner.
async fn taken(
    conn: &mut sqlx::AnyConnection,
    code: &str,
    numbers: &[PhoneNumber],
) -> Result<Option<(String, String)>> {
    let mut owners: HashMap<String, String> = HashMap::new();
    for chunk in numbers.chunks(CHUNK) {
        let sql = format!(
            "SELECT number, code FROM customer_numbers WHERE code <> $1 AND number IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code);
        for n in chunk {
            q = q.bind(n.as_str());
        }
        for r in q.fetch_all(&mut *conn).await? {
            owners.insert(r.try_get("number")?, r.try_get("code")?);
        }
    }
    Ok(numbers.iter().find_map(|n| owners.remove_entry(n.as_str())))
}

async fn audit(
    conn: &mut sqlx::AnyConnection,
    code: &str,
    action: &str,
    ch: &Change<'_>,
    changes: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO customer_audit (code, action, actor, source, at, changes) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(code)
    .bind(action)
    .bind(ch.actor)
    .bind(ch.source)
    .bind(ch.now.0)
    .bind(changes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn save_in(
    tx: &mut WriteTx,
    c: &ValidCustomer,
    expect: Expect,
    ch: &Change<'_>,
) -> Result<Saved> {
    let old = load(tx, &c.code).await?;
    match (&old, expect) {
        (Some(_), Expect::Absent) => {
            return Err(StoreError::Duplicate(format!("customer {}", c.code)));
        }
        (None, Expect::Version(_)) => {
            return Err(StoreError::NotFound(format!("customer {}", c.code)));
        }
        (Some(o), Expect::Version(v)) if o.version != v => return Err(StoreError::Conflict),
        _ => {}
    }
    if let Some(o) = &old
        && o.customer == *c
    {
        return Ok(Saved::Unchanged(o.clone()));
    }
    if let Some((number, owner)) = taken(tx, &c.code, &c.numbers).await? {
        return Ok(Saved::NumberTaken { number, owner });
    }
    // One statement text per case, the same eight parameters in the same order.
    let sql = if old.is_none() {
        "INSERT INTO customers (code, name, class, branch, contacts, sla_note, version, created_at, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8)"
    } else {
        "UPDATE customers SET name = $2, class = $3, branch = $4, contacts = $5, sla_note = $6, version = version + 1, updated_at = $7, updated_by = $8 WHERE code = $1"
    };
    sqlx::query(sql)
        .bind(&c.code)
        .bind(&c.name)
        .bind(c.class.as_str())
        .bind(&c.branch)
        .bind(customer::format_contacts(&c.contacts))
        .bind(&c.sla_note)
        .bind(ch.now.0)
        .bind(ch.actor)
        .execute(&mut **tx)
        .await?;
    let (version, created_at, lines) = match &old {
        None => {
            let numbers: Vec<&str> = c.numbers.iter().map(PhoneNumber::as_str).collect();
            let lines = vec![
                format!("新建客户 {} ({})", c.name, c.class.label_zh()),
                format!("号码: {}", numbers.join(", ")),
            ];
            (1, ch.now, lines)
        }
        Some(o) => {
            sqlx::query("DELETE FROM customer_numbers WHERE code = $1")
                .bind(&c.code)
                .execute(&mut **tx)
                .await?;
            (
                o.version + 1,
                o.created_at,
                customer::changes(&o.customer, c),
            )
        }
    };
    for (k, chunk) in c.numbers.chunks(CHUNK).enumerate() {
        let values = (0..chunk.len())
            .map(|i| format!("(${}, $1, ${})", 2 + 2 * i, 3 + 2 * i))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO customer_numbers (number, code, position) VALUES {values}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&c.code);
        for (i, n) in chunk.iter().enumerate() {
            q = q.bind(n.as_str()).bind((k * CHUNK + i) as i64);
        }
        q.execute(&mut **tx).await?;
    }
    let action = if old.is_some() { "update" } else { "create" };
    audit(tx, &c.code, action, ch, &lines.join("\n")).await?;
    let rec = CustomerRecord {
        customer: c.clone(),
        version,
        created_at,
        updated_at: ch.now,
        updated_by: ch.actor.to_string(),
    };
    Ok(if old.is_some() {
        Saved::Updated(rec)
    } else {
        Saved::Created(rec)
    })
}

impl Store {
    /// Saves one customer as `expect` allows, with its audit row, in one transaction.
    pub async fn save_customer(
        &self,
        c: &ValidCustomer,
        expect: Expect,
        ch: &Change<'_>,
    ) -> Result<Saved> {
        let mut tx = self.begin_write().await?;
        let saved = save_in(&mut tx, c, expect, ch).await;
        match &saved {
            Ok(Saved::Created(_) | Saved::Updated(_)) => tx.commit().await?,
            _ => tx.rollback().await?,
        }
        saved
    }

    /// Saves many customers (a directory file's rows) in one transaction, each as
    /// [`Expect::Any`]: one outcome per customer, in order. A customer refused for a taken
    /// number writes nothing of itself and does not stop the others.
    pub async fn import_customers(
        &self,
        batch: &[ValidCustomer],
        ch: &Change<'_>,
    ) -> Result<Vec<Saved>> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(batch.len());
        for c in batch {
            out.push(save_in(&mut tx, c, Expect::Any, ch).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn get_customer(&self, code: &str) -> Result<CustomerRecord> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("customer {code}")))
    }

    /// The customer owning `number`, if any: one probe of the number's primary key, then the
    /// customer's row and its numbers.
    pub async fn customer_for_number(&self, number: &str) -> Result<Option<CustomerRecord>> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {} FROM customer_numbers n JOIN customers c ON c.code = n.code WHERE n.number = $1",
            COLUMNS
                .split(", ")
                .map(|c| format!("c.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(number)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let code: String = row.try_get("code")?;
        let numbers = numbers_of(&mut conn, &code).await?;
        Ok(Some(record(&row, numbers)?))
    }

    /// Customers by code, filtered; each with its numbers.
    pub async fn list_customers(&self, f: &CustomerFilter) -> Result<Vec<CustomerRecord>> {
        let mut sql = format!("SELECT {COLUMNS} FROM customers WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: String| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("${}", args.len())));
        };
        if let Some(c) = f.class {
            arg(&mut sql, " AND class = ?", c.as_str().to_string());
        }
        if let Some(b) = &f.branch {
            arg(&mut sql, " AND branch = ?", b.clone());
        }
        if let Some(n) = &f.name_contains {
            let escaped = n
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            arg(
                &mut sql,
                " AND name LIKE ? ESCAPE '\\'",
                format!("%{escaped}%"),
            );
        }
        if let Some(a) = &f.after_code {
            arg(&mut sql, " AND code > ?", a.clone());
        }
        sql.push_str(&format!(" ORDER BY code LIMIT {}", f.limit.clamp(1, 1000)));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in &args {
            q = q.bind(a.as_str());
        }
        let mut conn = self.pool.acquire().await?;
        let rows = q.fetch_all(&mut *conn).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let code: String = r.try_get("code")?;
            let numbers = numbers_of(&mut conn, &code).await?;
            out.push(record(r, numbers)?);
        }
        Ok(out)
    }

    /// Deletes a customer and its numbers, with an audit row naming what it was.
    pub async fn delete_customer(
        &self,
        code: &str,
        expected_version: Option<i64>,
        ch: &Change<'_>,
    ) -> Result<CustomerRecord> {
        let mut tx = self.begin_write().await?;
        let Some(old) = load(&mut tx, code).await? else {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("customer {code}")));
        };
        if expected_version.is_some_and(|v| v != old.version) {
            tx.rollback().await?;
            return Err(StoreError::Conflict);
        }
        sqlx::query("DELETE FROM customer_numbers WHERE code = $1")
            .bind(code)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM customers WHERE code = $1")
            .bind(code)
            .execute(&mut *tx)
            .await?;
        let what = format!(
            "删除客户 {} ({}), 号码: {}",
            old.customer.name,
            old.customer.class.label_zh(),
            old.customer
                .numbers
                .iter()
                .map(PhoneNumber::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
        audit(&mut tx, code, "delete", ch, &what).await?;
        tx.commit().await?;
        Ok(old)
    }

    /// A customer's audit rows, oldest first (kept after a delete).
    pub async fn customer_history(&self, code: &str) -> Result<Vec<CustomerAudit>> {
        let rows = sqlx::query(
            "SELECT id, code, action, actor, source, at, changes FROM customer_audit WHERE code = $1 ORDER BY id",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CustomerAudit {
                    id: r.try_get("id")?,
                    code: r.try_get("code")?,
                    action: r.try_get("action")?,
                    actor: r.try_get("actor")?,
                    source: r.try_get("source")?,
                    at: Timestamp(r.try_get("at")?),
                    changes: r.try_get("changes")?,
                })
            })
            .collect()
    }

    /// How many customers and numbers the directory holds.
    pub async fn customer_counts(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM customers) AS c, (SELECT COUNT(*) FROM customer_numbers) AS n",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("c")?, row.try_get("n")?))
    }
}
