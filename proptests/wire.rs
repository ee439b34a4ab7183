//! Properties of the wire layer (SPEC §2, §7, §9): `Service::handle` is total and always
//! answers JSON; `parse_jobs` never panics; records written as JSON Lines (or as a whole
//! list-jobs document) by hand parse back to the same `JobRecord`s.

#![cfg(feature = "wire")]

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

use backup_summaries::wire::{parse_jobs, Position, Request, Service, WireResponse};
use backup_summaries::{
    AccountId, Caller, JobRecord, MalwareScanner, MessageCategory, Operation, Region, ResourceType,
    ScanResultStatus, UnixMillis,
};
use chrono::{FixedOffset, TimeZone};

/// 2026-11-26T23:59:59Z.
const NOW: i64 = 1_795_737_599_000;
const DAY_MS: i64 = 86_400_000;
const PATHS: [&str; 4] = [
    "/audit/backup-job-summaries",
    "/audit/copy-job-summaries",
    "/audit/restore-job-summaries",
    "/audit/scan-job-summaries",
];
const PARAMS: [&str; 10] = [
    "AccountId",
    "State",
    "ResourceType",
    "MessageCategory",
    "MalwareScanner",
    "ScanResultStatus",
    "AggregationPeriod",
    "MaxResults",
    "NextToken",
    "state",
];
const VALUES: [&str; 17] = [
    "ANY",
    "AGGREGATE_ALL",
    "COMPLETED",
    "FAILED",
    "CANCELED",
    "EBS",
    "SUCCESS",
    "GUARDDUTY",
    "THREATS_FOUND",
    "UNKNOWN",
    "ONE_DAY",
    "SEVEN_DAYS",
    "FOURTEEN_DAYS",
    "1",
    "1000",
    "123456789012",
    "",
];
const ACCOUNTS: [&str; 2] = ["000000000042", "123456789012"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const DEFAULT_REGION: &str = "ap-south-1";
const RESOURCE_TYPES: [&str; 6] = [
    "EBS",
    "ebs",
    "a\"b\\c/d",
    "Ω≈ç 😀",
    "tab\there\u{1}",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];
const CATEGORIES: [&str; 5] = ["SUCCESS", "Success", "access_denied", "Ünï\"cøde", ""];

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

fn op() -> impl Strategy<Value = Operation> {
    proptest::sample::select(Operation::ALL.to_vec())
}

/// A service with a few jobs of every operation, in and around the window.
fn service() -> Result<Service, TestCaseError> {
    let mut service = Service::new();
    let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(e.to_string());
    for &op in Operation::ALL {
        let mut records = Vec::new();
        for (i, state) in op.states().iter().enumerate() {
            let i = i64::try_from(i).map_err(|e| fail(&e))?;
            let record = JobRecord::new(
                AccountId::parse(ACCOUNTS[1]).map_err(|e| fail(&e))?,
                Region::parse(REGIONS[0]).map_err(|e| fail(&e))?,
                *state,
                ResourceType::parse(RESOURCE_TYPES[usize::try_from(i).unwrap_or(0) % 4])
                    .map_err(|e| fail(&e))?,
                UnixMillis::new(NOW - i * DAY_MS / 2),
            );
            records.push(record);
        }
        service
            .table_mut(op)
            .extend(&records)
            .map_err(|e| fail(e.error()))?;
    }
    Ok(service)
}

/// Query strings: known and junk names, known and junk values, percent-encoded junk, `+`.
fn query_string() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        3 => proptest::sample::select(PARAMS.to_vec()).prop_map(str::to_owned),
        1 => "[A-Za-z%+&=]{0,12}",
    ];
    let value = prop_oneof![
        4 => proptest::sample::select(VALUES.to_vec()).prop_map(str::to_owned),
        1 => "(%[0-9A-Fa-f]{2}|%|%[G-Z]|[+&=?#]|[a-zA-Z0-9_-]){0,24}",
        1 => any::<String>(),
    ];
    let pair = (name, value).prop_map(|(n, v)| format!("{n}={v}"));
    prop_oneof![
        4 => proptest::collection::vec(pair, 0..6).prop_map(|pairs| pairs.join("&")),
        1 => any::<String>(),
    ]
}

