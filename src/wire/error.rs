//! The errors of the wire layer: [`ApiError`], what reaches HTTP (SPEC §8, §9), and
//! [`IngestError`], a rejected job record with its position in the input (SPEC §2).
//!
//! Core errors ([`QueryError`], [`RecordError`]) convert into these; nothing else reaches a
//! response. Messages follow SPEC §8: lower case, naming the parameter or field, the value cut
//! to 64 characters, and what is allowed.

use std::fmt;

use crate::error::{cut, QueryError, RecordError};
use crate::wire::response::WireResponse;

/// An error as AWS sends it: exception name, HTTP status and message (SPEC §8).
///
/// ```
/// use backup_summaries::wire::ApiError;
/// use backup_summaries::{Operation, Query};
/// let rejected = Query::from_pairs_with_paging(Operation::Backup, [("MaxResults", "0")]).err();
/// let e = ApiError::from(rejected.ok_or("MaxResults=0 was accepted")?);
/// assert_eq!((e.name(), e.status()), ("InvalidParameterValueException", 400));
/// assert_eq!(e.message(), r#"invalid MaxResults "0": expected an integer from 1 to 1000"#);
/// let response = e.to_response("req-1");
/// assert_eq!(response.header("x-amzn-ErrorType"), Some("InvalidParameterValueException"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ApiError {
    name: &'static str,
    status: u16,
    message: String,
}

/// Where a rejected record is in the input of [`parse_jobs`](crate::wire::parse_jobs).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Position {
    /// The 1-based line of a JSON Lines input (blank lines count).
    Line(usize),
    /// The 0-based index in the whole document's list (`.BackupJobs[i]` in jq terms).
    Index(usize),
}

/// A job record that could not be ingested: its position and why (SPEC §2).
///
/// Displays as, for example, `line 3: invalid AccountId "12": expected exactly 12 digits` or
/// `record 5 of BackupJobs: missing CreationDate` (`record 5` is the 0-based index 5).
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{}: {error}", Located(*.position, *.list))]
pub struct IngestError {
    position: Position,
    /// The document's list member (`BackupJobs`, ...), for an [`Position::Index`] in one.
    list: Option<&'static str>,
    error: RecordError,
}

/// `line 3`, `record 5 of BackupJobs`, `record 5`.
struct Located(Position, Option<&'static str>);

/// `InvalidParameterValueException`: a bad query parameter or NextToken (SPEC §8).
pub(crate) const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValueException";
/// `UnknownOperationException`: no operation at this path (the smithy framework error).
pub(crate) const UNKNOWN_OPERATION: &str = "UnknownOperationException";
/// `MethodNotAllowedException`: a known path, but not `GET` (D).
pub(crate) const METHOD_NOT_ALLOWED: &str = "MethodNotAllowedException";
/// `ServiceUnavailableException` (SPEC §8): never from the engine; servers and mocks inject it.
const SERVICE_UNAVAILABLE: &str = "ServiceUnavailableException";

impl ApiError {
    /// An error with this exception name, HTTP status and message, e.g. for a server or mock
    /// that injects faults the engine itself never raises.
    #[must_use]
    pub fn new(name: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            name,
            status,
            message: message.into(),
        }
    }

    /// `500 ServiceUnavailableException` with `message` (SPEC §8: never raised by the engine;
    /// servers and mocks may inject it).
    #[must_use]
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(SERVICE_UNAVAILABLE, 500, message)
    }

    /// `503 ServiceUnavailableException`: a server sheds load it cannot take now (issue 10
    /// asks for 503 here, newer than SPEC §8's 500; botocore reads the same exception from
    /// either status, and its standard retry mode retries both).
    ///
    /// ```
    /// use backup_summaries::wire::ApiError;
    /// let e = ApiError::overloaded("too many requests in flight");
    /// assert_eq!((e.status(), e.name()), (503, "ServiceUnavailableException"));
    /// ```
    #[must_use]
    pub fn overloaded(message: impl Into<String>) -> Self {
        Self::new(SERVICE_UNAVAILABLE, 503, message)
    }

    /// `404 UnknownOperationException`: nothing is routed at `path`.
    pub(crate) fn unknown_operation(method: &str, path: &str) -> Self {
        Self::new(
            UNKNOWN_OPERATION,
            404,
            format!(
                "unknown operation {:?} {:?}: expected GET on /audit/backup-job-summaries, \
                 /audit/copy-job-summaries, /audit/restore-job-summaries or \
                 /audit/scan-job-summaries",
                cut(method),
                cut(path)
            ),
        )
    }

    /// `405 MethodNotAllowedException`: `path` is an operation, but `method` is not `GET`.
    pub(crate) fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            METHOD_NOT_ALLOWED,
            405,
            format!(
                "method {:?} not allowed on {path}: expected GET",
                cut(method)
            ),
        )
    }

    /// The exception name, e.g. `InvalidParameterValueException` (the `x-amzn-ErrorType`
    /// header and the body's `Code`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The HTTP status, e.g. 400.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The human-readable message (the body's `Message`).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The response AWS would send (SPEC §9): this status, `Content-Type: application/json`,
    /// `x-amzn-RequestId`, `x-amzn-ErrorType` (plus `Allow: GET` on a 405), and the body
    /// `{"Code":"<name>","Message":"<message>"}`.
    #[must_use]
    pub fn to_response(&self, request_id: &str) -> WireResponse {
        WireResponse::error(self.name, self.status, &self.message, request_id)
    }
}

