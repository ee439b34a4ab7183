//! `backup-summaries`: a local AWS Backup job-summary endpoint, one-shot queries and
//! synthetic job data, over the `backup-summaries` engine.
//!
//! - `serve`: answers `ListBackupJobSummaries` and its copy, restore and scan siblings over
//!   HTTP, so AWS SDKs and the AWS CLI can point `--endpoint-url` at it.
//! - `query`: answers one request in process and prints the body.
//! - `generate`: writes synthetic jobs as JSON Lines in the list-API shape.
//! - `ingest`: sends job files to a running server's ingest endpoint (SPEC §11).
//!
//! The library does no I/O and reads no clock; this binary is the edge that reads files,
//! the clock and the network, and passes everything to the library as arguments.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod auth;
mod clock;
mod data;
mod demo;
mod error;
mod generate;
mod ingest;
mod query;
mod serve;
mod store;

use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Failure;

/// jemalloc: loading a job file allocates a few small strings per job on the parse threads and
/// frees them on the main thread; glibc's allocator keeps more memory for that (1M jobs: peak
/// RSS 165 MB instead of 134 MB; see the README, "Streaming ingest").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The AWS Backup job-summary API, locally.
#[derive(Debug, Parser)]
#[command(name = "backup-summaries", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the four job-summary operations over HTTP (REST-JSON, as AWS does).
    ///
    /// With no job file, serves a built-in demo data set dated to the current day.
    Serve(serve::ServeArgs),
    /// Answer one request in process and print the response body.
    ///
    /// With no job file, answers from the built-in demo data set.
    Query(query::QueryArgs),
    /// Write synthetic jobs as JSON Lines in the list-API shape.
    Generate(generate::GenerateArgs),
    /// Send job files (list-API records or EventBridge events) to a running server's ingest
    /// endpoint, in batches, and print the totals of its counts.
    Ingest(ingest::IngestArgs),
}

fn main() -> ExitCode {
    // Usage errors exit 2 (clap's convention), after printing the usage.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Query(args) => query::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Ingest(args) => ingest::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let mut err = io::stderr().lock();
            // Nothing sensible is left to do if stderr itself fails.
            let _ = match &failure {
                Failure::Error(message) => writeln!(err, "error: {message}"),
                Failure::Rejected(body) => err.write_all(body).and_then(|()| writeln!(err)),
            };
            failure.exit_code()
        }
    }
}
