//! `vigil`: the command line. It parses arguments and calls the crates; the work is
//! done in `vigil-ingest`, `vigil-store`, `vigil-kql`, `vigil-detect`, `vigil-copilot` and
//! `vigil-schema`.

// Ingest and queries allocate many small, short-lived values on several threads at
// once, which mimalloc serves faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod analyze;
mod cli;
mod copilot;
mod demo;
mod extend;
mod hunt;
mod incidents;
mod ingest;
mod lake;
mod mcp;
mod output;
mod query;
mod report;
mod rules;
mod serve;
mod sql;
mod tables;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit status when a run finished but skipped records or files.
pub const EXIT_SKIPPED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let data_dir = match data_dir(cli.data_dir.clone()) {
        Ok(dir) => dir,
        Err(err) => return fail(&err),
    };
    let result = match cli.command {
        Command::Ingest(args) => ingest::run(&data_dir, args),
        Command::Tables(args) => tables::run(&data_dir, args),
        Command::Query(args) => query::run(&data_dir, args),
        Command::Sql(args) => sql::run(&data_dir, args),
        Command::Compact => tables::compact(&data_dir),
        Command::Rules(command) => rules::run(&data_dir, command),
        Command::Hunt(args) => hunt::run(&data_dir, args),
        Command::Incidents(args) => incidents::run(&data_dir, args),
        Command::Ask(args) => copilot::ask(&data_dir, args),
        Command::Chat(args) => copilot::chat(&data_dir, args),
        Command::Sessions(command) => copilot::sessions(&data_dir, command),
        Command::Skills(command) => copilot::skills(&data_dir, command),
        Command::Plugins(command) => extend::plugins(&data_dir, command),
        Command::Promptbook(command) => extend::promptbook(&data_dir, command),
        Command::Demo(args) => demo::run(&data_dir, args),
        Command::Analyze(command) => analyze::run(command),
        Command::Report(command) => report::run(&data_dir, command),
        Command::Mcp(args) => mcp::run(&data_dir, args),
        Command::Serve(args) => serve::run(&data_dir, args),
        Command::Users(command) => users::run(&data_dir, command),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`vigil sql … | head`): not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    use arrow::error::ArrowError;
    use std::io::ErrorKind;
    err.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind);
        let arrow_io = match cause.downcast_ref::<ArrowError>() {
            Some(ArrowError::IoError(_, e)) => Some(e.kind()),
            _ => None,
        };
        // The CSV writer reports its I/O errors as text only.
        let csv_text = cause.to_string().contains("Broken pipe");
        io == Some(ErrorKind::BrokenPipe) || arrow_io == Some(ErrorKind::BrokenPipe) || csv_text
    })
}

fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::FAILURE
}

/// `--data-dir`, else `$VIGIL_HOME`, else the platform's data directory.
fn data_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    if let Some(home) = std::env::var_os("VIGIL_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    dirs::data_dir()
        .map(|d| d.join("vigil"))
        .ok_or_else(|| anyhow::anyhow!("no data directory: set VIGIL_HOME or pass --data-dir"))
}

fn init_logging(verbose: u8) {
    // The EVTX parser logs every damaged record it meets at warn level; Vigil reports
    // those itself, once, with the file and record.
    let default = match verbose {
        0 => "warn,evtx=error",
        1 => "info,evtx=error",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
