//! Dates and times: KQL's text forms, parsing, and calendar arithmetic. Datetimes are
//! UTC nanoseconds; KQL's tick is 100 ns.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DurationNanosecondArray, Int64Array, StringArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, DurationNanosecondType, TimeUnit, TimestampNanosecondType};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use datafusion::common::Result as DfResult;

use super::{Entry, longs, strings, text_at};

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

pub(crate) fn datetime_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC")))
}

fn duration_type() -> DataType {
    DataType::Duration(TimeUnit::Nanosecond)
}

pub(crate) const FUNCTIONS: &[Entry] = &[
    ("kql_todatetime", datetime_type, to_datetime),
    ("kql_totimespan", duration_type, to_timespan),
    ("kql_format_time", || DataType::Utf8, format_time_fn),
    ("kql_format_timespan", || DataType::Utf8, format_timespan_fn),
    (
        "kql_format_timespan_with",
        || DataType::Utf8,
        format_timespan_with,
    ),
    ("kql_startof", datetime_type, start_of::<false>),
    ("kql_endof", datetime_type, start_of::<true>),
    ("kql_dayofweek", duration_type, day_of_week),
    ("kql_datetime_part", || DataType::Int64, datetime_part),
    ("kql_datetime_diff", || DataType::Int64, datetime_diff),
    ("kql_datetime_add", datetime_type, datetime_add),
    ("kql_format_datetime", || DataType::Utf8, format_datetime),
    ("kql_make_datetime", datetime_type, make_datetime),
    ("kql_bin_time", datetime_type, bin_time),
];

fn to_utc(ns: i64) -> DateTime<Utc> {
    Utc.timestamp_nanos(ns)
}

/// A datetime as KQL shows it: `2024-03-01T10:00:00Z`, with seven fraction digits when
/// there is a fraction.
pub(crate) fn format_time(ns: i64) -> String {
    let t = to_utc(ns);
    let frac = ns.rem_euclid(1_000_000_000);
    if frac == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        format!("{}.{:07}Z", t.format("%Y-%m-%dT%H:%M:%S"), frac / 100)
    }
}

/// A timespan as KQL shows it: `[-][d.]hh:mm:ss[.fffffff]`.
pub(crate) fn format_duration(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let total = ns.unsigned_abs();
    let ticks = (total % 1_000_000_000) / 100;
    let secs = total / 1_000_000_000;
    let (days, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if ticks > 0 {
        out.push_str(&format!(".{ticks:07}"));
    }
    out
}

pub(crate) fn format_times(array: &ArrayRef) -> DfResult<StringArray> {
    let ns = arrow::compute::cast(array, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
    let ns = ns.as_primitive::<TimestampNanosecondType>();
    Ok(ns.iter().map(|v| v.map(format_time)).collect())
}

pub(crate) fn format_durations(array: &ArrayRef) -> DfResult<StringArray> {
    let ns = arrow::compute::cast(array, &duration_type())?;
    let ns = ns.as_primitive::<DurationNanosecondType>();
    Ok(ns.iter().map(|v| v.map(format_duration)).collect())
}

fn format_time_fn(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    Ok(Arc::new(format_times(&args[0])?))
}

fn format_timespan_fn(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    Ok(Arc::new(format_durations(&args[0])?))
}

/// Datetimes of an argument as nanoseconds (strings are parsed).
fn times(array: &ArrayRef) -> DfResult<Vec<Option<i64>>> {
    match array.data_type() {
        DataType::Timestamp(..) => {
            let ns = arrow::compute::cast(array, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
            Ok(ns
                .as_primitive::<TimestampNanosecondType>()
                .iter()
                .collect())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = strings(array)?;
            Ok(s.iter().map(|t| t.and_then(parse_datetime)).collect())
        }
        _ => Ok(longs(array)?.iter().collect()),
    }
}

/// Parses the datetime forms KQL accepts: ISO 8601 with `T` or a space, optional
/// fraction and zone, a bare date, and RFC 2822 / RFC 850 text.
pub(crate) fn parse_datetime(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return dt.timestamp_nanos_opt();
    }
    let naive_forms = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M",
        "%m/%d/%Y %H:%M:%S%.f",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %H:%M",
    ];
    let bare = t.trim_end_matches('Z').trim_end_matches('z');
    for form in naive_forms {
        if let Ok(dt) = NaiveDateTime::parse_from_str(bare, form) {
            return dt.and_utc().timestamp_nanos_opt();
        }
    }
    for form in ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(bare, form) {
            return d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt();
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(t) {
        return dt.timestamp_nanos_opt();
    }
    for form in ["%A, %d-%b-%y %H:%M:%S GMT", "%a, %d %b %Y %H:%M:%S GMT"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, form) {
            return dt.and_utc().timestamp_nanos_opt();
        }
    }
    // Offsets written without a colon (`+0200`).
    if let Ok(dt) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return dt.timestamp_nanos_opt();
    }
    None
}

