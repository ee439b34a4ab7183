//! The REST-JSON wire layer (feature `wire`, on by default): query strings in, response bytes
//! out (SPEC §9), and the list-API job documents of SPEC §2 in.
//!
//! Everything with an AWS spelling lives here: paths, member names (`BackupJobSummaries`,
//! `CreationDate`, ...), header names and exception names. The core never imports this module.
//!
//! - [`Service`] routes one [`Request`] (method, path, raw query string, caller, request id,
//!   `now`) to the [`JobTable`](crate::JobTable) of its operation and answers with a
//!   [`WireResponse`]: status, headers, body. [`Service::handle`] never panics.
//! - [`write_page`] and [`write_rows`] write the success body of SPEC §9 by hand into a
//!   `Vec<u8>`, with no per-row allocation.
//! - [`parse_jobs`] and [`load_jobs`] read the output of `aws backup list-backup-jobs` (and
//!   its copy, restore and scan siblings) as one whole document or as JSON Lines;
//!   [`JobStream`] does the same over a stream read in bounded buffers, cut into
//!   [`JobChunk`]s that parse in parallel (the CLI's loader).
//! - [`parse_changes`] reads a server's ingest body (SPEC §11): list-API records or
//!   EventBridge job state change events, each event's `time` its version.
//!
//! Like the core, this module does no I/O and reads no clock, environment or randomness: the
//! caller passes the bytes, `now`, the [`Caller`](crate::Caller) and the request id, and the
//! same inputs always give the same bytes. It uses no HTTP framework types.
//!
//! # Wire decisions (D)
//!
//! Where neither SPEC nor AWS says what to do, this layer decides, and the golden tests in
//! `tests/wire_golden.rs` pin each decision:
//!
//! - **routing**: the four paths match exactly (no trailing slash, no percent-decoding of the
//!   path). An unknown path is `404 UnknownOperationException` (the smithy framework error),
//!   whatever the method. A known path with a method other than `GET` is
//!   `405 MethodNotAllowedException`, with an `Allow: GET` header.
//! - **query string**: one leading `?` is ignored; names the operation does not have are
//!   ignored (SPEC §3); pairs are percent-decoded with `+` as a space, and invalid UTF-8 after
//!   decoding becomes U+FFFD.
//! - **errors**: every rejected query, bad NextToken included, is
//!   `400 InvalidParameterValueException` with the [`QueryError`](crate::QueryError) text as
//!   the message.
//! - **records**: an empty MessageCategory is absent; a JSON `null` member is absent; a
//!   leading UTF-8 byte order mark is skipped; a record's numeric CreationDate keeps the digits
//!   the JSON parser's `f64` holds (exact to the microsecond for dates of this era) before
//!   truncation to the millisecond; CreationDates outside chrono's calendar (±262,000 years)
//!   are rejected, and so are numeric ones past year 9999 (epoch milliseconds, most likely).
//! - **size limit**: a record (a JSON Lines line or an element of a document's list), or a
//!   document's members besides its list, longer than [`MAX_RECORD_BYTES`] (64 MiB) is
//!   rejected naming its position, so unbounded input (`/dev/zero`) stops early.

mod error;
mod events;
mod flat;
mod load;
mod records;
mod request;
mod response;
mod stream;

pub use error::{ApiError, IngestError, Position};
pub use events::{
    ingest_path_for_operation, ingested_response, operation_for_ingest_path, parse_changes, Change,
};
pub use load::{load_jobs, parse_jobs};
#[expect(
    unused_imports,
    reason = "the sink the count cube's Batch will implement"
)]
pub(crate) use records::{JobFields, JobSink};
pub use request::{operation_for_path, path_for_operation, Request, Service};
pub use response::{write_page, write_rows, WireResponse};
#[doc(hidden)]
pub use stream::bench_count_jobs;
pub use stream::{ChunkDone, Cut, JobChunk, JobIds, JobStream, MAX_RECORD_BYTES};
