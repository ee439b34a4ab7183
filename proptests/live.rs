//! Properties of live jobs (SPEC §10): any interleaving of inserts, upserts (repeated and
//! stale versions included), removals, expiries and batches leaves a table whose every
//! summary equals the naive reference run on the final set of current jobs, kept by a plain
//! model (a map from id to current record, and a list of anonymous records) that shares no
//! code with the cube. Pre-counted cells, merged cubes and appended batches equal the cube
//! built from the jobs; page walks with changes between pages keep the keyset rule; and the
//! rare rules (completed with issues, day edges) get inputs biased towards them.

mod support;

use std::collections::BTreeMap;

use proptest::prelude::*;

use backup_summaries::{
    summarize, Applied, Batch, Field, JobId, JobRecord, JobTable, MaxResults, Operation, Outcome,
    Paging, Query, Row, State, UnixMillis, Version, DEFAULT_TOKEN_LIFETIME,
};

use support::{case_for, config, naive, record, Case, RoleKind, BASE_DAY, DAY_MS};

/// Job ids are drawn from this many, so upserts and removals hit existing jobs often.
const IDS: u8 = 6;

/// One change to a table.
#[derive(Clone, Debug)]
enum Op {
    /// A job without an id.
    Anonymous(JobRecord),
    /// An upsert of job `id`, with an optional version.
    Upsert(u8, JobRecord, Option<u32>),
    /// A removal by id.
    Remove(u8),
    /// `expire(now)` with the table's retention.
    Expire(UnixMillis),
    /// Several changes applied as one batch.
    Batch(Vec<Self>),
    /// A batch with a record of another operation's state at the given position: rejected.
    BadBatch(Vec<Self>, usize),
}

/// The plain model of a table: anonymous records, and the current record and version of
/// each id.
#[derive(Clone, Debug, Default)]
struct Model {
    anonymous: Vec<JobRecord>,
    ids: BTreeMap<u8, (JobRecord, u32)>,
}

fn job_id(id: u8) -> JobId {
    JobId::parse(&format!("job-{id}")).expect("a short id")
}

/// A state that `op` does not have.
fn foreign_state(op: Operation) -> State {
    State::ALL
        .iter()
        .copied()
        .find(|s| !op.states().contains(s))
        .expect("every operation lacks some state")
}

impl Model {
    fn current(&self) -> Vec<JobRecord> {
        self.anonymous
            .iter()
            .cloned()
            .chain(self.ids.values().map(|(r, _)| r.clone()))
            .collect()
    }

    /// Applies one change; returns what a table reports for it.
    fn apply(&mut self, op: &Op, retention: u32, out: &mut Applied) {
        match op {
            Op::Anonymous(_) | Op::Upsert(..) | Op::Remove(_) => self.change(op, out),
            Op::Expire(now) => {
                let day = |ms: i64| i128::from(ms).div_euclid(i128::from(DAY_MS));
                let cutoff = day(now.as_millis()) - i128::from(retention);
                let keep = |r: &JobRecord| day(r.creation_date().as_millis()) >= cutoff;
                self.anonymous.retain(keep);
                self.ids.retain(|_, (r, _)| keep(r));
            }
            Op::Batch(ops) => {
                for op in ops {
                    self.change(op, out);
                }
            }
            Op::BadBatch(..) => {}
        }
    }

    fn change(&mut self, op: &Op, out: &mut Applied) {
        match op {
            Op::Anonymous(r) => {
                self.anonymous.push(r.clone());
                out.inserted += 1;
            }
            Op::Upsert(id, r, version) => match self.ids.get_mut(id) {
                Some((_, stored)) if version.is_some_and(|v| v < *stored) => out.stale += 1,
                Some((old, stored)) => {
                    *old = r.clone();
                    *stored = version.unwrap_or(*stored);
                    out.replaced += 1;
                }
                None => {
                    self.ids.insert(*id, (r.clone(), version.unwrap_or(0)));
                    out.inserted += 1;
                }
            },
            Op::Remove(id) => {
                if self.ids.remove(id).is_some() {
                    out.removed += 1;
                } else {
                    out.not_found += 1;
                }
            }
            _ => {}
        }
    }
}

