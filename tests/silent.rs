//! One test per decision SPEC marks (D), named after the rule in the crate docs' "Where AWS is
//! silent" list. Each feeds concrete jobs in and checks the exact rows that come out.
//!
//! "An empty MessageCategory in a record is absent" is a wire-ingestion rule; it is tested
//! with the wire layer.

use std::error::Error;

use backup_summaries::{
    summarize, AccountId, AggregationPeriod, Caller, Cursor, DayGrid, Dimension, Field, JobId,
    JobRecord, JobTable, MalwareScanner, MaxResults, MessageCategory, Operation, Organization,
    Paging, Query, Row, ScanResultStatus, State, UnixMillis, Upserted, Version,
    DEFAULT_TOKEN_LIFETIME,
};

type TestResult = Result<(), Box<dyn Error>>;

const DAY: i64 = 86_400_000;
/// 2026-11-26T00:00:00Z.
const TODAY: i64 = 1_795_651_200_000;
/// 2026-11-26T10:00:00Z.
const NOW: UnixMillis = UnixMillis::new(TODAY + 10 * 3_600_000);
const ME: &str = "123456789012";
const PEER: &str = "210987654321";
const REGION: &str = "us-east-1";
const ALL: &str = "AGGREGATE_ALL";

fn acct(s: &str) -> Result<AccountId, Box<dyn Error>> {
    Ok(s.parse()?)
}

/// A standalone caller: account `ME` in `REGION`.
fn me() -> Result<Caller, Box<dyn Error>> {
    Ok(Caller::new(acct(ME)?, REGION.parse()?))
}

/// A job of `ME` in `REGION`.
fn job(state: State, resource_type: &str, at: i64) -> Result<JobRecord, Box<dyn Error>> {
    job_of(ME, state, resource_type, at)
}

fn job_of(
    account: &str,
    state: State,
    resource_type: &str,
    at: i64,
) -> Result<JobRecord, Box<dyn Error>> {
    Ok(JobRecord::new(
        acct(account)?,
        REGION.parse()?,
        state,
        resource_type.parse()?,
        UnixMillis::new(at),
    ))
}

/// `job` with a message category.
fn categorized(state: State, category: Option<&str>, at: i64) -> Result<JobRecord, Box<dyn Error>> {
    let category = category.map(MessageCategory::parse).transpose()?;
    Ok(job(state, "EBS", at)?.with_message_category(category))
}

/// The rows `query` gives `caller` at `NOW` over `jobs`.
fn rows_for(
    caller: &Caller,
    query: &Query,
    jobs: &[JobRecord],
) -> Result<Vec<Row>, Box<dyn Error>> {
    let table = JobTable::from_records(query.operation(), jobs)?;
    Ok(summarize(query, caller, NOW, &table).to_rows())
}

fn rows(query: &Query, jobs: &[JobRecord]) -> Result<Vec<Row>, Box<dyn Error>> {
    rows_for(&me()?, query, jobs)
}

fn parse(op: Operation, pairs: &[(&str, &str)]) -> Result<Query, Box<dyn Error>> {
    Ok(Query::from_pairs(op, pairs.iter().copied())?)
}

/// A request's query and paging.
fn parse_paged(op: Operation, pairs: &[(&str, &str)]) -> Result<(Query, Paging), Box<dyn Error>> {
    Ok(Query::from_pairs_with_paging(op, pairs.iter().copied())?)
}

/// A row of `REGION` for `[start, end)` with the values of the operation's fields in
/// `Field::ALL` order (AccountId, State, ResourceType, MessageCategory, MalwareScanner,
/// ScanResultStatus).
fn row(start: i64, end: i64, values: [Option<&str>; 6], count: u64) -> Row {
    let row = Row::new(UnixMillis::new(start), UnixMillis::new(end), REGION, count);
    Field::ALL
        .iter()
        .zip(values)
        .fold(row, |row, (&field, value)| match value {
            Some(v) => row.with_value(field, v),
            None => row,
        })
}

/// A row of today's ONE_DAY bucket.
fn today(values: [Option<&str>; 6], count: u64) -> Row {
    row(TODAY, TODAY + DAY, values, count)
}

