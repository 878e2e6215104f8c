//! The branch map (SF11): 分公司/营业区 from number prefixes and exchange codes.
//!
//! Each entry names a branch and lists number prefixes (matched against the whole number, as
//! stored: digits with an optional leading `+`, which is ignored) and exchange codes (局号:
//! matched against the local number, i.e. after the configured `area_code` when the number
//! starts with it, and against the whole number too). The **longest** matching prefix wins,
//! so `10` for one branch and `1065` for another is fine: `106512345` goes to the second.
//! A number no prefix matches belongs to [`UNASSIGNED`] (未归属).
//!
//! Refused when the map is built (at start-up): the same prefix (after expanding exchange
//! codes) listed twice, in one entry or in two — the error names both entries; an empty
//! branch name, a branch named 未归属, a prefix that is not digits.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Where numbers no prefix matches are counted.
pub const UNASSIGNED: &str = "未归属";

/// One branch of the `[branches]` config section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchEntry {
    pub name: String,
    /// Number prefixes (e.g. `1065`, `010859`).
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Exchange codes (局号) of the local number (e.g. `8590`).
    #[serde(default)]
    pub exchanges: Vec<String>,
}

/// The `[branches]` config section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchConfig {
    /// The city's area code as numbers carry it (e.g. `010`); exchange codes are also matched
    /// after it. Empty: exchange codes match like prefixes.
    #[serde(default)]
    pub area_code: String,
    #[serde(default, rename = "branch")]
    pub branches: Vec<BranchEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BranchMapError {
    #[error(
        "branch map: prefix {prefix:?} is listed by both {first:?} and {second:?}; each prefix may belong to one entry only"
    )]
    Overlap {
        prefix: String,
        first: String,
        second: String,
    },
    #[error("branch map: entry {index} has an empty name")]
    EmptyName { index: usize },
    #[error("branch map: {0:?} is reserved for numbers no prefix matches")]
    Reserved(String),
    #[error("branch map: {branch:?} lists {prefix:?}; a prefix is 1 to 20 digits")]
    BadPrefix { branch: String, prefix: String },
    #[error("branch map: area code {0:?} is not digits")]
    BadAreaCode(String),
}

/// Where one prefix came from (for error messages).
fn describe(entry: &BranchEntry, what: &str, code: &str) -> String {
    format!("{} ({what} {code})", entry.name)
}

/// The checked map: prefix → branch, looked up longest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BranchMap {
    by_prefix: HashMap<String, usize>,
    names: Vec<String>,
    longest: usize,
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

