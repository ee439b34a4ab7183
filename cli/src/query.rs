//! `query`: one request answered in process, as the server would answer it.
//!
//! The request goes through [`Service::handle`] (method GET, the operation's path, the query
//! string built from `--param`); its body is printed. `--all-pages` follows the NextToken
//! pages and prints one body with every row. `--timing --repeat N` measures the request N
//! times, each from scratch (see [`answer_from_scratch`]).

use std::io::{self, Write as _};
use std::time::Instant;

use backup_summaries::wire::{path_for_operation, write_page, write_rows, Request, Service};
use backup_summaries::{
    summarize, AccountId, Caller, Cursor, Operation, Page, Query, QueryError, UnixMillis,
};
use clap::{Args, ValueEnum};

use crate::clock;
use crate::data::{parse_account, DataArgs};
use crate::error::Failure;

/// The request id of the in-process request.
const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000001";

/// Options of `query`.
#[derive(Args, Debug)]
pub(crate) struct QueryArgs {
    /// Which summaries to list
    #[arg(long, value_enum)]
    operation: OperationArg,
    #[command(flatten)]
    data: DataArgs,
    /// Account making the request (default: --default-account)
    #[arg(long, value_name = "ID", value_parser = parse_account)]
    caller: Option<AccountId>,
    /// A query parameter, e.g. State=FAILED or AggregationPeriod=SEVEN_DAYS (repeatable)
    #[arg(long = "param", value_name = "Name=Value", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Follow NextToken to the last page and print one body with every row
    #[arg(long)]
    all_pages: bool,
    /// Print load and per-query times (milliseconds) on stderr
    #[arg(long)]
    timing: bool,
    /// With --timing: answer the query this many times
    #[arg(long, value_name = "N", default_value_t = 1, requires = "timing",
          value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
}

/// The four list operations, as spelled on the command line.
#[derive(Clone, Copy, Debug, Eq, PartialEq, ValueEnum)]
pub(crate) enum OperationArg {
    /// ListBackupJobSummaries
    Backup,
    /// ListCopyJobSummaries
    Copy,
    /// ListRestoreJobSummaries
    Restore,
    /// ListScanJobSummaries
    Scan,
}

impl OperationArg {
    /// The library's operation.
    pub(crate) fn operation(self) -> Operation {
        match self {
            Self::Backup => Operation::Backup,
            Self::Copy => Operation::Copy,
            Self::Restore => Operation::Restore,
            Self::Scan => Operation::Scan,
        }
    }
}

/// Answers the query and prints the body on stdout.
pub(crate) fn run(args: &QueryArgs) -> Result<(), Failure> {
    let op = args.operation.operation();
    let now = args.data.now.unwrap_or_else(clock::system_now);
    let query_string = encode(&args.params);
    // The jobs this one query can count (a query that does not parse is refused by the
    // service after loading, as it would be by a server: every job is loaded then). A page
    // after the first is counted at its token's pinned clock, up to a token's lifetime
    // before `now`: then the operation alone decides.
    let only = Query::from_pairs_with_paging(op, form_urlencoded::parse(query_string.as_bytes()))
        .ok()
        .map(|(query, paging)| {
            let window = paging
                .next_token()
                .is_none()
                .then(|| query.creation_window(now));
            (op, window)
        });
    let load_started = Instant::now();
    let dataset = args.data.load(now, Service::new(), true, only)?;
    let load_ms = load_started.elapsed().as_secs_f64() * 1e3;
    let caller = dataset.caller(
        args.caller.unwrap_or(args.data.default_account),
        args.data.region.clone(),
    );
    let service = &dataset.service;
    let request = Request::get(path_for_operation(op), &caller, now)
        .with_query(&query_string)
        .with_request_id(REQUEST_ID);
    let response = service.handle(&request);
    if response.status != 200 {
        return Err(Failure::Rejected(response.body));
    }
    let body = if args.timing {
        eprintln!("load_ms={load_ms:.3} jobs={}", dataset.jobs);
        let mut body = Vec::new();
        for _ in 0..args.repeat {
            let started = Instant::now();
            body = answer_from_scratch(service, op, &query_string, &caller, now, args.all_pages)
                .map_err(Failure::error)?;
            eprintln!("query_ms={:.3}", started.elapsed().as_secs_f64() * 1e3);
        }
        body
    } else if args.all_pages {
        answer_from_scratch(service, op, &query_string, &caller, now, true)
            .map_err(Failure::error)?
    } else {
        response.body
    };
    print_body(&body)
}

/// `--param Name=Value`: split at the first `=` (the value may contain more).
fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected Name=Value, e.g. State=FAILED, got {s:?}")),
    }
}

/// The raw query string, percent-encoded (`application/x-www-form-urlencoded`).
fn encode(params: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// Answers the request from scratch: parses the query string, resolves the NextToken,
/// aggregates the table, cuts the page (or, with `all_pages`, walks every page from there)
/// and writes the body.
///
/// This bypasses the [`Service`]'s summary cache on purpose, so that `--timing` measures a
/// full aggregation every time; the bytes are the ones [`Service::handle`] sends.
fn answer_from_scratch(
    service: &Service,
    op: Operation,
    query_string: &str,
    caller: &Caller,
    now: UnixMillis,
    all_pages: bool,
) -> Result<Vec<u8>, QueryError> {
    let lifetime = service.token_lifetime();
    let (query, paging) =
        Query::from_pairs_with_paging(op, form_urlencoded::parse(query_string.as_bytes()))?;
    let cursor = Cursor::resolve(&query, &paging, caller, now, lifetime)?;
    let summary = summarize(&query, caller, cursor.pinned_now(), service.table(op));
    let mut body = Vec::new();
    if !all_pages {
        write_page(&summary.page(&cursor, paging.max_results()), &mut body);
        return Ok(body);
    }
    let mut pages: Vec<Page<'_>> = Vec::new();
    let mut cursor = cursor;
    loop {
        let page = summary.page(&cursor, paging.max_results());
        let next = page
            .next_token()
            .map(|token| Cursor::from_token(token, &query, caller, now, lifetime))
            .transpose()?;
        pages.push(page);
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    write_rows(
        op,
        query.period(),
        pages.iter().flat_map(Page::rows),
        None,
        &mut body,
    );
    Ok(body)
}

/// Prints a response body and a newline on stdout. A closed pipe (`| head`) is not an error.
fn print_body(body: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match out
        .write_all(body)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
    {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Failure::error(format!("stdout: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_param("State=FAILED"),
            Ok(("State".into(), "FAILED".into()))
        );
        assert_eq!(
            parse_param("NextToken=a=b"),
            Ok(("NextToken".into(), "a=b".into()))
        );
        assert_eq!(
            parse_param("ResourceType="),
            Ok(("ResourceType".into(), String::new()))
        );
        assert!(parse_param("State").is_err());
        assert!(parse_param("=x").is_err());
    }

    #[test]
    fn query_strings_are_form_encoded() {
        let params = [
            ("ResourceType".to_owned(), "EBS volume&x".to_owned()),
            ("State".to_owned(), "ANY".to_owned()),
        ];
        assert_eq!(encode(&params), "ResourceType=EBS+volume%26x&State=ANY");
        assert_eq!(encode(&[]), "");
    }
}
