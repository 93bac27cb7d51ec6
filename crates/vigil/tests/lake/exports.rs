//! Defender and Sentinel exports (rows already in a table's shape), bad input, and the
//! table and query commands.

use super::common::*;

#[test]
fn table_shaped_json_and_csv_land_with_their_types() {
    let input = tempfile::tempdir().unwrap();
    let ndjson = input.path().join("hunting-export.json");
    std::fs::write(
        &ndjson,
        concat!(
            r#"{"Timestamp":"2024-05-01T10:00:00.1234567Z","DeviceName":"ws1.example.local","ActionType":"ProcessCreated","FileName":"cmd.exe","ProcessId":4242,"ProcessCommandLine":"cmd /c whoami","InitiatingProcessFileName":"explorer.exe","ProcessVersionInfoCompanyName":"Microsoft Corporation"}"#,
            "\n",
            "{ this line is broken\n",
            r#"{"Timestamp":"2024-05-02T11:00:00Z","DeviceName":"ws2.example.local","ActionType":"ProcessCreated","FileName":"powershell.exe","ProcessId":"17","ProcessCommandLine":"powershell -enc AAAA","InitiatingProcessFileName":"cmd.exe","Unknown":"kept"}"#,
            "\n",
        ),
    )
    .unwrap();
    let csv = input.path().join("signins.csv");
    std::fs::write(
        &csv,
        "TimeGenerated [UTC],UserPrincipalName,IPAddress,ResultType,AppDisplayName\n\
         2024-05-03T08:00:00Z,alice@example.com,192.0.2.10,0,Office 365\n\
         2024-05-03T08:05:00Z,bob@example.com,198.51.100.7,50126,Azure Portal\n",
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let run = ingest(dir.path(), &[&ndjson]);
    assert_eq!(
        run.code, 3,
        "one broken line means done with skips:\n{}",
        run.stderr
    );
    assert_eq!(run.n("skipped_records"), 1);
    assert!(
        run.stderr.contains("hunting-export.json: line 2"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.rows("DeviceProcessEvents"),
        2,
        "the table is told by the columns"
    );
    // Several sign-in tables share these few columns: the table is named.
    let run = ingest(dir.path(), &[&"--table", &"SigninLogs", &csv]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.rows("SigninLogs"), 2);

    let rows = sql(
        dir.path(),
        "SELECT DeviceName, ProcessId, TimeGenerated, AdditionalFields FROM DeviceProcessEvents ORDER BY Timestamp",
    );
    assert_eq!(rows[0]["ProcessId"].as_i64(), Some(4242));
    assert_eq!(
        rows[1]["ProcessId"].as_i64(),
        Some(17),
        "numbers in strings convert"
    );
    assert!(
        rows[0]["TimeGenerated"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-01T10:00:00.123456700")
    );
    assert!(
        rows[1]["AdditionalFields"]
            .as_str()
            .unwrap()
            .contains("Unknown"),
        "unknown keys are kept"
    );
    let q = "SELECT count(*) AS n FROM SigninLogs WHERE ResultType = '50126' AND Timestamp = TimeGenerated";
    assert_eq!(count(dir.path(), q), 1);
}

#[test]
fn a_named_table_must_exist_and_typos_get_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.json");
    std::fs::write(&file, "{}\n").unwrap();
    let (code, _, stderr) = output(
        vigil(dir.path())
            .args(["ingest", "--table", "DeviceProcesEvents"])
            .arg(&file),
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("did you mean DeviceProcessEvents"),
        "{stderr}"
    );

    let (code, _, stderr) = output(vigil(dir.path()).args(["tables", "SiginLogs"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("did you mean SigninLogs"), "{stderr}");

    let (code, stdout, _) =
        output(vigil(dir.path()).args(["tables", "DeviceProcessEvents", "--format", "csv"]));
    assert_eq!(code, 0);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("ProcessCommandLine,string,")),
        "{stdout}"
    );

    let (code, _, stderr) = output(vigil(dir.path()).args(["sql", "SELEC nonsense"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("error:"), "{stderr}");
}

#[test]
fn unreadable_and_unknown_files_are_reported_and_the_run_goes_on() {
    let input = tempfile::tempdir().unwrap();
    let fake = input.path().join("broken.evtx");
    std::fs::write(&fake, b"ElfFile\0 but nothing after the magic").unwrap();
    let text = input.path().join("notes.txt");
    std::fs::write(&text, "just some notes\n").unwrap();
    let good = input.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"Type":"SecurityEvent","TimeGenerated":"2024-01-01T00:00:00Z","EventID":4625,"Computer":"dc1"}"#,
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let run = ingest(dir.path(), &[&input.path()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("broken.evtx"), "{}", run.stderr);
    assert_eq!(run.n("ignored_files"), 1, "notes.txt is not a log");
    assert_eq!(run.rows("SecurityEvent"), 1);

    // Named explicitly, a file in no known format is an error of its own.
    let run = ingest(dir.path(), &[&text]);
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("not a format Vigil reads"),
        "{}",
        run.stderr
    );
}

#[test]
fn pretty_printed_json_and_streams_of_documents_are_read() {
    let input = tempfile::tempdir().unwrap();
    let event = |id: u32, host: &str| {
        format!(
            "{{\n  \"Type\": \"SecurityEvent\",\n  \"TimeGenerated\": \"2024-02-0{id}T00:00:00Z\",\n  \
             \"EventID\": 46{id}0,\n  \"Computer\": \"{host}\"\n}}\n"
        )
    };
    // As `jq .` writes them: documents one after another, each over many lines.
    let stream = input.path().join("stream.json");
    std::fs::write(&stream, format!("{}{}", event(1, "a"), event(2, "b"))).unwrap();
    // One array over many lines.
    let array = input.path().join("array.json");
    std::fs::write(
        &array,
        format!("[\n{},\n{}]\n", event(3, "c"), event(4, "d")),
    )
    .unwrap();
    // NDJSON whose first line was cut short: that line is skipped, the rest read.
    let cut = input.path().join("cut.jsonl");
    let line = |id: u32| event(id, "e").replace('\n', "");
    std::fs::write(
        &cut,
        format!("{{\"Type\": \"SecurityEv\n{}\n{}\n", line(5), line(6)),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let run = ingest(dir.path(), &[&stream, &array]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.rows("SecurityEvent"), 4);
    let rows = sql(
        dir.path(),
        "SELECT Computer, _SourceRecord FROM SecurityEvent ORDER BY Computer",
    );
    let records: Vec<i64> = rows
        .iter()
        .map(|r| r["_SourceRecord"].as_i64().unwrap())
        .collect();
    assert_eq!(
        records,
        [1, 7, 1, 2],
        "rows cite the line a document starts on, or its place in an array"
    );

    let run = ingest(dir.path(), &[&cut]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(
        (run.n("skipped_records"), run.rows("SecurityEvent")),
        (1, 2)
    );
    assert!(run.stderr.contains("cut.jsonl: line 1"), "{}", run.stderr);
}

#[test]
fn a_file_that_gave_nothing_but_errors_is_read_again_next_time() {
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("later.json");
    std::fs::write(&file, "{\"nothing\": \"that fits a table\"}\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = ingest(dir.path(), &[&file]);
    assert_eq!(
        (first.code, first.n("skipped_records")),
        (3, 1),
        "{}",
        first.stderr
    );
    let again = ingest(dir.path(), &[&"--table", &"DeviceInfo", &file]);
    assert_eq!(again.n("already_ingested"), 0, "not remembered as ingested");
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.rows("DeviceInfo"), 1);
}
