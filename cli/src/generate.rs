//! `generate`: synthetic jobs as JSON Lines in the list-API shape of their kind, from the
//! workspace's deterministic generator ([`backup_summaries_synth`]).

use std::io::{self, BufWriter, Write as _};

use backup_summaries::UnixMillis;
use backup_summaries_synth::{Config, Generator};
use clap::Args;

use crate::clock;
use crate::error::Failure;
use crate::query::OperationArg;

/// Options of `generate`.
#[derive(Args, Debug)]
pub(crate) struct GenerateArgs {
    /// Which kind of job to generate
    #[arg(long, value_enum)]
    operation: OperationArg,
    /// Number of jobs
    #[arg(long, value_name = "N")]
    jobs: usize,
    /// Seed of the random stream: the same seed gives the same jobs
    #[arg(long, value_name = "S", default_value_t = Config::DEFAULT_SEED)]
    seed: u64,
    /// CreationDates fall in the 30 days before this RFC 3339 instant
    #[arg(long, value_name = "RFC3339", default_value = "2026-11-27T00:00:00Z",
          value_parser = clock::parse_now)]
    now: UnixMillis,
    /// Number of distinct accounts
    #[arg(long, value_name = "K", default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..))]
    accounts: u32,
}

/// Writes the jobs to stdout, one JSON object per line.
pub(crate) fn run(args: &GenerateArgs) -> Result<(), Failure> {
    let op = args.operation.operation();
    let mut config = Config::new(op);
    config.seed = args.seed;
    config.now = args.now;
    config.accounts = usize::try_from(args.accounts).unwrap_or(usize::MAX);
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut line = String::with_capacity(512);
    let generator =
        Generator::try_new(config).map_err(|e| Failure::error(format!("generator: {e}")))?;
    let mut written = Ok(());
    for job in generator.take(args.jobs) {
        line.clear();
        job.write_json(op, &mut line);
        line.push('\n');
        written = out.write_all(line.as_bytes());
        if written.is_err() {
            break;
        }
    }
    match written.and_then(|()| out.flush()) {
        // A closed pipe (`| head`) just ends the output.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::error(format!("stdout: {e}")))
        }
        _ => Ok(()),
    }
}
