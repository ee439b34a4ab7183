//! Interoperability with the real AWS tooling: runs `cli/tests/interop/run_all.py`, which
//! starts `backup-summaries serve` and talks to it with boto3 and the AWS CLI.
//!
//! The scripts read the binary's path from `BACKUP_SUMMARIES_BIN`. `python3` and `aws` are
//! whatever PATH finds first: `.ci/run` installs boto3 and the AWS CLI into a virtual
//! environment and puts its `bin` first on PATH. This test fails (it does not skip) when
//! `python3`, boto3 or the `aws` CLI is missing. The tally it leaves in
//! `CARGO_TARGET_TMPDIR/interop-summary.txt` names the `python3` and `aws` it used.

use std::error::Error;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_backup-summaries");
/// How long the whole interop suite may run.
const TIMEOUT: Duration = Duration::from_secs(300);
/// How to get the tools (a bare `pip install` is refused by Debian's and Ubuntu's Python).
const INSTALL: &str = "python3 -m venv VENV && VENV/bin/pip install boto3 awscli, then put \
    VENV/bin first on PATH (.ci/run does this)";

/// Whether `program args` runs and exits 0.
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The `python3` and `aws` that PATH finds, as `python3 = ..., aws = ...`.
fn tools() -> Result<String, Box<dyn Error>> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import shutil, sys; print(f'python3 = {sys.executable}, aws = {shutil.which(\"aws\")}')",
        ])
        .stdin(Stdio::null())
        .output()?;
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Forwards every line of `from` to the channel, tagged.
fn forward(
    from: impl Read + Send + 'static,
    tag: &'static str,
    to: mpsc::Sender<(&'static str, String)>,
) {
    thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if to.send((tag, line)).is_err() {
                break;
            }
        }
    });
}

#[test]
fn aws_sdk_and_cli_interoperate() -> Result<(), Box<dyn Error>> {
    assert!(
        succeeds("python3", &["--version"]),
        "python3 is not available: install Python 3, then `{INSTALL}`"
    );
    assert!(
        succeeds("python3", &["-c", "import boto3"]),
        "boto3 is not importable: `{INSTALL}`"
    );
    assert!(
        succeeds("aws", &["--version"]),
        "the aws CLI is not available: `{INSTALL}`"
    );

    let tools = tools()?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop");
    let script = dir.join("run_all.py");
    assert!(script.is_file(), "{} is missing", script.display());
    let mut child = Command::new("python3")
        .arg(&script)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("BACKUP_SUMMARIES_BIN", BIN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (tx, rx) = mpsc::channel();
    forward(child.stdout.take().ok_or("no stdout")?, "out", tx.clone());
    forward(child.stderr.take().ok_or("no stderr")?, "err", tx);

    // Stream the output as it comes (visible with --nocapture), and keep it for the summary.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut captured = Vec::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok((tag, line)) => {
                if tag == "err" {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
                captured.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
        }
    }
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait()?;
    // Repeat the closing tally, so it shows even when the stream above was captured.
    let tally = captured
        .iter()
        .rev()
        .find(|l| l.contains(" passed, ") && l.contains(" failed"));
    let summary = format!(
        "interop (boto3 + AWS CLI; {tools}): {}",
        tally.map_or("no `N passed, M failed` line", String::as_str)
    );
    println!("{summary}");
    // libtest hides a passing test's output, so leave the tally where CI prints it from.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-summary.txt"),
        format!("{summary}\n"),
    );
    assert!(
        !timed_out,
        "the interop suite did not finish within {TIMEOUT:?}"
    );
    assert!(
        status.success(),
        "the interop suite failed ({status}):\n{}",
        captured.join("\n")
    );
    Ok(())
}
