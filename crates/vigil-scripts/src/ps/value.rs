//! Values the PowerShell evaluator computes, and PowerShell's conversions between them.

use crate::codec;

/// A text encoding as `[Text.Encoding]` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    Unicode,
    BigEndianUnicode,
    Utf8,
    Ascii,
    Utf32,
    Latin1,
}

impl Enc {
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Enc::Unicode => codec::utf16le(bytes).0,
            Enc::BigEndianUnicode => {
                let swapped: Vec<u8> = bytes
                    .chunks(2)
                    .flat_map(|c| [*c.get(1).unwrap_or(&0), c[0]])
                    .collect();
                codec::utf16le(&swapped).0
            }
            Enc::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Enc::Ascii => bytes
                .iter()
                .map(|&b| if b < 0x80 { b as char } else { '?' })
                .collect(),
            Enc::Utf32 => bytes
                .chunks(4)
                .map(|c| {
                    let mut w = [0u8; 4];
                    w[..c.len()].copy_from_slice(c);
                    char::from_u32(u32::from_le_bytes(w)).unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect(),
            Enc::Latin1 => bytes.iter().map(|&b| b as char).collect(),
        }
    }

    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Enc::Unicode => text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
            Enc::BigEndianUnicode => text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
            Enc::Utf32 => text
                .chars()
                .flat_map(|c| (c as u32).to_le_bytes())
                .collect(),
            Enc::Ascii | Enc::Latin1 => text
                .chars()
                .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
                .collect(),
            Enc::Utf8 => text.as_bytes().to_vec(),
        }
    }

    pub fn by_name(name: &str) -> Option<Enc> {
        Some(match name.to_ascii_lowercase().as_str() {
            "unicode" | "utf-16" | "utf-16le" | "1200" => Enc::Unicode,
            "bigendianunicode" | "utf-16be" | "1201" => Enc::BigEndianUnicode,
            "utf8" | "utf-8" | "65001" => Enc::Utf8,
            "ascii" | "us-ascii" | "20127" => Enc::Ascii,
            "utf32" | "utf-32" | "12000" => Enc::Utf32,
            "default" | "latin1" | "iso-8859-1" | "28591" | "1252" | "windows-1252" => Enc::Latin1,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Char(char),
    Int(i64),
    Array(Vec<Value>),
    Bytes(Vec<u8>),
    /// A type literal such as `[Convert]`: lowercased, without `system.`.
    Type(String),
    Encoding(Enc),
    /// A memory stream, or a decompression stream already read out.
    Stream(Vec<u8>),
    Reader(Vec<u8>, Option<Enc>),
    /// A script block that has not run.
    Script(String),
    /// Code that the expression runs (`[ScriptBlock]::Create(s).Invoke()`).
    Run(String),
    /// What `Get-Variable` returns: only its name is known.
    VarInfo(String),
    /// `$ExecutionContext.InvokeCommand`.
    InvokeCommand,
    Null,
}

impl Value {
    /// PowerShell's conversion to string, where it has one the engine can compute.
    pub fn to_str(&self) -> Option<String> {
        Some(match self {
            Value::Str(s) => s.clone(),
            Value::Char(c) => c.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Array(items) => {
                let parts: Option<Vec<String>> = items.iter().map(Value::to_str).collect();
                parts?.join(" ")
            }
            Value::Bytes(b) => b
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            Value::Script(s) => s.clone(),
            Value::Null => String::new(),
            _ => return None,
        })
    }

    pub fn to_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Char(c) => Some(*c as i64),
            Value::Str(s) => parse_int(s.trim()),
            _ => None,
        }
    }

    pub fn to_char(&self) -> Option<char> {
        match self {
            Value::Char(c) => Some(*c),
            Value::Int(n) => u32::try_from(*n).ok().and_then(char::from_u32),
            Value::Str(s) => {
                let mut it = s.chars();
                let c = it.next()?;
                it.next().is_none().then_some(c)
            }
            _ => None,
        }
    }

    /// The elements PowerShell would enumerate (a scalar enumerates as itself).
    pub fn items(&self) -> Vec<Value> {
        match self {
            Value::Array(items) => items.clone(),
            Value::Bytes(b) => b.iter().map(|&x| Value::Int(x as i64)).collect(),
            other => vec![other.clone()],
        }
    }

    /// Bytes from a byte array or an array of small integers.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) | Value::Stream(b) => Some(b.clone()),
            Value::Array(items) => {
                if let [single @ (Value::Bytes(_) | Value::Stream(_))] = items.as_slice() {
                    return single.to_bytes();
                }
                items
                    .iter()
                    .map(|v| v.to_int().and_then(|n| u8::try_from(n & 0xff).ok()))
                    .collect()
            }
            _ => None,
        }
    }

    pub fn is_text(&self) -> bool {
        matches!(self, Value::Str(_) | Value::Char(_))
    }

    /// A rough size, to keep arrays and strings within the limits.
    pub fn weight(&self) -> usize {
        match self {
            Value::Str(s) | Value::Script(s) | Value::Run(s) => s.len(),
            Value::Array(items) => items.iter().map(Value::weight).sum::<usize>() + items.len(),
            Value::Bytes(b) | Value::Stream(b) | Value::Reader(b, _) => b.len(),
            _ => 1,
        }
    }
}

pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let n = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    Some(if neg { -n } else { n })
}

/// The `-f` operator: `{0}`, `{1,5}`, `{0:x}` (alignment and format are ignored), `{{`.
pub fn format(template: &str, args: &[Value], cap: usize) -> Option<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() > cap {
            return None;
        }
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut spec = String::new();
                for n in chars.by_ref() {
                    if n == '}' {
                        break;
                    }
                    spec.push(n);
                }
                let index = spec
                    .split([',', ':'])
                    .next()?
                    .trim()
                    .parse::<usize>()
                    .ok()?;
                out.push_str(&args.get(index)?.to_str()?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Renders a string as a PowerShell single-quoted literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Values PowerShell defines itself, as they read on a default Windows install.
pub fn automatic(name: &str) -> Option<Value> {
    let s = |v: &str| Some(Value::Str(v.to_string()));
    match name {
        "shellid" => s("Microsoft.PowerShell"),
        "pshome" => s("C:\\Windows\\System32\\WindowsPowerShell\\v1.0"),
        "env:comspec" => s("C:\\Windows\\system32\\cmd.exe"),
        "env:windir" | "env:systemroot" => s("C:\\Windows"),
        "env:public" => s("C:\\Users\\Public"),
        "env:programdata" | "env:allusersprofile" => s("C:\\ProgramData"),
        "env:programfiles" => s("C:\\Program Files"),
        "env:commonprogramfiles" => s("C:\\Program Files\\Common Files"),
        "verbosepreference" | "debugpreference" | "progresspreference" => s("SilentlyContinue"),
        "erroractionpreference" | "warningpreference" => s("Continue"),
        "null" => Some(Value::Null),
        "true" => Some(Value::Int(1)),
        "false" => Some(Value::Int(0)),
        "executioncontext" => Some(Value::Type("executioncontext".into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_operator_reorders() {
        let args = [Value::Str("ex".into()), Value::Str("I".into())];
        assert_eq!(format("{1}{0}{{x}}", &args, 100).as_deref(), Some("Iex{x}"));
        assert_eq!(format("{2}", &args, 100), None);
        assert_eq!(format("{0}{0}{0}{0}", &args, 3), None);
    }

    #[test]
    fn quoting_doubles_single_quotes() {
        assert_eq!(quote("it's"), "'it''s'");
    }
}
