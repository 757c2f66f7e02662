//! The engine: the life of one call as a state machine that a driver runs.
//!
//! A driver (the async or the blocking client) does I/O and nothing else.
//! It asks the [`CallMachine`] what to do ([`Step`]), does it with its HTTP
//! library, and feeds back what happened; every decision (credentials and
//! their refresh, which headers go out, how long each wait may last,
//! retries, `Retry-After`, the retry budget, the call's deadline, body size
//! limits, what an answer means) is taken here, once for both clients.
//!
//! ```text
//! let mut step = machine.start();
//! loop {
//!     step = match step {
//!         Step::AwaitCredentials(w) => machine.on_credentials(wait(w)),
//!         Step::Refresh(r)          => machine.on_refresh(send_and_read(r)),
//!         Step::Send(attempt)       => match send(attempt) {      // head only
//!             Ok(response)          => machine.on_head(status, headers),
//!             Err(e)                => machine.on_error(e),
//!         },
//!         Step::ReadBody(read)      => machine.on_body(read_whole(read)),
//!         Step::Sleep(d)            => { drop(response); sleep(d); machine.on_slept() }
//!         Step::Open(head)          => return stream(response, head),
//!         Step::Done(result)        => return result,
//!     }
//! }
//! ```
//!
//! Time is read only through the configured [`Clock`], so the deadline and
//! back-off rules are tested on a [`ManualClock`] without sleeping.

use crate::auth::{ResolveStep, Resolved};
use crate::config::ClientConfig;
use crate::error::{Error, Result, StreamError, TransportError, TransportKind};
use crate::exchange::{Exchange, MAX_ERROR_BODY_READ, Response};
use crate::multipart::{BodySource, MultipartBody, Upload};
use crate::render::Prepared;
use crate::sso::{MAX_REFRESH_BODY, RefreshTicket, RefreshWait};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------

/// Where the engine reads the time. Every timeout, deadline, back-off and
/// poll interval is measured on it.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to, for tests of time-based rules.
///
/// ```
/// use seclai_core::engine::{Clock, ManualClock};
/// use std::time::Duration;
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now() - t0, Duration::from_secs(5));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock standing at the current instant.
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Move the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A shared handle on a [`Clock`], as held by the configuration.
#[derive(Clone)]
pub struct SharedClock(pub(crate) Arc<dyn Clock>);

impl SharedClock {
    /// The current instant on this clock.
    pub fn now(&self) -> Instant {
        self.0.now()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        SharedClock(Arc::new(SystemClock))
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedClock")
    }
}

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

/// What the driver does next.
#[derive(Debug)]
pub enum Step {
    /// Call the client's own token provider (an async one), then
    /// [`CallMachine::on_token`].
    FetchToken,
    /// Another call is refreshing the SSO token: wait for it (`.await` it,
    /// or [`RefreshWait::wait`]), then call [`CallMachine::on_credentials`].
    AwaitCredentials(RefreshWait),
    /// Send the SSO token refresh, read its answer, then call
    /// [`CallMachine::on_refresh`].
    Refresh(RefreshRequest),
    /// Send this attempt and wait for the response head, then call
    /// [`CallMachine::on_head`] (or [`CallMachine::on_error`]). Keep the
    /// response: a later step may read its body.
    Send(Attempt),
    /// Read the kept response's whole body, then call [`CallMachine::on_body`].
    ReadBody(BodyRead),
    /// Drop the kept response (if any), sleep, then call
    /// [`CallMachine::on_slept`].
    Sleep(Duration),
    /// The kept response is the answer: a 2xx whose body the caller reads
    /// as a stream, within the [`ReadBounds`] given.
    Open(Head),
    /// The call is over.
    Done(Result<Answer>),
}

/// The SSO token refresh request.
#[derive(Debug)]
pub struct RefreshRequest {
    /// The request to send (no credentials of the API in it).
    pub request: http::Request<Vec<u8>>,
    /// Longest time for the whole exchange.
    pub timeout: Duration,
    /// Read at most this many bytes of the answer.
    pub limit: usize,
}

/// One attempt of a call, ready to send.
#[derive(Debug)]
pub struct Attempt {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Every header, credentials included.
    pub headers: HeaderMap,
    /// The request body.
    pub body: AttemptBody,
    /// Bounds of this attempt's waits.
    pub timeouts: AttemptTimeouts,
}

