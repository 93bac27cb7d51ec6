//! Plugins, accounts and tokens, and the audit log: the admin's part.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use serde_json::{Value as Json, json};
use vigil_copilot::plugins::{self, PluginStore};

use super::{
    ApiError, Caller, Reply, Shared, audit, body_of, lake_changed, text_field, with_copilot,
};
use crate::users::{Role, random_hex};

fn plugin_store(shared: &Shared) -> Result<PluginStore, ApiError> {
    PluginStore::open(shared.backend.data_dir(), &shared.db_path).map_err(ApiError::internal)
}

fn plugin_error(e: String) -> ApiError {
    if e.starts_with("no plugin named") {
        ApiError::not_found(e)
    } else {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plugin_refused", e)
    }
}

pub(crate) async fn plugins(State(shared): State<Arc<Shared>>, _caller: Caller) -> Reply {
    let store = plugin_store(&shared)?;
    let mut out = Vec::new();
    for p in store.list().map_err(ApiError::internal)? {
        let report = plugins::validate(&p.manifest);
        let declared: Vec<Json> = plugins::manifest::load(&p.manifest)
            .map(|m| {
                m.settings
                    .iter()
                    .map(|s| {
                        json!({"name": s.name, "description": s.description, "required": s.required,
                               "set": p.setting_names.iter().any(|n| n.eq_ignore_ascii_case(&s.name))})
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(json!({
            "name": p.name,
            "enabled": p.enabled,
            "settings": p.setting_names,
            "declared_settings": declared,
            "skills": report.skills.iter().map(|s| &s.name).collect::<Vec<_>>(),
            "report": report,
        }));
    }
    Ok(axum::Json(json!({"plugins": out})))
}

/// Writes an uploaded manifest where validation can read it; the caller removes it.
fn staged_manifest(shared: &Shared, body: &Json) -> Result<(PathBuf, PathBuf), ApiError> {
    let text = body
        .get("manifest")
        .and_then(Json::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("send {\"manifest\": \"YAML or JSON text\"}"))?;
    let dir = shared
        .backend
        .data_dir()
        .join("uploads")
        .join(random_hex(8)?);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", dir.display())))?;
    let name = if text.trim_start().starts_with('{') {
        "manifest.json"
    } else {
        "manifest.yaml"
    };
    let file = dir.join(name);
    std::fs::write(&file, text)
        .map_err(|e| ApiError::internal(format!("writing {}: {e}", file.display())))?;
    Ok((dir, file))
}

pub(crate) async fn validate_plugin(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    caller.need(Role::Admin)?;
    let body = body_of(given)?;
    let (dir, file) = staged_manifest(&shared, &body)?;
    let report = plugins::validate(&file);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(axum::Json(
        json!({"ok": report.rejected.is_none(), "usable": report.usable(), "report": report}),
    ))
}

/// After a plugin change, copilots are opened again so their skills follow.
async fn reopen(
    shared: &Arc<Shared>,
    who: String,
    action: &'static str,
    detail: Json,
) -> Result<(), ApiError> {
    with_copilot(shared, move |c, _| audit(c, &who, action, detail)).await??;
    lake_changed(shared);
    Ok(())
}

pub(crate) async fn add_plugin(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    caller.need(Role::Admin)?;
    let body = body_of(given)?;
    let (dir, file) = staged_manifest(&shared, &body)?;
    let added = plugin_store(&shared)?.add(&file);
    let _ = std::fs::remove_dir_all(&dir);
    let report = added.map_err(plugin_error)?;
    let name = report.plugin.clone().unwrap_or_default();
    reopen(&shared, caller.name, "plugin.add", json!({"plugin": name})).await?;
    Ok(axum::Json(
        json!({"ok": true, "name": name, "report": report}),
    ))
}

pub(crate) async fn change_plugin(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(name): UrlPath<String>,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    caller.need(Role::Admin)?;
    let body = body_of(given)?;
    let store = plugin_store(&shared)?;
    if store.get(&name).map_err(ApiError::internal)?.is_none() {
        return Err(ApiError::not_found(format!("no plugin named {name}")));
    }
    let mut changed = Vec::new();
    if let Some(on) = body.get("enabled").and_then(Json::as_bool) {
        store.set_enabled(&name, on).map_err(plugin_error)?;
        changed.push("enabled".to_string());
    }
    if let Some(settings) = body.get("settings").and_then(Json::as_object) {
        for (k, v) in settings {
            let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            store.set_setting(&name, k, &value).map_err(plugin_error)?;
            // Names only: setting values (API keys) never reach the log.
            changed.push(format!("setting {k}"));
        }
    }
    if changed.is_empty() {
        return Err(ApiError::bad_request(
            "send {\"enabled\": true|false} and/or {\"settings\": {\"Name\": \"value\"}}",
        ));
    }
    reopen(
        &shared,
        caller.name,
        "plugin.change",
        json!({"plugin": name, "changed": changed}),
    )
    .await?;
    Ok(axum::Json(json!({"ok": true})))
}

pub(crate) async fn remove_plugin(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(name): UrlPath<String>,
) -> Reply {
    caller.need(Role::Admin)?;
    plugin_store(&shared)?.remove(&name).map_err(plugin_error)?;
    reopen(
        &shared,
        caller.name,
        "plugin.remove",
        json!({"plugin": name}),
    )
    .await?;
    Ok(axum::Json(json!({"ok": true})))
}

fn users_locked(
    shared: &Shared,
) -> Result<std::sync::MutexGuard<'_, crate::users::Users>, ApiError> {
    shared
        .users
        .lock()
        .map_err(|_| ApiError::internal("the account store failed"))
}

async fn audited(
    shared: &Arc<Shared>,
    who: String,
    action: &'static str,
    detail: Json,
) -> Result<(), ApiError> {
    with_copilot(shared, move |c, _| audit(c, &who, action, detail)).await?
}

pub(crate) async fn users(State(shared): State<Arc<Shared>>, caller: Caller) -> Reply {
    caller.need(Role::Admin)?;
    let list: Vec<Json> = users_locked(&shared)?
        .list()?
        .into_iter()
        .map(|(name, role, tokens)| json!({"name": name, "role": role.name(), "tokens": tokens}))
        .collect();
    Ok(axum::Json(json!({"users": list})))
}

pub(crate) async fn add_user(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    caller.need(Role::Admin)?;
    let body = body_of(given)?;
    let name = text_field(&body, "username")
        .ok_or_else(|| ApiError::bad_request("send {\"username\", \"role\", \"password\"}"))?;
    let role = text_field(&body, "role")
        .as_deref()
        .and_then(Role::parse)
        .ok_or_else(|| ApiError::bad_request("\"role\" is admin, analyst or reader"))?;
    let password = body
        .get("password")
        .and_then(Json::as_str)
        .filter(|p| p.chars().count() >= 12)
        .ok_or_else(|| ApiError::bad_request("\"password\" has at least 12 characters"))?
        .to_string();
    {
        let shared = shared.clone();
        let name = name.clone();
        tokio::task::spawn_blocking(move || {
            users_locked(&shared)?
                .add(&name, role, &password)
                .map_err(ApiError::from)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    }
    audited(
        &shared,
        caller.name,
        "user.add",
        json!({"user": name, "role": role.name()}),
    )
    .await?;
    Ok(axum::Json(json!({"ok": true})))
}

pub(crate) async fn remove_user(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(name): UrlPath<String>,
) -> Reply {
    caller.need(Role::Admin)?;
    if name == caller.name {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "self",
            "an admin does not remove their own account here (another admin can)",
        ));
    }
    users_locked(&shared)?.remove(&name)?;
    audited(&shared, caller.name, "user.remove", json!({"user": name})).await?;
    Ok(axum::Json(json!({"ok": true})))
}

pub(crate) async fn new_token(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(name): UrlPath<String>,
) -> Reply {
    caller.need(Role::Admin)?;
    let token = users_locked(&shared)?.new_token(&name)?;
    audited(&shared, caller.name, "token.add", json!({"user": name})).await?;
    Ok(axum::Json(json!({"token": token})))
}

pub(crate) async fn audit_log(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> Reply {
    caller.need(Role::Admin)?;
    let limit: usize = q
        .get("limit")
        .map(|l| {
            l.parse()
                .map_err(|_| ApiError::bad_request(format!("limit is a whole number, not {l:?}")))
        })
        .transpose()?
        .unwrap_or(200);
    with_copilot(&shared, move |c, _| {
        let store = c
            .sessions()
            .ok_or_else(|| ApiError::internal("this server keeps no audit log"))?;
        let mut entries = store
            .audit_log()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        entries.reverse();
        entries.truncate(limit);
        Ok(axum::Json(json!({"entries": entries})))
    })
    .await?
}
