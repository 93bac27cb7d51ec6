//! Lowering: the syntax tree to a DataFusion [`LogicalPlan`], binding names against the
//! tables the [`Engine`](crate::Engine) knows as it goes. Types come from the plan's
//! schema at each step, so they flow through the pipeline as DataFusion infers them.
//!
//! `mod.rs` holds the state (scopes of `let` bindings) and the sources of rows;
//! `ops.rs` the tabular operators, `expr.rs` scalar expressions, `call.rs` the scalar
//! functions, `aggregate.rs` the aggregates of `summarize`, `join.rs` joins and lookups.

mod aggregate;
mod apply;
mod call;
mod evaluate;
mod expr;
mod join;
mod names;
mod ops;
mod series;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{Column, ScalarValue, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, lit};

use crate::ast::{self, ExprKind, LetValue, Param, Pipeline, Source, Statement};
use crate::engine::{Engine, Render};
use crate::error::{ErrorKind, KqlError, Span};
use crate::suggest::closest;

pub(crate) type R<T> = Result<T, KqlError>;

#[cfg(test)]
pub(crate) fn expr_is_string(t: &DataType) -> bool {
    expr::is_string(t)
}

/// Rows flowing through a pipeline: the plan so far, and which of its string columns
/// hold dynamic values (Arrow cannot tell those from plain strings).
#[derive(Debug, Clone)]
pub(crate) struct Rel {
    pub plan: LogicalPlan,
    pub dynamic: HashSet<String>,
}

impl Rel {
    pub(crate) fn new(plan: LogicalPlan) -> Rel {
        Rel {
            plan,
            dynamic: HashSet::new(),
        }
    }

    /// One row, no columns: the input of `print` and of scalar `let`s.
    pub(crate) fn unit() -> Rel {
        let plan = LogicalPlanBuilder::empty(true)
            .build()
            .expect("an empty relation always builds");
        Rel::new(plan)
    }

    /// The column names, in order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// A reference to the column `name`, qualified as the plan has it.
    pub(crate) fn column(&self, name: &str) -> Option<Expr> {
        self.plan
            .schema()
            .iter()
            .find(|(_, f)| f.name() == name)
            .map(|(q, f)| Expr::Column(Column::new(q.cloned(), f.name())))
    }

    pub(crate) fn data_type(&self, name: &str) -> Option<DataType> {
        self.plan
            .schema()
            .fields()
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.data_type().clone())
    }
}

/// What a `let` name (or a function parameter) stands for.
#[derive(Debug, Clone)]
pub(crate) enum Binding {
    Scalar {
        expr: Expr,
        ast: Option<ast::Expr>,
        dynamic: bool,
    },
    Tabular(Rel),
    Function {
        params: Vec<Param>,
        body: Vec<Statement>,
    },
}

/// How deep user functions may call each other (recursion is not KQL).
const MAX_EXPANSION: usize = 32;

pub(crate) struct Lowerer<'a> {
    pub engine: &'a Engine,
    scopes: Vec<HashMap<String, Binding>>,
    /// `now()` for the whole query, in nanoseconds.
    pub now: i64,
    pub render: Option<Render>,
    /// An error to raise only if the plan is run (an `externaldata` URL, say), so that
    /// checking a query's binding still succeeds.
    pub deferred: Option<KqlError>,
    expansion: usize,
    /// Aggregates collected while lowering a `summarize` expression.
    pub(crate) aggregating: bool,
    /// Window functions (`prev`, `next`, `row_number`) allowed here.
    pub(crate) windowing: bool,
    /// Numbering of unnamed columns (`Column1`, …).
    pub(crate) unnamed: usize,
    /// Set when a plugin whose columns come from the data (`bag_unpack`, `pivot`) saw
    /// no rows: names it would have made read as empty values from then on.
    pub(crate) open_columns: bool,
}

