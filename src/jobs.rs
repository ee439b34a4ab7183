//! [`JobTable`]: an owned, compact, interned store of one operation's jobs.
//!
//! Every string dimension is interned once, at ingest, into a small integer id; the records
//! are kept as columns ordered by CreationDate, so a query's window is found by binary search
//! and the grouping loop reads only small integers (SPEC §2; STYLE §4 "hot path").
//!
//! Invariants: all columns have the same length; `created` is sorted ascending; a category id
//! of 0 means "absent"; ids index the dictionaries.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::answer::SummaryCache;
use crate::error::RecordError;
use crate::record::{AccountId, JobRecord};
use crate::schema::{MalwareScanner, Operation, ScanResultStatus};

/// An interner: each distinct string gets a dense id in order of first appearance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dictionary {
    names: Vec<Box<str>>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

/// Jobs of one operation, interned and ordered by CreationDate. Build it once, query it many
/// times with [`Aggregator`](crate::Aggregator) or [`summarize`](crate::summarize).
///
/// ```
/// use backup_summaries::{AccountId, JobRecord, JobTable, Operation, State, UnixMillis};
/// let mut table = JobTable::new(Operation::Backup);
/// let job = JobRecord::new(
///     "123456789012".parse()?, "us-east-1".parse()?, State::Completed, "EBS".parse()?,
///     UnixMillis::new(1_795_737_600_000),
/// );
/// table.push(&job)?;
/// assert_eq!(table.len(), 1);
/// // a state copy jobs have but backup jobs do not:
/// let wrong = JobRecord::new(
///     "123456789012".parse()?, "us-east-1".parse()?, State::Completing, "EBS".parse()?,
///     UnixMillis::new(0),
/// );
/// assert!(table.push(&wrong).is_err());
/// assert_eq!(table.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct JobTable {
    operation: Operation,
    /// CreationDate of each job, ascending.
    pub(crate) created: Vec<i64>,
    /// Every other field of each job, packed into one word (see [`Packing`]).
    pub(crate) words: Words,
    pub(crate) packing: Packing,
    /// Bit `c` set when some job has state code `c`.
    pub(crate) states_present: u16,
    /// Bit `x` set when some job has extra code `x` (scanner | result << 2).
    pub(crate) extras_present: u16,
    pub(crate) accounts: Vec<AccountId>,
    account_index: HashTable<u32>,
    account_hasher: DefaultHashBuilder,
    pub(crate) regions: Dictionary,
    pub(crate) resource_types: Dictionary,
    pub(crate) categories: Dictionary,
    pub(crate) cache: SummaryCache,
}

/// The packed words of a table: 64 bits while the fields fit, else 128.
#[derive(Clone, Debug)]
pub(crate) enum Words {
    Narrow(Vec<u64>),
    Wide(Vec<u128>),
}

/// Fields of a packed word, in bit order from the least significant.
pub(crate) const REGION: usize = 0;
pub(crate) const ACCOUNT: usize = 1;
pub(crate) const STATE: usize = 2;
pub(crate) const RESOURCE_TYPE: usize = 3;
/// 0 = absent, else 1 + id in `categories`.
pub(crate) const CATEGORY: usize = 4;
/// Malware scanner code in bits 0..2, scan result code in bits 2..4 (0 = absent).
pub(crate) const EXTRA: usize = 5;
/// Number of packed fields.
pub(crate) const PACKED: usize = 6;

/// Most distinct values one field of one table may hold (keeps every word within 128 bits).
const MAX_SYMBOLS: u32 = 1 << 28;

/// Bit widths and shifts of the packed fields.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Packing {
    pub(crate) width: [u32; PACKED],
    pub(crate) shift: [u32; PACKED],
}

/// One record in interned form, before it is placed.
#[derive(Clone, Copy)]
struct Packed {
    created: i64,
    ids: [u32; PACKED],
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

impl Dictionary {
    /// The id of `name`, interning it if new.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        let hash = self.hasher.hash_one(name);
        let names = &self.names;
        if let Some(&id) = self.index.find(hash, |&id| &*names[id as usize] == name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        let (names, hasher) = (&self.names, &self.hasher);
        self.index
            .insert_unique(hash, id, |&i| hasher.hash_one(&*names[i as usize]));
        id
    }

    /// The id of `name`, if interned.
    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.index
            .find(hash, |&id| &*self.names[id as usize] == name)
            .copied()
    }

    /// The name of `id`.
    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
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

    /// A packing wide enough for `ids`, doubling each field that overflows.
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
        std::array::from_fn(|f| {
            let w = (word >> self.shift[f]) & ((1u128 << self.width[f]) - 1);
            u32::try_from(w).unwrap_or(u32::MAX)
        })
    }
}

