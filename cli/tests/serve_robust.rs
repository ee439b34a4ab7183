//! `serve` under hostile or unlucky clients: timeouts, bounded work, error shapes for what
//! hyper rejects by itself, graceful shutdown, and a strict organization file.
//!
//! Every server listens on 127.0.0.1:0 and is killed when its test ends; every wait is
//! bounded. Durations are generous where a slow machine could matter and tight only where
//! the behaviour under test is "at once".

use std::error::Error;
use std::fs;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{Reply, Server, TestResult, BIN, PATIENCE};

/// A request that computes (an operation path, GET).
const HEAVY: &str = "/audit/backup-job-summaries?State=ANY";

impl Server {
    fn connect(&self) -> Result<TcpStream, Box<dyn Error>> {
        let stream = TcpStream::connect_timeout(&self.addr, PATIENCE)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        stream.set_write_timeout(Some(PATIENCE))?;
        Ok(stream)
    }

    /// Sends `GET target` on a new connection and reads the whole reply.
    fn get(&self, target: &str) -> Result<Reply, Box<dyn Error>> {
        let mut stream = self.connect()?;
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )?;
        read_reply(&mut stream)
    }

    /// Sends a signal with `kill`.
    fn signal(&self, name: &str) -> TestResult {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()?;
        assert!(status.success(), "kill -s {name} failed");
        Ok(())
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Result<Option<ExitStatus>, Box<dyn Error>> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(None)
    }
}

/// Reads one response: the head, then `content-length` bytes of body.
fn read_reply(stream: &mut TcpStream) -> Result<Reply, Box<dyn Error>> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(format!(
                "connection closed inside a head: {:?}",
                String::from_utf8_lossy(&raw)
            )
            .into());
        }
        raw.push(byte[0]);
    }
    let head = String::from_utf8(raw)?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no status")?
        .parse()?;
    let headers: Vec<String> = lines
        .filter(|l| !l.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let length: usize = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length: "))
        .ok_or("no content-length")?
        .parse()?;
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// How long until the server closes `stream` (reading and dropping anything it sends).
fn time_to_close(stream: &mut TcpStream) -> Result<Duration, Box<dyn Error>> {
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return Ok(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(start.elapsed()),
            Err(e) => return Err(format!("not closed after {:?}: {e}", start.elapsed()).into()),
        }
    }
}