impl<'a> Lowerer<'a> {
    pub(crate) fn new(engine: &'a Engine, now: i64) -> Lowerer<'a> {
        Lowerer {
            engine,
            scopes: vec![HashMap::new()],
            now,
            render: None,
            deferred: None,
            expansion: 0,
            aggregating: false,
            windowing: false,
            unnamed: 0,
            open_columns: false,
        }
    }

    pub(crate) fn binding(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    fn bind(&mut self, name: &str, binding: Binding) {
        self.scopes
            .last_mut()
            .expect("there is always a scope")
            .insert(name.to_string(), binding);
    }

    pub(crate) fn scopes_mut_last(&mut self) -> &mut HashMap<String, Binding> {
        self.scopes.last_mut().expect("there is always a scope")
    }

    /// Every name bound by `let` in scope (for suggestions).
    pub(crate) fn bound_names(&self) -> Vec<String> {
        self.scopes.iter().flat_map(|s| s.keys().cloned()).collect()
    }

    // ----- statements ----------------------------------------------------------------

    pub(crate) fn query(&mut self, query: &ast::Query) -> R<Rel> {
        let mut last = None;
        for statement in &query.statements {
            if let Some(rel) = self.statement(statement)? {
                last = Some(rel);
            }
        }
        last.ok_or_else(|| {
            KqlError::syntax(
                Span::default(),
                "the query has only `let` statements; add a tabular expression at the end",
            )
        })
    }

    fn statement(&mut self, statement: &Statement) -> R<Option<Rel>> {
        match statement {
            Statement::Let { name, value, .. } => {
                let binding = self.let_value(value)?;
                self.bind(&name.name, binding);
                Ok(None)
            }
            Statement::Set { .. } | Statement::Declare { .. } => Ok(None),
            Statement::Tabular(p) => Ok(Some(self.pipeline(p, None)?)),
        }
    }

    fn let_value(&mut self, value: &LetValue) -> R<Binding> {
        match value {
            LetValue::Function { params, body, .. } => Ok(Binding::Function {
                params: params.clone(),
                body: body.clone(),
            }),
            LetValue::Expr(p) => {
                if self.is_tabular(p) {
                    return Ok(Binding::Tabular(self.pipeline(p, None)?));
                }
                let Source::Expr(e) = &p.source else {
                    unreachable!("non-expression sources are tabular")
                };
                let unit = Rel::unit();
                let expr = self.scalar(e, &unit)?;
                let dynamic = self.is_dynamic(e, &unit);
                Ok(Binding::Scalar {
                    expr,
                    ast: Some(e.clone()),
                    dynamic,
                })
            }
        }
    }

    /// Whether a `let` value is a table (rather than a scalar).
    fn is_tabular(&self, p: &Pipeline) -> bool {
        if !p.ops.is_empty() {
            return true;
        }
        match &p.source {
            Source::Expr(e) => self.is_tabular_expr(e),
            _ => true,
        }
    }

    pub(crate) fn is_tabular_expr(&self, e: &ast::Expr) -> bool {
        match &e.kind {
            ExprKind::Name(n) => match self.binding(n) {
                Some(Binding::Tabular(_)) => true,
                Some(_) => false,
                None => self.engine.has_table(n),
            },
            ExprKind::Tabular(_) => true,
            ExprKind::Call { name, .. } => match name.name.as_str() {
                "materialize" | "table" | "view" => true,
                "toscalar" => false,
                other => match self.binding(other) {
                    Some(Binding::Function { body, .. }) => {
                        matches!(body.last(), Some(Statement::Tabular(p)) if self.is_tabular(p))
                    }
                    _ => false,
                },
            },
            _ => false,
        }
    }

    // ----- pipelines -----------------------------------------------------------------

    /// A pipeline; `input` feeds a source-less one (inside `mv-apply`, `invoke`).
    pub(crate) fn pipeline(&mut self, p: &Pipeline, input: Option<Rel>) -> R<Rel> {
        let mut rel = match (&p.source, input) {
            (
                Source::Expr(ast::Expr {
                    kind: ExprKind::Star,
                    ..
                }),
                Some(input),
            ) => input,
            (source, _) => self.source(source, p.span)?,
        };
        for op in &p.ops {
            rel = self.operator(op, rel)?;
        }
        Ok(rel)
    }

    fn source(&mut self, source: &Source, span: Span) -> R<Rel> {
        match source {
            Source::Expr(e) => self.tabular_expr(e),
            Source::Datatable {
                columns,
                values,
                span,
            } => self.datatable(columns, values, *span),
            Source::Print { columns, .. } => {
                // Unnamed print columns are `print_0`, `print_1`, … as in Kusto.
                let named: Vec<ast::Assignment> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        let mut a = a.clone();
                        if a.names.is_empty() {
                            a.names.push(ast::Ident {
                                name: format!("print_{i}"),
                                span: a.expr.span,
                            });
                        }
                        a
                    })
                    .collect();
                self.extend_like(Rel::unit(), &named, true)
            }
            Source::Range {
                column,
                from,
                to,
                step,
                span,
            } => self.range(column, from, to, step, *span),
            Source::Union(u) => self.union(None, u),
            Source::Search(s) => self.search(None, s),
            Source::Find { span, .. } => Err(unsupported(*span, "the `find` operator")),
            Source::ExternalData {
                columns,
                uris,
                span,
                ..
            } => self.external_data(columns, uris, *span),
            Source::Evaluate(e) => Err(unsupported(
                e.span,
                &format!("`evaluate {}` without an input", e.plugin.name),
            )),
        }
        .map_err(|e| {
            if e.span == Span::default() {
                KqlError { span, ..e }
            } else {
                e
            }
        })
    }

