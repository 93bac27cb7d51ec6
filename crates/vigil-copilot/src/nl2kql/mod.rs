//! Natural language to KQL without a model.
//!
//! The question's concept ("USB drive", "failed logons", "encoded PowerShell", …) picks
//! the table and the condition ([`concepts`]); enumerated values of the catalog
//! (`ActionType` names and the like) catch what the vocabulary lacks; grounding adds the
//! device, user, address, hash and time range; and the question's shape ("which devices",
//! "how many", "top 5", "the five most recent") decides between grouping, counting and
//! listing. The result always parses and binds: the skill checks it before running it.

mod concepts;
mod enums;

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;
use vigil_schema::{Catalog, TableSource};

use crate::grounding::{EntityKind, Grounding};
use crate::lake::kql_string;
use crate::skill::{ResultTable, SkillError, text_of};
pub use concepts::{ACTIVITY_TABLES, CONCEPTS, Concept};

/// Rows listed when the question does not say how many.
const DEFAULT_LIST: u32 = 50;

/// A question turned into a query.
#[derive(Debug, Clone)]
pub struct Translation {
    pub kql: String,
    /// What the rows are ("failed logons on ws-01 in the last 24 hours").
    pub title: String,
    /// How each part of the question became part of the query.
    pub explanation: Vec<String>,
    pub follow_ups: Vec<String>,
    shape: Shape,
    noun: String,
    scope: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// Rows grouped by a column: "which devices".
    Group {
        column: String,
        label: String,
    },
    Count,
    List {
        limit: u32,
    },
    /// A device's or user's activity by table and action.
    Activity {
        subject: String,
    },
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a bad one is a bug caught by every test.
    Regex::new(pattern).unwrap_or_else(|e| panic!("nl2kql pattern {pattern:?}: {e}"))
}

static ACTIVITY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"what happened|what (else )?(did|has|have) .{0,40}\b(do|done|been doing)\b|what else|activity|timeline|everything .{0,20}\b(on|by|from)\b|what was .{0,30} doing",
    )
});
static DEVICES: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(which|what|list|show|name|the)\s+(the\s+|all\s+|of\s+the\s+)?(devices?|machines?|hosts?|computers?|endpoints?|servers?|workstations?|laptops?)\b|\b(per|by|for each|each) (device|machine|host|computer)\b|\bon which (devices?|machines?|hosts?)|\btop \d+ (devices|machines|hosts|computers)\b|\bwhere (did|does|has|have|was|were)\b.{0,80}\b(run|ran|execut|launch|start|open)",
    )
});
static USERS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(which|what|list|show|the)\s+(the\s+|all\s+)?(users?|accounts?|people|employees)\b|^who\b|\bwho (has|have|had|did|logged|signed|copied|ran|is|was|were)\b|\b(per|by|for each|each) (user|account)\b",
    )
});
static PROCESSES: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(which|what)\s+(processes|programs|executables|binaries|applications|apps)\b|\b(per|by) (process|program)\b",
    )
});
static ADDRESSES: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(which|what)\s+(remote\s+)?(ips?|ip addresses|addresses|destinations)\b|\b(per|by) (ip|address)\b",
    )
});
static DOMAINS: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(which|what)\s+(domains|urls|sites|websites)\b"));
static COUNT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bhow many\b|\bnumber of\b|\bcount\b|\btotal\b|\bhow often\b"));
static TOP: LazyLock<Regex> = LazyLock::new(|| re(r"\btop (\d+)\b"));
static EXE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b([a-z0-9_\-]+\.(?:exe|dll|ps1|bat|vbs|js|hta|scr))\b"));

fn has(table: &str, column: &str) -> bool {
    Catalog::builtin()
        .table(table)
        .is_some_and(|t| t.column(column).is_some())
}

fn first_column(table: &str, candidates: &[&'static str]) -> Option<&'static str> {
    candidates.iter().copied().find(|c| has(table, c))
}

fn time_column(table: &str) -> &'static str {
    match Catalog::builtin().table(table).map(|t| t.source) {
        Some(TableSource::Sentinel) => "TimeGenerated",
        _ => "Timestamp",
    }
}

fn device_column(table: &str) -> Option<&'static str> {
    first_column(table, &["DeviceName", "Computer"])
}

fn user_column(table: &str) -> Option<&'static str> {
    first_column(
        table,
        &[
            "AccountName",
            "InitiatingProcessAccountName",
            "UserPrincipalName",
            "AccountUpn",
            "RecipientEmailAddress",
            "TargetUserName",
            "UserName",
        ],
    )
}

