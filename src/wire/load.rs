//! Whole inputs in one call: [`parse_jobs`] and [`load_jobs`], [`JobStream`] driven over one
//! buffer (the same cuts and checks as the CLI's parallel reader makes over many).

use crate::batch::Batch;
use crate::jobs::JobTable;
use crate::record::{JobRecord, Region};
use crate::schema::Operation;
use crate::wire::error::{IngestError, Position};
use crate::wire::records::{JobSink, RecordSink};
use crate::wire::stream::JobStream;

/// Parses `input` into `op`'s job records (SPEC §2), all or nothing.
///
/// `default_region` is used for a record with no `Region` member and no ARN with a region.
/// This is [`JobStream`] driven over one buffer; a record (a line, or an element of a
/// document's list) longer than [`MAX_RECORD_BYTES`](crate::wire::MAX_RECORD_BYTES) is
/// rejected.
///
/// # Errors
/// An [`IngestError`] for the first bad record: its [`Position`] (the line of JSON Lines, the
/// index in a document's list) and the [`RecordError`](crate::RecordError) naming the field, or
/// [`RecordError::Malformed`](crate::RecordError::Malformed) for malformed JSON.
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
    let mut sink = RecordSink::default();
    parse_into(op, input, default_region, &mut sink)?;
    Ok(sink.records)
}

/// Parses `input` as [`parse_jobs`] does for `table`'s operation, staging every job in one
/// [`Batch`] (records with a job id are upserts), then applies it: all or nothing. Returns
/// the number of records read.
///
/// # Errors
/// As [`parse_jobs`]; a record the table's operation refuses gets its position too. The
/// table is unchanged on error.
///
/// # Examples
/// ```
/// use backup_summaries::{wire, JobTable, Operation, Region};
/// let mut table = JobTable::new(Operation::Copy);
/// let lines = b"{\"CopyJobId\":\"c-1\",\"AccountId\":\"123456789012\",\"State\":\"RUNNING\",\
///     \"ResourceType\":\"S3\",\"CreationDate\":\"2026-11-26T09:00:00Z\"}\n\
///     {\"CopyJobId\":\"c-1\",\"AccountId\":\"123456789012\",\"State\":\"COMPLETED\",\
///     \"ResourceType\":\"S3\",\"CreationDate\":\"2026-11-26T09:00:00Z\"}\n";
/// let region: Region = "eu-central-1".parse()?; // these records name no region
/// assert_eq!(wire::load_jobs(&mut table, lines, Some(&region))?, 2);
/// assert_eq!(table.len(), 1); // the second record replaced the first (same CopyJobId)
///
/// let bad = b"{\"AccountId\":\"42\"}\n";
/// let e = wire::load_jobs(&mut table, bad, Some(&region)).err().ok_or("accepted")?;
/// assert_eq!(e.to_string(), r#"line 1: invalid AccountId "42": expected exactly 12 digits"#);
/// assert_eq!(table.len(), 1); // unchanged
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_jobs(
    table: &mut JobTable,
    input: &[u8],
    default_region: Option<&Region>,
) -> Result<usize, IngestError> {
    let mut batch = Batch::new(table.operation());
    let n = parse_into(table.operation(), input, default_region, &mut batch)?;
    table
        .apply(batch)
        .map_err(|e| IngestError::new(Position::Index(e.position()), None, e.into_error()))?;
    Ok(n)
}

/// Parses a whole input into `sink`, serially: [`JobStream`] over one buffer, the same cuts
/// and checks the CLI's parallel reader makes over many. Returns the number of jobs.
///
/// # Errors
/// As [`parse_jobs`]. `sink` may have taken some jobs then; the caller drops them.
pub(crate) fn parse_into<S: JobSink + ?Sized>(
    op: Operation,
    input: &[u8],
    default_region: Option<&Region>,
    sink: &mut S,
) -> Result<usize, IngestError> {
    let mut stream = JobStream::new(op, default_region);
    let mut rest = input;
    loop {
        let cut = stream.cut(rest, true, 1)?;
        for chunk in cut.chunks() {
            let done = chunk.parse_into(sink);
            stream.merge(done)?;
        }
        let consumed = cut.consumed();
        // A cut consumes at most its input (JobStream's contract); debug builds assert it. In
        // release a larger count (a bug) ends the input here, and `finish` then reports a
        // document that ended early, or the jobs seen so far.
        debug_assert!(
            consumed <= rest.len(),
            "a cut consumed {consumed} of {} bytes",
            rest.len()
        );
        rest = rest.get(consumed..).unwrap_or_default();
        if consumed == 0 || rest.is_empty() {
            break;
        }
    }
    stream.finish()
}
