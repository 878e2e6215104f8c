//! The prompt catalog (`prompts/prompts.toml`: id → file and the words spoken), the ids the
//! flows use, the start-up check that every one of them is present and playable, and the
//! composition of digit strings and numbers from digit prompts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Prompt ids, as in `prompts.toml`.
pub mod id {
    #![allow(missing_docs)]
    pub const WELCOME: &str = "welcome";
    pub const MAIN_MENU: &str = "main_menu";
    pub const INVALID_INPUT: &str = "invalid_input";
    pub const NO_INPUT: &str = "no_input";
    pub const ENTER_NUMBER: &str = "enter_number";
    pub const QUERY_NUMBER: &str = "query_number";
    pub const INVALID_NUMBER: &str = "invalid_number";
    pub const NUMBER_READ_BACK: &str = "number_read_back";
    pub const CONFIRM_NUMBER: &str = "confirm_number";
    pub const FAULT_TYPE_MENU: &str = "fault_type_menu";
    pub const FAULT_TYPE_IS: &str = "fault_type_is";
    pub const FAULT_NO_DIAL_TONE: &str = "fault_no_dial_tone";
    pub const FAULT_NOISE: &str = "fault_noise";
    pub const FAULT_CANNOT_CALL_OUT: &str = "fault_cannot_call_out";
    pub const FAULT_CANNOT_RECEIVE: &str = "fault_cannot_receive";
    pub const FAULT_DROPS: &str = "fault_drops";
    pub const FAULT_OTHER: &str = "fault_other";
    pub const REPORT_ACCEPTED: &str = "report_accepted";
    pub const THANKS_GOODBYE: &str = "thanks_goodbye";
    pub const REPORT_TO_AGENT: &str = "report_to_agent";
    pub const TRANSFER_AGENT: &str = "transfer_agent";
    pub const PLEASE_HOLD: &str = "please_hold";
    pub const QUEUE_POSITION: &str = "queue_position";
    pub const QUEUE_POSITION_END: &str = "queue_position_end";
    pub const PROGRESS_INTRO: &str = "progress_intro";
    pub const PROGRESS_ACCEPTED: &str = "progress_accepted";
    pub const PROGRESS_AT_CENTRE: &str = "progress_at_centre";
    pub const PROGRESS_CREW_DISPATCHED: &str = "progress_crew_dispatched";
    pub const PROGRESS_CLEARED: &str = "progress_cleared";
    pub const PROGRESS_CANCELLED: &str = "progress_cancelled";
    pub const PROGRESS_LIMIT: &str = "progress_limit";
    pub const PROGRESS_NONE: &str = "progress_none";
    pub const HOURS: &str = "hours";
    pub const TEN: &str = "ten";
    pub const HUNDRED: &str = "hundred";
    pub const VOICEMAIL_INTRO: &str = "voicemail_intro";
    pub const BEEP: &str = "beep";
    pub const VOICEMAIL_SAVED: &str = "voicemail_saved";
    pub const VOICEMAIL_TOO_SHORT: &str = "voicemail_too_short";
    pub const NO_AGENT: &str = "no_agent";
    pub const OUT_OF_HOURS: &str = "out_of_hours";
    pub const VOICEMAIL_OFFER: &str = "voicemail_offer";
    pub const SERVICE_ERROR: &str = "service_error";
    pub const GOODBYE: &str = "goodbye";
    pub const SURVEY_INTRO: &str = "survey_intro";
    pub const SURVEY_QUESTION: &str = "survey_question";
    pub const SURVEY_THANKS: &str = "survey_thanks";
    /// `digit_0` ... `digit_9`, indexed by the digit.
    pub const DIGITS: [&str; 10] = [
        "digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7",
        "digit_8", "digit_9",
    ];
}

