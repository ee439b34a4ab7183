//! Job records in the wire shapes of the list APIs (SPEC §2): `aws backup list-backup-jobs`,
//! `list-copy-jobs`, `list-restore-jobs` and `list-scan-jobs` output, as one whole document
//! or as JSON Lines.
//!
//! The input is a whole document when its first non-whitespace byte is `[` (a bare list of
//! records) or `{` and its first JSON value is an object with the operation's list member
//! (`BackupJobs`, `CopyJobs`, `RestoreJobs`, `ScanJobs`); otherwise it is JSON Lines, one
//! record per non-blank line. Records are parsed with borrowed strings and checked once into
//! [`JobRecord`]s; unknown members are ignored, and the first bad record stops the parse with
//! an [`IngestError`] naming its position and field. Nothing is dropped silently, and no input
//! makes the parser panic.
//!
//! Members read, per record (`null` is the same as absent):
//!
//! | member | operations | rule |
//! |---|---|---|
//! | `AccountId` | all | required, a string of 12 digits |
//! | `State` (`Status` for restore) | all | required, one of the operation's states |
//! | `ResourceType` | all | required, 1..=50 characters |
//! | `CreationDate` | all | required, epoch seconds (a number) or an RFC 3339 string; digits below the millisecond are truncated |
//! | `MessageCategory` | backup, copy | optional, 1..=50 characters; empty is absent (D) |
//! | `MalwareScanner` | scan | optional, `GUARDDUTY` |
//! | `ScanResult.ScanResultStatus` | scan | optional, `NO_THREATS_FOUND`, `THREATS_FOUND` or `UNKNOWN` |
//! | `BackupJobId`, `CopyJobId`, `RestoreJobId`, `ScanJobId` | the operation's own | optional, 1..=256 bytes: the job's identity (SPEC §10); a later record with the same id replaces an earlier one |
//! | `Region` | all | optional, else the region of the first of `BackupVaultArn`, `SourceBackupVaultArn`, `RecoveryPointArn`, `ResourceArn` that has one, else the caller's default |

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::DateTime;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::RecordError;
use crate::identity::JobId;
use crate::jobs::JobTable;
use crate::record::{AccountId, JobRecord, MessageCategory, Region, ResourceType};
use crate::schema::{MalwareScanner, Operation, ScanResultStatus, State};
use crate::time::UnixMillis;
use crate::wire::error::{IngestError, Position};

/// Longest parser message an error keeps, in characters.
const MAX_DETAIL_CHARS: usize = 200;
/// What a CreationDate may be.
const EXPECT_DATE: &str = "epoch seconds or an RFC 3339 date-time";
/// The UTF-8 byte order mark some tools write first.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses `input` into `op`'s job records (SPEC §2), all or nothing.
///
/// `default_region` is used for a record with no `Region` member and no ARN with a region.
///
/// # Errors
/// An [`IngestError`] for the first bad record: its [`Position`] (the line of JSON Lines, the
/// index in a document's list) and the [`RecordError`] naming the field, or
/// [`RecordError::Malformed`] for malformed JSON.
///
/// # Examples
/// ```
/// use backup_summaries::{wire, Operation, State};
/// let doc = br#"{"BackupJobs": [{"AccountId": "123456789012", "State": "COMPLETED",
///     "ResourceType": "EBS", "CreationDate": 1795690000.5, "MessageCategory": "Success",
///     "BackupVaultArn": "arn:aws:backup:us-east-1:123456789012:backup-vault:Default"}]}"#;
/// let jobs = wire::parse_jobs(Operation::Backup, doc, None)?;
/// assert_eq!(jobs[0].state(), State::Completed);
/// assert_eq!(jobs[0].region().as_str(), "us-east-1");
/// assert_eq!(jobs[0].creation_date().as_millis(), 1_795_690_000_500);
///
/// let lines = b"{\"AccountId\":\"123456789012\",\"Status\":\"DONE\"}\n";
/// let e = wire::parse_jobs(Operation::Restore, lines, None).err().ok_or("accepted")?;
/// assert_eq!(e.to_string(), "line 1: invalid Status \"DONE\" for ListRestoreJobSummaries: \
///     expected one of CREATED PENDING RUNNING ABORTED COMPLETED FAILED");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_jobs(
    op: Operation,
    input: &[u8],
    default_region: Option<&Region>,
) -> Result<Vec<JobRecord>, IngestError> {
    parse(op, input, default_region).map(|(records, _)| records)
}

