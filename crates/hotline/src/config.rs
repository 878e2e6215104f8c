//! Configuration, one typed model: every section of the TOML file (`--config`) is a library
//! type that is `serde::Deserialize` with typed fields (`hotline_calls::SipSettings`,
//! `hotline_store::StoreTuning`, `hotline_ivr::IvrConfig`, `hotline_agi::AgiConfig`,
//! `DeskRules`), parsed once here with errors naming the key (`sip.rtp_ports: ...`). Flags and
//! `HOTLINE_*` environment variables are parsed by clap into the same types (a flag beats its
//! variable); [`layer`] puts them over the file's section. Embedded defaults let `hotline
//! serve` run with nothing.
//!
//! [`FileConfig`] and the flags of its top-level keys are declared together, once, in
//! `file_config!`; a new section is one line there holding its library type.

use clap::Args;
use hotline_domain::rules::DeskRules;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Declares [`FileConfig`] once: each top-level key is a field of the file and, in its flag
/// group, a `--flag` with its `HOTLINE_*` variable (one doc comment for both); each section
/// is a field holding its library type. A group's `over` layers its flags over the file.
macro_rules! file_config {
    (
        $(
            $(#[doc = $gdoc:literal])*
            flags $group:ident {
                $( $(#[doc = $kdoc:literal])* $key:ident : $kty:ty = $env:literal ),* $(,)?
            }
        )*
        sections {
            $( $(#[doc = $sdoc:literal])* $sec:ident : $sty:ty ),* $(,)?
        }
    ) => {
        /// The TOML file (`--config`): the top-level keys, then one field per section.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileConfig {
            $( $( $(#[doc = $kdoc])* pub $key: Option<$kty>, )* )*
            $( $(#[doc = $sdoc])* pub $sec: Option<$sty>, )*
        }

        $(
            $(#[doc = $gdoc])*
            #[derive(Args, Debug, Default, Clone)]
            pub(crate) struct $group {
                $( $(#[doc = $kdoc])* #[arg(long, env = $env)] pub(crate) $key: Option<$kty>, )*
            }

            impl $group {
                /// These flags over the file: a key set by flag or variable wins, else the
                /// file's value (the caller applies the default).
                pub(crate) fn over(&self, file: &FileConfig) -> $group {
                    $group { $( $key: self.$key.clone().or_else(|| file.$key.clone()), )* }
                }
            }
        )*
    };
}

file_config! {
    /// The store keys, shared by `serve` and `admin`.
    flags StoreKeys {
        /// Where SQLite, recordings, documents and the KB index live (default ./var).
        data_dir: PathBuf = "HOTLINE_DATA_DIR",
        /// sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data dir).
        database_url: String = "HOTLINE_DATABASE_URL",
    }
    /// The listeners of `serve`.
    flags ListenKeys {
        /// gRPC listener, HOST:PORT (default 127.0.0.1:50051).
        grpc_listen: SocketAddr = "HOTLINE_GRPC_LISTEN",
        /// HTTP listener: /metrics, the web desktop, the 112 centre's events (default 127.0.0.1:8080).
        http_listen: SocketAddr = "HOTLINE_HTTP_LISTEN",
        /// SIP listener, UDP and TCP (default 0.0.0.0:5060).
        sip_listen: SocketAddr = "HOTLINE_SIP_LISTEN",
    }
    sections {
        /// Store tuning: pool size and group commit.
        store: hotline_store::StoreTuning,
        /// First admin, created when no agent exists yet.
        admin: AdminConfig,
        /// The telephone side: SIP, RTP, prompts, agent softphones.
        sip: hotline_calls::SipSettings,
        /// IVR flows: timeouts, retries, voicemail limits, service hours.
        ivr: hotline_ivr::IvrConfig,
        /// FastAGI front end (Asterisk): listener, prompt names, Dial pattern, recordings.
        agi: hotline_agi::AgiConfig,
        /// Desk time rules and the repair time-limit table.
        rules: DeskRules,
        /// Text intake: upload limit and retention of archived originals (`[intake]`).
        intake: crate::intake::IntakeFile,
        /// The branch map (`[branches]`: `area_code`, `[[branches.branch]]` with `name`,
        /// `prefixes`, `exchanges`), checked at start-up.
        branches: hotline_report::BranchConfig,
        /// Report options (`[reports]`: `font`, `[reports.staffing]`).
        reports: hotline_report::ReportOptions,
        /// The satisfaction surveyor (`[surveys]`: `calling_from`, `calling_until` as "HH:MM"
        /// Beijing time, `max_attempts`, `retry_after_minutes`, `completed_window_days`,
        /// `weak_area_min_results`).
        surveys: hotline_domain::survey::SurveyRules,
        /// Quality inspection (`[qa]`: `[[qa.form]]` items with `key`, `label`, `weight`, `max`;
        /// `scheduled_per_agent`; `recording` all | sampled | none with `recording_percent`;
        /// `retention_days`; `max_recording_bytes`), checked at start-up.
        qa: hotline_domain::qa::QaConfig,
        /// Automated outbound survey calls (`[outbound]`: `trunk` HOST:PORT, `domain`,
        /// `caller_id`, `username` + `password` for digest, `max_concurrent`,
        /// `ring_timeout_secs`, `idle_poll_secs`, `max_backoff_secs`); absent = no calls.
        outbound: hotline_calls::outbound::OutboundSettings,
    }
}

/// Where the data lives when neither flag, variable nor file says.
pub const DEFAULT_DATA_DIR: &str = "./var";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub agent_id: String,
    pub password: String,
}

impl FileConfig {
    /// The `[store]` overrides (checked by [`load`]).
    pub fn store_tuning(&self) -> hotline_store::StoreTuning {
        self.store.unwrap_or_default()
    }

    /// Bounds no type expresses, checked once after parsing, naming the key.
    fn check(&self) -> anyhow::Result<()> {
        if let Some(t) = &self.store {
            t.validate().map_err(anyhow::Error::msg)?;
        }
        if let Some(a) = &self.agi {
            a.validate()?;
        }
        if let Some(q) = &self.qa {
            q.validate().map_err(anyhow::Error::msg)?;
        }
        if let Some(s) = &self.surveys {
            s.validate().map_err(anyhow::Error::msg)?;
        }
        if let Some(o) = &self.outbound {
            o.config().map_err(anyhow::Error::msg)?;
        }
        if let Some(i) = &self.ivr {
            i.validate().map_err(|e| anyhow::anyhow!("ivr: {e}"))?;
        }
        Ok(())
    }
}

/// Parses a config file's text; an error names the key (`sip.rtp_ports: ...`).
pub fn parse(text: &str) -> anyhow::Result<FileConfig> {
    let de = toml::Deserializer::new(text);
    let file: FileConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let line = inner
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        if path == "." || path.is_empty() {
            anyhow::anyhow!("{}{at}", inner.message())
        } else {
            anyhow::anyhow!("{path}: {}{at}", inner.message())
        }
    })?;
    file.check()?;
    Ok(file)
}

pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(p) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(p)
        .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", p.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", p.display()))
}

/// Layers `top` (flags and `HOTLINE_*` variables, already layered by clap) over the file's
/// section: every key `top` sets wins, tables merge key by key, unset keys keep the file's
/// value, then the section's default. `top` serializes with the section's key names (the
/// section's own type, or a struct of the few keys that have flags), so each key is
/// declared once and nothing is parsed again here.
pub fn layer<T, F>(file: Option<&T>, top: &F) -> anyhow::Result<T>
where
    T: Serialize + DeserializeOwned + Default,
    F: Serialize,
{
    let mut merged = match file {
        Some(f) => serde_json::to_value(f)?,
        None => serde_json::to_value(T::default())?,
    };
    merge(&mut merged, serde_json::to_value(top)?);
    Ok(serde_json::from_value(merged)?)
}

fn merge(bottom: &mut serde_json::Value, top: serde_json::Value) {
    use serde_json::Value;
    match (bottom, top) {
        (_, Value::Null) => {}
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None if v.is_null() => {}
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The SQLite URL for a data directory (created if missing).
pub fn sqlite_url(data_dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", data_dir.display()))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("hotline.db").display()
    ))
}

/// The store flags shared by `serve` and `admin`, and the file they are layered over.
#[derive(Args, Debug)]
pub(crate) struct StoreArgs {
    #[command(flatten)]
    pub(crate) keys: StoreKeys,
    /// TOML configuration file.
    #[arg(long, env = "HOTLINE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

impl StoreKeys {
    /// The data directory (default [`DEFAULT_DATA_DIR`]).
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// The database URL, else SQLite in the data dir.
    pub(crate) fn database_url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(u) => Ok(u.clone()),
            None => sqlite_url(&self.data_dir()),
        }
    }
}

/// `--database-url`, else the file's `database_url`, else SQLite in the data dir.
pub(crate) fn database_url(args: &StoreArgs, file: &FileConfig) -> anyhow::Result<String> {
    args.keys.over(file).database_url()
}

impl FileConfig {
    /// `[branches]` and `[reports]` as the core takes them.
    pub fn report_config(&self) -> hotline_report::ReportConfig {
        hotline_report::ReportConfig {
            branches: self.branches.clone().unwrap_or_default(),
            options: self.reports.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_media::pacer::RtpPacing;

    #[test]
    fn example_config_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/hotline.example.toml");
        let c = load(Some(&p)).unwrap();
        let rules = c.rules.unwrap();
        assert_eq!(rules.dispatch_minutes, 60);
        assert!(!rules.time_limits.rules.is_empty());
        let sip = c.sip.unwrap();
        assert_eq!(
            sip.rtp_ports.map(|r| r.to_string()).as_deref(),
            Some("10000-20000")
        );
        assert_eq!(sip.rtp_pacer_priority.map(u8::from), Some(10));
        assert_eq!(sip.rtp_pacing, Some(RtpPacing::Thread));
        let ivr = c.ivr.unwrap();
        ivr.validate().unwrap();
        assert_eq!(ivr.voicemail_max_secs, 120);
        let surveys = c.surveys.unwrap();
        assert_eq!(surveys, hotline_domain::survey::SurveyRules::default());
    }

    #[test]
    fn store_section_tunes_the_pool_and_refuses_zero() {
        let c = parse("[store]\nmax_connections = 32\nwriter_shards = 2\n").unwrap();
        let t = c.store_tuning();
        assert_eq!(
            (t.max_connections, t.writer_shards, t.max_batch),
            (Some(32), Some(2), None)
        );
        let o = hotline_store::StoreOptions::new("sqlite::memory:").tuned(&t);
        assert_eq!((o.max_connections, o.writer_shards), (32, 2));
        let e = parse("[store]\nmax_batch = 0\n").unwrap_err().to_string();
        assert!(e.contains("max_batch"), "{e}");
        let e = parse("[store]\npool = 3\n").unwrap_err().to_string();
        assert!(e.contains("store") && e.contains("pool"), "{e}");
    }

    #[test]
    fn qa_section_is_one_typed_section_checked_at_load() {
        let c = parse(
            "[qa]\nscheduled_per_agent = 3\nrecording = \"sampled\"\nrecording_percent = 20\nretention_days = 90\n[[qa.form]]\nkey = \"greeting\"\nlabel = \"问候语\"\nweight = 1\nmax = 5\n",
        )
        .unwrap();
        let q = c.qa.unwrap();
        assert_eq!((q.scheduled_per_agent, q.retention_days), (3, 90));
        assert_eq!(q.recording, hotline_domain::qa::RecordingMode::Sampled);
        assert_eq!(q.form.len(), 1);
        let e = parse("[qa]\nrecording = \"sampled\"\nrecording_percent = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("qa.recording_percent"), "{e}");
        let e = parse("[qa]\nrecording = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("qa") && e.contains("recording"), "{e}");
    }

    #[test]
    fn surveys_section_sets_calling_hours_and_refuses_bad_ones() {
        let c = parse("[surveys]\ncalling_from = \"09:00\"\nmax_attempts = 5\n").unwrap();
        let s = c.surveys.unwrap();
        assert_eq!(s.calling_from.to_string(), "09:00");
        assert_eq!(s.calling_until.to_string(), "20:30");
        assert_eq!(s.max_attempts, 5);
        let e = parse("[surveys]\ncalling_from = \"9h\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("surveys.calling_from") && e.contains("HH:MM"),
            "{e}"
        );
        let e = parse("[surveys]\ncalling_from = \"21:00\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("surveys.calling_from"), "{e}");
        let e = parse("[surveys]\nmax_attempts = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("surveys.max_attempts"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse("grpc_lissen = \"x\"").unwrap_err();
        assert!(e.to_string().contains("grpc_lissen"));
    }

    #[test]
    fn bad_values_are_refused_at_load_naming_the_key() {
        for (text, key, says) in [
            (
                "[sip]\nrtp_ports = \"20000-1000\"\n",
                "sip.rtp_ports",
                "lo < hi",
            ),
            ("[sip]\nrtp_pacing = \"fast\"\n", "sip.rtp_pacing", "fast"),
            (
                "[sip]\nrtp_pacer_priority = 120\n",
                "sip.rtp_pacer_priority",
                "1-99",
            ),
            ("[sip]\nmedia_ip = \"here\"\n", "sip.media_ip", "address"),
            ("grpc_listen = \"50051\"\n", "grpc_listen", "address"),
            ("[agi]\nlisten = \"nowhere\"\n", "agi.listen", "address"),
            ("[agi]\nmax_call_secs = 0\n", "max_call_secs", "1 s"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn flags_layer_over_the_file_key_by_key() {
        let file = parse(
            "[sip]\nrtp_ports = \"30000-30100\"\nrtp_pacing = \"timer\"\n\
             [sip.agents]\ns1 = \"pw-2\"\nj1 = \"old\"\n",
        )
        .unwrap();
        let flags = hotline_calls::SipSettings {
            rtp_pacing: Some(RtpPacing::Thread),
            agents: vec!["j1:pw-1".parse().unwrap()],
            ..Default::default()
        };
        let s: hotline_calls::SipSettings = layer(file.sip.as_ref(), &flags).unwrap();
        assert_eq!(s.rtp_pacing, Some(RtpPacing::Thread), "the flag wins");
        assert_eq!(
            s.rtp_ports,
            file.sip.as_ref().unwrap().rtp_ports,
            "the file's key stays"
        );
        let agents: Vec<_> = s
            .agents
            .iter()
            .map(|a| (a.user.as_str(), a.password.as_str()))
            .collect();
        assert_eq!(
            agents,
            [("j1", "pw-1"), ("s1", "pw-2")],
            "tables merge by user"
        );
        let none: hotline_calls::SipSettings =
            layer(None, &hotline_calls::SipSettings::default()).unwrap();
        assert_eq!(none, hotline_calls::SipSettings::default());
    }

    #[test]
    fn top_level_flags_and_variables_beat_the_file_key_by_key() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            listen: ListenKeys,
            #[command(flatten)]
            store: StoreKeys,
        }
        use clap::Parser;
        let file = parse(
            "grpc_listen = \"127.0.0.1:6001\"\nhttp_listen = \"127.0.0.1:6002\"\n\
             data_dir = \"/srv/hotline\"\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from(["hotline", "--grpc-listen", "0.0.0.0:7001"]).unwrap();
        let listen = cli.listen.over(&file);
        assert_eq!(listen.grpc_listen, Some("0.0.0.0:7001".parse().unwrap()));
        assert_eq!(listen.http_listen, Some("127.0.0.1:6002".parse().unwrap()));
        assert_eq!(listen.sip_listen, None, "unset everywhere: serve's default");
        let store = cli.store.over(&file);
        assert_eq!(store.data_dir(), PathBuf::from("/srv/hotline"));
        assert_eq!(
            StoreKeys::default().over(&FileConfig::default()).data_dir(),
            PathBuf::from(DEFAULT_DATA_DIR)
        );
        let e = Cli::try_parse_from(["hotline", "--sip-listen", "5060"])
            .err()
            .expect("a port alone is not an address");
        assert!(e.to_string().contains("sip-listen"), "{e}");
    }
}