/// Every prompt id a flow may play. [`check_prompts`] refuses to start without any of them,
/// and the test channel refuses to play an id outside this list.
pub const USED: &[&str] = &[
    id::WELCOME,
    id::MAIN_MENU,
    id::INVALID_INPUT,
    id::NO_INPUT,
    id::ENTER_NUMBER,
    id::QUERY_NUMBER,
    id::INVALID_NUMBER,
    id::NUMBER_READ_BACK,
    id::CONFIRM_NUMBER,
    id::FAULT_TYPE_MENU,
    id::FAULT_TYPE_IS,
    id::FAULT_NO_DIAL_TONE,
    id::FAULT_NOISE,
    id::FAULT_CANNOT_CALL_OUT,
    id::FAULT_CANNOT_RECEIVE,
    id::FAULT_DROPS,
    id::FAULT_OTHER,
    id::REPORT_ACCEPTED,
    id::THANKS_GOODBYE,
    id::REPORT_TO_AGENT,
    id::TRANSFER_AGENT,
    id::PLEASE_HOLD,
    id::QUEUE_POSITION,
    id::QUEUE_POSITION_END,
    id::PROGRESS_INTRO,
    id::PROGRESS_ACCEPTED,
    id::PROGRESS_AT_CENTRE,
    id::PROGRESS_CREW_DISPATCHED,
    id::PROGRESS_CLEARED,
    id::PROGRESS_CANCELLED,
    id::PROGRESS_LIMIT,
    id::PROGRESS_NONE,
    id::HOURS,
    id::TEN,
    id::HUNDRED,
    id::VOICEMAIL_INTRO,
    id::BEEP,
    id::VOICEMAIL_SAVED,
    id::VOICEMAIL_TOO_SHORT,
    id::NO_AGENT,
    id::OUT_OF_HOURS,
    id::VOICEMAIL_OFFER,
    id::SERVICE_ERROR,
    id::GOODBYE,
    id::SURVEY_INTRO,
    id::SURVEY_QUESTION,
    id::SURVEY_THANKS,
    id::DIGITS[0],
    id::DIGITS[1],
    id::DIGITS[2],
    id::DIGITS[3],
    id::DIGITS[4],
    id::DIGITS[5],
    id::DIGITS[6],
    id::DIGITS[7],
    id::DIGITS[8],
    id::DIGITS[9],
];

/// The prompt naming a fault type.
pub fn fault_type_prompt(t: crate::FaultType) -> &'static str {
    use crate::FaultType as F;
    match t {
        F::NoDialTone => id::FAULT_NO_DIAL_TONE,
        F::Noise => id::FAULT_NOISE,
        F::CannotCallOut => id::FAULT_CANNOT_CALL_OUT,
        F::CannotReceive => id::FAULT_CANNOT_RECEIVE,
        F::Drops => id::FAULT_DROPS,
        F::Other => id::FAULT_OTHER,
    }
}

/// A digit string read digit by digit (phone and ticket numbers). Non-digits are skipped.
pub fn digit_prompts(digits: &str) -> Vec<&'static str> {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| id::DIGITS[d as usize])
        .collect()
}

/// A count read as a Chinese number (二十四, 一百零五) below 1000; larger ones digit by digit.
pub fn number_prompts(n: u32) -> Vec<&'static str> {
    let d = |v: u32| id::DIGITS[v as usize];
    match n {
        0..=9 => vec![d(n)],
        10..=19 => {
            let mut v = vec![id::TEN];
            if !n.is_multiple_of(10) {
                v.push(d(n % 10));
            }
            v
        }
        20..=99 => {
            let mut v = vec![d(n / 10), id::TEN];
            if !n.is_multiple_of(10) {
                v.push(d(n % 10));
            }
            v
        }
        100..=999 => {
            let mut v = vec![d(n / 100), id::HUNDRED];
            let rest = n % 100;
            match rest {
                0 => {}
                1..=9 => v.extend([id::DIGITS[0], d(rest)]),
                _ => {
                    // 一百一十, not 一百十.
                    v.extend([d(rest / 10), id::TEN]);
                    if !rest.is_multiple_of(10) {
                        v.push(d(rest % 10));
                    }
                }
            }
            v
        }
        _ => digit_prompts(&n.to_string()),
    }
}

/// One entry of `prompts.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptEntry {
    /// The id flows ask for.
    pub id: String,
    /// The WAV, relative to the catalog's directory.
    pub file: PathBuf,
    /// The exact words spoken (Chinese).
    pub text: String,
    /// Pinyin with tone numbers for `generate.sh` (speech prompts).
    #[serde(default)]
    pub pinyin: Option<String>,
    /// sox synth arguments for `generate.sh` (tones).
    #[serde(default)]
    pub synth: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    prompt: Vec<PromptEntry>,
}

/// The loaded catalog: ids → entries, with the directory the files are relative to.
#[derive(Debug, Clone)]
pub struct PromptCatalog {
    dir: PathBuf,
    entries: BTreeMap<String, PromptEntry>,
}

/// The catalog file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Reading the file failed.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The catalog file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid TOML of the expected shape.
    #[error("parsing the prompt catalog: {0}")]
    Parse(#[from] toml::de::Error),
    /// An id listed twice.
    #[error("prompt id {0:?} is listed twice")]
    Duplicate(String),
}