/// Parses `input` as [`parse_jobs`] does for `table`'s operation, then adds every record to
/// `table` ([`JobTable::extend`]): all or nothing. Returns the number of jobs added.
///
/// # Errors
/// As [`parse_jobs`]; a record the table refuses gets its position too. The table is
/// unchanged on error.
pub fn load_jobs(
    table: &mut JobTable,
    input: &[u8],
    default_region: Option<&Region>,
) -> Result<usize, IngestError> {
    let (records, layout) = parse(table.operation(), input, default_region)?;
    table.extend(&records).map_err(|e| {
        let at = layout.position(input, e.position());
        IngestError::new(at, layout.list(), e.into_error())
    })?;
    Ok(records.len())
}

/// How the input was laid out, to find the position of the i-th record again.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// A whole document; its list member, if it was an object.
    Document(Option<&'static str>),
    /// JSON Lines.
    Lines,
}

/// The result of trying the whole-document form on an input starting with `{`.
enum Attempt {
    Parsed(Result<Vec<JobRecord>, IngestError>),
    NotADocument,
}

/// One job, as the list APIs spell it; every member optional until checked.
#[derive(Deserialize)]
#[serde(expecting = "a job record (a JSON object)")]
struct RawJob<'a> {
    #[serde(rename = "AccountId", borrow, default)]
    account_id: Option<Scalar<'a>>,
    #[serde(rename = "State", borrow, default)]
    state: Option<Scalar<'a>>,
    #[serde(rename = "Status", borrow, default)]
    status: Option<Scalar<'a>>,
    #[serde(rename = "ResourceType", borrow, default)]
    resource_type: Option<Scalar<'a>>,
    #[serde(rename = "CreationDate", borrow, default)]
    creation_date: Option<Scalar<'a>>,
    #[serde(rename = "MessageCategory", borrow, default)]
    message_category: Option<Scalar<'a>>,
    #[serde(rename = "MalwareScanner", borrow, default)]
    malware_scanner: Option<Scalar<'a>>,
    #[serde(rename = "ScanResult", borrow, default)]
    scan_result: Option<RawScanResult<'a>>,
    #[serde(rename = "Region", borrow, default)]
    region: Option<Scalar<'a>>,
    #[serde(rename = "BackupVaultArn", borrow, default)]
    backup_vault_arn: Option<Scalar<'a>>,
    #[serde(rename = "SourceBackupVaultArn", borrow, default)]
    source_backup_vault_arn: Option<Scalar<'a>>,
    #[serde(rename = "RecoveryPointArn", borrow, default)]
    recovery_point_arn: Option<Scalar<'a>>,
    #[serde(rename = "ResourceArn", borrow, default)]
    resource_arn: Option<Scalar<'a>>,
    #[serde(rename = "BackupJobId", borrow, default)]
    backup_job_id: Option<Scalar<'a>>,
    #[serde(rename = "CopyJobId", borrow, default)]
    copy_job_id: Option<Scalar<'a>>,
    #[serde(rename = "RestoreJobId", borrow, default)]
    restore_job_id: Option<Scalar<'a>>,
    #[serde(rename = "ScanJobId", borrow, default)]
    scan_job_id: Option<Scalar<'a>>,
}

/// A [`RawJob`] that must be a JSON object: the derived `Deserialize` alone would also fill
/// the fields from an array, by position (SPEC §2: such a record is malformed).
struct ObjectJob<'a>(RawJob<'a>);

impl<'de> Deserialize<'de> for ObjectJob<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly;
        impl<'de> Visitor<'de> for ObjectOnly {
            type Value = RawJob<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a job record (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawJob<'de>, A::Error> {
                RawJob::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(ObjectOnly).map(ObjectJob)
    }
}

