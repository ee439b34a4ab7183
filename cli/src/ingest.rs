//! `ingest`: sends job files to a running `serve` (`POST /ingest/<kind>-jobs`, SPEC §11).
//!
//! A JSON Lines file (list-API records or EventBridge events, one per line) is streamed in
//! requests of `--batch` lines; any other file (a whole `list-*-jobs` document, a JSON array
//! or a pretty-printed event) is sent whole. Requests go one at a time; nothing is retried:
//! the first error stops the command with the server's message, after the requests already
//! acknowledged (which stay applied). The totals of the server's counts go to stdout.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use backup_summaries::wire::ingest_path_for_operation;
use clap::Args;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::error::Failure;
use crate::query::OperationArg;

/// Options of `ingest`.
#[derive(Args, Debug)]
pub(crate) struct IngestArgs {
    /// The server, e.g. http://127.0.0.1:4566 (plain HTTP)
    #[arg(long, value_name = "URL")]
    endpoint: String,
    /// Which kind of job the files hold
    #[arg(long, value_enum)]
    operation: OperationArg,
    /// The server's ingest token (sent as `Authorization: Bearer TOKEN`)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BACKUP_SUMMARIES_INGEST_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Lines of a JSON Lines file per request
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Job files: JSON Lines of list-API records or events, or whole documents
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// The server's counts, summed over requests.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    inserted: u64,
    replaced: u64,
    stale: u64,
    requests: u64,
}

/// One request's worth of input: where it came from, for messages.
struct Chunk<'a> {
    file: &'a Path,
    /// 1-based first line, for a JSON Lines chunk.
    first_line: Option<usize>,
    body: Vec<u8>,
}

/// Sends the files (see the module docs).
pub(crate) fn run(args: &IngestArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let url = format!(
        "{}{}",
        args.endpoint.trim_end_matches('/'),
        ingest_path_for_operation(args.operation.operation())
    );
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| Failure::error(format!("--endpoint {:?}: {e}", args.endpoint)))?;
    if uri.scheme_str() != Some("http") {
        return Err(Failure::error(format!(
            "--endpoint {:?}: expected an http:// URL",
            args.endpoint
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::error(format!("cannot start the async runtime: {e}")))?;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let total_bytes: u64 = args
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = if io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut totals = Totals::default();
    let batch = usize::try_from(args.batch).unwrap_or(usize::MAX);
    let sent = args.files.iter().try_for_each(|file| {
        bar.set_message(file.display().to_string());
        chunks(file, batch, &bar, &mut |chunk| {
            let counts = runtime.block_on(send(&client, &uri, args.token.as_deref(), chunk))?;
            totals.inserted += counts.inserted;
            totals.replaced += counts.replaced;
            totals.stale += counts.stale;
            totals.requests += 1;
            Ok(())
        })
    });
    bar.finish_and_clear();
    let line = format!(
        "inserted {}, replaced {}, stale {} ({} requests in {:.2}s)",
        totals.inserted,
        totals.replaced,
        totals.stale,
        totals.requests,
        started.elapsed().as_secs_f64()
    );
    match sent {
        Ok(()) => {
            println!("{line}");
            Ok(())
        }
        Err(e) => {
            eprintln!("acknowledged before the error: {line}");
            Err(e)
        }
    }
}

/// Cuts `file` into request bodies and hands each to `send`.
fn chunks(
    file: &Path,
    batch: usize,
    bar: &ProgressBar,
    send: &mut dyn FnMut(Chunk<'_>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let fail = |e: io::Error| Failure::error(format!("{}: {e}", file.display()));
    let mut reader = BufReader::with_capacity(1 << 20, File::open(file).map_err(fail)?);
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first).map_err(fail)?;
    if !is_json_lines(&first) {
        let mut body = first;
        reader.read_to_end(&mut body).map_err(fail)?;
        bar.inc(body.len() as u64);
        return send(Chunk {
            file,
            first_line: None,
            body,
        });
    }
    let mut body = first;
    let mut lines = 1;
    let mut first_line = 1;
    let mut line_no = 1;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(fail)?;
        if n == 0 || lines == batch {
            if !body.iter().all(u8::is_ascii_whitespace) {
                bar.inc(body.len() as u64);
                send(Chunk {
                    file,
                    first_line: Some(first_line),
                    body: std::mem::take(&mut body),
                })?;
            }
            body.clear();
            lines = 0;
            first_line = line_no + 1;
        }
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        body.extend_from_slice(&line);
        lines += 1;
    }
}

/// Whether a file whose first line is `first` is JSON Lines: that line is one whole JSON
/// value (an object), and not a list-API document on one line.
fn is_json_lines(first: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(first) {
        Ok(Value::Object(map)) => !map.keys().any(|k| k.ends_with("Jobs")),
        _ => false,
    }
}

/// The server's counts for one request.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    inserted: u64,
    replaced: u64,
    stale: u64,
}

/// POSTs one chunk; the server's counts, or its error as a failure.
async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    uri: &hyper::Uri,
    token: Option<&str>,
    chunk: Chunk<'_>,
) -> Result<Counts, Failure> {
    let whence = match chunk.first_line {
        Some(line) => format!(
            "{} (the request starting at line {line}; line numbers below count from there)",
            chunk.file.display()
        ),
        None => chunk.file.display().to_string(),
    };
    let mut request = hyper::Request::post(uri.clone()).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(chunk.body)))
        .map_err(|e| Failure::error(format!("{whence}: cannot build the request: {e}")))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| Failure::error(format!("{whence}: cannot reach {uri}: {}", causes(&e))))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::error(format!("{whence}: reading the answer of {uri}: {e}")))?
        .to_bytes();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        let code = json.get("Code").and_then(Value::as_str).unwrap_or("");
        let message = json.get("Message").and_then(Value::as_str).map_or_else(
            || String::from_utf8_lossy(&body).into_owned(),
            str::to_owned,
        );
        return Err(Failure::error(format!(
            "{whence}: the server answered {status} {code}: {message}"
        )));
    }
    let count = |name: &str| json.get(name).and_then(Value::as_u64);
    match (count("Inserted"), count("Replaced"), count("Stale")) {
        (Some(inserted), Some(replaced), Some(stale)) => Ok(Counts {
            inserted,
            replaced,
            stale,
        }),
        _ => Err(Failure::error(format!(
            "{whence}: unexpected answer from {uri}: {}",
            String::from_utf8_lossy(&body)
        ))),
    }
}

/// An error and its sources, `: `-separated.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_told_from_documents() {
        assert!(is_json_lines(b"{\"AccountId\": \"123456789012\"}\n"));
        assert!(is_json_lines(
            b"{\"detail-type\": \"Backup Job State Change\"}\n"
        ));
        assert!(!is_json_lines(b"{\n"));
        assert!(!is_json_lines(b"{\"BackupJobs\": [\n"));
        assert!(!is_json_lines(b"{\"BackupJobs\": []}\n"));
        assert!(!is_json_lines(b"[{\"AccountId\": \"123456789012\"}]\n"));
    }
}
