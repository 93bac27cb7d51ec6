//! Incidents: alerts an analyst would look at together.
//!
//! Two alerts belong to one incident when they share an entity (the same device, the
//! same user, the same remote address or file) and happened within the correlation
//! window of each other; chains of such links make one incident. An incident's name
//! comes from its earliest alert, so hunting again over the same data gives the same
//! incidents, and one that grows keeps its name.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::record_batch::RecordBatch;
use vigil_ingest::rows::{TableRows, Value};
use vigil_schema::Catalog;

use crate::alert::{
    Alert, Entity, EntityKind, Level, RuleInfo, TACTICS, short_digest, tactic_rank,
};

/// Alerts further apart than this are not tied together by a shared entity.
pub const DEFAULT_WINDOW_NS: i64 = 24 * 3600 * 1_000_000_000;

/// What correlation needs to know of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFacts {
    pub id: String,
    pub time: i64,
    pub title: String,
    pub rule_id: String,
    pub level: Level,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub devices: Vec<String>,
    pub users: Vec<String>,
    pub ips: Vec<String>,
    /// Entity keys that tie alerts together (`device:…`, `user:…`, `ip:…`, `file:…`).
    pub keys: Vec<String>,
}

impl AlertFacts {
    pub fn of(alert: &Alert, rule: &RuleInfo) -> AlertFacts {
        let mut facts = AlertFacts {
            id: alert.id.clone(),
            time: alert.time,
            title: rule.title.clone(),
            rule_id: rule.id.clone(),
            level: rule.level,
            tactics: rule.tactics.clone(),
            techniques: rule.techniques.clone(),
            devices: Vec::new(),
            users: Vec::new(),
            ips: Vec::new(),
            keys: Vec::new(),
        };
        for e in &alert.entities {
            facts.add_entity(e);
        }
        facts
    }

    /// Adds what an entity of the alert says: a device, user or address, and the key
    /// that ties it to other alerts.
    pub fn add_entity(&mut self, e: &Entity) {
        let column = |c: &str| e.columns.get(c).cloned();
        match e.kind {
            EntityKind::Machine => self.devices.extend(column("DeviceName")),
            EntityKind::User => {
                self.users.extend(
                    column("AccountName").map(|n| match column("AccountDomain") {
                        Some(d) => format!("{d}\\{n}"),
                        None => n,
                    }),
                )
            }
            EntityKind::Ip => self.ips.extend(column("RemoteIP")),
            _ => {}
        }
        self.keys.extend(e.key());
    }
}

/// A group of related alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Stable name (from the earliest alert).
    pub name: String,
    pub title: String,
    pub level: Level,
    pub first: i64,
    pub last: i64,
    /// Alert ids in time order.
    pub alerts: Vec<String>,
    /// Tactics in kill-chain order.
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub devices: Vec<String>,
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub rules: Vec<String>,
    pub titles: Vec<String>,
}

impl Incident {
    pub fn severity(&self) -> &'static str {
        self.level.severity()
    }
}

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut root = i;
    while parent[root] != root {
        root = parent[root];
    }
    let mut j = i;
    while parent[j] != root {
        let next = parent[j];
        parent[j] = root;
        j = next;
    }
    root
}

