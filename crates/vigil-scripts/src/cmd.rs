//! cmd.exe obfuscation: caret escapes, `set` variables expanded with `%VAR%`, `!VAR!`,
//! substrings `%VAR:~n,m%` and substitutions `%VAR:a=b%`.

use std::collections::{BTreeSet, HashMap};

use crate::budget::Budget;
use crate::decode::Step;
use crate::model::LayerKind;

/// `p^o^w^e^r^s^h^e^l^l` → `powershell`; `^^` stays a caret.
pub fn carets(text: &str, budget: &mut Budget) -> Option<Step> {
    budget.charge(text.len());
    if !text.contains('^') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut removed = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            match chars.peek() {
                Some('\n' | '\r') | None => out.push(c),
                Some(_) => {
                    removed += 1;
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    (removed > 0).then(|| {
        Step::new(
            LayerKind::Caret,
            format!("removed {removed} cmd caret escape(s)"),
            out,
        )
    })
}

/// Values cmd.exe has before a script sets anything, as on a default install.
fn predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "comspec" => "C:\\Windows\\system32\\cmd.exe",
        "windir" | "systemroot" => "C:\\Windows",
        "systemdrive" => "C:",
        "programdata" | "allusersprofile" => "C:\\ProgramData",
        "programfiles" => "C:\\Program Files",
        "programfiles(x86)" => "C:\\Program Files (x86)",
        "commonprogramfiles" => "C:\\Program Files\\Common Files",
        "public" => "C:\\Users\\Public",
        "os" => "Windows_NT",
        "pathext" => ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC",
        _ => return None,
    })
}

struct Vars {
    set: HashMap<String, String>,
    ops: BTreeSet<LayerKind>,
    capped: bool,
}

impl Vars {
    fn get(&self, name: &str) -> Option<String> {
        let key = name.to_ascii_lowercase();
        self.set
            .get(&key)
            .cloned()
            .or_else(|| predefined(&key).map(str::to_string))
    }

    /// Expands `%…%` (or `!…!`) in one segment; unknown names stay. Stops growing at
    /// `cap` bytes (a value referenced many times must not multiply without bound).
    fn expand(&mut self, seg: &str, open: char, cap: usize) -> String {
        let mut out = String::with_capacity(seg.len());
        let mut rest = seg;
        while let Some(pos) = rest.find(open) {
            if out.len() > cap {
                self.capped = true;
                return out;
            }
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let Some(close) = after.find(open) else {
                out.push_str(&rest[pos..]);
                return out;
            };
            let inner = &after[..close];
            match self.expand_one(inner) {
                Some(value) => {
                    // A value glued to another value or to letters builds a word from
                    // pieces: that is concatenation, not ordinary use of a variable.
                    let next = after[close + 1..].chars().next();
                    let prev = out.chars().next_back();
                    if next.is_some_and(|c| c == open || c.is_alphanumeric())
                        || prev.is_some_and(|c| c.is_alphanumeric())
                    {
                        self.ops.insert(LayerKind::Concatenation);
                    }
                    out.push_str(&value);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push(open);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn expand_one(&mut self, inner: &str) -> Option<String> {
        if inner.is_empty() || inner.starts_with(|c: char| c.is_ascii_digit() || c == '~') {
            return None;
        }
        let (name, modifier) = match inner.find(':') {
            Some(p) => (&inner[..p], Some(&inner[p + 1..])),
            None => (inner, None),
        };
        if name.contains(char::is_whitespace) && modifier.is_none() {
            return None;
        }
        let value = self.get(name)?;
        self.ops.insert(LayerKind::CmdVariables);
        let Some(m) = modifier else {
            return Some(value);
        };
        if let Some(spec) = m.strip_prefix('~') {
            self.ops.insert(LayerKind::Substring);
            return substring(&value, spec);
        }
        let (from, to) = m.split_once('=')?;
        self.ops.insert(LayerKind::Replace);
        if let Some(prefix) = from.strip_prefix('*') {
            let lower = value.to_ascii_lowercase();
            let at = lower.find(&prefix.to_ascii_lowercase())?;
            return Some(format!("{to}{}", &value[at + prefix.len()..]));
        }
        if from.is_empty() {
            return Some(value);
        }
        let lower = value.to_ascii_lowercase();
        let growth = lower
            .matches(&from.to_ascii_lowercase())
            .count()
            .saturating_mul(to.len());
        if growth > 4 << 20 {
            return None;
        }
        Some(replace_ignore_case(&value, from, to))
    }
}

fn replace_ignore_case(value: &str, from: &str, to: &str) -> String {
    let lower = value.to_ascii_lowercase();
    let needle = from.to_ascii_lowercase();
    let mut out = String::new();
    let mut at = 0;
    while let Some(p) = lower[at..].find(&needle) {
        out.push_str(&value[at..at + p]);
        out.push_str(to);
        at += p + needle.len();
    }
    out.push_str(&value[at..]);
    out
}

/// `~start[,length]`, both possibly negative, as cmd counts them.
fn substring(value: &str, spec: &str) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    let len = chars.len() as i64;
    let (s, l) = match spec.split_once(',') {
        Some((a, b)) => (
            a.trim().parse::<i64>().ok()?,
            Some(b.trim().parse::<i64>().ok()?),
        ),
        None => (spec.trim().parse::<i64>().ok()?, None),
    };
    let start = if s < 0 { (len + s).max(0) } else { s.min(len) };
    let end = match l {
        None => len,
        Some(l) if l < 0 => (len + l).max(start),
        Some(l) => (start + l).min(len),
    };
    let (start, end) = (usize::try_from(start).ok()?, usize::try_from(end).ok()?);
    Some(chars.get(start..end.max(start))?.iter().collect())
}

/// Reads `set name=value` and `set "name=value"` at the start of a segment.
fn parse_set(seg: &str) -> Option<(String, String)> {
    // `cmd /c "set a=1&&...`: the first segment starts with the shell's own words.
    let lower = seg.to_ascii_lowercase();
    let from = ["/c \"set ", "/c set ", "/k \"set ", "/k set ", "(set "]
        .iter()
        .find_map(|p| lower.find(p).map(|at| at + p.len() - 4))
        .unwrap_or(0);
    let t = seg[from..].trim_start();
    let t = t.strip_prefix("@").unwrap_or(t);
    if !t.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("set ")) {
        return None;
    }
    let mut body = t[4..].trim_start();
    if body.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("/a ")) {
        return None;
    }
    if body.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("/p ")) {
        body = body[3..].trim_start();
    }
    let body = match body.strip_prefix('"') {
        Some(b) => b.rfind('"').map_or(b, |p| &b[..p]),
        None => body.trim_end_matches(['\r', ' ']),
    };
    let (name, value) = body.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_string()))
}

