//! Building Arrow record batches of catalog tables, one row at a time.
//!
//! Normalisers know column names, not positions or Arrow builders: they open a row,
//! set the columns they have, and the row is finished when the writer is dropped, with
//! nulls in every column they left alone. Values are converted to the column's type
//! on the way in (a `"4624"` into an `int` column, an ISO time into a `datetime`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, DurationNanosecondBuilder, Float64Builder, Int32Builder,
    Int64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use vigil_schema::{Catalog, KqlType, Table};

use crate::time::parse_time;

/// One value on its way into a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Long(i64),
    Real(f64),
    Bool(bool),
    /// Nanoseconds since the Unix epoch, UTC.
    Time(i64),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(s: &'a String) -> Self {
        Value::Str(Cow::Borrowed(s.as_str()))
    }
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Long(v)
    }
}

impl From<u64> for Value<'_> {
    fn from(v: u64) -> Self {
        Value::Long(v as i64)
    }
}

impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Long(i64::from(v))
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

enum Builder {
    Str(StringBuilder),
    Long(Int64Builder),
    Int(Int32Builder),
    Real(Float64Builder),
    Bool(BooleanBuilder),
    Time(TimestampNanosecondBuilder),
    Span(DurationNanosecondBuilder),
}

impl Builder {
    fn new(ty: KqlType) -> Builder {
        match ty {
            KqlType::String | KqlType::Guid | KqlType::Dynamic => {
                Builder::Str(StringBuilder::new())
            }
            KqlType::Long => Builder::Long(Int64Builder::new()),
            KqlType::Int => Builder::Int(Int32Builder::new()),
            KqlType::Real | KqlType::Decimal => Builder::Real(Float64Builder::new()),
            KqlType::Bool => Builder::Bool(BooleanBuilder::new()),
            KqlType::DateTime => {
                Builder::Time(TimestampNanosecondBuilder::new().with_timezone("UTC"))
            }
            KqlType::TimeSpan => Builder::Span(DurationNanosecondBuilder::new()),
        }
    }

    fn append_null(&mut self) {
        match self {
            Builder::Str(b) => b.append_null(),
            Builder::Long(b) => b.append_null(),
            Builder::Int(b) => b.append_null(),
            Builder::Real(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Time(b) => b.append_null(),
            Builder::Span(b) => b.append_null(),
        }
    }

    /// Appends `value` converted to this column's type; a value that does not convert
    /// becomes null and `false` is returned.
    fn append(&mut self, value: &Value<'_>) -> bool {
        match self {
            Builder::Str(b) => {
                match value {
                    Value::Str(s) => b.append_value(s),
                    Value::Long(v) => b.append_value(v.to_string()),
                    Value::Real(v) => b.append_value(v.to_string()),
                    Value::Bool(v) => b.append_value(if *v { "true" } else { "false" }),
                    Value::Time(ns) => b.append_value(crate::time::format_time(*ns)),
                }
                true
            }
            Builder::Long(b) => append_opt(b, as_long(value)),
            Builder::Int(b) => append_opt(b, as_long(value).and_then(|v| i32::try_from(v).ok())),
            Builder::Real(b) => append_opt(b, as_real(value)),
            Builder::Bool(b) => {
                let v = as_bool(value);
                b.append_option(v);
                v.is_some()
            }
            Builder::Time(b) => append_opt(b, as_time(value)),
            Builder::Span(b) => append_opt(b, as_long(value)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Long(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Real(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Span(b) => Arc::new(b.finish()),
        }
    }
}

fn append_opt<T: arrow::datatypes::ArrowPrimitiveType>(
    b: &mut arrow::array::PrimitiveBuilder<T>,
    v: Option<T::Native>,
) -> bool {
    b.append_option(v);
    v.is_some()
}

fn as_long(value: &Value<'_>) -> Option<i64> {
    match value {
        Value::Long(v) => Some(*v),
        Value::Real(v) if v.fract() == 0.0 => Some(*v as i64),
        Value::Bool(v) => Some(i64::from(*v)),
        Value::Str(s) => parse_long(s),
        Value::Time(ns) => Some(*ns),
        Value::Real(_) => None,
    }
}

/// Parses decimal and `0x` hexadecimal integers, as Windows writes both.
pub fn parse_long(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as i64);
    }
    s.parse::<i64>()
        .ok()
        .or_else(|| s.parse::<u64>().ok().map(|v| v as i64))
}

fn as_real(value: &Value<'_>) -> Option<f64> {
    match value {
        Value::Real(v) => Some(*v),
        Value::Long(v) => Some(*v as f64),
        Value::Str(s) => s.trim().parse().ok(),
        Value::Bool(_) | Value::Time(_) => None,
    }
}

fn as_bool(value: &Value<'_>) -> Option<bool> {
    match value {
        Value::Bool(v) => Some(*v),
        Value::Long(v) => Some(*v != 0),
        Value::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Real(_) | Value::Time(_) => None,
    }
}

fn as_time(value: &Value<'_>) -> Option<i64> {
    match value {
        Value::Time(ns) => Some(*ns),
        Value::Str(s) => parse_time(s),
        _ => None,
    }
}

/// Rows of one catalog table being built.
pub struct TableRows {
    table: &'static Table,
    builders: Vec<Builder>,
    set: Vec<bool>,
    len: usize,
    /// Rows built since this table's rows were created, taken or not.
    total: u64,
    /// Values that did not fit their column's type, by column name.
    rejected: BTreeMap<String, usize>,
}

impl TableRows {
    pub fn new(table: &'static Table) -> TableRows {
        TableRows {
            table,
            builders: table
                .columns()
                .iter()
                .map(|c| Builder::new(c.kql_type))
                .collect(),
            set: vec![false; table.columns().len()],
            len: 0,
            total: 0,
            rejected: BTreeMap::new(),
        }
    }

    pub fn table(&self) -> &'static Table {
        self.table
    }

    /// Rows built and not yet taken.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Starts a row; it is complete when the returned writer is dropped.
    pub fn row(&mut self) -> RowWriter<'_> {
        RowWriter { rows: self }
    }

