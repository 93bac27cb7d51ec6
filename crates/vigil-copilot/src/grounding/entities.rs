//! Indicators and identifiers written in a prompt: addresses, hashes, URLs, accounts,
//! CVE and ATT&CK ids, incident numbers, paths and registry keys, defanged or not.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// What kind of thing an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Ipv4,
    Ipv6,
    Domain,
    Url,
    Md5,
    Sha1,
    Sha256,
    /// An email address or a user principal name (they look the same).
    Email,
    Cve,
    /// An ATT&CK technique, sub-technique or tactic id.
    Technique,
    Incident,
    FilePath,
    RegistryKey,
    /// A device the lake knows.
    Device,
    /// A user the lake knows.
    User,
}

impl EntityKind {
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Ipv4 => "ipv4",
            EntityKind::Ipv6 => "ipv6",
            EntityKind::Domain => "domain",
            EntityKind::Url => "url",
            EntityKind::Md5 => "md5",
            EntityKind::Sha1 => "sha1",
            EntityKind::Sha256 => "sha256",
            EntityKind::Email => "email",
            EntityKind::Cve => "cve",
            EntityKind::Technique => "technique",
            EntityKind::Incident => "incident",
            EntityKind::FilePath => "file_path",
            EntityKind::RegistryKey => "registry_key",
            EntityKind::Device => "device",
            EntityKind::User => "user",
        }
    }

    pub fn parse(name: &str) -> Option<EntityKind> {
        ALL_KINDS
            .iter()
            .copied()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    pub fn is_ip(self) -> bool {
        matches!(self, EntityKind::Ipv4 | EntityKind::Ipv6)
    }

    pub fn is_hash(self) -> bool {
        matches!(
            self,
            EntityKind::Md5 | EntityKind::Sha1 | EntityKind::Sha256
        )
    }
}

pub const ALL_KINDS: [EntityKind; 15] = [
    EntityKind::Ipv4,
    EntityKind::Ipv6,
    EntityKind::Domain,
    EntityKind::Url,
    EntityKind::Md5,
    EntityKind::Sha1,
    EntityKind::Sha256,
    EntityKind::Email,
    EntityKind::Cve,
    EntityKind::Technique,
    EntityKind::Incident,
    EntityKind::FilePath,
    EntityKind::RegistryKey,
    EntityKind::Device,
    EntityKind::User,
];

/// One entity found in a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    pub kind: EntityKind,
    /// The usable value: refanged, and in the lake's spelling for devices and users.
    pub value: String,
    /// True when the prompt wrote it defanged (`hxxp://`, `evil[.]com`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub defanged: bool,
    /// Where it came from when not from the prompt itself ("session" for a reference
    /// to an earlier turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl Entity {
    pub fn new(kind: EntityKind, value: impl Into<String>) -> Entity {
        Entity {
            kind,
            value: value.into(),
            defanged: false,
            from: None,
        }
    }
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a bad one is a bug caught by every test.
    Regex::new(pattern).unwrap_or_else(|e| panic!("entity pattern {pattern:?}: {e}"))
}

static URL: LazyLock<Regex> = LazyLock::new(|| re(r#"(?i)\b(?:https?|ftp)://[^\s<>"'`]+"#));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b[a-z0-9][a-z0-9._%+\-]*@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,63}\b",
    )
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| re(r"(?:\d{1,3}\.){3}\d{1,3}"));
static HASH: LazyLock<Regex> = LazyLock::new(|| re(r"\b[0-9a-fA-F]{32,64}\b"));
static CVE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bcve-\d{4}-\d{4,7}\b"));
static TECHNIQUE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b(?:t\d{4}(?:\.\d{3})?|ta\d{4})\b"));
static INCIDENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\bincidents?\s*(?:number|no\.?|id|#)?\s*[:#]?\s*#?(\d{1,9}(?:\s*(?:,|and|&|or)\s*#?\d{1,9})*)\b",
    )
});
static NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"\d+"));
static WIN_PATH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?:"((?:[a-z]:\\|\\\\|%[a-z_]+%\\)[^"]*)"|'((?:[a-z]:\\|\\\\|%[a-z_]+%\\)[^']*)'|(?:^|[\s(=,])((?:[a-z]:\\|\\\\[a-z0-9._\-$]+\\|%[a-z_]+%\\)[^\s"'<>|,;)]*))"#,
    )
});
static UNIX_PATH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:^|[\s("'=])(/(?:etc|tmp|var|usr|home|opt|bin|sbin|root|dev|proc|srv|mnt|lib|Users|Library|Applications|private)(?:/[^\s"'<>|,;)]*)?)"#,
    )
});
static REGISTRY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(?:hklm|hkcu|hkcr|hku|hkcc|hkey_local_machine|hkey_current_user|hkey_classes_root|hkey_users|hkey_current_config)(?::)?\\[^\s"'<>|,;]*"#,
    )
});
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9\-]{0,61}[a-z0-9]\b")
});

