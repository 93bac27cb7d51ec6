//! Indicators of compromise in script text: URLs, domains, IP addresses, hashes, paths,
//! registry keys and email addresses, defanged forms included, with known noise marked.

use std::collections::HashSet;
use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Indicator, IndicatorKind};
use crate::re;

/// A dot, or a dot in one of the ways analysts defang it.
const DOT: &str = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\))";

static URL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(?:h[tx]{2}ps?|fxp|ftps?|sftp)(?:://|\[://\]|\[:\]//|:\[//\]|:\\\\)(?:[^\s'"<>`)\[\]}|,;^]|\[\.\]|\[dot\]|\(\.\))+"#,
    )
});
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b((?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?{DOT})+[a-z]{{2,24}})\b"
    ))
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(\d{{1,3}}{DOT}\d{{1,3}}{DOT}\d{{1,3}}{DOT}\d{{1,3}})\b"
    ))
});
static IPV6: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:^|[^\w:.])([0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})(?:$|[^\w:.])"));
static HASH: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})\b"));
static WIN_PATH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?:\b[a-z]:\\|%[a-z_()]+%\\|\$env:[a-z_]+\\|\\\\[a-z0-9._$-]+\\)[^\s'"<>|*?`,;()\[\]{}]*[^\s'"<>|*?`,;()\[\]{}.\\]"#,
    )
});
static UNIX_PATH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:^|[\s'"=(>])(/(?:tmp|var/tmp|dev/shm|etc|usr|bin|sbin|opt|root|home|Library|Users|private)/[^\s'"<>|;&)`]*[^\s'"<>|;&)`.,/])"#,
    )
});
static REGISTRY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(?:Registry::)?((?:HKLM|HKCU|HKCR|HKU|HKCC|HKEY_LOCAL_MACHINE|HKEY_CURRENT_USER|HKEY_CLASSES_ROOT|HKEY_USERS|HKEY_CURRENT_CONFIG):?\\[^'"\r\n|;`)\]]*[^'"\r\n|;`)\]\s\\])"#,
    )
});
static NEXT_ARG: LazyLock<Regex> = LazyLock::new(|| re(r"\s+(?:[-/]|[A-Za-z]:\\|%|\$|HK)"));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b([a-z0-9._%+-]+(?:@|\[@\]|\[at\]|\(at\))(?:[a-z0-9-]+{DOT})+[a-z]{{2,24}})\b"
    ))
});

/// Top-level domains worth reporting. Names like `System.Net` or `file.ps1` end in labels
/// that are not here, which keeps .NET types and file names out of the domain list.
const TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "io", "co", "me", "ru", "su", "cn", "top", "xyz", "site",
    "online", "club", "live", "shop", "store", "tech", "space", "website", "pw", "tk", "ml", "ga",
    "cf", "gq", "cc", "ws", "in", "us", "uk", "de", "fr", "nl", "eu", "ir", "kp", "ua", "br", "jp",
    "kr", "tw", "hk", "vn", "tr", "pl", "it", "es", "ca", "au", "link", "click", "app", "dev",
    "icu", "buzz", "cloud", "host", "today", "work", "ly", "to", "invalid", "example", "test",
    "local", "onion", "gov", "edu", "mil", "int", "ch", "se", "no", "fi", "dk", "cz", "ro", "bg",
    "by", "kz", "id", "th", "my", "sg", "pk", "ng", "za", "mx", "ar", "cl", "tv", "fm", "am", "la",
    "ai", "gg", "li", "xn--p1ai", "name", "pro", "mobi", "asia", "run", "page", "zone", "network",
    "systems", "services", "support",
];

/// The live form of a defanged value.
pub fn refang(s: &str) -> String {
    let mut out = s.to_string();
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[DOT]", "."),
        ("[://]", "://"),
        ("[:]", ":"),
        ("[//]", "//"),
        ("[@]", "@"),
        ("[at]", "@"),
        ("(at)", "@"),
        ("[AT]", "@"),
    ] {
        out = out.replace(from, to);
    }
    let lower = out.to_ascii_lowercase();
    for (bad, good) in [("hxxps", "https"), ("hxxp", "http"), ("fxp", "ftp")] {
        if lower.starts_with(bad) {
            out = format!("{good}{}", &out[bad.len()..]);
            break;
        }
    }
    if let Some(rest) = out.strip_prefix("http:\\\\") {
        out = format!("http://{rest}");
    }
    out
}

/// The safe form of a live value.
pub fn defang(kind: IndicatorKind, value: &str) -> String {
    match kind {
        IndicatorKind::Url => {
            let (scheme, rest) = value.split_once("://").unwrap_or(("", value));
            let (host, path) = match rest.find('/') {
                Some(p) => (&rest[..p], &rest[p..]),
                None => (rest, ""),
            };
            let scheme = scheme
                .to_ascii_lowercase()
                .replace("http", "hxxp")
                .replace("ftp", "fxp");
            format!("{scheme}://{}{path}", defang_host(host))
        }
        IndicatorKind::Domain | IndicatorKind::Ipv4 => defang_host(value),
        IndicatorKind::Email => match value.split_once('@') {
            Some((user, host)) => format!("{user}[@]{}", defang_host(host)),
            None => value.to_string(),
        },
        IndicatorKind::Ipv6 => value.replace(':', "[:]"),
        _ => value.to_string(),
    }
}

