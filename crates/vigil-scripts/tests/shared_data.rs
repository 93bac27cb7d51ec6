//! Every PowerShell `-EncodedCommand` command line in the shared attack data (EVTX attack
//! samples and the OTRF JSON datasets) must decode cleanly: the decoded text is the
//! script PowerShell ran, printable and non-empty, and no decoding warning is raised.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use regex::Regex;
use vigil_scripts::{Analyzer, LayerKind};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn data_dir(sub: &str) -> PathBuf {
    let dir = Path::new(DATA).join(sub);
    assert!(
        dir.is_dir(),
        "shared data folder {} is missing: this test needs the workplace's shared/data \
         (EVTX attack samples and OTRF JSON) next to the repository",
        dir.display()
    );
    dir
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case(ext)) {
            out.push(p);
        }
    }
}

/// A PowerShell start with an encoded command: the whole invocation up to the Base64's end.
fn enc_pattern() -> Regex {
    Regex::new(
        r#"(?i)(?:powershell|pwsh)(?:\.exe)?["']?(?:\s+[-/][a-z]+(?:\s+[^\s-][^\s]*)?)*?\s+[-/](?:e|ec|en|enc|enco|encod|encode|encoded|encodedc\w*)\s+["']?[A-Za-z0-9+/]{16,}={0,2}"#,
    )
    .unwrap_or_else(|e| panic!("test pattern: {e}"))
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn collect(text: &str, re: &Regex, found: &mut BTreeSet<String>) {
    for m in re.find_iter(text) {
        found.insert(m.as_str().to_string());
    }
}

fn from_evtx(re: &Regex) -> (usize, BTreeSet<String>) {
    let mut paths = Vec::new();
    files(&data_dir("evtx/attack-samples"), "evtx", &mut paths);
    assert!(
        !paths.is_empty(),
        "no .evtx files under {DATA}/evtx/attack-samples"
    );
    let mut found = BTreeSet::new();
    for path in &paths {
        let Ok(mut parser) = evtx::EvtxParser::from_path(path) else {
            continue;
        };
        for record in parser.records_json_value().flatten() {
            let mut values = Vec::new();
            strings(&record.data, &mut values);
            for s in values {
                collect(&s, re, &mut found);
            }
        }
    }
    (paths.len(), found)
}

fn from_otrf(re: &Regex) -> (usize, BTreeSet<String>) {
    let mut paths = Vec::new();
    files(&data_dir("json/otrf"), "zip", &mut paths);
    assert!(!paths.is_empty(), "no .zip files under {DATA}/json/otrf");
    let mut found = BTreeSet::new();
    for path in &paths {
        let Ok(file) = std::fs::File::open(path) else {
            continue;
        };
        let Ok(mut archive) = zip::ZipArchive::new(file) else {
            continue;
        };
        for n in 0..archive.len() {
            let Ok(mut entry) = archive.by_index(n) else {
                continue;
            };
            let mut text = String::new();
            if entry.read_to_string(&mut text).is_err() {
                continue;
            }
            for line in text.lines() {
                // Quick filter before parsing: most lines have no encoded command.
                if !line.to_ascii_lowercase().contains("powershell") {
                    continue;
                }
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let mut values = Vec::new();
                strings(&v, &mut values);
                for s in values {
                    collect(&s, re, &mut found);
                }
            }
        }
    }
    (paths.len(), found)
}

fn clean(text: &str) -> bool {
    let total = text.chars().count();
    let bad = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t') || *c == '\u{fffd}')
        .count();
    total > 0 && !text.trim().is_empty() && bad == 0
}

#[test]
fn every_encoded_command_in_shared_data_decodes_cleanly() {
    let re = enc_pattern();
    let (evtx_files, evtx_found) = from_evtx(&re);
    let (zip_files, otrf_found) = from_otrf(&re);
    let all: BTreeSet<&String> = evtx_found.iter().chain(otrf_found.iter()).collect();
    println!(
        "encoded command lines: {} distinct in {evtx_files} EVTX files, {} distinct in {zip_files} OTRF archives, {} distinct overall",
        evtx_found.len(),
        otrf_found.len(),
        all.len()
    );
    assert!(
        !all.is_empty(),
        "no encoded command line found: the extraction is broken"
    );
    let analyzer = Analyzer::new();
    let mut failures = Vec::new();
    for line in &all {
        let a = analyzer.analyze(line);
        let first = a.layers.first();
        let ok = first.is_some_and(|l| l.kind == LayerKind::EncodedCommand)
            && clean(&a.decoded)
            && a.decoded.trim() != line.trim()
            && !a
                .warnings
                .iter()
                .any(|w| w.contains("Base64") || w.contains("UTF-16"));
        if !ok {
            failures.push(format!(
                "{}…\n  layers: {:?}\n  warnings: {:?}\n  decoded: {}",
                line.chars().take(120).collect::<String>(),
                a.layers.iter().map(|l| l.kind).collect::<Vec<_>>(),
                a.warnings,
                a.decoded.chars().take(200).collect::<String>()
            ));
        }
    }
    println!(
        "decoded cleanly: {} of {}",
        all.len() - failures.len(),
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
