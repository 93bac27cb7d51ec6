//! Alerts: what a rule's match becomes, in the `AlertInfo` and `AlertEvidence` tables.
//!
//! One alert is raised per matching row. Its id is derived from the rule and the row's
//! source record, so hunting the same data again gives the same ids and nothing is
//! stored twice. The evidence lists the entities of the row (device, users, process,
//! parent process, file, remote address, URL, registry value) the way Defender XDR
//! lists them, and every evidence row keeps the source file and record it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use arrow::array::{Array, StringArray, TimestampNanosecondArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use sha2::{Digest, Sha256};
use vigil_ingest::rows::TableRows;
use vigil_schema::{Catalog, SOURCE_FILE_COLUMN, SOURCE_RECORD_COLUMN};

use crate::rule::Rule;

/// A rule's `level`, in rising order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "informational" | "info" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// The alert severity Defender XDR and Sentinel use (they have no "critical").
    pub fn severity(self) -> &'static str {
        match self {
            Level::Informational => "Informational",
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High | Level::Critical => "High",
        }
    }

    pub fn all() -> [Level; 5] {
        [
            Level::Informational,
            Level::Low,
            Level::Medium,
            Level::High,
            Level::Critical,
        ]
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The ATT&CK tactics in kill-chain order, as Sigma tags and as Defender names them.
pub const TACTICS: [(&str, &str); 14] = [
    ("reconnaissance", "Reconnaissance"),
    ("resource-development", "ResourceDevelopment"),
    ("initial-access", "InitialAccess"),
    ("execution", "Execution"),
    ("persistence", "Persistence"),
    ("privilege-escalation", "PrivilegeEscalation"),
    ("defense-evasion", "DefenseEvasion"),
    ("credential-access", "CredentialAccess"),
    ("discovery", "Discovery"),
    ("lateral-movement", "LateralMovement"),
    ("collection", "Collection"),
    ("command-and-control", "CommandAndControl"),
    ("exfiltration", "Exfiltration"),
    ("impact", "Impact"),
];

/// The position of a tactic (Defender's name) in the kill chain.
pub fn tactic_rank(name: &str) -> usize {
    TACTICS
        .iter()
        .position(|(_, n)| *n == name)
        .unwrap_or(TACTICS.len())
}

/// What an alert needs to know about the rule that raised it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleInfo {
    /// The rule's `id`, or its file and document when it has none.
    pub id: String,
    pub title: String,
    pub level: Level,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub file: PathBuf,
    pub table: String,
    /// The KQL that finds the same rows, when the rule can be written as KQL.
    pub query: Option<String>,
}

impl RuleInfo {
    pub fn of(rule: &Rule, table: &str, query: Option<String>) -> RuleInfo {
        let mut tactics = Vec::new();
        let mut techniques = Vec::new();
        for tag in &rule.tags {
            let Some(name) = tag.strip_prefix("attack.") else {
                continue;
            };
            let name = name.to_ascii_lowercase().replace('_', "-");
            if let Some((_, t)) = TACTICS.iter().find(|(tag, _)| *tag == name) {
                tactics.push(t.to_string());
            } else if name.starts_with('t') && name[1..].starts_with(|c: char| c.is_ascii_digit()) {
                techniques.push(name.to_ascii_uppercase());
            }
        }
        tactics.sort_by_key(|t| tactic_rank(t));
        tactics.dedup();
        RuleInfo {
            id: rule
                .id
                .clone()
                .unwrap_or_else(|| format!("{}#{}", rule.file.display(), rule.document + 1)),
            title: rule.title.clone(),
            level: rule
                .level
                .as_deref()
                .and_then(Level::parse)
                .unwrap_or(Level::Medium),
            tactics,
            techniques,
            file: rule.file.clone(),
            table: table.to_string(),
            query,
        }
    }
}

/// A kind of entity, named as in `AlertEvidence.EntityType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityKind {
    Machine,
    User,
    Process,
    File,
    Ip,
    Url,
    RegistryValue,
}

