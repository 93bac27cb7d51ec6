//! Operators that run work per group of rows: `mv-apply` (a subquery over the
//! expanded array of each row) and `top-nested` (the top values at each level within
//! the level above).
//!
//! Both are planned with a key column that tells the groups apart (`__mvrow`, the
//! number of the input row, for `mv-apply`); aggregation and ranking in the subquery
//! are done per key, and the result is joined back to the rest of the row.

use std::collections::HashSet;

use datafusion::common::{Column, JoinType};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, SortExpr, lit};

use super::{Lowerer, R, Rel, df_error, project, unsupported};
use crate::ast::{self, Assignment, ExprKind, Operator, Pipeline};
use crate::error::{ErrorKind, KqlError, Span};

const ROW: &str = "__mvrow";
const RANK: &str = "__rank";

fn column(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}

impl Lowerer<'_> {
    /// `row_number() over (partition by … order by …)`.
    fn ranked(&self, partition: Vec<Expr>, order: Vec<SortExpr>, span: Span) -> R<Expr> {
        let f = self
            .engine
            .window_udf("row_number")
            .ok_or_else(|| unsupported(span, "row_number"))?;
        let mut w = WindowFunction::new(f, vec![]);
        w.params.partition_by = partition;
        w.params.order_by = order;
        // Window expressions must stay at the top of their step, so no cast here.
        Ok(Expr::from(w))
    }

    /// Adds a column computed over the whole relation (a window function) and keeps
    /// every other column.
    fn with_column(&self, rel: Rel, name: &str, e: Expr, span: Span) -> R<Rel> {
        let plan = LogicalPlanBuilder::from(rel.plan)
            .window(vec![e.alias(name)])
            .and_then(|b| b.build())
            .map_err(|err| df_error(span, err))?;
        Ok(Rel {
            plan,
            dynamic: rel.dynamic,
        })
    }

    fn keep_first(&mut self, rel: Rel, n: usize, order: Vec<SortExpr>, span: Span) -> R<Rel> {
        let rank = self.ranked(vec![column(ROW)], order, span)?;
        let ranked = self.with_column(rel, RANK, rank, span)?;
        let plan = LogicalPlanBuilder::from(ranked.plan)
            .filter(column(RANK).lt_eq(lit(n as u64)))
            .map_err(|err| df_error(span, err))?
            .build()
            .map_err(|err| df_error(span, err))?;
        let filtered = Rel {
            plan,
            dynamic: ranked.dynamic,
        };
        let names: Vec<String> = filtered.names().into_iter().filter(|n| n != RANK).collect();
        let exprs = names.iter().map(|n| column(n)).collect();
        Ok(Rel {
            plan: project(filtered.plan, exprs, span)?,
            dynamic: filtered.dynamic,
        })
    }

    /// `mv-apply x = arr [to typeof(t)] on (subquery)`: expands each row's arrays,
    /// runs the subquery over the rows made from one input row at a time, and puts the
    /// subquery's rows next to the input row's other columns. An input row whose
    /// subquery gives no rows is dropped.
    pub(crate) fn mv_apply(
        &mut self,
        rel: Rel,
        props: &[ast::Property],
        columns: &[(Assignment, Option<String>)],
        subquery: &Pipeline,
        span: Span,
    ) -> R<Rel> {
        if !matches!(&subquery.source, ast::Source::Expr(e) if matches!(e.kind, ExprKind::Star)) {
            return Err(KqlError::new(
                ErrorKind::Type,
                subquery.span,
                "the subquery of `mv-apply` starts with an operator, not a table",
            ));
        }
        let number = self.ranked(vec![], vec![], span)?;
        let numbered = self.with_column(rel, ROW, number, span)?;
        let expanded_names: HashSet<String> = columns
            .iter()
            .map(|(a, _)| match a.names.first() {
                Some(n) => n.name.clone(),
                None => self.derived_name(&a.expr),
            })
            .collect();
        let mut current = self.mv_expand(numbered.clone(), columns, None, props, span)?;
        for op in &subquery.ops {
            current = self.apply_step(current, op)?;
        }
        if current.column(ROW).is_none() {
            return Err(unsupported(
                span,
                "an `mv-apply` subquery that drops its row key \
                 (use where, extend, project, summarize, top, take, sort)",
            ));
        }

        // The input row's other columns, joined back by row number.
        let produced: HashSet<String> = current.names().into_iter().collect();
        let carried: Vec<String> = numbered
            .names()
            .into_iter()
            .filter(|n| n != ROW && !expanded_names.contains(n) && !produced.contains(n))
            .collect();
        let mut left_exprs: Vec<Expr> = carried.iter().map(|n| column(n)).collect();
        left_exprs.push(column(ROW).alias("__mvrow_l"));
        let left = project(numbered.plan, left_exprs, span)?;
        let joined = LogicalPlanBuilder::from(left)
            .join(
                current.plan.clone(),
                JoinType::Inner,
                (
                    vec![Column::from_name("__mvrow_l")],
                    vec![Column::from_name(ROW)],
                ),
                None,
            )
            .and_then(|b| b.build())
            .map_err(|err| df_error(span, err))?;
        let mut out: Vec<Expr> = carried.iter().map(|n| column(n)).collect();
        for n in current.names() {
            if n != ROW {
                out.push(Expr::Column(Column::new(None::<String>, n.as_str())).alias(&n));
            }
        }
        let mut dynamic: HashSet<String> = numbered
            .dynamic
            .iter()
            .filter(|n| carried.contains(*n))
            .cloned()
            .collect();
        dynamic.extend(current.dynamic.iter().cloned());
        Ok(Rel {
            plan: project(joined, out, span)?,
            dynamic,
        })
    }

    /// One operator of an `mv-apply` subquery, applied per input row.
    fn apply_step(&mut self, rel: Rel, op: &Operator) -> R<Rel> {
        let key = Assignment {
            names: vec![],
            expr: ast::Expr {
                kind: ExprKind::Name(ROW.to_string()),
                span: Span::default(),
            },
        };
        match op {
            Operator::Summarize {
                aggregates,
                by,
                span,
                ..
            } => {
                let mut keys = vec![key];
                keys.extend(by.iter().cloned());
                self.summarize(rel, aggregates, &keys, *span)
            }
            Operator::Project { columns, .. } => {
                let mut columns = columns.clone();
                columns.push(key);
                self.extend_like(rel, &columns, true)
            }
            Operator::Top {
                count,
                key: sort,
                span,
            } => {
                let n = self.count_arg(count, *span)?;
                let order = self.sort_keys(std::slice::from_ref(sort), &rel)?;
                self.keep_first(rel, n, order, *span)
            }
            Operator::Take { count, span } => {
                let n = self.count_arg(count, *span)?;
                self.keep_first(rel, n, vec![], *span)
            }
            Operator::Distinct { columns, span } => {
                let mut columns = columns.clone();
                if !columns.iter().any(|c| matches!(c.kind, ExprKind::Star)) {
                    columns.push(key.expr);
                }
                self.operator(
                    &Operator::Distinct {
                        columns,
                        span: *span,
                    },
                    rel,
                )
            }
            Operator::Count { span } => {
                let count = ast::Expr {
                    kind: ExprKind::Call {
                        name: ast::Ident {
                            name: "count".into(),
                            span: *span,
                        },
                        args: vec![],
                    },
                    span: *span,
                };
                let named = Assignment {
                    names: vec![ast::Ident {
                        name: "Count".into(),
                        span: *span,
                    }],
                    expr: count,
                };
                self.summarize(rel, std::slice::from_ref(&named), &[key], *span)
            }
            Operator::ProjectAway { patterns, span } | Operator::ProjectKeep { patterns, span } => {
                // The row key is never dropped.
                let keep = matches!(op, Operator::ProjectKeep { .. });
                let mut patterns = patterns.clone();
                if keep {
                    patterns.push(ast::Ident {
                        name: ROW.to_string(),
                        span: *span,
                    });
                }
                let rebuilt = if keep {
                    Operator::ProjectKeep {
                        patterns,
                        span: *span,
                    }
                } else {
                    Operator::ProjectAway {
                        patterns: patterns.into_iter().filter(|p| p.name != ROW).collect(),
                        span: *span,
                    }
                };
                self.operator(&rebuilt, rel)
            }
            Operator::Where { .. }
            | Operator::Extend { .. }
            | Operator::Sort { .. }
            | Operator::ProjectRename { .. }
            | Operator::MvExpand { .. }
            | Operator::Parse { .. } => self.operator(op, rel),
            other => Err(unsupported(
                operator_span(other),
                "this operator inside an `mv-apply` subquery",
            )),
        }
    }

    /// `top-nested N of Col [with others = v] by Agg, …`: the `N` values of `Col` with
    /// the largest aggregate, then within each of them the top values of the next level.
    pub(crate) fn top_nested(
        &mut self,
        rel: Rel,
        levels: &[ast::TopNestedLevel],
        span: Span,
    ) -> R<Rel> {
        let mut keys: Vec<Assignment> = Vec::new();
        let mut results: Option<Rel> = None;
        let mut key_names: Vec<String> = Vec::new();
        let mut parent_has_others = false;
        for level in levels {
            if level.others.is_some() && level.count.is_none() {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    "`with others` needs a count: `top-nested 5 of X with others = \"Other\" by …`",
                ));
            }
            let of = &level.of;
            let mut level_keys = keys.clone();
            level_keys.push(of.clone());
            let by = Assignment {
                names: level.by.names.clone(),
                expr: level.by.expr.clone(),
            };
            let summary =
                self.summarize(rel.clone(), std::slice::from_ref(&by), &level_keys, span)?;
            let names = summary.names();
            let agg_name = names.last().cloned().unwrap_or_default();
            let key_name = names[level_keys.len() - 1].clone();
            // Rank within the keys of the levels above.
            let partition: Vec<Expr> = key_names.iter().map(|n| column(n)).collect();
            let order = vec![column(&agg_name).sort(level.ascending, !level.ascending)];
            let rank = self.ranked(partition, order, span)?;
            let ranked = self.with_column(summary, RANK, rank, span)?;
            let mut kept = ranked.clone();
            if let Some(n) = &level.count {
                let n = self.count_arg(n, span)?;
                let plan = LogicalPlanBuilder::from(ranked.plan.clone())
                    .filter(column(RANK).lt_eq(lit(n as u64)))
                    .and_then(|b| b.build())
                    .map_err(|err| df_error(span, err))?;
                kept = Rel {
                    plan,
                    dynamic: ranked.dynamic.clone(),
                };
            }
            let cols: Vec<Expr> = kept
                .names()
                .into_iter()
                .filter(|n| n != RANK)
                .map(|n| column(&n))
                .collect();
            let mut kept = Rel {
                plan: project(kept.plan, cols, span)?,
                dynamic: kept.dynamic,
            };
            if let (Some(others), Some(count)) = (&level.others, &level.count) {
                let n = self.count_arg(count, span)?;
                let named: Vec<Assignment> = level_keys
                    .iter()
                    .zip(&names)
                    .map(|(a, name)| Assignment {
                        names: vec![ast::Ident {
                            name: name.clone(),
                            span,
                        }],
                        expr: a.expr.clone(),
                    })
                    .collect();
                let rest =
                    self.other_rows(&rel, &ranked, &named, n, (others, &key_name), &by, span)?;
                let plan = LogicalPlanBuilder::from(kept.plan)
                    .union_by_name(rest.plan)
                    .and_then(|b| b.build())
                    .map_err(|err| df_error(span, err))?;
                kept = Rel {
                    plan,
                    dynamic: kept.dynamic,
                };
            }
            // Keep only the combinations whose parents survived the levels above (and,
            // under an `others` row, the parent alone).
            results = Some(match results {
                None => kept,
                Some(parents) => self.nest(parents, kept, &key_names, parent_has_others, span)?,
            });
            parent_has_others = level.others.is_some();
            key_names.push(key_name.clone());
            keys.push(Assignment {
                names: vec![],
                expr: ast::Expr {
                    kind: ExprKind::Name(key_name),
                    span,
                },
            });
        }
        results.ok_or_else(|| KqlError::syntax(span, "`top-nested` needs at least one level"))
    }

    /// The `with others` row of a level: the aggregate over the input rows whose key
    /// did not make the top `n` within their parent, under the key `others`.
    #[allow(clippy::too_many_arguments)]
    fn other_rows(
        &mut self,
        input: &Rel,
        ranked: &Rel,
        keys: &[Assignment],
        n: usize,
        (others, key_name): (&ast::Expr, &str),
        by: &Assignment,
        span: Span,
    ) -> R<Rel> {
        let key_names: Vec<String> = keys.iter().map(|k| k.names[0].name.clone()).collect();
        // Each input row with its level keys, and the rank its key got.
        let raw = self.extend_like(input.clone(), keys, false)?;
        let mut mapping: Vec<Expr> = key_names
            .iter()
            .map(|k| column(k).alias(format!("__m_{k}")))
            .collect();
        mapping.push(column(RANK));
        let mapping = project(ranked.plan.clone(), mapping, span)?;
        let left: Vec<Column> = key_names.iter().map(Column::from_name).collect();
        let right: Vec<Column> = key_names
            .iter()
            .map(|k| Column::from_name(format!("__m_{k}")))
            .collect();
        let joined = LogicalPlanBuilder::from(raw.plan.clone())
            .join(mapping, JoinType::Inner, (left, right), None)
            .and_then(|b| b.filter(column(RANK).gt(lit(n as u64))))
            .and_then(|b| b.build())
            .map_err(|err| df_error(span, err))?;
        let rest: Vec<Expr> = raw.names().iter().map(|c| column(c)).collect();
        let rest = Rel {
            plan: project(joined, rest, span)?,
            dynamic: raw.dynamic,
        };
        let relabel = Assignment {
            names: vec![ast::Ident {
                name: key_name.to_string(),
                span,
            }],
            expr: others.clone(),
        };
        let rest = self.extend_like(rest, std::slice::from_ref(&relabel), false)?;
        let group: Vec<Assignment> = key_names
            .iter()
            .map(|k| Assignment {
                names: vec![],
                expr: ast::Expr {
                    kind: ExprKind::Name(k.clone()),
                    span,
                },
            })
            .collect();
        self.summarize(rest, std::slice::from_ref(by), &group, span)
    }

    /// Joins a level's rows to the surviving rows of the levels above on their keys;
    /// with `keep_parents`, a parent without rows at this level stays, alone.
    fn nest(
        &mut self,
        parents: Rel,
        level: Rel,
        keys: &[String],
        keep_parents: bool,
        span: Span,
    ) -> R<Rel> {
        let renamed: Vec<Expr> = level
            .names()
            .iter()
            .map(|n| {
                if keys.contains(n) {
                    column(n).alias(format!("__n_{n}"))
                } else {
                    column(n)
                }
            })
            .collect();
        let level_plan = project(level.plan, renamed, span)?;
        let left: Vec<Column> = keys.iter().map(Column::from_name).collect();
        let right: Vec<Column> = keys
            .iter()
            .map(|k| Column::from_name(format!("__n_{k}")))
            .collect();
        let joined = LogicalPlanBuilder::from(parents.plan.clone())
            .join(
                level_plan,
                if keep_parents {
                    JoinType::Left
                } else {
                    JoinType::Inner
                },
                (left, right),
                None,
            )
            .and_then(|b| b.build())
            .map_err(|err| df_error(span, err))?;
        let out: Vec<Expr> = joined
            .schema()
            .fields()
            .iter()
            .filter(|f| !f.name().starts_with("__n_"))
            .map(|f| column(f.name()))
            .collect();
        let mut dynamic = parents.dynamic;
        dynamic.extend(level.dynamic);
        Ok(Rel {
            plan: project(joined, out, span)?,
            dynamic,
        })
    }
}

fn operator_span(op: &Operator) -> Span {
    match op {
        Operator::Join { span, .. }
        | Operator::Lookup { span, .. }
        | Operator::Distinct { span, .. }
        | Operator::MvExpand { span, .. }
        | Operator::MvApply { span, .. }
        | Operator::Count { span }
        | Operator::ProjectAway { span, .. }
        | Operator::ProjectKeep { span, .. }
        | Operator::ProjectReorder { span, .. } => *span,
        _ => Span::default(),
    }
}
