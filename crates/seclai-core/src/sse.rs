//! An incremental decoder for Server-Sent Events (`text/event-stream`).
//!
//! [`SseDecoder`] follows the parsing rules of the WHATWG HTML standard. It
//! performs no I/O: feed it byte chunks exactly as they arrive and call
//! `finish` once the body ends. How the body is cut into chunks never
//! changes the decoded result.
//!
//! Two ways to read events:
//!
//! - [`SseDecoder::push_with`] / [`SseDecoder::finish_with`] hand each event
//!   to a callback as an [`SseEventRef`] borrowing the decoder's buffers.
//!   The framing allocates nothing per event: line ends are found with
//!   `memchr` in one pass over the chunk, an event whose lines all lie in
//!   the chunk is handed out borrowing the chunk itself, and the buffers
//!   kept for events that span chunks are reused from one to the next.
//! - [`SseDecoder::push`] / [`SseDecoder::finish`] return owned
//!   [`SseEvent`]s, for callers that keep events around.
//!
//! **UTF-8.** Bytes are collected per event and validated once, when the
//! event is dispatched, so a character split across chunks decodes exactly.
//! Invalid sequences are replaced with U+FFFD (the standard's decoding
//! rule), never an error; only events that contain such bytes pay for the
//! replacement.
//!
//! **Limits.** A line longer than the line cap is dropped
//! ([`SseError::LineTooLong`]); an event whose `data:` lines add up to more
//! than the event cap is dropped as a whole ([`SseError::EventTooLarge`],
//! reported once, at the moment the cap is crossed). Either way the decoder
//! holds at most about one cap of bytes and decoding resumes afterwards.
//!
//! Comment lines (those starting with `:`) are what servers send as
//! keep-alives. They produce no events; a transport that enforces an idle
//! timeout should reset its timer whenever *any* bytes arrive, which covers
//! keep-alives without special handling. [`SseDecoder::comments`] counts them
//! for diagnostics.

use std::borrow::Cow;

/// The default longest line, in bytes: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;

/// The default largest event (its `data:` lines joined), in bytes: 1 MiB.
pub const DEFAULT_MAX_EVENT: usize = 1024 * 1024;

/// Buffers grown past this by one large event are shrunk back afterwards,
/// so a long-lived stream does not keep its largest event's memory.
const KEEP_CAPACITY: usize = 16 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The event type from the `event:` field, or `"message"` when unset.
    pub event: String,
    /// The `data:` lines of the event joined with `\n`.
    pub data: String,
    /// The most recent `id:` received on the stream so far (ids persist
    /// from one event to the next, as in browsers). `None` if no id has been
    /// set, or it was cleared with an empty `id:` line.
    pub id: Option<String>,
    /// The reconnection time in milliseconds, if a valid `retry:` field
    /// appeared in this event's block.
    pub retry: Option<u64>,
}

/// One dispatched event, borrowing the decoder's buffers: valid only inside
/// the callback of [`SseDecoder::push_with`] / [`SseDecoder::finish_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEventRef<'a> {
    /// The event type from the `event:` field, or `"message"` when unset.
    pub event: &'a str,
    /// The `data:` lines of the event joined with `\n`.
    pub data: &'a str,
    /// The most recent `id:` received on the stream so far.
    pub id: Option<&'a str>,
    /// The reconnection time in milliseconds, if a valid `retry:` field
    /// appeared in this event's block.
    pub retry: Option<u64>,
}

impl SseEventRef<'_> {
    /// An owned copy.
    pub fn to_event(&self) -> SseEvent {
        SseEvent {
            event: self.event.to_owned(),
            data: self.data.to_owned(),
            id: self.id.map(str::to_owned),
            retry: self.retry,
        }
    }
}

/// A problem in the stream that the decoder recovered from.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line exceeded the configured limit. The line was dropped and
    /// decoding resumed at the next line.
    #[error("event stream line longer than {limit} bytes")]
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The `data:` lines of one event added up to more than the configured
    /// limit. The whole event was dropped and decoding resumed after it.
    #[error("event stream event larger than {limit} bytes")]
    EventTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

impl From<SseError> for crate::error::StreamError {
    fn from(e: SseError) -> Self {
        match e {
            SseError::LineTooLong { limit } => crate::error::StreamError::LineTooLong { limit },
            SseError::EventTooLarge { limit } => crate::error::StreamError::EventTooLarge { limit },
        }
    }
}

/// Items produced by the decoder: events, or recoverable errors.
pub type SseItem = Result<SseEvent, SseError>;

/// Items handed to the callback of [`SseDecoder::push_with`].
pub type SseItemRef<'a> = Result<SseEventRef<'a>, SseError>;

