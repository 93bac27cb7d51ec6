//! Sigma rules as KQL over Vigil's tables.
//!
//! A resolved rule becomes one KQL query (`Table | where <source rows> and
//! (<condition>)`), run by `vigil-kql` on DataFusion, so a rule is evaluated column by
//! column over Arrow batches, and the query an alert came from can be shown to the
//! analyst and re-run by hand.
//!
//! Limitation: each rule is its own query, so N rules over one table are N scans of it;
//! sharing one scan (and one multi-pattern search per field) across rules is still to
//! come.

use base64::Engine as _;
use vigil_schema::{Catalog, KqlType};

use crate::condition::{Condition, pattern_matches};
use crate::mapping::{Form, Location, Resolved};
use crate::modifier::Modifier;
use crate::rule::{Detection, FieldMatch, Rule, RuleBody, Selection, Value};

/// A KQL string literal (verbatim, so backslashes stay as written).
fn quote(s: &str) -> String {
    format!("@\"{}\"", s.replace('"', "\"\""))
}

struct Compiler<'a> {
    resolved: &'a Resolved<'a>,
    catalog: &'a Catalog,
}

/// The table and query for a rule: the first source that can answer it whose query
/// can be written (a value the first source cannot translate, such as a partial
/// registry number, moves the rule to the next source), or why there is none.
pub fn compile(
    rule: &Rule,
    mapping: &crate::Mapping,
    catalog: &Catalog,
) -> Result<(String, String), String> {
    let mut first_error = None;
    for resolved in mapping.resolve_all(rule, catalog)? {
        match rule_query(rule, &resolved, catalog) {
            Ok(q) => return Ok((resolved.source.table.clone(), q)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "no source".into()))
}

/// The query that finds a rule's matches.
pub fn rule_query(
    rule: &Rule,
    resolved: &Resolved<'_>,
    catalog: &Catalog,
) -> Result<String, String> {
    let detection: &Detection = match &rule.body {
        RuleBody::Detection(d) => d,
        _ => return Err("only detection rules become queries".into()),
    };
    let c = Compiler { resolved, catalog };
    let source = resolved.source;
    let mut parts = Vec::new();
    for (column, values) in &source.filter {
        let numeric = c.is_numeric(column);
        let items: Vec<String> = values
            .iter()
            .map(|v| if numeric { v.clone() } else { quote(v) })
            .collect();
        parts.push(if numeric {
            format!("{column} in ({})", items.join(", "))
        } else {
            format!("{column} in~ ({})", items.join(", "))
        });
    }
    let conditions = detection
        .conditions
        .iter()
        .map(|cond| c.condition(cond, detection))
        .collect::<Result<Vec<_>, _>>()?;
    parts.push(format!("({})", conditions.join(" or ")));
    Ok(format!(
        "{}\n| where {}",
        source.table,
        parts.join("\n    and ")
    ))
}

impl Compiler<'_> {
    fn column_type(&self, column: &str) -> Option<KqlType> {
        self.catalog
            .table(&self.resolved.source.table)?
            .column(column)
            .map(|c| c.kql_type)
    }

    fn is_numeric(&self, column: &str) -> bool {
        matches!(
            self.column_type(column),
            Some(KqlType::Int | KqlType::Long | KqlType::Real)
        )
    }

    fn condition(&self, c: &Condition, d: &Detection) -> Result<String, String> {
        let names_matching = |p: &str| -> Vec<&String> {
            d.selections
                .keys()
                .filter(|k| pattern_matches(p, k))
                .collect()
        };
        let group = |names: Vec<&String>, op: &str| -> Result<String, String> {
            let parts = names
                .into_iter()
                .map(|n| self.selection(&d.selections[n]))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("({})", parts.join(op)))
        };
        Ok(match c {
            Condition::Ident(n) => self.selection(&d.selections[n])?,
            Condition::OneOf(p) => group(names_matching(p), " or ")?,
            Condition::AllOf(p) => group(names_matching(p), " and ")?,
            Condition::OneOfThem => group(d.selections.keys().collect(), " or ")?,
            Condition::AllOfThem => group(d.selections.keys().collect(), " and ")?,
            Condition::Not(inner) => format!("not({})", self.condition(inner, d)?),
            Condition::And(a, b) => {
                format!("({} and {})", self.condition(a, d)?, self.condition(b, d)?)
            }
            Condition::Or(a, b) => {
                format!("({} or {})", self.condition(a, d)?, self.condition(b, d)?)
            }
        })
    }

    fn selection(&self, s: &Selection) -> Result<String, String> {
        match s {
            Selection::Maps(maps) => {
                let ors = maps
                    .iter()
                    .map(|m| {
                        let ands = m
                            .iter()
                            .map(|f| self.field_match(f))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(format!("({})", ands.join(" and ")))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(format!("({})", ors.join(" or ")))
            }
            Selection::Keywords(k) => {
                let columns = &self.resolved.source.keywords;
                let mut ors = Vec::new();
                for v in &k.values {
                    let Value::Str(text) = v else {
                        return Err("keyword lists take strings".into());
                    };
                    // A keyword is searched for anywhere in the text.
                    for column in columns {
                        let target = format!("tostring({column})");
                        ors.push(text_test(&target, text, &[Modifier::Contains])?);
                    }
                }
                Ok(format!("({})", ors.join(" or ")))
            }
        }
    }

    /// The KQL expression for where a field's value is.
    fn location(&self, loc: &Location) -> Result<(String, bool), String> {
        Ok(match &loc.form {
            Form::Column(c) => (c.clone(), self.is_numeric(c)),
            Form::Json { column, path } => {
                let mut e = format!("parse_json(tostring({column}))");
                for key in path {
                    e = format!("{e}[{}]", quote(key));
                }
                (format!("tostring({e})"), false)
            }
            Form::Join { parts, sep } => {
                let parts = parts
                    .iter()
                    .map(|p| self.location(p).map(|(e, _)| format!("tostring({e})")))
                    .collect::<Result<Vec<_>, _>>()?;
                let [a, b] = &parts[..] else {
                    return Err("a join of other than two parts is not supported yet".into());
                };
                (
                    format!(
                        "iff(isempty({a}), {b}, iff(isempty({b}), {a}, strcat({a}, {}, {b})))",
                        quote(sep)
                    ),
                    false,
                )
            }
            Form::ByAction(actions) => {
                let mut arms = Vec::new();
                for (action, l) in actions {
                    let (e, _) = self.location(l)?;
                    arms.push(format!("ActionType == {}, tostring({e})", quote(action)));
                }
                (format!("case({}, \"\")", arms.join(", ")), false)
            }
            Form::Values { inner, .. } => self.location(inner)?,
            Form::Hashes(_) | Form::Unmapped(_) => {
                return Err("this field form has no single location".into());
            }
        })
    }

    /// Keyword values with modifiers (`'|all': [a, b]`): each value searched for in
    /// the keyword columns.
    fn keyword_match(&self, m: &FieldMatch) -> Result<String, String> {
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
        let mut per_value = Vec::new();
        for v in &m.values {
            let ors = self
                .resolved
                .source
                .keywords
                .iter()
                .map(|c| text_test(&format!("tostring({c})"), &v.text(), &modifiers))
                .collect::<Result<Vec<_>, _>>()?;
            per_value.push(format!("({})", ors.join(" or ")));
        }
        let op = if m.modifiers.contains(&Modifier::All) {
            " and "
        } else {
            " or "
        };
        Ok(format!("({})", per_value.join(op)))
    }

    fn field_match(&self, m: &FieldMatch) -> Result<String, String> {
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
                    Ok(format!("{column} =~ {}", quote(hex)))
                })
                .collect::<Result<Vec<_>, String>>()?;
            return Ok(format!("({})", tests.join(" or ")));
        }
        let (target, numeric) = self.location(loc)?;
        let has = |x: Modifier| m.modifiers.contains(&x);
        let all = has(Modifier::All);
        if has(Modifier::Exists) {
            let want = matches!(m.values.first(), Some(Value::Bool(true)));
            return Ok(if want {
                format!("isnotempty({target})")
            } else {
                format!("isempty({target})")
            });
        }
        if has(Modifier::Expand) {
            return Err(format!(
                "field `{field}`: `expand` placeholders have no values configured"
            ));
        }
        let mut tests = Vec::new();
        for v in &m.values {
            tests.push(self.value_test(field, &target, numeric, loc, &m.modifiers, v)?);
        }
        let op = if all { " and " } else { " or " };
        Ok(format!("({})", tests.join(op)))
    }

    fn value_test(
        &self,
        field: &str,
        target: &str,
        numeric: bool,
        loc: &Location,
        modifiers: &[Modifier],
        v: &Value,
    ) -> Result<String, String> {
        let has = |x: Modifier| modifiers.contains(&x);
        if let Form::Values { values, inner } = &loc.form {
            let stored = values
                .get(&v.text().to_lowercase())
                .ok_or_else(|| format!("field `{field}`: no stored value for `{}`", v.text()))?;
            let (column, _) = self.location(inner)?;
            let items: Vec<String> = stored.iter().map(|s| quote(s)).collect();
            return Ok(format!("{column} in~ ({})", items.join(", ")));
        }
        if let Some(op) = [
            (Modifier::Gt, ">"),
            (Modifier::Gte, ">="),
            (Modifier::Lt, "<"),
            (Modifier::Lte, "<="),
        ]
        .iter()
        .find(|(m, _)| has(*m))
        .map(|(_, o)| o)
        {
            return Ok(format!("toreal({target}) {op} {}", v.text()));
        }
        if has(Modifier::FieldRef) {
            let other = v.text();
            let loc =
                self.resolved.fields.get(&other).ok_or_else(|| {
                    format!("field `{field}`: fieldref `{other}` has no location")
                })?;
            let (other_expr, _) = self.location(loc)?;
            return Ok(format!("tostring({target}) =~ tostring({other_expr})"));
        }
        if has(Modifier::Cidr) {
            let net = v.text();
            if net.contains(':') {
                return Err(format!(
                    "field `{field}`: IPv6 networks are not translated yet"
                ));
            }
            return Ok(format!(
                "ipv4_is_in_range(tostring({target}), {})",
                quote(&net)
            ));
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
            return Ok(format!(
                "tostring({target}) matches regex {}",
                quote(&pattern)
            ));
        }
        match v {
            Value::Null => return Ok(format!("isempty({target})")),
            Value::Int(_) | Value::Real(_) if numeric => {
                return Ok(format!("{target} == {}", v.text()));
            }
            Value::Str(s) if numeric && !has_position(modifiers) => {
                if let Some(n) = number(s) {
                    return Ok(format!("{target} == {n}"));
                }
            }
            _ => {}
        }
        let text = v.text();
        if text.is_empty() || text == "-" {
            return Ok(format!("isempty({target})"));
        }
        if loc.convert.as_deref() == Some("registry_details")
            && let Some(test) = registry_details(field, &text)?
        {
            return Ok(test);
        }
        let target = if numeric {
            format!("tostring({target})")
        } else {
            target.to_string()
        };
        let mut variants = vec![match loc.convert.as_deref() {
            Some("long_hive_names") => long_hive(&text),
            _ => text,
        }];
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
                .collect();
        }
        let tests = variants
            .iter()
            .map(|t| text_test(&target, t, modifiers))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if tests.len() == 1 {
            tests.into_iter().next().unwrap_or_default()
        } else {
            format!("({})", tests.join(" or "))
        })
    }
}

