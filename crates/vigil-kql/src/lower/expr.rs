//! Scalar expressions, with KQL's rules: `==` is case-sensitive and `=~` is not; string
//! predicates treat a null string as empty; a predicate with a null operand is false
//! and its negation true; datetimes and timespans are nanoseconds underneath.

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use std::ops::Not;

use datafusion::logical_expr::{Expr, Like, Operator, binary_expr, cast, lit, try_cast};
use serde_json::Value;

use super::{Binding, Lowerer, R, Rel, expr_type};
use crate::ast::{self, BinaryOp, ExprKind, InOp, StringOp, UnaryOp};
use crate::error::{ErrorKind, KqlError, Span};
use crate::suggest::closest;
use crate::udf;

pub(crate) fn ts_lit(ns: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(ns),
        Some("UTC".into()),
    ))
}

pub(crate) fn dur_lit(ns: i64) -> Expr {
    lit(ScalarValue::DurationNanosecond(Some(ns)))
}

pub(crate) fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

pub(crate) fn duration() -> DataType {
    DataType::Duration(TimeUnit::Nanosecond)
}

pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric()
}

/// Functions whose result is a dynamic value.
const DYNAMIC_FUNCTIONS: &[&str] = &[
    "parse_json",
    "todynamic",
    "parsejson",
    "pack",
    "bag_pack",
    "pack_array",
    "pack_all",
    "make_set",
    "makeset",
    "make_set_if",
    "make_list",
    "makelist",
    "make_list_if",
    "make_bag",
    "make_bag_if",
    "split",
    "extract_all",
    "extractall",
    "parse_url",
    "parse_urlquery",
    "bag_keys",
    "bag_merge",
    "set_union",
    "set_intersect",
    "set_difference",
    "array_concat",
    "array_slice",
    "array_sort_asc",
    "array_sort_desc",
    "array_reverse",
    "dynamic",
    "todynamic",
    "parse_xml",
    "parse_path",
    "parse_command_line",
    "base64_decode_toarray",
    "range",
    "repeat",
    "zip",
    "bag_remove_keys",
    "series_stats_dynamic",
    "series_stats",
    "series_fit_line",
    "series_fit_line_dynamic",
    "series_decompose",
    "series_decompose_anomalies",
    "series_outliers",
    "series_add",
    "series_subtract",
    "series_multiply",
    "series_divide",
    "series_greater",
    "series_less",
    "series_equals",
];

