#![cfg(feature = "wire")]
//! Golden wire tests (SPEC §2, §7, §8, §9): the exact response bytes, status and headers
//! of `Service::handle` over a fixed data set loaded from `tests/fixtures/`, and the ingestion
//! of list-API job documents and JSON Lines.

use backup_summaries::wire::{
    load_jobs, operation_for_path, parse_jobs, write_rows, IngestError, JobStream, Position,
    Request, Service, WireResponse,
};
use backup_summaries::{
    AccountId, Caller, JobId, JobRecord, JobTable, MalwareScanner, MessageCategory, Operation,
    RecordError, RecordField, Region, ResourceType, ScanResultStatus, State, UnixMillis,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2026-11-26T23:59:59Z: today is 2026-11-26 (1795651200).
const NOW: UnixMillis = UnixMillis::new(1_795_737_599_000);

fn caller() -> Result<Caller, RecordError> {
    Ok(Caller::new("123456789012".parse()?, "us-east-1".parse()?))
}

/// The four fixture files, loaded into one service.
fn service() -> Result<Service, Box<dyn std::error::Error>> {
    let mut service = Service::new();
    let fixtures: [(Operation, &[u8]); 4] = [
        (
            Operation::Backup,
            include_bytes!("fixtures/backup_jobs.json"),
        ),
        (Operation::Copy, include_bytes!("fixtures/copy_jobs.jsonl")),
        (
            Operation::Restore,
            include_bytes!("fixtures/restore_jobs.json"),
        ),
        (Operation::Scan, include_bytes!("fixtures/scan_jobs.json")),
    ];
    for (op, bytes) in fixtures {
        load_jobs(service.table_mut(op), bytes, None)?;
    }
    Ok(service)
}

fn get(service: &Service, path: &str, query: &str) -> Result<WireResponse, RecordError> {
    let caller = caller()?;
    Ok(service.handle(
        &Request::get(path, &caller, NOW)
            .with_query(query)
            .with_request_id("req-1"),
    ))
}

/// Status line, headers in order, blank line, body: what the golden strings pin.
fn render(r: &WireResponse) -> String {
    let mut s = format!("{}\n", r.status);
    for (name, value) in &r.headers {
        s.push_str(&format!("{name}: {value}\n"));
    }
    s.push('\n');
    s.push_str(&String::from_utf8_lossy(&r.body));
    s
}

/// Success bodies: valid JSON, timestamps and counts are numbers, nothing is null, every row
/// has Region, Count, StartTime and EndTime.
fn check_success_body(r: &WireResponse, list: &str) -> TestResult {
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let rows = v[list].as_array().ok_or("list member missing")?;
    assert!(v["AggregationPeriod"].is_string());
    for row in rows {
        let row = row.as_object().ok_or("row is not an object")?;
        for (k, member) in row {
            assert!(!member.is_null(), "{k} is null");
        }
        assert!(row["Count"].is_u64());
        assert!(row["StartTime"].is_number() && row["EndTime"].is_number());
        assert!(row["Region"].is_string());
    }
    assert!(!v.to_string().contains("null"));
    Ok(())
}

const OK_HEADERS: &str = "Content-Type: application/json\nx-amzn-RequestId: req-1\n";

/// Renders each query for the golden strings below (run with `--nocapture` when they change).
fn show(service: &Service, path: &str, query: &str) -> Result<String, RecordError> {
    let r = get(service, path, query)?;
    let text = render(&r);
    println!("--- {path}?{query}\n{text}");
    Ok(text)
}

#[test]
fn backup_summaries_golden() -> TestResult {
    let service = service()?;
    let path = "/audit/backup-job-summaries";
    let text = show(&service, path, "State=ANY&MessageCategory=ANY")?;
    check_success_body(
        &get(&service, path, "State=ANY&MessageCategory=ANY")?,
        "BackupJobSummaries",
    )?;
    assert_eq!(
        text,
        String::new() + "200\n" + OK_HEADERS + "\n" + BACKUP_BODY
    );
    Ok(())
}

#[test]
fn copy_summaries_golden() -> TestResult {
    let service = service()?;
    let path = "/audit/copy-job-summaries";
    let text = show(
        &service,
        path,
        "State=ANY&ResourceType=ANY&MessageCategory=ANY",
    )?;
    check_success_body(&get(&service, path, "State=ANY")?, "CopyJobSummaries")?;
    assert_eq!(
        text,
        String::new() + "200\n" + OK_HEADERS + "\n" + COPY_BODY
    );
    Ok(())
}

#[test]
fn restore_summaries_golden() -> TestResult {
    let service = service()?;
    let path = "/audit/restore-job-summaries";
    let text = show(
        &service,
        path,
        "AggregationPeriod=SEVEN_DAYS&State=ANY&MessageCategory=ANY",
    )?;
    check_success_body(&get(&service, path, "State=ANY")?, "RestoreJobSummaries")?;
    assert_eq!(
        text,
        String::new() + "200\n" + OK_HEADERS + "\n" + RESTORE_BODY
    );
    Ok(())
}

#[test]
fn scan_summaries_golden() -> TestResult {
    let service = service()?;
    let path = "/audit/scan-job-summaries";
    let query = "State=ANY&MalwareScanner=ANY&ScanResultStatus=ANY&ResourceType=ANY";
    let text = show(&service, path, query)?;
    check_success_body(&get(&service, path, query)?, "ScanJobSummaries")?;
    assert_eq!(
        text,
        String::new() + "200\n" + OK_HEADERS + "\n" + SCAN_BODY
    );
    Ok(())
}

#[test]
fn empty_answer_has_an_empty_list_and_no_token() -> TestResult {
    let service = service()?;
    let text = show(&service, "/audit/backup-job-summaries", "ResourceType=EC2")?;
    let body = r#"{"BackupJobSummaries":[],"AggregationPeriod":"ONE_DAY"}"#;
    assert_eq!(text, String::new() + "200\n" + OK_HEADERS + "\n" + body);
    Ok(())
}

#[test]
fn query_strings_are_percent_decoded() -> TestResult {
    let service = service()?;
    let path = "/audit/backup-job-summaries";
    let plain = get(&service, path, "State=ANY&MessageCategory=ANY")?;
    for query in [
        "%53tate=%41NY&MessageCategory=A%4EY",
        "?State=ANY&MessageCategory=ANY",
        "State=ANY&&MessageCategory=ANY&Unknown=1&",
    ] {
        assert_eq!(get(&service, path, query)?, plain, "{query}");
    }
    // `+` is a space: `A+B` is the resource type "A B".
    let r = get(&service, path, "ResourceType=A+B%2BC")?;
    assert_eq!(r.status, 200);
    let r = get(&service, path, "State=COMPLETED+")?;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8(r.body)?.contains(r#"invalid State \"COMPLETED \""#));
    Ok(())
}

#[test]
fn pages_follow_the_next_token() -> TestResult {
    let service = service()?;
    let path = "/audit/backup-job-summaries";
    let first = "State=ANY&MessageCategory=ANY&MaxResults=2";
    let text = show(&service, path, first)?;
    assert_eq!(
        text,
        String::new() + "200\n" + OK_HEADERS + "\n" + PAGE_1_BODY
    );

    let token = |r: &WireResponse| -> Result<Option<String>, serde_json::Error> {
        let v: serde_json::Value = serde_json::from_slice(&r.body)?;
        Ok(v["NextToken"].as_str().map(str::to_owned))
    };
    let r = get(&service, path, first)?;
    let t1 = token(&r)?.ok_or("no NextToken on page 1")?;
    let encoded: String = form_urlencoded::byte_serialize(t1.as_bytes()).collect();
    let second = format!("State=ANY&MessageCategory=ANY&MaxResults=2&NextToken={encoded}");
    let text = show(&service, path, &second)?;
    assert_eq!(
        text,
        String::new() + "200\n" + OK_HEADERS + "\n" + PAGE_2_BODY
    );

    // Walking every page gives the unpaginated rows, and write_rows writes them as one body.
    let mut rows = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let query = match &next {
            None => first.to_owned(),
            Some(t) => format!("{first}&NextToken={t}"),
        };
        let r = get(&service, path, &query)?;
        assert_eq!(r.status, 200, "{}", render(&r));
        let v: serde_json::Value = serde_json::from_slice(&r.body)?;
        let page = v["BackupJobSummaries"].as_array().ok_or("no list")?;
        assert!(!page.is_empty() && page.len() <= 2);
        rows.extend(page.iter().cloned());
        next = token(&r)?;
        if next.is_none() {
            break;
        }
    }
    let all: serde_json::Value = serde_json::from_str(BACKUP_BODY)?;
    assert_eq!(Some(&rows), all["BackupJobSummaries"].as_array());

    let caller = caller()?;
    let query = backup_summaries::Query::from_pairs(
        Operation::Backup,
        [("State", "ANY"), ("MessageCategory", "ANY")],
    )?;
    let summary =
        backup_summaries::summarize(&query, &caller, NOW, service.table(Operation::Backup));
    let mut body = Vec::new();
    write_rows(
        Operation::Backup,
        query.period(),
        summary.rows(),
        None,
        &mut body,
    );
    assert_eq!(String::from_utf8(body)?, BACKUP_BODY);
    Ok(())
}

#[test]
fn bad_state_is_invalid_parameter_value() -> TestResult {
    let text = show(
        &service()?,
        "/audit/restore-job-summaries",
        "State=COMPLETING",
    )?;
    let expected = String::new()
        + "400\n"
        + OK_HEADERS
        + "x-amzn-ErrorType: InvalidParameterValueException\n\n"
        + r#"{"Code":"InvalidParameterValueException","Message":"invalid State \"COMPLETING\": expected CREATED, PENDING, RUNNING, ABORTED, COMPLETED, FAILED, ANY or AGGREGATE_ALL"}"#;
    assert_eq!(text, expected);
    Ok(())
}

#[test]
fn repeated_parameter_is_invalid_parameter_value() -> TestResult {
    let text = show(
        &service()?,
        "/audit/backup-job-summaries",
        "State=ANY&MaxResults=5&State=FAILED",
    )?;
    let expected = String::new()
        + "400\n"
        + OK_HEADERS
        + "x-amzn-ErrorType: InvalidParameterValueException\n\n"
        + r#"{"Code":"InvalidParameterValueException","Message":"invalid State \"FAILED\": parameter State given more than once; expected it at most once"}"#;
    assert_eq!(text, expected);
    Ok(())
}

#[test]
fn bad_next_token_is_invalid_parameter_value() -> TestResult {
    let text = show(
        &service()?,
        "/audit/scan-job-summaries",
        "NextToken=bm90LWEtdG9rZW4",
    )?;
    let expected = String::new()
        + "400\n"
        + OK_HEADERS
        + "x-amzn-ErrorType: InvalidParameterValueException\n\n"
        + r#"{"Code":"InvalidParameterValueException","Message":"invalid NextToken \"bm90LWEtdG9rZW4\": it does not decode; expected a NextToken returned by the previous page of this same query"}"#;
    assert_eq!(text, expected);
    Ok(())
}

#[test]
fn a_token_of_another_query_is_rejected() -> TestResult {
    let service = service()?;
    let path = "/audit/backup-job-summaries";
    let r = get(&service, path, "State=ANY&MessageCategory=ANY&MaxResults=1")?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let token = v["NextToken"].as_str().ok_or("no token")?;
    let r = get(
        &service,
        path,
        &format!("State=ANY&MaxResults=1&NextToken={token}"),
    )?;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (400, Some("InvalidParameterValueException"))
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body)?;
    let quoted: String = token.chars().take(64).collect();
    assert_eq!(
        body["Message"],
        format!("invalid NextToken \"{quoted}\": it was issued for another operation, query or caller; expected a NextToken returned by the previous page of this same query")
    );
    Ok(())
}

