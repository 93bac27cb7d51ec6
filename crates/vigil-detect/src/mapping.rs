//! Field mapping: where the data a Sigma rule names lives in Vigil's tables (the format
//! is described in `mapping/README.md`). A mapping is loaded and checked against the
//! table catalog, then asked, rule by rule, which source can answer it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use vigil_schema::Catalog;
use yaml_rust2::{Yaml, YamlLoader};

use crate::modifier::Modifier;
use crate::rule::{FieldMatch, Rule, RuleBody, Selection, text};

/// The mapping shipped with Vigil for `product: windows`.
pub const WINDOWS: &str = include_str!("../mapping/windows.yaml");

/// Where a Sigma field's value is.
#[derive(Debug, Clone, PartialEq)]
pub enum Form {
    Column(String),
    /// A key path inside a column holding a JSON object.
    Json {
        column: String,
        path: Vec<String>,
    },
    Join {
        parts: Vec<Location>,
        sep: String,
    },
    /// The location depends on the row's ActionType.
    ByAction(Vec<(String, Location)>),
    /// Rule values are translated to stored values (plain equality only).
    Values {
        inner: Box<Location>,
        values: HashMap<String, Vec<String>>,
    },
    /// Sysmon's `Hashes` as one column per algorithm.
    Hashes(Vec<(String, String)>),
    Unmapped(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub form: Form,
    pub convert: Option<String>,
    pub decode_json_array: bool,
}

/// Where fields a source does not list are looked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtherFields {
    /// A column of the same name, when the table has one.
    pub column: bool,
    /// A key of that name inside this JSON column.
    pub json: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub table: String,
    pub filter: Vec<(String, Vec<String>)>,
    pub fields: BTreeMap<String, Location>,
    pub other_fields: OtherFields,
    pub keywords: Vec<String>,
}

impl Source {
    /// Where `field` is in this source: its own mapping, else a column of that name or
    /// a key of the source's JSON column, when the source allows them.
    pub fn location_of(&self, field: &str, catalog: &Catalog) -> Option<Location> {
        if let Some(l) = self.fields.get(field) {
            return Some(l.clone());
        }
        let table = catalog.table(&self.table);
        let form = if self.other_fields.column && table.is_some_and(|t| t.column(field).is_some()) {
            Form::Column(field.to_string())
        } else {
            Form::Json {
                column: self.other_fields.json.clone()?,
                path: vec![field.to_string()],
            }
        };
        Some(Location {
            form,
            convert: None,
            decode_json_array: false,
        })
    }
}

/// An entry for a category or service.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Sources(Vec<Source>),
    Unmapped(String),
}

/// A mistake in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    pub entry: String,
    pub message: String,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entry, self.message)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub product: String,
    pub categories: BTreeMap<String, Entry>,
    pub services: BTreeMap<String, Entry>,
    /// Values of the `%name%` placeholders that rules use with `expand`.
    pub placeholders: BTreeMap<String, Vec<String>>,
}

/// The source that will answer a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'m> {
    pub source: &'m Source,
    /// Each field the rule uses and where it is.
    pub fields: BTreeMap<String, Location>,
}

fn texts(y: &Yaml) -> Vec<String> {
    crate::rule::strings(y)
}

/// Splits `Column.a.b` or `Column['key with spaces']` into the column and the path.
fn json_path(text: &str) -> (String, Vec<String>) {
    let (column, mut rest) = match text.find(['.', '[']) {
        Some(i) => (text[..i].to_string(), &text[i..]),
        None => return (text.to_string(), vec![]),
    };
    let mut path = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").unwrap_or(r.len());
            path.push(r[..end].to_string());
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            path.push(r[..end].to_string());
            rest = &r[end..];
        } else {
            path.push(rest.to_string());
            break;
        }
    }
    (column, path)
}

struct Checker<'c> {
    catalog: &'c Catalog,
    errors: Vec<MappingError>,
}

