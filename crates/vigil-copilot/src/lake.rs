//! The lake as skills see it: KQL over every catalog table, results as tables of JSON
//! values with their evidence, and the device and user names the lake knows.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, UInt64Type};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use datafusion::common::TableReference;
use serde_json::{Value as Json, json};
use vigil_kql::Engine;
use vigil_store::Store;

use crate::grounding::Known;
use crate::skill::{Evidence, ResultTable, SkillError};

/// How many source references an evidence block lists (the count covers all).
const SOURCES_SHOWN: usize = 5;

/// KQL over the lake, with a fixed "now" for `ago()` when tests need one.
pub struct Lake {
    engine: Engine,
    now: DateTime<Utc>,
}

/// A query's result and where it came from.
#[derive(Clone)]
pub struct QueryResult {
    pub table: ResultTable,
    pub evidence: Evidence,
    /// The tables the plan read, in the order of the query.
    pub read: Vec<String>,
}

impl Lake {
    /// The lake in `store`, as it is now.
    pub async fn open(store: &Store, now: DateTime<Utc>) -> Result<Lake, SkillError> {
        let ctx = store
            .session()
            .map_err(|e| SkillError::Failed(format!("opening the lake: {e}")))?;
        let mut engine = Engine::with_context(ctx.clone());
        for table in vigil_schema::Catalog::builtin().tables() {
            let provider = ctx
                .table_provider(TableReference::bare(table.name.as_str()))
                .await
                .map_err(|e| SkillError::Failed(format!("opening table {}: {e}", table.name)))?;
            engine.register_table(table.name.clone(), provider);
        }
        Ok(Lake::over(engine, now))
    }

    /// A lake over an engine whose tables are already registered.
    pub fn over(mut engine: Engine, now: DateTime<Utc>) -> Lake {
        engine.set_now(now.timestamp_nanos_opt().unwrap_or(0));
        Lake { engine, now }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Checks that `kql` parses and binds, without running it.
    pub fn check(&self, kql: &str) -> Result<(), SkillError> {
        self.engine
            .plan(kql)
            .map(|_| ())
            .map_err(|e| SkillError::Query {
                query: kql.to_string(),
                message: e.render(kql),
            })
    }

    /// Runs `kql` and returns its rows with their evidence.
    pub async fn query(&self, title: &str, kql: &str) -> Result<QueryResult, SkillError> {
        let failed = |e: vigil_kql::KqlError| SkillError::Query {
            query: kql.to_string(),
            message: e.render(kql),
        };
        let planned = self.engine.plan(kql).map_err(failed)?;
        let schema = planned.plan.schema().as_arrow().clone();
        let batches = self.engine.execute(&planned).await.map_err(failed)?;
        let mut table = ResultTable {
            title: title.to_string(),
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            rows: Vec::new(),
        };
        for b in &batches {
            table.rows.extend(rows_of(b));
        }
        let read = tables_read(kql);
        let evidence = evidence_of(kql, &table, &read);
        Ok(QueryResult {
            table,
            evidence,
            read,
        })
    }

    /// The devices and users the lake knows, for grounding.
    pub async fn known(&self) -> Known {
        let mut devices = BTreeSet::new();
        let mut users = BTreeSet::new();
        let device_queries = [
            "DeviceInfo | distinct DeviceName",
            "DeviceProcessEvents | distinct DeviceName",
            "DeviceLogonEvents | distinct DeviceName",
            "SecurityEvent | distinct Computer",
            "WindowsEvent | distinct Computer",
        ];
        let user_queries = [
            "IdentityInfo | distinct AccountName",
            "DeviceProcessEvents | distinct AccountName",
            "DeviceLogonEvents | distinct AccountName",
            "SigninLogs | distinct UserPrincipalName",
        ];
        for q in device_queries {
            devices.extend(self.first_column(q).await);
        }
        for q in user_queries {
            users.extend(self.first_column(q).await);
        }
        Known::new(devices, users)
    }

    /// The non-empty values of a query's first column; nothing when it fails (a table
    /// the lake does not have yet).
    async fn first_column(&self, kql: &str) -> Vec<String> {
        match self.query("", kql).await {
            Ok(r) => r
                .table
                .rows
                .iter()
                .filter_map(|row| row.first().and_then(crate::skill::text_of))
                .collect(),
            Err(e) => {
                tracing::debug!(%e, "names for grounding");
                Vec::new()
            }
        }
    }
}

/// The catalog tables a query names, in order.
pub fn tables_read(kql: &str) -> Vec<String> {
    let catalog = vigil_schema::Catalog::builtin();
    let mut out: Vec<String> = Vec::new();
    for word in kql.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if catalog.table(word).is_some() && !out.iter().any(|t| t == word) {
            out.push(word.to_string());
        }
    }
    out
}

