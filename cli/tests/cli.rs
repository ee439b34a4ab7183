//! End-to-end tests of the `backup-summaries` binary: `generate`, `query` and `serve`, run as
//! a user would run them. Every child process is bounded by a timeout and killed at the end;
//! the server listens on the loopback interface only.

use std::error::Error;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

mod common;

use common::{Reply, Server, TestResult, BIN, NOW};

/// Start of the ONE_DAY window at `NOW`: 2026-11-14T00:00:00Z, in ms.
const WINDOW_START_MS: i64 = 1_795_737_600_000 - 13 * 86_400_000;
/// How long any one child may run.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A scratch directory for one test.
fn scratch(test: &str) -> Result<PathBuf, Box<dyn Error>> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli-tests")
        .join(test);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Runs the binary to completion (killing it after [`TIMEOUT`]).
fn run(args: &[&str]) -> Result<Output, Box<dyn Error>> {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(output) => Ok(output?),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            Err(format!("backup-summaries {args:?} did not finish within {TIMEOUT:?}").into())
        }
    }
}

/// Runs `generate` and returns its stdout.
fn generate(op: &str, jobs: &str, seed: &str) -> Result<String, Box<dyn Error>> {
    let out = run(&[
        "generate",
        "--operation",
        op,
        "--jobs",
        jobs,
        "--seed",
        seed,
        "--now",
        NOW,
        "--accounts",
        "4",
    ])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// CreationDate in ms, read exactly from the JSON number's digits (epoch seconds).
/// `out` unless the command failed (then an error with its stderr).
fn succeeded(out: Output) -> Result<Output, Box<dyn Error>> {
    if out.status.success() {
        Ok(out)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned().into())
    }
}

fn creation_ms(job: &Value) -> Result<i64, Box<dyn Error>> {
    let text = job
        .get("CreationDate")
        .ok_or("no CreationDate")?
        .to_string();
    let (secs, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac: String = frac.chars().chain("000".chars()).take(3).collect();
    Ok(secs.parse::<i64>()? * 1000 + frac.parse::<i64>()?)
}

/// The region of a generated job: 4th part of its vault ARN.
fn region_of(job: &Value) -> Option<&str> {
    ["BackupVaultArn", "SourceBackupVaultArn", "RecoveryPointArn"]
        .iter()
        .find_map(|k| job.get(*k).and_then(Value::as_str))
        .and_then(|arn| arn.split(':').nth(3))
}

/// The summary rows of a response body.
fn rows<'a>(body: &'a Value, list: &str) -> Result<&'a Vec<Value>, Box<dyn Error>> {
    Ok(body
        .get(list)
        .and_then(Value::as_array)
        .ok_or(format!("no {list} in {body}"))?)
}

fn total(rows: &[Value]) -> u64 {
    rows.iter()
        .filter_map(|r| r.get("Count").and_then(Value::as_u64))
        .sum()
}

#[test]
fn generate_is_deterministic_for_a_seed() -> TestResult {
    let a = generate("copy", "300", "11")?;
    let b = generate("copy", "300", "11")?;
    let c = generate("copy", "300", "12")?;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.lines().count(), 300);
    for line in a.lines() {
        let job: Value = serde_json::from_str(line)?;
        assert!(
            job.get("CopyJobId").is_some() && job.get("State").is_some(),
            "{line}"
        );
        let ms = creation_ms(&job)?;
        assert!(
            (1_795_737_600_000 - 30 * 86_400_000..1_795_737_600_000).contains(&ms),
            "{line}"
        );
    }
    // The documented defaults: seed 20261127, now 2026-11-27, 40 accounts.
    let defaults = run(&["generate", "--operation", "restore", "--jobs", "50"])?;
    let explicit = run(&[
        "generate",
        "--operation",
        "restore",
        "--jobs",
        "50",
        "--seed",
        "20261127",
        "--now",
        NOW,
        "--accounts",
        "40",
    ])?;
    assert!(defaults.status.success());
    assert_eq!(defaults.stdout, explicit.stdout);
    Ok(())
}

