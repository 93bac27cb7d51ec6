//! Plugins in Microsoft Security Copilot's manifest format: validation with precise
//! reasons, the skills they add, and the plugins installed in a data directory with
//! their settings.

pub mod manifest;
pub mod openapi;
pub mod skills;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as Json;

pub use manifest::{Manifest, ManifestError};
pub use store::{InstalledPlugin, PluginStore};

use crate::llm::ChatModel;
use crate::skill::Skill;

/// One skill of a validated manifest.
#[derive(Debug, Clone, Serialize)]
pub struct SkillReport {
    pub name: String,
    pub format: String,
    /// `None` when the skill can run; otherwise why not.
    pub problem: Option<String>,
    /// Something to know that does not stop it (a query over tables the lake lacks).
    pub note: Option<String>,
}

/// What validation found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub file: String,
    pub plugin: Option<String>,
    pub skills: Vec<SkillReport>,
    /// Set when the manifest cannot be used at all.
    pub rejected: Option<String>,
}

impl Report {
    pub fn usable(&self) -> usize {
        self.skills.iter().filter(|s| s.problem.is_none()).count()
    }
}

/// Why a skill group of an unrunnable format is refused.
fn format_refusal(format: &str) -> String {
    match format.to_ascii_lowercase().as_str() {
        "logicapp" => {
            "LogicApp skills run Azure Logic Apps workflows, which Vigil cannot run".into()
        }
        "agent" => {
            "Agent skills need Security Copilot's hosted agent runtime, which Vigil does not have"
                .into()
        }
        other => format!("the skill format {other:?} is not one Vigil runs (KQL, GPT, API)"),
    }
}

fn setting_text(m: &serde_json::Map<String, Json>, key: &str) -> String {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Finds the OpenAPI spec of an API group: a local path, or the file a URL names,
/// looked for beside the manifest (Vigil fetches nothing from the network).
fn find_spec(manifest_file: &Path, reference: &str) -> Result<PathBuf, String> {
    let dir = manifest_file.parent().unwrap_or(Path::new("."));
    if reference.is_empty() {
        return Err("the API skill group has no OpenApiSpecUrl".into());
    }
    if !reference.contains("://") {
        let p = dir.join(reference);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("the OpenAPI spec {} does not exist", p.display()))
        };
    }
    let name = reference
        .split(['?', '#'])
        .next()
        .unwrap_or(reference)
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    let mut stack = vec![dir.to_path_buf()];
    let mut depth = 0;
    while let Some(d) = stack.pop() {
        depth += 1;
        if depth > 64 {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if !name.is_empty() && p.file_name().is_some_and(|f| f == name.as_str()) {
                return Ok(p);
            }
        }
    }
    Err(format!(
        "the OpenAPI spec is at {reference}; Vigil fetches nothing from the network, so put that file ({}) beside the manifest",
        if name.is_empty() { "the spec" } else { &name }
    ))
}

