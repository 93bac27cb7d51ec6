//! Rows that are already in a catalog table's shape: Defender and Sentinel exports.

use serde_json::{Map, Value as Json};
use vigil_schema::{Catalog, SOURCE_FILE_COLUMN, SOURCE_RECORD_COLUMN, Table};

use crate::rows::{RowWriter, TableSet, Value};

/// The catalog table whose columns best cover a set of field names: at least 80% of the
/// names must be columns of it, and at least three.
pub(crate) fn guess_table<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'static Table> {
    let total = names.clone().count();
    let mut best: Option<(&'static Table, usize)> = None;
    for table in Catalog::builtin().tables() {
        let hits = names.clone().filter(|n| table.column(n).is_some()).count();
        // On a tie the narrower table wins: it leaves fewer columns empty.
        let better = best.is_none_or(|(b, b_hits)| {
            hits > b_hits || (hits == b_hits && table.columns().len() < b.columns().len())
        });
        if better {
            best = Some((table, hits));
        }
    }
    best.filter(|&(_, hits)| hits >= 3 && hits * 5 >= total * 4)
        .map(|(t, _)| t)
}

/// Whether most of `names` are columns of `table` (to keep using a table guessed before).
pub(crate) fn fits(table: &Table, names: &[&str]) -> bool {
    let hits = names.iter().filter(|n| table.column(n).is_some()).count();
    hits * 5 >= names.len() * 4
}

/// Writes a JSON object as a row of `table`. Keys that are not columns are kept in
/// `AdditionalFields` when the table has it; returns how many keys had nowhere to go.
pub(crate) fn json_row(
    obj: &Map<String, Json>,
    table: &'static Table,
    file: &str,
    record: u64,
    out: &mut TableSet,
) -> usize {
    let Some(rows) = out.rows(&table.name) else {
        return 0;
    };
    let mut row = rows.row();
    provenance(&mut row, table, file, record);
    set_times(&mut row, |name| obj.get(name).and_then(Json::as_str));
    let mut extra = Map::new();
    for (key, value) in obj {
        if table.column(key).is_some() {
            set_json(&mut row, key, value);
        } else {
            extra.insert(key.clone(), value.clone());
        }
    }
    if extra.is_empty() {
        return 0;
    }
    if row.has("AdditionalFields") && !row.is_set("AdditionalFields") {
        row.set("AdditionalFields", Json::Object(extra).to_string());
        0
    } else {
        extra.len()
    }
}

/// Writes a CSV record as a row of `table`, by header name.
pub(crate) fn text_row(
    fields: &[(&str, &str)],
    table: &'static Table,
    file: &str,
    record: u64,
    out: &mut TableSet,
) {
    let Some(rows) = out.rows(&table.name) else {
        return;
    };
    let mut row = rows.row();
    provenance(&mut row, table, file, record);
    set_times(&mut row, |name| {
        fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    });
    for (key, value) in fields {
        if !value.is_empty() {
            row.set(key, *value);
        }
    }
}

fn provenance(row: &mut RowWriter<'_>, table: &Table, file: &str, record: u64) {
    row.set(SOURCE_FILE_COLUMN, file)
        .set(SOURCE_RECORD_COLUMN, record)
        .set("Type", table.name.as_str());
}

/// Every table has `Timestamp` and `TimeGenerated`; an export usually has one of them.
fn set_times<'a>(row: &mut RowWriter<'_>, get: impl Fn(&str) -> Option<&'a str>) {
    let ts = get("Timestamp").filter(|t| !t.is_empty());
    let tg = get("TimeGenerated").filter(|t| !t.is_empty());
    row.set_opt("Timestamp", ts.or(tg))
        .set_opt("TimeGenerated", tg.or(ts));
}

fn set_json(row: &mut RowWriter<'_>, column: &str, value: &Json) {
    match value {
        Json::Null => {}
        Json::String(s) => {
            row.set(column, s.as_str());
        }
        Json::Bool(b) => {
            row.set(column, *b);
        }
        Json::Number(n) => {
            let v = match n.as_i64() {
                Some(i) => Value::Long(i),
                None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
            };
            row.set(column, v);
        }
        other => {
            row.set(column, other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_the_table_from_its_columns() {
        let keys = [
            "Timestamp",
            "DeviceName",
            "ProcessCommandLine",
            "InitiatingProcessFileName",
            "FileName",
        ];
        let table = guess_table(keys.iter().copied()).unwrap();
        assert!(table.column("ProcessCommandLine").is_some());
        let keys = ["a", "b", "c", "Timestamp"];
        assert!(guess_table(keys.iter().copied()).is_none());
    }
}
