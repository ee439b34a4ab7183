//! A query resolved against one [`JobTable`]: per-symbol lookup tables that turn a record's
//! interned ids into a group-key offset, and the label each group component stands for.
//!
//! This is where SPEC §3 (dimension modes) and §4 (who sees what) become data. It runs once
//! per query and table, in time proportional to the number of distinct values, never per
//! record.

use crate::intern::{ACCOUNT, CATEGORY, EXTRA, PACKED, REGION, RESOURCE_TYPE, STATE};
use crate::jobs::JobTable;
use crate::query::{Dimension, Query};
use crate::record::AccountId;
use crate::rows::{label_id, Labels, FIELDS};
use crate::schema::{
    scan_code, Field, MalwareScanner, Operation, ScanResultStatus, State, SCAN_CODES,
    SCAN_PART_CODES,
};
use crate::scope::Caller;

/// The literal a collapsed dimension shows (SPEC §3, D).
pub(crate) const AGGREGATE_ALL: &str = "AGGREGATE_ALL";

/// A group-key width: `u64` when the key space fits, `u128` otherwise.
pub(crate) trait Key:
    Copy + Eq + Ord + std::hash::Hash + std::fmt::Debug + Into<u128>
{
    /// The offset of an excluded value. Every real key is below it, and a sum of up to six
    /// offsets (some of them misses) never wraps, so any miss makes the key `>= MISS`.
    const MISS: Self;
    /// Largest key space this width handles (leaves room for the flag bit).
    const LIMIT: u128;
    fn from_u128(v: u128) -> Self;
    fn wrapping_add(self, other: Self) -> Self;
    #[inline]
    fn to_u128(self) -> u128 {
        self.into()
    }
    #[inline]
    fn is_miss(self) -> bool {
        self >= Self::MISS
    }
}

impl Key for u64 {
    const MISS: Self = 1 << 60;
    const LIMIT: u128 = 1 << 56;
    /// Every key a plan builds is below [`Key::LIMIT`] (`Plan::new` refuses larger key
    /// spaces), so it fits; debug builds assert it. In release a larger value (a bug) becomes
    /// [`Key::MISS`]: its jobs are left out rather than counted under another group.
    #[inline]
    fn from_u128(v: u128) -> Self {
        debug_assert!(v < Self::LIMIT, "key {v} beyond the u64 key space");
        Self::try_from(v).unwrap_or(Self::MISS)
    }
    #[inline]
    fn wrapping_add(self, other: Self) -> Self {
        Self::wrapping_add(self, other)
    }
}

impl Key for u128 {
    const MISS: Self = 1 << 124;
    const LIMIT: Self = 1 << 120;
    #[inline]
    fn from_u128(v: u128) -> Self {
        v
    }
    #[inline]
    fn wrapping_add(self, other: Self) -> Self {
        Self::wrapping_add(self, other)
    }
}

/// One dimension resolved: component of each symbol (`None` = excluded) and the labels.
struct Resolved {
    comps: Vec<Option<u32>>,
    labels: Labels,
}

/// The key layout shared by every table a query runs on: radices and strides, bucket most
/// significant, then the fields in [`Field::ALL`] order.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub(crate) radix: [u32; FIELDS],
    pub(crate) stride: [u128; FIELDS],
    pub(crate) bucket_stride: u128,
    pub(crate) cells: u128,
    /// For a bit-packed layout (every stride a power of two): each field's shift and mask,
    /// and the bucket's shift, so a key decodes without division.
    pub(crate) bits: Option<([u32; FIELDS], [u128; FIELDS], u32)>,
}

/// Lookup tables from interned ids to key offsets, one per packed field of the table
/// (indexed as [`crate::intern::REGION`] ...), plus the label of each key component.
#[derive(Debug)]
pub(crate) struct Plan<K> {
    pub(crate) layout: Layout,
    pub(crate) labels: [Labels; FIELDS],
    pub(crate) maps: [Vec<K>; PACKED],
    /// Whether no record can match (a filter value absent from the table, say).
    pub(crate) is_empty: bool,
}