/// A condition that a user column holds `user` (a short name, a UPN or DOMAIN\name).
fn user_condition(column: &str, user: &str) -> String {
    let short = user
        .rsplit('\\')
        .next()
        .unwrap_or(user)
        .split('@')
        .next()
        .unwrap_or(user);
    let upn_column = matches!(
        column,
        "UserPrincipalName" | "AccountUpn" | "RecipientEmailAddress"
    );
    if upn_column && !user.contains('@') {
        format!("{column} startswith {}", kql_string(&format!("{short}@")))
    } else if upn_column {
        format!("{column} =~ {}", kql_string(user))
    } else {
        format!("{column} =~ {}", kql_string(short))
    }
}

/// The conditions the question's entities and time put on `table`, with a line of
/// explanation for each.
fn scope(table: &str, g: &Grounding, lower: &str) -> (Vec<String>, Vec<String>, String) {
    let mut conditions = Vec::new();
    let mut why = Vec::new();
    let mut scope_words = Vec::new();
    let devices: Vec<&str> = g
        .of_kind(EntityKind::Device)
        .map(|e| e.value.as_str())
        .collect();
    if let (Some(col), false) = (device_column(table), devices.is_empty()) {
        let list = devices
            .iter()
            .map(|d| kql_string(d))
            .collect::<Vec<_>>()
            .join(", ");
        conditions.push(if devices.len() == 1 {
            format!("{col} =~ {list}")
        } else {
            format!("{col} in~ ({list})")
        });
        why.push(format!("device {} → `{col}`", devices.join(", ")));
        scope_words.push(format!("on {}", devices.join(", ")));
    }
    let users: Vec<&str> = g
        .of_kind(EntityKind::User)
        .chain(g.of_kind(EntityKind::Email))
        .map(|e| e.value.as_str())
        .collect();
    let sender = users.first().filter(|u| {
        table == "EmailEvents" && lower.contains(&format!("from {}", u.to_lowercase()))
    });
    if let Some(user) = sender {
        conditions.push(format!("SenderFromAddress =~ {}", kql_string(user)));
        why.push(format!("sender {user} → `SenderFromAddress`"));
        scope_words.push(format!("from {user}"));
    } else if let (Some(col), Some(user)) = (user_column(table), users.first()) {
        conditions.push(user_condition(col, user));
        why.push(format!("user {user} → `{col}`"));
        scope_words.push(format!("for {user}"));
    }
    if let Some(ip) = g.all_entities().find(|e| e.kind.is_ip()) {
        if let Some(col) = first_column(
            table,
            &["RemoteIP", "IPAddress", "IpAddress", "SourceIP", "ClientIP"],
        ) {
            conditions.push(format!("{col} == {}", kql_string(&ip.value)));
            why.push(format!("address {} → `{col}`", ip.value));
            scope_words.push(format!("involving {}", ip.value));
        }
    }
    for (kind, col) in [
        (EntityKind::Sha256, "SHA256"),
        (EntityKind::Sha1, "SHA1"),
        (EntityKind::Md5, "MD5"),
    ] {
        if let Some(h) = g.first(kind)
            && has(table, col)
        {
            conditions.push(format!("{col} =~ {}", kql_string(h)));
            why.push(format!("hash → `{col}`"));
            scope_words.push(format!("with hash {h}"));
        }
    }
    if let Some(d) = g
        .all_entities()
        .find(|e| matches!(e.kind, EntityKind::Domain | EntityKind::Url))
        && let Some(col) = first_column(table, &["RemoteUrl", "Url", "UrlDomain", "Name"])
    {
        conditions.push(format!("{col} has {}", kql_string(&d.value)));
        why.push(format!("{} → `{col}`", d.value));
        scope_words.push(format!("involving {}", d.value));
    }
    if let Some(cve) = g.first(EntityKind::Cve)
        && has(table, "CveId")
    {
        conditions.push(format!("CveId == {}", kql_string(cve)));
        why.push(format!("{cve} → `CveId`"));
        scope_words.push(format!("for {cve}"));
    }
    if has(table, "FileName") && !lower.contains("powershell") {
        let names: Vec<String> = EXE
            .captures_iter(&g.prompt)
            .map(|c| c[1].to_ascii_lowercase())
            .filter(|n| !devices.iter().any(|d| d.eq_ignore_ascii_case(n)))
            .collect();
        if !names.is_empty() {
            let list = names
                .iter()
                .map(|n| kql_string(n))
                .collect::<Vec<_>>()
                .join(", ");
            conditions.push(format!("FileName in~ ({list})"));
            why.push(format!("{} → `FileName`", names.join(", ")));
            scope_words.push(format!("by {}", names.join(", ")));
        }
    }
    if let Some(t) = &g.time {
        let col = time_column(table);
        conditions.push(t.kql(col));
        why.push(format!(
            "\"{}\" → `{col}` from {} to {}",
            t.text,
            t.start.to_rfc3339(),
            t.end.to_rfc3339()
        ));
        scope_words.push(t.text.clone());
    }
    (conditions, why, scope_words.join(" "))
}

