//! JavaScript (JScript) and VBScript obfuscation: `String.fromCharCode`, `unescape`,
//! `atob`, string concatenation, reversal, replace, and `eval`/`Execute` of a literal.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::budget::Budget;
use crate::codec;
use crate::decode::Step;
use crate::model::LayerKind;
use crate::re;

const JS_STR: &str = r#"(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"#;
const VBS_STR: &str = r#"(?:"(?:[^"\n]|"")*")"#;

static JS: LazyLock<Vec<(LayerKind, Regex)>> = LazyLock::new(|| {
    let s = JS_STR;
    vec![
        (
            LayerKind::CharCodes,
            re(
                r"String\.fromCharCode\s*\(\s*((?:0[xX][0-9a-fA-F]+|\d+)(?:\s*[-+*]\s*(?:0[xX][0-9a-fA-F]+|\d+))*(?:\s*,\s*(?:0[xX][0-9a-fA-F]+|\d+)(?:\s*[-+*]\s*(?:0[xX][0-9a-fA-F]+|\d+))*)*)\s*\)",
            ),
        ),
        (
            LayerKind::Unescape,
            re(&format!(
                r"\b(?:unescape|decodeURIComponent|decodeURI)\s*\(\s*({s})\s*\)"
            )),
        ),
        (LayerKind::Base64, re(&format!(r"\batob\s*\(\s*({s})\s*\)"))),
        (
            LayerKind::Concatenation,
            re(&format!(r"{s}(?:\s*\+\s*{s})+")),
        ),
        (
            LayerKind::Reverse,
            re(&format!(
                r#"({s})\s*\.\s*split\s*\(\s*(?:""|'')\s*\)\s*\.\s*reverse\s*\(\s*\)\s*\.\s*join\s*\(\s*(?:""|'')\s*\)"#
            )),
        ),
        (
            LayerKind::Replace,
            re(&format!(
                r"({s})\s*\.\s*replace\s*\(\s*/((?:[^/\\\n]|\\.)+)/([gimsuy]*)\s*,\s*({s})\s*\)"
            )),
        ),
        (
            LayerKind::Replace,
            re(&format!(
                r"({s})\s*\.\s*split\s*\(\s*({s})\s*\)\s*\.\s*join\s*\(\s*({s})\s*\)"
            )),
        ),
        (
            LayerKind::Eval,
            re(&format!(
                r"\b(?:eval|(?:window\.)?execScript|(?:new\s+)?Function)\s*\(\s*({s})\s*\)(?:\s*\(\s*\))?;?"
            )),
        ),
    ]
});

static JS_LIT: LazyLock<Regex> = LazyLock::new(|| re(JS_STR));
static VBS_LIT: LazyLock<Regex> = LazyLock::new(|| re(VBS_STR));
static JS_ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?m)(?:\b(?:var|let|const)\s+)?\b([A-Za-z_$][\w$]*)\s*=\s*({JS_STR})\s*;?\s*$"
    ))
});
static JS_EVAL_VAR: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(?:eval|(?:new\s+)?Function)\s*\(\s*([A-Za-z_$][\w$]*)\s*\)(?:\s*\(\s*\))?")
});
static VBS_ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?im)^\s*(?:Dim\s+\w+\s*:\s*)?(\w+)\s*=\s*({VBS_STR})\s*$"
    ))
});
static VBS_EXEC_VAR: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?im)\b(?:Execute|ExecuteGlobal|Eval)\b[ \t]*\(?[ \t]*(\w+)[ \t]*\)?[ \t]*$")
});

