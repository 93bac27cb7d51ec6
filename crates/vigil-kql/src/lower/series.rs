//! `make-series`: one row per group, each aggregate as an array with one element per
//! step of the axis, and the axis itself as an array of bin starts.
//!
//! The plan has three stages. A one-row relation of bounds (`from`, `to`, or when they
//! are left out the first and last bins that hold data) is joined to every input row;
//! a `summarize` by the group keys and the bin index computes the aggregates of each
//! bin; a second aggregation collects the bins of each group, and `kql_series_fill`
//! lays them out in axis order with the default value where a bin is empty. The axis
//! is worked on in integer nanoseconds for datetimes and timespans, and in doubles for
//! numbers.

use std::collections::HashSet;

use arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast, lit};

use super::{Lowerer, R, Rel, df_error, expr_type, project};
use crate::ast::{self, Assignment, ExprKind};
use crate::error::{ErrorKind, KqlError, Span};
use crate::udf;

const AX: &str = "__series_ax";
const FROM: &str = "__series_from";
const TO: &str = "__series_to";
const IDX: &str = "__series_idx";

/// The arguments of one `make-series`.
pub(crate) struct Series<'q> {
    pub aggregates: &'q [(Assignment, Option<ast::Expr>)],
    pub axis: &'q ast::Expr,
    pub from: Option<&'q ast::Expr>,
    pub to: Option<&'q ast::Expr>,
    pub step: &'q ast::Expr,
    pub by: &'q [Assignment],
    pub span: Span,
}

