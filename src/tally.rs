//! [`Tally`]: anonymous jobs counted per cell in one flat table, the fast path of a one-shot
//! load (a dump read once for one query, or a server's start with job ids ignored).
//!
//! A [`JobTable`](crate::JobTable) keeps its cells per day in columns, with an index from a
//! cell's word to its position: made for queries, which read a day's columns in order. Finding
//! a cell to count one job in costs three dependent reads there (the index's control bytes,
//! its slot, the word), each a cache miss once the day has more cells than the cache holds,
//! and the count a fourth. A tally keeps each cell's key and count in one 32-byte slot of an
//! open-addressing table (linear probing, at most three quarters full), so counting a job
//! reads one slot, usually one cache line; and jobs are counted in runs
//! ([`Tally::count_run`]), so that the misses of a run overlap. A tally is added to a table
//! once, at the end ([`JobTable::add_tally`](crate::JobTable::add_tally)). On the 10M dump
//! (2 cores) the one-shot query took 1.33–1.38 s with a tally per thread, against 1.51–1.57 s
//! with a scratch table per thread.
//!
//! Invariants: `slots.len()` is zero or a power of two; a slot is used iff its count is not
//! zero; each key is in at most one slot, reached from its hash's slot by probing forward
//! (wrapping) over used slots only; `cells` is the number of used slots, at most three
//! quarters of the slots; `jobs` is the sum of every slot's count and every spilled count.

use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;

use crate::batch::BatchError;
use crate::error::RecordError;
use crate::intern::{remap, Dims, Packed, MAX_SYMBOLS, PACKED};
use crate::record::Fields;
use crate::schema::{Operation, RecordField};

/// Cells of another tally merged between two checks for room.
const MERGE_RUN: usize = 1024;

/// Slots of a tally's first table (32 KiB); it doubles when three quarters full.
const INITIAL_SLOTS: usize = 1024;

/// Anonymous jobs of one operation counted per cell (creation day and dimensions), to add to
/// a [`JobTable`](crate::JobTable): fill one per thread with
/// [`JobChunk::count_into`](crate::wire::JobChunk::count_into), then add each with
/// [`JobTable::add_tally`](crate::JobTable::add_tally). It costs memory per distinct cell,
/// none per job, and counting a job in it is a few times cheaper than in a table (see the
/// module source for why).
///
/// ```
/// use backup_summaries::wire::JobStream;
/// use backup_summaries::{JobTable, Operation, Tally};
/// let lines = br#"{"AccountId":"123456789012","Region":"eu-west-1","State":"COMPLETED","ResourceType":"EBS","CreationDate":1764115200}
/// {"AccountId":"123456789012","Region":"eu-west-1","State":"COMPLETED","ResourceType":"EBS","CreationDate":1764115300}
/// "#;
/// let mut stream = JobStream::new(Operation::Backup, None);
/// let mut tally = Tally::new(Operation::Backup);
/// for chunk in stream.cut(lines, true, 2)?.chunks() {
///     stream.merge(chunk.count_into(&mut tally, |_| true))?;
/// }
/// stream.finish()?;
/// assert_eq!((tally.jobs(), tally.cells()), (2, 1)); // one cell: same day and dimensions
/// let mut table = JobTable::new(Operation::Backup);
/// table.add_tally(&tally)?;
/// assert_eq!(table.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Tally {
    operation: Operation,
    pub(crate) dims: Dims,
    slots: Vec<Slot>,
    /// Used slots.
    cells: usize,
    /// Jobs counted: every slot's count plus every spilled count.
    jobs: u64,
    /// Counts that outgrew their slot: when a slot's count would pass `slot_max`, all but
    /// one of its jobs move here (a cell may have several entries).
    spilled: Vec<(Key, u64)>,
    /// The most a slot counts before its count is spilled (`u32::MAX`, less in tests; at
    /// least 1, so that a used slot never counts zero).
    slot_max: u32,
    seeds: [u64; 4],
}

