//! The data options shared by `serve` and `query`: job files, the organization file, the
//! default caller; and loading them into a [`Service`].
//!
//! Each job file is streamed through [`JobStream`] in blocks of [`BLOCK_BYTES`]: every block's
//! whole records are cut into one chunk per core and parsed on scoped threads, the outcomes
//! merged in order, and the jobs added to the operation's table in batches. With job ids
//! ignored, the jobs are counted into a [`Tally`] per thread instead (see [`count_jobs`]): JSON
//! Lines by pieces each thread reads and parses itself, a whole document in blocks of
//! [`COUNT_BLOCK_BYTES`]; and a one-shot query keeps only the jobs it can count. Memory stays
//! bounded by the blocks or pieces, the batch and the table, never the file. A broken file
//! stops the command with an error naming the file (and the table is left as it was). With no
//! job file at all the built-in demo data set is loaded instead (see [`crate::demo`]).

use std::fmt;
use std::fs::File;
use std::io::{self, IsTerminal as _, Read as _, Seek as _, SeekFrom};
use std::num::NonZero;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use backup_summaries::wire::{
    ChunkDone, IngestError, JobChunk, JobIds, JobStream, Service, MAX_RECORD_BYTES,
};
use backup_summaries::{
    AccountId, Batch, BatchError, Caller, CreationWindow, JobTable, Operation, Organization,
    Region, Tally, UnixMillis,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::Failure;
use crate::{clock, demo};

/// Files at least this large get a progress bar while they are read (when stderr is a
/// terminal): 64 MiB.
const PROGRESS_BYTES: u64 = 64 << 20;

/// Bytes a job file is read at a time with job ids tracked: 16 MiB.
const BLOCK_BYTES: u64 = 16 << 20;

/// Block size when counting anonymous jobs of a whole document (or a pipe). Measured on the 10M dump (2 cores, three runs
/// each): 8 MiB cut into 16 chunks per core 1.23–1.25 s, into 8 per core 1.23–1.31 s;
/// 16 MiB into 4 per core 1.26–1.36 s; 4 MiB 1.30–1.35 s; 2 MiB 1.45–1.46 s.
const COUNT_BLOCK_BYTES: u64 = 8 << 20;

/// The first block of a file whose jobs are counted: once the stream knows the file is JSON
/// Lines, the rest is read by pieces (see [`count_jobs`]).
const HEAD_BYTES: u64 = 256 << 10;

/// Bytes of JSON Lines each thread reads and counts at a time, while they are in its cache.
/// Measured on the 10M dump (2 cores, three interleaved runs each): 64 KiB 1.23–1.26 s,
/// 128 KiB 1.20–1.22 s, 256 KiB 1.19–1.21 s, 512 KiB 1.17–1.21 s, 1 MiB 1.15–1.20 s, 2 MiB
/// 1.19–1.23 s, 4 MiB 1.18–1.24 s.
const PIECE_BYTES: u64 = 512 << 10;

/// Bytes read past a piece's end at a time, for the rest of its last line.
const OVERHANG_BYTES: u64 = 4 << 10;

/// Chunks a block is cut into per core when counting anonymous jobs: threads take them in
/// turn, so one slowed down (this thread also reads) holds the others up for a small chunk
/// at most.
const CHUNKS_PER_THREAD: usize = 16;

/// Where the jobs, the organization and the default caller come from.
#[derive(Args, Debug)]
pub(crate) struct DataArgs {
    /// Region of callers whose request names none, and of job records that name none
    #[arg(long, value_name = "REGION", default_value = "us-east-1", value_parser = parse_region)]
    pub(crate) region: Region,
    /// Pin the clock to this RFC 3339 instant (default: the system clock)
    #[arg(long, value_name = "RFC3339", value_parser = clock::parse_now)]
    pub(crate) now: Option<UnixMillis>,
    /// Backup jobs: `aws backup list-backup-jobs` output or JSON Lines of its records
    #[arg(long = "backup-jobs", value_name = "FILE")]
    pub(crate) backup_jobs: Vec<PathBuf>,
    /// Copy jobs: `aws backup list-copy-jobs` output or JSON Lines of its records
    #[arg(long = "copy-jobs", value_name = "FILE")]
    pub(crate) copy_jobs: Vec<PathBuf>,
    /// Restore jobs: `aws backup list-restore-jobs` output or JSON Lines of its records
    #[arg(long = "restore-jobs", value_name = "FILE")]
    pub(crate) restore_jobs: Vec<PathBuf>,
    /// Scan jobs: `aws backup list-scan-jobs` output or JSON Lines of its records
    #[arg(long = "scan-jobs", value_name = "FILE")]
    pub(crate) scan_jobs: Vec<PathBuf>,
    /// The organization: {"ManagementAccountId": ID, "DelegatedAdministrators": [ID...], "Accounts": [ID...]}
    #[arg(long, value_name = "FILE")]
    pub(crate) organization: Option<PathBuf>,
    /// Account of callers whose access key id is not a 12-digit account id (and the demo
    /// data set's management account)
    #[arg(long, value_name = "ID", default_value = "123456789012", value_parser = parse_account)]
    pub(crate) default_account: AccountId,
    /// Count the jobs of the files given here as anonymous: each record once, whatever its
    /// job id (no memory per job; for a dump that holds each job once, such as one
    /// `list-backup-jobs` run). By default a record with a job id replaces an earlier one with
    /// the same id
    #[arg(long)]
    pub(crate) ignore_job_ids: bool,
}

/// The jobs and the organization, loaded.
#[derive(Debug)]
pub(crate) struct Dataset {
    /// The service holding every job table.
    pub(crate) service: Service,
    /// The organization every caller is placed in, if any.
    pub(crate) organization: Option<Organization>,
    /// Jobs loaded, over all operations.
    pub(crate) jobs: usize,
}

impl DataArgs {
    /// Every job file given, with the operation whose table it fills.
    fn job_files(&self) -> impl Iterator<Item = (Operation, &Path)> {
        [
            (Operation::Backup, &self.backup_jobs),
            (Operation::Copy, &self.copy_jobs),
            (Operation::Restore, &self.restore_jobs),
            (Operation::Scan, &self.scan_jobs),
        ]
        .into_iter()
        .flat_map(|(op, files)| files.iter().map(move |f| (op, f.as_path())))
    }

    /// Loads the job files into `service` (or the demo data set when there are none and
    /// `demo` allows it) and the organization.
    ///
    /// `only` is the one query a one-shot command will answer, its operation and (unless it
    /// continues from a NextToken, whose pinned clock may be a day earlier) its creation
    /// window: with `--ignore-job-ids`, jobs that query cannot count are parsed and checked
    /// but not kept. Job ids tracked, every job is kept: a later record with the same id may
    /// move a job into the window or out of it.
    ///
    /// `now` dates the demo data set. Each file is reported on stderr as
    /// `loaded FILE: N jobs in S.SSs`.
    pub(crate) fn load(
        &self,
        now: UnixMillis,
        mut service: Service,
        demo: bool,
        only: Option<(Operation, Option<CreationWindow>)>,
    ) -> Result<Dataset, Failure> {
        let organization = self
            .organization
            .as_deref()
            .map(read_organization)
            .transpose()?;
        let mut jobs = 0;
        let mut any_file = false;
        for (op, path) in self.job_files() {
            any_file = true;
            let started = Instant::now();
            let ids = if self.ignore_job_ids {
                Ids::Ignored(only.map(|(query_op, window)| Keep {
                    any: query_op == op,
                    window,
                }))
            } else {
                Ids::Tracked
            };
            let table = service.table_mut(op);
            let before = table.len();
            let n = load_job_file(table, path, &self.region, ids)?;
            let kept = match ids {
                Ids::Ignored(Some(_)) => {
                    format!(
                        " ({} kept for the query)",
                        table.len().saturating_sub(before)
                    )
                }
                _ => String::new(),
            };
            eprintln!(
                "loaded {}: {n} jobs{kept} in {:.2}s",
                path.display(),
                started.elapsed().as_secs_f64()
            );
            jobs += n;
        }
        if any_file || !demo {
            return Ok(Dataset {
                service,
                organization,
                jobs,
            });
        }
        let started = Instant::now();
        let demo = demo::load(&mut service, self.default_account, now);
        let members: Vec<String> = demo
            .organization
            .accounts()
            .to_sorted_vec()
            .iter()
            .map(ToString::to_string)
            .collect();
        eprintln!(
            "no job files given: loaded the built-in demo data set: {} jobs in {:.2}s \
             (management account {}, member accounts {})",
            demo.jobs,
            started.elapsed().as_secs_f64(),
            demo.organization.management(),
            members.join(", "),
        );
        Ok(Dataset {
            service,
            organization: organization.or(Some(demo.organization)),
            jobs: demo.jobs,
        })
    }
}

impl Dataset {
    /// The caller `account` in `region`, placed in the organization (if it belongs to it).
    /// The organization is shared with the caller, not copied (O(1) whatever its size).
    pub(crate) fn caller(&self, account: AccountId, region: Region) -> Caller {
        let caller = Caller::new(account, region);
        match &self.organization {
            Some(org) => caller.with_organization(org.clone()),
            None => caller,
        }
    }
}

/// `--region`.
fn parse_region(s: &str) -> Result<Region, String> {
    Region::parse(s).map_err(|e| e.to_string())
}

/// `--default-account`, `--caller`: a 12-digit account id.
pub(crate) fn parse_account(s: &str) -> Result<AccountId, String> {
    AccountId::parse(s).map_err(|e| e.to_string())
}

/// How a file's jobs are kept.
#[derive(Clone, Copy, Debug)]
enum Ids {
    /// Job ids tracked: staged in batches, applied in order (SPEC §10).
    Tracked,
    /// Anonymous jobs, counted by each worker into a table of its own, the tables merged at
    /// the end; only those in the window, if there is one.
    Ignored(Option<Keep>),
}

/// Which anonymous jobs a one-shot query needs.
#[derive(Clone, Copy, Debug)]
struct Keep {
    /// Whether the file is the query's operation's (else none of its jobs is kept).
    any: bool,
    /// The creation dates the query counts, if known.
    window: Option<CreationWindow>,
}

impl Keep {
    fn keeps(&self, created: UnixMillis) -> bool {
        self.any && self.window.is_none_or(|w| w.contains(created))
    }
}

/// Streams one job file into `table`: all or nothing. Returns the number of jobs parsed
/// (with a window, more than the table gained).
fn load_job_file(
    table: &mut JobTable,
    path: &Path,
    region: &Region,
    ids: Ids,
) -> Result<usize, Failure> {
    let saved = (!table.is_empty()).then(|| table.clone());
    let op = table.operation();
    let file = File::open(path).map_err(|e| Failure::error(format!("{}: {e}", path.display())))?;
    let len = file.metadata().map_or(0, |m| m.len());
    let bar = progress_bar(path, len);
    let loaded = match ids {
        Ids::Tracked => stream_jobs(table, file, len, region, JobIds::Tracked, &bar),
        Ids::Ignored(keep) => count_jobs(table, file, region, keep, &bar),
    };
    bar.finish_and_clear();
    loaded.map_err(|e| {
        *table = saved.unwrap_or_else(|| JobTable::new(op));
        let message = match e {
            Loading::Read(e) => format!("{}: {e}", path.display()),
            Loading::Record(e) => format!("{}: {e}", path.display()),
            Loading::Table(e) => format!("{}: {}", path.display(), e.error()),
            Loading::Panicked => format!("{}: a parsing thread panicked (a bug)", path.display()),
        };
        Failure::error(message)
    })
}

/// Why a job file could not be loaded.
enum Loading {
    Read(io::Error),
    Record(IngestError),
    /// The table refused a block of the file (more distinct values than it holds).
    Table(BatchError),
    /// A parsing thread panicked (a bug: parsing never panics).
    Panicked,
}

/// Reads `file` block by block, parses each block's chunks on all cores, each into a
/// [`Batch`] of its own (checked and interned, no record built per job), and applies each
/// block's batches to `table` in order. While the workers parse a block, this thread reads
/// the next one and applies the last.
///
/// With job ids tracked, the identity index is sized once for the whole file (`len` bytes at
/// the first block's bytes per job) instead of growing step by step: each step of its growth
/// moves every entry of a shard, about six moves per job in all for a file of new jobs.
fn stream_jobs(
    table: &mut JobTable,
    mut file: File,
    len: u64,
    region: &Region,
    ids: JobIds,
    bar: &ProgressBar,
) -> Result<usize, Loading> {
    let threads = thread::available_parallelism().map_or(1, NonZero::get);
    let op = table.operation();
    let mut stream = JobStream::new(op, Some(region));
    let mut buf = Vec::new();
    let mut at_eof = read_block(&mut file, &mut buf, BLOCK_BYTES).map_err(Loading::Read)?;
    let mut next = Vec::new();
    let mut pending: Vec<Batch> = Vec::new();
    let mut first = true;
    loop {
        let cut = stream.cut(&buf, at_eof, threads).map_err(Loading::Record)?;
        let consumed = cut.consumed();
        let chunks = cut.into_chunks();
        // The next buffer: what this cut left, then the next block.
        next.clear();
        next.extend_from_slice(buf.get(consumed..).unwrap_or_default());
        let due = std::mem::take(&mut pending);
        let (parsed, next_eof, applied) = thread::scope(|scope| {
            #[expect(
                clippy::needless_collect,
                reason = "every worker must start before this thread reads and applies"
            )]
            let handles: Vec<_> = chunks
                .iter()
                .map(|c| scope.spawn(move || stage_chunk(c, op, ids)))
                .collect();
            let next_eof = if at_eof {
                Ok(true)
            } else {
                read_block(&mut file, &mut next, BLOCK_BYTES)
            };
            // Each chunk's batch in order: no pass to concatenate them first.
            let applied: Result<(), BatchError> = due
                .into_iter()
                .try_for_each(|batch| table.apply(batch).map(drop));
            let parsed: Vec<_> = handles
                .into_iter()
                .zip(&chunks)
                // A worker that panicked (it cannot: parsing never panics) parses again here.
                .map(|(handle, chunk)| {
                    handle
                        .join()
                        .unwrap_or_else(|_| stage_chunk(chunk, op, ids))
                })
                .collect();
            (parsed, next_eof, applied)
        });
        applied.map_err(Loading::Table)?;
        if first && matches!(ids, JobIds::Tracked) && consumed > 0 {
            first = false;
            let staged: usize = parsed.iter().map(|(batch, _)| batch.len()).sum();
            table.reserve_identified(reservation(expected_jobs(len, staged, consumed)));
        }
        for (batch, done) in parsed {
            stream.merge(done).map_err(Loading::Record)?;
            pending.push(batch);
        }
        bar.inc(consumed as u64);
        let finished = at_eof && (consumed == 0 || next.is_empty());
        std::mem::swap(&mut buf, &mut next);
        at_eof = next_eof.map_err(Loading::Read)?;
        if finished {
            break;
        }
    }
    for batch in pending {
        table.apply(batch).map_err(Loading::Table)?;
    }
    stream.finish().map_err(Loading::Record)
}

