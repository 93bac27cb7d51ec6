//! Scenario 2: an engineer who has handed in their notice copies design files, price
//! lists and test data to a USB drive, first on their laptop, then on the shared lab
//! desktop the next working day.

use serde_json::json;

use super::phishing::pick_shift;
use super::{Track, strings};
use crate::Error;
use crate::activity::{Ctx, audit_row};
use crate::clock::{DAY, MINUTE, SECOND};
use crate::events::{self, Logon};
use crate::host::{Host, Session};
use crate::org::Role;
use crate::proc::Account;
use crate::rng::digest_hex;
use crate::sink::Sink;
use crate::truth::Scenario;

const DRIVE_SERIAL: &str = "4C530001130817109431";

/// Files worth taking: folder under the share or profile, name stem, extension.
const LOOT: &[(&str, &str, &str)] = &[
    ("Engineering\\Designs\\Pump P-400", "Impeller rev", "SLDPRT"),
    (
        "Engineering\\Designs\\Pump P-400",
        "Housing assembly rev",
        "SLDASM",
    ),
    (
        "Engineering\\Designs\\Valve V-12",
        "Valve body drawing",
        "SLDDRW",
    ),
    ("Engineering\\Test data", "Endurance run", "csv"),
    ("Engineering\\Test data", "Pressure test report", "pdf"),
    ("Sales\\Pricing", "Customer price list", "xlsx"),
    (
        "Engineering\\Specifications",
        "Material specification",
        "docx",
    ),
    ("Research\\Prototypes", "Seal compound trial", "xlsx"),
];

