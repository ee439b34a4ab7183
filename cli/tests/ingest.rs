//! `POST /ingest/<kind>-jobs` and `--data-dir` (SPEC §11): faults (401, 413, 400, refused
//! start), the `ingest` client, restarts that keep versions, and a crash test that kills the
//! server with SIGKILL while clients write.
//!
//! Every server listens on 127.0.0.1:0 (or 0.0.0.0:0 where the test is about that), is killed
//! when its test ends, and every wait is bounded.

use std::error::Error;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{Reply, Server, TestResult, BIN, NOW, PATIENCE};

/// A CreationDate inside the window of `NOW`: 2026-11-26T12:00:00Z.
const CREATED: u64 = 1_795_694_400;

impl Server {
    fn ingest(
        &self,
        kind: &str,
        body: &[u8],
        token: Option<&str>,
    ) -> Result<Reply, Box<dyn Error>> {
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        request(
            self.addr,
            &format!(
                "POST /ingest/{kind}-jobs HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ),
            body,
        )
    }

    /// `GET` a summary as the standalone caller `account`.
    fn summaries(&self, kind: &str, account: &str, query: &str) -> Result<Value, Box<dyn Error>> {
        let reply = request(
            self.addr,
            &format!(
                "GET /audit/{kind}-job-summaries?{query} HTTP/1.1\r\nHost: x\r\n\
                 Authorization: AWS4-HMAC-SHA256 Credential={account}/20261127/us-east-1/backup/aws4_request, SignedHeaders=host, Signature=0\r\n\
                 Connection: close\r\n\r\n"
            ),
            b"",
        )?;
        if reply.status != 200 {
            return Err(format!("query answered {}: {}", reply.status, text(&reply.body)).into());
        }
        Ok(serde_json::from_slice(&reply.body)?)
    }

    /// Count per value of `member` over every row of `kind`'s summaries split by it.
    fn counts_by(
        &self,
        kind: &str,
        account: &str,
        member: &str,
    ) -> Result<Vec<(String, u64)>, Box<dyn Error>> {
        let list = match kind {
            "backup" => "BackupJobSummaries",
            "copy" => "CopyJobSummaries",
            "restore" => "RestoreJobSummaries",
            _ => "ScanJobSummaries",
        };
        let page = self.summaries(kind, account, &format!("{member}=ANY&MaxResults=1000"))?;
        let mut out: Vec<(String, u64)> = Vec::new();
        for row in page[list].as_array().ok_or("no list")? {
            let value = row[member].as_str().unwrap_or("").to_owned();
            let count = row["Count"].as_u64().ok_or("no count")?;
            match out.iter_mut().find(|(v, _)| *v == value) {
                Some((_, n)) => *n += count,
                None => out.push((value, count)),
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Sends `head` and `body` on a new connection and reads the reply until the server closes.
fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Result<Reply, Box<dyn Error>> {
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    stream.write_all(head.as_bytes())?;
    // A server may answer (413) before reading all of a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete head in {:?}", text(&raw)))?;
    let head = String::from_utf8(raw.get(..split).ok_or("head")?.to_vec())?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no status")?
        .parse()?;
    let headers = lines.map(str::to_ascii_lowercase).collect();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Reply {
    /// Checks the SPEC §9 error shape and returns the message.
    fn error(&self, status: u16, code: &str) -> Result<String, Box<dyn Error>> {
        assert_eq!(self.status, status, "{}", text(&self.body));
        assert_eq!(
            self.header("x-amzn-ErrorType"),
            Some(&*code.to_ascii_lowercase())
        );
        assert!(self.header("x-amzn-RequestId").is_some());
        let body = self.json()?;
        assert_eq!(body["Code"], code);
        Ok(body["Message"].as_str().ok_or("no Message")?.to_owned())
    }
}

/// A list-API backup record as one JSON line.
fn record(account: &str, id: &str, state: &str, resource_type: &str) -> String {
    format!(
        r#"{{"BackupJobId":"{id}","AccountId":"{account}","State":"{state}","ResourceType":"{resource_type}","CreationDate":{CREATED},"BackupVaultArn":"arn:aws:backup:us-east-1:{account}:backup-vault:Default"}}"#
    )
}

/// An EventBridge Backup Job State Change event as one JSON line.
fn event(account: &str, id: &str, state: &str, time: &str) -> String {
    format!(
        r#"{{"version":"0","id":"e","detail-type":"Backup Job State Change","source":"aws.backup","account":"{account}","time":"{time}","region":"us-east-1","resources":[],"detail":{{"backupJobId":"{id}","state":"{state}","resourceType":"EBS","creationDate":"2026-11-26T12:00:00Z"}}}}"#
    )
}

fn counts(reply: &Reply) -> Result<(u64, u64, u64), Box<dyn Error>> {
    assert_eq!(reply.status, 200, "{}", text(&reply.body));
    let v = reply.json()?;
    let n = |k: &str| v[k].as_u64().ok_or(format!("no {k} in {v}"));
    Ok((n("Inserted")?, n("Replaced")?, n("Stale")?))
}

const ACCOUNT: &str = "111122223333";

#[test]
fn a_missing_or_wrong_token_is_401_and_changes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_str().ok_or("path")?;
    let server = Server::start(&["--data-dir", data, "--ingest-token", "s3cret"])?;
    let body = record(ACCOUNT, "b-1", "COMPLETED", "EBS");
    for token in [None, Some("wrong"), Some("s3cre"), Some("s3cret2")] {
        let reply = server.ingest("backup", body.as_bytes(), token)?;
        let message = reply.error(401, "UnauthorizedException")?;
        assert!(message.contains("Bearer"), "{message}");
    }
    assert_eq!(server.counts_by("backup", ACCOUNT, "State")?, []);
    let reply = server.ingest("backup", body.as_bytes(), Some("s3cret"))?;
    assert_eq!(counts(&reply)?, (1, 0, 0));
    assert_eq!(
        server.counts_by("backup", ACCOUNT, "State")?,
        [("COMPLETED".to_owned(), 1)]
    );
    // the token from the environment works the same
    let env = Server::start_with(&[], &[("BACKUP_SUMMARIES_INGEST_TOKEN", "from-env")])?;
    env.ingest("backup", body.as_bytes(), None)?
        .error(401, "UnauthorizedException")?;
    assert_eq!(
        counts(&env.ingest("backup", body.as_bytes(), Some("from-env"))?)?,
        (1, 0, 0)
    );
    Ok(())
}

#[test]
fn a_body_over_the_limit_is_413_and_changes_nothing() -> TestResult {
    let empty = tempfile::NamedTempFile::new()?;
    let path = empty.path().to_str().ok_or("path")?;
    let server = Server::start(&["--backup-jobs", path, "--max-body-bytes", "1000"])?;
    let line = record(ACCOUNT, "b-1", "COMPLETED", "EBS");
    let big: String = (0..10).map(|_| format!("{line}\n")).collect();
    assert!(big.len() > 1000);
    let message = server
        .ingest("backup", big.as_bytes(), None)?
        .error(413, "RequestEntityTooLargeException")?;
    assert!(message.contains("1000 bytes"), "{message}");
    // A chunked body (no Content-Length) is cut off at the limit too.
    let chunked = format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len());
    let reply = request(
        server.addr,
        "POST /ingest/backup-jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        chunked.as_bytes(),
    )?;
    reply.error(413, "RequestEntityTooLargeException")?;
    assert_eq!(server.counts_by("backup", ACCOUNT, "State")?, []);
    assert_eq!(
        counts(&server.ingest("backup", line.as_bytes(), None)?)?,
        (1, 0, 0)
    );
    Ok(())
}

#[test]
fn a_body_slower_than_the_body_timeout_is_408() -> TestResult {
    let empty = tempfile::NamedTempFile::new()?;
    let path = empty.path().to_str().ok_or("path")?;
    let server = Server::start(&["--backup-jobs", path, "--body-timeout", "0.5"])?;
    let mut stream = TcpStream::connect_timeout(&server.addr, PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let started = Instant::now();
    // Promises 100 bytes, sends 10, then waits.
    stream.write_all(
        b"POST /ingest/backup-jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"Account",
    )?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let head = text(&raw);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-amzn-errortype: requesttimeoutexception"),
        "{head}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    Ok(())
}

#[test]
fn a_bad_record_is_400_naming_it_and_nothing_is_applied() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_str().ok_or("path")?;
    let server = Server::start(&["--data-dir", data])?;
    let good = record(ACCOUNT, "b-1", "COMPLETED", "EBS");
    let bad = record("12345", "b-2", "COMPLETED", "EBS");
    let body = format!("{good}\n{good}\n{bad}\n");
    let message = server
        .ingest("backup", body.as_bytes(), None)?
        .error(400, "InvalidParameterValueException")?;
    assert!(
        message.contains("line 3") && message.contains("AccountId"),
        "{message}"
    );
    // an event for another operation than the path's
    let body = format!(
        "{}\n{}\n",
        event(ACCOUNT, "b-1", "RUNNING", "2026-11-26T12:00:00Z"),
        event(ACCOUNT, "b-2", "RUNNING", "2026-11-26T12:00:00Z")
            .replace("Backup Job State Change", "Copy Job State Change")
    );
    let message = server
        .ingest("backup", body.as_bytes(), None)?
        .error(400, "InvalidParameterValueException")?;
    assert!(
        message.contains("line 2") && message.contains("detail-type"),
        "{message}"
    );
    let message = server
        .ingest("copy", b"{\"CopyJobs\": [{}]}", None)?
        .error(400, "InvalidParameterValueException")?;
    assert!(message.contains("record 0 of CopyJobs"), "{message}");
    assert_eq!(server.counts_by("backup", ACCOUNT, "State")?, []);
    // wrong method and unknown kind
    let reply = request(
        server.addr,
        "GET /ingest/backup-jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"",
    )?;
    reply.error(405, "MethodNotAllowedException")?;
    assert_eq!(reply.header("allow"), Some("post"));
    server
        .ingest("vault", b"", None)?
        .error(404, "UnknownOperationException")?;
    // and nothing of it reached the store
    drop(server);
    let server = Server::start(&["--data-dir", data])?;
    assert_eq!(server.counts_by("backup", ACCOUNT, "State")?, []);
    Ok(())
}

#[test]
fn ingest_off_loopback_needs_a_token() -> TestResult {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--now", NOW])
        .env_remove("BACKUP_SUMMARIES_INGEST_TOKEN")
        .stdin(Stdio::null())
        .output()?;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("--ingest-token"),
        "{err}"
    );
    assert!(!text(&out.stdout).contains("listening"));
    let server = Server::start(&["--listen", "0.0.0.0:0", "--ingest-token", "t"])?;
    server
        .ingest("backup", b"", None)?
        .error(401, "UnauthorizedException")?;
    Ok(())
}

#[test]
fn restart_keeps_jobs_and_versions_but_not_job_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let data = data.to_str().ok_or("path")?;
    let file = dir.path().join("jobs.jsonl");
    std::fs::write(&file, record(ACCOUNT, "from-file", "FAILED", "RDS") + "\n")?;
    let file = file.to_str().ok_or("path")?;
    let server = Server::start(&["--data-dir", data, "--backup-jobs", file])?;
    let created = event(ACCOUNT, "b-1", "CREATED", "2026-11-26T12:00:00Z");
    let running = event(ACCOUNT, "b-1", "RUNNING", "2026-11-26T12:05:00.999Z");
    let late = event(ACCOUNT, "b-1", "PENDING", "2026-11-26T12:05:00.000Z");
    assert_eq!(
        counts(&server.ingest("backup", created.as_bytes(), None)?)?,
        (1, 0, 0)
    );
    assert_eq!(
        counts(&server.ingest("backup", running.as_bytes(), None)?)?,
        (0, 1, 0)
    );
    // same second as the stored version: not stale (sub-second digits are truncated)
    assert_eq!(
        counts(&server.ingest("backup", late.as_bytes(), None)?)?,
        (0, 1, 0)
    );
    assert_eq!(
        counts(&server.ingest("backup", running.as_bytes(), None)?)?,
        (0, 1, 0)
    );
    let anonymous = r#"{"AccountId":"111122223333","State":"ABORTED","ResourceType":"EFS","CreationDate":1795694400}"#;
    assert_eq!(
        counts(&server.ingest("backup", anonymous.as_bytes(), None)?)?,
        (1, 0, 0)
    );
    let want = [
        ("ABORTED".to_owned(), 1),
        ("FAILED".to_owned(), 1),
        ("RUNNING".to_owned(), 1),
    ];
    assert_eq!(server.counts_by("backup", ACCOUNT, "State")?, want);
    drop(server); // SIGKILL
    let server = Server::start(&["--data-dir", data])?;
    assert_eq!(
        server.counts_by("backup", ACCOUNT, "State")?,
        [("ABORTED".to_owned(), 1), ("RUNNING".to_owned(), 1)]
    );
    // the stored version survived: an older event is still stale
    let older = event(ACCOUNT, "b-1", "CREATED", "2026-11-26T12:04:00Z");
    assert_eq!(
        counts(&server.ingest("backup", older.as_bytes(), None)?)?,
        (0, 0, 1)
    );
    Ok(())
}

#[test]
fn ingest_client_sends_batches_and_totals_the_counts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(&[
        "--data-dir",
        dir.path().join("d").to_str().ok_or("p")?,
        "--ingest-token",
        "tk",
    ])?;
    let file = dir.path().join("jobs.jsonl");
    let lines: String = (0..25)
        .map(|i| record(ACCOUNT, &format!("b-{i}"), "RUNNING", "EBS") + "\n")
        .collect();
    std::fs::write(&file, &lines)?;
    let doc = dir.path().join("doc.json");
    std::fs::write(
        &doc,
        format!(
            "{{\n  \"BackupJobs\": [\n{}\n  ]\n}}\n",
            record(ACCOUNT, "b-0", "COMPLETED", "EBS")
        ),
    )?;
    let endpoint = format!("http://{}", server.addr);
    let run = |args: &[&Path]| {
        Command::new(BIN)
            .args([
                "ingest",
                "--endpoint",
                &endpoint,
                "--operation",
                "backup",
                "--batch",
                "10",
            ])
            .args(args)
            .env("BACKUP_SUMMARIES_INGEST_TOKEN", "tk")
            .stdin(Stdio::null())
            .output()
    };
    let out = run(&[&file, &doc])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("inserted 25, replaced 1, stale 0 (4 requests"),
        "{stdout}"
    );
    assert_eq!(
        server.counts_by("backup", ACCOUNT, "State")?,
        [("COMPLETED".to_owned(), 1), ("RUNNING".to_owned(), 24)]
    );
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{}\n{{\"AccountId\": 5}}\n",
            record(ACCOUNT, "x", "RUNNING", "EBS")
        ),
    )?;
    let out = run(&[&file, &bad])?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad.jsonl") && stderr.contains("line 2") && stderr.contains("AccountId"),
        "{stderr}"
    );
    assert!(
        stderr.contains("acknowledged before the error: inserted 0, replaced 25"),
        "{stderr}"
    );
    Ok(())
}

