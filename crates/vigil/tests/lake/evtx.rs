//! EVTX: every record of the attack samples lands, mapped as promised; damaged files
//! are read as far as they can be.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use evtx::{EvtxParser, ParserSettings};
use serde_json::Value;

use super::common::*;

/// One record as the `evtx` crate itself reads it.
struct Record {
    file: PathBuf,
    id: u64,
    channel: String,
    event_id: u64,
    data: Value,
}

/// Every record of the files, with duplicates by content left out (Vigil ingests a
/// content once), and the number of records the crate could not read.
fn iterate(files: &[PathBuf]) -> (Vec<Record>, u64) {
    let mut seen = HashSet::new();
    let mut records = Vec::new();
    let mut errors = 0;
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        if !seen.insert(sha256(&bytes)) {
            continue;
        }
        let settings = ParserSettings::new().validate_checksums(false);
        let mut parser = EvtxParser::from_path(file)
            .unwrap()
            .with_configuration(settings);
        for r in parser.records_json_value() {
            match r {
                Ok(r) => {
                    let system = &r.data["Event"]["System"];
                    let event_id = system["EventID"]
                        .as_u64()
                        .or_else(|| system["EventID"]["#text"].as_u64())
                        .unwrap();
                    records.push(Record {
                        file: file.clone(),
                        id: r.event_record_id,
                        channel: system["Channel"].as_str().unwrap_or("").to_string(),
                        event_id,
                        data: r.data["Event"]["EventData"].clone(),
                    });
                }
                Err(_) => errors += 1,
            }
        }
    }
    (records, errors)
}

#[test]
fn every_attack_sample_record_lands_in_its_tables() {
    let samples = shared_data().join("evtx/attack-samples");
    let files = files_under(&samples, "evtx");
    assert!(
        files.len() > 250,
        "expected the 277 attack samples, found {}",
        files.len()
    );
    let (records, errors) = iterate(&files);

    let dir = tempfile::tempdir().unwrap();
    let run = ingest(dir.path(), &[&samples]);
    assert_eq!(run.code, 0, "nothing should be skipped:\n{}", run.stderr);
    assert_eq!(errors, 0, "the evtx crate reads every attack sample record");
    assert_eq!(
        run.n("records"),
        records.len() as u64,
        "records read = records the crate iterates"
    );
    assert_eq!(run.n("skipped_records"), 0);

    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &records {
        for table in expected_tables(&r.channel, r.event_id) {
            *expected.entry(table).or_default() += 1;
        }
    }
    let listed = listed_rows(dir.path());
    for (table, n) in &expected {
        assert_eq!(
            listed.get(*table).copied().unwrap_or(0),
            *n,
            "rows in {table}"
        );
        let q = format!("SELECT count(*) AS n FROM {table}");
        assert_eq!(count(dir.path(), &q), *n, "{table} as queried");
    }
    assert_eq!(
        listed.len(),
        expected.len(),
        "no other table has rows: {listed:?}"
    );
}

