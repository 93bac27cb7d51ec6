//! Ingest throughput: the whole of `vigil ingest` (parse, normalise, write Parquet,
//! commit) against the `evtx` crate's own iteration over the same files, in one run.
//!
//! The input is the shared attack samples copied N times (`VIGIL_BENCH_COPIES`, default
//! 10). Each measurement is the best of three. Peak memory is the largest resident set
//! of a `vigil ingest` process, for one copy and for N, to show it does not grow with
//! the input.
//!
//! Run with `cargo bench -p vigil --bench ingest`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use evtx::{EvtxParser, ParserSettings};

mod common;
use common::{env_number, evtx_files, shared_data};

// The allocator `vigil` runs with, so the baseline is not slowed by another.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let shared = shared_data();
    let samples = shared.join("evtx/attack-samples");
    assert!(
        samples.is_dir(),
        "the attack samples are missing at {}",
        samples.display()
    );
    let copies: usize = env_number("VIGIL_BENCH_COPIES", 10);

    let work = tempfile::tempdir().expect("a temporary folder");
    let one = work.path().join("x1");
    let many = work.path().join(format!("x{copies}"));
    let sources = evtx_files(&samples);
    copy_into(&sources, &one, 1);
    copy_into(&sources, &many, copies);
    let files = evtx_files(&many);
    let bytes: u64 = files
        .iter()
        .map(|f| f.metadata().map_or(0, |m| m.len()))
        .sum();
    println!(
        "input: {} files, {:.1} MiB ({copies} copies of the attack samples)",
        files.len(),
        bytes as f64 / 1048576.0
    );

    let (json_records, json_time) = best_of(3, || iterate(&files, false));
    let (value_records, value_time) = best_of(3, || iterate(&files, true));
    assert_eq!(json_records, value_records);

    let mut best: Option<(u64, Duration)> = None;
    for _ in 0..3 {
        let (records, elapsed, _) = run_ingest(&many, work.path(), &[]);
        if best.is_none_or(|(_, t)| elapsed < t) {
            best = Some((records, elapsed));
        }
    }
    let (vigil_records, vigil_time) = best.expect("three runs");
    assert_eq!(
        vigil_records, json_records,
        "vigil reads every record the crate iterates"
    );

    // Peak memory, one copy against all: with the defaults (a 256 MiB write buffer and
    // a commit every 500,000 rows, more than this input needs), and with a 16 MiB buffer
    // and a commit every 50,000 rows, which this input outgrows.
    let mut memory = Vec::new();
    let settings: [(&str, &[&str]); 2] = [
        ("defaults", &[]),
        (
            "16 MiB, 50k rows",
            &["--buffer-mb", "16", "--commit-rows", "50000"],
        ),
    ];
    for (name, args) in settings {
        let (_, _, one_rss) = run_ingest(&one, work.path(), args);
        let (_, _, many_rss) = run_ingest(&many, work.path(), args);
        memory.push((name, one_rss, many_rss));
    }

    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64();
    println!();
    println!(
        "{:<46} {:>9} {:>9} {:>12}",
        "measurement", "records", "seconds", "records/s"
    );
    let line = |name: &str, n: u64, t: Duration| {
        println!(
            "{name:<46} {n:>9} {:>9.3} {:>12.0}",
            t.as_secs_f64(),
            rate(n, t)
        );
    };
    line(
        "evtx crate, records_json (baseline)",
        json_records,
        json_time,
    );
    line("evtx crate, records_json_value", value_records, value_time);
    line(
        "vigil ingest (parse, map, Parquet, commit)",
        vigil_records,
        vigil_time,
    );
    println!();
    println!(
        "vigil ingest / evtx records_json:       {:.2}",
        rate(vigil_records, vigil_time) / rate(json_records, json_time)
    );
    println!(
        "vigil ingest / evtx records_json_value: {:.2}",
        rate(vigil_records, vigil_time) / rate(value_records, value_time)
    );
    println!();
    println!("peak memory of vigil ingest (MiB):");
    let mib = |kib: i64| kib as f64 / 1024.0;
    let many_label = format!("{copies} copies");
    println!(
        "{:<20} {:>10} {:>10}",
        "buffer, commits", "1 copy", many_label
    );
    for (name, one, many) in memory {
        println!("{name:<20} {:>10.1} {:>10.1}", mib(one), mib(many));
    }
}

/// Copies every file `copies` times. The same content appears many times, so the
/// ingest runs with `--force` to read every copy.
fn copy_into(files: &[PathBuf], dir: &Path, copies: usize) {
    for c in 0..copies {
        let target = dir.join(format!("copy{c}"));
        std::fs::create_dir_all(&target).expect("a folder");
        for (i, f) in files.iter().enumerate() {
            std::fs::copy(f, target.join(format!("{i:04}.evtx"))).expect("a copy");
        }
    }
}

/// Records the crate yields over all files, on every core, as JSON text or JSON values.
fn iterate(files: &[PathBuf], values: bool) -> u64 {
    let mut n = 0;
    for f in files {
        let settings = ParserSettings::new()
            .num_threads(0)
            .validate_checksums(false);
        let mut parser = EvtxParser::from_path(f)
            .expect("an EVTX file")
            .with_configuration(settings);
        if values {
            n += parser.records_json_value().filter(Result::is_ok).count() as u64;
        } else {
            n += parser.records_json().filter(Result::is_ok).count() as u64;
        }
    }
    n
}

fn best_of(runs: usize, mut f: impl FnMut() -> u64) -> (u64, Duration) {
    let mut best = (0, Duration::MAX);
    for _ in 0..runs {
        let started = Instant::now();
        let n = f();
        let elapsed = started.elapsed();
        if elapsed < best.1 {
            best = (n, elapsed);
        }
    }
    best
}

/// Runs `vigil ingest` into a fresh data directory: records read, wall time, and the
/// peak resident memory (KiB) of that process.
// The child is reaped by `wait4` (for its resource usage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_ingest(input: &Path, work: &Path, args: &[&str]) -> (u64, Duration, i64) {
    use std::io::Read;
    let data = work.join("lake");
    let _ = std::fs::remove_dir_all(&data);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", "--force", "--quiet", "--summary", "json"])
        .args(args)
        .arg(input)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("vigil runs");
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut stdout)
        .expect("output");
    let (status, rss) = wait_with_rusage(child.id());
    let elapsed = started.elapsed();
    assert_eq!(status, 0, "vigil ingest failed");
    let summary: serde_json::Value = serde_json::from_slice(&stdout).expect("a JSON summary");
    let records = summary["records"].as_u64().expect("a record count");
    (records, elapsed, rss)
}

/// Waits for a child and returns its exit code and peak resident memory (KiB).
fn wait_with_rusage(pid: u32) -> (i32, i64) {
    // SAFETY: wait4 writes only into the status and rusage given, which are zeroed and
    // live for the whole call; the child is reaped here and not waited for elsewhere.
    unsafe {
        let mut status = 0;
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage);
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        (code, usage.ru_maxrss)
    }
}