#[test]
fn all_pages_counts_every_in_window_job() -> TestResult {
    let dir = scratch("all_pages")?;
    let jobs = generate("backup", "4000", "5")?;
    let path = dir.join("backup.jsonl");
    fs::write(&path, &jobs)?;
    // Every generated account is in the organization, and the caller manages it.
    let mut accounts = std::collections::BTreeSet::new();
    let mut expected = 0u64;
    for line in jobs.lines() {
        let job: Value = serde_json::from_str(line)?;
        accounts.insert(
            job.get("AccountId")
                .and_then(Value::as_str)
                .ok_or("no AccountId")?
                .to_owned(),
        );
        if creation_ms(&job)? >= WINDOW_START_MS && region_of(&job) == Some("us-east-1") {
            expected += 1;
        }
    }
    assert!(
        expected > 100,
        "too few in-window jobs to test paging: {expected}"
    );
    let org = dir.join("org.json");
    let accounts: Vec<&String> = accounts.iter().collect();
    fs::write(
        &org,
        serde_json::json!({"ManagementAccountId": "999999999999", "Accounts": accounts})
            .to_string(),
    )?;
    let path = path.to_str().ok_or("path")?;
    let org = org.to_str().ok_or("path")?;
    let base = [
        "query",
        "--operation",
        "backup",
        "--backup-jobs",
        path,
        "--organization",
        org,
        "--caller",
        "999999999999",
        "--now",
        NOW,
        "--all-pages",
        "--param",
        "AccountId=ANY",
        "--param",
        "State=ANY",
        "--param",
        "ResourceType=ANY",
    ];
    let small_pages = run(&[&base[..], &["--param", "MaxResults=7"]].concat())?;
    assert!(
        small_pages.status.success(),
        "{}",
        String::from_utf8_lossy(&small_pages.stderr)
    );
    let body: Value = serde_json::from_slice(&small_pages.stdout)?;
    let listed = rows(&body, "BackupJobSummaries")?;
    assert!(
        listed.len() > 7,
        "only {} rows: the walk did not need several pages",
        listed.len()
    );
    assert_eq!(total(listed), expected);
    assert!(body.get("NextToken").is_none());
    assert_eq!(
        body.get("AggregationPeriod").and_then(Value::as_str),
        Some("ONE_DAY")
    );
    // Any page size gives the same body.
    let default_pages = run(&base)?;
    assert!(default_pages.status.success());
    assert_eq!(default_pages.stdout, small_pages.stdout);
    // Without --all-pages: one page of 7 rows and a NextToken (the caller has no jobs of its
    // own, so AccountId=ANY is needed to see any).
    let first = run(&[
        &base[..base.len() - 7],
        &["--param", "MaxResults=7", "--param", "AccountId=ANY"],
    ]
    .concat())?;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first: Value = serde_json::from_slice(&first.stdout)?;
    assert_eq!(rows(&first, "BackupJobSummaries")?.len(), 7);
    assert!(first.get("NextToken").and_then(Value::as_str).is_some());
    Ok(())
}

