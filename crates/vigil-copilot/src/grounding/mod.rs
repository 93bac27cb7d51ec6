//! Grounding: turning a prompt into structured context before any skill runs.
//!
//! The entities written in the prompt ([`entities`]), the devices and users it names that
//! the lake knows, the time range it speaks of ([`time`]), the tables it names, and its
//! references to earlier turns ("that device", "those users", "it"), resolved from the
//! session.

pub mod entities;
pub mod time;

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

pub use entities::{Entity, EntityKind};
pub use time::TimeRange;

/// The devices and users the lake knows, to recognise their names in a prompt.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Lower-cased name (and short name before the first dot) → the lake's spelling.
    devices: HashMap<String, String>,
    users: HashMap<String, String>,
}

/// Words that are never taken as a device or user name, whatever the lake holds.
const COMMON_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "on",
    "in",
    "to",
    "for",
    "by",
    "at",
    "is",
    "it",
    "me",
    "my",
    "show",
    "list",
    "who",
    "what",
    "which",
    "when",
    "system",
    "local",
    "service",
    "network",
    "admin",
    "administrator",
    "user",
    "users",
    "device",
    "devices",
    "host",
    "all",
    "any",
    "none",
    "null",
    "-",
    "guest",
    "default",
    "everyone",
];

impl Known {
    pub fn new(
        devices: impl IntoIterator<Item = String>,
        users: impl IntoIterator<Item = String>,
    ) -> Known {
        let mut known = Known::default();
        for d in devices {
            let lower = d.to_ascii_lowercase();
            if lower.len() < 2 || COMMON_WORDS.contains(&lower.as_str()) {
                continue;
            }
            if let Some((short, _)) = lower.split_once('.')
                && short.len() >= 3
                && !COMMON_WORDS.contains(&short)
            {
                known.devices.entry(short.to_string()).or_insert(d.clone());
            }
            known.devices.insert(lower, d);
        }
        for u in users {
            let lower = u.to_ascii_lowercase();
            if lower.len() < 3 || COMMON_WORDS.contains(&lower.as_str()) {
                continue;
            }
            known.users.insert(lower, u);
        }
        known
    }

    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Every device and user name, in the lake's spelling.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .devices
            .values()
            .chain(self.users.values())
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub fn device(&self, name: &str) -> Option<&str> {
        self.devices
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn user(&self, name: &str) -> Option<&str> {
        self.users
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A reference to something from an earlier turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The words of the prompt ("that device").
    pub text: String,
    /// The kind referred to; `None` for "it", "that" alone.
    pub kind: Option<EntityKind>,
    /// Whether the prompt asks for all of them ("those users").
    pub plural: bool,
    /// What it was resolved to (empty when the session had nothing of that kind).
    pub resolved: Vec<Entity>,
}

/// Everything grounding learnt from one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grounding {
    pub prompt: String,
    pub entities: Vec<Entity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeRange>,
    /// Catalog tables the prompt names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// A severity the prompt asks about ("high severity incidents").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// A "top N"/"five most recent" count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl Grounding {
    /// The entities of a kind, those written first, then those resolved from references.
    pub fn of_kind(&self, kind: EntityKind) -> impl Iterator<Item = &Entity> {
        self.all_entities().filter(move |e| e.kind == kind)
    }

    pub fn first(&self, kind: EntityKind) -> Option<&str> {
        self.of_kind(kind).next().map(|e| e.value.as_str())
    }

    /// Written entities, then the ones references resolved to.
    pub fn all_entities(&self) -> impl Iterator<Item = &Entity> {
        self.entities
            .iter()
            .chain(self.references.iter().flat_map(|r| r.resolved.iter()))
    }
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a bad one is a bug caught by every test.
    Regex::new(pattern).unwrap_or_else(|e| panic!("grounding pattern {pattern:?}: {e}"))
}

static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:(that|this|the same|those|these|same|its|their)\s+(device|host|machine|computer|endpoint|server|workstation|user|account|person|ip|address|ip address|hash|file|domain|url|incident|alert)(s|es)?|(?:(?:on|from|by|about|of|with|for|did|does|is|was)\s+)(it|them|that one|he|she|they)\b|(?:(?:what else did|what else has|what did|who is|is|has|have|had|does|was)\s+)(he|she|they|it))\b",
    )
});
static SEVERITY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(high|medium|low|informational|critical)(?:[- ]severity|[- ]sev|\s+priority)?\b")
});
static LIMIT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:top|first|last|latest|most recent|recent|newest)\s+(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|hundred)\b(?:[\s-]+([a-z]+))?|(?:^|\s)(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty)\s+(?:most recent|latest|newest)\b",
    )
});

/// Words after "last N" that make it a time range, not a count.
const TIME_UNITS: &[&str] = &[
    "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "d", "day", "days", "w",
    "wk", "wks", "week", "weeks", "mo", "month", "months", "y", "year", "years", "four",
];

