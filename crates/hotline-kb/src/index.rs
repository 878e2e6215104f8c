//! The tantivy index of knowledge-base articles: title and body segmented by
//! [`crate::Segmenter`], ranked by BM25 (title terms weigh double), highlighted snippets of the
//! body, filters by fault type, tag and state.
//!
//! The database is the source of truth; this index is a cache. Each commit carries the
//! database's KB generation (a counter bumped by every article change) in its payload, so the
//! owner can tell whether the index is current ([`KbIndex::generation`]) and re-index only
//! what changed since, or rebuild it whole ([`KbIndex::replace_all`]) when it is missing,
//! unreadable or of another schema.

use crate::segment::{Segmenter, TOKENIZER};
use crate::{KbError, Result};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TantivyDocument,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

/// What the payload of every commit starts with; another prefix is another schema.
const PAYLOAD_PREFIX: &str = "hotline-kb/1 generation=";

/// Memory the writer may use before it flushes a segment (tantivy's minimum is 15 MB a thread).
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// An article as the index holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArticleDoc {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub fault_types: Vec<String>,
    /// The article's state's wire name (`published`, ...).
    pub state: String,
    pub version: i64,
    pub updated_at: i64,
}

/// A search.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// What was typed; segmented like the articles. Empty = no text condition.
    pub text: String,
    /// Only articles with this fault type ([`SearchQuery::fault_type_boost`]: preferred, not
    /// required, when there is text).
    pub fault_type: Option<String>,
    pub fault_type_boost: bool,
    /// Only articles carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only articles in one of these states (empty = any state).
    pub states: Vec<String>,
    pub limit: usize,
}

/// Part of a text with the matched terms' byte ranges in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Highlighted {
    pub text: String,
    /// Byte ranges within `text`.
    pub ranges: Vec<(usize, usize)>,
}

/// One result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: i64,
    pub score: f32,
    pub title: Highlighted,
    /// A fragment of the body around the best matches (the body's start when only the title
    /// matched).
    pub snippet: Highlighted,
    pub tags: Vec<String>,
    pub fault_types: Vec<String>,
    pub state: String,
    pub version: i64,
    pub updated_at: i64,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    body: Field,
    tags: Field,
    fault_types: Field,
    state: Field,
    version: Field,
    updated_at: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        id: b.add_i64_field("id", INDEXED | STORED | FAST),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text),
        tags: b.add_text_field("tags", STRING | STORED),
        fault_types: b.add_text_field("fault_types", STRING | STORED),
        state: b.add_text_field("state", STRING | STORED),
        version: b.add_i64_field("version", STORED),
        updated_at: b.add_i64_field("updated_at", STORED | FAST),
    };
    (b.build(), fields)
}

/// Whether [`KbIndex::open`] found a usable index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// An index of this schema was there (its generation says how current it is).
    Existing,
    /// There was none (or it was unreadable, or of another schema): a new empty one.
    Created,
}

/// The index, shared by searchers (any number at once) and one writer.
pub struct KbIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    seg: Segmenter,
}

impl std::fmt::Debug for KbIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KbIndex").finish_non_exhaustive()
    }
}

fn err(what: &str) -> impl FnOnce(tantivy::TantivyError) -> KbError + '_ {
    move |e| KbError::Index(format!("{what}: {e}"))
}

impl KbIndex {
    /// Opens the index in `dir` (created if missing; an unreadable one or one of another
    /// schema is removed and created anew, since the database can rebuild it), or a new one in
    /// memory when `dir` is `None`.
    pub fn open(dir: Option<&Path>, seg: Segmenter) -> Result<(KbIndex, Opened)> {
        let (schema, fields) = schema();
        let (index, opened) = match dir {
            None => (Index::create_in_ram(schema), Opened::Created),
            Some(dir) => open_dir(dir, schema)?,
        };
        index.tokenizers().register(TOKENIZER, seg.tokenizer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err("open reader"))?;
        let writer = index.writer(WRITER_MEMORY).map_err(err("open writer"))?;
        Ok((
            KbIndex {
                index,
                reader,
                writer: Mutex::new(writer),
                fields,
                seg,
            },
            opened,
        ))
    }