#[test]
fn ignored_job_ids_keep_only_what_the_one_query_counts() -> TestResult {
    // A one-shot query with --ignore-job-ids parses and checks every record but keeps only
    // the jobs its window counts (issue 9): the body is the one a full load gives, and a bad
    // record outside the window still stops the command.
    let dir = scratch("window")?;
    // Over a MiB: the first 256 KiB go through the stream's cut, the rest by pieces.
    let jobs = generate("backup", "6000", "8")?;
    let mut in_window = 0;
    let mut outside = 0;
    for line in jobs.lines() {
        let job: Value = serde_json::from_str(line)?;
        if creation_ms(&job)? >= WINDOW_START_MS {
            in_window += 1;
        } else {
            outside += 1;
        }
    }
    assert!(
        in_window > 100 && outside > 100,
        "{in_window} in, {outside} out"
    );
    let path = dir.join("backup.jsonl");
    fs::write(&path, &jobs)?;
    let copies = dir.join("copy.jsonl");
    fs::write(&copies, generate("copy", "50", "8")?)?;
    let (path, copies) = (path.to_str().ok_or("path")?, copies.to_str().ok_or("path")?);
    let query_file = |path: &str, extra: &[&str]| {
        run(&[
            &[
                "query",
                "--operation",
                "backup",
                "--backup-jobs",
                path,
                "--copy-jobs",
                copies,
                "--now",
                NOW,
                "--all-pages",
                "--param",
                "AccountId=ANY",
                "--param",
                "State=ANY",
                "--param",
                "ResourceType=ANY",
                "--param",
                "MessageCategory=ANY",
            ][..],
            extra,
        ]
        .concat())
    };
    let query = |extra: &[&str]| query_file(path, extra);
    let full = succeeded(query(&[])?)?;
    let kept = succeeded(query(&["--ignore-job-ids"])?)?;
    assert_eq!(kept.stdout, full.stdout);
    // With a byte order mark first (the layout is decided after it, the pieces follow).
    let bom = dir.join("bom.jsonl");
    fs::write(&bom, [&b"\xEF\xBB\xBF"[..], jobs.as_bytes()].concat())?;
    let with_bom = query_file(bom.to_str().ok_or("path")?, &["--ignore-job-ids"])?;
    assert_eq!(succeeded(with_bom)?.stdout, full.stdout);
    let stderr = String::from_utf8(kept.stderr)?;
    assert!(
        stderr.contains(&format!(
            "loaded {path}: 6000 jobs ({in_window} kept for the query) in "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "loaded {copies}: 50 jobs (0 kept for the query) in "
        )),
        "another operation's jobs are checked, not kept: {stderr}"
    );
    // A bad record created long before the window still stops the load, named by its line:
    // in a piece after the first (line 4501, before another bad one at the end, which the
    // other thread may find first), and at the very end (line 6001).
    let bad = "{\"AccountId\": \"12\", \"State\": \"COMPLETED\", \"ResourceType\": \"EBS\", \"CreationDate\": 1000000000}\n";
    let lines: Vec<&str> = jobs.split_inclusive('\n').collect();
    let (head, tail) = lines.split_at(4500);
    for (name, text, line) in [
        (
            "middle.jsonl",
            format!("{}{bad}{}{bad}", head.concat(), tail.concat()),
            "line 4501",
        ),
        ("end.jsonl", format!("{jobs}{bad}"), "line 6001"),
    ] {
        let broken = dir.join(name);
        fs::write(&broken, text)?;
        let broken = broken.to_str().ok_or("path")?;
        let out = run(&[
            "query",
            "--operation",
            "backup",
            "--ignore-job-ids",
            "--now",
            NOW,
            "--backup-jobs",
            broken,
        ])?;
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8(out.stderr)?;
        assert!(
            stderr.contains(&format!("{line}: invalid AccountId")),
            "{stderr}"
        );
    }
    Ok(())
}

#[test]
fn a_next_page_with_ignored_job_ids_counts_at_its_tokens_clock() -> TestResult {
    // A NextToken pins the clock of its first page (up to 24 hours back): jobs on a day
    // that was in that page's window, and is not in `now`'s, are still counted.
    let dir = scratch("token_window")?;
    let path = dir.join("backup.jsonl");
    let jobs: String = ["EBS", "EFS", "RDS"]
        .iter()
        .map(|t| {
            format!(
                "{{\"AccountId\":\"123456789012\",\"Region\":\"us-east-1\",\"State\":\"COMPLETED\",\"ResourceType\":\"{t}\",\"CreationDate\":1794182400}}\n"
            )
        })
        .collect();
    fs::write(&path, jobs)?;
    let path = path.to_str().ok_or("path")?;
    let page = |now: &str, extra: &[&str]| {
        run(&[
            &[
                "query",
                "--operation",
                "backup",
                "--backup-jobs",
                path,
                "--now",
                now,
                "--param",
                "AccountId=ANY",
                "--param",
                "State=ANY",
                "--param",
                "ResourceType=ANY",
                "--param",
                "MaxResults=1",
            ][..],
            extra,
        ]
        .concat())
    };
    // 2026-11-09 is the first day of the window at 2026-11-22, outside it at 2026-11-23.
    let first = page("2026-11-22T23:00:00Z", &["--ignore-job-ids"])?;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first: Value = serde_json::from_slice(&first.stdout)?;
    assert_eq!(rows(&first, "BackupJobSummaries")?.len(), 1);
    let token = first
        .get("NextToken")
        .and_then(Value::as_str)
        .ok_or("no NextToken")?;
    let token = format!("NextToken={token}");
    let tracked = succeeded(page("2026-11-23T01:00:00Z", &["--param", &token])?)?;
    let ignored = succeeded(page(
        "2026-11-23T01:00:00Z",
        &["--param", &token, "--ignore-job-ids"],
    )?)?;
    assert_eq!(ignored.stdout, tracked.stdout);
    let second: Value = serde_json::from_slice(&ignored.stdout)?;
    assert_eq!(rows(&second, "BackupJobSummaries")?.len(), 1);
    Ok(())
}

