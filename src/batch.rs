//! [`Batch`]: changes staged for one table, applied all or nothing (SPEC §10).
//!
//! A batch checks and interns each change as it is staged, into dictionaries of its own, so
//! batches can be built on several threads (one per chunk of input) without the table, then
//! concatenated with [`Batch::append`] and applied once with
//! [`JobTable::apply`](crate::JobTable::apply)(crate::JobTable::apply). Anonymous jobs are counted per cell as they
//! are staged, so a batch of N anonymous jobs holds O(cells), not O(N); identified changes
//! keep their order.

use hashbrown::HashMap;

use crate::error::RecordError;
use crate::identity::{JobId, JobKey, Version};
use crate::intern::{remap, Dims, Packed, PACKED};
use crate::record::{Fields, JobRecord};
use crate::schema::{Operation, RecordField};

/// Changes for one operation's [`JobTable`](crate::JobTable), checked and interned, not yet applied.
///
/// ```
/// use backup_summaries::{Batch, JobRecord, JobTable, Operation, State, UnixMillis, Version};
/// let job = JobRecord::new("123456789012".parse()?, "us-east-1".parse()?, State::Running,
///     "EBS".parse()?, UnixMillis::new(1_795_737_600_000)).with_job_id(Some("b-1".parse()?));
/// let mut batch = Batch::new(Operation::Backup);
/// batch.upsert(&job, Some(Version::from_secs(1)))?;
/// batch.upsert(&job.clone().with_state(State::Completed), Some(Version::from_secs(2)))?;
/// batch.upsert(&job.clone().with_state(State::Created), Some(Version::from_secs(0)))?;
/// let mut table = JobTable::new(Operation::Backup);
/// let applied = table.apply(batch)?;
/// assert_eq!((applied.inserted, applied.replaced, applied.stale), (1, 1, 1));
/// // a bad record rejects the whole batch, naming its position:
/// let mut bad = Batch::new(Operation::Backup);
/// bad.upsert(&job, None)?;
/// let e = bad.upsert(&job.clone().with_state(State::Completing), None).err().ok_or("accepted")?;
/// assert_eq!(e.position(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Batch {
    operation: Operation,
    dims: Dims,
    anonymous: HashMap<Packed, u64>,
    changes: Vec<Change>,
    /// Changes staged so far (the position of the next one).
    staged: usize,
}

/// One identified change, interned against the batch's dictionaries.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    Upsert {
        key: JobKey,
        packed: Packed,
        version: Option<Version>,
    },
    Remove(JobKey),
}

/// What applying a batch did.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub struct Applied {
    /// Jobs added: new identified jobs, anonymous jobs and pre-counted jobs.
    pub inserted: u64,
    /// Identified jobs replaced by a newer version.
    pub replaced: u64,
    /// Changes ignored because their version was older than the stored job's.
    pub stale: u64,
    /// Jobs removed by id.
    pub removed: u64,
    /// Removals of ids no job had.
    pub not_found: u64,
}

/// A change that was rejected, with its position (0-based) among the changes of its batch.
/// Nothing of the batch was applied.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("change {position}: {error}")]
pub struct BatchError {
    position: usize,
    error: RecordError,
}

impl Batch {
    /// An empty batch for `operation`'s table.
    #[must_use]
    pub fn new(operation: Operation) -> Self {
        Self {
            operation,
            dims: Dims::default(),
            anonymous: HashMap::new(),
            changes: Vec::new(),
            staged: 0,
        }
    }

    /// The operation whose table the batch is for.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Number of changes staged (records, pre-counted cells and removals).
    #[must_use]
    pub fn len(&self) -> usize {
        self.staged
    }