/// Counts the jobs of `file` as anonymous (those `keep` keeps, or all) into tallies, one per
/// thread, added to `table` once the whole file parsed (so a broken file changes nothing).
/// No batch per chunk, no applying.
///
/// The file is read block by block through the stream's cut until the stream knows its
/// layout (blocks of [`HEAD_BYTES`] until then). JSON Lines in a regular file then go by
/// pieces ([`Pieces`]): each thread reads its own and parses it while it is in the cache;
/// what the file grew by meanwhile is read after them, the same way. A whole document (whose
/// cut must scan it in order) or a pipe goes on block by block: each block of
/// [`COUNT_BLOCK_BYTES`] is cut into [`CHUNKS_PER_THREAD`] chunks per core; worker threads take
/// chunks in turn, and this thread, once it has read the next block, takes chunks too: no core
/// waits at the end of a block for another that also had the reading to do.
fn count_jobs(
    table: &mut JobTable,
    mut file: File,
    region: &Region,
    keep: Option<Keep>,
    bar: &ProgressBar,
) -> Result<usize, Loading> {
    let threads = thread::available_parallelism().map_or(1, NonZero::get);
    let op = table.operation();
    let mut stream = JobStream::new(op, Some(region));
    // One tally per thread (this one included).
    let mut tallies: Vec<Tally> = (0..threads).map(|_| Tally::new(op)).collect();
    let by_pieces = PIECES && file.metadata().is_ok_and(|m| m.is_file());
    // Small blocks until the stream has made its first chunk (the layout is known then).
    let mut block = if by_pieces {
        HEAD_BYTES
    } else {
        COUNT_BLOCK_BYTES
    };
    let mut buf = Vec::new();
    let mut at_eof = read_block(&mut file, &mut buf, block).map_err(Loading::Read)?;
    let mut next = Vec::new();
    // The file offset of `buf`'s first byte.
    let mut offset = 0u64;
    loop {
        let cut = stream
            .cut(&buf, at_eof, threads * CHUNKS_PER_THREAD)
            .map_err(Loading::Record)?;
        let consumed = cut.consumed();
        // JSON Lines, known from this cut on, and more of the file than this buffer: the
        // rest goes by pieces (from where a line starts: the cut ends at one).
        let rest = offset + consumed as u64;
        let pieces_next = by_pieces
            && !at_eof
            && stream.lines_chunk(&[]).is_some()
            && file.metadata().map_err(Loading::Read)?.len() > rest;
        let chunks = cut.into_chunks();
        if !chunks.is_empty() {
            block = COUNT_BLOCK_BYTES;
        }
        next.clear();
        next.extend_from_slice(buf.get(consumed..).unwrap_or_default());
        let taken = AtomicUsize::new(0);
        // Chunks taken in turn, each one's outcome with its index.
        let work = |tally: &mut Tally| {
            let mut done = Vec::new();
            loop {
                let i = taken.fetch_add(1, Ordering::Relaxed);
                let Some(chunk) = chunks.get(i) else {
                    return done;
                };
                done.push((i, count_chunk(chunk, tally, keep)));
            }
        };
        let (parsed, next_eof) = thread::scope(|scope| {
            let work = &work;
            let (mine, workers) = tallies.split_first_mut().ok_or(Loading::Panicked)?;
            // Collected: every worker must start before this thread reads.
            let handles: Vec<_> = workers
                .iter_mut()
                .map(|t| scope.spawn(move || work(t)))
                .collect();
            let next_eof = if at_eof || pieces_next {
                Ok(at_eof)
            } else {
                read_block(&mut file, &mut next, block)
            };
            let mut parsed = work(mine);
            // A worker that panicked (it cannot: parsing never panics) leaves its tally in
            // an unknown state: the load stops with an error, nothing is added.
            // Every worker is joined first (the scope would panic on an unjoined one).
            let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
            for outcome in joined {
                parsed.extend(outcome.map_err(|_| Loading::Panicked)?);
            }
            Ok((parsed, next_eof))
        })?;
        let mut parsed = parsed;
        parsed.sort_unstable_by_key(|&(i, _)| i);
        debug_assert!(
            parsed.iter().enumerate().all(|(n, &(i, _))| n == i) && parsed.len() == chunks.len(),
            "every chunk parsed once"
        );
        for (_, done) in parsed {
            stream.merge(done).map_err(Loading::Record)?;
        }
        bar.inc(consumed as u64);
        offset += consumed as u64;
        if pieces_next {
            let len = file.metadata().map_err(Loading::Read)?.len();
            let pieces = Pieces::new(&file, offset, len, PIECE_BYTES, MAX_RECORD_BYTES);
            for outcome in pieces.count(&stream, &mut tallies, keep, bar) {
                let (done, end) = outcome?;
                stream.merge(done).map_err(Loading::Record)?;
                offset = end;
            }
            // On from where the last piece's lines ended: nothing, unless the file grew.
            file.seek(SeekFrom::Start(offset)).map_err(Loading::Read)?;
            buf.clear();
            at_eof = read_block(&mut file, &mut buf, block).map_err(Loading::Read)?;
            continue;
        }
        let finished = at_eof && (consumed == 0 || next.is_empty());
        std::mem::swap(&mut buf, &mut next);
        at_eof = next_eof.map_err(Loading::Read)?;
        if finished {
            break;
        }
    }
    let jobs = stream.finish().map_err(Loading::Record)?;
    // The tallies merged into one first (flat tables: cheaper than a table's cells), which
    // is then added to the table day by day.
    let (all, others) = tallies.split_first_mut().ok_or(Loading::Panicked)?;
    for tally in others.iter() {
        all.merge(tally).map_err(Loading::Table)?;
    }
    table.add_tally(all).map_err(Loading::Table)?;
    Ok(jobs)
}

