//! Aggregations (`summarize`) and window functions (`serialize` … `prev()`), with the
//! column names Kusto gives unnamed results (`count_`, `dcount_User`, …).

use std::collections::HashSet;

use arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction};
use datafusion::logical_expr::{
    Expr, LogicalPlanBuilder, SortExpr, WindowFrame, WindowFrameBound, WindowFrameUnits, cast, lit,
};

use super::expr::{is_string, truthy};
use super::{Lowerer, R, Rel, df_error, expr_type, project};
use crate::ast::{self, Assignment, ExprKind};
use crate::error::{ErrorKind, KqlError, Span};
use crate::udf;

pub(crate) const AGGREGATES: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "dcountif",
    "count_distinct",
    "count_distinctif",
    "sum",
    "sumif",
    "avg",
    "avgif",
    "min",
    "max",
    "minif",
    "maxif",
    "make_set",
    "makeset",
    "make_set_if",
    "make_list",
    "makelist",
    "make_list_if",
    "make_bag",
    "make_bag_if",
    "arg_max",
    "argmax",
    "arg_min",
    "argmin",
    "any",
    "take_any",
    "anyif",
    "take_anyif",
    "stdev",
    "stdevp",
    "stdevif",
    "variance",
    "variancep",
    "varianceif",
    "percentile",
    "percentiles",
    "binary_all_or",
    "binary_all_and",
    "hll",
    "tdigest",
];

pub(crate) fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}

/// Aggregates whose result is a dynamic value.
pub(crate) fn makes_dynamic(name: &str) -> bool {
    name.starts_with("make") || name == "percentiles"
}

