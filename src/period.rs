//! Aggregation periods and the UTC-day bucket grid of SPEC §5 (integer math only).
//!
//! Every bucket is a whole number of UTC days, half-open `[start, end)`, keyed on a job's
//! CreationDate. The grid is computed from `now`, which is always an argument.

use std::fmt;

use crate::time::{UnixMillis, DAY_MS};

/// How wide each bucket is, and so how many buckets a query has (SPEC §5).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum AggregationPeriod {
    /// 14 one-day buckets (the default, D).
    #[default]
    OneDay,
    /// One bucket of the last 7 days.
    SevenDays,
    /// One bucket of the last 14 days.
    FourteenDays,
}

/// Where the grid ends (SPEC §5).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum DayGrid {
    /// The last bucket ends at `today + 1 day`: today's jobs count (the default, D).
    #[default]
    ThroughToday,
    /// The grid is shifted one day back: windows end at `today 00:00`, so only full days count.
    PriorFullDays,
}

/// The buckets of one query: `count` buckets of `days` days each, the first starting on UTC
/// day `first_day` (days since the epoch).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub(crate) struct Buckets {
    first_day: i64,
    days: i64,
    count: u8,
}

impl AggregationPeriod {
    /// All periods.
    pub const ALL: &'static [Self] = &[Self::OneDay, Self::SevenDays, Self::FourteenDays];

    /// The AWS spelling, e.g. `ONE_DAY`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OneDay => "ONE_DAY",
            Self::SevenDays => "SEVEN_DAYS",
            Self::FourteenDays => "FOURTEEN_DAYS",
        }
    }

    /// The period spelled `s` (case-sensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    /// (days per bucket, number of buckets).
    const fn shape(self) -> (i64, u8) {
        match self {
            Self::OneDay => (1, 14),
            Self::SevenDays => (7, 1),
            Self::FourteenDays => (14, 1),
        }
    }

    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::OneDay => 1,
            Self::SevenDays => 2,
            Self::FourteenDays => 3,
        }
    }
}

impl fmt::Display for AggregationPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DayGrid {
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::ThroughToday => 0,
            Self::PriorFullDays => 1,
        }
    }
}

/// The creation dates a query counts at a given `now`: whole UTC days, from the first day of
/// its first period to the last day of its last (SPEC §5). A job created outside it adds to no
/// row of that query, so a one-shot query may skip such jobs while loading (see
/// [`JobChunk::count_into`](crate::wire::JobChunk::count_into)).
///
/// # Examples
/// ```
/// use backup_summaries::{Operation, Query, UnixMillis};
/// let query = Query::builder(Operation::Backup).build()?;
/// let now = UnixMillis::new(1_764_201_599_000); // 2025-11-26T23:59:59Z
/// let window = query.creation_window(now);
/// // ONE_DAY: 14 daily periods ending with today.
/// assert!(window.contains(now));
/// assert!(window.contains(UnixMillis::new(1_764_201_599_000 - 13 * 86_400_000)));
/// assert!(!window.contains(UnixMillis::new(1_764_201_599_000 - 14 * 86_400_000)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct CreationWindow {
    /// The start of the first day counted (ms since the epoch, UTC; wider than an instant,
    /// so that no day's start saturates).
    start_ms: i128,
    /// The start of the first day after the window.
    end_ms: i128,
}

impl CreationWindow {
    /// The window of the periods of `buckets`.
    pub(crate) fn of(buckets: Buckets) -> Self {
        let first_day = buckets.day_range(0).0;
        let end_day = buckets.day_range(buckets.count().saturating_sub(1)).1;
        // `at`'s day is in `first_day..end_day` iff `at` is in `start_ms..end_ms`: no
        // division per job.
        let start = |day: i64| i128::from(day) * i128::from(DAY_MS);
        Self {
            start_ms: start(first_day),
            end_ms: start(end_day),
        }
    }

    /// Whether a job created at `at` falls in a period of the query.
    #[must_use]
    #[inline]
    pub fn contains(&self, at: UnixMillis) -> bool {
        (self.start_ms..self.end_ms).contains(&i128::from(at.as_millis()))
    }
}

