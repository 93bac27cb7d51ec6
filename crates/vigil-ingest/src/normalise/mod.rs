//! Windows events into catalog tables.
//!
//! Every event keeps its raw form: Security-channel events go to `SecurityEvent`, every
//! other channel to `WindowsEvent`. Sysmon and a handful of Security events are also
//! mapped to the Defender XDR device tables, the way Defender for Endpoint would have
//! recorded the same activity, so that hunting queries written for Defender find them.

mod security;
mod sysmon;

use crate::rows::{RowWriter, TableSet};

use crate::winevent::{WinEvent, json_object};
use security::{logon, logon_type_name, process_4688, security_activity};
use sysmon::sysmon;

const SYSMON_CHANNEL: &str = "Microsoft-Windows-Sysmon/Operational";

/// Where a row came from, written into every row's provenance columns.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub file: &'a str,
    pub record: u64,
}

/// Maps one event to rows: its raw table, and a Defender table where one applies.
pub fn normalise(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    if ev.channel == "Security" {
        security_event(ev, origin, out);
        match ev.event_id {
            4624 | 4625 | 4634 | 4647 | 4648 | 4672 => logon(ev, origin, out),
            4688 => process_4688(ev, origin, out),
            _ => {}
        }
    } else {
        windows_event(ev, origin, out);
        if ev.channel == SYSMON_CHANNEL || ev.provider == "Microsoft-Windows-Sysmon" {
            sysmon(ev, origin, out);
        }
    }
}

/// Columns every row of every table gets.
fn common(row: &mut RowWriter<'_>, ev: &WinEvent, origin: Origin<'_>, table: &str) {
    let time = ev.time_ns.map(crate::rows::Value::Time);
    row.set_opt("Timestamp", time.clone())
        .set_opt("TimeGenerated", time)
        .set(vigil_schema::SOURCE_FILE_COLUMN, origin.file)
        .set(vigil_schema::SOURCE_RECORD_COLUMN, origin.record)
        .set("Type", table)
        .set("SourceSystem", "Vigil");
}

fn new_row<'s>(out: &'s mut TableSet, table: &str) -> Option<RowWriter<'s>> {
    out.rows(table).map(|rows| rows.row())
}

fn security_event(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    let Some(mut row) = new_row(out, "SecurityEvent") else {
        return;
    };
    common(&mut row, ev, origin, "SecurityEvent");
    let mut rest = Vec::new();
    for (name, value) in &ev.data {
        // Fields that the Sentinel schema has as columns go there; the rest stay in
        // EventData, so nothing the event said is lost.
        if !SECURITY_SYSTEM_COLUMNS.contains(&name.as_str()) && row.has(name) {
            row.set(name, value);
        } else {
            rest.push((name.as_str(), value.as_str()));
        }
    }
    let (account_domain, account_name) = security_account(ev);
    if let Some(name) = account_name {
        let account = match account_domain {
            Some(domain) => format!("{domain}\\{name}"),
            None => name.to_string(),
        };
        row.set("Account", account).set("AccountName", name);
    }
    row.set_opt("AccountDomain", account_domain);
    if let Some(logon_type) = ev.get("LogonType").and_then(|t| t.parse::<u32>().ok()) {
        row.set_opt(
            "LogonTypeName",
            logon_type_name(logon_type).map(|n| format!("{logon_type} - {n}")),
        );
    }
    let activity = match security_activity(ev.event_id) {
        Some(text) => format!("{} - {}", ev.event_id, text),
        None => ev.event_id.to_string(),
    };
    row.set("EventID", i64::from(ev.event_id))
        .set("Activity", activity)
        .set("Computer", &ev.computer)
        .set("Channel", &ev.channel)
        .set("EventSourceName", &ev.provider)
        .set("EventRecordId", ev.record_id.to_string())
        .set_opt("Level", ev.level.map(|l| l.to_string()))
        .set_opt("EventLevelName", ev.level.and_then(level_name))
        .set_opt("Task", ev.task.map(i64::from))
        .set_opt("Opcode", ev.opcode.map(|o| o.to_string()))
        .set_opt("Keywords", ev.keywords.as_deref())
        .set_opt("Version", ev.version.map(i64::from))
        .set_opt("SystemProcessId", ev.process_id.map(i64::from))
        .set_opt("SystemThreadId", ev.thread_id.map(i64::from))
        .set_opt("SystemUserId", ev.user_sid.as_deref())
        .set("EventData", json_object(rest.into_iter()));
}

