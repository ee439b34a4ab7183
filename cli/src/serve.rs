//! `serve`: a local REST-JSON endpoint that AWS SDKs and the AWS CLI can talk to.
//!
//! Every request (any method, any path) goes through [`Service::handle`](backup_summaries::wire::Service::handle); the server only
//! works out the caller from the `Authorization` header, reads the clock (unless `--now`
//! pins it), issues a request id and copies the [`WireResponse`] into the HTTP response.
//!
//! Robustness, so that a slow or hostile client cannot take the server down:
//! - hyper is driven per connection ([`conn`]), with a header-read timeout, an idle
//!   keep-alive timeout and a 64 KiB head limit;
//! - every error, hyper's own parse errors included ([`guard`]), has the SPEC §9 shape;
//! - at most `--max-concurrent` requests compute at once, at most `--max-queued` wait for a
//!   slot, and any more are answered `503 ServiceUnavailableException` at once; requests that
//!   compute nothing (unknown path, wrong method) need no slot;
//! - SIGTERM or SIGINT stops accepting, lets in-flight requests finish for at most
//!   `--shutdown-grace`, closes the job store, then exits 0; a second signal exits at once.
//!
//! Live jobs (SPEC §11): `POST /ingest/<kind>-jobs` applies list-API records and EventBridge
//! events ([`ingest`]), behind a bearer token or on loopback only; with `--data-dir` every
//! accepted change is in the job store before the `200`, and a restart rebuilds the tables
//! from it. Jobs past `--retain-days` are expired at start and then every `--expire-every`.

mod conn;
mod guard;
mod ingest;

use std::io::{self, Write as _};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use backup_summaries::wire::{
    ingested_response, operation_for_ingest_path, operation_for_path, ApiError, Request, Service,
    WireResponse,
};
use backup_summaries::{AccountId, Operation, Region, UnixMillis, DEFAULT_RETENTION_DAYS};
use clap::Args;
use http_body_util::{BodyExt as _, Limited};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::auth::Credential;
use crate::clock;
use crate::data::{DataArgs, Dataset};
use crate::error::Failure;

/// The longest request target (path and query string) answered: 16 KiB. Longer ones get
/// `414 UriTooLongException`.
const MAX_TARGET_BYTES: usize = 16 << 10;

/// Options of `serve`.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4566")]
    listen: String,
    /// Seconds a client has to send a complete request head, from connecting or from the
    /// first byte of a request; slower connections are closed
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    header_timeout: Duration,
    /// Seconds an idle keep-alive connection is kept open
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_seconds)]
    idle_timeout: Duration,
    /// Requests computed at once (default: the number of CPUs)
    #[arg(long, value_name = "N")]
    max_concurrent: Option<NonZeroUsize>,
    /// Requests waiting for a computation slot; beyond that, `503 ServiceUnavailableException`
    #[arg(long, value_name = "N", default_value = "64")]
    max_queued: usize,
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_seconds)]
    shutdown_grace: Duration,
    /// Testing aid: every computation takes at least this many more milliseconds
    #[arg(long, value_name = "MS", hide = true)]
    debug_compute_delay_ms: Option<u64>,
    /// Keep every accepted ingest change in a database in this directory (created if
    /// missing), and rebuild the jobs from it at start; without it, ingested jobs live in
    /// memory only
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Require `Authorization: Bearer TOKEN` on ingest requests; without a token, ingest is
    /// served only on a loopback address
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BACKUP_SUMMARIES_INGEST_TOKEN",
        hide_env_values = true
    )]
    ingest_token: Option<String>,
    /// Largest ingest body accepted, in bytes; larger ones get 413
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_body_bytes: usize,
    /// Seconds a client has to send a whole ingest body once its head is read; slower ones
    /// get 408 (so a slow upload cannot hold a request slot for long)
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_seconds)]
    body_timeout: Duration,
    /// Days of jobs kept before today; older ones are expired at start and periodically
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RETENTION_DAYS)]
    retain_days: u32,
    /// Testing aid: the fewest store log entries that trigger a merge
    #[arg(long, value_name = "N", hide = true)]
    debug_store_log_limit: Option<u64>,
    /// Seconds between expiry runs
    #[arg(long, value_name = "SECS", default_value = "3600", value_parser = parse_seconds)]
    expire_every: Duration,
    #[command(flatten)]
    data: DataArgs,
}

