//! Vigil's lake: Parquet files partitioned by table and day, committed atomically, with
//! Apache DataFusion over them.
//!
//! ```text
//! <data-dir>/
//!   vigil.db                                   SQLite: which files are live, what was ingested
//!   tables/<Table>/date=YYYY-MM-DD/part-*.parquet
//!   staging/<commit>/                          files being written, never read
//!   lake.lock                                  held by the one process writing
//! ```
//!
//! A file is part of the lake once, and only once, its row is committed in `vigil.db`.
//! A [`Writer`] writes into `staging/`, moves the finished files into place and then
//! records them in one SQLite transaction; a crash before that transaction leaves files
//! that nothing lists, which the next writer deletes. Readers only ever see listed
//! files, so they see either the state before a commit or the state after it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vigil_store::StoreError> {
//! let store = vigil_store::Store::open("/var/lib/vigil")?;
//! let ctx = store.session()?;
//! let df = ctx.sql("SELECT count(*) FROM DeviceProcessEvents").await?;
//! df.show().await?;
//! # Ok(()) }
//! ```

mod compact;
mod manifest;
mod table;
mod writer;

pub use compact::CompactReport;
pub use manifest::{LakeFile, SourceEntry, TableStats};
pub use table::LakeTable;
pub use writer::{CommitSummary, DEFAULT_BUFFER_BYTES, GARBAGE_GRACE, Writer};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::common::TableReference;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;
use vigil_schema::Catalog;

/// Errors of the lake.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state database {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("query engine: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("another Vigil process is writing to {0}; wait for it to finish")]
    Busy(PathBuf),
    #[error("unknown table {0:?}")]
    UnknownTable(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A lake in a data directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the lake in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(dir.join("tables")).map_err(io_err(&dir))?;
        let store = Store { dir };
        manifest::Manifest::open(&store.db_path())?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The SQLite file that holds the lake's manifest and Vigil's other state.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("vigil.db")
    }

    pub(crate) fn tables_dir(&self) -> PathBuf {
        self.dir.join("tables")
    }

    pub(crate) fn manifest(&self) -> Result<manifest::Manifest> {
        manifest::Manifest::open(&self.db_path())
    }

    /// Starts writing. Only one writer may be open on a data directory at a time; the
    /// first thing a writer does is clear away what an interrupted one left behind.
    pub fn writer(&self) -> Result<Writer> {
        Writer::new(self.clone())
    }

    /// What was ingested from a file with this SHA-256, if anything.
    pub fn source(&self, sha256: &str) -> Result<Option<SourceEntry>> {
        self.manifest()?.source(sha256)
    }

    /// Row counts, time range and size of every table that has data.
    pub fn table_stats(&self) -> Result<Vec<TableStats>> {
        self.manifest()?.table_stats()
    }

    /// The live files of one table.
    pub fn files(&self, table: &str) -> Result<Vec<LakeFile>> {
        self.manifest()?.files(table)
    }

    /// A DataFusion session with every catalog table registered under its exact name,
    /// over the files live at this moment.
    pub fn session(&self) -> Result<SessionContext> {
        let mut config = SessionConfig::new().with_information_schema(true);
        // KQL and the catalog are case-sensitive: `ProcessCommandLine` stays as written.
        config.options_mut().sql_parser.enable_ident_normalization = false;
        let ctx = SessionContext::new_with_state(session_state(config));
        let manifest = self.manifest()?;
        let mut files = manifest.all_files()?;
        for table in Catalog::builtin().tables() {
            let table_files = files.remove(&table.name).unwrap_or_default();
            let provider = LakeTable::new(table, self.tables_dir(), table_files);
            ctx.register_table(
                TableReference::bare(table.name.as_str()),
                Arc::new(provider),
            )?;
        }
        Ok(ctx)
    }

    /// Merges each day's small files of every table into one.
    pub fn compact(&self) -> Result<CompactReport> {
        self.writer()?.compact(2)
    }
}

#[cfg(test)]
mod tests;

/// DataFusion's default session, less the physical rule that pushes a limit into a
/// DISTINCT aggregation: on a filtered input (`where X == 1 | distinct X | take 3`) the
/// aggregation it makes fails at run time with "Ordering direction required for
/// DISTINCT with limit". Without the rule such a query reads its whole input, and
/// answers.
fn session_state(config: SessionConfig) -> datafusion::execution::SessionState {
    use datafusion::execution::SessionStateBuilder;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    let rules: Vec<_> = state
        .physical_optimizers()
        .iter()
        .filter(|r| r.name() != "LimitedDistinctAggregation")
        .cloned()
        .collect();
    SessionStateBuilder::new_from_existing(state)
        .with_physical_optimizer_rules(rules)
        .build()
}
