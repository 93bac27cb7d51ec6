//! Passes that apply whatever the language: PowerShell's `-EncodedCommand` (it appears in
//! cmd scripts, shortcuts and JavaScript droppers alike), `powershell -Command` and
//! `cmd /c` wrappers, and bare Base64 or hex blobs.

use std::sync::LazyLock;

use regex::Regex;

use crate::budget::Budget;
use crate::codec;
use crate::decode::Step;
use crate::model::LayerKind;
use crate::ps::rewrite::{Edit, apply};

static ENC_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:^|[\s"'^(])[-/\x{2013}\x{2014}]([a-z]+)\s+["']?([^\s"'`)\-/][^\s"'`)]{3,})"#,
    )
    .unwrap_or_else(|e| panic!("static regex: {e}"))
});

static PS_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|[\s"'&|(;])((?:[a-z]:)?[\\/\w. -]*?\b(?:powershell|pwsh)(?:\.exe)?)["']?(?:\s|$)"#)
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

static CMD_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|[\s"'&|(;])((?:[a-z]:\\[^\s"']*\\)?cmd(?:\.exe)?)["']?\s+((?:/[a-bd-jl-z](?::\S+)?\s+)*)/[ck]\s*"#)
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});

static B64_BLOB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9+/]{24,}={0,2}").unwrap_or_else(|e| panic!("static regex: {e}"))
});

static HEX_BLOB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:0x)?[0-9A-Fa-f]{16,}").unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// `-e`, `-ec`, and any prefix of `-EncodedCommand` from `-en` on.
fn is_encoded_flag(flag: &str) -> bool {
    let f = flag.to_ascii_lowercase();
    f == "e" || f == "ec" || (f.len() >= 2 && "encodedcommand".starts_with(&f))
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |p| p + 1)
}

