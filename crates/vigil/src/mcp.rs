//! `vigil mcp`: the Model Context Protocol over standard input and output, one JSON-RPC
//! message a line, so that an AI assistant or agent can call Vigil's skills.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use vigil_store::Store;

use crate::copilot::{CopilotArgs, open, runtime};

#[derive(Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub common: CopilotArgs,
}

pub fn run(data_dir: &Path, args: McpArgs) -> Result<ExitCode> {
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    let rt = runtime()?;
    let copilot = rt.block_on(open(&store, data_dir, &args.common))?;
    let server = vigil_server::Mcp::new(&copilot);
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    // Standard output carries protocol messages only; logs go to standard error.
    for line in stdin.lock().lines() {
        let line = line.context("reading a message from standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(reply) = rt.block_on(server.handle_line(&line)) {
            writeln!(stdout, "{reply}")?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
