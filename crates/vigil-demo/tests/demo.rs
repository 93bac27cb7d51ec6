//! The demo generator, checked on its own output: determinism, the catalog shape of
//! every row, volumes and the daily rhythm, and the ground truth against the rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Map, Value};
use vigil_demo::{DemoBuilder, GROUND_TRUTH_FILE, GroundTruth, Summary};
use vigil_schema::{Catalog, KqlType};

const NOW: &str = "2026-03-11T12:00:00Z";

fn now() -> DateTime<Utc> {
    NOW.parse().expect("a valid constant")
}

/// A fresh folder of this test process (tests run as separate processes, at once).
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

type Rows = BTreeMap<String, Vec<Map<String, Value>>>;

/// The default demo, generated once for all tests, and its rows by table.
fn demo() -> &'static (Summary, Rows, GroundTruth) {
    static DEMO: OnceLock<(Summary, Rows, GroundTruth)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = out_dir("demo-default");
        let summary = DemoBuilder::new(now())
            .generate(&dir)
            .expect("generation works");
        let mut rows = Rows::new();
        for file in &summary.files {
            let table = file.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(file).unwrap();
            let parsed = text
                .lines()
                .map(|l| match serde_json::from_str::<Value>(l) {
                    Ok(Value::Object(m)) => m,
                    other => panic!("{table}: not a JSON object: {other:?}"),
                })
                .collect();
            rows.insert(table, parsed);
        }
        let truth: GroundTruth =
            serde_json::from_str(&std::fs::read_to_string(dir.join(GROUND_TRUTH_FILE)).unwrap())
                .expect("the ground truth reads back");
        // Everything is in memory now.
        let _ = std::fs::remove_dir_all(&dir);
        (summary, rows, truth)
    })
}

fn rows(table: &str) -> &'static [Map<String, Value>] {
    demo().1.get(table).map(Vec::as_slice).unwrap_or(&[])
}

fn s<'a>(row: &'a Map<String, Value>, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or("")
}

fn time(row: &Map<String, Value>) -> DateTime<Utc> {
    s(row, "Timestamp")
        .parse()
        .or_else(|_| s(row, "TimeGenerated").parse())
        .expect("every row has a time")
}

fn truth() -> &'static GroundTruth {
    &demo().2
}

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.insert(
            path.file_name().unwrap().to_string_lossy().to_string(),
            std::fs::read(&path).unwrap(),
        );
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_other_data() {
    let a = out_dir("det-a");
    let b = out_dir("det-b");
    let c = out_dir("det-c");
    let build = |seed| DemoBuilder::new(now()).seed(seed).scale(0.2);
    build(11).generate(&a).unwrap();
    build(11).generate(&b).unwrap();
    build(12).generate(&c).unwrap();
    let (fa, fb, fc) = (files_of(&a), files_of(&b), files_of(&c));
    assert!(fa.len() > 20, "{} files", fa.len());
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(
            bytes == &fb[name],
            "{name} differs between two runs with the same seed"
        );
    }
    assert_ne!(
        fa["DeviceProcessEvents.ndjson"],
        fc["DeviceProcessEvents.ndjson"]
    );
    assert_ne!(fa[GROUND_TRUTH_FILE], fc[GROUND_TRUTH_FILE]);
    for dir in [a, b, c] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_scale_out_of_range_is_refused() {
    let err = DemoBuilder::new(now())
        .scale(0.0)
        .generate(&out_dir("bad-scale"));
    assert!(matches!(err, Err(vigil_demo::Error::Scale(_))));
}

