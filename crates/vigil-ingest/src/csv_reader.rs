//! CSV inputs with a header row naming catalog columns (portal exports).

use std::io::Read;

use crate::reader::Ctx;
use crate::shape::{guess_table, text_row};

/// Reads a CSV file whose header names the columns of one catalog table (given with
/// `--table` or recognised from the header). Bad rows are reported and skipped.
pub(crate) fn read(input: impl Read, label: &str, ctx: &mut Ctx<'_>) -> Result<(), String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(column_name).collect(),
        Err(err) => {
            ctx.fail(label, format!("cannot read the CSV header: {err}"));
            return Ok(());
        }
    };
    let table = ctx
        .table
        .or_else(|| guess_table(headers.iter().map(String::as_str)));
    let Some(table) = table else {
        ctx.fail(
            label,
            "the CSV header matches no catalog table; name one with --table".to_string(),
        );
        return Ok(());
    };
    let unknown: Vec<&str> = headers
        .iter()
        .map(String::as_str)
        .filter(|h| table.column(h).is_none())
        .collect();
    if !unknown.is_empty() {
        ctx.note(
            label,
            format!(
                "columns not in {}, left out: {}",
                table.name,
                unknown.join(", ")
            ),
        );
    }
    let mut record = csv::StringRecord::new();
    let mut row_no = 0u64;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                row_no += 1;
                let fields: Vec<(&str, &str)> = headers
                    .iter()
                    .map(String::as_str)
                    .zip(record.iter())
                    .collect();
                text_row(&fields, table, label, row_no, ctx.tables);
                ctx.record_done()?;
            }
            Err(err) => {
                row_no += 1;
                let line = err
                    .position()
                    .map_or(String::new(), |p| format!("line {}", p.line()));
                ctx.skip(label, line, format!("bad CSV row: {err}"));
                if matches!(err.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Portal exports sometimes decorate headers (`Timestamp [UTC]`); strip that.
fn column_name(header: &str) -> String {
    let h = header.trim().trim_start_matches('\u{feff}');
    h.strip_suffix(" [UTC]").unwrap_or(h).to_string()
}