/// Asserts the SPEC §9 error shape: status, both headers, and a body with Code and Message.
fn assert_error_shape(reply: &Reply, status: u16, code: &str) -> TestResult {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(
        reply.header("x-amzn-ErrorType"),
        Some(&*code.to_ascii_lowercase()),
        "{reply:?}"
    );
    assert!(
        reply
            .header("x-amzn-RequestId")
            .is_some_and(|id| id.len() > 2),
        "{reply:?}"
    );
    let body: Value = reply.json()?;
    assert_eq!(
        body.get("Code").and_then(Value::as_str),
        Some(code),
        "{body}"
    );
    assert!(
        body.get("Message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    Ok(())
}

/// Sends raw bytes on a new connection and reads the reply.
fn raw_request(server: &Server, bytes: &[u8]) -> Result<Reply, Box<dyn Error>> {
    let mut stream = server.connect()?;
    stream.write_all(bytes)?;
    read_reply(&mut stream)
}

#[test]
fn a_silent_or_slow_client_is_closed_after_the_header_timeout() -> TestResult {
    let server = Server::start(&["--header-timeout", "1", "--idle-timeout", "20"])?;
    // Says nothing at all.
    let mut silent = server.connect()?;
    // Starts a head and never finishes it.
    let mut slow = server.connect()?;
    slow.write_all(b"GET /audit/backup-job-summaries HTTP/1.1\r\nHost: x\r\n")?;
    for stream in [&mut silent, &mut slow] {
        let waited = time_to_close(stream)?;
        assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    }
    // A client that is quick enough is still served.
    assert_eq!(server.get(HEAVY)?.status, 200);
    Ok(())
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() -> TestResult {
    let server = Server::start(&["--header-timeout", "1", "--idle-timeout", "3"])?;
    let mut stream = server.connect()?;
    let request = format!("GET {HEAVY} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    assert_eq!(read_reply(&mut stream)?.status, 200);
    // Idle for longer than the header timeout: still open, and still served.
    thread::sleep(Duration::from_millis(1500));
    stream.write_all(request.as_bytes())?;
    assert_eq!(read_reply(&mut stream)?.status, 200);
    // Then closed once idle for the idle timeout.
    let waited = time_to_close(&mut stream)?;
    assert!(
        waited > Duration::from_secs(2) && waited < Duration::from_secs(8),
        "closed after {waited:?}"
    );
    Ok(())
}

#[test]
fn a_full_queue_answers_service_unavailable_and_cheap_requests_do_not_wait() -> TestResult {
    let server = Server::start(&[
        "--max-concurrent",
        "1",
        "--max-queued",
        "1",
        "--debug-compute-delay-ms",
        "2000",
    ])?;
    let server = &server;
    thread::scope(|scope| -> TestResult {
        // One computing, one waiting.
        let computing = scope.spawn(|| server.get(HEAVY).map_err(|e| e.to_string()));
        thread::sleep(Duration::from_millis(400));
        let queued = scope.spawn(|| server.get(HEAVY).map_err(|e| e.to_string()));
        thread::sleep(Duration::from_millis(400));
        // A third is turned away at once.
        let start = Instant::now();
        let rejected = server.get(HEAVY)?;
        assert!(
            start.elapsed() < Duration::from_millis(1000),
            "{:?}",
            start.elapsed()
        );
        assert_error_shape(&rejected, 503, "ServiceUnavailableException")?;
        // Requests that compute nothing need no slot.
        let start = Instant::now();
        let unknown = server.get("/nowhere")?;
        assert!(
            start.elapsed() < Duration::from_millis(1000),
            "{:?}",
            start.elapsed()
        );
        assert_error_shape(&unknown, 404, "UnknownOperationException")?;
        // The admitted ones are answered.
        for handle in [computing, queued] {
            let reply = handle.join().map_err(|_| "client panicked")??;
            assert_eq!(reply.status, 200, "{reply:?}");
        }
        Ok(())
    })?;
    // Slots free again.
    assert_eq!(server.get(HEAVY)?.status, 200);
    Ok(())
}

#[test]
fn what_hyper_rejects_gets_the_json_error_shape() -> TestResult {
    let server = Server::start(&[])?;
    // A request line over the target limit, complete.
    let long_target = format!("/{}", "a".repeat(20_000));
    assert_error_shape(&server.get(&long_target)?, 414, "UriTooLongException")?;
    // A request line so long that the head never ends within the limit.
    let endless_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100_000));
    assert_error_shape(
        &raw_request(&server, endless_line.as_bytes())?,
        431,
        "RequestHeaderFieldsTooLargeException",
    )?;
    // Headers over the limit.
    let big_header = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(70_000));
    assert_error_shape(
        &raw_request(&server, big_header.as_bytes())?,
        431,
        "RequestHeaderFieldsTooLargeException",
    )?;
    // Not HTTP.
    assert_error_shape(
        &raw_request(&server, b"HELLO\r\n\r\n")?,
        400,
        "BadRequestException",
    )?;
    assert_error_shape(
        &raw_request(&server, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")?,
        400,
        "BadRequestException",
    )?;
    // The server is unharmed.
    assert_eq!(server.get(HEAVY)?.status, 200);
    Ok(())
}

#[test]
fn sigterm_exits_0_at_once_despite_a_half_sent_request() -> TestResult {
    let mut server = Server::start(&[])?;
    let mut half = server.connect()?;
    half.write_all(b"GET /audit/backup-job-summaries HTTP/1.1\r\nHost:")?;
    let mut idle = server.connect()?;
    idle.write_all(format!("GET {HEAVY} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
    assert_eq!(read_reply(&mut idle)?.status, 200);
    let start = Instant::now();
    server.signal("TERM")?;
    let status = server
        .wait_exit(Duration::from_secs(10))?
        .ok_or("still running 10 s after SIGTERM")?;
    assert_eq!(status.code(), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // Both connections are closed.
    time_to_close(&mut half)?;
    time_to_close(&mut idle)?;
    Ok(())
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() -> TestResult {
    let mut server = Server::start(&["--debug-compute-delay-ms", "1500"])?;
    let mut stream = server.connect()?;
    stream.write_all(format!("GET {HEAVY} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
    thread::sleep(Duration::from_millis(300));
    server.signal("TERM")?;
    let reply = read_reply(&mut stream)?;
    assert_eq!(reply.status, 200, "{reply:?}");
    // The connection is not kept alive, and the server is gone.
    time_to_close(&mut stream)?;
    let status = server
        .wait_exit(Duration::from_secs(10))?
        .ok_or("still running")?;
    assert_eq!(status.code(), Some(0));
    // New connections are refused.
    assert!(TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)).is_err());
    Ok(())
}

#[test]
fn sigterm_waits_at_most_the_grace_period() -> TestResult {
    let mut server =
        Server::start(&["--debug-compute-delay-ms", "20000", "--shutdown-grace", "1"])?;
    let mut stream = server.connect()?;
    stream.write_all(format!("GET {HEAVY} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
    thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    server.signal("TERM")?;
    let status = server
        .wait_exit(Duration::from_secs(10))?
        .ok_or("still running 10 s after SIGTERM")?;
    let waited = start.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    Ok(())
}

#[test]
fn a_second_sigint_exits_at_once() -> TestResult {
    let mut server = Server::start(&["--debug-compute-delay-ms", "20000"])?;
    let mut stream = server.connect()?;
    stream.write_all(format!("GET {HEAVY} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
    thread::sleep(Duration::from_millis(300));
    server.signal("INT")?;
    // The first signal waits for the request (up to the 5 s grace)...
    thread::sleep(Duration::from_millis(500));
    assert!(
        server.child.try_wait()?.is_none(),
        "exited on the first signal"
    );
    // ...the second does not.
    let start = Instant::now();
    server.signal("INT")?;
    let status = server
        .wait_exit(Duration::from_secs(10))?
        .ok_or("still running")?;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    Ok(())
}

#[test]
fn a_repeated_member_in_the_organization_file_stops_start_up() -> TestResult {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-robust-org");
    fs::create_dir_all(&dir)?;
    let org = dir.join("org.json");
    fs::write(
        &org,
        r#"{"ManagementAccountId": "123456789012", "Accounts": ["210987654321"], "Accounts": []}"#,
    )?;
    let org = org.to_str().ok_or("path")?;
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--organization", org])
        .stdin(Stdio::null())
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr)?;
    assert!(
        stderr.contains(org) && stderr.contains(r#"duplicate member "Accounts""#),
        "{stderr}"
    );
    assert!(!String::from_utf8(out.stdout)?.contains("listening"));
    Ok(())
}