#[test]
fn unknown_path_is_404_unknown_operation() -> TestResult {
    let text = show(&service()?, "/audit/backup-job-summaries/", "")?;
    let expected = String::new()
        + "404\n"
        + OK_HEADERS
        + "x-amzn-ErrorType: UnknownOperationException\n\n"
        + r#"{"Code":"UnknownOperationException","Message":"unknown operation \"GET\" \"/audit/backup-job-summaries/\": expected GET on /audit/backup-job-summaries, /audit/copy-job-summaries, /audit/restore-job-summaries or /audit/scan-job-summaries"}"#;
    assert_eq!(text, expected);
    let caller = caller()?;
    let post = Request::get("/nope", &caller, NOW)
        .with_method("POST")
        .with_request_id("req-1");
    assert_eq!(service()?.handle(&post).status, 404);
    Ok(())
}

#[test]
fn other_methods_are_405_method_not_allowed() -> TestResult {
    let caller = caller()?;
    let request = Request::get("/audit/copy-job-summaries", &caller, NOW)
        .with_method("POST")
        .with_query("State=ANY")
        .with_request_id("req-1");
    let text = render(&service()?.handle(&request));
    println!("{text}");
    let expected = String::new()
        + "405\n"
        + OK_HEADERS
        + "x-amzn-ErrorType: MethodNotAllowedException\nAllow: GET\n\n"
        + r#"{"Code":"MethodNotAllowedException","Message":"method \"POST\" not allowed on /audit/copy-job-summaries: expected GET"}"#;
    assert_eq!(text, expected);
    let lower = Request::get("/audit/copy-job-summaries", &caller, NOW)
        .with_method("get")
        .with_request_id("req-1");
    assert_eq!(service()?.handle(&lower).status, 405);
    Ok(())
}

