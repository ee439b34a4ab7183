//! [`JobTable`]: one operation's jobs as a count cube, kept current as jobs change.
//!
//! Every query of SPEC §1–§9 depends only on how many jobs fall in each (UTC creation day,
//! Region, AccountId, State, ResourceType, MessageCategory, MalwareScanner, ScanResultStatus)
//! cell, so that is all a table keeps: per day, the distinct packed dimension words and their
//! counts. Strings are interned once into small ids; a cell's word packs the ids of all
//! fields (see [`Packing`]). Adding a job increments one counter; a query reads the cells of
//! the days in its window (the grouping loop of `engine::table`), never the jobs.
//!
//! Identified jobs (SPEC §10) also have an entry in the identity index (`identity::IdIndex`):
//! their key, the global id of their cell and their version, so an upsert moves one count
//! from the old cell to the new and a removal takes it back. Anonymous jobs cost nothing per
//! job.
//!
//! Invariants: every day's `words`, `counts` and `cell_ids` have the same length, and its
//! `index` maps each word to its position; `cells[cell_ids[p]]` points back at `(day, p)`;
//! every word fits the current packing; each identified job's cell has a count of at least
//! one, and `jobs` is the sum of all counts. A cell whose count drops to 0 stays (it is
//! skipped when rows are made) until its day expires.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::batch::{Applied, Batch, BatchError};
use crate::error::RecordError;
use crate::identity::{Entry, IdIndex, JobId, JobKey, Version};
use crate::intern::{
    len_u32, remap, Dims, Packed, ACCOUNT, CATEGORY, EXTRA, MAX_SYMBOLS, PACKED, REGION,
    RESOURCE_TYPE, STATE,
};
use crate::record::{AccountId, JobRecord};
use crate::schema::{scan_parts, MalwareScanner, Operation, RecordField, ScanResultStatus, State};
use crate::time::{UnixMillis, DAY_MS};

/// Batches with more identified changes than this are applied in index order (see
/// [`JobTable::apply`]); smaller ones fit the cache anyway.
const SORTED_APPLY_MIN: usize = 1024;

/// Retention of [`JobTable::expire`] unless set otherwise: the API's "most recent 30 days".
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// One operation's jobs, as counts per UTC day and dimension values (a count cube), with
/// the identity of every job that has an id (SPEC §10).
///
/// Build it once and keep it current: [`JobTable::push`] / [`JobTable::extend`] add jobs,
/// [`JobTable::upsert`] replaces a job by id, [`JobTable::remove`] takes it out,
/// [`JobTable::apply`] applies a [`Batch`] of changes all or nothing, and
/// [`JobTable::expire`] drops days past retention. Query it with
/// [`summarize`](crate::summarize), an [`Aggregator`](crate::Aggregator) or
/// [`JobTable::answer`]: a query costs time in proportion to the cells of its window, not
/// to the number of jobs.
///
/// ```
/// use backup_summaries::{JobId, JobRecord, JobTable, Operation, State, UnixMillis, Upserted};
/// let mut table = JobTable::new(Operation::Backup);
/// let id: JobId = "job-1".parse()?;
/// let created = JobRecord::new(
///     "123456789012".parse()?, "us-east-1".parse()?, State::Created, "EBS".parse()?,
///     UnixMillis::new(1_795_737_600_000),
/// )
/// .with_job_id(Some(id.clone()));
/// assert_eq!(table.upsert(&created, None)?, Upserted::Inserted);
/// let done = created.clone().with_state(State::Completed);
/// assert_eq!(table.upsert(&done, None)?, Upserted::Replaced);
/// assert_eq!(table.len(), 1);
/// assert_eq!(table.get(&id).map(|j| j.state()), Some(State::Completed));
/// // a state copy jobs have but backup jobs do not:
/// let wrong = created.clone().with_state(State::Completing);
/// assert!(table.push(&wrong).is_err());
/// assert!(table.remove(&id));
/// assert!(table.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct JobTable {
    operation: Operation,
    /// The cells of each UTC day (days since the epoch), in day order.
    pub(crate) days: BTreeMap<i64, Day>,
    pub(crate) packing: Packing,
    pub(crate) dims: Dims,
    /// Where each global cell id lives; `None` for a freed id (see `free`).
    cells: Vec<Option<CellRef>>,
    free: Vec<u32>,
    ids: IdIndex,
    /// Jobs counted: the sum of all cell counts.
    jobs: u64,
    retention_days: u32,
    generation: u64,
    /// Hashes cell words for the day indexes (one seed per table, kept by clones).
    hasher: DefaultHashBuilder,
}

/// The cells of one day: parallel columns, plus a word → position index.
#[derive(Clone, Debug)]
pub(crate) struct Day {
    pub(crate) words: Words,
    pub(crate) counts: Vec<u64>,
    cell_ids: Vec<u32>,
    index: HashTable<u32>,
}

/// Where a global cell id lives.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
struct CellRef {
    day: i64,
    pos: u32,
}

/// The packed words of a day: 64 bits while the fields fit, else 128.
#[derive(Clone, Debug)]
pub(crate) enum Words {
    Narrow(Vec<u64>),
    Wide(Vec<u128>),
}

/// Bit widths and shifts of the packed fields.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Packing {
    pub(crate) width: [u32; PACKED],
    pub(crate) shift: [u32; PACKED],
}

/// What [`JobTable::upsert`] did.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Upserted {
    /// The job was new (or anonymous): one more job is counted.
    Inserted,
    /// A stored job with the same id was replaced: its old version no longer counts.
    Replaced,
    /// The change was older than the stored job's version: ignored (SPEC §10).
    Stale,
}

