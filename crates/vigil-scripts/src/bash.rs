//! Unix shell droppers: `echo … | base64 -d | sh`, `eval "$(… | base64 -d)"`,
//! `xxd -r -p`, `$'\x..'` strings, `rev`.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::budget::Budget;
use crate::codec;
use crate::decode::Step;
use crate::model::LayerKind;
use crate::re;

const SHELL: &str = r"(?:sudo\s+)?(?:/(?:usr/)?bin/)?(?:ba|z|da|k)?sh\b(?:\s+-s)?";
const QUOTED: &str = r#"(?:"[^"\n]*"|'[^'\n]*'|[^\s|;&)'"]+)"#;

struct Rule {
    kind: LayerKind,
    also: &'static [LayerKind],
    re: Regex,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let pipe_b64 = format!(
        r#"(?:echo(?:\s+-[ne]+)?|printf(?:\s+["']?%s["']?)?)\s+({QUOTED})\s*\|\s*base64\s+(?:-d|--decode|-D|-di|-id)\b"#
    );
    let here_b64 = format!(r#"base64\s+(?:-d|--decode|-D)\s*<<<\s*({QUOTED})"#);
    let pipe_hex = format!(
        r#"(?:echo(?:\s+-[ne]+)?|printf(?:\s+["']?%s["']?)?)\s+({QUOTED})\s*\|\s*xxd\s+(?:-r\s+-p|-p\s+-r|-rp|-pr|-r\s+-ps|-ps\s+-r)\b"#
    );
    let wrap = |inner: &str| {
        format!(
            r#"(?:(?:eval|{SHELL}\s+-c)\s+)?"?\$\(\s*{inner}\s*\)"?|{inner}(?:\s*\|\s*{SHELL})?"#
        )
    };
    vec![
        Rule {
            kind: LayerKind::ShellDecode,
            also: &[LayerKind::Base64],
            re: re(&wrap(&pipe_b64)),
        },
        Rule {
            kind: LayerKind::ShellDecode,
            also: &[LayerKind::Base64],
            re: re(&wrap(&here_b64)),
        },
        Rule {
            kind: LayerKind::ShellDecode,
            also: &[LayerKind::Hex],
            re: re(&wrap(&pipe_hex)),
        },
        Rule {
            kind: LayerKind::Hex,
            also: &[],
            re: re(r"\$'((?:\\x[0-9a-fA-F]{2}|\\[0-7]{3})+)'"),
        },
        Rule {
            kind: LayerKind::Hex,
            also: &[],
            re: re(r#"(?:printf|echo\s+-e)\s+["']((?:\\x[0-9a-fA-F]{2}|\\[0-7]{3})+)["']"#),
        },
        Rule {
            kind: LayerKind::Reverse,
            also: &[],
            re: re(&format!(
                r"(?:echo\s+({QUOTED})\s*\|\s*rev\b|rev\s*<<<\s*({QUOTED}))"
            )),
        },
        Rule {
            kind: LayerKind::Eval,
            also: &[],
            re: re(r#"\beval\s+"((?:[^"\\]|\\.)*)""#),
        },
    ]
});

fn unquote(s: &str) -> &str {
    let s = s.trim();
    if s.len() >= 2
        && (s.starts_with('"') && s.ends_with('"') || s.starts_with('\'') && s.ends_with('\''))
    {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// `\x41` and `\101` escapes to bytes, then text.
fn escapes(s: &str) -> Option<String> {
    let mut bytes = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(h) = rest.strip_prefix("\\x") {
            bytes.push(u8::from_str_radix(h.get(..2)?, 16).ok()?);
            rest = &h[2..];
        } else if let Some(o) = rest.strip_prefix('\\') {
            bytes.push(u8::from_str_radix(o.get(..3)?, 8).ok()?);
            rest = &o[3..];
        } else {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn first_group<'c>(caps: &'c Captures<'_>) -> &'c str {
    (1..caps.len())
        .find_map(|n| caps.get(n))
        .map_or("", |m| m.as_str())
}

/// One Unix shell decoding step.
pub fn decode(text: &str, budget: &mut Budget) -> Option<Step> {
    for rule in RULES.iter() {
        if !budget.charge(text.len()) {
            return None;
        }
        let mut changed = 0;
        let mut grown = 0usize;
        let cap = budget.limits.max_decoded;
        let out = rule.re.replace_all(text, |caps: &Captures<'_>| {
            let whole = caps.get(0).map_or("", |m| m.as_str()).to_string();
            if grown > cap {
                return whole;
            }
            let arg = unquote(first_group(caps));
            let decoded = match (rule.kind, rule.also.first()) {
                (LayerKind::ShellDecode, Some(LayerKind::Base64)) => match codec::base64(arg) {
                    Ok(b) => Some(codec::bytes_to_text(&b)),
                    Err(why) => {
                        budget.warn(format!("base64 -d input is not valid Base64: {why}"));
                        None
                    }
                },
                (LayerKind::ShellDecode, _) => {
                    codec::hex(arg).map(|b| String::from_utf8_lossy(&b).into_owned())
                }
                (LayerKind::Hex, _) => escapes(arg),
                (LayerKind::Reverse, _) => Some(arg.chars().rev().collect()),
                (LayerKind::Eval, _) => Some(arg.replace("\\\"", "\"").replace("\\$", "$")),
                _ => None,
            };
            match decoded {
                Some(d) if codec::is_text(&d) => {
                    changed += 1;
                    grown += d.len();
                    d.trim_end_matches('\n').to_string()
                }
                _ => whole,
            }
        });
        if changed > 0 && out != text {
            let mut step = Step::new(
                rule.kind,
                format!("{}: {changed} occurrence(s)", rule.kind.name()),
                out.into_owned(),
            );
            step.also = rule.also.to_vec();
            return Some(step);
        }
    }
    None
}
