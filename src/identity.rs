//! Job identity (SPEC §10): [`JobId`], its fixed 128-bit [`JobKey`], change [`Version`]s,
//! and the identity index that maps a key to the count-cube cell the job is counted in.
//!
//! The index keeps no strings: one 24-byte slot per identified job (the key, the cell and
//! the version), in 256 shards (by the key's top byte), each an open-addressing table with
//! Robin Hood probing and backward-shift deletion, grown by 1.2× at 92 % load. A shard so
//! stays above 76 % full and a job costs at most 31.3 bytes; and since shards grow one at a
//! time, growing never holds two copies of the whole index. (hashbrown would double a table
//! at 87.5 % and hold 24-byte entries in tables down to 44 % full: up to 57 bytes a job, and
//! twice that while it grows.)
//!
//! Invariants: no stored key is 0 (0 marks an empty slot; [`JobKey`] always has its low bit
//! set); every key is in the shard of its top byte and sits at or after its home slot, with
//! no empty slot in between (linear probing, wrapping); a shard's `len` is its number of
//! occupied slots, at most 92 % of its capacity; the index's `len` is the sum.

use std::fmt;
use std::str::FromStr;

use crate::error::RecordError;
use crate::schema::RecordField;
use crate::time::UnixMillis;

/// Longest job id accepted, in bytes (SPEC §10).
pub(crate) const MAX_JOB_ID_BYTES: usize = 256;

/// A job's id: `BackupJobId`, `CopyJobId`, `RestoreJobId` or `ScanJobId` (SPEC §10),
/// 1..=256 bytes of UTF-8.
///
/// ```
/// use backup_summaries::JobId;
/// let id: JobId = "b1a5e6c2-0d4f-4c1e-9a38-5f0e7c9d2b11".parse()?;
/// assert_eq!(id.key(), "b1a5e6c2-0d4f-4c1e-9a38-5f0e7c9d2b11".parse::<JobId>()?.key());
/// assert!("".parse::<JobId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct JobId(Box<str>);

/// The fixed 128-bit hash a table keeps of a [`JobId`]: XXH3-128 (seed 0) of the id's UTF-8
/// bytes, with the lowest bit set. Stable across processes, platforms and releases (XXH3 is
/// a specified algorithm), so it can be stored. Two ids share a key with probability about
/// 2⁻¹²⁷ per pair. It is not a cryptographic hash: whoever may ingest could pick colliding ids
/// on purpose, which is why ingest needs a token.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct JobKey(u128);

/// The version of a change (SPEC §10): its event time in whole seconds since the Unix epoch,
/// as EventBridge's `time` gives it. A change older than the stored job's version is stale.
///
/// ```
/// use backup_summaries::{UnixMillis, Version};
/// let v = Version::from_millis(UnixMillis::new(1_795_737_599_999)).ok_or("out of range")?;
/// assert_eq!(v.as_secs(), 1_795_737_599);
/// assert!(Version::from_millis(UnixMillis::new(-1)).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Version(u32);

/// Where an identified job is counted, and its version.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Entry {
    /// The global id of the cube cell the job's current version is counted in.
    pub(crate) cell: u32,
    /// The newest version applied (0 when no change carried one).
    pub(crate) version: Version,
}

/// One slot: 24 bytes, key 0 = empty.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    key_lo: u64,
    key_hi: u64,
    cell: u32,
    version: u32,
}

/// The identity index: [`JobKey`] → [`Entry`], in [`SHARDS`] shards.
#[derive(Clone, Debug)]
pub(crate) struct IdIndex {
    shards: Vec<Shard>,
    len: usize,
}

/// Number of shards of the identity index.
const SHARDS: usize = 256;

/// One shard: a Robin Hood table.
#[derive(Clone, Debug, Default)]
struct Shard {
    slots: Vec<Slot>,
    len: usize,
}