/// What every request handler shares.
#[derive(Debug)]
struct AppState {
    /// The organization (its `service` is moved into `service` below).
    dataset: Dataset,
    /// Every job table: queries read, ingest writes only to apply a checked batch.
    service: RwLock<Service>,
    /// The write path: parsing, the store, the ingest mutex.
    writer: ingest::Writer,
    /// `--ingest-token`, if any.
    token: Option<String>,
    max_body_bytes: usize,
    body_timeout: Duration,
    retain_days: u32,
    default_account: AccountId,
    default_region: Region,
    now: Option<UnixMillis>,
    ids: Arc<RequestIds>,
    limits: Limits,
}

/// The bound on work in progress: `admitted` has a permit for every request computing or
/// waiting (`--max-concurrent` + `--max-queued`), `computing` one per computation slot.
#[derive(Debug)]
struct Limits {
    admitted: Arc<Semaphore>,
    computing: Arc<Semaphore>,
    slots: usize,
    queue: usize,
    delay: Option<Duration>,
}

/// Request ids shaped like UUIDs: a per-process prefix and a counter.
#[derive(Debug)]
struct RequestIds {
    prefix: u32,
    next: AtomicU64,
}

/// Runs the server until SIGTERM or SIGINT (see the module docs).
pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    let started = clock::system_now();
    let now = args.data.now.unwrap_or(started);
    if args.ingest_token.as_deref() == Some("") {
        return Err(Failure::error(
            "--ingest-token (or BACKUP_SUMMARIES_INGEST_TOKEN) is empty: give a secret, or none",
        ));
    }
    let mut service = Service::new();
    for &op in Operation::ALL {
        let table = std::mem::replace(service.table_mut(op), backup_summaries::JobTable::new(op));
        *service.table_mut(op) = table.with_retention_days(args.retain_days);
    }
    let store = match &args.data_dir {
        Some(dir) => {
            let store = ingest::open(dir, &mut service)?;
            Some(match args.debug_store_log_limit {
                Some(n) => store.with_log_limit(n),
                None => store,
            })
        }
        None => {
            eprintln!(
                "jobs live in memory only (no --data-dir): ingested jobs are lost when the server stops"
            );
            None
        }
    };
    // Job files are applied on top of the stored jobs, as upserts; they are not stored.
    let mut dataset = args
        .data
        .load(now, service, args.data_dir.is_none(), None)?;
    let mut service = std::mem::take(&mut dataset.service);
    for &op in Operation::ALL {
        let _ = service.table_mut(op).expire(now);
    }
    let slots = args
        .max_concurrent
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get)
        .min(Semaphore::MAX_PERMITS);
    let state = Arc::new(AppState {
        dataset,
        service: RwLock::new(service),
        writer: ingest::Writer::new(store),
        token: args.ingest_token.clone(),
        max_body_bytes: args.max_body_bytes,
        body_timeout: args.body_timeout,
        retain_days: args.retain_days,
        default_account: args.data.default_account,
        default_region: args.data.region.clone(),
        now: args.data.now,
        ids: Arc::new(RequestIds {
            // The low 32 bits of the start time tell runs apart.
            prefix: u32::try_from(started.as_millis().rem_euclid(1 << 32)).unwrap_or(0),
            next: AtomicU64::new(1),
        }),
        limits: Limits {
            admitted: Arc::new(Semaphore::new(
                slots
                    .saturating_add(args.max_queued)
                    .min(Semaphore::MAX_PERMITS),
            )),
            computing: Arc::new(Semaphore::new(slots)),
            slots,
            queue: args.max_queued,
            delay: args.debug_compute_delay_ms.map(Duration::from_millis),
        },
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::error(format!("cannot start the async runtime: {e}")))?;
    let timeouts = conn::Timeouts {
        header: args.header_timeout,
        idle: args.idle_timeout,
    };
    let served = runtime.block_on(serve(
        &args.listen,
        Arc::clone(&state),
        timeouts,
        args.shutdown_grace,
        args.expire_every,
    ));
    // Computations still running after the grace period are abandoned, not awaited.
    runtime.shutdown_background();
    // Durable storage (SPEC §11) is closed here: after the last request has finished or been
    // abandoned (an abandoned ingest holds the store until its transaction ends).
    state.writer.close();
    served
}

