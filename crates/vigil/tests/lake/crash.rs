//! Crash safety: an ingest killed with SIGKILL at any moment leaves the lake as it was
//! after its last commit, and a later run finishes the job without duplicates.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::common::*;

/// Rows the manifest lists, and rows of the sources it says were ingested.
fn manifest_rows(data_dir: &Path) -> (u64, u64) {
    let db = rusqlite::Connection::open(data_dir.join("vigil.db")).unwrap();
    let files: i64 = db
        .query_row("SELECT coalesce(sum(rows), 0) FROM lake_files", [], |r| {
            r.get(0)
        })
        .unwrap();
    let sources: i64 = db
        .query_row("SELECT coalesce(sum(rows), 0) FROM lake_sources", [], |r| {
            r.get(0)
        })
        .unwrap();
    (files as u64, sources as u64)
}

/// Commits made so far (0 before the lake exists).
fn commits(data_dir: &Path) -> i64 {
    let Ok(db) = rusqlite::Connection::open_with_flags(
        data_dir.join("vigil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return 0;
    };
    db.query_row("SELECT count(*) FROM lake_commits", [], |r| r.get(0))
        .unwrap_or(0)
}

fn queried_rows(data_dir: &Path) -> u64 {
    let tables = listed_rows(data_dir);
    tables
        .keys()
        .map(|t| count(data_dir, &format!("SELECT count(*) AS n FROM {t}")))
        .sum()
}

#[test]
fn killed_ingests_leave_only_whole_commits_and_a_rerun_completes_exactly() {
    let samples = shared_data().join("evtx/attack-samples");

    // The reference: one uninterrupted run.
    let clean = tempfile::tempdir().unwrap();
    let reference = ingest(clean.path(), &[&samples]);
    assert_eq!(reference.code, 0, "{}", reference.stderr);
    let expected = listed_rows(clean.path());
    let expected_total: u64 = expected.values().sum();

    let dir = tempfile::tempdir().unwrap();
    let mut kills = 0;
    for round in 0..6u64 {
        let before = commits(dir.path());
        let mut child = vigil(dir.path())
            .args(["ingest", "--quiet", "--commit-rows", "300"])
            .arg(&samples)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it commit at least once, then kill it a little later each round, so the
        // kills land at different points of writing, moving and committing.
        let started = Instant::now();
        let mut finished = false;
        while commits(dir.path()) <= before {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no commit within two minutes"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        if finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(round * 37));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;

        // Whatever the moment, the lake lists exactly the rows of the sources it
        // recorded, and queries see exactly the listed rows: nothing half-written.
        let (listed, of_sources) = manifest_rows(dir.path());
        assert_eq!(
            listed, of_sources,
            "rows listed = rows of committed sources (kill {kills})"
        );
        assert_eq!(
            queried_rows(dir.path()),
            listed,
            "queries see the listed rows only (kill {kills})"
        );
    }
    assert!(
        kills >= 3,
        "the ingest was interrupted at least three times ({kills})"
    );

    // A new run cleans up what the killed ones left and completes the work.
    let rerun = ingest(dir.path(), &[&samples]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(
        listed_rows(dir.path()),
        expected,
        "same rows as an uninterrupted ingest"
    );
    assert_eq!(queried_rows(dir.path()), expected_total);
    assert!(!dir.path().join("staging").exists() || empty(&dir.path().join("staging")));

    // Every file on disk is listed, or was replaced by compaction moments ago and waits
    // for the queries that may still read it.
    let db = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    let listed_files: i64 = db
        .query_row("SELECT count(*) FROM lake_files", [], |r| r.get(0))
        .unwrap();
    let retired: i64 = db
        .query_row("SELECT count(*) FROM lake_garbage", [], |r| r.get(0))
        .unwrap();
    let on_disk = files_under(&dir.path().join("tables"), "parquet").len();
    assert_eq!(
        on_disk as i64,
        listed_files + retired,
        "no stray data files"
    );
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}