/// Columns of SecurityEvent that describe the record, not event data with the same name.
const SECURITY_SYSTEM_COLUMNS: &[&str] = &[
    "Channel",
    "Computer",
    "EventData",
    "EventID",
    "Level",
    "Task",
    "Opcode",
    "Keywords",
    "Version",
    "Type",
    "TimeGenerated",
    "Timestamp",
    "SourceSystem",
    "Activity",
    "Account",
];

/// The account a Security event is about: the target where there is one, else the subject.
fn security_account(ev: &WinEvent) -> (Option<&str>, Option<&str>) {
    match ev.get("TargetUserName") {
        Some(name) => (ev.get("TargetDomainName"), Some(name)),
        None => (ev.get("SubjectDomainName"), ev.get("SubjectUserName")),
    }
}

fn windows_event(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    let Some(mut row) = new_row(out, "WindowsEvent") else {
        return;
    };
    common(&mut row, ev, origin, "WindowsEvent");
    row.set("EventID", i64::from(ev.event_id))
        .set("Channel", &ev.channel)
        .set("Provider", &ev.provider)
        .set("Computer", &ev.computer)
        .set("EventRecordId", ev.record_id.to_string())
        .set_opt("TimeCreated", ev.time_ns.map(crate::rows::Value::Time))
        .set_opt("EventLevel", ev.level.map(i64::from))
        .set_opt("EventLevelName", ev.level.and_then(level_name))
        .set_opt("Task", ev.task.map(i64::from))
        .set_opt("Opcode", ev.opcode.map(|o| o.to_string()))
        .set_opt("Keywords", ev.keywords.as_deref())
        .set_opt("Version", ev.version.map(i64::from))
        .set_opt("SystemProcessId", ev.process_id.map(i64::from))
        .set_opt("SystemThreadId", ev.thread_id.map(i64::from))
        .set_opt("SystemUserId", ev.user_sid.as_deref())
        .set("EventData", ev.data_json());
}

fn device_common(
    row: &mut RowWriter<'_>,
    ev: &WinEvent,
    origin: Origin<'_>,
    table: &str,
    action: &str,
) {
    common(row, ev, origin, table);
    row.set("DeviceName", device_name(&ev.computer))
        .set("ActionType", action)
        .set("ReportId", ev.record_id);
}

/// Defender names devices by their fully qualified name in lower case.
fn device_name(computer: &str) -> String {
    computer.to_ascii_lowercase()
}

/// The process that did what the event describes (Sysmon's `Image`, `ProcessId`, `User`).
fn initiating(row: &mut RowWriter<'_>, ev: &WinEvent, image_field: &str, pid_field: &str) {
    set_path(row, INITIATING, ev.get(image_field));
    row.set_opt("InitiatingProcessId", ev.get(pid_field));
    if let Some(user) = ev.get("User") {
        let (domain, name) = split_account(user);
        row.set_opt("InitiatingProcessAccountDomain", domain)
            .set("InitiatingProcessAccountName", name);
    }
}

/// The columns that name a file: its full path, and its name alone.
const FILE: (&str, &str) = ("FolderPath", "FileName");
/// The same for the process that did what the event describes.
const INITIATING: (&str, &str) = ("InitiatingProcessFolderPath", "InitiatingProcessFileName");

/// Sets a pair of path columns (see [`FILE`]) from a path, if there is one.
fn set_path(row: &mut RowWriter<'_>, (folder, name): (&str, &str), path: Option<&str>) {
    if let Some(path) = path {
        row.set(folder, path).set(name, file_name(path));
    }
}

/// The last component of a Windows or Unix path.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Splits `DOMAIN\user` into its parts.
fn split_account(account: &str) -> (Option<&str>, &str) {
    match account.split_once('\\') {
        Some((domain, name)) => (Some(domain), name),
        None => (None, account),
    }
}

/// Sets `MD5`, `SHA1`, `SHA256` (with a column prefix) from Sysmon's
/// `Hashes` field (`SHA1=…,MD5=…,SHA256=…,IMPHASH=…`).
fn set_hashes(row: &mut RowWriter<'_>, hashes: Option<&str>, prefix: &str) {
    let Some(hashes) = hashes else { return };
    for part in hashes.split(',') {
        if let Some((algo, value)) = part.split_once('=') {
            let column = match algo.trim().to_ascii_uppercase().as_str() {
                "MD5" => "MD5",
                "SHA1" => "SHA1",
                "SHA256" => "SHA256",
                _ => continue,
            };
            row.set(
                &format!("{prefix}{column}"),
                value.trim().to_ascii_lowercase(),
            );
        }
    }
}

/// Selected event fields as a JSON object for `AdditionalFields`.
fn extra_fields(ev: &WinEvent, names: &[&str]) -> String {
    json_object(names.iter().filter_map(|n| ev.get(n).map(|v| (*n, v))))
}

