//! The catalog itself: parsing `tables.txt` and looking tables and columns up.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::{Field, Schema, SchemaRef};

use crate::{KqlType, SOURCE_FILE_COLUMN, SOURCE_RECORD_COLUMN};

const BUILTIN: &str = include_str!("../catalog/tables.txt");

/// Where a table's shape comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSource {
    /// Microsoft Defender XDR advanced hunting.
    Defender,
    /// Microsoft Sentinel / Log Analytics.
    Sentinel,
    /// A table of Vigil's own design.
    Vigil,
}

impl TableSource {
    fn parse(text: &str) -> Option<TableSource> {
        match text {
            "defender" => Some(TableSource::Defender),
            "sentinel" => Some(TableSource::Sentinel),
            "vigil" => Some(TableSource::Vigil),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TableSource::Defender => "defender",
            TableSource::Sentinel => "sentinel",
            TableSource::Vigil => "vigil",
        }
    }
}

/// One column of a catalog table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub kql_type: KqlType,
    /// What the column holds, for analysts and for grounding questions. May be empty.
    pub description: String,
}

/// One catalog table.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub source: TableSource,
    pub about: String,
    columns: Vec<Column>,
    by_name: HashMap<String, usize, foldhash::fast::RandomState>,
    schema: SchemaRef,
}

impl Table {
    fn new(name: String, source: TableSource, about: String, mut columns: Vec<Column>) -> Self {
        if source == TableSource::Sentinel {
            // Every Log Analytics table has these; queries join and filter on them.
            for (standard, ty, what) in [
                (
                    "TenantId",
                    KqlType::String,
                    "Workspace (tenant) the record belongs to",
                ),
                (
                    "Type",
                    KqlType::String,
                    "Name of the table the record is in",
                ),
                (
                    "_ItemId",
                    KqlType::String,
                    "Unique identifier of the record",
                ),
                (
                    "_ResourceId",
                    KqlType::String,
                    "Azure resource the record is about",
                ),
                (
                    "_SubscriptionId",
                    KqlType::String,
                    "Azure subscription of that resource",
                ),
                (
                    "_TimeReceived",
                    KqlType::DateTime,
                    "When the workspace received the record",
                ),
                (
                    "_IsBillable",
                    KqlType::String,
                    "Whether ingesting the record is billed",
                ),
                (
                    "_BilledSize",
                    KqlType::Real,
                    "Billed size of the record in bytes",
                ),
            ] {
                if !columns.iter().any(|c| c.name == standard) {
                    columns.push(Column {
                        name: standard.to_string(),
                        kql_type: ty,
                        description: what.to_string(),
                    });
                }
            }
        }
        for (system, ty, what) in [
            (
                SOURCE_FILE_COLUMN,
                KqlType::String,
                "File (and archive member) the row was read from",
            ),
            (
                SOURCE_RECORD_COLUMN,
                KqlType::Long,
                "Record id, line or row number inside that file",
            ),
        ] {
            if !columns.iter().any(|c| c.name == system) {
                columns.push(Column {
                    name: system.to_string(),
                    kql_type: ty,
                    description: what.to_string(),
                });
            }
        }
        let by_name = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(&c.name, c.kql_type.arrow_type(), true))
            .collect();
        Table {
            name,
            source,
            about,
            columns,
            by_name,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    /// The columns in their catalog order, Vigil's provenance columns last.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// A column by its exact (case-sensitive) name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.by_name.get(name).map(|&i| &self.columns[i])
    }

    /// The position of a column by its exact name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The Arrow schema rows of this table are stored with.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The closest column name to a misspelt one, if any is close enough to suggest.
    pub fn suggest_column(&self, name: &str) -> Option<&str> {
        closest(name, self.columns.iter().map(|c| c.name.as_str()))
    }
}

/// A malformed catalog text.
#[derive(Debug)]
pub struct CatalogError {
    pub line: usize,
    pub message: String,
}

/// The set of tables Vigil knows.
#[derive(Debug)]
pub struct Catalog {
    tables: Vec<Table>,
    by_name: HashMap<String, usize, foldhash::fast::RandomState>,
}

