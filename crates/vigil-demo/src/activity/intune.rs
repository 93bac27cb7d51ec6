//! Intune: enrolled devices (`IntuneDevices`), the apps deployed to them
//! (`IntuneManagedApps`), the settings their profiles apply (`IntuneDeviceConfiguration`)
//! and the groups devices and users are in (`IntuneGroupMembership`).

use super::Ctx;
use super::inventory::software_of;
use crate::Error;
use crate::clock::{DAY, HOUR, iso};
use crate::org::{Device, Org, Role};
use crate::rng::digest_guid;
use crate::sink::{Row, Sink};

/// Intune's own id for an enrolled device.
pub fn intune_id(dev: &Device) -> String {
    digest_guid(&["intune", &dev.name])
}

fn group_id(name: &str) -> String {
    digest_guid(&["group", name])
}

/// The device groups a workstation is in: name, membership type, dynamic rule.
pub fn device_groups(org: &Org, dev: &Device) -> Vec<(String, &'static str, String)> {
    let mut out = vec![(
        "All Windows Devices".to_string(),
        "Dynamic",
        "(device.deviceOSType -eq \"Windows\")".to_string(),
    )];
    let dept = dev.primary_user.map(|u| org.users[u].department);
    match (dev.role, dept) {
        (Role::AdminWorkstation, _) => out.push(("PAW Devices".into(), "Assigned", String::new())),
        (_, Some(d)) => out.push((
            format!("{d} Devices"),
            "Dynamic",
            format!("(device.extensionAttribute1 -eq \"{d}\")"),
        )),
        (_, None) => out.push(("Lab Devices".into(), "Assigned", String::new())),
    }
    if dev.laptop {
        out.push((
            "Autopilot Laptops".into(),
            "Dynamic",
            "(device.devicePhysicalIDs -any (_ -startsWith \"[ZTDid]\"))".into(),
        ));
    }
    if usb_allowed(org, dev) {
        out.push(("USB Storage Allowed".into(), "Assigned", String::new()));
    }
    if dept == Some("IT") {
        out.push(("Update Ring - Pilot".into(), "Assigned", String::new()));
    }
    out
}

/// Engineering and research machines (and the lab desktop) may write to USB drives:
/// the labs move test data on them.
pub fn usb_allowed(org: &Org, dev: &Device) -> bool {
    match dev.primary_user {
        Some(u) => matches!(org.users[u].department, "Engineering" | "Research"),
        None => dev.role == Role::Workstation,
    }
}

fn managed(org: &Org) -> impl Iterator<Item = &Device> {
    org.workstations()
}

pub fn generate(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    let org = ctx.org;
    let snapshot = ctx.clock.end - 5 * HOUR;
    for dev in managed(org) {
        let user = dev.primary_user.map(|u| &org.users[u]);
        let upn = user.map(|u| u.upn.as_str()).unwrap_or("");
        let noncompliant = dev.os.platform == "Windows10" && dev.index % 3 == 0;
        for day in ctx.clock.days() {
            let t = day.at(2.0) + (dev.index as i64 % 50) * 60_000;
            if !ctx.clock.contains(t) {
                continue;
            }
            let mut row = Row::new("IntuneDevices", t);
            row.set("DeviceId", intune_id(dev))
                .set("DeviceName", dev.host.as_str())
                .set(
                    "ManagedDeviceName",
                    format!(
                        "{}_Windows_{}",
                        user.map(|u| u.sam.as_str()).unwrap_or("lab"),
                        &iso(t)[..10]
                    ),
                )
                .set("ReferenceId", dev.aad_id.as_str())
                .text("UPN", upn)
                .text("UserEmail", upn)
                .text("UserName", user.map(|u| u.display.as_str()).unwrap_or(""))
                .text(
                    "PrimaryUser",
                    user.map(|u| u.object_id.as_str()).unwrap_or(""),
                )
                .set("OS", "Windows")
                .set(
                    "OSVersion",
                    format!("10.0.{}.{}", dev.os.build, dev.os.revision),
                )
                .set(
                    "CompliantState",
                    if noncompliant {
                        "Noncompliant"
                    } else {
                        "Compliant"
                    },
                )
                .set("Ownership", "Corporate")
                .set("ManagedBy", "Co-managed")
                .set("JoinType", "Hybrid Azure AD joined")
                .set("Model", dev.model)
                .set("Manufacturer", dev.vendor)
                .set("SerialNumber", dev.serial.as_str())
                .set("LastContact", iso(t - 40 * 60_000))
                .set(
                    "CreatedDate",
                    iso(ctx.clock.start - (200 + dev.index as i64) * DAY),
                )
                .set("DeviceState", "Managed")
                .set(
                    "EncryptionStatusString",
                    if noncompliant { "False" } else { "True" },
                )
                .set("SkuFamily", "Enterprise")
                .set("StorageTotal", 476_000)
                .set(
                    "StorageFree",
                    120_000 + (dev.index as i64 * 7_919) % 200_000,
                )
                .set("DeviceRegistrationState", "Registered")
                .set("CategoryName", user.map(|u| u.department).unwrap_or("Lab"))
                .set("GraphDeviceIsManaged", true)
                .set("WifiMacAddress", dev.mac.replace('-', ""))
                .set("OperationName", "Device Inventory")
                .set("Result", "Success")
                .set("SourceSystem", "Microsoft Intune");
            sink.push(row)?;
        }
        apps(ctx, dev, upn, snapshot, sink)?;
        configuration(org, dev, upn, noncompliant, snapshot, sink)?;
        for (name, kind, rule) in device_groups(org, dev) {
            let mut row = Row::new("IntuneGroupMembership", snapshot);
            row.set("GroupId", group_id(&name))
                .set("GroupName", name.as_str())
                .set("GroupType", "Security")
                .set("MembershipType", kind)
                .text("MembershipRule", &rule)
                .set("MemberType", "Device")
                .set("MemberId", dev.aad_id.as_str())
                .set("MemberName", dev.host.as_str())
                .set("DeviceId", intune_id(dev))
                .set("DeviceName", dev.host.as_str());
            sink.push(row)?;
        }
    }
    for u in &org.users {
        for g in &u.groups {
            let mut row = Row::new("IntuneGroupMembership", snapshot);
            row.set("GroupId", group_id(g))
                .set("GroupName", g.as_str())
                .set(
                    "GroupType",
                    if g.ends_with("Team") {
                        "Microsoft 365"
                    } else {
                        "Security"
                    },
                )
                .set("MembershipType", "Assigned")
                .set("MemberType", "User")
                .set("MemberId", u.object_id.as_str())
                .set("MemberName", u.display.as_str())
                .set("UPN", u.upn.as_str());
            sink.push(row)?;
        }
    }
    Ok(())
}