fn shape_of(lower: &str, table: &str, g: &Grounding) -> Shape {
    let group = |column: &str, label: &str| Shape::Group {
        column: column.to_string(),
        label: label.to_string(),
    };
    if DEVICES.is_match(lower)
        && let Some(c) = device_column(table)
        && g.first(EntityKind::Device).is_none()
    {
        return group(c, "devices");
    }
    if USERS.is_match(lower)
        && let Some(c) = user_column(table)
    {
        return group(c, "users");
    }
    if PROCESSES.is_match(lower)
        && let Some(c) = first_column(table, &["FileName", "InitiatingProcessFileName"])
    {
        return group(c, "processes");
    }
    if ADDRESSES.is_match(lower)
        && let Some(c) = first_column(table, &["RemoteIP", "IPAddress", "IpAddress"])
    {
        return group(c, "addresses");
    }
    if DOMAINS.is_match(lower)
        && let Some(c) = first_column(table, &["RemoteUrl", "Url", "UrlDomain"])
    {
        return group(c, "domains");
    }
    if TOP.is_match(lower)
        && let Some(col) = device_column(table)
    {
        return group(col, "devices");
    }
    if COUNT.is_match(lower) {
        return Shape::Count;
    }
    Shape::List {
        limit: g.limit.unwrap_or(DEFAULT_LIST).clamp(1, 10_000),
    }
}

/// Turns `question` into KQL over the catalog, using what grounding found in it.
pub fn translate(question: &str, g: &Grounding) -> Result<Translation, SkillError> {
    let lower = question.to_lowercase();
    let mut explanation = Vec::new();
    let subject = g
        .first(EntityKind::Device)
        .or_else(|| g.first(EntityKind::User))
        .or_else(|| g.first(EntityKind::Email));
    let concept = CONCEPTS
        .iter()
        .find(|c| c.triggers.iter().all(|t| re_cached(t).is_match(&lower)));
    if (ACTIVITY.is_match(&lower) || concept.is_none() && g.tables.is_empty())
        && let Some(subject) = subject
    {
        return Ok(activity(g, subject));
    }
    let (table, filter, template, show, noun) = if let Some(c) = concept {
        explanation.push(format!(
            "\"{}\" → `{}`{}",
            c.noun,
            c.table,
            if c.filter.is_empty() {
                String::new()
            } else {
                format!(" where {}", c.filter)
            }
        ));
        (
            c.table.to_string(),
            c.filter.to_string(),
            c.template,
            c.show.to_vec(),
            c.noun.to_string(),
        )
    } else if let Some(e) = enums::find(&lower) {
        explanation.push(format!(
            "\"{}\" → `{}` where {} == \"{}\"",
            e.words, e.table, e.column, e.value
        ));
        let filter = format!("{} == {}", e.column, kql_string(&e.value));
        (e.table.clone(), filter, None, Vec::new(), e.words.clone())
    } else if let Some(t) = g.tables.first() {
        explanation.push(format!("the table {t} is named"));
        (
            t.clone(),
            String::new(),
            None,
            Vec::new(),
            format!("{t} rows"),
        )
    } else {
        return Err(SkillError::BadInput(format!(
            "Vigil could not tell which data \"{question}\" is about. Name a table (e.g. DeviceProcessEvents), a device or user, or an activity such as failed logons, USB drives, encoded PowerShell, sign-ins, network connections, new services"
        )));
    };
    if Catalog::builtin().table(&table).is_none() {
        return Err(SkillError::BadInput(format!(
            "the catalog has no table {table}"
        )));
    }
    let (conditions, why, scope_words) = scope(&table, g, &lower);
    explanation.extend(why);
    let shape = shape_of(&lower, &table, g);
    let mut kql = match template {
        Some(t) => {
            let lines: String = conditions
                .iter()
                .map(|c| format!("| where {c}\n"))
                .collect();
            let mut q = t.replace("{scope}", &lines);
            if !filter.is_empty() {
                q.push_str(&format!("\n| where {filter}"));
            }
            q
        }
        None => {
            let mut q = table.clone();
            if !filter.is_empty() {
                q.push_str(&format!("\n| where {filter}"));
            }
            for c in &conditions {
                q.push_str(&format!("\n| where {c}"));
            }
            q
        }
    };
    let time = time_column(&table);
    match &shape {
        Shape::Group { column, label } => {
            let top = TOP.captures(&lower).and_then(|c| c[1].parse::<u32>().ok());
            kql.push_str(&format!(
                "\n| summarize Events = count(), FirstSeen = min({time}), LastSeen = max({time}) by {column}\n| sort by Events desc"
            ));
            if let Some(n) = top {
                kql.push_str(&format!("\n| take {n}"));
            }
            explanation.push(format!("\"which {label}\" → one row per `{column}`"));
        }
        Shape::Count => {
            kql.push_str("\n| count");
            explanation.push("\"how many\" → `count`".into());
        }
        Shape::List { limit } => {
            let cols: Vec<&str> = show.iter().copied().filter(|c| has(&table, c)).collect();
            kql.push_str(&format!("\n| sort by {time} desc\n| take {limit}"));
            if !cols.is_empty() {
                kql.push_str(&format!("\n| project {}", cols.join(", ")));
            }
            explanation.push(format!("a list → the {limit} most recent rows"));
        }
        Shape::Activity { .. } => {}
    }
    let title = if scope_words.is_empty() {
        capitalise(&noun)
    } else {
        capitalise(&format!("{noun} {scope_words}"))
    };
    let mut follow_ups = Vec::new();
    if let Shape::Group { label, .. } = &shape
        && label == "devices"
    {
        follow_ups.push("What happened on that device?".to_string());
    }
    if subject.is_none() && !matches!(shape, Shape::Group { .. }) {
        follow_ups.push(format!("Which devices had {noun}?"));
    }
    Ok(Translation {
        kql,
        title,
        explanation,
        follow_ups,
        shape,
        noun,
        scope: scope_words,
    })
}

