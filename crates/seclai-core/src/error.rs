//! The SDK's error type and the decoding of error responses.
//!
//! Every fallible SDK call returns [`Error`]. Its variants separate problems
//! the server reported ([`Error::Api`]) from problems reaching the server
//! ([`Error::Transport`]), unexpected response bodies ([`Error::Decode`]),
//! event-stream and polling failures ([`Error::Stream`]) and mistakes caught
//! before anything was sent ([`Error::Config`], [`Error::InvalidRequest`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::ratelimit::{self, RateLimit};

/// Shorthand for results whose error is the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Largest number of bytes of a response body kept in [`ApiError::body`].
pub const MAX_ERROR_BODY: usize = 8 * 1024;

/// Longest message (in bytes) taken from a non-JSON error body.
const MAX_TEXT_MESSAGE: usize = 300;

/// Bytes of context kept on each side of a decode failure.
const EXCERPT_RADIUS: usize = 60;

/// Any failure of an SDK operation.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-2xx status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The request could not be completed: connection, TLS, I/O or timeout.
    #[error(transparent)]
    Transport(TransportError),
    /// A 2xx response body did not match the expected type.
    #[error(transparent)]
    Decode(DecodeError),
    /// An event stream or a polling loop failed.
    #[error(transparent)]
    Stream(StreamError),
    /// The client is misconfigured; the message says what to change.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The request was rejected locally before being sent, e.g. a header
    /// value containing a line break.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The call's deadline (`.deadline(d)`: the whole call, retries and
    /// back-off included) passed before it could finish.
    #[error("the call's deadline of {deadline:.2?} passed ({elapsed:.2?} elapsed)")]
    Deadline {
        /// The deadline that was set.
        deadline: Duration,
        /// How long the call had run when it gave up.
        elapsed: Duration,
    },
}