#[test]
fn omitted_dimensions_collapse() -> TestResult {
    let explicit = [
        (
            Operation::Backup,
            vec!["State", "ResourceType", "MessageCategory"],
        ),
        (
            Operation::Copy,
            vec!["State", "ResourceType", "MessageCategory"],
        ),
        (Operation::Restore, vec!["State", "ResourceType"]),
        (
            Operation::Scan,
            vec![
                "State",
                "ResourceType",
                "MalwareScanner",
                "ScanResultStatus",
            ],
        ),
    ];
    for (op, names) in explicit {
        let omitted = parse(op, &[])?;
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (*n, ALL)).collect();
        assert_eq!(omitted, parse(op, &pairs)?, "{op}");
        assert_eq!(omitted.state(), &Dimension::Collapse);
        assert_eq!(omitted.resource_type(), &Dimension::Collapse);
        assert_eq!(omitted.message_category(), &Dimension::Collapse);
        assert_eq!(omitted.malware_scanner(), &Dimension::Collapse);
        assert_eq!(omitted.scan_result_status(), &Dimension::Collapse);
    }

    // Four backup jobs that differ in every dimension but the account: one row.
    let jobs = [
        categorized(State::Completed, Some("SUCCESS"), TODAY + 1)?,
        categorized(State::Failed, Some("ACCESS_DENIED"), TODAY + 2)?,
        categorized(State::Running, None, TODAY + 3)?,
        job(State::Completed, "RDS", TODAY + 4)?,
    ];
    assert_eq!(
        rows(&parse(Operation::Backup, &[])?, &jobs)?,
        [today(
            [Some(ME), Some(ALL), Some(ALL), Some(ALL), None, None],
            4
        )]
    );

    // Scan jobs with and without scanner and result: one row.
    let scan = [
        job(State::Completed, "EBS", TODAY + 1)?
            .with_malware_scanner(Some(MalwareScanner::GuardDuty))
            .with_scan_result_status(Some(ScanResultStatus::ThreatsFound)),
        job(State::Failed, "S3", TODAY + 2)?,
        job(State::Canceled, "EBS", TODAY + 3)?
            .with_scan_result_status(Some(ScanResultStatus::NoThreatsFound)),
    ];
    assert_eq!(
        rows(&parse(Operation::Scan, &[])?, &scan)?,
        [today(
            [Some(ME), Some(ALL), Some(ALL), None, Some(ALL), Some(ALL)],
            3
        )]
    );
    Ok(())
}

#[test]
fn collapsed_rows_show_aggregate_all() -> TestResult {
    let every = [
        ("AccountId", ALL),
        ("State", ALL),
        ("ResourceType", ALL),
        ("MessageCategory", ALL),
        ("MalwareScanner", ALL),
        ("ScanResultStatus", ALL),
    ];
    // The literal, for every dimension the operation has; absent for the ones it lacks.
    let backup = [
        categorized(State::Completed, Some("SUCCESS"), TODAY)?,
        job(State::Failed, "RDS", TODAY)?,
    ];
    assert_eq!(
        rows(&parse(Operation::Backup, &every)?, &backup)?,
        [today(
            [Some(ALL), Some(ALL), Some(ALL), Some(ALL), None, None],
            2
        )]
    );
    let restore = [
        job(State::Completed, "EBS", TODAY)?,
        job(State::Pending, "EFS", TODAY)?,
    ];
    assert_eq!(
        rows(&parse(Operation::Restore, &every)?, &restore)?,
        [today(
            [Some(ALL), Some(ALL), Some(ALL), None, None, None],
            2
        )]
    );
    let scan =
        [job(State::Completed, "EBS", TODAY)?
            .with_malware_scanner(Some(MalwareScanner::GuardDuty))];
    assert_eq!(
        rows(&parse(Operation::Scan, &every)?, &scan)?,
        [today(
            [Some(ALL), Some(ALL), Some(ALL), None, Some(ALL), Some(ALL)],
            1
        )]
    );

    // An organization summed over its accounts shows AGGREGATE_ALL, not any one account.
    let admin = Caller::new(acct(ME)?, REGION.parse()?)
        .with_organization(Organization::new(acct(ME)?).with_accounts([acct(PEER)?]));
    let org_jobs = [
        job(State::Completed, "EBS", TODAY)?,
        job_of(PEER, State::Completed, "EBS", TODAY)?,
    ];
    assert_eq!(
        rows_for(
            &admin,
            &parse(Operation::Restore, &[("AccountId", ALL)])?,
            &org_jobs
        )?,
        [today(
            [Some(ALL), Some(ALL), Some(ALL), None, None, None],
            2
        )]
    );
    Ok(())
}