/// The body of an [`Attempt`].
pub enum AttemptBody {
    /// No body at all.
    None,
    /// These bytes (possibly empty: `Content-Length: 0`).
    Bytes(Bytes),
    /// A streamed multipart body (an upload); `Content-Type` and, when the
    /// size is known, `Content-Length` are already among the headers.
    Multipart(MultipartBody),
}

impl fmt::Debug for AttemptBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptBody::None => f.write_str("None"),
            AttemptBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            AttemptBody::Multipart(m) => write!(f, "Multipart({:?} bytes)", m.content_length()),
        }
    }
}

/// How long each wait of an attempt may last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptTimeouts {
    /// Connecting.
    pub connect: Duration,
    /// From the end of sending to the response head.
    pub head: Duration,
    /// The whole attempt, sending and reading included (ordinary calls;
    /// `None` for answers read as streams).
    pub total: Option<Duration>,
    /// Longest pause between two reads, or two writes of the request body.
    pub idle: Duration,
}

/// Read a whole body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRead {
    /// Read at most `limit + 1` bytes: one more than this is an error (the
    /// rest is never read).
    pub limit: usize,
    /// Longest time for the whole read.
    pub timeout: Duration,
    /// Longest pause between two reads.
    pub idle: Duration,
}

/// A 2xx head whose body is read as a stream.
#[derive(Debug, Clone)]
pub struct Head {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The bounds of every later read of the body.
    pub bounds: ReadBounds,
}

/// A complete answer: a 2xx status, its headers and its whole body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status (always 2xx).
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Answer {
    /// Decode the body as JSON into `T`, with the response's metadata.
    pub fn decode<T: DeserializeOwned>(self) -> Result<Response<T>> {
        let value = crate::error::decode_json(self.status, &self.body)?;
        Ok(Response::new(value, self.status, self.headers))
    }

    /// The body as a JSON value with every field the server sent; text is a
    /// JSON string and an empty body `null`.
    pub fn json(self) -> Result<Response<serde_json::Value>> {
        let value = if self.body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else if crate::exchange::is_json_response(&self.headers) {
            crate::error::decode_json(self.status, &self.body)?
        } else {
            serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned())
        };
        Ok(Response::new(value, self.status, self.headers))
    }
}

// ---------------------------------------------------------------------------
// Read bounds of streamed bodies
// ---------------------------------------------------------------------------

/// The bounds of reading a streamed body (events, downloads): each read
/// waits at most the idle timeout, and never past the call's deadline, which
/// is checked on the clock after every read, so keep-alives or a trickle of
/// bytes cannot extend it.
#[derive(Debug, Clone)]
pub struct ReadBounds {
    idle: Duration,
    deadline: Option<(Instant, Duration)>,
    started: Instant,
    clock: SharedClock,
}

impl ReadBounds {
    /// Bounds with this idle timeout and no deadline, on `clock`.
    pub fn idle(idle: Duration, clock: SharedClock) -> Self {
        let started = clock.now();
        ReadBounds {
            idle,
            deadline: None,
            started,
            clock,
        }
    }

    /// The same bounds with a deadline `after` from now (never later than
    /// one already set).
    pub fn with_deadline(mut self, after: Duration) -> Self {
        let at = self.clock.now() + after;
        let total = at.saturating_duration_since(self.started);
        match self.deadline {
            Some((old, _)) if old <= at => {}
            _ => self.deadline = Some((at, total)),
        }
        self
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        self.idle
    }

    /// How long the next read may wait, or the error when the deadline has
    /// already passed.
    pub fn next_read(&self) -> Result<Duration> {
        match self.deadline {
            None => Ok(self.idle),
            Some((at, set)) => {
                let now = self.clock.now();
                if now >= at {
                    Err(deadline_error(set, now - self.started))
                } else {
                    Ok(self.idle.min(at - now))
                }
            }
        }
    }

    /// The error for a read that waited as long as [`next_read`](Self::next_read)
    /// allowed: the deadline's if it has passed, else the idle timeout's.
    pub fn timed_out(&self) -> Error {
        match self.deadline {
            Some((at, set)) if self.clock.now() >= at => {
                deadline_error(set, self.clock.now() - self.started)
            }
            _ => Error::Stream(StreamError::IdleTimeout { after: self.idle }),
        }
    }
}

