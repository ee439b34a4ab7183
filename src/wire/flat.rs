//! The fast path of record parsing: a hand-written scanner for the flat record shape the list
//! APIs print (`{"Key": "string" | number | true | false | null, ...}`), filling the same
//! [`RawJob`] the serde path fills.
//!
//! It gives up (returns `None`) on anything unusual: escapes, nested values, control bytes in
//! a string, numbers it cannot convert exactly as serde would (exponents, more than 15
//! significant digits), a known member given twice, malformed JSON. The caller then parses
//! the record with serde_json, which accepts or rejects it with its own message; so the fast
//! path never decides an error, and accepts only what serde accepts, with the same values.
//! The input is `&str`: the caller checks UTF-8 once per chunk, not once per string.
//!
//! # Shapes
//!
//! Consecutive records of a dump almost always have the same layout: the same keys in the
//! same order, the same whitespace, values of the same kinds. [`scan_shaped`] predicts it
//! from the last record: a [`Shape`] sees a record as pieces and values, `P0 v1 P1 ... vn
//! Pn`, a piece being every byte between two values (`{`, whitespace, keys with their quotes,
//! `:`, `,`, a string value's quotes; `P0` starts with the whitespace before `{` and `Pn`
//! ends with `}`), and knows for each value the [`RawJob`] slot it fills (or none) and
//! whether it is a string. It checks each piece byte for byte and scans each value, with no
//! key lookup and no whitespace loop; where the record differs, [`scan_flat`] takes over (see
//! the last point), and the shape learns the record's layout if `scan_flat` accepts it. That
//! gives `scan_flat`'s result exactly:
//!
//! - A shape is only learned from a record `scan_flat` accepted, with the `lines` flag it
//!   is used with (it holds the flag). Where a record repeats a piece, `scan_flat` would make
//!   the steps it made in the learned record, as they depend on the piece's bytes only: the
//!   whitespace, `{`, `:`, `,` and `}`, and each key (a plain string, the same slot). It
//!   would meet each value at the offset the shape does: the piece before a string ends with
//!   its opening quote; before another value, a whitespace byte more is no value start, so
//!   [`value`] rejects it (a mismatch), where `scan_flat` would have skipped it.
//! - Values are scanned as `scan_flat` scans them: a non-string with [`value`], at the same
//!   offset of the same text; a string up to its first quote, backslash or control byte,
//!   which must be the quote the next piece starts with ([`plain_string`]'s rule).
//! - The slots a shape fills are distinct (`scan_flat` rejects a known member given twice),
//!   so no record of the shape repeats one; `ScanResult` and `detail` are never in a shape
//!   (`scan_flat` rejects records that have them).
//! - Where a record leaves the shape after its first `j` values (each read and stored as
//!   `scan_flat` would), `scan_flat`'s own loop goes on from just after value `j`, with `raw`
//!   as `scan_flat` would have it there. With `j` = 0, or if value `j` is a string that did
//!   not end at a quote (an escape or a control byte, which `scan_flat` rejects), `scan_flat`
//!   starts over. So a record that drops or adds a member late (a running job without its
//!   CompletionDate) is not scanned twice. If the record is accepted, the shape keeps its
//!   first `j` values and the pieces before them, and learns the rest from where `scan_flat`
//!   found the values.

use std::borrow::Cow;

use crate::wire::records::{Member, RawJob, Scalar};

/// Most significant digits of a decimal CreationDate read directly: up to 15, an `f64` holds
/// the digits exactly, so truncating the text equals truncating serde's shortest `f64` form.
const MAX_DECIMAL_DIGITS: usize = 15;

/// Scans one flat object at the start of `text` (after optional JSON whitespace) into `raw`,
/// which it resets first (the caller reuses one `RawJob` for many records: a `RawJob` is
/// large, and returning it by value cost a copy or more per record; `raw` must hold nothing
/// but what the scanners put in it, see [`RawJob::reset_borrowed`]). Returns the offset just
/// past the object's closing `}`, or `None` to fall back to serde (`raw` is then partly
/// filled). With `lines` false, a line feed is not whitespace (a JSON Lines record ends at
/// one). It tells `mark` where each value is, in order (for [`Shape::learn`]).
fn scan_flat<'t>(
    text: &'t str,
    lines: bool,
    raw: &mut RawJob<'t>,
    mark: impl FnMut(Mark),
) -> Option<usize> {
    let bytes = text.as_bytes();
    raw.reset_borrowed();
    let mut at = skip_space(bytes, 0, lines);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1, lines);
    if bytes.get(at) == Some(&b'}') {
        return Some(at + 1);
    }
    members(text, lines, raw, at, mark)
}

