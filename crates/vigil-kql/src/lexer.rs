//! Turning KQL text into tokens, each with the byte span it came from.

use crate::error::{KqlError, Span};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name or keyword: `where`, `DeviceProcessEvents`, `project-away`, `$left`,
    /// or a bracketed name (`['My column']`), which is never a keyword.
    Ident(String),
    /// A bracketed or quoted name that must not be taken as a keyword.
    QuotedIdent(String),
    Int(i64),
    Real(f64),
    /// A timespan literal, in 100-nanosecond ticks (`1d`, `5m`, `100ms`, `1tick`).
    Timespan(i64),
    /// A string literal, with escapes resolved; adjacent literals are joined.
    Str(String),
    /// `datetime(…)`, `timespan(…)`, `guid(…)`: a literal whose text is not made of
    /// tokens (`datetime(2024-01-01T10:00Z)`), kept as written, quotes removed.
    Typed {
        ty: String,
        text: String,
    },
    /// Punctuation and operators: `|`, `==`, `=~`, `!~`, `..`, `=>`, …
    Punct(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Operator names written with a dash, read as one word.
const DASHED: &[&str] = &[
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "project-smart",
    "mv-expand",
    "mv-apply",
    "parse-where",
    "parse-kv",
    "make-series",
    "make-graph",
    "top-nested",
    "top-hitters",
    "graph-match",
    "graph-merge",
    "graph-to-table",
    "partition-by",
];

/// Literal constructors whose argument is raw text rather than tokens.
const RAW_LITERALS: &[&str] = &[
    "datetime", "date", "timespan", "time", "guid", "uuid", "uniqueid",
];

/// Punctuation, longest first so that `==` wins over `=`.
const PUNCT: &[&str] = &[
    "!~", "!=", "==", "=~", "=>", "<>", "<=", ">=", "..", "|", ",", ";", "(", ")", "[", "]", "{",
    "}", ".", ":", "=", "<", ">", "+", "-", "*", "/", "%", "!", "?", "@", "~",
];

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub fn lex(text: &str) -> Result<Vec<Token>, KqlError> {
    let mut lexer = Lexer {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        out: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.out)
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn run(&mut self) -> Result<(), KqlError> {
        loop {
            self.skip_space_and_comments();
            let start = self.pos;
            if self.pos >= self.bytes.len() {
                self.push(Tok::Eof, start);
                return Ok(());
            }
            let c = self.peek(0);
            match c {
                b'"' | b'\'' => {
                    let s = self.quoted(c, false)?;
                    self.push_string(s, start);
                }
                b'`' if self.text[self.pos..].starts_with("```") => {
                    let s = self.fenced()?;
                    self.push_string(s, start);
                }
                b'@' if matches!(self.peek(1), b'"' | b'\'') => {
                    self.pos += 1;
                    let s = self.quoted(self.peek(0), true)?;
                    self.push_string(s, start);
                }
                // Obfuscated strings (`h"…"`, `H@'…'`) read like any other string.
                b'h' | b'H' if self.obfuscated_string_follows() => {
                    self.pos += 1;
                    let verbatim = self.peek(0) == b'@';
                    if verbatim {
                        self.pos += 1;
                    }
                    let s = self.quoted(self.peek(0), verbatim)?;
                    self.push_string(s, start);
                }
                b'0'..=b'9' => self.number(start)?,
                b'.' if self.peek(1).is_ascii_digit() => self.number(start)?,
                b'[' if matches!(self.peek(1), b'\'' | b'"') && self.bracketed_name_follows() => {
                    self.pos += 1;
                    let quote = self.peek(0);
                    let name = self.quoted(quote, false)?;
                    self.skip_space_and_comments();
                    if self.peek(0) != b']' {
                        return Err(KqlError::syntax(
                            Span::new(start, self.pos),
                            "a bracketed name must end with `]`",
                        ));
                    }
                    self.pos += 1;
                    self.push(Tok::QuotedIdent(name), start);
                }
                c if c == b'_' || c == b'$' || c.is_ascii_alphabetic() => self.word(start),
                c if c >= 0x80
                    && self.text[self.pos..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphabetic) =>
                {
                    self.word(start)
                }
                _ => {
                    let rest = &self.text[self.pos..];
                    let Some(p) = PUNCT.iter().find(|p| rest.starts_with(**p)) else {
                        let ch = rest.chars().next().unwrap_or('?');
                        return Err(KqlError::syntax(
                            Span::new(start, start + ch.len_utf8()),
                            format!("unexpected character {ch:?}"),
                        ));
                    };
                    self.pos += p.len();
                    self.push(Tok::Punct(p), start);
                }
            }
        }
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            while self.pos < self.bytes.len() && (self.bytes[self.pos].is_ascii_whitespace()) {
                self.pos += 1;
            }
            // Unicode spaces (no-break space, zero-width space, a byte-order mark) pasted
            // from web pages and documents.
            if let Some(ch) = self.text[self.pos..].chars().next()
                && (ch.is_whitespace()
                    || matches!(
                        ch,
                        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
                    ))
            {
                self.pos += ch.len_utf8();
                continue;
            }
            if self.text[self.pos..].starts_with("//") {
                while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
                continue;
            }
            return;
        }
    }

    /// Adjacent string literals are one literal (`"a" "b"` is `"ab"`).
    fn push_string(&mut self, s: String, start: usize) {
        if let Some(Token {
            tok: Tok::Str(prev),
            span,
        }) = self.out.last_mut()
        {
            prev.push_str(&s);
            span.end = self.pos;
            return;
        }
        self.push(Tok::Str(s), start);
    }

    fn obfuscated_string_follows(&self) -> bool {
        match self.peek(1) {
            b'"' | b'\'' => true,
            b'@' => matches!(self.peek(2), b'"' | b'\''),
            _ => false,
        }
    }

    /// `['name']` is a name; `['a', 'b']` (a list) is not.
    fn bracketed_name_follows(&self) -> bool {
        let quote = self.peek(1);
        let rest = &self.bytes[self.pos + 2..];
        let mut i = 0;
        while i < rest.len() {
            match rest[i] {
                b'\\' if quote != b'@' => i += 2,
                q if q == quote => {
                    let after = rest[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
                    return after == Some(&b']');
                }
                b'\n' => return false,
                _ => i += 1,
            }
        }
        false
    }

    /// A quoted string starting at the quote; `verbatim` strings have no escapes and
    /// write their quote twice.
    fn quoted(&mut self, quote: u8, verbatim: bool) -> Result<String, KqlError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(ch) = self.text[self.pos..].chars().next() else {
                return Err(KqlError::syntax(
                    Span::new(start, self.pos),
                    "this string is never closed",
                ));
            };
            let b = self.peek(0);
            if b == quote {
                if verbatim && self.peek(1) == quote {
                    out.push(quote as char);
                    self.pos += 2;
                    continue;
                }
                self.pos += 1;
                return Ok(out);
            }
            if b == b'\n' && !verbatim {
                return Err(KqlError::syntax(
                    Span::new(start, self.pos),
                    "this string is never closed",
                ));
            }
            if b == b'\\' && !verbatim {
                self.pos += 1;
                let Some(esc) = self.text[self.pos..].chars().next() else {
                    return Err(KqlError::syntax(
                        Span::new(start, self.pos),
                        "this string is never closed",
                    ));
                };
                self.pos += esc.len_utf8();
                match esc {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    'u' => {
                        let hex = self.text.get(self.pos..self.pos + 4).unwrap_or("");
                        let code = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                        match code {
                            Some(c) => {
                                out.push(c);
                                self.pos += 4;
                            }
                            None => out.push('u'),
                        }
                    }
                    other => out.push(other),
                }
                continue;
            }
            out.push(ch);
            self.pos += ch.len_utf8();
        }
    }

    /// A multi-line string between triple backticks, taken as written.
    fn fenced(&mut self) -> Result<String, KqlError> {
        let start = self.pos;
        self.pos += 3;
        match self.text[self.pos..].find("```") {
            Some(end) => {
                let s = self.text[self.pos..self.pos + end].to_string();
                self.pos += end + 3;
                Ok(s)
            }
            None => Err(KqlError::syntax(
                Span::new(start, self.text.len()),
                "this ``` string is never closed",
            )),
        }
    }

    fn word(&mut self, start: usize) {
        while let Some(ch) = self.text[self.pos..].chars().next()
            && (ch == '_' || ch == '$' || ch.is_alphanumeric())
        {
            self.pos += ch.len_utf8();
        }
        let word = &self.text[start..self.pos];
        if RAW_LITERALS.iter().any(|w| w.eq_ignore_ascii_case(word))
            && self.raw_literal(word, start)
        {
            return;
        }
        // `project-away` and friends: one word when written without spaces.
        if self.peek(0) == b'-' {
            let mut end = self.pos + 1;
            while end < self.bytes.len()
                && (self.bytes[end].is_ascii_alphabetic() || self.bytes[end] == b'-')
            {
                end += 1;
            }
            let dashed = &self.text[start..end];
            if let Some(known) = DASHED.iter().find(|d| d.eq_ignore_ascii_case(dashed)) {
                self.pos = end;
                self.push(Tok::Ident(known.to_string()), start);
                return;
            }
        }
        self.push(Tok::Ident(word.to_string()), start);
    }

    /// After `datetime` and the like: if `(` follows, take the text up to `)` as the
    /// literal's value. Returns whether it did.
    fn raw_literal(&mut self, word: &str, start: usize) -> bool {
        let mut at = self.pos;
        while at < self.bytes.len() && self.bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if self.bytes.get(at) != Some(&b'(') {
            return false;
        }
        let Some(close) = self.text[at..].find(')') else {
            return false;
        };
        let inner = self.text[at + 1..at + close].trim();
        let text = inner
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(inner);
        self.pos = at + close + 1;
        self.push(
            Tok::Typed {
                ty: word.to_ascii_lowercase(),
                text: text.to_string(),
            },
            start,
        );
        true
    }

    fn number(&mut self, start: usize) -> Result<(), KqlError> {
        let bytes = self.bytes;
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X') {
            self.pos += 2;
            let digits = self.pos;
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_hexdigit() {
                self.pos += 1;
            }
            let value = i64::from_str_radix(&self.text[digits..self.pos], 16)
                .or_else(|_| {
                    u64::from_str_radix(&self.text[digits..self.pos], 16).map(|v| v as i64)
                })
                .map_err(|_| {
                    KqlError::syntax(Span::new(start, self.pos), "not a hexadecimal number")
                })?;
            self.push(Tok::Int(value), start);
            return Ok(());
        }
        let mut real = false;
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        // A fraction, but not the `..` of a range.
        if self.peek(0) == b'.' && self.peek(1) != b'.' {
            real = true;
            self.pos += 1;
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), b'e' | b'E')
            && (self.peek(1).is_ascii_digit()
                || (matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit()))
        {
            real = true;
            self.pos += 2;
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
        }
        let number = &self.text[start..self.pos];
        // A unit right after the number makes it a timespan.
        let unit_start = self.pos;
        while self.pos < bytes.len() && bytes[self.pos].is_ascii_alphabetic() {
            self.pos += 1;
        }
        let unit = &self.text[unit_start..self.pos];
        let span = Span::new(start, self.pos);
        if !unit.is_empty() {
            let ticks = timespan_ticks(unit).ok_or_else(|| {
                KqlError::syntax(
                    span,
                    format!(
                        "unknown timespan unit {unit:?} (use d, h, m, s, ms, microsecond or tick)"
                    ),
                )
            })?;
            let value: f64 = number
                .parse()
                .map_err(|_| KqlError::syntax(span, "not a number"))?;
            self.push(Tok::Timespan((value * ticks as f64).round() as i64), start);
            return Ok(());
        }
        if real {
            let value = number
                .parse()
                .map_err(|_| KqlError::syntax(span, "not a number"))?;
            self.push(Tok::Real(value), start);
        } else {
            match number.parse::<i64>() {
                Ok(v) => self.push(Tok::Int(v), start),
                Err(_) => {
                    let value = number
                        .parse()
                        .map_err(|_| KqlError::syntax(span, "not a number"))?;
                    self.push(Tok::Real(value), start);
                }
            }
        }
        Ok(())
    }
}

