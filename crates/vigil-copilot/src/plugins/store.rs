//! Installed plugins: a copy of each manifest (and its OpenAPI spec) under
//! `<data-dir>/plugins/<Name>/`, whether it is enabled, and its settings in SQLite.
//! Setting values are secrets: nothing here logs or prints them.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::Report;
use super::skills::Settings;

/// A plugin in the data directory.
#[derive(Debug, Clone)]
pub struct InstalledPlugin {
    pub name: String,
    pub manifest: PathBuf,
    pub enabled: bool,
    /// The names of its settings (never their values).
    pub setting_names: Vec<String>,
}

pub struct PluginStore {
    dir: PathBuf,
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS copilot_plugins (
    name TEXT PRIMARY KEY,
    manifest TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS copilot_plugin_settings (
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (plugin, name)
);
";

fn db_error(e: rusqlite::Error) -> String {
    format!("the plugin registry: {e}")
}

impl PluginStore {
    /// The plugins of a data directory; `db` is its SQLite file.
    pub fn open(data_dir: &Path, db: &Path) -> Result<PluginStore, String> {
        let conn = Connection::open(db).map_err(db_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_error)?;
        conn.execute_batch(SCHEMA).map_err(db_error)?;
        Ok(PluginStore {
            dir: data_dir.join("plugins"),
            db: conn,
        })
    }

    /// Validates and installs a manifest; a plugin of the same name is replaced.
    pub fn add(&self, file: &Path) -> Result<Report, String> {
        let report = super::validate(file);
        if let Some(why) = &report.rejected {
            return Err(format!("{}: {why}", file.display()));
        }
        let name = report.plugin.clone().unwrap_or_default();
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let target = self.dir.join(&safe);
        std::fs::create_dir_all(&target)
            .map_err(|e| format!("creating {}: {e}", target.display()))?;
        let file_name = file
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("manifest.yaml"));
        let copy = target.join(&file_name);
        std::fs::copy(file, &copy).map_err(|e| format!("copying {}: {e}", file.display()))?;
        // The OpenAPI specs the manifest uses travel with it.
        if let Ok(m) = super::manifest::load(file) {
            for g in m
                .groups
                .iter()
                .filter(|g| g.format.eq_ignore_ascii_case("API"))
            {
                let reference = super::setting_text(&g.settings, "OpenApiSpecUrl");
                if let Ok(spec) = super::find_spec(file, &reference)
                    && let Some(n) = spec.file_name()
                {
                    std::fs::copy(&spec, target.join(n))
                        .map_err(|e| format!("copying {}: {e}", spec.display()))?;
                }
            }
        }
        self.db
            .execute(
                "INSERT OR REPLACE INTO copilot_plugins (name, manifest, enabled) VALUES (?1, ?2, 1)",
                params![name, copy.display().to_string()],
            )
            .map_err(db_error)?;
        Ok(super::validate(&copy))
    }

    pub fn remove(&self, name: &str) -> Result<(), String> {
        let Some(p) = self.get(name)? else {
            return Err(format!(
                "no plugin named {name} (`vigil plugins list` shows them)"
            ));
        };
        if let Some(dir) = p.manifest.parent()
            && dir.starts_with(&self.dir)
        {
            std::fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
        }
        self.db
            .execute("DELETE FROM copilot_plugins WHERE name = ?1", [&p.name])
            .map_err(db_error)?;
        self.db
            .execute(
                "DELETE FROM copilot_plugin_settings WHERE plugin = ?1",
                [&p.name],
            )
            .map_err(db_error)?;
        Ok(())
    }

    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), String> {
        let n = self
            .db
            .execute(
                "UPDATE copilot_plugins SET enabled = ?2 WHERE name = ?1 COLLATE NOCASE",
                params![name, enabled],
            )
            .map_err(db_error)?;
        if n == 0 {
            return Err(format!("no plugin named {name}"));
        }
        Ok(())
    }

    pub fn set_setting(&self, plugin: &str, key: &str, value: &str) -> Result<(), String> {
        let Some(p) = self.get(plugin)? else {
            return Err(format!("no plugin named {plugin}"));
        };
        self.db
            .execute(
                "INSERT OR REPLACE INTO copilot_plugin_settings (plugin, name, value) VALUES (?1, ?2, ?3)",
                params![p.name, key, value],
            )
            .map_err(db_error)?;
        Ok(())
    }

    pub fn settings(&self, plugin: &str) -> Result<Settings, String> {
        let mut stmt = self
            .db
            .prepare("SELECT name, value FROM copilot_plugin_settings WHERE plugin = ?1")
            .map_err(db_error)?;
        let rows = stmt
            .query_map([plugin], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db_error)?;
        rows.collect::<Result<Settings, _>>().map_err(db_error)
    }

    pub fn get(&self, name: &str) -> Result<Option<InstalledPlugin>, String> {
        Ok(self
            .list()?
            .into_iter()
            .find(|p| p.name.eq_ignore_ascii_case(name)))
    }

    pub fn list(&self) -> Result<Vec<InstalledPlugin>, String> {
        let mut stmt = self
            .db
            .prepare("SELECT name, manifest, enabled FROM copilot_plugins ORDER BY name")
            .map_err(db_error)?;
        let rows: Vec<(String, String, bool)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db_error)?
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
        rows.into_iter()
            .map(|(name, manifest, enabled)| {
                let setting_names = self.settings(&name)?.into_keys().collect();
                Ok(InstalledPlugin {
                    name,
                    manifest: PathBuf::from(manifest),
                    enabled,
                    setting_names,
                })
            })
            .collect()
    }
}
