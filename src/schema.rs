//! The four operations and their dimension schemas (SPEC §1).
//!
//! One generic pipeline serves all four operations; what differs between them is data here,
//! in one table with one entry per operation (`Spec`): which dimensions an operation has
//! ([`Operation::fields`], and from them its query parameters, [`Operation::has_param`]),
//! which states its jobs can be in ([`Operation::states`]), its stable code and its wire
//! spellings (paths and members, read only by the `wire` layer). The packed code of the
//! scan-only dimensions (`scan_code`) is defined here too. Nothing in this module allocates.

use std::fmt;

/// One of the four job-summary operations.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Operation {
    /// ListBackupJobSummaries.
    Backup,
    /// ListCopyJobSummaries.
    Copy,
    /// ListRestoreJobSummaries.
    Restore,
    /// ListScanJobSummaries.
    Scan,
}

/// A dimension a summary row can carry besides time and region, in row order (SPEC §1, §6).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Field {
    /// The job's account.
    AccountId,
    /// The job's state.
    State,
    /// The protected resource's type.
    ResourceType,
    /// The job's message category (backup and copy).
    MessageCategory,
    /// The malware scanner (scan).
    MalwareScanner,
    /// The scan result (scan).
    ScanResultStatus,
}

/// A job state (SPEC §1). Which states an operation accepts is [`Operation::states`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum State {
    /// `ABORTED`.
    Aborted,
    /// `ABORTING`.
    Aborting,
    /// `CANCELED`.
    Canceled,
    /// `COMPLETED`.
    Completed,
    /// `COMPLETED_WITH_ISSUES`.
    CompletedWithIssues,
    /// `COMPLETING`.
    Completing,
    /// `CREATED`.
    Created,
    /// `EXPIRED`.
    Expired,
    /// `FAILED`.
    Failed,
    /// `FAILING`.
    Failing,
    /// `PARTIAL`.
    Partial,
    /// `PENDING`.
    Pending,
    /// `RUNNING`.
    Running,
}

/// The malware scanner of a scan job (SPEC §1).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum MalwareScanner {
    /// `GUARDDUTY`.
    GuardDuty,
}

/// The result of a scan job (SPEC §1).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum ScanResultStatus {
    /// `NO_THREATS_FOUND`.
    NoThreatsFound,
    /// `THREATS_FOUND`.
    ThreatsFound,
    /// `UNKNOWN`: in the current AWS SDK models, not in older botocore.
    Unknown,
}

/// A query parameter, by its AWS name: a dimension ([`Field`]) or one of the three parameters
/// that are not dimensions. Which parameters an operation has follows from its
/// [`fields`](Operation::fields) ([`Operation::has_param`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Param {
    /// A dimension: `AccountId`, `State`, `ResourceType`, `MessageCategory`,
    /// `MalwareScanner` or `ScanResultStatus`.
    Field(Field),
    /// `AggregationPeriod`.
    AggregationPeriod,
    /// `MaxResults`.
    MaxResults,
    /// `NextToken`.
    NextToken,
}

/// A field of a job record as an error names it ([`RecordError::field`](crate::RecordError::field)):
/// a member of a list-API record (SPEC §2), of an EventBridge event (SPEC §11), or a
/// whole-batch concern. [`RecordField::as_str`] is the spelling the messages use.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum RecordField {
    /// The job's account (`AccountId`).
    AccountId,
    /// The job's region (`Region`).
    Region,
    /// The job's state (`State`).
    State,
    /// A restore job's state (`Status`, list-restore-jobs).
    Status,
    /// The protected resource's type (`ResourceType`).
    ResourceType,
    /// When the job was created (`CreationDate`).
    CreationDate,
    /// The message category (`MessageCategory`).
    MessageCategory,
    /// The malware scanner (`MalwareScanner`).
    MalwareScanner,
    /// A scan job's result object (`ScanResult`).
    ScanResult,
    /// A scan job's result (`ScanResult.ScanResultStatus`).
    ScanResultStatus,
    /// A job id given in Rust ([`JobId`](crate::JobId)).
    JobId,
    /// A backup job's id (`BackupJobId`).
    BackupJobId,
    /// A copy job's id (`CopyJobId`).
    CopyJobId,
    /// A restore job's id (`RestoreJobId`).
    RestoreJobId,
    /// A scan job's id (`ScanJobId`).
    ScanJobId,
    /// `BackupVaultArn`, read for its region.
    BackupVaultArn,
    /// `SourceBackupVaultArn`, read for its region.
    SourceBackupVaultArn,
    /// `RecoveryPointArn`, read for its region.
    RecoveryPointArn,
    /// `ResourceArn`, read for its region.
    ResourceArn,
    /// An event's `detail-type`.
    DetailType,
    /// An event's `account`.
    Account,
    /// An event's `region`.
    EventRegion,
    /// An event's `time` (its version).
    Time,
    /// An event's `detail` object.
    Detail,
    /// A backup job event's `detail.backupJobId`.
    DetailBackupJobId,
    /// A copy job event's `detail.copyJobId`.
    DetailCopyJobId,
    /// A restore job event's `detail.restoreJobId`.
    DetailRestoreJobId,
    /// A scan job event's `detail.scanJobId`.
    DetailScanJobId,
    /// An event's `detail.state`.
    DetailState,
    /// A restore job event's `detail.status`.
    DetailStatus,
    /// An event's `detail.resourceType`.
    DetailResourceType,
    /// An event's `detail.creationDate`.
    DetailCreationDate,
    /// An event's `detail.messageCategory`.
    DetailMessageCategory,
    /// The operation of a batch or table (merging batches or tables of different operations).
    Operation,
    /// A batch as a whole (applying it would overflow a table).
    Batch,
}