/// `CredentialAccess` as "Credential Access".
pub fn tactic_words(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn raise(level: Level) -> Level {
    match level {
        Level::Informational => Level::Low,
        Level::Low => Level::Medium,
        Level::Medium | Level::High => Level::High,
        Level::Critical => Level::Critical,
    }
}

/// Groups alerts into incidents.
pub fn correlate(alerts: &[AlertFacts], window_ns: i64) -> Vec<Incident> {
    let mut order: Vec<usize> = (0..alerts.len()).collect();
    order.sort_by(|&a, &b| (alerts[a].time, &alerts[a].id).cmp(&(alerts[b].time, &alerts[b].id)));
    let mut parent: Vec<usize> = (0..alerts.len()).collect();
    let mut last_by_key: HashMap<&str, usize> = HashMap::new();
    for &i in &order {
        for key in &alerts[i].keys {
            if let Some(&j) = last_by_key.get(key.as_str())
                && alerts[i].time - alerts[j].time <= window_ns
            {
                let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                if ri != rj {
                    parent[ri] = rj;
                }
            }
            last_by_key.insert(key, i);
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in &order {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(i);
    }
    let mut incidents: Vec<Incident> = groups
        .into_values()
        .map(|g| incident_of(alerts, &g))
        .collect();
    incidents.sort_by(|a, b| (a.first, &a.name).cmp(&(b.first, &b.name)));
    incidents
}

/// One incident from alerts already in time order.
fn incident_of(alerts: &[AlertFacts], members: &[usize]) -> Incident {
    let first = &alerts[members[0]];
    let name = short_digest(&[first.id.as_bytes()], 16);
    let set = |f: &dyn Fn(&AlertFacts) -> &Vec<String>| -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for &i in members {
            for v in f(&alerts[i]) {
                if seen.insert(v.to_lowercase()) {
                    out.push(v.clone());
                }
            }
        }
        out
    };
    let mut tactics = set(&|a| &a.tactics);
    tactics.sort_by_key(|t| tactic_rank(t));
    let mut techniques = set(&|a| &a.techniques);
    techniques.sort();
    let devices = set(&|a| &a.devices);
    let users = set(&|a| &a.users);
    let ips = set(&|a| &a.ips);
    let mut rules = Vec::new();
    let mut titles = Vec::new();
    for &i in members {
        if !rules.contains(&alerts[i].rule_id) {
            rules.push(alerts[i].rule_id.clone());
            titles.push(alerts[i].title.clone());
        }
    }
    let top = members
        .iter()
        .map(|&i| alerts[i].level)
        .max()
        .unwrap_or(Level::Low);
    // An attack that moves through several stages is worse than any one alert of it.
    let level = if tactics.len() >= 3 { raise(top) } else { top };
    let place = match devices.as_slice() {
        [] => String::new(),
        [one] => format!(" on {one}"),
        many => format!(" on {} devices", many.len()),
    };
    let who = match users.as_slice() {
        [one] => format!(" involving {one}"),
        _ => String::new(),
    };
    let title = if titles.len() == 1 {
        format!("{}{place}{who}", titles[0])
    } else if tactics.is_empty() {
        format!("{} related alerts{place}{who}", members.len())
    } else {
        let words: Vec<String> = tactics.iter().map(|t| tactic_words(t)).collect();
        let listed = match words.as_slice() {
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
            [] => String::new(),
        };
        format!("{listed}{place}{who}")
    };
    Incident {
        name,
        title,
        level,
        first: first.time,
        last: alerts[members[members.len() - 1]].time,
        alerts: members.iter().map(|&i| alerts[i].id.clone()).collect(),
        tactics,
        techniques,
        devices,
        users,
        ips,
        rules,
        titles,
    }
}

/// What an analyst has said about an incident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub status: String,
    pub classification: String,
    pub reason: String,
    pub comment: String,
    pub owner: String,
}

/// A `SecurityIncident` row for an incident: its number, its analyst verdict, and
/// `now` as the time of this version.
pub fn incident_row(
    rows: &mut TableRows,
    incident: &Incident,
    number: i64,
    verdict: &Verdict,
    created: i64,
    now: i64,
    modified_by: &str,
) {
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_default();
    let description = format!(
        "{} alert{} from {} rule{} between the first and last activity{}{}.",
        incident.alerts.len(),
        if incident.alerts.len() == 1 { "" } else { "s" },
        incident.rules.len(),
        if incident.rules.len() == 1 { "" } else { "s" },
        if incident.tactics.is_empty() {
            String::new()
        } else {
            let words: Vec<String> = incident.tactics.iter().map(|t| tactic_words(t)).collect();
            format!("; tactics: {}", words.join(", "))
        },
        if incident.devices.is_empty() {
            String::new()
        } else {
            format!("; devices: {}", incident.devices.join(", "))
        },
    );
    let additional = serde_json::json!({
        "alertsCount": incident.alerts.len(),
        "tactics": incident.tactics,
        "techniques": incident.techniques,
        "devices": incident.devices,
        "users": incident.users,
        "ips": incident.ips,
        "alertTitles": incident.titles,
        "alertProductNames": ["Vigil"],
    })
    .to_string();
    let owner = serde_json::json!({ "assignedTo": verdict.owner }).to_string();
    let closed = matches!(verdict.status.as_str(), "Closed");
    let mut w = rows.row();
    w.set("TimeGenerated", Value::Time(now))
        .set("Timestamp", Value::Time(now))
        .set("IncidentName", &incident.name)
        .set("IncidentNumber", number)
        .set("ProviderIncidentId", number.to_string())
        .set("ProviderName", "Vigil")
        .set("Title", &incident.title)
        .set("Description", description)
        .set("Severity", incident.severity())
        .set("Status", verdict.status.as_str())
        .set("Classification", verdict.classification.as_str())
        .set("ClassificationReason", verdict.reason.as_str())
        .set("ClassificationComment", verdict.comment.as_str())
        .set("Owner", owner)
        .set("FirstActivityTime", Value::Time(incident.first))
        .set("LastActivityTime", Value::Time(incident.last))
        .set("CreatedTime", Value::Time(created))
        .set("FirstModifiedTime", Value::Time(created))
        .set("LastModifiedTime", Value::Time(now))
        .set("ModifiedBy", modified_by)
        .set("AlertIds", json(&incident.alerts))
        .set("RelatedAnalyticRuleIds", json(&incident.rules))
        .set("Labels", "[]")
        .set("AdditionalData", additional);
    if closed {
        w.set("ClosedTime", Value::Time(now));
    }
}

/// A batch of `SecurityIncident` rows.
pub fn incident_batch(
    catalog: &'static Catalog,
    fill: impl FnOnce(&mut TableRows),
) -> Option<RecordBatch> {
    let mut rows = TableRows::new(catalog.table("SecurityIncident")?);
    fill(&mut rows);
    (!rows.is_empty()).then(|| rows.take_batch())
}

/// The tactic names Vigil knows, in kill-chain order.
pub fn tactic_names() -> impl Iterator<Item = &'static str> {
    TACTICS.iter().map(|(_, n)| *n)
}
