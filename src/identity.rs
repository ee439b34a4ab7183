//! Job identity (SPEC §10): [`JobId`], its fixed 128-bit [`JobKey`], change [`Version`]s,
//! and the identity index that maps a key to the count-cube cell the job is counted in.
//!
//! The index keeps no strings: one 24-byte slot per identified job (the key, the cell and
//! the version), in an open-addressing table with Robin Hood probing and backward-shift
//! deletion, grown by 1.5× at 90 % load, so it stays above 60 % full and a job costs at most
//! 40 bytes, 30 on average. (hashbrown would double the table at 87.5 % and hold 24-byte
//! entries in tables down to 44 % full: up to 55 bytes a job.)
//!
//! Invariants: no stored key is 0 (0 marks an empty slot; [`JobKey`] always has its low bit
//! set); every key sits at or after its home slot, with no empty slot in between (linear
//! probing, wrapping); `len` is the number of occupied slots; `len <= capacity * 9 / 10`.

use std::fmt;
use std::str::FromStr;

use crate::error::RecordError;
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

/// The fixed 128-bit hash a table keeps of a [`JobId`]: FNV-1a 128 of the id's UTF-8 bytes,
/// with the lowest bit set. Stable across processes, platforms and releases, so it can be
/// stored. Two ids share a key with probability about 2⁻¹²⁷ per pair.
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

/// The identity index: [`JobKey`] → [`Entry`].
#[derive(Clone, Debug, Default)]
pub(crate) struct IdIndex {
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
            return Err(RecordError::invalid("JobId", s, "1 to 256 bytes"));
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
        const BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
        const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
        let h = id
            .as_bytes()
            .iter()
            .fold(BASIS, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME));
        Self(h | 1)
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

impl IdIndex {
    /// Most slots filled before the table grows: 9 in 10.
    const fn max_len(capacity: usize) -> usize {
        capacity / 10 * 9 + capacity % 10 * 9 / 10
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
    }

    pub(crate) fn get(&self, key: JobKey) -> Option<Entry> {
        self.find(key)
            .and_then(|i| self.slots.get(i))
            .map(|s| Entry {
                cell: s.cell,
                version: Version(s.version),
            })
    }

    /// Sets the entry of `key`, adding it if new; returns the previous entry.
    pub(crate) fn insert(&mut self, key: JobKey, entry: Entry) -> Option<Entry> {
        if let Some(i) = self.find(key) {
            if let Some(s) = self.slots.get_mut(i) {
                let old = Entry {
                    cell: s.cell,
                    version: Version(s.version),
                };
                s.cell = entry.cell;
                s.version = entry.version.0;
                return Some(old);
            }
        }
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

    /// Makes room for `additional` more entries without growing.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let need = self.len.saturating_add(additional);
        if need > Self::max_len(self.slots.len()) {
            self.grow(need);
        }
    }

    /// The slot `key` would be looked up from at the current capacity (0 when empty): sorting
    /// keys by it makes a run of lookups walk the table in order instead of at random.
    pub(crate) fn home_slot(&self, key: JobKey) -> usize {
        let cap = self.slots.len();
        if cap == 0 {
            return 0;
        }
        home_of(key.0 as u64, (key.0 >> 64) as u64, cap)
    }

    /// Removes `key`; returns its entry.
    pub(crate) fn remove(&mut self, key: JobKey) -> Option<Entry> {
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

    /// Keeps only the entries for which `keep` is true, then gives unused memory back.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(JobKey, Entry) -> bool) {
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

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (JobKey, Entry)> + '_ {
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
        let cap = capacity_for(need).max(self.slots.len() + self.slots.len() / 2);
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

/// A capacity that holds `n` entries at 75 % load (at least 16).
fn capacity_for(n: usize) -> usize {
    (n / 3 * 4 + 4).max(16)
}

/// The home slot of a key in a table of `cap` slots: the high bits of a mixed key, scaled.
fn home_of(lo: u64, hi: u64, cap: usize) -> usize {
    let mixed = (lo ^ hi.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((u128::from(mixed) * cap as u128) >> 64) as usize
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
    fn key_is_fnv1a_128_with_the_low_bit_set() {
        // FNV-1a 128 of "" is the offset basis; of "a", a published test vector.
        assert_eq!(JobKey::of("").0, 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(
            JobKey::of("a").0,
            0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964 | 1
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
                assert_eq!(index.insert(key, e), model.insert(key, e), "step {step}");
            }
            assert_eq!(index.len(), model.len());
            assert!(index.len() <= IdIndex::max_len(index.slots.len()));
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
    fn slots_are_24_bytes() {
        assert_eq!(size_of::<Slot>(), 24);
    }
}
