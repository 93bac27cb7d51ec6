//! The OpenAPI 3.1 document of the REST API, served at `/api/openapi.json`.

use serde_json::{Value as Json, json};

fn error_responses() -> Json {
    json!({
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
        "409": {"$ref": "#/components/responses/Error"},
        "422": {"$ref": "#/components/responses/Error"},
    })
}

fn ok(description: &str) -> Json {
    let mut r = error_responses();
    r["200"] = json!({"description": description, "content": {"application/json": {"schema": {"type": "object"}}}});
    r
}

fn body(properties: Json, required: &[&str]) -> Json {
    json!({"required": true, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "required": required}}}})
}

/// The whole document.
pub fn document() -> Json {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vigil's security copilot over the organisation's own data: ask questions, run skills and KQL, read incidents and tables. Every answer carries its evidence.",
        },
        "security": [{"token": []}],
        "paths": {
            "/api/health": {"get": {"summary": "Whether the server is up", "security": [], "responses": {"200": {"description": "up"}}}},
            "/api/skills": {"get": {"summary": "Every skill with its inputs", "responses": ok("the skills")}},
            "/api/skills/{name}": {"post": {
                "summary": "Run one skill; a skill that changes things outside Vigil needs \"confirm\": true",
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": body(json!({"inputs": {"type": "object", "additionalProperties": {"type": "string"}}, "confirm": {"type": "boolean"}}), &[]),
                "responses": ok("the skill's output: answer, tables, facts, entities, evidence"),
            }},
            "/api/ask": {"post": {
                "summary": "Ask a question in plain language (in a session when one is given)",
                "requestBody": body(json!({"prompt": {"type": "string"}, "session": {"type": "string"}}), &["prompt"]),
                "responses": ok("the turn: answer, plan, skill calls with evidence, warnings"),
            }},
            "/api/query": {"post": {
                "summary": "Run KQL over the lake",
                "requestBody": body(json!({"query": {"type": "string"}}), &["query"]),
                "responses": ok("columns, rows and evidence"),
            }},
            "/api/tables": {"get": {"summary": "The table catalog with columns, types and meanings", "responses": ok("the tables")}},
            "/api/incidents": {"get": {
                "summary": "The incident queue",
                "parameters": [
                    {"name": "severity", "in": "query", "schema": {"type": "string", "enum": ["High", "Medium", "Low", "Informational"]}},
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["New", "Active", "Closed", "Open"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": ok("incidents and the query behind them"),
            }},
            "/mcp": {"post": {
                "summary": "Model Context Protocol (streamable HTTP): one JSON-RPC message, answered with JSON",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": {"description": "the JSON-RPC response"}, "202": {"description": "a notification, accepted"}},
            }},
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer", "description": "The token `vigil serve` printed on its first start"}},
            "responses": {"Error": {
                "description": "An error with a stable code",
                "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                }}}}},
            }},
        },
    })
}
