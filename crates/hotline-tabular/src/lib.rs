//! Directory files (customers, repair staff) as rows, for the domain's import plans.
//!
//! A CSV file as people export it from a spreadsheet here: UTF-8 with or without a byte-order
//! mark, or GBK/GB18030 (what a Chinese Excel writes by default); commas, quoted fields with
//! commas and line breaks inside. The first row is the header; each data row keeps its line in
//! the file (the header is line 1, a quoted line break counts) so a refusal can name it.
//!
//! An Excel workbook (`.xlsx`, read with `calamine`): the first worksheet, the first non-empty
//! row as the header, each later non-empty row with its row number as Excel shows it. Cells
//! come out as text the way the sheet holds them (see [`read_xlsx`]). [`read_sheet`] tells the
//! two apart by content.
//!
//! Invariant: no I/O (bytes in, rows out), no panic on any input; a file that cannot be read
//! as a table is one [`TabularError`] saying why.

/// A decoded table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sheet {
    pub headers: Vec<String>,
    /// (line of the row's start, cells), in file order; blank lines are skipped. For a
    /// workbook the line is the sheet's 1-based row number.
    pub rows: Vec<(usize, Vec<String>)>,
    /// How the bytes were decoded: `utf-8`, `utf-8 (BOM)`, `gb18030`, or `xlsx` for a workbook.
    pub encoding: &'static str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TabularError {
    #[error("the file is empty (no header row)")]
    Empty,
    #[error("the file is neither UTF-8 nor GBK/GB18030 text")]
    Encoding,
    #[error("line {line}: {reason}")]
    Csv { line: usize, reason: String },
    #[error("more than {max} rows")]
    TooManyRows { max: usize },
    #[error("not a readable XLSX workbook: {0}")]
    Xlsx(String),
    #[error("the workbook has no worksheet")]
    NoSheet,
    #[error("more than {max} cells")]
    TooManyCells { max: usize },
}

/// Most data rows one file may have.
pub const MAX_ROWS: usize = 2_000_000;

/// Most cells one workbook's rows may add up to, empty cells before a row's last value
/// included: a small compressed workbook can name a cell far away in every row.
pub const MAX_CELLS: usize = 30_000_000;

/// A worksheet's size in Excel: rows and columns.
const XLSX_ROWS: u32 = 1_048_576;
const XLSX_COLUMNS: u32 = 16_384;

/// Decodes text: UTF-8 (a BOM is dropped), else GB18030 (a superset of GBK and GB2312) when
/// it decodes without replacement characters.
pub fn decode_text(bytes: &[u8]) -> Result<(String, &'static str), TabularError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(|s| (s.to_string(), "utf-8 (BOM)"))
            .map_err(|_| TabularError::Encoding);
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_string(), "utf-8"));
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(TabularError::Encoding);
    }
    Ok((text.into_owned(), "gb18030"))
}

/// Reads a CSV file: header row first, rows of any width (short rows are padded with empty
/// cells by the reader of a column, long rows keep their extra cells).
pub fn read_csv(bytes: &[u8]) -> Result<Sheet, TabularError> {
    let (text, encoding) = decode_text(bytes)?;
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rd.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e
                    .position()
                    .map_or(rd.position().line(), |p| p.line())
                    .max(1) as usize;
                return Err(TabularError::Csv {
                    line,
                    reason: e.to_string(),
                });
            }
        }
        // The reader's own record position counts skipped blank lines as the record's start;
        // the line is found back from where the record ends instead.
        let end = rd.position();
        let byte = end.byte() as usize;
        let ended_by_newline = byte > 0 && text.as_bytes().get(byte - 1) == Some(&b'\n');
        let last_line = end.line() as usize - usize::from(ended_by_newline);
        let inner_breaks: usize = record.iter().map(|c| c.matches('\n').count()).sum();
        let line = last_line.saturating_sub(inner_breaks).max(1);
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        match headers {
            None => headers = Some(cells),
            Some(_) => {
                if rows.len() == MAX_ROWS {
                    return Err(TabularError::TooManyRows { max: MAX_ROWS });
                }
                rows.push((line, cells));
            }
        }
    }
    Ok(Sheet {
        headers: headers.ok_or(TabularError::Empty)?,
        rows,
        encoding,
    })
}

