//! Properties of pagination (SPEC §7), for all four operations: pages concatenate to the
//! unpaginated answer for any MaxResults sequence, even when jobs are added between pages;
//! tokens round-trip, stay URL-safe and under 512 characters, are bound to their operation,
//! query and caller, expire, and pin the window of the first page; no string makes the decoder
//! panic, and every cut, edited or structurally broken token is rejected.
//!
//! Walks go through both the low-level API (`Cursor` + `summarize` + `Summary::page`, one
//! fresh summary per request) and `JobTable::answer` (which caches summaries, so the cache is
//! also exercised: cold, warm, cleared, and shared by interleaved walks). Forged tokens are
//! built from the token layout documented in `src/cursor.rs`, with a valid checksum, to reach
//! the decoder and the keyset lookup past the checksum.

mod support;

use std::collections::BTreeSet;
use std::fmt::Display;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use proptest::sample::Index;

use backup_summaries::{
    summarize, AccountId, AggregationPeriod, Aggregator, Answer, Caller, Cursor, CursorError,
    DayGrid, Dimension, Field, JobRecord, JobTable, MalwareScanner, MaxResults, MessageCategory,
    Operation, Page, Paging, Param, Query, QueryBuilder, QueryError, Region, ResourceType, Row,
    ScanResultStatus, State, UnixMillis, DEFAULT_TOKEN_LIFETIME,
};

use support::{
    caller, case, case_for, config, naive, operation, query, record, Case, RoleKind, ACCOUNTS,
    CATEGORIES, DAY_MS, MISSING_CATEGORY, MISSING_RESOURCE_TYPE, REGIONS, RESOURCE_TYPES, STRANGER,
};

// ---- helpers --------------------------------------------------------------------------------

/// A row's place in the order of SPEC §6: StartTime, Region and the dimension values. A
/// correct summary never has two rows with the same key.
type Key = (UnixMillis, String, [Option<String>; Field::ALL.len()]);

fn key(row: &Row) -> Key {
    (
        row.start_time(),
        row.region().to_owned(),
        std::array::from_fn(|i| {
            Field::ALL
                .get(i)
                .and_then(|&f| row.value(f))
                .map(str::to_owned)
        }),
    )
}

fn fail(e: impl Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// `recs` in a table of `op`.
fn new_table(op: Operation, recs: &[JobRecord]) -> Result<JobTable, TestCaseError> {
    JobTable::from_records(op, recs).map_err(|e| TestCaseError::fail(format!("rejected: {e}")))
}

/// The unpaginated rows of `case` over `table`, at `case.now`.
fn unpaginated(case: &Case, table: &JobTable) -> Vec<Row> {
    summarize(&case.query, &case.caller, case.now, table).to_rows()
}

/// `ms` milliseconds after `at`.
fn plus(at: UnixMillis, ms: i64) -> UnixMillis {
    UnixMillis::new(at.as_millis() + ms)
}

/// What one page showed.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    rows: Vec<Row>,
    token: Option<String>,
}

impl Seen {
    fn of(page: &Page<'_>) -> Self {
        Self {
            rows: page.rows().map(|r| r.to_row()).collect(),
            token: page.next_token().map(str::to_owned),
        }
    }
}

/// SPEC §7: URL-safe text under 512 bytes.
fn check_token_text(token: &str) -> Result<(), TestCaseError> {
    prop_assert!(!token.is_empty(), "empty NextToken");
    prop_assert!(token.len() < 512, "NextToken of {} bytes", token.len());
    prop_assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "NextToken is not URL-safe: {:?}",
        token
    );
    Ok(())
}

/// Requests pages until one has no NextToken, cycling through `maxes` (so MaxResults changes
/// between pages). `step` answers request `i` given the previous page's token. Checks that no
/// page exceeds its MaxResults and every token is well-formed text. More than `limit` pages is
/// a failure: a page other than the last always emits a row, so a correct walk is short.
fn walk(
    maxes: &[MaxResults],
    limit: usize,
    mut step: impl FnMut(usize, Option<&str>, MaxResults) -> Result<Seen, TestCaseError>,
) -> Result<Vec<Seen>, TestCaseError> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    for (i, &max) in maxes.iter().cycle().enumerate() {
        prop_assert!(i <= limit, "more than {} pages", limit);
        let seen = step(i, token.as_deref(), max)?;
        prop_assert!(
            seen.rows.len() <= max.get(),
            "page {} has {} rows, MaxResults {}",
            i,
            seen.rows.len(),
            max.get()
        );
        token.clone_from(&seen.token);
        pages.push(seen);
        match &token {
            None => break,
            Some(t) => check_token_text(t)?,
        }
    }
    Ok(pages)
}

/// SPEC §7 for a walk over an answer that does not change: no empty page unless the answer
/// is empty, a NextToken exactly when rows follow, and the pages concatenate to `whole`.
fn check_pages(pages: &[Seen], whole: &[Row]) -> Result<(), TestCaseError> {
    let mut emitted = 0;
    for (i, page) in pages.iter().enumerate() {
        prop_assert!(
            !page.rows.is_empty() || whole.is_empty(),
            "page {} is empty, the answer has {} rows",
            i,
            whole.len()
        );
        emitted += page.rows.len();
        prop_assert_eq!(
            page.token.is_some(),
            emitted < whole.len(),
            "page {}: NextToken after {} of {} rows",
            i,
            emitted,
            whole.len()
        );
    }
    let all: Vec<Row> = pages.iter().flat_map(|p| p.rows.iter().cloned()).collect();
    prop_assert_eq!(&all, whole);
    Ok(())
}

/// One request through the low-level API at `at`: decode the token (or start), summarize at
/// the pinned `now`, cut the page.
fn cursor_step(
    case: &Case,
    table: &JobTable,
    at: UnixMillis,
    token: Option<&str>,
    max: MaxResults,
) -> Result<Seen, TestCaseError> {
    let cursor = match token {
        None => Cursor::start(&case.query, &case.caller, at),
        Some(t) => Cursor::from_token(t, &case.query, &case.caller, at, DEFAULT_TOKEN_LIFETIME)
            .map_err(fail)?,
    };
    prop_assert_eq!(cursor.pinned_now(), case.now);
    prop_assert_eq!(cursor.is_start(), token.is_none());
    let summary = summarize(&case.query, &case.caller, cursor.pinned_now(), table);
    let page = summary.page(&cursor, max);
    prop_assert_eq!(page.operation(), case.op);
    prop_assert_eq!(page.period(), case.query.period());
    prop_assert_eq!(page.is_empty(), page.rows().len() == 0);
    Ok(Seen::of(&page))
}

/// One request through [`JobTable::answer`] at `at`.
fn answer_step(
    case: &Case,
    table: &JobTable,
    at: UnixMillis,
    token: Option<&str>,
    max: MaxResults,
) -> Result<Seen, TestCaseError> {
    let paging = Paging::new().with_max_results(max).with_next_token(token);
    let answer = table
        .answer(
            &case.query,
            &paging,
            &case.caller,
            at,
            DEFAULT_TOKEN_LIFETIME,
        )
        .map_err(fail)?;
    prop_assert_eq!(answer.cursor().pinned_now(), case.now);
    prop_assert_eq!(answer.cursor().is_start(), token.is_none());
    let page = answer.page();
    prop_assert_eq!(page.operation(), case.op);
    prop_assert_eq!(page.period(), case.query.period());
    Ok(Seen::of(&page))
}

/// Walks each of `cases` through [`JobTable::answer`] on one table, one page of each in
/// turn, so the summary cache holds several questions at once.
fn interleaved(
    table: &JobTable,
    cases: &[&Case],
    maxes: &[MaxResults],
    limit: usize,
) -> Result<Vec<Vec<Seen>>, TestCaseError> {
    let mut walks: Vec<Vec<Seen>> = vec![Vec::new(); cases.len()];
    for round in 0..=limit {
        let mut active = false;
        for (case, pages) in cases.iter().zip(&mut walks) {
            let token = match pages.last() {
                None => None,
                Some(Seen { token: None, .. }) => continue,
                Some(p) => p.token.clone(),
            };
            active = true;
            let max = maxes[round % maxes.len()];
            pages.push(answer_step(case, table, case.now, token.as_deref(), max)?);
        }
        if !active {
            return Ok(walks);
        }
    }
    Err(TestCaseError::fail(format!("more than {limit} pages")))
}

/// Page sizes: mostly 1..=5 so walks are long, sometimes anything up to 1000.
fn max_results() -> impl Strategy<Value = MaxResults> {
    prop_oneof![
        8 => 1u32..=5,
        1 => 6u32..=1000,
        1 => Just(1000u32),
    ]
    .prop_map(|n| MaxResults::new(n).expect("1..=1000"))
}

