//! Row builders for the device tables, shared by normal activity and the scenarios.
//!
//! Each builder takes the device, the time and the process that acted, and returns a
//! [`Row`] with the columns every event of that kind has; callers add the rest.

use serde_json::Value as Json;

use crate::org::Device;
use crate::proc::{Account, Proc};
use crate::sink::Row;

/// A row of a device table with the device's own columns.
pub fn device_row(table: &'static str, time: i64, dev: &Device) -> Row {
    let mut row = Row::new(table, time);
    row.set("DeviceId", dev.id.as_str())
        .set("DeviceName", dev.name.as_str())
        .maybe("MachineGroup", dev.machine_group);
    row
}

/// `DeviceProcessEvents`: `child` was created by `parent`.
pub fn process_created(dev: &Device, child: &Proc, parent: &Proc) -> Row {
    let mut row = device_row("DeviceProcessEvents", child.created, dev);
    row.set("ActionType", "ProcessCreated");
    child.as_subject(&mut row);
    parent.as_initiator(&mut row);
    row
}

pub fn ip_type(ip: &str) -> &'static str {
    if ip.starts_with("10.") || ip.starts_with("192.168.") || ip.starts_with("172.16.") {
        "Private"
    } else if ip.starts_with("127.") || ip == "::1" {
        "Loopback"
    } else {
        "Public"
    }
}

/// A network connection, as `DeviceNetworkEvents` records it.
#[derive(Debug, Clone)]
pub struct Conn<'a> {
    pub action: &'static str,
    pub remote_ip: &'a str,
    pub remote_port: i64,
    pub remote_url: &'a str,
    pub local_ip: &'a str,
    pub local_port: i64,
    pub protocol: &'static str,
}

impl<'a> Conn<'a> {
    /// An outbound TCP connection that succeeded.
    pub fn out(dev: &'a Device, ip: &'a str, port: i64, url: &'a str, local_port: i64) -> Conn<'a> {
        Conn {
            action: "ConnectionSuccess",
            remote_ip: ip,
            remote_port: port,
            remote_url: url,
            local_ip: &dev.ip,
            local_port,
            protocol: "Tcp",
        }
    }

    /// An inbound TCP connection the device accepted on `port`.
    pub fn inbound(dev: &'a Device, from: &'a str, from_port: i64, port: i64) -> Conn<'a> {
        Conn {
            action: "InboundConnectionAccepted",
            remote_ip: from,
            remote_port: from_port,
            remote_url: "",
            local_ip: &dev.ip,
            local_port: port,
            protocol: "Tcp",
        }
    }
}

pub fn network(dev: &Device, time: i64, p: &Proc, c: &Conn<'_>) -> Row {
    let mut row = device_row("DeviceNetworkEvents", time, dev);
    row.set("ActionType", c.action)
        .set("RemoteIP", c.remote_ip)
        .set("RemotePort", c.remote_port)
        .text("RemoteUrl", c.remote_url)
        .set("LocalIP", c.local_ip)
        .set("LocalPort", c.local_port)
        .set("Protocol", c.protocol)
        .set("LocalIPType", ip_type(c.local_ip))
        .set("RemoteIPType", ip_type(c.remote_ip));
    p.as_initiator(&mut row);
    row
}

/// `DeviceFileEvents`: `p` created, modified or deleted the file at `path`.
pub fn file(
    dev: &Device,
    time: i64,
    p: &Proc,
    action: &'static str,
    path: &str,
    sha256: &str,
    size: i64,
) -> Row {
    let mut row = device_row("DeviceFileEvents", time, dev);
    let name = path.rsplit(['\\', '/']).next().unwrap_or(path);
    row.set("ActionType", action)
        .set("FileName", name)
        .set("FolderPath", path)
        .text("SHA256", sha256)
        .set("FileSize", size);
    p.as_initiator(&mut row);
    row
}

/// `DeviceRegistryEvents`: `p` set a value (or created or deleted a key).
pub fn registry(
    dev: &Device,
    time: i64,
    p: &Proc,
    action: &'static str,
    key: &str,
    value: Option<(&str, &str, &str)>,
) -> Row {
    let mut row = device_row("DeviceRegistryEvents", time, dev);
    row.set("ActionType", action).set("RegistryKey", key);
    if let Some((name, ty, data)) = value {
        row.set("RegistryValueName", name)
            .set("RegistryValueType", ty)
            .set("RegistryValueData", data);
    }
    p.as_initiator(&mut row);
    row
}

/// `DeviceImageLoadEvents`: `p` loaded the module at `path`.
pub fn image_load(dev: &Device, time: i64, p: &Proc, path: &str, sha256: &str, size: i64) -> Row {
    let mut row = device_row("DeviceImageLoadEvents", time, dev);
    let name = path.rsplit('\\').next().unwrap_or(path);
    row.set("ActionType", "ImageLoaded")
        .set("FileName", name)
        .set("FolderPath", path)
        .set("SHA256", sha256)
        .set("FileSize", size);
    p.as_initiator(&mut row);
    row
}

/// A logon as `DeviceLogonEvents` records it.
#[derive(Debug, Clone)]
pub struct Logon<'a> {
    pub action: &'static str,
    pub logon_type: &'static str,
    pub account: &'a Account,
    pub protocol: &'static str,
    pub logon_id: i64,
    pub remote_ip: Option<&'a str>,
    pub remote_device: Option<&'a str>,
    pub is_local_admin: bool,
    pub failure: Option<&'static str>,
}

pub fn logon(dev: &Device, time: i64, by: &Proc, l: &Logon<'_>) -> Row {
    let mut row = device_row("DeviceLogonEvents", time, dev);
    row.set("ActionType", l.action)
        .set("LogonType", l.logon_type)
        .set("AccountDomain", l.account.domain.as_str())
        .set("AccountName", l.account.name.as_str())
        .set("AccountSid", l.account.sid.as_str())
        .set("Protocol", l.protocol)
        .set("LogonId", l.logon_id)
        .set("IsLocalAdmin", l.is_local_admin);
    if let Some(f) = l.failure {
        row.set("FailureReason", f);
    }
    if let Some(ip) = l.remote_ip {
        row.set("RemoteIP", ip)
            .set("RemoteIPType", ip_type(ip))
            .set("RemotePort", 0);
    }
    if let Some(d) = l.remote_device {
        row.set("RemoteDeviceName", d);
    }
    by.as_initiator(&mut row);
    row
}

/// `DeviceEvents` of `action`, caused by `p`, with `AdditionalFields` as JSON text.
pub fn misc(dev: &Device, time: i64, p: &Proc, action: &'static str, additional: Json) -> Row {
    let mut row = device_row("DeviceEvents", time, dev);
    row.set("ActionType", action);
    if !additional.is_null() {
        row.json_text("AdditionalFields", &additional);
    }
    p.as_initiator(&mut row);
    row
}