impl Words {
    fn len(&self) -> usize {
        match self {
            Self::Narrow(v) => v.len(),
            Self::Wide(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> u128 {
        match self {
            Self::Narrow(v) => v.get(i).map_or(0, |&w| u128::from(w)),
            Self::Wide(v) => v.get(i).copied().unwrap_or(0),
        }
    }

    fn insert(&mut self, at: usize, word: u128) {
        match self {
            // The packing is narrow, so the word fits in 64 bits.
            Self::Narrow(v) => v.insert(at, u64::try_from(word).unwrap_or(u64::MAX)),
            Self::Wide(v) => v.insert(at, word),
        }
    }

    fn truncate(&mut self, len: usize) {
        match self {
            Self::Narrow(v) => v.truncate(len),
            Self::Wide(v) => v.truncate(len),
        }
    }

    fn reserve(&mut self, n: usize) {
        match self {
            Self::Narrow(v) => v.reserve(n),
            Self::Wide(v) => v.reserve(n),
        }
    }

    fn shrink_to_fit(&mut self) {
        match self {
            Self::Narrow(v) => v.shrink_to_fit(),
            Self::Wide(v) => v.shrink_to_fit(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Narrow(v) => v.capacity() * 8,
            Self::Wide(v) => v.capacity() * 16,
        }
    }
}

impl JobTable {
    /// An empty table for `operation`'s jobs.
    #[must_use]
    pub fn new(operation: Operation) -> Self {
        Self {
            operation,
            created: Vec::new(),
            words: Words::Narrow(Vec::new()),
            packing: Packing::initial(),
            states_present: 0,
            extras_present: 0,
            accounts: Vec::new(),
            account_index: HashTable::new(),
            account_hasher: DefaultHashBuilder::default(),
            regions: Dictionary::default(),
            resource_types: Dictionary::default(),
            categories: Dictionary::default(),
            cache: SummaryCache::default(),
        }
    }

    /// A table holding `records`.
    ///
    /// # Errors
    /// As [`JobTable::extend`].
    pub fn from_records<'a>(
        operation: Operation,
        records: impl IntoIterator<Item = &'a JobRecord>,
    ) -> Result<Self, (usize, RecordError)> {
        let mut table = Self::new(operation);
        table.extend(records)?;
        Ok(table)
    }

    /// The operation whose jobs this table holds.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Number of jobs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.created.len()
    }

    /// Whether the table holds no job.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.created.is_empty()
    }

    /// Bytes of heap memory the per-job columns use (8 for CreationDate plus 8 or 16 for the
    /// packed word, times capacity); dictionaries are extra and proportional to the number
    /// of distinct values.
    #[must_use]
    pub fn column_bytes(&self) -> usize {
        self.created.capacity() * 8 + self.words.heap_bytes()
    }

    /// Reserves room for `additional` more jobs.
    pub fn reserve(&mut self, additional: usize) {
        self.created.reserve(additional);
        self.words.reserve(additional);
    }

    /// Frees unused capacity.
    pub fn shrink_to_fit(&mut self) {
        self.created.shrink_to_fit();
        self.words.shrink_to_fit();
    }

    /// Adds one job, keeping CreationDate order.
    ///
    /// A job older than the newest one already in the table is inserted in place, which moves
    /// every later job: to load many jobs in no particular order (the list APIs return the
    /// newest first), use [`JobTable::extend`], which sorts a batch and merges it once.
    ///
    /// # Errors
    /// [`RecordError::WrongKind`] when the record's state is not one of the table's
    /// operation's states. The table is unchanged then.
    pub fn push(&mut self, record: &JobRecord) -> Result<(), RecordError> {
        let packed = self.pack(record)?;
        let at = if self
            .created
            .last()
            .map_or(true, |&last| last <= packed.created)
        {
            self.len()
        } else {
            self.created.partition_point(|&c| c <= packed.created)
        };
        self.insert_at(at, packed);
        Ok(())
    }

    /// Adds many jobs at once: all or none.
    ///
    /// # Errors
    /// The position (0-based, in `records`) and error of the first bad record; no job of the
    /// batch is added then (strings it interned may stay in the dictionaries; no query sees
    /// them).
    pub fn extend<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a JobRecord>,
    ) -> Result<(), (usize, RecordError)> {
        let old_len = self.len();
        let (old_states, old_extras) = (self.states_present, self.extras_present);
        let mut sorted = true;
        let mut last = self.created.last().copied().unwrap_or(i64::MIN);
        for (i, record) in records.into_iter().enumerate() {
            match self.pack(record) {
                Ok(p) => {
                    sorted &= last <= p.created;
                    last = p.created;
                    self.insert_at(self.len(), p);
                }
                Err(e) => {
                    self.truncate(old_len);
                    (self.states_present, self.extras_present) = (old_states, old_extras);
                    return Err((i, e));
                }
            }
        }
        if !sorted {
            self.sort_tail(old_len);
        }
        Ok(())
    }

