//! Time expressions in a prompt ("last week", "past 24 hours", "yesterday", "since
//! Monday", "between 3 and 5 March") as UTC ranges relative to a reference time.
//!
//! Ranges are half-open, `[start, end)`. "Last N units" ends at the reference time;
//! a named day covers that whole calendar day (UTC). "Last week" and "past week" mean
//! the seven days before now, as analysts use them in hunting queries, not the previous
//! calendar week.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

/// A time range, `[start, end)`, with the words it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub text: String,
}

impl TimeRange {
    /// The range as a KQL condition on `column`.
    pub fn kql(&self, column: &str) -> String {
        format!(
            "{column} between (datetime({}) .. datetime({}))",
            self.start.format("%Y-%m-%dT%H:%M:%SZ"),
            // KQL's `between` includes its end; the range does not.
            (self.end - Duration::nanoseconds(1)).format("%Y-%m-%dT%H:%M:%S%.9fZ")
        )
    }
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a bad one is a bug caught by every test.
    Regex::new(pattern).unwrap_or_else(|e| panic!("time pattern {pattern:?}: {e}"))
}

const MONTHS: &str = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";
const DAYS: &str = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun";
const COUNT: &str = r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|twenty|thirty|forty[- ]eight|twenty[- ]four|several|few|couple(?: of)?";
const UNIT: &str =
    r"min(?:ute)?s?|mins?|m|h(?:ou)?rs?|hours?|h|days?|d|weeks?|wks?|w|months?|mo|years?|y";

static LAST_N: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(?:(?:in|over|during|for|within|from)\s+)?(?:the\s+)?(?:last|past|previous|preceding|recent)\s+(?:({COUNT})\s*)?({UNIT})\b"
    ))
});
static AGO: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i)\b({COUNT})\s*({UNIT})\s+ago\b")));
static SINCE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(since|after|from|before|until|on|last)\s+(?:last\s+)?({DAYS}|yesterday|today|(?:\d{{4}}-\d{{2}}-\d{{2}})|(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})(?:\s+\d{{4}})?)|(?:(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?))\b"
    ))
});
static BETWEEN: LazyLock<Regex> = LazyLock::new(|| {
    let date = format!(
        r"(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}(?:st|nd|rd|th)?(?:\s+(?:of\s+)?(?:{MONTHS}))?(?:\s+\d{{4}})?|(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)"
    );
    re(&format!(
        r"(?i)\b(?:between|from)\s+({date})\s+(?:and|to|until|-)\s+({date})\b"
    ))
});
static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(today|yesterday|this week|this month|last night|overnight|this morning)\b")
});
static ON_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)\b(?:on|last)\s+({DAYS})\b|\b(\d{{4}}-\d{{2}}-\d{{2}})\b"
    ))
});

fn count_of(word: Option<&str>) -> Option<i64> {
    let Some(word) = word else { return Some(1) };
    let w = word.to_ascii_lowercase().replace('-', " ");
    Some(match w.trim() {
        "a" | "an" | "one" => 1,
        "two" | "couple" | "couple of" => 2,
        "three" | "few" | "several" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "fourteen" => 14,
        "fifteen" => 15,
        "twenty" => 20,
        "twenty four" => 24,
        "thirty" => 30,
        "forty" => 40,
        "forty eight" => 48,
        digits => digits.parse().ok()?,
    })
}

