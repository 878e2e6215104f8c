//! Exporters: CSV, XLSX, SVG and PNG charts, JSON. Each writes the same bytes for the same
//! report (no clock, no random: the XLSX's document dates are fixed).

pub mod chart;
pub mod csv;
pub mod xlsx;

use crate::model::Report;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("XLSX: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("chart: {0}")]
    Chart(String),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "PNG charts need a font with Chinese glyphs: none found at {0}; install Debian's fonts-noto-cjk or set [reports] font"
    )]
    NoFont(String),
    #[error("this report has no chart (charts: queue, tickets, repair and full reports)")]
    NoChart,
}

/// An export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Svg,
    Png,
    Json,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 5] = [
        ExportFormat::Csv,
        ExportFormat::Xlsx,
        ExportFormat::Svg,
        ExportFormat::Png,
        ExportFormat::Json,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Svg => "svg",
            ExportFormat::Png => "png",
            ExportFormat::Json => "json",
        }
    }
    pub fn parse(s: &str) -> Option<ExportFormat> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
    pub fn mime(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            ExportFormat::Svg => "image/svg+xml",
            ExportFormat::Png => "image/png",
            ExportFormat::Json => "application/json",
        }
    }
}

/// Options of the exporters.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// A font file for PNG charts; empty: the first of [`chart::FONT_CANDIDATES`] present.
    pub font_path: Option<std::path::PathBuf>,
}

/// The report in `format`.
pub fn export(
    report: &Report,
    format: ExportFormat,
    opts: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::new();
    match format {
        ExportFormat::Csv => csv::write(report, &mut out)?,
        ExportFormat::Xlsx => out = xlsx::write(report)?,
        ExportFormat::Svg => out = chart::svg(report)?.into_bytes(),
        ExportFormat::Png => out = chart::png(report, opts.font_path.as_deref())?,
        ExportFormat::Json => serde_json::to_writer_pretty(&mut out, report)?,
    }
    Ok(out)
}
