//! Plugin skills made runnable: KQL templates on Vigil's engine, GPT templates through
//! the configured model, API operations over HTTP with the manifest's authentication.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as Json;

use super::manifest::{Auth, PluginSkill};
use super::openapi::{Operation, Place};
use crate::llm::{ChatModel, Message};
use crate::skill::{
    InputKind, InputSpec, Inputs, ResultTable, Section, Skill, SkillContext, SkillError,
    SkillOutput, SkillSpec,
};
use crate::skills::entities_in;

/// A skill name unique across plugins: `Plugin.Skill`.
pub fn qualified(plugin: &str, skill: &str) -> String {
    format!("{plugin}.{skill}")
}

fn spec_of(plugin: &str, skill: &PluginSkill, side_effects: bool) -> SkillSpec {
    let kind = |name: &str| {
        let n = name.to_ascii_lowercase();
        if n.contains("kql") || n.contains("query") {
            InputKind::Kql
        } else if n.contains("incident") {
            InputKind::Incident
        } else if [
            "ip",
            "ipaddress",
            "device",
            "devicename",
            "host",
            "hostname",
            "user",
            "upn",
            "userprincipalname",
            "account",
            "accountname",
            "hash",
            "sha256",
            "domain",
            "url",
            "email",
        ]
        .contains(&n.as_str())
        {
            InputKind::Entity
        } else {
            InputKind::Text
        }
    };
    SkillSpec {
        name: qualified(plugin, &skill.name),
        description: if skill.description.is_empty() {
            skill.display_name.clone()
        } else {
            skill.description.clone()
        },
        examples: skill.examples.clone(),
        inputs: skill
            .inputs
            .iter()
            .map(|i| InputSpec {
                name: i.name.clone(),
                description: i.description.clone(),
                kind: kind(&i.name),
                required: i.required && i.default.is_none(),
            })
            .collect(),
        source: plugin.to_string(),
        side_effects,
    }
}

fn value_of(skill: &PluginSkill, inputs: &Inputs, name: &str) -> Option<String> {
    inputs
        .get(name)
        .filter(|v| !v.is_empty())
        .cloned()
        .or_else(|| {
            skill
                .inputs
                .iter()
                .find(|i| i.name == name)
                .and_then(|i| i.default.clone())
        })
}

/// A KQL skill: its template with `{{Input}}` values substituted, run on the lake.
pub struct KqlSkill {
    spec: SkillSpec,
    skill: PluginSkill,
    template: String,
}

impl KqlSkill {
    pub fn new(plugin: &str, skill: PluginSkill, template: String) -> KqlSkill {
        KqlSkill {
            spec: spec_of(plugin, &skill, false),
            skill,
            template,
        }
    }

    /// The template with the inputs filled in (missing optional inputs become empty).
    pub fn render(&self, inputs: &Inputs) -> Result<String, SkillError> {
        vigil_kql::substitute(&self.template, |name| {
            match value_of(&self.skill, inputs, name) {
                Some(v) => Some(v),
                None if self
                    .skill
                    .inputs
                    .iter()
                    .any(|i| i.name == name && !i.required) =>
                {
                    Some(String::new())
                }
                None => None,
            }
        })
        .map_err(|missing| {
            let names: Vec<String> = missing.iter().map(|e| e.message.clone()).collect();
            SkillError::MissingInput {
                skill: self.spec.name.clone(),
                input: names.join("; "),
                why: "the query template needs it".into(),
            }
        })
    }
}

#[async_trait]
impl Skill for KqlSkill {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let query = self.render(inputs)?;
        let result = ctx.lake.query(&self.skill.display_name, &query).await?;
        let n = result.table.rows.len();
        let mut out = SkillOutput {
            answer: format!(
                "{} returned {} row{}.",
                if self.skill.display_name.is_empty() {
                    &self.skill.name
                } else {
                    &self.skill.display_name
                },
                n,
                if n == 1 { "" } else { "s" }
            ),
            entities: entities_in(&result.table),
            ..SkillOutput::default()
        };
        out.fact("rows", n);
        out.tables.push(result.table);
        out.evidence.push(result.evidence);
        Ok(out)
    }
}

/// A GPT skill: its template rendered and sent to the configured model.
pub struct GptSkill {
    spec: SkillSpec,
    skill: PluginSkill,
    template: String,
    model: Option<Arc<ChatModel>>,
}

impl GptSkill {
    pub fn new(
        plugin: &str,
        skill: PluginSkill,
        template: String,
        model: Option<Arc<ChatModel>>,
    ) -> GptSkill {
        GptSkill {
            spec: spec_of(plugin, &skill, false),
            skill,
            template,
            model,
        }
    }
}

