//! What the lake knows about one device, user, address, file hash, domain or URL: where it
//! appears, first and last seen, and the alerts and incidents that involve it.

use async_trait::async_trait;
use serde_json::json;

use super::{and_list, plural};
use crate::grounding::{Entity, EntityKind, entities};
use crate::lake::kql_string;
use crate::skill::{
    InputKind, InputSpec, Inputs, ResultTable, Section, Skill, SkillContext, SkillError,
    SkillOutput, SkillSpec, required, text_of,
};

/// Where an entity of a kind can appear: table, column, and whether to compare exactly
/// (`=~`) or as a term (`has`).
fn places(kind: EntityKind) -> &'static [(&'static str, &'static str, bool)] {
    match kind {
        EntityKind::Device => &[
            ("DeviceInfo", "DeviceName", true),
            ("DeviceProcessEvents", "DeviceName", true),
            ("DeviceNetworkEvents", "DeviceName", true),
            ("DeviceFileEvents", "DeviceName", true),
            ("DeviceRegistryEvents", "DeviceName", true),
            ("DeviceLogonEvents", "DeviceName", true),
            ("DeviceImageLoadEvents", "DeviceName", true),
            ("DeviceEvents", "DeviceName", true),
            ("SecurityEvent", "Computer", true),
            ("WindowsEvent", "Computer", true),
        ],
        EntityKind::User | EntityKind::Email => &[
            ("IdentityInfo", "AccountName", true),
            ("DeviceLogonEvents", "AccountName", true),
            ("DeviceProcessEvents", "AccountName", true),
            ("SigninLogs", "UserPrincipalName", false),
            (
                "AADNonInteractiveUserSignInLogs",
                "UserPrincipalName",
                false,
            ),
            ("SecurityEvent", "TargetUserName", true),
            ("SecurityEvent", "SubjectUserName", true),
            ("EmailEvents", "RecipientEmailAddress", false),
        ],
        EntityKind::Ipv4 | EntityKind::Ipv6 => &[
            ("DeviceNetworkEvents", "RemoteIP", true),
            ("DeviceNetworkEvents", "LocalIP", true),
            ("DeviceLogonEvents", "RemoteIP", true),
            ("SigninLogs", "IPAddress", true),
            ("SecurityEvent", "IpAddress", true),
            ("CommonSecurityLog", "SourceIP", true),
            ("CommonSecurityLog", "DestinationIP", true),
        ],
        EntityKind::Md5 => &[
            ("DeviceProcessEvents", "MD5", true),
            ("DeviceFileEvents", "MD5", true),
            ("DeviceImageLoadEvents", "MD5", true),
        ],
        EntityKind::Sha1 => &[
            ("DeviceProcessEvents", "SHA1", true),
            ("DeviceFileEvents", "SHA1", true),
            ("DeviceImageLoadEvents", "SHA1", true),
        ],
        EntityKind::Sha256 => &[
            ("DeviceProcessEvents", "SHA256", true),
            ("DeviceFileEvents", "SHA256", true),
            ("DeviceImageLoadEvents", "SHA256", true),
            ("EmailAttachmentInfo", "SHA256", true),
        ],
        EntityKind::Domain | EntityKind::Url => &[
            ("DeviceNetworkEvents", "RemoteUrl", false),
            ("DeviceEvents", "AdditionalFields", false),
            ("EmailUrlInfo", "Url", false),
            ("UrlClickEvents", "Url", false),
            ("DnsEvents", "Name", false),
        ],
        EntityKind::FilePath => &[
            ("DeviceProcessEvents", "FolderPath", true),
            ("DeviceFileEvents", "FolderPath", true),
            ("DeviceImageLoadEvents", "FolderPath", true),
        ],
        EntityKind::RegistryKey => &[("DeviceRegistryEvents", "RegistryKey", true)],
        _ => &[],
    }
}

/// Looks up one entity across the lake.
pub struct LookupEntity {
    spec: SkillSpec,
}