/// `powershell ... -enc <base64>`: the Base64 is UTF-16LE PowerShell.
pub fn encoded_command(text: &str, budget: &mut Budget) -> Option<Step> {
    budget.charge(text.len());
    let mut edits = Vec::new();
    let mut found = 0;
    for caps in ENC_FLAG.captures_iter(text) {
        let (Some(flag), Some(b64)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        if !is_encoded_flag(flag.as_str()) {
            continue;
        }
        let ls = line_start(text, flag.start());
        let head = PS_HEAD
            .captures_iter(&text[ls..flag.start()])
            .last()
            .and_then(|c| c.get(1))
            .map(|m| ls + m.start());
        let valid = b64
            .as_str()
            .trim_end_matches('=')
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
        let decoded = if valid {
            codec::base64(b64.as_str())
        } else {
            Err("it holds characters outside the Base64 alphabet".to_string())
        };
        let bytes = match decoded {
            Ok(b) => b,
            Err(why) => {
                // `-e` means other things to other tools; only PowerShell's is reported.
                if head.is_some() {
                    budget.warn(format!(
                        "-{} argument is not valid Base64: {why}",
                        flag.as_str()
                    ));
                }
                continue;
            }
        };
        let (decoded, lossy) = codec::utf16le(&bytes);
        if !codec::looks_utf16le(&bytes) || !codec::is_text(&decoded) {
            if head.is_none() {
                continue;
            }
            budget.warn(format!(
                "-{} argument does not decode to UTF-16LE text; left as it is",
                flag.as_str()
            ));
            continue;
        }
        if lossy {
            budget.warn(format!(
                "-{} argument has invalid UTF-16 (odd length or broken surrogates): \
                 replaced with U+FFFD",
                flag.as_str()
            ));
        }
        found += 1;
        // Replace the whole invocation when the PowerShell that runs it is on the line.
        let start = head.unwrap_or(flag.start().saturating_sub(1));
        let mut end = b64.end();
        let quoted_open = text[..b64.start()].ends_with(['"', '\'']);
        if quoted_open && text[end..].starts_with(['"', '\'']) {
            end += 1;
        }
        let start = if start > 0 && text[..start].ends_with('"') && text[end..].starts_with('"') {
            end += 1;
            start - 1
        } else {
            start
        };
        edits.push(Edit {
            start,
            end,
            text: decoded.trim_end_matches('\0').to_string(),
        });
    }
    if edits.is_empty() {
        return None;
    }
    Some(Step::new(
        LayerKind::EncodedCommand,
        format!("decoded {found} PowerShell -EncodedCommand argument(s) (Base64 of UTF-16LE)"),
        apply(text, edits),
    ))
}

/// Parameters of powershell.exe that take a value.
fn takes_value(flag: &str) -> bool {
    let f = flag.to_ascii_lowercase();
    let prefix_of = |full: &str, min: usize| f.len() >= min && full.starts_with(&f);
    f == "w"
        || f == "ep"
        || f == "v"
        || prefix_of("windowstyle", 2)
        || prefix_of("executionpolicy", 2)
        || prefix_of("version", 2)
        || prefix_of("inputformat", 2)
        || prefix_of("outputformat", 2)
        || prefix_of("configurationname", 3)
        || prefix_of("workingdirectory", 2)
        || f == "wd"
        || f == "if"
        || f == "of"
}

/// Takes the command after `-Command`/`/c`: a quoted string, a `{ }` block, or the line.
fn command_body(text: &str, at: usize) -> Option<(usize, String)> {
    let rest = &text[at..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let line = rest[..line_end].trim_end_matches('\r');
    if let Some(inner) = line.strip_prefix('"') {
        // cmd keeps everything up to the last quote; `\"` is a quote for the child.
        let close = inner.rfind('"').unwrap_or(inner.len());
        let body = inner[..close].replace("\\\"", "\"");
        let end = at + 1 + (close + 1).min(inner.len());
        return Some((end, body));
    }
    if let Some(inner) = line.strip_prefix('\'') {
        let close = inner.find('\'')?;
        return Some((at + close + 2, inner[..close].to_string()));
    }
    if line.starts_with('{') {
        let mut depth = 0usize;
        for (k, c) in line.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some((at + k + 1, line[..=k].to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    if line.is_empty() {
        return None;
    }
    Some((at + line.len(), line.replace("\\\"", "\"")))
}

/// `powershell [-flags] -Command "<code>"` and `cmd /c "<command>"`: the inner command.
pub fn command_wrapper(text: &str, budget: &mut Budget) -> Option<Step> {
    budget.charge(text.len());
    let mut edits = Vec::new();
    let mut last_end = 0;
    for caps in PS_HEAD.captures_iter(text) {
        let Some(head) = caps.get(1) else { continue };
        if head.start() < last_end {
            continue;
        }
        let Some((body_start, explicit)) =
            ps_command_start(text, caps.get(0).map_or(0, |m| m.end()))
        else {
            continue;
        };
        let Some((end, body)) = command_body(text, body_start) else {
            continue;
        };
        let _ = explicit;
        let opened = text[body_start..].starts_with(['"', '\'', '{']);
        if body.trim().is_empty() || !opened {
            continue;
        }
        let body = body.trim();
        let block = body
            .strip_prefix('&')
            .or_else(|| body.strip_prefix('.'))
            .map_or(body, str::trim_start);
        let body = block
            .strip_prefix('{')
            .and_then(|b| b.strip_suffix('}'))
            .unwrap_or(body);
        edits.push(Edit {
            start: head.start(),
            end,
            text: body.trim().to_string(),
        });
        last_end = end;
    }
    for caps in CMD_HEAD.captures_iter(text) {
        let (Some(head), Some(all)) = (caps.get(1), caps.get(0)) else {
            continue;
        };
        if edits
            .iter()
            .any(|e| head.start() < e.end && e.start < all.end())
        {
            continue;
        }
        if !text[all.end()..].starts_with('"') {
            continue;
        }
        let Some((end, body)) = command_body(text, all.end()) else {
            continue;
        };
        edits.push(Edit {
            start: head.start(),
            end,
            text: body.trim().to_string(),
        });
    }
    if edits.is_empty() {
        return None;
    }
    let n = edits.len();
    let out = apply(text, edits);
    (out != text).then(|| {
        Step::new(
            LayerKind::CommandWrapper,
            format!("took the command out of {n} powershell -Command / cmd /c wrapper(s)"),
            out,
        )
    })
}

/// After `powershell`, skips its switches; returns where the command starts and whether
/// `-Command` named it. `-EncodedCommand` and `-File` return `None`.
fn ps_command_start(text: &str, mut at: usize) -> Option<(usize, bool)> {
    loop {
        let rest = &text[at..];
        let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        at += skipped;
        let rest = &text[at..];
        let Some(flag_body) = rest.strip_prefix(['-', '/']) else {
            return (!rest.is_empty() && !rest.starts_with(['\n', '\r'])).then_some((at, false));
        };
        let word: String = flag_body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let w = word.to_ascii_lowercase();
        if w.is_empty() || is_encoded_flag(&w) || "file".starts_with(&w) {
            return None;
        }
        at += 1 + word.len();
        if "command".starts_with(&w) {
            let rest = &text[at..];
            let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            return Some((at + skipped, true));
        }
        if takes_value(&w) {
            let rest = &text[at..];
            let trimmed = rest.trim_start_matches([' ', '\t']);
            let value_len = trimmed
                .find(|c: char| c.is_whitespace())
                .unwrap_or(trimmed.len());
            at += rest.len() - trimmed.len() + value_len;
        }
    }
}

/// Base64 blobs standing alone (in a string, after `echo`, in a data island).
pub fn base64_blobs(text: &str, budget: &mut Budget) -> Option<Step> {
    budget.charge(text.len());
    let mut edits = Vec::new();
    let mut also = Vec::new();
    let mut grown = 0usize;
    for m in B64_BLOB.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '\\' || c == '-' || c == '_')
            || after.is_some_and(|c| c.is_alphanumeric() || c == '\\' || c == '_')
        {
            continue;
        }
        let Ok(bytes) = codec::base64(m.as_str()) else {
            continue;
        };
        if grown > budget.limits.max_decoded {
            budget
                .warn("Base64 blobs decode to more than the size limit: the rest are left".into());
            break;
        }
        let Some((decoded, compressed)) = bytes_as_text(&bytes, budget) else {
            continue;
        };
        grown += decoded.len();
        if let Some(kind) = compressed {
            also.push(kind);
        }
        edits.push(Edit {
            start: m.start(),
            end: m.end(),
            text: decoded,
        });
    }
    if edits.is_empty() {
        return None;
    }
    let n = edits.len();
    let mut step = Step::new(
        LayerKind::Base64,
        format!("decoded {n} Base64 blob(s)"),
        apply(text, edits),
    );
    step.also = also;
    Some(step)
}

/// Bytes that are text (UTF-8 or UTF-16LE), or gzip holding text.
fn bytes_as_text(bytes: &[u8], budget: &mut Budget) -> Option<(String, Option<LayerKind>)> {
    if let Some(codec::Compression::Gzip) = codec::sniff_compression(bytes) {
        let out = codec::inflate(bytes, codec::Compression::Gzip, budget.limits.max_decoded);
        if out.truncated {
            budget.warn(format!(
                "gzip blob decompresses past {} bytes: cut there (possible decompression bomb)",
                budget.limits.max_decoded
            ));
        }
        budget.charge(out.bytes.len());
        let text = codec::bytes_to_text(&out.bytes);
        return codec::is_text(&text).then_some((text, Some(LayerKind::Gzip)));
    }
    let text = if codec::looks_utf16le(bytes) {
        codec::utf16le(bytes).0
    } else {
        String::from_utf8(bytes.to_vec()).ok()?
    };
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    (codec::is_text(&text) && text.trim().len() >= 6 && letters * 2 >= text.len().min(40))
        .then(|| (text.trim_end_matches('\0').to_string(), None))
}

/// Runs of hex digits that decode to text.
pub fn hex_blobs(text: &str, budget: &mut Budget) -> Option<Step> {
    budget.charge(text.len());
    let mut edits = Vec::new();
    for m in HEX_BLOB.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if before.is_some_and(|c| c.is_alphanumeric()) || after.is_some_and(|c| c.is_alphanumeric())
        {
            continue;
        }
        let digits = m.as_str().trim_start_matches("0x");
        let Some(bytes) = codec::hex(digits) else {
            continue;
        };
        let Some((decoded, _)) = bytes_as_text(&bytes, budget) else {
            continue;
        };
        edits.push(Edit {
            start: m.start(),
            end: m.end(),
            text: decoded,
        });
    }
    if edits.is_empty() {
        return None;
    }
    let n = edits.len();
    Some(Step::new(
        LayerKind::Hex,
        format!("decoded {n} hex blob(s)"),
        apply(text, edits),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Limits;

    #[test]
    fn flag_prefixes() {
        for f in ["e", "ec", "en", "enc", "EncodedCommand", "ENCODED"] {
            assert!(is_encoded_flag(f), "{f}");
        }
        for f in ["ex", "ep", "encodedcommandx", "exec"] {
            assert!(!is_encoded_flag(f), "{f}");
        }
    }

    #[test]
    fn wrapper_takes_the_quoted_command() {
        let mut b = Budget::new(Limits::default());
        let s = command_wrapper("powershell.exe -nop -w hidden -c \"iex 'x'\"", &mut b).unwrap();
        assert_eq!(s.text, "iex 'x'");
    }
}
