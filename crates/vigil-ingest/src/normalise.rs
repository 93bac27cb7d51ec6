//! Windows events into catalog tables.
//!
//! Every event keeps its raw form: Security-channel events go to `SecurityEvent`, every
//! other channel to `WindowsEvent`. Sysmon and a handful of Security events are also
//! mapped to the Defender XDR device tables, the way Defender for Endpoint would have
//! recorded the same activity, so that hunting queries written for Defender find them.

use crate::rows::{RowWriter, TableSet};
use crate::winevent::{WinEvent, json_object};

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

// ----- Sysmon -------------------------------------------------------------------------------

fn sysmon(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    match ev.event_id {
        1 => sysmon_process(ev, origin, out, "ProcessCreated"),
        5 => sysmon_process(ev, origin, out, "ProcessTerminated"),
        3 => sysmon_network(ev, origin, out),
        7 => sysmon_image_load(ev, origin, out),
        11 => sysmon_file(ev, origin, out, "FileCreated"),
        23 | 26 => sysmon_file(ev, origin, out, "FileDeleted"),
        12..=14 => sysmon_registry(ev, origin, out),
        id => sysmon_device_event(ev, origin, out, sysmon_action(id)),
    }
}

/// Defender-style ActionType names for the Sysmon events that land in DeviceEvents.
fn sysmon_action(id: u32) -> &'static str {
    match id {
        2 => "FileTimestampModified",
        4 => "SysmonServiceStateChanged",
        6 => "DriverLoad",
        8 => "CreateRemoteThreadApiCall",
        9 => "RawDiskAccess",
        10 => "OpenProcessApiCall",
        15 => "FileStreamCreated",
        16 => "SysmonConfigChanged",
        17 => "NamedPipeEvent",
        18 => "NamedPipeConnected",
        19 => "WmiEventFilterCreated",
        20 => "WmiEventConsumerCreated",
        21 => "WmiBindEventFilterToConsumer",
        22 => "DnsQueryResponse",
        24 => "ClipboardChanged",
        25 => "ProcessTampering",
        27 => "FileBlockedExecutable",
        28 => "FileBlockedShredding",
        29 => "FileExecutableDetected",
        _ => "SysmonEvent",
    }
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
    if let Some(image) = ev.get(image_field) {
        row.set("InitiatingProcessFolderPath", image)
            .set("InitiatingProcessFileName", file_name(image));
    }
    row.set_opt("InitiatingProcessId", ev.get(pid_field));
    if let Some(user) = ev.get("User") {
        let (domain, name) = split_account(user);
        row.set_opt("InitiatingProcessAccountDomain", domain)
            .set("InitiatingProcessAccountName", name);
    }
}

fn sysmon_process(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet, action: &str) {
    let Some(mut row) = new_row(out, "DeviceProcessEvents") else {
        return;
    };
    device_common(&mut row, ev, origin, "DeviceProcessEvents", action);
    if let Some(image) = ev.get("Image") {
        row.set("FolderPath", image)
            .set("FileName", file_name(image));
    }
    row.set_opt("ProcessId", ev.get("ProcessId"))
        .set_opt("ProcessCommandLine", ev.get("CommandLine"))
        .set_opt("ProcessIntegrityLevel", ev.get("IntegrityLevel"))
        .set_opt("ProcessVersionInfoCompanyName", ev.get("Company"))
        .set_opt("ProcessVersionInfoProductName", ev.get("Product"))
        .set_opt("ProcessVersionInfoFileDescription", ev.get("Description"))
        .set_opt(
            "ProcessVersionInfoOriginalFileName",
            ev.get("OriginalFileName"),
        )
        .set_opt("ProcessVersionInfoProductVersion", ev.get("FileVersion"))
        .set_opt("LogonId", ev.get("LogonId"));
    if action == "ProcessCreated" {
        row.set_opt("ProcessCreationTime", ev.get("UtcTime"));
    }
    if let Some(user) = ev.get("User") {
        let (domain, name) = split_account(user);
        row.set_opt("AccountDomain", domain)
            .set("AccountName", name);
    }
    set_hashes(&mut row, ev.get("Hashes"), "");
    if let Some(parent) = ev.get("ParentImage") {
        row.set("InitiatingProcessFolderPath", parent)
            .set("InitiatingProcessFileName", file_name(parent));
    }
    row.set_opt("InitiatingProcessId", ev.get("ParentProcessId"))
        .set_opt("InitiatingProcessCommandLine", ev.get("ParentCommandLine"));
    if let Some(user) = ev.get("ParentUser") {
        let (domain, name) = split_account(user);
        row.set_opt("InitiatingProcessAccountDomain", domain)
            .set("InitiatingProcessAccountName", name);
    }
    row.set(
        "AdditionalFields",
        extra_fields(
            ev,
            &[
                "ProcessGuid",
                "ParentProcessGuid",
                "CurrentDirectory",
                "LogonGuid",
                "TerminalSessionId",
                "RuleName",
            ],
        ),
    );
}

