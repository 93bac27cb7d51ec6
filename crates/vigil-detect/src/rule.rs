//! Sigma rules as Vigil reads them: detection rules, correlation rules and filters,
//! from single files or multi-document collections, each checked against the
//! specification so that a rule Vigil cannot run is reported with the reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::condition::{self, Condition, pattern_matches};
use crate::modifier::{self, Modifier};

/// Where a rule's events come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

/// A value to match, as written in the rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, possibly with `*` and `?` wildcards (escaped with `\`).
    Str(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Null,
}

impl Value {
    /// The value as rule text (empty for null).
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Real(r) => r.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
        }
    }
}

/// One `field|modifiers: values` item of a selection.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMatch {
    /// `None` for keyword (keyless) values.
    pub field: Option<String>,
    pub modifiers: Vec<Modifier>,
    pub values: Vec<Value>,
}

/// A named detection item: one or more maps (any of which may match; every item of a
/// map must match), or a list of keywords.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    Maps(Vec<Vec<FieldMatch>>),
    Keywords(FieldMatch),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub selections: BTreeMap<String, Selection>,
    /// A rule may list several conditions; any of them raises the alert.
    pub conditions: Vec<Condition>,
}

/// The kinds of correlation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

/// `condition` of a correlation: a comparison with a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub op: String,
    pub value: i64,
    /// For `value_count`: the field whose distinct values are counted.
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub kind: CorrelationKind,
    /// The rules (by id or name) whose matches are correlated.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    /// A `group-by` name that stands for differently named fields in each rule:
    /// alias → (rule id or name → field).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// The window, in seconds.
    pub timespan: u64,
    pub threshold: Option<Threshold>,
}

/// A Sigma filter: a detection that removes matches of the rules it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub rules: Vec<String>,
    pub detection: Detection,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuleBody {
    Detection(Detection),
    Correlation(Correlation),
    Filter(Filter),
}

/// One loaded rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub file: PathBuf,
    /// Position of the document in a multi-document file (0 for the first).
    pub document: usize,
    pub id: Option<String>,
    /// The `name` a correlation refers to the rule by, if it has one.
    pub name: Option<String>,
    pub title: String,
    pub level: Option<String>,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub logsource: LogSource,
    pub body: RuleBody,
}

/// A rule that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: PathBuf,
    pub document: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.document > 0 {
            write!(
                f,
                "{} (document {}): {}",
                self.file.display(),
                self.document + 1,
                self.message
            )
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

/// Everything read from a set of files: the rules, and the documents that failed.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<Rule>,
    pub errors: Vec<RuleError>,
}

/// Reads every `.yml`/`.yaml` file under `path` (or the one file it names), files
/// parsed on every core; rules and errors come in file-name order.
pub fn load_path(path: &Path) -> Loaded {
    use rayon::prelude::*;
    let mut files = Vec::new();
    collect_files(path, &mut files);
    files.sort();
    let per_file: Vec<Loaded> = files
        .into_par_iter()
        .map(|file| match std::fs::read_to_string(&file) {
            Ok(text) => load_text(&file, &text),
            Err(e) => Loaded {
                rules: Vec::new(),
                errors: vec![RuleError {
                    file,
                    document: 0,
                    message: format!("cannot read the file: {e}"),
                }],
            },
        })
        .collect();
    let mut loaded = Loaded::default();
    for one in per_file {
        loaded.rules.extend(one.rules);
        loaded.errors.extend(one.errors);
    }
    loaded
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            collect_files(&entry.path(), out);
        }
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
    {
        out.push(path.to_path_buf());
    }
}