/// Whether this platform reads a file at an offset (`pread`), which pieces need.
const PIECES: bool = cfg!(any(unix, windows));

/// The rest of a JSON Lines file, from `from` (where a line starts) to `len`, in pieces of
/// `piece` bytes. A line belongs to the piece its first byte is in.
struct Pieces<'f> {
    file: &'f File,
    from: u64,
    len: u64,
    piece: u64,
    /// The longest line the parse accepts: a piece's last line is read no further than this
    /// (and a bit), its parse then says it is too long.
    limit: usize,
}

/// A piece's bytes as read: `bytes[..filled]` (the vector only grows, so that a piece read
/// into it is not first zeroed).
#[derive(Default)]
struct PieceBuf {
    bytes: Vec<u8>,
    filled: usize,
}

/// What a thread made of one piece: its outcome and the file offset where its lines end.
type PieceDone = Result<(ChunkDone, u64), Loading>;

impl<'f> Pieces<'f> {
    fn new(file: &'f File, from: u64, len: u64, piece: u64, limit: usize) -> Self {
        Self {
            file,
            from,
            len,
            piece: piece.max(1),
            limit,
        }
    }

    /// Counts the lines of every piece: each thread takes the next piece, reads it (and past
    /// its end, the rest of its last line), and counts its lines into its own tally while they
    /// are in its cache. Once a piece failed (a bad record, or a read error) no new piece is
    /// taken. The outcomes, in file order, up to the last piece taken: merged in that order,
    /// the first failure in the file is the one reported, as in a serial parse.
    fn count(
        &self,
        stream: &JobStream,
        tallies: &mut [Tally],
        keep: Option<Keep>,
        bar: &ProgressBar,
    ) -> Vec<PieceDone> {
        let count = self.len.saturating_sub(self.from).div_ceil(self.piece);
        let next = AtomicU64::new(0);
        let failed = AtomicBool::new(false);
        let work = |tally: &mut Tally| {
            let mut buf = PieceBuf::default();
            let mut done: Vec<(u64, PieceDone)> = Vec::new();
            while !failed.load(Ordering::Relaxed) {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= count {
                    break;
                }
                let outcome = self.count_piece(k, stream, tally, keep, &mut buf);
                if outcome.as_ref().map_or(true, |(d, _)| d.failed()) {
                    failed.store(true, Ordering::Relaxed);
                }
                let (start, end) = self.span(k);
                bar.inc(end - start);
                done.push((k, outcome));
            }
            done
        };
        let mut all = thread::scope(|scope| {
            let work = &work;
            let Some((mine, workers)) = tallies.split_first_mut() else {
                return Vec::new();
            };
            let handles: Vec<_> = workers
                .iter_mut()
                .map(|t| scope.spawn(move || work(t)))
                .collect();
            let mut all = work(mine);
            // A worker that panicked (it cannot: parsing never panics) leaves its tally in an
            // unknown state: its outcome is an error before any piece's. Every worker is
            // joined first (the scope would panic on an unjoined one).
            for handle in handles {
                match handle.join() {
                    Ok(done) => all.extend(done),
                    Err(_) => all.insert(0, (0, Err(Loading::Panicked))),
                }
            }
            all
        });
        // Stable: a panicked worker's error stays before piece 0's own outcome.
        all.sort_by_key(|&(k, _)| k);
        // Pieces are taken in order, and each one taken has an outcome: no gaps, so the
        // pieces before a failed one were all counted.
        debug_assert!(
            all.iter()
                .filter(|(_, d)| !matches!(d, Err(Loading::Panicked)))
                .zip(0..)
                .all(|(&(k, _), n)| k == n),
            "every piece up to the last taken counted once"
        );
        all.into_iter().map(|(_, done)| done).collect()
    }

