//! The .NET surface obfuscated PowerShell leans on: casts, `[Convert]`, `[Text.Encoding]`,
//! memory and compression streams, string methods, indexing.

use super::eval::Eval;
use super::ops::{join, regex_replace};
use super::value::{Enc, Value};
use crate::codec::{self, Compression};
use crate::model::LayerKind;

/// `[type] value`.
pub fn cast(ev: &mut Eval<'_>, ty: &str, v: Value) -> Option<Value> {
    Some(match ty {
        "char" => {
            if !matches!(v, Value::Char(_)) {
                ev.ops.insert(LayerKind::CharCodes);
            }
            Value::Char(v.to_char()?)
        }
        "char[]" => {
            let items = match &v {
                Value::Str(s) => s.chars().map(Value::Char).collect(),
                other => {
                    ev.ops.insert(LayerKind::CharCodes);
                    let chars: Option<Vec<Value>> = other
                        .items()
                        .iter()
                        .map(|x| x.to_char().map(Value::Char))
                        .collect();
                    chars?
                }
            };
            Value::Array(items)
        }
        "string" => Value::Str(v.to_str()?),
        "string[]" => {
            let items: Option<Vec<Value>> = v
                .items()
                .iter()
                .map(|x| x.to_str().map(Value::Str))
                .collect();
            Value::Array(items?)
        }
        "int" | "int32" | "int64" | "long" | "int16" | "uint32" | "uint16" => {
            Value::Int(v.to_int()?)
        }
        "byte" => Value::Int(v.to_int()? & 0xff),
        "byte[]" => Value::Bytes(v.to_bytes()?),
        "scriptblock" => Value::Script(v.to_str()?),
        "regex" => Value::Str(v.to_str()?),
        "io.memorystream" => Value::Stream(v.to_bytes()?),
        "array" | "object" | "object[]" | "psobject" => v,
        _ => return None,
    })
}

/// `value[index]`, with negative indices counting from the end and arrays of indices.
pub fn index(ev: &mut Eval<'_>, v: &Value, index: &Value) -> Option<Value> {
    let items: Vec<Value> = match v {
        Value::Str(s) => s.chars().map(Value::Char).collect(),
        other => other.items(),
    };
    let len = items.len() as i64;
    let pick = |n: i64| -> Option<Value> {
        let k = if n < 0 { len + n } else { n };
        if k < 0 || k >= len {
            return Some(Value::Null);
        }
        items.get(usize::try_from(k).ok()?).cloned()
    };
    match index {
        Value::Array(indices) => {
            let nums: Option<Vec<i64>> = indices.iter().map(Value::to_int).collect();
            let nums = nums?;
            let descending = nums.len() > 2 && nums.windows(2).all(|w| w[1] == w[0] - 1);
            if descending && nums.len() as i64 * 2 >= len {
                ev.ops.insert(LayerKind::Reverse);
            } else if matches!(v, Value::Str(_)) {
                ev.ops.insert(LayerKind::Substring);
            }
            let picked: Option<Vec<Value>> = nums.into_iter().map(pick).collect();
            Some(Value::Array(picked?))
        }
        other => pick(other.to_int()?),
    }
}

fn arg_str(args: &[Value], n: usize) -> Option<String> {
    args.get(n)?.to_str()
}

fn arg_int(args: &[Value], n: usize) -> Option<i64> {
    args.get(n)?.to_int()
}

fn encoding_of(v: &Value) -> Option<Enc> {
    match v {
        Value::Encoding(e) => Some(*e),
        Value::Str(s) => Enc::by_name(s),
        Value::Int(n) => Enc::by_name(&n.to_string()),
        _ => None,
    }
}

