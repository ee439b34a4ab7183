//! The grouping loop: count a table's records into groups keyed by a packed integer.
//!
//! A key is `bucket * bucket_stride + Σ component * stride` (see [`Layout`]); components are
//! assigned in label order, so ascending key order is the row order of SPEC §6. When the key
//! space is small the counts live in a dense `Vec<u32>` indexed by key; otherwise in a
//! hashbrown map on the key. The window is found by binary search over the CreationDate
//! column, bucket by bucket, so the loop never reads a date.
//!
//! Before the loop, each packed field of the table is classified for the query: *constant*
//! (every value present maps to the same offset: not read at all), *filtered* (exactly one
//! value present passes: checked with one mask compare for all such fields together) or
//! *looked up* (an offset table indexed by the field). The loop is monomorphized on the
//! number of looked-up fields, so it reads only integers: no allocation, no string hashing,
//! no clone per record. The hasher stays private to this file.

use hashbrown::HashMap;

use crate::engine::plan::{Key, Layout, Plan};
use crate::jobs::{JobTable, Packing, Word, Words, EXTRA, PACKED, STATE};
use crate::period::Buckets;
use crate::rows::{RawRow, FIELDS};

/// Largest key space counted in a dense array (cells of 4 bytes: 16 MiB).
const DENSE_CELLS: u128 = 1 << 22;
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

/// Counts in `lanes` copies of `cells` counters (lane-major), consecutive jobs going to
/// different copies: with few cells, consecutive jobs of one group would otherwise wait on
/// each other's increment of the same counter.
struct Dense {
    counts: Vec<u32>,
    cells: usize,
    lanes: usize,
}

/// One copy of each counter (larger key spaces, where increments rarely collide).
struct DenseOne {
    counts: Vec<u32>,
}

struct Hashed<K> {
    groups: HashMap<K, u64>,
    cells: u128,
}

impl<K: Key> Counter<K> for Dense {
    #[inline(always)]
    fn add(&mut self, lane: usize, key: K, n: u64) {
        // Any excluded value makes the key >= Key::MISS, outside the dense range, so this one
        // range check filters every excluded record. A dense table has fewer than 2^32 jobs,
        // so no counter can wrap.
        let k = key.to_u128();
        if k < self.cells as u128 {
            let at = (lane & (self.lanes - 1)) * self.cells + k as usize;
            if let Some(c) = self.counts.get_mut(at) {
                *c = c.wrapping_add(n as u32);
            }
        }
    }
}

impl<K: Key> Counter<K> for DenseOne {
    #[inline(always)]
    fn add(&mut self, _lane: usize, key: K, n: u64) {
        // As for `Dense`: an excluded key is out of range; counters cannot wrap.
        if let Some(c) = usize::try_from(key.to_u128())
            .ok()
            .and_then(|k| self.counts.get_mut(k))
        {
            *c = c.wrapping_add(n as u32);
        }
    }
}

impl<K: Key> Counter<K> for Hashed<K> {
    #[inline(always)]
    fn add(&mut self, _lane: usize, key: K, n: u64) {
        if key.to_u128() < self.cells {
            *self.groups.entry(key).or_insert(0) += n;
        }
    }
}

