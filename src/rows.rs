//! Summary rows in the total order of SPEC §6, and [`Summary`], the finished answer.
//!
//! A summary keeps its rows as small integer tuples plus, per dimension, the labels those
//! integers stand for. Label ids are assigned in label order (absent first), and rows are
//! sorted by `(bucket, ids...)`, so id order is exactly the bytewise order of SPEC §6.

use std::cmp::Ordering;
use std::fmt;

use crate::period::{AggregationPeriod, Buckets};
use crate::schema::{Field, Operation};
use crate::time::UnixMillis;

/// Number of dimensions a row can carry ([`Field::ALL`]).
pub(crate) const FIELDS: usize = 6;

/// One row of a summary, owned (SPEC §1, §6). Ordering is the total order of SPEC §6.
///
/// Field values are the strings the wire shows: `AGGREGATE_ALL` for a collapsed dimension,
/// `None` for an absent one (a dimension the operation lacks, or a job without a category
/// under `ANY`). Rows usually come from [`SummaryRow::to_row`]; [`Row::new`] builds one to
/// compare against.
///
/// ```
/// use backup_summaries::{Field, Row, UnixMillis};
/// let day = UnixMillis::new(86_400_000);
/// let row = Row::new(UnixMillis::new(0), day, "us-east-1", 2)
///     .with_value(Field::AccountId, "123456789012")
///     .with_value(Field::State, "AGGREGATE_ALL");
/// assert_eq!(row.value(Field::State), Some("AGGREGATE_ALL"));
/// assert_eq!(row.value(Field::MessageCategory), None);
/// assert_eq!((row.start_time(), row.end_time(), row.region(), row.count()), (UnixMillis::new(0), day, "us-east-1", 2));
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Row {
    start_time: UnixMillis,
    end_time: UnixMillis,
    region: String,
    /// Values in [`Field::ALL`] order.
    values: [Option<String>; FIELDS],
    count: u64,
}

/// A borrowed view of one row of a [`Summary`].
#[derive(Clone, Copy, Debug)]
pub struct SummaryRow<'a> {
    summary: &'a Summary,
    raw: &'a RawRow,
}

/// A row as stored: bucket, one label id per field, count.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct RawRow {
    pub(crate) bucket: u8,
    pub(crate) ids: [u32; FIELDS],
    pub(crate) count: u64,
}

/// `index` (a label id, or a count of labels) as a `u32`.
///
/// Row ids are `u32`, and a dimension never has more labels than its dictionary has `u32`
/// symbol ids, so the value fits; debug builds assert it. In release a larger value (a bug)
/// saturates to `u32::MAX`, an id past every label list, which a row shows as absent.
pub(crate) fn label_id(index: usize) -> u32 {
    let id = u32::try_from(index);
    debug_assert!(id.is_ok(), "label index {index} does not fit a u32 id");
    id.unwrap_or(u32::MAX)
}

/// The labels of one dimension: `labels[id]`, sorted ascending with `None` first.
pub(crate) type Labels = Vec<Option<Box<str>>>;

/// The finished answer to one query: every row, in order (SPEC §6).
///
/// Cheap to page through: [`Summary::rows`] and [`Summary::page`] only borrow. Two summaries
/// are equal when they answer the same operation and period with the same rows (bucket
/// edges, region, values and counts), however they were computed.
///
/// ```
/// use backup_summaries::{summarize, Caller, Field, JobTable, Operation, Query, UnixMillis};
/// let caller = Caller::new("123456789012".parse()?, "us-east-1".parse()?);
/// let query = Query::from_pairs(Operation::Scan, [("ScanResultStatus", "ANY")])?;
/// let summary = summarize(&query, &caller, UnixMillis::new(0), &JobTable::new(Operation::Scan));
/// assert!(summary.is_empty() && summary.total() == 0);
/// for row in summary.rows() {
///     println!("{} {:?} {}", row.start_time(), row.value(Field::ScanResultStatus), row.count());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Summary {
    pub(crate) operation: Operation,
    pub(crate) period: AggregationPeriod,
    pub(crate) buckets: Buckets,
    pub(crate) region: Box<str>,
    pub(crate) labels: [Labels; FIELDS],
    pub(crate) rows: Vec<RawRow>,
}

impl Row {
    /// A row of `count` jobs in bucket `[start_time, end_time)` of `region`, with every field
    /// absent; set values with [`Row::with_value`].
    #[must_use]
    pub fn new(
        start_time: UnixMillis,
        end_time: UnixMillis,
        region: impl Into<String>,
        count: u64,
    ) -> Self {
        Self {
            start_time,
            end_time,
            region: region.into(),
            values: Default::default(),
            count,
        }
    }

    /// This row with `field` showing `value`.
    #[must_use]
    pub fn with_value(mut self, field: Field, value: impl Into<String>) -> Self {
        if let Some(slot) = self.values.get_mut(field.index()) {
            *slot = Some(value.into());
        }
        self
    }

    /// Bucket start.
    #[must_use]
    pub fn start_time(&self) -> UnixMillis {
        self.start_time
    }

    /// Bucket end (exclusive).
    #[must_use]
    pub fn end_time(&self) -> UnixMillis {
        self.end_time
    }

    /// The caller's region.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The value shown for `field`: `AGGREGATE_ALL` when collapsed, `None` when absent.
    #[must_use]
    pub fn value(&self, field: Field) -> Option<&str> {
        self.values.get(field.index()).and_then(Option::as_deref)
    }

