//! The fictional company: its people, accounts, groups, devices and network.
//!
//! Everything here is derived from the seed, so the same seed always gives the same
//! people on the same machines. Names are invented; the domain is under `.example`,
//! internal addresses are private and external ones come from the documentation
//! ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).

use crate::clock::DAY;
use crate::names::{DEPARTMENTS, GIVEN, OFFICES, SURNAMES};
use crate::rng::{Rng, digest_guid, digest_hex};

pub const COMPANY: &str = "Tamarack Ridge Engineering";
pub const DOMAIN: &str = "tamarack.example";
pub const NETBIOS: &str = "TAMARACK";
/// The Active Directory domain's SID prefix (invented).
pub const DOMAIN_SID: &str = "S-1-5-21-2841150927-1742085536-3914876810";
/// The explicit web proxy that browsers and Office apps use.
pub const PROXY_IP: &str = "10.10.0.8";
pub const PROXY_PORT: i64 = 80;
/// The offices' shared internet egress address (NAT).
pub const EGRESS_IP: &str = "203.0.113.10";

/// What kind of account a user entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Person,
    /// A separate privileged account of an IT person (`adm.` prefix).
    Admin,
    Service,
}

#[derive(Debug, Clone)]
pub struct User {
    pub index: usize,
    pub kind: AccountKind,
    pub given: String,
    pub surname: String,
    pub display: String,
    /// sAMAccountName, as Windows events and Defender's AccountName show it.
    pub sam: String,
    pub upn: String,
    pub department: &'static str,
    pub title: String,
    pub manager: Option<usize>,
    pub object_id: String,
    pub sid: String,
    pub employee_id: String,
    pub office: usize,
    pub groups: Vec<String>,
    /// The workstation this person mainly uses.
    pub device: Option<usize>,
    /// For admin accounts, the person who owns it.
    pub owner: Option<usize>,
    /// For service accounts, the SPN registered on it.
    pub spn: Option<String>,
    pub mfa_registered: bool,
    pub created: i64,
    /// The address the person's home broadband shows when working remotely.
    pub home_ip: String,
}

impl User {
    pub fn is_person(&self) -> bool {
        self.kind == AccountKind::Person
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Workstation,
    /// A privileged access workstation for IT administration.
    AdminWorkstation,
    DomainController,
    FileServer,
    Sql,
    App,
    Backup,
    LinuxWiki,
    LinuxWeb,
    LinuxBuild,
    LinuxMonitor,
}

impl Role {
    pub fn is_server(self) -> bool {
        !matches!(self, Role::Workstation | Role::AdminWorkstation)
    }

    pub fn is_linux(self) -> bool {
        matches!(
            self,
            Role::LinuxWiki | Role::LinuxWeb | Role::LinuxBuild | Role::LinuxMonitor
        )
    }

    pub fn is_windows(self) -> bool {
        !self.is_linux()
    }
}

/// An operating system as Defender's device inventory describes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Os {
    pub platform: &'static str,
    pub version: &'static str,
    pub build: i64,
    pub revision: &'static str,
    pub version_info: &'static str,
    pub distribution: &'static str,
    /// The name software inventory and Intune show.
    pub display: &'static str,
}

pub const WIN11: Os = Os {
    platform: "Windows11",
    version: "10.0",
    build: 22631,
    revision: "4890",
    version_info: "23H2",
    distribution: "",
    display: "Windows 11 Enterprise",
};
pub const WIN10: Os = Os {
    platform: "Windows10",
    version: "10.0",
    build: 19045,
    revision: "5371",
    version_info: "22H2",
    distribution: "",
    display: "Windows 10 Enterprise",
};
pub const SERVER2022: Os = Os {
    platform: "WindowsServer2022",
    version: "10.0",
    build: 20348,
    revision: "2966",
    version_info: "21H2",
    distribution: "",
    display: "Windows Server 2022 Standard",
};
pub const SERVER2019: Os = Os {
    platform: "WindowsServer2019",
    version: "10.0",
    build: 17763,
    revision: "6532",
    version_info: "1809",
    distribution: "",
    display: "Windows Server 2019 Standard",
};
pub const UBUNTU2004: Os = Os {
    platform: "Linux",
    version: "20.4",
    build: 0,
    revision: "",
    version_info: "20.04.6 LTS",
    distribution: "Ubuntu",
    display: "Ubuntu 20.04",
};
pub const UBUNTU2204: Os = Os {
    platform: "Linux",
    version: "22.4",
    build: 0,
    revision: "",
    version_info: "22.04.4 LTS",
    distribution: "Ubuntu",
    display: "Ubuntu 22.04",
};

