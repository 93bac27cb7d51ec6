//! A constant evaluator for PowerShell expressions: parses from a token position with
//! PowerShell's operator precedence and computes the value when every operand is known.
//! Anything it cannot compute (a network call, an unknown variable) makes the whole
//! expression unknown, which the caller sees as `None`.

use std::collections::{BTreeSet, HashMap};

use super::lexer::{Part, Tok, Token};
use super::ops::{add, join, regex_replace, split, truthy, wildcard};
use super::value::{Value, automatic, format};
use crate::budget::Budget;
use crate::model::LayerKind;

/// A variable the rewriter knows the value of, with the transformations that produced it.
#[derive(Debug, Clone)]
pub struct Known {
    pub value: Value,
    pub ops: BTreeSet<LayerKind>,
}

pub struct Eval<'a> {
    pub toks: &'a [Token],
    pub src: &'a str,
    pub env: &'a HashMap<String, Known>,
    pub budget: &'a mut Budget,
    /// Transformations used by the expression evaluated last.
    pub ops: BTreeSet<LayerKind>,
    /// Variables bound inside script blocks (`$_`).
    pub locals: Vec<(String, Value)>,
    depth: usize,
    comma_ok: bool,
    /// A `+` chain may stop before an unknown operand and keep what it has (`'a'+'b'+$x`
    /// folds to `'ab'+$x`). Only the rewriter asks for this, and checks what follows.
    partial_ok: bool,
}

pub type Res = Option<(Value, usize)>;

impl<'a> Eval<'a> {
    pub fn new(
        toks: &'a [Token],
        src: &'a str,
        env: &'a HashMap<String, Known>,
        budget: &'a mut Budget,
    ) -> Self {
        Eval {
            toks,
            src,
            env,
            budget,
            ops: BTreeSet::new(),
            locals: Vec::new(),
            depth: 0,
            comma_ok: true,
            partial_ok: false,
        }
    }

    /// Lets a `+` chain end early at an unknown operand.
    pub fn allow_partial(&mut self, on: bool) {
        self.partial_ok = on;
    }

    /// Whether a top-level `,` builds an array (false inside a method's argument list).
    pub fn allow_comma(&mut self, on: bool) {
        self.comma_ok = on;
    }

