//! What every accepted socket is wrapped in before hyper reads it:
//!
//! - **A header-read timeout**, `head`: a request head must be complete
//!   this long after its first byte (on a new connection: after the accept,
//!   so a client that connects and sends nothing is closed as soon). It
//!   knows a head is complete when the request reaches the service
//!   ([`Guarded::new`]'s counter), so a client kept alive between requests
//!   is not timed by it.
//! - **An idle timeout**, `idle`: a read or write that waits on the client
//!   with no byte moving for this long fails the connection: between
//!   kept-alive requests, or a client that does not *read* (pipelining
//!   requests without reading the answers parks a connection on a full
//!   socket buffer forever), or one that trickles a body.
//! - **hyper's own answers, in our shape.** hyper answers a request head it
//!   cannot parse by itself (`400`, `414`, or `431` once the head outgrows
//!   its buffer or header count) with an empty body, before any layer sees
//!   a request. Those limits are set well above the ones the layers enforce
//!   ([`crate::layers`]), so a browser's oversized request gets the layers'
//!   answer, with CORS. For what is left (a head past hyper's ceiling,
//!   garbage), the bytes hyper writes are replaced by the same JSON
//!   `{code, message}` answer with `nosniff` and `Cache-Control: no-store`;
//!   without a parsed request there is no `Origin` to answer with CORS.
//!   They are recognised as a complete 400/414/431 response head without
//!   `X-Content-Type-Options`, which every answer of the layers carries.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The longest response head hyper writes by itself (status line, `date`,
/// `content-length: 0`).
const MAX_HYPER_ANSWER: usize = 256;

pin_project! {
    /// A socket with a header-read and an idle timeout, whose
    /// hyper-written error answers get the documented shape.
    pub struct Guarded<T> {
        #[pin]
        inner: T,
        idle: Duration,
        last_progress: Instant,
        head: HeadClock,
        timer: Option<Pin<Box<Sleep>>>,
        answer: Option<Replacement>,
    }
}

/// When the request head being received started, if one is.
struct HeadClock {
    limit: Duration,
    /// Requests handed to the service on this connection so far.
    requests: Arc<AtomicU64>,
    /// `requests` as last seen.
    seen: u64,
    /// The head under way started then.
    started: Option<Instant>,
    /// A request was handed over and its answer is not being written yet:
    /// bytes now are its body, or a pipelined next head that waits anyway.
    busy: bool,
    /// Bytes arrived while busy.
    early_bytes: bool,
    /// No line end has arrived since the last request was handed over:
    /// the request line of the head under way is still open.
    line_open: bool,
}

impl HeadClock {
    /// Catches up with the requests handed over: each ends a head.
    fn sync(&mut self) {
        let requests = self.requests.load(Ordering::Relaxed);
        if requests != self.seen {
            self.seen = requests;
            self.started = None;
            self.busy = true;
            self.line_open = true;
        }
    }

    /// Notes `bytes` just read: a line end closes the request line.
    fn scan(&mut self, bytes: &[u8]) {
        self.sync();
        if self.line_open && bytes.contains(&b'\n') {
            self.line_open = false;
        }
    }

    /// Bytes arrived at `now`: they start a head unless one is under way or
    /// a request is.
    fn bytes_arrived(&mut self, now: Instant) {
        self.sync();
        if self.busy {
            self.early_bytes = true;
        } else if self.started.is_none() {
            self.started = Some(now);
        }
    }

    /// Bytes were written at `now`: the answer to the request is going out,
    /// and bytes that came meanwhile are the next head's.
    fn wrote(&mut self, now: Instant) {
        self.sync();
        if self.busy {
            self.busy = false;
            if std::mem::take(&mut self.early_bytes) {
                self.started = Some(now);
            }
        }
    }

    /// When the head under way must be complete, if one is.
    fn deadline(&mut self) -> Option<Instant> {
        self.sync();
        match (self.busy, self.started) {
            (false, Some(start)) => Some(after(start, self.limit)),
            _ => None,
        }
    }
}