impl PromptCatalog {
    /// Loads `prompts.toml`; files are relative to its directory.
    pub fn load(path: &Path) -> Result<PromptCatalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_owned(),
            source,
        })?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        PromptCatalog::parse(&text, dir)
    }

    /// Parses catalog text; files are relative to `dir`.
    pub fn parse(text: &str, dir: impl Into<PathBuf>) -> Result<PromptCatalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        let mut entries = BTreeMap::new();
        for e in file.prompt {
            if entries.contains_key(&e.id) {
                return Err(CatalogError::Duplicate(e.id));
            }
            entries.insert(e.id.clone(), e);
        }
        Ok(PromptCatalog {
            dir: dir.into(),
            entries,
        })
    }

    /// The directory the files are relative to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry for `id`.
    pub fn get(&self, id: &str) -> Option<&PromptEntry> {
        self.entries.get(id)
    }

    /// The WAV file of `id` on disk.
    pub fn path(&self, id: &str) -> Option<PathBuf> {
        self.get(id).map(|e| self.dir.join(&e.file))
    }

    /// Every entry, by id.
    pub fn entries(&self) -> impl Iterator<Item = &PromptEntry> {
        self.entries.values()
    }
}

/// What is wrong with a prompt that a flow uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("prompt {id:?} {problem}")]
pub struct MissingPrompt {
    /// The prompt id.
    pub id: String,
    /// What is wrong.
    pub problem: PromptProblem,
}

/// Why a prompt cannot be played.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptProblem {
    /// Not listed in `prompts.toml`.
    #[error("is not listed in prompts.toml")]
    NotInCatalog,
    /// Listed, but the file is not there.
    #[error("is listed but its file {} does not exist", .0.display())]
    FileMissing(PathBuf),
    /// The file is not a non-empty 8 kHz mono 16-bit PCM WAV.
    #[error("file {} is unusable: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Checks that a WAV file is a non-empty 8 kHz mono 16-bit PCM WAV; returns its sample count.
pub fn check_wav(path: &Path) -> Result<u32, String> {
    let reader = hound::WavReader::open(path).map_err(|e| e.to_string())?;
    let spec = reader.spec();
    if spec.sample_rate != 8000
        || spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(format!(
            "is {} Hz, {} channel(s), {}-bit {:?}; expected 8000 Hz mono 16-bit PCM",
            spec.sample_rate, spec.channels, spec.bits_per_sample, spec.sample_format
        ));
    }
    let samples = reader.duration();
    if samples == 0 {
        return Err("holds no audio".into());
    }
    Ok(samples)
}

/// The start-up check: every prompt in [`USED`] is in the catalog, its file exists and is a
/// playable 8 kHz mono 16-bit WAV. The error names the first prompt that is not.
pub fn check_prompts(catalog: &PromptCatalog) -> Result<(), MissingPrompt> {
    check_prompt_ids(catalog, USED)
}

/// [`check_prompts`] for a given list of ids.
pub fn check_prompt_ids(catalog: &PromptCatalog, ids: &[&str]) -> Result<(), MissingPrompt> {
    for &id in ids {
        let missing = |problem| MissingPrompt {
            id: id.to_owned(),
            problem,
        };
        let path = catalog
            .path(id)
            .ok_or_else(|| missing(PromptProblem::NotInCatalog))?;
        if !path.is_file() {
            return Err(missing(PromptProblem::FileMissing(path)));
        }
        check_wav(&path).map_err(|reason| missing(PromptProblem::BadFile { path, reason }))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken(v: &[&str]) -> String {
        v.iter()
            .map(|p| match *p {
                id::TEN => "十".to_string(),
                id::HUNDRED => "百".to_string(),
                d => d.trim_start_matches("digit_").to_string(),
            })
            .collect()
    }

    #[test]
    fn numbers_read_as_chinese_counts() {
        assert_eq!(spoken(&number_prompts(0)), "0");
        assert_eq!(spoken(&number_prompts(4)), "4");
        assert_eq!(spoken(&number_prompts(10)), "十");
        assert_eq!(spoken(&number_prompts(12)), "十2");
        assert_eq!(spoken(&number_prompts(24)), "2十4");
        assert_eq!(spoken(&number_prompts(70)), "7十");
        assert_eq!(spoken(&number_prompts(100)), "1百");
        assert_eq!(spoken(&number_prompts(105)), "1百05");
        assert_eq!(spoken(&number_prompts(110)), "1百1十");
        assert_eq!(spoken(&number_prompts(168)), "1百6十8");
        assert_eq!(spoken(&number_prompts(1234)), "1234");
    }

    #[test]
    fn digit_strings_keep_leading_zeros() {
        assert_eq!(digit_prompts("010"), vec!["digit_0", "digit_1", "digit_0"]);
    }

    #[test]
    fn used_ids_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for id in USED {
            assert!(seen.insert(id), "{id} listed twice in USED");
        }
    }

    #[test]
    fn duplicate_catalog_ids_are_refused() {
        let text = "[[prompt]]\nid = \"a\"\nfile = \"a.wav\"\ntext = \"甲\"\n\
                    [[prompt]]\nid = \"a\"\nfile = \"b.wav\"\ntext = \"乙\"\n";
        assert!(matches!(
            PromptCatalog::parse(text, "."),
            Err(CatalogError::Duplicate(id)) if id == "a"
        ));
    }
}
