//! String functions: KQL's term search (`has` and friends), regular expressions, and
//! the encodings hunting queries decode.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, StringArray};
use arrow::datatypes::DataType;
use base64::Engine as _;
use datafusion::common::{DataFusionError, Result as DfResult};
use regex::Regex;

use super::{Entry, longs, strings, text_at};

pub(crate) const FUNCTIONS: &[Entry] = &[
    ("kql_hash_md5", || DataType::Utf8, hash_md5),
    ("kql_hash_sha1", || DataType::Utf8, hash_sha1),
    ("kql_hash_sha256", || DataType::Utf8, hash_sha256),
    ("kql_has", || DataType::Boolean, term::<0, false>),
    ("kql_has_cs", || DataType::Boolean, term::<0, true>),
    ("kql_hasprefix", || DataType::Boolean, term::<1, false>),
    ("kql_hasprefix_cs", || DataType::Boolean, term::<1, true>),
    ("kql_hassuffix", || DataType::Boolean, term::<2, false>),
    ("kql_hassuffix_cs", || DataType::Boolean, term::<2, true>),
    ("kql_extract", || DataType::Utf8, extract),
    ("kql_extract_all", || DataType::Utf8, extract_all),
    ("kql_regex_match", || DataType::Boolean, regex_match),
    ("kql_replace_regex", || DataType::Utf8, replace_regex),
    ("kql_trim", || DataType::Utf8, trim::<0>),
    ("kql_trim_start", || DataType::Utf8, trim::<1>),
    ("kql_trim_end", || DataType::Utf8, trim::<2>),
    ("kql_countof", || DataType::Int64, countof),
    ("kql_split", || DataType::Utf8, split),
    ("kql_url_decode", || DataType::Utf8, url_decode),
    ("kql_url_encode", || DataType::Utf8, url_encode),
    ("kql_base64_encode", || DataType::Utf8, base64_encode),
    ("kql_base64_decode", || DataType::Utf8, base64_decode),
    ("kql_to_utf8", || DataType::Utf8, to_utf8),
    ("kql_has_any_json", || DataType::Boolean, has_any_json),
    ("kql_contains", || DataType::Boolean, contains_ci),
];

/// `has_any` against a dynamic array of terms held in a column or computed value.
fn has_any_json(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let haystacks = strings(&args[0])?;
    let lists = strings(&args[1])?;
    let out: BooleanArray = (0..rows)
        .map(|i| {
            let hay = text_at(&haystacks, i).unwrap_or("");
            let terms = match super::dynamic::parse_dyn(text_at(&lists, i)?) {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            Some(terms.iter().any(|t| {
                super::dynamic::to_text(t).is_some_and(|t| has_term(hay, &t, false, true, true))
            }))
        })
        .collect();
    Ok(Arc::new(out))
}

// ----- terms ----------------------------------------------------------------------------

/// KQL indexes text as terms: runs of letters and digits. `has` finds the needle where it
/// starts and ends on term boundaries; `hasprefix` needs only the start, `hassuffix` only
/// the end. A needle that itself holds punctuation (`cmd.exe`) is a phrase of terms.
fn term<const MODE: u8, const CASE_SENSITIVE: bool>(
    args: &[ArrayRef],
    rows: usize,
) -> DfResult<ArrayRef> {
    let haystacks = strings(&args[0])?;
    let needles = strings(&args[1])?;
    let (start, end) = match MODE {
        0 => (true, true),
        1 => (true, false),
        _ => (false, true),
    };
    if let Some(needle) = constant(&needles)
        && (CASE_SENSITIVE || needle.is_ascii())
    {
        let terms = Bounds { start, end };
        return Ok(Arc::new(scan_column(
            &haystacks,
            needle.as_bytes(),
            CASE_SENSITIVE,
            Some(terms),
        )));
    }
    let out: BooleanArray = (0..rows)
        .map(|i| {
            let needle = text_at(&needles, i)?;
            let hay = text_at(&haystacks, i).unwrap_or("");
            Some(has_term(hay, needle, CASE_SENSITIVE, start, end))
        })
        .collect();
    Ok(Arc::new(out))
}

/// The needle when every row has the same, non-empty one (a literal in the query).
fn constant(needles: &StringArray) -> Option<&str> {
    if needles.is_empty() || needles.null_count() > 0 {
        return None;
    }
    let first = needles.value(0);
    let same = !first.is_empty() && (1..needles.len()).all(|i| needles.value(i) == first);
    same.then_some(first)
}

/// Which ends of a match must fall on term boundaries (for `has` and its prefix and
/// suffix forms).
#[derive(Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) start: bool,
    pub(crate) end: bool,
}

