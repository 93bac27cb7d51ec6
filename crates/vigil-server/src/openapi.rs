//! The OpenAPI 3.1 document of the REST API, served at `/api/openapi.json`.
//!
//! Each operation documents the shape of its answer (the properties it always has) and
//! carries an example request, so a client, or a test, can call every operation and
//! check what comes back.

use serde_json::{Value as Json, json};

fn error_responses() -> Json {
    let e = json!({"$ref": "#/components/responses/Error"});
    json!({"400": e, "401": e, "403": e, "404": e, "409": e, "413": e, "422": e, "429": e})
}

/// An object with these properties, all of them always there.
fn object(properties: &[(&str, Json)]) -> Json {
    let names: Vec<&str> = properties.iter().map(|(n, _)| *n).collect();
    let props: serde_json::Map<String, Json> = properties
        .iter()
        .map(|(n, s)| (n.to_string(), s.clone()))
        .collect();
    json!({"type": "object", "properties": props, "required": names})
}

fn string() -> Json {
    json!({"type": "string"})
}

fn integer() -> Json {
    json!({"type": "integer"})
}

fn boolean() -> Json {
    json!({"type": "boolean"})
}

fn any_object() -> Json {
    json!({"type": "object"})
}

fn array(items: Json) -> Json {
    json!({"type": "array", "items": items})
}

fn table() -> Json {
    json!({"$ref": "#/components/schemas/Table"})
}

fn ok(description: &str, schema: Json) -> Json {
    let mut r = error_responses();
    r["200"] =
        json!({"description": description, "content": {"application/json": {"schema": schema}}});
    r
}

fn done() -> Json {
    ok("done", object(&[("ok", boolean())]))
}

fn body(properties: Json, required: &[&str], example: Json) -> Json {
    json!({"required": true, "content": {"application/json": {
        "schema": {"type": "object", "properties": properties, "required": required},
        "example": example,
    }}})
}

fn path_param(name: &str, example: Json) -> Json {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "example": example})
}

fn query_param(name: &str, schema: Json, example: Option<Json>) -> Json {
    let mut p = json!({"name": name, "in": "query", "schema": schema});
    if let Some(e) = example {
        p["example"] = e;
    }
    p
}

fn turn() -> Json {
    json!({"$ref": "#/components/schemas/Turn"})
}

