//! The Markdown report of an analysis, for the CLI and the copilot's answers.

use std::fmt::Write;

use crate::codec;
use crate::model::Analysis;

/// Table cells cannot hold pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// A code fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

pub fn render(a: &Analysis) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Script analysis\n");
    let _ = writeln!(
        md,
        "**Verdict: {:?}** ({})\n",
        a.verdict.risk,
        a.language.name()
    );
    for r in &a.verdict.reasons {
        let _ = writeln!(md, "- {r}");
    }
    let _ = writeln!(md, "\n## What it does\n");
    for (n, s) in a.steps.iter().enumerate() {
        let _ = writeln!(md, "{}. {}", n + 1, s.replace('\n', " "));
    }
    if !a.layers.is_empty() {
        let _ = writeln!(
            md,
            "\n## Layers\n\n| # | kind | description | bytes |\n|---|---|---|---|"
        );
        for (n, l) in a.layers.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                n + 1,
                l.kind.name(),
                cell(&l.description),
                l.length
            );
        }
    }
    if !a.behaviours.is_empty() {
        let _ = writeln!(
            md,
            "\n## Behaviours\n\n| technique | tactic | what | quoted |\n|---|---|---|---|"
        );
        for b in &a.behaviours {
            let _ = writeln!(
                md,
                "| {} {} | {} | {} | `{}` |",
                b.technique_id,
                cell(&b.technique_name),
                b.tactic,
                cell(&b.description),
                cell(&codec::excerpt(&b.fragment, 160)).replace('`', "'")
            );
        }
    }
    if !a.indicators.is_empty() {
        let _ = writeln!(
            md,
            "\n## Indicators\n\n| kind | value (defanged) | note |\n|---|---|---|"
        );
        for i in &a.indicators {
            let note = i
                .benign
                .as_deref()
                .map_or(String::new(), |b| format!("benign: {b}"));
            let _ = writeln!(
                md,
                "| {} | `{}` | {} |",
                i.kind.name(),
                cell(&i.defanged).replace('`', "'"),
                note
            );
        }
    }
    if !a.hunting_queries.is_empty() {
        let _ = writeln!(md, "\n## Hunting queries\n");
        for q in &a.hunting_queries {
            let _ = writeln!(md, "### {}\n\n```kql\n{}\n```\n", q.title, q.kql);
        }
    }
    if !a.warnings.is_empty() {
        let _ = writeln!(md, "\n## Warnings\n");
        for w in &a.warnings {
            let _ = writeln!(md, "- {w}");
        }
    }
    let body = codec::excerpt(&a.decoded, 16 << 10);
    let f = fence(&body);
    let _ = writeln!(md, "\n## Decoded script\n\n{f}\n{body}\n{f}");
    md
}
