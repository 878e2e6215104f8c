//! Configuration: a TOML file (`--config`), overridden by `HOTLINE_*` environment variables and
//! flags (clap handles both), with embedded defaults so `hotline serve` runs with nothing.

use clap::Args;
use hotline_domain::rules::DeskRules;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub grpc_listen: Option<String>,
    pub http_listen: Option<String>,
    pub sip_listen: Option<String>,
    pub database_url: Option<String>,
    /// Store tuning: pool size and group commit.
    pub store: Option<StoreSection>,
    /// First admin, created when no agent exists yet.
    pub admin: Option<AdminConfig>,
    /// The telephone side: SIP, RTP, prompts, agent softphones.
    pub sip: Option<crate::calls::SipSection>,
    /// IVR flows: timeouts, retries, voicemail limits, service hours.
    pub ivr: Option<hotline_ivr::IvrConfig>,
    /// FastAGI front end (Asterisk): listener, prompt names, Dial pattern, recordings.
    pub agi: Option<hotline_agi::AgiConfig>,
    /// Desk time rules and the repair time-limit table.
    #[serde(default)]
    pub rules: Option<DeskRules>,
    /// The branch map (`[branches]`: `area_code`, `[[branches.branch]]` with `name`,
    /// `prefixes`, `exchanges`), checked at start-up.
    pub branches: Option<hotline_report::BranchConfig>,
    /// Report options (`[reports]`: `font`, `[reports.staffing]`).
    pub reports: Option<hotline_report::ReportOptions>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub agent_id: String,
    pub password: String,
}

/// `[store]`: overrides of the store's pool size and group commit (defaults suit one 2-core
/// machine; see BENCHMARKS.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    pub max_connections: Option<u32>,
    pub writer_shards: Option<usize>,
    pub max_batch: Option<usize>,
}

impl FileConfig {
    /// The `[store]` overrides, checked.
    pub fn store_tuning(&self) -> anyhow::Result<hotline_store::StoreTuning> {
        let t = self
            .store
            .as_ref()
            .map(|s| hotline_store::StoreTuning {
                max_connections: s.max_connections,
                writer_shards: s.writer_shards,
                max_batch: s.max_batch,
            })
            .unwrap_or_default();
        t.validate().map_err(|e| anyhow::anyhow!("config: {e}"))?;
        Ok(t)
    }
}

pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(p) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(p)
        .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", p.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", p.display()))
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

/// The store flags shared by `serve` and `admin`.
#[derive(Args, Debug)]
pub(crate) struct StoreArgs {
    /// Where SQLite and recordings live.
    #[arg(long, env = "HOTLINE_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data dir).
    #[arg(long, env = "HOTLINE_DATABASE_URL")]
    pub(crate) database_url: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "HOTLINE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

/// `--database-url`, else the file's `database_url`, else SQLite in the data dir.
pub(crate) fn database_url(args: &StoreArgs, file: &FileConfig) -> anyhow::Result<String> {
    if let Some(u) = args
        .database_url
        .clone()
        .or_else(|| file.database_url.clone())
    {
        return Ok(u);
    }
    let dir = args
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./var"));
    sqlite_url(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/hotline.example.toml");
        let c = load(Some(&p)).unwrap();
        let rules = c.rules.unwrap();
        assert_eq!(rules.dispatch_minutes, 60);
        assert!(!rules.time_limits.rules.is_empty());
        let sip = c.sip.unwrap();
        assert_eq!(sip.rtp_ports.as_deref(), Some("10000-20000"));
        assert_eq!(sip.rtp_pacer_priority, Some(10));
        assert_eq!(sip.rtp_pacing.as_deref(), Some("thread"));
        let ivr = c.ivr.unwrap();
        ivr.validate().unwrap();
        assert_eq!(ivr.voicemail_max_secs, 120);
    }

    #[test]
    fn store_section_tunes_the_pool_and_refuses_zero() {
        let c: FileConfig =
            toml::from_str("[store]\nmax_connections = 32\nwriter_shards = 2\n").unwrap();
        let t = c.store_tuning().unwrap();
        assert_eq!(
            (t.max_connections, t.writer_shards, t.max_batch),
            (Some(32), Some(2), None)
        );
        let o = hotline_store::StoreOptions::new("sqlite::memory:").tuned(&t);
        assert_eq!((o.max_connections, o.writer_shards), (32, 2));
        let bad: FileConfig = toml::from_str("[store]\nmax_batch = 0\n").unwrap();
        let e = bad.store_tuning().unwrap_err().to_string();
        assert!(e.contains("max_batch"), "{e}");
        assert!(toml::from_str::<FileConfig>("[store]\npool = 3\n").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<FileConfig>("grpc_lissen = \"x\"").unwrap_err();
        assert!(e.to_string().contains("grpc_lissen"));
    }
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
