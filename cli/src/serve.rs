//! `serve`: a local REST-JSON endpoint that AWS SDKs and the AWS CLI can talk to.
//!
//! Every request (any method, any path) goes through [`Service::handle`](backup_summaries::wire::Service::handle); the server only
//! works out the caller from the `Authorization` header, reads the clock (unless `--now`
//! pins it), issues a request id and copies the [`WireResponse`] into the HTTP response.

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use backup_summaries::wire::{Request, WireResponse};
use backup_summaries::{AccountId, Region, UnixMillis};
use clap::Args;

use crate::auth::Credential;
use crate::clock;
use crate::data::{DataArgs, Dataset};
use crate::error::Failure;

/// Options of `serve`.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4566")]
    listen: String,
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
    ids: RequestIds,
}

/// Request ids shaped like UUIDs: a per-process prefix and a counter.
#[derive(Debug)]
struct RequestIds {
    prefix: u32,
    next: AtomicU64,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    let started = clock::system_now();
    let dataset = args.data.load(args.data.now.unwrap_or(started))?;
    let state = Arc::new(AppState {
        dataset,
        default_account: args.data.default_account,
        default_region: args.data.region.clone(),
        now: args.data.now,
        ids: RequestIds {
            // The low 32 bits of the start time tell runs apart.
            prefix: u32::try_from(started.as_millis().rem_euclid(1 << 32)).unwrap_or(0),
            next: AtomicU64::new(1),
        },
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::error(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(&args.listen, state))
}

/// Binds, announces the address, and serves until a shutdown signal.
async fn serve(listen: &str, state: Arc<AppState>) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::error(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::error(format!("cannot read the bound address: {e}")))?;
    let app = Router::new().fallback(handle).with_state(state);
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on http://{addr}")
            .and_then(|()| out.flush())
            .map_err(|e| Failure::error(format!("stdout: {e}")))?;
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Failure::error(format!("server: {e}")))
}

/// Answers one request through the library.
async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
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
    let request_id = state.ids.issue();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let shared = Arc::clone(&state);
    let id_for_errors = request_id.clone();
    // Aggregating a large table is CPU work: keep it off the async workers.
    let answered = tokio::task::spawn_blocking(move || {
        let request = Request::new(method.as_str(), &path, &query, &caller, &request_id, now);
        shared.dataset.service.handle(&request)
    })
    .await;
    match answered {
        Ok(response) => to_http(response),
        Err(_) => internal_error(&id_for_errors),
    }
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

/// The answer when the library's task did not finish (it panicked): a 500
/// `ServiceUnavailableException`, as SPEC §8 allows servers to send.
fn internal_error(request_id: &str) -> Response {
    let body = r#"{"Code":"ServiceUnavailableException","Message":"internal error while answering the request"}"#;
    let mut http = Response::new(Body::from(body));
    *http.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    let headers = http.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-amzn-errortype",
        HeaderValue::from_static("ServiceUnavailableException"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    http
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM. A signal that cannot be watched never fires.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
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
