//! `[agi]` settings (TOML-friendly, every field defaulted), typed where they are parsed: the
//! listener is a socket address, the `*_ms` / `*_secs` keys are [`Duration`]s
//! ([`AgiConfig::validate`] checks the bounds, naming the key). The prompt map (our prompt ids → Asterisk
//! sound names) is built from the IVR's catalog at start-up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hotline_ivr::PromptCatalog;
use serde::{Deserialize, Serialize};

/// The FastAGI port Asterisk uses when `agi://host/...` names none.
pub const DEFAULT_PORT: u16 = 4573;

/// How digit strings (numbers, ticket ids) are read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReadBack {
    /// Our `digit_N` prompts, one `STREAM FILE` each (the same voice as the other prompts).
    #[default]
    Prompts,
    /// One `SAY DIGITS` (Asterisk's own digit sounds in the channel's language).
    SayDigits,
}

/// `[agi]` in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgiConfig {
    /// Listen address (default `0.0.0.0:4573`).
    pub listen: SocketAddr,
    /// Directory of our sounds under Asterisk's sounds dir: prompt `welcome` is played as
    /// `STREAM FILE <prefix>/welcome`.
    pub prompt_prefix: String,
    /// Language of our sounds (`sounds/<language>/<prefix>/`): a channel in another language
    /// is switched with `SET VARIABLE CHANNEL(language)`. A script argument `?lang=` wins.
    pub language: String,
    /// How long a command may take beyond its own length (prompt, key timeouts, ring
    /// time) before the session is ended as unresponsive (key `command_timeout_ms`, in ms).
    #[serde(rename = "command_timeout_ms", with = "millis")]
    pub command_timeout: Duration,
    /// How long a new connection may take to send its header block (key
    /// `header_timeout_ms`, in ms).
    #[serde(rename = "header_timeout_ms", with = "millis")]
    pub header_timeout: Duration,
    /// Sessions at once; connections beyond are closed at once (logged).
    pub max_sessions: usize,
    /// The agent's Asterisk endpoint, `{agent}` = the agent's SIP user (`PJSIP/{agent}`,
    /// `SIP/{agent}`, `PJSIP/{agent}@desk-trunk`).
    pub dial: String,
    /// Dial options; `{uniqueid}` = the caller's unique id. The default `U(...)` runs the
    /// `hotline-answered` context on the agent's channel when they answer (see
    /// `deploy/asterisk/extensions.conf`), which tells us the agent answered before the
    /// calls are bridged; `g` lets the caller's AGI go on when the agent hangs up.
    pub dial_options: String,
    /// Longest bridged call before the session gives up waiting on `Dial` (key
    /// `max_call_secs`, in seconds).
    #[serde(rename = "max_call_secs", with = "secs")]
    pub max_call: Duration,
    /// Where Asterisk writes voicemail (`RECORD FILE` path on the Asterisk host). This
    /// directory must be the core's voicemail directory seen from Asterisk (a shared mount);
    /// unset = the same path (Asterisk on this host).
    pub asterisk_recording_dir: Option<PathBuf>,
    /// `RECORD FILE` format: `wav` (8 kHz 16-bit mono, what the core takes).
    pub record_format: String,
    /// Let Asterisk play its beep before recording (ours is played by the flow already).
    pub record_beep: bool,
    /// How long to wait for the recorded file to appear complete in the shared directory
    /// (network file systems lag; key `recording_wait_ms`, in ms).
    #[serde(rename = "recording_wait_ms", with = "millis")]
    pub recording_wait: Duration,
    /// How numbers are read back.
    pub read_back: ReadBack,
    /// Hold announcement interval while queued (key `hold_interval_secs`, in seconds).
    #[serde(rename = "hold_interval_secs", with = "secs")]
    pub hold_interval: Duration,
}

/// A [`Duration`] written as whole milliseconds.
mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// A [`Duration`] written as whole seconds.
mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

impl Default for AgiConfig {
    fn default() -> Self {
        AgiConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            prompt_prefix: "hotline".into(),
            language: "zh".into(),
            command_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_sessions: 20_000,
            dial: "PJSIP/{agent}".into(),
            dial_options: "gU(hotline-answered^{uniqueid})".into(),
            max_call: Duration::from_secs(4 * 3600),
            asterisk_recording_dir: None,
            record_format: "wav".into(),
            record_beep: false,
            recording_wait: Duration::from_secs(3),
            read_back: ReadBack::Prompts,
            hold_interval: Duration::from_secs(30),
        }
    }
}

/// A setting that cannot work, named as in the config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("agi config {field}: {reason}")]
pub struct ConfigError {
    /// The key.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field,
        reason: reason.into(),
    }
}