impl LookupEntity {
    pub fn new() -> LookupEntity {
        LookupEntity {
            spec: SkillSpec {
                name: "lookup_entity".into(),
                description: "Look up a device, user, IP address, file hash, domain or URL: what the lake knows about it, where it appears, first and last seen, related alerts and incidents".into(),
                examples: [
                    "Look up 203.0.113.7",
                    "What do we know about ws-01?",
                    "Tell me about the user jdoe",
                    "Is the hash 44d88612fea8a8f36de82e1278abb02f in our environment?",
                    "Have we seen evil[.]example?",
                    "Where does this IP appear?",
                    "Who is jdoe?",
                ]
                .iter()
                .map(|e| e.to_string())
                .collect(),
                inputs: vec![
                    InputSpec::required("entity", InputKind::Entity, "the device, user, IP, hash, domain or URL"),
                    InputSpec::optional("kind", InputKind::Text, "device, user, ipv4, ipv6, md5, sha1, sha256, domain, url, email, file_path, registry_key (guessed when not given)"),
                ],
                source: "builtin".into(),
                side_effects: false,
            },
        }
    }
}

impl Default for LookupEntity {
    fn default() -> Self {
        LookupEntity::new()
    }
}

/// The kind of a bare value: an indicator's own shape, else a device or user the lake
/// knows, else a device.
fn guess_kind(value: &str, ctx: &SkillContext<'_>) -> EntityKind {
    if let Some(e) = entities::extract(value).into_iter().next()
        && e.value.len() + 2 >= value.len()
    {
        return e.kind;
    }
    let known = ctx
        .grounding
        .all_entities()
        .find(|e| e.value.eq_ignore_ascii_case(value));
    match known {
        Some(e) => e.kind,
        None => EntityKind::Device,
    }
}

#[async_trait]
impl Skill for LookupEntity {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let raw = required(&self.spec, inputs, "entity")?;
        let value = entities::refang(raw);
        let kind = match inputs.get("kind").filter(|k| !k.is_empty()) {
            Some(k) => EntityKind::parse(k).ok_or_else(|| {
                SkillError::BadInput(format!(
                    "{k:?} is not an entity kind (device, user, ipv4, sha256, domain, …)"
                ))
            })?,
            None => guess_kind(&value, ctx),
        };
        // A UPN or DOMAIN\name is looked up by its account name where tables keep that.
        let account = value
            .rsplit('\\')
            .next()
            .unwrap_or(&value)
            .split('@')
            .next()
            .unwrap_or(&value)
            .to_string();
        let mut seen = ResultTable::new(
            format!("Where {value} appears"),
            &["Table", "Column", "Events", "FirstSeen", "LastSeen"],
        );
        let mut out = SkillOutput::default();
        let mut first: Option<String> = None;
        let mut last: Option<String> = None;
        let mut total: u64 = 0;
        for (table, column, exact) in places(kind) {
            let target = if kind == EntityKind::User && *exact {
                &account
            } else {
                &value
            };
            let condition = if *exact {
                format!("{column} =~ {}", kql_string(target))
            } else {
                format!("{column} has {}", kql_string(target))
            };
            let q = format!(
                "{table}\n| where {condition}\n| summarize Events = count(), FirstSeen = min(Timestamp), LastSeen = max(Timestamp)"
            );
            let r = match ctx.lake.query(table, &q).await {
                Ok(r) => r,
                // A table or column the lake does not hold: nothing to say about it.
                Err(e) => {
                    tracing::debug!(%e, "lookup in {table}");
                    continue;
                }
            };
            let Some(row) = r.table.rows.first() else {
                continue;
            };
            let events = row.first().and_then(|v| v.as_u64()).unwrap_or(0);
            if events == 0 {
                continue;
            }
            total += events;
            let f = row.get(1).and_then(text_of);
            let l = row.get(2).and_then(text_of);
            if let Some(f) = &f
                && first.as_ref().is_none_or(|x| f < x)
            {
                first = Some(f.clone());
            }
            if let Some(l) = &l
                && last.as_ref().is_none_or(|x| l > x)
            {
                last = Some(l.clone());
            }
            seen.rows.push(vec![
                json!(table),
                json!(column),
                json!(events),
                json!(f),
                json!(l),
            ]);
            out.evidence.push(r.evidence);
        }

