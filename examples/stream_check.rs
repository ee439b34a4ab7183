//! Streams a list-API job file through [`JobStream`] as the CLI loads it (16 MiB blocks, one
//! chunk per core, scoped threads), but only checks the records: the parse side of a load,
//! without building a table. Prints the number of jobs, or the first error.
//!
//! ```sh
//! cargo run --release --example stream_check -- backup /tmp/jobs_1m.jsonl
//! ```

use std::fs::File;
use std::io::Read as _;
use std::num::NonZero;
use std::process::ExitCode;
use std::thread;

use backup_summaries::wire::{ChunkDone, JobStream};
use backup_summaries::{Operation, Region};

const BLOCK: u64 = 16 << 20;

fn main() -> ExitCode {
    match run() {
        Ok(jobs) => {
            println!("{jobs} jobs");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<usize, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let op = match args.next().as_deref() {
        Some("backup") => Operation::Backup,
        Some("copy") => Operation::Copy,
        Some("restore") => Operation::Restore,
        Some("scan") => Operation::Scan,
        _ => return Err("usage: stream_check backup|copy|restore|scan FILE".into()),
    };
    let mut file = File::open(args.next().ok_or("no file")?)?;
    let threads = thread::available_parallelism().map_or(1, NonZero::get);
    let region = Region::parse("us-east-1")?;
    let mut stream = JobStream::new(op, Some(&region));
    let mut buf = Vec::new();
    loop {
        let read = (&mut file).take(BLOCK).read_to_end(&mut buf)?;
        let at_eof = (read as u64) < BLOCK;
        let cut = stream.cut(&buf, at_eof, threads)?;
        let consumed = cut.consumed();
        let outcomes: Vec<ChunkDone> = thread::scope(|scope| {
            #[expect(
                clippy::needless_collect,
                reason = "spawn every worker before joining any"
            )]
            let handles: Vec<_> = cut
                .chunks()
                .iter()
                .map(|chunk| scope.spawn(move || chunk.check()))
                .collect();
            handles
                .into_iter()
                .zip(cut.chunks())
                .map(|(handle, chunk)| handle.join().unwrap_or_else(|_| chunk.check()))
                .collect()
        });
        for done in outcomes {
            stream.merge(done)?;
        }
        buf.drain(..consumed);
        if at_eof && (buf.is_empty() || consumed == 0) {
            break;
        }
    }
    Ok(stream.finish()?)
}