impl From<QueryError> for ApiError {
    /// Every query error, bad NextToken included, is `400 InvalidParameterValueException`.
    fn from(e: QueryError) -> Self {
        Self::new(INVALID_PARAMETER_VALUE, 400, e.to_string())
    }
}

impl IngestError {
    pub(crate) fn new(position: Position, list: Option<&'static str>, error: RecordError) -> Self {
        Self {
            position,
            list,
            error,
        }
    }

    /// The same error for a JSON Lines chunk that starts after `lines` lines of the input.
    pub(crate) fn after_lines(mut self, lines: usize) -> Self {
        if let Position::Line(n) = self.position {
            self.position = Position::Line(n + lines);
        }
        self
    }

    /// Where the record is.
    #[must_use]
    pub fn position(&self) -> Position {
        self.position
    }

    /// Why it was rejected (the field at fault is [`RecordError::field`]).
    #[must_use]
    pub fn error(&self) -> &RecordError {
        &self.error
    }
}

impl fmt::Display for Position {
    /// `line 3` or `record 5` (0-based).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Index(i) => write!(f, "record {i}"),
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Position::Index(i), Some(list)) => write!(f, "record {i} of {list}"),
            (position, _) => position.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::RecordField;

    #[test]
    fn ingest_errors_name_position_and_field() {
        let e = IngestError::new(
            Position::Line(3),
            None,
            RecordError::invalid(RecordField::AccountId, "12", "exactly 12 digits"),
        );
        assert_eq!(
            e.to_string(),
            r#"line 3: invalid AccountId "12": expected exactly 12 digits"#
        );
        let missing = RecordError::Missing {
            field: RecordField::CreationDate,
        };
        let e = IngestError::new(Position::Index(5), Some("BackupJobs"), missing.clone());
        assert_eq!(
            e.to_string(),
            "record 5 of BackupJobs: missing CreationDate"
        );
        let e = IngestError::new(Position::Index(5), None, missing);
        assert_eq!(e.to_string(), "record 5: missing CreationDate");
        assert_eq!(e.error().field(), Some(RecordField::CreationDate));
    }

    #[test]
    fn messages_cut_long_input() {
        let e = ApiError::unknown_operation("GET", &"x".repeat(500));
        assert!(e.message().len() < 300, "{}", e.message());
        assert_eq!(e.status(), 404);
    }
}