/// Searches a whole column for one needle in a single pass over its bytes, rather
/// than row by row: candidates come from a vectorised scan for the needle's rarest
/// byte across every value at once, and only they are checked and mapped to their
/// row. Without `terms` any occurrence counts (`contains`).
pub(crate) fn scan_column(
    hay: &StringArray,
    needle: &[u8],
    case_sensitive: bool,
    terms: Option<Bounds>,
) -> BooleanArray {
    let rows = hay.len();
    let mut found = vec![false; rows];
    let offsets = hay.value_offsets();
    let data = hay.value_data();
    let (first, last) = (offsets[0] as usize, offsets[rows] as usize);
    let anchor_at = anchor_of(needle);
    let anchor = needle[anchor_at];
    let (lo, up) = if case_sensitive {
        (anchor, anchor)
    } else {
        (anchor.to_ascii_lowercase(), anchor.to_ascii_uppercase())
    };
    let check_start = terms.is_some_and(|t| t.start && is_term_byte(needle[0]));
    let check_end = terms.is_some_and(|t| t.end && is_term_byte(needle[needle.len() - 1]));
    let mut row = 0;
    for hit in memchr::memchr2_iter(lo, up, &data[first..last]) {
        let Some(at) = (first + hit).checked_sub(anchor_at) else {
            continue;
        };
        // Candidates come in increasing order, so the row only moves forward.
        while row < rows && offsets[row + 1] as usize <= at {
            row += 1;
        }
        if row == rows {
            break;
        }
        let (row_start, row_end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let after = at + needle.len();
        if found[row] || at < row_start || after > row_end {
            continue;
        }
        let window = &data[at..after];
        let equal = if case_sensitive {
            window == needle
        } else {
            window.eq_ignore_ascii_case(needle)
        };
        if !equal {
            continue;
        }
        let before_ok = !check_start || at == row_start || !is_term_byte(data[at - 1]);
        let after_ok = !check_end || after == row_end || !is_term_byte(data[after]);
        if before_ok && after_ok {
            found[row] = true;
        }
    }
    // A null haystack never matches; its slot in the buffer is empty anyway.
    found
        .into_iter()
        .enumerate()
        .map(|(i, f)| Some(f && !hay.is_null(i)))
        .collect()
}

fn is_term_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Whether `needle` occurs in `hay` on term boundaries (at the start when `start`, at the
/// end when `end`).
pub(crate) fn has_term(
    hay: &str,
    needle: &str,
    case_sensitive: bool,
    start: bool,
    end: bool,
) -> bool {
    let (hay_b, needle_b) = (hay.as_bytes(), needle.as_bytes());
    if needle_b.is_empty() {
        return false;
    }
    let check_start = start && is_term_byte(needle_b[0]);
    let check_end = end && is_term_byte(needle_b[needle_b.len() - 1]);
    let bounded = |at: usize| {
        let before_ok = !check_start || at == 0 || !is_term_byte(hay_b[at - 1]);
        let after = at + needle_b.len();
        let after_ok = !check_end || after == hay_b.len() || !is_term_byte(hay_b[after]);
        before_ok && after_ok
    };
    if case_sensitive {
        return memchr::memmem::find_iter(hay_b, needle_b).any(bounded);
    }
    if !needle.is_ascii() {
        let (hay, needle) = (hay.to_lowercase(), needle.to_lowercase());
        return has_term(&hay, &needle, true, start, end);
    }
    find_ascii_ci(hay_b, needle_b).any(bounded)
}

/// How common a byte is in log text (lower is rarer); the search anchors on the
/// needle's rarest byte so that few candidates need checking.
fn commonness(b: u8) -> u8 {
    const LETTERS: &[u8] = b"zqjxkvbypgwfmucdlhrsnioate";
    match b.to_ascii_lowercase() {
        l @ b'a'..=b'z' => LETTERS
            .iter()
            .position(|&x| x == l)
            .map_or(26, |p| p as u8 + 1),
        b'0'..=b'9' => 20,
        b' ' | b'.' | b'\\' | b'/' | b'-' | b'_' => 30,
        _ => 5,
    }
}

/// Where in a needle to anchor the search: its rarest byte. Needles are nearly always
/// constant, so the last one's anchor is kept.
fn anchor_of(needle: &[u8]) -> usize {
    type Last = std::cell::RefCell<(Vec<u8>, usize)>;
    thread_local! {
        static LAST: Last = const { std::cell::RefCell::new((Vec::new(), 0)) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != needle {
            let offset = (0..needle.len())
                .min_by_key(|&i| commonness(needle[i]))
                .unwrap_or(0);
            *last = (needle.to_vec(), offset);
        }
        last.1
    })
}

/// The positions where an ASCII needle occurs in `hay`, ignoring ASCII case.
fn find_ascii_ci<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let offset = anchor_of(needle);
    let anchor = needle[offset];
    let (lo, up) = (anchor.to_ascii_lowercase(), anchor.to_ascii_uppercase());
    memchr::memchr2_iter(lo, up, hay).filter_map(move |at| {
        let start = at.checked_sub(offset)?;
        let end = start + needle.len();
        (end <= hay.len() && hay[start..end].eq_ignore_ascii_case(needle)).then_some(start)
    })
}

/// `contains`: the needle anywhere, ignoring case.
fn contains_ci(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let haystacks = strings(&args[0])?;
    let needles = strings(&args[1])?;
    if let Some(needle) = constant(&needles).filter(|n| n.is_ascii()) {
        return Ok(Arc::new(scan_column(
            &haystacks,
            needle.as_bytes(),
            false,
            None,
        )));
    }
    let out: BooleanArray = (0..rows)
        .map(|i| {
            let needle = text_at(&needles, i)?;
            let hay = text_at(&haystacks, i).unwrap_or("");
            if needle.is_empty() {
                return Some(true);
            }
            if !needle.is_ascii() {
                return Some(hay.to_lowercase().contains(&needle.to_lowercase()));
            }
            Some(
                find_ascii_ci(hay.as_bytes(), needle.as_bytes())
                    .next()
                    .is_some(),
            )
        })
        .collect();
    Ok(Arc::new(out))
}

// ----- regular expressions ---------------------------------------------------------------

/// Compiles each distinct pattern once per batch (patterns are nearly always constant).
#[derive(Default)]
pub(crate) struct Regexes {
    last: Option<(String, Regex)>,
}

impl Regexes {
    pub(crate) fn get(&mut self, pattern: &str) -> DfResult<&Regex> {
        let stale = self.last.as_ref().is_none_or(|(p, _)| p != pattern);
        if stale {
            let re = Regex::new(pattern).map_err(|e| {
                DataFusionError::Execution(format!("invalid regular expression {pattern:?}: {e}"))
            })?;
            self.last = Some((pattern.to_string(), re));
        }
        Ok(&self.last.as_ref().expect("set above").1)
    }
}

/// `extract(regex, group, text)`: the group's text in the first match, else null.
fn extract(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let patterns = strings(&args[0])?;
    let groups = longs(&args[1])?;
    let texts = strings(&args[2])?;
    let mut cache = Regexes::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let (Some(p), Some(t)) = (text_at(&patterns, i), text_at(&texts, i)) else {
            out.push(None);
            continue;
        };
        let group = if groups.is_null(i) {
            0
        } else {
            groups.value(i)
        };
        let re = cache.get(p)?;
        let found = usize::try_from(group).ok().and_then(|g| {
            re.captures(t)
                .and_then(|c| c.get(g))
                .map(|m| m.as_str().to_string())
        });
        out.push(found);
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// `extract_all(regex, text)`: every match, as a dynamic array; with one capture group
/// its text, with several an array of the groups.
fn extract_all(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    use serde_json::Value;
    let patterns = strings(&args[0])?;
    let texts = strings(&args[1])?;
    let mut cache = Regexes::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let (Some(p), Some(t)) = (text_at(&patterns, i), text_at(&texts, i)) else {
            out.push(None);
            continue;
        };
        let re = cache.get(p)?;
        let groups = re.captures_len() - 1;
        let items: Vec<Value> = re
            .captures_iter(t)
            .map(|c| {
                let text = |g: usize| c.get(g).map_or(Value::Null, |m| m.as_str().into());
                match groups {
                    0 => text(0),
                    1 => text(1),
                    n => Value::Array((1..=n).map(text).collect()),
                }
            })
            .collect();
        out.push((!items.is_empty()).then(|| Value::Array(items).to_string()));
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// Whether the text matches the regex anywhere (null text never matches).
fn regex_match(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let patterns = strings(&args[1])?;
    let mut cache = Regexes::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let Some(p) = text_at(&patterns, i) else {
            out.push(Some(false));
            continue;
        };
        let t = text_at(&texts, i).unwrap_or("");
        out.push(Some(cache.get(p)?.is_match(t)));
    }
    Ok(Arc::new(BooleanArray::from(out)))
}

/// `replace_regex(text, regex, rewrite)`, where the rewrite names groups as `\1`.
fn replace_regex(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let patterns = strings(&args[1])?;
    let rewrites = strings(&args[2])?;
    let mut cache = Regexes::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let (Some(t), Some(p)) = (text_at(&texts, i), text_at(&patterns, i)) else {
            out.push(None);
            continue;
        };
        let rewrite = rewrite_groups(text_at(&rewrites, i).unwrap_or(""));
        out.push(Some(
            cache.get(p)?.replace_all(t, rewrite.as_str()).into_owned(),
        ));
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// KQL's `\1` group references as the regex crate's `${1}`, with `$` kept literal.
fn rewrite_groups(rewrite: &str) -> String {
    let mut out = String::with_capacity(rewrite.len());
    let mut chars = rewrite.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let d = chars.next().expect("peeked");
                out.push_str(&format!("${{{d}}}"));
            }
            '$' => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

/// `trim(regex, text)` and its one-sided forms: removes repeated matches of the regex
/// at the start and/or end.
fn trim<const SIDE: u8>(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let patterns = strings(&args[0])?;
    let texts = strings(&args[1])?;
    let mut start_cache = Regexes::default();
    let mut end_cache = Regexes::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let (Some(p), Some(t)) = (text_at(&patterns, i), text_at(&texts, i)) else {
            out.push(None);
            continue;
        };
        let mut s = t;
        if SIDE != 2 {
            let re = start_cache.get(&format!("^(?:{p})+"))?;
            if let Some(m) = re.find(s) {
                s = &s[m.end()..];
            }
        }
        if SIDE != 1 {
            let re = end_cache.get(&format!("(?:{p})+$"))?;
            if let Some(m) = re.find(s) {
                s = &s[..m.start()];
            }
        }
        out.push(Some(s.to_string()));
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// `countof(text, search [, "normal"|"regex"])`: non-overlapping occurrences.
fn countof(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let searches = strings(&args[1])?;
    let kinds = args.get(2).map(strings).transpose()?;
    let mut cache = Regexes::default();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let t = text_at(&texts, i).unwrap_or("");
        let Some(search) = text_at(&searches, i).filter(|s| !s.is_empty()) else {
            out.push(Some(0));
            continue;
        };
        let regex = kinds
            .as_ref()
            .and_then(|k| text_at(k, i))
            .is_some_and(|k| k.eq_ignore_ascii_case("regex"));
        let n = if regex {
            cache.get(search)?.find_iter(t).count()
        } else {
            t.matches(search).count()
        };
        out.push(Some(n as i64));
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// `split(text, delimiter)`: a dynamic array of the pieces.
fn split(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let delims = strings(&args[1])?;
    let out: StringArray = (0..rows)
        .map(|i| {
            let t = text_at(&texts, i).unwrap_or("");
            let d = text_at(&delims, i).unwrap_or("");
            let parts: Vec<&str> = if d.is_empty() {
                vec![t]
            } else {
                t.split(d).collect()
            };
            Some(serde_json::to_string(&parts).unwrap_or_default())
        })
        .collect();
    Ok(Arc::new(out))
}

fn map_text(args: &[ArrayRef], f: impl Fn(&str) -> Option<String>) -> DfResult<ArrayRef> {
    let texts = strings(&args[0])?;
    let out: StringArray = texts.iter().map(|t| t.and_then(&f)).collect();
    Ok(Arc::new(out))
}

fn url_decode(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    map_text(args, |t| Some(super::parsing::percent_decode(t)))
}

fn url_encode(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    map_text(args, |t| {
        let mut out = String::with_capacity(t.len());
        for b in t.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        Some(out)
    })
}

/// A digest of the text's UTF-8 bytes as lowercase hex.
fn digest_hex<D: sha2::Digest>(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    map_text(args, |t| {
        let bytes = D::digest(t.as_bytes());
        Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
    })
}

fn hash_md5(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    digest_hex::<md5::Md5>(args)
}

fn hash_sha1(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    digest_hex::<sha1::Sha1>(args)
}

fn hash_sha256(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    digest_hex::<sha2::Sha256>(args)
}

fn base64_encode(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    map_text(args, |t| {
        Some(base64::engine::general_purpose::STANDARD.encode(t.as_bytes()))
    })
}

/// Base64 to text; null when the input is not base64 or not UTF-8.
fn base64_decode(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    map_text(args, |t| {
        let bytes = decode_base64(t)?;
        String::from_utf8(bytes).ok()
    })
}

pub(crate) fn decode_base64(t: &str) -> Option<Vec<u8>> {
    let t = t.trim();
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(t.trim_end_matches('='))
        })
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.trim_end_matches('='))
        })
        .ok()
}

/// `unicode_codepoints_to_string`-like helper used by `make_string`: code points to text.
fn to_utf8(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let codes: Vec<Int64Array> = args.iter().map(longs).collect::<DfResult<_>>()?;
    let out: StringArray = (0..rows)
        .map(|i| {
            codes
                .iter()
                .map(|c| {
                    (!c.is_null(i))
                        .then(|| u32::try_from(c.value(i)).ok().and_then(char::from_u32))
                        .flatten()
                })
                .collect::<Option<String>>()
        })
        .collect();
    Ok(Arc::new(out))
}

/// `new_guid()`: a random version-4 GUID per row.
pub(crate) fn new_guid(_args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let out: StringArray = (0..rows)
        .map(|i| {
            let mut h = state.build_hasher();
            h.write_usize(i);
            let a = h.finish();
            h.write_u64(a);
            let b = h.finish();
            let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
            let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
            Some(format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xffff,
                b >> 48,
                b & 0xffff_ffff_ffff
            ))
        })
        .collect();
    Ok(Arc::new(out))
}
