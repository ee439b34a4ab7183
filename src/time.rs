//! UTC instants in whole milliseconds, and the day arithmetic of SPEC §5.
//!
//! The engine never reads a clock: every `now` is an argument. Only integer math is used here;
//! chrono appears only at the public edge ([`UnixMillis::from_datetime`],
//! [`UnixMillis::to_datetime`]).

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds in one UTC day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// A UTC instant, in whole milliseconds since the Unix epoch (SPEC §2: CreationDate has
/// millisecond precision; finer digits are truncated at ingest).
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct UnixMillis(i64);

impl UnixMillis {
    /// The instant `millis` milliseconds after 1970-01-01T00:00:00Z.
    #[must_use]
    pub const fn new(millis: i64) -> Self {
        Self(millis)
    }

    /// The instant `secs` whole seconds after the epoch, or `None` when it does not fit.
    #[must_use]
    pub const fn from_secs(secs: i64) -> Option<Self> {
        match secs.checked_mul(1000) {
            Some(ms) => Some(Self(ms)),
            None => None,
        }
    }

    /// Converts a chrono instant, truncating below the millisecond.
    #[must_use]
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_millis())
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded towards minus infinity.
    #[must_use]
    pub const fn as_secs_floor(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant as a chrono `DateTime<Utc>`, or `None` outside chrono's range.
    #[must_use]
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        Utc.timestamp_millis_opt(self.0).single()
    }

    /// Days since the epoch of the UTC day holding this instant.
    #[must_use]
    pub(crate) const fn day(self) -> i64 {
        self.0.div_euclid(DAY_MS)
    }
}

impl fmt::Display for UnixMillis {
    /// RFC 3339 with milliseconds (`2026-11-27T00:00:00.000Z`), or the raw millisecond count
    /// when the instant is outside chrono's calendar range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(at) => f.write_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => write!(f, "{}ms", self.0),
        }
    }
}

impl From<DateTime<Utc>> for UnixMillis {
    fn from(at: DateTime<Utc>) -> Self {
        Self::from_datetime(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_floors_towards_minus_infinity() {
        assert_eq!(UnixMillis::new(0).day(), 0);
        assert_eq!(UnixMillis::new(DAY_MS - 1).day(), 0);
        assert_eq!(UnixMillis::new(DAY_MS).day(), 1);
        assert_eq!(UnixMillis::new(-1).day(), -1);
        assert_eq!(UnixMillis::new(i64::MIN).day(), i64::MIN.div_euclid(DAY_MS));
    }

    #[test]
    fn display_is_rfc3339_millis() {
        assert_eq!(
            UnixMillis::new(1_795_737_600_000).to_string(),
            "2026-11-27T00:00:00.000Z"
        );
        assert_eq!(
            UnixMillis::new(i64::MAX).to_string(),
            format!("{}ms", i64::MAX)
        );
    }

    #[test]
    fn secs_round_down() {
        assert_eq!(UnixMillis::new(-1).as_secs_floor(), -1);
        assert_eq!(UnixMillis::new(1999).as_secs_floor(), 1);
        assert_eq!(UnixMillis::from_secs(i64::MAX), None);
    }
}