#[test]
fn period_defaults_to_one_day() -> TestResult {
    let omitted = parse(Operation::Backup, &[])?;
    assert_eq!(omitted.period(), AggregationPeriod::OneDay);
    assert_eq!(
        omitted,
        parse(Operation::Backup, &[("AggregationPeriod", "ONE_DAY")])?
    );
    assert_eq!(
        Query::builder(Operation::Backup).build()?.period(),
        AggregationPeriod::OneDay
    );

    // Jobs on three days give three one-day rows.
    let jobs = [
        job(State::Completed, "EBS", TODAY - 13 * DAY)?,
        job(State::Completed, "EBS", TODAY - DAY)?,
        job(State::Completed, "EBS", TODAY - 1)?,
        job(State::Completed, "EBS", TODAY)?,
    ];
    let table = JobTable::from_records(Operation::Backup, &jobs)?;
    let summary = summarize(&omitted, &me()?, NOW, &table);
    assert_eq!(summary.period(), AggregationPeriod::OneDay);
    let v = [Some(ME), Some(ALL), Some(ALL), Some(ALL), None, None];
    assert_eq!(
        summary.to_rows(),
        [
            row(TODAY - 13 * DAY, TODAY - 12 * DAY, v, 1),
            row(TODAY - DAY, TODAY, v, 2),
            row(TODAY, TODAY + DAY, v, 1),
        ]
    );
    Ok(())
}

#[test]
fn page_size_defaults_to_500() -> TestResult {
    let (omitted, paging) = parse_paged(Operation::Restore, &[("ResourceType", "ANY")])?;
    assert_eq!(paging.max_results(), MaxResults::DEFAULT);
    assert_eq!(paging.max_results().get(), 500);
    assert_eq!(
        (omitted.clone(), paging.clone()),
        parse_paged(
            Operation::Restore,
            &[("ResourceType", "ANY"), ("MaxResults", "500")]
        )?
    );

    // 501 resource types give 501 rows: the first page holds 500 of them.
    let jobs = (0..501)
        .map(|i| job(State::Completed, &format!("T{i:03}"), TODAY))
        .collect::<Result<Vec<_>, _>>()?;
    let table = JobTable::from_records(Operation::Restore, &jobs)?;
    let caller = me()?;
    let summary = summarize(&omitted, &caller, NOW, &table);
    assert_eq!(summary.len(), 501);
    let page = summary.page(&Cursor::start(&omitted, &caller, NOW), paging.max_results());
    assert_eq!(page.len(), 500);
    assert!(page.next_token().is_some());
    let types: Vec<String> = page
        .rows()
        .filter_map(|r| r.to_row().value(Field::ResourceType).map(str::to_owned))
        .collect();
    let expected: Vec<String> = (0..500).map(|i| format!("T{i:03}")).collect();
    assert_eq!(types, expected);
    Ok(())
}

#[test]
fn categories_are_case_insensitive_and_shown_upper_case() -> TestResult {
    let jobs = [
        categorized(State::Completed, Some("Success"), TODAY + 1)?,
        categorized(State::Completed, Some("SUCCESS"), TODAY + 2)?,
        categorized(State::Completed, Some("success"), TODAY + 3)?,
        categorized(State::Failed, Some("Access_Denied"), TODAY + 4)?,
        categorized(State::Failed, None, TODAY + 5)?,
    ];
    let split = parse(Operation::Backup, &[("MessageCategory", "ANY")])?;
    assert_eq!(
        rows(&split, &jobs)?,
        [
            today([Some(ME), Some(ALL), Some(ALL), None, None, None], 1),
            today(
                [
                    Some(ME),
                    Some(ALL),
                    Some(ALL),
                    Some("ACCESS_DENIED"),
                    None,
                    None
                ],
                1
            ),
            today(
                [Some(ME), Some(ALL), Some(ALL), Some("SUCCESS"), None, None],
                3
            ),
        ]
    );
    // A specific category in any spelling matches every spelling and is shown upper case.
    for spelling in ["success", "Success", "SUCCESS", "sUcCeSs"] {
        let only = parse(Operation::Backup, &[("MessageCategory", spelling)])?;
        assert_eq!(
            rows(&only, &jobs)?,
            [today(
                [Some(ME), Some(ALL), Some(ALL), Some("SUCCESS"), None, None],
                3
            )],
            "{spelling}"
        );
    }
    // Only ASCII letters fold: a non-ASCII letter is kept as it is.
    assert_eq!(MessageCategory::parse("ÿes")?.as_str(), "ÿES");
    // Copy jobs follow the same rule.
    let copy = parse(Operation::Copy, &[("MessageCategory", "access_denied")])?;
    let failed = [categorized(State::Failed, Some("access_DENIED"), TODAY)?];
    assert_eq!(
        rows(&copy, &failed)?,
        [today(
            [
                Some(ME),
                Some(ALL),
                Some(ALL),
                Some("ACCESS_DENIED"),
                None,
                None
            ],
            1
        )]
    );
    Ok(())
}

