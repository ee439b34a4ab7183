//! Properties of streaming ingest (SPEC §2, issue 9): cutting an input into blocks of any size
//! and chunks for any number of threads gives exactly the serial parse, jobs and error alike
//! (the lowest position wins), for JSON Lines, documents and bare lists, valid or not.

#![cfg(feature = "wire")]

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

use backup_summaries::wire::{parse_jobs, IngestError, JobStream};
use backup_summaries::{
    summarize, AccountId, Caller, JobRecord, JobTable, Operation, Organization, Query, Region,
    Tally, UnixMillis,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

/// Records, good and bad, in the shapes the list APIs print and some they do not.
const RECORDS: [&str; 24] = [
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000.123,"Region":"us-east-1","MessageCategory":"SUCCESS"}"#,
    // A category in mixed case: tables fold it (SPEC §3), on every path.
    r#"{"BackupJobId":"j-1","AccountId":"000000000042","State":"FAILED","ResourceType":"RDS","CreationDate":1795690000,"MessageCategory":"Access_Denied"}"#,
    r#"{ "AccountId" : "123456789012" , "State" : "RUNNING", "ResourceType": "EFS", "CreationDate": "2026-11-26T10:00:00.5Z" }"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"E\u0042S","CreationDate":1795690000,"BackupVaultArn":"arn:aws:backup:eu-west-1:1:backup-vault:x"}"#,
    r#"{"Whatever":{"deep":[1,{"x":"]}[,"}]},"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"Ω≈ç 😀","CreationDate":1795690000.9999999999}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000,"Note":"a, b ] } \" ["}"#,
    "{\"AccountId\":\"123456789012\",\n \"State\":\"COMPLETED\",\n \"ResourceType\":\"EBS\",\n \"CreationDate\":1795690000}",
    r#"{"AccountId":"12","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETING","ResourceType":"EBS","CreationDate":1795690000}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS"}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000123}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","AccountId":"123456789012","ResourceType":"EBS","CreationDate":1}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1795690000"#,
    r#"["123456789012","COMPLETED"]"#,
    "7",
    "",
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"","CreationDate":1}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"BackupJobId":""}"#,
    "{\"AccountId\":\"123456789012\",\"State\":\"COMPLETED\",\"ResourceType\":\"E\u{0}S\",\"CreationDate\":1}",
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":-1e3}"#,
    r#"{"AccountId":"123456789012","State":"COMPLETED","ResourceType":"EBS","CreationDate":1,"Region":"r"} x"#,
    r#"{"detail-type":"Backup Job State Change","account":"123456789012","region":"eu-west-1","time":"2026-11-26T10:00:00Z","detail":{"backupJobId":"b-1","state":"RUNNING","resourceType":"EBS","creationDate":"2026-11-26T09:00:00Z"}}"#,
    r#"{"detail-type":"Copy Job State Change","account":"123456789012","region":"eu-west-1","time":"2026-11-26T10:00:00Z","detail":{}}"#,
];

/// An input: records (by index into [`RECORDS`]) laid out as JSON Lines, a document or a bare
/// list, with optional noise.
#[derive(Debug, Clone)]
struct Input {
    records: Vec<usize>,
    layout: u8,
    crlf: bool,
    bom: bool,
    /// Insert this byte at this fraction of the input, if any.
    noise: Option<(u8, u16)>,
}

fn input() -> impl Strategy<Value = Input> {
    (
        prop::collection::vec(prop_oneof![8 => 0..8usize, 1 => 0..RECORDS.len()], 0..12),
        0..5u8,
        any::<bool>(),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.2, (any::<u8>(), any::<u16>())),
    )
        .prop_map(|(records, layout, crlf, bom, noise)| Input {
            records,
            layout,
            crlf,
            bom,
            noise,
        })
}

fn render(input: &Input) -> Vec<u8> {
    let records: Vec<&str> = input
        .records
        .iter()
        .filter_map(|&i| RECORDS.get(i).copied())
        .collect();
    let eol = if input.crlf { "\r\n" } else { "\n" };
    let text = match input.layout {
        0 | 1 => records
            .iter()
            .filter(|r| input.layout == 1 || !r.contains('\n'))
            .map(|r| format!("{r}{eol}"))
            .collect::<String>(),
        2 => format!(
            "{{\"NextToken\": null,{eol} \"BackupJobs\": [{eol}  {}{eol}]}}{eol}",
            records.join(&format!(",{eol}  "))
        ),
        3 => format!("[{}]", records.join(",")),
        _ => format!(
            "{{\"BackupJobs\":[{}],\"NextToken\":\"x\"}}",
            records.join(",")
        ),
    };
    let mut bytes = Vec::new();
    if input.bom {
        bytes.extend_from_slice(b"\xEF\xBB\xBF");
    }
    bytes.extend_from_slice(text.as_bytes());
    if let Some((byte, at)) = input.noise {
        let at = usize::from(at) * bytes.len() / usize::from(u16::MAX).max(1);
        bytes.insert(at.min(bytes.len()), byte);
    }
    bytes
}

