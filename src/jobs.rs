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
    pub(crate) created: Vec<i64>,
    pub(crate) account: Vec<u32>,
    pub(crate) region: Vec<u32>,
    pub(crate) state: Vec<u8>,
    pub(crate) resource_type: Vec<u32>,
    /// 0 = absent, else 1 + id in `categories`.
    pub(crate) category: Vec<u32>,
    /// Malware scanner code in bits 0..2, scan result code in bits 2..4 (0 = absent).
    pub(crate) extra: Vec<u8>,
    pub(crate) accounts: Vec<AccountId>,
    account_index: HashTable<u32>,
    account_hasher: DefaultHashBuilder,
    pub(crate) regions: Dictionary,
    pub(crate) resource_types: Dictionary,
    pub(crate) categories: Dictionary,
    pub(crate) cache: SummaryCache,
}

/// One record in interned form, before it is placed.
#[derive(Clone, Copy)]
struct Packed {
    created: i64,
    account: u32,
    region: u32,
    state: u8,
    resource_type: u32,
    category: u32,
    extra: u8,
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

impl JobTable {
    /// An empty table for `operation`'s jobs.
    #[must_use]
    pub fn new(operation: Operation) -> Self {
        Self {
            operation,
            created: Vec::new(),
            account: Vec::new(),
            region: Vec::new(),
            state: Vec::new(),
            resource_type: Vec::new(),
            category: Vec::new(),
            extra: Vec::new(),
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

    /// Reserves room for `additional` more jobs.
    pub fn reserve(&mut self, additional: usize) {
        self.created.reserve(additional);
        self.account.reserve(additional);
        self.region.reserve(additional);
        self.state.reserve(additional);
        self.resource_type.reserve(additional);
        self.category.reserve(additional);
        self.extra.reserve(additional);
    }

    /// Frees unused capacity.
    pub fn shrink_to_fit(&mut self) {
        self.created.shrink_to_fit();
        self.account.shrink_to_fit();
        self.region.shrink_to_fit();
        self.state.shrink_to_fit();
        self.resource_type.shrink_to_fit();
        self.category.shrink_to_fit();
        self.extra.shrink_to_fit();
    }

    /// Adds one job, keeping CreationDate order.
    ///
    /// # Errors
    /// [`RecordError::WrongKind`] when the record's state is not one of the table's
    /// operation's states. The table is unchanged then.
    pub fn push(&mut self, record: &JobRecord) -> Result<(), RecordError> {
        let packed = self.pack(record)?;
        let at = if self.created.last().is_none_or(|&last| last <= packed.created) {
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
    /// The position (0-based, in `records`) and error of the first bad record; the table is
    /// unchanged then.
    pub fn extend<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a JobRecord>,
    ) -> Result<(), (usize, RecordError)> {
        let old_len = self.len();
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
                    return Err((i, e));
                }
            }
        }
        if !sorted {
            self.sort();
        }
        Ok(())
    }

    /// Checks and interns one record.
    fn pack(&mut self, r: &JobRecord) -> Result<Packed, RecordError> {
        if !self.operation.has_state(r.state()) {
            return Err(RecordError::WrongKind {
                field: "State",
                value: r.state().as_str().into(),
                operation: self.operation,
                expected: self
                    .operation
                    .states()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .into(),
            });
        }
        let category = match r.message_category() {
            Some(c) => self.categories.intern(c.as_str()).saturating_add(1),
            None => 0,
        };
        Ok(Packed {
            created: r.creation_date().as_millis(),
            account: self.intern_account(r.account_id()),
            region: self.regions.intern(r.region().as_str()),
            state: r.state().code(),
            resource_type: self.resource_types.intern(r.resource_type().as_str()),
            category,
            extra: r.malware_scanner().map_or(0, MalwareScanner::code)
                | (r.scan_result_status().map_or(0, ScanResultStatus::code) << 2),
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

    /// The id of `account`, if any job has it.
    pub(crate) fn find_account(&self, account: AccountId) -> Option<u32> {
        let hash = self.account_hasher.hash_one(account.as_u64());
        self.account_index
            .find(hash, |&id| self.accounts[id as usize] == account)
            .copied()
    }

    fn insert_at(&mut self, at: usize, p: Packed) {
        self.cache.clear();
        self.created.insert(at, p.created);
        self.account.insert(at, p.account);
        self.region.insert(at, p.region);
        self.state.insert(at, p.state);
        self.resource_type.insert(at, p.resource_type);
        self.category.insert(at, p.category);
        self.extra.insert(at, p.extra);
    }

    fn truncate(&mut self, len: usize) {
        self.cache.clear();
        self.created.truncate(len);
        self.account.truncate(len);
        self.region.truncate(len);
        self.state.truncate(len);
        self.resource_type.truncate(len);
        self.category.truncate(len);
        self.extra.truncate(len);
    }

    /// Restores CreationDate order after an unsorted bulk append (stable).
    fn sort(&mut self) {
        let mut perm: Vec<u32> = (0..u32::try_from(self.len()).unwrap_or(u32::MAX)).collect();
        let created = &self.created;
        perm.sort_by_key(|&i| created[i as usize]);
        fn apply<T: Copy>(col: &mut Vec<T>, perm: &[u32]) {
            let sorted: Vec<T> = perm.iter().map(|&i| col[i as usize]).collect();
            *col = sorted;
        }
        apply(&mut self.created, &perm);
        apply(&mut self.account, &perm);
        apply(&mut self.region, &perm);
        apply(&mut self.state, &perm);
        apply(&mut self.resource_type, &perm);
        apply(&mut self.category, &perm);
        apply(&mut self.extra, &perm);
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
