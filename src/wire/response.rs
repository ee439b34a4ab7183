//! Response shapes and bodies of SPEC §9, written by hand into a `Vec<u8>`.
//!
//! Success body: `{"<List>":[<rows>],"AggregationPeriod":"<period>","NextToken":"<token>"}`,
//! NextToken only when more rows follow. Each row's members, in order: `Region`, `AccountId`,
//! `State`, `ResourceType`, then `MessageCategory` (backup, copy) or `MalwareScanner`,
//! `ScanResultStatus` (scan), then `Count` (a JSON integer), `StartTime`, `EndTime` (epoch
//! seconds as JSON numbers). Absent members are left out, never `null`.
//!
//! Invariants: every body is valid JSON (strings are escaped per RFC 8259), members come in the
//! order above, and writing a row allocates nothing beyond growing the output buffer.

use crate::cursor::Page;
use crate::period::AggregationPeriod;
use crate::rows::{Summary, SummaryRow};
use crate::schema::Operation;
use crate::time::UnixMillis;

/// `Content-Type`.
const CONTENT_TYPE: &str = "Content-Type";
/// `x-amzn-RequestId`.
const REQUEST_ID: &str = "x-amzn-RequestId";
/// `x-amzn-ErrorType`: botocore reads the error code here before the body's `Code`.
const ERROR_TYPE: &str = "x-amzn-ErrorType";
/// `Allow`, sent with a 405.
const ALLOW: &str = "Allow";
/// The content type of every body.
const JSON: &str = "application/json";
/// A generous guess at the bytes of one row, to size the buffer once.
const ROW_BYTES: usize = 192;

/// One HTTP response: status, headers and body, with no framework types (SPEC §9).
///
/// Header names use the AWS capitalisation (`Content-Type`, `x-amzn-RequestId`,
/// `x-amzn-ErrorType`); HTTP header names are case-insensitive, and so is
/// [`WireResponse::header`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WireResponse {
    /// HTTP status code: 200, or the error's status.
    pub status: u16,
    /// Header names and values, in the order they should be sent.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl WireResponse {
    /// A `200` with a JSON success `body`.
    pub(crate) fn ok(request_id: &str, body: Vec<u8>) -> Self {
        Self {
            status: 200,
            headers: vec![
                (CONTENT_TYPE, JSON.to_owned()),
                (REQUEST_ID, request_id.to_owned()),
            ],
            body,
        }
    }

    /// The response for an error with exception `name`, HTTP `status` and `message` (see
    /// `ApiError::to_response`, which calls it: this module knows no error type).
    pub(crate) fn error(name: &str, status: u16, message: &str, request_id: &str) -> Self {
        let mut headers = vec![
            (CONTENT_TYPE, JSON.to_owned()),
            (REQUEST_ID, request_id.to_owned()),
            (ERROR_TYPE, name.to_owned()),
        ];
        if status == 405 {
            headers.push((ALLOW, "GET".to_owned()));
        }
        let mut body = Vec::with_capacity(32 + message.len());
        body.extend_from_slice(b"{\"Code\":");
        write_str(&mut body, name);
        body.extend_from_slice(b",\"Message\":");
        write_str(&mut body, message);
        body.push(b'}');
        Self {
            status,
            headers,
            body,
        }
    }

    /// The value of header `name` (ASCII case-insensitive), if present.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Appends the success body of SPEC §9 for `page` to `out`.
///
/// # Examples
/// ```
/// use backup_summaries::{
///     wire, Caller, JobTable, Operation, Paging, Query, UnixMillis, DEFAULT_TOKEN_LIFETIME,
/// };
/// let table = JobTable::new(Operation::Restore);
/// let caller = Caller::new("123456789012".parse()?, "eu-west-1".parse()?);
/// let query = Query::from_pairs(Operation::Restore, [("AggregationPeriod", "SEVEN_DAYS")])?;
/// let now = UnixMillis::new(0);
/// let answer = table.answer(&query, &Paging::new(), &caller, now, DEFAULT_TOKEN_LIFETIME)?;
/// let mut body = Vec::new();
/// wire::write_page(&answer.page(), &mut body);
/// assert_eq!(body, br#"{"RestoreJobSummaries":[],"AggregationPeriod":"SEVEN_DAYS"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_page(page: &Page<'_>, out: &mut Vec<u8>) {
    write_rows(
        page.operation(),
        page.period(),
        page.rows(),
        page.next_token(),
        out,
    );
}

/// Appends the success body of SPEC §9 for any `rows` of `op` to `out`: `write_page` for one
/// page, or every page of a NextToken walk in one body.
///
/// Rows are written in the order given; members a row lacks are left out.
pub fn write_rows<'r>(
    op: Operation,
    period: AggregationPeriod,
    rows: impl Iterator<Item = SummaryRow<'r>>,
    next_token: Option<&str>,
    out: &mut Vec<u8>,
) {
    out.reserve(
        rows.size_hint()
            .0
            .saturating_mul(ROW_BYTES)
            .saturating_add(96),
    );
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(summaries_member(op).as_bytes());
    out.extend_from_slice(b"\":[");
    // Every label and bucket edge of a summary is rendered once; a row is then a few copies.
    let mut rendered: Option<(&Summary, Rendered)> = None;
    for (i, row) in rows.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let summary = row.summary();
        let fresh = rendered
            .as_ref()
            .map_or(true, |(s, _)| !std::ptr::eq(*s, summary));
        if fresh {
            rendered = Some((summary, Rendered::new(op, summary)));
        }
        if let Some((_, r)) = &rendered {
            r.write(row, out);
        }
    }
    out.extend_from_slice(b"],\"AggregationPeriod\":");
    write_str(out, period.as_str());
    if let Some(token) = next_token {
        out.extend_from_slice(b",\"NextToken\":");
        write_str(out, token);
    }
    out.push(b'}');
}

