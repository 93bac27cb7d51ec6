//! The Windows Security log as Sentinel's `SecurityEvent` holds it: logons on the
//! workstations and servers, Kerberos tickets on the domain controller, share access
//! on the file server.

use serde_json::{Map, Value as Json};
use vigil_schema::{Catalog, KqlType};

use super::{Ctx, shifts};
use crate::Error;
use crate::clock::SECOND;
use crate::org::{DOMAIN, Device, NETBIOS, Role};
use crate::sink::Row;
use crate::sink::Sink;

/// Event data of one Security event: name and value pairs, in the order Windows
/// writes them.
pub type SecurityFields = Vec<(&'static str, String)>;

fn activity(id: i64) -> &'static str {
    match id {
        4624 => "4624 - An account was successfully logged on.",
        4625 => "4625 - An account failed to log on.",
        4648 => "4648 - A logon was attempted using explicit credentials.",
        4672 => "4672 - Special privileges assigned to new logon.",
        4697 => "4697 - A service was installed in the system.",
        4768 => "4768 - A Kerberos authentication ticket (TGT) was requested.",
        4769 => "4769 - A Kerberos service ticket was requested.",
        4771 => "4771 - Kerberos pre-authentication failed.",
        5140 => "5140 - A network share object was accessed.",
        5145 => {
            "5145 - A network share object was checked to see whether client can be granted desired access."
        }
        _ => "",
    }
}