/// Binds, announces the address, and serves until a shutdown signal.
async fn serve(
    listen: &str,
    state: Arc<AppState>,
    timeouts: conn::Timeouts,
    grace: Duration,
    expire_every: Duration,
) -> Result<(), Failure> {
    // Watch the signals before announcing the address, so that none is missed.
    let mut signals = Signals::new()?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::error(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::error(format!("cannot read the bound address: {e}")))?;
    if state.token.is_none() && !addr.ip().is_loopback() {
        return Err(Failure::error(format!(
            "refusing to serve ingest on {addr}, which is not a loopback address, without a \
             token: give --ingest-token TOKEN (or BACKUP_SUMMARIES_INGEST_TOKEN), or listen \
             on 127.0.0.1"
        )));
    }
    let ids = Arc::clone(&state.ids);
    tokio::spawn(expire_periodically(Arc::clone(&state), expire_every));
    let app = Router::new().fallback(handle).with_state(state);
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on http://{addr}")
            .and_then(|()| out.flush())
            .map_err(|e| Failure::error(format!("stdout: {e}")))?;
    }
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let signal = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Small responses: send them without waiting for an ACK.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(conn::drive(
                        stream,
                        app.clone(),
                        Arc::clone(&ids),
                        timeouts,
                        stopped.clone(),
                    ));
                }
                // Out of file descriptors, or a connection reset before it was accepted:
                // keep serving the others, and give the system a moment.
                Err(e) => {
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            signal = signals.recv() => break signal,
        }
    };
    drop(listener);
    eprintln!(
        "{signal}: shutting down ({} connections open, at most {:.1}s to finish)",
        connections.len(),
        grace.as_secs_f64()
    );
    tokio::spawn(async move {
        let again = signals.recv().await;
        eprintln!("{again} again: exiting at once");
        std::process::exit(EXIT_SECOND_SIGNAL);
    });
    // Idle connections and half-sent requests close now; busy ones after their response.
    let _ = stop.send(true);
    let finished = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        eprintln!(
            "{} connections still busy after {:.1}s: closing them",
            connections.len(),
            grace.as_secs_f64()
        );
        connections.abort_all();
    }
    Ok(())
}

/// Expires jobs past retention now (the store's first expiry, a scan of every stored job,
/// runs here rather than before the server answers) and then every `every`.
async fn expire_periodically(state: Arc<AppState>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let state = Arc::clone(&state);
        let _ = tokio::task::spawn_blocking(move || {
            let now = state.now.unwrap_or_else(clock::system_now);
            state.writer.expire(&state.service, state.retain_days, now);
        })
        .await;
    }
}

/// The exit status after a second SIGTERM or SIGINT: 130, as a shell reports an
/// interrupted command.
const EXIT_SECOND_SIGNAL: i32 = 130;

/// SIGINT and SIGTERM, watched from start-up on.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let watch = |kind: SignalKind| {
                signal(kind).map_err(|e| Failure::error(format!("cannot watch signals: {e}")))
            };
            Ok(Self {
                interrupt: watch(SignalKind::interrupt())?,
                terminate: watch(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next signal's name.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        }
    }
}

/// Answers one request through the library.
async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = state.ids.issue();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    if path.len() + query.len() > MAX_TARGET_BYTES {
        let error = ApiError::new(
            guard::URI_TOO_LONG,
            414,
            format!("request target too long: at most {MAX_TARGET_BYTES} bytes of path and query string"),
        );
        return to_http(error.to_response(&request_id));
    }
    if path.starts_with("/ingest/") {
        return ingest_request(state, method, &path, &headers, body, request_id).await;
    }
    let credential = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(Credential::from_authorization)
        .unwrap_or_default();
    let caller = state.dataset.caller(
        credential.account.unwrap_or(state.default_account),
        credential
            .region
            .unwrap_or_else(|| state.default_region.clone()),
    );
    let now = state.now.unwrap_or_else(clock::system_now);
    // An unknown path or a method other than GET is answered without computing anything:
    // no slot needed, so these never wait behind aggregations.
    if method != Method::GET || operation_for_path(&path).is_none() {
        let request = Request::get(&path, &caller, now)
            .with_method(method.as_str())
            .with_query(&query)
            .with_request_id(&request_id);
        return to_http(ingest::read(&state.service).handle(&request));
    }
    let limits = &state.limits;
    let Ok(admitted) = Arc::clone(&limits.admitted).try_acquire_owned() else {
        return unavailable(
            &request_id,
            &format!(
                "too many requests in progress ({} computing, {} waiting): retry later",
                limits.slots, limits.queue
            ),
        );
    };
    let Ok(computing) = Arc::clone(&limits.computing).acquire_owned().await else {
        return unavailable(&request_id, "the server is shutting down");
    };
    let shared = Arc::clone(&state);
    let id_for_errors = request_id.clone();
    // Aggregating a large table is CPU work: keep it off the async workers. The permits
    // move into the task, so they are held until the computation ends even if the client
    // goes away first.
    let answered = tokio::task::spawn_blocking(move || {
        let _permits = (admitted, computing);
        if let Some(delay) = shared.limits.delay {
            std::thread::sleep(delay);
        }
        let request = Request::get(&path, &caller, now)
            .with_method(method.as_str())
            .with_query(&query)
            .with_request_id(&request_id);
        ingest::read(&shared.service).handle(&request)
    })
    .await;
    match answered {
        Ok(response) => to_http(response),
        Err(_) => unavailable(&id_for_errors, "internal error while answering the request"),
    }
}