/// A NextToken: URL-safe base64 junk, arbitrary text, or empty.
fn token_junk() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9_-]{0,600}", any::<String>(), Just(String::new())]
}

fn request_now() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => (NOW - 3 * DAY_MS)..(NOW + 3 * DAY_MS),
        1 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
    ]
}

/// Checks the SPEC §9 shape of any response.
fn check_response(r: &WireResponse) -> Result<(), TestCaseError> {
    let body: serde_json::Value = serde_json::from_slice(&r.body)
        .map_err(|e| TestCaseError::fail(format!("body is not JSON: {e}")))?;
    prop_assert_eq!(r.header("Content-Type"), Some("application/json"));
    prop_assert!(r.header("x-amzn-RequestId").is_some());
    prop_assert!(!body.to_string().contains("null"));
    match r.status {
        200 => {
            let object = body
                .as_object()
                .ok_or_else(|| TestCaseError::fail("not an object"))?;
            prop_assert!(object.keys().any(|k| k.ends_with("JobSummaries")));
            prop_assert!(object["AggregationPeriod"].is_string());
            prop_assert!(r.header("x-amzn-ErrorType").is_none());
        }
        400 | 404 | 405 => {
            prop_assert_eq!(r.header("x-amzn-ErrorType"), body["Code"].as_str());
            prop_assert!(body["Message"].is_string());
        }
        other => prop_assert!(false, "unexpected status {}", other),
    }
    Ok(())
}

