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
//!   slot, and any more are answered `500 ServiceUnavailableException` at once; requests that
//!   compute nothing (unknown path, wrong method) need no slot;
//! - SIGTERM or SIGINT stops accepting, lets in-flight requests finish for at most
//!   `--shutdown-grace`, then exits 0; a second signal exits at once.

mod conn;
mod guard;

use std::io::{self, Write as _};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use backup_summaries::wire::{operation_for_path, ApiError, Request, WireResponse};
use backup_summaries::{AccountId, Region, UnixMillis};
use clap::Args;
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
    /// Requests waiting for a computation slot; beyond that, `500 ServiceUnavailableException`
    #[arg(long, value_name = "N", default_value = "64")]
    max_queued: usize,
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_seconds)]
    shutdown_grace: Duration,
    /// Testing aid: every computation takes at least this many more milliseconds
    #[arg(long, value_name = "MS", hide = true)]
    debug_compute_delay_ms: Option<u64>,
    #[command(flatten)]
    data: DataArgs,
}

/// What every request handler shares.
#[derive(Debug)]
struct AppState {
    dataset: Dataset,
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
    let dataset = args.data.load(args.data.now.unwrap_or(started))?;
    let slots = args
        .max_concurrent
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get)
        .min(Semaphore::MAX_PERMITS);
    let state = Arc::new(AppState {
        dataset,
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
    let served = runtime.block_on(serve(&args.listen, state, timeouts, args.shutdown_grace));
    // Computations still running after the grace period are abandoned, not awaited.
    runtime.shutdown_background();
    served
}

/// Binds, announces the address, and serves until a shutdown signal.
async fn serve(
    listen: &str,
    state: Arc<AppState>,
    timeouts: conn::Timeouts,
    grace: Duration,
) -> Result<(), Failure> {
    // Watch the signals before announcing the address, so that none is missed.
    let mut signals = Signals::new()?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::error(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::error(format!("cannot read the bound address: {e}")))?;
    let ids = Arc::clone(&state.ids);
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
    // Durable storage (SPEC §11) is flushed and closed here: after the last request has
    // finished or been abandoned, before the process exits.
    Ok(())
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
        let request = Request::new(method.as_str(), &path, &query, &caller, &request_id, now);
        return to_http(state.dataset.service.handle(&request));
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
        let request = Request::new(method.as_str(), &path, &query, &caller, &request_id, now);
        shared.dataset.service.handle(&request)
    })
    .await;
    match answered {
        Ok(response) => to_http(response),
        Err(_) => unavailable(&id_for_errors, "internal error while answering the request"),
    }
}

/// `500 ServiceUnavailableException` (SPEC §8: servers may send it).
fn unavailable(request_id: &str, message: &str) -> Response {
    to_http(ApiError::service_unavailable(message).to_response(request_id))
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