/// Incremental `text/event-stream` decoder. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SseDecoder {
    max_line: usize,
    max_event: usize,
    /// Bytes of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The current line exceeded `max_line`; drop bytes until its end.
    discarding: bool,
    /// The previous chunk ended in CR; an LF opening the next chunk belongs
    /// to the same line ending.
    after_cr: bool,
    /// No line has been completed yet, so a BOM may still be stripped.
    at_start: bool,
    /// Pending event fields, as raw bytes (validated at dispatch).
    event_type: Vec<u8>,
    /// Each `data:` line followed by `\n`.
    data: Vec<u8>,
    /// The pending event crossed `max_event`: ignore it up to its end.
    oversized: bool,
    block_retry: Option<u64>,
    /// Stream-wide state.
    last_event_id: Option<String>,
    retry: Option<u64>,
    comments: u64,
    bytes: u64,
    /// Event types dropped unread ([`SseDecoder::skip_events`]).
    skip: Option<fn(&str) -> bool>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default caps ([`DEFAULT_MAX_LINE`],
    /// [`DEFAULT_MAX_EVENT`]).
    pub fn new() -> Self {
        Self::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A decoder that rejects lines longer than `limit` bytes (not counting
    /// the line ending), with the default event cap.
    pub fn with_max_line(limit: usize) -> Self {
        Self {
            max_line: limit,
            max_event: DEFAULT_MAX_EVENT,
            partial: Vec::new(),
            discarding: false,
            after_cr: false,
            at_start: true,
            event_type: Vec::new(),
            data: Vec::new(),
            oversized: false,
            block_retry: None,
            last_event_id: None,
            retry: None,
            comments: 0,
            bytes: 0,
            skip: None,
        }
    }

    /// Sets the largest event accepted: the size of its `data:` lines joined
    /// with `\n`, in bytes. A larger event is dropped with
    /// [`SseError::EventTooLarge`].
    pub fn max_event(mut self, limit: usize) -> Self {
        self.max_event = limit;
        self
    }

    /// Feeds the next chunk of the body and returns what it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseItem> {
        let mut out = Vec::new();
        self.push_into(chunk, &mut out);
        out
    }

    /// Like [`push`](Self::push), appending to a caller-owned vector so it
    /// can be reused between chunks.
    pub fn push_into(&mut self, chunk: &[u8], out: &mut Vec<SseItem>) {
        self.push_with(chunk, |item| out.push(item.map(|e| e.to_event())));
    }

    /// Feeds the next chunk of the body and hands each completed event (or
    /// recoverable error) to `f`, borrowing the decoder's buffers or the
    /// chunk itself: nothing is allocated or copied per event, except for
    /// an event that spans chunks or has several `data:` lines.
    pub fn push_with<F: FnMut(SseItemRef<'_>)>(&mut self, chunk: &[u8], mut f: F) {
        self.push_in(chunk, |item, _| f(item));
    }

    /// [`push_with`](Self::push_with), also handing `f` the checked text of
    /// the chunk being decoded (empty with an error), so that a caller can
    /// share one copy of that text among the chunk's events. An event's
    /// fields lie in it unless the event was put together in the decoder's
    /// own buffers (it spanned chunks or had several `data:` lines): check
    /// by position before sharing.
    pub(crate) fn push_in<F: FnMut(SseItemRef<'_>, &str)>(&mut self, chunk: &[u8], mut f: F) {
        self.bytes = self.bytes.saturating_add(chunk.len() as u64);
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        // First the end of a line begun in an earlier chunk.
        if self.discarding || !self.partial.is_empty() {
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                self.buffer_partial(rest, &mut f);
                return;
            };
            self.complete_line(&rest[..end], &mut f);
            rest = self.past_ending(rest, end);
        }
        // Checked once for the whole chunk (word at a time), so that events
        // lying in it are handed out as text without a check each.
        let mut held = Held {
            text: valid_prefix(rest),
            ..Held::default()
        };
        if memchr::memchr(b'\r', rest).is_none() {
            // The common case: LF endings only. Whole events of the usual
            // shape are taken in one step; any other line on its own.
            let newlines = Newlines::new();
            let mut pos = 0;
            while let Some(&first) = rest.get(pos) {
                if self.nothing_pending(&held) {
                    if let Some((event, len)) = self.event_at(&rest[pos..], held.text, &newlines) {
                        self.dispatch(event, &mut f);
                        pos += len;
                        continue;
                    }
                }
                let end = if first == b'\n' {
                    pos
                } else {
                    match newlines.find(&rest[pos..]) {
                        Some(len) => pos + len,
                        None => break,
                    }
                };
                self.line(&rest[pos..end], &mut held, &mut f);
                pos = end + 1;
            }
            rest = &rest[pos..];
        } else {
            while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
                self.line(&rest[..end], &mut held, &mut f);
                rest = self.past_ending(rest, end);
            }
        }
        self.keep(held);
        if !rest.is_empty() {
            self.buffer_partial(rest, &mut f);
        }
    }

    /// No field of an event has been read since the last blank line.
    #[inline]
    fn nothing_pending(&self, held: &Held<'_>) -> bool {
        held.event_type.is_none()
            && held.data.is_none()
            && self.event_type.is_empty()
            && self.data.is_empty()
            && self.block_retry.is_none()
            && !self.oversized
            && !self.at_start
    }

    /// An event of the usual shape at the start of `b`, with nothing
    /// pending: an optional `event:` line, one `data:` line and a blank
    /// line, all ending with LF and within the caps. The event's fields
    /// (`text` is the chunk's) and its length; `None` (and nothing changed)
    /// for anything else, which is then read line by line with the same
    /// result.
    #[inline]
    fn event_at<'c>(
        &self,
        b: &'c [u8],
        text: &'c str,
        newlines: &Newlines,
    ) -> Option<(Held<'c>, usize)> {
        let (event_type, skip) = match b.strip_prefix(b"event:") {
            Some(value) => {
                let end = newlines.find(b)?;
                if end > self.max_line {
                    return None;
                }
                (Some(strip_space(&value[..end - 6])), end + 1)
            }
            None => (None, 0),
        };
        let line = &b[skip..];
        let value = line.strip_prefix(b"data:")?;
        let end = newlines.find(line)?;
        if end > self.max_line || line.get(end + 1) != Some(&b'\n') {
            return None;
        }
        let data = strip_space(&value[..end - 5]);
        let event = Held {
            text,
            event_type,
            data: Some(data),
        };
        (data.len() <= self.max_event).then_some((event, skip + end + 2))
    }

    /// What follows the line ending at `rest[end]`: one byte for LF or a
    /// lone CR, two for CRLF. A CR closing the chunk may be the first half
    /// of a CRLF whose LF opens the next one.
    fn past_ending<'c>(&mut self, rest: &'c [u8], end: usize) -> &'c [u8] {
        let ending = if rest[end] == b'\n' {
            1
        } else {
            match rest.get(end + 1) {
                Some(b'\n') => 2,
                Some(_) => 1,
                None => {
                    self.after_cr = true;
                    1
                }
            }
        };
        &rest[end + ending..]
    }

    /// Signals the end of the body. An unterminated final line is processed
    /// and a final event that was not followed by a blank line is still
    /// dispatched (browsers would drop it; servers that close right after
    /// the last `data:` line are common enough to accept it).
    ///
    /// Afterwards the decoder is ready for a new stream (for example after a
    /// reconnect); [`last_event_id`](Self::last_event_id) and
    /// [`retry`](Self::retry) are kept.
    pub fn finish(&mut self) -> Vec<SseItem> {
        let mut out = Vec::new();
        self.finish_with(|item| out.push(item.map(|e| e.to_event())));
        out
    }

    /// [`finish`](Self::finish), handing what it completes to `f` as
    /// [`push_with`](Self::push_with) does.
    pub fn finish_with<F: FnMut(SseItemRef<'_>)>(&mut self, mut f: F) {
        self.finish_in(|item, _| f(item));
    }

    /// [`finish_with`](Self::finish_with) with the callback of
    /// [`push_in`](Self::push_in).
    pub(crate) fn finish_in<F: FnMut(SseItemRef<'_>, &str)>(&mut self, mut f: F) {
        if !self.discarding && !self.partial.is_empty() {
            self.complete_line(&[], &mut f);
        }
        self.dispatch(Held::default(), &mut f);
        self.partial.clear();
        self.discarding = false;
        self.after_cr = false;
        self.at_start = true;
        self.event_type.clear();
        self.data.clear();
        self.oversized = false;
        self.block_retry = None;
    }

    /// Drops, unread, every event whose type `skip` matches: such an event
    /// is framed (its fields still count towards the caps, and its `id:`
    /// and `retry:` still apply) but its data is neither checked nor handed
    /// out. `None` hands out every event again. A caller that needs only
    /// some events saves the cost of the others this way.
    ///
    /// ```
    /// use seclai_core::SseDecoder;
    /// let mut d = SseDecoder::new();
    /// d.skip_events(Some(|name| name == "stream_token"));
    /// let out = d.push(b"event: stream_token\ndata: x\n\nevent: done\ndata: {}\n\n");
    /// assert_eq!(out.len(), 1);
    /// assert_eq!(out[0].as_ref().unwrap().event, "done");
    /// ```
    pub fn skip_events(&mut self, skip: Option<fn(&str) -> bool>) {
        self.skip = skip;
    }

    /// The last event id seen, for the `Last-Event-ID` header when
    /// reconnecting.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The most recent reconnection time (milliseconds) sent by the server.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Number of comment (keep-alive) lines seen.
    pub fn comments(&self) -> u64 {
        self.comments
    }

    /// Total bytes pushed.
    pub fn bytes_received(&self) -> u64 {
        self.bytes
    }

    /// Whether any bytes have been pushed since the decoder was created.
    pub fn saw_activity(&self) -> bool {
        self.bytes > 0
    }

    /// Stores bytes of a line whose end is in a later chunk.
    fn buffer_partial<F: FnMut(SseItemRef<'_>, &str)>(&mut self, bytes: &[u8], f: &mut F) {
        if self.discarding {
            return;
        }
        if self.partial.len() + bytes.len() > self.max_line {
            self.reject_line(f);
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    /// Handles the end of a line begun in an earlier chunk; `tail` is the
    /// part of it in the current chunk (the rest is in `self.partial`).
    fn complete_line<F: FnMut(SseItemRef<'_>, &str)>(&mut self, tail: &[u8], f: &mut F) {
        if self.discarding {
            self.discarding = false;
            self.at_start = false;
            return;
        }
        let mut line = std::mem::take(&mut self.partial);
        line.extend_from_slice(tail);
        let mut held = Held::default();
        self.line(&line, &mut held, f);
        // The line is about to be reused: keep what the event took from it.
        self.keep(held);
        line.clear();
        shrink(&mut line);
        self.partial = line;
    }

    fn reject_line<F: FnMut(SseItemRef<'_>, &str)>(&mut self, f: &mut F) {
        self.partial.clear();
        shrink(&mut self.partial);
        self.discarding = true;
        f(
            Err(SseError::LineTooLong {
                limit: self.max_line,
            }),
            "",
        );
    }

    /// Copies what the pending event still borrows from a chunk into the
    /// decoder's own buffers, before that chunk goes away.
    fn keep(&mut self, held: Held<'_>) {
        if let Some(name) = held.event_type {
            self.event_type.clear();
            self.event_type.extend_from_slice(name);
        }
        if let Some(data) = held.data {
            self.data.extend_from_slice(data);
            self.data.push(b'\n');
        }
    }

    /// One whole line, without its ending.
    fn line<'c, F: FnMut(SseItemRef<'_>, &str)>(
        &mut self,
        mut line: &'c [u8],
        held: &mut Held<'c>,
        f: &mut F,
    ) {
        if line.len() > self.max_line {
            self.at_start = false;
            f(
                Err(SseError::LineTooLong {
                    limit: self.max_line,
                }),
                "",
            );
            return;
        }
        if self.at_start {
            self.at_start = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        // The lines of nearly every event, told apart by their first byte
        // without a search for the colon.
        match line.first() {
            None => {
                let next = Held {
                    text: held.text,
                    ..Held::default()
                };
                return self.dispatch(std::mem::replace(held, next), f);
            }
            Some(b'd') => {
                if let Some(value) = line.strip_prefix(b"data:") {
                    return self.add_data(strip_space(value), held, f);
                }
            }
            Some(b'e') => {
                if let Some(value) = line.strip_prefix(b"event:") {
                    held.event_type = Some(strip_space(value));
                    return;
                }
            }
            _ => {}
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => {
                self.comments = self.comments.saturating_add(1);
                return;
            }
            Some(colon) => (&line[..colon], strip_space(&line[colon + 1..])),
            None => (line, &[][..]),
        };
        match field {
            b"data" => self.add_data(value, held, f),
            b"event" => held.event_type = Some(value),
            // An id containing NUL is ignored entirely.
            b"id" if !value.contains(&0) => {
                if value.is_empty() {
                    self.last_event_id = None;
                } else {
                    let id = self.last_event_id.get_or_insert_with(String::new);
                    id.clear();
                    id.push_str(&utf8(value));
                }
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // All digits, so only overflow can fail; such a value is
                // ignored.
                if let Some(ms) = parse_digits(value) {
                    self.retry = Some(ms);
                    self.block_retry = Some(ms);
                }
            }
            _ => {}
        }
    }

    /// Adds one `data:` line, enforcing the event cap. The size counted is
    /// that of the joined data: earlier lines, their `\n`s, this line. The
    /// first line is only borrowed; a second one starts the copy.
    #[inline]
    fn add_data<'c, F: FnMut(SseItemRef<'_>, &str)>(
        &mut self,
        value: &'c [u8],
        held: &mut Held<'c>,
        f: &mut F,
    ) {
        if self.oversized {
            return;
        }
        let have = held.data.map_or(self.data.len(), |d| d.len() + 1);
        if have + value.len() > self.max_event {
            self.oversized = true;
            held.data = None;
            self.data.clear();
            shrink(&mut self.data);
            f(
                Err(SseError::EventTooLarge {
                    limit: self.max_event,
                }),
                "",
            );
            return;
        }
        if held.data.is_none() && self.data.is_empty() {
            held.data = Some(value);
            return;
        }
        if let Some(first) = held.data.take() {
            self.data.extend_from_slice(first);
            self.data.push(b'\n');
        }
        self.data.extend_from_slice(value);
        self.data.push(b'\n');
    }

    /// Ends the current block: emits an event if it had data.
    fn dispatch<F: FnMut(SseItemRef<'_>, &str)>(&mut self, held: Held<'_>, f: &mut F) {
        let retry = self.block_retry.take();
        if !self.oversized && (held.data.is_some() || !self.data.is_empty()) {
            let event = match held.event_type {
                Some(name) => held.text_of(name),
                None => utf8(&self.event_type),
            };
            let event = if event.is_empty() {
                Cow::Borrowed("message")
            } else {
                event
            };
            if !self.skip.is_some_and(|skip| skip(&event)) {
                let data = match held.data {
                    Some(data) => held.text_of(data),
                    // Without the '\n' added after the last line.
                    None => utf8(&self.data[..self.data.len() - 1]),
                };
                f(
                    Ok(SseEventRef {
                        event: &event,
                        data: &data,
                        id: self.last_event_id.as_deref(),
                        retry,
                    }),
                    held.text,
                );
            }
        }
        self.oversized = false;
        self.event_type.clear();
        if !self.data.is_empty() {
            self.data.clear();
            shrink(&mut self.data);
        }
    }
}

