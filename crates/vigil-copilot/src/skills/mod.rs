//! The built-in skills and the registry that holds them with plugin skills.

mod devices;
mod entity;
mod hunt;
mod incidents;
mod query;
mod report;
mod script;

use std::sync::Arc;

use serde_json::Value as Json;

use crate::grounding::{Entity, EntityKind};
use crate::skill::{ResultTable, Skill, SkillSpec, text_of};

pub use devices::{CompareDeviceConfiguration, DeviceGroups, DeviceManagedApps, DevicePrimaryUser};
pub use entity::LookupEntity;
pub use hunt::HuntSigma;
pub use incidents::{IncidentFacts, ListIncidents, SummarizeIncident, incident_number, next_step};
pub use query::{DescribeTable, NlToKql, RunKql};
pub use report::IncidentReport;
pub use script::AnalyzeScript;

/// Every skill the copilot can run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    skills: Vec<Arc<dyn Skill>>,
}

impl Registry {
    /// The built-in skills.
    pub fn builtin() -> Registry {
        let mut r = Registry::default();
        r.add(Arc::new(RunKql::new()));
        r.add(Arc::new(NlToKql::new()));
        r.add(Arc::new(ListIncidents::new()));
        r.add(Arc::new(SummarizeIncident::new()));
        r.add(Arc::new(LookupEntity::new()));
        r.add(Arc::new(HuntSigma::new(None)));
        r.add(Arc::new(DescribeTable::new()));
        r.add(Arc::new(AnalyzeScript::new()));
        r.add(Arc::new(IncidentReport::new()));
        r.add(Arc::new(DevicePrimaryUser::new()));
        r.add(Arc::new(DeviceGroups::new()));
        r.add(Arc::new(DeviceManagedApps::new()));
        r.add(Arc::new(CompareDeviceConfiguration::new()));
        r
    }

    /// Adds a skill; one with the same name is replaced.
    pub fn add(&mut self, skill: Arc<dyn Skill>) {
        let name = skill.spec().name.clone();
        self.skills.retain(|s| s.spec().name != name);
        self.skills.push(skill);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Skill>> {
        let wanted = name.trim_start_matches('/');
        self.skills
            .iter()
            .find(|s| s.spec().name.eq_ignore_ascii_case(wanted))
    }

    pub fn specs(&self) -> impl Iterator<Item = &SkillSpec> {
        self.skills.iter().map(|s| s.spec())
    }

    pub fn len(&self) -> usize {
        self.skills.len()
    }

    pub fn is_empty(&self) -> bool {
        self.skills.is_empty()
    }
}

/// Columns whose values are worth remembering for follow-ups, with their kind.
const ENTITY_COLUMNS: &[(&str, EntityKind)] = &[
    ("DeviceName", EntityKind::Device),
    ("Computer", EntityKind::Device),
    ("Devices", EntityKind::Device),
    ("AccountName", EntityKind::User),
    ("InitiatingProcessAccountName", EntityKind::User),
    ("UserPrincipalName", EntityKind::User),
    ("AccountUpn", EntityKind::User),
    ("Users", EntityKind::User),
    ("RemoteIP", EntityKind::Ipv4),
    ("IPAddress", EntityKind::Ipv4),
    ("SHA256", EntityKind::Sha256),
    ("RemoteUrl", EntityKind::Url),
    ("IncidentNumber", EntityKind::Incident),
];

/// The entities in a result table, most frequent first, a few of each kind.
pub fn entities_in(table: &ResultTable) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    for (column, kind) in ENTITY_COLUMNS {
        let Some(i) = table.column(column) else {
            continue;
        };
        let mut counts: Vec<(String, usize)> = Vec::new();
        for row in &table.rows {
            let Some(cell) = row.get(i) else { continue };
            let values: Vec<String> = match cell {
                Json::Array(a) => a.iter().filter_map(text_of).collect(),
                Json::String(s) if s.starts_with('[') => {
                    serde_json::from_str::<Vec<String>>(s).unwrap_or_else(|_| vec![s.clone()])
                }
                other => text_of(other).into_iter().collect(),
            };
            for v in values {
                if v == "-" || v.eq_ignore_ascii_case("system") {
                    continue;
                }
                match counts.iter_mut().find(|(seen, _)| *seen == v) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((v, 1)),
                }
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1));
        for (value, _) in counts.into_iter().take(10) {
            let kind = if *kind == EntityKind::Ipv4 && value.contains(':') {
                EntityKind::Ipv6
            } else {
                *kind
            };
            if !out.iter().any(|e| e.kind == kind && e.value == value) {
                out.push(Entity::new(kind, value));
            }
        }
    }
    out
}

/// `n thing` or `n things`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A list in prose: "a", "a and b", "a, b and c".
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