/// A sequence of page sizes, cycled through page by page.
fn max_results_seq() -> impl Strategy<Value = Vec<MaxResults>> {
    prop::collection::vec(max_results(), 1..6)
}

/// `case` with each of State, ResourceType, MessageCategory, MalwareScanner and
/// ScanResultStatus switched to Split where `widen` says so (dropping "completed with
/// issues" when State is widened), so that answers have many rows.
fn widened(case: Case, widen: [bool; 5]) -> Case {
    let q = &case.query;
    let op = case.op;
    let issues = q.is_completed_with_issues() && !widen[0];
    let mut b = rebuild(q, q.account().cloned(), issues);
    if widen[0] {
        b = b.state(Dimension::Split);
    }
    if widen[1] {
        b = b.resource_type(Dimension::Split);
    }
    if widen[2] && matches!(op, Operation::Backup | Operation::Copy) {
        b = b.message_category(Dimension::Split);
    }
    if widen[3] && op == Operation::Scan {
        b = b.malware_scanner(Dimension::Split);
    }
    if widen[4] && op == Operation::Scan {
        b = b.scan_result_status(Dimension::Split);
    }
    Case {
        query: b.build().expect("a valid query"),
        ..case
    }
}

/// A case of `op` and its records, biased towards long answers: most records are moved to
/// the caller's account and region, and most dimensions are split (see [`widened`]).
fn paging_case(
    op: Operation,
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = (Case, Vec<JobRecord>)> {
    (
        case_for(op, RoleKind::ALL.to_vec()),
        prop::array::uniform5(prop::bool::weighted(0.6)),
        prop::collection::vec((record(op), prop::bool::weighted(0.7)), len),
    )
        .prop_map(|(case, widen, recs)| {
            let case = widened(case, widen);
            let recs = recs
                .iter()
                .map(|(r, h)| home(r, *h, &case.caller))
                .collect();
            (case, recs)
        })
}

/// [`paging_case`] of any operation.
fn paging_case_and_records(
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = (Case, Vec<JobRecord>)> {
    operation().prop_flat_map(move |op| paging_case(op, len.clone()))
}

/// `r` with another account, region, resource type and category, everything else kept.
fn relabeled(
    r: &JobRecord,
    account: AccountId,
    region: Region,
    resource_type: ResourceType,
    category: Option<MessageCategory>,
) -> JobRecord {
    JobRecord::new(account, region, r.state(), resource_type, r.creation_date())
        .with_message_category(category)
        .with_malware_scanner(r.malware_scanner())
        .with_scan_result_status(r.scan_result_status())
}

/// Batches of records to add between pages; in each pair, `true` moves the record into the
/// caller's account and region (see [`homed`]) so that most additions show up.
fn additions(op: Operation) -> impl Strategy<Value = Vec<Vec<(JobRecord, bool)>>> {
    prop::collection::vec(
        prop::collection::vec((record(op), prop::bool::weighted(0.8)), 0..6),
        1..8,
    )
}

/// `r`, moved to `caller`'s account and region when `home` is set.
fn home(r: &JobRecord, home: bool, caller: &Caller) -> JobRecord {
    if !home {
        return r.clone();
    }
    relabeled(
        r,
        caller.account(),
        caller.region().clone(),
        r.resource_type().clone(),
        r.message_category().cloned(),
    )
}

/// The batches of [`additions`], with the flagged records moved to `caller`.
fn homed(added: &[Vec<(JobRecord, bool)>], caller: &Caller) -> Vec<Vec<JobRecord>> {
    added
        .iter()
        .map(|batch| batch.iter().map(|(r, h)| home(r, *h, caller)).collect())
        .collect()
}

/// Walks `case` while `added[i]` is pushed into the table before page `i + 1`, through the
/// low-level API or `JobTable::answer`, and checks keyset semantics (SPEC §7):
/// - each page is exactly the first MaxResults rows, of the table as it is when the page is
///   asked, whose key is greater than the last key emitted, with a NextToken exactly when
///   more such rows exist;
/// - emitted keys strictly increase (no row repeats);
/// - every row present after the cursor when a page is asked is emitted at some point (no
///   later row is skipped; a row added *before* the cursor is legitimately never shown);
/// - until something is added, the pages are a prefix of the original answer.
fn check_growing(
    case: &Case,
    recs: &[JobRecord],
    added: &[Vec<JobRecord>],
    maxes: &[MaxResults],
    high_level: bool,
) -> Result<(), TestCaseError> {
    let mut table = new_table(case.op, recs)?;
    let original = unpaginated(case, &table);
    let limit = recs.len() + added.iter().map(Vec::len).sum::<usize>() + 1;
    let mut emitted: Vec<Row> = Vec::new();
    let mut grown = false;
    let mut owed: Vec<Key> = Vec::new();
    walk(maxes, limit, |i, token, max| {
        if let Some(batch) = i.checked_sub(1).and_then(|j| added.get(j)) {
            for r in batch {
                table.push(r).map_err(fail)?;
            }
            grown |= !batch.is_empty();
        }
        let now_rows = unpaginated(case, &table);
        let after: Vec<Row> = match emitted.last() {
            None => now_rows,
            Some(last) => {
                let last = key(last);
                now_rows.into_iter().filter(|r| key(r) > last).collect()
            }
        };
        let seen = if high_level {
            answer_step(case, &table, case.now, token, max)?
        } else {
            cursor_step(case, &table, case.now, token, max)?
        };
        let expected = &after[..after.len().min(max.get())];
        prop_assert_eq!(&seen.rows[..], expected, "page {}", i);
        prop_assert_eq!(
            seen.token.is_some(),
            after.len() > max.get(),
            "page {}: NextToken with {} rows after the cursor, MaxResults {}",
            i,
            after.len(),
            max.get()
        );
        owed.extend(after.iter().map(key));
        emitted.extend(seen.rows.iter().cloned());
        if !grown {
            prop_assert_eq!(
                original.get(..emitted.len()),
                Some(&emitted[..]),
                "before any addition the pages must be a prefix of the answer"
            );
        }
        Ok(seen)
    })?;
    for pair in emitted.windows(2) {
        prop_assert!(
            key(&pair[0]) < key(&pair[1]),
            "row repeated or out of order: {:?} then {:?}",
            pair[0],
            pair[1]
        );
    }
    let shown: BTreeSet<Key> = emitted.iter().map(key).collect();
    for k in &owed {
        prop_assert!(shown.contains(k), "row {:?} was skipped", k);
    }
    if !grown {
        prop_assert_eq!(&emitted, &original);
    }
    Ok(())
}

/// Checks that every token of `pages` decodes (at `case.now` and `later`) to a cursor that
/// re-encodes to the same string and is pinned at the first page's `now`.
fn check_round_trips(case: &Case, pages: &[Seen], later: UnixMillis) -> Result<(), TestCaseError> {
    let start = Cursor::start(&case.query, &case.caller, case.now);
    prop_assert!(start.is_start());
    let start_token = start.to_token();
    check_token_text(&start_token)?;
    for at in [case.now, later] {
        let back = Cursor::from_token(
            &start_token,
            &case.query,
            &case.caller,
            at,
            DEFAULT_TOKEN_LIFETIME,
        )
        .map_err(fail)?;
        prop_assert_eq!(&back, &start);
        for token in pages.iter().filter_map(|p| p.token.as_deref()) {
            let cursor =
                Cursor::from_token(token, &case.query, &case.caller, at, DEFAULT_TOKEN_LIFETIME)
                    .map_err(fail)?;
            prop_assert_eq!(cursor.to_token(), token);
            prop_assert_eq!(cursor.pinned_now(), case.now);
            prop_assert!(!cursor.is_start());
        }
    }
    Ok(())
}

/// The pages of `case` with MaxResults 1, cut from one summary (decoding each token, but
/// not summarizing again for each page), stopping after `n` pages.
fn one_row_pages(case: &Case, table: &JobTable, n: usize) -> Result<Vec<Seen>, TestCaseError> {
    let summary = summarize(&case.query, &case.caller, case.now, table);
    let one = MaxResults::new(1).expect("1");
    let mut cursor = Cursor::start(&case.query, &case.caller, case.now);
    let mut pages = Vec::new();
    while pages.len() < n {
        let seen = Seen::of(&summary.page(&cursor, one));
        let Some(token) = seen.token.clone() else {
            pages.push(seen);
            break;
        };
        pages.push(seen);
        cursor = Cursor::from_token(
            &token,
            &case.query,
            &case.caller,
            case.now,
            DEFAULT_TOKEN_LIFETIME,
        )
        .map_err(fail)?;
    }
    Ok(pages)
}

/// A few tokens really issued for `case`: the first page's cursor, and the NextTokens of the
/// first `n` pages of a walk with MaxResults 1.
fn issued_tokens(case: &Case, table: &JobTable, n: usize) -> Result<Vec<String>, TestCaseError> {
    let mut tokens = vec![Cursor::start(&case.query, &case.caller, case.now).to_token()];
    tokens.extend(
        one_row_pages(case, table, n)?
            .into_iter()
            .filter_map(|p| p.token),
    );
    Ok(tokens)
}

/// Checks that both APIs reject `token` for `query` and `caller` at `at`, with the kind of
/// error `is_kind` names and a message that names NextToken.
fn expect_rejected(
    token: &str,
    query: &Query,
    caller: &Caller,
    at: UnixMillis,
    lifetime: Duration,
    is_kind: fn(&CursorError) -> bool,
    what: &str,
) -> Result<(), TestCaseError> {
    match Cursor::from_token(token, query, caller, at, lifetime) {
        Ok(c) => prop_assert!(false, "{}: {:?} accepted as {:?}", what, token, c),
        Err(e) => {
            prop_assert!(is_kind(&e), "{}: {:?} rejected as {:?}", what, token, e);
            prop_assert!(e.to_string().contains("NextToken"), "{}", e);
        }
    }
    let paging = Paging::new().with_next_token(Some(token));
    let result: Result<Answer, QueryError> =
        JobTable::new(query.operation()).answer(query, &paging, caller, at, lifetime);
    match result {
        Err(QueryError::Token(e)) => {
            prop_assert!(is_kind(&e), "{}: {:?} rejected as {:?}", what, token, e);
            let err = QueryError::Token(e);
            prop_assert_eq!(err.param(), Param::NextToken);
            prop_assert!(err.to_string().contains("NextToken"), "{}", err);
        }
        Err(other) => prop_assert!(false, "{}: not a token error: {:?}", what, other),
        Ok(_) => prop_assert!(false, "{}: {:?} accepted by JobTable::answer", what, token),
    }
    Ok(())
}

/// Checks that both APIs accept `token` for `query` at `at`, pinned at `pinned`.
fn expect_accepted(
    token: &str,
    query: &Query,
    caller: &Caller,
    at: UnixMillis,
    lifetime: Duration,
    pinned: UnixMillis,
    what: &str,
) -> Result<(), TestCaseError> {
    let cursor = Cursor::from_token(token, query, caller, at, lifetime)
        .map_err(|e| TestCaseError::fail(format!("{what}: {token:?} rejected: {e:?}")))?;
    prop_assert_eq!(cursor.to_token(), token, "{}", what);
    prop_assert_eq!(cursor.pinned_now(), pinned, "{}", what);
    let paging = Paging::new().with_next_token(Some(token));
    let answer = JobTable::new(query.operation())
        .answer(query, &paging, caller, at, lifetime)
        .map_err(|e| TestCaseError::fail(format!("{what}: {token:?} rejected: {e:?}")))?;
    prop_assert_eq!(answer.cursor(), &cursor, "{}", what);
    Ok(())
}

// ---- query variants -------------------------------------------------------------------------

/// A builder holding every parameter of `q` except AccountId (set to `account`) and the
/// completed-with-issues flag (set to `issues`). The flag is applied first so that `q`'s
/// State wins.
fn rebuild(q: &Query, account: Option<Dimension<AccountId>>, issues: bool) -> QueryBuilder {
    let mut b = Query::builder(q.operation());
    if issues {
        b = b.completed_with_issues();
    }
    b = b
        .state(q.state().clone())
        .resource_type(q.resource_type().clone())
        .message_category(q.message_category().clone())
        .malware_scanner(q.malware_scanner().clone())
        .scan_result_status(q.scan_result_status().clone())
        .period(q.period())
        .day_grid(q.day_grid());
    if let Some(a) = account {
        b = b.account(a);
    }
    b
}

/// `q` after the defaults of SPEC §3 (paging is not part of a query): what the fingerprint of
/// SPEC §7 must cover. Two queries with equal canonical forms are the same query.
fn canonical(q: &Query, caller: &Caller) -> Result<Query, TestCaseError> {
    let account = q
        .account()
        .cloned()
        .unwrap_or(Dimension::Only(caller.account()));
    rebuild(q, Some(account), q.is_completed_with_issues())
        .build()
        .map_err(fail)
}

/// Collapse, Split and each of `values`.
fn modes<T: Clone>(values: &[T]) -> Vec<Dimension<T>> {
    let mut out = vec![Dimension::Collapse, Dimension::Split];
    out.extend(values.iter().cloned().map(Dimension::Only));
    out
}

/// Every query that differs from `q` in at most one parameter (other than MaxResults),
/// labelled by what was changed. Some are equal to `q` after defaults, most are not.
fn one_parameter_changes(q: &Query) -> Result<Vec<(String, Query)>, TestCaseError> {
    let op = q.operation();
    let issues = q.is_completed_with_issues();
    let base = || rebuild(q, q.account().cloned(), issues);
    let mut out: Vec<(String, QueryBuilder)> = Vec::new();
    let accounts: Vec<AccountId> = ACCOUNTS
        .iter()
        .chain([&STRANGER])
        .map(|a| support::account(a))
        .collect();
    out.push(("AccountId omitted".to_owned(), rebuild(q, None, issues)));
    for a in modes(&accounts) {
        out.push((format!("AccountId {a:?}"), base().account(a)));
    }
    for s in modes(op.states()) {
        if issues && s != Dimension::Only(State::Completed) {
            // Not a query: completed-with-issues needs State COMPLETED.
            continue;
        }
        out.push((format!("State {s:?}"), base().state(s)));
    }
    let types: Vec<ResourceType> = RESOURCE_TYPES
        .iter()
        .chain([&MISSING_RESOURCE_TYPE])
        .map(|t| ResourceType::parse(t).expect("a short literal"))
        .collect();
    for t in modes(&types) {
        out.push((format!("ResourceType {t:?}"), base().resource_type(t)));
    }
    if matches!(op, Operation::Backup | Operation::Copy) {
        let categories: Vec<MessageCategory> = CATEGORIES
            .iter()
            .chain([&MISSING_CATEGORY])
            .map(|c| MessageCategory::parse(c).expect("a short literal"))
            .collect();
        for c in modes(&categories) {
            out.push((format!("MessageCategory {c:?}"), base().message_category(c)));
        }
    }
    if op == Operation::Scan {
        for m in modes(MalwareScanner::ALL) {
            out.push((format!("MalwareScanner {m:?}"), base().malware_scanner(m)));
        }
        for s in modes(ScanResultStatus::ALL) {
            out.push((
                format!("ScanResultStatus {s:?}"),
                base().scan_result_status(s),
            ));
        }
    }
    for &p in AggregationPeriod::ALL {
        out.push((format!("AggregationPeriod {p:?}"), base().period(p)));
    }
    for g in [DayGrid::ThroughToday, DayGrid::PriorFullDays] {
        out.push((format!("DayGrid {g:?}"), base().day_grid(g)));
    }
    if op != Operation::Restore {
        let mut toggled = rebuild(q, q.account().cloned(), !issues);
        if !issues && op != Operation::Scan {
            // The flag needs State COMPLETED (the builder rejects it under any other State).
            toggled = toggled.state(Dimension::Only(State::Completed));
        }
        out.push((format!("completed with issues {}", !issues), toggled));
    }
    out.into_iter()
        .map(|(what, b)| {
            let built = b
                .build()
                .map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
            Ok((what, built))
        })
        .collect()
}

/// Queries equal to `q` after defaults but not necessarily equal as values: AccountId
/// omitted versus the caller's own account, a category in other case. (Another MaxResults is
/// another [`Paging`], not another query: the loop checks it separately.)
fn same_query_spellings(q: &Query, caller: &Caller) -> Result<Vec<(String, Query)>, TestCaseError> {
    let issues = q.is_completed_with_issues();
    let mut out = Vec::new();
    let own = Dimension::Only(caller.account());
    match q.account() {
        None => out.push((
            "AccountId = own".to_owned(),
            rebuild(q, Some(own), issues).build().map_err(fail)?,
        )),
        Some(a) if *a == own => out.push((
            "AccountId omitted".to_owned(),
            rebuild(q, None, issues).build().map_err(fail)?,
        )),
        Some(_) => {}
    }
    if let Dimension::Only(c) = q.message_category() {
        let lower = MessageCategory::parse(&c.as_str().to_ascii_lowercase()).map_err(fail)?;
        out.push((
            "MessageCategory in lower case".to_owned(),
            rebuild(q, q.account().cloned(), issues)
                .message_category(Dimension::Only(lower))
                .build()
                .map_err(fail)?,
        ));
    }
    Ok(out)
}

/// A caller like `c` (same organization) with another account or region.
fn moved_caller(c: &Caller, account: AccountId, region: Region) -> Caller {
    let moved = Caller::new(account, region);
    match c.organization() {
        Some(org) => moved.with_organization(org.clone()),
        None => moved,
    }
}

// ---- junk and edits -------------------------------------------------------------------------

/// Strings that are no token: any text, URL-safe base64 junk of every length (also past the
/// decoder's length limit), near-empty.
fn junk_token() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,60}",
        "[A-Za-z0-9_-]{300,480}",
        "[A-Za-z0-9_-]{1000,1100}",
        "[A-Za-z0-9+/=_-]{20,60}",
        "\\PC{0,50}",
        Just(String::new()),
    ]
}

