//! E-mail intake (TE1, TE3): reads a standard mbox file or a directory of `.eml` files and
//! parses each message with `mail-parser` (charsets through `encoding_rs`, so GB2312, GBK and
//! GB18030 decode): From, Subject, Date (the received-at time), the body text (an HTML-only
//! body reduced to text), attachments, and a dedup key (the Message-ID, else the SHA-256 of
//! the raw message with CRLF read as LF).
//!
//! Pure: bytes or paths in, parsed messages out; nothing is stored here. A message that cannot
//! be read (no header, a multipart whose boundary never appears, an unknown charset) is a
//! [`BrokenMail`] naming the reason, and the messages after it are still read.
//!
//! - [`raw_messages`]: the raw messages of a path (mbox file, `.eml` file, or a directory of
//!   `.eml` files, in name order), each with where it came from.
//! - [`parse_message`]: one raw message → [`ParsedMail`] or [`BrokenMail`].

use mail_parser::{MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One message as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedMail {
    /// `message-id:<id>` or, without a Message-ID, `sha256:<hex>` of the raw bytes with CRLF
    /// read as LF.
    pub dedup_key: String,
    pub message_id: Option<String>,
    /// `Name <address>` (or the address alone).
    pub from: String,
    pub subject: String,
    /// The Date header in ms since the epoch (`None` when missing or unreadable).
    pub date_ms: Option<i64>,
    /// The plain-text body; an HTML-only body reduced to text.
    pub body_text: String,
    pub attachments: Vec<Attachment>,
    /// The raw message (what is archived as the original).
    pub raw: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The name the sender gave (not sanitised here), or `attachment-N`.
    pub file_name: String,
    /// `type/subtype` as declared.
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// A message that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct BrokenMail {
    /// Where it came from (`file.eml`, `box.mbox#3`).
    pub origin: String,
    pub reason: String,
}

/// A raw message and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMail {
    pub origin: String,
    pub bytes: Vec<u8>,
    /// The mbox envelope's date (`From sender date`), seconds since the epoch, when present.
    pub envelope_secs: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: neither an mbox file (first line \"From ...\"), an .eml file nor a directory")]
    NotMail(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The raw messages at `path`: a directory of `.eml` files (name order, other files skipped),
/// an mbox file (first line `From `), or one `.eml` file.
pub fn raw_messages(path: &Path) -> Result<Vec<RawMail>, SourceError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io(path))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("eml")))
            .collect();
        files.sort();
        return files
            .into_iter()
            .map(|f| {
                Ok(RawMail {
                    origin: f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    bytes: std::fs::read(&f).map_err(io(&f))?,
                    envelope_secs: None,
                })
            })
            .collect();
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if bytes.starts_with(b"From ") {
        return mbox_messages(&name, &bytes).map_err(io(path));
    }
    if path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("eml"))
    {
        return Ok(vec![RawMail {
            origin: name,
            bytes,
            envelope_secs: None,
        }]);
    }
    Err(SourceError::NotMail(path.to_path_buf()))
}

/// Splits an mbox (mboxrd `>From ` quoting undone) into its messages.
pub fn mbox_messages(name: &str, bytes: &[u8]) -> std::io::Result<Vec<RawMail>> {
    let reader = std::io::BufReader::new(bytes);
    let mut out = Vec::new();
    for (i, m) in mail_parser::mailbox::mbox::MessageIterator::new(reader).enumerate() {
        let m = m?;
        let secs = m.internal_date();
        out.push(RawMail {
            origin: format!("{name}#{}", i + 1),
            bytes: m.contents().to_vec(),
            envelope_secs: (secs > 0).then_some(secs as i64),
        });
    }
    Ok(out)
}

/// Charset labels mail-parser decodes itself, besides the WHATWG labels of `encoding_rs`.
const EXTRA_CHARSETS: &[&str] = &["utf-7", "utf7", "ucs-2", "ucs2"];

fn known_charset(label: &str) -> bool {
    encoding_rs::Encoding::for_label(label.trim().as_bytes()).is_some()
        || EXTRA_CHARSETS.contains(&label.trim().to_ascii_lowercase().as_str())
}

/// SHA-256 of a message with CRLF line ends read as LF and trailing white space left out, so the same message kept in an mbox
/// (LF) and as an `.eml` file (CRLF) has one key.
fn content_hash(raw: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    // the blank line an mbox puts between messages is not part of the message
    let end = raw
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let mut rest = &raw[..end];
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        h.update(&rest[..i]);
        h.update(b"\n");
        rest = &rest[i + 2..];
    }
    h.update(rest);
    h.finalize().into()
}

/// Parses one raw message.
pub fn parse_message(origin: &str, raw: &[u8]) -> Result<ParsedMail, BrokenMail> {
    let broken = |reason: String| BrokenMail {
        origin: origin.to_string(),
        reason,
    };
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(broken("empty message".into()));
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| broken("not a MIME message: no header could be read".into()))?;
    let from = msg
        .from()
        .and_then(|a| a.first())
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(addr)) => format!("{n} <{addr}>"),
            (None, Some(addr)) => addr.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    let subject = msg.subject().unwrap_or_default().to_string();
    let message_id = msg
        .message_id()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if from.is_empty() && subject.is_empty() && message_id.is_none() && msg.date().is_none() {
        return Err(broken(
            "no From, Subject, Date or Message-ID header: not an e-mail".into(),
        ));
    }
    // a declared multipart must have at least one part between its boundaries
    let root = msg.root_part();
    if let Some(ct) = root.content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
    {
        let boundary = ct.attribute("boundary").unwrap_or("");
        let empty = match &root.body {
            PartType::Multipart(ids) => ids.is_empty(),
            _ => true,
        };
        if boundary.is_empty() {
            return Err(broken(format!(
                "broken MIME structure: multipart/{} without a boundary",
                ct.subtype().unwrap_or("")
            )));
        }
        if empty {
            return Err(broken(format!(
                "broken MIME structure: the boundary {boundary:?} of multipart/{} never appears",
                ct.subtype().unwrap_or("")
            )));
        }
    }
    for part in msg.parts.iter() {
        if let Some(ct) = part.content_type()
            && ct.ctype().eq_ignore_ascii_case("text")
            && let Some(cs) = ct.attribute("charset")
            && !known_charset(cs)
        {
            return Err(broken(format!("unknown charset {cs:?}")));
        }
    }
    let body_text = msg
        .body_text(0)
        .map(|c| c.trim().to_string())
        .unwrap_or_default();
    let attachments = msg
        .attachments()
        .enumerate()
        .map(|(i, p)| Attachment {
            file_name: p
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", i + 1)),
            media_type: p
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(s) => format!("{}/{}", ct.ctype(), s).to_ascii_lowercase(),
                    None => ct.ctype().to_ascii_lowercase(),
                })
                .unwrap_or_else(|| "application/octet-stream".into()),
            bytes: p.contents().to_vec(),
        })
        .collect();
    let dedup_key = match &message_id {
        Some(id) => format!("message-id:{id}"),
        None => format!("sha256:{}", hex::encode(content_hash(raw))),
    };
    Ok(ParsedMail {
        dedup_key,
        message_id,
        from,
        subject,
        date_ms: msg
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp() * 1000),
        body_text,
        attachments,
        raw: raw.to_vec(),
    })
}