/// Our answer, being written in place of hyper's `replaces` bytes.
struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

impl<T> Guarded<T> {
    /// Wraps a socket just accepted. A request head must be complete
    /// `head` after its first byte (the first one: after now); a wait on
    /// the client with no byte moving fails after `idle`. `requests` is
    /// counted up by the service for each request it receives.
    pub fn new(inner: T, head: Duration, idle: Duration, requests: Arc<AtomicU64>) -> Self {
        let now = Instant::now();
        let seen = requests.load(Ordering::Relaxed);
        Guarded {
            inner,
            idle,
            last_progress: now,
            head: HeadClock {
                limit: head,
                requests,
                seen,
                started: Some(now),
                busy: false,
                early_bytes: false,
                line_open: true,
            },
            timer: None,
            answer: None,
        }
    }
}

/// `at + d`, or far in the future when that overflows (a setting of a
/// century must not panic a connection).
fn after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Polls the timer for `deadline`: `Ready(Err)` once it has passed.
fn poll_deadline(
    timer: &mut Option<Pin<Box<Sleep>>>,
    deadline: Instant,
    why: &'static str,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let sleep = match timer {
        Some(sleep) => {
            if sleep.deadline() != deadline {
                sleep.as_mut().reset(deadline);
            }
            sleep
        }
        None => timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
    };
    ready!(sleep.as_mut().poll(cx));
    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why)))
}

/// Polls the timer of a wait on the client: `Ready(Err)` once the head
/// under way is late or no byte has moved for the idle timeout. Reads and
/// writes share the timer, so both arm the earlier deadline.
fn poll_wait(
    timer: &mut Option<Pin<Box<Sleep>>>,
    last: Instant,
    idle: Duration,
    head: &mut HeadClock,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let idle_at = after(last, idle);
    match head.deadline() {
        Some(head_at) if head_at < idle_at => poll_deadline(
            timer,
            head_at,
            "the request head was not complete within the header-read timeout",
            cx,
        ),
        _ => poll_deadline(
            timer,
            idle_at,
            "the client moved no byte for the idle timeout",
            cx,
        ),
    }
}

impl<T: AsyncRead> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        match this.inner.poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    let now = Instant::now();
                    *this.last_progress = now;
                    this.head.bytes_arrived(now);
                    this.head.scan(&buf.filled()[before..]);
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                ready!(poll_wait(
                    this.timer,
                    *this.last_progress,
                    *this.idle,
                    this.head,
                    cx
                ))?;
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite> Guarded<T> {
    /// Writes the replacement answer; `Ready(Ok(n))` reports hyper's `n`
    /// bytes as written once all of ours are.
    fn poll_answer(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut this = self.project();
        loop {
            let Some(answer) = this.answer.as_mut() else {
                return Poll::Ready(Ok(0));
            };
            if answer.written == answer.bytes.len() {
                return Poll::Ready(Ok(answer.replaces));
            }
            match this
                .inner
                .as_mut()
                .poll_write(cx, &answer.bytes[answer.written..])
            {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    answer.written += n;
                    *this.last_progress = Instant::now();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    ready!(poll_wait(
                        this.timer,
                        *this.last_progress,
                        *this.idle,
                        this.head,
                        cx
                    ))?;
                    return Poll::Pending;
                }
            }
        }
    }

    /// Notes the progress of a write to the socket; a pending one waits
    /// for the idle timeout at most.
    fn wrote(
        self: Pin<&mut Self>,
        write: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        match write {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    let now = Instant::now();
                    *this.last_progress = now;
                    this.head.wrote(now);
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                ready!(poll_wait(
                    this.timer,
                    *this.last_progress,
                    *this.idle,
                    this.head,
                    cx
                ))?;
                Poll::Pending
            }
        }
    }

    /// Starts replacing `buf` if it is one of hyper's own error answers.
    fn intercept(self: Pin<&mut Self>, buf: &[u8]) -> bool {
        let this = self.project();
        if this.answer.is_some() {
            return true;
        }
        // hyper says 431 when its buffer is full, also when what filled it
        // is a request line that has not ended: that is a URI too long.
        let uri_too_long = this.head.line_open;
        match shaped_answer(buf, uri_too_long) {
            Some(bytes) => {
                *this.answer = Some(Replacement {
                    bytes,
                    written: 0,
                    replaces: buf.len(),
                });
                true
            }
            None => false,
        }
    }
}

