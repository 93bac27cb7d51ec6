//! Promptbooks: a named series of prompts with `<Input>` placeholders, run in one
//! session so that later steps see earlier results ("that device").
//!
//! Vigil's own format is YAML:
//!
//! ```yaml
//! name: Device investigation
//! description: What a device did and what touched it.
//! inputs:
//!   - name: Device
//!     description: The device name
//! prompts:
//!   - prompt: Look up <Device>
//!     skill: lookup_entity      # optional: pin the step to a skill
//!   - prompt: What happened on <Device> in the last 24 hours?
//! ```
//!
//! Security Copilot's JSON export (`name`, `description`, `prompts[]` with `content` and
//! `sequenceNumber`, `promptbookinputs[]`) is imported as it is, UTF-16 or UTF-8.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One input of a promptbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptbookInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptbookStep {
    pub prompt: String,
    /// A skill to run the step with, instead of the planner's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promptbook {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub inputs: Vec<PromptbookInput>,
    pub prompts: Vec<PromptbookStep>,
}

#[derive(Debug, thiserror::Error)]
pub enum PromptbookError {
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("promptbook {book} needs the input {input} ({description}): pass --input {input}=…")]
    MissingInput {
        book: String,
        input: String,
        description: String,
    },
    #[error("promptbook {book} has no input named {input} (it takes: {known})")]
    UnknownInput {
        book: String,
        input: String,
        known: String,
    },
}

const INCIDENT: &str = "name: Incident investigation
description: Investigate an incident from its alerts to the devices and users it touched, and what to do next.
inputs:
  - name: Incident
    description: The incident number
prompts:
  - prompt: Summarize incident <Incident>
    skill: summarize_incident
  - prompt: What happened on that device?
  - prompt: Look up that user
    skill: lookup_entity
  - prompt: Show the network connections on that device
";

const DEVICE: &str = "name: Device investigation
description: What the lake knows about a device, its recent activity, alerts and risky behaviour.
inputs:
  - name: Device
    description: The device name
prompts:
  - prompt: Look up <Device>
    skill: lookup_entity
  - prompt: What happened on <Device> in the last 24 hours?
  - prompt: Show encoded PowerShell commands on <Device>
  - prompt: Show the network connections on <Device> in the last 7 days
  - prompt: Which users logged on to <Device>?
";

const USER: &str = "name: User investigation
description: A user's sign-ins, failures, logons and activity across devices.
inputs:
  - name: User
    description: The user name or UPN
prompts:
  - prompt: Look up <User>
    skill: lookup_entity
  - prompt: Show failed sign-ins for <User> in the last 7 days
  - prompt: Show risky sign-ins for <User>
  - prompt: Which devices did <User> log on to?
  - prompt: What else did <User> do in the last 24 hours?
";

const SCRIPT: &str = "name: Suspicious script analysis
description: Decode and explain a script or command line, then hunt for what it touched.
inputs:
  - name: Script
    description: The script or command line
prompts:
  - prompt: \"Analyze this script: <Script>\"
    skill: analyze_script
";

impl Promptbook {
    /// The promptbooks Vigil ships.
    pub fn builtin() -> Vec<Promptbook> {
        [INCIDENT, DEVICE, USER, SCRIPT]
            .iter()
            .filter_map(|t| Promptbook::from_yaml(t, Path::new("(built in)")).ok())
            .collect()
    }

    pub fn from_yaml(text: &str, file: &Path) -> Result<Promptbook, PromptbookError> {
        let invalid = |reason: String| PromptbookError::Invalid {
            file: file.display().to_string(),
            reason,
        };
        let docs = yaml_rust2::YamlLoader::load_from_str(text)
            .map_err(|e| invalid(format!("not valid YAML: {e}")))?;
        let doc = docs
            .first()
            .map(crate::plugins::manifest::yaml_to_json)
            .ok_or_else(|| invalid("empty file".into()))?;
        Promptbook::from_json(&doc, file)
    }

