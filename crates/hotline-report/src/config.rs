//! What the core needs to make reports: the `[branches]` map and the `[reports]` options.

use crate::branch::BranchConfig;
use crate::erlang::StaffingRules;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `[reports]` config section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportOptions {
    /// Erlang C staffing: target share, answer threshold, default handle time.
    pub staffing: StaffingRules,
    /// Font for PNG charts (default: Debian's fonts-noto-cjk).
    pub font: Option<PathBuf>,
}

/// The core's report settings (one `CoreConfig` field).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportConfig {
    pub branches: BranchConfig,
    pub options: ReportOptions,
}
