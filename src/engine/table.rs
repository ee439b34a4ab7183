//! The grouping loop: add a table's cube cells into groups keyed by a packed integer.
//!
//! A key is `bucket * bucket_stride + Σ component * stride` (see [`Layout`]); components are
//! assigned in label order, so ascending key order is the row order of SPEC §6. When the key
//! space is small the counts live in a dense `Vec<u64>` indexed by key; otherwise in a
//! hashbrown map on the key. The window is a range of the table's days, bucket by bucket,
//! so the loop never reads a date; each cell adds its count.
//!
//! Before the loop, each packed field of the table is classified for the query: *constant*
//! (every value present maps to the same offset: not read at all), *filtered* (exactly one
//! value present passes: checked with one mask compare for all such fields together) or
//! *looked up* (an offset table indexed by the field). The loop is monomorphized on the
//! number of looked-up fields, so it reads only integers: no allocation, no string hashing,
//! no clone per record. The hasher stays private to this file.

use std::collections::HashSet;

use crate::engine::plan::{Key, Layout, Plan};
use crate::intern::{EXTRA, PACKED, STATE};
use crate::jobs::{Day, JobTable, Packing, Word, Words};
use crate::period::Buckets;
use crate::query::Query;
use crate::rows::{label_id, Labels, RawRow, FIELDS};
use crate::schema::SCAN_CODES;
use crate::scope::Caller;

/// Largest key space of one bucket counted in a dense array (slots of 8 bytes: 8 MiB).
const DENSE_CELLS: u128 = 1 << 20;
/// Above [`LANED_CELLS`], a dense array (one bucket's key space, reused for each bucket) is
/// used only while it reads at most this many slots per cell read: a slot costs about a
/// nanosecond, a sorted cell some tens (measured on 2M synthetic jobs, Q1).
const DENSE_PER_INPUT: u128 = 16;
/// Key spaces up to this many cells get [`LANES`] interleaved copies of their counters.
const LANED_CELLS: usize = 1 << 12;
/// Copies of each counter for small key spaces (a power of two).
const LANES: usize = 4;

/// Widest bit range one lookup table covers (4096 entries).
const FUSE_BITS: u32 = 12;

/// One lookup: a bit range of the word and the offset each value of it adds.
#[derive(Clone, Copy)]
struct Lookup<'a, K> {
    shift: u32,
    mask: u32,
    map: &'a [K],
}

/// A looked-up field before fusion: its bits and its per-value offsets.
struct LookedUp<'a, K> {
    shift: u32,
    width: u32,
    map: &'a [K],
}

/// The compiled form of a plan for one table.
struct Kernel<'a, K> {
    mask: u128,
    value: u128,
    base: K,
    fields: Vec<LookedUp<'a, K>>,
}

/// Where counts go. `lane` is any number; counters may use it to spread increments.
trait Counter<K> {
    fn add(&mut self, lane: usize, key: K, n: u64);
}

/// Counts in `lanes` copies of `cells` counters (lane-major), consecutive cells going to
/// different copies: with few groups, consecutive cells of one group would otherwise wait on
/// each other's increment of the same counter.
struct Dense {
    counts: Vec<u64>,
    cells: usize,
    lanes: usize,
}

/// One copy of each counter (larger key spaces, where increments rarely collide).
struct DenseOne {
    counts: Vec<u64>,
}

/// Collects (key, count) pairs of the cells that pass, to be sorted.
struct Collect<K> {
    pairs: Vec<(K, u64)>,
    cells: u128,
}

impl<K: Key> Counter<K> for Dense {
    #[inline(always)]
    fn add(&mut self, lane: usize, key: K, n: u64) {
        // Any excluded value makes the key >= Key::MISS, outside the dense range, so this one
        // range check filters every excluded cell. Counts are sums of a table's cell counts,
        // whose total fits a u64.
        let k = key.to_u128();
        if k < self.cells as u128 {
            let at = (lane & (self.lanes - 1)) * self.cells + k as usize;
            if let Some(c) = self.counts.get_mut(at) {
                *c += n;
            }
        }
    }
}