impl Layout {
    /// Radices in [`Field::ALL`] order and the bucket count: a mixed-radix layout, as
    /// compact as the key space (for dense arrays).
    pub(crate) fn new(radix: [u32; FIELDS], buckets: u8) -> Self {
        Self::with_field_sizes(radix, radix.map(|r| r.max(1)), buckets, None)
    }

    /// The same key order with every field rounded up to a power of two: keys decode with
    /// shifts and masks (for sorted counting, which decodes every group).
    pub(crate) fn bit_packed(radix: [u32; FIELDS], buckets: u8) -> Self {
        let sizes = radix.map(|r| r.max(1).next_power_of_two());
        let mut shifts = [0u32; FIELDS];
        let mut at = 0;
        for i in (0..FIELDS).rev() {
            shifts[i] = at;
            at += sizes[i].trailing_zeros();
        }
        let masks = sizes.map(|s| u128::from(s) - 1);
        Self::with_field_sizes(radix, sizes, buckets, Some((shifts, masks, at)))
    }

    fn with_field_sizes(
        radix: [u32; FIELDS],
        sizes: [u32; FIELDS],
        buckets: u8,
        bits: Option<([u32; FIELDS], [u128; FIELDS], u32)>,
    ) -> Self {
        let mut stride = [0u128; FIELDS];
        let mut acc: u128 = 1;
        for i in (0..FIELDS).rev() {
            stride[i] = acc;
            acc = acc.saturating_mul(u128::from(sizes[i]));
        }
        let bucket_stride = acc;
        let cells = acc.saturating_mul(u128::from(buckets.max(1)));
        Self {
            radix,
            stride,
            bucket_stride,
            cells,
            bits,
        }
    }

    /// The bucket and components of a key.
    #[inline]
    pub(crate) fn decode(&self, key: u128) -> (u8, [u32; FIELDS]) {
        if let Some((shifts, masks, bucket_shift)) = &self.bits {
            // Fields are at most 28 bits wide and there are at most 14 buckets.
            let bucket = (key >> bucket_shift) as u8;
            let ids = std::array::from_fn(|i| ((key >> shifts[i]) & masks[i]) as u32);
            return (bucket, ids);
        }
        if let (Ok(key), Ok(bucket_stride)) =
            (u64::try_from(key), u64::try_from(self.bucket_stride))
        {
            // The common case, in 64-bit arithmetic (u128 division is a slow library call).
            // A field's stride divides the bucket stride, so it fits a u64 too; a digit is
            // below its radix, a u32, so the casts are exact.
            let rest = key % bucket_stride;
            let ids = std::array::from_fn(|i| {
                let stride = self.stride[i] as u64;
                ((rest / stride) % u64::from(self.radix[i].max(1))) as u32
            });
            return (self.bucket_of(u128::from(key / bucket_stride)), ids);
        }
        let rest = key % self.bucket_stride;
        let ids = std::array::from_fn(|i| {
            // Below the radix, a u32: the cast is exact.
            ((rest / self.stride[i]) % u128::from(self.radix[i].max(1))) as u32
        });
        (self.bucket_of(key / self.bucket_stride), ids)
    }

    /// The bucket digit of a key. Keys are below [`Layout::cells`], so it is below the
    /// bucket count (at most 14); debug builds assert it. In release a larger digit (a bug)
    /// saturates to `u8::MAX`, a bucket past the window.
    fn bucket_of(&self, digit: u128) -> u8 {
        debug_assert!(
            digit * self.bucket_stride < self.cells,
            "bucket digit {digit} beyond the key space"
        );
        u8::try_from(digit).unwrap_or(u8::MAX)
    }
}

