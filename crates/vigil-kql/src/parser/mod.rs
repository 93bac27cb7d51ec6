//! A hand-written recursive-descent parser for KQL, with precedence climbing for
//! expressions. `mod.rs` holds the cursor and statements, `expr.rs` expressions,
//! `ops.rs` the tabular operators.

mod expr;
mod ops;

use crate::ast::*;
use crate::error::{KqlError, Span};
use crate::lexer::{Tok, Token, lex};

/// How deep expressions and subqueries may nest before the parser gives up (instead of
/// running out of stack on hostile input).
const MAX_DEPTH: usize = 64;

/// Parses a whole query.
pub fn parse(text: &str) -> Result<Query, KqlError> {
    let toks = lex(text)?;
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
    };
    let query = p.query()?;
    if !p.at_eof() {
        return Err(p.expected("`|`, `;` or the end of the query"));
    }
    Ok(query)
}

pub(crate) struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    // ----- the cursor ----------------------------------------------------------------

    fn tok(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn tok_at(&self, ahead: usize) -> &Tok {
        &self.toks[(self.pos + ahead).min(self.toks.len() - 1)].tok
    }

    fn span(&self) -> Span {
        self.toks[self.pos.min(self.toks.len() - 1)].span
    }

    fn span_at(&self, ahead: usize) -> Span {
        self.toks[(self.pos + ahead).min(self.toks.len() - 1)].span
    }

    /// The span from `start` to the end of the last token taken.
    fn since(&self, start: Span) -> Span {
        let last = self.toks[self.pos.saturating_sub(1).min(self.toks.len() - 1)].span;
        start.to(last)
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn at_eof(&self) -> bool {
        matches!(self.tok(), Tok::Eof)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.tok(), Tok::Ident(w) if w == word)
    }

    fn is_word_at(&self, ahead: usize, word: &str) -> bool {
        matches!(self.tok_at(ahead), Tok::Ident(w) if w == word)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.is_word(word) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<Span, KqlError> {
        if self.is_word(word) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{word}`")))
        }
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.tok(), Tok::Punct(q) if *q == p)
    }

    fn is_punct_at(&self, ahead: usize, p: &str) -> bool {
        matches!(self.tok_at(ahead), Tok::Punct(q) if *q == p)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<Span, KqlError> {
        if self.is_punct(p) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }

    /// Whether the token after the current one starts right where it ends (`!has`,
    /// `in~`, `Col*`).
    fn next_is_adjacent(&self) -> bool {
        self.span_at(1).start == self.span().end
    }

    fn describe(tok: &Tok) -> String {
        match tok {
            Tok::Ident(w) | Tok::QuotedIdent(w) => format!("`{w}`"),
            Tok::Int(v) => format!("`{v}`"),
            Tok::Real(v) => format!("`{v}`"),
            Tok::Timespan(_) => "a timespan".to_string(),
            Tok::Str(_) => "a string".to_string(),
            Tok::Typed { ty, .. } => format!("a {ty} literal"),
            Tok::Punct(p) => format!("`{p}`"),
            Tok::Eof => "the end of the query".to_string(),
        }
    }

    fn expected(&self, what: &str) -> KqlError {
        KqlError::syntax(
            self.span(),
            format!("expected {what}, found {}", Self::describe(self.tok())),
        )
    }

    fn enter(&mut self) -> Result<(), KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(KqlError::syntax(self.span(), "the query nests too deeply"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// A name: a plain identifier or a bracketed one.
    fn ident(&mut self) -> Result<Ident, KqlError> {
        match self.tok().clone() {
            Tok::Ident(name) | Tok::QuotedIdent(name) => {
                let span = self.bump().span;
                Ok(Ident { name, span })
            }
            _ => Err(self.expected("a name")),
        }
    }

    fn is_ident(&self) -> bool {
        matches!(self.tok(), Tok::Ident(_) | Tok::QuotedIdent(_))
    }

    /// The source text of the tokens from `start` up to (not including) the current one.
    fn text_since(&self, start: usize) -> String {
        let end = if self.pos > start {
            self.toks[self.pos - 1].span.end
        } else {
            self.toks[start].span.start
        };
        self.text[self.toks[start].span.start..end].to_string()
    }

    /// Skips tokens up to the end of the current statement or operator (a `|`, `;`,
    /// or closing bracket at this level), returning their text.
    fn skip_balanced(&mut self) -> String {
        let start = self.pos;
        let mut depth = 0usize;
        loop {
            match self.tok() {
                Tok::Eof => break,
                Tok::Punct("(" | "[" | "{") => depth += 1,
                Tok::Punct(")" | "]" | "}") if depth == 0 => break,
                Tok::Punct(")" | "]" | "}") => depth -= 1,
                Tok::Punct("|" | ";") if depth == 0 => break,
                _ => {}
            }
            self.bump();
        }
        self.text_since(start)
    }

    // ----- statements -------------------------------------------------------------------

    fn query(&mut self) -> Result<Query, KqlError> {
        let statements = self.statements(false)?;
        Ok(Query { statements })
    }

    /// Statements separated by `;`, up to the end (or to `}` inside a function body).
    fn statements(&mut self, in_body: bool) -> Result<Vec<Statement>, KqlError> {
        let mut out = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if self.at_eof() || (in_body && self.is_punct("}")) {
                return Ok(out);
            }
            out.push(self.statement()?);
            if !self.eat_punct(";") && !self.new_query_follows() {
                return Ok(out);
            }
        }
    }

    /// Query packs put several queries in one text, one after another with a blank or
    /// comment line between them and no `;`, as the Log Analytics and Defender query
    /// editors allow. At the end of a statement, a new one starts when such a line
    /// separates it from the next token.
    fn new_query_follows(&self) -> bool {
        if self.at_eof() || self.pos == 0 {
            return false;
        }
        let gap = &self.text[self.toks[self.pos - 1].span.end..self.span().start];
        let lines: Vec<&str> = gap.split('\n').collect();
        // The first piece ends the statement's line; the last starts the next token's.
        lines.len() > 2
            && lines[1..lines.len() - 1].iter().any(|l| {
                let l = l.trim_matches(|c: char| {
                    c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}'
                });
                l.is_empty() || l.starts_with("//")
            })
    }

    fn statement(&mut self) -> Result<Statement, KqlError> {
        let start = self.span();
        if self.is_word("let") && !self.is_punct_at(1, "=") && !self.is_punct_at(1, "(") {
            self.bump();
            let name = self.ident()?;
            self.expect_punct("=")?;
            let value = self.let_value()?;
            return Ok(Statement::Let {
                name,
                value,
                span: self.since(start),
            });
        }
        if self.is_word("set")
            && matches!(self.tok_at(1), Tok::Ident(_))
            && !self.is_punct_at(1, "=")
        {
            self.bump();
            let mut name = self.ident()?.name;
            while self.eat_punct(".") {
                name.push('.');
                name.push_str(&self.ident()?.name);
            }
            let value = if self.eat_punct("=") {
                Some(self.expr()?)
            } else {
                None
            };
            return Ok(Statement::Set {
                name,
                value,
                span: self.since(start),
            });
        }
        if (self.is_word("declare") || self.is_word("alias") || self.is_word("pattern"))
            && matches!(self.tok_at(1), Tok::Ident(_))
        {
            let from = self.pos;
            self.skip_balanced();
            return Ok(Statement::Declare {
                text: self.text_since(from),
                span: self.since(start),
            });
        }
        Ok(Statement::Tabular(Box::new(self.pipeline()?)))
    }

    fn let_value(&mut self) -> Result<LetValue, KqlError> {
        let view = self.is_word("view") && self.is_punct_at(1, "(");
        if view {
            self.bump();
        }
        if self.is_punct("(") && self.function_follows() {
            let params = self.params()?;
            self.expect_punct("{")?;
            let body = self.statements(true)?;
            self.expect_punct("}")?;
            return Ok(LetValue::Function { params, body, view });
        }
        Ok(LetValue::Expr(Box::new(self.pipeline()?)))
    }

    /// At `(`: whether a parameter list and `{` body follow (a function), rather than a
    /// parenthesized expression.
    fn function_follows(&self) -> bool {
        if self.is_punct_at(1, ")") {
            return self.is_punct_at(2, "{");
        }
        matches!(self.tok_at(1), Tok::Ident(_) | Tok::QuotedIdent(_)) && self.is_punct_at(2, ":")
    }

    /// `(name:type [= default], T:(*), …)`
    fn params(&mut self) -> Result<Vec<Param>, KqlError> {
        self.expect_punct("(")?;
        let mut params = Vec::new();
        while !self.is_punct(")") {
            let name = self.ident()?;
            self.expect_punct(":")?;
            let ty = if self.is_punct("(") {
                let from = self.pos;
                self.bump();
                self.skip_balanced();
                self.expect_punct(")")?;
                self.text_since(from)
            } else {
                self.ident()?.name
            };
            let default = if self.eat_punct("=") {
                Some(self.expr()?)
            } else {
                None
            };
            params.push(Param { name, ty, default });
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(params)
    }

    // ----- pipelines --------------------------------------------------------------------

    /// `source | op | op …`
    pub(crate) fn pipeline(&mut self) -> Result<Pipeline, KqlError> {
        self.enter()?;
        let start = self.span();
        let source = self.source()?;
        let mut ops = Vec::new();
        while self.eat_punct("|") {
            ops.push(self.operator()?);
        }
        self.leave();
        Ok(Pipeline {
            source,
            ops,
            span: self.since(start),
        })
    }

    /// Operators without a source, as inside `mv-apply … on (…)` and `fork (…)`.
    fn sub_pipeline(&mut self) -> Result<Pipeline, KqlError> {
        self.enter()?;
        let start = self.span();
        self.eat_punct("|");
        let mut ops = vec![self.operator()?];
        while self.eat_punct("|") {
            ops.push(self.operator()?);
        }
        self.leave();
        let source = Source::Expr(Expr {
            kind: ExprKind::Star,
            span: start,
        });
        Ok(Pipeline {
            source,
            ops,
            span: self.since(start),
        })
    }

    fn source(&mut self) -> Result<Source, KqlError> {
        let start = self.span();
        let keyword_then = |p: &Self, next: &str| p.is_punct_at(1, next);
        match self.tok() {
            Tok::Ident(w)
                if w == "datatable" && (keyword_then(self, "(") || self.is_word_at(1, "with")) =>
            {
                self.bump();
                let columns = self.column_decls()?;
                let values = self.bracket_list()?;
                Ok(Source::Datatable {
                    columns,
                    values,
                    span: self.since(start),
                })
            }
            Tok::Ident(w) if w == "print" => {
                self.bump();
                let columns = self.assignments()?;
                Ok(Source::Print {
                    columns,
                    span: self.since(start),
                })
            }
            Tok::Ident(w)
                if w == "range"
                    && matches!(self.tok_at(1), Tok::Ident(_))
                    && self.is_word_at(2, "from") =>
            {
                self.bump();
                let column = self.ident()?;
                self.expect_word("from")?;
                let from = self.expr()?;
                self.expect_word("to")?;
                let to = self.expr()?;
                self.expect_word("step")?;
                let step = self.expr()?;
                Ok(Source::Range {
                    column,
                    from,
                    to,
                    step,
                    span: self.since(start),
                })
            }
            Tok::Ident(w) if w == "union" => {
                self.bump();
                Ok(Source::Union(self.union_body(start)?))
            }
            Tok::Ident(w) if w == "search" && !keyword_then(self, "(") => {
                self.bump();
                Ok(Source::Search(self.search_body(start)?))
            }
            Tok::Ident(w) if w == "find" && !keyword_then(self, "(") => {
                self.bump();
                let text = self.skip_balanced();
                Ok(Source::Find {
                    text,
                    span: self.since(start),
                })
            }
            Tok::Ident(w) if w == "externaldata" => {
                self.bump();
                let columns = self.column_decls()?;
                let uris = self.bracket_list()?;
                let props = if self.eat_word("with") {
                    self.paren_props()?
                } else {
                    Vec::new()
                };
                Ok(Source::ExternalData {
                    columns,
                    uris,
                    props,
                    span: self.since(start),
                })
            }
            Tok::Ident(w) if w == "evaluate" => {
                self.bump();
                Ok(Source::Evaluate(self.evaluate_body(start)?))
            }
            _ => Ok(Source::Expr(self.expr()?)),
        }
    }

    /// `[a, b, …]`. A single string in brackets (`['x']`) reads like a bracketed name
    /// to the lexer; here it is a list of one.
    fn bracket_list(&mut self) -> Result<Vec<Expr>, KqlError> {
        if let Tok::QuotedIdent(s) = self.tok().clone()
            && self.text[self.span().start..].starts_with('[')
        {
            let span = self.bump().span;
            return Ok(vec![Expr {
                kind: ExprKind::Str(s),
                span,
            }]);
        }
        self.expect_punct("[")?;
        let items = self.expr_list("]")?;
        self.expect_punct("]")?;
        Ok(items)
    }

    /// `(name:type, …)`, also after `datatable with (…)`-style hints.
    fn column_decls(&mut self) -> Result<Vec<ColumnDecl>, KqlError> {
        if self.eat_word("with") {
            self.paren_props()?;
        }
        self.expect_punct("(")?;
        let mut columns = Vec::new();
        while !self.is_punct(")") {
            let name = self.ident()?;
            self.expect_punct(":")?;
            let ty = self.ident()?.name;
            columns.push(ColumnDecl { name, ty });
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(columns)
    }

    /// `name=value` options before an operator's arguments. Only names that are options
    /// of some operator are taken, so that `kind` can still be a column elsewhere.
    fn props(&mut self) -> Result<Vec<Property>, KqlError> {
        const NAMES: &[&str] = &[
            "kind",
            "withsource",
            "isfuzzy",
            "bagexpansion",
            "with_itemindex",
            "flags",
            "decodeblocks",
            "with_source",
            "bin_legacy",
            "ignoreFirstRecord",
            "format",
        ];
        let mut props = Vec::new();
        while let Tok::Ident(word) = self.tok().clone() {
            let dotted = word == "hint" && self.is_punct_at(1, ".");
            let option = NAMES.contains(&word.as_str()) && self.is_punct_at(1, "=");
            if !dotted && !option {
                break;
            }
            let mut name = self.ident()?.name;
            while self.eat_punct(".") {
                name.push('.');
                name.push_str(&self.ident()?.name);
            }
            self.expect_punct("=")?;
            let value = self.prop_value()?;
            props.push(Property { name, value });
        }
        Ok(props)
    }

    /// A property value: a name (never a call: in `kind=inner (T)` the parenthesis is
    /// the next argument), a literal, or a parenthesized expression.
    fn prop_value(&mut self) -> Result<Expr, KqlError> {
        if self.is_ident() {
            let name = self.ident()?;
            return Ok(Expr {
                kind: ExprKind::Name(name.name),
                span: name.span,
            });
        }
        self.unary()
    }

    /// `(name=value, …)`
    fn paren_props(&mut self) -> Result<Vec<Property>, KqlError> {
        self.expect_punct("(")?;
        let mut props = Vec::new();
        while !self.is_punct(")") {
            let mut name = self.ident()?.name;
            while self.eat_punct(".") {
                name.push('.');
                name.push_str(&self.ident()?.name);
            }
            self.expect_punct("=")?;
            let value = self.expr()?;
            props.push(Property { name, value });
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_punct(")")?;
        Ok(props)
    }
}

#[cfg(test)]
mod tests;