/// [`scan_flat`] from just after a value at `at` (`raw` holding the members before it).
fn after_value<'t>(
    text: &'t str,
    lines: bool,
    raw: &mut RawJob<'t>,
    at: usize,
    mark: impl FnMut(Mark),
) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = skip_space(bytes, at, lines);
    match bytes.get(at) {
        Some(b',') => members(text, lines, raw, skip_space(bytes, at + 1, lines), mark),
        Some(b'}') => Some(at + 1),
        _ => None,
    }
}

/// [`scan_flat`] from a member's key at `at` to the object's end.
fn members<'t>(
    text: &'t str,
    lines: bool,
    raw: &mut RawJob<'t>,
    mut at: usize,
    mut mark: impl FnMut(Mark),
) -> Option<usize> {
    let bytes = text.as_bytes();
    let skip_space = |at: usize| skip_space(bytes, at, lines);
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let after = plain_string(bytes, at + 1)?;
        let key = bytes.get(at + 1..after - 1)?;
        at = skip_space(after);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(at + 1);
        let (value, after) = value(text, at)?;
        let member = Member::of(key);
        mark(match value {
            // A string's quotes belong to the pieces around it.
            Scalar::Str(_) => Mark {
                start: at + 1,
                end: after - 1,
                member,
                string: true,
            },
            _ => Mark {
                start: at,
                end: after,
                member,
                string: false,
            },
        });
        at = skip_space(after);
        if let Some(member) = member {
            let slot = raw.member(member);
            if slot.is_some() {
                return None;
            }
            *slot = Some(value);
        } else if key == b"ScanResult" || key == b"detail" {
            // Objects (a scan result, an event's detail) that serde reads and checks, also
            // when given as a scalar here: serde rejects that, so this path must not accept it.
            return None;
        }
        match bytes.get(at) {
            Some(b',') => at = skip_space(at + 1),
            Some(b'}') => return Some(at + 1),
            _ => return None,
        }
    }
}

/// [`scan_flat`], trying `shape` first: the same result for every input (offset, `raw`,
/// `None`), faster when the record has the shape of the last one this `shape` learned (see
/// the module doc). Where the record leaves the shape, [`scan_flat`] takes over (from the
/// last value the shape read) and, if it accepts the record, the shape learns its layout
/// from there on. `shape` must be used with one `lines` flag (it relearns when the flag
/// changes).
pub(super) fn scan_shaped<'t>(
    text: &'t str,
    lines: bool,
    raw: &mut RawJob<'t>,
    shape: &mut Shape,
) -> Option<usize> {
    let mut kept = Left::default();
    if shape.lines == Some(lines) {
        raw.reset_borrowed();
        match shape.follow(text, raw) {
            Ok(end) => return Some(end),
            Err(left) => kept = left,
        }
    }
    let Shape { marks, .. } = shape;
    marks.clear();
    let push = |mark| marks.push(mark);
    let end = if kept.values == 0 {
        scan_flat(text, lines, raw, push)
    } else {
        after_value(text, lines, raw, kept.after, push)
    }?;
    shape.learn(text.as_bytes(), kept, end, lines);
    Some(end)
}

/// One [`RawJob`], filled record after record by [`scan_shaped`] with one [`Shape`]: what a
/// chunk parse keeps from one record to the next. Nothing else writes the record, so it only
/// ever holds borrowed strings, which [`RawJob::reset_borrowed`] needs.
#[derive(Default)]
pub(super) struct Scanner<'t> {
    raw: RawJob<'t>,
    shape: Shape,
}

impl<'t> Scanner<'t> {
    /// [`scan_shaped`] into the scanner's record: the offset past the record at the start of
    /// `text`, or `None` to fall back to serde (the record is then partly filled, not to be
    /// read).
    pub(super) fn scan(&mut self, text: &'t str, lines: bool) -> Option<usize> {
        scan_shaped(text, lines, &mut self.raw, &mut self.shape)
    }

    /// The record the last [`Scanner::scan`] that returned an offset filled.
    pub(super) fn raw(&self) -> &RawJob<'t> {
        &self.raw
    }
}

/// The layout of the last record [`scan_shaped`] accepted: its pieces (the bytes between
/// its values) and, per value, the member it fills and whether it is a string. Reused from
/// record to record; its buffers are kept when it relearns.
#[derive(Debug, Default)]
pub(super) struct Shape {
    /// The `lines` flag the shape was learned with; `None` before the first.
    lines: Option<bool>,
    /// The pieces, one after the other.
    pieces: Vec<u8>,
    /// One per value, in order.
    holes: Vec<Hole>,
    /// Where [`scan_flat`] found the values of the record being scanned.
    marks: Vec<Mark>,
}

