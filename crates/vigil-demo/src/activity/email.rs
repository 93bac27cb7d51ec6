//! Mail: messages in and out (`EmailEvents`), their attachments and links
//! (`EmailAttachmentInfo`, `EmailUrlInfo`) and the links people click
//! (`UrlClickEvents`).

use serde_json::json;

use super::{Ctx, shifts};
use crate::Error;
use crate::clock::MINUTE;
use crate::org::{DOMAIN, EGRESS_IP, User};
use crate::rng::{Rng, digest_hex};
use crate::sink::{Row, Sink, canonical};

/// Partners and services that write to the company: domain, sender, display name,
/// subjects, sending address.
const SENDERS: &[(&str, &str, &str, &[&str], &str)] = &[
    (
        "harbour-logistics.example",
        "planning",
        "Harbour Logistics Planning",
        &[
            "Delivery schedule week {n}",
            "Container booking {n}",
            "Updated ETA for order {n}",
        ],
        "198.51.100.61",
    ),
    (
        "nordic-steel.example",
        "sales",
        "Nordic Steel Sales",
        &[
            "Quotation {n}",
            "Price update Q{q}",
            "Order confirmation {n}",
        ],
        "198.51.100.62",
    ),
    (
        "fastener-supply.example",
        "orders",
        "Fastener Supply",
        &["Your order {n} has shipped", "Invoice {n}"],
        "198.51.100.63",
    ),
    (
        "trade-news.example",
        "newsletter",
        "Engineering Trade News",
        &["This week in industrial design", "Fair calendar {n}"],
        "198.51.100.64",
    ),
    (
        "certify-labs.example",
        "info",
        "Certify Labs",
        &["Test report {n} available", "Calibration reminder"],
        "198.51.100.65",
    ),
];

/// One message to one recipient.
#[derive(Debug, Clone)]
pub struct Mail<'a> {
    pub t: i64,
    pub id: String,
    pub from: String,
    pub from_name: String,
    pub sender_ip: &'a str,
    pub to: &'a User,
    pub subject: String,
    pub direction: &'static str,
    pub attachments: Vec<(String, String, String, i64)>,
    pub urls: Vec<String>,
    pub threat: &'static str,
    pub delivery: (&'static str, &'static str),
    pub auth: (&'static str, &'static str, &'static str),
}

/// The rows one message makes: the message, its attachments and its links.
pub fn mail_rows(m: &Mail<'_>, rng: &mut Rng) -> Vec<Row> {
    let mut rows = Vec::new();
    let domain = m.from.split('@').nth(1).unwrap_or(DOMAIN).to_string();
    let mut e = Row::new("EmailEvents", m.t);
    let auth = json!({"SPF": m.auth.0, "DKIM": m.auth.1, "DMARC": m.auth.2, "CompAuth": if m.auth.2 == "pass" { "pass" } else { "fail" }});
    e.set("NetworkMessageId", m.id.as_str())
        .set(
            "InternetMessageId",
            format!("<{}@{domain}>", rng.hex(20).to_uppercase()),
        )
        .set("SenderMailFromAddress", m.from.as_str())
        .set("SenderFromAddress", m.from.as_str())
        .set("SenderDisplayName", m.from_name.as_str())
        .set("SenderMailFromDomain", domain.as_str())
        .set("SenderFromDomain", domain.as_str())
        .set("SenderIPv4", m.sender_ip)
        .set("RecipientEmailAddress", m.to.upn.as_str())
        .set("RecipientObjectId", m.to.object_id.as_str())
        .set("To", m.to.upn.as_str())
        .set("Subject", m.subject.as_str())
        .set("EmailDirection", m.direction)
        .set("DeliveryAction", m.delivery.0)
        .set("DeliveryLocation", m.delivery.1)
        .set("LatestDeliveryAction", m.delivery.0)
        .set("LatestDeliveryLocation", m.delivery.1)
        .text("ThreatTypes", m.threat)
        .set("AuthenticationDetails", canonical(&auth))
        .set("AttachmentCount", m.attachments.len() as i64)
        .set("UrlCount", m.urls.len() as i64)
        .set("EmailLanguage", "en")
        .set("EmailAction", "No action taken")
        .set("OrgLevelAction", "")
        .set(
            "BulkComplaintLevel",
            if m.from.starts_with("newsletter") {
                5
            } else {
                0
            },
        )
        .set("Connectors", "");
    if m.direction == "Inbound" && m.threat == "Spam" {
        e.set(
            "DetectionMethods",
            canonical(&json!({"Spam": ["Mixed analysis detection"]})),
        )
        .set("ConfidenceLevel", canonical(&json!({"Spam": "Normal"})));
    }
    rows.push(e);
    for (name, ty, sha, size) in &m.attachments {
        let mut a = Row::new("EmailAttachmentInfo", m.t);
        a.set("NetworkMessageId", m.id.as_str())
            .set("SenderFromAddress", m.from.as_str())
            .set("SenderDisplayName", m.from_name.as_str())
            .set("RecipientEmailAddress", m.to.upn.as_str())
            .set("RecipientObjectId", m.to.object_id.as_str())
            .set("FileName", name.as_str())
            .set("FileType", ty.as_str())
            .set("SHA256", sha.as_str())
            .set("FileSize", *size)
            .text(
                "ThreatTypes",
                if m.threat == "Malware" { "Malware" } else { "" },
            );
        rows.push(a);
    }
    for url in &m.urls {
        let mut u = Row::new("EmailUrlInfo", m.t);
        let host = url.split('/').nth(2).unwrap_or("").to_string();
        u.set("NetworkMessageId", m.id.as_str())
            .set("Url", url.as_str())
            .set("UrlDomain", host)
            .set("UrlLocation", "Body");
        rows.push(u);
    }
    rows
}