#[async_trait]
impl Skill for GptSkill {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        _ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let Some(model) = self.model.clone() else {
            return Err(SkillError::Failed(format!(
                "{} is a GPT skill of plugin {}: it needs a language model, and none is configured (set [model] in vigil.toml or VIGIL_MODEL_ENDPOINT)",
                self.skill.name, self.spec.source
            )));
        };
        // Inputs are data: they go in delimited, and the template says what to do.
        let prompt = vigil_kql::substitute(&self.template, |name| {
            value_of(&self.skill, inputs, name)
                .map(|v| crate::llm::quote_data(&format!("input {name}"), &v))
        })
        .map_err(|m| SkillError::MissingInput {
            skill: self.spec.name.clone(),
            input: m
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
            why: "the prompt template needs it".into(),
        })?;
        let messages = vec![
            Message::system(crate::llm::SYSTEM_DATA_RULE),
            Message::user(&prompt),
        ];
        let reply = tokio::task::spawn_blocking(move || model.complete(&messages, &[], |_| {}))
            .await
            .map_err(|e| SkillError::Failed(format!("the model call stopped: {e}")))?
            .map_err(|e| SkillError::Failed(e.to_string()))?;
        let mut out = SkillOutput {
            answer: format!("{} (written by the model):", self.skill.name),
            ..SkillOutput::default()
        };
        out.sections.push(Section {
            title: "Model output".into(),
            body: reply.content,
        });
        out.warnings.push("this text was written by a language model from the inputs; check it before acting on it".into());
        Ok(out)
    }
}

/// Settings of a plugin (API keys, endpoints), by name.
pub type Settings = BTreeMap<String, String>;

/// An API operation of a plugin, called over HTTP.
pub struct ApiSkill {
    spec: SkillSpec,
    plugin: String,
    operation: Operation,
    server: String,
    auth: Auth,
    settings: Settings,
    timeout: Duration,
}

impl ApiSkill {
    pub fn new(
        plugin: &str,
        operation: Operation,
        server: String,
        auth: Auth,
        settings: Settings,
    ) -> ApiSkill {
        let side_effects = operation.method != "GET" && operation.method != "HEAD";
        let skill = PluginSkill {
            name: operation.id.clone(),
            display_name: operation.id.clone(),
            description: operation.summary.clone(),
            examples: Vec::new(),
            inputs: operation
                .params
                .iter()
                .map(|p| super::manifest::PluginInput {
                    name: p.name.clone(),
                    description: p.description.clone(),
                    required: p.required,
                    default: None,
                })
                .collect(),
            settings: Default::default(),
        };
        ApiSkill {
            spec: spec_of(plugin, &skill, side_effects),
            plugin: plugin.to_string(),
            operation,
            server,
            auth,
            settings,
            timeout: Duration::from_secs(30),
        }
    }