/// Reads the rules of one file's text (one rule, or a collection of documents with
/// `action: global` / `reset` / `repeat`).
pub fn load_text(file: &Path, text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    let docs = match YamlLoader::load_from_str(text) {
        Ok(d) => d,
        Err(e) => {
            loaded.errors.push(RuleError {
                file: file.to_path_buf(),
                document: 0,
                message: format!("not valid YAML: {e}"),
            });
            return loaded;
        }
    };
    let mut global: Option<Yaml> = None;
    let mut previous: Option<Yaml> = None;
    for (i, doc) in docs.into_iter().enumerate() {
        let err = |message: String| RuleError {
            file: file.to_path_buf(),
            document: i,
            message,
        };
        let action = doc["action"].as_str().map(str::to_string);
        let doc = match action.as_deref() {
            Some("global") => {
                global = Some(without_action(doc));
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            Some("repeat") => match &previous {
                Some(p) => merge(p.clone(), without_action(doc)),
                None => {
                    loaded
                        .errors
                        .push(err("`action: repeat` with no document before it".into()));
                    continue;
                }
            },
            Some(other) => {
                loaded
                    .errors
                    .push(err(format!("unknown collection action `{other}`")));
                continue;
            }
            None => match &global {
                Some(g) => merge(g.clone(), doc),
                None => doc,
            },
        };
        previous = Some(doc.clone());
        match rule_of(file, i, &doc) {
            Ok(rule) => loaded.rules.push(rule),
            Err(message) => loaded.errors.push(err(message)),
        }
    }
    loaded
}

fn without_action(doc: Yaml) -> Yaml {
    match doc {
        Yaml::Hash(mut h) => {
            h.remove(&Yaml::String("action".into()));
            Yaml::Hash(h)
        }
        other => other,
    }
}

/// Merges `over` into `base`, maps key by key (collections combine a global part with
/// each document).
fn merge(base: Yaml, over: Yaml) -> Yaml {
    match (base, over) {
        (Yaml::Hash(mut b), Yaml::Hash(o)) => {
            for (k, v) in o {
                let merged = match b.remove(&k) {
                    Some(old) => merge(old, v),
                    None => v,
                };
                b.insert(k, merged);
            }
            Yaml::Hash(b)
        }
        (_, over) => over,
    }
}

/// A YAML scalar as text.
pub(crate) fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A YAML scalar or list of scalars as texts.
pub(crate) fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(items) => items.iter().filter_map(text).collect(),
        other => text(other).into_iter().collect(),
    }
}

fn rule_of(file: &Path, document: usize, doc: &Yaml) -> Result<Rule, String> {
    if !matches!(doc, Yaml::Hash(_)) {
        return Err("a rule must be a YAML map".into());
    }
    let title = doc["title"]
        .as_str()
        .ok_or("the rule has no `title`")?
        .to_string();
    let logsource = LogSource {
        product: text(&doc["logsource"]["product"]),
        category: text(&doc["logsource"]["category"]),
        service: text(&doc["logsource"]["service"]),
    };
    let body = if !doc["correlation"].is_badvalue() {
        RuleBody::Correlation(correlation_of(&doc["correlation"])?)
    } else if !doc["filter"].is_badvalue() {
        let f = &doc["filter"];
        let rules = strings(&f["rules"]);
        if rules.is_empty() {
            return Err("a filter must name the rules it applies to in `filter.rules`".into());
        }
        RuleBody::Filter(Filter {
            rules,
            detection: detection_of(f)?,
        })
    } else if !doc["detection"].is_badvalue() {
        RuleBody::Detection(detection_of(&doc["detection"])?)
    } else {
        return Err("the rule has no `detection`, `correlation` or `filter`".into());
    };
    Ok(Rule {
        file: file.to_path_buf(),
        document,
        id: text(&doc["id"]),
        name: text(&doc["name"]),
        title,
        level: text(&doc["level"]),
        status: text(&doc["status"]),
        tags: strings(&doc["tags"]),
        logsource,
        body,
    })
}

fn value_of(y: &Yaml) -> Result<Value, String> {
    Ok(match y {
        Yaml::String(s) => Value::Str(s.clone()),
        Yaml::Integer(i) => Value::Int(*i),
        Yaml::Real(r) => Value::Real(r.parse().map_err(|_| format!("bad number {r}"))?),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        other => {
            return Err(format!(
                "a value must be a string, number, boolean or null, not {other:?}"
            ));
        }
    })
}