/// A template with each `{{Input}}` replaced by a value that fits where it stands: a
/// word inside quotes, a number elsewhere (`ago({{Days}}d)`, `take {{N}}`).
fn neutral_fill(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let quoted = out.ends_with(['"', '\'']);
        out.push_str(if quoted { "x" } else { "1" });
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Checks a KQL template: it must parse once its placeholders are filled.
fn check_kql(template: &str) -> (Option<String>, Option<String>) {
    let filled = neutral_fill(template);
    if let Err(e) = vigil_kql::parse(&filled) {
        return (
            Some(format!("its query does not parse: {}", e.message)),
            None,
        );
    }
    let mut engine = vigil_kql::Engine::new();
    engine.register_empty_catalog();
    match engine.plan(&filled) {
        Ok(_) => (None, None),
        Err(e) => (
            None,
            Some(format!(
                "its query does not bind to Vigil's tables yet: {}",
                e.message
            )),
        ),
    }
}

/// Validates a manifest file and, when `build` is given, makes its skills.
fn examine(
    file: &Path,
    settings: &skills::Settings,
    model: Option<Arc<ChatModel>>,
) -> (Report, Vec<Arc<dyn Skill>>) {
    let mut report = Report {
        file: file.display().to_string(),
        plugin: None,
        skills: Vec::new(),
        rejected: None,
    };
    let m = match manifest::load(file) {
        Ok(m) => m,
        Err(e) => {
            report.rejected = Some(e.reason);
            return (report, Vec::new());
        }
    };
    report.plugin = Some(m.name.clone());
    let mut built: Vec<Arc<dyn Skill>> = Vec::new();
    let mut group_problems = Vec::new();
    for g in &m.groups {
        let format = g.format.to_ascii_uppercase();
        if !manifest::RUNNABLE_FORMATS.contains(&format.as_str()) {
            let why = format_refusal(&g.format);
            for s in &g.skills {
                report.skills.push(SkillReport {
                    name: s.name.clone(),
                    format: g.format.clone(),
                    problem: Some(why.clone()),
                    note: None,
                });
            }
            group_problems.push(why);
            continue;
        }
        if format == "API" {
            let reference = setting_text(&g.settings, "OpenApiSpecUrl");
            let spec = find_spec(file, &reference).and_then(|p| {
                let doc = manifest::read_document(&p).map_err(|e| e.to_string())?;
                openapi::parse(&doc).map_err(|e| format!("{}: {e}", p.display()))
            });
            match spec {
                Ok(spec) => {
                    for op in spec.operations {
                        report.skills.push(SkillReport {
                            name: skills::qualified(&m.name, &op.id),
                            format: "API".into(),
                            problem: None,
                            note: Some(format!("{} {}", op.method, op.path)),
                        });
                        built.push(Arc::new(skills::ApiSkill::new(
                            &m.name,
                            op,
                            spec.server.clone(),
                            m.auth.clone(),
                            settings.clone(),
                        )));
                    }
                }
                Err(why) => {
                    report.skills.push(SkillReport {
                        name: format!("{}.(API)", m.name),
                        format: "API".into(),
                        problem: Some(why.clone()),
                        note: None,
                    });
                    group_problems.push(why);
                }
            }
            continue;
        }
        for s in &g.skills {
            let template = setting_text(&s.settings, "Template");
            let url = ["TemplateUrl", "PackageUrl"]
                .iter()
                .map(|k| setting_text(&s.settings, k))
                .find(|u| !u.is_empty());
            let (problem, note) = if template.is_empty() {
                (
                    Some(match url {
                        Some(u) => format!(
                            "its template is loaded from {u}; Vigil fetches nothing from the network"
                        ),
                        None => "the skill has no Template".into(),
                    }),
                    None,
                )
            } else if format == "KQL" {
                check_kql(&template)
            } else {
                (
                    None,
                    model
                        .is_none()
                        .then(|| "needs a language model to run".into()),
                )
            };
            if problem.is_none() {
                if format == "KQL" {
                    built.push(Arc::new(skills::KqlSkill::new(
                        &m.name,
                        s.clone(),
                        template.clone(),
                    )));
                } else {
                    built.push(Arc::new(skills::GptSkill::new(
                        &m.name,
                        s.clone(),
                        template.clone(),
                        model.clone(),
                    )));
                }
            }
            if let Some(p) = &problem {
                group_problems.push(format!("{}: {p}", s.name));
            }
            report.skills.push(SkillReport {
                name: skills::qualified(&m.name, &s.name),
                format: g.format.clone(),
                problem,
                note,
            });
        }
    }
    if report.skills.is_empty() {
        report.rejected = Some(format!("plugin {} has no skills", m.name));
    } else if report.usable() == 0 {
        group_problems.dedup();
        report.rejected = Some(group_problems.join("; "));
    }
    (report, built)
}

/// Validates a manifest without making anything.
pub fn validate(file: &Path) -> Report {
    examine(file, &Default::default(), None).0
}

/// The skills of a manifest, with the plugin's settings and the model for GPT skills.
pub fn skills_of(
    file: &Path,
    settings: &skills::Settings,
    model: Option<Arc<ChatModel>>,
) -> (Report, Vec<Arc<dyn Skill>>) {
    examine(file, settings, model)
}