impl BranchMap {
    /// Checks and builds the map.
    pub fn new(cfg: &BranchConfig) -> Result<BranchMap, BranchMapError> {
        if !cfg.area_code.is_empty() && !digits(&cfg.area_code) {
            return Err(BranchMapError::BadAreaCode(cfg.area_code.clone()));
        }
        let mut map = BranchMap::default();
        // prefix → description of the entry that listed it first
        let mut origin: HashMap<String, String> = HashMap::new();
        for (index, e) in cfg.branches.iter().enumerate() {
            let name = e.name.trim();
            if name.is_empty() {
                return Err(BranchMapError::EmptyName { index });
            }
            if name == UNASSIGNED {
                return Err(BranchMapError::Reserved(name.to_string()));
            }
            let idx = match map.names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    map.names.push(name.to_string());
                    map.names.len() - 1
                }
            };
            let mut add = |prefix: String, desc: String| -> Result<(), BranchMapError> {
                if let Some(first) = origin.get(&prefix) {
                    return Err(BranchMapError::Overlap {
                        prefix,
                        first: first.clone(),
                        second: desc,
                    });
                }
                map.longest = map.longest.max(prefix.len());
                origin.insert(prefix.clone(), desc);
                map.by_prefix.insert(prefix, idx);
                Ok(())
            };
            for p in &e.prefixes {
                let p = p.trim().trim_start_matches('+');
                if !digits(p) {
                    return Err(BranchMapError::BadPrefix {
                        branch: name.to_string(),
                        prefix: p.to_string(),
                    });
                }
                add(p.to_string(), describe(e, "prefix", p))?;
            }
            for x in &e.exchanges {
                let x = x.trim();
                if !digits(x) {
                    return Err(BranchMapError::BadPrefix {
                        branch: name.to_string(),
                        prefix: x.to_string(),
                    });
                }
                add(x.to_string(), describe(e, "exchange", x))?;
                if !cfg.area_code.is_empty() {
                    add(format!("{}{x}", cfg.area_code), describe(e, "exchange", x))?;
                }
            }
        }
        Ok(map)
    }

    /// The branch of a number: the longest matching prefix's, else [`UNASSIGNED`].
    pub fn branch_of(&self, number: &str) -> &str {
        let n = number.trim().trim_start_matches('+');
        let mut len = n.len().min(self.longest);
        while len > 0 {
            if let Some(p) = n.get(..len)
                && let Some(&i) = self.by_prefix.get(p)
            {
                return &self.names[i];
            }
            len -= 1;
        }
        UNASSIGNED
    }

    /// Branch names in config order, then [`UNASSIGNED`].
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(UNASSIGNED))
    }

    /// Whether `name` is a branch of the map (or [`UNASSIGNED`]).
    pub fn knows(&self, name: &str) -> bool {
        self.names().any(|n| n == name)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, prefixes: &[&str], exchanges: &[&str]) -> BranchEntry {
        BranchEntry {
            name: name.into(),
            prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
            exchanges: exchanges.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn sf11_longest_prefix_wins_and_unknown_is_unassigned() {
        let m = BranchMap::new(&BranchConfig {
            area_code: "010".into(),
            branches: vec![
                entry("朝阳分公司", &["10"], &["8590"]),
                entry("海淀营业区", &["1065"], &[]),
            ],
        })
        .unwrap();
        assert_eq!(m.branch_of("106512345"), "海淀营业区");
        assert_eq!(m.branch_of("1099"), "朝阳分公司");
        assert_eq!(m.branch_of("85901234"), "朝阳分公司");
        assert_eq!(m.branch_of("01085901234"), "朝阳分公司");
        assert_eq!(m.branch_of("+1065"), "海淀营业区");
        assert_eq!(m.branch_of("62551234"), UNASSIGNED);
        assert_eq!(m.branch_of(""), UNASSIGNED);
        assert!(m.knows(UNASSIGNED) && m.knows("海淀营业区") && !m.knows("西城"));
    }

    #[test]
    fn sf11_overlapping_prefixes_are_refused_naming_both_entries() {
        let err = BranchMap::new(&BranchConfig {
            area_code: "010".into(),
            branches: vec![
                entry("朝阳分公司", &["0108590"], &[]),
                entry("东城分公司", &[], &["8590"]),
            ],
        })
        .unwrap_err();
        assert_eq!(
            err,
            BranchMapError::Overlap {
                prefix: "0108590".into(),
                first: "朝阳分公司 (prefix 0108590)".into(),
                second: "东城分公司 (exchange 8590)".into(),
            }
        );
        assert!(err.to_string().contains("朝阳分公司") && err.to_string().contains("东城分公司"));
    }

    #[test]
    fn sf11_bad_entries_are_refused() {
        let bad = |b: Vec<BranchEntry>| {
            BranchMap::new(&BranchConfig {
                area_code: String::new(),
                branches: b,
            })
        };
        assert_eq!(
            bad(vec![entry(" ", &["1"], &[])]),
            Err(BranchMapError::EmptyName { index: 0 })
        );
        assert!(matches!(
            bad(vec![entry(UNASSIGNED, &["1"], &[])]),
            Err(BranchMapError::Reserved(_))
        ));
        assert!(matches!(
            bad(vec![entry("甲", &["1x"], &[])]),
            Err(BranchMapError::BadPrefix { .. })
        ));
        assert!(matches!(
            bad(vec![entry("甲", &["1", "1"], &[])]),
            Err(BranchMapError::Overlap { .. })
        ));
    }
}
