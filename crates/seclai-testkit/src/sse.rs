//! Builders for the bytes of scripted `text/event-stream` responses.
//!
//! An [`SseScript`] is an ordered list of segments (events, comments, raw
//! bytes, ...) plus a set of transforms (line endings, BOM, chunk boundaries,
//! per-chunk delay, truncation). Nothing is rendered until
//! [`SseScript::into_chunks`] / [`SseScript::to_bytes`] is called, so
//! transforms apply to the whole stream regardless of the order in which
//! builder methods were called.
//!
//! The chunks are meant for [`Script::event_stream`] or [`Script::chunked`]
//! of the raw server:
//!
//! ```
//! use seclai_testkit::raw::{RawServer, Script};
//! use seclai_testkit::sse::SseScript;
//! use std::time::Duration;
//!
//! let chunks = SseScript::seclai_run("run_1", "agent_1")
//!     .crlf()
//!     .split_every(7)
//!     .delay(Duration::from_millis(5))
//!     .into_chunks();
//! let server = RawServer::start(vec![Script::event_stream(chunks)]);
//! # drop(server);
//! ```

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::raw::Script;

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The line terminator used when rendering an [`SseScript`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LineEnding {
    /// `\n` (the default).
    #[default]
    Lf,
    /// `\r\n`.
    CrLf,
    /// A lone `\r`.
    Cr,
}

impl LineEnding {
    /// The terminator bytes.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
            LineEnding::Cr => b"\r",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    /// Lines, each followed by the configured line ending; an empty line is
    /// the blank line that dispatches an event.
    Lines(Vec<Vec<u8>>),
    /// Bytes emitted verbatim.
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    /// The `event:` name, for segments that are named events.
    event: Option<String>,
    body: Body,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Split {
    /// One chunk per segment.
    #[default]
    PerSegment,
    /// Fixed-size chunks.
    Every(usize),
    /// Boundaries at absolute byte offsets.
    At(Vec<usize>),
}

/// A scripted server-sent-event stream; see the [module docs](self).
///
/// By default each segment (event, comment, raw bytes, ...) becomes one
/// chunk, lines end in `\n`, there is no BOM and no delay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseScript {
    segments: Vec<Segment>,
    line_ending: LineEnding,
    bom: bool,
    split: Split,
    delay: Duration,
    cut_before_done: bool,
    unterminated: bool,
}

impl SseScript {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, event: Option<&str>, body: Body) -> Self {
        self.segments.push(Segment {
            event: event.map(str::to_owned),
            body,
        });
        self
    }

    fn push_lines(self, event: Option<&str>, lines: Vec<String>) -> Self {
        self.push(
            event,
            Body::Lines(lines.into_iter().map(String::into_bytes).collect()),
        )
    }

    /// A named event: `event: {name}`, one `data: ` line per line of `data`
    /// (split on `\n`, a trailing `\r` on each piece removed), then a blank line.
    pub fn event(self, name: &str, data: impl AsRef<str>) -> Self {
        let mut lines = vec![format!("event: {name}")];
        lines.extend(data_lines(data.as_ref()));
        lines.push(String::new());
        self.push_lines(Some(name), lines)
    }

    /// A named event whose data is `value` serialised as compact JSON.
    ///
    /// # Panics
    ///
    /// Panics if `value` cannot be serialised.
    pub fn event_json(self, name: &str, value: &impl Serialize) -> Self {
        let data = serde_json::to_string(value).expect("SseScript: value is not serialisable");
        self.event(name, data)
    }

    /// An event without an `event:` line (dispatched as `message`).
    pub fn unnamed(self, data: impl AsRef<str>) -> Self {
        let mut lines = data_lines(data.as_ref());
        lines.push(String::new());
        self.push_lines(None, lines)
    }

    /// A comment line `: {text}` followed by a blank line, the usual shape of
    /// a keep-alive.
    pub fn comment(self, text: &str) -> Self {
        self.push_lines(None, vec![format!(": {text}"), String::new()])
    }

    /// A named event with one `data: ` line per entry of `lines` (entries are
    /// used as-is), then a blank line.
    pub fn multiline_data(self, name: &str, lines: &[&str]) -> Self {
        let mut out = vec![format!("event: {name}")];
        out.extend(lines.iter().map(|l| format!("data: {l}")));
        out.push(String::new());
        self.push_lines(Some(name), out)
    }

    /// A single field line `{name}: {value}` with no blank line after it,
    /// e.g. `field("id", "7")` or `field("retry", "1000")`; finish the event
    /// with [`end_event`](Self::end_event).
    pub fn field(self, name: &str, value: &str) -> Self {
        self.push_lines(None, vec![format!("{name}: {value}")])
    }

    /// A lone blank line (dispatches whatever fields precede it).
    pub fn end_event(self) -> Self {
        self.push_lines(None, vec![String::new()])
    }

    /// Bytes emitted verbatim: not affected by the line-ending transform and
    /// not terminated by anything.
    pub fn raw(self, bytes: impl Into<Vec<u8>>) -> Self {
        self.push(None, Body::Raw(bytes.into()))
    }

    /// A junk line: `bytes` (which need not be UTF-8 or a valid field)
    /// followed by the line ending, but no blank line.
    pub fn garbage(self, bytes: impl Into<Vec<u8>>) -> Self {
        self.push(None, Body::Lines(vec![bytes.into()]))
    }

    /// An event consisting of one `data:` line that is exactly `len` bytes
    /// long excluding its line ending (`data:` followed by `x` padding; at
    /// least the 5 bytes of `data:`), then a blank line.
    pub fn oversize_line(self, len: usize) -> Self {
        let mut line = b"data:".to_vec();
        line.resize(len.max(line.len()), b'x');
        self.push(None, Body::Lines(vec![line, Vec::new()]))
    }

    /// Renders lines with `\r\n`.
    pub fn crlf(self) -> Self {
        self.line_ending(LineEnding::CrLf)
    }

    /// Renders lines with a lone `\r`.
    pub fn lone_cr(self) -> Self {
        self.line_ending(LineEnding::Cr)
    }

    /// Renders lines with the given terminator.
    pub fn line_ending(mut self, ending: LineEnding) -> Self {
        self.line_ending = ending;
        self
    }

    /// Prefixes the stream with a UTF-8 byte order mark.
    pub fn with_bom(mut self) -> Self {
        self.bom = true;
        self
    }

    /// Cuts the rendered stream into chunks of `n` bytes (the last may be
    /// shorter), regardless of event, line or UTF-8 character boundaries.
    /// `n == 0` is treated as 1.
    pub fn split_every(mut self, n: usize) -> Self {
        self.split = Split::Every(n.max(1));
        self
    }

    /// Cuts the rendered stream (BOM included) at the given absolute byte
    /// offsets. Offsets are sorted and deduplicated; `0` and offsets at or past
    /// the end are ignored.
    pub fn split_at(mut self, positions: &[usize]) -> Self {
        self.split = Split::At(positions.to_vec());
        self
    }

    /// Delays every chunk by `delay` (the server sleeps before writing each).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Drops the first event named `done` and every segment after it. The
    /// stream then ends right after the preceding segment; nothing extra (no
    /// additional blank line) is appended.
    pub fn cut_before_done(mut self) -> Self {
        self.cut_before_done = true;
        self
    }

    /// Removes the blank line that ends the last segment (if it ends with
    /// one), so the final event is never dispatched by a conforming parser.
    pub fn unterminated(mut self) -> Self {
        self.unterminated = true;
        self
    }

    /// The rendered stream split into chunks, each paired with the configured
    /// delay; empty chunks are omitted. Feed this to [`Script::event_stream`].
    pub fn into_chunks(self) -> Vec<(Vec<u8>, Duration)> {
        self.to_chunks()
    }

    /// Like [`into_chunks`](Self::into_chunks) without consuming the script.
    pub fn to_chunks(&self) -> Vec<(Vec<u8>, Duration)> {
        let pieces = self.render();
        let chunks: Vec<Vec<u8>> = match &self.split {
            Split::PerSegment => pieces,
            Split::Every(n) => pieces.concat().chunks(*n).map(<[u8]>::to_vec).collect(),
            Split::At(positions) => split_at_positions(&pieces.concat(), positions),
        };
        chunks
            .into_iter()
            .filter(|c| !c.is_empty())
            .map(|c| (c, self.delay))
            .collect()
    }

    /// The whole rendered stream as one byte vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.render().concat()
    }

    /// Shorthand for `Script::event_stream(self.into_chunks())`.
    pub fn into_script(self) -> Script {
        Script::event_stream(self.into_chunks())
    }

    /// Renders each kept segment to bytes (the BOM is attached to the first).
    fn render(&self) -> Vec<Vec<u8>> {
        let mut segments: &[Segment] = &self.segments;
        if self.cut_before_done
            && let Some(i) = segments
                .iter()
                .position(|s| s.event.as_deref() == Some("done"))
        {
            segments = &segments[..i];
        }
        let ending = self.line_ending.as_bytes();
        let last = segments.len().saturating_sub(1);
        let mut out: Vec<Vec<u8>> = segments
            .iter()
            .enumerate()
            .map(|(i, segment)| match &segment.body {
                Body::Raw(bytes) => bytes.clone(),
                Body::Lines(lines) => {
                    let mut lines = lines.as_slice();
                    if self.unterminated && i == last && lines.last().is_some_and(Vec::is_empty) {
                        lines = &lines[..lines.len() - 1];
                    }
                    let mut bytes = Vec::new();
                    for line in lines {
                        bytes.extend_from_slice(line);
                        bytes.extend_from_slice(ending);
                    }
                    bytes
                }
            })
            .collect();
        if self.bom {
            match out.first_mut() {
                Some(first) => {
                    first.splice(0..0, BOM.iter().copied());
                }
                None => out.push(BOM.to_vec()),
            }
        }
        out
    }

    /// A canned Seclai agent run stream with the tokens `"Hel"` and `"lo"`;
    /// see [`seclai_run_with_tokens`](Self::seclai_run_with_tokens).
    pub fn seclai_run(run_id: &str, agent_id: &str) -> Self {
        Self::seclai_run_with_tokens(run_id, agent_id, &["Hel", "lo"])
    }

    /// A canned Seclai agent run stream:
    ///
    /// 1. `init` with [`run_object`]`(run_id, agent_id, "pending", None)`,
    /// 2. one `stream_token` per token: `{"run_id":..,"token":..}`,
    /// 3. `stream_end` with `{"run_id":..}`,
    /// 4. `done` with the run object in status `completed` whose `output` is
    ///    the concatenated tokens.
    pub fn seclai_run_with_tokens(run_id: &str, agent_id: &str, tokens: &[&str]) -> Self {
        let mut script =
            Self::new().event_json("init", &run_object(run_id, agent_id, "pending", None));
        for token in tokens {
            script =
                script.event_json("stream_token", &json!({ "run_id": run_id, "token": token }));
        }
        let output = tokens.concat();
        script
            .event_json("stream_end", &json!({ "run_id": run_id }))
            .event_json(
                "done",
                &run_object(run_id, agent_id, "completed", Some(&output)),
            )
    }
}

