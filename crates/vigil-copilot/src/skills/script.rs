//! "Analyze this script": a command line or script from an alert, decoded layer by layer,
//! its indicators, behaviours (ATT&CK), a verdict and hunting queries, from
//! `vigil-scripts` without a model.

use async_trait::async_trait;
use serde_json::json;
use vigil_scripts::{Analyzer, IndicatorKind};

use super::plural;
use crate::grounding::{Entity, EntityKind};
use crate::lake::kql_string;
use crate::skill::{
    Evidence, InputKind, InputSpec, Inputs, ResultTable, Section, Skill, SkillContext, SkillError,
    SkillOutput, SkillSpec,
};

pub struct AnalyzeScript {
    spec: SkillSpec,
}

impl AnalyzeScript {
    pub fn new() -> AnalyzeScript {
        AnalyzeScript {
            spec: SkillSpec {
                name: "analyze_script".into(),
                description: "Analyze a suspicious script or command line: decode and deobfuscate it (encoded PowerShell, base64, gzip, char arrays, string tricks, cmd and JavaScript obfuscation), explain what it does step by step, extract indicators, map behaviours to ATT&CK, give a verdict and hunting queries".into(),
                examples: [
                    "Analyze this script: powershell -nop -w hidden -enc SQBFAFgA...",
                    "What does this command line do? cmd /c \"set x=pow&&call %x%ershell ...\"",
                    "Deobfuscate this PowerShell",
                    "Decode this encoded command",
                    "Analyze the script in alert va12ab34cd",
                    "Is this script malicious?",
                ]
                .iter()
                .map(|e| e.to_string())
                .collect(),
                inputs: vec![
                    InputSpec::optional("script", InputKind::Script, "the script or command line"),
                    InputSpec::optional("alert", InputKind::Alert, "an alert id whose evidence holds the command line"),
                ],
                source: "builtin".into(),
                side_effects: false,
            },
        }
    }
}

impl Default for AnalyzeScript {
    fn default() -> Self {
        AnalyzeScript::new()
    }
}

fn entity_kind(kind: IndicatorKind) -> Option<EntityKind> {
    Some(match kind {
        IndicatorKind::Url => EntityKind::Url,
        IndicatorKind::Domain => EntityKind::Domain,
        IndicatorKind::Ipv4 => EntityKind::Ipv4,
        IndicatorKind::Ipv6 => EntityKind::Ipv6,
        IndicatorKind::Md5 => EntityKind::Md5,
        IndicatorKind::Sha1 => EntityKind::Sha1,
        IndicatorKind::Sha256 => EntityKind::Sha256,
        IndicatorKind::FilePath => EntityKind::FilePath,
        IndicatorKind::RegistryKey => EntityKind::RegistryKey,
        IndicatorKind::Email => EntityKind::Email,
    })
}

