//! KQL over the lake, the table catalog, and files uploaded into the lake.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde_json::{Value as Json, json};

use super::{ApiError, Caller, Reply, Shared, audit, body_of, lake_changed, with_copilot};
use crate::users::Role;

/// The chart a query asks for with its last operator, `render KIND`.
fn render_of(kql: &str) -> Option<String> {
    let last = kql.rsplit('|').next()?.trim();
    let mut words = last.split_whitespace();
    if words.next()? != "render" {
        return None;
    }
    words.next().map(str::to_ascii_lowercase)
}

/// A column's type as its values show it: `long`, `real`, `bool`, `datetime`, `string`,
/// `dynamic` (or `null` when every value is).
fn type_of(rows: &[Vec<Json>], i: usize) -> &'static str {
    let Some(v) = rows.iter().filter_map(|r| r.get(i)).find(|v| !v.is_null()) else {
        return "null";
    };
    match v {
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_f64() => "real",
        Json::Number(_) => "long",
        Json::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => "datetime",
        Json::String(_) => "string",
        _ => "dynamic",
    }
}

pub(crate) async fn query(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    given: Result<axum::Json<Json>, JsonRejection>,
) -> Reply {
    caller.need(Role::Analyst)?;
    let body = body_of(given)?;
    let kql = body
        .get("query")
        .and_then(Json::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("send {\"query\": \"KQL\"}"))?
        .to_string();
    let who = caller.name;
    with_copilot(&shared, move |c, rt| {
        audit(c, &who, "query", json!({"query": kql}))?;
        let started = std::time::Instant::now();
        match rt.block_on(c.lake().query("Query", &kql)) {
            Ok(r) => {
                let types: Vec<&str> = (0..r.table.columns.len())
                    .map(|i| type_of(&r.table.rows, i))
                    .collect();
                Ok(axum::Json(json!({
                    "columns": r.table.columns,
                    "types": types,
                    "rows": r.table.rows,
                    "evidence": [r.evidence],
                    "render": render_of(&kql).map(|kind| json!({"kind": kind})),
                    "millis": started.elapsed().as_millis() as u64,
                })))
            }
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                e.to_string(),
            )),
        }
    })
    .await?
}

pub(crate) async fn tables(_caller: Caller) -> Reply {
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

/// A file name safe to write: its last component, of ordinary characters.
fn safe_name(given: &str) -> Option<String> {
    let last = given.rsplit(['/', '\\']).next()?.trim();
    let clean: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    (!clean.is_empty() && !clean.starts_with('.')).then_some(clean)
}

/// Reads an uploaded file into the lake: the body is the file, `name` its name (its
/// extension helps tell the format), `table` names the catalog table of rows already in
/// one's shape.
pub(crate) async fn ingest(
    State(shared): State<Arc<Shared>>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
    given: Result<Bytes, BytesRejection>,
) -> Reply {
    caller.need(Role::Analyst)?;
    let bytes = given.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the file is larger than this server takes ({} MiB; see --max-upload-mb)",
                    shared.options.max_upload_bytes >> 20
                ),
            )
        } else {
            ApiError::bad_request(e.body_text())
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty: send the file's bytes",
        ));
    }
    let name = q
        .get("name")
        .and_then(|n| safe_name(n))
        .ok_or_else(|| ApiError::bad_request("name the file: /api/ingest?name=Security.evtx"))?;
    let table = q.get("table").cloned().filter(|t| !t.is_empty());
    let dir = shared
        .backend
        .data_dir()
        .join("uploads")
        .join(crate::users::random_hex(8)?);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", dir.display())))?;
    let file = dir.join(&name);
    std::fs::write(&file, &bytes)
        .map_err(|e| ApiError::internal(format!("writing {}: {e}", file.display())))?;
    let backend = shared.backend.clone();
    let who = caller.name;
    let size = bytes.len();
    let summary = with_copilot(&shared, move |c, rt| {
        let result = backend.ingest(rt, &file, table.as_deref());
        audit(
            c,
            &who,
            "ingest",
            json!({"file": name, "bytes": size, "table": table, "ok": result.is_ok()}),
        )?;
        result.map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_ingested", e))
    })
    .await?;
    // Whatever was written before a failure is in the lake too.
    lake_changed(&shared);
    Ok(axum::Json(summary?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_s_chart_and_column_types_are_read_off_it() {
        assert_eq!(
            render_of("T | summarize count() by bin(Timestamp, 1h) | render timechart"),
            Some("timechart".into())
        );
        assert_eq!(render_of("T | take 5"), None);
        let rows = vec![
            vec![
                Json::Null,
                json!("2026-03-10T00:00:00Z"),
                json!(3),
                json!("pc"),
            ],
            vec![
                json!(true),
                json!("2026-03-11T00:00:00Z"),
                json!(4),
                json!("pc2"),
            ],
        ];
        let types: Vec<&str> = (0..4).map(|i| type_of(&rows, i)).collect();
        assert_eq!(types, ["bool", "datetime", "long", "string"]);
    }

    #[test]
    fn uploaded_names_lose_their_folders_and_odd_characters() {
        assert_eq!(safe_name("../../etc/passwd"), Some("passwd".into()));
        assert_eq!(
            safe_name("C:\\logs\\Sec urity.evtx"),
            Some("Sec_urity.evtx".into())
        );
        assert_eq!(safe_name(".hidden"), None);
        assert_eq!(safe_name(""), None);
    }
}