    /// Where piece `k` starts and ends in the file.
    fn span(&self, k: u64) -> (u64, u64) {
        let start = self.from.saturating_add(k.saturating_mul(self.piece));
        (start, start.saturating_add(self.piece).min(self.len))
    }

    /// Reads piece `k` and counts the lines that start in it into `tally`.
    fn count_piece(
        &self,
        k: u64,
        stream: &JobStream,
        tally: &mut Tally,
        keep: Option<Keep>,
        buf: &mut PieceBuf,
    ) -> PieceDone {
        let (lines, at) = self.read(k, buf).map_err(Loading::Read)?;
        let end = at + lines.end as u64;
        let bytes = buf.bytes.get(..buf.filled).and_then(|b| b.get(lines));
        let Some(chunk) = stream.lines_chunk(bytes.unwrap_or_default()) else {
            // The caller made pieces of a stream that reads JSON Lines only.
            debug_assert!(false, "pieces of a stream that is not JSON Lines");
            return Err(Loading::Panicked);
        };
        Ok((count_chunk(&chunk, tally, keep), end))
    }

    /// Reads piece `k` into `buf`: where in `buf` the lines that start in the piece are, and
    /// the file offset of `buf`'s first byte. The lines run from the first line start in the
    /// piece to just after the line feed that ends the last of them, or to the end of the
    /// file; or, if the last one is longer than the limit, to a byte beyond the limit (its
    /// parse then stops with "too long" there).
    fn read(&self, k: u64, buf: &mut PieceBuf) -> io::Result<(Range<usize>, u64)> {
        let (start, end) = self.span(k);
        // From the byte before the piece, which says whether a line starts at `start`.
        let at = if k == 0 {
            start
        } else {
            start.saturating_sub(1)
        };
        buf.filled = 0;
        buf.read_at(self.file, at, end.saturating_sub(at) + OVERHANG_BYTES)?;
        let read = buf.bytes.get(..buf.filled).unwrap_or_default();
        let begin = if k == 0 {
            0
        } else {
            read.iter()
                .position(|&b| b == b'\n')
                .map_or(read.len(), |i| i + 1)
        };
        // The piece's end in `buf` (sooner if the file shrank meanwhile).
        let owned =
            usize::try_from(end.saturating_sub(at)).map_or(buf.filled, |n| n.min(buf.filled));
        if begin >= owned {
            return Ok((begin..begin, at));
        }
        // Where the piece's last line starts; it ends at the first line feed from there.
        let last = read
            .get(begin..owned - 1)
            .and_then(|r| r.iter().rposition(|&b| b == b'\n'))
            .map_or(begin, |i| begin + i + 1);
        let mut from = owned - 1;
        loop {
            let read = buf.bytes.get(..buf.filled).unwrap_or_default();
            if let Some(i) = read
                .get(from..)
                .and_then(|r| r.iter().position(|&b| b == b'\n'))
            {
                return Ok((begin..from + i + 1, at));
            }
            from = buf.filled;
            if buf.filled - last > self.limit {
                return Ok((begin..buf.filled, at));
            }
            // Twice as much each time: a long line takes a few reads, not one per 4 KiB.
            let more = (buf.filled - last).max(OVERHANG_BYTES as usize);
            if buf.read_at(self.file, at + buf.filled as u64, more as u64)? == 0 {
                return Ok((begin..buf.filled, at));
            }
        }
    }
}

