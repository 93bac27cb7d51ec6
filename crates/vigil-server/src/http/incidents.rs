//! The incident queue, one incident, its report, and changes to its verdict.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value as Json, json};
use sha2::Digest;
use vigil_copilot::Copilot;
use vigil_copilot::report::{self, Audience};
use vigil_copilot::skill::Inputs;
use vigil_copilot::skills::IncidentFacts;

use super::{
    ApiError, Caller, IncidentChange, Reply, Shared, audit, body_of, lake_changed, text_field,
    with_copilot,
};
use crate::users::Role;

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    _caller: Caller,
    Query(filter): Query<BTreeMap<String, String>>,
) -> Reply {
    let inputs: Inputs = filter
        .into_iter()
        .filter(|(k, v)| matches!(k.as_str(), "severity" | "status" | "limit") && !v.is_empty())
        .collect();
    with_copilot(&shared, move |c, rt| {
        match rt.block_on(c.run_skill("list_incidents", &inputs)) {
            Ok(o) => Ok(axum::Json(
                json!({"incidents": o.tables.first(), "evidence": o.evidence}),
            )),
            Err(e) => Err(ApiError::bad_request(e.to_string())),
        }
    })
    .await?
}

fn number_of(text: &str) -> Result<u64, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "an incident number is a whole number, not {text:?}"
        ))
    })
}

fn gather(
    c: &Copilot,
    rt: &tokio::runtime::Handle,
    number: u64,
) -> Result<IncidentFacts, ApiError> {
    rt.block_on(IncidentFacts::gather(c.lake(), number))
        .map_err(|e| ApiError::not_found(e.to_string()))
}

fn facts_json(f: &IncidentFacts) -> Json {
    json!({
        "number": f.number,
        "title": f.title,
        "severity": f.severity,
        "status": f.status,
        "classification": f.classification,
        "first": f.first,
        "last": f.last,
        "alert_ids": f.alert_ids,
        "tactics": f.tactics,
        "techniques": f.techniques,
        "devices": f.devices,
        "users": f.users,
        "ips": f.ips,
        "alerts": f.alerts.as_ref().map(|q| &q.table),
        "evidence": f.evidence.as_ref().map(|q| &q.table),
        "queries": [Some(&f.incident.evidence), f.alerts.as_ref().map(|q| &q.evidence), f.evidence.as_ref().map(|q| &q.evidence)],
        "report_html": format!("/api/incidents/{}/report", f.number),
    })
}

pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    _caller: Caller,
    UrlPath(n): UrlPath<String>,
) -> Reply {
    let number = number_of(&n)?;
    with_copilot(&shared, move |c, rt| {
        Ok(axum::Json(facts_json(&gather(c, rt, number)?)))
    })
    .await?
}

/// The report as a page of its own. Its chart is drawn by a script inside the page, so
/// the page's policy allows exactly that script (by its hash) and nothing else.
pub(crate) async fn report(
    State(shared): State<Arc<Shared>>,
    _caller: Caller,
    UrlPath(n): UrlPath<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let number = number_of(&n)?;
    let audience = q
        .get("audience")
        .map(|a| {
            Audience::parse(a).ok_or_else(|| {
                ApiError::bad_request(format!("the audience is executive or technical, not {a:?}"))
            })
        })
        .transpose()?
        .unwrap_or(Audience::Technical);
    let html = with_copilot(&shared, move |c, rt| {
        Ok::<_, ApiError>(report::html(&gather(c, rt, number)?, audience))
    })
    .await??;
    let mut hashes = String::new();
    for script in html.split("<script>").skip(1) {
        if let Some((body, _)) = script.split_once("</script>") {
            let digest = sha2::Sha256::digest(body.as_bytes());
            let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
            hashes.push_str(&format!(" 'sha256-{b64}'"));
        }
    }
    let policy = format!(
        "default-src 'none'; script-src{}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        if hashes.is_empty() {
            " 'none'"
        } else {
            &hashes
        }
    );
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    if let Ok(v) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(response)
}

/// A verdict word (status, classification, reason) as the incident table keeps it:
/// `true-positive`, `true_positive` and `true positive` are all `TruePositive`.
pub fn verdict_word(text: &str) -> String {
    text.split(['-', '_', ' '])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub(crate) async fn change(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    UrlPath(n): UrlPath<String>,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    caller.need(Role::Analyst)?;
    let number = number_of(&n)?;
    let body = body_of(given)?;
    let change = IncidentChange {
        status: text_field(&body, "status").map(|s| verdict_word(&s)),
        classification: text_field(&body, "classification").map(|s| verdict_word(&s)),
        reason: text_field(&body, "reason"),
        comment: text_field(&body, "comment"),
    };
    if let Some(s) = &change.status
        && !matches!(s.as_str(), "New" | "Active" | "Closed")
    {
        return Err(ApiError::bad_request(format!(
            "the status is New, Active or Closed, not {s:?}"
        )));
    }
    if let Some(k) = &change.classification
        && !matches!(
            k.as_str(),
            "TruePositive" | "BenignPositive" | "FalsePositive" | "Undetermined"
        )
    {
        return Err(ApiError::bad_request(format!(
            "the classification is TruePositive, BenignPositive, FalsePositive or Undetermined, not {k:?}"
        )));
    }
    if change.status.is_none() && change.classification.is_none() && change.comment.is_none() {
        return Err(ApiError::bad_request(
            "send a \"status\", a \"classification\" or a \"comment\"",
        ));
    }
    let backend = shared.backend.clone();
    let who = caller.name;
    let said = with_copilot(&shared, move |c, rt| {
        // Only an incident that exists changes.
        gather(c, rt, number)?;
        let said = backend
            .set_incident(rt, number, &change, &who)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_changed", e))?;
        audit(
            c,
            &who,
            "incident.set",
            json!({"incident": number, "status": change.status, "classification": change.classification, "reason": change.reason}),
        )?;
        Ok::<_, ApiError>(said)
    })
    .await??;
    // A copilot reads the lake as it was when it opened: the next one to answer opens
    // it again.
    lake_changed(&shared);
    let mut shown = with_copilot(&shared, move |c, rt| {
        gather(c, rt, number).map(|f| facts_json(&f))
    })
    .await??;
    shown["changed"] = json!(said);
    Ok(axum::Json(shown))
}
