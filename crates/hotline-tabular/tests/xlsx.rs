//! XLSX reading against real workbooks written in memory with `rust_xlsxwriter`.

use std::io::Write;

use hotline_tabular::{MAX_CELLS, TabularError, read_sheet, read_xlsx};
use rust_xlsxwriter::{Chart, ChartType, ExcelDateTime, Format, Workbook, Worksheet};

fn book(fill: impl FnOnce(&mut Worksheet)) -> Vec<u8> {
    let mut wb = Workbook::new();
    fill(wb.add_worksheet());
    wb.save_to_buffer().unwrap()
}

/// A customer directory as a person types it in Excel: Chinese headers and text, a phone
/// number typed as a number, an empty cell, a blank row in the middle.
fn customers() -> Vec<u8> {
    book(|ws| {
        for (c, h) in ["客户编码", "客户名称", "类别", "电话号码"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "C001").unwrap();
        ws.write_string(1, 1, "广州港务局").unwrap();
        ws.write_string(1, 2, "大客户").unwrap();
        ws.write_number(1, 3, 1062345678.0).unwrap();
        // Row 3 (index 2) is left blank.
        ws.write_string(3, 0, "C002").unwrap();
        ws.write_string(3, 1, "天河区乙公司, 二楼").unwrap();
        // No 类别 for C002.
        ws.write_string(3, 3, "020-88880002").unwrap();
        ws.write_string(4, 0, "C003").unwrap();
        ws.write_string(4, 1, "丙公司").unwrap();
        ws.write_string(4, 2, "普通").unwrap();
    })
}

#[test]
fn chinese_headers_text_numbers_blank_row_and_empty_cell() {
    let s = read_xlsx(&customers()).unwrap();
    assert_eq!(s.encoding, "xlsx");
    assert_eq!(s.headers, ["客户编码", "客户名称", "类别", "电话号码"]);
    let lines: Vec<usize> = s.rows.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        lines,
        [2, 4, 5],
        "the sheet's own row numbers, blank row 3 skipped"
    );
    assert_eq!(s.rows[0].1, ["C001", "广州港务局", "大客户", "1062345678"]);
    assert_eq!(
        s.rows[1].1,
        ["C002", "天河区乙公司, 二楼", "", "020-88880002"],
        "an empty cell in the middle keeps the columns in place"
    );
    assert_eq!(
        s.rows[2].1,
        ["C003", "丙公司", "普通"],
        "a row ends at its last cell with a value, as a short CSV row does"
    );
}

#[test]
fn cell_types_come_out_as_text() {
    let bytes = book(|ws| {
        let heads = [
            "int", "float", "zero", "true", "false", "date", "datetime", "time", "na", "text",
        ];
        for (c, h) in heads.iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_number(1, 0, 42.0).unwrap();
        ws.write_number(1, 1, 3.25).unwrap();
        ws.write_number(1, 2, -0.0).unwrap();
        ws.write_boolean(1, 3, true).unwrap();
        ws.write_boolean(1, 4, false).unwrap();
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let time = Format::new().set_num_format("hh:mm:ss");
        let d = ExcelDateTime::from_ymd(2024, 3, 1).unwrap();
        ws.write_datetime_with_format(1, 5, &d, &date).unwrap();
        let dt = ExcelDateTime::from_ymd(2024, 3, 1)
            .unwrap()
            .and_hms(8, 30, 5)
            .unwrap();
        ws.write_datetime_with_format(1, 6, &dt, &datetime).unwrap();
        let t = ExcelDateTime::from_hms(8, 30, 0).unwrap();
        ws.write_datetime_with_format(1, 7, &t, &time).unwrap();
        ws.write_formula(1, 8, "=NA()").unwrap();
        ws.set_formula_result(1, 8, "#N/A");
        ws.write_string(1, 9, "  留空格  ").unwrap();
    });
    let s = read_xlsx(&bytes).unwrap();
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.rows[0].0, 2);
    assert_eq!(
        s.rows[0].1,
        [
            "42",
            "3.25",
            "0",
            "TRUE",
            "FALSE",
            "2024-03-01",
            "2024-03-01 08:30:05",
            "08:30:00",
            "",
            "  留空格  ",
        ]
    );
}