impl JobId {
    /// Checks and wraps `s`.
    ///
    /// # Errors
    /// [`RecordError::Invalid`] naming field `JobId` when `s` is empty or longer than 256 bytes.
    pub fn parse(s: &str) -> Result<Self, RecordError> {
        if s.is_empty() || s.len() > MAX_JOB_ID_BYTES {
            return Err(RecordError::invalid(
                RecordField::JobId,
                s,
                "1 to 256 bytes",
            ));
        }
        Ok(Self(s.into()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key a table keeps for this id.
    #[must_use]
    pub fn key(&self) -> JobKey {
        JobKey::of(&self.0)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for JobId {
    type Err = RecordError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl JobKey {
    /// The key of the id `id` (which should be a valid [`JobId`]).
    #[must_use]
    pub fn of(id: &str) -> Self {
        Self(xxhash_rust::xxh3::xxh3_128(id.as_bytes()) | 1)
    }

    /// The key as a number (never 0), e.g. to store it.
    #[must_use]
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// A key read back from storage; `None` for a number no key can be (an even one).
    #[must_use]
    pub const fn from_u128(v: u128) -> Option<Self> {
        if v & 1 == 1 {
            Some(Self(v))
        } else {
            None
        }
    }
}

impl Version {
    /// The version at `secs` seconds after the Unix epoch.
    #[must_use]
    pub const fn from_secs(secs: u32) -> Self {
        Self(secs)
    }

    /// The version of the instant `at`, truncated to the second; `None` before 1970 or after
    /// 2106-02-07T06:28:15Z.
    #[must_use]
    pub fn from_millis(at: UnixMillis) -> Option<Self> {
        u32::try_from(at.as_secs_floor()).ok().map(Self)
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub const fn as_secs(self) -> u32 {
        self.0
    }
}

impl Default for IdIndex {
    fn default() -> Self {
        Self {
            shards: vec![Shard::default(); SHARDS],
            len: 0,
        }
    }
}

impl IdIndex {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.slots.capacity() * size_of::<Slot>())
            .sum::<usize>()
            + self.shards.capacity() * size_of::<Shard>()
    }

    pub(crate) fn get(&self, key: JobKey) -> Option<Entry> {
        self.shards.get(shard_of(key))?.get(key)
    }

    /// Looks `key` up once: `change` gets its entry (`None` if absent) and returns the entry
    /// to store, or `None` to change nothing. Returns the previous entry.
    pub(crate) fn update(
        &mut self,
        key: JobKey,
        change: impl FnOnce(Option<Entry>) -> Option<Entry>,
    ) -> Option<Entry> {
        let shard = self.shards.get_mut(shard_of(key));
        debug_assert!(shard.is_some(), "there are {SHARDS} shards");
        let shard = shard?;
        let before = shard.len;
        let old = shard.update(key, change);
        self.len += shard.len - before;
        old
    }

    /// Reads the home slot of `key`, so that a lookup soon after finds it in cache: touching
    /// the slots of several keys first lets their cache misses overlap.
    pub(crate) fn touch(&self, key: JobKey) -> u64 {
        self.shards.get(shard_of(key)).map_or(0, |s| {
            let (lo, hi) = (key.0 as u64, (key.0 >> 64) as u64);
            let cap = s.slots.len();
            if cap == 0 {
                return 0;
            }
            s.slots
                .get(home_of(lo, hi, cap))
                .map_or(0, |slot| slot.key_lo)
        })
    }

    /// Makes room for about `additional` more entries (spread evenly over the shards), so
    /// that a sweep of inserts moves no slot.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let per_shard = additional / SHARDS + additional / (SHARDS * 8) + 1;
        for shard in &mut self.shards {
            let need = shard.len.saturating_add(per_shard);
            if need > Shard::max_len(shard.slots.len()) {
                shard.grow(need);
            }
        }
    }

    /// Makes room for the new keys among `keys` shard by shard, counting each shard's own
    /// share: a batch whose keys crowd a few shards (keys read back in key order, which is
    /// shard order) must not fill those shards up while it is applied in slot order, or each
    /// insert would walk to the end of an ever longer run of full slots (quadratic).
    pub(crate) fn reserve_keys(&mut self, keys: impl Iterator<Item = JobKey>) {
        let mut per_shard = [0usize; SHARDS];
        for key in keys {
            if let Some(n) = per_shard.get_mut(shard_of(key)) {
                *n += 1;
            }
        }
        for (shard, add) in self.shards.iter_mut().zip(per_shard) {
            // Keys already present need no room: over-reserving is harmless, and cheaper
            // than probing each key first.
            let need = shard.len.saturating_add(add);
            if add > 0 && need > Shard::max_len(shard.slots.len()) {
                shard.grow(need);
            }
        }
    }

    /// Where `key` would be looked up from at the current capacity, as one number ordered
    /// by shard, then by home slot: sorting keys by it makes a run of lookups walk the index
    /// in order instead of at random.
    pub(crate) fn home_slot(&self, key: JobKey) -> usize {
        let shard = shard_of(key);
        let cap = self.shards.get(shard).map_or(0, |s| s.slots.len());
        let home = if cap == 0 {
            0
        } else {
            home_of(key.0 as u64, (key.0 >> 64) as u64, cap)
        };
        (shard << 40) | home
    }

    /// Removes `key`; returns its entry.
    pub(crate) fn remove(&mut self, key: JobKey) -> Option<Entry> {
        let old = self.shards.get_mut(shard_of(key))?.remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Keeps only the entries for which `keep` is true, then gives unused memory back.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(JobKey, Entry) -> bool) {
        for shard in &mut self.shards {
            shard.retain(&mut keep);
        }
        self.len = self.shards.iter().map(|s| s.len).sum();
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (JobKey, Entry)> + '_ {
        self.shards.iter().flat_map(Shard::iter)
    }
}

/// The shard of a key: its top byte.
fn shard_of(key: JobKey) -> usize {
    (key.0 >> 120) as usize
}

impl Shard {
    /// Most slots filled before the shard grows: 92 in 100.
    const fn max_len(capacity: usize) -> usize {
        capacity / 100 * 92 + capacity % 100 * 92 / 100
    }

    pub(crate) fn get(&self, key: JobKey) -> Option<Entry> {
        self.find(key)
            .and_then(|i| self.slots.get(i))
            .map(|s| Entry {
                cell: s.cell,
                version: Version(s.version),
            })
    }

    /// Looks `key` up once; `change` gets its entry (`None` if absent) and returns the entry
    /// to store, or `None` to leave the shard as it is. Returns the previous entry.
    fn update(
        &mut self,
        key: JobKey,
        change: impl FnOnce(Option<Entry>) -> Option<Entry>,
    ) -> Option<Entry> {
        if let Some(s) = self.find(key).and_then(|i| self.slots.get_mut(i)) {
            let old = Entry {
                cell: s.cell,
                version: Version(s.version),
            };
            if let Some(new) = change(Some(old)) {
                s.cell = new.cell;
                s.version = new.version.0;
            }
            return Some(old);
        }
        let entry = change(None)?;
        if self.len + 1 > Self::max_len(self.slots.len()) {
            self.grow(self.len + 1);
        }
        self.place(Slot {
            key_lo: key.0 as u64,
            key_hi: (key.0 >> 64) as u64,
            cell: entry.cell,
            version: entry.version.0,
        });
        self.len += 1;
        None
    }

    fn remove(&mut self, key: JobKey) -> Option<Entry> {
        let mut i = self.find(key)?;
        let cap = self.slots.len();
        let removed = self.slots.get(i).map(|s| Entry {
            cell: s.cell,
            version: Version(s.version),
        });
        // Backward shift: pull each following displaced slot one step towards its home.
        loop {
            let next = if i + 1 == cap { 0 } else { i + 1 };
            let Some(&s) = self.slots.get(next) else {
                break;
            };
            if s.key_lo == 0 && s.key_hi == 0 || self.home(&s) == next {
                break;
            }
            if let Some(at) = self.slots.get_mut(i) {
                *at = s;
            }
            i = next;
        }
        if let Some(at) = self.slots.get_mut(i) {
            *at = Slot::default();
        }
        self.len -= 1;
        removed
    }

    fn retain(&mut self, keep: &mut impl FnMut(JobKey, Entry) -> bool) {
        let old = std::mem::take(&mut self.slots);
        let kept: Vec<Slot> = old
            .into_iter()
            .filter(|s| {
                !is_empty(s)
                    && keep(
                        JobKey(u128::from(s.key_lo) | u128::from(s.key_hi) << 64),
                        Entry {
                            cell: s.cell,
                            version: Version(s.version),
                        },
                    )
            })
            .collect();
        self.len = 0;
        self.slots = Vec::new();
        if !kept.is_empty() {
            self.slots = vec![Slot::default(); capacity_for(kept.len())];
            for s in kept {
                self.place(s);
                self.len += 1;
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (JobKey, Entry)> + '_ {
        self.slots.iter().filter(|s| !is_empty(s)).map(|s| {
            (
                JobKey(u128::from(s.key_lo) | u128::from(s.key_hi) << 64),
                Entry {
                    cell: s.cell,
                    version: Version(s.version),
                },
            )
        })
    }

    /// The slot holding `key`.
    fn find(&self, key: JobKey) -> Option<usize> {
        let cap = self.slots.len();
        if cap == 0 {
            return None;
        }
        let (lo, hi) = (key.0 as u64, (key.0 >> 64) as u64);
        let mut i = home_of(lo, hi, cap);
        let mut dist = 0;
        loop {
            let s = self.slots.get(i)?;
            if is_empty(s) {
                return None;
            }
            if s.key_lo == lo && s.key_hi == hi {
                return Some(i);
            }
            // Robin Hood: a slot closer to its home than we are to ours ends the search.
            if self.distance(s, i) < dist {
                return None;
            }
            dist += 1;
            i = if i + 1 == cap { 0 } else { i + 1 };
            if dist > cap {
                return None;
            }
        }
    }

    /// Places a slot whose key is not in the table (there is room).
    fn place(&mut self, mut s: Slot) {
        let cap = self.slots.len();
        debug_assert!(self.len < cap, "place needs a free slot");
        let mut i = self.home(&s);
        let mut dist = 0;
        for _ in 0..=cap {
            let Some(&at) = self.slots.get(i) else {
                return;
            };
            if is_empty(&at) {
                if let Some(slot) = self.slots.get_mut(i) {
                    *slot = s;
                }
                return;
            }
            let theirs = self.distance(&at, i);
            if theirs < dist {
                if let Some(slot) = self.slots.get_mut(i) {
                    *slot = s;
                }
                s = at;
                dist = theirs;
            }
            dist += 1;
            i = if i + 1 == cap { 0 } else { i + 1 };
        }
        debug_assert!(false, "no free slot found in a table with room");
    }

    fn grow(&mut self, need: usize) {
        let cap = capacity_for(need).max(self.slots.len() + self.slots.len() / 5);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); cap]);
        for s in old.into_iter().filter(|s| !is_empty(s)) {
            self.place(s);
        }
    }

    fn home(&self, s: &Slot) -> usize {
        home_of(s.key_lo, s.key_hi, self.slots.len())
    }

    /// How far slot `i` is from the home of the key it holds.
    fn distance(&self, s: &Slot, i: usize) -> usize {
        let home = self.home(s);
        if i >= home {
            i - home
        } else {
            i + self.slots.len() - home
        }
    }
}

fn is_empty(s: &Slot) -> bool {
    s.key_lo == 0 && s.key_hi == 0
}

/// A capacity that holds `n` entries at 80 % load (at least 16).
fn capacity_for(n: usize) -> usize {
    (n / 4 * 5 + 5).max(16)
}

/// The home slot of a key in a table of `cap` slots: the 64 key bits below the shard byte,
/// scaled. Keys are already uniform hashes (XXH3), so no mixing is needed, and a shard's keys
/// in ascending order have ascending home slots: a run of keys read back in key order (as a
/// store keeps them) fills the index in one forward sweep.
fn home_of(lo: u64, hi: u64, cap: usize) -> usize {
    let bits = (hi << 8) | (lo >> 56);
    ((u128::from(bits) * cap as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn entry(cell: u32, version: u32) -> Entry {
        Entry {
            cell,
            version: Version(version),
        }
    }

    #[test]
    fn key_is_xxh3_128_with_the_low_bit_set() {
        // Vectors from the reference implementation (Python's xxhash.xxh3_128_intdigest).
        assert_eq!(JobKey::of("").0, 0x99aa_06d3_0147_98d8_6001_c324_468d_497f);
        assert_eq!(JobKey::of("a").0, 0xa96f_af70_5af1_6834_e6c6_32b6_1e96_4e1f);
        assert_eq!(
            JobKey::of("4d1c0a5e-0000-4000-8000-000000000001").0,
            0xcdcf_b2fa_57ee_7a38_7d73_11e3_f09e_00ae | 1
        );
        assert_ne!(JobKey::of("a"), JobKey::of("b"));
        assert!(JobKey::from_u128(2).is_none());
        assert_eq!(
            JobKey::from_u128(JobKey::of("x").as_u128()),
            Some(JobKey::of("x"))
        );
    }

    #[test]
    fn job_ids_are_one_to_256_bytes() {
        assert!(JobId::parse("").is_err());
        assert!(JobId::parse(&"x".repeat(256)).is_ok());
        assert!(JobId::parse(&"x".repeat(257)).is_err());
        assert!(JobId::parse(&"é".repeat(129)).is_err());
    }

    #[test]
    fn index_matches_a_hash_map_through_inserts_and_removals() {
        let mut index = IdIndex::default();
        let mut model: HashMap<JobKey, Entry> = HashMap::new();
        // A deterministic mix of inserts, overwrites and removals over a small key space,
        // so probe chains wrap, collide and shift.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = JobKey::of(&(x % 3000).to_string());
            if x % 5 == 0 {
                assert_eq!(index.remove(key), model.remove(&key), "step {step}");
            } else {
                let e = entry(step, (x >> 32) as u32);
                assert_eq!(
                    index.update(key, |_| Some(e)),
                    model.insert(key, e),
                    "step {step}"
                );
            }
            assert_eq!(index.len(), model.len());
            assert!(index
                .shards
                .iter()
                .all(|s| s.len <= Shard::max_len(s.slots.len())));
        }
        for (k, e) in &model {
            assert_eq!(index.get(*k), Some(*e));
        }
        let mut seen: Vec<_> = index.iter().collect();
        seen.sort_by_key(|(k, _)| *k);
        let mut want: Vec<_> = model.iter().map(|(k, e)| (*k, *e)).collect();
        want.sort_by_key(|(k, _)| *k);
        assert_eq!(seen, want);
        index.retain(|_, e| e.cell % 2 == 0);
        model.retain(|_, e| e.cell % 2 == 0);
        assert_eq!(index.len(), model.len());
        for (k, e) in &model {
            assert_eq!(index.get(*k), Some(*e));
        }
        assert_eq!(index.get(JobKey::of("absent")), None);
    }

    #[test]
    fn home_slots_ascend_with_keys_within_a_shard() {
        let mut keys: Vec<JobKey> = (0..5000).map(|i| JobKey::of(&i.to_string())).collect();
        keys.sort();
        let place = |k: &JobKey| (shard_of(*k), home_of(k.0 as u64, (k.0 >> 64) as u64, 977));
        let homes: Vec<(usize, usize)> = keys.iter().map(place).collect();
        assert!(homes.windows(2).all(|w| matches!(w, [a, b] if a <= b)));
        assert!(homes.iter().all(|&(_, h)| h < 977));
    }

    #[test]
    fn reserve_keys_makes_room_in_the_shards_the_keys_crowd() {
        // Keys of three shards only, in key order: as a store reads a range of them back.
        let mut keys: Vec<JobKey> = (0..200_000)
            .map(|i| JobKey::of(&i.to_string()))
            .filter(|k| shard_of(*k) < 3)
            .collect();
        keys.sort();
        let mut index = IdIndex::default();
        index.reserve_keys(keys.iter().copied());
        let capacities: Vec<usize> = index.shards.iter().map(|s| s.slots.len()).collect();
        for (n, &k) in keys.iter().enumerate() {
            index.update(k, |_| Some(entry(n as u32, 0)));
        }
        assert_eq!(index.len(), keys.len());
        // Nothing grew while the keys went in, and the other shards were left alone.
        let after: Vec<usize> = index.shards.iter().map(|s| s.slots.len()).collect();
        assert_eq!(capacities, after);
        assert!(index.shards.iter().skip(3).all(|s| s.slots.is_empty()));
        for (n, &k) in keys.iter().enumerate() {
            assert_eq!(index.get(k), Some(entry(n as u32, 0)));
        }
    }

    #[test]
    fn slots_are_24_bytes() {
        assert_eq!(size_of::<Slot>(), 24);
    }
}