impl Buckets {
    /// The grid for `period` at `now`.
    pub(crate) fn new(period: AggregationPeriod, grid: DayGrid, now: UnixMillis) -> Self {
        let (days, count) = period.shape();
        let last_day = match grid {
            DayGrid::ThroughToday => now.day(),
            DayGrid::PriorFullDays => now.day() - 1,
        };
        // now.day() is within ±1.1e11, so this cannot overflow.
        let first_day = last_day + 1 - days * i64::from(count);
        Self {
            first_day,
            days,
            count,
        }
    }

    /// Number of buckets.
    pub(crate) const fn count(self) -> u8 {
        self.count
    }

    /// The bucket holding UTC day `day`, if any.
    #[cfg(test)]
    pub(crate) fn of_day(self, day: i64) -> Option<u8> {
        let offset = day.checked_sub(self.first_day)?;
        if offset < 0 {
            return None;
        }
        let b = offset / self.days;
        if b < i64::from(self.count) {
            u8::try_from(b).ok()
        } else {
            None
        }
    }

    /// The bucket holding `at`, if any.
    #[cfg(test)]
    pub(crate) fn of(self, at: UnixMillis) -> Option<u8> {
        self.of_day(at.day())
    }

    /// First millisecond of bucket `b` (saturating at the ends of time).
    /// The days (since the epoch) of bucket `b`: `first..end`.
    pub(crate) fn day_range(self, b: u8) -> (i64, i64) {
        // first_day is within ±1.1e11 days, so this cannot overflow.
        let first = self.first_day + i64::from(b) * self.days;
        (first, first + self.days)
    }

    pub(crate) fn start(self, b: u8) -> UnixMillis {
        let day = self.first_day + i64::from(b) * self.days;
        UnixMillis::new(day.saturating_mul(DAY_MS))
    }

    /// First millisecond after bucket `b` (saturating at the ends of time).
    pub(crate) fn end(self, b: u8) -> UnixMillis {
        UnixMillis::new(self.end_millis(b).unwrap_or(i64::MAX))
    }

