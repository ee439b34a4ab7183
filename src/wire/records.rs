//! Job records in the wire shapes of the list APIs (SPEC §2): `aws backup list-backup-jobs`,
//! `list-copy-jobs`, `list-restore-jobs` and `list-scan-jobs` output, as one whole document
//! or as JSON Lines.
//!
//! The input is a whole document when its first non-whitespace byte is `[` (a bare list of
//! records) or `{` and its first JSON value is an object with the operation's list member
//! (`BackupJobs`, `CopyJobs`, `RestoreJobs`, `ScanJobs`); otherwise it is JSON Lines, one
//! record per non-blank line. The layout, the cutting into records and the parallel-ready
//! chunks are [`JobStream`](crate::wire::JobStream)'s; this module holds what reads one record: the serde shapes
//! ([`RawJob`], [`Scalar`]) that the fast scanner (`flat.rs`) fills too, and [`check`], which
//! turns a raw record into validated [`JobFields`]. Unknown members are ignored, and the first
//! bad record stops the parse with an [`IngestError`] naming its position and field. Nothing
//! is dropped silently, and no input makes the parser panic.
//!
//! Members read, per record (`null` is the same as absent):
//!
//! | member | operations | rule |
//! |---|---|---|
//! | `AccountId` | all | required, a string of 12 digits |
//! | `State` (`Status` for restore) | all | required, one of the operation's states |
//! | `ResourceType` | all | required, 1..=50 characters |
//! | `CreationDate` | all | required, epoch seconds (a number, up to the end of year 9999: larger numbers are most likely epoch milliseconds) or an RFC 3339 string; digits below the millisecond are truncated |
//! | `MessageCategory` | backup, copy | optional, 1..=50 characters; empty is absent (D) |
//! | `MalwareScanner` | scan | optional, `GUARDDUTY` |
//! | `ScanResult.ScanResultStatus` | scan | optional, `NO_THREATS_FOUND`, `THREATS_FOUND` or `UNKNOWN` |
//! | `Region` | all | optional, else the region of the first of `BackupVaultArn`, `SourceBackupVaultArn`, `RecoveryPointArn`, `ResourceArn` that has one, else the caller's default |
//! | `BackupJobId`, `CopyJobId`, `RestoreJobId`, `ScanJobId` | the operation's own | optional, 1..=256 bytes (SPEC §10) |
//!
//! A record with a `detail-type` member is an EventBridge job state change event (SPEC §11):
//! `detail-type` must be the operation's (`Backup Job State Change`, `Copy Job State
//! Change`, `Restore Job State Change`; scan jobs have none); `account` (12 digits),
//! `region` (non-empty) and `time` (RFC 3339, the job's version in epoch seconds) are
//! required; from `detail`: the job id (`backupJobId`, ...), `state` (`status` for restore),
//! `resourceType`, `creationDate` and `messageCategory`, with the rules above. Errors name
//! these members as written, e.g. `detail.state`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use chrono::DateTime;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::batch::Batch;
use crate::error::RecordError;
use crate::identity::{JobId, JobKey, Version};
use crate::record::{self, Fields};
use crate::record::{AccountId, JobRecord, MessageCategory, Region, ResourceType, MAX_NAME_CHARS};
use crate::schema::{Field, MalwareScanner, Operation, RecordField, ScanResultStatus, State};
use crate::time::UnixMillis;
use crate::wire::error::{IngestError, Position};

/// Longest parser message an error keeps, in characters.
const MAX_DETAIL_CHARS: usize = 200;
/// What a CreationDate may be.
const EXPECT_DATE: &str = "epoch seconds or an RFC 3339 date-time";
/// What a numeric CreationDate past year 9999 is told.
const EXPECT_SECONDS: &str =
    "epoch seconds up to the year 9999 (this looks like epoch milliseconds) or an RFC 3339 date-time";
/// The last millisecond of year 9999 (9999-12-31T23:59:59.999Z).
const MAX_NUMERIC_DATE_MS: i64 = 253_402_300_799_999;
/// Longest job id, in bytes (SPEC §10).
const MAX_JOB_ID_BYTES: usize = 256;

/// One validated job, borrowed from the input: no allocation per job in the common case.
#[derive(Clone, Debug)]
pub(crate) struct JobFields<'a> {
    /// SPEC §10: `BackupJobId`/`CopyJobId`/`RestoreJobId`/`ScanJobId`, 1..=256 bytes.
    pub(crate) job_id: Option<&'a str>,
    /// The job's dimensions and creation date. The region is non-empty, from the `Region`
    /// member, an ARN or the default (SPEC §2); names are 1..=50 characters. Unlike what a
    /// table interns, the category is as written: case folding happens at intern time.
    pub(crate) job: Fields<'a>,
    /// Event time, epoch seconds (EventBridge events only; `None` for list-API records).
    pub(crate) version: Option<u32>,
}

