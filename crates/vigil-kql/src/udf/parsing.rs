//! Functions that take text or arrays apart: paths, command lines, query strings,
//! and the smaller array builders (`range`, `repeat`, `zip`, bag key edits).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array};
use arrow::datatypes::DataType;
use base64::Engine as _;
use datafusion::common::Result as DfResult;
use serde_json::{Map, Value};

use super::dynamic::{json_out, texts_out, to_text, value_at};
use super::{Entry, longs, reals, strings, text_at};

pub(crate) const FUNCTIONS: &[Entry] = &[
    ("kql_indexof", || DataType::Int64, indexof),
    ("kql_indexof_regex", || DataType::Int64, indexof_regex),
    ("kql_isascii", || DataType::Boolean, isascii),
    ("kql_parse_path", || DataType::Utf8, parse_path),
    (
        "kql_parse_command_line",
        || DataType::Utf8,
        parse_command_line,
    ),
    ("kql_parse_urlquery", || DataType::Utf8, parse_urlquery),
    ("kql_range_array", || DataType::Utf8, range_array),
    ("kql_repeat", || DataType::Utf8, repeat),
    ("kql_zip", || DataType::Utf8, zip),
    ("kql_bag_has_key", || DataType::Boolean, bag_has_key),
    ("kql_bag_remove_keys", || DataType::Utf8, bag_remove_keys),
    (
        "kql_base64_decode_toarray",
        || DataType::Utf8,
        base64_decode_toarray,
    ),
];

/// `indexof(text, lookup [, start [, length [, occurrence]]])`: the character position
/// of the `occurrence`-th match at or after `start` within `length` characters, or -1.
fn indexof(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let lookups = strings(&args[1])?;
    let number = |i: usize| args.get(i).map(longs).transpose();
    let (starts, lengths, occurrences) = (number(2)?, number(3)?, number(4)?);
    let at = |a: &Option<Int64Array>, row: usize, default: i64| {
        a.as_ref()
            .filter(|a| !a.is_null(row))
            .map_or(default, |a| a.value(row))
    };
    let out: Int64Array = (0..rows)
        .map(|i| {
            let text: Vec<char> = text_at(&texts, i)?.chars().collect();
            let lookup: Vec<char> = text_at(&lookups, i)?.chars().collect();
            let mut start = at(&starts, i, 0);
            if start < 0 {
                start += text.len() as i64;
            }
            let start = usize::try_from(start).ok()?;
            if start > text.len() {
                return None;
            }
            let length = at(&lengths, i, -1);
            let end = if length < 0 {
                text.len()
            } else {
                (start + usize::try_from(length).ok()?).min(text.len())
            };
            let wanted = at(&occurrences, i, 1).max(1);
            let mut seen = 0;
            let mut k = start;
            while k + lookup.len() <= end {
                if text[k..k + lookup.len()] == lookup[..] {
                    seen += 1;
                    if seen == wanted {
                        return Some(k as i64);
                    }
                }
                k += 1;
            }
            Some(-1)
        })
        .collect();
    Ok(Arc::new(out))
}

/// `indexof_regex(text, pattern)`: the character position of the first match, or -1.
fn indexof_regex(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let patterns = strings(&args[1])?;
    let mut cached: Option<(String, Option<regex::Regex>)> = None;
    let out: Int64Array = (0..rows)
        .map(|i| {
            let text = text_at(&texts, i)?;
            let pattern = text_at(&patterns, i)?;
            if cached.as_ref().is_none_or(|(p, _)| p != pattern) {
                cached = Some((pattern.to_string(), regex::Regex::new(pattern).ok()));
            }
            let re = cached.as_ref()?.1.as_ref()?;
            Some(
                re.find(text)
                    .map_or(-1, |m| text[..m.start()].chars().count() as i64),
            )
        })
        .collect();
    Ok(Arc::new(out))
}