/// Reads a directory file given to `hotline customers import FILE`, CSV or XLSX, by content:
/// bytes that start as a zip archive (`PK\x03\x04`, which an `.xlsx` is) go to [`read_xlsx`],
/// anything else to [`read_csv`]. The file's name is not looked at.
pub fn read_sheet(bytes: &[u8]) -> Result<Sheet, TabularError> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(bytes)
    } else {
        read_csv(bytes)
    }
}

/// Reads the first worksheet of an `.xlsx` workbook (the first visible one if some are hidden;
/// chart and macro sheets are passed over).
///
/// The first row with a non-blank cell is the header; each later row with a non-blank cell is
/// a data row with its 1-based row number in the sheet, blank rows are skipped. Cells keep
/// their column (column A is cell 0, an empty cell is `""`; a row ends at its last cell with a
/// value). Cell values as text, untrimmed: text as is; numbers as Excel holds them, a whole
/// number without `.0` (a phone number typed as a number has lost its leading zero in Excel
/// already, `1062345678`); `TRUE`/`FALSE`; a date `2024-03-01`, a date and time
/// `2024-03-01 08:30:00`, a time of day `08:30:00` (`.mmm` added when there are milliseconds);
/// a duration as its number of days; an error such as `#N/A` as `""`.
///
/// A cell outside Excel's grid (1,048,576 rows, 16,384 columns) is a broken workbook; more
/// than [`MAX_ROWS`] data rows or [`MAX_CELLS`] cells is refused.
pub fn read_xlsx(bytes: &[u8]) -> Result<Sheet, TabularError> {
    use calamine::{Reader, SheetType, SheetVisible};
    use std::collections::BTreeMap;

    let xlsx_err = |e: calamine::XlsxError| TabularError::Xlsx(e.to_string());
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).map_err(xlsx_err)?;
    let name = {
        let sheets = book.sheets_metadata();
        let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
        worksheets()
            .find(|s| s.visible == SheetVisible::Visible)
            .or_else(|| worksheets().next())
            .ok_or(TabularError::NoSheet)?
            .name
            .clone()
    };
    let mut cells = book.worksheet_cells_reader(&name).map_err(xlsx_err)?;
    // Sheet row (0-based) -> (has a non-blank cell, (column, text) in file order).
    let mut by_row: BTreeMap<u32, (bool, Vec<(u32, String)>)> = BTreeMap::new();
    let mut filled_rows = 0usize;
    while let Some(cell) = cells.next_cell().map_err(xlsx_err)? {
        let text = cell_text(cell.get_value());
        if text.is_empty() {
            continue;
        }
        let (row, col) = cell.get_position();
        if row >= XLSX_ROWS || col >= XLSX_COLUMNS {
            return Err(TabularError::Xlsx(format!(
                "a cell at row {}, column {} is outside a worksheet's {XLSX_ROWS} rows and \
                 {XLSX_COLUMNS} columns",
                u64::from(row) + 1,
                u64::from(col) + 1
            )));
        }
        let entry = by_row.entry(row).or_default();
        if !entry.0 && !text.trim().is_empty() {
            entry.0 = true;
            filled_rows += 1;
            // The header row is one more than the data rows allowed.
            if filled_rows > MAX_ROWS + 1 {
                return Err(TabularError::TooManyRows { max: MAX_ROWS });
            }
        }
        entry.1.push((col, text));
    }
    let mut headers: Option<Vec<String>> = None;
    let width = |row_cells: &[(u32, String)]| {
        row_cells
            .iter()
            .map(|(c, _)| *c as usize + 1)
            .max()
            .unwrap_or(0)
    };
    // Counted before any row is laid out.
    let total_cells: usize = by_row
        .values()
        .filter(|(filled, _)| *filled)
        .map(|(_, row_cells)| width(row_cells))
        .sum();
    if total_cells > MAX_CELLS {
        return Err(TabularError::TooManyCells { max: MAX_CELLS });
    }
    let mut rows = Vec::new();
    for (row, (filled, row_cells)) in by_row {
        if !filled {
            continue;
        }
        let width = width(&row_cells);
        let mut line = vec![String::new(); width];
        for (col, text) in row_cells {
            line[col as usize] = text;
        }
        match headers {
            None => headers = Some(line),
            Some(_) => rows.push((row as usize + 1, line)),
        }
    }
    Ok(Sheet {
        headers: headers.ok_or(TabularError::Empty)?,
        rows,
        encoding: "xlsx",
    })
}