impl<T: AsyncWrite> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.as_mut().intercept(buf) {
            return self.poll_answer(cx);
        }
        let write = self.as_mut().project().inner.poll_write(cx, buf);
        self.wrote(write, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper writes its own answers with nothing else queued: one slice.
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if self.as_mut().intercept(first) {
                return self.poll_answer(cx);
            }
        }
        let write = self.as_mut().project().inner.poll_write_vectored(cx, bufs);
        self.wrote(write, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// Our answer in place of `head`, if `head` is an error answer hyper wrote
/// by itself: a complete, bodiless 400, 414 or 431 head without `nosniff`.
/// With `uri_too_long` (the request line never ended), a 431 is answered
/// as the 414 it is.
pub fn shaped_answer(head: &[u8], uri_too_long: bool) -> Option<Vec<u8>> {
    // Every answer's first write passes here: the cheap tests first.
    if head.len() > MAX_HYPER_ANSWER
        || !matches!(head.get(9..12), Some(b"400" | b"414" | b"431"))
        || !head.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let rest = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))?;
    let status = match rest.get(..3)? {
        "431" if uri_too_long => "414",
        status => status,
    };
    let (code, message, status_line) = match status {
        "400" => (
            "BAD_REQUEST",
            "The request could not be read.",
            "400 Bad Request",
        ),
        "414" => (
            "URI_TOO_LONG",
            "The request URI is too long.",
            "414 URI Too Long",
        ),
        "431" => (
            "HEADERS_TOO_LARGE",
            "The request headers are too large.",
            "431 Request Header Fields Too Large",
        ),
        _ => return None,
    };
    let lower = text.to_ascii_lowercase();
    if lower.contains("x-content-type-options") {
        return None;
    }
    let date = lower
        .find("\r\ndate:")
        .and_then(|at| text[at + 2..].split("\r\n").next())
        .map(|line| format!("{line}\r\n"))
        .unwrap_or_default();
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    Some(
        format!(
            "{} {status_line}\r\ncontent-type: application/json\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n{date}content-length: {}\r\n\r\n{body}",
            &text[..8],
            body.len()
        )
        .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_error_heads_are_replaced_and_ours_are_not() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\n";
        let ours = String::from_utf8(shaped_answer(hyper, false).expect("replaced")).unwrap();
        assert!(ours.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(ours.contains("\r\ndate: Tue, 01 Dec 2026 10:00:00 GMT\r\n"));
        assert!(ours.contains("x-content-type-options: nosniff"));
        let (head, body) = ours.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["code"], "HEADERS_TOO_LARGE");
        for (status, code) in [
            ("400 Bad Request", "BAD_REQUEST"),
            ("414 URI Too Long", "URI_TOO_LONG"),
        ] {
            let head = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            let ours = String::from_utf8(shaped_answer(head.as_bytes(), false).unwrap()).unwrap();
            assert!(ours.contains(code), "{ours}");
        }
        for not_hyper in [
            &b"HTTP/1.1 431 Request Header Fields Too Large\r\nx-content-type-options: nosniff\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 2\r\n\r\n{}",
            b"{\"token\":\"HTTP/1.1 400 \"}",
        ] {
            assert_eq!(shaped_answer(not_hyper, false), None, "{}", String::from_utf8_lossy(not_hyper));
        }
        let late = String::from_utf8(shaped_answer(hyper, true).unwrap()).unwrap();
        assert!(late.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{late}");
        assert!(late.contains("URI_TOO_LONG"));
    }
}
