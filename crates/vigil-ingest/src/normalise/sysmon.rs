//! Sysmon events into the Defender device tables.

use super::{
    FILE, INITIATING, Origin, device_common, extra_fields, initiating, new_row, set_hashes,
    set_path, split_account,
};
use crate::rows::TableSet;
use crate::winevent::WinEvent;

pub(super) fn sysmon(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
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

fn sysmon_process(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet, action: &str) {
    let Some(mut row) = new_row(out, "DeviceProcessEvents") else {
        return;
    };
    device_common(&mut row, ev, origin, "DeviceProcessEvents", action);
    set_path(&mut row, FILE, ev.get("Image"));
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
    set_path(&mut row, INITIATING, ev.get("ParentImage"));
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
    set_path(&mut row, FILE, ev.get("ImageLoaded"));
    set_hashes(&mut row, ev.get("Hashes"), "");
    initiating(&mut row, ev, "Image", "ProcessId");
}

fn sysmon_file(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet, action: &str) {
    let Some(mut row) = new_row(out, "DeviceFileEvents") else {
        return;
    };
    device_common(&mut row, ev, origin, "DeviceFileEvents", action);
    set_path(&mut row, FILE, ev.get("TargetFilename"));
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
            set_path(&mut row, FILE, ev.get("TargetImage"));
            row.set_opt("ProcessId", ev.get("TargetProcessId"));
        }
        22 => {
            row.set_opt("RemoteUrl", ev.get("QueryName"));
            initiating(&mut row, ev, "Image", "ProcessId");
        }
        6 => {
            set_path(&mut row, FILE, ev.get("ImageLoaded"));
            set_hashes(&mut row, ev.get("Hashes"), "");
        }
        _ => {
            for field in ["TargetFilename", "PipeName", "Device"] {
                set_path(&mut row, FILE, ev.get(field));
            }
            set_hashes(&mut row, ev.get("Hashes"), "");
            initiating(&mut row, ev, "Image", "ProcessId");
        }
    }
    row.set("AdditionalFields", ev.data_json());
}

/// Sysmon writes short hive names; Defender writes them in full.
pub(super) fn expand_hive(key: &str) -> String {
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
pub(super) fn registry_value(details: &str) -> (Option<&'static str>, String) {
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

pub(super) fn protocol_name(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "tcp" | "6" => "Tcp".into(),
        "udp" | "17" => "Udp".into(),
        "icmp" | "1" => "Icmp".into(),
        other => other.to_string(),
    }
}
