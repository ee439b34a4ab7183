//! The durable job store behind `serve --data-dir` (SPEC §11): every accepted change is in an
//! embedded SQLite database (WAL, `synchronous=FULL`) before the request is answered, and a
//! restart streams it all back so the engine can rebuild its count cube and identity index.
//!
//! What is kept, and why it is O(current jobs):
//! - `jobs`: one row per identified job, keyed by (operation, 128-bit hash of the job id); an
//!   upsert replaces the row, so only the current version is stored. Changes first go to `log`,
//!   an append-only list merged into `jobs` once it holds a quarter as many entries as `jobs`
//!   has rows (see [`Store`]), so the two together stay O(current jobs).
//! - `anonymous`: jobs without an id can never be replaced or removed, so they are kept as a
//!   count per (operation, UTC creation day, dimensions); a restart gets each group back once,
//!   with its count and the start of its day as the creation time.
//! - `dict`: every string (region, state, resource type, message category, scanner, scan
//!   result) is interned once into a small integer id. A job row is two blobs: the 17-byte key
//!   (op, then the 128-bit key big-endian) and its fields packed by `encode` (about 28 bytes).
//!
//! Each [`Store::commit`] is one SQLite transaction: after a crash (even `kill -9`) a commit is
//! there entirely or not at all. The database is opened in exclusive locking mode, so a second
//! process on the same directory is refused instead of sharing it.
//!
//! This module knows nothing of the engine's types: the server converts to and from
//! [`StoredJob`] and [`Loaded`]. It must not panic on any file content: a foreign, damaged or
//! newer database is a [`StoreError`].

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, TransactionBehavior};

/// The database file's name inside the data directory.
pub(crate) const FILE_NAME: &str = "jobs.sqlite3";

/// `PRAGMA application_id` of our databases: "BSJS" (backup-summaries job store).
const APPLICATION_ID: i32 = 0x4253_4A53;

/// `PRAGMA user_version`: the schema this build writes and reads.
const SCHEMA_VERSION: i32 = 1;

/// Milliseconds in a UTC day: anonymous jobs are counted per day.
const DAY_MS: i64 = 86_400_000;

const SCHEMA: &str = "
    CREATE TABLE dict (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
    CREATE TABLE jobs (key BLOB PRIMARY KEY, job BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE log (seq INTEGER PRIMARY KEY, key BLOB NOT NULL, job BLOB);
    CREATE TABLE anonymous (
        op INTEGER NOT NULL, day INTEGER NOT NULL, account INTEGER NOT NULL,
        region INTEGER NOT NULL, state INTEGER NOT NULL, resource_type INTEGER NOT NULL,
        category INTEGER NOT NULL, scanner INTEGER NOT NULL, scan_status INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (op, day, account, region, state, resource_type, category, scanner, scan_status)
    ) WITHOUT ROWID;
    CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta VALUES ('jobs', 0);
";

/// A `log` entry: `job` is NULL for a removal.
const APPEND: &str = "INSERT INTO log (key, job) VALUES (?1, ?2)";

/// The fewest log entries that trigger a merge by default (see [`Store::with_log_limit`]).
pub(crate) const DEFAULT_LOG_LIMIT: u64 = 100_000;

/// Above the log limit, a merge happens when the log holds 1 / `LOG_SHARE` of the rows of `jobs`.
const LOG_SHARE: u64 = 4;

const ADD_ANONYMOUS: &str = "INSERT INTO anonymous
    (op, day, account, region, state, resource_type, category, scanner, scan_status, count)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)
    ON CONFLICT DO UPDATE SET count = count + 1";
const ADD_TEXT: &str = "INSERT INTO dict (id, text) VALUES (?1, ?2)";

/// One job as the store keeps it: every field the cube needs to rebuild its cell.
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub(crate) struct StoredJob {
    /// `CreationDate`, epoch milliseconds.
    pub(crate) created_ms: i64,
    /// The 12-digit account id as a number.
    pub(crate) account: u64,
    pub(crate) region: String,
    /// For example `COMPLETED`.
    pub(crate) state: String,
    pub(crate) resource_type: String,
    pub(crate) message_category: Option<String>,
    pub(crate) malware_scanner: Option<String>,
    pub(crate) scan_result_status: Option<String>,
}

/// One accepted change, as the server commits it (SPEC §10).
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Change {
    /// An identified job, current version: replaces any stored job with the same (op, key).
    Upsert {
        /// 0 backup, 1 copy, 2 restore, 3 scan.
        op: u8,
        /// A 128-bit hash of the job id.
        key: u128,
        /// The event time, epoch seconds.
        version: Option<u32>,
        job: StoredJob,
    },
    /// An anonymous job (no id): only counted, never replaced.
    Anonymous { op: u8, job: StoredJob },
    /// Takes the identified job (op, key) out, if stored.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "ingest bodies carry no removals yet (SPEC §11)")
    )]
    Remove { op: u8, key: u128 },
}

/// An interned string as [`Store::load`] hands it out: `id` is dense (1, 2, ...) and stable for
/// the whole load, so a caller can map ids to its own ids with a `Vec` instead of hashing text.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Text<'a> {
    pub(crate) id: u32,
    pub(crate) text: &'a str,
}

/// A job's fields as [`Store::load`] streams them, strings borrowed from the dictionary.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct LoadedJob<'a> {
    /// Epoch milliseconds; for anonymous groups the start of their UTC creation day.
    pub(crate) created_ms: i64,
    pub(crate) account: u64,
    pub(crate) region: Text<'a>,
    pub(crate) state: Text<'a>,
    pub(crate) resource_type: Text<'a>,
    pub(crate) message_category: Option<Text<'a>>,
    pub(crate) malware_scanner: Option<Text<'a>>,
    pub(crate) scan_result_status: Option<Text<'a>>,
}

/// One item of [`Store::load`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Loaded<'a> {
    /// An identified job, its current version.
    Identified {
        op: u8,
        key: u128,
        version: Option<u32>,
        job: LoadedJob<'a>,
    },
    /// `count` anonymous jobs of one operation, UTC creation day and set of dimension values.
    Anonymous {
        op: u8,
        count: u64,
        job: LoadedJob<'a>,
    },
}

/// What [`Store::load`] streamed.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub(crate) struct LoadSummary {
    /// Identified jobs.
    pub(crate) identified: u64,
    /// Anonymous groups (items), not jobs.
    pub(crate) anonymous_groups: u64,
    /// Anonymous jobs: the sum of the groups' counts.
    pub(crate) anonymous_jobs: u64,
}

