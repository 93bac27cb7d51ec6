//! Reading detection results back from the lake: alert ids, alerts with their
//! entities, and the latest version of each incident.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use arrow::array::{Array, StringArray, TimestampNanosecondArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use vigil_detect::alert::{Entity, EntityKind, Level};
use vigil_detect::incident::{AlertFacts, Verdict};

pub async fn batches(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(sql).await?.collect().await?)
}

/// A column as text (null when the batch lacks it).
pub fn text(batch: &RecordBatch, name: &str) -> StringArray {
    batch
        .column_by_name(name)
        .and_then(|c| cast(c, &DataType::Utf8).ok())
        .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned())
        .unwrap_or_else(|| StringArray::new_null(batch.num_rows()))
}

pub fn times(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let Some(a) = batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
    else {
        return vec![None; batch.num_rows()];
    };
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

pub fn cell(a: &StringArray, row: usize) -> Option<&str> {
    (a.is_valid(row) && !a.value(row).is_empty()).then(|| a.value(row))
}

/// The first column of a query's result, as text.
pub async fn texts(ctx: &SessionContext, sql: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for b in batches(ctx, sql).await? {
        if b.num_columns() == 0 {
            continue;
        }
        let name = b.schema().field(0).name().clone();
        let a = text(&b, &name);
        out.extend((0..b.num_rows()).filter_map(|r| cell(&a, r).map(str::to_string)));
    }
    Ok(out)
}

fn strings(json: &serde_json::Value) -> Vec<String> {
    json.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn level_of_severity(severity: &str) -> Level {
    match severity {
        "High" => Level::High,
        "Medium" => Level::Medium,
        "Low" => Level::Low,
        _ => Level::Informational,
    }
}

/// Every alert in the lake with what correlation needs: AlertInfo for the alert,
/// AlertEvidence for its entities.
pub async fn alert_facts(ctx: &SessionContext) -> Result<Vec<AlertFacts>> {
    let mut alerts: BTreeMap<String, AlertFacts> = BTreeMap::new();
    for b in batches(
        ctx,
        "SELECT \"AlertId\", \"Timestamp\", \"Title\", \"Severity\", \"Category\", \
         \"AttackTechniques\", \"AdditionalFields\" FROM \"AlertInfo\"",
    )
    .await?
    {
        let (id, title, severity, category) = (
            text(&b, "AlertId"),
            text(&b, "Title"),
            text(&b, "Severity"),
            text(&b, "Category"),
        );
        let (techniques, extra) = (text(&b, "AttackTechniques"), text(&b, "AdditionalFields"));
        let time = times(&b, "Timestamp");
        for (row, at) in time.iter().enumerate() {
            let Some(alert_id) = cell(&id, row) else {
                continue;
            };
            let extra: serde_json::Value = cell(&extra, row)
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default();
            let level = extra["RuleLevel"]
                .as_str()
                .and_then(Level::parse)
                .unwrap_or_else(|| level_of_severity(cell(&severity, row).unwrap_or("")));
            let mut tactics = strings(&extra["Tactics"]);
            if tactics.is_empty()
                && let Some(c) = cell(&category, row)
                && vigil_detect::incident::tactic_names().any(|t| t == c)
            {
                tactics.push(c.to_string());
            }
            let techniques = cell(&techniques, row)
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .map(|v| strings(&v))
                .unwrap_or_default();
            alerts.insert(
                alert_id.to_string(),
                AlertFacts {
                    id: alert_id.to_string(),
                    time: at.unwrap_or(0),
                    title: cell(&title, row).unwrap_or("").to_string(),
                    rule_id: extra["RuleId"]
                        .as_str()
                        .unwrap_or(cell(&title, row).unwrap_or(""))
                        .to_string(),
                    level,
                    tactics,
                    techniques,
                    devices: Vec::new(),
                    users: Vec::new(),
                    ips: Vec::new(),
                    keys: Vec::new(),
                },
            );
        }
    }
    const EVIDENCE: [&str; 6] = [
        "DeviceName",
        "AccountName",
        "AccountDomain",
        "RemoteIP",
        "SHA256",
        "RemoteUrl",
    ];
    let sql = format!(
        "SELECT \"AlertId\", \"EntityType\", {} FROM \"AlertEvidence\"",
        EVIDENCE.map(|c| format!("\"{c}\"")).join(", ")
    );
    for b in batches(ctx, &sql).await? {
        let (ids, kinds) = (text(&b, "AlertId"), text(&b, "EntityType"));
        let cols: Vec<StringArray> = EVIDENCE.iter().map(|c| text(&b, c)).collect();
        for row in 0..b.num_rows() {
            let alert = cell(&ids, row).and_then(|id| alerts.get_mut(id));
            let kind = cell(&kinds, row).and_then(EntityKind::parse);
            let (Some(alert), Some(kind)) = (alert, kind) else {
                continue;
            };
            let columns = EVIDENCE
                .iter()
                .zip(&cols)
                .filter_map(|(name, a)| cell(a, row).map(|v| (*name, v.to_string())))
                .collect();
            alert.add_entity(&Entity {
                kind,
                role: "",
                columns,
            });
        }
    }
    Ok(alerts.into_values().collect())
}

/// The latest version of an incident.
pub struct LatestIncident {
    pub number: i64,
    pub alerts: Vec<String>,
    pub verdict: Verdict,
    /// The row itself (one row), to write a changed copy of.
    pub row: RecordBatch,
}

/// The latest row of each incident in SecurityIncident, by IncidentName.
pub async fn latest_incidents(ctx: &SessionContext) -> Result<HashMap<String, LatestIncident>> {
    let mut out: HashMap<String, (i64, LatestIncident)> = HashMap::new();
    for b in batches(ctx, "SELECT * FROM \"SecurityIncident\"").await? {
        let name = text(&b, "IncidentName");
        let number = text(&b, "IncidentNumber");
        let alerts = text(&b, "AlertIds");
        let (status, class, reason, comment, owner) = (
            text(&b, "Status"),
            text(&b, "Classification"),
            text(&b, "ClassificationReason"),
            text(&b, "ClassificationComment"),
            text(&b, "Owner"),
        );
        let modified = times(&b, "TimeGenerated");
        for (row, at) in modified.iter().enumerate() {
            let Some(n) = cell(&name, row) else { continue };
            let t = at.unwrap_or(0);
            if out.get(n).is_some_and(|(seen, _)| *seen > t) {
                continue;
            }
            let owner_name = cell(&owner, row)
                .and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok())
                .and_then(|o| o["assignedTo"].as_str().map(str::to_string))
                .unwrap_or_default();
            let latest = LatestIncident {
                number: cell(&number, row).and_then(|v| v.parse().ok()).unwrap_or(0),
                alerts: cell(&alerts, row)
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                    .map(|v| strings(&v))
                    .unwrap_or_default(),
                verdict: Verdict {
                    status: cell(&status, row).unwrap_or("New").to_string(),
                    classification: cell(&class, row).unwrap_or("").to_string(),
                    reason: cell(&reason, row).unwrap_or("").to_string(),
                    comment: cell(&comment, row).unwrap_or("").to_string(),
                    owner: owner_name,
                },
                row: b.slice(row, 1),
            };
            out.insert(n.to_string(), (t, latest));
        }
    }
    Ok(out.into_iter().map(|(k, (_, v))| (k, v)).collect())
}
