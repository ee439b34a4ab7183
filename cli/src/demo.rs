//! The built-in demo data set, served (and queried) when no job file is given.
//!
//! It is made with the workspace's synthetic generator ([`backup_summaries_synth`]) and is
//! deterministic for a given UTC day:
//!
//! - all four kinds: 6,000 backup, 3,000 copy, 1,500 restore and 2,500 scan jobs, each kind
//!   from its own fixed seed (`synth::Config::DEFAULT_SEED` + 0, 1, 2, 3);
//! - CreationDate uniform over the 14 days ending with the last millisecond of the current
//!   UTC day (of `--now` when given, else of the system clock), so every job falls in the
//!   ONE_DAY and FOURTEEN_DAYS windows and the demo always has rows, whatever the date;
//! - five accounts, weighted as the generator weights its accounts (most frequent first):
//!   the default account (`--default-account`, 123456789012 unless given) is the most
//!   frequent and the organization's management account; 210987654321, 345678901234,
//!   456789012345 and 567890123456 are its member accounts;
//! - the generator's four regions (us-east-1 45 %, us-west-2 25 %, eu-west-1 20 %,
//!   ap-southeast-2 10 %), so a caller's region changes what it sees.

use backup_summaries::wire::Service;
use backup_summaries::{AccountId, JobRecord, Operation, Organization, UnixMillis};
use backup_summaries_synth::{Config, Generator};

use crate::clock;

/// Jobs per kind, in [`Operation::ALL`] order: backup, copy, restore, scan.
const JOBS: [(Operation, usize); 4] = [
    (Operation::Backup, 6_000),
    (Operation::Copy, 3_000),
    (Operation::Restore, 1_500),
    (Operation::Scan, 2_500),
];

/// The member accounts, after the management (default) account.
const MEMBERS: [u64; 4] = [
    210_987_654_321,
    345_678_901_234,
    456_789_012_345,
    567_890_123_456,
];

/// Days of CreationDate before the end of the current day.
const SPAN_DAYS: u32 = 14;

/// What [`load`] put in the service.
#[derive(Debug)]
pub(crate) struct Demo {
    /// Jobs loaded, over the four kinds.
    pub(crate) jobs: usize,
    /// The demo organization: the management account and its members.
    pub(crate) organization: Organization,
}

/// Fills `service` with the demo jobs of the UTC day holding `now`, with `management` as the
/// organization's management account.
pub(crate) fn load(service: &mut Service, management: AccountId, now: UnixMillis) -> Demo {
    let members: Vec<AccountId> = MEMBERS.iter().filter_map(|&n| AccountId::new(n)).collect();
    let accounts: Vec<AccountId> = std::iter::once(management)
        .chain(members.iter().copied())
        .collect();
    let mut jobs = 0;
    for (seed_offset, (op, count)) in (0u64..).zip(JOBS) {
        let mut config = Config::new(op);
        config.seed = Config::DEFAULT_SEED + seed_offset;
        config.now = clock::end_of_day(now);
        config.accounts = accounts.len();
        config.span_days = SPAN_DAYS;
        // The generator's names are valid for the core (synth's unit tests); a kind whose
        // generator could not be built is left empty, like a rejected record below, rather
        // than stopping the server over demo data.
        let Ok(generator) = Generator::try_new(config) else {
            continue;
        };
        // The generator draws its own account ids; map them, by rank, onto the demo's.
        let ranks: Vec<AccountId> = generator.accounts().to_vec();
        let account_of = |id: AccountId| {
            ranks
                .iter()
                .position(|&a| a == id)
                .and_then(|rank| accounts.get(rank))
                .copied()
                .unwrap_or(management)
        };
        let table = service.table_mut(op);
        for job in generator.take(count) {
            let record = with_account(&job.to_record(), account_of(job.account_id()));
            // Generated records are valid for their operation; a rejected one is skipped
            // rather than stopping the server over demo data.
            if table.push(&record).is_ok() {
                jobs += 1;
            }
        }
    }
    Demo {
        jobs,
        organization: Organization::new(management).with_accounts(members),
    }
}

/// `record` with its account replaced.
fn with_account(record: &JobRecord, account: AccountId) -> JobRecord {
    JobRecord::new(
        account,
        record.region().clone(),
        record.state(),
        record.resource_type().clone(),
        record.creation_date(),
    )
    .with_message_category(record.message_category().cloned())
    .with_malware_scanner(record.malware_scanner())
    .with_scan_result_status(record.scan_result_status())
}
