//! Dates as tart prints them: ISO-8601 UTC for JSON, and the English relative phrase of
//! Apple's `RelativeDateTimeFormatter` (full units, numeric) for text tables.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch (negative for pre-1970 times, which do not occur here).
pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// `2026-05-12T21:43:05Z`.
pub fn iso8601(time: SystemTime) -> String {
    let secs = unix_seconds(time);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `5 seconds ago`, `1 hour ago`, `in 0 seconds`, ... for `then` relative to now.
pub fn relative_phrase(then: SystemTime) -> String {
    let ago = unix_seconds(SystemTime::now()) - unix_seconds(then);
    if ago <= 0 {
        return format!("in {} {}", -ago, unit(-ago, "second"));
    }
    let (value, name) = match ago {
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s if s < 7 * 86_400 => (s / 86_400, "day"),
        s if s < 30 * 86_400 => (s / (7 * 86_400), "week"),
        s if s < 365 * 86_400 => (s / (30 * 86_400), "month"),
        s => (s / (365 * 86_400), "year"),
    };
    format!("{value} {} ago", unit(value, name))
}

fn unit(value: i64, name: &str) -> String {
    if value == 1 {
        name.to_string()
    } else {
        format!("{name}s")
    }
}
