//! Reports and statistics for the branches (SF11, DM3, SS5, SO8, the centre's KPIs). Pure: no
//! database, no clock (callers pass `now`).
//!
//! - [`branch`]: the branch map (分公司/营业区 from number prefixes and exchange codes,
//!   longest prefix wins, 未归属 otherwise; overlaps refused at start naming both entries).
//! - [`period`]: day, week, month and custom periods in Beijing time.
//! - [`facts`]: the aggregates the store counts (inputs of the sections).
//! - [`sections`]: facts → sections, each with its definition (口径) in Chinese.
//! - [`model`]: reports, sections, rows, cells.
//! - [`erlang`]: Erlang C staffing advice per half hour.
//! - [`export`]: CSV, XLSX, SVG/PNG charts and JSON, byte-identical for the same report.

pub mod branch;
pub mod config;
pub mod erlang;
pub mod export;
pub mod facts;
pub mod model;
pub mod period;
pub mod sections;

pub use branch::{BranchConfig, BranchEntry, BranchMap, BranchMapError, UNASSIGNED};
pub use config::{ReportConfig, ReportOptions};
pub use export::{ExportError, ExportFormat, ExportOptions, export};
pub use model::{Cell, Column, Format, Report, ReportKind, Row, Section};
pub use period::{Period, PeriodError, PeriodKind};