/// Where parsed jobs go.
pub(crate) trait JobSink {
    /// Takes one job; an `Err` (e.g. the sink refuses the state for its operation) becomes
    /// that record's error.
    fn job(&mut self, fields: &JobFields<'_>) -> Result<(), RecordError>;
}

impl JobFields<'_> {
    /// An owned [`JobRecord`] with these values (the category upper-cased).
    ///
    /// # Errors
    /// Never for fields [`check`] made; the record types check again.
    pub(crate) fn to_record(&self) -> Result<JobRecord, RecordError> {
        let job = &self.job;
        Ok(JobRecord::new(
            job.account,
            Region::parse(job.region)?,
            job.state,
            ResourceType::parse(job.resource_type)?,
            job.creation,
        )
        .with_message_category(job.category.map(MessageCategory::parse).transpose()?)
        .with_malware_scanner(job.scanner)
        .with_scan_result_status(job.result)
        .with_job_id(self.job_id.map(JobId::parse).transpose()?))
    }
}

/// A [`JobSink`] that builds owned [`JobRecord`]s (for [`parse_jobs`](crate::wire::parse_jobs) and the CLI).
#[derive(Debug, Default)]
pub(crate) struct RecordSink {
    pub(crate) records: Vec<JobRecord>,
}

impl JobSink for RecordSink {
    fn job(&mut self, fields: &JobFields<'_>) -> Result<(), RecordError> {
        self.records.push(fields.to_record()?);
        Ok(())
    }
}

impl JobFields<'_> {
    /// The category as a table interns it: upper-cased (SPEC §3), copied only when it has
    /// lower-case letters. Every sink that interns straight from the input goes through it.
    pub(crate) fn folded_category(&self) -> Option<Cow<'_, str>> {
        self.job.category.map(|c| {
            if c.bytes().any(|b| b.is_ascii_lowercase()) {
                Cow::Owned(c.to_ascii_uppercase())
            } else {
                Cow::Borrowed(c)
            }
        })
    }
}

/// Stages each job in the batch without building a record: names are interned straight
/// from the input (the category folded first, see [`JobFields::folded_category`]).
impl JobSink for Batch {
    fn job(&mut self, f: &JobFields<'_>) -> Result<(), RecordError> {
        let category = f.folded_category();
        let fields = Fields {
            category: category.as_deref(),
            ..f.job
        };
        self.stage(
            &fields,
            f.job_id.map(JobKey::of),
            f.version.map(Version::from_secs),
        )
    }
}

/// The outcome of parsing bytes as a whole document with serde (a document's head or
/// envelope, see [`JobStream`](crate::wire::JobStream)).
pub(super) enum Attempt {
    /// The bytes are a document; its parse succeeded or failed.
    Parsed(Result<(), IngestError>),
    /// The first value is an object without the operation's list member.
    NotADocument,
}

/// Where the envelope of a streamed document lost its list's content (see
/// [`serde_document`]): errors at or after `line` (1-based, the line of `[` in the envelope)
/// move down `lines`, and those on `line` itself move right by `columns`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Relocation {
    pub(super) line: usize,
    pub(super) lines: usize,
    pub(super) columns: usize,
}

/// One job, as the list APIs spell it; every member optional until checked.
#[derive(Default, Deserialize)]
#[serde(expecting = "a job record (a JSON object)")]
pub(super) struct RawJob<'a> {
    #[serde(rename = "AccountId", borrow, default)]
    pub(super) account_id: Option<Scalar<'a>>,
    #[serde(rename = "State", borrow, default)]
    pub(super) state: Option<Scalar<'a>>,
    #[serde(rename = "Status", borrow, default)]
    pub(super) status: Option<Scalar<'a>>,
    #[serde(rename = "ResourceType", borrow, default)]
    pub(super) resource_type: Option<Scalar<'a>>,
    #[serde(rename = "CreationDate", borrow, default)]
    pub(super) creation_date: Option<Scalar<'a>>,
    #[serde(rename = "MessageCategory", borrow, default)]
    pub(super) message_category: Option<Scalar<'a>>,
    #[serde(rename = "MalwareScanner", borrow, default)]
    pub(super) malware_scanner: Option<Scalar<'a>>,
    #[serde(rename = "ScanResult", borrow, default)]
    scan_result: Option<RawScanResult<'a>>,
    #[serde(rename = "Region", borrow, default)]
    pub(super) region: Option<Scalar<'a>>,
    #[serde(rename = "BackupVaultArn", borrow, default)]
    pub(super) backup_vault_arn: Option<Scalar<'a>>,
    #[serde(rename = "SourceBackupVaultArn", borrow, default)]
    pub(super) source_backup_vault_arn: Option<Scalar<'a>>,
    #[serde(rename = "RecoveryPointArn", borrow, default)]
    pub(super) recovery_point_arn: Option<Scalar<'a>>,
    #[serde(rename = "ResourceArn", borrow, default)]
    pub(super) resource_arn: Option<Scalar<'a>>,
    #[serde(rename = "BackupJobId", borrow, default)]
    pub(super) backup_job_id: Option<Scalar<'a>>,
    #[serde(rename = "CopyJobId", borrow, default)]
    pub(super) copy_job_id: Option<Scalar<'a>>,
    #[serde(rename = "RestoreJobId", borrow, default)]
    pub(super) restore_job_id: Option<Scalar<'a>>,
    #[serde(rename = "ScanJobId", borrow, default)]
    pub(super) scan_job_id: Option<Scalar<'a>>,
    // An EventBridge event's envelope (SPEC §11).
    #[serde(rename = "detail-type", borrow, default)]
    pub(super) detail_type: Option<Scalar<'a>>,
    #[serde(rename = "account", borrow, default)]
    pub(super) event_account: Option<Scalar<'a>>,
    #[serde(rename = "region", borrow, default)]
    pub(super) event_region: Option<Scalar<'a>>,
    #[serde(rename = "time", borrow, default)]
    pub(super) event_time: Option<Scalar<'a>>,
    #[serde(rename = "detail", borrow, default)]
    detail: Option<RawDetail<'a>>,
}

