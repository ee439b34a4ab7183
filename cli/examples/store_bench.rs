//! Measures the durable job store (`cli/src/store.rs`, SQLite) against a redb implementation of
//! the same schema, for the README's "Durable storage" section.
//!
//! ```text
//! store_bench fill   --backend sqlite --dir D --jobs 10000000   # N identified jobs, 100k per commit
//! store_bench ingest --backend sqlite --dir D --changes 2000000 # 10k per commit, 70% replacing
//! store_bench load   --backend sqlite --dir D                   # open + stream everything back
//! store_bench expire --backend sqlite --dir D --days 1          # drop the oldest day(s)
//! ```
//!
//! Keys are `mix(i)` for job number `i`, so `ingest` can pick existing keys to replace; the
//! number of jobs written so far is kept in `D/bench-jobs`. Every commit is durable (fsync).

#![forbid(unsafe_code)]

#[path = "../src/store.rs"]
#[expect(dead_code, reason = "the bench uses part of the store's API")]
mod store;

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use store::{Change, Loaded, Store, StoredJob};

type Res<T> = Result<T, Box<dyn Error>>;

const DAY_MS: i64 = 86_400_000;
/// Jobs are created over 30 days before this instant (2025-01-31T00:00:00Z).
const END_MS: i64 = 1_738_281_600_000;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Adds `jobs` new identified jobs, `batch` per commit.
    Fill {
        #[command(flatten)]
        at: At,
        #[arg(long)]
        jobs: u64,
        #[arg(long, default_value_t = 100_000)]
        batch: usize,
    },
    /// Commits `changes` upserts, `batch` per commit, `replace` of them replacing existing keys.
    Ingest {
        #[command(flatten)]
        at: At,
        #[arg(long, default_value_t = 2_000_000)]
        changes: u64,
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        #[arg(long, default_value_t = 0.7)]
        replace: f64,
    },
    /// Opens the store and streams every job back.
    Load {
        #[command(flatten)]
        at: At,
    },
    /// Expires the jobs of the oldest `days` days (SQLite only).
    Expire {
        #[command(flatten)]
        at: At,
        #[arg(long, default_value_t = 1)]
        days: i64,
    },
}

