//! Answers as Markdown: the direct answer first (the key number or verdict in one
//! sentence), then the supporting table, then the evidence (query, row count, where the
//! rows came from), then suggested follow-ups, and the process log last.

use std::fmt::Write;

use serde_json::Value as Json;

use crate::skill::{ResultTable, SkillOutput};
use crate::turn::Turn;

/// Rows of a table shown in an answer; the evidence gives the full count.
const ROWS_SHOWN: usize = 20;
/// Longest cell shown; longer values are cut with an ellipsis.
const CELL_CHARS: usize = 120;

fn cell(v: &Json) -> String {
    let text = match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    if text.chars().count() > CELL_CHARS {
        let cut: String = text.chars().take(CELL_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// A result table as a Markdown table.
pub fn table_markdown(table: &ResultTable) -> String {
    let mut out = String::new();
    if table.columns.is_empty() {
        return out;
    }
    if !table.title.is_empty() {
        let _ = writeln!(out, "**{}**\n", table.title);
    }
    let _ = writeln!(out, "| {} |", table.columns.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        table
            .columns
            .iter()
            .map(|_| "---")
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in table.rows.iter().take(ROWS_SHOWN) {
        let cells: Vec<String> = row.iter().map(cell).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    if table.rows.len() > ROWS_SHOWN {
        let _ = writeln!(
            out,
            "\n_{} more rows not shown._",
            table.rows.len() - ROWS_SHOWN
        );
    }
    if table.rows.is_empty() {
        let _ = writeln!(out, "\n_No rows._");
    }
    out
}

/// One skill output as Markdown: its answer, sections, tables and evidence.
pub fn output_markdown(out: &mut String, o: &SkillOutput) {
    let _ = writeln!(out, "{}\n", o.answer);
    for s in &o.sections {
        let _ = writeln!(out, "### {}\n\n{}\n", s.title, s.body);
    }
    for t in &o.tables {
        let _ = writeln!(out, "{}", table_markdown(t));
    }
    if !o.evidence.is_empty() {
        let _ = writeln!(out, "### Evidence\n");
        for e in &o.evidence {
            let from = if e.tables.is_empty() {
                String::new()
            } else {
                format!(" from {}", e.tables.join(", "))
            };
            let _ = writeln!(
                out,
                "- {} row{}{from}:\n\n```kql\n{}\n```",
                e.rows,
                if e.rows == 1 { "" } else { "s" },
                e.query
            );
            if !e.sources.is_empty() {
                let more = e.source_count.saturating_sub(e.sources.len());
                let _ = writeln!(
                    out,
                    "  Source records: {}{}",
                    e.sources.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                );
            }
        }
        out.push('\n');
    }
    for w in &o.warnings {
        let _ = writeln!(out, "> Warning: {w}\n");
    }
}

/// The whole answer of a turn.
pub fn markdown(turn: &Turn) -> String {
    let mut out = String::new();
    if let Some(prose) = &turn.prose {
        let _ = writeln!(
            out,
            "{prose}\n\n_The text above was written by a language model and checked against the evidence below._\n"
        );
    }
    for p in &turn.pending {
        let args: Vec<String> = p
            .inputs
            .iter()
            .map(|(k, v)| {
                if v.contains(char::is_whitespace) {
                    format!("{k}=\"{v}\"")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "> Not run: `{}` changes things outside Vigil. To run it, confirm this exact call: `/{} {}`\n",
            p.skill,
            p.skill,
            args.join(" ")
        );
    }
    for call in &turn.calls {
        if turn.calls.len() > 1 {
            let _ = writeln!(out, "## {}\n", call.step.prompt);
        }
        match (&call.output, &call.error) {
            (Some(o), _) => output_markdown(&mut out, o),
            (None, Some(e)) => {
                let _ = writeln!(out, "Vigil could not answer this: {e}\n");
            }
            (None, None) => {}
        }
    }
    let follow_ups = turn.follow_ups();
    if !follow_ups.is_empty() {
        let _ = writeln!(out, "### Suggested follow-ups\n");
        for f in follow_ups {
            let _ = writeln!(out, "- {f}");
        }
        out.push('\n');
    }
    for w in &turn.warnings {
        let _ = writeln!(out, "> Warning: {w}\n");
    }
    let _ = writeln!(out, "### Process log\n");
    for (i, call) in turn.calls.iter().enumerate() {
        let inputs: Vec<String> = call
            .step
            .inputs
            .iter()
            .map(|(k, v)| {
                let v: String = v.chars().take(80).collect();
                format!("{k}={v:?}")
            })
            .collect();
        let outcome = if call.error.is_some() {
            "failed"
        } else {
            "ran"
        };
        let _ = writeln!(
            out,
            "{}. `{}` {outcome} in {} ms ({}){}",
            i + 1,
            call.step.skill,
            call.millis,
            call.step.reason,
            if inputs.is_empty() {
                String::new()
            } else {
                format!(" with {}", inputs.join(", "))
            }
        );
    }
    out
}