/// Sysmon's registry `Details` as the normaliser splits them: `DWORD (0x00000010)` is
/// type Dword with data 16, `QWORD (0xhi-0xlo)` type Qword, `Binary Data` type Binary.
/// `None` means string data, tested as usual.
fn registry_details(field: &str, text: &str) -> Result<Option<String>, String> {
    let t = text.trim_matches('*');
    let parse = |n: &str| number(n.trim());
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
            return Ok(Some(format!("RegistryValueType =~ {}", quote(kind))));
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
        return Ok(Some(format!(
            "(RegistryValueType =~ {} and RegistryValueData == {})",
            quote(kind),
            quote(&value)
        )));
    }
    if t.eq_ignore_ascii_case("Binary Data") {
        return Ok(Some(format!("RegistryValueType =~ {}", quote("Binary"))));
    }
    Ok(None)
}

fn has_position(modifiers: &[Modifier]) -> bool {
    modifiers.iter().any(|m| {
        matches!(
            m,
            Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith
        )
    })
}

fn number(s: &str) -> Option<i64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn encode(text: &str, wide: bool, big_endian: bool) -> Vec<u8> {
    if wide || big_endian {
        text.encode_utf16()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    } else {
        text.as_bytes().to_vec()
    }
}

/// The three base64 forms of `bytes` at each offset inside a longer encoded text, with
/// the characters that depend on the unknown neighbours cut off.
fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    let engine = base64::engine::general_purpose::STANDARD;
    (0..3)
        .map(|shift| {
            let mut padded = vec![0u8; shift];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            // Leading characters mix in the bytes before; trailing ones (and the
            // padding) the bytes after.
            let start = [0, 2, 3][shift];
            let end = encoded.len().saturating_sub([0, 3, 2][padded.len() % 3]);
            encoded.get(start..end).unwrap_or("").to_string()
        })
        .collect()
}

