//! The FastAGI wire protocol (Asterisk `res_agi`), sans I/O: line framing with a length
//! limit, the `agi_*` header block ([`AgiRequest`]), command encoding with `res_agi`'s
//! quoting rules ([`Command`]), and reply parsing ([`Incoming`]: `200 result=...`, `510`,
//! `511`, the multi-line `520-` usage block, and the bare `HANGUP` line of AGISIGHUP).
//!
//! Bytes go in with [`Decoder::buffer_mut`] (the tokio edge reads straight into it) or
//! [`Decoder::feed`]; [`Decoder::poll`] yields what is complete. Nothing here reads a clock
//! or a socket, so every case is a unit test on byte strings.

use std::collections::BTreeMap;

use bytes::{Buf, BytesMut};

/// The longest line accepted, in either direction (bytes, without the newline).
pub const MAX_LINE: usize = 8 * 1024;
/// The most lines a header block may have (Asterisk 20 sends about 25).
pub const MAX_HEADER_LINES: usize = 256;
/// The most lines a `520-` usage block may have.
pub const MAX_USAGE_LINES: usize = 256;

/// Input that ends the session: each names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A line longer than [`MAX_LINE`].
    #[error("line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// A header line that is not `agi_<key>: <value>`.
    #[error("header line {0:?} is not `agi_<key>: <value>`")]
    BadHeaderLine(String),
    /// The header block ended without a single `agi_` key.
    #[error("header block has no agi_ keys")]
    NoAgiKeys,
    /// The header block did not end within [`MAX_HEADER_LINES`].
    #[error("header block longer than {MAX_HEADER_LINES} lines")]
    HeaderTooLong,
    /// A reply that is not `NNN ...`.
    #[error("reply {0:?} is not `NNN ...`")]
    BadReply(String),
    /// A reply code AGI does not define.
    #[error("unknown reply code {0} in {1:?}")]
    UnknownCode(u16, String),
    /// A `520-` usage block that does not end.
    #[error("520 usage block longer than {MAX_USAGE_LINES} lines")]
    UsageTooLong,
}

/// What the session was started with: the `agi_*` header block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgiRequest {
    /// The script name (`hotline` from `agi://host:4573/hotline?lang=zh`), without arguments.
    pub script: String,
    /// `?key=value&...` arguments of the script, in order, percent-decoded.
    pub params: Vec<(String, String)>,
    /// `agi_arg_1` ... `agi_arg_N`, in order (a gap ends the list).
    pub args: Vec<String>,
    /// The caller's number: digits only; empty when withheld, `unknown` or not a number.
    pub caller_id: String,
    /// `agi_calleridname` (empty for `unknown`).
    pub caller_name: String,
    /// `agi_uniqueid` (may be empty when the peer did not send it).
    pub uniqueid: String,
    /// `agi_channel` (`PJSIP/trunk-00000001`).
    pub channel: String,
    /// `agi_language`.
    pub language: String,
    /// Every `agi_*` key as sent (without the `agi_` prefix), known or not.
    pub headers: BTreeMap<String, String>,
}

impl AgiRequest {
    /// A header value by key without the `agi_` prefix.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.get(key).map(String::as_str)
    }

    /// A script argument (`?lang=zh`).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn from_headers(headers: BTreeMap<String, String>) -> AgiRequest {
        let get = |k: &str| headers.get(k).cloned().unwrap_or_default();
        // agi_network_script is the part after the host (with any ?args); agi_request the
        // whole URL (or a script path for a local AGI).
        let script_field = headers
            .get("network_script")
            .cloned()
            .unwrap_or_else(|| script_of_request(&get("request")));
        let (script, query) = match script_field.split_once('?') {
            Some((s, q)) => (s.to_owned(), q.to_owned()),
            None => (script_field.clone(), String::new()),
        };
        let script = script.trim_matches('/').to_owned();
        let params = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(p), String::new()),
            })
            .collect();
        let mut args = Vec::new();
        while let Some(a) = headers.get(&format!("arg_{}", args.len() + 1)) {
            args.push(a.clone());
        }
        let name = get("calleridname");
        AgiRequest {
            script,
            params,
            args,
            caller_id: caller_number(&get("callerid")),
            caller_name: if name.eq_ignore_ascii_case("unknown") {
                String::new()
            } else {
                name
            },
            uniqueid: get("uniqueid"),
            channel: get("channel"),
            language: get("language"),
            headers,
        }
    }
}

