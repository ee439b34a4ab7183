//! Properties of the engine: it agrees with the naive reference, any split of the input into
//! batches or merged aggregators gives the same rows, members and standalone accounts never
//! see other accounts' jobs, and no query, string or instant makes anything panic.

mod support;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;

use backup_summaries::{
    summarize, AccountId, Aggregator, Caller, DayGrid, Dimension, Field, JobRecord, JobTable,
    MessageCategory, Operation, Organization, Param, Query, QueryError, Region, ResourceType, Row,
    Summary, UnixMillis,
};

use support::{
    caller, case, case_and_records, case_for, config, naive, operation, query, records,
    with_account, with_creation_date, Case, RoleKind, ACCOUNTS,
};

/// `recs` in a table of `op`.
fn table(op: Operation, recs: &[JobRecord]) -> Result<JobTable, TestCaseError> {
    JobTable::from_records(op, recs).map_err(|e| TestCaseError::fail(format!("rejected: {e}")))
}

/// The engine's summary for `case` over `recs`, in one pass.
fn whole(case: &Case, recs: &[JobRecord]) -> Result<Summary, TestCaseError> {
    Ok(summarize(
        &case.query,
        &case.caller,
        case.now,
        &table(case.op, recs)?,
    ))
}

/// The engine's rows for `case` over `recs`, in one pass.
fn engine_rows(case: &Case, recs: &[JobRecord]) -> Result<Vec<Row>, TestCaseError> {
    Ok(whole(case, recs)?.to_rows())
}