/// Brackets the last dot only, the common convention (`evil[.]com`, `1.2.3[.]4`).
fn defang_host(host: &str) -> String {
    match host.rfind('.') {
        Some(p) => format!("{}[.]{}", &host[..p], &host[p + 1..]),
        None => host.to_string(),
    }
}

fn host_benign(host: &str) -> Option<String> {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    let h = h.split(':').next().unwrap_or(&h).to_string();
    let under = |d: &str| h == d || h.ends_with(&format!(".{d}"));
    if h == "localhost" || under("localhost") || h == "127.0.0.1" || h == "::1" || h == "0.0.0.0" {
        return Some("loopback address".into());
    }
    if h.starts_with("127.") {
        return Some("loopback address".into());
    }
    for d in ["example.com", "example.org", "example.net", "example"] {
        if under(d) {
            return Some("documentation domain reserved by RFC 2606".into());
        }
    }
    if under("invalid") || under("test") {
        return Some("reserved top-level domain that never resolves (RFC 2606)".into());
    }
    for d in [
        "windowsupdate.com",
        "update.microsoft.com",
        "download.microsoft.com",
        "go.microsoft.com",
        "microsoft.com",
        "windows.com",
        "msftncsi.com",
    ] {
        if under(d) {
            return Some("Microsoft update or Windows service domain".into());
        }
    }
    for d in ["schemas.microsoft.com", "w3.org", "schemas.xmlsoap.org"] {
        if under(d) {
            return Some("XML namespace, not a network destination".into());
        }
    }
    None
}

fn trim_tail(s: &str) -> &str {
    s.trim_end_matches(['.', ',', ';', ':', '\'', '"', ')', '\\', '!', '?'])
}

struct Found {
    list: Vec<Indicator>,
    seen: HashSet<(IndicatorKind, String)>,
}

impl Found {
    fn add(&mut self, kind: IndicatorKind, value: String) {
        if value.is_empty() || value.len() > 2048 || self.list.len() >= 500 {
            return;
        }
        let key = match kind {
            IndicatorKind::Url | IndicatorKind::FilePath => value.clone(),
            _ => value.to_ascii_lowercase(),
        };
        if !self.seen.insert((kind, key)) {
            return;
        }
        let host = match kind {
            IndicatorKind::Url => url_host(&value),
            IndicatorKind::Domain | IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                Some(value.clone())
            }
            IndicatorKind::Email => value.split_once('@').map(|(_, h)| h.to_string()),
            _ => None,
        };
        let benign = host.as_deref().and_then(host_benign);
        self.list.push(Indicator {
            kind,
            defanged: defang(kind, &value),
            value,
            benign,
        });
    }
}

pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host.trim_start_matches('[').split(']').next()?
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn valid_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255))
}

fn valid_domain(d: &str) -> bool {
    let lower = d.to_ascii_lowercase();
    let labels: Vec<&str> = lower.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return false;
    }
    let tld = labels[labels.len() - 1];
    if !TLDS.contains(&tld) || labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return false;
    }
    // .NET namespaces (System.Net, Microsoft.Win32) read like domains but are not.
    !matches!(labels[0], "system" | "microsoft" | "io" | "text" | "net")
        || labels.len() > 2 && tld != "net"
}

