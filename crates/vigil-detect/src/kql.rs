//! Sigma rules as KQL over Vigil's tables.
//!
//! A rule's [`Plan`] written as one query (`Table | where <source rows> and
//! (<condition>)`) that `vigil-kql` runs on DataFusion. The columnar matcher in
//! [`crate::matcher`] is what hunts; the query is what an analyst is shown next to an
//! alert, to read and to re-run by hand, and it finds the same rows.

use vigil_schema::Catalog;

use crate::Mapping;
use crate::plan::{Expr, Pattern, Plan, Target, Test, plan};
use crate::rule::Rule;

/// A KQL string literal (verbatim, so backslashes stay as written).
fn quote(s: &str) -> String {
    format!("@\"{}\"", s.replace('"', "\"\""))
}

/// The table and query for a rule, or why there is none.
pub fn compile(
    rule: &Rule,
    mapping: &Mapping,
    catalog: &Catalog,
) -> Result<(String, String), String> {
    let p = plan(rule, mapping, catalog)?;
    Ok((p.table.clone(), plan_query(&p)?))
}

/// The query that finds a plan's matches.
pub fn plan_query(p: &Plan) -> Result<String, String> {
    let parts = match &p.expr {
        Expr::And(parts) => parts.iter().map(expr).collect::<Result<Vec<_>, _>>()?,
        other => vec![expr(other)?],
    };
    Ok(format!("{}\n| where {}", p.table, parts.join("\n    and ")))
}

fn expr(e: &Expr) -> Result<String, String> {
    let join = |parts: &[Expr], op: &str| -> Result<String, String> {
        let parts = parts.iter().map(expr).collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", parts.join(op)))
    };
    match e {
        Expr::Test(target, t) => test(target, t),
        Expr::And(parts) => join(parts, " and "),
        Expr::Or(parts) => join(parts, " or "),
        Expr::Not(inner) => Ok(format!("not({})", expr(inner)?)),
    }
}

/// The value of a target as an expression, and whether it is a number.
fn value(t: &Target) -> (String, bool) {
    match t {
        Target::Column { name, numeric } => (name.clone(), *numeric),
        Target::Json { column, path } => {
            let mut e = format!("parse_json(tostring({column}))");
            for key in path {
                e = format!("{e}[{}]", quote(key));
            }
            (format!("tostring({e})"), false)
        }
        Target::Join { parts, sep } => {
            let texts: Vec<String> = parts.iter().map(text).collect();
            let (a, b) = (&texts[0], &texts[texts.len() - 1]);
            (
                format!(
                    "iff(isempty({a}), {b}, iff(isempty({b}), {a}, strcat({a}, {}, {b})))",
                    quote(sep)
                ),
                false,
            )
        }
        Target::ByAction(arms) => {
            let arms: Vec<String> = arms
                .iter()
                .map(|(action, t)| format!("ActionType == {}, {}", quote(action), text(t)))
                .collect();
            (format!("case({}, \"\")", arms.join(", ")), false)
        }
    }
}

/// The value of a target as text.
fn text(t: &Target) -> String {
    let (e, _) = value(t);
    match t {
        Target::Column { .. } => format!("tostring({e})"),
        _ => e,
    }
}

fn test(target: &Target, t: &Test) -> Result<String, String> {
    let (v, numeric) = value(target);
    Ok(match t {
        Test::Text { pattern, cased } => {
            let v = if numeric { format!("tostring({v})") } else { v };
            text_test(&v, pattern, *cased)
        }
        Test::OneOf(values) if numeric => format!("{v} in ({})", values.join(", ")),
        Test::OneOf(values) if values.len() == 1 => format!("{v} =~ {}", quote(&values[0])),
        Test::OneOf(values) => {
            let items: Vec<String> = values.iter().map(|s| quote(s)).collect();
            format!("{v} in~ ({})", items.join(", "))
        }
        Test::Regex(re) => format!("{} matches regex {}", text(target), quote(re)),
        Test::Number { op, value } => format!("toreal({v}) {} {value}", op.symbol()),
        Test::Empty => format!("isempty({v})"),
        Test::Cidr(net) => {
            if net.contains(':') {
                return Err("IPv6 networks have no KQL translation yet".into());
            }
            format!("ipv4_is_in_range({}, {})", text(target), quote(net))
        }
        Test::SameAs(other) => format!("{} =~ {}", text(target), text(other)),
    })
}

fn text_test(target: &str, pattern: &Pattern, cased: bool) -> String {
    let Some(lit) = pattern.literal() else {
        return format!("{target} matches regex {}", quote(&pattern.regex(cased)));
    };
    let q = quote(&lit);
    let cs = if cased { "_cs" } else { "" };
    match (pattern.at_start, pattern.at_end) {
        (true, true) if cased => format!("{target} == {q}"),
        (true, true) => format!("{target} =~ {q}"),
        (true, false) => format!("{target} startswith{cs} {q}"),
        (false, true) => format!("{target} endswith{cs} {q}"),
        (false, false) => format!("{target} contains{cs} {q}"),
    }
}

#[cfg(test)]
pub(crate) fn test_text(
    target: &str,
    text: &str,
    modifiers: &[crate::modifier::Modifier],
) -> String {
    match crate::plan::text_test(text, modifiers) {
        Test::Text { pattern, cased } => text_test(target, &pattern, cased),
        _ => String::new(),
    }
}