#[test]
fn the_window_ends_with_today() -> TestResult {
    // Edges of the 14-day window, and a job created later today, after `now`.
    let at = [
        TODAY - 13 * DAY - 1, // before the window
        TODAY - 13 * DAY,     // first millisecond
        TODAY - 7 * DAY - 1,  // just before the shifted SEVEN_DAYS window
        TODAY - 6 * DAY,      // first millisecond of the SEVEN_DAYS window
        TODAY - 1,            // yesterday's last millisecond
        TODAY,                // today's first millisecond
        TODAY + DAY - 1,      // today's last millisecond, after now
        TODAY + DAY,          // tomorrow
    ];
    let jobs = at
        .iter()
        .map(|&t| job(State::Completed, "EBS", t))
        .collect::<Result<Vec<_>, _>>()?;
    let v = [Some(ME), Some(ALL), Some(ALL), Some(ALL), None, None];
    let query = |period: &str, grid| -> Result<Query, Box<dyn Error>> {
        let period = AggregationPeriod::parse(period).ok_or("period")?;
        Ok(Query::builder(Operation::Backup)
            .period(period)
            .day_grid(grid)
            .build()?)
    };

    assert_eq!(
        rows(&query("ONE_DAY", DayGrid::ThroughToday)?, &jobs)?,
        [
            row(TODAY - 13 * DAY, TODAY - 12 * DAY, v, 1),
            row(TODAY - 8 * DAY, TODAY - 7 * DAY, v, 1),
            row(TODAY - 6 * DAY, TODAY - 5 * DAY, v, 1),
            row(TODAY - DAY, TODAY, v, 1),
            row(TODAY, TODAY + DAY, v, 2),
        ]
    );
    assert_eq!(
        rows(&query("SEVEN_DAYS", DayGrid::ThroughToday)?, &jobs)?,
        [row(TODAY - 6 * DAY, TODAY + DAY, v, 4)]
    );
    assert_eq!(
        rows(&query("FOURTEEN_DAYS", DayGrid::ThroughToday)?, &jobs)?,
        [row(TODAY - 13 * DAY, TODAY + DAY, v, 6)]
    );

    // Prior full days: everything one day earlier; today's jobs do not count.
    assert_eq!(
        rows(&query("ONE_DAY", DayGrid::PriorFullDays)?, &jobs)?,
        [
            row(TODAY - 14 * DAY, TODAY - 13 * DAY, v, 1),
            row(TODAY - 13 * DAY, TODAY - 12 * DAY, v, 1),
            row(TODAY - 8 * DAY, TODAY - 7 * DAY, v, 1),
            row(TODAY - 6 * DAY, TODAY - 5 * DAY, v, 1),
            row(TODAY - DAY, TODAY, v, 1),
        ]
    );
    assert_eq!(
        rows(&query("SEVEN_DAYS", DayGrid::PriorFullDays)?, &jobs)?,
        [row(TODAY - 7 * DAY, TODAY, v, 2)]
    );
    assert_eq!(
        rows(&query("FOURTEEN_DAYS", DayGrid::PriorFullDays)?, &jobs)?,
        [row(TODAY - 14 * DAY, TODAY, v, 5)]
    );

    // `now` at the very last and very first millisecond of a day.
    let table = JobTable::from_records(Operation::Backup, &jobs)?;
    let seven = query("SEVEN_DAYS", DayGrid::ThroughToday)?;
    let at_now = |now| {
        summarize(&seven, &me().ok()?, UnixMillis::new(now), &table)
            .to_rows()
            .first()
            .cloned()
    };
    assert_eq!(
        at_now(TODAY + DAY - 1),
        Some(row(TODAY - 6 * DAY, TODAY + DAY, v, 4))
    );
    assert_eq!(
        at_now(TODAY + DAY),
        Some(row(TODAY - 5 * DAY, TODAY + 2 * DAY, v, 4))
    );
    Ok(())
}

