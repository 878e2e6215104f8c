//! XLSX (`rust_xlsxwriter`): a first sheet 说明 (the title, the period and every section's
//! definition), then one sheet per section: Chinese headers in bold, the header row frozen,
//! number formats by column (counts `0`, rates `0.00%`, decimals `0.0`, times
//! `yyyy-mm-dd hh:mm` Beijing). Sheets are written in constant-memory mode (rows go to a
//! temporary file as written), so a big export stays small in memory. The document's
//! creation date is fixed, so the same report gives the same content.

use super::ExportError;
use crate::model::{Cell, Column, Format as F, Report};
use hotline_acd::metrics::BEIJING_OFFSET_MS;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet};

/// Excel's sheet-name rules: at most 31 characters, none of `[]:*?/\`, unique.
fn sheet_name(title: &str, used: &mut Vec<String>) -> String {
    let clean: String = title
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(28)
        .collect();
    let mut name = if clean.is_empty() {
        "表".to_string()
    } else {
        clean
    };
    let base = name.clone();
    let mut i = 2;
    while used.contains(&name) {
        name = format!("{base}{i}");
        i += 1;
    }
    used.push(name.clone());
    name
}

struct Formats {
    header: Format,
    int: Format,
    pct: Format,
    dec: Format,
    time: Format,
    wrap: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            header: Format::new().set_bold(),
            int: Format::new().set_num_format("0"),
            pct: Format::new().set_num_format("0.00%"),
            dec: Format::new().set_num_format("0.0"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            wrap: Format::new().set_text_wrap(),
        }
    }
}

/// Excel's serial date of an instant, in Beijing time.
fn excel_time(ms: i64) -> f64 {
    (ms + BEIJING_OFFSET_MS) as f64 / 86_400_000.0 + 25_569.0
}

fn new_workbook() -> Result<Workbook, ExportError> {
    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2000, 1, 1)?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&fixed)
            .set_author("112 障碍申告"),
    );
    Ok(wb)
}

fn header(ws: &mut Worksheet, columns: &[Column], f: &Formats) -> Result<(), ExportError> {
    for (c, col) in columns.iter().enumerate() {
        let c = c as u16;
        ws.write_string_with_format(0, c, &col.header, &f.header)?;
        let width = match col.format {
            F::Time => 18.0,
            F::Text => 16.0,
            _ => 12.0,
        };
        ws.set_column_width(c, width)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn cell(
    ws: &mut Worksheet,
    r: u32,
    c: u16,
    v: &Cell,
    col: &Column,
    f: &Formats,
) -> Result<(), ExportError> {
    let fmt = match col.format {
        F::Int => &f.int,
        F::Percent => &f.pct,
        F::Decimal => &f.dec,
        F::Time => &f.time,
        F::Text => &f.wrap,
    };
    match v {
        Cell::Empty => {}
        Cell::Text(s) => {
            ws.write_string(r, c, s)?;
        }
        Cell::Int(n) => {
            ws.write_number_with_format(r, c, *n as f64, fmt)?;
        }
        Cell::Num(x) => {
            ws.write_number_with_format(r, c, *x, fmt)?;
        }
        Cell::Time(t) => {
            ws.write_number_with_format(r, c, excel_time(*t), &f.time)?;
        }
    }
    Ok(())
}

/// The whole report as an XLSX file.
pub fn write(report: &Report) -> Result<Vec<u8>, ExportError> {
    let mut wb = new_workbook()?;
    let f = Formats::new();
    let mut used = vec!["说明".to_string()];
    {
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name("说明")?;
        ws.write_string_with_format(0, 0, report.title(), &f.header)?;
        ws.write_string_with_format(2, 0, "表", &f.header)?;
        ws.write_string_with_format(2, 1, "口径", &f.header)?;
        ws.set_column_width(0, 24.0)?;
        ws.set_column_width(1, 100.0)?;
        for (i, s) in report.sections.iter().enumerate() {
            ws.write_string(3 + i as u32, 0, &s.title)?;
            ws.write_string_with_format(3 + i as u32, 1, &s.definition, &f.wrap)?;
        }
    }
    for s in &report.sections {
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name(sheet_name(&s.title, &mut used))?;
        header(ws, &s.columns, &f)?;
        for (i, row) in s.rows.iter().enumerate() {
            for (c, (v, col)) in row.cells.iter().zip(&s.columns).enumerate() {
                cell(ws, i as u32 + 1, c as u16, v, col, &f)?;
            }
        }
    }
    Ok(wb.save_to_buffer()?)
}

/// A big export streamed row by row into one sheet (constant memory), written to `out`.
pub fn write_rows<W: std::io::Write + std::io::Seek + Send>(
    title: &str,
    columns: &[Column],
    rows: impl Iterator<Item = Vec<Cell>>,
    out: W,
) -> Result<u64, ExportError> {
    let mut wb = new_workbook()?;
    let f = Formats::new();
    let mut n = 0u64;
    {
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name(sheet_name(title, &mut Vec::new()))?;
        header(ws, columns, &f)?;
        for (i, row) in rows.enumerate() {
            for (c, (v, col)) in row.iter().zip(columns).enumerate() {
                cell(ws, i as u32 + 1, c as u16, v, col, &f)?;
            }
            n += 1;
        }
    }
    wb.save_to_writer(out)?;
    Ok(n)
}
