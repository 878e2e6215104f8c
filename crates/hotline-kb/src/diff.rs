//! Line diffs between two versions of an article's text (DM2: who changed what).

use similar::{ChangeTag, TextDiff};

/// What happened to one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineChange {
    Same,
    Added,
    Removed,
}

/// One line of a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffLine {
    pub change: LineChange,
    /// The line without its line break.
    pub text: String,
}

/// The lines of `old` and `new`, in order, each marked same, added or removed.
pub fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| DiffLine {
            change: match c.tag() {
                ChangeTag::Equal => LineChange::Same,
                ChangeTag::Insert => LineChange::Added,
                ChangeTag::Delete => LineChange::Removed,
            },
            text: c.value().trim_end_matches(['\n', '\r']).to_string(),
        })
        .collect()
}

/// `diff -u`-style text: each line prefixed with ` `, `+` or `-`.
pub fn render(lines: &[DiffLine]) -> String {
    let mut out = String::new();
    for l in lines {
        out.push(match l.change {
            LineChange::Same => ' ',
            LineChange::Added => '+',
            LineChange::Removed => '-',
        });
        out.push_str(&l.text);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_removed_and_added() {
        let d = diff_lines("先查电表\n再查空开\n", "先查电表\n再报修 95598\n");
        assert_eq!(render(&d), " 先查电表\n-再查空开\n+再报修 95598\n");
        assert!(
            diff_lines("a", "a")
                .iter()
                .all(|l| l.change == LineChange::Same)
        );
    }
}
