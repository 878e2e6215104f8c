//! Start-up checks: the IVR refuses to start when its settings cannot work or a prompt a flow
//! uses is missing or unplayable, and says which.

use std::path::Path;

use crate::config::{ConfigError, IvrConfig};
use crate::prompts::{CatalogError, MissingPrompt, PromptCatalog, check_prompts};

/// Why the IVR will not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `prompts.toml` cannot be read or parsed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A prompt a flow uses is missing or unplayable (named).
    #[error("cannot start the IVR: {0}")]
    MissingPrompt(#[from] MissingPrompt),
    /// A setting cannot work (named).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The voicemail directory cannot be created.
    #[error("voicemail directory {}: {source}", path.display())]
    VoicemailDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Validates `cfg`, loads the catalog at `prompts_toml`, runs [`check_prompts`] and creates
/// the voicemail directory. The glue calls this once before taking calls.
pub fn prepare(prompts_toml: &Path, cfg: &IvrConfig) -> Result<PromptCatalog, StartError> {
    cfg.validate()?;
    let catalog = PromptCatalog::load(prompts_toml)?;
    check_prompts(&catalog)?;
    std::fs::create_dir_all(&cfg.voicemail_dir).map_err(|source| StartError::VoicemailDir {
        path: cfg.voicemail_dir.clone(),
        source,
    })?;
    Ok(catalog)
}
