//! Scenario 6: look-alikes that are not attacks. An administrator uses PsExec from the
//! privileged access workstation to check a service on the application server, and
//! the nightly backup copies the changed files of the department shares to the backup
//! server. Both resemble parts of the attacks; neither may become a high-severity
//! incident.

use serde_json::json;

use super::phishing::pick_shift;
use super::{Track, incident, strings};
use crate::Error;
use crate::activity::{Ctx, SecurityFields, security_event};
use crate::clock::{MINUTE, SECOND};
use crate::events::{self, Conn, Logon};
use crate::host::{Host, Session};
use crate::org::{NETBIOS, Role};
use crate::proc::{self, Account, Proc};
use crate::rng::digest_hex;
use crate::sink::Sink;
use crate::truth::Scenario;

fn f(pairs: &[(&'static str, &str)]) -> SecurityFields {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

pub fn admin_psexec(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<Option<Scenario>, Error> {
    let org = ctx.org;
    let admin = &org.users[org.cast.admin];
    let person = admin.owner.unwrap_or(admin.index);
    let paw = org.device(Role::AdminWorkstation);
    let app = org.device(Role::App);
    let Some(mut shift) = pick_shift(ctx, person, 11) else {
        return Ok(None);
    };
    let mut rng = ctx.rng("scenario-admin-psexec");
    let mut tr = Track::new(sink);
    let host = Host::of(ctx, paw);
    shift.start += 2 * 60 * MINUTE;
    shift.end = shift.start + 90 * MINUTE;
    let session = Session::of(ctx, &host, admin, &shift);
    let aa = Account::of(admin);
    let l = Logon {
        action: "LogonSuccess",
        logon_type: "Interactive",
        account: &aa,
        protocol: "Kerberos",
        logon_id: session.logon_id,
        remote_ip: None,
        remote_device: None,
        is_local_admin: true,
        failure: None,
    };
    tr.step(
        events::logon(paw, session.start, &host.lsass, &l),
        "The administrator logs on to the PAW with the admin account",
    )?;
    tr.push(events::process_created(
        paw,
        &session.userinit,
        &host.winlogon,
    ))?;
    tr.push(events::process_created(
        paw,
        &session.explorer,
        &session.userinit,
    ))?;
    let t0 = session.start + 20 * MINUTE;
    let console = Proc::child(
        &session.explorer,
        &proc::CMD,
        rng.pid(),
        "\"C:\\Windows\\system32\\cmd.exe\" ",
        t0,
    )
    .run_as(aa.clone(), "High", session.logon_id);
    tr.push(events::process_created(paw, &console, &session.explorer))?;
    let cmdline = format!(
        "C:\\Tools\\Sysinternals\\PsExec64.exe \\\\{} -h cmd /c \"sc query W3SVC & iisreset /status\"",
        app.name
    );
    let px = Proc::child(
        &console,
        &proc::PSEXEC,
        rng.pid(),
        cmdline,
        t0 + 30 * SECOND,
    );
    tr.step(
        events::process_created(paw, &px, &console),
        "PsExec from the PAW to the application server, with the admin's own logon",
    )?;
    let c = Conn::out(paw, &app.ip, 445, "", rng.range(49_152, 65_535));
    tr.push(events::network(paw, px.created + SECOND, &px, &c))?;

    let ah = Host::of(ctx, app);
    let ts = px.created + 2 * SECOND;
    let logon_id = rng.range(0x100_0000, 0x7FF_FFFF);
    let nl = Logon {
        action: "LogonSuccess",
        logon_type: "Network",
        account: &aa,
        protocol: "Kerberos",
        logon_id,
        remote_ip: Some(&paw.ip),
        remote_device: Some(&paw.name),
        is_local_admin: true,
        failure: None,
    };
    tr.step(
        events::logon(app, ts, &ah.lsass, &nl),
        "Network logon (type 3) on the application server",
    )?;
    let lid = format!("0x{logon_id:x}");
    tr.push(security_event(
        app,
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
            ("LogonProcessName", "Kerberos"),
            ("AuthenticationPackageName", "Kerberos"),
            ("WorkstationName", "-"),
            ("IpAddress", &paw.ip),
            ("IpPort", &c.local_port.to_string()),
        ]),
    ))?;
    let mut copy = events::file(
        app,
        ts + SECOND,
        &ah.system,
        "FileCreated",
        proc::PSEXESVC.path,
        &proc::PSEXESVC.sha256(),
        proc::PSEXESVC.size,
    );
    copy.set("RequestProtocol", "Smb")
        .set("RequestSourceIP", paw.ip.as_str())
        .set("RequestAccountName", admin.sam.as_str())
        .set("ShareName", "ADMIN$");
    tr.push(copy)?;
    let mut installed = events::misc(
        app,
        ts + 2 * SECOND,
        &ah.services,
        "ServiceInstalled",
        json!({"ServiceName": "PSEXESVC", "ServiceAccount": "LocalSystem", "ServiceStartType": 3, "ServiceType": 16}),
    );
    installed
        .set("FileName", "PSEXESVC.exe")
        .set("FolderPath", proc::PSEXESVC.path);
    tr.push(installed)?;
    let svc = Proc::child(
        &ah.services,
        &proc::PSEXESVC,
        rng.pid(),
        "C:\\Windows\\PSEXESVC.exe",
        ts + 3 * SECOND,
    );
    tr.push(events::process_created(app, &svc, &ah.services))?;
    let remote = Proc::child(
        &svc,
        &proc::CMD,
        rng.pid(),
        "\"cmd\" /c \"sc query W3SVC & iisreset /status\"",
        ts + 4 * SECOND,
    )
    .run_as(aa.clone(), "High", logon_id);
    tr.step(
        events::process_created(app, &remote, &svc),
        "The command runs as the admin, not as SYSTEM",
    )?;

    let mut sc = tr.finish(
        "benign-admin-psexec",
        "Benign: an administrator's PsExec from the PAW",
        false,
    );
    sc.summary = format!(
        "{} logs on to {} and uses Sysinternals PsExec from C:\\Tools to check IIS on {}: no stolen credentials, no -s, no password on the command line, run from the privileged access workstation.",
        admin.upn, paw.name, app.name
    );
    sc.devices = vec![paw.name.clone(), app.name.clone()];
    sc.users = vec![admin.upn.clone()];
    sc.ips = vec![paw.ip.clone(), app.ip.clone()];
    sc.techniques = strings(&["T1569.002", "T1021.002"]);
    sc.tactics = strings(&["Execution", "LateralMovement"]);
    sc.expected_rules = strings(&[
        "Psexec Execution",
        "PsExec Service Execution",
        "PsExec Service File Creation",
    ]);
    let account = format!("{}\\{}", NETBIOS.to_lowercase(), admin.sam);
    sc.expected_incidents = vec![
        incident(
            &[&paw.name],
            &[&account],
            &["Execution", "LateralMovement"],
            "Medium",
            "at_most",
        ),
        incident(&[&app.name], &[], &["Execution"], "Medium", "at_most"),
    ];
    sc.notes = vec![
        "PsExec rules of low and medium level may fire; the incident they form must stay below High.".into(),
        "The administrator accepted the PsExec licence long ago, so the command line has no -accepteula. With it, the 'Potential Execution of Sysinternals Tools' rule (tagged resource-development) adds a third tactic and Vigil raises the incident to High: a false positive worth knowing about.".into(),
    ];
    Ok(Some(sc))
}

pub fn nightly_backup(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<Option<Scenario>, Error> {
    let org = ctx.org;
    let fs = org.device(Role::FileServer);
    let bkp = org.device(Role::Backup);
    let svc_user = &org.users[org.cast.backup_service];
    let sa = Account::of(svc_user);
    let mut rng = ctx.rng("scenario-backup");
    let mut tr = Track::new(sink);
    let fh = Host::of(ctx, fs);
    let bh = Host::of(ctx, bkp);
    let depts = [
        "Engineering",
        "Finance",
        "Sales",
        "Operations",
        "HR",
        "Research",
        "Legal",
        "Marketing",
    ];
    let mut total = 0;
    let mut nights = 0;
    for day in ctx.clock.days() {
        let t0 = day.at(1.0) + rng.range(0, 5) * MINUTE;
        if !ctx.clock.contains(t0) || t0 + 3_600_000 >= ctx.clock.end {
            continue;
        }
        nights += 1;
        let task = Proc::child(fh.scheduler(), &proc::ROBOCOPY, rng.pid(), format!("robocopy.exe D:\\Shares \\\\{}\\Backup\\TRE-FS01 /MIR /B /COPY:DATSO /R:1 /W:1 /NP /LOG:C:\\BackupLogs\\shares-{}.log", bkp.name, day.index), t0)
            .run_as(sa.clone(), "High", 0x5A_0000 + day.index as i64);
        let row = events::process_created(fs, &task, fh.scheduler());
        if nights == 1 {
            tr.step(row, "The nightly backup task starts robocopy in backup mode as the backup service account")?;
        } else {
            tr.push(row)?;
        }
        let lid = format!("0x{:x}", task.logon_id);
        tr.push(security_event(
            fs,
            t0 - SECOND,
            4672,
            &f(&[
                ("SubjectUserSid", &sa.sid),
                ("SubjectUserName", &svc_user.sam),
                ("SubjectDomainName", NETBIOS),
                ("SubjectLogonId", &lid),
                (
                    "PrivilegeList",
                    "SeBackupPrivilege\n\t\t\tSeRestorePrivilege",
                ),
            ]),
        ))?;
        let c = Conn::out(fs, &bkp.ip, 445, "", rng.range(49_152, 65_535));
        tr.push(events::network(fs, t0 + SECOND, &task, &c))?;
        let files = ctx.scaled(rng.range(35, 70) as f64);
        let mut t = t0 + 5 * SECOND;
        for n in 0..files {
            let dept = depts[rng.index(depts.len())];
            let name = format!(
                "{} {}.{}",
                rng.pick(&[
                    "Weekly report",
                    "Meeting notes",
                    "Planning",
                    "Overview",
                    "Checklist",
                    "Drawing",
                    "Order list"
                ]),
                n,
                rng.pick(&["xlsx", "docx", "pdf", "SLDPRT"])
            );
            let path = format!("E:\\Backup\\TRE-FS01\\{dept}\\{name}");
            let mut row = events::file(
                bkp,
                t,
                &bh.system,
                "FileCreated",
                &path,
                &digest_hex(&["backup", &path, &day.index.to_string()], 64),
                rng.range(40_000, 20_000_000),
            );
            row.set("RequestProtocol", "Smb")
                .set("RequestSourceIP", fs.ip.as_str())
                .set("RequestAccountName", svc_user.sam.as_str())
                .set("RequestAccountDomain", NETBIOS.to_lowercase())
                .set("ShareName", "Backup");
            tr.push(row)?;
            t += rng.range(1, 6) * SECOND;
            total += 1;
        }
    }
    let mut sc = tr.finish(
        "benign-nightly-backup",
        "Benign: the nightly backup copies many files",
        false,
    );
    sc.summary = format!(
        "Every night at 01:00 the backup task on {} runs robocopy /B as {} and copies the changed files of D:\\Shares to {} ({total} files over {nights} nights). Many files, at night, with backup privileges: like exfiltration on the surface, but to the company's own backup server by its service account.",
        fs.name, svc_user.sam, bkp.name
    );
    sc.devices = vec![fs.name.clone(), bkp.name.clone()];
    sc.users = vec![svc_user.upn.clone()];
    sc.ips = vec![fs.ip.clone(), bkp.ip.clone()];
    sc.techniques = vec![];
    sc.tactics = vec![];
    let account = format!("{}\\{}", NETBIOS.to_lowercase(), svc_user.sam);
    sc.expected_incidents = vec![incident(
        &[&fs.name, &bkp.name],
        &[&account],
        &[],
        "Low",
        "at_most",
    )];
    sc.notes = vec!["No alert is expected; if a rule fires on robocopy it must not make a high-severity incident.".into()];
    Ok(Some(sc))
}