#[derive(Debug, clap::Args)]
struct At {
    #[arg(long, value_enum)]
    backend: BackendKind,
    #[arg(long)]
    dir: PathBuf,
    /// SQLite: log entries that trigger a merge.
    #[arg(long, default_value_t = store::DEFAULT_LOG_LIMIT)]
    log_limit: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BackendKind {
    Sqlite,
    Redb,
}

/// What the benchmark needs of a backend.
trait Backend {
    fn commit(&mut self, changes: &[Change]) -> Res<()>;
    /// Streams identified jobs; returns (count, checksum).
    fn load(&self) -> Res<(u64, u64)>;
}

fn main() -> Res<()> {
    match Cli::parse().command {
        Command::Fill { at, jobs, batch } => {
            let mut db = open(&at)?;
            let mut next = read_count(&at.dir)?;
            let mut rng = Rng(next ^ 0x5eed);
            let (start, mut in_commit) = (Instant::now(), Duration::ZERO);
            let mut left = jobs;
            while left > 0 {
                let n = left.min(batch as u64);
                let changes: Vec<Change> = (0..n).map(|i| upsert(next + i, &mut rng)).collect();
                let t = Instant::now();
                db.commit(&changes)?;
                in_commit += t.elapsed();
                next += n;
                left -= n;
                write_count(&at.dir, next)?;
            }
            report("fill", jobs, start.elapsed(), in_commit, &at.dir);
        }
        Command::Ingest {
            at,
            changes,
            batch,
            replace,
        } => {
            let mut db = open(&at)?;
            let mut next = read_count(&at.dir)?;
            let mut rng = Rng(next ^ 0xbeef);
            let (start, mut in_commit, mut worst) =
                (Instant::now(), Duration::ZERO, Duration::ZERO);
            let mut left = changes;
            while left > 0 {
                let n = left.min(batch as u64);
                let mut list = Vec::with_capacity(batch);
                for _ in 0..n {
                    if next > 0 && rng.unit() < replace {
                        let old = rng.next() % next;
                        list.push(upsert(old, &mut rng));
                    } else {
                        list.push(upsert(next, &mut rng));
                        next += 1;
                    }
                }
                let t = Instant::now();
                db.commit(&list)?;
                let took = t.elapsed();
                in_commit += took;
                worst = worst.max(took);
                left -= n;
                write_count(&at.dir, next)?;
            }
            report("ingest", changes, start.elapsed(), in_commit, &at.dir);
            println!(
                "  slowest commit {:.1} ms; jobs now {next}",
                worst.as_secs_f64() * 1e3
            );
        }
        Command::Load { at } => {
            let t = Instant::now();
            let db = open(&at)?;
            let opened = t.elapsed();
            let (count, sum) = db.load()?;
            let total = t.elapsed();
            println!(
                "load {:?}: open {:.3} s, open+load {:.3} s, {count} jobs ({:.0} jobs/s), checksum {sum:x}, files {}",
                at.backend,
                opened.as_secs_f64(),
                total.as_secs_f64(),
                count as f64 / total.as_secs_f64(),
                size(&at.dir)
            );
        }
        Command::Expire { at, days } => {
            let mut db = Store::open(&at.dir)?.with_log_limit(at.log_limit);
            let t = Instant::now();
            let cutoff = END_MS - 30 * DAY_MS + days * DAY_MS;
            let mut gone = db.expire_log(cutoff)?;
            let log_pass = t.elapsed();
            let (mut after, mut steps, mut slowest) = (None, 0, Duration::ZERO);
            loop {
                let s = Instant::now();
                let step = db.expire_step(cutoff, after, store::EXPIRE_STEP_ROWS)?;
                slowest = slowest.max(s.elapsed());
                steps += 1;
                gone.identified += step.deleted;
                match step.next {
                    Some(key) => after = Some(key),
                    None => break,
                }
            }
            println!(
                "  log pass {:.1} ms, then {steps} steps, the slowest {:.1} ms",
                log_pass.as_secs_f64() * 1e3,
                slowest.as_secs_f64() * 1e3
            );
            println!(
                "expire: {gone:?} in {:.3} s, files {}",
                t.elapsed().as_secs_f64(),
                size(&at.dir)
            );
        }
    }
    Ok(())
}

fn open(at: &At) -> Res<Box<dyn Backend>> {
    Ok(match at.backend {
        BackendKind::Sqlite => Box::new(Store::open(&at.dir)?.with_log_limit(at.log_limit)),
        BackendKind::Redb => Box::new(redb_store::RedbStore::open(&at.dir)?),
    })
}

fn report(what: &str, n: u64, total: Duration, in_commit: Duration, dir: &Path) {
    println!(
        "{what}: {n} changes in {:.2} s ({:.0} changes/s overall, {:.0} changes/s inside commit), files {}",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        n as f64 / in_commit.as_secs_f64(),
        size(dir)
    );
}

/// The job number `i`'s upsert, with random fields (the same key each time `i` is drawn).
fn upsert(i: u64, rng: &mut Rng) -> Change {
    const REGIONS: [&str; 8] = [
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-1",
        "ap-northeast-1",
        "sa-east-1",
    ];
    const STATES: [&str; 6] = [
        "CREATED",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "ABORTED",
        "EXPIRED",
    ];
    const TYPES: [&str; 8] = [
        "EC2", "EBS", "RDS", "S3", "EFS", "DynamoDB", "Aurora", "FSx",
    ];
    const CATEGORIES: [&str; 4] = [
        "SUCCESS",
        "ACCESS_DENIED",
        "AWS_BACKUP_ERROR",
        "INVALID_PARAMETERS",
    ];
    let r = rng.next();
    let pick = |list: &[&str], shift: u32| list[((r >> shift) as usize) % list.len()].to_owned();
    let op = (i % 4) as u8;
    Change::Upsert {
        op,
        key: (u128::from(mix(i)) << 64) | u128::from(mix(!i)),
        version: Some(1_738_000_000 + (r % 1_000_000) as u32),
        job: StoredJob {
            created_ms: END_MS - 1 - (mix(i) % (30 * DAY_MS as u64)) as i64,
            account: 100_000_000_000 + (r >> 8) % 50,
            region: pick(&REGIONS, 16),
            state: pick(&STATES, 20),
            resource_type: pick(&TYPES, 24),
            message_category: ((r >> 28) % 5 != 0).then(|| pick(&CATEGORIES, 32)),
            malware_scanner: (op == 3).then(|| "GUARDDUTY".to_owned()),
            scan_result_status: (op == 3).then(|| pick(&["NO_THREATS_FOUND", "THREATS_FOUND"], 36)),
        },
    }
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        mix(self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn read_count(dir: &Path) -> Res<u64> {
    match fs::read_to_string(dir.join("bench-jobs")) {
        Ok(s) => Ok(s.trim().parse()?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e.into()),
    }
}

fn write_count(dir: &Path, n: u64) -> Res<()> {
    Ok(fs::write(dir.join("bench-jobs"), n.to_string())?)
}

/// The sizes of the database files in `dir`.
fn size(dir: &Path) -> String {
    let mut parts = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name != "bench-jobs" {
                let len = e.metadata().map_or(0, |m| m.len());
                parts.push(format!("{name} {:.1} MB", len as f64 / 1e6));
            }
        }
    }
    parts.sort();
    parts.join(", ")
}

impl Backend for Store {
    fn commit(&mut self, changes: &[Change]) -> Res<()> {
        Ok(Self::commit(self, changes)?)
    }

