//! The demo organisation end to end: `vigil demo` builds the lake, the hunt finds every
//! scenario as its ground truth says, the investigation prompts answer with the right
//! facts, and incident reports render (the HTML in headless Chromium).
//!
//! The demo lake is built once per test binary and shared by the tests here (they run as
//! separate processes, so a lock folder decides who builds it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::common::{shared_data, vigil};

/// The end of the demo's fourteen days.
pub(super) const NOW: &str = "2026-03-11T12:00:00Z";

fn binary_stamp() -> u128 {
    std::fs::metadata(env!("CARGO_BIN_EXE_vigil"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

fn run_demo(dir: &Path, extra: &[&str]) -> std::process::Output {
    let rules = shared_data().join("sigma/rules");
    let out = vigil(dir)
        .args(["demo", "--quiet", "--now", NOW, "--rules"])
        .arg(&rules)
        .args(extra)
        .output()
        .expect("vigil demo runs");
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "vigil demo failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The shared demo lake, built by the first test that asks for it.
pub(super) fn demo_lake() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-{}", binary_stamp()));
    let lake = root.join("lake");
    let ready = root.join("ready");
    std::fs::create_dir_all(&root).expect("a folder for the demo lake");
    let lock = root.join("lock");
    let started = Instant::now();
    loop {
        if ready.exists() {
            return lake;
        }
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(_) => {
                // A builder that died leaves its lock; one older than the build can take
                // is taken over.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(900));
                if stale {
                    let _ = std::fs::remove_dir(&lock);
                }
                assert!(
                    started.elapsed() < Duration::from_secs(1200),
                    "waited 20 minutes for another test to build the demo lake"
                );
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&lake);
        let t = Instant::now();
        run_demo(&lake, &[]);
        eprintln!("vigil demo took {:.1} s", t.elapsed().as_secs_f64());
        std::fs::write(&ready, b"").expect("marks the lake ready");
    }
    let _ = std::fs::remove_dir(&lock);
    lake
}

fn truth(lake: &Path) -> Value {
    let text = std::fs::read_to_string(lake.join("demo-source/ground-truth.json"))
        .expect("the demo writes its ground truth");
    serde_json::from_str(&text).expect("the ground truth is JSON")
}

fn scenario<'a>(truth: &'a Value, id: &str) -> &'a Value {
    truth["scenarios"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no scenario {id} in the ground truth"))
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn host(name: &str) -> String {
    name.split('.').next().unwrap_or(name).to_lowercase()
}

fn account(name: &str) -> String {
    // "tamarack\\sam", "sam@tamarack.example" and "sam" are one account.
    let name = name.rsplit('\\').next().unwrap_or(name);
    name.split('@').next().unwrap_or(name).to_lowercase()
}

fn severity_rank(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "informational" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        _ => 4,
    }
}

fn json_of(out: &std::process::Output, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what} is not JSON ({e}): {stdout}"))
}

/// Every incident with its devices, users, tactics and severity.
pub(super) fn incidents(lake: &Path) -> Vec<Value> {
    let out = vigil(lake)
        .args(["incidents", "--format", "json"])
        .output()
        .expect("vigil incidents runs");
    match json_of(&out, "vigil incidents") {
        Value::Array(a) => a,
        other => panic!("incidents are a list: {other}"),
    }
}

fn list_field(incident: &Value, names: &[&str]) -> Vec<String> {
    for n in names {
        let v = &incident[*n];
        if let Some(s) = v.as_str() {
            if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(s) {
                return texts(&Value::Array(a));
            }
            return s
                .split(", ")
                .map(str::to_string)
                .filter(|s| !s.is_empty())
                .collect();
        }
        if v.is_array() {
            return texts(v);
        }
    }
    Vec::new()
}

fn ask(lake: &Path, now: &str, args: &[&str]) -> Value {
    let out = vigil(lake)
        .args(["ask", "--format", "json", "--now", now])
        .args(args)
        .output()
        .expect("vigil ask runs");
    json_of(&out, &format!("vigil ask {args:?}"))
}

fn answer(v: &Value) -> String {
    v["answer"].as_str().unwrap_or("").to_string()
}

fn skill(v: &Value) -> String {
    v["plan"][0]["skill"].as_str().unwrap_or("").to_string()
}

/// The rows of the first table of the first skill call, as objects.
fn rows(v: &Value) -> Vec<Value> {
    let table = &v["skill_calls"][0]["output"]["tables"][0];
    let columns = texts(&table["columns"]);
    table["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let cells = r.as_array().cloned().unwrap_or_default();
                    Value::Object(columns.iter().cloned().zip(cells).collect())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn kql(lake: &Path, query: &str) -> Vec<Value> {
    let out = vigil(lake)
        .args(["query", "--format", "json", query])
        .output()
        .expect("vigil query runs");
    match json_of(&out, query) {
        Value::Array(a) => a,
        other => panic!("query rows are a list: {other}"),
    }
}

#[test]
fn every_scenario_is_found_as_its_ground_truth_says() {
    let lake = demo_lake();
    let truth = truth(&lake);
    let all = incidents(&lake);
    assert!(!all.is_empty(), "the demo hunt made no incident");
    let mut failures = Vec::new();
    for s in truth["scenarios"].as_array().expect("scenarios") {
        for expected in s["expected_incidents"].as_array().into_iter().flatten() {
            let devices: Vec<String> = texts(&expected["devices"])
                .iter()
                .map(|d| host(d))
                .collect();
            let users: Vec<String> = texts(&expected["users"])
                .iter()
                .map(|u| account(u))
                .collect();
            let tactics = texts(&expected["tactics"]);
            let severity = expected["severity"].as_str().unwrap_or("");
            let touching: Vec<&Value> = all
                .iter()
                .filter(|i| {
                    let hosts: Vec<String> = list_field(i, &["Devices", "devices"])
                        .iter()
                        .map(|d| host(d))
                        .collect();
                    devices.iter().any(|d| hosts.contains(d))
                })
                .collect();
            match expected["bound"].as_str() {
                Some("at_most") => {
                    // Only the incidents of this scenario: on its devices and, when it
                    // names users, involving one of them.
                    let mine = touching.iter().filter(|i| {
                        let accounts: Vec<String> = list_field(i, &["Users", "users"])
                            .iter()
                            .map(|u| account(u))
                            .collect();
                        users.is_empty() || users.iter().any(|u| accounts.contains(u))
                    });
                    for i in mine {
                        let sev = i["Severity"].as_str().unwrap_or("");
                        if severity_rank(sev) > severity_rank(severity) {
                            failures.push(format!(
                                "{}: incident {} is {sev}, above {severity}",
                                s["id"], i["IncidentNumber"]
                            ));
                        }
                    }
                }
                _ => {
                    let found = touching.iter().any(|i| {
                        let hosts: Vec<String> = list_field(i, &["Devices", "devices"])
                            .iter()
                            .map(|d| host(d))
                            .collect();
                        let accounts: Vec<String> = list_field(i, &["Users", "users"])
                            .iter()
                            .map(|u| account(u))
                            .collect();
                        let its_tactics = list_field(i, &["Tactics", "tactics"]);
                        let sev = i["Severity"].as_str().unwrap_or("");
                        devices.iter().all(|d| hosts.contains(d))
                            && users.iter().all(|u| accounts.contains(u))
                            && tactics.iter().all(|t| its_tactics.contains(t))
                            && severity_rank(sev) >= severity_rank(severity)
                    });
                    if !found {
                        failures.push(format!(
                            "{}: no incident with devices {devices:?}, users {users:?}, tactics \
                             {tactics:?} at {severity} or above; incidents on those devices: {}",
                            s["id"],
                            serde_json::to_string(&touching).unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The incident of a scenario: the one on its first device.
fn incident_of(all: &[Value], device: &str) -> u64 {
    all.iter()
        .find(|i| {
            list_field(i, &["Devices"])
                .iter()
                .any(|d| host(d) == host(device))
        })
        .and_then(|i| {
            i["Number"]
                .as_u64()
                .or_else(|| i["IncidentNumber"].as_u64())
        })
        .unwrap_or_else(|| panic!("no incident on {device}"))
}

fn count(lake: &Path, query: &str) -> u64 {
    kql(lake, &format!("{query}\n| count"))
        .first()
        .and_then(|r| r["Count"].as_u64())
        .unwrap_or_else(|| panic!("no count from {query}"))
}

fn upper_host(device: &str) -> String {
    host(device).to_uppercase()
}

#[test]
fn the_investigation_prompts_answer_with_the_facts() {
    let lake = demo_lake();
    let truth = truth(&lake);
    let all = incidents(&lake);
    let phishing = scenario(&truth, "phishing-to-ransomware");
    let phish_devices = texts(&phishing["devices"]);
    let phish_no = incident_of(&all, &phish_devices[0]);

    // The incident queue, by severity.
    let high: Vec<u64> = all
        .iter()
        .filter(|i| i["Severity"] == "High")
        .filter_map(|i| i["Number"].as_u64())
        .collect();
    assert!(
        high.contains(&phish_no),
        "the phishing incident is high: {high:?}"
    );
    for prompt in [
        "Show high severity incidents",
        "Show high severity Defender XDR incidents",
    ] {
        let v = ask(&lake, NOW, &[prompt]);
        assert_eq!(skill(&v), "list_incidents", "{prompt}");
        let listed: Vec<u64> = rows(&v)
            .iter()
            .filter_map(|r| r["IncidentNumber"].as_u64())
            .collect();
        assert_eq!(listed.len(), high.len(), "{prompt}: {}", answer(&v));
        assert!(
            listed.iter().all(|n| high.contains(n)),
            "{prompt}: {listed:?} vs {high:?}"
        );
        assert!(
            answer(&v).contains(&format!("#{phish_no}")),
            "{}",
            answer(&v)
        );
    }

    // One incident's story, in kill-chain order.
    let v = ask(&lake, NOW, &[&format!("Summarize incident {phish_no}")]);
    assert_eq!(skill(&v), "summarize_incident");
    let text = answer(&v);
    for d in &phish_devices {
        assert!(text.contains(d.as_str()), "{d} missing from: {text}");
    }
    let at = |words: &str| {
        text.find(words)
            .unwrap_or_else(|| panic!("no {words} in {text}"))
    };
    assert!(at("**Execution**") < at("**Credential Access**"));
    assert!(at("**Credential Access**") < at("**Lateral Movement**"));
    assert!(at("**Lateral Movement**") < at("**Impact**"));

    // The incident investigation promptbook: every step in one session, follow-ups
    // resolved from the earlier steps.
    let out = vigil(&lake)
        .args([
            "promptbook",
            "run",
            "Incident investigation",
            "--format",
            "json",
            "--now",
            NOW,
        ])
        .arg("--input")
        .arg(format!("Incident={phish_no}"))
        .output()
        .expect("vigil promptbook runs");
    let book = json_of(&out, "the incident investigation promptbook");
    let turns = book["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 4, "{book}");
    assert!(
        turns[0]["answer"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("Incident {phish_no} "))
    );
    let device_query = turns[1]["skill_calls"][0]["output"]["evidence"][0]["query"]
        .as_str()
        .unwrap_or("");
    assert!(
        device_query.contains(phish_devices[0].as_str()),
        "{device_query}"
    );
    let looked_up = turns[2]["skill_calls"][0]["step"]["inputs"]["entity"]
        .as_str()
        .unwrap_or("");
    let victim = account(&texts(&phishing["users"])[0]);
    assert_eq!(account(looked_up), victim, "{}", turns[2]);

    // USB copies in the last week: exactly the two devices of the scenario.
    let usb = scenario(&truth, "usb-exfiltration");
    let v = ask(
        &lake,
        NOW,
        &["Which devices copied data to a USB drive in the last week?"],
    );
    let mut found: Vec<String> = rows(&v)
        .iter()
        .filter_map(|r| r["DeviceName"].as_str().map(host))
        .collect();
    found.sort();
    let mut expected: Vec<String> = texts(&usb["devices"]).iter().map(|d| host(d)).collect();
    expected.sort();
    assert_eq!(found, expected, "{}", answer(&v));

    // Expired certificates of the device that has the most.
    let top = kql(
        &lake,
        &format!(
            "DeviceTvmCertificateInfo | where ExpirationDate < datetime({NOW}) \
             | summarize n = dcount(Thumbprint) by DeviceName | top 1 by n desc"
        ),
    );
    let device = top[0]["DeviceName"]
        .as_str()
        .expect("a device with expired certificates");
    let n = top[0]["n"].as_u64().expect("a count");
    let v = ask(
        &lake,
        NOW,
        &[&format!(
            "Generate a KQL query to get the expired certificates for device {}",
            host(device)
        )],
    );
    assert_eq!(rows(&v).len() as u64, n, "{}", answer(&v));
    let query = v["evidence"][0]["query"].as_str().unwrap_or("");
    assert!(
        query.contains("DeviceTvmCertificateInfo") && query.contains("ExpirationDate"),
        "{query}"
    );

    // The five most recent crashes on the device where an application keeps crashing.
    let hotspot = truth["conventions"]["app_crash_hotspot"]
        .as_str()
        .and_then(|s| s.split(':').next())
        .expect("the crash hotspot")
        .to_string();
    let v = ask(
        &lake,
        NOW,
        &[&format!(
            "Show the five most recent app crash events on {hotspot}"
        )],
    );
    let crashes = rows(&v);
    assert_eq!(crashes.len(), 5, "{}", answer(&v));
    let latest = kql(
        &lake,
        &format!(
            "DeviceEvents | where ActionType == 'ApplicationCrash' and DeviceName =~ '{hotspot}' \
             and Timestamp <= datetime({NOW}) | top 5 by Timestamp desc | project Timestamp"
        ),
    );
    let times: Vec<&Value> = crashes.iter().map(|r| &r["Timestamp"]).collect();
    let want: Vec<&Value> = latest.iter().map(|r| &r["Timestamp"]).collect();
    assert_eq!(times, want);

    // Intune: the USB leaver's laptop.
    let laptop = upper_host(&texts(&usb["devices"])[0]);
    let leaver = texts(&usb["users"])[0].clone();
    let v = ask(
        &lake,
        NOW,
        &[&format!("Who is the primary user of {laptop}?")],
    );
    assert_eq!(skill(&v), "device_primary_user");
    assert!(answer(&v).contains(&leaver), "{}", answer(&v));

    let v = ask(&lake, NOW, &[&format!("Which groups is {laptop} in?")]);
    assert_eq!(skill(&v), "device_groups");
    let groups = kql(
        &lake,
        &format!(
            "IntuneGroupMembership | where MemberType == 'Device' and DeviceName =~ '{laptop}' \
             | distinct GroupName | sort by GroupName asc"
        ),
    );
    assert!(!groups.is_empty());
    let listed: Vec<Value> = rows(&v).iter().map(|r| r["GroupName"].clone()).collect();
    let want: Vec<Value> = groups.iter().map(|r| r["GroupName"].clone()).collect();
    assert_eq!(listed, want);

    let v = ask(
        &lake,
        NOW,
        &[&format!("Which managed apps are installed on {laptop}?")],
    );
    assert_eq!(skill(&v), "device_managed_apps");
    let installed = count(
        &lake,
        &format!(
            "IntuneManagedApps | where DeviceName =~ '{laptop}' \
             | summarize arg_max(TimeGenerated, *) by AppId | where InstallState == 'Installed'"
        ),
    );
    assert!(installed > 0);
    assert!(
        answer(&v).starts_with(&format!(
            "{installed} managed apps are installed on {laptop}"
        )),
        "{}",
        answer(&v)
    );

    // Compare the leaver's laptop with the phishing victim's: the group differences must
    // be exactly the groups one has and the other lacks.
    let other = upper_host(&phish_devices[0]);
    let v = ask(
        &lake,
        NOW,
        &[&format!(
            "Compare the configuration of {laptop} and {other}"
        )],
    );
    assert_eq!(skill(&v), "compare_device_configuration");
    let groups_of = |d: &str| -> Vec<String> {
        kql(
            &lake,
            &format!(
                "IntuneGroupMembership | where MemberType == 'Device' and DeviceName =~ '{d}' \
                 | distinct GroupName"
            ),
        )
        .iter()
        .filter_map(|r| r["GroupName"].as_str().map(str::to_string))
        .collect()
    };
    let (ga, gb) = (groups_of(&laptop), groups_of(&other));
    let mut only: Vec<String> = ga
        .iter()
        .filter(|g| !gb.contains(g))
        .chain(gb.iter().filter(|g| !ga.contains(g)))
        .cloned()
        .collect();
    only.sort();
    let mut diff_groups: Vec<String> = rows(&v)
        .iter()
        .filter(|r| r["Area"] == "Group")
        .filter_map(|r| r["Item"].as_str().map(str::to_string))
        .collect();
    diff_groups.sort();
    assert_eq!(diff_groups, only, "{}", answer(&v));
    assert!(answer(&v).contains("differ in"), "{}", answer(&v));

    // What happened on the phishing victim's laptop the day after the attack started.
    let first = all
        .iter()
        .find(|i| i["Number"].as_u64() == Some(phish_no))
        .and_then(|i| i["FirstActivity"].as_str())
        .expect("first activity")
        .to_string();
    let day = &first[..10];
    let next_morning = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .expect("a date")
        .succ_opt()
        .expect("a next day")
        .format("%Y-%m-%dT09:00:00Z")
        .to_string();
    let v = ask(
        &lake,
        &next_morning,
        &[&format!("What happened on {} yesterday?", phish_devices[0])],
    );
    assert_eq!(skill(&v), "nl_to_kql");
    let events: u64 = rows(&v).iter().filter_map(|r| r["Events"].as_u64()).sum();
    let direct = count(
        &lake,
        &format!(
            "union DeviceProcessEvents, DeviceNetworkEvents, DeviceFileEvents, DeviceRegistryEvents, \
             DeviceLogonEvents, DeviceImageLoadEvents, DeviceEvents \
             | where DeviceName =~ '{}' and Timestamp >= datetime({day}) and Timestamp < datetime({day}) + 1d",
            phish_devices[0]
        ),
    );
    assert_eq!(events, direct, "{}", answer(&v));
    assert!(
        answer(&v).starts_with(&format!("{direct} events on {}", phish_devices[0])),
        "{}",
        answer(&v)
    );

    // Failed sign-ins of the sprayed user, then what else that user did.
    let spray = scenario(&truth, "password-spray-mfa-fatigue");
    let upn = texts(&spray["users"])[0].clone();
    let end = spray["last"].as_str().expect("the spray's end").to_string();
    let v = ask(
        &lake,
        &end,
        &[&format!(
            "Show failed sign-ins for {upn} in the last 24 hours"
        )],
    );
    let failed = count(
        &lake,
        &format!(
            "SigninLogs | where UserPrincipalName =~ '{upn}' and ResultType != '0' \
             and Timestamp between (datetime({end}) - 24h .. datetime({end}))"
        ),
    );
    assert!(
        failed >= 10,
        "the spray and MFA fatigue fail many times: {failed}"
    );
    assert!(
        answer(&v).contains(&format!("{failed} failed sign-ins for {upn}")),
        "{}",
        answer(&v)
    );
    let session = v["session"].as_str().expect("a session").to_string();
    let v = ask(
        &lake,
        &end,
        &["--session", &session, "What else did that user do?"],
    );
    assert_eq!(v["turn"], 2);
    let resolved = &v["skill_calls"][0]["grounding"]["references"][0]["resolved"][0]["value"];
    assert_eq!(
        resolved.as_str().map(account),
        Some(account(&upn)),
        "{}",
        v["skill_calls"][0]
    );
    assert!(answer(&v).contains(&upn), "{}", answer(&v));
}

fn chromium() -> PathBuf {
    let found = std::env::var_os("VIGIL_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
        });
    found.unwrap_or_else(|| {
        panic!("the report test opens the HTML in headless Chromium: install it (apt-get install chromium) or set VIGIL_CHROMIUM")
    })
}

#[test]
fn incident_reports_for_both_audiences_render_and_the_chart_draws() {
    let lake = demo_lake();
    let truth = truth(&lake);
    let all = incidents(&lake);
    let phishing = scenario(&truth, "phishing-to-ransomware");
    let devices = texts(&phishing["devices"]);
    let number = incident_of(&all, &devices[0]).to_string();
    let alerts = all
        .iter()
        .find(|i| i["Number"].as_u64().map(|n| n.to_string()) == Some(number.clone()))
        .and_then(|i| i["Alerts"].as_u64())
        .expect("the incident's alert count");

    let report = |args: &[&str]| -> String {
        let out = vigil(&lake)
            .args(["report", "incident", &number])
            .args(args)
            .output()
            .expect("vigil report runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let executive = report(&["--audience", "executive"]);
    let technical = report(&["--audience", "technical"]);
    assert!(executive.contains("**Bottom line:**"), "{executive}");
    assert!(executive.contains("stole passwords"), "{executive}");
    for d in &devices {
        assert!(executive.contains(d.as_str()) && technical.contains(d.as_str()));
    }
    // Plain words for executives: no technique ids, no queries, and much shorter.
    let technique_id = executive.match_indices("T1").any(|(i, _)| {
        let next = &executive.as_bytes()[i + 2..];
        next.len() >= 3 && next[..3].iter().all(u8::is_ascii_digit)
    });
    assert!(!technique_id && !executive.contains("```"), "{executive}");
    assert!(executive.len() * 3 < technical.len());
    for heading in [
        "## ATT&CK mapping",
        "## Entities",
        "## Timeline",
        "## Containment",
        "## Recovery",
        "## Evidence queries",
    ] {
        assert!(
            technical.contains(heading),
            "no {heading} in the technical report"
        );
    }
    let timeline_rows = technical
        .lines()
        .skip_while(|l| !l.starts_with("## Timeline"))
        .take_while(|l| !l.starts_with("## Containment"))
        .filter(|l| l.starts_with("| 20"))
        .count() as u64;
    assert_eq!(timeline_rows, alerts, "one timeline row per alert");
    assert!(technical.contains("T1003.001"), "LSASS dumping is mapped");

    // The HTML page in a real browser: the chart draws one mark per alert and tactic, and
    // nothing goes wrong on the console.
    let dir = tempfile::tempdir().expect("a temp dir");
    let page = dir.path().join("report.html");
    let out = vigil(&lake)
        .args(["report", "incident", &number, "--format", "html", "-o"])
        .arg(&page)
        .output()
        .expect("vigil report runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).expect("the page");
    for fetch in ["src=\"http", "href=\"http", "<link", "@import", "fetch("] {
        assert!(!html.contains(fetch), "the page loads something ({fetch})");
    }
    let browser = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&browser.stdout);
    let log = String::from_utf8_lossy(&browser.stderr);
    assert!(
        dom.contains("data-chart=\"drawn\""),
        "the chart did not draw:\n{log}"
    );
    assert!(!dom.contains("data-errors=\""), "script errors: {dom}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let drawn: u64 = dom
        .split("data-drawn=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("the chart says how many marks it drew");
    assert!(drawn >= alerts, "{drawn} marks for {alerts} alerts");
    assert_eq!(dom.matches("class=\"alert\"").count() as u64, drawn);

    // PDF, printed by the same browser.
    let pdf = dir.path().join("report.pdf");
    let out = vigil(&lake)
        .env("VIGIL_CHROMIUM", chromium())
        .args([
            "report",
            "incident",
            &number,
            "--audience",
            "executive",
            "--format",
            "pdf",
            "-o",
        ])
        .arg(&pdf)
        .output()
        .expect("vigil report runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).expect("the PDF");
    assert!(
        bytes.starts_with(b"%PDF-") && bytes.len() > 5_000,
        "{} bytes",
        bytes.len()
    );

    // The same report from a question.
    let v = ask(
        &lake,
        NOW,
        &[&format!(
            "Create an incident report for incident {number} for executives"
        )],
    );
    assert_eq!(skill(&v), "incident_report");
    let body = v["skill_calls"][0]["output"]["sections"][0]["body"]
        .as_str()
        .unwrap_or("");
    assert!(body.contains("**Bottom line:**"), "{body}");
}

#[test]
fn the_same_seed_gives_the_same_lake_alerts_and_incidents() {
    // Rows cite their source file by path, so both runs use the same folder.
    let dir = tempfile::tempdir().expect("a temp dir");
    let lake = dir.path().join("lake");
    let digests = |dir: &Path| -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.join("tables")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("a table folder").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "parquet") {
                    use sha2::Digest;
                    let bytes = std::fs::read(&p).expect("a Parquet file");
                    let partition = p
                        .parent()
                        .and_then(|d| d.strip_prefix(dir.join("tables")).ok())
                        .map(|r| r.display().to_string())
                        .unwrap_or_default();
                    out.push(format!(
                        "{partition} {}",
                        hex::encode(sha2::Sha256::digest(&bytes))
                    ));
                }
            }
        }
        out.sort();
        out
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let _ = std::fs::remove_dir_all(&lake);
        run_demo(&lake, &["--scale", "0.3"]);
        let alerts = kql(
            &lake,
            "AlertInfo | project AlertId, Title, Timestamp | sort by AlertId asc",
        );
        runs.push((digests(&lake), alerts, incidents(&lake)));
    }
    let (first, second) = (&runs[0], &runs[1]);
    assert!(first.0.len() > 20, "only {} Parquet files", first.0.len());
    let differ: Vec<&String> = first.0.iter().filter(|d| !second.0.contains(d)).collect();
    assert!(
        differ.is_empty(),
        "Parquet files of the first run with no twin in the second: {differ:?}"
    );
    assert_eq!(first.0.len(), second.0.len());
    assert!(!first.1.is_empty(), "the hunt raised no alert");
    assert_eq!(first.1, second.1, "the alerts differ");
    assert_eq!(first.2, second.2, "the incidents differ");
}

#[test]
fn a_chat_session_follows_up_pins_rates_and_exports() {
    use std::io::Write as _;
    let lake = demo_lake();
    let truth = truth(&lake);
    let usb = scenario(&truth, "usb-exfiltration");
    let devices: Vec<String> = texts(&usb["devices"]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let (md, js) = (dir.path().join("chat.md"), dir.path().join("chat.json"));
    let mut child = vigil(&lake)
        .args(["chat", "--now", NOW])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("vigil chat starts");
    let script = format!(
        "Which devices copied data to a USB drive in the last week?\n\
         :pin the two leavers' machines\n\
         Who is the primary user of that device?\n\
         :feedback looks-right matches HR's list\n\
         :nonsense\n\
         :export markdown {}\n\
         :export json {}\n\
         :quit\n",
        md.display(),
        js.display()
    );
    child
        .stdin
        .take()
        .expect("a stdin")
        .write_all(script.as_bytes())
        .expect("the chat reads");
    let out = child.wait_with_output().expect("vigil chat ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for d in &devices {
        assert!(stdout.contains(d.as_str()), "{d} missing:\n{stdout}");
    }
    // "that device" is the first device of the first answer; its user is the leaver.
    assert!(stdout.contains(&texts(&usb["users"])[0]), "{stdout}");
    assert!(stdout.contains("Pinned turn 1."), "{stdout}");
    assert!(stdout.contains("feedback recorded for turn 2"), "{stdout}");
    assert!(stdout.contains("unknown command :nonsense"), "{stdout}");
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(&js).expect("the JSON export"))
            .expect("JSON");
    assert_eq!(
        exported["turns"].as_array().map(Vec::len),
        Some(2),
        "{exported}"
    );
    assert_eq!(
        exported["pins"][0]["note"], "the two leavers' machines",
        "{exported}"
    );
    assert_eq!(
        exported["feedback"][0]["comment"], "matches HR's list",
        "{exported}"
    );
    let markdown = std::fs::read_to_string(&md).expect("the Markdown export");
    assert!(
        markdown.contains("Who is the primary user of that device?"),
        "{markdown}"
    );
    assert!(markdown.contains("the two leavers' machines"), "{markdown}");
}

#[test]
fn the_other_skills_answer_over_the_demo_and_compound_prompts_chain() {
    let lake = demo_lake();
    let truth = truth(&lake);
    let all = incidents(&lake);
    let phishing = scenario(&truth, "phishing-to-ransomware");
    let device = texts(&phishing["devices"])[0].clone();
    let number = incident_of(&all, &device);

    // Describe a table: its columns with their types and meanings.
    let v = ask(&lake, NOW, &["Describe the DeviceProcessEvents table"]);
    assert_eq!(skill(&v), "describe_table");
    let columns: Vec<String> = rows(&v)
        .iter()
        .filter_map(|r| r["Column"].as_str().map(str::to_string))
        .collect();
    for c in [
        "ProcessCommandLine",
        "InitiatingProcessFileName",
        "SHA256",
        "DeviceName",
    ] {
        assert!(columns.iter().any(|x| x == c), "{c} missing: {columns:?}");
    }

    // Hunt with the Sigma rules for LSASS dumping: they fire on the phishing victim.
    let rules = shared_data().join("sigma/rules");
    let v = ask(
        &lake,
        NOW,
        &[
            "--rules",
            rules.to_str().expect("utf-8"),
            "Hunt for T1003.001 with Sigma rules",
        ],
    );
    assert_eq!(skill(&v), "hunt_sigma");
    let text = serde_json::to_string(&v["skill_calls"][0]["output"]).unwrap_or_default();
    assert!(
        text.contains(&device),
        "the LSASS dump on {device} is not found: {}",
        answer(&v)
    );

    // The encoded PowerShell of an alert, decoded from the alert's evidence.
    let alert = kql(
        &lake,
        &format!(
            "AlertInfo | where Title has 'Encoded PowerShell' | join kind=inner \
             (AlertEvidence | where DeviceName =~ '{device}' and isnotempty(ProcessCommandLine)) on AlertId \
             | take 1 | project AlertId"
        ),
    );
    let id = alert[0]["AlertId"]
        .as_str()
        .expect("an encoded PowerShell alert on the victim");
    // A distinct with a limit over a filtered table answers (DataFusion's limited
    // distinct aggregation fails on that shape, so the lake's sessions go without it).
    let distinct = kql(
        &lake,
        &format!(
            "AlertEvidence | where AlertId == '{id}' | distinct AlertId, EntityType | take 10"
        ),
    );
    assert!(
        !distinct.is_empty() && distinct.iter().all(|r| r["AlertId"] == id),
        "{distinct:?}"
    );
    let v = ask(&lake, NOW, &[&format!("Analyze the script in alert {id}")]);
    assert_eq!(skill(&v), "analyze_script", "{}", answer(&v));
    assert!(
        v["skill_calls"][0]["error"].is_null(),
        "{}",
        v["skill_calls"][0]["error"]
    );
    let text = serde_json::to_string(&v["skill_calls"][0]["output"]).unwrap_or_default();
    assert!(
        text.contains("T1059.001"),
        "PowerShell is named: {}",
        answer(&v)
    );

    // Two steps in one prompt: the second refers to the first's device.
    let v = ask(
        &lake,
        NOW,
        &[&format!(
            "Summarize incident {number} and then show the network connections on that device"
        )],
    );
    let calls = v["skill_calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 2, "{}", answer(&v));
    assert_eq!(calls[0]["step"]["skill"], "summarize_incident");
    let query = calls[1]["output"]["evidence"][0]["query"]
        .as_str()
        .unwrap_or("");
    assert!(
        query.contains("DeviceNetworkEvents") && query.contains(&device),
        "{query}"
    );

    // The session it made can be shown again.
    let session = v["session"].as_str().expect("a session");
    let out = vigil(&lake)
        .args(["sessions", "show", session])
        .output()
        .expect("vigil sessions runs");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains(&format!("Summarize incident {number}")),
        "{shown}"
    );
}

#[test]
fn an_assistant_uses_the_skills_over_mcp() {
    use std::io::Write as _;
    let lake = demo_lake();
    let truth = truth(&lake);
    let all = incidents(&lake);
    let device = texts(&scenario(&truth, "phishing-to-ransomware")["devices"])[0].clone();
    let number = incident_of(&all, &device);
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "run_kql", "arguments": {"query": format!("DeviceProcessEvents | where DeviceName =~ '{device}' | count")}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "summarize_incident", "arguments": {"incident": number.to_string()}}}),
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "lookup_entity", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 6, "method": "resources/list"}),
        json!({"jsonrpc": "2.0", "id": 7, "method": "resources/read", "params": {"uri": "vigil://tables/DeviceProcessEvents"}}),
        json!({"jsonrpc": "2.0", "id": 8, "method": "resources/read", "params": {"uri": format!("vigil://incidents/{number}")}}),
        json!({"jsonrpc": "2.0", "id": 9, "method": "no/such/method"}),
    ];
    let mut input: String = messages.iter().map(|m| format!("{m}\n")).collect();
    input.push_str("{not json\n");
    let mut child = vigil(&lake)
        .args(["mcp", "--now", NOW])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("vigil mcp starts");
    child
        .stdin
        .take()
        .expect("a stdin")
        .write_all(input.as_bytes())
        .expect("the server reads");
    let out = child.wait_with_output().expect("vigil mcp ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replies: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // One reply per request; none for the notification; one for the broken line.
    assert_eq!(replies.len(), 10, "{replies:?}");
    let by_id = |id: u64| {
        replies
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no reply {id}"))
    };
    assert_eq!(by_id(1)["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(by_id(1)["result"]["serverInfo"]["name"], "vigil");
    let tools = by_id(2)["result"]["tools"]
        .as_array()
        .expect("tools")
        .clone();
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    for wanted in [
        "run_kql",
        "summarize_incident",
        "lookup_entity",
        "nl_to_kql",
        "analyze_script",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing: {names:?}");
    }
    let run_kql = tools
        .iter()
        .find(|t| t["name"] == "run_kql")
        .expect("run_kql");
    assert_eq!(run_kql["inputSchema"]["required"][0], "query");
    assert_eq!(run_kql["annotations"]["readOnlyHint"], true);
    // The count is the lake's.
    let direct = count(
        &lake,
        &format!("DeviceProcessEvents | where DeviceName =~ '{device}'"),
    );
    let counted = &by_id(3)["result"]["structuredContent"]["tables"][0]["rows"][0][0];
    assert_eq!(counted.as_u64(), Some(direct), "{}", by_id(3));
    let story = by_id(4)["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("");
    assert!(
        story.starts_with(&format!("Incident {number} ")) && story.contains(&device),
        "{story}"
    );
    // A missing input is a tool error the assistant can read.
    assert_eq!(by_id(5)["result"]["isError"], true, "{}", by_id(5));
    assert!(
        by_id(5)["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("entity")
    );
    let resources = by_id(6)["result"]["resources"]
        .as_array()
        .expect("resources");
    assert!(resources.iter().any(|r| r["uri"] == "vigil://incidents"));
    assert!(
        resources
            .iter()
            .any(|r| r["uri"] == "vigil://tables/SigninLogs")
    );
    let table: Value = serde_json::from_str(
        by_id(7)["result"]["contents"][0]["text"]
            .as_str()
            .unwrap_or(""),
    )
    .expect("a table as JSON");
    assert!(
        table["columns"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "ProcessCommandLine"))
    );
    assert!(
        by_id(8)["result"]["contents"][0]["text"]
            .as_str()
            .unwrap_or("")
            .contains(&device)
    );
    assert_eq!(by_id(9)["error"]["code"], -32601);
    assert!(
        replies
            .iter()
            .any(|r| r["id"].is_null() && r["error"]["code"] == -32700)
    );
}

#[test]
fn an_imported_security_copilot_promptbook_runs_over_the_demo() {
    let lake = demo_lake();
    let all = incidents(&lake);
    let number = all[0]["Number"].as_u64().expect("an incident");
    // A Security Copilot promptbook export, imported into the demo lake (an import of the
    // same name replaces the earlier one).
    let dir = tempfile::tempdir().expect("a temp dir");
    let export = dir.path().join("triage.json");
    std::fs::write(
        &export,
        json!({
            "name": "Quick triage",
            "description": "Summarize an incident, then its devices' activity",
            "prompts": [
                {"content": "What happened on that device?", "sequenceNumber": 2},
                {"content": "Summarize incident <IncidentId>", "sequenceNumber": 1},
            ],
            "promptbookinputs": [{"name": "IncidentId", "description": "The incident number"}],
        })
        .to_string(),
    )
    .expect("writes the export");
    let run = |args: &[&str]| {
        let out = vigil(&lake).args(args).output().expect("vigil runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["promptbook", "import", export.to_str().expect("utf-8")]);
    let listed = run(&["promptbook", "list"]);
    assert!(listed.contains("Quick triage"), "{listed}");
    let shown = run(&["promptbook", "show", "Quick triage"]);
    assert!(
        shown.find("Summarize incident <IncidentId>") < shown.find("What happened on that device?"),
        "{shown}"
    );
    let out = run(&[
        "promptbook",
        "run",
        "Quick triage",
        "--format",
        "json",
        "--now",
        NOW,
        "--input",
        &format!("IncidentId={number}"),
    ]);
    let book: Value = serde_json::from_str(&out).expect("JSON");
    let turns = book["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 2);
    assert_eq!(
        turns[0]["skill_calls"][0]["step"]["skill"],
        "summarize_incident"
    );
    let exported = dir.path().join("back.yaml");
    run(&[
        "promptbook",
        "export",
        "Quick triage",
        "-o",
        exported.to_str().expect("utf-8"),
    ]);
    let yaml = std::fs::read_to_string(&exported).expect("the export");
    assert!(
        yaml.contains("name: \"Quick triage\"") && yaml.contains("IncidentId"),
        "{yaml}"
    );
}

/// One HTTP/1.1 request on loopback; returns the status and the body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).expect("the server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a timeout");
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if body.is_some() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!(
        "Content-Length: {}\r\n\r\n{payload}",
        payload.len()
    ));
    stream.write_all(request.as_bytes()).expect("sends");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reads the response");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Starts `vigil serve` with `extra` arguments on a free loopback port; returns the
/// process, the address and what it said before listening. What it says afterwards is
/// read and dropped, so it never blocks on a full pipe.
pub(super) fn serve(lake: &Path, extra: &[&str]) -> (std::process::Child, String, Vec<String>) {
    use std::io::BufRead as _;
    let mut child = vigil(lake)
        .args(["serve", "--listen", "127.0.0.1:0", "--now", NOW])
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("vigil serve starts");
    let stderr = child.stderr.take().expect("a stderr");
    let mut said = Vec::new();
    let mut lines = std::io::BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .expect("the server says where it listens")
            .expect("a line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or("").to_string();
            std::thread::spawn(move || for _ in lines {});
            return (child, addr, said);
        }
        said.push(line);
    }
}

pub(super) fn users(lake: &Path, args: &[&str]) -> String {
    let out = vigil(lake)
        .arg("users")
        .args(args)
        .output()
        .expect("vigil users runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_first_start_makes_an_admin_with_a_token_shown_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (mut child, addr, said) = serve(dir.path(), &[]);
    let said = said.join("\n");
    let token = said
        .split("API token (only its hash is kept): ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the first start shows a token")
        .to_string();
    assert!(said.contains("password: "), "{said}");
    let (status, _) = http(&addr, "GET", "/api/tables", Some(&token), None);
    assert_eq!(status, 200);
    let _ = child.kill();
    let _ = child.wait();
    // Only hashes are kept, and a second start makes nothing new.
    let db = std::fs::read(dir.path().join("vigil.db")).expect("the SQLite file");
    assert!(
        !String::from_utf8_lossy(&db).contains(&token),
        "the token is stored as it is"
    );
    let (mut child, _, said) = serve(dir.path(), &[]);
    assert!(!said.join(" ").contains("API token"), "{said:?}");
    let _ = child.kill();
    let _ = child.wait();
    assert!(users(dir.path(), &["list"]).contains("admin"));
}

#[test]
fn the_rest_api_and_mcp_over_http_answer_with_a_token() {
    let lake = demo_lake();
    // Accounts of this run (names unique, as the lake is shared between runs).
    let me = std::process::id();
    let (analyst, reader) = (format!("analyst-{me}"), format!("reader-{me}"));
    users(&lake, &["add", &analyst, "--role", "analyst"]);
    users(&lake, &["add", &reader, "--role", "reader"]);
    let token = users(&lake, &["token", &analyst]);
    let reader_token = users(&lake, &["token", &reader]);
    assert!(users(&lake, &["list"]).contains(&analyst));
    let (mut child, addr, _) = serve(&lake, &[]);
    let t = Some(token.as_str());
    let (status, body) = http(&addr, "GET", "/api/health", None, None);
    assert_eq!(status, 200, "{body}");
    // Without the token nothing else answers, and the error has a stable code.
    let (status, body) = http(&addr, "GET", "/api/skills", None, None);
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON")["error"]["code"],
        "unauthenticated"
    );
    let (status, _) = http(&addr, "GET", "/api/skills", Some("vgl_wrong"), None);
    assert_eq!(status, 401);

    let (status, body) = http(&addr, "GET", "/api/openapi.json", None, None);
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).expect("the OpenAPI document");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/ask"]["post"].is_object());

    let (status, body) = http(&addr, "GET", "/api/skills", t, None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"summarize_incident\""));

    let (status, body) = http(
        &addr,
        "POST",
        "/api/ask",
        t,
        Some(&json!({"prompt": "Show high severity incidents"})),
    );
    assert_eq!(status, 200, "{body}");
    let turn: Value = serde_json::from_str(&body).expect("a turn");
    let high = incidents(&lake)
        .iter()
        .filter(|i| i["Severity"] == "High")
        .count();
    assert!(
        turn["answer"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("{high} high severity incidents")),
        "{turn}"
    );

    let (status, body) = http(
        &addr,
        "POST",
        "/api/query",
        t,
        Some(&json!({"query": "SigninLogs | count"})),
    );
    assert_eq!(status, 200, "{body}");
    let direct = count(&lake, "SigninLogs");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("rows")["rows"][0][0].as_u64(),
        Some(direct)
    );
    let (status, body) = http(
        &addr,
        "POST",
        "/api/query",
        t,
        Some(&json!({"query": "SigninLog | count"})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON")["error"]["code"],
        "bad_query"
    );

    let (status, body) = http(
        &addr,
        "POST",
        "/api/skills/describe_table",
        t,
        Some(&json!({"inputs": {"table": "DeviceInfo"}})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("MachineGroup"));
    let (status, body) = http(&addr, "GET", "/api/incidents?severity=High", t, None);
    assert_eq!(status, 200, "{body}");
    let rows = serde_json::from_str::<Value>(&body).expect("JSON")["incidents"]["rows"]
        .as_array()
        .map(Vec::len);
    assert_eq!(rows, Some(high));

    let (status, body) = http(
        &addr,
        "POST",
        "/mcp",
        t,
        Some(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        serde_json::from_str::<Value>(&body).expect("JSON-RPC")["result"]["tools"]
            .as_array()
            .is_some_and(|t| t.len() > 8)
    );
    let (status, _) = http(
        &addr,
        "POST",
        "/mcp",
        t,
        Some(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
    );
    assert_eq!(status, 202);
    // A reader reads but does not ask; a removed account's token stops working.
    let r = Some(reader_token.as_str());
    let (status, _) = http(&addr, "GET", "/api/incidents", r, None);
    assert_eq!(status, 200);
    let (status, body) = http(
        &addr,
        "POST",
        "/api/ask",
        r,
        Some(&json!({"prompt": "List open incidents"})),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON")["error"]["code"],
        "forbidden"
    );
    users(&lake, &["remove", &reader]);
    let (status, _) = http(&addr, "GET", "/api/incidents", r, None);
    assert_eq!(status, 401);
    users(&lake, &["remove", &analyst]);
    let _ = child.kill();
    let _ = child.wait();
}
