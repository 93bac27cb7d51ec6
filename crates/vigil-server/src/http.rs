//! `vigil serve`: the REST API and MCP over HTTP, on one listener.
//!
//! Every route but `/api/health` needs `Authorization: Bearer TOKEN`. Errors are JSON:
//! `{"error": {"code": "…", "message": "…"}}` with a stable code.
//!
//! Tokens belong to local accounts ([`crate::users`]): readers may read skills, tables
//! and incidents; analysts may also ask, query, run skills and use MCP. The first start
//! makes an `admin` account (see [`first_start`]).
//!
//! The copilot keeps SQLite connections, which serve one thread at a time: requests run
//! one after another on a blocking thread, each holding the copilot while it answers.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use tokio::sync::Mutex;
use vigil_copilot::Copilot;
use vigil_copilot::skill::Inputs;

use crate::Mcp;
use crate::users::{Role, UserError, Users, random_hex};

/// What the handlers share.
pub struct Shared {
    copilot: Arc<Mutex<Copilot>>,
    users: std::sync::Mutex<Users>,
}

/// A JSON error with a stable code.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

type Reply = Result<axum::Json<Json>, ApiError>;

/// On the first start (no accounts yet), makes the `admin` account with a one-time
/// password and a token, and returns both to show once.
pub fn first_start(db_path: &Path) -> Result<Option<(String, String)>, UserError> {
    let users = Users::open(db_path)?;
    if !users.is_empty()? {
        return Ok(None);
    }
    let password = random_hex(12)?;
    users.add("admin", Role::Admin, &password)?;
    let token = users.new_token("admin")?;
    Ok(Some((password, token)))
}

/// The router over a copilot; accounts and tokens live in the SQLite file `db_path`.
pub fn router(copilot: Copilot, db_path: &Path) -> Result<Router, UserError> {
    let shared = Arc::new(Shared {
        copilot: Arc::new(Mutex::new(copilot)),
        users: std::sync::Mutex::new(Users::open(db_path)?),
    });
    Ok(Router::new()
        .route(
            "/api/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/api/openapi.json", get(openapi))
        .route("/api/skills", get(skills))
        .route("/api/skills/{name}", post(invoke))
        .route("/api/ask", post(ask))
        .route("/api/query", post(query))
        .route("/api/tables", get(tables))
        .route("/api/incidents", get(incidents))
        .route("/mcp", post(mcp))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route (see /api/openapi.json)",
            )
        })
        .with_state(shared))
}

/// Who the request's token stands for, if their role is at least `needed`.
fn authorise(shared: &Shared, headers: &HeaderMap, needed: Role) -> Result<String, ApiError> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send Authorization: Bearer TOKEN",
            )
        })?;
    let users = shared.users.lock().map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the account store failed",
        )
    })?;
    let found = users
        .authenticate(given)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let Some((name, role)) = found else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the token is not valid",
        ));
    };
    if role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{name} is a {}; this needs an {} or above",
                role.name(),
                needed.name()
            ),
        ));
    }
    Ok(name)
}

/// Runs `work` with the copilot on a blocking thread (its futures need not be `Send`).
async fn with_copilot<T, F>(shared: &Shared, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut Copilot, &tokio::runtime::Handle) -> T + Send + 'static,
{
    let copilot = shared.copilot.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut guard = copilot.blocking_lock();
        work(&mut guard, &handle)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

async fn openapi() -> axum::Json<Json> {
    axum::Json(crate::openapi::document())
}

async fn skills(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    authorise(&shared, &headers, Role::Reader)?;
    let specs = with_copilot(&shared, |c, _| {
        serde_json::to_value(c.registry().specs().collect::<Vec<_>>()).unwrap_or_default()
    })
    .await?;
    Ok(axum::Json(json!({"skills": specs})))
}

async fn invoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
    axum::Json(body): axum::Json<Json>,
) -> Reply {
    authorise(&shared, &headers, Role::Analyst)?;
    let confirmed = body.get("confirm").and_then(Json::as_bool) == Some(true);
    let mut inputs = Inputs::new();
    if let Some(given) = body.get("inputs").and_then(Json::as_object) {
        for (k, v) in given {
            inputs.insert(
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            );
        }
    }
    with_copilot(&shared, move |c, rt| {
        let skill = c.registry().get(&name).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_skill",
                format!("there is no skill {name}"),
            )
        })?;
        if skill.spec().side_effects && !confirmed {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "confirmation_required",
                format!("{name} changes things outside Vigil: send \"confirm\": true to run it"),
            ));
        }
        match rt.block_on(c.run_skill(&name, &inputs)) {
            Ok(output) => Ok(axum::Json(json!({"skill": name, "output": output}))),
            Err(e) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "skill_failed",
                e.to_string(),
            )),
        }
    })
    .await?
}