/// Drives a [`JobStream`] as the CLI does: blocks of the given sizes (cycled), `parts` chunks
/// a cut, the rest of each buffer carried into the next.
fn chunked(
    op: Operation,
    input: &[u8],
    region: &Region,
    limit: usize,
    blocks: &[usize],
    parts: usize,
) -> Result<Vec<JobRecord>, IngestError> {
    let mut stream = JobStream::new(op, Some(region)).with_max_record(limit);
    let mut records = Vec::new();
    let mut buf = Vec::new();
    let mut read = 0;
    for block in blocks.iter().cycle() {
        let end = (read + block.max(&1)).min(input.len());
        buf.extend_from_slice(input.get(read..end).unwrap_or_default());
        read = end;
        let at_eof = read == input.len();
        let cut = stream.cut(&buf, at_eof, parts)?;
        let consumed = cut.consumed();
        for chunk in cut.chunks() {
            stream.merge(chunk.parse_records(&mut records))?;
        }
        buf.drain(..consumed);
        if at_eof && (buf.is_empty() || consumed == 0) {
            break;
        }
    }
    stream.finish()?;
    Ok(records)
}

/// Drives a [`JobStream`] as the CLI does with `--ignore-job-ids`: chunk `i` of every cut is
/// counted into tally `i` (the jobs `keep` keeps). With `pieces` (line counts, cycled), once
/// a cut shows JSON Lines the rest of the input is cut by the caller instead, as the CLI's
/// pieces are: runs of whole lines of those counts (none included), each made a chunk with
/// [`JobStream::lines_chunk`] and counted into the tallies in turn. Returns the jobs parsed
/// and the tallies.
fn counted(
    input: &[u8],
    region: &Region,
    blocks: &[usize],
    parts: usize,
    pieces: &[usize],
    keep: impl Fn(UnixMillis) -> bool + Copy,
) -> Result<(usize, Vec<Tally>), IngestError> {
    let op = Operation::Backup;
    let mut stream = JobStream::new(op, Some(region));
    let mut tallies: Vec<Tally> = Vec::new();
    let mut buf = Vec::new();
    let mut read = 0;
    for block in blocks.iter().cycle() {
        let end = (read + block.max(&1)).min(input.len());
        buf.extend_from_slice(input.get(read..end).unwrap_or_default());
        read = end;
        let at_eof = read == input.len();
        let cut = stream.cut(&buf, at_eof, parts)?;
        let consumed = cut.consumed();
        tallies.resize_with(tallies.len().max(cut.chunks().len()), || Tally::new(op));
        for (chunk, tally) in cut.chunks().iter().zip(tallies.iter_mut()) {
            stream.merge(chunk.count_into(tally, keep))?;
        }
        if !pieces.is_empty() && !at_eof && stream.lines_chunk(&[]).is_some() {
            let from = read - buf.len() + consumed;
            let rest = input.get(from..).unwrap_or_default();
            // Every line with its line feed; the last one without, if the input lacks it.
            let lines: Vec<&[u8]> = rest.split_inclusive(|&b| b == b'\n').collect();
            tallies.resize_with(tallies.len().max(1), || Tally::new(op));
            let mut at = 0;
            for (k, n) in pieces.iter().cycle().enumerate() {
                if at == lines.len() {
                    break;
                }
                // Empty pieces too, but not only: every cycle takes a line at least.
                let n = if pieces.iter().all(|&n| n == 0) {
                    1
                } else {
                    *n
                };
                let take = n.min(lines.len() - at);
                let bytes: usize = lines.iter().skip(at).take(take).map(|l| l.len()).sum();
                let start: usize = lines.iter().take(at).map(|l| l.len()).sum();
                at += take;
                let piece = rest.get(start..start + bytes).unwrap_or_default();
                // `None` cannot be (the stream reads JSON Lines); if it were, no jobs: a
                // failure.
                let Some(chunk) = stream.lines_chunk(piece) else {
                    return Ok((0, tallies));
                };
                let tally = k % tallies.len();
                stream.merge(chunk.count_into(&mut tallies[tally], keep))?;
            }
            return Ok((stream.finish()?, tallies));
        }
        buf.drain(..consumed);
        if at_eof && (buf.is_empty() || consumed == 0) {
            break;
        }
    }
    Ok((stream.finish()?, tallies))
}