/// Stages one simple change into a batch.
fn stage(batch: &mut Batch, op: &Op) -> Result<(), TestCaseError> {
    let fail = |e: backup_summaries::BatchError| TestCaseError::fail(e.to_string());
    match op {
        Op::Anonymous(r) => batch.upsert(r, None).map_err(fail),
        Op::Upsert(id, r, v) => batch
            .upsert(
                &r.clone().with_job_id(Some(job_id(*id))),
                v.map(Version::from_secs),
            )
            .map_err(fail),
        Op::Remove(id) => {
            batch.remove(&job_id(*id));
            Ok(())
        }
        other => Err(TestCaseError::fail(format!(
            "not a simple change: {other:?}"
        ))),
    }
}

/// Applies one change to the table; returns what it reported.
fn apply(table: &mut JobTable, op: &Op) -> Result<Applied, TestCaseError> {
    let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(e.to_string());
    let mut out = Applied::default();
    match op {
        Op::Anonymous(r) => {
            table.upsert(r, None).map_err(|e| fail(&e))?;
            out.inserted += 1;
        }
        Op::Upsert(id, r, v) => {
            let r = r.clone().with_job_id(Some(job_id(*id)));
            match table
                .upsert(&r, v.map(Version::from_secs))
                .map_err(|e| fail(&e))?
            {
                backup_summaries::Upserted::Inserted => out.inserted += 1,
                backup_summaries::Upserted::Replaced => out.replaced += 1,
                backup_summaries::Upserted::Stale => out.stale += 1,
                other => return Err(TestCaseError::fail(format!("unknown outcome {other:?}"))),
            }
        }
        Op::Remove(id) => {
            if table.remove(&job_id(*id)) {
                out.removed += 1;
            } else {
                out.not_found += 1;
            }
        }
        Op::Expire(now) => {
            table.expire(*now);
        }
        Op::Batch(ops) => {
            let mut batch = Batch::new(table.operation());
            for op in ops {
                stage(&mut batch, op)?;
            }
            out = table.apply(batch).map_err(|e| fail(&e))?;
        }
        Op::BadBatch(ops, bad) => {
            let mut batch = Batch::new(table.operation());
            let generation = table.generation();
            let len = table.len();
            for (i, op) in ops.iter().enumerate() {
                if i == *bad {
                    let (Op::Anonymous(r) | Op::Upsert(_, r, _)) = op else {
                        return Err(TestCaseError::fail("the bad change is a record"));
                    };
                    let wrong = r.clone().with_state(foreign_state(table.operation()));
                    let e = batch
                        .upsert(&wrong, None)
                        .err()
                        .ok_or_else(|| TestCaseError::fail("a foreign state was staged"))?;
                    prop_assert_eq!(e.position(), i);
                    // The caller drops a batch that failed to stage; nothing was applied.
                    prop_assert_eq!((table.generation(), table.len()), (generation, len));
                    return Ok(out);
                }
                stage(&mut batch, op)?;
            }
        }
    }
    Ok(out)
}

/// Simple changes of `op`'s records.
fn simple_op(op: Operation) -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => record(op).prop_map(Op::Anonymous),
        6 => (0..IDS, record(op), prop::option::weighted(0.6, 0u32..5))
            .prop_map(|(id, r, v)| Op::Upsert(id, r, v)),
        2 => (0..IDS).prop_map(Op::Remove),
    ]
}

/// Any change of `op`'s records, batches and expiries included.
fn any_op(op: Operation) -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => simple_op(op),
        1 => (-25i64..=4, 0..DAY_MS)
            .prop_map(|(d, ms)| Op::Expire(UnixMillis::new((BASE_DAY + d) * DAY_MS + ms))),
        2 => prop::collection::vec(simple_op(op), 0..8).prop_map(Op::Batch),
        1 => (prop::collection::vec(simple_op(op), 1..8), any::<prop::sample::Index>())
            .prop_filter_map("needs a record to spoil", |(ops, at)| {
                let records: Vec<usize> = ops
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| !matches!(o, Op::Remove(_)))
                    .map(|(i, _)| i)
                    .collect();
                let bad = *records.get(at.index(records.len().max(1)))?;
                Some(Op::BadBatch(ops, bad))
            }),
    ]
}

