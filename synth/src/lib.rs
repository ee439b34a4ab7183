//! # backup-summaries-synth
//!
//! Deterministic synthetic jobs, for tests, examples and benchmarks of
//! [`backup_summaries`]: the benches, the `table_memory` example and the CLI's `generate`
//! and demo data use it. It is a workspace crate of its own (not published) so that the
//! core's public API stays the engine; it uses only that public API.
//!
//! A [`Generator`] turns a [`Config`] (operation, seed, `now`, number of accounts, region
//! option, span) into an endless stream of [`SyntheticJob`]s with the distributions of
//! `bench/gen_jobs.py`: 40 accounts weighted `1/rank^1.1`, four skewed regions, each
//! operation's states with fixed weights (mostly `COMPLETED`), 15 weighted resource types, a
//! MessageCategory correlated with the state (backup and copy), `GUARDDUTY` and a scan result
//! (scan), and CreationDate uniform at millisecond resolution over the days before `now`.
//! The exact random stream is not Python's; the distributions are.
//!
//! A job converts to a validated [`JobRecord`] ([`SyntheticJob::to_record`]) or to one JSON
//! object in the AWS list-API wire shape of its operation ([`SyntheticJob::write_json`]).
//!
//! ```
//! use backup_summaries::{JobTable, Operation};
//! use backup_summaries_synth::{Config, Generator};
//! let mut table = JobTable::new(Operation::Backup);
//! for job in Generator::try_new(Config::new(Operation::Backup))?.take(1000) {
//!     table.push(&job.to_record())?;
//! }
//! let mut json = String::new();
//! Generator::try_new(Config::new(Operation::Scan))?.next_job().write_json(Operation::Scan, &mut json);
//! assert!(json.starts_with(r#"{"ScanJobId":""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Invariants
//!
//! - **Deterministic**: the same [`Config`] always gives the same jobs in the same order.
//!   Nothing here does I/O or reads a clock, the environment or OS randomness. Every job
//!   consumes the same number of random draws, so [`Config::one_region`] changes the region
//!   of every job and nothing else.
//! - **Not cryptographic**: the generator is xoshiro256** seeded through splitmix64; it is
//!   fast and statistically sound for simulation, and must never be used for secrets.
//! - **Valid for its operation**: every state is one of [`Operation::states`]; a
//!   MessageCategory is present exactly for backup and copy jobs; a MalwareScanner exactly
//!   for scan jobs; a ScanResultStatus exactly for `COMPLETED` and `COMPLETED_WITH_ISSUES`
//!   scan jobs.
//! - **Dates**: CreationDate is in `[now - span_days, now)`; CompletionDate is absent for
//!   non-terminal states and otherwise at least 30 seconds after CreationDate (it may be
//!   later than `now`, as in `gen_jobs.py`).
//! - **Infallible after construction**: [`Generator::next_job`], [`SyntheticJob::to_record`]
//!   and [`SyntheticJob::write_json`] cannot fail. Every static name is parsed once, with the
//!   core's public `parse`, when the generator is built ([`Generator::try_new`]), and records
//!   clone pre-parsed values.
//! - **Region in the ARNs**: the wire JSON carries no `Region` member; the region is the 4th
//!   colon-separated part of the vault and recovery-point ARNs.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use backup_summaries::{
    AccountId, JobRecord, MalwareScanner, MessageCategory, Operation, RecordError, Region,
    ResourceType, ScanResultStatus, State, UnixMillis,
};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

// ---------------------------------------------------------------------------------------
// Static tables (weights as in bench/gen_jobs.py)
// ---------------------------------------------------------------------------------------

/// Regions and their weights.
const REGIONS: [(&str, f64); 4] = [
    ("us-east-1", 0.45),
    ("us-west-2", 0.25),
    ("eu-west-1", 0.20),
    ("ap-southeast-2", 0.10),
];

/// A resource type: its name and weight, and how its ARN is spelled.
struct ResourceSpec {
    name: &'static str,
    weight: f64,
    /// ARN service, e.g. `ec2`.
    service: &'static str,
    /// ARN resource prefix, e.g. `volume/vol-` (empty for S3, whose ARN is global).
    prefix: &'static str,
    /// Lower-case name used in S3 bucket names.
    slug: &'static str,
}

const fn rt(
    name: &'static str,
    weight: f64,
    service: &'static str,
    prefix: &'static str,
    slug: &'static str,
) -> ResourceSpec {
    ResourceSpec {
        name,
        weight,
        service,
        prefix,
        slug,
    }
}

/// Resource types and their weights.
#[rustfmt::skip]
const RESOURCE_TYPES: [ResourceSpec; 15] = [
    rt("EBS", 0.22, "ec2", "volume/vol-", "ebs"),
    rt("EC2", 0.18, "ec2", "instance/i-", "ec2"),
    rt("RDS", 0.12, "rds", "db:db-", "rds"),
    rt("S3", 0.10, "s3", "", "s3"),
    rt("DynamoDB", 0.08, "dynamodb", "table/t-", "dynamodb"),
    rt("EFS", 0.07, "elasticfilesystem", "file-system/fs-", "efs"),
    rt("Aurora", 0.06, "rds", "cluster:cl-", "aurora"),
    rt("FSx", 0.04, "fsx", "file-system/fs-", "fsx"),
    rt("Storage Gateway", 0.03, "storagegateway", "gateway/sgw-", "storage-gateway"),
    rt("DocumentDB", 0.02, "rds", "cluster:docdb-", "documentdb"),
    rt("Neptune", 0.02, "rds", "cluster:neptune-", "neptune"),
    rt("Redshift", 0.02, "redshift", "cluster:rs-", "redshift"),
    rt("CloudFormation", 0.015, "cloudformation", "stack/st-", "cloudformation"),
    rt("VirtualMachine", 0.015, "backup-gateway", "vm/vm-", "virtualmachine"),
    rt("Timestream", 0.01, "timestream", "database/db-", "timestream"),
];

/// The category of jobs without issues; index 0 of the category catalog.
const SUCCESS: &str = "SUCCESS";

/// Error categories and their weights, given that a job is not `SUCCESS`; indices 1.. of the
/// category catalog.
const ERROR_CATEGORIES: [(&str, f64); 11] = [
    ("ACCESS_DENIED", 0.22),
    ("INVALIDPARAMETERS", 0.16),
    ("RESOURCE_NOT_FOUND", 0.12),
    ("INVALID_STATE", 0.10),
    ("THROTTLING", 0.09),
    ("LIMIT_EXCEEDED", 0.07),
    ("SERVICE_UNAVAILABLE", 0.06),
    ("INTERNAL_FAILURE", 0.06),
    ("TIMEOUT", 0.05),
    ("KMS_KEY_DISABLED", 0.04),
    ("CONFLICT", 0.03),
];

/// Number of categories: `SUCCESS` and the error categories.
const CATEGORIES: usize = 1 + ERROR_CATEGORIES.len();