/// Counts `table` under `plan`; returns the non-zero groups in key order.
pub(crate) fn count<K: Key>(table: &JobTable, plan: &Plan<K>, buckets: Buckets) -> Vec<RawRow> {
    if plan.is_empty || table.is_empty() {
        return Vec::new();
    }
    let Some(kernel) = compile(table, plan) else {
        return Vec::new();
    };
    let ranges = bucket_ranges(&table.created, buckets);
    let layout = &plan.layout;
    let dense = layout.cells <= DENSE_CELLS && u32::try_from(table.len()).is_ok();
    if dense {
        let cells = usize::try_from(layout.cells).unwrap_or(0);
        if cells > LANED_CELLS {
            let mut c = DenseOne {
                counts: vec![0; cells],
            };
            scan(table, &kernel, layout, &ranges, &mut c);
            return dense_rows(layout, &c.counts);
        }
        let lanes = LANES;
        let mut c = Dense {
            counts: vec![0; cells * lanes],
            cells,
            lanes,
        };
        scan(table, &kernel, layout, &ranges, &mut c);
        let (first, rest) = c.counts.split_at_mut(cells);
        for lane in rest.chunks(cells) {
            for (total, n) in first.iter_mut().zip(lane) {
                *total = total.wrapping_add(*n);
            }
        }
        dense_rows(layout, first)
    } else {
        let mut c = Hashed {
            groups: HashMap::new(),
            cells: layout.cells,
        };
        scan(table, &kernel, layout, &ranges, &mut c);
        let mut keyed: Vec<(K, u64)> = c.groups.into_iter().collect();
        keyed.sort_unstable_by_key(|&(k, _)| k);
        keyed
            .into_iter()
            .map(|(k, n)| raw_row(layout, k.to_u128(), n))
            .collect()
    }
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
            STATE => sym < 16 && table.states_present & (1 << sym) != 0,
            EXTRA => sym < 16 && table.extras_present & (1 << sym) != 0,
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
    table: &JobTable,
    kernel: &Kernel<'_, K>,
    layout: &Layout,
    ranges: &[(u8, usize, usize)],
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
    match &table.words {
        Words::Narrow(w) => scan_words(w, kernel, layout, ranges, counter, &l),
        Words::Wide(w) => scan_words(w, kernel, layout, ranges, counter, &l),
    }
}

