//! Text intake (TE1-TE4, DM5): documents that arrive by letter, fax, e-mail or from other
//! departments, their states, the two-hour rules counted from receipt, file names and types.
//! Pure: no I/O, no clock (callers pass `now`).
//!
//! A document is `unentered` until a ticket is created from it (`entered`) or the clerk passes
//! it to a senior (`passed_to_senior`, who then enters it); the data manager files an entered
//! original (`archived`, TE3/DM5). Two deadlines run from the document's received-at time:
//! TE1 entry (met when a ticket is created from it) and TE4 escalation (met when it is entered
//! or passed to a senior), both of `DeskRules::entry_minutes` / `escalation_minutes` with the
//! usual warning at `warn_ratio`.

use crate::named::named_enum;
use crate::rules::{Deadline, DeadlineKind, DeskRules};
use crate::ticket::{Channel, ValidationError};
use crate::time::{MINUTE_MS, Timestamp};

named_enum!(
    /// How a document arrived (the ticket channel it becomes).
    DocumentChannel {
        Letter = "letter", "信函";
        Fax = "fax", "传真";
        Email = "email", "电子邮件";
        OtherDepartment = "other_department", "其他部门转来";
    }
);

impl DocumentChannel {
    pub fn ticket_channel(self) -> Channel {
        match self {
            DocumentChannel::Letter => Channel::Letter,
            DocumentChannel::Fax => Channel::Fax,
            DocumentChannel::Email => Channel::Email,
            DocumentChannel::OtherDepartment => Channel::OtherDepartment,
        }
    }
}

named_enum!(
    /// Where a document is: the database's `documents.state`, the API's `Document.state`.
    DocumentState {
        /// Registered, waiting in the clerks' inbox (TE1).
        Unentered = "unentered", "待录入";
        /// A ticket was created from it; the original waits to be filed (TE3).
        Entered = "entered", "已录入";
        /// The clerk could not handle it; a senior takes it (TE4).
        PassedToSenior = "passed_to_senior", "已转高级话务员";
        /// Filed by the data manager (DM5).
        Archived = "archived", "已归档";
    }
);

named_enum!(
    /// What happened to a document: the database's `document_audit.action`.
    DocumentEvent {
        /// Registered by upload, mail import or a clerk (TE1).
        Registered = "registered", "登记";
        /// A ticket was created from it (TE2).
        Entered = "entered", "录入工单";
        /// Passed to a senior operator (TE4).
        PassedToSenior = "passed_to_senior", "转高级话务员";
        /// The original was filed (DM5).
        Archived = "archived", "归档";
        /// Its content was removed at the end of its retention time; the metadata stays.
        RetentionPurged = "retention_purged", "到期清除";
    }
);

impl DocumentState {
    /// States a ticket may still be created from.
    pub fn can_enter(self) -> bool {
        matches!(
            self,
            DocumentState::Unentered | DocumentState::PassedToSenior
        )
    }
}

/// The TE1 (entry) and TE4 (escalation) deadlines of a document received at `received_at`.
pub fn document_deadlines(rules: &DeskRules, received_at: Timestamp) -> [Deadline; 2] {
    let ratio = rules.warn_ratio.clamp(0.0, 1.0);
    let d = |kind, minutes: u32| {
        let allowance = i64::from(minutes) * MINUTE_MS;
        Deadline {
            kind,
            due_at: received_at.plus_ms(allowance),
            warn_at: received_at.plus_ms((allowance as f64 * ratio) as i64),
            met_at: None,
        }
    };
    [
        d(DeadlineKind::Entry, rules.entry_minutes),
        d(DeadlineKind::Escalation, rules.escalation_minutes),
    ]
}

/// Milliseconds left of the TE1 entry allowance at `now` (negative once overdue).
pub fn entry_time_left_ms(rules: &DeskRules, received_at: Timestamp, now: Timestamp) -> i64 {
    received_at
        .plus_ms(i64::from(rules.entry_minutes) * MINUTE_MS)
        .since(now)
}

/// Whether an entry at `entered_at` of a document received at `received_at` kept TE1.
pub fn entered_on_time(rules: &DeskRules, received_at: Timestamp, entered_at: Timestamp) -> bool {
    entry_time_left_ms(rules, received_at, entered_at) >= 0
}