/// A cell's key: its creation day (days since the epoch) and the ids of its dimensions,
/// interned in the tally's [`Dims`]. Made by [`Tally::key`] (which refuses a day beyond
/// `i32`), or from another tally's key by [`Tally::merge`].
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub(crate) struct Key {
    ids: [u32; PACKED],
    day: i32,
}

/// A cell: its key and count (zero for an unused slot). 32 bytes, aligned so that a slot is
/// never split over two cache lines.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
struct Slot {
    key: Key,
    count: u32,
}

impl Tally {
    /// An empty tally for `operation`'s jobs.
    #[must_use]
    pub fn new(operation: Operation) -> Self {
        let hasher = DefaultHashBuilder::default();
        Self {
            operation,
            dims: Dims::default(),
            slots: Vec::new(),
            cells: 0,
            jobs: 0,
            spilled: Vec::new(),
            slot_max: u32::MAX,
            seeds: [0u64, 1, 2, 3].map(|i| hasher.hash_one(i)),
        }
    }

    /// The operation whose jobs this tally counts.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Jobs counted.
    #[must_use]
    pub fn jobs(&self) -> u64 {
        self.jobs
    }

    /// Distinct cells (creation day and dimensions) counted in.
    #[must_use]
    pub fn cells(&self) -> usize {
        self.cells
    }

