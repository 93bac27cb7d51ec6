//! The grounding and planning tables in `tests/` (written as an analyst reads the
//! prompts) run against the grounder and the planner. Every failing case is listed.

use chrono::{DateTime, TimeZone, Utc};

use crate::grounding::{Entity, EntityKind, Grounder, Known};
use crate::planner::Planner;
use crate::skills::Registry;

const GROUNDING: &str = include_str!("../tests/grounding.txt");
const PLANNING: &str = include_str!("../tests/planning.txt");

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 11, 15, 30, 0)
        .single()
        .expect("a valid time")
}

fn grounder() -> Grounder {
    let devices = [
        "WS-FIN-01.corp.example",
        "ws-hr-07.corp.example",
        "dc01.corp.example",
        "fs01.corp.example",
        "web-ext-01.corp.example",
        "lnx-db-02",
    ];
    let users = [
        "jdoe",
        "asmith",
        "mgarcia",
        "svc_backup",
        "ann@corp.example",
    ];
    Grounder::new(
        Known::new(
            devices.iter().map(|d| d.to_string()),
            users.iter().map(|u| u.to_string()),
        ),
        now(),
    )
}

/// `> prompt` followed by `key: value` lines, cases separated by blank lines.
fn cases(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(prompt) = line.strip_prefix("> ") {
            out.push((prompt.to_string(), Vec::new()));
        } else if let (Some(last), Some((k, v))) = (out.last_mut(), line.split_once(": ")) {
            last.1.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad time {text:?} in the table: {e}"))
}

#[test]
fn grounding_table() {
    let g = grounder();
    let earlier = [
        Entity::new(EntityKind::Device, "dc01.corp.example"),
        Entity::new(EntityKind::User, "asmith"),
        Entity::new(EntityKind::Ipv4, "203.0.113.50"),
        Entity::new(EntityKind::Incident, "7"),
    ];
    let all = cases(GROUNDING);
    assert!(all.len() >= 100, "the table has {} prompts", all.len());
    let mut failures = Vec::new();
    for (prompt, expected) in &all {
        let got = g.ground(prompt, &earlier);
        let mut problems = Vec::new();
        let mut want: Vec<(String, String)> = Vec::new();
        let mut time_seen = false;
        for (k, v) in expected {
            match k.as_str() {
                "time" => {
                    time_seen = true;
                    let actual = got.time.as_ref().map(|t| (t.start, t.end));
                    let wanted = if v == "none" {
                        None
                    } else {
                        let (a, b) = v
                            .split_once(" .. ")
                            .unwrap_or_else(|| panic!("bad time line {v:?}"));
                        Some((parse_time(a), parse_time(b)))
                    };
                    if actual != wanted {
                        problems.push(format!("time {actual:?}, wanted {wanted:?}"));
                    }
                }
                "severity" => {
                    if got.severity.as_deref() != Some(v.as_str()) {
                        problems.push(format!("severity {:?}, wanted {v}", got.severity));
                    }
                }
                "limit" => {
                    if got.limit.map(|l| l.to_string()).as_deref() != Some(v.as_str()) {
                        problems.push(format!("limit {:?}, wanted {v}", got.limit));
                    }
                }
                "table" => {
                    if !got.tables.iter().any(|t| t == v) {
                        problems.push(format!("tables {:?}, wanted {v}", got.tables));
                    }
                }
                "ref" => {
                    let (kind, value) = v
                        .split_once(" -> ")
                        .unwrap_or_else(|| panic!("bad ref line {v:?}"));
                    let found = got
                        .references
                        .iter()
                        .flat_map(|r| r.resolved.iter())
                        .any(|e| {
                            e.value == value
                                && (kind == "any"
                                    || EntityKind::parse(kind).is_some_and(|k| k == e.kind))
                        });
                    if !found {
                        problems.push(format!(
                            "no reference resolved to {kind} {value} ({:?})",
                            got.references
                        ));
                    }
                }
                kind => {
                    if EntityKind::parse(kind).is_none() {
                        panic!("unknown line {k}: {v} in the grounding table");
                    }
                    want.push((kind.to_string(), v.clone()));
                }
            }
        }
        assert!(time_seen, "case {prompt:?} has no time line");
        if !expected.iter().any(|(k, _)| k == "severity") && got.severity.is_some() {
            problems.push(format!("severity {:?} where none was asked", got.severity));
        }
        if !expected.iter().any(|(k, _)| k == "limit") && got.limit.is_some() {
            problems.push(format!("limit {:?} where none was asked", got.limit));
        }
        let mut have: Vec<(String, String)> = got
            .entities
            .iter()
            .map(|e| (e.kind.name().to_string(), e.value.clone()))
            .collect();
        have.sort();
        want.sort();
        if have != want {
            problems.push(format!("entities {have:?}, wanted {want:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!("{prompt}\n    {}", problems.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} grounding cases fail:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn planning_table() {
    let g = grounder();
    let registry = Registry::builtin();
    let planner = Planner::new(&registry);
    let all = cases(PLANNING);
    assert!(all.len() >= 60, "the table has {} prompts", all.len());
    let mut failures = Vec::new();
    for (prompt, expected) in &all {
        let grounding = g.ground(prompt, &[]);
        let step = match planner.plan_step(&registry, prompt, &grounding) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{prompt}\n    no plan: {e}"));
                continue;
            }
        };
        let mut problems = Vec::new();
        for (k, v) in expected {
            if k == "skill" {
                if &step.skill != v {
                    problems.push(format!(
                        "skill {} ({}), wanted {v}",
                        step.skill, step.reason
                    ));
                }
            } else if let Some(input) = k.strip_prefix("input.") {
                if step.inputs.get(input) != Some(v) {
                    problems.push(format!(
                        "input {input} = {:?}, wanted {v:?}",
                        step.inputs.get(input)
                    ));
                }
            } else {
                panic!("unknown line {k}: {v} in the planning table");
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{prompt}\n    {}", problems.join("\n    ")));
        }
    }
    let routed = all.len() - failures.len();
    eprintln!(
        "planning: {routed} of {} prompts planned as the table says",
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} planning cases fail:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// The planning table routed by words only and with embeddings: how many prompts go to
/// the skill the table names. Embeddings must not cost a case.
#[test]
fn routing_accuracy_with_embeddings() {
    let g = grounder();
    let registry = Registry::builtin();
    let lexical = Planner::new(&registry);
    let model = Some(crate::embed::tests::model());
    let semantic = Planner::with_embeddings(&registry, model).expect("the skills embed");
    let all = cases(PLANNING);
    let misrouted = |planner: &Planner| -> Vec<String> {
        let mut out = Vec::new();
        for (prompt, expected) in &all {
            let want = expected.iter().find(|(k, _)| k == "skill").map(|(_, v)| v);
            let got = planner.plan_step(&registry, prompt, &g.ground(prompt, &[]));
            match got {
                Ok(step) if Some(&step.skill) == want => {}
                Ok(step) => out.push(format!("{prompt}\n    {} ({})", step.skill, step.reason)),
                Err(e) => out.push(format!("{prompt}\n    no plan: {e}")),
            }
        }
        out
    };
    let (words, meaning) = (misrouted(&lexical), misrouted(&semantic));
    let n = all.len();
    eprintln!(
        "routing accuracy: lexical {}/{n}, with embeddings {}/{n}",
        n - words.len(),
        n - meaning.len()
    );
    // The table is the planner's specification: every case routes right both ways.
    let floor = n;
    assert!(n - words.len() >= floor, "by words:\n{}", words.join("\n"));
    assert!(
        n - meaning.len() >= floor,
        "with embeddings:\n{}",
        meaning.join("\n")
    );
}