/// A character to put into a token: mostly from the token alphabet, sometimes anything.
fn token_char() -> impl Strategy<Value = char> {
    let alphabet: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        .chars()
        .collect();
    prop_oneof![
        4 => prop::sample::select(alphabet),
        1 => prop::sample::select(vec!['+', '/', '=', ' ', '%', '\0', 'é']),
        1 => any::<char>(),
    ]
}

// ---- forged tokens (the documented layout, with a valid checksum) ------------------------

/// FNV-1a 64, the token checksum and long-value hash of the documented layout.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `body` followed by its checksum, as a token.
fn seal(mut body: Vec<u8>) -> String {
    let sum = fnv1a(&body);
    body.extend_from_slice(&sum.to_le_bytes());
    URL_SAFE_NO_PAD.encode(body)
}

/// One row-key field as the layout stores it.
#[derive(Clone, Debug)]
enum RawField {
    Absent,
    /// A length byte (normally the text's length) and the text's bytes.
    Inline(u8, Vec<u8>),
    Long(u64, Vec<u8>),
}

impl RawField {
    /// How a real token stores `value`: inline up to 48 bytes, else hash + first 40 bytes
    /// cut at a char boundary.
    fn of(value: Option<&str>) -> Self {
        match value {
            None => Self::Absent,
            Some(v) if v.len() <= 48 => Self::inline(v.as_bytes()),
            Some(v) => {
                let mut cut = 40;
                while !v.is_char_boundary(cut) {
                    cut -= 1;
                }
                Self::Long(fnv1a(v.as_bytes()), v.as_bytes()[..cut].to_vec())
            }
        }
    }

