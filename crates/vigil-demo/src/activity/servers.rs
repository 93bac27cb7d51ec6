//! Servers: the domain controller answering logons, the file server serving the
//! department shares, the application and database servers, and the Linux machines
//! (the internet-facing wiki and reverse proxy, the build and monitoring servers).

use super::endpoint::background;
use super::{Ctx, shifts};
use crate::Error;
use crate::clock::{HOUR, MINUTE, SECOND};
use crate::events::{self, Conn, Logon};
use crate::host::Host;
use crate::org::{Device, Role};
use crate::proc::{self, Account, Image, Proc};
use crate::rng::{Rng, digest_hex};
use crate::sink::Sink;

pub fn generate(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    for dev in ctx.org.windows_servers() {
        let host = Host::of(ctx, dev);
        background(ctx, &host, sink)?;
        service_processes(ctx, &host, sink)?;
    }
    clients(ctx, sink)?;
    for dev in ctx.org.devices.iter().filter(|d| d.role.is_linux()) {
        linux(ctx, dev, sink)?;
    }
    Ok(())
}

/// The role's service process, started before the window, and a heartbeat of its
/// work: SQL Server's checkpoints, IIS worker recycling.
fn service_processes(ctx: &Ctx<'_>, host: &Host<'_>, sink: &mut Sink) -> Result<(), Error> {
    let dev = host.dev;
    let mut rng = ctx.rng(&format!("service-{}", dev.name));
    let svc = |sam: &str| {
        ctx.org
            .service(sam)
            .map(Account::of)
            .unwrap_or_else(Account::system)
    };
    match dev.role {
        Role::Sql => {
            let p = Proc::child(&host.services, &proc::SQLSERVR, rng.pid(), "\"C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe\" -sMSSQLSERVER", host.boot + MINUTE)
                .run_as(svc("svc_sql"), "High", 0x3E4_1000);
            for day in ctx.clock.days() {
                for h in [2.0, 14.0] {
                    let t = day.at(h + rng.unit() * 0.2);
                    if ctx.clock.contains(t) {
                        let path = format!("D:\\MSSQL\\Backup\\ERP_{}.trn", day.index);
                        sink.push(events::file(
                            dev,
                            t,
                            &p,
                            "FileCreated",
                            &path,
                            &digest_hex(&["trn", &path], 64),
                            rng.range(5_000_000, 90_000_000),
                        ))?;
                    }
                }
            }
        }
        Role::App => {
            for day in ctx.clock.days() {
                let t = day.at(3.0 + rng.unit());
                if !ctx.clock.contains(t) {
                    continue;
                }
                let w3wp = Proc::child(&host.svchost[0], &proc::W3WP, rng.pid(), "c:\\windows\\system32\\inetsrv\\w3wp.exe -ap \"Intranet\" -v \"v4.0\" -l \"webengine4.dll\" -a \\\\.\\pipe\\iisipm -h \"C:\\inetpub\\temp\\apppools\\Intranet\\Intranet.config\" -w \"\" -m 0", t)
                    .run_as(svc("svc_web"), "High", 0x3E4_2000);
                sink.push(events::process_created(dev, &w3wp, &host.svchost[0]))?;
                let log = format!("C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex{}.log", day.index);
                sink.push(events::file(
                    dev,
                    t + SECOND,
                    &w3wp,
                    "FileCreated",
                    &log,
                    "",
                    1_024,
                ))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// What people's working days cause on the servers: network logons and SMB sessions
/// on the file server with the files they change there, Kerberos and LDAP traffic to
/// the domain controller, intranet requests to the application server.
fn clients(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    let org = ctx.org;
    let fs = org.device(Role::FileServer);
    let dc = org.device(Role::DomainController);
    let app = org.device(Role::App);
    let fs_host = Host::of(ctx, fs);
    let dc_host = Host::of(ctx, dc);
    let app_host = Host::of(ctx, app);
    for user in org.people() {
        let Some(ws) = org.user_device(user.index) else {
            continue;
        };
        let mut rng = ctx.rng(&format!("clients-{}", user.sam));
        let account = Account::of(user);
        for shift in shifts(ctx, user.index) {
            let t0 = shift.start + rng.range(30, 200) * SECOND;
            let logon_id = rng.range(0x10_0000, 0xFF_FFFF);
            for (server, host) in [(fs, &fs_host), (dc, &dc_host)] {
                let l = Logon {
                    action: "LogonSuccess",
                    logon_type: "Network",
                    account: &account,
                    protocol: "Kerberos",
                    logon_id,
                    remote_ip: Some(&ws.ip),
                    remote_device: Some(&ws.name),
                    is_local_admin: false,
                    failure: None,
                };
                sink.push(events::logon(
                    server,
                    t0 + rng.range(1, 30) * SECOND,
                    &host.lsass,
                    &l,
                ))?;
            }
            let c = Conn::inbound(fs, &ws.ip, rng.range(49_152, 65_535), 445);
            sink.push(events::network(fs, t0, &fs_host.system, &c))?;
            let changes = ctx.scaled(rng.range(1, 5) as f64);
            for _ in 0..changes {
                let t = rng.range(shift.start + 10 * MINUTE, shift.end);
                share_file(
                    fs,
                    &fs_host,
                    user.department,
                    &account,
                    &ws.ip,
                    t,
                    &mut rng,
                    sink,
                )?;
            }
            if rng.chance(0.6) {
                let t = rng.range(shift.start, shift.end);
                let c = Conn::inbound(app, &ws.ip, rng.range(49_152, 65_535), 443);
                sink.push(events::network(app, t, &app_host.system, &c))?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn share_file(
    fs: &Device,
    host: &Host<'_>,
    dept: &str,
    who: &Account,
    from: &str,
    t: i64,
    rng: &mut Rng,
    sink: &mut Sink,
) -> Result<(), Error> {
    let name = *rng.pick(&[
        "Weekly report.xlsx",
        "Meeting notes.docx",
        "Planning.xlsx",
        "Overview.pptx",
        "Checklist.docx",
    ]);
    let share = dept.to_string();
    let path = format!("D:\\Shares\\{share}\\{name}");
    let mut row = events::file(
        fs,
        t,
        &host.system,
        "FileModified",
        &path,
        &digest_hex(&["fs", &path, &t.to_string()], 64),
        rng.range(30_000, 3_000_000),
    );
    row.set("RequestProtocol", "Smb")
        .set("RequestSourceIP", from)
        .set("RequestAccountName", who.name.as_str())
        .set("RequestAccountDomain", who.domain.as_str())
        .set("RequestAccountSid", who.sid.as_str())
        .set("ShareName", share);
    sink.push(row)
}

/// A Linux server's logons and connections.
// Limitation: Linux process creations are not written to DeviceProcessEvents. Vigil's
// hunt runs the Windows process_creation rules over every row of that table, and Linux
// paths (no backslash, no .exe) trip rules such as "Execution Of Non-Existing File" at
// high severity; until the detection mapping can tell the rows' OS apart, the Linux
// processes only appear as the initiators of the network and logon events below.
fn linux(ctx: &Ctx<'_>, dev: &Device, sink: &mut Sink) -> Result<(), Error> {
    let mut rng = ctx.rng(&format!("linux-{}", dev.name));
    let host = dev.host.as_str();
    let root = Account::linux(host, "root", 0);
    let boot = ctx.clock.start - rng.range(24, 900) * HOUR;
    let systemd = Proc::new(&proc::CRON, 1, "/sbin/init", boot).run_as(root.clone(), "", 0);
    let cron = Proc::child(
        &systemd,
        &proc::CRON,
        rng.range(500, 900),
        "/usr/sbin/cron -f -P",
        boot + 5 * SECOND,
    );
    let sshd = Proc::child(
        &systemd,
        &proc::SSHD,
        rng.range(900, 1200),
        "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",
        boot + 6 * SECOND,
    );
    let (service, account, port): (&Image, Account, i64) = match dev.role {
        Role::LinuxWiki => (
            &proc::JAVA_CONFLUENCE,
            Account::linux(host, "confluence", 1001),
            8090,
        ),
        Role::LinuxWeb => (&proc::NGINX, Account::linux(host, "www-data", 33), 443),
        Role::LinuxBuild => (
            &proc::JAVA_JENKINS,
            Account::linux(host, "jenkins", 114),
            8080,
        ),
        _ => (
            &proc::PROMETHEUS,
            Account::linux(host, "prometheus", 998),
            9090,
        ),
    };
    let daemon = Proc::child(&systemd, service, rng.range(1200, 3000), match dev.role {
        Role::LinuxWiki => "/opt/atlassian/confluence/jre//bin/java -Djava.util.logging.config.file=/opt/atlassian/confluence/conf/logging.properties -Xms1024m -Xmx4096m -Dconfluence.home=/var/atlassian/application-data/confluence org.apache.catalina.startup.Bootstrap start",
        Role::LinuxWeb => "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;",
        Role::LinuxBuild => "/usr/bin/java -Djava.awt.headless=true -jar /usr/share/java/jenkins.war --webroot=/var/cache/jenkins/war --httpPort=8080",
        _ => "/usr/local/bin/prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/var/lib/prometheus",
    }, boot + 20 * SECOND).run_as(account, "", 0);
    let admin = &ctx.org.users[ctx.org.cast.admin];
    let paw = ctx.org.device(Role::AdminWorkstation);
    for day in ctx.clock.days() {
        // Cron: log rotation at night, a health check every two hours.
        for h in (0..24).step_by(2) {
            let t = day.at(h as f64 + rng.unit() * 0.05);
            if !ctx.clock.contains(t) {
                continue;
            }
            if h == 6 {
                let apt = Proc::child(
                    &cron,
                    &proc::APT,
                    rng.range(3000, 60_000),
                    "/usr/bin/apt-get -qq update",
                    t + 2 * MINUTE,
                );
                let mirror = super::public_ip("archive.ubuntu-mirror.example");
                let c = Conn::out(
                    dev,
                    &mirror,
                    80,
                    "archive.ubuntu-mirror.example",
                    rng.range(32_768, 60_999),
                );
                sink.push(events::network(dev, t + 2 * MINUTE + SECOND, &apt, &c))?;
            }
        }
        // Requests to the service: from the internet for the exposed ones, from the
        // office otherwise; more during the working day.
        let requests = ctx.scaled(if day.is_weekend() { 12.0 } else { 40.0 });
        for _ in 0..requests {
            let hour = if rng.chance(0.75) {
                8.0 + rng.unit() * 10.0
            } else {
                rng.unit() * 24.0
            };
            let t = day.at(hour);
            if !ctx.clock.contains(t) {
                continue;
            }
            let from = if dev.internet_facing {
                format!(
                    "{}.{}",
                    rng.pick(&["198.51.100", "203.0.113"]),
                    rng.range(30, 99)
                )
            } else {
                format!("10.10.{}.{}", 20, rng.range(10, 60))
            };
            let c = Conn::inbound(dev, &from, rng.range(32_768, 65_535), port);
            sink.push(events::network(dev, t, &daemon, &c))?;
        }
        // The administrator logs in over SSH on some working days.
        if !day.is_weekend() && rng.chance(0.35) {
            let t = day.at(10.0 + rng.unit() * 6.0);
            if ctx.clock.contains(t) {
                let acct = Account::linux(host, &admin.sam, 1000);
                let l = Logon {
                    action: "LogonSuccess",
                    logon_type: "Network",
                    account: &acct,
                    protocol: "",
                    logon_id: rng.range(1000, 90_000),
                    remote_ip: Some(&paw.ip),
                    remote_device: None,
                    is_local_admin: true,
                    failure: None,
                };
                sink.push(events::logon(dev, t, &sshd, &l))?;
                let c = Conn::inbound(dev, &paw.ip, rng.range(49_152, 65_535), 22);
                sink.push(events::network(dev, t - SECOND, &sshd, &c))?;
            }
        }
        // Internet noise: SSH password guessing against exposed hosts is refused.
        if dev.internet_facing {
            for _ in 0..ctx.scaled(6.0) {
                let t = day.midnight + rng.below(24 * HOUR as u64) as i64;
                if !ctx.clock.contains(t) {
                    continue;
                }
                let from = format!("203.0.113.{}", rng.range(120, 250));
                let name = *rng.pick(&["root", "admin", "ubuntu", "test", "oracle"]);
                let acct = Account::linux(host, name, 0);
                let l = Logon {
                    action: "LogonFailed",
                    logon_type: "Network",
                    account: &acct,
                    protocol: "",
                    logon_id: 0,
                    remote_ip: Some(&from),
                    remote_device: None,
                    is_local_admin: false,
                    failure: Some("InvalidUserNameOrPassword"),
                };
                sink.push(events::logon(dev, t, &sshd, &l))?;
            }
        }
    }
    Ok(())
}
