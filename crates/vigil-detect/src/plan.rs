//! A rule as a tree of tests on row values: what both the KQL translation and the
//! columnar matcher work from, so the query shown to an analyst and the engine that
//! raised the alert say the same thing.
//!
//! Planning does everything that depends on the rule and the mapping (which column a
//! field is in, value modifiers, wildcards, windash and base64 variants, registry value
//! details); what is left is a plain tree of [`Expr`] over [`Target`]s.

use std::collections::BTreeMap;

use base64::Engine as _;

use vigil_schema::{Catalog, KqlType};

use crate::condition::{Condition, pattern_matches};
use crate::mapping::{Form, Location, Mapping, Resolved, Source};
use crate::modifier::Modifier;
use crate::rule::{Detection, FieldMatch, Rule, RuleBody, Selection, Value};
pub use crate::variants::text_test;
pub(crate) use crate::variants::{base64_offsets, windash};
use crate::variants::{encode, escape_wildcards, expand, has_position, long_hive, number};

/// Where a tested value comes from in a row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A column; `numeric` columns are compared as numbers or as their text.
    Column { name: String, numeric: bool },
    /// A key path inside a column holding a JSON object, as text.
    Json { column: String, path: Vec<String> },
    /// Two values joined by `sep` (just one of them when the other is empty).
    Join { parts: Vec<Target>, sep: String },
    /// The value depends on the row's `ActionType` (empty when none is listed).
    ByAction(Vec<(String, Target)>),
}

impl Target {
    pub fn column(name: &str) -> Target {
        Target::Column {
            name: name.to_string(),
            numeric: false,
        }
    }

    /// The columns the value is read from.
    pub fn columns(&self, out: &mut Vec<String>) {
        match self {
            Target::Column { name, .. } => out.push(name.clone()),
            Target::Json { column, .. } => out.push(column.clone()),
            Target::Join { parts, .. } => parts.iter().for_each(|p| p.columns(out)),
            Target::ByAction(arms) => {
                out.push("ActionType".into());
                arms.iter().for_each(|(_, t)| t.columns(out));
            }
        }
    }
}

/// A piece of a text pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Piece {
    Text(String),
    /// `*`: any run of characters.
    Many,
    /// `?`: one character.
    One,
}

/// A Sigma text value with its wildcards and where it must sit in the tested text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern {
    pub pieces: Vec<Piece>,
    /// The pattern starts where the text starts.
    pub at_start: bool,
    /// The pattern ends where the text ends.
    pub at_end: bool,
}

impl Pattern {
    /// The literal text when the pattern has no wildcards left inside.
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }

    /// The pattern as a regular expression.
    pub fn regex(&self, cased: bool) -> String {
        let mut re = String::new();
        if !cased {
            re.push_str("(?i)");
        }
        if self.at_start {
            re.push('^');
        }
        for p in &self.pieces {
            match p {
                Piece::Text(t) => re.push_str(&regex::escape(t)),
                Piece::Many => re.push_str("(?s:.*)"),
                Piece::One => re.push_str("(?s:.)"),
            }
        }
        if self.at_end {
            re.push('$');
        }
        re
    }
}

/// A comparison of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compare {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Compare {
    pub fn symbol(self) -> &'static str {
        match self {
            Compare::Gt => ">",
            Compare::Gte => ">=",
            Compare::Lt => "<",
            Compare::Lte => "<=",
        }
    }

    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Compare::Gt => left > right,
            Compare::Gte => left >= right,
            Compare::Lt => left < right,
            Compare::Lte => left <= right,
        }
    }
}

