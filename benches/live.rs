//! Criterion benches for live jobs (SPEC §10): changes applied to a large identified table.
//!
//! The table holds `BENCH_JOBS` identified backup jobs (comma separated sizes, default
//! `10000000`; CI runs `BENCH_JOBS=20000 cargo test --benches` as a smoke test). Each
//! iteration applies a block of changes: 70 % state transitions of existing jobs and 30 %
//! new jobs, in random CreationDate order (the records come from the synthetic generator,
//! whose dates are uniform over 30 days). Throughput is changes per second.
//!
//! - `upsert_key`: one [`JobTable::upsert_key`] per change (a caller keeping job keys).
//! - `upsert`: one [`JobTable::upsert`] per change, the record carrying its job id (the key
//!   is hashed from the id on each call).
//! - `batch`: the block staged in a [`Batch`] and applied at once.

use std::hint::black_box;
use std::time::{Duration, Instant};

use backup_summaries::{Batch, JobId, JobKey, JobRecord, JobTable, Operation};
use backup_summaries_synth::{Config, Generator};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Changes per timed block.
const BLOCK: usize = 100_000;

#[expect(
    clippy::disallowed_methods,
    reason = "a bench harness, not the core: the sizes come from the environment"
)]
fn sizes() -> Vec<usize> {
    std::env::var("BENCH_JOBS")
        .unwrap_or_else(|_| "10000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// A small xorshift stream: the bench's own randomness, fixed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The records of a block of (job number, template) changes, each carrying its job id.
fn with_ids(templates: &[JobRecord], block: Vec<(usize, usize)>) -> Vec<JobRecord> {
    block
        .into_iter()
        .map(|(k, t)| {
            let id = JobId::parse(&format!("job-{k:012}")).expect("an id");
            templates[t].clone().with_job_id(Some(id))
        })
        .collect()
}

/// The key of job number `n`.
fn key(n: usize) -> JobKey {
    JobKey::of(&format!("job-{n:012}"))
}

#[expect(
    clippy::disallowed_methods,
    reason = "a bench harness, not the core: iter_custom times each block itself"
)]
fn changes(c: &mut Criterion) {
    let mut config = Config::new(Operation::Backup);
    config.one_region = "us-east-1".parse().ok();
    let templates: Vec<JobRecord> = Generator::try_new(config)
        .expect("the generator's names parse")
        .take(1 << 16)
        .map(|j| j.to_record())
        .collect();
    for n in sizes() {
        let mut table = JobTable::new(Operation::Backup);
        for i in 0..n {
            table
                .upsert_key(key(i), &templates[i % templates.len()], None)
                .expect("a synthetic record");
        }
        let mut group = c.benchmark_group("live_changes");
        group.throughput(Throughput::Elements(BLOCK as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(10));
        let label = format!("{}k_jobs", n / 1000);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = n;
        // One block of (key, template) changes: 70 % existing jobs, 30 % new ones.
        let block = |rng: &mut Rng, next: &mut usize| -> Vec<(usize, usize)> {
            (0..BLOCK)
                .map(|_| {
                    let t = rng.below(templates.len());
                    if rng.below(10) < 7 {
                        (rng.below(*next), t)
                    } else {
                        *next += 1;
                        (*next - 1, t)
                    }
                })
                .collect()
        };
        group.bench_function(BenchmarkId::new("upsert_key", &label), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let changes: Vec<(JobKey, usize)> = block(&mut rng, &mut next)
                        .into_iter()
                        .map(|(k, t)| (key(k), t))
                        .collect();
                    let started = Instant::now();
                    for &(k, t) in &changes {
                        black_box(table.upsert_key(k, &templates[t], None).expect("valid"));
                    }
                    total += started.elapsed();
                }
                total
            });
        });
        group.bench_function(BenchmarkId::new("upsert", &label), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let records = with_ids(&templates, block(&mut rng, &mut next));
                    let started = Instant::now();
                    for r in &records {
                        black_box(table.upsert(r, None).expect("valid"));
                    }
                    total += started.elapsed();
                }
                total
            });
        });
        group.bench_function(BenchmarkId::new("batch", &label), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let records = with_ids(&templates, block(&mut rng, &mut next));
                    let started = Instant::now();
                    let mut batch = Batch::new(Operation::Backup);
                    for r in &records {
                        batch.upsert(r, None).expect("valid");
                    }
                    black_box(table.apply(batch).expect("valid"));
                    total += started.elapsed();
                }
                total
            });
        });
        group.finish();
        eprintln!(
            "live_changes/{label}: {} jobs, {} identified, {} cells, {:.1} heap bytes per identified job",
            table.len(),
            table.identified_len(),
            table.cell_count(),
            table.heap_bytes() as f64 / table.identified_len() as f64
        );
    }
}

criterion_group!(benches, changes);
criterion_main!(benches);
