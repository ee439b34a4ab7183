//! Queries: validated parameters with every default of SPEC §3 applied.
//!
//! A [`Query`] is built either in Rust with [`Query::builder`] or from `(name, value)` pairs
//! by AWS parameter name with [`Query::from_pairs`]. Either way it is checked once; after that
//! the engine cannot fail.

use std::borrow::Cow;

use crate::error::{cut, QueryError};
use crate::period::{AggregationPeriod, Buckets, CreationWindow, DayGrid};
use crate::record::{AccountId, MessageCategory, ResourceType};
use crate::schema::{Field, MalwareScanner, Operation, Param, ScanResultStatus, State};
use crate::time::UnixMillis;

/// How one dimension (account, state, ...) shapes the output rows (SPEC §3).
#[expect(
    clippy::exhaustive_enums,
    reason = "the three AWS modes; closed by definition"
)]
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub enum Dimension<T> {
    /// No filter, one group; rows show the literal `AGGREGATE_ALL` (wire: `AGGREGATE_ALL`).
    #[default]
    Collapse,
    /// Keep only records with this value; rows show it.
    Only(T),
    /// No filter, one group per distinct value present (wire: `ANY`).
    Split,
}

/// Rows per page: 1..=1000, default 500 (SPEC §7).
///
/// ```
/// use backup_summaries::MaxResults;
/// assert_eq!(MaxResults::new(10).map(MaxResults::get), Some(10));
/// assert_eq!(MaxResults::new(0), None);
/// assert_eq!(MaxResults::new(1001), None);
/// assert_eq!(MaxResults::default(), MaxResults::DEFAULT);
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct MaxResults(u16);

/// A validated query for one operation (SPEC §3).
///
/// ```
/// use backup_summaries::{Dimension, Operation, Query, State};
/// let built = Query::builder(Operation::Backup).state(Dimension::Split).build()?;
/// let parsed = Query::from_pairs(Operation::Backup, [("State", "ANY")])?;
/// assert_eq!(built, parsed);
/// assert_eq!(built.state(), &Dimension::Split);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Query {
    operation: Operation,
    account: Option<Dimension<AccountId>>,
    state: Dimension<State>,
    resource_type: Dimension<ResourceType>,
    message_category: Dimension<MessageCategory>,
    malware_scanner: Dimension<MalwareScanner>,
    scan_result_status: Dimension<ScanResultStatus>,
    with_issues: bool,
    period: AggregationPeriod,
    grid: DayGrid,
}

/// Which page of a query's answer to return (SPEC §7): at most [`MaxResults`] rows, after the
/// position a `NextToken` names (the first page without one). Kept beside the [`Query`], not
/// in it: every page of a walk is the same query with other paging.
///
/// ```
/// use backup_summaries::{MaxResults, Operation, Paging, Query};
/// let (query, paging) = Query::from_pairs_with_paging(
///     Operation::Backup,
///     [("State", "ANY"), ("MaxResults", "10")],
/// )?;
/// assert_eq!(query, Query::from_pairs(Operation::Backup, [("State", "ANY")])?);
/// let ten = MaxResults::new(10).ok_or("10 is a page size")?;
/// assert_eq!(paging, Paging::new().with_max_results(ten));
/// assert_eq!(paging.next_token(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, Eq, Hash, PartialEq)]
pub struct Paging {
    max_results: MaxResults,
    next_token: Option<Box<str>>,
}

/// Builds a [`Query`] in Rust; [`QueryBuilder::build`] checks it.
#[derive(Clone, Debug)]
#[must_use]
pub struct QueryBuilder {
    query: Query,
}

impl MaxResults {
    /// The largest page.
    pub const MAX: Self = Self(1000);
    /// The default page size (D).
    pub const DEFAULT: Self = Self(500);

    /// `n` rows per page, if `n` is in 1..=1000.
    #[must_use]
    pub fn new(n: u32) -> Option<Self> {
        u16::try_from(n)
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .map(Self)
    }

    /// Rows per page.
    #[must_use]
    pub const fn get(self) -> usize {
        self.0 as usize
    }
}

impl Default for MaxResults {
    fn default() -> Self {
        Self::DEFAULT
    }
}

const EXPECT_ACCOUNT: &str = "12 digits, ANY or AGGREGATE_ALL";
const EXPECT_NAME: &str = "1 to 50 characters, ANY or AGGREGATE_ALL";
const EXPECT_MAX_RESULTS: &str = "an integer from 1 to 1000";
const EXPECT_TOKEN: &str = "a NextToken returned by the previous page";