/// A state of one operation: its weight, the chance of `SUCCESS` given the state, and whether
/// it is terminal (has a CompletionDate).
#[derive(Clone, Copy, Debug)]
struct StateSpec {
    state: State,
    weight: f64,
    p_success: f64,
    terminal: bool,
}

const fn st(state: State, weight: f64, p_success: f64, terminal: bool) -> StateSpec {
    StateSpec {
        state,
        weight,
        p_success,
        terminal,
    }
}

/// Backup states: `STATES`, `P_SUCCESS` and `NON_TERMINAL` of gen_jobs.py.
const BACKUP_STATES: [StateSpec; 9] = [
    st(State::Completed, 0.805, 0.985, true),
    st(State::Failed, 0.06, 0.0, true),
    st(State::Expired, 0.03, 0.10, true),
    st(State::Aborted, 0.03, 0.05, true),
    st(State::Partial, 0.02, 0.30, true),
    st(State::Running, 0.02, 0.995, false),
    st(State::Created, 0.015, 1.0, false),
    st(State::Pending, 0.015, 1.0, false),
    st(State::Aborting, 0.005, 0.5, false),
];

/// Copy states: the backup weights, with EXPIRED's share on FAILED and PENDING's on
/// COMPLETING, FAILING taking a little of RUNNING's.
const COPY_STATES: [StateSpec; 9] = [
    st(State::Completed, 0.805, 0.985, true),
    st(State::Failed, 0.07, 0.0, true),
    st(State::Aborted, 0.03, 0.05, true),
    st(State::Partial, 0.02, 0.30, true),
    st(State::Running, 0.03, 0.995, false),
    st(State::Created, 0.015, 1.0, false),
    st(State::Completing, 0.015, 0.995, false),
    st(State::Failing, 0.01, 0.0, false),
    st(State::Aborting, 0.005, 0.5, false),
];

/// Restore states (no MessageCategory, so `p_success` is unused).
const RESTORE_STATES: [StateSpec; 6] = [
    st(State::Completed, 0.85, 1.0, true),
    st(State::Failed, 0.07, 1.0, true),
    st(State::Aborted, 0.03, 1.0, true),
    st(State::Running, 0.025, 1.0, false),
    st(State::Pending, 0.015, 1.0, false),
    st(State::Created, 0.01, 1.0, false),
];

/// Scan states (no MessageCategory, so `p_success` is unused).
const SCAN_STATES: [StateSpec; 6] = [
    st(State::Completed, 0.85, 1.0, true),
    st(State::CompletedWithIssues, 0.04, 1.0, true),
    st(State::Failed, 0.05, 1.0, true),
    st(State::Canceled, 0.02, 1.0, true),
    st(State::Running, 0.025, 1.0, false),
    st(State::Created, 0.015, 1.0, false),
];

/// Used only if a weighted pick ever fell outside its table (it cannot): `COMPLETED` is a
/// state of every operation.
const FALLBACK_STATE: StateSpec = st(State::Completed, 0.0, 1.0, true);

/// Chance that a completed scan finds no threats.
const P_NO_THREATS: f64 = 0.95;

/// Zipf exponent of the account weights.
const ZIPF_S: f64 = 1.1;

/// Account ids are below this (12 digits).
const ACCOUNT_MODULUS: u64 = 1_000_000_000_000;

/// Used only if an account pick ever fell outside the account list (it cannot). A constant,
/// so a bad value would fail compilation, not a run.
const FALLBACK_ACCOUNT: AccountId = match AccountId::new(0) {
    Some(a) => a,
    None => panic!("account 0 is a valid account id"),
};

/// Mean of the exponential part of a job's duration, and its fixed minimum, in ms.
const MEAN_DURATION_MS: f64 = 20.0 * 60.0 * 1000.0;
const MIN_DURATION_MS: i64 = 30_000;

/// A salt for the account stream, so account ids do not depend on the job stream.
const ACCOUNT_SALT: u64 = 0x6163_636f_756e_7473; // "accounts"

/// Whether `s` is a name the JSON writer need not escape and that keeps ARNs splittable:
/// printable ASCII, no `"`, `\` or `:`. (Whether the core accepts it is `parse`'s
/// business, checked when a generator is built.)
const fn is_plain_name(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c >= b' ' && c <= b'~') || c == b'"' || c == b'\\' || c == b':' {
            return false;
        }
        i += 1;
    }
    true
}

// Compile-time proof that every static name is plain. A failure here is a build error, never
// a panic.
const _: () = {
    let mut i = 0;
    while i < REGIONS.len() {
        assert!(is_plain_name(REGIONS[i].0));
        i += 1;
    }
    let mut i = 0;
    while i < RESOURCE_TYPES.len() {
        assert!(is_plain_name(RESOURCE_TYPES[i].name));
        i += 1;
    }
    let mut i = 0;
    while i < ERROR_CATEGORIES.len() {
        assert!(is_plain_name(ERROR_CATEGORIES[i].0));
        i += 1;
    }
    assert!(is_plain_name(SUCCESS));
};

// ---------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------

/// splitmix64 (Steele, Lea, Flood 2014): seeds xoshiro and draws account ids. Not
/// cryptographic.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }
}