impl Lowerer<'_> {
    /// Lowers a scalar expression evaluated over the rows of `rel`.
    pub(crate) fn scalar(&mut self, e: &ast::Expr, rel: &Rel) -> R<Expr> {
        let span = e.span;
        Ok(match &e.kind {
            ExprKind::Null => lit(ScalarValue::Null),
            ExprKind::Bool(b) => lit(*b),
            ExprKind::Int(v) => lit(*v),
            ExprKind::Real(v) => lit(*v),
            ExprKind::Str(s) => lit(s.as_str()),
            ExprKind::Timespan(ticks) => dur_lit(ticks.saturating_mul(100)),
            ExprKind::Typed { ty, text } => typed_literal(ty, text, span)?,
            ExprKind::Dynamic(_) | ExprKind::List(_) | ExprKind::Bag(_) => {
                self.dynamic_literal(e)?
            }
            ExprKind::Name(name) => self.name(name, span, rel)?,
            ExprKind::Star => {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    "`*` is not a value here",
                ));
            }
            ExprKind::Unary { op, operand } => match op {
                UnaryOp::Neg => {
                    let inner = self.scalar(operand, rel)?;
                    match inner {
                        Expr::Literal(v, _) if !v.is_null() => lit(v
                            .arithmetic_negate()
                            .map_err(|e| super::df_error(span, e))?),
                        other => Expr::Negative(Box::new(other)),
                    }
                }
                UnaryOp::Not => truthy(self.scalar(operand, rel)?).not(),
            },
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, rel, span)?,
            ExprKind::In {
                op,
                expr,
                list,
                subquery,
            } => self.in_list(*op, expr, list, subquery.as_deref(), rel, span)?,
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = self.scalar(expr, rel)?;
                let (lo, hi) = (self.scalar(low, rel)?, self.scalar(high, rel)?);
                let (x1, lo) = self.align(x.clone(), lo, rel);
                let (x2, hi) = self.align(x, hi, rel);
                let inside = x1.gt_eq(lo).and(x2.lt_eq(hi));
                if *negated {
                    truthy(inside).not()
                } else {
                    inside
                }
            }
            ExprKind::Call { name, args } => self.call(name, args, rel, span)?,
            ExprKind::Member { target, name } => {
                if let ExprKind::Name(n) = &target.kind
                    && (n == "$left" || n == "$right")
                {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        format!("`{n}.{name}` is only meaningful in a join's `on` clause"),
                    ));
                }
                let t = self.dynamic_text(target, rel)?;
                udf::call("kql_dyn_get", vec![t, lit(name.as_str())])
            }
            ExprKind::Index { target, index } => {
                let t = self.dynamic_text(target, rel)?;
                let i = self.scalar(index, rel)?;
                let i = match expr_type(&i, rel) {
                    t if t.is_integer() => cast(i, DataType::Int64),
                    _ => i,
                };
                udf::call("kql_dyn_get", vec![t, i])
            }
            ExprKind::Tabular(p) => {
                let sub = self.pipeline(p, None)?;
                datafusion::logical_expr::expr_fn::scalar_subquery(std::sync::Arc::new(sub.plan))
            }
            ExprKind::Lambda { .. } => {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    "a lambda is not a value here",
                ));
            }
            ExprKind::NamedArg { name, .. } => {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    format!("`{name} = …` is only allowed as a function argument"),
                ));
            }
        })
    }

    /// An expression as dynamic text (lists and other types converted).
    pub(crate) fn dynamic_text(&mut self, e: &ast::Expr, rel: &Rel) -> R<Expr> {
        let x = self.scalar(e, rel)?;
        Ok(match expr_type(&x, rel) {
            t if is_string(&t) => x,
            DataType::Null => cast(x, DataType::Utf8),
            _ => udf::call("kql_pack_array", vec![x]),
        })
    }

    /// A value for a function that builds dynamic values: plain strings JSON-quoted so
    /// that they stay strings.
    pub(crate) fn json_value(&mut self, e: &ast::Expr, rel: &Rel) -> R<Expr> {
        let x = self.scalar(e, rel)?;
        if is_string(&expr_type(&x, rel)) && !self.is_dynamic(e, rel) {
            return Ok(udf::call("kql_json_quote", vec![x]));
        }
        Ok(x)
    }

    fn name(&mut self, name: &str, span: Span, rel: &Rel) -> R<Expr> {
        if let Some(c) = rel.column(name) {
            return Ok(c);
        }
        // KQL reads `True` and `FALSE` as the booleans too.
        if name.eq_ignore_ascii_case("true") || name.eq_ignore_ascii_case("false") {
            return Ok(lit(name.eq_ignore_ascii_case("true")));
        }
        match self.binding(name) {
            Some(Binding::Scalar { expr, .. }) => return Ok(expr.clone()),
            Some(Binding::Tabular(_)) => {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    format!("`{name}` is a table; use it as a source, or `toscalar({name})`"),
                ));
            }
            Some(Binding::Function { .. }) => {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    format!("`{name}` is a function; call it with `()`"),
                ));
            }
            None => {}
        }
        if self.open_columns {
            return Ok(lit(ScalarValue::Utf8(None)));
        }
        let mut candidates = rel.names();
        candidates.extend(self.bound_names());
        let message = match closest(name, candidates.iter().map(String::as_str)) {
            Some(s) => format!("unknown column `{name}`; did you mean `{s}`?"),
            None => format!("unknown column `{name}`"),
        };
        Err(KqlError::new(ErrorKind::UnknownColumn, span, message))
    }

    /// Whether an expression yields a dynamic value.
    pub(crate) fn is_dynamic(&self, e: &ast::Expr, rel: &Rel) -> bool {
        match &e.kind {
            ExprKind::Name(n) => {
                if rel.column(n).is_some() {
                    return rel.dynamic.contains(n);
                }
                matches!(self.binding(n), Some(Binding::Scalar { dynamic: true, .. }))
            }
            ExprKind::Dynamic(_) | ExprKind::List(_) | ExprKind::Bag(_) => true,
            ExprKind::Member { .. } | ExprKind::Index { .. } => true,
            ExprKind::Call { name, args } => match name.name.as_str() {
                "iff" | "iif" | "coalesce" => args.iter().skip(1).any(|a| self.is_dynamic(a, rel)),
                "case" => args
                    .iter()
                    .skip(1)
                    .step_by(2)
                    .any(|a| self.is_dynamic(a, rel)),
                "column_ifexists" | "columnifexists" => {
                    matches!(&args.first().map(|a| &a.kind), Some(ExprKind::Str(c)) if rel.dynamic.contains(c))
                }
                n => DYNAMIC_FUNCTIONS.contains(&n),
            },
            _ => false,
        }
    }

    // ----- dynamic literals ----------------------------------------------------------

    pub(crate) fn dynamic_literal(&self, e: &ast::Expr) -> R<Expr> {
        let value = json_of(e)?;
        Ok(match udf::dynamic::to_text(&value) {
            Some(t) => lit(t),
            None => lit(ScalarValue::Utf8(None)),
        })
    }

    /// The items of a constant list: `dynamic([…])`, `(a, b)` or a `let` bound to one.
    pub(crate) fn constant_items(&self, e: &ast::Expr) -> Option<Vec<Value>> {
        match &e.kind {
            ExprKind::Dynamic(inner) => match json_of(inner).ok()? {
                Value::Array(items) => Some(items),
                _ => None,
            },
            ExprKind::Name(n) => match self.binding(n) {
                Some(Binding::Scalar { ast: Some(a), .. }) => {
                    let a = a.clone();
                    self.constant_items(&a)
                }
                _ => None,
            },
            _ => None,
        }
    }

    // ----- operators -----------------------------------------------------------------

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        rel: &Rel,
        span: Span,
    ) -> R<Expr> {
        if let BinaryOp::Str(sop, negated) = op {
            return self.string_op(sop, negated, left, right, rel, span);
        }
        let l = self.scalar(left, rel)?;
        let r = self.scalar(right, rel)?;
        if matches!(
            op,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
        ) {
            self.check_arithmetic((&l, left), (&r, right), rel, span)?;
        }
        Ok(match op {
            BinaryOp::And => l.and(r),
            BinaryOp::Or => l.or(r),
            BinaryOp::Eq | BinaryOp::NotEq => {
                let negated = op == BinaryOp::NotEq;
                let (l, r) = self.align(l, r, rel);
                let empty_string = |e: &Expr| matches!(e, Expr::Literal(ScalarValue::Utf8(Some(s)), _) if s.is_empty());
                let eq = if empty_string(&r) {
                    l.clone().is_null().or(l.eq(r))
                } else if empty_string(&l) {
                    r.clone().is_null().or(r.eq(l))
                } else {
                    l.eq(r)
                };
                if negated {
                    truthy(eq).not()
                } else {
                    truthy(eq)
                }
            }
            BinaryOp::EqCi | BinaryOp::NotEqCi => {
                let eq = self.equal_ignore_case(l, r, rel, span)?;
                if op == BinaryOp::NotEqCi {
                    truthy(eq).not()
                } else {
                    eq
                }
            }
            BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => {
                let (l, r) = self.align(l, r, rel);
                let o = match op {
                    BinaryOp::Lt => Operator::Lt,
                    BinaryOp::LtEq => Operator::LtEq,
                    BinaryOp::Gt => Operator::Gt,
                    _ => Operator::GtEq,
                };
                binary_expr(l, o, r)
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                self.arithmetic(op, l, r, rel)
            }
            BinaryOp::Str(..) => unreachable!("handled above"),
        })
    }

    /// Arithmetic does not convert strings: a number and a plain string (not a dynamic
    /// value, which is text underneath) is a type error.
    fn check_arithmetic(
        &self,
        (l, left): (&Expr, &ast::Expr),
        (r, right): (&Expr, &ast::Expr),
        rel: &Rel,
        span: Span,
    ) -> R<()> {
        let (lt, rt) = (expr_type(l, rel), expr_type(r, rel));
        let plain_string = |t: &DataType, e: &ast::Expr| is_string(t) && !self.is_dynamic(e, rel);
        if plain_string(&lt, left) || plain_string(&rt, right) {
            let name = |t: &DataType| crate::format::kql_type_name(t, false);
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                format!(
                    "arithmetic on a {} and a {}; convert the string first (tolong(), toreal(), …)",
                    name(&lt),
                    name(&rt)
                ),
            ));
        }
        Ok(())
    }

    fn equal_ignore_case(&mut self, l: Expr, r: Expr, rel: &Rel, span: Span) -> R<Expr> {
        let l = self.as_text(l, rel);
        if let Expr::Literal(ScalarValue::Utf8(Some(s)), _) = &r {
            if s.is_empty() {
                return Ok(l.clone().is_null().or(l.eq(lit(""))));
            }
            return Ok(like(l, &escape_like(s), false, true));
        }
        let r = self.as_text(r, rel);
        let lower = |e: Expr| self.df_call("lower", vec![e], span);
        Ok(lower(l)?.eq(lower(r)?))
    }

    /// Casts a non-string expression to text (for string operators on numbers).
    pub(crate) fn as_text(&self, e: Expr, rel: &Rel) -> Expr {
        match expr_type(&e, rel) {
            t if is_string(&t) => e,
            DataType::Timestamp(..) => udf::call("kql_format_time", vec![e]),
            DataType::Duration(_) => udf::call("kql_format_timespan", vec![e]),
            DataType::List(_) | DataType::LargeList(_) => {
                udf::call("kql_list_json", vec![e, lit(false)])
            }
            _ => cast(e, DataType::Utf8),
        }
    }

    fn string_op(
        &mut self,
        op: StringOp,
        negated: bool,
        left: &ast::Expr,
        right: &ast::Expr,
        rel: &Rel,
        span: Span,
    ) -> R<Expr> {
        let hay = self.scalar(left, rel)?;
        let hay = self.as_text(hay, rel);
        let needle = self.scalar(right, rel)?;
        let needle = self.as_text(needle, rel);
        let constant = match &needle {
            Expr::Literal(ScalarValue::Utf8(Some(s)), _) => Some(s.clone()),
            _ => None,
        };
        let lower = |this: &Self, e: Expr| this.df_call("lower", vec![e], span);
        let positive = match (op, &constant) {
            (StringOp::Has, _) => udf::call("kql_has", vec![hay, needle]),
            (StringOp::HasCs, _) => udf::call("kql_has_cs", vec![hay, needle]),
            (StringOp::HasPrefix, _) => udf::call("kql_hasprefix", vec![hay, needle]),
            (StringOp::HasPrefixCs, _) => udf::call("kql_hasprefix_cs", vec![hay, needle]),
            (StringOp::HasSuffix, _) => udf::call("kql_hassuffix", vec![hay, needle]),
            (StringOp::HasSuffixCs, _) => udf::call("kql_hassuffix_cs", vec![hay, needle]),
            (StringOp::Contains, Some(_)) => udf::call("kql_contains", vec![hay, needle]),
            (StringOp::ContainsCs, Some(s)) => {
                like(hay, &format!("%{}%", escape_like(s)), false, false)
            }
            (StringOp::StartsWith, Some(s)) => {
                like(hay, &format!("{}%", escape_like(s)), false, true)
            }
            (StringOp::EndsWith, Some(s)) => {
                like(hay, &format!("%{}", escape_like(s)), false, true)
            }
            (StringOp::Contains, None) => self
                .df_call(
                    "strpos",
                    vec![lower(self, hay)?, lower(self, needle)?],
                    span,
                )?
                .gt(lit(0)),
            (StringOp::ContainsCs, None) => {
                self.df_call("strpos", vec![hay, needle], span)?.gt(lit(0))
            }
            (StringOp::StartsWith, None) => self.df_call(
                "starts_with",
                vec![lower(self, hay)?, lower(self, needle)?],
                span,
            )?,
            (StringOp::EndsWith, None) => self.df_call(
                "ends_with",
                vec![lower(self, hay)?, lower(self, needle)?],
                span,
            )?,
            (StringOp::StartsWithCs, _) => self.df_call("starts_with", vec![hay, needle], span)?,
            (StringOp::EndsWithCs, _) => self.df_call("ends_with", vec![hay, needle], span)?,
            (StringOp::MatchesRegex, _) => udf::call("kql_regex_match", vec![hay, needle]),
            (StringOp::Like, Some(s)) => like(hay, s, false, false),
            (StringOp::Like, None) => Expr::Like(Like::new(
                false,
                Box::new(hay),
                Box::new(needle),
                None,
                false,
            )),
        };
        Ok(if negated {
            truthy(positive).not()
        } else {
            positive
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn in_list(
        &mut self,
        op: InOp,
        expr: &ast::Expr,
        list: &[ast::Expr],
        subquery: Option<&ast::Pipeline>,
        rel: &Rel,
        span: Span,
    ) -> R<Expr> {
        let x = self.scalar(expr, rel)?;
        let negated = matches!(op, InOp::NotIn | InOp::NotInCi);
        let ignore_case = matches!(op, InOp::InCi | InOp::NotInCi);
        if let Some(p) = subquery {
            let sub = self.pipeline(p, None)?;
            let sub = self.first_column(sub, span)?;
            let plan = std::sync::Arc::new(sub);
            let e = datafusion::logical_expr::expr_fn::in_subquery(x, plan);
            return Ok(if negated { truthy(e).not() } else { e });
        }
        // Flatten constant lists (`dynamic([…])` and lets bound to one) into values.
        let mut values: Vec<Expr> = Vec::new();
        let mut arrays: Vec<Expr> = Vec::new();
        for item in list {
            if let Some(items) = self.constant_items(item) {
                values.extend(items.iter().filter_map(json_literal));
                continue;
            }
            if matches!(item.kind, ExprKind::Tabular(_))
                || (matches!(&item.kind, ExprKind::Name(n) if rel.column(n).is_none() && self.is_tabular_expr(item)))
            {
                let sub = self.tabular_expr(item)?;
                let sub = self.first_column(sub, span)?;
                let e = datafusion::logical_expr::expr_fn::in_subquery(
                    x.clone(),
                    std::sync::Arc::new(sub),
                );
                arrays.push(e);
                continue;
            }
            let v = self.scalar(item, rel)?;
            if self.is_dynamic(item, rel) && !matches!(v, Expr::Literal(..)) {
                arrays.push(v);
            } else {
                values.push(v);
            }
        }
        let positive = match op {
            InOp::HasAny | InOp::HasAll => {
                let hay = self.as_text(x.clone(), rel);
                let mut terms: Vec<Expr> = values
                    .into_iter()
                    .map(|v| udf::call("kql_has", vec![hay.clone(), self.as_text(v, rel)]))
                    .collect();
                for a in arrays {
                    terms.push(udf::call("kql_has_any_json", vec![hay.clone(), a]));
                }
                let all = op == InOp::HasAll;
                terms
                    .into_iter()
                    .reduce(|a, b| if all { a.and(b) } else { a.or(b) })
                    .unwrap_or(lit(false))
            }
            _ => {
                let mut parts = Vec::new();
                if !values.is_empty() {
                    if ignore_case {
                        let lx = self.df_call("lower", vec![self.as_text(x.clone(), rel)], span)?;
                        let lv = values
                            .into_iter()
                            .map(|v| self.df_call("lower", vec![self.as_text(v, rel)], span))
                            .collect::<R<Vec<_>>>()?;
                        parts.push(lx.in_list(lv, false));
                    } else {
                        let target = expr_type(&x, rel);
                        let vs = values
                            .into_iter()
                            .map(|v| self.align(x.clone(), v, rel).1)
                            .collect();
                        let _ = target;
                        parts.push(x.clone().in_list(vs, false));
                    }
                }
                for a in arrays {
                    if matches!(a, Expr::InSubquery(_)) {
                        parts.push(a);
                    } else {
                        let needle = self.as_text(x.clone(), rel);
                        let needle = udf::call("kql_json_quote", vec![needle]);
                        parts.push(udf::call("kql_set_has", vec![a, needle]));
                    }
                }
                parts.into_iter().reduce(Expr::or).unwrap_or(lit(false))
            }
        };
        Ok(if negated {
            truthy(positive).not()
        } else {
            positive
        })
    }

    /// The first column of a subquery's rows (what `in (T | …)` compares with).
    fn first_column(&self, rel: Rel, span: Span) -> R<datafusion::logical_expr::LogicalPlan> {
        let first = rel
            .plan
            .schema()
            .columns()
            .into_iter()
            .next()
            .ok_or_else(|| KqlError::new(ErrorKind::Type, span, "the subquery has no columns"))?;
        super::project(rel.plan, vec![Expr::Column(first).alias("__in")], span)
    }

    /// Brings two operands of a comparison to comparable types the way KQL does: a
    /// dynamic string is read as a number, datetime or timespan when compared with one.
    pub(crate) fn align(&self, l: Expr, r: Expr, rel: &Rel) -> (Expr, Expr) {
        let (lt, rt) = (expr_type(&l, rel), expr_type(&r, rel));
        let fix = |s: Expr, other: &DataType| -> Expr {
            match other {
                DataType::Timestamp(..) => udf::call("kql_todatetime", vec![s]),
                DataType::Duration(_) => udf::call("kql_totimespan", vec![s]),
                t if is_number(t) => try_cast(s, DataType::Float64),
                DataType::Boolean => try_cast(s, DataType::Boolean),
                _ => s,
            }
        };
        match (is_string(&lt), is_string(&rt)) {
            (true, false) if rt != DataType::Null => (fix(l, &rt), r),
            (false, true) if lt != DataType::Null => (l, fix(r, &lt)),
            _ => (l, r),
        }
    }

    /// `+ - * / %` with KQL's datetime and timespan arithmetic, computed in nanoseconds.
    fn arithmetic(&self, op: BinaryOp, l: Expr, r: Expr, rel: &Rel) -> Expr {
        use DataType as T;
        let (lt, rt) = (expr_type(&l, rel), expr_type(&r, rel));
        if let Some(folded) = fold_temporal(op, &l, &r) {
            return folded;
        }
        let ns = |e: Expr| cast(e, T::Int64);
        let o = match op {
            BinaryOp::Add => Operator::Plus,
            BinaryOp::Sub => Operator::Minus,
            BinaryOp::Mul => Operator::Multiply,
            BinaryOp::Div => Operator::Divide,
            _ => Operator::Modulo,
        };
        match (&lt, &rt) {
            (T::Timestamp(..), T::Duration(_)) => cast(binary_expr(ns(l), o, ns(r)), utc()),
            (T::Duration(_), T::Timestamp(..)) if op == BinaryOp::Add => cast(ns(l) + ns(r), utc()),
            (T::Timestamp(..), T::Timestamp(..)) if op == BinaryOp::Sub => {
                cast(ns(l) - ns(r), duration())
            }
            (T::Duration(_), T::Duration(_)) if op == BinaryOp::Div => {
                cast(ns(l), T::Float64) / cast(ns(r), T::Float64)
            }
            (T::Duration(_), T::Duration(_)) => cast(binary_expr(ns(l), o, ns(r)), duration()),
            (T::Duration(_), t) if is_number(t) => {
                let product = binary_expr(cast(ns(l), T::Float64), o, cast(r, T::Float64));
                cast(cast(product, T::Int64), duration())
            }
            (t, T::Duration(_)) if is_number(t) && op == BinaryOp::Mul => cast(
                cast(cast(l, T::Float64) * cast(ns(r), T::Float64), T::Int64),
                duration(),
            ),
            (a, b) if is_string(a) && is_number(b) => binary_expr(try_cast(l, T::Float64), o, r),
            (a, b) if is_number(a) && is_string(b) => binary_expr(l, o, try_cast(r, T::Float64)),
            (a, b) if is_string(a) && is_string(b) => {
                binary_expr(try_cast(l, T::Float64), o, try_cast(r, T::Float64))
            }
            _ => binary_expr(l, o, r),
        }
    }
}

/// Folds `now() - 1d` and the like into one constant, so that time filters stay
/// comparisons with literals (which prune the lake's files).
fn fold_temporal(op: BinaryOp, l: &Expr, r: &Expr) -> Option<Expr> {
    use ScalarValue as S;
    let (Expr::Literal(a, _), Expr::Literal(b, _)) = (l, r) else {
        return None;
    };
    Some(match (a, b, op) {
        (S::TimestampNanosecond(Some(t), _), S::DurationNanosecond(Some(d)), BinaryOp::Add) => {
            ts_lit(t.checked_add(*d)?)
        }
        (S::TimestampNanosecond(Some(t), _), S::DurationNanosecond(Some(d)), BinaryOp::Sub) => {
            ts_lit(t.checked_sub(*d)?)
        }
        (S::DurationNanosecond(Some(d)), S::TimestampNanosecond(Some(t), _), BinaryOp::Add) => {
            ts_lit(t.checked_add(*d)?)
        }
        (S::TimestampNanosecond(Some(a), _), S::TimestampNanosecond(Some(b), _), BinaryOp::Sub) => {
            dur_lit(a.checked_sub(*b)?)
        }
        (S::DurationNanosecond(Some(a)), S::DurationNanosecond(Some(b)), BinaryOp::Add) => {
            dur_lit(a.checked_add(*b)?)
        }
        (S::DurationNanosecond(Some(a)), S::DurationNanosecond(Some(b)), BinaryOp::Sub) => {
            dur_lit(a.checked_sub(*b)?)
        }
        (S::DurationNanosecond(Some(d)), S::Int64(Some(n)), BinaryOp::Mul) => {
            dur_lit(d.checked_mul(*n)?)
        }
        (S::Int64(Some(n)), S::DurationNanosecond(Some(d)), BinaryOp::Mul) => {
            dur_lit(d.checked_mul(*n)?)
        }
        (S::DurationNanosecond(Some(d)), S::Int64(Some(n)), BinaryOp::Div) if *n != 0 => {
            dur_lit(d / n)
        }
        _ => return None,
    })
}

/// A predicate with null read as false.
pub(crate) fn truthy(e: Expr) -> Expr {
    datafusion::functions::core::expr_fn::coalesce(vec![e, lit(false)])
}

pub(crate) fn like(e: Expr, pattern: &str, negated: bool, case_insensitive: bool) -> Expr {
    Expr::Like(Like::new(
        negated,
        Box::new(e),
        Box::new(lit(pattern)),
        Some('\\'),
        case_insensitive,
    ))
}

pub(crate) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A JSON scalar as a literal (for flattened `in` lists).
fn json_literal(v: &Value) -> Option<Expr> {
    Some(match v {
        Value::String(s) => lit(s.as_str()),
        Value::Bool(b) => lit(*b),
        Value::Number(n) if n.is_i64() => lit(n.as_i64()?),
        Value::Number(n) => lit(n.as_f64()?),
        _ => return None,
    })
}

/// The JSON value of a constant expression inside `dynamic(…)`.
pub(crate) fn json_of(e: &ast::Expr) -> R<Value> {
    Ok(match &e.kind {
        ExprKind::Null => Value::Null,
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Int(v) => Value::from(*v),
        ExprKind::Real(v) => serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
        ExprKind::Str(s) => Value::String(s.clone()),
        ExprKind::Timespan(t) => Value::String(udf::time::format_duration(t.saturating_mul(100))),
        ExprKind::Typed { ty, text } if ty == "datetime" => match udf::time::parse_datetime(text) {
            Some(ns) => Value::String(udf::time::format_time(ns)),
            None => Value::Null,
        },
        ExprKind::Typed { text, .. } => match text.trim() {
            "null" => Value::Null,
            t => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
        },
        ExprKind::Dynamic(inner) => json_of(inner)?,
        // `["x"]` reads as a bracketed name to the lexer; inside `dynamic` it is an array.
        ExprKind::Name(n) => Value::Array(vec![Value::String(n.clone())]),
        ExprKind::List(items) => Value::Array(items.iter().map(json_of).collect::<R<_>>()?),
        ExprKind::Bag(pairs) => {
            let mut map = serde_json::Map::new();
            for (k, v) in pairs {
                map.insert(k.clone(), json_of(v)?);
            }
            Value::Object(map)
        }
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => match json_of(operand)? {
            Value::Number(n) if n.is_i64() => Value::from(-n.as_i64().unwrap_or(0)),
            Value::Number(n) => serde_json::Number::from_f64(-n.as_f64().unwrap_or(0.0))
                .map_or(Value::Null, Value::Number),
            _ => {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    e.span,
                    "only numbers can be negated",
                ));
            }
        },
        _ => {
            return Err(KqlError::new(
                ErrorKind::Type,
                e.span,
                "dynamic() takes a constant: a value, an array `[…]` or a bag `{…}`",
            ));
        }
    })
}