/// `agi://host:port/script?args` → `script?args`; a plain path → its file name.
fn script_of_request(request: &str) -> String {
    if let Some(rest) = request
        .strip_prefix("agi://")
        .or_else(|| request.strip_prefix("hagi://"))
    {
        return rest
            .split_once('/')
            .map(|(_, s)| s)
            .unwrap_or("")
            .to_owned();
    }
    request.rsplit('/').next().unwrap_or("").to_owned()
}

/// `"Name" <0571123>` or `0571123` → digits; `unknown`, empty, anonymous → empty.
fn caller_number(raw: &str) -> String {
    let raw = raw.trim();
    let inner = match (raw.rfind('<'), raw.rfind('>')) {
        (Some(a), Some(b)) if a < b => &raw[a + 1..b],
        _ => raw,
    };
    let digits = inner.strip_prefix('+').unwrap_or(inner);
    if !digits.is_empty() && digits.len() <= 32 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.to_owned()
    } else {
        String::new()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One reply to a command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// 200, 510, 511 or 520.
    pub code: u16,
    /// `result=` as sent, kept as a string: digit strings keep leading zeros, `*` and `#`,
    /// and may be empty.
    pub result: String,
    /// The parenthesised part (`timeout`, `dtmf`, a variable's value), without the brackets.
    pub data: Option<String>,
    /// `endpos=`: where playback or recording stopped, in samples.
    pub endpos: Option<u64>,
    /// The text after the code, as sent (for logs).
    pub text: String,
    /// The usage lines of a `520-` block.
    pub usage: Vec<String>,
}

impl Reply {
    /// `result` as a number (`-1`, `0`, an ASCII code), when it is one.
    pub fn result_int(&self) -> Option<i64> {
        self.result.parse().ok()
    }

    /// A `200` reply whose result is `-1`: the channel failed or hung up.
    pub fn is_failure(&self) -> bool {
        self.code == 200 && self.result == "-1"
    }
}

/// What the peer sent, one complete item at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// The header block (once, first).
    Header(AgiRequest),
    /// A reply to the command in flight.
    Reply(Reply),
    /// A bare `HANGUP` line (AGISIGHUP): the caller hung up; replies still follow.
    Hangup,
}

