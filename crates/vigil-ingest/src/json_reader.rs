//! JSON inputs: one object per line (NDJSON), an array of objects, or one document.
//!
//! Each object is recognised by its shape: the `evtx` crate's JSON (`{"Event": …}`),
//! Winlogbeat (`winlog`), NXLog's flattened Windows records, or a row already in a
//! catalog table's shape (named by `--table`, by its `Type` field, or by its columns).

use std::io::BufRead;

use serde_json::{Map, Value as Json};
use vigil_schema::{Catalog, Table};

use crate::normalise::{Origin, normalise};
use crate::reader::Ctx;
use crate::shape::{fits, guess_table, json_row};
use crate::winevent::WinEvent;

/// Reads a JSON stream. A line that is not valid JSON is reported and skipped, unless
/// the first line is the start of documents spanning many lines (a pretty-printed
/// document or array, or a stream of them as `jq` writes), which are then read whole.
pub(crate) fn read(input: impl BufRead, label: &str, ctx: &mut Ctx<'_>) -> Result<(), String> {
    let mut state = State::default();
    let start = Position { line: 0, offset: 0 };
    read_lines(input, start, true, label, ctx, &mut state)?;
    state.report(label, ctx);
    Ok(())
}

/// Reads one JSON value a line from `start` on. With `documents_allowed`, a first line
/// that is the start of a longer document switches to reading documents.
fn read_lines(
    mut input: impl BufRead,
    start: Position,
    documents_allowed: bool,
    label: &str,
    ctx: &mut Ctx<'_>,
    state: &mut State,
) -> Result<(), String> {
    let mut line = Vec::with_capacity(64 * 1024);
    let mut first = documents_allowed;
    let mut cursor = start;
    loop {
        line.clear();
        let n = match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                let offset = cursor.offset;
                ctx.fail(label, format!("read error at byte {offset}: {err}"));
                break;
            }
        };
        let at = cursor;
        cursor.line += 1;
        cursor.offset += n as u64;
        let text = trim(&line);
        if text.is_empty() {
            continue;
        }
        let was_first = std::mem::replace(&mut first, false);
        match serde_json::from_slice::<Json>(text) {
            Ok(value) => value_rows(value, label, cursor.line, ctx, state)?,
            Err(err) if was_first && err.is_eof() => {
                let mut rest = line.clone();
                if let Err(err) = input.read_to_end(&mut rest) {
                    ctx.fail(label, format!("read error: {err}"));
                    break;
                }
                return documents(&rest, at, label, ctx, state);
            }
            Err(err) => ctx.skip(
                label,
                format!("line {} (byte {})", cursor.line, at.offset),
                format!("not valid JSON: {err}"),
            ),
        }
    }
    Ok(())
}

/// A line number (1-based, of the last line read) and byte offset in the input.
#[derive(Clone, Copy)]
struct Position {
    line: u64,
    offset: u64,
}

/// Reads `bytes` (starting at `at` in the input) as a sequence of JSON documents. If the
/// very first one is broken, it was a bad line of NDJSON after all: that line is skipped
/// and the rest is read line by line.
fn documents(
    bytes: &[u8],
    at: Position,
    label: &str,
    ctx: &mut Ctx<'_>,
    state: &mut State,
) -> Result<(), String> {
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Json>();
    let mut read_any = false;
    loop {
        // Where the next document starts, for the line number rows cite.
        let before = stream.byte_offset();
        let skip = bytes[before..]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        let Some(next) = stream.next() else { break };
        match next {
            Ok(value) => {
                read_any = true;
                let line = at.line + 1 + newlines(&bytes[..before + skip]);
                value_rows(value, label, line, ctx, state)?;
            }
            Err(err) if !read_any => {
                let first_line = bytes
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| p + 1);
                ctx.skip(
                    label,
                    format!("line {} (byte {})", at.line + 1, at.offset),
                    format!("not valid JSON: {err}"),
                );
                let rest = Position {
                    line: at.line + 1,
                    offset: at.offset + first_line as u64,
                };
                return read_lines(&bytes[first_line..], rest, false, label, ctx, state);
            }
            Err(err) => {
                // Past a syntax error the stream cannot be followed reliably.
                let offset = at.offset + stream.byte_offset() as u64;
                ctx.fail(
                    label,
                    format!("not valid JSON at byte {offset}, the rest is not read: {err}"),
                );
                break;
            }
        }
    }
    Ok(())
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[derive(Default)]
struct State {
    /// The table the last row-shaped object was guessed to belong to.
    guessed: Option<&'static Table>,
    unplaced_keys: usize,
}