/// Longest file name kept, in characters.
pub const MAX_FILE_NAME: usize = 200;

/// Checks a file name given with an upload: a bare name, no directory part, no `..`, no
/// control characters. Refused names are not "repaired": the uploader is told why.
pub fn check_file_name(name: &str) -> Result<String, ValidationError> {
    let refuse = |why: &str| Err(ValidationError::new("file_name", why.to_string()));
    let n = name.trim();
    if n.is_empty() {
        return refuse("must not be empty");
    }
    if n.chars().count() > MAX_FILE_NAME {
        return refuse("is longer than 200 characters");
    }
    if n.contains(['/', '\\']) || n.split(['/', '\\']).any(|p| p == "..") || n == "." || n == ".." {
        return refuse("must be a bare file name: no directory part and no \"..\"");
    }
    if n.starts_with('.') {
        return refuse("must not start with a dot");
    }
    if n.chars().any(|c| c.is_control()) {
        return refuse("must not contain control characters");
    }
    if n.contains(':') {
        return refuse("must not contain ':'");
    }
    Ok(n.to_string())
}

/// A safe file name from one a sender chose (an e-mail attachment): the last path component,
/// control characters, `:` and leading dots removed, at most 200 characters; `fallback` when
/// nothing is left. Nothing is refused, so nothing sent is lost.
pub fn sanitize_file_name(name: &str, fallback: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != ':')
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_string();
    let cleaned: String = cleaned.chars().take(MAX_FILE_NAME).collect();
    if cleaned.is_empty() || cleaned == ".." {
        fallback.to_string()
    } else {
        cleaned
    }
}

/// A document's type as told by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    Pdf,
    Png,
    Jpeg,
    Gif,
    Tiff,
    /// A message with RFC 5322 headers.
    Email,
    /// Text (UTF-8, GBK, ...): no NUL bytes and few control characters.
    Text,
    /// Anything else.
    Binary,
}

impl Sniffed {
    pub fn media_type(self) -> &'static str {
        match self {
            Sniffed::Pdf => "application/pdf",
            Sniffed::Png => "image/png",
            Sniffed::Jpeg => "image/jpeg",
            Sniffed::Gif => "image/gif",
            Sniffed::Tiff => "image/tiff",
            Sniffed::Email => "message/rfc822",
            Sniffed::Text => "text/plain",
            Sniffed::Binary => "application/octet-stream",
        }
    }
}

const MAIL_HEADERS: &[&str] = &[
    "from:",
    "received:",
    "return-path:",
    "message-id:",
    "mime-version:",
    "subject:",
    "date:",
    "to:",
    "delivered-to:",
    "x-",
];

/// The type of a document from its first bytes (a few KiB are enough).
pub fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(b"%PDF-") {
        return Sniffed::Pdf;
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Png;
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Jpeg;
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Sniffed::Gif;
    }
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return Sniffed::Tiff;
    }
    if head.contains(&0) {
        return Sniffed::Binary;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b))
        .count();
    if controls * 100 > head.len().max(1) {
        return Sniffed::Binary;
    }
    let first = head
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or(&[])
        .to_ascii_lowercase();
    if MAIL_HEADERS.iter().any(|h| first.starts_with(h.as_bytes())) {
        return Sniffed::Email;
    }
    Sniffed::Text
}

/// What an extension promises; `None` for an extension we do not judge (the sniffed type is
/// then kept as is).
fn promised(ext: &str) -> Option<&'static [Sniffed]> {
    Some(match ext {
        "pdf" => &[Sniffed::Pdf],
        "png" => &[Sniffed::Png],
        "jpg" | "jpeg" => &[Sniffed::Jpeg],
        "gif" => &[Sniffed::Gif],
        "tif" | "tiff" => &[Sniffed::Tiff],
        "eml" => &[Sniffed::Email],
        "txt" | "text" | "csv" | "md" => &[Sniffed::Text, Sniffed::Email],
        _ => return None,
    })
}