impl<K: Key> Plan<K> {
    /// Resolves `query` for `caller` against `table` with `buckets` buckets. `None` when the
    /// key space is too large for this key width.
    pub(crate) fn new(
        query: &Query,
        caller: &Caller,
        table: &JobTable,
        buckets: u8,
        bit_packed: bool,
    ) -> Option<Self> {
        let op = query.operation();
        let scanners: Vec<(u8, &str)> = MalwareScanner::ALL
            .iter()
            .map(|s| (s.code(), s.as_str()))
            .collect();
        let results: Vec<(u8, &str)> = ScanResultStatus::ALL
            .iter()
            .map(|s| (s.code(), s.as_str()))
            .collect();
        let fields: [Resolved; FIELDS] = [
            account(query, caller, table),
            state(query, op),
            resource_type(query, table),
            category(query, table),
            small(
                op,
                Field::MalwareScanner,
                query.malware_scanner(),
                &scanners,
                |v| (v.code(), v.as_str()),
            ),
            small(
                op,
                Field::ScanResultStatus,
                query.scan_result_status(),
                &results,
                |v| (v.code(), v.as_str()),
            ),
        ];
        let radix = fields.each_ref().map(|f| label_id(f.labels.len()));
        let layout = if bit_packed {
            Layout::bit_packed(radix, buckets)
        } else {
            Layout::new(radix, buckets)
        };
        if layout.cells > K::LIMIT {
            return None;
        }
        let offsets = |i: usize| -> Vec<K> {
            fields[i]
                .comps
                .iter()
                .map(|c| match c {
                    Some(c) => K::from_u128(u128::from(*c) * layout.stride[i]),
                    None => K::MISS,
                })
                .collect()
        };
        let scanner = offsets(4);
        let result = offsets(5);
        let mut extra = vec![K::MISS; SCAN_CODES];
        for (s, &so) in (0..SCAN_PART_CODES).zip(&scanner) {
            for (r, &ro) in (0..SCAN_PART_CODES).zip(&result) {
                if !so.is_miss() && !ro.is_miss() {
                    if let Some(e) = extra.get_mut(usize::from(scan_code(s, r))) {
                        *e = so.wrapping_add(ro);
                    }
                }
            }
        }
        let region_id = table.dims.regions.find(caller.region().as_str());
        let region = (0..table.dims.regions.len())
            .map(|id| {
                if region_id == u32::try_from(id).ok() {
                    K::from_u128(0)
                } else {
                    K::MISS
                }
            })
            .collect();
        let is_empty =
            region_id.is_none() || fields.iter().any(|f| f.comps.iter().all(Option::is_none));
        let mut maps: [Vec<K>; PACKED] = Default::default();
        maps[REGION] = region;
        maps[ACCOUNT] = offsets(0);
        maps[STATE] = offsets(1);
        maps[RESOURCE_TYPE] = offsets(2);
        maps[CATEGORY] = offsets(3);
        maps[EXTRA] = extra;
        let labels = fields.map(|f| f.labels);
        Some(Self {
            layout,
            labels,
            maps,
            is_empty,
        })
    }
}

/// Builds a resolved dimension from the symbols that pass the filter, each with the label it
/// shows under `Split`.
fn split(mut passing: Vec<(usize, Option<Box<str>>)>, symbols: usize) -> Resolved {
    passing.sort_by(|a, b| a.1.cmp(&b.1));
    let mut comps = vec![None; symbols];
    let mut labels: Labels = Vec::new();
    for (sym, label) in passing {
        if labels.last() != Some(&label) {
            labels.push(label);
        }
        let id = label_id(labels.len() - 1);
        if let Some(c) = comps.get_mut(sym) {
            *c = Some(id);
        }
    }
    Resolved { comps, labels }
}

/// All passing symbols in one group, shown as `label`.
fn collapse(
    passing: impl IntoIterator<Item = usize>,
    symbols: usize,
    label: Option<&str>,
) -> Resolved {
    let mut comps = vec![None; symbols];
    for sym in passing {
        if let Some(c) = comps.get_mut(sym) {
            *c = Some(0);
        }
    }
    Resolved {
        comps,
        labels: vec![label.map(Into::into)],
    }
}

/// A dimension resolved for `mode`: `value_of(sym)` is the symbol's label (`None` = absent),
/// `matches(sym)` says whether it passes `Only`, `keep(sym)` applies any other filter.
fn by_mode<T>(
    mode: &Dimension<T>,
    symbols: usize,
    value_of: impl Fn(usize) -> Option<Box<str>>,
    only_label: impl Fn(&T) -> Box<str>,
    matches: impl Fn(usize, &T) -> bool,
    keep: impl Fn(usize) -> bool,
) -> Resolved {
    match mode {
        Dimension::Collapse => collapse(
            (0..symbols).filter(|&s| keep(s)),
            symbols,
            Some(AGGREGATE_ALL),
        ),
        Dimension::Only(v) => {
            let label = only_label(v);
            collapse(
                (0..symbols).filter(|&s| keep(s) && matches(s, v)),
                symbols,
                Some(&label),
            )
        }
        Dimension::Split => split(
            (0..symbols)
                .filter(|&s| keep(s))
                .map(|s| (s, value_of(s)))
                .collect(),
            symbols,
        ),
    }
}