/// `New-Object Type(args)` and `[Type]::new(args)`.
pub fn construct(ev: &mut Eval<'_>, type_name: &str, args: Vec<Value>) -> Option<Value> {
    let lower = type_name.to_ascii_lowercase();
    let ty = lower.strip_prefix("system.").unwrap_or(&lower);
    Some(match ty {
        "io.memorystream" => match args.first() {
            Some(a) => Value::Stream(a.to_bytes()?),
            None => Value::Stream(Vec::new()),
        },
        "io.compression.gzipstream" | "io.compression.deflatestream" => {
            let data = args.first()?.to_bytes()?;
            let kind = if ty.ends_with("gzipstream") {
                ev.ops.insert(LayerKind::Gzip);
                Compression::Gzip
            } else {
                ev.ops.insert(LayerKind::Deflate);
                Compression::Deflate
            };
            Value::Stream(inflate(ev, &data, kind)?)
        }
        "io.streamreader" => {
            let data = args.first()?.to_bytes()?;
            let enc = match args.get(1) {
                Some(e) => Some(encoding_of(e)?),
                None => None,
            };
            Value::Reader(data, enc)
        }
        "text.utf8encoding" => Value::Encoding(Enc::Utf8),
        "text.asciiencoding" => Value::Encoding(Enc::Ascii),
        "text.unicodeencoding" => Value::Encoding(Enc::Unicode),
        "string" => {
            let chars: Option<String> = args.first()?.items().iter().map(Value::to_char).collect();
            Value::Str(chars?)
        }
        _ => return None,
    })
}

fn inflate(ev: &mut Eval<'_>, data: &[u8], kind: Compression) -> Option<Vec<u8>> {
    let cap = ev.budget.limits.max_decoded;
    if !ev.budget.charge(data.len().saturating_mul(4)) {
        return None;
    }
    let out = codec::inflate(data, kind, cap);
    if out.truncated {
        ev.budget.warn(format!(
            "decompressed stream larger than {cap} bytes: cut there (possible decompression bomb)"
        ));
    }
    if let Some(err) = &out.error {
        ev.budget.warn(format!(
            "compressed stream is damaged ({err}): kept what came out before"
        ));
        if out.bytes.is_empty() {
            return None;
        }
    }
    ev.budget.charge(out.bytes.len());
    Some(out.bytes)
}

/// `value.Member` without parentheses, or `[Type]::Member`.
pub fn property(ev: &mut Eval<'_>, v: &Value, member: &str, _static: bool) -> Option<Value> {
    let _ = ev;
    Some(match (v, member) {
        (Value::Str(s), "length") => Value::Int(s.chars().count() as i64),
        (Value::Array(a), "length" | "count") => Value::Int(a.len() as i64),
        (Value::Bytes(b), "length" | "count") => Value::Int(b.len() as i64),
        (Value::VarInfo(n), "name") => Value::Str(n.clone()),
        (Value::Type(t), m) if t == "text.encoding" => Value::Encoding(Enc::by_name(m)?),
        (Value::Type(t), "invokecommand") if t == "executioncontext" => Value::InvokeCommand,
        (Value::Type(t), "decompress") if t.ends_with("compressionmode") => {
            Value::Str("Decompress".into())
        }
        (Value::Type(t), "empty") if t == "string" => Value::Str(String::new()),
        (Value::Type(t), "newline") if t == "environment" => Value::Str("\r\n".into()),
        _ => return None,
    })
}

/// `value.Method(args)` or `[Type]::Method(args)`.
pub fn call(
    ev: &mut Eval<'_>,
    v: &Value,
    method: &str,
    args: Vec<Value>,
    _static: bool,
) -> Option<Value> {
    if let Value::Type(ty) = v {
        return static_call(ev, ty, method, args);
    }
    Some(match (v, method) {
        (Value::Str(s), _) => return string_method(ev, s, method, &args),
        (Value::Char(c), "tostring") => Value::Str(c.to_string()),
        (Value::Int(n), "tostring") => Value::Str(n.to_string()),
        (Value::Encoding(e), "getstring") => {
            let bytes = args.first()?.to_bytes()?;
            Value::Str(e.decode(&bytes))
        }
        (Value::Encoding(e), "getbytes") => Value::Bytes(e.encode(&arg_str(&args, 0)?)),
        (Value::Stream(b), "toarray") => Value::Bytes(b.clone()),
        (Value::Reader(b, enc), "readtoend") => {
            let text = match enc {
                Some(e) => e.decode(b),
                None => String::from_utf8_lossy(b).into_owned(),
            };
            Value::Str(text)
        }
        (Value::Script(code), "invoke" | "invokereturnasis") => Value::Run(code.clone()),
        (Value::InvokeCommand, "invokescript") => Value::Run(arg_str(&args, 0)?),
        (Value::InvokeCommand, "newscriptblock") => Value::Script(arg_str(&args, 0)?),
        (Value::Array(items), "tostring") => Value::Str(
            join(
                &Value::Array(items.clone()),
                " ",
                ev.budget.limits.max_decoded,
            )?
            .to_str()?,
        ),
        _ => return None,
    })
}

