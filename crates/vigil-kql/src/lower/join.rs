//! `join` and `lookup`, with KQL's kinds (the default is `innerunique`: the left side
//! keeps one row per key) and its naming of clashing columns (`Key1`).

use std::collections::HashSet;

use datafusion::common::{Column, JoinType};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};

use super::{Lowerer, R, Rel, df_error, project};
use crate::ast::{self, BinaryOp, ExprKind, Pipeline, Property};
use crate::error::{ErrorKind, KqlError, Span};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftAnti,
    RightAnti,
    LeftSemi,
    RightSemi,
}

fn kind_of(props: &[Property], default: Kind, span: Span) -> R<Kind> {
    let Some(p) = props.iter().find(|p| p.name == "kind") else {
        return Ok(default);
    };
    let name = match &p.value.kind {
        ExprKind::Name(n) | ExprKind::Str(n) => n.as_str(),
        _ => "",
    };
    Ok(match name {
        "innerunique" => Kind::InnerUnique,
        "inner" => Kind::Inner,
        "leftouter" => Kind::LeftOuter,
        "rightouter" => Kind::RightOuter,
        "fullouter" | "outer" => Kind::FullOuter,
        "leftanti" | "anti" | "leftantisemi" => Kind::LeftAnti,
        "rightanti" | "rightantisemi" => Kind::RightAnti,
        "leftsemi" | "semi" => Kind::LeftSemi,
        "rightsemi" => Kind::RightSemi,
        other => {
            return Err(KqlError::new(
                ErrorKind::Syntax,
                p.value.span.to(span),
                format!("unknown join kind `{other}`"),
            ));
        }
    })
}

impl Lowerer<'_> {
    /// The key pairs of `on`: `Key`, `$left.A == $right.B`, joined by `,` or `and`.
    fn join_keys(
        &self,
        on: &[ast::Expr],
        left: &Rel,
        right: &Rel,
        span: Span,
    ) -> R<Vec<(String, String)>> {
        let mut keys = Vec::new();
        let mut stack: Vec<&ast::Expr> = on.iter().rev().collect();
        while let Some(e) = stack.pop() {
            match &e.kind {
                ExprKind::Name(n) => keys.push((n.clone(), n.clone())),
                ExprKind::Binary {
                    op: BinaryOp::And,
                    left: a,
                    right: b,
                } => {
                    stack.push(b);
                    stack.push(a);
                }
                ExprKind::Binary {
                    op: BinaryOp::Eq,
                    left: a,
                    right: b,
                } => {
                    let side = |x: &ast::Expr| match &x.kind {
                        ExprKind::Member { target, name } => match &target.kind {
                            ExprKind::Name(t) if t == "$left" => Some((true, name.clone())),
                            ExprKind::Name(t) if t == "$right" => Some((false, name.clone())),
                            _ => None,
                        },
                        _ => None,
                    };
                    match (side(a), side(b)) {
                        (Some((true, l)), Some((false, r)))
                        | (Some((false, r)), Some((true, l))) => keys.push((l, r)),
                        _ => {
                            return Err(KqlError::new(
                                ErrorKind::Unsupported,
                                e.span,
                                "join conditions other than `$left.A == $right.B` are valid KQL that Vigil does not run yet",
                            ));
                        }
                    }
                }
                _ => {
                    return Err(KqlError::new(
                        ErrorKind::Syntax,
                        e.span,
                        "a join's `on` takes column names or `$left.A == $right.B`",
                    ));
                }
            }
        }
        if keys.is_empty() {
            return Err(KqlError::new(
                ErrorKind::Syntax,
                span,
                "a join needs `on` keys",
            ));
        }
        for (l, r) in &keys {
            if left.column(l).is_none() {
                return Err(self.unknown_column(left, l, span));
            }
            if right.column(r).is_none() {
                return Err(self.unknown_column(right, r, span));
            }
        }
        Ok(keys)
    }

    pub(crate) fn join(
        &mut self,
        left: Rel,
        props: &[Property],
        right: &Pipeline,
        on: &[ast::Expr],
        span: Span,
    ) -> R<Rel> {
        let kind = kind_of(props, Kind::InnerUnique, span)?;
        let right = self.pipeline(right, None)?;
        let keys = self.join_keys(on, &left, &right, span)?;
        let left = if kind == Kind::InnerUnique {
            dedupe(left, &keys, span)?
        } else {
            left
        };
        let join_type = match kind {
            Kind::InnerUnique | Kind::Inner => JoinType::Inner,
            Kind::LeftOuter => JoinType::Left,
            Kind::RightOuter => JoinType::Right,
            Kind::FullOuter => JoinType::Full,
            Kind::LeftAnti => JoinType::LeftAnti,
            Kind::RightAnti => JoinType::RightAnti,
            Kind::LeftSemi => JoinType::LeftSemi,
            Kind::RightSemi => JoinType::RightSemi,
        };
        let (plan, lnames, rnames) = join_plans(&left, &right, join_type, &keys, span)?;
        let q = |side: &str, n: &str| Expr::Column(Column::new(Some(side), n));
        let mut exprs = Vec::new();
        let mut dynamic = HashSet::new();
        match kind {
            Kind::LeftAnti | Kind::LeftSemi => {
                for n in &lnames {
                    exprs.push(q("__l", n).alias(n));
                }
                dynamic = left.dynamic.clone();
            }
            Kind::RightAnti | Kind::RightSemi => {
                for n in &rnames {
                    exprs.push(q("__r", n).alias(n));
                }
                dynamic = right.dynamic.clone();
            }
            _ => {
                let mut taken: HashSet<String> = lnames.iter().cloned().collect();
                for n in &lnames {
                    exprs.push(q("__l", n).alias(n));
                }
                dynamic.extend(left.dynamic.iter().cloned());
                for n in &rnames {
                    let out = unique_name(n, &taken);
                    taken.insert(out.clone());
                    if right.dynamic.contains(n) {
                        dynamic.insert(out.clone());
                    }
                    exprs.push(q("__r", n).alias(out));
                }
            }
        }
        Ok(Rel {
            plan: project(plan, exprs, span)?,
            dynamic,
        })
    }

    /// `lookup`: a join that adds the right side's columns (its keys only once);
    /// `leftouter` unless `kind=inner`.
    pub(crate) fn lookup(
        &mut self,
        left: Rel,
        props: &[Property],
        right: &Pipeline,
        on: &[ast::Expr],
        span: Span,
    ) -> R<Rel> {
        let kind = kind_of(props, Kind::LeftOuter, span)?;
        let join_type = match kind {
            Kind::LeftOuter => JoinType::Left,
            Kind::Inner | Kind::InnerUnique => JoinType::Inner,
            _ => {
                return Err(KqlError::new(
                    ErrorKind::Syntax,
                    span,
                    "lookup kinds are leftouter and inner",
                ));
            }
        };
        let right = self.pipeline(right, None)?;
        let keys = self.join_keys(on, &left, &right, span)?;
        let (plan, lnames, rnames) = join_plans(&left, &right, join_type, &keys, span)?;
        let q = |side: &str, n: &str| Expr::Column(Column::new(Some(side), n));
        let mut exprs = Vec::new();
        let mut taken: HashSet<String> = lnames.iter().cloned().collect();
        let mut dynamic = left.dynamic.clone();
        for n in &lnames {
            exprs.push(q("__l", n).alias(n));
        }
        for n in &rnames {
            if keys.iter().any(|(_, r)| r == n) {
                continue;
            }
            let out = unique_name(n, &taken);
            taken.insert(out.clone());
            if right.dynamic.contains(n) {
                dynamic.insert(out.clone());
            }
            exprs.push(q("__r", n).alias(out));
        }
        Ok(Rel {
            plan: project(plan, exprs, span)?,
            dynamic,
        })
    }
}

