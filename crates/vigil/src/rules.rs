//! `vigil rules`: Sigma rules on the command line.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::EXIT_SKIPPED;
use crate::cli::{LintArgs, ListRulesArgs, RulesCommand, RunRulesArgs};

pub fn run(data_dir: &std::path::Path, command: RulesCommand) -> Result<ExitCode> {
    match command {
        RulesCommand::Lint(args) => lint(data_dir, args),
        RulesCommand::Run(args) => run_rules(data_dir, args),
        RulesCommand::List(args) => list(data_dir, args),
    }
}

fn list(data_dir: &std::path::Path, args: ListRulesArgs) -> Result<ExitCode> {
    let catalog = vigil_schema::Catalog::builtin();
    let mapping = crate::hunt::mapping(&args.mapping, data_dir)?;
    let tag = args.tag.as_ref().map(|t| t.to_ascii_lowercase());
    let mut rows = Vec::new();
    for path in &args.paths {
        if !path.exists() {
            anyhow::bail!("{} does not exist", path.display());
        }
        for rule in vigil_detect::load_path(path).rules {
            let tags: Vec<String> = rule.tags.iter().map(|t| t.to_ascii_lowercase()).collect();
            if let Some(want) = &tag {
                // `attack.t1059` also lists `attack.t1059.001`.
                let sub = format!("{want}.");
                if !tags.iter().any(|t| t == want || t.starts_with(&sub)) {
                    continue;
                }
            }
            let level = rule.level.clone().unwrap_or_default();
            if args
                .level
                .as_ref()
                .is_some_and(|l| !l.eq_ignore_ascii_case(&level))
            {
                continue;
            }
            let table = match &rule.body {
                vigil_detect::RuleBody::Detection(_) => mapping
                    .resolve(&rule, catalog)
                    .map(|r| r.source.table.clone())
                    .unwrap_or_else(|_| "-".into()),
                vigil_detect::RuleBody::Correlation(_) => "(correlation)".into(),
                vigil_detect::RuleBody::Filter(_) => "(filter)".into(),
            };
            rows.push(vec![
                serde_json::json!(level),
                serde_json::json!(table),
                serde_json::json!(rule.title),
                serde_json::json!(rule.tags.join(" ")),
                serde_json::json!(rule.id),
                serde_json::json!(rule.file.display().to_string()),
            ]);
        }
    }
    crate::output::print_rows(
        &["Level", "Table", "Title", "Tags", "Id", "File"],
        &rows,
        args.format,
    )?;
    Ok(ExitCode::SUCCESS)
}

fn lint(data_dir: &std::path::Path, args: LintArgs) -> Result<ExitCode> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for path in &args.paths {
        if !path.exists() {
            anyhow::bail!("{} does not exist", path.display());
        }
        let loaded = vigil_detect::load_path(path);
        rules.extend(loaded.rules);
        errors.extend(loaded.errors);
    }
    let mut out = std::io::stdout().lock();
    for e in &errors {
        if args.format == "json" {
            let line = serde_json::json!({
                "file": e.file.display().to_string(),
                "document": e.document + 1,
                "reason": e.message,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{e}")?;
        }
    }
    let catalog = vigil_schema::Catalog::builtin();
    let mapping = crate::hunt::mapping(&args.mapping, data_dir)?;
    let mut runnable = 0;
    let mut no_table = 0;
    for rule in &rules {
        match mapping.resolve(rule, catalog) {
            Ok(_) => runnable += 1,
            Err(why) => {
                no_table += 1;
                if args.why && args.format == "text" {
                    writeln!(out, "{}: not runnable: {why}", rule.file.display())?;
                } else if args.why {
                    let line = serde_json::json!({
                        "file": rule.file.display().to_string(),
                        "document": rule.document + 1,
                        "not_runnable": why,
                    });
                    writeln!(out, "{line}")?;
                }
            }
        }
    }
    if args.format == "text" {
        writeln!(
            out,
            "{runnable} rules have a table to run on, {no_table} have none (--why lists them)"
        )?;
        writeln!(
            out,
            "{} rules loaded, {} refused",
            rules.len(),
            errors.len()
        )?;
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SKIPPED)
    })
}

/// One rule's outcome over the lake.
struct Outcome {
    title: String,
    level: String,
    table: String,
    query: String,
    hits: u64,
}