/// A Safe Links click on `url` from message `id`.
pub fn click(t: i64, url: &str, user: &User, id: &str) -> Row {
    let mut c = Row::new("UrlClickEvents", t);
    c.set("Url", url)
        .set("ActionType", "ClickAllowed")
        .set("AccountUpn", user.upn.as_str())
        .set("Workload", "Email")
        .set("NetworkMessageId", id)
        .set("IPAddress", EGRESS_IP)
        .set("IsClickedThrough", false)
        .set("UrlChain", canonical(&json!([url])))
        .set("ThreatTypes", "")
        .set("DetectionMethods", "");
    c
}

pub fn generate(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    let org = ctx.org;
    let people: Vec<&User> = org.people().collect();
    for user in &people {
        let mut rng = ctx.rng(&format!("mail-{}", user.sam));
        for shift in shifts(ctx, user.index) {
            let inbound = ctx.scaled(1.0 + rng.unit() * 3.0);
            for _ in 0..inbound {
                let (domain, local, name, subjects, ip) = *rng.pick(SENDERS);
                let subject = rng
                    .pick(subjects)
                    .replace("{n}", &rng.range(1000, 99_999).to_string())
                    .replace("{q}", &rng.range(1, 4).to_string());
                let t = rng.range(shift.start - 30 * MINUTE, shift.end);
                let spam = rng.chance(0.04);
                let mut m = Mail {
                    t,
                    id: rng.guid(),
                    from: format!("{local}@{domain}"),
                    from_name: name.to_string(),
                    sender_ip: ip,
                    to: user,
                    subject,
                    direction: "Inbound",
                    attachments: vec![],
                    urls: vec![],
                    threat: if spam { "Spam" } else { "" },
                    delivery: if spam {
                        ("Junked", "Junk folder")
                    } else {
                        ("Delivered", "Inbox/folder")
                    },
                    auth: ("pass", "pass", "pass"),
                };
                if !spam && rng.chance(0.4) {
                    let file = format!("{}.pdf", m.subject.replace(' ', "_"));
                    let sha = digest_hex(&["mail-att", &m.id], 64);
                    m.attachments
                        .push((file, "pdf".into(), sha, rng.range(40_000, 2_000_000)));
                }
                if rng.chance(0.5) {
                    m.urls.push(format!(
                        "https://www.{domain}/{}",
                        rng.pick(&["portal", "track", "news", "account"])
                    ));
                }
                for row in mail_rows(&m, &mut rng) {
                    sink.push(row)?;
                }
                if let Some(url) = m.urls.first()
                    && !spam
                    && rng.chance(0.25)
                {
                    let ct = (t + rng.range(2, 90) * MINUTE).min(ctx.clock.end - 1);
                    sink.push(click(ct, url, user, &m.id))?;
                }
            }
            // Internal mail to a colleague.
            if rng.chance(0.7) {
                let to = people[rng.index(people.len())];
                let m = Mail {
                    t: rng.range(shift.start, shift.end),
                    id: rng.guid(),
                    from: user.upn.clone(),
                    from_name: user.display.clone(),
                    sender_ip: EGRESS_IP,
                    to,
                    subject: rng
                        .pick(&[
                            "Re: planning",
                            "Minutes of today's meeting",
                            "Question about the order",
                            "FW: updated figures",
                            "Lunch on Friday?",
                        ])
                        .to_string(),
                    direction: "Intra-org",
                    attachments: vec![],
                    urls: vec![],
                    threat: "",
                    delivery: ("Delivered", "Inbox/folder"),
                    auth: ("pass", "pass", "pass"),
                };
                for row in mail_rows(&m, &mut rng) {
                    sink.push(row)?;
                }
            }
        }
    }
    Ok(())
}