#[derive(Debug, Clone)]
pub struct Device {
    pub index: usize,
    /// Host name as Windows shows it (upper case, no domain).
    pub host: String,
    /// Defender's DeviceName: the lower-case FQDN.
    pub name: String,
    pub id: String,
    pub aad_id: String,
    pub role: Role,
    pub os: Os,
    pub ip: String,
    pub mac: String,
    pub public_ip: Option<String>,
    pub primary_user: Option<usize>,
    pub machine_group: &'static str,
    pub internet_facing: bool,
    pub exposure: &'static str,
    pub vendor: &'static str,
    pub model: &'static str,
    pub serial: String,
    pub laptop: bool,
    pub asset_value: &'static str,
}

/// The people and machines a scenario is about, picked once per seed.
#[derive(Debug, Clone)]
pub struct Cast {
    /// Finance employee who opens the phishing attachment (local admin on the laptop).
    pub phish_victim: usize,
    /// Two colleagues who received the same phishing mail and did not open it.
    pub phish_others: Vec<usize>,
    /// Service-desk admin account whose credentials were cached on the victim's laptop.
    pub helpdesk_admin: usize,
    /// Employee who is leaving and copies files to a USB drive.
    pub leaver: usize,
    /// The shared lab desktop the leaver also copies from.
    pub lab_desktop: usize,
    /// The account that is sprayed, phished for MFA and used from far away.
    pub spray_victim: usize,
    /// The account that requests service tickets for Kerberoasting.
    pub roaster: usize,
    /// The administrator whose PsExec use is legitimate.
    pub admin: usize,
    pub backup_service: usize,
    /// An engineering workstation whose CAD program keeps crashing (a bad graphics
    /// driver): the place to look at application crashes.
    pub crashy_device: usize,
}

#[derive(Debug, Clone)]
pub struct Org {
    pub tenant_id: String,
    pub users: Vec<User>,
    pub devices: Vec<Device>,
    pub cast: Cast,
}

impl Org {
    pub fn device(&self, role: Role) -> &Device {
        // Every role used by the generator exists in every organisation built here.
        self.devices
            .iter()
            .find(|d| d.role == role)
            .unwrap_or(&self.devices[0])
    }

    pub fn people(&self) -> impl Iterator<Item = &User> {
        self.users.iter().filter(|u| u.is_person())
    }

    pub fn workstations(&self) -> impl Iterator<Item = &Device> {
        self.devices.iter().filter(|d| !d.role.is_server())
    }

    pub fn windows_servers(&self) -> impl Iterator<Item = &Device> {
        self.devices
            .iter()
            .filter(|d| d.role.is_server() && d.role.is_windows())
    }

    pub fn user_device(&self, user: usize) -> Option<&Device> {
        self.users[user].device.map(|d| &self.devices[d])
    }

    pub fn service(&self, sam: &str) -> Option<&User> {
        self.users.iter().find(|u| u.sam == sam)
    }