fn values_of(y: &Yaml) -> Result<Vec<Value>, String> {
    match y {
        Yaml::Array(items) => items.iter().map(value_of).collect(),
        other => Ok(vec![value_of(other)?]),
    }
}

fn field_match(key: &str, values: &Yaml) -> Result<FieldMatch, String> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let modifiers = modifier::parse_chain(&rest).map_err(|e| format!("field `{key}`: {e}"))?;
    let values = values_of(values)?;
    check_values(key, &modifiers, &values)?;
    Ok(FieldMatch {
        field: (!field.is_empty()).then(|| field.to_string()),
        modifiers,
        values,
    })
}

/// Values that a modifier cannot work with are caught at load time.
fn check_values(key: &str, modifiers: &[Modifier], values: &[Value]) -> Result<(), String> {
    for v in values {
        if modifiers.contains(&Modifier::Re)
            && let Value::Str(pattern) = v
        {
            regex::Regex::new(pattern).map_err(|e| {
                let detail = e.to_string();
                let detail = detail.lines().last().unwrap_or_default().trim();
                format!("field `{key}`: the regular expression cannot run here ({detail})")
            })?;
        }
        if modifiers.contains(&Modifier::Cidr) {
            let Value::Str(net) = v else {
                return Err(format!("field `{key}`: cidr values must be strings"));
            };
            crate::value::parse_cidr(net)
                .ok_or_else(|| format!("field `{key}`: `{net}` is not an IPv4 or IPv6 network"))?;
        }
        if modifiers.contains(&Modifier::Exists) && !matches!(v, Value::Bool(_)) {
            return Err(format!("field `{key}`: `exists` takes true or false"));
        }
        let numeric = modifiers.iter().any(|m| {
            matches!(
                m,
                Modifier::Gt | Modifier::Gte | Modifier::Lt | Modifier::Lte
            )
        });
        if numeric && !matches!(v, Value::Int(_) | Value::Real(_)) {
            return Err(format!("field `{key}`: comparisons take numbers"));
        }
    }
    Ok(())
}

fn selection_of(name: &str, y: &Yaml) -> Result<Selection, String> {
    let map = |h: &yaml_rust2::yaml::Hash| -> Result<Vec<FieldMatch>, String> {
        h.iter()
            .map(|(k, v)| {
                let key = text(k).ok_or_else(|| format!("`{name}`: a field name must be text"))?;
                field_match(&key, v)
            })
            .collect()
    };
    match y {
        Yaml::Hash(h) => Ok(Selection::Maps(vec![map(h)?])),
        Yaml::Array(items) if items.iter().all(|i| matches!(i, Yaml::Hash(_))) => {
            let maps = items
                .iter()
                .map(|i| match i {
                    Yaml::Hash(h) => map(h),
                    _ => unreachable!("checked above"),
                })
                .collect::<Result<_, _>>()?;
            Ok(Selection::Maps(maps))
        }
        Yaml::Array(items) if items.iter().any(|i| matches!(i, Yaml::Hash(_))) => {
            Err(format!("`{name}` mixes maps and plain values in one list"))
        }
        other => Ok(Selection::Keywords(FieldMatch {
            field: None,
            modifiers: vec![],
            values: values_of(other)?,
        })),
    }
}

