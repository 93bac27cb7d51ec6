//! Walking the inputs: directories, archives and files, one source at a time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vigil_schema::{Catalog, Table};

use crate::ahead::{StopOnDrop, Window};
use crate::detect::Format;
use crate::rows::TableSet;
use crate::{Problem, Sink, Source, SourceSummary, csv_reader, evtx_reader, json_reader};

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The format of every input, or `Auto` to recognise each from its content.
    pub format: Format,
    /// The catalog table rows of JSON and CSV inputs belong to, when it cannot be told
    /// from the rows themselves.
    pub table: Option<String>,
    /// Rows per record batch handed to the sink.
    pub batch_rows: usize,
    /// Threads for EVTX parsing; 0 uses every core.
    pub threads: usize,
    /// Also carve EVTX records from the unused space of chunks. Carved records are old
    /// or overwritten events: some are stale copies of live ones, some are fragments.
    pub carve: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: Format::Auto,
            table: None,
            batch_rows: 16 * 1024,
            threads: 0,
            carve: false,
        }
    }
}

/// What a whole run read.
#[derive(Debug, Clone, Default)]
pub struct ReadTotals {
    /// Sources read (files, with an archive counting once).
    pub sources: u64,
    /// Sources the sink declined, because it had them already.
    pub already_ingested: u64,
    /// Files found while walking directories that are in no format Vigil reads.
    pub ignored: Vec<PathBuf>,
    /// Files (or archive members) that could not be read at all.
    pub failed_files: u64,
    pub records: u64,
    pub skipped_records: u64,
    pub bytes: u64,
    pub rows: BTreeMap<String, u64>,
}

impl ReadTotals {
    /// Whether anything at all was skipped (a record, a member or a file).
    pub fn has_skips(&self) -> bool {
        self.skipped_records > 0 || self.failed_files > 0
    }
}

/// Reads inputs into a sink.
pub struct Reader {
    options: ReadOptions,
    table: Option<&'static Table>,
}

/// The state of one source being read, shared with the format readers.
pub(crate) struct Ctx<'a> {
    pub sink: &'a mut dyn Sink,
    /// Rows being built; shared by all sources, so that small files make large batches.
    pub tables: &'a mut TableSet,
    pub summary: SourceSummary,
    pub options: &'a ReadOptions,
    /// The table named with `--table`, if any.
    pub table: Option<&'static Table>,
    unreported_records: u64,
}

impl Ctx<'_> {
    /// A record that was skipped.
    pub fn skip(&mut self, file: &str, location: String, reason: String) {
        self.summary.skipped += 1;
        self.summary.records += 1;
        self.sink.problem(Problem {
            file: file.to_string(),
            location,
            reason,
        });
    }

    /// A member or file-level problem that is not a single record.
    pub fn fail(&mut self, file: &str, reason: String) {
        self.summary.failed += 1;
        self.sink.problem(Problem {
            file: file.to_string(),
            location: String::new(),
            reason,
        });
    }

    /// Something worth telling that lost no record (fields dropped, columns left out).
    pub fn note(&mut self, file: &str, reason: String) {
        self.sink.problem(Problem {
            file: file.to_string(),
            location: String::new(),
            reason,
        });
    }

    /// A record read and mapped; hands on any batch that has filled up.
    pub fn record_done(&mut self) -> Result<(), String> {
        self.summary.records += 1;
        self.unreported_records += 1;
        if self.unreported_records >= 4096 {
            self.sink.progress(self.unreported_records, 0);
            self.unreported_records = 0;
            for (table, batch) in self.tables.take_full() {
                self.hand_over(table, batch)?;
            }
        }
        Ok(())
    }

    fn hand_over(
        &mut self,
        table: &'static Table,
        batch: arrow::record_batch::RecordBatch,
    ) -> Result<(), String> {
        self.sink.batch(table, batch)
    }
}

/// Hands every row still being built to the sink.
fn flush(tables: &mut TableSet, sink: &mut dyn Sink) -> Result<(), String> {
    for (table, batch) in tables.take_all() {
        sink.batch(table, batch)?;
    }
    Ok(())
}

impl Reader {
    pub fn new(options: ReadOptions) -> Reader {
        Reader {
            options,
            table: None,
        }
    }