/// The JSON pieces of one summary's rows, rendered once.
struct Rendered {
    /// `{"Region":"..."`
    head: Vec<u8>,
    /// Per field of the operation: (field index, `,"Name":"value"` per label id; empty when
    /// absent).
    fields: Vec<(usize, Vec<Vec<u8>>)>,
    /// Per bucket: `,"StartTime":...,"EndTime":...}`.
    tails: Vec<Vec<u8>>,
}

impl Rendered {
    fn new(op: Operation, summary: &Summary) -> Self {
        let mut head = b"{\"Region\":".to_vec();
        write_str(&mut head, summary.region_str());
        let fields = op
            .fields()
            .iter()
            .map(|field| {
                let labels = summary.labels_of(*field).iter().map(|label| {
                    let mut v = Vec::new();
                    if let Some(value) = label {
                        v.extend_from_slice(b",\"");
                        v.extend_from_slice(field.as_str().as_bytes());
                        v.extend_from_slice(b"\":");
                        write_str(&mut v, value);
                    }
                    v
                });
                (field.index(), labels.collect())
            })
            .collect();
        let tails = (0..summary.bucket_count())
            .map(|b| {
                let mut v = b",\"StartTime\":".to_vec();
                write_seconds(&mut v, summary.bucket_start(b));
                v.extend_from_slice(b",\"EndTime\":");
                write_seconds(&mut v, summary.bucket_end(b));
                v.push(b'}');
                v
            })
            .collect();
        Self {
            head,
            fields,
            tails,
        }
    }

    fn write(&self, row: SummaryRow<'_>, out: &mut Vec<u8>) {
        let raw = row.raw();
        out.extend_from_slice(&self.head);
        for (f, labels) in &self.fields {
            let id = raw.ids.get(*f).copied().unwrap_or(0) as usize;
            if let Some(piece) = labels.get(id) {
                out.extend_from_slice(piece);
            }
        }
        out.extend_from_slice(b",\"Count\":");
        write_u64(out, raw.count);
        if let Some(tail) = self.tails.get(usize::from(raw.bucket)) {
            out.extend_from_slice(tail);
        }
    }
}

/// The output list member of `op` (SPEC §1).
fn summaries_member(op: Operation) -> &'static str {
    op.wire().summaries
}

/// Appends `s` as a JSON string: `"` and `\` escaped, control characters as `\n`, `\u001f`,
/// ...; everything else, non-ASCII included, as is.
fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if short.is_empty() {
            let hex = |nibble: u8| HEX.get(usize::from(nibble & 0xf)).copied().unwrap_or(b'0');
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// Appends `n` in decimal.
fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    for slot in &mut digits {
        // `n % 10` is below 10, so the cast is exact.
        *slot = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits.iter().take(len).rev());
}

/// Appends `at` as epoch seconds: an integer for a whole second (every bucket edge), else
/// with exactly three decimals.
fn write_seconds(out: &mut Vec<u8>, at: UnixMillis) {
    let ms = at.as_millis();
    if ms < 0 {
        out.push(b'-');
    }
    let abs = ms.unsigned_abs();
    write_u64(out, abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        // Each digit is below 10, so the casts are exact.
        out.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn strings_are_escaped_like_serde_json() -> Result<(), serde_json::Error> {
        for s in [
            "",
            "plain",
            "q\"b\\s",
            "\n\r\t\u{8}\u{c}",
            "\u{0}\u{1f}\u{7f}",
            "é€😀",
            "a\u{2028}b",
        ] {
            assert_eq!(string(s), serde_json::to_string(s)?, "{s:?}");
        }
        Ok(())
    }

    #[test]
    fn integers_and_seconds() {
        let num = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut out = Vec::new();
            f(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        };
        assert_eq!(num(&|o| write_u64(o, 0)), "0");
        assert_eq!(num(&|o| write_u64(o, u64::MAX)), u64::MAX.to_string());
        assert_eq!(
            num(&|o| write_seconds(o, UnixMillis::new(1_795_651_200_000))),
            "1795651200"
        );
        assert_eq!(
            num(&|o| write_seconds(o, UnixMillis::new(1_795_651_200_007))),
            "1795651200.007"
        );
        assert_eq!(
            num(&|o| write_seconds(o, UnixMillis::new(-1_500))),
            "-1.500"
        );
        assert_eq!(num(&|o| write_seconds(o, UnixMillis::new(-999))), "-0.999");
        assert_eq!(
            num(&|o| write_seconds(o, UnixMillis::new(i64::MIN))),
            "-9223372036854775.808"
        );
    }

    #[test]
    fn error_bodies_are_code_and_message() {
        let r = WireResponse::error("XException", 418, "a \"quoted\" message", "id");
        assert_eq!(
            r.body,
            br#"{"Code":"XException","Message":"a \"quoted\" message"}"#
        );
        assert_eq!(r.header("X-AMZN-ERRORTYPE"), Some("XException"));
        assert_eq!(r.header("allow"), None);
    }
}