static VBS: LazyLock<Vec<(LayerKind, Regex)>> = LazyLock::new(|| {
    let s = VBS_STR;
    vec![
        (
            LayerKind::CharCodes,
            re(
                r"(?i)\bChr[WB]?\s*\(\s*((?:&[Hh][0-9a-fA-F]+|\d+)(?:\s*[-+*]\s*(?:&[Hh][0-9a-fA-F]+|\d+))*)\s*\)",
            ),
        ),
        (
            LayerKind::Concatenation,
            re(&format!(r"{s}(?:\s*[&+]\s*{s})+")),
        ),
        (
            LayerKind::Reverse,
            re(&format!(r"(?i)\bStrReverse\s*\(\s*({s})\s*\)")),
        ),
        (
            LayerKind::Replace,
            re(&format!(
                r"(?i)\bReplace\s*\(\s*({s})\s*,\s*({s})\s*,\s*({s})\s*\)"
            )),
        ),
        (
            LayerKind::Eval,
            re(&format!(
                r"(?i)\b(?:Execute|ExecuteGlobal|Eval)\s*\(?\s*({s})\s*\)?"
            )),
        ),
    ]
});

/// Decodes `%XX` and `%uXXXX` escapes as `unescape` does.
pub fn percent_decode(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let flush = |bytes: &mut Vec<u8>, out: &mut String| {
        if !bytes.is_empty() {
            match std::str::from_utf8(bytes) {
                Ok(t) => out.push_str(t),
                Err(_) => out.extend(bytes.iter().map(|&b| b as char)),
            }
            bytes.clear();
        }
    };
    let hex = |from: usize, n: usize| -> Option<u32> {
        let digits: String = chars.get(from..from + n)?.iter().collect();
        u32::from_str_radix(&digits, 16).ok()
    };
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '%' {
            if chars.get(i + 1) == Some(&'u')
                && let Some(code) = hex(i + 2, 4)
            {
                flush(&mut bytes, &mut out);
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                i += 6;
                continue;
            }
            if let Some(b) = hex(i + 1, 2) {
                bytes.push(b as u8);
                i += 3;
                continue;
            }
        }
        flush(&mut bytes, &mut out);
        out.push(chars[i]);
        i += 1;
    }
    flush(&mut bytes, &mut out);
    out
}

/// The value of a JavaScript string literal (quotes included in `lit`).
fn js_value(lit: &str) -> String {
    let body = &lit[1..lit.len().saturating_sub(1).max(1)];
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let hex = |from: usize, n: usize| -> Option<u32> {
        let d: String = chars.get(from..from + n)?.iter().collect();
        u32::from_str_radix(&d, 16).ok()
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = chars[i + 1];
        i += 2;
        match n {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'x' => match hex(i, 2) {
                Some(v) => {
                    out.push(char::from_u32(v).unwrap_or('?'));
                    i += 2;
                }
                None => out.push('x'),
            },
            'u' => match hex(i, 4) {
                Some(v) => {
                    out.push(char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER));
                    i += 4;
                }
                None => out.push('u'),
            },
            other => out.push(other),
        }
    }
    out
}

