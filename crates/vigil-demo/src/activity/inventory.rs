//! Inventory snapshots: devices (`DeviceInfo`, `DeviceNetworkInfo`), their software and
//! its known vulnerabilities, and the certificates in their stores.

use serde_json::json;

use super::Ctx;
use crate::Error;
use crate::clock::{DAY, HOUR};
use crate::org::{DOMAIN, Device, NETBIOS, Org, Role};
use crate::rng::{Rng, digest_hex};
use crate::sink::{Row, Sink, canonical};

/// One installed product: vendor, name, version (TVM's lower-case naming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Software {
    pub vendor: &'static str,
    pub name: &'static str,
    pub version: &'static str,
}

const fn sw(vendor: &'static str, name: &'static str, version: &'static str) -> Software {
    Software {
        vendor,
        name,
        version,
    }
}

/// A real CVE of a product version: id, severity, the fix to recommend.
pub struct Cve {
    pub software: Software,
    pub id: &'static str,
    pub severity: &'static str,
    pub fix: &'static str,
}

pub const CONFLUENCE: Software = sw("atlassian", "confluence_server", "7.18.0");

/// Vulnerable versions in the fleet and the CVEs that affect them. CVE-2022-26134,
/// CVE-2023-38831, CVE-2025-0411 and CVE-2023-26369 are in CISA's KEV catalog.
pub const CVES: &[Cve] = &[
    Cve {
        software: sw("igor_pavlov", "7-zip", "23.01"),
        id: "CVE-2024-11477",
        severity: "High",
        fix: "Update 7-Zip to 24.09 or later",
    },
    Cve {
        software: sw("igor_pavlov", "7-zip", "23.01"),
        id: "CVE-2025-0411",
        severity: "High",
        fix: "Update 7-Zip to 24.09 or later",
    },
    Cve {
        software: sw("rarlab", "winrar", "6.22"),
        id: "CVE-2023-38831",
        severity: "High",
        fix: "Update WinRAR to 6.23 or later",
    },
    Cve {
        software: sw("rarlab", "winrar", "6.22"),
        id: "CVE-2023-40477",
        severity: "High",
        fix: "Update WinRAR to 6.23 or later",
    },
    Cve {
        software: sw("adobe", "acrobat_reader_dc", "23.003.20269"),
        id: "CVE-2023-26369",
        severity: "High",
        fix: "Update Adobe Acrobat Reader to 23.006.20320 or later",
    },
    Cve {
        software: sw("notepad++", "notepad++", "8.5.4"),
        id: "CVE-2023-40031",
        severity: "High",
        fix: "Update Notepad++ to 8.5.7 or later",
    },
    Cve {
        software: CONFLUENCE,
        id: "CVE-2022-26134",
        severity: "Critical",
        fix: "Update Confluence Server to 7.18.1 or later",
    },
    Cve {
        software: sw("openbsd", "openssh", "8.2p1"),
        id: "CVE-2023-38408",
        severity: "Critical",
        fix: "Update OpenSSH to 9.3p2 or later",
    },
    Cve {
        software: sw("f5", "nginx", "1.18.0"),
        id: "CVE-2021-23017",
        severity: "High",
        fix: "Update nginx to 1.20.1 or later",
    },
];

