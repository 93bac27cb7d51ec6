//! The injected scenarios and their ground truth.
//!
//! Each scenario writes its rows through a [`Track`], which remembers the first and
//! last time, the tables and the steps, so that the ground truth is made from the rows
//! themselves rather than written separately.

mod benign;
mod exposed;
mod kerberoast;
mod phishing;
mod spray;
mod target;
mod usb;

use std::collections::{BTreeMap, BTreeSet};

use crate::Error;
use crate::activity::Ctx;
use crate::clock::iso;
use crate::org::{COMPANY, DOMAIN, Role};
use crate::sink::{Row, Sink};
use crate::truth::{ExpectedIncident, GroundTruth, Organisation, Scenario, Step};

/// Rows of one scenario on their way to the sink.
pub struct Track<'s> {
    sink: &'s mut Sink,
    first: i64,
    last: i64,
    tables: BTreeSet<&'static str>,
    steps: Vec<Step>,
}

impl<'s> Track<'s> {
    pub fn new(sink: &'s mut Sink) -> Track<'s> {
        Track {
            sink,
            first: i64::MAX,
            last: i64::MIN,
            tables: BTreeSet::new(),
            steps: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Row) -> Result<(), Error> {
        self.first = self.first.min(row.time);
        self.last = self.last.max(row.time);
        self.tables.insert(row.table);
        self.sink.push(row)
    }

    /// Pushes a row and records it as a step of the story.
    pub fn step(&mut self, row: Row, what: &str) -> Result<(), Error> {
        let device = row
            .get("DeviceName")
            .or_else(|| row.get("Computer"))
            .or_else(|| row.get("UserPrincipalName"))
            .or_else(|| row.get("RecipientEmailAddress"))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        self.steps.push(Step {
            time: iso(row.time),
            device,
            table: row.table.to_string(),
            what: what.to_string(),
        });
        self.push(row)
    }

    /// The scenario's shape so far, to be completed by the caller.
    pub fn finish(mut self, id: &str, title: &str, malicious: bool) -> Scenario {
        self.steps.sort_by(|a, b| a.time.cmp(&b.time));
        Scenario {
            id: id.to_string(),
            title: title.to_string(),
            malicious,
            summary: String::new(),
            devices: vec![],
            users: vec![],
            ips: vec![],
            domains: vec![],
            first: iso(self.first),
            last: iso(self.last),
            techniques: vec![],
            tactics: vec![],
            tables: self.tables.iter().map(|t| t.to_string()).collect(),
            steps: self.steps,
            expected_rules: vec![],
            expected_incidents: vec![],
            notes: vec![],
        }
    }
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn incident(
    devices: &[&str],
    users: &[&str],
    tactics: &[&str],
    severity: &str,
    bound: &str,
) -> ExpectedIncident {
    ExpectedIncident {
        devices: strings(devices),
        users: strings(users),
        tactics: strings(tactics),
        severity: severity.to_string(),
        bound: bound.to_string(),
    }
}

/// Injects every scenario and returns the ground truth.
pub fn inject(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<GroundTruth, Error> {
    let mut scenarios = Vec::new();
    scenarios.extend(phishing::inject(ctx, sink)?);
    scenarios.extend(usb::inject(ctx, sink)?);
    scenarios.extend(spray::inject(ctx, sink)?);
    scenarios.extend(kerberoast::inject(ctx, sink)?);
    scenarios.extend(exposed::inject(ctx, sink)?);
    scenarios.extend(benign::admin_psexec(ctx, sink)?);
    scenarios.extend(benign::nightly_backup(ctx, sink)?);
    let org = ctx.org;
    let mut conventions = BTreeMap::new();
    conventions.insert(
        "app_crash".to_string(),
        "DeviceEvents with ActionType 'ApplicationCrash' (AdditionalFields: FaultingApplicationName, FaultingModuleName, ExceptionCode), plus the WerFault.exe process in DeviceProcessEvents (command line '-u -p <pid>')".to_string(),
    );
    conventions.insert(
        "app_crash_hotspot".to_string(),
        format!(
            "{}: SOLIDWORKS crashes there several times a week (a faulty graphics driver)",
            org.devices[org.cast.crashy_device].name
        ),
    );
    conventions.insert(
        "primary_user".to_string(),
        "IntuneDevices.UPN / UserName, and DeviceInfo.AdditionalFields.PrimaryUser (UPN); DeviceInfo.LoggedOnUsers lists the account".to_string(),
    );
    conventions.insert(
        "device_names".to_string(),
        "Defender and Sentinel device tables use the lower-case FQDN (tre-lt-1042.tamarack.example); Intune tables use the host name (TRE-LT-1042) and AadDeviceId links them".to_string(),
    );
    conventions.insert(
        "security_event_computer".to_string(),
        "SecurityEvent.Computer and Account keep Windows' spelling (TRE-DC01.tamarack.example, TAMARACK\\adm.x); compare device and account names without case".to_string(),
    );
    conventions.insert(
        "usb".to_string(),
        "DeviceEvents ActionType 'UsbDriveMounted' (AdditionalFields: DriveLetter, ProductName, Manufacturer, SerialNumber) and 'PnpDeviceConnected'; copies are DeviceFileEvents FileCreated on that drive letter".to_string(),
    );
    Ok(GroundTruth {
        organisation: Organisation {
            name: COMPANY.to_string(),
            domain: DOMAIN.to_string(),
            tenant_id: org.tenant_id.clone(),
            users: org.users.len(),
            windows_devices: org.devices.iter().filter(|d| d.role.is_windows()).count(),
            linux_devices: org.devices.iter().filter(|d| d.role.is_linux()).count(),
            domain_controller: org.device(Role::DomainController).name.clone(),
            file_server: org.device(Role::FileServer).name.clone(),
        },
        seed: ctx.seed,
        now: iso(ctx.clock.end),
        window_start: iso(ctx.clock.start),
        conventions,
        scenarios,
    })
}