#[test]
fn every_row_has_only_catalog_columns_of_the_right_json_type() {
    let catalog = Catalog::builtin();
    let start = now() - chrono::Duration::days(14);
    for (table, list) in &demo().1 {
        let t = catalog
            .table(table)
            .unwrap_or_else(|| panic!("{table} is not in the catalog"));
        for row in list {
            assert_eq!(s(row, "Type"), table, "every row names its table");
            for (key, value) in row {
                // `Type` routes the row at ingest; tables outside Sentinel may lack it.
                if key == "Type" && t.column(key).is_none() {
                    continue;
                }
                let column = t
                    .column(key)
                    .unwrap_or_else(|| panic!("{table}.{key} is not a catalog column"));
                let ok = match column.kql_type {
                    KqlType::DateTime => {
                        let text = value.as_str().unwrap_or("");
                        text.ends_with('Z') && text.parse::<DateTime<Utc>>().is_ok()
                    }
                    KqlType::Bool => value.is_boolean(),
                    KqlType::Long | KqlType::Int => value.is_i64(),
                    KqlType::Real | KqlType::Decimal => value.is_number(),
                    KqlType::Dynamic => true,
                    _ => value.is_string(),
                };
                assert!(ok, "{table}.{key} ({:?}) holds {value}", column.kql_type);
            }
            let t = time(row);
            assert!(
                t >= start - chrono::Duration::days(1) && t < now(),
                "{table} row at {t}"
            );
        }
    }
}

#[test]
fn every_table_the_scenarios_need_has_rows_and_the_volume_is_modest() {
    let summary = &demo().0;
    for table in [
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "DeviceFileEvents",
        "DeviceRegistryEvents",
        "DeviceLogonEvents",
        "DeviceImageLoadEvents",
        "DeviceEvents",
        "DeviceInfo",
        "DeviceNetworkInfo",
        "DeviceTvmSoftwareInventory",
        "DeviceTvmSoftwareVulnerabilities",
        "DeviceTvmCertificateInfo",
        "IdentityInfo",
        "SigninLogs",
        "AADNonInteractiveUserSignInLogs",
        "AuditLogs",
        "EmailEvents",
        "EmailAttachmentInfo",
        "EmailUrlInfo",
        "UrlClickEvents",
        "SecurityEvent",
        "IntuneDevices",
        "IntuneManagedApps",
        "IntuneDeviceConfiguration",
        "IntuneGroupMembership",
    ] {
        assert!(
            summary.rows.get(table).copied().unwrap_or(0) > 20,
            "{table}: {:?}",
            summary.rows.get(table)
        );
    }
    let total = summary.total_rows();
    assert!((100_000..=200_000).contains(&total), "{total} rows");
    let truth = truth();
    assert_eq!(
        truth.organisation.users,
        rows("IdentityInfo")
            .iter()
            .map(|r| s(r, "AccountUpn"))
            .collect::<BTreeSet<_>>()
            .len()
    );
    assert!(truth.organisation.users >= 200);
    assert!(
        (48..=56).contains(&truth.organisation.windows_devices),
        "{}",
        truth.organisation.windows_devices
    );
    assert!(truth.organisation.linux_devices >= 3);
}

#[test]
fn work_follows_office_hours_and_weekends_are_quiet() {
    let mut office = 0;
    let mut night = 0;
    let mut weekday = 0;
    let mut weekend = 0;
    for row in rows("DeviceProcessEvents")
        .iter()
        .filter(|r| s(r, "DeviceName").starts_with("tre-lt-"))
    {
        // The company works on Central European time (UTC+1).
        let local = time(row) + chrono::Duration::hours(1);
        let hour = local.hour();
        let is_weekend = matches!(local.format("%a").to_string().as_str(), "Sat" | "Sun");
        if is_weekend {
            weekend += 1
        } else {
            weekday += 1
        }
        if !is_weekend && (9..17).contains(&hour) {
            office += 1;
        } else if hour < 6 {
            night += 1;
        }
    }
    // Eight office hours against six night hours: the office hours must be far busier.
    assert!(office > 5 * night, "office {office}, night {night}");
    // Four weekend days against ten weekdays in the window.
    assert!(
        weekday > 5 * weekend,
        "weekday {weekday}, weekend {weekend}"
    );
}