/// Expands variables segment by segment, recording each `set` on the way.
///
/// Limitation: `set /a` arithmetic, `for /f` loops and `call :label` subroutines are not
/// followed; variables they set keep their `%NAME%` form in the result.
pub fn variables(text: &str, budget: &mut Budget) -> Option<Step> {
    budget.charge(text.len() * 2);
    if !text.contains('%') && !text.contains('!') {
        return None;
    }
    let mut vars = Vars {
        set: HashMap::new(),
        ops: BTreeSet::new(),
        capped: false,
    };
    let cap = budget.limits.max_decoded;
    // `!VAR!` needs delayed expansion; only variables the script set are expanded, so
    // doing it always costs nothing when it is off.
    let delayed = true;
    let mut out = String::with_capacity(text.len());
    // Segments end at newlines and at `&`, `&&`, `|`, `||`; separators are kept.
    let mut seg_start = 0;
    let bytes = text.as_bytes();
    for i in 0..=bytes.len() {
        let sep = i == bytes.len() || matches!(bytes[i], b'\n' | b'&' | b'|');
        if !sep {
            continue;
        }
        let seg = &text[seg_start..i];
        let mut expanded = vars.expand(seg, '%', cap);
        if delayed {
            expanded = vars.expand(&expanded, '!', cap);
        }
        if let Some((name, value)) = parse_set(&expanded)
            && vars.set.len() < 10_000
            && value.len() < budget.limits.max_decoded
        {
            vars.set.insert(name, value);
        }
        out.push_str(&expanded);
        if i < bytes.len() {
            out.push(bytes[i] as char);
        }
        seg_start = i + 1;
        if out.len() > cap || vars.capped {
            budget.warn(format!(
                "cmd variable expansion grew past {cap} bytes: cut there"
            ));
            break;
        }
    }
    if out == text || vars.ops.is_empty() {
        return None;
    }
    let mut kinds: Vec<LayerKind> = vars.ops.into_iter().collect();
    kinds.sort();
    let kind = if kinds.contains(&LayerKind::CmdVariables) {
        LayerKind::CmdVariables
    } else {
        kinds[0]
    };
    let mut step = Step::new(
        kind,
        "expanded cmd variables (set, %VAR%, substrings and substitutions)".into(),
        out,
    );
    step.also = kinds.into_iter().filter(|k| *k != kind).collect();
    Some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrings_count_like_cmd() {
        assert_eq!(substring("abcdef", "1,3").as_deref(), Some("bcd"));
        assert_eq!(substring("abcdef", "-2").as_deref(), Some("ef"));
        assert_eq!(substring("abcdef", "0,-2").as_deref(), Some("abcd"));
        assert_eq!(substring("abcdef", "10,2").as_deref(), Some(""));
    }

    #[test]
    fn comspec_letters() {
        let mut b = Budget::new(crate::budget::Limits::default());
        let s = variables("%COMSPEC:~-7,1%%COMSPEC:~-6,1%d", &mut b).unwrap();
        assert_eq!(s.text, "cmd");
    }
}
