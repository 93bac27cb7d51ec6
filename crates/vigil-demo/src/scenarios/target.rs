//! The file server's side of the phishing scenario's lateral movement: what PsExec with
//! a stolen admin password leaves on the target, from the network logon to the deleted
//! shadow copies.

use serde_json::json;

use super::Track;
use crate::Error;
use crate::activity::{Ctx, SecurityFields, security_event};
use crate::clock::SECOND;
use crate::events::{self, Conn, Logon};
use crate::host::Host;
use crate::org::{Device, NETBIOS, User};
use crate::proc::{self, Account, Proc};
use crate::rng::Rng;

/// One PsExec hop: from which device to which, as whom, and what it runs.
pub struct Move<'a> {
    pub from: &'a Device,
    pub to: &'a Device,
    pub admin: &'a User,
    pub account: &'a Account,
    pub psexec: &'a Proc,
    /// The source port of the SMB connection.
    pub port: i64,
    /// The command line cmd.exe runs on the target.
    pub commands: &'a str,
    pub at: i64,
}

fn f(pairs: &[(&'static str, &str)]) -> SecurityFields {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

pub fn file_server(
    ctx: &Ctx<'_>,
    tr: &mut Track<'_>,
    rng: &mut Rng,
    m: &Move<'_>,
) -> Result<(), Error> {
    let (laptop, fs, admin, aa, psexec, ts) = (m.from, m.to, m.admin, m.account, m.psexec, m.at);
    let precursors = m.commands;
    let c_local_port = m.port;
    let fh = Host::of(ctx, fs);
    let inbound = Conn::inbound(fs, &laptop.ip, c_local_port, 445);
    tr.push(events::network(fs, ts, &fh.system, &inbound))?;
    let logon_id = rng.range(0x100_0000, 0x7FF_FFFF);
    let net_logon = Logon {
        action: "LogonSuccess",
        logon_type: "Network",
        account: aa,
        protocol: "NTLM",
        logon_id,
        remote_ip: Some(&laptop.ip),
        remote_device: Some(&laptop.name),
        is_local_admin: true,
        failure: None,
    };
    tr.step(
        events::logon(fs, ts, &fh.lsass, &net_logon),
        "The admin account logs on to the file server over the network (type 3) from the laptop",
    )?;
    let lid = format!("0x{logon_id:x}");
    tr.push(security_event(
        fs,
        ts,
        4624,
        &f(&[
            ("SubjectUserSid", "S-1-0-0"),
            ("SubjectUserName", "-"),
            ("SubjectDomainName", "-"),
            ("TargetUserSid", &aa.sid),
            ("TargetUserName", &admin.sam),
            ("TargetDomainName", NETBIOS),
            ("TargetLogonId", &lid),
            ("LogonType", "3"),
            ("LogonProcessName", "NtLmSsp "),
            ("AuthenticationPackageName", "NTLM"),
            ("WorkstationName", &laptop.host),
            ("IpAddress", &laptop.ip),
            ("IpPort", &c_local_port.to_string()),
        ]),
    ))?;
    tr.push(security_event(fs, ts, 4672, &f(&[
        ("SubjectUserSid", &aa.sid), ("SubjectUserName", &admin.sam), ("SubjectDomainName", NETBIOS),
        ("SubjectLogonId", &lid), ("PrivilegeList", "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeImpersonatePrivilege"),
    ])))?;
    for (k, share) in ["\\\\*\\ADMIN$", "\\\\*\\IPC$"].iter().enumerate() {
        tr.push(security_event(
            fs,
            ts + k as i64 * SECOND,
            5140,
            &f(&[
                ("SubjectUserSid", &aa.sid),
                ("SubjectUserName", &admin.sam),
                ("SubjectDomainName", NETBIOS),
                ("SubjectLogonId", &lid),
                ("ObjectType", "File"),
                ("IpAddress", &laptop.ip),
                ("IpPort", &c_local_port.to_string()),
                ("ShareName", share),
                (
                    "ShareLocalPath",
                    if k == 0 { "\\??\\C:\\Windows" } else { "" },
                ),
                ("AccessMask", "0x1"),
            ]),
        ))?;
    }
    let mut svc_file = events::file(
        fs,
        ts + 2 * SECOND,
        &fh.system,
        "FileCreated",
        proc::PSEXESVC.path,
        &proc::PSEXESVC.sha256(),
        proc::PSEXESVC.size,
    );
    svc_file
        .set("RequestProtocol", "Smb")
        .set("RequestSourceIP", laptop.ip.as_str())
        .set("RequestAccountName", admin.sam.as_str())
        .set("RequestAccountDomain", NETBIOS.to_lowercase())
        .set("ShareName", "ADMIN$");
    tr.step(
        svc_file,
        "PsExec copies PSEXESVC.exe to the file server's ADMIN$ share",
    )?;
    let mut installed = events::misc(
        fs,
        ts + 3 * SECOND,
        &fh.services,
        "ServiceInstalled",
        json!({
            "ServiceName": "PSEXESVC", "ServiceAccount": "LocalSystem", "ServiceStartType": 3, "ServiceType": 16,
        }),
    );
    installed
        .set("FileName", "PSEXESVC.exe")
        .set("FolderPath", proc::PSEXESVC.path)
        .set("AccountDomain", NETBIOS.to_lowercase())
        .set("AccountName", admin.sam.as_str())
        .set("AccountSid", aa.sid.as_str());
    tr.step(installed, "The PSEXESVC service is installed")?;
    tr.push(security_event(
        fs,
        ts + 3 * SECOND,
        4697,
        &f(&[
            ("SubjectUserSid", &aa.sid),
            ("SubjectUserName", &admin.sam),
            ("SubjectDomainName", NETBIOS),
            ("SubjectLogonId", &lid),
            ("ServiceName", "PSEXESVC"),
            ("ServiceFileName", "%SystemRoot%\\PSEXESVC.exe"),
            ("ServiceType", "0x10"),
            ("ServiceStartType", "3"),
            ("ServiceAccount", "LocalSystem"),
        ]),
    ))?;
    let svc = Proc::child(
        &fh.services,
        &proc::PSEXESVC,
        rng.pid(),
        "C:\\Windows\\PSEXESVC.exe",
        ts + 4 * SECOND,
    );
    tr.step(
        events::process_created(fs, &svc, &fh.services),
        "The PsExec service starts",
    )?;
    for (k, end) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        let pipe = format!("\\PSEXESVC-{}-{}-{end}", laptop.host, psexec.pid);
        let mut p = events::misc(
            fs,
            ts + 5 * SECOND + k as i64 * 100,
            &svc,
            "NamedPipeEvent",
            json!({"PipeName": pipe, "NamedPipeEnd": "Server", "PipeAction": "Create", "RemoteClientsAccess": "AcceptRemote"}),
        );
        p.set(
            "FileName",
            format!("PSEXESVC-{}-{}-{end}", laptop.host, psexec.pid),
        )
        .set("FolderPath", pipe.as_str());
        tr.push(p)?;
        tr.push(security_event(
            fs,
            ts + 5 * SECOND,
            5145,
            &f(&[
                ("SubjectUserSid", &aa.sid),
                ("SubjectUserName", &admin.sam),
                ("SubjectDomainName", NETBIOS),
                ("SubjectLogonId", &lid),
                ("ObjectType", "File"),
                ("IpAddress", &laptop.ip),
                ("IpPort", &c_local_port.to_string()),
                ("ShareName", "\\\\*\\IPC$"),
                ("ShareLocalPath", ""),
                ("RelativeTargetName", &pipe[1..]),
                ("AccessMask", "0x12019f"),
                ("AccessReason", "-"),
            ]),
        ))?;
    }
    let remote = Proc::child(
        &svc,
        &proc::CMD,
        rng.pid(),
        format!("\"cmd.exe\" /c \"{precursors}\""),
        ts + 6 * SECOND,
    )
    .run_as(aa.clone(), "High", logon_id);
    tr.step(
        events::process_created(fs, &remote, &svc),
        "PSEXESVC starts cmd.exe as the admin",
    )?;
    let mut tp = ts + 7 * SECOND;
    for (img, cmd, what) in [
        (
            &proc::VSSADMIN,
            "vssadmin  delete shadows /all /quiet",
            "All volume shadow copies are deleted (vssadmin)",
        ),
        (
            &proc::WMIC,
            "wmic  shadowcopy delete",
            "Shadow copies are deleted again through WMI",
        ),
        (
            &proc::BCDEDIT,
            "bcdedit  /set {default} recoveryenabled no",
            "Windows recovery is switched off",
        ),
        (
            &proc::BCDEDIT,
            "bcdedit  /set {default} bootstatuspolicy ignoreallfailures",
            "Boot failures will be ignored",
        ),
    ] {
        let p = Proc::child(&remote, img, rng.pid(), cmd, tp);
        tr.step(events::process_created(fs, &p, &remote), what)?;
        tp += rng.range(2, 9) * SECOND;
    }

    Ok(())
}