/// A value of a [`Shape`].
#[derive(Clone, Copy, Debug)]
struct Hole {
    /// The end of the piece before it, in [`Shape::pieces`]; the piece after it starts there.
    piece_end: usize,
    /// The slot it fills; `None` for a member the job does not read.
    member: Option<Member>,
    /// A string: the piece before ends with its opening quote, the piece after starts with
    /// its closing one.
    string: bool,
}

/// A value [`scan_flat`] found: its offsets (a string's without its quotes) and member.
#[derive(Clone, Copy, Debug)]
struct Mark {
    start: usize,
    end: usize,
    member: Option<Member>,
    string: bool,
}

/// Where a record left its shape: after how many of its values (read and stored), the end of
/// the last one (a string's without its closing quote, as in [`Mark`]) and the offset past
/// it.
#[derive(Clone, Copy, Debug, Default)]
struct Left {
    values: usize,
    end: usize,
    after: usize,
}

impl Shape {
    /// Scans `text` as a record of this shape into `raw` (reset): every piece byte for byte,
    /// each value as [`scan_flat`] would. On any difference, where the record left the shape
    /// (`raw` holding the values before).
    fn follow<'t>(&self, text: &'t str, raw: &mut RawJob<'t>) -> Result<usize, Left> {
        let bytes = text.as_bytes();
        // The end of the last value read (the start of the next piece).
        let mut at = 0;
        let mut from = 0;
        for (read, hole) in self.holes.iter().enumerate() {
            let left = || self.left(bytes, read, at);
            let piece = self.pieces.get(from..hole.piece_end).ok_or_else(left)?;
            let start = expect(bytes, at, piece).ok_or_else(left)?;
            from = hole.piece_end;
            let (value, end) = if hole.string {
                // Up to the first quote, backslash or control byte: the next piece starts with
                // the closing quote, so anything else there is a mismatch.
                let len = special(bytes.get(start..).ok_or_else(left)?).ok_or_else(left)?;
                let body = text.get(start..start + len).ok_or_else(left)?;
                (Scalar::Str(Cow::Borrowed(body)), start + len)
            } else {
                value(text, start).ok_or_else(left)?
            };
            if let Some(member) = hole.member {
                *raw.member(member) = Some(value);
            }
            at = end;
        }
        let piece = self
            .pieces
            .get(from..)
            .ok_or_else(|| self.left(bytes, self.holes.len(), at))?;
        expect(bytes, at, piece).ok_or_else(|| self.left(bytes, self.holes.len(), at))
    }

    /// Where a record (`bytes`) left this shape after `read` values, the last ending at
    /// `end`. If that was a string and what ended it is not a quote, the string has an escape
    /// or a control byte: that value was not read as [`scan_flat`] reads it, so all start
    /// over (`scan_flat` rejects such a record anyway).
    #[cold]
    fn left(&self, bytes: &[u8], read: usize, end: usize) -> Left {
        let string = read
            .checked_sub(1)
            .and_then(|last| self.holes.get(last))
            .is_some_and(|hole| hole.string);
        if string && bytes.get(end) != Some(&b'"') {
            return Left::default();
        }
        Left {
            values: read,
            end,
            after: end + usize::from(string),
        }
    }

    /// Learns the layout of `text[..end]`, a record [`scan_flat`] just accepted with `lines`:
    /// the same as this shape's up to where it `left` it, then the values at
    /// [`Shape::marks`].
    fn learn(&mut self, text: &[u8], left: Left, end: usize, lines: bool) {
        // The marks are in order and inside the record; if they were not, no shape.
        self.lines = self.cut(text, left, end).map(|()| lines);
    }

    /// [`Shape::learn`]'s pieces and holes.
    fn cut(&mut self, text: &[u8], left: Left, end: usize) -> Option<()> {
        let kept = match left.values.checked_sub(1) {
            Some(last) => self.holes.get(last)?.piece_end,
            None => 0,
        };
        self.pieces.truncate(kept);
        self.holes.truncate(left.values);
        let mut from = left.end;
        for mark in &self.marks {
            self.pieces.extend_from_slice(text.get(from..mark.start)?);
            self.holes.push(Hole {
                piece_end: self.pieces.len(),
                member: mark.member,
                string: mark.string,
            });
            from = mark.end;
        }
        self.pieces.extend_from_slice(text.get(from..end)?);
        Some(())
    }
}

/// The offset past `piece` if `bytes` has it at `at`. Slice equality (a `memcmp` call) was
/// measured against comparing eight bytes at a time and against one masked 32-byte block per
/// piece: both took more instructions and time on the bench's records.
fn expect(bytes: &[u8], at: usize, piece: &[u8]) -> Option<usize> {
    let end = at + piece.len();
    (bytes.get(at..end)? == piece).then_some(end)
}

