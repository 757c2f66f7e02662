//! Typed agent-run events on top of the SSE decoder.
//!
//! [`RunEventDecoder`] takes the raw bytes of `POST /agents/{id}/runs/stream`
//! in any chunking and yields [`RunEvent`]s. A malformed event is an error
//! item and decoding goes on; a stream that ends before `done`, `error` or
//! `timeout` ends with [`StreamError::EndedEarly`].
//!
//! Known events never go through a `serde_json::Value`: runs decode into
//! [`AgentRunResponse`], tokens into [`Token`], and the payloads of the
//! others (`status`, `stream_end`, `stream_reasoning`, `step_*`) are checked
//! to be JSON without building anything and kept as sent ([`RawJson`]).
//! Only a server `error`/`timeout`, which ends the stream, is kept as a
//! value.
//!
//! The hot path is `stream_token`, one event per generated token. Its
//! payload is checked and its token found in one pass over the text, never
//! through a `serde_json::Value`, and the event keeps the payload with the
//! token pointing into it ([`Token`]). The payloads of the events of one
//! read share a single copy of it, so a read of a hundred tokens costs one
//! allocation, not a hundred. A decoder made
//! with [`RunEventDecoder::verdict_only`] goes further for callers that only
//! need the outcome (`run_streaming_agent_and_wait`): it decodes `init`,
//! `done`, `error` and `timeout`, and once the run id is known it has the
//! SSE decoder drop every other event unread.

use crate::error::{Error, Result, StreamError};
use crate::sse::{SseDecoder, SseEvent, SseEventRef};
use seclai_gen::types::AgentRunResponse;
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

/// The JSON payload of an event, kept as the text the server sent and
/// parsed only on request.
///
/// Payloads decoded from a stream share one copy of the chunk of the body
/// they arrived in (one allocation per read, not one per event), so keeping
/// a `RawJson` keeps that copy, at most one read of the body, alive. For a
/// payload kept long after the stream, [`into_string`](Self::into_string)
/// gives a copy of its own.
#[derive(Clone)]
pub struct RawJson {
    buf: Arc<str>,
    start: usize,
    end: usize,
}

impl RawJson {
    /// Wraps JSON text (not checked here).
    pub fn new(text: impl Into<String>) -> Self {
        let text: String = text.into();
        let end = text.len();
        RawJson {
            buf: Arc::from(text),
            start: 0,
            end,
        }
    }
    /// The text as sent.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }
    /// The text, owned.
    pub fn into_string(self) -> String {
        self.as_str().to_owned()
    }
    /// Parses the payload into a JSON value.
    pub fn to_value(&self) -> serde_json::Result<Value> {
        serde_json::from_str(self.as_str())
    }
    /// Parses the payload into any type.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_str(self.as_str())
    }
    /// A top-level string field, read without building a `Value`; `None`
    /// when absent, not a string, or not borrowable (escaped).
    pub fn str_field(&self, key: &str) -> Option<&str> {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_str(self.as_str());
        FindStr(key).deserialize(&mut de).ok().flatten()
    }
}

