//! Runs the plain-text semantics cases in `golden/*.test` (see `golden/README.md`):
//! each query runs on a fresh engine with the catalog's tables (empty) and `now()`
//! fixed, and its rows are compared with the expected ones.

use std::path::{Path, PathBuf};

use crate::Engine;

/// `now()` in every case: 2025-01-15T12:00:00Z.
const NOW: i64 = 1_736_942_400_000_000_000;

#[derive(Debug)]
struct Case {
    /// `=== [pending] …`: KQL Vigil does not run correctly yet. The case must still
    /// fail; once it passes, the mark has to go.
    pending: bool,
    file: String,
    line: usize,
    title: String,
    query: String,
    expect: Expect,
}

#[derive(Debug)]
enum Expect {
    Rows {
        ordered: bool,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Error {
        code: String,
        text: Option<String>,
    },
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

fn cells(line: &str) -> Vec<String> {
    line.split(" | ").map(|c| c.trim().to_string()).collect()
}

fn parse_file(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(title) = lines[i].strip_prefix("=== ") else {
            i += 1;
            continue;
        };
        let line = i + 1;
        i += 1;
        let mut query = Vec::new();
        while i < lines.len() && !lines[i].starts_with("---") {
            query.push(lines[i]);
            i += 1;
        }
        assert!(
            i < lines.len(),
            "{file}:{line}: case {title:?} has no `---` line"
        );
        let sep = lines[i].trim_start_matches('-').trim();
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].starts_with("=== ") {
            body.push(lines[i]);
            i += 1;
        }
        while body.last().is_some_and(|l| l.trim().is_empty()) {
            body.pop();
        }
        // Comment lines between cases belong to no case.
        while body.last().is_some_and(|l| l.starts_with('#')) {
            body.pop();
            while body.last().is_some_and(|l| l.trim().is_empty()) {
                body.pop();
            }
        }
        let expect = if let Some(code) = sep.strip_prefix("error") {
            Expect::Error {
                code: code.trim().to_string(),
                text: body
                    .first()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty()),
            }
        } else {
            assert!(
                !body.is_empty(),
                "{file}:{line}: case {title:?} has no header line"
            );
            Expect::Rows {
                ordered: sep == "ordered",
                header: cells(body[0]),
                rows: body[1..].iter().map(|l| cells(l)).collect(),
            }
        };
        let (pending, title) = match title.strip_prefix("[pending] ") {
            Some(t) => (true, t),
            None => (false, title),
        };
        cases.push(Case {
            pending,
            file: file.clone(),
            line,
            title: title.to_string(),
            query: query.join("\n"),
            expect,
        });
    }
    cases
}

fn same_cell(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    match (expected.parse::<f64>(), actual.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => false,
    }
}

/// Runs one case; `Err` says how it failed.
fn run(runtime: &tokio::runtime::Runtime, case: &Case) -> Result<(), String> {
    let mut engine = Engine::new();
    engine.register_empty_catalog();
    engine.set_now(NOW);
    let outcome = engine.plan(&case.query).and_then(|planned| {
        let batches = runtime.block_on(engine.execute(&planned))?;
        Ok((planned, batches))
    });
    match (&case.expect, outcome) {
        (Expect::Error { code, text }, Err(e)) => {
            if e.kind.code() != code {
                return Err(format!(
                    "expected error {code}, got {}: {}",
                    e.kind.code(),
                    e.message
                ));
            }
            if let Some(t) = text
                && !e.message.contains(t.as_str())
            {
                return Err(format!(
                    "the error message {:?} does not contain {t:?}",
                    e.message
                ));
            }
            Ok(())
        }
        (Expect::Error { code, .. }, Ok(_)) => {
            Err(format!("expected error {code}, but the query ran"))
        }
        (Expect::Rows { .. }, Err(e)) => Err(format!("{}: {}", e.kind.code(), e.message)),
        (
            Expect::Rows {
                ordered,
                header,
                rows,
            },
            Ok((planned, batches)),
        ) => {
            let schema = planned.plan.schema();
            let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            if &names != header {
                return Err(format!("columns {names:?}, expected {header:?}"));
            }
            let text_columns: Vec<bool> = schema
                .fields()
                .iter()
                .map(|f| {
                    crate::lower_is_string(f.data_type())
                        && !planned.dynamic_columns.contains(f.name())
                })
                .collect();
            let mut actual: Vec<Vec<String>> = crate::format::rows(&batches)
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .zip(&text_columns)
                        .map(|(c, text)| match c {
                            // KQL strings are never null: a missing string is empty.
                            None if *text => "\"\"".to_string(),
                            None => "null".to_string(),
                            Some(s) if s.is_empty() => "\"\"".to_string(),
                            Some(s) => s,
                        })
                        .collect()
                })
                .collect();
            let mut expected = rows.clone();
            if !ordered {
                actual.sort();
                expected.sort();
            }
            let equal = actual.len() == expected.len()
                && actual.iter().zip(&expected).all(|(a, e)| {
                    a.len() == e.len() && a.iter().zip(e).all(|(x, y)| same_cell(y, x))
                });
            if !equal {
                let show = |rs: &[Vec<String>]| {
                    rs.iter()
                        .map(|r| r.join(" | "))
                        .collect::<Vec<_>>()
                        .join("\n    ")
                };
                return Err(format!(
                    "rows differ\n  expected:\n    {}\n  actual:\n    {}",
                    show(&expected),
                    show(&actual)
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn golden_cases() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("the golden folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("GOLDEN_ONLY").ok();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut pending = 0;
    for file in &files {
        for case in parse_file(file) {
            if only.as_ref().is_some_and(|o| {
                !case.file.contains(o.as_str()) && !case.title.contains(o.as_str())
            }) {
                continue;
            }
            total += 1;
            match (run(&runtime, &case), case.pending) {
                (Err(why), false) => failures.push(format!(
                    "{}:{}: {}\n  {}\n  query: {}",
                    case.file,
                    case.line,
                    case.title,
                    why,
                    case.query.replace('\n', "\n         ")
                )),
                (Ok(()), true) => failures.push(format!(
                    "{}:{}: {}\n  passes now: remove its [pending] mark",
                    case.file, case.line, case.title
                )),
                (Err(_), true) => pending += 1,
                (Ok(()), false) => {}
            }
        }
    }
    assert!(
        total >= 1,
        "no golden cases found in {}",
        golden_dir().display()
    );
    eprintln!(
        "golden: {total} cases, {} pass, {pending} pending",
        total - pending - failures.len()
    );
    if !failures.is_empty() {
        panic!(
            "{} of {total} golden cases failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}