/// The `ScanResult` member of a scan job: an object (with its `ScanResultStatus`, if any), or
/// anything else, which is an error for scan jobs and ignored for the others.
#[derive(Debug)]
enum RawScanResult<'a> {
    Object(Option<Scalar<'a>>),
    Other(Scalar<'a>),
}

/// Any JSON value, keeping only what a record member needs: strings (borrowed when
/// unescaped) and numbers; objects and arrays are skipped.
#[derive(Debug)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    Null,
    Object,
    Array,
}

struct ScalarVisitor<'a>(PhantomData<&'a ()>);

struct ScanResultVisitor<'a>(PhantomData<&'a ()>);

/// Parses an object key, telling whether it is `.0`.
struct NameSeed(&'static str);

/// A short text built on the stack (the decimal form of a CreationDate).
struct StackText {
    bytes: [u8; 40],
    len: usize,
}

/// Parsing state shared by the document visitors.
struct Sink<'r> {
    op: Operation,
    default_region: Option<&'r Region>,
    records: Vec<JobRecord>,
    /// The index of the element being parsed, while inside the list.
    index: Option<usize>,
    /// The first bad record: its index and why.
    failure: Option<(usize, RecordError)>,
    /// Whether the operation's list member was seen.
    list_seen: bool,
    /// Another operation's list member seen at the top level.
    foreign_list: Option<&'static str>,
}

/// Parses a top-level object, looking for the operation's list member.
struct DocumentSeed<'s, 'r>(&'s mut Sink<'r>);

/// Parses a list of records.
struct ListSeed<'s, 'r>(&'s mut Sink<'r>);

/// Parses an object key of a document for `.0`.
struct KeySeed(Operation);

/// A top-level member of a document.
enum Key {
    /// The operation's list member.
    List,
    /// Another operation's list member.
    Foreign(&'static str),
    /// Anything else.
    Other,
}

/// Parses `input` and tells how it was laid out.
fn parse(
    op: Operation,
    input: &[u8],
    default_region: Option<&Region>,
) -> Result<(Vec<JobRecord>, Layout), IngestError> {
    let input = input.strip_prefix(BOM).unwrap_or(input);
    match input.iter().find(|b| !is_json_space(**b)) {
        Some(b'[') => match parse_document(op, input, default_region, true) {
            Attempt::Parsed(r) => r.map(|r| (r, Layout::Document(None))),
            Attempt::NotADocument => {
                parse_lines(op, input, default_region).map(|r| (r, Layout::Lines))
            }
        },
        Some(b'{') => match parse_document(op, input, default_region, false) {
            Attempt::Parsed(r) => r.map(|r| (r, Layout::Document(Some(jobs_member(op))))),
            Attempt::NotADocument => {
                parse_lines(op, input, default_region).map(|r| (r, Layout::Lines))
            }
        },
        _ => parse_lines(op, input, default_region).map(|r| (r, Layout::Lines)),
    }
}

/// Parses `input` as one whole document: a bare list (`bare`) or an object with the list
/// member. `NotADocument` when the object lacks the member.
fn parse_document(
    op: Operation,
    input: &[u8],
    default_region: Option<&Region>,
    bare: bool,
) -> Attempt {
    let list = (!bare).then(|| jobs_member(op));
    let mut sink = Sink {
        op,
        default_region,
        records: Vec::new(),
        index: None,
        failure: None,
        list_seen: bare,
        foreign_list: None,
    };
    let mut de = serde_json::Deserializer::from_slice(input);
    let parsed = if bare {
        ListSeed(&mut sink).deserialize(&mut de)
    } else {
        DocumentSeed(&mut sink).deserialize(&mut de)
    };
    let result = parsed.and_then(|()| de.end());
    if !sink.list_seen {
        return match (result, sink.foreign_list) {
            (Ok(()), Some(other)) => Attempt::Parsed(Err(IngestError::new(
                Position::Line(1),
                None,
                RecordError::Malformed {
                    detail: format!(
                        "the document lists {other}, not {}, the jobs of {op}",
                        jobs_member(op)
                    )
                    .into(),
                },
            ))),
            _ => Attempt::NotADocument,
        };
    }
    Attempt::Parsed(match result {
        Ok(()) => Ok(sink.records),
        Err(e) => Err(match (sink.failure, sink.index) {
            (Some((i, error)), _) => IngestError::new(Position::Index(i), list, error),
            (None, Some(i)) => IngestError::new(Position::Index(i), list, malformed(&e, true)),
            (None, None) => {
                IngestError::new(Position::Line(e.line().max(1)), None, malformed(&e, true))
            }
        }),
    })
}

/// Parses `input` as JSON Lines: one record per non-blank line.
fn parse_lines(
    op: Operation,
    input: &[u8],
    default_region: Option<&Region>,
) -> Result<Vec<JobRecord>, IngestError> {
    let mut records = Vec::new();
    for (n, line) in input.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|&b| is_json_space(b)) {
            continue;
        }
        let at = Position::Line(n + 1);
        let ObjectJob(raw) = serde_json::from_slice(line)
            .map_err(|e| IngestError::new(at, None, malformed(&e, false)))?;
        records
            .push(to_record(op, raw, default_region).map_err(|e| IngestError::new(at, None, e))?);
    }
    Ok(records)
}

