//! Writing to the lake: staged Parquet files, moved into place and listed in one commit.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::TimestampNanosecondType;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use vigil_schema::Table;

use crate::manifest::{LakeFile, Manifest, SourceEntry};
use crate::{Result, Store, StoreError, io_err};

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
/// Rows per Parquet row group: large enough for good compression, small enough for
/// pruning by row-group statistics to skip much.
const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Memory for rows waiting to be written, unless set with [`Writer::set_buffer_bytes`].
/// Within it, a commit writes one file per table and day; past it, the largest
/// partitions are written early (so memory stays bounded whatever the input's size, at
/// the cost of more files for compaction).
pub const DEFAULT_BUFFER_BYTES: usize = 256 * 1024 * 1024;
/// How long files removed by a commit (compaction) stay on disk for queries that
/// listed them before it.
pub const GARBAGE_GRACE: Duration = Duration::from_secs(15 * 60);
/// The partition of rows that have no time.
pub(crate) const UNDATED: &str = "undated";

/// What a commit made live.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitSummary {
    pub id: String,
    pub files: usize,
    pub rows: u64,
    pub sources: usize,
}

/// The one writer of a data directory (it holds `lake.lock` while it lives).
pub struct Writer {
    store: Store,
    _lock: File,
    manifest: Manifest,
    pending: Pending,
    buffer_bytes: usize,
}

/// Everything written since the last commit.
struct Pending {
    id: String,
    staging: PathBuf,
    /// Rows waiting to be written, by table and day.
    buffers: HashMap<(String, String), Buffer>,
    /// Memory the buffers hold, in bytes.
    buffered: usize,
    done: Vec<Staged>,
    sources: Vec<SourceEntry>,
    next_file: u32,
    rows: u64,
}

/// A Parquet file being filled.
struct Part {
    writer: ArrowWriter<File>,
    staged: PathBuf,
    relative: String,
    table: String,
    day: String,
    rows: u64,
    min_time: Option<i64>,
    max_time: Option<i64>,
}

/// Writes one partition's buffered rows to a staged file named `name`.
fn write_buffer(staging: &Path, name: String, day: &str, buffer: Buffer) -> Result<Staged> {
    let table = vigil_schema::Catalog::builtin()
        .table(&buffer.schema_of)
        .ok_or_else(|| StoreError::UnknownTable(buffer.schema_of.clone()))?;
    let mut part = Part::create(staging, name, table, day, Compression::SNAPPY)?;
    for batch in &buffer.batches {
        part.writer.write(batch)?;
        part.rows += batch.num_rows() as u64;
    }
    part.min_time = buffer.min_time;
    part.max_time = buffer.max_time;
    part.finish()
}

/// Rows of one partition waiting to be written.
struct Buffer {
    /// The catalog table the rows belong to.
    schema_of: String,
    batches: Vec<RecordBatch>,
    bytes: usize,
    min_time: Option<i64>,
    max_time: Option<i64>,
}

/// A finished file waiting in staging for the commit.
struct Staged {
    staged: PathBuf,
    file: LakeFile,
}

impl Writer {
    pub(crate) fn new(store: Store) -> Result<Writer> {
        let lock_path = store.dir().join("lake.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy(store.dir().to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let manifest = store.manifest()?;
        let mut writer = Writer {
            pending: Pending::new(&store),
            store,
            _lock: lock,
            manifest,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
        };
        writer.recover()?;
        Ok(writer)
    }

    /// Clears what an interrupted writer left: its staging files, and files it had
    /// moved into place without committing them. Files that a commit removed are
    /// deleted once they are older than [`GARBAGE_GRACE`].
    fn recover(&mut self) -> Result<()> {
        let staging_root = self.store.dir().join("staging");
        if staging_root.exists() {
            std::fs::remove_dir_all(&staging_root).map_err(io_err(&staging_root))?;
        }
        let tables_dir = self.store.tables_dir();
        let live = self.manifest.live_paths()?;
        let garbage: HashSet<String> = self
            .manifest
            .garbage()?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let mut orphans = 0;
        for path in parquet_files(&tables_dir)? {
            let Ok(relative) = path.strip_prefix(&tables_dir) else {
                continue;
            };
            let relative = relative.to_string_lossy().replace('\\', "/");
            if !live.contains(&relative) && !garbage.contains(&relative) {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                orphans += 1;
            }
        }
        if orphans > 0 {
            tracing::info!(orphans, "removed files left by an interrupted write");
        }
        let missing = self.manifest.forget_missing(&tables_dir, &commit_id())?;
        for path in missing {
            tracing::warn!(%path, "a lake file was deleted outside Vigil; its rows are gone");
        }
        self.collect_garbage(GARBAGE_GRACE)?;
        Ok(())
    }

    /// Deletes files that commits removed from the lake at least `older_than` ago.
    /// Until then a query that listed its files before the commit can still read them.
    pub fn collect_garbage(&mut self, older_than: Duration) -> Result<usize> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let cutoff = now - older_than.as_secs() as i64;
        let tables_dir = self.store.tables_dir();
        let mut deleted = Vec::new();
        for (path, removed_at) in self.manifest.garbage()? {
            if removed_at > cutoff {
                continue;
            }
            let full = tables_dir.join(&path);
            match std::fs::remove_file(&full) {
                Ok(()) => deleted.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => deleted.push(path),
                Err(e) => {
                    tracing::warn!(path = %full.display(), %e, "could not delete a removed file")
                }
            }
        }
        self.manifest.drop_garbage(&deleted)?;
        Ok(deleted.len())
    }

