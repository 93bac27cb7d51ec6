//! The incident queue and one incident's story: what happened in kill-chain order, the
//! entities involved, the timeline, and what to do next.

use async_trait::async_trait;
use serde_json::Value as Json;

use super::{and_list, entities_in, plural};
use crate::grounding::{Entity, EntityKind};
use crate::lake::{Lake, QueryResult, kql_string};
use crate::skill::{
    InputKind, InputSpec, Inputs, ResultTable, Section, Skill, SkillContext, SkillError,
    SkillOutput, SkillSpec, required, text_of,
};

fn spec(name: &str, description: &str, examples: &[&str], inputs: Vec<InputSpec>) -> SkillSpec {
    SkillSpec {
        name: name.into(),
        description: description.into(),
        examples: examples.iter().map(|e| e.to_string()).collect(),
        inputs,
        source: "builtin".into(),
        side_effects: false,
    }
}

/// The latest version of each incident (SecurityIncident keeps one row per change).
const LATEST: &str = "SecurityIncident\n| summarize arg_max(TimeGenerated, *) by IncidentNumber\n| extend Extra = parse_json(AdditionalData)";

/// A JSON list cell (or JSON text of one) as strings.
fn list_of(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::Array(a)) => a.iter().filter_map(text_of).collect(),
        Some(Json::String(s)) => serde_json::from_str::<Vec<String>>(s).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn cell<'a>(table: &'a ResultTable, row: &'a [Json], name: &str) -> Option<&'a Json> {
    table.column(name).and_then(|i| row.get(i))
}

fn cell_text(table: &ResultTable, row: &[Json], name: &str) -> String {
    cell(table, row, name).and_then(text_of).unwrap_or_default()
}

/// Lists incidents, newest activity first, by severity and status.
pub struct ListIncidents {
    spec: SkillSpec,
}

impl ListIncidents {
    pub fn new() -> ListIncidents {
        ListIncidents {
            spec: spec(
                "list_incidents",
                "List security incidents (Defender XDR and Sentinel style incident queue), filtered by severity and status, newest activity first",
                &[
                    "Show high severity incidents",
                    "Show high severity Defender XDR incidents",
                    "List open incidents",
                    "What are the latest incidents?",
                    "Which incidents are new?",
                    "Show me the incident queue",
                ],
                vec![
                    InputSpec::optional(
                        "severity",
                        InputKind::Severity,
                        "High, Medium, Low or Informational",
                    ),
                    InputSpec::optional(
                        "status",
                        InputKind::Status,
                        "New, Active, Closed, or Open (anything not closed)",
                    ),
                    InputSpec::optional(
                        "limit",
                        InputKind::Integer,
                        "how many to show (default: all)",
                    ),
                ],
            ),
        }
    }
}

impl Default for ListIncidents {
    fn default() -> Self {
        ListIncidents::new()
    }
}