#[test]
fn error_code_header_and_body_agree() -> TestResult {
    let service = service()?;
    for (path, query) in [
        ("/audit/backup-job-summaries", "MaxResults=0"),
        ("/audit/backup-job-summaries", "AccountId=12"),
        ("/audit/copy-job-summaries", "NextToken="),
        ("/x", ""),
    ] {
        let r = get(&service, path, query)?;
        let body: serde_json::Value = serde_json::from_slice(&r.body)?;
        assert_eq!(r.header("x-amzn-ErrorType"), body["Code"].as_str());
        assert_eq!(r.header("x-amzn-RequestId"), Some("req-1"));
        assert!(body["Message"].is_string());
        assert_eq!(body.as_object().map(serde_json::Map::len), Some(2));
    }
    Ok(())
}

#[test]
fn operation_paths_match_exactly() {
    assert_eq!(
        operation_for_path("/audit/scan-job-summaries"),
        Some(Operation::Scan)
    );
    for bad in [
        "/audit/scan-job-summaries/",
        "audit/scan-job-summaries",
        "/audit/scan-job-summaries?x",
        "/AUDIT/scan-job-summaries",
    ] {
        assert_eq!(operation_for_path(bad), None, "{bad}");
    }
}

// ---- ingestion ---------------------------------------------------------------------------

fn job(state: State, resource: &str, ms: i64) -> Result<JobRecord, RecordError> {
    Ok(JobRecord::new(
        AccountId::parse("123456789012")?,
        Region::parse("us-east-1")?,
        state,
        ResourceType::parse(resource)?,
        UnixMillis::new(ms),
    ))
}

#[test]
fn list_backup_jobs_document_with_epoch_seconds() -> TestResult {
    let jobs = parse_jobs(
        Operation::Backup,
        include_bytes!("fixtures/backup_jobs.json"),
        None,
    )?;
    assert_eq!(jobs.len(), 9);
    let success = Some(MessageCategory::parse("SUCCESS")?);
    // The first record carries its BackupJobId: the job's identity (SPEC §10).
    let id = JobId::parse("4d1c0a5e-0000-4000-8000-000000000001")?;
    assert_eq!(
        jobs[0],
        job(State::Completed, "EBS", 1_795_690_000_123)?
            .with_message_category(success.clone())
            .with_job_id(Some(id))
    );
    assert_eq!(
        jobs[1],
        job(State::Completed, "EBS", 1_795_700_000_000)?.with_message_category(success)
    );
    assert_eq!(jobs[2].creation_date(), UnixMillis::new(1_795_710_000_999));
    assert_eq!(jobs[5].region().as_str(), "eu-west-1");
    assert_eq!(jobs[6].account_id().to_string(), "210987654321");
    assert_eq!(jobs[7].creation_date(), UnixMillis::new(1_794_527_999_999));
    // 1.7956512E9: exponent notation, as the raw API may print it.
    assert_eq!(jobs[8], job(State::Running, "EBS", 1_795_651_200_000)?);
    Ok(())
}

#[test]
fn aws_cli_v2_rfc3339_strings() -> TestResult {
    let jobs = parse_jobs(
        Operation::Copy,
        include_bytes!("fixtures/copy_jobs.jsonl"),
        None,
    )?;
    let ms: Vec<i64> = jobs.iter().map(|j| j.creation_date().as_millis()).collect();
    assert_eq!(
        ms,
        [
            1_795_687_200_123,
            1_795_651_199_999,
            1_795_651_200_000,
            1_795_653_000_000
        ]
    );
    let doc =
        br#"{"BackupJobs":[{"AccountId":"123456789012","State":"CREATED","ResourceType":"EBS",
        "CreationDate":"2026-11-26T10:00:00.123456+00:00","Region":"us-east-1"}]}"#;
    let jobs = parse_jobs(Operation::Backup, doc, None)?;
    assert_eq!(jobs, [job(State::Created, "EBS", 1_795_687_200_123)?]);
    for bad in [
        "2026-11-26",
        "2026-11-26T10:00:00",
        "yesterday",
        "1795687200",
        "",
    ] {
        let line = format!(
            r#"{{"AccountId":"123456789012","State":"CREATED","ResourceType":"EBS","CreationDate":"{bad}","Region":"us-east-1"}}"#
        );
        let e = parse_jobs(Operation::Backup, line.as_bytes(), None)
            .err()
            .ok_or(bad)?;
        assert_eq!(
            e.error().field(),
            Some(RecordField::CreationDate),
            "{bad}: {e}"
        );
    }
    Ok(())
}

