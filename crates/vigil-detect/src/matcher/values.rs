//! The values rules test, taken out of a record batch: a column as text or as numbers,
//! a key inside a JSON column, two values joined, a value chosen by `ActionType`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::plan::Target;

/// Each target's values for one batch, worked out once and shared by every rule.
pub(crate) struct Values {
    texts: Vec<StringArray>,
    numbers: Vec<Option<Float64Array>>,
}

impl Values {
    pub fn text(&self, target: usize) -> &StringArray {
        &self.texts[target]
    }

    pub fn number(&self, target: usize) -> Option<&Float64Array> {
        self.numbers[target].as_ref()
    }

    /// The values of `targets` in `batch`. A column the batch lacks reads as null.
    pub fn of(batch: &RecordBatch, targets: &[Target]) -> Values {
        let mut json = JsonCache::default();
        let texts = targets
            .iter()
            .map(|t| text_of(batch, t, &mut json))
            .collect();
        let numbers = targets
            .iter()
            .map(|t| match t {
                Target::Column {
                    name,
                    numeric: true,
                } => batch
                    .column_by_name(name)
                    .and_then(|c| cast(c, &DataType::Float64).ok())
                    .and_then(|a| a.as_any().downcast_ref::<Float64Array>().cloned()),
                _ => None,
            })
            .collect();
        Values { texts, numbers }
    }
}

fn nulls(len: usize) -> StringArray {
    StringArray::new_null(len)
}

fn as_text(array: &ArrayRef) -> Option<StringArray> {
    let text = match array.data_type() {
        DataType::Utf8 => Arc::clone(array),
        _ => cast(array, &DataType::Utf8).ok()?,
    };
    text.as_any().downcast_ref::<StringArray>().cloned()
}

/// Parsed JSON objects of a column, kept while one batch is worked on.
#[derive(Default)]
struct JsonCache {
    parsed: HashMap<String, Vec<Option<serde_json::Value>>>,
}

impl JsonCache {
    fn column(&mut self, batch: &RecordBatch, column: &str) -> &[Option<serde_json::Value>] {
        self.parsed.entry(column.to_string()).or_insert_with(|| {
            let Some(text) = batch.column_by_name(column).and_then(as_text) else {
                return vec![None; batch.num_rows()];
            };
            text.iter()
                .map(|v| v.and_then(|s| serde_json::from_str(s).ok()))
                .collect()
        })
    }
}

/// A JSON value as KQL's `tostring` gives it: strings bare, the rest as JSON text.
fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn text_of(batch: &RecordBatch, target: &Target, json: &mut JsonCache) -> StringArray {
    let len = batch.num_rows();
    match target {
        Target::Column { name, .. } => batch
            .column_by_name(name)
            .and_then(as_text)
            .unwrap_or_else(|| nulls(len)),
        Target::Json { column, path } => {
            let rows = json.column(batch, column);
            let mut out = StringBuilder::with_capacity(len, len * 16);
            for row in rows {
                let mut v = row.as_ref();
                for key in path {
                    v = v.and_then(|x| x.get(key));
                }
                out.append_option(v.and_then(json_text));
            }
            out.finish()
        }
        Target::Join { parts, sep } => {
            let parts: Vec<StringArray> = parts.iter().map(|p| text_of(batch, p, json)).collect();
            let mut out = StringBuilder::with_capacity(len, len * 32);
            for row in 0..len {
                let pieces: Vec<&str> = parts
                    .iter()
                    .filter(|p| p.is_valid(row) && !p.value(row).is_empty())
                    .map(|p| p.value(row))
                    .collect();
                if pieces.is_empty() {
                    out.append_null();
                } else {
                    out.append_value(pieces.join(sep));
                }
            }
            out.finish()
        }
        Target::ByAction(arms) => {
            let action = batch
                .column_by_name("ActionType")
                .and_then(as_text)
                .unwrap_or_else(|| nulls(len));
            let arms: Vec<(&str, StringArray)> = arms
                .iter()
                .map(|(a, t)| (a.as_str(), text_of(batch, t, json)))
                .collect();
            let mut out = StringBuilder::with_capacity(len, len * 32);
            for row in 0..len {
                let chosen = action
                    .is_valid(row)
                    .then(|| action.value(row))
                    .and_then(|a| arms.iter().find(|(name, _)| *name == a))
                    .filter(|(_, values)| values.is_valid(row))
                    .map(|(_, values)| values.value(row));
                out.append_option(chosen);
            }
            out.finish()
        }
    }
}