    /// The database generation the last commit was made at; `None` for an index never
    /// committed (or committed by another schema).
    pub fn generation(&self) -> Option<i64> {
        let metas = self.index.load_metas().ok()?;
        metas
            .payload
            .as_deref()?
            .strip_prefix(PAYLOAD_PREFIX)?
            .parse()
            .ok()
    }

    /// Articles in the index (as of the last commit).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn document(&self, a: &ArticleDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut d = TantivyDocument::default();
        d.add_i64(f.id, a.id);
        d.add_text(f.title, &a.title);
        d.add_text(f.body, &a.body);
        for t in &a.tags {
            d.add_text(f.tags, t);
        }
        for t in &a.fault_types {
            d.add_text(f.fault_types, t);
        }
        d.add_text(f.state, &a.state);
        d.add_i64(f.version, a.version);
        d.add_i64(f.updated_at, a.updated_at);
        d
    }

    fn commit(&self, w: &mut IndexWriter, generation: i64) -> Result<()> {
        let mut prepared = w.prepare_commit().map_err(err("prepare commit"))?;
        prepared.set_payload(&format!("{PAYLOAD_PREFIX}{generation}"));
        prepared.commit().map_err(err("commit"))?;
        self.reader.reload().map_err(err("reload reader"))?;
        Ok(())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>> {
        self.writer
            .lock()
            .map_err(|_| KbError::Index("the index writer panicked".into()))
    }

    /// Replaces the whole index with `docs`, committed at `generation`. Returns how many
    /// articles were indexed.
    pub fn replace_all(
        &self,
        docs: impl IntoIterator<Item = ArticleDoc>,
        generation: i64,
    ) -> Result<usize> {
        let mut w = self.lock()?;
        w.delete_all_documents().map_err(err("clear"))?;
        let mut n = 0;
        for a in docs {
            w.add_document(self.document(&a)).map_err(err("add"))?;
            n += 1;
        }
        self.commit(&mut w, generation)?;
        Ok(n)
    }

    /// Puts `docs` in place of their earlier versions (by id) and commits at `generation`.
    pub fn upsert(&self, docs: &[ArticleDoc], generation: i64) -> Result<()> {
        let mut w = self.lock()?;
        for a in docs {
            w.delete_term(Term::from_field_i64(self.fields.id, a.id));
            w.add_document(self.document(a)).map_err(err("add"))?;
        }
        self.commit(&mut w, generation)
    }

    /// The best `q.limit` articles for `q`. A query whose text has no word at all (only
    /// punctuation or spaces) and no other condition is [`KbError::NoSearchTerms`].
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<Hit>> {
        let f = self.fields;
        let terms = self.seg.terms(&q.text);
        if terms.is_empty() && !q.text.trim().is_empty() && q.fault_type.is_none() {
            return Err(KbError::NoSearchTerms);
        }
        if terms.is_empty() && q.fault_type.is_none() && q.tags.is_empty() && q.states.is_empty() {
            return Err(KbError::NoSearchTerms);
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !terms.is_empty() {
            let mut text: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for t in &terms {
                let title = TermQuery::new(
                    Term::from_field_text(f.title, t),
                    IndexRecordOption::WithFreqs,
                );
                text.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(title), 2.0)),
                ));
                text.push((
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f.body, t),
                        IndexRecordOption::WithFreqs,
                    )),
                ));
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(text))));
        }
        if let Some(ft) = &q.fault_type {
            let tq = Box::new(TermQuery::new(
                Term::from_field_text(f.fault_types, ft),
                IndexRecordOption::Basic,
            ));
            if q.fault_type_boost && !terms.is_empty() {
                clauses.push((Occur::Should, Box::new(BoostQuery::new(tq, 1.5))));
            } else {
                clauses.push((Occur::Must, tq));
            }
        }
        for tag in &q.tags {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.tags, tag),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if !q.states.is_empty() {
            let any: Vec<(Occur, Box<dyn Query>)> = q
                .states
                .iter()
                .map(|s| {
                    let t: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(f.state, s),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, t)
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if clauses.iter().all(|(o, _)| *o != Occur::Must) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let limit = q.limit.clamp(1, 100);
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(err("search"))?;
        let mut body_gen =
            SnippetGenerator::create(&searcher, &query, f.body).map_err(err("snippets"))?;
        body_gen.set_max_num_chars(160);
        let mut title_gen =
            SnippetGenerator::create(&searcher, &query, f.title).map_err(err("snippets"))?;
        title_gen.set_max_num_chars(400);
        let mut hits = Vec::with_capacity(top.len());
        let mut seen = HashSet::new();
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(err("read"))?;
            let id = first_i64(&doc, f.id);
            if !seen.insert(id) {
                continue;
            }
            let title_text = first_str(&doc, f.title);
            let t = title_gen.snippet(&title_text);
            let title = Highlighted {
                ranges: ranges(t.highlighted()),
                text: title_text,
            };
            let s = body_gen.snippet_from_doc(&doc);
            let snippet = if s.fragment().is_empty() {
                Highlighted {
                    text: first_str(&doc, f.body).chars().take(80).collect(),
                    ranges: Vec::new(),
                }
            } else {
                Highlighted {
                    text: s.fragment().to_string(),
                    ranges: ranges(s.highlighted()),
                }
            };
            hits.push(Hit {
                id,
                score,
                title,
                snippet,
                tags: all_str(&doc, f.tags),
                fault_types: all_str(&doc, f.fault_types),
                state: first_str(&doc, f.state),
                version: first_i64(&doc, f.version),
                updated_at: first_i64(&doc, f.updated_at),
            });
        }
        Ok(hits)
    }
}