#[test]
fn every_scenario_is_where_and_when_the_ground_truth_says() {
    let truth = truth();
    let ids: Vec<&str> = truth.scenarios.iter().map(|s| s.id.as_str()).collect();
    for id in [
        "phishing-to-ransomware",
        "usb-exfiltration",
        "password-spray-mfa-fatigue",
        "kerberoasting",
        "exposed-vulnerable-server",
        "benign-admin-psexec",
        "benign-nightly-backup",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for sc in &truth.scenarios {
        let first: DateTime<Utc> = sc.first.parse().unwrap();
        let last: DateTime<Utc> = sc.last.parse().unwrap();
        assert!(first <= last && last < now(), "{}", sc.id);
        assert!(!sc.steps.is_empty() && !sc.tables.is_empty(), "{}", sc.id);
        for dev in &sc.devices {
            let seen = sc.tables.iter().any(|t| {
                rows(t).iter().any(|r| {
                    let name = if t == "SecurityEvent" {
                        s(r, "Computer")
                    } else {
                        s(r, "DeviceName")
                    };
                    let at = time(r);
                    name.eq_ignore_ascii_case(dev)
                        && (at >= first && at <= last
                            || t.starts_with("DeviceTvm")
                            || t == "DeviceInfo")
                })
            });
            assert!(
                seen,
                "{}: {dev} has no row in {:?} between {first} and {last}",
                sc.id, sc.tables
            );
        }
        for step in &sc.steps {
            let at: DateTime<Utc> = step.time.parse().unwrap();
            assert!(at >= first && at <= last, "{}: step at {at}", sc.id);
        }
        if sc.malicious {
            assert!(
                !sc.techniques.is_empty() && !sc.tactics.is_empty(),
                "{}",
                sc.id
            );
        }
    }
}

fn b64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

#[test]
fn the_phishing_chain_is_in_the_rows() {
    let sc = truth().scenario("phishing-to-ransomware").unwrap();
    let (laptop, fs) = (&sc.devices[0], &sc.devices[1]);
    let procs: Vec<_> = rows("DeviceProcessEvents")
        .iter()
        .filter(|r| s(r, "DeviceName") == laptop)
        .collect();
    let ps = procs
        .iter()
        .find(|r| {
            s(r, "InitiatingProcessFileName") == "WINWORD.EXE"
                && s(r, "FileName") == "powershell.exe"
        })
        .expect("Word starts PowerShell");
    let word = procs
        .iter()
        .find(|r| s(r, "FileName") == "WINWORD.EXE" && r["ProcessId"] == ps["InitiatingProcessId"])
        .expect("the parent Word process was created");
    assert_eq!(s(word, "InitiatingProcessFileName"), "OUTLOOK.EXE");
    let cmd = s(ps, "ProcessCommandLine");
    let encoded = cmd.split("-Enc ").nth(1).expect("an encoded command");
    assert!(encoded.starts_with("JAB"));
    let bytes = b64_decode(encoded);
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let script = String::from_utf16(&units).unwrap();
    assert!(
        script.contains("static-cdn-sync.example") && script.contains("DownloadFile"),
        "{script}"
    );

    // Beaconing: many connections to one address at about five-minute intervals.
    let mut beacons: Vec<i64> = rows("DeviceNetworkEvents")
        .iter()
        .filter(|r| s(r, "DeviceName") == laptop && s(r, "RemoteIP") == "198.51.100.23")
        .map(|r| time(r).timestamp())
        .collect();
    beacons.sort_unstable();
    assert!(beacons.len() > 150, "{} beacons", beacons.len());
    let mut gaps: Vec<i64> = beacons
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|g| *g < 3600)
        .collect();
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    assert!((270..=330).contains(&median), "median gap {median} s");
    assert!(sc.ips.contains(&"198.51.100.23".to_string()));

    let lsass = rows("DeviceEvents")
        .iter()
        .find(|r| s(r, "DeviceName") == laptop && s(r, "ActionType") == "OpenProcessApiCall")
        .expect("LSASS is opened");
    assert_eq!(s(lsass, "FileName"), "lsass.exe");
    assert_eq!(s(lsass, "InitiatingProcessFileName"), "rundll32.exe");
    assert!(
        procs
            .iter()
            .any(|r| s(r, "ProcessCommandLine").contains("comsvcs.dll, MiniDump"))
    );

    // Lateral movement and the ransomware precursors on the file server.
    let laptop_ip = &sc.ips[2];
    assert!(
        rows("DeviceLogonEvents")
            .iter()
            .any(|r| s(r, "DeviceName") == fs
                && s(r, "LogonType") == "Network"
                && s(r, "RemoteIP") == laptop_ip
                && s(r, "AccountName").starts_with("adm."))
    );
    let on_fs: Vec<&str> = rows("DeviceProcessEvents")
        .iter()
        .filter(|r| s(r, "DeviceName") == fs)
        .map(|r| s(r, "ProcessCommandLine"))
        .collect();
    for needle in [
        "vssadmin  delete shadows /all /quiet",
        "wmic  shadowcopy delete",
        "recoveryenabled no",
    ] {
        assert!(on_fs.iter().any(|c| c.contains(needle)), "{needle}");
    }
    assert!(
        rows("DeviceProcessEvents")
            .iter()
            .any(|r| s(r, "DeviceName") == fs
                && s(r, "FileName") == "cmd.exe"
                && s(r, "InitiatingProcessFileName") == "PSEXESVC.exe")
    );
    let mail = rows("EmailAttachmentInfo")
        .iter()
        .find(|r| s(r, "FileName") == "INV-20931.docm")
        .expect("the attachment");
    assert!(
        rows("DeviceFileEvents")
            .iter()
            .any(|r| s(r, "DeviceName") == laptop && s(r, "SHA256") == s(mail, "SHA256")),
        "the file on disk is the attachment"
    );
    assert!(
        sc.expected_incidents
            .iter()
            .any(|i| i.severity == "High" && i.devices.len() == 2)
    );
}