/// The splitmix64 finalizer: a bijective 64-bit mix.
const fn mix64(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** 1.0 (Blackman, Vigna 2018). Fast, good statistical quality; not
/// cryptographic.
#[derive(Clone, Debug)]
struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// Seeds the state with four splitmix64 outputs. They are distinct (splitmix64 is a
    /// bijection of its counter), so the state is never all zero.
    fn seeded(seed: u64) -> Self {
        let mut sm = SplitMix64(seed);
        Self {
            s: [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, n)` (multiply-shift; bias below `n / 2^64`). 0 when `n` is 0.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Weighted choice by one uniform draw over normalized cumulative weights, like the
/// `Picker` of gen_jobs.py (`bisect_right`), sped up by a guide table: `guide[k]` is the
/// first index whose cumulative weight is above `k / guide.len()`, so a pick starts next to
/// its answer and usually needs one or two comparisons. The result is exactly
/// `bisect_right`'s.
#[derive(Clone, Debug)]
struct Cumulative {
    cum: Box<[f64]>,
    guide: Box<[u32]>,
}

impl Cumulative {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let weights: Vec<f64> = weights.into_iter().collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut cum: Box<[f64]> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        if let Some(last) = cum.last_mut() {
            *last = 1.0;
        }
        let buckets = (4 * cum.len()).clamp(64, 1 << 16);
        let guide = (0..buckets)
            .map(|k| {
                let at = k as f64 / buckets as f64;
                u32::try_from(cum.partition_point(|&c| c <= at)).unwrap_or(u32::MAX)
            })
            .collect();
        Self { cum, guide }
    }

    /// The index of the first cumulative weight above `u` (`u` in `[0, 1)`), so always
    /// below the table length; 0 for an empty table.
    fn pick(&self, u: f64) -> usize {
        let k = (u * self.guide.len() as f64) as usize;
        let mut i = self.guide.get(k).map_or(0, |&g| g as usize);
        // Rounding in `u * len` can overshoot a bucket: step back if needed.
        while i > 0 && self.cum.get(i - 1).is_some_and(|&c| c > u) {
            i -= 1;
        }
        while self.cum.get(i).is_some_and(|&c| c <= u) {
            i += 1;
        }
        i.min(self.cum.len().saturating_sub(1))
    }
}

// ---------------------------------------------------------------------------------------
// Pre-parsed values
// ---------------------------------------------------------------------------------------

/// Every value a record needs, parsed once per generator and shared by its jobs.
///
/// Each table has exactly as many values as its static table has names (it is parsed from
/// them one to one, or repeats the one region that many times), so the lookups below, which
/// reduce the index modulo the static length, stay in bounds.
#[derive(Debug, Eq, PartialEq)]
struct Catalog {
    /// The four regions, in [`REGIONS`] order, or four copies of the one region.
    regions: Box<[Region]>,
    /// In [`RESOURCE_TYPES`] order.
    resource_types: Box<[ResourceType]>,
    /// `SUCCESS`, then [`ERROR_CATEGORIES`] in order.
    categories: Box<[MessageCategory]>,
}

impl Catalog {
    /// The tables as values, each name checked by the core's `parse`.
    ///
    /// # Errors
    /// The first name `parse` rejects. None does today (the unit test `catalog_parses`), but
    /// the rules are the core's, so a stricter core is reported here, not by a panic.
    fn try_new(one_region: Option<&Region>) -> Result<Self, RecordError> {
        let regions = match one_region {
            Some(r) => vec![r.clone(); REGIONS.len()].into_boxed_slice(),
            None => REGIONS
                .iter()
                .map(|(name, _)| name.parse())
                .collect::<Result<_, _>>()?,
        };
        let resource_types = RESOURCE_TYPES
            .iter()
            .map(|r| r.name.parse())
            .collect::<Result<_, _>>()?;
        let categories = std::iter::once(SUCCESS)
            .chain(ERROR_CATEGORIES.iter().map(|(name, _)| *name))
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            regions,
            resource_types,
            categories,
        })
    }

    /// The region of index `i` (reduced modulo the table size, so never out of bounds).
    fn region(&self, i: u8) -> &Region {
        &self.regions[usize::from(i) % REGIONS.len()]
    }

    fn resource_type(&self, i: u8) -> &ResourceType {
        &self.resource_types[usize::from(i) % RESOURCE_TYPES.len()]
    }

    fn category(&self, i: u8) -> &MessageCategory {
        &self.categories[usize::from(i) % CATEGORIES]
    }
}

// ---------------------------------------------------------------------------------------
// Config and Generator
// ---------------------------------------------------------------------------------------

/// What to generate. Start from [`Config::new`] and set the public fields.
///
/// ```
/// use backup_summaries::Operation;
/// use backup_summaries_synth::Config;
/// let mut config = Config::new(Operation::Copy);
/// config.seed = 7;
/// config.one_region = Some("eu-west-1".parse()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Config {
    /// Which kind of job to generate.
    pub operation: Operation,
    /// The seed of the random stream; the same seed gives the same jobs.
    pub seed: u64,
    /// CreationDate is drawn from the `span_days` days before this instant (exclusive).
    pub now: UnixMillis,
    /// Number of distinct accounts (0 is taken as 1; at most [`Config::MAX_ACCOUNTS`]).
    pub accounts: usize,
    /// When set, every job is in this region instead of the four skewed ones; all other
    /// fields stay as they would be without it. A region containing `:` makes the wire ARNs
    /// ambiguous.
    pub one_region: Option<Region>,
    /// Length of the CreationDate window, in days (0 is taken as 1).
    pub span_days: u32,
}

impl Config {
    /// The default seed, as in gen_jobs.py.
    pub const DEFAULT_SEED: u64 = 20_261_127;
    /// The default `now`: 2026-11-27T00:00:00Z.
    pub const DEFAULT_NOW: UnixMillis = UnixMillis::new(1_795_737_600_000);
    /// The default number of accounts.
    pub const DEFAULT_ACCOUNTS: usize = 40;
    /// The most accounts a generator makes (larger requests are capped).
    pub const MAX_ACCOUNTS: usize = 1_000_000;
    /// The default CreationDate window, in days.
    pub const DEFAULT_SPAN_DAYS: u32 = 30;

    /// The gen_jobs.py defaults for `operation`: seed 20261127, `now` 2026-11-27T00:00:00Z,
    /// 40 accounts, all four regions, 30 days.
    #[must_use]
    pub fn new(operation: Operation) -> Self {
        Self {
            operation,
            seed: Self::DEFAULT_SEED,
            now: Self::DEFAULT_NOW,
            accounts: Self::DEFAULT_ACCOUNTS,
            one_region: None,
            span_days: Self::DEFAULT_SPAN_DAYS,
        }
    }
}

/// A seeded, endless source of synthetic jobs of one operation (see the module docs).
///
/// It is also an [`Iterator`] that never ends: use `take(n)`.
#[derive(Clone, Debug)]
pub struct Generator {
    operation: Operation,
    rng: Xoshiro256,
    accounts: Box<[AccountId]>,
    pick_account: Cumulative,
    pick_region: Cumulative,
    states: &'static [StateSpec],
    pick_state: Cumulative,
    pick_resource: Cumulative,
    pick_error: Cumulative,
    start_ms: i64,
    width_ms: u64,
    catalog: Arc<Catalog>,
}

impl Generator {
    /// A generator for `config`.
    ///
    /// # Errors
    /// A [`RecordError`] if the core's `parse` rejects one of the generator's static names
    /// (regions, resource types, message categories). None is rejected by this version of
    /// the core (a unit test checks every name); the check is the core's, so a stricter core
    /// shows up here rather than as a panic.
    pub fn try_new(config: Config) -> Result<Self, RecordError> {
        let catalog = Arc::new(Catalog::try_new(config.one_region.as_ref())?);
        let accounts = make_accounts(config.seed, config.accounts.max(1));
        let pick_account =
            Cumulative::new((1..=accounts.len()).map(|rank| 1.0 / (rank as f64).powf(ZIPF_S)));
        let states: &'static [StateSpec] = match config.operation {
            Operation::Backup => &BACKUP_STATES,
            Operation::Copy => &COPY_STATES,
            Operation::Restore => &RESTORE_STATES,
            Operation::Scan => &SCAN_STATES,
            // An operation this crate has no table for yet (the core's `Operation` is
            // non-exhaustive): every job is `FALLBACK_STATE`, with no category.
            _ => &[],
        };
        let span_ms = i64::from(config.span_days.max(1)) * DAY_MS;
        let now = config.now.as_millis();
        let start_ms = now.saturating_sub(span_ms);
        Ok(Self {
            operation: config.operation,
            rng: Xoshiro256::seeded(config.seed),
            accounts,
            pick_account,
            pick_region: Cumulative::new(REGIONS.map(|(_, w)| w)),
            states,
            pick_state: Cumulative::new(states.iter().map(|s| s.weight)),
            pick_resource: Cumulative::new(RESOURCE_TYPES.map(|r| r.weight)),
            pick_error: Cumulative::new(ERROR_CATEGORIES.map(|(_, w)| w)),
            start_ms,
            width_ms: now.abs_diff(start_ms),
            catalog,
        })
    }

    /// The operation whose jobs this generator makes.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The account ids, most frequent first (weight `1/rank^1.1`). They depend only on the
    /// seed, and a longer list starts with a shorter one of the same seed.
    #[must_use]
    pub fn accounts(&self) -> &[AccountId] {
        &self.accounts
    }

    /// The next job. Does not allocate.
    pub fn next_job(&mut self) -> SyntheticJob {
        let rng = &mut self.rng;
        // A fixed number of draws per job, whatever the branches below.
        let id_bits = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        let u_account = rng.next_f64();
        let u_region = rng.next_f64();
        let u_state = rng.next_f64();
        let u_resource = rng.next_f64();
        let u_success = rng.next_f64();
        let u_error = rng.next_f64();
        let created_offset = rng.below(self.width_ms);
        let u_duration = rng.next_f64();
        let u_scan = rng.next_f64();

        let account = self
            .accounts
            .get(self.pick_account.pick(u_account))
            .copied()
            .unwrap_or(FALLBACK_ACCOUNT);
        let spec = self
            .states
            .get(self.pick_state.pick(u_state))
            .copied()
            .unwrap_or(FALLBACK_STATE);
        let category = match self.operation {
            Operation::Backup | Operation::Copy => Some(if u_success < spec.p_success {
                0
            } else {
                1 + small(self.pick_error.pick(u_error))
            }),
            _ => None,
        };
        let is_scan = self.operation == Operation::Scan;
        let scan_result_status = (is_scan
            && matches!(spec.state, State::Completed | State::CompletedWithIssues))
        .then_some(if u_scan < P_NO_THREATS {
            ScanResultStatus::NoThreatsFound
        } else {
            ScanResultStatus::ThreatsFound
        });

        // `created_offset < width_ms <= now - start_ms`, so this is below `now`.
        let created = self
            .start_ms
            .saturating_add(i64::try_from(created_offset).unwrap_or(i64::MAX));
        // `1 - u` is in (0, 1], so the logarithm is finite; the cast saturates.
        let duration = (-(1.0 - u_duration).ln() * MEAN_DURATION_MS) as i64 + MIN_DURATION_MS;
        let completion_date = spec
            .terminal
            .then(|| UnixMillis::new(created.saturating_add(duration)));

        SyntheticJob {
            id: uuid_like(id_bits),
            operation: self.operation,
            account_id: account,
            region: small(self.pick_region.pick(u_region)),
            state: spec.state,
            resource_type: small(self.pick_resource.pick(u_resource)),
            message_category: category,
            malware_scanner: is_scan.then_some(MalwareScanner::GuardDuty),
            scan_result_status,
            creation_date: UnixMillis::new(created),
            completion_date,
            catalog: Arc::clone(&self.catalog),
        }
    }
}

impl Iterator for Generator {
    type Item = SyntheticJob;

    fn next(&mut self) -> Option<SyntheticJob> {
        Some(self.next_job())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl std::iter::FusedIterator for Generator {}

/// An index into one of the small static tables (at most 15 entries) as a byte.
fn small(i: usize) -> u8 {
    u8::try_from(i).unwrap_or(u8::MAX)
}

/// `k` distinct 12-digit account ids from a stream of their own, in draw order.
fn make_accounts(seed: u64, k: usize) -> Box<[AccountId]> {
    // Capped so that a huge request neither exhausts memory nor runs for ever.
    let k = k.min(Config::MAX_ACCOUNTS);
    let mut stream = SplitMix64(seed ^ ACCOUNT_SALT);
    let mut seen = BTreeSet::new();
    let mut accounts = Vec::with_capacity(k);
    while accounts.len() < k {
        if let Some(a) = AccountId::new(stream.next_u64() % ACCOUNT_MODULUS) {
            if seen.insert(a) {
                accounts.push(a);
            }
        }
    }
    accounts.into_boxed_slice()
}

/// 128 bits as a version-4-layout UUID string, as `uuid_like` in gen_jobs.py: the 13th hex
/// digit is `4`, the 17th is `8 | (digit & 3)`.
fn uuid_like(bits: u128) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// Where the two hex digits of each of the 16 bytes go.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let bits = (bits & !(0xF << 76)) | (0x4 << 76);
    let bits = (bits & !(0x4 << 60)) | (0x8 << 60);
    let mut out = [b'-'; 36];
    for (byte, at) in bits.to_be_bytes().into_iter().zip(AT) {
        if let Some([hi, lo]) = out.get_mut(at..at + 2) {
            *hi = HEX[usize::from(byte >> 4)];
            *lo = HEX[usize::from(byte & 0xF)];
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// SyntheticJob
// ---------------------------------------------------------------------------------------

/// One generated job: compact, with enum-like values as small indices into tables shared
/// with its [`Generator`]. Convert it with [`SyntheticJob::to_record`] or
/// [`SyntheticJob::write_json`].
#[derive(Clone)]
pub struct SyntheticJob {
    /// ASCII, uuid-like.
    id: [u8; 36],
    operation: Operation,
    account_id: AccountId,
    /// Index into `catalog.regions`.
    region: u8,
    state: State,
    /// Index into [`RESOURCE_TYPES`] and `catalog.resource_types`.
    resource_type: u8,
    /// Index into `catalog.categories`.
    message_category: Option<u8>,
    malware_scanner: Option<MalwareScanner>,
    scan_result_status: Option<ScanResultStatus>,
    creation_date: UnixMillis,
    completion_date: Option<UnixMillis>,
    catalog: Arc<Catalog>,
}

impl SyntheticJob {
    /// The job id, uuid-like (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`).
    #[must_use]
    pub fn job_id(&self) -> &str {
        // Always ASCII hex digits and dashes.
        std::str::from_utf8(&self.id).unwrap_or_default()
    }

    /// The operation of the generator that made this job.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The job's account.
    #[must_use]
    pub fn account_id(&self) -> AccountId {
        self.account_id
    }

    /// The job's region.
    #[must_use]
    pub fn region(&self) -> &str {
        self.catalog.region(self.region).as_str()
    }

    /// The job's state, one of its operation's states.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// The protected resource's type, e.g. `EBS`.
    #[must_use]
    pub fn resource_type(&self) -> &'static str {
        self.resource_spec().name
    }

    /// The message category (backup and copy jobs), e.g. `SUCCESS`.
    #[must_use]
    pub fn message_category(&self) -> Option<&str> {
        self.message_category
            .map(|i| self.catalog.category(i).as_str())
    }

    /// The malware scanner (scan jobs).
    #[must_use]
    pub fn malware_scanner(&self) -> Option<MalwareScanner> {
        self.malware_scanner
    }

    /// The scan result (completed scan jobs).
    #[must_use]
    pub fn scan_result_status(&self) -> Option<ScanResultStatus> {
        self.scan_result_status
    }

    /// When the job was created.
    #[must_use]
    pub fn creation_date(&self) -> UnixMillis {
        self.creation_date
    }

    /// When the job ended; absent for non-terminal states.
    #[must_use]
    pub fn completion_date(&self) -> Option<UnixMillis> {
        self.completion_date
    }

    /// The job as a validated record. Clones a few pre-parsed names; cannot fail.
    #[must_use]
    pub fn to_record(&self) -> JobRecord {
        JobRecord::new(
            self.account_id,
            self.catalog.region(self.region).clone(),
            self.state,
            self.catalog.resource_type(self.resource_type).clone(),
            self.creation_date,
        )
        .with_message_category(
            self.message_category
                .map(|i| self.catalog.category(i).clone()),
        )
        .with_malware_scanner(self.malware_scanner)
        .with_scan_result_status(self.scan_result_status)
    }

    /// Appends the job to `out` as one JSON object (no trailing newline) in the list-API
    /// wire shape of `operation` (normally [`SyntheticJob::operation`]):
    ///
    /// - backup: `BackupJobId`, `AccountId`, `BackupVaultArn`, `RecoveryPointArn`,
    ///   `ResourceArn`, `CreationDate`, `CompletionDate`, `State`, `ResourceType`,
    ///   `MessageCategory`;
    /// - copy: `CopyJobId`, `AccountId`, `SourceBackupVaultArn`,
    ///   `DestinationBackupVaultArn`, `CreationDate`, `CompletionDate`, `State`,
    ///   `ResourceType`, `MessageCategory`;
    /// - restore: `RestoreJobId`, `AccountId`, `RecoveryPointArn`, `CreationDate`,
    ///   `CompletionDate`, `Status`, `ResourceType`;
    /// - scan: `ScanJobId`, `AccountId`, `BackupVaultArn`, `RecoveryPointArn`,
    ///   `CreationDate`, `CompletionDate`, `State`, `ResourceType`, `MalwareScanner`,
    ///   `ScanResult: {ScanResultStatus}`;
    /// - an operation added to the core later: `AccountId`, the dates, `State`,
    ///   `ResourceType`.
    ///
    /// Absent values are omitted. Dates are epoch seconds with three decimals, as JSON
    /// numbers (`1795000000.123`). There is no `Region` member: the region is the 4th
    /// colon-separated part of the vault and recovery-point ARNs.
    pub fn write_json(&self, operation: Operation, out: &mut String) {
        // Writing into a `String` never fails.
        let _ = self.write_json_to(operation, out);
    }

    fn write_json_to(&self, operation: Operation, out: &mut String) -> fmt::Result {
        let mut obj = JsonObject::open(out);
        match operation {
            Operation::Backup => {
                obj.string("BackupJobId", self.job_id());
                obj.account(self.account_id);
                self.vault_arn(&mut obj, "BackupVaultArn", "Default");
                self.recovery_point_arn(&mut obj);
                self.resource_arn(&mut obj)?;
                self.dates(&mut obj)?;
                obj.string("State", self.state.as_str());
                obj.string("ResourceType", self.resource_type());
                self.category(&mut obj);
            }
            Operation::Copy => {
                obj.string("CopyJobId", self.job_id());
                obj.account(self.account_id);
                self.vault_arn(&mut obj, "SourceBackupVaultArn", "Default");
                self.vault_arn(&mut obj, "DestinationBackupVaultArn", "copy-vault");
                self.dates(&mut obj)?;
                obj.string("State", self.state.as_str());
                obj.string("ResourceType", self.resource_type());
                self.category(&mut obj);
            }
            Operation::Restore => {
                obj.string("RestoreJobId", self.job_id());
                obj.account(self.account_id);
                self.recovery_point_arn(&mut obj);
                self.dates(&mut obj)?;
                obj.string("Status", self.state.as_str());
                obj.string("ResourceType", self.resource_type());
            }
            Operation::Scan => {
                obj.string("ScanJobId", self.job_id());
                obj.account(self.account_id);
                self.vault_arn(&mut obj, "BackupVaultArn", "Default");
                self.recovery_point_arn(&mut obj);
                self.dates(&mut obj)?;
                obj.string("State", self.state.as_str());
                obj.string("ResourceType", self.resource_type());
                if let Some(scanner) = self.malware_scanner {
                    obj.string("MalwareScanner", scanner.as_str());
                }
                if let Some(status) = self.scan_result_status {
                    obj.key("ScanResult");
                    let mut inner = JsonObject::open(obj.out);
                    inner.string("ScanResultStatus", status.as_str());
                    inner.close();
                }
            }
            // An operation this crate does not know the list-API shape of (the core's
            // `Operation` is non-exhaustive): the members every shape has.
            _ => {
                obj.account(self.account_id);
                self.dates(&mut obj)?;
                obj.string("State", self.state.as_str());
                obj.string("ResourceType", self.resource_type());
            }
        }
        obj.close();
        Ok(())
    }

    /// `"key":"arn:aws:backup:<region>:<account>:`, leaving the string open.
    fn open_backup_arn(&self, obj: &mut JsonObject<'_>, key: &str) {
        obj.key(key);
        obj.out.push_str("\"arn:aws:backup:");
        push_escaped(obj.out, self.region());
        obj.out.push(':');
        push_account(obj.out, self.account_id);
        obj.out.push(':');
    }

    fn vault_arn(&self, obj: &mut JsonObject<'_>, key: &str, vault: &str) {
        self.open_backup_arn(obj, key);
        obj.out.push_str("backup-vault:");
        push_escaped(obj.out, vault);
        obj.out.push('"');
    }

    fn recovery_point_arn(&self, obj: &mut JsonObject<'_>) {
        self.open_backup_arn(obj, "RecoveryPointArn");
        obj.out.push_str("recovery-point:");
        let id = uuid_like(self.derived_bits(2));
        obj.out
            .push_str(std::str::from_utf8(&id).unwrap_or_default());
        obj.out.push('"');
    }

    /// The protected resource's ARN, shaped like gen_jobs.py's (`arn:aws:s3:::<bucket>` for
    /// S3, which has no region).
    fn resource_arn(&self, obj: &mut JsonObject<'_>) -> fmt::Result {
        let spec = self.resource_spec();
        let rid = self.derived_bits(1) & ((1 << 68) - 1);
        obj.key("ResourceArn");
        let out = &mut *obj.out;
        write!(out, "\"arn:aws:{}:", spec.service)?;
        if spec.prefix.is_empty() {
            write!(out, "::{}-{:08x}\"", spec.slug, rid >> 36)
        } else {
            push_escaped(out, self.region());
            out.push(':');
            push_account(out, self.account_id);
            write!(out, ":{}{:017x}\"", spec.prefix, rid)
        }
    }

    fn dates(&self, obj: &mut JsonObject<'_>) -> fmt::Result {
        obj.key("CreationDate");
        write!(obj.out, "{}", Seconds(self.creation_date))?;
        if let Some(done) = self.completion_date {
            obj.key("CompletionDate");
            write!(obj.out, "{}", Seconds(done))?;
        }
        Ok(())
    }

    fn category(&self, obj: &mut JsonObject<'_>) {
        if let Some(c) = self.message_category() {
            obj.string("MessageCategory", c);
        }
    }

    fn resource_spec(&self) -> &'static ResourceSpec {
        &RESOURCE_TYPES[usize::from(self.resource_type) % RESOURCE_TYPES.len()]
    }

    /// 128 bits derived from the job id and `salt`, for ids that must differ from the job
    /// id but stay deterministic (resource and recovery-point ids).
    fn derived_bits(&self, salt: u64) -> u128 {
        let h = self.id.chunks(8).fold(salt, |h, chunk| {
            let word = chunk.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b));
            mix64(h ^ word)
        });
        (u128::from(mix64(h)) << 64) | u128::from(mix64(h ^ 0x9E37_79B9_7F4A_7C15))
    }
}

impl fmt::Debug for SyntheticJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyntheticJob")
            .field("job_id", &self.job_id())
            .field("operation", &self.operation)
            .field("account_id", &self.account_id)
            .field("region", &self.region())
            .field("state", &self.state)
            .field("resource_type", &self.resource_type())
            .field("message_category", &self.message_category())
            .field("malware_scanner", &self.malware_scanner)
            .field("scan_result_status", &self.scan_result_status)
            .field("creation_date", &self.creation_date)
            .field("completion_date", &self.completion_date)
            .finish()
    }
}