impl PieceBuf {
    /// Appends up to `n` bytes of `file` from offset `at`; fewer only at the end of the file.
    /// Returns how many.
    fn read_at(&mut self, file: &File, at: u64, n: u64) -> io::Result<usize> {
        let n = usize::try_from(n).map_err(|_| io::Error::other("a read larger than memory"))?;
        let want = self.filled + n;
        if self.bytes.len() < want {
            self.bytes.resize(want, 0);
        }
        let mut got = 0;
        while got < n {
            let Some(into) = self.bytes.get_mut(self.filled + got..want) else {
                break;
            };
            match read_at(file, into, at + got as u64) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.filled += got;
        Ok(got)
    }
}

/// One `pread`: bytes of `file` at offset `at`, without moving its cursor (on Unix).
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

/// One read at offset `at` (`seek_read`; the cursor, which pieces do not use, moves).
#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, at)
}

/// Never called: [`PIECES`] is false where there is no positioned read.
#[cfg(not(any(unix, windows)))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no positioned read",
    ))
}

/// Parses one chunk, counting its jobs into `tally`.
fn count_chunk(chunk: &JobChunk<'_>, tally: &mut Tally, keep: Option<Keep>) -> ChunkDone {
    match keep {
        Some(keep) => chunk.count_into(tally, |created| keep.keeps(created)),
        None => chunk.count_into(tally, |_| true),
    }
}