impl RecordField {
    /// The spelling in messages: the member as written in the input, e.g. `CreationDate`,
    /// `ScanResult.ScanResultStatus` or `detail.state`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccountId => "AccountId",
            Self::Region => "Region",
            Self::State => "State",
            Self::Status => "Status",
            Self::ResourceType => "ResourceType",
            Self::CreationDate => "CreationDate",
            Self::MessageCategory => "MessageCategory",
            Self::MalwareScanner => "MalwareScanner",
            Self::ScanResult => "ScanResult",
            Self::ScanResultStatus => "ScanResult.ScanResultStatus",
            Self::JobId => "JobId",
            Self::BackupJobId => "BackupJobId",
            Self::CopyJobId => "CopyJobId",
            Self::RestoreJobId => "RestoreJobId",
            Self::ScanJobId => "ScanJobId",
            Self::BackupVaultArn => "BackupVaultArn",
            Self::SourceBackupVaultArn => "SourceBackupVaultArn",
            Self::RecoveryPointArn => "RecoveryPointArn",
            Self::ResourceArn => "ResourceArn",
            Self::DetailType => "detail-type",
            Self::Account => "account",
            Self::EventRegion => "region",
            Self::Time => "time",
            Self::Detail => "detail",
            Self::DetailBackupJobId => "detail.backupJobId",
            Self::DetailCopyJobId => "detail.copyJobId",
            Self::DetailRestoreJobId => "detail.restoreJobId",
            Self::DetailScanJobId => "detail.scanJobId",
            Self::DetailState => "detail.state",
            Self::DetailStatus => "detail.status",
            Self::DetailResourceType => "detail.resourceType",
            Self::DetailCreationDate => "detail.creationDate",
            Self::DetailMessageCategory => "detail.messageCategory",
            Self::Operation => "Operation",
            Self::Batch => "Batch",
        }
    }
}

impl fmt::Display for RecordField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that distinguishes one operation (SPEC §1, §2, §9–§11), one entry per
/// operation: its dimensions, states, stable code and wire spellings. The rest of the crate
/// derives these facts from here ([`Operation::spec`]) instead of matching on the operation.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The AWS operation name, e.g. `ListBackupJobSummaries`.
    name: &'static str,
    /// A stable small number, used in cursor fingerprints.
    code: u8,
    /// The dimensions besides time and region, in row order.
    fields: &'static [Field],
    /// The states, in the order of the AWS model.
    states: &'static [State],
    /// The AWS spellings the `wire` layer needs.
    #[cfg(feature = "wire")]
    wire: WireNames,
}

