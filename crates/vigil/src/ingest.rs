//! `vigil ingest`: the readers of `vigil-ingest` feeding a writer of `vigil-store`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arrow::record_batch::RecordBatch;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use vigil_ingest::{Problem, ReadOptions, Reader, Sink, Source, SourceSummary};
use vigil_schema::Table;
use vigil_store::{SourceEntry, Store, Writer};

use crate::cli::{IngestArgs, SummaryFormat};
use crate::output::human_bytes;

/// Partitions with this many small files are merged at the end of an ingest.
const AUTO_COMPACT_FILES: usize = 8;

/// Hands rows to the store, commits in groups of whole sources, and reports progress.
struct LakeSink<'a> {
    store: &'a Store,
    writer: Writer,
    force: bool,
    commit_rows: u64,
    bar: ProgressBar,
    records: u64,
    files: u64,
    problems: u64,
    max_problems: usize,
    commits: u64,
    /// Where each batch also goes to be hunted, as it is written.
    detect: Option<SyncSender<(&'static Table, RecordBatch)>>,
}

impl LakeSink<'_> {
    fn commit(&mut self) -> Result<(), String> {
        let summary = self.writer.commit().map_err(|e| e.to_string())?;
        if summary.files > 0 || summary.sources > 0 {
            self.commits += 1;
        }
        Ok(())
    }

    fn show_counts(&self) {
        self.bar
            .set_message(format!("{} files, {} events", self.files, self.records));
    }

    fn say(&self, line: String) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Sink for LakeSink<'_> {
    fn begin_source(&mut self, source: &Source) -> Result<bool, String> {
        if self.force {
            return Ok(true);
        }
        let known = self
            .store
            .source(&source.sha256)
            .map_err(|e| e.to_string())?;
        if let Some(entry) = known {
            self.bar.inc(source.size);
            self.say(format!(
                "skipped {}: its content was ingested before from {}",
                source.path.display(),
                entry.path
            ));
            return Ok(false);
        }
        if self.writer.has_pending_source(&source.sha256) {
            self.bar.inc(source.size);
            self.say(format!(
                "skipped {}: same content as a file read earlier",
                source.path.display()
            ));
            return Ok(false);
        }
        Ok(true)
    }

    fn batch(&mut self, table: &'static Table, batch: RecordBatch) -> Result<(), String> {
        if let Some(to_hunt) = &self.detect {
            // A batch is shared, not copied; the hunt runs beside the ingest.
            to_hunt
                .send((table, batch.clone()))
                .map_err(|_| "the hunt stopped before the ingest".to_string())?;
        }
        self.writer.write(table, &batch).map_err(|e| e.to_string())
    }

    fn end_source(
        &mut self,
        source: &Source,
        summary: &SourceSummary,
        waiting: u64,
    ) -> Result<bool, String> {
        let rows: u64 = summary.rows.values().sum();
        self.files += 1;
        self.show_counts();
        // A file that gave nothing but errors (unreadable, or read in the wrong format)
        // is not remembered, so that it is read again next time.
        if rows == 0 && (summary.failed > 0 || summary.skipped > 0) {
            return Ok(false);
        }
        self.writer.add_source(SourceEntry {
            sha256: source.sha256.clone(),
            path: source.path.display().to_string(),
            size: source.size,
            records: summary.records,
            rows,
            skipped: summary.skipped,
        });
        // Commit once enough rows are pending, counting those the reader still holds.
        Ok(self.writer.pending_rows() + waiting >= self.commit_rows)
    }

    fn checkpoint(&mut self) -> Result<(), String> {
        self.commit()
    }

    fn problem(&mut self, problem: Problem) {
        self.problems += 1;
        if self.problems as usize <= self.max_problems {
            self.say(format!("warning: {problem}"));
        } else if self.problems as usize == self.max_problems + 1 {
            self.say("warning: more problems follow; the summary counts them all".to_string());
        }
    }

    fn progress(&mut self, records: u64, bytes: u64) {
        self.records += records;
        self.bar.inc(bytes);
        self.show_counts();
    }
}

/// What an ingest did.
pub struct Ingested {
    pub totals: vigil_ingest::ReadTotals,
    pub elapsed: Duration,
    pub problems: u64,
    pub commits: u64,
}