#[async_trait]
impl Skill for ListIncidents {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let mut query = LATEST.to_string();
        let severity = inputs.get("severity").filter(|s| !s.is_empty());
        if let Some(s) = severity {
            query.push_str(&format!("\n| where Severity =~ {}", kql_string(s)));
        }
        let status = inputs.get("status").filter(|s| !s.is_empty());
        if let Some(s) = status {
            if s.eq_ignore_ascii_case("open") {
                query.push_str("\n| where Status != \"Closed\"");
            } else {
                query.push_str(&format!("\n| where Status =~ {}", kql_string(s)));
            }
        }
        let limit: Option<usize> =
            match inputs.get("limit").filter(|s| !s.is_empty()) {
                Some(l) => Some(l.parse().map_err(|_| {
                    SkillError::BadInput(format!("limit must be a number, not {l:?}"))
                })?),
                None => None,
            };
        query.push_str("\n| sort by LastActivityTime desc, IncidentNumber desc");
        if let Some(n) = limit {
            query.push_str(&format!("\n| take {n}"));
        }
        query.push_str("\n| project IncidentNumber, Severity, Status, Title, FirstActivityTime, LastActivityTime, Alerts = array_length(parse_json(AlertIds)), Devices = tostring(Extra.devices), Users = tostring(Extra.users), Tactics = tostring(Extra.tactics), Classification");
        let result = ctx.lake.query("Incidents", &query).await?;
        let n = result.table.rows.len();
        let which = match (severity, status) {
            (Some(s), Some(st)) => format!("{} {} severity", st.to_lowercase(), s.to_lowercase()),
            (Some(s), None) => format!("{} severity", s.to_lowercase()),
            (None, Some(st)) => st.to_lowercase(),
            (None, None) => String::new(),
        };
        let which = if which.is_empty() {
            String::new()
        } else {
            format!("{which} ")
        };
        let shown = 5;
        let numbers: Vec<String> = result
            .table
            .rows
            .iter()
            .take(shown)
            .map(|r| {
                format!(
                    "#{} ({})",
                    cell_text(&result.table, r, "IncidentNumber"),
                    cell_text(&result.table, r, "Title")
                )
            })
            .collect();
        let answer = if n == 0 {
            format!("There are no {which}incidents.")
        } else if limit == Some(n) {
            format!(
                "The {n} {which}incidents with the latest activity: {}.",
                and_list(&numbers)
            )
        } else {
            let latest = if n > shown {
                format!("; the {shown} with the latest activity")
            } else {
                String::new()
            };
            format!(
                "There {} {}{latest}: {}.",
                if n == 1 { "is" } else { "are" },
                plural(n, &format!("{which}incident"), &format!("{which}incidents")),
                and_list(&numbers)
            )
        };
        let mut out = SkillOutput {
            answer,
            entities: entities_in(&result.table),
            ..SkillOutput::default()
        };
        out.fact("incidents", n);
        if let Some(first) = result.table.rows.first() {
            let number = cell_text(&result.table, first, "IncidentNumber");
            out.follow_ups.push(format!("Summarize incident {number}"));
        }
        out.tables.push(result.table);
        out.evidence.push(result.evidence);
        Ok(out)
    }
}

/// Reads an incident number as written ("12", "#12").
pub fn incident_number(raw: &str) -> Result<u64, SkillError> {
    raw.trim().trim_start_matches('#').parse().map_err(|_| {
        SkillError::BadInput(format!("an incident number is a whole number, not {raw:?}"))
    })
}

/// Everything the lake knows about one incident: its latest row, its alerts in time order
/// and their evidence, with the queries that read them.
#[derive(Clone)]
pub struct IncidentFacts {
    pub number: u64,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub classification: String,
    pub first: String,
    pub last: String,
    pub alert_ids: Vec<String>,
    /// In kill-chain order.
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub devices: Vec<String>,
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub incident: QueryResult,
    /// Alerts, oldest first: Timestamp, AlertId, Title, Severity, Tactics, AttackTechniques,
    /// _SourceFile, _SourceRecord.
    pub alerts: Option<QueryResult>,
    pub evidence: Option<QueryResult>,
}