/// The `detail` of an EventBridge job state change event (SPEC §11).
#[derive(Default, Deserialize)]
#[serde(expecting = "an event detail (a JSON object)")]
struct RawDetail<'a> {
    #[serde(rename = "backupJobId", borrow, default)]
    backup_job_id: Option<Scalar<'a>>,
    #[serde(rename = "copyJobId", borrow, default)]
    copy_job_id: Option<Scalar<'a>>,
    #[serde(rename = "restoreJobId", borrow, default)]
    restore_job_id: Option<Scalar<'a>>,
    #[serde(rename = "scanJobId", borrow, default)]
    scan_job_id: Option<Scalar<'a>>,
    #[serde(rename = "state", borrow, default)]
    state: Option<Scalar<'a>>,
    #[serde(rename = "status", borrow, default)]
    status: Option<Scalar<'a>>,
    #[serde(rename = "resourceType", borrow, default)]
    resource_type: Option<Scalar<'a>>,
    #[serde(rename = "creationDate", borrow, default)]
    creation_date: Option<Scalar<'a>>,
    #[serde(rename = "messageCategory", borrow, default)]
    message_category: Option<Scalar<'a>>,
}

/// A [`RawJob`] that must be a JSON object: the derived `Deserialize` alone would also fill
/// the fields from an array, by position (SPEC §2: such a record is malformed).
pub(super) struct ObjectJob<'a>(pub(super) RawJob<'a>);

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
pub(super) enum Scalar<'a> {
    Str(Cow<'a, str>),
    /// A plain decimal with a fraction and at most 15 significant digits, as written (only
    /// the fast scanner makes these; serde gives [`Scalar::Float`]).
    Decimal(&'a str),
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

/// Parses an object key into what `.0` makes of it (no allocation for the key).
struct KeySeed<F>(F);

/// A short text built on the stack (the decimal form of a CreationDate).
struct StackText {
    bytes: [u8; 40],
    len: usize,
}

/// Parsing state shared by the document visitors.
struct Sink<'r, 'o> {
    op: Operation,
    default_region: Option<&'r Region>,
    out: &'o mut dyn JobSink,
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
struct DocumentSeed<'s, 'r, 'o>(&'s mut Sink<'r, 'o>);

/// Parses a list of records.
struct ListSeed<'s, 'r, 'o>(&'s mut Sink<'r, 'o>);

/// A top-level member of a document.
enum Key {
    /// The operation's list member.
    List,
    /// Another operation's list member.
    Foreign(&'static str),
    /// Anything else.
    Other,
}

impl<'a> RawJob<'a> {
    /// Empties every member, for the next record, without dropping them: for a record the
    /// fast scanner filled, whose strings are all borrowed, so there is nothing to free. The
    /// drop's check of each of the ~30 members for an owned string cost about 4 % of a parse's
    /// instructions. An owned string would leak (not unsafe); debug builds assert there is
    /// none.
    pub(super) fn reset_borrowed(&mut self) {
        debug_assert!(
            self.owns_nothing(),
            "a scanned record holds only borrowed strings"
        );
        std::mem::forget(std::mem::take(self));
    }

    /// Whether no member holds memory of its own (the fast scanner fills none that does).
    fn owns_nothing(&mut self) -> bool {
        self.scan_result.is_none()
            && self.detail.is_none()
            && Member::ALL
                .into_iter()
                .all(|member| !matches!(self.member(member), Some(Scalar::Str(Cow::Owned(_)))))
    }

    /// Every member, written out, for tests that compare two records.
    #[cfg(test)]
    pub(super) fn dump(&mut self) -> String {
        let mut out = format!(
            "ScanResult: {:?}, detail: {}",
            self.scan_result,
            self.detail.is_some()
        );
        for member in Member::ALL {
            out += &format!(", {member:?}: {:?}", self.member(member));
        }
        out
    }

    /// The slot of `member`.
    pub(super) fn member(&mut self, member: Member) -> &mut Option<Scalar<'a>> {
        match member {
            Member::AccountId => &mut self.account_id,
            Member::State => &mut self.state,
            Member::Status => &mut self.status,
            Member::ResourceType => &mut self.resource_type,
            Member::CreationDate => &mut self.creation_date,
            Member::MessageCategory => &mut self.message_category,
            Member::MalwareScanner => &mut self.malware_scanner,
            Member::Region => &mut self.region,
            Member::BackupVaultArn => &mut self.backup_vault_arn,
            Member::SourceBackupVaultArn => &mut self.source_backup_vault_arn,
            Member::RecoveryPointArn => &mut self.recovery_point_arn,
            Member::ResourceArn => &mut self.resource_arn,
            Member::BackupJobId => &mut self.backup_job_id,
            Member::CopyJobId => &mut self.copy_job_id,
            Member::RestoreJobId => &mut self.restore_job_id,
            Member::ScanJobId => &mut self.scan_job_id,
            Member::DetailType => &mut self.detail_type,
            Member::EventAccount => &mut self.event_account,
            Member::EventRegion => &mut self.event_region,
            Member::EventTime => &mut self.event_time,
        }
    }
}

/// A scalar member of [`RawJob`] the fast scanner fills (by name: [`Member::of`]; its slot:
/// [`RawJob::member`]); the others it ignores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Member {
    AccountId,
    State,
    Status,
    ResourceType,
    CreationDate,
    MessageCategory,
    MalwareScanner,
    Region,
    BackupVaultArn,
    SourceBackupVaultArn,
    RecoveryPointArn,
    ResourceArn,
    BackupJobId,
    CopyJobId,
    RestoreJobId,
    ScanJobId,
    DetailType,
    EventAccount,
    EventRegion,
    EventTime,
}

