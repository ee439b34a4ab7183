//! Every public error of the core, one per concern, each a `thiserror` error: records
//! ([`RecordError`], the field typed as [`RecordField`]), queries ([`QueryError`], the
//! parameter typed as [`Param`]) and tokens ([`CursorError`]). A batch's error
//! ([`BatchError`](crate::BatchError)) wraps a [`RecordError`] with its position.
//!
//! `source()` never returns what `Display` already printed: these errors have no underlying
//! cause, and [`QueryError::Token`] is transparent (a unit test walks every chain).
//!
//! Messages follow SPEC §8: lower case, naming the field or parameter, the offending value cut
//! to 64 characters, and what is allowed.

use std::borrow::Cow;
use std::fmt;

use crate::schema::{Operation, Param, RecordField};

/// Longest excerpt of an offending value that an error message quotes.
pub(crate) const MAX_QUOTED_CHARS: usize = 64;

/// Why a job record was rejected (SPEC §2). Every variant names the field at fault.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// A required field is absent.
    #[error("missing {field}")]
    Missing {
        /// The field, e.g. [`RecordField::CreationDate`].
        field: RecordField,
    },
    /// A field has a value that is not allowed. The value is cut to 64 characters.
    #[error("invalid {field} \"{value}\": expected {expected}")]
    Invalid {
        /// The field.
        field: RecordField,
        /// The offending value, cut to 64 characters.
        value: Box<str>,
        /// What is allowed.
        expected: Cow<'static, str>,
    },
    /// The record's state is not one of its kind's states.
    #[error("invalid {field} \"{value}\" for {operation}: expected one of {expected}")]
    WrongKind {
        /// The field ([`RecordField::State`], [`RecordField::Status`], ...).
        field: RecordField,
        /// The offending value.
        value: Box<str>,
        /// The operation whose table the record was offered to.
        operation: Operation,
        /// The allowed values, space separated.
        expected: Box<str>,
    },
    /// The input is not well-formed JSON, or a record is not a JSON object.
    #[error("malformed record: {detail}")]
    Malformed {
        /// What the parser said, cut to 200 characters.
        detail: Box<str>,
    },
}

/// Why a query was rejected (SPEC §3, §8). Every variant names the parameter at fault.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The value is not allowed.
    #[error("invalid {param} \"{value}\": expected {expected}")]
    Invalid {
        /// The parameter.
        param: Param,
        /// The offending value, cut to 64 characters.
        value: Box<str>,
        /// What is allowed.
        expected: Cow<'static, str>,
    },
    /// The parameter appeared more than once in the query string.
    #[error(
        "invalid {param} \"{value}\": parameter {param} given more than once; expected it at most once"
    )]
    Repeated {
        /// The parameter.
        param: Param,
        /// The second value given, cut to 64 characters.
        value: Box<str>,
    },
    /// A paging parameter (MaxResults, NextToken) where only the query's are read
    /// ([`Query::from_pairs`](crate::Query::from_pairs)): read both with
    /// [`Query::from_pairs_with_paging`](crate::Query::from_pairs_with_paging).
    #[error(
        "parameter {0} is paging, not part of a query: expected it beside the query \
         (Query::from_pairs_with_paging)"
    )]
    Paging(Param),
    /// The parameter or helper does not exist for this operation.
    #[error("parameter {0} does not exist for {1}: expected only {1}'s parameters")]
    Unsupported(Param, Operation),
    /// The `NextToken` could not be used. Transparent: it shows the [`CursorError`]'s text
    /// and forwards its `source()` (none), so an error-chain printer shows that text once.
    #[error(transparent)]
    Token(#[from] CursorError),
}

/// Why a `NextToken` was rejected (SPEC §7). Opaque: use the `is_*` predicates.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error(
    "invalid NextToken \"{token}\": {kind}; expected a NextToken returned by the previous page of this same query"
)]
pub struct CursorError {
    kind: CursorErrorKind,
    /// The token, cut to 64 characters.
    token: Box<str>,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum CursorErrorKind {
    /// Not base64, wrong length, wrong version, bad checksum, bad contents.
    Malformed,
    /// Issued for another operation, query or caller.
    Foreign,
    /// Its pinned `now` is later than the current `now`.
    Future,
    /// Its pinned `now` is older than the token lifetime.
    Expired,
}

impl RecordError {
    /// An [`RecordError::Invalid`] with the value cut to 64 characters.
    pub(crate) fn invalid(
        field: RecordField,
        value: &str,
        expected: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Invalid {
            field,
            value: cut(value),
            expected: expected.into(),
        }
    }

