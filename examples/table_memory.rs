//! Peak memory of a job table: builds a table of N synthetic backup jobs (default 10M) from
//! the generator in batches, as a loader would, and reports the process's peak resident
//! memory growth per job (Linux `VmHWM`) next to the table's own column bytes.
//!
//! ```sh
//! cargo run --release --example table_memory -- 10000000
//! ```

use std::error::Error;

use backup_summaries::synth::{Config, Generator};
use backup_summaries::{JobTable, Operation};

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
    let batch_size = 1 << 16;
    let mut config = Config::new(Operation::Backup);
    config.one_region = Some("us-east-1".parse()?);
    let mut generator = Generator::new(config);
    let mut batch = Vec::with_capacity(batch_size);
    // Warm the batch buffer and the allocator before the baseline.
    batch.extend((&mut generator).take(batch_size).map(|j| j.to_record()));
    batch.clear();
    let (_, base) = rss_kib()?;
    let mut table = JobTable::new(Operation::Backup);
    let started = std::time::Instant::now();
    let mut left = n;
    while left > 0 {
        let take = left.min(batch_size);
        batch.extend((&mut generator).take(take).map(|j| j.to_record()));
        table
            .extend(&batch)
            .map_err(|(i, e)| format!("record {i}: {e}"))?;
        batch.clear();
        left -= take;
    }
    let built = started.elapsed();
    let (peak, now) = rss_kib()?;
    let per_job = |kib: u64| kib.saturating_sub(base) as f64 * 1024.0 / n as f64;
    println!(
        "jobs={n} build_s={:.2} column_bytes_per_job={:.1} peak_rss_growth_bytes_per_job={:.1} final_rss_growth_bytes_per_job={:.1}",
        built.as_secs_f64(),
        table.column_bytes() as f64 / n as f64,
        per_job(peak),
        per_job(now),
    );
    Ok(())
}