fn number_word(word: &str) -> Option<u32> {
    Some(match word.to_ascii_lowercase().as_str() {
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "twenty" => 20,
        "fifty" => 50,
        "hundred" => 100,
        digits => digits.parse().ok()?,
    })
}

fn reference_kind(word: &str) -> Option<EntityKind> {
    Some(match word.to_ascii_lowercase().as_str() {
        "device" | "host" | "machine" | "computer" | "endpoint" | "server" | "workstation" => {
            EntityKind::Device
        }
        "user" | "account" | "person" => EntityKind::User,
        "ip" | "address" | "ip address" => EntityKind::Ipv4,
        "hash" | "file" => EntityKind::Sha256,
        "domain" => EntityKind::Domain,
        "url" => EntityKind::Url,
        "incident" => EntityKind::Incident,
        _ => return None,
    })
}

/// Grounds prompts: recognises entities, names the lake knows, times and references.
pub struct Grounder {
    known: Known,
    now: DateTime<Utc>,
    tables: Vec<String>,
}

impl Grounder {
    pub fn new(known: Known, now: DateTime<Utc>) -> Grounder {
        let tables = vigil_schema::Catalog::builtin()
            .tables()
            .map(|t| t.name.clone())
            .collect();
        Grounder { known, now, tables }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn known(&self) -> &Known {
        &self.known
    }

    /// Grounds `prompt`. `earlier` holds the entities of earlier turns of the session,
    /// most recent first, for resolving references.
    pub fn ground(&self, prompt: &str, earlier: &[Entity]) -> Grounding {
        let mut entities = entities::extract(prompt);
        self.named_in(prompt, &mut entities);
        let time = time::find(prompt, self.now);
        let tables = self.tables_in(prompt);
        let references = self.references_in(prompt, &entities, earlier);
        let severity = SEVERITY
            .captures(prompt)
            .filter(|c| {
                // "low" in "follow", "high" alone in "highlight" are excluded by \b; a bare
                // "high" without a noun after it still counts ("show high incidents").
                !c[0].is_empty()
            })
            .map(|c| {
                let s = c[1].to_ascii_lowercase();
                let s = if s == "critical" { "high".into() } else { s };
                let mut chars = s.chars();
                chars
                    .next()
                    .map(|f| f.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            });
        let limit = LIMIT
            .captures_iter(prompt)
            .filter(|c| {
                let unit = c.get(2).map(|u| u.as_str().to_ascii_lowercase());
                !unit.is_some_and(|u| TIME_UNITS.contains(&u.as_str()))
                    && !c.get(1).is_some_and(|n| {
                        n.as_str().eq_ignore_ascii_case("twenty")
                            && c.get(2).is_some_and(|u| u.as_str().starts_with("four"))
                    })
            })
            .find_map(|c| c.get(1).or_else(|| c.get(3)))
            .and_then(|m| number_word(m.as_str()));
        Grounding {
            prompt: prompt.to_string(),
            entities,
            time,
            tables,
            references,
            severity,
            limit,
        }
    }

    /// Devices and users the lake knows, named in the prompt. A known device written as a
    /// domain (`ws-01.corp.example`) becomes a device.
    fn named_in(&self, prompt: &str, entities: &mut Vec<Entity>) {
        let mut found = Vec::new();
        let refanged = entities::refang(prompt);
        for (_, word) in entities::words(&refanged) {
            let word = word.trim_end_matches("'s").trim_end_matches('\'');
            if let Some(device) = self.known.device(word) {
                found.push(Entity::new(EntityKind::Device, device));
            } else if let Some(user) = self.known.user(word) {
                found.push(Entity::new(EntityKind::User, user));
            } else if let Some((name, _)) = word.split_once('@')
                && let Some(user) = self.known.user(name)
            {
                // A UPN whose account the lake knows by its short name.
                found.push(Entity::new(EntityKind::User, user));
            } else if let Some((domain, name)) = word.split_once('\\')
                && !domain.is_empty()
                && let Some(user) = self.known.user(name)
            {
                found.push(Entity::new(EntityKind::User, user));
            }
        }
        entities
            .retain(|e| !(e.kind == EntityKind::Domain && self.known.device(&e.value).is_some()));
        for f in found {
            // A known user whose name is an email the prompt wrote is that email.
            let as_email = f.kind == EntityKind::User
                && entities
                    .iter()
                    .any(|e| e.kind == EntityKind::Email && e.value.eq_ignore_ascii_case(&f.value));
            if !as_email
                && !entities
                    .iter()
                    .any(|e| e.kind == f.kind && e.value == f.value)
            {
                entities.push(f);
            }
        }
    }

    fn tables_in(&self, prompt: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (_, word) in entities::words(prompt) {
            if let Some(t) = self.tables.iter().find(|t| t.eq_ignore_ascii_case(word))
                && !out.contains(t)
            {
                out.push(t.clone());
            }
        }
        out
    }

    fn references_in(
        &self,
        prompt: &str,
        written: &[Entity],
        earlier: &[Entity],
    ) -> Vec<Reference> {
        let mut out = Vec::new();
        for c in REFERENCE.captures_iter(prompt) {
            let text = c[0].trim().to_string();
            let (kind, plural) = if let Some(noun) = c.get(2) {
                let det = c.get(1).map_or("", |d| d.as_str()).to_ascii_lowercase();
                let plural = c.get(3).is_some() || matches!(det.as_str(), "those" | "these");
                (reference_kind(noun.as_str()), plural)
            } else {
                let pronoun = c
                    .get(4)
                    .or_else(|| c.get(5))
                    .map_or("", |p| p.as_str())
                    .to_ascii_lowercase();
                match pronoun.as_str() {
                    "he" | "she" => (Some(EntityKind::User), false),
                    "they" | "them" => (None, true),
                    _ => (None, false),
                }
            };
            // "the device ws-01": the prompt names it itself.
            if kind.is_some_and(|k| written.iter().any(|e| same_family(e.kind, k))) {
                continue;
            }
            if kind.is_none() && !written.is_empty() {
                continue;
            }
            let matching: Vec<&Entity> = earlier
                .iter()
                .filter(|e| kind.is_none_or(|k| same_family(e.kind, k)))
                .collect();
            let resolved: Vec<Entity> = if plural {
                let first_kind = matching.first().map(|e| e.kind);
                matching
                    .into_iter()
                    .filter(|e| Some(e.kind) == first_kind)
                    .cloned()
                    .collect()
            } else {
                matching.into_iter().take(1).cloned().collect()
            };
            let resolved = resolved
                .into_iter()
                .map(|mut e| {
                    e.from = Some("session".into());
                    e
                })
                .collect();
            if out.iter().any(|r: &Reference| r.text == text) {
                continue;
            }
            out.push(Reference {
                text,
                kind,
                plural,
                resolved,
            });
        }
        out
    }
}

/// Kinds that a reference noun covers together: "that IP" is v4 or v6, "that file" any
/// hash or path.
fn same_family(a: EntityKind, b: EntityKind) -> bool {
    a == b
        || (a.is_ip() && b.is_ip())
        || (a.is_hash() || a == EntityKind::FilePath) && (b.is_hash() || b == EntityKind::FilePath)
        || matches!(
            (a, b),
            (EntityKind::User, EntityKind::Email) | (EntityKind::Email, EntityKind::User)
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn grounder() -> Grounder {
        let known = Known::new(
            ["WS-FIN-01.corp.example".to_string(), "dc01".to_string()],
            ["jdoe".to_string(), "SYSTEM".to_string()],
        );
        Grounder::new(known, Utc.with_ymd_and_hms(2026, 3, 11, 15, 30, 0).unwrap())
    }

    #[test]
    fn known_names_by_short_name() {
        let g = grounder().ground("what happened on ws-fin-01 for jdoe", &[]);
        assert_eq!(g.first(EntityKind::Device), Some("WS-FIN-01.corp.example"));
        assert_eq!(g.first(EntityKind::User), Some("jdoe"));
    }

    #[test]
    fn that_device_comes_from_the_session() {
        let earlier = [
            Entity::new(EntityKind::User, "jdoe"),
            Entity::new(EntityKind::Device, "dc01"),
        ];
        let g = grounder().ground("what else ran on that device?", &earlier);
        assert_eq!(g.first(EntityKind::Device), Some("dc01"));
        assert_eq!(g.references[0].text, "that device");
    }

    #[test]
    fn plural_references_take_every_earlier_value_and_it_the_latest() {
        let earlier = [
            Entity::new(EntityKind::User, "jdoe"),
            Entity::new(EntityKind::User, "asmith"),
            Entity::new(EntityKind::Device, "dc01"),
        ];
        let g = grounder().ground("Where did those users sign in from?", &earlier);
        let users: Vec<&str> = g
            .of_kind(EntityKind::User)
            .map(|e| e.value.as_str())
            .collect();
        assert_eq!(users, ["jdoe", "asmith"], "{g:?}");
        let g = grounder().ground("Which user logged on to that device?", &earlier);
        assert_eq!(g.first(EntityKind::Device), Some("dc01"));
        let g = grounder().ground("What else did it do yesterday?", &earlier);
        assert_eq!(g.references.len(), 1, "{g:?}");
        assert_eq!(
            g.references[0].resolved.first().map(|e| e.value.as_str()),
            Some("jdoe"),
            "{g:?}"
        );
    }

    #[test]
    fn severity_and_limit() {
        let g = grounder().ground("Show the five most recent high severity incidents", &[]);
        assert_eq!(g.severity.as_deref(), Some("High"));
        assert_eq!(g.limit, Some(5));
    }
}