#[test]
fn empty_buckets_give_no_rows() -> TestResult {
    let query = parse(Operation::Backup, &[("State", "ANY")])?;
    // No jobs at all: no rows.
    assert_eq!(rows(&query, &[])?, []);
    // Jobs on two of the fourteen days: two rows, nothing for the twelve empty days.
    let jobs = [
        job(State::Completed, "EBS", TODAY - 10 * DAY + 5)?,
        job(State::Failed, "EBS", TODAY + 5)?,
        job(State::Failed, "EBS", TODAY + 6)?,
    ];
    assert_eq!(
        rows(&query, &jobs)?,
        [
            row(
                TODAY - 10 * DAY,
                TODAY - 9 * DAY,
                [
                    Some(ME),
                    Some("COMPLETED"),
                    Some(ALL),
                    Some(ALL),
                    None,
                    None
                ],
                1
            ),
            today(
                [Some(ME), Some("FAILED"), Some(ALL), Some(ALL), None, None],
                2
            ),
        ]
    );
    // Filters that match nothing: no rows, never a row with Count 0.
    for pairs in [
        [("State", "EXPIRED"), ("ResourceType", "EBS")],
        [("State", "ANY"), ("ResourceType", "RDS")],
        [("State", "ANY"), ("MessageCategory", "SUCCESS")],
    ] {
        assert_eq!(
            rows(&parse(Operation::Backup, &pairs)?, &jobs)?,
            [],
            "{pairs:?}"
        );
    }
    // Jobs only outside the window or in another region: no rows.
    let elsewhere = [
        job(State::Completed, "EBS", TODAY - 14 * DAY)?,
        JobRecord::new(
            acct(ME)?,
            "eu-west-1".parse()?,
            State::Completed,
            "EBS".parse()?,
            UnixMillis::new(TODAY),
        ),
    ];
    assert_eq!(rows(&query, &elsewhere)?, []);
    Ok(())
}

#[test]
fn completed_with_issues_needs_a_category() -> TestResult {
    let jobs = [
        categorized(State::Completed, None, TODAY + 1)?,
        categorized(State::Completed, Some("SUCCESS"), TODAY + 2)?,
        categorized(State::Completed, Some("success"), TODAY + 3)?,
        categorized(State::Completed, Some("ACCESS_DENIED"), TODAY + 4)?,
        categorized(State::Completed, Some("Invalid_Parameters"), TODAY + 5)?,
        categorized(State::Failed, Some("ACCESS_DENIED"), TODAY + 6)?,
    ];
    for op in [Operation::Backup, Operation::Copy] {
        let issues = Query::builder(op).completed_with_issues().build()?;
        assert!(issues.is_completed_with_issues());
        assert_eq!(issues.state(), &Dimension::Only(State::Completed));
        assert_eq!(
            rows(&issues, &jobs)?,
            [today(
                [
                    Some(ME),
                    Some("COMPLETED"),
                    Some(ALL),
                    Some(ALL),
                    None,
                    None
                ],
                2
            )],
            "{op}"
        );
        let by_category = Query::builder(op)
            .completed_with_issues()
            .message_category(Dimension::Split)
            .build()?;
        assert_eq!(
            rows(&by_category, &jobs)?,
            [
                today(
                    [
                        Some(ME),
                        Some("COMPLETED"),
                        Some(ALL),
                        Some("ACCESS_DENIED"),
                        None,
                        None
                    ],
                    1
                ),
                today(
                    [
                        Some(ME),
                        Some("COMPLETED"),
                        Some(ALL),
                        Some("INVALID_PARAMETERS"),
                        None,
                        None
                    ],
                    1
                ),
            ],
            "{op}"
        );
    }
    // Scan has a state for it; restore has no such notion.
    let scan = Query::builder(Operation::Scan)
        .completed_with_issues()
        .build()?;
    assert_eq!(scan.state(), &Dimension::Only(State::CompletedWithIssues));
    let scans = [
        job(State::CompletedWithIssues, "EBS", TODAY)?,
        job(State::Completed, "EBS", TODAY)?,
    ];
    assert_eq!(
        rows(&scan, &scans)?,
        [today(
            [
                Some(ME),
                Some("COMPLETED_WITH_ISSUES"),
                Some(ALL),
                None,
                Some(ALL),
                Some(ALL)
            ],
            1
        )]
    );
    assert!(Query::builder(Operation::Restore)
        .completed_with_issues()
        .build()
        .is_err());
    Ok(())
}