/// Checks one raw record into a [`JobRecord`].
fn to_record(
    op: Operation,
    raw: RawJob<'_>,
    default_region: Option<&Region>,
) -> Result<JobRecord, RecordError> {
    let account = AccountId::parse(required_str(
        "AccountId",
        raw.account_id.as_ref(),
        "exactly 12 digits, as a string",
    )?)?;
    let (state_field, state) = match op {
        Operation::Restore => ("Status", raw.status.as_ref()),
        _ => ("State", raw.state.as_ref()),
    };
    let state = parse_state(op, state_field, state)?;
    let resource_type = ResourceType::parse(required_str(
        "ResourceType",
        raw.resource_type.as_ref(),
        "1 to 50 characters",
    )?)?;
    let creation_date = creation_date(raw.creation_date.as_ref())?;
    let region = region(&raw, default_region)?;
    let (id_field, id) = match op {
        Operation::Backup => ("BackupJobId", raw.backup_job_id.as_ref()),
        Operation::Copy => ("CopyJobId", raw.copy_job_id.as_ref()),
        Operation::Restore => ("RestoreJobId", raw.restore_job_id.as_ref()),
        Operation::Scan => ("ScanJobId", raw.scan_job_id.as_ref()),
    };
    const ID_EXPECTED: &str = "1 to 256 bytes";
    let job_id = optional_str(id_field, id, ID_EXPECTED)?
        .map(|s| JobId::parse(s).map_err(|_| RecordError::invalid(id_field, s, ID_EXPECTED)))
        .transpose()?;
    let mut record =
        JobRecord::new(account, region, state, resource_type, creation_date).with_job_id(job_id);
    match op {
        Operation::Backup | Operation::Copy => {
            let category = match optional_str(
                "MessageCategory",
                raw.message_category.as_ref(),
                "1 to 50 characters",
            )? {
                None | Some("") => None,
                Some(c) => Some(MessageCategory::parse(c)?),
            };
            record = record.with_message_category(category);
        }
        Operation::Scan => {
            let scanner =
                optional_str("MalwareScanner", raw.malware_scanner.as_ref(), "GUARDDUTY")?
                    .map(|s| {
                        MalwareScanner::parse(s)
                            .ok_or_else(|| RecordError::invalid("MalwareScanner", s, "GUARDDUTY"))
                    })
                    .transpose()?;
            const FIELD: &str = "ScanResult.ScanResultStatus";
            const EXPECTED: &str = "NO_THREATS_FOUND, THREATS_FOUND or UNKNOWN";
            let status = match &raw.scan_result {
                None => None,
                Some(RawScanResult::Object(status)) => status.as_ref(),
                Some(RawScanResult::Other(Scalar::Null)) => None,
                Some(RawScanResult::Other(other)) => {
                    let text = other.to_string();
                    return Err(RecordError::invalid("ScanResult", &text, "an object"));
                }
            };
            let status = optional_str(FIELD, status, EXPECTED)?
                .map(|s| {
                    ScanResultStatus::parse(s)
                        .ok_or_else(|| RecordError::invalid(FIELD, s, EXPECTED))
                })
                .transpose()?;
            record = record
                .with_malware_scanner(scanner)
                .with_scan_result_status(status);
        }
        Operation::Restore => {}
    }
    Ok(record)
}