/// A Seclai run snapshot (the `AgentRunResponse` shape) as carried by the
/// canned `init` and `done` events and by `GET /agents/runs/{run_id}`:
/// `run_id`, `agent_id`, `status`, `output` (`null` when `None`), plus the
/// other fields the type requires.
pub fn run_object(run_id: &str, agent_id: &str, status: &str, output: Option<&str>) -> Value {
    json!({
        "run_id": run_id,
        "agent_id": agent_id,
        "status": status,
        "output": output,
        "input": "hello",
        "credits": null,
        "error_count": 0,
        "priority": true,
        "attempts": [],
    })
}

fn data_lines(data: &str) -> Vec<String> {
    data.split('\n')
        .map(|line| format!("data: {}", line.strip_suffix('\r').unwrap_or(line)))
        .collect()
}

fn split_at_positions(bytes: &[u8], positions: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = positions
        .iter()
        .copied()
        .filter(|&p| p > 0 && p < bytes.len())
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        out.push(bytes[start..cut].to_vec());
        start = cut;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::RawServer;
    use crate::test_support::{decode_chunked, request_raw, split_response};

    fn text(script: &SseScript) -> String {
        String::from_utf8(script.to_bytes()).unwrap()
    }

    #[test]
    fn basic_shapes() {
        let script = SseScript::new()
            .event("ping", "{\"a\":1}")
            .unnamed("hello")
            .comment("keepalive")
            .multiline_data("multi", &["one", "two"])
            .event("split", "x\r\ny")
            .field("id", "7")
            .end_event()
            .raw("data: raw\n\n")
            .garbage(b"\xFFjunk".to_vec());
        assert_eq!(
            script.to_bytes(),
            b"event: ping\ndata: {\"a\":1}\n\n\
              data: hello\n\n\
              : keepalive\n\n\
              event: multi\ndata: one\ndata: two\n\n\
              event: split\ndata: x\ndata: y\n\n\
              id: 7\n\n\
              data: raw\n\n\
              \xFFjunk\n"
        );
        // One chunk per segment by default.
        assert_eq!(script.to_chunks().len(), 9);
    }

    #[test]
    fn line_endings_apply_to_lines_but_not_raw() {
        let base = SseScript::new().event("a", "1").raw("x\n");
        assert_eq!(text(&base.clone().crlf()), "event: a\r\ndata: 1\r\n\r\nx\n");
        assert_eq!(text(&base.lone_cr()), "event: a\rdata: 1\r\rx\n");
    }

    #[test]
    fn bom_is_prefixed_once() {
        let bytes = SseScript::new().unnamed("x").with_bom().to_bytes();
        assert_eq!(bytes, b"\xEF\xBB\xBFdata: x\n\n");
        assert_eq!(SseScript::new().with_bom().to_bytes(), BOM);
    }

    #[test]
    fn split_every_and_split_at_cut_anywhere() {
        // "é" is two bytes in UTF-8; split inside it.
        let script = SseScript::new().unnamed("é");
        let bytes = script.to_bytes();
        assert_eq!(bytes, "data: é\n\n".as_bytes());

        let every = script.clone().split_every(3).into_chunks();
        let sizes: Vec<usize> = every.iter().map(|(c, _)| c.len()).collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
        assert_eq!(
            every
                .iter()
                .flat_map(|(c, _)| c.clone())
                .collect::<Vec<_>>(),
            bytes
        );

        let at = script.split_at(&[7, 0, 7, 100, 3]).into_chunks();
        let pieces: Vec<&[u8]> = at.iter().map(|(c, _)| c.as_slice()).collect();
        assert_eq!(pieces, [&b"dat"[..], b"a: \xC3", b"\xA9\n\n"]);
    }

    #[test]
    fn delay_is_attached_to_every_chunk() {
        let d = Duration::from_millis(30);
        let chunks = SseScript::new()
            .unnamed("a")
            .unnamed("b")
            .delay(d)
            .into_chunks();
        assert_eq!(chunks.len(), 2);
        assert!(chunks.iter().all(|(_, delay)| *delay == d));
    }

    #[test]
    fn oversize_line_has_exact_length() {
        let bytes = SseScript::new().oversize_line(1000).to_bytes();
        assert_eq!(bytes.len(), 1000 + 2);
        assert!(bytes.starts_with(b"data:xxx"));
        assert!(bytes.ends_with(b"x\n\n"));
        assert_eq!(SseScript::new().oversize_line(2).to_bytes(), b"data:\n\n");
    }

    #[test]
    fn seclai_run_events() {
        let bytes = SseScript::seclai_run("run_1", "agent_9").to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        let events: Vec<(&str, Value)> = text
            .split("\n\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                let (event, data) = block.split_once('\n').unwrap();
                (
                    event.strip_prefix("event: ").unwrap(),
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
                )
            })
            .collect();
        let names: Vec<&str> = events.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["init", "stream_token", "stream_token", "stream_end", "done"]
        );
        assert_eq!(events[0].1["status"], "pending");
        assert_eq!(events[0].1["agent_id"], "agent_9");
        assert!(events[0].1["output"].is_null());
        assert_eq!(events[1].1, json!({"run_id": "run_1", "token": "Hel"}));
        assert_eq!(events[2].1["token"], "lo");
        assert_eq!(events[3].1, json!({"run_id": "run_1"}));
        assert_eq!(
            events[4].1,
            run_object("run_1", "agent_9", "completed", Some("Hello"))
        );
    }

    #[test]
    fn cut_before_done_and_unterminated() {
        let cut = SseScript::seclai_run("r", "a").cut_before_done();
        let text = text(&cut);
        assert!(!text.contains("done"));
        assert!(text.ends_with("event: stream_end\ndata: {\"run_id\":\"r\"}\n\n"));

        let open = SseScript::seclai_run("r", "a")
            .cut_before_done()
            .unterminated()
            .crlf();
        let bytes = open.to_bytes();
        assert!(bytes.ends_with(b"event: stream_end\r\ndata: {\"run_id\":\"r\"}\r\n"));
        assert!(!bytes.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn served_through_the_raw_server() {
        let script = SseScript::seclai_run("r", "a").split_every(5);
        let expected = script.to_bytes();
        let server = RawServer::start(vec![script.into_script()]);
        let response = request_raw(
            &server.url(),
            b"GET /runs/r/events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n",
        );
        let (head, body) = split_response(&response);
        assert!(head.contains("content-type: text/event-stream\r\n"));
        assert_eq!(decode_chunked(&body), expected);
    }
}