impl Default for RawJson {
    fn default() -> Self {
        RawJson::new(String::new())
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RawJson {}

/// The copy of one chunk's text that the payloads of its events share:
/// made when the first of them needs it, from that event's start to the
/// end of the chunk. Lives for one push of bytes only, since the next
/// chunk may arrive in the same buffer.
#[derive(Default)]
struct ChunkCopy {
    /// Where in the chunk text the copy starts, and the copy.
    copy: Option<(usize, Arc<str>)>,
}

impl ChunkCopy {
    /// `data` as a payload: sharing the copy when it lies in `chunk` (the
    /// checked text of the chunk being decoded), copied on its own when
    /// not (an event put together in the decoder's buffers).
    #[inline]
    fn raw(&mut self, chunk: &str, data: &str) -> RawJson {
        let at = (data.as_ptr() as usize).wrapping_sub(chunk.as_ptr() as usize);
        if at > chunk.len() || data.len() > chunk.len() - at {
            return RawJson::new(data);
        }
        let (from, buf) = match &self.copy {
            Some((from, buf)) if *from <= at => (*from, buf.clone()),
            _ => match chunk.get(at..) {
                Some(rest) => {
                    let buf: Arc<str> = Arc::from(rest);
                    self.copy = Some((at, buf.clone()));
                    (at, buf)
                }
                None => return RawJson::new(data),
            },
        };
        RawJson {
            buf,
            start: at - from,
            end: at - from + data.len(),
        }
    }
}

/// Reads one top-level string field of a JSON object, skipping the rest
/// without building it.
struct FindStr<'k>(&'k str);

impl<'de> serde::de::DeserializeSeed<'de> for FindStr<'_> {
    type Value = Option<&'de str>;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FindStr<'_> {
    type Value = Option<&'de str>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut found = None;
        // An escaped key is not borrowable: it cannot be the one sought
        // (field names here are plain ASCII) and is skipped.
        while let Some(key) = map.next_key::<MaybeStr<'de>>()? {
            if found.is_none() && matches!(key, MaybeStr::Str(k) if k == self.0) {
                if let MaybeStr::Str(s) = map.next_value()? {
                    found = Some(s);
                }
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `stream_token` event: the token text and the whole payload as the
/// server sent it, held in one buffer.
///
/// A `Token` reads as its text: it derefs to `str` and displays as the
/// token.
///
/// ```
/// use seclai_core::{RunEvent, RunEventDecoder};
/// let mut d = RunEventDecoder::new();
/// let out = d.push(b"event: stream_token\ndata: {\"run_id\":\"r1\",\"token\":\"Hi\"}\n\n");
/// let Ok(RunEvent::StreamToken(token)) = &out[0] else { panic!() };
/// assert_eq!(token.text(), "Hi");
/// assert_eq!(token.run_id(), Some("r1"));
/// assert_eq!(format!("{token}!"), "Hi!");
/// ```
#[derive(Clone)]
pub struct Token {
    data: RawJson,
    text: TokenText,
}

/// Where a token's text is: inside the payload's buffer (the usual case, no
/// escapes; the range is in the buffer, not the payload) or decoded apart
/// from it.
#[derive(Clone)]
enum TokenText {
    Within(std::ops::Range<usize>),
    Apart(String),
}

impl Token {
    /// Reads a `stream_token` payload: a missing `token` is the empty text;
    /// a payload that is not a JSON object with a string `token` is an
    /// error.
    pub fn parse(data: &str) -> Result<Token> {
        Token::read(RawJson::new(data))
    }

    /// Reads the token of a payload, keeping the payload.
    fn read(data: RawJson) -> Result<Token> {
        let text = match crate::flat_json::plain_string_field(data.as_str(), "token") {
            Some(range) => {
                let range = range.unwrap_or_default();
                TokenText::Within(data.start + range.start..data.start + range.end)
            }
            None => {
                let payload: TokenPayload<'_> = serde_json::from_str(data.as_str())
                    .map_err(|e| malformed("stream_token", "is not a token payload", &e))?;
                TokenText::Apart(payload.token.into_owned())
            }
        };
        Ok(Token { data, text })
    }

    /// The token text.
    pub fn text(&self) -> &str {
        match &self.text {
            TokenText::Within(range) => self.data.buf.get(range.clone()).unwrap_or_default(),
            TokenText::Apart(text) => text,
        }
    }

    /// The token text, owned.
    pub fn into_text(self) -> String {
        match self.text {
            TokenText::Within(_) => self.text().to_owned(),
            TokenText::Apart(text) => text,
        }
    }

    /// The whole payload, as sent ([`RawJson::to_value`] parses it).
    pub fn data(&self) -> &RawJson {
        &self.data
    }

    /// The run id the payload names, if any.
    pub fn run_id(&self) -> Option<&str> {
        self.data.str_field("run_id")
    }
}

/// Tokens are equal when their payloads are (and so their texts).
impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data && self.text() == other.text()
    }
}

impl Eq for Token {}

impl std::ops::Deref for Token {
    type Target = str;
    fn deref(&self) -> &str {
        self.text()
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("text", &self.text())
            .field("data", &self.data)
            .finish()
    }
}

/// A JSON value that is either a borrowable string or anything else
/// (skipped without being built).
#[derive(Deserialize)]
#[serde(untagged)]
enum MaybeStr<'a> {
    Str(&'a str),
    Other(serde::de::IgnoredAny),
}

/// The fields of a `stream_token` payload the SDK reads, for payloads the
/// quick reader leaves to serde_json; others are skipped without being
/// built.
#[derive(Deserialize)]
struct TokenPayload<'a> {
    #[serde(default, borrow)]
    token: Cow<'a, str>,
}

/// Just the run id of a payload, for events decoded no further.
#[derive(Deserialize)]
struct RunIdPayload<'a> {
    #[serde(default, borrow)]
    run_id: Option<Cow<'a, str>>,
}

