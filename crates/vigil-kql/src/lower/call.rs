//! KQL's scalar functions, each lowered to a DataFusion built-in or one of Vigil's own
//! (`crate::udf`). Old spellings still common in the field (`makeset`, `parsejson`,
//! `columnifexists`, …) are accepted as the functions they became.

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use std::ops::Not;

use datafusion::logical_expr::{Expr, Operator, binary_expr, cast, lit, try_cast, when};

use super::expr::{is_string, truthy, ts_lit, utc};
use super::{FunctionResult, Lowerer, R, Rel, expr_type};
use crate::ast::{self, ExprKind};
use crate::error::{ErrorKind, KqlError, Span};
use crate::suggest::closest;
use crate::udf;

use super::names::{NOT_YET, TEXT_FUNCTIONS};
pub(crate) use super::names::{SCALAR_FUNCTIONS, WINDOW_FUNCTIONS};

impl Lowerer<'_> {
    pub(crate) fn call(
        &mut self,
        name: &ast::Ident,
        args: &[ast::Expr],
        rel: &Rel,
        span: Span,
    ) -> R<Expr> {
        let fname = name.name.as_str();
        if let Some(result) = self.call_function(fname, args, None, Some(rel), span)? {
            return match result {
                FunctionResult::Scalar(e) => Ok(e),
                FunctionResult::Tabular(_) => Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    format!(
                        "`{fname}` returns a table; use it as a source or wrap it in toscalar()"
                    ),
                )),
            };
        }
        if super::aggregate::is_aggregate(fname) {
            if !self.aggregating {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    name.span,
                    format!(
                        "`{fname}` is an aggregation; use it in `summarize` (or `make-series`)"
                    ),
                ));
            }
            return self.aggregate(fname, args, rel, span);
        }
        if let Some(e) = self.window_call(fname, args, rel, span)? {
            return Ok(e);
        }
        self.builtin(fname, args, rel, span)
    }

    fn arg(&mut self, args: &[ast::Expr], i: usize, rel: &Rel) -> R<Expr> {
        self.scalar(&args[i], rel)
    }

    fn text_arg(&mut self, args: &[ast::Expr], i: usize, rel: &Rel) -> R<Expr> {
        let e = self.scalar(&args[i], rel)?;
        Ok(self.as_text(e, rel))
    }

    fn all_args(&mut self, args: &[ast::Expr], rel: &Rel) -> R<Vec<Expr>> {
        args.iter().map(|a| self.scalar(a, rel)).collect()
    }

    fn builtin(&mut self, name: &str, args: &[ast::Expr], rel: &Rel, span: Span) -> R<Expr> {
        let n = args.len();
        let arity = |min: usize, max: usize| -> R<()> {
            if n < min || n > max {
                let expected = if min == max {
                    format!("{min}")
                } else {
                    format!("{min} to {max}")
                };
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    format!("`{name}` takes {expected} arguments, not {n}"),
                ));
            }
            Ok(())
        };
        let df = |this: &Self, f: &str, a: Vec<Expr>| this.df_call(f, a, span);
        if let Some((_, udf_name)) = TEXT_FUNCTIONS.iter().find(|(k, _)| *k == name) {
            arity(1, 1)?;
            return Ok(udf::call(udf_name, vec![self.text_arg(args, 0, rel)?]));
        }
        Ok(match name {
            // ----- time -----
            "ago" => {
                arity(1, 1)?;
                match self.arg(args, 0, rel)? {
                    Expr::Literal(ScalarValue::DurationNanosecond(Some(d)), _) => {
                        ts_lit(self.now - d)
                    }
                    other => cast(lit(self.now) - cast(other, DataType::Int64), utc()),
                }
            }
            "now" => {
                arity(0, 1)?;
                match args.first().map(|a| self.scalar(a, rel)).transpose()? {
                    None => ts_lit(self.now),
                    Some(Expr::Literal(ScalarValue::DurationNanosecond(Some(d)), _)) => {
                        ts_lit(self.now + d)
                    }
                    Some(other) => cast(lit(self.now) + cast(other, DataType::Int64), utc()),
                }
            }
            "todatetime" => {
                arity(1, 1)?;
                let x = self.arg(args, 0, rel)?;
                match expr_type(&x, rel) {
                    DataType::Timestamp(..) => cast(x, utc()),
                    _ => udf::call("kql_todatetime", vec![x]),
                }
            }
            "totimespan" | "time" => {
                arity(1, 1)?;
                udf::call("kql_totimespan", vec![self.arg(args, 0, rel)?])
            }
            "bin" | "floor" if n == 2 => self.bin(args, rel, span)?,
            "bin_at" => {
                arity(3, 3)?;
                let (x, step, at) = (
                    self.arg(args, 0, rel)?,
                    self.arg(args, 1, rel)?,
                    self.arg(args, 2, rel)?,
                );
                let ns = |e: Expr| cast(e, DataType::Int64);
                let ty = expr_type(&x, rel);
                let shifted = cast(ns(x) - ns(at.clone()), DataType::Float64);
                let step_f = cast(ns(step), DataType::Float64);
                let floored = df(self, "floor", vec![shifted / step_f.clone()])? * step_f;
                let back = cast(floored, DataType::Int64) + ns(at);
                cast(back, ty)
            }
            "startofday" | "startofweek" | "startofmonth" | "startofyear" | "endofday"
            | "endofweek" | "endofmonth" | "endofyear" => {
                arity(1, 2)?;
                let (end, unit) = name.split_at(if name.starts_with("start") { 7 } else { 5 });
                let mut a = vec![self.arg(args, 0, rel)?, lit(unit)];
                if n == 2 {
                    a.push(cast(self.arg(args, 1, rel)?, DataType::Int64));
                }
                let f = if end == "startof" {
                    "kql_startof"
                } else {
                    "kql_endof"
                };
                udf::call(f, a)
            }
            "dayofweek" => {
                arity(1, 1)?;
                udf::call("kql_dayofweek", vec![self.arg(args, 0, rel)?])
            }
            "dayofmonth" | "dayofyear" | "hourofday" | "getyear" | "getmonth" | "monthofyear"
            | "weekofyear" | "week_of_year" => {
                arity(1, 1)?;
                let part = match name {
                    "dayofmonth" => "day",
                    "dayofyear" => "dayofyear",
                    "hourofday" => "hour",
                    "getyear" => "year",
                    "getmonth" | "monthofyear" => "month",
                    _ => "week_of_year",
                };
                let x = udf::call(
                    "kql_datetime_part",
                    vec![lit(part), self.arg(args, 0, rel)?],
                );
                if name == "getyear"
                    || name == "getmonth"
                    || name == "dayofmonth"
                    || name == "hourofday"
                {
                    cast(x, DataType::Int32)
                } else {
                    x
                }
            }
            "datetime_part" | "datepart" => {
                arity(2, 2)?;
                let a = self.all_args(args, rel)?;
                cast(udf::call("kql_datetime_part", a), DataType::Int32)
            }
            "datetime_diff" => {
                arity(3, 3)?;
                udf::call("kql_datetime_diff", self.all_args(args, rel)?)
            }
            "datetime_add" => {
                arity(3, 3)?;
                let a = self.all_args(args, rel)?;
                udf::call("kql_datetime_add", a)
            }
            "format_timespan" => {
                arity(2, 2)?;
                let ts = udf::call("kql_totimespan", vec![self.arg(args, 0, rel)?]);
                udf::call(
                    "kql_format_timespan_with",
                    vec![ts, self.text_arg(args, 1, rel)?],
                )
            }
            "format_datetime" => {
                arity(2, 2)?;
                udf::call("kql_format_datetime", self.all_args(args, rel)?)
            }
            "make_datetime" => {
                arity(3, 6)?;
                udf::call("kql_make_datetime", self.all_args(args, rel)?)
            }
            "unixtime_seconds_todatetime"
            | "unixtime_milliseconds_todatetime"
            | "unixtime_microseconds_todatetime"
            | "unixtime_nanoseconds_todatetime" => {
                arity(1, 1)?;
                let scale = match name {
                    "unixtime_seconds_todatetime" => 1e9,
                    "unixtime_milliseconds_todatetime" => 1e6,
                    "unixtime_microseconds_todatetime" => 1e3,
                    _ => 1.0,
                };
                let x = try_cast(self.arg(args, 0, rel)?, DataType::Float64) * lit(scale);
                cast(cast(x, DataType::Int64), utc())
            }
            "ingestion_time" => lit(ScalarValue::TimestampNanosecond(None, Some("UTC".into()))),

            // ----- conversion -----
            "tostring" => {
                arity(1, 1)?;
                self.text_arg(args, 0, rel)?
            }
            "toguid" => {
                arity(1, 1)?;
                self.text_arg(args, 0, rel)?
            }
            "toint" | "tolong" | "toint64" | "toreal" | "todouble" | "todecimal" => {
                arity(1, 1)?;
                let target = match name {
                    "toint" => DataType::Int32,
                    "toreal" | "todouble" | "todecimal" => DataType::Float64,
                    _ => DataType::Int64,
                };
                let x = self.arg(args, 0, rel)?;
                match expr_type(&x, rel) {
                    t if is_string(&t) && target != DataType::Float64 => {
                        // "12.7" is a long 12 in KQL only through a real.
                        try_cast(
                            try_cast(df(self, "btrim", vec![x])?, DataType::Float64),
                            target,
                        )
                    }
                    t if is_string(&t) => try_cast(df(self, "btrim", vec![x])?, target),
                    DataType::Timestamp(..) | DataType::Duration(_) => {
                        let ticks = cast(x, DataType::Int64) / lit(100_i64);
                        try_cast(ticks, target)
                    }
                    _ => try_cast(x, target),
                }
            }
            "tobool" | "toboolean" => {
                arity(1, 1)?;
                let x = self.arg(args, 0, rel)?;
                match expr_type(&x, rel) {
                    t if is_string(&t) => {
                        let l = df(self, "lower", vec![df(self, "btrim", vec![x])?])?;
                        when(
                            l.clone().eq(lit("true")).or(l.clone().eq(lit("1"))),
                            lit(true),
                        )
                        .when(l.clone().eq(lit("false")).or(l.eq(lit("0"))), lit(false))
                        .otherwise(lit(ScalarValue::Boolean(None)))
                        .map_err(|e| super::df_error(span, e))?
                    }
                    DataType::Boolean => x,
                    _ => try_cast(x, DataType::Float64).not_eq(lit(0.0)),
                }
            }
            "todynamic" | "parse_json" | "parsejson" => {
                arity(1, 1)?;
                if self.is_dynamic(&args[0], rel) {
                    self.arg(args, 0, rel)?
                } else {
                    let x = self.arg(args, 0, rel)?;
                    match expr_type(&x, rel) {
                        t if is_string(&t) => udf::call("kql_parse_json", vec![x]),
                        _ => self.as_text(x, rel),
                    }
                }
            }
            "dynamic" => {
                arity(1, 1)?;
                self.dynamic_literal(&args[0])?
            }
            "gettype" => {
                arity(1, 1)?;
                if self.is_dynamic(&args[0], rel) {
                    let x = self.dynamic_text(&args[0], rel)?;
                    udf::call("kql_dyn_typeof", vec![x])
                } else {
                    let x = self.arg(args, 0, rel)?;
                    lit(crate::format::kql_type_name(&expr_type(&x, rel), false))
                }
            }

            // ----- strings -----
            "tolower" | "toupper" => {
                arity(1, 1)?;
                let f = if name == "tolower" { "lower" } else { "upper" };
                let x = self.text_arg(args, 0, rel)?;
                df(self, f, vec![x])?
            }
            "strlen" => {
                arity(1, 1)?;
                let x = datafusion::functions::core::expr_fn::coalesce(vec![
                    self.text_arg(args, 0, rel)?,
                    lit(""),
                ]);
                cast(df(self, "character_length", vec![x])?, DataType::Int64)
            }
            "string_size" => {
                arity(1, 1)?;
                let x = self.text_arg(args, 0, rel)?;
                cast(df(self, "octet_length", vec![x])?, DataType::Int64)
            }
            "strcat" => {
                if n == 0 {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        "`strcat` takes at least one argument",
                    ));
                }
                let parts = (0..n)
                    .map(|i| self.text_arg(args, i, rel))
                    .collect::<R<Vec<_>>>()?;
                df(self, "concat", parts)?
            }
            "strcat_delim" => {
                if n < 2 {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        "`strcat_delim` takes a delimiter and values",
                    ));
                }
                let parts = (0..n)
                    .map(|i| self.text_arg(args, i, rel))
                    .collect::<R<Vec<_>>>()?;
                df(self, "concat_ws", parts)?
            }
            "substring" => {
                arity(2, 3)?;
                let s = self.text_arg(args, 0, rel)?;
                let start = cast(self.arg(args, 1, rel)?, DataType::Int64) + lit(1_i64);
                let mut a = vec![s, start];
                if n == 3 {
                    a.push(cast(self.arg(args, 2, rel)?, DataType::Int64));
                }
                df(self, "substr", a)?
            }
            "indexof" if n > 2 => {
                arity(3, 5)?;
                let mut a = vec![self.text_arg(args, 0, rel)?, self.text_arg(args, 1, rel)?];
                for i in 2..n {
                    a.push(cast(self.arg(args, i, rel)?, DataType::Int64));
                }
                udf::call("kql_indexof", a)
            }
            "indexof" => {
                arity(2, 2)?;
                let (s, l) = (self.text_arg(args, 0, rel)?, self.text_arg(args, 1, rel)?);
                let pos = cast(
                    df(
                        self,
                        "strpos",
                        vec![
                            datafusion::functions::core::expr_fn::coalesce(vec![s, lit("")]),
                            l,
                        ],
                    )?,
                    DataType::Int64,
                );
                pos - lit(1_i64)
            }
            "replace_string" => {
                arity(3, 3)?;
                let a = (0..3)
                    .map(|i| self.text_arg(args, i, rel))
                    .collect::<R<Vec<_>>>()?;
                df(self, "replace", a)?
            }
            "replace_regex" => {
                arity(3, 3)?;
                let a = (0..3)
                    .map(|i| self.text_arg(args, i, rel))
                    .collect::<R<Vec<_>>>()?;
                udf::call("kql_replace_regex", a)
            }
            "replace" => {
                arity(3, 3)?;
                let (re, rw, s) = (
                    self.text_arg(args, 0, rel)?,
                    self.text_arg(args, 1, rel)?,
                    self.text_arg(args, 2, rel)?,
                );
                udf::call("kql_replace_regex", vec![s, re, rw])
            }
            "trim" | "trim_start" | "trim_end" => {
                arity(2, 2)?;
                let (re, s) = (self.text_arg(args, 0, rel)?, self.text_arg(args, 1, rel)?);
                udf::call(&format!("kql_{name}"), vec![re, s])
            }
            "split" => {
                arity(2, 3)?;
                let (s, d) = (self.text_arg(args, 0, rel)?, self.text_arg(args, 1, rel)?);
                let parts = udf::call("kql_split", vec![s, d]);
                if n == 3 {
                    let i = cast(self.arg(args, 2, rel)?, DataType::Int64);
                    let item = udf::call("kql_dyn_get", vec![parts, i]);
                    udf::call(
                        "kql_pack_array",
                        vec![udf::call("kql_json_quote", vec![item])],
                    )
                } else {
                    parts
                }
            }
            "extract" => {
                arity(3, 4)?;
                let re = self.text_arg(args, 0, rel)?;
                let g = cast(self.arg(args, 1, rel)?, DataType::Int64);
                let s = self.text_arg(args, 2, rel)?;
                let found = udf::call("kql_extract", vec![re, g, s]);
                match args.get(3) {
                    Some(t) => self.convert_to(found, type_of_arg(t)?, span)?,
                    None => found,
                }
            }
            "extract_all" | "extractall" => {
                arity(2, 3)?;
                let re = self.text_arg(args, 0, rel)?;
                let s = self.text_arg(args, n - 1, rel)?;
                udf::call("kql_extract_all", vec![re, s])
            }
            "extractjson" | "extract_json" => {
                arity(2, 3)?;
                let ExprKind::Str(path) = &args[0].kind else {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        args[0].span,
                        "the JSON path must be a constant string",
                    ));
                };
                let mut x = udf::call("kql_parse_json", vec![self.text_arg(args, 1, rel)?]);
                for step in json_path(path).ok_or_else(|| {
                    KqlError::new(
                        ErrorKind::Type,
                        args[0].span,
                        format!("`{path}` is not a JSON path Vigil reads (`$.a.b`, `$['a'][0]`)"),
                    )
                })? {
                    x = udf::call("kql_dyn_get", vec![x, step]);
                }
                match args.get(2) {
                    Some(t) => self.convert_to(x, type_of_arg(t)?, span)?,
                    None => x,
                }
            }
            "countof" => {
                arity(2, 3)?;
                let a = (0..n)
                    .map(|i| self.text_arg(args, i, rel))
                    .collect::<R<Vec<_>>>()?;
                udf::call("kql_countof", a)
            }
            "reverse" => {
                arity(1, 1)?;
                let s = self.text_arg(args, 0, rel)?;
                df(self, "reverse", vec![s])?
            }
            "strrep" => {
                arity(2, 3)?;
                let s = self.text_arg(args, 0, rel)?;
                let times = cast(self.arg(args, 1, rel)?, DataType::Int64);
                if n == 3 {
                    let d = self.text_arg(args, 2, rel)?;
                    let joined = df(
                        self,
                        "repeat",
                        vec![df(self, "concat", vec![s.clone(), d])?, times],
                    )?;
                    // Drop the trailing delimiter.
                    let len = cast(
                        df(self, "character_length", vec![joined.clone()])?,
                        DataType::Int64,
                    ) - {
                        let d = self.text_arg(args, 2, rel)?;
                        cast(df(self, "character_length", vec![d])?, DataType::Int64)
                    };
                    df(self, "substr", vec![joined, lit(1_i64), len])?
                } else {
                    df(self, "repeat", vec![s, times])?
                }
            }
            "translate" => {
                arity(3, 3)?;
                let (from, to, s) = (
                    self.text_arg(args, 0, rel)?,
                    self.text_arg(args, 1, rel)?,
                    self.text_arg(args, 2, rel)?,
                );
                df(self, "translate", vec![s, from, to])?
            }
            "make_string" | "unicode_codepoints_to_string" => {
                udf::call("kql_to_utf8", self.all_args(args, rel)?)
            }
            "hash_md5" | "hash_sha1" | "hash_sha256" => {
                arity(1, 1)?;
                let s = self.text_arg(args, 0, rel)?;
                udf::call(&format!("kql_{name}"), vec![s])
            }
            "tohex" => {
                arity(1, 2)?;
                let x = cast(self.arg(args, 0, rel)?, DataType::Int64);
                df(self, "to_hex", vec![x])?
            }
            "ipv4_is_in_range" | "has_ipv4" => {
                arity(2, 2)?;
                let a = (0..2)
                    .map(|i| self.text_arg(args, i, rel))
                    .collect::<R<Vec<_>>>()?;
                udf::call(&format!("kql_{name}"), a)
            }
            "ipv4_is_in_any_range" | "has_any_ipv4" | "has_ipv4_prefix" | "has_any_ipv4_prefix" => {
                if n < 2 {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        format!("`{name}` needs a value and at least one address or range"),
                    ));
                }
                let a = (0..n)
                    .map(|i| {
                        if i > 0 && self.is_dynamic(&args[i], rel) {
                            self.dynamic_text(&args[i], rel)
                        } else {
                            self.text_arg(args, i, rel)
                        }
                    })
                    .collect::<R<Vec<_>>>()?;
                let f = if name == "has_any_ipv4_prefix" {
                    "kql_has_ipv4_prefix".to_string()
                } else {
                    format!("kql_{name}")
                };
                udf::call(&f, a)
            }
            "parse_ipv4_mask" | "format_ipv4_mask" => {
                arity(if name == "parse_ipv4_mask" { 2 } else { 1 }, 2)?;
                let mut a = vec![self.text_arg(args, 0, rel)?];
                if n == 2 {
                    a.push(cast(self.arg(args, 1, rel)?, DataType::Int64));
                }
                udf::call(&format!("kql_{name}"), a)
            }
            "ipv4_netmask_suffix" => {
                arity(1, 1)?;
                udf::call(
                    "kql_ipv4_netmask_suffix",
                    vec![self.text_arg(args, 0, rel)?],
                )
            }
            "ipv4_compare" | "ipv4_is_match" => {
                arity(2, 3)?;
                let mut a = (0..2)
                    .map(|i| self.text_arg(args, i, rel))
                    .collect::<R<Vec<_>>>()?;
                if n == 3 {
                    a.push(self.arg(args, 2, rel)?);
                }
                udf::call(&format!("kql_{name}"), a)
            }
            "format_ipv4" => {
                arity(1, 2)?;
                udf::call("kql_format_ipv4", self.all_args(args, rel)?)
            }

            // ----- logic -----
            "isempty" | "isnotempty" | "notempty" => {
                arity(1, 1)?;
                let x = self.arg(args, 0, rel)?;
                let empty = if is_string(&expr_type(&x, rel)) {
                    x.clone().is_null().or(x.eq(lit("")))
                } else {
                    x.is_null()
                };
                if name == "isempty" {
                    empty
                } else {
                    empty.not()
                }
            }
            "isnull" => {
                arity(1, 1)?;
                self.arg(args, 0, rel)?.is_null()
            }
            "isnotnull" | "notnull" => {
                arity(1, 1)?;
                self.arg(args, 0, rel)?.is_not_null()
            }
            "not" => {
                arity(1, 1)?;
                truthy(self.arg(args, 0, rel)?).not()
            }
            "iff" | "iif" => {
                arity(3, 3)?;
                let c = self.arg(args, 0, rel)?;
                let (a, b) = (self.arg(args, 1, rel)?, self.arg(args, 2, rel)?);
                let (a, b) = self.branch_types(a, b, rel);
                when(truthy(c), a)
                    .otherwise(b)
                    .map_err(|e| super::df_error(span, e))?
            }
            "case" => {
                if n < 3 || n.is_multiple_of(2) {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        "`case` takes condition, value pairs and an else value",
                    ));
                }
                let mut builder: Option<
                    datafusion::logical_expr::conditional_expressions::CaseBuilder,
                > = None;
                for pair in args[..n - 1].chunks(2) {
                    let c = truthy(self.scalar(&pair[0], rel)?);
                    let v = self.scalar(&pair[1], rel)?;
                    builder = Some(match builder {
                        None => when(c, v),
                        Some(mut b) => b.when(c, v),
                    });
                }
                let otherwise = self.scalar(&args[n - 1], rel)?;
                builder
                    .expect("at least one pair")
                    .otherwise(otherwise)
                    .map_err(|e| super::df_error(span, e))?
            }
            "coalesce" => {
                if n == 0 {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        "`coalesce` takes at least one argument",
                    ));
                }
                let a = self.all_args(args, rel)?;
                let strings = a.iter().all(|e| is_string(&expr_type(e, rel)));
                // An empty string is missing too.
                let a = if strings {
                    a.into_iter()
                        .map(|e| datafusion::functions::core::expr_fn::nullif(e, lit("")))
                        .collect()
                } else {
                    a
                };
                datafusion::functions::core::expr_fn::coalesce(a)
            }
            "max_of" | "min_of" => {
                let f = if name == "max_of" {
                    "greatest"
                } else {
                    "least"
                };
                let a = self.all_args(args, rel)?;
                df(self, f, a)?
            }
            "column_ifexists" | "columnifexists" => {
                arity(2, 2)?;
                let ExprKind::Str(column) = &args[0].kind else {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        args[0].span,
                        "the column name must be a constant string",
                    ));
                };
                match rel.column(column) {
                    Some(c) => c,
                    None => self.arg(args, 1, rel)?,
                }
            }
            "toscalar" => {
                arity(1, 1)?;
                let sub = self.tabular_expr(&args[0])?;
                let first = sub
                    .plan
                    .schema()
                    .columns()
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        KqlError::new(
                            ErrorKind::Type,
                            span,
                            "toscalar() of a table with no columns",
                        )
                    })?;
                let plan = super::project(sub.plan, vec![Expr::Column(first)], span)?;
                let plan = datafusion::logical_expr::LogicalPlanBuilder::from(plan)
                    .limit(0, Some(1))
                    .and_then(|b| b.build())
                    .map_err(|e| super::df_error(span, e))?;
                datafusion::logical_expr::expr_fn::scalar_subquery(std::sync::Arc::new(plan))
            }

            // ----- math -----
            "abs" | "sqrt" | "exp" | "log10" | "log2" | "sign" | "ceiling" | "isnan" => {
                arity(1, 1)?;
                let f = match name {
                    "sign" => "signum",
                    "ceiling" => "ceil",
                    other => other,
                };
                let x = self.arg(args, 0, rel)?;
                let ty = expr_type(&x, rel);
                if name == "abs" && matches!(ty, DataType::Duration(_)) {
                    // A timespan's magnitude, in its own type.
                    let ns = df(self, "abs", vec![cast(x, DataType::Int64)])?;
                    return Ok(cast(ns, ty));
                }
                let x = if name == "abs" {
                    x
                } else {
                    cast(x, DataType::Float64)
                };
                df(self, f, vec![x])?
            }
            "floor" => {
                arity(1, 1)?;
                let x = cast(self.arg(args, 0, rel)?, DataType::Float64);
                df(self, "floor", vec![x])?
            }
            "exp2" | "exp10" => {
                arity(1, 1)?;
                let base = if name == "exp2" { 2.0 } else { 10.0 };
                let x = cast(self.arg(args, 0, rel)?, DataType::Float64);
                df(self, "power", vec![lit(base), x])?
            }
            "log" => {
                arity(1, 1)?;
                let x = cast(self.arg(args, 0, rel)?, DataType::Float64);
                df(self, "ln", vec![x])?
            }
            "isinf" | "isfinite" => {
                arity(1, 1)?;
                let x = cast(self.arg(args, 0, rel)?, DataType::Float64);
                let inf = x
                    .clone()
                    .eq(lit(f64::INFINITY))
                    .or(x.clone().eq(lit(f64::NEG_INFINITY)));
                if name == "isinf" {
                    inf
                } else {
                    inf.not().and(df(self, "isnan", vec![x])?.not())
                }
            }
            "round" => {
                arity(1, 2)?;
                let mut a = vec![cast(self.arg(args, 0, rel)?, DataType::Float64)];
                if n == 2 {
                    a.push(cast(self.arg(args, 1, rel)?, DataType::Int64));
                }
                df(self, "round", a)?
            }
            "pow" => {
                arity(2, 2)?;
                let (b, e) = (self.arg(args, 0, rel)?, self.arg(args, 1, rel)?);
                df(
                    self,
                    "power",
                    vec![cast(b, DataType::Float64), cast(e, DataType::Float64)],
                )?
            }
            "pi" => df(self, "pi", vec![])?,
            "rand" => df(self, "random", vec![])?,
            "new_guid" => udf::call("kql_new_guid", vec![lit(0_i64)]),
            "binary_and" | "binary_or" | "binary_xor" | "binary_shift_left"
            | "binary_shift_right" => {
                arity(2, 2)?;
                let (a, b) = (
                    cast(self.arg(args, 0, rel)?, DataType::Int64),
                    cast(self.arg(args, 1, rel)?, DataType::Int64),
                );
                let op = match name {
                    "binary_and" => Operator::BitwiseAnd,
                    "binary_or" => Operator::BitwiseOr,
                    "binary_xor" => Operator::BitwiseXor,
                    "binary_shift_left" => Operator::BitwiseShiftLeft,
                    _ => Operator::BitwiseShiftRight,
                };
                binary_expr(a, op, b)
            }

            // ----- dynamic -----
            "array_length" | "arraylength" => {
                arity(1, 1)?;
                let x = self.arg(args, 0, rel)?;
                match expr_type(&x, rel) {
                    DataType::List(_) => cast(df(self, "cardinality", vec![x])?, DataType::Int64),
                    _ => udf::call("kql_array_length", vec![self.as_text(x, rel)]),
                }
            }
            "pack" | "bag_pack" => {
                if !n.is_multiple_of(2) {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        format!("`{name}` takes key, value pairs"),
                    ));
                }
                let mut a = Vec::new();
                for pair in args.chunks(2) {
                    let k = self.scalar(&pair[0], rel)?;
                    a.push(self.as_text(k, rel));
                    a.push(self.json_value(&pair[1], rel)?);
                }
                if a.is_empty() {
                    lit("{}")
                } else {
                    udf::call("kql_pack", a)
                }
            }
            "pack_array" => {
                let a = args
                    .iter()
                    .map(|x| self.json_value(x, rel))
                    .collect::<R<Vec<_>>>()?;
                if a.is_empty() {
                    lit("[]")
                } else {
                    udf::call("kql_pack_array", a)
                }
            }
            "bag_keys" | "array_reverse" | "array_sort_asc" | "array_sort_desc" => {
                arity(1, 1)?;
                let x = self.dynamic_text(&args[0], rel)?;
                udf::call(&format!("kql_{name}"), vec![x])
            }
            "bag_merge" | "array_concat" | "set_union" | "set_intersect" | "set_difference" => {
                if n == 0 {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        format!("`{name}` takes at least one argument"),
                    ));
                }
                let a = args
                    .iter()
                    .map(|x| self.dynamic_text(x, rel))
                    .collect::<R<Vec<_>>>()?;
                udf::call(&format!("kql_{name}"), a)
            }
            "set_has_element" | "array_index_of" => {
                arity(2, 2)?;
                let arr = self.dynamic_text(&args[0], rel)?;
                let v = self.json_value(&args[1], rel)?;
                let f = if name == "set_has_element" {
                    "kql_set_has"
                } else {
                    "kql_array_index_of"
                };
                udf::call(f, vec![arr, v])
            }
            "array_slice" => {
                arity(3, 3)?;
                let arr = self.dynamic_text(&args[0], rel)?;
                udf::call(
                    "kql_array_slice",
                    vec![arr, self.arg(args, 1, rel)?, self.arg(args, 2, rel)?],
                )
            }
            "strcat_array" | "array_strcat" => {
                arity(2, 2)?;
                let arr = self.dynamic_text(&args[0], rel)?;
                udf::call("kql_strcat_array", vec![arr, self.text_arg(args, 1, rel)?])
            }
            // ----- series -----
            "strcmp" => {
                arity(2, 2)?;
                let (a, b) = (self.text_arg(args, 0, rel)?, self.text_arg(args, 1, rel)?);
                when(a.clone().lt(b.clone()), lit(-1_i64))
                    .when(a.gt(b), lit(1_i64))
                    .otherwise(lit(0_i64))
                    .map_err(|e| super::df_error(span, e))?
            }
            "make_timespan" => {
                arity(2, 4)?;
                // (hours, minutes [, seconds]) or (days, hours, minutes, seconds).
                const UNITS3: [i64; 3] = [3_600_000_000_000, 60_000_000_000, 1_000_000_000];
                const UNITS4: [i64; 4] = [
                    86_400_000_000_000,
                    3_600_000_000_000,
                    60_000_000_000,
                    1_000_000_000,
                ];
                let units: &[i64] = if n == 4 { &UNITS4 } else { &UNITS3 };
                let mut total = lit(0_i64);
                for (i, unit) in units.iter().enumerate().take(n) {
                    let part = cast(self.arg(args, i, rel)?, DataType::Float64) * lit(*unit as f64);
                    total = total + cast(part, DataType::Int64);
                }
                cast(total, super::expr::duration())
            }
            "pack_all" => {
                arity(0, 1)?;
                let mut a = Vec::new();
                for name in rel.names().into_iter().filter(|n| !n.starts_with("__")) {
                    let column = ast::Expr {
                        kind: ExprKind::Name(name.clone()),
                        span,
                    };
                    a.push(lit(name));
                    a.push(self.json_value(&column, rel)?);
                }
                if a.is_empty() {
                    lit("{}")
                } else {
                    udf::call("kql_pack", a)
                }
            }
            "indexof_regex" => {
                arity(2, 2)?;
                let a = vec![self.text_arg(args, 0, rel)?, self.text_arg(args, 1, rel)?];
                udf::call("kql_indexof_regex", a)
            }
            "isascii"
            | "parse_path"
            | "parse_command_line"
            | "parse_urlquery"
            | "base64_decode_toarray" => {
                arity(1, 2)?;
                udf::call(&format!("kql_{name}"), vec![self.text_arg(args, 0, rel)?])
            }
            "range" => {
                arity(2, 3)?;
                let a = (0..n)
                    .map(|i| self.arg(args, i, rel))
                    .collect::<R<Vec<_>>>()?;
                udf::call("kql_range_array", a)
            }
            "repeat" => {
                arity(2, 2)?;
                let v = self.json_value(&args[0], rel)?;
                udf::call(
                    "kql_repeat",
                    vec![v, cast(self.arg(args, 1, rel)?, DataType::Int64)],
                )
            }
            "zip" => {
                let a = args
                    .iter()
                    .map(|x| self.dynamic_text(x, rel))
                    .collect::<R<Vec<_>>>()?;
                if a.is_empty() {
                    return Err(KqlError::new(ErrorKind::Type, span, "`zip` needs arrays"));
                }
                udf::call("kql_zip", a)
            }
            "bag_has_key" | "bag_remove_keys" => {
                arity(2, 2)?;
                let bag = self.dynamic_text(&args[0], rel)?;
                let second = if name == "bag_has_key" {
                    self.text_arg(args, 1, rel)?
                } else {
                    self.dynamic_text(&args[1], rel)?
                };
                udf::call(&format!("kql_{name}"), vec![bag, second])
            }
            "array_sum" => {
                arity(1, 1)?;
                udf::call("kql_array_sum", vec![self.dynamic_text(&args[0], rel)?])
            }
            "series_stats_dynamic"
            | "series_stats"
            | "series_fit_line"
            | "series_fit_line_dynamic"
            | "series_decompose"
            | "series_decompose_anomalies"
            | "series_outliers" => {
                arity(1, 8)?;
                let mut a = vec![self.dynamic_text(&args[0], rel)?];
                for i in 1..n {
                    a.push(self.arg(args, i, rel)?);
                }
                let f = match name {
                    "series_stats_dynamic" | "series_stats" => "kql_series_stats".to_string(),
                    "series_fit_line" | "series_fit_line_dynamic" => {
                        "kql_series_fit_line".to_string()
                    }
                    other => format!("kql_{other}"),
                };
                udf::call(&f, a)
            }
            "series_add" | "series_subtract" | "series_multiply" | "series_divide"
            | "series_greater" | "series_less" | "series_equals" => {
                arity(2, 2)?;
                let mut a = vec![lit(&name["series_".len()..])];
                for i in 0..2 {
                    a.push(if self.is_dynamic(&args[i], rel) {
                        self.dynamic_text(&args[i], rel)?
                    } else {
                        cast(self.arg(args, i, rel)?, DataType::Float64)
                    });
                }
                udf::call("kql_series_elementwise", a)
            }
            other => return Err(self.unknown_function(other, span)),
        })
    }

    fn unknown_function(&self, name: &str, span: Span) -> KqlError {
        if NOT_YET.contains(&name) {
            return super::unsupported(span, &format!("the function `{name}()`"));
        }
        let all = SCALAR_FUNCTIONS
            .iter()
            .chain(super::aggregate::AGGREGATES)
            .chain(WINDOW_FUNCTIONS)
            .copied();
        let message = match closest(name, all) {
            Some(s) => format!("unknown function `{name}`; did you mean `{s}`?"),
            None => format!("unknown function `{name}`"),
        };
        KqlError::new(ErrorKind::UnknownFunction, span, message)
    }

    /// Makes the two branches of `iff` agree (a null literal takes the other's type).
    fn branch_types(&self, a: Expr, b: Expr, rel: &Rel) -> (Expr, Expr) {
        let (at, bt) = (expr_type(&a, rel), expr_type(&b, rel));
        match (&at, &bt) {
            (DataType::Null, t) if *t != DataType::Null => (cast(a, bt), b),
            (t, DataType::Null) if *t != DataType::Null => (a, cast(b, at)),
            (x, y) if is_string(x) && !is_string(y) => (a, self.as_text(b, rel)),
            (x, y) if !is_string(x) && is_string(y) => (self.as_text(a, rel), b),
            _ => (a, b),
        }
    }

    /// `bin(value, size)` for numbers, datetimes and timespans: floors from zero (the
    /// epoch, for datetimes).
    fn bin(&mut self, args: &[ast::Expr], rel: &Rel, span: Span) -> R<Expr> {
        let x = self.arg(args, 0, rel)?;
        let step = self.arg(args, 1, rel)?;
        let ty = expr_type(&x, rel);
        // A bin size of zero or less gives null.
        if let Expr::Literal(v, _) = &step
            && let Ok(ScalarValue::Float64(Some(f))) = v.cast_to(&DataType::Float64)
            && f <= 0.0
        {
            return Ok(cast(lit(ScalarValue::Null), ty));
        }
        Ok(match ty {
            DataType::Timestamp(..) => udf::call("kql_bin_time", vec![x, step]),
            DataType::Duration(_) => {
                let f = cast(cast(x, DataType::Int64), DataType::Float64);
                let s = cast(cast(step, DataType::Int64), DataType::Float64);
                let floored = self.df_call("floor", vec![f / s.clone()], span)? * s;
                cast(cast(floored, DataType::Int64), ty)
            }
            t if is_string(&t) => {
                let f = try_cast(x, DataType::Float64);
                let s = cast(step, DataType::Float64);
                self.df_call("floor", vec![f / s.clone()], span)? * s
            }
            _ => {
                let f = cast(x, DataType::Float64);
                let s = cast(step.clone(), DataType::Float64);
                let floored = self.df_call("floor", vec![f / s.clone()], span)? * s;
                let step_ty = expr_type(&step, rel);
                if ty.is_integer() && step_ty.is_integer() {
                    cast(floored, ty)
                } else {
                    floored
                }
            }
        })
    }

    /// Converts to a KQL type named in `typeof(…)` (null on bad values).
    pub(crate) fn convert_to(&self, e: Expr, ty: vigil_schema::KqlType, span: Span) -> R<Expr> {
        use vigil_schema::KqlType as K;
        Ok(match ty {
            K::String | K::Guid | K::Dynamic => e,
            K::DateTime => udf::call("kql_todatetime", vec![e]),
            K::TimeSpan => udf::call("kql_totimespan", vec![e]),
            K::Long | K::Int => try_cast(try_cast(e, DataType::Float64), ty.arrow_type()),
            K::Bool => {
                let l = self.df_call("lower", vec![e], span)?;
                when(
                    l.clone().eq(lit("true")).or(l.clone().eq(lit("1"))),
                    lit(true),
                )
                .when(l.clone().eq(lit("false")).or(l.eq(lit("0"))), lit(false))
                .otherwise(lit(ScalarValue::Boolean(None)))
                .map_err(|e| super::df_error(span, e))?
            }
            _ => try_cast(e, ty.arrow_type()),
        })
    }
}

/// The type in `typeof(long)`.
pub(crate) fn type_of_arg(e: &ast::Expr) -> R<vigil_schema::KqlType> {
    let name = match &e.kind {
        ExprKind::Call { name, args } if name.name == "typeof" && args.len() == 1 => {
            match &args[0].kind {
                ExprKind::Name(t) => t.clone(),
                ExprKind::Typed { ty, .. } => ty.clone(),
                _ => String::new(),
            }
        }
        ExprKind::Name(t) => t.clone(),
        _ => String::new(),
    };
    super::kql_type(&name, e.span)
}

/// The steps of a JSON path (`$.a.b[0]`, `$['a']`) as keys for `kql_dyn_get`.
fn json_path(path: &str) -> Option<Vec<Expr>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            steps.push(lit(&r[..end]));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            let key = inner.trim_matches(|c| c == '\'' || c == '"');
            match inner.parse::<i64>() {
                Ok(i) => steps.push(lit(i)),
                Err(_) => steps.push(lit(key)),
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}