impl EntityKind {
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Machine => "Machine",
            EntityKind::User => "User",
            EntityKind::Process => "Process",
            EntityKind::File => "File",
            EntityKind::Ip => "Ip",
            EntityKind::Url => "Url",
            EntityKind::RegistryValue => "RegistryValue",
        }
    }

    pub fn parse(name: &str) -> Option<EntityKind> {
        [
            EntityKind::Machine,
            EntityKind::User,
            EntityKind::Process,
            EntityKind::File,
            EntityKind::Ip,
            EntityKind::Url,
            EntityKind::RegistryValue,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// One entity of an alert: its kind, role, and the evidence columns that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub kind: EntityKind,
    /// `Impacted` for the device and users, `Related` for the rest.
    pub role: &'static str,
    pub columns: BTreeMap<&'static str, String>,
}

impl Entity {
    /// A short, case-folded key naming the entity, for grouping alerts.
    pub fn key(&self) -> Option<String> {
        let get = |c: &str| self.columns.get(c).map(|v| v.to_lowercase());
        match self.kind {
            EntityKind::Machine => get("DeviceName").map(|d| format!("device:{d}")),
            EntityKind::User => {
                let name = get("AccountName")?;
                let domain = get("AccountDomain").unwrap_or_default();
                Some(format!("user:{domain}\\{name}"))
            }
            EntityKind::Ip => get("RemoteIP").map(|ip| format!("ip:{ip}")),
            EntityKind::Process => None,
            EntityKind::File => get("SHA256").map(|h| format!("file:{h}")),
            EntityKind::Url => get("RemoteUrl").map(|u| format!("url:{u}")),
            EntityKind::RegistryValue => None,
        }
    }
}

/// An alert raised by one rule on one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: String,
    /// Nanoseconds since the Unix epoch (the row's `Timestamp`).
    pub time: i64,
    pub rule: usize,
    pub entities: Vec<Entity>,
    pub source_table: String,
    pub source_file: Option<String>,
    pub source_record: Option<i64>,
}

impl Alert {
    pub fn device(&self) -> Option<&str> {
        self.entity_value(EntityKind::Machine, "DeviceName")
    }

    pub fn entity_value(&self, kind: EntityKind, column: &str) -> Option<&str> {
        self.entities
            .iter()
            .filter(|e| e.kind == kind)
            .find_map(|e| e.columns.get(column).map(String::as_str))
    }
}

/// Accounts that are the system itself, not a person: they do not tie alerts together.
pub fn is_service_account(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    n.is_empty()
        || n == "-"
        || n.ends_with('$')
        || matches!(
            n.as_str(),
            "system" | "local service" | "network service" | "anonymous logon" | "localsystem"
        )
}

/// Text columns of a batch, looked up by name and cast once.
struct Columns<'a> {
    batch: &'a RecordBatch,
    cache: BTreeMap<&'static str, Option<StringArray>>,
}

impl Columns<'_> {
    fn get(&mut self, name: &'static str, row: usize) -> Option<String> {
        let batch = self.batch;
        let array = self.cache.entry(name).or_insert_with(|| {
            let c = batch.column_by_name(name)?;
            let text = cast(c, &DataType::Utf8).ok()?;
            text.as_any().downcast_ref::<StringArray>().cloned()
        });
        let array = array.as_ref()?;
        (array.is_valid(row) && !array.value(row).trim().is_empty())
            .then(|| array.value(row).to_string())
    }
}

/// The entity columns read from a row, by entity: (evidence column, row columns in
/// order of preference).
const MACHINE: &[(&str, &[&str])] = &[
    ("DeviceName", &["DeviceName", "Computer"]),
    ("DeviceId", &["DeviceId"]),
];
const USERS: &[&[(&str, &[&str])]] = &[
    &[
        ("AccountName", &["AccountName", "TargetUserName"]),
        ("AccountDomain", &["AccountDomain", "TargetDomainName"]),
        ("AccountSid", &["AccountSid", "TargetUserSid"]),
        ("AccountUpn", &["AccountUpn"]),
    ],
    &[
        (
            "AccountName",
            &["InitiatingProcessAccountName", "SubjectUserName"],
        ),
        (
            "AccountDomain",
            &["InitiatingProcessAccountDomain", "SubjectDomainName"],
        ),
        (
            "AccountSid",
            &["InitiatingProcessAccountSid", "SubjectUserSid"],
        ),
    ],
];
const PROCESSES: &[&[(&str, &[&str])]] = &[
    &[
        ("FileName", &["InitiatingProcessFileName"]),
        ("FolderPath", &["InitiatingProcessFolderPath"]),
        ("ProcessCommandLine", &["InitiatingProcessCommandLine"]),
        ("SHA256", &["InitiatingProcessSHA256"]),
        ("SHA1", &["InitiatingProcessSHA1"]),
    ],
    &[
        ("FileName", &["FileName", "NewProcessName"]),
        ("FolderPath", &["FolderPath"]),
        ("ProcessCommandLine", &["ProcessCommandLine", "CommandLine"]),
        ("SHA256", &["SHA256"]),
        ("SHA1", &["SHA1"]),
    ],
];
const FILE: &[(&str, &[&str])] = &[
    ("FileName", &["FileName"]),
    ("FolderPath", &["FolderPath"]),
    ("SHA256", &["SHA256"]),
    ("SHA1", &["SHA1"]),
];
const IP: &[(&str, &[&str])] = &[("RemoteIP", &["RemoteIP", "IpAddress"])];
const URL: &[(&str, &[&str])] = &[("RemoteUrl", &["RemoteUrl"])];
const REGISTRY: &[(&str, &[&str])] = &[
    ("RegistryKey", &["RegistryKey"]),
    ("RegistryValueName", &["RegistryValueName"]),
    ("RegistryValueData", &["RegistryValueData"]),
];

