//! The `condition` of a Sigma detection: `selection and not filter`, `1 of sel_*`,
//! `all of them`, with parentheses and the usual precedence (`not` binds tightest,
//! then `and`, then `or`).

use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A detection identifier (a selection or a keyword list).
    Ident(String),
    /// `1 of pattern` / `any of pattern`: at least one matching identifier holds.
    OneOf(String),
    /// `all of pattern`: every matching identifier holds.
    AllOf(String),
    /// `1 of them`: any identifier of the detection.
    OneOfThem,
    /// `all of them`: every identifier of the detection.
    AllOfThem,
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

impl Condition {
    /// The identifiers and patterns the condition refers to.
    pub fn references(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::Ident(n) | Condition::OneOf(n) | Condition::AllOf(n) => out.push(n),
            Condition::OneOfThem | Condition::AllOfThem => {}
            Condition::Not(c) => c.collect(out),
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }
}

/// Why a condition could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Pipe,
}

fn tokens(text: &str) -> Result<Vec<(usize, Tok)>, ConditionError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((at, Tok::Open));
                i += 1;
            }
            ')' => {
                out.push((at, Tok::Close));
                i += 1;
            }
            '|' => {
                // What follows is a Sigma 1 aggregation; the parser refuses it as such.
                out.push((at, Tok::Pipe));
                break;
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '*' | '?' | '-' | '.') => {
                let start = i;
                while i < chars.len()
                    && (chars[i].1.is_alphanumeric()
                        || matches!(chars[i].1, '_' | '*' | '?' | '-' | '.'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().map(|(_, c)| c).collect();
                out.push((at, Tok::Word(word)));
            }
            other => {
                return Err(ConditionError {
                    at,
                    message: format!("unexpected character {other:?}"),
                });
            }
        }
    }
    Ok(out)
}

/// Parses a condition.
pub fn parse(text: &str) -> Result<Condition, ConditionError> {
    let toks = tokens(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: text.len(),
    };
    let c = p.or()?;
    if let Some((at, t)) = p.toks.get(p.pos) {
        let message = match t {
            Tok::Pipe => "aggregations after `|` (count() by …) are the deprecated Sigma 1 form; \
                          write a correlation rule instead"
                .to_string(),
            _ => "expected `and`, `or` or the end of the condition".to_string(),
        };
        return Err(ConditionError { at: *at, message });
    }
    Ok(c)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(a, _)| *a)
    }

    fn word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some((_, Tok::Word(w))) => Some(w),
            _ => None,
        }
    }

    fn keyword(&self, k: &str) -> bool {
        self.word().is_some_and(|w| w.eq_ignore_ascii_case(k))
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.not()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, ConditionError> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, ConditionError> {
        let at = self.at();
        match self.toks.get(self.pos).cloned() {
            Some((_, Tok::Open)) => {
                self.pos += 1;
                let inner = self.or()?;
                match self.toks.get(self.pos) {
                    Some((_, Tok::Close)) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(ConditionError {
                        at: self.at(),
                        message: "`(` is never closed".into(),
                    }),
                }
            }
            Some((_, Tok::Word(w))) => {
                let quantifier = if w == "1" || w.eq_ignore_ascii_case("any") {
                    Some(false)
                } else if w.eq_ignore_ascii_case("all") {
                    Some(true)
                } else {
                    None
                };
                let next = self.toks.get(self.pos + 1);
                let is_of = matches!(next, Some((_, Tok::Word(o))) if o.eq_ignore_ascii_case("of"));
                if let (Some(all), true) = (quantifier, is_of) {
                    self.pos += 2;
                    let Some(target) = self.word().map(str::to_string) else {
                        return Err(ConditionError {
                            at: self.at(),
                            message: format!("`{w} of` needs a name, a pattern or `them`"),
                        });
                    };
                    self.pos += 1;
                    return Ok(match (all, target.eq_ignore_ascii_case("them")) {
                        (false, true) => Condition::OneOfThem,
                        (true, true) => Condition::AllOfThem,
                        (false, false) => Condition::OneOf(target),
                        (true, false) => Condition::AllOf(target),
                    });
                }
                if ["and", "or", "not", "of"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(ConditionError {
                        at,
                        message: format!("expected a detection name, found `{w}`"),
                    });
                }
                self.pos += 1;
                Ok(Condition::Ident(w))
            }
            Some((_, Tok::Close)) => Err(ConditionError {
                at,
                message: "unexpected `)`".into(),
            }),
            Some((_, Tok::Pipe)) | None => Err(ConditionError {
                at,
                message: "expected a detection name".into(),
            }),
        }
    }
}

/// Whether a Sigma identifier pattern (`*` and `?` wildcards) matches a name.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}