    /// Whether no job was counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.jobs == 0
    }

    /// Interns `fields` (checked as a table checks them, SPEC §2) into the key of their cell,
    /// to count with [`Tally::count_run`].
    pub(crate) fn key(&mut self, fields: &Fields<'_>) -> Result<Key, RecordError> {
        let Packed { day, ids } = self.dims.pack(self.operation, fields)?;
        // Parsed dates are within chrono's range (±262,143 years, ±96 million days), so this
        // holds for every job of a dump; a record made otherwise gets an error.
        let day = i32::try_from(day).map_err(|_| {
            RecordError::invalid(
                RecordField::CreationDate,
                &fields.creation.to_string(),
                "a date within 5.8 million years of 1970",
            )
        })?;
        Ok(Key { ids, day })
    }

    /// Counts one job in each key's cell. A parser interns a run of jobs first, then counts
    /// them here: the lookups of a run follow one another with no parsing in between, so
    /// their cache misses overlap (on the 10M dump, counting each job as it was parsed took
    /// 1.31–1.44 s against 1.09–1.12 s in runs of 64; reading the run's slots in a first
    /// pass, as a prefetch, made no difference).
    pub(crate) fn count_run(&mut self, keys: &[Key]) {
        self.reserve(keys.len());
        let mask = self.slots.len() - 1;
        for &key in keys {
            self.add_at(self.hash(&key) as usize & mask, key, 1);
        }
    }

    /// Adds `n` jobs to `key`'s cell, probing from slot `at` (its hash's).
    fn add_at(&mut self, mut at: usize, key: Key, n: u64) {
        let mask = self.slots.len() - 1;
        let slot = loop {
            let Some(slot) = self.slots.get_mut(at) else {
                // `at` is masked to the table, which is never empty here (see `reserve`).
                debug_assert!(false, "slot {at} outside {} slots", mask + 1);
                return;
            };
            if slot.count == 0 {
                slot.key = key;
                self.cells += 1;
                break slot;
            }
            if slot.key == key {
                break slot;
            }
            at = (at + 1) & mask;
        };
        debug_assert!(self.slot_max >= 1, "a slot must hold a job");
        let total = u64::from(slot.count) + n;
        match u32::try_from(total).ok().filter(|&t| t <= self.slot_max) {
            Some(fits) => slot.count = fits,
            None => {
                // All but one job moves out: a used slot never counts zero.
                self.spilled.push((key, total - 1));
                slot.count = 1;
            }
        }
        self.jobs += n;
    }

    /// Adds the jobs `other` counted (a tally of another thread, say) to this one.
    ///
    /// # Errors
    /// If `other` counts another operation's jobs, or together the two hold more than 2^28
    /// distinct values of a field (nothing is added then).
    pub fn merge(&mut self, other: &Self) -> Result<(), BatchError> {
        check_joinable(self.operation, &self.dims, other)?;
        let maps = self.dims.absorb(&other.dims);
        // Room for a run at a time: tallies of one file's threads share most cells, so
        // room for all of `other`'s would double the table for nothing.
        let mut entries = other.entries().peekable();
        while entries.peek().is_some() {
            self.reserve(MERGE_RUN);
            let mask = self.slots.len() - 1;
            for (key, n) in entries.by_ref().take(MERGE_RUN) {
                let key = Key {
                    ids: remap(key.ids, &maps),
                    day: key.day,
                };
                self.add_at(self.hash(&key) as usize & mask, key, n);
            }
        }
        Ok(())
    }

    /// Makes room for `more` new cells (doubling the table while it would be more than three
    /// quarters full), so that no probe ever meets a full table.
    fn reserve(&mut self, more: usize) {
        let needed = self.cells + more;
        let mut len = self.slots.len().max(INITIAL_SLOTS);
        while needed > len / 4 * 3 {
            len *= 2;
        }
        if len == self.slots.len() {
            return;
        }
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); len]);
        let mask = len - 1;
        for slot in old.into_iter().filter(|s| s.count > 0) {
            let mut at = self.hash(&slot.key) as usize & mask;
            while self.slots.get(at).is_some_and(|s| s.count > 0) {
                at = (at + 1) & mask;
            }
            if let Some(free) = self.slots.get_mut(at) {
                *free = slot;
            }
        }
    }

    /// A well-mixed 64-bit hash of `key`, seeded per tally (so input made to collide in one
    /// process does not collide in another).
    fn hash(&self, key: &Key) -> u64 {
        let pair = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
        let [s0, s1, s2, s3] = self.seeds;
        let [r, a, s, t, c, x] = key.ids;
        let day = u64::from(u32::from_le_bytes(key.day.to_le_bytes()));
        fold(pair(r, a) ^ s0, pair(s, t) ^ s1) ^ fold(pair(c, x) ^ s2, day ^ s3)
    }

    /// Every cell's key and count (a spilled cell's more than once).
    fn entries(&self) -> impl Iterator<Item = (Key, u64)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.count > 0)
            .map(|s| (s.key, u64::from(s.count)))
            .chain(self.spilled.iter().copied())
    }

    /// Every cell: its day, its ids and its count (a spilled cell's more than once).
    pub(crate) fn counted(&self) -> impl Iterator<Item = (i64, [u32; PACKED], u64)> + '_ {
        self.entries()
            .map(|(key, n)| (i64::from(key.day), key.ids, n))
    }
}

/// Whether `tally` can be added to a tally or table of `operation` interning into `dims`.
pub(crate) fn check_joinable(
    operation: Operation,
    dims: &Dims,
    tally: &Tally,
) -> Result<(), BatchError> {
    if tally.operation != operation {
        return Err(BatchError::new(
            0,
            RecordError::invalid(
                RecordField::Operation,
                tally.operation.as_str(),
                "a tally of the same operation",
            ),
        ));
    }
    if dims.widest() + tally.dims.widest() > MAX_SYMBOLS as usize {
        return Err(BatchError::new(
            0,
            RecordError::invalid(
                RecordField::Batch,
                "",
                "at most 2^28 distinct values of a field per table",
            ),
        ));
    }
    Ok(())
}