/// The number in the single cell of a `| count` result.
fn count_of(batches: &[arrow::record_batch::RecordBatch]) -> u64 {
    use arrow::array::AsArray;
    batches
        .first()
        .filter(|b| b.num_rows() > 0)
        .and_then(|b| arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Int64).ok())
        .and_then(|a| {
            a.as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .first()
                .copied()
        })
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

fn level_rank(level: &str) -> u8 {
    match level {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// Stack size for the threads that plan and run rule queries.
const BIG_STACK: usize = 256 << 20;

fn run_rules(data_dir: &std::path::Path, args: RunRulesArgs) -> Result<ExitCode> {
    let mut rules = Vec::new();
    for path in &args.paths {
        if !path.exists() {
            anyhow::bail!("{} does not exist", path.display());
        }
        let loaded = vigil_detect::load_path(path);
        for e in &loaded.errors {
            eprintln!("skipped: {e}");
        }
        rules.extend(loaded.rules);
    }
    let catalog = vigil_schema::Catalog::builtin();
    let mapping = crate::hunt::mapping(&args.mapping, data_dir)?;
    let mut queries = Vec::new();
    let mut failed = 0;
    for rule in &rules {
        if !matches!(rule.body, vigil_detect::RuleBody::Detection(_)) {
            continue;
        }
        if mapping.resolve(rule, catalog).is_err() {
            continue;
        }
        match vigil_detect::kql::compile(rule, &mapping, catalog) {
            Ok((table, q)) => queries.push((
                rule.title.clone(),
                rule.level.clone().unwrap_or_else(|| "-".into()),
                rule.file.clone(),
                table,
                q,
            )),
            Err(why) => {
                failed += 1;
                eprintln!("not run: {}: {why}", rule.file.display());
            }
        }
    }
    let store = vigil_store::Store::open(data_dir)?;
    // Rules with hundreds of values make deep expressions; planning and optimising
    // them recurses deeply, so the work runs on threads with room for that.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(BIG_STACK)
        .build()?;
    let progress = indicatif::ProgressBar::new(queries.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rules {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let bar = progress.clone();
    // Rules run side by side, as many at a time as there are cores.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let outcomes = runtime.block_on(runtime.spawn(async move {
        let progress = bar;
        let engine = std::sync::Arc::new(crate::query::lake_engine(&store).await?);
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(workers));
        let mut running = Vec::new();
        for (title, level, file, table, query) in queries {
            let permit = limit.clone().acquire_owned().await?;
            let engine = engine.clone();
            let progress = progress.clone();
            running.push(tokio::spawn(async move {
                let _permit = permit;
                let counted = format!("{query}\n| count");
                let result = match engine.plan(&counted) {
                    Ok(planned) => engine.execute(&planned).await,
                    Err(e) => Err(e),
                };
                progress.inc(1);
                (title, level, file, table, query, result)
            }));
        }
        let mut outcomes = Vec::new();
        for task in running {
            let (title, level, file, table, query, result) = task.await?;
            match result {
                Ok(batches) => outcomes.push(Outcome {
                    title,
                    level,
                    table,
                    query,
                    hits: count_of(&batches),
                }),
                Err(e) => {
                    failed += 1;
                    progress.suspend(|| {
                        eprintln!(
                            "failed: {}: [{}] {}",
                            file.display(),
                            e.kind.code(),
                            e.message
                        )
                    });
                }
            }
        }
        anyhow::Ok((outcomes, failed))
    }))??;
    let (outcomes, failed) = outcomes;
    progress.finish_and_clear();
    let mut matched: Vec<&Outcome> = outcomes.iter().filter(|o| o.hits > 0).collect();
    matched.sort_by_key(|o| (level_rank(&o.level), std::cmp::Reverse(o.hits)));
    let mut out = std::io::stdout().lock();
    for o in &matched {
        if args.format == "json" {
            let line = serde_json::json!({
                "rule": o.title, "level": o.level, "table": o.table, "hits": o.hits, "query": o.query,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:<9} {:>7}  {:<22} {}",
                o.level, o.hits, o.table, o.title
            )?;
            if args.show_kql {
                writeln!(out, "{}\n", o.query)?;
            }
        }
    }
    if args.format == "table" {
        writeln!(
            out,
            "{} rules run, {} matched, {failed} could not run",
            outcomes.len(),
            matched.len()
        )?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SKIPPED)
    })
}
