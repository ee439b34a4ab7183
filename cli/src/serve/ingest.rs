//! `POST /ingest/<kind>-jobs` (SPEC §11): the write path of `serve`, and the durable store
//! behind it.
//!
//! One request is all or nothing, and a `200` means durable:
//! 1. the body is parsed and staged into a [`Batch`] outside any lock (every check happens
//!    here: a bad record is a `400` and nothing changes);
//! 2. the request joins the commit queue; whoever takes the ingest mutex (which each step of
//!    the expiry timer takes too, so nothing else writes meanwhile) commits every queued
//!    request as one group: [`JobTable::preview_versions`] under a read lock tells what each
//!    identified change of their joined batches will do, and exactly the changes that apply
//!    go to the store in one transaction (fsync'd);
//! 3. the service's write lock is taken only to [`JobTable::apply`] the joined batches, so
//!    queries (read lock) never wait for a parse, an fsync or a store merge; then each request
//!    of the group gets its own counts, none before the commit.
//!
//! A restart ([`open`]) streams the store back in key order on one thread and applies it in
//! batches of whole identity-index shards on another.
//!
//! [`JobTable::preview_versions`]: backup_summaries::JobTable::preview_versions
//! [`JobTable::apply`]: backup_summaries::JobTable::apply

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use backup_summaries::wire::{parse_changes, ApiError, Service};
use backup_summaries::{
    AccountId, Applied, Batch, JobKey, JobRecord, MalwareScanner, MessageCategory, Operation,
    Outcome, Region, ResourceType, ScanResultStatus, State, UnixMillis, Version,
};

use crate::error::Failure;
use crate::store::{Change, Loaded, LoadedJob, Store, StoredJob, Text, EXPIRE_STEP_ROWS};

/// `x-amzn-ErrorType` of a request without the ingest token (401).
pub(super) const UNAUTHORIZED: &str = "UnauthorizedException";
/// `x-amzn-ErrorType` of a body over `--max-body-bytes` (413).
pub(super) const TOO_LARGE: &str = "RequestEntityTooLargeException";
/// `x-amzn-ErrorType` of a bad ingest body (400), as for a bad query (SPEC §8).
const INVALID: &str = "InvalidParameterValueException";

/// Milliseconds in a UTC day.
const DAY_MS: i64 = 86_400_000;

/// The write side of the server: the store, if any, behind the ingest mutex, and the
/// requests waiting for their group's commit.
#[derive(Debug)]
pub(super) struct Writer {
    store: Mutex<Option<Store>>,
    /// Staged requests not yet committed, in arrival order.
    waiting: Mutex<Vec<Arc<Waiting>>>,
}

/// A parsed, checked ingest request, ready to commit ([`Writer::stage`]).
#[derive(Debug)]
pub(super) struct Staged {
    op: Operation,
    changes: Vec<(JobRecord, Option<Version>)>,
    batch: Batch,
}

/// A staged request in the queue, and its answer once its group is committed.
#[derive(Debug)]
struct Waiting {
    staged: Mutex<Option<Staged>>,
    answer: Mutex<Option<Result<Applied, ApiError>>>,
}

impl Writer {
    pub(super) fn new(store: Option<Store>) -> Self {
        Self {
            store: Mutex::new(store),
            waiting: Mutex::new(Vec::new()),
        }
    }

    /// Parses and checks one ingest body for `op` (no lock taken): every error is found here.
    ///
    /// # Errors
    /// `400` for a bad body.
    pub(super) fn stage(
        op: Operation,
        body: &[u8],
        default_region: &Region,
    ) -> Result<Staged, ApiError> {
        let changes = parse_changes(op, body, Some(default_region))
            .map_err(|e| ApiError::new(INVALID, 400, format!("bad ingest body: {e}")))?;
        let mut batch = Batch::new(op);
        for (record, version) in &changes {
            batch
                .upsert(record, *version)
                .map_err(|e| ApiError::new(INVALID, 400, format!("bad ingest body: {e}")))?;
        }
        Ok(Staged { op, changes, batch })
    }

