//! The OTRF datasets: zipped JSON lines of Windows events, flattened NXLog-style.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

use super::common::*;

#[test]
fn otrf_zips_land_in_the_same_tables_as_evtx_records_would() {
    let root = shared_data().join("json/otrf");
    let zips = files_under(&root, "zip");
    assert_eq!(zips.len(), 60, "the 60 OTRF datasets");

    // What the datasets hold, read independently of Vigil.
    let mut lines = 0u64;
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for path in &zips {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        for i in 0..archive.len() {
            let mut member = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            member.read_to_end(&mut bytes).unwrap();
            // Archives made on a Mac carry resource forks beside the data; they are not JSON.
            if bytes.first() != Some(&b'{') {
                continue;
            }
            for line in bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            {
                lines += 1;
                let v: Value = serde_json::from_slice(line).unwrap();
                let channel = v["Channel"].as_str().unwrap_or("");
                let id = v["EventID"].as_u64().unwrap();
                for table in expected_tables(channel, id) {
                    *expected.entry(table).or_default() += 1;
                }
            }
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let run = ingest(dir.path(), &[&root]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.n("sources"), 60);
    assert_eq!(run.n("records"), lines);
    assert_eq!(run.n("skipped_records"), 0);
    let listed = listed_rows(dir.path());
    for (table, n) in &expected {
        assert_eq!(
            listed.get(*table).copied().unwrap_or(0),
            *n,
            "rows in {table}"
        );
    }
    assert_eq!(
        listed.len(),
        expected.len(),
        "no other table has rows: {listed:?}"
    );

    // Sysmon's details come through the flattened shape as they do through EVTX.
    let q = "SELECT count(*) AS n FROM DeviceProcessEvents WHERE ActionType = 'ProcessCreated' \
             AND (FileName IS NULL OR FolderPath IS NULL)";
    assert_eq!(
        count(dir.path(), q),
        0,
        "every process creation names its file"
    );
    let q = "SELECT count(*) AS n FROM DeviceProcessEvents WHERE ActionType = 'ProcessCreated' \
             AND ProcessCommandLine IS NOT NULL AND InitiatingProcessFileName IS NOT NULL";
    assert!(
        count(dir.path(), q) > 100,
        "and most carry their command line and parent"
    );
    let q = "SELECT count(*) AS n FROM DeviceRegistryEvents WHERE starts_with(RegistryKey, 'HKLM') \
             OR starts_with(RegistryKey, 'HKU\\') OR starts_with(RegistryKey, 'HKCU')";
    assert_eq!(
        count(dir.path(), q),
        0,
        "registry hives are spelt out as Defender does"
    );
    let q = "SELECT count(*) AS n FROM DeviceRegistryEvents \
             WHERE starts_with(RegistryKey, 'HKEY_LOCAL_MACHINE\\')";
    assert!(count(dir.path(), q) > 1000);
}

#[test]
fn ingesting_the_same_files_again_adds_no_rows() {
    let root = shared_data().join("json/otrf/lateral_movement");
    let dir = tempfile::tempdir().unwrap();
    let first = ingest(dir.path(), &[&root]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.n("sources") > 0);
    let before = listed_rows(dir.path());

    let again = ingest(dir.path(), &[&root]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.n("sources"), 0);
    assert_eq!(again.n("already_ingested"), first.n("sources"));
    assert_eq!(listed_rows(dir.path()), before);

    // A copy under another name is the same content.
    let copy_dir = tempfile::tempdir().unwrap();
    let some_zip = files_under(&root, "zip").remove(0);
    let copy = copy_dir.path().join("renamed.zip");
    std::fs::copy(&some_zip, &copy).unwrap();
    let third = ingest(dir.path(), &[&copy]);
    assert_eq!((third.n("sources"), third.n("already_ingested")), (0, 1));
    assert_eq!(listed_rows(dir.path()), before);
}