impl PartialEq for SyntheticJob {
    /// Jobs are equal when every field is, comparing the region by name.
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.operation == other.operation
            && self.account_id == other.account_id
            && self.region() == other.region()
            && self.state == other.state
            && self.resource_type == other.resource_type
            && self.message_category == other.message_category
            && self.malware_scanner == other.malware_scanner
            && self.scan_result_status == other.scan_result_status
            && self.creation_date == other.creation_date
            && self.completion_date == other.completion_date
    }
}

impl Eq for SyntheticJob {}

// ---------------------------------------------------------------------------------------
// A minimal JSON writer
// ---------------------------------------------------------------------------------------

/// Writes one JSON object member by member, straight into a `String`.
struct JsonObject<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> JsonObject<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    /// `"key":`, after a comma unless it is the first member.
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        // Keys are this module's plain ASCII literals: nothing to escape.
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        self.out.push('"');
        push_escaped(self.out, value);
        self.out.push('"');
    }

    /// `"AccountId":"<12 digits>"`.
    fn account(&mut self, account: AccountId) {
        self.key("AccountId");
        self.out.push('"');
        push_account(self.out, account);
        self.out.push('"');
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// Appends `s` as JSON string contents (without the quotes): as is when nothing needs
/// escaping (every static name, by the `const` check above), else escaped by `serde_json`.
fn push_escaped(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= b' ' && b != b'"' && b != b'\\') {
        out.push_str(s);
    } else if let Ok(quoted) = serde_json::to_string(s) {
        // Serializing a `str` never fails; the result is `"` + contents + `"`.
        let contents = quoted.get(1..quoted.len().saturating_sub(1));
        out.push_str(contents.unwrap_or_default());
    }
}