/// The error of a call whose deadline passed.
pub fn deadline_error(deadline: Duration, elapsed: Duration) -> Error {
    Error::Deadline { deadline, elapsed }
}

// ---------------------------------------------------------------------------
// The call machine
// ---------------------------------------------------------------------------

/// What the caller does with a 2xx answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Read the whole body (at most the configured size).
    Whole,
    /// Hand the response over unread, to be read as a stream.
    Stream,
}

enum State {
    Ready,
    Refreshing(RefreshTicket),
    Sent,
    ReadingAnswer {
        status: StatusCode,
        headers: HeaderMap,
    },
    ReadingError {
        status: StatusCode,
        headers: HeaderMap,
    },
    Sleeping,
    Over,
}

/// One call across its attempts. See the [module documentation](self).
pub struct CallMachine {
    x: Exchange,
    clock: SharedClock,
    started: Instant,
    attempt_started: Instant,
    deadline: Option<Duration>,
    idle: Duration,
    expect: Expect,
    uploads: Option<BodySource>,
    replayable: bool,
    secret: Option<crate::secret::Secret>,
    state: State,
}

impl fmt::Debug for CallMachine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallMachine")
            .field("operation", &self.x.prepared().id)
            .field("retries", &self.x.retries())
            .finish_non_exhaustive()
    }
}

impl CallMachine {
    /// A call of `prepared`, expecting `expect` of its answer.
    pub fn new(config: &ClientConfig, prepared: Prepared, expect: Expect) -> Self {
        let clock = config.clock().clone();
        let started = clock.now();
        let deadline = prepared.deadline;
        let idle = prepared.idle_timeout.unwrap_or(config.read_timeout());
        CallMachine {
            x: Exchange::new(config, prepared),
            clock,
            started,
            attempt_started: started,
            deadline,
            idle,
            expect,
            uploads: None,
            replayable: true,
            secret: None,
            state: State::Ready,
        }
    }

    /// The same call, sending `upload` as its multipart body (one fresh
    /// body per attempt; a one-shot reader is never sent twice). A known
    /// size over the limit is refused here.
    pub fn with_upload(mut self, upload: Upload) -> Result<Self> {
        self.uploads = Some(BodySource::new(upload)?);
        Ok(self)
    }

    /// The rendered request.
    pub fn prepared(&self) -> &Prepared {
        self.x.prepared()
    }

    /// The same call with a deadline of at most `left` (a wait's budget).
    pub fn deadline_at_most(mut self, left: Duration) -> Self {
        self.deadline = Some(self.deadline.map_or(left, |d| d.min(left)));
        self
    }

    /// The same call with this idle timeout for its streamed answer.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// The same call asking for `accept` (`Accept` header): for answers
    /// read as streams.
    pub fn accept(mut self, accept: &'static str) -> Self {
        self.x
            .prepared_mut()
            .headers
            .insert(http::header::ACCEPT, http::HeaderValue::from_static(accept));
        self
    }

    fn config(&self) -> &ClientConfig {
        self.x.config()
    }

    fn elapsed(&self) -> Duration {
        self.clock.now().saturating_duration_since(self.started)
    }

    /// Time left before the deadline (`None`: no deadline), or its error.
    fn left(&self) -> std::result::Result<Option<Duration>, Error> {
        match self.deadline {
            None => Ok(None),
            Some(d) => {
                let spent = self.elapsed();
                if spent >= d {
                    Err(deadline_error(d, spent))
                } else {
                    Ok(Some(d - spent))
                }
            }
        }
    }

    fn clamp(&self, d: Duration) -> Duration {
        match self.left() {
            Ok(Some(left)) => d.min(left),
            _ => d,
        }
    }

    fn done(&mut self, r: Result<Answer>) -> Step {
        self.state = State::Over;
        Step::Done(r)
    }

    /// The first step.
    pub fn start(&mut self) -> Step {
        if let Err(e) = self.left() {
            return self.done(Err(e));
        }
        if matches!(
            self.config().credentials(),
            crate::auth::Credentials::External
        ) {
            return Step::FetchToken;
        }
        match self.config().credentials().resolve_step() {
            Err(e) => self.done(Err(e)),
            Ok(ResolveStep::Ready(r)) => self.send(r),
            Ok(ResolveStep::Wait(w)) => {
                self.state = State::Ready;
                Step::AwaitCredentials(w)
            }
            Ok(ResolveStep::Refresh(ticket)) => match ticket.request() {
                Ok(request) => {
                    let timeout = self.clamp(
                        self.config()
                            .timeout()
                            .unwrap_or(self.config().read_timeout()),
                    );
                    self.state = State::Refreshing(ticket);
                    Step::Refresh(RefreshRequest {
                        request,
                        timeout,
                        limit: MAX_REFRESH_BODY,
                    })
                }
                Err(e) => self.done(Err(e)),
            },
        }
    }

