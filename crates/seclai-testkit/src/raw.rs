//! A tiny scripted HTTP/1.1 server for the cases `httpmock` cannot express.
//!
//! [`RawServer`] listens on `127.0.0.1` with an ephemeral port and serves
//! exactly **one request per connection**: it reads the request completely
//! (head plus a `Content-Length` or `chunked` body), records it as a
//! [`RecordedRequest`], picks a [`Script`] for it and executes that script's
//! [`Action`]s verbatim on the socket. When the script finishes the connection
//! is closed, so the builders below always add `connection: close` unless the
//! caller supplied their own `connection` header.
//!
//! Because scripts are raw bytes, anything is possible: truncated bodies,
//! streams that stall, malformed status lines, slow chunk delivery, and so on.
//!
//! Only `std::net` and `std::thread` are used. Every blocking operation polls a
//! shared stop flag, so dropping the server stops the accept loop, releases hung
//! connections (clients observe EOF) and joins all threads within a few tens of
//! milliseconds.
//!
//! ```
//! use seclai_testkit::raw::{RawServer, Script};
//!
//! let server = RawServer::start(vec![
//!     Script::response(503, &[("retry-after", "0")], "busy"),
//!     Script::json(200, r#"{"ok":true}"#),
//! ]);
//! // Point the client under test at `server.url()`; afterwards inspect
//! // `server.requests()` / `server.hits()`.
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often blocked socket operations wake up to check whether the server is stopping.
const IO_POLL: Duration = Duration::from_millis(25);
/// How long the accept loop sleeps when no connection is pending.
const ACCEPT_POLL: Duration = Duration::from_millis(5);
/// Upper bound on the size of a request head; larger heads get the connection dropped.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The terminating zero-length chunk of a `Transfer-Encoding: chunked` body
/// (with an empty trailer section).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

// ---------------------------------------------------------------------------
// Recorded requests
// ---------------------------------------------------------------------------

/// One request as the [`RawServer`] received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The request target exactly as it appeared on the request line: no
    /// percent-decoding, no normalisation (e.g. `/agents/a%2Fb?x=1&x=2`).
    pub path_and_query: String,
    /// The protocol version from the request line, e.g. `HTTP/1.1`.
    pub version: String,
    /// Header fields in the order received; names keep their original case and
    /// values are trimmed of surrounding whitespace.
    pub headers: Vec<(String, String)>,
    /// The request body, with any chunked transfer coding already removed.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of headers named `name` (ASCII case-insensitive), in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The raw path part of [`path_and_query`](Self::path_and_query) (everything before `?`).
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(p, _)| p)
    }

    /// The raw query string (everything after the first `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, q)| q)
    }

    /// The body decoded as UTF-8, replacing invalid sequences.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

// ---------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------

/// One step of a [`Script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the socket as-is (status line, headers, body
    /// framing: whatever they contain). Each `Write` is a separate write call
    /// on a `TCP_NODELAY` socket, so it leaves the server promptly.
    Write(Vec<u8>),
    /// Pause before the next action. Cut short if the server is dropped.
    Sleep(Duration),
    /// Close the connection immediately and skip any remaining actions
    /// (for example in the middle of a body).
    Close,
    /// Stop responding but keep the connection open until the server is
    /// dropped; remaining actions are skipped.
    Hang,
}

/// The list of [`Action`]s the server performs for one request.
///
/// After the last action the server half-closes and then closes the
/// connection. Use the constructors for common shapes and the chaining
/// methods ([`write`](Self::write), [`sleep`](Self::sleep),
/// [`then_close`](Self::then_close), [`then_hang`](Self::then_hang),
/// [`then`](Self::then)) to build anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    actions: Vec<Action>,
}

impl From<Vec<Action>> for Script {
    fn from(actions: Vec<Action>) -> Self {
        Self { actions }
    }
}

impl Script {
    /// An empty script: the connection is closed without writing anything.
    pub fn new() -> Self {
        Self::default()
    }

    /// A script made of the given actions.
    pub fn from_actions(actions: Vec<Action>) -> Self {
        Self { actions }
    }

    /// The actions of this script, in execution order.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// Appends a [`Action::Write`] of `bytes`.
    pub fn write(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.actions.push(Action::Write(bytes.into()));
        self
    }

