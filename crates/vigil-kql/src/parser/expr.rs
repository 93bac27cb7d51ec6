//! Scalar expressions, by precedence climbing: `or`, `and`, comparisons and string
//! predicates, `+ -`, `* / %`, unary, then postfix member, index and call.

use super::Parser;
use crate::ast::*;
use crate::error::{KqlError, Span};
use crate::lexer::Tok;

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Parser<'_> {
    pub(crate) fn expr(&mut self) -> Result<Expr, KqlError> {
        self.enter()?;
        let result = self.or();
        self.leave();
        result
    }

    fn binary(left: Expr, op: BinaryOp, right: Expr) -> Expr {
        let span = left.span.to(right.span);
        Expr {
            kind: ExprKind::Binary {
                op,
                left: boxed(left),
                right: boxed(right),
            },
            span,
        }
    }

    fn or(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            let right = self.and()?;
            left = Self::binary(left, BinaryOp::Or, right);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.comparison()?;
        while self.eat_word("and") {
            let right = self.comparison()?;
            left = Self::binary(left, BinaryOp::And, right);
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.additive()?;
        loop {
            let op = match self.tok() {
                Tok::Punct("==") => BinaryOp::Eq,
                Tok::Punct("!=") | Tok::Punct("<>") => BinaryOp::NotEq,
                Tok::Punct("=~") => BinaryOp::EqCi,
                Tok::Punct("!~") => BinaryOp::NotEqCi,
                Tok::Punct("<") => BinaryOp::Lt,
                Tok::Punct("<=") => BinaryOp::LtEq,
                Tok::Punct(">") => BinaryOp::Gt,
                Tok::Punct(">=") => BinaryOp::GtEq,
                Tok::Punct("!") if self.next_is_adjacent() => {
                    // `!has`, `!in`, `!between`, …
                    let Tok::Ident(word) = self.tok_at(1).clone() else {
                        break;
                    };
                    if let Some(e) = self.word_operator(left.clone(), &word, true, 1)? {
                        left = e;
                        continue;
                    }
                    break;
                }
                Tok::Ident(word) => {
                    let word = word.clone();
                    match self.word_operator(left.clone(), &word, false, 0)? {
                        Some(e) => {
                            left = e;
                            continue;
                        }
                        None => break,
                    }
                }
                _ => break,
            };
            self.bump();
            let right = self.additive()?;
            left = Self::binary(left, op, right);
        }
        Ok(left)
    }

    /// A word operator after `left` (`has`, `in`, `between`, `matches regex`, …),
    /// with `skip` tokens (a `!`) before the word. `None` if the word is not one.
    fn word_operator(
        &mut self,
        left: Expr,
        word: &str,
        negated: bool,
        skip: usize,
    ) -> Result<Option<Expr>, KqlError> {
        if let Some((op, not)) = StringOp::from_name(word) {
            self.pos += skip + 1;
            let right = self.additive()?;
            return Ok(Some(Self::binary(
                left,
                BinaryOp::Str(op, negated != not),
                right,
            )));
        }
        if word == "matches" && !negated && self.is_word_at(1, "regex") {
            self.pos += 2;
            let right = self.additive()?;
            return Ok(Some(Self::binary(
                left,
                BinaryOp::Str(StringOp::MatchesRegex, false),
                right,
            )));
        }
        let in_op = match word {
            "in" => {
                // `in~`: the `~` must touch the word.
                let ci = self.is_punct_at(skip + 1, "~")
                    && self.span_at(skip + 1).start == self.span_at(skip).end;
                Some(match (negated, ci) {
                    (false, false) => InOp::In,
                    (true, false) => InOp::NotIn,
                    (false, true) => InOp::InCi,
                    (true, true) => InOp::NotInCi,
                })
            }
            "has_any" if !negated => Some(InOp::HasAny),
            "has_all" if !negated => Some(InOp::HasAll),
            _ => None,
        };
        if let Some(op) = in_op {
            self.pos += skip + 1;
            if matches!(op, InOp::InCi | InOp::NotInCi) {
                self.bump();
            }
            let start = left.span;
            let (list, subquery) = self.in_list()?;
            let kind = ExprKind::In {
                op,
                expr: boxed(left),
                list,
                subquery: subquery.map(Box::new),
            };
            return Ok(Some(Expr {
                kind,
                span: self.since(start),
            }));
        }
        if word == "between" {
            self.pos += skip + 1;
            let start = left.span;
            self.expect_punct("(")?;
            let low = self.additive()?;
            self.expect_punct("..")?;
            let high = self.additive()?;
            self.expect_punct(")")?;
            let kind = ExprKind::Between {
                expr: boxed(left),
                low: boxed(low),
                high: boxed(high),
                negated,
            };
            return Ok(Some(Expr {
                kind,
                span: self.since(start),
            }));
        }
        Ok(None)
    }

    /// The right side of `in`: `(a, b, …)`, `(T | project x)`, or a name of a list.
    fn in_list(&mut self) -> Result<(Vec<Expr>, Option<Pipeline>), KqlError> {
        if !self.is_punct("(") {
            return Ok((vec![self.additive()?], None));
        }
        self.bump();
        let mut items = Vec::new();
        let mut subquery = None;
        while !self.is_punct(")") {
            let item = self.pipeline()?;
            if item.ops.is_empty()
                && let Source::Expr(e) = item.source
            {
                items.push(e);
            } else {
                subquery = Some(item);
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok((items, subquery))
    }

    pub(crate) fn additive(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.tok() {
                Tok::Punct("+") => BinaryOp::Add,
                Tok::Punct("-") => BinaryOp::Sub,
                _ => break,
            };
            self.bump();
            let right = self.multiplicative()?;
            left = Self::binary(left, op, right);
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.tok() {
                Tok::Punct("*") => BinaryOp::Mul,
                Tok::Punct("/") => BinaryOp::Div,
                Tok::Punct("%") => BinaryOp::Mod,
                _ => break,
            };
            self.bump();
            let right = self.unary()?;
            left = Self::binary(left, op, right);
        }
        Ok(left)
    }

    pub(crate) fn unary(&mut self) -> Result<Expr, KqlError> {
        let start = self.span();
        match self.tok() {
            Tok::Punct("-") => {
                self.bump();
                self.enter()?;
                let operand = self.unary();
                self.leave();
                let operand = operand?;
                // Fold `-5` into a literal.
                let kind = match operand.kind {
                    ExprKind::Int(v) => ExprKind::Int(-v),
                    ExprKind::Real(v) => ExprKind::Real(-v),
                    ExprKind::Timespan(v) => ExprKind::Timespan(-v),
                    kind => ExprKind::Unary {
                        op: UnaryOp::Neg,
                        operand: boxed(Expr {
                            kind,
                            span: operand.span,
                        }),
                    },
                };
                Ok(Expr {
                    kind,
                    span: self.since(start),
                })
            }
            Tok::Punct("+") => {
                self.bump();
                self.unary()
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Expr, KqlError> {
        let mut e = self.primary()?;
        loop {
            if self.is_punct(".")
                && matches!(
                    self.tok_at(1),
                    Tok::Ident(_) | Tok::QuotedIdent(_) | Tok::Int(_)
                )
            {
                self.bump();
                let name = match self.bump().tok {
                    Tok::Ident(n) | Tok::QuotedIdent(n) => n,
                    Tok::Int(i) => i.to_string(),
                    _ => unreachable!("checked above"),
                };
                // `a.b(…)`: a call of a dotted name (`bag_pack` is never written so, but
                // database functions such as `database("x").T` are).
                let span = self.since(e.span);
                e = Expr {
                    kind: ExprKind::Member {
                        target: boxed(e),
                        name,
                    },
                    span,
                };
            } else if let Tok::QuotedIdent(key) = self.tok().clone()
                && self.text[self.span().start..].starts_with('[')
            {
                // `x['key']` reads like a bracketed name to the lexer; after a value it
                // is an index.
                let span = self.bump().span;
                let index = Expr {
                    kind: ExprKind::Str(key),
                    span,
                };
                let span = self.since(e.span);
                e = Expr {
                    kind: ExprKind::Index {
                        target: boxed(e),
                        index: boxed(index),
                    },
                    span,
                };
            } else if self.is_punct("[") || (self.is_punct(".") && self.is_punct_at(1, "[")) {
                // `a[0]`, and `a.[0]` as some queries write it.
                if self.is_punct(".") {
                    self.bump();
                }
                self.bump();
                let index = self.expr()?;
                self.expect_punct("]")?;
                let span = self.since(e.span);
                e = Expr {
                    kind: ExprKind::Index {
                        target: boxed(e),
                        index: boxed(index),
                    },
                    span,
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, KqlError> {
        let start = self.span();
        let lit = |kind| Ok(Expr { kind, span: start });
        match self.tok().clone() {
            Tok::Int(v) => {
                self.bump();
                lit(ExprKind::Int(v))
            }
            Tok::Real(v) => {
                self.bump();
                lit(ExprKind::Real(v))
            }
            Tok::Timespan(v) => {
                self.bump();
                lit(ExprKind::Timespan(v))
            }
            Tok::Str(s) => {
                self.bump();
                lit(ExprKind::Str(s))
            }
            Tok::Typed { ty, text } => {
                self.bump();
                lit(ExprKind::Typed { ty, text })
            }
            Tok::Punct("*") => {
                self.bump();
                lit(ExprKind::Star)
            }
            Tok::Punct("(") => {
                if self.function_follows() {
                    return self.lambda();
                }
                self.bump();
                let inner = self.pipeline()?;
                // `(a, b)`: a tuple, as in `(x, y) = …` or `in ((1, 2))`; keep the list.
                if self.is_punct(",") {
                    let mut items = vec![Self::pipeline_to_expr(inner)];
                    while self.eat_punct(",") {
                        let next = self.pipeline()?;
                        items.push(Self::pipeline_to_expr(next));
                    }
                    self.expect_punct(")")?;
                    return Ok(Expr {
                        kind: ExprKind::List(items),
                        span: self.since(start),
                    });
                }
                self.expect_punct(")")?;
                let mut e = Self::pipeline_to_expr(inner);
                e.span = self.since(start);
                Ok(e)
            }
            Tok::Punct("[") => {
                self.bump();
                let items = self.expr_list("]")?;
                self.expect_punct("]")?;
                Ok(Expr {
                    kind: ExprKind::List(items),
                    span: self.since(start),
                })
            }
            Tok::Punct("{") => {
                self.bump();
                let mut pairs = Vec::new();
                while !self.is_punct("}") {
                    let key = match self.bump().tok {
                        Tok::Str(s) | Tok::Ident(s) | Tok::QuotedIdent(s) => s,
                        _ => {
                            return Err(KqlError::syntax(
                                self.since(start),
                                "a property bag's keys are strings",
                            ));
                        }
                    };
                    self.expect_punct(":")?;
                    let value = self.expr()?;
                    pairs.push((key, value));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct("}")?;
                Ok(Expr {
                    kind: ExprKind::Bag(pairs),
                    span: self.since(start),
                })
            }
            Tok::Ident(word) => self.word(word, start),
            Tok::QuotedIdent(name) => {
                self.bump();
                lit(ExprKind::Name(name))
            }
            _ => Err(self.expected("an expression")),
        }
    }

    fn pipeline_to_expr(p: Pipeline) -> Expr {
        match (p.source, p.ops.is_empty()) {
            (Source::Expr(e), true) => e,
            (source, _) => {
                let span = p.span;
                Expr {
                    kind: ExprKind::Tabular(Box::new(Pipeline {
                        source,
                        ops: p.ops,
                        span,
                    })),
                    span,
                }
            }
        }
    }

    /// A word in expression position: a literal keyword, `dynamic(…)`, a call or a name.
    fn word(&mut self, word: String, start: Span) -> Result<Expr, KqlError> {
        match word.as_str() {
            "true" | "false" if !self.is_punct_at(1, "(") => {
                self.bump();
                return Ok(Expr {
                    kind: ExprKind::Bool(word == "true"),
                    span: start,
                });
            }
            "null" if !self.is_punct_at(1, "(") => {
                self.bump();
                return Ok(Expr {
                    kind: ExprKind::Null,
                    span: start,
                });
            }
            "dynamic" if self.is_punct_at(1, "(") => {
                self.bump();
                self.bump();
                let value = if self.is_punct(")") {
                    Expr {
                        kind: ExprKind::Null,
                        span: start,
                    }
                } else {
                    self.expr()?
                };
                self.expect_punct(")")?;
                return Ok(Expr {
                    kind: ExprKind::Dynamic(boxed(value)),
                    span: self.since(start),
                });
            }
            _ => {}
        }
        let name = self.ident()?;
        if !self.is_punct("(") {
            return Ok(Expr {
                kind: ExprKind::Name(name.name),
                span: start,
            });
        }
        // A typed literal written as a call: `int(null)`, `real(nan)`, `bool(true)`.
        const TYPES: &[&str] = &[
            "int", "long", "real", "double", "bool", "boolean", "string", "decimal",
        ];
        if TYPES.contains(&name.name.as_str()) && self.literal_arg_follows() {
            self.bump();
            let from = self.pos;
            while !self.is_punct(")") && !self.at_eof() {
                self.bump();
            }
            let text = self.text_since(from);
            self.expect_punct(")")?;
            return Ok(Expr {
                kind: ExprKind::Typed {
                    ty: name.name,
                    text,
                },
                span: self.since(start),
            });
        }
        self.bump();
        let args = self.call_args()?;
        self.expect_punct(")")?;
        Ok(Expr {
            kind: ExprKind::Call { name, args },
            span: self.since(start),
        })
    }

    /// At `(`: whether a literal (`null`, a number, `nan`, `true`) alone follows.
    fn literal_arg_follows(&self) -> bool {
        let literal = match self.tok_at(1) {
            Tok::Int(_) | Tok::Real(_) | Tok::Str(_) => true,
            Tok::Ident(w) => matches!(w.as_str(), "null" | "nan" | "inf" | "true" | "false"),
            Tok::Punct("+" | "-") => {
                matches!(self.tok_at(2), Tok::Int(_) | Tok::Real(_) | Tok::Ident(_))
            }
            _ => false,
        };
        let close = if matches!(self.tok_at(1), Tok::Punct("+" | "-")) {
            3
        } else {
            2
        };
        literal && self.is_punct_at(close, ")")
    }

    /// Call arguments: expressions, subqueries, `name = value` and `*`.
    pub(crate) fn call_args(&mut self) -> Result<Vec<Expr>, KqlError> {
        let mut args = Vec::new();
        while !self.is_punct(")") {
            let start = self.span();
            if matches!(self.tok(), Tok::Ident(_)) && self.is_punct_at(1, "=") {
                let name = self.ident()?.name;
                self.bump();
                let value = self.expr()?;
                args.push(Expr {
                    kind: ExprKind::NamedArg {
                        name,
                        value: boxed(value),
                    },
                    span: self.since(start),
                });
            } else {
                let p = self.pipeline()?;
                args.push(Self::pipeline_to_expr(p));
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(args)
    }

    /// `(x:int, y:string) { body }` passed as an argument.
    fn lambda(&mut self) -> Result<Expr, KqlError> {
        let start = self.span();
        let params = self.params()?;
        self.expect_punct("{")?;
        let body = self.pipeline()?;
        self.eat_punct(";");
        self.expect_punct("}")?;
        let body = Self::pipeline_to_expr(body);
        Ok(Expr {
            kind: ExprKind::Lambda {
                params,
                body: boxed(body),
            },
            span: self.since(start),
        })
    }

    /// Comma-separated expressions up to (not including) `close`.
    pub(crate) fn expr_list(&mut self, close: &str) -> Result<Vec<Expr>, KqlError> {
        let mut items = Vec::new();
        while !self.is_punct(close) {
            items.push(self.expr()?);
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(items)
    }

    /// `[name =] expr` or `(a, b) = expr`, comma-separated.
    pub(crate) fn assignments(&mut self) -> Result<Vec<Assignment>, KqlError> {
        let mut out = vec![self.assignment()?];
        while self.eat_punct(",") {
            out.push(self.assignment()?);
        }
        Ok(out)
    }

    pub(crate) fn assignment(&mut self) -> Result<Assignment, KqlError> {
        if self.is_ident() && self.is_punct_at(1, "=") {
            let name = self.ident()?;
            self.bump();
            let expr = self.expr()?;
            return Ok(Assignment {
                names: vec![name],
                expr,
            });
        }
        if self.is_punct("(") && self.tuple_assignment_follows() {
            self.bump();
            let mut names = vec![self.ident()?];
            while self.eat_punct(",") {
                names.push(self.ident()?);
            }
            self.expect_punct(")")?;
            self.expect_punct("=")?;
            let expr = self.expr()?;
            return Ok(Assignment { names, expr });
        }
        Ok(Assignment {
            names: Vec::new(),
            expr: self.expr()?,
        })
    }

    /// At `(`: `(a, b) =`.
    fn tuple_assignment_follows(&self) -> bool {
        let mut i = 1;
        loop {
            if !matches!(self.tok_at(i), Tok::Ident(_) | Tok::QuotedIdent(_)) {
                return false;
            }
            i += 1;
            if self.is_punct_at(i, ")") {
                return self.is_punct_at(i + 1, "=");
            }
            if !self.is_punct_at(i, ",") {
                return false;
            }
            i += 1;
        }
    }
}