/// Windows command-line switches accept `-`, `/` and look-alike dashes.
fn windash(text: &str) -> Vec<String> {
    let dashes = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let mut out = vec![String::new()];
    let mut previous: Option<char> = None;
    for c in text.chars() {
        let at_switch = c == '-' && previous.is_none_or(|p| p == ' ');
        if at_switch {
            out = out
                .into_iter()
                .flat_map(|prefix| dashes.iter().map(move |d| format!("{prefix}{d}")))
                .collect();
        } else {
            for o in &mut out {
                o.push(c);
            }
        }
        previous = Some(c);
    }
    out
}

fn long_hive(text: &str) -> String {
    for (short, long) in [
        ("HKLM", "HKEY_LOCAL_MACHINE"),
        ("HKU", "HKEY_USERS"),
        ("HKCU", "HKEY_CURRENT_USER"),
        ("HKCR", "HKEY_CLASSES_ROOT"),
        ("HKCC", "HKEY_CURRENT_CONFIG"),
    ] {
        let head = text.get(..short.len());
        let rest = text.get(short.len()..).unwrap_or_default();
        if head.is_some_and(|h| h.eq_ignore_ascii_case(short))
            && (rest.is_empty() || rest.starts_with('\\'))
        {
            return format!("{long}{rest}");
        }
    }
    text.to_string()
}