/// The software on a device, drawn once per seed and device.
pub fn software_of(ctx: &Ctx<'_>, dev: &Device) -> Vec<Software> {
    let mut rng = ctx.rng(&format!("software-{}", dev.name));
    let mut out = Vec::new();
    if dev.role.is_linux() {
        let ssh = if dev.os.version == "20.4" {
            "8.2p1"
        } else {
            "8.9p1"
        };
        out.push(sw("canonical", "ubuntu_linux", dev.os.version_info));
        out.push(sw("openbsd", "openssh", ssh));
        out.push(sw(
            "openssl",
            "openssl",
            if dev.os.version == "20.4" {
                "1.1.1f"
            } else {
                "3.0.2"
            },
        ));
        match dev.role {
            Role::LinuxWiki => {
                out.push(CONFLUENCE);
                out.push(sw("eclipse", "temurin", "11.0.14.1"));
            }
            Role::LinuxWeb => out.push(sw("f5", "nginx", "1.18.0")),
            Role::LinuxBuild => {
                out.push(sw("jenkins", "jenkins", "2.479.3"));
                out.push(sw("oracle", "openjdk", "17.0.13"));
                out.push(sw("git-scm", "git", "2.34.1"));
            }
            _ => out.push(sw("prometheus", "prometheus", "2.53.3")),
        }
        return out;
    }
    out.push(match dev.os.platform {
        "Windows11" => sw("microsoft", "windows_11", "10.0.22631.4890"),
        "Windows10" => sw("microsoft", "windows_10", "10.0.19045.5371"),
        "WindowsServer2022" => sw("microsoft", "windows_server_2022", "10.0.20348.2966"),
        _ => sw("microsoft", "windows_server_2019", "10.0.17763.6532"),
    });
    out.push(sw("microsoft", "edge_chromium-based", "133.0.3065.92"));
    out.push(sw(
        "microsoft",
        "defender_for_endpoint",
        "10.8760.22621.1010",
    ));
    if dev.role.is_server() {
        match dev.role {
            Role::Sql => out.push(sw("microsoft", "sql_server_2019", "15.0.4405.4")),
            Role::App => out.push(sw(
                "microsoft",
                "internet_information_services",
                "10.0.20348.2966",
            )),
            Role::Backup => out.push(sw("veeam", "backup_and_replication", "12.3.0.310")),
            _ => {}
        }
        if rng.chance(0.5) {
            out.push(sw("igor_pavlov", "7-zip", "24.09"));
        }
        return out;
    }
    out.push(sw(
        "microsoft",
        "365_apps_for_enterprise",
        "16.0.17928.20392",
    ));
    out.push(sw("microsoft", "teams", "24335.208.3315.1951"));
    out.push(sw("microsoft", "onedrive", "24.246.1204.0003"));
    out.push(if rng.chance(0.3) {
        sw("adobe", "acrobat_reader_dc", "23.003.20269")
    } else {
        sw("adobe", "acrobat_reader_dc", "24.005.20320")
    });
    if rng.chance(0.6) {
        out.push(if rng.chance(0.35) {
            sw("igor_pavlov", "7-zip", "23.01")
        } else {
            sw("igor_pavlov", "7-zip", "24.09")
        });
    }
    if rng.chance(0.12) {
        out.push(sw("rarlab", "winrar", "6.22"));
    }
    if rng.chance(0.3) {
        out.push(sw("google", "chrome", "133.0.6943.127"));
    }
    let user_dept = dev
        .primary_user
        .map(|u| ctx.org.users[u].department)
        .unwrap_or("Engineering");
    match user_dept {
        "Engineering" | "Research" => {
            out.push(sw("dassault_systemes", "solidworks", "32.3.0.0073"));
            out.push(sw("microsoft", "visual_studio_code", "1.97.2"));
        }
        "IT" => {
            out.push(sw(
                "notepad++",
                "notepad++",
                if rng.chance(0.5) { "8.5.4" } else { "8.7.7" },
            ));
            out.push(sw("microsoft", "visual_studio_code", "1.97.2"));
            out.push(sw("wireshark", "wireshark", "4.4.3"));
        }
        _ => {}
    }
    out
}

fn os_fields(row: &mut Row, dev: &Device) {
    row.set("OSPlatform", dev.os.platform)
        .set("OSVersion", dev.os.version)
        .set("OSArchitecture", "x64");
}