#[test]
fn json_lines_with_a_bad_line_names_line_and_field() -> TestResult {
    let input = concat!(
        r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000,"Region":"us-east-1"}"#,
        "\n\n",
        r#"{"AccountId":"12","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000,"Region":"us-east-1"}"#,
        "\n",
    );
    let e = parse_jobs(Operation::Backup, input.as_bytes(), None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.position(), Position::Line(3));
    assert_eq!(e.error().field(), Some(RecordField::AccountId));
    assert_eq!(
        e.to_string(),
        r#"line 3: invalid AccountId "12": expected exactly 12 digits"#
    );

    let malformed = "\n\n{\"AccountId\": \"123456789012\",\n";
    let e = parse_jobs(Operation::Backup, malformed.as_bytes(), None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.position(), Position::Line(3));
    assert!(matches!(e.error(), RecordError::Malformed { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "line 3: malformed record: EOF while parsing a value at column 29"
    );

    let missing = r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","Region":"us-east-1"}"#;
    let e = parse_jobs(Operation::Backup, missing.as_bytes(), None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.to_string(), "line 1: missing CreationDate");
    Ok(())
}

#[test]
fn a_json_array_is_not_a_record() -> TestResult {
    // serde's derive would fill the fields by position from an array; SPEC §2 says malformed.
    let doc = br#"{"BackupJobs":[["123456789012","COMPLETED",null,"EBS",1795690000,null,null,null,"us-east-1"]]}"#;
    let e = parse_jobs(Operation::Backup, doc, None)
        .err()
        .ok_or("an array was accepted as a record")?;
    assert_eq!(e.position(), Position::Index(0));
    assert!(
        e.to_string()
            .contains("expected a job record (a JSON object)"),
        "{e}"
    );
    let line = b"{\"AccountId\":\"123456789012\",\"State\":\"COMPLETED\",\"ResourceType\":\"EBS\",\"CreationDate\":1,\"Region\":\"r\"}\n[\"123456789012\"]\n";
    let e = parse_jobs(Operation::Backup, line, None)
        .err()
        .ok_or("an array line was accepted as a record")?;
    assert_eq!(e.position(), Position::Line(2));
    Ok(())
}

#[test]
fn document_errors_name_the_record_index() -> TestResult {
    let doc = br#"{"BackupJobs": [
        {"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000,"Region":"us-east-1"},
        {"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","Region":"us-east-1"}
    ]}"#;
    let e = parse_jobs(Operation::Backup, doc, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.position(), Position::Index(1));
    assert_eq!(
        e.to_string(),
        "record 1 of BackupJobs: missing CreationDate"
    );

    let syntax = b"{\"BackupJobs\": [\n {\"AccountId\":\"123456789012\",\"State\":\"COMPLETED\",\"ResourceType\":\"EBS\",\"CreationDate\":1,\"Region\":\"r\"},\n {\"AccountId\" \"x\"}\n]}";
    let e = parse_jobs(Operation::Backup, syntax, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.position(), Position::Index(1));
    assert_eq!(
        e.to_string(),
        "record 1 of BackupJobs: malformed record: expected `:` at line 3 column 15"
    );

    let bare = br#"[{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r"}, 7]"#;
    let e = parse_jobs(Operation::Backup, bare, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.position(), Position::Index(1));
    assert!(
        e.to_string()
            .starts_with("record 1: malformed record: invalid type: integer `7`"),
        "{e}"
    );

    let trailing = b"{\"BackupJobs\": []}\n{\"BackupJobs\": []}\n";
    let e = parse_jobs(Operation::Backup, trailing, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.position(), Position::Line(2));

    let wrong_kind = b"{\"CopyJobs\": []}";
    let e = parse_jobs(Operation::Backup, wrong_kind, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.to_string(), "line 1: malformed record: the document lists CopyJobs, not BackupJobs, the jobs of ListBackupJobSummaries");

    let duplicate = b"{\"BackupJobs\": [], \"BackupJobs\": []}";
    let e = parse_jobs(Operation::Backup, duplicate, None)
        .err()
        .ok_or("accepted")?;
    assert!(e.to_string().contains("duplicate member BackupJobs"), "{e}");

    assert_eq!(
        parse_jobs(Operation::Backup, b"{\"BackupJobs\": []}", None)?,
        []
    );
    assert_eq!(parse_jobs(Operation::Backup, b"[]", None)?, []);
    assert_eq!(parse_jobs(Operation::Backup, b"", None)?, []);
    assert_eq!(parse_jobs(Operation::Backup, b" \n\r\n\t", None)?, []);
    Ok(())
}

#[test]
fn restore_jobs_use_the_status_member() -> TestResult {
    let jobs = parse_jobs(
        Operation::Restore,
        include_bytes!("fixtures/restore_jobs.json"),
        None,
    )?;
    let states: Vec<State> = jobs.iter().map(JobRecord::state).collect();
    assert_eq!(
        states,
        [
            State::Completed,
            State::Failed,
            State::Completed,
            State::Pending
        ]
    );
    assert!(jobs.iter().all(|j| j.message_category().is_none()));

    // `State` is not read for restore jobs, `Status` is.
    let line = br#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r"}"#;
    let e = parse_jobs(Operation::Restore, line, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.to_string(), "line 1: missing Status");
    let line = br#"{"AccountId":"123456789012","Status":"EXPIRED","ResourceType":"EBS","CreationDate":1,"Region":"r"}"#;
    let e = parse_jobs(Operation::Restore, line, None)
        .err()
        .ok_or("accepted")?;
    assert!(
        matches!(
            e.error(),
            RecordError::WrongKind {
                field: RecordField::Status,
                ..
            }
        ),
        "{e}"
    );
    Ok(())
}

#[test]
fn scan_jobs_read_scan_result_status() -> TestResult {
    let jobs = parse_jobs(
        Operation::Scan,
        include_bytes!("fixtures/scan_jobs.json"),
        None,
    )?;
    let results: Vec<_> = jobs
        .iter()
        .map(|j| (j.state(), j.malware_scanner(), j.scan_result_status()))
        .collect();
    assert_eq!(
        results,
        [
            (
                State::Completed,
                Some(MalwareScanner::GuardDuty),
                Some(ScanResultStatus::NoThreatsFound)
            ),
            (
                State::Completed,
                Some(MalwareScanner::GuardDuty),
                Some(ScanResultStatus::ThreatsFound)
            ),
            (State::Failed, Some(MalwareScanner::GuardDuty), None),
            (
                State::CompletedWithIssues,
                Some(MalwareScanner::GuardDuty),
                None
            ),
        ]
    );
    let line = br#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r","ScanResult":{"ScanResultStatus":"CLEAN"}}"#;
    let e = parse_jobs(Operation::Scan, line, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(
        e.to_string(),
        r#"line 1: invalid ScanResult.ScanResultStatus "CLEAN": expected NO_THREATS_FOUND, THREATS_FOUND or UNKNOWN"#
    );
    let line = br#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r","ScanResult":"CLEAN"}"#;
    let e = parse_jobs(Operation::Scan, line, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(
        e.to_string(),
        r#"line 1: invalid ScanResult "CLEAN": expected an object"#
    );
    let line = br#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r","ScanResult":{"ScanResultStatus":"THREATS_FOUND","ScanResultStatus":null}}"#;
    let e = parse_jobs(Operation::Scan, line, None)
        .err()
        .ok_or("accepted")?;
    assert!(matches!(e.error(), RecordError::Malformed { .. }), "{e}");
    let line = br#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r","ScanResult":{"Other":1,"ScanResultStatus":null}}"#;
    assert_eq!(
        parse_jobs(Operation::Scan, line, None)?[0].scan_result_status(),
        None
    );
    let line = br#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r","MalwareScanner":"CLAMAV"}"#;
    let e = parse_jobs(Operation::Scan, line, None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.error().field(), Some(RecordField::MalwareScanner));
    Ok(())
}

/// Scan jobs of the list-scan-jobs shape, two of them with the result `UNKNOWN` (SPEC §1:
/// current AWS SDK models have it, older botocore does not).
const SCAN_WITH_UNKNOWN: &[u8] = br#"{"ScanJobs": [
  {"ScanJobId": "u1", "AccountId": "123456789012", "State": "COMPLETED", "ResourceType": "EBS", "CreationDate": 1795690000, "Region": "us-east-1", "MalwareScanner": "GUARDDUTY", "ScanResult": {"ScanResultStatus": "UNKNOWN"}},
  {"ScanJobId": "u2", "AccountId": "123456789012", "State": "COMPLETED", "ResourceType": "EBS", "CreationDate": 1795690001, "Region": "us-east-1", "MalwareScanner": "GUARDDUTY", "ScanResult": {"ScanResultStatus": "UNKNOWN"}},
  {"ScanJobId": "t1", "AccountId": "123456789012", "State": "COMPLETED", "ResourceType": "EBS", "CreationDate": 1795690002, "Region": "us-east-1", "MalwareScanner": "GUARDDUTY", "ScanResult": {"ScanResultStatus": "THREATS_FOUND"}},
  {"ScanJobId": "n1", "AccountId": "123456789012", "State": "COMPLETED", "ResourceType": "EBS", "CreationDate": 1795690003, "Region": "us-east-1", "MalwareScanner": "GUARDDUTY", "ScanResult": {"ScanResultStatus": "NO_THREATS_FOUND"}},
  {"ScanJobId": "r1", "AccountId": "123456789012", "State": "RUNNING", "ResourceType": "EBS", "CreationDate": 1795690004, "Region": "us-east-1", "MalwareScanner": "GUARDDUTY"}
]}"#;

