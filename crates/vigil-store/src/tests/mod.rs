//! Tests of the lake through its public interface, on temporary data directories.

use std::sync::Arc;

use arrow::array::{Int32Array, RecordBatch, StringArray, TimestampNanosecondArray};
use vigil_schema::{Catalog, Table};

use crate::{SourceEntry, Store, StoreError};

const DAY: i64 = 86_400 * 1_000_000_000;
const T0: i64 = 1_600_000_000 * 1_000_000_000; // 2020-09-13T12:26:40Z

fn security_event() -> &'static Table {
    Catalog::builtin().table("SecurityEvent").unwrap()
}

/// A SecurityEvent batch with the given times and event ids; other columns null.
fn batch(times: &[i64], ids: &[i32]) -> RecordBatch {
    let table = security_event();
    let schema = table.arrow_schema();
    let n = times.len();
    let columns = schema
        .fields()
        .iter()
        .map(|f| -> arrow::array::ArrayRef {
            match f.name().as_str() {
                "Timestamp" | "TimeGenerated" => {
                    Arc::new(TimestampNanosecondArray::from(times.to_vec()).with_timezone("UTC"))
                }
                "EventID" => Arc::new(Int32Array::from(ids.to_vec())),
                "Computer" => Arc::new(StringArray::from(vec!["host"; n])),
                _ => arrow::array::new_null_array(f.data_type(), n),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

fn source(sha: &str, rows: u64) -> SourceEntry {
    SourceEntry {
        sha256: sha.into(),
        path: format!("/logs/{sha}.evtx"),
        size: 10,
        records: rows,
        rows,
        skipped: 0,
    }
}

fn count(store: &Store, sql: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let ctx = store.session().unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let col = batches[0].column(0);
        arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(col).value(0)
    })
}

#[test]
fn rows_are_invisible_until_commit_and_partitioned_by_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut writer = store.writer().unwrap();
    writer
        .write(
            security_event(),
            &batch(&[T0, T0 + DAY, T0 + 2 * DAY], &[1, 2, 3]),
        )
        .unwrap();
    writer.add_source(source("a", 3));
    assert_eq!(count(&store, "SELECT count(*) FROM SecurityEvent"), 0);
    let summary = writer.commit().unwrap();
    assert_eq!((summary.files, summary.rows, summary.sources), (3, 3, 1));
    assert_eq!(count(&store, "SELECT count(*) FROM SecurityEvent"), 3);

    let files = store.files("SecurityEvent").unwrap();
    let days: Vec<&str> = files.iter().map(|f| f.day.as_str()).collect();
    assert_eq!(days, ["2020-09-13", "2020-09-14", "2020-09-15"]);
    for f in &files {
        assert!(
            f.path
                .starts_with(&format!("SecurityEvent/date={}/", f.day)),
            "{}",
            f.path
        );
        assert!(dir.path().join("tables").join(&f.path).is_file());
    }
    assert!(store.source("a").unwrap().is_some());
    assert!(store.source("b").unwrap().is_none());
}

#[test]
fn time_filters_prune_files_and_still_return_the_right_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut writer = store.writer().unwrap();
    for day in 0..5 {
        let t = T0 + day * DAY;
        writer
            .write(security_event(), &batch(&[t, t + 1], &[day as i32, 99]))
            .unwrap();
    }
    writer.commit().unwrap();
    let q = "SELECT count(*) FROM SecurityEvent WHERE Timestamp >= to_timestamp_nanos(1600172800000000000)";
    // From 2020-09-15T12:26:40: days 2, 3 and 4.
    assert_eq!(count(&store, q), 6);

    let ctx = store.session().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let plan = rt.block_on(async {
        let df = ctx.sql(&format!("EXPLAIN {q}")).await.unwrap();
        let batches = df.collect().await.unwrap();
        arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    });
    assert_eq!(
        plan.matches(".parquet").count(),
        3,
        "only the last three files are scanned:\n{plan}"
    );
}

