//! Analyses a script from a file or standard input and prints the report:
//! `cargo run -p vigil-scripts --example analyze -- [FILE|-] [--json]`.

use std::io::{Read, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str);
    let mut bytes = Vec::new();
    match path {
        None | Some("-") => {
            std::io::stdin().read_to_end(&mut bytes)?;
        }
        Some(p) => bytes = std::fs::read(p)?,
    }
    let text = String::from_utf8_lossy(&bytes);
    let analysis = vigil_scripts::Analyzer::new().analyze(&text);
    let report = if json {
        serde_json::to_string_pretty(&analysis).unwrap_or_default() + "\n"
    } else {
        analysis.to_markdown()
    };
    // A reader that stops early (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(report.as_bytes());
    Ok(())
}
