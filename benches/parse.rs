//! Criterion benches for the record parser (issue 9): list-API JSON Lines (the shape of
//! `../shared/bench/gen_jobs.py`, from the workspace crate `backup-summaries-synth`) to checked jobs,
//! reported as bytes/s (`parse_bytes`) and records/s (`parse_records`).
//!
//! Sizes come from `BENCH_JOBS` (the first of a comma-separated list, default `1000000`); CI
//! runs `BENCH_JOBS=20000 cargo test --benches` as a smoke test.
//!
//! - `wire_flat/{1,2}t`: the crate's parser (the hand-written flat-record scanner, serde_json
//!   for anything unusual), records checked into `JobFields`, on 1 and 2 threads.
//! - `count/{1,2}t`: the one-shot query's path (`JobChunk::count_into`): parsed, checked and
//!   counted as anonymous jobs into one `Tally` per thread, the tallies merged and added to a
//!   table at the end; no I/O (the whole input is one buffer, cut into one chunk per thread).
//! - `wire_serde/{1,2}t`: the same as `wire_flat`, with serde_json (borrowed `RawJob`, the parser before
//!   issue 9) for every record.
//! - `serde_json_only`, `sonic_rs_only`: deserializing each line into a borrowed struct with
//!   the same members, and nothing else (no checks): what the two libraries cost at least.

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Duration;

use backup_summaries::wire::{bench_count_jobs, JobStream};
use backup_summaries::{JobTable, Operation, Region, Tally};
use backup_summaries_synth::{Config, Generator};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::Deserialize;

/// The members the crate reads, borrowed when unescaped (values of any JSON type).
#[derive(Deserialize)]
#[expect(dead_code, reason = "only deserialized, to measure the parser")]
struct Raw<'a> {
    #[serde(rename = "AccountId", borrow, default)]
    account_id: Option<Cow<'a, str>>,
    #[serde(rename = "State", borrow, default)]
    state: Option<Cow<'a, str>>,
    #[serde(rename = "ResourceType", borrow, default)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(rename = "CreationDate", default)]
    creation_date: Option<f64>,
    #[serde(rename = "MessageCategory", borrow, default)]
    message_category: Option<Cow<'a, str>>,
    #[serde(rename = "Region", borrow, default)]
    region: Option<Cow<'a, str>>,
    #[serde(rename = "BackupJobId", borrow, default)]
    backup_job_id: Option<Cow<'a, str>>,
}

#[expect(
    clippy::disallowed_methods,
    reason = "a bench harness, not the core: the size comes from the environment"
)]
fn size() -> usize {
    std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|s| s.split(',').next().and_then(|n| n.trim().parse().ok()))
        .unwrap_or(1_000_000)
}

fn lines(n: usize) -> String {
    let mut generator =
        Generator::try_new(Config::new(Operation::Backup)).expect("the generator's names parse");
    let mut out = String::new();
    for _ in 0..n {
        generator.next_job().write_json(Operation::Backup, &mut out);
        out.push('\n');
    }
    out
}

fn parse(c: &mut Criterion) {
    let n = size();
    let input = lines(n);
    let region = Region::parse("us-east-1").expect("a region");
    for (group_name, throughput) in [
        ("parse_bytes", Throughput::Bytes(input.len() as u64)),
        ("parse_records", Throughput::Elements(n as u64)),
    ] {
        let mut group = c.benchmark_group(group_name);
        group.throughput(throughput);
        for (name, threads, serde_only) in [
            ("wire_flat/1t", 1, false),
            ("wire_flat/2t", 2, false),
            ("wire_serde/1t", 1, true),
            ("wire_serde/2t", 2, true),
        ] {
            group.bench_function(name, |b| {
                b.iter(|| {
                    let jobs = bench_count_jobs(
                        Operation::Backup,
                        black_box(input.as_bytes()),
                        Some(&region),
                        threads,
                        serde_only,
                    )
                    .expect("valid jobs");
                    assert_eq!(jobs, n);
                });
            });
        }
        for (name, threads) in [("count/1t", 1), ("count/2t", 2)] {
            group.bench_function(name, |b| {
                b.iter(|| {
                    let table = count(black_box(input.as_bytes()), &region, threads);
                    assert_eq!(table.len(), n as u64);
                });
            });
        }
        group.bench_function("serde_json_only", |b| {
            b.iter(|| {
                for line in black_box(&input).lines() {
                    black_box(serde_json::from_str::<Raw<'_>>(line).expect("a record"));
                }
            });
        });
        group.bench_function("sonic_rs_only", |b| {
            b.iter(|| {
                for line in black_box(&input).lines() {
                    black_box(sonic_rs::from_str::<Raw<'_>>(line).expect("a record"));
                }
            });
        });
        group.finish();
    }
}

/// Counts every job of `input` as the one-shot query does: one chunk per thread, each
/// counted into a tally of its own, the tallies merged and added to a table.
fn count(input: &[u8], region: &Region, threads: usize) -> JobTable {
    let op = Operation::Backup;
    let mut stream = JobStream::new(op, Some(region));
    let cut = stream.cut(input, true, threads).expect("a valid input");
    let mut tallies: Vec<Tally> = cut.chunks().iter().map(|_| Tally::new(op)).collect();
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = cut
            .chunks()
            .iter()
            .zip(tallies.iter_mut())
            .map(|(chunk, tally)| scope.spawn(move || chunk.count_into(tally, |_| true)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    for done in outcomes {
        stream.merge(done).expect("valid jobs");
    }
    stream.finish().expect("valid jobs");
    let mut all = Tally::new(op);
    for t in &tallies {
        all.merge(t).expect("one operation");
    }
    let mut table = JobTable::new(op);
    table.add_tally(&all).expect("one operation");
    table
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(10);
    targets = parse
}
criterion_main!(benches);
