//! Shared proptest strategies and configuration, plus the naive reference ([`naive`]).
//!
//! Alphabets are small so that groups collide: four accounts (one with leading zeros), two
//! regions, three resource types (two differing only in case, which must stay apart), and
//! message categories in several spellings of two categories plus absent. Times are biased to
//! UTC-day edges, and so to every window edge, plus or minus one millisecond.

#![allow(
    dead_code,
    reason = "each proptest target uses a different part of this module"
)]

pub(crate) mod naive;

use proptest::prelude::*;
use proptest::sample::SizeRange;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

use backup_summaries::{
    AccountId, AggregationPeriod, Caller, DayGrid, Dimension, JobRecord, MalwareScanner,
    MessageCategory, Operation, Organization, Query, Region, ResourceType, ScanResultStatus,
    UnixMillis,
};

/// Milliseconds in one UTC day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// UTC day 2026-11-26 (days since the epoch); every generated `now` lies within two days of it.
pub(crate) const BASE_DAY: i64 = 20_783;

/// The accounts records and callers are drawn from.
pub(crate) const ACCOUNTS: [&str; 4] = [
    "000000000042",
    "111111111111",
    "222222222222",
    "999999999999",
];

/// An account no generated record has.
pub(crate) const STRANGER: &str = "555555555555";

/// The regions records and callers are drawn from.
pub(crate) const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// Resource types in records; `EBS` and `ebs` are different types (exact match).
pub(crate) const RESOURCE_TYPES: [&str; 3] = ["EBS", "ebs", "RDS"];

/// A resource type no generated record has.
pub(crate) const MISSING_RESOURCE_TYPE: &str = "EC2";

/// Message category spellings in records: two categories, several cases.
pub(crate) const CATEGORIES: [&str; 5] = [
    "SUCCESS",
    "Success",
    "success",
    "ACCESS_DENIED",
    "access_denied",
];

/// A category no generated record has.
pub(crate) const MISSING_CATEGORY: &str = "Aborted";

/// Instants at both ends of `i64` time and around zero.
pub(crate) const EDGE_INSTANTS: [i64; 7] =
    [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];

/// The proptest configuration of every target. Proptest's own default reads
/// `PROPTEST_CASES` (256 cases when unset) and the other `PROPTEST_*` variables; failures are
/// persisted next to the source in `regressions` files, which are committed.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

/// One generated question: operation, query, caller and `now`.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) op: Operation,
    pub(crate) query: Query,
    pub(crate) caller: Caller,
    pub(crate) now: UnixMillis,
}

/// The caller's place in an organization, as generated.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum RoleKind {
    Standalone,
    Member,
    Management,
    DelegatedAdministrator,
    OutsideOrganization,
}

impl RoleKind {
    pub(crate) const ALL: [Self; 5] = [
        Self::Standalone,
        Self::Member,
        Self::Management,
        Self::DelegatedAdministrator,
        Self::OutsideOrganization,
    ];

    /// Whether a caller in this role sees only its own jobs.
    pub(crate) fn sees_only_own(self) -> bool {
        matches!(
            self,
            Self::Standalone | Self::Member | Self::OutsideOrganization
        )
    }
}

/// `ACCOUNTS[i]` (or any other fixed 12-digit literal) as an [`AccountId`].
pub(crate) fn account(s: &str) -> AccountId {
    s.parse().expect("a 12-digit literal")
}

/// A region literal as a [`Region`].
pub(crate) fn region(s: &str) -> Region {
    s.parse().expect("a non-empty literal")
}

/// `record` moved to `account`, everything else kept.
pub(crate) fn with_account(record: &JobRecord, account: AccountId) -> JobRecord {
    rebuilt(record, account, record.creation_date())
}

/// `record` created at `at` instead, everything else kept.
pub(crate) fn with_creation_date(record: &JobRecord, at: UnixMillis) -> JobRecord {
    rebuilt(record, record.account_id(), at)
}

fn rebuilt(record: &JobRecord, account: AccountId, at: UnixMillis) -> JobRecord {
    JobRecord::new(
        account,
        record.region().clone(),
        record.state(),
        record.resource_type().clone(),
        at,
    )
    .with_message_category(record.message_category().cloned())
    .with_malware_scanner(record.malware_scanner())
    .with_scan_result_status(record.scan_result_status())
}

