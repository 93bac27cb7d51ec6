//! A lake table as a DataFusion table provider, with files pruned by time.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use vigil_schema::Table;

use crate::manifest::LakeFile;

/// The column whose value decides a row's day partition and each file's time range.
/// `TimeGenerated` is not used: in exports it can differ from `Timestamp` (it is when a
/// record reached the workspace), so pruning on it could drop rows.
const TIME_COLUMNS: [&str; 1] = ["Timestamp"];

/// One catalog table over a fixed set of live files.
#[derive(Debug)]
pub struct LakeTable {
    name: String,
    schema: SchemaRef,
    root: PathBuf,
    files: Vec<LakeFile>,
}

impl LakeTable {
    pub fn new(table: &Table, root: PathBuf, files: Vec<LakeFile>) -> LakeTable {
        LakeTable {
            name: table.name.clone(),
            schema: table.arrow_schema(),
            root,
            files,
        }
    }

    /// The files that can hold rows inside `[from, to]` (nanoseconds, inclusive).
    pub fn files_between(&self, from: Option<i64>, to: Option<i64>) -> Vec<&LakeFile> {
        self.files
            .iter()
            .filter(|f| match (f.min_time, f.max_time) {
                (Some(min), Some(max)) => {
                    from.is_none_or(|from| max >= from) && to.is_none_or(|to| min <= to)
                }
                // Undated rows match no time condition, but keep them when there is none.
                _ => from.is_none() && to.is_none(),
            })
            .collect()
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Filters prune files here and row groups in the Parquet reader, but rows are
        // still checked by the filter above the scan.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let (from, to) = time_bounds(filters);
        let files = self.files_between(from, to);
        let (name, of) = (&self.name, self.files.len());
        tracing::debug!(table = %name, files = files.len(), of, ?from, ?to, "scan");
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let urls = files
            .iter()
            .map(|f| ListingTableUrl::parse(self.root.join(&f.path).to_string_lossy()))
            .collect::<DfResult<Vec<_>>>()?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(Arc::clone(&self.schema));
        ListingTable::try_new(config)?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// The time range the filters allow, from comparisons of `Timestamp` or `TimeGenerated`
/// with constants, in nanoseconds, both ends inclusive.
pub(crate) fn time_bounds(filters: &[Expr]) -> (Option<i64>, Option<i64>) {
    let mut from: Option<i64> = None;
    let mut to: Option<i64> = None;
    let mut tighten = |lo: Option<i64>, hi: Option<i64>| {
        if let Some(lo) = lo {
            from = Some(from.map_or(lo, |f| f.max(lo)));
        }
        if let Some(hi) = hi {
            to = Some(to.map_or(hi, |t| t.min(hi)));
        }
    };
    let mut stack: Vec<&Expr> = filters.iter().collect();
    while let Some(expr) = stack.pop() {
        match expr {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::And,
                right,
            }) => {
                stack.push(left);
                stack.push(right);
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, value) = match (time_column(left), time_column(right)) {
                    (true, false) => (*op, nanos(right)),
                    (false, true) => (op.swap().unwrap_or(*op), nanos(left)),
                    _ => continue,
                };
                let Some(v) = value else { continue };
                match op {
                    Operator::Gt | Operator::GtEq => tighten(Some(v), None),
                    Operator::Lt | Operator::LtEq => tighten(None, Some(v)),
                    Operator::Eq => tighten(Some(v), Some(v)),
                    _ => {}
                }
            }
            Expr::Between(between) if !between.negated && time_column(&between.expr) => {
                tighten(nanos(&between.low), nanos(&between.high));
            }
            _ => {}
        }
    }
    (from, to)
}

fn time_column(expr: &Expr) -> bool {
    match expr {
        Expr::Column(c) => TIME_COLUMNS.contains(&c.name.as_str()),
        Expr::Cast(c) => time_column(&c.expr),
        _ => false,
    }
}

fn nanos(expr: &Expr) -> Option<i64> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    match value {
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMicrosecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000_000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn time_col(name: &str) -> Expr {
        Expr::Column(datafusion::common::Column::from_name(name))
    }

    fn ts(v: i64) -> Expr {
        lit(ScalarValue::TimestampNanosecond(
            Some(v),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn bounds_from_comparisons_either_way_round() {
        let filters = vec![
            time_col("Timestamp").gt_eq(ts(100)),
            ts(500).gt(time_col("Timestamp")),
            time_col("TimeGenerated").lt(ts(200)),
            col("other").gt(lit(1)),
        ];
        assert_eq!(time_bounds(&filters), (Some(100), Some(500)));
        let and = time_col("Timestamp")
            .gt(ts(10))
            .and(time_col("Timestamp").lt(ts(20)));
        assert_eq!(time_bounds(&[and]), (Some(10), Some(20)));
        assert_eq!(time_bounds(&[]), (None, None));
    }

    #[test]
    fn files_outside_the_range_are_pruned() {
        let file = |min: i64, max: i64| LakeFile {
            path: format!("T/date=x/{min}.parquet"),
            table: "T".into(),
            day: "x".into(),
            rows: 1,
            bytes: 1,
            min_time: Some(min),
            max_time: Some(max),
        };
        let catalog = vigil_schema::Catalog::builtin();
        let table = catalog.table("SecurityEvent").unwrap();
        let lake = LakeTable::new(
            table,
            PathBuf::from("/x"),
            vec![file(0, 10), file(20, 30), file(40, 50)],
        );
        assert_eq!(lake.files_between(Some(25), None).len(), 2);
        assert_eq!(lake.files_between(Some(11), Some(19)).len(), 0);
        assert_eq!(lake.files_between(None, None).len(), 3);
    }
}
