//! Workstations: logons, the apps people use, files they save, sites they open, and
//! the background work of Windows itself.

use serde_json::json;

use super::sites::{self, WEB, public_ip};
use super::{Ctx, Shift, shifts};
use crate::Error;
use crate::clock::{HOUR, MINUTE, SECOND};
use crate::events::{self, Conn, Logon};
use crate::host::{Host, Session};
use crate::org::{Device, PROXY_IP, PROXY_PORT, User};
use crate::proc::{self, Image, Proc};
use crate::rng::{Rng, digest_hex};
use crate::sink::Sink;

/// Documents people in each department work on.
fn documents(dept: &str) -> &'static [&'static str] {
    match dept {
        "Finance" => &[
            "Q1 forecast.xlsx",
            "Supplier payments March.xlsx",
            "Budget 2026 v3.xlsx",
            "Audit findings.docx",
            "Cost centre report.xlsx",
        ],
        "Engineering" | "Research" => &[
            "Pump housing rev C.SLDPRT",
            "Test plan valve assembly.docx",
            "Tolerance study.xlsx",
            "Gearbox drawing.SLDDRW",
            "Design review notes.docx",
        ],
        "Sales" => &[
            "Customer pricing 2026.xlsx",
            "Proposal Harbour Logistics.docx",
            "Pipeline review.pptx",
            "Quote Q-4471.docx",
        ],
        "HR" => &[
            "Onboarding checklist.docx",
            "Salary review 2026.xlsx",
            "Holiday planner.xlsx",
            "Job description engineer.docx",
        ],
        "Legal" => &[
            "Supply agreement draft.docx",
            "NDA template.docx",
            "Claims register.xlsx",
        ],
        "Marketing" => &[
            "Trade fair plan.pptx",
            "Brochure text.docx",
            "Campaign results.xlsx",
        ],
        "IT" => &[
            "Server inventory.xlsx",
            "Change log.docx",
            "Patch schedule.xlsx",
        ],
        "Operations" => &[
            "Production plan week.xlsx",
            "Shipping schedule.xlsx",
            "Quality report.docx",
        ],
        _ => &[
            "Board minutes.docx",
            "Strategy 2026.pptx",
            "Monthly figures.xlsx",
        ],
    }
}

fn app_for(doc: &str) -> &'static Image {
    if doc.ends_with(".xlsx") {
        &proc::EXCEL
    } else if doc.ends_with(".pptx") {
        &proc::POWERPNT
    } else if doc.contains(".SLD") {
        &proc::SOLIDWORKS
    } else {
        &proc::WINWORD
    }
}

/// Modules an app loads when it starts.
fn modules(img: &Image) -> &'static [&'static str] {
    match img.original {
        "WinWord.exe" => &[
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\WWLIB.DLL",
            "C:\\Program Files\\Common Files\\microsoft shared\\Office16\\mso20win32client.dll",
        ],
        "Excel.exe" => &[
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\XLCALL32.DLL",
            "C:\\Program Files\\Common Files\\microsoft shared\\Office16\\mso20win32client.dll",
        ],
        "POWERPNT.EXE" => &["C:\\Program Files\\Microsoft Office\\root\\Office16\\PPCORE.DLL"],
        "Outlook.exe" => &[
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\OLMAPI32.DLL",
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLMIME.DLL",
        ],
        "msedge.exe" => {
            &["C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\133.0.3065.92\\msedge.dll"]
        }
        "ms-teams.exe" => &["C:\\Windows\\System32\\WebView2Loader.dll"],
        "SLDWORKS.exe" => &["C:\\Program Files\\SOLIDWORKS Corp\\SOLIDWORKS\\sldappu.dll"],
        "Acrobat.exe" => &["C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\AcroRd32.dll"],
        _ => &[],
    }
}

pub fn load_modules(dev: &Device, p: &Proc, sink: &mut Sink) -> Result<(), Error> {
    for (i, m) in modules(p.image).iter().enumerate() {
        let sha = digest_hex(&["module", m], 64);
        sink.push(events::image_load(
            dev,
            p.created + 300 + i as i64 * 40,
            p,
            m,
            &sha,
            2_000_000,
        ))?;
    }
    Ok(())
}

fn port(rng: &mut Rng) -> i64 {
    rng.range(49_152, 65_535)
}

/// A connection through the web proxy on behalf of `url`.
fn via_proxy(
    dev: &Device,
    t: i64,
    p: &Proc,
    url: &str,
    rng: &mut Rng,
    sink: &mut Sink,
) -> Result<(), Error> {
    let c = Conn::out(dev, PROXY_IP, PROXY_PORT, url, port(rng));
    sink.push(events::network(dev, t, p, &c))
}