    /// Number of jobs (never 0 in a summary).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl PartialOrd for Row {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Row {
    /// StartTime, then Region, then the fields in [`Field::ALL`] order, bytewise, absent
    /// first (SPEC §6); then EndTime and Count, which a correct summary never needs.
    fn cmp(&self, other: &Self) -> Ordering {
        self.start_time
            .cmp(&other.start_time)
            .then_with(|| self.region.as_bytes().cmp(other.region.as_bytes()))
            .then_with(|| {
                let a = self.values.iter().map(|v| v.as_deref().map(str::as_bytes));
                let b = other.values.iter().map(|v| v.as_deref().map(str::as_bytes));
                a.cmp(b)
            })
            .then_with(|| self.end_time.cmp(&other.end_time))
            .then_with(|| self.count.cmp(&other.count))
    }
}

impl<'a> SummaryRow<'a> {
    /// Bucket start.
    #[must_use]
    pub fn start_time(&self) -> UnixMillis {
        self.summary.buckets.start(self.raw.bucket)
    }

    /// Bucket end (exclusive).
    #[must_use]
    pub fn end_time(&self) -> UnixMillis {
        self.summary.buckets.end(self.raw.bucket)
    }

    /// The caller's region.
    #[must_use]
    pub fn region(&self) -> &'a str {
        &self.summary.region
    }

    /// Number of jobs (never 0).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.raw.count
    }

    /// The value shown for `field`: `AGGREGATE_ALL` when collapsed, `None` when absent.
    #[must_use]
    pub fn value(&self, field: Field) -> Option<&'a str> {
        let i = field.index();
        self.summary.labels[i]
            .get(self.raw.ids[i] as usize)
            .and_then(|l| l.as_deref())
    }

    /// The summary this row belongs to.
    #[cfg(feature = "wire")]
    pub(crate) fn summary(&self) -> &'a Summary {
        self.summary
    }

    /// The row's bucket index and label ids (into the summary's labels).
    #[cfg(feature = "wire")]
    pub(crate) fn raw(&self) -> &'a RawRow {
        self.raw
    }

    /// An owned copy.
    #[must_use]
    pub fn to_row(&self) -> Row {
        Row {
            start_time: self.start_time(),
            end_time: self.end_time(),
            region: self.region().to_owned(),
            values: std::array::from_fn(|i| {
                Field::ALL
                    .get(i)
                    .and_then(|&f| self.value(f))
                    .map(str::to_owned)
            }),
            count: self.count(),
        }
    }
}

impl Summary {
    /// An empty summary.
    pub(crate) fn empty(
        operation: Operation,
        period: AggregationPeriod,
        buckets: Buckets,
        region: &str,
    ) -> Self {
        Self {
            operation,
            period,
            buckets,
            region: region.into(),
            labels: Default::default(),
            rows: Vec::new(),
        }
    }

    /// The operation answered.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The aggregation period of every row.
    #[must_use]
    pub fn period(&self) -> AggregationPeriod {
        self.period
    }

    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there is no row.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Total jobs counted over all rows.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|r| r.count).sum()
    }

    /// The rows, in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = SummaryRow<'_>> + DoubleEndedIterator {
        self.rows
            .iter()
            .map(move |raw| SummaryRow { summary: self, raw })
    }

    /// The rows in `range` (empty when out of bounds).
    pub(crate) fn rows_in(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl ExactSizeIterator<Item = SummaryRow<'_>> + DoubleEndedIterator {
        let slice = self.rows.get(range).unwrap_or(&[]);
        slice
            .iter()
            .map(move |raw| SummaryRow { summary: self, raw })
    }

    /// Row `i`, if any.
    #[must_use]
    pub fn row(&self, i: usize) -> Option<SummaryRow<'_>> {
        self.rows
            .get(i)
            .map(|raw| SummaryRow { summary: self, raw })
    }

    /// The caller's region, as every row shows it.
    #[cfg(feature = "wire")]
    pub(crate) fn region_str(&self) -> &str {
        &self.region
    }

    /// The labels of `field`, by id.
    #[cfg(feature = "wire")]
    pub(crate) fn labels_of(&self, field: Field) -> &Labels {
        &self.labels[field.index()]
    }

    /// Number of buckets of the query's grid.
    #[cfg(feature = "wire")]
    pub(crate) fn bucket_count(&self) -> u8 {
        self.buckets.count()
    }

    /// Start of bucket `b`.
    #[cfg(feature = "wire")]
    pub(crate) fn bucket_start(&self, b: u8) -> UnixMillis {
        self.buckets.start(b)
    }

    /// End of bucket `b`.
    #[cfg(feature = "wire")]
    pub(crate) fn bucket_end(&self, b: u8) -> UnixMillis {
        self.buckets.end(b)
    }

    /// Owned copies of every row.
    #[must_use]
    pub fn to_rows(&self) -> Vec<Row> {
        self.rows().map(|r| r.to_row()).collect()
    }
}

impl PartialEq for Summary {
    fn eq(&self, other: &Self) -> bool {
        self.operation == other.operation
            && self.period == other.period
            && self.len() == other.len()
            && self.rows().zip(other.rows()).all(|(a, b)| {
                a.start_time() == b.start_time()
                    && a.end_time() == b.end_time()
                    && a.count() == b.count()
                    && a.region() == b.region()
                    && Field::ALL.iter().all(|&f| a.value(f) == b.value(f))
            })
    }
}

impl Eq for Summary {}

impl fmt::Display for SummaryRow<'_> {
    /// One line: `start end region values... count`, absent values as `-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.start_time(),
            self.end_time(),
            self.region()
        )?;
        for field in self.summary.operation.fields() {
            write!(f, " {}", self.value(*field).unwrap_or("-"))?;
        }
        write!(f, " {}", self.count())
    }
}