#[test]
fn tokens_live_24_hours() -> TestResult {
    assert_eq!(
        DEFAULT_TOKEN_LIFETIME,
        std::time::Duration::from_secs(24 * 3600)
    );
    let jobs = (0..3)
        .map(|i| job(State::Completed, &format!("T{i}"), TODAY))
        .collect::<Result<Vec<_>, _>>()?;
    let table = JobTable::from_records(Operation::Backup, &jobs)?;
    let caller = me()?;
    let lifetime = DEFAULT_TOKEN_LIFETIME;
    let (first, paging) = parse_paged(
        Operation::Backup,
        &[("ResourceType", "ANY"), ("MaxResults", "1")],
    )?;
    let answer = table.answer(&first, &paging, &caller, NOW, lifetime)?;
    let token = answer.page().next_token().ok_or("no NextToken")?.to_owned();
    let next = paging.with_next_token(Some(&token));
    // Exactly 24 h after the first page: still good, and on the first page's window.
    let day_later = UnixMillis::new(NOW.as_millis() + DAY);
    let page2 = table.answer(&first, &next, &caller, day_later, lifetime)?;
    assert_eq!(page2.cursor().pinned_now(), NOW);
    assert_eq!(page2.page().len(), 1);
    // One millisecond more: expired.
    let too_late = UnixMillis::new(NOW.as_millis() + DAY + 1);
    let err = table
        .answer(&first, &next, &caller, too_late, lifetime)
        .err()
        .ok_or("expired token accepted")?;
    assert!(err.to_string().contains("NextToken"), "{err}");
    assert!(
        matches!(err, backup_summaries::QueryError::Token(ref e) if e.is_expired()),
        "{err:?}"
    );
    Ok(())
}

// SPEC §10: live jobs.

/// The total count `table` gives for State=ANY, summed over rows, per state.
fn by_state(table: &JobTable) -> Result<Vec<(String, u64)>, Box<dyn Error>> {
    let query = parse(Operation::Backup, &[("State", "ANY")])?;
    Ok(summarize(&query, &me()?, NOW, table)
        .to_rows()
        .into_iter()
        .map(|r| {
            (
                r.value(Field::State).unwrap_or_default().to_owned(),
                r.count(),
            )
        })
        .collect())
}

fn with_id(record: JobRecord, id: &str) -> Result<JobRecord, Box<dyn Error>> {
    Ok(record.with_job_id(Some(JobId::parse(id)?)))
}

#[test]
fn anonymous_jobs_are_never_replaced_or_removed() -> TestResult {
    let mut table = JobTable::new(Operation::Backup);
    let anonymous = job(State::Created, "EBS", TODAY)?;
    table.push(&anonymous)?;
    // The same values again are a second job, not a replacement.
    table.push(&anonymous.clone().with_state(State::Completed))?;
    assert_eq!(
        by_state(&table)?,
        [("COMPLETED".to_owned(), 1), ("CREATED".to_owned(), 1)]
    );
    assert_eq!(table.identified_len(), 0);
    Ok(())
}