fn isascii(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let out: BooleanArray = (0..rows)
        .map(|i| text_at(&texts, i).map(|t| t.is_ascii()))
        .collect();
    Ok(Arc::new(out))
}

/// `parse_path(path)`: the scheme, root, directory, file name and extension of a
/// Windows or Unix path, or of a URL-like path.
fn parse_path(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    Ok(texts_out((0..rows).map(|i| {
        let path = text_at(&texts, i)?;
        let (scheme, rest) = match path.find("://") {
            Some(p) => (&path[..p], &path[p + 3..]),
            None => ("", path),
        };
        let root = if rest.len() >= 2 && rest.as_bytes()[1] == b':' {
            &rest[..2]
        } else if let Some(unc) = rest.strip_prefix("\\\\") {
            // \\server\share: the server is the root.
            let end = unc.find('\\').map_or(unc.len(), |e| e + 2);
            &rest[..end]
        } else {
            ""
        };
        let cut = rest.rfind(['\\', '/']);
        let (directory, file) = match cut {
            Some(c) => (&rest[..c], &rest[c + 1..]),
            None => ("", rest),
        };
        let (file, stream) = match file.split_once(':') {
            Some((f, s)) => (f, s),
            None => (file, ""),
        };
        let directory_name = directory
            .rsplit(['\\', '/'])
            .next()
            .filter(|d| *d != root)
            .unwrap_or("");
        let extension = file.rsplit_once('.').map_or("", |(_, e)| e);
        let mut bag = Map::new();
        for (k, v) in [
            ("Scheme", scheme),
            ("RootPath", root),
            ("DirectoryPath", directory),
            ("DirectoryName", directory_name),
            ("Filename", file),
            ("Extension", extension),
            ("AlternateDataStreamName", stream),
        ] {
            bag.insert(k.to_string(), Value::String(v.to_string()));
        }
        to_text(&Value::Object(bag))
    })))
}

/// Splits a Windows command line the way the C runtime does: spaces separate
/// arguments, double quotes group, a backslash escapes a quote, and `2n` backslashes
/// before a quote are `n` backslashes.
fn windows_arguments(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_arg = false;
    let mut quoted = false;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let mut n = 0;
                while i < chars.len() && chars[i] == '\\' {
                    n += 1;
                    i += 1;
                }
                if i < chars.len() && chars[i] == '"' {
                    current.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        current.push('"');
                        i += 1;
                    }
                } else {
                    current.extend(std::iter::repeat_n('\\', n));
                }
                in_arg = true;
                continue;
            }
            '"' => {
                quoted = !quoted;
                in_arg = true;
            }
            ' ' | '\t' if !quoted => {
                if in_arg {
                    args.push(std::mem::take(&mut current));
                    in_arg = false;
                }
            }
            other => {
                current.push(other);
                in_arg = true;
            }
        }
        i += 1;
    }
    if in_arg {
        args.push(current);
    }
    args
}

/// `parse_command_line(command_line, "windows")`: the arguments as an array.
fn parse_command_line(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    Ok(texts_out((0..rows).map(|i| {
        let items = windows_arguments(text_at(&texts, i)?)
            .into_iter()
            .map(Value::String)
            .collect();
        to_text(&Value::Array(items))
    })))
}

/// `%xx` escapes and `+` (a space) decoded; bytes that are not UTF-8 become U+FFFD.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (hex, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `parse_urlquery(query)`: `{"Query Parameters": {name: value, …}}`, decoded.
fn parse_urlquery(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    Ok(texts_out((0..rows).map(|i| {
        let text = text_at(&texts, i)?;
        let query = text.split_once('?').map_or(text, |(_, q)| q);
        let mut params = Map::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params
                .entry(percent_decode(k))
                .or_insert_with(|| Value::String(percent_decode(v)));
        }
        let mut bag = Map::new();
        bag.insert("Query Parameters".to_string(), Value::Object(params));
        to_text(&Value::Object(bag))
    })))
}

