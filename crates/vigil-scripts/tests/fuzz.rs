//! Property tests for hostile input: random text, mutated samples and deliberately
//! explosive constructions never panic, stay within the limits and end in bounded time.
//!
//! The default run is short. A long soak runs with
//! `VIGIL_FUZZ_SECS=600 cargo test --release -p vigil-scripts --test fuzz -- --ignored --nocapture`.

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use vigil_scripts::{Analysis, Analyzer};

/// The inputs of the sample files, as seeds for mutation.
fn seeds() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/samples");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        for part in text.split("\ninput:\n").skip(1) {
            let body: Vec<&str> = part
                .lines()
                .take_while(|l| {
                    !l.starts_with("decoded:")
                        && !l.starts_with("techniques:")
                        && !l.starts_with("indicators:")
                        && !l.starts_with("warnings:")
                        && !l.starts_with("layers:")
                        && !l.starts_with("absent:")
                        && !l.starts_with("risk:")
                        && !l.starts_with("=== ")
                })
                .collect();
            out.push(body.join("\n"));
        }
    }
    assert!(out.len() >= 100, "only {} seeds", out.len());
    out
}

fn analyzer() -> Analyzer {
    Analyzer::new().max_time(Duration::from_secs(2))
}

/// What must hold for any input.
fn check_bounds(a: &Analysis, took: Duration) -> Result<(), TestCaseError> {
    let limits = analyzer().limits().clone();
    prop_assert!(took < Duration::from_secs(4), "took {took:?}");
    prop_assert!(a.layers.len() <= limits.max_layers);
    prop_assert!(a.decoded.len() <= limits.max_decoded);
    prop_assert!(a.indicators.len() <= 500);
    prop_assert!(!a.steps.is_empty());
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, char),
    Insert(usize, String),
    Truncate(usize),
    Repeat(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let junk = prop_oneof![
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("`".to_string()),
        Just("^".to_string()),
        Just("%".to_string()),
        Just("$(".to_string()),
        Just("-enc ".to_string()),
        Just("iex ".to_string()),
        Just("+'".to_string()),
        Just("=".to_string()),
        Just("\n".to_string()),
        "\\PC{0,6}",
    ];
    prop_oneof![
        (any::<usize>(), any::<char>()).prop_map(|(p, c)| Mutation::Replace(p, c)),
        (any::<usize>(), junk).prop_map(|(p, s)| Mutation::Insert(p, s)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..40, 1usize..50).prop_map(|(p, n, k)| Mutation::Repeat(p, n, k)),
    ]
}

fn apply(seed: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for m in muts {
        let len = chars.len().max(1);
        match m {
            Mutation::Replace(p, c) => {
                if !chars.is_empty() {
                    chars[p % len] = *c;
                }
            }
            Mutation::Insert(p, s) => {
                let at = (p % len).min(chars.len());
                chars.splice(at..at, s.chars());
            }
            Mutation::Truncate(p) => chars.truncate(p % len),
            Mutation::Repeat(p, n, k) => {
                let at = (p % len).min(chars.len());
                let end = (at + n).min(chars.len());
                let piece: Vec<char> = chars[at..end].to_vec();
                for _ in 0..*k {
                    chars.splice(end..end, piece.iter().copied());
                }
            }
        }
    }
    chars.into_iter().collect()
}