impl Member {
    /// Every member.
    pub(super) const ALL: [Self; 20] = [
        Self::AccountId,
        Self::State,
        Self::Status,
        Self::ResourceType,
        Self::CreationDate,
        Self::MessageCategory,
        Self::MalwareScanner,
        Self::Region,
        Self::BackupVaultArn,
        Self::SourceBackupVaultArn,
        Self::RecoveryPointArn,
        Self::ResourceArn,
        Self::BackupJobId,
        Self::CopyJobId,
        Self::RestoreJobId,
        Self::ScanJobId,
        Self::DetailType,
        Self::EventAccount,
        Self::EventRegion,
        Self::EventTime,
    ];

    /// The member named `name` as written in a record; `None` for members the fast scanner
    /// ignores.
    pub(super) fn of(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"AccountId" => Self::AccountId,
            b"State" => Self::State,
            b"Status" => Self::Status,
            b"ResourceType" => Self::ResourceType,
            b"CreationDate" => Self::CreationDate,
            b"MessageCategory" => Self::MessageCategory,
            b"MalwareScanner" => Self::MalwareScanner,
            b"Region" => Self::Region,
            b"BackupVaultArn" => Self::BackupVaultArn,
            b"SourceBackupVaultArn" => Self::SourceBackupVaultArn,
            b"RecoveryPointArn" => Self::RecoveryPointArn,
            b"ResourceArn" => Self::ResourceArn,
            b"BackupJobId" => Self::BackupJobId,
            b"CopyJobId" => Self::CopyJobId,
            b"RestoreJobId" => Self::RestoreJobId,
            b"ScanJobId" => Self::ScanJobId,
            b"detail-type" => Self::DetailType,
            b"account" => Self::EventAccount,
            b"region" => Self::EventRegion,
            b"time" => Self::EventTime,
            _ => return None,
        })
    }
}

