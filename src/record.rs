//! Job records: typed, validated values of SPEC §2.
//!
//! A [`JobRecord`] is checked once, when it is built; after that every field is known good.
//! Records are plain owned values. Interning into small ids happens when they enter a
//! [`JobTable`](crate::JobTable), never in the grouping loop.

use std::fmt;
use std::str::FromStr;

use crate::error::RecordError;
use crate::identity::JobId;
use crate::schema::{MalwareScanner, RecordField, ScanResultStatus, State};
use crate::time::UnixMillis;

/// Longest ResourceType or MessageCategory accepted, in characters (SPEC §3).
pub(crate) const MAX_NAME_CHARS: usize = 50;

/// A 12-digit AWS account id, e.g. `123456789012` (leading zeros are significant).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct AccountId(u64);

/// An AWS region name, e.g. `us-east-1` (any non-empty string).
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Region(Box<str>);

/// A resource type, e.g. `EBS`: 1..=50 characters, matched exactly (SPEC §3).
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ResourceType(Box<str>);

/// A message category, e.g. `SUCCESS`: 1..=50 characters, kept in ASCII upper case, so two
/// spellings that differ only in ASCII case are the same category (SPEC §3).
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct MessageCategory(Box<str>);

/// One job, validated (SPEC §2). Build it with [`JobRecord::new`] and the `with_*` methods.
///
/// Whether the state belongs to the job's kind is checked when the record enters a
/// [`JobTable`](crate::JobTable) of that operation.
///
/// ```
/// use backup_summaries::{AccountId, JobRecord, MessageCategory, Region, ResourceType, State, UnixMillis};
/// let job = JobRecord::new(
///     "123456789012".parse::<AccountId>()?,
///     "us-east-1".parse::<Region>()?,
///     State::Completed,
///     "EBS".parse::<ResourceType>()?,
///     UnixMillis::new(1_795_737_600_000),
/// )
/// .with_message_category(Some("success".parse::<MessageCategory>()?));
/// assert_eq!(job.message_category().map(MessageCategory::as_str), Some("SUCCESS"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct JobRecord {
    account_id: AccountId,
    region: Region,
    state: State,
    resource_type: ResourceType,
    creation_date: UnixMillis,
    message_category: Option<MessageCategory>,
    malware_scanner: Option<MalwareScanner>,
    scan_result_status: Option<ScanResultStatus>,
    job_id: Option<JobId>,
}

impl AccountId {
    /// The account with this number, or `None` above 999999999999.
    #[must_use]
    pub const fn new(number: u64) -> Option<Self> {
        if number <= 999_999_999_999 {
            Some(Self(number))
        } else {
            None
        }
    }

    /// Parses exactly 12 ASCII digits.
    ///
    /// # Errors
    /// [`RecordError::Invalid`] naming field `AccountId` for anything else.
    pub fn parse(s: &str) -> Result<Self, RecordError> {
        twelve_digits(s.as_bytes())
            .map(Self)
            .ok_or_else(|| RecordError::invalid(RecordField::AccountId, s, "exactly 12 digits"))
    }

