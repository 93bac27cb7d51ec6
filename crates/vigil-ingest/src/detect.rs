//! Recognising a file's format from its first bytes.

use std::fmt;
use std::str::FromStr;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decide from the content.
    #[default]
    Auto,
    Evtx,
    /// A JSON document, an array of objects, or one object per line.
    Json,
    Csv,
    Zip,
}

impl Format {
    /// The format of content starting with `head`, if it is one Vigil reads.
    pub fn sniff(head: &[u8]) -> Option<Format> {
        if head.starts_with(b"ElfFile\0") {
            return Some(Format::Evtx);
        }
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            return Some(Format::Zip);
        }
        let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        let first = text.iter().find(|b| !b.is_ascii_whitespace())?;
        if matches!(first, b'{' | b'[') {
            return Some(Format::Json);
        }
        // CSV: a printable first line with at least one comma outside quotes.
        let line_end = text.iter().position(|&b| b == b'\n').unwrap_or(text.len());
        let line = &text[..line_end];
        let printable = line.iter().all(|&b| b >= 0x20 || b == b'\t' || b == b'\r');
        if printable && line.contains(&b',') && std::str::from_utf8(line).is_ok() {
            return Some(Format::Csv);
        }
        None
    }

    /// The format a file name's extension suggests.
    pub fn from_extension(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "evtx" => Some(Format::Evtx),
            "json" | "jsonl" | "ndjson" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Evtx => "evtx",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Zip => "zip",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Format::Auto),
            "evtx" => Ok(Format::Evtx),
            "json" | "ndjson" | "jsonl" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "zip" => Ok(Format::Zip),
            other => Err(format!(
                "unknown format {other:?} (expected auto, evtx, json or csv)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(Format::sniff(b"ElfFile\0\0\0"), Some(Format::Evtx));
        assert_eq!(Format::sniff(b"PK\x03\x04rest"), Some(Format::Zip));
        assert_eq!(
            Format::sniff(b"\xef\xbb\xbf  {\"a\":1}"),
            Some(Format::Json)
        );
        assert_eq!(Format::sniff(b"[{}]"), Some(Format::Json));
        assert_eq!(
            Format::sniff(b"Timestamp,DeviceName\r\nx,y"),
            Some(Format::Csv)
        );
        assert_eq!(Format::sniff(b"GNU GENERAL PUBLIC LICENSE\n"), None);
        assert_eq!(Format::sniff(b"\x00\x01\x02,"), None);
        assert_eq!(Format::sniff(b""), None);
    }
}