    /// Appends a [`Action::Sleep`] of `duration`.
    pub fn sleep(mut self, duration: Duration) -> Self {
        self.actions.push(Action::Sleep(duration));
        self
    }

    /// Appends [`Action::Close`].
    pub fn then_close(mut self) -> Self {
        self.actions.push(Action::Close);
        self
    }

    /// Appends [`Action::Hang`].
    pub fn then_hang(mut self) -> Self {
        self.actions.push(Action::Hang);
        self
    }

    /// Appends all actions of `other`.
    pub fn then(mut self, other: Script) -> Self {
        self.actions.extend(other.actions);
        self
    }

    /// Accept the request, then close the connection without any response.
    pub fn drop_connection() -> Self {
        Self::new().then_close()
    }

    /// Accept the request, then never answer (until the server is dropped).
    pub fn hang() -> Self {
        Self::new().then_hang()
    }

    /// A complete response with a `Content-Length` body.
    ///
    /// `content-length` and `connection: close` are added unless `headers`
    /// already contains a header of that name.
    pub fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        let len = body.len().to_string();
        let headers = with_defaults(headers, &[("content-length", &len)]);
        let mut bytes = head(status, &borrowed(&headers));
        bytes.extend_from_slice(&body);
        Self::new().write(bytes)
    }

    /// A complete response with `content-type: application/json` and the given body text.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::response(status, &[("content-type", "application/json")], body)
    }

    /// A `Transfer-Encoding: chunked` response.
    ///
    /// The head is written first; then, for each `(bytes, delay)` pair, the
    /// server sleeps for `delay` and writes `bytes` as one chunk (empty
    /// `bytes` only sleep, since an empty chunk would end the body). Finally
    /// the terminating zero-length chunk is written. `transfer-encoding` and
    /// `connection` headers are added unless present in `headers`.
    pub fn chunked(
        status: u16,
        headers: &[(&str, &str)],
        chunks: Vec<(Vec<u8>, Duration)>,
    ) -> Self {
        Self::chunked_open(status, headers, chunks).write(LAST_CHUNK)
    }

    /// A `200` `text/event-stream` response (with `cache-control: no-cache`)
    /// delivered with [`Script::chunked`]. Feed it
    /// [`SseScript::into_chunks`](crate::sse::SseScript::into_chunks).
    pub fn event_stream(chunks: Vec<(Vec<u8>, Duration)>) -> Self {
        Self::chunked(200, SSE_HEADERS, chunks)
    }

    /// Like [`Script::event_stream`], but after the last chunk the server goes
    /// silent: no terminating chunk, connection held open until the server is
    /// dropped. Useful for idle/read timeout tests.
    pub fn event_stream_then_hang(chunks: Vec<(Vec<u8>, Duration)>) -> Self {
        Self::chunked_open(200, SSE_HEADERS, chunks).then_hang()
    }

    /// A response that declares `content-length: declared_len` but sends only
    /// `bytes` of body, then closes the connection.
    pub fn partial_body(status: u16, declared_len: usize, bytes: impl Into<Vec<u8>>) -> Self {
        let len = declared_len.to_string();
        let headers = with_defaults(&[], &[("content-length", &len)]);
        Self::new()
            .write(head(status, &borrowed(&headers)))
            .write(bytes)
            .then_close()
    }

    /// Writes `prefix` verbatim (typically a head built with [`head`] plus some
    /// body bytes, or chunks built with [`chunk`]) and then hangs until the
    /// server is dropped.
    pub fn silent_after(prefix: impl Into<Vec<u8>>) -> Self {
        Self::new().write(prefix).then_hang()
    }

    fn chunked_open(
        status: u16,
        headers: &[(&str, &str)],
        chunks: Vec<(Vec<u8>, Duration)>,
    ) -> Self {
        let headers = with_defaults(headers, &[("transfer-encoding", "chunked")]);
        let mut script = Self::new().write(head(status, &borrowed(&headers)));
        for (bytes, delay) in chunks {
            if !delay.is_zero() {
                script = script.sleep(delay);
            }
            if !bytes.is_empty() {
                script = script.write(chunk(&bytes));
            }
        }
        script
    }
}

const SSE_HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
];