fn apps(ctx: &Ctx<'_>, dev: &Device, upn: &str, t: i64, sink: &mut Sink) -> Result<(), Error> {
    let software = software_of(ctx, dev);
    let version = |name: &str| software.iter().find(|s| s.name == name).map(|s| s.version);
    // App name, type, publisher, TVM name behind it, intent, group.
    let catalog: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "Microsoft 365 Apps for enterprise",
            "Microsoft 365 Apps (Windows 10 and later)",
            "Microsoft",
            "365_apps_for_enterprise",
            "Required",
            "All Windows Devices",
        ),
        (
            "Microsoft Teams",
            "Microsoft Store app (new)",
            "Microsoft Corporation",
            "teams",
            "Required",
            "All Windows Devices",
        ),
        (
            "Microsoft Edge",
            "Microsoft Edge (Windows 10 and later)",
            "Microsoft",
            "edge_chromium-based",
            "Required",
            "All Windows Devices",
        ),
        (
            "Company Portal",
            "Microsoft Store app (new)",
            "Microsoft Corporation",
            "",
            "Required",
            "All Windows Devices",
        ),
        (
            "Adobe Acrobat Reader DC",
            "Windows app (Win32)",
            "Adobe",
            "acrobat_reader_dc",
            "Required",
            "All Windows Devices",
        ),
        (
            "7-Zip",
            "Windows app (Win32)",
            "Igor Pavlov",
            "7-zip",
            "Available",
            "All Staff",
        ),
        (
            "SOLIDWORKS 2024",
            "Windows app (Win32)",
            "Dassault Systemes",
            "solidworks",
            "Required",
            "CAD Licence Holders",
        ),
        (
            "Visual Studio Code",
            "Windows app (Win32)",
            "Microsoft Corporation",
            "visual_studio_code",
            "Available",
            "All Staff",
        ),
        (
            "Notepad++",
            "Windows app (Win32)",
            "Notepad++ Team",
            "notepad++",
            "Available",
            "IT Staff",
        ),
    ];
    for (name, ty, publisher, tvm, intent, group) in catalog {
        let installed = if tvm.is_empty() {
            Some("11.2.1002.0")
        } else {
            version(tvm)
        };
        let offered = installed.is_some() || *intent == "Required" && !matches!(*tvm, "solidworks");
        if !offered {
            continue;
        }
        let failed = installed.is_none() && *intent == "Required";
        let mut row = Row::new("IntuneManagedApps", t);
        row.set("DeviceId", intune_id(dev))
            .set("DeviceName", dev.host.as_str())
            .set("AadDeviceId", dev.aad_id.as_str())
            .text("UPN", upn)
            .set("AppId", digest_guid(&["app", name]))
            .set("AppName", *name)
            .set("AppType", *ty)
            .set("Publisher", *publisher)
            .text("AppVersion", installed.unwrap_or(""))
            .set("InstallState", if failed { "Failed" } else { "Installed" })
            .text("InstallStateDetail", if failed { "The app install failed: 0x87D1041C (the app was not detected after installation)" } else { "" })
            .set("AssignmentIntent", *intent)
            .set("AssignedGroup", *group);
        sink.push(row)?;
    }
    Ok(())
}

