//! Merging a day's small files into one.

use std::collections::BTreeMap;
use std::fs::File;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use vigil_schema::Catalog;

use crate::writer::Writer;
use crate::{Result, StoreError, io_err};

/// Files at least this large are left alone.
const BIG_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What compaction did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactReport {
    /// Partitions (table and day) rewritten.
    pub partitions: usize,
    pub files_before: usize,
    pub files_after: usize,
    pub rows: u64,
}

/// Rewrites every partition that has at least `min_files` small files as a single file,
/// in one commit that adds the new files and removes the old ones together.
pub(crate) fn compact(writer: &mut Writer, min_files: usize) -> Result<CompactReport> {
    let mut groups: BTreeMap<(String, String), Vec<crate::LakeFile>> = BTreeMap::new();
    for files in writer.manifest().all_files()?.into_values() {
        for f in files.into_iter().filter(|f| f.bytes < BIG_FILE_BYTES) {
            groups
                .entry((f.table.clone(), f.day.clone()))
                .or_default()
                .push(f);
        }
    }
    let mut report = CompactReport::default();
    let mut removed = Vec::new();
    let tables_dir = writer.store().tables_dir();
    for ((table_name, day), files) in groups {
        if files.len() < min_files.max(2) {
            continue;
        }
        let table = Catalog::builtin()
            .table(&table_name)
            .ok_or_else(|| StoreError::UnknownTable(table_name.clone()))?;
        // Limitation: files written before a column was added to the catalog have the
        // older schema; rewriting them together with newer ones fails with a schema error
        // and the partition is left as it was (queries read both through the adapter).
        let paths: Vec<_> = files.iter().map(|f| tables_dir.join(&f.path)).collect();
        let batches = paths.iter().flat_map(|path| {
            let reader = File::open(path).map_err(io_err(path)).and_then(|f| {
                Ok(ParquetRecordBatchReaderBuilder::try_new(f)?
                    .with_batch_size(8192)
                    .build()?)
            });
            match reader {
                Ok(reader) => Box::new(reader.map(|b| b.map_err(StoreError::from)))
                    as Box<dyn Iterator<Item = _>>,
                Err(err) => Box::new(std::iter::once(Err(err))),
            }
        });
        if let Err(err) = writer.write_whole_file(table, &day, batches) {
            tracing::warn!(table = %table_name, %day, %err, "partition not compacted");
            continue;
        }
        report.partitions += 1;
        report.files_before += files.len();
        report.files_after += 1;
        report.rows += files.iter().map(|f| f.rows).sum::<u64>();
        removed.extend(files.into_iter().map(|f| f.path));
    }
    if removed.is_empty() {
        return Ok(report);
    }
    // The old files leave the lake in the same commit that adds the merged ones; they
    // stay on disk a while for queries that listed them before, then a later writer
    // deletes them.
    writer.commit_replacing("compact", &removed)?;
    writer.collect_garbage(crate::writer::GARBAGE_GRACE)?;
    Ok(report)
}
