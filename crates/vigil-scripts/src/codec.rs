//! Byte-level decoders shared by every language: Base64, hex, UTF-16, gzip and deflate,
//! each bounded in the size it may produce.

use std::io::Read;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const LENIENT_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes Base64, ignoring whitespace and missing padding. Returns why it failed otherwise.
pub fn base64(text: &str) -> Result<Vec<u8>, String> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let clean = clean.trim_end_matches('=');
    if clean.len() % 4 == 1 && !clean.is_empty() {
        return Err(format!(
            "Base64 of {} characters cannot be complete (one character too many)",
            clean.len()
        ));
    }
    match LENIENT.decode(clean) {
        Ok(bytes) => Ok(bytes),
        Err(first) => LENIENT_URL.decode(clean).map_err(|_| first.to_string()),
    }
}

/// Decodes an even-length run of hex digits.
pub fn hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// UTF-16LE to text. Unpaired surrogates and an odd last byte become U+FFFD; the flag
/// says whether that happened.
pub fn utf16le(bytes: &[u8]) -> (String, bool) {
    let units = bytes
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    let mut lossy = !bytes.len().is_multiple_of(2);
    let text = char::decode_utf16(units)
        .map(|r| {
            r.unwrap_or_else(|_| {
                lossy = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    (text, lossy)
}

/// Whether the bytes look like UTF-16LE text (mostly zero high bytes on ASCII).
pub fn looks_utf16le(bytes: &[u8]) -> bool {
    if bytes.len() < 4 {
        return false;
    }
    let pairs = bytes.len() / 2;
    let zero_high = bytes
        .chunks(2)
        .filter(|c| c.len() == 2 && c[1] == 0)
        .count();
    zero_high * 10 >= pairs * 7
}

/// Bytes to text the way a script would most likely read them: UTF-16LE when it looks
/// so, else UTF-8, else Latin-1.
pub fn bytes_to_text(bytes: &[u8]) -> String {
    if looks_utf16le(bytes) {
        return utf16le(bytes).0;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Share of characters that belong in source code (printable, tab, newline).
pub fn printable_ratio(text: &str) -> f64 {
    let mut total = 0usize;
    let mut good = 0usize;
    for c in text.chars() {
        total += 1;
        if is_script_char(c) {
            good += 1;
        }
    }
    if total == 0 {
        return 0.0;
    }
    good as f64 / total as f64
}

pub fn is_script_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
        || (' '..='~').contains(&c)
        || (c as u32 >= 0xA0 && c != char::REPLACEMENT_CHARACTER && !c.is_control())
}

/// Text that reads as script or prose rather than binary.
pub fn is_text(text: &str) -> bool {
    !text.trim().is_empty() && printable_ratio(text) >= 0.95
}

/// The two compressed formats scripts carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Deflate,
}

/// Outcome of a bounded decompression.
pub struct Inflated {
    pub bytes: Vec<u8>,
    /// The stream would have produced more than the cap.
    pub truncated: bool,
    /// The stream was damaged; `bytes` holds what came out before the damage.
    pub error: Option<String>,
}

/// Decompresses at most `cap` bytes, so a decompression bomb costs no more than `cap`.
pub fn inflate(data: &[u8], kind: Compression, cap: usize) -> Inflated {
    let reader: Box<dyn Read + '_> = match kind {
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(data)),
        Compression::Deflate => Box::new(flate2::read::DeflateDecoder::new(data)),
    };
    let mut out = Vec::new();
    let limit = cap as u64 + 1;
    let error = reader
        .take(limit)
        .read_to_end(&mut out)
        .err()
        .map(|e| e.to_string());
    let truncated = out.len() > cap;
    out.truncate(cap);
    Inflated {
        bytes: out,
        truncated,
        error,
    }
}

/// Guesses the compression from the first bytes: gzip has a magic number, zlib a header.
pub fn sniff_compression(bytes: &[u8]) -> Option<Compression> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Some(Compression::Gzip);
    }
    None
}

/// At most `max` bytes of `text`, cut on a character boundary, with a note when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &text[..end], text.len() - end)
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate_to(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_tolerates_whitespace_and_missing_padding() {
        assert_eq!(base64("aGVs\nbG8").unwrap(), b"hello");
        assert!(base64("a").is_err());
        assert!(base64("@@@@").is_err());
    }

    #[test]
    fn utf16_with_odd_length_is_flagged() {
        let (text, lossy) = utf16le(&[b'h', 0, b'i', 0, b'x']);
        assert!(text.starts_with("hi"));
        assert!(lossy);
    }

    #[test]
    fn inflate_stops_at_the_cap() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b'A'; 100_000]).unwrap();
        let gz = enc.finish().unwrap();
        let out = inflate(&gz, Compression::Gzip, 1000);
        assert!(out.truncated);
        assert_eq!(out.bytes.len(), 1000);
    }
}