    /// Applies a staged request to `service` (and the store first), all or nothing.
    ///
    /// Group commit: the request joins the queue, then waits for the ingest mutex. Whoever
    /// gets it first takes every queued request, commits all their changes to the store in
    /// one transaction (one fsync), applies them, and leaves each request its answer; a
    /// request whose answer is already there when it gets the mutex returns it. So a `200`
    /// still means committed, and a request is still applied wholly or not at all.
    ///
    /// # Errors
    /// `500 ServiceUnavailableException` when the store fails (nothing of the group is
    /// applied).
    pub(super) fn commit(
        &self,
        service: &RwLock<Service>,
        staged: Staged,
    ) -> Result<Applied, ApiError> {
        let mine = Arc::new(Waiting {
            staged: Mutex::new(Some(staged)),
            answer: Mutex::new(None),
        });
        lock(&self.waiting).push(Arc::clone(&mine));
        let mut store = lock(&self.store);
        if let Some(answer) = lock(&mine.answer).take() {
            return answer; // committed by an earlier group's leader
        }
        let group = std::mem::take(&mut *lock(&self.waiting));
        // Every queued request is taken by exactly one leader, so each still has its batch;
        // debug builds assert it. In release one without (a bug) gets an error, and every
        // other request still gets its own answer.
        let mut requests = Vec::with_capacity(group.len());
        let mut staged_at = Vec::with_capacity(group.len());
        for waiting in &group {
            let taken = lock(&waiting.staged).take();
            staged_at.push(taken.is_some());
            requests.extend(taken);
        }
        debug_assert!(
            staged_at.iter().all(|&s| s),
            "a queued request lost its batch"
        );
        let no_answer = || Err(ApiError::service_unavailable("internal error: no answer"));
        let mut answers = commit_group(store.as_mut(), service, requests).into_iter();
        let mut own = None;
        for (waiting, staged) in group.iter().zip(staged_at) {
            let answer = if staged {
                answers.next().unwrap_or_else(no_answer)
            } else {
                no_answer()
            };
            if Arc::ptr_eq(waiting, &mine) {
                own = Some(answer);
            } else {
                *lock(&waiting.answer) = Some(answer);
            }
        }
        // Only now may the next request take the mutex: it must find its answer if it was
        // in this group.
        drop(store);
        own.unwrap_or_else(no_answer)
    }

    /// Drops the jobs created before `today − retention` (SPEC §10) from the store and the
    /// tables. The store is expired in steps of [`EXPIRE_STEP_ROWS`] rows, each taking the
    /// ingest mutex for one short transaction, so ingest goes on meanwhile.
    pub(super) fn expire(&self, service: &RwLock<Service>, retain_days: u32, now: UnixMillis) {
        let cutoff = now
            .as_millis()
            .div_euclid(DAY_MS)
            .saturating_sub(i64::from(retain_days))
            .saturating_mul(DAY_MS);
        // The guard is dropped at the end of this statement: `expire_tables` takes it again.
        let first = lock(&self.store)
            .as_mut()
            .map(|store| store.expire_log(cutoff));
        let mut failed = match first {
            Some(result) => result.err(),
            None => return self.expire_tables(service, now),
        };
        let mut after = None;
        while failed.is_none() {
            let mut store = lock(&self.store);
            let Some(store) = store.as_mut() else {
                return; // closed meanwhile
            };
            match store.expire_step(cutoff, after, EXPIRE_STEP_ROWS) {
                Ok(step) => match step.next {
                    Some(key) => after = Some(key),
                    None => break,
                },
                Err(e) => failed = Some(e),
            }
        }
        if let Some(e) = failed {
            eprintln!("expire: {e}");
        }
        self.expire_tables(service, now);
    }

    /// Expires the tables under the ingest mutex, like a write: a group's preview, store
    /// commit and apply (all under that mutex) must not see a job expire between them, or a
    /// change previewed as stale or as a replacement would apply as an insert.
    fn expire_tables(&self, service: &RwLock<Service>, now: UnixMillis) {
        let _ingest = lock(&self.store);
        let mut service = write(service);
        for &op in Operation::ALL {
            let _ = service.table_mut(op).expire(now);
        }
    }

    /// Closes the store (after the last request): waits for a write in progress.
    pub(super) fn close(&self) {
        let store = lock(&self.store).take();
        if let Some(store) = store {
            let path = store.path().display().to_string();
            drop(store);
            eprintln!("closed {path}");
        }
    }
}

