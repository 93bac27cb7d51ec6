//! `vigil query`: KQL over a lake of the attack samples, checked against SQL over the
//! same lake, and `--check` over the shared community hunting queries.

use serde_json::Value;

use super::common::{ingest, output, shared_data, sql, vigil};

/// Runs a KQL query and returns the rows as JSON objects.
fn kql(data_dir: &std::path::Path, query: &str) -> Vec<Value> {
    let (code, stdout, stderr) = output(vigil(data_dir).args(["query", "--format", "json", query]));
    assert_eq!(code, 0, "query failed: {query}\n{stderr}");
    match serde_json::from_str::<Value>(stdout.trim()) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("not a JSON array: {other:?}\n{stdout}"),
    }
}

fn sorted_pairs(rows: &[Value], key: &str, value: &str) -> Vec<(String, u64)> {
    let mut pairs: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            let k = r[key].as_str().unwrap_or_default().to_string();
            let v = r[value]
                .as_u64()
                .unwrap_or_else(|| panic!("no {value} in {r}"));
            (k, v)
        })
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn kql_over_the_attack_samples_agrees_with_sql() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();
    let done = ingest(lake, &[&shared_data().join("evtx/attack-samples")]);
    assert_eq!(done.code, 0, "{}", done.stderr);

    // A filter and a summarize, as KQL and as SQL.
    let by_kql = kql(
        lake,
        "DeviceProcessEvents | where ProcessCommandLine has 'powershell' \
         | summarize n = count() by DeviceName",
    );
    let by_sql = sql(
        lake,
        "SELECT DeviceName, count(*) AS n FROM DeviceProcessEvents \
         WHERE regexp_like(ProcessCommandLine, '(^|[^[:alnum:]])(?i:powershell)([^[:alnum:]]|$)') \
         GROUP BY DeviceName",
    );
    let kql_pairs = sorted_pairs(&by_kql, "DeviceName", "n");
    assert!(
        !kql_pairs.is_empty(),
        "the samples run PowerShell on some device"
    );
    assert_eq!(kql_pairs, sorted_pairs(&by_sql, "DeviceName", "n"));

    // Kusto's naming of an unnamed count, and time bins from the epoch.
    let per_day = kql(
        lake,
        "SecurityEvent | where EventID == 4624 | summarize count() by bin(Timestamp, 1d)",
    );
    let total: u64 = per_day.iter().map(|r| r["count_"].as_u64().unwrap()).sum();
    let logons = sql(
        lake,
        "SELECT count(*) AS n FROM SecurityEvent WHERE EventID = 4624",
    );
    assert_eq!(Some(total), logons[0]["n"].as_u64());
    assert!(
        per_day
            .iter()
            .all(|r| r["Timestamp"].as_str().unwrap().ends_with("T00:00:00Z"))
    );

    // arg_max returns the whole row of the latest process per device.
    let latest = kql(
        lake,
        "DeviceProcessEvents | summarize arg_max(Timestamp, *) by DeviceName",
    );
    let devices = sql(
        lake,
        "SELECT count(DISTINCT DeviceName) AS n FROM DeviceProcessEvents",
    );
    assert_eq!(Some(latest.len() as u64), devices[0]["n"].as_u64());
    assert!(
        latest
            .iter()
            .all(|r| r.get("_SourceFile").is_some() && r.get("_SourceRecord").is_some())
    );

    // A join of network connections to the processes on the same device.
    let joined = kql(
        lake,
        "DeviceNetworkEvents | summarize c = count() by DeviceName \
         | join kind=inner (DeviceProcessEvents | summarize p = count() by DeviceName) on DeviceName \
         | project DeviceName, c, p",
    );
    assert!(!joined.is_empty());
    assert!(
        joined
            .iter()
            .all(|r| r["c"].as_u64().unwrap() > 0 && r["p"].as_u64().unwrap() > 0)
    );
}

#[test]
fn query_errors_point_at_the_text_and_placeholders_take_params() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path();

    let (code, _, stderr) = output(vigil(lake).args(["query", "DeviceProcesEvents | take 1"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("KQL004"), "{stderr}");
    assert!(
        stderr.contains("did you mean `DeviceProcessEvents`"),
        "{stderr}"
    );
    assert!(stderr.contains("^^^^"), "{stderr}");

    let (code, _, stderr) = output(vigil(lake).args(["query", "print x = {{Value}}"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("KQL002") && stderr.contains("{{Value}}"),
        "{stderr}"
    );

    let (code, stdout, stderr) = output(vigil(lake).args([
        "query",
        "print x = {{Value}} + 1",
        "--param",
        "Value=41",
        "--format",
        "csv",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "x\n42");

    let (code, stdout, _) =
        output(vigil(lake).args(["query", "--explain", "DeviceLogonEvents | count"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Aggregate") && stdout.contains("DeviceLogonEvents"),
        "{stdout}"
    );
}

/// The shared hunting queries: how many parse and bind against the catalog. The
/// floors are what Vigil reaches today; they only ever go up.
#[test]
fn community_hunting_queries_parse_and_bind() {
    let dir = tempfile::tempdir().unwrap();
    let pack = shared_data().join("kql/hunting-queries.jsonl");
    let (code, stdout, stderr) = output(vigil(dir.path()).args(["query", "--check"]).arg(&pack));
    assert_eq!(
        code, 3,
        "some shared queries use tables Vigil lacks\n{stderr}"
    );
    let totals = stdout.lines().last().unwrap_or_default();
    let numbers: Vec<u64> = totals
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [parsed, of, bound, of2] = numbers[..] else {
        panic!("no totals line: {totals:?}");
    };
    assert_eq!((of, of2), (1362, 1362), "{totals}");
    assert!(
        parsed >= 1348,
        "parsed {parsed} of {of}: fewer than before\n{stdout}"
    );
    assert!(
        bound >= 764,
        "bound {bound} of {of}: fewer than before\n{stdout}"
    );
    // Every failure names its query and the reason.
    let failures = stdout
        .lines()
        .filter(|l| l.contains(": bind: [KQL") || l.contains(": parse: [KQL"))
        .count();
    assert_eq!(failures as u64, of - bound);
    // Queries over tables and workspace functions the catalog does not have (vendor
    // tables, ASIM parsers, watchlists) cannot bind; of all the others, at least 90%
    // must.
    let missing_table = stdout
        .lines()
        .filter(|l| l.contains(": bind: [KQL004]"))
        .count() as u64;
    let answerable = of - missing_table;
    assert!(
        bound * 10 >= answerable * 9,
        "bound {bound} of the {answerable} queries whose tables Vigil has\n{stdout}"
    );
}