    fn setting(&self, names: &[&str]) -> Option<&String> {
        names.iter().find_map(|n| {
            self.settings
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v)
        })
    }

    /// The request for a call with these inputs.
    pub fn request(&self, inputs: &Inputs) -> Result<crate::http::Request, SkillError> {
        let base = self
            .setting(&["EndpointUrl", "BaseUrl", "ServerUrl"])
            .cloned()
            .unwrap_or_else(|| self.server.clone());
        if base.is_empty() {
            return Err(SkillError::Failed(format!(
                "plugin {}: the spec names no server; set EndpointUrl with `vigil plugins set`",
                self.plugin
            )));
        }
        let mut path = self.operation.path.clone();
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers: Vec<(String, String)> = vec![("Accept".into(), "application/json".into())];
        let mut body = serde_json::Map::new();
        for p in &self.operation.params {
            let value = inputs.get(&p.name).filter(|v| !v.is_empty());
            let Some(value) = value else {
                if p.required {
                    return Err(SkillError::MissingInput {
                        skill: self.spec.name.clone(),
                        input: p.name.clone(),
                        why: p.description.clone(),
                    });
                }
                continue;
            };
            match p.place {
                Place::Path => path = path.replace(&format!("{{{}}}", p.name), &encode(value)),
                Place::Query => query.push((p.name.clone(), value.clone())),
                Place::Header => headers.push((p.name.clone(), value.clone())),
                Place::Body => {
                    let v = serde_json::from_str::<Json>(value)
                        .unwrap_or_else(|_| Json::String(value.clone()));
                    body.insert(p.name.clone(), v);
                }
            }
        }
        match &self.auth {
            Auth::None => {}
            Auth::ApiKey {
                key,
                in_query,
                scheme,
            } => {
                let secret = self
                    .setting(&["ApiKey", "Key", key.as_str(), "Token"])
                    .ok_or_else(|| {
                        SkillError::Failed(format!(
                            "plugin {} needs its API key: `vigil plugins set {} ApiKey=…`",
                            self.plugin, self.plugin
                        ))
                    })?;
                let value = if scheme.is_empty() {
                    secret.clone()
                } else {
                    format!("{scheme} {secret}")
                };
                if *in_query {
                    query.push((key.clone(), value));
                } else {
                    headers.push((key.clone(), value));
                }
            }
            Auth::Basic => {
                let user = self
                    .setting(&["Username", "User"])
                    .cloned()
                    .unwrap_or_default();
                let pass = self.setting(&["Password"]).cloned().unwrap_or_default();
                if user.is_empty() {
                    return Err(SkillError::Failed(format!(
                        "plugin {} uses Basic authentication: set Username and Password with `vigil plugins set`",
                        self.plugin
                    )));
                }
                headers.push((
                    "Authorization".into(),
                    format!("Basic {}", base64(&format!("{user}:{pass}"))),
                ));
            }
            Auth::Bearer => {
                let token = self
                    .setting(&["Token", "BearerToken", "AccessToken"])
                    .ok_or_else(|| {
                        SkillError::Failed(format!(
                            "plugin {} needs a bearer Token setting",
                            self.plugin
                        ))
                    })?;
                headers.push(("Authorization".into(), format!("Bearer {token}")));
            }
            Auth::Unsupported(kind) => {
                return Err(SkillError::Failed(format!(
                    "plugin {} authenticates with {kind}, which needs an identity provider Vigil cannot use",
                    self.plugin
                )));
            }
        }
        let mut url = format!("{}{}", base.trim_end_matches('/'), path);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&q.join("&"));
        }
        Ok(crate::http::Request {
            method: self.operation.method.clone(),
            url,
            headers,
            body: (!body.is_empty() || self.operation.method == "POST")
                .then(|| Json::Object(body).to_string()),
            timeout: self.timeout,
        })
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn base64(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A JSON response as a table: an array of objects by their keys, an object as
/// key/value rows.
fn response_table(title: &str, body: &Json) -> ResultTable {
    let items: Vec<&Json> = match body {
        Json::Array(a) => a.iter().collect(),
        Json::Object(o) => match o.values().find(|v| {
            v.as_array()
                .is_some_and(|a| a.iter().all(Json::is_object) && !a.is_empty())
        }) {
            Some(Json::Array(a)) => a.iter().collect(),
            _ => vec![body],
        },
        other => vec![other],
    };
    if items.len() == 1 && items[0].is_object() {
        let mut t = ResultTable::new(title, &["Field", "Value"]);
        if let Some(o) = items[0].as_object() {
            for (k, v) in o {
                let v = match v {
                    Json::String(s) => Json::String(s.clone()),
                    other => Json::String(other.to_string()),
                };
                t.rows.push(vec![Json::String(k.clone()), v]);
            }
        }
        return t;
    }
    let mut columns: Vec<String> = Vec::new();
    for i in &items {
        for k in i.as_object().into_iter().flat_map(|o| o.keys()) {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    if columns.is_empty() {
        columns.push("Value".into());
    }
    let mut t = ResultTable {
        title: title.to_string(),
        columns: columns.clone(),
        rows: Vec::new(),
    };
    for i in items {
        t.rows.push(match i.as_object() {
            Some(o) => columns
                .iter()
                .map(|c| o.get(c).cloned().unwrap_or(Json::Null))
                .collect(),
            None => vec![i.clone()],
        });
    }
    t
}

#[async_trait]
impl Skill for ApiSkill {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        _ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let req = self.request(inputs)?;
        let shown = format!("{} {}", req.method, crate::http::redact_url(&req.url));
        let resp = tokio::task::spawn_blocking(move || crate::http::call(&req))
            .await
            .map_err(|e| SkillError::Failed(format!("the request stopped: {e}")))?
            .map_err(|e| SkillError::Failed(format!("plugin {}: {e}", self.plugin)))?;
        if !(200..300).contains(&resp.status) {
            let snippet: String = resp.body.chars().take(300).collect();
            return Err(SkillError::Failed(format!(
                "plugin {}: {shown} answered HTTP {}: {snippet}",
                self.plugin, resp.status
            )));
        }
        let body: Json =
            serde_json::from_str(&resp.body).unwrap_or(Json::String(resp.body.clone()));
        let table = response_table(&self.operation.id, &body);
        let mut out = SkillOutput {
            answer: format!(
                "{} answered {} ({} row{}).",
                self.plugin,
                self.operation.id,
                table.rows.len(),
                if table.rows.len() == 1 { "" } else { "s" }
            ),
            entities: entities_in(&table),
            ..SkillOutput::default()
        };
        out.fact("status", resp.status);
        out.evidence.push(crate::skill::Evidence {
            query: shown,
            rows: table.rows.len(),
            tables: Vec::new(),
            sources: vec![format!("plugin {}", self.plugin)],
            source_count: 1,
        });
        out.tables.push(table);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_encode_like_rfc_4648() {
        assert_eq!(
            base64("Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64("ab"), "YWI=");
    }
}