/// SPEC §4: who sees which account, and what the AccountId column shows.
fn account(query: &Query, caller: &Caller, table: &JobTable) -> Resolved {
    let n = table.dims.accounts.len();
    let id_of = |s: usize| table.dims.accounts.get(u32::try_from(s).ok()?);
    let own = caller.account();
    let mode = query.account().cloned().unwrap_or(Dimension::Only(own));
    if !caller.sees_organization() {
        // Standalone or member: only its own jobs, whatever AccountId says.
        let keep = |s: usize| id_of(s) == Some(own);
        let label: Option<Box<str>> = match mode {
            Dimension::Collapse => Some(AGGREGATE_ALL.into()),
            _ => Some(own.to_string().into()),
        };
        return collapse((0..n).filter(|&s| keep(s)), n, label.as_deref());
    }
    let keep = |s: usize| id_of(s).is_some_and(|a| caller.can_see(a));
    by_mode(
        &mode,
        n,
        |s| id_of(s).map(|a| a.to_string().into()),
        |a: &AccountId| a.to_string().into(),
        |s, a| id_of(s) == Some(*a),
        keep,
    )
}

/// Indexed by state code.
fn state(query: &Query, op: Operation) -> Resolved {
    let state_of = |code: usize| {
        u8::try_from(code)
            .ok()
            .and_then(State::from_code)
            .filter(|s| op.has_state(*s))
    };
    by_mode(
        query.state(),
        16,
        |c| state_of(c).map(|s| s.as_str().into()),
        |s: &State| s.as_str().into(),
        |c, s| state_of(c) == Some(*s),
        |c| state_of(c).is_some(),
    )
}

fn resource_type(query: &Query, table: &JobTable) -> Resolved {
    let d = &table.dims.resource_types;
    let id = label_id;
    by_mode(
        query.resource_type(),
        d.len(),
        |s| Some(d.name(id(s)).into()),
        |v| v.as_str().into(),
        |s, v| d.name(id(s)) == v.as_str(),
        |_| true,
    )
}

/// Indexed by 0 = absent, 1 + category id.
fn category(query: &Query, table: &JobTable) -> Resolved {
    let op = query.operation();
    let d = &table.dims.categories;
    let n = d.len() + 1;
    let name = |s: usize| -> Option<&str> {
        s.checked_sub(1)
            .and_then(|i| u32::try_from(i).ok())
            .map(|i| d.name(i))
    };
    if !op.has_field(Field::MessageCategory) {
        return collapse(0..n, n, None);
    }
    let with_issues = query.is_completed_with_issues();
    by_mode(
        query.message_category(),
        n,
        |s| name(s).map(Into::into),
        |v| v.as_str().into(),
        |s, v| name(s) == Some(v.as_str()),
        |s| !with_issues || name(s).is_some_and(|c| c != "SUCCESS"),
    )
}

/// A small enum dimension (scan only), indexed by code (0 = absent); `code_of` gives a
/// value's code and name.
fn small<T: Copy + PartialEq>(
    op: Operation,
    field: Field,
    mode: &Dimension<T>,
    values: &[(u8, &'static str)],
    code_of: impl Fn(&T) -> (u8, &'static str),
) -> Resolved {
    const CODES: usize = 4;
    if !op.has_field(field) {
        return collapse(0..CODES, CODES, None);
    }
    let name = |c: usize| {
        values
            .iter()
            .find(|(code, _)| usize::from(*code) == c)
            .map(|(_, n)| *n)
    };
    by_mode(
        mode,
        CODES,
        |c| name(c).map(Into::into),
        |v| code_of(v).1.into(),
        |c, v| c != 0 && c == usize::from(code_of(v).0),
        |_| true,
    )
}