/// Failures are reported with their minimal input; nothing is written next to the tests.
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("VIGIL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// In a soak, each input is written here before it is analysed, so that an input that
/// kills the process (which no assertion can catch) is left behind to reproduce.
fn note_input(input: &str) {
    if let Ok(path) = std::env::var("VIGIL_FUZZ_LAST") {
        let _ = std::fs::write(path, input);
    }
}

fn run_random(runner: &mut TestRunner, a: &Analyzer) -> Result<(), String> {
    runner
        .run(&"\\PC{0,400}", |s| {
            note_input(&s);
            let t = Instant::now();
            let r = a.analyze(&s);
            check_bounds(&r, t.elapsed())
        })
        .map_err(|e| e.to_string())
}

fn run_mutated(runner: &mut TestRunner, a: &Analyzer, seeds: &[String]) -> Result<(), String> {
    let n = seeds.len();
    runner
        .run(
            &(0..n, prop::collection::vec(mutation(), 1..8)),
            |(i, muts)| {
                let input = apply(&seeds[i], &muts);
                note_input(&input);
                let t = Instant::now();
                let r = a.analyze(&input);
                check_bounds(&r, t.elapsed())
            },
        )
        .map_err(|e| e.to_string())
}

#[test]
fn random_text_never_panics() {
    let mut runner = TestRunner::new(config(cases(64)));
    if let Err(e) = run_random(&mut runner, &analyzer()) {
        panic!("{e}");
    }
}

#[test]
fn mutated_samples_never_panic() {
    let seeds = seeds();
    let mut runner = TestRunner::new(config(cases(96)));
    if let Err(e) = run_mutated(&mut runner, &analyzer(), &seeds) {
        panic!("{e}");
    }
}

/// A long soak of both properties, for as many seconds as `VIGIL_FUZZ_SECS` says.
#[test]
#[ignore = "long soak; run on demand"]
fn soak() {
    let secs: u64 = std::env::var("VIGIL_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let seeds = seeds();
    let a = analyzer();
    let started = Instant::now();
    let mut total = 0u64;
    let mut round = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        // A fresh seed per round so that rounds explore different inputs.
        let config = Config {
            rng_seed: proptest::test_runner::RngSeed::Fixed(round),
            ..config(200)
        };
        let mut runner = TestRunner::new(config.clone());
        if let Err(e) = run_random(&mut runner, &a) {
            panic!("random text, round {round}: {e}");
        }
        let mut runner = TestRunner::new(config);
        if let Err(e) = run_mutated(&mut runner, &a, &seeds) {
            panic!("mutated samples, round {round}: {e}");
        }
        total += 400;
        round += 1;
    }
    println!(
        "soak: {total} cases in {} rounds over {:.0?}",
        round,
        started.elapsed()
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[test]
fn decompression_bomb_is_capped() {
    // 8 MiB of one letter compresses to about 8 KiB; the limit is 4 MiB.
    let bomb = gzip(&vec![b'A'; 8 << 20]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
    let script = format!(
        "iex (New-Object IO.StreamReader((New-Object IO.Compression.GzipStream(\
         [IO.MemoryStream][Convert]::FromBase64String('{b64}'),\
         [IO.Compression.CompressionMode]::Decompress)))).ReadToEnd()"
    );
    let t = Instant::now();
    let a = analyzer().analyze(&script);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(a.decoded.len() <= analyzer().limits().max_decoded);
    assert!(
        a.warnings.iter().any(|w| w.contains("decompression bomb")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn deep_nesting_ends_with_a_partial_result() {
    // Twelve levels of iex '...' (quotes double at each level) against a limit of five.
    let mut code = "whoami".to_string();
    for _ in 0..12 {
        code = format!("iex '{}'", code.replace('\'', "''"));
    }
    let t = Instant::now();
    let a = analyzer().max_layers(5).analyze(&code);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(a.layers.len(), 5);
    assert!(
        a.warnings
            .iter()
            .any(|w| w.contains("stopped after 5 decoding layers")),
        "{:?}",
        a.warnings
    );
    // With the default limit every level comes off.
    let a = analyzer().analyze(&code);
    assert_eq!(a.decoded.trim(), "whoami");

    // Parentheses nested far past the evaluator's depth limit.
    let parens = format!("iex {}'x'{}", "(".repeat(50_000), ")".repeat(50_000));
    let t = Instant::now();
    let a = analyzer().analyze(&parens);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    // Past the depth limit the evaluator gives up (no stack overflow): nothing is folded.
    assert_eq!(a.decoded, parens);
}

#[test]
fn long_concatenation_with_an_unknown_tail_is_linear() {
    // 5,000 pieces then a variable the engine cannot know: the known head folds in one
    // pass instead of being re-read from every piece.
    let script = format!("$y = {}+$x", vec!["'a'"; 5000].join("+"));
    let t = Instant::now();
    let a = analyzer().analyze(&script);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    assert!(a.decoded.contains(&format!("'{}'+$x", "a".repeat(5000))));
}

/// Peak resident memory of this test process, where Linux reports it.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[test]
fn values_that_multiply_stay_within_the_size_limit() {
    let doubling_ps = format!("$a = 'x' * 1000\n{}$a", "$a += $a\n".repeat(40));
    let doubling_cmd = format!(
        "@echo off\nset a=xxxxxxxxxxxxxxxx\n{}{}\n",
        "set a=%a%%a%\n".repeat(40),
        "%a%".repeat(2000)
    );
    let replace = "$s = 'a' * 100000; $t = $s.Replace('a', ('b' * 100))".to_string();
    let format = "$f = ('{0}' * 1000) -f ('x' * 10000); iex $f".to_string();
    let regex = "$r = ('a' * 10000) -replace '', ('c' * 100)".to_string();
    let js = format!(
        "var s = \"{}\".split(\"a\").join(\"{}\");",
        "a".repeat(20_000),
        "b".repeat(20_000)
    );
    let many_uses = format!("$v = 'y' * 100000\n{}", "Write-Host $v\n".repeat(200));
    // A small size limit keeps the test quick; each script would outgrow any limit.
    let small = analyzer().max_decoded(1 << 18);
    let cap = small.limits().max_decoded;
    for script in [
        doubling_ps,
        doubling_cmd,
        replace,
        format,
        regex,
        js,
        many_uses,
    ] {
        let t = Instant::now();
        let a = small.analyze(&script);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "took {:?}",
            t.elapsed()
        );
        assert!(
            a.decoded.len() <= cap.max(script.len()),
            "{} bytes",
            a.decoded.len()
        );
        for layer in &a.layers {
            assert!(layer.length <= cap, "layer of {} bytes", layer.length);
        }
    }
    if let Some(peak) = peak_rss_mib() {
        assert!(peak < 2048, "peak resident memory {peak} MiB");
    }
}

#[test]
fn huge_input_is_cut_with_a_warning() {
    let big = "Write-Host 'x'; ".repeat(400_000);
    let t = Instant::now();
    let a = Analyzer::new().max_input(1 << 20).analyze(&big);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        a.warnings.iter().any(|w| w.contains("only the first")),
        "{:?}",
        a.warnings
    );
}

#[test]
fn invalid_encodings_warn_and_keep_going() {
    let a = analyzer().analyze("powershell -enc ****notbase64****\nwhoami");
    assert!(
        a.warnings.iter().any(|w| w.contains("Base64")),
        "{:?}",
        a.warnings
    );
    assert!(
        a.technique_ids().contains(&"T1033"),
        "the rest of the script is still read"
    );
}