/// The AWS spellings of one operation on the wire (SPEC §1, §2, §9, §11).
#[cfg(feature = "wire")]
#[derive(Debug)]
pub(crate) struct WireNames {
    /// What one job is called in messages, e.g. `backup job`.
    pub(crate) noun: &'static str,
    /// The `GET` path, e.g. `/audit/backup-job-summaries`.
    pub(crate) path: &'static str,
    /// The output list member, e.g. `BackupJobSummaries`.
    pub(crate) summaries: &'static str,
    /// The list member of the list-jobs output, e.g. `BackupJobs`.
    pub(crate) jobs: &'static str,
    /// The job id member of a list-jobs record, e.g. `BackupJobId`.
    pub(crate) job_id: RecordField,
    /// The state member of a list-jobs record: `State` (`Status` for restore).
    pub(crate) state: RecordField,
    /// The ingest path (SPEC §11), e.g. `/ingest/backup-jobs`.
    pub(crate) ingest_path: &'static str,
    /// The EventBridge detail-type of its job state change events, if AWS sends them.
    pub(crate) event: Option<&'static str>,
    /// The job id member of an event's detail, e.g. `detail.backupJobId`.
    pub(crate) event_job_id: RecordField,
    /// The state member of an event's detail: `detail.state` (`detail.status` for restore).
    pub(crate) event_state: RecordField,
}

/// ListBackupJobSummaries.
const BACKUP: Spec = Spec {
    name: "ListBackupJobSummaries",
    code: 1,
    fields: &[
        Field::AccountId,
        Field::State,
        Field::ResourceType,
        Field::MessageCategory,
    ],
    states: &[
        State::Created,
        State::Pending,
        State::Running,
        State::Aborting,
        State::Aborted,
        State::Completed,
        State::Failed,
        State::Expired,
        State::Partial,
    ],
    #[cfg(feature = "wire")]
    wire: WireNames {
        noun: "backup job",
        path: "/audit/backup-job-summaries",
        summaries: "BackupJobSummaries",
        jobs: "BackupJobs",
        job_id: RecordField::BackupJobId,
        state: RecordField::State,
        ingest_path: "/ingest/backup-jobs",
        event: Some("Backup Job State Change"),
        event_job_id: RecordField::DetailBackupJobId,
        event_state: RecordField::DetailState,
    },
};

/// ListCopyJobSummaries.
const COPY: Spec = Spec {
    name: "ListCopyJobSummaries",
    code: 2,
    fields: BACKUP.fields,
    states: &[
        State::Created,
        State::Running,
        State::Aborting,
        State::Aborted,
        State::Completing,
        State::Completed,
        State::Failing,
        State::Failed,
        State::Partial,
    ],
    #[cfg(feature = "wire")]
    wire: WireNames {
        noun: "copy job",
        path: "/audit/copy-job-summaries",
        summaries: "CopyJobSummaries",
        jobs: "CopyJobs",
        job_id: RecordField::CopyJobId,
        state: RecordField::State,
        ingest_path: "/ingest/copy-jobs",
        event: Some("Copy Job State Change"),
        event_job_id: RecordField::DetailCopyJobId,
        event_state: RecordField::DetailState,
    },
};

/// ListRestoreJobSummaries.
const RESTORE: Spec = Spec {
    name: "ListRestoreJobSummaries",
    code: 3,
    fields: &[Field::AccountId, Field::State, Field::ResourceType],
    states: &[
        State::Created,
        State::Pending,
        State::Running,
        State::Aborted,
        State::Completed,
        State::Failed,
    ],
    #[cfg(feature = "wire")]
    wire: WireNames {
        noun: "restore job",
        path: "/audit/restore-job-summaries",
        summaries: "RestoreJobSummaries",
        jobs: "RestoreJobs",
        job_id: RecordField::RestoreJobId,
        state: RecordField::Status,
        ingest_path: "/ingest/restore-jobs",
        event: Some("Restore Job State Change"),
        event_job_id: RecordField::DetailRestoreJobId,
        event_state: RecordField::DetailStatus,
    },
};

/// ListScanJobSummaries.
const SCAN: Spec = Spec {
    name: "ListScanJobSummaries",
    code: 4,
    fields: &[
        Field::AccountId,
        Field::State,
        Field::ResourceType,
        Field::MalwareScanner,
        Field::ScanResultStatus,
    ],
    states: &[
        State::Created,
        State::Running,
        State::Completed,
        State::CompletedWithIssues,
        State::Failed,
        State::Canceled,
    ],
    #[cfg(feature = "wire")]
    wire: WireNames {
        noun: "scan job",
        path: "/audit/scan-job-summaries",
        summaries: "ScanJobSummaries",
        jobs: "ScanJobs",
        job_id: RecordField::ScanJobId,
        state: RecordField::State,
        ingest_path: "/ingest/scan-jobs",
        event: None,
        event_job_id: RecordField::DetailScanJobId,
        event_state: RecordField::DetailState,
    },
};