/// What applying one identified change of a [`Batch`] does (see [`JobTable::preview`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Outcome {
    /// A new job.
    Inserted,
    /// The stored job with the same id is replaced.
    Replaced,
    /// Older than the stored job's version: ignored.
    Stale,
    /// A removal of a stored job.
    Removed,
    /// A removal of an id no job has.
    NotFound,
}

/// What [`JobTable::expire`] dropped.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct Expired {
    /// Days dropped.
    pub days: usize,
    /// Jobs dropped (identified and anonymous).
    pub jobs: u64,
    /// Identified jobs dropped from the identity index.
    pub identified: usize,
}

/// An identified job as a table keeps it: its cell's values, its CreationDate's day and its
/// version (no strings are kept per job, so neither the id nor the exact CreationDate is).
#[derive(Clone, Copy, Debug)]
pub struct CurrentJob<'t> {
    table: &'t JobTable,
    key: JobKey,
    day: i64,
    ids: [u32; PACKED],
    version: Version,
}

/// A packed word type.
pub(crate) trait Word: Copy + Send + Sync {
    /// The bits at `shift` under `mask` (a mask of at most 32 bits).
    fn field(self, shift: u32, mask: u32) -> usize;
    /// Whether `self & mask == value`.
    fn matches(self, mask: u128, value: u128) -> bool;
}

impl Word for u64 {
    #[inline(always)]
    fn field(self, shift: u32, mask: u32) -> usize {
        ((self >> shift) as u32 & mask) as usize
    }
    #[inline(always)]
    fn matches(self, mask: u128, value: u128) -> bool {
        // Narrow packings never set bits above 64 in mask or value.
        self & (mask as Self) == value as Self
    }
}

impl Word for u128 {
    #[inline(always)]
    fn field(self, shift: u32, mask: u32) -> usize {
        ((self >> shift) as u32 & mask) as usize
    }
    #[inline(always)]
    fn matches(self, mask: u128, value: u128) -> bool {
        self & mask == value
    }
}

impl Packing {
    /// Widths with room to grow: state and extra are 4 bits, the rest start small.
    fn initial() -> Self {
        Self::with_widths([3, 6, 4, 5, 5, 4])
    }

    fn with_widths(width: [u32; PACKED]) -> Self {
        let mut shift = [0; PACKED];
        let mut at = 0;
        for f in 0..PACKED {
            shift[f] = at;
            at += width[f];
        }
        Self { width, shift }
    }

    pub(crate) fn bits(&self) -> u32 {
        self.width.iter().sum()
    }

    fn fits(&self, ids: &[u32; PACKED]) -> bool {
        ids.iter()
            .zip(self.width)
            .all(|(&id, w)| u64::from(id) < (1u64 << w))
    }

    /// A packing wide enough for `ids`, widening each field that overflows.
    fn grown(&self, ids: &[u32; PACKED]) -> Self {
        let mut width = self.width;
        for f in 0..PACKED {
            while u64::from(ids[f]) >= (1u64 << width[f]) {
                width[f] += 1;
            }
        }
        Self::with_widths(width)
    }

    fn pack(&self, ids: &[u32; PACKED]) -> u128 {
        ids.iter()
            .enumerate()
            .fold(0u128, |w, (f, &id)| w | (u128::from(id) << self.shift[f]))
    }

    fn unpack(&self, word: u128) -> [u32; PACKED] {
        // Each field is at most 28 bits wide (MAX_SYMBOLS), so the cast keeps every bit.
        std::array::from_fn(|f| ((word >> self.shift[f]) & ((1u128 << self.width[f]) - 1)) as u32)
    }
}