fn evidence_of(kql: &str, table: &ResultTable, read: &[String]) -> Evidence {
    let mut sources = BTreeSet::new();
    if let (Some(f), Some(r)) = (table.column("_SourceFile"), table.column("_SourceRecord")) {
        for row in &table.rows {
            let file = row.get(f).and_then(crate::skill::text_of);
            let record = row.get(r).and_then(crate::skill::text_of);
            if let Some(file) = file {
                sources.insert(match record {
                    Some(r) => format!("{file}#{r}"),
                    None => file,
                });
            }
        }
    }
    Evidence {
        query: kql.to_string(),
        rows: table.rows.len(),
        tables: read.to_vec(),
        source_count: sources.len(),
        sources: sources.into_iter().take(SOURCES_SHOWN).collect(),
    }
}

/// The rows of a batch as JSON values: numbers and booleans as such, times as RFC 3339
/// UTC text, everything else as text.
pub fn rows_of(batch: &RecordBatch) -> Vec<Vec<Json>> {
    let columns: Vec<Vec<Json>> = batch
        .columns()
        .iter()
        .map(|c| values_of(c.as_ref()))
        .collect();
    (0..batch.num_rows())
        .map(|r| columns.iter().map(|c| c[r].clone()).collect())
        .collect()
}

fn values_of(array: &dyn Array) -> Vec<Json> {
    let n = array.len();
    let valid = |i: usize| array.is_valid(i);
    match array.data_type() {
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n)
                .map(|i| {
                    if valid(i) {
                        json!(a.value(i))
                    } else {
                        Json::Null
                    }
                })
                .collect()
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            match cast(array, &DataType::Int64) {
                Ok(c) => {
                    let a = c.as_primitive::<Int64Type>();
                    (0..n)
                        .map(|i| {
                            if valid(i) {
                                json!(a.value(i))
                            } else {
                                Json::Null
                            }
                        })
                        .collect()
                }
                Err(_) => vec![Json::Null; n],
            }
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            match cast(array, &DataType::UInt64) {
                Ok(c) => {
                    let a = c.as_primitive::<UInt64Type>();
                    (0..n)
                        .map(|i| {
                            if valid(i) {
                                json!(a.value(i))
                            } else {
                                Json::Null
                            }
                        })
                        .collect()
                }
                Err(_) => vec![Json::Null; n],
            }
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            match cast(array, &DataType::Float64) {
                Ok(c) => {
                    let a = c.as_primitive::<Float64Type>();
                    (0..n)
                        .map(|i| {
                            if valid(i) {
                                serde_json::Number::from_f64(a.value(i))
                                    .map_or(Json::Null, Json::Number)
                            } else {
                                Json::Null
                            }
                        })
                        .collect()
                }
                Err(_) => vec![Json::Null; n],
            }
        }
        DataType::Timestamp(_, _) => {
            match cast(array, &DataType::Timestamp(TimeUnit::Nanosecond, None)) {
                Ok(c) => {
                    let a = c.as_primitive::<arrow::datatypes::TimestampNanosecondType>();
                    (0..n)
                        .map(|i| {
                            if valid(i) {
                                json!(time_text(a.value(i)))
                            } else {
                                Json::Null
                            }
                        })
                        .collect()
                }
                Err(_) => vec![Json::Null; n],
            }
        }
        _ => match cast(array, &DataType::Utf8) {
            Ok(c) => {
                let a = c.as_string::<i32>();
                (0..n)
                    .map(|i| {
                        if a.is_valid(i) {
                            json!(a.value(i))
                        } else {
                            Json::Null
                        }
                    })
                    .collect()
            }
            Err(_) => vec![Json::Null; n],
        },
    }
}

/// Nanoseconds since the epoch as RFC 3339 UTC text, to the millisecond.
pub fn time_text(nanos: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(nanos)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A KQL string literal for `value`.
pub fn kql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Keeps the engine alive across threads in servers.
pub type SharedLake = Arc<Lake>;