/// `a, b or c`: what a parameter allows, from the names of its values.
fn one_of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

/// What a dimension parameter allows: its values (in the schema's order), `ANY` or
/// `AGGREGATE_ALL`.
fn expect_dimension<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    one_of(values.into_iter().chain(["ANY", "AGGREGATE_ALL"]))
}

/// What the State parameter of `operation` allows (from [`Operation::states`]).
fn expect_state(operation: Operation) -> String {
    expect_dimension(operation.states().iter().map(|s| s.as_str()))
}

impl Query {
    /// A builder with every default of SPEC §3.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{AggregationPeriod, Dimension, Operation, Query, State};
    /// let query = Query::builder(Operation::Copy)
    ///     .state(Dimension::Only(State::Failed))
    ///     .resource_type(Dimension::Split)
    ///     .period(AggregationPeriod::SevenDays)
    ///     .build()?;
    /// let same = Query::from_pairs(
    ///     Operation::Copy,
    ///     [("State", "FAILED"), ("ResourceType", "ANY"), ("AggregationPeriod", "SEVEN_DAYS")],
    /// )?;
    /// assert_eq!(query, same);
    /// // A state the operation does not have is rejected when the query is built.
    /// let e = Query::builder(Operation::Copy).state(Dimension::Only(State::Expired)).build();
    /// assert!(e.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(operation: Operation) -> QueryBuilder {
        QueryBuilder {
            query: Self {
                operation,
                account: None,
                state: Dimension::Collapse,
                resource_type: Dimension::Collapse,
                message_category: Dimension::Collapse,
                malware_scanner: Dimension::Collapse,
                scan_result_status: Dimension::Collapse,
                with_issues: false,
                period: AggregationPeriod::OneDay,
                grid: DayGrid::ThroughToday,
            },
        }
    }

    /// Parses the query's `(name, value)` pairs by AWS parameter name (already
    /// percent-decoded), without paging: a request's pairs, with MaxResults and NextToken,
    /// go to [`Query::from_pairs_with_paging`].
    ///
    /// Names are case-sensitive. Names the operation does not have are ignored (SPEC §3);
    /// a parameter given twice is an error.
    ///
    /// # Errors
    /// A [`QueryError`] naming the first parameter at fault (SPEC §8);
    /// [`QueryError::Paging`] for MaxResults or NextToken, which a [`Query`] does not hold.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{Dimension, Operation, Query};
    /// let query = Query::from_pairs(Operation::Copy, [("State", "ANY"), ("Bogus", "1")])?;
    /// assert_eq!(query.state(), &Dimension::Split);
    /// assert!(Query::from_pairs(Operation::Copy, [("MaxResults", "10")]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pairs<I, K, V>(operation: Operation, pairs: I) -> Result<Self, QueryError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        parse_pairs(operation, pairs, false).map(|(query, _)| query)
    }

    /// Parses a request's `(name, value)` pairs (already percent-decoded) into the query and
    /// its paging (MaxResults, NextToken), as [`Query::from_pairs`] does the query's.
    ///
    /// # Errors
    /// A [`QueryError`] naming the first parameter at fault (SPEC §8), in the order of the
    /// pairs: a bad MaxResults or an empty NextToken is [`QueryError::Invalid`].
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{Operation, Query};
    /// let (query, paging) = Query::from_pairs_with_paging(
    ///     Operation::Scan,
    ///     [("AggregationPeriod", "SEVEN_DAYS"), ("MaxResults", "25")],
    /// )?;
    /// assert_eq!(paging.max_results().get(), 25);
    /// let e = Query::from_pairs_with_paging(Operation::Scan, [("MaxResults", "0")]).err();
    /// assert_eq!(
    ///     e.map(|e| e.to_string()).as_deref(),
    ///     Some(r#"invalid MaxResults "0": expected an integer from 1 to 1000"#)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pairs_with_paging<I, K, V>(
        operation: Operation,
        pairs: I,
    ) -> Result<(Self, Paging), QueryError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        parse_pairs(operation, pairs, true)
    }

    /// The operation.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The account dimension; `None` means the caller's own account (the AWS default).
    #[must_use]
    pub fn account(&self) -> Option<&Dimension<AccountId>> {
        self.account.as_ref()
    }

    /// The state dimension.
    #[must_use]
    pub fn state(&self) -> &Dimension<State> {
        &self.state
    }

    /// The resource type dimension.
    #[must_use]
    pub fn resource_type(&self) -> &Dimension<ResourceType> {
        &self.resource_type
    }

    /// The message category dimension (always `Collapse` for restore and scan).
    #[must_use]
    pub fn message_category(&self) -> &Dimension<MessageCategory> {
        &self.message_category
    }

    /// The malware scanner dimension (always `Collapse` except for scan).
    #[must_use]
    pub fn malware_scanner(&self) -> &Dimension<MalwareScanner> {
        &self.malware_scanner
    }

    /// The scan result dimension (always `Collapse` except for scan).
    #[must_use]
    pub fn scan_result_status(&self) -> &Dimension<ScanResultStatus> {
        &self.scan_result_status
    }

    /// Whether only jobs "completed with issues" are counted (see
    /// [`QueryBuilder::completed_with_issues`]).
    #[must_use]
    pub fn is_completed_with_issues(&self) -> bool {
        self.with_issues
    }

    /// The aggregation period.
    #[must_use]
    pub fn period(&self) -> AggregationPeriod {
        self.period
    }

    /// Where the day grid ends.
    #[must_use]
    pub fn day_grid(&self) -> DayGrid {
        self.grid
    }

    /// The creation dates this query counts at `now` (SPEC §5): jobs created outside the
    /// window add to none of its rows.
    #[must_use]
    pub fn creation_window(&self, now: UnixMillis) -> CreationWindow {
        CreationWindow::of(Buckets::new(self.period, self.grid, now))
    }
}

