//! The copilot over the fixture lake in `tests/copilot/`: questions in plain language
//! become queries that return what the analyst-written reference queries return, and a
//! whole session (ask, follow up, pin, feedback, export) works from the command line.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::common::{ingest, vigil};

const REFERENCE_TIME: &str = "2026-03-11T15:30:00Z";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/copilot/fixture")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 11, 15, 30, 0)
        .single()
        .expect("a valid time")
}

fn fixture_lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let report = ingest(dir.path(), &[&fixture()]);
    assert_eq!(
        report.code, 0,
        "the fixture ingests cleanly:\n{}",
        report.stderr
    );
    dir
}

struct Case {
    question: String,
    kql: String,
    rows: usize,
    count: Option<u64>,
    has: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/copilot/nl2kql.txt"),
    )
    .expect("nl2kql.txt is readable");
    let mut out: Vec<Case> = Vec::new();
    let mut in_kql = false;
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            in_kql = false;
            continue;
        }
        if let Some(q) = line.strip_prefix("> ") {
            out.push(Case {
                question: q.to_string(),
                kql: String::new(),
                rows: 0,
                count: None,
                has: Vec::new(),
            });
            in_kql = false;
            continue;
        }
        let Some(case) = out.last_mut() else { continue };
        if in_kql && line.starts_with("  ") {
            case.kql.push('\n');
            case.kql.push_str(line.trim_start());
            continue;
        }
        in_kql = false;
        let (k, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let v = v.trim();
        match k {
            "kql" => {
                case.kql = v.to_string();
                in_kql = true;
            }
            "rows" => case.rows = v.parse().expect("rows is a number"),
            "count" => case.count = Some(v.parse().expect("count is a number")),
            "has" => case.has.push(v.to_string()),
            other => panic!("unknown key {other} in nl2kql.txt"),
        }
    }
    out
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn questions_become_queries_that_answer_them() {
    let lake = fixture_lake();
    let all = cases();
    assert!(all.len() >= 50, "only {} questions", all.len());
    let store = vigil_store::Store::open(lake.path()).expect("the lake opens");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(64 << 20)
        .build()
        .expect("a runtime");
    let copilot = runtime
        .block_on(
            vigil_copilot::Copilot::builder()
                .now(now())
                .without_sessions()
                .open(&store),
        )
        .expect("the copilot opens");
    let mut failures = Vec::new();
    let mut times = Vec::new();
    for case in &all {
        // The reference answer itself must hold, or the case is wrong.
        let reference = runtime
            .block_on(copilot.lake().query("reference", &case.kql))
            .unwrap_or_else(|e| panic!("the reference query of {:?} fails: {e}", case.question));
        assert_eq!(
            reference.table.rows.len(),
            case.rows,
            "the reference query of {:?} gives {} rows, the case says {}",
            case.question,
            reference.table.rows.len(),
            case.rows
        );
        let started = std::time::Instant::now();
        let turn = runtime
            .block_on(copilot.answer(&case.question, &[], now()))
            .unwrap_or_else(|e| panic!("{:?}: {e}", case.question));
        times.push(started.elapsed());
        let call = &turn.calls[0];
        let Some(output) = &call.output else {
            failures.push(format!(
                "{}\n    {} failed: {:?}",
                case.question, call.step.skill, call.error
            ));
            continue;
        };
        let Some(table) = output.tables.iter().find(|t| !t.columns.is_empty()) else {
            failures.push(format!(
                "{}\n    {} returned no table",
                case.question, call.step.skill
            ));
            continue;
        };
        let query = output.evidence.first().map_or("", |e| e.query.as_str());
        let mut problems = Vec::new();
        if call.step.skill != "nl_to_kql" {
            problems.push(format!("planned as {}", call.step.skill));
        }
        if table.rows.len() != case.rows {
            problems.push(format!("{} rows, wanted {}", table.rows.len(), case.rows));
        }
        if let Some(n) = case.count {
            let got = table
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(Value::as_u64);
            if got != Some(n) {
                problems.push(format!("count {got:?}, wanted {n}"));
            }
        }
        let cells: Vec<String> = table.rows.iter().flatten().map(cell_text).collect();
        for h in &case.has {
            if !cells.iter().any(|c| c.contains(h.as_str())) {
                problems.push(format!("no {h} in the rows"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}\n    {}\n    query: {}",
                case.question,
                problems.join("; "),
                query.replace('\n', " ")
            ));
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
    eprintln!(
        "nl2kql: {} of {} questions answered as the reference; median {median:?}, p95 {p95:?} (debug build)",
        all.len() - failures.len(),
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} questions fail:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

fn ask(lake: &Path, args: &[&str]) -> Value {
    let out = vigil(lake)
        .args(["ask", "--format", "json", "--now", REFERENCE_TIME])
        .args(args)
        .output()
        .expect("vigil runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vigil ask {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn a_whole_session_from_the_command_line() {
    let lake = fixture_lake();
    let first = ask(
        lake.path(),
        &["Which devices copied data to a USB drive in the last week?"],
    );
    let session = first["session"].as_str().expect("a session id").to_string();
    let answer = first["answer"].as_str().unwrap_or("");
    assert!(answer.contains("WS-FIN-01.corp.example"), "{answer}");
    assert!(answer.contains("ws-hr-07.corp.example"), "{answer}");
    assert!(!first["evidence"].as_array().expect("evidence").is_empty());

    // "that device": the first device of the previous answer.
    let second = ask(
        lake.path(),
        &["--session", &session, "What happened on that device?"],
    );
    assert_eq!(second["turn"], 2);
    let call = &second["skill_calls"][0];
    let resolved = &call["grounding"]["references"][0]["resolved"][0]["value"];
    assert_eq!(resolved, "WS-FIN-01.corp.example", "{call}");
    let query = second["evidence"][0]["query"].as_str().unwrap_or("");
    assert!(
        query.contains("DeviceName =~ \"WS-FIN-01.corp.example\""),
        "{query}"
    );

    let ok = |args: &[&str]| {
        let out = vigil(lake.path()).args(args).output().expect("vigil runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    ok(&[
        "sessions",
        "pin",
        &session,
        "1",
        "--note",
        "USB copies to chase",
    ]);
    ok(&[
        "sessions",
        "feedback",
        &session,
        "2",
        "needs-improvement",
        "--comment",
        "show file names",
    ]);
    let listed = ok(&["sessions", "list", "--format", "json"]);
    assert!(listed.contains(&session), "{listed}");

    let export = lake.path().join("session.md");
    ok(&[
        "sessions",
        "export",
        &session,
        "--output",
        export.to_str().expect("utf-8 path"),
    ]);
    let md = std::fs::read_to_string(&export).expect("the export exists");
    assert!(
        md.contains("## Pinboard") && md.contains("USB copies to chase"),
        "{md}"
    );
    assert!(md.contains("needs improvement: show file names"), "{md}");
    assert!(
        md.contains("## Turn 2: What happened on that device?"),
        "{md}"
    );
    let json: Value =
        serde_json::from_str(&ok(&["sessions", "export", &session, "--format", "json"]))
            .expect("JSON export");
    assert_eq!(json["turns"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["pins"][0]["turn"], 1);

    // The audit log has both prompts with the skills they ran.
    let audit = ok(&["sessions", "audit", "--format", "json"]);
    assert!(
        audit.contains("What happened on that device?") && audit.contains("nl_to_kql"),
        "{audit}"
    );

    // A session that does not exist is an error that says so.
    let out = vigil(lake.path())
        .args(["ask", "--session", "nope", "anything"])
        .output()
        .expect("vigil runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session nope"));
}