    /// The account number.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

/// The number in `bytes` if they are exactly 12 ASCII digits: eight digits and four read as
/// one word each (every list-API record has an account id; a byte loop was 4 % of loading).
fn twelve_digits(bytes: &[u8]) -> Option<u64> {
    let (high, low) = bytes.split_first_chunk::<8>()?;
    let low: &[u8; 4] = low.try_into().ok()?;
    let high = u64::from_le_bytes(*high);
    let low = u64::from(u32::from_le_bytes(*low));
    let (high, low) = (digits(high, 8)?, digits(low, 4)?);
    Some(high * 10_000 + low)
}

/// The value of `n` ASCII digits (1 to 8) packed little-endian in `word` (first digit in the
/// lowest byte, the bytes above `n` zero), or `None` if any of the `n` bytes is not a digit.
pub(crate) fn digits(word: u64, n: u32) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    debug_assert!((1..=8).contains(&n));
    let mask = u64::MAX >> (64 - 8 * n);
    // '0'..='9' is 0x30..=0x39: the high nibble 3, and adding 6 leaves it there.
    let zeros = (ONES * u64::from(b'0')) & mask;
    let high_nibbles = (ONES * 0xF0) & mask;
    if word & high_nibbles != zeros || word.wrapping_add((ONES * 6) & mask) & high_nibbles != zeros
    {
        return None;
    }
    // Shift the digits to the top of the word, so the most significant one is the lowest
    // byte still, and fold pairs, quads and octets.
    let mut x = (word - zeros) << (64 - 8 * n);
    x = (x.wrapping_mul(10) + (x >> 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x.wrapping_mul(10_000) + (x >> 32)) & 0x0000_0000_FFFF_FFFF;
    Some(x)
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

impl FromStr for AccountId {
    type Err = RecordError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

macro_rules! name_type {
    ($ty:ident, $field:ident, $check:expr, $expected:literal) => {
        impl $ty {
            /// Checks and wraps `s`.
            ///
            /// # Errors
            #[doc = concat!("[`RecordError::Invalid`] naming field `", stringify!($field), "` when `s` is not ", $expected, ".")]
            pub fn parse(s: &str) -> Result<Self, RecordError> {
                let check: fn(&str) -> Option<Box<str>> = $check;
                check(s)
                    .map(Self)
                    .ok_or_else(|| RecordError::invalid(RecordField::$field, s, $expected))
            }

            /// The value as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = RecordError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

name_type!(
    Region,
    Region,
    |s| (!s.is_empty()).then(|| s.into()),
    "a non-empty string"
);
name_type!(
    ResourceType,
    ResourceType,
    |s| is_name(s).then(|| s.into()),
    "1 to 50 characters"
);
name_type!(
    MessageCategory,
    MessageCategory,
    |s| is_name(s).then(|| s.to_ascii_uppercase().into()),
    "1 to 50 characters"
);

impl MessageCategory {
    /// Whether this is `SUCCESS`, the category of jobs without issues.
    #[must_use]
    pub fn is_success(&self) -> bool {
        &*self.0 == "SUCCESS"
    }
}

impl JobRecord {
    /// A record with the fields every job has; kind-specific fields start absent.
    #[must_use]
    pub fn new(
        account_id: AccountId,
        region: Region,
        state: State,
        resource_type: ResourceType,
        creation_date: UnixMillis,
    ) -> Self {
        Self {
            account_id,
            region,
            state,
            resource_type,
            creation_date,
            message_category: None,
            malware_scanner: None,
            scan_result_status: None,
            job_id: None,
        }
    }

    /// Sets the job id (SPEC §10): a job with an id can be replaced and removed by it; one
    /// without is anonymous.
    #[must_use]
    pub fn with_job_id(mut self, id: Option<JobId>) -> Self {
        self.job_id = id;
        self
    }

    /// Sets the state (e.g. to move a job on: `job.clone().with_state(State::Completed)`).
    #[must_use]
    pub fn with_state(mut self, state: State) -> Self {
        self.state = state;
        self
    }

    /// Sets the message category (backup and copy jobs).
    #[must_use]
    pub fn with_message_category(mut self, category: Option<MessageCategory>) -> Self {
        self.message_category = category;
        self
    }

    /// Sets the malware scanner (scan jobs).
    #[must_use]
    pub fn with_malware_scanner(mut self, scanner: Option<MalwareScanner>) -> Self {
        self.malware_scanner = scanner;
        self
    }

    /// Sets the scan result (scan jobs).
    #[must_use]
    pub fn with_scan_result_status(mut self, status: Option<ScanResultStatus>) -> Self {
        self.scan_result_status = status;
        self
    }

    /// The job's account.
    #[must_use]
    pub fn account_id(&self) -> AccountId {
        self.account_id
    }

    /// The job's region.
    #[must_use]
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The job's current state.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// The protected resource's type.
    #[must_use]
    pub fn resource_type(&self) -> &ResourceType {
        &self.resource_type
    }

    /// When the job was created.
    #[must_use]
    pub fn creation_date(&self) -> UnixMillis {
        self.creation_date
    }

    /// The message category, if the job has one.
    #[must_use]
    pub fn message_category(&self) -> Option<&MessageCategory> {
        self.message_category.as_ref()
    }

    /// The malware scanner, if the job has one.
    #[must_use]
    pub fn malware_scanner(&self) -> Option<MalwareScanner> {
        self.malware_scanner
    }

    /// The scan result, if the job has one.
    #[must_use]
    pub fn scan_result_status(&self) -> Option<ScanResultStatus> {
        self.scan_result_status
    }

    /// The job id, if the job has one.
    #[must_use]
    pub fn job_id(&self) -> Option<&JobId> {
        self.job_id.as_ref()
    }

    /// The fields a table interns, borrowed.
    pub(crate) fn fields(&self) -> Fields<'_> {
        Fields {
            account: self.account_id,
            region: self.region.as_str(),
            state: self.state,
            resource_type: self.resource_type.as_str(),
            creation: self.creation_date,
            category: self.message_category.as_ref().map(MessageCategory::as_str),
            scanner: self.malware_scanner,
            result: self.scan_result_status,
        }
    }
}

/// One job's fields, checked (names are valid), borrowed: what a table or a batch interns,
/// once its category is upper case. The parser's `wire::records::JobFields` holds one with the
/// category as written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields<'a> {
    pub(crate) account: AccountId,
    pub(crate) region: &'a str,
    pub(crate) state: State,
    pub(crate) resource_type: &'a str,
    pub(crate) creation: UnixMillis,
    pub(crate) category: Option<&'a str>,
    pub(crate) scanner: Option<MalwareScanner>,
    pub(crate) result: Option<ScanResultStatus>,
}

/// 1..=50 characters (SPEC §3).
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().nth(MAX_NAME_CHARS).is_none()
}

#[cfg(test)]
mod tests {
    #[test]
    fn twelve_digits_read_as_words_equal_a_byte_loop() {
        let naive = |b: &[u8]| {
            (b.len() == 12 && b.iter().all(u8::is_ascii_digit))
                .then(|| b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
        };
        let mut cases: Vec<Vec<u8>> = vec![
            b"000000000000".to_vec(),
            b"999999999999".to_vec(),
            b"123456789012".to_vec(),
            b"012345678901".to_vec(),
            b"12345678901".to_vec(),
            b"1234567890123".to_vec(),
            Vec::new(),
        ];
        // Every byte value at every position of a valid id.
        for at in 0..12 {
            for b in 0..=255u8 {
                let mut id = b"314159265358".to_vec();
                id[at] = b;
                cases.push(id);
            }
        }
        // Pseudo-random digit strings.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(format!("{:012}", x % 1_000_000_000_000).into_bytes());
        }
        for case in cases {
            assert_eq!(twelve_digits(&case), naive(&case), "{case:?}");
        }
    }

    use super::*;

    #[test]
    fn account_id_is_exactly_twelve_digits() -> Result<(), RecordError> {
        assert_eq!(
            AccountId::parse("000000000042")?.to_string(),
            "000000000042"
        );
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "+12345678901",
            "１２３４５６７８９０１２",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(AccountId::new(1_000_000_000_000), None);
        Ok(())
    }

    #[test]
    fn names_are_one_to_fifty_chars() {
        assert!(ResourceType::parse("").is_err());
        assert!(ResourceType::parse(&"é".repeat(50)).is_ok());
        assert!(ResourceType::parse(&"x".repeat(51)).is_err());
    }

    #[test]
    fn category_is_upper_cased() -> Result<(), RecordError> {
        assert_eq!(MessageCategory::parse("Success")?.as_str(), "SUCCESS");
        assert!(MessageCategory::parse("success")?.is_success());
        Ok(())
    }
}
