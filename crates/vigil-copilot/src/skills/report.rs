//! "Create an incident report for incident 12 for executives": the report as a skill.

use async_trait::async_trait;

use super::{IncidentFacts, incident_number};
use crate::grounding::{Entity, EntityKind};
use crate::report::{Audience, markdown};
use crate::skill::{
    InputKind, InputSpec, Inputs, Section, Skill, SkillContext, SkillError, SkillOutput, SkillSpec,
    required,
};

/// Writes an incident report for executives or for technical readers.
pub struct IncidentReport {
    spec: SkillSpec,
}

impl IncidentReport {
    pub fn new() -> IncidentReport {
        IncidentReport {
            spec: SkillSpec {
                name: "incident_report".into(),
                description: "Write an incident report: for executives (short, impact first, plain words) or technical (timeline, entities, ATT&CK mapping, evidence queries, containment and recovery)".into(),
                examples: [
                    "Create an incident report for incident 12 for executives",
                    "Write a technical report on incident 3",
                    "Draft an executive summary of incident 7 for leadership",
                    "Incident report for incident 4",
                ]
                .iter()
                .map(|e| e.to_string())
                .collect(),
                inputs: vec![
                    InputSpec::required("incident", InputKind::Incident, "the incident number"),
                    InputSpec::optional(
                        "audience",
                        InputKind::Text,
                        "executive or technical (default: read from the prompt, else technical)",
                    ),
                ],
                source: "builtin".into(),
                side_effects: false,
            },
        }
    }
}

impl Default for IncidentReport {
    fn default() -> Self {
        IncidentReport::new()
    }
}

/// The audience a prompt asks for, if it names one.
fn audience_in(prompt: &str) -> Option<Audience> {
    let lower = prompt.to_lowercase();
    let executive = [
        "executive",
        "exec ",
        "leadership",
        "management",
        "board",
        "ciso",
        "non-technical",
    ];
    if executive.iter().any(|w| lower.contains(w)) {
        return Some(Audience::Executive);
    }
    let technical = ["technical", "analyst", "soc ", "engineer", "detailed"];
    technical
        .iter()
        .any(|w| lower.contains(w))
        .then_some(Audience::Technical)
}

#[async_trait]
impl Skill for IncidentReport {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let number = incident_number(required(&self.spec, inputs, "incident")?)?;
        let audience = match inputs.get("audience").filter(|a| !a.trim().is_empty()) {
            Some(a) => Audience::parse(a).ok_or_else(|| {
                SkillError::BadInput(format!("the audience is executive or technical, not {a:?}"))
            })?,
            None => audience_in(&ctx.grounding.prompt).unwrap_or(Audience::Technical),
        };
        let facts = IncidentFacts::gather(ctx.lake, number).await?;
        let mut out = SkillOutput::default();
        out.answer = format!(
            "The {} report on incident {number} ({} severity, {}) is below; `vigil report incident {number} --audience {} --format html` writes it with a timeline chart.",
            audience.name(),
            facts.severity,
            facts.status.to_lowercase(),
            audience.name()
        );
        out.fact("incident", number);
        out.fact("severity", &facts.severity);
        out.fact("alerts", facts.alert_ids.len());
        out.sections.push(Section {
            title: format!("Report ({})", audience.name()),
            body: markdown(&facts, audience),
        });
        out.entities
            .push(Entity::new(EntityKind::Incident, number.to_string()));
        out.entities.extend(
            facts
                .devices
                .iter()
                .map(|d| Entity::new(EntityKind::Device, d)),
        );
        out.evidence.push(facts.incident.evidence.clone());
        if let Some(a) = &facts.alerts {
            out.evidence.push(a.evidence.clone());
        }
        if let Some(e) = &facts.evidence {
            out.evidence.push(e.evidence.clone());
        }
        out.follow_ups.push(format!(
            "Create an incident report for incident {number} for {}",
            if audience == Audience::Executive {
                "analysts (technical)"
            } else {
                "executives"
            }
        ));
        Ok(out)
    }
}
