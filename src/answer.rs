//! Answering a request end to end over one [`JobTable`]: decode the `NextToken`, compute (or
//! reuse) the summary at the pinned `now`, cut the page.
//!
//! The table keeps the last few summaries it computed, keyed by everything that determines
//! them (query without paging parameters, caller, pinned `now`). Any mutation of the table
//! clears them, so a cached summary is always exactly what a fresh pass would give; the cache
//! only makes a NextToken walk cost one aggregation instead of one per page.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::cursor::{Cursor, Page};
use crate::engine::summarize;
use crate::error::QueryError;
use crate::jobs::JobTable;
use crate::query::{MaxResults, Query};
use crate::rows::Summary;
use crate::scope::Caller;
use crate::time::UnixMillis;

/// How many summaries a table keeps.
const CACHED: usize = 4;

/// The answer to one request: the whole summary and the position of the requested page.
#[derive(Clone, Debug)]
pub struct Answer {
    summary: Arc<Summary>,
    cursor: Cursor,
    max_results: MaxResults,
}

/// Recently computed summaries of one table (empty on clone and after any mutation).
#[derive(Debug, Default)]
pub(crate) struct SummaryCache(Mutex<Vec<(CacheKey, Arc<Summary>)>>);

#[derive(Debug, Eq, PartialEq)]
struct CacheKey {
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

impl Clone for SummaryCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl SummaryCache {
    pub(crate) fn clear(&mut self) {
        self.0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn get_or_compute(&self, key: CacheKey, compute: impl FnOnce() -> Summary) -> Arc<Summary> {
        if let Some(hit) = self
            .lock()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| Arc::clone(s))
        {
            return hit;
        }
        let summary = Arc::new(compute());
        let mut entries = self.lock();
        if entries.len() >= CACHED {
            entries.remove(0);
        }
        entries.push((key, Arc::clone(&summary)));
        summary
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(CacheKey, Arc<Summary>)>> {
        // A panic while holding the lock cannot leave the Vec inconsistent: recover it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl JobTable {
    /// Drops the summaries kept for NextToken walks (they are also dropped by any change to
    /// the table). Useful to bound memory, or to time a walk from a cold start.
    pub fn clear_cached_summaries(&self) {
        self.cache.lock().clear();
    }

    /// Answers `query` (first page, or the page its `NextToken` names) for `caller` at `now`.
    ///
    /// Tokens older than `lifetime` are rejected ([`DEFAULT_TOKEN_LIFETIME`](crate::DEFAULT_TOKEN_LIFETIME)
    /// is 24 h). The summary is computed at the token's pinned `now`, and reused for the next
    /// pages while the table is unchanged.
    ///
    /// # Errors
    /// [`QueryError::Token`] when the `NextToken` is rejected.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{Caller, JobTable, Operation, Query, UnixMillis, DEFAULT_TOKEN_LIFETIME};
    /// let table = JobTable::new(Operation::Scan);
    /// let caller = Caller::new("123456789012".parse()?, "eu-west-1".parse()?);
    /// let query = Query::from_pairs(Operation::Scan, [("MaxResults", "10")])?;
    /// let answer = table.answer(&query, &caller, UnixMillis::new(0), DEFAULT_TOKEN_LIFETIME)?;
    /// assert!(answer.page().is_empty() && answer.page().next_token().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn answer(
        &self,
        query: &Query,
        caller: &Caller,
        now: UnixMillis,
        lifetime: Duration,
    ) -> Result<Answer, QueryError> {
        let cursor = Cursor::resolve(query, caller, now, lifetime)?;
        let pinned = cursor.pinned_now();
        let key = CacheKey {
            query: query
                .clone()
                .with_max_results(MaxResults::DEFAULT)
                .with_next_token(None),
            caller: caller.clone(),
            now: pinned,
        };
        let summary = self
            .cache
            .get_or_compute(key, || summarize(query, caller, pinned, self));
        Ok(Answer {
            summary,
            cursor,
            max_results: query.max_results(),
        })
    }
}