/// Parses `input` with serde as one whole document: a bare list (`bare`) or an object with
/// the list member, giving each record to `out`. `NotADocument` when the object lacks the
/// member. Parser errors after the list's start move by `relocation` (see [`JobStream`](crate::wire::JobStream):
/// it parses a document's envelope with the list's content cut out).
pub(super) fn serde_document(
    op: Operation,
    input: &[u8],
    default_region: Option<&Region>,
    bare: bool,
    out: &mut dyn JobSink,
    relocation: Relocation,
) -> Attempt {
    let list = (!bare).then(|| jobs_member(op));
    let mut sink = Sink {
        op,
        default_region,
        out,
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
    Attempt::Parsed(result.map_err(|e| {
        let (line, column) = relocation.apply(e.line(), e.column());
        match (sink.failure, sink.index) {
            (Some((i, error)), _) => IngestError::new(Position::Index(i), list, error),
            (None, Some(i)) => {
                IngestError::new(Position::Index(i), list, malformed_at(&e, line, column))
            }
            (None, None) => IngestError::new(
                Position::Line(line.max(1)),
                None,
                malformed_at(&e, line, column),
            ),
        }
    }))
}

/// Checks one raw record into [`JobFields`] borrowing from it (SPEC §2, §10).
pub(super) fn check<'r>(
    op: Operation,
    raw: &'r RawJob<'_>,
    default_region: Option<&'r Region>,
) -> Result<JobFields<'r>, RecordError> {
    if !matches!(raw.detail_type, None | Some(Scalar::Null)) {
        return check_event(op, raw);
    }
    let account = AccountId::parse(required_str(
        RecordField::AccountId,
        raw.account_id.as_ref(),
        "exactly 12 digits, as a string",
    )?)?;
    let state = match op {
        Operation::Restore => raw.status.as_ref(),
        _ => raw.state.as_ref(),
    };
    let state = parse_state(op, op.wire().state, state)?;
    let resource_type = name(
        RecordField::ResourceType,
        required_str(
            RecordField::ResourceType,
            raw.resource_type.as_ref(),
            "1 to 50 characters",
        )?,
    )?;
    let creation = creation_date(RecordField::CreationDate, raw.creation_date.as_ref())?;
    let region = region(raw, default_region)?;
    let id = match op {
        Operation::Backup => raw.backup_job_id.as_ref(),
        Operation::Copy => raw.copy_job_id.as_ref(),
        Operation::Restore => raw.restore_job_id.as_ref(),
        Operation::Scan => raw.scan_job_id.as_ref(),
    };
    let job_id = job_id(op.wire().job_id, id)?;
    let mut fields = JobFields {
        job_id,
        job: Fields {
            account,
            region,
            state,
            resource_type,
            creation,
            category: None,
            scanner: None,
            result: None,
        },
        version: None,
    };
    if op.has_field(Field::MessageCategory) {
        fields.job.category = match optional_str(
            RecordField::MessageCategory,
            raw.message_category.as_ref(),
            "1 to 50 characters",
        )? {
            None | Some("") => None,
            Some(c) => Some(name(RecordField::MessageCategory, c)?),
        };
    }
    if op.has_field(Field::MalwareScanner) {
        fields.job.scanner = optional_str(
            RecordField::MalwareScanner,
            raw.malware_scanner.as_ref(),
            "GUARDDUTY",
        )?
        .map(|s| {
            MalwareScanner::parse(s)
                .ok_or_else(|| RecordError::invalid(RecordField::MalwareScanner, s, "GUARDDUTY"))
        })
        .transpose()?;
    }
    if op.has_field(Field::ScanResultStatus) {
        const FIELD: RecordField = RecordField::ScanResultStatus;
        let status = match &raw.scan_result {
            None => None,
            Some(RawScanResult::Object(status)) => status.as_ref(),
            Some(RawScanResult::Other(Scalar::Null)) => None,
            Some(RawScanResult::Other(other)) => {
                let text = other.to_string();
                return Err(RecordError::invalid(
                    RecordField::ScanResult,
                    &text,
                    "an object",
                ));
            }
        };
        fields.job.result = optional_str(FIELD, status, SCAN_RESULTS)?
            .map(|s| {
                ScanResultStatus::parse(s)
                    .ok_or_else(|| RecordError::invalid(FIELD, s, SCAN_RESULTS))
            })
            .transpose()?;
    }
    Ok(fields)
}