/// Parses `[-][d.]hh:mm[:ss[.fffffff]]` and KQL timespan literals (`1d`, `2.5h`).
pub(crate) fn parse_timespan(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Some(unit_at) = t.find(|c: char| c.is_ascii_alphabetic())
        && let Ok(amount) = t[..unit_at].trim().parse::<f64>()
        && let Some(ticks) = crate::lexer::timespan_ticks(&t[unit_at..])
    {
        return Some((amount * ticks as f64 * 100.0).round() as i64);
    }
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (days, clock) = match t.split_once(':') {
        Some((head, _)) if head.contains('.') => {
            let (d, _) = head.split_once('.')?;
            (d.parse::<i64>().ok()?, &t[d.len() + 1..])
        }
        Some(_) => (0, t),
        None => (t.parse::<i64>().ok()?, "00:00:00"),
    };
    let mut parts = clock.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let (s, frac) = match parts.next() {
        Some(sec) => match sec.split_once('.') {
            Some((s, f)) => {
                let digits: String = f.chars().take(9).collect();
                let scale = 10_i64.pow(9 - digits.len() as u32);
                (s.parse::<i64>().ok()?, digits.parse::<i64>().ok()? * scale)
            }
            None => (sec.parse::<i64>().ok()?, 0),
        },
        None => (0, 0),
    };
    if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
        return None;
    }
    let total = ((days * 24 + h) * 60 + m) * 60 + s;
    let ns = total.checked_mul(1_000_000_000)?.checked_add(frac)?;
    Some(if neg { -ns } else { ns })
}

fn out_times(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(
        values
            .collect::<TimestampNanosecondArray>()
            .with_timezone("UTC"),
    )
}

fn to_datetime(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    Ok(out_times(times(&args[0])?.into_iter()))
}

fn to_timespan(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let out: DurationNanosecondArray = match args[0].data_type() {
        DataType::Duration(_) => {
            let d = arrow::compute::cast(&args[0], &duration_type())?;
            d.as_primitive::<DurationNanosecondType>().clone()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = strings(&args[0])?;
            s.iter().map(|t| t.and_then(parse_timespan)).collect()
        }
        // A number of ticks.
        _ => longs(&args[0])?
            .iter()
            .map(|v| v.and_then(|v| v.checked_mul(100)))
            .collect(),
    };
    Ok(Arc::new(out))
}

/// The start of the day, week (Sunday), month or year of `t`, moved by `offset` units.
fn start_of_unit(t: DateTime<Utc>, unit: &str, offset: i64) -> Option<DateTime<Utc>> {
    let day = t.date_naive();
    let start = match unit {
        "day" => day.checked_add_signed(Duration::days(offset))?,
        "week" => {
            let back = i64::from(day.weekday().num_days_from_sunday());
            day.checked_add_signed(Duration::days(offset * 7 - back))?
        }
        "month" => {
            let months = i64::from(day.year()) * 12 + i64::from(day.month0()) + offset;
            NaiveDate::from_ymd_opt(
                i32::try_from(months.div_euclid(12)).ok()?,
                u32::try_from(months.rem_euclid(12)).ok()? + 1,
                1,
            )?
        }
        "year" => {
            NaiveDate::from_ymd_opt(day.year().checked_add(i32::try_from(offset).ok()?)?, 1, 1)?
        }
        _ => return None,
    };
    Some(start.and_hms_opt(0, 0, 0)?.and_utc())
}

/// `startofday(t [, offset])` etc.; `END` gives the last tick before the next start.
fn start_of<const END: bool>(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ts = times(&args[0])?;
    let units = strings(&args[1])?;
    let offsets = match args.get(2) {
        Some(a) => longs(a)?,
        None => Int64Array::from(vec![0; rows]),
    };
    Ok(out_times((0..rows).map(|i| {
        let t = to_utc(ts[i]?);
        let unit = text_at(&units, i)?;
        let offset = if offsets.is_null(i) {
            0
        } else {
            offsets.value(i)
        };
        if END {
            let next = start_of_unit(t, unit, offset + 1)?;
            next.timestamp_nanos_opt().map(|n| n - 100)
        } else {
            start_of_unit(t, unit, offset)?.timestamp_nanos_opt()
        }
    })))
}

/// `dayofweek(t)`: days since the Sunday before, as a timespan.
fn day_of_week(args: &[ArrayRef], _rows: usize) -> DfResult<ArrayRef> {
    let ts = times(&args[0])?;
    let out: DurationNanosecondArray = ts
        .into_iter()
        .map(|t| {
            let d = i64::from(to_utc(t?).weekday().num_days_from_sunday());
            Some(d * NANOS_PER_DAY)
        })
        .collect();
    Ok(Arc::new(out))
}