/// `ScanResultStatus: Count` of each row of a successful scan-summary response, `-` for an
/// absent status.
fn scan_result_counts(r: &WireResponse) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    check_success_body(r, "ScanJobSummaries")?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let rows = v["ScanJobSummaries"]
        .as_array()
        .ok_or("list member missing")?;
    rows.iter()
        .map(|row| {
            let status = match row.get("ScanResultStatus") {
                None => "-",
                Some(s) => s.as_str().ok_or("ScanResultStatus is not a string")?,
            };
            let count = row["Count"].as_u64().ok_or("Count is not an integer")?;
            Ok(format!("{status}: {count}"))
        })
        .collect()
}

#[test]
fn scan_result_status_unknown_is_counted_and_shown() -> TestResult {
    let jobs = parse_jobs(Operation::Scan, SCAN_WITH_UNKNOWN, None)?;
    let statuses: Vec<_> = jobs.iter().map(JobRecord::scan_result_status).collect();
    assert_eq!(
        statuses,
        [
            Some(ScanResultStatus::Unknown),
            Some(ScanResultStatus::Unknown),
            Some(ScanResultStatus::ThreatsFound),
            Some(ScanResultStatus::NoThreatsFound),
            None,
        ]
    );
    let mut service = Service::new();
    load_jobs(service.table_mut(Operation::Scan), SCAN_WITH_UNKNOWN, None)?;
    let path = "/audit/scan-job-summaries";
    let split = get(
        &service,
        path,
        "ScanResultStatus=ANY&AggregationPeriod=SEVEN_DAYS",
    )?;
    assert_eq!(split.status, 200, "{}", render(&split));
    assert_eq!(
        scan_result_counts(&split)?,
        [
            "-: 1",
            "NO_THREATS_FOUND: 1",
            "THREATS_FOUND: 1",
            "UNKNOWN: 2",
        ]
    );
    let only = get(
        &service,
        path,
        "ScanResultStatus=UNKNOWN&AggregationPeriod=SEVEN_DAYS",
    )?;
    assert_eq!(only.status, 200, "{}", render(&only));
    assert_eq!(scan_result_counts(&only)?, ["UNKNOWN: 2"]);
    let collapsed = get(&service, path, "AggregationPeriod=SEVEN_DAYS")?;
    assert_eq!(scan_result_counts(&collapsed)?, ["AGGREGATE_ALL: 5"]);
    // The other values still filter, and UNKNOWN does not leak into them.
    let threats = get(
        &service,
        path,
        "ScanResultStatus=THREATS_FOUND&AggregationPeriod=SEVEN_DAYS",
    )?;
    assert_eq!(scan_result_counts(&threats)?, ["THREATS_FOUND: 1"]);
    // Spelled exactly: a lower-case `unknown` is a bad parameter, not a filter.
    let lower = get(&service, path, "ScanResultStatus=unknown")?;
    assert_eq!(lower.status, 400, "{}", render(&lower));
    assert!(String::from_utf8_lossy(&lower.body).contains("ScanResultStatus"));
    Ok(())
}

#[test]
fn unknown_scan_values_in_a_record_are_bad_records_naming_the_field() -> TestResult {
    let record = |scanner: &str, status: &str| {
        format!(
            r#"{{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r","MalwareScanner":"{scanner}","ScanResult":{{"ScanResultStatus":"{status}"}}}}"#
        )
    };
    for (scanner, status, field) in [
        ("GUARDDUTY", "BOGUS", "ScanResult.ScanResultStatus"),
        ("GUARDDUTY", "unknown", "ScanResult.ScanResultStatus"),
        ("BOGUS", "UNKNOWN", "MalwareScanner"),
        ("UNKNOWN", "UNKNOWN", "MalwareScanner"),
    ] {
        let line = record(scanner, status);
        let e = parse_jobs(Operation::Scan, line.as_bytes(), None)
            .err()
            .ok_or("accepted")?;
        assert_eq!(
            e.error().field().map(RecordField::as_str),
            Some(field),
            "{e}"
        );
        assert_eq!(e.position(), Position::Line(1), "{e}");
        // Nothing of a rejected batch is stored.
        let mut table = JobTable::new(Operation::Scan);
        let both = format!("{}\n{line}", record("GUARDDUTY", "UNKNOWN"));
        assert!(load_jobs(&mut table, both.as_bytes(), None).is_err());
        assert!(table.is_empty());
    }
    let e = parse_jobs(
        Operation::Scan,
        record("GUARDDUTY", "BOGUS").as_bytes(),
        None,
    )
    .err()
    .ok_or("accepted")?;
    assert_eq!(
        e.to_string(),
        r#"line 1: invalid ScanResult.ScanResultStatus "BOGUS": expected NO_THREATS_FOUND, THREATS_FOUND or UNKNOWN"#
    );
    Ok(())
}