impl State {
    fn report(&self, label: &str, ctx: &mut Ctx<'_>) {
        if self.unplaced_keys > 0 {
            let reason = format!(
                "{} field(s) matched no column of their table and were dropped",
                self.unplaced_keys
            );
            ctx.note(label, reason);
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// Rows from one top-level JSON value: an object, an array of them, or a wrapper with
/// the rows under `value` (as Microsoft Graph returns them).
fn value_rows(
    value: Json,
    label: &str,
    line: u64,
    ctx: &mut Ctx<'_>,
    state: &mut State,
) -> Result<(), String> {
    match value {
        Json::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let record = if line == 1 { i as u64 + 1 } else { line };
                match item {
                    Json::Object(obj) => object_rows(&obj, label, record, ctx, state)?,
                    _ => ctx.skip(label, format!("item {}", i + 1), "not a JSON object".into()),
                }
            }
            Ok(())
        }
        Json::Object(mut obj) => {
            if let Some(Json::Array(_)) = obj.get("value")
                && let Some(items) = obj.remove("value")
            {
                return value_rows(items, label, line, ctx, state);
            }
            object_rows(&obj, label, line, ctx, state)
        }
        _ => {
            ctx.skip(label, format!("line {line}"), "not a JSON object".into());
            Ok(())
        }
    }
}

fn object_rows(
    obj: &Map<String, Json>,
    label: &str,
    record: u64,
    ctx: &mut Ctx<'_>,
    state: &mut State,
) -> Result<(), String> {
    let location = || format!("line {record}");
    if let Some(table) = ctx.table {
        state.unplaced_keys += json_row(obj, table, label, record, ctx.tables);
        return ctx.record_done();
    }
    let event = if obj.get("Event").is_some_and(|e| e.get("System").is_some()) {
        Some(WinEvent::from_evtx_json(&Json::Object(obj.clone())))
    } else if obj.get("winlog").is_some_and(Json::is_object) {
        Some(WinEvent::from_winlogbeat(obj))
    } else if is_nxlog(obj) {
        Some(WinEvent::from_nxlog(obj))
    } else {
        None
    };
    match event {
        Some(Ok(event)) => {
            normalise(
                &event,
                Origin {
                    file: label,
                    record,
                },
                ctx.tables,
            );
            return ctx.record_done();
        }
        Some(Err(reason)) => {
            ctx.skip(label, location(), reason);
            return Ok(());
        }
        None => {}
    }
    let named = obj
        .get("Type")
        .and_then(Json::as_str)
        .and_then(|t| Catalog::builtin().table(t));
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let table = named
        .or_else(|| state.guessed.filter(|t| fits(t, &keys)))
        .or_else(|| guess_table(keys.iter().copied()));
    match table {
        Some(table) => {
            state.guessed = Some(table);
            state.unplaced_keys += json_row(obj, table, label, record, ctx.tables);
            ctx.record_done()
        }
        None => {
            ctx.skip(
                label,
                location(),
                "cannot tell which table this object belongs to; name one with --table".into(),
            );
            Ok(())
        }
    }
}

/// NXLog's `im_msvistalog` output: event id, channel and host side by side with the data.
fn is_nxlog(obj: &Map<String, Json>) -> bool {
    obj.contains_key("EventID")
        && obj.contains_key("Hostname")
        && ["Channel", "SourceName", "SourceModuleType"]
            .iter()
            .any(|k| obj.contains_key(*k))
}
