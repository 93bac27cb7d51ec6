//! Plugin manifests in Microsoft Security Copilot's format (YAML or JSON): a `Descriptor`
//! and `SkillGroups`, each group of one `Format` (KQL, GPT, API, …) with its skills.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use yaml_rust2::{Yaml, YamlLoader};

/// Formats Vigil can run.
pub const RUNNABLE_FORMATS: &[&str] = &["KQL", "GPT", "API"];

/// Why a manifest cannot be used, precisely.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct ManifestError {
    pub file: String,
    pub reason: String,
}

/// One input of a plugin skill.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInput {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub default: Option<String>,
}

/// One skill of a manifest, before it is made runnable.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSkill {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub examples: Vec<String>,
    pub inputs: Vec<PluginInput>,
    /// The skill's `Settings` (Template, Target, …).
    pub settings: Map<String, Json>,
}

/// A skill group: a format, its settings and skills.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillGroup {
    pub format: String,
    pub settings: Map<String, Json>,
    pub skills: Vec<PluginSkill>,
}

/// A setting the plugin asks its user for (an API key, a workspace name).
#[derive(Debug, Clone, PartialEq)]
pub struct SettingSpec {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub default: Option<String>,
}

/// How an API plugin authenticates.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    None,
    /// An API key in a header or in the query string, with an optional scheme prefix.
    ApiKey {
        key: String,
        in_query: bool,
        scheme: String,
    },
    Basic,
    Bearer,
    /// OAuth and Entra ID flows, which need an identity provider Vigil cannot reach here.
    Unsupported(String),
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub file: PathBuf,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub settings: Vec<SettingSpec>,
    pub auth: Auth,
    pub groups: Vec<SkillGroup>,
}

/// A YAML document as JSON.
pub fn yaml_to_json(y: &Yaml) -> Json {
    match y {
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Integer(i) => Json::from(*i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Json::String(r.clone()), Json::Number),
        Yaml::Boolean(b) => Json::Bool(*b),
        Yaml::Array(a) => Json::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => continue,
                };
                m.insert(key, yaml_to_json(v));
            }
            Json::Object(m)
        }
        _ => Json::Null,
    }
}