/// Checks an EventBridge job state change event (SPEC §11) into [`JobFields`]: the envelope's
/// `account`, `region` and `time` (the version), the detail's job id, state, resource type,
/// creation date and message category. An event of another detail-type is a bad record.
fn check_event<'r>(op: Operation, raw: &'r RawJob<'_>) -> Result<JobFields<'r>, RecordError> {
    let names = op.wire();
    let expected = names.event.unwrap_or("no event (scan jobs have none)");
    let (id_field, state_field) = (names.event_job_id, names.event_state);
    let detail_type = required_str(RecordField::DetailType, raw.detail_type.as_ref(), expected)?;
    if names.event != Some(detail_type) {
        return Err(RecordError::invalid(
            RecordField::DetailType,
            detail_type,
            expected,
        ));
    }
    const DIGITS: &str = "exactly 12 digits, as a string";
    let account_text = required_str(RecordField::Account, raw.event_account.as_ref(), DIGITS)?;
    let account = AccountId::parse(account_text)
        .map_err(|_| RecordError::invalid(RecordField::Account, account_text, DIGITS))?;
    let region = required_str(
        RecordField::EventRegion,
        raw.event_region.as_ref(),
        "a non-empty string",
    )?;
    if region.is_empty() {
        return Err(RecordError::invalid(
            RecordField::EventRegion,
            region,
            "a non-empty string",
        ));
    }
    const TIME: &str = "an RFC 3339 date-time from 1970 to 2106";
    let time = required_str(RecordField::Time, raw.event_time.as_ref(), TIME)?;
    let version = DateTime::parse_from_rfc3339(time)
        .ok()
        .and_then(|at| u32::try_from(at.timestamp()).ok())
        .ok_or_else(|| RecordError::invalid(RecordField::Time, time, TIME))?;
    let detail = raw.detail.as_ref().ok_or(RecordError::Missing {
        field: RecordField::Detail,
    })?;
    let (id, state) = match op {
        Operation::Backup => (detail.backup_job_id.as_ref(), detail.state.as_ref()),
        Operation::Copy => (detail.copy_job_id.as_ref(), detail.state.as_ref()),
        Operation::Restore => (detail.restore_job_id.as_ref(), detail.status.as_ref()),
        Operation::Scan => (detail.scan_job_id.as_ref(), detail.state.as_ref()),
    };
    let job_id = job_id(id_field, id)?;
    let state = parse_state(op, state_field, state)?;
    let resource_type = name(
        RecordField::DetailResourceType,
        required_str(
            RecordField::DetailResourceType,
            detail.resource_type.as_ref(),
            "1 to 50 characters",
        )?,
    )?;
    let creation = creation_date(
        RecordField::DetailCreationDate,
        detail.creation_date.as_ref(),
    )?;
    let category = match optional_str(
        RecordField::DetailMessageCategory,
        detail.message_category.as_ref(),
        "1 to 50 characters",
    )? {
        None | Some("") => None,
        Some(c) => Some(name(RecordField::DetailMessageCategory, c)?),
    };
    Ok(JobFields {
        job_id,
        job: Fields {
            account,
            region,
            state,
            resource_type,
            creation,
            category,
            scanner: None,
            result: None,
        },
        version: Some(version),
    })
}

/// What a `ScanResult.ScanResultStatus` may be: every [`ScanResultStatus`] name, as a
/// constant (a unit test checks it against [`ScanResultStatus::ALL`]).
const SCAN_RESULTS: &str = "NO_THREATS_FOUND, THREATS_FOUND or UNKNOWN";

/// A ResourceType or MessageCategory: 1..=50 characters (SPEC §3), as written.
fn name(field: RecordField, s: &str) -> Result<&str, RecordError> {
    // At most 50 bytes is at most 50 characters; count them only when longer.
    if s.is_empty() || (s.len() > MAX_NAME_CHARS && s.chars().nth(MAX_NAME_CHARS).is_some()) {
        return Err(RecordError::invalid(field, s, "1 to 50 characters"));
    }
    Ok(s)
}