/// Commits and applies a group of requests (under the ingest mutex); one answer per
/// request, in order.
fn commit_group(
    store: Option<&mut Store>,
    service: &RwLock<Service>,
    requests: Vec<Staged>,
) -> Vec<Result<Applied, ApiError>> {
    let Some(store) = store else {
        // In memory: nothing to wait for, so each request is applied on its own.
        return requests
            .into_iter()
            .map(|r| apply(service, r.op, r.batch))
            .collect();
    };
    // One batch per operation, the requests' changes in arrival order: the preview of the
    // joined batch tells what each change will do after the ones before it.
    let n = requests.len();
    let mut joined: Vec<(Operation, Batch)> = Vec::new();
    let mut records = Vec::with_capacity(n);
    for r in requests {
        let at = match joined.iter().position(|(op, _)| *op == r.op) {
            Some(at) => at,
            None => {
                joined.push((r.op, Batch::new(r.op)));
                joined.len() - 1
            }
        };
        if let Some((_, batch)) = joined.get_mut(at) {
            if let Err(e) = batch.append(r.batch) {
                return vec![Err(unavailable(&e)); n];
            }
        }
        records.push((r.op, r.changes));
    }
    let mut plans: Vec<(Operation, Plan)> = {
        let service = read(service);
        joined
            .iter()
            .map(|(op, batch)| (*op, service.table(*op).preview_versions(batch).into_iter()))
            .collect()
    };
    let mut durable = Vec::new();
    let mut counts = Vec::with_capacity(n);
    for (op, changes) in &records {
        let mut applied = Applied::default();
        let mut plan = plans.iter_mut().find(|(o, _)| o == op).map(|(_, p)| p);
        for (record, _) in changes {
            let Some(id) = record.job_id() else {
                applied.inserted += 1;
                durable.push(Change::Anonymous {
                    op: op_code(*op),
                    job: stored(record),
                });
                continue;
            };
            let outcome = plan.as_mut().and_then(|p| p.next());
            match outcome {
                Some((Outcome::Inserted, _)) => applied.inserted += 1,
                Some((Outcome::Replaced, _)) => applied.replaced += 1,
                Some((Outcome::Stale, _)) => applied.stale += 1,
                _ => {}
            }
            if let Some((Outcome::Inserted | Outcome::Replaced, version)) = outcome {
                durable.push(Change::Upsert {
                    op: op_code(*op),
                    key: id.key().as_u128(),
                    version: version.map(Version::as_secs),
                    job: stored(record),
                });
            }
        }
        counts.push(Ok(applied));
    }
    if let Err(e) = store.commit(&durable) {
        eprintln!("ingest: {e}");
        let error = ApiError::service_unavailable(format!(
            "the job store failed, nothing was applied: {e}"
        ));
        return vec![Err(error); n];
    }
    for (op, batch) in joined {
        if let Err(e) = apply(service, op, batch) {
            return vec![Err(e); n];
        }
    }
    counts
}

/// What each identified change of a joined batch does ([`JobTable::preview_versions`]).
///
/// [`JobTable::preview_versions`]: backup_summaries::JobTable::preview_versions
type Plan = std::vec::IntoIter<(Outcome, Option<Version>)>;

/// Applies a checked batch to its table.
fn apply(service: &RwLock<Service>, op: Operation, batch: Batch) -> Result<Applied, ApiError> {
    write(service).table_mut(op).apply(batch).map_err(|e| {
        // Only past 2^28 distinct values of a field; the store already has the changes.
        eprintln!("ingest: applying a stored batch failed: {e}");
        unavailable(&e)
    })
}