/// The fields of the pending event that still point into the chunk being
/// decoded; copied into the decoder only if the chunk ends first.
#[derive(Default)]
struct Held<'c> {
    /// The longest valid UTF-8 start of the chunk.
    text: &'c str,
    /// The latest `event:` value, superseding the decoder's copy.
    event_type: Option<&'c [u8]>,
    /// The event's only `data:` line so far (the decoder's copy is empty).
    data: Option<&'c [u8]>,
}

impl<'c> Held<'c> {
    /// `part` (a piece of the chunk) as text: taken from the chunk's checked
    /// text when it lies there, checked on its own otherwise.
    #[inline]
    fn text_of(&self, part: &'c [u8]) -> Cow<'c, str> {
        let start = (part.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
        let inside = start <= self.text.len() && part.len() <= self.text.len() - start;
        match inside
            .then(|| self.text.get(start..start + part.len()))
            .flatten()
        {
            Some(text) => Cow::Borrowed(text),
            None => utf8(part),
        }
    }
}

/// Finds line ends. On x86-64 the SSE2 searcher is called directly: SSE2
/// is always there, and skipping `memchr`'s run-time choice of searcher
/// saves a third of the cost of finding the end of a line as short as an
/// event stream's.
struct Newlines {
    #[cfg(target_arch = "x86_64")]
    sse2: Option<memchr::arch::x86_64::sse2::memchr::One>,
}

impl Newlines {
    #[inline]
    fn new() -> Self {
        Newlines {
            #[cfg(target_arch = "x86_64")]
            sse2: memchr::arch::x86_64::sse2::memchr::One::new(b'\n'),
        }
    }

    /// The position of the first `\n` in `hay`.
    #[inline]
    fn find(&self, hay: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.sse2 {
            return one.find(hay);
        }
        memchr::memchr(b'\n', hay)
    }
}

/// The longest start of `bytes` that is valid UTF-8.
fn valid_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// A field value without the one space that may follow the colon.
#[inline]
fn strip_space(value: &[u8]) -> &[u8] {
    value.strip_prefix(b" ").unwrap_or(value)
}

/// Gives back the memory of a buffer that one large line or event grew.
fn shrink(buf: &mut Vec<u8>) {
    if buf.capacity() > KEEP_CAPACITY {
        buf.shrink_to(KEEP_CAPACITY);
    }
}

/// A decimal number of ASCII digits; `None` on overflow.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Bytes as text: borrowed when valid UTF-8 (checked with the standard
/// library's word-at-a-time validator, several times faster on ASCII than
/// the lossy decoder), invalid sequences replaced by U+FFFD otherwise.
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(event: &str, data: &str) -> SseItem {
        Ok(SseEvent {
            event: event.into(),
            data: data.into(),
            id: None,
            retry: None,
        })
    }

    /// Decodes `input` in one push plus finish.
    fn decode(input: &[u8]) -> Vec<SseItem> {
        decode_chunks(&[input], DEFAULT_MAX_LINE)
    }

    fn decode_chunks(chunks: &[&[u8]], max: usize) -> Vec<SseItem> {
        decode_capped(chunks, max, DEFAULT_MAX_EVENT)
    }

    fn decode_capped(chunks: &[&[u8]], max: usize, max_event: usize) -> Vec<SseItem> {
        let mut d = SseDecoder::with_max_line(max).max_event(max_event);
        let mut out = Vec::new();
        for c in chunks {
            d.push_into(c, &mut out);
        }
        out.extend(d.finish());
        out
    }

    /// The same through the borrowing API.
    fn decode_borrowed(chunks: &[&[u8]], max: usize, max_event: usize) -> Vec<SseItem> {
        let mut d = SseDecoder::with_max_line(max).max_event(max_event);
        let mut out = Vec::new();
        for c in chunks {
            d.push_with(c, |item| out.push(item.map(|e| e.to_event())));
        }
        d.finish_with(|item| out.push(item.map(|e| e.to_event())));
        out
    }

    #[test]
    fn simple_events_and_default_type() {
        let out = decode(b"data: hello\n\nevent: run\ndata: {\"a\":1}\n\n");
        assert_eq!(out, vec![ev("message", "hello"), ev("run", "{\"a\":1}")]);
    }

    #[test]
    fn line_endings_lf_crlf_cr() {
        let expected = vec![ev("a", "1"), ev("b", "2")];
        assert_eq!(
            decode(b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"),
            expected
        );
        assert_eq!(
            decode(b"event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n"),
            expected
        );
        assert_eq!(
            decode(b"event: a\rdata: 1\r\revent: b\rdata: 2\r\r"),
            expected
        );
        assert_eq!(
            decode(b"event: a\rdata: 1\n\r\nevent: b\r\ndata: 2\n\r"),
            expected
        );
    }

    #[test]
    fn crlf_split_across_chunks_is_one_ending() {
        let out = decode_chunks(&[b"data: x\r", b"\ndata: y\r", b"\n\r", b"\n"], 100);
        assert_eq!(out, vec![ev("message", "x\ny")]);
        // CR at a chunk end followed by a non-LF byte.
        let out = decode_chunks(&[b"data: x\r", b"\r"], 100);
        assert_eq!(out, vec![ev("message", "x")]);
        // Empty chunks in between do not lose the pending CR.
        let out = decode_chunks(&[b"data: x\r", b"", b"\ndata: y\n\n"], 100);
        assert_eq!(out, vec![ev("message", "x\ny")]);
    }

    #[test]
    fn bom_only_at_start() {
        assert_eq!(decode(b"\xEF\xBB\xBFdata: a\n\n"), vec![ev("message", "a")]);
        let out = decode_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"], 100);
        assert_eq!(out, vec![ev("message", "a")]);
        // A BOM later on is part of a field name, which is then unknown.
        assert_eq!(
            decode(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"),
            vec![ev("message", "a")]
        );
    }

    #[test]
    fn comments_are_counted_not_dispatched() {
        let mut d = SseDecoder::new();
        assert!(!d.saw_activity());
        let out = d.push(b": keep-alive\n:\n\n: ping\ndata: x\n\n");
        assert_eq!(out, vec![ev("message", "x")]);
        assert_eq!(d.comments(), 3);
        assert!(d.saw_activity());
        assert_eq!(d.bytes_received(), 32);
    }

    #[test]
    fn multi_line_data_and_space_stripping() {
        let out = decode(b"data: one\ndata:two\ndata:  three\ndata\n\n");
        assert_eq!(out, vec![ev("message", "one\ntwo\n three\n")]);
        // Only the first colon separates; later ones are data.
        assert_eq!(decode(b"data: a: b\n\n"), vec![ev("message", "a: b")]);
    }

    #[test]
    fn empty_data_rules() {
        // No data line: nothing is dispatched, and the type is reset.
        assert_eq!(decode(b"event: x\n\ndata: y\n\n"), vec![ev("message", "y")]);
        // An empty data line dispatches an event with empty data.
        assert_eq!(decode(b"event: done\ndata:\n\n"), vec![ev("done", "")]);
        // Blank lines alone produce nothing.
        assert_eq!(decode(b"\n\n\r\n\r\r"), vec![]);
    }

    #[test]
    fn id_and_retry_fields() {
        let mut d = SseDecoder::new();
        let out = d.push(b"id: 1\nretry: 1500\ndata: a\n\ndata: b\n\nid\ndata: c\n\n");
        let ids: Vec<_> = out
            .iter()
            .map(|r| r.as_ref().ok().and_then(|e| e.id.clone()))
            .collect();
        assert_eq!(ids, vec![Some("1".to_owned()), Some("1".to_owned()), None]);
        let retries: Vec<_> = out
            .iter()
            .map(|r| r.as_ref().ok().and_then(|e| e.retry))
            .collect();
        assert_eq!(retries, vec![Some(1500), None, None]);
        assert_eq!(d.retry(), Some(1500));
        assert_eq!(d.last_event_id(), None);

        let mut d = SseDecoder::new();
        d.push(b"id: 7\nretry: 12x\nretry: -1\nretry:\nretry: 99999999999999999999999\n\n");
        assert_eq!(d.last_event_id(), Some("7"));
        assert_eq!(d.retry(), None);
        // An id containing NUL is ignored.
        d.push(b"id: a\0b\ndata: x\n\n");
        assert_eq!(d.last_event_id(), Some("7"));
    }

    #[test]
    fn unknown_fields_ignored() {
        assert_eq!(
            decode(b"foo: bar\ndata: x\nEvent: y\nDATA: z\n\n"),
            vec![ev("message", "x")]
        );
    }

    #[test]
    fn utf8_split_across_chunks() {
        let text = "data: héllo €\n\n".as_bytes();
        for split in 0..text.len() {
            let out = decode_chunks(&[&text[..split], &text[split..]], 100);
            assert_eq!(out, vec![ev("message", "héllo €")], "split at {split}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(
            decode(b"data: a\xffb\n\n"),
            vec![ev("message", "a\u{fffd}b")]
        );
    }

    #[test]
    fn finish_flushes_unterminated_event() {
        assert_eq!(decode(b"data: last"), vec![ev("message", "last")]);
        assert_eq!(decode(b"event: e\ndata: last\n"), vec![ev("e", "last")]);
        let mut d = SseDecoder::new();
        assert_eq!(d.push(b"id: 3\ndata: x"), vec![]);
        assert_eq!(d.finish().len(), 1);
        assert_eq!(d.finish(), vec![]);
        // Reusable for a new stream; the id survives.
        assert_eq!(d.last_event_id(), Some("3"));
        let out = d.push(b"\xEF\xBB\xBFdata: y\n\n");
        assert_eq!(out[0].as_ref().map(|e| e.data.as_str()), Ok("y"));
    }

    #[test]
    fn long_line_is_reported_and_skipped() {
        let mut input = b"data: ok\n\ndata: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 50));
        input.extend_from_slice(b"\ndata: after\n\n");
        let expected = vec![
            ev("message", "ok"),
            Err(SseError::LineTooLong { limit: 20 }),
            ev("message", "after"),
        ];
        assert_eq!(decode_chunks(&[&input], 20), expected);
        let pieces: Vec<&[u8]> = input.chunks(3).collect();
        assert_eq!(decode_chunks(&pieces, 20), expected);
        // Exactly at the limit is fine.
        assert_eq!(
            decode_chunks(&[b"data: 12345\n\n"], 11),
            vec![ev("message", "12345")]
        );
        // An over-long unterminated last line is reported once.
        let out = decode_chunks(&[b"data: 123456789", b"abc"], 11);
        assert_eq!(out, vec![Err(SseError::LineTooLong { limit: 11 })]);
    }

    #[test]
    fn utf8_split_inside_a_character_decodes_exactly() {
        // Every cut of a 2-, 3- and 4-byte character, across three chunks.
        let text = "event: é€\ndata: ü€𝄞\n\n".as_bytes();
        for a in 0..text.len() {
            for b in a..text.len() {
                let out = decode_chunks(&[&text[..a], &text[a..b], &text[b..]], 100);
                assert_eq!(out, vec![ev("é€", "ü€𝄞")], "cuts at {a}, {b}");
            }
        }
    }

    #[test]
    fn invalid_utf8_in_name_and_id_is_replaced() {
        let mut d = SseDecoder::new();
        let out = d.push(b"event: a\xc3\nid: \xff1\ndata: \xe2\x82\n\n");
        assert_eq!(
            out,
            vec![Ok(SseEvent {
                event: "a\u{fffd}".into(),
                data: "\u{fffd}".into(),
                id: Some("\u{fffd}1".into()),
                retry: None,
            })]
        );
    }

    #[test]
    fn endless_data_lines_stop_at_the_event_cap() {
        // 10,000 data lines of 10 bytes against a 1,000-byte event cap: one
        // error when the cap is crossed, nothing else until the event ends.
        let mut d = SseDecoder::new().max_event(1000);
        let mut out = Vec::new();
        for _ in 0..10_000 {
            d.push_into(b"data: 0123456789\n", &mut out);
        }
        assert_eq!(out, vec![Err(SseError::EventTooLarge { limit: 1000 })]);
        assert!(
            d.data.capacity() <= KEEP_CAPACITY,
            "the dropped data is not kept"
        );
        // The blank line ends the dropped event; the next one decodes.
        d.push_into(b"\nevent: after\ndata: ok\n\n", &mut out);
        assert_eq!(out[1..], [ev("after", "ok")]);
        // At exactly the cap (two 4-byte lines and their `\n`: 9 bytes).
        assert_eq!(
            decode_capped(&[b"data: abcd\ndata: efgh\n\n"], 100, 9),
            vec![ev("message", "abcd\nefgh")]
        );
        assert_eq!(
            decode_capped(&[b"data: abcd\ndata: efghi\n\ndata: x\n\n"], 100, 9),
            vec![
                Err(SseError::EventTooLarge { limit: 9 }),
                ev("message", "x")
            ]
        );
        // An oversized last event without a blank line emits nothing more.
        assert_eq!(
            decode_capped(&[b"data: abcdefghij"], 100, 9),
            vec![Err(SseError::EventTooLarge { limit: 9 })]
        );
    }

    #[test]
    fn large_events_do_not_keep_their_memory() {
        let mut d = SseDecoder::new();
        let mut big = b"data: ".to_vec();
        big.extend(std::iter::repeat_n(b'x', 200_000));
        big.extend_from_slice(b"\n\n");
        for piece in big.chunks(4096) {
            d.push(piece);
        }
        assert!(d.data.capacity() <= KEEP_CAPACITY);
        assert!(d.partial.capacity() <= KEEP_CAPACITY);
    }

    #[test]
    fn error_converts() {
        let e: crate::error::Error = SseError::EventTooLarge { limit: 5 }.into();
        assert!(matches!(
            e,
            crate::error::Error::Stream(crate::error::StreamError::EventTooLarge { limit: 5 })
        ));
        let e: crate::error::Error = SseError::LineTooLong { limit: 5 }.into();
        assert!(matches!(
            e,
            crate::error::Error::Stream(crate::error::StreamError::LineTooLong { limit: 5 })
        ));
    }

    /// Splits `input` at the given (unsorted, possibly repeated) positions.
    fn split_at_points<'a>(input: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = points.iter().map(|p| p % (input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for c in cuts {
            chunks.push(&input[start..c]);
            start = c;
        }
        chunks.push(&input[start..]);
        chunks
    }

    fn stream_line() -> impl Strategy<Value = Vec<u8>> {
        let field = prop_oneof![
            Just(b"data".to_vec()),
            Just(b"event".to_vec()),
            Just(b"id".to_vec()),
            Just(b"retry".to_vec()),
            Just(Vec::new()),
            Just(b"x".to_vec()),
        ];
        let value = proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b' '), Just(b':'), Just(b'7'), any::<u8>()]
                .prop_filter("no line breaks", |b| *b != b'\n' && *b != b'\r'),
            0..12,
        );
        let ending = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..])];
        (field, any::<bool>(), value, ending).prop_map(|(mut f, colon, v, end)| {
            if colon || f.is_empty() {
                f.push(b':');
            }
            f.extend(v);
            f.extend_from_slice(end);
            f
        })
    }

    fn stream() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![3 => stream_line(), 1 => Just(b"\n".to_vec()), 1 => Just(b"\r\n".to_vec())],
            0..40,
        )
        .prop_map(|lines| lines.concat())
    }

    proptest! {
        #[test]
        fn chunking_is_irrelevant_for_any_bytes(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b':'), Just(b'd'), any::<u8>()], 0..300),
            points in proptest::collection::vec(any::<usize>(), 0..20),
            max in prop_oneof![Just(8usize), Just(64), Just(DEFAULT_MAX_LINE)],
        ) {
            let whole = decode_chunks(&[&input], max);
            let pieces = split_at_points(&input, &points);
            prop_assert_eq!(decode_chunks(&pieces, max), whole);
        }

        #[test]
        fn event_cap_and_borrowed_api_agree_whatever_the_chunking(
            input in stream(),
            points in proptest::collection::vec(any::<usize>(), 0..20),
            max_event in prop_oneof![Just(0usize), Just(3), Just(10), Just(DEFAULT_MAX_EVENT)],
        ) {
            let whole = decode_capped(&[&input], 8, max_event);
            let pieces = split_at_points(&input, &points);
            prop_assert_eq!(&decode_capped(&pieces, 8, max_event), &whole);
            prop_assert_eq!(&decode_borrowed(&pieces, 8, max_event), &whole);
            // Each raw byte yields at most one char (U+FFFD for a bad one).
            for e in whole.iter().flatten() {
                prop_assert!(e.data.chars().count() <= max_event);
            }
        }

        #[test]
        fn chunking_is_irrelevant_for_event_streams(
            input in stream(),
            points in proptest::collection::vec(any::<usize>(), 0..20),
            max in prop_oneof![Just(6usize), Just(DEFAULT_MAX_LINE)],
        ) {
            let whole = decode_chunks(&[&input], max);
            let pieces = split_at_points(&input, &points);
            prop_assert_eq!(&decode_chunks(&pieces, max), &whole);
            let bytewise: Vec<&[u8]> = input.chunks(1).collect();
            prop_assert_eq!(decode_chunks(&bytewise, max), whole);
        }

        #[test]
        fn skipping_drops_exactly_the_skipped_events(
            input in stream(),
            points in proptest::collection::vec(any::<usize>(), 0..20),
        ) {
            fn skip(name: &str) -> bool {
                name.starts_with('a') || name == "message"
            }
            let kept: Vec<SseItem> = decode_chunks(&[&input], 8)
                .into_iter()
                .filter(|r| !r.as_ref().is_ok_and(|e| skip(&e.event)))
                .collect();
            let mut d = SseDecoder::with_max_line(8);
            d.skip_events(Some(skip));
            let mut out = Vec::new();
            for piece in split_at_points(&input, &points) {
                d.push_into(piece, &mut out);
            }
            out.extend(d.finish());
            prop_assert_eq!(out, kept);
        }
    }
}
