//! A PowerShell tokenizer: enough of the language to find string literals, variables,
//! operators and brackets in obfuscated code, and to say where each token sits.
//!
//! It never fails: text it cannot place becomes a one-character `Other` token.

/// A piece of a double-quoted string: literal text or an expansion.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    /// `$name` inside the string.
    Var(String),
    /// `$( ... )` inside the string: not evaluated.
    SubExpr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A single-quoted string or here-string; the value has quotes removed.
    Str(String),
    /// A double-quoted string, split at expansions.
    DStr(Vec<Part>),
    Num(i64),
    /// A variable, lowercased, without `$` (`env:comspec`, `shellid`).
    Var(String),
    /// A `-word` operator or parameter, lowercased, without the dash.
    Dash(String),
    /// Any run of name characters: commands, members, type names, arguments.
    Word(String),
    /// Punctuation and operators: `( ) [ ] { } , ; | . :: = + * / % & ! .. $( @( @{ += `.
    Punct(&'static str),
    Newline,
    Other(char),
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
    /// The word carried backtick escapes (`` I`E`X ``).
    pub escaped: bool,
}

const PUNCTS: &[&str] = &[
    "$(", "@(", "@{", "::", "..", "+=", "-=", "(", ")", "[", "]", "{", "}", ",", ";", "|", ".",
    "=", "+", "*", "/", "%", "&", "!", "<", ">",
];

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2013}' | '\u{2014}' | '\u{2015}')
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}')
}

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace()
        || matches!(
            c,
            '(' | ')'
                | '{'
                | '}'
                | '['
                | ']'
                | ','
                | ';'
                | '|'
                | '$'
                | '@'
                | '&'
                | '='
                | '+'
                | '*'
                | '<'
                | '>'
                | '!'
                | '`'
                | '#'
        )
        || is_single_quote(c)
        || is_double_quote(c))
}

fn is_var_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '?' || c == ':'
}

