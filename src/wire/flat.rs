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

use std::borrow::Cow;

use crate::wire::records::{RawJob, Scalar};

/// Most significant digits of a decimal CreationDate read directly: up to 15, an `f64` holds
/// the digits exactly, so truncating the text equals truncating serde's shortest `f64` form.
const MAX_DECIMAL_DIGITS: usize = 15;

/// Scans one flat object at the start of `text` (after optional JSON whitespace) into `raw`,
/// which it resets first (the caller reuses one `RawJob` for many records: a `RawJob` is
/// large, and returning it by value cost a copy or more per record). Returns the offset just
/// past the object's closing `}`, or `None` to fall back to serde (`raw` is then partly
/// filled). With `lines` false, a line feed is not whitespace (a JSON Lines record ends at
/// one).
pub(super) fn scan_flat<'t>(text: &'t str, lines: bool, raw: &mut RawJob<'t>) -> Option<usize> {
    let bytes = text.as_bytes();
    let skip_space = |at: usize| skip_space(bytes, at, lines);
    raw.clear();
    let mut at = skip_space(0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(at + 1);
    }
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
        at = skip_space(after);
        if let Some(slot) = raw.slot(key) {
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
        let end = scan_flat(line, true, &mut raw).ok_or("fell back")?;
        assert_eq!(end, line.len() - 1);
        assert!(matches!(
            raw.creation_date,
            Some(Scalar::Decimal("1794182340.973"))
        ));
        let text = "{\"Region\":\"été in a café, long enough\"}";
        scan_flat(text, true, &mut raw).ok_or("fell back")?;
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
            assert!(scan_flat(unusual, true, &mut raw).is_none(), "{unusual}");
        }
        Ok(())
    }
}