impl IncidentFacts {
    /// Reads incident `number` from the lake.
    pub async fn gather(lake: &Lake, number: u64) -> Result<IncidentFacts, SkillError> {
        let query = format!(
            "{LATEST}\n| where IncidentNumber == {number}\n| project IncidentNumber, Title, Severity, Status, Classification, FirstActivityTime, LastActivityTime, AlertIds, Tactics = Extra.tactics, Techniques = Extra.techniques, Devices = Extra.devices, Users = Extra.users, RemoteIPs = Extra.ips, Description"
        );
        let incident = lake.query("Incident", &query).await?;
        let Some(row) = incident.table.rows.first().cloned() else {
            return Err(SkillError::BadInput(format!(
                "there is no incident {number} (list them with \"show incidents\")"
            )));
        };
        let t = &incident.table;
        let alert_ids = list_of(cell(t, &row, "AlertIds"));
        let ids = alert_ids
            .iter()
            .map(|i| kql_string(i))
            .collect::<Vec<_>>()
            .join(", ");
        let alerts_query = format!(
            "AlertInfo\n| where AlertId in ({ids})\n| extend Tactics = tostring(parse_json(AdditionalFields).Tactics)\n| project Timestamp, AlertId, Title, Severity, Tactics, AttackTechniques, _SourceFile, _SourceRecord\n| sort by Timestamp asc"
        );
        let evidence_query = format!(
            "AlertEvidence\n| where AlertId in ({ids})\n| project AlertId, EntityType, EvidenceRole, DeviceName, AccountName, AccountDomain, FileName, FolderPath, ProcessCommandLine, SHA256, RemoteIP, RemoteUrl, RegistryKey"
        );
        let (alerts, evidence) = if alert_ids.is_empty() {
            (None, None)
        } else {
            (
                Some(lake.query("Timeline of alerts", &alerts_query).await?),
                Some(lake.query("Alert evidence", &evidence_query).await?),
            )
        };
        Ok(IncidentFacts {
            number,
            title: cell_text(t, &row, "Title"),
            severity: cell_text(t, &row, "Severity"),
            status: cell_text(t, &row, "Status"),
            classification: cell_text(t, &row, "Classification"),
            first: cell_text(t, &row, "FirstActivityTime"),
            last: cell_text(t, &row, "LastActivityTime"),
            tactics: list_of(cell(t, &row, "Tactics")),
            techniques: list_of(cell(t, &row, "Techniques")),
            devices: list_of(cell(t, &row, "Devices")),
            users: list_of(cell(t, &row, "Users")),
            ips: list_of(cell(t, &row, "RemoteIPs")),
            alert_ids,
            incident,
            alerts,
            evidence,
        })
    }

    /// The tactics of one alert row of `alerts`.
    pub fn alert_tactics(table: &ResultTable, row: &[Json]) -> Vec<String> {
        list_of(cell(table, row, "Tactics"))
    }
}

/// One incident's story.
pub struct SummarizeIncident {
    spec: SkillSpec,
}

impl SummarizeIncident {
    pub fn new() -> SummarizeIncident {
        SummarizeIncident {
            spec: spec(
                "summarize_incident",
                "Summarize an incident: what happened in kill-chain order, the affected devices, users and addresses, the timeline of its alerts, and recommended next steps",
                &[
                    "Summarize incident 12",
                    "What happened in incident 3?",
                    "Investigate incident 7",
                    "Tell me about incident #4",
                    "Give me the timeline of incident 9",
                ],
                vec![InputSpec::required(
                    "incident",
                    InputKind::Incident,
                    "the incident number",
                )],
            ),
        }
    }
}

impl Default for SummarizeIncident {
    fn default() -> Self {
        SummarizeIncident::new()
    }
}

/// What an analyst should do about each tactic seen.
pub fn next_step(tactic: &str) -> Option<&'static str> {
    Some(match tactic {
        "InitialAccess" => {
            "Find how the attacker got in (the email, link or exposed service) and block it for everyone else."
        }
        "Execution" => {
            "Review the command lines in the alerts and collect the scripts and binaries they ran."
        }
        "Persistence" => {
            "Remove the persistence (services, scheduled tasks, Run keys, accounts) the alerts point to, and look for the same on other devices."
        }
        "PrivilegeEscalation" => {
            "Check which accounts gained privileges and remove what was not approved."
        }
        "DefenseEvasion" => {
            "Check that security tools, logging and protections are still on for the devices involved."
        }
        "CredentialAccess" => {
            "Reset the passwords of the users involved and revoke their sessions and tokens; treat any credential on the device as exposed."
        }
        "Discovery" => {
            "Expect follow-on activity: look for lateral movement from the devices that ran discovery."
        }
        "LateralMovement" => {
            "Scope the other devices reached from these ones and isolate those that show the same activity."
        }
        "Collection" => "Find what data was gathered and where it was staged.",
        "CommandAndControl" => {
            "Block the remote addresses and domains in the alerts at the edge and hunt for them on every device."
        }
        "Exfiltration" => {
            "Establish what left the organisation and through which channel; preserve the evidence for legal and privacy review."
        }
        "Impact" => {
            "Isolate the affected devices now, protect backups, and start recovery planning."
        }
        _ => return None,
    })
}