/// The job id member: absent, or 1..=256 bytes (SPEC §10).
fn job_id<'v>(
    field: RecordField,
    value: Option<&'v Scalar<'_>>,
) -> Result<Option<&'v str>, RecordError> {
    const EXPECTED: &str = "a string of 1 to 256 bytes";
    match optional_str(field, value, EXPECTED)? {
        Some(id) if id.is_empty() || id.len() > MAX_JOB_ID_BYTES => {
            Err(RecordError::invalid(field, id, EXPECTED))
        }
        id => Ok(id),
    }
}
/// The state named by `value`, if it is one of `op`'s states.
fn parse_state(
    op: Operation,
    field: RecordField,
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
fn creation_date(
    field: RecordField,
    value: Option<&Scalar<'_>>,
) -> Result<UnixMillis, RecordError> {
    let ms = match value {
        None | Some(Scalar::Null) => return Err(RecordError::Missing { field }),
        Some(Scalar::Str(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|at| UnixMillis::new(at.timestamp_millis())),
        Some(Scalar::Unsigned(n)) => i64::try_from(*n).ok().and_then(UnixMillis::from_secs),
        Some(Scalar::Signed(n)) => UnixMillis::from_secs(*n),
        Some(Scalar::Float(x)) => millis_of_f64(*x).map(UnixMillis::new),
        Some(Scalar::Decimal(text)) => millis_of_decimal(text).map(UnixMillis::new),
        Some(_) => None,
    };
    let numeric = !matches!(value, Some(Scalar::Str(_)));
    if numeric && ms.is_some_and(|at| at.as_millis() > MAX_NUMERIC_DATE_MS) {
        let text = value.map(ToString::to_string).unwrap_or_default();
        return Err(RecordError::invalid(field, &text, EXPECT_SECONDS));
    }
    // Within ±year 9999 every millisecond is in chrono's calendar; check only beyond.
    ms.filter(|at| at.as_millis().abs() <= MAX_NUMERIC_DATE_MS || at.to_datetime().is_some())
        .ok_or_else(|| {
            let text = value.map(ToString::to_string).unwrap_or_default();
            RecordError::invalid(field, &text, EXPECT_DATE)
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
    // One pass over the bytes (every CreationDate of a list-API dump comes through here).
    let (negative, digits) = match text.as_bytes().split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text.as_bytes()),
    };
    let (secs, fraction) = match ten_digit_seconds(digits) {
        Some(read) => read,
        None => whole_seconds(digits)?,
    };
    let total = secs
        .checked_mul(1000)?
        .checked_add(fraction_millis(fraction)?)?;
    Some(if negative { -total } else { total })
}

/// The milliseconds of a decimal's fraction digits (those below the millisecond truncated);
/// `None` for a non-digit.
fn fraction_millis(fraction: &[u8]) -> Option<i64> {
    let (mut ms, mut places) = (0i64, 0u32);
    for &b in fraction {
        if !b.is_ascii_digit() {
            return None;
        }
        if places < 3 {
            ms = ms * 10 + i64::from(b - b'0');
            places += 1;
        }
    }
    Some(ms * 10i64.pow(3 - places))
}

/// Exactly ten whole digits (every date from 2001 to 2286), read as two words, then the end
/// or a point: the seconds and the fraction's digits. `None` for anything else.
fn ten_digit_seconds(digits: &[u8]) -> Option<(i64, &[u8])> {
    let (ten, rest) = digits.split_first_chunk::<10>()?;
    let (high, low) = ten.split_first_chunk::<8>()?;
    let low: [u8; 2] = low.try_into().ok()?;
    let secs = record::digits(u64::from_le_bytes(*high), 8)? * 100
        + record::digits(u64::from(u16::from_le_bytes(low)), 2)?;
    let fraction = match rest.split_first() {
        None => rest,
        Some((b'.', fraction)) if !fraction.is_empty() => fraction,
        Some(_) => return None,
    };
    // Below 10^10: fits.
    Some((i64::try_from(secs).ok()?, fraction))
}

/// The whole seconds of a decimal, byte by byte, and the fraction's digits (empty without a
/// point); `None` without a whole digit, or for a byte that is neither digit nor point.
fn whole_seconds(digits: &[u8]) -> Option<(i64, &[u8])> {
    let mut secs: i64 = 0;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => secs = secs.checked_mul(10)?.checked_add(i64::from(b - b'0'))?,
            b'.' if i > 0 => return Some((secs, digits.get(i + 1..).unwrap_or_default())),
            _ => return None,
        }
    }
    (!digits.is_empty()).then_some((secs, &[][..]))
}

/// The record's region: its `Region` member, else the first ARN with a region, else the
/// default.
fn region<'r>(
    raw: &'r RawJob<'_>,
    default_region: Option<&'r Region>,
) -> Result<&'r str, RecordError> {
    const EXPECTED: &str = "a non-empty string";
    if let Some(name) = optional_str(RecordField::Region, raw.region.as_ref(), EXPECTED)? {
        if name.is_empty() {
            return Err(RecordError::invalid(RecordField::Region, name, EXPECTED));
        }
        return Ok(name);
    }
    let arns = [
        (RecordField::BackupVaultArn, raw.backup_vault_arn.as_ref()),
        (
            RecordField::SourceBackupVaultArn,
            raw.source_backup_vault_arn.as_ref(),
        ),
        (
            RecordField::RecoveryPointArn,
            raw.recovery_point_arn.as_ref(),
        ),
        (RecordField::ResourceArn, raw.resource_arn.as_ref()),
    ];
    for (field, arn) in arns {
        if let Some(name) = optional_str(field, arn, "an ARN string")?.and_then(arn_region) {
            return Ok(name);
        }
    }
    default_region
        .map(Region::as_str)
        .ok_or(RecordError::Missing {
            field: RecordField::Region,
        })
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
    field: RecordField,
    value: Option<&'v Scalar<'_>>,
    expected: &'static str,
) -> Result<&'v str, RecordError> {
    optional_str(field, value, expected)?.ok_or(RecordError::Missing { field })
}

/// An optional string member: `None` when absent or `null`.
fn optional_str<'v>(
    field: RecordField,
    value: Option<&'v Scalar<'_>>,
    expected: &'static str,
) -> Result<Option<&'v str>, RecordError> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s)),
        Some(other) => Err(RecordError::invalid(field, &other.to_string(), expected)),
    }
}