/// Any of the four operations.
pub(crate) fn operation() -> impl Strategy<Value = Operation> {
    prop::sample::select(Operation::ALL.to_vec())
}

/// An instant on `BASE_DAY - 2 ..= BASE_DAY + 2`, mostly at or next to a midnight.
pub(crate) fn now() -> impl Strategy<Value = UnixMillis> {
    (-2i64..=2, time_of_day()).prop_map(|(d, ms)| UnixMillis::new((BASE_DAY + d) * DAY_MS + ms))
}

/// A millisecond within a day, biased to both ends of it.
fn time_of_day() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(0),
        2 => Just(1),
        3 => Just(DAY_MS - 1),
        1 => Just(DAY_MS - 2),
        1 => Just(DAY_MS / 2),
        4 => 0..DAY_MS,
    ]
}

/// A CreationDate: mostly on a day edge (±1 ms) anywhere from before the oldest window to after
/// the newest one, sometimes far off.
pub(crate) fn creation_date() -> impl Strategy<Value = UnixMillis> {
    prop_oneof![
        12 => (-20i64..=4, time_of_day())
            .prop_map(|(d, ms)| UnixMillis::new((BASE_DAY + d) * DAY_MS + ms)),
        1 => (-(1i64 << 45)..(1i64 << 45)).prop_map(UnixMillis::new),
    ]
}

/// One record of `op`: a state of `op`, and every optional field present or absent. Fields
/// `op` does not have (a category on a restore job, say) are generated too: the engine must
/// ignore them.
pub(crate) fn record(op: Operation) -> impl Strategy<Value = JobRecord> {
    (
        prop::sample::select(ACCOUNTS.to_vec()),
        prop::sample::select(REGIONS.to_vec()),
        prop::sample::select(op.states().to_vec()),
        prop::sample::select(RESOURCE_TYPES.to_vec()),
        creation_date(),
        prop::option::weighted(0.8, prop::sample::select(CATEGORIES.to_vec())),
        prop::option::weighted(0.7, Just(MalwareScanner::GuardDuty)),
        prop::option::weighted(0.7, prop::sample::select(ScanResultStatus::ALL.to_vec())),
    )
        .prop_map(|(acct, reg, state, rt, at, cat, scanner, result)| {
            JobRecord::new(
                account(acct),
                region(reg),
                state,
                ResourceType::parse(rt).expect("a short literal"),
                at,
            )
            .with_message_category(cat.map(|c| MessageCategory::parse(c).expect("a short literal")))
            .with_malware_scanner(scanner)
            .with_scan_result_status(result)
        })
}

/// Records of `op`.
pub(crate) fn records(
    op: Operation,
    len: impl Into<SizeRange>,
) -> impl Strategy<Value = Vec<JobRecord>> {
    prop::collection::vec(record(op), len)
}

/// Any caller in any role.
pub(crate) fn caller() -> impl Strategy<Value = Caller> {
    caller_in(RoleKind::ALL.to_vec())
}

/// A caller in one of `roles`, in either region, built so that [`Caller::role`] is the role
/// asked for. Member lists and administrator lists are random subsets, so management
/// accounts and administrators are sometimes listed as accounts and sometimes not.
pub(crate) fn caller_in(roles: Vec<RoleKind>) -> impl Strategy<Value = Caller> {
    (
        prop::sample::select(roles),
        0..ACCOUNTS.len(),
        1..ACCOUNTS.len(),
        0u8..16,
        0u8..16,
        prop::sample::select(REGIONS.to_vec()),
    )
        .prop_map(|(role, own, other, listed, admins, reg)| {
            let own_i = own;
            let other_i = (own + other) % ACCOUNTS.len();
            let subset = |bits: u8, with: Option<usize>, without: Option<usize>| {
                (0..ACCOUNTS.len())
                    .filter(|&i| (bits >> i) & 1 == 1 || with == Some(i))
                    .filter(|&i| without != Some(i))
                    .map(|i| account(ACCOUNTS[i]))
                    .collect::<Vec<_>>()
            };
            let me = account(ACCOUNTS[own_i]);
            let base = Caller::new(me, region(reg));
            let org = |mgmt: usize, listed: Vec<AccountId>, admins: Vec<AccountId>| {
                Organization::new(account(ACCOUNTS[mgmt]))
                    .with_accounts(listed)
                    .with_delegated_administrators(admins)
            };
            match role {
                RoleKind::Standalone => base,
                RoleKind::Management => base.with_organization(org(
                    own_i,
                    subset(listed, None, None),
                    subset(admins, None, None),
                )),
                RoleKind::DelegatedAdministrator => base.with_organization(org(
                    other_i,
                    subset(listed, None, None),
                    subset(admins, Some(own_i), None),
                )),
                RoleKind::Member => base.with_organization(org(
                    other_i,
                    subset(listed, Some(own_i), None),
                    subset(admins, None, Some(own_i)),
                )),
                RoleKind::OutsideOrganization => base.with_organization(org(
                    other_i,
                    subset(listed, None, Some(own_i)),
                    subset(admins, None, Some(own_i)),
                )),
            }
        })
}