    /// Checks the options (an unknown `--table` is an error before anything is read).
    pub fn validate(mut self) -> Result<Reader, String> {
        if let Some(name) = &self.options.table {
            let catalog = Catalog::builtin();
            let table = catalog.table_ignore_case(name).ok_or_else(|| {
                match catalog.suggest_table(name) {
                    Some(s) => format!("unknown table {name:?}; did you mean {s}?"),
                    None => format!("unknown table {name:?} (see `vigil tables`)"),
                }
            })?;
            self.table = Some(table);
        }
        Ok(self)
    }

    /// Reads every path (files and directories, recursively). Problems go to the sink;
    /// only an error from the sink itself stops the run.
    /// Every row has been handed to the sink when this returns.
    ///
    /// Files are read, hashed and (for EVTX) parsed a few ahead on worker threads, one
    /// file per worker, while this thread builds the rows of the files before, in order.
    pub fn read_paths(&self, paths: &[PathBuf], sink: &mut dyn Sink) -> Result<ReadTotals, String> {
        let mut totals = ReadTotals::default();
        let mut tables = TableSet::new(self.options.batch_rows);
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                let mut found = Vec::new();
                collect_files(path, &mut found, sink);
                files.extend(found.into_iter().map(|f| (f, false)));
            } else {
                files.push((path.clone(), true));
            }
        }
        let options = &self.options;
        let workers = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(files.len())
        .max(1);
        let files = &files;
        let window = Window::new(workers);
        let window = &window;
        std::thread::scope(|scope| {
            // However the reading ends, the workers are told to stop.
            let _stop = StopOnDrop(window);
            let (done, results) = crossbeam_channel::unbounded::<(usize, Prefetched)>();
            for _ in 0..workers {
                let done = done.clone();
                scope.spawn(move || {
                    while let Some(i) = window.take(files) {
                        let (path, named) = &files[i];
                        let threads = if workers > 1 { 1 } else { options.threads };
                        if done
                            .send((i, prefetch(path, *named, options, threads)))
                            .is_err()
                        {
                            break;
                        }
                    }
                });
            }
            drop(done);
            let mut waiting = BTreeMap::new();
            for (i, file) in results.iter() {
                waiting.insert(i, file);
                while let Some(file) = waiting.remove(&window.turn()) {
                    self.read_file(file, sink, &mut tables, &mut totals)?;
                    window.done();
                }
            }
            Ok::<(), String>(())
        })?;
        flush(&mut tables, sink)?;
        Ok(totals)
    }

    fn read_file(
        &self,
        file: Prefetched,
        sink: &mut dyn Sink,
        tables: &mut TableSet,
        totals: &mut ReadTotals,
    ) -> Result<(), String> {
        let Prefetched {
            path,
            named,
            inspected,
            parsed,
        } = file;
        let path = path.as_path();
        let label = path.display().to_string();
        let fail = |sink: &mut dyn Sink, totals: &mut ReadTotals, reason: String| {
            totals.failed_files += 1;
            sink.problem(Problem {
                file: label.clone(),
                location: String::new(),
                reason,
            });
        };
        let (format, source, content) = match inspected {
            Ok(Some(found)) => found,
            Ok(None) if named => {
                fail(
                    sink,
                    totals,
                    "not a format Vigil reads (EVTX, JSON, NDJSON, CSV or zip)".into(),
                );
                return Ok(());
            }
            Ok(None) => {
                totals.ignored.push(path.to_path_buf());
                return Ok(());
            }
            Err(err) => {
                fail(sink, totals, format!("cannot read: {err}"));
                return Ok(());
            }
        };
        if !sink.begin_source(&source)? {
            totals.already_ingested += 1;
            return Ok(());
        }
        let before = tables.totals();
        let mut ctx = Ctx {
            sink,
            tables,
            summary: SourceSummary::default(),
            options: &self.options,
            table: self.table,
            unreported_records: 0,
        };
        match (content, parsed) {
            (_, Some(Ok(items))) => evtx_reader::apply(items.into_iter(), &label, &mut ctx)?,
            (_, Some(Err(reason))) => ctx.fail(&label, reason),
            (Some(bytes), None) if format == Format::Zip => {
                read_zip(Cursor::new(bytes), &label, 1, &mut ctx)?
            }
            (Some(bytes), None) => read_stream(Cursor::new(bytes), format, &label, &mut ctx)?,
            (None, None) => match File::open(path) {
                Ok(file) if format == Format::Zip => read_zip(file, &label, 1, &mut ctx)?,
                Ok(file) => read_stream(file, format, &label, &mut ctx)?,
                Err(err) => ctx.fail(&label, format!("cannot open: {err}")),
            },
        }
        ctx.sink.progress(ctx.unreported_records, 0);
        // Batches that filled up while reading a small file (too few records to reach
        // the check in `record_done`) go on now, so rows do not pile up here.
        for (table, batch) in ctx.tables.take_full() {
            ctx.sink.batch(table, batch)?;
        }
        for (table, column, count) in ctx.tables.take_rejected() {
            let reason = format!(
                "{count} value(s) of {table}.{column} did not fit its type and were left empty"
            );
            ctx.note(&label, reason);
        }
        ctx.sink.progress(0, source.size);
        let mut summary = ctx.summary;
        for (table, n) in ctx.tables.totals() {
            let added = n - before.get(table).copied().unwrap_or(0);
            if added > 0 {
                summary.rows.insert(table.to_string(), added);
            }
        }
        // Rows of this source may still be waiting to make up a full batch; before a
        // checkpoint (a commit) they are all handed over, so that a commit never holds
        // part of a source.
        if ctx
            .sink
            .end_source(&source, &summary, ctx.tables.waiting())?
        {
            flush(ctx.tables, ctx.sink)?;
            ctx.sink.checkpoint()?;
        }

        totals.sources += 1;
        totals.bytes += source.size;
        totals.records += summary.records;
        totals.skipped_records += summary.skipped;
        totals.failed_files += summary.failed;
        for (table, n) in &summary.rows {
            *totals.rows.entry(table.clone()).or_default() += n;
        }
        Ok(())
    }
}