#[test]
fn sysmon_process_creations_carry_their_details_and_cite_their_record() {
    let samples = shared_data().join("evtx/attack-samples/Execution");
    let files = files_under(&samples, "evtx");
    let (records, _) = iterate(&files);
    let creations: Vec<&Record> = records
        .iter()
        .filter(|r| r.channel == "Microsoft-Windows-Sysmon/Operational" && r.event_id == 1)
        .filter(|r| {
            r.data["Hashes"]
                .as_str()
                .is_some_and(|h| h.contains("SHA256="))
        })
        .collect();
    assert!(
        creations.len() >= 5,
        "the Execution samples hold Sysmon process creations"
    );

    let dir = tempfile::tempdir().unwrap();
    let run = ingest(dir.path(), &[&samples]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    for r in creations.iter().take(5) {
        let q = format!(
            "SELECT FileName, FolderPath, ProcessCommandLine, SHA256, InitiatingProcessFileName, \
             InitiatingProcessFolderPath, ProcessId, DeviceName, ActionType \
             FROM DeviceProcessEvents WHERE _SourceFile = '{}' AND _SourceRecord = {}",
            r.file
                .canonicalize()
                .unwrap()
                .display()
                .to_string()
                .replace('\'', "''"),
            r.id
        );
        let rows = sql(dir.path(), &q);
        assert_eq!(rows.len(), 1, "one row cites {}#{}", r.file.display(), r.id);
        let row = &rows[0];
        let image = r.data["Image"].as_str().unwrap();
        let parent = r.data["ParentImage"].as_str().unwrap();
        let sha256 = r.data["Hashes"]
            .as_str()
            .unwrap()
            .split(',')
            .find_map(|h| h.strip_prefix("SHA256="))
            .unwrap()
            .to_lowercase();
        let base = |p: &str| p.rsplit('\\').next().unwrap().to_string();
        assert_eq!(row["FolderPath"], image);
        assert_eq!(row["FileName"], base(image).as_str());
        assert_eq!(row["ProcessCommandLine"], r.data["CommandLine"]);
        assert_eq!(row["SHA256"], sha256.as_str());
        assert_eq!(row["InitiatingProcessFolderPath"], parent);
        assert_eq!(row["InitiatingProcessFileName"], base(parent).as_str());
        assert_eq!(row["ActionType"], "ProcessCreated");
        let pid: u64 = r.data["ProcessId"]
            .as_u64()
            .unwrap_or_else(|| r.data["ProcessId"].as_str().unwrap().parse().unwrap());
        assert_eq!(row["ProcessId"].as_u64(), Some(pid));
        assert!(row["DeviceName"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

#[test]
fn damaged_files_are_read_as_far_as_they_go_and_say_what_was_skipped() {
    let samples = shared_data().join("evtx/parser-samples");
    let dir = tempfile::tempdir().unwrap();
    let run = ingest(dir.path(), &[&samples]);
    assert_eq!(run.code, 3, "done, with skips:\n{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.n("skipped_records") > 0);

    // The file with a zeroed chunk header: that chunk is reported, the others are read.
    let bad = "sample_with_a_bad_chunk_magic.evtx";
    let reported: Vec<&str> = run.stderr.lines().filter(|l| l.contains(bad)).collect();
    assert!(
        reported
            .iter()
            .any(|l| l.contains("chunk") && l.contains("magic")),
        "the bad chunk is named:\n{}",
        run.stderr
    );
    let (readable, failed) = iterate(&[samples.join(bad)]);
    assert!(
        failed > 0 && readable.len() > 100,
        "{bad} is damaged but mostly readable"
    );
    let q = format!(
        "SELECT count(*) AS n FROM (SELECT _SourceFile FROM SecurityEvent UNION ALL \
         SELECT _SourceFile FROM WindowsEvent) WHERE _SourceFile LIKE '%{bad}'"
    );
    assert_eq!(
        count(dir.path(), &q),
        readable.len() as u64,
        "every readable record of {bad} landed"
    );

    // Every file was looked at: the damaged ones did not stop the rest.
    let evtx_files = files_under(&samples, "evtx");
    let sources = run.n("sources") + run.n("already_ingested");
    assert_eq!(
        sources as usize,
        evtx_files.len(),
        "every EVTX file was read"
    );
}

#[test]
fn the_evtx_crates_json_lands_exactly_like_the_evtx_file() {
    let file = shared_data().join(
        "evtx/attack-samples/Lateral Movement/LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx",
    );
    let mut parser = EvtxParser::from_path(&file).unwrap();
    let mut lines = String::new();
    for r in parser.records_json() {
        // One line per record: re-serialise the pretty JSON compactly.
        let value: Value = serde_json::from_str(&r.unwrap().data).unwrap();
        lines.push_str(&value.to_string());
        lines.push('\n');
    }
    let input = tempfile::tempdir().unwrap();
    let jsonl = input.path().join("records.jsonl");
    std::fs::write(&jsonl, lines).unwrap();

    let from_evtx = tempfile::tempdir().unwrap();
    let from_json = tempfile::tempdir().unwrap();
    let a = ingest(from_evtx.path(), &[&file]);
    let b = ingest(from_json.path(), &[&jsonl]);
    assert_eq!((a.code, b.code), (0, 0), "{}\n{}", a.stderr, b.stderr);
    assert!(a.n("records") > 0);
    assert_eq!(
        a.summary["rows"], b.summary["rows"],
        "the same tables, the same row counts"
    );
    let q = "SELECT Timestamp, FileName, ProcessCommandLine, InitiatingProcessFileName, SHA256 \
             FROM DeviceProcessEvents \
             ORDER BY Timestamp, FileName, ProcessCommandLine, InitiatingProcessFileName, SHA256";
    let rows = sql(from_evtx.path(), q);
    assert!(!rows.is_empty(), "the sample holds process creations");
    assert_eq!(rows, sql(from_json.path(), q), "and the same values");
}