/// The state named by `value`, if it is one of `op`'s states.
fn parse_state(
    op: Operation,
    field: &'static str,
    value: Option<&Scalar<'_>>,
) -> Result<State, RecordError> {
    let wrong = |text: &str| RecordError::wrong_kind(field, text, op);
    match value {
        None | Some(Scalar::Null) => Err(RecordError::Missing { field }),
        Some(Scalar::Str(s)) => State::parse(op, s).ok_or_else(|| wrong(s)),
        Some(other) => Err(wrong(&other.to_string())),
    }
}

/// The CreationDate: epoch seconds (digits below the millisecond truncated) or RFC 3339.
fn creation_date(value: Option<&Scalar<'_>>) -> Result<UnixMillis, RecordError> {
    const FIELD: &str = "CreationDate";
    let ms = match value {
        None | Some(Scalar::Null) => return Err(RecordError::Missing { field: FIELD }),
        Some(Scalar::Str(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|at| UnixMillis::new(at.timestamp_millis())),
        Some(Scalar::Unsigned(n)) => i64::try_from(*n).ok().and_then(UnixMillis::from_secs),
        Some(Scalar::Signed(n)) => UnixMillis::from_secs(*n),
        Some(Scalar::Float(x)) => millis_of_f64(*x).map(UnixMillis::new),
        Some(_) => None,
    };
    ms.filter(|at| at.to_datetime().is_some()).ok_or_else(|| {
        let text = value.map(ToString::to_string).unwrap_or_default();
        RecordError::invalid(FIELD, &text, EXPECT_DATE)
    })
}

/// Milliseconds in `secs` seconds, read from its shortest decimal form (Rust's `Display` for
/// `f64`, which never uses an exponent), so that `1795000000.123` is exactly ...123 ms.
fn millis_of_f64(secs: f64) -> Option<i64> {
    let mut buf = StackText::default();
    if fmt::Write::write_fmt(&mut buf, format_args!("{secs}")).is_ok() {
        millis_of_decimal(buf.as_str())
    } else {
        // Longer than the buffer: far outside any date, or a tiny fraction of a second.
        millis_of_decimal(&secs.to_string())
    }
}

/// Milliseconds in a plain decimal number of seconds (`-12.3456` is -12345 ms): digits below
/// the millisecond are dropped, with integer math only. `None` for anything else or overflow.
fn millis_of_decimal(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let ms = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0i64, |ms, d| ms * 10 + i64::from(d - b'0'));
    let total = secs.checked_mul(1000)?.checked_add(ms)?;
    Some(if negative { -total } else { total })
}

/// The record's region: its `Region` member, else the first ARN with a region, else the
/// default.
fn region(raw: &RawJob<'_>, default_region: Option<&Region>) -> Result<Region, RecordError> {
    if let Some(name) = optional_str("Region", raw.region.as_ref(), "a non-empty string")? {
        return Region::parse(name);
    }
    let arns = [
        ("BackupVaultArn", raw.backup_vault_arn.as_ref()),
        ("SourceBackupVaultArn", raw.source_backup_vault_arn.as_ref()),
        ("RecoveryPointArn", raw.recovery_point_arn.as_ref()),
        ("ResourceArn", raw.resource_arn.as_ref()),
    ];
    for (field, arn) in arns {
        if let Some(name) = optional_str(field, arn, "an ARN string")?.and_then(arn_region) {
            return Region::parse(name);
        }
    }
    default_region
        .cloned()
        .ok_or(RecordError::Missing { field: "Region" })
}

