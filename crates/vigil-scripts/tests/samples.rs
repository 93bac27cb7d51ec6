//! Runs every sample in `tests/samples/*.txt` through the analyzer and checks what an
//! analyst wrote down for it: decoded fragments, indicators, techniques, layers, risk.
//!
//! File format (one file holds many samples):
//!
//! ```text
//! === sample-name
//! # free comments until `input:` (how the sample was made, why it matters)
//! input:
//! <the script, any number of lines>
//! decoded:            each line must appear in the final decoded text (case and spacing
//! <fragment>          are ignored)
//! indicators:         `Kind value`, each must be found (refanged value)
//! Url http://evil.com/a
//! benign:             `Kind value`, each must be found and marked benign
//! techniques: T1105, T1059.001     each must be found
//! absent: T1003.001                none of these may be found
//! layers: EncodedCommand, Gzip     each must have been applied by some layer
//! risk: High  |  risk: >=Medium    exact, or at least
//! language: PowerShell
//! warnings:           each line must appear in some warning
//! ```

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use vigil_scripts::{Analysis, Analyzer, IndicatorKind, LayerKind, RiskLevel};

const FIELDS: &[&str] = &[
    "input",
    "decoded",
    "indicators",
    "benign",
    "techniques",
    "absent",
    "layers",
    "risk",
    "language",
    "warnings",
];

#[derive(Debug, Default)]
struct Sample {
    file: String,
    name: String,
    fields: HashMap<String, Vec<String>>,
}