struct Lexer<'a> {
    src: &'a str,
    chars: Vec<(usize, char)>,
    i: usize,
    out: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).map(|&(_, c)| c)
    }

    fn pos(&self) -> usize {
        self.chars.get(self.i).map_or(self.src.len(), |&(p, _)| p)
    }

    fn push(&mut self, tok: Tok, start: usize, escaped: bool) {
        let end = self.pos();
        self.out.push(Token {
            tok,
            start,
            end,
            escaped,
        });
    }

    fn run(&mut self, max_tokens: usize) {
        while let Some(c) = self.peek(0) {
            if self.out.len() >= max_tokens {
                return;
            }
            let start = self.pos();
            if c == '\n' {
                self.i += 1;
                self.push(Tok::Newline, start, false);
            } else if c == '`' && matches!(self.peek(1), Some('\n') | Some('\r')) {
                // Line continuation.
                self.i += 2;
            } else if c.is_whitespace() {
                self.i += 1;
            } else if c == '<' && self.peek(1) == Some('#') {
                self.block_comment();
            } else if c == '#' {
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
            } else if c == '@' && self.peek(1).is_some_and(is_single_quote) && self.here_start() {
                self.here_string(false, start);
            } else if c == '@' && self.peek(1).is_some_and(is_double_quote) && self.here_start() {
                self.here_string(true, start);
            } else if is_single_quote(c) {
                self.i += 1;
                let value = self.single_quoted();
                self.push(Tok::Str(value), start, false);
            } else if is_double_quote(c) {
                self.i += 1;
                let parts = self.double_quoted();
                self.push(Tok::DStr(parts), start, false);
            } else if c == '$' && self.peek(1) != Some('(') {
                self.variable(start);
            } else if is_dash(c) && self.peek(1).is_some_and(|n| n.is_ascii_alphabetic()) {
                self.i += 1;
                let mut name = String::new();
                while let Some(n) = self.peek(0) {
                    if n.is_alphanumeric() || n == '_' {
                        name.push(n.to_ascii_lowercase());
                        self.i += 1;
                    } else if n == '`' && self.peek(1).is_some_and(|x| x.is_alphanumeric()) {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                self.push(Tok::Dash(name), start, false);
            } else if c.is_ascii_digit() && self.number(start) {
                // pushed by number()
            } else if let Some(p) = self.punct() {
                self.i += p.chars().count();
                self.push(Tok::Punct(p), start, false);
            } else if is_word_char(c) || c == '`' {
                self.word(start);
            } else {
                self.i += 1;
                self.push(Tok::Other(c), start, false);
            }
        }
    }

    fn punct(&self) -> Option<&'static str> {
        let rest = &self.src[self.pos()..];
        let c = self.peek(0)?;
        if is_dash(c) {
            // A dash not followed by a letter: subtraction or negation.
            return if self.peek(1) == Some('=') {
                Some("-=")
            } else {
                Some("-")
            };
        }
        // `.` starts a word when followed by a name character that is not a member access
        // (`.\file.ps1`); member access keeps `.` as punctuation.
        PUNCTS.iter().copied().find(|p| rest.starts_with(p))
    }

    fn here_start(&self) -> bool {
        // `@'` or `@"` must end its line to open a here-string.
        let mut k = 2;
        while let Some(c) = self.peek(k) {
            if c == '\n' {
                return true;
            }
            if !c.is_whitespace() {
                return false;
            }
            k += 1;
        }
        false
    }

    fn here_string(&mut self, double: bool, start: usize) {
        self.i += 2;
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.i += 1;
        }
        self.i += 1;
        let body_start = self.pos();
        let mut body_end = None;
        while let Some(c) = self.peek(0) {
            if c == '\n'
                && self.peek(1).is_some_and(|q| closes_quote(q, double))
                && self.peek(2) == Some('@')
            {
                body_end = Some(self.pos());
                self.i += 3;
                break;
            }
            self.i += 1;
        }
        let body_end = body_end.unwrap_or(self.src.len()).max(body_start);
        let body = self.src[body_start.min(self.src.len())..body_end].trim_end_matches('\r');
        let tok = if double {
            Tok::DStr(parse_expandable(body, false))
        } else {
            Tok::Str(body.to_string())
        };
        self.push(tok, start, false);
    }

    fn block_comment(&mut self) {
        self.i += 2;
        while let Some(c) = self.peek(0) {
            if c == '#' && self.peek(1) == Some('>') {
                self.i += 2;
                return;
            }
            self.i += 1;
        }
    }

    fn single_quoted(&mut self) -> String {
        let mut value = String::new();
        while let Some(c) = self.peek(0) {
            self.i += 1;
            if is_single_quote(c) {
                if self.peek(0).is_some_and(is_single_quote) {
                    value.push('\'');
                    self.i += 1;
                } else {
                    return value;
                }
            } else {
                value.push(c);
            }
        }
        value
    }

    fn double_quoted(&mut self) -> Vec<Part> {
        let start = self.pos();
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            if c == '`' {
                self.i += 2;
                continue;
            }
            if c == '$' && self.peek(1) == Some('(') {
                depth += 1;
                self.i += 2;
                continue;
            }
            if depth > 0 && c == ')' {
                depth -= 1;
            } else if depth == 0 && is_double_quote(c) {
                if self.peek(1).is_some_and(is_double_quote) {
                    self.i += 2;
                    continue;
                }
                let body = &self.src[start..self.pos()];
                self.i += 1;
                return parse_expandable(body, true);
            }
            self.i += 1;
        }
        parse_expandable(&self.src[start..], true)
    }

    fn variable(&mut self, start: usize) {
        self.i += 1;
        let mut name = String::new();
        if self.peek(0) == Some('{') {
            self.i += 1;
            while let Some(c) = self.peek(0) {
                self.i += 1;
                if c == '}' {
                    break;
                }
                if c != '`' {
                    name.push(c.to_ascii_lowercase());
                }
            }
        } else if let Some(c @ ('$' | '^' | '_')) = self.peek(0) {
            name.push(c);
            self.i += 1;
            if c == '_' {
                while let Some(n) = self.peek(0).filter(|&n| is_var_char(n) && n != ':') {
                    name.push(n.to_ascii_lowercase());
                    self.i += 1;
                }
            }
        } else {
            while let Some(c) = self.peek(0) {
                if is_var_char(c) && !(c == ':' && self.peek(1) == Some(':')) {
                    name.push(c.to_ascii_lowercase());
                    self.i += 1;
                } else if c == '`' && self.peek(1).is_some_and(|n| n.is_alphanumeric()) {
                    self.i += 1;
                } else {
                    break;
                }
            }
        }
        if name.is_empty() {
            self.push(Tok::Other('$'), start, false);
        } else {
            self.push(Tok::Var(name), start, false);
        }
    }

    fn number(&mut self, start: usize) -> bool {
        let rest = &self.src[start..];
        let (digits, radix, skip) =
            if rest.len() > 2 && (rest.starts_with("0x") || rest.starts_with("0X")) {
                let d: String = rest[2..]
                    .chars()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .collect();
                (d, 16, 2)
            } else {
                let d: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                (d, 10, 0)
            };
        let after = rest[skip + digits.len()..].chars().next();
        if digits.is_empty() || after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return false;
        }
        let Ok(value) = i64::from_str_radix(&digits, radix) else {
            return false;
        };
        self.i += skip + digits.len();
        self.push(Tok::Num(value), start, false);
        true
    }

    fn word(&mut self, start: usize) {
        let mut value = String::new();
        let mut escaped = false;
        while let Some(c) = self.peek(0) {
            if c == '`' {
                match self.peek(1) {
                    Some(n) if !n.is_whitespace() => {
                        escaped = true;
                        value.push(n);
                        self.i += 2;
                    }
                    _ => break,
                }
            } else if (c == ':' && self.peek(1) == Some(':'))
                || (c == '.' && self.peek(1) == Some('.'))
                || (c == '.' && !value.is_empty() && !self.peek(1).is_some_and(is_word_char))
            {
                break;
            } else if is_word_char(c) || (is_dash(c) && !value.is_empty()) {
                value.push(c);
                self.i += 1;
            } else {
                break;
            }
        }
        if value.is_empty() {
            self.i += 1;
            self.push(Tok::Other('`'), start, false);
        } else {
            self.push(Tok::Word(value), start, escaped);
        }
    }
}