pub fn run(data_dir: &Path, args: IngestArgs) -> Result<ExitCode> {
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    let hunt = if args.detect {
        let paths = crate::hunt::rule_paths(&args.rules, data_dir)?;
        let mapping = crate::hunt::mapping(&args.mapping, data_dir)?;
        Some(crate::hunt::Hunt::start(
            paths,
            mapping,
            vigil_detect::Level::Low,
            args.quiet,
        ))
    } else {
        None
    };
    let (sender, hunt) = match hunt {
        Some((s, h)) => (Some(s), Some(h)),
        None => (None, None),
    };
    let done = ingest(&store, &args, sender)?;
    let detected = match hunt {
        Some(h) => {
            let found = h.finish()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            Some(runtime.block_on(crate::hunt::record(
                &store,
                &found.detector,
                found.alerts,
                found.scanned,
                None,
            ))?)
        }
        None => None,
    };
    let rate = done.totals.records as f64 / done.elapsed.as_secs_f64().max(1e-9);
    match args.summary {
        SummaryFormat::Json => {
            let totals = &done.totals;
            let summary = json!({
                "sources": totals.sources,
                "already_ingested": totals.already_ingested,
                "ignored_files": totals.ignored.len(),
                "failed_files": totals.failed_files,
                "records": totals.records,
                "skipped_records": totals.skipped_records,
                "problems": done.problems,
                "bytes": totals.bytes,
                "seconds": done.elapsed.as_secs_f64(),
                "commits": done.commits,
                "rows": totals.rows,
                "alerts_new": detected.as_ref().map(|o| o.new.len()),
                "alerts_suppressed": detected.as_ref().map(|o| o.suppressed),
                "incidents_updated": detected.as_ref().map(|o| o.incidents_changed),
            });
            writeln!(
                std::io::stdout(),
                "{}",
                serde_json::to_string_pretty(&summary)?
            )?;
        }
        SummaryFormat::Table => print_summary(
            &mut std::io::stdout().lock(),
            &done.totals,
            done.elapsed,
            rate,
            done.problems,
        )?,
    }
    if let (Some(o), SummaryFormat::Table) = (&detected, args.summary) {
        println!(
            "\nDetections: {} alert(s) raised, {} new, {} suppressed; {} incident(s) new or \
             updated (`vigil incidents` lists them).",
            o.raised.len(),
            o.new.len(),
            o.suppressed,
            o.incidents_changed
        );
    }
    Ok(if done.totals.has_skips() {
        ExitCode::from(crate::EXIT_SKIPPED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads `args.paths` into the lake, also sending every batch to `detect` when given
/// (the channel is closed when the ingest ends).
pub fn ingest(
    store: &Store,
    args: &IngestArgs,
    detect: Option<SyncSender<(&'static Table, RecordBatch)>>,
) -> Result<Ingested> {
    for path in &args.paths {
        if !path.exists() {
            anyhow::bail!("{}: no such file or folder", path.display());
        }
    }
    let options = ReadOptions {
        format: args.format,
        table: args.table.clone(),
        threads: args.threads,
        carve: args.carve,
        ..ReadOptions::default()
    };
    let reader = Reader::new(options)
        .validate()
        .map_err(anyhow::Error::msg)?;
    let mut writer = store.writer()?;
    writer.set_buffer_bytes(args.buffer_mb.saturating_mul(1 << 20));

    let total_bytes: u64 = args.paths.iter().map(|p| size_of(p.as_path())).sum();
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ({eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    let mut sink = LakeSink {
        store,
        writer,
        force: args.force,
        commit_rows: args.commit_rows.max(1),
        bar,
        records: 0,
        files: 0,
        problems: 0,
        max_problems: args.max_problems,
        commits: 0,
        detect,
    };

    let started = Instant::now();
    let totals = reader
        .read_paths(&args.paths, &mut sink)
        .map_err(anyhow::Error::msg)?;
    sink.commit().map_err(anyhow::Error::msg)?;
    // Repeated ingests of a few files each leave many small files per day; merge them
    // once they add up.
    let compacted = sink.writer.compact(AUTO_COMPACT_FILES)?;
    if compacted.partitions > 0 {
        tracing::info!(
            partitions = compacted.partitions,
            files = compacted.files_before,
            "compacted"
        );
    }
    sink.bar.finish_and_clear();
    let elapsed = started.elapsed();

    Ok(Ingested {
        totals,
        elapsed,
        problems: sink.problems,
        commits: sink.commits,
    })
}

fn print_summary(
    out: &mut impl Write,
    totals: &vigil_ingest::ReadTotals,
    elapsed: Duration,
    rate: f64,
    problems: u64,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Read {} file(s), {} records, {} in {:.2} s ({:.0} records/s).",
        totals.sources,
        totals.records,
        human_bytes(totals.bytes),
        elapsed.as_secs_f64(),
        rate
    )?;
    let rows: &BTreeMap<String, u64> = &totals.rows;
    if !rows.is_empty() {
        let width = rows.keys().map(String::len).max().unwrap_or(5).max(5);
        writeln!(out, "\n{:<width$}  rows", "table")?;
        for (table, n) in rows {
            writeln!(out, "{table:<width$}  {n}")?;
        }
    }
    let mut notes = Vec::new();
    if totals.already_ingested > 0 {
        notes.push(format!(
            "{} file(s) already ingested, skipped",
            totals.already_ingested
        ));
    }
    if !totals.ignored.is_empty() {
        notes.push(format!(
            "{} file(s) in no format Vigil reads, ignored",
            totals.ignored.len()
        ));
    }
    if totals.failed_files > 0 {
        notes.push(format!("{} file(s) could not be read", totals.failed_files));
    }
    if totals.skipped_records > 0 {
        notes.push(format!(
            "{} record(s) or damaged chunk(s) skipped",
            totals.skipped_records
        ));
    }
    if problems > 0 {
        notes.push(format!("{problems} problem(s) reported"));
    }
    if !notes.is_empty() {
        writeln!(out, "\n{}.", notes.join("; "))?;
    }
    Ok(())
}

/// Total size of the files under a path, for the progress bar.
fn size_of(path: &Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| size_of(&e.path()))
                    .sum()
            })
            .unwrap_or(0)
    } else {
        path.metadata().map_or(0, |m| m.len())
    }
}