fn name_expr(name: &str, span: Span) -> ast::Expr {
    ast::Expr {
        kind: ExprKind::Name(name.to_string()),
        span,
    }
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

impl Lowerer<'_> {
    pub(crate) fn make_series(&mut self, rel: Rel, s: &Series<'_>) -> R<Rel> {
        let span = s.span;
        let axis = self.scalar(s.axis, &rel)?;
        let axis_type = expr_type(&axis, &rel);
        let temporal = matches!(axis_type, DataType::Timestamp(..) | DataType::Duration(_));
        if !temporal && !axis_type.is_numeric() {
            return Err(KqlError::new(
                ErrorKind::Type,
                s.axis.span,
                format!(
                    "the axis of `make-series` must be a datetime, timespan or number, not {}",
                    crate::format::kql_type_name(&axis_type, false)
                ),
            ));
        }
        let units = |e: Expr| -> Expr {
            if temporal {
                cast(e, DataType::Int64)
            } else {
                cast(e, DataType::Float64)
            }
        };
        let unit = Rel::unit();
        let step = units(self.scalar(s.step, &unit)?);
        let axis_name = self.derived_name(s.axis);

        // The input with its axis in working units.
        let mut exprs: Vec<Expr> = rel
            .names()
            .iter()
            .map(|n| rel.column(n).expect("listed").alias(n))
            .collect();
        exprs.push(units(axis).alias(AX));
        let with_axis = project(rel.plan.clone(), exprs, span)?;

        // The bounds: given, or the bins of the smallest and largest axis values.
        let floor_bin = |this: &Self, v: Expr| -> R<Expr> {
            if temporal {
                // Integer division truncates toward zero; step back one bin below it.
                let q = v.clone() / step.clone();
                let below = datafusion::logical_expr::when(
                    (q.clone() * step.clone()).gt(v),
                    q.clone() - lit(1_i64),
                )
                .otherwise(q)
                .map_err(|e| df_error(span, e))?;
                Ok(below * step.clone())
            } else {
                Ok(this.df_call("floor", vec![v / step.clone()], span)? * step.clone())
            }
        };
        let given_from = s
            .from
            .map(|e| self.scalar(e, &unit).map(units))
            .transpose()?;
        let given_to = s.to.map(|e| self.scalar(e, &unit).map(units)).transpose()?;
        let bounds = match (given_from, given_to) {
            (Some(f), Some(t)) => {
                project(unit.plan.clone(), vec![f.alias(FROM), t.alias(TO)], span)?
            }
            (f, t) => {
                let min = self.df_aggregate("min", column(AX), span)?;
                let max = self.df_aggregate("max", column(AX), span)?;
                let agg = LogicalPlanBuilder::from(with_axis.clone())
                    .aggregate(
                        Vec::<Expr>::new(),
                        vec![min.alias("__mn"), max.alias("__mx")],
                    )
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(span, e))?;
                let f = match f {
                    Some(f) => f,
                    None => floor_bin(self, column("__mn"))?,
                };
                let t = match t {
                    Some(t) => t,
                    None => floor_bin(self, column("__mx"))? + step.clone(),
                };
                project(agg, vec![f.alias(FROM), t.alias(TO)], span)?
            }
        };

        // Every input row with the bounds and its bin index; rows outside are dropped.
        let joined = LogicalPlanBuilder::from(with_axis)
            .cross_join(bounds)
            .and_then(|b| {
                b.filter(
                    column(AX)
                        .gt_eq(column(FROM))
                        .and(column(AX).lt(column(TO))),
                )
            })
            .and_then(|b| b.build())
            .map_err(|e| df_error(span, e))?;
        let offset = column(AX) - column(FROM);
        let idx = if temporal {
            offset / step.clone()
        } else {
            cast(
                self.df_call("floor", vec![offset / step.clone()], span)?,
                DataType::Int64,
            )
        };
        let mut exprs: Vec<Expr> = joined
            .schema()
            .fields()
            .iter()
            .map(|f| column(f.name()))
            .collect();
        exprs.push(idx.alias(IDX));
        let binned = Rel {
            plan: project(joined, exprs, span)?,
            dynamic: rel.dynamic.clone(),
        };

        // Stage one: the aggregates of each bin of each group.
        let mut keys = s.by.to_vec();
        for synthetic in [FROM, TO, IDX] {
            keys.push(Assignment {
                names: vec![],
                expr: name_expr(synthetic, span),
            });
        }
        let aggregates: Vec<Assignment> = s.aggregates.iter().map(|(a, _)| a.clone()).collect();
        let per_bin = self.summarize(binned, &aggregates, &keys, span)?;
        let names = per_bin.names();
        let group_count = s.by.len();
        let group_names: Vec<String> = names[..group_count].to_vec();
        let value_names: Vec<String> = names[group_count + 3..].to_vec();

        // Stage two: one row per group, the bins gathered into lists.
        let mut groups: Vec<Expr> = group_names.iter().map(|n| column(n)).collect();
        groups.push(column(FROM));
        groups.push(column(TO));
        let mut lists = vec![
            self.df_aggregate("array_agg", column(IDX), span)?
                .alias("__idxs"),
        ];
        for (i, n) in value_names.iter().enumerate() {
            lists.push(
                self.df_aggregate("array_agg", column(n), span)?
                    .alias(format!("__vals{i}")),
            );
        }
        let gathered = LogicalPlanBuilder::from(per_bin.plan.clone())
            .aggregate(groups, lists)
            .and_then(|b| b.build())
            .map_err(|e| df_error(span, e))?;

        let mut out: Vec<Expr> = group_names.iter().map(|n| column(n)).collect();
        let mut dynamic: HashSet<String> = group_names
            .iter()
            .filter(|n| per_bin.dynamic.contains(*n))
            .cloned()
            .collect();
        for (i, (n, (_, default))) in value_names.iter().zip(s.aggregates).enumerate() {
            let default = match default {
                Some(d) => self.scalar(d, &unit)?,
                None => lit(0_i64),
            };
            out.push(
                udf::call(
                    "kql_series_fill",
                    vec![
                        column("__idxs"),
                        column(&format!("__vals{i}")),
                        column(FROM),
                        column(TO),
                        step.clone(),
                        default,
                    ],
                )
                .alias(n),
            );
            dynamic.insert(n.clone());
        }
        let kind = match axis_type {
            DataType::Timestamp(..) => "datetime",
            DataType::Duration(_) => "timespan",
            t if t.is_integer() => "long",
            _ => "real",
        };
        out.push(
            udf::call(
                "kql_series_axis",
                vec![column(FROM), column(TO), step, lit(kind)],
            )
            .alias(&axis_name),
        );
        dynamic.insert(axis_name);
        let plan = project(gathered, out, span)?;
        let rel = Rel { plan, dynamic };
        super::ops::check_unique(&rel, span)?;
        Ok(rel)
    }

    /// A DataFusion aggregate function over one argument.
    fn df_aggregate(&self, name: &str, arg: Expr, span: Span) -> R<Expr> {
        self.udaf(name, vec![arg], false, None, vec![], span)
    }
}
