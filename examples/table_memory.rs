//! Memory of a job table: builds a table of N synthetic backup jobs (default 10M) from the
//! generator in batches, as a loader would, and reports the process's peak and final
//! resident memory growth per job (Linux `VmHWM`, `VmRSS`) next to the table's own heap
//! bytes. With `identified`, every job gets a job id (`job-<n>`), so the identity index is
//! measured too; with `anonymous` (the default) jobs have no id and cost only their cells.
//!
//! ```sh
//! cargo run --release --example table_memory -- 10000000 anonymous
//! cargo run --release --example table_memory -- 10000000 identified
//! ```

use std::error::Error;

use backup_summaries::{JobId, JobTable, Operation};
use backup_summaries_synth::{Config, Generator};

/// Peak and current resident set size in KiB, from /proc/self/status.
fn rss_kib() -> Result<(u64, u64), Box<dyn Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> Result<u64, Box<dyn Error>> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| format!("{name} not in /proc/self/status"))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .ok_or("malformed status line")?
            .parse()?)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

#[expect(
    clippy::disallowed_methods,
    reason = "an example program, not the core: it times the build"
)]
fn main() -> Result<(), Box<dyn Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(Ok(10_000_000), |s| s.parse())?;
    let identified = match std::env::args().nth(2).as_deref() {
        None | Some("anonymous") => false,
        Some("identified") => true,
        Some(other) => {
            return Err(format!("unknown mode {other:?}: anonymous or identified").into())
        }
    };
    let batch_size = 1 << 16;
    let mut config = Config::new(Operation::Backup);
    config.one_region = Some("us-east-1".parse()?);
    let mut generator = Generator::try_new(config)?;
    let mut batch = Vec::with_capacity(batch_size);
    // Warm the batch buffer and the allocator before the baseline.
    batch.extend((&mut generator).take(batch_size).map(|j| j.to_record()));
    batch.clear();
    let mut next_id = 0u64;
    let (_, base) = rss_kib()?;
    let mut table = JobTable::new(Operation::Backup);
    let started = std::time::Instant::now();
    let mut left = n;
    while left > 0 {
        let take = left.min(batch_size);
        for job in (&mut generator).take(take) {
            let mut record = job.to_record();
            if identified {
                record = record.with_job_id(Some(JobId::parse(&format!("job-{next_id}"))?));
                next_id += 1;
            }
            batch.push(record);
        }
        table.extend(&batch)?;
        batch.clear();
        left -= take;
    }
    let built = started.elapsed();
    let (peak, now) = rss_kib()?;
    let per_job = |kib: u64| kib.saturating_sub(base) as f64 * 1024.0 / n as f64;
    println!(
        "jobs={n} identified={identified} cells={} build_s={:.2} heap_bytes_per_job={:.1} peak_rss_growth_bytes_per_job={:.1} final_rss_growth_bytes_per_job={:.1}",
        table.cell_count(),
        built.as_secs_f64(),
        table.heap_bytes() as f64 / n as f64,
        per_job(peak),
        per_job(now),
    );
    Ok(())
}
