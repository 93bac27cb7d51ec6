//! `vigil demo`: a fictional organisation's fourteen days of telemetry with attacks in
//! it, read into the lake and hunted, so that every example has something to find.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;

use crate::cli::HuntArgs;

#[derive(Args)]
pub struct DemoArgs {
    /// The seed of the organisation and its attacks (the same seed gives the same data)
    #[arg(long, default_value_t = vigil_demo::DEFAULT_SEED)]
    pub seed: u64,

    /// The end of the fourteen days (RFC 3339; default now)
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,

    /// How much normal activity, relative to the default (0.1 to 20)
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,

    /// Sigma rules to hunt with (default: $VIGIL_RULES, else <data-dir>/rules, else
    /// ../shared/data/sigma/rules)
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// Only write the telemetry files to this folder; ingest and hunt nothing
    #[arg(long, value_name = "DIR")]
    pub generate_only: Option<PathBuf>,

    /// No progress bars
    #[arg(short, long)]
    pub quiet: bool,
}

fn rules(args: &DemoArgs, data_dir: &Path) -> Result<Vec<PathBuf>> {
    if let Ok(found) = crate::hunt::rule_paths(&args.rules, data_dir) {
        return Ok(found);
    }
    let shared = PathBuf::from("../shared/data/sigma/rules");
    if shared.is_dir() {
        return Ok(vec![shared]);
    }
    anyhow::bail!("no Sigma rules to hunt with: pass --rules PATH or set VIGIL_RULES")
}

pub fn run(data_dir: &Path, args: DemoArgs) -> Result<ExitCode> {
    let now: DateTime<Utc> = match &args.now {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| format!("--now takes an RFC 3339 time, not {t:?}"))?,
        None => Utc::now(),
    };
    let started = Instant::now();
    let out = match &args.generate_only {
        Some(dir) => dir.clone(),
        None => data_dir.join("demo-source"),
    };
    if out.exists() && args.generate_only.is_none() {
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let summary = vigil_demo::DemoBuilder::new(now)
        .seed(args.seed)
        .scale(args.scale)
        .generate(&out)
        .with_context(|| format!("writing the demo telemetry to {}", out.display()))?;
    eprintln!(
        "Generated {} rows in {} tables in {} ({:.1} s).",
        summary.total_rows(),
        summary.rows.len(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    if args.generate_only.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    let hunt = HuntArgs {
        rules: rules(&args, data_dir)?,
        mapping: Vec::new(),
        min_level: "low".into(),
        input: vec![out.clone()],
        format: "table".into(),
        force: false,
        threads: 0,
        quiet: args.quiet,
        clock: now.timestamp_nanos_opt(),
    };
    let code = crate::hunt::run(data_dir, hunt)?;
    // The rows are in the lake now; the ground truth stays for reference.
    for table in summary.rows.keys() {
        let _ = std::fs::remove_file(out.join(format!("{table}.ndjson")));
    }
    let dir = data_dir.display();
    eprintln!(
        "\nThe demo lake is ready ({:.0} s in all). Ground truth: {}\nTry:\n  \
         vigil --data-dir {dir} ask \"Show high severity incidents\"\n  \
         vigil --data-dir {dir} ask \"Which devices copied data to a USB drive in the last week?\"",
        started.elapsed().as_secs_f64(),
        summary.ground_truth.display(),
    );
    Ok(code)
}