    /// A table name, a tabular `let`, a function call or a parenthesized pipeline.
    pub(crate) fn tabular_expr(&mut self, e: &ast::Expr) -> R<Rel> {
        match &e.kind {
            ExprKind::Name(name) => self.table(name, e.span),
            ExprKind::Tabular(p) => self.pipeline(p, None),
            ExprKind::Call { name, args } => match name.name.as_str() {
                "materialize" | "view" if args.len() == 1 => self.tabular_expr(&args[0]),
                "table" if args.len() == 1 => match &args[0].kind {
                    ExprKind::Str(n) => self.table(n, args[0].span),
                    ExprKind::Name(n) => match self.binding(n) {
                        // `table(name)` where `name` is a string `let`.
                        Some(Binding::Scalar {
                            ast:
                                Some(ast::Expr {
                                    kind: ExprKind::Str(s),
                                    ..
                                }),
                            ..
                        }) => {
                            let s = s.clone();
                            self.table(&s, args[0].span)
                        }
                        _ => self.table(n, args[0].span),
                    },
                    _ => Err(KqlError::new(
                        ErrorKind::Type,
                        args[0].span,
                        "table() takes a table name",
                    )),
                },
                _ => match self.call_function(&name.name, args, None, None, e.span)? {
                    Some(FunctionResult::Tabular(rel)) => Ok(rel),
                    Some(FunctionResult::Scalar(..)) => Err(KqlError::new(
                        ErrorKind::Type,
                        e.span,
                        format!("`{}` returns a scalar, not a table", name.name),
                    )),
                    None => Err(self.unknown_table(&name.name, name.span)),
                },
            },
            _ => Err(KqlError::new(
                ErrorKind::Type,
                e.span,
                "expected a table here",
            )),
        }
    }

