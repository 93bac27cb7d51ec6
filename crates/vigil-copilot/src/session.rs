//! Sessions in SQLite: each turn's prompt, grounding, plan, skill calls with their inputs
//! and outputs, the answer, pins and feedback; and an append-only audit log of who asked
//! what and which skills ran with which inputs.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::turn::Turn;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store {path}: {source}")]
    Db {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("there is no session {0} (`vigil sessions list` shows them)")]
    NoSession(String),
    #[error("session {0} has no turn {1}")]
    NoTurn(String, u32),
    #[error("a stored turn could not be read: {0}")]
    Corrupt(String),
}

/// What a user thought of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    LooksRight,
    NeedsImprovement,
    Inappropriate,
}

impl Rating {
    pub fn name(self) -> &'static str {
        match self {
            Rating::LooksRight => "looks_right",
            Rating::NeedsImprovement => "needs_improvement",
            Rating::Inappropriate => "inappropriate",
        }
    }

    pub fn parse(text: &str) -> Option<Rating> {
        match text.to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "looks_right" | "good" | "up" => Some(Rating::LooksRight),
            "needs_improvement" | "bad" | "down" => Some(Rating::NeedsImprovement),
            "inappropriate" => Some(Rating::Inappropriate),
            _ => None,
        }
    }
}

/// A session in the list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub title: String,
    pub owner: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub turns: u32,
    /// Whether others may read it (sessions are their owner's alone until shared).
    #[serde(default)]
    pub shared: bool,
}

/// A pinned turn, with the analyst's note.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pin {
    pub turn: u32,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// Feedback on a turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feedback {
    pub turn: u32,
    pub rating: Rating,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// A pin on a user's pinboard: the turn with its prompt and answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoardPin {
    pub session: String,
    pub turn: u32,
    pub note: String,
    pub at: DateTime<Utc>,
    pub prompt: String,
    pub answer: String,
}

/// A whole session, for showing and exporting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub info: SessionInfo,
    pub turns: Vec<Turn>,
    pub pins: Vec<Pin>,
    pub feedback: Vec<Feedback>,
}

/// The sessions and audit log of one data directory.
pub struct Sessions {
    db: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS copilot_sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    owner TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS copilot_turns (
    session TEXT NOT NULL REFERENCES copilot_sessions(id),
    seq INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    turn_json TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (session, seq)
);
CREATE TABLE IF NOT EXISTS copilot_skill_calls (
    session TEXT NOT NULL,
    seq INTEGER NOT NULL,
    step INTEGER NOT NULL,
    skill TEXT NOT NULL,
    inputs_json TEXT NOT NULL,
    output_json TEXT,
    error TEXT,
    PRIMARY KEY (session, seq, step)
);
CREATE TABLE IF NOT EXISTS copilot_pins (
    session TEXT NOT NULL,
    seq INTEGER NOT NULL,
    note TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (session, seq)
);
CREATE TABLE IF NOT EXISTS copilot_feedback (
    session TEXT NOT NULL,
    seq INTEGER NOT NULL,
    rating TEXT NOT NULL,
    comment TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail_json TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub detail: serde_json::Value,
}

fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

impl Sessions {
    /// Opens (creating when needed) the session tables in the SQLite file at `path`.
    pub fn open(path: &Path) -> Result<Sessions, SessionError> {
        let shown = path.display().to_string();
        let wrap = |source| SessionError::Db {
            path: shown.clone(),
            source,
        };
        let db = Connection::open(path).map_err(wrap)?;
        db.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        db.execute_batch(SCHEMA).map_err(wrap)?;
        // Stores made before sessions could be shared lack the column.
        let has_shared = db
            .prepare("SELECT 1 FROM pragma_table_info('copilot_sessions') WHERE name = 'shared'")
            .and_then(|mut s| s.exists([]))
            .map_err(wrap)?;
        if !has_shared {
            db.execute_batch(
                "ALTER TABLE copilot_sessions ADD COLUMN shared INTEGER NOT NULL DEFAULT 0",
            )
            .map_err(wrap)?;
        }
        Ok(Sessions { db, path: shown })
    }

