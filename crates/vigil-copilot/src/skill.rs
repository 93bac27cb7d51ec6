//! The skill trait: what a skill declares (name, description, example prompts, typed
//! inputs) and what it returns (a direct answer, tables, facts, entities, and the
//! evidence behind them).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::grounding::{Entity, Grounding};
use crate::lake::Lake;

/// What kind of value an input takes; the planner fills inputs from grounding by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Free text (the prompt itself when nothing better is known).
    Text,
    /// A KQL query.
    Kql,
    /// An incident number.
    Incident,
    /// Any entity: device, user, IP, hash, domain, URL.
    Entity,
    /// A device name; a second device input takes the second device named.
    Device,
    /// A catalog table name.
    Table,
    /// High, Medium, Low or Informational.
    Severity,
    /// A whole number.
    Integer,
    /// A script or command line.
    Script,
    /// A path on this machine (a rules folder).
    Path,
    /// An incident status: New, Active, Closed, or Open (not closed).
    Status,
    /// An ATT&CK technique or tactic id.
    Technique,
    /// An alert id (as in AlertInfo).
    Alert,
}

impl InputKind {
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Text => "text",
            InputKind::Kql => "kql",
            InputKind::Incident => "incident",
            InputKind::Entity => "entity",
            InputKind::Device => "device",
            InputKind::Table => "table",
            InputKind::Severity => "severity",
            InputKind::Integer => "integer",
            InputKind::Script => "script",
            InputKind::Path => "path",
            InputKind::Status => "status",
            InputKind::Technique => "technique",
            InputKind::Alert => "alert",
        }
    }
}

/// One input a skill takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputSpec {
    pub name: String,
    pub description: String,
    pub kind: InputKind,
    pub required: bool,
}

impl InputSpec {
    pub fn required(name: &str, kind: InputKind, description: &str) -> InputSpec {
        InputSpec {
            name: name.into(),
            description: description.into(),
            kind,
            required: true,
        }
    }

    pub fn optional(name: &str, kind: InputKind, description: &str) -> InputSpec {
        InputSpec {
            required: false,
            ..InputSpec::required(name, kind, description)
        }
    }
}

/// What a skill declares about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkillSpec {
    /// A snake_case name, unique in the registry (`/name` runs it directly).
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
    pub inputs: Vec<InputSpec>,
    /// Where it comes from: "builtin" or the plugin's name.
    pub source: String,
    /// True when running it changes state outside the lake's read path (sends a request
    /// that acts, changes an incident): such a skill never runs from a model's plan
    /// without the user confirming that exact call.
    pub side_effects: bool,
}

impl SkillSpec {
    /// The JSON Schema of the skill's inputs, as tool calling and MCP describe a tool's
    /// arguments. Values arrive as text (a whole number may come as a number).
    pub fn input_schema(&self) -> Json {
        let mut properties = serde_json::Map::new();
        for i in &self.inputs {
            let kind = if i.kind == InputKind::Integer {
                "integer"
            } else {
                "string"
            };
            let description = format!("{} ({})", i.description, i.kind.name());
            properties.insert(
                i.name.clone(),
                serde_json::json!({"type": kind, "description": description}),
            );
        }
        let required: Vec<&str> = self
            .inputs
            .iter()
            .filter(|i| i.required)
            .map(|i| i.name.as_str())
            .collect();
        serde_json::json!({"type": "object", "properties": properties, "required": required})
    }
}

/// The values of a call's inputs, by input name.
pub type Inputs = BTreeMap<String, String>;

/// A table of results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultTable {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
}

impl ResultTable {
    pub fn new(title: impl Into<String>, columns: &[&str]) -> ResultTable {
        ResultTable {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The values of one column, as text.
    pub fn texts(&self, name: &str) -> Vec<String> {
        let Some(i) = self.column(name) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter_map(|r| text_of(r.get(i)?))
            .collect()
    }
}

/// A JSON cell as plain text (`None` for null or empty).
pub fn text_of(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) if s.is_empty() => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Where a result came from: the query that ran, how many rows it gave, and the source
/// records behind them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The KQL that ran (the same text an analyst can paste into `vigil query`).
    pub query: String,
    pub rows: usize,
    /// Tables the query read.
    pub tables: Vec<String>,
    /// Source records of the rows (`file#record`), first few.
    pub sources: Vec<String>,
    /// How many distinct source records the rows came from.
    pub source_count: usize,
}

/// One fact a skill established, for the answer and for the checker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// What a skill returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SkillOutput {
    /// The direct answer in one sentence: the key number or verdict.
    pub answer: String,
    /// Further paragraphs (a summary, a timeline narrative, next steps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<Section>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<ResultTable>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Fact>,
    /// Entities in the results, for follow-ups ("that device").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Entity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A titled block of Markdown in an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub body: String,
}

impl SkillOutput {
    pub fn fact(&mut self, label: &str, value: impl ToString) {
        self.facts.push(Fact {
            label: label.into(),
            value: value.to_string(),
        });
    }
}

/// A skill failed: missing or bad input, a query error, or an unreachable service.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    #[error("{skill} needs the input {input}: {why}")]
    MissingInput {
        skill: String,
        input: String,
        why: String,
    },
    #[error("{0}")]
    BadInput(String),
    #[error("the query failed: {message}\n{query}")]
    Query { query: String, message: String },
    #[error("{0}")]
    Failed(String),
}

/// What a skill can see while it runs.
pub struct SkillContext<'a> {
    pub lake: &'a Lake,
    pub grounding: &'a Grounding,
}

/// A capability the copilot can run: built in, or from a plugin.
#[async_trait]
pub trait Skill: Send + Sync {
    fn spec(&self) -> &SkillSpec;

    async fn run(&self, ctx: &SkillContext<'_>, inputs: &Inputs)
    -> Result<SkillOutput, SkillError>;
}

/// Reads a required input, or says which is missing.
pub fn required<'a>(
    spec: &SkillSpec,
    inputs: &'a Inputs,
    name: &str,
) -> Result<&'a str, SkillError> {
    match inputs.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(v) => Ok(v),
        None => {
            let why = spec
                .inputs
                .iter()
                .find(|i| i.name == name)
                .map_or_else(String::new, |i| i.description.clone());
            Err(SkillError::MissingInput {
                skill: spec.name.clone(),
                input: name.into(),
                why,
            })
        }
    }
}