/// Skips JSON whitespace from `at` (line feeds only with `lines`).
fn skip_space(bytes: &[u8], mut at: usize, lines: bool) -> usize {
    while let Some(&b) = bytes.get(at) {
        if !(matches!(b, b' ' | b'\t' | b'\r') || (lines && b == b'\n')) {
            break;
        }
        at += 1;
    }
    at
}

/// A string body from `start` (just after the opening quote) to the closing quote, with no
/// escape or control byte. Returns the offset past the closing quote.
fn plain_string(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = bytes.get(start..)?;
    let len = special(rest)?;
    (rest.get(len) == Some(&b'"')).then_some(start + len + 1)
}

/// The offset of the first `"`, `\` or control byte, eight bytes at a time.
fn special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    const SPACES: u64 = ONES * 0x20;
    // A high bit per byte that is zero; exact for the lowest such byte, which is all we use.
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let w = u64::from_le_bytes(eight);
        let hits = zero(w ^ QUOTES) | zero(w ^ BACKSLASHES) | (w.wrapping_sub(SPACES) & !w & HIGHS);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

/// One scalar value at `at`: a plain string, a number, `true`, `false` or `null`.
fn value(text: &str, at: usize) -> Option<(Scalar<'_>, usize)> {
    let bytes = text.as_bytes();
    match *bytes.get(at)? {
        b'"' => {
            let after = plain_string(bytes, at + 1)?;
            let body = text.get(at + 1..after - 1)?;
            Some((Scalar::Str(Cow::Borrowed(body)), after))
        }
        b't' => literal(bytes, at, b"true", Scalar::Bool(true)),
        b'f' => literal(bytes, at, b"false", Scalar::Bool(false)),
        b'n' => literal(bytes, at, b"null", Scalar::Null),
        b'-' | b'0'..=b'9' => number(text, at),
        _ => None,
    }
}

fn literal<'a>(
    bytes: &[u8],
    at: usize,
    word: &[u8],
    value: Scalar<'a>,
) -> Option<(Scalar<'a>, usize)> {
    let end = at + word.len();
    (bytes.get(at..end)? == word).then_some((value, end))
}

/// A JSON number without exponent: an integer (as serde reads it: `u64`, else `i64`) or a
/// decimal of at most 15 significant digits (kept as text, see [`MAX_DECIMAL_DIGITS`]).
fn number(text: &str, at: usize) -> Option<(Scalar<'_>, usize)> {
    let bytes = text.as_bytes();
    let negative = bytes.get(at) == Some(&b'-');
    let whole_start = at + usize::from(negative);
    let whole_len = digits(bytes, whole_start);
    if whole_len == 0 || (whole_len > 1 && bytes.get(whole_start) == Some(&b'0')) {
        return None;
    }
    let mut end = whole_start + whole_len;
    let mut frac_len = 0;
    if bytes.get(end) == Some(&b'.') {
        frac_len = digits(bytes, end + 1);
        if frac_len == 0 {
            return None;
        }
        end += 1 + frac_len;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        return None;
    }
    let number = text.get(at..end)?;
    if frac_len > 0 {
        let exact = whole_len + frac_len <= MAX_DECIMAL_DIGITS;
        return exact.then_some((Scalar::Decimal(number), end));
    }
    let scalar = if negative {
        Scalar::Signed(number.parse().ok()?)
    } else {
        Scalar::Unsigned(number.parse().ok()?)
    };
    Some((scalar, end))
}

