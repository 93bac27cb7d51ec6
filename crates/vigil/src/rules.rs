//! `vigil rules`: Sigma rules on the command line.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::EXIT_SKIPPED;
use crate::cli::{LintArgs, RulesCommand};

pub fn run(command: RulesCommand) -> Result<ExitCode> {
    match command {
        RulesCommand::Lint(args) => lint(args),
    }
}

fn lint(args: LintArgs) -> Result<ExitCode> {
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
    let (mapping, mapping_errors) = vigil_detect::Mapping::windows(catalog);
    for e in &mapping_errors {
        eprintln!("warning: the field mapping: {e}");
    }
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