/// Answers `POST /ingest/<kind>-jobs` (SPEC §11): token, size limit, then the write path
/// ([`ingest::Writer::stage`], then [`ingest::Writer::commit`]) off the async workers, under
/// the same limits as queries.
async fn ingest_request(
    state: Arc<AppState>,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: Body,
    request_id: String,
) -> Response {
    let error = |e: ApiError| to_http(e.to_response(&request_id));
    let Some(op) = operation_for_ingest_path(path) else {
        return error(ApiError::new(
            "UnknownOperationException",
            404,
            format!(
                "unknown ingest path {:?}: expected POST on /ingest/backup-jobs, \
                 /ingest/copy-jobs, /ingest/restore-jobs or /ingest/scan-jobs",
                path.chars().take(64).collect::<String>()
            ),
        ));
    };
    if method != Method::POST {
        let mut response = error(ApiError::new(
            "MethodNotAllowedException",
            405,
            format!("method {method} not allowed on {path}: expected POST"),
        ));
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("POST"));
        return response;
    }
    if let Some(token) = &state.token {
        let given = headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
        if !ingest::authorized(given, token.as_bytes()) {
            return error(ApiError::new(
                ingest::UNAUTHORIZED,
                401,
                "ingest needs the header Authorization: Bearer <the server's ingest token>",
            ));
        }
    }
    let too_large = || {
        ApiError::new(
            ingest::TOO_LARGE,
            413,
            format!(
                "the body is larger than {} bytes (--max-body-bytes): send fewer records per request",
                state.max_body_bytes
            ),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        return error(too_large());
    }
    let limits = &state.limits;
    let Ok(admitted) = Arc::clone(&limits.admitted).try_acquire_owned() else {
        return unavailable(
            &request_id,
            &format!(
                "too many requests in progress ({} computing, {} waiting): retry later",
                limits.slots, limits.queue
            ),
        );
    };
    let read = Limited::new(body, state.max_body_bytes).collect();
    let Ok(read) = tokio::time::timeout(state.body_timeout, read).await else {
        return error(ApiError::new(
            "RequestTimeoutException",
            408,
            format!(
                "the body did not arrive within {:.1}s (--body-timeout)",
                state.body_timeout.as_secs_f64()
            ),
        ));
    };
    let bytes = match read {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return error(too_large()),
        Err(e) => {
            return error(ApiError::new(
                "InvalidParameterValueException",
                400,
                format!("cannot read the request body: {e}"),
            ))
        }
    };
    let Ok(computing) = Arc::clone(&limits.computing).acquire_owned().await else {
        return unavailable(&request_id, "the server is shutting down");
    };
    let shared = Arc::clone(&state);
    let id = request_id.clone();
    let done = tokio::task::spawn_blocking(move || {
        let staged = ingest::Writer::stage(op, &bytes, &shared.default_region);
        // Parsing was the computation; waiting for the group commit (an fsync) is not, so
        // the slot goes to the next request while this one waits, queued by `admitted`.
        drop(computing);
        let answer = staged.and_then(|staged| shared.writer.commit(&shared.service, staged));
        drop(admitted);
        match answer {
            Ok(applied) => ingested_response(&id, &applied),
            Err(e) => e.to_response(&id),
        }
    })
    .await;
    match done {
        Ok(response) => to_http(response),
        Err(_) => unavailable(&request_id, "internal error while ingesting"),
    }
}

/// `503 ServiceUnavailableException`: load shed at once (issue 10; SPEC §8 names the
/// exception, with 500).
fn unavailable(request_id: &str, message: &str) -> Response {
    to_http(ApiError::overloaded(message).to_response(request_id))
}

/// Copies a [`WireResponse`] into an HTTP response. Header names are sent in lower case
/// (HTTP/1.1 names are case-insensitive).
fn to_http(response: WireResponse) -> Response {
    let mut http = Response::new(Body::from(response.body));
    *http.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            http.headers_mut().append(name, value);
        }
    }
    http
}

/// `--header-timeout`, `--idle-timeout`, `--shutdown-grace`: seconds, fractions allowed,
/// more than 0 and at most a day.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected seconds, e.g. 10 or 0.5"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "invalid duration {s:?}: expected more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl RequestIds {
    /// The next id, e.g. `5f0e3a21-0000-4000-8000-000000000001`.
    fn issue(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.prefix,
            n & 0xffff_ffff_ffff
        )
    }
}