/// Number of ASCII digits from `at`.
fn digits(bytes: &[u8], at: usize) -> usize {
    bytes.get(at..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_records_scan_and_unusual_ones_fall_back() -> Result<(), &'static str> {
        let line = r#" {"AccountId":"123456789012","N":-0,"X":1.5,"CreationDate":1794182340.973,"Q":true} "#;
        let mut raw = RawJob::default();
        let end = scan_flat(line, true, &mut raw, |_| {}).ok_or("fell back")?;
        assert_eq!(end, line.len() - 1);
        assert!(matches!(
            raw.creation_date,
            Some(Scalar::Decimal("1794182340.973"))
        ));
        let text = "{\"Region\":\"été in a café, long enough\"}";
        scan_flat(text, true, &mut raw, |_| {}).ok_or("fell back")?;
        assert!(raw.creation_date.is_none(), "reset before the next record");
        assert!(matches!(
            raw.region,
            Some(Scalar::Str(Cow::Borrowed("été in a café, long enough")))
        ));
        for unusual in [
            r#"{"A":"\u0041"}"#,
            r#"{"A":"a long string with a \" quote"}"#,
            r#"{"A":{"b":1}}"#,
            r#"{"A":[1]}"#,
            r#"{"AccountId":"1","AccountId":"2"}"#,
            r#"{"CreationDate":1e9}"#,
            r#"{"CreationDate":01}"#,
            r#"{"CreationDate":1794182340.9730000001}"#,
            r#"{"A":1,}"#,
            r#"{"A":tru}"#,
            "{\"A\":\"\x01\"}",
            "{\"A\":\"a long string with a \x1f control\"}",
            r#"{"ScanResult":{"ScanResultStatus":"THREATS_FOUND"}}"#,
            r#"{"AccountId":"123456789012","detail":1}"#,
            r#"{"detail":"x"}"#,
            "[1]",
        ] {
            assert!(
                scan_flat(unusual, true, &mut raw, |_| {}).is_none(),
                "{unusual}"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    /// A backup job as `list-backup-jobs --output json` prints it in JSON Lines: its last
    /// member is one the job does not read.
    const LINE: &str = r#"{"BackupJobId":"1b5d04ff-86dd-4a43-825d-c254fc639b8b","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#;
    /// [`LINE`]'s shape, other values (longer, shorter, empty, other numbers).
    const LINE_2: &str = r#"{"BackupJobId":"x","AccountId":"123456789012","Region":"eu-west-3","State":"FAILED","ResourceType":"Amazon EFS, a long name","MessageCategory":"","CreationDate":17,"CompletionDate":-1.5}"#;
    const LINE_3: &str = r#"{"BackupJobId":"é","AccountId":"000000000001","Region":"ap-southeast-2","State":"RUNNING","ResourceType":"EBS","MessageCategory":"ACCESS_DENIED","CreationDate":1794182340,"CompletionDate":0}"#;
    /// A pretty-printed element of a document, as the AWS CLI indents it.
    const ELEMENT: &str = "        {\n            \"BackupJobId\": \"1b5d04ff-86dd\",\n            \"AccountId\": \"014763518180\",\n            \"CreationDate\": 1794182340.973,\n            \"IsParent\": false,\n            \"Region\": \"us-east-1\"\n        }";
    const ELEMENT_2: &str = "        {\n            \"BackupJobId\": \"\",\n            \"AccountId\": \"014763518181\",\n            \"CreationDate\": 1,\n            \"IsParent\": true,\n            \"Region\": \"eu-central-1\"\n        }";

    /// Scans `text` with `scanner` (as the callers do: one per chunk) and with [`scan_flat`]
    /// (into a new record) and asserts they agree: the same offset and, for an accepted
    /// record, the same members (on `None` the record is partly filled, by either, and
    /// unread). Returns the offset.
    fn agree<'t>(text: &'t str, lines: bool, scanner: &mut Scanner<'t>) -> Option<usize> {
        let mut flat = RawJob::default();
        let want = scan_flat(text, lines, &mut flat, |_| {});
        let got = scanner.scan(text, lines);
        assert_eq!(got, want, "offset of {text:?} (lines: {lines})");
        if got.is_some() {
            assert_eq!(
                scanner.raw.dump(),
                flat.dump(),
                "members of {text:?} (lines: {lines})"
            );
        }
        got
    }

    /// Whether the scanner's shape reads `text` itself, without [`scan_flat`].
    fn follows(scanner: &Scanner<'_>, text: &str) -> bool {
        scanner.shape.follow(text, &mut RawJob::default()).is_ok()
    }

    #[test]
    fn records_of_one_shape_follow_it() {
        for (lines, records) in [
            (false, [LINE, LINE_2, LINE_3]),
            (true, [LINE, LINE_2, LINE_3]),
            (true, [ELEMENT, ELEMENT_2, ELEMENT]),
        ] {
            let mut scanner = Scanner::default();
            assert!(agree(records[0], lines, &mut scanner).is_some());
            for _ in 0..3 {
                for record in records {
                    assert!(follows(&scanner, record), "{record}");
                    assert!(agree(record, lines, &mut scanner).is_some());
                }
            }
        }
        let mut scanner = Scanner::default();
        for empty in ["{}", " \t{ }", "{}", "\r{\n}\n", "{\n}"] {
            agree(empty, true, &mut scanner);
        }
        assert!(follows(&scanner, "{\n}"));
    }

    /// Records that differ from [`LINE`] in one place, each kind of place.
    const CHANGED: &[&str] = &[
        // Another key: unknown, known, or a known one again.
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Regiom":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CreationDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"Status":1794182592.095}"#,
        // A value of another kind.
        r#"{"BackupJobId":"1b5d04ff","AccountId":14763518180,"Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":null,"State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":true,"ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":"2026-11-26T10:00:00Z","CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":-17,"CompletionDate":false}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":18446744073709551615,"CompletionDate":"x"}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":18446744073709551616,"CompletionDate":1}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.9730000001,"CompletionDate":1}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1e9,"CompletionDate":1}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":{}}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":[1]}"#,
        // A string that needs an escape, or has a control byte.
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMP\"LETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"\u0043OMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        "{\"BackupJobId\":\"1b5d04ff\",\"AccountId\":\"014763518180\",\"Region\":\"us-east-1\",\"State\":\"COMPLETED\",\"ResourceType\":\"F\x01x\",\"MessageCategory\":\"SUCCESS\",\"CreationDate\":1794182340.973,\"CompletionDate\":1794182592.095}",
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"Completion\u0044ate":1794182592.095}"#,
        // Whitespace more, or a line feed.
        r#" {"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{ "BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId" :"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId": "1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff" ,"AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff", "AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate": 1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973 ,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095 }"#,
        "{\"BackupJobId\":\"1b5d04ff\",\n\"AccountId\":\"014763518180\",\"Region\":\"us-east-1\",\"State\":\"COMPLETED\",\"ResourceType\":\"FSx\",\"MessageCategory\":\"SUCCESS\",\"CreationDate\":1794182340.973,\"CompletionDate\":1794182592.095}",
        "{\"BackupJobId\":\"1b5d04ff\",\"AccountId\":\"014763518180\",\"Region\":\"us-east-1\",\"State\":\"COMPLETED\",\"ResourceType\":\"FSx\",\"MessageCategory\":\"SUCCESS\",\"CreationDate\":1794182340.973,\"CompletionDate\":1794182592.095\r\n}",
        // A member missing, or one more.
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973}"#,
        r#"{"AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095,"Extra":1}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","Extra":"1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","BackupVaultArn":"arn:aws:backup:us-east-1:014763518180:backup-vault:Default","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}"#,
        // A known member twice, `detail` or `ScanResult`: never in a shape.
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095,"AccountId":"014763518180"}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095,"detail":{}}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095,"detail":"x"}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"ScanResult":null}"#,
        // More text after the record, or broken ends.
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095} trailing"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095}}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095,}"#,
        r#"{"BackupJobId":"1b5d04ff","AccountId":"014763518180","Region":"us-east-1","State":"COMPLETED","ResourceType":"FSx","MessageCategory":"SUCCESS","CreationDate":1794182340.973,"CompletionDate":1794182592.095]"#,
        r#"["BackupJobId","1b5d04ff","AccountId","014763518180"]"#,
    ];

    /// After [`LINE`], a changed record is read as [`scan_flat`] reads it (and, if accepted,
    /// its shape learned); the record after it, of [`LINE`]'s shape again, too, and the shape
    /// is [`LINE`]'s again.
    fn changed_then_back(changed: &str, lines: bool) {
        let mut scanner = Scanner::default();
        assert!(agree(LINE, lines, &mut scanner).is_some());
        if agree(changed, lines, &mut scanner).is_some() {
            assert!(follows(&scanner, changed), "the shape {changed} taught");
        }
        agree(LINE_2, lines, &mut scanner);
        assert!(follows(&scanner, LINE_3), "after {changed}");
        agree(LINE_3, lines, &mut scanner);
    }

    #[test]
    fn records_that_differ_are_read_as_scan_flat_reads_them() {
        for lines in [false, true] {
            for changed in CHANGED {
                changed_then_back(changed, lines);
            }
            // The same text again, and LINE followed by more records.
            changed_then_back(LINE, lines);
            changed_then_back(&format!("{LINE}\n{LINE_2}"), lines);
            changed_then_back(&format!("{LINE}{LINE}"), lines);
            // Cut anywhere.
            for end in 0..LINE.len() {
                changed_then_back(LINE.get(..end).unwrap_or_default(), lines);
            }
        }
    }

    #[test]
    fn each_byte_changed_inserted_or_removed() {
        const BYTES: [u8; 13] = [
            b'"', b'\\', b' ', b'\n', b'\t', b',', b':', b'{', b'}', b'a', b'1', b'.', 0x01,
        ];
        for (record, next, lines) in [
            (LINE, LINE_2, false),
            (LINE, LINE_2, true),
            (ELEMENT, ELEMENT_2, true),
            (ELEMENT, ELEMENT_2, false),
        ] {
            let bytes = record.as_bytes();
            let mut changed = Vec::new();
            for at in 0..bytes.len() {
                let mut removed = bytes.to_vec();
                removed.remove(at);
                changed.push(removed);
                for byte in BYTES {
                    let mut replaced = bytes.to_vec();
                    replaced[at] = byte;
                    changed.push(replaced);
                    let mut inserted = bytes.to_vec();
                    inserted.insert(at, byte);
                    changed.push(inserted);
                }
            }
            for changed in &changed {
                let changed = String::from_utf8_lossy(changed);
                let mut scanner = Scanner::default();
                agree(record, lines, &mut scanner);
                agree(&changed, lines, &mut scanner);
                agree(next, lines, &mut scanner);
                agree(record, lines, &mut scanner);
            }
        }
    }

    #[test]
    fn a_shape_is_for_one_lines_flag() {
        let mut scanner = Scanner::default();
        assert!(agree(ELEMENT, true, &mut scanner).is_some());
        assert!(agree(ELEMENT_2, false, &mut scanner).is_none());
        assert!(agree(ELEMENT_2, true, &mut scanner).is_some());
        assert!(agree(LINE, true, &mut scanner).is_some());
        assert!(agree(LINE_2, false, &mut scanner).is_some());
        assert!(follows(&scanner, LINE_3));
    }
}