impl Error {
    /// The HTTP status of an [`Error::Api`] or [`Error::Decode`] error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode(e) => Some(e.status),
            _ => None,
        }
    }

    /// Whether repeating the same request might succeed: statuses 408, 429,
    /// 500, 502, 503 and 504, and transport failures that are usually
    /// transient (connection failures, timeouts, dropped connections).
    ///
    /// This says nothing about whether a retry is *safe*; see
    /// [`RetryPolicy`](crate::retry::RetryPolicy) for that.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => crate::retry::is_retryable_status(e.status),
            Error::Transport(e) => matches!(
                e.kind,
                TransportKind::Connect | TransportKind::Timeout | TransportKind::Io
            ),
            _ => false,
        }
    }

    /// Whether the server answered 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND) && matches!(self, Error::Api(_))
    }

    /// Whether the server rejected the request body or parameters (422).
    pub fn is_validation(&self) -> bool {
        self.status() == Some(StatusCode::UNPROCESSABLE_ENTITY) && matches!(self, Error::Api(_))
    }

    /// The request id the server attached to an error response.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.request_id.as_deref(),
            _ => None,
        }
    }

    /// The delay the server asked for in `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(e) => e.retry_after,
            _ => None,
        }
    }

    /// Rate-limit counters sent with an error response.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        match self {
            Error::Api(e) => e.rate_limit.as_ref(),
            _ => None,
        }
    }

    /// The machine-readable error code from an error body, such as
    /// `RATE_LIMIT_EXCEEDED`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.code.as_deref(),
            _ => None,
        }
    }

    /// The [`ApiError`] inside an [`Error::Api`].
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl From<Box<ApiError>> for Error {
    fn from(e: Box<ApiError>) -> Self {
        Error::Api(e)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl From<StreamError> for Error {
    fn from(e: StreamError) -> Self {
        Error::Stream(e)
    }
}

impl From<crate::sse::SseError> for Error {
    fn from(e: crate::sse::SseError) -> Self {
        Error::Stream(e.into())
    }
}

// ---------------------------------------------------------------------------
// ApiError
// ---------------------------------------------------------------------------

/// A non-2xx response, with whatever the server said about it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The response status.
    pub status: StatusCode,
    /// Machine-readable error code from the body, if one was given.
    pub code: Option<String>,
    /// Human-readable description. Falls back to an excerpt of the body, or
    /// to the status's reason phrase when the body is empty.
    pub message: String,
    /// Structured details from the body: the value of a top-level `detail`
    /// field (for example FastAPI's list of validation problems), or the
    /// `details`/`detail` member of an `error` object.
    pub detail: Option<Value>,
    /// The server-assigned request id, useful when contacting support.
    pub request_id: Option<String>,
    /// How long the server asked clients to wait (`Retry-After`), uncapped.
    pub retry_after: Option<Duration>,
    /// Rate-limit counters sent with the response.
    pub rate_limit: Option<RateLimit>,
    /// The body as text (invalid UTF-8 replaced), cut to at most
    /// [`MAX_ERROR_BODY`] bytes.
    pub body: String,
}

impl ApiError {
    /// Builds an error from a non-2xx response. Never fails: any body,
    /// including an empty or binary one, produces a usable error.
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
        Self::from_response_at(status, headers, body, SystemTime::now())
    }

    /// Like [`from_response`](Self::from_response) with an explicit clock for
    /// resolving an HTTP-date `Retry-After`.
    pub fn from_response_at(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> ApiError {
        let text = String::from_utf8_lossy(body);
        let parsed = parse_error_body(status, &text);
        let mut message = parsed.message;
        truncate_on_char_boundary(&mut message, MAX_ERROR_BODY);
        let mut body = text.into_owned();
        truncate_on_char_boundary(&mut body, MAX_ERROR_BODY);
        ApiError {
            status,
            code: parsed.code,
            message,
            detail: parsed.detail,
            request_id: ratelimit::request_id(headers),
            retry_after: ratelimit::retry_after(headers, now),
            rate_limit: RateLimit::from_headers(headers),
            body,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "API error {}", self.status.as_u16())?;
        if let Some(reason) = self.status.canonical_reason() {
            write!(f, " {reason}")?;
        }
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// What was extracted from an error body.
struct ParsedBody {
    code: Option<String>,
    message: String,
    detail: Option<Value>,
}

fn reason_phrase(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(r) => r.to_owned(),
        None => format!("HTTP status {}", status.as_u16()),
    }
}

fn parse_error_body(status: StatusCode, text: &str) -> ParsedBody {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return ParsedBody {
            code: None,
            message: reason_phrase(status),
            detail: None,
        };
    }
    let found = match serde_json::from_str::<Value>(trimmed) {
        // Not JSON: show the text itself.
        Err(_) => Found {
            message: Some(one_line_excerpt(trimmed, MAX_TEXT_MESSAGE)),
            ..Found::default()
        },
        Ok(json @ Value::Object(_)) => {
            let mut found = from_object(&json, 0);
            if found.message.is_none() && found.code.is_none() && found.detail.is_none() {
                // Unknown object shape: show the body itself.
                found.message = Some(one_line_excerpt(trimmed, MAX_TEXT_MESSAGE));
            }
            found
        }
        Ok(Value::String(s)) => Found {
            message: Some(s),
            ..Found::default()
        },
        Ok(Value::Null) => Found::default(),
        Ok(_) => Found {
            message: Some(one_line_excerpt(trimmed, MAX_TEXT_MESSAGE)),
            ..Found::default()
        },
    };
    let message = match found.message {
        Some(m) if !m.trim().is_empty() => m,
        _ => reason_phrase(status),
    };
    ParsedBody {
        code: found.code,
        message,
        detail: found.detail,
    }
}

/// Pieces found while walking an error object.
#[derive(Default)]
struct Found {
    code: Option<String>,
    message: Option<String>,
    detail: Option<Value>,
}

/// Extracts code, message and detail from a JSON error object. `depth`
/// bounds recursion into nested `detail`/`error` objects.
fn from_object(value: &Value, depth: u8) -> Found {
    let mut found = Found::default();
    let Value::Object(map) = value else {
        return found;
    };

    // {"error": {...}} or {"error": "text"}
    match map.get("error") {
        Some(err @ Value::Object(inner)) if depth < 4 => {
            let nested = from_object(err, depth + 1);
            found.code = nested.code;
            found.message = nested.message;
            found.detail = inner
                .get("details")
                .or_else(|| inner.get("detail"))
                .filter(|d| !d.is_null())
                .cloned()
                .or(nested.detail);
        }
        Some(Value::String(s)) => {
            // OAuth style: {"error": "invalid_token", "error_description": "..."}
            // or {"error": "not_found", "message": "..."}: the string is a code.
            let description = map
                .get("error_description")
                .or_else(|| map.get("message"))
                .and_then(Value::as_str);
            match description {
                Some(d) => {
                    found.code = Some(s.clone());
                    found.message = Some(d.to_owned());
                }
                None => found.message = Some(s.clone()),
            }
        }
        _ => {}
    }

    // {"detail": ...} (FastAPI and friends)
    if let Some(detail) = map.get("detail").filter(|d| !d.is_null()) {
        if depth == 0 {
            found.detail = Some(detail.clone());
        }
        if found.message.is_none() {
            match detail {
                Value::String(s) => found.message = Some(s.clone()),
                Value::Array(items) => found.message = validation_message(items),
                Value::Object(_) if depth < 4 => {
                    let nested = from_object(detail, depth + 1);
                    found.message = nested.message;
                    found.code = found.code.take().or(nested.code);
                }
                _ => {}
            }
        }
    }

    if found.code.is_none() {
        found.code = map
            .get("code")
            .or_else(|| map.get("error_code"))
            .and_then(scalar_to_string);
    }
    if found.message.is_none() {
        found.message = map
            .get("message")
            .or_else(|| map.get("msg"))
            .or_else(|| map.get("title"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    found
}

fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Joins FastAPI validation problems into `loc: msg; loc: msg`.
fn validation_message(items: &[Value]) -> Option<String> {
    let parts: Vec<String> = items
        .iter()
        .filter_map(|item| match item {
            Value::Object(obj) => {
                let msg = obj
                    .get("msg")
                    .or_else(|| obj.get("message"))
                    .and_then(Value::as_str)?;
                let loc = match obj.get("loc") {
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .filter_map(|p| match p {
                            Value::String(s) => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join("."),
                    Some(Value::String(s)) => s.clone(),
                    _ => String::new(),
                };
                Some(if loc.is_empty() {
                    msg.to_owned()
                } else {
                    format!("{loc}: {msg}")
                })
            }
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Collapses whitespace runs (including line breaks) to single spaces and
/// cuts the result to about `max` bytes, marking the cut with `…`.
fn one_line_excerpt(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 4));
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > max {
            break;
        }
    }
    if out.len() > max {
        truncate_on_char_boundary(&mut out, max);
        out.push('…');
    }
    out
}

/// Shortens `s` to at most `max` bytes without splitting a character.
fn truncate_on_char_boundary(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}

// ---------------------------------------------------------------------------
// TransportError
// ---------------------------------------------------------------------------

/// The broad category of a [`TransportError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// No connection could be made (DNS failure, connection refused, ...).
    /// The request was not sent.
    Connect,
    /// A connect, read or overall timeout expired.
    Timeout,
    /// Reading or writing failed on an open connection.
    Io,
    /// TLS negotiation or certificate verification failed.
    Tls,
    /// The answer was larger than the configured limit; reading stopped there.
    TooLarge,
    /// Anything else.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connection failed",
            TransportKind::Timeout => "timed out",
            TransportKind::Io => "I/O error",
            TransportKind::Tls => "TLS error",
            TransportKind::TooLarge => "answer too large",
            TransportKind::Other => "other",
        })
    }
}

/// A request that did not produce an HTTP response.
#[non_exhaustive]
#[derive(Debug)]
pub struct TransportError {
    /// What went wrong, in words.
    pub message: String,
    /// The category of failure.
    pub kind: TransportKind,
    /// `true` when the request may have reached the server, so repeating a
    /// non-idempotent request could apply it twice.
    pub maybe_sent: bool,
    /// The underlying error from the HTTP client, if any.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// Creates an error. `maybe_sent` starts as `false` for
    /// [`TransportKind::Connect`] and `true` for every other kind; adjust it
    /// with [`with_maybe_sent`](Self::with_maybe_sent) when the HTTP client
    /// knows better.
    pub fn new(kind: TransportKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind,
            maybe_sent: kind != TransportKind::Connect,
            source: None,
        }
    }

    /// Sets [`maybe_sent`](Self::maybe_sent).
    pub fn with_maybe_sent(mut self, maybe_sent: bool) -> Self {
        self.maybe_sent = maybe_sent;
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transport error ({})", self.kind)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        } else if let Some(src) = &self.source {
            write!(f, ": {src}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

// ---------------------------------------------------------------------------
// DecodeError
// ---------------------------------------------------------------------------

/// A successful response whose body did not match the expected shape.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The response status.
    pub status: StatusCode,
    /// Best-effort location of the problem in the JSON document, such as
    /// `$.data[2].status`; empty when unknown.
    pub path: String,
    /// The parser's description, including line and column.
    pub message: String,
    /// Up to ~120 bytes of the body around the failure, on one line.
    pub excerpt: String,
}

impl DecodeError {
    /// Creates an error from parts, for callers that validate bodies
    /// themselves.
    pub fn new(status: StatusCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            path: path.into(),
            message: message.into(),
            excerpt: String::new(),
        }
    }

    /// Describes a `serde_json` failure on `body`, locating it as well as
    /// possible.
    pub fn from_serde(status: StatusCode, body: &[u8], err: &serde_json::Error) -> Self {
        let offset = byte_offset(body, err.line(), err.column());
        let (path, excerpt) = match offset {
            Some(off) => (json_path_at(body, off), excerpt_around(body, off)),
            None => (String::new(), excerpt_around(body, 0)),
        };
        Self {
            status,
            path,
            message: err.to_string(),
            excerpt,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not decode {} response", self.status.as_u16())?;
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.excerpt.is_empty() {
            write!(f, " (near `{}`)", self.excerpt)?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a successful response body as JSON.
///
/// An empty (or all-whitespace) body is read as JSON `null`, so `()` and
/// `Option<T>` decode from a 204 No Content. Failures become
/// [`Error::Decode`] with the location of the problem.
pub fn decode_json<T: serde::de::DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T> {
    let input: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        body
    };
    serde_json::from_slice(input)
        .map_err(|e| Error::Decode(DecodeError::from_serde(status, input, &e)))
}

/// Converts serde_json's 1-based line and column (a count of bytes consumed
/// on that line) into an offset just past the byte being examined.
fn byte_offset(body: &[u8], line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0usize;
    let mut remaining = line - 1;
    if remaining > 0 {
        for (i, b) in body.iter().enumerate() {
            if *b == b'\n' {
                remaining -= 1;
                if remaining == 0 {
                    start = i + 1;
                    break;
                }
            }
        }
        if remaining > 0 {
            return Some(body.len());
        }
    }
    Some(start.saturating_add(column).min(body.len()))
}

/// Returns a one-line excerpt of `body` centred on `offset`, never cutting a
/// UTF-8 sequence at either end.
fn excerpt_around(body: &[u8], offset: usize) -> String {
    let offset = offset.min(body.len());
    let mut start = offset.saturating_sub(EXCERPT_RADIUS);
    let mut end = offset.saturating_add(EXCERPT_RADIUS).min(body.len());
    let is_continuation = |b: u8| (b & 0xC0) == 0x80;
    while start < end && is_continuation(body[start]) {
        start += 1;
    }
    while end > start && end < body.len() && is_continuation(body[end]) {
        end -= 1;
    }
    let text = String::from_utf8_lossy(&body[start..end]);
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Finds the JSON path of the value being parsed at byte `end` by scanning
/// the structure up to that point. Tolerates malformed input.
fn json_path_at(body: &[u8], end: usize) -> String {
    enum Frame {
        Object { key: Option<String>, want_key: bool },
        Array { index: usize },
    }
    let end = end.min(body.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match body[i] {
            b'"' => {
                let mut j = i + 1;
                while j < body.len() && body[j] != b'"' {
                    j += if body[j] == b'\\' { 2 } else { 1 };
                }
                let close = j.min(body.len());
                if let Some(Frame::Object {
                    key,
                    want_key: want_key @ true,
                }) = stack.last_mut()
                {
                    let raw = &body[i..(close + 1).min(body.len())];
                    let decoded = serde_json::from_slice::<String>(raw).unwrap_or_else(|_| {
                        String::from_utf8_lossy(&body[i + 1..close]).into_owned()
                    });
                    *key = Some(decoded);
                    *want_key = false;
                }
                i = close + 1;
                continue;
            }
            b'{' => stack.push(Frame::Object {
                key: None,
                want_key: true,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { key, want_key }) => {
                    *key = None;
                    *want_key = true;
                }
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    let mut path = String::from("$");
    for frame in &stack {
        match frame {
            Frame::Object { key: Some(k), .. } => {
                if !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    path.push('.');
                    path.push_str(k);
                } else {
                    path.push('[');
                    path.push_str(&serde_json::to_string(k).unwrap_or_else(|_| k.clone()));
                    path.push(']');
                }
            }
            Frame::Object { key: None, .. } => {}
            Frame::Array { index } => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    path
}

// ---------------------------------------------------------------------------
// StreamError
// ---------------------------------------------------------------------------

/// A failure while following a run through an event stream or by polling.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum StreamError {
    /// The stream contained something that could not be understood.
    Malformed {
        /// What was wrong.
        message: String,
    },
    /// The server sent an `error` event.
    ServerError {
        /// The run the stream belongs to, when known.
        run_id: Option<String>,
        /// The server's description.
        message: String,
        /// The full event payload.
        data: Value,
    },
    /// The server reported that the run timed out on its side.
    ServerTimeout {
        /// The run the stream belongs to, when known.
        run_id: Option<String>,
        /// The full event payload.
        data: Value,
    },
    /// The stream closed before the final `done` event.
    EndedEarly {
        /// The run the stream belongs to, when known.
        run_id: Option<String>,
    },
    /// No bytes arrived for longer than the idle timeout.
    IdleTimeout {
        /// The idle timeout that expired.
        after: Duration,
    },
    /// The overall wait for the run exceeded its deadline.
    Deadline {
        /// The run being waited on, when known.
        run_id: Option<String>,
        /// The last status observed before giving up.
        last_status: Option<String>,
        /// How long the caller waited.
        waited: Duration,
    },
    /// A single line of the stream exceeded the decoder's limit.
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The `data:` lines of one event added up to more than the decoder's
    /// limit; the event was dropped.
    EventTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The run reached a terminal status other than `completed`.
    RunFailed {
        /// The run.
        run_id: String,
        /// Its terminal status (`failed`, `cancelled`, …).
        status: String,
        /// The final run snapshot as the server sent it.
        run: Value,
    },
}

struct RunSuffix<'a>(&'a Option<String>);

impl fmt::Display for RunSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (run {id})"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Malformed { message } => write!(f, "malformed event stream: {message}"),
            StreamError::ServerError {
                run_id, message, ..
            } => write!(
                f,
                "server reported an error{}: {message}",
                RunSuffix(run_id)
            ),
            StreamError::ServerTimeout { run_id, .. } => {
                write!(f, "server timed out the run{}", RunSuffix(run_id))
            }
            StreamError::EndedEarly { run_id } => write!(
                f,
                "event stream closed before the run finished{}",
                RunSuffix(run_id)
            ),
            StreamError::IdleTimeout { after } => {
                write!(f, "no data on the event stream for {after:?}")
            }
            StreamError::Deadline {
                run_id,
                last_status,
                waited,
            } => {
                write!(f, "gave up waiting after {waited:?}{}", RunSuffix(run_id))?;
                if let Some(s) = last_status {
                    write!(f, "; last status: {s}")?;
                }
                Ok(())
            }
            StreamError::LineTooLong { limit } => {
                write!(f, "event stream line longer than {limit} bytes")
            }
            StreamError::EventTooLarge { limit } => {
                write!(f, "event stream event larger than {limit} bytes")
            }
            StreamError::RunFailed { run_id, status, .. } => {
                write!(f, "run {run_id} ended with status {status}")
            }
        }
    }
}

impl std::error::Error for StreamError {}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::json;

    fn api(status: u16, body: &str) -> ApiError {
        ApiError::from_response(
            StatusCode::from_u16(status).expect("valid status"),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn error_object_with_code() {
        let e = api(
            429,
            r#"{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Slow down","details":{"limit":5}}}"#,
        );
        assert_eq!(e.code.as_deref(), Some("RATE_LIMIT_EXCEEDED"));
        assert_eq!(e.message, "Slow down");
        assert_eq!(e.detail, Some(json!({"limit": 5})));
    }

    #[test]
    fn error_object_numeric_code() {
        let e = api(400, r#"{"error":{"code":40001,"message":"bad"}}"#);
        assert_eq!(e.code.as_deref(), Some("40001"));
        assert_eq!(e.message, "bad");
        assert_eq!(e.detail, None);
    }

    #[test]
    fn error_string() {
        let e = api(500, r#"{"error":"something broke"}"#);
        assert_eq!(e.code, None);
        assert_eq!(e.message, "something broke");
    }

    #[test]
    fn error_string_with_description_is_code() {
        let e = api(
            401,
            r#"{"error":"invalid_token","error_description":"token expired"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("invalid_token"));
        assert_eq!(e.message, "token expired");
        let e = api(404, r#"{"error":"NOT_FOUND","message":"agent not found"}"#);
        assert_eq!(e.code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(e.message, "agent not found");
    }

    #[test]
    fn detail_string() {
        let e = api(404, r#"{"detail":"Agent not found"}"#);
        assert_eq!(e.message, "Agent not found");
        assert_eq!(e.detail, Some(json!("Agent not found")));
        assert_eq!(e.code, None);
    }

    #[test]
    fn detail_validation_list() {
        let body = r#"{"detail":[
            {"loc":["body","name"],"msg":"field required","type":"value_error.missing"},
            {"loc":["query","limit",0],"msg":"must be positive","type":"value_error"},
            {"msg":"no location"}
        ]}"#;
        let e = api(422, body);
        assert_eq!(
            e.message,
            "body.name: field required; query.limit.0: must be positive; no location"
        );
        assert!(matches!(e.detail, Some(Value::Array(ref a)) if a.len() == 3));
    }

    #[test]
    fn detail_empty_list_falls_back_to_reason() {
        let e = api(422, r#"{"detail":[]}"#);
        assert_eq!(e.message, "Unprocessable Entity");
        assert_eq!(e.detail, Some(json!([])));
    }

    #[test]
    fn detail_nested_error() {
        let e = api(
            403,
            r#"{"detail":{"error":{"code":"FORBIDDEN","message":"no access"}}}"#,
        );
        assert_eq!(e.code.as_deref(), Some("FORBIDDEN"));
        assert_eq!(e.message, "no access");
        assert!(e.detail.is_some());
    }

    #[test]
    fn detail_nested_message() {
        let e = api(
            409,
            r#"{"detail":{"message":"already running","code":"CONFLICT"}}"#,
        );
        assert_eq!(e.message, "already running");
        assert_eq!(e.code.as_deref(), Some("CONFLICT"));
    }

    #[test]
    fn top_level_message_and_code() {
        let e = api(400, r#"{"message":"bad input","code":"BAD_INPUT"}"#);
        assert_eq!(e.message, "bad input");
        assert_eq!(e.code.as_deref(), Some("BAD_INPUT"));
    }

    #[test]
    fn unknown_object_shows_body() {
        let e = api(500, r#"{"oops": true}"#);
        assert_eq!(e.message, r#"{"oops": true}"#);
        let e = api(500, "[1, 2]");
        assert_eq!(e.message, "[1, 2]");
        let e = api(500, r#""just a string""#);
        assert_eq!(e.message, "just a string");
        let e = api(500, "null");
        assert_eq!(e.message, "Internal Server Error");
    }

    #[test]
    fn plain_text_body() {
        let e = api(502, "  <html>\n<body>Bad   gateway</body>\n</html>\n");
        assert_eq!(e.message, "<html> <body>Bad gateway</body> </html>");
        assert_eq!(e.code, None);
        let long = "word ".repeat(500);
        let e = api(500, &long);
        assert!(e.message.len() <= MAX_TEXT_MESSAGE + '…'.len_utf8());
        assert!(e.message.ends_with('…'));
    }

    #[test]
    fn empty_body_uses_reason() {
        assert_eq!(api(404, "").message, "Not Found");
        assert_eq!(api(503, " \n ").message, "Service Unavailable");
        assert_eq!(api(599, "").message, "HTTP status 599");
        assert_eq!(api(400, r#"{"message":""}"#).message, "Bad Request");
    }

    #[test]
    fn body_is_truncated_on_char_boundary() {
        // 3-byte characters so that 8192 falls inside one.
        let text = "€".repeat(4000);
        let e = api(500, &text);
        assert!(e.body.len() <= MAX_ERROR_BODY);
        assert_eq!(e.body.len(), (MAX_ERROR_BODY / 3) * 3);
        assert!(e.body.chars().all(|c| c == '€'));
        let small = api(500, "short");
        assert_eq!(small.body, "short");
    }

    #[test]
    fn invalid_utf8_is_lossy() {
        let e = ApiError::from_response(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            b"{\"detail\":\"bad \xff byte\"}",
        );
        assert_eq!(e.message, "bad \u{fffd} byte");
        assert!(e.body.contains('\u{fffd}'));
        let e = ApiError::from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), b"\xfe\xff");
        assert_eq!(e.message, "\u{fffd}\u{fffd}");
    }

    #[test]
    fn headers_are_read() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("req-1"));
        h.insert("retry-after", HeaderValue::from_static("7"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let e = ApiError::from_response_at(StatusCode::TOO_MANY_REQUESTS, &h, b"", now);
        assert_eq!(e.request_id.as_deref(), Some("req-1"));
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(e.rate_limit.and_then(|r| r.remaining), Some(0));

        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
        h.insert("retry-after", HeaderValue::from_str(&date).expect("ascii"));
        let e = ApiError::from_response_at(StatusCode::SERVICE_UNAVAILABLE, &h, b"", now);
        assert_eq!(e.retry_after, Some(Duration::from_secs(90)));
    }

    #[test]
    fn api_display() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc"));
        let e = ApiError::from_response(
            StatusCode::NOT_FOUND,
            &h,
            br#"{"error":{"code":"NOT_FOUND","message":"agent not found"}}"#,
        );
        assert_eq!(
            e.to_string(),
            "API error 404 Not Found (NOT_FOUND): agent not found [request id abc]"
        );
        assert_eq!(
            Error::from(api(500, "")).to_string(),
            "API error 500 Internal Server Error: Internal Server Error"
        );
        assert_eq!(
            api(599, "x").to_string(),
            "API error 599: x",
            "unknown status has no reason"
        );
    }

    #[test]
    fn other_displays() {
        let t = TransportError::new(TransportKind::Timeout, "read timed out after 30s");
        assert_eq!(
            Error::from(t).to_string(),
            "transport error (timed out): read timed out after 30s"
        );
        let io = std::io::Error::other("reset by peer");
        let t = TransportError::new(TransportKind::Io, "").with_source(io);
        assert_eq!(t.to_string(), "transport error (I/O error): reset by peer");
        assert!(std::error::Error::source(&t).is_some());
        assert_eq!(
            Error::Config("base URL must use https".into()).to_string(),
            "invalid configuration: base URL must use https"
        );
        assert_eq!(
            Error::InvalidRequest("header value contains a line break".into()).to_string(),
            "invalid request: header value contains a line break"
        );
        let s = StreamError::Deadline {
            run_id: Some("r1".into()),
            last_status: Some("running".into()),
            waited: Duration::from_secs(600),
        };
        assert_eq!(
            s.to_string(),
            "gave up waiting after 600s (run r1); last status: running"
        );
        assert_eq!(
            StreamError::EndedEarly { run_id: None }.to_string(),
            "event stream closed before the run finished"
        );
        assert_eq!(
            StreamError::ServerError {
                run_id: Some("r".into()),
                message: "boom".into(),
                data: Value::Null
            }
            .to_string(),
            "server reported an error (run r): boom"
        );
        for s in [
            StreamError::Malformed {
                message: "x".into(),
            },
            StreamError::ServerTimeout {
                run_id: None,
                data: Value::Null,
            },
            StreamError::IdleTimeout {
                after: Duration::from_secs(1),
            },
            StreamError::LineTooLong { limit: 3 },
            StreamError::EventTooLarge { limit: 3 },
        ] {
            let line = Error::from(s).to_string();
            assert!(!line.is_empty() && !line.contains('\n'));
        }
    }

    #[test]
    fn helpers() {
        let mut h = HeaderMap::new();
        h.insert("request-id", HeaderValue::from_static("rid"));
        h.insert("retry-after", HeaderValue::from_static("3"));
        h.insert("x-ratelimit-limit", HeaderValue::from_static("10"));
        let e: Error = ApiError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            br#"{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"m"}}"#,
        )
        .into();
        assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
        assert!(e.is_retryable());
        assert!(!e.is_not_found());
        assert!(!e.is_validation());
        assert_eq!(e.request_id(), Some("rid"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(e.rate_limit().and_then(|r| r.limit), Some(10));
        assert_eq!(e.code(), Some("RATE_LIMIT_EXCEEDED"));
        assert!(e.as_api().is_some());

        assert!(Error::from(api(404, "")).is_not_found());
        assert!(Error::from(api(422, "")).is_validation());
        for s in [408, 500, 502, 503, 504] {
            assert!(Error::from(api(s, "")).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!Error::from(api(s, "")).is_retryable(), "{s}");
        }
        for (kind, retry) in [
            (TransportKind::Connect, true),
            (TransportKind::Timeout, true),
            (TransportKind::Io, true),
            (TransportKind::Tls, false),
            (TransportKind::Other, false),
        ] {
            let e = Error::from(TransportError::new(kind, "x"));
            assert_eq!(e.is_retryable(), retry, "{kind:?}");
            assert_eq!(e.status(), None);
            assert_eq!(e.request_id(), None);
        }
        assert!(!TransportError::new(TransportKind::Connect, "").maybe_sent);
        assert!(TransportError::new(TransportKind::Io, "").maybe_sent);
        assert!(!Error::Config("x".into()).is_retryable());
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: u64,
        name: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Page {
        data: Vec<Item>,
    }

    fn decode_err<T: serde::de::DeserializeOwned + fmt::Debug>(body: &str) -> DecodeError {
        match decode_json::<T>(StatusCode::OK, body.as_bytes()) {
            Err(Error::Decode(d)) => d,
            other => panic!("expected decode error, got {other:?}"),
        }
    }

    #[test]
    fn decode_success_and_empty_body() {
        let item: Item = decode_json(StatusCode::OK, br#"{"id":1,"name":"a"}"#).expect("decodes");
        assert_eq!(
            item,
            Item {
                id: 1,
                name: "a".into()
            }
        );
        decode_json::<()>(StatusCode::NO_CONTENT, b"").expect("unit from empty");
        let none: Option<Item> = decode_json(StatusCode::NO_CONTENT, b" \r\n").expect("option");
        assert_eq!(none, None);
        assert!(decode_json::<Item>(StatusCode::NO_CONTENT, b"").is_err());
    }

    #[test]
    fn decode_error_paths() {
        let d = decode_err::<Page>(r#"{"data":[{"id":1,"name":"a"},{"id":"two","name":"b"}]}"#);
        assert_eq!(d.path, "$.data[1].id");
        assert!(d.message.contains("invalid type"), "{}", d.message);
        assert!(d.excerpt.contains("two"), "{}", d.excerpt);

        let d = decode_err::<Page>(r#"{"data":[{"id":1}]}"#);
        assert_eq!(d.path, "$.data[0]");
        assert!(d.message.contains("missing field `name`"));

        let d = decode_err::<Page>("{\n  \"data\": [\n    {\"id\": 1, \"name\": 5}\n  ]\n}");
        assert_eq!(d.path, "$.data[0].name");
        assert!(d.message.contains("line 3"), "{}", d.message);

        let d = decode_err::<Page>(r#"{"data": [}"#);
        assert!(d.path.starts_with("$.data"), "{}", d.path);

        let d = decode_err::<std::collections::HashMap<String, u8>>(r#"{"a b": 300}"#);
        assert_eq!(d.path, r#"$["a b"]"#);
    }

    #[test]
    fn decode_error_display_and_excerpt() {
        let d = decode_err::<Item>("not json at all");
        let line = Error::Decode(d.clone()).to_string();
        assert!(line.starts_with("could not decode 200 response"), "{line}");
        assert!(!line.contains('\n'));
        let long = format!(r#"{{"id":"{}€€€", "name": 1}}"#, "x".repeat(500));
        let d = decode_err::<Item>(&long);
        assert!(d.excerpt.len() <= 2 * EXCERPT_RADIUS);
        assert!(!d.excerpt.contains('\u{fffd}'));
    }

    #[test]
    fn excerpt_never_splits_characters() {
        let body = "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé".as_bytes();
        for off in 0..=body.len() {
            let ex = excerpt_around(body, off);
            assert!(!ex.contains('\u{fffd}'), "offset {off}: {ex}");
        }
    }

    #[test]
    fn byte_offset_lines() {
        let body = b"ab\ncd\nef";
        assert_eq!(byte_offset(body, 0, 0), None);
        assert_eq!(byte_offset(body, 1, 2), Some(2));
        assert_eq!(byte_offset(body, 2, 1), Some(4));
        assert_eq!(byte_offset(body, 3, 2), Some(8));
        assert_eq!(byte_offset(body, 9, 9), Some(8));
    }

    proptest! {
        #[test]
        fn from_response_never_panics(status in 100u16..1000, body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let e = ApiError::from_response(status, &HeaderMap::new(), &body);
            prop_assert!(e.body.len() <= MAX_ERROR_BODY);
            prop_assert!(!e.message.is_empty());
            let _ = e.to_string();
        }

        #[test]
        fn from_response_never_panics_on_jsonish(body in r#"[{}\[\]":,a-z0-9 \\\n]{0,200}"#) {
            let wrapped = format!(r#"{{"detail":{body}"#);
            for b in [body.as_str(), wrapped.as_str()] {
                let e = ApiError::from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), b.as_bytes());
                prop_assert!(!e.message.is_empty());
            }
        }

        #[test]
        fn decode_json_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_json::<Page>(StatusCode::OK, &body);
            let _ = decode_json::<Value>(StatusCode::OK, &body);
        }

        #[test]
        fn decode_json_never_panics_on_jsonish(body in r#"[{}\[\]":,a-z0-9 \\\n]{0,200}"#) {
            if let Err(e) = decode_json::<Page>(StatusCode::OK, body.as_bytes()) {
                prop_assert!(e.to_string().starts_with("could not decode"));
            }
        }
    }
}
