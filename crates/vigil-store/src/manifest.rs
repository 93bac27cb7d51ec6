//! The list of live files and ingested sources, in SQLite.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Result, StoreError};

/// One live Parquet file.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeFile {
    /// Path relative to `<data-dir>/tables/`.
    pub path: String,
    pub table: String,
    /// `YYYY-MM-DD`, or `undated` for rows without a time.
    pub day: String,
    pub rows: u64,
    pub bytes: u64,
    /// Earliest and latest `Timestamp` in the file, nanoseconds since the epoch.
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
}

/// A file whose rows are in the lake, by content hash.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceEntry {
    pub sha256: String,
    pub path: String,
    pub size: u64,
    pub records: u64,
    pub rows: u64,
    pub skipped: u64,
}

/// What the lake holds of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableStats {
    pub table: String,
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
    pub min_time: Option<i64>,
    pub max_time: Option<i64>,
}

/// The kind of commit that forgets files deleted by hand.
const FORGET: &str = "forget-missing";

pub(crate) struct Manifest {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lake_files (
    path       TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    day        TEXT NOT NULL,
    rows       INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    min_time   INTEGER,
    max_time   INTEGER,
    commit_id  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lake_files_by_table ON lake_files (table_name, day);
CREATE TABLE IF NOT EXISTS lake_sources (
    sha256      TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    records     INTEGER NOT NULL,
    rows        INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    commit_id   TEXT NOT NULL,
    ingested_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lake_garbage (
    path       TEXT PRIMARY KEY,
    removed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lake_commits (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    rows_added  INTEGER NOT NULL,
    files_added INTEGER NOT NULL,
    files_removed INTEGER NOT NULL
);
";

impl Manifest {
    pub fn open(path: &Path) -> Result<Manifest> {
        let db = |source| StoreError::Db {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        // WAL lets readers go on while a commit is written; FULL makes a commit durable
        // once it returns.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Manifest {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Db {
            path: self.path.clone(),
            source,
        }
    }

    pub fn source(&self, sha256: &str) -> Result<Option<SourceEntry>> {
        self.conn
            .query_row(
                "SELECT sha256, path, size, records, rows, skipped FROM lake_sources WHERE sha256 = ?1",
                [sha256],
                |r| {
                    Ok(SourceEntry {
                        sha256: r.get(0)?,
                        path: r.get(1)?,
                        size: r.get::<_, i64>(2)? as u64,
                        records: r.get::<_, i64>(3)? as u64,
                        rows: r.get::<_, i64>(4)? as u64,
                        skipped: r.get::<_, i64>(5)? as u64,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    pub fn table_stats(&self) -> Result<Vec<TableStats>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT table_name, SUM(rows), COUNT(*), SUM(bytes), MIN(min_time), MAX(max_time)
                 FROM lake_files GROUP BY table_name ORDER BY table_name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TableStats {
                    table: r.get(0)?,
                    rows: r.get::<_, i64>(1)? as u64,
                    files: r.get::<_, i64>(2)? as u64,
                    bytes: r.get::<_, i64>(3)? as u64,
                    min_time: r.get(4)?,
                    max_time: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    fn query_files(&self, filter: Option<&str>) -> Result<Vec<LakeFile>> {
        let sql = "SELECT path, table_name, day, rows, bytes, min_time, max_time FROM lake_files
                   WHERE ?1 IS NULL OR table_name = ?1 ORDER BY table_name, day, path";
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let rows = stmt
            .query_map([filter], |r| {
                Ok(LakeFile {
                    path: r.get(0)?,
                    table: r.get(1)?,
                    day: r.get(2)?,
                    rows: r.get::<_, i64>(3)? as u64,
                    bytes: r.get::<_, i64>(4)? as u64,
                    min_time: r.get(5)?,
                    max_time: r.get(6)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub fn files(&self, table: &str) -> Result<Vec<LakeFile>> {
        self.query_files(Some(table))
    }

    /// Every live file, by table.
    pub fn all_files(&self) -> Result<HashMap<String, Vec<LakeFile>>> {
        let mut by_table: HashMap<String, Vec<LakeFile>> = HashMap::new();
        for file in self.query_files(None)? {
            by_table.entry(file.table.clone()).or_default().push(file);
        }
        Ok(by_table)
    }

    pub fn live_paths(&self) -> Result<HashSet<String>> {
        Ok(self
            .query_files(None)?
            .into_iter()
            .map(|f| f.path)
            .collect())
    }

    /// Records a commit in one transaction: files added and removed, sources ingested.
    /// Removed files that still exist are kept as garbage, for queries that planned
    /// before the commit, until [`Manifest::garbage`] says they are old enough to delete.
    pub fn commit(
        &mut self,
        id: &str,
        kind: &str,
        added: &[LakeFile],
        removed: &[String],
        sources: &[SourceEntry],
    ) -> Result<()> {
        let path = self.path.clone();
        let err = |source| StoreError::Db {
            path: path.clone(),
            source,
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut add = tx
                .prepare(
                    "INSERT INTO lake_files (path, table_name, day, rows, bytes, min_time, max_time, commit_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(err)?;
            for f in added {
                add.execute(params![
                    f.path,
                    f.table,
                    f.day,
                    f.rows as i64,
                    f.bytes as i64,
                    f.min_time,
                    f.max_time,
                    id
                ])
                .map_err(err)?;
            }
            let mut remove = tx
                .prepare("DELETE FROM lake_files WHERE path = ?1")
                .map_err(err)?;
            let mut retire = tx
                .prepare("INSERT OR REPLACE INTO lake_garbage (path, removed_at) VALUES (?1, ?2)")
                .map_err(err)?;
            for path in removed {
                remove.execute([path]).map_err(err)?;
                if kind != FORGET {
                    retire.execute(params![path, now]).map_err(err)?;
                }
            }
            let mut source = tx
                .prepare(
                    "INSERT OR REPLACE INTO lake_sources
                     (sha256, path, size, records, rows, skipped, commit_id, ingested_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(err)?;
            for s in sources {
                source
                    .execute(params![
                        s.sha256,
                        s.path,
                        s.size as i64,
                        s.records as i64,
                        s.rows as i64,
                        s.skipped as i64,
                        id,
                        now
                    ])
                    .map_err(err)?;
            }
            let rows: u64 = added.iter().map(|f| f.rows).sum();
            tx.execute(
                "INSERT INTO lake_commits (id, kind, at, rows_added, files_added, files_removed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    kind,
                    now,
                    rows as i64,
                    added.len() as i64,
                    removed.len() as i64
                ],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Forgets files that are listed but gone from disk (deleted by hand); returns them.
    ///
    /// Limitation: the sources whose rows were in those files stay recorded as ingested,
    /// since their other rows may still be in files that exist; re-reading them takes
    /// `--force`.
    pub fn forget_missing(&mut self, tables_dir: &Path, id: &str) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        for path in self.live_paths()? {
            match std::fs::metadata(tables_dir.join(&path)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(path),
                // Any other error (permissions, I/O) says nothing about whether the file
                // is there: leave it listed.
                _ => {}
            }
        }
        if !missing.is_empty() {
            self.commit(id, FORGET, &[], &missing, &[])?;
        }
        Ok(missing)
    }

    /// Files removed from the lake by a commit and not yet deleted, with the time (Unix
    /// seconds) they were removed.
    pub fn garbage(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, removed_at FROM lake_garbage")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Forgets garbage files once they have been deleted.
    pub fn drop_garbage(&mut self, paths: &[String]) -> Result<()> {
        let path = self.path.clone();
        let err = |source| StoreError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare("DELETE FROM lake_garbage WHERE path = ?1")
                .map_err(err)?;
            for p in paths {
                stmt.execute([p]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }
}