    /// Takes the rows built so far as one record batch.
    pub fn take_batch(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        self.len = 0;
        match RecordBatch::try_new(self.table.arrow_schema(), columns) {
            Ok(batch) => batch,
            // Each builder is made from the same column list as the schema, and every
            // row appends exactly once to every builder, so lengths and types agree.
            Err(err) => unreachable!(
                "batch for {} does not match its schema: {err}",
                self.table.name
            ),
        }
    }

    /// Values dropped because they did not convert to their column's type.
    pub fn rejected(&self) -> &BTreeMap<String, usize> {
        &self.rejected
    }
}

/// One row being written; finished (unset columns null) when dropped.
pub struct RowWriter<'a> {
    rows: &'a mut TableRows,
}

impl RowWriter<'_> {
    /// Sets a column by name. Unknown names and columns already set are ignored, so a
    /// normaliser can set a column from its best source first and fall back after.
    pub fn set<'v>(&mut self, column: &str, value: impl Into<Value<'v>>) -> &mut Self {
        if let Some(i) = self.rows.table.column_index(column) {
            self.set_at(i, &value.into());
        }
        self
    }

    /// Sets a column if the value is present and not empty.
    pub fn set_opt<'v, V: Into<Value<'v>>>(&mut self, column: &str, value: Option<V>) -> &mut Self {
        if let Some(v) = value {
            let v = v.into();
            if !matches!(&v, Value::Str(s) if s.is_empty())
                && let Some(i) = self.rows.table.column_index(column)
            {
                self.set_at(i, &v);
            }
        }
        self
    }

    /// Whether the table has this column.
    pub fn has(&self, column: &str) -> bool {
        self.rows.table.column_index(column).is_some()
    }

    /// Whether the column has been set in this row.
    pub fn is_set(&self, column: &str) -> bool {
        self.rows
            .table
            .column_index(column)
            .is_some_and(|i| self.rows.set[i])
    }

    fn set_at(&mut self, i: usize, value: &Value<'_>) {
        if self.rows.set[i] {
            return;
        }
        self.rows.set[i] = true;
        if !self.rows.builders[i].append(value) {
            let name = &self.rows.table.columns()[i].name;
            *self.rows.rejected.entry(name.clone()).or_default() += 1;
        }
    }
}

impl Drop for RowWriter<'_> {
    fn drop(&mut self) {
        let rows = &mut *self.rows;
        for (builder, set) in rows.builders.iter_mut().zip(rows.set.iter_mut()) {
            if !*set {
                builder.append_null();
            }
            *set = false;
        }
        rows.len += 1;
        rows.total += 1;
    }
}