    fn err(&self, source: rusqlite::Error) -> SessionError {
        SessionError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Starts a session; its id is short and unique.
    pub fn create(
        &self,
        owner: &str,
        title: &str,
        now: DateTime<Utc>,
    ) -> Result<String, SessionError> {
        let count: i64 = self
            .db
            .query_row("SELECT count(*) FROM copilot_sessions", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        // Ids mix the wall clock and the process in: several processes may create a
        // session at once, all with the same reference time. A clash is tried again.
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        let at = now.to_rfc3339();
        let mut attempt = 0u32;
        let id = loop {
            let id = format!(
                "s{}",
                vigil_detect::alert::short_digest(
                    &[
                        nanos.to_string().as_bytes(),
                        wall.to_string().as_bytes(),
                        std::process::id().to_string().as_bytes(),
                        count.to_string().as_bytes(),
                        attempt.to_string().as_bytes(),
                        owner.as_bytes()
                    ],
                    5
                )
            );
            let inserted = self.db.execute(
                "INSERT INTO copilot_sessions (id, title, owner, created, updated) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, title, owner, at],
            );
            match inserted {
                Ok(_) => break id,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation && attempt < 8 =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(self.err(e)),
            }
        };
        self.audit(
            owner,
            "session.create",
            &serde_json::json!({ "session": id }),
            now,
        )?;
        Ok(id)
    }

    pub fn exists(&self, id: &str) -> Result<bool, SessionError> {
        self.db
            .query_row("SELECT 1 FROM copilot_sessions WHERE id = ?1", [id], |_| {
                Ok(())
            })
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Stores a finished turn with its skill calls, and audits it.
    pub fn add_turn(
        &mut self,
        session: &str,
        turn: &Turn,
        actor: &str,
    ) -> Result<(), SessionError> {
        let json = serde_json::to_string(turn).map_err(|e| SessionError::Corrupt(e.to_string()))?;
        let at = turn.at.to_rfc3339();
        let path = self.path.clone();
        let wrap = |source| SessionError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.db.transaction().map_err(wrap)?;
        tx.execute(
            "INSERT INTO copilot_turns (session, seq, prompt, turn_json, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session, turn.seq, turn.prompt, json, at],
        )
        .map_err(wrap)?;
        for (i, call) in turn.calls.iter().enumerate() {
            tx.execute(
                "INSERT INTO copilot_skill_calls (session, seq, step, skill, inputs_json, output_json, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    session,
                    turn.seq,
                    i as i64,
                    call.step.skill,
                    serde_json::to_string(&call.step.inputs).unwrap_or_default(),
                    call.output.as_ref().and_then(|o| serde_json::to_string(o).ok()),
                    call.error,
                ],
            )
            .map_err(wrap)?;
        }
        tx.execute(
            "UPDATE copilot_sessions SET updated = ?2 WHERE id = ?1",
            params![session, at],
        )
        .map_err(wrap)?;
        let detail = serde_json::json!({
            "session": session,
            "turn": turn.seq,
            "prompt": turn.prompt,
            "skills": turn.calls.iter().map(|c| serde_json::json!({"skill": c.step.skill, "inputs": c.step.inputs})).collect::<Vec<_>>(),
        });
        tx.execute(
            "INSERT INTO audit_log (at, actor, action, detail_json) VALUES (?1, ?2, 'prompt', ?3)",
            params![at, actor, detail.to_string()],
        )
        .map_err(wrap)?;
        tx.commit().map_err(wrap)
    }

    /// Appends to the audit log.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), SessionError> {
        self.db
            .execute(
                "INSERT INTO audit_log (at, actor, action, detail_json) VALUES (?1, ?2, ?3, ?4)",
                params![now.to_rfc3339(), actor, action, detail.to_string()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, SessionError> {
        let mut stmt = self
            .db
            .prepare("SELECT id, at, actor, action, detail_json FROM audit_log ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: parse_time(&r.get::<_, String>(1)?),
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    detail: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn list(&self) -> Result<Vec<SessionInfo>, SessionError> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT s.id, s.title, s.owner, s.created, s.updated, (SELECT count(*) FROM copilot_turns t WHERE t.session = s.id), s.shared FROM copilot_sessions s ORDER BY s.updated DESC, s.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SessionInfo {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    owner: r.get(2)?,
                    created: parse_time(&r.get::<_, String>(3)?),
                    updated: parse_time(&r.get::<_, String>(4)?),
                    turns: r.get(5)?,
                    shared: r.get::<_, i64>(6)? != 0,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn info(&self, id: &str) -> Result<SessionInfo, SessionError> {
        self.db
            .query_row(
                "SELECT s.id, s.title, s.owner, s.created, s.updated, (SELECT count(*) FROM copilot_turns t WHERE t.session = s.id), s.shared FROM copilot_sessions s WHERE s.id = ?1",
                [id],
                |r| {
                    Ok(SessionInfo {
                        id: r.get(0)?,
                        title: r.get(1)?,
                        owner: r.get(2)?,
                        created: parse_time(&r.get::<_, String>(3)?),
                        updated: parse_time(&r.get::<_, String>(4)?),
                        turns: r.get(5)?,
                        shared: r.get::<_, i64>(6)? != 0,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| SessionError::NoSession(id.to_string()))
    }

    pub fn turns(&self, id: &str) -> Result<Vec<Turn>, SessionError> {
        let mut stmt = self
            .db
            .prepare("SELECT turn_json FROM copilot_turns WHERE session = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let texts: Vec<String> = stmt
            .query_map([id], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        texts
            .iter()
            .map(|t| {
                serde_json::from_str(t)
                    .map_err(|e| SessionError::Corrupt(format!("session {id}: {e}")))
            })
            .collect()
    }

    /// Lets others read a session, or makes it private again.
    pub fn set_shared(
        &self,
        id: &str,
        shared: bool,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SessionError> {
        let n = self
            .db
            .execute(
                "UPDATE copilot_sessions SET shared = ?2 WHERE id = ?1",
                params![id, shared as i64],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(SessionError::NoSession(id.to_string()));
        }
        self.audit(
            actor,
            if shared {
                "session.share"
            } else {
                "session.unshare"
            },
            &serde_json::json!({"session": id}),
            now,
        )
    }

    /// The pins in `owner`'s sessions, newest first.
    pub fn pinboard(&self, owner: &str) -> Result<Vec<BoardPin>, SessionError> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT p.session, p.seq, p.note, p.at, t.prompt, t.turn_json FROM copilot_pins p \
                 JOIN copilot_sessions s ON s.id = p.session \
                 JOIN copilot_turns t ON t.session = p.session AND t.seq = p.seq \
                 WHERE s.owner = ?1 ORDER BY p.at DESC, p.session, p.seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([owner], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(session, turn, note, at, prompt, json)| {
                let stored: Turn = serde_json::from_str(&json)
                    .map_err(|e| SessionError::Corrupt(format!("session {session}: {e}")))?;
                Ok(BoardPin {
                    session,
                    turn,
                    note,
                    at: parse_time(&at),
                    prompt,
                    answer: stored.answer,
                })
            })
            .collect()
    }

    pub fn pin(
        &self,
        id: &str,
        turn: u32,
        note: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SessionError> {
        self.check_turn(id, turn)?;
        self.db
            .execute(
                "INSERT OR REPLACE INTO copilot_pins (session, seq, note, at) VALUES (?1, ?2, ?3, ?4)",
                params![id, turn, note, now.to_rfc3339()],
            )
            .map_err(|e| self.err(e))?;
        self.audit(
            actor,
            "session.pin",
            &serde_json::json!({"session": id, "turn": turn}),
            now,
        )
    }

    pub fn feedback(
        &self,
        id: &str,
        turn: u32,
        rating: Rating,
        comment: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SessionError> {
        self.check_turn(id, turn)?;
        self.db
            .execute(
                "INSERT INTO copilot_feedback (session, seq, rating, comment, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, turn, rating.name(), comment, now.to_rfc3339()],
            )
            .map_err(|e| self.err(e))?;
        self.audit(
            actor,
            "session.feedback",
            &serde_json::json!({"session": id, "turn": turn, "rating": rating.name()}),
            now,
        )
    }

    fn check_turn(&self, id: &str, turn: u32) -> Result<(), SessionError> {
        if !self.exists(id)? {
            return Err(SessionError::NoSession(id.to_string()));
        }
        let found = self
            .db
            .query_row(
                "SELECT 1 FROM copilot_turns WHERE session = ?1 AND seq = ?2",
                params![id, turn],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        found.ok_or_else(|| SessionError::NoTurn(id.to_string(), turn))
    }

    /// A whole session with its pins and feedback.
    pub fn record(&self, id: &str) -> Result<SessionRecord, SessionError> {
        let info = self.info(id)?;
        let turns = self.turns(id)?;
        let mut stmt = self
            .db
            .prepare("SELECT seq, note, at FROM copilot_pins WHERE session = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let pins = stmt
            .query_map([id], |r| {
                Ok(Pin {
                    turn: r.get(0)?,
                    note: r.get(1)?,
                    at: parse_time(&r.get::<_, String>(2)?),
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let mut stmt = self
            .db
            .prepare("SELECT seq, rating, comment, at FROM copilot_feedback WHERE session = ?1 ORDER BY rowid")
            .map_err(|e| self.err(e))?;
        let feedback = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?
            .into_iter()
            .filter_map(|(turn, rating, comment, at)| {
                Some(Feedback {
                    turn,
                    rating: Rating::parse(&rating)?,
                    comment,
                    at: parse_time(&at),
                })
            })
            .collect();
        Ok(SessionRecord {
            info,
            turns,
            pins,
            feedback,
        })
    }
}

#[cfg(test)]
mod concurrency_tests {
    use super::*;

    #[test]
    fn processes_creating_sessions_at_one_reference_time_get_distinct_ids() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("vigil.db");
        let now = DateTime::parse_from_rfc3339("2026-03-11T12:00:00Z")
            .expect("a time")
            .with_timezone(&Utc);
        // Each thread has its own connection, as separate `vigil ask` processes do.
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let sessions = Sessions::open(&db).expect("opens");
                    (0..25)
                        .map(|_| sessions.create("analyst", "t", now).expect("creates"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut ids: Vec<String> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker"))
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 100);
    }
}

#[cfg(test)]
mod sharing_tests {
    use super::*;

    #[test]
    fn a_store_from_before_sharing_gains_the_column_and_sessions_start_private() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = dir.path().join("vigil.db");
        Connection::open(&db)
            .expect("opens")
            .execute_batch(
                "CREATE TABLE copilot_sessions (id TEXT PRIMARY KEY, title TEXT NOT NULL, owner TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
                 INSERT INTO copilot_sessions VALUES ('sold', 'old', 'ann', '2026-03-01T00:00:00Z', '2026-03-01T00:00:00Z');",
            )
            .expect("an older store");
        let store = Sessions::open(&db).expect("opens and migrates");
        let old = store.info("sold").expect("the old session");
        assert!(!old.shared);
        assert_eq!(old.owner, "ann");
        let now = Utc::now();
        let id = store.create("bo", "new", now).expect("a session");
        assert!(!store.info(&id).expect("info").shared);
        store.set_shared(&id, true, "bo", now).expect("shares");
        assert!(store.info(&id).expect("info").shared);
        assert!(
            store
                .list()
                .expect("lists")
                .iter()
                .any(|s| s.id == id && s.shared)
        );
        assert!(matches!(
            store.set_shared("nope", true, "bo", now),
            Err(SessionError::NoSession(_))
        ));
        let actions: Vec<String> = store
            .audit_log()
            .expect("the log")
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(
            actions.contains(&"session.share".to_string()),
            "{actions:?}"
        );
        // Reopening does not add the column twice.
        drop(store);
        Sessions::open(&db).expect("opens again");
    }
}