    fn inline(bytes: &[u8]) -> Self {
        Self::Inline(u8::try_from(bytes.len()).expect("short"), bytes.to_vec())
    }

    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Self::Absent => out.push(0),
            Self::Inline(len, bytes) => {
                out.extend([1, *len]);
                out.extend_from_slice(bytes);
            }
            Self::Long(hash, prefix) => {
                out.push(2);
                out.extend_from_slice(&hash.to_le_bytes());
                out.push(u8::try_from(prefix.len()).expect("short"));
                out.extend_from_slice(prefix);
            }
        }
    }
}

/// Token body (no checksum): `header` (version, pinned `now`, fingerprint: the first 17
/// bytes of a real token), then a row key.
fn key_body(header: &[u8], bucket: u8, fields: &[RawField]) -> Vec<u8> {
    let mut out = header.to_vec();
    out.extend([1, bucket]);
    for f in fields {
        f.put(&mut out);
    }
    out
}

/// The first 17 bytes (version, pinned `now`, fingerprint) of the tokens of `case`.
fn header(case: &Case) -> Result<Vec<u8>, TestCaseError> {
    let start = Cursor::start(&case.query, &case.caller, case.now).to_token();
    let mut bytes = URL_SAFE_NO_PAD.decode(start).map_err(fail)?;
    prop_assert_eq!(bytes.len(), 17 + 1 + 8, "a first-page token is 26 bytes");
    prop_assert_eq!(bytes[0], 1, "format version");
    prop_assert_eq!(
        &bytes[1..9],
        &case.now.as_millis().to_le_bytes()[..],
        "pinned now"
    );
    prop_assert_eq!(bytes[17], 0, "first position");
    bytes.truncate(17);
    Ok(bytes)
}

/// The index of `row`'s bucket in the grid of `case` (oldest first), by SPEC §5.
fn bucket_index(case: &Case, row: &Row) -> Result<u8, TestCaseError> {
    let grid = naive::candidate_buckets(case.query.period(), case.query.day_grid(), case.now);
    let start = i128::from(row.start_time().as_millis());
    let i = grid.iter().position(|&(s, _)| s == start);
    let i = i.ok_or_else(|| TestCaseError::fail(format!("{row:?} is off the grid")))?;
    u8::try_from(i).map_err(fail)
}

/// A row key as the test compares it: bucket index, then each value's bytes (absent first).
type ByteKey = (u8, Vec<Option<Vec<u8>>>);

fn byte_key(case: &Case, row: &Row) -> Result<ByteKey, TestCaseError> {
    let values = Field::ALL
        .iter()
        .map(|&f| row.value(f))
        .map(|v| v.map(|s| s.as_bytes().to_vec()))
        .collect();
    Ok((bucket_index(case, row)?, values))
}

/// How to forge one field of a key from the value `v` of a real row.
#[derive(Clone, Debug)]
enum Choice {
    /// `v` as a real token stores it.
    Keep,
    Absent,
    /// Just after `v`: `v` followed by NUL (the empty string when `v` is absent).
    Succ,
    /// Just before `v`: `v` without its last character (absent when `v` is empty or absent).
    Pred,
    /// Any text, inline even when longer than 48 bytes.
    Text(String),
    /// A hash + prefix no label has: where it falls is up to the engine.
    Unknown(u64, Vec<u8>),
}

impl Choice {
    /// The field to store and, unless the position is up to the engine, the value compared.
    fn apply(&self, v: Option<&str>) -> (RawField, Option<Option<Vec<u8>>>) {
        let text = |t: &[u8]| (RawField::inline(t), Some(Some(t.to_vec())));
        match (self, v) {
            (Self::Keep, v) => (RawField::of(v), Some(v.map(|s| s.as_bytes().to_vec()))),
            (Self::Absent, _) | (Self::Pred, None) => (RawField::Absent, Some(None)),
            (Self::Succ, None) => text(b""),
            (Self::Succ, Some(v)) => text(format!("{v}\0").as_bytes()),
            (Self::Pred, Some(v)) => match v.char_indices().last() {
                None => (RawField::Absent, Some(None)),
                Some((i, _)) => text(&v.as_bytes()[..i]),
            },
            (Self::Text(t), _) => text(t.as_bytes()),
            (Self::Unknown(hash, prefix), _) => (RawField::Long(*hash, prefix.clone()), None),
        }
    }
}

fn choice() -> impl Strategy<Value = Choice> {
    let mut texts: Vec<String> = ACCOUNTS
        .iter()
        .chain(RESOURCE_TYPES.iter())
        .chain(CATEGORIES.iter())
        .chain(
            [
                "AGGREGATE_ALL",
                "COMPLETED",
                "FAILED",
                "GUARDDUTY",
                "THREATS_FOUND",
                "UNKNOWN",
            ]
            .iter(),
        )
        .map(|s| (*s).to_owned())
        .collect();
    texts.extend(long_labels());
    prop_oneof![
        12 => Just(Choice::Keep),
        2 => Just(Choice::Absent),
        2 => Just(Choice::Succ),
        2 => Just(Choice::Pred),
        2 => prop::sample::select(texts).prop_map(Choice::Text),
        1 => "\\PC{0,12}".prop_map(Choice::Text),
        1 => (any::<u64>(), prop::collection::vec(any::<u8>(), 0..45))
            .prop_map(|(h, p)| Choice::Unknown(h, p)),
    ]
}

/// The bucket of a forged key: the row's (`None`), one near the grid, or any byte.
fn forged_bucket() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![6 => Just(None), 2 => (0u8..16).prop_map(Some), 1 => any::<u8>().prop_map(Some)]
}