#[test]
fn timing_repeats_and_prints_the_body_once() -> TestResult {
    let dir = scratch("timing")?;
    let path = dir.join("scan.jsonl");
    fs::write(&path, generate("scan", "2000", "9")?)?;
    let path = path.to_str().ok_or("path")?;
    let args = [
        "query",
        "--operation",
        "scan",
        "--scan-jobs",
        path,
        "--now",
        NOW,
        "--param",
        "State=ANY",
    ];
    let plain = run(&args)?;
    let timed = run(&[&args[..], &["--timing", "--repeat", "3"]].concat())?;
    assert!(
        timed.status.success(),
        "{}",
        String::from_utf8_lossy(&timed.stderr)
    );
    assert_eq!(
        timed.stdout, plain.stdout,
        "the timed body differs from Service::handle's"
    );
    let stderr = String::from_utf8(timed.stderr)?;
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("loaded "))
        .collect();
    assert_eq!(lines.len(), 4, "{stderr}");
    let (load, jobs) = lines[0].split_once(' ').ok_or("load line")?;
    assert!(
        load.strip_prefix("load_ms=")
            .ok_or("load_ms")?
            .parse::<f64>()?
            >= 0.0
    );
    assert_eq!(jobs, "jobs=2000");
    for line in &lines[1..] {
        assert!(
            line.strip_prefix("query_ms=")
                .ok_or("query_ms")?
                .parse::<f64>()?
                >= 0.0,
            "{line}"
        );
    }
    // --repeat needs --timing.
    assert_eq!(
        run(&[&args[..], &["--repeat", "2"]].concat())?
            .status
            .code(),
        Some(2)
    );
    Ok(())
}

#[test]
fn a_rejected_parameter_exits_2_with_the_error_body_on_stderr() -> TestResult {
    let out = run(&[
        "query",
        "--operation",
        "backup",
        "--now",
        NOW,
        "--param",
        "State=BOGUS",
    ])?;
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr)?;
    let body = stderr.lines().last().ok_or("no stderr")?;
    let body: Value = serde_json::from_str(body)?;
    assert_eq!(
        body.get("Code").and_then(Value::as_str),
        Some("InvalidParameterValueException")
    );
    let message = body
        .get("Message")
        .and_then(Value::as_str)
        .ok_or("no Message")?;
    assert!(
        message.contains("State") && message.contains("BOGUS"),
        "{message}"
    );
    Ok(())
}

