//! The socket under hyper: it tells the connection driver when request bytes arrive (for the
//! header-read and idle timeouts), and it answers hyper's own error responses in the SPEC §9
//! shape.
//!
//! hyper answers a request it cannot parse by itself, before any service runs: `400` for a
//! malformed head, `431` for a head over the limit, `414` for an over-long target, each with an
//! empty body. Every response this server's handler writes carries `x-amzn-RequestId`, so a
//! response head of one of those three statuses *without* it is hyper's; [`Guarded`] sends the
//! JSON error with `x-amzn-ErrorType` and `x-amzn-RequestId` in its place. hyper closes the
//! connection after such an error, so the replacement says `connection: close`.
//!
//! Where it cannot see: hyper's error head is recognised at the start of a write (or of one
//! buffer of a vectored write), which is where hyper puts a new response head unless the
//! previous response had no body (only a `HEAD` request's does) and is still unflushed. A
//! malformed request pipelined right behind a `HEAD` may therefore still get hyper's empty
//! error.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use backup_summaries::wire::ApiError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::conn::Activity;
use super::RequestIds;

/// `x-amzn-ErrorType` of a request hyper could not parse.
const BAD_REQUEST: &str = "BadRequestException";
/// `x-amzn-ErrorType` of a request target over the limit.
pub(super) const URI_TOO_LONG: &str = "UriTooLongException";
/// `x-amzn-ErrorType` of a request head over the limit.
const HEAD_TOO_LARGE: &str = "RequestHeaderFieldsTooLargeException";

/// A client connection's socket, watched (see the module docs).
#[derive(Debug)]
pub(super) struct Guarded {
    stream: TcpStream,
    activity: Arc<Activity>,
    ids: Arc<RequestIds>,
    /// The most bytes a request head may have (hyper's limit), for the 431 message.
    head_limit: usize,
    /// A replacement error response still to send, and how much of it is sent.
    pending: Vec<u8>,
    sent: usize,
}

impl Guarded {
    pub(super) fn new(
        stream: TcpStream,
        activity: Arc<Activity>,
        ids: Arc<RequestIds>,
        head_limit: usize,
    ) -> Self {
        Self {
            stream,
            activity,
            ids,
            head_limit,
            pending: Vec::new(),
            sent: 0,
        }
    }

    /// Sends what is left of a replacement response.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }

    /// If `buf` is hyper's own error head, queues the JSON response instead and returns
    /// `true` (the caller then reports `buf` as written).
    fn replace_hyper_error(&mut self, buf: &[u8]) -> bool {
        let Some(status) = hyper_error_status(buf) else {
            return false;
        };
        let error = match status {
            414 => ApiError::new(
                URI_TOO_LONG,
                414,
                "request target too long: a request head may have at most 65534 bytes of target",
            ),
            431 => ApiError::new(
                HEAD_TOO_LARGE,
                431,
                format!(
                    "request head too large: the request line and headers may have at most {} bytes",
                    self.head_limit
                ),
            ),
            _ => ApiError::new(
                BAD_REQUEST,
                400,
                "malformed HTTP/1.1 request: expected a request line, headers and an empty line",
            ),
        };
        self.pending = closing_response(&error, &self.ids.issue());
        self.sent = 0;
        true
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.on_bytes();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if this.replace_hyper_error(buf) {
            // Sent by poll_pending now or on the next write, flush or shutdown.
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        match bufs.iter().position(|b| hyper_error_status(b).is_some()) {
            Some(0) => {
                let first: &[u8] = &bufs[0];
                this.replace_hyper_error(first);
                if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(first.len()))
            }
            // Send what comes before hyper's head; the head comes first in the next call.
            Some(k) => Pin::new(&mut this.stream).poll_write_vectored(cx, &bufs[..k]),
            None => Pin::new(&mut this.stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

/// The status of `buf` if it starts with a response head of status 400, 414 or 431 that has
/// no `x-amzn-RequestId` header: the automatic answer hyper gives to a request it cannot parse.
fn hyper_error_status(buf: &[u8]) -> Option<u16> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let status = match rest.get(..4)? {
        b"400 " => 400,
        b"414 " => 414,
        b"431 " => 431,
        _ => return None,
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &buf[..end];
    let ours = head
        .windows(b"\r\nx-amzn-requestid:".len())
        .any(|w| w.eq_ignore_ascii_case(b"\r\nx-amzn-requestid:"));
    (!ours).then_some(status)
}

/// `error` as a complete HTTP/1.1 response that closes the connection.
pub(super) fn closing_response(error: &ApiError, request_id: &str) -> Vec<u8> {
    let wire = error.to_response(request_id);
    let reason = match wire.status {
        400 => "Bad Request",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", wire.status).into_bytes();
    for (name, value) in &wire.headers {
        out.extend_from_slice(name.to_ascii_lowercase().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            wire.body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&wire.body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_hyper_error_heads_only() {
        let hyper_431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(hyper_error_status(hyper_431), Some(431));
        assert_eq!(
            hyper_error_status(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"),
            Some(400)
        );
        // The handler's own errors carry a request id.
        assert_eq!(
            hyper_error_status(
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-amzn-requestid: 1\r\n\r\n{}"
            ),
            None
        );
        for other in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n", // no end of head: not a head
            b"{\"Code\":\"x\"}",
            b"",
        ] {
            assert_eq!(hyper_error_status(other), None, "{other:?}");
        }
    }

    #[test]
    fn replacement_is_a_complete_closing_json_response() -> Result<(), String> {
        let bytes = closing_response(&ApiError::new(BAD_REQUEST, 400, "bad"), "req-1");
        let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no head end")?;
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        for line in [
            "x-amzn-errortype: BadRequestException",
            "x-amzn-requestid: req-1",
            "connection: close",
            "content-type: application/json",
        ] {
            assert!(head.lines().any(|l| l == line), "{line} missing in {head}");
        }
        let length = format!("content-length: {}", body.len());
        assert!(head.lines().any(|l| l == length), "{head}");
        assert_eq!(body, r#"{"Code":"BadRequestException","Message":"bad"}"#);
        Ok(())
    }
}