/// Parses a `200` reply's text after the code: `result=N[ (data)][ endpos=M]`.
pub fn parse_200(text: &str) -> Option<Reply> {
    let rest = text.trim_start().strip_prefix("result=")?;
    let (result, mut tail) = match rest.find(' ') {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let mut endpos = None;
    if let Some(i) = tail.rfind("endpos=") {
        let (before, after) = tail.split_at(i);
        if before.is_empty() || before.ends_with(' ') {
            endpos = after["endpos=".len()..].trim().parse().ok();
            if endpos.is_some() {
                tail = before.trim_end();
            }
        }
    }
    let data = if tail.starts_with('(') && tail.ends_with(')') {
        Some(tail[1..tail.len() - 1].to_owned())
    } else if tail.is_empty() {
        None
    } else {
        Some(tail.to_owned())
    };
    Some(Reply {
        code: 200,
        result: result.to_owned(),
        data,
        endpos,
        text: text.to_owned(),
        usage: Vec::new(),
    })
}

#[derive(Debug)]
enum Phase {
    Header {
        headers: BTreeMap<String, String>,
        lines: usize,
    },
    Commands,
    Usage {
        lines: Vec<String>,
        first: String,
    },
}

/// The incoming half of a session: bytes in, [`Incoming`] out.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    phase: Phase,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder expecting the header block.
    pub fn new() -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            phase: Phase::Header {
                headers: BTreeMap::new(),
                lines: 0,
            },
        }
    }

    /// A decoder past the header block (replies only): for a channel whose header was read
    /// elsewhere, and tests.
    pub fn after_header() -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            phase: Phase::Commands,
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The receive buffer, to read into directly (with room reserved).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < 256 {
            self.buf.reserve(1024);
        }
        &mut self.buf
    }

    /// Whether the header block has been read.
    pub fn in_commands(&self) -> bool {
        !matches!(self.phase, Phase::Header { .. })
    }

    /// Bytes received and not yet used (a partial line).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn next_line(&mut self) -> Result<Option<String>, ProtocolError> {
        let Some(nl) = self.buf.iter().position(|&b| b == b'\n') else {
            if self.buf.len() > MAX_LINE {
                return Err(ProtocolError::LineTooLong);
            }
            return Ok(None);
        };
        if nl > MAX_LINE + 1 {
            return Err(ProtocolError::LineTooLong);
        }
        let mut line = &self.buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        if line.len() > MAX_LINE {
            return Err(ProtocolError::LineTooLong);
        }
        let s = String::from_utf8_lossy(line).into_owned();
        self.buf.advance(nl + 1);
        Ok(Some(s))
    }

    /// The next complete item, `Ok(None)` when more bytes are needed.
    pub fn poll(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            let Some(line) = self.next_line()? else {
                return Ok(None);
            };
            match &mut self.phase {
                Phase::Header { headers, lines } => {
                    if line.trim().is_empty() {
                        if headers.is_empty() {
                            return Err(ProtocolError::NoAgiKeys);
                        }
                        let headers = std::mem::take(headers);
                        self.phase = Phase::Commands;
                        return Ok(Some(Incoming::Header(AgiRequest::from_headers(headers))));
                    }
                    *lines += 1;
                    if *lines > MAX_HEADER_LINES {
                        return Err(ProtocolError::HeaderTooLong);
                    }
                    let Some((k, v)) = line
                        .split_once(':')
                        .and_then(|(k, v)| Some((k.trim().strip_prefix("agi_")?, v)))
                        .filter(|(k, _)| !k.is_empty())
                    else {
                        return Err(ProtocolError::BadHeaderLine(clip(&line)));
                    };
                    headers.insert(k.to_owned(), v.trim().to_owned());
                }
                Phase::Commands => {
                    if line.trim() == "HANGUP" {
                        return Ok(Some(Incoming::Hangup));
                    }
                    if line.trim().is_empty() {
                        continue;
                    }
                    let b = line.as_bytes();
                    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
                        return Err(ProtocolError::BadReply(clip(&line)));
                    }
                    let code: u16 = line[..3].parse().unwrap_or(0);
                    let sep = b.get(3).copied();
                    if !matches!(sep, None | Some(b' ') | Some(b'-')) {
                        return Err(ProtocolError::BadReply(clip(&line)));
                    }
                    let text = line.get(4..).unwrap_or("").to_owned();
                    match (code, sep) {
                        (520, Some(b'-')) => {
                            self.phase = Phase::Usage {
                                lines: Vec::new(),
                                first: text,
                            };
                        }
                        (200, _) => {
                            return match parse_200(&text) {
                                Some(r) => Ok(Some(Incoming::Reply(r))),
                                None => Err(ProtocolError::BadReply(clip(&line))),
                            };
                        }
                        (510 | 511 | 520, _) => {
                            return Ok(Some(Incoming::Reply(Reply {
                                code,
                                text,
                                ..Reply::default()
                            })));
                        }
                        _ => return Err(ProtocolError::UnknownCode(code, clip(&line))),
                    }
                }
                Phase::Usage { lines, first } => {
                    if let Some(end) = line.strip_prefix("520 ") {
                        let usage = std::mem::take(lines);
                        let text = format!("{} ... {}", std::mem::take(first), end);
                        self.phase = Phase::Commands;
                        return Ok(Some(Incoming::Reply(Reply {
                            code: 520,
                            text,
                            usage,
                            ..Reply::default()
                        })));
                    }
                    if lines.len() >= MAX_USAGE_LINES {
                        return Err(ProtocolError::UsageTooLong);
                    }
                    lines.push(line);
                }
            }
        }
    }
}

/// A line shortened for a log message.
fn clip(line: &str) -> String {
    if line.len() <= 80 {
        return line.to_owned();
    }
    let mut end = 80;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &line[..end])
}

