//! Logging in and out from a browser.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::{ApiError, Caller, Reply, Shared, audit, body_of, cookie, text_field, with_copilot};
use crate::users::WEB_SESSION_SECONDS;

/// The login cookie.
pub(crate) const COOKIE: &str = "vigil_session";

fn set_cookie(shared: &Shared, value: &str, max_age: u64) -> String {
    let secure = if shared.options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

pub(crate) async fn login(
    State(shared): State<Arc<Shared>>,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = body_of(given)?;
    let (Some(name), Some(password)) = (
        text_field(&body, "username"),
        body.get("password")
            .and_then(Json::as_str)
            .map(str::to_string),
    ) else {
        return Err(ApiError::bad_request(
            "send {\"username\": \"…\", \"password\": \"…\"}",
        ));
    };
    // Argon2 takes a while on purpose: off the async threads.
    let checked = {
        let shared = shared.clone();
        let name = name.clone();
        tokio::task::spawn_blocking(move || {
            let users = shared
                .users
                .lock()
                .map_err(|_| ApiError::internal("the account store failed"))?;
            if !users.check_password(&name, &password).unwrap_or(false) {
                return Ok(None);
            }
            Ok::<_, ApiError>(Some(users.start_web_session(&name)?))
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??
    };
    let outcome = if checked.is_some() {
        "login"
    } else {
        "login.failed"
    };
    let who = name.clone();
    with_copilot(&shared, move |c, _| {
        audit(c, &who, outcome, json!({"via": "browser"}))
    })
    .await??;
    let Some((secret, web)) = checked else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_login",
            "the name or the password is wrong",
        ));
    };
    let body = json!({"user": web.user, "role": web.role.name(), "csrf": web.csrf});
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&shared, &secret, WEB_SESSION_SECONDS),
        )],
        axum::Json(body),
    )
        .into_response())
}

pub(crate) async fn logout(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = cookie(&headers, COOKIE) {
        let users = shared
            .users
            .lock()
            .map_err(|_| ApiError::internal("the account store failed"))?;
        users.end_web_session(&secret)?;
    }
    let who = caller.name.clone();
    with_copilot(&shared, move |c, _| audit(c, &who, "logout", json!({}))).await??;
    Ok((
        [(header::SET_COOKIE, set_cookie(&shared, "", 0))],
        axum::Json(json!({"ok": true})),
    )
        .into_response())
}

pub(crate) async fn me(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    headers: HeaderMap,
) -> Reply {
    let csrf = match cookie(&headers, COOKIE) {
        Some(secret) if headers.get(header::AUTHORIZATION).is_none() => shared
            .users
            .lock()
            .map_err(|_| ApiError::internal("the account store failed"))?
            .web_session(&secret)?
            .map(|w| w.csrf),
        _ => None,
    };
    Ok(axum::Json(
        json!({"user": caller.name, "role": caller.role.name(), "csrf": csrf}),
    ))
}