/// Group commit: concurrent requests share a transaction, yet each gets its own counts, a
/// shared job's versions apply in arrival order, and everything is there after a restart.
#[test]
fn concurrent_requests_each_get_their_own_counts_and_all_are_durable() -> TestResult {
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 15;
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_str().ok_or("path")?.to_owned();
    let server = Arc::new(Server::start(&["--data-dir", &data])?);
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let server = Arc::clone(&server);
        clients.push(thread::spawn(move || -> Result<(), String> {
            let account = format!("{:012}", 500 + c);
            for r in 0..REQUESTS {
                // 10 of the client's own jobs again, 5 new ones, and one job every client
                // shares, by event: its version is the request number, so a request whose
                // event is older than another client's already applied one is stale.
                let mut body = String::new();
                for i in 0..10 {
                    body += &record(&account, &format!("{account}-own-{i}"), "RUNNING", "EBS");
                    body.push('\n');
                }
                for i in 0..5 {
                    body += &record(&account, &format!("{account}-r{r}-{i}"), "COMPLETED", "EBS");
                    body.push('\n');
                }
                body += &event(&account, "shared", "RUNNING", &format!("2026-11-26T13:00:{r:02}Z"));
                let reply = server
                    .ingest("backup", body.as_bytes(), None)
                    .map_err(|e| e.to_string())?;
                let (inserted, replaced, stale) = counts(&reply).map_err(|e| e.to_string())?;
                let own = if r == 0 { (15, 0) } else { (5, 10) };
                // The shared job: inserted, replaced or stale, exactly one of them.
                let shared = (inserted - own.0, replaced - own.1, stale);
                if ![(1, 0, 0), (0, 1, 0), (0, 0, 1)].contains(&shared) {
                    return Err(format!(
                        "client {c}, request {r}: {inserted} inserted, {replaced} replaced, {stale} stale"
                    ));
                }
            }
            Ok(())
        }));
    }
    for client in clients {
        client.join().map_err(|_| "a client panicked")??;
    }
    let expected = (CLIENTS * (10 + 5 * REQUESTS) + 1) as u64;
    // Queries see the caller's own account only: count per client.
    let mut seen = 0;
    for c in 0..CLIENTS {
        let account = format!("{:012}", 500 + c);
        seen += server
            .counts_by("backup", &account, "State")?
            .iter()
            .map(|(_, n)| n)
            .sum::<u64>();
    }
    drop(server); // SIGKILL
    let server = Server::start(&["--data-dir", &data])?;
    let mut after = 0;
    for c in 0..CLIENTS {
        let account = format!("{:012}", 500 + c);
        after += server
            .counts_by("backup", &account, "State")?
            .iter()
            .map(|(_, n)| n)
            .sum::<u64>();
    }
    assert_eq!(seen, expected);
    assert_eq!(after, expected);
    Ok(())
}