pub fn generate(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    for dev in ctx.org.workstations() {
        let host = Host::of(ctx, dev);
        background(ctx, &host, sink)?;
        // The privileged access workstation is only used with admin accounts, which
        // the scenarios write.
        let Some(owner) = dev
            .primary_user
            .filter(|_| dev.role == crate::org::Role::Workstation)
        else {
            continue;
        };
        let user = &ctx.org.users[owner];
        for shift in shifts(ctx, owner) {
            let session = Session::of(ctx, &host, user, &shift);
            work_day(ctx, &host, user, &shift, &session, sink)?;
        }
    }
    Ok(())
}

/// The logon and the first apps of a working day, then the day's work.
fn work_day(
    ctx: &Ctx<'_>,
    host: &Host<'_>,
    user: &User,
    shift: &Shift,
    s: &Session,
    sink: &mut Sink,
) -> Result<(), Error> {
    let dev = host.dev;
    let mut rng = ctx.rng(&format!("work-{}-{}", dev.name, shift.day.index));
    let admin = user.index == ctx.org.cast.phish_victim;
    let l = Logon {
        action: "LogonSuccess",
        logon_type: if shift.remote {
            "CachedInteractive"
        } else {
            "Interactive"
        },
        account: &s.account,
        protocol: if shift.remote {
            "Negotiate"
        } else {
            "Kerberos"
        },
        logon_id: s.logon_id,
        remote_ip: None,
        remote_device: None,
        is_local_admin: admin,
        failure: None,
    };
    if rng.chance(0.04) {
        let failed = Logon {
            action: "LogonFailed",
            failure: Some("InvalidUserNameOrPassword"),
            logon_id: 0,
            ..l.clone()
        };
        sink.push(events::logon(
            dev,
            s.start - 20 * SECOND,
            &host.lsass,
            &failed,
        ))?;
    }
    sink.push(events::logon(dev, s.start, &host.lsass, &l))?;
    for (p, parent) in [
        (&s.userinit, &host.winlogon),
        (&s.explorer, &s.userinit),
        (&s.onedrive, &s.explorer),
        (&s.teams, &s.explorer),
        (&s.outlook, &s.explorer),
        (&s.edge, &s.explorer),
    ] {
        if p.created < s.end {
            sink.push(events::process_created(dev, p, parent))?;
            load_modules(dev, p, sink)?;
        }
    }
    let sid_key = format!("HKEY_CURRENT_USER\\{}", s.account.sid);
    sink.push(events::registry(
        dev,
        s.explorer.created + 3 * SECOND,
        &s.explorer,
        "RegistryValueSet",
        &format!(
            "{sid_key}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Shell Folders"
        ),
        Some((
            "Personal",
            "String",
            &format!("C:\\Users\\{}\\Documents", s.account.name),
        )),
    ))?;
    for (p, url) in [
        (&s.outlook, sites::MAIL),
        (&s.teams, sites::TEAMS),
        (&s.onedrive, sites::ONEDRIVE),
    ] {
        via_proxy(dev, p.created + 2 * SECOND, p, url, &mut rng, sink)?;
    }
    let hours = (s.end - s.start) as f64 / HOUR as f64;
    let bursts = ctx.scaled(hours * (2.6 + rng.unit() * 1.4));
    for _ in 0..bursts {
        let t = rng.range(s.start + 5 * MINUTE, s.end - MINUTE);
        burst(ctx, host, user, s, t, &mut rng, sink)?;
    }
    Ok(())
}

