//! `vigil sql`: DataFusion SQL over the lake, for debugging.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use vigil_store::Store;

use crate::cli::SqlArgs;
use crate::output::print_batches;

pub fn run(data_dir: &Path, args: SqlArgs) -> Result<ExitCode> {
    let store = Store::open(data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the query runtime")?;
    let batches = runtime.block_on(async {
        let ctx = store.session()?;
        let df = ctx
            .sql(&args.query)
            .await
            .context("the query does not plan")?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let mut batches = df.collect().await.context("the query failed")?;
        // No rows still has columns: print the header.
        if batches.is_empty() {
            batches.push(arrow::record_batch::RecordBatch::new_empty(schema));
        }
        anyhow::Ok(batches)
    })?;
    print_batches(&batches, args.format)?;
    Ok(ExitCode::SUCCESS)
}