/// A tiny xorshift generator: the crash test's random kill moments.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What one crash-test client knows about its requests.
#[derive(Debug, Default)]
struct Ledger {
    /// Requests answered 200.
    acked: Vec<u64>,
    /// Requests whose answer never came (the server was killed): applied or not, wholly.
    unknown: Vec<u64>,
}

/// Jobs every crash-test request upserts again (its request number as ResourceType) and jobs
/// it adds new.
const FIXED: usize = 40;
const FRESH: usize = 10;

/// Request `r` of a client: FIXED ids all moved to ResourceType `r{r}` (in a state cycling
/// with `r`), then FRESH new ids. Half applied, the fixed ids would show two types. Job ids
/// name the client's account: identity is the job id alone (SPEC §10).
fn crash_body(account: &str, r: u64) -> String {
    let state = ["CREATED", "RUNNING", "COMPLETED"][(r % 3) as usize];
    let mut body = String::new();
    for i in 0..FIXED {
        body += &record(
            account,
            &format!("{account}-fixed-{i}"),
            state,
            &format!("r{r}"),
        );
        body.push('\n');
    }
    for i in 0..FRESH {
        body += &record(
            account,
            &format!("{account}-r{r}-new-{i}"),
            "COMPLETED",
            "new",
        );
        body.push('\n');
    }
    body
}