#[test]
fn an_abandoned_writer_leaves_nothing_visible_and_the_next_one_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    {
        let mut writer = store.writer().unwrap();
        writer.write(security_event(), &batch(&[T0], &[1])).unwrap();
        writer.add_source(source("kept", 1));
        writer.commit().unwrap();
        writer
            .write(security_event(), &batch(&[T0, T0], &[2, 3]))
            .unwrap();
        // Dropped without a commit, as if the process had stopped here.
    }
    // A file moved into place but never listed, as a crash between the move and the
    // commit would leave it.
    let stray = dir
        .path()
        .join("tables/SecurityEvent/date=2020-09-13/part-stray.parquet");
    std::fs::copy(
        dir.path()
            .join("tables")
            .join(&store.files("SecurityEvent").unwrap()[0].path),
        &stray,
    )
    .unwrap();
    assert_eq!(
        count(&store, "SELECT count(*) FROM SecurityEvent"),
        1,
        "unlisted files are not read"
    );

    // And a staging file, as a killed writer leaves it.
    let staged = dir.path().join("staging/killed/part-x.parquet");
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::write(&staged, b"half a file").unwrap();

    let writer = store.writer().unwrap();
    assert!(!stray.exists(), "the next writer deletes unlisted files");
    assert!(!staged.exists(), "and what was left in staging");
    drop(writer);
    assert_eq!(count(&store, "SELECT count(*) FROM SecurityEvent"), 1);
}

#[test]
fn only_one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = store.writer().unwrap();
    assert!(matches!(store.writer(), Err(StoreError::Busy(_))));
    drop(first);
    assert!(store.writer().is_ok());
}

#[test]
fn compaction_merges_small_files_without_changing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for i in 0..4 {
        let mut writer = store.writer().unwrap();
        writer
            .write(
                security_event(),
                &batch(&[T0 + i, T0 + DAY + i], &[i as i32, 7]),
            )
            .unwrap();
        writer.commit().unwrap();
    }
    assert_eq!(store.files("SecurityEvent").unwrap().len(), 8);
    let before = count(&store, "SELECT sum(EventID) FROM SecurityEvent");
    let report = store.compact().unwrap();
    assert_eq!(
        (
            report.partitions,
            report.files_before,
            report.files_after,
            report.rows
        ),
        (2, 8, 2, 8)
    );
    let files = store.files("SecurityEvent").unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(count(&store, "SELECT count(*) FROM SecurityEvent"), 8);
    assert_eq!(
        count(&store, "SELECT sum(EventID) FROM SecurityEvent"),
        before
    );
    let on_disk = || {
        crate::writer::parquet_files(&dir.path().join("tables"))
            .unwrap()
            .len()
    };
    assert_eq!(
        on_disk(),
        10,
        "replaced files stay a while for queries already planned"
    );
    // A writer opened soon after keeps them; once they are old enough they go.
    let mut writer = store.writer().unwrap();
    assert_eq!(on_disk(), 10);
    assert_eq!(
        writer.collect_garbage(std::time::Duration::ZERO).unwrap(),
        8
    );
    drop(writer);
    assert_eq!(on_disk(), 2, "replaced files are deleted");
    assert_eq!(
        store.compact().unwrap().partitions,
        0,
        "nothing left to merge"
    );
}

#[test]
fn every_catalog_table_is_queryable_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM DeviceProcessEvents"), 0);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM SigninLogs WHERE UserPrincipalName = 'x'"
        ),
        0
    );
}

#[test]
fn files_deleted_by_hand_are_forgotten_and_writing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut writer = store.writer().unwrap();
    writer
        .write(
            security_event(),
            &batch(&[T0, T0 + DAY, T0 + 2 * DAY], &[1, 2, 3]),
        )
        .unwrap();
    writer.commit().unwrap();
    drop(writer);
    let files = store.files("SecurityEvent").unwrap();
    for (deleted, file) in files.iter().take(2).enumerate() {
        std::fs::remove_file(dir.path().join("tables").join(&file.path)).unwrap();
        let writer = store
            .writer()
            .expect("a writer opens after a file was deleted by hand");
        drop(writer);
        let left = 3 - (deleted as i64 + 1);
        assert_eq!(count(&store, "SELECT count(*) FROM SecurityEvent"), left);
        assert_eq!(store.files("SecurityEvent").unwrap().len() as i64, left);
    }
}
