//! Asking (with answers streamed as server-sent events), sessions, pins and feedback,
//! promptbooks, skills, and MCP over HTTP.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use vigil_copilot::session::{Rating, SessionError, SessionInfo, Sessions};
use vigil_copilot::skill::{Inputs, SkillError};
use vigil_copilot::turn::Turn;
use vigil_copilot::{Copilot, CopilotError, Progress};

use super::{ApiError, Caller, Reply, Shared, audit, body_of, text_field, with_copilot};
use crate::Mcp;
use crate::users::Role;

/// A turn as the API and `vigil ask --format json` show it.
pub fn turn_json(session: &str, turn: &Turn) -> Json {
    json!({
        "session": session,
        "turn": turn.seq,
        "prompt": turn.prompt,
        "answer": turn.answer,
        "plan": turn.calls.iter().map(|c| &c.step).collect::<Vec<_>>(),
        "skill_calls": turn.calls,
        "evidence": turn.calls.iter().flat_map(|c| c.output.iter().flat_map(|o| o.evidence.iter())).collect::<Vec<_>>(),
        "pending": turn.pending,
        "warnings": turn.warnings,
        "follow_ups": turn.follow_ups(),
    })
}

fn copilot_error(e: CopilotError) -> ApiError {
    match e {
        CopilotError::Session(SessionError::NoSession(id)) => {
            ApiError::not_found(format!("there is no session {id}"))
        }
        CopilotError::Session(e @ SessionError::NoTurn(..)) => ApiError::not_found(e.to_string()),
        CopilotError::Skill(e @ (SkillError::BadInput(_) | SkillError::MissingInput { .. })) => {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_input", e.to_string())
        }
        CopilotError::Plan(e) => ApiError::new(StatusCode::BAD_REQUEST, "bad_input", e.to_string()),
        e => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_answered",
            e.to_string(),
        ),
    }
}

fn session_error(e: SessionError) -> ApiError {
    copilot_error(CopilotError::Session(e))
}

/// The copilot's session store.
fn store_of(c: &Copilot) -> Result<&Sessions, ApiError> {
    c.sessions()
        .ok_or_else(|| ApiError::internal("this server keeps no sessions"))
}

/// Who may make a change to a session.
enum May {
    /// Its owner only.
    Own,
    /// Anyone who may read it.
    Read,
}

/// Makes one change to session `id` as `who`, once they may.
async fn change_session(
    shared: &Arc<Shared>,
    who: String,
    id: String,
    may: May,
    change: impl FnOnce(&Sessions, &str, &str) -> Result<(), SessionError> + Send + 'static,
) -> Reply {
    with_copilot(shared, move |c, _| {
        match may {
            May::Own => owned(c, &id, &who)?,
            May::Read => readable(c, &id, &who)?,
        };
        change(store_of(c)?, &id, &who).map_err(session_error)?;
        Ok(axum::Json(json!({"ok": true})))
    })
    .await?
}

/// A session `who` may read: their own or one shared with them. Others' private
/// sessions are answered as if they did not exist.
fn readable(c: &Copilot, id: &str, who: &str) -> Result<SessionInfo, ApiError> {
    let store = store_of(c)?;
    match store.info(id) {
        Ok(info) if info.owner == who || info.shared => Ok(info),
        Ok(_) | Err(SessionError::NoSession(_)) => {
            Err(ApiError::not_found(format!("there is no session {id}")))
        }
        Err(e) => Err(session_error(e)),
    }
}

/// A session `who` owns.
fn owned(c: &Copilot, id: &str, who: &str) -> Result<SessionInfo, ApiError> {
    let info = readable(c, id, who)?;
    if info.owner != who {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("session {id} is {}'s; only they change it", info.owner),
        ));
    }
    Ok(info)
}

