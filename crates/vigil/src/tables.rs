//! `vigil tables` and `vigil compact`.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::{Value as Json, json};
use vigil_schema::Catalog;
use vigil_store::Store;

use crate::cli::TablesArgs;
use crate::output::{human_bytes, print_rows, time_text};

pub fn run(data_dir: &Path, args: TablesArgs) -> Result<ExitCode> {
    let catalog = Catalog::builtin();
    if let Some(name) = &args.table {
        let Some(table) = catalog.table_ignore_case(name) else {
            match catalog.suggest_table(name) {
                Some(s) => bail!("unknown table {name:?}; did you mean {s}?"),
                None => bail!("unknown table {name:?}; `vigil tables --all` lists them"),
            }
        };
        let rows: Vec<Vec<Json>> = table
            .columns()
            .iter()
            .map(|c| {
                vec![
                    json!(c.name),
                    json!(c.kql_type.name()),
                    json!(c.description),
                ]
            })
            .collect();
        return print_rows(&["column", "type", "description"], &rows, args.format)
            .map(|()| ExitCode::SUCCESS);
    }

    let store = Store::open(data_dir)?;
    let stats: HashMap<String, vigil_store::TableStats> = store
        .table_stats()?
        .into_iter()
        .map(|s| (s.table.clone(), s))
        .collect();
    let json_mode = args.format == crate::cli::OutputFormat::Json;
    let mut rows = Vec::new();
    for table in catalog.tables() {
        let stat = stats.get(&table.name);
        if stat.is_none() && !args.all {
            continue;
        }
        let (count, files, bytes) = stat.map_or((0, 0, 0), |s| (s.rows, s.files, s.bytes));
        let size = if json_mode {
            json!(bytes)
        } else {
            json!(human_bytes(bytes))
        };
        rows.push(vec![
            json!(table.name),
            json!(count),
            json!(time_text(stat.and_then(|s| s.min_time))),
            json!(time_text(stat.and_then(|s| s.max_time))),
            json!(files),
            size,
        ]);
    }
    if rows.is_empty() && !json_mode {
        eprintln!(
            "The lake in {} is empty. Add data with `vigil ingest PATH`; `vigil tables --all` \
             lists every table Vigil knows.",
            data_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let header = ["table", "rows", "first", "last", "files", "size"];
    print_rows(&header, &rows, args.format)?;
    Ok(ExitCode::SUCCESS)
}

pub fn compact(data_dir: &Path) -> Result<ExitCode> {
    let store = Store::open(data_dir)?;
    let report = store.compact()?;
    let mut out = std::io::stdout().lock();
    if report.partitions == 0 {
        writeln!(out, "Nothing to compact.")?;
    } else {
        writeln!(
            out,
            "Compacted {} partitions: {} files into {} ({} rows).",
            report.partitions, report.files_before, report.files_after, report.rows
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
