//! Typed reversible pseudonyms: user names, device names, IP addresses, emails and
//! domains become `USER_1`, `HOST_3`, `IP_2`, `EMAIL_1`, `DOMAIN_4` before text leaves
//! the machine, and come back in the reply. The mapping lives only in this process.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a bad one is a bug caught by every test.
    Regex::new(pattern).unwrap_or_else(|e| panic!("pseudonym pattern {pattern:?}: {e}"))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b[a-z0-9][a-z0-9._%+\-]*@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,63}\b")
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{0,4}\b|(?i)\b[0-9a-f]{1,4}::[0-9a-f:]*\b")
});
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|local|corp|lan|internal|example|invalid|test|info|biz|ru|cn|uk|de|fr|us|co|xyz|top|online|site|cloud|dev|app|gov|edu|mil|int)\b",
    )
});
static ACCOUNT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b[a-z0-9][a-z0-9.\-]{0,30}\\[a-z0-9][a-z0-9._\-$]{0,63}"));
static TOKEN: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:USER|HOST|IP|EMAIL|DOMAIN)_\d+\b"));

/// One conversation's pseudonyms.
pub struct Pseudonyms {
    to_token: HashMap<String, String>,
    to_value: HashMap<String, String>,
    counts: HashMap<&'static str, usize>,
    /// Known device and user names, longest first (so `ws-01.corp.example` goes before
    /// `ws-01`).
    known: Vec<(String, &'static str)>,
}

impl Pseudonyms {
    /// Pseudonyms for a conversation; `known` holds device and user names of the lake
    /// (a name with a dot or a dash is taken as a device, others as users).
    pub fn new(known: &[String]) -> Pseudonyms {
        let mut known: Vec<(String, &'static str)> = known
            .iter()
            .filter(|n| n.len() >= 3)
            .map(|n| {
                let kind = if n.contains('.')
                    || n.contains('-')
                    || n.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                {
                    "HOST"
                } else {
                    "USER"
                };
                (n.clone(), kind)
            })
            .collect();
        known.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Pseudonyms {
            to_token: HashMap::new(),
            to_value: HashMap::new(),
            counts: HashMap::new(),
            known,
        }
    }

    fn token(&mut self, kind: &'static str, value: &str) -> String {
        let key = value.to_ascii_lowercase();
        if let Some(t) = self.to_token.get(&key) {
            return t.clone();
        }
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        let t = format!("{kind}_{n}");
        self.to_token.insert(key, t.clone());
        self.to_value.insert(t.clone(), value.to_string());
        t
    }

    /// Replaces identifying values in `text`.
    pub fn mask(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        for (pattern, kind) in [
            (&*EMAIL, "EMAIL"),
            (&*ACCOUNT, "USER"),
            (&*IPV6, "IP"),
            (&*IPV4, "IP"),
        ] {
            out = self.replace_all(&out, pattern, kind);
        }
        let known = self.known.clone();
        for (name, kind) in &known {
            let escaped = regex::escape(name);
            let pattern = re(&format!(
                r"(?i)(^|[^A-Za-z0-9_.\-]){escaped}($|[^A-Za-z0-9_\-])"
            ));
            let mut result = String::with_capacity(out.len());
            let mut last = 0;
            for c in pattern.captures_iter(&out) {
                let (Some(whole), Some(pre), Some(post)) = (c.get(0), c.get(1), c.get(2)) else {
                    continue;
                };
                result.push_str(&out[last..whole.start()]);
                result.push_str(pre.as_str());
                let value = &out[pre.end()..post.start()];
                let t = self.token(kind, value);
                result.push_str(&t);
                result.push_str(post.as_str());
                last = whole.end();
            }
            result.push_str(&out[last..]);
            out = result;
        }
        self.replace_all(&out, &DOMAIN, "DOMAIN")
    }

    fn replace_all(&mut self, text: &str, pattern: &Regex, kind: &'static str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in pattern.find_iter(text) {
            if TOKEN.is_match(m.as_str()) {
                continue;
            }
            if kind == "IP" && m.as_str().parse::<std::net::IpAddr>().is_err() {
                continue;
            }
            out.push_str(&text[last..m.start()]);
            let t = self.token(kind, m.as_str());
            out.push_str(&t);
            last = m.end();
        }
        out.push_str(&text[last..]);
        out
    }

    /// Puts the original values back.
    pub fn unmask(&self, text: &str) -> String {
        TOKEN
            .replace_all(text, |c: &regex::Captures| {
                self.to_value
                    .get(&c[0])
                    .cloned()
                    .unwrap_or_else(|| c[0].to_string())
            })
            .into_owned()
    }

    /// The original values replaced so far.
    pub fn originals(&self) -> impl Iterator<Item = &String> {
        self.to_value.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_leave_no_trace() {
        let mut p = Pseudonyms::new(&["ws-fin-01.corp.example".into(), "jdoe".into()]);
        let text = "jdoe logged on to ws-fin-01.corp.example from 203.0.113.7, mail ann@corp.example, CORP\\asmith, c2 evil.example";
        let masked = p.mask(text);
        for original in [
            "jdoe",
            "ws-fin-01",
            "203.0.113.7",
            "ann@corp.example",
            "asmith",
            "evil.example",
        ] {
            assert!(!masked.contains(original), "{original} left in {masked}");
        }
        assert!(masked.contains("USER_1") && masked.contains("HOST_1") && masked.contains("IP_1"));
        assert_eq!(p.unmask(&masked), text);
    }
}
