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