/// What is asked of a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Test {
    /// Text matching, ignoring case unless `cased`.
    Text { pattern: Pattern, cased: bool },
    /// Equal to one of these (ignoring case; as numbers on a numeric column).
    OneOf(Vec<String>),
    /// A regular expression (flags inline).
    Regex(String),
    /// The value as a number compared with this one (written as text so that the
    /// test can be hashed).
    Number { op: Compare, value: String },
    /// Null or empty text.
    Empty,
    /// An address inside this network (`a.b.c.d/n` or an IPv6 network).
    Cidr(String),
    /// Equal, ignoring case, to the value of another field of the row.
    SameAs(Target),
}

/// A rule's detection over one table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    Test(Target, Test),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    fn and(parts: Vec<Expr>) -> Expr {
        if parts.len() == 1 {
            parts.into_iter().next().expect("one part")
        } else {
            Expr::And(parts)
        }
    }

    fn or(parts: Vec<Expr>) -> Expr {
        if parts.len() == 1 {
            parts.into_iter().next().expect("one part")
        } else {
            Expr::Or(parts)
        }
    }

    /// Every target the expression reads.
    pub fn targets<'a>(&'a self, out: &mut Vec<&'a Target>) {
        match self {
            Expr::Test(t, test) => {
                out.push(t);
                if let Test::SameAs(other) = test {
                    out.push(other);
                }
            }
            Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| p.targets(out)),
            Expr::Not(inner) => inner.targets(out),
        }
    }
}

/// A rule ready to run: the table and the test each row of it must pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub table: String,
    pub expr: Expr,
}

/// The plan for a rule: the first source that can answer it whose values can all be
/// expressed (a value the first source cannot translate, such as a partial registry
/// number, moves the rule to the next source), or why there is none.
pub fn plan(rule: &Rule, mapping: &Mapping, catalog: &Catalog) -> Result<Plan, String> {
    let mut first_error = None;
    for resolved in mapping.resolve_all(rule, catalog)? {
        match plan_source(rule, &resolved, catalog, &mapping.placeholders) {
            Ok(p) => return Ok(p),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "no source".into()))
}

/// The plan of a rule over one resolved source.
pub fn plan_source(
    rule: &Rule,
    resolved: &Resolved<'_>,
    catalog: &Catalog,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Plan, String> {
    let detection: &Detection = match &rule.body {
        RuleBody::Detection(d) => d,
        RuleBody::Filter(_) => return Err("a filter changes other rules; it has no matches".into()),
        RuleBody::Correlation(_) => {
            return Err("a correlation rule counts the matches of other rules".into());
        }
    };
    let p = Planner {
        resolved,
        catalog,
        placeholders,
    };
    let source = resolved.source;
    let mut parts = Vec::new();
    for (column, values) in &source.filter {
        let target = p.column(column);
        parts.push(Expr::Test(target, Test::OneOf(values.clone())));
    }
    let conditions = detection
        .conditions
        .iter()
        .map(|cond| p.condition(cond, detection))
        .collect::<Result<Vec<_>, _>>()?;
    parts.push(Expr::or(conditions));
    Ok(Plan {
        table: source.table.clone(),
        expr: Expr::and(parts),
    })
}

/// Where a field, named as rules name it, is in `source` (for a correlation's
/// `group-by` and `value_count` fields).
pub fn field_target(source: &Source, field: &str, catalog: &Catalog) -> Result<Target, String> {
    let loc = source
        .location_of(field, catalog)
        .ok_or_else(|| format!("field `{field}` has no column in {}", source.table))?;
    if let Form::Unmapped(reason) = &loc.form {
        return Err(format!("field `{field}` is unmapped: {reason}"));
    }
    let resolved = Resolved {
        source,
        fields: Default::default(),
    };
    Planner {
        resolved: &resolved,
        catalog,
        placeholders: &BTreeMap::new(),
    }
    .location(&loc)
}

struct Planner<'a> {
    resolved: &'a Resolved<'a>,
    catalog: &'a Catalog,
    placeholders: &'a BTreeMap<String, Vec<String>>,
}