    /// After [`Step::FetchToken`]: the provider's token, or its failure.
    pub fn on_token(
        &mut self,
        token: std::result::Result<String, Box<dyn std::error::Error + Send + Sync>>,
    ) -> Step {
        match token {
            Ok(t) => self.send(Resolved::Bearer(crate::secret::Secret::new(t))),
            Err(e) => self.done(Err(Error::Config(format!(
                "the token provider failed: {e}"
            )))),
        }
    }

    /// After [`Step::AwaitCredentials`].
    pub fn on_credentials(&mut self, waited: Result<()>) -> Step {
        match waited {
            Ok(()) => self.start(),
            Err(e) => self.done(Err(e)),
        }
    }

    /// After [`Step::Refresh`]: the answer's status, headers and (bounded)
    /// body, or why there is none.
    pub fn on_refresh(
        &mut self,
        answer: std::result::Result<(StatusCode, HeaderMap, Bytes), TransportError>,
    ) -> Step {
        let State::Refreshing(ticket) = std::mem::replace(&mut self.state, State::Ready) else {
            return self.done(Err(misuse("on_refresh")));
        };
        let resolved = match answer {
            Ok((status, headers, body)) => ticket.complete(status, &headers, &body),
            Err(e) => Err(ticket.fail(Error::Transport(e))),
        };
        match resolved {
            Ok(r) => self.send(r),
            Err(e) => self.done(Err(e)),
        }
    }

