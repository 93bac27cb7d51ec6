//! How one written value becomes the texts a rule looks for: `expand` placeholders,
//! windash variants, base64 (and UTF-16) encodings at every offset, long registry hive
//! names, and Sigma's wildcards and position modifiers as a [`Test`].

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::modifier::Modifier;
use crate::plan::{Pattern, Piece, Test};

/// A value with `%name%` placeholders, once for each combination of their values.
pub(crate) fn expand(
    field: &str,
    text: &str,
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        let values = placeholders
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                format!(
                    "field `{field}`: the placeholder `%{name}%` has no values (list them under \
                 `placeholders:` in a mapping file)"
                )
            })?;
        let before = &rest[..start];
        out = out
            .iter()
            .flat_map(|o| values.iter().map(move |v| format!("{o}{before}{v}")))
            .collect();
        rest = &rest[start + len + 2..];
    }
    for o in &mut out {
        o.push_str(rest);
    }
    Ok(out)
}

pub(crate) fn has_position(modifiers: &[Modifier]) -> bool {
    modifiers.iter().any(|m| {
        matches!(
            m,
            Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith
        )
    })
}

pub(crate) fn number(s: &str) -> Option<i64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Encoded text is literal: its characters are not wildcards.
pub(crate) fn escape_wildcards(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn encode(text: &str, wide: bool, big_endian: bool) -> Vec<u8> {
    if wide || big_endian {
        text.encode_utf16()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    } else {
        text.as_bytes().to_vec()
    }
}

/// The three base64 forms of `bytes` at each offset inside a longer encoded text, with
/// the characters that depend on the unknown neighbours cut off.
pub(crate) fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    let engine = base64::engine::general_purpose::STANDARD;
    (0..3)
        .map(|shift| {
            let mut padded = vec![0u8; shift];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            // Leading characters mix in the bytes before; trailing ones (and the
            // padding) the bytes after.
            let start = [0, 2, 3][shift];
            let end = encoded.len().saturating_sub([0, 3, 2][padded.len() % 3]);
            encoded.get(start..end).unwrap_or("").to_string()
        })
        .collect()
}

/// Windows command-line switches accept `-`, `/` and look-alike dashes.
pub(crate) fn windash(text: &str) -> Vec<String> {
    let dashes = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let mut out = vec![String::new()];
    let mut previous: Option<char> = None;
    for c in text.chars() {
        let at_switch = c == '-' && previous.is_none_or(|p| p == ' ');
        if at_switch {
            out = out
                .into_iter()
                .flat_map(|prefix| dashes.iter().map(move |d| format!("{prefix}{d}")))
                .collect();
        } else {
            for o in &mut out {
                o.push(c);
            }
        }
        previous = Some(c);
    }
    out
}

pub(crate) fn long_hive(text: &str) -> String {
    for (short, long) in [
        ("HKLM", "HKEY_LOCAL_MACHINE"),
        ("HKU", "HKEY_USERS"),
        ("HKCU", "HKEY_CURRENT_USER"),
        ("HKCR", "HKEY_CLASSES_ROOT"),
        ("HKCC", "HKEY_CURRENT_CONFIG"),
    ] {
        let head = text.get(..short.len());
        let rest = text.get(short.len()..).unwrap_or_default();
        if head.is_some_and(|h| h.eq_ignore_ascii_case(short))
            && (rest.is_empty() || rest.starts_with('\\'))
        {
            return format!("{long}{rest}");
        }
    }
    text.to_string()
}

/// A text test with Sigma's wildcards (`*`, `?`, `\` escapes) and position modifiers,
/// ignoring case unless `cased`.
pub fn text_test(text: &str, modifiers: &[Modifier]) -> Test {
    let has = |x: Modifier| modifiers.contains(&x);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                literal.push(chars.next().unwrap_or('\\'));
            }
            '*' | '?' => {
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(if c == '*' { Piece::Many } else { Piece::One });
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    let mut at_start = !(has(Modifier::Contains) || has(Modifier::EndsWith));
    let mut at_end = !(has(Modifier::Contains) || has(Modifier::StartsWith));
    while pieces.first() == Some(&Piece::Many) {
        pieces.remove(0);
        at_start = false;
    }
    while pieces.last() == Some(&Piece::Many) {
        pieces.pop();
        at_end = false;
    }
    Test::Text {
        pattern: Pattern {
            pieces,
            at_start,
            at_end,
        },
        cased: has(Modifier::Cased),
    }
}
