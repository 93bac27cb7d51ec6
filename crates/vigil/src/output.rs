//! Printing record batches and plain tables as text, JSON or CSV.

use std::io::Write;

use anyhow::Result;
use arrow::record_batch::RecordBatch;
use serde_json::Value as Json;

use crate::cli::OutputFormat;

/// Writes query results to stdout.
pub fn print_batches(batches: &[RecordBatch], format: OutputFormat) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Table => {
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(batches)?
            )?;
        }
        OutputFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            drop(writer);
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for batch in batches {
                writer.write(batch)?;
            }
        }
    }
    Ok(())
}

/// Prints rows under a header: aligned, as CSV, or as JSON objects (where numbers stay
/// numbers).
pub fn print_rows(header: &[&str], rows: &[Vec<Json>], format: OutputFormat) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let text_rows = || {
        rows.iter()
            .map(|row| row.iter().map(cell_text).collect::<Vec<_>>())
    };
    match format {
        OutputFormat::Table => {
            let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
            for row in text_rows() {
                for (w, cell) in widths.iter_mut().zip(&row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: &[String]| -> String {
                let text: Vec<String> = cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}", w = *w))
                    .collect();
                text.join("  ").trim_end().to_string()
            };
            let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
            writeln!(out, "{}", line(&head))?;
            for row in text_rows() {
                writeln!(out, "{}", line(&row))?;
            }
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut out);
            writer.write_record(header)?;
            for row in text_rows() {
                writer.write_record(&row)?;
            }
            writer.flush()?;
        }
        OutputFormat::Json => {
            let items: Vec<Json> = rows
                .iter()
                .map(|row| {
                    let map = header
                        .iter()
                        .zip(row)
                        .map(|(h, c)| (h.to_string(), c.clone()))
                        .collect();
                    Json::Object(map)
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &items)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn cell_text(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Bytes as a short human size.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Nanoseconds since the epoch as an ISO time, or empty.
pub fn time_text(ns: Option<i64>) -> String {
    ns.map(vigil_ingest::time::format_time).unwrap_or_default()
}
