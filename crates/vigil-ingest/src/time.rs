//! Parsing and formatting of the time stamps found in logs and exports.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Parses a time stamp into nanoseconds since the epoch, UTC.
///
/// Accepts ISO 8601 / RFC 3339 with `T` or a space between date and time, any number of
/// fraction digits (Windows writes seven), `Z`, a `±HH:MM` offset or none (taken as UTC),
/// and the US form Defender portal exports use (`3/19/2023 11:34:25 PM`).
pub fn parse_time(text: &str) -> Option<i64> {
    let s = text.trim();
    parse_iso(s.as_bytes()).or_else(|| parse_us(s))
}

fn parse_iso(b: &[u8]) -> Option<i64> {
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    let (mut h, mut m, mut sec, mut nanos) = (0, 0, 0, 0u32);
    let mut i = 10;
    if b.len() > 10 {
        if !matches!(b[10], b'T' | b' ' | b't') || b.get(13) != Some(&b':') {
            return None;
        }
        h = num(11, 2)?;
        m = num(14, 2)?;
        i = 16;
        if b.get(16) == Some(&b':') {
            sec = num(17, 2)?;
            i = 19;
        }
        if matches!(b.get(i), Some(b'.') | Some(b',')) {
            i += 1;
            let mut scale = 100_000_000u32;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                nanos += u32::from(d - b'0') * scale;
                scale /= 10;
                i += 1;
            }
        }
    }
    let mut offset_secs: i64 = 0;
    match b.get(i) {
        None => {}
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => {}
        Some(&sign @ (b'+' | b'-')) => {
            let oh = i64::from(num(i + 1, 2)?);
            let om = match b.get(i + 3) {
                Some(b':') => i64::from(num(i + 4, 2)?),
                Some(_) => i64::from(num(i + 3, 2)?),
                None => 0,
            };
            offset_secs = (oh * 3600 + om * 60) * if sign == b'-' { -1 } else { 1 };
        }
        Some(_) => return None,
    }
    let naive = date.and_hms_nano_opt(h, m, sec.min(59), nanos)?;
    let secs = naive.and_utc().timestamp() - offset_secs;
    secs.checked_mul(1_000_000_000)?
        .checked_add(i64::from(nanos))
}

fn parse_us(s: &str) -> Option<i64> {
    for fmt in [
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %H:%M:%S",
        "%b %d, %Y %I:%M:%S %p",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    None
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC with seven fraction digits, the
/// way KQL prints datetimes.
pub fn format_time(ns: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_nanos(ns);
    let ticks = ns.rem_euclid(1_000_000_000) / 100;
    format!("{}.{ticks:07}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_iso_forms() {
        let base = 1_553_038_465_000_000_000; // 2019-03-19T23:34:25Z
        assert_eq!(parse_time("2019-03-19T23:34:25Z"), Some(base));
        assert_eq!(
            parse_time("2019-03-19T23:34:25.1234567Z"),
            Some(base + 123_456_700)
        );
        assert_eq!(
            parse_time("2019-03-19 23:34:25.123"),
            Some(base + 123_000_000)
        );
        assert_eq!(parse_time("2019-03-20T01:34:25+02:00"), Some(base));
        assert_eq!(parse_time("2019-03-19T19:34:25-0400"), Some(base));
        assert_eq!(
            parse_time("2019-03-19"),
            Some(base - (23 * 3600 + 34 * 60 + 25) * 1_000_000_000)
        );
        assert_eq!(parse_time("3/19/2019 11:34:25 PM"), Some(base));
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "yesterday",
            "2019-13-01T00:00:00Z",
            "2019-03-19T23:34:25Q",
            "2019/03/19",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_like_kql() {
        assert_eq!(
            format_time(1_553_038_465_123_456_700),
            "2019-03-19T23:34:25.1234567Z"
        );
    }
}