impl Catalog {
    /// The catalog compiled into Vigil.
    pub fn builtin() -> &'static Catalog {
        static BUILTIN_CATALOG: OnceLock<Catalog> = OnceLock::new();
        BUILTIN_CATALOG.get_or_init(|| match Catalog::parse(BUILTIN) {
            Ok(catalog) => catalog,
            // The text is part of the source tree and checked by this crate's tests.
            Err(err) => panic!("the built-in catalog is malformed: {err}"),
        })
    }

    /// Parses catalog text (see `catalog/tables.txt` for the format).
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let err = |line: usize, message: String| CatalogError { line, message };
        let mut tables: Vec<Table> = Vec::new();
        let mut current: Option<Draft> = None;

        for (n, raw) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = raw.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                if let Some(done) = current.take() {
                    tables.push(done.finish()?);
                }
                if tables.iter().any(|t| t.name == name) {
                    return Err(err(line_no, format!("table {name} is declared twice")));
                }
                current = Some(Draft::new(name, line_no));
                continue;
            }
            let Some(draft) = current.as_mut() else {
                return Err(err(
                    line_no,
                    "a line before the first [Table] header".into(),
                ));
            };
            draft.line(line, line_no)?;
        }
        if let Some(done) = current.take() {
            tables.push(done.finish()?);
        }

        let by_name = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(Catalog { tables, by_name })
    }

    /// A table by its exact (case-sensitive) name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.by_name.get(name).map(|&i| &self.tables[i])
    }

    /// A table by name, ignoring case: for names typed by a person.
    pub fn table_ignore_case(&self, name: &str) -> Option<&Table> {
        self.table(name).or_else(|| {
            self.tables
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(name))
        })
    }

    /// All tables in catalog order.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.iter()
    }

    /// The closest table name to a misspelt one, if any is close enough to suggest.
    pub fn suggest_table(&self, name: &str) -> Option<&str> {
        closest(name, self.tables.iter().map(|t| t.name.as_str()))
    }
}

/// A table whose lines are still being read.
struct Draft {
    name: String,
    source: Option<TableSource>,
    about: String,
    columns: Vec<Column>,
    line: usize,
}

impl Draft {
    fn new(name: &str, line: usize) -> Draft {
        Draft {
            name: name.to_string(),
            source: None,
            about: String::new(),
            columns: Vec::new(),
            line,
        }
    }

    /// Takes a `source:`, `about:` or column line.
    fn line(&mut self, line: &str, line_no: usize) -> Result<(), CatalogError> {
        let err = |message: String| CatalogError {
            line: line_no,
            message,
        };
        if let Some(value) = line.strip_prefix("source:") {
            let value = value.trim();
            let source = TableSource::parse(value)
                .ok_or_else(|| err(format!("unknown source {value:?}")))?;
            self.source = Some(source);
            return Ok(());
        }
        if let Some(value) = line.strip_prefix("about:") {
            self.about = value.trim().to_string();
            return Ok(());
        }
        let mut parts = line.splitn(3, '\t');
        let name = parts.next().unwrap_or_default();
        let ty_name = parts
            .next()
            .ok_or_else(|| err(format!("column {name:?} has no type")))?;
        let kql_type =
            KqlType::parse(ty_name).ok_or_else(|| err(format!("unknown type {ty_name:?}")))?;
        if self.columns.iter().any(|c| c.name == name) {
            return Err(err(format!("column {name} is declared twice")));
        }
        self.columns.push(Column {
            name: name.to_string(),
            kql_type,
            description: parts.next().unwrap_or_default().trim().to_string(),
        });
        Ok(())
    }

