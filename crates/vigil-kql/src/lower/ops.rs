//! The tabular operators after `|`.

use std::collections::HashSet;

use arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, UnnestOptions};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit};

use super::{Lowerer, R, Rel, df_error, expr_type, project, unsupported};
use crate::ast::{self, Assignment, ExprKind, Operator, ParsePart, SortKey};
use crate::engine::Render;
use crate::error::{ErrorKind, KqlError, Span};
use crate::udf;

/// A column an operator produces: its name, its expression, and whether it is dynamic.
type Output = (String, Expr, bool);

impl Lowerer<'_> {
    pub(crate) fn operator(&mut self, op: &Operator, rel: Rel) -> R<Rel> {
        match op {
            Operator::Where { predicate, span } => {
                let p = self.scalar(predicate, &rel)?;
                if expr_type(&p, &rel) != DataType::Boolean && expr_type(&p, &rel) != DataType::Null
                {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        predicate.span,
                        "`where` needs a true/false condition",
                    ));
                }
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .filter(p)
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(*span, e))?;
                Ok(Rel {
                    plan,
                    dynamic: rel.dynamic,
                })
            }
            Operator::Extend { columns, .. } => self.extend_like(rel, columns, false),
            Operator::Project { columns, .. } => self.extend_like(rel, columns, true),
            Operator::ProjectAway { patterns, span } => {
                let drop = self.matching(&rel, patterns, *span)?;
                let keep: Vec<String> = rel
                    .names()
                    .into_iter()
                    .filter(|n| !drop.contains(n))
                    .collect();
                self.select(rel, &keep, *span)
            }
            Operator::ProjectKeep { patterns, span } => {
                let keep_set = self.matching(&rel, patterns, *span)?;
                let keep: Vec<String> = rel
                    .names()
                    .into_iter()
                    .filter(|n| keep_set.contains(n))
                    .collect();
                self.select(rel, &keep, *span)
            }
            Operator::ProjectRename { renames, span } => {
                let mut exprs = Vec::new();
                let mut dynamic = rel.dynamic.clone();
                for (new, old) in renames {
                    if rel.column(&old.name).is_none() {
                        return Err(self.unknown_column(&rel, &old.name, old.span));
                    }
                    if dynamic.remove(&old.name) {
                        dynamic.insert(new.name.clone());
                    }
                }
                for name in rel.names() {
                    let col = rel.column(&name).expect("listed");
                    match renames.iter().find(|(_, old)| old.name == name) {
                        Some((new, _)) => exprs.push(col.alias(&new.name)),
                        None => exprs.push(col.alias(&name)),
                    }
                }
                let plan = project(rel.plan, exprs, *span)?;
                let out = Rel { plan, dynamic };
                check_unique(&out, *span)?;
                Ok(out)
            }
            Operator::ProjectReorder { patterns, span } => {
                let mut order: Vec<String> = Vec::new();
                for (p, direction) in patterns {
                    let mut matched: Vec<String> = rel
                        .names()
                        .into_iter()
                        .filter(|n| wildcard(&p.name, n) && !order.contains(n))
                        .collect();
                    if matched.is_empty() && !p.name.contains('*') {
                        return Err(self.unknown_column(&rel, &p.name, p.span));
                    }
                    match direction.as_deref() {
                        Some("asc" | "granny-asc") => matched.sort(),
                        Some("desc" | "granny-desc") => matched.sort_by(|a, b| b.cmp(a)),
                        _ => {}
                    }
                    order.extend(matched);
                }
                for n in rel.names() {
                    if !order.contains(&n) {
                        order.push(n);
                    }
                }
                self.select(rel, &order, *span)
            }
            Operator::Summarize {
                aggregates,
                by,
                span,
                ..
            } => {
                if aggregates.is_empty() {
                    let rel = self.extend_like(rel, by, true)?;
                    let plan = LogicalPlanBuilder::from(rel.plan)
                        .distinct()
                        .and_then(|b| b.build())
                        .map_err(|e| df_error(*span, e))?;
                    return Ok(Rel {
                        plan,
                        dynamic: rel.dynamic,
                    });
                }
                self.summarize(rel, aggregates, by, *span)
            }
            Operator::Sort { keys, span } => {
                let sorts = self.sort_keys(keys, &rel)?;
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .sort(sorts)
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(*span, e))?;
                Ok(Rel {
                    plan,
                    dynamic: rel.dynamic,
                })
            }
            Operator::Top { count, key, span } => {
                let n = self.count_arg(count, *span)?;
                let sorts = self.sort_keys(std::slice::from_ref(key), &rel)?;
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .sort_with_limit(sorts, Some(n))
                    .and_then(|b| b.limit(0, Some(n)))
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(*span, e))?;
                Ok(Rel {
                    plan,
                    dynamic: rel.dynamic,
                })
            }
            Operator::Take { count, span } | Operator::Sample { count, span } => {
                let n = self.count_arg(count, *span)?;
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .limit(0, Some(n))
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(*span, e))?;
                Ok(Rel {
                    plan,
                    dynamic: rel.dynamic,
                })
            }
            Operator::Distinct { columns, span } => {
                let star = columns.iter().any(|c| matches!(c.kind, ExprKind::Star));
                let rel = if star {
                    rel
                } else {
                    let assignments: Vec<Assignment> = columns
                        .iter()
                        .map(|c| Assignment {
                            names: vec![],
                            expr: c.clone(),
                        })
                        .collect();
                    self.extend_like(rel, &assignments, true)?
                };
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .distinct()
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(*span, e))?;
                Ok(Rel {
                    plan,
                    dynamic: rel.dynamic,
                })
            }
            Operator::Count { span } => {
                let count = self
                    .engine
                    .aggregate_udf("count")
                    .ok_or_else(|| unsupported(*span, "count"))?;
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .aggregate(
                        Vec::<Expr>::new(),
                        vec![count.call(vec![lit(1_i64)]).alias("Count")],
                    )
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(*span, e))?;
                Ok(Rel::new(plan))
            }
            Operator::Join {
                props,
                right,
                on,
                span,
            } => self.join(rel, props, right, on, *span),
            Operator::Lookup {
                props,
                right,
                on,
                span,
            } => self.lookup(rel, props, right, on, *span),
            Operator::Union(u) => self.union(Some(rel), u),
            Operator::MvExpand {
                columns,
                limit,
                span,
                props,
            } => self.mv_expand(rel, columns, limit.as_ref(), props, *span),
            Operator::Parse {
                kind,
                flags,
                source,
                pattern,
                filter,
                span,
            } => self.parse_op(rel, kind, flags.as_deref(), source, pattern, *filter, *span),
            Operator::Render { chart, props, .. } => {
                self.render = Some(Render {
                    chart: chart.clone(),
                    properties: props
                        .iter()
                        .map(|p| (p.name.clone(), render_value(&p.value)))
                        .collect(),
                });
                Ok(rel)
            }
            Operator::As { name, .. } => {
                self.bind_tabular(&name.name, rel.clone());
                Ok(rel)
            }
            Operator::Serialize { columns, .. } => {
                if columns.is_empty() {
                    Ok(rel)
                } else {
                    self.extend_like(rel, columns, false)
                }
            }
            Operator::Invoke { call, span } => {
                let ExprKind::Call { name, args } = &call.kind else {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        *span,
                        "`invoke` takes a function call",
                    ));
                };
                match self.call_function(&name.name, args, Some(rel.clone()), Some(&rel), *span)? {
                    Some(super::FunctionResult::Tabular(out)) => Ok(out),
                    Some(_) => Err(KqlError::new(
                        ErrorKind::Type,
                        *span,
                        format!("`{}` does not return a table", name.name),
                    )),
                    None => Err(KqlError::new(
                        ErrorKind::UnknownFunction,
                        name.span,
                        format!(
                            "unknown function `{}`; `invoke` calls a function defined with `let`",
                            name.name
                        ),
                    )),
                }
            }
            Operator::GetSchema { span } => self.getschema(&rel, *span),
            Operator::Search(s) => self.search(Some(rel), s),
            Operator::Evaluate(e) => self.evaluate(e, rel),
            Operator::MvApply {
                props,
                columns,
                subquery,
                span,
            } => self.mv_apply(rel, props, columns, subquery, *span),
            Operator::ParseKv {
                source,
                columns,
                props,
                span,
            } => self.parse_kv(rel, source, columns, props, *span),
            Operator::MakeSeries {
                aggregates,
                axis,
                from,
                to,
                step,
                by,
                span,
            } => {
                let series = super::series::Series {
                    aggregates,
                    axis,
                    from: from.as_ref(),
                    to: to.as_ref(),
                    step,
                    by,
                    span: *span,
                };
                self.make_series(rel, &series)
            }
            Operator::TopNested { levels, span } => self.top_nested(rel, levels, *span),
            Operator::Facet { span, .. } => Err(unsupported(*span, "`facet`")),
            Operator::Fork { span, .. } => Err(unsupported(*span, "`fork`")),
            Operator::Partition { span, .. } => Err(unsupported(*span, "`partition`")),
            Operator::Consume { .. } => {
                let plan = LogicalPlanBuilder::from(rel.plan)
                    .limit(0, Some(0))
                    .and_then(|b| b.build())
                    .map_err(|e| df_error(Span::default(), e))?;
                Ok(Rel::new(plan))
            }
        }
    }

    fn bind_tabular(&mut self, name: &str, rel: Rel) {
        let frame = self.scopes_mut_last();
        frame.insert(name.to_string(), super::Binding::Tabular(rel));
    }

    pub(crate) fn unknown_column(&self, rel: &Rel, name: &str, span: Span) -> KqlError {
        let names = rel.names();
        let message = match crate::suggest::closest(name, names.iter().map(String::as_str)) {
            Some(s) => format!("unknown column `{name}`; did you mean `{s}`?"),
            None => format!("unknown column `{name}`"),
        };
        KqlError::new(ErrorKind::UnknownColumn, span, message)
    }

    /// The names matching `project-away`/`project-keep` patterns (with `*`).
    fn matching(&self, rel: &Rel, patterns: &[ast::Ident], span: Span) -> R<HashSet<String>> {
        let mut out = HashSet::new();
        for p in patterns {
            let hits: Vec<String> = rel
                .names()
                .into_iter()
                .filter(|n| wildcard(&p.name, n))
                .collect();
            if hits.is_empty() && !p.name.contains('*') {
                return Err(self.unknown_column(rel, &p.name, p.span));
            }
            out.extend(hits);
        }
        let _ = span;
        Ok(out)
    }

    /// Keeps the named columns, in this order.
    fn select(&self, rel: Rel, names: &[String], span: Span) -> R<Rel> {
        let exprs: Vec<Expr> = names
            .iter()
            .map(|n| {
                rel.column(n)
                    .expect("names come from the relation")
                    .alias(n)
            })
            .collect();
        let dynamic = rel
            .dynamic
            .iter()
            .filter(|d| names.contains(d))
            .cloned()
            .collect();
        Ok(Rel {
            plan: project(rel.plan, exprs, span)?,
            dynamic,
        })
    }

    /// `extend` (keep every column, replace or add the assigned ones) and `project`
    /// (only the listed ones). Window functions in the expressions run over the rows in
    /// their current order.
    pub(crate) fn extend_like(
        &mut self,
        rel: Rel,
        columns: &[Assignment],
        only_listed: bool,
    ) -> R<Rel> {
        let mut current = rel;
        // Project first computes every expression over its input; extend lets a later
        // assignment use an earlier one, so it applies them one at a time when needed.
        let span = columns.first().map_or(Span::default(), |a| a.expr.span);
        let mut outputs: Vec<(String, Expr, bool)> = Vec::new();
        let input = current.clone();
        for a in columns {
            if only_listed && matches!(a.expr.kind, ExprKind::Name(ref n) if n.contains('*')) {
                let ExprKind::Name(p) = &a.expr.kind else {
                    unreachable!()
                };
                for n in input.names().into_iter().filter(|n| wildcard(p, n)) {
                    let col = input.column(&n).expect("listed");
                    outputs.push((n.clone(), col, input.dynamic.contains(&n)));
                }
                continue;
            }
            let scope = if only_listed { &input } else { &current };
            self.windowing = true;
            let e = self.scalar(&a.expr, scope);
            self.windowing = false;
            let e = e?;
            let several = self.several_outputs(a, scope, e)?;
            if only_listed {
                outputs.extend(several);
            } else {
                current = self.apply_extend(current, several, a.expr.span)?;
            }
        }
        if !only_listed {
            return Ok(current);
        }
        let (plan_input, outputs) = self.pull_windows(input, outputs, span)?;
        let mut dynamic = HashSet::new();
        let mut exprs = Vec::new();
        for (name, e, is_dyn) in outputs {
            if is_dyn {
                dynamic.insert(name.clone());
            }
            exprs.push(e.alias(name));
        }
        let out = Rel {
            plan: project(plan_input.plan, exprs, span)?,
            dynamic,
        };
        check_unique(&out, span)?;
        Ok(out)
    }

    /// The columns one assignment makes: usually one, but a function with several
    /// results (`series_fit_line`, `series_decompose_anomalies`, …) gives a column per
    /// result, named by the assignment's `(a, b, c)` list or else after the function,
    /// its argument and the result (`series_fit_line_x_slope`).
    fn several_outputs(&mut self, a: &Assignment, scope: &Rel, e: Expr) -> R<Vec<Output>> {
        let is_dyn = self.is_dynamic(&a.expr, scope);
        let results = match &a.expr.kind {
            ExprKind::Call { name, args } => udf::series::outputs(&name.name)
                .map(|r| (name.name.clone(), args.first().cloned(), r)),
            _ => None,
        };
        match (a.names.len(), results) {
            (0, None) => Ok(vec![(self.derived_name(&a.expr), e, is_dyn)]),
            (1, _) => Ok(vec![(a.names[0].name.clone(), e, is_dyn)]),
            (_, None) => Err(unsupported(
                a.expr.span,
                "assigning one expression to several columns",
            )),
            (count, Some((function, arg, results))) => {
                if count > results.len() {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        a.expr.span,
                        format!("`{function}` has {} results, not {count}", results.len()),
                    ));
                }
                let arg_name = arg
                    .and_then(|x| self.column_like_name(&x))
                    .unwrap_or_default();
                Ok(results
                    .iter()
                    .enumerate()
                    .take(if count == 0 { results.len() } else { count })
                    .map(|(i, r)| {
                        let name = match a.names.get(i) {
                            Some(n) => n.name.clone(),
                            None => format!("{function}_{arg_name}_{r}"),
                        };
                        let part = udf::call("kql_dyn_get", vec![e.clone(), lit(*r)]);
                        // Counts and indexes are numbers; the rest are series.
                        let scalar = matches!(
                            *r,
                            "min"
                                | "min_idx"
                                | "max"
                                | "max_idx"
                                | "avg"
                                | "stdev"
                                | "variance"
                                | "rsquare"
                                | "slope"
                                | "rvariance"
                                | "interception"
                        );
                        let part = if scalar {
                            datafusion::logical_expr::try_cast(part, DataType::Float64)
                        } else {
                            part
                        };
                        (name, part, !scalar)
                    })
                    .collect())
            }
        }
    }

    /// `parse-kv s as (k:type, …) with (pair_delimiter=…, kv_delimiter=…, quote=…)`:
    /// a column per listed key, from text of `key=value` pairs. Keys and values are
    /// trimmed; the first value of a repeated key wins; a key that is not there gives
    /// an empty string or a null of its type.
    fn parse_kv(
        &mut self,
        rel: Rel,
        source: &ast::Expr,
        columns: &[ast::ColumnDecl],
        props: &[ast::Property],
        span: Span,
    ) -> R<Rel> {
        let text_prop = |name: &str| -> R<Option<String>> {
            match props.iter().find(|p| p.name == name) {
                None => Ok(None),
                Some(p) => match &p.value.kind {
                    ExprKind::Str(s) => Ok(Some(s.clone())),
                    ExprKind::Bool(b) => Ok(Some(b.to_string())),
                    ExprKind::Name(n) => Ok(Some(n.clone())),
                    _ => Err(KqlError::new(
                        ErrorKind::Type,
                        p.value.span,
                        format!("`{name}` of `parse-kv` must be a string literal"),
                    )),
                },
            }
        };
        let pair = text_prop("pair_delimiter")?.unwrap_or_else(|| " ".to_string());
        let kv = text_prop("kv_delimiter")?.unwrap_or_else(|| "=".to_string());
        let quote = text_prop("quote")?.unwrap_or_default();
        // `regex=`: a pattern whose two groups are a key and its value.
        let regex = text_prop("regex")?.unwrap_or_default();
        if !regex.is_empty() {
            let groups = regex::Regex::new(&regex)
                .map_err(|e| {
                    KqlError::new(
                        ErrorKind::Type,
                        span,
                        format!("the `regex` of `parse-kv` is not valid: {e}"),
                    )
                })?
                .captures_len();
            if groups != 3 {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    "the `regex` of `parse-kv` needs exactly two groups: the key and the value",
                ));
            }
        }
        let text = self.scalar(source, &rel)?;
        let text = self.as_text(text, &rel);
        let bag = udf::call(
            "kql_parse_kv",
            vec![text, lit(pair), lit(kv), lit(quote), lit(regex)],
        );
        let mut new = Vec::new();
        for c in columns {
            let ty = super::kql_type(&c.ty, c.name.span)?;
            let value = udf::call("kql_dyn_get", vec![bag.clone(), lit(c.name.name.as_str())]);
            let value = match ty {
                vigil_schema::KqlType::String => {
                    datafusion::functions::core::expr_fn::coalesce(vec![value, lit("")])
                }
                _ => self.convert_to(value, ty, c.name.span)?,
            };
            new.push((
                c.name.name.clone(),
                value,
                ty == vigil_schema::KqlType::Dynamic,
            ));
        }
        self.apply_extend(rel, new, span)
    }

    fn apply_extend(&mut self, rel: Rel, new: Vec<(String, Expr, bool)>, span: Span) -> R<Rel> {
        let (rel, new) = self.pull_windows(rel, new, span)?;
        let mut exprs = Vec::new();
        let mut dynamic = rel.dynamic.clone();
        for name in rel.names() {
            if name.starts_with("__w") {
                continue;
            }
            match new.iter().find(|(n, ..)| *n == name) {
                Some((n, e, _)) => exprs.push(e.clone().alias(n)),
                None => exprs.push(rel.column(&name).expect("listed").alias(&name)),
            }
        }
        for (n, e, is_dyn) in &new {
            if rel.column(n).is_none() {
                exprs.push(e.clone().alias(n));
            }
            if *is_dyn {
                dynamic.insert(n.clone());
            } else {
                dynamic.remove(n);
            }
        }
        Ok(Rel {
            plan: project(rel.plan, exprs, span)?,
            dynamic,
        })
    }

    /// Moves window functions out of expressions into a window step below them.
    fn pull_windows(
        &mut self,
        rel: Rel,
        outputs: Vec<Output>,
        span: Span,
    ) -> R<(Rel, Vec<Output>)> {
        let mut windows: Vec<Expr> = Vec::new();
        let mut rewritten = Vec::new();
        for (name, e, d) in outputs {
            let e = e
                .transform_up(|node| {
                    if let Expr::WindowFunction(_) = &node {
                        let i = windows.len();
                        windows.push(node.alias(format!("__w{i}")));
                        return Ok(Transformed::yes(Expr::Column(Column::from_name(format!(
                            "__w{i}"
                        )))));
                    }
                    Ok(Transformed::no(node))
                })
                .map_err(|e| df_error(span, e))?
                .data;
            rewritten.push((name, e, d));
        }
        if windows.is_empty() {
            return Ok((rel, rewritten));
        }
        let plan = LogicalPlanBuilder::from(rel.plan)
            .window(windows)
            .and_then(|b| b.build())
            .map_err(|e| df_error(span, e))?;
        Ok((
            Rel {
                plan,
                dynamic: rel.dynamic,
            },
            rewritten,
        ))
    }

    pub(crate) fn sort_keys(
        &mut self,
        keys: &[SortKey],
        rel: &Rel,
    ) -> R<Vec<datafusion::logical_expr::SortExpr>> {
        keys.iter()
            .map(|k| {
                let e = self.scalar(&k.expr, rel)?;
                // KQL: descending by default; nulls last when descending, first when not.
                let nulls_first = k.nulls_first.unwrap_or(k.ascending);
                Ok(e.sort(k.ascending, nulls_first))
            })
            .collect()
    }

    pub(crate) fn count_arg(&mut self, count: &ast::Expr, span: Span) -> R<usize> {
        let unit = Rel::unit();
        match self.scalar(count, &unit)? {
            Expr::Literal(v, _) => {
                let n = match v {
                    datafusion::common::ScalarValue::Int64(Some(n)) => Some(n),
                    datafusion::common::ScalarValue::Int32(Some(n)) => Some(i64::from(n)),
                    _ => None,
                };
                n.and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
                    KqlError::new(
                        ErrorKind::Type,
                        count.span,
                        "the row count must be a whole number",
                    )
                })
            }
            _ => Err(KqlError::new(
                ErrorKind::Type,
                span,
                "the row count must be a constant",
            )),
        }
    }

    fn getschema(&mut self, rel: &Rel, span: Span) -> R<Rel> {
        let schema = rel.plan.schema();
        let mut values = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            let dynamic = rel.dynamic.contains(f.name());
            let kql = crate::format::kql_type_name(f.data_type(), dynamic);
            values.push(vec![
                lit(f.name().as_str()),
                lit(i as i32),
                lit(crate::format::dotnet_type_name(kql)),
                lit(kql),
            ]);
        }
        if values.is_empty() {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                "the input has no columns",
            ));
        }
        let plan = LogicalPlanBuilder::values(values)
            .and_then(|b| b.build())
            .map_err(|e| df_error(span, e))?;
        let names = ["ColumnName", "ColumnOrdinal", "DataType", "ColumnType"];
        let exprs = plan
            .schema()
            .columns()
            .into_iter()
            .zip(names)
            .map(|(c, n)| Expr::Column(c).alias(n))
            .collect();
        Ok(Rel::new(project(plan, exprs, span)?))
    }

    /// `union`: rows of every table, columns matched by name (missing ones null).
    pub(crate) fn union(&mut self, input: Option<Rel>, u: &ast::Union) -> R<Rel> {
        let mut source_column = None;
        let mut fuzzy = false;
        // `kind=inner` keeps only the columns every input has; the default, `outer`, all.
        let mut inner = false;
        for p in &u.props {
            match p.name.as_str() {
                "withsource" | "WithSource" => {
                    if let ExprKind::Name(n) | ExprKind::Str(n) = &p.value.kind {
                        source_column = Some(n.clone());
                    }
                }
                "isfuzzy" => fuzzy = matches!(p.value.kind, ExprKind::Bool(true)),
                "kind" => inner = matches!(&p.value.kind, ExprKind::Name(k) if k == "inner"),
                _ => {}
            }
        }
        let mut parts: Vec<(String, Rel)> = Vec::new();
        if let Some(rel) = input {
            parts.push(("union_arg0".to_string(), rel));
        }
        for t in &u.tables {
            // `Device*`: every table whose name matches.
            if t.ops.is_empty()
                && let ast::Source::Expr(ast::Expr {
                    kind: ExprKind::Name(n),
                    span,
                }) = &t.source
                && n.contains('*')
            {
                for name in self
                    .engine
                    .table_names()
                    .into_iter()
                    .filter(|t| wildcard(n, t))
                {
                    let rel = self.table(&name, *span)?;
                    parts.push((name, rel));
                }
                continue;
            }
            // Tables are named by their name; anything else by its position.
            let name = match &t.source {
                ast::Source::Expr(ast::Expr {
                    kind: ExprKind::Name(n),
                    ..
                }) if t.ops.is_empty() && self.binding(n).is_none() => n.clone(),
                _ => format!("union_arg{}", parts.len()),
            };
            match self.pipeline(t, None) {
                Ok(rel) => parts.push((name, rel)),
                Err(e) if fuzzy && matches!(e.kind, ErrorKind::UnknownTable) => continue,
                Err(e) => return Err(e),
            }
        }
        if parts.is_empty() {
            return Err(KqlError::new(
                ErrorKind::UnknownTable,
                u.span,
                "none of the union's tables exist",
            ));
        }
        let shared: Option<HashSet<String>> = inner.then(|| {
            let mut names: HashSet<String> = parts[0].1.names().into_iter().collect();
            for (_, rel) in &parts[1..] {
                let here: HashSet<String> = rel.names().into_iter().collect();
                names.retain(|n| here.contains(n));
            }
            names
        });
        let mut dynamic = HashSet::new();
        let mut plans = Vec::new();
        for (name, rel) in parts {
            dynamic.extend(rel.dynamic.iter().cloned());
            let mut exprs: Vec<Expr> = Vec::new();
            if let Some(sc) = &source_column {
                exprs.push(lit(name.as_str()).alias(sc));
            }
            for n in rel.names() {
                let kept = shared.as_ref().is_none_or(|s| s.contains(&n));
                if kept && Some(&n) != source_column.as_ref() {
                    exprs.push(rel.column(&n).expect("listed").alias(&n));
                }
            }
            plans.push(project(rel.plan, exprs, u.span)?);
        }
        let mut plans = plans.into_iter();
        let mut builder = LogicalPlanBuilder::from(plans.next().expect("at least one"));
        for p in plans {
            builder = builder.union_by_name(p).map_err(|e| df_error(u.span, e))?;
        }
        let plan = builder.build().map_err(|e| df_error(u.span, e))?;
        // Put the source column first, as Kusto does.
        let mut rel = Rel { plan, dynamic };
        if let Some(sc) = &source_column {
            let mut order = vec![sc.clone()];
            order.extend(rel.names().into_iter().filter(|n| n != sc));
            rel = self.select(rel, &order, u.span)?;
        }
        Ok(rel)
    }

    /// `search "term"` / `search Column has "x"`: a term anywhere in the row's text
    /// columns, over the given tables (or the piped input).
    pub(crate) fn search(&mut self, input: Option<Rel>, s: &ast::Search) -> R<Rel> {
        let rel = match input {
            Some(rel) => rel,
            None if s.tables.is_empty() => {
                return Err(unsupported(
                    s.span,
                    "`search` over every table (name the tables with `in (…)`)",
                ));
            }
            None => {
                let u = ast::Union {
                    props: vec![ast::Property {
                        name: "withsource".into(),
                        value: ast::Expr {
                            kind: ExprKind::Name("$table".into()),
                            span: s.span,
                        },
                    }],
                    tables: s
                        .tables
                        .iter()
                        .map(|t| ast::Pipeline {
                            source: ast::Source::Expr(t.clone()),
                            ops: vec![],
                            span: t.span,
                        })
                        .collect(),
                    span: s.span,
                };
                self.union(None, &u)?
            }
        };
        let predicate = match &s.predicate.kind {
            ExprKind::Str(term) => {
                let mut any = None;
                for n in rel.names() {
                    let t = rel.data_type(&n).unwrap_or(DataType::Null);
                    if super::expr::is_string(&t) {
                        let has = udf::call(
                            "kql_has",
                            vec![rel.column(&n).expect("listed"), lit(term.as_str())],
                        );
                        any = Some(match any {
                            None => has,
                            Some(a) => Expr::or(a, has),
                        });
                    }
                }
                any.unwrap_or(lit(false))
            }
            _ => self.scalar(&s.predicate, &rel)?,
        };
        let plan = LogicalPlanBuilder::from(rel.plan)
            .filter(predicate)
            .and_then(|b| b.build())
            .map_err(|e| df_error(s.span, e))?;
        Ok(Rel {
            plan,
            dynamic: rel.dynamic,
        })
    }

    /// `mv-expand`: a row per element of a dynamic array (or property of a bag); several
    /// columns expand side by side.
    pub(crate) fn mv_expand(
        &mut self,
        rel: Rel,
        columns: &[(Assignment, Option<String>)],
        limit: Option<&ast::Expr>,
        props: &[ast::Property],
        span: Span,
    ) -> R<Rel> {
        let index_column = props
            .iter()
            .find(|p| p.name == "with_itemindex")
            .and_then(|p| match &p.value.kind {
                ExprKind::Name(n) => Some(n.clone()),
                _ => None,
            });
        let pairs = props.iter().any(|p| {
            p.name == "kind" && matches!(&p.value.kind, ExprKind::Name(k) if k == "array")
        });
        let mut items: Vec<(String, Expr, Option<String>)> = Vec::new();
        for (a, ty) in columns {
            let name = match a.names.first() {
                Some(n) => n.name.clone(),
                None => self.derived_name(&a.expr),
            };
            let text = self.dynamic_text(&a.expr, &rel)?;
            items.push((name, text, ty.clone()));
        }
        // Add the lists as temporary columns, unnest them together, then put each back.
        let mut exprs: Vec<Expr> = rel
            .names()
            .into_iter()
            .map(|n| rel.column(&n).expect("listed").alias(&n))
            .collect();
        let mut list_columns = Vec::new();
        for (i, (_, text, _)) in items.iter().enumerate() {
            let c = format!("__mv{i}");
            exprs.push(udf::call("kql_array_items", vec![text.clone(), lit(pairs)]).alias(&c));
            list_columns.push(Column::from_name(c));
        }
        if index_column.is_some() {
            exprs.push(udf::call("kql_array_indexes", vec![items[0].1.clone()]).alias("__mvidx"));
            list_columns.push(Column::from_name("__mvidx"));
        }
        let plan = project(rel.plan.clone(), exprs, span)?;
        let options = UnnestOptions::new().with_preserve_nulls(true);
        let mut builder = LogicalPlanBuilder::from(plan)
            .unnest_columns_with_options(list_columns, options)
            .map_err(|e| df_error(span, e))?;
        if let Some(l) = limit {
            let n = self.count_arg(l, span)?;
            let _ = n;
            return Err(unsupported(l.span, "`mv-expand … limit`"));
        }
        let plan = builder.build().map_err(|e| df_error(span, e))?;
        builder = LogicalPlanBuilder::from(plan.clone());
        let tmp = Rel::new(plan);
        let mut out = Vec::new();
        let mut dynamic = rel.dynamic.clone();
        let names = rel.names();
        let convert = |this: &Self, e: Expr, ty: &Option<String>| -> R<(Expr, bool)> {
            match ty {
                None => Ok((e, true)),
                Some(t) => {
                    let kt = super::kql_type(t, span)?;
                    Ok((
                        this.convert_to(e, kt, span)?,
                        kt == vigil_schema::KqlType::Dynamic,
                    ))
                }
            }
        };
        for n in &names {
            match items.iter().position(|(name, ..)| name == n) {
                Some(i) => {
                    let (e, is_dyn) = convert(
                        self,
                        tmp.column(&format!("__mv{i}")).expect("added"),
                        &items[i].2,
                    )?;
                    if !is_dyn {
                        dynamic.remove(n);
                    } else {
                        dynamic.insert(n.clone());
                    }
                    out.push(e.alias(n));
                }
                None => out.push(tmp.column(n).expect("kept").alias(n)),
            }
        }
        for (i, (name, _, ty)) in items.iter().enumerate() {
            if !names.contains(name) {
                let (e, is_dyn) =
                    convert(self, tmp.column(&format!("__mv{i}")).expect("added"), ty)?;
                if is_dyn {
                    dynamic.insert(name.clone());
                }
                out.push(e.alias(name));
            }
        }
        if let Some(ic) = &index_column {
            out.push(tmp.column("__mvidx").expect("added").alias(ic));
        }
        let plan = builder
            .project(out)
            .and_then(|b| b.build())
            .map_err(|e| df_error(span, e))?;
        Ok(Rel { plan, dynamic })
    }

    /// `parse` and `parse-where`: a pattern of text and columns becomes one regex; each
    /// column is a capture group.
    #[allow(clippy::too_many_arguments)]
    fn parse_op(
        &mut self,
        rel: Rel,
        kind: &str,
        flags: Option<&str>,
        source: &ast::Expr,
        pattern: &[ParsePart],
        filter: bool,
        span: Span,
    ) -> R<Rel> {
        let regex_kind = kind.eq_ignore_ascii_case("regex");
        let relaxed = kind.eq_ignore_ascii_case("relaxed");
        let mut re = String::new();
        if let Some(f) = flags.filter(|f| !f.is_empty()) {
            re.push_str(&format!("(?{f})"));
        }
        if !regex_kind {
            re.push('^');
        }
        let mut columns: Vec<(String, Option<String>)> = Vec::new();
        let last_column = pattern
            .iter()
            .rposition(|p| matches!(p, ParsePart::Column { .. }));
        for (i, part) in pattern.iter().enumerate() {
            match part {
                ParsePart::Text(t) => {
                    if regex_kind {
                        re.push_str(t);
                    } else {
                        re.push_str(&regex::escape(t));
                    }
                }
                ParsePart::Any => re.push_str(if regex_kind { ".*?" } else { "(?s:.*?)" }),
                ParsePart::Column { name, ty, regex } => {
                    let typed = ty.as_deref().map(str::to_ascii_lowercase);
                    let body = match (regex, typed.as_deref()) {
                        (Some(r), _) => r.clone(),
                        (None, Some("long" | "int")) => r"[-+]?\d+".to_string(),
                        (None, Some("real" | "double")) => {
                            r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?".to_string()
                        }
                        (None, _) if Some(i) == last_column && i + 1 == pattern.len() => {
                            "(?s:.*)".to_string()
                        }
                        (None, _) => "(?s:.*?)".to_string(),
                    };
                    re.push_str(&format!("({body})"));
                    columns.push((name.name.clone(), ty.clone()));
                }
            }
        }
        if !regex_kind
            && !relaxed
            && !matches!(
                pattern.last(),
                Some(ParsePart::Column { .. } | ParsePart::Any)
            )
        {
            re.push('$');
        }
        let text = self.scalar(source, &rel)?;
        let text = self.as_text(text, &rel);
        let mut new = Vec::new();
        for (i, (name, ty)) in columns.iter().enumerate() {
            let group = udf::call(
                "kql_extract",
                vec![lit(re.as_str()), lit((i + 1) as i64), text.clone()],
            );
            let value = match ty {
                Some(t) => self.convert_to(group, super::kql_type(t, span)?, span)?,
                None => group,
            };
            new.push((name.clone(), value, false));
        }
        let rel = if filter {
            let matched = udf::call("kql_regex_match", vec![text, lit(re.as_str())]);
            let plan = LogicalPlanBuilder::from(rel.plan)
                .filter(matched)
                .and_then(|b| b.build())
                .map_err(|e| df_error(span, e))?;
            Rel {
                plan,
                dynamic: rel.dynamic,
            }
        } else {
            rel
        };
        self.apply_extend(rel, new, span)
    }
}

/// Fails when two columns have the same name (DataFusion would reject the plan later
/// with a less helpful message).
pub(crate) fn check_unique(rel: &Rel, span: Span) -> R<()> {
    let mut seen = HashSet::new();
    for n in rel.names() {
        if !seen.insert(n.clone()) {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                format!("the column `{n}` is produced twice"),
            ));
        }
    }
    Ok(())
}

/// `*` wildcards in column and table names.
pub(crate) fn wildcard(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == name;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn render_value(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Str(s) | ExprKind::Name(s) => s.clone(),
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Real(v) => v.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::List(items) => items.iter().map(render_value).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}
