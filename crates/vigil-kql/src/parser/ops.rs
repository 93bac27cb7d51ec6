//! Tabular operators: what follows each `|`.

use super::Parser;
use crate::ast::*;
use crate::error::{KqlError, Span};
use crate::lexer::Tok;
use crate::suggest::edit_distance;

/// Operators Vigil knows by name, for the error on a misspelt one.
const OPERATORS: &[&str] = &[
    "as",
    "consume",
    "count",
    "distinct",
    "evaluate",
    "extend",
    "facet",
    "filter",
    "fork",
    "getschema",
    "invoke",
    "join",
    "limit",
    "lookup",
    "make-series",
    "mv-apply",
    "mv-expand",
    "mvexpand",
    "order",
    "parse",
    "parse-kv",
    "parse-where",
    "partition",
    "project",
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "render",
    "sample",
    "search",
    "serialize",
    "sort",
    "summarize",
    "take",
    "top",
    "top-nested",
    "union",
    "where",
];

impl Parser<'_> {
    pub(crate) fn operator(&mut self) -> Result<Operator, KqlError> {
        let start = self.span();
        let Tok::Ident(word) = self.tok().clone() else {
            return Err(self.expected("an operator such as `where`, `extend` or `summarize`"));
        };
        self.bump();
        let op = match word.as_str() {
            "where" | "filter" => Operator::Where {
                predicate: self.expr()?,
                span: start,
            },
            "extend" => Operator::Extend {
                columns: self.assignments()?,
                span: start,
            },
            "project" => Operator::Project {
                columns: self.assignments()?,
                span: start,
            },
            "project-away" => Operator::ProjectAway {
                patterns: self.patterns()?,
                span: start,
            },
            "project-keep" => Operator::ProjectKeep {
                patterns: self.patterns()?,
                span: start,
            },
            "project-rename" => {
                let mut renames = Vec::new();
                loop {
                    let new = self.ident()?;
                    self.expect_punct("=")?;
                    let old = self.ident()?;
                    renames.push((new, old));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                Operator::ProjectRename {
                    renames,
                    span: start,
                }
            }
            "project-reorder" => {
                let mut patterns = Vec::new();
                loop {
                    let p = self.patterns_with(true)?.remove(0);
                    let order = ["asc", "desc", "granny-asc", "granny-desc"]
                        .iter()
                        .find(|o| self.is_word(o))
                        .map(|o| o.to_string());
                    if order.is_some() {
                        self.bump();
                    }
                    patterns.push((p, order));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                Operator::ProjectReorder {
                    patterns,
                    span: start,
                }
            }
            "summarize" => {
                let props = self.props()?;
                let aggregates = if self.is_word("by") {
                    Vec::new()
                } else {
                    self.assignments()?
                };
                let by = if self.eat_word("by") {
                    self.assignments()?
                } else {
                    Vec::new()
                };
                Operator::Summarize {
                    props,
                    aggregates,
                    by,
                    span: start,
                }
            }
            "sort" | "order" => {
                self.expect_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat_punct(",") {
                    keys.push(self.sort_key()?);
                }
                Operator::Sort { keys, span: start }
            }
            "top" => {
                let count = self.expr()?;
                self.expect_word("by")?;
                let key = self.sort_key()?;
                Operator::Top {
                    count,
                    key,
                    span: start,
                }
            }
            "take" | "limit" => Operator::Take {
                count: self.expr()?,
                span: start,
            },
            "distinct" => {
                let columns = if self.eat_punct("*") {
                    vec![Expr {
                        kind: ExprKind::Star,
                        span: start,
                    }]
                } else {
                    self.expr_list_until_pipe()?
                };
                Operator::Distinct {
                    columns,
                    span: start,
                }
            }
            "count" => Operator::Count { span: start },
            "join" | "lookup" => {
                let props = self.props()?;
                let right = self.right_side()?;
                let on = if self.eat_word("on") {
                    self.expr_list_until_pipe()?
                } else {
                    Vec::new()
                };
                if word == "join" {
                    Operator::Join {
                        props,
                        right,
                        on,
                        span: start,
                    }
                } else {
                    Operator::Lookup {
                        props,
                        right,
                        on,
                        span: start,
                    }
                }
            }
            "union" => Operator::Union(self.union_body(start)?),
            "mv-expand" | "mvexpand" => {
                let props = self.props()?;
                let columns = self.expand_columns()?;
                let limit = if self.eat_word("limit") {
                    Some(self.expr()?)
                } else {
                    None
                };
                Operator::MvExpand {
                    props,
                    columns,
                    limit,
                    span: start,
                }
            }
            "mv-apply" => {
                let props = self.props()?;
                let columns = self.expand_columns()?;
                self.expect_word("on")?;
                self.expect_punct("(")?;
                let subquery = self.sub_pipeline()?;
                self.expect_punct(")")?;
                Operator::MvApply {
                    props,
                    columns,
                    subquery,
                    span: start,
                }
            }
            "parse" | "parse-where" => self.parse_op(start, word == "parse-where")?,
            "parse-kv" => {
                let source = self.expr()?;
                self.expect_word("as")?;
                let columns = self.column_decls()?;
                let props = if self.eat_word("with") {
                    self.paren_props()?
                } else {
                    Vec::new()
                };
                Operator::ParseKv {
                    source,
                    columns,
                    props,
                    span: start,
                }
            }
            "make-series" => self.make_series(start)?,
            "evaluate" => Operator::Evaluate(self.evaluate_body(start)?),
            "render" => {
                let chart = self.ident()?.name;
                // Chart properties are display hints; keep the operator, not their text.
                if self.eat_word("with") {
                    self.expect_punct("(")?;
                    self.skip_balanced();
                    self.expect_punct(")")?;
                }
                Operator::Render {
                    chart,
                    props: Vec::new(),
                    span: start,
                }
            }
            "as" => {
                self.props()?;
                Operator::As {
                    name: self.ident()?,
                    span: start,
                }
            }
            "serialize" => {
                let columns = if self.at_operator_end() {
                    Vec::new()
                } else {
                    self.assignments()?
                };
                Operator::Serialize {
                    columns,
                    span: start,
                }
            }
            "invoke" => Operator::Invoke {
                call: self.expr()?,
                span: start,
            },
            "sample" => Operator::Sample {
                count: self.expr()?,
                span: start,
            },
            "search" => Operator::Search(self.search_body(start)?),
            "getschema" => Operator::GetSchema { span: start },
            "top-nested" => self.top_nested(start)?,
            "facet" => {
                self.expect_word("by")?;
                let mut columns = vec![self.ident()?];
                while self.eat_punct(",") {
                    columns.push(self.ident()?);
                }
                let with = if self.eat_word("with") {
                    self.expect_punct("(")?;
                    let p = self.sub_pipeline()?;
                    self.expect_punct(")")?;
                    Some(p)
                } else {
                    None
                };
                Operator::Facet {
                    columns,
                    with,
                    span: start,
                }
            }
            "fork" => {
                let mut branches = Vec::new();
                while self.is_punct("(") || (self.is_ident() && self.is_punct_at(1, "=")) {
                    if !self.is_punct("(") {
                        self.bump();
                        self.bump();
                    }
                    self.expect_punct("(")?;
                    branches.push(self.sub_pipeline()?);
                    self.expect_punct(")")?;
                }
                Operator::Fork {
                    branches,
                    span: start,
                }
            }
            "partition" => {
                let props = self.props()?;
                self.expect_word("by")?;
                let by = self.ident()?;
                let close = if self.eat_punct("{") {
                    "}"
                } else {
                    self.expect_punct("(").map(|_| ")")?
                };
                let subquery = if close == "}" {
                    self.pipeline()?
                } else {
                    self.sub_pipeline()?
                };
                self.expect_punct(close)?;
                Operator::Partition {
                    props,
                    by,
                    subquery,
                    span: start,
                }
            }
            "consume" => {
                self.props()?;
                Operator::Consume { span: start }
            }
            other => {
                let suggestion = OPERATORS
                    .iter()
                    .filter(|o| edit_distance(o, other) <= 2)
                    .min_by_key(|o| edit_distance(o, other));
                let message = match suggestion {
                    Some(s) => format!("unknown operator `{other}`; did you mean `{s}`?"),
                    None => format!("unknown operator `{other}`"),
                };
                return Err(KqlError::syntax(start, message));
            }
        };
        Ok(op)
    }

    /// Whether the operator's arguments are over (`|`, `;`, a closing bracket, the end).
    fn at_operator_end(&self) -> bool {
        matches!(self.tok(), Tok::Eof | Tok::Punct("|" | ";" | ")" | "}"))
    }

    fn expr_list_until_pipe(&mut self) -> Result<Vec<Expr>, KqlError> {
        let mut items = vec![self.expr()?];
        while self.eat_punct(",") {
            items.push(self.expr()?);
        }
        Ok(items)
    }

    /// Column names with `*` wildcards (`project-away Col*, *Id`).
    fn patterns(&mut self) -> Result<Vec<Ident>, KqlError> {
        let mut out = Vec::new();
        for p in self.patterns_with(false)? {
            out.push(p);
        }
        Ok(out)
    }

    /// One pattern when `one_at_a_time`, else all comma-separated ones.
    fn patterns_with(&mut self, one_at_a_time: bool) -> Result<Vec<Ident>, KqlError> {
        let mut out = Vec::new();
        loop {
            let start = self.span();
            let mut name = String::new();
            let mut last_end = None;
            loop {
                let adjacent = last_end.is_none_or(|end| self.span().start == end);
                if !adjacent {
                    break;
                }
                match self.tok().clone() {
                    Tok::Ident(w) | Tok::QuotedIdent(w) => name.push_str(&w),
                    Tok::Punct("*") => name.push('*'),
                    _ => break,
                }
                last_end = Some(self.bump().span.end);
            }
            if name.is_empty() {
                return Err(self.expected("a column name"));
            }
            out.push(Ident {
                name,
                span: self.since(start),
            });
            if one_at_a_time || !self.eat_punct(",") {
                return Ok(out);
            }
        }
    }

    fn sort_key(&mut self) -> Result<SortKey, KqlError> {
        let expr = self.expr()?;
        let ascending = if self.eat_word("asc") {
            true
        } else {
            self.eat_word("desc");
            false
        };
        let nulls_first = if self.eat_word("nulls") {
            if self.eat_word("first") {
                Some(true)
            } else {
                self.expect_word("last")?;
                Some(false)
            }
        } else {
            None
        };
        Ok(SortKey {
            expr,
            ascending,
            nulls_first,
        })
    }

    /// The right side of `join` and `lookup`: `(subquery)` or a table name.
    fn right_side(&mut self) -> Result<Pipeline, KqlError> {
        let start = self.span();
        if self.eat_punct("(") {
            let p = self.pipeline()?;
            self.expect_punct(")")?;
            return Ok(p);
        }
        let source = Source::Expr(self.unary()?);
        Ok(Pipeline {
            source,
            ops: Vec::new(),
            span: self.since(start),
        })
    }

    pub(super) fn union_body(&mut self, start: Span) -> Result<Union, KqlError> {
        let props = self.props()?;
        let mut tables = Vec::new();
        loop {
            let t_start = self.span();
            if self.eat_punct("(") {
                tables.push(self.pipeline()?);
                self.expect_punct(")")?;
            } else {
                let pattern = self.patterns_with(true)?.remove(0);
                // A call (`union T, MyFunction()`), or a name with wildcards.
                let source = if self.is_punct("(") && !pattern.name.contains('*') {
                    self.bump();
                    let args = self.expr_list(")")?;
                    self.expect_punct(")")?;
                    Expr {
                        kind: ExprKind::Call {
                            name: pattern,
                            args,
                        },
                        span: self.since(t_start),
                    }
                } else {
                    let mut e = Expr {
                        kind: ExprKind::Name(pattern.name),
                        span: pattern.span,
                    };
                    // `database("x").Table` and the like.
                    while self.eat_punct(".") {
                        let name = self.ident()?.name;
                        e = Expr {
                            kind: ExprKind::Member {
                                target: Box::new(e),
                                name,
                            },
                            span: self.since(t_start),
                        };
                    }
                    e
                };
                tables.push(Pipeline {
                    source: Source::Expr(source),
                    ops: Vec::new(),
                    span: self.since(t_start),
                });
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(Union {
            props,
            tables,
            span: self.since(start),
        })
    }

    pub(super) fn search_body(&mut self, start: Span) -> Result<Search, KqlError> {
        let props = self.props()?;
        let mut tables = Vec::new();
        if self.is_word("in") && self.is_punct_at(1, "(") {
            self.bump();
            self.bump();
            for p in self.patterns_with(false)? {
                tables.push(Expr {
                    kind: ExprKind::Name(p.name),
                    span: p.span,
                });
            }
            self.expect_punct(")")?;
        }
        let predicate = self.expr()?;
        Ok(Search {
            props,
            tables,
            predicate,
            span: self.since(start),
        })
    }

    pub(super) fn evaluate_body(&mut self, start: Span) -> Result<Evaluate, KqlError> {
        let props = self.props()?;
        let plugin = self.ident()?;
        self.expect_punct("(")?;
        let args = self.call_args()?;
        self.expect_punct(")")?;
        // Some plugins take an output schema: `: (col:type, …)`.
        if self.eat_punct(":") {
            self.expect_punct("(")?;
            self.skip_balanced();
            self.expect_punct(")")?;
        }
        Ok(Evaluate {
            props,
            plugin,
            args,
            span: self.since(start),
        })
    }

    /// `col [to typeof(type)]`, comma-separated, for `mv-expand` and `mv-apply`.
    fn expand_columns(&mut self) -> Result<Vec<(Assignment, Option<String>)>, KqlError> {
        let mut out = Vec::new();
        loop {
            let column = self.assignment()?;
            let ty = if self.eat_word("to") {
                self.expect_word("typeof")?;
                self.expect_punct("(")?;
                let ty = self.ident()?.name;
                self.expect_punct(")")?;
                Some(ty)
            } else {
                None
            };
            out.push((column, ty));
            if !self.eat_punct(",") {
                return Ok(out);
            }
        }
    }

    /// `parse [kind=…] [flags=…] expr with pattern`
    fn parse_op(&mut self, start: Span, filter: bool) -> Result<Operator, KqlError> {
        let props = self.props()?;
        let text_of = |p: &Property| match &p.value.kind {
            ExprKind::Name(n) | ExprKind::Str(n) => Some(n.clone()),
            _ => None,
        };
        let kind = props
            .iter()
            .find(|p| p.name == "kind")
            .and_then(text_of)
            .unwrap_or_else(|| "simple".into());
        let flags = props.iter().find(|p| p.name == "flags").and_then(text_of);
        let source = self.expr()?;
        self.expect_word("with")?;
        let mut pattern = Vec::new();
        while !self.at_operator_end() {
            match self.tok().clone() {
                Tok::Str(s) => {
                    self.bump();
                    pattern.push(ParsePart::Text(s));
                }
                Tok::Punct("*") => {
                    self.bump();
                    pattern.push(ParsePart::Any);
                }
                Tok::Ident(_) | Tok::QuotedIdent(_) => {
                    let name = self.ident()?;
                    let ty = if self.eat_punct(":") {
                        Some(self.ident()?.name)
                    } else {
                        None
                    };
                    pattern.push(ParsePart::Column {
                        name,
                        ty,
                        regex: None,
                    });
                }
                _ => return Err(self.expected("a string, a column or `*` in the parse pattern")),
            }
        }
        Ok(Operator::Parse {
            kind,
            flags,
            source,
            pattern,
            filter,
            span: self.since(start),
        })
    }

    fn make_series(&mut self, start: Span) -> Result<Operator, KqlError> {
        self.props()?;
        let mut aggregates = Vec::new();
        loop {
            let agg = self.assignment()?;
            let default = if self.is_word("default") && self.is_punct_at(1, "=") {
                self.bump();
                self.bump();
                Some(self.expr()?)
            } else {
                None
            };
            aggregates.push((agg, default));
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_word("on")?;
        // Not `expr`: `on Timestamp in range(…)` is the axis and its range, not `in`.
        let axis = self.additive()?;
        let (mut from, mut to, step);
        if self.eat_word("in") {
            // `in range(from, to, step)`
            self.expect_word("range")?;
            self.expect_punct("(")?;
            from = Some(self.expr()?);
            self.expect_punct(",")?;
            to = Some(self.expr()?);
            self.expect_punct(",")?;
            step = self.expr()?;
            self.expect_punct(")")?;
        } else {
            from = None;
            to = None;
            if self.eat_word("from") {
                from = Some(self.expr()?);
            }
            if self.eat_word("to") {
                to = Some(self.expr()?);
            }
            self.expect_word("step")?;
            step = self.expr()?;
        }
        let by = if self.eat_word("by") {
            self.assignments()?
        } else {
            Vec::new()
        };
        Ok(Operator::MakeSeries {
            aggregates,
            axis,
            from,
            to,
            step,
            by,
            span: self.since(start),
        })
    }

    fn top_nested(&mut self, start: Span) -> Result<Operator, KqlError> {
        let mut levels = Vec::new();
        loop {
            // Levels after the first repeat the operator's name: `…, top-nested 3 of B …`.
            if !levels.is_empty() {
                self.eat_word("top-nested");
            }
            let count = if self.is_word("of") {
                None
            } else {
                Some(self.expr()?)
            };
            self.expect_word("of")?;
            let of = self.assignment()?;
            let others = if self.eat_word("with") {
                self.expect_word("others")?;
                self.expect_punct("=")?;
                Some(self.expr()?)
            } else {
                None
            };
            self.expect_word("by")?;
            let by = self.assignment()?;
            let ascending = self.eat_word("asc");
            if !ascending {
                self.eat_word("desc");
            }
            levels.push(TopNestedLevel {
                count,
                of,
                others,
                by,
                ascending,
            });
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(Operator::TopNested {
            levels,
            span: self.since(start),
        })
    }
}