/// "What happened on ws-01 yesterday": the subject's events in every activity table,
/// by table and action.
fn activity(g: &Grounding, subject: &str) -> Translation {
    let is_device = g.first(EntityKind::Device) == Some(subject);
    let mut explanation = vec![format!(
        "\"what happened\" → the {} {subject}'s events in {}",
        if is_device { "device" } else { "user" },
        ACTIVITY_TABLES.join(", ")
    )];
    let condition = if is_device {
        format!("DeviceName =~ {}", kql_string(subject))
    } else {
        let short = subject.split('@').next().unwrap_or(subject);
        format!(
            "AccountName =~ {0} or InitiatingProcessAccountName =~ {0}",
            kql_string(short.rsplit('\\').next().unwrap_or(short))
        )
    };
    let mut kql = format!(
        "union withsource = SourceTable {}\n| where {condition}",
        ACTIVITY_TABLES.join(", ")
    );
    let mut scope = vec![if is_device {
        format!("on {subject}")
    } else {
        format!("by {subject}")
    }];
    if let Some(t) = &g.time {
        kql.push_str(&format!("\n| where {}", t.kql("Timestamp")));
        explanation.push(format!(
            "\"{}\" → `Timestamp` from {} to {}",
            t.text,
            t.start.to_rfc3339(),
            t.end.to_rfc3339()
        ));
        scope.push(t.text.clone());
    }
    kql.push_str("\n| summarize Events = count(), FirstSeen = min(Timestamp), LastSeen = max(Timestamp), Devices = make_set(DeviceName, 5) by SourceTable, ActionType\n| sort by Events desc");
    let scope = scope.join(" ");
    Translation {
        kql,
        title: capitalise(&format!("activity {scope}")),
        explanation,
        follow_ups: vec![
            format!("Show the process executions {scope}"),
            format!("Show the network connections {scope}"),
        ],
        shape: Shape::Activity {
            subject: subject.to_string(),
        },
        noun: "events".into(),
        scope,
    }
}