impl Sample {
    fn lines(&self, key: &str) -> Vec<String> {
        self.fields
            .get(key)
            .map(|v| {
                v.iter()
                    .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.lines(key)
            .iter()
            .flat_map(|l| {
                l.split(',')
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn input(&self) -> String {
        self.fields
            .get("input")
            .map(|v| v.join("\n"))
            .unwrap_or_default()
    }
}

fn field_of(line: &str) -> Option<(&'static str, &str)> {
    FIELDS.iter().find_map(|f| {
        line.strip_prefix(f)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|rest| (*f, rest.trim()))
    })
}

fn parse(file: &str, text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut current: Option<Sample> = None;
    let mut key: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            out.extend(current.take());
            current = Some(Sample {
                file: file.to_string(),
                name: name.trim().to_string(),
                ..Sample::default()
            });
            key = None;
            continue;
        }
        let Some(sample) = current.as_mut() else {
            continue;
        };
        if let Some((f, rest)) = field_of(line) {
            let entry = sample.fields.entry(f.to_string()).or_default();
            if !rest.is_empty() {
                entry.push(rest.to_string());
            }
            key = Some(f.to_string());
        } else if let Some(k) = &key {
            sample
                .fields
                .entry(k.clone())
                .or_default()
                .push(line.to_string());
        }
    }
    out.extend(current);
    // Trailing blank lines separate samples; they are not part of an input.
    for s in &mut out {
        if let Some(v) = s.fields.get_mut("input") {
            while v.last().is_some_and(|l| l.trim().is_empty()) {
                v.pop();
            }
        }
    }
    out
}

fn samples() -> Vec<Sample> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/samples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {dir}: {e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.extend(parse(&name, &text));
    }
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn kind(name: &str) -> Option<IndicatorKind> {
    Some(match name {
        "Url" => IndicatorKind::Url,
        "Domain" => IndicatorKind::Domain,
        "Ipv4" => IndicatorKind::Ipv4,
        "Ipv6" => IndicatorKind::Ipv6,
        "Md5" => IndicatorKind::Md5,
        "Sha1" => IndicatorKind::Sha1,
        "Sha256" => IndicatorKind::Sha256,
        "FilePath" => IndicatorKind::FilePath,
        "RegistryKey" => IndicatorKind::RegistryKey,
        "Email" => IndicatorKind::Email,
        _ => return None,
    })
}

fn layer_kind(name: &str) -> Option<LayerKind> {
    const ALL: &[LayerKind] = &[
        LayerKind::EncodedCommand,
        LayerKind::CommandWrapper,
        LayerKind::Gzip,
        LayerKind::Deflate,
        LayerKind::Base64,
        LayerKind::Hex,
        LayerKind::Xor,
        LayerKind::CharCodes,
        LayerKind::Reverse,
        LayerKind::FormatOperator,
        LayerKind::Replace,
        LayerKind::Join,
        LayerKind::Concatenation,
        LayerKind::Substring,
        LayerKind::InvokeExpression,
        LayerKind::Backtick,
        LayerKind::Caret,
        LayerKind::CmdVariables,
        LayerKind::Eval,
        LayerKind::Unescape,
        LayerKind::ShellDecode,
    ];
    ALL.iter().copied().find(|k| format!("{k:?}") == name)
}

fn risk(name: &str) -> Option<RiskLevel> {
    Some(match name {
        "Informational" => RiskLevel::Informational,
        "Low" => RiskLevel::Low,
        "Medium" => RiskLevel::Medium,
        "High" => RiskLevel::High,
        "Critical" => RiskLevel::Critical,
        _ => return None,
    })
}

/// Every way `a` falls short of what the analyst wrote for `s`.
fn check(s: &Sample, a: &Analysis) -> Vec<String> {
    let mut bad = Vec::new();
    let decoded = squash(&a.decoded);
    for frag in s.lines("decoded") {
        if !decoded.contains(&squash(&frag)) {
            bad.push(format!("decoded text lacks `{frag}`"));
        }
    }
    for (field, want_benign) in [("indicators", false), ("benign", true)] {
        for line in s.lines(field) {
            let Some((k, v)) = line.trim().split_once(' ') else {
                bad.push(format!("bad {field} line `{line}`"));
                continue;
            };
            let Some(k) = kind(k) else {
                bad.push(format!("unknown indicator kind `{k}`"));
                continue;
            };
            let v = v.trim();
            match a
                .indicators
                .iter()
                .find(|i| i.kind == k && i.value.eq_ignore_ascii_case(v))
            {
                None => bad.push(format!("indicator {k:?} `{v}` not found")),
                Some(i) if want_benign && i.benign.is_none() => {
                    bad.push(format!("indicator `{v}` should be marked benign"))
                }
                Some(i) if !want_benign && i.benign.is_some() => {
                    bad.push(format!("indicator `{v}` wrongly marked benign"))
                }
                Some(_) => {}
            }
        }
    }
    let found = a.technique_ids();
    for t in s.list("techniques") {
        if !found.contains(&t.as_str()) {
            bad.push(format!("technique {t} not found"));
        }
    }
    for t in s.list("absent") {
        if found.contains(&t.as_str()) {
            bad.push(format!("technique {t} found but should not be"));
        }
    }
    for l in s.list("layers") {
        match layer_kind(&l) {
            Some(k) if a.applied(k) => {}
            Some(_) => bad.push(format!("layer {l} not applied")),
            None => bad.push(format!("unknown layer kind {l}")),
        }
    }
    if let Some(r) = s.lines("risk").first() {
        let r = r.trim();
        let (at_least, name) = match r.strip_prefix(">=") {
            Some(n) => (true, n.trim()),
            None => (false, r),
        };
        match risk(name) {
            Some(want) if at_least && a.verdict.risk < want => bad.push(format!(
                "risk {:?}, expected at least {want:?}",
                a.verdict.risk
            )),
            Some(want) if !at_least && a.verdict.risk != want => {
                bad.push(format!("risk {:?}, expected {want:?}", a.verdict.risk))
            }
            None => bad.push(format!("unknown risk {name}")),
            _ => {}
        }
    }
    if let Some(l) = s.lines("language").first()
        && format!("{:?}", a.language) != l.trim()
    {
        bad.push(format!("language {:?}, expected {}", a.language, l.trim()));
    }
    for w in s.lines("warnings") {
        if !a.warnings.iter().any(|x| x.contains(w.trim())) {
            bad.push(format!("no warning contains `{w}`"));
        }
    }
    bad
}

#[test]
fn every_sample_decodes_as_the_analyst_expects() {
    let all = samples();
    assert!(all.len() >= 100, "only {} samples", all.len());
    let analyzer = Analyzer::new();
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    for s in &all {
        assert!(!s.input().is_empty(), "{}: {} has no input", s.file, s.name);
        let t = Instant::now();
        let a = analyzer.analyze(&s.input());
        let took = t.elapsed();
        if took > slowest.0 {
            slowest = (took, s.name.clone());
        }
        let bad = check(s, &a);
        if !bad.is_empty() {
            failures.push(format!(
                "{} / {}:\n  - {}\n  decoded: {}\n  techniques: {:?}\n  layers: {:?}",
                s.file,
                s.name,
                bad.join("\n  - "),
                a.decoded.chars().take(400).collect::<String>(),
                a.technique_ids(),
                a.layers
                    .iter()
                    .map(|l| (l.kind, l.also.clone()))
                    .collect::<Vec<_>>(),
            ));
        }
    }
    println!(
        "{} samples, {} failed; slowest {} in {:?}",
        all.len(),
        failures.len(),
        slowest.1,
        slowest.0
    );
    assert!(
        failures.is_empty(),
        "{} of {} samples fail:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn samples_cover_every_layer_kind() {
    let mut expected = BTreeSet::new();
    for s in samples() {
        for l in s.list("layers") {
            if let Some(k) = layer_kind(&l) {
                expected.insert(k);
            }
        }
    }
    for name in [
        "EncodedCommand",
        "CommandWrapper",
        "Gzip",
        "Deflate",
        "Base64",
        "Hex",
        "Xor",
        "CharCodes",
        "Reverse",
        "FormatOperator",
        "Replace",
        "Join",
        "Concatenation",
        "Substring",
        "InvokeExpression",
        "Backtick",
        "Caret",
        "CmdVariables",
        "Eval",
        "Unescape",
        "ShellDecode",
    ] {
        let k = layer_kind(name).unwrap_or_else(|| panic!("unknown kind {name}"));
        assert!(expected.contains(&k), "no sample expects layer {name}");
    }
}

#[test]
fn many_samples_are_three_layers_deep() {
    let deep = samples()
        .iter()
        .filter(|s| s.list("layers").len() >= 3 && s.name.starts_with("nested"))
        .count();
    assert!(
        deep >= 30,
        "only {deep} nested samples with three or more layers"
    );
}

/// The catalog's columns per table, read from the schema crate's data file.
fn catalog() -> HashMap<String, BTreeSet<String>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vigil-schema/catalog/tables.txt"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut table = None;
    for line in text.lines() {
        if let Some(t) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = Some(t.to_string());
            out.entry(t.to_string()).or_default();
        } else if let Some(t) = &table
            && let Some((col, _)) = line.split_once('\t')
        {
            out.entry(t.clone()).or_default().insert(col.to_string());
        }
    }
    out
}

/// Splits KQL into identifiers outside string literals, checking each literal is closed
/// and uses only the escapes KQL knows.
fn kql_identifiers(kql: &str) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut chars = kql.chars().peekable();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        if c == '"' {
            loop {
                match chars.next() {
                    None => return Err(format!("unclosed string in {kql}")),
                    Some('\\') => match chars.next() {
                        Some('\\' | '"' | 'n' | 'r' | 't') => {}
                        other => return Err(format!("bad escape {other:?} in {kql}")),
                    },
                    Some('"') => break,
                    Some(_) => {}
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            ids.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        ids.push(word);
    }
    Ok(ids)
}

#[test]
fn hunting_queries_use_real_columns_and_valid_strings() {
    let catalog = catalog();
    let keywords = [
        "where",
        "project",
        "ago",
        "has_any",
        "has",
        "in",
        "or",
        "and",
        "startswith",
        "endswith",
        "contains",
        "d",
    ];
    let mut queries = 0;
    for s in samples() {
        let a = Analyzer::new().analyze(&s.input());
        for q in &a.hunting_queries {
            queries += 1;
            let cols = catalog
                .get(&q.table)
                .unwrap_or_else(|| panic!("{}: unknown table {}", s.name, q.table));
            assert!(
                q.kql.starts_with(&q.table),
                "{}: query does not start with its table",
                s.name
            );
            let ids = kql_identifiers(&q.kql).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            for id in ids {
                let lower = id.to_lowercase();
                if id == q.table
                    || keywords.contains(&lower.as_str())
                    || id.chars().all(|c| c.is_ascii_digit())
                    || lower == "30d"
                {
                    continue;
                }
                assert!(
                    cols.contains(&id),
                    "{}: {} has no column {id}:\n{}",
                    s.name,
                    q.table,
                    q.kql
                );
            }
        }
    }
    assert!(
        queries > 100,
        "only {queries} queries were generated over the samples"
    );
}

#[test]
fn reports_serialise_and_render() {
    for s in samples().iter().take(40) {
        let a = Analyzer::new().analyze(&s.input());
        let json = serde_json::to_value(&a).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert!(json.get("verdict").and_then(|v| v.get("risk")).is_some());
        let md = a.to_markdown();
        assert!(
            md.contains(&format!("**Verdict: {:?}**", a.verdict.risk)),
            "{}",
            s.name
        );
        for b in &a.behaviours {
            assert!(
                md.contains(&b.technique_id),
                "{}: {} missing from markdown",
                s.name,
                b.technique_id
            );
        }
        assert!(!a.steps.is_empty());
    }
}