#[async_trait]
impl Skill for AnalyzeScript {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let mut evidence = Vec::new();
        let alert = inputs.get("alert").filter(|a| !a.trim().is_empty());
        let (script, source) = match (inputs.get("script").filter(|s| !s.trim().is_empty()), alert)
        {
            (Some(s), _) => (s.clone(), "the text given".to_string()),
            (None, Some(id)) => {
                let q = format!(
                    "AlertEvidence\n| where AlertId == {}\n| where isnotempty(ProcessCommandLine)\n| distinct AlertId, EntityType, FileName, ProcessCommandLine",
                    kql_string(id.trim())
                );
                let r = ctx.lake.query("Command lines of the alert", &q).await?;
                // The evidence holds the process and its parent; the one worth reading is
                // the one that looks worst.
                let lines = r.table.texts("ProcessCommandLine");
                let line = tokio::task::spawn_blocking(move || {
                    let analyzer = Analyzer::new();
                    lines.into_iter().max_by_key(|l| {
                        let a = analyzer.analyze(l);
                        (a.verdict.risk, a.behaviours.len(), a.layers.len())
                    })
                })
                .await
                .map_err(|e| SkillError::Failed(format!("the analysis stopped: {e}")))?
                .ok_or_else(|| {
                    SkillError::BadInput(format!("alert {id} has no command line in its evidence"))
                })?;
                evidence.push(r.evidence);
                (line, format!("alert {id}"))
            }
            (None, None) => {
                return Err(SkillError::MissingInput {
                    skill: self.spec.name.clone(),
                    input: "script".into(),
                    why: "paste the script or command line, or give an alert id".into(),
                });
            }
        };
        let text = script.clone();
        let analysis = tokio::task::spawn_blocking(move || Analyzer::new().analyze(&text))
            .await
            .map_err(|e| SkillError::Failed(format!("the analysis stopped: {e}")))?;
        let risk = format!("{:?}", analysis.verdict.risk);
        let techniques = analysis.technique_ids();
        let mut out = SkillOutput {
            answer: format!(
                "Verdict: {risk} risk. {} decoded; {} and {} found{}.",
                plural(analysis.layers.len(), "layer", "layers"),
                plural(analysis.behaviours.len(), "behaviour", "behaviours"),
                plural(analysis.indicators.len(), "indicator", "indicators"),
                if techniques.is_empty() {
                    String::new()
                } else {
                    format!(" (ATT&CK {})", techniques.join(", "))
                }
            ),
            ..SkillOutput::default()
        };
        out.fact("risk", &risk);
        out.fact("layers", analysis.layers.len());
        if !analysis.verdict.reasons.is_empty() {
            out.sections.push(Section {
                title: "Why".into(),
                body: analysis
                    .verdict
                    .reasons
                    .iter()
                    .map(|r| format!("- {r}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
        }
        if !analysis.steps.is_empty() {
            out.sections.push(Section {
                title: "What it does, step by step".into(),
                body: analysis
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("{}. {s}", i + 1))
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
        }
        let decoded: String = analysis.decoded.chars().take(4000).collect();
        out.sections.push(Section {
            title: "Decoded text".into(),
            body: format!("```\n{}\n```", decoded.replace("```", "` ` `")),
        });
        let mut layers = ResultTable::new("Decoding layers", &["Step", "Layer", "What was undone"]);
        for (i, l) in analysis.layers.iter().enumerate() {
            layers.rows.push(vec![
                json!(i + 1),
                json!(l.kind.name()),
                json!(l.description),
            ]);
        }
        let mut behaviours = ResultTable::new(
            "Behaviours",
            &["Technique", "Name", "Tactic", "What", "Seen in"],
        );
        for b in &analysis.behaviours {
            behaviours.rows.push(vec![
                json!(b.technique_id),
                json!(b.technique_name),
                json!(b.tactic),
                json!(b.description),
                json!(b.fragment),
            ]);
        }
        let mut indicators =
            ResultTable::new("Indicators", &["Kind", "Value", "Defanged", "Benign"]);
        for i in &analysis.indicators {
            indicators.rows.push(vec![
                json!(i.kind.name()),
                json!(i.value),
                json!(i.defanged),
                json!(i.benign.clone().unwrap_or_default()),
            ]);
            if i.benign.is_none()
                && let Some(kind) = entity_kind(i.kind)
            {
                out.entities.push(Entity::new(kind, &i.value));
            }
        }
        for t in [layers, behaviours, indicators] {
            if !t.rows.is_empty() {
                out.tables.push(t);
            }
        }
        for q in &analysis.hunting_queries {
            out.sections.push(Section {
                title: format!("Hunt: {}", q.title),
                body: format!("```kql\n{}\n```", q.kql),
            });
        }
        if let Some(q) = analysis.hunting_queries.first() {
            out.follow_ups
                .push(format!("Run this KQL: {}", q.kql.replace('\n', " ")));
        }
        out.warnings.extend(analysis.warnings.iter().cloned());
        evidence.push(Evidence {
            query: format!(
                "static analysis of {source} ({} characters); nothing was run",
                script.chars().count()
            ),
            rows: analysis.behaviours.len(),
            tables: Vec::new(),
            sources: vec![source],
            source_count: 1,
        });
        out.evidence = evidence;
        Ok(out)
    }
}
