//! Criterion benches for the job-summary queries Q1–Q3 of the peer suite
//! (`../shared/bench/queries.py`), on synthetic jobs with the distributions of `gen_jobs.py`.
//!
//! Sizes come from `BENCH_JOBS` (comma separated, default `1000000,10000000`); CI runs
//! `BENCH_JOBS=20000 cargo test --benches`, which runs every bench once as a smoke test.
//! Every group reports elements/s over the whole table, as the peers' rows/s do.
//!
//! - `engine`: [`summarize`] over a [`JobTable`] (the answer a server gives).
//! - `from_records`: building the table from a `&[JobRecord]` slice, then `summarize`: what
//!   a caller holding only plain records pays per query.
//! - `naive`: the reference implementation of `proptests/` (1M jobs at most).
//! - `walk`: a full NextToken walk of Q1 at MaxResults 1000 from a cold cache, next to
//!   `engine` Q1.
//! - `ingest`: JSON Lines in the list-API shape to a table (`wire::load_jobs`), on the
//!   smallest size up to 1M jobs.

use std::hint::black_box;
use std::time::Duration;

use backup_summaries::{
    summarize, Caller, JobRecord, JobTable, Operation, Organization, Query, SummaryCache,
    UnixMillis, DEFAULT_TOKEN_LIFETIME,
};
use backup_summaries_synth::{Config, Generator};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

#[path = "../proptests/support/naive.rs"]
mod naive;

/// 2026-11-26T23:59:59Z: the crate's ONE_DAY grid is then the peers' prior 14 full days.
const NOW: UnixMillis = UnixMillis::new(1_795_737_599_000);