/// One event of a streamed agent run.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// `init`: the run was created; a snapshot including its `run_id`.
    Init(Box<AgentRunResponse>),
    /// `status`: a status change. The payload is checked to be JSON and
    /// kept as sent (`data.str_field("status")`, or [`RawJson::parse`]
    /// into a type of your own).
    Status(RawJson),
    /// A step event (`step_*`), forwarded from the run.
    Step {
        /// The event name.
        event: String,
        /// Its payload, checked to be JSON and kept as sent.
        data: RawJson,
    },
    /// `stream_token`: one token of a streaming step.
    StreamToken(Token),
    /// `stream_end`: a streaming step finished (payload checked, kept as
    /// sent).
    StreamEnd(RawJson),
    /// `stream_reasoning`: reasoning text of a streaming step (payload
    /// checked, kept as sent).
    StreamReasoning(RawJson),
    /// `done`: the final snapshot of the run.
    Done(Box<AgentRunResponse>),
    /// `timeout`: the server stopped following the run (it may still finish).
    Timeout {
        /// The run, when the payload names it.
        run_id: Option<String>,
        /// The payload.
        data: Value,
    },
    /// `error`: the server reported an error while following the run.
    Error {
        /// The run, when the payload names it.
        run_id: Option<String>,
        /// The server's message.
        message: String,
        /// The payload.
        data: Value,
    },
    /// An event this SDK does not know, kept as sent.
    Unknown {
        /// The event name (`message` when the stream gave none).
        event: String,
        /// The raw data.
        data: String,
    },
}

impl RunEvent {
    /// The event name as sent on the wire.
    pub fn name(&self) -> &str {
        match self {
            RunEvent::Init(_) => "init",
            RunEvent::Status(_) => "status",
            RunEvent::Step { event, .. } => event,
            RunEvent::StreamToken(_) => "stream_token",
            RunEvent::StreamEnd(_) => "stream_end",
            RunEvent::StreamReasoning(_) => "stream_reasoning",
            RunEvent::Done(_) => "done",
            RunEvent::Timeout { .. } => "timeout",
            RunEvent::Error { .. } => "error",
            RunEvent::Unknown { event, .. } => event,
        }
    }

    /// The run id this event names, if any.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            RunEvent::Init(r) | RunEvent::Done(r) => Some(&r.run_id),
            RunEvent::Timeout { run_id, .. } | RunEvent::Error { run_id, .. } => run_id.as_deref(),
            RunEvent::Status(d)
            | RunEvent::StreamEnd(d)
            | RunEvent::StreamReasoning(d)
            | RunEvent::Step { data: d, .. } => d.str_field("run_id"),
            RunEvent::StreamToken(token) => token.run_id(),
            RunEvent::Unknown { .. } => None,
        }
    }

    /// Ends the stream: `done`, `error` or `timeout`.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            RunEvent::Done(_) | RunEvent::Error { .. } | RunEvent::Timeout { .. }
        )
    }

    /// Interpret one SSE event. Malformed JSON in a known event is an error.
    pub fn parse(ev: &SseEvent) -> Result<RunEvent> {
        Self::parse_parts(&ev.event, &ev.data)
    }

    /// Interpret one event given its name and data (for example the fields
    /// of an [`SseEventRef`]). Malformed JSON in a known event is an error
    /// for that event only.
    pub fn parse_parts(event: &str, data: &str) -> Result<RunEvent> {
        Self::parse_in(event, data, "", &mut ChunkCopy::default())
    }

    /// [`parse_parts`](Self::parse_parts) for an event decoded from
    /// `chunk`, whose payload shares the chunk's copy when it lies there.
    fn parse_in(event: &str, data: &str, chunk: &str, copy: &mut ChunkCopy) -> Result<RunEvent> {
        let json = || -> Result<Value> {
            serde_json::from_str(data).map_err(|e| malformed(event, "is not valid JSON", &e))
        };
        // Checked without building anything, then kept as sent.
        let mut raw = || -> Result<RawJson> {
            serde_json::from_str::<serde::de::IgnoredAny>(data)
                .map(|_| copy.raw(chunk, data))
                .map_err(|e| malformed(event, "is not valid JSON", &e))
        };
        Ok(match event {
            "init" => RunEvent::Init(parse_run(event, data)?),
            "done" => RunEvent::Done(parse_run(event, data)?),
            "stream_token" => RunEvent::StreamToken(Token::read(copy.raw(chunk, data))?),
            "status" => RunEvent::Status(raw()?),
            "stream_end" => RunEvent::StreamEnd(raw()?),
            "stream_reasoning" => RunEvent::StreamReasoning(raw()?),
            "timeout" => {
                let data = json().unwrap_or_else(|_| Value::String(data.to_owned()));
                RunEvent::Timeout {
                    run_id: str_field(&data, "run_id").map(str::to_string),
                    data,
                }
            }
            "error" => {
                let data = json().unwrap_or_else(|_| Value::String(data.to_owned()));
                let message = ["message", "error", "detail"]
                    .iter()
                    .find_map(|k| str_field(&data, k))
                    .or_else(|| data.as_str())
                    .unwrap_or("the server reported an error")
                    .to_string();
                RunEvent::Error {
                    run_id: str_field(&data, "run_id").map(str::to_string),
                    message,
                    data,
                }
            }
            name if name.starts_with("step") => RunEvent::Step {
                event: name.to_string(),
                data: raw()?,
            },
            name => RunEvent::Unknown {
                event: name.to_string(),
                data: data.to_owned(),
            },
        })
    }
}

