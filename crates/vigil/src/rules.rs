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
    let mut rules = 0;
    let mut errors = Vec::new();
    for path in &args.paths {
        if !path.exists() {
            anyhow::bail!("{} does not exist", path.display());
        }
        let loaded = vigil_detect::load_path(path);
        rules += loaded.rules.len();
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
    if args.format == "text" {
        writeln!(out, "{rules} rules loaded, {} refused", errors.len())?;
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SKIPPED)
    })
}
