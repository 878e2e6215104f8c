//! The customer directory (JO8, issue 19): importing a directory file (CSV or XLSX) as a whole,
//! edits with audit rows, and the lookup by number that gives a call or a ticket its
//! customer's class.

use hotline_domain::ValidationError;
use hotline_domain::customer::{self, ImportRow, NewCustomer, RefusedRow};
use hotline_store::Saved;
use hotline_store::customers::{Change, CustomerAudit, CustomerFilter, CustomerRecord, Expect};

use super::Desk;
use crate::auth::Principal;
use crate::error::CoreError;

/// Customers one store transaction of an import takes.
const IMPORT_CHUNK: usize = 500;

/// What an import did, for the admin who ran it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// `utf-8`, `utf-8 (BOM)`, `gb18030` or `xlsx`.
    pub encoding: String,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Rows refused and why, by line.
    pub refused: Vec<RefusedRow>,
}

impl Desk {
    /// The directory's customer of a number, if it is listed.
    pub async fn directory_customer(
        &self,
        number: &str,
    ) -> Result<Option<CustomerRecord>, CoreError> {
        if number.is_empty() {
            return Ok(None);
        }
        Ok(self.store.customer_for_number(number).await?)
    }

    /// Imports a directory file: decoded (CSV in UTF-8 or GBK/GB18030, or XLSX), planned as a
    /// whole (bad rows, repeated codes, a number two rows list), then stored idempotently by
    /// code in chunks; a number that another stored customer owns refuses its row, naming the
    /// owner. A file that is not a table is [`CoreError::Invalid`] on `file`.
    pub async fn import_customers(
        &self,
        who: &Principal,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<ImportReport, CoreError> {
        let sheet = hotline_tabular::read_sheet(bytes)
            .map_err(|e| ValidationError::new("file", format!("{file_name}: {e}")))?;
        let rows: Vec<ImportRow> = sheet
            .rows
            .into_iter()
            .map(|(line, cells)| ImportRow { line, cells })
            .collect();
        let plan = customer::plan_import(&sheet.headers, &rows)
            .map_err(|e| ValidationError::new("file", format!("{file_name}: {e}")))?;
        let mut report = ImportReport {
            encoding: sheet.encoding.to_string(),
            refused: plan.refused,
            ..Default::default()
        };
        let source = format!("import:{file_name}");
        for chunk in plan.accepted.chunks(IMPORT_CHUNK) {
            let batch: Vec<_> = chunk.iter().map(|(_, c)| c.clone()).collect();
            let change = Change {
                actor: &who.agent_id,
                source: &source,
                now: self.clock.now(),
            };
            let saved = self.store.import_customers(&batch, &change).await?;
            for ((line, c), s) in chunk.iter().zip(saved) {
                match s {
                    Saved::Created(_) => report.created += 1,
                    Saved::Updated(_) => report.updated += 1,
                    Saved::Unchanged(_) => report.unchanged += 1,
                    Saved::NumberTaken { number, owner } => report.refused.push(RefusedRow {
                        line: *line,
                        code: c.code.clone(),
                        reason: format!("号码 {number} 已属于客户 {owner}"),
                    }),
                }
            }
        }
        report.refused.sort_by_key(|r| r.line);
        tracing::info!(
            file = file_name,
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            refused = report.refused.len(),
            "customer directory imported"
        );
        Ok(report)
    }

    /// Saves one customer as typed: `version` 0 creates, otherwise updates that version.
    pub async fn save_customer(
        &self,
        who: &Principal,
        new: &NewCustomer,
        version: i64,
    ) -> Result<CustomerRecord, CoreError> {
        let valid = new.validate()?;
        let expect = if version == 0 {
            Expect::Absent
        } else {
            Expect::Version(version)
        };
        let change = Change {
            actor: &who.agent_id,
            source: "grpc",
            now: self.clock.now(),
        };
        match self.store.save_customer(&valid, expect, &change).await? {
            Saved::Created(r) | Saved::Updated(r) | Saved::Unchanged(r) => Ok(r),
            Saved::NumberTaken { number, owner } => Err(ValidationError::new(
                "numbers",
                format!("{number} already belongs to customer {owner}"),
            )
            .into()),
        }
    }

    pub async fn get_customer(&self, code: &str) -> Result<CustomerRecord, CoreError> {
        Ok(self.store.get_customer(code).await?)
    }

    pub async fn list_customers(
        &self,
        f: &CustomerFilter,
    ) -> Result<Vec<CustomerRecord>, CoreError> {
        Ok(self.store.list_customers(f).await?)
    }

    pub async fn delete_customer(
        &self,
        who: &Principal,
        code: &str,
        version: Option<i64>,
    ) -> Result<CustomerRecord, CoreError> {
        let change = Change {
            actor: &who.agent_id,
            source: "grpc",
            now: self.clock.now(),
        };
        Ok(self.store.delete_customer(code, version, &change).await?)
    }

    pub async fn customer_history(&self, code: &str) -> Result<Vec<CustomerAudit>, CoreError> {
        Ok(self.store.customer_history(code).await?)
    }
}