/// Ticks (100 ns) in one of a timespan unit.
pub fn timespan_ticks(unit: &str) -> Option<i64> {
    const TICK: i64 = 1;
    const MICRO: i64 = 10;
    const MILLI: i64 = 10_000;
    const SECOND: i64 = 10_000_000;
    Some(match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => 86_400 * SECOND,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600 * SECOND,
        "m" | "min" | "mins" | "minute" | "minutes" => 60 * SECOND,
        "s" | "sec" | "secs" | "second" | "seconds" => SECOND,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => MILLI,
        "microsecond" | "microseconds" => MICRO,
        "tick" | "ticks" => TICK,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        lex(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn id(s: &str) -> Tok {
        Tok::Ident(s.to_string())
    }

    #[test]
    fn words_numbers_and_punctuation() {
        assert_eq!(
            toks("T | where x>=1.5 and y=~'a' // note\n| project-away z"),
            vec![
                id("T"),
                Tok::Punct("|"),
                id("where"),
                id("x"),
                Tok::Punct(">="),
                Tok::Real(1.5),
                id("and"),
                id("y"),
                Tok::Punct("=~"),
                Tok::Str("a".into()),
                Tok::Punct("|"),
                id("project-away"),
                id("z"),
                Tok::Eof,
            ]
        );
        assert_eq!(
            toks("0x1F 1e3 7"),
            vec![Tok::Int(31), Tok::Real(1000.0), Tok::Int(7), Tok::Eof]
        );
        assert_eq!(
            toks("a - b"),
            vec![id("a"), Tok::Punct("-"), id("b"), Tok::Eof]
        );
    }

    #[test]
    fn timespans_in_ticks() {
        assert_eq!(toks("1d"), vec![Tok::Timespan(864_000_000_000), Tok::Eof]);
        assert_eq!(
            toks("5m 100ms 1tick 1.5h"),
            vec![
                Tok::Timespan(3_000_000_000),
                Tok::Timespan(1_000_000),
                Tok::Timespan(1),
                Tok::Timespan(54_000_000_000),
                Tok::Eof,
            ]
        );
        assert!(lex("5parsecs").is_err());
    }

    #[test]
    fn every_string_form() {
        assert_eq!(
            toks(r#""a\"b\\c\n""#),
            vec![Tok::Str("a\"b\\c\n".into()), Tok::Eof]
        );
        assert_eq!(
            toks(r#"@"C:\Windows""#),
            vec![Tok::Str(r"C:\Windows".into()), Tok::Eof]
        );
        assert_eq!(toks(r#"@'it''s'"#), vec![Tok::Str("it's".into()), Tok::Eof]);
        assert_eq!(
            toks(r#"h"secret" H@'x\y'"#),
            vec![Tok::Str(r"secretx\y".into()), Tok::Eof]
        );
        assert_eq!(
            toks("```line 1\nline 2```"),
            vec![Tok::Str("line 1\nline 2".into()), Tok::Eof]
        );
        assert_eq!(toks(r#""a" 'b'"#), vec![Tok::Str("ab".into()), Tok::Eof]);
        assert_eq!(
            toks("['My Col']"),
            vec![Tok::QuotedIdent("My Col".into()), Tok::Eof]
        );
        assert_eq!(toks("['a','b']")[0], Tok::Punct("["));
    }

    #[test]
    fn typed_literals_keep_their_text() {
        assert_eq!(
            toks("datetime(2024-01-01T10:00:00Z) timespan('1.02:03:04') datetime_add"),
            vec![
                Tok::Typed {
                    ty: "datetime".into(),
                    text: "2024-01-01T10:00:00Z".into()
                },
                Tok::Typed {
                    ty: "timespan".into(),
                    text: "1.02:03:04".into()
                },
                id("datetime_add"),
                Tok::Eof,
            ]
        );
        assert_eq!(toks("x:datetime)")[2], id("datetime"));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let err = lex("T | where x == 'open").unwrap_err();
        assert_eq!(err.span().start, 15);
        let err = lex("T § x").unwrap_err();
        assert_eq!(err.span(), Span::new(2, 4));
    }
}