fn closes_quote(q: char, double: bool) -> bool {
    if double {
        is_double_quote(q)
    } else {
        is_single_quote(q)
    }
}

/// Splits the body of a double-quoted string into text and `$var` expansions, applying
/// backtick escapes (and `""` when `quoted`).
fn parse_expandable(body: &str, quoted: bool) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' && i + 1 < chars.len() {
            let n = chars[i + 1];
            i += 2;
            match n {
                '0' => text.push('\0'),
                'a' => text.push('\u{7}'),
                'b' => text.push('\u{8}'),
                'e' => text.push('\u{1b}'),
                'f' => text.push('\u{c}'),
                'n' => text.push('\n'),
                'r' => text.push('\r'),
                't' => text.push('\t'),
                'v' => text.push('\u{b}'),
                other => text.push(other),
            }
        } else if quoted
            && is_double_quote(c)
            && chars.get(i + 1).is_some_and(|&n| is_double_quote(n))
        {
            text.push('"');
            i += 2;
        } else if c == '$' && chars.get(i + 1) == Some(&'(') {
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '(' {
                    depth += 1;
                } else if chars[i] == ')' {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                i += 1;
            }
            parts.push(Part::SubExpr);
        } else if c == '$'
            && chars
                .get(i + 1)
                .is_some_and(|&n| n.is_alphabetic() || n == '_' || n == '{')
        {
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            i += 1;
            let mut name = String::new();
            if chars.get(i) == Some(&'{') {
                i += 1;
                while i < chars.len() && chars[i] != '}' {
                    name.push(chars[i].to_ascii_lowercase());
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || chars[i] == '_'
                        || (chars[i] == ':'
                            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())))
                {
                    name.push(chars[i].to_ascii_lowercase());
                    i += 1;
                }
            }
            parts.push(Part::Var(name));
        } else {
            text.push(c);
            i += 1;
        }
    }
    if !text.is_empty() || parts.is_empty() {
        parts.push(Part::Text(text));
    }
    parts
}

/// Tokenizes `src`, stopping after `max_tokens` tokens.
pub fn tokenize(src: &str, max_tokens: usize) -> Vec<Token> {
    let mut lexer = Lexer {
        src,
        chars: src.char_indices().collect(),
        i: 0,
        out: Vec::new(),
    };
    lexer.run(max_tokens);
    lexer.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s, 1000).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn strings_variables_and_operators() {
        let t = toks("$a = 'i''e' + \"x`n$b\" -f 0x41");
        assert_eq!(t[0], Tok::Var("a".into()));
        assert_eq!(t[1], Tok::Punct("="));
        assert_eq!(t[2], Tok::Str("i'e".into()));
        assert_eq!(t[3], Tok::Punct("+"));
        assert_eq!(
            t[4],
            Tok::DStr(vec![Part::Text("x\n".into()), Part::Var("b".into())])
        );
        assert_eq!(t[5], Tok::Dash("f".into()));
        assert_eq!(t[6], Tok::Num(65));
    }

    #[test]
    fn backticks_in_words_and_static_members() {
        let t = toks("I`E`X ([Text.Encoding]::UTF8)");
        assert_eq!(t[0], Tok::Word("IEX".into()));
        assert_eq!(t[3], Tok::Word("Text.Encoding".into()));
        assert_eq!(t[5], Tok::Punct("::"));
        assert_eq!(t[6], Tok::Word("UTF8".into()));
    }

    #[test]
    fn member_access_after_a_string() {
        let t = toks("'abc'.Replace('a','b')");
        assert_eq!(t[1], Tok::Punct("."));
        assert_eq!(t[2], Tok::Word("Replace".into()));
    }
}
