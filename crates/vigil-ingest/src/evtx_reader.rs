//! EVTX files through the `evtx` crate, chunks parsed on every core.

use evtx::{EvtxParser, ParserSettings};

use crate::normalise::{Origin, normalise};
use crate::reader::Ctx;
use crate::winevent::WinEvent;

type Parsed = (u64, Result<WinEvent, String>);

/// The `evtx` crate copies control characters found in event strings into its JSON as
/// they are, which JSON does not allow. Its output is compact, so every such byte is
/// inside a string: escape it there.
fn escape_controls(json: Vec<u8>) -> Vec<u8> {
    if !json.iter().any(|&b| b < 0x20) {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    for b in json {
        if b < 0x20 {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// One record as parsed: its id and event (or why the event could not be read), or the
/// reason a record or chunk could not be read at all.
pub(crate) type Item = Result<(u64, Result<WinEvent, String>), String>;

fn settings(threads: usize, carve: bool) -> ParserSettings {
    ParserSettings::new()
        .num_threads(threads)
        .validate_checksums(false)
        .recover_records(carve)
}

/// Renders a record and reads it into an event; runs on the parser's worker threads.
fn render(record: evtx::err::Result<evtx::EvtxRecord<'_>>) -> evtx::err::Result<Parsed> {
    let record = record?;
    let id = record.event_record_id;
    let rendered = record.into_json_bytes()?;
    Ok((
        id,
        crate::evtx_doc::from_bytes(&escape_controls(rendered.data)),
    ))
}

/// Every record of an EVTX file, parsed up front: for reading the next files ahead
/// while rows of the current one are built. Chunks whose checksums do not match are
/// still read, record by record.
pub(crate) fn parse_all<T: std::io::Read + std::io::Seek + 'static>(
    parser: EvtxParser<T>,
    threads: usize,
    carve: bool,
) -> Vec<Item> {
    let mut parser = parser.with_configuration(settings(threads, carve));
    parser
        .serialized_records(render)
        .map(|item| item.map_err(|e| crate::error_chain(&e)))
        .collect()
}

/// Reads every record of an EVTX file, its chunks parsed on every core. A record that
/// fails is reported and skipped, and so is a chunk that cannot be parsed at all; the
/// rest of the file is read.
pub(crate) fn read<T: std::io::Read + std::io::Seek + 'static>(
    parser: EvtxParser<T>,
    label: &str,
    ctx: &mut Ctx<'_>,
) -> Result<(), String> {
    let mut parser = parser.with_configuration(settings(ctx.options.threads, ctx.options.carve));
    // Rendering and JSON decoding run on the parser's worker threads; only the mapping
    // to table rows happens here, in record order.
    let records = parser
        .serialized_records(render)
        .map(|item| item.map_err(|e| crate::error_chain(&e)));
    apply(records, label, ctx)
}

/// Maps parsed records to rows, reporting those that could not be read.
pub(crate) fn apply(
    items: impl Iterator<Item = Item>,
    label: &str,
    ctx: &mut Ctx<'_>,
) -> Result<(), String> {
    for item in items {
        match item {
            Ok((id, Ok(event))) => {
                let origin = Origin {
                    file: label,
                    record: id,
                };
                normalise(&event, origin, ctx.tables);
                ctx.record_done()?;
            }
            Ok((id, Err(reason))) => ctx.skip(label, format!("record {id}"), reason),
            Err(reason) => ctx.skip(label, String::new(), reason),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    #[test]
    fn control_characters_are_escaped_inside_strings() {
        let raw = b"{\"a\":\"x\x01y\ttab\"}".to_vec();
        let fixed = escape_controls(raw);
        let value: Json = serde_json::from_slice(&fixed).unwrap();
        assert_eq!(value["a"], "x\u{1}y\ttab");
        let clean = b"{\"a\":1}".to_vec();
        assert_eq!(escape_controls(clean.clone()), clean);
    }
}