/// Whether a verdict-only decoder decodes this event: only what decides
/// the outcome of the run.
fn decides_verdict(event: &str) -> bool {
    matches!(event, "init" | "done" | "error" | "timeout")
}

fn parse_run(event: &str, data: &str) -> Result<Box<AgentRunResponse>> {
    serde_json::from_str(data)
        .map(Box::new)
        .map_err(|e| malformed(event, "is not a run snapshot", &e))
}

fn malformed(event: &str, what: &str, e: &serde_json::Error) -> Error {
    Error::Stream(StreamError::Malformed {
        message: format!("`{event}` event data {what}: {e}"),
    })
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Bytes in, run events out; remembers the run id and whether a final
/// event arrived.
#[derive(Debug, Default)]
pub struct RunEventDecoder {
    sse: SseDecoder,
    run_id: Option<String>,
    finished: bool,
    verdict_only: bool,
}

impl RunEventDecoder {
    /// A decoder with the default line and event caps.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with a custom line cap in bytes.
    pub fn with_max_line(limit: usize) -> Self {
        RunEventDecoder {
            sse: SseDecoder::with_max_line(limit),
            ..Self::default()
        }
    }

    /// A decoder for callers that need only the run's outcome: it yields
    /// `init`, `done`, `error` and `timeout` (and errors), and skips every
    /// other event without parsing its payload. The run id is still picked
    /// up from skipped events until one names it.
    pub fn verdict_only() -> Self {
        RunEventDecoder {
            verdict_only: true,
            ..Self::default()
        }
    }

    /// Sets the largest event accepted, in bytes (its `data:` lines joined);
    /// a larger one is dropped with [`StreamError::EventTooLarge`].
    pub fn max_event(mut self, limit: usize) -> Self {
        self.sse = std::mem::take(&mut self.sse).max_event(limit);
        self
    }

    /// Whether this decoder skips everything but the verdict events.
    pub fn is_verdict_only(&self) -> bool {
        self.verdict_only
    }

    /// The run id, once an event named it.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Whether `done`, `error` or `timeout` arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The SSE decoder, and what turns its items into run events for one
    /// push of bytes.
    fn split(&mut self) -> (&mut SseDecoder, Convert<'_>) {
        let convert = Convert {
            copy: ChunkCopy::default(),
            verdict_only: self.verdict_only,
            run_id: &mut self.run_id,
            finished: &mut self.finished,
        };
        (&mut self.sse, convert)
    }

    /// Feed bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<RunEvent>> {
        let mut out = Vec::new();
        self.push_with(chunk, |item| out.push(item));
        out
    }

    /// Feed bytes, handing each decoded item to `f` (no vector per chunk).
    pub fn push_with(&mut self, chunk: &[u8], mut f: impl FnMut(Result<RunEvent>)) {
        if self.verdict_only && self.run_id.is_some() {
            // Nothing more to learn from the other events: drop them unread.
            self.sse.skip_events(Some(|name| !decides_verdict(name)));
        }
        let (sse, mut convert) = self.split();
        sse.push_in(chunk, |item, text| convert.item(item, text, &mut f));
    }

    /// The stream closed: flush, and report an early end if no final event came.
    pub fn finish(&mut self) -> Vec<Result<RunEvent>> {
        let mut out = Vec::new();
        self.finish_with(|item| out.push(item));
        out
    }

    /// [`finish`](Self::finish), handing each item to `f`.
    pub fn finish_with(&mut self, mut f: impl FnMut(Result<RunEvent>)) {
        let (sse, mut convert) = self.split();
        sse.finish_in(|item, text| convert.item(item, text, &mut f));
        if !self.finished {
            self.finished = true;
            f(Err(Error::Stream(StreamError::EndedEarly {
                run_id: self.run_id.clone(),
            })));
        }
    }

    /// The server answered `application/json` instead of a stream: a
    /// terminal run is `done`, anything else `init` followed by an early end.
    pub fn json_answer(&mut self, status: http::StatusCode, body: &[u8]) -> Vec<Result<RunEvent>> {
        match crate::error::decode_json::<AgentRunResponse>(status, body) {
            Ok(run) => {
                self.run_id = Some(run.run_id.clone());
                if crate::poll::is_terminal_status(run.status.as_str()) {
                    self.finished = true;
                    vec![Ok(RunEvent::Done(Box::new(run)))]
                } else {
                    let mut out = vec![Ok(RunEvent::Init(Box::new(run)))];
                    out.extend(self.finish());
                    out
                }
            }
            Err(e) => {
                self.finished = true;
                vec![Err(e)]
            }
        }
    }
}

/// Turns the SSE items of one push of bytes into run-event items, noting
/// the run id and whether the stream is over.
struct Convert<'d> {
    copy: ChunkCopy,
    verdict_only: bool,
    run_id: &'d mut Option<String>,
    finished: &'d mut bool,
}

