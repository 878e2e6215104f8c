//! Configuration: a TOML file (`--config`), overridden by `HOTLINE_*` environment variables and
//! flags (clap handles both), with embedded defaults so `hotline serve` runs with nothing.

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
    /// First admin, created when no agent exists yet.
    pub admin: Option<AdminConfig>,
    /// The telephone side: SIP, RTP, prompts, agent softphones.
    pub sip: Option<crate::calls::SipSection>,
    /// IVR flows: timeouts, retries, voicemail limits, service hours.
    pub ivr: Option<hotline_ivr::IvrConfig>,
    /// Desk time rules and the repair time-limit table.
    #[serde(default)]
    pub rules: Option<DeskRules>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub agent_id: String,
    pub password: String,
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
        let ivr = c.ivr.unwrap();
        ivr.validate().unwrap();
        assert_eq!(ivr.voicemail_max_secs, 120);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<FileConfig>("grpc_lissen = \"x\"").unwrap_err();
        assert!(e.to_string().contains("grpc_lissen"));
    }
}