fn level_name(level: u32) -> Option<&'static str> {
    Some(match level {
        0 => "LogAlways",
        1 => "Critical",
        2 => "Error",
        3 => "Warning",
        4 => "Information",
        5 => "Verbose",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::security::{failure_reason, integrity_level, is_zero_status, token_elevation};
    use super::sysmon::{expand_hive, registry_value};
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(file_name("C:\\Windows\\System32\\cmd.exe"), "cmd.exe");
        assert_eq!(file_name("/usr/bin/bash"), "bash");
        assert_eq!(file_name("plain"), "plain");
        assert_eq!(split_account("CORP\\alice"), (Some("CORP"), "alice"));
        assert_eq!(
            expand_hive("HKLM\\SOFTWARE\\x"),
            "HKEY_LOCAL_MACHINE\\SOFTWARE\\x"
        );
        assert_eq!(expand_hive("HKLMX\\y"), "HKLMX\\y");
        assert_eq!(
            registry_value("DWORD (0x00000010)"),
            (Some("Dword"), "16".to_string())
        );
        assert_eq!(
            registry_value("QWORD (0x00000001-0x00000002)"),
            (Some("Qword"), ((1u64 << 32) | 2).to_string())
        );
        assert_eq!(
            registry_value("C:\\x.exe"),
            (Some("String"), "C:\\x.exe".to_string())
        );
        assert!(is_zero_status("0x0") && !is_zero_status("0xc000006a"));
        assert_eq!(token_elevation("%%1937"), "TokenElevationTypeFull");
        assert_eq!(failure_reason("0xC000006A"), "WrongPassword");
        assert_eq!(integrity_level("S-1-16-12288"), "High");
    }

    fn security(id: u32, data: &[(&str, &str)]) -> WinEvent {
        WinEvent {
            time_ns: Some(1_600_000_000_000_000_000),
            channel: "Security".into(),
            provider: "Microsoft-Windows-Security-Auditing".into(),
            event_id: id,
            computer: "WS1.corp.example".into(),
            record_id: 7,
            data: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..WinEvent::default()
        }
    }

    /// The DeviceLogonEvents row an event maps to, as column name -> text.
    fn logon_row(ev: &WinEvent) -> std::collections::HashMap<String, String> {
        use arrow::array::Array;
        let mut out = TableSet::new(100);
        normalise(
            ev,
            Origin {
                file: "f.evtx",
                record: 7,
            },
            &mut out,
        );
        let batch = out.rows("DeviceLogonEvents").unwrap().take_batch();
        assert_eq!(batch.num_rows(), 1);
        let schema = batch.schema();
        let mut row = std::collections::HashMap::new();
        for (field, col) in schema.fields().iter().zip(batch.columns()) {
            // Times need a time-zone database to print; these tests look at the others.
            let is_time = matches!(field.data_type(), arrow::datatypes::DataType::Timestamp(..));
            if !is_time && col.is_valid(0) {
                let text = arrow::util::display::array_value_to_string(col, 0).unwrap();
                row.insert(field.name().clone(), text);
            }
        }
        row
    }

    #[test]
    fn explicit_credential_logons_take_name_and_sid_from_the_same_account() {
        let ev = security(
            4648,
            &[
                ("SubjectUserSid", "S-1-5-18"),
                ("SubjectUserName", "WS1$"),
                ("SubjectLogonId", "0x3e7"),
                ("TargetUserName", "pedro"),
                ("TargetDomainName", "CORP"),
            ],
        );
        let row = logon_row(&ev);
        assert_eq!(row["AccountName"], "pedro");
        assert_eq!(row["ActionType"], "LogonAttempted");
        assert!(
            !row.contains_key("AccountSid"),
            "the subject's SID is another account's"
        );
        assert!(!row.contains_key("LogonId"));
        assert_eq!(row["DeviceName"], "ws1.corp.example");
    }

    #[test]
    fn failed_logons_give_the_precise_reason() {
        let ev = security(
            4625,
            &[
                ("TargetUserName", "alice"),
                ("Status", "0xc000006d"),
                ("SubStatus", "0xc000006a"),
                ("LogonType", "3"),
                ("IpAddress", "192.0.2.7"),
            ],
        );
        let row = logon_row(&ev);
        assert_eq!(row["FailureReason"], "WrongPassword");
        assert_eq!(row["LogonType"], "Network");
        assert_eq!(row["RemoteIP"], "192.0.2.7");
        let ev = security(
            4625,
            &[
                ("TargetUserName", "bob"),
                ("Status", "0xc0000234"),
                ("SubStatus", "0x0"),
            ],
        );
        assert_eq!(logon_row(&ev)["FailureReason"], "AccountLocked");
    }
}