/// Every rule of SPEC §6 a finished row list obeys on its own.
fn check_row_invariants(case: &Case, rows: &[Row]) -> Result<(), TestCaseError> {
    for pair in rows.windows(2) {
        prop_assert!(
            pair[0] < pair[1],
            "rows out of order or repeated: {:?}",
            pair
        );
    }
    for row in rows {
        prop_assert!(row.count() > 0, "zero-count row {:?}", row);
        prop_assert_eq!(row.region(), case.caller.region().as_str());
        prop_assert!(row.start_time() < row.end_time(), "empty bucket {:?}", row);
        for &field in Field::ALL {
            if !case.op.fields().contains(&field) {
                prop_assert_eq!(row.value(field), None, "{:?} on {:?}", field, case.op);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_matches_naive((case, recs) in case_and_records(0..150)) {
        let actual = engine_rows(&case, &recs)?;
        let expected = naive::summarize(case.op, &case.query, &case.caller, case.now, &recs);
        prop_assert_eq!(&actual, &expected);
        check_row_invariants(&case, &actual)?;
    }

    #[test]
    fn jobs_outside_the_creation_window_change_no_answer(
        (case, recs) in case_and_records(0..150),
    ) {
        // SPEC §5: a query counts only jobs created in its periods, so a one-shot query may
        // leave the others out while loading (issue 9).
        let window = case.query.creation_window(case.now);
        let inside: Vec<JobRecord> = recs
            .iter()
            .filter(|r| window.contains(r.creation_date()))
            .cloned()
            .collect();
        prop_assert_eq!(engine_rows(&case, &inside)?, engine_rows(&case, &recs)?);
    }

    #[test]
    fn push_is_split_invariant((case, recs) in case_and_records(0..100), cut in any::<Index>()) {
        let (a, b) = recs.split_at(cut.index(recs.len() + 1));
        let mut agg = Aggregator::new(&case.query, &case.caller, case.now);
        agg.push(&table(case.op, b)?); // reversed on purpose: order must not matter either
        agg.push(&table(case.op, a)?);
        let (split, whole) = (agg.finish(), whole(&case, &recs)?);
        prop_assert_eq!((split.len(), split.total()), (whole.len(), whole.total()));
        prop_assert_eq!(split.to_rows(), whole.to_rows());
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn merge_is_split_invariant((case, recs) in case_and_records(0..100), cut in any::<Index>()) {
        let (a, b) = recs.split_at(cut.index(recs.len() + 1));
        let mut left = Aggregator::new(&case.query, &case.caller, case.now);
        left.push(&table(case.op, a)?);
        let mut right = Aggregator::new(&case.query, &case.caller, case.now);
        right.push(&table(case.op, b)?);
        right.merge(left);
        prop_assert_eq!(right.finish().to_rows(), engine_rows(&case, &recs)?);
    }

    #[test]
    fn three_pushes_equal_one_pass(
        (case, recs) in case_and_records(0..100),
        cuts in (any::<Index>(), any::<Index>()),
    ) {
        let n = recs.len() + 1;
        let (i, j) = (cuts.0.index(n), cuts.1.index(n));
        let (lo, hi) = (i.min(j), i.max(j));
        let mut agg = Aggregator::new(&case.query, &case.caller, case.now);
        for part in [&recs[hi..], &recs[..lo], &recs[lo..hi]] {
            agg.push(&table(case.op, part)?);
        }
        prop_assert_eq!(agg.finish().to_rows(), engine_rows(&case, &recs)?);
    }

    #[test]
    fn members_and_standalone_callers_see_only_their_own_jobs(
        (case, recs, others) in operation().prop_flat_map(|op| (
            case_for(op, vec![
                RoleKind::Standalone, RoleKind::Member, RoleKind::OutsideOrganization,
            ]),
            records(op, 0..80),
            records(op, 1..80),
        )),
    ) {
        let own = case.caller.account();
        let strangers: Vec<AccountId> = ACCOUNTS
            .iter()
            .map(|a| support::account(a))
            .filter(|a| *a != own)
            .collect();
        let mut all = recs.clone();
        all.extend(others.iter().enumerate().map(|(i, r)| {
            let to = if r.account_id() == own {
                strangers[i % strangers.len()]
            } else {
                r.account_id()
            };
            with_account(r, to)
        }));
        let own_jobs: Vec<JobRecord> =
            recs.iter().filter(|r| r.account_id() == own).cloned().collect();
        let alone = engine_rows(&case, &own_jobs)?;
        prop_assert_eq!(&engine_rows(&case, &recs)?, &alone);
        let crowded = engine_rows(&case, &all)?;
        prop_assert_eq!(&crowded, &alone);
        let own_id = own.to_string();
        for row in &crowded {
            let shown = row.value(Field::AccountId);
            prop_assert!(
                shown == Some(own_id.as_str()) || shown == Some("AGGREGATE_ALL"),
                "row shows another account: {:?}", row
            );
        }
    }

    #[test]
    fn extreme_instants_never_panic(
        (case, recs) in operation().prop_flat_map(|op| (
            (query(op), caller(), extreme_instant()).prop_map(move |(query, caller, now)| {
                Case { op, query, caller, now }
            }),
            records(op, 0..40),
        )),
        dates in prop::collection::vec(extreme_instant(), 40),
    ) {
        let recs: Vec<JobRecord> =
            recs.iter().zip(dates).map(|(r, at)| with_creation_date(r, at)).collect();
        let rows = engine_rows(&case, &recs)?;
        check_row_invariants(&case, &rows)?;
        let expected = naive::summarize(case.op, &case.query, &case.caller, case.now, &recs);
        prop_assert_eq!(rows, expected);
    }

    #[test]
    fn from_pairs_never_panics_and_blames_the_first_bad_parameter(
        op in operation(),
        pairs in prop::collection::vec((param_name(), param_value()), 0..8),
    ) {
        let result = Query::from_pairs_with_paging(op, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match (first_fault(op, &pairs), result) {
            (None, Ok(_)) => {}
            (Some(Fault::Invalid(name, value)), Err(err @ QueryError::Invalid { .. })) => {
                prop_assert_eq!(err.param().as_str(), name.as_str());
                let QueryError::Invalid { value: quoted, .. } = &err else { unreachable!() };
                let cut: String = value.chars().take(64).collect();
                prop_assert_eq!(&**quoted, cut.as_str());
                let msg = err.to_string();
                prop_assert!(msg.contains(name.as_str()), "{}", msg);
                prop_assert!(msg.contains(&format!("\"{cut}\"")), "{}", msg);
            }
            (Some(Fault::Repeated(name)), Err(err @ QueryError::Repeated { .. })) => {
                prop_assert_eq!(err.param().as_str(), name.as_str());
                prop_assert!(err.to_string().contains(name.as_str()), "{}", err);
            }
            (expected, actual) => {
                prop_assert!(false, "expected {:?}, got {:?}", expected, actual);
            }
        }
    }

    #[test]
    fn value_parsers_never_panic(s in any_text()) {
        let digits = s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
        match AccountId::parse(&s) {
            Ok(a) => prop_assert!(digits && a.to_string() == s, "{:?} -> {:?}", s, a),
            Err(_) => prop_assert!(!digits, "{:?} rejected", s),
        }
        let name_ok = (1..=50).contains(&s.chars().count());
        match ResourceType::parse(&s) {
            Ok(t) => prop_assert!(name_ok && t.as_str() == s, "{:?} -> {:?}", s, t),
            Err(_) => prop_assert!(!name_ok, "{:?} rejected", s),
        }
        match MessageCategory::parse(&s) {
            Ok(c) => prop_assert!(
                name_ok && c.as_str() == s.to_ascii_uppercase(),
                "{:?} -> {:?}", s, c
            ),
            Err(_) => prop_assert!(!name_ok, "{:?} rejected", s),
        }
        prop_assert_eq!(Region::parse(&s).is_ok(), !s.is_empty());
    }

    #[test]
    fn from_pairs_ignores_parameter_order(
        (op, pairs, shuffled) in operation().prop_flat_map(|op| {
            valid_pairs(op).prop_flat_map(move |pairs| {
                (Just(op), Just(pairs.clone()), Just(pairs).prop_shuffle())
            })
        }),
    ) {
        let a = Query::from_pairs_with_paging(op, pairs);
        let b = Query::from_pairs_with_paging(op, shuffled);
        prop_assert!(a.is_ok(), "{:?}", a);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn omitted_dimensions_equal_aggregate_all(
        (op, pairs) in operation().prop_flat_map(|op| (Just(op), valid_pairs(op))),
    ) {
        let dimensions =
            ["State", "ResourceType", "MessageCategory", "MalwareScanner", "ScanResultStatus"];
        for name in dimensions {
            let without: Vec<(String, String)> =
                pairs.iter().filter(|(k, _)| k != name).cloned().collect();
            let mut with = without.clone();
            with.push((name.to_owned(), "AGGREGATE_ALL".to_owned()));
            let fail = |e: QueryError| TestCaseError::fail(e.to_string());
            let omitted = Query::from_pairs_with_paging(op, without.clone()).map_err(fail)?;
            let explicit = Query::from_pairs_with_paging(op, with).map_err(fail)?;
            prop_assert_eq!(omitted, explicit, "{}", name);
        }
    }
}

proptest! {
    // Fewer cases: each one has hundreds of distinct groups.
    #![proptest_config(ProptestConfig { cases: config().cases.div_ceil(8), ..config() })]

    /// With this many distinct values the key space passes the dense-array limit, so the
    /// engine counts in its hash map instead.
    #[test]
    fn engine_matches_naive_with_many_groups((case, recs) in wide_case_and_records(200..400)) {
        let actual = engine_rows(&case, &recs)?;
        let expected = naive::summarize(case.op, &case.query, &case.caller, case.now, &recs);
        prop_assert_eq!(&actual, &expected);
        check_row_invariants(&case, &actual)?;
    }
}

/// Backup or copy jobs of many accounts, resource types and categories, split every way, for
/// the organization's management account.
fn wide_case_and_records(
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = (Case, Vec<JobRecord>)> {
    let op = prop::sample::select(vec![Operation::Backup, Operation::Copy]);
    (
        op,
        support::now(),
        prop::sample::select(vec![DayGrid::ThroughToday, DayGrid::PriorFullDays]),
    )
        .prop_flat_map(move |(op, now, grid)| {
            let wide = (
                0u64..60,
                prop::sample::select(op.states().to_vec()),
                0u32..5000,
                prop::option::weighted(0.9, 0u32..5000),
                (-15i64..=1, 0..support::DAY_MS),
            )
                .prop_map(move |(acct, state, rt, cat, (day, ms))| {
                    let at = UnixMillis::new((support::BASE_DAY + day) * support::DAY_MS + ms);
                    JobRecord::new(
                        wide_account(acct),
                        support::region("us-east-1"),
                        state,
                        resource(rt),
                        at,
                    )
                    .with_message_category(cat.map(|c| category(&format!("c{c}"))))
                });
            (
                Just(wide_case(op, now, grid, 0..60)),
                prop::collection::vec(wide, len.clone()),
            )
        })
}

/// Account number `n` of the wide tests.
fn wide_account(n: u64) -> AccountId {
    AccountId::new(100_000_000_000 + n).expect("12 digits")
}

fn resource(n: u32) -> ResourceType {
    ResourceType::parse(&format!("type-{n}")).expect("a short name")
}

fn category(s: &str) -> MessageCategory {
    MessageCategory::parse(s).expect("a short name")
}

/// Every dimension split, ONE_DAY, asked by the management account of an organization holding
/// accounts `members`.
fn wide_case(op: Operation, now: UnixMillis, grid: DayGrid, members: std::ops::Range<u64>) -> Case {
    let org = Organization::new(wide_account(0)).with_accounts(members.map(wide_account));
    let query = Query::builder(op)
        .account(Dimension::Split)
        .state(Dimension::Split)
        .resource_type(Dimension::Split)
        .message_category(Dimension::Split)
        .day_grid(grid)
        .build()
        .expect("a valid query");
    let caller = Caller::new(wide_account(0), support::region("us-east-1")).with_organization(org);
    Case {
        op,
        query,
        caller,
        now,
    }
}

/// So many distinct accounts, resource types and categories that a group key needs more
/// than 64 bits: 14 buckets x 9 states x 96 000 accounts x 96 000 types x 95 011 categories is
/// about 1.1e17 cells, past the 2^56 the engine's 64-bit keys allow.
#[test]
fn engine_matches_naive_past_64_bit_keys() -> Result<(), TestCaseError> {
    const N: u32 = 96_000;
    let now = UnixMillis::new(support::BASE_DAY * support::DAY_MS + 1);
    let case = wide_case(
        Operation::Backup,
        now,
        DayGrid::ThroughToday,
        0..u64::from(N),
    );
    let states = Operation::Backup.states();
    let recs: Vec<JobRecord> = (0..N)
        .map(|i| {
            let day = i64::from(i % 16) - 14;
            let at = UnixMillis::new((support::BASE_DAY + day) * support::DAY_MS + i64::from(i));
            JobRecord::new(
                wide_account(u64::from(i)),
                support::region(if i % 7 == 0 { "eu-west-1" } else { "us-east-1" }),
                states[i as usize % states.len()],
                resource(i),
                at,
            )
            .with_message_category((i % 97 != 0).then(|| category(&format!("c{i}"))))
        })
        .collect();
    let actual = engine_rows(&case, &recs)?;
    let expected = naive::summarize(case.op, &case.query, &case.caller, case.now, &recs);
    assert!(expected.len() > 60_000, "{} rows", expected.len());
    assert_eq!(actual, expected);
    Ok(())
}

#[test]
fn no_parameters_is_the_default_query() -> Result<(), QueryError> {
    for &op in Operation::ALL {
        let parsed = Query::from_pairs(op, std::iter::empty::<(&str, &str)>())?;
        assert_eq!(parsed, Query::builder(op).build()?, "{op}");
    }
    Ok(())
}

/// Instants at and next to both ends of `i64` time, around zero, or anywhere.
fn extreme_instant() -> impl Strategy<Value = UnixMillis> {
    prop_oneof![
        prop::sample::select(support::EDGE_INSTANTS.to_vec()),
        (0i64..3 * support::DAY_MS).prop_map(|d| i64::MIN + d),
        (0i64..3 * support::DAY_MS).prop_map(|d| i64::MAX - d),
        any::<i64>(),
    ]
    .prop_map(UnixMillis::new)
}

/// Every parameter name of every operation.
fn param_names() -> Vec<&'static str> {
    Param::ALL.iter().map(|p| p.as_str()).collect()
}

/// Mostly real parameter names, sometimes near misses or junk.
fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(param_names()).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["", "state", "STATE", "Bogus", "MaxResults ", "NextToken\0"])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Text of any kind: short, long, unicode, control characters.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{10,14}",
        "\\PC{0,3}",
        "\\PC{45,55}",
        "(?s).{60,300}",
    ]
}

/// Mostly plausible values (valid or near misses), sometimes anything.
fn param_value() -> impl Strategy<Value = String> {
    let plausible = vec![
        "ANY",
        "AGGREGATE_ALL",
        "any",
        "",
        " ",
        "123456789012",
        "000000000042",
        "12345678901",
        "1234567890123",
        "COMPLETED",
        "COMPLETING",
        "COMPLETED_WITH_ISSUES",
        "Completed",
        "CANCELED",
        "PENDING",
        "EXPIRED",
        "FAILING",
        "GUARDDUTY",
        "GuardDuty",
        "THREATS_FOUND",
        "NO_THREATS_FOUND",
        "UNKNOWN",
        "Unknown",
        "ONE_DAY",
        "SEVEN_DAYS",
        "FOURTEEN_DAYS",
        "one_day",
        "0",
        "1",
        "0500",
        "1000",
        "1001",
        "-1",
        "+5",
        "1e3",
        "ten",
        "EBS",
        "Success",
        "token",
    ];
    prop_oneof![
        4 => prop::sample::select(plausible).prop_map(str::to_owned),
        2 => "[0-9]{1,10}",
        3 => any_text(),
    ]
}

/// Why a parameter list must be rejected, by SPEC §3 and §8 alone.
#[derive(Debug)]
enum Fault {
    Invalid(String, String),
    Repeated(String),
}

/// The parameters `op` has (SPEC §1, §3); the others are ignored.
fn exists_for(op: Operation, name: &str) -> bool {
    match name {
        "MessageCategory" => matches!(op, Operation::Backup | Operation::Copy),
        "MalwareScanner" | "ScanResultStatus" => op == Operation::Scan,
        other => param_names().contains(&other),
    }
}

/// Whether `value` is allowed for the parameter `name` of `op` (SPEC §3).
fn is_allowed(op: Operation, name: &str, value: &str) -> bool {
    let mode = value == "ANY" || value == "AGGREGATE_ALL";
    let chars = value.chars().count();
    match name {
        "AccountId" => mode || (value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())),
        "State" => mode || op.states().iter().any(|s| s.as_str() == value),
        "ResourceType" | "MessageCategory" => mode || (1..=50).contains(&chars),
        "MalwareScanner" => mode || value == "GUARDDUTY",
        "ScanResultStatus" => {
            mode || ["NO_THREATS_FOUND", "THREATS_FOUND", "UNKNOWN"].contains(&value)
        }
        "AggregationPeriod" => ["ONE_DAY", "SEVEN_DAYS", "FOURTEEN_DAYS"].contains(&value),
        "MaxResults" => {
            let digits = value.trim_start_matches('0');
            !value.is_empty()
                && value.bytes().all(|b| b.is_ascii_digit())
                && digits.len() <= 4
                && digits.parse::<u32>().is_ok_and(|n| (1..=1000).contains(&n))
        }
        "NextToken" => !value.is_empty(),
        _ => true,
    }
}

/// The first parameter at fault, reading the pairs in order.
fn first_fault(op: Operation, pairs: &[(String, String)]) -> Option<Fault> {
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        if !exists_for(op, name) {
            continue;
        }
        if seen.contains(&name.as_str()) {
            return Some(Fault::Repeated(name.clone()));
        }
        seen.push(name);
        if !is_allowed(op, name, value) {
            return Some(Fault::Invalid(name.clone(), value.clone()));
        }
    }
    None
}

/// Each of `op`'s parameters at most once, with a valid value, in a fixed order.
fn valid_pairs(op: Operation) -> impl Strategy<Value = Vec<(String, String)>> {
    let modes = || vec!["ANY", "AGGREGATE_ALL"];
    let with_modes = |mut v: Vec<&'static str>| {
        v.extend(modes());
        v
    };
    let states: Vec<&'static str> = op.states().iter().map(|s| s.as_str()).collect();
    let choices: Vec<(&'static str, Vec<&'static str>)> = vec![
        ("AccountId", with_modes(ACCOUNTS.to_vec())),
        ("State", with_modes(states)),
        ("ResourceType", with_modes(vec!["EBS", "ebs", "S3"])),
        (
            "MessageCategory",
            with_modes(vec!["SUCCESS", "Success", "ACCESS_DENIED"]),
        ),
        ("MalwareScanner", with_modes(vec!["GUARDDUTY"])),
        (
            "ScanResultStatus",
            with_modes(vec!["NO_THREATS_FOUND", "THREATS_FOUND", "UNKNOWN"]),
        ),
        (
            "AggregationPeriod",
            vec!["ONE_DAY", "SEVEN_DAYS", "FOURTEEN_DAYS"],
        ),
        ("MaxResults", vec!["1", "0500", "1000"]),
        ("NextToken", vec!["opaque"]),
    ];
    let per_param: Vec<_> = choices
        .into_iter()
        .filter(|(name, _)| exists_for(op, name))
        .map(|(name, values)| {
            prop::option::of(prop::sample::select(values))
                .prop_map(move |v| v.map(|v| (name.to_owned(), v.to_owned())))
        })
        .collect();
    per_param.prop_map(|v| v.into_iter().flatten().collect())
}