impl Paging {
    /// The first page, of [`MaxResults::DEFAULT`] (500) rows.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows per page.
    #[must_use]
    pub fn max_results(&self) -> MaxResults {
        self.max_results
    }

    /// The raw `NextToken`, if this is not the first page.
    #[must_use]
    pub fn next_token(&self) -> Option<&str> {
        self.next_token.as_deref()
    }

    /// This paging with another page size.
    #[must_use]
    pub fn with_max_results(mut self, max_results: MaxResults) -> Self {
        self.max_results = max_results;
        self
    }

    /// This paging continuing from `token` (or from the first page with `None`).
    #[must_use]
    pub fn with_next_token(mut self, token: Option<&str>) -> Self {
        self.next_token = token.map(Into::into);
        self
    }
}

impl QueryBuilder {
    /// The account dimension (default: the caller's own account).
    pub fn account(mut self, account: Dimension<AccountId>) -> Self {
        self.query.account = Some(account);
        self
    }

    /// The state dimension (default `Collapse`, D).
    pub fn state(mut self, state: Dimension<State>) -> Self {
        self.query.state = state;
        self
    }

    /// The resource type dimension (default `Collapse`, D).
    pub fn resource_type(mut self, resource_type: Dimension<ResourceType>) -> Self {
        self.query.resource_type = resource_type;
        self
    }

    /// The message category dimension (backup and copy; default `Collapse`, D).
    pub fn message_category(mut self, category: Dimension<MessageCategory>) -> Self {
        self.query.message_category = category;
        self
    }

    /// The malware scanner dimension (scan; default `Collapse`, D).
    pub fn malware_scanner(mut self, scanner: Dimension<MalwareScanner>) -> Self {
        self.query.malware_scanner = scanner;
        self
    }

    /// The scan result dimension (scan; default `Collapse`, D).
    pub fn scan_result_status(mut self, status: Dimension<ScanResultStatus>) -> Self {
        self.query.scan_result_status = status;
        self
    }

    /// Only jobs "completed with issues", as the AWS console shows them (SPEC §3).
    ///
    /// For backup and copy: State `COMPLETED` with a MessageCategory present and other than
    /// `SUCCESS` (a job without a category is not counted, D). Sets State to `COMPLETED`; the
    /// MessageCategory dimension still chooses how the rows are split. For scan: State
    /// `COMPLETED_WITH_ISSUES`. Restore has no such notion: [`QueryBuilder::build`] fails.
    pub fn completed_with_issues(mut self) -> Self {
        if self.query.operation == Operation::Scan {
            self.query.state = Dimension::Only(State::CompletedWithIssues);
        } else {
            self.query.state = Dimension::Only(State::Completed);
            self.query.with_issues = true;
        }
        self
    }

    /// The aggregation period (default `OneDay`, D).
    pub fn period(mut self, period: AggregationPeriod) -> Self {
        self.query.period = period;
        self
    }

    /// Where the day grid ends (default `ThroughToday`, D).
    pub fn day_grid(mut self, grid: DayGrid) -> Self {
        self.query.grid = grid;
        self
    }