/// Every indicator in `text`, in order of first appearance per kind.
pub fn extract_into(text: &str, out: &mut Vec<Indicator>) {
    let mut found = Found {
        seen: out
            .iter()
            .map(|i| {
                let key = match i.kind {
                    IndicatorKind::Url | IndicatorKind::FilePath => i.value.clone(),
                    _ => i.value.to_ascii_lowercase(),
                };
                (i.kind, key)
            })
            .collect(),
        list: std::mem::take(out),
    };
    let mut url_spans = Vec::new();
    for m in URL.find_iter(text) {
        let raw = trim_tail(m.as_str());
        url_spans.push((m.start(), m.end()));
        let value = refang(raw);
        if let Some(host) = url_host(&value) {
            if valid_ipv4(&host) {
                found.add(IndicatorKind::Ipv4, host.clone());
            } else if valid_domain(&host) {
                found.add(IndicatorKind::Domain, host.clone());
            } else if host.parse::<Ipv6Addr>().is_ok() {
                found.add(IndicatorKind::Ipv6, host.clone());
            }
        }
        found.add(IndicatorKind::Url, value);
    }
    let in_url = |pos: usize| url_spans.iter().any(|&(s, e)| pos >= s && pos < e);
    for caps in EMAIL.captures_iter(text) {
        if let Some(m) = caps.get(1) {
            found.add(IndicatorKind::Email, refang(m.as_str()));
        }
    }
    for caps in IPV4.captures_iter(text) {
        let Some(m) = caps.get(1) else { continue };
        let value = refang(m.as_str());
        let prefixed =
            text[..m.start()].ends_with(['.', '-']) || text[m.end()..].starts_with(['.', '-']);
        if valid_ipv4(&value) && !prefixed && !in_url(m.start()) {
            found.add(IndicatorKind::Ipv4, value);
        }
    }
    for caps in DOMAIN.captures_iter(text) {
        let Some(m) = caps.get(1) else { continue };
        if in_url(m.start()) {
            continue;
        }
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        // `$client.DownloadString`, `file.name(`, `.\x.ps1` and e-mail users are not domains.
        if before.is_some_and(|c| matches!(c, '$' | '@' | '\\' | '/' | '.' | '-' | '_'))
            || after.is_some_and(|c| matches!(c, '(' | '-' | '_' | '@' | '\\'))
        {
            continue;
        }
        let raw = m.as_str();
        let defanged = ["[.]", "(.)", "{.}", "[dot]", "(dot)"]
            .iter()
            .any(|d| raw.contains(d));
        let value = refang(raw);
        if valid_domain(&value) && (defanged || !looks_like_member(&value)) {
            found.add(IndicatorKind::Domain, value.to_ascii_lowercase());
        }
    }
    for caps in IPV6.captures_iter(text) {
        let Some(m) = caps.get(1) else { continue };
        let s = m.as_str();
        let groups = s.split(':').filter(|g| !g.is_empty()).count();
        if groups >= 3 && s.parse::<Ipv6Addr>().is_ok() && s.chars().any(|c| c.is_ascii_digit()) {
            found.add(IndicatorKind::Ipv6, s.to_ascii_lowercase());
        }
    }
    for caps in HASH.captures_iter(text) {
        let Some(m) = caps.get(1) else { continue };
        let s = m.as_str();
        let distinct: HashSet<char> = s.chars().collect();
        if distinct.len() < 6 || !s.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let kind = match s.len() {
            32 => IndicatorKind::Md5,
            40 => IndicatorKind::Sha1,
            _ => IndicatorKind::Sha256,
        };
        found.add(kind, s.to_ascii_lowercase());
    }
    for m in WIN_PATH.find_iter(text) {
        if !in_url(m.start()) {
            found.add(IndicatorKind::FilePath, trim_tail(m.as_str()).to_string());
        }
    }
    for caps in UNIX_PATH.captures_iter(text) {
        if let Some(m) = caps.get(1)
            && !in_url(m.start())
        {
            found.add(IndicatorKind::FilePath, m.as_str().to_string());
        }
    }
    for caps in REGISTRY.captures_iter(text) {
        if let Some(m) = caps.get(1) {
            // Keys may hold spaces (`Windows Defender`); a space before a switch, a drive
            // or a variable starts the next argument instead.
            let key = match NEXT_ARG.find(m.as_str()) {
                Some(a) => &m.as_str()[..a.start()],
                None => m.as_str(),
            };
            found.add(
                IndicatorKind::RegistryKey,
                trim_tail(key.trim_end()).to_string(),
            );
        }
    }
    *out = found.list;
}

/// `Foo.Bar` in PascalCase with a short TLD-like tail (`Process.Id`) reads as a member.
fn looks_like_member(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    labels.len() == 2
        && labels[1].len() <= 3
        && labels[0].chars().next().is_some_and(|c| c.is_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(IndicatorKind, String)> {
        let mut out = Vec::new();
        extract_into(text, &mut out);
        out.into_iter().map(|i| (i.kind, i.value)).collect()
    }

    #[test]
    fn defanged_forms_are_refanged() {
        let found = kinds("get hxxp://evil[.]com/a.ps1 and 10.1.2[.]3, mail bad[at]evil[.]ru");
        assert!(found.contains(&(IndicatorKind::Url, "http://evil.com/a.ps1".into())));
        assert!(found.contains(&(IndicatorKind::Domain, "evil.com".into())));
        assert!(found.contains(&(IndicatorKind::Ipv4, "10.1.2.3".into())));
        assert!(found.contains(&(IndicatorKind::Email, "bad@evil.ru".into())));
    }

    #[test]
    fn dotnet_names_are_not_domains() {
        let found = kinds("New-Object System.Net.WebClient; [System.Text.Encoding]::UTF8");
        assert!(
            found.iter().all(|(k, _)| *k != IndicatorKind::Domain),
            "{found:?}"
        );
    }

    #[test]
    fn defang_forms() {
        assert_eq!(
            defang(IndicatorKind::Url, "http://evil.com/a"),
            "hxxp://evil[.]com/a"
        );
        assert_eq!(defang(IndicatorKind::Ipv4, "1.2.3.4"), "1.2.3[.]4");
    }
}