impl AgiConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.'))
        };
        if !word(&self.prompt_prefix) || self.prompt_prefix.contains("..") {
            return Err(bad(
                "prompt_prefix",
                "must be a relative sound directory like \"hotline\"",
            ));
        }
        if !word(&self.language) {
            return Err(bad("language", "must be a language code like \"zh\""));
        }
        const MS: Duration = Duration::from_millis(1);
        const HOUR: Duration = Duration::from_secs(3600);
        if !(MS..=HOUR).contains(&self.command_timeout) {
            return Err(bad("command_timeout_ms", "must be 1 ms to 1 hour"));
        }
        if !(MS..=HOUR).contains(&self.header_timeout) {
            return Err(bad("header_timeout_ms", "must be 1 ms to 1 hour"));
        }
        if self.recording_wait > HOUR {
            return Err(bad("recording_wait_ms", "must be at most 1 hour"));
        }
        if self.max_sessions == 0 {
            return Err(bad("max_sessions", "must be positive"));
        }
        if !self.dial.contains("{agent}") || self.dial.contains(['\n', '\r']) {
            return Err(bad("dial", "must contain {agent}, e.g. \"PJSIP/{agent}\""));
        }
        if self.dial_options.contains(['\n', '\r', ',']) {
            return Err(bad(
                "dial_options",
                "must be one Dial option string without commas",
            ));
        }
        const SEC: Duration = Duration::from_secs(1);
        if !(SEC..=Duration::from_secs(86_400)).contains(&self.max_call) {
            return Err(bad("max_call_secs", "must be 1 s to 1 day"));
        }
        if !(SEC..=HOUR).contains(&self.hold_interval) {
            return Err(bad("hold_interval_secs", "must be 1 s to 1 hour"));
        }
        if !word(&self.record_format) {
            return Err(bad("record_format", "must be a format name like \"wav\""));
        }
        if let Some(d) = &self.asterisk_recording_dir
            && !d.is_absolute()
        {
            return Err(bad("asterisk_recording_dir", "must be an absolute path"));
        }
        Ok(())
    }
}

/// One prompt as Asterisk plays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sound {
    /// `hotline/welcome`: relative to the sounds dir, no extension.
    pub name: String,
    /// Its length (bounds the command's wait).
    pub length: Duration,
}

/// Our prompt ids → Asterisk sound names, with their lengths (from our WAVs).
#[derive(Debug, Clone, Default)]
pub struct PromptMap {
    sounds: HashMap<String, Sound>,
}

impl PromptMap {
    /// `<prefix>/<file stem>` for every catalog entry; lengths from the WAVs (a file that
    /// cannot be read counts as 30 s: the start-up check has refused missing ones already).
    pub fn from_catalog(catalog: &PromptCatalog, prefix: &str) -> PromptMap {
        let mut sounds = HashMap::new();
        for e in catalog.entries() {
            let stem = e
                .file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(&e.id)
                .to_owned();
            let length = catalog
                .path(&e.id)
                .and_then(|p| hotline_ivr::prompts::check_wav(&p).ok())
                .map_or(Duration::from_secs(30), |n| {
                    Duration::from_millis(u64::from(n) * 1000 / 8000)
                });
            sounds.insert(
                e.id.clone(),
                Sound {
                    name: format!("{prefix}/{stem}"),
                    length,
                },
            );
        }
        PromptMap { sounds }
    }

    /// A map from explicit entries (tests, benches).
    pub fn from_entries<I: IntoIterator<Item = (String, Sound)>>(it: I) -> PromptMap {
        PromptMap {
            sounds: it.into_iter().collect(),
        }
    }

    /// The sound of a prompt id.
    pub fn get(&self, id: &str) -> Option<&Sound> {
        self.sounds.get(id)
    }
}

/// Where a recording made by Asterisk is, on each side of the shared directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPaths {
    /// The core's voicemail directory (our side).
    pub local_dir: PathBuf,
    /// The same directory as Asterisk sees it.
    pub asterisk_dir: PathBuf,
}

impl RecordingPaths {
    /// The `RECORD FILE` name (no extension) for our file `local` (`<local_dir>/<x>.wav`).
    pub fn asterisk_file(&self, local: &Path) -> Option<String> {
        let rel = local.strip_prefix(&self.local_dir).ok()?;
        let rel = rel.with_extension("");
        let s = self.asterisk_dir.join(rel).to_str()?.to_owned();
        (!s.contains(['\n', '\r', ' ', '"'])).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_keys_are_named() {
        AgiConfig::default().validate().unwrap();
        let c = AgiConfig {
            dial: "PJSIP/agent".into(),
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "dial");
        let c = AgiConfig {
            max_call: Duration::ZERO,
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "max_call_secs");
        let e = toml::from_str::<AgiConfig>("listen = \"4573\"").unwrap_err();
        assert!(e.to_string().contains("listen"), "{e}");
        let c = AgiConfig {
            prompt_prefix: "../etc".into(),
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "prompt_prefix");
        let c: AgiConfig =
            toml::from_str("read_back = \"say_digits\"\nlisten = \"127.0.0.1:4574\"\n").unwrap();
        assert_eq!(c.read_back, ReadBack::SayDigits);
        assert_eq!(c.listen.port(), 4574);
        let c: AgiConfig =
            toml::from_str("command_timeout_ms = 250\nmax_call_secs = 60\n").unwrap();
        assert_eq!(c.command_timeout, Duration::from_millis(250));
        assert_eq!(c.max_call, Duration::from_secs(60));
        assert_eq!(c.dial, "PJSIP/{agent}", "unset keys keep their defaults");
        assert!(
            toml::from_str::<AgiConfig>("dail = \"x\"").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn recording_paths_map_the_shared_directory() {
        let p = RecordingPaths {
            local_dir: "/srv/hotline/voicemail".into(),
            asterisk_dir: "/var/spool/asterisk/hotline".into(),
        };
        assert_eq!(
            p.asterisk_file(Path::new("/srv/hotline/voicemail/1733.42.wav"))
                .as_deref(),
            Some("/var/spool/asterisk/hotline/1733.42")
        );
        assert_eq!(
            p.asterisk_file(Path::new("/tmp/x.wav")),
            None,
            "outside the directory"
        );
    }
}