    pub fn tok(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i).map(|t| &t.tok)
    }

    pub fn is_punct(&self, i: usize, p: &str) -> bool {
        matches!(self.tok(i), Some(Tok::Punct(q)) if *q == p)
    }

    fn is_dash(&self, i: usize, names: &[&str]) -> Option<String> {
        match self.tok(i) {
            Some(Tok::Dash(d)) if names.contains(&d.as_str()) => Some(d.clone()),
            _ => None,
        }
    }

    /// Whether token `i` touches the token before it (no whitespace): `$a[0]`, `'x'.Length`.
    pub fn adjacent(&self, i: usize) -> bool {
        i > 0
            && self
                .toks
                .get(i)
                .zip(self.toks.get(i - 1))
                .is_some_and(|(t, p)| t.start == p.end)
    }

    fn enter(&mut self) -> bool {
        self.depth += 1;
        self.depth <= self.budget.limits.max_depth && self.budget.charge(8)
    }

    fn leave<T>(&mut self, r: Option<T>) -> Option<T> {
        self.depth -= 1;
        r
    }

    fn fits(&mut self, v: &Value) -> bool {
        v.weight() <= self.budget.limits.max_decoded
    }

    /// A full expression, with pipelines into `ForEach-Object` allowed.
    pub fn pipeline(&mut self, i: usize) -> Res {
        if !self.enter() {
            return self.leave(None);
        }
        let r = self.pipeline_inner(i);
        self.leave(r)
    }

    fn pipeline_inner(&mut self, i: usize) -> Res {
        let (mut v, mut j) = match self.command(i) {
            Some(r) => r,
            None => self.expr(i)?,
        };
        while self.is_punct(j, "|") {
            let name = match self.tok(j + 1) {
                Some(Tok::Word(w)) => w.to_ascii_lowercase(),
                Some(Tok::Punct("%")) => "%".to_string(),
                _ => return Some((v, j)),
            };
            let filter = matches!(name.as_str(), "?" | "where" | "where-object");
            if !filter && !matches!(name.as_str(), "%" | "foreach-object" | "foreach") {
                return Some((v, j));
            }
            if !self.is_punct(j + 2, "{") {
                return None;
            }
            let body = j + 3;
            let close = self.matching(j + 2, "{", "}")?;
            let mut mapped = Vec::new();
            let mut weight = 0usize;
            for item in v.items() {
                if !self.budget.charge(16) {
                    return None;
                }
                self.locals.push(("_".to_string(), item.clone()));
                let r = self.pipeline(body);
                self.locals.pop();
                let (value, k) = r?;
                if k != close {
                    return None;
                }
                weight = weight.saturating_add(value.weight());
                if weight > self.budget.limits.max_decoded {
                    return None;
                }
                if !filter {
                    mapped.push(value);
                } else if truthy(&value) {
                    mapped.push(item);
                }
            }
            v = Value::Array(mapped);
            j = close + 1;
        }
        Some((v, j))
    }

    /// Commands whose result is a constant: `New-Object`, `Get-Variable`.
    fn command(&mut self, i: usize) -> Res {
        let Some(Tok::Word(w)) = self.tok(i) else {
            return None;
        };
        match w.to_ascii_lowercase().as_str() {
            "new-object" => self.new_object(i + 1),
            "gv" | "get-variable" | "variable" | "dir" | "ls" | "gci" | "get-childitem" => {
                let mut j = i + 1;
                if self.is_dash(j, &["name", "path"]).is_some() {
                    j += 1;
                }
                let (pat, j) = self.postfix(j)?;
                let pat = pat.to_str()?.to_ascii_lowercase();
                let pat = pat.trim_start_matches("variable:");
                let name = [
                    "MaximumDriveCount",
                    "MaximumAliasCount",
                    "MaximumFunctionCount",
                ]
                .into_iter()
                .find(|n| wildcard(pat, &n.to_ascii_lowercase()))?;
                Some((Value::VarInfo(name.to_string()), j))
            }
            _ => None,
        }
    }

    fn new_object(&mut self, mut j: usize) -> Res {
        if self.is_dash(j, &["typename", "type"]).is_some() {
            j += 1;
        }
        let type_name = match self.tok(j)? {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) => s.clone(),
            _ => {
                let (v, k) = self.postfix(j)?;
                j = k - 1;
                v.to_str()?
            }
        };
        j += 1;
        if self
            .is_dash(j, &["argumentlist", "args", "argument", "arg", "a"])
            .is_some()
        {
            j += 1;
        }
        let (args, j) = if self.is_punct(j, "(") && self.adjacent(j) || self.is_punct(j, "(") {
            self.args(j)?
        } else if matches!(
            self.tok(j),
            None | Some(Tok::Punct(")" | ";" | "|" | "}")) | Some(Tok::Newline)
        ) {
            (Vec::new(), j)
        } else {
            let (v, k) = self.expr(j)?;
            (v.items(), k)
        };
        let v = super::objects::construct(self, &type_name, args)?;
        Some((v, j))
    }

    /// Comma-separated arguments inside `( )` starting at the `(`.
    pub fn args(&mut self, open: usize) -> Option<(Vec<Value>, usize)> {
        let saved = self.comma_ok;
        self.comma_ok = false;
        let r = self.args_inner(open);
        self.comma_ok = saved;
        r
    }

    fn args_inner(&mut self, open: usize) -> Option<(Vec<Value>, usize)> {
        let mut j = open + 1;
        let mut out = Vec::new();
        if self.is_punct(j, ")") {
            return Some((out, j + 1));
        }
        loop {
            while matches!(self.tok(j), Some(Tok::Newline)) {
                j += 1;
            }
            // `(,$bytes)`: a leading comma makes a one-element array.
            let (v, k) = if self.is_punct(j, ",") && out.is_empty() {
                let (v, k) = self.expr(j + 1)?;
                (Value::Array(vec![v]), k)
            } else {
                self.pipeline(j)?
            };
            out.push(v);
            j = k;
            while matches!(self.tok(j), Some(Tok::Newline)) {
                j += 1;
            }
            if self.is_punct(j, ",") {
                j += 1;
            } else if self.is_punct(j, ")") {
                return Some((out, j + 1));
            } else {
                return None;
            }
        }
    }

    pub fn expr(&mut self, i: usize) -> Res {
        if !self.enter() {
            return self.leave(None);
        }
        let r = self.comparison(i);
        self.leave(r)
    }

    fn comparison(&mut self, i: usize) -> Res {
        let (mut v, mut j) = self.bitwise(i)?;
        while let Some(op) = self.is_dash(
            j,
            &[
                "replace", "ireplace", "creplace", "join", "split", "isplit", "csplit",
            ],
        ) {
            let (rhs, k) = self.bitwise(j + 1)?;
            v = match op.as_str() {
                "join" => {
                    self.ops.insert(LayerKind::Join);
                    join(&v, &rhs.to_str()?, self.budget.limits.max_decoded)?
                }
                "split" | "isplit" | "csplit" => split(&v, &rhs, op != "csplit")?,
                _ => {
                    self.ops.insert(LayerKind::Replace);
                    let items = rhs.items();
                    let pat = items.first()?.to_str()?;
                    let rep = match items.get(1) {
                        Some(r) => r.to_str()?,
                        None => String::new(),
                    };
                    regex_replace(
                        &v,
                        &pat,
                        &rep,
                        op != "creplace",
                        self.budget.limits.max_decoded,
                    )?
                }
            };
            if !self.fits(&v) {
                return None;
            }
            j = k;
        }
        Some((v, j))
    }

    fn bitwise(&mut self, i: usize) -> Res {
        let (mut v, mut j) = self.additive(i)?;
        while let Some(op) = self.is_dash(j, &["bxor", "band", "bor", "shl", "shr"]) {
            let (rhs, k) = self.additive(j + 1)?;
            let (a, b) = (v.to_int()?, rhs.to_int()?);
            v = Value::Int(match op.as_str() {
                "bxor" => {
                    self.ops.insert(LayerKind::Xor);
                    a ^ b
                }
                "band" => a & b,
                "bor" => a | b,
                "shl" => a.checked_shl(u32::try_from(b).ok()?)?,
                _ => a.checked_shr(u32::try_from(b).ok()?)?,
            });
            j = k;
        }
        Some((v, j))
    }

    fn additive(&mut self, i: usize) -> Res {
        let (mut v, mut j) = self.multiplicative(i)?;
        loop {
            let plus = self.is_punct(j, "+");
            if !plus && !self.is_punct(j, "-") {
                return Some((v, j));
            }
            let mut k = j + 1;
            while matches!(self.tok(k), Some(Tok::Newline)) {
                k += 1;
            }
            let Some((rhs, k)) = self.multiplicative(k) else {
                return (self.partial_ok && self.depth <= 3 && v.is_text()).then_some((v, j));
            };
            v = if plus {
                add(v, rhs)?
            } else {
                Value::Int(v.to_int()?.checked_sub(rhs.to_int()?)?)
            };
            if plus && v.is_text() {
                self.ops.insert(LayerKind::Concatenation);
            }
            if !self.fits(&v) {
                return None;
            }
            j = k;
        }
    }

    fn multiplicative(&mut self, i: usize) -> Res {
        let (mut v, mut j) = self.format(i)?;
        loop {
            let op = match self.tok(j) {
                Some(Tok::Punct(p @ ("*" | "/" | "%"))) => *p,
                _ => return Some((v, j)),
            };
            let (rhs, k) = self.format(j + 1)?;
            let n = rhs.to_int()?;
            v = match (op, &v) {
                ("*", Value::Str(s)) => {
                    let times = usize::try_from(n).ok()?;
                    if s.len().saturating_mul(times) > self.budget.limits.max_decoded {
                        return None;
                    }
                    Value::Str(s.repeat(times))
                }
                ("*", _) => Value::Int(v.to_int()?.checked_mul(n)?),
                ("/", _) => Value::Int(v.to_int()?.checked_div(n)?),
                _ => Value::Int(v.to_int()?.checked_rem(n)?),
            };
            j = k;
        }
    }

    fn format(&mut self, i: usize) -> Res {
        let (mut v, mut j) = self.range(i)?;
        while self.is_dash(j, &["f"]).is_some() {
            let (rhs, k) = self.range(j + 1)?;
            v = Value::Str(format(
                &v.to_str()?,
                &rhs.items(),
                self.budget.limits.max_decoded,
            )?);
            self.ops.insert(LayerKind::FormatOperator);
            j = k;
        }
        Some((v, j))
    }

    fn range(&mut self, i: usize) -> Res {
        let (v, j) = self.comma(i)?;
        if !self.is_punct(j, "..") {
            return Some((v, j));
        }
        let (rhs, k) = self.comma(j + 1)?;
        let (a, b) = (v.to_int()?, rhs.to_int()?);
        if a.abs_diff(b) > 1_000_000 {
            return None;
        }
        let items: Vec<Value> = if a <= b {
            (a..=b).map(Value::Int).collect()
        } else {
            (b..=a).rev().map(Value::Int).collect()
        };
        Some((Value::Array(items), k))
    }

    fn comma(&mut self, i: usize) -> Res {
        let (v, mut j) = self.unary(i)?;
        if !self.comma_ok || !self.is_punct(j, ",") {
            return Some((v, j));
        }
        let mut weight = v.weight();
        let mut items = vec![v];
        while self.is_punct(j, ",") {
            let mut k = j + 1;
            while matches!(self.tok(k), Some(Tok::Newline)) {
                k += 1;
            }
            let (next, k) = self.unary(k)?;
            weight = weight.saturating_add(next.weight());
            if weight > self.budget.limits.max_decoded {
                return None;
            }
            items.push(next);
            if !self.budget.charge(1) {
                return None;
            }
            j = k;
        }
        Some((Value::Array(items), j))
    }

    fn unary(&mut self, i: usize) -> Res {
        if !self.enter() {
            return self.leave(None);
        }
        let r = self.unary_inner(i);
        self.leave(r)
    }

    fn unary_inner(&mut self, i: usize) -> Res {
        match self.tok(i)? {
            Tok::Dash(d) if d == "join" => {
                let (v, j) = self.unary(i + 1)?;
                self.ops.insert(LayerKind::Join);
                return Some((join(&v, "", self.budget.limits.max_decoded)?, j));
            }
            Tok::Dash(d) if d == "split" => {
                let (v, j) = self.unary(i + 1)?;
                return Some((split(&v, &Value::Str("\\s+".into()), true)?, j));
            }
            Tok::Punct("-") => {
                let (v, j) = self.unary(i + 1)?;
                return Some((Value::Int(v.to_int()?.checked_neg()?), j));
            }
            Tok::Punct(",") if self.comma_ok => {
                let (v, j) = self.unary(i + 1)?;
                return Some((Value::Array(vec![v]), j));
            }
            Tok::Punct("[") => {
                if let Some((ty, j)) = self.type_literal(i)
                    && !self.is_punct(j, "::")
                    && !self.is_punct(j, ".")
                    && self.can_start(j)
                {
                    let (v, k) = self.unary(j)?;
                    let v = super::objects::cast(self, &ty, v)?;
                    return Some((v, k));
                }
            }
            _ => {}
        }
        self.postfix(i)
    }

    fn can_start(&self, i: usize) -> bool {
        matches!(
            self.tok(i),
            Some(
                Tok::Str(_)
                    | Tok::DStr(_)
                    | Tok::Num(_)
                    | Tok::Var(_)
                    | Tok::Punct("(" | "[" | "$(" | "@(" | "-" | ",")
                    | Tok::Dash(_)
            )
        )
    }

    /// `[Name]` or `[Name[]]` at `i`: the lowercased name without `system.`.
    pub fn type_literal(&self, i: usize) -> Option<(String, usize)> {
        if !self.is_punct(i, "[") {
            return None;
        }
        let Some(Tok::Word(w)) = self.tok(i + 1) else {
            return None;
        };
        let mut name = w.to_ascii_lowercase();
        let mut j = i + 2;
        if self.is_punct(j, "[") && self.is_punct(j + 1, "]") {
            name.push_str("[]");
            j += 2;
        }
        if !self.is_punct(j, "]") {
            return None;
        }
        let name = name.strip_prefix("system.").unwrap_or(&name).to_string();
        Some((name, j + 1))
    }

    fn postfix(&mut self, i: usize) -> Res {
        let (mut v, mut j) = self.primary(i)?;
        loop {
            if !self.budget.charge(2) {
                return None;
            }
            if self.is_punct(j, "[") && self.adjacent(j) {
                let saved = self.comma_ok;
                self.comma_ok = true;
                let r = self.expr(j + 1);
                self.comma_ok = saved;
                let (index, k) = r?;
                if !self.is_punct(k, "]") {
                    return None;
                }
                v = super::objects::index(self, &v, &index)?;
                j = k + 1;
            } else if (self.is_punct(j, ".") || self.is_punct(j, "::")) && self.adjacent(j) {
                let member = match self.tok(j + 1) {
                    Some(Tok::Word(w)) => w.to_ascii_lowercase(),
                    Some(Tok::Str(s)) => s.to_ascii_lowercase(),
                    _ => return None,
                };
                let static_call = self.is_punct(j, "::");
                // The lexer keeps `UTF8.GetString` as one word: walk its segments.
                let mut segments: Vec<&str> = member.split('.').collect();
                let last = segments.pop().unwrap_or_default().to_string();
                for seg in segments {
                    v = super::objects::property(self, &v, seg, static_call)?;
                }
                if self.is_punct(j + 2, "(") && self.adjacent(j + 2) {
                    let (args, k) = self.args(j + 2)?;
                    v = super::objects::call(self, &v, &last, args, static_call)?;
                    j = k;
                } else {
                    v = super::objects::property(self, &v, &last, static_call)?;
                    j += 2;
                }
            } else {
                return Some((v, j));
            }
            if !self.fits(&v) {
                return None;
            }
        }
    }

    fn primary(&mut self, i: usize) -> Res {
        let v = match self.tok(i)? {
            Tok::Str(s) => Value::Str(s.clone()),
            Tok::DStr(parts) => {
                let parts = parts.clone();
                let mut out = String::new();
                for p in &parts {
                    match p {
                        Part::Text(t) => out.push_str(t),
                        Part::Var(name) => out.push_str(&self.variable(name)?.to_str()?),
                        Part::SubExpr => return None,
                    }
                }
                if self.toks[i].escaped || parts.iter().any(|p| matches!(p, Part::Var(_))) {
                    self.ops.insert(LayerKind::Concatenation);
                }
                Value::Str(out)
            }
            Tok::Num(n) => Value::Int(*n),
            Tok::Var(name) => {
                let name = name.clone();
                self.variable(&name)?
            }
            Tok::Punct("(") => {
                let saved = self.comma_ok;
                self.comma_ok = true;
                let mut k = i + 1;
                while matches!(self.tok(k), Some(Tok::Newline)) {
                    k += 1;
                }
                let r = self.pipeline(k);
                self.comma_ok = saved;
                let (v, mut j) = r?;
                while matches!(self.tok(j), Some(Tok::Newline)) {
                    j += 1;
                }
                if !self.is_punct(j, ")") {
                    return None;
                }
                return Some((v, j + 1));
            }
            Tok::Punct(p @ ("$(" | "@(")) => {
                let array = *p == "@(";
                let saved = self.comma_ok;
                self.comma_ok = true;
                let r = self.pipeline(i + 1);
                self.comma_ok = saved;
                let (v, j) = r?;
                if !self.is_punct(j, ")") {
                    return None;
                }
                let v = if array && !matches!(v, Value::Array(_)) {
                    Value::Array(vec![v])
                } else {
                    v
                };
                return Some((v, j + 1));
            }
            Tok::Punct("{") => {
                // A script block literal: its text, unevaluated.
                let close = self.matching(i, "{", "}")?;
                let start = self.toks[i].end;
                let end = self.toks[close].start;
                return Some((Value::Script(self.src_slice(start, end)?), close + 1));
            }
            Tok::Punct("[") => {
                let (ty, j) = self.type_literal(i)?;
                return Some((Value::Type(ty), j));
            }
            _ => return None,
        };
        Some((v, i + 1))
    }

    fn src_slice(&self, start: usize, end: usize) -> Option<String> {
        self.src.get(start..end).map(|s| s.trim().to_string())
    }

    /// Index of the token closing the bracket opened at `open`.
    pub fn matching(&self, open: usize, o: &str, c: &str) -> Option<usize> {
        let mut depth = 0usize;
        for k in open..self.toks.len() {
            if self.is_punct(k, o)
                || (o == "(" && (self.is_punct(k, "$(") || self.is_punct(k, "@(")))
            {
                depth += 1;
            } else if self.is_punct(k, c) {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(k);
                }
            }
        }
        None
    }

    fn variable(&mut self, name: &str) -> Option<Value> {
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        let plain = name
            .strip_prefix("script:")
            .or_else(|| name.strip_prefix("global:"))
            .or_else(|| name.strip_prefix("local:"))
            .unwrap_or(name);
        if let Some(known) = self.env.get(plain) {
            self.ops.extend(known.ops.iter().copied());
            return Some(known.value.clone());
        }
        automatic(plain)
    }
}