/// Every cell of `table`, by a query splitting every dimension over the 14 days to `now`.
fn cells(table: &JobTable, now: UnixMillis) -> Result<Vec<backup_summaries::Row>, TestCaseError> {
    let query = Query::from_pairs(
        Operation::Backup,
        [
            ("AccountId", "ANY"),
            ("State", "ANY"),
            ("ResourceType", "ANY"),
            ("MessageCategory", "ANY"),
        ],
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let fail = |e: backup_summaries::RecordError| TestCaseError::fail(e.to_string());
    let management = AccountId::parse("123456789012").map_err(fail)?;
    let member = AccountId::parse("000000000042").map_err(fail)?;
    let caller = Caller::new(management, Region::parse("ap-south-1").map_err(fail)?)
        .with_organization(Organization::new(management).with_accounts([member]));
    Ok(summarize(&query, &caller, now, table).to_rows())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn counting_into_tallies_equals_the_serial_parse(
        input in input(),
        blocks in prop::collection::vec(1..400usize, 1..6),
        parts in 1..5usize,
        pieces in prop::collection::vec(0..4usize, 0..4),
        days_back in 0..3i64,
    ) {
        // Records are created on 2026-11-26 or in 1970: a window of the last 14 days to a
        // `now` on 2026-11-26, 27 or 28 keeps some and leaves others out.
        let bytes = render(&input);
        let region = Region::parse("ap-south-1").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let now = UnixMillis::new(1_795_910_399_000 - days_back * 86_400_000);
        let window = Query::from_pairs(Operation::Backup, [("State", "ANY")])
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .creation_window(now);
        let serial = parse_jobs(Operation::Backup, &bytes, Some(&region));
        let got = counted(&bytes, &region, &blocks, parts, &pieces, |at| window.contains(at));
        match (serial, got) {
            (Ok(records), Ok((jobs, tallies))) => {
                prop_assert_eq!(jobs, records.len());
                // The tallies merged into one, which is added to a table.
                let fail = |e: backup_summaries::BatchError| TestCaseError::fail(e.to_string());
                let mut all = Tally::new(Operation::Backup);
                for t in &tallies {
                    all.merge(t).map_err(fail)?;
                }
                let mut table = JobTable::new(Operation::Backup);
                table.add_tally(&all).map_err(fail)?;
                let anonymous: Vec<JobRecord> = records
                    .iter()
                    .filter(|r| window.contains(r.creation_date()))
                    .map(|r| r.clone().with_job_id(None))
                    .collect();
                let expected = JobTable::from_records(Operation::Backup, &anonymous)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(all.jobs(), anonymous.len() as u64);
                prop_assert_eq!(table.len(), expected.len());
                prop_assert_eq!(cells(&table, now)?, cells(&expected, now)?);
            }
            (Err(serial), Err(got)) => prop_assert_eq!(got, serial),
            (serial, got) => prop_assert!(
                false,
                "serial {:?}, counted {:?}: {}",
                serial.map(|r| r.len()),
                got.map(|(n, _)| n),
                String::from_utf8_lossy(&bytes)
            ),
        }
    }

    #[test]
    fn any_cut_equals_the_serial_parse(
        input in input(),
        blocks in prop::collection::vec(1..400usize, 1..6),
        parts in 1..5usize,
    ) {
        let bytes = render(&input);
        let region = Region::parse("ap-south-1").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let serial = parse_jobs(Operation::Backup, &bytes, Some(&region));
        let streamed = chunked(Operation::Backup, &bytes, &region, 64 << 20, &blocks, parts);
        prop_assert_eq!(&streamed, &serial, "{}", String::from_utf8_lossy(&bytes));
        let whole = chunked(Operation::Backup, &bytes, &region, 64 << 20, &[bytes.len()], 1);
        prop_assert_eq!(whole, serial);
    }

    #[test]
    fn the_size_limit_cuts_the_same_everywhere(
        input in input(),
        blocks in prop::collection::vec(1..400usize, 1..6),
        parts in 1..5usize,
        limit in 20..200usize,
    ) {
        let bytes = render(&input);
        let region = Region::parse("ap-south-1").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let serial = chunked(Operation::Backup, &bytes, &region, limit, &[bytes.len()], 1);
        let streamed = chunked(Operation::Backup, &bytes, &region, limit, &blocks, parts);
        prop_assert_eq!(streamed, serial, "{}", String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_bytes_cut_anywhere_equal_the_serial_parse(
        bytes in prop::collection::vec(prop_oneof![
            4 => prop::sample::select(b"{}[],:\" \n\\0aA".to_vec()),
            1 => any::<u8>(),
        ], 0..200),
        blocks in prop::collection::vec(1..50usize, 1..6),
        parts in 1..4usize,
    ) {
        let region = Region::parse("ap-south-1").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let serial = parse_jobs(Operation::Backup, &bytes, Some(&region));
        let streamed = chunked(Operation::Backup, &bytes, &region, 64 << 20, &blocks, parts);
        prop_assert_eq!(streamed, serial);
    }
}
