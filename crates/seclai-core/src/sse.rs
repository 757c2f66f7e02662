//! An incremental decoder for Server-Sent Events (`text/event-stream`).
//!
//! [`SseDecoder`] follows the parsing rules of the WHATWG HTML standard. It
//! performs no I/O: feed it byte chunks exactly as they arrive with
//! [`SseDecoder::push`], and call [`SseDecoder::finish`] once the body ends.
//! How the body is cut into chunks never changes the decoded result.
//!
//! Comment lines (those starting with `:`) are what servers send as
//! keep-alives. They produce no events; a transport that enforces an idle
//! timeout should reset its timer whenever *any* bytes arrive, which covers
//! keep-alives without special handling. [`SseDecoder::comments`] counts them
//! for diagnostics.

use std::borrow::Cow;

/// The default longest line, in bytes: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;

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
}

impl From<SseError> for crate::error::StreamError {
    fn from(e: SseError) -> Self {
        match e {
            SseError::LineTooLong { limit } => crate::error::StreamError::LineTooLong { limit },
        }
    }
}

/// Items produced by the decoder: events, or recoverable errors.
pub type SseItem = Result<SseEvent, SseError>;

/// Incremental `text/event-stream` decoder. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SseDecoder {
    max_line: usize,
    /// Bytes of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The current line exceeded `max_line`; drop bytes until its end.
    discarding: bool,
    /// The previous chunk ended in CR; an LF opening the next chunk belongs
    /// to the same line ending.
    after_cr: bool,
    /// No line has been completed yet, so a BOM may still be stripped.
    at_start: bool,
    /// Pending event fields.
    event_type: String,
    data: String,
    block_retry: Option<u64>,
    /// Stream-wide state.
    last_event_id: Option<String>,
    retry: Option<u64>,
    comments: u64,
    bytes: u64,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default line limit ([`DEFAULT_MAX_LINE`]).
    pub fn new() -> Self {
        Self::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A decoder that rejects lines longer than `limit` bytes (not counting
    /// the line ending).
    pub fn with_max_line(limit: usize) -> Self {
        Self {
            max_line: limit,
            partial: Vec::new(),
            discarding: false,
            after_cr: false,
            at_start: true,
            event_type: String::new(),
            data: String::new(),
            block_retry: None,
            last_event_id: None,
            retry: None,
            comments: 0,
            bytes: 0,
        }
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
        self.bytes = self.bytes.saturating_add(chunk.len() as u64);
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.buffer_partial(rest, out);
                return;
            };
            self.complete_line(&rest[..end], out);
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
            rest = &rest[end + ending..];
        }
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
        if !self.discarding && !self.partial.is_empty() {
            self.complete_line(&[], &mut out);
        }
        self.dispatch(&mut out);
        self.partial.clear();
        self.discarding = false;
        self.after_cr = false;
        self.at_start = true;
        self.event_type.clear();
        self.data.clear();
        self.block_retry = None;
        out
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
    fn buffer_partial(&mut self, bytes: &[u8], out: &mut Vec<SseItem>) {
        if self.discarding {
            return;
        }
        if self.partial.len() + bytes.len() > self.max_line {
            self.reject_line(out);
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    /// Handles a line whose end has been found; `tail` is the part of it in
    /// the current chunk (the rest is in `self.partial`).
    fn complete_line(&mut self, tail: &[u8], out: &mut Vec<SseItem>) {
        if self.discarding {
            self.discarding = false;
            self.at_start = false;
            return;
        }
        if self.partial.len() + tail.len() > self.max_line {
            self.reject_line(out);
            self.discarding = false;
            self.at_start = false;
            return;
        }
        if self.partial.is_empty() {
            self.process_line(tail, out);
        } else {
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(tail);
            self.process_line(&line, out);
            line.clear();
            self.partial = line;
        }
    }

    fn reject_line(&mut self, out: &mut Vec<SseItem>) {
        self.partial.clear();
        self.discarding = true;
        out.push(Err(SseError::LineTooLong {
            limit: self.max_line,
        }));
    }

    fn process_line(&mut self, mut line: &[u8], out: &mut Vec<SseItem>) {
        if self.at_start {
            self.at_start = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => {
                self.comments = self.comments.saturating_add(1);
                return;
            }
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                self.data.push_str(&lossy(value));
                self.data.push('\n');
            }
            b"event" => self.event_type = lossy(value).into_owned(),
            // An id containing NUL is ignored entirely.
            b"id" if !value.contains(&0) => {
                self.last_event_id = (!value.is_empty()).then(|| lossy(value).into_owned());
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // All digits, so only overflow can fail; such a value is ignored.
                if let Ok(ms) = lossy(value).parse::<u64>() {
                    self.retry = Some(ms);
                    self.block_retry = Some(ms);
                }
            }
            _ => {}
        }
    }

    /// Ends the current block: emits an event if it had data.
    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        let retry = self.block_retry.take();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        self.data.pop(); // the '\n' added after the last data line
        let event = if self.event_type.is_empty() {
            String::from("message")
        } else {
            std::mem::take(&mut self.event_type)
        };
        out.push(Ok(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
            id: self.last_event_id.clone(),
            retry,
        }));
    }
}

fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
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
        let mut d = SseDecoder::with_max_line(max);
        let mut out = Vec::new();
        for c in chunks {
            d.push_into(c, &mut out);
        }
        out.extend(d.finish());
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
    fn error_converts() {
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
    }
}