/// A `SecurityEvent` row on `dev`. Fields that are columns of the table go there too;
/// all of them go to `EventData` (JSON text), where Sigma rules look for the rest.
pub fn security_event(dev: &Device, time: i64, id: i64, fields: &SecurityFields) -> Row {
    let mut row = Row::new("SecurityEvent", time);
    let computer = format!("{}.{DOMAIN}", dev.host);
    row.set("Computer", computer)
        .set("EventID", id)
        .set("Activity", activity(id))
        .set("Channel", "Security")
        .set("EventSourceName", "Microsoft-Windows-Security-Auditing")
        .set("SourceSystem", "OpsManager")
        .set("DeviceId", dev.id.as_str())
        .set("EventOriginId", format!("{}-{}", dev.id, time))
        .set(
            "Keywords",
            if matches!(id, 4625 | 4771) {
                "0x8010000000000000"
            } else {
                "0x8020000000000000"
            },
        );
    let mut data = Map::new();
    for (k, v) in fields {
        data.insert((*k).to_string(), Json::String(v.clone()));
        match *k {
            "LogonType" => {
                row.set("LogonType", v.parse::<i64>().unwrap_or(0));
            }
            "TargetUserName" => {
                row.set("TargetUserName", v.as_str());
                row.set("AccountName", v.as_str());
            }
            "TargetDomainName" => {
                row.set("TargetDomainName", v.as_str());
                row.set("AccountDomain", v.as_str());
            }
            key => {
                let numeric = Catalog::builtin()
                    .table("SecurityEvent")
                    .and_then(|t| t.column(key))
                    .is_some_and(|c| matches!(c.kql_type, KqlType::Int | KqlType::Long));
                match (numeric, v.parse::<i64>()) {
                    (true, Ok(n)) => {
                        row.maybe(key, n);
                    }
                    (true, Err(_)) => {}
                    (false, _) => {
                        row.maybe(key, v.as_str());
                    }
                }
            }
        }
    }
    let who = fields
        .iter()
        .find(|(k, _)| *k == "TargetUserName")
        .or_else(|| fields.iter().find(|(k, _)| *k == "SubjectUserName"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let domain = fields
        .iter()
        .find(|(k, _)| *k == "TargetDomainName")
        .map(|(_, v)| v.to_uppercase())
        .unwrap_or_else(|| NETBIOS.to_string());
    if !who.is_empty() {
        let name = who.split('@').next().unwrap_or(&who).to_string();
        row.set(
            "Account",
            format!("{}\\{name}", domain.split('.').next().unwrap_or(&domain)),
        )
        .set(
            "AccountType",
            if name.ends_with('$') {
                "Machine"
            } else {
                "User"
            },
        );
    }
    row.json_text("EventData", &Json::Object(data));
    row
}

fn f(pairs: &[(&'static str, &str)]) -> SecurityFields {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

pub fn generate(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    let org = ctx.org;
    let dc = org.device(Role::DomainController);
    let fs = org.device(Role::FileServer);
    let realm = DOMAIN.to_uppercase();
    for user in org.people() {
        let Some(ws) = org.user_device(user.index) else {
            continue;
        };
        let mut rng = ctx.rng(&format!("security-{}", user.sam));
        let ip = format!("::ffff:{}", ws.ip);
        for shift in shifts(ctx, user.index) {
            let t = shift.start;
            let upn_realm = format!("{}@{realm}", user.sam);
            let logon_id = format!("0x{:x}", rng.range(0x100_0000, 0x7FF_FFFF));
            sink.push(security_event(
                ws,
                t,
                4624,
                &f(&[
                    ("SubjectUserSid", "S-1-5-18"),
                    ("SubjectUserName", &format!("{}$", ws.host)),
                    ("SubjectDomainName", NETBIOS),
                    ("TargetUserSid", &user.sid),
                    ("TargetUserName", &user.sam),
                    ("TargetDomainName", NETBIOS),
                    ("TargetLogonId", &logon_id),
                    ("LogonType", if shift.remote { "11" } else { "2" }),
                    ("LogonProcessName", "User32 "),
                    ("AuthenticationPackageName", "Negotiate"),
                    ("WorkstationName", &ws.host),
                    ("ProcessName", "C:\\Windows\\System32\\svchost.exe"),
                    ("IpAddress", "127.0.0.1"),
                    ("IpPort", "0"),
                ]),
            ))?;
            if shift.remote {
                continue;
            }
            sink.push(security_event(
                dc,
                t - 2 * SECOND,
                4768,
                &f(&[
                    ("TargetUserName", &user.sam),
                    ("TargetDomainName", NETBIOS),
                    ("TargetSid", &user.sid),
                    ("ServiceName", "krbtgt"),
                    ("ServiceSid", &format!("{}-502", crate::org::DOMAIN_SID)),
                    ("TicketOptions", "0x40810010"),
                    ("Status", "0x0"),
                    ("TicketEncryptionType", "0x12"),
                    ("PreAuthType", "2"),
                    ("IpAddress", &ip),
                    ("IpPort", &rng.range(49_152, 65_535).to_string()),
                ]),
            ))?;
            let mut services = vec![
                "cifs/tre-fs01.tamarack.example",
                "ldap/tre-dc01.tamarack.example",
                "HTTP/intranet.tamarack.example",
            ];
            if user.department == "Finance" {
                services.push("ERPSvc/tre-app01.tamarack.example:8443");
            }
            for (k, svc) in services.iter().enumerate() {
                let service_name = match *svc {
                    s if s.starts_with("HTTP/intranet") => "svc_web".to_string(),
                    s if s.starts_with("ERPSvc") => "svc_erp".to_string(),
                    s => format!(
                        "{}$",
                        s.split('/')
                            .nth(1)
                            .and_then(|h| h.split('.').next())
                            .unwrap_or("tre-dc01")
                            .to_uppercase()
                    ),
                };
                sink.push(security_event(
                    dc,
                    t + (k as i64 + 1) * 3 * SECOND,
                    4769,
                    &f(&[
                        ("TargetUserName", &upn_realm),
                        ("TargetDomainName", &realm),
                        ("ServiceName", &service_name),
                        (
                            "ServiceSid",
                            &format!("{}-{}", crate::org::DOMAIN_SID, 1000 + k),
                        ),
                        ("TicketOptions", "0x40810000"),
                        ("TicketEncryptionType", "0x12"),
                        ("IpAddress", &ip),
                        ("IpPort", &rng.range(49_152, 65_535).to_string()),
                        ("Status", "0x0"),
                        ("LogonGuid", &format!("{{{}}}", rng.guid())),
                        ("TransmittedServices", "-"),
                    ]),
                ))?;
            }
            let share = format!("\\\\*\\{}", user.department);
            sink.push(security_event(
                fs,
                t + 40 * SECOND,
                4624,
                &f(&[
                    ("SubjectUserSid", "S-1-0-0"),
                    ("SubjectUserName", "-"),
                    ("SubjectDomainName", "-"),
                    ("TargetUserSid", &user.sid),
                    ("TargetUserName", &user.sam),
                    ("TargetDomainName", NETBIOS),
                    ("TargetLogonId", &logon_id),
                    ("LogonType", "3"),
                    ("LogonProcessName", "Kerberos"),
                    ("AuthenticationPackageName", "Kerberos"),
                    ("WorkstationName", "-"),
                    ("IpAddress", &ws.ip),
                    ("IpPort", &rng.range(49_152, 65_535).to_string()),
                ]),
            ))?;
            sink.push(security_event(
                fs,
                t + 41 * SECOND,
                5140,
                &f(&[
                    ("SubjectUserSid", &user.sid),
                    ("SubjectUserName", &user.sam),
                    ("SubjectDomainName", NETBIOS),
                    ("SubjectLogonId", &logon_id),
                    ("ObjectType", "File"),
                    ("IpAddress", &ws.ip),
                    ("IpPort", &rng.range(49_152, 65_535).to_string()),
                    ("ShareName", &share),
                    (
                        "ShareLocalPath",
                        &format!("\\??\\D:\\Shares\\{}", user.department),
                    ),
                    ("AccessMask", "0x1"),
                    ("AccessList", "%%4416"),
                ]),
            ))?;
        }
    }
    Ok(())
}