impl Lowerer<'_> {
    pub(crate) fn udaf(
        &self,
        name: &str,
        args: Vec<Expr>,
        distinct: bool,
        filter: Option<Expr>,
        order_by: Vec<SortExpr>,
        span: Span,
    ) -> R<Expr> {
        let f = self.engine.aggregate_udf(name).ok_or_else(|| {
            KqlError::new(
                ErrorKind::Unsupported,
                span,
                format!("the engine lacks the aggregate `{name}`"),
            )
        })?;
        Ok(Expr::AggregateFunction(AggregateFunction::new_udf(
            f,
            args,
            distinct,
            filter.map(Box::new),
            order_by,
            None,
        )))
    }

    /// One aggregation call inside `summarize`.
    pub(crate) fn aggregate(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        rel: &Rel,
        span: Span,
    ) -> R<Expr> {
        let n = args.len();
        let want = |min: usize, max: usize| -> R<()> {
            if n < min || n > max {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    format!("`{name}` takes {min} to {max} arguments, not {n}"),
                ));
            }
            Ok(())
        };
        // Aggregates do not nest.
        self.aggregating = false;
        let result = (|| -> R<Expr> {
            let arg = |this: &mut Self, i: usize| this.scalar(&args[i], rel);
            let cond =
                |this: &mut Self, i: usize| -> R<Expr> { Ok(truthy(this.scalar(&args[i], rel)?)) };
            Ok(match name {
                "count" => {
                    want(0, 1)?;
                    match args.first() {
                        Some(a) if !matches!(a.kind, ExprKind::Star) => {
                            let x = arg(self, 0)?;
                            self.udaf("count", vec![x], false, None, vec![], span)?
                        }
                        _ => self.udaf("count", vec![lit(1_i64)], false, None, vec![], span)?,
                    }
                }
                "countif" => {
                    want(1, 1)?;
                    let c = cond(self, 0)?;
                    self.udaf("count", vec![lit(1_i64)], false, Some(c), vec![], span)?
                }
                "dcount" | "count_distinct" => {
                    want(1, 2)?;
                    let x = arg(self, 0)?;
                    self.udaf("count", vec![x], true, None, vec![], span)?
                }
                "dcountif" | "count_distinctif" => {
                    want(2, 3)?;
                    let x = arg(self, 0)?;
                    let c = cond(self, 1)?;
                    self.udaf("count", vec![x], true, Some(c), vec![], span)?
                }
                "sum" | "avg" | "min" | "max" => {
                    want(1, 1)?;
                    let x = self.numeric_arg(&args[0], rel, name)?;
                    self.udaf(name, vec![x], false, None, vec![], span)?
                }
                "sumif" | "avgif" | "minif" | "maxif" => {
                    want(2, 2)?;
                    let x = self.numeric_arg(&args[0], rel, name)?;
                    let c = cond(self, 1)?;
                    self.udaf(
                        &name[..name.len() - 2],
                        vec![x],
                        false,
                        Some(c),
                        vec![],
                        span,
                    )?
                }
                "any" | "take_any" => {
                    want(1, 64)?;
                    if matches!(args[0].kind, ExprKind::Star) {
                        return Err(super::unsupported(span, &format!("`{name}(*)`")));
                    }
                    let x = arg(self, 0)?;
                    self.udaf("first_value", vec![x], false, None, vec![], span)?
                }
                "anyif" | "take_anyif" => {
                    want(2, 2)?;
                    let x = arg(self, 0)?;
                    let c = cond(self, 1)?;
                    self.udaf("first_value", vec![x], false, Some(c), vec![], span)?
                }
                "stdev" | "stdevp" | "variance" | "variancep" => {
                    want(1, 1)?;
                    let x = cast(arg(self, 0)?, DataType::Float64);
                    let f = match name {
                        "stdev" => "stddev",
                        "stdevp" => "stddev_pop",
                        "variance" => "var",
                        _ => "var_pop",
                    };
                    self.udaf(f, vec![x], false, None, vec![], span)?
                }
                "stdevif" | "varianceif" => {
                    want(2, 2)?;
                    let x = cast(arg(self, 0)?, DataType::Float64);
                    let c = cond(self, 1)?;
                    let f = if name == "stdevif" { "stddev" } else { "var" };
                    self.udaf(f, vec![x], false, Some(c), vec![], span)?
                }
                "make_set" | "makeset" | "make_list" | "makelist" | "make_set_if"
                | "make_list_if" => {
                    let conditional = name.ends_with("_if");
                    want(
                        if conditional { 2 } else { 1 },
                        if conditional { 3 } else { 2 },
                    )?;
                    let distinct = name.contains("set");
                    let dynamic = self.is_dynamic(&args[0], rel);
                    let x = arg(self, 0)?;
                    let x = if matches!(expr_type(&x, rel), DataType::List(_)) {
                        self.as_text(x, rel)
                    } else {
                        x
                    };
                    let not_null = x.clone().is_not_null();
                    let filter = if conditional {
                        cond(self, 1)?.and(not_null)
                    } else {
                        not_null
                    };
                    let list =
                        self.udaf("array_agg", vec![x], distinct, Some(filter), vec![], span)?;
                    let cap_at = if conditional { 2 } else { 1 };
                    let mut wrap = vec![list, lit(dynamic)];
                    if let Some(cap) = args.get(cap_at) {
                        wrap.push(cast(self.scalar(cap, rel)?, DataType::Int64));
                    }
                    udf::call("kql_list_json", wrap)
                }
                "make_bag" | "make_bag_if" => {
                    let x = self.dynamic_text(&args[0], rel)?;
                    let not_null = x.clone().is_not_null();
                    let filter = if name == "make_bag_if" {
                        cond(self, 1)?.and(not_null)
                    } else {
                        not_null
                    };
                    let list =
                        self.udaf("array_agg", vec![x], false, Some(filter), vec![], span)?;
                    udf::call("kql_bag_merge_list", vec![list])
                }
                "percentile" => {
                    want(2, 2)?;
                    let x = cast(arg(self, 0)?, DataType::Float64);
                    let p = arg(self, 1)?;
                    let list = self.udaf(
                        "array_agg",
                        vec![x.clone()],
                        false,
                        Some(x.is_not_null()),
                        vec![],
                        span,
                    )?;
                    udf::call("kql_percentile_list", vec![list, p])
                }
                "arg_max" | "argmax" | "arg_min" | "argmin" | "percentiles" => {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        format!(
                            "`{name}` must be a whole aggregation of `summarize`, not part of an expression"
                        ),
                    ));
                }
                other => {
                    return Err(super::unsupported(
                        span,
                        &format!("the aggregation `{other}()`"),
                    ));
                }
            })
        })();
        self.aggregating = true;
        result
    }

    /// An argument of `sum`/`avg`/`min`/`max`; dynamic text is read as a number.
    fn numeric_arg(&mut self, a: &ast::Expr, rel: &Rel, name: &str) -> R<Expr> {
        let x = self.scalar(a, rel)?;
        let t = expr_type(&x, rel);
        Ok(
            if is_string(&t)
                && (self.is_dynamic(a, rel) || name.starts_with("sum") || name.starts_with("avg"))
            {
                datafusion::logical_expr::try_cast(x, DataType::Float64)
            } else {
                x
            },
        )
    }

    /// `summarize aggregates by keys`.
    pub(crate) fn summarize(
        &mut self,
        rel: Rel,
        aggregates: &[Assignment],
        by: &[Assignment],
        span: Span,
    ) -> R<Rel> {
        let mut groups = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut dynamic = HashSet::new();
        // A name already taken gets a number, as Kusto does: `set_X`, `set_X1`, …
        let mut used: HashSet<String> = HashSet::new();
        let mut unique = |name: String| -> String {
            let mut candidate = name.clone();
            let mut n = 1;
            while !used.insert(candidate.clone()) {
                candidate = format!("{name}{n}");
                n += 1;
            }
            candidate
        };
        for b in by {
            let name = match b.names.first() {
                Some(n) => n.name.clone(),
                None => self.derived_name(&b.expr),
            };
            let name = unique(name);
            let e = self.scalar(&b.expr, &rel)?;
            if self.is_dynamic(&b.expr, &rel) {
                dynamic.insert(name.clone());
            }
            groups.push(e.alias(&name));
            names.push(name);
        }
        let mut outputs: Vec<(String, Expr)> = Vec::new();
        self.aggregating = true;
        let lowered = self.summarize_outputs(&rel, aggregates, &names, &mut outputs, &mut dynamic);
        self.aggregating = false;
        lowered?;
        // Pull the aggregate calls out of the output expressions.
        let mut aggs: Vec<Expr> = Vec::new();
        let mut finals = Vec::new();
        for (name, e) in outputs {
            let renamed = unique(name.clone());
            if renamed != name && dynamic.contains(&name) {
                dynamic.insert(renamed.clone());
            }
            let name = renamed;
            let rewritten = e
                .transform_up(|node| {
                    if let Expr::AggregateFunction(_) = &node {
                        let i = aggs.iter().position(|a| *a == node).unwrap_or_else(|| {
                            aggs.push(node.clone());
                            aggs.len() - 1
                        });
                        return Ok(Transformed::yes(Expr::Column(Column::from_name(format!(
                            "__agg{i}"
                        )))));
                    }
                    Ok(Transformed::no(node))
                })
                .map_err(|e| df_error(span, e))?
                .data;
            finals.push(rewritten.alias(&name));
        }
        let aggs: Vec<Expr> = aggs
            .into_iter()
            .enumerate()
            .map(|(i, a)| a.alias(format!("__agg{i}")))
            .collect();
        let plan = LogicalPlanBuilder::from(rel.plan.clone())
            .aggregate(groups, aggs)
            .and_then(|b| b.build())
            .map_err(|e| df_error(span, e))?;
        let mut exprs: Vec<Expr> = names
            .iter()
            .map(|n| Expr::Column(Column::from_name(n)))
            .collect();
        exprs.extend(finals);
        let plan = project(plan, exprs, span)?;
        let mut out = Rel::new(plan);
        out.dynamic = dynamic;
        super::ops::check_unique(&out, span)?;
        Ok(out)
    }

    fn summarize_outputs(
        &mut self,
        rel: &Rel,
        aggregates: &[Assignment],
        keys: &[String],
        outputs: &mut Vec<(String, Expr)>,
        dynamic: &mut HashSet<String>,
    ) -> R<()> {
        for a in aggregates {
            if let ExprKind::Call { name, args } = &a.expr.kind {
                let f = name.name.as_str();
                if matches!(f, "arg_max" | "argmax" | "arg_min" | "argmin") {
                    self.arg_extreme(
                        rel,
                        f.starts_with("arg_max") || f == "argmax",
                        args,
                        a,
                        keys,
                        outputs,
                        dynamic,
                        a.expr.span,
                    )?;
                    continue;
                }
                if f == "percentiles" && args.len() >= 2 {
                    let column = self.derived_name(&args[0]);
                    for (i, p) in args[1..].iter().enumerate() {
                        let call = ast::Expr {
                            kind: ExprKind::Call {
                                name: ast::Ident {
                                    name: "percentile".into(),
                                    span: name.span,
                                },
                                args: vec![args[0].clone(), p.clone()],
                            },
                            span: a.expr.span,
                        };
                        let e = self.scalar(&call, rel)?;
                        let label = match &p.kind {
                            ExprKind::Int(v) => v.to_string(),
                            ExprKind::Real(v) => v.to_string().replace('.', "_"),
                            _ => i.to_string(),
                        };
                        let out = a.names.get(i).map_or_else(
                            || format!("percentile_{column}_{label}"),
                            |n| n.name.clone(),
                        );
                        outputs.push((out, e));
                    }
                    continue;
                }
            }
            let e = self.scalar(&a.expr, rel)?;
            let name = match a.names.first() {
                Some(n) => n.name.clone(),
                None => self.aggregate_name(&a.expr),
            };
            if let ExprKind::Call { name: f, .. } = &a.expr.kind
                && makes_dynamic(&f.name)
            {
                dynamic.insert(name.clone());
            }
            outputs.push((name, e));
        }
        Ok(())
    }

    /// `arg_max(by, cols…)`: the `by` maximum, and the other columns from the row that
    /// has it (`*` for all of them).
    #[allow(clippy::too_many_arguments)]
    fn arg_extreme(
        &mut self,
        rel: &Rel,
        max: bool,
        args: &[ast::Expr],
        a: &Assignment,
        keys: &[String],
        outputs: &mut Vec<(String, Expr)>,
        dynamic: &mut HashSet<String>,
        span: Span,
    ) -> R<()> {
        if args.is_empty() {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                "arg_max/arg_min take the value to maximize and the columns to return",
            ));
        }
        self.aggregating = false;
        let by = self.scalar(&args[0], rel);
        self.aggregating = true;
        let by = by?;
        let by_name = a
            .names
            .first()
            .map_or_else(|| self.derived_name(&args[0]), |n| n.name.clone());
        let f = if max { "max" } else { "min" };
        outputs.push((
            by_name.clone(),
            self.udaf(f, vec![by.clone()], false, None, vec![], span)?,
        ));
        let order = vec![by.sort(!max, false)];
        let mut taken: Vec<(String, Expr, bool)> = Vec::new();
        for (i, c) in args[1..].iter().enumerate() {
            if matches!(c.kind, ExprKind::Star) {
                for name in rel.names() {
                    if name == by_name
                        || keys.contains(&name)
                        || taken.iter().any(|(n, ..)| *n == name)
                    {
                        continue;
                    }
                    let col = rel.column(&name).expect("listed above");
                    taken.push((name.clone(), col, rel.dynamic.contains(&name)));
                }
                continue;
            }
            self.aggregating = false;
            let e = self.scalar(c, rel);
            self.aggregating = true;
            let e = e?;
            let name = a
                .names
                .get(i + 1)
                .map_or_else(|| self.derived_name(c), |n| n.name.clone());
            let dyn_col = self.is_dynamic(c, rel);
            taken.push((name, e, dyn_col));
        }
        for (name, e, is_dyn) in taken {
            if is_dyn {
                dynamic.insert(name.clone());
            }
            let first = self.udaf("first_value", vec![e], false, None, order.clone(), span)?;
            outputs.push((name, first));
        }
        Ok(())
    }

    /// Kusto's name for an unnamed aggregate: `count_`, `sum_Bytes`, `dcount_User`.
    fn aggregate_name(&mut self, e: &ast::Expr) -> String {
        match &e.kind {
            ExprKind::Call { name, args } if is_aggregate(&name.name) => {
                // `make_set(X)` and its old spelling `makeset(X)` both give `set_X`.
                let f = match name.name.as_str() {
                    "makeset" | "make_set" => "set",
                    "makelist" | "make_list" => "list",
                    "make_bag" => "bag",
                    "argmax" => "arg_max",
                    "argmin" => "arg_min",
                    other => other,
                };
                match args.first() {
                    None => format!("{f}_"),
                    Some(a) if matches!(a.kind, ExprKind::Star) => format!("{f}_"),
                    Some(_) if f == "countif" => "countif_".to_string(),
                    Some(a) => match self.column_like_name(a) {
                        Some(col) if f == "percentile" => {
                            let p = match args.get(1).map(|p| &p.kind) {
                                Some(ExprKind::Int(v)) => v.to_string(),
                                Some(ExprKind::Real(v)) => v.to_string().replace('.', "_"),
                                _ => String::new(),
                            };
                            format!("percentile_{col}_{p}")
                        }
                        Some(col) => format!("{f}_{col}"),
                        None => format!("{f}_"),
                    },
                }
            }
            _ => self.next_unnamed(),
        }
    }

    /// The name a column gets from its expression when none is given: a column keeps
    /// its name, `bin(Timestamp, 1h)` and `tostring(x.y)` the name of what they wrap,
    /// `d.a.b` becomes `d_a_b`; anything else is `Column1`, `Column2`, …
    pub(crate) fn derived_name(&mut self, e: &ast::Expr) -> String {
        self.column_like_name(e)
            .unwrap_or_else(|| self.next_unnamed())
    }

    pub(crate) fn next_unnamed(&mut self) -> String {
        self.unnamed += 1;
        format!("Column{}", self.unnamed)
    }

    pub(crate) fn column_like_name(&self, e: &ast::Expr) -> Option<String> {
        const WRAPPERS: &[&str] = &[
            "bin",
            "floor",
            "tostring",
            "toint",
            "tolong",
            "todouble",
            "toreal",
            "todatetime",
            "tobool",
            "toguid",
            "totimespan",
            "todynamic",
            "parse_json",
            "parsejson",
            "todecimal",
            "bin_at",
            "startofday",
            "startofweek",
            "startofmonth",
            "startofyear",
            "column_ifexists",
            "columnifexists",
        ];
        match &e.kind {
            ExprKind::Name(n) => Some(n.clone()),
            ExprKind::Member { target, name } => {
                Some(format!("{}_{name}", self.column_like_name(target)?))
            }
            ExprKind::Index { target, index } => {
                let key = match &index.kind {
                    ExprKind::Str(s) => s.clone(),
                    ExprKind::Int(i) => i.to_string(),
                    _ => return None,
                };
                Some(format!("{}_{key}", self.column_like_name(target)?))
            }
            ExprKind::Call { name, args }
                if WRAPPERS.contains(&name.name.as_str()) && !args.is_empty() =>
            {
                if matches!(name.name.as_str(), "column_ifexists" | "columnifexists")
                    && let ExprKind::Str(c) = &args[0].kind
                {
                    return Some(c.clone());
                }
                self.column_like_name(&args[0])
            }
            _ => None,
        }
    }

    // ----- window functions ----------------------------------------------------------

    /// `prev(col [, offset [, default]])`, `next(…)`, `row_number([start])`,
    /// `row_cumsum(x)`: over the rows in their current order.
    pub(crate) fn window_call(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        rel: &Rel,
        span: Span,
    ) -> R<Option<Expr>> {
        if !super::call::WINDOW_FUNCTIONS.contains(&name) {
            return Ok(None);
        }
        if !self.windowing {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                format!(
                    "`{name}()` needs ordered rows: use it in `extend`/`project` after `serialize` or `sort`"
                ),
            ));
        }
        let mut a = args
            .iter()
            .map(|x| self.scalar(x, rel))
            .collect::<R<Vec<_>>>()?;
        let (f, frame) = match name {
            "prev" => ("lag", None),
            "next" => ("lead", None),
            "row_number" => ("row_number", None),
            _ => (
                "sum",
                Some(WindowFrame::new_bounds(
                    WindowFrameUnits::Rows,
                    WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
                    WindowFrameBound::CurrentRow,
                )),
            ),
        };
        if matches!(f, "lag" | "lead") {
            if a.len() >= 2 {
                a[1] = cast(a[1].clone(), DataType::Int64);
            }
            if a.len() == 3 {
                let t = expr_type(&a[0], rel);
                a[2] = cast(a[2].clone(), t);
            }
        }
        let start = if f == "row_number" { a.pop() } else { None };
        let mut w = if f == "sum" {
            let udaf = self
                .engine
                .aggregate_udf("sum")
                .ok_or_else(|| super::unsupported(span, "sum"))?;
            WindowFunction::new(udaf, a)
        } else {
            let udwf = self
                .engine
                .window_udf(f)
                .ok_or_else(|| super::unsupported(span, f))?;
            WindowFunction::new(udwf, a)
        };
        if let Some(frame) = frame {
            w.params.window_frame = frame;
        }
        let e = Expr::from(w);
        Ok(Some(match start {
            Some(s) => cast(e, DataType::Int64) + cast(s, DataType::Int64) - lit(1_i64),
            None if f == "row_number" => cast(e, DataType::Int64),
            None => e,
        }))
    }
}