    /// Checks and interns one record.
    fn pack(&mut self, r: &JobRecord) -> Result<Packed, RecordError> {
        if !self.operation.has_state(r.state()) {
            return Err(RecordError::wrong_kind(
                "State",
                r.state().as_str(),
                self.operation,
            ));
        }
        let too_many = |field: &'static str, value: &str| {
            RecordError::invalid(
                field,
                value,
                "at most 2^28 distinct values of a field per table",
            )
        };
        let region = self.regions.intern(r.region().as_str());
        if region >= MAX_SYMBOLS {
            return Err(too_many("Region", r.region().as_str()));
        }
        let account = self.intern_account(r.account_id());
        if account >= MAX_SYMBOLS {
            return Err(too_many("AccountId", &r.account_id().to_string()));
        }
        let resource_type = self.resource_types.intern(r.resource_type().as_str());
        if resource_type >= MAX_SYMBOLS {
            return Err(too_many("ResourceType", r.resource_type().as_str()));
        }
        let category = match r.message_category() {
            Some(c) => {
                let id = self.categories.intern(c.as_str());
                if id >= MAX_SYMBOLS {
                    return Err(too_many("MessageCategory", c.as_str()));
                }
                id + 1
            }
            None => 0,
        };
        let extra = r.malware_scanner().map_or(0, MalwareScanner::code)
            | (r.scan_result_status().map_or(0, ScanResultStatus::code) << 2);
        let state = r.state().code();
        self.states_present |= 1 << (state & 15);
        self.extras_present |= 1 << (extra & 15);
        Ok(Packed {
            created: r.creation_date().as_millis(),
            ids: [
                region,
                account,
                u32::from(state),
                resource_type,
                category,
                u32::from(extra),
            ],
        })
    }

    fn intern_account(&mut self, account: AccountId) -> u32 {
        let hash = self.account_hasher.hash_one(account.as_u64());
        let accounts = &self.accounts;
        if let Some(&id) = self
            .account_index
            .find(hash, |&id| accounts[id as usize] == account)
        {
            return id;
        }
        let id = u32::try_from(self.accounts.len()).unwrap_or(u32::MAX);
        self.accounts.push(account);
        let (accounts, hasher) = (&self.accounts, &self.account_hasher);
        self.account_index.insert_unique(hash, id, |&i| {
            hasher.hash_one(accounts[i as usize].as_u64())
        });
        id
    }

    fn insert_at(&mut self, at: usize, p: Packed) {
        self.cache.clear();
        if !self.packing.fits(&p.ids) {
            self.repack(self.packing.grown(&p.ids));
        }
        self.created.insert(at, p.created);
        self.words.insert(at, self.packing.pack(&p.ids));
    }

    /// Re-encodes every word for a wider packing (amortized: widths only grow, by doubling).
    fn repack(&mut self, to: Packing) {
        let from = self.packing;
        let n = self.words.len();
        let words = if to.bits() <= 64 {
            Words::Narrow(
                (0..n)
                    .map(|i| u64::try_from(to.pack(&from.unpack(self.words.get(i)))).unwrap_or(0))
                    .collect(),
            )
        } else {
            Words::Wide(
                (0..n)
                    .map(|i| to.pack(&from.unpack(self.words.get(i))))
                    .collect(),
            )
        };
        self.words = words;
        self.packing = to;
    }

    fn truncate(&mut self, len: usize) {
        self.cache.clear();
        self.created.truncate(len);
        self.words.truncate(len);
    }

    /// Restores CreationDate order after jobs were appended at `from..`: sorts the appended
    /// run (stable), then merges it into the sorted prefix from the back, in place. Extra
    /// memory is proportional to the run, never to the table.
    fn sort_tail(&mut self, from: usize) {
        let Some(tail) = self.created.get(from..) else {
            return;
        };
        let mut perm: Vec<u32> = (0..u32::try_from(tail.len()).unwrap_or(u32::MAX)).collect();
        perm.sort_by_key(|&i| tail.get(i as usize).copied().unwrap_or(i64::MAX));
        let run: Vec<i64> = perm
            .iter()
            .filter_map(|&i| tail.get(i as usize).copied())
            .collect();
        match &mut self.words {
            Words::Narrow(w) => merge_back(&mut self.created, w, from, &run, &perm),
            Words::Wide(w) => merge_back(&mut self.created, w, from, &run, &perm),
        }
    }
}