/// The two sides aliased `__l` and `__r` and joined on the key pairs.
fn join_plans(
    left: &Rel,
    right: &Rel,
    join_type: JoinType,
    keys: &[(String, String)],
    span: Span,
) -> R<(
    datafusion::logical_expr::LogicalPlan,
    Vec<String>,
    Vec<String>,
)> {
    let lnames = left.names();
    let rnames = right.names();
    let l = LogicalPlanBuilder::from(left.plan.clone())
        .alias("__l")
        .map_err(|e| df_error(span, e))?;
    let r = LogicalPlanBuilder::from(right.plan.clone())
        .alias("__r")
        .and_then(|b| b.build())
        .map_err(|e| df_error(span, e))?;
    let lk: Vec<Column> = keys
        .iter()
        .map(|(k, _)| Column::new(Some("__l"), k))
        .collect();
    let rk: Vec<Column> = keys
        .iter()
        .map(|(_, k)| Column::new(Some("__r"), k))
        .collect();
    let plan = l
        .join(r, join_type, (lk, rk), None)
        .and_then(|b| b.build())
        .map_err(|e| df_error(span, e))?;
    Ok((plan, lnames, rnames))
}

/// One row per key value of the left side (`innerunique`).
fn dedupe(rel: Rel, keys: &[(String, String)], span: Span) -> R<Rel> {
    let on: Vec<Expr> = keys
        .iter()
        .map(|(k, _)| rel.column(k).expect("checked"))
        .collect();
    let select: Vec<Expr> = rel
        .names()
        .iter()
        .map(|n| rel.column(n).expect("listed").alias(n))
        .collect();
    let plan = LogicalPlanBuilder::from(rel.plan)
        .distinct_on(on, select, None)
        .and_then(|b| b.build())
        .map_err(|e| df_error(span, e))?;
    Ok(Rel {
        plan,
        dynamic: rel.dynamic,
    })
}

/// `name`, or `name1`, `name2`, … when taken.
fn unique_name(name: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(name) {
        return name.to_string();
    }
    (1..)
        .map(|i| format!("{name}{i}"))
        .find(|n| !taken.contains(n))
        .expect("some suffix is free")
}
