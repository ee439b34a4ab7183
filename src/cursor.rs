//! Keyset pagination (SPEC §7): [`Cursor`], its `NextToken` codec, and [`Page`].
//!
//! A cursor is a position, never an offset: the sort key of the last row emitted, the `now`
//! of the first page (so every page uses the same window), and a fingerprint of the
//! operation, the caller and every query parameter except MaxResults. The next page is
//! exactly the rows after that key, so rows added between pages never repeat a row or skip a
//! later one.
//!
//! The token layout is public: it is documented on [`Cursor`] (and pinned by golden tokens
//! that `tests/golden/next_token.py` computes from that documentation alone).

use std::cmp::Ordering;
use std::ops::Range;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::{CursorError, CursorErrorKind};
use crate::period::AggregationPeriod;
use crate::query::{Dimension, MaxResults, Paging, Query};
use crate::rows::{label_id, RawRow, Summary, SummaryRow, FIELDS};
use crate::schema::Operation;
use crate::scope::Caller;
use crate::time::UnixMillis;

/// The token format version this crate writes and reads.
const VERSION: u8 = 1;
/// Values longer than this many bytes are stored as hash + prefix.
const INLINE_MAX: usize = 48;
/// Bytes of a long value's prefix kept in the token.
const PREFIX: usize = 40;
/// Longest token this crate will decode, in characters.
const MAX_TOKEN_CHARS: usize = 1024;

/// How long a `NextToken` stays valid after the first page: 24 hours (D).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Where a page starts (SPEC §7): the pinned `now`, the query fingerprint and the last row
/// emitted, a keyset position, never an offset. Its `NextToken` is [`Cursor::to_token`];
/// [`Cursor::from_token`] (or [`Cursor::resolve`] with a [`Paging`]) reads one back.
///
/// # Examples
///
/// A NextToken walk by hand, two rows a page (what [`JobTable::answer`](crate::JobTable::answer)
/// does per request):
///
/// ```
/// use backup_summaries::{
///     summarize, Caller, Cursor, JobRecord, JobTable, MaxResults, Operation, Query, State,
///     UnixMillis, DEFAULT_TOKEN_LIFETIME,
/// };
/// let me = "123456789012".parse()?;
/// let caller = Caller::new(me, "us-east-1".parse()?);
/// let mut jobs = JobTable::new(Operation::Backup);
/// for state in [State::Aborted, State::Completed, State::Failed] {
///     let created = UnixMillis::new(1_795_690_000_000);
///     jobs.push(&JobRecord::new(me, "us-east-1".parse()?, state, "EBS".parse()?, created))?;
/// }
/// let query = Query::from_pairs(Operation::Backup, [("State", "ANY")])?;
/// let two = MaxResults::new(2).ok_or("2 is a page size")?;
/// let now = UnixMillis::new(1_795_737_599_000);
///
/// let first = Cursor::start(&query, &caller, now);
/// let summary = summarize(&query, &caller, first.pinned_now(), &jobs);
/// let page = summary.page(&first, two);
/// assert_eq!(page.len(), 2);
/// let token = page.next_token().ok_or("a second page")?;
///
/// // The next request, an hour later: same window (the pinned now), next rows.
/// let later = UnixMillis::new(now.as_millis() + 3_600_000);
/// let next = Cursor::from_token(token, &query, &caller, later, DEFAULT_TOKEN_LIFETIME)?;
/// assert_eq!(next.pinned_now(), now);
/// let summary = summarize(&query, &caller, next.pinned_now(), &jobs);
/// let page = summary.page(&next, two);
/// assert_eq!(page.rows().map(|r| r.count()).sum::<u64>(), 1);
/// assert_eq!(page.next_token(), None);
///
/// // A token is bound to its query and caller.
/// let other = Query::from_pairs(Operation::Backup, [("State", "FAILED")])?;
/// let e = Cursor::from_token(token, &other, &caller, later, DEFAULT_TOKEN_LIFETIME).err();
/// assert!(e.is_some_and(|e| e.is_foreign()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Token layout (version 1)
///
/// The token is the URL-safe base64 (no padding) of these bytes, all integers little-endian:
///
/// | bytes | content |
/// |---|---|
/// | 1 | format version, `1` |
/// | 8 | pinned `now`, milliseconds since the epoch (i64) |
/// | 8 | fingerprint: FNV-1a 64 over the canonical query encoding (below) |
/// | 1 | `0`: first position (nothing emitted yet), `1`: a row key follows |
/// | 1 | row key: bucket index |
/// | 6 × | row key: per field in [`Field`](crate::Field) order, `0` absent; `1`, length (u8), UTF-8 bytes for a value of at most 48 bytes; `2`, FNV-1a 64 of the value, length (u8), its first at most 40 bytes (cut at a char boundary) for a longer value |
/// | 8 | checksum: FNV-1a 64 of every byte before it |
///
/// A token is at most 1 + 8 + 8 + 1 + 1 + 6 × 50 + 8 = 327 bytes, 436 characters, whatever
/// the values (a unit test checks the bound).
/// FNV-1a detects every single-byte edit (each step is a bijection); it is a checksum, not a
/// signature: tokens are not secret and carry nothing the caller could not ask for directly.
///
/// The canonical query encoding is: `b"backup-summaries/query/v1"`, the operation code (u8:
/// backup 1, copy 2, restore 3, scan 4), the caller's account (u64), the caller's region
/// (u32 length + bytes), then each of AccountId, State, ResourceType, MessageCategory,
/// MalwareScanner, ScanResultStatus after defaults (an omitted AccountId is the caller's
/// own) as `0` collapse / `1` split / `2`, u32 length, value bytes (the AWS spelling); then
/// the completed-with-issues flag (u8, 0 or 1), the period code (u8: `ONE_DAY` 1,
/// `SEVEN_DAYS` 2, `FOURTEEN_DAYS` 3) and the day-grid code (u8: through today 0, prior full
/// days 1). Paging (MaxResults, NextToken) is not part of it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Cursor {
    pinned_now: UnixMillis,
    fingerprint: u64,
    after: Option<RowKey>,
}