impl Words {
    fn new(narrow: bool) -> Self {
        if narrow {
            Self::Narrow(Vec::new())
        } else {
            Self::Wide(Vec::new())
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Narrow(v) => v.len(),
            Self::Wide(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Option<u128> {
        match self {
            Self::Narrow(v) => v.get(i).map(|&w| u128::from(w)),
            Self::Wide(v) => v.get(i).copied(),
        }
    }

    /// Appends `word`, which fits the words' width (a narrow packing's words fit 64 bits).
    fn push(&mut self, word: u128) {
        match self {
            Self::Narrow(v) => {
                debug_assert!(u64::try_from(word).is_ok(), "a wide word in a narrow day");
                v.push(word as u64);
            }
            Self::Wide(v) => v.push(word),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Narrow(v) => v.capacity() * 8,
            Self::Wide(v) => v.capacity() * 16,
        }
    }
}

impl Day {
    fn new(narrow: bool) -> Self {
        Self {
            words: Words::new(narrow),
            counts: Vec::new(),
            cell_ids: Vec::new(),
            index: HashTable::new(),
        }
    }

    fn find(&self, word: u128, hasher: &DefaultHashBuilder) -> Option<usize> {
        let words = &self.words;
        self.index
            .find(hasher.hash_one(word), |&p| {
                words.get(p as usize) == Some(word)
            })
            .map(|&p| p as usize)
    }

    fn push(&mut self, word: u128, id: u32, hasher: &DefaultHashBuilder) -> usize {
        let pos = self.words.len();
        self.words.push(word);
        self.counts.push(0);
        self.cell_ids.push(id);
        let words = &self.words;
        self.index
            .insert_unique(hasher.hash_one(word), len_u32(pos), |&p| {
                hasher.hash_one(words.get(p as usize).unwrap_or(0))
            });
        pos
    }

    fn heap_bytes(&self) -> usize {
        self.words.heap_bytes()
            + self.counts.capacity() * 8
            + self.cell_ids.capacity() * 4
            + self.index.capacity() * 5
    }
}

impl JobTable {
    /// An empty table for `operation`'s jobs, with the default retention (30 days).
    #[must_use]
    pub fn new(operation: Operation) -> Self {
        Self {
            operation,
            days: BTreeMap::new(),
            packing: Packing::initial(),
            dims: Dims::default(),
            cells: Vec::new(),
            free: Vec::new(),
            ids: IdIndex::default(),
            jobs: 0,
            retention_days: DEFAULT_RETENTION_DAYS,
            generation: 0,
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// The same table, keeping `days` days before today on [`JobTable::expire`].
    #[must_use]
    pub fn with_retention_days(mut self, days: u32) -> Self {
        self.retention_days = days;
        self
    }

    /// A table holding `records` (see [`JobTable::extend`]).
    ///
    /// # Errors
    /// As [`JobTable::extend`].
    pub fn from_records<'a>(
        operation: Operation,
        records: impl IntoIterator<Item = &'a JobRecord>,
    ) -> Result<Self, BatchError> {
        let mut table = Self::new(operation);
        table.extend(records)?;
        Ok(table)
    }

    /// The operation whose jobs this table holds.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Days kept before today by [`JobTable::expire`].
    #[must_use]
    pub fn retention_days(&self) -> u32 {
        self.retention_days
    }

    /// Number of jobs counted, identified and anonymous.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.jobs
    }

    /// Whether the table counts no job.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.jobs == 0
    }

    /// Number of identified jobs (those with a job id).
    #[must_use]
    pub fn identified_len(&self) -> usize {
        self.ids.len()
    }

    /// Number of cells (distinct days × dimension values seen, including cells whose jobs
    /// all moved on; they go when their day expires).
    #[must_use]
    pub fn cell_count(&self) -> usize {
        self.days.values().map(|d| d.counts.len()).sum()
    }

    /// A number that changes whenever the table does: a summary computed at one generation
    /// is still exact while the generation is the same (for caches above the table).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Bytes of heap memory the cells and the identity index use (dictionaries are extra and
    /// proportional to the number of distinct values).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.days.values().map(Day::heap_bytes).sum::<usize>()
            + self.cells.capacity() * size_of::<Option<CellRef>>()
            + self.ids.heap_bytes()
    }

    /// Adds one job: an upsert without a version (see [`JobTable::upsert`]).
    ///
    /// # Errors
    /// As [`JobTable::upsert`].
    pub fn push(&mut self, record: &JobRecord) -> Result<(), RecordError> {
        self.upsert(record, None).map(|_| ())
    }

    /// Adds many jobs at once, all or nothing: upserts without a version, in order.
    ///
    /// # Errors
    /// [`BatchError`] with the position (0-based, in `records`) and error of the first bad
    /// record; the table is unchanged then.
    pub fn extend<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a JobRecord>,
    ) -> Result<Applied, BatchError> {
        let mut batch = Batch::new(self.operation);
        for record in records {
            batch.upsert(record, None)?;
        }
        self.apply(batch)
    }

