//! The naive reference: SPEC §3–§6 written as directly as possible, to check the engine.
//!
//! It uses only the crate's public model types and accessors, a `BTreeMap` keyed on owned
//! strings, and no interning. A record's bucket is found by testing every candidate bucket in
//! turn, and the candidate buckets come from this file's own day arithmetic (in `i128`, so no
//! `now` can overflow it), never from the crate's period or engine code. A semantic change
//! edits this file first.

use std::collections::BTreeMap;

use backup_summaries::{
    AccountId, AggregationPeriod, Caller, DayGrid, Dimension, Field, JobRecord, Operation, Query,
    Row, UnixMillis,
};

/// Milliseconds in one UTC day.
const DAY: i128 = 86_400_000;

/// The literal a collapsed dimension shows (SPEC §3, D).
const AGGREGATE_ALL: &str = "AGGREGATE_ALL";

/// What one dimension does to one record: drop it, or put it in the group showing this value.
type Verdict = Option<Option<String>>;

/// The rows of `op` for `query`, asked by `caller` at `now`, over `records` (SPEC §3–§6).
///
/// Records of another kind's states are the caller's mistake; the reference counts them as
/// they are (a [`JobTable`](backup_summaries::JobTable) would have rejected them).
pub(crate) fn summarize(
    op: Operation,
    query: &Query,
    caller: &Caller,
    now: UnixMillis,
    records: &[JobRecord],
) -> Vec<Row> {
    let buckets = candidate_buckets(query.period(), query.day_grid(), now);
    let mut groups: BTreeMap<(i128, i128, [Option<String>; 6]), u64> = BTreeMap::new();
    for record in records {
        if record.region().as_str() != caller.region().as_str() {
            continue;
        }
        let created = i128::from(record.creation_date().as_millis());
        let Some(&(start, end)) = buckets.iter().find(|(s, e)| *s <= created && created < *e)
        else {
            continue;
        };
        let Some(values) = values(op, query, caller, record) else {
            continue;
        };
        *groups.entry((start, end, values)).or_insert(0) += 1;
    }
    let region = caller.region().as_str().to_owned();
    let mut rows: Vec<Row> = groups
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|((start, end, values), count)| {
            Field::ALL.iter().zip(values).fold(
                Row::new(clamp(start), clamp(end), region.as_str(), count),
                |row, (&field, value)| match value {
                    Some(v) => row.with_value(field, v),
                    None => row,
                },
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Every candidate bucket `[start, end)` of SPEC §5, in milliseconds, oldest first.
pub(crate) fn candidate_buckets(
    period: AggregationPeriod,
    grid: DayGrid,
    now: UnixMillis,
) -> Vec<(i128, i128)> {
    let now = i128::from(now.as_millis());
    let today = now.div_euclid(DAY) * DAY;
    let last = match grid {
        DayGrid::ThroughToday => today,
        DayGrid::PriorFullDays => today - DAY,
        other => panic!("naive: unknown day grid {other:?}"),
    };
    match period {
        AggregationPeriod::OneDay => (0..14)
            .map(|k| {
                let start = last - (13 - k) * DAY;
                (start, start + DAY)
            })
            .collect(),
        AggregationPeriod::SevenDays => vec![(last - 6 * DAY, last + DAY)],
        AggregationPeriod::FourteenDays => vec![(last - 13 * DAY, last + DAY)],
        other => panic!("naive: unknown period {other:?}"),
    }
}

/// The row values of `record` in [`Field::ALL`] order, or `None` when a filter drops it.
fn values(
    op: Operation,
    query: &Query,
    caller: &Caller,
    record: &JobRecord,
) -> Option<[Option<String>; 6]> {
    let mut out: [Option<String>; 6] = Default::default();
    for (slot, field) in out.iter_mut().zip(Field::ALL) {
        if !op.fields().contains(field) {
            continue;
        }
        *slot = match field {
            Field::AccountId => account(query, caller, record.account_id()),
            Field::State => plain(query.state(), &record.state(), |s| s.as_str().to_owned()),
            Field::ResourceType => plain(query.resource_type(), record.resource_type(), |r| {
                r.as_str().to_owned()
            }),
            Field::MessageCategory => category(query, record),
            Field::MalwareScanner => {
                optional(query.malware_scanner(), record.malware_scanner(), |s| {
                    s.as_str().to_owned()
                })
            }
            Field::ScanResultStatus => optional(
                query.scan_result_status(),
                record.scan_result_status(),
                |s| s.as_str().to_owned(),
            ),
            other => panic!("naive: unknown field {other:?}"),
        }?;
    }
    Some(out)
}

/// SPEC §4: who sees which account, and what the AccountId column shows.
fn account(query: &Query, caller: &Caller, job: AccountId) -> Verdict {
    let own = caller.account();
    let mode = query.account().cloned().unwrap_or(Dimension::Only(own));
    let show = |a: AccountId| Some(Some(format!("{:012}", a.as_u64())));
    let Some(org) = caller.organization() else {
        return own_only(&mode, own, job);
    };
    let is_admin = org.management() == own || org.delegated_administrators().contains(&own);
    if !is_admin {
        // A member, or an account outside the organization: standalone.
        return own_only(&mode, own, job);
    }
    let in_org = job == org.management()
        || org.accounts().contains(&job)
        || org.delegated_administrators().contains(&job);
    if !in_org {
        return None;
    }
    match mode {
        Dimension::Collapse => Some(Some(AGGREGATE_ALL.to_owned())),
        Dimension::Only(a) if a == job => show(a),
        Dimension::Only(_) => None,
        Dimension::Split => show(job),
    }
}

/// Standalone or member: only its own jobs; any account mode but `AGGREGATE_ALL` shows its id.
fn own_only(mode: &Dimension<AccountId>, own: AccountId, job: AccountId) -> Verdict {
    if job != own {
        return None;
    }
    match mode {
        Dimension::Collapse => Some(Some(AGGREGATE_ALL.to_owned())),
        Dimension::Only(_) | Dimension::Split => Some(Some(format!("{:012}", own.as_u64()))),
    }
}

/// A dimension every record has, matched exactly.
fn plain<T: PartialEq>(mode: &Dimension<T>, value: &T, show: impl Fn(&T) -> String) -> Verdict {
    match mode {
        Dimension::Collapse => Some(Some(AGGREGATE_ALL.to_owned())),
        Dimension::Only(v) if v == value => Some(Some(show(v))),
        Dimension::Only(_) => None,
        Dimension::Split => Some(Some(show(value))),
    }
}

/// A dimension a record may lack: absent never matches a specific value, is omitted under
/// `ANY` and counted under `AGGREGATE_ALL`.
fn optional<T: PartialEq>(
    mode: &Dimension<T>,
    value: Option<T>,
    show: impl Fn(&T) -> String,
) -> Verdict {
    match (mode, value) {
        (Dimension::Collapse, _) => Some(Some(AGGREGATE_ALL.to_owned())),
        (Dimension::Only(v), Some(x)) if *v == x => Some(Some(show(v))),
        (Dimension::Only(_), _) => None,
        (Dimension::Split, x) => Some(x.as_ref().map(show)),
    }
}

/// MessageCategory: ASCII case-insensitive, shown upper case; "completed with issues" keeps
/// only jobs with a category other than `SUCCESS`.
fn category(query: &Query, record: &JobRecord) -> Verdict {
    let value = record.message_category().map(|c| c.as_str());
    if query.is_completed_with_issues()
        && !value.is_some_and(|c| !c.eq_ignore_ascii_case("SUCCESS"))
    {
        return None;
    }
    match (query.message_category(), value) {
        (Dimension::Collapse, _) => Some(Some(AGGREGATE_ALL.to_owned())),
        (Dimension::Only(want), Some(c)) if want.as_str().eq_ignore_ascii_case(c) => {
            Some(Some(c.to_ascii_uppercase()))
        }
        (Dimension::Only(_), _) => None,
        (Dimension::Split, c) => Some(c.map(str::to_ascii_uppercase)),
    }
}

/// A bucket edge as an instant, saturating where `i64` milliseconds end.
fn clamp(ms: i128) -> UnixMillis {
    UnixMillis::new(i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX }))
}