    /// Builds the company for a seed. `created` is when the oldest accounts were made.
    pub fn build(seed: u64, created: i64) -> Org {
        let mut rng = Rng::stream(seed, "org");
        let tenant_id = digest_guid(&["tenant", &seed.to_string()]);
        let mut users = people(&mut rng, created);
        let per_dept = workstation_quota();
        let mut devices = Vec::new();
        let mut laptop_no = 1001;
        let mut desktop_no = 2001;
        // Workstations: a quota per department, the first people of it (heads first).
        for (dept, quota) in per_dept {
            let members: Vec<usize> = users
                .iter()
                .filter(|u| u.department == dept)
                .map(|u| u.index)
                .collect();
            let chosen = rng.sample(members.len(), quota);
            for (k, pos) in chosen.into_iter().enumerate() {
                let owner = members[pos];
                let laptop = dept != "Operations" || k % 2 == 0;
                let host = if laptop {
                    laptop_no += rng.range(1, 7);
                    format!("TRE-LT-{laptop_no}")
                } else {
                    desktop_no += rng.range(1, 5);
                    format!("TRE-DT-{desktop_no}")
                };
                let index = devices.len();
                users[owner].device = Some(index);
                devices.push(workstation(&mut rng, index, host, Some(owner), laptop));
            }
        }
        // A shared desktop in the engineering lab, without a primary user.
        let lab = devices.len();
        desktop_no += 3;
        devices.push(workstation(
            &mut rng,
            lab,
            format!("TRE-DT-{desktop_no}"),
            None,
            false,
        ));
        let it: Vec<usize> = users
            .iter()
            .filter(|u| u.department == "IT" && u.device.is_some())
            .map(|u| u.index)
            .collect();
        // IT's first two people with workstations get admin accounts; the first of them
        // also has the privileged access workstation.
        let admin_person = it[0];
        let helpdesk_person = it[1];
        let paw = devices.len();
        let mut paw_device = workstation(&mut rng, paw, "TRE-PAW-01".into(), None, false);
        paw_device.role = Role::AdminWorkstation;
        paw_device.machine_group = "Workstations - Privileged";
        paw_device.asset_value = "High";
        devices.push(paw_device);
        let admin = add_admin(&mut users, admin_person, created);
        let helpdesk_admin = add_admin(&mut users, helpdesk_person, created);
        devices[paw].primary_user = Some(admin_person);
        for svc in SERVICES {
            add_service(&mut users, svc, created);
        }
        servers(&mut rng, &mut devices);
        assign_groups(&mut rng, &mut users);

        let with_device = |dept: &str, users: &[User]| -> Vec<usize> {
            users
                .iter()
                .filter(|u| u.is_person() && u.department == dept && u.device.is_some())
                .map(|u| u.index)
                .collect()
        };
        let finance = with_device("Finance", &users);
        let phish_victim = finance[rng.index(finance.len())];
        let mut phish_others: Vec<usize> = users
            .iter()
            .filter(|u| u.department == "Finance" && u.index != phish_victim)
            .map(|u| u.index)
            .collect();
        phish_others.truncate(2);
        let engineering = with_device("Engineering", &users);
        let leaver = engineering[rng.index(engineering.len())];
        let research = with_device("Research", &users);
        let roaster = research[rng.index(research.len())];
        let sales: Vec<usize> = users
            .iter()
            .filter(|u| u.is_person() && u.department == "Sales")
            .map(|u| u.index)
            .collect();
        let spray_victim = sales[rng.index(sales.len())];
        let backup_service = users
            .iter()
            .position(|u| u.sam == "svc_backup")
            .unwrap_or(0);
        let crashy_owner = engineering
            .iter()
            .copied()
            .find(|u| *u != leaver)
            .unwrap_or(leaver);
        let crashy_device = users[crashy_owner].device.unwrap_or(lab);
        let cast = Cast {
            phish_victim,
            phish_others,
            helpdesk_admin,
            leaver,
            lab_desktop: lab,
            spray_victim,
            roaster,
            admin,
            backup_service,
            crashy_device,
        };
        Org {
            tenant_id,
            users,
            devices,
            cast,
        }
    }
}

/// Workstations per department (49 in all, plus the lab desktop and the PAW).
fn workstation_quota() -> Vec<(&'static str, usize)> {
    vec![
        ("Executive", 3),
        ("Engineering", 10),
        ("Research", 4),
        ("Operations", 6),
        ("Sales", 7),
        ("Marketing", 2),
        ("Finance", 5),
        ("HR", 3),
        ("Legal", 2),
        ("IT", 5),
    ]
}

fn people(rng: &mut Rng, created: i64) -> Vec<User> {
    let mut users: Vec<User> = Vec::new();
    let mut taken = std::collections::BTreeSet::new();
    let mut heads: Vec<usize> = Vec::new();
    for (dept, count, titles) in DEPARTMENTS {
        let head = users.len();
        heads.push(head);
        for k in 0..*count {
            let (given, surname) = loop {
                let g = *rng.pick(GIVEN);
                let s = *rng.pick(SURNAMES);
                if taken.insert((g, s)) {
                    break (g, s);
                }
            };
            let index = users.len();
            let title = if k == 0 {
                titles[0]
            } else {
                titles[1 + rng.index(titles.len() - 1)]
            };
            let sam: String = format!("{}.{}", given, surname).to_lowercase();
            let sam: String = sam.chars().take(20).collect();
            let manager = if k == 0 { None } else { Some(head) };
            users.push(person(
                rng, index, given, surname, dept, title, sam, manager, created,
            ));
        }
    }
    // Department heads report to the chief executive.
    let ceo = heads[0];
    for h in heads.into_iter().skip(1) {
        users[h].manager = Some(ceo);
    }
    users
}