/// One workbook cell as text (see [`read_xlsx`]).
fn cell_text(value: &calamine::DataRef<'_>) -> String {
    use calamine::DataRef;
    match value {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(dt) if dt.is_datetime() && dt.as_f64().is_finite() => {
            let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
            let time = if ms == 0 {
                format!("{h:02}:{mi:02}:{s:02}")
            } else {
                format!("{h:02}:{mi:02}:{s:02}.{ms:03}")
            };
            let v = dt.as_f64();
            if (0.0..1.0).contains(&v) {
                time
            } else if (h, mi, s, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02} {time}")
            }
        }
        DataRef::DateTime(dt) => number_text(dt.as_f64()),
        DataRef::Error(_) | DataRef::Empty => String::new(),
    }
}

/// A number as Excel holds it: `{}` already leaves `.0` off a whole number; `-0` is `0`.
fn number_text(f: f64) -> String {
    if f == 0.0 {
        "0".to_string()
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_a_bom_quoted_fields_and_line_numbers() {
        let csv = "\u{feff}客户编码,客户名称,号码\nA1,\"甲公司, 天河\",02088880001\n\nB1,\"乙\n公司\",02088880002\nC1,丙公司\n";
        let s = read_csv(csv.as_bytes()).unwrap();
        assert_eq!(s.encoding, "utf-8 (BOM)");
        assert_eq!(
            s.headers,
            ["客户编码", "客户名称", "号码"],
            "no BOM in the first header"
        );
        let lines: Vec<usize> = s.rows.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            lines,
            [2, 4, 6],
            "blank line skipped, a quoted line break counted"
        );
        assert_eq!(s.rows[0].1[1], "甲公司, 天河");
        assert_eq!(s.rows[1].1[1], "乙\n公司");
        assert_eq!(s.rows[2].1.len(), 2, "a short row is kept as it is");
    }

    #[test]
    fn gbk_as_a_chinese_excel_writes_it() {
        let text = "客户编码,客户名称,类别,号码\r\nA1,广州港务局,大客户,02088880001\r\n";
        let (gbk, _, bad) = encoding_rs::GBK.encode(text);
        assert!(!bad);
        assert!(
            std::str::from_utf8(&gbk).is_err(),
            "the sample really is not UTF-8"
        );
        let s = read_csv(&gbk).unwrap();
        assert_eq!(s.encoding, "gb18030");
        assert_eq!(s.headers[1], "客户名称");
        assert_eq!(s.rows[0].1[1], "广州港务局");
        assert_eq!(s.rows[0].1[2], "大客户");
        assert_eq!(s.rows[0].0, 2, "CRLF line ends count as one line each");
    }

    #[test]
    fn broken_files_get_one_clear_error() {
        assert_eq!(read_csv(b""), Err(TabularError::Empty));
        assert_eq!(read_csv(b"\n\n"), Err(TabularError::Empty));
        assert_eq!(
            read_csv(b"\xEF\xBB\xBF\xff\xfe"),
            Err(TabularError::Encoding)
        );
        assert_eq!(
            read_csv(&[0x81, 0x20, 0xff, 0xff, 0x00]),
            Err(TabularError::Encoding)
        );
        // Arbitrary bytes never panic.
        for seed in 0u32..200 {
            let bytes: Vec<u8> = (0..64u32)
                .map(|i| (seed.wrapping_mul(2654435761).wrapping_add(i * 40503) >> 11) as u8)
                .collect();
            let _ = read_csv(&bytes);
        }
    }
}