    /// Reads Vigil's YAML or Security Copilot's JSON export.
    pub fn from_json(doc: &Json, file: &Path) -> Result<Promptbook, PromptbookError> {
        let invalid = |reason: String| PromptbookError::Invalid {
            file: file.display().to_string(),
            reason,
        };
        let name = doc["name"]
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| invalid("no name".into()))?;
        let prompts = doc["prompts"]
            .as_array()
            .ok_or_else(|| invalid("no prompts list".into()))?;
        let mut steps: Vec<(i64, PromptbookStep)> = Vec::new();
        for (i, p) in prompts.iter().enumerate() {
            let text = p["prompt"]
                .as_str()
                .or_else(|| p["content"].as_str())
                .or_else(|| p.as_str());
            let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
                return Err(invalid(format!(
                    "prompt {} has no text (prompt or content)",
                    i + 1
                )));
            };
            let skill = p["skill"]
                .as_str()
                .or_else(|| p["skillName"].as_str())
                .map(str::to_string);
            let order = p["sequenceNumber"].as_i64().unwrap_or(i as i64);
            steps.push((
                order,
                PromptbookStep {
                    prompt: text.to_string(),
                    skill,
                },
            ));
        }
        if steps.is_empty() {
            return Err(invalid("the prompts list is empty".into()));
        }
        steps.sort_by_key(|(o, _)| *o);
        let inputs_json = doc["inputs"]
            .as_array()
            .or_else(|| doc["promptbookinputs"].as_array());
        let mut inputs: Vec<PromptbookInput> = inputs_json
            .into_iter()
            .flatten()
            .filter_map(|i| {
                Some(PromptbookInput {
                    name: i["name"].as_str()?.trim().to_string(),
                    description: i["description"].as_str().unwrap_or("").to_string(),
                    required: i["required"].as_bool().unwrap_or(true),
                })
            })
            .collect();
        // Placeholders the prompts use but the inputs list lacks are inputs too.
        for (_, s) in &steps {
            for p in placeholders(&s.prompt) {
                if !inputs.iter().any(|i| i.name.eq_ignore_ascii_case(&p)) {
                    inputs.push(PromptbookInput {
                        name: p,
                        description: String::new(),
                        required: true,
                    });
                }
            }
        }
        Ok(Promptbook {
            name: name.to_string(),
            description: doc["description"].as_str().unwrap_or("").to_string(),
            inputs,
            prompts: steps.into_iter().map(|(_, s)| s).collect(),
        })
    }

    /// Reads a promptbook file: YAML, or JSON in either shape (UTF-16 exports included).
    pub fn load(file: &Path) -> Result<Promptbook, PromptbookError> {
        let bytes = std::fs::read(file).map_err(|e| PromptbookError::Invalid {
            file: file.display().to_string(),
            reason: e.to_string(),
        })?;
        let text = decode(&bytes);
        let text = text.trim_start_matches('\u{feff}');
        if text.trim_start().starts_with('{') {
            let doc: Json = serde_json::from_str(text).map_err(|e| PromptbookError::Invalid {
                file: file.display().to_string(),
                reason: format!("not valid JSON: {e}"),
            })?;
            Promptbook::from_json(&doc, file)
        } else {
            Promptbook::from_yaml(text, file)
        }
    }

    /// Vigil's YAML for this promptbook.
    pub fn to_yaml(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let mut out = format!(
            "name: {}\ndescription: {}\ninputs:\n",
            q(&self.name),
            q(&self.description)
        );
        for i in &self.inputs {
            out.push_str(&format!(
                "  - name: {}\n    description: {}\n    required: {}\n",
                q(&i.name),
                q(&i.description),
                i.required
            ));
        }
        out.push_str("prompts:\n");
        for s in &self.prompts {
            out.push_str(&format!("  - prompt: {}\n", q(&s.prompt)));
            if let Some(skill) = &s.skill {
                out.push_str(&format!("    skill: {}\n", q(skill)));
            }
        }
        out
    }

    /// The prompts with the inputs filled in, each with its pinned skill.
    pub fn render(
        &self,
        values: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, PromptbookError> {
        for k in values.keys() {
            if !self.inputs.iter().any(|i| i.name.eq_ignore_ascii_case(k)) {
                return Err(PromptbookError::UnknownInput {
                    book: self.name.clone(),
                    input: k.clone(),
                    known: self
                        .inputs
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let value = |name: &str| {
            values
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        for i in &self.inputs {
            if i.required && value(&i.name).is_none() {
                return Err(PromptbookError::MissingInput {
                    book: self.name.clone(),
                    input: i.name.clone(),
                    description: i.description.clone(),
                });
            }
        }
        Ok(self
            .prompts
            .iter()
            .map(|s| {
                let mut text = s.prompt.clone();
                for p in placeholders(&s.prompt) {
                    text = text.replace(&format!("<{p}>"), &value(&p).unwrap_or_default());
                }
                match &s.skill {
                    // A pinned skill runs directly; the prompt's words ground its inputs.
                    Some(skill) => format!("/{skill} {text}"),
                    None => text,
                }
            })
            .collect())
    }
}

/// `<Name>` placeholders in a prompt.
fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let name = &after[..close];
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == ' ')
            && name.len() <= 40
        {
            let name = name.trim().to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        rest = &after[close + 1..];
    }
    out
}

fn decode(bytes: &[u8]) -> String {
    let utf16 = |rest: &[u8], le: bool| {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_and_render() {
        let books = Promptbook::builtin();
        assert_eq!(books.len(), 4);
        let incident = &books[0];
        let mut values = BTreeMap::new();
        values.insert("Incident".to_string(), "5".to_string());
        let prompts = incident.render(&values).expect("renders");
        assert_eq!(prompts[0], "/summarize_incident Summarize incident 5");
        assert!(matches!(
            incident.render(&BTreeMap::new()),
            Err(PromptbookError::MissingInput { .. })
        ));
    }

    #[test]
    fn security_copilot_exports_import() {
        let doc: Json = serde_json::from_str(
            r#"{"name":"Triage","description":"d","prompts":[{"content":"Second for <incidentID>","sequenceNumber":1},{"content":"First","sequenceNumber":0}],"promptbookinputs":[{"name":"incidentID","description":"ID of incident"}]}"#,
        )
        .expect("json");
        let book = Promptbook::from_json(&doc, Path::new("t.json")).expect("imports");
        assert_eq!(book.prompts[0].prompt, "First");
        assert_eq!(book.inputs[0].name, "incidentID");
        let again =
            Promptbook::from_yaml(&book.to_yaml(), Path::new("t.yaml")).expect("round trip");
        assert_eq!(again, book);
    }
}
