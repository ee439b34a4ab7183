//! One client connection: hyper's HTTP/1.1 server over a [`Guarded`] socket, with the
//! timeouts hyper does not have and the shutdown rule of `serve`.
//!
//! A connection is in one of three phases:
//! - **head**: a new connection, or request bytes after an idle spell, until the head is
//!   complete. It is closed if the head takes longer than the header timeout (hyper's own
//!   `header_read_timeout` starts when a keep-alive connection falls idle, so it cannot tell
//!   an idle client from a slow one).
//! - **busy**: the handler is answering. No timeout: the request's work is bounded by the
//!   compute limit, and shutdown by the grace period.
//! - **idle**: the last response is handed to hyper and no new byte has arrived. It is closed
//!   after the idle timeout.
//!
//! On shutdown a busy connection finishes its response and closes; any other connection
//! (idle, or holding a half-sent head) is closed at once.
//!
//! Pipelined requests read in one go can leave the next head half-read while the phase says
//! idle; such a client gets the idle timeout instead of the header timeout.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{service_fn, Service as _};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::guard::Guarded;
use super::RequestIds;

/// The most bytes a request head (request line and headers) may have: 64 KiB.
pub(super) const HEAD_LIMIT: usize = 64 << 10;

/// How long a connection may take in each phase.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeouts {
    /// From the first byte of a request (or from accept) to the end of its head.
    pub(super) header: Duration,
    /// From a response to the first byte of the next request.
    pub(super) idle: Duration,
}

/// Where a connection is (see the module docs), shared by the socket, the service and the
/// driver.
#[derive(Debug)]
pub(super) struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    Head { since: Instant },
    Busy,
    Idle { since: Instant },
}

impl Activity {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Head {
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    /// The handler started: no deadline. The driver is not woken for this (a deadline it
    /// sleeps on finds the connection busy and is not enforced).
    fn set_busy(&self) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Busy;
    }

    /// The response is handed to hyper: the idle timeout starts.
    fn set_idle(&self) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Idle {
            since: Instant::now(),
        };
        self.changed.notify_one();
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: an idle connection starts a request head.
    pub(super) fn on_bytes(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::Head {
                since: Instant::now(),
            };
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// When the connection is to be closed if nothing changes; `None` while busy.
    fn deadline(&self, timeouts: Timeouts) -> Option<Instant> {
        match self.phase() {
            Phase::Head { since } => Some(since + timeouts.header),
            Phase::Idle { since } => Some(since + timeouts.idle),
            Phase::Busy => None,
        }
    }
}

/// Serves one connection until the client closes it, a timeout closes it, or shutdown.
pub(super) async fn drive(
    stream: TcpStream,
    app: Router,
    ids: Arc<RequestIds>,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Guarded::new(stream, Arc::clone(&activity), ids, HEAD_LIMIT));
    let router = TowerToHyperService::new(app);
    let watched = Arc::clone(&activity);
    let service = service_fn(move |request: Request<Incoming>| {
        watched.set_busy();
        let answer = router.call(request);
        let watched = Arc::clone(&watched);
        async move {
            let response: Result<Response<Body>, Infallible> = answer.await;
            watched.set_idle();
            response
        }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .max_buf_size(HEAD_LIMIT)
        .max_header_size(HEAD_LIMIT)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let deadline = activity.deadline(timeouts);
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // Done: the client closed, or hyper gave up on it (a parse error it answered, a
            // reset). Either way there is nothing left to do for this connection.
            _ = conn.as_mut() => return,
            () = activity.changed.notified() => {}
            () = expired => {
                if activity.deadline(timeouts).is_some_and(|at| at <= Instant::now()) {
                    return; // dropping the connection closes the socket
                }
            }
            changed = shutdown.changed(), if !closing => {
                closing = true;
                if changed.is_err() || !matches!(activity.phase(), Phase::Busy) {
                    return;
                }
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}