/// Reads a YAML or JSON document.
pub fn read_document(file: &Path) -> Result<Json, ManifestError> {
    let fail = |reason: String| ManifestError {
        file: file.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(file).map_err(|e| fail(format!("cannot read the file: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| fail(format!("not valid JSON: {e}")));
    }
    let docs = YamlLoader::load_from_str(text).map_err(|e| fail(format!("not valid YAML: {e}")))?;
    docs.first()
        .map(yaml_to_json)
        .ok_or_else(|| fail("the file is empty".into()))
}

fn text(v: Option<&Json>) -> String {
    match v {
        Some(Json::String(s)) => s.trim().to_string(),
        Some(Json::Number(n)) => n.to_string(),
        Some(Json::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn truthy(v: Option<&Json>) -> Option<bool> {
    match v {
        Some(Json::Bool(b)) => Some(*b),
        Some(Json::String(s)) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    }
}

/// Looks a key up ignoring case (manifests in the wild vary: `SkillGroups`, `skillgroups`).
fn get<'a>(m: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn object(v: Option<&Json>) -> Map<String, Json> {
    v.and_then(Json::as_object).cloned().unwrap_or_default()
}

fn examples_of(skill: &Map<String, Json>) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["ExamplePrompts", "ExamplePrompt"] {
        match get(skill, key) {
            Some(Json::Array(a)) => {
                out.extend(a.iter().map(|e| text(Some(e))).filter(|e| !e.is_empty()))
            }
            Some(Json::String(s)) if !s.trim().is_empty() => out.push(s.trim().to_string()),
            _ => {}
        }
    }
    out
}

fn auth_of(descriptor: &Map<String, Json>) -> Auth {
    let authorization = object(get(descriptor, "Authorization"));
    let kind = text(get(&authorization, "Type"));
    let kind = if kind.is_empty() {
        get(descriptor, "SupportedAuthTypes")
            .and_then(Json::as_array)
            .and_then(|a| a.first())
            .map(|v| text(Some(v)))
            .unwrap_or_default()
    } else {
        kind
    };
    match kind.to_ascii_lowercase().as_str() {
        "" | "none" => Auth::None,
        "apikey" => Auth::ApiKey {
            key: {
                let k = text(get(&authorization, "Key"));
                if k.is_empty() {
                    "Authorization".into()
                } else {
                    k
                }
            },
            in_query: text(get(&authorization, "Location")).eq_ignore_ascii_case("QueryParams"),
            scheme: text(get(&authorization, "AuthScheme")),
        },
        "basic" => Auth::Basic,
        "bearer" | "token" => Auth::Bearer,
        other => Auth::Unsupported(other.to_string()),
    }
}

/// Parses a manifest document; `file` names it in errors.
pub fn parse(doc: &Json, file: &Path) -> Result<Manifest, ManifestError> {
    let fail = |reason: String| ManifestError {
        file: file.display().to_string(),
        reason,
    };
    let root = doc
        .as_object()
        .ok_or_else(|| fail("a manifest is a mapping with Descriptor and SkillGroups".into()))?;
    let descriptor = get(root, "Descriptor")
        .and_then(Json::as_object)
        .ok_or_else(|| fail("no Descriptor section (is this a plugin manifest?)".into()))?;
    let name = text(get(descriptor, "Name"));
    if name.is_empty() {
        return Err(fail("the Descriptor has no Name".into()));
    }
    let groups_json = get(root, "SkillGroups")
        .and_then(Json::as_array)
        .ok_or_else(|| fail(format!("plugin {name} has no SkillGroups list")))?;
    let mut groups = Vec::new();
    for (i, g) in groups_json.iter().enumerate() {
        let g = g
            .as_object()
            .ok_or_else(|| fail(format!("skill group {} is not a mapping", i + 1)))?;
        let format = text(get(g, "Format"));
        if format.is_empty() {
            return Err(fail(format!("skill group {} has no Format", i + 1)));
        }
        let mut skills = Vec::new();
        for s in get(g, "Skills")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let Some(s) = s.as_object() else { continue };
            let skill_name = text(get(s, "Name"));
            if skill_name.is_empty() {
                return Err(fail(format!(
                    "a skill in group {} ({format}) has no Name",
                    i + 1
                )));
            }
            let inputs = get(s, "Inputs")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_object)
                .map(|inp| PluginInput {
                    name: text(get(inp, "Name")),
                    description: text(get(inp, "Description")),
                    required: truthy(get(inp, "Required")).unwrap_or(true),
                    default: get(inp, "DefaultValue").map(|d| text(Some(d))),
                })
                .filter(|inp| !inp.name.is_empty())
                .collect();
            let description = {
                let d = text(get(s, "Description"));
                if d.is_empty() {
                    text(get(s, "DescriptionForModel"))
                } else {
                    d
                }
            };
            skills.push(PluginSkill {
                display_name: text(get(s, "DisplayName")),
                name: skill_name,
                description,
                examples: examples_of(s),
                inputs,
                settings: object(get(s, "Settings")),
            });
        }
        groups.push(SkillGroup {
            format,
            settings: object(get(g, "Settings")),
            skills,
        });
    }
    let settings = get(descriptor, "Settings")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_object)
        .map(|s| SettingSpec {
            name: text(get(s, "Name")),
            description: text(get(s, "Description")),
            required: truthy(get(s, "Required")).unwrap_or(false),
            default: get(s, "DefaultValue").map(|d| text(Some(d))),
        })
        .filter(|s| !s.name.is_empty())
        .collect();
    Ok(Manifest {
        file: file.to_path_buf(),
        display_name: text(get(descriptor, "DisplayName")),
        description: text(get(descriptor, "Description")),
        name,
        settings,
        auth: auth_of(descriptor),
        groups,
    })
}

/// Reads and parses a manifest file.
pub fn load(file: &Path) -> Result<Manifest, ManifestError> {
    parse(&read_document(file)?, file)
}
