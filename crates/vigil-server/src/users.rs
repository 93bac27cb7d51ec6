//! Local accounts and API tokens, in the data directory's SQLite file.
//!
//! A password is kept as an Argon2id hash, a token as its SHA-256 (a token is random and
//! long, so a fast hash is enough). Roles: `admin` (users, plugins, settings and all an
//! analyst may do), `analyst` (ask, run skills and KQL, hunt, change incidents), `reader`
//! (read skills, tables and incidents).

use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Reader,
    Analyst,
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "analyst" => Some(Role::Analyst),
            "reader" => Some(Role::Reader),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Reader => "reader",
        }
    }
}

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("the account store {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
    #[error("there is no account named {0}")]
    Unknown(String),
    #[error("an account named {0} exists already")]
    Exists(String),
    #[error("an account name is letters, digits, '.', '_', '-' or '@', not {0:?}")]
    BadName(String),
    #[error("{0}")]
    Crypto(String),
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS server_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS server_tokens (
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES server_users(name) ON DELETE CASCADE,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS server_web_sessions (
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES server_users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    expires INTEGER NOT NULL
);";

/// How long a browser stays logged in without logging in again.
pub const WEB_SESSION_SECONDS: u64 = 12 * 60 * 60;

/// A logged-in browser: who, with which role, and the token its changes must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user: String,
    pub role: Role,
    pub csrf: String,
}

/// Random bytes from the operating system, as hex.
pub fn random_hex(bytes: usize) -> Result<String, UserError> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .map_err(|e| UserError::Crypto(format!("reading random bytes: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now_text() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    secs.to_string()
}

/// The accounts and tokens of one data directory.
pub struct Users {
    db: Connection,
    path: String,
}

impl Users {
    pub fn open(db_path: &Path) -> Result<Users, UserError> {
        let path = db_path.display().to_string();
        let wrap = |source| UserError::Db {
            path: path.clone(),
            source,
        };
        let db = Connection::open(db_path).map_err(wrap)?;
        db.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        db.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(wrap)?;
        db.execute_batch(SCHEMA).map_err(wrap)?;
        Ok(Users { db, path })
    }

    fn err(&self, source: rusqlite::Error) -> UserError {
        UserError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Adds an account with `password` (Argon2id-hashed).
    pub fn add(&self, name: &str, role: Role, password: &str) -> Result<(), UserError> {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
        if !ok {
            return Err(UserError::BadName(name.to_string()));
        }
        if self.role_of(name)?.is_some() {
            return Err(UserError::Exists(name.to_string()));
        }
        let salt_hex = random_hex(16)?;
        let salt = SaltString::encode_b64(salt_hex.as_bytes())
            .map_err(|e| UserError::Crypto(format!("making a salt: {e}")))?;
        let hash = argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| UserError::Crypto(format!("hashing the password: {e}")))?
            .to_string();
        self.db
            .execute(
                "INSERT INTO server_users (name, role, password, created) VALUES (?1, ?2, ?3, ?4)",
                params![name, role.name(), hash, now_text()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn role_of(&self, name: &str) -> Result<Option<Role>, UserError> {
        let role: Option<String> = self
            .db
            .query_row(
                "SELECT role FROM server_users WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    /// Whether `password` is `name`'s.
    pub fn check_password(&self, name: &str, password: &str) -> Result<bool, UserError> {
        let stored: Option<String> = self
            .db
            .query_row(
                "SELECT password FROM server_users WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(stored) = stored else {
            return Ok(false);
        };
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| UserError::Crypto(format!("the stored hash of {name}: {e}")))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    }

    /// Every account with its role and how many tokens it has.
    pub fn list(&self) -> Result<Vec<(String, Role, u32)>, UserError> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT u.name, u.role, (SELECT count(*) FROM server_tokens t WHERE t.user = u.name) \
                 FROM server_users u ORDER BY u.name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, role, tokens) = row.map_err(|e| self.err(e))?;
            out.push((name, Role::parse(&role).unwrap_or(Role::Reader), tokens));
        }
        Ok(out)
    }

    /// Removes an account and its tokens.
    pub fn remove(&self, name: &str) -> Result<(), UserError> {
        let n = self
            .db
            .execute("DELETE FROM server_users WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(UserError::Unknown(name.to_string()));
        }
        self.db
            .execute("DELETE FROM server_tokens WHERE user = ?1", [name])
            .map_err(|e| self.err(e))?;
        self.db
            .execute("DELETE FROM server_web_sessions WHERE user = ?1", [name])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A new API token for `name` (shown once; only its hash is kept).
    pub fn new_token(&self, name: &str) -> Result<String, UserError> {
        if self.role_of(name)?.is_none() {
            return Err(UserError::Unknown(name.to_string()));
        }
        let token = format!("vgl_{}", random_hex(24)?);
        self.db
            .execute(
                "INSERT INTO server_tokens (hash, user, created) VALUES (?1, ?2, ?3)",
                params![sha256_hex(&token), name, now_text()],
            )
            .map_err(|e| self.err(e))?;
        Ok(token)
    }

    /// The account and role a token stands for.
    pub fn authenticate(&self, token: &str) -> Result<Option<(String, Role)>, UserError> {
        let found: Option<(String, String)> = self
            .db
            .query_row(
                "SELECT u.name, u.role FROM server_tokens t JOIN server_users u ON u.name = t.user \
                 WHERE t.hash = ?1",
                [sha256_hex(token.trim())],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(found.and_then(|(name, role)| Role::parse(&role).map(|r| (name, r))))
    }

    /// Logs `name` in from a browser: returns the cookie's secret (only its hash is
    /// kept) and the session's CSRF token.
    pub fn start_web_session(&self, name: &str) -> Result<(String, WebSession), UserError> {
        let role = self
            .role_of(name)?
            .ok_or_else(|| UserError::Unknown(name.to_string()))?;
        let secret = random_hex(32)?;
        let csrf = random_hex(16)?;
        let now = now_secs();
        self.db
            .execute(
                "DELETE FROM server_web_sessions WHERE expires < ?1",
                [now as i64],
            )
            .map_err(|e| self.err(e))?;
        self.db
            .execute(
                "INSERT INTO server_web_sessions (hash, user, csrf, expires) VALUES (?1, ?2, ?3, ?4)",
                params![sha256_hex(&secret), name, csrf, (now + WEB_SESSION_SECONDS) as i64],
            )
            .map_err(|e| self.err(e))?;
        Ok((
            secret,
            WebSession {
                user: name.to_string(),
                role,
                csrf,
            },
        ))
    }

    /// The browser session a cookie's secret stands for, unless it has expired.
    pub fn web_session(&self, secret: &str) -> Result<Option<WebSession>, UserError> {
        let found: Option<(String, String, String)> = self
            .db
            .query_row(
                "SELECT u.name, u.role, w.csrf FROM server_web_sessions w \
                 JOIN server_users u ON u.name = w.user WHERE w.hash = ?1 AND w.expires >= ?2",
                params![sha256_hex(secret), now_secs() as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(found.and_then(|(user, role, csrf)| {
            Role::parse(&role).map(|role| WebSession { user, role, csrf })
        }))
    }

    /// Logs a browser out.
    pub fn end_web_session(&self, secret: &str) -> Result<(), UserError> {
        self.db
            .execute(
                "DELETE FROM server_web_sessions WHERE hash = ?1",
                [sha256_hex(secret)],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn is_empty(&self) -> Result<bool, UserError> {
        let n: i64 = self
            .db
            .query_row("SELECT count(*) FROM server_users", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(n == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_passwords_tokens_and_removal() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let users = Users::open(&dir.path().join("vigil.db")).expect("opens");
        assert!(users.is_empty().expect("counts"));
        users
            .add("ann", Role::Analyst, "correct horse")
            .expect("adds");
        assert!(matches!(
            users.add("ann", Role::Reader, "x"),
            Err(UserError::Exists(_))
        ));
        assert!(matches!(
            users.add("bad name", Role::Reader, "x"),
            Err(UserError::BadName(_))
        ));
        assert!(
            users
                .check_password("ann", "correct horse")
                .expect("checks")
        );
        assert!(!users.check_password("ann", "wrong").expect("checks"));
        let token = users.new_token("ann").expect("a token");
        assert_eq!(
            users.authenticate(&token).expect("looks up"),
            Some(("ann".to_string(), Role::Analyst))
        );
        assert_eq!(users.authenticate("vgl_nope").expect("looks up"), None);
        assert_eq!(users.list().expect("lists")[0].2, 1);
        users.remove("ann").expect("removes");
        assert_eq!(users.authenticate(&token).expect("looks up"), None);
        assert!(matches!(users.remove("ann"), Err(UserError::Unknown(_))));
    }

    #[test]
    fn browser_sessions_start_end_and_go_with_their_account() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let users = Users::open(&dir.path().join("vigil.db")).expect("opens");
        users.add("bo", Role::Reader, "pw").expect("adds");
        let (secret, session) = users.start_web_session("bo").expect("logs in");
        assert_eq!(session.role, Role::Reader);
        assert_eq!(session.csrf.len(), 32);
        assert_eq!(
            users.web_session(&secret).expect("looks up"),
            Some(session.clone())
        );
        assert_eq!(users.web_session("forged").expect("looks up"), None);
        users.end_web_session(&secret).expect("logs out");
        assert_eq!(users.web_session(&secret).expect("looks up"), None);
        let (again, _) = users.start_web_session("bo").expect("logs in");
        users.remove("bo").expect("removes");
        assert_eq!(users.web_session(&again).expect("looks up"), None);
        assert!(matches!(
            users.start_web_session("bo"),
            Err(UserError::Unknown(_))
        ));
    }
}