#[allow(clippy::too_many_arguments)]
fn person(
    rng: &mut Rng,
    index: usize,
    given: &str,
    surname: &str,
    dept: &'static str,
    title: &str,
    sam: String,
    manager: Option<usize>,
    created: i64,
) -> User {
    let rid = 1105 + index as u64 * 3;
    User {
        index,
        kind: AccountKind::Person,
        given: given.to_string(),
        surname: surname.to_string(),
        display: format!("{given} {surname}"),
        upn: format!("{sam}@{DOMAIN}"),
        sam,
        department: dept,
        title: title.to_string(),
        manager,
        object_id: rng.guid(),
        sid: format!("{DOMAIN_SID}-{rid}"),
        employee_id: format!("E{:05}", 10_000 + index * 7),
        office: if rng.chance(0.7) {
            0
        } else {
            1 + rng.index(OFFICES.len() - 1)
        },
        groups: Vec::new(),
        device: None,
        owner: None,
        spn: None,
        mfa_registered: rng.chance(0.97),
        created: created - rng.range(30, 2_400) * DAY,
        home_ip: format!("198.51.100.{}", 100 + rng.range(0, 140)),
    }
}

fn add_admin(users: &mut Vec<User>, person: usize, created: i64) -> usize {
    let p = users[person].clone();
    let index = users.len();
    let sam = format!("adm.{}", p.surname.to_lowercase());
    users.push(User {
        index,
        kind: AccountKind::Admin,
        display: format!("{} (admin)", p.display),
        upn: format!("{sam}@{DOMAIN}"),
        sam,
        title: "Administrator account".into(),
        object_id: digest_guid(&["admin", &p.object_id]),
        sid: format!("{DOMAIN_SID}-{}", 3100 + index),
        employee_id: p.employee_id.clone(),
        groups: Vec::new(),
        device: None,
        owner: Some(person),
        created: created - 400 * DAY,
        ..p
    });
    index
}

/// Service accounts: name, SPN, description.
const SERVICES: &[(&str, &str, &str)] = &[
    (
        "svc_sql",
        "MSSQLSvc/tre-sql01.tamarack.example:1433",
        "SQL Server engine",
    ),
    (
        "svc_web",
        "HTTP/intranet.tamarack.example",
        "Intranet application pool",
    ),
    ("svc_backup", "", "Backup agent"),
    (
        "svc_reporting",
        "HTTP/reports.tamarack.example",
        "Reporting services",
    ),
    ("svc_scan", "", "Scan-to-folder on the printers"),
    (
        "svc_erp",
        "ERPSvc/tre-app01.tamarack.example:8443",
        "ERP application server",
    ),
    ("svc_crm", "HTTP/crm.tamarack.example", "CRM connector"),
    (
        "svc_ftp",
        "FTP/tre-app01.tamarack.example",
        "Supplier file transfer",
    ),
];

fn add_service(users: &mut Vec<User>, svc: &(&str, &str, &str), created: i64) {
    let (sam, spn, what) = *svc;
    let index = users.len();
    users.push(User {
        index,
        kind: AccountKind::Service,
        given: String::new(),
        surname: String::new(),
        display: format!("{what} service"),
        sam: sam.to_string(),
        upn: format!("{sam}@{DOMAIN}"),
        department: "IT",
        title: "Service account".into(),
        manager: None,
        object_id: digest_guid(&["service", sam]),
        sid: format!("{DOMAIN_SID}-{}", 4100 + index),
        employee_id: String::new(),
        office: 0,
        groups: Vec::new(),
        device: None,
        owner: None,
        spn: (!spn.is_empty()).then(|| spn.to_string()),
        mfa_registered: false,
        created: created - 1_500 * DAY,
        home_ip: String::new(),
    });
}

fn mac(rng: &mut Rng) -> String {
    let h = rng.hex(12).to_uppercase();
    format!("00-15-5D-{}-{}-{}", &h[0..2], &h[2..4], &h[4..6])
}

fn workstation(
    rng: &mut Rng,
    index: usize,
    host: String,
    owner: Option<usize>,
    laptop: bool,
) -> Device {
    let (vendor, model) = if laptop {
        *rng.pick(&[
            ("Dell Inc.", "Latitude 5440"),
            ("Lenovo", "ThinkPad T14 Gen 4"),
            ("HP", "EliteBook 840 G10"),
        ])
    } else {
        *rng.pick(&[("Dell Inc.", "OptiPlex 7010"), ("HP", "EliteDesk 800 G9")])
    };
    let os = if rng.chance(0.8) { WIN11 } else { WIN10 };
    let name = format!("{}.{DOMAIN}", host.to_lowercase());
    Device {
        index,
        id: digest_hex(&["device", &name], 40),
        aad_id: digest_guid(&["aad-device", &name]),
        name,
        host,
        role: Role::Workstation,
        os,
        ip: format!("10.10.{}.{}", 20 + index / 200, 10 + index % 200),
        mac: mac(rng),
        public_ip: Some(EGRESS_IP.to_string()),
        primary_user: owner,
        machine_group: "Workstations - Standard",
        internet_facing: false,
        exposure: if rng.chance(0.15) { "Medium" } else { "Low" },
        vendor,
        model,
        serial: rng.hex(8).to_uppercase(),
        laptop,
        asset_value: "Normal",
    }
}

