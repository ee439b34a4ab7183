//! The only place the CLI reads the wall clock, and the `--now` parser.
//!
//! The library never reads a clock; the CLI passes it `now` on every call.

use std::time::{SystemTime, UNIX_EPOCH};

use backup_summaries::UnixMillis;
use chrono::{DateTime, Utc};

/// Milliseconds in one UTC day.
const DAY_MS: i64 = 86_400_000;

/// The system clock, in whole milliseconds (the epoch if the clock is before 1970).
pub(crate) fn system_now() -> UnixMillis {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    UnixMillis::new(millis)
}

/// `--now`: an RFC 3339 instant such as `2026-11-27T00:00:00Z`, truncated to milliseconds.
pub(crate) fn parse_now(s: &str) -> Result<UnixMillis, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|at| UnixMillis::from_datetime(at.with_timezone(&Utc)))
        .map_err(|e| format!("expected an RFC 3339 instant such as 2026-11-27T00:00:00Z ({e})"))
}

/// The last millisecond of the UTC day holding `at` (23:59:59.999).
pub(crate) fn end_of_day(at: UnixMillis) -> UnixMillis {
    let day = at.as_millis().div_euclid(DAY_MS);
    UnixMillis::new(day.saturating_mul(DAY_MS).saturating_add(DAY_MS - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_parses_rfc3339_with_offsets() {
        assert_eq!(
            parse_now("2026-11-27T00:00:00Z"),
            Ok(UnixMillis::new(1_795_737_600_000))
        );
        assert_eq!(
            parse_now("2026-11-27T01:00:00.1239+01:00"),
            Ok(UnixMillis::new(1_795_737_600_123))
        );
        assert!(parse_now("yesterday").is_err());
    }

    #[test]
    fn end_of_day_is_the_last_millisecond() {
        let midnight = UnixMillis::new(1_795_737_600_000);
        assert_eq!(
            end_of_day(midnight),
            UnixMillis::new(1_795_737_600_000 + DAY_MS - 1)
        );
        assert_eq!(
            end_of_day(UnixMillis::new(1_795_737_600_000 + DAY_MS - 1)),
            end_of_day(midnight)
        );
    }
}