/// How many jobs a file of `len` bytes holds if all of it is like its first `consumed`
/// bytes, which held `staged` jobs. A file that is one block or less needs no estimate. A
/// file holding many versions of the same jobs is overestimated, by at most one identity slot
/// (under 32 bytes) per record, a small part of the record itself.
fn expected_jobs(len: u64, staged: usize, consumed: usize) -> usize {
    let (Ok(staged), Ok(consumed)) = (u64::try_from(staged), u64::try_from(consumed)) else {
        return 0;
    };
    if consumed == 0 || len <= consumed {
        return 0;
    }
    let rest = (len - consumed).saturating_mul(staged) / consumed;
    usize::try_from(rest.saturating_add(staged)).unwrap_or(usize::MAX)
}

/// What to ask [`JobTable::reserve_identified`] for, to hold `jobs` jobs: it sizes the index
/// for its argument at 80 % fill plus an eighth, so five sixths of `jobs` leaves the index
/// 85 % full once they are in (below its 92 % growth mark, and about 28 bytes per job).
fn reservation(jobs: usize) -> usize {
    jobs / 6 * 5
}

/// Appends up to `block` bytes of `file` to `buf`; whether the file ended.
fn read_block(file: &mut File, buf: &mut Vec<u8>, block: u64) -> io::Result<bool> {
    let read = file.take(block).read_to_end(buf)?;
    Ok((read as u64) < block)
}

/// Parses one chunk into a batch of its own.
fn stage_chunk(chunk: &JobChunk<'_>, op: Operation, ids: JobIds) -> (Batch, ChunkDone) {
    let mut batch = Batch::new(op);
    let done = chunk.stage_into(&mut batch, ids);
    (batch, done)
}

/// A progress bar on stderr for large files (when stderr is a terminal), else a hidden one.
fn progress_bar(path: &Path, len: u64) -> ProgressBar {
    if len >= PROGRESS_BYTES && io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(format!("reading {}", path.display()));
        bar
    } else {
        ProgressBar::hidden()
    }
}