fn burst(
    ctx: &Ctx<'_>,
    host: &Host<'_>,
    user: &User,
    s: &Session,
    t: i64,
    rng: &mut Rng,
    sink: &mut Sink,
) -> Result<(), Error> {
    let dev = host.dev;
    let kinds: &[(u8, u32)] = if user.department == "IT" {
        &[(0, 22), (1, 30), (2, 16), (3, 8), (4, 6), (5, 14), (6, 2)]
    } else {
        &[(0, 30), (1, 34), (2, 18), (3, 10), (4, 6), (5, 0), (6, 2)]
    };
    let home = format!("C:\\Users\\{}", s.account.name);
    match *rng.weighted(kinds) {
        0 => {
            // Open a document and save it.
            let doc = *rng.pick(documents(user.department));
            let folder = if rng.chance(0.6) {
                format!("{home}\\OneDrive - Tamarack Ridge Engineering\\Documents")
            } else {
                format!("{home}\\Documents")
            };
            let path = format!("{folder}\\{doc}");
            let img = app_for(doc);
            let cmd = format!("\"{}\" /n \"{path}\"", img.path);
            let p = Proc::child(&s.explorer, img, rng.pid(), cmd, t);
            sink.push(events::process_created(dev, &p, &s.explorer))?;
            load_modules(dev, &p, sink)?;
            let sha = digest_hex(&["doc", &path, &t.to_string()], 64);
            let size = rng.range(40_000, 4_000_000);
            let saved = t + rng.range(2, 40) * MINUTE;
            sink.push(events::file(
                dev,
                saved,
                &p,
                "FileModified",
                &path,
                &sha,
                size,
            ))?;
            let lock = format!("{folder}\\~${}", &doc[doc.len().min(2)..]);
            sink.push(events::file(
                dev,
                t + 2 * SECOND,
                &p,
                "FileCreated",
                &lock,
                "",
                162,
            ))?;
            sink.push(events::file(
                dev,
                saved + 5 * SECOND,
                &p,
                "FileDeleted",
                &lock,
                "",
                162,
            ))?;
            via_proxy(
                dev,
                t + 3 * SECOND,
                &p,
                "tamarack.sharepoint.example",
                rng,
                sink,
            )?;
            if rng.chance(0.3) {
                let key = format!(
                    "HKEY_CURRENT_USER\\{}\\Software\\Microsoft\\Office\\16.0\\Common\\Roaming\\Identities",
                    s.account.sid
                );
                sink.push(events::registry(
                    dev,
                    t + 8 * SECOND,
                    &p,
                    "RegistryValueSet",
                    &key,
                    Some(("LastSwitchedTime", "Qword", "133840128000000000")),
                ))?;
            }
            let flaky = img.original == "SLDWORKS.exe" && dev.index == ctx.org.cast.crashy_device;
            if rng.chance(if flaky { 0.5 } else { 0.012 }) {
                crash(dev, &p, saved - MINUTE, rng, sink)?;
            }
        }
        1 => {
            // Browse: a few pages through the proxy, sometimes a download.
            for k in 0..rng.range(1, 4) {
                let site = *rng.weighted(WEB);
                via_proxy(dev, t + k * 20 * SECOND, &s.edge, site, rng, sink)?;
            }
            if rng.chance(0.12) {
                let name = *rng.pick(&[
                    "datasheet.pdf",
                    "invoice.pdf",
                    "catalogue.pdf",
                    "report.pdf",
                    "minutes.pdf",
                ]);
                let path = format!("{home}\\Downloads\\{name}");
                let mut row = events::file(
                    dev,
                    t + 30 * SECOND,
                    &s.edge,
                    "FileCreated",
                    &path,
                    &digest_hex(&["dl", &path, &t.to_string()], 64),
                    rng.range(80_000, 3_000_000),
                );
                row.set(
                    "FileOriginUrl",
                    format!("https://{}/files/{name}", rng.weighted(WEB)),
                );
                sink.push(row)?;
            }
        }
        2 => {
            // Mail: Outlook syncs; sometimes an attachment is opened.
            via_proxy(dev, t, &s.outlook, sites::MAIL, rng, sink)?;
            if rng.chance(0.25) {
                let name = *rng.pick(&[
                    "Order confirmation.pdf",
                    "Minutes.pdf",
                    "Schedule.pdf",
                    "Delivery note.pdf",
                ]);
                let cache = format!(
                    "{home}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\{}",
                    rng.hex(8).to_uppercase()
                );
                let path = format!("{cache}\\{name}");
                sink.push(events::file(
                    dev,
                    t + 5 * SECOND,
                    &s.outlook,
                    "FileCreated",
                    &path,
                    &digest_hex(&["att", &path], 64),
                    rng.range(60_000, 900_000),
                ))?;
                let reader = Proc::child(
                    &s.outlook,
                    &proc::ACROBAT,
                    rng.pid(),
                    format!("\"{}\" \"{path}\"", proc::ACROBAT.path),
                    t + 7 * SECOND,
                );
                sink.push(events::process_created(dev, &reader, &s.outlook))?;
                load_modules(dev, &reader, sink)?;
                if rng.chance(0.02) {
                    crash(dev, &reader, t + 3 * MINUTE, rng, sink)?;
                }
            }
        }
        3 => {
            // Teams call or chat.
            via_proxy(dev, t, &s.teams, sites::TEAMS, rng, sink)?;
            if rng.chance(0.01) {
                crash(dev, &s.teams, t + 10 * MINUTE, rng, sink)?;
            }
        }
        4 => {
            // A file from the department share on the file server.
            let fs = ctx.org.device(crate::org::Role::FileServer);
            let c = Conn::out(dev, &fs.ip, 445, "", port(rng));
            sink.push(events::network(dev, t, &host.system, &c))?;
            let doc = *rng.pick(documents(user.department));
            let path = format!("{home}\\Documents\\{doc}");
            sink.push(events::file(
                dev,
                t + 4 * SECOND,
                &s.explorer,
                "FileCreated",
                &path,
                &digest_hex(&["share", doc], 64),
                rng.range(50_000, 2_000_000),
            ))?;
        }
        5 => it_tool(ctx, host, s, t, rng, sink)?,
        _ => {
            // A peripheral is plugged in (headset, mouse, phone).
            let (name, class, id) = *rng.pick(&[
                (
                    "Jabra Evolve2 65",
                    "AudioEndpoint",
                    "USB\\VID_0B0E&PID_245D",
                ),
                (
                    "Logitech USB Receiver",
                    "HIDClass",
                    "USB\\VID_046D&PID_C52B",
                ),
                ("Apple iPhone", "WPD", "USB\\VID_05AC&PID_12A8"),
            ]);
            let extra = json!({"ClassName": class, "DeviceDescription": name, "DeviceId": format!("{id}\\{}", rng.hex(12).to_uppercase()), "VendorIds": id});
            sink.push(events::misc(
                dev,
                t,
                &host.svchost[1],
                "PnpDeviceConnected",
                extra,
            ))?;
        }
    }
    Ok(())
}