/// What [`Store::expire_log`] (and the steps after it) deleted.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub(crate) struct Expired {
    /// Rows of identified jobs deleted or turned into removals: the expired jobs, plus any
    /// superseded row of a job whose newer version in the log stays.
    pub(crate) identified: u64,
    /// Anonymous groups (one operation, day and dimension set each) deleted.
    pub(crate) anonymous_groups: u64,
}

/// What one [`Store::expire_step`] did.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct ExpireStep {
    /// Rows of `jobs` deleted.
    pub(crate) deleted: u64,
    /// The row key the next step starts after; `None` when every row was scanned.
    pub(crate) next: Option<[u8; 17]>,
}

/// Rows of `jobs` one expiry step scans: tens of milliseconds of work.
pub(crate) const EXPIRE_STEP_ROWS: usize = 65_536;

/// What the store was doing when SQLite failed; part of [`StoreError`]'s message.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Action {
    Commit,
    Expire,
    Load,
    Open,
}

/// Why the store failed. Every message names the database path and what was being done.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    /// A row holds a value this build cannot have written.
    #[error(
        "database {} is damaged: table {table}, column {column} holds {value}, which is out of range",
        path.display()
    )]
    Damaged {
        path: PathBuf,
        table: &'static str,
        column: &'static str,
        value: i64,
    },
    /// The file is an SQLite database of some other program.
    #[error(
        "{} is not a backup-summaries job store (SQLite application id {found:#x}); move it away or choose another data directory",
        path.display()
    )]
    Foreign { path: PathBuf, found: i32 },
    /// Another process holds the database.
    #[error("database {} is in use by another process", path.display())]
    InUse { path: PathBuf },
    /// The file is not an SQLite database at all.
    #[error(
        "{} is not a database (damaged or foreign file); move it away or choose another data directory",
        path.display()
    )]
    NotADatabase { path: PathBuf },
    /// SQLite failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        action: Action,
        source: rusqlite::Error,
    },
    /// The database was written by another schema version.
    #[error(
        "database {} has schema version {found}; this build reads version {SCHEMA_VERSION}",
        path.display()
    )]
    Version { path: PathBuf, found: i32 },
}

/// The durable job store: one SQLite database in a data directory.
///
/// Identified jobs live in two tables. `jobs` is a B-tree keyed by (op, key) holding one row per
/// job; `log` is an append-only list of the upserts and removals committed since the last merge.
/// A commit only appends to `log` (sequential pages: a 10,000-change commit writes about half a
/// megabyte, where updating `jobs` in place would rewrite one 4 KiB page per random key). When
/// `log` reaches a quarter of the rows of `jobs` (and at least the log limit), the commit that
/// crossed it also merges the log into `jobs` in key order and empties it: that commit takes
/// longer (seconds for millions of jobs), the others stay small. [`Store::load`] hides all this:
/// each job comes back once, in its latest version.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Connection,
    path: PathBuf,
    dict: Dict,
    /// Entries in `log`.
    log_rows: u64,
    /// Rows in `jobs`, as of the last merge or expiry.
    job_rows: u64,
    /// The fewest log entries that trigger a merge.
    log_limit: u64,
}

