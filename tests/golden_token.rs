#![cfg(feature = "wire")]
//! The golden NextToken vectors (SPEC §7, the layout in `src/cursor.rs`), from both sides:
//! `tests/golden/next_token.py` computes them from the documented layout alone and must
//! print exactly `tests/golden/next_token.txt`; the public API must issue the same tokens for
//! the queries they describe. The `src/cursor.rs` unit tests pin the same file against
//! hand-built cursors.
//!
//! The generator runs with the `python3` on PATH (stdlib only). A missing `python3` fails
//! this test; it does not skip it.

use std::error::Error;
use std::path::Path;
use std::process::{Command, Stdio};

use backup_summaries::wire::{load_jobs, Request, Service};
use backup_summaries::{Caller, Operation, UnixMillis};

type TestResult = Result<(), Box<dyn Error>>;

/// `<name> <token>` per line, as the generator prints them.
const GOLDEN: &str = include_str!("golden/next_token.txt");
/// 2026-11-26T23:59:59Z, the `now` pinned in every vector.
const NOW: UnixMillis = UnixMillis::new(1_795_737_599_000);
/// 49 characters, 50 bytes: stored in the token as hash + prefix (SPEC §7: under 512 bytes).
const LONG_RESOURCE_TYPE: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\u{e9}yyyyyyyyy";

fn golden(name: &str) -> Result<&'static str, Box<dyn Error>> {
    GOLDEN
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .ok_or_else(|| format!("no golden token {name} in next_token.txt").into())
}

#[test]
fn python_generator_prints_the_pinned_tokens() -> TestResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests").join("golden").join("next_token.py");
    let out = Command::new("python3")
        .arg("-B")
        .arg(&script)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run python3 {}: {e}", script.display()))?;
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout)?;
    assert_eq!(printed, GOLDEN, "the generator and next_token.txt disagree");
    assert_eq!(GOLDEN.lines().count(), 2);
    Ok(())
}

/// The `NextToken` of the first page at MaxResults=1, and that the second page takes it.
fn first_token(
    service: &Service,
    caller: &Caller,
    path: &str,
    query: &str,
) -> Result<String, Box<dyn Error>> {
    let first = service.handle(
        &Request::get(path, caller, NOW)
            .with_query(query)
            .with_request_id("req-1"),
    );
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let body: serde_json::Value = serde_json::from_slice(&first.body)?;
    let token = body["NextToken"].as_str().ok_or("no NextToken")?.to_owned();
    let next_query = format!("{query}&NextToken={token}");
    let second = service.handle(
        &Request::get(path, caller, NOW)
            .with_query(&next_query)
            .with_request_id("req-2"),
    );
    assert_eq!(
        second.status,
        200,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    Ok(token)
}

#[test]
fn the_api_issues_the_golden_backup_token() -> TestResult {
    let mut service = Service::new();
    // Today (bucket 13 of ONE_DAY), no MessageCategory: rows COMPLETED, then FAILED.
    let jobs = br#"{"BackupJobId":"a","AccountId":"123456789012","Region":"us-east-1","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000}
{"BackupJobId":"b","AccountId":"123456789012","Region":"us-east-1","State":"FAILED","ResourceType":"EBS","CreationDate":1795690001}"#;
    load_jobs(service.table_mut(Operation::Backup), jobs, None)?;
    let caller = Caller::new("123456789012".parse()?, "us-east-1".parse()?);
    let token = first_token(
        &service,
        &caller,
        "/audit/backup-job-summaries",
        "State=ANY&MessageCategory=ANY&MaxResults=1",
    )?;
    assert_eq!(token, golden("backup_state_category")?);
    Ok(())
}

#[test]
fn the_api_issues_the_golden_scan_token() -> TestResult {
    let mut service = Service::new();
    let job = |id: &str, state: &str, result: &str| {
        format!(
            r#"{{"ScanJobId":"{id}","AccountId":"123456789012","Region":"eu-west-1","State":"{state}","ResourceType":"{LONG_RESOURCE_TYPE}","CreationDate":1795690000,"MalwareScanner":"GUARDDUTY"{result}}}"#
        )
    };
    let jobs = [
        job(
            "s1",
            "COMPLETED",
            r#","ScanResult":{"ScanResultStatus":"UNKNOWN"}"#,
        ),
        job("s2", "FAILED", ""),
    ]
    .join("\n");
    load_jobs(service.table_mut(Operation::Scan), jobs.as_bytes(), None)?;
    let caller = Caller::new("123456789012".parse()?, "eu-west-1".parse()?);
    let resource_type = LONG_RESOURCE_TYPE.replace('\u{e9}', "%C3%A9");
    let query = format!(
        "State=ANY&ResourceType={resource_type}&MalwareScanner=ANY&ScanResultStatus=ANY\
         &AggregationPeriod=SEVEN_DAYS&MaxResults=1"
    );
    let token = first_token(&service, &caller, "/audit/scan-job-summaries", &query)?;
    assert_eq!(token, golden("scan_long_resource_type")?);
    Ok(())
}