/// An AGI command. [`Command::encode`] writes it as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `ANSWER`.
    Answer,
    /// `HANGUP`.
    Hangup,
    /// `STREAM FILE <file> <escape digits> [offset]`: result = the key's ASCII code, 0, -1.
    StreamFile {
        /// Sound file without extension, relative to the sounds dir.
        file: String,
        /// Keys that interrupt playback.
        escape: String,
    },
    /// `GET DATA <file> <timeout ms> <max digits>`: result = the digits, `(timeout)` data.
    GetData {
        /// Sound file played first.
        file: String,
        /// Wait for each key, in ms.
        timeout_ms: u64,
        /// Most keys.
        max_digits: usize,
    },
    /// `WAIT FOR DIGIT <timeout ms>`: result = the key's ASCII code, 0 on timeout, -1.
    WaitForDigit {
        /// Wait, in ms (-1 = for ever).
        timeout_ms: i64,
    },
    /// `SAY DIGITS <digits> <escape digits>`.
    SayDigits {
        /// Digits to say.
        digits: String,
        /// Keys that interrupt.
        escape: String,
    },
    /// `RECORD FILE <file> <format> <escape digits> <timeout ms> [BEEP] [s=<silence>]`.
    RecordFile {
        /// File without extension, on the Asterisk host.
        file: String,
        /// `wav` (8 kHz 16-bit mono), `gsm`, ...
        format: String,
        /// Keys that end the recording.
        escape: String,
        /// Longest recording in ms (-1 = none).
        timeout_ms: i64,
        /// Asterisk plays its beep first.
        beep: bool,
        /// Seconds of silence that end the recording.
        silence_s: Option<u32>,
    },
    /// `SET VARIABLE <name> <value>`.
    SetVariable {
        /// Variable.
        name: String,
        /// Value.
        value: String,
    },
    /// `GET VARIABLE <name>`: result=1 (value), or result=0 when unset.
    GetVariable {
        /// Variable.
        name: String,
    },
    /// `EXEC <application> <options>`: result = what the application returned.
    Exec {
        /// Dialplan application (`Dial`, `MusicOnHold`).
        app: String,
        /// Its argument string (`PJSIP/j1,15,g`).
        args: String,
    },
    /// `VERBOSE <message> <level>`.
    Verbose {
        /// Text for the Asterisk console.
        message: String,
        /// 1-4.
        level: u8,
    },
}

/// One argument as `res_agi`'s parser reads it: bare when it is a plain word, else in double
/// quotes with `"` and `\` escaped. Line breaks become spaces (they would end the command).
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| !c.is_whitespace() && c != '"' && c != '\\' && c != '\'' && !c.is_control());
    if plain {
        return arg.to_owned();
    }
    let mut s = String::with_capacity(arg.len() + 2);
    s.push('"');
    for c in arg.chars() {
        match c {
            '"' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            c if c.is_control() => s.push(' '),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

impl Command {
    /// The command line, with its newline.
    pub fn encode(&self) -> String {
        let mut line = match self {
            Command::Answer => "ANSWER".to_owned(),
            Command::Hangup => "HANGUP".to_owned(),
            Command::StreamFile { file, escape } => {
                format!("STREAM FILE {} {}", quote(file), quote(escape))
            }
            Command::GetData {
                file,
                timeout_ms,
                max_digits,
            } => format!("GET DATA {} {timeout_ms} {max_digits}", quote(file)),
            Command::WaitForDigit { timeout_ms } => format!("WAIT FOR DIGIT {timeout_ms}"),
            Command::SayDigits { digits, escape } => {
                format!("SAY DIGITS {} {}", quote(digits), quote(escape))
            }
            Command::RecordFile {
                file,
                format,
                escape,
                timeout_ms,
                beep,
                silence_s,
            } => {
                let mut s = format!(
                    "RECORD FILE {} {} {} {timeout_ms}",
                    quote(file),
                    quote(format),
                    quote(escape)
                );
                if *beep {
                    s.push_str(" BEEP");
                }
                if let Some(sec) = silence_s {
                    s.push_str(&format!(" s={sec}"));
                }
                s
            }
            Command::SetVariable { name, value } => {
                format!("SET VARIABLE {} {}", quote(name), quote(value))
            }
            Command::GetVariable { name } => format!("GET VARIABLE {}", quote(name)),
            Command::Exec { app, args } => format!("EXEC {} {}", quote(app), quote(args)),
            Command::Verbose { message, level } => {
                format!("VERBOSE {} {level}", quote(message))
            }
        };
        if line.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
        }
        line.push('\n');
        line
    }

    /// Whether Asterisk runs it on a dead channel (after a hang-up): the cleanup commands.
    pub fn allowed_when_dead(&self) -> bool {
        matches!(
            self,
            Command::Hangup
                | Command::Verbose { .. }
                | Command::GetVariable { .. }
                | Command::SetVariable { .. }
        )
    }

    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Answer => "ANSWER",
            Command::Hangup => "HANGUP",
            Command::StreamFile { .. } => "STREAM FILE",
            Command::GetData { .. } => "GET DATA",
            Command::WaitForDigit { .. } => "WAIT FOR DIGIT",
            Command::SayDigits { .. } => "SAY DIGITS",
            Command::RecordFile { .. } => "RECORD FILE",
            Command::SetVariable { .. } => "SET VARIABLE",
            Command::GetVariable { .. } => "GET VARIABLE",
            Command::Exec { .. } => "EXEC",
            Command::Verbose { .. } => "VERBOSE",
        }
    }
}

#[cfg(test)]
mod tests;
