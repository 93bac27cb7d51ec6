//! The answer checker: every number, address, hash, email, domain, time and name in a
//! model's prose must appear in what the skills produced. A sentence that states
//! something no skill produced is removed, and the removal is reported.

use std::sync::LazyLock;

use regex::Regex;

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a bad one is a bug caught by every test.
    Regex::new(pattern).unwrap_or_else(|e| panic!("checker pattern {pattern:?}: {e}"))
}

static CLAIMS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        (
            "time",
            re(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?\b"),
        ),
        (
            "address",
            re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|(?i)\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{0,4}\b"),
        ),
        ("hash", re(r"(?i)\b[0-9a-f]{32,64}\b")),
        (
            "email",
            re(r"(?i)\b[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}\b"),
        ),
        (
            "domain",
            re(
                r"(?i)\b(?:[a-z0-9\-]+\.)+(?:com|net|org|io|local|example|corp|ru|cn|xyz|top|info|biz)\b",
            ),
        ),
        (
            "account",
            re(r"(?i)\b[a-z0-9][a-z0-9.\-]*\\[a-z0-9][a-z0-9._\-$]*"),
        ),
        (
            "name",
            re(
                r"(?i)\b(?:user|account|device|host|machine|server|workstation)\s+([A-Za-z0-9][A-Za-z0-9._@\\\-]{2,})",
            ),
        ),
        ("number", re(r"\b\d+(?:[.,]\d+)*\b")),
    ]
});

/// Words after "user"/"device" that are not names.
const NOT_NAMES: &[&str] = &[
    "the", "that", "this", "was", "is", "has", "had", "and", "with", "from", "for", "account",
    "accounts", "activity", "name", "names", "logged", "signed", "did", "who", "which",
];

/// What the check found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checked {
    /// The prose with unsupported sentences removed.
    pub text: String,
    /// Each claim that no skill produced, with its kind.
    pub unsupported: Vec<(String, String)>,
}

fn normalise_number(n: &str) -> String {
    n.replace(',', "")
}

/// Checks `prose` against `evidence` (the text of every skill output, the prompt and the
/// grounding).
pub fn check(prose: &str, evidence: &str) -> Checked {
    let haystack = evidence.to_lowercase();
    let numbers: std::collections::HashSet<String> = CLAIMS
        .iter()
        .find(|(k, _)| *k == "number")
        .map(|(_, r)| {
            r.find_iter(evidence)
                .map(|m| normalise_number(m.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Checked::default();
    let mut kept = Vec::new();
    for sentence in split_sentences(prose) {
        let mut bad: Vec<(String, String)> = Vec::new();
        let mut covered: Vec<(usize, usize)> = Vec::new();
        for (kind, pattern) in CLAIMS.iter() {
            for c in pattern.captures_iter(&sentence) {
                let m = c
                    .get(1)
                    .unwrap_or_else(|| c.get(0).expect("a match has a whole"));
                if covered.iter().any(|&(s, e)| m.start() < e && s < m.end()) {
                    continue;
                }
                covered.push((m.start(), m.end()));
                let value = m.as_str().trim_end_matches(['.', ',']);
                let supported = match *kind {
                    "number" => {
                        // List markers and small counting words are style, not facts.
                        let n = normalise_number(value);
                        let marker = sentence[..m.start()].trim().is_empty()
                            && sentence[m.end()..].starts_with('.');
                        marker || numbers.contains(&n)
                    }
                    "name" if NOT_NAMES.contains(&value.to_ascii_lowercase().as_str()) => true,
                    _ => haystack.contains(&value.to_lowercase()),
                };
                if !supported {
                    bad.push((kind.to_string(), value.to_string()));
                }
            }
        }
        if bad.is_empty() {
            kept.push(sentence);
        } else {
            out.unsupported.extend(bad);
        }
    }
    out.text = kept.join(" ").trim().to_string();
    out
}

/// Sentences, keeping list lines whole.
fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut current = String::new();
        let chars: Vec<char> = line.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            current.push(c);
            let end =
                matches!(c, '.' | '!' | '?') && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
            // "1." at the start of a list line is not the end of a sentence.
            if end
                && !current
                    .trim()
                    .chars()
                    .all(|x| x.is_ascii_digit() || x == '.')
            {
                out.push(std::mem::take(&mut current).trim().to_string());
            }
        }
        if !current.trim().is_empty() {
            out.push(current.trim().to_string());
        }
    }
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIDENCE: &str = r#"{"answer":"2 devices had failed logons","rows":[["WS-FIN-01.corp.example",14,"2026-03-10T08:00:00Z"],["dc01.corp.example",3]],"ip":"203.0.113.50","user":"jdoe"}"#;

    #[test]
    fn invented_number_ip_and_user_are_removed() {
        let prose = "WS-FIN-01.corp.example had 14 failed logons. dc01.corp.example had 9 failed logons. \
                     The attacker came from 198.51.100.23. The user mallory was involved. The address 203.0.113.50 was seen, for user jdoe.";
        let c = check(prose, EVIDENCE);
        let claims: Vec<&str> = c.unsupported.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(claims, ["9", "198.51.100.23", "mallory"]);
        assert_eq!(
            c.text,
            "WS-FIN-01.corp.example had 14 failed logons. The address 203.0.113.50 was seen, for user jdoe."
        );
    }

    #[test]
    fn supported_prose_passes_whole() {
        let prose =
            "2 devices had failed logons: WS-FIN-01.corp.example (14) and dc01.corp.example (3).";
        let c = check(prose, EVIDENCE);
        assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
        assert_eq!(c.text, prose);
    }
}