/// Bits of one scan-only code ([`MalwareScanner::code`], [`ScanResultStatus::code`]): 2, so
/// codes are 1..=3 and 0 means absent.
const SCAN_PART_BITS: u32 = 2;
/// Distinct values of one 2-bit scan-only code, absent included: 4.
pub(crate) const SCAN_PART_CODES: u8 = 1 << SCAN_PART_BITS;
/// Distinct packed scan codes ([`scan_code`]): 16, a nibble.
pub(crate) const SCAN_CODES: usize = 1 << (2 * SCAN_PART_BITS);

/// The packed code of the scan-only dimensions, stored in one slot of the count cube: the
/// scanner's code in bits 0..2, the result's in bits 2..4, each 0 when absent. Codes are
/// below [`SCAN_PART_CODES`] (a unit test checks it); higher bits are masked off.
pub(crate) const fn scan_code(scanner: u8, result: u8) -> u8 {
    let mask = SCAN_PART_CODES - 1;
    (scanner & mask) | ((result & mask) << SCAN_PART_BITS)
}

/// [`scan_code`] of a job's scanner and result.
pub(crate) fn scan_code_of(
    scanner: Option<MalwareScanner>,
    result: Option<ScanResultStatus>,
) -> u8 {
    scan_code(
        scanner.map_or(0, MalwareScanner::code),
        result.map_or(0, ScanResultStatus::code),
    )
}

/// The scanner and result of a packed [`scan_code`].
pub(crate) fn scan_parts(code: u32) -> (Option<MalwareScanner>, Option<ScanResultStatus>) {
    // The low byte, masked to one part's bits: no value is out of range.
    let part = |c: u32| {
        let [low, ..] = c.to_le_bytes();
        low & (SCAN_PART_CODES - 1)
    };
    (
        MalwareScanner::from_code(part(code)),
        ScanResultStatus::from_code(part(code >> SCAN_PART_BITS)),
    )
}

impl Operation {
    /// All four operations, in SPEC order.
    pub const ALL: &'static [Self] = &[Self::Backup, Self::Copy, Self::Restore, Self::Scan];

    /// This operation's row of the per-operation table: the one place its facts live.
    pub(crate) const fn spec(self) -> &'static Spec {
        match self {
            Self::Backup => &BACKUP,
            Self::Copy => &COPY,
            Self::Restore => &RESTORE,
            Self::Scan => &SCAN,
        }
    }

    /// The dimensions of this operation's rows besides time and region, in row order.
    #[must_use]
    pub const fn fields(self) -> &'static [Field] {
        self.spec().fields
    }

    /// Whether this operation's rows carry `field`.
    #[must_use]
    pub fn has_field(self, field: Field) -> bool {
        self.fields().contains(&field)
    }

    /// The states this operation's jobs can be in, in the order of the AWS model.
    #[must_use]
    pub const fn states(self) -> &'static [State] {
        self.spec().states
    }

    /// Whether `state` is one of this operation's states.
    #[must_use]
    pub fn has_state(self, state: State) -> bool {
        self.states().contains(&state)
    }

    /// Whether this operation has the query parameter `param` (SPEC §3): every operation has
    /// the non-dimension parameters, and the dimensions of [`Operation::fields`].
    #[must_use]
    pub fn has_param(self, param: Param) -> bool {
        match param {
            Param::Field(field) => self.has_field(field),
            Param::AggregationPeriod | Param::MaxResults | Param::NextToken => true,
        }
    }

    /// The AWS operation name, e.g. `ListBackupJobSummaries`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// A stable small number for this operation, used in cursor fingerprints.
    #[must_use]
    pub(crate) const fn code(self) -> u8 {
        self.spec().code
    }

    /// The wire spellings of this operation (paths, members), for the `wire` layer.
    #[cfg(feature = "wire")]
    pub(crate) const fn wire(self) -> &'static WireNames {
        &self.spec().wire
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Field {
    /// All fields, in row order.
    pub const ALL: &'static [Self] = &[
        Self::AccountId,
        Self::State,
        Self::ResourceType,
        Self::MessageCategory,
        Self::MalwareScanner,
        Self::ScanResultStatus,
    ];

    /// The AWS member and query parameter name, e.g. `ResourceType`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccountId => "AccountId",
            Self::State => "State",
            Self::ResourceType => "ResourceType",
            Self::MessageCategory => "MessageCategory",
            Self::MalwareScanner => "MalwareScanner",
            Self::ScanResultStatus => "ScanResultStatus",
        }
    }

    /// Position of this field in [`Field::ALL`].
    #[must_use]
    pub(crate) const fn index(self) -> usize {
        match self {
            Self::AccountId => 0,
            Self::State => 1,
            Self::ResourceType => 2,
            Self::MessageCategory => 3,
            Self::MalwareScanner => 4,
            Self::ScanResultStatus => 5,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Param {
    /// Every parameter: the dimensions in [`Field::ALL`] order, then AggregationPeriod,
    /// MaxResults and NextToken.
    pub const ALL: &'static [Self] = &{
        let mut all = [Self::NextToken; Field::ALL.len() + 3];
        let mut i = 0;
        while i < Field::ALL.len() {
            all[i] = Self::Field(Field::ALL[i]);
            i += 1;
        }
        all[i] = Self::AggregationPeriod;
        all[i + 1] = Self::MaxResults;
        all
    };

    /// The AWS parameter name, e.g. `MaxResults`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Field(field) => field.as_str(),
            Self::AggregationPeriod => "AggregationPeriod",
            Self::MaxResults => "MaxResults",
            Self::NextToken => "NextToken",
        }
    }

    /// The parameter named `name` (case-sensitive), if `operation` has it.
    #[must_use]
    pub fn parse(operation: Operation, name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == name)
            .filter(|&p| operation.has_param(p))
    }

    /// Whether this is a paging parameter (MaxResults, NextToken): it chooses the page of an
    /// answer, kept in a [`Paging`](crate::Paging) beside the [`Query`](crate::Query).
    #[must_use]
    pub const fn is_paging(self) -> bool {
        matches!(self, Self::MaxResults | Self::NextToken)
    }

    /// Position of this parameter in [`Param::ALL`].
    #[must_use]
    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Field(field) => field.index(),
            Self::AggregationPeriod => Field::ALL.len(),
            Self::MaxResults => Field::ALL.len() + 1,
            Self::NextToken => Field::ALL.len() + 2,
        }
    }
}