    fn load(&self) -> Res<(u64, u64)> {
        let mut sum = 0u64;
        let summary = Self::load(self, |item| {
            if let Loaded::Identified {
                key, version, job, ..
            } = item
            {
                sum = sum
                    .wrapping_add(key as u64)
                    .wrapping_add(u64::from(version.unwrap_or(0)))
                    .wrapping_add(job.created_ms as u64)
                    .wrapping_add(job.account)
                    .wrapping_add(u64::from(
                        job.region.id + job.state.id + job.resource_type.id,
                    ))
                    .wrapping_add(u64::from(job.message_category.map_or(0, |t| t.id)));
            }
        })?;
        Ok((summary.identified, sum))
    }
}

/// The same schema in redb: `jobs` keyed by (op, key), the fields packed into 45 bytes, and a
/// string dictionary. Only identified jobs (what the benchmark writes).
mod redb_store {
    use std::collections::HashMap;
    use std::path::Path;

    use redb::{Database, ReadableTable as _, TableDefinition};

    use super::{Backend, Change, Res, StoredJob};

    const JOBS: TableDefinition<'_, (u8, u128), &[u8]> = TableDefinition::new("jobs");
    const DICT: TableDefinition<'_, u32, &str> = TableDefinition::new("dict");

    pub(super) struct RedbStore {
        db: Database,
        ids: HashMap<String, u32>,
        texts: Vec<String>,
    }

    impl RedbStore {
        pub(super) fn open(dir: &Path) -> Res<Self> {
            std::fs::create_dir_all(dir)?;
            let db = Database::create(dir.join("jobs.redb"))?;
            let tx = db.begin_write()?;
            tx.open_table(JOBS)?;
            let (mut ids, mut texts) = (HashMap::new(), Vec::new());
            {
                let dict = tx.open_table(DICT)?;
                for entry in dict.iter()? {
                    let (id, text) = entry?;
                    ids.insert(text.value().to_owned(), id.value());
                    texts.push(text.value().to_owned());
                }
            }
            tx.commit()?;
            Ok(Self { db, ids, texts })
        }
    }

    fn intern(
        ids: &mut HashMap<String, u32>,
        texts: &mut Vec<String>,
        dict: &mut redb::Table<'_, u32, &str>,
        text: Option<&str>,
    ) -> Res<u32> {
        let Some(text) = text else { return Ok(0) };
        if let Some(&id) = ids.get(text) {
            return Ok(id);
        }
        let id = u32::try_from(texts.len() + 1)?;
        dict.insert(id, text)?;
        ids.insert(text.to_owned(), id);
        texts.push(text.to_owned());
        Ok(id)
    }

    impl Backend for RedbStore {
        fn commit(&mut self, changes: &[Change]) -> Res<()> {
            let tx = self.db.begin_write()?; // Durability::Immediate: fsync on commit
            {
                let mut jobs = tx.open_table(JOBS)?;
                let mut dict = tx.open_table(DICT)?;
                for change in changes {
                    match change {
                        Change::Upsert {
                            op,
                            key,
                            version,
                            job,
                        } => {
                            let StoredJob {
                                created_ms,
                                account,
                                ..
                            } = job;
                            let mut v = [0u8; 45];
                            v[0] = u8::from(version.is_some());
                            v[1..5].copy_from_slice(&version.unwrap_or(0).to_le_bytes());
                            v[5..13].copy_from_slice(&created_ms.to_le_bytes());
                            v[13..21].copy_from_slice(&account.to_le_bytes());
                            let texts = [
                                Some(job.region.as_str()),
                                Some(job.state.as_str()),
                                Some(job.resource_type.as_str()),
                                job.message_category.as_deref(),
                                job.malware_scanner.as_deref(),
                                job.scan_result_status.as_deref(),
                            ];
                            for (n, text) in texts.into_iter().enumerate() {
                                let id = intern(&mut self.ids, &mut self.texts, &mut dict, text)?;
                                v[21 + 4 * n..25 + 4 * n].copy_from_slice(&id.to_le_bytes());
                            }
                            jobs.insert((*op, *key), v.as_slice())?;
                        }
                        Change::Remove { op, key } => {
                            jobs.remove((*op, *key))?;
                        }
                        Change::Anonymous { .. } => return Err("not in this benchmark".into()),
                    }
                }
            }
            tx.commit()?;
            Ok(())
        }

        fn load(&self) -> Res<(u64, u64)> {
            let tx = self.db.begin_read()?;
            let jobs = tx.open_table(JOBS)?;
            let (mut count, mut sum) = (0u64, 0u64);
            let word = |v: &[u8], at: usize| -> Res<u32> {
                Ok(u32::from_le_bytes(v[at..at + 4].try_into()?))
            };
            for entry in jobs.iter()? {
                let (k, v) = entry?;
                let (_, key) = k.value();
                let v = v.value();
                let created = i64::from_le_bytes(v[5..13].try_into()?);
                let account = u64::from_le_bytes(v[13..21].try_into()?);
                let (region, state, rtype, cat) =
                    (word(v, 21)?, word(v, 25)?, word(v, 29)?, word(v, 33)?);
                let region = &self.texts[region as usize - 1];
                sum = sum
                    .wrapping_add(key as u64)
                    .wrapping_add(u64::from(word(v, 1)?))
                    .wrapping_add(created as u64)
                    .wrapping_add(account)
                    .wrapping_add(region.len() as u64 + u64::from(state + rtype + cat));
                count += 1;
            }
            Ok((count, sum))
        }
    }
}
