//! The syntax tree of a KQL query. Every node keeps the span of text it was read from,
//! so that later stages (binding, lowering) can point at the source in their errors.

use crate::error::Span;

/// A whole query: `let` and `set` statements, then (usually) one tabular expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `let name = value;`
    Let {
        name: Ident,
        value: LetValue,
        span: Span,
    },
    /// `set option = value;` (a request property; kept, not interpreted).
    Set {
        name: String,
        value: Option<Expr>,
        span: Span,
    },
    /// `declare query_parameters(...)` and other declarations, kept as text.
    Declare { text: String, span: Span },
    /// A tabular expression: the query's result when it is the last statement.
    Tabular(Box<Pipeline>),
}

/// What a `let` binds.
#[derive(Debug, Clone, PartialEq)]
pub enum LetValue {
    /// A scalar or a tabular expression; which one is decided when binding (a bare
    /// name may be either).
    Expr(Box<Pipeline>),
    /// A user function: `(a:string, T:(*)) { body }`, with `view` when declared as one.
    Function {
        params: Vec<Param>,
        body: Vec<Statement>,
        view: bool,
    },
}

/// A parameter of a user function or lambda.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    /// The declared type: a scalar type name, or `(*)` / `(col:type, …)` for a table.
    pub ty: String,
    pub default: Option<Expr>,
}

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A source followed by `| operator` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub source: Source,
    pub ops: Vec<Operator>,
    pub span: Span,
}

/// Where rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// An expression: a table or `let` name, a function call, `materialize(…)`,
    /// `toscalar(…)`, or (for scalar `let`s) any expression.
    Expr(Expr),
    Datatable {
        columns: Vec<ColumnDecl>,
        values: Vec<Expr>,
        span: Span,
    },
    Print {
        columns: Vec<Assignment>,
        span: Span,
    },
    Range {
        column: Ident,
        from: Expr,
        to: Expr,
        step: Expr,
        span: Span,
    },
    Union(Union),
    Search(Search),
    Find {
        text: String,
        span: Span,
    },
    ExternalData {
        columns: Vec<ColumnDecl>,
        uris: Vec<Expr>,
        props: Vec<Property>,
        span: Span,
    },
    Evaluate(Evaluate),
}

/// `name:type` in `datatable`, `externaldata` and `parse`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDecl {
    pub name: Ident,
    pub ty: String,
}

/// `name = value` options such as `kind=inner`, `hint.strategy=shuffle`, `isfuzzy=true`.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub value: Expr,
}

/// `[name =] expr` or `(a, b) = expr` in `extend`, `project`, `summarize`, …
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub names: Vec<Ident>,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    /// `true` for `asc`; KQL sorts descending unless told otherwise.
    pub ascending: bool,
    /// `Some(true)` for `nulls first`, `Some(false)` for `nulls last`.
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Union {
    pub props: Vec<Property>,
    pub tables: Vec<Pipeline>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub props: Vec<Property>,
    pub tables: Vec<Expr>,
    pub predicate: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluate {
    pub props: Vec<Property>,
    pub plugin: Ident,
    pub args: Vec<Expr>,
    pub span: Span,
}

/// The pieces of a `parse` pattern: literal text and the columns between them.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsePart {
    Text(String),
    /// A column, with its type and, for regex parses, the pattern it must match.
    Column {
        name: Ident,
        ty: Option<String>,
        regex: Option<String>,
    },
    /// `*`: skip anything.
    Any,
}

