//! The harness shared by the tests that spawn `serve` (`ingest.rs`, `serve_robust.rs`): a
//! [`Server`] on 127.0.0.1:0 (unless the test passes `--listen`), found from its listening
//! line within [`PATIENCE`] and killed when dropped, and one HTTP [`Reply`] type. Each test
//! file adds its own request helpers (`impl Server` blocks) next to its tests.

use std::error::Error;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

pub(crate) type TestResult = Result<(), Box<dyn Error>>;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_backup-summaries");
/// How long any wait may last before a test gives up.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);
/// The `--now` of every server.
pub(crate) const NOW: &str = "2026-11-27T00:00:00Z";

/// A running `serve`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

/// One HTTP response: status, lower-cased header lines, body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<String>,
    pub(crate) body: Vec<u8>,
}

impl Server {
    /// `serve --now NOW` with `args`, on 127.0.0.1:0 unless `args` has `--listen`.
    pub(crate) fn start(args: &[&str]) -> Result<Self, Box<dyn Error>> {
        Self::start_with(args, &[])
    }

    /// As [`Server::start`], with these environment variables (and never an ingest token
    /// inherited from the test's environment).
    pub(crate) fn start_with(args: &[&str], env: &[(&str, &str)]) -> Result<Self, Box<dyn Error>> {
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .args(["--now", NOW])
            .args(args)
            .env_remove("BACKUP_SUMMARIES_INGEST_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if !args.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let Ok(line) = rx.recv_timeout(PATIENCE) else {
            let _ = child.kill();
            return Err("no listening line in time".into());
        };
        let Some(addr) = line.trim_end().strip_prefix("listening on http://") else {
            let _ = child.kill();
            return Err(format!("unexpected first line {line:?}").into());
        };
        let mut addr: SocketAddr = addr.parse()?;
        if addr.ip().is_unspecified() {
            addr.set_ip([127, 0, 0, 1].into());
        }
        Ok(Self { child, addr })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Reply {
    /// The value of header `name` (case-insensitive; values are lower-cased).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        self.headers.iter().find_map(|h| h.strip_prefix(&prefix))
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Result<Value, Box<dyn Error>> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}