#[test]
fn the_spray_hits_many_accounts_from_one_address_then_mfa_fatigue_and_impossible_travel() {
    let sc = truth().scenario("password-spray-mfa-fatigue").unwrap();
    let victim = &sc.users[0];
    let ip = "203.0.113.77";
    let signins = rows("SigninLogs");
    let from_ip: Vec<_> = signins.iter().filter(|r| s(r, "IPAddress") == ip).collect();
    let sprayed: BTreeSet<&str> = from_ip
        .iter()
        .filter(|r| s(r, "ResultType") == "50126")
        .map(|r| s(r, "UserPrincipalName"))
        .collect();
    assert!(sprayed.len() >= 50, "{} accounts", sprayed.len());
    let right: Vec<&str> = from_ip
        .iter()
        .filter(|r| s(r, "ResultType") == "50074")
        .map(|r| s(r, "UserPrincipalName"))
        .collect();
    assert_eq!(right, vec![victim.as_str()]);
    let mut fatigue: Vec<_> = from_ip
        .iter()
        .filter(|r| {
            s(r, "UserPrincipalName") == victim && matches!(s(r, "ResultType"), "500121" | "0")
        })
        .collect();
    fatigue.sort_by_key(|r| time(r));
    let denied = fatigue
        .iter()
        .take_while(|r| s(r, "ResultType") == "500121")
        .count();
    assert!(
        denied >= 10 && denied < fatigue.len(),
        "{denied} denied pushes before a success"
    );
    let office = signins.iter().filter(|r| {
        s(r, "UserPrincipalName") == victim && s(r, "ResultType") == "0" && s(r, "Location") != "SG"
    });
    let far: Vec<_> = fatigue
        .iter()
        .filter(|r| s(r, "ResultType") == "0")
        .map(|r| time(r))
        .collect();
    let travel = office
        .into_iter()
        .any(|r| far.iter().any(|t| (*t - time(r)).num_minutes().abs() <= 30));
    assert!(
        travel,
        "a success from the office and one from Singapore within 30 minutes"
    );
    // Nobody else is sprayed from other addresses.
    assert!(
        signins
            .iter()
            .filter(|r| s(r, "ResultType") == "50126")
            .all(|r| s(r, "IPAddress") == ip
                || s(r, "UserPrincipalName").ends_with("@tamarack.example"))
    );
}

