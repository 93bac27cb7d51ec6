//! What detection keeps in the data directory's SQLite file: incident numbers (so an
//! incident keeps its number across hunts) and the suppressions analysts asked for by
//! closing incidents as false positives.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::incident::AlertFacts;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incident_numbers (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS suppressions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id TEXT NOT NULL,
    device TEXT NOT NULL,
    user TEXT NOT NULL,
    reason TEXT NOT NULL,
    comment TEXT NOT NULL,
    incident INTEGER NOT NULL,
    created INTEGER NOT NULL,
    UNIQUE (rule_id, device, user)
);
";

/// A rule silenced on an entity pattern: its alerts on that device (and user, when
/// one is given) are not raised again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub rule_id: String,
    /// Lower-cased device name.
    pub device: String,
    /// Lower-cased `domain\user`, or empty for any user.
    pub user: String,
    pub reason: String,
    pub comment: String,
    pub incident: i64,
}

impl Suppression {
    pub fn covers(&self, alert: &AlertFacts) -> bool {
        alert.rule_id == self.rule_id
            && alert
                .devices
                .iter()
                .any(|d| d.to_lowercase() == self.device)
            && (self.user.is_empty() || alert.users.iter().any(|u| u.to_lowercase() == self.user))
    }
}

pub struct DetectionState {
    conn: Connection,
}

fn err(e: rusqlite::Error) -> String {
    format!("the detection state: {e}")
}

impl DetectionState {
    pub fn open(path: &Path) -> Result<DetectionState, String> {
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(DetectionState { conn })
    }

    /// The number of the incident named `name` and when it was created, given one
    /// (created `now`) the first time it is seen.
    pub fn number(&self, name: &str, now: i64) -> Result<(i64, i64), String> {
        let found = self
            .conn
            .query_row(
                "SELECT number, created FROM incident_numbers WHERE name = ?1",
                params![name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        if let Some(n) = found {
            return Ok(n);
        }
        self.conn
            .execute(
                "INSERT INTO incident_numbers (name, created) VALUES (?1, ?2)",
                params![name, now],
            )
            .map_err(err)?;
        Ok((self.conn.last_insert_rowid(), now))
    }

    /// The name of the incident with this number.
    pub fn name_of(&self, number: i64) -> Result<Option<String>, String> {
        self.conn
            .query_row(
                "SELECT name FROM incident_numbers WHERE number = ?1",
                params![number],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
    }

    pub fn suppress(&self, s: &Suppression, now: i64) -> Result<(), String> {
        self.conn
            .execute(
                "INSERT INTO suppressions (rule_id, device, user, reason, comment, incident, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (rule_id, device, user) DO UPDATE SET
                   reason = excluded.reason, comment = excluded.comment,
                   incident = excluded.incident",
                params![s.rule_id, s.device, s.user, s.reason, s.comment, s.incident, now],
            )
            .map(|_| ())
            .map_err(err)
    }

    pub fn suppressions(&self) -> Result<Vec<Suppression>, String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT rule_id, device, user, reason, comment, incident FROM suppressions
                 ORDER BY id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Suppression {
                    rule_id: r.get(0)?,
                    device: r.get(1)?,
                    user: r.get(2)?,
                    reason: r.get(3)?,
                    comment: r.get(4)?,
                    incident: r.get(5)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }
}