    /// Adds rows of a table. They become visible at the next [`Writer::commit`].
    pub fn write(&mut self, table: &Table, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        for slice in split_by_day(batch)? {
            self.append(table, slice)?;
        }
        Ok(())
    }

    fn append(&mut self, table: &Table, slice: DaySlice) -> Result<()> {
        let key = (table.name.clone(), slice.day.clone());
        let bytes = slice.rows.get_array_memory_size();
        let rows = slice.rows.num_rows() as u64;
        let buffer = self.pending.buffers.entry(key).or_insert_with(|| Buffer {
            schema_of: table.name.clone(),
            batches: Vec::new(),
            bytes: 0,
            min_time: None,
            max_time: None,
        });
        buffer.batches.push(slice.rows);
        buffer.bytes += bytes;
        buffer.min_time = min_opt(buffer.min_time, slice.min);
        buffer.max_time = max_opt(buffer.max_time, slice.max);
        self.pending.buffered += bytes;
        self.pending.rows += rows;
        // Past the budget, the largest partitions go to files now; the rest wait for
        // the commit, which writes one file per partition.
        while self.pending.buffered > self.buffer_bytes {
            let Some(largest) = self
                .pending
                .buffers
                .iter()
                .max_by_key(|(_, b)| b.bytes)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.spill(&largest)?;
        }
        Ok(())
    }

    /// Writes one partition's buffered rows to a staged file.
    fn spill(&mut self, key: &(String, String)) -> Result<()> {
        let Some(buffer) = self.pending.buffers.remove(key) else {
            return Ok(());
        };
        self.pending.buffered -= buffer.bytes;
        let name = self.pending.file_name()?;
        let staged = write_buffer(&self.pending.staging, name, &key.1, buffer)?;
        self.pending.done.push(staged);
        Ok(())
    }

    /// Writes every buffered partition, each to a file of its own, on every core.
    fn spill_all(&mut self) -> Result<()> {
        let buffers: Vec<((String, String), Buffer)> = self.pending.buffers.drain().collect();
        self.pending.buffered = 0;
        let mut jobs = Vec::with_capacity(buffers.len());
        for ((_, day), buffer) in buffers {
            jobs.push((self.pending.file_name()?, day, buffer));
        }
        let staging = &self.pending.staging;
        let staged: Vec<Result<Staged>> = jobs
            .into_par_iter()
            .map(|(name, day, buffer)| write_buffer(staging, name, &day, buffer))
            .collect();
        for s in staged {
            self.pending.done.push(s?);
        }
        Ok(())
    }

    /// Sets the memory for rows waiting to be written (at least 1 MiB).
    pub fn set_buffer_bytes(&mut self, bytes: usize) {
        self.buffer_bytes = bytes.max(1 << 20);
    }

    /// Records that a source's rows are in this commit, so it is not ingested twice.
    pub fn add_source(&mut self, entry: SourceEntry) {
        self.pending.sources.push(entry);
    }

    /// Whether a source with this hash was added since the last commit.
    pub fn has_pending_source(&self, sha256: &str) -> bool {
        self.pending.sources.iter().any(|s| s.sha256 == sha256)
    }

