//! KQL against hand-written DataFusion SQL over the same lake, in one run: the KQL
//! front end should add nothing to the time the engine spends.
//!
//! The lake holds `VIGIL_BENCH_ROWS` (default 10,000,000) synthetic DeviceProcessEvents
//! rows over 200 devices and 14 days. Each query runs five times as KQL and five
//! times as SQL; the best time of each is reported with their ratio. A `has` term
//! search is also compared with a `LIKE '%term%'` scan.
//!
//! Run with `cargo bench -p vigil --bench kql`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampNanosecondArray, new_null_array};
use arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use vigil_kql::Engine;
use vigil_store::Store;

mod common;
use common::env_number;

const BATCH: usize = 500_000;
const DAY: i64 = 86_400_000_000_000;
const START: i64 = 1_735_689_600_000_000_000; // 2025-01-01

fn main() {
    let rows: usize = env_number("VIGIL_BENCH_ROWS", 10_000_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = Store::open(dir.path()).expect("a lake");
    let started = Instant::now();
    fill(&store, rows);
    println!(
        "lake: {rows} DeviceProcessEvents rows written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = store.session().expect("a session");
        let provider = ctx
            .table_provider(TableReference::bare("DeviceProcessEvents"))
            .await
            .expect("the table");
        let mut engine = Engine::with_context(ctx.clone());
        engine.register_table("DeviceProcessEvents", provider);

        let cases = [
            (
                "filter + summarize",
                "DeviceProcessEvents | where FileName == 'powershell.exe' | summarize n = count() by DeviceName",
                "SELECT DeviceName, count(*) AS n FROM DeviceProcessEvents WHERE FileName = 'powershell.exe' GROUP BY DeviceName",
            ),
            (
                "has term vs LIKE",
                "DeviceProcessEvents | where ProcessCommandLine has 'mimikatz' | count",
                "SELECT count(*) AS n FROM DeviceProcessEvents WHERE ProcessCommandLine LIKE '%mimikatz%'",
            ),
            (
                "join",
                "DeviceProcessEvents | summarize n = count() by DeviceName \
                 | join kind=inner (DeviceProcessEvents | where FileName == 'cmd.exe' | summarize c = count() by DeviceName) on DeviceName \
                 | count",
                "SELECT count(*) FROM (SELECT DeviceName, count(*) AS n FROM DeviceProcessEvents GROUP BY DeviceName) a \
                 JOIN (SELECT DeviceName, count(*) AS c FROM DeviceProcessEvents WHERE FileName = 'cmd.exe' GROUP BY DeviceName) b \
                 ON a.DeviceName = b.DeviceName",
            ),
            (
                "arg_max per device",
                "DeviceProcessEvents | summarize arg_max(Timestamp, FileName) by DeviceName",
                "SELECT DeviceName, max(Timestamp) AS Timestamp, first_value(FileName ORDER BY Timestamp DESC) AS FileName \
                 FROM DeviceProcessEvents GROUP BY DeviceName",
            ),
        ];
        println!("\n| query | KQL | SQL | KQL / SQL |\n|---|---|---|---|");
        for (name, kql, sql) in cases {
            let k = best_of(5, || async {
                let planned = engine.plan(kql).expect("the KQL plans");
                engine.execute(&planned).await.expect("the KQL runs")
            })
            .await;
            let s = best_of(5, || async { ctx.sql(sql).await.expect("the SQL plans").collect().await.expect("the SQL runs") }).await;
            println!(
                "| {name} | {:.3} s | {:.3} s | {:.2} |",
                k.as_secs_f64(),
                s.as_secs_f64(),
                k.as_secs_f64() / s.as_secs_f64()
            );
        }
    });
}

async fn best_of<F, Fut>(n: usize, mut run: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<RecordBatch>>,
{
    let mut best = Duration::MAX;
    for _ in 0..n {
        let t = Instant::now();
        let batches = run().await;
        std::hint::black_box(&batches);
        best = best.min(t.elapsed());
    }
    best
}

/// Writes synthetic process events: a few common programs, command lines of which a
/// small share mention a credential tool.
fn fill(store: &Store, rows: usize) {
    let catalog = vigil_schema::Catalog::builtin();
    let table = catalog
        .table("DeviceProcessEvents")
        .expect("in the catalog");
    let schema = table.arrow_schema();
    let programs = [
        "cmd.exe",
        "powershell.exe",
        "svchost.exe",
        "explorer.exe",
        "chrome.exe",
        "rundll32.exe",
    ];
    let mut writer = store.writer().expect("a writer");
    let mut written = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    while written < rows {
        let n = BATCH.min(rows - written);
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut times = Vec::with_capacity(n);
        let mut devices = Vec::with_capacity(n);
        let mut files = Vec::with_capacity(n);
        let mut lines = Vec::with_capacity(n);
        let mut pids = Vec::with_capacity(n);
        for i in 0..n {
            let r = next();
            times.push(START + (r % (14 * DAY as u64)) as i64);
            devices.push(format!("ws{:03}.corp.example", r % 200));
            let program = programs[(r >> 8) as usize % programs.len()];
            files.push(program.to_string());
            let line = if (r >> 16) % 1000 == 0 {
                format!("{program} /c invoke-mimikatz.ps1 -dump {i}")
            } else {
                format!("{program} --task {} --session {}", (r >> 20) % 5000, i)
            };
            lines.push(line);
            pids.push(((r >> 24) % 65_536) as i64);
        }
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match f.name().as_str() {
                    "Timestamp" | "TimeGenerated" => {
                        Arc::new(TimestampNanosecondArray::from(times.clone()).with_timezone("UTC"))
                    }
                    "DeviceName" => Arc::new(StringArray::from(devices.clone())),
                    "FileName" => Arc::new(StringArray::from(files.clone())),
                    "ProcessCommandLine" => Arc::new(StringArray::from(lines.clone())),
                    "ProcessId" => Arc::new(Int64Array::from(pids.clone())),
                    _ => new_null_array(f.data_type(), n),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
            .expect("a batch of the table's schema");
        writer.write(table, &batch).expect("written");
        writer.commit().expect("committed");
        written += n;
    }
}