#[test]
fn usage_errors_exit_2() -> TestResult {
    for args in [
        &["query"][..],
        &["query", "--operation", "bogus"],
        &["query", "--operation", "backup", "--param", "NoEqualsSign"],
        &["query", "--operation", "backup", "--now", "yesterday"],
        &["query", "--operation", "backup", "--caller", "12345"],
        &["generate", "--operation", "scan"],
        &["serve", "--frobnicate"],
    ] {
        let out = run(args)?;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    Ok(())
}

#[test]
fn a_broken_job_file_stops_with_its_name() -> TestResult {
    let dir = scratch("broken")?;
    let good = dir.join("good.jsonl");
    fs::write(&good, generate("backup", "10", "1")?)?;
    let broken = dir.join("broken-backups.jsonl");
    let mut lines = generate("backup", "3", "1")?;
    lines.push_str("{\"AccountId\": \"12\", \"State\": \"COMPLETED\", \"ResourceType\": \"EBS\", \"CreationDate\": 1795000000}\n");
    fs::write(&broken, lines)?;
    let (good, broken) = (good.to_str().ok_or("path")?, broken.to_str().ok_or("path")?);
    let out = run(&[
        "query",
        "--operation",
        "backup",
        "--backup-jobs",
        good,
        "--backup-jobs",
        broken,
    ])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr)?;
    let error = stderr.lines().last().ok_or("no stderr")?;
    assert!(
        error.starts_with("error: ") && error.contains(broken),
        "{stderr}"
    );
    assert!(
        error.contains("AccountId"),
        "the error should name the field: {stderr}"
    );
    assert!(
        stderr.contains(&format!("loaded {good}: 10 jobs in ")),
        "{stderr}"
    );

    let missing = dir.join("missing.json");
    let out = run(&[
        "query",
        "--operation",
        "copy",
        "--copy-jobs",
        missing.to_str().ok_or("path")?,
    ])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)?.contains("missing.json"));

    // serve stops before listening.
    let out = run(&["serve", "--listen", "127.0.0.1:0", "--backup-jobs", broken])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8(out.stdout)?.contains("listening"));
    Ok(())
}

#[test]
fn a_bad_organization_file_names_file_and_field() -> TestResult {
    let dir = scratch("organization")?;
    let org = dir.join("org.json");
    fs::write(
        &org,
        r#"{"ManagementAccountId": "123456789012", "Accounts": ["1234"]}"#,
    )?;
    let org = org.to_str().ok_or("path")?;
    let out = run(&["query", "--operation", "backup", "--organization", org])?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr)?;
    assert!(
        stderr.contains(org) && stderr.contains("Accounts[0]"),
        "{stderr}"
    );
    Ok(())
}

impl Server {
    /// Sends one raw HTTP/1.1 GET and reads the reply until the server closes.
    fn get(&self, target: &str, authorization: Option<&str>) -> Result<Reply, Box<dyn Error>> {
        let mut stream = TcpStream::connect_timeout(&self.addr, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            self.addr
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8(response)?;
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
        let mut lines = head.lines();
        let status = lines
            .next()
            .ok_or("no status line")?
            .split(' ')
            .nth(1)
            .ok_or("no status")?
            .parse()?;
        let headers = lines.map(str::to_ascii_lowercase).collect();
        Ok(Reply {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        })
    }
}

/// The account of the first job in `jobs` (JSON Lines), and an Authorization header that
/// makes it the caller in us-east-1: the access key id is the account, the credential scope
/// the region.
fn first_account_auth(jobs: &str) -> Result<(String, String), Box<dyn Error>> {
    let first: Value = serde_json::from_str(jobs.lines().next().ok_or("no job")?)?;
    let account = first
        .get("AccountId")
        .and_then(Value::as_str)
        .ok_or("no AccountId")?;
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={account}/20261127/us-east-1/backup/aws4_request, SignedHeaders=host, Signature=0"
    );
    Ok((account.to_owned(), auth))
}

