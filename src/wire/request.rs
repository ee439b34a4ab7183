//! Requests and routing: [`Request`], [`Service`] and the four paths of SPEC §1.
//!
//! [`Service::handle`] is total: whatever the method, path, query string or NextToken, it
//! returns a [`WireResponse`] with a JSON body and never panics. It reads no clock: `now` and
//! the request id come with the [`Request`].

use std::time::Duration;

use crate::answer::SummaryCache;
use crate::cursor::DEFAULT_TOKEN_LIFETIME;
use crate::jobs::JobTable;
use crate::query::Query;
use crate::schema::Operation;
use crate::scope::Caller;
use crate::time::UnixMillis;
use crate::wire::error::ApiError;
use crate::wire::response::{write_page, WireResponse};

/// The four job-summary operations' job tables, and the NextToken lifetime: everything needed
/// to answer requests.
///
/// ```
/// use backup_summaries::wire::{Request, Service};
/// use backup_summaries::{Caller, UnixMillis};
/// let service = Service::new();
/// let caller = Caller::new("123456789012".parse()?, "us-east-1".parse()?);
/// let now = UnixMillis::new(1_795_737_599_000);
/// let request = Request::get("/audit/scan-job-summaries", &caller, now)
///     .with_query("State=ANY")
///     .with_request_id("req-1");
/// let response = service.handle(&request);
/// assert_eq!(response.status, 200);
/// assert_eq!(response.body, br#"{"ScanJobSummaries":[],"AggregationPeriod":"ONE_DAY"}"#);
/// assert_eq!(response.header("x-amzn-RequestId"), Some("req-1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Service {
    backup: JobTable,
    copy: JobTable,
    restore: JobTable,
    scan: JobTable,
    token_lifetime: Duration,
    /// Summaries of recent requests, so a NextToken walk costs one aggregation while the
    /// tables are unchanged.
    cache: SummaryCache,
}

/// One HTTP request, as the wire layer needs it: built with [`Request::get`] and the
/// `with_*` methods, each naming what it sets.
///
/// ```
/// use backup_summaries::wire::Request;
/// use backup_summaries::{Caller, UnixMillis};
/// let caller = Caller::new("123456789012".parse()?, "us-east-1".parse()?);
/// let now = UnixMillis::new(1_795_737_599_000);
/// let request = Request::get("/audit/backup-job-summaries", &caller, now)
///     .with_query("State=ANY&MaxResults=10")
///     .with_request_id("req-1");
/// assert_eq!((request.method(), request.query()), ("GET", "State=ANY&MaxResults=10"));
/// let post = request.with_method("POST"); // answered 405 by Service::handle
/// assert_eq!(post.method(), "POST");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Request<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    caller: &'a Caller,
    request_id: &'a str,
    now: UnixMillis,
}

impl Service {
    /// A service with four empty job tables and the default token lifetime
    /// ([`DEFAULT_TOKEN_LIFETIME`], 24 h).
    #[must_use]
    pub fn new() -> Self {
        Self {
            backup: JobTable::new(Operation::Backup),
            copy: JobTable::new(Operation::Copy),
            restore: JobTable::new(Operation::Restore),
            scan: JobTable::new(Operation::Scan),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            cache: SummaryCache::default(),
        }
    }

    /// The same service, rejecting NextTokens older than `lifetime` (SPEC §7).
    #[must_use]
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// How long a NextToken stays valid.
    #[must_use]
    pub fn token_lifetime(&self) -> Duration {
        self.token_lifetime
    }

    /// The jobs of `op`.
    #[must_use]
    pub fn table(&self, op: Operation) -> &JobTable {
        match op {
            Operation::Backup => &self.backup,
            Operation::Copy => &self.copy,
            Operation::Restore => &self.restore,
            Operation::Scan => &self.scan,
        }
    }

    /// The jobs of `op`, to add to (e.g. with [`load_jobs`](crate::wire::load_jobs)).
    pub fn table_mut(&mut self, op: Operation) -> &mut JobTable {
        match op {
            Operation::Backup => &mut self.backup,
            Operation::Copy => &mut self.copy,
            Operation::Restore => &mut self.restore,
            Operation::Scan => &mut self.scan,
        }
    }