/// An IT person's admin tools: consoles, group policy refresh, remote desktop.
fn it_tool(
    ctx: &Ctx<'_>,
    host: &Host<'_>,
    s: &Session,
    t: i64,
    rng: &mut Rng,
    sink: &mut Sink,
) -> Result<(), Error> {
    let dev = host.dev;
    match rng.below(3) {
        0 => {
            let cmd = Proc::child(
                &s.explorer,
                &proc::CMD,
                rng.pid(),
                "\"C:\\Windows\\system32\\cmd.exe\" ",
                t,
            );
            sink.push(events::process_created(dev, &cmd, &s.explorer))?;
            let gp = Proc::child(
                &cmd,
                &proc::GPUPDATE,
                rng.pid(),
                "gpupdate  /force",
                t + 9 * SECOND,
            );
            sink.push(events::process_created(dev, &gp, &cmd))?;
            let dc = ctx.org.device(crate::org::Role::DomainController);
            let c = Conn::out(dev, &dc.ip, 445, "", port(rng));
            sink.push(events::network(dev, t + 11 * SECOND, &host.svchost[0], &c))?;
        }
        1 => {
            let ps = Proc::child(
                &s.explorer,
                &proc::POWERSHELL,
                rng.pid(),
                "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" ",
                t,
            );
            sink.push(events::process_created(dev, &ps, &s.explorer))?;
            let cmd = *rng.pick(&["Get-Service | Where-Object Status -eq Stopped", "Get-ADUser -Filter * -SearchBase 'OU=Staff,DC=tamarack,DC=example' | Measure-Object", "Test-NetConnection tre-app01 -Port 443"]);
            let mut row = events::misc(
                dev,
                t + 20 * SECOND,
                &ps,
                "PowerShellCommand",
                json!({"Command": cmd}),
            );
            row.set("ProcessId", ps.pid);
            sink.push(row)?;
        }
        _ => {
            let ip = ctx.org.device(crate::org::Role::App).ip.clone();
            let mut rdp_img = Proc::child(&s.explorer, &proc::NOTEPAD, rng.pid(), "", t);
            rdp_img.cmd = format!(
                "\"C:\\Windows\\system32\\notepad.exe\" \\\\tre-fs01\\IT$\\notes\\{}.txt",
                rng.pick(&["changes", "servers", "todo"])
            );
            sink.push(events::process_created(dev, &rdp_img, &s.explorer))?;
            let c = Conn::out(dev, &ip, 443, "intranet.tamarack.example", port(rng));
            sink.push(events::network(dev, t + 4 * SECOND, &s.edge, &c))?;
        }
    }
    Ok(())
}