impl Store {
    /// Creates or opens the store in `dir` (created if missing).
    ///
    /// # Errors
    ///
    /// The directory cannot be created, the database cannot be opened or is in use by another
    /// process, or the file in it is not a job store of this schema version.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let fail = |source| classify(&path, Action::Open, source);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags).map_err(fail)?;
        conn.busy_timeout(Duration::from_millis(200))
            .map_err(fail)?;
        // Exclusive: one process per directory, and WAL needs no shared-memory file. Set before
        // the first read, which takes the lock.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(fail)?;
        // Reads the header: a file that is not SQLite fails here, before anything is written.
        let found: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(fail)?;
        let version: i32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(fail)?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(fail)?;
        let fresh = found == 0 && version == 0 && tables == 0;
        if !fresh && found != APPLICATION_ID {
            return Err(StoreError::Foreign { path, found });
        }
        if !fresh && version != SCHEMA_VERSION {
            return Err(StoreError::Version {
                path,
                found: version,
            });
        }
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(fail)?; // 64 MiB
        conn.pragma_update(None, "journal_size_limit", 64 << 20)
            .map_err(fail)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        if fresh {
            tx.execute_batch(SCHEMA).map_err(fail)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(fail)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(fail)?;
        }
        let dict = Dict::read(&tx).map_err(|e| e.locate(&path, Action::Open))?;
        let log_rows: i64 = tx
            .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
            .map_err(fail)?;
        let job_rows: i64 = tx
            .query_row("SELECT value FROM meta WHERE name = 'jobs'", [], |r| {
                r.get(0)
            })
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(Self {
            conn,
            path,
            dict,
            log_rows: u64::try_from(log_rows).unwrap_or(0),
            job_rows: u64::try_from(job_rows).unwrap_or(0),
            log_limit: DEFAULT_LOG_LIMIT,
        })
    }

    /// Sets the fewest log entries that trigger a merge (at least 1; default
    /// [`DEFAULT_LOG_LIMIT`]). Above four times that many jobs, a quarter of their number does.
    #[must_use]
    pub(crate) fn with_log_limit(mut self, entries: u64) -> Self {
        self.log_limit = entries.max(1);
        self
    }

    /// The database file.
    #[must_use]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `changes` in order as one durable transaction: when this returns `Ok`, they are
    /// on disk (fsync'd); after a crash, either all of them are there or none.
    ///
    /// # Errors
    ///
    /// SQLite failed (disk full, I/O error); then nothing of `changes` is stored.
    pub(crate) fn commit(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let known = self.dict.texts.len();
        match self.write(changes) {
            Ok(rows) => {
                (self.log_rows, self.job_rows) = rows;
                Ok(())
            }
            Err(source) => {
                self.dict.forget_from(known); // they were rolled back with the transaction
                Err(classify(&self.path, Action::Commit, source))
            }
        }
    }

    /// The first part of an expiry (one short transaction): every log entry of a job created
    /// before `cutoff_ms` becomes a removal (so it can neither revive the job nor leave an
    /// older version of it in force), and the anonymous groups of the days before the
    /// cutoff's are deleted. Returns the groups deleted; `identified` counts the log entries
    /// turned into removals that were a job's latest.
    ///
    /// # Errors
    ///
    /// SQLite failed, or a log row is damaged; then nothing changed.
    pub(crate) fn expire_log(&mut self, cutoff_ms: i64) -> Result<Expired, StoreError> {
        self.expire_log_tx(cutoff_ms)
            .map_err(|e| e.locate(&self.path, Action::Expire))
    }

    /// One step of an expiry (one transaction): deletes the jobs of `jobs` created before
    /// `cutoff_ms` among the next `rows` rows after the row key `after` (from the start when
    /// `None`). `next` is where the next step starts, `None` after the last row. A job whose
    /// newer version is in the log stays as that version says (the log overrides `jobs`).
    ///
    /// # Errors
    ///
    /// SQLite failed, or a row is damaged; then nothing of this step changed.
    pub(crate) fn expire_step(
        &mut self,
        cutoff_ms: i64,
        after: Option<[u8; 17]>,
        rows: usize,
    ) -> Result<ExpireStep, StoreError> {
        let step = self
            .expire_step_tx(cutoff_ms, after, rows)
            .map_err(|e| e.locate(&self.path, Action::Expire))?;
        self.job_rows = self.job_rows.saturating_sub(step.deleted);
        Ok(step)
    }

    /// Streams every stored job to `visit`: identified jobs, then anonymous groups. This is how
    /// a restart rebuilds the engine's state; each job comes once, in its latest version.
    ///
    /// # Errors
    ///
    /// SQLite failed, or a row holds a value this build cannot have written.
    pub(crate) fn load(
        &self,
        mut visit: impl FnMut(Loaded<'_>),
    ) -> Result<LoadSummary, StoreError> {
        self.read_all(&mut visit)
            .map_err(|e| e.locate(&self.path, Action::Load))
    }

    /// Appends `changes` (merging the log when due); returns the new log and `jobs` sizes.
    fn write(&mut self, changes: &[Change]) -> rusqlite::Result<(u64, u64)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut log_rows = self.log_rows;
        {
            let mut append = tx.prepare_cached(APPEND)?;
            let mut anonymous = tx.prepare_cached(ADD_ANONYMOUS)?;
            let mut add_text = tx.prepare_cached(ADD_TEXT)?;
            for change in changes {
                match change {
                    Change::Upsert {
                        op,
                        key,
                        version,
                        job,
                    } => {
                        let ids = self.dict.intern_job(job, &mut add_text)?;
                        append.execute(params![row_key(*op, *key), encode(*version, job, ids)])?;
                        log_rows += 1;
                    }
                    Change::Anonymous { op, job } => {
                        let d = self.dict.intern_job(job, &mut add_text)?;
                        let day = job.created_ms.div_euclid(DAY_MS);
                        let account = to_i64(job.account);
                        anonymous.execute(params![
                            op, day, account, d[0], d[1], d[2], d[3], d[4], d[5]
                        ])?;
                    }
                    Change::Remove { op, key } => {
                        append.execute(params![row_key(*op, *key), None::<&[u8]>])?;
                        log_rows += 1;
                    }
                }
            }
        }
        let mut job_rows = self.job_rows;
        if log_rows >= self.log_limit.max(job_rows / LOG_SHARE) {
            merge(&tx)?;
            job_rows = count_jobs(&tx)?;
            log_rows = 0;
        }
        tx.commit()?;
        Ok((log_rows, job_rows))
    }

    fn expire_log_tx(&mut self, cutoff_ms: i64) -> Result<Expired, Failed> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut old = Vec::new();
        let mut latest: HashMap<[u8; 17], i64, BuildHasherDefault<KeyHasher>> = HashMap::default();
        {
            let mut stmt = tx.prepare("SELECT seq, key, job FROM log")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                latest.insert(row.get(1)?, seq);
                if let Some(job) = row.get_ref(2)?.as_blob_or_null()? {
                    let packed = Packed::parse(job).ok_or_else(|| damaged_job("log", job))?;
                    if packed.created_ms < cutoff_ms {
                        old.push((seq, row.get::<_, [u8; 17]>(1)?));
                    }
                }
            }
            let mut remove = tx.prepare("UPDATE log SET job = NULL WHERE seq = ?1")?;
            for (seq, _) in &old {
                remove.execute([seq])?;
            }
        }
        let identified = old
            .iter()
            .filter(|(seq, key)| latest.get(key) == Some(seq))
            .count();
        let groups = tx.execute(
            "DELETE FROM anonymous WHERE day < ?1",
            [cutoff_ms.div_euclid(DAY_MS)],
        )?;
        tx.commit()?;
        Ok(Expired {
            identified: widen(identified),
            anonymous_groups: widen(groups),
        })
    }

    fn expire_step_tx(
        &mut self,
        cutoff_ms: i64,
        after: Option<[u8; 17]>,
        rows: usize,
    ) -> Result<ExpireStep, Failed> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut old = Vec::new();
        let (mut seen, mut last) = (0usize, None);
        {
            let mut stmt = tx
                .prepare_cached("SELECT key, job FROM jobs WHERE key > ?1 ORDER BY key LIMIT ?2")?;
            let limit = i64::try_from(rows.max(1)).unwrap_or(i64::MAX);
            // An empty blob sorts before every key.
            let mut rows_read =
                stmt.query(params![after.as_ref().map_or(&[][..], |k| &k[..]), limit])?;
            while let Some(row) = rows_read.next()? {
                let key: [u8; 17] = row.get(0)?;
                let job = row.get_ref(1)?.as_blob()?;
                if Packed::parse(job)
                    .ok_or_else(|| damaged_job("jobs", job))?
                    .created_ms
                    < cutoff_ms
                {
                    old.push(key);
                }
                seen += 1;
                last = Some(key);
            }
            let mut delete = tx.prepare_cached("DELETE FROM jobs WHERE key = ?1")?;
            for key in &old {
                delete.execute([key])?;
            }
        }
        let deleted = widen(old.len());
        if deleted > 0 {
            tx.execute(
                "UPDATE meta SET value = max(value - ?1, 0) WHERE name = 'jobs'",
                [i64::try_from(deleted).unwrap_or(i64::MAX)],
            )?;
        }
        tx.commit()?;
        Ok(ExpireStep {
            deleted,
            next: if seen < rows.max(1) { None } else { last },
        })
    }

    fn read_all(&self, visit: &mut impl FnMut(Loaded<'_>)) -> Result<LoadSummary, Failed> {
        let dict = &self.dict;
        let mut summary = LoadSummary::default();
        // The log's last entry per key overrides `jobs`: find it first (the log is short).
        let mut last: HashMap<[u8; 17], i64, BuildHasherDefault<KeyHasher>> = HashMap::default();
        let mut stmt = self.conn.prepare("SELECT seq, key FROM log")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            last.insert(row.get(1)?, row.get(0)?);
        }
        drop(rows);
        let mut stmt = self.conn.prepare("SELECT key, job FROM jobs")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let key: [u8; 17] = row.get(0)?;
            if last.is_empty() || !last.contains_key(&key) {
                let (op, key) = split_key(key);
                let (version, job) = dict.decode("jobs", row.get_ref(1)?.as_blob()?)?;
                visit(Loaded::Identified {
                    op,
                    key,
                    version,
                    job,
                });
                summary.identified += 1;
            }
        }
        drop(rows);
        let mut stmt = self.conn.prepare("SELECT seq, key, job FROM log")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let key: [u8; 17] = row.get(1)?;
            if last.get(&key) == Some(&seq) {
                if let Some(job) = row.get_ref(2)?.as_blob_or_null()? {
                    let (op, key) = split_key(key);
                    let (version, job) = dict.decode("log", job)?;
                    visit(Loaded::Identified {
                        op,
                        key,
                        version,
                        job,
                    });
                    summary.identified += 1;
                }
            }
        }
        drop(rows);
        let mut stmt = self.conn.prepare(
            "SELECT op, count, day, account, region, state, resource_type, category, scanner,
                    scan_status FROM anonymous",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let table = "anonymous";
            let op = small(table, "op", row.get(0)?)?;
            let count: i64 = row.get(1)?;
            let count = u64::try_from(count).map_err(|_| Failed::damaged(table, "count", count))?;
            let mut job = dict.job(table, row, 2)?;
            job.created_ms = job
                .created_ms
                .checked_mul(DAY_MS)
                .ok_or_else(|| Failed::damaged(table, "day", job.created_ms))?;
            visit(Loaded::Anonymous { op, count, job });
            summary.anonymous_groups += 1;
            summary.anonymous_jobs = summary.anonymous_jobs.saturating_add(count);
        }
        Ok(summary)
    }
}