    fn send(&mut self, resolved: Resolved) -> Step {
        self.secret = Some(match &resolved {
            Resolved::ApiKey(s) | Resolved::Bearer(s) => s.clone(),
        });
        let headers = match self.x.headers(&resolved) {
            Ok(h) => h,
            Err(e) => return self.done(Err(e)),
        };
        let mut headers = headers;
        let prepared = self.x.prepared();
        let body = match self.uploads.as_mut() {
            Some(source) => match source.next_body() {
                Some(b) => {
                    self.replayable = b.is_replayable();
                    if let Ok(v) = http::HeaderValue::from_str(b.content_type()) {
                        headers.insert(http::header::CONTENT_TYPE, v);
                    }
                    if let Some(n) = b.content_length() {
                        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(n));
                    }
                    AttemptBody::Multipart(b)
                }
                None => {
                    return self.done(Err(Error::InvalidRequest(
                        "the upload body cannot be sent again".into(),
                    )));
                }
            },
            None if prepared.carries_body() => {
                AttemptBody::Bytes(prepared.body.clone().map(Bytes::from).unwrap_or_default())
            }
            None => AttemptBody::None,
        };
        let config = self.config();
        let total = match self.expect {
            Expect::Whole if self.uploads.is_none() => prepared.timeout.map(|t| self.clamp(t)),
            _ => self.left().ok().flatten(),
        };
        let timeouts = AttemptTimeouts {
            connect: self.clamp(config.connect_timeout()),
            head: self.clamp(config.read_timeout()),
            total,
            idle: self.clamp(self.idle),
        };
        let attempt = Attempt {
            method: prepared.method.clone(),
            url: prepared.url.clone(),
            headers,
            body,
            timeouts,
        };
        self.attempt_started = self.clock.now();
        self.state = State::Sent;
        Step::Send(attempt)
    }

    /// After [`Step::Send`]: the response head arrived.
    pub fn on_head(&mut self, status: StatusCode, headers: HeaderMap) -> Step {
        if !matches!(self.state, State::Sent) {
            return self.done(Err(misuse("on_head")));
        }
        if let Some(delay) = self
            .x
            .retry_on_status(status, &headers)
            .filter(|_| self.replayable)
        {
            return self.sleep(delay);
        }
        if !status.is_success() {
            let timeout = self.clamp(self.config().read_timeout());
            self.state = State::ReadingError { status, headers };
            return Step::ReadBody(BodyRead {
                limit: MAX_ERROR_BODY_READ,
                timeout,
                idle: self.clamp(self.idle),
            });
        }
        match self.expect {
            Expect::Stream => {
                if let Err(e) = self.x.check_status(status, &headers, &[]) {
                    return self.done(Err(e));
                }
                self.state = State::Over;
                let mut bounds = ReadBounds {
                    idle: self.idle,
                    deadline: None,
                    started: self.started,
                    clock: self.clock.clone(),
                };
                if let Some(d) = self.deadline {
                    bounds.deadline = Some((self.started + d, d));
                }
                Step::Open(Head {
                    status,
                    headers,
                    bounds,
                })
            }
            Expect::Whole => {
                // The answer of an upload has the read timeout; an ordinary
                // call what is left of its attempt's overall timeout.
                let budget = match (self.uploads.is_some(), self.x.prepared().timeout) {
                    (false, Some(t)) => t.saturating_sub(
                        self.clock
                            .now()
                            .saturating_duration_since(self.attempt_started),
                    ),
                    _ => self.config().read_timeout(),
                };
                let timeout = self.clamp(budget);
                self.state = State::ReadingAnswer { status, headers };
                Step::ReadBody(BodyRead {
                    limit: self.config().max_response_bytes(),
                    timeout,
                    idle: self.clamp(self.idle),
                })
            }
        }
    }

    /// After [`Step::Send`]: no response head (or [`Step::Refresh`] never
    /// applies here). Retries when the policy allows.
    pub fn on_error(&mut self, error: TransportError) -> Step {
        if let Some(e) = crate::multipart::upload_error(&error) {
            return self.done(Err(e));
        }
        if let Err(e) = self.left() {
            return self.done(Err(e));
        }
        if !self.replayable {
            return self.done(Err(Error::Transport(error)));
        }
        match self.x.retry_on_error(error) {
            Ok(delay) => self.sleep(delay),
            Err(e) => self.done(Err(e)),
        }
    }

    /// After [`Step::ReadBody`]: the bytes read (at most `limit + 1`), or
    /// why the read failed.
    pub fn on_body(&mut self, body: std::result::Result<Bytes, TransportError>) -> Step {
        match std::mem::replace(&mut self.state, State::Over) {
            State::ReadingError { status, headers } => {
                let mut body = body.unwrap_or_default();
                // A server that echoes the request must not put the
                // credential into the error's text.
                if let Some(secret) = &self.secret {
                    let text = String::from_utf8_lossy(&body);
                    let clean = secret.redact(&text);
                    if clean != text {
                        body = Bytes::from(clean);
                    }
                }
                let e = self.x.api_error(status, &headers, &body);
                self.done(Err(e))
            }
            State::ReadingAnswer { status, headers } => match body {
                Ok(body) => {
                    let limit = self.config().max_response_bytes();
                    if body.len() > limit {
                        return self.done(Err(crate::stream::too_large(limit)));
                    }
                    if let Err(e) = self.x.check_status(status, &headers, &[]) {
                        return self.done(Err(e));
                    }
                    self.done(Ok(Answer {
                        status,
                        headers,
                        body,
                    }))
                }
                Err(e) => {
                    if e.kind == TransportKind::Timeout {
                        if let Err(d) = self.left() {
                            return self.done(Err(d));
                        }
                    }
                    self.state = State::Sent;
                    self.on_error(e)
                }
            },
            _ => self.done(Err(misuse("on_body"))),
        }
    }

    fn sleep(&mut self, delay: Duration) -> Step {
        if let Some(d) = self.deadline {
            let spent = self.elapsed();
            if spent.saturating_add(delay) >= d {
                // Waiting would end past the deadline: give up now.
                return self.done(Err(deadline_error(d, spent)));
            }
        }
        self.state = State::Sleeping;
        Step::Sleep(delay)
    }

    /// After [`Step::Sleep`]: the next attempt.
    pub fn on_slept(&mut self) -> Step {
        self.start()
    }

    /// Whether the call is over.
    pub fn is_over(&self) -> bool {
        matches!(self.state, State::Over)
    }
}

fn misuse(what: &str) -> Error {
    Error::InvalidRequest(format!("driver bug: {what} called out of turn"))
}

/// The span a driver runs one call in (`tracing` feature).
#[cfg(feature = "tracing")]
pub fn span(machine: &CallMachine) -> tracing::Span {
    crate::exchange::span(machine.prepared())
}

#[cfg(test)]
mod tests;