/// One `| operator` step.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    Where {
        predicate: Expr,
        span: Span,
    },
    Extend {
        columns: Vec<Assignment>,
        span: Span,
    },
    Project {
        columns: Vec<Assignment>,
        span: Span,
    },
    /// `project-away` / `project-keep`: names, possibly with `*` wildcards.
    ProjectAway {
        patterns: Vec<Ident>,
        span: Span,
    },
    ProjectKeep {
        patterns: Vec<Ident>,
        span: Span,
    },
    ProjectRename {
        renames: Vec<(Ident, Ident)>,
        span: Span,
    },
    ProjectReorder {
        patterns: Vec<(Ident, Option<String>)>,
        span: Span,
    },
    Summarize {
        props: Vec<Property>,
        aggregates: Vec<Assignment>,
        by: Vec<Assignment>,
        span: Span,
    },
    Sort {
        keys: Vec<SortKey>,
        span: Span,
    },
    Top {
        count: Expr,
        key: SortKey,
        span: Span,
    },
    Take {
        count: Expr,
        span: Span,
    },
    Distinct {
        columns: Vec<Expr>,
        span: Span,
    },
    Count {
        span: Span,
    },
    Join {
        props: Vec<Property>,
        right: Pipeline,
        on: Vec<Expr>,
        span: Span,
    },
    Lookup {
        props: Vec<Property>,
        right: Pipeline,
        on: Vec<Expr>,
        span: Span,
    },
    Union(Union),
    MvExpand {
        props: Vec<Property>,
        columns: Vec<(Assignment, Option<String>)>,
        limit: Option<Expr>,
        span: Span,
    },
    MvApply {
        props: Vec<Property>,
        columns: Vec<(Assignment, Option<String>)>,
        subquery: Pipeline,
        span: Span,
    },
    Parse {
        kind: String,
        flags: Option<String>,
        source: Expr,
        pattern: Vec<ParsePart>,
        filter: bool,
        span: Span,
    },
    ParseKv {
        source: Expr,
        columns: Vec<ColumnDecl>,
        props: Vec<Property>,
        span: Span,
    },
    MakeSeries {
        aggregates: Vec<(Assignment, Option<Expr>)>,
        axis: Expr,
        from: Option<Expr>,
        to: Option<Expr>,
        step: Expr,
        by: Vec<Assignment>,
        span: Span,
    },
    Evaluate(Evaluate),
    /// `render chart [with (…)]`: a hint for how to draw the result.
    Render {
        chart: String,
        props: Vec<Property>,
        span: Span,
    },
    As {
        name: Ident,
        span: Span,
    },
    Serialize {
        columns: Vec<Assignment>,
        span: Span,
    },
    Invoke {
        call: Expr,
        span: Span,
    },
    Sample {
        count: Expr,
        span: Span,
    },
    Search(Search),
    GetSchema {
        span: Span,
    },
    TopNested {
        levels: Vec<TopNestedLevel>,
        span: Span,
    },
    Facet {
        columns: Vec<Ident>,
        with: Option<Pipeline>,
        span: Span,
    },
    Fork {
        branches: Vec<Pipeline>,
        span: Span,
    },
    Partition {
        props: Vec<Property>,
        by: Ident,
        subquery: Pipeline,
        span: Span,
    },
    Consume {
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopNestedLevel {
    pub count: Option<Expr>,
    pub of: Assignment,
    pub others: Option<Expr>,
    pub by: Assignment,
    pub ascending: bool,
}

/// A scalar expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Str(String),
    /// Ticks of 100 ns.
    Timespan(i64),
    /// `datetime(…)`, `guid(…)`, `int(null)`, `timespan(…)` and the like, as written.
    Typed {
        ty: String,
        text: String,
    },
    /// `dynamic(…)`: a JSON-like value.
    Dynamic(Box<Expr>),
    /// `[a, b]` inside `dynamic` or as a list after `in`.
    List(Vec<Expr>),
    /// `{ "k": v }` inside `dynamic`.
    Bag(Vec<(String, Expr)>),
    /// A column, `let` name or table.
    Name(String),
    /// `*` (in `count(*)`-like arguments and `arg_max(…, *)`).
    Star,
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `x in (a, b)`, `x !in~ (…)`, `x has_any (…)`; the list may be a subquery.
    In {
        op: InOp,
        expr: Box<Expr>,
        list: Vec<Expr>,
        subquery: Option<Box<Pipeline>>,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    /// `a.b` (a property of a dynamic value, or `$left.col`).
    Member {
        target: Box<Expr>,
        name: String,
    },
    /// `a[0]`, `a["key"]`.
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
    },
    /// A tabular expression in a scalar place (`toscalar(T | …)`, `materialize(…)`).
    Tabular(Box<Pipeline>),
    /// `(x) { x + 1 }` and `(x:int) => …` lambdas passed to functions.
    Lambda {
        params: Vec<Param>,
        body: Box<Expr>,
    },
    /// `name = value` inside a call's argument list (`with_source = X`, named arguments).
    NamedArg {
        name: String,
        value: Box<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    NotEq,
    /// `=~`, case-insensitive equality.
    EqCi,
    /// `!~`.
    NotEqCi,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// A string operator such as `has`, `!contains_cs`, `matches regex`.
    Str(StringOp, bool),
}

/// String predicates; the `bool` beside them in [`BinaryOp::Str`] is negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringOp {
    Has,
    HasCs,
    HasPrefix,
    HasPrefixCs,
    HasSuffix,
    HasSuffixCs,
    Contains,
    ContainsCs,
    StartsWith,
    StartsWithCs,
    EndsWith,
    EndsWithCs,
    MatchesRegex,
    Like,
}

impl StringOp {
    /// The operator by its KQL name (without `!`), and whether the name itself negates
    /// (the old spellings `notcontains`, `nothas`).
    pub fn from_name(name: &str) -> Option<(StringOp, bool)> {
        let legacy = match name {
            "containscs" => Some((StringOp::ContainsCs, false)),
            "notcontains" => Some((StringOp::Contains, true)),
            "notcontainscs" => Some((StringOp::ContainsCs, true)),
            "nothas" => Some((StringOp::Has, true)),
            "nothas_cs" => Some((StringOp::HasCs, true)),
            "notlike" => Some((StringOp::Like, true)),
            _ => None,
        };
        if legacy.is_some() {
            return legacy;
        }
        Some((
            match name {
                "has" => StringOp::Has,
                "has_cs" => StringOp::HasCs,
                "hasprefix" => StringOp::HasPrefix,
                "hasprefix_cs" => StringOp::HasPrefixCs,
                "hassuffix" => StringOp::HasSuffix,
                "hassuffix_cs" => StringOp::HasSuffixCs,
                "contains" => StringOp::Contains,
                "contains_cs" => StringOp::ContainsCs,
                "startswith" => StringOp::StartsWith,
                "startswith_cs" => StringOp::StartsWithCs,
                "endswith" => StringOp::EndsWith,
                "endswith_cs" => StringOp::EndsWithCs,
                "like" => StringOp::Like,
                _ => return None,
            },
            false,
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InOp {
    In,
    NotIn,
    InCi,
    NotInCi,
    HasAny,
    HasAll,
}