/// A case of any operation with a sequence of changes and a retention.
fn case_and_ops() -> impl Strategy<Value = (Case, Vec<Op>, u32)> {
    support::operation().prop_flat_map(|op| {
        (
            case_for(op, RoleKind::ALL.to_vec()),
            prop::collection::vec(any_op(op), 0..60),
            0u32..=20,
        )
    })
}

/// The engine's rows and the naive reference's for `case`.
fn both(case: &Case, table: &JobTable, model: &Model) -> (Vec<Row>, Vec<Row>) {
    let engine = summarize(&case.query, &case.caller, case.now, table).to_rows();
    let naive = naive::summarize(
        case.op,
        &case.query,
        &case.caller,
        case.now,
        &model.current(),
    );
    (engine, naive)
}

proptest! {
    #![proptest_config(config())]

    /// Any interleaving of changes: every summary equals the naive reference over the
    /// model's current jobs, every change reports what the model says, and every id holds
    /// its current values.
    #[test]
    fn any_change_sequence_matches_the_model((case, ops, retention) in case_and_ops()) {
        let mut table = JobTable::new(case.op).with_retention_days(retention);
        let mut model = Model::default();
        for (i, op) in ops.iter().enumerate() {
            let got = apply(&mut table, op)?;
            let mut want = Applied::default();
            model.apply(op, retention, &mut want);
            prop_assert_eq!(got, want, "change {}: {:?}", i, op);
            prop_assert_eq!(table.len(), model.current().len() as u64, "after change {}", i);
        }
        let (engine, naive) = both(&case, &table, &model);
        prop_assert_eq!(engine, naive);
        prop_assert_eq!(table.identified_len(), model.ids.len());
        for id in 0..IDS {
            let stored = table.get(&job_id(id));
            match model.ids.get(&id) {
                None => prop_assert!(stored.is_none(), "job-{} should be gone", id),
                Some((r, v)) => {
                    let s = stored.ok_or_else(|| TestCaseError::fail(format!("job-{id} lost")))?;
                    prop_assert_eq!(s.state(), r.state());
                    prop_assert_eq!(s.resource_type(), r.resource_type().as_str());
                    prop_assert_eq!(s.account_id(), Some(r.account_id()));
                    prop_assert_eq!(s.region(), r.region().as_str());
                    prop_assert_eq!(
                        s.message_category(),
                        r.message_category().map(|c| c.as_str())
                    );
                    let day = r.creation_date().as_millis().div_euclid(DAY_MS);
                    prop_assert_eq!(s.creation_day().as_millis(), day.saturating_mul(DAY_MS));
                    prop_assert_eq!(s.version().map_or(0, |v| v.as_secs()), *v);
                }
            }
        }
        prop_assert_eq!(table.iter().count(), model.ids.len());
    }

    /// The same changes applied one by one or as one batch leave the same table.
    #[test]
    fn a_batch_equals_its_changes_one_by_one(
        (case, ops) in support::operation().prop_flat_map(|op| (
            case_for(op, RoleKind::ALL.to_vec()),
            prop::collection::vec(simple_op(op), 0..40),
        )),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut one_by_one = JobTable::new(case.op);
        for op in &ops {
            apply(&mut one_by_one, op)?;
        }
        // Staged in two batches (as two parsed chunks), appended, applied once.
        let (a, b) = ops.split_at(cut.index(ops.len() + 1));
        let (mut first, mut second) = (Batch::new(case.op), Batch::new(case.op));
        for op in a {
            stage(&mut first, op)?;
        }
        for op in b {
            stage(&mut second, op)?;
        }
        first.append(second).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(first.len(), ops.len());
        let mut batched = JobTable::new(case.op);
        let preview = batched.preview(&first);
        let applied = batched.apply(first).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let count = |o: Outcome| preview.iter().filter(|&&p| p == o).count() as u64;
        let anonymous = ops.iter().filter(|o| matches!(o, Op::Anonymous(_))).count() as u64;
        prop_assert_eq!(
            (count(Outcome::Inserted) + anonymous, count(Outcome::Replaced), count(Outcome::Stale)),
            (applied.inserted, applied.replaced, applied.stale)
        );
        prop_assert_eq!(
            (count(Outcome::Removed), count(Outcome::NotFound)),
            (applied.removed, applied.not_found)
        );
        let rows = |t: &JobTable| summarize(&case.query, &case.caller, case.now, t).to_rows();
        prop_assert_eq!(rows(&batched), rows(&one_by_one));
        prop_assert_eq!(batched.len(), one_by_one.len());
    }

    /// Pre-counted cells (a GROUP BY computed elsewhere), and merged cubes, equal the cube
    /// built from the jobs.
    #[test]
    fn precounted_cells_and_merges_equal_the_jobs(
        (case, recs) in support::case_and_records(0..200),
        cut in any::<prop::sample::Index>(),
    ) {
        let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(e.to_string());
        let jobs = JobTable::from_records(case.op, &recs).map_err(|e| fail(&e))?;
        // GROUP BY day and every dimension, outside the crate.
        let mut groups: BTreeMap<String, (JobRecord, u64)> = BTreeMap::new();
        for r in &recs {
            let key = format!(
                "{} {} {} {} {} {:?} {:?} {:?}",
                r.creation_date().as_millis().div_euclid(DAY_MS),
                r.account_id(),
                r.region(),
                r.state(),
                r.resource_type(),
                r.message_category(),
                r.malware_scanner(),
                r.scan_result_status()
            );
            groups.entry(key).or_insert_with(|| (r.clone(), 0)).1 += 1;
        }
        let mut counted = JobTable::new(case.op);
        for (r, n) in groups.values() {
            counted.add_count(r, *n).map_err(|e| fail(&e))?;
        }
        let (a, b) = recs.split_at(cut.index(recs.len() + 1));
        let mut merged = JobTable::from_records(case.op, b).map_err(|e| fail(&e))?;
        let other = JobTable::from_records(case.op, a).map_err(|e| fail(&e))?;
        merged.add_counts_of(&other).map_err(|e| fail(&e))?;
        let rows = |t: &JobTable| summarize(&case.query, &case.caller, case.now, t).to_rows();
        let want = naive::summarize(case.op, &case.query, &case.caller, case.now, &recs);
        prop_assert_eq!(&rows(&jobs), &want);
        prop_assert_eq!(&rows(&counted), &want);
        prop_assert_eq!(&rows(&merged), &want);
        prop_assert_eq!((counted.len(), merged.len()), (jobs.len(), jobs.len()));
    }

    /// Page walks with changes between pages (SPEC §10): each page is the rows of the jobs
    /// current at its request that come after the cursor, so no row key is emitted twice and
    /// no key present at both requests is skipped.
    #[test]
    fn page_walks_with_changes_keep_the_keyset_rule(
        (case, start, between) in support::operation().prop_flat_map(|op| (
            case_for(op, RoleKind::ALL.to_vec()),
            prop::collection::vec(simple_op(op), 0..60),
            prop::collection::vec(prop::collection::vec(simple_op(op), 0..6), 1..12),
        )),
        maxes in prop::collection::vec(1u32..4, 1..6),
    ) {
        let mut table = JobTable::new(case.op);
        for op in &start {
            apply(&mut table, op)?;
        }
        let key = |r: &Row| {
            let values: Vec<Option<String>> =
                Field::ALL.iter().map(|&f| r.value(f).map(str::to_owned)).collect();
            (r.start_time(), r.region().to_owned(), values)
        };
        let mut emitted: Vec<Row> = Vec::new();
        let mut token: Option<String> = None;
        for page in 0..200 {
            if page > 0 {
                for op in &between[(page - 1) % between.len()] {
                    apply(&mut table, op)?;
                }
            }
            let max = MaxResults::new(maxes[page % maxes.len()])
                .ok_or_else(|| TestCaseError::fail("MaxResults out of range"))?;
            let paging = Paging::new().with_max_results(max).with_next_token(token.as_deref());
            let answer = table
                .answer(&case.query, &paging, &case.caller, case.now, DEFAULT_TOKEN_LIFETIME)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let current = summarize(&case.query, &case.caller, case.now, &table).to_rows();
            let after: Vec<Row> = match emitted.last() {
                None => current,
                Some(last) => current.into_iter().filter(|r| key(r) > key(last)).collect(),
            };
            let rows: Vec<Row> = answer.page().rows().map(|r| r.to_row()).collect();
            prop_assert_eq!(&rows[..], &after[..after.len().min(max.get())], "page {}", page);
            emitted.extend(rows);
            token = answer.page().next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        prop_assert!(token.is_none(), "the walk did not end");
        for pair in emitted.windows(2) {
            prop_assert!(key(&pair[0]) < key(&pair[1]), "repeated or out of order: {:?}", pair);
        }
    }

    /// Completed with issues (SPEC §3), with inputs biased towards it: COMPLETED (scan:
    /// COMPLETED_WITH_ISSUES) jobs with a SUCCESS category, another category or none, on
    /// the window's day edges.
    #[test]
    fn completed_with_issues_matches_naive(
        (case, recs) in prop_oneof![Just(Operation::Backup), Just(Operation::Copy), Just(Operation::Scan)]
            .prop_flat_map(|op| (
                case_for(op, RoleKind::ALL.to_vec()).prop_map(|mut c| {
                    let mut b = Query::builder(c.op).account(backup_summaries::Dimension::Split);
                    if c.op != Operation::Scan {
                        b = b.message_category(backup_summaries::Dimension::Split);
                    }
                    c.query = b.completed_with_issues().build().expect("a valid query");
                    c
                }),
                prop::collection::vec(issue_record(op), 0..60),
            )),
    ) {
        let table = JobTable::from_records(case.op, &recs)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let engine = summarize(&case.query, &case.caller, case.now, &table).to_rows();
        let naive = naive::summarize(case.op, &case.query, &case.caller, case.now, &recs);
        prop_assert_eq!(engine, naive);
    }
}

/// A record biased to the completed-with-issues rule: mostly the completed state, with a
/// category that is SUCCESS in some spelling, another one, or absent.
fn issue_record(op: Operation) -> impl Strategy<Value = JobRecord> {
    let completed = if op == Operation::Scan {
        vec![State::Completed, State::CompletedWithIssues]
    } else {
        vec![State::Completed]
    };
    (
        record(op),
        prop::bool::weighted(0.8),
        prop::sample::select(completed),
        prop_oneof![
            Just(None),
            Just(Some("SUCCESS")),
            Just(Some("Success")),
            Just(Some("ABORTED")),
            Just(Some("access_denied")),
        ],
    )
        .prop_map(|(r, force, state, category)| {
            let r = if force { r.with_state(state) } else { r };
            r.with_message_category(category.map(|c| c.parse().expect("a short literal category")))
        })
}

proptest! {
    // Each case applies over a thousand changes twice: an eighth of the cases (PROPTEST_CASES
    // still scales them).
    #![proptest_config(proptest::test_runner::Config { cases: (config().cases / 8).max(16), ..config() })]

    /// A batch large enough to be applied in the identity index's order (over 1024
    /// identified changes, few ids, so that most changes hit a job changed before in the
    /// same batch) leaves the same table, versions included, as its changes one by one.
    #[test]
    fn a_large_batch_equals_its_changes_one_by_one(
        (case, ops) in support::operation().prop_flat_map(|op| (
            case_for(op, RoleKind::ALL.to_vec()),
            prop::collection::vec(simple_op(op), 1100..1300),
        )),
    ) {
        let mut one_by_one = JobTable::new(case.op);
        let mut expected = Applied::default();
        for op in &ops {
            let a = apply(&mut one_by_one, op)?;
            expected.inserted += a.inserted;
            expected.replaced += a.replaced;
            expected.stale += a.stale;
            expected.removed += a.removed;
            expected.not_found += a.not_found;
        }
        let mut batch = Batch::new(case.op);
        for op in &ops {
            stage(&mut batch, op)?;
        }
        let mut batched = JobTable::new(case.op);
        let applied = batched.apply(batch).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(applied, expected);
        let rows = |t: &JobTable| summarize(&case.query, &case.caller, case.now, t).to_rows();
        prop_assert_eq!(rows(&batched), rows(&one_by_one));
        let jobs = |t: &JobTable| {
            let mut v: Vec<_> = t.iter().map(|j| (j.key(), j.state(), j.version())).collect();
            v.sort();
            v
        };
        prop_assert_eq!(jobs(&batched), jobs(&one_by_one));
    }
}