/// A token the service really issued, for `path`, `query` and `caller` at `now`.
fn real_token(
    service: &Service,
    path: &str,
    query: &str,
    caller: &Caller,
    now: i64,
) -> Option<String> {
    let r = service.handle(
        &Request::get(path, caller, UnixMillis::new(now))
            .with_query(query)
            .with_request_id("t"),
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    body["NextToken"].as_str().map(str::to_owned)
}

// ---- records ------------------------------------------------------------------------------

/// One generated record and how to write it.
#[derive(Clone, Debug)]
struct Case {
    account: &'static str,
    region: RegionSource,
    state: usize,
    resource_type: &'static str,
    ms: i64,
    date: DateForm,
    category: Option<&'static str>,
    scanner: bool,
    scan_result: Option<ScanResultStatus>,
    junk: bool,
}

#[derive(Clone, Debug)]
enum RegionSource {
    Member(&'static str),
    Arn(usize, &'static str),
    Default,
}

#[derive(Clone, Debug)]
enum DateForm {
    /// Epoch seconds as a decimal number, with this many extra sub-millisecond digits.
    Seconds(u8),
    /// RFC 3339 in this offset (seconds east), with extra sub-millisecond digits.
    Rfc3339(i32, u8),
}

fn case() -> impl Strategy<Value = Case> {
    let region = prop_oneof![
        proptest::sample::select(REGIONS.to_vec()).prop_map(RegionSource::Member),
        (0..4usize, proptest::sample::select(REGIONS.to_vec()))
            .prop_map(|(i, r)| RegionSource::Arn(i, r)),
        Just(RegionSource::Default),
    ];
    let date = prop_oneof![
        (0..=3u8).prop_map(DateForm::Seconds),
        ((-12 * 60..=14 * 60i32).prop_map(|m| m * 60), 0..=6u8)
            .prop_map(|(o, d)| DateForm::Rfc3339(o, d)),
    ];
    let ms = prop_oneof![
        -2_000_000_000_000i64..4_000_000_000_000,
        (-2i64..=2).prop_map(|d| NOW - NOW.rem_euclid(DAY_MS) + d),
        (0i64..1000).prop_map(|s| s * 1000),
    ];
    (
        proptest::sample::select(ACCOUNTS.to_vec()),
        region,
        0..16usize,
        proptest::sample::select(RESOURCE_TYPES.to_vec()),
        ms,
        date,
        proptest::option::of(proptest::sample::select(CATEGORIES.to_vec())),
        any::<bool>(),
        proptest::option::of(proptest::sample::select(ScanResultStatus::ALL.to_vec())),
        any::<bool>(),
    )
        .prop_map(
            |(
                account,
                region,
                state,
                resource_type,
                ms,
                date,
                category,
                scanner,
                scan_result,
                junk,
            )| Case {
                account,
                region,
                state,
                resource_type,
                ms,
                date,
                category,
                scanner,
                scan_result,
                junk,
            },
        )
}

fn json(s: &str) -> Result<String, TestCaseError> {
    serde_json::to_string(s).map_err(|e| TestCaseError::fail(e.to_string()))
}

/// The record `case` describes, as `parse_jobs` must return it.
fn expected(op: Operation, case: &Case) -> Result<JobRecord, TestCaseError> {
    let fail = |e: backup_summaries::RecordError| TestCaseError::fail(e.to_string());
    let region = match case.region {
        RegionSource::Member(r) | RegionSource::Arn(_, r) => r,
        RegionSource::Default => DEFAULT_REGION,
    };
    let states = op.states();
    let state = states[case.state % states.len()];
    let mut record = JobRecord::new(
        AccountId::parse(case.account).map_err(fail)?,
        Region::parse(region).map_err(fail)?,
        state,
        ResourceType::parse(case.resource_type).map_err(fail)?,
        UnixMillis::new(case.ms),
    );
    match op {
        Operation::Backup | Operation::Copy => {
            let category = match case.category {
                None | Some("") => None,
                Some(c) => Some(MessageCategory::parse(c).map_err(fail)?),
            };
            record = record.with_message_category(category);
        }
        Operation::Scan => {
            record = record
                .with_malware_scanner(case.scanner.then_some(MalwareScanner::GuardDuty))
                .with_scan_result_status(case.scan_result);
        }
        _ => {}
    }
    if case.junk && op == Operation::Backup {
        // The junk members carry a BackupJobId: a backup job's identity (SPEC §10).
        let id = backup_summaries::JobId::parse("j-1").map_err(fail)?;
        record = record.with_job_id(Some(id));
    }
    Ok(record)
}

/// `case` as one JSON object in the list API's shape, written by hand.
fn write_case(op: Operation, case: &Case) -> Result<String, TestCaseError> {
    let states = op.states();
    let state = states[case.state % states.len()];
    let mut members = vec![format!("\"AccountId\":{}", json(case.account)?)];
    if case.junk {
        members.push(r#""BackupJobId":"j-1","CreatedBy":{"BackupPlanId":"p","Nested":[1,{"a":null}]},"PercentDone":12.5,"IsParent":false,"StatusMessage":null"#.to_owned());
    }
    let state_member = if op == Operation::Restore {
        "Status"
    } else {
        "State"
    };
    members.push(format!("\"{state_member}\":\"{}\"", state.as_str()));
    members.push(format!("\"ResourceType\":{}", json(case.resource_type)?));
    let date = match case.date {
        DateForm::Seconds(extra) => {
            let sign = if case.ms < 0 { "-" } else { "" };
            let abs = case.ms.unsigned_abs();
            let digits = "7395".get(..usize::from(extra)).unwrap_or("");
            if abs % 1000 == 0 && extra == 0 {
                format!("{sign}{}", abs / 1000)
            } else {
                format!("{sign}{}.{:03}{digits}", abs / 1000, abs % 1000)
            }
        }
        DateForm::Rfc3339(offset, extra) => {
            let tz = FixedOffset::east_opt(offset).ok_or_else(|| TestCaseError::fail("offset"))?;
            let at = tz
                .timestamp_millis_opt(case.ms)
                .single()
                .ok_or_else(|| TestCaseError::fail("date"))?;
            let digits = "918273".get(..usize::from(extra)).unwrap_or("");
            let text = at.format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
            let zone = if offset == 0 && extra % 2 == 0 {
                "Z".to_owned()
            } else {
                at.format("%:z").to_string()
            };
            format!("\"{text}{digits}{zone}\"")
        }
    };
    members.push(format!("\"CreationDate\":{date}"));
    match case.region {
        RegionSource::Member(r) => members.push(format!("\"Region\":\"{r}\"")),
        RegionSource::Arn(i, r) => {
            let names = [
                "BackupVaultArn",
                "SourceBackupVaultArn",
                "RecoveryPointArn",
                "ResourceArn",
            ];
            // An S3 ARN (no region) ahead of the one that has it must be skipped.
            if i > 0 {
                members.push(format!("\"{}\":\"arn:aws:s3:::bucket\"", names[i - 1]));
            }
            members.push(format!(
                "\"{}\":\"arn:aws:backup:{r}:{}:backup-vault:Default\"",
                names[i], case.account
            ));
        }
        RegionSource::Default => {}
    }
    if let Some(c) = case.category {
        members.push(format!("\"MessageCategory\":{}", json(c)?));
    }
    if case.scanner {
        members.push("\"MalwareScanner\":\"GUARDDUTY\"".to_owned());
    }
    match case.scan_result {
        Some(s) => members.push(format!(
            "\"ScanResult\":{{\"ScanResultStatus\":\"{}\"}}",
            s.as_str()
        )),
        None if case.junk => members.push("\"ScanResult\":{}".to_owned()),
        None => {}
    }
    Ok(format!("{{{}}}", members.join(",")))
}

/// Fragments JSON-ish junk is made of.
const FRAGMENTS: [&str; 24] = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"AccountId\"",
    "\"123456789012\"",
    "\"State\"",
    "\"Status\"",
    "\"COMPLETED\"",
    "\"CreationDate\"",
    "1795690000.5",
    "-1e400",
    "\"2026-11-26T10:00:00Z\"",
    "\"ResourceType\"",
    "\"EBS\"",
    "\"BackupJobs\"",
    "\"ScanResult\"",
    "null",
    "\n",
    "\"\\u00\"",
    "\"MessageCategory\"",
    "\"\"",
];

fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(FRAGMENTS.to_vec()).prop_map(|f| f.as_bytes().to_vec()),
            1 => proptest::collection::vec(any::<u8>(), 0..4),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn handle_never_panics_and_always_answers_json(
        method in prop_oneof![4 => Just("GET".to_owned()), 1 => "[A-Za-z]{0,8}", 1 => any::<String>()],
        path in prop_oneof![
            4 => proptest::sample::select(PATHS.to_vec()).prop_map(str::to_owned),
            1 => proptest::sample::select(PATHS.to_vec()).prop_map(|p| format!("{p}/")),
            1 => any::<String>(),
        ],
        query in query_string(),
        token in proptest::option::weighted(0.2, token_junk()),
        request_id in ".{0,40}",
        now in request_now(),
    ) {
        let service = service()?;
        let caller = Caller::new(
            AccountId::parse(ACCOUNTS[1]).map_err(|e| TestCaseError::fail(e.to_string()))?,
            Region::parse(REGIONS[0]).map_err(|e| TestCaseError::fail(e.to_string()))?,
        );
        let query = match token {
            Some(t) => format!("{query}&NextToken={t}"),
            None => query,
        };
        let request = Request::get(&path, &caller, UnixMillis::new(now)).with_method(&method).with_query(&query).with_request_id(&request_id);
        let response = service.handle(&request);
        check_response(&response)?;
        prop_assert_eq!(response.header("x-amzn-RequestId"), Some(request_id.as_str()));
    }

    #[test]
    fn edited_real_tokens_never_panic(
        path in proptest::sample::select(PATHS.to_vec()),
        at in any::<prop::sample::Index>(),
        with in "[A-Za-z0-9_=%+-]",
        now_shift in -DAY_MS..(2 * DAY_MS),
    ) {
        let service = service()?;
        let caller = Caller::new(
            AccountId::parse(ACCOUNTS[1]).map_err(|e| TestCaseError::fail(e.to_string()))?,
            Region::parse(REGIONS[0]).map_err(|e| TestCaseError::fail(e.to_string()))?,
        );
        let query = "State=ANY&ResourceType=ANY&MaxResults=1";
        let token = real_token(&service, path, query, &caller, NOW)
            .ok_or_else(|| TestCaseError::fail("no token on page 1"))?;
        let i = at.index(token.len());
        let mut edited = token.clone();
        edited.replace_range(i..=i, &with);
        let q = format!("{query}&NextToken={edited}");
        let r = service.handle(&Request::get(path, &caller, UnixMillis::new(NOW + now_shift)).with_query(&q).with_request_id("r"));
        check_response(&r)?;
        if edited != token {
            prop_assert_eq!(r.status, 400);
        }
    }

    #[test]
    fn parse_jobs_never_panics_on_bytes(op in op(), bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let lines = bytes.split(|&b| b == b'\n').count();
        if let Err(e) = parse_jobs(op, &bytes, None) {
            if let Position::Line(n) = e.position() {
                prop_assert!((1..=lines).contains(&n), "{} of {}", e, lines);
            }
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn parse_jobs_never_panics_on_jsonish_input(op in op(), bytes in jsonish(), prefix in 0..3usize) {
        let head: &[u8] = [&b""[..], b"{\"BackupJobs\":[", b"["][prefix];
        let input = [head, &bytes].concat();
        let default = Region::parse(DEFAULT_REGION).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = parse_jobs(op, &input, Some(&default));
    }

    #[test]
    fn hand_written_records_round_trip(op in op(), cases in proptest::collection::vec(case(), 0..12), blank in any::<bool>()) {
        let default = Region::parse(DEFAULT_REGION).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = cases.iter().map(|c| expected(op, c)).collect::<Result<Vec<_>, _>>()?;
        let objects = cases.iter().map(|c| write_case(op, c)).collect::<Result<Vec<_>, _>>()?;

        let separator = if blank { "\n\r\n" } else { "\n" };
        let lines = objects.join(separator);
        let parsed = parse_jobs(op, lines.as_bytes(), Some(&default))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{lines}")))?;
        prop_assert_eq!(&parsed, &expected);

        let list = match op {
            Operation::Backup => "BackupJobs",
            Operation::Copy => "CopyJobs",
            Operation::Restore => "RestoreJobs",
            _ => "ScanJobs",
        };
        let document = format!("{{\n  \"{list}\": [\n    {}\n  ],\n  \"NextToken\": \"x\"\n}}\n", objects.join(",\n    "));
        let parsed = parse_jobs(op, document.as_bytes(), Some(&default))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{document}")))?;
        prop_assert_eq!(&parsed, &expected);

        let bare = format!("[{}]", objects.join(","));
        let parsed = parse_jobs(op, bare.as_bytes(), Some(&default))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{bare}")))?;
        prop_assert_eq!(&parsed, &expected);
    }

    #[test]
    fn a_bad_line_is_reported_at_its_line(op in op(), cases in proptest::collection::vec(case(), 1..8), at in any::<prop::sample::Index>()) {
        let default = Region::parse(DEFAULT_REGION).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut objects = cases.iter().map(|c| write_case(op, c)).collect::<Result<Vec<_>, _>>()?;
        let bad = at.index(objects.len());
        objects[bad] = objects[bad].replacen("\"AccountId\":\"", "\"AccountId\":\"x", 1);
        let input = objects.join("\n");
        let e = parse_jobs(op, input.as_bytes(), Some(&default)).err()
            .ok_or_else(|| TestCaseError::fail("a bad AccountId was accepted"))?;
        prop_assert_eq!(e.position(), Position::Line(bad + 1));
        prop_assert_eq!(e.error().field(), Some(backup_summaries::RecordField::AccountId));
    }
}