    /// Adds `record` if it is new, or replaces the stored job with its id (SPEC §10): the old
    /// version's count moves to the new one's cell. A record without a job id is an
    /// anonymous job: always added, never replaced. With a `version` older than the stored
    /// job's, the change is stale and ignored; a change without a version always applies and
    /// leaves the stored version as it was.
    ///
    /// # Errors
    /// [`RecordError::WrongKind`] when the record's state is not one of the table's
    /// operation's states. The table is unchanged then.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{JobId, JobRecord, JobTable, Operation, State, UnixMillis, Upserted, Version};
    /// let mut table = JobTable::new(Operation::Copy);
    /// let job = JobRecord::new("123456789012".parse()?, "eu-west-1".parse()?, State::Running,
    ///     "EBS".parse()?, UnixMillis::new(1_795_737_600_000)).with_job_id(Some("c-1".parse()?));
    /// assert_eq!(table.upsert(&job, Some(Version::from_secs(20)))?, Upserted::Inserted);
    /// let late = job.clone().with_state(State::Created);
    /// assert_eq!(table.upsert(&late, Some(Version::from_secs(10)))?, Upserted::Stale);
    /// assert_eq!(table.get(&"c-1".parse()?).map(|j| j.state()), Some(State::Running));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upsert(
        &mut self,
        record: &JobRecord,
        version: Option<Version>,
    ) -> Result<Upserted, RecordError> {
        let packed = self.dims.pack(self.operation, &record.fields())?;
        let key = record.job_id().map(JobId::key);
        Ok(self.place(packed, key, version))
    }

    /// [`JobTable::upsert`] of `record` as the job with key `key`, whatever id the record
    /// carries: for callers that keep keys rather than ids (a store rebuilding a table, say).
    ///
    /// # Errors
    /// As [`JobTable::upsert`].
    pub fn upsert_key(
        &mut self,
        key: JobKey,
        record: &JobRecord,
        version: Option<Version>,
    ) -> Result<Upserted, RecordError> {
        let packed = self.dims.pack(self.operation, &record.fields())?;
        Ok(self.place(packed, Some(key), version))
    }

    /// Makes room in the identity index for `additional` more identified jobs, so that
    /// loading that many (a restart from storage, say) does not rehash the index as it grows.
    /// Costs 32 bytes per job of headroom at most (the index's 75 % fill after a reserve).
    ///
    /// ```
    /// use backup_summaries::{JobKey, JobRecord, JobTable, Operation, State, UnixMillis};
    /// let mut table = JobTable::new(Operation::Backup);
    /// table.reserve_identified(1_000);
    /// let job = JobRecord::new("123456789012".parse()?, "us-east-1".parse()?, State::Running,
    ///     "EBS".parse()?, UnixMillis::new(0));
    /// for i in 0..1_000 {
    ///     table.upsert_key(JobKey::of(&i.to_string()), &job, None)?;
    /// }
    /// assert_eq!(table.identified_len(), 1_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reserve_identified(&mut self, additional: usize) {
        self.ids.reserve(additional);
    }

    /// Adds `n` jobs with `record`'s values to its cell at once: pre-counted input, such as a
    /// GROUP BY computed elsewhere. The record's job id, if any, is not used: pre-counted jobs
    /// are anonymous.
    ///
    /// # Errors
    /// As [`JobTable::upsert`].
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{summarize, Caller, JobRecord, JobTable, Operation, Query, State, UnixMillis};
    /// let me = "123456789012".parse()?;
    /// let mut table = JobTable::new(Operation::Backup);
    /// let cell = JobRecord::new(me, "us-east-1".parse()?, State::Failed, "RDS".parse()?,
    ///     UnixMillis::new(1_795_690_000_000));
    /// table.add_count(&cell, 1_000_000)?;
    /// let query = Query::builder(Operation::Backup).build()?;
    /// let caller = Caller::new(me, "us-east-1".parse()?);
    /// let summary = summarize(&query, &caller, UnixMillis::new(1_795_737_599_000), &table);
    /// assert_eq!(summary.total(), 1_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_count(&mut self, record: &JobRecord, n: u64) -> Result<(), RecordError> {
        let packed = self.dims.pack(self.operation, &record.fields())?;
        if n > 0 {
            let word = self.word(&packed.ids);
            let cell = self.cell(packed.day, word);
            self.add_to(cell, n);
            self.generation += 1;
        }
        Ok(())
    }

    /// Takes the job with id `id` out; `false` if no job has that id.
    pub fn remove(&mut self, id: &JobId) -> bool {
        self.remove_key(id.key())
    }

    /// Takes the job with key `key` out; `false` if no job has that key.
    pub fn remove_key(&mut self, key: JobKey) -> bool {
        match self.ids.remove(key) {
            Some(entry) => {
                self.take_from(entry.cell);
                self.generation += 1;
                true
            }
            None => false,
        }
    }

    /// The stored version of the job with id `id`.
    #[must_use]
    pub fn get(&self, id: &JobId) -> Option<CurrentJob<'_>> {
        self.get_key(id.key())
    }

    /// The stored version of the job with key `key`.
    #[must_use]
    pub fn get_key(&self, key: JobKey) -> Option<CurrentJob<'_>> {
        let entry = self.ids.get(key)?;
        self.current(key, entry)
    }

    /// Every identified job, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = CurrentJob<'_>> + '_ {
        self.ids.iter().filter_map(|(k, e)| self.current(k, e))
    }

    /// Removes every job (the retention stays).
    pub fn clear(&mut self) {
        let generation = self.generation + 1;
        *self = Self::new(self.operation).with_retention_days(self.retention_days);
        self.generation = generation;
    }

    /// Drops the jobs created before `today − retention` (`today` is `now`'s UTC day, SPEC §5
    /// and §10), from the cells and the identity index, and gives their memory back.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{JobRecord, JobTable, Operation, State, UnixMillis};
    /// const DAY: i64 = 86_400_000;
    /// let now = UnixMillis::new(1_795_737_599_000); // 2026-11-26T23:59:59Z
    /// let mut table = JobTable::new(Operation::Backup).with_retention_days(30);
    /// for age in [30, 31] {
    ///     table.push(&JobRecord::new("123456789012".parse()?, "us-east-1".parse()?,
    ///         State::Completed, "EBS".parse()?, UnixMillis::new(now.as_millis() - age * DAY)))?;
    /// }
    /// assert_eq!(table.expire(now).jobs, 1);
    /// assert_eq!(table.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expire(&mut self, now: UnixMillis) -> Expired {
        let cutoff = now.day().saturating_sub(i64::from(self.retention_days));
        let kept = self.days.split_off(&cutoff);
        let dropped = std::mem::replace(&mut self.days, kept);
        let mut out = Expired {
            days: dropped.len(),
            ..Expired::default()
        };
        if dropped.is_empty() {
            return out;
        }
        for day in dropped.values() {
            out.jobs += day.counts.iter().sum::<u64>();
            for &id in &day.cell_ids {
                if let Some(slot) = self.cells.get_mut(id as usize) {
                    *slot = None;
                    self.free.push(id);
                }
            }
        }
        self.jobs -= out.jobs;
        let before = self.ids.len();
        let cells = &self.cells;
        self.ids
            .retain(|_, e| cells.get(e.cell as usize).is_some_and(Option::is_some));
        out.identified = before - self.ids.len();
        self.generation += 1;
        out
    }

    /// Applies `batch`, all or nothing (SPEC §10): anonymous jobs and pre-counted cells are
    /// added, identified changes applied in order (upserts, removals, stale versions
    /// ignored).
    ///
    /// # Errors
    /// [`BatchError`] when the batch is for another operation, or when it would take a
    /// field of the table past 2^28 distinct values; the table is unchanged then.
    pub fn apply(&mut self, batch: Batch) -> Result<Applied, BatchError> {
        if batch.operation() != self.operation {
            return Err(BatchError::new(
                0,
                RecordError::invalid(
                    RecordField::Operation,
                    batch.operation().as_str(),
                    "a batch for the table's operation",
                ),
            ));
        }
        let (dims, anonymous, changes) = batch.into_parts();
        if self.dims.widest() + dims.widest() > MAX_SYMBOLS as usize {
            return Err(BatchError::new(
                0,
                RecordError::invalid(
                    RecordField::Batch,
                    "",
                    "at most 2^28 distinct values of a field per table",
                ),
            ));
        }
        let maps = self.dims.absorb(&dims);
        let mut applied = Applied::default();
        // Changes to different jobs commute, and a stable sort keeps each job's own changes
        // in order: so the identified changes are applied in the order of their keys' slots
        // in the identity index (sized first, so that no slot moves meanwhile), which turns a
        // large batch's random probes into one sweep over the index.
        let mut changes = changes;
        if changes.len() > SORTED_APPLY_MIN {
            // Only here: reserving touches every shard, which a small batch need not.
            self.ids
                .reserve_keys(changes.iter().filter_map(|c| match *c {
                    crate::batch::Change::Upsert { key, .. } => Some(key),
                    crate::batch::Change::Remove(_) => None,
                }));
            let slot = |c: &crate::batch::Change| match *c {
                crate::batch::Change::Upsert { key, .. } | crate::batch::Change::Remove(key) => {
                    self.ids.home_slot(key)
                }
            };
            // Changes already in slot order (keys read back in key order, as a store
            // holds them: a key's slot follows from its high bits) need no sort.
            let sorted = changes.windows(2).all(|w| match w {
                [a, b] => slot(a) <= slot(b),
                _ => true,
            });
            // Sort (slot, position) pairs, not the changes: small, and the position keeps
            // the sort stable.
            if !sorted {
                let mut order: Vec<(usize, usize)> = changes
                    .iter()
                    .enumerate()
                    .map(|(at, c)| (slot(c), at))
                    .collect();
                order.sort_unstable();
                changes = order
                    .into_iter()
                    .filter_map(|(_, at)| changes.get(at).copied())
                    .collect();
            }
        }
        for (packed, n) in anonymous {
            let ids = remap(packed.ids, &maps);
            let word = self.word(&ids);
            self.add_to_word(packed.day, word, n);
            applied.inserted += n;
        }
        // In groups: touch every key's home slot first, so the cache misses of a group
        // overlap instead of following one another.
        for group in changes.chunks(16) {
            let mut touched = 0u64;
            for change in group {
                let (crate::batch::Change::Upsert { key, .. } | crate::batch::Change::Remove(key)) =
                    change;
                touched ^= self.ids.touch(*key);
            }
            std::hint::black_box(touched);
            for &change in group {
                match change {
                    crate::batch::Change::Upsert {
                        key,
                        packed,
                        version,
                    } => {
                        let packed = Packed {
                            day: packed.day,
                            ids: remap(packed.ids, &maps),
                        };
                        match self.place(packed, Some(key), version) {
                            Upserted::Inserted => applied.inserted += 1,
                            Upserted::Replaced => applied.replaced += 1,
                            Upserted::Stale => applied.stale += 1,
                        }
                    }
                    crate::batch::Change::Remove(key) => {
                        if self.remove_key(key) {
                            applied.removed += 1;
                        } else {
                            applied.not_found += 1;
                        }
                    }
                }
            }
        }
        self.generation += 1;
        Ok(applied)
    }

    /// What [`JobTable::apply`] would do with each identified change of `batch` (upserts of
    /// records with a job id, and removals), in the order they were staged, without changing
    /// anything. Anonymous and pre-counted jobs are always inserted and are not listed. A
    /// server uses it to write exactly the changes that will apply to durable storage before
    /// applying them.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{Batch, JobRecord, JobTable, Operation, Outcome, State, UnixMillis, Version};
    /// let job = JobRecord::new("123456789012".parse()?, "us-east-1".parse()?, State::Running,
    ///     "EBS".parse()?, UnixMillis::new(0)).with_job_id(Some("j".parse()?));
    /// let mut table = JobTable::new(Operation::Backup);
    /// table.upsert(&job, Some(Version::from_secs(5)))?;
    /// let mut batch = Batch::new(Operation::Backup);
    /// batch.upsert(&job, Some(Version::from_secs(4)))?;
    /// batch.upsert(&job, Some(Version::from_secs(6)))?;
    /// batch.remove(&"j".parse()?);
    /// batch.remove(&"j".parse()?);
    /// assert_eq!(table.preview(&batch), [Outcome::Stale, Outcome::Replaced, Outcome::Removed, Outcome::NotFound]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn preview(&self, batch: &Batch) -> Vec<Outcome> {
        self.preview_versions(batch)
            .into_iter()
            .map(|(outcome, _)| outcome)
            .collect()
    }

    /// [`JobTable::preview`], with the version each inserted or replaced job has once the
    /// change applies: the change's own, or for a change without one the version the job
    /// keeps (0 for a new job). `None` for stale changes and removals. A server stores it
    /// with the job, so that a restart orders later changes exactly as this table would.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{Batch, JobRecord, JobTable, Operation, Outcome, State, UnixMillis, Version};
    /// let job = JobRecord::new("123456789012".parse()?, "us-east-1".parse()?, State::Running,
    ///     "EBS".parse()?, UnixMillis::new(0)).with_job_id(Some("j".parse()?));
    /// let mut table = JobTable::new(Operation::Backup);
    /// table.upsert(&job, Some(Version::from_secs(5)))?;
    /// let mut batch = Batch::new(Operation::Backup);
    /// batch.upsert(&job, None)?;
    /// batch.upsert(&job, Some(Version::from_secs(3)))?;
    /// assert_eq!(table.preview_versions(&batch), [
    ///     (Outcome::Replaced, Some(Version::from_secs(5))),
    ///     (Outcome::Stale, None),
    /// ]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn preview_versions(&self, batch: &Batch) -> Vec<(Outcome, Option<Version>)> {
        let mut overlay: hashbrown::HashMap<JobKey, Option<Version>> = hashbrown::HashMap::new();
        batch
            .changes()
            .iter()
            .map(|change| match *change {
                crate::batch::Change::Upsert { key, version, .. } => {
                    let stored = match overlay.get(&key) {
                        Some(v) => *v,
                        None => self.ids.get(key).map(|e| e.version),
                    };
                    match stored {
                        Some(s) if version.is_some_and(|v| v < s) => (Outcome::Stale, None),
                        Some(s) => {
                            let now = version.unwrap_or(s);
                            overlay.insert(key, Some(now));
                            (Outcome::Replaced, Some(now))
                        }
                        None => {
                            let now = version.unwrap_or_default();
                            overlay.insert(key, Some(now));
                            (Outcome::Inserted, Some(now))
                        }
                    }
                }
                crate::batch::Change::Remove(key) => {
                    let present = match overlay.get(&key) {
                        Some(v) => v.is_some(),
                        None => self.ids.get(key).is_some(),
                    };
                    overlay.insert(key, None);
                    if present {
                        (Outcome::Removed, None)
                    } else {
                        (Outcome::NotFound, None)
                    }
                }
            })
            .collect()
    }

    /// Adds every job `other` counts to this table as anonymous counts: merging two cubes
    /// is adding them. `other`'s identities are not carried over.
    ///
    /// # Errors
    /// [`BatchError`] when `other` is for another operation or would take a field of the
    /// table past 2^28 distinct values; the table is unchanged then.
    pub fn add_counts_of(&mut self, other: &Self) -> Result<u64, BatchError> {
        if other.operation != self.operation {
            return Err(BatchError::new(
                0,
                RecordError::invalid(
                    RecordField::Operation,
                    other.operation.as_str(),
                    "a table of the same operation",
                ),
            ));
        }
        let mut batch = Batch::new(self.operation);
        batch.add_cells(&other.dims, other.cells());
        self.apply(batch).map(|a| a.inserted)
    }

    /// Adds the jobs `tally` counted (each an anonymous job, as if [`JobTable::push`]ed):
    /// the end of a one-shot load. Returns how many.
    ///
    /// # Errors
    /// If `tally` counts another operation's jobs, or together they hold more than 2^28
    /// distinct values of a field (nothing is added then).
    #[cfg(feature = "wire")]
    pub fn add_tally(&mut self, tally: &crate::Tally) -> Result<u64, BatchError> {
        crate::tally::check_joinable(self.operation, &self.dims, tally)?;
        let maps = self.dims.absorb(&tally.dims);
        let mut cells: Vec<(i64, [u32; PACKED], u64)> = tally
            .counted()
            .map(|(day, ids, n)| (day, remap(ids, &maps), n))
            .collect();
        // Day by day: each day's columns and index are made while in the cache.
        cells.sort_unstable_by_key(|&(day, _, _)| day);
        let mut added = 0;
        for (day, ids, n) in cells {
            let word = self.word(&ids);
            self.add_to_word(day, word, n);
            added += n;
        }
        if added > 0 {
            self.generation += 1;
        }
        Ok(added)
    }

    /// Every non-empty cell: its day, its ids and its count.
    pub(crate) fn cells(&self) -> impl Iterator<Item = (i64, [u32; PACKED], u64)> + '_ {
        self.days.iter().flat_map(move |(&day, d)| {
            d.counts
                .iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0)
                .filter_map(move |(p, &n)| {
                    let word = d.words.get(p)?;
                    Some((day, self.packing.unpack(word), n))
                })
        })
    }

    /// Counts one interned job: anonymous when `key` is `None`, else an upsert by key.
    fn place(&mut self, packed: Packed, key: Option<JobKey>, version: Option<Version>) -> Upserted {
        let word = self.word(&packed.ids);
        let Some(key) = key else {
            self.add_to_word(packed.day, word, 1);
            self.generation += 1;
            return Upserted::Inserted;
        };
        // The cell first (cheap, and usually present), so the index is probed once; the job
        // is counted in it at once (taken back if the change is stale, which is rare).
        let cell = self.add_to_word(packed.day, word, 1);
        let mut stale = false;
        let old = self.ids.update(key, |old| match old {
            Some(o) if version.is_some_and(|v| v < o.version) => {
                stale = true;
                None
            }
            Some(o) => Some(Entry {
                cell,
                version: version.unwrap_or(o.version),
            }),
            None => Some(Entry {
                cell,
                version: version.unwrap_or_default(),
            }),
        });
        if stale {
            self.take_from(cell);
            return Upserted::Stale;
        }
        if let Some(old) = old {
            self.take_from(old.cell);
        }
        self.generation += 1;
        if old.is_some() {
            Upserted::Replaced
        } else {
            Upserted::Inserted
        }
    }

    /// The word of `ids`, widening the packing (and re-encoding every cell) first if needed.
    fn word(&mut self, ids: &[u32; PACKED]) -> u128 {
        if !self.packing.fits(ids) {
            self.repack(self.packing.grown(ids));
        }
        self.packing.pack(ids)
    }

    /// The global id of the cell `(day, word)`, made if new.
    fn cell(&mut self, day: i64, word: u128) -> u32 {
        let narrow = self.packing.bits() <= 64;
        let hasher = &self.hasher;
        let d = self.days.entry(day).or_insert_with(|| Day::new(narrow));
        if let Some(pos) = d.find(word, hasher) {
            if let Some(&id) = d.cell_ids.get(pos) {
                return id;
            }
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.cells.push(None);
                len_u32(self.cells.len() - 1)
            }
        };
        let pos = d.push(word, id, hasher);
        if let Some(slot) = self.cells.get_mut(id as usize) {
            *slot = Some(CellRef {
                day,
                pos: len_u32(pos),
            });
        }
        id
    }

    /// Adds `n` jobs to the cell `(day, word)`, made if new; returns its global id. An
    /// existing cell's count is found in its day directly, not through its global id (one
    /// lookup, not three).
    fn add_to_word(&mut self, day: i64, word: u128, n: u64) -> u32 {
        if let Some(d) = self.days.get_mut(&day) {
            if let Some(pos) = d.find(word, &self.hasher) {
                if let (Some(&id), Some(count)) = (d.cell_ids.get(pos), d.counts.get_mut(pos)) {
                    *count += n;
                    self.jobs += n;
                    return id;
                }
                // A position the day's index holds is in its columns; debug builds assert
                // it. In release (a bug) the code below makes the cell again, so the count
                // goes to a second cell of the same word: still counted, never lost.
                debug_assert!(false, "day {day}: index position {pos} outside its columns");
            }
        }
        let cell = self.cell(day, word);
        self.add_to(cell, n);
        cell
    }

    fn add_to(&mut self, cell: u32, n: u64) {
        let count = self.count_mut(cell);
        debug_assert!(count.is_some(), "cell {cell} is not live");
        if let Some(c) = count {
            *c += n;
            self.jobs += n;
        }
    }

    /// Takes one job from `cell`, which counts at least one (an identified job is in it).
    fn take_from(&mut self, cell: u32) {
        let count = self.count_mut(cell);
        debug_assert!(
            count.as_ref().is_some_and(|c| **c > 0),
            "cell {cell} is empty"
        );
        if let Some(c) = count {
            if *c > 0 {
                *c -= 1;
                self.jobs -= 1;
            }
        }
    }

    fn count_mut(&mut self, cell: u32) -> Option<&mut u64> {
        let r = (*self.cells.get(cell as usize)?)?;
        self.days.get_mut(&r.day)?.counts.get_mut(r.pos as usize)
    }

    fn current(&self, key: JobKey, entry: Entry) -> Option<CurrentJob<'_>> {
        let r = (*self.cells.get(entry.cell as usize)?)?;
        let word = self.days.get(&r.day)?.words.get(r.pos as usize)?;
        Some(CurrentJob {
            table: self,
            key,
            day: r.day,
            ids: self.packing.unpack(word),
            version: entry.version,
        })
    }

    /// Re-encodes every cell for a wider packing (amortized: widths only grow) and rebuilds
    /// the day indexes. Positions, and so global cell ids, do not change.
    fn repack(&mut self, to: Packing) {
        let from = self.packing;
        let hasher = &self.hasher;
        for day in self.days.values_mut() {
            let n = day.words.len();
            let words: Vec<u128> = (0..n)
                .filter_map(|i| day.words.get(i))
                .map(|w| to.pack(&from.unpack(w)))
                .collect();
            let mut fresh = Day::new(to.bits() <= 64);
            for (&w, (&count, &id)) in words.iter().zip(day.counts.iter().zip(&day.cell_ids)) {
                let pos = fresh.push(w, id, hasher);
                if let Some(c) = fresh.counts.get_mut(pos) {
                    *c = count;
                }
            }
            *day = fresh;
        }
        self.packing = to;
    }
}