/// Every file under `dir`, in name order, hidden files and folders left out.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, sink: &mut dyn Sink) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            sink.problem(Problem {
                file: dir.display().to_string(),
                location: String::new(),
                reason: format!("cannot list folder: {err}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out, sink);
        } else {
            out.push(path);
        }
    }
}

/// A file read (and, for EVTX, parsed) ahead of the rows being built.
struct Prefetched {
    /// The full path: rows cite their file by it, so the citation still leads there
    /// from another working directory.
    path: PathBuf,
    /// Named on the command line, rather than found in a folder.
    named: bool,
    inspected: std::io::Result<Option<Inspected>>,
    /// For EVTX files read into memory: their records, or why the file is not EVTX.
    parsed: Option<Result<Vec<evtx_reader::Item>, String>>,
}

/// Reads, hashes and (for EVTX) parses one file; `threads` parse its chunks.
fn prefetch(path: &Path, named: bool, options: &ReadOptions, threads: usize) -> Prefetched {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut inspected = inspect(&path, options.format);
    let mut parsed = None;
    if let Ok(Some((Format::Evtx, _, content))) = &mut inspected
        && let Some(bytes) = content.take()
    {
        parsed = Some(match evtx::EvtxParser::from_buffer(bytes) {
            Ok(parser) => Ok(evtx_reader::parse_all(parser, threads, options.carve)),
            Err(err) => Err(format!(
                "not a readable EVTX file: {}",
                crate::error_chain(&err)
            )),
        });
    }
    Prefetched {
        path,
        named,
        inspected,
        parsed,
    }
}

/// Files up to this size are read into memory once, to be hashed and parsed from there;
/// larger ones are read twice (hashed, then parsed) so that memory stays bounded.
const WHOLE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The format, the source, and for small files their content.
type Inspected = (Format, Source, Option<Vec<u8>>);