    /// A table by name: a tabular `let`, else a table of the engine.
    pub(crate) fn table(&mut self, name: &str, span: Span) -> R<Rel> {
        match self.binding(name) {
            Some(Binding::Tabular(rel)) => return Ok(rel.clone()),
            Some(Binding::Function { params, .. }) if params.is_empty() => {
                return match self.call_function(name, &[], None, None, span)? {
                    Some(FunctionResult::Tabular(rel)) => Ok(rel),
                    _ => Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        format!("`{name}` is not a table"),
                    )),
                };
            }
            Some(_) => {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    span,
                    format!("`{name}` is a scalar, not a table"),
                ));
            }
            None => {}
        }
        let Some(provider) = self.engine.provider(name) else {
            return Err(self.unknown_table(name, span));
        };
        let plan = LogicalPlanBuilder::scan(
            TableReference::bare(name),
            provider_as_source(provider),
            None,
        )
        .and_then(|b| b.build())
        .map_err(|e| df_error(span, e))?;
        let mut rel = Rel::new(plan);
        if let Some(table) = vigil_schema::Catalog::builtin().table(name) {
            rel.dynamic = table
                .columns()
                .iter()
                .filter(|c| c.kql_type == vigil_schema::KqlType::Dynamic)
                .map(|c| c.name.clone())
                .collect();
        }
        Ok(rel)
    }

    pub(crate) fn unknown_table(&self, name: &str, span: Span) -> KqlError {
        let mut candidates = self.engine.table_names();
        candidates.extend(self.bound_names());
        let message = match closest(name, candidates.iter().map(String::as_str)) {
            Some(s) => format!("unknown table `{name}`; did you mean `{s}`?"),
            None => format!("unknown table `{name}`"),
        };
        KqlError::new(ErrorKind::UnknownTable, span, message)
    }

    // ----- user functions ------------------------------------------------------------

    /// Calls the user function `name` if there is one: binds its parameters (the piped
    /// `input` to the first tabular one, for `invoke`) and lowers its body.
    pub(crate) fn call_function(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        piped: Option<Rel>,
        scope: Option<&Rel>,
        span: Span,
    ) -> R<Option<FunctionResult>> {
        let Some(Binding::Function { params, body }) = self.binding(name).cloned() else {
            return Ok(None);
        };
        if self.expansion >= MAX_EXPANSION {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                format!("`{name}` calls itself (or nests {MAX_EXPANSION} calls deep)"),
            ));
        }
        let caller_scope = scope.cloned();
        let mut piped = piped;
        let mut frame = HashMap::new();
        let mut args = args.iter();
        for param in &params {
            let tabular = param.ty.starts_with('(');
            if tabular && let Some(rel) = piped.take() {
                frame.insert(param.name.name.clone(), Binding::Tabular(rel));
                continue;
            }
            let binding = match (args.next(), &param.default) {
                (Some(arg), _) | (None, Some(arg)) if tabular => {
                    Binding::Tabular(self.tabular_expr(arg)?)
                }
                (Some(arg), _) | (None, Some(arg)) => {
                    let scope = caller_scope.clone().unwrap_or_else(Rel::unit);
                    let ast_arg = arg.clone();
                    Binding::Scalar {
                        expr: self.scalar(arg, &scope)?,
                        dynamic: self.is_dynamic(arg, &scope),
                        ast: Some(ast_arg),
                    }
                }
                (None, None) => {
                    return Err(KqlError::new(
                        ErrorKind::Type,
                        span,
                        format!(
                            "`{name}` needs a value for its parameter `{}`",
                            param.name.name
                        ),
                    ));
                }
            };
            frame.insert(param.name.name.clone(), binding);
        }
        if args.next().is_some() {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                format!("`{name}` takes {} arguments", params.len()),
            ));
        }
        self.scopes.push(frame);
        self.expansion += 1;
        let result = self.function_body(&body, caller_scope.as_ref());
        self.expansion -= 1;
        self.scopes.pop();
        result.map(Some)
    }

    fn function_body(&mut self, body: &[Statement], scope: Option<&Rel>) -> R<FunctionResult> {
        let (last, lets) = body
            .split_last()
            .ok_or_else(|| KqlError::syntax(Span::default(), "a function body is empty"))?;
        for statement in lets {
            self.statement(statement)?;
        }
        match last {
            Statement::Tabular(p) if self.is_tabular(p) => {
                Ok(FunctionResult::Tabular(self.pipeline(p, None)?))
            }
            Statement::Tabular(p) => {
                let Source::Expr(e) = &p.source else {
                    unreachable!("non-expression sources are tabular")
                };
                let unit = Rel::unit();
                let scope = scope.unwrap_or(&unit);
                let expr = self.scalar(e, scope)?;
                Ok(FunctionResult::Scalar(expr))
            }
            _ => Err(KqlError::syntax(
                Span::default(),
                "a function body must end with an expression",
            )),
        }
    }

    // ----- row sources ---------------------------------------------------------------

    fn datatable(
        &mut self,
        columns: &[ast::ColumnDecl],
        values: &[ast::Expr],
        span: Span,
    ) -> R<Rel> {
        let mut fields = Vec::new();
        let mut types = Vec::new();
        for c in columns {
            let ty = kql_type(&c.ty, c.name.span)?;
            fields.push(Field::new(&c.name.name, ty.arrow_type(), true));
            types.push(ty);
        }
        if columns.is_empty() {
            return Err(KqlError::syntax(span, "a datatable needs columns"));
        }
        if !values.len().is_multiple_of(columns.len()) {
            return Err(KqlError::new(
                ErrorKind::Type,
                span,
                format!(
                    "a datatable of {} columns needs a multiple of {} values; it has {}",
                    columns.len(),
                    columns.len(),
                    values.len()
                ),
            ));
        }
        let schema = Arc::new(Schema::new(fields));
        let unit = Rel::unit();
        let mut rows = Vec::new();
        for chunk in values.chunks(columns.len()) {
            let mut row = Vec::new();
            for ((value, ty), c) in chunk.iter().zip(&types).zip(columns) {
                let e = self.literal_value(value, *ty, &unit)?;
                let _ = c;
                row.push(e);
            }
            rows.push(row);
        }
        let mut rel = if rows.is_empty() {
            let empty = LogicalPlanBuilder::empty(false)
                .build()
                .map_err(|e| df_error(span, e))?;
            let exprs: Vec<Expr> = schema
                .fields()
                .iter()
                .map(|f| cast(lit(ScalarValue::Null), f.data_type().clone()).alias(f.name()))
                .collect();
            Rel::new(project(empty, exprs, span)?)
        } else {
            let df_schema = datafusion::common::DFSchema::try_from(schema.as_ref().clone())
                .map_err(|e| df_error(span, e))?;
            let plan = LogicalPlanBuilder::values_with_schema(rows, &Arc::new(df_schema))
                .and_then(|b| b.build())
                .map_err(|e| df_error(span, e))?;
            // The values node names its columns itself; give them the declared names.
            let exprs = plan
                .schema()
                .columns()
                .into_iter()
                .zip(schema.fields())
                .map(|(c, f)| Expr::Column(c).alias(f.name()))
                .collect();
            Rel::new(project(plan, exprs, span)?)
        };
        rel.dynamic = columns
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == vigil_schema::KqlType::Dynamic)
            .map(|(c, _)| c.name.name.clone())
            .collect();
        Ok(rel)
    }

    /// A constant of a declared type (a `datatable` cell).
    fn literal_value(
        &mut self,
        value: &ast::Expr,
        ty: vigil_schema::KqlType,
        unit: &Rel,
    ) -> R<Expr> {
        let e = match (&value.kind, ty) {
            (ExprKind::Str(s), vigil_schema::KqlType::DateTime) => {
                let ns = crate::udf::time::parse_datetime(s).ok_or_else(|| {
                    KqlError::new(
                        ErrorKind::Type,
                        value.span,
                        format!("{s:?} is not a datetime"),
                    )
                })?;
                lit(ScalarValue::TimestampNanosecond(
                    Some(ns),
                    Some("UTC".into()),
                ))
            }
            (ExprKind::List(_) | ExprKind::Bag(_), vigil_schema::KqlType::Dynamic) => {
                self.dynamic_literal(value)?
            }
            _ => self.scalar(value, unit)?,
        };
        Ok(cast(e, ty.arrow_type()))
    }

    fn range(
        &mut self,
        column: &ast::Ident,
        from: &ast::Expr,
        to: &ast::Expr,
        step: &ast::Expr,
        span: Span,
    ) -> R<Rel> {
        let unit = Rel::unit();
        let (f, t, s) = (
            self.scalar(from, &unit)?,
            self.scalar(to, &unit)?,
            self.scalar(step, &unit)?,
        );
        let ty = expr_type(&f, &unit);
        let as_long = |e: Expr| cast(e, DataType::Int64);
        let series = self.df_call(
            "generate_series",
            vec![as_long(f), as_long(t), as_long(s)],
            span,
        )?;
        let plan = project(unit.plan.clone(), vec![series.alias("__range")], span)?;
        let plan = LogicalPlanBuilder::from(plan)
            .unnest_column(Column::from_name("__range"))
            .and_then(|b| b.build())
            .map_err(|e| df_error(span, e))?;
        let values = Expr::Column(Column::from_name("__range"));
        let typed = match ty {
            DataType::Timestamp(..) | DataType::Duration(_) => cast(values, ty),
            DataType::Int32 => cast(values, DataType::Int32),
            _ => values,
        };
        Ok(Rel::new(project(
            plan,
            vec![typed.alias(&column.name)],
            span,
        )?))
    }

    /// `externaldata`: local files are read now; a URL is an error when the plan runs
    /// (Vigil does not fetch from the network).
    fn external_data(
        &mut self,
        columns: &[ast::ColumnDecl],
        uris: &[ast::Expr],
        span: Span,
    ) -> R<Rel> {
        let mut fields = Vec::new();
        for c in columns {
            fields.push(Field::new(
                &c.name.name,
                kql_type(&c.ty, c.name.span)?.arrow_type(),
                true,
            ));
        }
        let schema = Arc::new(Schema::new(fields));
        let mut batches = Vec::new();
        for uri in uris {
            let ExprKind::Str(text) = &uri.kind else {
                return Err(KqlError::new(
                    ErrorKind::Type,
                    uri.span,
                    "externaldata takes string URIs",
                ));
            };
            let path = text.strip_prefix("file://").unwrap_or(text);
            if path.contains("://") {
                self.deferred.get_or_insert_with(|| {
                    KqlError::new(
                        ErrorKind::Unsupported,
                        uri.span,
                        format!("externaldata reads local files only; `{text}` is a URL and Vigil does not fetch from the network (download it and give its path)"),
                    )
                });
                continue;
            }
            let file = std::fs::File::open(path).map_err(|e| {
                KqlError::new(
                    ErrorKind::Execution,
                    uri.span,
                    format!("externaldata {path}: {e}"),
                )
            })?;
            let reader = arrow::csv::ReaderBuilder::new(Arc::clone(&schema))
                .build(file)
                .map_err(|e| {
                    KqlError::new(
                        ErrorKind::Execution,
                        uri.span,
                        format!("externaldata {path}: {e}"),
                    )
                })?;
            for batch in reader {
                batches.push(batch.map_err(|e| {
                    KqlError::new(
                        ErrorKind::Execution,
                        uri.span,
                        format!("externaldata {path}: {e}"),
                    )
                })?);
            }
        }
        let table = datafusion::datasource::MemTable::try_new(Arc::clone(&schema), vec![batches])
            .map_err(|e| df_error(span, e))?;
        let plan =
            LogicalPlanBuilder::scan("externaldata", provider_as_source(Arc::new(table)), None)
                .and_then(|b| b.build())
                .map_err(|e| df_error(span, e))?;
        Ok(Rel::new(plan))
    }

    /// A DataFusion built-in function by name.
    pub(crate) fn df_call(&self, name: &str, args: Vec<Expr>, span: Span) -> R<Expr> {
        let udf = self.engine.scalar_udf(name).ok_or_else(|| {
            KqlError::new(
                ErrorKind::Unsupported,
                span,
                format!("the engine lacks `{name}`"),
            )
        })?;
        Ok(udf.call(args))
    }
}