fn sysmon_network(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    let Some(mut row) = new_row(out, "DeviceNetworkEvents") else {
        return;
    };
    let outbound = ev
        .get("Initiated")
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let action = if outbound {
        "ConnectionSuccess"
    } else {
        "InboundConnectionAccepted"
    };
    device_common(&mut row, ev, origin, "DeviceNetworkEvents", action);
    let (local, remote) = if outbound {
        ("Source", "Destination")
    } else {
        ("Destination", "Source")
    };
    row.set_opt("LocalIP", ev.get(&format!("{local}Ip")))
        .set_opt("LocalPort", ev.get(&format!("{local}Port")))
        .set_opt("RemoteIP", ev.get(&format!("{remote}Ip")))
        .set_opt("RemotePort", ev.get(&format!("{remote}Port")))
        .set_opt("RemoteUrl", ev.get(&format!("{remote}Hostname")))
        .set_opt("Protocol", ev.get("Protocol").map(protocol_name));
    initiating(&mut row, ev, "Image", "ProcessId");
    row.set(
        "AdditionalFields",
        extra_fields(
            ev,
            &[
                "ProcessGuid",
                "SourceHostname",
                "DestinationHostname",
                "DestinationPortName",
                "SourcePortName",
                "RuleName",
            ],
        ),
    );
}

fn sysmon_image_load(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    let Some(mut row) = new_row(out, "DeviceImageLoadEvents") else {
        return;
    };
    device_common(&mut row, ev, origin, "DeviceImageLoadEvents", "ImageLoaded");
    if let Some(loaded) = ev.get("ImageLoaded") {
        row.set("FolderPath", loaded)
            .set("FileName", file_name(loaded));
    }
    set_hashes(&mut row, ev.get("Hashes"), "");
    initiating(&mut row, ev, "Image", "ProcessId");
}

fn sysmon_file(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet, action: &str) {
    let Some(mut row) = new_row(out, "DeviceFileEvents") else {
        return;
    };
    device_common(&mut row, ev, origin, "DeviceFileEvents", action);
    if let Some(target) = ev.get("TargetFilename") {
        row.set("FolderPath", target)
            .set("FileName", file_name(target));
    }
    set_hashes(&mut row, ev.get("Hashes"), "");
    initiating(&mut row, ev, "Image", "ProcessId");
    row.set(
        "AdditionalFields",
        extra_fields(
            ev,
            &[
                "ProcessGuid",
                "CreationUtcTime",
                "IsExecutable",
                "Archived",
                "RuleName",
            ],
        ),
    );
}

fn sysmon_registry(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    let kind = ev.get("EventType").unwrap_or_default();
    let action = match kind {
        "CreateKey" => "RegistryKeyCreated",
        "DeleteKey" => "RegistryKeyDeleted",
        "DeleteValue" => "RegistryValueDeleted",
        "SetValue" => "RegistryValueSet",
        "RenameKey" => "RegistryKeyRenamed",
        _ if ev.event_id == 13 => "RegistryValueSet",
        _ if ev.event_id == 14 => "RegistryKeyRenamed",
        _ => "RegistryKeyCreated",
    };
    let Some(mut row) = new_row(out, "DeviceRegistryEvents") else {
        return;
    };
    device_common(&mut row, ev, origin, "DeviceRegistryEvents", action);
    if let Some(target) = ev.get("TargetObject") {
        let target = expand_hive(target);
        // Value events name the value as the last path component; key events name a
        // key; a rename names the old key, with the new one in NewName.
        match action {
            "RegistryValueSet" | "RegistryValueDeleted" => {
                let (key, value) = target.rsplit_once('\\').unwrap_or((target.as_str(), ""));
                row.set("RegistryKey", key).set("RegistryValueName", value);
            }
            "RegistryKeyRenamed" => {
                row.set("PreviousRegistryKey", target.as_str())
                    .set_opt("RegistryKey", ev.get("NewName").map(expand_hive));
            }
            _ => {
                row.set("RegistryKey", target.as_str());
            }
        }
    }
    if let Some(details) = ev.get("Details") {
        let (ty, data) = registry_value(details);
        row.set_opt("RegistryValueType", ty)
            .set("RegistryValueData", data);
    }
    initiating(&mut row, ev, "Image", "ProcessId");
}