    fn finish(self) -> Result<Table, CatalogError> {
        let source = self.source.ok_or_else(|| CatalogError {
            line: self.line,
            message: format!("table {} has no source", self.name),
        })?;
        Ok(Table::new(self.name, source, self.about, self.columns))
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "catalog line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CatalogError {}

/// The candidate nearest to `name` by edit distance (ignoring case), if it is near enough
/// to be a plausible typo: at most a third of the name's length, and at least one edit.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = name.to_ascii_lowercase();
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(&wanted, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            row[j + 1] = substitute.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: &[&str] = &[
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "DeviceFileEvents",
        "DeviceRegistryEvents",
        "DeviceImageLoadEvents",
        "DeviceLogonEvents",
        "DeviceEvents",
        "DeviceInfo",
        "DeviceNetworkInfo",
        "DeviceTvmSoftwareInventory",
        "DeviceTvmSoftwareVulnerabilities",
        "DeviceFileCertificateInfo",
        "AlertInfo",
        "AlertEvidence",
        "EmailEvents",
        "EmailAttachmentInfo",
        "EmailUrlInfo",
        "UrlClickEvents",
        "IdentityLogonEvents",
        "IdentityInfo",
        "CloudAppEvents",
        "SecurityEvent",
        "WindowsEvent",
        "Event",
        "Syslog",
        "CommonSecurityLog",
        "SigninLogs",
        "AADNonInteractiveUserSignInLogs",
        "AuditLogs",
        "AADRiskyUsers",
        "AADUserRiskEvents",
        "SecurityAlert",
        "SecurityIncident",
        "OfficeActivity",
        "AzureActivity",
        "DnsEvents",
        "ThreatIntelligenceIndicator",
    ];

    #[test]
    fn builtin_has_every_required_table_with_both_time_columns() {
        let catalog = Catalog::builtin();
        for name in REQUIRED {
            let table = catalog
                .table(name)
                .unwrap_or_else(|| panic!("{name} missing"));
            for time in ["Timestamp", "TimeGenerated"] {
                let col = table
                    .column(time)
                    .unwrap_or_else(|| panic!("{name}.{time} missing"));
                assert_eq!(col.kql_type, KqlType::DateTime, "{name}.{time}");
            }
            assert_eq!(table.arrow_schema().fields().len(), table.columns().len());
        }
    }

    #[test]
    fn known_columns_have_their_real_types() {
        let catalog = Catalog::builtin();
        let dpe = catalog.table("DeviceProcessEvents").unwrap();
        assert_eq!(dpe.column("ProcessId").unwrap().kql_type, KqlType::Long);
        assert_eq!(
            dpe.column("ProcessCommandLine").unwrap().kql_type,
            KqlType::String
        );
        let we = catalog.table("WindowsEvent").unwrap();
        assert_eq!(we.column("EventData").unwrap().kql_type, KqlType::Dynamic);
        let se = catalog.table("SecurityEvent").unwrap();
        assert_eq!(se.column("EventID").unwrap().kql_type, KqlType::Int);
        let signin = catalog.table("SigninLogs").unwrap();
        assert!(signin.column("UserPrincipalName").is_some());
        assert!(
            dpe.column("processcommandline").is_none(),
            "names are case-sensitive"
        );
    }

    #[test]
    fn every_table_ends_with_provenance_columns() {
        for table in Catalog::builtin().tables() {
            let n = table.columns().len();
            assert_eq!(
                table.columns()[n - 2].name,
                SOURCE_FILE_COLUMN,
                "{}",
                table.name
            );
            assert_eq!(
                table.columns()[n - 1].name,
                SOURCE_RECORD_COLUMN,
                "{}",
                table.name
            );
        }
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let catalog = Catalog::builtin();
        assert_eq!(
            catalog.suggest_table("DeviceProcesEvents"),
            Some("DeviceProcessEvents")
        );
        assert_eq!(catalog.suggest_table("Nonsense"), None);
        let dpe = catalog.table("DeviceProcessEvents").unwrap();
        assert_eq!(
            dpe.suggest_column("ProcessComandLine"),
            Some("ProcessCommandLine")
        );
    }

    #[test]
    fn malformed_text_names_the_line() {
        let err = Catalog::parse("[T]\nsource: defender\nA\tstring\nB\tnosuchtype\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.message.contains("nosuchtype"));
        let err = Catalog::parse("A\tstring\n").unwrap_err();
        assert_eq!(err.line, 1);
        let err = Catalog::parse("[T]\nA\tstring\n").unwrap_err();
        assert!(err.message.contains("no source"));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