impl From<Field> for Param {
    fn from(field: Field) -> Self {
        Self::Field(field)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl State {
    /// Every state of every operation, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::Aborted,
        Self::Aborting,
        Self::Canceled,
        Self::Completed,
        Self::CompletedWithIssues,
        Self::Completing,
        Self::Created,
        Self::Expired,
        Self::Failed,
        Self::Failing,
        Self::Partial,
        Self::Pending,
        Self::Running,
    ];

    /// The AWS spelling, e.g. `COMPLETED_WITH_ISSUES`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Aborted => "ABORTED",
            Self::Aborting => "ABORTING",
            Self::Canceled => "CANCELED",
            Self::Completed => "COMPLETED",
            Self::CompletedWithIssues => "COMPLETED_WITH_ISSUES",
            Self::Completing => "COMPLETING",
            Self::Created => "CREATED",
            Self::Expired => "EXPIRED",
            Self::Failed => "FAILED",
            Self::Failing => "FAILING",
            Self::Partial => "PARTIAL",
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
        }
    }

    /// The state spelled `s` (case-sensitive) if it is one of `operation`'s states.
    #[must_use]
    pub fn parse(operation: Operation, s: &str) -> Option<Self> {
        operation
            .states()
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
    }

    /// A stable small number (1..=13) for this state, used in compact storage and tokens.
    #[must_use]
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Aborted => 1,
            Self::Aborting => 2,
            Self::Canceled => 3,
            Self::Completed => 4,
            Self::CompletedWithIssues => 5,
            Self::Completing => 6,
            Self::Created => 7,
            Self::Expired => 8,
            Self::Failed => 9,
            Self::Failing => 10,
            Self::Partial => 11,
            Self::Pending => 12,
            Self::Running => 13,
        }
    }

    /// The inverse of [`State::code`].
    #[must_use]
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.code() == code)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MalwareScanner {
    /// Every scanner.
    pub const ALL: &'static [Self] = &[Self::GuardDuty];

    /// The AWS spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GuardDuty => "GUARDDUTY",
        }
    }

    /// The scanner spelled `s` (case-sensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    /// A stable code in 1..=3: it is packed into 2 bits next to the scan result's
    /// ([`scan_code`]), and 0 means absent.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::GuardDuty => 1,
        }
    }

    /// The scanner of a packed code (0 is absent).
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.code() == code)
    }
}

impl fmt::Display for MalwareScanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ScanResultStatus {
    /// Every scan result, in the order of the AWS model.
    pub const ALL: &'static [Self] = &[Self::NoThreatsFound, Self::ThreatsFound, Self::Unknown];

