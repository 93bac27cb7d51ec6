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

/// Reads every record of an EVTX file. Chunks whose checksums do not match are still
/// read, record by record: a record that fails is reported and skipped, and so is a
/// chunk that cannot be parsed at all; the rest of the file is read.
pub(crate) fn read<T: std::io::Read + std::io::Seek + 'static>(
    parser: EvtxParser<T>,
    label: &str,
    ctx: &mut Ctx<'_>,
) -> Result<(), String> {
    let settings = ParserSettings::new()
        .num_threads(ctx.options.threads)
        .validate_checksums(false)
        .recover_records(ctx.options.carve);
    let mut parser = parser.with_configuration(settings);
    // Rendering and JSON decoding run on the parser's worker threads; only the mapping
    // to table rows happens here, in record order.
    let records = parser.serialized_records(|record| {
        let record = record?;
        let id = record.event_record_id;
        let rendered = record.into_json_bytes()?;
        let event = crate::evtx_doc::from_bytes(&escape_controls(rendered.data));
        Ok::<Parsed, evtx::err::EvtxError>((id, event))
    });
    for item in records {
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
            Err(err) => ctx.skip(label, String::new(), crate::error_chain(&err)),
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