/// A structural defect; with a valid checksum the token must still be rejected as malformed.
#[derive(Clone, Debug)]
enum Defect {
    /// Another format version.
    Version(u8),
    /// A position tag other than 0 and 1.
    PositionTag(u8),
    /// A field tag other than 0, 1 and 2, on the last field.
    FieldTag(u8),
    /// An inline length past the end, on the last field.
    Overrun,
    /// Inline bytes that are not UTF-8, on the last field.
    NotUtf8(Vec<u8>),
    /// Bytes after the last field.
    Trailing(Vec<u8>),
    /// A proper prefix of the body.
    Truncated(Index),
}

fn defect() -> impl Strategy<Value = Defect> {
    prop_oneof![
        (2u8..=255).prop_map(Defect::Version),
        Just(Defect::Version(0)),
        (2u8..=255).prop_map(Defect::PositionTag),
        (3u8..=255).prop_map(Defect::FieldTag),
        Just(Defect::Overrun),
        prop::sample::select(vec![
            vec![0xff],
            vec![0xc3],
            vec![0x41, 0xe9, 0x41],
            vec![0xed, 0xa0, 0x80]
        ])
        .prop_map(Defect::NotUtf8),
        prop::collection::vec(any::<u8>(), 1..5).prop_map(Defect::Trailing),
        any::<Index>().prop_map(Defect::Truncated),
    ]
}

/// A body like `key_body(header, bucket, fields)` but with `defect`.
fn defective_body(header: &[u8], bucket: u8, fields: &[RawField], defect: &Defect) -> Vec<u8> {
    let (init, last) = fields.split_at(fields.len() - 1);
    let mut body = key_body(header, bucket, init);
    let last_at = body.len();
    match defect {
        Defect::Overrun => {
            let text = match &last[0] {
                RawField::Inline(_, t) if t.len() < 255 => t.clone(),
                _ => b"x".to_vec(),
            };
            RawField::Inline(u8::try_from(text.len() + 1).expect("short"), text).put(&mut body);
        }
        Defect::NotUtf8(bytes) => RawField::inline(bytes).put(&mut body),
        _ => last[0].put(&mut body),
    }
    match defect {
        Defect::Version(v) => body[0] = *v,
        Defect::PositionTag(t) => body[17] = *t,
        Defect::FieldTag(t) => body[last_at] = *t,
        Defect::Trailing(extra) => body.extend_from_slice(extra),
        Defect::Truncated(at) => {
            let len = body.len();
            body.truncate(at.index(len));
        }
        Defect::Overrun | Defect::NotUtf8(_) => {}
    }
    body
}

// ---- times ----------------------------------------------------------------------------------

/// Token lifetimes: the default, zero, whole milliseconds up to two days, or any number of
/// microseconds up to ten seconds (not a whole number of milliseconds).
fn lifetime() -> impl Strategy<Value = Duration> {
    let two_days = u64::try_from(2 * DAY_MS).expect("positive");
    prop_oneof![
        2 => Just(DEFAULT_TOKEN_LIFETIME),
        1 => Just(Duration::ZERO),
        2 => (1u64..=two_days).prop_map(Duration::from_millis),
        2 => (0u64..=10_000_000).prop_map(Duration::from_micros),
    ]
}

/// Offsets from the pinned `now`, in milliseconds: near it, or up to two days either way.
fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![-3i64..=3, -2 * DAY_MS..=2 * DAY_MS]
}

/// Instants at and next to both ends of `i64` time, around zero, near the generated `now`s,
/// or anywhere.
fn extreme_instant() -> impl Strategy<Value = UnixMillis> {
    prop_oneof![
        prop::sample::select(support::EDGE_INSTANTS.to_vec()).prop_map(UnixMillis::new),
        support::now(),
        any::<i64>().prop_map(UnixMillis::new),
    ]
}

// ---- long labels ----------------------------------------------------------------------------

/// ResourceType and MessageCategory values around the token's 48-byte inline limit: ASCII of
/// 48 to 50 characters, and multi-byte UTF-8 of up to 100 bytes; several share their first 40
/// bytes (the prefix a token keeps), and some cut points fall inside a character.
fn long_labels() -> Vec<String> {
    let a40 = "a".repeat(40);
    let e20 = "é".repeat(20);
    vec![
        "EBS".to_owned(),
        "a".repeat(48),
        "a".repeat(49),
        "a".repeat(50),
        format!("{a40}{}", "b".repeat(9)),
        format!("{a40}{}", "b".repeat(10)),
        format!("{a40}{}", "B".repeat(10)),
        "é".repeat(50),
        "é".repeat(49),
        format!("{}e", "é".repeat(49)),
        format!("{}a", "é".repeat(24)),
        format!("a{}", "é".repeat(24)),
        format!("{e20}{}", "x".repeat(30)),
        format!("{e20}{}", "y".repeat(30)),
        format!("{e20}{}", "é".repeat(30)),
    ]
}

/// A record of `op` with long labels, mostly in `caller`'s account and region.
fn long_label_record(op: Operation, caller: &Caller) -> impl Strategy<Value = JobRecord> {
    let labels = long_labels();
    let (own, home) = (caller.account(), caller.region().clone());
    (
        record(op),
        prop::sample::select(labels.clone()),
        prop::option::weighted(0.9, prop::sample::select(labels)),
        prop::bool::weighted(0.7),
    )
        .prop_map(move |(r, rt, cat, at_home)| {
            let (account, region) = if at_home {
                (own, home.clone())
            } else {
                (r.account_id(), r.region().clone())
            };
            let rt = ResourceType::parse(&rt).expect("at most 50 characters");
            let cat = cat.map(|c| MessageCategory::parse(&c).expect("at most 50 characters"));
            relabeled(&r, account, region, rt, cat)
        })
}

/// A case whose ResourceType and MessageCategory dimensions are mostly split (or select a
/// long label), with long-label records and long-label additions.
fn long_label_case() -> impl Strategy<Value = (Case, Vec<JobRecord>, Vec<Vec<JobRecord>>)> {
    operation().prop_flat_map(|op| {
        let labels = long_labels();
        let types: Vec<ResourceType> = labels
            .iter()
            .map(|l| ResourceType::parse(l).expect("at most 50 characters"))
            .collect();
        let categories: Vec<MessageCategory> = labels
            .iter()
            .map(|l| MessageCategory::parse(l).expect("at most 50 characters"))
            .collect();
        (
            case_for(op, RoleKind::ALL.to_vec()),
            prop::array::uniform5(prop::bool::weighted(0.6)),
            long_label_dimension(types),
            long_label_dimension(categories),
        )
            .prop_flat_map(move |(case, widen, rt, cat)| {
                let case = widened(case, widen);
                let issues = case.query.is_completed_with_issues();
                let mut b =
                    rebuild(&case.query, case.query.account().cloned(), issues).resource_type(rt);
                if matches!(op, Operation::Backup | Operation::Copy) {
                    b = b.message_category(cat);
                }
                let case = Case {
                    query: b.build().expect("a valid query"),
                    ..case
                };
                let recs = prop::collection::vec(long_label_record(op, &case.caller), 0..100);
                let added = prop::collection::vec(
                    prop::collection::vec(long_label_record(op, &case.caller), 0..6),
                    1..6,
                );
                (Just(case), recs, added)
            })
    })
}

/// Mostly Split, sometimes Collapse or one of `values`.
fn long_label_dimension<T: Clone + std::fmt::Debug + 'static>(
    values: Vec<T>,
) -> impl Strategy<Value = Dimension<T>> {
    prop_oneof![
        4 => Just(Dimension::Split),
        1 => Just(Dimension::Collapse),
        2 => prop::sample::select(values).prop_map(Dimension::Only),
    ]
}

