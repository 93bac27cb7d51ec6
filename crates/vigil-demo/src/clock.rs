//! Time in the demo: milliseconds since the Unix epoch, the fourteen days before the
//! reference time, and the company's working day.

use chrono::{DateTime, Datelike, Timelike, Utc};

pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// How many days of telemetry the demo holds.
pub const DAYS: i64 = 14;

/// The company's offices keep Central European time.
// Limitation: a fixed UTC+1 offset; summer time is not applied, so in summer the working
// day shows an hour early in UTC.
pub const TZ_OFFSET: i64 = HOUR;

/// RFC 3339 UTC text with milliseconds, as Defender and Sentinel exports write it.
pub fn iso(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        // Written field by field: this runs for every row, and a format string would be
        // parsed again each time.
        Some(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis()
        ),
        None => String::from("1970-01-01T00:00:00.000Z"),
    }
}

/// One local calendar day of the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// Position in the window, 0 for the oldest day.
    pub index: usize,
    /// Local midnight, as UTC milliseconds.
    pub midnight: i64,
    /// 0 for Monday ... 6 for Sunday.
    pub weekday: u32,
}

impl Day {
    pub fn is_weekend(&self) -> bool {
        self.weekday >= 5
    }

    /// The instant `hours` (fractional) after local midnight.
    pub fn at(&self, hours: f64) -> i64 {
        self.midnight + (hours * HOUR as f64) as i64
    }
}

/// The demo's time window: `[now - 14 days, now)`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub start: i64,
    pub end: i64,
}

impl Clock {
    pub fn new(now: DateTime<Utc>) -> Clock {
        let end = now.timestamp_millis();
        Clock {
            start: end - DAYS * DAY,
            end,
        }
    }

    pub fn contains(&self, ms: i64) -> bool {
        ms >= self.start && ms < self.end
    }

    /// The local days that overlap the window, oldest first.
    pub fn days(&self) -> Vec<Day> {
        let first = (self.start + TZ_OFFSET).div_euclid(DAY) * DAY - TZ_OFFSET;
        let mut out = Vec::new();
        let mut midnight = first;
        while midnight < self.end {
            let weekday = DateTime::<Utc>::from_timestamp_millis(midnight + TZ_OFFSET)
                .map(|t| t.weekday().num_days_from_monday())
                .unwrap_or(0);
            out.push(Day {
                index: out.len(),
                midnight,
                weekday,
            });
            midnight += DAY;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_rfc3339_with_milliseconds() {
        assert_eq!(iso(1_773_220_502_123), "2026-03-11T09:15:02.123Z");
    }

    #[test]
    fn days_cover_the_window_in_order() {
        let now = Utc.with_ymd_and_hms(2026, 3, 11, 12, 0, 0).unwrap();
        let clock = Clock::new(now);
        let days = clock.days();
        assert_eq!(days.len(), 15);
        assert!(days[0].midnight <= clock.start && days[1].midnight > clock.start);
        // 11 March 2026 is a Wednesday.
        assert_eq!(days[14].weekday, 2);
        // The window starts on Wednesday 25 February: days 3 and 4 are the weekend.
        assert!(days[3].is_weekend() && days[4].is_weekend());
        assert!(!days[2].is_weekend() && !days[5].is_weekend());
    }
}