fn static_call(ev: &mut Eval<'_>, ty: &str, method: &str, args: Vec<Value>) -> Option<Value> {
    Some(match (ty, method) {
        ("convert", "frombase64string") => {
            let text = arg_str(&args, 0)?;
            ev.budget.charge(text.len());
            match codec::base64(&text) {
                Ok(bytes) => {
                    ev.ops.insert(LayerKind::Base64);
                    Value::Bytes(bytes)
                }
                Err(why) => {
                    ev.budget
                        .warn(format!("invalid Base64 in FromBase64String: {why}"));
                    return None;
                }
            }
        }
        ("convert", "toint32" | "toint16" | "toint64" | "tobyte" | "touint32") => {
            let text = arg_str(&args, 0)?;
            let radix = match args.get(1) {
                Some(r) => u32::try_from(r.to_int()?).ok()?,
                None => 10,
            };
            if !matches!(radix, 2 | 8 | 10 | 16) {
                return None;
            }
            if radix == 16 {
                ev.ops.insert(LayerKind::Hex);
            }
            let digits = text
                .trim()
                .trim_start_matches("0x")
                .trim_start_matches("0X");
            Value::Int(i64::from_str_radix(digits, radix).ok()?)
        }
        ("convert", "tochar") => {
            ev.ops.insert(LayerKind::CharCodes);
            Value::Char(args.first()?.to_char()?)
        }
        ("convert", "tostring") => Value::Str(arg_str(&args, 0)?),
        ("text.encoding", "getencoding") => Value::Encoding(encoding_of(args.first()?)?),
        ("string", "join") => {
            ev.ops.insert(LayerKind::Join);
            let sep = arg_str(&args, 0)?;
            let rest = if args.len() == 2 {
                args[1].clone()
            } else {
                Value::Array(args[1..].to_vec())
            };
            join(&rest, &sep, ev.budget.limits.max_decoded)?
        }
        ("string", "concat") => {
            ev.ops.insert(LayerKind::Concatenation);
            let items: Vec<Value> = args.iter().flat_map(Value::items).collect();
            join(&Value::Array(items), "", ev.budget.limits.max_decoded)?
        }
        ("string", "format") => {
            ev.ops.insert(LayerKind::FormatOperator);
            let rest: Vec<Value> = if args.len() == 2 {
                args[1].items()
            } else {
                args[1..].to_vec()
            };
            Value::Str(super::value::format(
                &arg_str(&args, 0)?,
                &rest,
                ev.budget.limits.max_decoded,
            )?)
        }
        ("string", "new") => construct(ev, "string", args)?,
        ("char", "convertfromutf32") => {
            ev.ops.insert(LayerKind::CharCodes);
            Value::Char(args.first()?.to_char()?)
        }
        ("regex", "matches") => {
            let text = arg_str(&args, 0)?;
            let pat = arg_str(&args, 1)?;
            let rtl =
                arg_str(&args, 2).is_some_and(|o| o.to_ascii_lowercase().contains("righttoleft"));
            let re = regex::RegexBuilder::new(&pat)
                .size_limit(1 << 20)
                .build()
                .ok()?;
            let mut found: Vec<Value> = re
                .find_iter(&text)
                .map(|m| Value::Str(m.as_str().to_string()))
                .collect();
            if rtl {
                ev.ops.insert(LayerKind::Reverse);
                found.reverse();
            }
            Value::Array(found)
        }
        ("regex", "replace") => {
            ev.ops.insert(LayerKind::Replace);
            regex_replace(
                args.first()?,
                &arg_str(&args, 1)?,
                &arg_str(&args, 2)?,
                false,
                ev.budget.limits.max_decoded,
            )?
        }
        ("regex", "unescape")
        | ("uri", "unescapedatastring")
        | ("web.httputility", "urldecode") => {
            ev.ops.insert(LayerKind::Unescape);
            Value::Str(crate::jsvbs::percent_decode(&arg_str(&args, 0)?))
        }
        ("scriptblock", "create") => Value::Script(arg_str(&args, 0)?),
        (t, "new") => construct(ev, t, args)?,
        _ => return None,
    })
}