/// Rows for many tables at once, with a batch handed on whenever one table fills up.
pub struct TableSet {
    catalog: &'static Catalog,
    tables: BTreeMap<&'static str, TableRows>,
    batch_rows: usize,
}

impl TableSet {
    pub fn new(batch_rows: usize) -> TableSet {
        TableSet {
            catalog: Catalog::builtin(),
            tables: BTreeMap::new(),
            batch_rows: batch_rows.max(1),
        }
    }

    /// Rows of a catalog table; `None` if the catalog has no such table.
    pub fn rows(&mut self, table: &str) -> Option<&mut TableRows> {
        if !self.tables.contains_key(table) {
            let t = self.catalog.table(table)?;
            self.tables.insert(t.name.as_str(), TableRows::new(t));
        }
        self.tables.get_mut(table)
    }

    /// Batches of every table that has reached the batch size.
    pub fn take_full(&mut self) -> Vec<(&'static Table, RecordBatch)> {
        let limit = self.batch_rows;
        self.tables
            .values_mut()
            .filter(|r| r.len() >= limit)
            .map(|r| (r.table(), r.take_batch()))
            .collect()
    }

    /// Batches of every table with any rows.
    pub fn take_all(&mut self) -> Vec<(&'static Table, RecordBatch)> {
        self.tables
            .values_mut()
            .filter(|r| !r.is_empty())
            .map(|r| (r.table(), r.take_batch()))
            .collect()
    }

    /// Values dropped for not fitting their column since the last call, as (table,
    /// column, count).
    pub fn take_rejected(&mut self) -> Vec<(&'static str, String, usize)> {
        let mut out = Vec::new();
        for (t, r) in self.tables.iter_mut() {
            for (c, n) in std::mem::take(&mut r.rejected) {
                out.push((*t, c, n));
            }
        }
        out
    }

    /// Rows built so far, by table, whether taken or not.
    pub fn totals(&self) -> BTreeMap<&'static str, u64> {
        self.tables.iter().map(|(t, r)| (*t, r.total)).collect()
    }

    /// Rows built and not yet taken, over all tables.
    pub fn waiting(&self) -> u64 {
        self.tables.values().map(|r| r.len as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, Int64Type, TimestampNanosecondType};

    #[test]
    fn unset_columns_are_null_and_values_convert() {
        let mut set = TableSet::new(100);
        let rows = set.rows("SecurityEvent").unwrap();
        {
            let mut row = rows.row();
            row.set("EventID", "4624")
                .set("Computer", "host1")
                .set("TimeGenerated", "2020-01-02T03:04:05.5Z")
                .set("NoSuchColumn", "ignored");
        }
        rows.row().set("EventID", "not a number");
        let batch = rows.take_batch();
        assert_eq!(batch.num_rows(), 2);
        let schema = batch.schema();
        let idx = |n: &str| schema.index_of(n).unwrap();
        let ids = batch.column(idx("EventID")).as_primitive::<Int32Type>();
        assert_eq!(ids.value(0), 4624);
        assert!(ids.is_null(1));
        let times = batch
            .column(idx("TimeGenerated"))
            .as_primitive::<TimestampNanosecondType>();
        assert_eq!(times.value(0), 1_577_934_245_500_000_000);
        assert!(batch.column(idx("Account")).is_null(0));
        assert_eq!(rows.rejected().get("EventID"), Some(&1));
        assert_eq!(
            set.take_rejected(),
            vec![("SecurityEvent", "EventID".to_string(), 1)]
        );
        assert!(set.take_rejected().is_empty());
        assert_eq!(set.totals().get("SecurityEvent"), Some(&2));
    }

    #[test]
    fn first_value_wins_and_hex_parses() {
        let mut set = TableSet::new(1);
        let rows = set.rows("DeviceProcessEvents").unwrap();
        rows.row().set("ProcessId", "0x1f4").set("ProcessId", 7i64);
        let full = set.take_full();
        assert_eq!(full.len(), 1);
        let (table, batch) = &full[0];
        assert_eq!(table.name, "DeviceProcessEvents");
        let pid = batch
            .column_by_name("ProcessId")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(pid.value(0), 500);
        assert!(set.take_all().is_empty());
    }

    #[test]
    fn unknown_tables_are_refused() {
        assert!(TableSet::new(10).rows("NoSuchTable").is_none());
    }
}