fn configuration(
    org: &Org,
    dev: &Device,
    upn: &str,
    noncompliant: bool,
    t: i64,
    sink: &mut Sink,
) -> Result<(), Error> {
    let dept = dev
        .primary_user
        .map(|u| org.users[u].department)
        .unwrap_or("Lab");
    let usb = if usb_allowed(org, dev) {
        "Allowed"
    } else {
        "Blocked"
    };
    let asr = if dept == "Finance" { "Audit" } else { "Block" };
    let bitlocker_state = if noncompliant {
        ("Error", 65_000)
    } else {
        ("Succeeded", 0)
    };
    // Policy, type, group, setting, value, state, error code.
    let mut settings: Vec<(&str, &str, &str, &str, String, &str, i64)> = vec![
        (
            "Windows - Security Baseline",
            "Settings catalog",
            "All Windows Devices",
            "Require device encryption (BitLocker)",
            "Enabled".into(),
            bitlocker_state.0,
            bitlocker_state.1,
        ),
        (
            "Windows - Security Baseline",
            "Settings catalog",
            "All Windows Devices",
            "Defender real-time protection",
            "On".into(),
            "Succeeded",
            0,
        ),
        (
            "Windows - Security Baseline",
            "Settings catalog",
            "All Windows Devices",
            "Firewall domain profile",
            "On".into(),
            "Succeeded",
            0,
        ),
        (
            "Windows - Security Baseline",
            "Settings catalog",
            "All Windows Devices",
            "LSA protection (RunAsPPL)",
            if dept == "Finance" {
                "Disabled".into()
            } else {
                "Enabled".into()
            },
            "Succeeded",
            0,
        ),
        (
            "ASR rules",
            "Endpoint security - Attack surface reduction",
            "All Windows Devices",
            "Block all Office applications from creating child processes",
            asr.into(),
            "Succeeded",
            0,
        ),
        (
            "ASR rules",
            "Endpoint security - Attack surface reduction",
            "All Windows Devices",
            "Block credential stealing from the Windows local security authority subsystem",
            "Block".into(),
            if dept == "Finance" {
                "Conflict"
            } else {
                "Succeeded"
            },
            if dept == "Finance" { 65_000 } else { 0 },
        ),
        (
            "Windows Update ring - Broad",
            "Update rings for Windows 10 and later",
            "All Windows Devices",
            "Quality update deferral period (days)",
            "7".into(),
            "Succeeded",
            0,
        ),
        (
            "Windows Update ring - Broad",
            "Update rings for Windows 10 and later",
            "All Windows Devices",
            "Feature update deferral period (days)",
            "90".into(),
            "Succeeded",
            0,
        ),
        (
            "Compliance - Windows",
            "Compliance policy",
            "All Windows Devices",
            "Require BitLocker",
            "Require".into(),
            if noncompliant { "Error" } else { "Succeeded" },
            0,
        ),
        (
            "Compliance - Windows",
            "Compliance policy",
            "All Windows Devices",
            "Minimum OS version",
            "10.0.19045.5011".into(),
            "Succeeded",
            0,
        ),
        (
            "Device control - Removable storage",
            "Endpoint security - Attack surface reduction",
            if usb == "Allowed" {
                "USB Storage Allowed"
            } else {
                "All Windows Devices"
            },
            "Removable storage write access",
            usb.into(),
            "Succeeded",
            0,
        ),
        (
            "Wi-Fi - TRE-Corp",
            "Wi-Fi",
            "All Windows Devices",
            "Network name (SSID)",
            "TRE-Corp".into(),
            "Succeeded",
            0,
        ),
        (
            "Wi-Fi - TRE-Corp",
            "Wi-Fi",
            "All Windows Devices",
            "Wireless security type",
            "WPA2-Enterprise".into(),
            "Succeeded",
            0,
        ),
    ];
    if dev.role == Role::AdminWorkstation {
        settings.push((
            "Privileged Access Workstation",
            "Settings catalog",
            "PAW Devices",
            "Block web browsing to the internet",
            "Enabled".into(),
            "Succeeded",
            0,
        ));
        settings.push((
            "Privileged Access Workstation",
            "Settings catalog",
            "PAW Devices",
            "Local administrators",
            "Tier0 Admins only".into(),
            "Succeeded",
            0,
        ));
    }
    for (policy, ty, group, name, value, state, code) in settings {
        let mut row = Row::new("IntuneDeviceConfiguration", t);
        row.set("DeviceId", intune_id(dev))
            .set("DeviceName", dev.host.as_str())
            .set("AadDeviceId", dev.aad_id.as_str())
            .text("UPN", upn)
            .set("PolicyId", digest_guid(&["policy", policy]))
            .set("PolicyName", policy)
            .set("PolicyType", ty)
            .set("SettingName", name)
            .set("SettingValue", value)
            .set("State", state)
            .set("ErrorCode", code)
            .set("AssignedGroup", group);
        sink.push(row)?;
    }
    Ok(())
}