        // Alerts and incidents that name it.
        let evidence_column = match kind {
            EntityKind::Device => Some(("DeviceName", account.clone())),
            EntityKind::User | EntityKind::Email => Some(("AccountName", account.clone())),
            EntityKind::Ipv4 | EntityKind::Ipv6 => Some(("RemoteIP", value.clone())),
            EntityKind::Sha256 => Some(("SHA256", value.clone())),
            EntityKind::Url | EntityKind::Domain => Some(("RemoteUrl", value.clone())),
            _ => None,
        };
        let mut alert_count = 0;
        let mut incident_numbers: Vec<String> = Vec::new();
        if let Some((column, v)) = evidence_column {
            let matcher = if column == "DeviceName" {
                format!(
                    "{column} =~ {0} or {column} startswith {1}",
                    kql_string(&v),
                    kql_string(&format!("{v}."))
                )
            } else if matches!(kind, EntityKind::Url | EntityKind::Domain) {
                format!("{column} has {}", kql_string(&v))
            } else {
                format!("{column} =~ {}", kql_string(&v))
            };
            let q = format!(
                "AlertEvidence\n| where {matcher}\n| distinct AlertId\n| join kind=inner (AlertInfo) on AlertId\n| project Timestamp, AlertId, Title, Severity\n| sort by Timestamp desc"
            );
            if let Ok(r) = ctx
                .lake
                .query(&format!("Alerts involving {value}"), &q)
                .await
            {
                alert_count = r.table.rows.len();
                if alert_count > 0 {
                    out.evidence.push(r.evidence);
                    out.tables.push(r.table);
                }
            }
            let q = format!(
                "SecurityIncident\n| summarize arg_max(TimeGenerated, *) by IncidentNumber\n| where AdditionalData has {}\n| project IncidentNumber, Severity, Status, Title, LastActivityTime\n| sort by LastActivityTime desc",
                kql_string(&account)
            );
            if let Ok(r) = ctx
                .lake
                .query(&format!("Incidents involving {value}"), &q)
                .await
                && !r.table.rows.is_empty()
            {
                incident_numbers = r.table.texts("IncidentNumber");
                out.evidence.push(r.evidence);
                out.tables.push(r.table);
            }
        }

        let what = kind.name().replace('_', " ");
        out.answer = if total == 0 && alert_count == 0 {
            format!("The lake has no record of the {what} {value}.")
        } else {
            let mut s = format!(
                "The {what} {value} appears in {} across {}",
                plural(total as usize, "event", "events"),
                plural(seen.rows.len(), "table column", "table columns"),
            );
            if let (Some(f), Some(l)) = (&first, &last) {
                s.push_str(&format!(", first seen {f} and last seen {l}"));
            }
            s.push_str(&format!(
                "; {} name it",
                plural(alert_count, "alert", "alerts")
            ));
            if !incident_numbers.is_empty() {
                let refs: Vec<String> = incident_numbers.iter().map(|n| format!("#{n}")).collect();
                s.push_str(&format!(" in incidents {}", and_list(&refs)));
            }
            s.push('.');
            s
        };
        out.fact("events", total);
        out.fact("alerts", alert_count);
        if !seen.rows.is_empty() {
            out.tables.insert(0, seen);
        }
        out.entities.push(Entity::new(kind, value.clone()));
        for n in &incident_numbers {
            out.entities.push(Entity::new(EntityKind::Incident, n));
        }
        if let Some(n) = incident_numbers.first() {
            out.follow_ups.push(format!("Summarize incident {n}"));
        }
        if kind == EntityKind::Device {
            out.follow_ups
                .push(format!("What happened on {value} in the last 24 hours?"));
        }
        if total == 0 {
            out.sections.push(Section {
                title: "Where Vigil looked".into(),
                body: places(kind)
                    .iter()
                    .map(|(t, c, _)| format!("- {t}.{c}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
        }
        Ok(out)
    }
}
