//! Rows on their way to NDJSON files: built with [`Row`], checked against the catalog
//! and collected by [`Sink`], then written one file per table in time order.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::Value as Json;
use vigil_schema::{Catalog, KqlType, Table};

use crate::Error;
use crate::clock::iso;

/// One row of a catalog table. Keys are column names; `Type`, the times and the
/// report id are filled in by the sink.
#[derive(Debug, Clone)]
pub struct Row {
    pub table: &'static str,
    pub time: i64,
    schema: Option<&'static Table>,
    fields: BTreeMap<&'static str, Json>,
}

impl Row {
    /// A row of `table` at `time` (UTC milliseconds): its `Timestamp` and
    /// `TimeGenerated`, where the table has them.
    pub fn new(table: &'static str, time: i64) -> Row {
        Row {
            table,
            time,
            schema: Catalog::builtin().table(table),
            fields: BTreeMap::new(),
        }
    }

    fn has(&self, column: &str) -> bool {
        self.schema.is_some_and(|t| t.column(column).is_some())
    }

    /// Sets a column if the row's table has it: for helpers that describe a process or
    /// a device the same way in tables with different column sets.
    pub fn maybe(&mut self, column: &'static str, value: impl Into<Json>) -> &mut Row {
        if self.has(column) {
            self.set(column, value);
        }
        self
    }

    /// [`Row::maybe`] for text, leaving empty text out.
    pub fn maybe_text(&mut self, column: &'static str, value: &str) -> &mut Row {
        if self.has(column) {
            self.text(column, value);
        }
        self
    }

    /// [`Row::maybe`] for a datetime.
    pub fn maybe_time(&mut self, column: &'static str, ms: i64) -> &mut Row {
        if self.has(column) {
            self.time(column, ms);
        }
        self
    }

    /// Sets a column; `Json::Null` leaves it out.
    pub fn set(&mut self, column: &'static str, value: impl Into<Json>) -> &mut Row {
        let value = value.into();
        if value.is_null() {
            self.fields.remove(column);
        } else {
            self.fields.insert(column, value);
        }
        self
    }

    /// Sets a string column unless the text is empty.
    pub fn text(&mut self, column: &'static str, value: &str) -> &mut Row {
        if !value.is_empty() {
            self.fields.insert(column, Json::String(value.to_string()));
        }
        self
    }

    /// Sets a datetime column.
    pub fn time(&mut self, column: &'static str, ms: i64) -> &mut Row {
        self.fields.insert(column, Json::String(iso(ms)));
        self
    }

    /// Sets a string column that holds JSON text (`AdditionalFields` and the like).
    pub fn json_text(&mut self, column: &'static str, value: &Json) -> &mut Row {
        self.fields.insert(column, Json::String(canonical(value)));
        self
    }

    pub fn get(&self, column: &str) -> Option<&Json> {
        self.fields.get(column)
    }
}

/// JSON text with object keys in sorted order at every depth, whatever map type
/// serde_json was built with: the files must be the same bytes on every build.
pub fn canonical(value: &Json) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Json, out: &mut String) {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        Json::String(text) => write_str(text, out),
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string literal: plain text is copied as it is, anything that needs escaping
/// goes through serde_json.
fn write_str(text: &str, out: &mut String) {
    let plain = text
        .bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7F);
    if plain {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&Json::String(text.to_string()).to_string());
    }
}

struct Line {
    time: i64,
    seq: u64,
    text: String,
}

/// The rows of every table, checked against the catalog as they arrive.
pub struct Sink {
    catalog: &'static Catalog,
    tenant: String,
    tables: BTreeMap<&'static str, Vec<Line>>,
    seq: u64,
    end: i64,
}

impl Sink {
    /// A sink for rows before `end` (UTC milliseconds), the reference time.
    pub fn new(tenant: &str, end: i64) -> Sink {
        Sink {
            catalog: Catalog::builtin(),
            tenant: tenant.to_string(),
            tables: BTreeMap::new(),
            seq: 0,
            end,
        }
    }

    /// Adds a row. A table or column the catalog does not know is an error: the
    /// generator and the catalog have drifted apart. Rows at or after the reference
    /// time are dropped: activity that began just before it would end in the future
    /// (a document saved after `now`), and the data stops at `now`.
    pub fn push(&mut self, mut row: Row) -> Result<(), Error> {
        if row.time >= self.end {
            return Ok(());
        }
        let table = self
            .catalog
            .table(row.table)
            .ok_or_else(|| Error::UnknownTable(row.table.to_string()))?;
        self.seq += 1;
        let stamp = Json::String(iso(row.time));
        for column in ["Timestamp", "TimeGenerated"] {
            if table.column(column).is_some() {
                row.fields.entry(column).or_insert_with(|| stamp.clone());
            }
        }
        if table.column("TenantId").is_some() {
            row.fields
                .entry("TenantId")
                .or_insert_with(|| Json::String(self.tenant.clone()));
        }
        if let Some(c) = table.column("ReportId") {
            let id = match c.kql_type {
                KqlType::Long | KqlType::Int => Json::from(self.seq),
                _ => Json::String(format!("{}-{}", row.table, self.seq)),
            };
            row.fields.entry("ReportId").or_insert(id);
        }
        row.fields
            .insert("Type", Json::String(row.table.to_string()));
        for key in row.fields.keys() {
            if *key != "Type" && table.column(key).is_none() {
                return Err(Error::UnknownColumn {
                    table: row.table.to_string(),
                    column: key.to_string(),
                });
            }
        }
        let mut text = String::with_capacity(512);
        text.push('{');
        for (i, (k, v)) in row.fields.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            write_str(k, &mut text);
            text.push(':');
            write_canonical(v, &mut text);
        }
        text.push('}');
        self.tables.entry(row.table).or_default().push(Line {
            time: row.time,
            seq: self.seq,
            text,
        });
        Ok(())
    }

    /// Rows per table so far.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.tables
            .iter()
            .map(|(t, rows)| (t.to_string(), rows.len()))
            .collect()
    }

    /// Writes `<dir>/<Table>.ndjson` for every table, rows in time order.
    pub fn write(mut self, dir: &Path) -> Result<(), Error> {
        for (table, lines) in self.tables.iter_mut() {
            lines.sort_by_key(|l| (l.time, l.seq));
            let path = dir.join(format!("{table}.ndjson"));
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            let file = File::create(&path).map_err(io)?;
            let mut w = BufWriter::new(file);
            for line in lines.iter() {
                w.write_all(line.text.as_bytes()).map_err(io)?;
                w.write_all(b"\n").map_err(io)?;
            }
            w.flush().map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_depth() {
        let v = json!({"b": 1, "a": {"d": [1, {"z": 0, "y": "x"}], "c": null}});
        assert_eq!(
            canonical(&v),
            r#"{"a":{"c":null,"d":[1,{"y":"x","z":0}]},"b":1}"#
        );
    }

    #[test]
    fn unknown_columns_are_refused() {
        let mut sink = Sink::new("t", i64::MAX);
        let mut row = Row::new("DeviceProcessEvents", 0);
        row.set("NoSuchColumn", 1);
        assert!(matches!(sink.push(row), Err(Error::UnknownColumn { .. })));
        let mut ok = Row::new("DeviceProcessEvents", 0);
        ok.set("DeviceName", "a");
        assert!(sink.push(ok).is_ok());
        assert_eq!(sink.counts()["DeviceProcessEvents"], 1);
    }
}