/// Returns `headers` plus each of `defaults` whose name is absent, plus
/// `connection: close` if no `connection` header was given.
fn with_defaults(headers: &[(&str, &str)], defaults: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    for (name, value) in defaults.iter().chain(&[("connection", "close")]) {
        if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            out.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    out
}

fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// Builds a response head: `HTTP/1.1 {status} {reason}`, one line per header
/// (exactly as given, nothing added) and the terminating blank line.
pub fn head(status: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Frames `data` as one chunk of a chunked body: hex length, CRLF, data, CRLF.
/// Note that empty `data` produces the terminating chunk.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The standard reason phrase for common status codes (`"Unknown"` otherwise).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

type Handler = dyn Fn(&RecordedRequest) -> Script + Send + Sync + 'static;

enum Responder {
    /// Script `i` answers the `i`-th request; the last one repeats.
    Sequence(Vec<Script>),
    /// A callback decides per request.
    Callback(Box<Handler>),
}

impl Responder {
    fn script_for(&self, index: usize, request: &RecordedRequest) -> Script {
        match self {
            Responder::Sequence(scripts) => scripts
                .get(index)
                .or_else(|| scripts.last())
                .cloned()
                .unwrap_or_default(),
            Responder::Callback(handler) => handler(request),
        }
    }
}

/// A stop flag that sleepers can wait on.
#[derive(Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    fn guard(&self) -> MutexGuard<'_, bool> {
        self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_set(&self) -> bool {
        *self.guard()
    }

    fn set(&self) {
        *self.guard() = true;
        self.wake.notify_all();
    }

    /// Sleeps for `duration`; returns `true` if the stop flag was raised meanwhile.
    fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut stopped = self.guard();
        while !*stopped {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Blocks until the stop flag is raised.
    fn wait(&self) {
        let mut stopped = self.guard();
        while !*stopped {
            stopped = self
                .wake
                .wait(stopped)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

struct Shared {
    responder: Responder,
    stop: StopSignal,
    requests: Mutex<Vec<RecordedRequest>>,
    hits: AtomicUsize,
    connections: AtomicUsize,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// A scripted HTTP/1.1 server on `127.0.0.1:<ephemeral port>`.
///
/// Each accepted connection carries exactly one request; its response is
/// chosen either from a fixed sequence ([`RawServer::start`]) or by a callback
/// ([`RawServer::with_handler`]). Dropping the server stops it and closes all
/// connections, including hung ones.
pub struct RawServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for RawServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawServer")
            .field("addr", &self.addr)
            .field("hits", &self.hits())
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

impl RawServer {
    /// Starts a server answering the `n`-th request (counted in the order
    /// request heads arrive, from 0) with `scripts[n]`; once the list is
    /// exhausted the last script answers every further request.
    ///
    /// # Panics
    ///
    /// Panics if `scripts` is empty or the listener cannot be set up.
    pub fn start(scripts: Vec<Script>) -> Self {
        assert!(
            !scripts.is_empty(),
            "RawServer::start needs at least one script"
        );
        Self::spawn(Responder::Sequence(scripts))
    }

    /// Starts a server that asks `handler` for the script of each request,
    /// after the request has been fully received.
    ///
    /// # Panics
    ///
    /// Panics if the listener cannot be set up.
    pub fn with_handler<F>(handler: F) -> Self
    where
        F: Fn(&RecordedRequest) -> Script + Send + Sync + 'static,
    {
        Self::spawn(Responder::Callback(Box::new(handler)))
    }

    fn spawn(responder: Responder) -> Self {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).expect("RawServer: bind 127.0.0.1:0 failed");
        listener
            .set_nonblocking(true)
            .expect("RawServer: cannot make the listener non-blocking");
        let addr = listener
            .local_addr()
            .expect("RawServer: listener has no local address");
        let shared = Arc::new(Shared {
            responder,
            stop: StopSignal::default(),
            requests: Mutex::new(Vec::new()),
            hits: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            workers: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name(format!("raw-server-accept-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &accept_shared))
            .expect("RawServer: cannot spawn the accept thread");
        Self {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every fully received request so far, in the order they completed.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many request heads were received completely. A request counts here
    /// as soon as its head arrives, even if its body never does.
    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// How many TCP connections were accepted, including ones that never sent
    /// a complete request.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Polls until [`hits`](Self::hits) reaches at least `n` or `timeout`
    /// elapses; returns whether the count was reached.
    pub fn wait_for_hits(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.hits() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.shared.stop.set();
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
        let workers = std::mem::take(&mut *lock(&self.shared.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.is_set() {
        match listener.accept() {
            Ok((stream, _)) => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let worker_shared = Arc::clone(shared);
                let spawned = thread::Builder::new()
                    .name("raw-server-conn".to_owned())
                    .spawn(move || serve_connection(stream, &worker_shared));
                if let Ok(handle) = spawned {
                    let mut workers = lock(&shared.workers);
                    workers.retain(|w| !w.is_finished());
                    workers.push(handle);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                shared.stop.sleep(ACCEPT_POLL);
            }
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    // Accepted sockets may inherit non-blocking mode on some platforms.
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IO_POLL));
    let _ = stream.set_write_timeout(Some(IO_POLL));
    let mut conn = Connection {
        stream,
        buf: Vec::new(),
        stop: &shared.stop,
    };

    let Some(head_bytes) = conn.read_head() else {
        return;
    };
    let index = shared.hits.fetch_add(1, Ordering::SeqCst);

    let Some(mut request) = parse_head(&head_bytes) else {
        let reply = head(400, &[("content-length", "0"), ("connection", "close")]);
        if conn.write_all(&reply).is_ok() {
            conn.finish();
        }
        return;
    };

    let expects_continue = request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
        return;
    }

    let body = if request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        conn.read_chunked_body()
    } else if let Some(len) = request.header("content-length") {
        match len.parse::<usize>() {
            Ok(n) => conn.read_exact_bytes(n),
            Err(_) => None,
        }
    } else {
        Some(Vec::new())
    };
    let Some(body) = body else {
        return;
    };
    request.body = body;
    lock(&shared.requests).push(request.clone());

    let script = shared.responder.script_for(index, &request);
    for action in script.actions {
        match action {
            Action::Write(bytes) => {
                if conn.write_all(&bytes).is_err() {
                    return;
                }
            }
            Action::Sleep(duration) => {
                if shared.stop.sleep(duration) {
                    return;
                }
            }
            Action::Close => return,
            Action::Hang => {
                shared.stop.wait();
                return;
            }
        }
    }
    conn.finish();
}

/// A buffered reader/writer over one accepted socket that gives up when the
/// server stops.
struct Connection<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    stop: &'a StopSignal,
}

impl Connection<'_> {
    /// Reads more bytes into the buffer; `Ok(0)` means EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 8192];
        loop {
            if self.stop.is_set() {
                return Err(io::Error::other("server stopped"));
            }
            match self.stream.read(&mut tmp) {
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(n);
                }
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads up to and including the blank line ending the request head.
    fn read_head(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(end) = head_end(&self.buf) {
                return Some(self.buf.drain(..end).collect());
            }
            if self.buf.len() > MAX_HEAD_BYTES || self.fill().ok()? == 0 {
                return None;
            }
        }
    }

    /// Reads one line, returning it without its line terminator.
    fn read_line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Some(line);
            }
            if self.buf.len() > MAX_HEAD_BYTES || self.fill().ok()? == 0 {
                return None;
            }
        }
    }

    fn read_exact_bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill().ok()? == 0 {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    fn read_chunked_body(&mut self) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let line = String::from_utf8(line).ok()?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16).ok()?;
            if size == 0 {
                // Skip the trailer section up to its terminating blank line.
                while !self.read_line()?.is_empty() {}
                return Some(body);
            }
            body.extend(self.read_exact_bytes(size)?);
            self.read_line()?;
        }
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.stop.is_set() {
                return Err(io::Error::other("server stopped"));
            }
            match self.stream.write(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => data = &data[n..],
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.stream.flush()
    }

    /// Graceful end of a response: send FIN, then let the socket drop.
    fn finish(self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Index just past the blank line that ends a request head (accepting both
/// CRLF and bare LF line endings).
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        match buf.get(i + 1..) {
            Some([b'\n', ..]) => Some(i + 2),
            Some([b'\r', b'\n', ..]) => Some(i + 3),
            _ => None,
        }
    })
}

fn parse_head(head: &[u8]) -> Option<RecordedRequest> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut request_line = lines.next()?.splitn(3, ' ');
    let method = request_line.next().filter(|m| !m.is_empty())?.to_owned();
    let path_and_query = request_line.next().filter(|t| !t.is_empty())?.to_owned();
    let version = request_line.next()?.trim().to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Some(RecordedRequest {
        method,
        path_and_query,
        version,
        headers,
        body: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{decode_chunked, request_raw, split_response};

    fn get(path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
    }

    #[test]
    fn scripted_response_arrives() {
        let server = RawServer::start(vec![Script::response(201, &[("x-test", "yes")], "hello")]);
        let response = request_raw(&server.url(), &get("/things"));
        let (head, body) = split_response(&response);
        assert!(head.starts_with("HTTP/1.1 201 Created\r\n"), "{head}");
        assert!(head.contains("x-test: yes\r\n"));
        assert!(head.contains("content-length: 5\r\n"));
        assert!(head.contains("connection: close\r\n"));
        assert_eq!(body, b"hello");

        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].method, "GET");
        assert_eq!(requests[0].path_and_query, "/things");
        assert_eq!(requests[0].version, "HTTP/1.1");
        assert_eq!(requests[0].header("HOST"), Some("test"));
        assert!(requests[0].body.is_empty());
    }

    #[test]
    fn scripts_are_used_in_order_and_last_repeats() {
        let server = RawServer::start(vec![
            Script::response(500, &[], "first"),
            Script::response(200, &[], "second"),
        ]);
        let bodies: Vec<Vec<u8>> = (0..3)
            .map(|_| split_response(&request_raw(&server.url(), &get("/"))).1)
            .collect();
        assert_eq!(bodies, [&b"first"[..], b"second", b"second"]);
    }

    #[test]
    fn handler_sees_the_request() {
        let server = RawServer::with_handler(|req| {
            Script::json(200, format!("{{\"path\":\"{}\"}}", req.path()))
        });
        let response = request_raw(&server.url(), &get("/abc?q=1"));
        assert_eq!(split_response(&response).1, br#"{"path":"/abc"}"#);
    }

    #[test]
    fn chunked_response_with_delays_arrives_in_pieces() {
        let delay = Duration::from_millis(150);
        let server = RawServer::start(vec![Script::chunked(
            200,
            &[],
            vec![
                (b"one".to_vec(), Duration::ZERO),
                (b"two".to_vec(), delay),
                (b"three".to_vec(), delay),
            ],
        )]);
        let started = Instant::now();
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&get("/stream")).unwrap();

        // Read until the first chunk is complete; the second must not be there yet.
        let mut received = Vec::new();
        let mut tmp = [0u8; 1024];
        while !contains(&received, b"3\r\none\r\n") {
            let n = stream.read(&mut tmp).unwrap();
            assert!(n > 0, "EOF before the first chunk");
            received.extend_from_slice(&tmp[..n]);
        }
        assert!(!contains(&received, b"two"));
        let first_at = started.elapsed();

        stream.read_to_end(&mut received).unwrap();
        let total = started.elapsed();
        assert!(total >= delay * 2, "finished too fast: {total:?}");
        assert!(total - first_at >= delay, "pieces were not spread out");

        let (head, body) = split_response(&received);
        assert!(head.contains("transfer-encoding: chunked\r\n"));
        assert!(body.ends_with(LAST_CHUNK));
        assert_eq!(decode_chunked(&body), b"onetwothree");
    }

    #[test]
    fn close_mid_body_yields_fewer_bytes_than_declared() {
        let server = RawServer::start(vec![
            Script::partial_body(200, 100, "short"),
            Script::new()
                .write(head(200, &[("content-length", "10")]))
                .write("abc")
                .then_close()
                .write("never sent"),
        ]);
        let (head_text, body) = split_response(&request_raw(&server.url(), &get("/a")));
        assert!(head_text.contains("content-length: 100\r\n"));
        assert_eq!(body, b"short");

        let (head_text, body) = split_response(&request_raw(&server.url(), &get("/b")));
        assert!(head_text.contains("content-length: 10\r\n"));
        assert_eq!(body, b"abc");
    }

    #[test]
    fn drop_connection_sends_nothing() {
        let server = RawServer::start(vec![Script::drop_connection()]);
        assert!(request_raw(&server.url(), &get("/")).is_empty());
        assert_eq!(server.hits(), 1);
    }

    #[test]
    fn hits_count_complete_heads_and_connections_count_accepts() {
        let server = RawServer::start(vec![Script::response(204, &[], "")]);
        for _ in 0..3 {
            request_raw(&server.url(), &get("/"));
        }
        assert_eq!(server.hits(), 3);
        assert_eq!(server.connections(), 3);

        // A connection that only sends half a head is accepted but is no hit.
        let mut partial = TcpStream::connect(server.addr()).unwrap();
        partial.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.connections() < 4 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        drop(partial);
        assert_eq!(server.connections(), 4);
        assert_eq!(server.hits(), 3);
        assert_eq!(server.requests().len(), 3);
        assert!(server.wait_for_hits(3, Duration::ZERO));
        assert!(!server.wait_for_hits(4, Duration::from_millis(20)));
    }

    #[test]
    fn raw_request_target_is_preserved() {
        let server = RawServer::start(vec![Script::response(200, &[], "")]);
        request_raw(&server.url(), &get("/agents/a%2Fb%3F?x=1&x=2&y=%20+z"));
        let request = &server.requests()[0];
        assert_eq!(request.path_and_query, "/agents/a%2Fb%3F?x=1&x=2&y=%20+z");
        assert_eq!(request.path(), "/agents/a%2Fb%3F");
        assert_eq!(request.query(), Some("x=1&x=2&y=%20+z"));
    }

    #[test]
    fn chunked_request_body_is_decoded() {
        let server = RawServer::start(vec![Script::response(200, &[], "ok")]);
        let request = b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
            4\r\nWiki\r\n5;name=value\r\npedia\r\nA\r\n in chunks\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let response = request_raw(&server.url(), request);
        assert_eq!(split_response(&response).1, b"ok");
        let recorded = &server.requests()[0];
        assert_eq!(recorded.method, "POST");
        assert_eq!(recorded.body_text(), "Wikipedia in chunks");
    }

    #[test]
    fn content_length_request_body_and_headers_are_recorded() {
        let server = RawServer::start(vec![Script::response(200, &[], "")]);
        let request = b"PUT /x HTTP/1.1\r\nHost: t\r\nX-Multi: a\r\nx-multi: b\r\n\
            Content-Length: 7\r\nExpect: 100-continue\r\n\r\n{\"a\":1}";
        let response = request_raw(&server.url(), request);
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
        let recorded = &server.requests()[0];
        assert_eq!(recorded.body, br#"{"a":1}"#);
        assert_eq!(recorded.header_values("X-MULTI"), ["a", "b"]);
        assert_eq!(recorded.headers[0], ("Host".to_owned(), "t".to_owned()));
    }

    #[test]
    fn hung_connections_are_released_on_drop() {
        let server = RawServer::start(vec![Script::silent_after(head(
            200,
            &[("content-length", "5")],
        ))]);
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&get("/")).unwrap();
        assert!(server.wait_for_hits(1, Duration::from_secs(5)));

        let dropper = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            let started = Instant::now();
            drop(server);
            started.elapsed()
        });
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        let drop_took = dropper.join().unwrap();
        assert!(
            drop_took < Duration::from_secs(2),
            "drop took {drop_took:?}"
        );
        let (head_text, body) = split_response(&received);
        assert!(head_text.contains("content-length: 5"));
        assert!(body.is_empty());
    }

    #[test]
    fn long_sleep_is_cut_short_by_drop() {
        let server = RawServer::start(vec![
            Script::new().sleep(Duration::from_secs(60)).write("late"),
        ]);
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.write_all(&get("/")).unwrap();
        assert!(server.wait_for_hits(1, Duration::from_secs(5)));
        let started = Instant::now();
        drop(server);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn builders_add_defaults_only_when_missing() {
        let script = Script::response(200, &[("Connection", "keep-alive")], "x");
        let Action::Write(bytes) = &script.actions()[0] else {
            panic!("expected a write");
        };
        let text = String::from_utf8_lossy(bytes);
        assert!(text.contains("Connection: keep-alive\r\n"));
        assert!(!text.contains("connection: close"));
        assert_eq!(chunk(b"hello"), b"5\r\nhello\r\n");
        assert_eq!(chunk(&[0u8; 26]).get(..4), Some(&b"1a\r\n"[..]));
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }
}