impl Checker<'_> {
    fn report(&mut self, entry: &str, message: String) {
        self.errors.push(MappingError {
            entry: entry.to_string(),
            message,
        });
    }

    fn location(&mut self, entry: &str, table: &str, y: &Yaml) -> Option<Location> {
        let column_form = |c: &str| -> Form {
            let (column, path) = json_path(c);
            if path.is_empty() {
                Form::Column(column)
            } else {
                Form::Json { column, path }
            }
        };
        let (form, convert, decode) = match y {
            Yaml::String(s) => (column_form(s), None, false),
            Yaml::Hash(_) => {
                let convert = text(&y["convert"]);
                let decode = match text(&y["decode"]).as_deref() {
                    None => false,
                    Some("json_array") => true,
                    Some(other) => {
                        self.report(entry, format!("unknown decode `{other}`"));
                        false
                    }
                };
                if let Some(c) = &convert
                    && !matches!(c.as_str(), "long_hive_names" | "registry_details")
                {
                    self.report(entry, format!("unknown convert `{c}`"));
                }
                let form = if let Some(reason) = text(&y["unmapped"]) {
                    Form::Unmapped(reason)
                } else if let Yaml::Array(parts) = &y["join"] {
                    let parts = parts
                        .iter()
                        .filter_map(|p| self.location(entry, table, p))
                        .collect();
                    let sep = text(&y["sep"]).unwrap_or_else(|| "\\".to_string());
                    Form::Join { parts, sep }
                } else if let Yaml::Hash(actions) = &y["by_action"] {
                    let mut out = Vec::new();
                    for (k, v) in actions {
                        if let (Some(k), Some(l)) = (text(k), self.location(entry, table, v)) {
                            out.push((k, l));
                        }
                    }
                    Form::ByAction(out)
                } else if let Yaml::Hash(algos) = &y["hashes"] {
                    Form::Hashes(
                        algos
                            .iter()
                            .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
                            .inspect(|(_, c)| self.column(entry, table, c))
                            .collect(),
                    )
                } else if let Some(c) = text(&y["column"]) {
                    let inner = column_form(&c);
                    if let Yaml::Hash(vals) = &y["values"] {
                        let values = vals
                            .iter()
                            .filter_map(|(k, v)| Some((text(k)?.to_lowercase(), texts(v))))
                            .collect();
                        Form::Values {
                            inner: Box::new(Location {
                                form: inner,
                                convert: None,
                                decode_json_array: false,
                            }),
                            values,
                        }
                    } else {
                        inner
                    }
                } else {
                    self.report(
                        entry,
                        "a field map needs column, join, by_action, hashes or unmapped".into(),
                    );
                    return None;
                };
                (form, convert, decode)
            }
            _ => {
                self.report(entry, "a field maps to a text or a map".into());
                return None;
            }
        };
        match &form {
            Form::Column(c) | Form::Json { column: c, .. } => self.column(entry, table, c),
            Form::Values { inner, .. } => {
                if let Form::Column(c) | Form::Json { column: c, .. } = &inner.form {
                    self.column(entry, table, c);
                }
            }
            _ => {}
        }
        Some(Location {
            form,
            convert,
            decode_json_array: decode,
        })
    }

    fn column(&mut self, entry: &str, table: &str, column: &str) {
        let known = self
            .catalog
            .table(table)
            .is_some_and(|t| t.column(column).is_some());
        if !known {
            self.errors.push(MappingError {
                entry: entry.to_string(),
                message: format!("{table} has no column `{column}`"),
            });
        }
    }
}

impl Mapping {
    /// Reads mapping files in order; an entry in a later file replaces the entry of the
    /// same name. Mistakes are returned beside the mapping; a bad entry is skipped.
    pub fn load(texts_in_order: &[&str], catalog: &Catalog) -> (Mapping, Vec<MappingError>) {
        let mut checker = Checker {
            catalog,
            errors: Vec::new(),
        };
        let mut mapping = Mapping::default();
        let mut field_sets: HashMap<String, Yaml> = HashMap::new();
        for text_of_file in texts_in_order {
            let docs = match YamlLoader::load_from_str(text_of_file) {
                Ok(d) => d,
                Err(e) => {
                    checker.errors.push(MappingError {
                        entry: "(file)".into(),
                        message: format!("not valid YAML: {e}"),
                    });
                    continue;
                }
            };
            let Some(doc) = docs.into_iter().next() else {
                continue;
            };
            if doc["version"].as_i64() != Some(1) {
                checker.errors.push(MappingError {
                    entry: "(file)".into(),
                    message: "only mapping format version 1 is known".into(),
                });
                continue;
            }
            if let Some(p) = text(&doc["product"]) {
                mapping.product = p;
            }
            if let Yaml::Hash(names) = &doc["placeholders"] {
                for (k, v) in names {
                    if let Some(k) = text(k) {
                        mapping.placeholders.insert(k, texts(v));
                    }
                }
            }
            if let Yaml::Hash(sets) = &doc["field_sets"] {
                for (k, v) in sets {
                    if let Some(k) = text(k) {
                        field_sets.insert(k, v.clone());
                    }
                }
            }
            for (key, target) in [
                ("categories", &mut mapping.categories),
                ("services", &mut mapping.services),
            ] {
                let Yaml::Hash(entries) = &doc[key] else {
                    continue;
                };
                for (name, body) in entries {
                    let Some(name) = text(name) else { continue };
                    if let Some(entry) = entry_of(&mut checker, &name, body, &field_sets) {
                        target.insert(name, entry);
                    }
                }
            }
        }
        (mapping, checker.errors)
    }