#[async_trait]
impl Skill for SummarizeIncident {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let raw = required(&self.spec, inputs, "incident")?;
        let number = incident_number(raw)?;
        let f = IncidentFacts::gather(ctx.lake, number).await?;
        let IncidentFacts {
            alert_ids,
            tactics,
            techniques,
            devices,
            users,
            ips,
            title,
            severity,
            status,
            first,
            last,
            ..
        } = f.clone();
        let (incident, alerts, evidence) = (f.incident, f.alerts, f.evidence);

        let mut out = SkillOutput::default();
        let where_ = if devices.is_empty() {
            String::new()
        } else {
            format!(" on {}", and_list(&devices))
        };
        out.answer = format!(
            "Incident {number} ({severity} severity, {status}): {} between {first} and {last}{where_}.",
            plural(alert_ids.len(), "alert", "alerts"),
        );
        out.fact("incident", number);
        out.fact("severity", &severity);
        out.fact("alerts", alert_ids.len());

        // What happened, tactic by tactic in kill-chain order.
        let mut story = Vec::new();
        if let Some(a) = &alerts {
            for tactic in &tactics {
                let titles: Vec<String> = a
                    .table
                    .rows
                    .iter()
                    .filter(|r| list_of(cell(&a.table, r, "Tactics")).contains(tactic))
                    .map(|r| cell_text(&a.table, r, "Title"))
                    .fold(Vec::new(), |mut acc, t| {
                        if !acc.contains(&t) {
                            acc.push(t);
                        }
                        acc
                    });
                if !titles.is_empty() {
                    story.push(format!(
                        "{}. **{}**: {}",
                        story.len() + 1,
                        vigil_detect::incident::tactic_words(tactic),
                        and_list(&titles)
                    ));
                }
            }
        }
        let mut summary = vec![format!("**{title}**")];
        if !story.is_empty() {
            summary.push(String::new());
            summary.push("What happened, in kill-chain order:".into());
            summary.extend(story);
        }
        out.sections.push(Section {
            title: "Summary".into(),
            body: summary.join("\n"),
        });

        let mut affected = Vec::new();
        for (label, values) in [
            ("Devices", &devices),
            ("Users", &users),
            ("Remote IPs", &ips),
            ("Techniques", &techniques),
        ] {
            if !values.is_empty() {
                affected.push(format!("- {label}: {}", values.join(", ")));
            }
        }
        if !affected.is_empty() {
            out.sections.push(Section {
                title: "Affected entities".into(),
                body: affected.join("\n"),
            });
        }

        let mut steps: Vec<String> = tactics
            .iter()
            .filter_map(|t| next_step(t))
            .map(|s| format!("- {s}"))
            .collect();
        for d in &devices {
            steps.push(format!("- Look at everything else that ran on {d} around {first}: ask \"What happened on {d}?\""));
        }
        if !steps.is_empty() {
            out.sections.push(Section {
                title: "Recommended next steps".into(),
                body: steps.join("\n"),
            });
        }

        out.entities
            .push(Entity::new(EntityKind::Incident, number.to_string()));
        out.entities
            .extend(devices.iter().map(|d| Entity::new(EntityKind::Device, d)));
        out.entities.extend(
            users
                .iter()
                .map(|u| Entity::new(EntityKind::User, u.rsplit('\\').next().unwrap_or(u))),
        );
        out.entities.extend(ips.iter().map(|i| {
            let kind = if i.contains(':') {
                EntityKind::Ipv6
            } else {
                EntityKind::Ipv4
            };
            Entity::new(kind, i)
        }));
        if let Some(d) = devices.first() {
            out.follow_ups
                .push(format!("What happened on {d} in the last 24 hours?"));
            out.follow_ups.push(format!("Look up {d}"));
        }
        if let Some(u) = users.first() {
            out.follow_ups
                .push(format!("Look up {}", u.rsplit('\\').next().unwrap_or(u)));
        }
        out.evidence.push(incident.evidence);
        if let Some(a) = alerts {
            out.evidence.push(a.evidence);
            out.tables.push(a.table);
        }
        if let Some(e) = evidence {
            out.evidence.push(e.evidence);
            out.tables.push(e.table);
        }
        Ok(out)
    }
}