    /// Routes and answers one request. Never panics, whatever the input.
    ///
    /// - An unknown path (exact match, see [`operation_for_path`]) is
    ///   `404 UnknownOperationException`, whatever the method.
    /// - A known path with a method other than `GET` is `405 MethodNotAllowedException`.
    /// - The query string is percent-decoded (`+` is a space) and parsed with
    ///   [`Query::from_pairs_with_paging`]; any [`QueryError`](crate::QueryError), bad NextToken included,
    ///   is `400 InvalidParameterValueException` with the error's text as the message.
    /// - Otherwise `200` with the page's body ([`write_page`]).
    ///
    /// Every response has `Content-Type: application/json` and `x-amzn-RequestId`; errors add
    /// `x-amzn-ErrorType` and the body `{"Code":"...","Message":"..."}` (SPEC §9).
    #[must_use]
    pub fn handle(&self, request: &Request<'_>) -> WireResponse {
        match self.answer(request) {
            Ok(body) => WireResponse::ok(request.request_id, body),
            Err(e) => e.to_response(request.request_id),
        }
    }

    /// The success body for `request`, or the error to send instead.
    fn answer(&self, request: &Request<'_>) -> Result<Vec<u8>, ApiError> {
        let op = operation_for_path(request.path)
            .ok_or_else(|| ApiError::unknown_operation(request.method, request.path))?;
        if request.method != "GET" {
            return Err(ApiError::method_not_allowed(request.method, request.path));
        }
        let raw = request.query.strip_prefix('?').unwrap_or(request.query);
        let (query, paging) =
            Query::from_pairs_with_paging(op, form_urlencoded::parse(raw.as_bytes()))?;
        let answer = self.cache.answer(
            self.table(op),
            &query,
            &paging,
            request.caller,
            request.now,
            self.token_lifetime,
        )?;
        let mut body = Vec::new();
        write_page(&answer.page(), &mut body);
        Ok(body)
    }
}

impl Default for Service {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Request<'a> {
    /// A `GET` of `path` (without the query string, e.g. `/audit/backup-job-summaries`) by
    /// `caller` at `now` (SPEC §5; the wire layer reads no clock), with an empty query string
    /// and an empty request id until [`with_query`](Self::with_query) and
    /// [`with_request_id`](Self::with_request_id) set them.
    #[must_use]
    pub fn get(path: &'a str, caller: &'a Caller, now: UnixMillis) -> Self {
        Self {
            method: "GET",
            path,
            query: "",
            caller,
            request_id: "",
            now,
        }
    }

    /// This request with another HTTP method (case-sensitive; anything but `GET` is answered
    /// `405`).
    #[must_use]
    pub fn with_method(mut self, method: &'a str) -> Self {
        self.method = method;
        self
    }

    /// This request with the raw query string `query`, e.g. `State=ANY&MaxResults=10` (one
    /// leading `?` is ignored).
    #[must_use]
    pub fn with_query(mut self, query: &'a str) -> Self {
        self.query = query;
        self
    }

    /// This request with the id echoed in `x-amzn-RequestId`.
    #[must_use]
    pub fn with_request_id(mut self, request_id: &'a str) -> Self {
        self.request_id = request_id;
        self
    }

    /// The HTTP method, e.g. `GET`.
    #[must_use]
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The path, without the query string.
    #[must_use]
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query string.
    #[must_use]
    pub fn query(&self) -> &'a str {
        self.query
    }

    /// Who is asking (SPEC §4).
    #[must_use]
    pub fn caller(&self) -> &'a Caller {
        self.caller
    }

    /// The request id echoed in `x-amzn-RequestId`.
    #[must_use]
    pub fn request_id(&self) -> &'a str {
        self.request_id
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> UnixMillis {
        self.now
    }
}

/// The operation served at `path`: `/audit/backup-job-summaries`, `/audit/copy-job-summaries`,
/// `/audit/restore-job-summaries` or `/audit/scan-job-summaries`, matched exactly (a trailing
/// slash is not a match).
#[must_use]
pub fn operation_for_path(path: &str) -> Option<Operation> {
    Operation::ALL
        .iter()
        .copied()
        .find(|&op| path_for_operation(op) == path)
}

/// The path `op` is served at (SPEC §1), e.g. `/audit/backup-job-summaries`.
#[must_use]
pub fn path_for_operation(op: Operation) -> &'static str {
    op.wire().path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_exactly() {
        for &op in Operation::ALL {
            assert_eq!(operation_for_path(path_for_operation(op)), Some(op));
            assert_eq!(
                operation_for_path(&format!("{}/", path_for_operation(op))),
                None
            );
        }
        assert_eq!(operation_for_path("/audit/Backup-job-summaries"), None);
        assert_eq!(operation_for_path(""), None);
    }
}