    /// The shipped Windows mapping.
    pub fn windows(catalog: &Catalog) -> (Mapping, Vec<MappingError>) {
        Mapping::load(&[WINDOWS], catalog)
    }

    /// The source that can answer `rule`, or why none can.
    pub fn resolve(&self, rule: &Rule, catalog: &Catalog) -> Result<Resolved<'_>, String> {
        self.resolve_all(rule, catalog)
            .map(|all| all.into_iter().next().expect("never empty"))
    }

    /// Every source that can answer `rule`, in the mapping's order (never empty), or
    /// why none can.
    pub fn resolve_all(&self, rule: &Rule, catalog: &Catalog) -> Result<Vec<Resolved<'_>>, String> {
        let detection = match &rule.body {
            RuleBody::Detection(d) => d,
            RuleBody::Filter(f) => &f.detection,
            RuleBody::Correlation(_) => {
                return Err("a correlation rule reads the matches of other rules".into());
            }
        };
        let ls = &rule.logsource;
        if let Some(p) = &ls.product
            && !p.eq_ignore_ascii_case(&self.product)
        {
            return Err(format!(
                "no table for logsource: no mapping for product `{p}`"
            ));
        }
        let entry = ls
            .category
            .as_ref()
            .and_then(|c| {
                self.categories
                    .get(c)
                    .map(|e| (format!("category `{c}`"), e))
            })
            .or_else(|| {
                ls.service
                    .as_ref()
                    .and_then(|s| self.services.get(s).map(|e| (format!("service `{s}`"), e)))
            });
        let Some((what, entry)) = entry else {
            let named = ls
                .category
                .as_ref()
                .map(|c| format!("category `{c}` is not mapped"))
                .or_else(|| {
                    ls.service
                        .as_ref()
                        .map(|s| format!("service `{s}` is not mapped"))
                })
                .unwrap_or_else(|| "the rule names no category or service".into());
            return Err(format!("no table for logsource: {named}"));
        };
        let sources = match entry {
            Entry::Unmapped(reason) => {
                return Err(format!("no table for logsource: {what}: {reason}"));
            }
            Entry::Sources(s) => s,
        };
        let mut matches: Vec<&FieldMatch> = Vec::new();
        let mut keywords = false;
        for s in detection.selections.values() {
            match s {
                Selection::Maps(maps) => matches.extend(maps.iter().flatten()),
                Selection::Keywords(_) => keywords = true,
            }
        }
        let mut first_problem = None;
        let mut sticky_unmapped: HashMap<String, String> = HashMap::new();
        let mut answering = Vec::new();
        for (i, source) in sources.iter().enumerate() {
            match answer(source, &matches, keywords, &sticky_unmapped, catalog) {
                Ok(fields) => answering.push(Resolved { source, fields }),
                Err(problem) if i == 0 => first_problem = Some(problem),
                Err(_) => {}
            }
            if i == 0 {
                for (field, loc) in &source.fields {
                    if let Form::Unmapped(reason) = &loc.form {
                        sticky_unmapped.insert(field.clone(), reason.clone());
                    }
                }
            }
        }
        if answering.is_empty() {
            return Err(first_problem.unwrap_or_else(|| format!("{what} has no sources")));
        }
        Ok(answering)
    }
}