/// A JavaScript literal for `s`: single-quoted when that needs no escapes for the
/// double quotes inside (easier to read, and command lines inside stay intact).
fn js_quote(s: &str) -> String {
    let q = if s.contains('"') && !s.contains('\'') {
        '\''
    } else {
        '"'
    };
    let mut out = String::from(q);
    for c in s.chars() {
        match c {
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

fn vbs_value(lit: &str) -> String {
    lit[1..lit.len().saturating_sub(1).max(1)].replace("\"\"", "\"")
}

fn vbs_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `72`, `0x48`, `&H48`, `70+2`: small integer arithmetic as written in char-code calls.
fn int_expr(s: &str) -> Option<u32> {
    let mut total: i64 = 0;
    let mut op = '+';
    let mut term = String::new();
    let apply = |total: i64, op: char, term: &str| -> Option<i64> {
        let t = term.trim();
        let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            i64::from_str_radix(h, 16).ok()?
        } else if let Some(h) = t.strip_prefix("&H").or_else(|| t.strip_prefix("&h")) {
            i64::from_str_radix(h, 16).ok()?
        } else {
            t.parse::<i64>().ok()?
        };
        match op {
            '+' => total.checked_add(v),
            '-' => total.checked_sub(v),
            _ => total.checked_mul(v),
        }
    };
    for c in s.chars() {
        if matches!(c, '+' | '-' | '*') && !term.trim().is_empty() {
            total = apply(total, op, &term)?;
            op = c;
            term.clear();
        } else {
            term.push(c);
        }
    }
    total = apply(total, op, &term)?;
    u32::try_from(total).ok()
}

fn chars_from_codes(list: &str) -> Option<String> {
    list.split(',')
        .map(|n| int_expr(n).and_then(char::from_u32))
        .collect()
}

// Limitation: JavaScript and VBScript are read with patterns over string literals, not
// parsed. Literals reached through variables are followed only for `x = "..."` then
// `eval(x)`/`Execute x`; decoders written as functions stay encoded in the result.

/// Runs one family of rules once, all matches of the first rule that changes the text.
fn run(
    text: &str,
    rules: &[(LayerKind, Regex)],
    budget: &mut Budget,
    f: impl Fn(LayerKind, &Captures<'_>, &mut Budget) -> Option<String>,
) -> Option<Step> {
    for (kind, rule) in rules {
        if !budget.charge(text.len()) {
            return None;
        }
        let mut changed = 0;
        let mut grown = 0usize;
        let cap = budget.limits.max_decoded;
        let out = rule.replace_all(text, |caps: &Captures<'_>| {
            let whole = caps.get(0).map_or("", |m| m.as_str()).to_string();
            if grown > cap {
                return whole;
            }
            match f(*kind, caps, budget) {
                Some(r) => {
                    changed += 1;
                    grown += r.len();
                    r
                }
                None => whole,
            }
        });
        if changed > 0 && out != text {
            return Some(Step::new(
                *kind,
                format!("{}: {changed} occurrence(s)", kind.name()),
                out.into_owned(),
            ));
        }
    }
    None
}

fn group<'c>(caps: &'c Captures<'_>, n: usize) -> &'c str {
    caps.get(n).map_or("", |m| m.as_str())
}

/// `x = "code"` then `eval(x)`: the variable's literal is what runs.
fn eval_variable(
    text: &str,
    assign: &Regex,
    call: &Regex,
    value: fn(&str) -> String,
    budget: &mut Budget,
) -> Option<Step> {
    if !budget.charge(text.len() * 2) {
        return None;
    }
    let mut known = std::collections::HashMap::new();
    for caps in assign.captures_iter(text) {
        known.insert(group(&caps, 1).to_ascii_lowercase(), value(group(&caps, 2)));
    }
    if known.is_empty() {
        return None;
    }
    let mut changed = 0;
    let mut grown = 0usize;
    let cap = budget.limits.max_decoded;
    let out = call.replace_all(text, |caps: &Captures<'_>| {
        match known.get(&group(caps, 1).to_ascii_lowercase()) {
            // The same code run from many places is shown until the size limit.
            Some(code) if grown <= cap => {
                changed += 1;
                grown += code.len();
                code.clone()
            }
            _ => group(caps, 0).to_string(),
        }
    });
    (changed > 0 && out != text).then(|| {
        Step::new(
            LayerKind::Eval,
            format!("{changed} variable(s) holding code passed to eval/Execute"),
            out.into_owned(),
        )
    })
}

/// One JavaScript decoding step.
pub fn javascript(text: &str, budget: &mut Budget) -> Option<Step> {
    if let Some(step) = js_rules(text, budget) {
        return Some(step);
    }
    eval_variable(text, &JS_ASSIGN, &JS_EVAL_VAR, js_value, budget)
}

/// One VBScript decoding step.
pub fn vbscript(text: &str, budget: &mut Budget) -> Option<Step> {
    if let Some(step) = vbs_rules(text, budget) {
        return Some(step);
    }
    eval_variable(text, &VBS_ASSIGN, &VBS_EXEC_VAR, vbs_value, budget)
}

fn js_rules(text: &str, budget: &mut Budget) -> Option<Step> {
    run(text, &JS, budget, |kind, caps, budget| {
        let g = |n| group(caps, n);
        Some(match kind {
            LayerKind::CharCodes => js_quote(&chars_from_codes(g(1))?),
            LayerKind::Unescape => js_quote(&percent_decode(&js_value(g(1)))),
            LayerKind::Base64 => match codec::base64(&js_value(g(1))) {
                Ok(b) => js_quote(&codec::bytes_to_text(&b)),
                Err(why) => {
                    budget.warn(format!("atob argument is not valid Base64: {why}"));
                    return None;
                }
            },
            LayerKind::Concatenation => {
                let whole = g(0);
                js_quote(
                    &JS_LIT
                        .find_iter(whole)
                        .map(|m| js_value(m.as_str()))
                        .collect::<String>(),
                )
            }
            LayerKind::Reverse => js_quote(&js_value(g(1)).chars().rev().collect::<String>()),
            LayerKind::Replace if caps.len() == 5 => {
                let re = regex::RegexBuilder::new(g(2))
                    .case_insensitive(g(3).contains('i'))
                    .size_limit(1 << 20)
                    .build()
                    .ok()?;
                let subject = js_value(g(1));
                let rep = js_value(g(4));
                let limit = if g(3).contains('g') { usize::MAX } else { 1 };
                // Each replacement adds `rep`: refuse a result past the size limit.
                let room = budget.limits.max_decoded / rep.len().max(1);
                if re.find_iter(&subject).take(room + 1).count() > room {
                    return None;
                }
                js_quote(&re.replacen(&subject, limit, regex::NoExpand(&rep)))
            }
            LayerKind::Replace => {
                let sep = js_value(g(2));
                let subject = js_value(g(1));
                let joiner = js_value(g(3));
                if sep.is_empty()
                    || subject
                        .matches(sep.as_str())
                        .count()
                        .saturating_mul(joiner.len())
                        > budget.limits.max_decoded
                {
                    return None;
                }
                js_quote(
                    &js_value(g(1))
                        .split(sep.as_str())
                        .collect::<Vec<_>>()
                        .join(&js_value(g(3))),
                )
            }
            LayerKind::Eval => js_value(g(1)),
            _ => return None,
        })
    })
}

fn vbs_rules(text: &str, budget: &mut Budget) -> Option<Step> {
    run(text, &VBS, budget, |kind, caps, budget| {
        let g = |n| group(caps, n);
        Some(match kind {
            LayerKind::CharCodes => vbs_quote(&char::from_u32(int_expr(g(1))?)?.to_string()),
            LayerKind::Concatenation => {
                let whole = g(0);
                vbs_quote(
                    &VBS_LIT
                        .find_iter(whole)
                        .map(|m| vbs_value(m.as_str()))
                        .collect::<String>(),
                )
            }
            LayerKind::Reverse => vbs_quote(&vbs_value(g(1)).chars().rev().collect::<String>()),
            LayerKind::Replace => {
                let from = vbs_value(g(2));
                let subject = vbs_value(g(1));
                if from.is_empty()
                    || subject
                        .matches(from.as_str())
                        .count()
                        .saturating_mul(g(3).len())
                        > budget.limits.max_decoded
                {
                    return None;
                }
                vbs_quote(&vbs_value(g(1)).replace(&from, &vbs_value(g(3))))
            }
            LayerKind::Eval => vbs_value(g(1)),
            _ => return None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(percent_decode("%u0041%42%e2%82%ac"), "AB€");
        assert_eq!(js_value(r#""\x41\u0042\n""#), "AB\n");
        assert_eq!(int_expr("&H41"), Some(65));
        assert_eq!(int_expr("70-5"), Some(65));
    }
}