    /// Rows written since the last commit.
    pub fn pending_rows(&self) -> u64 {
        self.pending.rows
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Commits what is pending, then merges the small files of every partition that has
    /// at least `min_files` of them into one file.
    pub fn compact(&mut self, min_files: usize) -> Result<crate::CompactReport> {
        self.commit()?;
        crate::compact::compact(self, min_files)
    }

    /// Makes everything written so far visible, atomically.
    pub fn commit(&mut self) -> Result<CommitSummary> {
        self.commit_replacing("ingest", &[])
    }

    /// Commits, and in the same transaction takes `removed` files out of the lake.
    pub(crate) fn commit_replacing(
        &mut self,
        kind: &str,
        removed: &[String],
    ) -> Result<CommitSummary> {
        let result = self.try_commit(kind, removed);
        if result.is_err() {
            // Start afresh: what was pending is lost, and none of it was listed. Keeping
            // the sources would record them as ingested with none of their rows.
            let old = std::mem::replace(&mut self.pending, Pending::new(&self.store));
            old.discard();
        }
        result
    }

    fn try_commit(&mut self, kind: &str, removed: &[String]) -> Result<CommitSummary> {
        let started = std::time::Instant::now();
        self.spill_all()?;
        let written = started.elapsed();
        let staged = std::mem::take(&mut self.pending.done);
        if staged.is_empty() && self.pending.sources.is_empty() && removed.is_empty() {
            return Ok(CommitSummary::default());
        }
        // The files' content must be on disk before they are moved into place, and
        // the moves before the manifest lists the files.
        let tables_dir = self.store.tables_dir();
        let staged_paths: Vec<&Path> = staged.iter().map(|s| s.staged.as_path()).collect();
        sync_all_files(&self.pending.staging, &staged_paths)?;
        // Until the manifest lists them, readers ignore the moved files and the next
        // writer deletes them.
        let mut added = Vec::with_capacity(staged.len());
        let mut dirs = std::collections::BTreeSet::new();
        for s in staged {
            let target = tables_dir.join(&s.file.path);
            let dir = target.parent().unwrap_or(&tables_dir).to_path_buf();
            if !dir.exists() {
                std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
                // A new partition folder is itself an entry in its table's folder.
                if let Some(parent) = dir.parent() {
                    dirs.insert(parent.to_path_buf());
                    dirs.insert(tables_dir.clone());
                }
            }
            std::fs::rename(&s.staged, &target).map_err(io_err(&target))?;
            dirs.insert(dir);
            added.push(s.file);
        }
        let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        sync_all_files(&tables_dir, &dirs)?;
        let summary = CommitSummary {
            id: self.pending.id.clone(),
            files: added.len(),
            rows: added.iter().map(|f| f.rows).sum(),
            sources: self.pending.sources.len(),
        };
        self.manifest.commit(
            &self.pending.id,
            kind,
            &added,
            removed,
            &self.pending.sources,
        )?;
        tracing::debug!(
            id = %summary.id,
            files = summary.files,
            rows = summary.rows,
            ?written,
            total = ?started.elapsed(),
            "committed"
        );
        let old = std::mem::replace(&mut self.pending, Pending::new(&self.store));
        old.discard();
        Ok(summary)
    }

    /// Writes `rows` into a new file of `table` for `day`, outside any open part; used by
    /// compaction, which commits it together with the removal of the files it replaces.
    pub(crate) fn write_whole_file(
        &mut self,
        table: &Table,
        day: &str,
        batches: impl Iterator<Item = Result<RecordBatch>>,
    ) -> Result<()> {
        let zstd = Compression::ZSTD(ZstdLevel::try_new(3)?);
        let mut part = self.pending.new_part(table, day, zstd)?;
        for batch in batches {
            let batch = batch?;
            let (min, max) = time_range(&batch);
            part.add(&batch, min, max)?;
            self.pending.rows += batch.num_rows() as u64;
        }
        let staged = part.finish()?;
        self.pending.done.push(staged);
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Whatever was not committed is abandoned; nothing lists it.
        let _ = std::fs::remove_dir_all(&self.pending.staging);
    }
}

impl Pending {
    fn new(store: &Store) -> Pending {
        let id = commit_id();
        Pending {
            staging: store.dir().join("staging").join(&id),
            id,
            buffers: HashMap::new(),
            buffered: 0,
            done: Vec::new(),
            sources: Vec::new(),
            next_file: 0,
            rows: 0,
        }
    }

    /// The name of the next file of this commit (creating the staging folder first).
    fn file_name(&mut self) -> Result<String> {
        let name = format!("part-{}-{:05}.parquet", self.id, self.next_file);
        self.next_file += 1;
        // Staging is flat: a folder per partition would double the folders created.
        if self.next_file == 1 {
            std::fs::create_dir_all(&self.staging).map_err(io_err(&self.staging))?;
        }
        Ok(name)
    }