/// An application crash: Windows Error Reporting starts WerFault for the process, and
/// the crash itself is recorded as an `ApplicationCrash` event.
pub fn crash(
    dev: &Device,
    app: &Proc,
    t: i64,
    rng: &mut Rng,
    sink: &mut Sink,
) -> Result<(), Error> {
    let wer = Proc::child(
        app,
        &proc::WERFAULT,
        rng.pid(),
        format!(
            "C:\\Windows\\system32\\WerFault.exe -u -p {} -s {}",
            app.pid,
            rng.range(400, 4000)
        ),
        t + 2 * SECOND,
    );
    sink.push(events::process_created(dev, &wer, app))?;
    let module = match app.image.original {
        "ms-teams.exe" => "msedgewebview2.dll",
        "SLDWORKS.exe" => "sldappu.dll",
        "Acrobat.exe" => "AcroRd32.dll",
        _ => *rng.pick(&["ntdll.dll", "KERNELBASE.dll", "ucrtbase.dll"]),
    };
    let code = *rng.pick(&["0xc0000005", "0xc0000409", "0xe0434352"]);
    let extra = json!({
        "FaultingApplicationName": app.image.file(),
        "FaultingApplicationVersion": app.image.version,
        "FaultingModuleName": module,
        "ExceptionCode": code,
        "FaultOffset": format!("0x{}", rng.hex(16)),
        "ReportId": rng.guid(),
    });
    let mut row = events::misc(dev, t, app, "ApplicationCrash", extra);
    row.set("FileName", app.image.file())
        .set("FolderPath", app.image.path)
        .set("ProcessId", app.pid);
    sink.push(row)
}

/// Windows' own work on every device, day and night: Defender updates and cloud
/// lookups, the update client, scheduled tasks, the EDR sensor's heartbeat.
pub fn background(ctx: &Ctx<'_>, host: &Host<'_>, sink: &mut Sink) -> Result<(), Error> {
    let dev = host.dev;
    let mut rng = ctx.rng(&format!("background-{}", dev.name));
    let per_day = ctx.scaled(if dev.role.is_server() { 30.0 } else { 16.0 });
    for day in ctx.clock.days() {
        let scan = day.at(12.0 + rng.unit());
        if ctx.clock.contains(scan) {
            let what = json!({"ScanTypeIndex": 1, "ScanType": "Quick"});
            sink.push(events::misc(
                dev,
                scan,
                &host.msmpeng,
                "AntivirusScanCompleted",
                what,
            ))?;
        }
        for _ in 0..per_day {
            let t = day.midnight + rng.below(24 * HOUR as u64) as i64;
            if !ctx.clock.contains(t) {
                continue;
            }
            match rng.below(6) {
                0 => {
                    let ip = public_ip(sites::EDR_CLOUD);
                    let c = Conn::out(dev, &ip, 443, sites::EDR_CLOUD, port(&mut rng));
                    sink.push(events::network(dev, t, &host.mssense, &c))?;
                }
                1 => {
                    let ip = public_ip(sites::AV_CLOUD);
                    let c = Conn::out(dev, &ip, 443, sites::AV_CLOUD, port(&mut rng));
                    sink.push(events::network(dev, t, &host.msmpeng, &c))?;
                }
                2 => {
                    let task = Proc::child(
                        host.scheduler(),
                        &proc::TASKHOSTW,
                        rng.pid(),
                        "taskhostw.exe",
                        t,
                    );
                    sink.push(events::process_created(dev, &task, host.scheduler()))?;
                }
                3 => {
                    let upd = Proc::child(
                        host.scheduler(),
                        &proc::MPCMDRUN,
                        rng.pid(),
                        "\"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe\" SignaturesUpdateService -ScheduleJob -UnmanagedUpdate",
                        t,
                    );
                    sink.push(events::process_created(dev, &upd, host.scheduler()))?;
                    let done = json!({"Product": "Microsoft Defender Antivirus", "SignatureVersion": "1.425.102.0"});
                    sink.push(events::misc(
                        dev,
                        t + 35 * SECOND,
                        &host.msmpeng,
                        "AntivirusDefinitionsUpdated",
                        done,
                    ))?;
                    let key = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates";
                    sink.push(events::registry(
                        dev,
                        t + 40 * SECOND,
                        &host.msmpeng,
                        "RegistryValueSet",
                        key,
                        Some(("AVSignatureVersion", "String", "1.425.102.0")),
                    ))?;
                }
                4 => {
                    let ip = public_ip(sites::UPDATES);
                    let c = Conn::out(dev, &ip, 443, sites::UPDATES, port(&mut rng));
                    sink.push(events::network(dev, t, &host.svchost[4], &c))?;
                }
                _ => {
                    let dc = ctx.org.device(crate::org::Role::DomainController);
                    if dev.index != dc.index {
                        let c = Conn::out(dev, &dc.ip, 389, "", port(&mut rng));
                        sink.push(events::network(dev, t, &host.svchost[2], &c))?;
                    }
                }
            }
        }
    }
    Ok(())
}
