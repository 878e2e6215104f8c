//! The knowledge base's search side (DM6, SO7): no database here, only text.
//!
//! Layout:
//! - [`segment`]: jieba-rs with the power/telecom dictionary `dict/telecom.txt`, and the
//!   tantivy tokenizer over it (two-character words such as 停电, 杂音 are terms; ASCII and
//!   numbers whole and lower-cased; punctuation dropped).
//! - [`index`]: the tantivy index of articles: BM25, highlighted snippets, filters by fault
//!   type, tag and state; each commit records the database generation it reflects, so the
//!   owner (hotline-core's `desk::kb`) can tell a stale or missing index and rebuild it from
//!   the database, which stays the source of truth.
//! - [`diff`]: line diffs between article versions.
//!
//! Invariants: nothing here reads a clock or a database; a query cannot panic the index (a
//! query without words is [`KbError::NoSearchTerms`]).

pub mod diff;
pub mod index;
pub mod segment;

pub use diff::{DiffLine, LineChange, diff_lines};
pub use index::{ArticleDoc, Highlighted, Hit, KbIndex, Opened, SearchQuery};
pub use segment::Segmenter;

#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// The query has no word to search for (only punctuation or spaces).
    #[error("the query has no words to search for (only punctuation or spaces)")]
    NoSearchTerms,
    #[error("search index: {0}")]
    Index(String),
}

pub type Result<T, E = KbError> = std::result::Result<T, E>;