/// The region field of an ARN (`arn:partition:service:region:account:resource`), if not empty.
fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(2))
        .flatten()
        .filter(|r| !r.is_empty())
}

/// A required string member.
fn required_str<'v>(
    field: &'static str,
    value: Option<&'v Scalar<'_>>,
    expected: &'static str,
) -> Result<&'v str, RecordError> {
    optional_str(field, value, expected)?.ok_or(RecordError::Missing { field })
}

/// An optional string member: `None` when absent or `null`.
fn optional_str<'v>(
    field: &'static str,
    value: Option<&'v Scalar<'_>>,
    expected: &'static str,
) -> Result<Option<&'v str>, RecordError> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s)),
        Some(other) => Err(RecordError::invalid(field, &other.to_string(), expected)),
    }
}

/// A [`RecordError::Malformed`] from a parser error; `with_line` keeps the line number (a
/// whole document), else only the column (a JSON Lines line).
fn malformed(e: &serde_json::Error, with_line: bool) -> RecordError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let detail = match full.strip_suffix(&suffix) {
        Some(message) if !with_line => format!("{message} at column {}", e.column()),
        _ => full,
    };
    let detail = match detail.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => detail.get(..end).unwrap_or_default().to_owned(),
        None => detail,
    };
    RecordError::Malformed {
        detail: detail.into(),
    }
}

/// The list member of `op`'s list-jobs output.
fn jobs_member(op: Operation) -> &'static str {
    match op {
        Operation::Backup => "BackupJobs",
        Operation::Copy => "CopyJobs",
        Operation::Restore => "RestoreJobs",
        Operation::Scan => "ScanJobs",
    }
}

/// JSON whitespace (RFC 8259): space, tab, line feed, carriage return.
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl Layout {
    /// The position of the `i`-th record of `input` (after the byte order mark, if any).
    fn position(self, input: &[u8], i: usize) -> Position {
        match self {
            Self::Document(_) => Position::Index(i),
            Self::Lines => {
                let input = input.strip_prefix(BOM).unwrap_or(input);
                let line = input
                    .split(|&b| b == b'\n')
                    .enumerate()
                    .filter(|(_, line)| !line.iter().all(|&b| is_json_space(b)))
                    .nth(i)
                    .map_or(1, |(n, _)| n + 1);
                Position::Line(line)
            }
        }
    }

    /// The list member a [`Position::Index`] refers to.
    fn list(self) -> Option<&'static str> {
        match self {
            Self::Document(list) => list,
            Self::Lines => None,
        }
    }
}

