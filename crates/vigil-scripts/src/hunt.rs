//! Hunting queries in KQL over the Defender advanced-hunting tables, for the indicators
//! and behaviours of one script, so an analyst can look for it across the estate.

use crate::behaviours;
use crate::model::{Behaviour, HuntQuery, Indicator, IndicatorKind};

/// A KQL double-quoted string literal.
pub fn kql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| kql_string(v))
        .collect::<Vec<_>>()
        .join(", ")
}

const WINDOW: &str = "Timestamp > ago(30d)";
const PROC_COLS: &str = "Timestamp, DeviceName, AccountName, FileName, ProcessCommandLine, \
                         InitiatingProcessFileName, InitiatingProcessCommandLine";
const NET_COLS: &str = "Timestamp, DeviceName, RemoteUrl, RemoteIP, RemotePort, \
                        InitiatingProcessFileName, InitiatingProcessCommandLine";
const FILE_COLS: &str = "Timestamp, DeviceName, ActionType, FileName, FolderPath, SHA256, \
                         InitiatingProcessFileName, InitiatingProcessCommandLine";
const REG_COLS: &str = "Timestamp, DeviceName, ActionType, RegistryKey, RegistryValueName, \
                        RegistryValueData, InitiatingProcessFileName, InitiatingProcessCommandLine";
const EVT_COLS: &str = "Timestamp, DeviceName, ActionType, FileName, ProcessCommandLine, \
                        AdditionalFields, InitiatingProcessFileName, InitiatingProcessCommandLine";

fn query(title: String, table: &str, filter: String, cols: &str) -> HuntQuery {
    HuntQuery {
        title,
        table: table.to_string(),
        kql: format!("{table}\n| where {WINDOW}\n| where {filter}\n| project {cols}"),
    }
}

fn values(indicators: &[Indicator], kind: IndicatorKind) -> Vec<String> {
    indicators
        .iter()
        .filter(|i| i.kind == kind && i.benign.is_none())
        .map(|i| i.value.clone())
        .take(20)
        .collect()
}

/// `HKCU\Software\...` as Defender writes it: hive names spelled out, user hives under a SID,
/// so only the part after the hive is matched.
fn registry_tail(key: &str) -> String {
    let k = key.trim_start_matches("Registry::");
    let tail = k.split_once('\\').map_or(k, |(_, t)| t);
    tail.trim_end_matches('\\').to_string()
}

fn file_name(path: &str) -> Option<String> {
    let name = path.rsplit(['\\', '/']).next()?;
    (name.contains('.') && !name.contains('%') && !name.contains('$')).then(|| name.to_string())
}

/// Queries for the indicators first (exact values), then for each behaviour.
pub fn queries(indicators: &[Indicator], behaviours: &[Behaviour]) -> Vec<HuntQuery> {
    let mut out = Vec::new();
    let domains = values(indicators, IndicatorKind::Domain);
    let urls = values(indicators, IndicatorKind::Url);
    let mut ips = values(indicators, IndicatorKind::Ipv4);
    ips.extend(values(indicators, IndicatorKind::Ipv6));
    if !domains.is_empty() || !urls.is_empty() || !ips.is_empty() {
        let mut parts = Vec::new();
        if !domains.is_empty() {
            parts.push(format!("RemoteUrl has_any ({})", list(&domains)));
        }
        if !urls.is_empty() {
            parts.push(format!("RemoteUrl in~ ({})", list(&urls)));
        }
        if !ips.is_empty() {
            parts.push(format!("RemoteIP in ({})", list(&ips)));
        }
        out.push(query(
            "Connections to the script's network indicators".into(),
            "DeviceNetworkEvents",
            parts.join(" or "),
            NET_COLS,
        ));
        let mut terms = domains.clone();
        terms.extend(ips.iter().cloned());
        if !terms.is_empty() {
            out.push(query(
                "Command lines that name the script's network indicators".into(),
                "DeviceProcessEvents",
                format!("ProcessCommandLine has_any ({})", list(&terms)),
                PROC_COLS,
            ));
        }
    }
    let mut hashes = Vec::new();
    for (kind, column) in [
        (IndicatorKind::Sha256, "SHA256"),
        (IndicatorKind::Sha1, "SHA1"),
        (IndicatorKind::Md5, "MD5"),
    ] {
        let v = values(indicators, kind);
        if !v.is_empty() {
            hashes.push(format!("{column} in~ ({})", list(&v)));
        }
    }
    if !hashes.is_empty() {
        out.push(query(
            "Files with the script's hashes".into(),
            "DeviceFileEvents",
            hashes.join(" or "),
            FILE_COLS,
        ));
    }
    let names: Vec<String> = values(indicators, IndicatorKind::FilePath)
        .iter()
        .filter_map(|p| file_name(p))
        .collect();
    if !names.is_empty() {
        out.push(query(
            "Files the script names, written anywhere".into(),
            "DeviceFileEvents",
            format!("FileName in~ ({})", list(&names)),
            FILE_COLS,
        ));
    }
    let keys: Vec<String> = values(indicators, IndicatorKind::RegistryKey)
        .iter()
        .map(|k| registry_tail(k))
        .filter(|k| !k.is_empty())
        .collect();
    if !keys.is_empty() {
        let clauses: Vec<String> = keys
            .iter()
            .map(|k| format!("RegistryKey endswith {}", kql_string(k)))
            .collect();
        out.push(query(
            "Changes to the registry keys the script touches".into(),
            "DeviceRegistryEvents",
            clauses.join(" or "),
            REG_COLS,
        ));
    }
    for b in behaviours {
        let Some(rule) = behaviours::rule(&b.id) else {
            continue;
        };
        let terms: Vec<String> = rule.hunt_terms.iter().map(|t| t.to_string()).collect();
        if terms.is_empty() {
            continue;
        }
        let title = format!("{} ({})", rule.description, rule.technique_id);
        let q = match rule.hunt_table {
            "DeviceEvents" => query(
                title,
                "DeviceEvents",
                format!(
                    "ActionType == \"PowerShellCommand\" or ActionType startswith \"Amsi\"\n| where AdditionalFields has_any ({0}) or ProcessCommandLine has_any ({0})",
                    list(&terms)
                ),
                EVT_COLS,
            ),
            "DeviceRegistryEvents" => query(
                title,
                "DeviceRegistryEvents",
                format!("RegistryKey has_any ({})", list(&terms)),
                REG_COLS,
            ),
            "DeviceFileEvents" => query(
                title,
                "DeviceFileEvents",
                format!("FolderPath has_any ({})", list(&terms)),
                FILE_COLS,
            ),
            _ => query(
                title,
                "DeviceProcessEvents",
                format!("ProcessCommandLine has_any ({})", list(&terms)),
                PROC_COLS,
            ),
        };
        out.push(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_backslashes_and_quotes() {
        assert_eq!(kql_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
