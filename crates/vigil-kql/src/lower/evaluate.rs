//! `evaluate` plugins whose output columns depend on the data: `bag_unpack` makes a
//! column per property of a bag, `pivot` a column per distinct value.
//!
//! A plan's columns must be known before it runs, so these plugins first run a small
//! query over their input (the distinct property names, or the distinct values) and
//! then build the plan with one column for each answer. When that input holds no rows
//! there is nothing to name; later references to the columns a query expects then read
//! as empty values rather than failing, so the query gives an empty result, as it would
//! in Kusto over an empty table.

use std::collections::BTreeSet;

use arrow::array::Array;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit};
use serde_json::Value;

use super::{Lowerer, R, Rel, df_error, project, unsupported};
use crate::ast::{self, ExprKind};
use crate::error::{ErrorKind, KqlError, Span};
use crate::udf;

impl Lowerer<'_> {
    pub(crate) fn evaluate(&mut self, e: &ast::Evaluate, rel: Rel) -> R<Rel> {
        match e.plugin.name.as_str() {
            "bag_unpack" => self.bag_unpack(e, rel),
            "pivot" => self.pivot(e, rel),
            other => Err(unsupported(e.span, &format!("`evaluate {other}`"))),
        }
    }

    /// Runs `plan` now and returns the strings of its only column.
    fn probe_strings(
        &mut self,
        plan: datafusion::logical_expr::LogicalPlan,
        span: Span,
    ) -> R<Vec<String>> {
        let batches = self
            .engine
            .probe(plan)
            .map_err(|e| KqlError { span, ..e })?;
        let mut out = Vec::new();
        for batch in &batches {
            let column = udf::strings(batch.column(0)).map_err(|e| df_error(span, e))?;
            out.extend(
                (0..column.len())
                    .filter(|&i| !column.is_null(i))
                    .map(|i| column.value(i).to_string()),
            );
        }
        if out.is_empty() {
            self.open_columns = true;
        }
        Ok(out)
    }

    /// `evaluate bag_unpack(bag [, prefix [, columnsConflict [, ignoredProperties]]])`.
    fn bag_unpack(&mut self, e: &ast::Evaluate, rel: Rel) -> R<Rel> {
        let span = e.span;
        let Some(bag_arg) = e.args.first() else {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                "`bag_unpack` needs the dynamic column to unpack",
            ));
        };
        let ExprKind::Name(bag_name) = &bag_arg.kind else {
            return Err(KqlError::new(
                ErrorKind::Type,
                bag_arg.span,
                "`bag_unpack` unpacks a column; name it",
            ));
        };
        let bag = self.dynamic_text(bag_arg, &rel)?;
        let text_arg = |i: usize| -> R<Option<String>> {
            match e.args.get(i).map(|a| &a.kind) {
                None => Ok(None),
                Some(ExprKind::Str(s)) => Ok(Some(s.clone())),
                Some(_) => Err(KqlError::new(
                    ErrorKind::Type,
                    e.args[i].span,
                    format!(
                        "argument {} of `bag_unpack` must be a string literal",
                        i + 1
                    ),
                )),
            }
        };
        let prefix = text_arg(1)?.unwrap_or_default();
        let conflict = text_arg(2)?.unwrap_or_else(|| "error".to_string());
        let ignored: BTreeSet<String> = match e.args.get(3) {
            Some(a) => self
                .constant_items(a)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            None => BTreeSet::new(),
        };

        // The property names present in the data.
        let keys_plan = LogicalPlanBuilder::from(rel.plan.clone())
            .project(vec![
                udf::call("kql_bag_keys", vec![bag.clone()]).alias("k"),
            ])
            .and_then(|b| b.distinct())
            .and_then(|b| b.build())
            .map_err(|err| df_error(span, err))?;
        let mut keys = BTreeSet::new();
        for list in self.probe_strings(keys_plan, span)? {
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&list) {
                keys.extend(items.iter().filter_map(|k| k.as_str().map(str::to_string)));
            }
        }

        let mut exprs = Vec::new();
        let mut dynamic = rel.dynamic.clone();
        dynamic.remove(bag_name);
        let kept: Vec<String> = rel.names().into_iter().filter(|n| n != bag_name).collect();
        let mut names: Vec<String> = kept.clone();
        let mut replaced = BTreeSet::new();
        let mut new_columns = Vec::new();
        for key in keys.iter().filter(|k| !ignored.contains(*k)) {
            let name = format!("{prefix}{key}");
            if names.contains(&name) {
                match conflict.as_str() {
                    "keep_source" => continue,
                    "replace_source" => {
                        replaced.insert(name.clone());
                    }
                    _ => {
                        return Err(KqlError::new(
                            ErrorKind::Type,
                            span,
                            format!(
                                "`bag_unpack` would make a column `{name}`, which the input \
                                 already has; pass a prefix, or 'replace_source' or \
                                 'keep_source' as the third argument"
                            ),
                        ));
                    }
                }
            } else {
                names.push(name.clone());
            }
            let value = udf::call("kql_dyn_get", vec![bag.clone(), lit(key.as_str())]);
            new_columns.push((name, value));
        }
        for n in &kept {
            if replaced.contains(n) {
                continue;
            }
            exprs.push(rel.column(n).expect("listed").alias(n));
        }
        for (name, value) in new_columns {
            dynamic.insert(name.clone());
            exprs.push(value.alias(name));
        }
        let plan = project(rel.plan, exprs, span)?;
        Ok(Rel { plan, dynamic })
    }

    /// `evaluate pivot(column [, aggregation [, key, …]])`: a row per key combination
    /// and a column per distinct value of `column` with the aggregation over its rows
    /// (`count()` by default).
    fn pivot(&mut self, e: &ast::Evaluate, rel: Rel) -> R<Rel> {
        let span = e.span;
        let Some(pivot_arg) = e.args.first() else {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                "`pivot` needs the column whose values become columns",
            ));
        };
        let pivot = self.scalar(pivot_arg, &rel)?;
        let pivot = self.as_text(pivot, &rel);
        let values_plan = LogicalPlanBuilder::from(rel.plan.clone())
            .project(vec![pivot.clone().alias("v")])
            .and_then(|b| b.distinct())
            .and_then(|b| b.build())
            .map_err(|err| df_error(span, err))?;
        let mut values: Vec<String> = self.probe_strings(values_plan, span)?;
        values.sort();

        let count = ast::Expr {
            kind: ExprKind::Call {
                name: ast::Ident {
                    name: "count".into(),
                    span,
                },
                args: vec![],
            },
            span,
        };
        let aggregation = e.args.get(1).unwrap_or(&count);
        let mut groups = Vec::new();
        let mut dynamic = std::collections::HashSet::new();
        for key in &e.args[e.args.len().min(2)..] {
            let name = self.derived_name(key);
            if self.is_dynamic(key, &rel) {
                dynamic.insert(name.clone());
            }
            groups.push(self.scalar(key, &rel)?.alias(&name));
        }
        self.aggregating = true;
        let lowered = self.scalar(aggregation, &rel);
        self.aggregating = false;
        let lowered = lowered?;
        if !matches!(lowered, Expr::AggregateFunction(_)) {
            return Err(unsupported(
                aggregation.span,
                "a `pivot` aggregation other than a single aggregate call",
            ));
        }
        let mut aggregates = Vec::new();
        for v in &values {
            let only = pivot.clone().eq(lit(v.as_str()));
            let filtered = lowered
                .clone()
                .transform_up(|node| {
                    if let Expr::AggregateFunction(mut f) = node {
                        f.params.filter = Some(Box::new(match f.params.filter.take() {
                            Some(old) => old.as_ref().clone().and(only.clone()),
                            None => only.clone(),
                        }));
                        return Ok(Transformed::yes(Expr::AggregateFunction(f)));
                    }
                    Ok(Transformed::no(node))
                })
                .map_err(|err| df_error(span, err))?
                .data;
            aggregates.push(filtered.alias(v.as_str()));
        }
        if values.is_empty() && groups.is_empty() {
            // Nothing to pivot and nothing to group by: no columns, no rows.
            let plan = LogicalPlanBuilder::empty(false)
                .build()
                .map_err(|err| df_error(span, err))?;
            return Ok(Rel::new(plan));
        }
        let plan = LogicalPlanBuilder::from(rel.plan)
            .aggregate(groups, aggregates)
            .and_then(|b| b.build())
            .map_err(|err| df_error(span, err))?;
        let out = Rel { plan, dynamic };
        super::ops::check_unique(&out, span)?;
        Ok(out)
    }
}