/// One calendar part of a datetime.
fn part_of(t: DateTime<Utc>, part: &str, ns: i64) -> Option<i64> {
    let v = match part.to_ascii_lowercase().as_str() {
        "year" => i64::from(t.year()),
        "quarter" => i64::from(t.month0() / 3 + 1),
        "month" => i64::from(t.month()),
        "week_of_year" | "weekofyear" | "week" => i64::from(t.iso_week().week()),
        "day" | "dayofmonth" => i64::from(t.day()),
        "dayofyear" => i64::from(t.ordinal()),
        "hour" => i64::from(t.hour()),
        "minute" => i64::from(t.minute()),
        "second" => i64::from(t.second()),
        "millisecond" => ns.rem_euclid(1_000_000_000) / 1_000_000,
        "microsecond" => ns.rem_euclid(1_000_000_000) / 1_000,
        "nanosecond" => ns.rem_euclid(1_000_000_000),
        _ => return None,
    };
    Some(v)
}

fn datetime_part(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let parts = strings(&args[0])?;
    let ts = times(&args[1])?;
    let out: Int64Array = (0..rows)
        .map(|i| {
            let ns = ts[i]?;
            part_of(to_utc(ns), text_at(&parts, i)?, ns)
        })
        .collect();
    Ok(Arc::new(out))
}

/// `datetime_diff(part, a, b)`: how many period boundaries lie between `b` and `a`.
fn datetime_diff(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let parts = strings(&args[0])?;
    let a = times(&args[1])?;
    let b = times(&args[2])?;
    let out: Int64Array = (0..rows)
        .map(|i| {
            let (a, b) = (a[i]?, b[i]?);
            let (ta, tb) = (to_utc(a), to_utc(b));
            let part = text_at(&parts, i)?.to_ascii_lowercase();
            let months = |t: DateTime<Utc>| i64::from(t.year()) * 12 + i64::from(t.month0());
            let floor = |unit: i64| a.div_euclid(unit) - b.div_euclid(unit);
            Some(match part.as_str() {
                "year" => i64::from(ta.year() - tb.year()),
                "quarter" => months(ta) / 3 - months(tb) / 3,
                "month" => months(ta) - months(tb),
                "week" => {
                    // Weeks start on Sunday: shift the epoch (a Thursday) to a Sunday.
                    let shift = 4 * NANOS_PER_DAY;
                    (a + shift).div_euclid(7 * NANOS_PER_DAY)
                        - (b + shift).div_euclid(7 * NANOS_PER_DAY)
                }
                "day" => floor(NANOS_PER_DAY),
                "hour" => floor(3_600_000_000_000),
                "minute" => floor(60_000_000_000),
                "second" => floor(1_000_000_000),
                "millisecond" => floor(1_000_000),
                "microsecond" => floor(1_000),
                "nanosecond" => a - b,
                _ => return None,
            })
        })
        .collect();
    Ok(Arc::new(out))
}

fn datetime_add(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let parts = strings(&args[0])?;
    let amounts = longs(&args[1])?;
    let ts = times(&args[2])?;
    Ok(out_times((0..rows).map(|i| {
        let ns = ts[i]?;
        let n = (!amounts.is_null(i)).then(|| amounts.value(i))?;
        let part = text_at(&parts, i)?.to_ascii_lowercase();
        let unit = match part.as_str() {
            "year" => return add_months(ns, n.checked_mul(12)?),
            "quarter" => return add_months(ns, n.checked_mul(3)?),
            "month" => return add_months(ns, n),
            "week" => 7 * NANOS_PER_DAY,
            "day" => NANOS_PER_DAY,
            "hour" => 3_600_000_000_000,
            "minute" => 60_000_000_000,
            "second" => 1_000_000_000,
            "millisecond" => 1_000_000,
            "microsecond" => 1_000,
            "nanosecond" => 1,
            _ => return None,
        };
        ns.checked_add(n.checked_mul(unit)?)
    })))
}

fn add_months(ns: i64, months: i64) -> Option<i64> {
    let t = to_utc(ns);
    let shifted = if months >= 0 {
        t.checked_add_months(chrono::Months::new(u32::try_from(months).ok()?))?
    } else {
        t.checked_sub_months(chrono::Months::new(u32::try_from(-months).ok()?))?
    };
    shifted.timestamp_nanos_opt()
}

/// `format_datetime(t, format)` with .NET-style specifiers (`yyyy-MM-dd HH:mm:ss.fff`).
fn format_datetime(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ts = times(&args[0])?;
    let formats = strings(&args[1])?;
    let out: StringArray = (0..rows)
        .map(|i| Some(dotnet_format(ts[i]?, text_at(&formats, i)?)))
        .collect();
    Ok(Arc::new(out))
}