fn string_method(ev: &mut Eval<'_>, s: &str, method: &str, args: &[Value]) -> Option<Value> {
    Some(match method {
        "replace" => {
            ev.ops.insert(LayerKind::Replace);
            let from = arg_str(args, 0)?;
            let to = arg_str(args, 1).unwrap_or_default();
            if from.is_empty() {
                return None;
            }
            let growth = s.matches(from.as_str()).count().saturating_mul(to.len());
            if growth > ev.budget.limits.max_decoded {
                return None;
            }
            Value::Str(s.replace(&from, &to))
        }
        "tolower" | "tolowerinvariant" => Value::Str(s.to_lowercase()),
        "toupper" | "toupperinvariant" => Value::Str(s.to_uppercase()),
        "tostring" | "normalize" | "clone" => Value::Str(s.to_string()),
        "trim" | "trimstart" | "trimend" => {
            let set: Vec<char> = match args.first() {
                Some(a) => a
                    .items()
                    .iter()
                    .filter_map(|x| x.to_str())
                    .flat_map(|x| x.chars().collect::<Vec<_>>())
                    .collect(),
                None => Vec::new(),
            };
            let test = |c: char| {
                if set.is_empty() {
                    c.is_whitespace()
                } else {
                    set.contains(&c)
                }
            };
            Value::Str(
                match method {
                    "trim" => s.trim_matches(test),
                    "trimstart" => s.trim_start_matches(test),
                    _ => s.trim_end_matches(test),
                }
                .to_string(),
            )
        }
        "substring" => {
            ev.ops.insert(LayerKind::Substring);
            let chars: Vec<char> = s.chars().collect();
            let start = usize::try_from(arg_int(args, 0)?).ok()?;
            let len = match args.get(1) {
                Some(n) => usize::try_from(n.to_int()?).ok()?,
                None => chars.len().checked_sub(start)?,
            };
            Value::Str(chars.get(start..start.checked_add(len)?)?.iter().collect())
        }
        "remove" => {
            let chars: Vec<char> = s.chars().collect();
            let start = usize::try_from(arg_int(args, 0)?).ok()?;
            let len = match args.get(1) {
                Some(n) => usize::try_from(n.to_int()?).ok()?,
                None => chars.len().checked_sub(start)?,
            };
            let end = start.checked_add(len)?;
            if end > chars.len() {
                return None;
            }
            Value::Str(chars[..start].iter().chain(&chars[end..]).collect())
        }
        "insert" => {
            let chars: Vec<char> = s.chars().collect();
            let at = usize::try_from(arg_int(args, 0)?).ok()?;
            if at > chars.len() {
                return None;
            }
            let mut out: String = chars[..at].iter().collect();
            out.push_str(&arg_str(args, 1)?);
            out.extend(&chars[at..]);
            Value::Str(out)
        }
        "tochararray" => Value::Array(s.chars().map(Value::Char).collect()),
        "split" => {
            let seps: Vec<char> = match args.first() {
                Some(a) => a
                    .items()
                    .iter()
                    .filter_map(|x| x.to_str())
                    .flat_map(|x| x.chars().collect::<Vec<_>>())
                    .collect(),
                None => vec![' '],
            };
            Value::Array(
                s.split(|c| seps.contains(&c))
                    .map(|p| Value::Str(p.to_string()))
                    .collect(),
            )
        }
        "padleft" | "padright" => {
            let width = usize::try_from(arg_int(args, 0)?).ok()?.min(1 << 16);
            let fill = args.get(1).and_then(Value::to_char).unwrap_or(' ');
            let n = width.saturating_sub(s.chars().count());
            let pad: String = std::iter::repeat_n(fill, n).collect();
            Value::Str(if method == "padleft" {
                pad + s
            } else {
                s.to_string() + &pad
            })
        }
        _ => return None,
    })
}