impl<K: Key> Counter<K> for DenseOne {
    #[inline(always)]
    fn add(&mut self, _lane: usize, key: K, n: u64) {
        // As for `Dense`: an excluded key is out of range.
        if let Some(c) = usize::try_from(key.to_u128())
            .ok()
            .and_then(|k| self.counts.get_mut(k))
        {
            *c += n;
        }
    }
}

impl<K: Key> Counter<K> for Collect<K> {
    #[inline(always)]
    fn add(&mut self, _lane: usize, key: K, n: u64) {
        if key.to_u128() < self.cells && n > 0 {
            self.pairs.push((key, n));
        }
    }
}

/// The counting strategy a pass used (for tests and benches).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Path {
    /// Nothing could match: no cell was read.
    Skipped,
    /// Several interleaved copies of a small dense array.
    Laned,
    /// One dense array.
    Dense,
    /// Each bucket's (key, count) pairs, sorted and merged.
    Sorted,
}

/// Counts `table` for `query` and `caller`: the non-zero groups in key order, the labels
/// of their components, and the path taken.
///
/// A dense array over the exact (mixed-radix) key space is used while it is small and not
/// much larger than the number of cells read; otherwise each bucket's passing cells are
/// collected as (key, count) pairs under a bit-packed key, sorted and merged.
pub(crate) fn count(
    query: &Query,
    caller: &Caller,
    table: &JobTable,
    buckets: Buckets,
) -> (Vec<RawRow>, [Labels; FIELDS], Path) {
    let n = buckets.count();
    let ranges = bucket_days(table, buckets);
    let input: usize = ranges.iter().map(|(_, d)| d.counts.len()).sum();
    if let Some(plan) = Plan::<u64>::new(query, caller, table, n, false) {
        let layout = &plan.layout;
        let buckets_read = ranges
            .iter()
            .map(|(b, _)| *b)
            .collect::<HashSet<u8>>()
            .len();
        let slots_read = layout.bucket_stride.saturating_mul(buckets_read as u128);
        let dense = layout.cells <= LANED_CELLS as u128
            || layout.bucket_stride <= DENSE_CELLS
                && slots_read <= (input as u128).saturating_mul(DENSE_PER_INPUT);
        if plan.is_empty || input == 0 || dense {
            let (rows, path) = count_dense(table, &plan, &ranges);
            return (rows, plan.labels, path);
        }
    }
    if let Some(plan) = Plan::<u64>::new(query, caller, table, n, true) {
        let rows = count_sorted(table, &plan, &ranges);
        return (rows, plan.labels, Path::Sorted);
    }
    match Plan::<u128>::new(query, caller, table, n, true) {
        Some(plan) => {
            let rows = count_sorted(table, &plan, &ranges);
            (rows, plan.labels, Path::Sorted)
        }
        None => {
            // Bit-packed keys need at most 4 bucket bits, 28 bits for each of accounts,
            // resource types and categories, 4 for states and 2 each for the scan fields:
            // 96 bits, within a u128 key's limit.
            debug_assert!(false, "a bit-packed u128 key always fits");
            (Vec::new(), Default::default(), Path::Skipped)
        }
    }
}

/// Counts into a dense array indexed by the exact key.
fn count_dense<K: Key>(
    table: &JobTable,
    plan: &Plan<K>,
    ranges: &[(u8, &Day)],
) -> (Vec<RawRow>, Path) {
    if plan.is_empty || ranges.is_empty() {
        return (Vec::new(), Path::Skipped);
    }
    let Some(kernel) = compile(table, plan) else {
        return (Vec::new(), Path::Skipped);
    };
    let layout = &plan.layout;
    // The caller checked layout.cells <= DENSE_CELLS, so it fits a usize.
    let cells = layout.cells as usize;
    if cells > LANED_CELLS {
        // One bucket's key space at a time, in one array reused (and so faulted in once).
        // The caller checked bucket_stride <= DENSE_CELLS, so it fits a usize.
        let mut c = DenseOne {
            counts: vec![0; layout.bucket_stride as usize],
        };
        let mut rows = Vec::with_capacity(row_bound(layout, ranges));
        for (bucket, run) in bucket_runs(ranges) {
            let days: Vec<(u8, &Day)> = run.iter().map(|&(_, d)| (0, d)).collect();
            scan(&kernel, layout, &days, &mut c);
            dense_rows(layout, &c.counts, bucket, &mut rows);
            c.counts.fill(0);
        }
        return (rows, Path::Dense);
    }
    let lanes = LANES;
    let mut c = Dense {
        counts: vec![0; cells * lanes],
        cells,
        lanes,
    };
    scan(&kernel, layout, ranges, &mut c);
    let (first, rest) = c.counts.split_at_mut(cells);
    for lane in rest.chunks(cells) {
        for (total, n) in first.iter_mut().zip(lane) {
            *total += *n;
        }
    }
    let mut rows = Vec::with_capacity(row_bound(layout, ranges));
    dense_rows(layout, first, 0, &mut rows);
    (rows, Path::Laned)
}