/// Reads a whole file, with a progress bar on stderr for large files.
fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let fail = |e: io::Error| Failure::error(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    let bar = progress_bar(path, len);
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    let read = bar.wrap_read(file).read_to_end(&mut bytes);
    bar.finish_and_clear();
    read.map_err(fail)?;
    Ok(bytes)
}

/// Reads and validates an organization file.
fn read_organization(path: &Path) -> Result<Organization, Failure> {
    let bytes = read_file(path)?;
    parse_organization(&bytes).map_err(|e| Failure::error(format!("{}: {e}", path.display())))
}

/// Parses `{"ManagementAccountId": ID, "DelegatedAdministrators": [ID...], "Accounts": [ID...]}`.
/// The lists may be absent; any other member is rejected (it is most likely a typo), and so is
/// a member given twice (JSON parsers disagree on which one wins), as job files do.
fn parse_organization(bytes: &[u8]) -> Result<Organization, String> {
    let OrganizationFile(members) = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            e.to_string()
        } else {
            format!("not valid JSON: {e}")
        }
    })?;
    if let Some(unknown) = members.keys().find(|k| {
        !["ManagementAccountId", "DelegatedAdministrators", "Accounts"].contains(&k.as_str())
    }) {
        return Err(format!(
            "unknown member {unknown:?}: expected ManagementAccountId, DelegatedAdministrators or Accounts"
        ));
    }
    let management = match members.get("ManagementAccountId") {
        Some(v) => account_in(v, "ManagementAccountId")?,
        None => return Err("missing ManagementAccountId".into()),
    };
    let list = |field: &str| -> Result<Vec<AccountId>, String> {
        match members.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| account_in(v, &format!("{field}[{i}]")))
                .collect(),
            Some(_) => Err(format!("{field}: expected a list of 12-digit account ids")),
        }
    };
    Ok(Organization::new(management)
        .with_delegated_administrators(list("DelegatedAdministrators")?)
        .with_accounts(list("Accounts")?))
}

/// The organization file's top-level object, each member at most once.
struct OrganizationFile(Map<String, Value>);

impl<'de> Deserialize<'de> for OrganizationFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OrganizationVisitor)
    }
}

/// Reads a JSON object, rejecting a repeated member by name.
struct OrganizationVisitor;

impl<'de> Visitor<'de> for OrganizationVisitor {
    type Value = OrganizationFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with ManagementAccountId, DelegatedAdministrators and Accounts")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                let shown: String = key.chars().take(64).collect();
                return Err(de::Error::custom(format_args!(
                    "duplicate member {shown:?}: each member may appear once"
                )));
            }
            let value: Value = map.next_value()?;
            members.insert(key, value);
        }
        Ok(OrganizationFile(members))
    }
}

