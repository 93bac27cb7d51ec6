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

fn main() {
    let shared = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let samples = shared.join("evtx/attack-samples");
    assert!(
        samples.is_dir(),
        "the attack samples are missing at {}",
        samples.display()
    );
    let copies: usize = std::env::var("VIGIL_BENCH_COPIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);

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

    // One copy first, so the peak memory of the small run is read before the large one.
    let (_, _, rss_one) = run_ingest(&one, work.path());
    let mut best: Option<(u64, Duration)> = None;
    let mut rss_many = 0;
    for _ in 0..3 {
        let (records, elapsed, rss) = run_ingest(&many, work.path());
        rss_many = rss;
        if best.is_none_or(|(_, t)| elapsed < t) {
            best = Some((records, elapsed));
        }
    }
    let (vigil_records, vigil_time) = best.expect("three runs");
    assert_eq!(
        vigil_records, json_records,
        "vigil reads every record the crate iterates"
    );

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
    println!(
        "peak memory of vigil ingest: {:.1} MiB for 1 copy, {:.1} MiB for {copies}",
        rss_one as f64 / 1024.0,
        rss_many as f64 / 1024.0
    );
}

fn evtx_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a readable folder") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "evtx") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
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
/// peak resident memory (KiB) of the largest child process so far.
fn run_ingest(input: &Path, work: &Path) -> (u64, Duration, i64) {
    let data = work.join("lake");
    let _ = std::fs::remove_dir_all(&data);
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", "--force", "--quiet", "--summary", "json"])
        .arg(input)
        .output()
        .expect("vigil runs");
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    let records = summary["records"].as_u64().expect("a record count");
    (records, elapsed, max_child_rss_kib())
}

fn max_child_rss_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct it is given, which is zeroed and
    // lives for the whole call.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    }
}
