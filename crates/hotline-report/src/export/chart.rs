//! Charts (`plotters`), stacked in one image, from the report's sections:
//! - calls per half hour (bars) with the 15-second rate (line, right axis) — section
//!   `staffing`;
//! - tickets by fault type — section `tickets_by_fault`;
//! - on-time repair rate per branch — section `repair_by_branch`.
//!
//! Text is laid out with a real font (plotters' `ab_glyph`): the first present of the
//! configured font and [`FONT_CANDIDATES`] (Debian's `fonts-noto-cjk` first), loaded once per
//! process. SVG names the family `Noto Sans CJK SC, sans-serif` for the viewer; PNG draws the
//! glyphs, so it needs a font with Chinese glyphs for readable labels.

use super::ExportError;
use crate::model::{Cell, Report, Section};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Fonts tried in order when none is configured.
pub const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
];

const FAMILY: &str = "Noto Sans CJK SC";
const WIDTH: u32 = 960;
const PANEL: u32 = 360;

static FONT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Registers the font once; later calls return what the first found.
fn ensure_font(configured: Option<&Path>) -> Result<PathBuf, ExportError> {
    FONT.get_or_init(|| {
        let mut tried: Vec<PathBuf> = configured.map(Path::to_path_buf).into_iter().collect();
        tried.extend(FONT_CANDIDATES.iter().map(PathBuf::from));
        for p in &tried {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                    return Ok(p.clone());
                }
            }
        }
        Err(tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "))
    })
    .clone()
    .map_err(ExportError::NoFont)
}

/// The path of the font charts use (registering it), for messages and tests.
pub fn font_in_use(configured: Option<&Path>) -> Result<PathBuf, ExportError> {
    ensure_font(configured)
}

fn num(c: &Cell) -> f64 {
    match c {
        Cell::Int(n) => *n as f64,
        Cell::Num(x) => *x,
        _ => 0.0,
    }
}

fn text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        _ => String::new(),
    }
}

enum Panel<'a> {
    /// Bars of column `value`, labelled by column 0; optional rate line of column `line`.
    Bars {
        s: &'a Section,
        value: usize,
        line: Option<usize>,
        percent: bool,
        caption: &'a str,
    },
}

fn panels(report: &Report) -> Vec<Panel<'_>> {
    let mut out = Vec::new();
    if let Some(s) = report.section("staffing") {
        out.push(Panel::Bars {
            s,
            value: 1,
            line: Some(2),
            percent: false,
            caption: "每半小时呼入量与15秒接听率",
        });
    }
    if let Some(s) = report.section("tickets_by_fault") {
        out.push(Panel::Bars {
            s,
            value: 1,
            line: None,
            percent: false,
            caption: "按故障类型的申告数",
        });
    }
    if let Some(s) = report.section("repair_by_branch") {
        out.push(Panel::Bars {
            s,
            value: 4,
            line: None,
            percent: true,
            caption: "各分公司修复及时率",
        });
    }
    out
}

type DrawErr<E> = DrawingAreaErrorKind<E>;

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel<'_>,
) -> Result<(), DrawErr<DB::ErrorType>> {
    let Panel::Bars {
        s,
        value,
        line,
        percent,
        caption,
    } = p;
    let labels: Vec<String> = s
        .rows
        .iter()
        .map(|r| r.cells.first().map(text).unwrap_or_default())
        .collect();
    let values: Vec<f64> = s
        .rows
        .iter()
        .map(|r| r.cells.get(*value).map(num).unwrap_or(0.0) * if *percent { 100.0 } else { 1.0 })
        .collect();
    let n = labels.len().max(1) as u32;
    let top = if *percent {
        100.0
    } else {
        values.iter().cloned().fold(0.0, f64::max).max(1.0) * 1.1
    };
    let font = (FAMILY, 14);
    let mut chart = ChartBuilder::on(area)
        .caption(*caption, (FAMILY, 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .right_y_label_area_size(if line.is_some() { 50 } else { 0 })
        .build_cartesian_2d((0u32..n).into_segmented(), 0.0..top)?;
    let step = (labels.len() / 12).max(1);
    let lbl = labels.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(labels.len().min(24))
        .x_label_style(font)
        .y_label_style(font)
        .x_label_formatter(&move |v| match v {
            SegmentValue::CenterOf(i) if (*i as usize).is_multiple_of(step) => {
                lbl.get(*i as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .y_desc(if *percent { "%" } else { "" })
        .draw()?;
    let blue = RGBColor(0x3b, 0x6e, 0xb5);
    chart.draw_series(values.iter().enumerate().map(|(i, v)| {
        let i = i as u32;
        Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), *v),
            ],
            blue.mix(0.8).filled(),
        )
    }))?;
    if let Some(lc) = line {
        let rates: Vec<(u32, f64)> = s
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r.cells.get(*lc) {
                Some(Cell::Num(x)) => Some((i as u32, x * 100.0)),
                _ => None,
            })
            .collect();
        let mut chart = chart.set_secondary_coord((0u32..n).into_segmented(), 0.0..100.0);
        chart
            .configure_secondary_axes()
            .y_desc("15秒接听率 %")
            .label_style(font)
            .draw()?;
        chart.draw_secondary_series(LineSeries::new(
            rates.iter().map(|(i, y)| (SegmentValue::CenterOf(*i), *y)),
            RED.stroke_width(2),
        ))?;
    }
    Ok(())
}

fn draw_all<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    ps: &[Panel<'_>],
    title: &str,
) -> Result<(), ExportError> {
    let e = |x: DrawErr<DB::ErrorType>| ExportError::Chart(x.to_string());
    root.fill(&WHITE).map_err(e)?;
    let (head, body) = root.split_vertically(40);
    head.draw(&Text::new(
        title.to_string(),
        (10, 10),
        (FAMILY, 18).into_font(),
    ))
    .map_err(e)?;
    let areas = body.split_evenly((ps.len(), 1));
    for (a, p) in areas.iter().zip(ps) {
        draw_panel(a, p).map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

fn size(ps: &[Panel<'_>]) -> (u32, u32) {
    (WIDTH, 40 + PANEL * ps.len() as u32)
}

/// The report's charts as one SVG.
pub fn svg(report: &Report) -> Result<String, ExportError> {
    svg_with_font(report, None)
}

pub fn svg_with_font(report: &Report, font: Option<&Path>) -> Result<String, ExportError> {
    let ps = panels(report);
    if ps.is_empty() {
        return Err(ExportError::NoChart);
    }
    ensure_font(font)?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size(&ps)).into_drawing_area();
        draw_all(root, &ps, &report.title())?;
    }
    Ok(s)
}

/// The report's charts as one PNG.
pub fn png(report: &Report, font: Option<&Path>) -> Result<Vec<u8>, ExportError> {
    let ps = panels(report);
    if ps.is_empty() {
        return Err(ExportError::NoChart);
    }
    ensure_font(font)?;
    let (w, h) = size(&ps);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw_all(root, &ps, &report.title())?;
    }
    let mut out = Vec::new();
    use image::ImageEncoder;
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&buf, w, h, image::ColorType::Rgb8)
        .map_err(|e| ExportError::Chart(e.to_string()))?;
    Ok(out)
}
