//! Directory files (customers, repair staff) as rows, for the domain's import plans.
//!
//! A CSV file as people export it from a spreadsheet here: UTF-8 with or without a byte-order
//! mark, or GBK/GB18030 (what a Chinese Excel writes by default); commas, quoted fields with
//! commas and line breaks inside. The first row is the header; each data row keeps its line in
//! the file (the header is line 1, a quoted line break counts) so a refusal can name it.
//!
//! Invariant: no I/O (bytes in, rows out), no panic on any input; a file that cannot be read
//! as a table is one [`TabularError`] saying why.

/// A decoded table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sheet {
    pub headers: Vec<String>,
    /// (line of the row's start, cells), in file order; blank lines are skipped.
    pub rows: Vec<(usize, Vec<String>)>,
    /// How the bytes were decoded: `utf-8`, `utf-8 (BOM)` or `gb18030`.
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
}

/// Most data rows one file may have.
pub const MAX_ROWS: usize = 2_000_000;

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