#[test]
fn the_naive_grid_matches_spec_section_5() {
    use backup_summaries::{AggregationPeriod, DayGrid};
    let today = i128::from(support::BASE_DAY * support::DAY_MS);
    let day = i128::from(support::DAY_MS);
    let now = UnixMillis::new(support::BASE_DAY * support::DAY_MS + 5);
    let one = naive::candidate_buckets(AggregationPeriod::OneDay, DayGrid::ThroughToday, now);
    assert_eq!(one.len(), 14);
    assert_eq!(one[0], (today - 13 * day, today - 12 * day));
    assert_eq!(one[13], (today, today + day));
    let seven = naive::candidate_buckets(AggregationPeriod::SevenDays, DayGrid::PriorFullDays, now);
    assert_eq!(seven, [(today - 7 * day, today)]);
    let fourteen =
        naive::candidate_buckets(AggregationPeriod::FourteenDays, DayGrid::ThroughToday, now);
    assert_eq!(fourteen, [(today - 13 * day, today + day)]);
}

#[test]
fn the_support_module_builds_every_role() {
    use backup_summaries::Role;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for (kind, role) in [
        (RoleKind::Standalone, Role::Standalone),
        (RoleKind::Member, Role::Member),
        (RoleKind::Management, Role::Management),
        (
            RoleKind::DelegatedAdministrator,
            Role::DelegatedAdministrator,
        ),
        (RoleKind::OutsideOrganization, Role::Standalone),
    ] {
        let strategy = support::caller_in(vec![kind]);
        for _ in 0..32 {
            let caller = strategy.new_tree(&mut runner).expect("a caller").current();
            assert_eq!(caller.role(), role, "{kind:?}: {caller:?}");
            assert_eq!(kind.sees_only_own(), !caller.sees_organization());
        }
    }
    let _ = case();
}
