//! The pipeline (SPEC §3–§6): scope by caller and region, window filter, dimension filters,
//! group key + bucket, counting, rows in total order.
//!
//! [`Aggregator`] is mergeable: it accepts tables in any number of batches, in any order, and
//! two aggregators for the same query merge; every split gives the same [`Summary`] as one
//! pass. None of `new`, `push`, `merge` or `finish` can fail.

mod plan;
mod table;

use crate::jobs::JobTable;
use crate::period::Buckets;
use crate::query::Query;
use crate::rows::{label_id, Labels, RawRow, Summary, FIELDS};
use crate::scope::Caller;
use crate::time::UnixMillis;

/// Counts jobs for one query, batch by batch.
///
/// ```
/// use backup_summaries::{
///     AccountId, Aggregator, Caller, JobRecord, JobTable, Operation, Query, Region, ResourceType,
///     State, UnixMillis,
/// };
/// let caller = Caller::new("123456789012".parse()?, "us-east-1".parse()?);
/// let query = Query::builder(Operation::Backup).build()?;
/// let now = UnixMillis::new(1_795_737_599_000); // 2026-11-26T23:59:59Z
/// let (me, region, ebs): (AccountId, Region, ResourceType) =
///     ("123456789012".parse()?, "us-east-1".parse()?, "EBS".parse()?);
/// let job = |ms| JobRecord::new(me, region.clone(), State::Completed, ebs.clone(), UnixMillis::new(ms));
/// let a = JobTable::from_records(Operation::Backup, &[job(1_795_700_000_000)])?;
/// let b = JobTable::from_records(Operation::Backup, &[job(1_795_700_000_001)])?;
/// let mut agg = Aggregator::new(&query, &caller, now);
/// agg.push(&b);
/// agg.push(&a);
/// let summary = agg.finish();
/// assert_eq!(summary.len(), 1);
/// assert_eq!(summary.total(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Aggregator {
    query: Query,
    caller: Caller,
    summary: Summary,
}

impl Aggregator {
    /// An aggregator with nothing counted yet. `now` fixes the window (SPEC §5).
    #[must_use]
    pub fn new(query: &Query, caller: &Caller, now: UnixMillis) -> Self {
        let buckets = Buckets::new(query.period(), query.day_grid(), now);
        Self {
            query: query.clone(),
            caller: caller.clone(),
            summary: Summary::empty(
                query.operation(),
                query.period(),
                buckets,
                caller.region().as_str(),
            ),
        }
    }

    /// Counts every job of `table` that the query and caller select.
    ///
    /// The table's operation is not checked against the query's: the caller chooses which
    /// jobs to count.
    pub fn push(&mut self, table: &JobTable) {
        let part = count(&self.query, &self.caller, self.summary.buckets, table);
        let current = std::mem::replace(&mut self.summary, part.empty_like());
        self.summary = merge(current, part);
    }

    /// Adds everything `other` counted. `other` should be for the same query, caller and
    /// `now`; if it is not, its rows are still added as they are.
    pub fn merge(&mut self, other: Self) {
        let current = std::mem::replace(&mut self.summary, other.summary.empty_like());
        self.summary = merge(current, other.summary);
    }

    /// The rows counted so far, in order.
    #[must_use]
    pub fn finish(self) -> Summary {
        self.summary
    }
}

/// Answers `query` for `caller` at `now` over one table: the same as an [`Aggregator`] with
/// one `push`.
///
/// # Examples
/// ```
/// use backup_summaries::{summarize, Caller, Field, JobRecord, JobTable, Operation, Query, State, UnixMillis};
/// let me = "123456789012".parse()?;
/// let caller = Caller::new(me, "us-east-1".parse()?);
/// let mut jobs = JobTable::new(Operation::Backup);
/// let created = UnixMillis::new(1_795_690_000_000); // 2026-11-26
/// for resource in ["EBS", "EBS", "RDS"] {
///     jobs.push(&JobRecord::new(me, "us-east-1".parse()?, State::Completed, resource.parse()?, created))?;
/// }
/// let query = Query::from_pairs(Operation::Backup, [("ResourceType", "ANY")])?;
/// let summary = summarize(&query, &caller, UnixMillis::new(1_795_737_599_000), &jobs);
/// let counts: Vec<(Option<&str>, u64)> =
///     summary.rows().map(|r| (r.value(Field::ResourceType), r.count())).collect();
/// assert_eq!(counts, [(Some("EBS"), 2), (Some("RDS"), 1)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn summarize(query: &Query, caller: &Caller, now: UnixMillis, table: &JobTable) -> Summary {
    let mut agg = Aggregator::new(query, caller, now);
    agg.push(table);
    agg.finish()
}