/// A text test with Sigma's wildcards (`*`, `?`, `\` escapes) and position modifiers,
/// case-insensitive unless `cased`.
fn text_test(target: &str, text: &str, modifiers: &[Modifier]) -> Result<String, String> {
    let has = |x: Modifier| modifiers.contains(&x);
    let cased = has(Modifier::Cased);
    // Split the value into literal text and wildcards.
    let mut pieces: Vec<Result<String, char>> = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                literal.push(chars.next().unwrap_or('\\'));
            }
            '*' | '?' => {
                if !literal.is_empty() {
                    pieces.push(Ok(std::mem::take(&mut literal)));
                }
                pieces.push(Err(c));
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        pieces.push(Ok(literal));
    }
    let mut start_anchor = !(has(Modifier::Contains) || has(Modifier::EndsWith));
    let mut end_anchor = !(has(Modifier::Contains) || has(Modifier::StartsWith));
    if let Some(Err('*')) = pieces.first() {
        pieces.drain(..1);
        start_anchor = false;
    }
    if let Some(Err('*')) = pieces.last() {
        pieces.pop();
        end_anchor = false;
    }
    let wildcards_inside = pieces.iter().any(|p| p.is_err());
    if !wildcards_inside {
        let lit = pieces
            .into_iter()
            .map(|p| p.unwrap_or_default())
            .collect::<String>();
        let q = quote(&lit);
        let cs = if cased { "_cs" } else { "" };
        return Ok(match (start_anchor, end_anchor) {
            (true, true) if cased => format!("{target} == {q}"),
            (true, true) => format!("{target} =~ {q}"),
            (true, false) => format!("{target} startswith{cs} {q}"),
            (false, true) => format!("{target} endswith{cs} {q}"),
            (false, false) => format!("{target} contains{cs} {q}"),
        });
    }
    let mut re = String::new();
    if !cased {
        re.push_str("(?i)");
    }
    if start_anchor {
        re.push('^');
    }
    for p in pieces {
        match p {
            Ok(t) => re.push_str(&regex::escape(&t)),
            Err('*') => re.push_str("(?s:.*)"),
            Err(_) => re.push_str("(?s:.)"),
        }
    }
    if end_anchor {
        re.push('$');
    }
    Ok(format!("{target} matches regex {}", quote(&re)))
}

#[cfg(test)]
pub(crate) fn test_text(target: &str, text: &str, modifiers: &[Modifier]) -> String {
    text_test(target, text, modifiers).unwrap_or_default()
}

#[cfg(test)]
pub(crate) fn test_windash(text: &str) -> Vec<String> {
    windash(text)
}

#[cfg(test)]
pub(crate) fn test_base64_offsets(text: &str) -> Vec<String> {
    base64_offsets(text.as_bytes())
}
