//! Reading an opened answer, without I/O: run events ([`EventFeed`]) and
//! downloads ([`DownloadFeed`]). A driver's stream or reader holds one of
//! these and its HTTP library's body; the feed says how long the next read
//! may wait and what each read means, so both clients end streams the same
//! way (idle timeout, deadline, early end, a JSON answer where events were
//! expected).

use crate::engine::{BodyRead, Head, ReadBounds};
use crate::error::{Error, Result, StreamError, TransportError, TransportKind};
use crate::exchange::is_json_response;
use crate::ratelimit::{RateLimit, request_id};
use crate::run_events::{EventPump, RunEvent, RunEventDecoder};
use http::{HeaderMap, StatusCode};

/// The opening response of a stream or download: status and headers, with
/// the request id and rate limits read from them.
#[derive(Debug, Clone)]
pub struct OpenedHead {
    status: StatusCode,
    headers: HeaderMap,
}

impl OpenedHead {
    /// HTTP status of the opening response.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// Headers of the opening response.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// The server's request id, if sent.
    pub fn request_id(&self) -> Option<String> {
        request_id(&self.headers)
    }
    /// Rate-limit headers, if sent.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        RateLimit::from_headers(&self.headers)
    }
    /// `Content-Type`, if sent.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }
    /// The file name from `Content-Disposition`, stripped of any directories.
    pub fn file_name(&self) -> Option<String> {
        crate::download::file_name_from_headers(&self.headers)
    }
    /// `Content-Length`, if sent.
    pub fn content_length(&self) -> Option<u64> {
        crate::download::content_length(&self.headers)
    }
}

/// What a driver does next for an event stream.
#[derive(Debug)]
pub enum FeedStep {
    /// Hand out this item.
    Item(Result<RunEvent>),
    /// Read the next chunk, waiting at most this long, then
    /// [`EventFeed::on_chunk`].
    Read(std::time::Duration),
    /// The answer is JSON, not events: read it whole, then
    /// [`EventFeed::on_whole`].
    ReadWhole(BodyRead),
    /// Nothing more; close the connection.
    End,
}

/// The events of an opened run stream. On this stream a server `error` or
/// `timeout` event is an `Err` ([`StreamError::ServerError`] /
/// [`StreamError::ServerTimeout`], with the event's run id and payload), and
/// a stream cut before its final event is [`StreamError::EndedEarly`].
pub struct EventFeed {
    head: OpenedHead,
    pump: EventPump,
    /// What is left of a chunk passed to [`EventFeed::on_bytes`], decoded a
    /// slice at a time as the items are taken.
    rest: bytes::Bytes,
    bounds: ReadBounds,
    whole: Option<BodyRead>,
    max_json: usize,
    run_id: Option<String>,
    closed: bool,
}

impl std::fmt::Debug for EventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunStream")
            .field("run_id", &self.run_id)
            .field("status", &self.head.status)
            .finish_non_exhaustive()
    }
}

impl EventFeed {
    /// Start reading the answer opened with `head`, decoding with `decoder`;
    /// a JSON answer of at most `max_json` bytes is read whole.
    pub fn new(head: Head, decoder: RunEventDecoder, max_json: usize) -> Self {
        let whole = is_json_response(&head.headers).then(|| {
            let timeout = head.bounds.next_read().unwrap_or_default();
            BodyRead {
                limit: max_json,
                timeout,
                idle: head.bounds.idle_timeout(),
            }
        });
        EventFeed {
            head: OpenedHead {
                status: head.status,
                headers: head.headers,
            },
            pump: EventPump::new(decoder),
            rest: bytes::Bytes::new(),
            bounds: head.bounds,
            whole,
            max_json,
            run_id: None,
            closed: false,
        }
    }

    /// The opening response.
    pub fn head(&self) -> &OpenedHead {
        &self.head
    }

    /// The run id, once an event (normally `init`) named it.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The next step.
    pub fn next_step(&mut self) -> FeedStep {
        loop {
            if let Some(item) = self.pump.pop() {
                return FeedStep::Item(self.hand_out(item));
            }
            if self.pump.is_done() || self.closed {
                self.closed = true;
                return FeedStep::End;
            }
            if !self.rest.is_empty() {
                // A slice may hold no whole event (a long line): go on to
                // the next one.
                self.decode_some();
                continue;
            }
            if let Some(read) = self.whole.take() {
                return FeedStep::ReadWhole(read);
            }
            match self.bounds.next_read() {
                Ok(wait) => return FeedStep::Read(wait),
                // The error is queued and closes the pump: handed out next.
                Err(e) => self.pump.on_error(e),
            }
        }
    }

    fn hand_out(&mut self, item: Result<RunEvent>) -> Result<RunEvent> {
        let item = match item {
            Ok(RunEvent::Error {
                run_id,
                message,
                data,
            }) => Err(Error::Stream(StreamError::ServerError {
                run_id: run_id.or_else(|| self.run_id.clone()),
                message,
                data,
            })),
            Ok(RunEvent::Timeout { run_id, data }) => {
                Err(Error::Stream(StreamError::ServerTimeout {
                    run_id: run_id.or_else(|| self.run_id.clone()),
                    data,
                }))
            }
            Err(Error::Stream(StreamError::EndedEarly { run_id: None })) => {
                Err(Error::Stream(StreamError::EndedEarly {
                    run_id: self.run_id.clone(),
                }))
            }
            other => other,
        };
        if let (None, Ok(event)) = (&self.run_id, &item) {
            self.run_id = event.run_id().map(str::to_string);
        }
        item
    }