fn ranges(r: &[std::ops::Range<usize>]) -> Vec<(usize, usize)> {
    r.iter().map(|r| (r.start, r.end)).collect()
}

fn first_str(d: &TantivyDocument, f: Field) -> String {
    d.get_first(f)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn all_str(d: &TantivyDocument, f: Field) -> Vec<String> {
    d.get_all(f)
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn first_i64(d: &TantivyDocument, f: Field) -> i64 {
    d.get_first(f).and_then(|v| v.as_i64()).unwrap_or_default()
}

fn open_dir(dir: &Path, schema: Schema) -> Result<(Index, Opened)> {
    let io = |e: std::io::Error| KbError::Index(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    if dir.join("meta.json").exists() {
        match Index::open_in_dir(dir) {
            Ok(index) if index.schema() == schema => return Ok((index, Opened::Existing)),
            Ok(_) => tracing::warn!(dir = %dir.display(), "KB index of another schema; rebuilding"),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "KB index unreadable; rebuilding")
            }
        }
        // only the index's own files: the directory may be the operator's
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_file() {
                std::fs::remove_file(&path).map_err(io)?;
            }
        }
    }
    let index = Index::create_in_dir(dir, schema).map_err(err("create"))?;
    Ok((index, Opened::Created))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: i64, title: &str, body: &str, ft: &str, tags: &[&str]) -> ArticleDoc {
        ArticleDoc {
            id,
            title: title.into(),
            body: body.into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            fault_types: vec![ft.into()],
            state: "published".into(),
            version: 1,
            updated_at: id,
        }
    }

    fn corpus() -> KbIndex {
        let (ix, opened) = KbIndex::open(None, Segmenter::shared()).unwrap();
        assert_eq!(opened, Opened::Created);
        ix.replace_all(
            [
                doc(
                    1,
                    "停电怎么办",
                    "小区突然停电，先查看电表和空开是否跳闸。",
                    "other",
                    &["电力"],
                ),
                doc(
                    2,
                    "电话有杂音",
                    "通话中有杂音或串音，多为入户线受潮。",
                    "noise",
                    &["线路"],
                ),
                doc(
                    3,
                    "ADSL 经常掉线",
                    "宽带 ADSL 掉线时先重启光猫，再检查分线盒。",
                    "broadband",
                    &["宽带"],
                ),
                doc(
                    4,
                    "电费查询",
                    "户号可在电费单上找到，拨打 95598 查询。",
                    "other",
                    &["电力", "账务"],
                ),
                doc(
                    5,
                    "断线故障",
                    "电杆倒伏造成断线，需派修抢修队。",
                    "line_broken",
                    &["线路"],
                ),
            ],
            7,
        )
        .unwrap();
        ix
    }

    fn ids(ix: &KbIndex, text: &str) -> Vec<i64> {
        ix.search(&SearchQuery {
            text: text.into(),
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect()
    }

    #[test]
    fn two_character_words_find_their_articles() {
        let ix = corpus();
        assert_eq!(ix.generation(), Some(7));
        assert_eq!(ids(&ix, "停电")[0], 1);
        assert_eq!(ids(&ix, "电费")[0], 4);
        assert_eq!(ids(&ix, "杂音")[0], 2);
        assert_eq!(ids(&ix, "断线")[0], 5);
        assert_eq!(ids(&ix, "ADSL 掉线")[0], 3);
        assert_eq!(ids(&ix, "adsl")[0], 3, "ASCII is case-insensitive");
        assert_eq!(ids(&ix, "95598"), [4], "numbers are terms");
    }

    #[test]
    fn snippets_highlight_the_matched_words() {
        let ix = corpus();
        let hits = ix
            .search(&SearchQuery {
                text: "停电".into(),
                limit: 3,
                ..Default::default()
            })
            .unwrap();
        let s = &hits[0].snippet;
        assert!(!s.ranges.is_empty(), "{s:?}");
        assert!(
            s.ranges.iter().all(|(a, b)| &s.text[*a..*b] == "停电"),
            "{s:?}"
        );
        let t = &hits[0].title;
        assert_eq!(&t.text[t.ranges[0].0..t.ranges[0].1], "停电");
    }

    #[test]
    fn filters_by_fault_type_tag_and_state() {
        let ix = corpus();
        let by = |text: &str, ft: Option<&str>, tags: &[&str]| {
            ix.search(&SearchQuery {
                text: text.into(),
                fault_type: ft.map(str::to_string),
                tags: tags.iter().map(|s| s.to_string()).collect(),
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
        };
        assert_eq!(by("杂音 断线", Some("noise"), &[]), [2]);
        assert_eq!(by("停电 电费", None, &["账务"]), [4]);
        assert_eq!(by("", Some("line_broken"), &[]), [5]);
        let retired = ix
            .search(&SearchQuery {
                text: "停电".into(),
                states: vec!["retired".into()],
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert!(retired.is_empty(), "{retired:?}");
    }

    #[test]
    fn a_query_of_only_punctuation_is_refused() {
        let ix = corpus();
        let r = ix.search(&SearchQuery {
            text: "，。！？…… ---".into(),
            limit: 10,
            ..Default::default()
        });
        assert!(matches!(r, Err(KbError::NoSearchTerms)), "{r:?}");
    }

    #[test]
    fn upsert_replaces_an_article_and_moves_the_generation() {
        let ix = corpus();
        ix.upsert(
            &[doc(1, "来电恢复", "恢复供电后重启设备。", "other", &[])],
            8,
        )
        .unwrap();
        assert_eq!(ix.generation(), Some(8));
        assert_eq!(ix.len(), 5);
        assert!(ids(&ix, "停电").is_empty() || ids(&ix, "停电")[0] != 1);
        assert_eq!(ids(&ix, "来电"), [1]);
    }

    #[test]
    fn an_index_on_disk_is_reopened_and_a_broken_one_recreated() {
        let dir = std::env::temp_dir().join(format!("hotline-kb-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let (ix, opened) = KbIndex::open(Some(&dir), Segmenter::shared()).unwrap();
            assert_eq!(opened, Opened::Created);
            assert_eq!(ix.generation(), None);
            ix.replace_all([doc(1, "停电", "小区突然停电", "other", &[])], 3)
                .unwrap();
        }
        {
            let (ix, opened) = KbIndex::open(Some(&dir), Segmenter::shared()).unwrap();
            assert_eq!(opened, Opened::Existing);
            assert_eq!(ix.generation(), Some(3));
            assert_eq!(ids(&ix, "停电"), [1]);
        }
        std::fs::write(dir.join("meta.json"), b"{ not json").unwrap();
        {
            let (ix, opened) = KbIndex::open(Some(&dir), Segmenter::shared()).unwrap();
            assert_eq!(opened, Opened::Created);
            assert_eq!(ix.generation(), None);
            assert!(ix.is_empty());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
