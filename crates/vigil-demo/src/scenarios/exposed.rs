//! Scenario 5: the wiki server faces the internet and runs a Confluence Server version
//! with CVE-2022-26134, a remote code execution flaw in CISA's Known Exploited
//! Vulnerabilities catalog. Scanners find it; nothing is exploited yet.

use super::{Track, strings};
use crate::Error;
use crate::activity::CONFLUENCE;
use crate::activity::Ctx;
use crate::clock::{HOUR, SECOND};
use crate::events::{self, Conn};
use crate::org::Role;
use crate::proc::{self, Account, Proc};
use crate::sink::Sink;
use crate::truth::Scenario;

pub const SCANNER_IP: &str = "198.51.100.201";

pub fn inject(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<Option<Scenario>, Error> {
    let org = ctx.org;
    let wiki = org.device(Role::LinuxWiki);
    let mut rng = ctx.rng("scenario-exposed");
    let mut tr = Track::new(sink);
    let java = Proc::new(&proc::JAVA_CONFLUENCE, 1712, "/opt/atlassian/confluence/jre//bin/java -Dconfluence.home=/var/atlassian/application-data/confluence org.apache.catalina.startup.Bootstrap start", ctx.clock.start - 40 * HOUR)
        .run_as(Account::linux(&wiki.host, "confluence", 1001), "", 0);
    // A scanner probes the exposed Confluence port at night, twice in the fortnight.
    let days = ctx.clock.days();
    for (k, back) in [11usize, 4].iter().enumerate() {
        let day = days[days.len().saturating_sub(*back + 1)];
        let mut t = day.at(2.0 + rng.unit());
        for n in 0..25 {
            let c = Conn::inbound(wiki, SCANNER_IP, rng.range(32_768, 65_535), 8090);
            let row = events::network(wiki, t, &java, &c);
            if n == 0 {
                tr.step(
                    row,
                    if k == 0 {
                        "An internet scanner probes the Confluence port"
                    } else {
                        "The scanner comes back"
                    },
                )?;
            } else {
                tr.push(row)?;
            }
            t += rng.range(1, 20) * SECOND;
        }
    }
    let mut sc = tr.finish(
        "exposed-vulnerable-server",
        "Internet-facing Confluence Server with a known exploited CVE",
        true,
    );
    sc.summary = format!(
        "{} ({}, public address {}) is internet facing (DeviceInfo IsInternetFacing true, ExposureLevel High) and runs Atlassian Confluence Server {}, affected by CVE-2022-26134 (critical, in CISA KEV since 2022-06-02, used in ransomware campaigns). A scanner at {SCANNER_IP} probes port 8090 twice; no exploitation is in the data.",
        wiki.name,
        wiki.os.display,
        wiki.public_ip.as_deref().unwrap_or(""),
        CONFLUENCE.version
    );
    sc.devices = vec![wiki.name.clone()];
    sc.ips = vec![
        SCANNER_IP.to_string(),
        wiki.public_ip.clone().unwrap_or_default(),
    ];
    sc.techniques = strings(&["T1190", "T1595.002"]);
    sc.tactics = strings(&["Reconnaissance", "InitialAccess"]);
    sc.tables.extend(strings(&[
        "DeviceInfo",
        "DeviceTvmSoftwareInventory",
        "DeviceTvmSoftwareVulnerabilities",
    ]));
    sc.tables.sort();
    sc.notes = vec![
        "CVE-2022-26134 appears in DeviceTvmSoftwareVulnerabilities for this device; the KEV catalog entry gives the due date and the ransomware use.".into(),
        "The same device also has CVE-2023-38408 (OpenSSH 8.2p1) and an expired TLS certificate (DeviceTvmCertificateInfo, wiki.tamarack.example).".into(),
        "No Sigma rule is expected to fire: the finding is exposure plus vulnerability, not an event.".into(),
    ];
    Ok(Some(sc))
}
