//! The Model Context Protocol: JSON-RPC 2.0 messages in which an AI assistant or agent
//! lists Vigil's skills as tools and calls them, and reads the lake's tables and the
//! incidents as resources.
//!
//! [`Mcp::handle`] answers one message; the transport (standard input and output, one
//! message a line, for `vigil mcp`) is the caller's.
//!
//! A skill that changes something outside Vigil is announced with `readOnlyHint: false`
//! and `destructiveHint: true`, the hints MCP hosts use to ask the user before a call.

use std::fmt::Write as _;

use serde_json::{Value as Json, json};
use vigil_copilot::Copilot;
use vigil_copilot::answer::output_markdown;
use vigil_copilot::skill::{Inputs, SkillSpec};

/// The protocol revisions this server speaks, newest first.
const VERSIONS: &[&str] = &["2025-06-18", "2025-03-26", "2024-11-05"];

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// Answers MCP messages with a copilot's skills and lake.
pub struct Mcp<'a> {
    copilot: &'a Copilot,
}

fn error(id: Json, code: i64, message: impl Into<String>) -> Json {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn result(id: Json, result: Json) -> Json {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn tool(spec: &SkillSpec) -> Json {
    let mut description = spec.description.clone();
    if let Some(e) = spec.examples.first() {
        let _ = write!(description, ". For example: \"{e}\"");
    }
    json!({
        "name": spec.name,
        "description": description,
        "inputSchema": spec.input_schema(),
        "annotations": {
            "readOnlyHint": !spec.side_effects,
            "destructiveHint": spec.side_effects,
            "openWorldHint": spec.source != "builtin",
        },
    })
}

impl<'a> Mcp<'a> {
    pub fn new(copilot: &'a Copilot) -> Mcp<'a> {
        Mcp { copilot }
    }

    /// Reads one line of the stdio transport and answers it (`None` for a notification).
    pub async fn handle_line(&self, line: &str) -> Option<Json> {
        match serde_json::from_str::<Json>(line) {
            Ok(message) => self.handle(&message).await,
            Err(e) => Some(error(Json::Null, PARSE_ERROR, format!("not JSON: {e}"))),
        }
    }

    /// Answers one JSON-RPC message; notifications get no answer.
    pub async fn handle(&self, message: &Json) -> Option<Json> {
        let Some(method) = message.get("method").and_then(Json::as_str) else {
            let id = message.get("id").cloned().unwrap_or(Json::Null);
            return Some(error(id, INVALID_REQUEST, "a request names its method"));
        };
        // A message without an id is a notification: nothing is sent back.
        let id = message.get("id").cloned()?;
        let params = message.get("params").cloned().unwrap_or(Json::Null);
        Some(match method {
            "initialize" => result(id, self.initialize(&params)),
            "ping" => result(id, json!({})),
            "tools/list" => result(id, self.tools()),
            "tools/call" => match self.call(&params).await {
                Ok(r) => result(id, r),
                Err(why) => error(id, INVALID_PARAMS, why),
            },
            "resources/list" => result(id, self.resources()),
            "resources/templates/list" => result(id, self.templates()),
            "resources/read" => match self.read(&params).await {
                Ok(r) => result(id, r),
                Err(why) => error(id, INVALID_PARAMS, why),
            },
            other => error(id, METHOD_NOT_FOUND, format!("Vigil has no method {other}")),
        })
    }

    fn initialize(&self, params: &Json) -> Json {
        let asked = params.get("protocolVersion").and_then(Json::as_str);
        let version = asked
            .filter(|v| VERSIONS.contains(v))
            .unwrap_or(VERSIONS[0]);
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}, "resources": {"listChanged": false}},
            "serverInfo": {"name": "vigil", "title": "Vigil security copilot", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "Vigil answers security questions over the organisation's own data. Every tool runs over real rows and returns its evidence (the KQL that ran, row counts, source records). Tools marked destructive change things outside Vigil: ask the user before calling them.",
        })
    }

    fn tools(&self) -> Json {
        let tools: Vec<Json> = self.copilot.registry().specs().map(tool).collect();
        json!({"tools": tools})
    }

    async fn call(&self, params: &Json) -> Result<Json, String> {
        let name = params
            .get("name")
            .and_then(Json::as_str)
            .ok_or("tools/call needs the tool's name")?;
        if self.copilot.registry().get(name).is_none() {
            return Err(format!(
                "there is no tool named {name} (tools/list lists them)"
            ));
        }
        let mut inputs = Inputs::new();
        if let Some(args) = params.get("arguments").and_then(Json::as_object) {
            for (k, v) in args {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                inputs.insert(k.clone(), text);
            }
        }
        // A failing skill is a tool result the model can read, not a protocol error.
        Ok(match self.copilot.run_skill(name, &inputs).await {
            Ok(output) => {
                let mut text = String::new();
                output_markdown(&mut text, &output);
                json!({
                    "content": [{"type": "text", "text": text}],
                    "structuredContent": output,
                    "isError": false,
                })
            }
            Err(e) => {
                json!({"content": [{"type": "text", "text": e.to_string()}], "isError": true})
            }
        })
    }

    fn resources(&self) -> Json {
        let catalog = vigil_schema::Catalog::builtin();
        let mut resources = vec![json!({
            "uri": "vigil://incidents",
            "name": "incidents",
            "title": "Incident queue",
            "description": "Every incident, newest activity first, with severity, status, devices, users and tactics",
            "mimeType": "text/markdown",
        })];
        for t in catalog.tables() {
            resources.push(json!({
                "uri": format!("vigil://tables/{}", t.name),
                "name": t.name,
                "description": t.about,
                "mimeType": "application/json",
            }));
        }
        json!({"resources": resources})
    }

    fn templates(&self) -> Json {
        json!({"resourceTemplates": [{
            "uriTemplate": "vigil://incidents/{number}",
            "name": "incident",
            "title": "One incident",
            "description": "An incident's story in kill-chain order, its entities, alerts and next steps",
            "mimeType": "text/markdown",
        }]})
    }

    async fn read(&self, params: &Json) -> Result<Json, String> {
        let uri = params
            .get("uri")
            .and_then(Json::as_str)
            .ok_or("resources/read needs a uri")?;
        let (mime, text) = if let Some(name) = uri.strip_prefix("vigil://tables/") {
            let catalog = vigil_schema::Catalog::builtin();
            let table = catalog
                .table(name)
                .ok_or_else(|| format!("there is no table {name}"))?;
            let columns: Vec<Json> = table
                .columns()
                .iter()
                .map(|c| json!({"name": c.name, "type": c.kql_type.name(), "description": c.description}))
                .collect();
            let body = json!({"name": table.name, "about": table.about, "columns": columns});
            ("application/json", body.to_string())
        } else if uri == "vigil://incidents" {
            (
                "text/markdown",
                self.skill_text("list_incidents", Inputs::new()).await?,
            )
        } else if let Some(n) = uri.strip_prefix("vigil://incidents/") {
            let inputs = Inputs::from([("incident".to_string(), n.to_string())]);
            (
                "text/markdown",
                self.skill_text("summarize_incident", inputs).await?,
            )
        } else {
            return Err(format!("Vigil has no resource {uri}"));
        };
        Ok(json!({"contents": [{"uri": uri, "mimeType": mime, "text": text}]}))
    }

    async fn skill_text(&self, name: &str, inputs: Inputs) -> Result<String, String> {
        let output = self
            .copilot
            .run_skill(name, &inputs)
            .await
            .map_err(|e| e.to_string())?;
        let mut text = String::new();
        output_markdown(&mut text, &output);
        Ok(text)
    }
}