/// One page of a [`Summary`] (SPEC §7).
#[derive(Clone, Debug)]
pub struct Page<'a> {
    summary: &'a Summary,
    range: Range<usize>,
    next_token: Option<String>,
}

/// A row's sort key, as stored in a token.
#[derive(Clone, Debug, Eq, PartialEq)]
struct RowKey {
    bucket: u8,
    values: [KeyValue; FIELDS],
}

#[derive(Clone, Debug, Default, Eq, PartialEq)]
enum KeyValue {
    #[default]
    Absent,
    Inline(Box<str>),
    /// FNV-1a 64 of the value and its first bytes (cut at a char boundary).
    Long(u64, Box<[u8]>),
}

impl Cursor {
    /// The first page of `query` for `caller`, pinned at `now`.
    #[must_use]
    pub fn start(query: &Query, caller: &Caller, now: UnixMillis) -> Self {
        Self {
            pinned_now: now,
            fingerprint: fingerprint(query, caller),
            after: None,
        }
    }

    /// The first page of `query`, or the page `paging`'s `NextToken` names.
    ///
    /// # Errors
    /// As [`Cursor::from_token`].
    pub fn resolve(
        query: &Query,
        paging: &Paging,
        caller: &Caller,
        now: UnixMillis,
        lifetime: Duration,
    ) -> Result<Self, CursorError> {
        match paging.next_token() {
            Some(token) => Self::from_token(token, query, caller, now, lifetime),
            None => Ok(Self::start(query, caller, now)),
        }
    }

