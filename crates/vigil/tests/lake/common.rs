//! Running the binary and reading what it wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The shared sample data folder.
pub fn shared_data() -> PathBuf {
    let dir = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    assert!(
        dir.is_dir(),
        "the shared sample data is missing: expected it at {} (set VIGIL_SHARED_DATA to move it)",
        dir.display()
    );
    dir
}

pub fn vigil(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.arg("--data-dir").arg(data_dir);
    cmd.env_remove("VIGIL_HOME").env_remove("VIGIL_LOG");
    cmd
}

/// What `vigil ingest --summary json` reported.
pub struct Ingest {
    pub code: i32,
    pub summary: Value,
    pub stderr: String,
}

impl Ingest {
    pub fn n(&self, key: &str) -> u64 {
        self.summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key} in {}", self.summary))
    }

    pub fn rows(&self, table: &str) -> u64 {
        self.summary["rows"][table].as_u64().unwrap_or(0)
    }
}

pub fn ingest(data_dir: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Ingest {
    let mut cmd = vigil(data_dir);
    cmd.args([
        "ingest",
        "--quiet",
        "--summary",
        "json",
        "--max-problems",
        "100000",
    ]);
    for a in args {
        cmd.arg(a);
    }
    let out = cmd.output().expect("vigil runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let summary = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("summary is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    Ingest {
        code: out.status.code().unwrap_or(-1),
        summary,
        stderr,
    }
}

/// Runs a SQL query and returns the rows as JSON objects.
pub fn sql(data_dir: &Path, query: &str) -> Vec<Value> {
    let out = vigil(data_dir)
        .args(["sql", "--format", "json", query])
        .output()
        .expect("vigil runs");
    assert!(
        out.status.success(),
        "query failed: {query}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("not a JSON array: {other:?}\n{text}"),
    }
}

/// A single number from a query such as `SELECT count(*) AS n ...`.
pub fn count(data_dir: &Path, query: &str) -> u64 {
    let rows = sql(data_dir, query);
    let value = rows
        .first()
        .and_then(|r| r.as_object())
        .and_then(|o| o.values().next());
    value
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{query} gave no number: {rows:?}"))
}

pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("vigil runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).to_string(),
        String::from_utf8_lossy(&stderr).to_string(),
    )
}

/// Every file under a folder, sorted.
pub fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The tables a Windows event belongs in, as the lake's mapping promises: its raw
/// table, plus a Defender table for Sysmon and some Security events.
pub fn expected_tables(channel: &str, event_id: u64) -> Vec<&'static str> {
    let mut tables = Vec::new();
    if channel == "Security" {
        tables.push("SecurityEvent");
        match event_id {
            4624 | 4625 | 4634 | 4647 | 4648 | 4672 => tables.push("DeviceLogonEvents"),
            4688 => tables.push("DeviceProcessEvents"),
            _ => {}
        }
        return tables;
    }
    tables.push("WindowsEvent");
    if channel == "Microsoft-Windows-Sysmon/Operational" {
        tables.push(match event_id {
            1 | 5 => "DeviceProcessEvents",
            3 => "DeviceNetworkEvents",
            7 => "DeviceImageLoadEvents",
            11 | 23 | 26 => "DeviceFileEvents",
            12..=14 => "DeviceRegistryEvents",
            _ => "DeviceEvents",
        });
    }
    tables
}

/// Row counts of every table in the lake's own listing.
pub fn listed_rows(data_dir: &Path) -> std::collections::BTreeMap<String, u64> {
    let out = vigil(data_dir)
        .args(["tables", "--format", "json"])
        .output()
        .expect("vigil runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Value = serde_json::from_str(text.trim()).unwrap_or(Value::Array(vec![]));
    rows.as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["table"].as_str().unwrap_or("").to_string(),
                        r["rows"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