fn dotnet_format(ns: i64, format: &str) -> String {
    let t = to_utc(ns);
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        let piece = match c {
            'y' if run >= 4 => format!("{:04}", t.year()),
            'y' => format!("{:02}", t.year() % 100),
            'M' if run >= 2 => format!("{:02}", t.month()),
            'M' => t.month().to_string(),
            'd' if run >= 2 => format!("{:02}", t.day()),
            'd' => t.day().to_string(),
            'H' if run >= 2 => format!("{:02}", t.hour()),
            'H' => t.hour().to_string(),
            'h' if run >= 2 => format!("{:02}", (t.hour() + 11) % 12 + 1),
            'h' => ((t.hour() + 11) % 12 + 1).to_string(),
            'm' if run >= 2 => format!("{:02}", t.minute()),
            'm' => t.minute().to_string(),
            's' if run >= 2 => format!("{:02}", t.second()),
            's' => t.second().to_string(),
            'f' | 'F' => {
                let digits = format!("{:09}", ns.rem_euclid(1_000_000_000));
                digits[..run.min(9)].to_string()
            }
            't' => (if t.hour() < 12 { "AM" } else { "PM" })[..run.min(2)].to_string(),
            _ => c.to_string().repeat(run),
        };
        out.push_str(&piece);
        i += run;
    }
    out
}

fn make_datetime(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let parts: Vec<Int64Array> = args.iter().map(longs).collect::<DfResult<_>>()?;
    let secs = args.get(5).map(super::reals).transpose()?;
    Ok(out_times((0..rows).map(|i| {
        let get = |k: usize, default: i64| -> Option<i64> {
            match parts.get(k) {
                Some(p) if !p.is_null(i) => Some(p.value(i)),
                Some(_) => None,
                None => Some(default),
            }
        };
        let date = NaiveDate::from_ymd_opt(
            i32::try_from(get(0, 1)?).ok()?,
            u32::try_from(get(1, 1)?).ok()?,
            u32::try_from(get(2, 1)?).ok()?,
        )?;
        let base = date
            .and_hms_opt(
                u32::try_from(get(3, 0)?).ok()?,
                u32::try_from(get(4, 0)?).ok()?,
                0,
            )?
            .and_utc()
            .timestamp_nanos_opt()?;
        let s = match &secs {
            Some(s) if !s.is_null(i) => s.value(i),
            Some(_) => return None,
            None => 0.0,
        };
        Some(base + (s * 1e9).round() as i64)
    })))
}

/// `bin(t, span)` on datetimes: floors to a multiple of the span from the epoch.
fn bin_time(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ts = times(&args[0])?;
    let steps = match args[1].data_type() {
        DataType::Duration(_) => {
            let d = arrow::compute::cast(&args[1], &duration_type())?;
            d.as_primitive::<DurationNanosecondType>()
                .iter()
                .collect::<Vec<_>>()
        }
        _ => longs(&args[1])?.iter().collect(),
    };
    Ok(out_times((0..rows).map(|i| {
        let (t, step) = (ts[i]?, steps[i]?);
        if step <= 0 {
            return None;
        }
        Some(t.div_euclid(step) * step)
    })))
}

/// `format_timespan(ts, format)`: `d` days, `h`/`H` hours, `m` minutes, `s` seconds
/// (doubled for two digits), `f` fraction digits (`F` without trailing zeros); other
/// characters are copied.
fn format_timespan_with(args: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
    let ns = arrow::compute::cast(&args[0], &duration_type())?;
    let ns = ns.as_primitive::<DurationNanosecondType>();
    let formats = super::strings(&args[1])?;
    let out: StringArray = (0..rows)
        .map(|i| {
            if ns.is_null(i) {
                return None;
            }
            let format = super::text_at(&formats, i)?;
            Some(timespan_text(ns.value(i), format))
        })
        .collect();
    Ok(Arc::new(out))
}

fn timespan_text(ns: i64, format: &str) -> String {
    let total = ns.unsigned_abs();
    let secs = total / 1_000_000_000;
    let fraction = total % 1_000_000_000;
    let mut out = String::new();
    if ns < 0 {
        out.push('-');
    }
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let number = |v: u64| format!("{v:0run$}");
        match c {
            'd' => out.push_str(&number(secs / 86_400)),
            'h' | 'H' => out.push_str(&number(secs / 3600 % 24)),
            'm' => out.push_str(&number(secs / 60 % 60)),
            's' => out.push_str(&number(secs % 60)),
            'f' | 'F' => {
                let digits = format!("{fraction:09}");
                let mut part = digits[..run.min(9)].to_string();
                if c == 'F' {
                    part = part.trim_end_matches('0').to_string();
                }
                out.push_str(&part);
            }
            other => {
                for _ in 0..run {
                    out.push(other);
                }
            }
        }
        i += run;
    }
    out
}