impl<'t> CurrentJob<'t> {
    /// The key of the job's id.
    #[must_use]
    pub fn key(&self) -> JobKey {
        self.key
    }

    /// The start (00:00 UTC) of the day the job was created on.
    #[must_use]
    pub fn creation_day(&self) -> UnixMillis {
        UnixMillis::new(self.day.saturating_mul(DAY_MS))
    }

    /// The job's account.
    #[must_use]
    pub fn account_id(&self) -> Option<AccountId> {
        self.table.dims.accounts.get(self.ids[ACCOUNT])
    }

    /// The job's region.
    #[must_use]
    pub fn region(&self) -> &'t str {
        self.table.dims.regions.name(self.ids[REGION])
    }

    /// The job's current state.
    #[must_use]
    pub fn state(&self) -> State {
        let state = u8::try_from(self.ids[STATE])
            .ok()
            .and_then(State::from_code);
        debug_assert!(state.is_some(), "state code {} unknown", self.ids[STATE]);
        state.unwrap_or(State::Created)
    }

    /// The protected resource's type.
    #[must_use]
    pub fn resource_type(&self) -> &'t str {
        self.table.dims.resource_types.name(self.ids[RESOURCE_TYPE])
    }

    /// The message category, if the job has one (upper case).
    #[must_use]
    pub fn message_category(&self) -> Option<&'t str> {
        let c = self.ids[CATEGORY];
        (c > 0).then(|| self.table.dims.categories.name(c - 1))
    }

    /// The malware scanner, if the job has one.
    #[must_use]
    pub fn malware_scanner(&self) -> Option<MalwareScanner> {
        scan_parts(self.ids[EXTRA]).0
    }

    /// The scan result, if the job has one.
    #[must_use]
    pub fn scan_result_status(&self) -> Option<ScanResultStatus> {
        scan_parts(self.ids[EXTRA]).1
    }

    /// The newest version applied (`None` if no change carried one).
    #[must_use]
    pub fn version(&self) -> Option<Version> {
        (self.version != Version::default()).then_some(self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Region, ResourceType};

    fn job(ms: i64) -> Result<JobRecord, RecordError> {
        Ok(JobRecord::new(
            AccountId::parse("123456789012")?,
            Region::parse("us-east-1")?,
            State::Completed,
            ResourceType::parse("EBS")?,
            UnixMillis::new(ms),
        ))
    }

    fn with_id(r: JobRecord, id: &str) -> Result<JobRecord, RecordError> {
        Ok(r.with_job_id(Some(JobId::parse(id)?)))
    }

    #[test]
    fn jobs_of_one_cell_share_a_counter() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Backup);
        for ms in [5, 1, 3, DAY_MS + 1] {
            t.push(&job(ms)?)?;
        }
        assert_eq!(t.len(), 4);
        assert_eq!(t.cell_count(), 2);
        assert_eq!(t.identified_len(), 0);
        let cells: Vec<_> = t.cells().map(|(d, _, n)| (d, n)).collect();
        assert_eq!(cells, vec![(0, 3), (1, 1)]);
        Ok(())
    }

    #[test]
    fn upsert_moves_the_count_and_remove_takes_it_back() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Backup);
        let a = with_id(job(0)?, "a")?;
        assert_eq!(
            t.upsert(&a, Some(Version::from_secs(5)))?,
            Upserted::Inserted
        );
        let moved = with_id(job(DAY_MS)?.with_state(State::Failed), "a")?;
        assert_eq!(t.upsert(&moved, None)?, Upserted::Replaced);
        let cells: Vec<_> = t.cells().map(|(d, ids, n)| (d, ids[STATE], n)).collect();
        assert_eq!(cells, vec![(1, u32::from(State::Failed.code()), 1)]);
        // The unversioned change kept version 5, so version 4 is stale.
        assert_eq!(t.upsert(&a, Some(Version::from_secs(4)))?, Upserted::Stale);
        assert_eq!(
            t.upsert(&a, Some(Version::from_secs(5)))?,
            Upserted::Replaced
        );
        let j = t.get(&JobId::parse("a")?).ok_or("a is gone")?;
        assert_eq!(
            (j.state(), j.creation_day().as_millis()),
            (State::Completed, 0)
        );
        assert_eq!(j.version(), Some(Version::from_secs(5)));
        assert!(t.remove(&JobId::parse("a")?));
        assert!(!t.remove(&JobId::parse("a")?));
        assert!(t.is_empty());
        assert_eq!(t.cells().count(), 0);
        Ok(())
    }

    #[test]
    fn failed_extend_changes_nothing() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Restore);
        t.push(&job(1)?)?;
        let generation = t.generation();
        let bad = job(0)?.with_state(State::Expired);
        let e = t.extend([&job(0)?, &bad]).err().ok_or("accepted")?;
        assert_eq!(e.position(), 1);
        assert!(matches!(e.error(), RecordError::WrongKind { .. }));
        assert_eq!((t.len(), t.generation()), (1, generation));
        Ok(())
    }

    #[test]
    fn packing_grows_to_wide_words_and_keeps_every_cell() -> Result<(), Box<dyn std::error::Error>>
    {
        let mut t = JobTable::new(Operation::Backup);
        t.push(&with_id(job(3)?, "x")?)?;
        t.push(&job(1)?)?;
        let wide = t.packing.grown(&[0, 1 << 20, 0, 1 << 20, 1 << 20, 0]);
        assert!(wide.bits() > 64 && t.packing.bits() <= 64);
        t.repack(wide);
        assert!(t.days.values().all(|d| matches!(d.words, Words::Wide(_))));
        t.push(&job(2)?)?;
        assert_eq!(t.len(), 3);
        assert_eq!(t.cell_count(), 1);
        assert_eq!(
            t.get(&JobId::parse("x")?).map(|j| j.resource_type()),
            Some("EBS")
        );
        Ok(())
    }

    #[test]
    fn expire_drops_old_days_and_their_identities() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Backup).with_retention_days(1);
        t.push(&with_id(job(0)?, "old")?)?;
        t.push(&job(0)?)?;
        t.push(&with_id(job(2 * DAY_MS)?, "new")?)?;
        let e = t.expire(UnixMillis::new(3 * DAY_MS));
        assert_eq!((e.days, e.jobs, e.identified), (1, 2, 1));
        assert_eq!((t.len(), t.identified_len()), (1, 1));
        assert!(t.get(&JobId::parse("old")?).is_none());
        // The freed cell id is reused without disturbing the live job.
        t.push(&with_id(
            job(2 * DAY_MS)?.with_state(State::Failed),
            "other",
        )?)?;
        assert_eq!(
            t.get(&JobId::parse("new")?).map(|j| j.state()),
            Some(State::Completed)
        );
        assert_eq!(t.len(), 2);
        Ok(())
    }
}