    /// A [`RecordError::WrongKind`]: `value` of `field` is not one of `operation`'s states.
    pub(crate) fn wrong_kind(field: RecordField, value: &str, operation: Operation) -> Self {
        Self::WrongKind {
            field,
            value: cut(value),
            operation,
            expected: operation
                .states()
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
                .into(),
        }
    }

    /// The field at fault, if the error names one.
    #[must_use]
    pub fn field(&self) -> Option<RecordField> {
        match self {
            Self::Missing { field }
            | Self::Invalid { field, .. }
            | Self::WrongKind { field, .. } => Some(*field),
            Self::Malformed { .. } => None,
        }
    }
}

impl QueryError {
    /// The parameter at fault.
    #[must_use]
    pub fn param(&self) -> Param {
        match self {
            Self::Invalid { param: p, .. }
            | Self::Repeated { param: p, .. }
            | Self::Paging(p)
            | Self::Unsupported(p, _) => *p,
            Self::Token(_) => Param::NextToken,
        }
    }

    pub(crate) fn invalid(
        param: Param,
        value: &str,
        expected: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::Invalid {
            param,
            value: cut(value),
            expected: expected.into(),
        }
    }
}

impl CursorError {
    pub(crate) fn new(kind: CursorErrorKind, token: &str) -> Self {
        Self {
            kind,
            token: cut(token),
        }
    }

    /// The token does not decode: not URL-safe base64, wrong length or version, or a failed
    /// checksum (any edited character).
    #[must_use]
    pub fn is_malformed(&self) -> bool {
        self.kind == CursorErrorKind::Malformed
    }

    /// The token was issued for another operation, query or caller.
    #[must_use]
    pub fn is_foreign(&self) -> bool {
        self.kind == CursorErrorKind::Foreign
    }

    /// The token's pinned `now` lies after the current `now`.
    #[must_use]
    pub fn is_future(&self) -> bool {
        self.kind == CursorErrorKind::Future
    }

    /// The token is older than the token lifetime.
    #[must_use]
    pub fn is_expired(&self) -> bool {
        self.kind == CursorErrorKind::Expired
    }
}

impl fmt::Display for CursorErrorKind {
    /// Why the token is rejected, as the [`CursorError`] message says it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "it does not decode",
            Self::Foreign => "it was issued for another operation, query or caller",
            Self::Future => "it was issued for a time after now",
            Self::Expired => "it has expired",
        })
    }
}

/// `value` cut to its first 64 characters.
pub(crate) fn cut(value: &str) -> Box<str> {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((i, _)) => value[..i].into(),
        None => value.into(),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn cut_keeps_64_chars() {
        assert_eq!(cut(&"a".repeat(100)).len(), 64);
        assert_eq!(&*cut("é".repeat(70).as_str()), "é".repeat(64));
        assert_eq!(&*cut("short"), "short");
    }

    /// Walks `source()` as an error-chain printer (anyhow's `{:#}`) does: no message may
    /// appear twice, whole or inside another.
    fn assert_chain_says_each_thing_once(e: &(dyn Error + 'static)) {
        let mut texts = vec![e.to_string()];
        let mut next = e.source();
        while let Some(cause) = next {
            texts.push(cause.to_string());
            next = cause.source();
        }
        for (i, a) in texts.iter().enumerate() {
            for b in texts.iter().skip(i + 1) {
                assert!(
                    !a.contains(b.as_str()) && !b.contains(a.as_str()),
                    "{texts:?}"
                );
            }
        }
    }

    #[test]
    fn error_chains_repeat_nothing() {
        let cursor = CursorError::new(CursorErrorKind::Expired, "abc");
        let errors: [&(dyn Error + 'static); 5] = [
            &QueryError::Token(cursor.clone()),
            &cursor,
            &QueryError::invalid(Param::MaxResults, "0", "1 to 1000"),
            &QueryError::Unsupported(Param::MaxResults, Operation::Restore),
            &RecordError::invalid(RecordField::AccountId, "x", "exactly 12 digits"),
        ];
        for e in errors {
            assert_chain_says_each_thing_once(e);
        }
    }
}