/// Endings that make a dotted word a file name rather than a domain.
const FILE_ENDINGS: &[&str] = &[
    "exe", "dll", "sys", "ps1", "psm1", "psd1", "bat", "cmd", "vbs", "vbe", "js", "jse", "hta",
    "wsf", "scr", "msi", "lnk", "txt", "log", "csv", "json", "jsonl", "ndjson", "xml", "yml",
    "yaml", "toml", "ini", "cfg", "conf", "evtx", "doc", "docx", "docm", "xls", "xlsx", "xlsm",
    "ppt", "pptx", "pdf", "zip", "rar", "7z", "gz", "tar", "iso", "img", "vhd", "png", "jpg",
    "jpeg", "gif", "tmp", "dat", "db", "sqlite", "bin", "py", "sh", "rs", "kql", "md", "html",
    "htm", "php", "aspx", "jsp", "jar", "class", "dmp", "parquet", "pem", "crt", "cer", "key",
    "pfx", "eml", "msg", "one", "onepkg", "reg", "cab", "inf", "cpl", "ocx", "drv", "efi",
];

/// Words that end like a TLD but are plain English in a prompt ("e.g.", "i.e." are caught
/// by the length rule).
const NOT_DOMAINS: &[&str] = &["vs.net"];

/// Undoes the common ways of defanging indicators: `hxxp`, `[.]`, `(.)`, `[dot]`, `[:]`,
/// `[@]`, `[at]`.
pub fn refang(text: &str) -> String {
    static BRACKETED: LazyLock<Regex> = LazyLock::new(|| {
        re(r"(?i)\s?(?:\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\})\s?")
    });
    static AT: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?i)\s?(?:\[\s*(?:@|at)\s*\]|\(\s*(?:@|at)\s*\))\s?"));
    static SCHEME: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?i)\b(h[xX]{2}p|hxxps|fxp)(s?)(\[:\]|\[://\]|:)(//)?"));
    static COLON: LazyLock<Regex> = LazyLock::new(|| re(r"\[:\]"));
    let text = BRACKETED.replace_all(text, ".");
    let text = AT.replace_all(&text, "@");
    let text = SCHEME.replace_all(&text, |c: &regex::Captures| {
        let scheme = c[1].to_ascii_lowercase();
        let base = match scheme.as_str() {
            "hxxps" => "https",
            "fxp" => "ftp",
            _ => "http",
        };
        format!("{base}{}://", &c[2])
    });
    COLON.replace_all(&text, ":").into_owned()
}

/// Defangs a URL, domain, IP or email for display where a click must not follow it.
pub fn defang(value: &str) -> String {
    let mut out = value.replacen("http", "hxxp", 1).replace('.', "[.]");
    if out.starts_with("ftp") {
        out = out.replacen("ftp", "fxp", 1);
    }
    out.replace('@', "[@]")
}

/// A span of the prompt already claimed by an entity, so that a URL's host is not also
/// reported as a domain, nor an email's domain.
struct Claimed(Vec<(usize, usize)>);

impl Claimed {
    fn overlaps(&self, start: usize, end: usize) -> bool {
        self.0.iter().any(|&(s, e)| start < e && s < end)
    }
    fn claim(&mut self, start: usize, end: usize) {
        self.0.push((start, end));
    }
}

fn trim_trailing(value: &str) -> &str {
    value.trim_end_matches(['.', ',', ';', ':', ')', ']', '}', '!', '?', '\'', '"'])
}

/// Every indicator and identifier in `prompt`, in the order of the first sighting of each,
/// without duplicates.
pub fn extract(prompt: &str) -> Vec<Entity> {
    let text = refang(prompt);
    let lowered_prompt = prompt.to_ascii_lowercase();
    let mut out: Vec<(usize, Entity)> = Vec::new();
    let mut claimed = Claimed(Vec::new());
    let push = |at: usize, kind: EntityKind, value: String, out: &mut Vec<(usize, Entity)>| {
        if value.is_empty() || out.iter().any(|(_, e)| e.kind == kind && e.value == value) {
            return;
        }
        let defanged = matches!(
            kind,
            EntityKind::Url
                | EntityKind::Domain
                | EntityKind::Ipv4
                | EntityKind::Email
                | EntityKind::Ipv6
        ) && !lowered_prompt.contains(&value.to_ascii_lowercase());
        out.push((
            at,
            Entity {
                kind,
                value,
                defanged,
                from: None,
            },
        ));
    };

    for m in URL.find_iter(&text) {
        let value = trim_trailing(m.as_str());
        claimed.claim(m.start(), m.start() + value.len());
        push(m.start(), EntityKind::Url, value.to_string(), &mut out);
    }
    for m in REGISTRY.find_iter(&text) {
        let value = trim_trailing(m.as_str());
        claimed.claim(m.start(), m.start() + value.len());
        push(
            m.start(),
            EntityKind::RegistryKey,
            value.to_string(),
            &mut out,
        );
    }
    for c in WIN_PATH.captures_iter(&text) {
        let Some(m) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3)) else {
            continue;
        };
        if claimed.overlaps(m.start(), m.end()) {
            continue;
        }
        let quoted = c.get(3).is_none();
        let value = if quoted {
            m.as_str()
        } else {
            trim_trailing(m.as_str())
        };
        if value.len() < 3 {
            continue;
        }
        claimed.claim(m.start(), m.start() + value.len());
        push(m.start(), EntityKind::FilePath, value.to_string(), &mut out);
    }
    for c in UNIX_PATH.captures_iter(&text) {
        let Some(m) = c.get(1) else { continue };
        if claimed.overlaps(m.start(), m.end()) {
            continue;
        }
        let value = trim_trailing(m.as_str());
        claimed.claim(m.start(), m.start() + value.len());
        push(m.start(), EntityKind::FilePath, value.to_string(), &mut out);
    }
    for m in EMAIL.find_iter(&text) {
        if claimed.overlaps(m.start(), m.end()) {
            continue;
        }
        claimed.claim(m.start(), m.end());
        push(
            m.start(),
            EntityKind::Email,
            m.as_str().to_ascii_lowercase(),
            &mut out,
        );
    }
    for m in CVE.find_iter(&text) {
        push(
            m.start(),
            EntityKind::Cve,
            m.as_str().to_ascii_uppercase(),
            &mut out,
        );
    }
    for m in TECHNIQUE.find_iter(&text) {
        push(
            m.start(),
            EntityKind::Technique,
            m.as_str().to_ascii_uppercase(),
            &mut out,
        );
    }
    for c in INCIDENT.captures_iter(&text) {
        let Some(list) = c.get(1) else { continue };
        for n in NUMBER.find_iter(list.as_str()) {
            let value = n.as_str().trim_start_matches('0');
            let value = if value.is_empty() { "0" } else { value };
            push(
                list.start() + n.start(),
                EntityKind::Incident,
                value.to_string(),
                &mut out,
            );
        }
    }
    for m in HASH.find_iter(&text) {
        let kind = match m.as_str().len() {
            32 => EntityKind::Md5,
            40 => EntityKind::Sha1,
            64 => EntityKind::Sha256,
            _ => continue,
        };
        // A run of digits alone is a number, not a hash.
        if m.as_str().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        claimed.claim(m.start(), m.end());
        push(m.start(), kind, m.as_str().to_ascii_lowercase(), &mut out);
    }
    for m in IPV4.find_iter(&text) {
        // Not part of a longer dotted number (a version, an OID).
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        let after2 = text[m.end()..].chars().nth(1);
        if before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            || after.is_some_and(|c| c.is_ascii_digit())
            || (after == Some('.') && after2.is_some_and(|c| c.is_ascii_digit()))
        {
            continue;
        }
        if claimed.overlaps(m.start(), m.end()) || m.as_str().parse::<Ipv4Addr>().is_err() {
            continue;
        }
        claimed.claim(m.start(), m.end());
        push(
            m.start(),
            EntityKind::Ipv4,
            m.as_str().to_string(),
            &mut out,
        );
    }
    for (start, word) in words(&text) {
        if word.matches(':').count() < 2 || claimed.overlaps(start, start + word.len()) {
            continue;
        }
        let candidate = word.split('%').next().unwrap_or(word);
        let candidate = candidate.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = candidate.parse::<Ipv6Addr>() {
            claimed.claim(start, start + word.len());
            push(start, EntityKind::Ipv6, ip.to_string(), &mut out);
        }
    }
    for m in DOMAIN.find_iter(&text) {
        if claimed.overlaps(m.start(), m.end()) {
            continue;
        }
        // Part of a path or a bigger word (`C:\x\file.exe`, `a_b.c`).
        let before = text[..m.start()].chars().next_back();
        if before.is_some_and(|c| matches!(c, '\\' | '/' | '_' | '%' | '$' | '@' | '-')) {
            continue;
        }
        let value = m.as_str().to_ascii_lowercase();
        let tld = value.rsplit('.').next().unwrap_or("");
        if tld.bytes().any(|b| b.is_ascii_digit())
            || FILE_ENDINGS.contains(&tld)
            || NOT_DOMAINS.contains(&value.as_str())
        {
            continue;
        }
        claimed.claim(m.start(), m.end());
        push(m.start(), EntityKind::Domain, value, &mut out);
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, e)| e).collect()
}