    fn new_part(&mut self, table: &Table, day: &str, compression: Compression) -> Result<Part> {
        let name = self.file_name()?;
        Part::create(&self.staging, name, table, day, compression)
    }
}

impl Part {
    /// Starts a file in `staging`. Ingest writes many small files (one per table and
    /// day) where a ZSTD context costs more than it saves, so it uses Snappy;
    /// compaction writes fewer, larger files and uses ZSTD.
    fn create(
        staging: &Path,
        name: String,
        table: &Table,
        day: &str,
        compression: Compression,
    ) -> Result<Part> {
        let relative = format!("{}/date={}/{}", table.name, day, name);
        let staged = staging.join(&name);
        let file = File::create(&staged).map_err(io_err(&staged))?;
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("Vigil {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(file, table.arrow_schema(), Some(props))?;
        Ok(Part {
            writer,
            staged,
            relative,
            table: table.name.clone(),
            day: day.to_string(),
            rows: 0,
            min_time: None,
            max_time: None,
        })
    }
}

impl Pending {
    fn discard(self) {
        if self.staging.exists() {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

impl Part {
    fn add(&mut self, rows: &RecordBatch, min: Option<i64>, max: Option<i64>) -> Result<()> {
        self.writer.write(rows)?;
        self.rows += rows.num_rows() as u64;
        self.min_time = min_opt(self.min_time, min);
        self.max_time = max_opt(self.max_time, max);
        Ok(())
    }

    /// Writes the footer. The file reaches the disk with the commit's [`sync_all_files`].
    fn finish(self) -> Result<Staged> {
        let file = self.writer.into_inner()?;
        let bytes = file.metadata().map_err(io_err(&self.staged))?.len();
        Ok(Staged {
            staged: self.staged,
            file: LakeFile {
                path: self.relative,
                table: self.table,
                day: self.day,
                rows: self.rows,
                bytes,
                min_time: self.min_time,
                max_time: self.max_time,
            },
        })
    }
}

/// A commit id that sorts by time and differs between processes.
pub(crate) fn commit_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `YYYY-MM-DD` of a time in nanoseconds.
pub(crate) fn day_of(ns: i64) -> String {
    let day = ns.div_euclid(NANOS_PER_DAY);
    let date = chrono::DateTime::from_timestamp(day * 86_400, 0).map(|t| t.date_naive());
    date.map_or_else(|| UNDATED.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

fn time_range(batch: &RecordBatch) -> (Option<i64>, Option<i64>) {
    let Some(times) = batch.column_by_name("Timestamp") else {
        return (None, None);
    };
    let Some(times) = times.as_primitive_opt::<TimestampNanosecondType>() else {
        return (None, None);
    };
    (arrow::compute::min(times), arrow::compute::max(times))
}

/// The rows of a batch that fall on one day, with their time range.
struct DaySlice {
    day: String,
    rows: RecordBatch,
    min: Option<i64>,
    max: Option<i64>,
}

/// Splits a batch by the UTC day of its `Timestamp`, with each part's time range.
fn split_by_day(batch: &RecordBatch) -> Result<Vec<DaySlice>> {
    let times = batch
        .column_by_name("Timestamp")
        .and_then(|c| c.as_primitive_opt::<TimestampNanosecondType>());
    let Some(times) = times else {
        return Ok(vec![DaySlice {
            day: UNDATED.to_string(),
            rows: batch.clone(),
            min: None,
            max: None,
        }]);
    };
    let mut groups: std::collections::BTreeMap<Option<i64>, Vec<u32>> = Default::default();
    for i in 0..times.len() {
        let day = times
            .is_valid(i)
            .then(|| times.value(i).div_euclid(NANOS_PER_DAY));
        groups.entry(day).or_default().push(i as u32);
    }
    let mut parts = Vec::with_capacity(groups.len());
    let single = groups.len() == 1;
    for (day, indices) in groups {
        let rows = if single {
            batch.clone()
        } else {
            take_record_batch(batch, &UInt32Array::from(indices))?
        };
        let (min, max) = time_range(&rows);
        let name = day.map_or_else(|| UNDATED.to_string(), |d| day_of(d * NANOS_PER_DAY));
        parts.push(DaySlice {
            day: name,
            rows,
            min,
            max,
        });
    }
    Ok(parts)
}

/// Every `.parquet` file under `dir`, at any depth.
pub(crate) fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&d)(e)),
        };
        for entry in entries {
            let path = entry.map_err(io_err(&d))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    Ok(out)
}

/// Makes `paths` (files or folders) durable. On Linux one `syncfs` on the file system
/// holding `anchor` does it for all of them at once, which is much cheaper than a sync
/// per file when a commit writes hundreds of small files.
fn sync_all_files(anchor: &Path, paths: &[&Path]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let dir = File::open(anchor).map_err(io_err(anchor))?;
        // SAFETY: syncfs takes a file descriptor and nothing else; `dir` keeps the
        // descriptor open for the whole call.
        let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        tracing::debug!(%err, "syncfs failed; syncing file by file");
    }
    for path in paths {
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(io_err(path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_553_038_465_000_000_000), "2019-03-19");
        assert_eq!(day_of(-1), "1969-12-31");
    }
}