#[test]
fn older_versions_are_stale_and_equal_or_unversioned_changes_apply_in_arrival_order() -> TestResult
{
    let mut table = JobTable::new(Operation::Backup);
    let job = with_id(job(State::Created, "EBS", TODAY)?, "b-1")?;
    let v = Version::from_secs;
    assert_eq!(table.upsert(&job, Some(v(100)))?, Upserted::Inserted);
    let running = job.clone().with_state(State::Running);
    assert_eq!(table.upsert(&running, Some(v(100)))?, Upserted::Replaced);
    let late = job.clone().with_state(State::Pending);
    assert_eq!(table.upsert(&late, Some(v(99)))?, Upserted::Stale);
    assert_eq!(by_state(&table)?, [("RUNNING".to_owned(), 1)]);
    // No version: applies, and the stored version stays 100, so 99 is still stale.
    let done = job.clone().with_state(State::Completed);
    assert_eq!(table.upsert(&done, None)?, Upserted::Replaced);
    assert_eq!(table.upsert(&late, Some(v(99)))?, Upserted::Stale);
    assert_eq!(by_state(&table)?, [("COMPLETED".to_owned(), 1)]);
    assert_eq!(
        table.get(&JobId::parse("b-1")?).and_then(|j| j.version()),
        Some(v(100))
    );
    Ok(())
}

#[test]
fn versions_are_whole_seconds_of_the_event_time() -> TestResult {
    let a = Version::from_millis(UnixMillis::new(1_795_651_200_999)).ok_or("out of range")?;
    let b = Version::from_millis(UnixMillis::new(1_795_651_200_000)).ok_or("out of range")?;
    // Two events within one second are the same version: they apply in arrival order.
    assert_eq!(a, b);
    assert!(Version::from_millis(UnixMillis::new(-1)).is_none());
    Ok(())
}

#[test]
fn expire_drops_jobs_created_before_today_minus_retention() -> TestResult {
    let mut table = JobTable::new(Operation::Backup).with_retention_days(30);
    let cutoff = TODAY - 30 * DAY;
    table.push(&with_id(job(State::Completed, "EBS", cutoff - 1)?, "old")?)?;
    table.push(&job(State::Completed, "EBS", cutoff - 1)?)?;
    table.push(&with_id(job(State::Completed, "EBS", cutoff)?, "kept")?)?;
    let expired = table.expire(NOW);
    assert_eq!((expired.jobs, expired.identified), (2, 1));
    assert_eq!(table.len(), 1);
    assert!(table.get(&JobId::parse("old")?).is_none());
    // An expired job that comes back is a new job.
    let back = with_id(job(State::Failed, "EBS", cutoff - 1)?, "old")?;
    assert_eq!(table.upsert(&back, None)?, Upserted::Inserted);
    Ok(())
}

#[test]
fn pages_are_cut_from_the_jobs_current_at_each_request() -> TestResult {
    let mut table = JobTable::new(Operation::Backup);
    for (i, state) in [State::Aborted, State::Completed, State::Failed]
        .into_iter()
        .enumerate()
    {
        table.push(&with_id(job(state, "EBS", TODAY)?, &format!("j{i}"))?)?;
    }
    let (query, paging) = parse_paged(Operation::Backup, &[("State", "ANY"), ("MaxResults", "1")])?;
    let first = table.answer(&query, &paging, &me()?, NOW, DEFAULT_TOKEN_LIFETIME)?;
    let token = first.page().next_token().ok_or("one page only")?.to_owned();
    // Between pages the ABORTED job completes: COMPLETED now counts 2; the emitted ABORTED
    // row is not repeated, and the next page starts after it.
    table.upsert(&with_id(job(State::Completed, "EBS", TODAY)?, "j0")?, None)?;
    let next = paging.with_next_token(Some(&token));
    let second = table.answer(&query, &next, &me()?, NOW, DEFAULT_TOKEN_LIFETIME)?;
    let rows: Vec<Row> = second.page().rows().map(|r| r.to_row()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].value(Field::State), rows[0].count()),
        (Some("COMPLETED"), 2)
    );
    Ok(())
}

#[test]
fn precounted_cells_are_anonymous_jobs() -> TestResult {
    let mut table = JobTable::new(Operation::Backup);
    let cell = with_id(job(State::Completed, "EBS", TODAY)?, "ignored")?;
    table.add_count(&cell, 3)?;
    assert_eq!((table.len(), table.identified_len()), (3, 0));
    assert!(!table.remove(&JobId::parse("ignored")?));
    Ok(())
}