#[test]
fn header_below_blank_rows_and_an_empty_first_column() {
    let bytes = book(|ws| {
        ws.write_string(2, 1, "客户编码").unwrap();
        ws.write_string(2, 2, "客户名称").unwrap();
        // A row of spaces only counts as blank.
        ws.write_string(3, 1, "   ").unwrap();
        ws.write_string(4, 1, "A1").unwrap();
        ws.write_string(4, 2, "甲").unwrap();
    });
    let s = read_xlsx(&bytes).unwrap();
    assert_eq!(
        s.headers,
        ["", "客户编码", "客户名称"],
        "column A stays cell 0"
    );
    assert_eq!(
        s.rows,
        [(5, vec!["".to_string(), "A1".into(), "甲".into()])]
    );
}

#[test]
fn the_first_visible_worksheet_is_read() {
    let mut wb = Workbook::new();
    let hidden = wb.add_worksheet();
    hidden.write_string(0, 0, "隐藏").unwrap();
    hidden.set_hidden(true);
    // Excel keeps the active sheet visible: the second one is made active.
    let first_visible = wb.add_worksheet().set_active(true);
    first_visible.write_string(0, 0, "第一张").unwrap();
    wb.add_worksheet().write_string(0, 0, "第二张").unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let s = read_xlsx(&bytes).unwrap();
    assert_eq!(s.headers, ["第一张"]);
    assert!(s.rows.is_empty());
}

#[test]
fn a_chartsheet_first_is_passed_over() {
    let mut wb = Workbook::new();
    let mut chart = Chart::new(ChartType::Column);
    chart.add_series().set_values("Sheet1!$A$2:$A$3");
    wb.add_chartsheet().insert_chart(0, 0, &chart).unwrap();
    let ws = wb.add_worksheet().set_name("Sheet1").unwrap();
    ws.write_string(0, 0, "数量").unwrap();
    ws.write_number(1, 0, 1.0).unwrap();
    ws.write_number(2, 0, 2.5).unwrap();
    let s = read_xlsx(&wb.save_to_buffer().unwrap()).unwrap();
    assert_eq!(s.headers, ["数量"]);
    assert_eq!(
        s.rows,
        [(2, vec!["1".to_string()]), (3, vec!["2.5".to_string()])]
    );
}

#[test]
fn an_empty_worksheet_has_no_header() {
    assert_eq!(read_xlsx(&book(|_| {})), Err(TabularError::Empty));
    let only_blank = book(|ws| {
        ws.write_blank(0, 0, &Format::new().set_bold()).unwrap();
        ws.write_string(1, 1, "").unwrap();
    });
    assert_eq!(read_xlsx(&only_blank), Err(TabularError::Empty));
}

#[test]
fn read_sheet_tells_csv_from_xlsx_by_content() {
    let x = read_sheet(&customers()).unwrap();
    assert_eq!(x.encoding, "xlsx");
    assert_eq!(x.rows[0].1[3], "1062345678");

    let csv = "客户编码,客户名称,类别,电话号码\nC001,广州港务局,大客户,01062345678\n";
    let c = read_sheet(csv.as_bytes()).unwrap();
    assert_eq!(c.encoding, "utf-8");
    assert_eq!(c.headers, x.headers, "the same headers either way");
    assert_eq!(
        c.rows,
        [(
            2,
            vec![
                "C001".to_string(),
                "广州港务局".into(),
                "大客户".into(),
                "01062345678".into()
            ]
        )],
        "text in a CSV keeps its leading zero"
    );
    assert_eq!(
        read_sheet(b""),
        Err(TabularError::Empty),
        "empty is CSV's empty"
    );
}

fn is_xlsx_error(r: &Result<hotline_tabular::Sheet, TabularError>) -> bool {
    matches!(r, Err(TabularError::Xlsx(m)) if !m.is_empty())
}