#[test]
fn the_usb_copies_go_to_a_removable_drive_on_two_devices() {
    let sc = truth().scenario("usb-exfiltration").unwrap();
    assert_eq!(sc.devices.len(), 2);
    let sam = sc.users[0].split('@').next().unwrap();
    for dev in &sc.devices {
        let mounted = rows("DeviceEvents")
            .iter()
            .find(|r| s(r, "DeviceName") == dev && s(r, "ActionType") == "UsbDriveMounted")
            .expect("a USB mount");
        let extra: Value = serde_json::from_str(s(mounted, "AdditionalFields")).unwrap();
        assert_eq!(extra["DriveLetter"], "E:");
        let copies = rows("DeviceFileEvents")
            .iter()
            .filter(|r| {
                s(r, "DeviceName") == dev
                    && s(r, "ActionType") == "FileCreated"
                    && s(r, "FolderPath").starts_with("E:\\")
                    && s(r, "InitiatingProcessAccountName") == sam
            })
            .count();
        assert!(copies >= 30, "{dev}: {copies} files copied");
    }
    // Nothing else in the data copies files to a removable drive.
    let others = rows("DeviceFileEvents")
        .iter()
        .filter(|r| {
            s(r, "FolderPath").starts_with("E:\\")
                && !sc.devices.contains(&s(r, "DeviceName").to_string())
                && s(r, "DeviceName") != "tre-bkp01.tamarack.example"
        })
        .count();
    assert_eq!(others, 0);
}

#[test]
fn kerberoasting_asks_for_rc4_tickets_of_every_spn_from_one_address() {
    let sc = truth().scenario("kerberoasting").unwrap();
    let rc4: Vec<Value> = rows("SecurityEvent")
        .iter()
        .filter(|r| r["EventID"] == 4769)
        .map(|r| serde_json::from_str(s(r, "EventData")).unwrap())
        .filter(|d: &Value| d["TicketEncryptionType"] == "0x17")
        .collect();
    let services: BTreeSet<&str> = rc4
        .iter()
        .filter_map(|d| d["ServiceName"].as_str())
        .collect();
    let sources: BTreeSet<&str> = rc4.iter().filter_map(|d| d["IpAddress"].as_str()).collect();
    assert!(services.len() >= 5, "{services:?}");
    assert_eq!(sources.len(), 1, "one source address: {sources:?}");
    assert!(sources.iter().next().unwrap().ends_with(&sc.ips[0]));
    assert!(
        rows("DeviceProcessEvents")
            .iter()
            .any(|r| s(r, "DeviceName") == sc.devices[0]
                && s(r, "ProcessCommandLine").contains("kerberoast"))
    );
}

