//! `vigil serve` under load: 50 analysts (each a session of its own) ask the demo's
//! questions and follow-ups for a minute, over HTTP with a token, with no language model.
//!
//! Reports answers a second, latency percentiles and errors; the baseline, measured in
//! the same run against the same server, is one analyst asking the same questions alone,
//! so the ratio is what sharing the server with 49 others costs. The goal: no errors and
//! a 95th percentile under 2 s.
//!
//! `VIGIL_BENCH_CLIENTS` (default 50) and `VIGIL_BENCH_SECONDS` (default 60) change the
//! load. Run with `cargo bench -p vigil --bench serve` (add `--profile dev` to reuse the
//! test build).

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{env_number, ms, percentile, shared_data};

const NOW: &str = "2026-03-11T12:00:00Z";

fn vigil(lake: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.arg("--data-dir").arg(lake);
    cmd
}

/// One POST of JSON; returns the status and the body.
fn post(addr: &str, path: &str, token: &str, body: &Value) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let payload = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// What one analyst saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: Vec<String>,
}

/// Asks `prompts` in order in one session, round after round, until `until`.
fn analyst(addr: &str, token: &str, prompts: &[String], until: Option<Instant>) -> Tally {
    let mut tally = Tally::default();
    let mut session: Option<String> = None;
    let mut i = 0usize;
    loop {
        let finished = match until {
            Some(u) => Instant::now() >= u,
            None => i >= prompts.len(),
        };
        if finished {
            break;
        }
        let prompt = &prompts[i % prompts.len()];
        i += 1;
        let mut body = json!({"prompt": prompt});
        if let Some(s) = &session {
            body["session"] = json!(s);
        }
        let started = Instant::now();
        match post(addr, "/api/ask", token, &body) {
            Ok((200, text)) => {
                tally.latencies.push(started.elapsed());
                if session.is_none() {
                    session = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v["session"].as_str().map(str::to_string));
                }
            }
            Ok((status, text)) => tally.errors.push(format!(
                "{prompt:?}: {status} {}",
                text.chars().take(200).collect::<String>()
            )),
            Err(e) => tally.errors.push(format!("{prompt:?}: {e}")),
        }
        // A long session is a new one after a while, as an analyst's would be.
        if i % (prompts.len() * 2) == 0 {
            session = None;
        }
    }
    tally
}

fn main() {
    let shared = shared_data();
    let rules = shared.join("sigma/rules");
    assert!(
        rules.is_dir(),
        "the shared Sigma rules are missing at {}",
        rules.display()
    );
    let clients: usize = env_number("VIGIL_BENCH_CLIENTS", 50);
    let seconds: u64 = env_number("VIGIL_BENCH_SECONDS", 60);
    let work = tempfile::tempdir().expect("a temporary folder");
    let lake = work.path().join("lake");
    let out = vigil(&lake)
        .args(["demo", "--quiet", "--now", NOW, "--rules"])
        .arg(&rules)
        .output()
        .expect("vigil demo runs");
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 3),
        "vigil demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added = vigil(&lake)
        .args(["users", "add", "loadtest", "--role", "analyst"])
        .output()
        .expect("vigil users add runs");
    assert!(added.status.success());
    let token = String::from_utf8_lossy(
        &vigil(&lake)
            .args(["users", "token", "loadtest"])
            .output()
            .expect("vigil users token runs")
            .stdout,
    )
    .trim()
    .to_string();
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(lake.join("demo-source/ground-truth.json")).expect("truth"),
    )
    .expect("the ground truth is JSON");
    let scenario = |id: &str| -> Value {
        truth["scenarios"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == id))
            .cloned()
            .expect("a scenario")
    };
    let first = |v: &Value| v[0].as_str().unwrap_or("").to_string();
    let victim = first(&scenario("phishing-to-ransomware")["devices"]);
    let usb = first(&scenario("usb-exfiltration")["devices"]);
    let sprayed = first(&scenario("password-spray-mfa-fatigue")["users"]);
    let prompts: Vec<String> = vec![
        "Show high severity incidents".into(),
        "Summarize incident 1".into(),
        "Which devices copied data to a USB drive in the last week?".into(),
        format!("Who is the primary user of {usb}?"),
        format!("What happened on {victim} yesterday?"),
        "What else happened on that device?".into(),
        format!("Show failed sign-ins for {sprayed} in the last 24 hours"),
        "What else did that user do?".into(),
        format!("Show the five most recent app crash events on {victim}"),
        "Look up 198.51.100.23".into(),
    ];

    let mut server = vigil(&lake)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
            "--now",
            NOW,
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("vigil serve starts");
    let mut lines = std::io::BufReader::new(server.stderr.take().expect("a stderr")).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server says where it listens")
            .expect("a line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap_or("").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    // Warm up (the first answers open files), then the baseline: one analyst alone.
    analyst(&addr, &token, &prompts, None);
    let mut alone = Vec::new();
    let mut alone_errors = 0;
    for _ in 0..3 {
        let t = analyst(&addr, &token, &prompts, None);
        alone.extend(t.latencies);
        alone_errors += t.errors.len();
    }
    alone.sort();

    println!(
        "{clients} analysts asking for {seconds} s against vigil serve on the demo lake \
         ({} prompts, each session asks them in turn)",
        prompts.len()
    );
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, token) = (addr.clone(), token.clone());
            let mut mine = prompts.clone();
            mine.rotate_left(c % prompts.len());
            std::thread::spawn(move || analyst(&addr, &token, &mine, Some(until)))
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for h in handles {
        let t = h.join().expect("an analyst thread");
        all.extend(t.latencies);
        errors.extend(t.errors);
    }
    let elapsed = started.elapsed();
    let _ = server.kill();
    let _ = server.wait();
    all.sort();

    println!(
        "load:     {} answers in {:.1} s = {:.1} answers/s; p50 {}, p95 {}, p99 {}, max {}; {} error(s)",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.95)),
        ms(percentile(&all, 0.99)),
        ms(all.last().copied().unwrap_or_default()),
        errors.len()
    );
    println!(
        "baseline: one analyst alone, {} answers: p50 {}, p95 {}; {} error(s)",
        alone.len(),
        ms(percentile(&alone, 0.5)),
        ms(percentile(&alone, 0.95)),
        alone_errors
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!(
        "ratio under load / alone: p50 {:.2}x, p95 {:.2}x",
        ratio(percentile(&all, 0.5), percentile(&alone, 0.5)),
        ratio(percentile(&all, 0.95), percentile(&alone, 0.95))
    );
    for e in errors.iter().take(10) {
        println!("error: {e}");
    }
    let p95 = percentile(&all, 0.95);
    println!(
        "goal (no errors, p95 under 2 s): {}",
        if errors.is_empty() && p95 < Duration::from_secs(2) {
            "met"
        } else {
            "NOT met"
        }
    );
}
