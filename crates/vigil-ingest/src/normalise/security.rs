//! Windows Security events into DeviceLogonEvents and DeviceProcessEvents, and the
//! names Windows' codes stand for.

use super::{FILE, INITIATING, Origin, device_common, new_row, set_path};
use crate::rows::TableSet;
use crate::winevent::WinEvent;

pub(super) fn logon(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
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
    set_path(&mut row, INITIATING, ev.get("ProcessName"));
    row.set_opt("InitiatingProcessId", ev.get("ProcessId"));
    if let Some(elevated) = ev.get("ElevatedToken") {
        row.set("IsLocalAdmin", elevated.contains("1842"));
    }
    row.set("AdditionalFields", ev.data_json());
}

pub(super) fn process_4688(ev: &WinEvent, origin: Origin<'_>, out: &mut TableSet) {
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
    set_path(&mut row, FILE, ev.get("NewProcessName"));
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
    set_path(&mut row, INITIATING, ev.get("ParentProcessName"));
    row.set_opt("InitiatingProcessId", ev.get("ProcessId"));
    row.set("AdditionalFields", ev.data_json());
}

/// Defender's names for Windows logon types.
pub(super) fn logon_type_name(t: u32) -> Option<&'static str> {
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

pub(super) fn is_zero_status(status: &str) -> bool {
    crate::rows::parse_long(status) == Some(0)
}

/// Readable reasons for the NTSTATUS codes Windows writes on failed logons.
pub(super) fn failure_reason(status: &str) -> String {
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

pub(super) fn integrity_level(label: &str) -> String {
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

pub(super) fn token_elevation(code: &str) -> String {
    match code {
        "%%1936" => "TokenElevationTypeDefault",
        "%%1937" => "TokenElevationTypeFull",
        "%%1938" => "TokenElevationTypeLimited",
        other => other,
    }
    .to_string()
}

/// Short titles of common Security events for SecurityEvent's `Activity` column.
pub(super) fn security_activity(id: u32) -> Option<&'static str> {
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
