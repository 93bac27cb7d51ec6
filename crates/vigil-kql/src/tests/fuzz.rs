//! The front end must never panic and must stay fast on any input: random token soup,
//! deep nesting, very long queries, and real hunting queries with random edits.
//!
//! Each property runs for `VIGIL_FUZZ_SECONDS` seconds (a few by default, so the test
//! suite stays quick); set it to 600 for a ten-minute campaign. A failing input is
//! shrunk by proptest and printed.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::Engine;

fn budget() -> Duration {
    let seconds = std::env::var("VIGIL_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(3);
    Duration::from_secs(seconds)
}

/// Runs `strategy` against `check` until the time budget is spent; returns the count.
fn campaign<S: Strategy>(
    name: &str,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u64
where
    S::Value: std::fmt::Debug,
{
    let deadline = Instant::now() + budget();
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&strategy, &check) {
            panic!("{name}: {e}");
        }
        runs += 256;
    }
    eprintln!("fuzz {name}: {runs} inputs");
    runs
}

/// Planning against the empty catalog: parse, bind and lower, all of which must come
/// back with a value or an error, within a time linear-ish in the input's length.
fn front_end(engine: &Engine, query: &str) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let planned = engine.plan(query);
    let took = started.elapsed();
    // A panic while probing data (for `bag_unpack`, `pivot`) comes back as this error.
    if let Err(e) = &planned {
        prop_assert!(
            !e.message.contains("unexpectedly"),
            "planning panicked: {}",
            e.message
        );
    }
    // Generous: a debug build plans a 10 KB query in well under a millisecond per
    // hundred bytes; anything slower is a blow-up, not noise.
    let allowed = Duration::from_millis(500 + query.len() as u64 / 10);
    prop_assert!(
        took < allowed,
        "planning {} bytes took {took:?}",
        query.len()
    );
    Ok(())
}

fn engine() -> Engine {
    let mut engine = Engine::new();
    engine.register_empty_catalog();
    engine.set_now(1_736_942_400_000_000_000);
    engine
}

const WORDS: &[&str] = &[
    "DeviceProcessEvents",
    "SigninLogs",
    "where",
    "extend",
    "project",
    "summarize",
    "count()",
    "by",
    "join",
    "kind=inner",
    "on",
    "$left.",
    "$right.",
    "let",
    "=",
    ";",
    "|",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    "==",
    "=~",
    "!=",
    "has",
    "contains",
    "!has",
    "in",
    "!in~",
    "between",
    "..",
    "and",
    "or",
    "not",
    "ago(1d)",
    "datetime(",
    "dynamic(",
    "'x'",
    "\"y\"",
    "@'c:\\\\'",
    "h'secret'",
    "```",
    "1d",
    "5m",
    "100ms",
    "42",
    "3.5",
    "-",
    "+",
    "*",
    "/",
    "%",
    "<",
    ">=",
    "iff(",
    "case(",
    "tostring(",
    "parse_json(",
    "mv-expand",
    "mv-apply",
    "make-series",
    "step",
    "from",
    "to",
    "parse",
    "with",
    "*",
    "take",
    "top",
    "sort",
    "asc",
    "desc",
    "union",
    "isfuzzy=true",
    "datatable(a:long)",
    "print",
    "range",
    "x",
    "FileName",
    "Timestamp",
    "{{Param}}",
    "//c\n",
    "/* */",
    "materialize(",
    "toscalar(",
    "evaluate",
    "bag_unpack(",
    "render",
    "timechart",
    "lookup",
    "invoke",
    "getschema",
    "serialize",
    "prev(",
    "row_number()",
    "externaldata(",
    "bin(",
    "arg_max(",
    "make_set(",
    "search",
    "distinct",
    "\n",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..120).prop_map(|ws| ws.join(" "))
}

#[test]
fn random_token_sequences_never_panic() {
    let engine = engine();
    let runs = campaign("tokens", token_soup(), |q| front_end(&engine, &q));
    assert!(runs > 0);
}

#[test]
fn arbitrary_text_never_panics() {
    let engine = engine();
    let runs = campaign("text", any::<String>(), |q| front_end(&engine, &q));
    assert!(runs > 0);
}

#[test]
fn deep_nesting_and_long_inputs_stay_fast() {
    let engine = engine();
    let shapes = (1usize..3000, 0usize..4).prop_map(|(depth, shape)| match shape {
        0 => format!("print x = {}1{}", "(".repeat(depth), ")".repeat(depth)),
        1 => format!("print x = {}", "-".repeat(depth)),
        2 => format!("T | where {}", vec!["a == 1"; depth.min(2000)].join(" or ")),
        _ => format!("print x = {}", "dynamic([".repeat(depth.min(500))),
    });
    let runs = campaign("nesting", shapes, |q| front_end(&engine, &q));
    assert!(runs > 0);
}

/// Real hunting queries with bytes deleted, duplicated or swapped.
#[test]
fn edited_hunting_queries_never_panic() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/kql/hunting-queries.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the hunting queries are test data at {}: {e}",
            path.display()
        )
    });
    let queries: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("query")?.as_str().map(str::to_string))
        .collect();
    assert!(queries.len() > 1000, "only {} queries read", queries.len());
    let engine = engine();
    let edits = (
        0..queries.len(),
        prop::collection::vec((any::<u16>(), 0u8..3, any::<u16>()), 1..6),
    )
        .prop_map(|(i, edits)| {
            let mut chars: Vec<char> = queries[i].chars().collect();
            for (at, kind, other) in edits {
                if chars.is_empty() {
                    break;
                }
                let a = usize::from(at) % chars.len();
                let b = usize::from(other) % chars.len();
                match kind {
                    0 => {
                        chars.remove(a);
                    }
                    1 => {
                        let c = chars[b];
                        chars.insert(a, c);
                    }
                    _ => chars.swap(a, b),
                }
            }
            chars.into_iter().collect::<String>()
        });
    let runs = campaign("edits", edits, |q| front_end(&engine, &q));
    assert!(runs > 0);
}