/// The media type of an upload: sniffed from its first bytes and checked against the name's
/// extension. A `.pdf` that is not a PDF (or a `.txt` that is binary) is refused naming both.
pub fn media_type_for(file_name: &str, head: &[u8]) -> Result<&'static str, ValidationError> {
    let sniffed = sniff(head);
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match promised(&ext) {
        Some(ok) if !ok.contains(&sniffed) => Err(ValidationError::new(
            "file_name",
            format!(
                "the name says .{ext} but the content is {}",
                sniffed.media_type()
            ),
        )),
        _ => Ok(sniffed.media_type()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_MS;

    #[test]
    fn te1_a_fax_received_at_9_entered_at_10_30_is_on_time_and_at_11_30_is_late() {
        let rules = DeskRules::default();
        let nine = Timestamp(1_796_605_200_000);
        assert!(entered_on_time(&rules, nine, nine.plus_ms(90 * MINUTE_MS)));
        assert!(!entered_on_time(
            &rules,
            nine,
            nine.plus_ms(150 * MINUTE_MS)
        ));
        assert_eq!(
            entry_time_left_ms(&rules, nine, nine.plus_ms(90 * MINUTE_MS)),
            30 * MINUTE_MS
        );
        let [entry, esc] = document_deadlines(&rules, nine);
        assert_eq!(entry.kind, DeadlineKind::Entry);
        assert_eq!(esc.kind, DeadlineKind::Escalation);
        assert_eq!(entry.due_at, nine.plus_ms(2 * HOUR_MS));
        assert_eq!(esc.due_at, nine.plus_ms(2 * HOUR_MS));
        // warned at 80% of the allowance: 10:36
        assert_eq!(entry.warn_at, nine.plus_ms(96 * MINUTE_MS));
    }

    #[test]
    fn te3_path_traversal_and_odd_names_are_refused_with_the_field() {
        for bad in [
            "../../etc/passwd",
            "..",
            "a/b.pdf",
            "a\\b.pdf",
            "",
            "   ",
            ".hidden",
            "c:evil.pdf",
            "nul\0.pdf",
            &"x".repeat(201),
        ] {
            let e = check_file_name(bad).unwrap_err();
            assert_eq!(e.field, "file_name", "{bad:?}");
        }
        assert_eq!(check_file_name(" 传真 0930.pdf ").unwrap(), "传真 0930.pdf");
        assert_eq!(sanitize_file_name("../../etc/passwd", "x"), "passwd");
        assert_eq!(sanitize_file_name("C:\\fax\\..", "att-1"), "att-1");
        assert_eq!(sanitize_file_name(".profile", "x"), "profile");
        assert_eq!(sanitize_file_name("", "att-2"), "att-2");
    }

    #[test]
    fn te3_types_are_sniffed_and_a_mismatched_extension_is_refused() {
        assert_eq!(
            media_type_for("a.pdf", b"%PDF-1.4\n"),
            Ok("application/pdf")
        );
        assert_eq!(
            media_type_for("scan.JPG", &[0xFF, 0xD8, 0xFF, 0xE0]),
            Ok("image/jpeg")
        );
        assert_eq!(
            media_type_for("m.eml", b"From: a@b.cn\r\nSubject: x\r\n"),
            Ok("message/rfc822")
        );
        assert_eq!(
            media_type_for("note.txt", "小区突然停电".as_bytes()),
            Ok("text/plain")
        );
        assert_eq!(
            media_type_for("blob", b"\0\x01\x02"),
            Ok("application/octet-stream")
        );
        let e = media_type_for("letter.pdf", b"just text").unwrap_err();
        assert_eq!(e.field, "file_name");
        assert!(
            e.reason.contains(".pdf") && e.reason.contains("text/plain"),
            "{}",
            e.reason
        );
        assert!(media_type_for("x.txt", b"\0\0\0\0").is_err());
        assert!(media_type_for("x.png", b"%PDF-1.4").is_err());
    }

    #[test]
    fn te1_states_and_channels_round_trip() {
        for s in DocumentState::ALL {
            assert_eq!(DocumentState::parse(s.as_str()), Some(s));
        }
        assert!(DocumentState::Unentered.can_enter());
        assert!(DocumentState::PassedToSenior.can_enter());
        assert!(!DocumentState::Archived.can_enter());
        for c in DocumentChannel::ALL {
            assert!(c.ticket_channel().is_text());
        }
    }
}
