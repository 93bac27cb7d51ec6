//! OpenAPI 3.0 specs of API plugins: each operation becomes a skill, its parameters and
//! JSON body properties the skill's inputs.

use serde_json::{Map, Value as Json};

/// Where an operation's input goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Path,
    Query,
    Header,
    /// A property of the JSON request body.
    Body,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub place: Place,
    pub required: bool,
    pub description: String,
}

/// One operation of a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub params: Vec<Param>,
}

/// A spec reduced to what Vigil calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub title: String,
    /// The first server's URL with its variables filled with their defaults.
    pub server: String,
    pub operations: Vec<Operation>,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn text(v: Option<&Json>) -> String {
    v.and_then(Json::as_str).unwrap_or("").trim().to_string()
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(root: &'a Json, v: &'a Json) -> &'a Json {
    let mut current = v;
    for _ in 0..8 {
        let Some(r) = current.get("$ref").and_then(Json::as_str) else {
            return current;
        };
        let Some(pointer) = r.strip_prefix('#') else {
            return current;
        };
        match root.pointer(pointer) {
            Some(next) => current = next,
            None => return current,
        }
    }
    current
}

fn params_of(root: &Json, list: Option<&Json>, out: &mut Vec<Param>) {
    for p in list.and_then(Json::as_array).into_iter().flatten() {
        let p = resolve(root, p);
        let name = text(p.get("name"));
        if name.is_empty() {
            continue;
        }
        let place = match text(p.get("in")).as_str() {
            "path" => Place::Path,
            "header" => Place::Header,
            "query" => Place::Query,
            _ => continue,
        };
        let required = p
            .get("required")
            .and_then(Json::as_bool)
            .unwrap_or(place == Place::Path);
        out.retain(|q: &Param| q.name != name);
        out.push(Param {
            name,
            place,
            required,
            description: text(p.get("description")),
        });
    }
}

fn body_params(root: &Json, op: &Map<String, Json>, out: &mut Vec<Param>) {
    let Some(body) = op.get("requestBody").map(|b| resolve(root, b)) else {
        return;
    };
    let Some(schema) = body
        .get("content")
        .and_then(|c| c.get("application/json"))
        .and_then(|c| c.get("schema"))
        .map(|s| resolve(root, s))
    else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .collect();
    if let Some(props) = schema.get("properties").and_then(Json::as_object) {
        for (name, p) in props {
            let p = resolve(root, p);
            out.push(Param {
                name: name.clone(),
                place: Place::Body,
                required: required.contains(&name.as_str()),
                description: text(p.get("description")),
            });
        }
    }
}

/// A name usable as a skill name: letters, digits and underscores.
fn skill_name(method: &str, path: &str) -> String {
    let mut name = method.to_string();
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    name.trim_end_matches('_').to_string()
}

/// Reads a spec document.
pub fn parse(doc: &Json) -> Result<Spec, String> {
    let version = text(doc.get("openapi"));
    if version.is_empty() {
        return Err(if doc.get("swagger").is_some() {
            "the spec is Swagger 2.0; API plugins need OpenAPI 3.0".into()
        } else {
            "not an OpenAPI document (no `openapi` version)".into()
        });
    }
    if !version.starts_with('3') {
        return Err(format!(
            "OpenAPI {version} is not supported; API plugins need OpenAPI 3.0"
        ));
    }
    let server = doc
        .get("servers")
        .and_then(Json::as_array)
        .and_then(|s| s.first())
        .map(|s| {
            let mut url = text(s.get("url"));
            if let Some(vars) = s.get("variables").and_then(Json::as_object) {
                for (k, v) in vars {
                    url = url.replace(&format!("{{{k}}}"), &text(v.get("default")));
                }
            }
            url
        })
        .unwrap_or_default();
    let mut operations = Vec::new();
    for (path, item) in doc
        .get("paths")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
    {
        let item = resolve(doc, item);
        let mut shared = Vec::new();
        params_of(doc, item.get("parameters"), &mut shared);
        for method in METHODS {
            let Some(op) = item.get(method).and_then(Json::as_object) else {
                continue;
            };
            let mut params = shared.clone();
            params_of(doc, op.get("parameters"), &mut params);
            body_params(doc, op, &mut params);
            let id = text(op.get("operationId"));
            let summary = {
                let s = text(op.get("summary"));
                if s.is_empty() {
                    text(op.get("description"))
                } else {
                    s
                }
            };
            operations.push(Operation {
                id: if id.is_empty() {
                    skill_name(method, path)
                } else {
                    id
                },
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                summary,
                params,
            });
        }
    }
    if operations.is_empty() {
        return Err("the spec has no operations under `paths`".into());
    }
    Ok(Spec {
        title: text(doc.get("info").and_then(|i| i.get("title"))),
        server,
        operations,
    })
}