fn scan_words<W: Word, K: Key, C: Counter<K>>(
    words: &[W],
    kernel: &Kernel<'_, K>,
    layout: &Layout,
    ranges: &[(u8, usize, usize)],
    counter: &mut C,
    l: &[Lookup<'_, K>],
) {
    match *l {
        [] => scan_n::<W, K, C, 0>(words, kernel, layout, ranges, counter, []),
        [a] => scan_n(words, kernel, layout, ranges, counter, [a]),
        [a, b] => scan_n(words, kernel, layout, ranges, counter, [a, b]),
        [a, b, c] => scan_n(words, kernel, layout, ranges, counter, [a, b, c]),
        [a, b, c, d] => scan_n(words, kernel, layout, ranges, counter, [a, b, c, d]),
        [a, b, c, d, e] => scan_n(words, kernel, layout, ranges, counter, [a, b, c, d, e]),
        [a, b, c, d, e, f] => scan_n(words, kernel, layout, ranges, counter, [a, b, c, d, e, f]),
        // At most one lookup per packed field.
        _ => {}
    }
}

#[inline(never)]
fn scan_n<W: Word, K: Key, C: Counter<K>, const N: usize>(
    words: &[W],
    kernel: &Kernel<'_, K>,
    layout: &Layout,
    ranges: &[(u8, usize, usize)],
    counter: &mut C,
    lookups: [Lookup<'_, K>; N],
) {
    for &(b, lo, hi) in ranges {
        let base = K::from_u128(u128::from(b) * layout.bucket_stride).wrapping_add(kernel.base);
        let Some(slice) = words.get(lo..hi) else {
            continue;
        };
        if N == 0 && kernel.mask == 0 {
            // Nothing to read: the whole bucket is one group.
            counter.add(0, base, slice.len() as u64);
            continue;
        }
        if kernel.mask == 0 {
            scan_slice::<W, K, C, N, false>(slice, kernel, base, counter, &lookups);
        } else {
            scan_slice::<W, K, C, N, true>(slice, kernel, base, counter, &lookups);
        }
    }
}

/// The innermost loop over one bucket's words; `FILTERED` is false when no field is
/// mask-filtered, so the compare disappears.
#[inline(always)]
fn scan_slice<W: Word, K: Key, C: Counter<K>, const N: usize, const FILTERED: bool>(
    slice: &[W],
    kernel: &Kernel<'_, K>,
    base: K,
    counter: &mut C,
    lookups: &[Lookup<'_, K>; N],
) {
    for (lane, &w) in slice.iter().enumerate() {
        if FILTERED && !w.matches(kernel.mask, kernel.value) {
            continue;
        }
        let mut key = base;
        for l in lookups {
            key = key.wrapping_add(
                l.map
                    .get(w.field(l.shift, l.mask))
                    .copied()
                    .unwrap_or(K::MISS),
            );
        }
        counter.add(lane, key, 1);
    }
}

/// The record index range of each bucket (the table is sorted by CreationDate).
fn bucket_ranges(created: &[i64], buckets: Buckets) -> Vec<(u8, usize, usize)> {
    (0..buckets.count())
        .map(|b| {
            let lo = created.partition_point(|&c| c < buckets.start(b).as_millis());
            let hi = match buckets.end_millis(b) {
                Some(end) => created.partition_point(|&c| c < end),
                None => created.len(),
            };
            (b, lo, hi.max(lo))
        })
        .filter(|&(_, lo, hi)| lo < hi)
        .collect()
}

/// The non-zero cells of a dense count array, decoded without division: cells come in
/// chunks of the innermost split field, and the outer key digits (bucket, then the fields)
/// advance like an odometer once per chunk.
fn dense_rows(layout: &Layout, counts: &[u32]) -> Vec<RawRow> {
    let radix = layout.radix.map(|r| r.max(1));
    let inner = (0..FIELDS).rev().find(|&f| radix[f] > 1);
    let chunk = inner.map_or(1, |f| radix[f] as usize);
    let mut bucket = 0u8;
    let mut ids = [0u32; FIELDS];
    let mut rows = Vec::new();
    for cells in counts.chunks(chunk) {
        for (j, &n) in cells.iter().enumerate() {
            if n != 0 {
                let mut row_ids = ids;
                if let Some(f) = inner {
                    row_ids[f] = u32::try_from(j).unwrap_or(0);
                }
                rows.push(RawRow {
                    bucket,
                    ids: row_ids,
                    count: u64::from(n),
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
    rows
}

fn raw_row(layout: &Layout, key: u128, count: u64) -> RawRow {
    let (bucket, ids) = layout.decode(key);
    RawRow { bucket, ids, count }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::{AggregationPeriod, DayGrid};
    use crate::time::UnixMillis;

    const DAY: i64 = 86_400_000;
    /// 2026-11-26T00:00:00Z.
    const TODAY: i64 = 1_795_651_200_000;

    #[test]
    fn bucket_ranges_are_half_open_at_every_edge() {
        let now = UnixMillis::new(TODAY + 1);
        let b = Buckets::new(AggregationPeriod::OneDay, DayGrid::ThroughToday, now);
        let first = TODAY - 13 * DAY;
        let created = [
            first - 1,       // before the window
            first,           // bucket 0
            first + DAY - 1, // bucket 0
            first + DAY,     // bucket 1
            TODAY - 1,       // bucket 12
            TODAY,           // bucket 13
            TODAY + DAY - 1, // bucket 13
            TODAY + DAY,     // after the window
        ];
        assert_eq!(
            bucket_ranges(&created, b),
            vec![(0, 1, 3), (1, 3, 4), (12, 4, 5), (13, 5, 7)]
        );
        let seven = Buckets::new(AggregationPeriod::SevenDays, DayGrid::PriorFullDays, now);
        let created = [TODAY - 7 * DAY - 1, TODAY - 7 * DAY, TODAY - 1, TODAY];
        assert_eq!(bucket_ranges(&created, seven), vec![(0, 1, 3)]);
    }

    #[test]
    fn the_last_bucket_reaches_the_end_of_time() {
        let b = Buckets::new(
            AggregationPeriod::OneDay,
            DayGrid::ThroughToday,
            UnixMillis::new(i64::MAX),
        );
        let created = [i64::MAX - 1, i64::MAX];
        assert_eq!(bucket_ranges(&created, b), vec![(13, 0, 2)]);
    }
}