/// Appends the account's 12 digits, leading zeros included.
fn push_account(out: &mut String, account: AccountId) {
    let mut digits = [b'0'; 12];
    let mut n = account.as_u64();
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
}

/// An instant as epoch seconds with exactly three decimals, e.g. `1795000000.123`.
struct Seconds(UnixMillis);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let sign = if ms < 0 { "-" } else { "" };
        let abs = ms.unsigned_abs();
        write!(f, "{sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn generator(operation: Operation) -> Result<Generator, RecordError> {
        Generator::try_new(Config::new(operation))
    }

    #[test]
    fn catalog_parses() -> TestResult {
        let catalog = Catalog::try_new(None)?;
        for (value, (name, _)) in catalog.regions.iter().zip(REGIONS) {
            assert_eq!(*value, Region::parse(name)?);
        }
        for (value, spec) in catalog.resource_types.iter().zip(&RESOURCE_TYPES) {
            assert_eq!(*value, ResourceType::parse(spec.name)?);
        }
        assert_eq!(catalog.categories[0], MessageCategory::parse(SUCCESS)?);
        for (value, (name, _)) in catalog.categories[1..].iter().zip(ERROR_CATEGORIES) {
            // Equal to what parse gives: valid, and already upper case.
            assert_eq!(*value, MessageCategory::parse(name)?);
        }
        let one: Region = "eu-central-1".parse()?;
        let catalog = Catalog::try_new(Some(&one))?;
        assert_eq!(catalog.regions.len(), REGIONS.len());
        assert!(catalog.regions.iter().all(|r| *r == one));
        Ok(())
    }

    #[test]
    fn tables_are_consistent() -> TestResult {
        let close = |total: f64| (total - 1.0).abs() < 1e-9;
        assert!(close(REGIONS.iter().map(|r| r.1).sum()));
        assert!(close(RESOURCE_TYPES.iter().map(|r| r.weight).sum()));
        assert!(close(ERROR_CATEGORIES.iter().map(|r| r.1).sum()));
        for &op in Operation::ALL {
            let g = generator(op)?;
            assert!(close(g.states.iter().map(|s| s.weight).sum()), "{op}");
            // Each operation's table lists each of its states exactly once.
            assert_eq!(g.states.len(), op.states().len(), "{op}");
            for s in op.states() {
                assert_eq!(
                    g.states.iter().filter(|t| t.state == *s).count(),
                    1,
                    "{op} {s}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn same_seed_same_jobs_different_seed_different_jobs() -> TestResult {
        for &op in Operation::ALL {
            let a: Vec<_> = generator(op)?.take(1000).collect();
            let b: Vec<_> = generator(op)?.take(1000).collect();
            assert_eq!(a, b);
            let (mut ja, mut jb) = (String::new(), String::new());
            for (x, y) in a.iter().zip(&b) {
                x.write_json(op, &mut ja);
                y.write_json(op, &mut jb);
            }
            assert_eq!(ja, jb);
            let mut config = Config::new(op);
            config.seed += 1;
            let c: Vec<_> = Generator::try_new(config)?.take(1000).collect();
            assert_ne!(a, c);
            assert!(a.iter().zip(&c).all(|(x, y)| x.job_id() != y.job_id()));
        }
        Ok(())
    }

    #[test]
    fn accounts_are_distinct_twelve_digits_and_prefix_stable() -> TestResult {
        let g = generator(Operation::Backup)?;
        assert_eq!(g.accounts().len(), 40);
        let distinct: BTreeSet<_> = g.accounts().iter().collect();
        assert_eq!(distinct.len(), 40);
        assert!(g.accounts().iter().all(|a| a.to_string().len() == 12));
        let mut config = Config::new(Operation::Backup);
        config.accounts = 100;
        let more = Generator::try_new(config.clone())?;
        assert_eq!(&more.accounts()[..40], g.accounts());
        config.seed = 1;
        assert_ne!(
            Generator::try_new(config.clone())?.accounts()[0],
            g.accounts()[0]
        );
        config.accounts = 0;
        assert_eq!(Generator::try_new(config)?.accounts().len(), 1);
        Ok(())
    }

    #[test]
    fn backup_distributions_match_gen_jobs() -> TestResult {
        const N: usize = 200_000;
        let mut g = generator(Operation::Backup)?;
        let now = Config::DEFAULT_NOW.as_millis();
        let start = now - 30 * DAY_MS;
        let top = g.accounts()[0];
        let (mut completed, mut completed_success, mut top_count, mut ebs, mut us_east) =
            (0usize, 0usize, 0usize, 0usize, 0usize);
        for job in g.by_ref().take(N) {
            let at = job.creation_date().as_millis();
            assert!((start..now).contains(&at), "{job:?}");
            if job.state() == State::Completed {
                completed += 1;
                completed_success += usize::from(job.message_category() == Some("SUCCESS"));
            }
            top_count += usize::from(job.account_id() == top);
            ebs += usize::from(job.resource_type() == "EBS");
            us_east += usize::from(job.region() == "us-east-1");
        }
        let share = |k: usize, n: usize| k as f64 / n as f64;
        let zipf_total: f64 = (1..=40).map(|r| 1.0 / f64::from(r).powf(1.1)).sum();
        assert!((share(completed, N) - 0.805).abs() < 0.01);
        assert!((share(completed_success, completed) - 0.985).abs() < 0.01);
        assert!((share(top_count, N) - 1.0 / zipf_total).abs() < 0.01);
        assert!((share(ebs, N) - 0.22).abs() < 0.01);
        assert!((share(us_east, N) - 0.45).abs() < 0.01);
        Ok(())
    }

    #[test]
    fn every_kind_is_valid_for_its_operation() -> TestResult {
        for &op in Operation::ALL {
            let mut seen = BTreeSet::new();
            let mut no_threats = (0usize, 0usize);
            for job in generator(op)?.take(50_000) {
                assert!(op.has_state(job.state()), "{op}: {job:?}");
                assert_eq!(job.operation(), op);
                seen.insert(job.state());
                let terminal = job.completion_date().is_some();
                let non_terminal = matches!(
                    job.state(),
                    State::Created
                        | State::Pending
                        | State::Running
                        | State::Aborting
                        | State::Completing
                        | State::Failing
                );
                assert_eq!(terminal, !non_terminal, "{op}: {job:?}");
                if let Some(done) = job.completion_date() {
                    assert!(done.as_millis() >= job.creation_date().as_millis() + 30_000);
                }
                let has_category = matches!(op, Operation::Backup | Operation::Copy);
                assert_eq!(
                    job.message_category().is_some(),
                    has_category,
                    "{op}: {job:?}"
                );
                assert_eq!(job.malware_scanner().is_some(), op == Operation::Scan);
                let completed =
                    matches!(job.state(), State::Completed | State::CompletedWithIssues);
                assert_eq!(
                    job.scan_result_status().is_some(),
                    op == Operation::Scan && completed,
                    "{job:?}"
                );
                if let Some(status) = job.scan_result_status() {
                    no_threats.0 += usize::from(status == ScanResultStatus::NoThreatsFound);
                    no_threats.1 += 1;
                }
                let record = job.to_record();
                assert_eq!(record.account_id(), job.account_id());
                assert_eq!(record.region().as_str(), job.region());
                assert_eq!(record.state(), job.state());
                assert_eq!(record.resource_type().as_str(), job.resource_type());
                assert_eq!(record.creation_date(), job.creation_date());
                assert_eq!(
                    record.message_category().map(|c| c.as_str()),
                    job.message_category()
                );
                assert_eq!(record.malware_scanner(), job.malware_scanner());
                assert_eq!(record.scan_result_status(), job.scan_result_status());
            }
            // Every state of the operation occurs (all weights are positive).
            assert_eq!(seen.len(), op.states().len(), "{op}");
            if op == Operation::Scan {
                let p = no_threats.0 as f64 / no_threats.1 as f64;
                assert!((p - 0.95).abs() < 0.01, "{p}");
            }
        }
        Ok(())
    }

    #[test]
    fn records_enter_a_job_table() -> TestResult {
        for &op in Operation::ALL {
            let mut table = backup_summaries::JobTable::new(op);
            for job in generator(op)?.take(2000) {
                table.push(&job.to_record())?;
            }
        }
        Ok(())
    }

    #[test]
    fn one_region_changes_only_the_region() -> TestResult {
        let mut config = Config::new(Operation::Copy);
        let default: Vec<_> = Generator::try_new(config.clone())?.take(500).collect();
        config.one_region = "sa-east-1".parse().ok();
        let one: Vec<_> = Generator::try_new(config)?.take(500).collect();
        for (a, b) in default.iter().zip(&one) {
            assert_eq!(b.region(), "sa-east-1");
            assert_eq!(a.job_id(), b.job_id());
            assert_eq!(
                (
                    a.account_id(),
                    a.state(),
                    a.resource_type(),
                    a.message_category()
                ),
                (
                    b.account_id(),
                    b.state(),
                    b.resource_type(),
                    b.message_category()
                )
            );
            assert_eq!(
                (a.creation_date(), a.completion_date()),
                (b.creation_date(), b.completion_date())
            );
        }
        Ok(())
    }

    fn members(op: Operation) -> &'static [&'static str] {
        match op {
            Operation::Backup => &[
                "BackupJobId",
                "AccountId",
                "BackupVaultArn",
                "RecoveryPointArn",
                "ResourceArn",
                "CreationDate",
                "CompletionDate",
                "State",
                "ResourceType",
                "MessageCategory",
            ],
            Operation::Copy => &[
                "CopyJobId",
                "AccountId",
                "SourceBackupVaultArn",
                "DestinationBackupVaultArn",
                "CreationDate",
                "CompletionDate",
                "State",
                "ResourceType",
                "MessageCategory",
            ],
            Operation::Restore => &[
                "RestoreJobId",
                "AccountId",
                "RecoveryPointArn",
                "CreationDate",
                "CompletionDate",
                "Status",
                "ResourceType",
            ],
            Operation::Scan => &[
                "ScanJobId",
                "AccountId",
                "BackupVaultArn",
                "RecoveryPointArn",
                "CreationDate",
                "CompletionDate",
                "State",
                "ResourceType",
                "MalwareScanner",
                "ScanResult",
            ],
            _ => &[
                "AccountId",
                "CreationDate",
                "CompletionDate",
                "State",
                "ResourceType",
            ],
        }
    }

    #[test]
    fn json_has_the_wire_shape_of_each_operation() -> TestResult {
        use serde_json::Value;
        for &op in Operation::ALL {
            let mut line = String::new();
            for job in generator(op)?.take(3000) {
                line.clear();
                job.write_json(op, &mut line);
                let value: Value = serde_json::from_str(&line)?;
                let obj = value.as_object().ok_or("not an object")?;
                // Exactly the expected members, in order, absent ones omitted.
                let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                let expected: Vec<&str> = members(op)
                    .iter()
                    .copied()
                    .filter(|k| match *k {
                        "CompletionDate" => job.completion_date().is_some(),
                        "ScanResult" => job.scan_result_status().is_some(),
                        _ => true,
                    })
                    .collect();
                let mut sorted_expected = expected.clone();
                sorted_expected.sort_unstable();
                let mut sorted_keys = keys.clone();
                sorted_keys.sort_unstable();
                assert_eq!(sorted_keys, sorted_expected, "{line}");
                assert!(line.find(expected[0]) < line.find(expected[expected.len() - 1]));
                assert!(!obj.contains_key("Region"));

                assert_eq!(
                    obj.get(expected[0]).and_then(Value::as_str),
                    Some(job.job_id())
                );
                let account = job.account_id().to_string();
                assert_eq!(
                    obj.get("AccountId").and_then(Value::as_str),
                    Some(account.as_str())
                );
                let state_key = if op == Operation::Restore {
                    "Status"
                } else {
                    "State"
                };
                assert_eq!(
                    obj.get(state_key).and_then(Value::as_str),
                    Some(job.state().as_str())
                );
                assert_eq!(
                    obj.get("ResourceType").and_then(Value::as_str),
                    Some(job.resource_type())
                );
                assert_eq!(
                    obj.get("MessageCategory").and_then(Value::as_str),
                    job.message_category()
                );
                assert_eq!(
                    obj.get("MalwareScanner").and_then(Value::as_str),
                    job.malware_scanner().map(MalwareScanner::as_str)
                );
                assert_eq!(
                    obj.get("ScanResult")
                        .and_then(|r| r.get("ScanResultStatus"))
                        .and_then(Value::as_str),
                    job.scan_result_status().map(ScanResultStatus::as_str)
                );
                let secs = obj
                    .get("CreationDate")
                    .and_then(Value::as_f64)
                    .ok_or("no date")?;
                let ms = job.creation_date().as_millis() as f64;
                assert!((secs * 1000.0 - ms).abs() < 1.0, "{line}");

                // Every ARN names the job's region (4th part) and account (5th part).
                for (key, v) in obj {
                    if !key.ends_with("Arn") || key == "ResourceArn" {
                        continue;
                    }
                    let arn = v.as_str().ok_or("ARN not a string")?;
                    let parts: Vec<&str> = arn.split(':').collect();
                    assert_eq!(parts.get(3).copied(), Some(job.region()), "{arn}");
                    assert_eq!(parts.get(4).copied(), Some(account.as_str()), "{arn}");
                }
                let arn = obj.get("ResourceArn").and_then(Value::as_str);
                if let Some(arn) = arn {
                    if job.resource_type() != "S3" {
                        assert_eq!(arn.split(':').nth(3), Some(job.region()), "{arn}");
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn job_ids_are_uuid_like() -> TestResult {
        for job in generator(Operation::Backup)?.take(100) {
            let id = job.job_id();
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
            assert!(parts[2].starts_with('4'));
            assert!(parts[3].starts_with(['8', '9', 'a', 'b']));
        }
        Ok(())
    }

    #[test]
    fn guided_pick_is_bisect_right() {
        let zipf = Cumulative::new((1..=40).map(|r| 1.0 / f64::from(r).powf(ZIPF_S)));
        let states = Cumulative::new(BACKUP_STATES.map(|s| s.weight));
        let empty = Cumulative::new([]);
        let mut rng = Xoshiro256::seeded(1);
        let edges = zipf.cum.iter().chain(states.cum.iter()).flat_map(|&c| {
            [
                c,
                f64::from_bits(c.to_bits().saturating_sub(1)),
                f64::from_bits(c.to_bits() + 1),
            ]
        });
        let draws: Vec<f64> = (0..100_000).map(|_| rng.next_f64()).collect();
        for u in draws
            .into_iter()
            .chain(edges)
            .chain([0.0, 1.0 - f64::EPSILON / 2.0])
        {
            if !(0.0..1.0).contains(&u) {
                continue;
            }
            for table in [&zipf, &states] {
                let expected = table
                    .cum
                    .partition_point(|&c| c <= u)
                    .min(table.cum.len() - 1);
                assert_eq!(table.pick(u), expected, "{u}");
            }
            assert_eq!(empty.pick(u), 0);
        }
    }

    #[test]
    fn uuid_layout_matches_gen_jobs() {
        // uuid_like(0x0123456789abcdeffedcba9876543210) in gen_jobs.py.
        let id = uuid_like(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(&id[..], b"01234567-89ab-4def-bedc-ba9876543210");
        assert_eq!(&uuid_like(0)[..], b"00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn escaper_and_seconds() -> TestResult {
        for s in ["a\"b\\c\n\u{1}\u{8}é", "plain", ""] {
            let mut out = String::from("\"");
            push_escaped(&mut out, s);
            out.push('"');
            assert_eq!(serde_json::from_str::<String>(&out)?, s);
        }
        assert_eq!(
            Seconds(UnixMillis::new(1_795_000_000_123)).to_string(),
            "1795000000.123"
        );
        assert_eq!(Seconds(UnixMillis::new(5)).to_string(), "0.005");
        assert_eq!(Seconds(UnixMillis::new(-1)).to_string(), "-0.001");
        assert_eq!(
            Seconds(UnixMillis::new(i64::MIN)).to_string(),
            "-9223372036854775.808"
        );
        Ok(())
    }

    #[test]
    fn odd_configs_do_not_fail() -> TestResult {
        let mut config = Config::new(Operation::Restore);
        config.span_days = 0;
        config.now = UnixMillis::new(i64::MIN + 5);
        let mut g = Generator::try_new(config)?;
        for job in g.by_ref().take(100) {
            let _ = job.to_record();
        }
        let mut config = Config::new(Operation::Backup);
        config.one_region = Some("we\"ird".parse()?);
        let mut line = String::new();
        Generator::try_new(config)?
            .next_job()
            .write_json(Operation::Backup, &mut line);
        let value: serde_json::Value = serde_json::from_str(&line)?;
        let arn = value
            .get("BackupVaultArn")
            .and_then(serde_json::Value::as_str);
        assert_eq!(arn.and_then(|a| a.split(':').nth(3)), Some("we\"ird"));
        Ok(())
    }
}