    /// Decodes a `NextToken` for `query` and `caller` at `now`. Total: never panics.
    ///
    /// # Errors
    /// A [`CursorError`] when the token does not decode, was issued for another operation,
    /// query or caller, was pinned after `now`, or is older than `lifetime`.
    pub fn from_token(
        token: &str,
        query: &Query,
        caller: &Caller,
        now: UnixMillis,
        lifetime: Duration,
    ) -> Result<Self, CursorError> {
        let fail = |kind| CursorError::new(kind, token);
        let cursor = decode(token).ok_or_else(|| fail(CursorErrorKind::Malformed))?;
        if cursor.fingerprint != fingerprint(query, caller) {
            return Err(fail(CursorErrorKind::Foreign));
        }
        if cursor.pinned_now > now {
            return Err(fail(CursorErrorKind::Future));
        }
        let age = i128::from(now.as_millis()) - i128::from(cursor.pinned_now.as_millis());
        if age > i128::try_from(lifetime.as_millis()).unwrap_or(i128::MAX) {
            return Err(fail(CursorErrorKind::Expired));
        }
        Ok(cursor)
    }

    /// The `now` every page of this query uses: pass it to
    /// [`Aggregator::new`](crate::Aggregator::new).
    #[must_use]
    pub fn pinned_now(&self) -> UnixMillis {
        self.pinned_now
    }

    /// Whether this is the first page.
    #[must_use]
    pub fn is_start(&self) -> bool {
        self.after.is_none()
    }

    /// The token for this position.
    #[must_use]
    pub fn to_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.to_bytes())
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.push(VERSION);
        out.extend_from_slice(&self.pinned_now.as_millis().to_le_bytes());
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        match &self.after {
            None => out.push(0),
            Some(key) => {
                out.push(1);
                out.push(key.bucket);
                for v in &key.values {
                    match v {
                        KeyValue::Absent => out.push(0),
                        KeyValue::Inline(s) => {
                            out.push(1);
                            put_short(&mut out, s.as_bytes());
                        }
                        KeyValue::Long(hash, prefix) => {
                            out.push(2);
                            out.extend_from_slice(&hash.to_le_bytes());
                            put_short(&mut out, prefix);
                        }
                    }
                }
            }
        }
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }
}

impl Summary {
    /// The page of at most `max` rows after `cursor`'s position, with the next token when
    /// more rows follow (SPEC §7).
    ///
    /// The summary must be computed at `cursor.pinned_now()` for the same query and caller.
    ///
    /// # Examples
    /// ```
    /// use backup_summaries::{
    ///     summarize, Caller, Cursor, JobRecord, JobTable, MaxResults, Operation, Query, State,
    ///     UnixMillis,
    /// };
    /// let me = "123456789012".parse()?;
    /// let caller = Caller::new(me, "us-east-1".parse()?);
    /// let mut jobs = JobTable::new(Operation::Restore);
    /// for (state, ms) in [(State::Completed, 1_795_650_000_000), (State::Failed, 1_795_690_000_000)] {
    ///     jobs.push(&JobRecord::new(me, "us-east-1".parse()?, state, "EFS".parse()?, UnixMillis::new(ms)))?;
    /// }
    /// let query = Query::from_pairs(Operation::Restore, [("State", "ANY")])?;
    /// let now = UnixMillis::new(1_795_737_599_000);
    /// let summary = summarize(&query, &caller, now, &jobs);
    /// let one = MaxResults::new(1).ok_or("1 is a page size")?;
    /// let page = summary.page(&Cursor::start(&query, &caller, now), one);
    /// assert_eq!(page.rows().map(|r| r.to_string()).collect::<Vec<_>>(), [
    ///     "2026-11-25T00:00:00.000Z 2026-11-26T00:00:00.000Z us-east-1 123456789012 COMPLETED AGGREGATE_ALL 1",
    /// ]);
    /// assert!(page.next_token().is_some()); // FAILED, on 2026-11-26, follows
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn page(&self, cursor: &Cursor, max: MaxResults) -> Page<'_> {
        let start = match &cursor.after {
            None => 0,
            Some(key) => self.position_after(key),
        };
        let end = start.saturating_add(max.get()).min(self.rows.len());
        let next_token = (end < self.rows.len() && end > start).then(|| {
            let after = self.rows.get(end - 1).map(|raw| self.key_of(raw));
            Cursor {
                after,
                ..cursor.clone()
            }
            .to_token()
        });
        Page {
            summary: self,
            range: start..end,
            next_token,
        }
    }

    /// The key a token stores for `raw`.
    fn key_of(&self, raw: &RawRow) -> RowKey {
        RowKey {
            bucket: raw.bucket,
            values: std::array::from_fn(|f| {
                match self.labels[f]
                    .get(raw.ids[f] as usize)
                    .and_then(|l| l.as_deref())
                {
                    None => KeyValue::Absent,
                    Some(s) if s.len() <= INLINE_MAX => KeyValue::Inline(s.into()),
                    Some(s) => KeyValue::Long(fnv1a(s.as_bytes()), prefix(s).into()),
                }
            }),
        }
    }

    /// Index of the first row whose key is greater than `key`.
    fn position_after(&self, key: &RowKey) -> usize {
        // Map each key value into this summary's id space: a label present at id i is 2i+1;
        // a value between labels i-1 and i is 2i. Row ids j compare as 2j+1.
        let mut pos = [0u64; FIELDS];
        for (f, value) in key.values.iter().enumerate() {
            pos[f] = locate(&self.labels[f], value);
        }
        let target = (key.bucket, pos);
        self.rows.partition_point(|r| {
            let ids = r.ids.map(|j| 2 * u64::from(j) + 1);
            (r.bucket, ids) <= target
        })
    }
}