/// A [`RecordError::Malformed`] from a parser error on one JSON Lines line: the message and
/// its column.
pub(super) fn malformed_in_line(e: &serde_json::Error) -> RecordError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    malformed_detail(match full.strip_suffix(&suffix) {
        Some(message) => format!("{message} at column {}", e.column()),
        None => full,
    })
}

/// A [`RecordError::Malformed`] from a parser error, placed at `line` and `column` of the
/// whole input (the parser saw only a piece of it).
pub(super) fn malformed_at(e: &serde_json::Error, line: usize, column: usize) -> RecordError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    malformed_detail(match full.strip_suffix(&suffix) {
        Some(message) => format!("{message} at line {line} column {column}"),
        None => full,
    })
}

/// A [`RecordError::Malformed`] with this detail, cut to 200 characters.
pub(super) fn malformed_detail(detail: String) -> RecordError {
    let detail = match detail.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => detail.get(..end).unwrap_or_default().to_owned(),
        None => detail,
    };
    RecordError::Malformed {
        detail: detail.into(),
    }
}

/// The list member of `op`'s list-jobs output.
pub(super) fn jobs_member(op: Operation) -> &'static str {
    op.wire().jobs
}

/// JSON whitespace (RFC 8259): space, tab, line feed, carriage return.
pub(super) fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl Relocation {
    /// The place in the whole input of `line` and `column` in the envelope.
    fn apply(self, line: usize, column: usize) -> (usize, usize) {
        if self.line == 0 || line < self.line {
            (line, column)
        } else if line == self.line {
            (line + self.lines, column + self.columns)
        } else {
            (line + self.lines, column)
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
            Self::Decimal(s) => f.write_str(s),
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
        while let Some(is_status) = map.next_key_seed(KeySeed(|k: &str| k == STATUS))? {
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

impl<'de, T, F: FnOnce(&str) -> T> DeserializeSeed<'de> for KeySeed<F> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, T, F: FnOnce(&str) -> T> Visitor<'de> for KeySeed<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(v))
    }
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with a {} list", jobs_member(self.0.op))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        let list = jobs_member(sink.op);
        while let Some(key) = map.next_key_seed(KeySeed(|k: &str| document_key(sink.op, k)))? {
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

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_, '_> {
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
            match check(sink.op, &raw, sink.default_region).and_then(|f| sink.out.job(&f)) {
                Ok(()) => {}
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

/// What a document's top-level member `key` is to `op`.
fn document_key(op: Operation, key: &str) -> Key {
    match Operation::ALL
        .iter()
        .copied()
        .find(|&other| jobs_member(other) == key)
    {
        Some(other) if other == op => Key::List,
        Some(other) => Key::Foreign(jobs_member(other)),
        None => Key::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_results_lists_every_status() {
        let names: Vec<&str> = ScanResultStatus::ALL.iter().map(|s| s.as_str()).collect();
        let (last, rest) = names.split_last().map_or(("", &[][..]), |(l, r)| (*l, r));
        assert_eq!(SCAN_RESULTS, format!("{} or {last}", rest.join(", ")));
    }

    #[test]
    fn decimals_truncate_towards_zero() {
        let cases: [(&str, Option<i64>); 19] = [
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
            ("-", None),
            ("-.5", None),
            ("1.2.3", None),
            ("1.5x", None),
            ("9223372036854775807", None),
            ("0.1", Some(100)),
            ("007.05", Some(7_050)),
        ];
        for (text, ms) in cases {
            assert_eq!(millis_of_decimal(text), ms, "{text:?}");
        }
    }

    #[test]
    fn ten_digit_seconds_equal_the_byte_loop() {
        // The two-word path against the byte loop alone, around its edges.
        let byte_loop = |text: &str| {
            let (negative, digits) = match text.as_bytes().split_first() {
                Some((b'-', rest)) => (true, rest),
                _ => (false, text.as_bytes()),
            };
            let (secs, fraction) = whole_seconds(digits)?;
            let total = secs * 1000 + fraction_millis(fraction)?;
            Some(if negative { -total } else { total })
        };
        let mut cases: Vec<String> = [
            "1794182340.973",
            "1794182340",
            "1794182340.",
            "-1794182340.5",
            "9999999999.999999",
            "0000000000.001",
            "17941823400",
            "179418234",
            "1794182340..1",
            "1794182340.9e",
            "1794182340x",
        ]
        .map(String::from)
        .to_vec();
        for at in 0..14 {
            for b in [b'0', b'9', b'/', b':', b'.', b'-', b'a', b' '] {
                let mut t = b"1794182340.973".to_vec();
                t[at] = b;
                cases.push(String::from_utf8_lossy(&t).into_owned());
            }
        }
        for text in cases {
            assert_eq!(millis_of_decimal(&text), byte_loop(&text), "{text:?}");
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