pub fn generate(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    let org = ctx.org;
    let snapshot = ctx.clock.end - 3 * HOUR;
    for dev in &org.devices {
        device_info(ctx, org, dev, sink)?;
        for sw in software_of(ctx, dev) {
            let mut row = crate::events::device_row("DeviceTvmSoftwareInventory", snapshot, dev);
            os_fields(&mut row, dev);
            row.set("SoftwareVendor", sw.vendor)
                .set("SoftwareName", sw.name)
                .set("SoftwareVersion", sw.version)
                .set(
                    "ProductCodeCpe",
                    format!(
                        "cpe:2.3:a:{}:{}:{}:*:*:*:*:*:*:*",
                        sw.vendor, sw.name, sw.version
                    ),
                )
                .set(
                    "EndOfSupportStatus",
                    if sw.name == "windows_10" {
                        "Upcoming EOS Version"
                    } else {
                        ""
                    },
                );
            if sw.name == "windows_10" {
                row.set("EndOfSupportDate", "2025-10-14T00:00:00.000Z");
            }
            sink.push(row)?;
            for cve in CVES.iter().filter(|c| c.software == sw) {
                let mut v =
                    crate::events::device_row("DeviceTvmSoftwareVulnerabilities", snapshot, dev);
                os_fields(&mut v, dev);
                v.set("SoftwareVendor", sw.vendor)
                    .set("SoftwareName", sw.name)
                    .set("SoftwareVersion", sw.version)
                    .set("CveId", cve.id)
                    .set("VulnerabilitySeverityLevel", cve.severity)
                    .set("RecommendedSecurityUpdate", cve.fix)
                    .set("RecommendedSecurityUpdateId", "")
                    .set("CveTags", json!([]))
                    .set("CveMitigationStatus", "");
                sink.push(v)?;
            }
        }
        certificates(ctx, dev, snapshot, sink)?;
    }
    Ok(())
}

fn device_info(ctx: &Ctx<'_>, org: &Org, dev: &Device, sink: &mut Sink) -> Result<(), Error> {
    let mut rng = ctx.rng(&format!("deviceinfo-{}", dev.name));
    let owner = dev.primary_user.map(|u| &org.users[u]);
    let logged_on = match owner {
        Some(u) => canonical(&json!([{"UserName": u.sam, "DomainName": NETBIOS, "Sid": u.sid}])),
        None => "[]".to_string(),
    };
    let tags: Vec<&str> = match (dev.role, owner) {
        (Role::Workstation, Some(u)) => vec![u.department],
        (Role::AdminWorkstation, _) => vec!["PAW"],
        (Role::Workstation, None) => vec!["Lab"],
        (Role::LinuxWiki | Role::LinuxWeb, _) => vec!["DMZ", "Internet facing"],
        _ => vec!["Server"],
    };
    for day in ctx.clock.days() {
        let t = day.at(4.0) + rng.range(0, HOUR);
        if !ctx.clock.contains(t) {
            continue;
        }
        let mut row = crate::events::device_row("DeviceInfo", t, dev);
        row.set(
            "ClientVersion",
            if dev.role.is_linux() {
                "101.24112.0001"
            } else {
                "10.8760.22621.1010"
            },
        )
        .text("PublicIP", dev.public_ip.as_deref().unwrap_or(""))
        .set("OSArchitecture", "64-bit")
        .set("OSPlatform", dev.os.platform)
        .set("OSVersion", dev.os.version)
        .set("OSVersionInfo", dev.os.version_info)
        .text("OSDistribution", dev.os.distribution)
        .set(
            "IsAzureADJoined",
            dev.role.is_windows() && !dev.role.is_server(),
        )
        .set(
            "JoinType",
            if dev.role.is_linux() {
                ""
            } else if dev.role.is_server() {
                "Domain Joined"
            } else {
                "Hybrid Azure AD Join"
            },
        )
        .set("LoggedOnUsers", logged_on.as_str())
        .set("DeviceCategory", "Endpoint")
        .set(
            "DeviceType",
            if dev.role.is_server() {
                "Server"
            } else {
                "Workstation"
            },
        )
        .set("Model", dev.model)
        .set("Vendor", dev.vendor)
        .set("OnboardingStatus", "Onboarded")
        .set("SensorHealthState", "Active")
        .set("ExposureLevel", dev.exposure)
        .set("IsInternetFacing", dev.internet_facing)
        .set("AssetValue", dev.asset_value)
        .set("IsExcluded", false)
        .set("IsTransient", false)
        .set("DeviceManualTags", canonical(&json!(tags)))
        .set("DeviceDynamicTags", "[]")
        .set("HardwareUuid", crate::rng::digest_guid(&["hw", &dev.name]))
        .set("MergedDeviceIds", "[]")
        .set("DeviceObjectId", dev.aad_id.as_str());
        if dev.role.is_windows() {
            row.set("OSBuild", dev.os.build)
                .set("OsBuildRevision", dev.os.revision)
                .set("AadDeviceId", dev.aad_id.as_str());
        }
        if dev.role == Role::DomainController {
            row.set("DeviceRole", "DomainController");
        }
        let mut extra = json!({});
        if let Some(u) = owner {
            extra = json!({"PrimaryUser": u.upn, "PrimaryUserDisplayName": u.display});
        }
        if dev.internet_facing {
            extra["InternetFacingReason"] = json!("ExternalNetworkConnection");
            extra["InternetFacingPublicScannedIp"] = json!(dev.public_ip);
            extra["InternetFacingLocalPort"] = json!(if dev.role == Role::LinuxWiki {
                8090
            } else {
                443
            });
        }
        row.json_text("AdditionalFields", &extra);
        sink.push(row)?;
        network_info(dev, t + 30_000, &mut rng, sink)?;
    }
    Ok(())
}