/// The whole document.
pub fn document() -> Json {
    let session_info = object(&[
        ("id", string()),
        ("title", string()),
        ("owner", string()),
        ("created", string()),
        ("updated", string()),
        ("turns", integer()),
        ("shared", boolean()),
    ]);
    let incident = object(&[
        ("number", integer()),
        ("title", string()),
        ("severity", string()),
        ("status", string()),
        ("classification", string()),
        ("tactics", array(string())),
        ("techniques", array(string())),
        ("devices", array(string())),
        ("users", array(string())),
        ("ips", array(string())),
        ("report_html", string()),
    ]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vigil's security copilot over the organisation's own data: ask questions (answers stream as server-sent events), run promptbooks, skills and KQL, work the incident queue, upload logs, manage plugins and accounts. Every answer carries its evidence. Authenticate with `Authorization: Bearer TOKEN`, or log in for a cookie and send `X-CSRF-Token` with every change.",
        },
        "security": [{"token": []}, {"cookie": []}],
        "paths": {
            "/api/health": {"get": {"summary": "Whether the server is up", "security": [],
                "responses": {"200": {"description": "up", "content": {"application/json": {"schema": object(&[("status", string())])}}}}}},
            "/api/login": {"post": {"summary": "Log in from a browser: sets the session cookie and returns the CSRF token", "security": [],
                "requestBody": body(json!({"username": string(), "password": string()}), &["username", "password"], json!({"username": "{user}", "password": "{password}"})),
                "responses": ok("the account", object(&[("user", string()), ("role", string()), ("csrf", string())]))}},
            "/api/logout": {"post": {"summary": "Log out (ends the browser session)", "responses": done()}},
            "/api/me": {"get": {"summary": "The caller's account and role", "responses": ok("the account", object(&[("user", string()), ("role", string())]))}},
            "/api/ask": {"post": {
                "summary": "Ask in plain language (in a session when one is given). With `Accept: text/event-stream` the answer streams: events session, step, call, answer (pieces of Markdown), done (the whole turn) or error",
                "requestBody": body(json!({"prompt": string(), "session": string()}), &["prompt"], json!({"prompt": "Show high severity incidents"})),
                "responses": ok("the turn", turn()),
            }},
            "/api/sessions": {"get": {"summary": "The caller's sessions and those shared with them", "responses": ok("sessions", object(&[("sessions", array(session_info.clone()))]))}},
            "/api/sessions/{id}": {"get": {"summary": "One session with its turns, pins and feedback",
                "parameters": [path_param("id", json!("{session}"))],
                "responses": ok("the session", object(&[("info", session_info), ("turns", array(turn())), ("pins", array(any_object())), ("feedback", array(any_object()))]))}},
            "/api/sessions/{id}/share": {"post": {"summary": "Share a session with every account, or make it private again (its owner only)",
                "parameters": [path_param("id", json!("{session}"))],
                "requestBody": body(json!({"shared": boolean()}), &["shared"], json!({"shared": true})),
                "responses": done()}},
            "/api/sessions/{id}/turns/{n}/pin": {"post": {"summary": "Pin a turn to the pinboard, with a note",
                "parameters": [path_param("id", json!("{session}")), path_param("n", json!("1"))],
                "requestBody": body(json!({"note": string()}), &[], json!({"note": "for the handover"})),
                "responses": done()}},
            "/api/sessions/{id}/turns/{n}/feedback": {"post": {"summary": "Say what you think of an answer",
                "parameters": [path_param("id", json!("{session}")), path_param("n", json!("1"))],
                "requestBody": body(json!({"rating": {"type": "string", "enum": ["looks_right", "needs_improvement", "inappropriate"]}, "comment": string()}), &["rating"], json!({"rating": "looks_right"})),
                "responses": done()}},
            "/api/pins": {"get": {"summary": "The caller's pinboard", "responses": ok("pins", object(&[("pins", array(object(&[("session", string()), ("turn", integer()), ("note", string()), ("prompt", string()), ("answer", string())])))]))}},
            "/api/promptbooks": {"get": {"summary": "The promptbook library", "responses": ok("promptbooks", object(&[("promptbooks", array(object(&[("name", string()), ("description", string()), ("inputs", array(any_object())), ("prompts", array(any_object()))])))]))}},
            "/api/promptbooks/{name}/run": {"post": {"summary": "Run a promptbook's prompts in one session",
                "parameters": [path_param("name", json!("Incident investigation"))],
                "requestBody": body(json!({"inputs": {"type": "object", "additionalProperties": string()}, "session": string()}), &[], json!({"inputs": {"Incident": "{incident}"}})),
                "responses": ok("the session and its turns", object(&[("session", string()), ("turns", array(turn()))]))}},
            "/api/skills": {"get": {"summary": "Every skill with its inputs", "responses": ok("the skills", object(&[("skills", array(object(&[("name", string()), ("description", string()), ("inputs", array(any_object()))])))]))}},
            "/api/skills/{name}": {"post": {
                "summary": "Run one skill; a skill that changes things outside Vigil needs \"confirm\": true",
                "parameters": [path_param("name", json!("describe_table"))],
                "requestBody": body(json!({"inputs": {"type": "object", "additionalProperties": string()}, "confirm": boolean()}), &[], json!({"inputs": {"table": "DeviceInfo"}})),
                "responses": ok("the skill's output: answer, tables, facts, entities, evidence", object(&[("skill", string()), ("output", json!({"type": "object", "required": ["answer"], "properties": {"answer": string(), "tables": array(table()), "facts": array(any_object()), "evidence": array(any_object())}}))])),
            }},
            "/api/incidents": {"get": {
                "summary": "The incident queue",
                "parameters": [
                    query_param("severity", json!({"type": "string", "enum": ["High", "Medium", "Low", "Informational"]}), Some(json!("High"))),
                    query_param("status", json!({"type": "string", "enum": ["New", "Active", "Closed", "Open"]}), None),
                    query_param("limit", integer(), None),
                ],
                "responses": ok("incidents and the query behind them", object(&[("incidents", table()), ("evidence", array(any_object()))])),
            }},
            "/api/incidents/{n}": {
                "get": {"summary": "One incident: verdict, entities, alerts in time order, evidence",
                    "parameters": [path_param("n", json!("{incident}"))],
                    "responses": ok("the incident", incident.clone())},
                "patch": {"summary": "Change an incident's status or classification (analysts)",
                    "parameters": [path_param("n", json!("{incident}"))],
                    "requestBody": body(json!({"status": {"type": "string", "enum": ["New", "Active", "Closed"]}, "classification": {"type": "string", "enum": ["TruePositive", "BenignPositive", "FalsePositive", "Undetermined"]}, "reason": string(), "comment": string()}), &[], json!({"status": "Active", "comment": "taken"})),
                    "responses": ok("the incident as it is now", incident)},
            },
            "/api/incidents/{n}/report": {"get": {"summary": "The incident report as an HTML page",
                "parameters": [path_param("n", json!("{incident}")), query_param("audience", json!({"type": "string", "enum": ["executive", "technical"]}), None)],
                "responses": {"200": {"description": "the report", "content": {"text/html": {"schema": string()}}}}}},
            "/api/query": {"post": {
                "summary": "Run KQL over the lake",
                "requestBody": body(json!({"query": string()}), &["query"], json!({"query": "SigninLogs | summarize count() by bin(TimeGenerated, 1d) | render timechart"})),
                "responses": ok("columns, their types, rows, evidence and the chart asked for", object(&[("columns", array(string())), ("types", array(string())), ("rows", array(array(json!({})))), ("evidence", array(any_object()))])),
            }},
            "/api/tables": {"get": {"summary": "The table catalog with columns, types and meanings", "responses": ok("the tables", object(&[("tables", array(object(&[("name", string()), ("columns", array(any_object()))])))]))}},
            "/api/ingest": {"post": {
                "summary": "Upload one log file (EVTX, JSON, NDJSON, CSV, or a .zip of them) into the lake (analysts)",
                "parameters": [query_param("name", string(), Some(json!("upload.json"))), query_param("table", string(), Some(json!("DeviceInfo")))],
                "requestBody": {"required": true, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "{\"Timestamp\":\"2026-03-10T08:00:00Z\",\"DeviceName\":\"upload-test.corp.example\",\"OSPlatform\":\"Windows11\"}\n",
                }}},
                "responses": ok("what was read", object(&[("files", integer()), ("records", integer()), ("rows", integer()), ("tables", any_object()), ("problems", integer())])),
            }},
            "/api/plugins": {
                "get": {"summary": "Installed plugins", "responses": ok("plugins", object(&[("plugins", array(object(&[("name", string()), ("enabled", boolean()), ("skills", array(string()))])))]))},
                "post": {"summary": "Install a plugin from its manifest (admins)",
                    "requestBody": body(json!({"manifest": string()}), &["manifest"], json!({"manifest": EXAMPLE_PLUGIN})),
                    "responses": ok("installed", object(&[("ok", boolean()), ("name", string())]))},
            },
            "/api/plugins/validate": {"post": {"summary": "Validate a manifest without installing it (admins)",
                "requestBody": body(json!({"manifest": string()}), &["manifest"], json!({"manifest": EXAMPLE_PLUGIN})),
                "responses": ok("the validation report", object(&[("ok", boolean()), ("usable", integer()), ("report", any_object())]))}},
            "/api/plugins/{name}": {
                "patch": {"summary": "Enable, disable or set a plugin's settings (admins; values are never shown back)",
                    "parameters": [path_param("name", json!("ExampleHunting"))],
                    "requestBody": body(json!({"enabled": boolean(), "settings": {"type": "object", "additionalProperties": string()}}), &[], json!({"enabled": false})),
                    "responses": done()},
                "delete": {"summary": "Remove a plugin (admins)", "parameters": [path_param("name", json!("ExampleHunting"))], "responses": done()},
            },
            "/api/users": {
                "get": {"summary": "Accounts (admins)", "responses": ok("accounts", object(&[("users", array(object(&[("name", string()), ("role", string()), ("tokens", integer())])))]))},
                "post": {"summary": "Add an account (admins)",
                    "requestBody": body(json!({"username": string(), "role": {"type": "string", "enum": ["admin", "analyst", "reader"]}, "password": string()}), &["username", "role", "password"], json!({"username": "example-reader", "role": "reader", "password": "a long passphrase"})),
                    "responses": done()},
            },
            "/api/users/{name}": {"delete": {"summary": "Remove an account and its tokens (admins)", "parameters": [path_param("name", json!("example-reader"))], "responses": done()}},
            "/api/users/{name}/tokens": {"post": {"summary": "A new API token for an account, shown once (admins)", "parameters": [path_param("name", json!("example-reader"))], "responses": ok("the token", object(&[("token", string())]))}},
            "/api/audit": {"get": {"summary": "The audit log, newest first (admins)", "parameters": [query_param("limit", integer(), Some(json!("50")))],
                "responses": ok("entries", object(&[("entries", array(object(&[("id", integer()), ("at", string()), ("actor", string()), ("action", string())])))]))}},
            "/mcp": {"post": {
                "summary": "Model Context Protocol (streamable HTTP): one JSON-RPC message, answered with JSON",
                "requestBody": {"required": true, "content": {"application/json": {"schema": any_object(), "example": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}}}},
                "responses": {"200": {"description": "the JSON-RPC response", "content": {"application/json": {"schema": object(&[("jsonrpc", string())])}}}, "202": {"description": "a notification, accepted"}},
            }},
        },
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "A token from `vigil users token NAME` (the first start prints the admin's)"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "vigil_session", "description": "From /api/login; changes also need the X-CSRF-Token header"},
            },
            "schemas": {
                "Table": object(&[("title", string()), ("columns", array(string())), ("rows", array(array(json!({}))))]),
                "Turn": object(&[("session", string()), ("turn", integer()), ("prompt", string()), ("answer", string()), ("plan", array(any_object())), ("skill_calls", array(any_object())), ("warnings", array(string()))]),
            },
            "responses": {"Error": {
                "description": "An error with a stable code",
                "content": {"application/json": {"schema": object(&[("error", object(&[("code", string()), ("message", string())]))])}},
            }},
        },
    })
}

/// A small KQL plugin, the example of the plugin operations.
const EXAMPLE_PLUGIN: &str = "Descriptor:\n  Name: ExampleHunting\n  DisplayName: Example hunting\n  Description: Sign-ins of one user\nSkillGroups:\n  - Format: KQL\n    Skills:\n      - Name: SigninsOfUser\n        DisplayName: Sign-ins of a user\n        Description: The sign-ins of one user\n        Inputs:\n          - Name: user\n            Description: The user's UPN\n            Required: true\n        Settings:\n          Target: Defender\n          Template: |-\n            SigninLogs\n            | where UserPrincipalName =~ '{{user}}'\n            | take 10\n";
