//! The outside world the company talks to: web sites and cloud services under
//! `.example` names, at addresses from the documentation ranges.

use crate::rng::fnv;

/// A public address in 192.0.2.0/24 for a host name, the same for the same name. The
/// other two documentation ranges are kept for people's homes, attackers and the
/// company's own public addresses.
pub fn public_ip(host: &str) -> String {
    format!("192.0.2.{}", 1 + fnv(host.as_bytes()) % 220)
}

/// Sites people browse at work.
pub const WEB: &[(&str, u32)] = &[
    ("intranet.tamarack.example", 30),
    ("tamarack.sharepoint.example", 25),
    ("search.example.com", 20),
    ("news.example", 8),
    ("weather.example", 3),
    ("supplier-portal.example", 6),
    ("standards.example.org", 5),
    ("docs.example.org", 7),
    ("maps.example.com", 3),
    ("travel.example", 2),
    ("cdn.example.net", 10),
    ("erp.tamarack.example", 8),
    ("crm.tamarack.example", 6),
];

/// Cloud endpoints of the apps everybody runs.
pub const MAIL: &str = "outlook.cloudmail.example";
pub const TEAMS: &str = "teams.cloudchat.example";
pub const ONEDRIVE: &str = "tamarack-my.files.example";
pub const UPDATES: &str = "update.os-vendor.example";
pub const AV_CLOUD: &str = "wdcp.av-vendor.example";
pub const EDR_CLOUD: &str = "edr-weu.av-vendor.example";
