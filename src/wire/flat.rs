//! The fast path of record parsing: a hand-written scanner for the flat record shape the list
//! APIs print (`{"Key": "string" | number | true | false | null, ...}`), filling the same
//! [`RawJob`] the serde path fills.
//!
//! It gives up (returns `None`) on anything unusual: escapes, nested values, non-ASCII or
//! control bytes in a key, numbers it cannot convert exactly as serde would (exponents, more
//! than 15 significant digits), a known member given twice, malformed JSON. The caller then
//! parses the record with serde_json, which accepts or rejects it with its own message; so the
//! fast path never decides an error, and accepts only what serde accepts, with the same values.

use std::borrow::Cow;

use crate::wire::records::{RawJob, Scalar};

/// Most significant digits of a decimal CreationDate read directly: up to 15, an `f64` holds
/// the digits exactly, so truncating the text equals truncating serde's shortest `f64` form.
const MAX_DECIMAL_DIGITS: usize = 15;

/// Scans one flat object at the start of `bytes` (after optional JSON whitespace). Returns the
/// record and the offset just past its closing `}`, or `None` to fall back to serde. With
/// `lines` false, a line feed is not whitespace (a JSON Lines record ends at one).
pub(super) fn scan_flat(bytes: &[u8], lines: bool) -> Option<(RawJob<'_>, usize)> {
    let skip_space = |bytes: &[u8], at: usize| skip_space(bytes, at, lines);
    let mut raw = RawJob::default();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some((raw, at + 1));
    }
    loop {
        // key
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let (key, after) = plain_string(bytes, at + 1)?;
        if !key.is_ascii() {
            return None;
        }
        at = skip_space(bytes, after);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(bytes, at + 1);
        let (value, after) = value(bytes, at)?;
        at = skip_space(bytes, after);
        if let Some(slot) = raw.slot(key) {
            if slot.is_some() {
                return None;
            }
            *slot = Some(value);
        } else if key == b"ScanResult" {
            // An object normally; serde reads it.
            return None;
        }
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(b'}') => return Some((raw, at + 1)),
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
/// escape or control byte. Returns the raw bytes and the offset past the closing quote.
fn plain_string(bytes: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let rest = bytes.get(start..)?;
    let len = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if rest.get(len) != Some(&b'"') {
        return None;
    }
    Some((rest.get(..len)?, start + len + 1))
}

/// One scalar value at `at`: a plain string, a number, `true`, `false` or `null`.
fn value(bytes: &[u8], at: usize) -> Option<(Scalar<'_>, usize)> {
    match *bytes.get(at)? {
        b'"' => {
            let (body, after) = plain_string(bytes, at + 1)?;
            let text = std::str::from_utf8(body).ok()?;
            Some((Scalar::Str(Cow::Borrowed(text)), after))
        }
        b't' => literal(bytes, at, b"true", Scalar::Bool(true)),
        b'f' => literal(bytes, at, b"false", Scalar::Bool(false)),
        b'n' => literal(bytes, at, b"null", Scalar::Null),
        b'-' | b'0'..=b'9' => number(bytes, at),
        _ => None,
    }
}

fn literal<'a>(
    bytes: &'a [u8],
    at: usize,
    word: &[u8],
    value: Scalar<'a>,
) -> Option<(Scalar<'a>, usize)> {
    let end = at + word.len();
    (bytes.get(at..end)? == word).then_some((value, end))
}

/// A JSON number without exponent: an integer (as serde reads it: `u64`, else `i64`) or a
/// decimal of at most 15 significant digits (kept as text, see [`MAX_DECIMAL_DIGITS`]).
fn number(bytes: &[u8], at: usize) -> Option<(Scalar<'_>, usize)> {
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
    let text = std::str::from_utf8(bytes.get(at..end)?).ok()?;
    if frac_len > 0 {
        return (whole_len + frac_len <= MAX_DECIMAL_DIGITS)
            .then_some((Scalar::Decimal(text), end));
    }
    let scalar = if negative {
        Scalar::Signed(text.parse().ok()?)
    } else {
        Scalar::Unsigned(text.parse().ok()?)
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
        let line = br#" {"AccountId":"123456789012","N":-0,"X":1.5,"CreationDate":1794182340.973,"Q":true} "#;
        let (raw, end) = scan_flat(line, true).ok_or("fell back")?;
        assert_eq!(end, line.len() - 1);
        assert!(matches!(
            raw.creation_date,
            Some(Scalar::Decimal("1794182340.973"))
        ));
        for unusual in [
            &br#"{"A":"\u0041"}"#[..],
            br#"{"A":{"b":1}}"#,
            br#"{"A":[1]}"#,
            br#"{"AccountId":"1","AccountId":"2"}"#,
            br#"{"CreationDate":1e9}"#,
            br#"{"CreationDate":01}"#,
            br#"{"CreationDate":1794182340.9730000001}"#,
            br#"{"A":1,}"#,
            br#"{"A":tru}"#,
            b"{\"A\":\"\x01\"}",
            b"{\"\xC3\xA9\":1}",
            b"{\"A\":\"\xFF\"}",
            br#"{"ScanResult":{"ScanResultStatus":"THREATS_FOUND"}}"#,
            br#"[1]"#,
        ] {
            assert!(
                scan_flat(unusual, true).is_none(),
                "{}",
                String::from_utf8_lossy(unusual)
            );
        }
        Ok(())
    }
}
