//! The grouping loop: count a table's records into groups keyed by a packed integer.
//!
//! A key is `bucket * bucket_stride + Σ component * stride` (see [`Layout`]); components are
//! assigned in label order, so ascending key order is the row order of SPEC §6. When the key
//! space is small the counts live in a dense `Vec<u32>` indexed by key; otherwise in a
//! hashbrown map on the key. Either way the loop reads only integers: no allocation, no string
//! hashing, no clone per record. The hasher stays private to this file.

use hashbrown::HashMap;

use crate::engine::plan::{Key, Layout, Plan};
use crate::jobs::JobTable;
use crate::period::Buckets;
use crate::rows::RawRow;

/// Largest key space counted in a dense array (cells of 4 bytes: 16 MiB).
const DENSE_CELLS: u128 = 1 << 22;

/// Counts `table` under `plan`; returns the non-zero groups in key order.
pub(crate) fn count<K: Key>(table: &JobTable, plan: &Plan<K>, buckets: Buckets) -> Vec<RawRow> {
    if plan.is_empty || table.is_empty() {
        return Vec::new();
    }
    let ranges = bucket_ranges(&table.created, buckets);
    let dense = plan.layout.cells <= DENSE_CELLS && u32::try_from(table.len()).is_ok();
    if dense {
        count_dense(table, plan, &ranges)
    } else {
        count_hashed(table, plan, &ranges)
    }
}

/// The record index range of each bucket (the table is sorted by CreationDate).
fn bucket_ranges(created: &[i64], buckets: Buckets) -> Vec<(u8, usize, usize)> {
    (0..buckets.count())
        .map(|b| {
            let lo = created.partition_point(|&c| c < buckets.start(b).as_millis());
            let hi = created.partition_point(|&c| c < buckets.end(b).as_millis());
            (b, lo, hi.max(lo))
        })
        .filter(|&(_, lo, hi)| lo < hi)
        .collect()
}

/// The key of record `i` within bucket base `base`, or a key with the miss bit set.
#[inline(always)]
fn key_of<K: Key>(table: &JobTable, plan: &Plan<K>, base: K, i: usize) -> K {
    let miss = K::MISS;
    let g = |v: Option<&K>| v.copied().unwrap_or(miss);
    base.wrapping_add(g(plan.region.get(table.region[i] as usize)))
        .wrapping_add(g(plan.account.get(table.account[i] as usize)))
        .wrapping_add(plan.state[usize::from(table.state[i] & 15)])
        .wrapping_add(g(plan.resource_type.get(table.resource_type[i] as usize)))
        .wrapping_add(g(plan.category.get(table.category[i] as usize)))
        .wrapping_add(plan.extra[usize::from(table.extra[i] & 15)])
}

fn count_dense<K: Key>(table: &JobTable, plan: &Plan<K>, ranges: &[(u8, usize, usize)]) -> Vec<RawRow> {
    let cells = usize::try_from(plan.layout.cells).unwrap_or(0);
    let mut counts = vec![0u32; cells];
    for &(b, lo, hi) in ranges {
        let base = K::from_u128(u128::from(b) * plan.layout.bucket_stride);
        for i in lo..hi {
            let key = key_of(table, plan, base, i);
            // Any excluded value makes the key >= Key::MISS, outside the dense range, so this
            // one bounds check filters every excluded record.
            if let Some(c) = usize::try_from(key.to_u128()).ok().and_then(|k| counts.get_mut(k)) {
                *c += 1;
            }
        }
    }
    counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c != 0)
        .map(|(key, &c)| raw_row(&plan.layout, key as u128, u64::from(c)))
        .collect()
}

fn count_hashed<K: Key>(table: &JobTable, plan: &Plan<K>, ranges: &[(u8, usize, usize)]) -> Vec<RawRow> {
    let mut groups: HashMap<K, u64> = HashMap::new();
    for &(b, lo, hi) in ranges {
        let base = K::from_u128(u128::from(b) * plan.layout.bucket_stride);
        for i in lo..hi {
            let key = key_of(table, plan, base, i);
            if key.to_u128() < plan.layout.cells {
                *groups.entry(key).or_insert(0) += 1;
            }
        }
    }
    let mut keyed: Vec<(K, u64)> = groups.into_iter().collect();
    keyed.sort_unstable_by_key(|&(k, _)| k);
    keyed
        .into_iter()
        .map(|(k, c)| raw_row(&plan.layout, k.to_u128(), c))
        .collect()
}

fn raw_row(layout: &Layout, key: u128, count: u64) -> RawRow {
    let (bucket, ids) = layout.decode(key);
    RawRow { bucket, ids, count }
}