    /// After [`FeedStep::Read`]: a chunk, the end of the body (`Ok(None)`),
    /// or the read's failure (a timeout is the idle timeout's or the
    /// deadline's; anything else ends the stream early).
    pub fn on_chunk(&mut self, read: std::result::Result<Option<&[u8]>, TransportError>) {
        match read {
            Ok(Some(bytes)) => self.pump.on_bytes(bytes),
            Ok(None) => self.pump.on_eof(),
            Err(e) if e.kind == TransportKind::Timeout => {
                self.pump.on_error(self.bounds.timed_out())
            }
            Err(_) => self.pump.on_error(Error::Stream(StreamError::EndedEarly {
                run_id: self
                    .run_id
                    .clone()
                    .or_else(|| self.pump.run_id().map(str::to_string)),
            })),
        }
    }

    /// After [`FeedStep::Read`], for a driver whose HTTP library hands it
    /// each chunk as [`Bytes`](bytes::Bytes): the same as
    /// [`on_chunk`](Self::on_chunk) with `Ok(Some(..))`, but a large chunk
    /// (hyper's reach hundreds of KiB on a fast connection) is decoded a
    /// slice of about 16 KiB at a time as its events are taken. The events
    /// waiting to be handed out, and the copy of the text their payloads
    /// share, then stay that small however large the chunk: decoded at
    /// once, a 400 KiB chunk of tokens would queue some 4,000 events, about
    /// 750 KiB with their copy, per stream.
    pub fn on_bytes(&mut self, chunk: bytes::Bytes) {
        if !self.rest.is_empty() {
            // Not asked for: a driver reads only once the last chunk is
            // used up. Decode what was left rather than lose it.
            let left = std::mem::take(&mut self.rest);
            self.pump.on_bytes(&left);
        }
        self.rest = chunk;
        self.decode_some();
    }

    /// Decodes the next slice of what is left of the chunk: up to its last
    /// line end within [`EVENT_READ`] bytes, so that no line is cut when one can
    /// be helped.
    fn decode_some(&mut self) {
        let cut = match self.rest.get(..EVENT_READ) {
            Some(head) => memchr::memrchr(b'\n', head).map_or(EVENT_READ, |end| end + 1),
            None => self.rest.len(),
        };
        let slice = self.rest.split_to(cut);
        self.pump.on_bytes(&slice);
    }

    /// After [`FeedStep::ReadWhole`].
    pub fn on_whole(&mut self, read: std::result::Result<bytes::Bytes, TransportError>) {
        match read {
            Ok(body) if body.len() > self.max_json => self.pump.on_error(too_large(self.max_json)),
            Ok(body) => self.pump.on_json(self.head.status, &body),
            Err(e) if e.kind == TransportKind::Timeout => {
                self.pump.on_error(self.bounds.timed_out())
            }
            Err(e) => self.pump.on_error(Error::Transport(e)),
        }
    }
}

/// How many bytes of an event stream are decoded at a time: a driver that
/// reads into a buffer of its own reads this much, and a larger chunk given
/// to [`EventFeed::on_bytes`] is decoded in slices of this size. It bounds
/// the events waiting to be handed out and the copy of the text their
/// payloads share (what a kept [`Token`](crate::Token) keeps alive).
pub const EVENT_READ: usize = 16 * 1024;

/// The error of an answer over `limit` bytes.
pub fn too_large(limit: usize) -> Error {
    Error::Transport(
        TransportError::new(
            TransportKind::TooLarge,
            format!("the answer is larger than the limit of {limit} bytes"),
        )
        .with_maybe_sent(true),
    )
}

/// An opened download: its head, how long each read may wait, and what a
/// failed read means.
pub struct DownloadFeed {
    head: OpenedHead,
    bounds: ReadBounds,
    progress: crate::download::Progress,
    finished: bool,
}

impl std::fmt::Debug for DownloadFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("status", &self.head.status)
            .field("content_type", &self.head.content_type())
            .field("file_name", &self.head.file_name())
            .field("content_length", &self.head.content_length())
            .finish_non_exhaustive()
    }
}

impl DownloadFeed {
    /// Start reading the download opened with `head`.
    pub fn new(head: Head) -> Self {
        let opened = OpenedHead {
            status: head.status,
            headers: head.headers,
        };
        let total = opened.content_length();
        DownloadFeed {
            head: opened,
            bounds: head.bounds,
            progress: crate::download::Progress::from_callback(None, total),
            finished: false,
        }
    }

    /// The opening response.
    pub fn head(&self) -> &OpenedHead {
        &self.head
    }