#[test]
fn the_exposed_server_runs_a_known_exploited_version() {
    let sc = truth().scenario("exposed-vulnerable-server").unwrap();
    let dev = &sc.devices[0];
    let info = rows("DeviceInfo")
        .iter()
        .rfind(|r| s(r, "DeviceName") == dev)
        .expect("inventory");
    assert_eq!(info["IsInternetFacing"], true);
    assert_eq!(s(info, "ExposureLevel"), "High");
    let cves: BTreeSet<&str> = rows("DeviceTvmSoftwareVulnerabilities")
        .iter()
        .filter(|r| s(r, "DeviceName") == dev)
        .map(|r| s(r, "CveId"))
        .collect();
    assert!(cves.contains("CVE-2022-26134"), "{cves:?}");
    let kev_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/intel/kev/known_exploited_vulnerabilities.json");
    let kev = std::fs::read_to_string(&kev_path)
        .unwrap_or_else(|e| panic!("the KEV catalog is needed at {}: {e}", kev_path.display()));
    let kev: Value = serde_json::from_str(&kev).unwrap();
    let listed: BTreeSet<&str> = kev["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["cveID"].as_str())
        .collect();
    assert!(listed.contains("CVE-2022-26134"));
    // Every CVE in the data is a real, well-formed id, and several are known exploited.
    let all: BTreeSet<&str> = rows("DeviceTvmSoftwareVulnerabilities")
        .iter()
        .map(|r| s(r, "CveId"))
        .collect();
    assert!(all.iter().all(|c| c.starts_with("CVE-20") && c.len() >= 13));
    assert!(
        all.iter().filter(|c| listed.contains(*c)).count() >= 3,
        "{all:?}"
    );
}

#[test]
fn some_certificates_are_expired_and_most_are_not() {
    let certs = rows("DeviceTvmCertificateInfo");
    let expired = certs
        .iter()
        .filter(|r| s(r, "ExpirationDate").parse::<DateTime<Utc>>().unwrap() < now())
        .count();
    assert!(
        expired >= 5 && expired * 3 < certs.len(),
        "{expired} of {}",
        certs.len()
    );
    for r in certs {
        assert!(s(r, "IssueDate") < s(r, "ExpirationDate"));
        assert_eq!(s(r, "Thumbprint").len(), 40);
    }
}

#[test]
fn the_benign_psexec_is_an_admin_from_the_paw_without_stolen_credentials() {
    let sc = truth().scenario("benign-admin-psexec").unwrap();
    assert!(!sc.malicious);
    let px = rows("DeviceProcessEvents")
        .iter()
        .find(|r| s(r, "DeviceName") == sc.devices[0] && s(r, "FileName") == "PsExec64.exe")
        .expect("PsExec on the PAW");
    let cmd = s(px, "ProcessCommandLine");
    assert!(!cmd.contains(" -s ") && !cmd.contains(" -p "), "{cmd}");
    assert!(s(px, "AccountName").starts_with("adm."));
    assert!(
        sc.expected_incidents
            .iter()
            .all(|i| i.bound == "at_most" && i.severity != "High")
    );
    let backup = truth().scenario("benign-nightly-backup").unwrap();
    let copies = rows("DeviceFileEvents")
        .iter()
        .filter(|r| {
            s(r, "DeviceName") == backup.devices[1] && s(r, "RequestAccountName") == "svc_backup"
        })
        .count();
    assert!(copies > 300, "{copies} files backed up");
}

#[test]
fn managed_devices_have_apps_settings_and_groups() {
    let devices: BTreeSet<&str> = rows("IntuneDevices")
        .iter()
        .map(|r| s(r, "DeviceName"))
        .collect();
    assert!(devices.len() >= 48);
    for table in ["IntuneManagedApps", "IntuneDeviceConfiguration"] {
        let covered: BTreeSet<&str> = rows(table).iter().map(|r| s(r, "DeviceName")).collect();
        assert_eq!(covered, devices, "{table} covers every enrolled device");
    }
    let grouped: BTreeSet<&str> = rows("IntuneGroupMembership")
        .iter()
        .filter(|r| s(r, "MemberType") == "Device")
        .map(|r| s(r, "DeviceName"))
        .collect();
    assert_eq!(grouped, devices);
    // The leaver's laptop may write to USB drives, the phishing victim's may not.
    let usb = truth().scenario("usb-exfiltration").unwrap();
    let host = usb.devices[0].split('.').next().unwrap().to_uppercase();
    let setting = rows("IntuneDeviceConfiguration")
        .iter()
        .find(|r| {
            s(r, "DeviceName") == host && s(r, "SettingName") == "Removable storage write access"
        })
        .unwrap();
    assert_eq!(s(setting, "SettingValue"), "Allowed");
    // A primary user in Intune matches the one DeviceInfo names.
    let info = rows("DeviceInfo")
        .iter()
        .find(|r| s(r, "DeviceName") == usb.devices[0])
        .unwrap();
    let extra: Value = serde_json::from_str(s(info, "AdditionalFields")).unwrap();
    assert_eq!(extra["PrimaryUser"], usb.users[0].as_str());
}

#[test]
fn application_crashes_come_with_werfault_and_cluster_on_one_device() {
    let hotspot = truth().conventions["app_crash_hotspot"]
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let crashes: Vec<_> = rows("DeviceEvents")
        .iter()
        .filter(|r| s(r, "ActionType") == "ApplicationCrash")
        .collect();
    let on_hotspot = crashes
        .iter()
        .filter(|r| s(r, "DeviceName") == hotspot)
        .count();
    assert!(on_hotspot >= 5, "{on_hotspot} crashes on {hotspot}");
    for c in &crashes {
        let extra: Value = serde_json::from_str(s(c, "AdditionalFields")).unwrap();
        assert_eq!(extra["FaultingApplicationName"], s(c, "FileName"));
        let pid = c["ProcessId"].as_i64().unwrap();
        let wer = rows("DeviceProcessEvents").iter().any(|p| {
            s(p, "DeviceName") == s(c, "DeviceName")
                && s(p, "FileName") == "WerFault.exe"
                && s(p, "ProcessCommandLine").contains(&format!("-p {pid} "))
                && p["InitiatingProcessId"] == c["ProcessId"]
        });
        assert!(
            wer,
            "no WerFault for the crash of {pid} on {}",
            s(c, "DeviceName")
        );
    }
}
