//! `vigil analyze script`: what a suspicious script or command line does, without
//! running it.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum AnalyzeCommand {
    /// Decode, explain and judge a script or command line (PowerShell, cmd, JavaScript,
    /// VBScript, shell)
    #[command(
        long_about = "Decode a suspicious script or command line layer by layer (encoded \
            PowerShell, base64, hex, gzip, char arrays, concatenation and format strings, \
            replace chains, backticks, XOR, cmd variable tricks, JavaScript and VBScript \
            escapes, shell base64 pipes), list its indicators (refanged and defanged), name \
            what it does as ATT&CK techniques quoting the text, explain it step by step, give \
            a risk verdict and KQL hunting queries. Nothing is executed.",
        after_help = "Examples:\n  \
            vigil analyze script suspicious.ps1\n  \
            echo 'powershell -enc SQBFAFgA...' | vigil analyze script -\n  \
            vigil analyze script dropper.js --format json | jq .behaviours"
    )]
    Script {
        /// The file to read, or `-` for standard input
        #[arg(value_name = "FILE|-", default_value = "-")]
        file: PathBuf,
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
        format: String,
    },
}

pub fn run(command: AnalyzeCommand) -> Result<ExitCode> {
    let AnalyzeCommand::Script { file, format } = command;
    let mut bytes = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading the script from standard input")?;
    } else {
        bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    }
    let text = decode_text(&bytes);
    let analysis = vigil_scripts::Analyzer::new().analyze(&text);
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&analysis)?);
    } else {
        print!("{}", analysis.to_markdown());
    }
    Ok(ExitCode::SUCCESS)
}

/// Scripts saved by Windows tools are often UTF-16 with a byte-order mark.
fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes)).into_owned()
}