fn network_info(dev: &Device, t: i64, rng: &mut Rng, sink: &mut Sink) -> Result<(), Error> {
    let mut row = crate::events::device_row("DeviceNetworkInfo", t, dev);
    let prefix = dev.ip.rsplit_once('.').map(|(p, _)| p).unwrap_or("10.10.0");
    let wifi = dev.laptop && rng.chance(0.6);
    row.set("NetworkAdapterName", if wifi { "Wi-Fi" } else { "Ethernet" })
        .set("MacAddress", dev.mac.as_str())
        .set("NetworkAdapterType", if wifi { "Wireless80211" } else { "Ethernet" })
        .set("NetworkAdapterStatus", "Up")
        .set("NetworkAdapterVendor", if dev.vendor.starts_with("VMware") { "VMware, Inc." } else { "Intel Corporation" })
        .set("TunnelType", "None")
        .set("ConnectedNetworks", canonical(&json!([{"Name": DOMAIN, "Description": DOMAIN, "IsConnectedToInternet": true, "Category": "Domain"}])))
        .set("DnsAddresses", canonical(&json!(["10.10.0.10"])))
        .set("IPv4Dhcp", if dev.role.is_server() { "" } else { "10.10.0.10" })
        .set("DefaultGateways", canonical(&json!([format!("{prefix}.1")])))
        .set("IPAddresses", canonical(&json!([{"IPAddress": dev.ip, "SubnetPrefix": 24, "AddressType": "Private"}])));
    sink.push(row)
}

/// Subject, issuer, store, valid from, valid until, subject type, extended key usage,
/// friendly name.
type CertRow<'a> = (
    serde_json::Value,
    serde_json::Value,
    &'a str,
    i64,
    i64,
    &'a str,
    &'a str,
    &'a str,
);

