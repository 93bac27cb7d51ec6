//! The ground truth: what was injected, where and when, and what a hunt should show.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Everything `ground-truth.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub organisation: Organisation,
    pub seed: u64,
    /// The reference time; the data covers the fourteen days before it.
    pub now: String,
    pub window_start: String,
    /// Where some kinds of facts are in the tables, for people writing queries.
    pub conventions: BTreeMap<String, String>,
    pub scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub name: String,
    pub domain: String,
    pub tenant_id: String,
    pub users: usize,
    pub windows_devices: usize,
    pub linux_devices: usize,
    pub domain_controller: String,
    pub file_server: String,
}

/// One injected scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Short stable name, e.g. `phishing-to-ransomware`.
    pub id: String,
    pub title: String,
    /// False for the benign look-alikes.
    pub malicious: bool,
    pub summary: String,
    /// Device names (Defender's lower-case FQDN) involved.
    pub devices: Vec<String>,
    /// User principal names involved.
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub domains: Vec<String>,
    /// First and last event of the scenario (RFC 3339 UTC).
    pub first: String,
    pub last: String,
    pub techniques: Vec<String>,
    pub tactics: Vec<String>,
    /// Tables that hold the scenario's events.
    pub tables: Vec<String>,
    pub steps: Vec<Step>,
    /// Titles of the SigmaHQ rules expected to raise alerts on the scenario's rows.
    pub expected_rules: Vec<String>,
    pub expected_incidents: Vec<ExpectedIncident>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub time: String,
    pub device: String,
    pub table: String,
    pub what: String,
}

/// An incident an analyst should see after a hunt (or, for a benign scenario, the most
/// it may amount to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectedIncident {
    pub devices: Vec<String>,
    /// Account names as alerts carry them (`domain\name`).
    pub users: Vec<String>,
    pub tactics: Vec<String>,
    /// For attacks, the least severity expected; for look-alikes, the most allowed.
    pub severity: String,
    /// `at_least` for attacks, `at_most` for look-alikes.
    pub bound: String,
}

impl GroundTruth {
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn scenario(&self, id: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.id == id)
    }
}