    /// Checks the query.
    ///
    /// # Errors
    /// [`QueryError::Invalid`] for a state the operation does not have;
    /// [`QueryError::Unsupported`] for a dimension or helper the operation lacks.
    pub fn build(self) -> Result<Query, QueryError> {
        let q = self.query;
        let op = q.operation;
        if let Dimension::Only(s) = q.state {
            if !op.has_state(s) {
                return Err(QueryError::invalid(
                    Param::Field(Field::State),
                    s.as_str(),
                    expect_state(op),
                ));
            }
        }
        if q.with_issues && q.state != Dimension::Only(State::Completed) {
            // `state(..)` after `completed_with_issues()` would count other states' issues.
            return Err(QueryError::invalid(
                Param::Field(Field::State),
                &state_text(&q.state),
                "COMPLETED with completed_with_issues()",
            ));
        }
        let unsupported = |p: Param| QueryError::Unsupported(p, op);
        let used = [
            (
                Field::MessageCategory,
                q.message_category != Dimension::Collapse || q.with_issues,
            ),
            (
                Field::MalwareScanner,
                q.malware_scanner != Dimension::Collapse,
            ),
            (
                Field::ScanResultStatus,
                q.scan_result_status != Dimension::Collapse,
            ),
        ];
        if let Some(&(field, _)) = used.iter().find(|&&(f, used)| used && !op.has_field(f)) {
            return Err(unsupported(Param::Field(field)));
        }
        Ok(q)
    }

    /// Applies one wire parameter of the query, or of its `paging`.
    fn parse_param(
        self,
        paging: &mut Paging,
        param: Param,
        value: &str,
    ) -> Result<Self, QueryError> {
        let op = self.query.operation;
        let bad = |expected: Cow<'static, str>| QueryError::invalid(param, value, expected);
        Ok(match param {
            Param::Field(Field::AccountId) => {
                let d = mode(value, |v| AccountId::parse(v).ok())
                    .ok_or_else(|| bad(EXPECT_ACCOUNT.into()))?;
                self.account(d)
            }
            Param::Field(Field::State) => {
                let d = mode(value, |v| State::parse(op, v))
                    .ok_or_else(|| bad(expect_state(op).into()))?;
                self.state(d)
            }
            Param::Field(Field::ResourceType) => {
                let d = mode(value, |v| ResourceType::parse(v).ok())
                    .ok_or_else(|| bad(EXPECT_NAME.into()))?;
                self.resource_type(d)
            }
            Param::Field(Field::MessageCategory) => {
                let d = mode(value, |v| MessageCategory::parse(v).ok())
                    .ok_or_else(|| bad(EXPECT_NAME.into()))?;
                self.message_category(d)
            }
            Param::Field(Field::MalwareScanner) => {
                let d = mode(value, MalwareScanner::parse).ok_or_else(|| {
                    bad(expect_dimension(MalwareScanner::ALL.iter().map(|v| v.as_str())).into())
                })?;
                self.malware_scanner(d)
            }
            Param::Field(Field::ScanResultStatus) => {
                let d = mode(value, ScanResultStatus::parse).ok_or_else(|| {
                    bad(expect_dimension(ScanResultStatus::ALL.iter().map(|v| v.as_str())).into())
                })?;
                self.scan_result_status(d)
            }
            Param::AggregationPeriod => {
                let period = AggregationPeriod::parse(value).ok_or_else(|| {
                    bad(one_of(AggregationPeriod::ALL.iter().map(|p| p.as_str())).into())
                })?;
                self.period(period)
            }
            Param::MaxResults => {
                let n = parse_max_results(value).ok_or_else(|| bad(EXPECT_MAX_RESULTS.into()))?;
                paging.max_results = n;
                self
            }
            Param::NextToken => {
                if value.is_empty() {
                    return Err(bad(EXPECT_TOKEN.into()));
                }
                paging.next_token = Some(value.into());
                self
            }
        })
    }
}

/// Parses `(name, value)` pairs into a query and, `with_paging`, its paging; without,
/// MaxResults and NextToken are [`QueryError::Paging`].
fn parse_pairs<I, K, V>(
    operation: Operation,
    pairs: I,
    with_paging: bool,
) -> Result<(Query, Paging), QueryError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut seen = [false; Param::ALL.len()];
    let mut b = Query::builder(operation);
    let mut paging = Paging::new();
    for (name, value) in pairs {
        let Some(param) = Param::parse(operation, name.as_ref()) else {
            continue;
        };
        if param.is_paging() && !with_paging {
            return Err(QueryError::Paging(param));
        }
        let Some(slot) = seen.get_mut(param.index()) else {
            continue;
        };
        if std::mem::replace(slot, true) {
            return Err(QueryError::Repeated {
                param,
                value: cut(value.as_ref()),
            });
        }
        b = b.parse_param(&mut paging, param, value.as_ref())?;
    }
    Ok((b.build()?, paging))
}