// ---- properties -----------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// 1. Both APIs: pages concatenate to the unpaginated rows for any MaxResults sequence,
    /// no page is empty unless the answer is, and NextToken appears exactly when rows follow.
    /// The two APIs give the same pages and tokens; dropping the answer cache changes nothing,
    /// and walks of other questions on the same table (another query and caller, the same
    /// query pinned at another `now`), interleaved page by page, do not disturb each other.
    #[test]
    fn pages_concatenate_to_the_unpaginated_rows(
        ((case, recs), other) in operation().prop_flat_map(|op| (
            paging_case(op, 0..120),
            case_for(op, RoleKind::ALL.to_vec()),
        )),
        maxes in max_results_seq(),
        cut in any::<Index>(),
    ) {
        let table = new_table(case.op, &recs)?;
        let whole = unpaginated(&case, &table);
        let limit = whole.len() + 1;
        let low = walk(&maxes, limit, |_, token, max| {
            cursor_step(&case, &table, case.now, token, max)
        })?;
        check_pages(&low, &whole)?;
        // The same summary built by an Aggregator from two tables gives the same pages.
        let (a, b) = recs.split_at(cut.index(recs.len() + 1));
        let mut agg = Aggregator::new(&case.query, &case.caller, case.now);
        agg.push(&new_table(case.op, b)?);
        agg.push(&new_table(case.op, a)?);
        let merged = agg.finish();
        let split = walk(&maxes, limit, |_, token, max| {
            let cursor = match token {
                None => Cursor::start(&case.query, &case.caller, case.now),
                Some(t) => Cursor::from_token(
                    t, &case.query, &case.caller, case.now, DEFAULT_TOKEN_LIFETIME,
                ).map_err(fail)?,
            };
            Ok(Seen::of(&merged.page(&cursor, max)))
        })?;
        prop_assert_eq!(&split, &low);
        let high = walk(&maxes, limit, |_, token, max| {
            answer_step(&case, &table, case.now, token, max)
        })?;
        prop_assert_eq!(&high, &low);
        let moved = Case { now: other.now, ..case.clone() };
        let cases = [&case, &other, &moved];
        let walks = interleaved(&table, &cases, &maxes, recs_limit(&table))?;
        for (c, pages) in cases.iter().zip(&walks) {
            check_pages(pages, &unpaginated(c, &table))?;
        }
    }

    /// 2. Records pushed into the table between pages never make a row repeat or a later
    /// row vanish, with either API (see [`check_growing`]).
    #[test]
    fn records_added_between_pages_never_repeat_or_skip_a_row(
        ((case, recs), added) in operation().prop_flat_map(|op| (
            paging_case(op, 0..80),
            additions(op),
        )),
        maxes in max_results_seq(),
    ) {
        let added = homed(&added, &case.caller);
        check_growing(&case, &recs, &added, &maxes, false)?;
        check_growing(&case, &recs, &added, &maxes, true)?;
    }

    /// 3. Every token decodes, at the first page's `now` or a day later, to a cursor that
    /// encodes back to the same string and is pinned at the first page's `now`.
    #[test]
    fn tokens_round_trip(
        (case, recs) in paging_case_and_records(0..120),
        maxes in max_results_seq(),
        later in 0..=DAY_MS,
    ) {
        let table = new_table(case.op, &recs)?;
        let pages = walk(&maxes, recs_limit(&table), |_, token, max| {
            cursor_step(&case, &table, case.now, token, max)
        })?;
        check_round_trips(&case, &pages, plus(case.now, later))?;
    }

    /// 4a. No string makes the decoder panic; junk is rejected as malformed by both APIs.
    #[test]
    fn junk_tokens_are_rejected(case in case(), junk in junk_token()) {
        expect_rejected(
            &junk, &case.query, &case.caller, case.now, DEFAULT_TOKEN_LIFETIME,
            CursorError::is_malformed, "junk",
        )?;
    }

    /// 4b. Every proper prefix of a real token, a real token with one bit of its bytes
    /// flipped, with one character replaced, or with a character appended or removed, is
    /// rejected as malformed.
    #[test]
    fn cut_and_edited_tokens_are_rejected(
        (case, recs) in paging_case_and_records(10..100),
        which in any::<Index>(),
        byte in any::<Index>(),
        bit in 0u8..8,
        at in any::<Index>(),
        replacement in token_char(),
    ) {
        let table = new_table(case.op, &recs)?;
        let tokens = issued_tokens(&case, &table, 3)?;
        let token = which.get(&tokens);
        let reject = |t: &str, what: &str| expect_rejected(
            t, &case.query, &case.caller, case.now, DEFAULT_TOKEN_LIFETIME,
            CursorError::is_malformed, what,
        );
        for cut in 0..token.len() {
            reject(&token[..cut], &format!("prefix of {cut} characters"))?;
        }
        let mut bytes = URL_SAFE_NO_PAD.decode(token).map_err(fail)?;
        let i = byte.index(bytes.len());
        bytes[i] ^= 1 << bit;
        reject(&URL_SAFE_NO_PAD.encode(&bytes), &format!("bit {bit} of byte {i} flipped"))?;
        let j = at.index(token.len());
        let original = char::from(token.as_bytes()[j]);
        let c = match replacement {
            r if r != original => r,
            'A' => 'B',
            _ => 'A',
        };
        let mut edited = token.clone();
        edited.replace_range(j..=j, c.encode_utf8(&mut [0; 4]));
        reject(&edited, &format!("character {j} replaced by {c:?}"))?;
        let mut removed = token.clone();
        removed.remove(j);
        reject(&removed, &format!("character {j} removed"))?;
        reject(&format!("{token}{c}"), &format!("{c:?} appended"))?;
        reject(&format!("{token}{token}"), "doubled")?;
    }

    /// 4c. Tokens forged from the documented layout with a valid checksum (so the decoder
    /// gets past the checksum): real tokens are exactly that layout; a forged key near a
    /// real row (or anywhere) is accepted, re-encodes to itself, and resumes exactly after
    /// that key (bytewise order, any bucket), with both APIs, and the rest of the walk
    /// completes the answer; the same body with a structural defect is rejected as
    /// malformed. Nothing panics.
    #[test]
    fn forged_tokens_resume_after_their_key_or_are_rejected(
        (case, recs) in prop_oneof![
            paging_case_and_records(0..100).boxed(),
            long_label_case().prop_map(|(case, recs, _)| (case, recs)).boxed(),
        ],
        pick in any::<Index>(),
        bucket in forged_bucket(),
        choices in prop::collection::vec(choice(), 6),
        max in max_results(),
        defect in defect(),
    ) {
        let table = new_table(case.op, &recs)?;
        let whole = unpaginated(&case, &table);
        let header = header(&case)?;
        // Real tokens follow the layout: the key of the last row of their page.
        for page in &one_row_pages(&case, &table, whole.len() + 1)? {
            if let (Some(token), Some(row)) = (&page.token, page.rows.last()) {
                let fields: Vec<RawField> =
                    Field::ALL.iter().map(|&f| RawField::of(row.value(f))).collect();
                let expected = seal(key_body(&header, bucket_index(&case, row)?, &fields));
                prop_assert_eq!(token, &expected, "the token of {:?}", row);
            }
        }
        // Forge a key from a real row (or from nothing when the answer is empty).
        let base = (!whole.is_empty()).then(|| pick.get(&whole));
        let base_bucket = match base {
            Some(row) => bucket_index(&case, row)?,
            None => 0,
        };
        let bucket = bucket.unwrap_or(base_bucket);
        let mut fields = Vec::new();
        let mut compared = Vec::new();
        for (i, c) in choices.iter().enumerate() {
            let v = base.and_then(|r| Field::ALL.get(i).and_then(|&f| r.value(f)));
            let (field, value) = c.apply(v);
            fields.push(field);
            compared.push(value);
        }
        let token = seal(key_body(&header, bucket, &fields));
        prop_assert!(token.len() < 1024);
        let life = DEFAULT_TOKEN_LIFETIME;
        let cursor = Cursor::from_token(&token, &case.query, &case.caller, case.now, life)
            .map_err(|e| TestCaseError::fail(format!("forged {token:?} rejected: {e:?}")))?;
        prop_assert_eq!(&cursor.to_token(), &token);
        let low = cursor_step(&case, &table, case.now, Some(&token), max)?;
        let high = answer_step(&case, &table, case.now, Some(&token), max)?;
        prop_assert_eq!(&high, &low);
        // Where the page starts: after the key when its order is known, else anywhere.
        let start = match compared.iter().cloned().collect::<Option<Vec<_>>>() {
            Some(values) => {
                let forged: ByteKey = (bucket, values);
                let mut after = whole.len();
                for (i, row) in whole.iter().enumerate() {
                    if byte_key(&case, row)? > forged {
                        after = i;
                        break;
                    }
                }
                after
            }
            None => match low.rows.first() {
                Some(first) => whole.iter().position(|r| r == first).unwrap_or(whole.len()),
                None => whole.len(),
            },
        };
        let end = whole.len().min(start + max.get());
        prop_assert_eq!(&low.rows[..], &whole[start..end], "page after a forged key");
        prop_assert_eq!(low.token.is_some(), end < whole.len());
        if let Some(next) = &low.token {
            let rest = walk(&[max], whole.len() + 1, |i, token, max| {
                cursor_step(&case, &table, case.now, if i == 0 { Some(next) } else { token }, max)
            })?;
            let tail: Vec<Row> = rest.into_iter().flat_map(|p| p.rows).collect();
            prop_assert_eq!(&tail[..], &whole[end..], "the rest of the walk");
        }
        // The same body with a defect, correctly sealed, is malformed.
        let broken = seal(defective_body(&header, bucket, &fields, &defect));
        expect_rejected(
            &broken, &case.query, &case.caller, case.now, DEFAULT_TOKEN_LIFETIME,
            CursorError::is_malformed, &format!("{defect:?}"),
        )?;
    }

    /// 5a. A token is accepted for the same query under other spellings (another MaxResults,
    /// AccountId omitted or the caller's own) and rejected as foreign for another operation,
    /// for any query that differs after defaults in any parameter but MaxResults, and for a
    /// caller in another account or region.
    #[test]
    fn tokens_are_bound_to_their_operation_query_and_caller(
        (case, recs) in paging_case_and_records(0..60),
        other in case(),
        new_max in max_results(),
    ) {
        let table = new_table(case.op, &recs)?;
        let (q, me) = (&case.query, &case.caller);
        let life = DEFAULT_TOKEN_LIFETIME;
        prop_assert_eq!(
            &rebuild(q, q.account().cloned(), q.is_completed_with_issues())
                .build()
                .map_err(fail)?,
            q,
            "rebuild must reproduce the query"
        );
        let mine = canonical(q, me)?;
        let changes = one_parameter_changes(q)?;
        let mut changed = 0;
        for token in issued_tokens(&case, &table, 2)? {
            let foreign = |q2: &Query, caller: &Caller, what: &str| {
                expect_rejected(&token, q2, caller, case.now, life, CursorError::is_foreign, what)
            };
            let same = |q2: &Query, what: &str| {
                expect_accepted(&token, q2, me, case.now, life, case.now, what)
            };
            for (what, q2) in same_query_spellings(q, me)? {
                prop_assert_eq!(&canonical(&q2, me)?, &mine, "{}", what);
                same(&q2, &what)?;
            }
            // Another MaxResults continues the same walk (MaxResults is not fingerprinted).
            let other_max = Paging::new().with_max_results(new_max).with_next_token(Some(&token));
            let answer = table.answer(q, &other_max, me, case.now, life).map_err(fail)?;
            prop_assert_eq!(answer.cursor().pinned_now(), case.now, "other MaxResults");
            changed = 0;
            for (what, q2) in &changes {
                if canonical(q2, me)? == mine {
                    same(q2, what)?;
                } else {
                    changed += 1;
                    foreign(q2, me, what)?;
                }
            }
            for op in Operation::ALL.iter().copied().filter(|&op| op != case.op) {
                foreign(&Query::builder(op).build().map_err(fail)?, me, op.as_str())?;
            }
            if other.op != case.op || canonical(&other.query, me)? != mine {
                foreign(&other.query, me, "another random query")?;
            } else {
                same(&other.query, "an equal query")?;
            }
            for region in REGIONS.iter().map(|r| support::region(r)).filter(|r| r != me.region()) {
                foreign(q, &moved_caller(me, me.account(), region), "other region")?;
            }
            let accounts = ACCOUNTS.iter().chain([&STRANGER]).map(|a| support::account(a));
            for account in accounts.filter(|&a| a != me.account()) {
                foreign(q, &moved_caller(me, account, me.region().clone()), "other account")?;
            }
            let them = &other.caller;
            if them.account() != me.account() || them.region() != me.region() {
                foreign(q, them, "another random caller")?;
            }
        }
        // The state, resource type, period and day grid changes always include real ones.
        prop_assert!(changed >= 4, "only {} real changes", changed);
    }

    /// 5b. Spellings that are equal after defaults share tokens: State, ResourceType,
    /// MessageCategory, MalwareScanner and ScanResultStatus omitted or AGGREGATE_ALL,
    /// AccountId omitted or the caller's own, AggregationPeriod omitted or ONE_DAY, any
    /// MaxResults, a category in any case, and parameters the operation does not have.
    #[test]
    fn spellings_equal_after_defaults_share_tokens(
        op in operation(),
        me in caller(),
        now in support::now(),
    ) {
        let own = me.account().to_string();
        let mut spellings: Vec<Vec<(&str, &str)>> = vec![
            vec![],
            vec![("State", "AGGREGATE_ALL")],
            vec![("AccountId", &own)],
            vec![("ResourceType", "AGGREGATE_ALL"), ("AggregationPeriod", "ONE_DAY")],
            vec![("MaxResults", "7"), ("State", "AGGREGATE_ALL"), ("AccountId", &own)],
            vec![("MaxResults", "1000")],
        ];
        match op {
            Operation::Backup | Operation::Copy => {
                spellings.push(vec![("MessageCategory", "AGGREGATE_ALL")]);
            }
            Operation::Scan => spellings.push(vec![
                ("MalwareScanner", "AGGREGATE_ALL"),
                ("ScanResultStatus", "AGGREGATE_ALL"),
            ]),
            // Restore has no MessageCategory: the parameter is ignored (SPEC §3).
            _ => spellings.push(vec![("MessageCategory", "SUCCESS")]),
        }
        let parse = |pairs: &[(&str, &str)]| {
            Query::from_pairs_with_paging(op, pairs.iter().copied())
                .map(|(query, _)| query)
                .map_err(fail)
        };
        let queries: Vec<Query> = spellings.iter().map(|s| parse(s)).collect::<Result<_, _>>()?;
        let life = DEFAULT_TOKEN_LIFETIME;
        for (i, a) in queries.iter().enumerate() {
            let token = Cursor::start(a, &me, now).to_token();
            for (j, b) in queries.iter().enumerate() {
                let what = format!("{:?} vs {:?}", spellings[i], spellings[j]);
                expect_accepted(&token, b, &me, now, life, now, &what)?;
            }
        }
        let plain = &queries[0];
        let token = Cursor::start(plain, &me, now).to_token();
        let others = [("State", "ANY"), ("AccountId", "ANY"), ("AggregationPeriod", "SEVEN_DAYS")];
        for pair in others {
            let q = parse(&[pair])?;
            expect_rejected(&token, &q, &me, now, life, CursorError::is_foreign, pair.0)?;
        }
        if matches!(op, Operation::Backup | Operation::Copy) {
            let upper = parse(&[("MessageCategory", "SUCCESS")])?;
            let lower = parse(&[("MessageCategory", "success")])?;
            let token = Cursor::start(&upper, &me, now).to_token();
            expect_accepted(&token, &lower, &me, now, life, now, "category case")?;
            expect_rejected(&token, plain, &me, now, life, CursorError::is_foreign, "category")?;
        }
    }

    /// 6a. A token is accepted from its pinned `now` up to and including pinned + lifetime
    /// (default or custom, also not a whole number of milliseconds), rejected as future
    /// before it and as expired after it, by both APIs; when accepted, the answer is the one
    /// at the pinned `now`.
    #[test]
    fn tokens_expire_and_never_come_from_the_future(
        (case, recs) in paging_case_and_records(0..80),
        lifetime in lifetime(),
        offsets in prop::collection::vec(offset(), 1..6),
    ) {
        let table = new_table(case.op, &recs)?;
        let pinned_rows = unpaginated(&case, &table);
        let life_ms = i64::try_from(lifetime.as_millis()).map_err(fail)?;
        let life_ns = i128::try_from(lifetime.as_nanos()).map_err(fail)?;
        let mut probes = vec![-1, 0, life_ms, life_ms + 1, life_ms.saturating_sub(1)];
        probes.extend(offsets);
        for token in issued_tokens(&case, &table, 1)? {
            for &d in &probes {
                let at = plus(case.now, d);
                let what = format!("{d} ms after the pinned now, lifetime {lifetime:?}");
                let (q, me) = (&case.query, &case.caller);
                if d < 0 {
                    expect_rejected(&token, q, me, at, lifetime, CursorError::is_future, &what)?;
                } else if i128::from(d) * 1_000_000 > life_ns {
                    expect_rejected(&token, q, me, at, lifetime, CursorError::is_expired, &what)?;
                } else {
                    expect_accepted(&token, q, me, at, lifetime, case.now, &what)?;
                    let paging = Paging::new().with_next_token(Some(&token));
                    let answer = table
                        .answer(&case.query, &paging, &case.caller, at, lifetime)
                        .map_err(fail)?;
                    prop_assert_eq!(answer.summary().to_rows(), pinned_rows.clone(), "{}", what);
                }
            }
        }
    }

    /// 6c. The age check is exact at any instants, including both ends of `i64` time and
    /// lifetimes past `i64` milliseconds: future, expired or accepted as SPEC §7 says,
    /// computed here without overflow, and never a panic.
    #[test]
    fn token_age_is_exact_at_extreme_instants(
        op in operation(),
        me in caller(),
        pinned in extreme_instant(),
        (delta, relative) in (prop_oneof![-3i64..=3, any::<i64>()], any::<bool>()),
        absolute in extreme_instant(),
        lifetime in prop_oneof![
            lifetime(),
            any::<u64>().prop_map(Duration::from_millis),
            Just(Duration::MAX),
        ],
    ) {
        let query = Query::builder(op).build().map_err(fail)?;
        let token = Cursor::start(&query, &me, pinned).to_token();
        let at = if relative {
            UnixMillis::new(pinned.as_millis().saturating_add(delta))
        } else {
            absolute
        };
        let age = i128::from(at.as_millis()) - i128::from(pinned.as_millis());
        let what = format!("pinned {pinned:?}, now {at:?}, lifetime {lifetime:?}");
        if age < 0 {
            expect_rejected(&token, &query, &me, at, lifetime, CursorError::is_future, &what)?;
        } else if u128::try_from(age).map_err(fail)? * 1_000_000 > lifetime.as_nanos() {
            expect_rejected(&token, &query, &me, at, lifetime, CursorError::is_expired, &what)?;
        } else {
            expect_accepted(&token, &query, &me, at, lifetime, pinned, &what)?;
        }
    }

    /// 6b. Pages asked after one or more midnights have passed (but within the lifetime)
    /// continue the rows of the window pinned at the first page, with either API.
    #[test]
    fn pages_after_midnight_keep_the_pinned_window(
        (case, recs) in paging_case_and_records(10..150),
        maxes in max_results_seq(),
        picks in prop::collection::vec(any::<Index>(), 1..6),
    ) {
        let table = new_table(case.op, &recs)?;
        let whole = unpaginated(&case, &table);
        let next_midnight = (case.now.as_millis().div_euclid(DAY_MS) + 1) * DAY_MS;
        let lifetime_ms = i64::try_from(DEFAULT_TOKEN_LIFETIME.as_millis()).map_err(fail)?;
        let last_ok = case.now.as_millis() + lifetime_ms;
        let span = usize::try_from(last_ok - next_midnight + 1).map_err(fail)?;
        let mut times: Vec<i64> = picks
            .iter()
            .map(|p| next_midnight + i64::try_from(p.index(span)).unwrap_or(0))
            .collect();
        times.sort_unstable();
        let at = |i: usize| match i.checked_sub(1) {
            None => case.now,
            Some(j) => UnixMillis::new(times[j.min(times.len() - 1)]),
        };
        let low = walk(&maxes, whole.len() + 1, |i, token, max| {
            cursor_step(&case, &table, at(i), token, max)
        })?;
        check_pages(&low, &whole)?;
        let warm = walk(&maxes, whole.len() + 1, |i, token, max| {
            answer_step(&case, &table, at(i), token, max)
        })?;
        prop_assert_eq!(&warm, &low);
        let cold = walk(&maxes, whole.len() + 1, |i, token, max| {
            answer_step(&case, &table, at(i), token, max)
        })?;
        prop_assert_eq!(&cold, &low);
    }

    /// 7. ResourceType and MessageCategory values of 48 to 50 characters, up to 100 bytes of
    /// UTF-8, sharing 40-byte prefixes (stored in tokens as hash + prefix): pages still
    /// concatenate, with and without records added between pages, and tokens round-trip and
    /// stay under 512 characters.
    #[test]
    fn long_labels_page_correctly(
        (case, recs, added) in long_label_case(),
        maxes in max_results_seq(),
    ) {
        let table = new_table(case.op, &recs)?;
        let whole = unpaginated(&case, &table);
        let low = walk(&maxes, whole.len() + 1, |_, token, max| {
            cursor_step(&case, &table, case.now, token, max)
        })?;
        check_pages(&low, &whole)?;
        let high = walk(&maxes, whole.len() + 1, |_, token, max| {
            answer_step(&case, &table, case.now, token, max)
        })?;
        prop_assert_eq!(&high, &low);
        check_round_trips(&case, &low, plus(case.now, DAY_MS))?;
        check_growing(&case, &recs, &added, &maxes, false)?;
        check_growing(&case, &recs, &added, &maxes, true)?;
    }
}

