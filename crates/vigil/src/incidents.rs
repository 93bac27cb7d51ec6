//! `vigil incidents`: the incident queue, one incident's timeline, and verdicts.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, StringArray, TimestampNanosecondArray};
use arrow::record_batch::RecordBatch;
use serde_json::{Value as Json, json};
use vigil_detect::incident::{AlertFacts, Verdict};
use vigil_detect::state::{DetectionState, Suppression};
use vigil_schema::Catalog;
use vigil_server::http::verdict_word;
use vigil_store::Store;

use crate::cli::{IncidentsArgs, IncidentsCommand, OutputFormat};
use crate::lake::{self, LatestIncident, cell, text, times};
use crate::output::{print_rows, time_text};

pub fn run(data_dir: &Path, args: IncidentsArgs) -> Result<ExitCode> {
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match args.command {
            None => list(&store, args.severity, args.status, args.format).await,
            Some(IncidentsCommand::Show { number, format }) => show(&store, number, format).await,
            Some(IncidentsCommand::Set {
                number,
                status,
                classification,
                reason,
                comment,
                owner,
            }) => {
                let change = Change {
                    status,
                    classification,
                    reason,
                    comment,
                    owner,
                };
                set(&store, number, change).await
            }
        }
    })
}

fn additional(row: &RecordBatch) -> Json {
    cell(&text(row, "AdditionalData"), 0)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

fn joined(v: &Json) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn field(row: &RecordBatch, name: &str) -> String {
    cell(&text(row, name), 0).unwrap_or("").to_string()
}

fn time_field(row: &RecordBatch, name: &str) -> Option<i64> {
    times(row, name)[0]
}

async fn sorted_incidents(store: &Store) -> Result<Vec<LatestIncident>> {
    let ctx = store.session()?;
    let mut all: Vec<LatestIncident> = lake::latest_incidents(&ctx).await?.into_values().collect();
    all.sort_by_key(|i| {
        (
            std::cmp::Reverse(time_field(&i.row, "LastActivityTime")),
            std::cmp::Reverse(i.number),
        )
    });
    Ok(all)
}

async fn list(
    store: &Store,
    severity: Option<String>,
    status: Option<String>,
    format: OutputFormat,
) -> Result<ExitCode> {
    let header = [
        "Number",
        "Severity",
        "Status",
        "Title",
        "Alerts",
        "FirstActivity",
        "LastActivity",
        "Devices",
        "Users",
        "Tactics",
        "Classification",
    ];
    let mut rows = Vec::new();
    for inc in sorted_incidents(store).await? {
        let sev = field(&inc.row, "Severity");
        if severity
            .as_ref()
            .is_some_and(|s| !s.eq_ignore_ascii_case(&sev))
        {
            continue;
        }
        if status
            .as_ref()
            .is_some_and(|s| !s.eq_ignore_ascii_case(&inc.verdict.status))
        {
            continue;
        }
        let extra = additional(&inc.row);
        rows.push(vec![
            json!(inc.number),
            json!(sev),
            json!(inc.verdict.status),
            json!(field(&inc.row, "Title")),
            json!(inc.alerts.len()),
            json!(time_text(time_field(&inc.row, "FirstActivityTime"))),
            json!(time_text(time_field(&inc.row, "LastActivityTime"))),
            json!(joined(&extra["devices"])),
            json!(joined(&extra["users"])),
            json!(joined(&extra["tactics"])),
            json!(inc.verdict.classification),
        ]);
    }
    if rows.is_empty() && format == OutputFormat::Table {
        println!(
            "No incidents{}.",
            if severity.is_some() || status.is_some() {
                " match"
            } else {
                ""
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_rows(&header, &rows, format)?;
    Ok(ExitCode::SUCCESS)
}

async fn find(store: &Store, number: i64) -> Result<LatestIncident> {
    sorted_incidents(store)
        .await?
        .into_iter()
        .find(|i| i.number == number)
        .with_context(|| format!("no incident {number} (`vigil incidents` lists them)"))
}

fn quoted_list(ids: &[String]) -> String {
    ids.iter()
        .map(|i| format!("'{}'", i.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn show(store: &Store, number: i64, format: OutputFormat) -> Result<ExitCode> {
    let inc = find(store, number).await?;
    let ctx = store.session()?;
    let ids = quoted_list(&inc.alerts);
    let mut timeline: Vec<Json> = Vec::new();
    if !inc.alerts.is_empty() {
        let alerts = lake::batches(
            &ctx,
            &format!(
                "SELECT \"AlertId\", \"Timestamp\", \"Severity\", \"Title\", \"AttackTechniques\", \
                 \"_SourceFile\", \"_SourceRecord\" FROM \"AlertInfo\" WHERE \"AlertId\" IN ({ids}) \
                 ORDER BY \"Timestamp\", \"AlertId\""
            ),
        )
        .await?;
        let evidence = lake::batches(
            &ctx,
            &format!("SELECT * FROM \"AlertEvidence\" WHERE \"AlertId\" IN ({ids})"),
        )
        .await?;
        let mut entities: std::collections::HashMap<String, Vec<Json>> = Default::default();
        for b in &evidence {
            let id = text(b, "AlertId");
            let kind = text(b, "EntityType");
            let columns = [
                "DeviceName",
                "AccountDomain",
                "AccountName",
                "FileName",
                "FolderPath",
                "ProcessCommandLine",
                "SHA256",
                "RemoteIP",
                "RemoteUrl",
                "RegistryKey",
                "RegistryValueName",
                "RegistryValueData",
            ];
            let arrays: Vec<StringArray> = columns.iter().map(|c| text(b, c)).collect();
            for row in 0..b.num_rows() {
                let mut e = serde_json::Map::new();
                e.insert("EntityType".into(), json!(cell(&kind, row)));
                for (c, a) in columns.iter().zip(&arrays) {
                    if let Some(v) = cell(a, row) {
                        e.insert(c.to_string(), json!(v));
                    }
                }
                if let Some(i) = cell(&id, row) {
                    entities
                        .entry(i.to_string())
                        .or_default()
                        .push(Json::Object(e));
                }
            }
        }
        for b in &alerts {
            let cols: Vec<StringArray> = [
                "AlertId",
                "Severity",
                "Title",
                "AttackTechniques",
                "_SourceFile",
                "_SourceRecord",
            ]
            .iter()
            .map(|c| text(b, c))
            .collect();
            let t = times(b, "Timestamp");
            for (row, time) in t.iter().enumerate() {
                let id = cell(&cols[0], row).unwrap_or("").to_string();
                timeline.push(json!({
                    "Timestamp": time_text(*time),
                    "AlertId": id,
                    "Severity": cell(&cols[1], row),
                    "Title": cell(&cols[2], row),
                    "AttackTechniques": cell(&cols[3], row),
                    "Source": match (cell(&cols[4], row), cell(&cols[5], row)) {
                        (Some(f), Some(r)) => json!(format!("{f}#{r}")),
                        (Some(f), None) => json!(f),
                        _ => Json::Null,
                    },
                    "Entities": entities.remove(&id).unwrap_or_default(),
                }));
            }
        }
    }
    let extra = additional(&inc.row);
    let summary = json!({
        "IncidentNumber": inc.number,
        "IncidentName": field(&inc.row, "IncidentName"),
        "Title": field(&inc.row, "Title"),
        "Description": field(&inc.row, "Description"),
        "Severity": field(&inc.row, "Severity"),
        "Status": inc.verdict.status,
        "Classification": inc.verdict.classification,
        "ClassificationReason": inc.verdict.reason,
        "ClassificationComment": inc.verdict.comment,
        "Owner": inc.verdict.owner,
        "FirstActivityTime": time_text(time_field(&inc.row, "FirstActivityTime")),
        "LastActivityTime": time_text(time_field(&inc.row, "LastActivityTime")),
        "Tactics": extra["tactics"],
        "Techniques": extra["techniques"],
        "Devices": extra["devices"],
        "Users": extra["users"],
        "RemoteIPs": extra["ips"],
        "Alerts": timeline,
    });
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?,
        OutputFormat::Csv => {
            let header = ["Timestamp", "Severity", "Title", "AlertId", "Source"];
            let rows: Vec<Vec<Json>> = summary["Alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| header.iter().map(|h| a[*h].clone()).collect())
                .collect();
            drop(out);
            print_rows(&header, &rows, OutputFormat::Csv)?;
        }
        OutputFormat::Table => {
            let s = |k: &str| summary[k].as_str().unwrap_or("").to_string();
            writeln!(out, "Incident {}: {}", inc.number, s("Title"))?;
            writeln!(
                out,
                "  Severity {}   Status {}{}",
                s("Severity"),
                s("Status"),
                if inc.verdict.classification.is_empty() {
                    String::new()
                } else {
                    format!(
                        "   Classification {} ({})",
                        inc.verdict.classification, inc.verdict.reason
                    )
                }
            )?;
            writeln!(
                out,
                "  Activity {} to {}",
                s("FirstActivityTime"),
                s("LastActivityTime")
            )?;
            for (label, key) in [
                ("Tactics", "Tactics"),
                ("Techniques", "Techniques"),
                ("Devices", "Devices"),
                ("Users", "Users"),
                ("Remote IPs", "RemoteIPs"),
            ] {
                let v = joined(&summary[key]);
                if !v.is_empty() {
                    writeln!(out, "  {label}: {v}")?;
                }
            }
            if !inc.verdict.comment.is_empty() {
                writeln!(out, "  Comment: {}", inc.verdict.comment)?;
            }
            writeln!(out, "\nTimeline ({} alerts):", inc.alerts.len())?;
            for a in summary["Alerts"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  {}  {:<13} {}",
                    a["Timestamp"].as_str().unwrap_or(""),
                    a["Severity"].as_str().unwrap_or(""),
                    a["Title"].as_str().unwrap_or("")
                )?;
                for e in a["Entities"].as_array().into_iter().flatten() {
                    let kind = e["EntityType"].as_str().unwrap_or("");
                    let parts: Vec<String> = e
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| {
                            k.as_str() != "EntityType"
                                && !(kind != "Machine" && k.as_str() == "DeviceName")
                        })
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect();
                    writeln!(out, "      {kind:<13} {}", parts.join("  "))?;
                }
                if let Some(src) = a["Source"].as_str() {
                    writeln!(out, "      source        {src}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `vigil incidents set` (and the web app) change.
pub(crate) struct Change {
    pub status: Option<String>,
    pub classification: Option<String>,
    pub reason: Option<String>,
    pub comment: Option<String>,
    pub owner: Option<String>,
}

async fn set(store: &Store, number: i64, change: Change) -> Result<ExitCode> {
    let who = std::env::var("USER").unwrap_or_else(|_| "analyst".into());
    let (verdict, suppressed) = apply(store, number, change, &who).await?;
    println!(
        "Incident {number}: status {}{}.",
        verdict.status,
        if verdict.classification.is_empty() {
            String::new()
        } else {
            format!(", classification {}", verdict.classification)
        }
    );
    if suppressed > 0 {
        println!(
            "{suppressed} rule and entity pattern(s) suppressed: later hunts will not raise \
             these alerts again."
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes incident `number`'s new verdict (a new row of SecurityIncident, as `who`);
/// a false positive suppresses its rule and entity patterns. Returns the verdict and how
/// many patterns were suppressed.
pub(crate) async fn apply(
    store: &Store,
    number: i64,
    change: Change,
    who: &str,
) -> Result<(Verdict, usize)> {
    let inc = find(store, number).await?;
    let mut verdict = inc.verdict.clone();
    if let Some(c) = &change.classification {
        verdict.classification = match c.as_str() {
            "benign" => "BenignPositive".into(),
            other => verdict_word(other),
        };
        // A classification is given when an incident is closed.
        if change.status.is_none() {
            verdict.status = "Closed".into();
        }
    }
    if let Some(s) = &change.status {
        verdict.status = verdict_word(s);
    }
    if let Some(r) = &change.reason {
        verdict.reason = verdict_word(r);
    }
    if let Some(c) = change.comment {
        verdict.comment = c;
    }
    if let Some(o) = change.owner {
        verdict.owner = o;
    }
    let false_positive = verdict.classification == "FalsePositive";
    if false_positive && verdict.reason.is_empty() {
        bail!("a false-positive verdict needs its --reason (e.g. incorrect-alert-logic)");
    }
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let row = changed_row(&inc.row, &verdict, now, who)?;
    let table = Catalog::builtin()
        .table("SecurityIncident")
        .context("catalog")?;
    let mut writer = store.writer()?;
    writer.write(table, &row)?;
    writer.commit()?;
    let mut suppressed = 0;
    if false_positive {
        let state = DetectionState::open(&store.db_path()).map_err(anyhow::Error::msg)?;
        let ctx = store.session()?;
        let facts: Vec<AlertFacts> = lake::alert_facts(&ctx)
            .await?
            .into_iter()
            .filter(|a| inc.alerts.contains(&a.id))
            .collect();
        let mut patterns = std::collections::BTreeSet::new();
        for a in &facts {
            for d in &a.devices {
                let user = match a.users.as_slice() {
                    [one] => one.to_lowercase(),
                    _ => String::new(),
                };
                patterns.insert((a.rule_id.clone(), d.to_lowercase(), user));
            }
        }
        for (rule_id, device, user) in patterns {
            state
                .suppress(
                    &Suppression {
                        rule_id,
                        device,
                        user,
                        reason: verdict.reason.clone(),
                        comment: verdict.comment.clone(),
                        incident: number,
                    },
                    now,
                )
                .map_err(anyhow::Error::msg)?;
            suppressed += 1;
        }
    }
    Ok((verdict, suppressed))
}

/// A copy of an incident's latest row with the new verdict, as of `now`, in the
/// catalog's schema.
fn changed_row(row: &RecordBatch, v: &Verdict, now: i64, who: &str) -> Result<RecordBatch> {
    let table = Catalog::builtin()
        .table("SecurityIncident")
        .context("catalog")?;
    let schema = table.arrow_schema();
    let closed = v.status == "Closed";
    let owner = json!({ "assignedTo": v.owner }).to_string();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for f in schema.fields() {
        let stamp = || -> ArrayRef {
            Arc::new(TimestampNanosecondArray::from(vec![now]).with_timezone("UTC"))
        };
        let text = |s: &str| -> ArrayRef { Arc::new(StringArray::from(vec![s.to_string()])) };
        let column = match f.name().as_str() {
            "TimeGenerated" | "Timestamp" | "LastModifiedTime" => stamp(),
            "ClosedTime" if closed => stamp(),
            "Status" => text(&v.status),
            "Classification" => text(&v.classification),
            "ClassificationReason" => text(&v.reason),
            "ClassificationComment" => text(&v.comment),
            "Owner" => text(&owner),
            "ModifiedBy" => text(who),
            name => match row.column_by_name(name) {
                Some(c) => arrow::compute::cast(c, f.data_type())?,
                None => arrow::array::new_null_array(f.data_type(), 1),
            },
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}