/// One account id of the organization file; `field` names it in errors.
fn account_in(value: &Value, field: &str) -> Result<AccountId, String> {
    if let Some(id) = value.as_str().and_then(|s| AccountId::parse(s).ok()) {
        return Ok(id);
    }
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    let shown: String = text.chars().take(64).collect();
    Err(format!(
        "{field}: invalid account id {shown}: expected a string of 12 digits"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_expected_to_hold_jobs_as_its_first_block_does() {
        // 1,000 jobs in the first 100 kB of a 1 MB file: 10,000 in all.
        assert_eq!(expected_jobs(1_000_000, 1_000, 100_000), 10_000);
        // A file read whole in its first block needs no estimate, nor does an empty block.
        assert_eq!(expected_jobs(100_000, 1_000, 100_000), 0);
        assert_eq!(expected_jobs(1_000_000, 0, 0), 0);
        // No overflow on absurd sizes.
        assert_eq!(expected_jobs(u64::MAX, usize::MAX, 1), usize::MAX);
        // The index reserved for five sixths of the jobs: 85 % full once they are all in.
        assert_eq!(reservation(6_000), 5_000);
        let mut table = JobTable::new(Operation::Backup);
        table.reserve_identified(reservation(6_000));
        assert_eq!(table.identified_len(), 0);
    }

    /// Pieces of every size cover the file after `from` exactly once, each from a line
    /// start to just after a line feed (or the end of the file): lines short and long (many
    /// times a piece and the overhang), blank, CRLF, with and without a last line feed. With
    /// a stale length (the file grew after it was taken), the pieces cover a prefix of whole
    /// lines up to it at least. A line over the limit ends its piece's lines past the limit.
    #[test]
    fn pieces_own_every_line_once() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("sbs-pieces-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut below = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for case in 0..24 {
            let mut text = Vec::new();
            for _ in 0..below(40) {
                let len = match below(12) {
                    0 => 0,
                    1 => 3 * OVERHANG_BYTES + below(OVERHANG_BYTES),
                    2 => OVERHANG_BYTES + below(OVERHANG_BYTES),
                    _ => below(90),
                };
                text.extend((0..len).map(|i| b'a' + (i % 26) as u8));
                text.extend_from_slice(if below(4) == 0 { b"\r\n" } else { b"\n" });
            }
            if case % 2 == 1 {
                text.extend_from_slice(b"no line feed at the end");
            }
            let path = dir.join(format!("case{case}"));
            std::fs::write(&path, &text)?;
            let file = File::open(&path)?;
            let len = text.len() as u64;
            // From the start, or from a later line start.
            let later = text.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1) as u64;
            for (from, seen, limit) in [
                (0, len, MAX_RECORD_BYTES),
                (later, len, MAX_RECORD_BYTES),
                (0, len * 2 / 3, MAX_RECORD_BYTES),
                // Between the long lines' lengths, above the overhang.
                (later, len, 2 * OVERHANG_BYTES as usize + 100),
                (0, len, 150),
            ] {
                for piece in [1, 2, 3, 7, 64, 1000, OVERHANG_BYTES + 1, 1 << 14, 1 << 20] {
                    // Byte-sized pieces of a long file: slow, and no more telling.
                    if piece < 7 && len > 20_000 {
                        continue;
                    }
                    let what = format!(
                        "case {case}, from {from}, length {seen}, limit {limit}, piece {piece}"
                    );
                    let pieces = Pieces::new(&file, from, seen, piece, limit);
                    let mut buf = PieceBuf::default();
                    let mut covered = Vec::new();
                    let count = seen.saturating_sub(from).div_ceil(piece);
                    let spans: u64 = (0..count).map(|k| pieces.span(k)).map(|(s, e)| e - s).sum();
                    assert_eq!(spans, seen - from, "{what}: the pieces cover the length");
                    for k in 0..count {
                        let (lines, at) = pieces.read(k, &mut buf)?;
                        let owned = buf
                            .bytes
                            .get(..buf.filled)
                            .and_then(|b| b.get(lines.clone()));
                        let owned = owned.ok_or("a range outside the buffer")?;
                        assert!(
                            owned.is_empty()
                                || at + lines.start as u64 == from + covered.len() as u64,
                            "{what}, k {k}: a gap or an overlap"
                        );
                        covered.extend_from_slice(owned);
                        let at_end = from as usize + covered.len() == text.len();
                        if !(owned.is_empty() || owned.ends_with(b"\n") || at_end) {
                            // Cut inside its last line: only one over the limit.
                            let last = owned.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                            assert!(
                                owned.len() - last > limit,
                                "{what}, k {k}: cut inside a line"
                            );
                            break;
                        }
                    }
                    let prefix = text.get(from as usize..from as usize + covered.len());
                    assert!(prefix == Some(&covered[..]), "{what}: not the file's bytes");
                    let over_limit = text
                        .get(from as usize..)
                        .unwrap_or_default()
                        .split(|&b| b == b'\n')
                        .any(|line| line.len() > limit);
                    if !over_limit {
                        assert!(covered.len() as u64 >= seen - from, "{what}: short");
                        let at_end = from as usize + covered.len() == text.len();
                        assert!(
                            at_end || covered.ends_with(b"\n"),
                            "{what}: ends inside a line"
                        );
                        if seen == len {
                            assert_eq!(from as usize + covered.len(), text.len(), "{what}");
                        }
                    }
                }
            }
        }
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    fn ids(set: &backup_summaries::AccountSet) -> Vec<String> {
        set.to_sorted_vec()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn organization_file_parses() -> Result<(), String> {
        let org = parse_organization(
            br#"{"ManagementAccountId": "123456789012", "DelegatedAdministrators": ["111111111111"], "Accounts": ["222222222222", "000000000001"]}"#,
        )?;
        assert_eq!(org.management().to_string(), "123456789012");
        assert_eq!(ids(org.delegated_administrators()), ["111111111111"]);
        assert_eq!(ids(org.accounts()), ["000000000001", "222222222222"]);
        let bare = parse_organization(br#"{"ManagementAccountId": "123456789012"}"#)?;
        assert!(bare.accounts().is_empty());
        Ok(())
    }

    #[test]
    fn organization_errors_name_the_field() -> Result<(), String> {
        let cases: [(&[u8], &str); 10] = [
            (b"[]", "expected a JSON object"),
            (b"{", "not valid JSON"),
            (br#"{"Accounts": []}"#, "missing ManagementAccountId"),
            (
                br#"{"ManagementAccountId": "12345"}"#,
                "ManagementAccountId: invalid account id 12345",
            ),
            (
                br#"{"ManagementAccountId": 123456789012}"#,
                "ManagementAccountId: invalid account id 123456789012",
            ),
            (
                br#"{"ManagementAccountId": "123456789012", "Accounts": ["123456789012", "x"]}"#,
                "Accounts[1]: invalid account id x",
            ),
            (
                br#"{"ManagementAccountId": "123456789012", "Account": []}"#,
                "unknown member \"Account\"",
            ),
            (
                br#"{"ManagementAccountId": "123456789012", "Accounts": [], "Accounts": ["210987654321"]}"#,
                "duplicate member \"Accounts\"",
            ),
            (
                br#"{"ManagementAccountId": "123456789012", "ManagementAccountId": "210987654321"}"#,
                "duplicate member \"ManagementAccountId\"",
            ),
            // Spelled differently, the same member: JSON escapes are decoded first.
            (
                br#"{"ManagementAccountId": "123456789012", "Management\u0041ccountId": "210987654321"}"#,
                "duplicate member \"ManagementAccountId\"",
            ),
        ];
        for (input, expected) in cases {
            let Err(e) = parse_organization(input) else {
                return Err(format!("accepted {}", String::from_utf8_lossy(input)));
            };
            assert!(e.contains(expected), "{e:?} lacks {expected:?}");
        }
        Ok(())
    }
}