/// Collapse, Split, or Only one of `values`.
fn dimension<T: Clone + std::fmt::Debug + 'static>(
    values: Vec<T>,
) -> impl Strategy<Value = Dimension<T>> {
    prop_oneof![
        Just(Dimension::Collapse),
        Just(Dimension::Split),
        prop::sample::select(values).prop_map(Dimension::Only),
    ]
}

/// The AccountId parameter: omitted (`None`, the caller's own account) or any mode, specific
/// values including an account with no jobs.
fn account_dimension() -> impl Strategy<Value = Option<Dimension<AccountId>>> {
    let mut ids: Vec<AccountId> = ACCOUNTS.iter().map(|a| account(a)).collect();
    ids.push(account(STRANGER));
    prop::option::weighted(0.75, dimension(ids))
}

/// Any valid query for `op`: every dimension mode, period and day grid, and (except for
/// restore) sometimes "completed with issues".
pub(crate) fn query(op: Operation) -> impl Strategy<Value = Query> {
    let types = RESOURCE_TYPES
        .iter()
        .chain([&MISSING_RESOURCE_TYPE])
        .map(|t| ResourceType::parse(t).expect("a short literal"))
        .collect::<Vec<_>>();
    let categories = CATEGORIES
        .iter()
        .chain([&MISSING_CATEGORY])
        .map(|c| MessageCategory::parse(c).expect("a short literal"))
        .collect::<Vec<_>>();
    let has_category = matches!(op, Operation::Backup | Operation::Copy);
    let is_scan = op == Operation::Scan;
    let with_issues = if op == Operation::Restore { 0.0 } else { 0.2 };
    (
        account_dimension(),
        dimension(op.states().to_vec()),
        dimension(types),
        dimension(categories),
        dimension(MalwareScanner::ALL.to_vec()),
        dimension(ScanResultStatus::ALL.to_vec()),
        prop::sample::select(AggregationPeriod::ALL.to_vec()),
        prop::sample::select(vec![DayGrid::ThroughToday, DayGrid::PriorFullDays]),
        prop::bool::weighted(with_issues),
    )
        .prop_map(
            move |(acct, state, rt, cat, scanner, result, period, grid, issues)| {
                let mut b = Query::builder(op)
                    .state(state)
                    .resource_type(rt)
                    .period(period)
                    .day_grid(grid);
                if let Some(a) = acct {
                    b = b.account(a);
                }
                if has_category {
                    b = b.message_category(cat);
                }
                if is_scan {
                    b = b.malware_scanner(scanner).scan_result_status(result);
                }
                if issues {
                    b = b.completed_with_issues();
                }
                b.build().expect("generated queries are valid")
            },
        )
}

/// A case for `op` with a caller in one of `roles`.
pub(crate) fn case_for(op: Operation, roles: Vec<RoleKind>) -> impl Strategy<Value = Case> {
    (query(op), caller_in(roles), now()).prop_map(move |(query, caller, now)| Case {
        op,
        query,
        caller,
        now,
    })
}

/// Any case: any operation, query, caller and `now`.
pub(crate) fn case() -> impl Strategy<Value = Case> {
    operation().prop_flat_map(|op| case_for(op, RoleKind::ALL.to_vec()))
}

/// Any case with records of its operation.
pub(crate) fn case_and_records(
    len: impl Into<SizeRange>,
) -> impl Strategy<Value = (Case, Vec<JobRecord>)> {
    let len = len.into();
    case().prop_flat_map(move |c| {
        let op = c.op;
        (Just(c), records(op, len.clone()))
    })
}