/// [`scan_shaped`] against [`scan_flat`] on generated sequences of records.
#[cfg(test)]
mod shape_props {
    use proptest::prelude::*;
    use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

    use super::*;

    /// Keys: members the job reads, members it does not; the last [`BAD`] of them are
    /// `detail`, `ScanResult` and an escaped one, which the flat scanner rejects.
    const KEYS: [&str; 18] = [
        "AccountId",
        "State",
        "ResourceType",
        "CreationDate",
        "Region",
        "BackupJobId",
        "detail-type",
        "time",
        "CompletionDate",
        "IsParent",
        "X",
        "",
        "é",
        "Status",
        "account",
        "detail",
        "ScanResult",
        "Acc\\u006funtId",
    ];
    /// Values by kind: strings, numbers, other scalars; the last [`BAD`] of each the flat
    /// scanner rejects.
    const VALUES: [&[&str]; 3] = [
        &[
            r#""""#,
            r#""a""#,
            r#""us-east-1""#,
            r#""1b5d04ff-86dd-4a43-825d-c254fc639b8b""#,
            r#""arn:aws:backup:us-east-1:014763518180:backup-vault:Default""#,
            r#""café, été ☃""#,
            r#""2026-11-26T10:00:00Z""#,
            r#""a\"b""#,
            r#""\u0041""#,
            "\"a\x01b\"",
        ],
        &[
            "0",
            "-0",
            "7",
            "-12",
            "1794182340",
            "1794182340.973",
            "-1.5",
            "18446744073709551615",
            "-9223372036854775808",
            "1.",
            "1e9",
            "01",
        ],
        &["true", "false", "null", "tru", "[1]", r#"{"a":1}"#],
    ];
    /// How many keys, and values of each kind, at the end of their lists, make a record one
    /// the flat scanner rejects.
    const BAD: usize = 3;
    /// An index into a list of `len` whose last [`BAD`] are bad: one of those if `bad`.
    fn pick(len: usize, (bad, i): (bool, usize)) -> usize {
        let good = len.saturating_sub(BAD).max(1);
        if bad {
            i % len.max(1)
        } else {
            i % good
        }
    }
    /// A pick, bad one time in thirty.
    fn choice() -> impl Strategy<Value = (bool, usize)> {
        (prop::bool::weighted(0.03), 0..64usize)
    }
    /// Whitespace between tokens, mostly none; the last two (with a line feed) are rare.
    const SPACES: [&str; 18] = [
        "", "", "", "", "", "", "", "", "", " ", " ", " ", "\t", "  ", "\r", " \t", "\n", "\r\n",
    ];
    /// What may follow a record.
    const AFTER: [&str; 5] = ["", " ", " x", "}", "\n{\"A\":1}"];

    /// A layout: members (key, kind of value), the whitespace in each gap and whether
    /// members are on lines of their own, indented (as the AWS CLI prints documents).
    #[derive(Clone, Debug)]
    struct Layout {
        members: Vec<(usize, usize)>,
        spaces: Vec<usize>,
        pretty: bool,
    }

    /// A record of a layout: a value per member (an index into its kind's values), maybe a
    /// member of another kind, byte changes, what follows it, whether it is scanned alone
    /// or with the rest of the text after it, and (rarely) with the other `lines` flag.
    #[derive(Clone, Debug)]
    struct Record {
        layout: usize,
        values: Vec<(bool, usize)>,
        other_kind: Option<(usize, usize)>,
        changes: Vec<(usize, u8, u8)>,
        after: usize,
        alone: bool,
        other_lines: bool,
    }

    /// Distinct good keys in any order, sometimes one replaced by any key (a bad one, or
    /// one given twice).
    fn layout() -> impl Strategy<Value = Layout> {
        let good: Vec<usize> = (0..KEYS.len() - BAD).collect();
        (
            prop::sample::subsequence(good, 0..8).prop_shuffle(),
            prop::collection::vec(0..3usize, 8),
            prop::option::weighted(0.15, (0..8usize, 0..KEYS.len())),
            prop::collection::vec(prop_oneof![40 => 0..16usize, 1 => 16..18usize], 40),
            prop::bool::weighted(0.3),
        )
            .prop_map(|(keys, kinds, odd, spaces, pretty)| {
                let mut members: Vec<_> = keys.into_iter().zip(kinds).collect();
                if let Some((at, key)) = odd {
                    if let Some(member) = members.get_mut(at) {
                        member.0 = key;
                    }
                }
                Layout {
                    members,
                    spaces,
                    pretty,
                }
            })
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            prop::sample::select(vec![0, 0, 0, 0, 0, 0, 1, 2, 3]),
            prop::collection::vec(choice(), 8),
            prop::option::weighted(0.1, (0..8usize, 0..3usize)),
            prop::option::weighted(
                0.2,
                prop::collection::vec((0..1000usize, 0..3u8, any::<u8>()), 1..3),
            ),
            prop::sample::select(vec![0, 0, 0, 1, 2, 3, 4]),
            any::<bool>(),
            prop::bool::weighted(0.1),
        )
            .prop_map(
                |(layout, values, other_kind, changes, after, alone, other_lines)| Record {
                    layout,
                    values,
                    other_kind,
                    changes: changes.unwrap_or_default(),
                    after,
                    alone,
                    other_lines,
                },
            )
    }