/// Whitespace-separated words with their byte offsets, stripped of surrounding
/// punctuation.
pub(crate) fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive(char::is_whitespace)
        .filter_map(move |piece| {
            let start = offset;
            offset += piece.len();
            let trimmed_front = piece.trim_start_matches(['(', '"', '\'', '`', '<', '[']);
            let lead = piece.len() - trimmed_front.len();
            let word = trim_trailing(trimmed_front.trim_end())
                .trim_end_matches(['>', '`'])
                .trim_end_matches(['.', ',', ';', '?', '!']);
            (!word.is_empty()).then_some((start + lead, word))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(prompt: &str) -> Vec<(EntityKind, String)> {
        extract(prompt)
            .into_iter()
            .map(|e| (e.kind, e.value))
            .collect()
    }

    #[test]
    fn refangs_the_usual_forms() {
        assert_eq!(refang("hxxp://evil[.]com/a"), "http://evil.com/a");
        assert_eq!(refang("hxxps[://]bad(.)org"), "https://bad.org");
        assert_eq!(refang("user[at]corp[dot]example"), "user@corp.example");
        assert_eq!(refang("10[.]0[.]0[.]1"), "10.0.0.1");
    }

    #[test]
    fn a_url_host_is_not_also_a_domain() {
        let found = kinds("block hxxps://login-portal[.]example/x?a=1 now");
        assert_eq!(
            found,
            vec![(EntityKind::Url, "https://login-portal.example/x?a=1".into())]
        );
    }

    #[test]
    fn file_names_are_not_domains() {
        assert!(kinds("what ran powershell.exe and rundll32.exe").is_empty());
    }

    #[test]
    fn lists_of_incidents() {
        let found = kinds("compare incidents 12, 14 and #15");
        let numbers: Vec<_> = found.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(numbers, ["12", "14", "15"]);
    }
}