impl<'a> Page<'a> {
    /// The rows of this page, in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = SummaryRow<'a>> + 'a {
        self.summary.rows_in(self.range.clone())
    }

    /// Number of rows on this page.
    #[must_use]
    pub fn len(&self) -> usize {
        self.range.len()
    }

    /// Whether the page is empty (only when the whole answer is).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// The token of the next page, present exactly when more rows follow.
    #[must_use]
    pub fn next_token(&self) -> Option<&str> {
        self.next_token.as_deref()
    }

    /// The operation answered.
    #[must_use]
    pub fn operation(&self) -> Operation {
        self.summary.operation()
    }

    /// The aggregation period of every row.
    #[must_use]
    pub fn period(&self) -> AggregationPeriod {
        self.summary.period()
    }
}

/// Where `value` falls among sorted `labels` (see `position_after`).
fn locate(labels: &[Option<Box<str>>], value: &KeyValue) -> u64 {
    let idx = |i: usize| u64::from(label_id(i));
    let probe: Option<&str> = match value {
        KeyValue::Absent => None,
        KeyValue::Inline(s) => Some(s),
        KeyValue::Long(hash, pre) => {
            // Resolve the full value: the label with this hash and prefix.
            let found = labels.iter().position(|l| {
                l.as_deref()
                    .is_some_and(|s| fnv1a(s.as_bytes()) == *hash && s.as_bytes().starts_with(pre))
            });
            if let Some(i) = found {
                return 2 * idx(i) + 1;
            }
            // The value is gone: order by prefix, ahead of every label sharing it.
            let i = labels.partition_point(|l| match l.as_deref() {
                None => true,
                Some(s) => s.as_bytes().cmp(pre) == Ordering::Less,
            });
            return 2 * idx(i);
        }
    };
    match labels.binary_search_by(|l| l.as_deref().cmp(&probe)) {
        Ok(i) => 2 * idx(i) + 1,
        Err(i) => 2 * idx(i),
    }
}

/// The first at most [`PREFIX`] (40) bytes of `s`, cut at a char boundary.
fn prefix(s: &str) -> &[u8] {
    let mut end = PREFIX.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s.as_bytes()[..end]
}

/// Appends `bytes` after a length byte. A key value is at most [`INLINE_MAX`] (inline) or
/// [`PREFIX`] (a long value's prefix) bytes when [`Summary::key_of`] builds it, and at most
/// 255 when [`decode`] reads it (after a length byte), so the length fits a byte; debug
/// builds assert it. In release a longer value (a bug) is cut to 255 bytes, so the fields
/// after it stay aligned and the token decodes or is rejected as malformed, never misread.
fn put_short(out: &mut Vec<u8>, bytes: &[u8]) {
    debug_assert!(
        bytes.len() <= usize::from(u8::MAX),
        "key value of {} bytes",
        bytes.len()
    );
    let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(bytes));
}

