//! The four operations and their dimension schemas (SPEC §1).
//!
//! One generic pipeline serves all four operations; what differs between them is data here:
//! which dimensions an operation has ([`Operation::fields`]) and which states its jobs can be
//! in ([`Operation::states`]). Nothing in this module allocates.

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

impl Operation {
    /// All four operations, in SPEC order.
    pub const ALL: &'static [Self] = &[Self::Backup, Self::Copy, Self::Restore, Self::Scan];

    /// The dimensions of this operation's rows besides time and region, in row order.
    #[must_use]
    pub const fn fields(self) -> &'static [Field] {
        match self {
            Self::Backup | Self::Copy => &[
                Field::AccountId,
                Field::State,
                Field::ResourceType,
                Field::MessageCategory,
            ],
            Self::Restore => &[Field::AccountId, Field::State, Field::ResourceType],
            Self::Scan => &[
                Field::AccountId,
                Field::State,
                Field::ResourceType,
                Field::MalwareScanner,
                Field::ScanResultStatus,
            ],
        }
    }

    /// Whether this operation's rows carry `field`.
    #[must_use]
    pub fn has_field(self, field: Field) -> bool {
        self.fields().contains(&field)
    }

    /// The states this operation's jobs can be in, in the order of the AWS model.
    #[must_use]
    pub const fn states(self) -> &'static [State] {
        use State::*;
        match self {
            Self::Backup => &[
                Created, Pending, Running, Aborting, Aborted, Completed, Failed, Expired, Partial,
            ],
            Self::Copy => &[
                Created, Running, Aborting, Aborted, Completing, Completed, Failing, Failed,
                Partial,
            ],
            Self::Restore => &[Created, Pending, Running, Aborted, Completed, Failed],
            Self::Scan => &[
                Created,
                Running,
                Completed,
                CompletedWithIssues,
                Failed,
                Canceled,
            ],
        }
    }

    /// Whether `state` is one of this operation's states.
    #[must_use]
    pub fn has_state(self, state: State) -> bool {
        self.states().contains(&state)
    }

    /// The AWS operation name, e.g. `ListBackupJobSummaries`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "ListBackupJobSummaries",
            Self::Copy => "ListCopyJobSummaries",
            Self::Restore => "ListRestoreJobSummaries",
            Self::Scan => "ListScanJobSummaries",
        }
    }

    /// A stable small number for this operation, used in cursor fingerprints.
    #[must_use]
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Backup => 1,
            Self::Copy => 2,
            Self::Restore => 3,
            Self::Scan => 4,
        }
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

    /// A stable code in 1..=3: it is packed into 2 bits next to the scan result's (`jobs.rs`,
    /// `EXTRA`), and 0 means absent.
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

    /// A stable code in 1..=3: it is packed into 2 bits next to the scanner's (`jobs.rs`,
    /// `EXTRA`), and 0 means absent.
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
        // The job table packs scanner | result << 2 into 4 bits; 0 is "absent".
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
    }
}