impl LoadedJob<'_> {
    /// The owned job (allocates its strings; for tests and small data).
    #[must_use]
    #[cfg_attr(not(test), expect(dead_code, reason = "for tests"))]
    pub(crate) fn to_stored(self) -> StoredJob {
        let own = |t: Option<Text<'_>>| t.map(|t| t.text.to_owned());
        StoredJob {
            created_ms: self.created_ms,
            account: self.account,
            region: self.region.text.to_owned(),
            state: self.state.text.to_owned(),
            resource_type: self.resource_type.text.to_owned(),
            message_category: own(self.message_category),
            malware_scanner: own(self.malware_scanner),
            scan_result_status: own(self.scan_result_status),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Commit => "commit changes to",
            Self::Expire => "expire jobs in",
            Self::Load => "load jobs from",
            Self::Open => "open database",
        })
    }
}

/// The in-memory copy of the `dict` table: text to id and back. Ids are 1, 2, ...; 0 in a job
/// row means "absent" (an optional dimension without a value).
#[derive(Debug, Default)]
struct Dict {
    ids: HashMap<String, u32>,
    /// `texts[id - 1]`.
    texts: Vec<String>,
}

impl Dict {
    fn read(conn: &Connection) -> Result<Self, Failed> {
        let mut dict = Self::default();
        let mut stmt = conn.prepare("SELECT id, text FROM dict ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let text: String = row.get(1)?;
            // Ids are written densely from 1; anything else was not written by this module.
            if usize::try_from(id).ok() != Some(dict.texts.len() + 1) {
                return Err(Failed::damaged("dict", "id", id));
            }
            let Ok(id) = u32::try_from(id) else {
                return Err(Failed::damaged("dict", "id", id));
            };
            dict.ids.insert(text.clone(), id);
            dict.texts.push(text);
        }
        Ok(dict)
    }

    /// The ids of a job's six strings, adding new ones to the table.
    fn intern_job(
        &mut self,
        job: &StoredJob,
        add: &mut rusqlite::CachedStatement<'_>,
    ) -> rusqlite::Result<[u32; 6]> {
        Ok([
            self.intern(&job.region, add)?,
            self.intern(&job.state, add)?,
            self.intern(&job.resource_type, add)?,
            self.intern_optional(job.message_category.as_deref(), add)?,
            self.intern_optional(job.malware_scanner.as_deref(), add)?,
            self.intern_optional(job.scan_result_status.as_deref(), add)?,
        ])
    }

    fn intern_optional(
        &mut self,
        text: Option<&str>,
        add: &mut rusqlite::CachedStatement<'_>,
    ) -> rusqlite::Result<u32> {
        text.map_or(Ok(0), |t| self.intern(t, add))
    }

    fn intern(
        &mut self,
        text: &str,
        add: &mut rusqlite::CachedStatement<'_>,
    ) -> rusqlite::Result<u32> {
        if let Some(&id) = self.ids.get(text) {
            return Ok(id);
        }
        let id = u32::try_from(self.texts.len() + 1).map_err(|_| {
            rusqlite::Error::ToSqlConversionFailure("too many distinct strings".into())
        })?;
        add.execute(params![id, text])?;
        self.ids.insert(text.to_owned(), id);
        self.texts.push(text.to_owned());
        Ok(id)
    }

    /// Forgets the texts from position `len` on (their transaction was rolled back).
    fn forget_from(&mut self, len: usize) {
        for text in self.texts.drain(len..) {
            self.ids.remove(&text);
        }
    }

    fn text(&self, table: &'static str, column: &'static str, id: i64) -> Result<Text<'_>, Failed> {
        usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.texts.get(i))
            .and_then(|text| {
                Some(Text {
                    id: u32::try_from(id).ok()?,
                    text,
                })
            })
            .ok_or(Failed::damaged(table, column, id))
    }

    fn optional(
        &self,
        table: &'static str,
        column: &'static str,
        id: i64,
    ) -> Result<Option<Text<'_>>, Failed> {
        if id == 0 {
            Ok(None)
        } else {
            self.text(table, column, id).map(Some)
        }
    }

    /// A packed job (see [`encode`]) with its strings resolved.
    fn decode(
        &self,
        table: &'static str,
        bytes: &[u8],
    ) -> Result<(Option<u32>, LoadedJob<'_>), Failed> {
        let p = Packed::parse(bytes).ok_or_else(|| damaged_job(table, bytes))?;
        let text = |n: usize| self.text(table, ID_COLUMNS[n], i64::from(p.ids[n]));
        let optional = |n: usize| self.optional(table, ID_COLUMNS[n], i64::from(p.ids[n]));
        let job = LoadedJob {
            created_ms: p.created_ms,
            account: p.account,
            region: text(0)?,
            state: text(1)?,
            resource_type: text(2)?,
            message_category: optional(3)?,
            malware_scanner: optional(4)?,
            scan_result_status: optional(5)?,
        };
        Ok((p.version, job))
    }

    /// The job in columns `at..at + 8` (created_ms or day, account, six string ids).
    fn job(
        &self,
        table: &'static str,
        row: &rusqlite::Row<'_>,
        at: usize,
    ) -> Result<LoadedJob<'_>, Failed> {
        Ok(LoadedJob {
            created_ms: row.get(at)?,
            account: from_i64(row.get(at + 1)?),
            region: self.text(table, "region", row.get(at + 2)?)?,
            state: self.text(table, "state", row.get(at + 3)?)?,
            resource_type: self.text(table, "resource_type", row.get(at + 4)?)?,
            message_category: self.optional(table, "category", row.get(at + 5)?)?,
            malware_scanner: self.optional(table, "scanner", row.get(at + 6)?)?,
            scan_result_status: self.optional(table, "scan_status", row.get(at + 7)?)?,
        })
    }
}

