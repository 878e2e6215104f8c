//! Chinese word segmentation: jieba-rs with its default dictionary plus the desk's power and
//! telecom words (`dict/telecom.txt`, kept in the repository), and the tantivy tokenizer over
//! it. Index and query text go through the same [`Segmenter`], so a two-character word such as
//! 停电 is one term on both sides; ASCII words and numbers are kept whole and lower-cased
//! (`ADSL` → `adsl`), punctuation and whitespace are dropped.

use jieba_rs::Jieba;
use std::sync::{Arc, OnceLock};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The desk's own words (word, frequency, part of speech per line), loaded on top of jieba's
/// default dictionary.
pub const TELECOM_DICT: &str = include_str!("../dict/telecom.txt");

/// The name the tokenizer is registered under in the index.
pub const TOKENIZER: &str = "hotline_jieba";

/// A shared segmenter (cheap to clone).
#[derive(Clone)]
pub struct Segmenter {
    jieba: Arc<Jieba>,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter")
    }
}

impl Segmenter {
    /// The process-wide segmenter (jieba's dictionary takes a few hundred ms to load, so it is
    /// loaded once).
    pub fn shared() -> Segmenter {
        static SHARED: OnceLock<Segmenter> = OnceLock::new();
        SHARED.get_or_init(Segmenter::load).clone()
    }

    fn load() -> Segmenter {
        let mut jieba = Jieba::new();
        let mut dict = std::io::BufReader::new(TELECOM_DICT.as_bytes());
        // the dictionary is ours and checked by a test; a bad line is a build mistake
        if let Err(e) = jieba.load_dict(&mut dict) {
            tracing::error!(error = %e, "telecom dictionary not loaded");
        }
        Segmenter {
            jieba: Arc::new(jieba),
        }
    }

    /// The terms of `text` as the index sees them: search-mode segments (a long word also
    /// yields its shorter words), lower-cased, without punctuation or whitespace; with their
    /// byte ranges.
    pub fn segments(&self, text: &str) -> Vec<(String, usize, usize)> {
        self.jieba
            .cut_for_search(text, true)
            .into_iter()
            .filter(|t| t.word.chars().any(char::is_alphanumeric))
            .map(|t| (t.word.to_lowercase(), t.byte_start, t.byte_end))
            .collect()
    }

    /// The distinct terms of `text`, in order of first appearance.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (t, _, _) in self.segments(text) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// The tantivy tokenizer over this segmenter.
    pub fn tokenizer(&self) -> JiebaTokenizer {
        JiebaTokenizer { seg: self.clone() }
    }
}

/// The tantivy tokenizer: [`Segmenter::segments`] as tokens (positions are ordinals).
#[derive(Clone)]
pub struct JiebaTokenizer {
    seg: Segmenter,
}

pub struct JiebaTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = JiebaTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> JiebaTokenStream {
        let tokens = self
            .seg
            .segments(text)
            .into_iter()
            .enumerate()
            .map(|(position, (text, offset_from, offset_to))| Token {
                offset_from,
                offset_to,
                position,
                text,
                position_length: 1,
            })
            .collect();
        JiebaTokenStream { tokens, next: 0 }
    }
}

impl TokenStream for JiebaTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_telecom_dictionary_parses_and_every_word_is_known() {
        let mut j = Jieba::empty();
        j.load_dict(&mut std::io::BufReader::new(TELECOM_DICT.as_bytes()))
            .expect("dict/telecom.txt parses");
        let seg = Segmenter::shared();
        for line in TELECOM_DICT.lines().filter(|l| !l.trim().is_empty()) {
            let word = line.split_whitespace().next().unwrap_or_default();
            assert!(seg.jieba.has_word(word), "{word} is not in the dictionary");
        }
    }

    #[test]
    fn two_character_words_are_terms_of_their_own() {
        let seg = Segmenter::shared();
        let terms = seg.terms("小区突然停电，电费已缴，电话有杂音还会断线");
        for w in ["小区", "停电", "电费", "杂音", "断线"] {
            assert!(terms.contains(&w.to_string()), "{w} missing from {terms:?}");
        }
        assert!(!terms.iter().any(|t| t == "，"), "punctuation is dropped");
    }

    #[test]
    fn ascii_and_numbers_stay_whole_and_lower_cased() {
        let seg = Segmenter::shared();
        assert_eq!(seg.terms("ADSL 掉线"), ["adsl", "掉线"]);
        assert_eq!(seg.terms("ADSL掉线10086"), ["adsl", "掉线", "10086"]);
        assert!(seg.terms("，。！？ ... —— ").is_empty());
    }

    #[test]
    fn the_token_stream_gives_byte_offsets() {
        let mut tok = Segmenter::shared().tokenizer();
        let text = "光猫 LOS 灯红";
        let mut s = tok.token_stream(text);
        let mut seen = Vec::new();
        while s.advance() {
            let t = s.token();
            seen.push((t.text.clone(), &text[t.offset_from..t.offset_to]));
        }
        assert!(seen.contains(&("光猫".into(), "光猫")), "{seen:?}");
        assert!(seen.contains(&("los".into(), "LOS")), "{seen:?}");
    }
}