/// One table's summary.
fn count(query: &Query, caller: &Caller, buckets: Buckets, table: &JobTable) -> Summary {
    let mut summary = Summary::empty(
        query.operation(),
        query.period(),
        buckets,
        caller.region().as_str(),
    );
    (summary.rows, summary.labels, _) = table::count(query, caller, table, buckets);
    summary
}

impl Summary {
    fn empty_like(&self) -> Self {
        Self::empty(self.operation, self.period, self.buckets, &self.region)
    }
}

/// Merges two summaries of the same query: labels are unioned (staying sorted), ids are
/// remapped monotonically, and the two sorted row lists are merged, summing equal groups.
fn merge(a: Summary, b: Summary) -> Summary {
    if b.rows.is_empty() {
        return a;
    }
    if a.rows.is_empty() {
        return b;
    }
    let mut labels: [Labels; FIELDS] = Default::default();
    let mut map_a: [Vec<u32>; FIELDS] = Default::default();
    let mut map_b: [Vec<u32>; FIELDS] = Default::default();
    for f in 0..FIELDS {
        (labels[f], map_a[f], map_b[f]) = union(&a.labels[f], &b.labels[f]);
    }
    let remap = |r: &RawRow, map: &[Vec<u32>; FIELDS]| RawRow {
        bucket: r.bucket,
        ids: std::array::from_fn(|f| remap_id(&map[f], r.ids[f])),
        count: r.count,
    };
    let key = |r: &RawRow| (r.bucket, r.ids);
    let mut rows = Vec::with_capacity(a.rows.len().max(b.rows.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.rows.len() || j < b.rows.len() {
        let x = a.rows.get(i).map(|r| remap(r, &map_a));
        let y = b.rows.get(j).map(|r| remap(r, &map_b));
        match (x, y) {
            (Some(x), Some(y)) if key(&x) == key(&y) => {
                rows.push(RawRow {
                    count: x.count.saturating_add(y.count),
                    ..x
                });
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if key(&x) < key(&y) => {
                rows.push(x);
                i += 1;
            }
            (_, Some(y)) => {
                rows.push(y);
                j += 1;
            }
            (Some(x), None) => {
                rows.push(x);
                i += 1;
            }
            (None, None) => break,
        }
    }
    Summary { labels, rows, ..a }
}

/// `map[id]`: the id a row's label id has in the merged labels.
///
/// Every row id is below its dimension's label count (ids index `labels`), and `union` maps
/// every old id, so the lookup always hits; debug builds assert it. In release an id outside
/// the map (a bug) becomes `u32::MAX`, past every label, so the row keeps showing the value
/// as absent, as it did before the merge, instead of taking the first label's place.
fn remap_id(map: &[u32], id: u32) -> u32 {
    let new = map.get(id as usize).copied();
    debug_assert!(
        new.is_some(),
        "row id {id} outside its {} labels",
        map.len()
    );
    new.unwrap_or(u32::MAX)
}

/// The sorted union of two sorted label lists, with each side's old-id -> new-id map.
fn union(a: &Labels, b: &Labels) -> (Labels, Vec<u32>, Vec<u32>) {
    let mut out: Labels = Vec::with_capacity(a.len().max(b.len()));
    let (mut ma, mut mb) = (Vec::with_capacity(a.len()), Vec::with_capacity(b.len()));
    let (mut i, mut j) = (0, 0);
    let next_id = |out: &Labels| label_id(out.len());
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                ma.push(next_id(&out));
                mb.push(next_id(&out));
                out.push(x.clone());
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                ma.push(next_id(&out));
                out.push(x.clone());
                i += 1;
            }
            (_, Some(y)) => {
                mb.push(next_id(&out));
                out.push(y.clone());
                j += 1;
            }
            (Some(x), None) => {
                ma.push(next_id(&out));
                out.push(x.clone());
                i += 1;
            }
            (None, None) => break,
        }
    }
    (out, ma, mb)
}