pub fn inject(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<Option<Scenario>, Error> {
    let org = ctx.org;
    let leaver = &org.users[org.cast.leaver];
    let lab = &org.devices[org.cast.lab_desktop];
    let (Some(laptop), Some(shift)) = (
        org.user_device(leaver.index),
        pick_shift(ctx, leaver.index, 3),
    ) else {
        return Ok(None);
    };
    let mut rng = ctx.rng("scenario-usb");
    let mut tr = Track::new(sink);
    let acct = Account::of(leaver);

    // HR records the leaving date a week earlier.
    let hr = org
        .people()
        .find(|u| u.department == "HR")
        .unwrap_or(leaver);
    let leave_date = shift.day.midnight + 12 * DAY;
    let recorded = shift.day.at(10.5) - 6 * DAY;
    if ctx.clock.contains(recorded) {
        let props = json!([{"displayName": "EmployeeLeaveDateTime", "oldValue": "[]", "newValue": format!("[\"{}\"]", crate::clock::iso(leave_date))}]);
        tr.step(
            audit_row(
                org,
                &mut rng,
                recorded,
                "Update user",
                "UserManagement",
                "Update",
                "Core Directory",
                hr,
                leaver,
                props,
                None,
            ),
            "HR records the employee's leaving date",
        )?;
    }

    let mut copied = Vec::new();
    for (k, dev) in [laptop, lab].into_iter().enumerate() {
        let host = Host::of(ctx, dev);
        // Day one on the laptop at the end of the afternoon; day two on the lab desktop.
        let (shift_here, start) = if k == 0 {
            (shift, shift.end - 50 * MINUTE)
        } else {
            let next = crate::activity::shifts(ctx, leaver.index)
                .into_iter()
                .find(|s| s.day.index > shift.day.index && !s.day.is_weekend())
                .unwrap_or(shift);
            (next, next.day.at(12.4))
        };
        let mut session_shift = shift_here;
        if k == 1 {
            session_shift.start = start - 3 * MINUTE;
            session_shift.end = start + 60 * MINUTE;
            let l = Logon {
                action: "LogonSuccess",
                logon_type: "Interactive",
                account: &acct,
                protocol: "Kerberos",
                logon_id: rng.range(0x100_0000, 0x7FF_FFFF),
                remote_ip: None,
                remote_device: None,
                is_local_admin: false,
                failure: None,
            };
            tr.step(
                events::logon(dev, session_shift.start, &host.lsass, &l),
                "The employee logs on to the shared lab desktop",
            )?;
        }
        let session = Session::of(ctx, &host, leaver, &session_shift);
        if k == 1 {
            tr.push(events::process_created(
                dev,
                &session.userinit,
                &host.winlogon,
            ))?;
            tr.push(events::process_created(
                dev,
                &session.explorer,
                &session.userinit,
            ))?;
        }
        let pnp = json!({
            "ClassName": "DiskDrive",
            "DeviceDescription": "SanDisk Ultra USB Device",
            "DeviceId": format!("USBSTOR\\DISK&VEN_SANDISK&PROD_ULTRA&REV_1.00\\{DRIVE_SERIAL}&0"),
            "VendorIds": "USB\\VID_0781&PID_5581",
        });
        tr.step(
            events::misc(dev, start, &host.svchost[1], "PnpDeviceConnected", pnp),
            "A SanDisk USB drive is plugged in",
        )?;
        let mounted = json!({
            "DriveLetter": "E:",
            "BusType": 7,
            "BusTypeName": "USB",
            "ProductName": "Ultra",
            "ProductRevision": "1.00",
            "Manufacturer": "SanDisk",
            "SerialNumber": DRIVE_SERIAL,
            "Volume": "\\\\?\\Volume{6f4c2a91-8d3e-11ef-b3a5-00155d01a2c4}",
            "LoggedOnUsers": acct.qualified(),
        });
        tr.step(
            events::misc(
                dev,
                start + 2 * SECOND,
                &host.svchost[1],
                "UsbDriveMounted",
                mounted,
            ),
            "The drive is mounted as E:",
        )?;
        let files = if k == 0 {
            rng.range(70, 95)
        } else {
            rng.range(40, 60)
        };
        let mut t = start + 40 * SECOND;
        for n in 0..files {
            let (folder, stem, ext) = LOOT[rng.index(LOOT.len())];
            let name = format!("{stem} {}.{ext}", 100 + n);
            let path = format!("E:\\Tamarack\\{folder}\\{name}");
            let sha = digest_hex(&["loot", folder, &name], 64);
            let size = if ext.starts_with("SLD") {
                rng.range(2_000_000, 40_000_000)
            } else {
                rng.range(60_000, 3_000_000)
            };
            let mut row = events::file(dev, t, &session.explorer, "FileCreated", &path, &sha, size);
            if folder.starts_with("Sales") || folder.contains("Designs") {
                row.set("SensitivityLabel", "Confidential");
            }
            row.json_text(
                "AdditionalFields",
                &json!({"FileType": ext, "SourcePath": format!("\\\\tre-fs01\\{folder}\\{name}")}),
            );
            if n == 0 {
                tr.step(row, "Explorer copies files to the USB drive")?;
            } else {
                tr.push(row)?;
            }
            copied.push(path);
            t += rng.range(1, 9) * SECOND;
        }
        let unmount = json!({"DriveLetter": "E:", "ProductName": "Ultra", "Manufacturer": "SanDisk", "SerialNumber": DRIVE_SERIAL});
        tr.step(
            events::misc(
                dev,
                t + 30 * SECOND,
                &host.svchost[1],
                "UsbDriveUnmount",
                unmount,
            ),
            "The drive is removed",
        )?;
    }
    let fs = org.device(Role::FileServer);
    let mut sc = tr.finish(
        "usb-exfiltration",
        "A departing employee copies sensitive files to a USB drive on two devices",
        true,
    );
    sc.summary = format!(
        "{} ({}), whose leaving date HR recorded, plugs a SanDisk USB drive (serial {DRIVE_SERIAL}) into {} and copies {} design, test and pricing files to E:, then does the same on the shared lab desktop {} the next working day. Engineering and lab devices are in the 'USB Storage Allowed' group, so device control does not block the writes.",
        leaver.display,
        leaver.title,
        laptop.name,
        copied.len(),
        lab.name
    );
    sc.devices = vec![laptop.name.clone(), lab.name.clone()];
    sc.users = vec![leaver.upn.clone()];
    sc.ips = vec![laptop.ip.clone(), lab.ip.clone()];
    sc.techniques = strings(&["T1052.001", "T1005", "T1039"]);
    sc.tactics = strings(&["Collection", "Exfiltration"]);
    sc.notes = vec![
        "No SigmaHQ rule in the shipped set looks at USB mounts or file copies to removable drives, so no alert or incident is expected; the scenario is found with queries over DeviceEvents (UsbDriveMounted) and DeviceFileEvents (FolderPath starting with E:\\).".into(),
        format!("The copied files came from the shares on {}; the copies are attributed to explorer.exe.", fs.name),
    ];
    Ok(Some(sc))
}