/// What a user function returned.
pub(crate) enum FunctionResult {
    Tabular(Rel),
    Scalar(Expr),
}

pub(crate) fn unsupported(span: Span, what: &str) -> KqlError {
    KqlError::new(
        ErrorKind::Unsupported,
        span,
        format!("{what} is valid KQL that Vigil does not run yet"),
    )
}

/// A DataFusion planning error, at the place in the query it came from.
pub(crate) fn df_error(span: Span, e: datafusion::error::DataFusionError) -> KqlError {
    let text = e.to_string();
    let text = text
        .strip_prefix("Error during planning: ")
        .or_else(|| text.strip_prefix("Schema error: "))
        .unwrap_or(&text)
        .to_string();
    KqlError::new(ErrorKind::Type, span, text)
}

pub(crate) fn kql_type(name: &str, span: Span) -> R<vigil_schema::KqlType> {
    vigil_schema::KqlType::parse(name.trim())
        .ok_or_else(|| KqlError::new(ErrorKind::Type, span, format!("unknown type `{name}`")))
}

pub(crate) fn project(plan: LogicalPlan, exprs: Vec<Expr>, span: Span) -> R<LogicalPlan> {
    LogicalPlanBuilder::from(plan)
        .project(exprs)
        .and_then(|b| b.build())
        .map_err(|e| df_error(span, e))
}

/// The Arrow type of an expression over a relation (Null when it cannot be told).
pub(crate) fn expr_type(e: &Expr, rel: &Rel) -> DataType {
    use datafusion::logical_expr::ExprSchemable;
    e.get_type(rel.plan.schema()).unwrap_or(DataType::Null)
}