/// The most rows a pass can make: no more groups than cells read, nor than keys. Reserving
/// it once saves the copies of a growing row list (several MB for Q1 on 10M jobs).
fn row_bound(layout: &Layout, ranges: &[(u8, &Day)]) -> usize {
    let cells_read: usize = ranges.iter().map(|(_, d)| d.counts.len()).sum();
    usize::try_from(layout.cells).map_or(cells_read, |keys| keys.min(cells_read))
}

/// Counts by sorting each bucket's (key, count) pairs; keys are bit-packed, so decoding a
/// group is shifts and masks.
fn count_sorted<K: Key>(table: &JobTable, plan: &Plan<K>, ranges: &[(u8, &Day)]) -> Vec<RawRow> {
    if plan.is_empty || ranges.is_empty() {
        return Vec::new();
    }
    let Some(kernel) = compile(table, plan) else {
        return Vec::new();
    };
    let layout = &plan.layout;
    let mut pairs = Collect {
        pairs: Vec::new(),
        cells: layout.cells,
    };
    let mut rows = Vec::with_capacity(row_bound(layout, ranges));
    for (_, run) in bucket_runs(ranges) {
        pairs.pairs.clear();
        scan(&kernel, layout, run, &mut pairs);
        pairs.pairs.sort_unstable_by_key(|&(k, _)| k);
        let mut groups = pairs.pairs.iter().peekable();
        while let Some(&(key, mut n)) = groups.next() {
            while let Some(&(_, more)) = groups.next_if(|(k, _)| *k == key) {
                n += more;
            }
            // Cells whose jobs all moved on add 0: such groups are no rows (SPEC §6).
            if n > 0 {
                rows.push(raw_row(layout, key.to_u128(), n));
            }
        }
    }
    rows
}

/// The days of each bucket in turn, with the bucket: `ranges` comes in bucket order
/// ([`bucket_days`]), so each bucket's days are one run.
fn bucket_runs<'r, 'd>(
    ranges: &'r [(u8, &'d Day)],
) -> impl Iterator<Item = (u8, &'r [(u8, &'d Day)])> {
    ranges
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|run| Some((run.first()?.0, run)))
}

/// Classifies every packed field; `None` when no record can match.
fn compile<'a, K: Key>(table: &JobTable, plan: &'a Plan<K>) -> Option<Kernel<'a, K>> {
    let packing: &Packing = &table.packing;
    let mut kernel = Kernel {
        mask: 0,
        value: 0,
        base: K::from_u128(0),
        fields: Vec::new(),
    };
    for f in 0..PACKED {
        let map = &plan.maps[f];
        let present = |sym: usize| match f {
            STATE => sym < 16 && table.dims.states_present & (1 << sym) != 0,
            EXTRA => sym < SCAN_CODES && table.dims.extras_present & (1 << sym) != 0,
            _ => true,
        };
        let mut passing = map
            .iter()
            .enumerate()
            .filter(|&(sym, off)| present(sym) && !off.is_miss());
        let all_pass = map
            .iter()
            .enumerate()
            .all(|(sym, off)| !present(sym) || !off.is_miss());
        let first = passing.next()?;
        let second = passing.next();
        let same_offset = map
            .iter()
            .enumerate()
            .filter(|&(sym, _)| present(sym))
            .all(|(_, off)| *off == *first.1);
        if all_pass && same_offset {
            kernel.base = kernel.base.wrapping_add(*first.1);
        } else if second.is_none() {
            let (shift, width) = (packing.shift[f], packing.width[f]);
            kernel.mask |= ((1u128 << width) - 1) << shift;
            kernel.value |= (first.0 as u128) << shift;
            kernel.base = kernel.base.wrapping_add(*first.1);
        } else {
            kernel.fields.push(LookedUp {
                shift: packing.shift[f],
                width: packing.width[f],
                map,
            });
        }
    }
    Some(kernel)
}