/// `range(start, stop [, step])` as a function: the array from start to stop
/// inclusive. Limitation: numbers only; a datetime range gives null.
fn range_array(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let integral = args.iter().all(|a| a.data_type().is_integer());
    let (from, to) = (reals(&args[0])?, reals(&args[1])?);
    let step = args.get(2).map(reals).transpose()?;
    Ok(json_out(rows, |i| {
        if from.is_null(i) || to.is_null(i) {
            return Value::Null;
        }
        let s = step
            .as_ref()
            .filter(|s| !s.is_null(i))
            .map_or(1.0, |s| s.value(i));
        let (a, b) = (from.value(i), to.value(i));
        if s == 0.0 || (b - a) / s < 0.0 {
            return Value::Array(vec![]);
        }
        let n = (((b - a) / s).floor() as i64 + 1).clamp(0, 1 << 20);
        Value::Array(
            (0..n)
                .map(|k| {
                    let v = a + k as f64 * s;
                    if integral {
                        Value::from(v as i64)
                    } else {
                        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
                    }
                })
                .collect(),
        )
    }))
}

/// `repeat(value, count)`: an array of `count` copies.
fn repeat(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let counts = longs(&args[1])?;
    Ok(json_out(rows, |i| {
        if counts.is_null(i) {
            return Value::Null;
        }
        let n = usize::try_from(counts.value(i).clamp(0, 1 << 20)).unwrap_or(0);
        Value::Array(vec![value_at(&args[0], i); n])
    }))
}

fn array_of(array: &ArrayRef, row: usize) -> Option<Vec<Value>> {
    match value_at(array, row) {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

/// `zip(a, b, …)`: arrays of the elements at each position; shorter arrays give null.
fn zip(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(json_out(rows, |i| {
        let Some(arrays) = args
            .iter()
            .map(|a| array_of(a, i))
            .collect::<Option<Vec<_>>>()
        else {
            return Value::Null;
        };
        let n = arrays.iter().map(Vec::len).max().unwrap_or(0);
        Value::Array(
            (0..n)
                .map(|k| {
                    Value::Array(
                        arrays
                            .iter()
                            .map(|a| a.get(k).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                })
                .collect(),
        )
    }))
}

fn bag_has_key(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let keys = strings(&args[1])?;
    let out: BooleanArray = (0..rows)
        .map(|i| {
            let key = text_at(&keys, i)?;
            match value_at(&args[0], i) {
                Value::Object(map) => Some(map.contains_key(key)),
                _ => Some(false),
            }
        })
        .collect();
    Ok(Arc::new(out))
}

fn bag_remove_keys(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    Ok(json_out(rows, |i| {
        let Value::Object(mut map) = value_at(&args[0], i) else {
            return Value::Null;
        };
        for key in array_of(&args[1], i).unwrap_or_default() {
            if let Value::String(k) = key {
                map.remove(&k);
            }
        }
        Value::Object(map)
    }))
}

/// `base64_decode_toarray(text)`: the decoded bytes as an array of numbers.
fn base64_decode_toarray(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    Ok(texts_out((0..rows).map(|i| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text_at(&texts, i)?.trim())
            .ok()?;
        to_text(&Value::Array(bytes.into_iter().map(Value::from).collect()))
    })))
}

#[cfg(test)]
mod tests {
    use super::windows_arguments;

    #[test]
    fn command_lines_split_like_the_c_runtime() {
        assert_eq!(
            windows_arguments(r#"cmd.exe /c "echo hi" a\"b c:\dir\\"#),
            vec!["cmd.exe", "/c", "echo hi", "a\"b", "c:\\dir\\\\"]
        );
        assert_eq!(
            windows_arguments(r#""C:\Program Files\x.exe" -e"#),
            vec!["C:\\Program Files\\x.exe", "-e"]
        );
    }
}
