//! # backup-summaries
//!
//! The AWS Backup job-summary API — `ListBackupJobSummaries`, `ListCopyJobSummaries`,
//! `ListRestoreJobSummaries` and `ListScanJobSummaries` — as a pure, embeddable aggregation
//! engine: job records, a query, the caller and `now` go in; summary rows come out, exactly
//! as the crate's SPEC says, byte for byte the same for the same inputs.
//!
//! ```
//! use backup_summaries::{
//!     summarize, Caller, Dimension, JobRecord, JobTable, Operation, Query, State, UnixMillis,
//! };
//! let me = "123456789012".parse()?;
//! let caller = Caller::new(me, "us-east-1".parse()?);
//! let mut jobs = JobTable::new(Operation::Backup);
//! for (state, ms) in [(State::Completed, 1_795_690_000_000), (State::Failed, 1_795_690_000_001)] {
//!     jobs.push(&JobRecord::new(me, "us-east-1".parse()?, state, "EBS".parse()?, UnixMillis::new(ms)))?;
//! }
//! let query = Query::from_pairs(Operation::Backup, [("State", "ANY")])?;
//! let now = UnixMillis::new(1_795_737_599_000); // 2026-11-26T23:59:59Z
//! let summary = summarize(&query, &caller, now, &jobs);
//! let lines: Vec<String> = summary.rows().map(|r| r.to_string()).collect();
//! assert_eq!(lines, [
//!     "2026-11-26T00:00:00.000Z 2026-11-27T00:00:00.000Z us-east-1 123456789012 COMPLETED AGGREGATE_ALL AGGREGATE_ALL 1",
//!     "2026-11-26T00:00:00.000Z 2026-11-27T00:00:00.000Z us-east-1 123456789012 FAILED AGGREGATE_ALL AGGREGATE_ALL 1",
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Calling contract
//!
//! The core does no I/O and reads no clock, environment or randomness: the caller passes
//! `now`, the [`Caller`] (account, region, organization) and, at the wire layer, the request
//! id. Records and queries are checked once, at the edge ([`JobRecord`], [`JobTable::push`],
//! [`Query::from_pairs`], [`Query::from_pairs_with_paging`], [`QueryBuilder::build`]); after
//! that [`Aggregator::push`], [`Aggregator::merge`], [`Aggregator::finish`] and [`summarize`]
//! cannot fail. Each concern has one error type ([`RecordError`] naming a [`RecordField`],
//! [`QueryError`] naming a [`Param`], [`CursorError`], [`BatchError`]).
//!
//! 1. Ingest jobs into a [`JobTable`] per operation: a count cube (jobs per UTC day and
//!    dimension values) with the identity of every job that has an id, kept current with
//!    [`JobTable::upsert`], [`JobTable::remove`], [`JobTable::apply`] (a [`Batch`], all or
//!    nothing) and [`JobTable::expire`]; from typed [`JobRecord`]s or, with the `wire`
//!    feature, from the list-API JSON (`wire::load_jobs`).
//!    Live changes (SPEC §10, §11) are staged into a [`Batch`] (from a server's ingest body
//!    with `wire::parse_changes`: list-API records or EventBridge events, each event's
//!    `time` its [`Version`]), checked with [`JobTable::preview_versions`] and applied all or
//!    nothing with [`JobTable::apply`].
//! 2. Build or parse a [`Query`]; a request's MaxResults and NextToken are a [`Paging`]
//!    beside it ([`Query::from_pairs_with_paging`] reads both).
//! 3. [`summarize`] it (or feed an [`Aggregator`] several tables and [`Aggregator::merge`]
//!    partial aggregators) and read the [`Summary`] rows in their total order; or call
//!    [`JobTable::answer`] with a [`Paging`] for one page and its `NextToken`.
//!    `wire::Service::handle` does all of it for one HTTP request (`wire::Request`) and
//!    returns status, headers and body.
//!
//! Which dimensions, states and wire spellings each operation has is one table in the
//! schema ([`Operation::fields`], [`Operation::states`], [`Operation::has_param`]).
//!
//! ## Semantics
//!
//! See SPEC §3–§6 and the README: each dimension is a specific value (filter), `ANY` (one
//! group per value) or `AGGREGATE_ALL` (one group, shown as the literal `AGGREGATE_ALL`);
//! only the caller's region is counted; members and standalone accounts see only their own
//! jobs, management accounts and delegated administrators their organization's; rows fall
//! into UTC-day buckets ending with today; rows are ordered by StartTime, Region, AccountId,
//! State, ResourceType and the remaining dimensions, bytewise, absent first.
//!
//! ## Pagination
//!
//! [`JobTable::answer`] (or [`Cursor::resolve`] + [`summarize`] at
//! [`Cursor::pinned_now`] + [`Summary::page`]) cuts pages of at most MaxResults rows; the
//! page asked for is a [`Paging`] (MaxResults, NextToken), kept apart from the [`Query`].
//! `NextToken` is present exactly when more rows follow. The token is a keyset position (the
//! last row's sort key), the first page's `now`, and a fingerprint of the operation, the
//! caller and every query parameter, in a versioned, checksummed binary layout (documented
//! on [`Cursor`], pinned by golden tokens computed from that documentation), URL-safe
//! base64, at most 436 characters. Concatenating the pages gives the unpaginated rows for any sequence
//! of MaxResults; jobs added between pages never repeat a row or skip a later one. Undecodable,
//! foreign, future and expired tokens are rejected ([`CursorError`]); decoding never panics.
//! Each page is cut from the jobs current at its request (SPEC §10). A [`SummaryCache`]
//! keeps recent summaries keyed by the table's [`generation`](JobTable::generation), so a
//! NextToken walk over an unchanged table costs one aggregation.
//!
//! ## Where AWS is silent
//!
//! Decisions marked (D) in SPEC, each with a test named after it in `tests/silent.rs`:
//!
//! - **omitted dimensions collapse**: an omitted State, ResourceType, MessageCategory,
//!   MalwareScanner or ScanResultStatus means `AGGREGATE_ALL`.
//! - **collapsed rows show `AGGREGATE_ALL`**: a collapsed dimension's row value is the literal
//!   string `AGGREGATE_ALL`.
//! - **period defaults to one day**: an omitted AggregationPeriod is `ONE_DAY`.
//! - **page size defaults to 500**: an omitted MaxResults is 500.
//! - **categories are case-insensitive and shown upper case**: `Success` and `SUCCESS` are
//!   one category, shown `SUCCESS`.
//! - **the window ends with today**: ONE_DAY is the 14 days `today-13 ..= today`, SEVEN_DAYS
//!   and FOURTEEN_DAYS one bucket ending at `today+1 00:00`; a job created later today still
//!   counts. [`DayGrid::PriorFullDays`] shifts the grid one day back.
//! - **empty buckets give no rows**, and no row ever has `Count = 0`.
//! - **tokens live 24 hours** ([`DEFAULT_TOKEN_LIFETIME`], configurable).
//!
//! - **a job without an id is anonymous**: never replaced or removed (SPEC §10).
//! - **older versions are stale; equal or missing versions apply in arrival order**.
//! - **retention is 30 days before today** ([`DEFAULT_RETENTION_DAYS`]): [`JobTable::expire`].
//! - **pages are cut from the jobs current at each request**.
//!
//! Decisions of this crate beyond SPEC:
//!
//! - **versions are whole seconds of the event time** ([`Version`]); **a change without a
//!   version keeps the stored version**; **an expired job that comes back is new**;
//!   **pre-counted cells are anonymous jobs**; **a table keeps days, not instants, of
//!   identified jobs** ([`CurrentJob`]).
//! - **an empty MessageCategory in a record is absent** (wire ingestion; tested in
//!   `tests/wire_golden.rs`).
//! - **"completed with issues" needs a category**: a COMPLETED job with no MessageCategory is
//!   not counted as completed with issues.
//!
//! ## Crate features
//!
//! - `wire` (default): the REST-JSON layer (query strings, list-API job documents, response
//!   bodies). Without it the crate needs no serde.
//!
//! ## MSRV
//!
//! Rust 1.81 for the library (`rust-version`). CI checks it with clippy's
//! `incompatible_msrv` lint on the crate's own use of std; this machine has one toolchain,
//! so no older compiler builds it in CI. The `cli/` crate needs 1.85 (its dependencies).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod answer;
mod batch;
mod cursor;
mod engine;
mod error;
mod identity;
mod intern;
mod jobs;
mod period;
mod query;
mod record;
mod rows;
mod schema;
mod scope;
#[cfg(feature = "wire")]
mod tally;
mod time;
#[cfg(feature = "wire")]
pub mod wire;

pub use answer::{Answer, SummaryCache, DEFAULT_CACHED_SUMMARIES};
pub use batch::{Applied, Batch, BatchError};
pub use cursor::{Cursor, Page, DEFAULT_TOKEN_LIFETIME};
pub use engine::{summarize, Aggregator};
pub use error::{CursorError, QueryError, RecordError};
pub use identity::{JobId, JobKey, Version};
pub use jobs::{CurrentJob, Expired, JobTable, Outcome, Upserted, DEFAULT_RETENTION_DAYS};
pub use period::{AggregationPeriod, CreationWindow, DayGrid};
pub use query::{Dimension, MaxResults, Paging, Query, QueryBuilder};
pub use record::{AccountId, JobRecord, MessageCategory, Region, ResourceType};
pub use rows::{Row, Summary, SummaryRow};
pub use schema::{Field, MalwareScanner, Operation, Param, RecordField, ScanResultStatus, State};
pub use scope::{AccountSet, Caller, Organization, Role};
#[cfg(feature = "wire")]
pub use tally::Tally;
pub use time::UnixMillis;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