impl Convert<'_> {
    /// One SSE item (decoded from `chunk`'s text) to at most one run-event
    /// item.
    fn item(
        &mut self,
        item: crate::sse::SseItemRef<'_>,
        chunk: &str,
        f: &mut impl FnMut(Result<RunEvent>),
    ) {
        let ev: SseEventRef<'_> = match item {
            Ok(ev) => ev,
            Err(e) => return f(Err(e.into())),
        };
        if self.verdict_only && !decides_verdict(ev.event) {
            if self.run_id.is_none() {
                if let Ok(RunIdPayload { run_id: Some(id) }) = serde_json::from_str(ev.data) {
                    *self.run_id = Some(id.into_owned());
                }
            }
            return;
        }
        let parsed = RunEvent::parse_in(ev.event, ev.data, chunk, &mut self.copy);
        if let Ok(event) = &parsed {
            if self.run_id.is_none() {
                *self.run_id = event.run_id().map(str::to_string);
            }
            if event.is_final() {
                *self.finished = true;
            }
        }
        f(parsed)
    }
}

/// The read loop of a run stream, minus the reading: a transport feeds it
/// what happened (bytes, end, idle timeout, error) and pops items to hand
/// out. Shared by the async `Stream` and the blocking `Iterator`.
#[derive(Debug, Default)]
pub struct EventPump {
    decoder: RunEventDecoder,
    queue: std::collections::VecDeque<Result<RunEvent>>,
    closed: bool,
}

impl EventPump {
    /// A pump around `decoder`.
    pub fn new(decoder: RunEventDecoder) -> Self {
        EventPump {
            decoder,
            queue: Default::default(),
            closed: false,
        }
    }
    /// The next item to hand out, if one is ready.
    pub fn pop(&mut self) -> Option<Result<RunEvent>> {
        self.queue.pop_front()
    }
    /// True when nothing more will come: the transport should close the
    /// connection (a final event arrived, or the stream ended or failed).
    pub fn is_done(&self) -> bool {
        self.queue.is_empty() && (self.closed || self.decoder.is_finished())
    }
    /// The run id, once known.
    pub fn run_id(&self) -> Option<&str> {
        self.decoder.run_id()
    }
    /// Bytes arrived.
    pub fn on_bytes(&mut self, chunk: &[u8]) {
        let queue = &mut self.queue;
        self.decoder.push_with(chunk, |item| queue.push_back(item));
    }
    /// The server closed the stream.
    pub fn on_eof(&mut self) {
        let queue = &mut self.queue;
        self.decoder.finish_with(|item| queue.push_back(item));
        self.closed = true;
    }
    /// Nothing arrived for `after`.
    pub fn on_idle(&mut self, after: std::time::Duration) {
        self.queue
            .push_back(Err(Error::Stream(StreamError::IdleTimeout { after })));
        self.closed = true;
    }
    /// Reading failed.
    pub fn on_error(&mut self, e: Error) {
        self.queue.push_back(Err(e));
        self.closed = true;
    }
    /// The answer was JSON rather than a stream.
    pub fn on_json(&mut self, status: http::StatusCode, body: &[u8]) {
        let items = self.decoder.json_answer(status, body);
        self.queue.extend(items);
        self.closed = true;
    }
}

/// Drain helper: the outcome of a stream read to its end without polling.
/// Returns the `done` run (an error if it failed), the server's
/// `error`/`timeout` as an error, or the early end.
#[derive(Debug, Default)]
pub struct FinalRun {
    outcome: Option<Result<AgentRunResponse>>,
}