    /// Report progress as `(bytes so far, total if known)`.
    pub fn set_progress(&mut self, callback: impl Fn(u64, Option<u64>) + Send + Sync + 'static) {
        self.progress = crate::download::Progress::new(callback, self.head.content_length());
    }

    /// How long the next read may wait (`Ok(None)`: the body is over), or
    /// the deadline's error.
    pub fn next_read(&mut self) -> Result<Option<std::time::Duration>> {
        if self.finished {
            return Ok(None);
        }
        match self.bounds.next_read() {
            Ok(d) => Ok(Some(d)),
            Err(e) => {
                self.finished = true;
                Err(e)
            }
        }
    }

    /// After a read: the bytes it gave (`0`: the end), or its failure.
    pub fn on_read(&mut self, read: std::result::Result<usize, TransportError>) -> Result<usize> {
        match read {
            Ok(0) => {
                self.finished = true;
                Ok(0)
            }
            Ok(n) => {
                self.progress.advance(n as u64);
                Ok(n)
            }
            Err(e) => {
                self.finished = true;
                Err(if e.kind == TransportKind::Timeout {
                    self.bounds.timed_out()
                } else {
                    Error::Transport(e.with_maybe_sent(true))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SharedClock;

    fn feed() -> EventFeed {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "text/event-stream".parse().unwrap());
        let head = Head {
            status: StatusCode::OK,
            headers,
            bounds: ReadBounds::idle(std::time::Duration::from_secs(60), SharedClock::default()),
        };
        EventFeed::new(head, RunEventDecoder::new(), 1 << 20)
    }

    /// What the feed hands out until it asks for more: tokens by text,
    /// other events by name, errors by message.
    fn drain(feed: &mut EventFeed) -> (Vec<String>, bool) {
        let mut seen = Vec::new();
        loop {
            match feed.next_step() {
                FeedStep::Item(Ok(RunEvent::StreamToken(t))) => seen.push(t.text().to_owned()),
                FeedStep::Item(Ok(e)) => seen.push(e.name().to_owned()),
                FeedStep::Item(Err(e)) => seen.push(e.to_string()),
                FeedStep::End => return (seen, true),
                FeedStep::Read(_) | FeedStep::ReadWhole(_) => return (seen, false),
            }
        }
    }

    fn snapshot(status: &str) -> String {
        format!(
            r#"{{"run_id":"r1","status":"{status}","error_count":0,"credits":null,"priority":true,"input":"hi","output":null,"attempts":[]}}"#
        )
    }

    fn run(tokens: usize, long_token: usize) -> String {
        let mut s = format!("event: init\ndata: {}\n\n", snapshot("pending"));
        for i in 0..tokens {
            s.push_str(&format!(
                "event: stream_token\ndata: {{\"token\":\"t{i} \"}}\n\n"
            ));
        }
        // One line longer than a slice, with no line end to cut it at.
        s.push_str(&format!(
            "event: stream_token\ndata: {{\"token\":\"{}\"}}\n\n",
            "é".repeat(long_token)
        ));
        s
    }

    #[test]
    fn a_large_owned_chunk_is_decoded_a_slice_at_a_time_with_the_same_events() {
        let text = run(3000, 20_000);
        let mut whole = feed();
        assert!(matches!(whole.next_step(), FeedStep::Read(_)));
        whole.on_chunk(Ok(Some(text.as_bytes())));
        let (expected, _) = drain(&mut whole);
        assert_eq!(expected.len(), 3002);
        assert_eq!(expected[3001], "é".repeat(20_000));

        let mut sliced = feed();
        assert!(matches!(sliced.next_step(), FeedStep::Read(_)));
        sliced.on_bytes(bytes::Bytes::from(text.clone()));
        // Only the first slice is decoded before anything is taken.
        assert!(sliced.rest.len() > text.len() - 2 * EVENT_READ);
        let (got, ended) = drain(&mut sliced);
        assert!(!ended);
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the sliced chunk decodes differently");
    }

    #[test]
    fn slices_after_the_final_event_are_never_decoded() {
        let mut text = run(100, 0);
        text.push_str(&format!("event: done\ndata: {}\n\n", snapshot("completed")));
        text.push_str(&run(5000, 0));
        let mut f = feed();
        assert!(matches!(f.next_step(), FeedStep::Read(_)));
        f.on_bytes(bytes::Bytes::from(text));
        let (got, ended) = drain(&mut f);
        assert!(ended);
        assert_eq!(got[..2], ["init", "t0 "]);
        assert_eq!(got[102], "done");
        // The rest of the slice `done` was in, and nothing after it.
        assert!(got.len() < 102 + EVENT_READ / 40, "{}", got.len());
    }

    #[test]
    fn slices_without_an_event_are_passed_over() {
        // Two hundred slices of keep-alive comments, then one token.
        let mut text = ": keep-alive\n".repeat(200 * EVENT_READ / 13);
        text.push_str(&run(1, 0));
        let mut f = feed();
        assert!(matches!(f.next_step(), FeedStep::Read(_)));
        f.on_bytes(bytes::Bytes::from(text));
        let (got, ended) = drain(&mut f);
        assert!(!ended);
        assert_eq!(got, ["init", "t0 ", ""]);
    }
}