    /// First millisecond after bucket `b`, or `None` when that lies past the end of time
    /// (then every instant from the bucket's start on is in it). Before the start of time it
    /// is `i64::MIN`: the bucket is empty.
    pub(crate) fn end_millis(self, b: u8) -> Option<i64> {
        let day = self.first_day + (i64::from(b) + 1) * self.days;
        match day.checked_mul(DAY_MS) {
            Some(ms) => Some(ms),
            None if day < 0 => Some(i64::MIN),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = UnixMillis::new(1_795_737_599_000); // 2026-11-26T23:59:59Z
    const TODAY: i64 = 1_795_651_200_000; // 2026-11-26T00:00:00Z

    #[test]
    fn the_creation_window_is_the_buckets_days() {
        for (period, grid) in [
            (AggregationPeriod::OneDay, DayGrid::ThroughToday),
            (AggregationPeriod::SevenDays, DayGrid::ThroughToday),
            (AggregationPeriod::FourteenDays, DayGrid::PriorFullDays),
        ] {
            let b = Buckets::new(period, grid, NOW);
            let w = CreationWindow::of(b);
            let last = b.count() - 1;
            let (first_day, _) = b.day_range(0);
            let (_, end_day) = b.day_range(last);
            let at = |day: i64| UnixMillis::new(day * DAY_MS);
            assert!(w.contains(at(first_day)), "{period}");
            assert!(
                w.contains(UnixMillis::new(end_day * DAY_MS - 1)),
                "{period}"
            );
            assert!(
                !w.contains(UnixMillis::new(first_day * DAY_MS - 1)),
                "{period}"
            );
            assert!(!w.contains(at(end_day)), "{period}");
            assert_eq!(b.of(at(first_day)), Some(0));
            assert_eq!(b.of(UnixMillis::new(end_day * DAY_MS - 1)), Some(last));
        }
    }

    /// The window compares instants with its days' starts (no division per job): the same
    /// as comparing days, also at the ends of the instants' range.
    #[test]
    fn the_creation_window_holds_the_instants_of_its_days_at_any_clock() {
        let far = [
            i64::MIN,
            i64::MIN + 1,
            -DAY_MS - 1,
            -1,
            0,
            1,
            i64::MAX - 1,
            i64::MAX,
        ];
        for now in far.into_iter().chain([NOW.as_millis()]) {
            for (period, grid) in [
                (AggregationPeriod::OneDay, DayGrid::ThroughToday),
                (AggregationPeriod::FourteenDays, DayGrid::PriorFullDays),
            ] {
                let b = Buckets::new(period, grid, UnixMillis::new(now));
                let w = CreationWindow::of(b);
                let (first_day, _) = b.day_range(0);
                let (_, end_day) = b.day_range(b.count() - 1);
                let near = [-DAY_MS - 1, -DAY_MS, -1, 0, 1, DAY_MS - 1, DAY_MS];
                let ats = far
                    .into_iter()
                    .chain(near.into_iter().map(|d| now.saturating_add(d)))
                    .chain(
                        near.into_iter()
                            .map(|d| first_day.saturating_mul(DAY_MS).saturating_add(d)),
                    );
                for at in ats.map(UnixMillis::new) {
                    let by_day = (first_day..end_day).contains(&at.day());
                    assert_eq!(w.contains(at), by_day, "now {now}, {period}, at {at:?}");
                }
            }
        }
    }

    #[test]
    fn one_day_has_fourteen_buckets_ending_tomorrow() {
        let b = Buckets::new(AggregationPeriod::OneDay, DayGrid::ThroughToday, NOW);
        assert_eq!(b.count(), 14);
        assert_eq!(b.start(13).as_millis(), TODAY);
        assert_eq!(b.end(13).as_millis(), TODAY + DAY_MS);
        assert_eq!(b.start(0).as_millis(), TODAY - 13 * DAY_MS);
        assert_eq!(b.of(UnixMillis::new(TODAY - 13 * DAY_MS)), Some(0));
        assert_eq!(b.of(UnixMillis::new(TODAY - 13 * DAY_MS - 1)), None);
        assert_eq!(b.of(UnixMillis::new(TODAY + DAY_MS - 1)), Some(13));
        assert_eq!(b.of(UnixMillis::new(TODAY + DAY_MS)), None);
        assert_eq!(b.of(UnixMillis::new(TODAY - 1)), Some(12));
    }

    #[test]
    fn seven_and_fourteen_days_are_one_bucket() {
        let b = Buckets::new(AggregationPeriod::SevenDays, DayGrid::ThroughToday, NOW);
        assert_eq!((b.count(), b.start(0).as_millis()), (1, TODAY - 6 * DAY_MS));
        assert_eq!(b.end(0).as_millis(), TODAY + DAY_MS);
        let b = Buckets::new(AggregationPeriod::FourteenDays, DayGrid::ThroughToday, NOW);
        assert_eq!(
            (b.count(), b.start(0).as_millis()),
            (1, TODAY - 13 * DAY_MS)
        );
        assert_eq!(b.of(UnixMillis::new(TODAY + DAY_MS - 1)), Some(0));
    }

    #[test]
    fn prior_full_days_shifts_the_grid_back_one_day() {
        let b = Buckets::new(AggregationPeriod::SevenDays, DayGrid::PriorFullDays, NOW);
        assert_eq!(b.start(0).as_millis(), TODAY - 7 * DAY_MS);
        assert_eq!(b.end(0).as_millis(), TODAY);
        assert_eq!(b.of(UnixMillis::new(TODAY)), None);
    }

    #[test]
    fn buckets_past_the_ends_of_time() {
        let b = Buckets::new(
            AggregationPeriod::OneDay,
            DayGrid::ThroughToday,
            UnixMillis::new(i64::MIN),
        );
        assert_eq!(b.end_millis(0), Some(i64::MIN));
        let b = Buckets::new(
            AggregationPeriod::OneDay,
            DayGrid::ThroughToday,
            UnixMillis::new(i64::MAX),
        );
        assert_eq!(b.end_millis(13), None);
        assert!(b.end_millis(12).is_some());
    }

    #[test]
    fn extreme_now_does_not_overflow() {
        for now in [i64::MIN, i64::MAX] {
            let b = Buckets::new(
                AggregationPeriod::OneDay,
                DayGrid::ThroughToday,
                UnixMillis::new(now),
            );
            let _ = (
                b.start(0),
                b.end(13),
                b.of(UnixMillis::new(0)),
                b.of(UnixMillis::new(now)),
            );
        }
    }
}