fn detection_of(y: &Yaml) -> Result<Detection, String> {
    let Yaml::Hash(h) = y else {
        return Err("`detection` must be a map".into());
    };
    let mut selections = BTreeMap::new();
    let mut condition_texts = Vec::new();
    for (k, v) in h {
        let key = text(k).ok_or("a detection name must be text")?;
        match key.as_str() {
            "condition" => condition_texts = strings(v),
            "timeframe" => {}
            "rules" => {}
            _ => {
                selections.insert(key.clone(), selection_of(&key, v)?);
            }
        }
    }
    if condition_texts.is_empty() {
        return Err("the detection has no `condition`".into());
    }
    let mut conditions = Vec::new();
    for c in &condition_texts {
        let parsed = condition::parse(c).map_err(|e| format!("condition `{c}`: {e}"))?;
        for r in parsed.references() {
            let known = if r.contains('*') || r.contains('?') {
                selections.keys().any(|s| pattern_matches(r, s))
            } else {
                selections.contains_key(r)
            };
            if !known {
                return Err(format!(
                    "condition `{c}` names `{r}`, which the detection lacks"
                ));
            }
        }
        conditions.push(parsed);
    }
    Ok(Detection {
        selections,
        conditions,
    })
}

/// A Sigma timespan (`5m`, `1h`, `30s`, `2d`) in seconds.
pub fn timespan_seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    Some(match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 604_800,
        "M" => n * 2_592_000,
        "y" => n * 31_536_000,
        _ => return None,
    })
}

fn correlation_of(y: &Yaml) -> Result<Correlation, String> {
    let kind = match y["type"].as_str() {
        Some("event_count") => CorrelationKind::EventCount,
        Some("value_count") => CorrelationKind::ValueCount,
        Some("temporal") => CorrelationKind::Temporal,
        Some("temporal_ordered") => CorrelationKind::TemporalOrdered,
        Some(other) => return Err(format!("unknown correlation type `{other}`")),
        None => return Err("the correlation has no `type`".into()),
    };
    let rules = strings(&y["rules"]);
    if rules.is_empty() {
        return Err("the correlation names no `rules`".into());
    }
    let span = text(&y["timespan"]).ok_or("the correlation has no `timespan`")?;
    let timespan = timespan_seconds(&span).ok_or_else(|| format!("`{span}` is not a timespan"))?;
    let threshold = match &y["condition"] {
        Yaml::Hash(h) => {
            let mut op = None;
            let mut field = None;
            for (k, v) in h {
                match text(k).as_deref() {
                    Some(o @ ("gt" | "gte" | "lt" | "lte" | "eq")) => {
                        let value = v
                            .as_i64()
                            .ok_or("a correlation threshold must be a number")?;
                        op = Some((o.to_string(), value));
                    }
                    Some("field") => field = text(v),
                    Some(other) => return Err(format!("unknown correlation condition `{other}`")),
                    None => return Err("bad correlation condition".into()),
                }
            }
            let (op, value) = op.ok_or("the correlation condition has no comparison")?;
            Some(Threshold { op, value, field })
        }
        Yaml::BadValue => None,
        _ => return Err("the correlation `condition` must be a map".into()),
    };
    let needs_threshold = matches!(
        kind,
        CorrelationKind::EventCount | CorrelationKind::ValueCount
    );
    if needs_threshold && threshold.is_none() {
        return Err("event_count and value_count correlations need a `condition`".into());
    }
    if kind == CorrelationKind::ValueCount && threshold.as_ref().is_some_and(|t| t.field.is_none())
    {
        return Err("a value_count correlation needs `condition.field`".into());
    }
    let mut aliases = BTreeMap::new();
    if let Yaml::Hash(h) = &y["aliases"] {
        for (alias, per_rule) in h {
            let (Some(alias), Yaml::Hash(per_rule)) = (text(alias), per_rule) else {
                return Err("correlation `aliases` map each alias to rule: field pairs".into());
            };
            let mut fields = BTreeMap::new();
            for (rule, field) in per_rule {
                match (text(rule), text(field)) {
                    (Some(r), Some(f)) => {
                        fields.insert(r, f);
                    }
                    _ => return Err(format!("alias `{alias}`: each rule names one field")),
                }
            }
            aliases.insert(alias, fields);
        }
    }
    Ok(Correlation {
        kind,
        rules,
        aliases,
        group_by: strings(&y["group-by"]),
        timespan,
        threshold,
    })
}