#[test]
fn acknowledged_changes_survive_sigkill_and_no_request_is_half_applied() -> TestResult {
    crash_test(&[], false)
}

/// The crash test with expiry running all the time: the server expires every 50 ms with a
/// 2-day retention, and one more client keeps sending jobs created 5 days before `NOW` (new
/// ids each time), so the store always has rows to expire and the kills land in and between
/// expiry steps (each one transaction) as well as in writes and log merges. After each
/// restart the acknowledged changes are all there, none half applied, and no expired job
/// shows (with a 30-day retention instead, this test fails: the old jobs show).
#[test]
fn acknowledged_changes_survive_sigkill_during_expiry() -> TestResult {
    crash_test(&["--retain-days", "2", "--expire-every", "0.05"], true)
}

/// The account whose jobs are past retention in the expiry crash test.
const OLD_ACCOUNT: &str = "000000000999";

/// Request `r` of the expiry crash test's old-jobs client: 200 new jobs created 5 days
/// before `NOW`.
fn old_body(r: u64) -> String {
    (0..200)
        .map(|i| {
            record(OLD_ACCOUNT, &format!("old-{r}-{i}"), "COMPLETED", "EBS")
                .replace(&CREATED.to_string(), &(CREATED - 5 * 86_400).to_string())
                + "\n"
        })
        .collect()
}

