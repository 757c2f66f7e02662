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
        if let Some(item) = self.pump.pop() {
            return FeedStep::Item(self.hand_out(item));
        }
        if self.pump.is_done() || self.closed {
            self.closed = true;
            return FeedStep::End;
        }
        if let Some(read) = self.whole.take() {
            return FeedStep::ReadWhole(read);
        }
        match self.bounds.next_read() {
            Ok(wait) => FeedStep::Read(wait),
            Err(e) => {
                self.pump.on_error(e);
                self.next_step()
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