/// `datetime(…)`, `timespan(…)`, `int(null)` and the other typed literals.
fn typed_literal(ty: &str, text: &str, span: Span) -> R<Expr> {
    let t = text.trim();
    let null = t.eq_ignore_ascii_case("null") || t.is_empty() && ty != "string";
    let bad = || KqlError::new(ErrorKind::Type, span, format!("`{t}` is not a valid {ty}"));
    Ok(match ty {
        "datetime" | "date" => {
            if null {
                lit(ScalarValue::TimestampNanosecond(None, Some("UTC".into())))
            } else {
                ts_lit(udf::time::parse_datetime(t).ok_or_else(bad)?)
            }
        }
        "timespan" | "time" => {
            if null {
                lit(ScalarValue::DurationNanosecond(None))
            } else {
                dur_lit(udf::time::parse_timespan(t).ok_or_else(bad)?)
            }
        }
        "guid" | "uniqueid" => lit(if null {
            ScalarValue::Utf8(None)
        } else {
            ScalarValue::Utf8(Some(t.to_string()))
        }),
        "int" => lit(ScalarValue::Int32(if null {
            None
        } else {
            Some(t.parse().map_err(|_| bad())?)
        })),
        "long" => lit(ScalarValue::Int64(if null {
            None
        } else {
            Some(t.parse().map_err(|_| bad())?)
        })),
        "real" | "double" | "decimal" => lit(ScalarValue::Float64(if null {
            None
        } else {
            Some(match t.to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "inf" | "+inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                other => other.parse().map_err(|_| bad())?,
            })
        })),
        "bool" | "boolean" => lit(ScalarValue::Boolean(if null {
            None
        } else {
            Some(match t.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(bad()),
            })
        })),
        "string" => lit(if t == "null" {
            ScalarValue::Utf8(None)
        } else {
            ScalarValue::Utf8(Some(text.to_string()))
        }),
        _ => {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                format!("unknown type `{ty}`"),
            ));
        }
    })
}