fn answer(
    c: &mut Copilot,
    rt: &tokio::runtime::Handle,
    who: &str,
    session: Option<String>,
    prompt: &str,
    observe: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<Json, ApiError> {
    if let Some(id) = &session {
        owned(c, id, who)?;
    }
    c.set_actor(who);
    let (id, turn) = rt
        .block_on(c.ask_observed(session.as_deref(), prompt, observe))
        .map_err(copilot_error)?;
    Ok(turn_json(&id, &turn))
}

fn event(name: &str, data: Json) -> Event {
    Event::default().event(name).data(data.to_string())
}

fn progress_event(p: Progress<'_>) -> Event {
    match p {
        Progress::Session(id) => event("session", json!({"session": id})),
        Progress::Step { index, step } => event(
            "step",
            json!({"index": index, "skill": step.skill, "inputs": step.inputs, "reason": step.reason, "prompt": step.prompt}),
        ),
        Progress::Call { index, call } => event("call", json!({"index": index, "call": call})),
    }
}

/// The answer's Markdown in pieces of a few lines, as a reader would take it in.
fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut piece = String::new();
    for line in text.split_inclusive('\n') {
        piece.push_str(line);
        if piece.len() >= 240 {
            out.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

pub(crate) async fn ask(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    headers: HeaderMap,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Result<Response, ApiError> {
    caller.need(Role::Analyst)?;
    let body = body_of(given)?;
    let prompt = text_field(&body, "prompt")
        .ok_or_else(|| ApiError::bad_request("send {\"prompt\": \"…\"}"))?;
    let session = text_field(&body, "session");
    let streaming = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    let who = caller.name;
    if !streaming {
        let reply = with_copilot(&shared, move |c, rt| {
            answer(c, rt, &who, session, &prompt, &mut |_| {})
        })
        .await??;
        return Ok(axum::Json(reply).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        let steps = tx.clone();
        let result = with_copilot(&shared, move |c, rt| {
            answer(c, rt, &who, session, &prompt, &mut |p| {
                let _ = steps.send(progress_event(p));
            })
        })
        .await;
        match result.and_then(|r| r) {
            Ok(reply) => {
                for piece in pieces(reply["answer"].as_str().unwrap_or_default()) {
                    let _ = tx.send(event("answer", json!({"text": piece})));
                }
                let _ = tx.send(event("done", reply));
            }
            Err(e) => {
                let _ = tx.send(event(
                    "error",
                    json!({"code": e.code, "message": e.message}),
                ));
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<Event, Infallible>(e), rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

pub(crate) async fn sessions(State(shared): State<Arc<Shared>>, caller: Caller) -> Reply {
    let who = caller.name;
    let list = with_copilot(&shared, move |c, _| {
        let store = store_of(c)?;
        let all = store.list().map_err(session_error)?;
        Ok::<_, ApiError>(
            all.into_iter()
                .filter(|s| s.owner == who || s.shared)
                .collect::<Vec<_>>(),
        )
    })
    .await??;
    Ok(axum::Json(json!({"sessions": list})))
}

pub(crate) async fn session(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
) -> Reply {
    let who = caller.name;
    with_copilot(&shared, move |c, _| {
        readable(c, &id, &who)?;
        let store = store_of(c)?;
        let record = store.record(&id).map_err(session_error)?;
        let turns: Vec<Json> = record.turns.iter().map(|t| turn_json(&id, t)).collect();
        Ok(axum::Json(json!({
            "info": record.info,
            "turns": turns,
            "pins": record.pins,
            "feedback": record.feedback,
        })))
    })
    .await?
}

pub(crate) async fn share(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    let body = body_of(given)?;
    let on = body
        .get("shared")
        .and_then(Json::as_bool)
        .ok_or_else(|| ApiError::bad_request("send {\"shared\": true} or false"))?;
    change_session(&shared, caller.name, id, May::Own, move |store, id, who| {
        store.set_shared(id, on, who, chrono::Utc::now())
    })
    .await
}

pub(crate) async fn pin(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath((id, n)): UrlPath<(String, u32)>,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    let body = body_of(given)?;
    let note = text_field(&body, "note").unwrap_or_default();
    change_session(&shared, caller.name, id, May::Own, move |store, id, who| {
        store.pin(id, n, &note, who, chrono::Utc::now())
    })
    .await
}

pub(crate) async fn feedback(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath((id, n)): UrlPath<(String, u32)>,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    let body = body_of(given)?;
    let rating = text_field(&body, "rating")
        .and_then(|r| Rating::parse(&r))
        .ok_or_else(|| {
            ApiError::bad_request("\"rating\" is looks_right, needs_improvement or inappropriate")
        })?;
    let comment = text_field(&body, "comment").unwrap_or_default();
    change_session(
        &shared,
        caller.name,
        id,
        May::Read,
        move |store, id, who| store.feedback(id, n, rating, &comment, who, chrono::Utc::now()),
    )
    .await
}

pub(crate) async fn pins(State(shared): State<Arc<Shared>>, caller: Caller) -> Reply {
    let who = caller.name;
    with_copilot(&shared, move |c, _| {
        let store = store_of(c)?;
        let pins = store.pinboard(&who).map_err(session_error)?;
        Ok(axum::Json(json!({"pins": pins})))
    })
    .await?
}

pub(crate) async fn promptbooks(State(shared): State<Arc<Shared>>, _caller: Caller) -> Reply {
    Ok(axum::Json(
        json!({"promptbooks": shared.backend.promptbooks()}),
    ))
}

pub(crate) async fn run_promptbook(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(name): UrlPath<String>,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    caller.need(Role::Analyst)?;
    let body = body_of(given)?;
    let book = shared
        .backend
        .promptbooks()
        .into_iter()
        .find(|b| b.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| ApiError::not_found(format!("there is no promptbook {name:?}")))?;
    let mut values = std::collections::BTreeMap::new();
    if let Some(given) = body.get("inputs").and_then(Json::as_object) {
        for (k, v) in given {
            values.insert(
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            );
        }
    }
    let session = text_field(&body, "session");
    let who = caller.name;
    with_copilot(&shared, move |c, rt| {
        if let Some(id) = &session {
            owned(c, id, &who)?;
        }
        c.set_actor(who.as_str());
        let (id, turns) = rt
            .block_on(c.run_promptbook(&book, &values, session.as_deref()))
            .map_err(copilot_error)?;
        let turns: Vec<Json> = turns.iter().map(|t| turn_json(&id, t)).collect();
        Ok(axum::Json(json!({"session": id, "turns": turns})))
    })
    .await?
}

pub(crate) async fn skills(State(shared): State<Arc<Shared>>, _caller: Caller) -> Reply {
    let specs = with_copilot(&shared, |c, _| {
        serde_json::to_value(c.registry().specs().collect::<Vec<_>>()).unwrap_or_default()
    })
    .await?;
    Ok(axum::Json(json!({"skills": specs})))
}

pub(crate) async fn invoke(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(name): UrlPath<String>,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    caller.need(Role::Analyst)?;
    let body = body_of(given)?;
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
    let who = caller.name;
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
        audit(
            c,
            &who,
            "skill.run",
            json!({"skill": name, "inputs": inputs}),
        )?;
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

/// MCP's streamable HTTP transport, for single JSON-RPC messages answered with JSON.
pub(crate) async fn mcp(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    body: String,
) -> Result<Response, ApiError> {
    caller.need(Role::Analyst)?;
    let who = caller.name;
    let answer = with_copilot(&shared, move |c, rt| {
        let message: Json = serde_json::from_str(&body).unwrap_or_default();
        if message["method"] == "tools/call" {
            audit(c, &who, "mcp.tools_call", message["params"].clone())?;
        }
        Ok::<_, ApiError>(rt.block_on(Mcp::new(c).handle_line(&body)))
    })
    .await??;
    Ok(match answer {
        Some(reply) => axum::Json(reply).into_response(),
        // A notification or a response from the client: accepted, nothing to say.
        None => StatusCode::ACCEPTED.into_response(),
    })
}
