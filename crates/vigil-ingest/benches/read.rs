//! Where ingest time goes before anything is stored: the `evtx` crate's own iteration
//! over the attack samples (the baseline), the same records rendered and decoded into
//! events, and Vigil's whole read stage (decode, map to catalog tables, build Arrow
//! batches) with a sink that drops the batches.
//!
//! The input is the shared attack samples read `VIGIL_BENCH_COPIES` times (default 10);
//! each figure is the best of three. Run with `cargo bench -p vigil-ingest --bench read`;
//! with `VIGIL_BENCH_READ_ONLY` set, only the read stage runs, three times (for a
//! profiler).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use evtx::{EvtxParser, ParserSettings};
use vigil_ingest::{Problem, ReadOptions, Reader, Sink};
use vigil_schema::Table;

// The allocator `vigil` itself runs with, for the baseline and the read stage alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Counts what it is given and keeps nothing.
#[derive(Default)]
struct Discard {
    rows: u64,
    problems: u64,
}

impl Sink for Discard {
    fn batch(&mut self, _table: &'static Table, batch: RecordBatch) -> Result<(), String> {
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn problem(&mut self, _problem: Problem) {
        self.problems += 1;
    }
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

fn main() {
    let shared = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let copies: usize = std::env::var("VIGIL_BENCH_COPIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let one = evtx_files(&shared.join("evtx/attack-samples"));
    assert!(
        !one.is_empty(),
        "no attack samples under {}",
        shared.display()
    );
    let files: Vec<PathBuf> = (0..copies).flat_map(|_| one.iter().cloned()).collect();
    println!(
        "input: {} files ({copies} × the attack samples)",
        files.len()
    );

    if std::env::var("VIGIL_BENCH_READ_ONLY").is_ok() {
        let reader = Reader::new(ReadOptions::default());
        for _ in 0..3 {
            let started = Instant::now();
            let totals = reader
                .read_paths(&files, &mut Discard::default())
                .expect("reads");
            println!("read {} in {:?}", totals.records, started.elapsed());
        }
        return;
    }
    let settings = || {
        ParserSettings::new()
            .num_threads(0)
            .validate_checksums(false)
    };
    let (raw, raw_time) = best_of(3, || {
        files
            .iter()
            .map(|f| {
                let mut p = EvtxParser::from_path(f)
                    .expect("an EVTX file")
                    .with_configuration(settings());
                p.records_json().filter(Result::is_ok).count() as u64
            })
            .sum()
    });
    let (bytes, bytes_time) = best_of(3, || {
        files
            .iter()
            .map(|f| {
                let mut p = EvtxParser::from_path(f)
                    .expect("an EVTX file")
                    .with_configuration(settings());
                p.serialized_records(|r| r.and_then(|r| r.into_json_bytes()))
                    .filter(Result::is_ok)
                    .count() as u64
            })
            .sum()
    });
    let reader = Reader::new(ReadOptions::default());
    let mut rows = 0;
    let (records, read_time) = best_of(3, || {
        let mut sink = Discard::default();
        let totals = reader.read_paths(&files, &mut sink).expect("reads");
        rows = sink.rows;
        totals.records
    });
    assert_eq!(
        records, raw,
        "the read stage reads every record the crate yields"
    );

    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64();
    println!(
        "{:<52} {:>9} {:>8} {:>10}",
        "measurement", "records", "seconds", "records/s"
    );
    for (name, n, t) in [
        ("evtx crate, records_json (baseline)", raw, raw_time),
        (
            "evtx crate, JSON bytes through serialized_records",
            bytes,
            bytes_time,
        ),
        (
            "vigil read stage (decode, map, Arrow), no storage",
            records,
            read_time,
        ),
    ] {
        println!(
            "{name:<52} {n:>9} {:>8.3} {:>10.0}",
            t.as_secs_f64(),
            rate(n, t)
        );
    }
    println!("rows built: {rows}");
    println!(
        "read stage / baseline: {:.2}",
        rate(records, read_time) / rate(raw, raw_time)
    );
}
