//! The operators and conversions of the evaluator that need no parser state: `+`,
//! `-join`, `-split`, `-replace`, truthiness, wildcards.

use super::value::Value;

/// PowerShell's idea of true: non-empty strings and arrays, non-zero numbers.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Str(s) => !s.is_empty(),
        Value::Int(n) => *n != 0,
        Value::Array(a) => !a.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

pub fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (n, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        match rest.find(part) {
            Some(pos) if n > 0 || pos == 0 => rest = &rest[pos + part.len()..],
            _ => return false,
        }
    }
    parts.last().is_none_or(|p| p.is_empty() || rest.is_empty())
}

pub fn add(a: Value, b: Value) -> Option<Value> {
    Some(match (a, b) {
        (Value::Array(mut x), other) => {
            x.extend(other.items());
            Value::Array(x)
        }
        (Value::Int(x), Value::Int(y)) => Value::Int(x.checked_add(y)?),
        (Value::Int(x), Value::Str(y)) => Value::Int(x.checked_add(y.trim().parse::<i64>().ok()?)?),
        (a, b) => Value::Str(a.to_str()? + &b.to_str()?),
    })
}

/// `-join`, refusing to build more than `cap` bytes.
pub fn join(v: &Value, sep: &str, cap: usize) -> Option<Value> {
    let mut out = String::new();
    for (n, item) in v.items().iter().enumerate() {
        if n > 0 {
            out.push_str(sep);
        }
        out.push_str(&item.to_str()?);
        if out.len() > cap {
            return None;
        }
    }
    Some(Value::Str(out))
}

pub fn split(v: &Value, pat: &Value, insensitive: bool) -> Option<Value> {
    let text = v.to_str()?;
    let pat = pat.items().first()?.to_str()?;
    let re = regex::RegexBuilder::new(&pat)
        .case_insensitive(insensitive)
        .size_limit(1 << 20)
        .build()
        .ok()?;
    // .NET keeps what capture groups matched between the pieces (`-split '(..)'`).
    let mut out = Vec::new();
    let mut at = 0;
    for caps in re.captures_iter(&text) {
        let Some(m) = caps.get(0) else { continue };
        out.push(Value::Str(text[at..m.start()].to_string()));
        for g in caps.iter().skip(1).flatten() {
            out.push(Value::Str(g.as_str().to_string()));
        }
        at = m.end();
        if out.len() > 1_000_000 {
            return None;
        }
    }
    out.push(Value::Str(text[at..].to_string()));
    Some(Value::Array(out))
}

/// `-replace` with .NET replacement syntax, refusing to build more than `cap` bytes.
pub fn regex_replace(
    v: &Value,
    pat: &str,
    rep: &str,
    insensitive: bool,
    cap: usize,
) -> Option<Value> {
    let re = regex::RegexBuilder::new(pat)
        .case_insensitive(insensitive)
        .size_limit(1 << 20)
        .build()
        .ok()?;
    let rep = dotnet_replacement(rep);
    let mut grown = 0usize;
    let mut one = |text: &str| -> Option<String> {
        let mut over = false;
        let out = re.replace_all(text, |caps: &regex::Captures<'_>| {
            let mut dst = String::new();
            if !over {
                caps.expand(&rep, &mut dst);
                grown += dst.len();
                over = grown > cap;
            }
            dst
        });
        (!over).then(|| out.into_owned())
    };
    match v {
        Value::Array(items) => {
            let out: Option<Vec<Value>> = items
                .iter()
                .map(|i| one(&i.to_str()?).map(Value::Str))
                .collect();
            Some(Value::Array(out?))
        }
        other => one(&other.to_str()?).map(Value::Str),
    }
}

/// .NET replacement strings say `$1` where the regex crate needs `${1}`, and `$$` for `$`.
fn dotnet_replacement(rep: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = rep.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            out.push_str("${");
            out.extend(&chars[i + 1..j]);
            out.push('}');
            i = j;
        } else if chars[i] == '$' && chars.get(i + 1) == Some(&'$') {
            out.push_str("$$");
            i += 2;
        } else if chars[i] == '$' {
            out.push_str("$$");
            i += 1;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}