/// A failure before the path and action are known.
#[derive(Debug)]
enum Failed {
    Damaged {
        table: &'static str,
        column: &'static str,
        value: i64,
    },
    Sqlite(rusqlite::Error),
}

impl Failed {
    fn damaged(table: &'static str, column: &'static str, value: i64) -> Self {
        Self::Damaged {
            table,
            column,
            value,
        }
    }

    /// The public error, naming the database and what was being done.
    fn locate(self, path: &Path, action: Action) -> StoreError {
        match self {
            Self::Damaged {
                table,
                column,
                value,
            } => StoreError::Damaged {
                path: path.to_path_buf(),
                table,
                column,
                value,
            },
            Self::Sqlite(source) => classify(path, action, source),
        }
    }
}

impl From<rusqlite::types::FromSqlError> for Failed {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Self::Sqlite(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            Box::new(e),
        ))
    }
}

impl From<rusqlite::Error> for Failed {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Hashes row keys, whose bytes after the op are already a uniform hash, by taking 8 of them.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        match bytes.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(word) => self.0 ^= u64::from_le_bytes(word) ^ u64::from(bytes[0]),
            None => bytes
                .iter()
                .for_each(|&b| self.0 = self.0.rotate_left(8) ^ u64::from(b)),
        }
    }
}

/// Moves the log into `jobs`: the last entry of each key replaces or removes its job.
fn merge(conn: &Connection) -> rusqlite::Result<()> {
    // Every upsert in key order, each key's in log order: the last one stays.
    conn.execute(
        "INSERT OR REPLACE INTO jobs (key, job)
         SELECT key, job FROM log WHERE job IS NOT NULL ORDER BY key, seq",
        [],
    )?;
    // Then the keys whose last entry is a removal (few: one scan of the log finds them).
    let mut removals: HashMap<[u8; 17], i64, BuildHasherDefault<KeyHasher>> = HashMap::default();
    let mut stmt = conn.prepare("SELECT seq, key FROM log WHERE job IS NULL")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        removals.insert(row.get(1)?, row.get(0)?);
    }
    drop(rows);
    if !removals.is_empty() {
        let mut stmt = conn.prepare("SELECT seq, key FROM log WHERE job IS NOT NULL")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let key: [u8; 17] = row.get(1)?;
            let seq: i64 = row.get(0)?;
            if removals.get(&key).is_some_and(|&removed| removed < seq) {
                removals.remove(&key); // upserted again after the removal
            }
        }
        drop(rows);
        let mut delete = conn.prepare("DELETE FROM jobs WHERE key = ?1")?;
        for key in removals.keys() {
            delete.execute([key])?;
        }
    }
    conn.execute("DELETE FROM log", [])?;
    Ok(())
}

/// Counts `jobs` and records the count in `meta`.
fn count_jobs(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))?;
    conn.execute("UPDATE meta SET value = ?1 WHERE name = 'jobs'", [n])?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The primary key of a job row: the op, then the key, big-endian.
fn row_key(op: u8, key: u128) -> [u8; 17] {
    let mut out = [0; 17];
    out[0] = op;
    out[1..].copy_from_slice(&key.to_be_bytes());
    out
}

fn split_key(bytes: [u8; 17]) -> (u8, u128) {
    let mut key = [0; 16];
    key.copy_from_slice(&bytes[1..]);
    (bytes[0], u128::from_be_bytes(key))
}

/// Bytes before the string ids in a packed job: flags, version, created_ms, account.
const FIXED: usize = 1 + 4 + 8 + 8;

/// Packs a job's fields: a flags byte (1: has a version), the version (u32), created_ms (i64)
/// and account (u64) little-endian, then the six string ids as LEB128 varints (0 = absent).
fn encode(version: Option<u32>, job: &StoredJob, ids: [u32; 6]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED + 12);
    out.push(u8::from(version.is_some()));
    out.extend_from_slice(&version.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&job.created_ms.to_le_bytes());
    out.extend_from_slice(&job.account.to_le_bytes());
    for mut id in ids {
        while id >= 0x80 {
            out.push(u8::try_from(id & 0x7f).unwrap_or(0) | 0x80);
            id >>= 7;
        }
        out.push(u8::try_from(id).unwrap_or(0));
    }
    out
}

/// A packed job, parsed (string ids not yet resolved).
#[derive(Debug)]
struct Packed {
    version: Option<u32>,
    created_ms: i64,
    account: u64,
    ids: [u32; 6],
}

impl Packed {
    /// The fields of [`encode`]'s bytes; `None` if they are not such bytes.
    fn parse(bytes: &[u8]) -> Option<Self> {
        let (fixed, mut rest) = bytes.split_at_checked(FIXED)?;
        let (flags, fixed) = fixed.split_first()?;
        let (version, fixed) = fixed.split_first_chunk::<4>()?;
        let (created_ms, account) = fixed.split_first_chunk::<8>()?;
        let account = <[u8; 8]>::try_from(account).ok()?;
        let mut ids = [0u32; 6];
        for id in &mut ids {
            *id = read_varint(&mut rest)?;
        }
        let version = match flags {
            0 => None,
            1 => Some(u32::from_le_bytes(*version)),
            _ => return None,
        };
        rest.is_empty().then_some(Self {
            version,
            created_ms: i64::from_le_bytes(*created_ms),
            account: u64::from_le_bytes(account),
            ids,
        })
    }
}

fn read_varint(bytes: &mut &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some(value);
        }
    }
    None
}

fn damaged_job(table: &'static str, bytes: &[u8]) -> Failed {
    Failed::damaged(table, "job", i64::try_from(bytes.len()).unwrap_or(-1))
}

/// The names of a job's six string ids, in order (as columns of `anonymous`).
const ID_COLUMNS: [&str; 6] = [
    "region",
    "state",
    "resource_type",
    "category",
    "scanner",
    "scan_status",
];

fn classify(path: &Path, action: Action, source: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::InUse { path },
        _ => StoreError::Sqlite {
            path,
            action,
            source,
        },
    }
}