impl Default for StackText {
    fn default() -> Self {
        Self {
            bytes: [0; 40],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        self.bytes
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl fmt::Display for Scalar<'_> {
    /// The value as an error message quotes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => f.write_str(s),
            Self::Unsigned(n) => write!(f, "{n}"),
            Self::Signed(n) => write!(f, "{n}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Null => f.write_str("null"),
            Self::Object => f.write_str("{...}"),
            Self::Array => f.write_str("[...]"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(PhantomData))
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Signed(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawScanResult<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScanResultVisitor(PhantomData))
    }
}

/// Forwards non-object values to [`ScalarVisitor`], as [`RawScanResult::Other`].
macro_rules! forward_to_scalar {
    ($($method:ident($($arg:ident: $ty:ty)?);)*) => {$(
        fn $method<E: de::Error>(self $(, $arg: $ty)?) -> Result<Self::Value, E> {
            ScalarVisitor(PhantomData).$method($($arg)?).map(RawScanResult::Other)
        }
    )*};
}

impl<'de: 'a, 'a> Visitor<'de> for ScanResultVisitor<'a> {
    type Value = RawScanResult<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    forward_to_scalar! {
        visit_borrowed_str(v: &'de str);
        visit_str(v: &str);
        visit_string(v: String);
        visit_u64(v: u64);
        visit_i64(v: i64);
        visit_f64(v: f64);
        visit_bool(v: bool);
        visit_unit();
        visit_none();
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ScalarVisitor(PhantomData)
            .visit_seq(seq)
            .map(RawScanResult::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        const STATUS: &str = "ScanResultStatus";
        let mut status: Option<Scalar<'a>> = None;
        while let Some(is_status) = map.next_key_seed(NameSeed(STATUS))? {
            if !is_status {
                map.next_value::<IgnoredAny>()?;
            } else if status.is_some() {
                return Err(de::Error::duplicate_field(STATUS));
            } else {
                status = Some(map.next_value::<Scalar<'de>>()?);
            }
        }
        Ok(RawScanResult::Object(status))
    }
}

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with a {} list", jobs_member(self.0.op))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        let list = jobs_member(sink.op);
        while let Some(key) = map.next_key_seed(KeySeed(sink.op))? {
            match key {
                Key::List => {}
                Key::Foreign(other) => {
                    sink.foreign_list = Some(other);
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            }
            if sink.list_seen {
                return Err(de::Error::custom(format_args!("duplicate member {list}")));
            }
            sink.list_seen = true;
            map.next_value_seed(ListSeed(&mut *sink))?;
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of job records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let sink = self.0;
        let mut i = 0;
        loop {
            sink.index = Some(i);
            let Some(ObjectJob(raw)) = seq.next_element::<ObjectJob<'de>>()? else {
                break;
            };
            match to_record(sink.op, raw, sink.default_region) {
                Ok(record) => sink.records.push(record),
                Err(e) => {
                    sink.failure = Some((i, e));
                    return Err(de::Error::custom("invalid record"));
                }
            }
            i += 1;
        }
        sink.index = None;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(
            match Operation::ALL.into_iter().find(|&op| jobs_member(op) == v) {
                Some(op) if op == self.0 => Key::List,
                Some(op) => Key::Foreign(jobs_member(op)),
                None => Key::Other,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_truncate_towards_zero() {
        let cases: [(&str, Option<i64>); 12] = [
            ("0", Some(0)),
            ("12", Some(12_000)),
            ("12.3456", Some(12_345)),
            ("-12.3456", Some(-12_345)),
            ("-0.0009", Some(0)),
            ("1795000000.1239", Some(1_795_000_000_123)),
            ("9223372036854775", Some(9_223_372_036_854_775_000)),
            ("9223372036854775.808", None),
            ("", None),
            ("1.", Some(1_000)),
            (".5", None),
            ("1e3", None),
        ];
        for (text, ms) in cases {
            assert_eq!(millis_of_decimal(text), ms, "{text:?}");
        }
    }

    #[test]
    fn floats_use_their_shortest_decimal() {
        assert_eq!(millis_of_f64(1_795_000_000.123_9), Some(1_795_000_000_123));
        assert_eq!(millis_of_f64(1_795_000_000.123), Some(1_795_000_000_123));
        assert_eq!(millis_of_f64(0.1 + 0.2), Some(300));
        assert_eq!(millis_of_f64(1e-300), Some(0));
        assert_eq!(millis_of_f64(-1e-300), Some(0));
        assert_eq!(millis_of_f64(1e300), None);
        assert_eq!(millis_of_f64(f64::MAX), None);
        assert_eq!(millis_of_f64(f64::NAN), None);
        assert_eq!(millis_of_f64(f64::INFINITY), None);
    }

    #[test]
    fn arn_regions() {
        let cases = [
            (
                "arn:aws:backup:us-east-1:123456789012:backup-vault:Default",
                Some("us-east-1"),
            ),
            (
                "arn:aws-cn:ec2:cn-north-1::snapshot/snap-1",
                Some("cn-north-1"),
            ),
            ("arn:aws:s3:::bucket", None),
            ("arn:aws:iam::123456789012:role/x", None),
            ("arn:aws:backup", None),
            ("nra:aws:backup:us-east-1:1:x", None),
            ("", None),
        ];
        for (arn, region) in cases {
            assert_eq!(arn_region(arn), region, "{arn}");
        }
    }
}