fn unit_of(word: &str, count: i64) -> Option<Duration> {
    let w = word.to_ascii_lowercase();
    Some(match w.as_str() {
        "m" | "min" | "mins" | "minute" | "minutes" => Duration::minutes(count),
        "h" | "hr" | "hrs" | "hour" | "hours" => Duration::hours(count),
        "d" | "day" | "days" => Duration::days(count),
        "w" | "wk" | "wks" | "week" | "weeks" => Duration::weeks(count),
        "mo" | "month" | "months" => Duration::days(30 * count),
        "y" | "year" | "years" => Duration::days(365 * count),
        _ => return None,
    })
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn weekday_of(word: &str) -> Option<Weekday> {
    let w = word.to_ascii_lowercase();
    Some(match &w[..w.len().min(3)] {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn month_of(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    let names = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    names
        .iter()
        .position(|m| w.starts_with(m))
        .map(|i| i as u32 + 1)
}

/// The most recent `day` on or before today (today itself when it is that day).
fn last_weekday(today: NaiveDate, day: Weekday) -> NaiveDate {
    let back = (7 + today.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
    today - Duration::days(i64::from(back))
}

/// A date written as `2026-03-05`, `5 March`, `5th of March 2026`, `March 5`, or a bare
/// day number (taking the month from `month_hint`). A date without a year that would lie
/// after `now` is taken in the year before.
fn parse_date(text: &str, now: DateTime<Utc>, month_hint: Option<u32>) -> Option<NaiveDate> {
    static ISO: LazyLock<Regex> = LazyLock::new(|| re(r"^(\d{4})-(\d{2})-(\d{2})$"));
    static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
        re(r"(?i)^(\d{1,2})(?:st|nd|rd|th)?(?:\s+(?:of\s+)?([a-z]+))?(?:\s+(\d{4}))?$")
    });
    static MONTH_DAY: LazyLock<Regex> =
        LazyLock::new(|| re(r"(?i)^([a-z]+)\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?$"));
    let text = text.trim();
    if let Some(c) = ISO.captures(text) {
        return NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?);
    }
    let (day, month, year) = if let Some(c) = DAY_MONTH.captures(text) {
        let month = match c.get(2) {
            Some(m) => Some(month_of(m.as_str())?),
            None => month_hint,
        };
        (
            c[1].parse::<u32>().ok()?,
            month?,
            c.get(3).map(|y| y.as_str()),
        )
    } else if let Some(c) = MONTH_DAY.captures(text) {
        (
            c[2].parse::<u32>().ok()?,
            month_of(&c[1])?,
            c.get(3).map(|y| y.as_str()),
        )
    } else {
        return None;
    };
    if let Some(year) = year {
        return NaiveDate::from_ymd_opt(year.parse().ok()?, month, day);
    }
    let this_year = NaiveDate::from_ymd_opt(now.year(), month, day)?;
    if midnight(this_year) > now {
        NaiveDate::from_ymd_opt(now.year() - 1, month, day)
    } else {
        Some(this_year)
    }
}

fn month_in(text: &str) -> Option<u32> {
    static MONTH: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i)\b({MONTHS})\b")));
    MONTH.captures(text).and_then(|c| month_of(&c[1]))
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>, c: &Captures) -> TimeRange {
    TimeRange {
        start,
        end,
        text: c[0].trim().to_string(),
    }
}

fn day_range(date: NaiveDate, c: &Captures) -> TimeRange {
    range(midnight(date), midnight(date + Duration::days(1)), c)
}

/// The first time expression in `prompt`, relative to `now`.
pub fn find(prompt: &str, now: DateTime<Utc>) -> Option<TimeRange> {
    let today = now.date_naive();
    let mut found: Vec<(usize, TimeRange)> = Vec::new();
    if let Some(c) = BETWEEN.captures(prompt) {
        let second_month = month_in(&c[2]);
        let end = parse_date(&c[2], now, None);
        let start = parse_date(&c[1], now, second_month);
        if let (Some(start), Some(end)) = (start, end) {
            let (start, end) = if start <= end {
                (start, end)
            } else {
                (end, start)
            };
            found.push((
                c.get(0).map_or(0, |m| m.start()),
                range(midnight(start), midnight(end + Duration::days(1)), &c),
            ));
        }
    }
    if let Some(c) = LAST_N.captures(prompt) {
        let count = count_of(c.get(1).map(|m| m.as_str()));
        if let Some(span) = count.and_then(|n| unit_of(&c[2], n)) {
            found.push((
                c.get(0).map_or(0, |m| m.start()),
                range(now - span, now, &c),
            ));
        }
    }
    if let Some(c) = AGO.captures(prompt) {
        let count = count_of(Some(&c[1]));
        if let Some(span) = count.and_then(|n| unit_of(&c[2], n)) {
            let at = c.get(0).map_or(0, |m| m.start());
            let unit = c[2].to_ascii_lowercase();
            if unit.starts_with('d') || unit.starts_with('w') {
                found.push((at, day_range((now - span).date_naive(), &c)));
            } else {
                found.push((at, range(now - span, now, &c)));
            }
        }
    }
    if let Some(c) = SINCE.captures(prompt) {
        let word = c[1].to_ascii_lowercase();
        let what = c[2].to_ascii_lowercase();
        let date = match what.as_str() {
            "today" => Some(today),
            "yesterday" => Some(today - Duration::days(1)),
            w => match weekday_of(w).filter(|_| !w.contains(char::is_numeric)) {
                Some(day) => {
                    let d = last_weekday(today, day);
                    // "last Monday" on a Monday means a week ago.
                    Some(if word == "last" && d == today {
                        d - Duration::days(7)
                    } else {
                        d
                    })
                }
                None => parse_date(w, now, None),
            },
        };
        if let Some(date) = date {
            let at = c.get(0).map_or(0, |m| m.start());
            let r = match word.as_str() {
                "since" | "after" | "from" => range(midnight(date), now, &c),
                "before" | "until" => {
                    range(midnight(date) - Duration::days(30), midnight(date), &c)
                }
                _ => day_range(date, &c),
            };
            found.push((at, r));
        }
    }
    if let Some(c) = NAMED.captures(prompt) {
        let at = c.get(0).map_or(0, |m| m.start());
        let r = match c[1].to_ascii_lowercase().as_str() {
            "today" => range(midnight(today), now, &c),
            "yesterday" => day_range(today - Duration::days(1), &c),
            "this week" => range(midnight(last_weekday(today, Weekday::Mon)), now, &c),
            "this month" => range(midnight(today.with_day(1).unwrap_or(today)), now, &c),
            "this morning" => range(midnight(today), midnight(today) + Duration::hours(12), &c),
            // Last night: from 18:00 yesterday to 06:00 today.
            _ => range(
                midnight(today) - Duration::hours(6),
                midnight(today) + Duration::hours(6),
                &c,
            ),
        };
        found.push((at, r));
    }
    if let Some(c) = ON_DAY.captures(prompt) {
        let at = c.get(0).map_or(0, |m| m.start());
        if let Some(day) = c.get(1).and_then(|d| weekday_of(d.as_str())) {
            let d = last_weekday(today, day);
            let last = c[0].to_ascii_lowercase().starts_with("last");
            let d = if last && d == today {
                d - Duration::days(7)
            } else {
                d
            };
            found.push((at, day_range(d, &c)));
        } else if let Some(d) = c.get(2).and_then(|d| parse_date(d.as_str(), now, None)) {
            found.push((at, day_range(d, &c)));
        }
    }
    // The earliest expression wins; at one position, the longest one.
    found.sort_by_key(|(at, r)| (*at, std::cmp::Reverse(r.text.len())));
    found.into_iter().next().map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        // A Wednesday.
        Utc.with_ymd_and_hms(2026, 3, 11, 15, 30, 0).unwrap()
    }

    fn span(prompt: &str) -> (String, String) {
        let r = find(prompt, now()).unwrap_or_else(|| panic!("no time in {prompt:?}"));
        (
            r.start.format("%Y-%m-%d %H:%M").to_string(),
            r.end.format("%Y-%m-%d %H:%M").to_string(),
        )
    }

    #[test]
    fn relative_ranges() {
        assert_eq!(
            span("in the last 24 hours"),
            ("2026-03-10 15:30".into(), "2026-03-11 15:30".into())
        );
        assert_eq!(
            span("last week"),
            ("2026-03-04 15:30".into(), "2026-03-11 15:30".into())
        );
        assert_eq!(
            span("yesterday"),
            ("2026-03-10 00:00".into(), "2026-03-11 00:00".into())
        );
        assert_eq!(
            span("since Monday"),
            ("2026-03-09 00:00".into(), "2026-03-11 15:30".into())
        );
        assert_eq!(
            span("between 3 and 5 March"),
            ("2026-03-03 00:00".into(), "2026-03-06 00:00".into())
        );
    }

    #[test]
    fn a_date_later_this_year_means_last_year() {
        assert_eq!(
            span("on 4 December"),
            ("2025-12-04 00:00".into(), "2025-12-05 00:00".into())
        );
    }

    #[test]
    fn kql_condition_includes_the_last_instant_only() {
        let r = find("yesterday", now()).unwrap();
        assert_eq!(
            r.kql("Timestamp"),
            "Timestamp between (datetime(2026-03-10T00:00:00Z) .. datetime(2026-03-10T23:59:59.999999999Z))"
        );
    }
}