async fn ask(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Json>,
) -> Reply {
    authorise(&shared, &headers, Role::Analyst)?;
    let prompt = body
        .get("prompt")
        .and_then(Json::as_str)
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "send {\"prompt\": \"…\"}",
            )
        })?
        .to_string();
    let session = body
        .get("session")
        .and_then(Json::as_str)
        .map(str::to_string);
    with_copilot(&shared, move |c, rt| {
        match rt.block_on(c.ask(session.as_deref(), &prompt)) {
            Ok((session, turn)) => Ok(axum::Json(json!({
                "session": session,
                "turn": turn.seq,
                "answer": turn.answer,
                "plan": turn.calls.iter().map(|c| &c.step).collect::<Vec<_>>(),
                "skill_calls": turn.calls,
                "pending": turn.pending,
                "warnings": turn.warnings,
            }))),
            Err(e) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_answered",
                e.to_string(),
            )),
        }
    })
    .await?
}

async fn query(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Json>,
) -> Reply {
    authorise(&shared, &headers, Role::Analyst)?;
    let kql = body
        .get("query")
        .and_then(Json::as_str)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "send {\"query\": \"KQL\"}",
            )
        })?
        .to_string();
    with_copilot(&shared, move |c, rt| {
        match rt.block_on(c.lake().query("Query", &kql)) {
            Ok(r) => Ok(axum::Json(
                json!({"columns": r.table.columns, "rows": r.table.rows, "evidence": r.evidence}),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                e.to_string(),
            )),
        }
    })
    .await?
}

async fn tables(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    authorise(&shared, &headers, Role::Reader)?;
    let catalog = vigil_schema::Catalog::builtin();
    let list: Vec<Json> = catalog
        .tables()
        .map(|t| {
            let columns: Vec<Json> = t
                .columns()
                .iter()
                .map(|c| json!({"name": c.name, "type": c.kql_type.name(), "description": c.description}))
                .collect();
            json!({"name": t.name, "about": t.about, "columns": columns})
        })
        .collect();
    Ok(axum::Json(json!({"tables": list})))
}

async fn incidents(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(filter): Query<std::collections::BTreeMap<String, String>>,
) -> Reply {
    authorise(&shared, &headers, Role::Reader)?;
    let inputs: Inputs = filter
        .into_iter()
        .filter(|(k, _)| matches!(k.as_str(), "severity" | "status" | "limit"))
        .collect();
    with_copilot(&shared, move |c, rt| {
        match rt.block_on(c.run_skill("list_incidents", &inputs)) {
            Ok(o) => Ok(axum::Json(
                json!({"incidents": o.tables.first(), "evidence": o.evidence}),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                e.to_string(),
            )),
        }
    })
    .await?
}

/// MCP's streamable HTTP transport, for single JSON-RPC messages answered with JSON.
async fn mcp(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    if let Err(e) = authorise(&shared, &headers, Role::Analyst) {
        return e.into_response();
    }
    let answer = with_copilot(&shared, move |c, rt| {
        rt.block_on(Mcp::new(c).handle_line(&body))
    })
    .await;
    match answer {
        Ok(Some(reply)) => axum::Json(reply).into_response(),
        // A notification or a response from the client: accepted, nothing to say.
        Ok(None) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_response(),
    }
}
