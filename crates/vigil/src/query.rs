//! `vigil query`: KQL over the lake, and `--check` of query packs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use datafusion::common::TableReference;
use vigil_kql::{Engine, KqlError};
use vigil_store::Store;

use crate::cli::{QueryArgs, QueryFormat};

pub fn run(data_dir: &Path, args: QueryArgs) -> Result<ExitCode> {
    if let Some(path) = &args.check {
        return check(path, args.format);
    }
    let text = match (&args.query, &args.file) {
        (Some(q), None) => q.clone(),
        (None, Some(f)) if f.as_os_str() == "-" => {
            std::io::read_to_string(std::io::stdin()).context("reading the query from stdin")?
        }
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        (Some(_), Some(_)) => bail!("give the query as an argument or with -f, not both"),
        (None, None) => bail!("no query: give one as an argument, or -f FILE.kql"),
    };
    let params = parse_params(&args.param)?;
    let store = Store::open(data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the query runtime")?;
    runtime.block_on(async {
        let engine = lake_engine(&store).await?;
        let planned = engine
            .plan_with(&text, |name| {
                params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
            .map_err(|e| query_error(&e, &text))?;
        if args.explain {
            println!("{}", planned.plan.display_indent());
            return Ok(ExitCode::SUCCESS);
        }
        let schema = Arc::new(planned.plan.schema().as_arrow().clone());
        let mut batches = engine
            .execute(&planned)
            .await
            .map_err(|e| query_error(&e, &text))?;
        if batches.is_empty() {
            batches.push(arrow::record_batch::RecordBatch::new_empty(schema));
        }
        print(&batches, args.format)?;
        if let Some(render) = &planned.render {
            tracing::info!(chart = %render.chart, "the query asks to be drawn as a chart");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// An engine over every table of the lake, as it is now.
pub(crate) async fn lake_engine(store: &Store) -> Result<Engine> {
    let ctx = store.session()?;
    let mut engine = Engine::with_context(ctx.clone());
    for table in vigil_schema::Catalog::builtin().tables() {
        let provider = ctx
            .table_provider(TableReference::bare(table.name.as_str()))
            .await
            .with_context(|| format!("opening table {}", table.name))?;
        engine.register_table(table.name.clone(), provider);
    }
    Ok(engine)
}

fn query_error(e: &KqlError, text: &str) -> anyhow::Error {
    if e.span == vigil_kql::Span::default() && e.kind == vigil_kql::ErrorKind::Execution {
        anyhow::anyhow!("[{}] {}", e.kind.code(), e.message)
    } else {
        anyhow::anyhow!("{}", e.render(text))
    }
}

/// `NAME=VALUE` pairs for `{{NAME}}` placeholders.
fn parse_params(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => bail!("--param takes NAME=VALUE, not {p:?}"),
        })
        .collect()
}

fn print(batches: &[arrow::record_batch::RecordBatch], format: QueryFormat) -> Result<()> {
    use crate::cli::OutputFormat;
    match format {
        QueryFormat::Table => crate::output::print_batches(batches, OutputFormat::Table),
        QueryFormat::Json => crate::output::print_batches(batches, OutputFormat::Json),
        QueryFormat::Csv => crate::output::print_batches(batches, OutputFormat::Csv),
        QueryFormat::Ndjson => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut out);
            for b in batches {
                writer.write(b)?;
            }
            writer.finish()?;
            Ok(())
        }
    }
}

// ----- --check --------------------------------------------------------------------------

/// One query of a pack, with where it came from.
struct PackQuery {
    source: String,
    text: String,
}

fn read_pack(path: &Path) -> Result<Vec<PackQuery>> {
    let mut out = Vec::new();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = Vec::new();
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
            {
                let p = entry?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "kql" || e == "jsonl") {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            out.extend(read_pack(&f)?);
        }
        return Ok(out);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if path
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "ndjson")
    {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let source = format!("{}:{}", path.display(), i + 1);
            let value: serde_json::Value =
                serde_json::from_str(line).with_context(|| format!("{source}: not a JSON line"))?;
            let Some(q) = value.get("query").and_then(|q| q.as_str()) else {
                bail!("{source}: the line has no \"query\" string");
            };
            let label = value
                .get("source")
                .and_then(|s| s.as_str())
                .map_or(source.clone(), |s| format!("{source} ({s})"));
            out.push(PackQuery {
                source: label,
                text: q.to_string(),
            });
        }
    } else {
        out.push(PackQuery {
            source: path.display().to_string(),
            text,
        });
    }
    Ok(out)
}

/// The outcome of checking one query.
pub enum Checked {
    Bound,
    /// Parsed, but names or types do not bind.
    Parsed(KqlError),
    NotParsed(KqlError),
}

/// Parses and binds one query against the catalog. Placeholders get a neutral value
/// so that a template's shape can be checked without its inputs.
pub fn check_one(engine: &Engine, text: &str) -> Checked {
    let filled = vigil_kql::substitute(text, |_| Some("dynamic(null)".to_string()))
        .unwrap_or_else(|_| text.to_string());
    if let Err(e) = vigil_kql::parse(&filled) {
        return Checked::NotParsed(e);
    }
    match engine.plan(&filled) {
        Ok(_) => Checked::Bound,
        Err(e) => Checked::Parsed(e),
    }
}

fn check(path: &Path, format: QueryFormat) -> Result<ExitCode> {
    let pack = read_pack(path)?;
    if pack.is_empty() {
        bail!(
            "{}: no queries (.kql files or a JSONL file with a \"query\" field)",
            path.display()
        );
    }
    let mut engine = Engine::new();
    engine.register_empty_catalog();
    let (mut parsed, mut bound) = (0, 0);
    let mut failures = Vec::new();
    for q in &pack {
        match check_one(&engine, &q.text) {
            Checked::Bound => {
                parsed += 1;
                bound += 1;
            }
            Checked::Parsed(e) => {
                parsed += 1;
                failures.push((q, "bind", e));
            }
            Checked::NotParsed(e) => failures.push((q, "parse", e)),
        }
    }
    let total = pack.len();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        QueryFormat::Json | QueryFormat::Ndjson => {
            let items: Vec<serde_json::Value> = failures
                .iter()
                .map(|(q, stage, e)| {
                    serde_json::json!({"source": q.source, "stage": stage, "code": e.kind.code(), "message": e.message})
                })
                .collect();
            let report = serde_json::json!({"queries": total, "parsed": parsed, "bound": bound, "failures": items});
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        }
        _ => {
            for (q, stage, e) in &failures {
                writeln!(
                    out,
                    "{}: {stage}: [{}] {}",
                    q.source,
                    e.kind.code(),
                    e.message
                )?;
            }
            writeln!(out, "parsed {parsed}/{total}, bound {bound}/{total}")?;
        }
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_SKIPPED)
    })
}
