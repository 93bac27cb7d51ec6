//! `vigil hunt` and `vigil incidents`: the SigmaHQ rules over the attack samples, alerts
//! and incidents in the lake, analyst verdicts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::common::{count, output, shared_data, vigil};

fn alerts_of(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn hunt(data_dir: &Path, extra: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String, String) {
    let mut cmd = vigil(data_dir);
    cmd.args(["hunt", "--quiet", "--min-level", "informational", "--rules"])
        .arg(shared_data().join("sigma/rules"));
    for a in extra {
        cmd.arg(a);
    }
    output(&mut cmd)
}

#[test]
fn hunting_the_attack_samples_finds_what_each_file_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let samples = shared_data().join("evtx/attack-samples");
    let (code, stdout, stderr) = hunt(dir.path(), &[&"--format", &"ndjson", &"--input", &samples]);
    assert!(code == 0 || code == 3, "{stderr}");
    let alerts = alerts_of(&stdout);
    assert!(alerts.len() > 1000, "{} alerts", alerts.len());

    // Per file, the techniques of the alerts raised on its records.
    let mut techniques: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in &alerts {
        let file = a["SourceFile"].as_str().unwrap_or_default();
        let file = file.rsplit("attack-samples/").next().unwrap_or(file);
        for t in a["Techniques"].as_array().into_iter().flatten() {
            techniques
                .entry(file.to_string())
                .or_default()
                .insert(t.as_str().unwrap_or_default().to_string());
        }
    }
    let expected = include_str!("attack-techniques.txt");
    let mut checked = 0;
    let mut missing = Vec::new();
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (file, technique) = line.split_once('\t').unwrap();
        assert!(samples.join(file).is_file(), "{file} is not a sample");
        checked += 1;
        if !techniques.get(file).is_some_and(|t| t.contains(technique)) {
            missing.push(format!(
                "{file}: no {technique} in {:?}",
                techniques.get(file)
            ));
        }
    }
    assert!(checked >= 40, "{checked} files listed");
    assert!(missing.is_empty(), "{}", missing.join("\n"));

    // Alerts are data: KQL sees them, every one with evidence naming its device.
    let stored = count(dir.path(), "SELECT count(*) AS n FROM AlertInfo");
    assert_eq!(stored, alerts.len() as u64);
    let without_device = count(
        dir.path(),
        "SELECT count(*) AS n FROM AlertInfo i WHERE NOT EXISTS (SELECT 1 FROM AlertEvidence e \
         WHERE e.AlertId = i.AlertId AND e.EntityType = 'Machine')",
    );
    assert_eq!(without_device, 0);
    let (code, kql, stderr) = output(vigil(dir.path()).args([
        "query",
        "--format",
        "json",
        "AlertInfo | where Title == 'Active Directory Replication from Non Machine Account - DcSync Indicator' | summarize n = count()",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(!kql.contains("\"n\":0"), "{kql}");

    // Hunting the same data again stores nothing twice.
    let incidents = count(
        dir.path(),
        "SELECT count(DISTINCT IncidentName) AS n FROM SecurityIncident",
    );
    assert!(incidents > 20, "{incidents} incidents");
    let (_, summary, stderr) = hunt(dir.path(), &[&"--format", &"json"]);
    let summary: Value = serde_json::from_str(&summary).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(summary["alerts_new"], 0, "{summary}");
    assert_eq!(summary["alerts_raised"].as_u64(), Some(alerts.len() as u64));
    assert_eq!(summary["incidents_updated"], 0);
    assert_eq!(
        count(dir.path(), "SELECT count(*) AS n FROM AlertInfo"),
        alerts.len() as u64
    );
    assert_eq!(
        count(dir.path(), "SELECT count(*) AS n FROM SecurityIncident"),
        incidents
    );
}

/// The NXLog-style flattened JSON that the OTRF datasets use, written from EVTX records:
/// event fields at the top level beside `EventID`, `Channel`, `Hostname` and `SourceName`.
fn flattened(evtx: &Path) -> Vec<String> {
    let mut parser = evtx::EvtxParser::from_path(evtx).unwrap();
    let mut lines = Vec::new();
    for record in parser.records_json_value().flatten() {
        let event = &record.data["Event"];
        let system = &event["System"];
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            Value::Object(o) => o.get("#text").and_then(|t| t.as_str().map(str::to_string)),
            other => Some(other.to_string()),
        };
        let mut flat = serde_json::Map::new();
        if let Some(data) = event["EventData"].as_object() {
            for (k, v) in data {
                if k != "#attributes"
                    && let Some(t) = text(v)
                {
                    flat.insert(k.clone(), Value::String(t));
                }
            }
        }
        let event_id: u64 = text(&system["EventID"])
            .and_then(|t| t.parse().ok())
            .unwrap();
        flat.insert("EventID".into(), event_id.into());
        flat.insert("Channel".into(), system["Channel"].clone());
        flat.insert("Hostname".into(), system["Computer"].clone());
        flat.insert(
            "SourceName".into(),
            system["Provider"]["#attributes"]["Name"].clone(),
        );
        flat.insert("SourceModuleType".into(), "im_msvistalog".into());
        flat.insert("RecordNumber".into(), system["EventRecordID"].clone());
        flat.insert(
            "@timestamp".into(),
            system["TimeCreated"]["#attributes"]["SystemTime"].clone(),
        );
        lines.push(Value::Object(flat).to_string());
    }
    lines
}

#[test]
fn the_same_events_as_otrf_json_raise_the_same_alerts_as_their_evtx_form() {
    let samples = shared_data().join("evtx/attack-samples");
    let files = [
        "Credential Access/CA_DCSync_4662.evtx",
        "Credential Access/sysmon_10_11_lsass_memdump.evtx",
        "Credential Access/sysmon_10_1_memdump_comsvcs_minidump.evtx",
        "Lateral Movement/LM_sysmon_psexec_smb_meterpreter.evtx",
        "Lateral Movement/LM_wmiexec_impacket_sysmon_whoami.evtx",
        "Lateral Movement/LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx",
        "Persistence/persistence_security_dcshadow_4742.evtx",
        "Persistence/wmighost_sysmon_20_21_1.evtx",
        "Execution/exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx",
        "Defense Evasion/de_portforward_netsh_rdp_sysmon_13_1.evtx",
        "Privilege Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx",
    ];
    let evtx_dir = tempfile::tempdir().unwrap();
    let json_dir = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut json_file = std::fs::File::create(inputs.path().join("otrf-shaped.json")).unwrap();
    for f in files {
        let path = samples.join(f);
        for line in flattened(&path) {
            writeln!(json_file, "{line}").unwrap();
        }
        paths.push(path);
    }
    drop(json_file);

    // The same rule on the same device, as many times. (Times may differ by a few
    // milliseconds: NXLog records carry Sysmon's own UtcTime, EVTX records the time the
    // record was written.)
    let tally = |alerts: &[Value]| {
        let mut t: BTreeMap<String, usize> = BTreeMap::new();
        for a in alerts {
            let key = format!(
                "{} | {} | {}",
                a["RuleId"].as_str().unwrap_or_default(),
                a["Title"].as_str().unwrap_or_default(),
                a["DeviceName"].as_str().unwrap_or_default().to_lowercase()
            );
            *t.entry(key).or_default() += 1;
        }
        t
    };
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"--format", &"ndjson"];
    for p in &paths {
        args.push(&"--input");
        args.push(p);
    }
    let (code, stdout, stderr) = hunt(evtx_dir.path(), &args);
    assert!(code == 0 || code == 3, "{stderr}");
    let from_evtx = tally(&alerts_of(&stdout));
    let json_input = inputs.path().join("otrf-shaped.json");
    let (code, stdout, stderr) = hunt(
        json_dir.path(),
        &[&"--format", &"ndjson", &"--input", &json_input],
    );
    assert!(code == 0 || code == 3, "{stderr}");
    let from_json = tally(&alerts_of(&stdout));
    assert!(from_evtx.len() > 30, "{from_evtx:#?}");
    assert!(from_evtx.values().sum::<usize>() > 50, "{from_evtx:#?}");
    let differ: Vec<String> = from_evtx
        .keys()
        .chain(from_json.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| from_evtx.get(*k) != from_json.get(*k))
        .map(|k| {
            format!(
                "{k}: EVTX {:?}, JSON {:?}",
                from_evtx.get(k),
                from_json.get(k)
            )
        })
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

fn process_rows(path: &Path, rows: &[(&str, &str, &str)]) {
    let mut f = std::fs::File::create(path).unwrap();
    for (time, device, account) in rows {
        let (domain, name) = account.split_once('\\').unwrap();
        let row = serde_json::json!({
            "Type": "DeviceProcessEvents",
            "Timestamp": time,
            "DeviceName": device,
            "ActionType": "ProcessCreated",
            "FileName": "whoami.exe",
            "FolderPath": "C:\\Windows\\System32\\whoami.exe",
            "ProcessCommandLine": "whoami /all",
            "AccountDomain": domain,
            "AccountName": name,
            "InitiatingProcessFileName": "cmd.exe",
        });
        writeln!(f, "{row}").unwrap();
    }
}

#[test]
fn a_false_positive_verdict_suppresses_the_rule_on_that_device_and_user() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("whoami.yml"),
        "title: Whoami run\nid: 11111111-2222-4333-8444-555555555555\nlevel: high\n\
         tags: [attack.discovery, attack.t1033]\n\
         logsource: {category: process_creation, product: windows}\n\
         detection:\n  sel: {Image|endswith: '\\whoami.exe'}\n  condition: sel\n",
    )
    .unwrap();
    let run = |input: &Path| {
        let (code, out, err) = output(
            vigil(dir.path())
                .args(["hunt", "--quiet", "--format", "json", "--rules"])
                .arg(&rules)
                .arg("--input")
                .arg(input),
        );
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let first = dir.path().join("first.json");
    process_rows(
        &first,
        &[
            ("2026-11-02T10:00:00Z", "WS01", r"CORP\ann"),
            ("2026-11-02T10:05:00Z", "WS01", r"CORP\ann"),
        ],
    );
    let summary = run(&first);
    assert_eq!(summary["alerts_new"], 2, "{summary}");
    assert_eq!(summary["incidents"], 1);

    let (code, list, err) = output(vigil(dir.path()).args(["incidents", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["Severity"], "High");
    assert_eq!(list[0]["Status"], "New");
    assert_eq!(list[0]["Alerts"], 2);
    assert_eq!(list[0]["Devices"], "WS01");
    let number = list[0]["Number"].as_i64().unwrap().to_string();

    let (code, shown, err) = output(vigil(dir.path()).args(["incidents", "show", &number]));
    assert_eq!(code, 0, "{err}");
    assert!(shown.contains("Whoami run"), "{shown}");
    assert!(shown.contains("whoami /all"), "{shown}");
    assert!(shown.contains("Discovery"), "{shown}");

    // A false positive needs its reason.
    let (code, _, err) = output(vigil(dir.path()).args([
        "incidents",
        "set",
        &number,
        "--classification",
        "false-positive",
    ]));
    assert_ne!(code, 0);
    assert!(err.contains("--reason"), "{err}");
    let (code, said, err) = output(vigil(dir.path()).args([
        "incidents",
        "set",
        &number,
        "--classification",
        "false-positive",
        "--reason",
        "incorrect-alert-logic",
        "--comment",
        "the helpdesk inventory script",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(said.contains("suppressed"), "{said}");
    let (_, closed, _) =
        output(vigil(dir.path()).args(["incidents", "--status", "closed", "--format", "json"]));
    let closed: Value = serde_json::from_str(&closed).unwrap();
    assert_eq!(closed[0]["Classification"], "FalsePositive", "{closed}");
    assert_eq!(
        count(
            dir.path(),
            "SELECT count(*) AS n FROM SecurityIncident WHERE \"ClassificationReason\" = 'IncorrectAlertLogic'"
        ),
        1
    );

    // Later: the same rule on the same device and user is suppressed; elsewhere it is not.
    let second = dir.path().join("second.json");
    process_rows(
        &second,
        &[
            ("2026-11-03T09:00:00Z", "WS01", r"CORP\ann"),
            ("2026-11-03T09:00:00Z", "WS02", r"CORP\bob"),
        ],
    );
    let summary = run(&second);
    assert_eq!(summary["alerts_raised"], 2, "{summary}");
    assert_eq!(summary["alerts_suppressed"], 1, "{summary}");
    assert_eq!(summary["alerts_new"], 1, "{summary}");
    assert_eq!(summary["alerts"][0]["DeviceName"], "WS02");
    // The closed incident keeps its verdict.
    let (_, listed, _) = output(vigil(dir.path()).args(["incidents", "--format", "json"]));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let old = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["Number"].as_i64().map(|n| n.to_string()) == Some(number.clone()))
        .unwrap();
    assert_eq!(old["Status"], "Closed");
}

#[test]
fn ingest_with_detect_alerts_as_data_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let data = shared_data();
    let (code, stdout, stderr) = output(
        vigil(dir.path())
            .args([
                "ingest",
                "--quiet",
                "--summary",
                "json",
                "--detect",
                "--rules",
            ])
            .arg(data.join("sigma/rules/windows"))
            .arg(data.join("evtx/attack-samples/Credential Access/CA_DCSync_4662.evtx")),
    );
    assert_eq!(code, 0, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let new = summary["alerts_new"].as_u64().unwrap();
    assert!(new >= 1, "{summary}");
    assert_eq!(
        count(dir.path(), "SELECT count(*) AS n FROM AlertInfo"),
        new
    );
    assert!(
        count(
            dir.path(),
            "SELECT count(*) AS n FROM AlertInfo WHERE Title LIKE '%DcSync%'"
        ) >= 1
    );
    assert!(summary["incidents_updated"].as_u64().unwrap() >= 1);
}