/// The wire spelling of a State dimension.
fn state_text(d: &Dimension<State>) -> String {
    match d {
        Dimension::Collapse => "AGGREGATE_ALL".into(),
        Dimension::Split => "ANY".into(),
        Dimension::Only(s) => s.as_str().into(),
    }
}

/// `ANY`, `AGGREGATE_ALL` or a specific value.
fn mode<T>(value: &str, specific: impl FnOnce(&str) -> Option<T>) -> Option<Dimension<T>> {
    match value {
        "ANY" => Some(Dimension::Split),
        "AGGREGATE_ALL" => Some(Dimension::Collapse),
        v => specific(v).map(Dimension::Only),
    }
}

/// Decimal digits naming an integer in 1..=1000.
fn parse_max_results(value: &str) -> Option<MaxResults> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros are allowed in any number; what is left must be 1..=1000.
    let significant = value.trim_start_matches('0');
    if significant.len() > 4 {
        return None;
    }
    significant.parse::<u32>().ok().and_then(MaxResults::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() -> Result<(), QueryError> {
        let q = Query::from_pairs(Operation::Backup, std::iter::empty::<(&str, &str)>())?;
        assert_eq!(q.account(), None);
        assert_eq!(q.state(), &Dimension::Collapse);
        assert_eq!(q.period(), AggregationPeriod::OneDay);
        let (_, paging) =
            Query::from_pairs_with_paging(Operation::Backup, std::iter::empty::<(&str, &str)>())?;
        assert_eq!(paging.max_results(), MaxResults::DEFAULT);
        assert_eq!(paging.next_token(), None);
        Ok(())
    }

    #[test]
    fn foreign_parameters_are_ignored() -> Result<(), QueryError> {
        let q = Query::from_pairs(
            Operation::Restore,
            [
                ("MessageCategory", "x"),
                ("MessageCategory", "y"),
                ("Bogus", "1"),
            ],
        )?;
        assert_eq!(q.message_category(), &Dimension::Collapse);
        Ok(())
    }

    #[test]
    fn max_results_bounds() {
        for bad in [
            "0",
            "1001",
            "-1",
            "+5",
            "1e3",
            "",
            " 5",
            "99999999999999999999",
            "00",
            "0001001",
        ] {
            let r = Query::from_pairs_with_paging(Operation::Backup, [("MaxResults", bad)]);
            assert!(
                matches!(
                    r,
                    Err(QueryError::Invalid {
                        param: Param::MaxResults,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        for good in ["1", "1000", "0500", "000000000000042"] {
            assert!(
                Query::from_pairs_with_paging(Operation::Backup, [("MaxResults", good)]).is_ok()
            );
        }
    }

    #[test]
    fn paging_is_not_part_of_a_query() {
        for (name, value) in [("MaxResults", "10"), ("NextToken", "abc")] {
            let r = Query::from_pairs(Operation::Backup, [(name, value)]);
            assert!(
                matches!(r, Err(QueryError::Paging(p)) if p.as_str() == name),
                "{r:?}"
            );
        }
    }

    #[test]
    fn completed_with_issues_keeps_state_completed() {
        let r = Query::builder(Operation::Backup)
            .completed_with_issues()
            .state(Dimension::Split)
            .build();
        assert!(
            matches!(
                r,
                Err(QueryError::Invalid {
                    param: Param::Field(Field::State),
                    ..
                })
            ),
            "{r:?}"
        );
        let ok = Query::builder(Operation::Copy)
            .state(Dimension::Split)
            .completed_with_issues()
            .build();
        assert!(ok.is_ok_and(|q| q.state() == &Dimension::Only(State::Completed)));
    }

    #[test]
    fn builder_rejects_foreign_dimensions() {
        let r = Query::builder(Operation::Restore)
            .completed_with_issues()
            .build();
        assert_eq!(
            r,
            Err(QueryError::Unsupported(
                Param::Field(Field::MessageCategory),
                Operation::Restore
            ))
        );
        let r = Query::builder(Operation::Backup)
            .state(Dimension::Only(State::Canceled))
            .build();
        assert!(matches!(
            r,
            Err(QueryError::Invalid {
                param: Param::Field(Field::State),
                ..
            })
        ));
    }
}