struct Data {
    label: String,
    records: Vec<JobRecord>,
    table: JobTable,
    caller: Caller,
    queries: [(&'static str, Query); 3],
}

#[expect(
    clippy::disallowed_methods,
    reason = "a bench harness, not the core: the sizes come from the environment"
)]
fn sizes() -> Vec<usize> {
    std::env::var("BENCH_JOBS")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn label(n: usize) -> String {
    match n {
        n if n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn data(n: usize) -> Data {
    let mut config = Config::new(Operation::Backup);
    config.one_region = "us-east-1".parse().ok();
    let mut gen = Generator::try_new(config).expect("the generator's names parse");
    let accounts = gen.accounts().to_vec();
    let records: Vec<JobRecord> = (&mut gen).take(n).map(|j| j.to_record()).collect();
    let table = JobTable::from_records(Operation::Backup, &records)
        .unwrap_or_else(|e| panic!("synthetic record rejected: {e}"));
    let mgmt = accounts[0];
    let org = Organization::new(mgmt).with_accounts(accounts.iter().copied());
    let caller = Caller::new(mgmt, "us-east-1".parse().expect("region")).with_organization(org);
    let q = |pairs: &[(&str, &str)]| {
        Query::from_pairs(Operation::Backup, pairs.iter().copied()).expect("query")
    };
    let q3_account = accounts[4].to_string();
    let queries = [
        (
            "q1_all_dims_one_day",
            q(&[
                ("AccountId", "ANY"),
                ("State", "ANY"),
                ("ResourceType", "ANY"),
                ("MessageCategory", "ANY"),
            ]),
        ),
        (
            "q2_state_seven_days",
            q(&[
                ("AccountId", "AGGREGATE_ALL"),
                ("State", "ANY"),
                ("AggregationPeriod", "SEVEN_DAYS"),
            ]),
        ),
        (
            "q3_account_type_completed",
            q(&[
                ("AccountId", q3_account.as_str()),
                ("ResourceType", "EBS"),
                ("State", "COMPLETED"),
                ("MessageCategory", "ANY"),
            ]),
        ),
    ];
    Data {
        label: label(n),
        records,
        table,
        caller,
        queries,
    }
}

fn queries(c: &mut Criterion) {
    for n in sizes() {
        let d = data(n);
        for (name, query) in &d.queries {
            let mut group = c.benchmark_group(*name);
            group.throughput(Throughput::Elements(n as u64));
            if n >= 5_000_000 {
                group.sample_size(20);
            }
            group.bench_with_input(BenchmarkId::new("engine", &d.label), query, |b, q| {
                b.iter(|| summarize(black_box(q), &d.caller, NOW, black_box(&d.table)))
            });
            if n <= 1_000_000 {
                group.sample_size(10);
                group.bench_with_input(
                    BenchmarkId::new("from_records", &d.label),
                    query,
                    |b, q| {
                        b.iter(|| {
                            let table =
                                JobTable::from_records(Operation::Backup, black_box(&d.records))
                                    .expect("valid records");
                            summarize(q, &d.caller, NOW, &table)
                        })
                    },
                );
                group.bench_with_input(BenchmarkId::new("naive", &d.label), query, |b, q| {
                    b.iter(|| {
                        naive::summarize(
                            Operation::Backup,
                            black_box(q),
                            &d.caller,
                            NOW,
                            &d.records,
                        )
                    })
                });
            }
            group.finish();
        }
        walk(c, &d, n);
    }
}

/// A full NextToken walk of Q1 at MaxResults 1000, from a cold cache, next to one Q1.
fn walk(c: &mut Criterion, d: &Data, n: usize) {
    let q1 = d.queries[0].1.clone();
    let mut group = c.benchmark_group("q1_walk_max_results_1000");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("one_q1_all_rows", &d.label), |b| {
        b.iter(|| {
            let s = summarize(&q1, &d.caller, NOW, &d.table);
            s.rows().map(|r| r.count()).sum::<u64>()
        })
    });
    group.bench_function(BenchmarkId::new("walk", &d.label), |b| {
        b.iter(|| interleaved_walks(d, &q1, std::slice::from_ref(&d.caller)))
    });
    // Eight callers (the management account and seven delegated administrators, who all see
    // the whole organization) walk Q1 page by page in turn, sharing one cache: SPEC §10's
    // concurrent walks. Each walk should cost about what one walk alone does.
    let org = d
        .caller
        .organization()
        .expect("the bench caller has an organization");
    let admins: Vec<_> = org.accounts().to_sorted_vec().into_iter().take(7).collect();
    let org = Organization::new(org.management())
        .with_accounts(org.accounts().to_sorted_vec())
        .with_delegated_administrators(admins.iter().copied());
    let callers: Vec<Caller> = std::iter::once(org.management())
        .chain(admins)
        .map(|a| {
            Caller::new(a, "us-east-1".parse().expect("region")).with_organization(org.clone())
        })
        .collect();
    group.bench_function(BenchmarkId::new("eight_interleaved_walks", &d.label), |b| {
        b.iter(|| interleaved_walks(d, &q1, &callers))
    });
    group.finish();
}

/// Walks `q1` to its last page for every caller, one page of each in turn, through one cold
/// cache; returns the pages and jobs seen.
fn interleaved_walks(d: &Data, q1: &Query, callers: &[Caller]) -> (usize, u64) {
    let cache = SummaryCache::default();
    let mut tokens: Vec<Option<Option<String>>> = vec![Some(None); callers.len()];
    let (mut pages, mut total) = (0usize, 0u64);
    while tokens.iter().any(Option::is_some) {
        for (caller, token) in callers.iter().zip(tokens.iter_mut()) {
            let Some(t) = token.take() else { continue };
            let paging = backup_summaries::Paging::new()
                .with_max_results(backup_summaries::MaxResults::MAX)
                .with_next_token(t.as_deref());
            let answer = cache
                .answer(&d.table, q1, &paging, caller, NOW, DEFAULT_TOKEN_LIFETIME)
                .expect("page");
            let page = answer.page();
            total += page.rows().map(|r| r.count()).sum::<u64>();
            pages += 1;
            *token = page.next_token().map(|t| Some(t.to_owned()));
        }
    }
    (pages, total)
}

/// JSON Lines in the list-API shape to a table, as a server loads `list-backup-jobs` output.
fn ingest(c: &mut Criterion) {
    let n = sizes()
        .into_iter()
        .min()
        .unwrap_or(1_000_000)
        .min(1_000_000);
    let mut config = Config::new(Operation::Backup);
    config.one_region = "us-east-1".parse().ok();
    let mut lines = String::new();
    let generator = Generator::try_new(config).expect("the generator's names parse");
    for job in generator.take(n) {
        job.write_json(Operation::Backup, &mut lines);
        lines.push('\n');
    }
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("json_lines_to_table", label(n)), |b| {
        b.iter(|| {
            let mut table = JobTable::new(Operation::Backup);
            backup_summaries::wire::load_jobs(&mut table, black_box(lines.as_bytes()), None)
                .expect("valid jobs")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = queries, ingest
}
criterion_main!(benches);