impl Planner<'_> {
    fn column(&self, name: &str) -> Target {
        let numeric = self
            .catalog
            .table(&self.resolved.source.table)
            .and_then(|t| t.column(name))
            .is_some_and(|c| matches!(c.kql_type, KqlType::Int | KqlType::Long | KqlType::Real));
        Target::Column {
            name: name.to_string(),
            numeric,
        }
    }

    fn condition(&self, c: &Condition, d: &Detection) -> Result<Expr, String> {
        let group = |names: Vec<&String>, all: bool| -> Result<Expr, String> {
            let parts = names
                .into_iter()
                .map(|n| self.selection(&d.selections[n]))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if all {
                Expr::And(parts)
            } else {
                Expr::Or(parts)
            })
        };
        let named = |p: &str| -> Vec<&String> {
            d.selections
                .keys()
                .filter(|k| pattern_matches(p, k))
                .collect()
        };
        Ok(match c {
            Condition::Ident(n) => self.selection(&d.selections[n])?,
            Condition::OneOf(p) => group(named(p), false)?,
            Condition::AllOf(p) => group(named(p), true)?,
            Condition::OneOfThem => group(d.selections.keys().collect(), false)?,
            Condition::AllOfThem => group(d.selections.keys().collect(), true)?,
            Condition::Not(inner) => Expr::Not(Box::new(self.condition(inner, d)?)),
            Condition::And(a, b) => Expr::And(vec![self.condition(a, d)?, self.condition(b, d)?]),
            Condition::Or(a, b) => Expr::Or(vec![self.condition(a, d)?, self.condition(b, d)?]),
        })
    }

    fn selection(&self, s: &Selection) -> Result<Expr, String> {
        match s {
            Selection::Maps(maps) => {
                let ors = maps
                    .iter()
                    .map(|m| {
                        let ands = m
                            .iter()
                            .map(|f| self.field_match(f))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(Expr::And(ands))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(Expr::Or(ors))
            }
            Selection::Keywords(k) => {
                let mut ors = Vec::new();
                for v in &k.values {
                    let Value::Str(text) = v else {
                        return Err("keyword lists take strings".into());
                    };
                    // A keyword is searched for anywhere in the text.
                    for column in &self.resolved.source.keywords {
                        let test = text_test(text, &[Modifier::Contains]);
                        ors.push(Expr::Test(self.column(column), test));
                    }
                }
                Ok(Expr::Or(ors))
            }
        }
    }

    /// Where a field's value is.
    fn location(&self, loc: &Location) -> Result<Target, String> {
        Ok(match &loc.form {
            Form::Column(c) => self.column(c),
            Form::Json { column, path } => Target::Json {
                column: column.clone(),
                path: path.clone(),
            },
            Form::Join { parts, sep } => {
                if parts.len() != 2 {
                    return Err("a join of other than two parts is not supported yet".into());
                }
                let parts = parts
                    .iter()
                    .map(|p| self.location(p))
                    .collect::<Result<Vec<_>, _>>()?;
                Target::Join {
                    parts,
                    sep: sep.clone(),
                }
            }
            Form::ByAction(actions) => Target::ByAction(
                actions
                    .iter()
                    .map(|(a, l)| Ok((a.clone(), self.location(l)?)))
                    .collect::<Result<Vec<_>, String>>()?,
            ),
            Form::Values { inner, .. } => self.location(inner)?,
            Form::Hashes(_) | Form::Unmapped(_) => {
                return Err("this field form has no single location".into());
            }
        })
    }

    /// Keyword values with modifiers (`'|all': [a, b]`): each value searched for in
    /// the keyword columns.
    fn keyword_match(&self, m: &FieldMatch) -> Result<Expr, String> {
        let mut modifiers: Vec<Modifier> = m
            .modifiers
            .iter()
            .copied()
            .filter(|x| *x != Modifier::All)
            .collect();
        if !modifiers
            .iter()
            .any(|x| matches!(x, Modifier::StartsWith | Modifier::EndsWith))
        {
            modifiers.push(Modifier::Contains);
        }
        let per_value = m
            .values
            .iter()
            .map(|v| {
                let ors = self
                    .resolved
                    .source
                    .keywords
                    .iter()
                    .map(|c| Expr::Test(self.column(c), text_test(&v.text(), &modifiers)))
                    .collect();
                Expr::Or(ors)
            })
            .collect();
        Ok(if m.modifiers.contains(&Modifier::All) {
            Expr::And(per_value)
        } else {
            Expr::Or(per_value)
        })
    }

    fn field_match(&self, m: &FieldMatch) -> Result<Expr, String> {
        let Some(field) = m.field.as_deref() else {
            return self.keyword_match(m);
        };
        let loc = self
            .resolved
            .fields
            .get(field)
            .ok_or_else(|| format!("field `{field}` was not resolved"))?;
        if let Form::Hashes(algos) = &loc.form {
            let tests = m
                .values
                .iter()
                .map(|v| {
                    let t = v.text();
                    let (algo, hex) = t
                        .split_once('=')
                        .ok_or("a hash value names its algorithm")?;
                    let column = algos
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(algo))
                        .map(|(_, c)| c)
                        .ok_or("unknown hash algorithm")?;
                    Ok(Expr::Test(
                        self.column(column),
                        Test::OneOf(vec![hex.to_string()]),
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?;
            return Ok(Expr::Or(tests));
        }
        let target = self.location(loc)?;
        let has = |x: Modifier| m.modifiers.contains(&x);
        if has(Modifier::Exists) {
            let test = Expr::Test(target, Test::Empty);
            return Ok(if matches!(m.values.first(), Some(Value::Bool(true))) {
                Expr::Not(Box::new(test))
            } else {
                test
            });
        }
        let tests = m
            .values
            .iter()
            .map(|v| self.value_test(field, &target, loc, &m.modifiers, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if has(Modifier::All) {
            Expr::And(tests)
        } else {
            Expr::Or(tests)
        })
    }

    fn value_test(
        &self,
        field: &str,
        target: &Target,
        loc: &Location,
        modifiers: &[Modifier],
        v: &Value,
    ) -> Result<Expr, String> {
        let has = |x: Modifier| modifiers.contains(&x);
        let test = |t: Test| Ok(Expr::Test(target.clone(), t));
        if let Form::Values { values, .. } = &loc.form {
            let stored = values
                .get(&v.text().to_lowercase())
                .ok_or_else(|| format!("field `{field}`: no stored value for `{}`", v.text()))?;
            return test(Test::OneOf(stored.clone()));
        }
        let compare = [
            (Modifier::Gt, Compare::Gt),
            (Modifier::Gte, Compare::Gte),
            (Modifier::Lt, Compare::Lt),
            (Modifier::Lte, Compare::Lte),
        ]
        .into_iter()
        .find(|(m, _)| has(*m));
        if let Some((_, op)) = compare {
            let value = v.text();
            if value.parse::<f64>().is_err() {
                return Err(format!("field `{field}`: `{value}` is not a number"));
            }
            return test(Test::Number { op, value });
        }
        if has(Modifier::FieldRef) {
            let other = v.text();
            let loc = self
                .resolved
                .fields
                .get(&other)
                .cloned()
                .or_else(|| self.resolved.source.location_of(&other, self.catalog))
                .ok_or_else(|| format!("field `{field}`: fieldref `{other}` has no location"))?;
            return test(Test::SameAs(self.location(&loc)?));
        }
        if has(Modifier::Cidr) {
            return test(Test::Cidr(v.text()));
        }
        if has(Modifier::Re) {
            let mut flags = String::new();
            for (m, f) in [
                (Modifier::ReIgnoreCase, 'i'),
                (Modifier::ReMultiLine, 'm'),
                (Modifier::ReDotAll, 's'),
            ] {
                if has(m) {
                    flags.push(f);
                }
            }
            let pattern = if flags.is_empty() {
                v.text()
            } else {
                format!("(?{flags}){}", v.text())
            };
            return test(Test::Regex(pattern));
        }
        let numeric = matches!(target, Target::Column { numeric: true, .. });
        match v {
            Value::Null => return test(Test::Empty),
            Value::Int(_) | Value::Real(_) if numeric => {
                return test(Test::OneOf(vec![v.text()]));
            }
            Value::Str(s) if numeric && !has_position(modifiers) => {
                if let Some(n) = number(s) {
                    return test(Test::OneOf(vec![n.to_string()]));
                }
            }
            _ => {}
        }
        let text = v.text();
        if text.is_empty() || text == "-" {
            return test(Test::Empty);
        }
        if loc.convert.as_deref() == Some("registry_details")
            && let Some(expr) = self.registry_details(field, &text)?
        {
            return Ok(expr);
        }
        let mut variants = if has(Modifier::Expand) {
            expand(field, &text, self.placeholders)?
        } else {
            vec![text]
        };
        if loc.convert.as_deref() == Some("long_hive_names") {
            variants = variants.iter().map(|t| long_hive(t)).collect();
        }
        if has(Modifier::Windash) {
            variants = variants.iter().flat_map(|t| windash(t)).collect();
        }
        if has(Modifier::Base64) || has(Modifier::Base64Offset) {
            let wide = has(Modifier::Wide) || has(Modifier::Utf16le);
            let be = has(Modifier::Utf16be);
            variants = variants
                .iter()
                .flat_map(|t| {
                    let bytes = encode(t, wide, be);
                    if has(Modifier::Base64Offset) {
                        base64_offsets(&bytes)
                    } else {
                        vec![base64::engine::general_purpose::STANDARD.encode(&bytes)]
                    }
                })
                .map(|t| escape_wildcards(&t))
                .collect();
        }
        Ok(Expr::or(
            variants
                .iter()
                .map(|t| Expr::Test(target.clone(), text_test(t, modifiers)))
                .collect(),
        ))
    }

    /// Sysmon's registry `Details` as the normaliser splits them: `DWORD (0x00000010)`
    /// is type Dword with data 16, `QWORD (0xhi-0xlo)` type Qword, `Binary Data` type
    /// Binary. `None` means string data, tested as usual.
    fn registry_details(&self, field: &str, text: &str) -> Result<Option<Expr>, String> {
        let t = text.trim_matches('*');
        let parse = |n: &str| number(n.trim());
        let kind_is = |kind: &str| {
            Expr::Test(
                self.column("RegistryValueType"),
                Test::OneOf(vec![kind.to_string()]),
            )
        };
        for (prefix, kind) in [("DWORD", "Dword"), ("QWORD", "Qword")] {
            // `get` keeps the slicing on character boundaries whatever the value holds.
            if !t
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            {
                continue;
            }
            let rest = t.get(prefix.len()..).unwrap_or_default().trim();
            if rest.is_empty() {
                return Ok(Some(kind_is(kind)));
            }
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("field `{field}`: `{text}` is a partial {prefix} value"))?;
            let value = if kind == "Qword" {
                inner.split_once('-').and_then(|(hi, lo)| {
                    let (hi, lo) = (parse(hi)? as u64, parse(lo)? as u64);
                    Some(((hi << 32) | (lo & 0xffff_ffff)).to_string())
                })
            } else {
                parse(inner).map(|v| v.to_string())
            }
            .ok_or_else(|| format!("field `{field}`: `{text}` is not a number"))?;
            return Ok(Some(Expr::And(vec![
                kind_is(kind),
                Expr::Test(self.column("RegistryValueData"), Test::OneOf(vec![value])),
            ])));
        }
        if t.eq_ignore_ascii_case("Binary Data") {
            return Ok(Some(kind_is("Binary")));
        }
        Ok(None)
    }
}