fn unavailable(e: &impl std::fmt::Display) -> ApiError {
    ApiError::service_unavailable(format!("cannot apply the changes: {e}"))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens the store in `dir` and rebuilds `service`'s tables from it. Reports what it loaded
/// on stderr. Jobs past retention are loaded too: the caller expires the tables (cheap) at
/// once and the store (a scan of every job) after the server is up.
pub(super) fn open(dir: &Path, service: &mut Service) -> Result<Store, Failure> {
    open_batched(dir, service, REBUILD_BATCH)
}

/// [`open`], handing jobs to the applying thread in batches of about `batch_len`.
fn open_batched(dir: &Path, service: &mut Service, batch_len: usize) -> Result<Store, Failure> {
    let started = Instant::now();
    let store = Store::open(dir).map_err(Failure::error)?;
    // Two threads: this one reads the database and stages batches, the other applies them
    // (about half the work each).
    let (full, staged) = mpsc::sync_channel::<(Operation, Batch)>(1);
    let (summary, applied) = std::thread::scope(|scope| {
        let applier = scope.spawn(move || -> Result<(), String> {
            // Jobs come back in key order, which is the identity index's slot order: each
            // batch fills a few of its shards in one forward sweep.
            for (op, batch) in staged {
                service
                    .table_mut(op)
                    .apply(batch)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        });
        let mut rebuild = Rebuild::new(full, batch_len);
        let mut failure = None;
        let summary = store.load(|item| {
            if failure.is_none() {
                failure = rebuild.add(item).err();
            }
        });
        if failure.is_none() {
            failure = rebuild.flush().err();
        }
        drop(rebuild); // closes the channel: the applier ends
        let applied = applier
            .join()
            .unwrap_or_else(|_| Err("the rebuild thread panicked".into()));
        // The applier's own error first: when it fails, it hangs up, and the reader's next
        // send fails too ("the rebuild stopped"), which says less.
        let applied = match (applied, failure) {
            (Err(e), _) | (Ok(()), Some(e)) => Err(e),
            (Ok(()), None) => Ok(()),
        };
        (summary, applied)
    });
    let summary = summary.map_err(Failure::error)?;
    if let Err(e) = applied {
        return Err(Failure::error(format!(
            "{}: a stored job cannot be loaded: {e}",
            store.path().display()
        )));
    }
    eprintln!(
        "jobs are durable in {}: loaded {} identified jobs and {} anonymous jobs in {:.2}s",
        store.path().display(),
        summary.identified,
        summary.anonymous_jobs,
        started.elapsed().as_secs_f64()
    );
    Ok(store)
}

/// Whether `given` (an `Authorization` header value) is `Bearer <token>`, compared in time
/// independent of where the two differ.
pub(super) fn authorized(given: Option<&[u8]>, token: &[u8]) -> bool {
    let Some(given) = given else {
        return false;
    };
    let Some(presented) = given.strip_prefix(b"Bearer ") else {
        return false;
    };
    if presented.len() != token.len() {
        return false;
    }
    let diff = presented
        .iter()
        .zip(token)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(diff) == 0
}

/// Changes staged per batch during a restart: a batch of this many is handed to the
/// applying thread, about 32 MiB of staged changes.
const REBUILD_BATCH: usize = 1 << 19;

/// A restart in progress: strings already checked, by the store's dense text id (each
/// distinct text is parsed once, not once per job), and each operation's staged jobs, sent
/// to the applying thread when full.
#[derive(Debug)]
struct Rebuild {
    regions: Vec<Option<Region>>,
    resource_types: Vec<Option<ResourceType>>,
    categories: Vec<Option<MessageCategory>>,
    batches: Vec<(Operation, Batch)>,
    full: mpsc::SyncSender<(Operation, Batch)>,
    /// The top byte of the last identified job's key.
    last_shard: Option<u8>,
    /// Jobs per batch, about.
    batch_len: usize,
}

impl Rebuild {
    fn new(full: mpsc::SyncSender<(Operation, Batch)>, batch_len: usize) -> Self {
        Self {
            batch_len,
            regions: Vec::new(),
            resource_types: Vec::new(),
            categories: Vec::new(),
            batches: Vec::new(),
            full,
            last_shard: None,
        }
    }

    /// Stages one stored item.
    fn add(&mut self, item: Loaded<'_>) -> Result<(), String> {
        let (op, job, shard) = match item {
            Loaded::Identified { op, key, job, .. } => (op, job, Some((key >> 120) as u8)),
            Loaded::Anonymous { op, job, .. } => (op, job, None),
        };
        let op = operation(op)?;
        let record = self.record(op, &job)?;
        let at = match self.batches.iter().position(|(o, _)| *o == op) {
            Some(at) => at,
            None => {
                self.batches.push((op, Batch::new(op)));
                self.batches.len() - 1
            }
        };
        let Some((_, batch)) = self.batches.get_mut(at) else {
            return Err("no batch".into());
        };
        // A full batch is sent before the first job of another top key byte: the identity
        // index shards keys by that byte, and jobs come in key order, so each batch holds
        // whole shards. (A batch with only the lower keys of a shard would be applied into a
        // shard sized for them alone, yet crowded into its lower slots: every insert would
        // walk to the end of one ever longer run of full slots.)
        if batch.len() >= self.batch_len && shard != self.last_shard {
            let full = std::mem::replace(batch, Batch::new(op));
            self.full
                .send((op, full))
                .map_err(|_| "the rebuild stopped".to_owned())?;
        }
        self.last_shard = shard;
        match item {
            Loaded::Identified { key, version, .. } => {
                let key = JobKey::from_u128(key).ok_or("a job key is even")?;
                batch
                    .upsert_key(key, &record, version.map(Version::from_secs))
                    .map_err(|e| e.to_string())
            }
            Loaded::Anonymous { count, .. } => {
                batch.add_count(&record, count).map_err(|e| e.to_string())
            }
        }
    }

    /// Hands what is still staged to the applying thread.
    fn flush(&mut self) -> Result<(), String> {
        for (op, batch) in std::mem::take(&mut self.batches) {
            self.send(op, batch)?;
        }
        Ok(())
    }

    fn send(&self, op: Operation, batch: Batch) -> Result<(), String> {
        // The applier only hangs up after a failure, which it reports itself.
        self.full
            .send((op, batch))
            .map_err(|_| "the rebuild stopped".to_owned())
    }

    fn record(&mut self, op: Operation, job: &LoadedJob<'_>) -> Result<JobRecord, String> {
        let account = AccountId::new(job.account).ok_or("an account id is out of range")?;
        let region = cached(&mut self.regions, job.region, |t| {
            Region::parse(t).map_err(|e| e.to_string())
        })?;
        let resource_type = cached(&mut self.resource_types, job.resource_type, |t| {
            ResourceType::parse(t).map_err(|e| e.to_string())
        })?;
        let state = State::parse(op, job.state.text)
            .ok_or_else(|| format!("state {} is not one of {op}'s", job.state.text))?;
        let category = match job.message_category {
            Some(t) => Some(cached(&mut self.categories, t, |t| {
                MessageCategory::parse(t).map_err(|e| e.to_string())
            })?),
            None => None,
        };
        let scanner = match job.malware_scanner {
            Some(t) => Some(MalwareScanner::parse(t.text).ok_or("unknown malware scanner")?),
            None => None,
        };
        let status = match job.scan_result_status {
            Some(t) => Some(ScanResultStatus::parse(t.text).ok_or("unknown scan result status")?),
            None => None,
        };
        Ok(JobRecord::new(
            account,
            region,
            state,
            resource_type,
            UnixMillis::new(job.created_ms),
        )
        .with_message_category(category)
        .with_malware_scanner(scanner)
        .with_scan_result_status(status))
    }
}

/// The value of text `t`, parsed once per id.
fn cached<T: Clone>(
    cache: &mut Vec<Option<T>>,
    t: Text<'_>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, String> {
    let i = t.id as usize;
    if let Some(Some(v)) = cache.get(i) {
        return Ok(v.clone());
    }
    let v = parse(t.text)?;
    if cache.len() <= i {
        cache.resize(i + 1, None);
    }
    if let Some(slot) = cache.get_mut(i) {
        *slot = Some(v.clone());
    }
    Ok(v)
}

/// The store's operation code.
fn op_code(op: Operation) -> u8 {
    match op {
        Operation::Backup => 0,
        Operation::Copy => 1,
        Operation::Restore => 2,
        // Operation is non-exhaustive: a new one needs a code here; until then, scan's
        // would be wrong, so the match lists scan last and explicitly.
        Operation::Scan => 3,
        _ => u8::MAX,
    }
}

fn operation(code: u8) -> Result<Operation, String> {
    Operation::ALL
        .iter()
        .copied()
        .find(|&op| op_code(op) == code)
        .ok_or_else(|| format!("unknown operation code {code}"))
}

/// A record as the store keeps it.
fn stored(record: &JobRecord) -> StoredJob {
    StoredJob {
        created_ms: record.creation_date().as_millis(),
        account: record.account_id().as_u64(),
        region: record.region().as_str().to_owned(),
        state: record.state().as_str().to_owned(),
        resource_type: record.resource_type().as_str().to_owned(),
        message_category: record.message_category().map(|c| c.as_str().to_owned()),
        malware_scanner: record.malware_scanner().map(|s| s.as_str().to_owned()),
        scan_result_status: record.scan_result_status().map(|s| s.as_str().to_owned()),
    }
}

/// The service, for reading (a poisoned lock is still consistent: every write is one call).
pub(super) fn read(service: &RwLock<Service>) -> std::sync::RwLockReadGuard<'_, Service> {
    service.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(service: &RwLock<Service>) -> std::sync::RwLockWriteGuard<'_, Service> {
    service.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        assert!(authorized(Some(b"Bearer s3cret"), b"s3cret"));
        assert!(!authorized(Some(b"Bearer s3cre"), b"s3cret"));
        assert!(!authorized(Some(b"Bearer s3creT"), b"s3cret"));
        assert!(!authorized(Some(b"bearer s3cret"), b"s3cret"));
        assert!(!authorized(Some(b"s3cret"), b"s3cret"));
        assert!(!authorized(None, b"s3cret"));
    }

    #[test]
    fn a_restart_in_many_batches_rebuilds_every_job() -> Result<(), Box<dyn std::error::Error>> {
        const DAY: i64 = 86_400_000;
        let dir = tempfile::tempdir()?;
        let job = |n: u32| StoredJob {
            created_ms: 1_795_000_000_000 + i64::from(n % 5) * DAY,
            account: 100_000_000_000 + u64::from(n % 7),
            region: "us-east-1".to_owned(),
            state: ["RUNNING", "COMPLETED", "FAILED"][(n % 3) as usize].to_owned(),
            resource_type: "EBS".to_owned(),
            message_category: (n % 2 == 0).then(|| "SUCCESS".to_owned()),
            malware_scanner: None,
            scan_result_status: None,
        };
        let key = |n: u32| JobKey::of(&format!("job-{n}")).as_u128();
        {
            // A small log limit: jobs come back from both `jobs` (in key order) and `log`.
            let mut store = Store::open(dir.path())?.with_log_limit(500);
            for chunk in (0..3000u32).collect::<Vec<_>>().chunks(700) {
                let mut changes: Vec<Change> = chunk
                    .iter()
                    .map(|&n| Change::Upsert {
                        op: u8::from(n % 10 == 0),
                        key: key(n),
                        version: Some(n + 1),
                        job: job(n),
                    })
                    .collect();
                changes.push(Change::Anonymous { op: 2, job: job(1) });
                store.commit(&changes)?;
            }
        }
        for batch_len in [1, 50, REBUILD_BATCH] {
            let mut service = Service::new();
            drop(open_batched(dir.path(), &mut service, batch_len).map_err(|e| format!("{e:?}"))?);
            let backup = service.table(Operation::Backup);
            assert_eq!(backup.identified_len(), 2700, "batch {batch_len}");
            assert_eq!(service.table(Operation::Copy).identified_len(), 300);
            assert_eq!(service.table(Operation::Restore).len(), 5);
            for n in 0..3000u32 {
                let op = if n % 10 == 0 {
                    Operation::Copy
                } else {
                    Operation::Backup
                };
                let k = JobKey::from_u128(key(n)).ok_or("even key")?;
                let got = service.table(op).get_key(k).ok_or("a job is missing")?;
                assert_eq!(got.version(), Some(Version::from_secs(n + 1)));
                assert_eq!(got.state().as_str(), job(n).state);
                assert_eq!(
                    got.account_id().map(AccountId::as_u64),
                    Some(job(n).account)
                );
            }
        }
        Ok(())
    }

    #[test]
    fn operation_codes_round_trip() -> Result<(), String> {
        for &op in Operation::ALL {
            assert_eq!(operation(op_code(op))?, op);
        }
        assert!(operation(4).is_err());
        Ok(())
    }
}