    /// Whether nothing is staged.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.staged == 0
    }

    /// Stages an upsert of `record` (see [`JobTable::upsert`](crate::JobTable::upsert)).
    ///
    /// # Errors
    /// [`BatchError`] with this change's position when the record's state is not one of the
    /// operation's states; nothing is staged then.
    pub fn upsert(
        &mut self,
        record: &JobRecord,
        version: Option<Version>,
    ) -> Result<(), BatchError> {
        let key = record.job_id().map(JobId::key);
        self.stage(&record.fields(), key, version)
            .map_err(|e| BatchError::new(self.staged, e))
    }

    /// Stages an upsert of `record` as the job with key `key`, whatever id the record
    /// carries (see [`JobTable::upsert_key`](crate::JobTable::upsert_key)): for callers that keep keys rather than ids,
    /// such as a store rebuilding a table in large batches.
    ///
    /// ```
    /// use backup_summaries::{Batch, JobKey, JobRecord, JobTable, Operation, State, UnixMillis};
    /// let job = JobRecord::new("123456789012".parse()?, "us-east-1".parse()?, State::Running,
    ///     "EBS".parse()?, UnixMillis::new(0));
    /// let mut batch = Batch::new(Operation::Backup);
    /// batch.upsert_key(JobKey::of("b-1"), &job, None)?;
    /// let mut table = JobTable::new(Operation::Backup);
    /// table.apply(batch)?;
    /// assert!(table.get(&"b-1".parse()?).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Batch::upsert`].
    pub fn upsert_key(
        &mut self,
        key: JobKey,
        record: &JobRecord,
        version: Option<Version>,
    ) -> Result<(), BatchError> {
        self.stage(&record.fields(), Some(key), version)
            .map_err(|e| BatchError::new(self.staged, e))
    }

    /// Stages `n` anonymous jobs with `record`'s values (see [`JobTable::add_count`](crate::JobTable::add_count)).
    ///
    /// # Errors
    /// As [`Batch::upsert`].
    pub fn add_count(&mut self, record: &JobRecord, n: u64) -> Result<(), BatchError> {
        let packed = self
            .dims
            .pack(self.operation, &record.fields())
            .map_err(|e| BatchError::new(self.staged, e))?;
        if n > 0 {
            *self.anonymous.entry(packed).or_insert(0) += n;
        }
        self.staged += 1;
        Ok(())
    }

    /// Stages the removal of the job with id `id`.
    pub fn remove(&mut self, id: &JobId) {
        self.changes.push(Change::Remove(id.key()));
        self.staged += 1;
    }

    /// Stages every change of `other` after this batch's own.
    ///
    /// # Errors
    /// [`BatchError`] at position 0 of `other` when it is for another operation; `self` is
    /// unchanged then.
    pub fn append(&mut self, other: Self) -> Result<(), BatchError> {
        if other.operation != self.operation {
            return Err(BatchError::new(
                self.staged,
                RecordError::invalid(
                    RecordField::Operation,
                    other.operation.as_str(),
                    "a batch of the same operation",
                ),
            ));
        }
        let maps = self.dims.absorb(&other.dims);
        for (p, n) in other.anonymous {
            let packed = Packed {
                day: p.day,
                ids: remap(p.ids, &maps),
            };
            *self.anonymous.entry(packed).or_insert(0) += n;
        }
        self.changes
            .extend(other.changes.into_iter().map(|c| match c {
                Change::Upsert {
                    key,
                    packed,
                    version,
                } => Change::Upsert {
                    key,
                    packed: Packed {
                        day: packed.day,
                        ids: remap(packed.ids, &maps),
                    },
                    version,
                },
                Change::Remove(key) => Change::Remove(key),
            }));
        self.staged += other.staged;
        Ok(())
    }

    /// Room for `cells` more distinct anonymous cells without growing (a hint; the parser's).
    #[cfg(feature = "wire")]
    pub(crate) fn reserve_anonymous(&mut self, cells: usize) {
        self.anonymous.reserve(cells);
    }

    /// Stages one job from borrowed, checked fields: anonymous when `key` is `None`.
    pub(crate) fn stage(
        &mut self,
        fields: &Fields<'_>,
        key: Option<JobKey>,
        version: Option<Version>,
    ) -> Result<(), RecordError> {
        let packed = self.dims.pack(self.operation, fields)?;
        match key {
            Some(key) => self.changes.push(Change::Upsert {
                key,
                packed,
                version,
            }),
            None => *self.anonymous.entry(packed).or_insert(0) += 1,
        }
        self.staged += 1;
        Ok(())
    }

    /// Stages cells interned against `dims` (a table's) as pre-counted anonymous jobs.
    pub(crate) fn add_cells(
        &mut self,
        dims: &Dims,
        cells: impl Iterator<Item = (i64, [u32; PACKED], u64)>,
    ) {
        let maps = self.dims.absorb(dims);
        for (day, ids, n) in cells {
            let packed = Packed {
                day,
                ids: remap(ids, &maps),
            };
            *self.anonymous.entry(packed).or_insert(0) += n;
            self.staged += 1;
        }
    }

    /// The identified changes, in order.
    pub(crate) fn changes(&self) -> &[Change] {
        &self.changes
    }

    pub(crate) fn into_parts(self) -> (Dims, HashMap<Packed, u64>, Vec<Change>) {
        (self.dims, self.anonymous, self.changes)
    }
}

impl BatchError {
    pub(crate) fn new(position: usize, error: RecordError) -> Self {
        Self { position, error }
    }

    /// The position of the rejected change in its batch (0-based).
    #[must_use]
    pub fn position(&self) -> usize {
        self.position
    }

    /// Why it was rejected.
    #[must_use]
    pub fn error(&self) -> &RecordError {
        &self.error
    }

    /// The error, without the position.
    #[must_use]
    pub fn into_error(self) -> RecordError {
        self.error
    }
}