/// Merges the run `created[from..]` (whose sorted order is `perm`, dates `run`) into the
/// sorted prefix `created[..from]`, moving words along; stable (the prefix comes first among
/// equal dates).
fn merge_back<T: Copy>(
    created: &mut [i64],
    words: &mut [T],
    from: usize,
    run: &[i64],
    perm: &[u32],
) {
    let run_words: Vec<T> = perm
        .iter()
        .filter_map(|&i| words.get(from + i as usize).copied())
        .collect();
    let (mut i, mut j, mut k) = (
        from,
        run.len().min(run_words.len()),
        created.len().min(words.len()),
    );
    while j > 0 && k > 0 {
        k -= 1;
        let take_prefix = i > 0 && created[i - 1] > run[j - 1];
        if take_prefix {
            i -= 1;
            created[k] = created[i];
            words[k] = words[i];
        } else {
            j -= 1;
            created[k] = run[j];
            words[k] = run_words[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Region, ResourceType};
    use crate::schema::State;
    use crate::time::UnixMillis;

    fn job(ms: i64) -> Result<JobRecord, RecordError> {
        Ok(JobRecord::new(
            AccountId::parse("123456789012")?,
            Region::parse("us-east-1")?,
            State::Completed,
            ResourceType::parse("EBS")?,
            UnixMillis::new(ms),
        ))
    }

    #[test]
    fn push_and_extend_keep_creation_order() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Backup);
        for ms in [5, 1, 3] {
            t.push(&job(ms)?)?;
        }
        let batch = [job(4)?, job(0)?, job(9)?];
        t.extend(&batch).map_err(|(_, e)| e)?;
        assert_eq!(t.created, vec![0, 1, 3, 4, 5, 9]);
        assert_eq!(t.accounts.len(), 1);
        assert!(matches!(t.words, Words::Narrow(_)));
        Ok(())
    }

    #[test]
    fn unsorted_batches_merge_and_keep_each_job_whole() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Backup);
        let with_account = |ms: i64, a: u64| -> Result<JobRecord, Box<dyn std::error::Error>> {
            let r = job(ms)?;
            Ok(JobRecord::new(
                AccountId::parse(&format!("{a:012}"))?,
                r.region().clone(),
                r.state(),
                r.resource_type().clone(),
                r.creation_date(),
            ))
        };
        // Account number = date, so a word that moved without its date shows.
        t.extend(&[
            with_account(10, 10)?,
            with_account(30, 30)?,
            with_account(50, 50)?,
        ])
        .map_err(|(_, e)| e)?;
        t.extend(&[
            with_account(40, 40)?,
            with_account(5, 5)?,
            with_account(30, 31)?,
            with_account(60, 60)?,
        ])
        .map_err(|(_, e)| e)?;
        assert_eq!(t.created, vec![5, 10, 30, 30, 40, 50, 60]);
        let accounts: Vec<u64> = (0..t.len())
            .map(|i| t.accounts[t.packing.unpack(t.words.get(i))[ACCOUNT] as usize].as_u64())
            .collect();
        // Stable: the earlier job with date 30 (account 30) stays before the later one.
        assert_eq!(accounts, vec![5, 10, 30, 31, 40, 50, 60]);
        Ok(())
    }

    #[test]
    fn failed_extend_changes_nothing() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Restore);
        t.push(&job(1)?)?;
        let bad = JobRecord::new(
            AccountId::parse("123456789012")?,
            Region::parse("us-east-1")?,
            State::Expired,
            ResourceType::parse("EBS")?,
            UnixMillis::new(0),
        );
        let r = t.extend([&job(0)?, &bad]);
        assert!(matches!(r, Err((1, RecordError::WrongKind { .. }))));
        assert_eq!(t.created, vec![1]);
        Ok(())
    }

    #[test]
    fn packing_grows_to_wide_words() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = JobTable::new(Operation::Backup);
        let before = t.packing;
        let a = t.packing.grown(&[0, 1 << 20, 0, 1 << 20, 1 << 20, 0]);
        assert!(a.bits() > 64 && before.bits() <= 64);
        t.push(&job(3)?)?;
        t.push(&job(1)?)?;
        t.repack(a);
        assert!(matches!(t.words, Words::Wide(_)));
        t.push(&job(2)?)?;
        assert_eq!(t.created, vec![1, 2, 3]);
        let ids: Vec<_> = (0..3).map(|i| t.packing.unpack(t.words.get(i))).collect();
        assert!(ids.iter().all(|w| *w == ids[0]));
        Ok(())
    }

    #[test]
    fn dictionary_interns_once() {
        let mut d = Dictionary::default();
        assert_eq!(d.intern("a"), 0);
        assert_eq!(d.intern("b"), 1);
        assert_eq!(d.intern("a"), 0);
        assert_eq!(d.find("b"), Some(1));
        assert_eq!(d.find("c"), None);
        assert_eq!(d.name(1), "b");
    }
}