fn sysmon_device_event(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet, action: &str) {
    let Some(mut row) = new_row(out, "DeviceEvents") else {
        return;
    };
    device_common(&mut row, ev, origin, "DeviceEvents", action);
    match ev.event_id {
        // Process access and remote threads: the source process acts on a target.
        8 | 10 => {
            initiating(&mut row, ev, "SourceImage", "SourceProcessId");
            if let Some(target) = ev.get("TargetImage") {
                row.set("FolderPath", target)
                    .set("FileName", file_name(target));
            }
            row.set_opt("ProcessId", ev.get("TargetProcessId"));
        }
        22 => {
            row.set_opt("RemoteUrl", ev.get("QueryName"));
            initiating(&mut row, ev, "Image", "ProcessId");
        }
        6 => {
            if let Some(loaded) = ev.get("ImageLoaded") {
                row.set("FolderPath", loaded)
                    .set("FileName", file_name(loaded));
            }
            set_hashes(&mut row, ev.get("Hashes"), "");
        }
        _ => {
            for field in ["TargetFilename", "PipeName", "Device"] {
                if let Some(target) = ev.get(field) {
                    row.set("FolderPath", target)
                        .set("FileName", file_name(target));
                }
            }
            set_hashes(&mut row, ev.get("Hashes"), "");
            initiating(&mut row, ev, "Image", "ProcessId");
        }
    }
    row.set("AdditionalFields", ev.data_json());
}

// ----- Security --------------------------------------------------------------------------------

fn logon(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    let action = match ev.event_id {
        4624 => "LogonSuccess",
        4625 => "LogonFailed",
        4634 | 4647 => "Logoff",
        4648 => "LogonAttempted",
        _ => "PrivilegedLogon",
    };
    let Some(mut row) = new_row(out, "DeviceLogonEvents") else {
        return;
    };
    device_common(&mut row, ev, origin, "DeviceLogonEvents", action);
    // The account is the Target one, except in 4672 (and logoffs that only name a
    // Subject). Name, SID and logon id all come from the same side: 4648 has a target
    // name but no target SID, and the subject's SID is another account's.
    let side = if ev.event_id != 4672 && ev.get("TargetUserName").is_some() {
        "Target"
    } else {
        "Subject"
    };
    let field = |suffix: &str| ev.get(&format!("{side}{suffix}"));
    let (domain, name) = (field("DomainName"), field("UserName"));
    let (sid, logon_id) = (field("UserSid"), field("LogonId"));
    row.set_opt("AccountName", name)
        .set_opt("AccountDomain", domain)
        .set_opt("AccountSid", sid)
        .set_opt("LogonId", logon_id)
        .set_opt(
            "LogonType",
            ev.get("LogonType")
                .and_then(|t| t.parse().ok())
                .and_then(logon_type_name),
        )
        .set_opt("RemoteIP", ev.get("IpAddress"))
        .set_opt("RemotePort", ev.get("IpPort"))
        .set_opt("RemoteDeviceName", ev.get("WorkstationName"))
        .set_opt("Protocol", ev.get("AuthenticationPackageName"));
    if ev.event_id == 4625 {
        row.set_opt(
            "FailureReason",
            // SubStatus is the precise reason when Windows gives one; it writes 0x0 when
            // Status says it all.
            ev.get("SubStatus")
                .filter(|s| !is_zero_status(s))
                .or(ev.get("Status"))
                .map(failure_reason),
        );
    }
    if let Some(process) = ev.get("ProcessName") {
        row.set("InitiatingProcessFolderPath", process)
            .set("InitiatingProcessFileName", file_name(process));
    }
    row.set_opt("InitiatingProcessId", ev.get("ProcessId"));
    if let Some(elevated) = ev.get("ElevatedToken") {
        row.set("IsLocalAdmin", elevated.contains("1842"));
    }
    row.set("AdditionalFields", ev.data_json());
}

