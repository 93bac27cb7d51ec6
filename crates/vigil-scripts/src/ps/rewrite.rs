//! Walks a PowerShell script's tokens, folds every constant expression into a plain string
//! literal, tracks variables assigned constants, and replaces `Invoke-Expression` of a
//! known string with the code it runs.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::eval::{Eval, Known};
use super::lexer::{Part, Tok, Token, tokenize};
use super::value::{Value, quote};
use crate::budget::Budget;
use crate::model::LayerKind;

/// One replacement in the source text.
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The outcome of a rewrite: new text and the transformations that produced it.
pub struct Rewritten {
    pub text: String,
    pub ops: BTreeSet<LayerKind>,
    pub edits: usize,
}

fn is_iex_name(s: &str) -> bool {
    let s = s.trim().to_ascii_lowercase();
    matches!(s.as_str(), "iex" | "invoke-expression")
}

pub fn apply(src: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(src.len());
    let mut at = 0;
    for e in edits {
        if e.start < at || e.end > src.len() {
            continue;
        }
        out.push_str(&src[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&src[at..]);
    out
}

struct Walker<'s, 'b> {
    src: &'s str,
    toks: Vec<Token>,
    env: HashMap<String, Known>,
    unstable: HashSet<String>,
    budget: &'b mut Budget,
    edits: Vec<Edit>,
    ops: BTreeSet<LayerKind>,
    /// Open parentheses, innermost last: true for a method's or command's argument list.
    parens: Vec<bool>,
    /// Bytes of replacement text so far: a value used many times must not multiply.
    edit_bytes: usize,
}

/// Folds constants and unwraps `Invoke-Expression` in `src`; `None` when nothing changed.
pub fn rewrite(src: &str, budget: &mut Budget) -> Option<Rewritten> {
    let max_tokens = budget.limits.max_decoded / 2;
    let toks = tokenize(src, max_tokens);
    if toks.len() >= max_tokens {
        budget.warn("PowerShell text has too many tokens: only the start was evaluated".into());
    }
    budget.charge(src.len());
    let mut w = Walker {
        src,
        toks,
        env: HashMap::new(),
        unstable: HashSet::new(),
        budget,
        edits: Vec::new(),
        ops: BTreeSet::new(),
        parens: Vec::new(),
        edit_bytes: 0,
    };
    w.walk();
    if w.edits.is_empty() {
        return None;
    }
    let edits = w.edits.len();
    let ops = w.ops;
    let text = apply(src, w.edits);
    (text != src).then_some(Rewritten { text, ops, edits })
}

impl Walker<'_, '_> {
    fn eval<T>(&mut self, f: impl FnOnce(&mut Eval<'_>) -> T) -> (T, BTreeSet<LayerKind>) {
        let in_args = self.parens.last().copied().unwrap_or(false);
        let mut ev = Eval::new(&self.toks, self.src, &self.env, self.budget);
        ev.allow_comma(!in_args);
        ev.allow_partial(true);
        let r = f(&mut ev);
        (r, ev.ops)
    }

    fn tok(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i).map(|t| &t.tok)
    }

    fn is_punct(&self, i: usize, p: &str) -> bool {
        matches!(self.tok(i), Some(Tok::Punct(q)) if *q == p)
    }

    fn span(&self, from: usize, to: usize) -> (usize, usize) {
        let start = self.toks[from].start;
        let end = self.toks[to.saturating_sub(1).max(from)].end;
        (start, end)
    }

    /// Whether tokens `from..to` already are the literal `v` stands for.
    fn trivial(&self, from: usize, to: usize, v: &Value) -> bool {
        if to >= from + 3 && self.is_punct(from, "(") && self.is_punct(to - 1, ")") {
            return self.trivial(from + 1, to - 1, v);
        }
        if to != from + 1 {
            return false;
        }
        let t = &self.toks[from];
        match (&t.tok, v) {
            (Tok::Str(_), _) => true,
            (Tok::DStr(parts), _) => {
                !t.escaped
                    && parts.iter().all(|p| matches!(p, Part::Text(_)))
                    && !self.src[t.start..t.end].contains('`')
            }
            (Tok::Var(name), _) => !self.env.contains_key(name.as_str()),
            _ => true,
        }
    }

    fn push(&mut self, from: usize, to: usize, text: String, ops: BTreeSet<LayerKind>) {
        let (start, end) = self.span(from, to);
        if self.src.get(start..end) == Some(text.as_str()) {
            return;
        }
        self.edit_bytes = self.edit_bytes.saturating_add(text.len());
        if self.edit_bytes > self.budget.limits.max_decoded {
            self.budget.warn(format!(
                "PowerShell rewrite would grow past {} bytes: the rest of this layer is left as it is",
                self.budget.limits.max_decoded
            ));
            return;
        }
        self.ops.extend(ops);
        self.edits.push(Edit { start, end, text });
    }

    fn walk(&mut self) {
        let mut i = 0;
        let mut depth = 0usize;
        let mut at_start = true;
        while i < self.toks.len() {
            if !self.budget.charge(4) {
                return;
            }
            let next = match self.tok(i) {
                Some(Tok::Punct("{")) => {
                    depth += 1;
                    at_start = true;
                    i += 1;
                    continue;
                }
                Some(Tok::Punct("}")) => {
                    depth = depth.saturating_sub(1);
                    at_start = true;
                    i += 1;
                    continue;
                }
                Some(Tok::Newline | Tok::Punct(";" | "|")) => {
                    at_start = true;
                    i += 1;
                    continue;
                }
                // `a && b` (PowerShell 7, or a cmd line around PowerShell) chains statements.
                Some(Tok::Punct("&")) if self.is_punct(i + 1, "&") => {
                    at_start = true;
                    i += 2;
                    continue;
                }
                Some(Tok::Punct(")")) => {
                    self.parens.pop();
                    i += 1;
                    continue;
                }
                _ => self.step(i, at_start, depth),
            };
            let opens = matches!(self.tok(i), Some(Tok::Punct("(" | "$(" | "@(")));
            at_start = opens;
            if opens && next <= i + 1 {
                let args = self.adjacent(i)
                    && matches!(self.tok(i - 1), Some(Tok::Word(_) | Tok::Punct(")" | "]")));
                self.parens.push(args);
            }
            i = next.max(i + 1);
        }
    }

    /// Handles the construct starting at token `i`; returns where to continue.
    fn step(&mut self, i: usize, at_start: bool, depth: usize) -> usize {
        if at_start && let Some(next) = self.assignment(i, depth) {
            return next;
        }
        if at_start && let Some(next) = self.array_reverse(i) {
            return next;
        }
        if let Some(next) = self.invocation(i, at_start) {
            return next;
        }
        self.expression(i)
    }

    fn assignment(&mut self, i: usize, depth: usize) -> Option<usize> {
        let Some(Tok::Var(name)) = self.tok(i) else {
            return None;
        };
        let name = name.clone();
        let append = self.is_punct(i + 1, "+=");
        if !append && !self.is_punct(i + 1, "=") {
            return None;
        }
        let rhs = i + 2;
        let (r, ops) = self.eval(|ev| ev.pipeline(rhs));
        let Some((mut v, end)) = r else {
            self.forget(&name);
            return Some(self.expression(rhs));
        };
        if !self.ends_statement(end) {
            // Only a prefix is known (`$a = 'x' + $unknown`): fold it, forget the variable.
            self.forget(&name);
            if v.is_text() && !self.trivial(rhs, end, &v) {
                let text = quote(&v.to_str().unwrap_or_default());
                self.push(rhs, end, text, ops);
            }
            return Some(end);
        }
        if append {
            let Some(old) = self.env.get(&name).map(|k| k.value.clone()) else {
                self.forget(&name);
                return Some(end);
            };
            if old.weight().saturating_add(v.weight()) > self.budget.limits.max_decoded {
                self.forget(&name);
                return Some(end);
            }
            v = match (old, v) {
                (Value::Array(mut a), b) => {
                    a.extend(b.items());
                    Value::Array(a)
                }
                (a, b) => match (a.to_str(), b.to_str()) {
                    (Some(x), Some(y)) => Value::Str(x + &y),
                    _ => {
                        self.forget(&name);
                        return Some(end);
                    }
                },
            };
        }
        if let Value::Run(code) = &v {
            let mut ops = ops.clone();
            ops.insert(LayerKind::InvokeExpression);
            self.push(rhs, end, code.clone(), ops);
            self.forget(&name);
            return Some(end);
        }
        if v.is_text() && !self.trivial(rhs, end, &v) {
            let text = quote(&v.to_str().unwrap_or_default());
            self.push(rhs, end, text, ops.clone());
        }
        if depth > 0 || self.unstable.contains(&name) {
            self.forget(&name);
        } else {
            self.env.insert(name, Known { value: v, ops });
        }
        Some(end)
    }

    // Limitation: values flow only through straight-line assignments at the top level.
    // A variable assigned inside a loop, a function or a script block is treated as
    // unknown from then on, and functions are not inlined, so a decoder written as a
    // PowerShell function is shown, not run; the analyst sees that layer still encoded.
    fn forget(&mut self, name: &str) {
        self.env.remove(name);
        self.unstable.insert(name.to_string());
    }

    /// Whether the statement is over at token `k` (so a value computed up to `k` is the
    /// whole right-hand side or argument, not a prefix of it).
    fn ends_statement(&self, k: usize) -> bool {
        matches!(
            self.tok(k),
            None | Some(Tok::Newline | Tok::Punct(";" | "|" | ")" | "}" | "&"))
        )
    }

    /// `[Array]::Reverse($x)` reverses a known variable in place.
    fn array_reverse(&mut self, i: usize) -> Option<usize> {
        let (ty, j) = {
            let ev = Eval::new(&self.toks, self.src, &self.env, self.budget);
            ev.type_literal(i)?
        };
        if ty != "array" || !self.is_punct(j, "::") {
            return None;
        }
        let Some(Tok::Word(m)) = self.tok(j + 1) else {
            return None;
        };
        if !m.eq_ignore_ascii_case("reverse") || !self.is_punct(j + 2, "(") {
            return None;
        }
        let Some(Tok::Var(name)) = self.tok(j + 3).cloned() else {
            return None;
        };
        if !self.is_punct(j + 4, ")") {
            return None;
        }
        let known = self.env.get_mut(name.as_str())?;
        let reversed = match &known.value {
            Value::Array(items) => Value::Array(items.iter().rev().cloned().collect()),
            Value::Bytes(b) => Value::Bytes(b.iter().rev().copied().collect()),
            _ => return None,
        };
        known.value = reversed;
        known.ops.insert(LayerKind::Reverse);
        Some(j + 5)
    }

    /// `iex <expr>`, `Invoke-Expression -Command <expr>`, `&(<iex>) <expr>`, `.(...)`.
    fn invocation(&mut self, i: usize, at_start: bool) -> Option<usize> {
        let callee_end = match self.tok(i)? {
            Tok::Word(w) if is_iex_name(w) => i + 1,
            Tok::Punct("&") => self.callee(i + 1)?,
            Tok::Punct(".") if at_start || !self.adjacent(i) || !self.member_before(i) => {
                self.callee(i + 1)?
            }
            _ => return None,
        };
        let mut arg = callee_end;
        if let Some(Tok::Dash(d)) = self.tok(arg)
            && "command".starts_with(d.as_str())
        {
            arg += 1;
        }
        if matches!(
            self.tok(arg),
            None | Some(Tok::Newline | Tok::Punct(";" | "}" | ")"))
        ) {
            return None;
        }
        let (r, mut ops) = self.eval(|ev| {
            ev.allow_comma(false);
            ev.expr(arg)
        });
        let (v, end) = r?;
        // `.Run(iex '...', 0)`: code inside another language's call ends at its comma.
        if !self.ends_statement(end) && !self.is_punct(end, ",") {
            return None;
        }
        let code = match v {
            Value::Script(code) | Value::Run(code) => code,
            other if other.is_text() => other.to_str()?,
            _ => return None,
        };
        ops.insert(LayerKind::InvokeExpression);
        self.push(i, end, code, ops);
        Some(end)
    }

    /// Whether the token before `i` is something a `.` would access a member of.
    fn member_before(&self, i: usize) -> bool {
        i > 0
            && matches!(
                self.tok(i - 1),
                Some(
                    Tok::Word(_) | Tok::Var(_) | Tok::Str(_) | Tok::DStr(_) | Tok::Punct(")" | "]")
                )
            )
    }

    fn adjacent(&self, i: usize) -> bool {
        i > 0 && self.toks[i].start == self.toks[i - 1].end
    }

    /// The end of a callee expression after `&` or `.` that names `Invoke-Expression`.
    fn callee(&mut self, i: usize) -> Option<usize> {
        let (r, _) = self.eval(|ev| ev.expr(i));
        let (v, end) = r?;
        is_iex_name(&v.to_str()?).then_some(end)
    }

    fn can_start(&self, i: usize) -> bool {
        match self.tok(i) {
            Some(Tok::Str(_) | Tok::DStr(_) | Tok::Var(_)) => true,
            Some(Tok::Punct("(" | "[" | "$(" | "@(")) => true,
            Some(Tok::Dash(d)) => d == "join",
            Some(Tok::Word(w)) => w.eq_ignore_ascii_case("new-object"),
            _ => false,
        }
    }

    /// Any other constant expression at `i`: folded to a literal, or, when piped into
    /// `Invoke-Expression`, replaced by the code it runs.
    fn expression(&mut self, i: usize) -> usize {
        if !self.can_start(i) {
            return i + 1;
        }
        // `.Method(...)` and `Command(...)`: arguments are folded one by one, not the list.
        if self.is_punct(i, "(")
            && self.adjacent(i)
            && matches!(self.tok(i - 1), Some(Tok::Word(_) | Tok::Punct(")" | "]")))
        {
            return i + 1;
        }
        if let Some(Tok::Var(_)) = self.tok(i)
            && (self.is_punct(i + 1, "=") || self.is_punct(i + 1, "+="))
        {
            return i + 1;
        }
        let (mut r, mut ops) = self.eval(|ev| ev.pipeline(i));
        if matches!(r, Some((Value::Array(_), _))) {
            // `f 'a'+'b', 0`: a list of arguments; the first one may still fold.
            let (single, single_ops) = self.eval(|ev| {
                ev.allow_comma(false);
                ev.pipeline(i)
            });
            if single
                .as_ref()
                .is_some_and(|(v, _)| v.is_text() || matches!(v, Value::Run(_)))
            {
                (r, ops) = (single, single_ops);
            }
        }
        let Some((v, end)) = r else {
            return i + 1;
        };
        if let Some(iex_end) = self.piped_iex(end) {
            let code = match &v {
                Value::Script(c) | Value::Run(c) => Some(c.clone()),
                other if other.is_text() => other.to_str(),
                _ => None,
            };
            if let Some(code) = code {
                ops.insert(LayerKind::InvokeExpression);
                self.push(i, iex_end, code, ops);
                return iex_end;
            }
        }
        match &v {
            Value::Run(code) => {
                ops.insert(LayerKind::InvokeExpression);
                self.push(i, end, code.clone(), ops);
            }
            Value::Script(code) if !self.is_punct(i, "{") && !ops.is_empty() => {
                self.push(i, end, format!("{{{code}}}"), ops);
            }
            v if v.is_text() && !self.trivial(i, end, v) => {
                let text = v.to_str().unwrap_or_default();
                let rendered = if self.is_callee(i) && is_bare_name(&text) {
                    text
                } else {
                    quote(&text)
                };
                self.push(i, end, rendered, ops);
            }
            _ => {
                // Not foldable as a whole (an array, bytes): look inside.
                return i + 1;
            }
        }
        end
    }

    /// `&(...)` calling a named command: the name can stand bare.
    fn is_callee(&self, i: usize) -> bool {
        i > 0 && self.is_punct(i - 1, "&")
    }

    /// After an expression ending at `end`: `| iex`, `| Invoke-Expression`, `| &(<iex>)`.
    fn piped_iex(&mut self, end: usize) -> Option<usize> {
        if !self.is_punct(end, "|") {
            return None;
        }
        match self.tok(end + 1)? {
            Tok::Word(w) if is_iex_name(w) => Some(end + 2),
            Tok::Punct("&" | ".") => self.callee(end + 2),
            _ => None,
        }
    }
}

fn is_bare_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Backticks in names and oddly cased cmdlets and types: `` nEw-oB`jEct `` → `New-Object`.
pub fn tidy(src: &str, budget: &mut Budget) -> Option<String> {
    let toks = tokenize(src, budget.limits.max_decoded / 2);
    budget.charge(src.len());
    let mut edits = Vec::new();
    for t in &toks {
        let Tok::Word(w) = &t.tok else { continue };
        let canonical = super::names::canonical(w);
        let replacement = match canonical {
            Some(c) if c != w && has_mixed_case(w) => c.to_string(),
            _ if t.escaped => w.clone(),
            _ => continue,
        };
        edits.push(Edit {
            start: t.start,
            end: t.end,
            text: replacement,
        });
    }
    if edits.is_empty() {
        return None;
    }
    let out = apply(src, edits);
    (out != src).then_some(out)
}

fn has_mixed_case(w: &str) -> bool {
    let letters: Vec<char> = w.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_ascii_uppercase()).count();
    // Lowercase names and all-caps aliases are how people write; anything else is noise.
    upper > 0 && upper < letters.len() && {
        let mut flips = 0;
        for pair in letters.windows(2) {
            if pair[0].is_ascii_uppercase() != pair[1].is_ascii_uppercase() {
                flips += 1;
            }
        }
        flips * 3 > letters.len()
    }
}
