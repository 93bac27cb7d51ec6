//! Readers that turn security logs into rows of Vigil's catalog tables.
//!
//! A [`Reader`] walks files and directories, opens `.zip` archives in place, recognises
//! each file's format from its content (EVTX, JSON or NDJSON, CSV) and hands the rows it
//! makes to a [`Sink`] as Arrow record batches, one source file at a time. Windows events
//! are normalised into the Defender XDR and Sentinel tables (see [`normalise`]).
//!
//! Bad input never stops the run: a record that cannot be read is reported to the sink as
//! a [`Problem`] naming the file, the record and the reason, and reading goes on.
//!
//! ```no_run
//! use vigil_ingest::{Reader, ReadOptions, Sink, Source, SourceSummary, Problem};
//! use arrow::record_batch::RecordBatch;
//! use vigil_schema::Table;
//!
//! struct Count(usize);
//! impl Sink for Count {
//!     fn batch(&mut self, _: &'static Table, b: RecordBatch) -> Result<(), String> {
//!         self.0 += b.num_rows();
//!         Ok(())
//!     }
//!     fn problem(&mut self, p: Problem) { eprintln!("{p}"); }
//! }
//!
//! let mut sink = Count(0);
//! Reader::new(ReadOptions::default()).read_paths(&["logs/".into()], &mut sink);
//! println!("{} rows", sink.0);
//! ```

mod ahead;
mod csv_reader;
mod detect;
mod evtx_doc;
mod evtx_reader;
mod json_reader;
pub mod normalise;
mod reader;
pub mod rows;
mod shape;
pub mod time;
pub mod winevent;

pub use detect::Format;
pub use reader::{ReadOptions, ReadTotals, Reader};

use std::fmt;
use std::path::PathBuf;

use arrow::record_batch::RecordBatch;
use vigil_schema::Table;

/// One input file as the sink sees it. Archive members are read as part of their archive,
/// which is the unit of deduplication and commit.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub size: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// What reading one source produced.
#[derive(Debug, Clone, Default)]
pub struct SourceSummary {
    /// Records read (events, JSON lines, CSV rows), good or bad.
    pub records: u64,
    /// Records (or damaged EVTX chunks) skipped because they could not be read or mapped.
    pub skipped: u64,
    /// Files or archive members that could not be read at all.
    pub failed: u64,
    /// Rows made, by table name.
    pub rows: std::collections::BTreeMap<String, u64>,
}

/// A record or file that could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The file, with `!member` for an archive member.
    pub file: String,
    /// Where in the file: `record 12`, `line 7`, `chunk 3`, or empty for the whole file.
    pub location: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.location, self.reason)
        }
    }
}

/// Where rows go. Every method but [`Sink::batch`] and [`Sink::problem`] has a default.
pub trait Sink {
    /// Called before a source is read; return `Ok(false)` to skip it (for example
    /// because a file with the same content was ingested before).
    fn begin_source(&mut self, _source: &Source) -> Result<bool, String> {
        Ok(true)
    }

    /// Rows of one table. Rows of consecutive sources share batches; every row of a
    /// source has arrived by the next [`Sink::checkpoint`] after its `end_source`, and
    /// every row at all by the time `read_paths` returns.
    fn batch(&mut self, table: &'static Table, batch: RecordBatch) -> Result<(), String>;

    /// Called when a source has been read. `waiting` rows (of it and earlier sources)
    /// have not been handed over yet. Return `true` to have them handed over now and
    /// [`Sink::checkpoint`] called: the moment to commit.
    fn end_source(
        &mut self,
        _source: &Source,
        _summary: &SourceSummary,
        _waiting: u64,
    ) -> Result<bool, String> {
        Ok(false)
    }

    /// Every row of every source ended so far has been handed over.
    fn checkpoint(&mut self) -> Result<(), String> {
        Ok(())
    }

    /// A record, member or file that was skipped.
    fn problem(&mut self, problem: Problem);

    /// Records and bytes read since the last call, for progress reporting.
    fn progress(&mut self, _records: u64, _bytes: u64) {}
}

/// The reasons of an error and all its sources, joined.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