/// The longest labels really go into tokens as hash + first 40 bytes (the documented layout),
/// not inline, and walking one row per page over many of them still works.
#[test]
fn long_labels_are_stored_as_hash_and_prefix() -> Result<(), TestCaseError> {
    let me = Caller::new(support::account(ACCOUNTS[1]), support::region(REGIONS[0]));
    let now = UnixMillis::new(support::BASE_DAY * DAY_MS + 5);
    let query = Query::builder(Operation::Backup)
        .resource_type(Dimension::Split)
        .message_category(Dimension::Split)
        .build()
        .map_err(fail)?;
    let labels = long_labels();
    let recs: Vec<JobRecord> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            JobRecord::new(
                me.account(),
                me.region().clone(),
                Operation::Backup.states()[i % 3],
                ResourceType::parse(l).expect("at most 50 characters"),
                now,
            )
            .with_message_category(Some(
                MessageCategory::parse(&labels[labels.len() - 1 - i]).expect("short enough"),
            ))
        })
        .collect();
    let case = Case {
        op: Operation::Backup,
        query,
        caller: me,
        now,
    };
    let table = new_table(case.op, &recs)?;
    let whole = unpaginated(&case, &table);
    assert_eq!(whole.len(), labels.len());
    let one = [MaxResults::new(1).expect("1")];
    let pages = walk(&one, whole.len() + 1, |_, token, max| {
        cursor_step(&case, &table, now, token, max)
    })?;
    check_pages(&pages, &whole)?;
    check_round_trips(&case, &pages, now)?;
    let widest = "é".repeat(50);
    let mut saw_long = false;
    for (page, next) in pages.iter().zip(&pages[1..]) {
        let token = page
            .token
            .as_deref()
            .expect("a NextToken before the last page");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(fail)?;
        let row = &page.rows[0];
        let rt = row.value(Field::ResourceType).expect("a resource type");
        assert!(
            token.len() < 512,
            "{} characters for {:?}",
            token.len(),
            row
        );
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        if rt.len() > 48 {
            saw_long = true;
            assert!(!contains(rt.as_bytes()), "{rt:?} stored inline");
            let mut cut = 40;
            while !rt.is_char_boundary(cut) {
                cut -= 1;
            }
            assert!(contains(&rt.as_bytes()[..cut]), "{rt:?} prefix missing");
        } else {
            assert!(contains(rt.as_bytes()), "{rt:?} not stored inline");
        }
        assert!(key(&next.rows[0]) > key(row));
    }
    assert!(saw_long);
    assert!(labels.contains(&widest));
    Ok(())
}

