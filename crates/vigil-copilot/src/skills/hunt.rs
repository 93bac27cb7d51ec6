//! Hunting with Sigma rules from the copilot: the rules for a technique or tag, each run
//! as its KQL over the lake.

use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::json;

use super::plural;
use crate::grounding::EntityKind;
use crate::skill::{
    InputKind, InputSpec, Inputs, ResultTable, Section, Skill, SkillContext, SkillError,
    SkillOutput, SkillSpec,
};

/// At most this many rules run in one call; a wider hunt belongs to `vigil hunt`.
const MAX_RULES: usize = 300;

/// Runs Sigma rules selected by ATT&CK technique or tag.
pub struct HuntSigma {
    spec: SkillSpec,
    default_rules: Option<PathBuf>,
}

impl HuntSigma {
    pub fn new(default_rules: Option<PathBuf>) -> HuntSigma {
        HuntSigma {
            default_rules,
            spec: SkillSpec {
                name: "hunt_sigma".into(),
                description: "Hunt with Sigma detection rules: run the rules for an ATT&CK technique or tag over the lake and show which fired and on what".into(),
                examples: [
                    "Hunt for T1003 with Sigma rules",
                    "Run the Sigma rules for credential dumping",
                    "Hunt with sigma rules tagged attack.t1059.001",
                    "Which Sigma rules fire for T1021.002?",
                    "Run detections for lateral movement",
                ]
                .iter()
                .map(|e| e.to_string())
                .collect(),
                inputs: vec![
                    InputSpec::optional("technique", InputKind::Technique, "an ATT&CK technique id (T1003) or a Sigma tag (attack.credential_access)"),
                    InputSpec::optional("rules", InputKind::Path, "a folder or file of Sigma rules (default: $VIGIL_RULES, else <data-dir>/rules)"),
                ],
                source: "builtin".into(),
                side_effects: false,
            },
        }
    }
}

/// Sigma tags for an ATT&CK id or a tactic in words ("lateral movement").
fn wanted_tags(filter: &str) -> Vec<String> {
    let f = filter.trim().to_ascii_lowercase();
    if let Some(rest) = f.strip_prefix("attack.") {
        return vec![format!("attack.{rest}")];
    }
    if f.starts_with('t') && f[1..].chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return vec![format!("attack.{f}")];
    }
    vec![format!("attack.{}", f.replace([' ', '-'], "_"))]
}

fn tag_matches(tag: &str, wanted: &[String]) -> bool {
    let tag = tag.to_ascii_lowercase();
    wanted
        .iter()
        .any(|w| tag == *w || tag.starts_with(&format!("{w}.")))
}

#[async_trait]
impl Skill for HuntSigma {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let filter = inputs
            .get("technique")
            .filter(|t| !t.is_empty())
            .cloned()
            .or_else(|| ctx.grounding.first(EntityKind::Technique).map(str::to_string))
            .ok_or_else(|| SkillError::MissingInput {
                skill: self.spec.name.clone(),
                input: "technique".into(),
                why: "name an ATT&CK technique (T1003) or a tag (attack.lateral_movement) to choose the rules".into(),
            })?;
        let rules_path = inputs
            .get("rules")
            .filter(|r| !r.is_empty())
            .map(PathBuf::from)
            .or_else(|| self.default_rules.clone())
            .ok_or_else(|| SkillError::MissingInput {
                skill: self.spec.name.clone(),
                input: "rules".into(),
                why: "no rules folder: set VIGIL_RULES or put rules in <data-dir>/rules".into(),
            })?;
        if !rules_path.exists() {
            return Err(SkillError::BadInput(format!(
                "the rules path {} does not exist",
                rules_path.display()
            )));
        }
        let wanted = wanted_tags(&filter);
        let loaded = vigil_detect::load_path(&rules_path);
        let catalog = vigil_schema::Catalog::builtin();
        let (mapping, _) = vigil_detect::Mapping::windows(catalog);
        let selected: Vec<_> = loaded
            .rules
            .iter()
            .filter(|r| matches!(r.body, vigil_detect::RuleBody::Detection(_)))
            .filter(|r| r.tags.iter().any(|t| tag_matches(t, &wanted)))
            .collect();
        let mut out = SkillOutput::default();
        if selected.len() > MAX_RULES {
            out.warnings.push(format!(
                "{} rules match {filter}; the first {MAX_RULES} ran (run `vigil hunt` for all)",
                selected.len()
            ));
        }
        let mut fired = ResultTable::new(
            format!("Sigma rules for {filter} that fired"),
            &["Rule", "Level", "Table", "Matches", "Devices", "File"],
        );
        let mut ran = 0;
        let mut not_run = 0;
        for rule in selected.iter().take(MAX_RULES) {
            let Ok((table, query)) = vigil_detect::kql::compile(rule, &mapping, catalog) else {
                not_run += 1;
                continue;
            };
            let counted = format!(
                "{query}\n| summarize Matches = count(), Devices = make_set(DeviceName, 5)"
            );
            let counted = if catalog
                .table(&table)
                .is_some_and(|t| t.column("DeviceName").is_some())
            {
                counted
            } else {
                format!("{query}\n| summarize Matches = count()")
            };
            ran += 1;
            let Ok(r) = ctx.lake.query(&rule.title, &counted).await else {
                not_run += 1;
                continue;
            };
            let Some(row) = r.table.rows.first() else {
                continue;
            };
            let matches = row.first().and_then(|v| v.as_u64()).unwrap_or(0);
            if matches == 0 {
                continue;
            }
            fired.rows.push(vec![
                json!(rule.title),
                json!(rule.level.clone().unwrap_or_default()),
                json!(table),
                json!(matches),
                row.get(1).cloned().unwrap_or_default(),
                json!(rule.file.display().to_string()),
            ]);
            out.evidence.push(r.evidence);
        }
        out.answer = format!(
            "{} of the {} for {filter} fired on the lake.",
            plural(fired.rows.len(), "rule", "rules"),
            plural(ran, "Sigma rule that ran", "Sigma rules that ran"),
        );
        out.fact("rules fired", fired.rows.len());
        out.fact("rules run", ran);
        if not_run > 0 {
            out.sections.push(Section {
                title: "Not run".into(),
                body: format!(
                    "{} could not be turned into a query over the lake's tables (`vigil rules lint` says why).",
                    plural(not_run, "rule", "rules")
                ),
            });
        }
        out.entities = super::entities_in(&fired);
        out.tables.push(fired);
        Ok(out)
    }
}