fn process_4688(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
    let Some(mut row) = new_row(out, "DeviceProcessEvents") else {
        return;
    };
    device_common(
        &mut row,
        ev,
        origin,
        "DeviceProcessEvents",
        "ProcessCreated",
    );
    if let Some(image) = ev.get("NewProcessName") {
        row.set("FolderPath", image)
            .set("FileName", file_name(image));
    }
    row.set_opt("ProcessId", ev.get("NewProcessId"))
        .set_opt("ProcessCommandLine", ev.get("CommandLine"))
        .set_opt(
            "ProcessIntegrityLevel",
            ev.get("MandatoryLabel").map(integrity_level),
        )
        .set_opt(
            "ProcessTokenElevation",
            ev.get("TokenElevationType").map(token_elevation),
        )
        .set_opt(
            "ProcessCreationTime",
            ev.time_ns.map(crate::rows::Value::Time),
        );
    // Newer Windows versions name the new process's account (Target*); older ones only
    // the creator's (Subject*), which is then the best there is.
    let (domain, name, logon) = match ev.get("TargetUserName") {
        Some(name) => (
            ev.get("TargetDomainName"),
            Some(name),
            ev.get("TargetLogonId"),
        ),
        None => (
            ev.get("SubjectDomainName"),
            ev.get("SubjectUserName"),
            ev.get("SubjectLogonId"),
        ),
    };
    row.set_opt("AccountName", name)
        .set_opt("AccountDomain", domain)
        .set_opt("LogonId", logon)
        .set_opt("InitiatingProcessAccountName", ev.get("SubjectUserName"))
        .set_opt(
            "InitiatingProcessAccountDomain",
            ev.get("SubjectDomainName"),
        )
        .set_opt("InitiatingProcessAccountSid", ev.get("SubjectUserSid"))
        .set_opt("InitiatingProcessLogonId", ev.get("SubjectLogonId"));
    if let Some(parent) = ev.get("ParentProcessName") {
        row.set("InitiatingProcessFolderPath", parent)
            .set("InitiatingProcessFileName", file_name(parent));
    }
    row.set_opt("InitiatingProcessId", ev.get("ProcessId"));
    row.set("AdditionalFields", ev.data_json());
}

// ----- helpers -------------------------------------------------------------------------------

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

/// Sysmon writes short hive names; Defender writes them in full.
fn expand_hive(key: &str) -> String {
    const HIVES: &[(&str, &str)] = &[
        ("HKLM", "HKEY_LOCAL_MACHINE"),
        ("HKU", "HKEY_USERS"),
        ("HKCU", "HKEY_CURRENT_USER"),
        ("HKCR", "HKEY_CLASSES_ROOT"),
        ("HKCC", "HKEY_CURRENT_CONFIG"),
    ];
    for (short, long) in HIVES {
        if let Some(rest) = key.strip_prefix(short)
            && (rest.is_empty() || rest.starts_with('\\'))
        {
            return format!("{long}{rest}");
        }
    }
    key.to_string()
}

/// Sysmon's `Details` for a registry value: `DWORD (0x00000001)`, `QWORD (…)`,
/// `Binary Data`, or the string itself.
fn registry_value(details: &str) -> (Option<&'static str>, String) {
    if let Some(inner) = details
        .strip_prefix("DWORD (")
        .and_then(|d| d.strip_suffix(')'))
    {
        let value = crate::rows::parse_long(inner.trim()).map(|v| v.to_string());
        return (Some("Dword"), value.unwrap_or_else(|| inner.to_string()));
    }
    // Sysmon writes a QWORD as its high and low halves: `QWORD (0x01d65fd8-0x0f865f72)`.
    if let Some(inner) = details
        .strip_prefix("QWORD (")
        .and_then(|d| d.strip_suffix(')'))
    {
        let halves = inner.split_once('-').and_then(|(hi, lo)| {
            let hi = crate::rows::parse_long(hi.trim())? as u64;
            let lo = crate::rows::parse_long(lo.trim())? as u64;
            Some(((hi << 32) | (lo & 0xffff_ffff)).to_string())
        });
        let whole = || crate::rows::parse_long(inner.trim()).map(|v| v.to_string());
        return (
            Some("Qword"),
            halves.or_else(whole).unwrap_or_else(|| inner.to_string()),
        );
    }
    if details == "Binary Data" {
        return (Some("Binary"), String::new());
    }
    (Some("String"), details.to_string())
}

fn protocol_name(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "tcp" | "6" => "Tcp".into(),
        "udp" | "17" => "Udp".into(),
        "icmp" | "1" => "Icmp".into(),
        other => other.to_string(),
    }
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

/// Defender's names for Windows logon types.
fn logon_type_name(t: u32) -> Option<&'static str> {
    Some(match t {
        0 => "System",
        2 => "Interactive",
        3 => "Network",
        4 => "Batch",
        5 => "Service",
        7 => "Unlock",
        8 => "NetworkCleartext",
        9 => "NewCredentials",
        10 => "RemoteInteractive",
        11 => "CachedInteractive",
        12 => "CachedRemoteInteractive",
        13 => "CachedUnlock",
        _ => return None,
    })
}