/// Parses token bytes; `None` for anything but a well-formed version-1 token.
fn decode(token: &str) -> Option<Cursor> {
    if token.len() > MAX_TOKEN_CHARS {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let (body, sum) = bytes.split_last_chunk::<8>()?;
    if fnv1a(body) != u64::from_le_bytes(*sum) {
        return None;
    }
    let mut r = Reader(body);
    if r.u8()? != VERSION {
        return None;
    }
    let pinned_now = UnixMillis::new(i64::from_le_bytes(r.array()?));
    let fingerprint = u64::from_le_bytes(r.array()?);
    let after = match r.u8()? {
        0 => None,
        1 => {
            let bucket = r.u8()?;
            let mut values: [KeyValue; FIELDS] = Default::default();
            for v in &mut values {
                *v = match r.u8()? {
                    0 => KeyValue::Absent,
                    1 => {
                        let len = usize::from(r.u8()?);
                        let s = std::str::from_utf8(r.take(len)?).ok()?;
                        KeyValue::Inline(s.into())
                    }
                    2 => {
                        let hash = u64::from_le_bytes(r.array()?);
                        let len = usize::from(r.u8()?);
                        KeyValue::Long(hash, r.take(len)?.into())
                    }
                    _ => return None,
                };
            }
            Some(RowKey { bucket, values })
        }
        _ => return None,
    };
    if !r.0.is_empty() {
        return None;
    }
    Some(Cursor {
        pinned_now,
        fingerprint,
        after,
    })
}

/// A cursor over token bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

/// FNV-1a, 64 bit: offset basis 0xcbf29ce484222325, prime 0x100000001b3.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The fingerprint of `query` for `caller` (see the module docs for the encoding).
fn fingerprint(query: &Query, caller: &Caller) -> u64 {
    let mut enc: Vec<u8> = b"backup-summaries/query/v1".to_vec();
    enc.push(query.operation().code());
    enc.extend_from_slice(&caller.account().as_u64().to_le_bytes());
    put_str(&mut enc, caller.region().as_str());
    let account = query
        .account()
        .cloned()
        .unwrap_or(Dimension::Only(caller.account()));
    put_dim(&mut enc, &account, |a| a.to_string());
    put_dim(&mut enc, query.state(), |s| s.as_str().to_owned());
    put_dim(&mut enc, query.resource_type(), |v| v.as_str().to_owned());
    put_dim(&mut enc, query.message_category(), |v| {
        v.as_str().to_owned()
    });
    put_dim(&mut enc, query.malware_scanner(), |v| v.as_str().to_owned());
    put_dim(&mut enc, query.scan_result_status(), |v| {
        v.as_str().to_owned()
    });
    enc.push(u8::from(query.is_completed_with_issues()));
    enc.push(query.period().code());
    enc.push(query.day_grid().code());
    fnv1a(&enc)
}

/// Appends `s` to the fingerprint's canonical encoding, after its length as a `u32`. The
/// length is a real saturation, not a hidden invariant: a value over 4 GiB (no query string
/// carries one) encodes `u32::MAX`, and its bytes still all go into the hash.
fn put_str(enc: &mut Vec<u8>, s: &str) {
    enc.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    enc.extend_from_slice(s.as_bytes());
}

fn put_dim<T>(enc: &mut Vec<u8>, d: &Dimension<T>, text: impl Fn(&T) -> String) {
    match d {
        Dimension::Collapse => enc.push(0),
        Dimension::Split => enc.push(1),
        Dimension::Only(v) => {
            enc.push(2);
            put_str(enc, &text(v));
        }
    }
}

/// Hex of the canonical bytes of a cursor, for tests and debugging.
#[cfg(test)]
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AccountId;
    use crate::scope::Caller;

    fn caller() -> Result<Caller, Box<dyn std::error::Error>> {
        Ok(Caller::new(
            AccountId::parse("123456789012")?,
            "us-east-1".parse()?,
        ))
    }

    fn golden_cursor() -> Result<(Cursor, Query, Caller), Box<dyn std::error::Error>> {
        let query = Query::from_pairs(
            Operation::Backup,
            [("State", "ANY"), ("MessageCategory", "ANY")],
        )?;
        let caller = caller()?;
        let cursor = Cursor {
            pinned_now: UnixMillis::new(1_795_737_599_000),
            fingerprint: fingerprint(&query, &caller),
            after: Some(RowKey {
                bucket: 13,
                values: [
                    KeyValue::Inline("123456789012".into()),
                    KeyValue::Inline("COMPLETED".into()),
                    KeyValue::Inline("AGGREGATE_ALL".into()),
                    KeyValue::Absent,
                    KeyValue::Absent,
                    KeyValue::Absent,
                ],
            }),
        };
        Ok((cursor, query, caller))
    }

    /// The golden tokens, `<name> <token>` per line: computed independently from the
    /// documented layout by `tests/golden/next_token.py` (stdlib Python: struct.pack + FNV-1a
    /// + urlsafe_b64encode), which `tests/golden_token.rs` runs to check it still prints them.
    const GOLDEN: &str = include_str!("../tests/golden/next_token.txt");

    fn golden(name: &str) -> Result<&'static str, Box<dyn std::error::Error>> {
        GOLDEN
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .ok_or_else(|| format!("no golden token {name}").into())
    }

    /// 49 characters, 50 bytes: a hash + prefix key value, the prefix cut back to 39 bytes.
    const LONG_RESOURCE_TYPE: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\u{e9}yyyyyyyyy";

    #[test]
    fn golden_token_pins_the_layout() -> Result<(), Box<dyn std::error::Error>> {
        let (cursor, _, _) = golden_cursor()?;
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let bytes = cursor.to_bytes();
        assert_eq!(&hex(&bytes[..9]), "01183c4d1aa2010000");
        assert_eq!(cursor.to_token(), golden("backup_state_category")?);
        Ok(())
    }

    #[test]
    fn golden_token_pins_long_values_and_scan_dimensions() -> Result<(), Box<dyn std::error::Error>>
    {
        let query = Query::from_pairs(
            Operation::Scan,
            [
                ("State", "ANY"),
                ("ResourceType", LONG_RESOURCE_TYPE),
                ("MalwareScanner", "ANY"),
                ("ScanResultStatus", "ANY"),
                ("AggregationPeriod", "SEVEN_DAYS"),
            ],
        )?;
        let caller = Caller::new(AccountId::parse("123456789012")?, "eu-west-1".parse()?);
        assert_eq!(LONG_RESOURCE_TYPE.len(), 50);
        assert_eq!(prefix(LONG_RESOURCE_TYPE).len(), 39);
        let cursor = Cursor {
            pinned_now: UnixMillis::new(1_795_737_599_000),
            fingerprint: fingerprint(&query, &caller),
            after: Some(RowKey {
                bucket: 0,
                values: [
                    KeyValue::Inline("123456789012".into()),
                    KeyValue::Inline("COMPLETED".into()),
                    KeyValue::Long(
                        fnv1a(LONG_RESOURCE_TYPE.as_bytes()),
                        prefix(LONG_RESOURCE_TYPE).into(),
                    ),
                    KeyValue::Absent,
                    KeyValue::Inline("GUARDDUTY".into()),
                    KeyValue::Inline("UNKNOWN".into()),
                ],
            }),
        };
        assert_eq!(cursor.to_token(), golden("scan_long_resource_type")?);
        let back = Cursor::from_token(
            golden("scan_long_resource_type")?,
            &query,
            &caller,
            cursor.pinned_now,
            DEFAULT_TOKEN_LIFETIME,
        )?;
        assert_eq!(back, cursor);
        Ok(())
    }

    #[test]
    fn round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let (cursor, query, caller) = golden_cursor()?;
        let back = Cursor::from_token(
            &cursor.to_token(),
            &query,
            &caller,
            cursor.pinned_now,
            DEFAULT_TOKEN_LIFETIME,
        )?;
        assert_eq!(back, cursor);
        Ok(())
    }

    #[test]
    fn every_single_character_edit_is_rejected() -> Result<(), Box<dyn std::error::Error>> {
        let (cursor, query, caller) = golden_cursor()?;
        let token = cursor.to_token();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..token.len() {
            for c in alphabet.chars() {
                let mut edited = token.clone();
                edited.replace_range(i..=i, c.encode_utf8(&mut [0; 4]));
                if edited == token {
                    continue;
                }
                let r = Cursor::from_token(
                    &edited,
                    &query,
                    &caller,
                    cursor.pinned_now,
                    DEFAULT_TOKEN_LIFETIME,
                );
                assert!(r.is_err(), "edit at {i} to {c} accepted");
            }
        }
        Ok(())
    }

    #[test]
    fn foreign_future_and_expired_tokens_are_rejected() -> Result<(), Box<dyn std::error::Error>> {
        let (cursor, query, caller) = golden_cursor()?;
        let token = cursor.to_token();
        let now = cursor.pinned_now;
        let other_query = Query::from_pairs(Operation::Backup, [("State", "ANY")])?;
        let e =
            Cursor::from_token(&token, &other_query, &caller, now, DEFAULT_TOKEN_LIFETIME).err();
        assert!(e.is_some_and(|e| e.is_foreign()));
        let other_op = Query::from_pairs(
            Operation::Copy,
            [("State", "ANY"), ("MessageCategory", "ANY")],
        )?;
        let e = Cursor::from_token(&token, &other_op, &caller, now, DEFAULT_TOKEN_LIFETIME).err();
        assert!(e.is_some_and(|e| e.is_foreign()));
        let other_caller = Caller::new(AccountId::parse("123456789013")?, "us-east-1".parse()?);
        let e =
            Cursor::from_token(&token, &query, &other_caller, now, DEFAULT_TOKEN_LIFETIME).err();
        assert!(e.is_some_and(|e| e.is_foreign()));
        let before = UnixMillis::new(now.as_millis() - 1);
        let e = Cursor::from_token(&token, &query, &caller, before, DEFAULT_TOKEN_LIFETIME).err();
        assert!(e.is_some_and(|e| e.is_future()));
        let day = i64::try_from(DEFAULT_TOKEN_LIFETIME.as_millis())?;
        let edge = UnixMillis::new(now.as_millis() + day);
        assert!(Cursor::from_token(&token, &query, &caller, edge, DEFAULT_TOKEN_LIFETIME).is_ok());
        let late = UnixMillis::new(now.as_millis() + day + 1);
        let e = Cursor::from_token(&token, &query, &caller, late, DEFAULT_TOKEN_LIFETIME).err();
        assert!(e.is_some_and(|e| e.is_expired()));
        Ok(())
    }

    #[test]
    fn max_results_is_not_fingerprinted() -> Result<(), Box<dyn std::error::Error>> {
        let caller = caller()?;
        let (a, _) = Query::from_pairs_with_paging(Operation::Backup, [("MaxResults", "1")])?;
        let (b, _) = Query::from_pairs_with_paging(
            Operation::Backup,
            [("MaxResults", "7"), ("State", "AGGREGATE_ALL")],
        )?;
        assert_eq!(fingerprint(&a, &caller), fingerprint(&b, &caller));
        let own = Query::from_pairs(Operation::Backup, [("AccountId", "123456789012")])?;
        assert_eq!(fingerprint(&a, &caller), fingerprint(&own, &caller));
        Ok(())
    }

    #[test]
    fn junk_never_decodes() {
        for junk in [
            "",
            "A",
            "====",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "é",
            &"A".repeat(5000),
        ] {
            assert!(decode(junk).is_none(), "{junk:?}");
        }
    }

    #[test]
    fn longest_possible_token_is_under_512_chars() {
        let long = KeyValue::Long(u64::MAX, vec![0xAA; PREFIX].into());
        let inline = KeyValue::Inline("x".repeat(INLINE_MAX).into());
        for v in [long, inline] {
            let cursor = Cursor {
                pinned_now: UnixMillis::new(0),
                fingerprint: 0,
                after: Some(RowKey {
                    bucket: 0,
                    values: std::array::from_fn(|_| v.clone()),
                }),
            };
            assert_eq!(cursor.to_token().len(), 436);
        }
    }
}