fn singular(label: &str) -> &str {
    match label {
        "processes" => "process",
        "addresses" => "address",
        other => other.strip_suffix('s').unwrap_or(other),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Trigger patterns compiled once each.
fn re_cached(pattern: &'static str) -> &'static Regex {
    static CACHE: LazyLock<
        std::sync::Mutex<std::collections::HashMap<&'static str, &'static Regex>>,
    > = LazyLock::new(Default::default);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(pattern)
        .or_insert_with(|| Box::leak(Box::new(re(pattern))))
}

fn number(v: Option<&Json>) -> u64 {
    v.and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
    .unwrap_or(0)
}

impl Translation {
    /// The direct answer for the rows the query gave.
    pub fn answer(&self, table: &ResultTable) -> String {
        let n = table.rows.len();
        let scope = if self.scope.is_empty() {
            String::new()
        } else {
            format!(" {}", self.scope)
        };
        match &self.shape {
            Shape::Count => {
                let count = number(table.rows.first().and_then(|r| r.first()));
                format!("There were {count} {}{scope}.", self.noun)
            }
            Shape::Group { column, label } => {
                if n == 0 {
                    return format!("No {label} had {}{scope}.", self.noun);
                }
                let (Some(key), Some(events)) = (table.column(column), table.column("Events"))
                else {
                    return format!("{n} {label} had {}{scope}.", self.noun);
                };
                let named: Vec<String> = table
                    .rows
                    .iter()
                    .take(10)
                    .map(|r| {
                        format!(
                            "{} ({})",
                            r.get(key)
                                .and_then(text_of)
                                .unwrap_or_else(|| "(empty)".into()),
                            number(r.get(events))
                        )
                    })
                    .collect();
                let more = if n > 10 {
                    format!(" and {} more", n - 10)
                } else {
                    String::new()
                };
                let label = if n == 1 {
                    singular(label)
                } else {
                    label.as_str()
                };
                format!(
                    "{n} {label} had {}{scope}: {}{more} (events in brackets).",
                    self.noun,
                    named.join(", ")
                )
            }
            Shape::List { limit } => {
                if n == 0 {
                    format!("No {} found{scope}.", self.noun)
                } else if n as u32 >= *limit {
                    format!(
                        "Showing the {n} most recent {}{scope}; there may be more.",
                        self.noun
                    )
                } else if n == 1 {
                    format!("Found 1 {}{scope}.", noun_for_one(&self.noun))
                } else {
                    format!("Found {n} {}{scope}.", self.noun)
                }
            }
            Shape::Activity { .. } => {
                if n == 0 {
                    return format!("The lake has no activity {}.", self.scope);
                }
                let total: u64 = table
                    .column("Events")
                    .map(|i| table.rows.iter().map(|r| number(r.get(i))).sum())
                    .unwrap_or(0);
                let (t, a, e) = (
                    table.column("SourceTable"),
                    table.column("ActionType"),
                    table.column("Events"),
                );
                let top: Vec<String> = table
                    .rows
                    .iter()
                    .take(5)
                    .map(|r| {
                        format!(
                            "{} {} in {}",
                            number(e.and_then(|i| r.get(i))),
                            a.and_then(|i| r.get(i))
                                .and_then(text_of)
                                .unwrap_or_else(|| "events".into()),
                            t.and_then(|i| r.get(i))
                                .and_then(text_of)
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                format!("{total} events {}: {}.", self.scope, top.join("; "))
            }
        }
    }
}

/// A concept's plural noun for one row: its head word made singular ("files copied to
/// USB drives" → "file copied to USB drives", "application crashes" → "application
/// crash"). Nouns with no plural head ("installed software") stay as they are.
fn noun_for_one(noun: &str) -> String {
    let words: Vec<&str> = noun.split(' ').collect();
    // The head is the last plural-looking word before the first preposition ("files" in
    // "files copied to USB drives"), else the last word.
    let plural = |w: &&str| w.ends_with('s') && !w.ends_with("ss");
    let head = match words
        .iter()
        .position(|w| matches!(*w, "to" | "on" | "in" | "from" | "by" | "of" | "and"))
    {
        Some(prep) => match words[..prep].iter().rposition(|w| plural(w)) {
            Some(i) => i,
            None => return noun.to_string(),
        },
        None => words.len() - 1,
    };
    let word = words[head];
    let one = if let Some(stem) = word.strip_suffix("ies") {
        format!("{stem}y")
    } else if ["ches", "shes", "sses", "xes"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        word[..word.len() - 2].to_string()
    } else if word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_string()
    } else {
        return noun.to_string();
    };
    let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    out[head] = one;
    out.join(" ")
}

#[cfg(test)]
mod noun_for_one_tests {
    use super::noun_for_one;

    #[test]
    fn one_row_is_named_in_the_singular() {
        for (plural, one) in [
            ("expired certificates", "expired certificate"),
            ("files copied to USB drives", "file copied to USB drives"),
            ("application crashes", "application crash"),
            ("failed sign-ins", "failed sign-in"),
            ("vulnerabilities", "vulnerability"),
            (
                "LSASS access and credential dumping",
                "LSASS access and credential dumping",
            ),
            ("installed software", "installed software"),
        ] {
            assert_eq!(noun_for_one(plural), one);
        }
    }
}