fn is_zero_status(status: &str) -> bool {
    crate::rows::parse_long(status) == Some(0)
}

/// Readable reasons for the NTSTATUS codes Windows writes on failed logons.
fn failure_reason(status: &str) -> String {
    let code = status.trim().to_ascii_lowercase();
    let reason = match code.as_str() {
        "0xc0000064" => "UnknownUser",
        "0xc000006a" => "WrongPassword",
        "0xc000006d" => "InvalidUserNameOrPassword",
        "0xc000006f" => "OutsideLogonHours",
        "0xc0000070" => "WorkstationRestriction",
        "0xc0000071" => "PasswordExpired",
        "0xc0000072" => "AccountDisabled",
        "0xc000015b" => "LogonTypeNotGranted",
        "0xc0000193" => "AccountExpired",
        "0xc0000224" => "PasswordMustChange",
        "0xc0000234" => "AccountLocked",
        _ => return status.to_string(),
    };
    reason.to_string()
}

fn integrity_level(label: &str) -> String {
    match label {
        "S-1-16-0" => "Untrusted",
        "S-1-16-4096" => "Low",
        "S-1-16-8192" => "Medium",
        "S-1-16-8448" => "MediumPlus",
        "S-1-16-12288" => "High",
        "S-1-16-16384" => "System",
        "S-1-16-20480" => "Protected",
        other => other,
    }
    .to_string()
}

fn token_elevation(code: &str) -> String {
    match code {
        "%%1936" => "TokenElevationTypeDefault",
        "%%1937" => "TokenElevationTypeFull",
        "%%1938" => "TokenElevationTypeLimited",
        other => other,
    }
    .to_string()
}

/// Short titles of common Security events for SecurityEvent's `Activity` column.
fn security_activity(id: u32) -> Option<&'static str> {
    Some(match id {
        1102 => "The audit log was cleared.",
        4608 => "Windows is starting up.",
        4610 => "An authentication package has been loaded by the Local Security Authority.",
        4611 => "A trusted logon process has been registered with the Local Security Authority.",
        4616 => "The system time was changed.",
        4624 => "An account was successfully logged on.",
        4625 => "An account failed to log on.",
        4627 => "Group membership information.",
        4634 => "An account was logged off.",
        4647 => "User initiated logoff.",
        4648 => "A logon was attempted using explicit credentials.",
        4656 => "A handle to an object was requested.",
        4657 => "A registry value was modified.",
        4658 => "The handle to an object was closed.",
        4660 => "An object was deleted.",
        4661 => "A handle to an object was requested.",
        4662 => "An operation was performed on an object.",
        4663 => "An attempt was made to access an object.",
        4672 => "Special privileges assigned to new logon.",
        4673 => "A privileged service was called.",
        4674 => "An operation was attempted on a privileged object.",
        4688 => "A new process has been created.",
        4689 => "A process has exited.",
        4690 => "An attempt was made to duplicate a handle to an object.",
        4697 => "A service was installed in the system.",
        4698 => "A scheduled task was created.",
        4699 => "A scheduled task was deleted.",
        4700 => "A scheduled task was enabled.",
        4701 => "A scheduled task was disabled.",
        4702 => "A scheduled task was updated.",
        4703 => "A token right was adjusted.",
        4719 => "System audit policy was changed.",
        4720 => "A user account was created.",
        4722 => "A user account was enabled.",
        4723 => "An attempt was made to change an account's password.",
        4724 => "An attempt was made to reset an account's password.",
        4725 => "A user account was disabled.",
        4726 => "A user account was deleted.",
        4728 => "A member was added to a security-enabled global group.",
        4732 => "A member was added to a security-enabled local group.",
        4738 => "A user account was changed.",
        4740 => "A user account was locked out.",
        4756 => "A member was added to a security-enabled universal group.",
        4768 => "A Kerberos authentication ticket (TGT) was requested.",
        4769 => "A Kerberos service ticket was requested.",
        4771 => "Kerberos pre-authentication failed.",
        4776 => "The computer attempted to validate the credentials for an account.",
        4781 => "The name of an account was changed.",
        4798 => "A user's local group membership was enumerated.",
        4799 => "A security-enabled local group membership was enumerated.",
        5136 => "A directory service object was modified.",
        5140 => "A network share object was accessed.",
        5145 => {
            "A network share object was checked to see whether client can be granted desired access."
        }
        5156 => "The Windows Filtering Platform has permitted a connection.",
        5158 => "The Windows Filtering Platform has permitted a bind to a local port.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
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