    /// `record`'s text (mostly valid UTF-8; made so if a change broke it).
    fn render(layouts: &[Layout], record: &Record) -> String {
        let Some(layout) = layouts.get(record.layout % layouts.len().max(1)) else {
            return "{}".to_owned();
        };
        let mut gap = 0;
        let mut space = |out: &mut String| {
            let at = layout.spaces.get(gap % layout.spaces.len().max(1)).copied();
            out.push_str(SPACES.get(at.unwrap_or(0)).copied().unwrap_or(""));
            gap += 1;
        };
        let indent = |out: &mut String, depth: usize| {
            if layout.pretty {
                out.push('\n');
                out.push_str(&"    ".repeat(depth));
            }
        };
        let mut out = String::new();
        indent(&mut out, 1);
        space(&mut out);
        out.push('{');
        space(&mut out);
        for (i, &(key, kind)) in layout.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
                space(&mut out);
            }
            indent(&mut out, 2);
            let kind = match record.other_kind {
                Some((member, other)) if member == i => other,
                _ => kind,
            };
            let values = VALUES.get(kind).copied().unwrap_or_default();
            let value = pick(
                values.len(),
                record.values.get(i).copied().unwrap_or_default(),
            );
            out.push('"');
            out.push_str(KEYS.get(key).copied().unwrap_or(""));
            out.push('"');
            space(&mut out);
            out.push(':');
            space(&mut out);
            out.push_str(values.get(value).copied().unwrap_or("0"));
            space(&mut out);
        }
        indent(&mut out, 1);
        out.push('}');
        let mut bytes = out.into_bytes();
        for &(at, change, byte) in &record.changes {
            let at = at % (bytes.len() + 1);
            match change {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, byte),
                _ => {
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= 1 << (byte % 8);
                    }
                }
            }
        }
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        text.push_str(AFTER.get(record.after).copied().unwrap_or(""));
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
            ..ProptestConfig::default()
        })]

        /// Record by record, with one scanner carried along (as a chunk parse carries it; a
        /// chunk has one `lines` flag, the records here some the other), the scanner
        /// (`scan_shaped`) gives what `scan_flat` gives: the offset and, for an accepted
        /// record, every member; and its shape then reads that record itself.
        #[test]
        fn shaped_scans_agree_with_flat_scans(
            layouts in prop::collection::vec(layout(), 1..4),
            records in prop::collection::vec(record(), 1..24),
            lines in any::<bool>(),
        ) {
            let mut all = String::new();
            let mut spans = Vec::new();
            for record in &records {
                let start = all.len();
                all.push_str(&render(&layouts, record));
                spans.push((start, all.len(), record.alone, lines != record.other_lines));
                all.push('\n');
            }
            let mut scanner = Scanner::default();
            for &(start, end, alone, lines) in &spans {
                let text = if alone { all.get(start..end) } else { all.get(start..) };
                let text = text.unwrap_or_default();
                let mut flat = RawJob::default();
                let want = scan_flat(text, lines, &mut flat, |_| {});
                let got = scanner.scan(text, lines);
                prop_assert_eq!(got, want, "offset of {:?}", text);
                if got.is_some() {
                    prop_assert_eq!(scanner.raw.dump(), flat.dump(), "members of {:?}", text);
                    // The shape is the record's now.
                    let again = scanner.shape.follow(text, &mut RawJob::default()).ok();
                    prop_assert_eq!(again, got, "the shape {:?} taught", text);
                }
            }
        }
    }
}