    /// The AWS spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NoThreatsFound => "NO_THREATS_FOUND",
            Self::ThreatsFound => "THREATS_FOUND",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The result spelled `s` (case-sensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    /// A stable code in 1..=3: it is packed into 2 bits next to the scanner's
    /// ([`scan_code`]), and 0 means absent.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::NoThreatsFound => 1,
            Self::ThreatsFound => 2,
            Self::Unknown => 3,
        }
    }

    /// The result of a packed code (0 is absent).
    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.code() == code)
    }
}

impl fmt::Display for ScanResultStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_sets_match_spec() {
        let names = |op: Operation| op.states().iter().map(|s| s.as_str()).collect::<Vec<_>>();
        assert_eq!(
            names(Operation::Backup).join(" "),
            "CREATED PENDING RUNNING ABORTING ABORTED COMPLETED FAILED EXPIRED PARTIAL"
        );
        assert_eq!(
            names(Operation::Copy).join(" "),
            "CREATED RUNNING ABORTING ABORTED COMPLETING COMPLETED FAILING FAILED PARTIAL"
        );
        assert_eq!(
            names(Operation::Restore).join(" "),
            "CREATED PENDING RUNNING ABORTED COMPLETED FAILED"
        );
        assert_eq!(
            names(Operation::Scan).join(" "),
            "CREATED RUNNING COMPLETED COMPLETED_WITH_ISSUES FAILED CANCELED"
        );
    }

    #[test]
    fn state_parse_is_case_sensitive_and_per_operation() {
        assert_eq!(
            State::parse(Operation::Backup, "COMPLETED"),
            Some(State::Completed)
        );
        assert_eq!(State::parse(Operation::Backup, "completed"), None);
        assert_eq!(State::parse(Operation::Backup, "COMPLETING"), None);
        assert_eq!(
            State::parse(Operation::Copy, "COMPLETING"),
            Some(State::Completing)
        );
    }

    #[test]
    fn codes_round_trip() {
        for &s in State::ALL {
            assert_eq!(State::from_code(s.code()), Some(s));
        }
        assert_eq!(State::from_code(0), None);
    }

    #[test]
    fn scan_codes_fit_two_bits_and_are_distinct() {
        // The job table packs both into one nibble (scan_code); 0 is "absent".
        let scanners: Vec<u8> = MalwareScanner::ALL.iter().map(|s| s.code()).collect();
        let results: Vec<u8> = ScanResultStatus::ALL.iter().map(|s| s.code()).collect();
        for codes in [&scanners[..], &results[..]] {
            for (i, c) in codes.iter().enumerate() {
                assert!((1..=3).contains(c), "code {c} does not fit 2 bits");
                assert!(!codes[..i].contains(c), "code {c} is used twice");
            }
        }
    }

    #[test]
    fn scan_result_statuses_match_spec() {
        let names: Vec<&str> = ScanResultStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.join(" "), "NO_THREATS_FOUND THREATS_FOUND UNKNOWN");
        for &s in ScanResultStatus::ALL {
            assert_eq!(ScanResultStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ScanResultStatus::parse("unknown"), None);
        assert_eq!(ScanResultStatus::parse("BOGUS"), None);
    }

    #[test]
    fn field_index_matches_all() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
        }
        for (i, p) in Param::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
        }
    }

    #[test]
    fn params_follow_fields() {
        let names: Vec<&str> = Param::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names.join(" "),
            "AccountId State ResourceType MessageCategory MalwareScanner ScanResultStatus \
             AggregationPeriod MaxResults NextToken"
        );
        assert_eq!(Param::parse(Operation::Restore, "MessageCategory"), None);
        assert_eq!(
            Param::parse(Operation::Scan, "MalwareScanner"),
            Some(Param::Field(Field::MalwareScanner))
        );
        assert_eq!(Param::parse(Operation::Backup, "MalwareScanner"), None);
        assert_eq!(
            Param::parse(Operation::Copy, "MaxResults"),
            Some(Param::MaxResults)
        );
    }

    #[test]
    fn scan_codes_round_trip() {
        for &s in MalwareScanner::ALL {
            for &r in ScanResultStatus::ALL {
                let code = scan_code_of(Some(s), Some(r));
                assert!(usize::from(code) < SCAN_CODES);
                assert_eq!(scan_parts(u32::from(code)), (Some(s), Some(r)));
            }
        }
        assert_eq!(scan_parts(0), (None, None));
    }
}