fn inspect(path: &Path, wanted: Format) -> std::io::Result<Option<Inspected>> {
    let mut file = File::open(path)?;
    if file.metadata()?.len() <= WHOLE_FILE_BYTES {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let head = &bytes[..bytes.len().min(4096)];
        let sniffed = Format::sniff(head).or_else(|| Format::from_extension(path));
        let Some(format) = choose(wanted, sniffed) else {
            return Ok(None);
        };
        let source = Source {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        };
        return Ok(Some((format, source, Some(bytes))));
    }
    let mut head = vec![0u8; 4096];
    let n = read_up_to(&mut file, &mut head)?;
    head.truncate(n);
    // Content decides; a file whose content is not recognised but whose name says what
    // it is (say, an EVTX file with a damaged header) is read as that, to say what is wrong.
    let sniffed = Format::sniff(&head).or_else(|| Format::from_extension(path));
    let Some(format) = choose(wanted, sniffed) else {
        return Ok(None);
    };
    file.rewind()?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => {
                hasher.update(&buf[..n]);
                size += n as u64;
            }
        }
    }
    let source = Source {
        path: path.to_path_buf(),
        size,
        sha256: hex::encode(hasher.finalize()),
    };
    Ok(Some((format, source, None)))
}

/// The format to read content in: EVTX and zip content is read as what it is whatever
/// was asked (their magic bytes do not lie); otherwise the asked-for format wins over
/// what the content looks like. `None`: nothing known, nothing asked.
fn choose(wanted: Format, sniffed: Option<Format>) -> Option<Format> {
    match (wanted, sniffed) {
        (_, Some(found @ (Format::Evtx | Format::Zip))) => Some(found),
        (Format::Auto, found) => found,
        (wanted, _) => Some(wanted),
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Reads one file or member of a known format.
fn read_stream<R: Read + Seek + 'static>(
    file: R,
    format: Format,
    label: &str,
    ctx: &mut Ctx<'_>,
) -> Result<(), String> {
    match format {
        Format::Evtx => match evtx::EvtxParser::from_read_seek(BufReader::new(file)) {
            Ok(parser) => evtx_reader::read(parser, label, ctx),
            Err(err) => {
                ctx.fail(
                    label,
                    format!("not a readable EVTX file: {}", crate::error_chain(&err)),
                );
                Ok(())
            }
        },
        Format::Json => json_reader::read(BufReader::with_capacity(1 << 20, file), label, ctx),
        Format::Csv => csv_reader::read(BufReader::with_capacity(1 << 20, file), label, ctx),
        Format::Zip | Format::Auto => {
            ctx.fail(label, format!("cannot read {format} content here"));
            Ok(())
        }
    }
}

/// Archives inside archives are opened down to this depth.
const MAX_ZIP_DEPTH: usize = 4;
/// EVTX files and nested archives inside an archive are read into memory to be parsed;
/// larger ones are refused rather than risk running out of memory.
const MAX_MEMBER_IN_MEMORY: u64 = 2 << 30;

/// Reads every member of an archive, each in its own recognised format.
fn read_zip<R: Read + Seek>(
    reader: R,
    label: &str,
    depth: usize,
    ctx: &mut Ctx<'_>,
) -> Result<(), String> {
    if depth > MAX_ZIP_DEPTH {
        ctx.fail(
            label,
            format!("archives nested more than {MAX_ZIP_DEPTH} deep are not opened"),
        );
        return Ok(());
    }
    let mut archive = match zip::ZipArchive::new(reader) {
        Ok(archive) => archive,
        Err(err) => {
            ctx.fail(
                label,
                format!("not a readable zip archive: {}", crate::error_chain(&err)),
            );
            return Ok(());
        }
    };
    for index in 0..archive.len() {
        let mut member = match archive.by_index(index) {
            Ok(member) => member,
            Err(err) => {
                ctx.fail(
                    label,
                    format!("member {index}: {}", crate::error_chain(&err)),
                );
                continue;
            }
        };
        if member.is_dir() {
            continue;
        }
        let member_name = member
            .name()
            .map_or_else(|_| format!("member {index}"), |n| n.to_string());
        let member_label = format!("{label}!{member_name}");
        let mut head = vec![0u8; 4096];
        let n = match read_up_to(&mut member, &mut head) {
            Ok(n) => n,
            Err(err) => {
                ctx.fail(&member_label, format!("cannot decompress: {err}"));
                continue;
            }
        };
        head.truncate(n);
        let Some(format) = choose(ctx.options.format, Format::sniff(&head)) else {
            continue;
        };
        match format {
            // EVTX needs to seek and nested archives need their directory: read whole.
            Format::Evtx | Format::Zip => {
                let mut bytes = head;
                // The size an archive declares can lie: read one byte past the limit to
                // know whether the content is larger.
                let limit = MAX_MEMBER_IN_MEMORY + 1 - bytes.len() as u64;
                if let Err(err) = member.by_ref().take(limit).read_to_end(&mut bytes) {
                    ctx.fail(&member_label, format!("cannot decompress: {err}"));
                    continue;
                }
                if bytes.len() as u64 > MAX_MEMBER_IN_MEMORY {
                    let reason = format!(
                        "larger than {} MiB once decompressed; extract it and ingest the file",
                        MAX_MEMBER_IN_MEMORY >> 20
                    );
                    ctx.fail(&member_label, reason);
                    continue;
                }
                drop(member);
                if format == Format::Zip {
                    read_zip(Cursor::new(bytes), &member_label, depth + 1, ctx)?;
                    continue;
                }
                match evtx::EvtxParser::from_buffer(bytes) {
                    Ok(parser) => evtx_reader::read(parser, &member_label, ctx)?,
                    Err(err) => ctx.fail(
                        &member_label,
                        format!("not a readable EVTX file: {}", crate::error_chain(&err)),
                    ),
                }
            }
            Format::Json | Format::Csv => {
                let stream = BufReader::with_capacity(1 << 20, Cursor::new(head).chain(member));
                if format == Format::Json {
                    json_reader::read(stream, &member_label, ctx)?;
                } else {
                    csv_reader::read(stream, &member_label, ctx)?;
                }
            }
            Format::Auto => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::record_batch::RecordBatch;

    /// Remembers the order sources began in, and fails on the batch it is told to.
    struct Recorder {
        began: Vec<PathBuf>,
        batches: usize,
        fail_at: Option<usize>,
    }

    impl Sink for Recorder {
        fn begin_source(&mut self, source: &Source) -> Result<bool, String> {
            self.began.push(source.path.clone());
            Ok(true)
        }

        fn batch(&mut self, _table: &'static Table, _batch: RecordBatch) -> Result<(), String> {
            self.batches += 1;
            if Some(self.batches) == self.fail_at {
                return Err("the sink is full".into());
            }
            Ok(())
        }

        fn end_source(&mut self, _: &Source, _: &SourceSummary, _: u64) -> Result<bool, String> {
            Ok(true)
        }

        fn problem(&mut self, problem: Problem) {
            panic!("unexpected problem: {problem}");
        }
    }

    fn many_files(dir: &Path, n: usize) {
        for i in 0..n {
            // Sizes differ, so workers finish out of order.
            let lines: String = (0..(i % 7) * 50 + 1)
                .map(|j| format!("{{\"Type\": \"Syslog\", \"Computer\": \"host{i}\", \"SyslogMessage\": \"line {j}\"}}\n"))
                .collect();
            std::fs::write(dir.join(format!("{i:03}.json")), lines).expect("writes");
        }
    }

    #[test]
    fn files_read_ahead_on_several_workers_become_rows_in_name_order() {
        let dir = tempfile::tempdir().expect("a temp dir");
        many_files(dir.path(), 120);
        let reader = Reader::new(ReadOptions {
            threads: 3,
            batch_rows: 64,
            ..ReadOptions::default()
        });
        let mut sink = Recorder {
            began: Vec::new(),
            batches: 0,
            fail_at: None,
        };
        let totals = reader
            .read_paths(&[dir.path().to_path_buf()], &mut sink)
            .expect("reads");
        assert_eq!(totals.sources, 120);
        let names: Vec<String> = sink
            .began
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let expected: u64 = (0..120).map(|i| ((i % 7) * 50 + 1) as u64).sum();
        assert_eq!(totals.rows.get("Syslog"), Some(&expected));
    }

    #[test]
    fn a_failing_sink_stops_the_workers_and_says_why() {
        let dir = tempfile::tempdir().expect("a temp dir");
        many_files(dir.path(), 200);
        let reader = Reader::new(ReadOptions {
            threads: 2,
            batch_rows: 16,
            ..ReadOptions::default()
        });
        let mut sink = Recorder {
            began: Vec::new(),
            batches: 0,
            fail_at: Some(5),
        };
        let err = reader
            .read_paths(&[dir.path().to_path_buf()], &mut sink)
            .expect_err("the sink's error ends the reading");
        assert_eq!(err, "the sink is full");
        assert!(sink.began.len() < 200, "{} sources began", sink.began.len());
    }
}
