//! CSV: every section in one file, one after the other: a line with the section's title, a
//! line with its definition, the header, the rows, and an empty line. The first line is the
//! report's title. UTF-8 with a BOM (so spreadsheet programs read the Chinese headers).

use crate::model::Report;

pub fn write(report: &Report, out: &mut impl std::io::Write) -> Result<(), super::ExportError> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    w.write_record([report.title()])?;
    w.write_record([""; 0])?;
    for s in &report.sections {
        w.write_record([format!("【{}】", s.title)])?;
        w.write_record([format!("口径：{}", s.definition)])?;
        w.write_record(s.columns.iter().map(|c| c.header.as_str()))?;
        for r in &s.rows {
            w.write_record(
                r.cells
                    .iter()
                    .zip(&s.columns)
                    .map(|(c, col)| c.render(col.format)),
            )?;
        }
        w.write_record([""; 0])?;
    }
    w.flush()?;
    Ok(())
}
