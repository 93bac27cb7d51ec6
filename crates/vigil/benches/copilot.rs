//! Copilot answer latency: grounding, planning, the skills' queries and composing the
//! answer, with no language model, over the demo organisation's lake scaled to about a
//! million events.
//!
//! Each prompt of the set is answered `VIGIL_BENCH_ROUNDS` times (default 5) in one
//! process; the report gives the median and 95th percentile over all answers, and, as
//! the baseline measured in the same run, the time the engine alone takes to run the
//! same queries the answers ran (so the ratio is what grounding, planning and composing
//! add). `VIGIL_BENCH_SCALE` sets the demo's size (default 11, about a million rows).
//!
//! Run with `cargo bench -p vigil --bench copilot` (add `--profile dev` to reuse the
//! test build).

use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

mod common;
use common::{env_number, ms, percentile, shared_data};

const NOW: &str = "2026-03-11T12:00:00Z";

fn main() {
    let shared = shared_data();
    let rules = shared.join("sigma/rules");
    assert!(
        rules.is_dir(),
        "the shared Sigma rules are missing at {}",
        rules.display()
    );
    let scale: f64 = env_number("VIGIL_BENCH_SCALE", 11.0);
    let rounds: usize = env_number("VIGIL_BENCH_ROUNDS", 5);
    let work = tempfile::tempdir().expect("a temporary folder");
    let lake = work.path().join("lake");

    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&lake)
        .args([
            "demo",
            "--quiet",
            "--now",
            NOW,
            "--scale",
            &scale.to_string(),
            "--rules",
        ])
        .arg(&rules)
        .output()
        .expect("vigil demo runs");
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 3),
        "vigil demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(lake.join("demo-source/ground-truth.json")).expect("truth"),
    )
    .expect("the ground truth is JSON");
    let scenario = |id: &str| -> &Value {
        truth["scenarios"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == id))
            .expect("a scenario")
    };
    let first = |v: &Value| v[0].as_str().unwrap_or("").to_string();
    let victim = first(&scenario("phishing-to-ransomware")["devices"]);
    let usb = first(&scenario("usb-exfiltration")["devices"]);
    let usb_host = usb.split('.').next().unwrap_or("").to_uppercase();
    let victim_host = victim.split('.').next().unwrap_or("").to_uppercase();
    let sprayed = first(&scenario("password-spray-mfa-fatigue")["users"]);
    let prompts: Vec<String> = vec![
        "Show high severity incidents".into(),
        "List open incidents".into(),
        "Summarize incident 1".into(),
        "Which devices copied data to a USB drive in the last week?".into(),
        format!("Generate a KQL query to get the expired certificates for device {usb}"),
        format!("Show the five most recent app crash events on {victim}"),
        format!("Who is the primary user of {usb_host}?"),
        format!("Which groups is {usb_host} in?"),
        format!("Which managed apps are installed on {usb_host}?"),
        format!("Compare the configuration of {usb_host} and {victim_host}"),
        format!("What happened on {victim} yesterday?"),
        format!("Show failed sign-ins for {sprayed} in the last 24 hours"),
        format!("Look up {victim}"),
        "Look up 198.51.100.23".into(),
        "Show encoded PowerShell commands in the last week".into(),
        "Which devices had failed logons in the last 24 hours?".into(),
        "How many network connections went to port 3389 last week?".into(),
        "Describe the DeviceProcessEvents table".into(),
        "Create an incident report for incident 1 for executives".into(),
        "DeviceProcessEvents | summarize count() by DeviceName | top 10 by count_".into(),
    ];

    let store = vigil_store::Store::open(&lake).expect("the lake opens");
    let rows: u64 = store
        .table_stats()
        .map(|t| t.iter().map(|s| s.rows).sum())
        .unwrap_or(0);
    println!(
        "lake: {rows} rows (demo at scale {scale}, built in {:.1} s); {} prompts x {rounds} rounds",
        started.elapsed().as_secs_f64(),
        prompts.len()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(256 << 20)
        .build()
        .expect("a runtime");
    let now: DateTime<Utc> = NOW.parse().expect("a time");
    let copilot = runtime
        .block_on(
            vigil_copilot::Copilot::builder()
                .now(now)
                .without_sessions()
                .without_plugins()
                .open(&store),
        )
        .expect("the copilot opens");

    let mut answers = Vec::new();
    let mut engine = Vec::new();
    let mut per_prompt = Vec::new();
    for prompt in &prompts {
        let mut times = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let turn = runtime
                .block_on(copilot.answer(prompt, &[], now))
                .unwrap_or_else(|e| panic!("{prompt}: {e}"));
            times.push(t.elapsed());
            // The baseline: the same queries, on the engine alone.
            let queries: Vec<String> = turn
                .calls
                .iter()
                .flat_map(|c| c.output.iter().flat_map(|o| o.evidence.iter()))
                .map(|e| e.query.clone())
                .collect();
            let t = Instant::now();
            for q in &queries {
                runtime
                    .block_on(copilot.lake().query("baseline", q))
                    .unwrap_or_else(|e| panic!("{q}: {e}"));
            }
            engine.push(t.elapsed());
        }
        times.sort();
        per_prompt.push((prompt.clone(), times[times.len() / 2]));
        answers.extend(times);
    }
    answers.sort();
    engine.sort();
    for (prompt, median) in &per_prompt {
        println!("  {:>9}  {prompt}", ms(*median));
    }
    let (median, p95) = (percentile(&answers, 0.5), percentile(&answers, 0.95));
    let (engine_median, engine_p95) = (percentile(&engine, 0.5), percentile(&engine, 0.95));
    println!(
        "answers: median {}, p95 {}, max {}",
        ms(median),
        ms(p95),
        ms(answers[answers.len() - 1])
    );
    println!(
        "baseline (the same queries on the engine alone): median {}, p95 {}",
        ms(engine_median),
        ms(engine_p95)
    );
    println!(
        "ratio answer / engine: median {:.2}x, p95 {:.2}x",
        median.as_secs_f64() / engine_median.as_secs_f64().max(1e-9),
        p95.as_secs_f64() / engine_p95.as_secs_f64().max(1e-9)
    );
}