/// Every column an alert reads from its row (entities, time, source), besides what
/// the rules themselves test.
pub fn evidence_columns() -> Vec<&'static str> {
    let mut out = vec![
        "Timestamp",
        "TimeGenerated",
        "ActionType",
        SOURCE_FILE_COLUMN,
        SOURCE_RECORD_COLUMN,
    ];
    let specs = [MACHINE, FILE, IP, URL, REGISTRY]
        .into_iter()
        .chain(USERS.iter().copied())
        .chain(PROCESSES.iter().copied());
    for spec in specs {
        for (_, sources) in spec {
            out.extend(sources.iter().copied());
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn entity(
    cols: &mut Columns<'_>,
    row: usize,
    kind: EntityKind,
    spec: &[(&'static str, &[&'static str])],
    required: &str,
) -> Option<Entity> {
    let mut columns = BTreeMap::new();
    for (evidence, sources) in spec {
        if let Some(v) = sources.iter().find_map(|s| cols.get(s, row)) {
            columns.insert(*evidence, v);
        }
    }
    let role = match kind {
        EntityKind::Machine | EntityKind::User => "Impacted",
        _ => "Related",
    };
    columns.contains_key(required).then_some(Entity {
        kind,
        role,
        columns,
    })
}

/// The entities of one row of a table.
fn entities(cols: &mut Columns<'_>, table: &str, row: usize) -> Vec<Entity> {
    let mut out = Vec::new();
    out.extend(entity(
        cols,
        row,
        EntityKind::Machine,
        MACHINE,
        "DeviceName",
    ));
    for spec in USERS {
        if let Some(u) = entity(cols, row, EntityKind::User, spec, "AccountName")
            && !is_service_account(&u.columns["AccountName"])
            && !out.contains(&u)
        {
            out.push(u);
        }
    }
    match table {
        "DeviceProcessEvents" => {
            for spec in PROCESSES {
                out.extend(entity(cols, row, EntityKind::Process, spec, "FileName"));
            }
        }
        "SecurityEvent"
        | "WindowsEvent"
        | "DeviceEvents"
        | "DeviceNetworkEvents"
        | "DeviceRegistryEvents"
        | "DeviceImageLoadEvents"
        | "DeviceFileEvents" => {
            out.extend(entity(
                cols,
                row,
                EntityKind::Process,
                PROCESSES[0],
                "FileName",
            ));
        }
        _ => {}
    }
    if matches!(table, "DeviceFileEvents" | "DeviceImageLoadEvents") {
        out.extend(entity(cols, row, EntityKind::File, FILE, "FileName"));
    }
    out.extend(entity(cols, row, EntityKind::Ip, IP, "RemoteIP"));
    out.extend(entity(cols, row, EntityKind::Url, URL, "RemoteUrl"));
    out.extend(entity(
        cols,
        row,
        EntityKind::RegistryValue,
        REGISTRY,
        "RegistryKey",
    ));
    out
}

/// The alert id for a rule's match of a row: the same rule on the same source record
/// always gives the same id.
fn alert_id(rule: &RuleInfo, table: &str, row_key: &str) -> String {
    let parts = [rule.id.as_str(), table, row_key].map(str::as_bytes);
    let hex = short_digest(&[parts[0], &[0], parts[1], &[0], parts[2], &[0]], 12);
    format!("va{hex}")
}

/// The first `bytes` bytes of the SHA-256 of `parts` (one after the other), as hex: the
/// stable ids of alerts and incidents.
pub fn short_digest(parts: &[&[u8]], bytes: usize) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let digest = h.finalize();
    digest[..bytes.min(digest.len())]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The alerts for rule matches in one batch of `table`: `hits` lists, per rule (an
/// index into `rules`), the matching row numbers.
pub fn alerts_of(
    rules: &[RuleInfo],
    table: &str,
    batch: &RecordBatch,
    hits: &[(usize, Vec<usize>)],
) -> Vec<Alert> {
    let time = batch
        .column_by_name("Timestamp")
        .or_else(|| batch.column_by_name("TimeGenerated"))
        .and_then(|c| {
            c.as_any()
                .downcast_ref::<TimestampNanosecondArray>()
                .cloned()
        });
    let mut cols = Columns {
        batch,
        cache: BTreeMap::new(),
    };
    let mut out = Vec::new();
    let mut row_entities: BTreeMap<usize, Vec<Entity>> = BTreeMap::new();
    for (rule, rows) in hits {
        for &row in rows {
            let source_file = cols.get(SOURCE_FILE_COLUMN, row);
            let source_record = cols
                .get(SOURCE_RECORD_COLUMN, row)
                .and_then(|r| r.parse::<i64>().ok());
            let t = time
                .as_ref()
                .filter(|t| t.is_valid(row))
                .map(|t| t.value(row))
                .unwrap_or(0);
            // Without a source record, the row's time and entities stand for it.
            let ents = row_entities
                .entry(row)
                .or_insert_with(|| entities(&mut cols, table, row))
                .clone();
            let key = match (&source_file, source_record) {
                (Some(f), Some(r)) => format!("{f}\u{0}{r}"),
                _ => format!("{t}\u{0}{ents:?}"),
            };
            out.push(Alert {
                id: alert_id(&rules[*rule], table, &key),
                time: t,
                rule: *rule,
                entities: ents,
                source_table: table.to_string(),
                source_file,
                source_record,
            });
        }
    }
    out
}

/// `AlertInfo` and `AlertEvidence` rows for alerts.
pub fn alert_rows(
    catalog: &'static Catalog,
    rules: &[RuleInfo],
    alerts: &[&Alert],
) -> Option<(RecordBatch, RecordBatch)> {
    let mut info = TableRows::new(catalog.table("AlertInfo")?);
    let mut evidence = TableRows::new(catalog.table("AlertEvidence")?);
    for a in alerts {
        let r = &rules[a.rule];
        let techniques = serde_json::to_string(&r.techniques).unwrap_or_default();
        let category = r
            .tactics
            .first()
            .cloned()
            .unwrap_or_else(|| "SuspiciousActivity".into());
        let extra = serde_json::json!({
            "RuleId": r.id,
            "RuleFile": r.file.display().to_string(),
            "RuleLevel": r.level.name(),
            "Tactics": r.tactics,
            "SourceTable": a.source_table,
            "Query": r.query,
        })
        .to_string();
        {
            let mut w = info.row();
            w.set("Timestamp", vigil_ingest::rows::Value::Time(a.time))
                .set("TimeGenerated", vigil_ingest::rows::Value::Time(a.time))
                .set("AlertId", &a.id)
                .set("Title", &r.title)
                .set("Category", &category)
                .set("Severity", r.level.severity())
                .set("ServiceSource", "Vigil")
                .set("DetectionSource", "Sigma")
                .set("AttackTechniques", &techniques)
                .set("AdditionalFields", &extra)
                .set_opt(SOURCE_FILE_COLUMN, a.source_file.as_ref())
                .set_opt(SOURCE_RECORD_COLUMN, a.source_record);
        }
        let categories = serde_json::to_string(&r.tactics).unwrap_or_default();
        for e in &a.entities {
            let mut w = evidence.row();
            w.set("Timestamp", vigil_ingest::rows::Value::Time(a.time))
                .set("TimeGenerated", vigil_ingest::rows::Value::Time(a.time))
                .set("AlertId", &a.id)
                .set("Title", &r.title)
                .set("Categories", &categories)
                .set("AttackTechniques", &techniques)
                .set("ServiceSource", "Vigil")
                .set("DetectionSource", "Sigma")
                .set("Severity", r.level.severity())
                .set("EntityType", e.kind.name())
                .set("EvidenceRole", e.role)
                .set_opt(SOURCE_FILE_COLUMN, a.source_file.as_ref())
                .set_opt(SOURCE_RECORD_COLUMN, a.source_record);
            for (column, value) in &e.columns {
                w.set(column, value);
            }
            // The device of the alert is on every evidence row, as in Defender.
            if let Some(d) = a.device() {
                w.set("DeviceName", d);
            }
        }
    }
    Some((info.take_batch(), evidence.take_batch()))
}