/// Fuses neighbouring looked-up fields into one table when their bits (with anything between
/// them) span at most [`FUSE_BITS`]: one load then replaces several. Each entry is the sum of
/// the fields' offsets for that bit pattern, or a miss if any field misses.
fn fuse<K: Key>(fields: &[LookedUp<'_, K>]) -> Vec<(u32, u32, Vec<K>)> {
    let mut out: Vec<(u32, u32, Vec<K>)> = Vec::new();
    let mut i = 0;
    while let Some(first) = fields.get(i) {
        let mut j = i + 1;
        while fields
            .get(j)
            .is_some_and(|f| f.shift + f.width - first.shift <= FUSE_BITS)
        {
            j += 1;
        }
        let group = &fields[i..j];
        let width = group
            .last()
            .map_or(first.width, |f| f.shift + f.width - first.shift)
            .min(32);
        let mask = if width >= 32 {
            u32::MAX
        } else {
            (1u32 << width) - 1
        };
        let map = if group.len() == 1 {
            first.map.to_vec()
        } else {
            (0..=mask as usize)
                .map(|bits| {
                    group.iter().fold(K::from_u128(0), |acc, f| {
                        let v = (bits >> (f.shift - first.shift)) & ((1usize << f.width) - 1);
                        match f.map.get(v) {
                            Some(&off) if !off.is_miss() && !acc.is_miss() => acc.wrapping_add(off),
                            _ => K::MISS,
                        }
                    })
                })
                .collect()
        };
        out.push((first.shift, mask, map));
        i = j;
    }
    out
}

/// Runs the loop, monomorphized on word width and number of lookups.
fn scan<K: Key, C: Counter<K>>(
    kernel: &Kernel<'_, K>,
    layout: &Layout,
    ranges: &[(u8, &Day)],
    counter: &mut C,
) {
    let fused = fuse(&kernel.fields);
    let l: Vec<Lookup<'_, K>> = fused
        .iter()
        .map(|(shift, mask, map)| Lookup {
            shift: *shift,
            mask: *mask,
            map,
        })
        .collect();
    debug_assert!(l.len() <= PACKED, "at most one lookup per packed field");
    match *l {
        [] => scan_n::<K, C, 0>(kernel, layout, ranges, counter, []),
        [a] => scan_n(kernel, layout, ranges, counter, [a]),
        [a, b] => scan_n(kernel, layout, ranges, counter, [a, b]),
        [a, b, c] => scan_n(kernel, layout, ranges, counter, [a, b, c]),
        [a, b, c, d] => scan_n(kernel, layout, ranges, counter, [a, b, c, d]),
        [a, b, c, d, e] => scan_n(kernel, layout, ranges, counter, [a, b, c, d, e]),
        [a, b, c, d, e, f] => scan_n(kernel, layout, ranges, counter, [a, b, c, d, e, f]),
        // compile() makes at most one lookup per packed field, and fusing only merges them
        // (asserted above). In release more lookups (a bug) would count nothing in this
        // scan: a missing row, never a miscounted one.
        _ => {}
    }
}

#[inline(never)]
fn scan_n<K: Key, C: Counter<K>, const N: usize>(
    kernel: &Kernel<'_, K>,
    layout: &Layout,
    ranges: &[(u8, &Day)],
    counter: &mut C,
    lookups: [Lookup<'_, K>; N],
) {
    for &(b, day) in ranges {
        let base = K::from_u128(u128::from(b) * layout.bucket_stride).wrapping_add(kernel.base);
        if N == 0 && kernel.mask == 0 {
            // Nothing to read: the whole day is one group.
            counter.add(0, base, day.counts.iter().sum());
            continue;
        }
        match &day.words {
            Words::Narrow(w) => scan_day(w, &day.counts, kernel, base, counter, &lookups),
            Words::Wide(w) => scan_day(w, &day.counts, kernel, base, counter, &lookups),
        }
    }
}

#[inline(always)]
fn scan_day<W: Word, K: Key, C: Counter<K>, const N: usize>(
    words: &[W],
    counts: &[u64],
    kernel: &Kernel<'_, K>,
    base: K,
    counter: &mut C,
    lookups: &[Lookup<'_, K>; N],
) {
    if kernel.mask == 0 {
        scan_slice::<W, K, C, N, false>(words, counts, kernel, base, counter, lookups);
    } else {
        scan_slice::<W, K, C, N, true>(words, counts, kernel, base, counter, lookups);
    }
}

/// The innermost loop over one day's cells; `FILTERED` is false when no field is
/// mask-filtered, so the compare disappears.
#[inline(always)]
fn scan_slice<W: Word, K: Key, C: Counter<K>, const N: usize, const FILTERED: bool>(
    words: &[W],
    counts: &[u64],
    kernel: &Kernel<'_, K>,
    base: K,
    counter: &mut C,
    lookups: &[Lookup<'_, K>; N],
) {
    for (lane, (&w, &n)) in words.iter().zip(counts).enumerate() {
        if FILTERED && !w.matches(kernel.mask, kernel.value) {
            continue;
        }
        let mut key = base;
        for l in lookups {
            // A plan's map has an entry for every id the table has interned, so the lookup
            // hits; debug builds assert it. In release an id past the map (a bug) is a miss:
            // the cell is left out, never counted under another group.
            let offset = l.map.get(w.field(l.shift, l.mask)).copied();
            debug_assert!(offset.is_some(), "a cell id outside its plan map");
            key = key.wrapping_add(offset.unwrap_or(K::MISS));
        }
        counter.add(lane, key, n);
    }
}

/// The days of each bucket, in order.
fn bucket_days(table: &JobTable, buckets: Buckets) -> Vec<(u8, &Day)> {
    (0..buckets.count())
        .flat_map(|b| {
            let (first, end) = buckets.day_range(b);
            table.days.range(first..end).map(move |(_, d)| (b, d))
        })
        .collect()
}

/// Appends the non-zero cells of a dense count array whose first key is bucket `bucket`'s
/// first, decoded without division: cells come in chunks of the innermost split field, and
/// the outer key digits (bucket, then the fields) advance like an odometer once per chunk.
fn dense_rows(layout: &Layout, counts: &[u64], bucket: u8, rows: &mut Vec<RawRow>) {
    let radix = layout.radix.map(|r| r.max(1));
    let inner = (0..FIELDS).rev().find(|&f| radix[f] > 1);
    let chunk = inner.map_or(1, |f| radix[f] as usize);
    let mut bucket = bucket;
    let mut ids = [0u32; FIELDS];
    for cells in counts.chunks(chunk) {
        for (j, &n) in cells.iter().enumerate() {
            if n != 0 {
                let mut row_ids = ids;
                if let Some(f) = inner {
                    // `j` is below the chunk, this field's radix, a u32.
                    row_ids[f] = label_id(j);
                }
                rows.push(RawRow {
                    bucket,
                    ids: row_ids,
                    count: n,
                });
            }
        }
        let mut f = inner.unwrap_or(0);
        loop {
            if f == 0 {
                bucket = bucket.wrapping_add(1);
                break;
            }
            f -= 1;
            ids[f] += 1;
            if ids[f] < radix[f] {
                break;
            }
            ids[f] = 0;
        }
    }
}

fn raw_row(layout: &Layout, key: u128, count: u64) -> RawRow {
    let (bucket, ids) = layout.decode(key);
    RawRow { bucket, ids, count }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::{AggregationPeriod, DayGrid};
    use crate::query::Dimension;
    use crate::record::{AccountId, JobRecord};
    use crate::schema::{Operation, State};
    use crate::time::{UnixMillis, DAY_MS};

    /// 2026-11-26T00:00:00Z.
    const TODAY: i64 = 1_795_651_200_000;

    fn table(created: &[i64]) -> Result<JobTable, Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Backup);
        for &ms in created {
            t.push(&JobRecord::new(
                AccountId::parse("123456789012")?,
                "us-east-1".parse()?,
                State::Completed,
                "EBS".parse()?,
                UnixMillis::new(ms),
            ))?;
        }
        Ok(t)
    }

    fn days_of(t: &JobTable, b: Buckets) -> Vec<(u8, u64)> {
        bucket_days(t, b)
            .into_iter()
            .map(|(b, d)| (b, d.counts.iter().sum()))
            .collect()
    }

    #[test]
    fn bucket_days_are_half_open_at_every_edge() -> Result<(), Box<dyn std::error::Error>> {
        let now = UnixMillis::new(TODAY + 1);
        let b = Buckets::new(AggregationPeriod::OneDay, DayGrid::ThroughToday, now);
        let first = TODAY - 13 * DAY_MS;
        let t = table(&[
            first - 1,          // before the window
            first,              // bucket 0
            first + DAY_MS - 1, // bucket 0
            first + DAY_MS,     // bucket 1
            TODAY - 1,          // bucket 12
            TODAY,              // bucket 13
            TODAY + DAY_MS - 1, // bucket 13
            TODAY + DAY_MS,     // after the window
        ])?;
        assert_eq!(days_of(&t, b), vec![(0, 2), (1, 1), (12, 1), (13, 2)]);
        let seven = Buckets::new(AggregationPeriod::SevenDays, DayGrid::PriorFullDays, now);
        let t = table(&[TODAY - 7 * DAY_MS - 1, TODAY - 7 * DAY_MS, TODAY - 1, TODAY])?;
        assert_eq!(days_of(&t, seven), vec![(0, 1), (0, 1)]);
        Ok(())
    }

    #[test]
    fn the_last_bucket_reaches_the_end_of_time() -> Result<(), Box<dyn std::error::Error>> {
        let b = Buckets::new(
            AggregationPeriod::OneDay,
            DayGrid::ThroughToday,
            UnixMillis::new(i64::MAX),
        );
        let t = table(&[i64::MAX - 1, i64::MAX])?;
        assert_eq!(days_of(&t, b), vec![(13, 2)]);
        Ok(())
    }

    /// Runs `query` over `t` and returns the path the kernel took.
    fn path_of(t: &JobTable, query: &Query, now: UnixMillis) -> Result<Path, String> {
        let caller = Caller::new(
            AccountId::parse("123456789012").map_err(|e| e.to_string())?,
            "us-east-1"
                .parse()
                .map_err(|e: crate::RecordError| e.to_string())?,
        );
        let buckets = Buckets::new(query.period(), query.day_grid(), now);
        Ok(count(query, &caller, t, buckets).2)
    }

    #[test]
    fn each_counting_path_runs_where_expected() -> Result<(), Box<dyn std::error::Error>> {
        let now = UnixMillis::new(TODAY + 1);
        let q = |state| Query::builder(Operation::Backup).state(state).build();
        let empty = JobTable::new(Operation::Backup);
        assert_eq!(path_of(&empty, &q(Dimension::Split)?, now)?, Path::Skipped);
        let small = table(&[TODAY, TODAY - DAY_MS])?;
        assert_eq!(path_of(&small, &q(Dimension::Split)?, now)?, Path::Laned);
        // 3000 resource types, each on one of the 14 days, split by type: a key space of
        // 3,000 per bucket (too many for lanes), 42,000 slots read for 3,000 cells read.
        let mut wide = JobTable::new(Operation::Backup);
        for i in 0..3000 {
            wide.push(&JobRecord::new(
                AccountId::parse("123456789012")?,
                "us-east-1".parse()?,
                State::Completed,
                format!("T{i}").parse()?,
                UnixMillis::new(TODAY - (i % 14) * DAY_MS),
            ))?;
        }
        let split_types = Query::builder(Operation::Backup)
            .resource_type(Dimension::Split)
            .build()?;
        assert_eq!(path_of(&wide, &split_types, now)?, Path::Dense);
        // Split by state too: 9 times the slots (378,000) for the same cells, over 16 a
        // cell, so it is sorted.
        let sparse = Query::builder(Operation::Backup)
            .resource_type(Dimension::Split)
            .state(Dimension::Split)
            .build()?;
        assert_eq!(path_of(&wide, &sparse, now)?, Path::Sorted);
        Ok(())
    }
}