fn entry_of(
    checker: &mut Checker<'_>,
    name: &str,
    body: &Yaml,
    field_sets: &HashMap<String, Yaml>,
) -> Option<Entry> {
    if let Some(reason) = text(&body["unmapped"]) {
        return Some(Entry::Unmapped(reason));
    }
    let Yaml::Array(list) = &body["sources"] else {
        checker.errors.push(MappingError {
            entry: name.to_string(),
            message: "an entry needs `sources` or `unmapped`".into(),
        });
        return None;
    };
    let mut sources = Vec::new();
    for s in list {
        let Some(table) = text(&s["table"]) else {
            checker.errors.push(MappingError {
                entry: name.to_string(),
                message: "a source needs a `table`".into(),
            });
            continue;
        };
        if checker.catalog.table(&table).is_none() {
            checker.errors.push(MappingError {
                entry: name.to_string(),
                message: format!("`{table}` is not a catalog table"),
            });
            continue;
        }
        let set = match text(&s["field_set"]) {
            Some(set) => match field_sets.get(&set) {
                Some(y) => Some(y.clone()),
                None => {
                    checker.errors.push(MappingError {
                        entry: name.to_string(),
                        message: format!("no field set `{set}`"),
                    });
                    continue;
                }
            },
            None => None,
        };
        let mut fields = BTreeMap::new();
        for part in [set.as_ref().map(|y| &y["fields"]), Some(&s["fields"])]
            .into_iter()
            .flatten()
        {
            if let Yaml::Hash(h) = part {
                for (k, v) in h {
                    if let (Some(k), Some(loc)) = (text(k), checker.location(name, &table, v)) {
                        fields.insert(k, loc);
                    }
                }
            }
        }
        let own_or_set = |key: &str| -> Yaml {
            if !s[key].is_badvalue() {
                s[key].clone()
            } else {
                set.as_ref().map_or(Yaml::BadValue, |y| y[key].clone())
            }
        };
        let mut other_fields = OtherFields::default();
        for o in texts(&own_or_set("other_fields")) {
            if o == "column" {
                other_fields.column = true;
            } else {
                checker.column(name, &table, &o);
                other_fields.json = Some(o);
            }
        }
        let keywords = texts(&own_or_set("keywords"));
        for k in &keywords {
            checker.column(name, &table, k);
        }
        let mut filter = Vec::new();
        if let Yaml::Hash(h) = &s["where"] {
            for (k, v) in h {
                if let Some(k) = text(k) {
                    checker.column(name, &table, &k);
                    filter.push((k, texts(v)));
                }
            }
        }
        sources.push(Source {
            table,
            filter,
            fields,
            other_fields,
            keywords,
        });
    }
    Some(Entry::Sources(sources))
}

/// The locations of every field the rule uses in `source`, or what stops it.
fn answer(
    source: &Source,
    matches: &[&FieldMatch],
    keywords: bool,
    sticky_unmapped: &HashMap<String, String>,
    catalog: &Catalog,
) -> Result<BTreeMap<String, Location>, String> {
    if keywords && source.keywords.is_empty() {
        return Err(format!(
            "keyword searches are not supported on {}",
            source.table
        ));
    }
    let mut out = BTreeMap::new();
    for m in matches {
        let Some(field) = &m.field else {
            // Keyword values with modifiers (`'|all': [...]`).
            if source.keywords.is_empty() {
                return Err(format!(
                    "keyword searches are not supported on {}",
                    source.table
                ));
            }
            continue;
        };
        if !source.fields.contains_key(field)
            && let Some(reason) = sticky_unmapped.get(field)
        {
            return Err(format!("field `{field}` is unmapped: {reason}"));
        }
        let location = source
            .location_of(field, catalog)
            .ok_or_else(|| format!("field `{field}` has no column in {}", source.table))?;
        match &location.form {
            Form::Unmapped(reason) => {
                return Err(format!("field `{field}` is unmapped: {reason}"));
            }
            Form::Values { values, .. } => {
                if !m.modifiers.is_empty() {
                    return Err(format!(
                        "field `{field}` can only be tested for equality in {}",
                        source.table
                    ));
                }
                for v in &m.values {
                    let key = v.text().to_lowercase();
                    if !values.contains_key(&key) {
                        return Err(format!(
                            "field `{field}`: the value `{key}` has no stored equivalent"
                        ));
                    }
                }
            }
            Form::Hashes(algos) => {
                let position_only = m.modifiers.iter().all(|x| {
                    matches!(
                        x,
                        Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith
                    )
                });
                if !position_only {
                    return Err(format!("field `{field}`: hashes take plain values"));
                }
                for v in &m.values {
                    let t = v.text();
                    let algo = t.split_once('=').map(|(a, _)| a.to_uppercase());
                    let known = algo
                        .as_ref()
                        .is_some_and(|a| algos.iter().any(|(k, _)| k.eq_ignore_ascii_case(a)));
                    if !known {
                        return Err(format!(
                            "field `{field}`: `{t}` names no hash {} keeps",
                            source.table
                        ));
                    }
                }
            }
            _ => {}
        }
        out.insert(field.clone(), location);
    }
    Ok(out)
}
