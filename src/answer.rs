//! Answering a request end to end over one [`JobTable`]: decode the `NextToken`, compute the
//! summary at the pinned `now`, cut the page; and [`SummaryCache`], which keeps recent
//! summaries above the tables so a NextToken walk costs one aggregation.
//!
//! A cached summary is keyed by everything that determines it: the table's operation and
//! [`generation`](JobTable::generation), the query (paging is separate), the caller
//! and the pinned `now`. Any change to the table changes its generation, so a cached summary
//! is always exactly what a fresh pass would give.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::cursor::{Cursor, Page};
use crate::engine::summarize;
use crate::error::QueryError;
use crate::jobs::JobTable;
use crate::query::{MaxResults, Paging, Query};
use crate::rows::Summary;
use crate::schema::Operation;
use crate::scope::Caller;
use crate::time::UnixMillis;

/// How many summaries a [`SummaryCache`] keeps unless told otherwise.
pub const DEFAULT_CACHED_SUMMARIES: usize = 64;

/// The answer to one request: the whole summary and the position of the requested page.
#[derive(Clone, Debug)]
pub struct Answer {
    summary: Arc<Summary>,
    cursor: Cursor,
    max_results: MaxResults,
}

/// Recently computed summaries, least recently used first out, shared by any number of
/// threads. Page walks of different queries or callers each keep their own entry, so up to
/// `capacity` concurrent walks never evict each other.
///
/// ```
/// use backup_summaries::{
///     Caller, JobTable, Operation, Paging, Query, SummaryCache, UnixMillis, DEFAULT_TOKEN_LIFETIME,
/// };
/// let table = JobTable::new(Operation::Backup);
/// let cache = SummaryCache::new(8);
/// let caller = Caller::new("123456789012".parse()?, "us-east-1".parse()?);
/// let query = Query::from_pairs(Operation::Backup, [("State", "ANY")])?;
/// let paging = Paging::new();
/// let now = UnixMillis::new(1_795_737_599_000);
/// let first = cache.answer(&table, &query, &paging, &caller, now, DEFAULT_TOKEN_LIFETIME)?;
/// let again = cache.answer(&table, &query, &paging, &caller, now, DEFAULT_TOKEN_LIFETIME)?;
/// assert!(std::ptr::eq(first.summary(), again.summary())); // computed once
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SummaryCache {
    entries: Mutex<Vec<(CacheKey, Arc<Summary>)>>,
    capacity: usize,
}

#[derive(Debug, Eq, PartialEq)]
struct CacheKey {
    operation: Operation,
    generation: u64,
    query: Query,
    caller: Caller,
    now: UnixMillis,
}

impl Answer {
    /// The requested page.
    #[must_use]
    pub fn page(&self) -> Page<'_> {
        self.summary.page(&self.cursor, self.max_results)
    }

    /// The whole summary the page is cut from.
    #[must_use]
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The position the page starts at (its pinned `now` is the window's `now`).
    #[must_use]
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }
}

impl SummaryCache {
    /// A cache keeping the `capacity` most recently used summaries (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
        }
    }

    /// [`JobTable::answer`], reusing a summary computed for the same table generation, query,
    /// caller and pinned `now` (whatever the paging).
    ///
    /// # Errors
    /// As [`JobTable::answer`].
    pub fn answer(
        &self,
        table: &JobTable,
        query: &Query,
        paging: &Paging,
        caller: &Caller,
        now: UnixMillis,
        lifetime: Duration,
    ) -> Result<Answer, QueryError> {
        let cursor = Cursor::resolve(query, paging, caller, now, lifetime)?;
        let pinned = cursor.pinned_now();
        let key = CacheKey {
            operation: table.operation(),
            generation: table.generation(),
            query: query.clone(),
            caller: caller.clone(),
            now: pinned,
        };
        let hit = {
            let mut entries = self.lock();
            let at = entries.iter().position(|(k, _)| *k == key);
            at.map(|i| {
                let entry = entries.remove(i);
                let summary = Arc::clone(&entry.1);
                entries.push(entry);
                summary
            })
        };
        let summary = match hit {
            Some(summary) => summary,
            None => {
                // Computed outside the lock: other requests are not held up meanwhile.
                let summary = Arc::new(summarize(query, caller, pinned, table));
                let mut entries = self.lock();
                entries.retain(|(k, _)| {
                    !(k.operation == key.operation && k.generation != key.generation)
                });
                if entries.len() >= self.capacity {
                    entries.remove(0);
                }
                entries.push((key, Arc::clone(&summary)));
                summary
            }
        };
        Ok(Answer {
            summary,
            cursor,
            max_results: paging.max_results(),
        })
    }

    /// Drops every kept summary.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(CacheKey, Arc<Summary>)>> {
        // A panic while holding the lock cannot leave the Vec inconsistent: recover it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clone for SummaryCache {
    /// An empty cache of the same capacity (summaries are cheap to compute again).
    fn clone(&self) -> Self {
        Self::new(self.capacity)
    }
}

impl Default for SummaryCache {
    fn default() -> Self {
        Self::new(DEFAULT_CACHED_SUMMARIES)
    }
}

impl JobTable {
    /// Answers `query` for `caller` at `now`: the page `paging` asks for (the first, or the
    /// one its `NextToken` names, of at most its MaxResults rows).
    ///
    /// Tokens older than `lifetime` are rejected ([`DEFAULT_TOKEN_LIFETIME`](crate::DEFAULT_TOKEN_LIFETIME)
    /// is 24 h). The summary is computed at the token's pinned `now`, from the jobs current
    /// now (SPEC §10); to reuse it across the pages of a walk, ask a [`SummaryCache`].
    ///
    /// # Errors
    /// [`QueryError::Token`] when the `NextToken` is rejected.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{Caller, JobTable, Operation, Query, UnixMillis, DEFAULT_TOKEN_LIFETIME};
    /// let table = JobTable::new(Operation::Scan);
    /// let caller = Caller::new("123456789012".parse()?, "eu-west-1".parse()?);
    /// let (query, paging) = Query::from_pairs_with_paging(Operation::Scan, [("MaxResults", "10")])?;
    /// let now = UnixMillis::new(0);
    /// let answer = table.answer(&query, &paging, &caller, now, DEFAULT_TOKEN_LIFETIME)?;
    /// assert!(answer.page().is_empty() && answer.page().next_token().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn answer(
        &self,
        query: &Query,
        paging: &Paging,
        caller: &Caller,
        now: UnixMillis,
        lifetime: Duration,
    ) -> Result<Answer, QueryError> {
        let cursor = Cursor::resolve(query, paging, caller, now, lifetime)?;
        let summary = Arc::new(summarize(query, caller, cursor.pinned_now(), self));
        Ok(Answer {
            summary,
            cursor,
            max_results: paging.max_results(),
        })
    }
}