/// Certificates in the local machine store: the machine's own one from the company CA
/// (the previous one, expired, is often still there), the CA chain, and on servers the
/// TLS certificates of the services they host.
fn certificates(ctx: &Ctx<'_>, dev: &Device, t: i64, sink: &mut Sink) -> Result<(), Error> {
    let mut rng = ctx.rng(&format!("certs-{}", dev.name));
    let now = ctx.clock.end;
    let issuing = json!({"CommonName": "Tamarack Issuing CA 01", "OrganizationName": "Tamarack Ridge Engineering", "CountryName": "NL"});
    let root = json!({"CommonName": "Tamarack Root CA", "OrganizationName": "Tamarack Ridge Engineering", "CountryName": "NL"});
    let public_ca = json!({"CommonName": "Example Public TLS CA R2", "OrganizationName": "Example Trust Services", "CountryName": "US"});
    let machine = json!({"CommonName": dev.name, "OrganizationName": "Tamarack Ridge Engineering"});
    let mut certs: Vec<CertRow<'_>> = Vec::new();
    let issued = now - rng.range(30, 300) * DAY;
    certs.push((
        machine.clone(),
        issuing.clone(),
        "Local Machine\\Personal",
        issued,
        issued + 365 * DAY,
        "End entity",
        "Client Authentication, Server Authentication",
        "Machine",
    ));
    if rng.chance(0.35) {
        let old = issued - 365 * DAY;
        certs.push((
            machine.clone(),
            issuing.clone(),
            "Local Machine\\Personal",
            old,
            old + 365 * DAY,
            "End entity",
            "Client Authentication, Server Authentication",
            "Machine (previous)",
        ));
    }
    certs.push((
        issuing.clone(),
        root.clone(),
        "Local Machine\\Intermediate Certification Authorities",
        now - 900 * DAY,
        now + 925 * DAY,
        "CA",
        "",
        "Tamarack Issuing CA 01",
    ));
    certs.push((
        root.clone(),
        root.clone(),
        "Local Machine\\Trusted Root Certification Authorities",
        now - 2_000 * DAY,
        now + 1_650 * DAY,
        "CA",
        "",
        "Tamarack Root CA",
    ));
    match dev.role {
        Role::App => {
            let intranet = json!({"CommonName": "intranet.tamarack.example", "OrganizationName": "Tamarack Ridge Engineering"});
            let erp = json!({"CommonName": "erp.tamarack.example", "OrganizationName": "Tamarack Ridge Engineering"});
            certs.push((
                intranet,
                issuing.clone(),
                "Local Machine\\Personal",
                now - 345 * DAY,
                now + 20 * DAY,
                "End entity",
                "Server Authentication",
                "Intranet TLS",
            ));
            certs.push((
                erp,
                issuing.clone(),
                "Local Machine\\Personal",
                now - 400 * DAY,
                now - 35 * DAY,
                "End entity",
                "Server Authentication",
                "ERP TLS",
            ));
        }
        Role::LinuxWiki => {
            let wiki = json!({"CommonName": "wiki.tamarack.example", "OrganizationName": "Tamarack Ridge Engineering"});
            certs.push((
                wiki,
                public_ca.clone(),
                "/etc/ssl/certs",
                now - 100 * DAY,
                now - 10 * DAY,
                "End entity",
                "Server Authentication",
                "wiki.tamarack.example",
            ));
        }
        Role::LinuxWeb => {
            let www = json!({"CommonName": "www.tamarack.example", "OrganizationName": "Tamarack Ridge Engineering"});
            certs.push((
                www,
                public_ca.clone(),
                "/etc/ssl/certs",
                now - 60 * DAY,
                now + 30 * DAY,
                "End entity",
                "Server Authentication",
                "www.tamarack.example",
            ));
        }
        Role::Sql => {
            let sql = json!({"CommonName": "tre-sql01.tamarack.example"});
            certs.push((
                sql,
                json!({"CommonName": "tre-sql01.tamarack.example"}),
                "Local Machine\\Personal",
                now - 800 * DAY,
                now - 70 * DAY,
                "End entity",
                "Server Authentication",
                "SQL Server self-signed",
            ));
        }
        _ => {}
    }
    for (to, by, path, from, until, subject_type, eku, friendly) in certs {
        let thumb =
            digest_hex(&["cert", &dev.name, friendly, &from.to_string()], 40).to_uppercase();
        let mut row = crate::events::device_row("DeviceTvmCertificateInfo", t, dev);
        row.set("Thumbprint", thumb.as_str())
            .set("Path", path)
            .set("SignatureAlgorithm", "sha256RSA")
            .set(
                "KeySize",
                if subject_type == "CA" { "4096" } else { "2048" },
            )
            .time("IssueDate", from)
            .time("ExpirationDate", until)
            .set("SubjectType", subject_type)
            .set("SerialNumber", digest_hex(&["serial", &thumb], 32))
            .set("IssuedTo", to)
            .set("IssuedBy", by)
            .set("FriendlyName", friendly)
            .set(
                "CertificateUsage",
                if subject_type == "CA" {
                    "Certificate Signing, Off-line CRL Signing, CRL Signing"
                } else {
                    "Digital Signature, Key Encipherment"
                },
            )
            .text("ExtendedKeyUsage", eku);
        sink.push(row)?;
    }
    Ok(())
}