/// Both APIs reject a token after exactly one lifetime plus one millisecond, and accept it at
/// exactly one lifetime, for the default lifetime (the fixed example of SPEC §7's 24 h).
#[test]
fn default_lifetime_is_24_hours() -> Result<(), TestCaseError> {
    let me = Caller::new(support::account(ACCOUNTS[0]), support::region(REGIONS[1]));
    let now = UnixMillis::new(support::BASE_DAY * DAY_MS - 1);
    let query = Query::builder(Operation::Scan).build().map_err(fail)?;
    let token = Cursor::start(&query, &me, now).to_token();
    let life = DEFAULT_TOKEN_LIFETIME;
    assert_eq!(life, Duration::from_secs(24 * 60 * 60));
    expect_accepted(&token, &query, &me, plus(now, DAY_MS), life, now, "24 h")?;
    expect_rejected(
        &token,
        &query,
        &me,
        plus(now, DAY_MS + 1),
        life,
        CursorError::is_expired,
        "24 h + 1 ms",
    )?;
    expect_rejected(
        &token,
        &query,
        &me,
        plus(now, -1),
        life,
        CursorError::is_future,
        "1 ms early",
    )?;
    Ok(())
}

/// The query strategy builds queries `rebuild` reproduces, for every operation.
#[test]
fn rebuild_reproduces_generated_queries() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for &op in Operation::ALL {
        for _ in 0..64 {
            let q = query(op).new_tree(&mut runner).expect("a query").current();
            let again = rebuild(&q, q.account().cloned(), q.is_completed_with_issues()).build();
            assert_eq!(again.as_ref(), Ok(&q));
        }
    }
}

/// More pages than a table of this many jobs can have rows.
fn recs_limit(table: &JobTable) -> usize {
    usize::try_from(table.len()).unwrap_or(usize::MAX - 1) + 1
}