fn small(table: &'static str, column: &'static str, value: i64) -> Result<u8, Failed> {
    u8::try_from(value).map_err(|_| Failed::damaged(table, column, value))
}

/// Account ids are stored as SQLite's signed 64-bit integers, bit for bit.
fn to_i64(account: u64) -> i64 {
    i64::from_ne_bytes(account.to_ne_bytes())
}

fn from_i64(account: i64) -> u64 {
    u64::from_ne_bytes(account.to_ne_bytes())
}

fn widen(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::RandomState;
    use std::collections::BTreeMap;
    use std::error::Error;
    use std::hash::BuildHasher as _;
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::thread;

    use super::*;

    type TestResult = Result<(), Box<dyn Error>>;

    /// Identified jobs by (op, key), and anonymous counts by (op, job).
    type State = (
        BTreeMap<(u8, u128), (Option<u32>, StoredJob)>,
        BTreeMap<(u8, StoredJob), u64>,
    );

    fn snapshot(store: &Store) -> Result<State, Box<dyn Error>> {
        let (mut identified, mut anonymous) = (BTreeMap::new(), BTreeMap::new());
        let mut twice = None;
        let summary = store.load(|item| match item {
            Loaded::Identified {
                op,
                key,
                version,
                job,
            } => {
                if identified
                    .insert((op, key), (version, job.to_stored()))
                    .is_some()
                {
                    twice = Some((op, key));
                }
            }
            Loaded::Anonymous { op, count, job } => {
                *anonymous.entry((op, job.to_stored())).or_insert(0) += count;
            }
        })?;
        if let Some(k) = twice {
            return Err(format!("job {k:?} loaded twice").into());
        }
        assert_eq!(summary.identified, identified.len() as u64);
        assert_eq!(summary.anonymous_jobs, anonymous.values().sum::<u64>());
        Ok((identified, anonymous))
    }

    fn job(created_ms: i64, state: &str, category: Option<&str>) -> StoredJob {
        StoredJob {
            created_ms,
            account: 123_456_789_012,
            region: "eu-west-1".to_owned(),
            state: state.to_owned(),
            resource_type: "EC2".to_owned(),
            message_category: category.map(str::to_owned),
            malware_scanner: None,
            scan_result_status: None,
        }
    }

    fn upsert(op: u8, key: u128, version: Option<u32>, job: &StoredJob) -> Change {
        Change::Upsert {
            op,
            key,
            version,
            job: job.clone(),
        }
    }

    /// An expiry in one go: [`Store::expire_log`], then [`Store::expire_step`] until every
    /// row is scanned (as `serve` does, letting commits in between).
    fn expire(store: &mut Store, cutoff_ms: i64) -> Result<Expired, StoreError> {
        let mut gone = store.expire_log(cutoff_ms)?;
        let mut after = None;
        loop {
            let step = store.expire_step(cutoff_ms, after, 64)?;
            gone.identified += step.deleted;
            match step.next {
                Some(key) => after = Some(key),
                None => return Ok(gone),
            }
        }
    }

    const DAY0: i64 = 20_000 * DAY_MS;

    #[test]
    fn round_trip_upserts_anonymous_and_removals() -> TestResult {
        for limit in [1, 3, DEFAULT_LOG_LIMIT] {
            let dir = tempfile::tempdir()?;
            let mut store = Store::open(dir.path())?.with_log_limit(limit);
            let a = job(DAY0 + 5, "RUNNING", None);
            let mut b = job(DAY0 + DAY_MS + 7, "COMPLETED", Some("SUCCESS"));
            b.malware_scanner = Some("GUARDDUTY".to_owned());
            b.scan_result_status = Some("NO_THREATS_FOUND".to_owned());
            b.account = u64::MAX; // beyond i64: stored bit for bit
            store.commit(&[
                upsert(0, 1, Some(10), &a),
                upsert(3, 1, None, &b),
                upsert(1, u128::MAX, Some(u32::MAX), &a),
                Change::Anonymous {
                    op: 2,
                    job: a.clone(),
                },
                Change::Anonymous {
                    op: 2,
                    job: job(DAY0 + 99, "RUNNING", None),
                },
                Change::Anonymous {
                    op: 2,
                    job: b.clone(),
                },
            ])?;
            store.commit(&[
                Change::Remove {
                    op: 1,
                    key: u128::MAX,
                },
                Change::Remove { op: 0, key: 77 },
            ])?;
            let (identified, anonymous) = snapshot(&store)?;
            let expected =
                BTreeMap::from([((0, 1), (Some(10), a.clone())), ((3, 1), (None, b.clone()))]);
            assert_eq!(identified, expected, "log limit {limit}");
            // Anonymous jobs come back per day, dated to the start of it.
            let day_of = |j: &StoredJob| StoredJob {
                created_ms: j.created_ms.div_euclid(DAY_MS) * DAY_MS,
                ..j.clone()
            };
            let expected = BTreeMap::from([((2, day_of(&a)), 2), ((2, day_of(&b)), 1)]);
            assert_eq!(anonymous, expected, "log limit {limit}");
        }
        Ok(())
    }

    #[test]
    fn upsert_replaces_every_field_and_removal_after_upsert_wins() -> TestResult {
        for limit in [1, 2, DEFAULT_LOG_LIMIT] {
            let dir = tempfile::tempdir()?;
            let mut store = Store::open(dir.path())?.with_log_limit(limit);
            let old = job(DAY0, "RUNNING", None);
            let new = job(DAY0 + 3 * DAY_MS, "FAILED", Some("ACCESS_DENIED"));
            store.commit(&[upsert(0, 5, Some(1), &old), upsert(0, 6, Some(1), &old)])?;
            store.commit(&[upsert(0, 5, Some(2), &new)])?;
            store.commit(&[upsert(0, 6, None, &new), Change::Remove { op: 0, key: 6 }])?;
            store.commit(&[upsert(1, 6, Some(9), &old), upsert(1, 6, Some(8), &new)])?;
            let (identified, _) = snapshot(&store)?;
            let expected = BTreeMap::from([
                ((0, 5), (Some(2), new.clone())),
                ((1, 6), (Some(8), new.clone())),
            ]);
            assert_eq!(identified, expected, "log limit {limit}");
        }
        Ok(())
    }

    #[test]
    fn expire_deletes_jobs_created_before_the_cutoff() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path())?.with_log_limit(4);
        let (d10, d11, d12) = (
            job(DAY0, "RUNNING", None),
            job(DAY0 + DAY_MS, "RUNNING", None),
            job(DAY0 + 2 * DAY_MS, "RUNNING", None),
        );
        // Merged into `jobs` (the limit is reached), then replaced in the log.
        store.commit(&[
            upsert(0, 1, None, &d10),
            upsert(0, 2, None, &d12),
            upsert(0, 3, None, &d10),
            upsert(0, 4, None, &d11),
        ])?;
        store.commit(&[upsert(0, 1, None, &d12), upsert(0, 2, None, &d10)])?;
        store.commit(&[
            Change::Anonymous { op: 1, job: d10 },
            Change::Anonymous {
                op: 1,
                job: d11.clone(),
            },
        ])?;
        let cutoff = DAY0 + DAY_MS;
        let gone = expire(&mut store, cutoff)?;
        // Jobs 2 and 3, and job 1's superseded row in `jobs`.
        assert_eq!(
            gone,
            Expired {
                identified: 3,
                anonymous_groups: 1
            }
        );
        drop(store);
        let store = Store::open(dir.path())?;
        let (identified, anonymous) = snapshot(&store)?;
        let expected = BTreeMap::from([((0, 1), (None, d12)), ((0, 4), (None, d11.clone()))]);
        assert_eq!(identified, expected);
        assert_eq!(anonymous, BTreeMap::from([((1, d11), 1)]));
        Ok(())
    }

    #[test]
    fn expiry_in_steps_lets_commits_in_between_and_loses_none() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path())?.with_log_limit(50);
        let (old, new) = (
            job(DAY0, "RUNNING", None),
            job(DAY0 + DAY_MS, "RUNNING", None),
        );
        // 200 jobs merged into `jobs`, even keys old, odd keys new.
        let all: Vec<Change> = (0..200u32)
            .map(|k| upsert(0, u128::from(k), None, if k % 2 == 0 { &old } else { &new }))
            .collect();
        store.commit(&all)?;
        let cutoff = DAY0 + DAY_MS;
        let mut after = None;
        let mut steps = 0u32;
        loop {
            let step = store.expire_step(cutoff, after, 16)?;
            steps += 1;
            // Between steps: an old job made current again, a new job made old, a new one.
            let k = u128::from(steps) * 2;
            store.commit(&[
                upsert(0, k, None, &new),
                upsert(0, k + 1, None, &old),
                upsert(1, k, None, &new),
            ])?;
            match step.next {
                Some(key) => after = Some(key),
                None => break,
            }
        }
        assert!(steps >= 13, "{steps} steps");
        // Old versions committed during the steps go at the next expiry's log pass.
        store.expire_log(cutoff)?;
        let expected: BTreeMap<(u8, u128), (Option<u32>, StoredJob)> = (0..200u32)
            .map(u128::from)
            .filter_map(|k| {
                let rewritten = k >= 2 && k <= u128::from(steps) * 2 + 1;
                let is_new = if rewritten { k % 2 == 0 } else { k % 2 == 1 };
                is_new.then(|| ((0, k), (None, new.clone())))
            })
            .chain((1..=steps).map(|s| ((1, u128::from(s) * 2), (None, new.clone()))))
            .collect();
        drop(store);
        let (identified, _) = snapshot(&Store::open(dir.path())?)?;
        assert_eq!(identified, expected);
        Ok(())
    }

    #[test]
    fn reopen_after_drop_sees_everything() -> TestResult {
        let dir = tempfile::tempdir()?;
        let before = {
            let mut store = Store::open(dir.path())?.with_log_limit(50);
            for n in 0..40u32 {
                let j = job(
                    DAY0 + i64::from(n),
                    if n % 2 == 0 { "RUNNING" } else { "COMPLETED" },
                    None,
                );
                let extra = job(DAY0, &format!("STATE{n}"), Some(&format!("C{n}")));
                store.commit(&[
                    upsert(0, u128::from(n), Some(n), &j),
                    upsert(2, u128::from(n % 7), Some(n), &extra),
                    Change::Anonymous { op: 3, job: j },
                ])?;
            }
            snapshot(&store)?
        };
        assert_eq!(before.0.len(), 47);
        let store = Store::open(dir.path())?;
        assert_eq!(snapshot(&store)?, before);
        Ok(())
    }

    #[test]
    fn a_failed_commit_changes_nothing_and_forgets_its_strings() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path())?;
        store.commit(&[upsert(0, 1, None, &job(DAY0, "RUNNING", None))])?;
        let before = snapshot(&store)?;
        // Make SQLite refuse the commit halfway, after a new string was interned.
        store.conn.execute_batch("CREATE TRIGGER no_more BEFORE INSERT ON log BEGIN SELECT RAISE(ABORT, 'refused'); END;")?;
        let err = store.commit(&[upsert(0, 2, None, &job(DAY0, "NEW_STATE", None))]);
        let Err(err) = err else {
            return Err("the commit should fail".into());
        };
        assert!(
            err.to_string().starts_with("cannot commit changes to "),
            "{err}"
        );
        assert!(err.to_string().contains(FILE_NAME), "{err}");
        assert!(!store.dict.ids.contains_key("NEW_STATE"));
        store.conn.execute_batch("DROP TRIGGER no_more;")?;
        assert_eq!(snapshot(&store)?, before);
        store.commit(&[upsert(0, 2, None, &job(DAY0, "NEW_STATE", None))])?;
        drop(store);
        assert_eq!(snapshot(&Store::open(dir.path())?)?.0.len(), 2);
        Ok(())
    }

    #[test]
    fn foreign_damaged_and_busy_files_are_clear_errors() -> TestResult {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join(FILE_NAME), vec![b'x'; 8192])?;
        let err = Store::open(dir.path()).err().ok_or("garbage opened")?;
        assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains(&dir.path().join(FILE_NAME).display().to_string()),
            "{err}"
        );

        let dir = tempfile::tempdir()?;
        Connection::open(dir.path().join(FILE_NAME))?.execute_batch("CREATE TABLE t (x);")?;
        let err = Store::open(dir.path())
            .err()
            .ok_or("foreign database opened")?;
        assert!(
            matches!(err, StoreError::Foreign { found: 0, .. }),
            "{err:?}"
        );

        let dir = tempfile::tempdir()?;
        drop(Store::open(dir.path())?);
        Connection::open(dir.path().join(FILE_NAME))?.pragma_update(None, "user_version", 99)?;
        let err = Store::open(dir.path())
            .err()
            .ok_or("future schema opened")?;
        assert!(
            matches!(err, StoreError::Version { found: 99, .. }),
            "{err:?}"
        );

        let dir = tempfile::tempdir()?;
        let _held = Store::open(dir.path())?;
        let err = Store::open(dir.path())
            .err()
            .ok_or("second open succeeded")?;
        assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");

        let file = tempfile::NamedTempFile::new()?;
        let err = Store::open(file.path())
            .err()
            .ok_or("a file as directory")?;
        assert!(
            err.to_string().starts_with("cannot create data directory "),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn damaged_rows_are_errors_not_panics() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path())?;
        store.commit(&[upsert(0, 1, None, &job(DAY0, "RUNNING", None))])?;
        store
            .conn
            .execute_batch("UPDATE log SET job = zeroblob(30);")?;
        let err = store.load(|_| {}).err().ok_or("damaged row loaded")?;
        let bad = encode(None, &job(DAY0, "RUNNING", None), [999, 1, 1, 0, 0, 0]);
        store.conn.execute("UPDATE log SET job = ?1", [bad])?;
        let other = store.load(|_| {}).err().ok_or("unknown string id loaded")?;
        assert!(
            other.to_string().contains("column region holds 999"),
            "{other}"
        );
        assert!(
            matches!(
                err,
                StoreError::Damaged {
                    table: "log",
                    column: "job",
                    value: 30,
                    ..
                }
            ),
            "{err:?}"
        );
        Ok(())
    }

    // The crash test: this same test binary, run again with CRASH_DIR set, acts as the child
    // (`crash_child`), committing numbered batches and printing each acknowledged number.

    const CRASH_DIR: &str = "BACKUP_SUMMARIES_STORE_CRASH_DIR";
    /// Small, so that the killed children also die inside merges.
    const CRASH_LOG_LIMIT: u64 = 300;
    const SHARED: u32 = 10;

    fn batch_job(n: u64, i: u32) -> StoredJob {
        let states = ["CREATED", "RUNNING", "COMPLETED", "FAILED"];
        StoredJob {
            created_ms: DAY0 + (n % 5) as i64 * DAY_MS + i64::from(i),
            account: 100_000_000_000 + u64::from(i % 3),
            region: format!("region-{}", n % 50), // new strings keep coming
            state: states[(n as usize + i as usize) % 4].to_owned(),
            resource_type: "EC2".to_owned(),
            message_category: (i % 3 == 0).then(|| "SUCCESS".to_owned()),
            malware_scanner: None,
            scan_result_status: None,
        }
    }

    /// Batch `n` (from 1): 20 new jobs, a new version of the shared jobs, removals of five jobs
    /// of batch n - 1, and three anonymous jobs.
    fn batch(n: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        for i in 0..20u32 {
            changes.push(upsert(
                (i % 4) as u8,
                (u128::from(n) << 32) | u128::from(i),
                Some(n as u32),
                &batch_job(n, i),
            ));
        }
        for j in 0..SHARED {
            changes.push(upsert(
                (j % 4) as u8,
                u128::MAX - u128::from(j),
                Some(n as u32),
                &batch_job(n, 100 + j),
            ));
        }
        if n > 1 {
            changes.extend((0..5u32).map(|i| Change::Remove {
                op: (i % 4) as u8,
                key: (u128::from(n - 1) << 32) | u128::from(i),
            }));
        }
        let anonymous = job(DAY0 + (n % 3) as i64 * DAY_MS, "COMPLETED", None);
        changes.extend((0..3).map(|_| Change::Anonymous {
            op: 1,
            job: anonymous.clone(),
        }));
        changes
    }

    /// The state after batches 1..=last.
    fn model(last: u64) -> State {
        let (mut identified, mut anonymous) = (BTreeMap::new(), BTreeMap::new());
        for n in 1..=last {
            for change in batch(n) {
                match change {
                    Change::Upsert {
                        op,
                        key,
                        version,
                        job,
                    } => {
                        identified.insert((op, key), (version, job));
                    }
                    Change::Remove { op, key } => {
                        identified.remove(&(op, key));
                    }
                    Change::Anonymous { op, job } => *anonymous.entry((op, job)).or_insert(0) += 1,
                }
            }
        }
        (identified, anonymous)
    }

    /// The last batch in the store: the version of the shared jobs (0 when empty).
    fn last_batch(state: &State) -> u64 {
        state
            .0
            .get(&(0, u128::MAX))
            .and_then(|(v, _)| *v)
            .map_or(0, u64::from)
    }

    #[test]
    fn crash_child() -> TestResult {
        let Some(dir) = std::env::var_os(CRASH_DIR) else {
            return Ok(());
        }; // only as the child
        let mut store = Store::open(Path::new(&dir))?.with_log_limit(CRASH_LOG_LIMIT);
        let mut n = last_batch(&snapshot(&store)?) + 1;
        let mut out = io::stdout();
        loop {
            store.commit(&batch(n))?;
            writeln!(out, "ack {n}")?;
            out.flush()?;
            n += 1;
        }
    }

    #[test]
    fn kill_9_keeps_every_acknowledged_batch_and_no_partial_one() -> TestResult {
        if std::env::var_os(CRASH_DIR).is_some() {
            return Ok(()); // the child runs crash_child only; this guards against recursion
        }
        let dir = tempfile::tempdir()?;
        let exe = std::env::current_exe()?;
        let random = RandomState::new();
        let (mut acknowledged, mut rounds_with_progress) = (0, 0);
        for round in 0..24u64 {
            let mut child = Command::new(&exe)
                .args([
                    "store::tests::crash_child",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CRASH_DIR, dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()?;
            let stdout = child.stdout.take().ok_or("no child stdout")?;
            let (tx, rx) = mpsc::channel();
            let reader = thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(n) = line
                        .strip_prefix("ack ")
                        .and_then(|n| n.parse::<u64>().ok())
                    {
                        let _ = tx.send(n);
                    }
                }
            });
            // Wait for the child to be running, then kill it at a random moment.
            let first = rx.recv_timeout(Duration::from_secs(20));
            thread::sleep(Duration::from_micros(random.hash_one(round) % 60_000));
            child.kill()?; // SIGKILL
            child.wait()?;
            reader.join().map_err(|_| "reader thread panicked")?;
            let last_ack = rx.try_iter().chain(first.ok()).max();
            if let Some(n) = last_ack {
                assert!(n >= acknowledged, "acks go forward");
                if n > acknowledged {
                    rounds_with_progress += 1;
                }
                acknowledged = n;
            }
            let state = snapshot(&Store::open(dir.path())?)?;
            let last = last_batch(&state);
            assert!(
                last == acknowledged || last == acknowledged + 1,
                "round {round}: store holds batches up to {last}, {acknowledged} were acknowledged"
            );
            assert!(
                state == model(last),
                "round {round}: the store is not exactly batches 1..={last}"
            );
            acknowledged = last; // a batch committed but not yet acknowledged counts from now on
        }
        assert!(
            rounds_with_progress >= 20,
            "only {rounds_with_progress} rounds committed anything"
        );
        Ok(())
    }
}