/// Kills a `serve --data-dir` with SIGKILL at random moments, 20 times, while three clients
/// ingest (see [`crash_body`]); after each restart checks every client's ledger against what
/// the server shows. `extra` goes to every server; with `old_jobs`, a fourth client sends
/// [`old_body`] requests and no job of [`OLD_ACCOUNT`] may show after a restart.
fn crash_test(extra: &[&str], old_jobs: bool) -> TestResult {
    const CLIENTS: usize = 3;
    const KILLS: usize = 20;
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_str().ok_or("path")?.to_owned();
    // A small log limit: merges of the store's log happen while the server is killed too.
    let mut args = vec!["--data-dir", &data, "--debug-store-log-limit", "300"];
    args.extend_from_slice(extra);
    let addr: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let old_acked = Arc::new(Mutex::new(0_u64));
    if old_jobs {
        let (addr, done, old_acked) =
            (Arc::clone(&addr), Arc::clone(&done), Arc::clone(&old_acked));
        thread::spawn(move || {
            let mut r = 0;
            while !done.load(Ordering::Relaxed) {
                let Some(at) = *addr.lock().unwrap_or_else(|e| e.into_inner()) else {
                    thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let body = old_body(r);
                let head = format!(
                    "POST /ingest/backup-jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                match request(at, &head, body.as_bytes()) {
                    Ok(reply) if reply.status == 200 => {
                        *old_acked.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    }
                    Ok(reply) => panic!(
                        "old request {r} answered {}: {}",
                        reply.status,
                        text(&reply.body)
                    ),
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
                r += 1;
            }
        });
    }
    let ledgers: Vec<Arc<Mutex<Ledger>>> = (0..CLIENTS)
        .map(|_| Arc::new(Mutex::new(Ledger::default())))
        .collect();
    let mut clients = Vec::new();
    for (c, ledger) in ledgers.iter().enumerate() {
        let (addr, done, ledger) = (Arc::clone(&addr), Arc::clone(&done), Arc::clone(ledger));
        clients.push(thread::spawn(move || {
            let account = format!("{:012}", 900 + c);
            let mut r = 0;
            while !done.load(Ordering::Relaxed) {
                let Some(at) = *addr.lock().unwrap_or_else(|e| e.into_inner()) else {
                    thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let body = crash_body(&account, r);
                let head = format!(
                    "POST /ingest/backup-jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let mut ledger = ledger.lock().unwrap_or_else(|e| e.into_inner());
                match request(at, &head, body.as_bytes()) {
                    Ok(reply) if reply.status == 200 => ledger.acked.push(r),
                    Ok(reply) => panic!("request {r} answered {}: {}", reply.status, text(&reply.body)),
                    Err(_) => {
                        ledger.unknown.push(r);
                        drop(ledger);
                        // wait for the next server
                        while *addr.lock().unwrap_or_else(|e| e.into_inner()) == Some(at)
                            && !done.load(Ordering::Relaxed)
                        {
                            thread::sleep(Duration::from_millis(2));
                        }
                    }
                }
                r += 1;
            }
        }));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let mut server = Server::start(&args)?;
    let mut checked_requests = 0;
    for kill in 0..=KILLS {
        *addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(server.addr);
        thread::sleep(Duration::from_millis(50 + rng.below(250)));
        // SIGKILL at a random moment, with clients mid-request
        *addr.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let _ = server.child.kill();
        let _ = server.child.wait();
        server = Server::start(&args)?;
        // Clients are paused (no address); every in-flight request has failed or finished.
        for (c, ledger) in ledgers.iter().enumerate() {
            let ledger = ledger.lock().unwrap_or_else(|e| e.into_inner());
            let account = format!("{:012}", 900 + c);
            let by_type = server.counts_by("backup", &account, "ResourceType")?;
            let fixed: Vec<&(String, u64)> =
                by_type.iter().filter(|(t, _)| t.starts_with('r')).collect();
            let fresh = by_type
                .iter()
                .find(|(t, _)| t == "new")
                .map_or(0, |(_, n)| *n);
            let last_acked = ledger.acked.last().copied();
            match fixed.as_slice() {
                [] => assert!(
                    last_acked.is_none(),
                    "kill {kill}, client {c}: acked {last_acked:?}, nothing stored"
                ),
                [(t, n)] => {
                    assert_eq!(
                        *n, FIXED as u64,
                        "kill {kill}, client {c}: half applied: {by_type:?}"
                    );
                    let shown: u64 = t.trim_start_matches('r').parse()?;
                    assert!(
                        ledger.acked.contains(&shown) || ledger.unknown.contains(&shown),
                        "kill {kill}, client {c}: request {shown} was never sent"
                    );
                    assert!(
                        last_acked.is_none_or(|a| shown >= a),
                        "kill {kill}, client {c}: acked {last_acked:?} lost, shows {shown}"
                    );
                }
                more => panic!("kill {kill}, client {c}: a request half applied: {more:?}"),
            }
            let applied = fresh / FRESH as u64;
            assert_eq!(
                fresh % FRESH as u64,
                0,
                "kill {kill}, client {c}: half a request's new jobs"
            );
            let (acked, unknown) = (ledger.acked.len() as u64, ledger.unknown.len() as u64);
            assert!(
                (acked..=acked + unknown).contains(&applied),
                "kill {kill}, client {c}: {applied} requests stored, {acked} acked, {unknown} unknown"
            );
            checked_requests = checked_requests.max(acked);
        }
        if old_jobs {
            let shown = server.summaries(
                "backup",
                OLD_ACCOUNT,
                "AggregationPeriod=SEVEN_DAYS&ResourceType=ANY&MaxResults=1000",
            )?;
            let rows = shown["BackupJobSummaries"].as_array().ok_or("no list")?;
            assert!(rows.is_empty(), "kill {kill}: expired jobs show: {rows:?}");
        }
    }
    done.store(true, Ordering::Relaxed);
    *addr.lock().unwrap_or_else(|e| e.into_inner()) = None;
    for client in clients {
        client.join().map_err(|_| "a client panicked")?;
    }
    assert!(checked_requests > 0, "no request was ever acknowledged");
    let old_acked = *old_acked.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        !old_jobs || old_acked > 0,
        "no old-jobs request was ever acknowledged"
    );
    eprintln!(
        "{KILLS} kills, up to {checked_requests} acknowledged requests per client, \
         {old_acked} of old jobs, in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