/// Host, role, OS, address, machine group, public address, exposure level.
type ServerSpec = (
    &'static str,
    Role,
    Os,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

fn servers(rng: &mut Rng, devices: &mut Vec<Device>) {
    let list: [ServerSpec; 9] = [
        (
            "TRE-DC01",
            Role::DomainController,
            SERVER2022,
            "10.10.0.10",
            "Servers - Tier 0",
            None,
            "Low",
        ),
        (
            "TRE-FS01",
            Role::FileServer,
            SERVER2019,
            "10.10.0.20",
            "Servers - Tier 1",
            None,
            "Low",
        ),
        (
            "TRE-SQL01",
            Role::Sql,
            SERVER2019,
            "10.10.0.30",
            "Servers - Tier 1",
            None,
            "Low",
        ),
        (
            "TRE-APP01",
            Role::App,
            SERVER2022,
            "10.10.0.40",
            "Servers - Tier 1",
            None,
            "Medium",
        ),
        (
            "TRE-BKP01",
            Role::Backup,
            SERVER2022,
            "10.10.0.50",
            "Servers - Tier 0",
            None,
            "Low",
        ),
        (
            "tre-wiki01",
            Role::LinuxWiki,
            UBUNTU2004,
            "10.10.100.25",
            "Servers - DMZ",
            Some("203.0.113.25"),
            "High",
        ),
        (
            "tre-web01",
            Role::LinuxWeb,
            UBUNTU2204,
            "10.10.100.26",
            "Servers - DMZ",
            Some("203.0.113.26"),
            "Medium",
        ),
        (
            "tre-build01",
            Role::LinuxBuild,
            UBUNTU2204,
            "10.10.0.60",
            "Servers - Tier 1",
            None,
            "Low",
        ),
        (
            "tre-mon01",
            Role::LinuxMonitor,
            UBUNTU2204,
            "10.10.0.61",
            "Servers - Tier 1",
            None,
            "Low",
        ),
    ];
    for (host, role, os, ip, group, public, exposure) in list {
        let index = devices.len();
        let name = format!("{}.{DOMAIN}", host.to_lowercase());
        let tier0 = group.ends_with("Tier 0");
        devices.push(Device {
            index,
            id: digest_hex(&["device", &name], 40),
            aad_id: digest_guid(&["aad-device", &name]),
            name,
            host: host.to_string(),
            role,
            os,
            ip: ip.to_string(),
            mac: mac(rng),
            public_ip: Some(public.unwrap_or(EGRESS_IP).to_string()),
            primary_user: None,
            machine_group: group,
            internet_facing: public.is_some(),
            exposure,
            vendor: "VMware, Inc.",
            model: "VMware7,1",
            serial: format!("VMware-{}", rng.hex(16)),
            laptop: false,
            asset_value: if tier0 { "High" } else { "Normal" },
        });
    }
}

fn assign_groups(rng: &mut Rng, users: &mut [User]) {
    for u in users.iter_mut() {
        match u.kind {
            AccountKind::Person => {
                u.groups.push("All Staff".into());
                u.groups.push(format!("{} Team", u.department));
                if rng.chance(0.45) || u.device.is_some() && rng.chance(0.5) {
                    u.groups.push("VPN Users".into());
                }
                if u.manager.is_none() || u.title.starts_with("Head") {
                    u.groups.push("Managers".into());
                }
                match u.department {
                    "Finance" => u.groups.push("Finance Share Editors".into()),
                    "Engineering" | "Research" => {
                        u.groups.push("Engineering Share Editors".into());
                        u.groups.push("CAD Licence Holders".into());
                    }
                    "HR" => u.groups.push("HR Confidential".into()),
                    "IT" => u.groups.push("IT Staff".into()),
                    _ => {}
                }
            }
            AccountKind::Admin => {
                u.groups.push("Domain Admins".into());
                u.groups.push("Server Admins".into());
                u.groups.push("Workstation Admins".into());
            }
            AccountKind::Service => {
                u.groups.push("Service Accounts".into());
                if u.sam == "svc_backup" {
                    u.groups.push("Backup Operators".into());
                }
            }
        }
    }
}