impl FinalRun {
    /// Look at one item; `true` once the outcome is known.
    pub fn on_item(&mut self, item: Result<RunEvent>) -> bool {
        let outcome = match item {
            Ok(RunEvent::Done(run)) => match crate::wait::run_verdict(&run) {
                Some(Err(e)) => Err(e),
                _ => Ok(*run),
            },
            Ok(RunEvent::Error {
                run_id,
                message,
                data,
            }) => Err(Error::Stream(StreamError::ServerError {
                run_id,
                message,
                data,
            })),
            Ok(RunEvent::Timeout { run_id, data }) => {
                Err(Error::Stream(StreamError::ServerTimeout { run_id, data }))
            }
            Ok(_) | Err(Error::Stream(StreamError::Malformed { .. })) => return false,
            Err(e) => Err(e),
        };
        self.outcome = Some(outcome);
        true
    }
    /// The outcome; a stream that yielded nothing final ended early.
    pub fn finish(self, run_id: Option<&str>) -> Result<AgentRunResponse> {
        self.outcome.unwrap_or_else(|| {
            Err(Error::Stream(StreamError::EndedEarly {
                run_id: run_id.map(str::to_string),
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str) -> String {
        format!(
            r#"{{"run_id":"r1","status":"{status}","error_count":0,"credits":null,"priority":true,"input":"hi","output":null,"attempts":[]}}"#
        )
    }

    fn all(bytes: &[u8]) -> Vec<Result<RunEvent>> {
        let mut d = RunEventDecoder::new();
        let mut out = d.push(bytes);
        out.extend(d.finish());
        out
    }

    #[test]
    fn a_whole_run_decodes() {
        let s = format!(
            ": keepalive\n\nevent: init\ndata: {}\n\nevent: stream_token\ndata: {{\"token\":\"He\"}}\n\nevent: step_completed\ndata: {{}}\n\nevent: brand_new\ndata: x\n\nevent: done\ndata: {}\n\n",
            run("pending"),
            run("completed")
        );
        let evs: Vec<RunEvent> = all(s.as_bytes()).into_iter().map(|r| r.unwrap()).collect();
        let names: Vec<&str> = evs.iter().map(RunEvent::name).collect();
        assert_eq!(
            names,
            [
                "init",
                "stream_token",
                "step_completed",
                "brand_new",
                "done"
            ]
        );
        assert!(matches!(&evs[1], RunEvent::StreamToken(token) if token.text() == "He"));
        assert!(matches!(&evs[3], RunEvent::Unknown { data, .. } if data == "x"));
        // Other known payloads are kept as sent, read on request.
        let out = all(
            b"event: status\ndata: {\"status\":\"running\",\"run_id\":\"r9\",\"n\":[1]}\n\nevent: step_started\ndata: {\"step\":{\"id\":2}}\n\n",
        );
        let Ok(ev @ RunEvent::Status(d)) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(d.str_field("status"), Some("running"));
        assert_eq!(ev.run_id(), Some("r9"));
        assert_eq!(d.to_value().unwrap()["n"][0], 1);
        assert!(
            matches!(&out[1], Ok(RunEvent::Step { event, data }) if event == "step_started" && data.as_str() == "{\"step\":{\"id\":2}}")
        );
    }

    #[test]
    fn malformed_events_are_errors_and_decoding_continues() {
        let s = format!(
            "event: status\ndata: {{nope\n\nevent: done\ndata: {}\n\n",
            run("completed")
        );
        let out = all(s.as_bytes());
        assert!(matches!(
            out[0],
            Err(Error::Stream(StreamError::Malformed { .. }))
        ));
        assert!(matches!(out[1], Ok(RunEvent::Done(_))));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn early_end_is_reported_with_the_run_id() {
        let s = format!("event: init\ndata: {}\n\n", run("pending"));
        let out = all(s.as_bytes());
        assert!(
            matches!(&out[1], Err(Error::Stream(StreamError::EndedEarly { run_id: Some(id) })) if id == "r1")
        );
    }

    #[test]
    fn error_and_timeout_events_carry_the_run_id() {
        let out = all(b"event: error\ndata: {\"run_id\":\"r9\",\"message\":\"boom\"}\n\n");
        assert!(
            matches!(&out[0], Ok(RunEvent::Error { run_id: Some(r), message, .. }) if r == "r9" && message == "boom")
        );
        assert_eq!(out.len(), 1, "error is final: no early-end item");
        let out = all(b"event: timeout\ndata: not json\n\n");
        assert!(matches!(
            &out[0],
            Ok(RunEvent::Timeout { run_id: None, .. })
        ));
    }

    #[test]
    fn json_answers_stand_in_for_a_stream() {
        let mut d = RunEventDecoder::new();
        let out = d.json_answer(http::StatusCode::OK, run("completed").as_bytes());
        assert!(matches!(&out[..], [Ok(RunEvent::Done(_))]));
        let mut d = RunEventDecoder::new();
        let out = d.json_answer(http::StatusCode::OK, run("pending").as_bytes());
        assert!(matches!(
            &out[..],
            [
                Ok(RunEvent::Init(_)),
                Err(Error::Stream(StreamError::EndedEarly { .. }))
            ]
        ));
    }

    #[test]
    fn a_malformed_token_is_an_error_for_that_event_only() {
        let s = format!(
            "event: init\ndata: {}\n\nevent: stream_token\ndata: {{\"token\":\"a\"}}\n\nevent: stream_token\ndata: {{\"token\":7}}\n\nevent: stream_token\ndata: [1\n\nevent: stream_token\ndata: {{\"token\":\"b\\\"\\u00e9\"}}\n\nevent: done\ndata: {}\n\n",
            run("pending"),
            run("completed")
        );
        let out = all(s.as_bytes());
        assert_eq!(out.len(), 6);
        assert!(matches!(&out[1], Ok(RunEvent::StreamToken(token)) if token.text() == "a"));
        for bad in &out[2..4] {
            assert!(
                matches!(bad, Err(Error::Stream(StreamError::Malformed { message })) if message.contains("stream_token")),
                "{bad:?}"
            );
        }
        assert!(matches!(&out[4], Ok(RunEvent::StreamToken(token)) if &**token == "b\"é"));
        assert!(matches!(&out[5], Ok(RunEvent::Done(_))));
    }

    #[test]
    fn token_payloads_are_kept_raw_and_read_on_request() {
        let out = all(b"event: stream_token\ndata: {\"step\":{\"a\":[1]},\"run_id\":\"r5\",\"token\":\"x\"}\n\n");
        let Ok(ev @ RunEvent::StreamToken(token)) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(ev.run_id(), Some("r5"));
        assert_eq!(token.text(), "x");
        assert_eq!(token.clone().into_text(), "x");
        let data = token.data();
        assert_eq!(data.str_field("token"), Some("x"));
        assert_eq!(data.str_field("step"), None);
        assert_eq!(data.str_field("missing"), None);
        assert_eq!(data.to_value().unwrap()["step"]["a"][0], 1);
        // The decoder remembered the id from the token event.
        let mut d = RunEventDecoder::new();
        d.push(b"event: stream_token\ndata: {\"run_id\":\"r5\",\"token\":\"x\"}\n\n");
        assert_eq!(d.run_id(), Some("r5"));
        // A missing token is an empty one, as before.
        let out = all(b"event: stream_token\ndata: {}\n\n");
        assert!(
            matches!(&out[0], Ok(RunEvent::StreamToken(token)) if token.is_empty() && token.clone().into_text().is_empty())
        );
        assert_eq!(RawJson::new("[1]").str_field("x"), None);
        assert_eq!(RawJson::new("{\"x\":\"a\\nb\"}").str_field("x"), None);
    }

    fn verdict(bytes: &[u8]) -> (Vec<Result<RunEvent>>, Option<String>) {
        let mut d = RunEventDecoder::verdict_only();
        assert!(d.is_verdict_only());
        let mut out = d.push(bytes);
        out.extend(d.finish());
        (out, d.run_id().map(str::to_string))
    }

    #[test]
    fn verdict_only_skips_everything_but_the_outcome() {
        let s = format!(
            "event: init\ndata: {}\n\nevent: status\ndata: {{nope\n\nevent: stream_token\ndata: [broken\n\nevent: step_x\ndata: {{}}\n\nevent: new\ndata: x\n\nevent: done\ndata: {}\n\n",
            run("pending"),
            run("completed")
        );
        let (out, id) = verdict(s.as_bytes());
        let names: Vec<&str> = out.iter().map(|r| r.as_ref().unwrap().name()).collect();
        assert_eq!(names, ["init", "done"]);
        assert_eq!(id.as_deref(), Some("r1"));
        // Without init, the run id still comes from a skipped event, and a
        // server error is reported.
        let (out, id) = verdict(
            b"event: stream_token\ndata: {\"run_id\":\"r7\",\"token\":\"t\"}\n\nevent: error\ndata: {\"message\":\"m\"}\n\n",
        );
        assert_eq!(id.as_deref(), Some("r7"));
        assert!(matches!(&out[..], [Ok(RunEvent::Error { message, .. })] if message == "m"));
        // A malformed done is still an error, and the end is early.
        let (out, _) = verdict(b"event: done\ndata: {}\n\n");
        assert!(matches!(
            &out[..],
            [
                Err(Error::Stream(StreamError::Malformed { .. })),
                Err(Error::Stream(StreamError::EndedEarly { .. }))
            ]
        ));
    }

    #[test]
    fn an_endless_event_is_dropped_at_the_cap_and_the_run_goes_on() {
        let mut d = RunEventDecoder::new().max_event(400);
        let mut out = Vec::new();
        d.push_with(b"event: stream_token\n", |i| out.push(i));
        for _ in 0..1000 {
            d.push_with(b"data: {\"token\":\"aaaaaaaaaa\"}\n", |i| out.push(i));
        }
        d.push_with(
            format!("\nevent: done\ndata: {}\n\n", run("completed")).as_bytes(),
            |i| out.push(i),
        );
        d.finish_with(|i| out.push(i));
        assert!(
            matches!(
                &out[..],
                [
                    Err(Error::Stream(StreamError::EventTooLarge { limit: 400 })),
                    Ok(RunEvent::Done(_))
                ]
            ),
            "{out:?}"
        );
    }

    /// A run stream from arbitrary pieces, some of them malformed.
    fn run_stream() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(format!("event: init\ndata: {}\n\n", run("pending"))),
            Just("event: stream_token\ndata: {\"token\":\"t\"}\n\n".to_string()),
            Just("event: stream_token\ndata: {\"tok".to_string()),
            Just("event: status\ndata: {\"status\":\"running\"}\n\n".to_string()),
            Just("event: mystery\ndata: 1\n\n".to_string()),
            Just("\n\n".to_string()),
            Just(format!("event: done\ndata: {}\n\n", run("completed"))),
            Just("event: error\ndata: {\"message\":\"m\"}\n\n".to_string()),
            Just("event: timeout\ndata: x\n\n".to_string()),
            Just("event: step_end\ndata: {\"a\":\ndata: [1]}\n\n".to_string()),
            Just("event: stream_reasoning\r\ndata: {\"r\":\"é\\n\"}\r\n\r\n".to_string()),
            Just("event: stream_token\ndata: {\"token\":\"€ \\\"x\"}\n\n".to_string()),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat().into_bytes())
    }

    #[test]
    fn payloads_outlive_the_buffer_their_chunk_arrived_in() {
        // A driver reads every chunk into the same buffer: what the events
        // of one chunk share must be theirs, not the buffer's.
        let mut d = RunEventDecoder::new();
        let mut buf =
            b"event: stream_token\ndata: {\"token\":\"aa\"}\n\nevent: status\ndata: {\"s\":1}\n\n"
                .to_vec();
        let first = d.push(&buf);
        // A comment line of the same length, in the same buffer.
        buf.fill(b'x');
        buf[0] = b':';
        *buf.last_mut().unwrap() = b'\n';
        let second = d.push(&buf);
        assert!(second.is_empty(), "{second:?}");
        let mut again = b"event: stream_token\ndata: {\"token\":\"bb\"}\n\n".to_vec();
        let third = d.push(&again);
        again.fill(0);
        let Ok(RunEvent::StreamToken(a)) = &first[0] else {
            panic!("{first:?}")
        };
        let Ok(RunEvent::Status(status)) = &first[1] else {
            panic!("{first:?}")
        };
        let Ok(RunEvent::StreamToken(b)) = &third[0] else {
            panic!("{third:?}")
        };
        assert_eq!((a.text(), a.data().as_str()), ("aa", "{\"token\":\"aa\"}"));
        assert_eq!(status.as_str(), "{\"s\":1}");
        assert_eq!(b.clone().into_text(), "bb");
        assert_eq!(a.data().clone().into_string(), "{\"token\":\"aa\"}");
        // Equal payloads make equal tokens, wherever in a read they lie.
        let again =
            d.push(b"event: status\ndata: {}\n\nevent: stream_token\ndata: {\"token\":\"aa\"}\n\n");
        let Ok(RunEvent::StreamToken(a2)) = &again[1] else {
            panic!("{again:?}")
        };
        assert_eq!(a2, a);
        assert_ne!(a2, b);
    }

    /// What a caller can see of an item: name, payload text, token text,
    /// or the error.
    fn seen(item: &Result<RunEvent>) -> String {
        match item {
            Ok(RunEvent::StreamToken(t)) => format!("token {} {}", t.text(), t.data()),
            Ok(RunEvent::Status(d) | RunEvent::StreamEnd(d) | RunEvent::StreamReasoning(d)) => {
                format!("{} {d}", item.as_ref().map_or("", |e| e.name()))
            }
            Ok(RunEvent::Step { event, data }) => format!("{event} {data}"),
            Ok(e) => format!("{e:?}"),
            Err(e) => format!("{e}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn payloads_are_the_same_whatever_the_chunking(
            input in run_stream(),
            cuts in proptest::collection::vec(proptest::prelude::any::<usize>(), 0..6),
        ) {
            let whole: Vec<String> = all(&input).iter().map(seen).collect();
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            cuts.sort_unstable();
            let mut d = RunEventDecoder::new();
            let mut out = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([input.len()]) {
                // Each chunk in a buffer of its own that is gone after the
                // push.
                let chunk = input[from..cut].to_vec();
                out.extend(d.push(&chunk));
                from = cut;
            }
            out.extend(d.finish());
            let chunked: Vec<String> = out.iter().map(seen).collect();
            proptest::prop_assert_eq!(chunked, whole);
        }

        #[test]
        fn verdict_only_agrees_with_the_full_decoder(
            input in run_stream(),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let cut = cut % (input.len() + 1);
            let full: Vec<String> = all(&input)
                .iter()
                .filter_map(|r| match r {
                    Ok(e) if decides_verdict(e.name()) => Some(e.name().to_string()),
                    Ok(_) | Err(Error::Stream(StreamError::Malformed { .. })) => None,
                    Err(e) => Some(format!("{e}")),
                })
                .collect();
            let mut d = RunEventDecoder::verdict_only();
            let mut out = d.push(&input[..cut]);
            out.extend(d.push(&input[cut..]));
            out.extend(d.finish());
            let only: Vec<String> = out
                .iter()
                .filter_map(|r| match r {
                    Ok(e) => Some(e.name().to_string()),
                    Err(Error::Stream(StreamError::Malformed { .. })) => None,
                    Err(e) => Some(format!("{e}")),
                })
                .collect();
            proptest::prop_assert_eq!(only, full);
        }
    }
}