/// The folded multiply (the 128-bit product's halves xored) that mixes two words.
fn fold(x: u64, y: u64) -> u64 {
    let product = u128::from(x) * u128::from(y);
    let [lo, hi] = [product as u64, (product >> 64) as u64];
    lo ^ hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::JobRecord;
    use crate::schema::State;
    use crate::time::UnixMillis;
    use crate::JobTable;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const DAY: i64 = 86_400_000;

    fn job(account: &str, resource_type: &str, day: i64) -> Result<JobRecord, RecordError> {
        job_at(account, resource_type, day * DAY + 1)
    }

    fn job_at(account: &str, resource_type: &str, ms: i64) -> Result<JobRecord, RecordError> {
        Ok(JobRecord::new(
            account.parse()?,
            "eu-west-1".parse()?,
            State::Completed,
            resource_type.parse()?,
            UnixMillis::new(ms),
        ))
    }

    /// Counts `jobs` into `tally` in runs of `run`.
    fn count(tally: &mut Tally, jobs: &[JobRecord], run: usize) -> Result<(), RecordError> {
        for part in jobs.chunks(run.max(1)) {
            let keys: Vec<Key> = part
                .iter()
                .map(|j| tally.key(&j.fields()))
                .collect::<Result<_, _>>()?;
            tally.count_run(&keys);
        }
        Ok(())
    }

    /// The table of `jobs` pushed one by one: what a tally must add up to.
    fn pushed(jobs: &[JobRecord]) -> Result<JobTable, Box<dyn std::error::Error>> {
        let mut table = JobTable::new(Operation::Backup);
        for j in jobs {
            table.push(j)?;
        }
        Ok(table)
    }

    /// Every cell of a table, sorted.
    fn cells(table: &JobTable) -> Vec<(i64, Vec<String>, u64)> {
        let mut cells: Vec<_> = table
            .cells()
            .map(|(day, ids, n)| {
                let names = [table
                    .dims
                    .accounts
                    .ids
                    .get(ids[crate::intern::ACCOUNT] as usize)]
                .iter()
                .map(|a| a.map(ToString::to_string).unwrap_or_default())
                .chain(
                    table
                        .dims
                        .resource_types
                        .names()
                        .nth(ids[crate::intern::RESOURCE_TYPE] as usize)
                        .map(ToString::to_string),
                )
                .collect();
                (day, names, n)
            })
            .collect();
        cells.sort();
        cells
    }

    #[test]
    fn a_tally_adds_up_to_the_jobs_pushed_one_by_one() -> TestResult {
        // 3,000 distinct cells (the table doubles from 1,024 slots twice), most counted more
        // than once, in runs of every length.
        let jobs: Vec<JobRecord> = (0..9_000)
            .map(|i| {
                job(
                    &format!("{:012}", i % 50),
                    &format!("T{}", (i / 50) % 6),
                    i / 300 % 10,
                )
            })
            .collect::<Result<_, _>>()?;
        for run in [1, 7, 64, 100] {
            let mut tally = Tally::new(Operation::Backup);
            count(&mut tally, &jobs, run)?;
            assert_eq!((tally.jobs(), tally.cells()), (9_000, 3_000));
            let mut table = JobTable::new(Operation::Backup);
            assert_eq!(table.add_tally(&tally)?, 9_000);
            assert_eq!(cells(&table), cells(&pushed(&jobs)?));
        }
        // Merged (in runs: the table grows on the way) into an empty tally, then into one
        // that holds a third of the jobs: the same cells, counted once and twice.
        let mut whole = Tally::new(Operation::Backup);
        count(&mut whole, &jobs, 64)?;
        let mut merged = Tally::new(Operation::Backup);
        merged.merge(&whole)?;
        assert_eq!((merged.jobs(), merged.cells()), (9_000, 3_000));
        let mut third = Tally::new(Operation::Backup);
        count(&mut third, jobs.get(..3_000).ok_or("jobs")?, 64)?;
        third.merge(&merged)?;
        assert_eq!((third.jobs(), third.cells()), (12_000, 3_000));
        let mut table = JobTable::new(Operation::Backup);
        table.add_tally(&third)?;
        let again: Vec<JobRecord> = jobs
            .iter()
            .chain(jobs.get(..3_000).ok_or("jobs")?)
            .cloned()
            .collect();
        assert_eq!(cells(&table), cells(&pushed(&again)?));
        Ok(())
    }

    #[test]
    fn a_count_beyond_a_slot_spills_and_still_adds_up() -> TestResult {
        let mut tally = Tally::new(Operation::Backup);
        tally.slot_max = 3;
        let jobs: Vec<JobRecord> = (0..20)
            .map(|i| job("123456789012", if i % 4 == 0 { "EBS" } else { "RDS" }, 0))
            .collect::<Result<_, _>>()?;
        count(&mut tally, &jobs, 64)?;
        assert_eq!((tally.jobs(), tally.cells()), (20, 2));
        assert!(!tally.spilled.is_empty());
        assert!(tally.slots.iter().all(|s| s.count <= 3));
        // Merged into another tally with a small slot too, and added.
        let mut other = Tally::new(Operation::Backup);
        other.slot_max = 2;
        other.merge(&tally)?;
        other.merge(&tally)?;
        assert_eq!((other.jobs(), other.cells()), (40, 2));
        let mut table = JobTable::new(Operation::Backup);
        table.add_tally(&other)?;
        let twice: Vec<JobRecord> = jobs.iter().chain(&jobs).cloned().collect();
        assert_eq!(cells(&table), cells(&pushed(&twice)?));
        Ok(())
    }

    #[test]
    fn tallies_that_interned_in_different_orders_merge_by_name() -> TestResult {
        let a = [
            job("111111111111", "EBS", 1)?,
            job("222222222222", "RDS", 2)?,
        ];
        let b = [
            job("222222222222", "RDS", 2)?,
            job("333333333333", "EBS", 1)?,
        ];
        let (mut left, mut right) = (Tally::new(Operation::Backup), Tally::new(Operation::Backup));
        count(&mut left, &a, 64)?;
        count(&mut right, &b, 64)?;
        left.merge(&right)?;
        assert_eq!((left.jobs(), left.cells()), (4, 3));
        let mut table = JobTable::new(Operation::Backup);
        table.push(&job("111111111111", "EBS", 1)?)?;
        assert_eq!(table.add_tally(&left)?, 4);
        let all: Vec<JobRecord> = [job("111111111111", "EBS", 1)?]
            .into_iter()
            .chain(a)
            .chain(b)
            .collect();
        assert_eq!(cells(&table), cells(&pushed(&all)?));
        Ok(())
    }

    #[test]
    fn another_operations_tally_is_refused_and_changes_nothing() -> TestResult {
        let mut copies = Tally::new(Operation::Copy);
        let keys = [copies.key(&job("123456789012", "EBS", 0)?.fields())?];
        copies.count_run(&keys);
        let mut backups = Tally::new(Operation::Backup);
        let err = backups.merge(&copies).err().ok_or("merged")?;
        assert!(
            err.error().to_string().contains("same operation"),
            "{err:?}"
        );
        assert!(backups.is_empty());
        let mut table = JobTable::new(Operation::Backup);
        assert!(table.add_tally(&copies).is_err());
        assert!(table.is_empty());
        Ok(())
    }

    #[test]
    fn a_day_beyond_32_bits_is_an_error_naming_the_creation_date() -> TestResult {
        let mut tally = Tally::new(Operation::Backup);
        let far = job_at("123456789012", "EBS", i64::MAX)?;
        let err = tally.key(&far.fields()).err().ok_or("accepted")?;
        assert!(err.to_string().contains("CreationDate"), "{err}");
        // The edges of the range are keys.
        for day in [i64::from(i32::MIN), i64::from(i32::MAX)] {
            let edge = job_at("123456789012", "EBS", day * DAY)?;
            assert_eq!(i64::from(tally.key(&edge.fields())?.day), day);
        }
        Ok(())
    }
}
