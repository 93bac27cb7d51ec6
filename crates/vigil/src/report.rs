//! `vigil report incident`: an incident report for executives or technical readers, as
//! Markdown, a self-contained HTML page with a timeline chart, or PDF.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use vigil_copilot::lake::Lake;
use vigil_copilot::report::{self, Audience};
use vigil_copilot::skills::IncidentFacts;
use vigil_store::Store;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Write a report on one incident
    #[command(
        long_about = "Write a report on one incident from the alerts and evidence in the lake. \
            The executive report is short and puts the impact first in plain words; the \
            technical report has the timeline, entities, ATT&CK mapping, the queries behind \
            every figure, and containment and recovery steps. HTML is one self-contained page \
            with a timeline chart (no network needed to view it); PDF is printed from that \
            page by headless Chromium ($VIGIL_CHROMIUM, else chromium on the PATH).",
        after_help = "Examples:\n  \
            vigil report incident 3\n  \
            vigil report incident 3 --audience executive --format html -o incident-3.html\n  \
            vigil report incident 3 --format pdf -o incident-3.pdf"
    )]
    Incident {
        /// The incident number (as `vigil incidents` lists it)
        number: String,
        /// Who the report is for
        #[arg(long, default_value = "technical", value_parser = ["executive", "technical"])]
        audience: String,
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "html", "pdf"])]
        format: String,
        /// Where to write it (default: standard output; a PDF needs a file, by default
        /// incident-N-AUDIENCE.pdf)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub fn run(data_dir: &Path, command: ReportCommand) -> Result<ExitCode> {
    let ReportCommand::Incident {
        number,
        audience,
        format,
        output,
    } = command;
    let audience = Audience::parse(&audience).unwrap_or(Audience::Technical);
    let number = vigil_copilot::skills::incident_number(&number)?;
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    let rt = crate::copilot::runtime()?;
    let facts = rt.block_on(async {
        let lake = Lake::open(&store, chrono::Utc::now()).await?;
        IncidentFacts::gather(&lake, number).await
    })?;
    match format.as_str() {
        "markdown" => emit(
            output.as_deref(),
            report::markdown(&facts, audience).as_bytes(),
        )?,
        "html" => emit(output.as_deref(), report::html(&facts, audience).as_bytes())?,
        _ => {
            let out = output.unwrap_or_else(|| {
                PathBuf::from(format!("incident-{number}-{}.pdf", audience.name()))
            });
            print_pdf(&report::html(&facts, audience), &out)?;
            eprintln!("Wrote {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn emit(output: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
        }
        None => Ok(std::io::stdout().lock().write_all(bytes)?),
    }
}

/// The Chromium to print with: `$VIGIL_CHROMIUM`, else the first of the usual names on
/// the PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VIGIL_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

fn print_pdf(html: &str, out: &Path) -> Result<()> {
    let Some(browser) = chromium() else {
        bail!(
            "a PDF is printed by headless Chromium, and none was found: install it (Debian: \
             apt-get install chromium) or set VIGIL_CHROMIUM, or use --format html and print \
             the page from any browser"
        );
    };
    let work = tempfile::tempdir().context("making a folder for the browser")?;
    let page = work.path().join("report.html");
    std::fs::write(&page, html).with_context(|| format!("writing {}", page.display()))?;
    let out_abs =
        std::path::absolute(out).with_context(|| format!("resolving {}", out.display()))?;
    let result = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-pdf-header-footer",
            "--virtual-time-budget=5000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", out_abs.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .with_context(|| format!("starting {}", browser.display()))?;
    let made = std::fs::metadata(&out_abs)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if !result.status.success() || !made {
        bail!(
            "{} did not print the PDF (status {}): {}",
            browser.display(),
            result.status,
            String::from_utf8_lossy(&result.stderr).trim()
        );
    }
    Ok(())
}
