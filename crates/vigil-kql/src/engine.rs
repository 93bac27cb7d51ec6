//! The engine: the tables a query can read, and turning query text into a plan and the
//! plan into rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{AggregateUDF, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionConfig;

use crate::error::{ErrorKind, KqlError, Span};
use crate::lower::Lowerer;

/// A chart hint from `render`: the result is still rows; this says how to draw them.
#[derive(Debug, Clone, PartialEq)]
pub struct Render {
    pub chart: String,
    /// `with (title="…", …)` properties, as written.
    pub properties: Vec<(String, String)>,
}

/// A query ready to run.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: LogicalPlan,
    /// The result's columns that hold dynamic values (stored as JSON text).
    pub dynamic_columns: Vec<String>,
    pub render: Option<Render>,
    /// Set when the query binds but cannot run here (an `externaldata` URL).
    pub deferred: Option<KqlError>,
}

/// Runs KQL over a set of tables.
///
/// ```
/// let engine = vigil_kql::Engine::new();
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let batches = runtime
///     .block_on(engine.run("print greeting = strcat('hello', ' ', 'world')"))
///     .unwrap();
/// assert_eq!(batches[0].num_rows(), 1);
/// ```
pub struct Engine {
    ctx: SessionContext,
    tables: BTreeMap<String, Arc<dyn TableProvider>>,
    now: Option<i64>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    /// An engine with no tables, over a fresh DataFusion session.
    pub fn new() -> Engine {
        let mut config = SessionConfig::new();
        config.options_mut().sql_parser.enable_ident_normalization = false;
        Engine::with_context(SessionContext::new_with_config(config))
    }

    /// An engine over an existing session (its functions and settings are used; tables
    /// are registered with [`Engine::register_table`]).
    pub fn with_context(ctx: SessionContext) -> Engine {
        Engine {
            ctx,
            tables: BTreeMap::new(),
            now: None,
        }
    }

    /// Makes a table readable by name (names are case-sensitive, as in KQL).
    pub fn register_table(&mut self, name: impl Into<String>, provider: Arc<dyn TableProvider>) {
        self.tables.insert(name.into(), provider);
    }

    /// Registers every catalog table, empty: enough to bind and check queries without
    /// data.
    pub fn register_empty_catalog(&mut self) {
        for table in vigil_schema::Catalog::builtin().tables() {
            let provider = datafusion::datasource::empty::EmptyTable::new(table.arrow_schema());
            self.register_table(table.name.clone(), Arc::new(provider));
        }
    }

    /// Fixes `now()` (nanoseconds since the epoch, UTC) for every query, as tests need;
    /// otherwise each query reads the clock once when it is planned.
    pub fn set_now(&mut self, nanos: i64) {
        self.now = Some(nanos);
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    pub(crate) fn has_table(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }

    pub(crate) fn provider(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        self.tables.get(name).cloned()
    }

    pub(crate) fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    pub(crate) fn scalar_udf(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.ctx.state().scalar_functions().get(name).cloned()
    }

    pub(crate) fn aggregate_udf(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.ctx.state().aggregate_functions().get(name).cloned()
    }

    pub(crate) fn window_udf(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.ctx.state().window_functions().get(name).cloned()
    }

    /// Parses, binds and lowers a query to a DataFusion logical plan.
    pub fn plan(&self, query: &str) -> Result<Planned, KqlError> {
        self.plan_with(query, |_| None)
    }

    /// Plans a query template, filling `{{Name}}` placeholders from `value_of` (values
    /// are pasted as written, so a string value carries its own quotes). A placeholder
    /// without a value is an error naming it.
    pub fn plan_with(
        &self,
        query: &str,
        value_of: impl Fn(&str) -> Option<String>,
    ) -> Result<Planned, KqlError> {
        let query = crate::substitute(query, value_of).map_err(|mut missing| missing.remove(0))?;
        let ast = crate::parse(&query)?;
        let now = self.now.unwrap_or_else(|| {
            chrono::Utc::now()
                .timestamp_nanos_opt()
                .expect("the clock is within the range of nanosecond times")
        });
        let mut lowerer = Lowerer::new(self, now);
        let rel = lowerer.query(&ast)?;
        Ok(Planned {
            plan: rel.plan,
            dynamic_columns: rel.dynamic.into_iter().collect(),
            render: lowerer.render,
            deferred: lowerer.deferred,
        })
    }

    /// Runs a plan while another is being built (for plugins whose output columns
    /// depend on the data). It runs on a thread of its own with its own runtime, so it
    /// works whether or not the caller is inside an async runtime.
    pub(crate) fn probe(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>, KqlError> {
        let ctx = self.ctx.clone();
        let run = move || -> Result<Vec<RecordBatch>, KqlError> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    KqlError::new(
                        ErrorKind::Execution,
                        Span::default(),
                        format!("could not start a runtime to read the data: {e}"),
                    )
                })?;
            runtime.block_on(async {
                let df = ctx
                    .execute_logical_plan(plan)
                    .await
                    .map_err(|e| execution_error(&e))?;
                df.collect().await.map_err(|e| execution_error(&e))
            })
        };
        std::thread::scope(|scope| scope.spawn(run).join()).unwrap_or_else(|_| {
            Err(KqlError::new(
                ErrorKind::Execution,
                Span::default(),
                "reading the data for the plan failed unexpectedly",
            ))
        })
    }

    /// Runs a planned query to completion.
    pub async fn execute(&self, planned: &Planned) -> Result<Vec<RecordBatch>, KqlError> {
        if let Some(err) = &planned.deferred {
            return Err(err.clone());
        }
        let df = self
            .ctx
            .execute_logical_plan(planned.plan.clone())
            .await
            .map_err(|e| execution_error(&e))?;
        df.collect().await.map_err(|e| execution_error(&e))
    }

    /// Plans and runs a query.
    pub async fn run(&self, query: &str) -> Result<Vec<RecordBatch>, KqlError> {
        let planned = self.plan(query)?;
        self.execute(&planned).await
    }
}

fn execution_error(e: &datafusion::error::DataFusionError) -> KqlError {
    KqlError::new(
        ErrorKind::Execution,
        Span::default(),
        format!("the query failed: {e}"),
    )
}
