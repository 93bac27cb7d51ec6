//! Scenario 4: Kerberoasting from a workstation: Rubeus asks the domain controller for
//! RC4 service tickets of every account with an SPN, to crack their passwords offline.

use serde_json::json;

use super::phishing::pick_shift;
use super::{Track, incident, strings};
use crate::Error;
use crate::activity::{Ctx, SecurityFields, security_event};
use crate::clock::{MINUTE, SECOND};
use crate::events::{self, Conn};
use crate::host::{Host, Session};
use crate::org::{DOMAIN, DOMAIN_SID, NETBIOS, Role};
use crate::proc::{self, Proc};
use crate::sink::Sink;
use crate::truth::Scenario;

pub fn inject(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<Option<Scenario>, Error> {
    let org = ctx.org;
    let user = &org.users[org.cast.roaster];
    let (Some(ws), Some(shift)) = (org.user_device(user.index), pick_shift(ctx, user.index, 9))
    else {
        return Ok(None);
    };
    let dc = org.device(Role::DomainController);
    let mut rng = ctx.rng("scenario-kerberoast");
    let mut tr = Track::new(sink);
    let host = Host::of(ctx, ws);
    let session = Session::of(ctx, &host, user, &shift);
    let t0 = shift.start + 5 * 60 * MINUTE + rng.range(0, 40) * MINUTE;
    let origin = "https://tools-share.example/releases/Rubeus.exe";
    let mut dl = events::file(
        ws,
        t0,
        &session.edge,
        "FileCreated",
        proc::RUBEUS.path,
        &proc::RUBEUS.sha256(),
        proc::RUBEUS.size,
    );
    dl.set("FileOriginUrl", origin);
    tr.step(
        dl,
        "Rubeus is downloaded with the browser and saved to C:\\Users\\Public",
    )?;
    let ps = Proc::child(
        &session.explorer,
        &proc::POWERSHELL,
        rng.pid(),
        "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" ",
        t0 + 2 * MINUTE,
    );
    tr.push(events::process_created(ws, &ps, &session.explorer))?;
    let outfile = "C:\\Users\\Public\\roast.txt";
    let rubeus = Proc::child(
        &ps,
        &proc::RUBEUS,
        rng.pid(),
        format!("\"C:\\Users\\Public\\Rubeus.exe\" kerberoast /outfile:{outfile} /nowrap"),
        t0 + 3 * MINUTE,
    );
    tr.step(
        events::process_created(ws, &rubeus, &ps),
        "Rubeus kerberoast runs from PowerShell",
    )?;
    let c = Conn::out(ws, &dc.ip, 389, "", rng.range(49_152, 65_535));
    tr.push(events::network(ws, rubeus.created + SECOND, &rubeus, &c))?;
    let realm = DOMAIN.to_uppercase();
    let mut t = rubeus.created + 2 * SECOND;
    let mut services = Vec::new();
    for svc in org.users.iter().filter(|u| u.spn.is_some()) {
        let c = Conn::out(ws, &dc.ip, 88, "", rng.range(49_152, 65_535));
        tr.push(events::network(ws, t, &rubeus, &c))?;
        let ip = format!("::ffff:{}", ws.ip);
        let fields: SecurityFields = vec![
            ("TargetUserName", format!("{}@{realm}", user.sam)),
            ("TargetDomainName", realm.clone()),
            ("ServiceName", svc.sam.clone()),
            ("ServiceSid", svc.sid.clone()),
            ("TicketOptions", "0x40810000".into()),
            ("TicketEncryptionType", "0x17".into()),
            ("IpAddress", ip),
            ("IpPort", rng.range(49_152, 65_535).to_string()),
            ("Status", "0x0".into()),
            ("LogonGuid", format!("{{{}}}", rng.guid())),
            ("TransmittedServices", "-".into()),
        ];
        let row = security_event(dc, t + 30, 4769, &fields);
        if services.is_empty() {
            tr.step(row, "The domain controller issues RC4 (0x17) service tickets for every account with an SPN")?;
        } else {
            tr.push(row)?;
        }
        services.push(svc.sam.clone());
        t += rng.range(150, 600);
    }
    tr.step(
        events::file(ws, t + SECOND, &rubeus, "FileCreated", outfile, "", 14_200),
        "The ticket hashes are written to a file to crack offline",
    )?;
    let mut cmd = events::misc(
        ws,
        t0 + 3 * MINUTE - SECOND,
        &ps,
        "PowerShellCommand",
        json!({"Command": "Start-Process"}),
    );
    cmd.set("ProcessId", ps.pid);
    tr.push(cmd)?;

    let mut sc = tr.finish(
        "kerberoasting",
        "Kerberoasting from a workstation with Rubeus",
        true,
    );
    sc.summary = format!(
        "{} runs Rubeus on {} and requests RC4-encrypted service tickets for {} service accounts ({}) from {} within seconds.",
        user.upn,
        ws.name,
        services.len(),
        services.join(", "),
        dc.name
    );
    sc.devices = vec![ws.name.clone(), dc.name.clone()];
    sc.users = vec![user.upn.clone()];
    sc.ips = vec![ws.ip.clone(), dc.ip.clone()];
    sc.domains = strings(&["tools-share.example"]);
    sc.techniques = strings(&["T1558.003", "T1105"]);
    sc.tactics = strings(&["CredentialAccess"]);
    sc.expected_rules = strings(&[
        "HackTool - Rubeus Execution",
        "Suspicious Binaries and Scripts in Public Folder",
        "Network Connection Initiated From Process Located In Potentially Suspicious Or Uncommon Location",
        "Uncommon Outbound Kerberos Connection",
        "Kerberoasting Activity - Initial Query",
        "Suspicious Kerberos RC4 Ticket Encryption",
    ]);
    let account = format!("{}\\{}", NETBIOS.to_lowercase(), user.sam);
    let dc_account = format!("{realm}\\{}@{realm}", user.sam);
    sc.expected_incidents = vec![
        incident(
            &[&ws.name],
            &[&account],
            &["CredentialAccess"],
            "High",
            "at_least",
        ),
        incident(
            &[&dc.name],
            &[&dc_account],
            &["CredentialAccess"],
            "Medium",
            "at_least",
        ),
    ];
    sc.notes = vec![
        "The Rubeus alerts (workstation, account in DOMAIN\\name form) and the 4769 alerts (domain controller, account as name@REALM) share no entity key, so Vigil keeps them in two incidents; an analyst joins them by the workstation address in IpAddress.".into(),
        format!("Service accounts with an SPN: {}. Normal 4769 events in the data use AES (0x12).", services.join(", ")),
        format!("Domain SID prefix {DOMAIN_SID}."),
    ];
    Ok(Some(sc))
}