#[test]
fn region_falls_back_through_arns_then_default() -> TestResult {
    let record = |extra: &str| {
        format!(
            r#"{{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"S3","CreationDate":1795690000{extra}}}"#
        )
    };
    let default = Region::parse("ap-south-1")?;
    let cases = [
        (
            r#","Region":"sa-east-1","BackupVaultArn":"arn:aws:backup:us-east-1:1:backup-vault:V""#,
            "sa-east-1",
        ),
        (
            r#","ResourceArn":"arn:aws:s3:::bucket","BackupVaultArn":"arn:aws:backup:us-east-1:1:backup-vault:V""#,
            "us-east-1",
        ),
        (
            r#","SourceBackupVaultArn":"arn:aws:backup:eu-west-1:1:backup-vault:V","RecoveryPointArn":"arn:aws:backup:us-west-2:1:recovery-point:x""#,
            "eu-west-1",
        ),
        (
            r#","RecoveryPointArn":"arn:aws:backup:us-west-2:1:recovery-point:x","ResourceArn":"arn:aws:ec2:eu-north-1:1:volume/v""#,
            "us-west-2",
        ),
        (
            r#","RecoveryPointArn":"arn:aws:s3:::bucket/key","ResourceArn":"arn:aws:ec2:eu-north-1:1:volume/v""#,
            "eu-north-1",
        ),
        (r#","ResourceArn":"arn:aws:s3:::bucket""#, "ap-south-1"),
        (r#","BackupVaultArn":"not-an-arn:x:y:z""#, "ap-south-1"),
        (r#","BackupVaultArn":null"#, "ap-south-1"),
        ("", "ap-south-1"),
    ];
    for (extra, region) in cases {
        let jobs = parse_jobs(Operation::Backup, record(extra).as_bytes(), Some(&default))?;
        assert_eq!(jobs[0].region().as_str(), region, "{extra}");
    }
    let e = parse_jobs(
        Operation::Backup,
        record(r#","ResourceArn":"arn:aws:s3:::bucket""#).as_bytes(),
        None,
    )
    .err()
    .ok_or("accepted")?;
    assert_eq!(e.to_string(), "line 1: missing Region");
    let e = parse_jobs(
        Operation::Backup,
        record(r#","Region":"""#).as_bytes(),
        Some(&default),
    )
    .err()
    .ok_or("accepted")?;
    assert_eq!(e.error().field(), Some(RecordField::Region));
    Ok(())
}

#[test]
fn an_empty_message_category_in_a_record_is_absent() -> TestResult {
    let line = br#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000,"Region":"us-east-1","MessageCategory":""}"#;
    let jobs = parse_jobs(Operation::Backup, line, None)?;
    assert_eq!(jobs, [job(State::Completed, "EBS", 1_795_690_000_000)?]);
    assert_eq!(jobs[0].message_category(), None);
    let jobs = parse_jobs(Operation::Copy, line, None)?;
    assert_eq!(jobs[0].message_category(), None);
    // Under ANY the row omits the member (see BACKUP_BODY's first COMPLETED row of today).
    assert!(BACKUP_BODY.contains(
        r#""State":"COMPLETED","ResourceType":"AGGREGATE_ALL","Count":1,"StartTime":1795651200"#
    ));
    Ok(())
}

#[test]
fn fractional_seconds_are_truncated_to_milliseconds() -> TestResult {
    let cases: [(&str, i64); 9] = [
        ("1795000000.1239", 1_795_000_000_123),
        ("1795000000.123999", 1_795_000_000_123),
        ("1795000000.9999", 1_795_000_000_999),
        ("1795000000.0009", 1_795_000_000_000),
        ("1795000000.5", 1_795_000_000_500),
        ("1.7950000001239E9", 1_795_000_000_123),
        ("1795000000e0", 1_795_000_000_000),
        ("0.0001", 0),
        ("-1.5", -1_500),
    ];
    for (number, ms) in cases {
        let line = format!(
            r#"{{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":{number},"Region":"r"}}"#
        );
        let jobs = parse_jobs(Operation::Backup, line.as_bytes(), None)?;
        assert_eq!(jobs[0].creation_date(), UnixMillis::new(ms), "{number}");
    }
    Ok(())
}

#[test]
fn negative_and_huge_numbers_are_handled_without_panic() -> TestResult {
    let accepted: [(&str, i64); 3] = [("-1", -1_000), ("0", 0), ("-86400.25", -86_400_250)];
    for (number, ms) in accepted {
        let line = format!(
            r#"{{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":{number},"Region":"r"}}"#
        );
        let jobs = parse_jobs(Operation::Backup, line.as_bytes(), None)?;
        assert_eq!(jobs[0].creation_date(), UnixMillis::new(ms), "{number}");
    }
    for number in [
        "18446744073709551615",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775.807",
        "1e300",
        "-1e300",
        "1e400",
        "99999999999999999999999999",
        "true",
        "[1]",
        "{}",
        "\"\"",
    ] {
        let line = format!(
            r#"{{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":{number},"Region":"r"}}"#
        );
        let e = parse_jobs(Operation::Backup, line.as_bytes(), None)
            .err()
            .ok_or(number)?;
        match e.error() {
            RecordError::Invalid { field, .. } => {
                assert_eq!(*field, RecordField::CreationDate, "{number}")
            }
            RecordError::Malformed { .. } => assert_eq!(number, "1e400", "{e}"),
            other => return Err(format!("{number}: {other}").into()),
        }
    }
    Ok(())
}

#[test]
fn unknown_fields_are_ignored() -> TestResult {
    let line = br#"{"Whatever":{"deep":[1,{"x":null}]},"AccountId":"123456789012","BackupSizeInBytes":1e20,"State":"COMPLETED","IsParent":true,"ResourceType":"EBS","CreationDate":1795690000,"Region":"us-east-1","MalwareScanner":"NOT-FOR-BACKUP","ScanResult":7,"Status":"NOPE"}"#;
    let jobs = parse_jobs(Operation::Backup, line, None)?;
    assert_eq!(jobs, [job(State::Completed, "EBS", 1_795_690_000_000)?]);
    Ok(())
}

#[test]
fn escaped_strings_and_byte_order_mark_are_accepted() -> TestResult {
    let input = "\u{feff}{\"AccountId\":\"1234567890\\u0031\\u0032\",\"State\":\"COMPLETED\",\"ResourceType\":\"E\\\"BS\",\"CreationDate\":1795690000,\"Region\":\"us-east-1\"}\r\n";
    let jobs = parse_jobs(Operation::Backup, input.as_bytes(), None)?;
    assert_eq!(jobs, [job(State::Completed, "E\"BS", 1_795_690_000_000)?]);
    Ok(())
}

#[test]
fn wrong_types_name_the_field() -> TestResult {
    let cases = [
        (
            r#""AccountId":123456789012,"State":"COMPLETED","ResourceType":"EBS""#,
            "AccountId",
        ),
        (
            r#""AccountId":"123456789012","State":5,"ResourceType":"EBS""#,
            "State",
        ),
        (
            r#""AccountId":"123456789012","State":"completed","ResourceType":"EBS""#,
            "State",
        ),
        (
            r#""AccountId":"123456789012","State":"COMPLETED","ResourceType":["EBS"]"#,
            "ResourceType",
        ),
        (
            r#""AccountId":"123456789012","State":"COMPLETED","ResourceType":"""#,
            "ResourceType",
        ),
        (
            r#""AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","MessageCategory":false"#,
            "MessageCategory",
        ),
        (
            r#""AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","BackupVaultArn":7"#,
            "BackupVaultArn",
        ),
    ];
    for (members, field) in cases {
        let line = format!(r#"{{{members},"CreationDate":1795690000}}"#);
        let e = parse_jobs(
            Operation::Backup,
            line.as_bytes(),
            Some(&Region::parse("r")?),
        )
        .err()
        .ok_or(field)?;
        assert_eq!(
            e.error().field().map(RecordField::as_str),
            Some(field),
            "{e}"
        );
    }
    let e = parse_jobs(Operation::Backup, b"[\"x\"]\n", None)
        .err()
        .ok_or("accepted")?;
    assert!(matches!(e.error(), RecordError::Malformed { .. }));
    let e = parse_jobs(Operation::Backup, b"7\n", None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.to_string(), "line 1: malformed record: invalid type: integer `7`, expected a job record (a JSON object) at column 1");
    Ok(())
}

#[test]
fn load_jobs_is_all_or_nothing() -> TestResult {
    let mut table = JobTable::new(Operation::Backup);
    let added = load_jobs(
        &mut table,
        include_bytes!("fixtures/backup_jobs.json"),
        None,
    )?;
    assert_eq!((added, table.len()), (9, 9));
    let input = concat!(
        r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000,"Region":"us-east-1"}"#,
        "\n",
        r#"{"AccountId":"123456789012","State":"COMPLETING","ResourceType":"EBS","CreationDate":1795690000,"Region":"us-east-1"}"#,
    );
    let e: IngestError = load_jobs(&mut table, input.as_bytes(), None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.position(), Position::Line(2));
    assert!(matches!(
        e.error(),
        RecordError::WrongKind {
            field: RecordField::State,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        r#"line 2: invalid State "COMPLETING" for ListBackupJobSummaries: expected one of CREATED PENDING RUNNING ABORTING ABORTED COMPLETED FAILED EXPIRED PARTIAL"#
    );
    assert_eq!(table.len(), 9);
    Ok(())
}
// ---- golden bodies -----------------------------------------------------------------------

const BACKUP_BODY: &str = concat!(
    r#"{"BackupJobSummaries":[{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"AGGREGATE_ALL","MessageCategory":"SUCCESS","Count":1,"StartTime":1795478400,"EndTime":1795564800},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"FAILED","ResourceType":"AGGREGATE_ALL","MessageCategory":"ACCESS_DENIED","Count":1,"StartTime":1795564800,"EndTime":1795651200},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"AGGREGATE_ALL","Count":1,"StartTime":1795651200,"EndTime":1795737600},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"AGGREGATE_ALL","MessageCategory":"SUCCESS","Count":2,"StartTime":1795651200,"EndTime":1795737600},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"RUNNING","ResourceType":"AGGREGATE_ALL","Count":1,"StartTime":1795651200,"EndTime":1795737600}],"AggregationPeriod":"ONE_DAY"}"#,
);
const COPY_BODY: &str = concat!(
    r#"{"CopyJobSummaries":[{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"RDS","MessageCategory":"SUCCESS","Count":1,"StartTime":1795564800,"EndTime":1795651200},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","MessageCategory":"SUCCESS","Count":2,"StartTime":1795651200,"EndTime":1795737600},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"FAILED","ResourceType":"EBS","MessageCategory":"ACCESS_DENIED","Count":1,"StartTime":1795651200,"EndTime":1795737600}],"AggregationPeriod":"ONE_DAY"}"#,
);
const RESTORE_BODY: &str = concat!(
    r#"{"RestoreJobSummaries":[{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"AGGREGATE_ALL","Count":1,"StartTime":1795132800,"EndTime":1795737600},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"FAILED","ResourceType":"AGGREGATE_ALL","Count":1,"StartTime":1795132800,"EndTime":1795737600},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"PENDING","ResourceType":"AGGREGATE_ALL","Count":1,"StartTime":1795132800,"EndTime":1795737600}],"AggregationPeriod":"SEVEN_DAYS"}"#,
);
const SCAN_BODY: &str = concat!(
    r#"{"ScanJobSummaries":[{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED_WITH_ISSUES","ResourceType":"S3","MalwareScanner":"GUARDDUTY","Count":1,"StartTime":1795564800,"EndTime":1795651200},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","MalwareScanner":"GUARDDUTY","ScanResultStatus":"NO_THREATS_FOUND","Count":1,"StartTime":1795651200,"EndTime":1795737600},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","MalwareScanner":"GUARDDUTY","ScanResultStatus":"THREATS_FOUND","Count":1,"StartTime":1795651200,"EndTime":1795737600},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"FAILED","ResourceType":"EBS","MalwareScanner":"GUARDDUTY","Count":1,"StartTime":1795651200,"EndTime":1795737600}],"AggregationPeriod":"ONE_DAY"}"#,
);
const PAGE_1_BODY: &str = concat!(
    r#"{"BackupJobSummaries":[{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"AGGREGATE_ALL","MessageCategory":"SUCCESS","Count":1,"StartTime":1795478400,"EndTime":1795564800},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"FAILED","ResourceType":"AGGREGATE_ALL","MessageCategory":"ACCESS_DENIED","Count":1,"StartTime":1795564800,"EndTime":1795651200}],"AggregationPeriod":"ONE_DAY","NextToken":"ARg8TRqiAQAAU7YPNQtjRI4BDAEMMTIzNDU2Nzg5MDEyAQZGQUlMRUQBDUFHR1JFR0FURV9BTEwBDUFDQ0VTU19ERU5JRUQAADaGHdKX75Ka"}"#,
);
const PAGE_2_BODY: &str = concat!(
    r#"{"BackupJobSummaries":[{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"AGGREGATE_ALL","Count":1,"StartTime":1795651200,"EndTime":1795737600},"#,
    r#"{"Region":"us-east-1","AccountId":"123456789012","State":"COMPLETED","ResourceType":"AGGREGATE_ALL","MessageCategory":"SUCCESS","Count":2,"StartTime":1795651200,"EndTime":1795737600}],"AggregationPeriod":"ONE_DAY","NextToken":"ARg8TRqiAQAAU7YPNQtjRI4BDQEMMTIzNDU2Nzg5MDEyAQlDT01QTEVURUQBDUFHR1JFR0FURV9BTEwBB1NVQ0NFU1MAANUbMzieDBlD"}"#,
);

#[test]
fn streaming_edge_cases_keep_their_errors() -> TestResult {
    let ok = r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000,"Region":"r"}"#;
    // Epoch milliseconds are a bad CreationDate, not a job in year 58,900.
    let ms = ok.replace("1795690000", "1795690000123");
    let e = parse_jobs(Operation::Backup, ms.as_bytes(), None)
        .err()
        .ok_or("epoch milliseconds accepted")?;
    assert_eq!(e.error().field(), Some(RecordField::CreationDate), "{e}");
    assert!(e.to_string().contains("epoch milliseconds"), "{e}");
    // 200k-deep nesting in an ignored member: skipped without recursion, in lines and in
    // documents (the document scanner keeps a depth counter, not a stack).
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let line = format!("{ok}\n{{\"X\":{deep},{}\n", &ok[1..]);
    assert_eq!(
        parse_jobs(Operation::Backup, line.as_bytes(), None)?.len(),
        2
    );
    let doc = format!("{{\"BackupJobs\":[{ok},{{\"X\":{deep},{}]}}", &ok[1..]);
    assert_eq!(
        parse_jobs(Operation::Backup, doc.as_bytes(), None)?.len(),
        2
    );
    let unclosed = format!("{{\"BackupJobs\":[{ok},{}", "[".repeat(200_000));
    let e = parse_jobs(Operation::Backup, unclosed.as_bytes(), None)
        .err()
        .ok_or("unclosed nesting accepted")?;
    assert_eq!(e.position(), Position::Index(1));
    // NUL bytes and CR-only line endings are malformed, at the line they are on.
    let nul = format!("{ok}\n\0{ok}\n");
    let e = parse_jobs(Operation::Backup, nul.as_bytes(), None)
        .err()
        .ok_or("NUL accepted")?;
    assert_eq!(e.position(), Position::Line(2));
    let cr = format!("{ok}\r{ok}\r");
    let e = parse_jobs(Operation::Backup, cr.as_bytes(), None)
        .err()
        .ok_or("CR-only accepted")?;
    assert_eq!(e.position(), Position::Line(1));
    // CRLF is fine, and so is a list member that is not first.
    let crlf = format!("{ok}\r\n{ok}\r\n");
    assert_eq!(
        parse_jobs(Operation::Backup, crlf.as_bytes(), None)?.len(),
        2
    );
    let late = format!("{{\"NextToken\":\"x\",\"BackupJobs\":[{ok}, {ok}]}}");
    assert_eq!(
        parse_jobs(Operation::Backup, late.as_bytes(), None)?.len(),
        2
    );
    // A record over the size limit is an error naming its position, whatever the layout.
    let mut stream = JobStream::new(Operation::Backup, None).with_max_record(64);
    let e = stream
        .cut(format!("{ok}\n").as_bytes(), true, 1)
        .and_then(|cut| cut.chunks().iter().try_for_each(|c| stream_merge(c)))
        .err()
        .ok_or("long record accepted")?;
    assert_eq!(
        e.to_string(),
        "line 1: malformed record: record longer than 64 bytes (the limit)"
    );
    let mut stream = JobStream::new(Operation::Backup, None).with_max_record(64);
    let zeros = vec![0u8; 100];
    let e = stream.cut(&zeros, false, 2).err().ok_or("no limit")?;
    assert_eq!(e.position(), Position::Line(1));
    Ok(())
}

/// Parses a chunk on its own, as [`JobStream::merge`] would see it (positions relative).
fn stream_merge(chunk: &backup_summaries::wire::JobChunk<'_>) -> Result<(), IngestError> {
    let mut stream = JobStream::new(Operation::Backup, None);
    stream.merge(chunk.parse_records(&mut Vec::new()))
}

#[test]
fn eventbridge_events_are_jobs_of_their_operation() -> TestResult {
    let event = |detail_type: &str, detail: &str| {
        format!(
            r#"{{"version":"0","id":"e-1","detail-type":"{detail_type}","source":"aws.backup","account":"123456789012","time":"2026-11-26T10:00:00Z","region":"eu-west-1","resources":[],"detail":{{{detail}}}}}"#
        )
    };
    let backup = event(
        "Backup Job State Change",
        r#""backupJobId":"b-1","state":"COMPLETED","resourceType":"EBS","creationDate":"2026-11-26T09:00:00.123Z","messageCategory":"Success""#,
    );
    let lines = format!("{backup}\n{backup}\n");
    let jobs = parse_jobs(Operation::Backup, lines.as_bytes(), None)?;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].region().as_str(), "eu-west-1");
    assert_eq!(jobs[0].state(), State::Completed);
    assert_eq!(
        jobs[0].message_category().map(MessageCategory::as_str),
        Some("SUCCESS")
    );
    assert_eq!(jobs[0].creation_date(), UnixMillis::new(1_795_683_600_123));

    let restore = event(
        "Restore Job State Change",
        r#""restoreJobId":"r-1","status":"FAILED","resourceType":"RDS","creationDate":"2026-11-26T09:00:00Z""#,
    );
    let array = format!("[{restore},\n{restore}]");
    assert_eq!(
        parse_jobs(Operation::Restore, array.as_bytes(), None)?.len(),
        2
    );

    // Another operation's event, an unknown detail-type, any scan event: bad records.
    let lines = format!("{backup}\n{restore}\n");
    let e = parse_jobs(Operation::Backup, lines.as_bytes(), None)
        .err()
        .ok_or("a restore event was a backup job")?;
    assert_eq!(e.position(), Position::Line(2));
    assert_eq!(e.error().field(), Some(RecordField::DetailType));
    let e = parse_jobs(Operation::Scan, backup.as_bytes(), None)
        .err()
        .ok_or("a scan event was accepted")?;
    assert_eq!(e.error().field(), Some(RecordField::DetailType));
    let bad_state = event(
        "Copy Job State Change",
        r#""copyJobId":"c-1","state":"PENDING","resourceType":"EBS","creationDate":"2026-11-26T09:00:00Z""#,
    );
    let e = parse_jobs(Operation::Copy, bad_state.as_bytes(), None)
        .err()
        .ok_or("PENDING copy accepted")?;
    assert_eq!(e.error().field(), Some(RecordField::DetailState), "{e}");
    let no_time = backup.replace(r#""time":"2026-11-26T10:00:00Z","#, "");
    let e = parse_jobs(Operation::Backup, no_time.as_bytes(), None)
        .err()
        .ok_or("an event without time accepted")?;
    assert_eq!(e.to_string(), "line 1: missing time");
    Ok(())
}

#[test]
fn one_record_over_several_lines_is_one_record() -> TestResult {
    let event = "{\n  \"detail-type\": \"Backup Job State Change\",\n  \"account\": \"123456789012\",\n  \"region\": \"eu-west-1\",\n  \"time\": \"2026-11-26T10:00:00Z\",\n  \"detail\": {\n    \"backupJobId\": \"b-1\",\n    \"state\": \"RUNNING\",\n    \"resourceType\": \"EBS\",\n    \"creationDate\": \"2026-11-26T09:00:00Z\"\n  }\n}\n";
    let jobs = parse_jobs(Operation::Backup, event.as_bytes(), None)?;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].region().as_str(), "eu-west-1");
    let bad = event.replace("RUNNING", "DONE");
    let e = parse_jobs(Operation::Backup, bad.as_bytes(), None)
        .err()
        .ok_or("DONE accepted")?;
    assert_eq!(e.position(), Position::Index(0));
    assert_eq!(e.error().field(), Some(RecordField::DetailState));
    // Followed by anything, it is JSON Lines again, and its first line is malformed.
    let two = format!("{event}{event}");
    let e = parse_jobs(Operation::Backup, two.as_bytes(), None)
        .err()
        .ok_or("accepted")?;
    assert_eq!(e.position(), Position::Line(1));
    Ok(())
}