#[test]
fn serve_answers_http_on_a_free_port() -> TestResult {
    let dir = scratch("serve")?;
    let path = dir.join("backup.jsonl");
    let jobs = generate("backup", "3000", "3")?;
    fs::write(&path, &jobs)?;
    let (account, auth) = first_account_auth(&jobs)?;
    // Server::start passes `--now NOW`.
    let server = Server::start(&["--backup-jobs", path.to_str().ok_or("path")?])?;
    assert!(
        server.addr.ip().is_loopback() && server.addr.port() != 0,
        "{}",
        server.addr
    );

    let reply = server.get("/audit/backup-job-summaries?State=ANY", Some(&auth))?;
    let body = reply.json()?;
    assert_eq!(reply.status, 200, "{body}");
    assert!(reply.header("x-amzn-RequestId").is_some(), "{reply:?}");
    assert_eq!(
        reply.header("Content-Type"),
        Some("application/json"),
        "{reply:?}"
    );
    let listed = rows(&body, "BackupJobSummaries")?;
    assert!(!listed.is_empty());
    assert!(listed
        .iter()
        .all(|r| r.get("AccountId").and_then(Value::as_str) == Some(account.as_str())));
    assert!(listed
        .iter()
        .all(|r| r.get("Region").and_then(Value::as_str) == Some("us-east-1")));

    // Another region in the scope: only that region's jobs.
    let west = auth.replace("us-east-1", "eu-west-1");
    let reply = server.get("/audit/backup-job-summaries", Some(&west))?;
    assert_eq!(reply.status, 200);
    assert!(rows(&reply.json()?, "BackupJobSummaries")?
        .iter()
        .all(|r| r.get("Region").and_then(Value::as_str) == Some("eu-west-1")));

    // A rejected parameter: 400 with the error type header.
    let reply = server.get("/audit/backup-job-summaries?State=BOGUS", None)?;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.header("x-amzn-ErrorType"),
        Some("invalidparametervalueexception"),
        "{reply:?}"
    );
    assert_eq!(
        reply.json()?.get("Code").and_then(Value::as_str),
        Some("InvalidParameterValueException")
    );
    Ok(())
}

#[test]
fn serve_with_ignored_job_ids_answers_as_with_them() -> TestResult {
    // Over a MiB, so the load with --ignore-job-ids goes by pieces (and keeps every job: a
    // server has no one query's window).
    let dir = scratch("serve-ignored")?;
    let path = dir.join("backup.jsonl");
    let jobs = generate("backup", "6000", "5")?;
    fs::write(&path, &jobs)?;
    let (_, auth) = first_account_auth(&jobs)?;
    let path = path.to_str().ok_or("path")?;
    let target =
        "/audit/backup-job-summaries?State=ANY&ResourceType=ANY&AggregationPeriod=FOURTEEN_DAYS";
    let mut answers = Vec::new();
    for extra in [&[][..], &["--ignore-job-ids"][..]] {
        let server = Server::start(&[&["--backup-jobs", path][..], extra].concat())?;
        let reply = server.get(target, Some(&auth))?;
        assert_eq!(reply.status, 200);
        answers.push(rows(&reply.json()?, "BackupJobSummaries")?.clone());
    }
    assert!(!answers[0].is_empty());
    assert_eq!(answers[0], answers[1]);
    Ok(())
}

#[test]
fn serve_without_job_files_serves_the_demo_data_set() -> TestResult {
    let server = Server::start(&[])?;
    // No Authorization header: the default account (the demo's management account).
    for (path, list) in [
        (
            "/audit/backup-job-summaries?AccountId=ANY",
            "BackupJobSummaries",
        ),
        ("/audit/copy-job-summaries", "CopyJobSummaries"),
        ("/audit/restore-job-summaries", "RestoreJobSummaries"),
        ("/audit/scan-job-summaries?State=ANY", "ScanJobSummaries"),
    ] {
        let reply = server.get(path, None)?;
        let body = reply.json()?;
        assert_eq!(reply.status, 200, "{path}: {body}");
        assert!(!rows(&body, list)?.is_empty(), "{path}: {body}");
    }
    // The management account sees its organization: five accounts.
    let body = server
        .get(
            "/audit/backup-job-summaries?AccountId=ANY&MaxResults=1000",
            None,
        )?
        .json()?;
    let accounts: std::collections::BTreeSet<&str> = rows(&body, "BackupJobSummaries")?
        .iter()
        .filter_map(|r| r.get("AccountId").and_then(Value::as_str))
        .collect();
    assert_eq!(accounts.len(), 5, "{accounts:?}");
    assert!(accounts.contains("123456789012"));
    Ok(())
}