#[test]
fn truncated_workbook_is_an_error() {
    let full = customers();
    for cut in [full.len() / 2, full.len() - 1, 30, 4] {
        let r = read_sheet(&full[..cut]);
        assert!(is_xlsx_error(&r), "cut at {cut}: {r:?}");
    }
}

#[test]
fn a_zip_that_is_not_a_workbook_is_an_error() {
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zw.start_file("readme.txt", opts).unwrap();
    zw.write_all("不是工作簿".as_bytes()).unwrap();
    let bytes = zw.finish().unwrap().into_inner();
    assert!(bytes.starts_with(b"PK\x03\x04"));
    let r = read_sheet(&bytes);
    assert!(is_xlsx_error(&r), "{r:?}");
}

#[test]
fn random_bytes_after_the_zip_magic_are_an_error() {
    for seed in 0u32..200 {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(
            (0..(64 + seed * 7))
                .map(|i| (seed.wrapping_mul(2654435761).wrapping_add(i * 40503) >> 11) as u8),
        );
        let r = read_sheet(&bytes);
        assert!(is_xlsx_error(&r), "seed {seed}: {r:?}");
    }
}

#[test]
fn corrupted_workbooks_never_panic() {
    let full = customers();
    let mut errors = 0;
    for seed in 0u32..400 {
        let mut bytes = full.clone();
        let at = (seed.wrapping_mul(2654435761) as usize) % bytes.len();
        for (k, b) in bytes
            .iter_mut()
            .skip(at)
            .take(1 + seed as usize % 16)
            .enumerate()
        {
            *b ^= (seed as u8).wrapping_add(k as u8) | 1;
        }
        match read_sheet(&bytes) {
            Err(_) => errors += 1,
            // A hit in a part not read (document properties, say) may leave it readable.
            Ok(s) => assert_eq!(s.encoding, "xlsx"),
        }
    }
    assert!(
        errors > 100,
        "most corruptions are noticed, {errors} of 400"
    );
}

/// The workbook's parts, with `edit` applied to the first worksheet's XML, zipped again.
fn with_sheet_xml(bytes: &[u8], edit: impl Fn(String) -> String) -> Vec<u8> {
    use std::io::Read;
    let mut za = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..za.len() {
        let mut part = za.by_index(i).unwrap();
        let mut data = Vec::new();
        part.read_to_end(&mut data).unwrap();
        if part.name() == "xl/worksheets/sheet1.xml" {
            data = edit(String::from_utf8(data).unwrap()).into_bytes();
        }
        zw.start_file(part.name(), opts).unwrap();
        zw.write_all(&data).unwrap();
    }
    zw.finish().unwrap().into_inner()
}

#[test]
fn a_cell_outside_the_grid_is_an_error() {
    let full = customers();
    let same = with_sheet_xml(&full, |x| x);
    assert_eq!(
        read_xlsx(&same),
        read_xlsx(&full),
        "zipped again it reads the same"
    );
    for far in [r#"r="ZZZZZZ2""#, r#"r="D1048577""#] {
        let bytes = with_sheet_xml(&full, |x| {
            assert!(x.contains(r#"r="D2""#));
            x.replacen(r#"r="D2""#, far, 1)
        });
        let r = read_xlsx(&bytes);
        assert!(is_xlsx_error(&r), "{far}: {r:?}");
    }
    // The last row and column Excel has are fine.
    let edge = with_sheet_xml(&full, |x| x.replacen(r#"r="D2""#, r#"r="XFD2""#, 1));
    let s = read_xlsx(&edge).unwrap();
    assert_eq!(s.rows[0].1.len(), 16_384);
    assert_eq!(s.rows[0].1[16_383], "1062345678");
}

#[test]
fn a_cell_far_right_in_every_row_is_refused_before_it_is_laid_out() {
    let rows = (MAX_CELLS / 16_384 + 1) as u32;
    let bytes = book(|ws| {
        for r in 0..rows {
            ws.write_string(r, 16_383, "x").unwrap();
        }
    });
    assert_eq!(
        read_xlsx(&bytes),
        Err(TabularError::TooManyCells { max: MAX_CELLS })
    );
}
