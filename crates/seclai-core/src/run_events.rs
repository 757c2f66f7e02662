//! Typed agent-run events on top of the SSE decoder.
//!
//! [`RunEventDecoder`] takes the raw bytes of `POST /agents/{id}/runs/stream`
//! in any chunking and yields [`RunEvent`]s. A malformed event is an error
//! item and decoding goes on; a stream that ends before `done`, `error` or
//! `timeout` ends with [`StreamError::EndedEarly`].

use crate::error::{Error, Result, StreamError};
use crate::sse::{SseDecoder, SseEvent};
use seclai_gen::types::AgentRunResponse;
use serde_json::Value;

/// One event of a streamed agent run.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// `init`: the run was created; a snapshot including its `run_id`.
    Init(Box<AgentRunResponse>),
    /// `status`: a status change.
    Status(Value),
    /// A step event (`step_*`), forwarded from the run.
    Step {
        /// The event name.
        event: String,
        /// Its payload.
        data: Value,
    },
    /// `stream_token`: one token of a streaming step.
    StreamToken {
        /// The token text.
        token: String,
        /// The whole payload.
        data: Value,
    },
    /// `stream_end`: a streaming step finished.
    StreamEnd(Value),
    /// `stream_reasoning`: reasoning text of a streaming step.
    StreamReasoning(Value),
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
            RunEvent::StreamToken { .. } => "stream_token",
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
            RunEvent::Status(d) | RunEvent::StreamEnd(d) | RunEvent::StreamReasoning(d) => {
                str_field(d, "run_id")
            }
            RunEvent::Step { data, .. } | RunEvent::StreamToken { data, .. } => {
                str_field(data, "run_id")
            }
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
        let json = || -> Result<Value> {
            serde_json::from_str(&ev.data).map_err(|e| {
                Error::Stream(StreamError::Malformed {
                    message: format!("`{}` event data is not valid JSON: {e}", ev.event),
                })
            })
        };
        let run = || -> Result<Box<AgentRunResponse>> {
            serde_json::from_str(&ev.data).map(Box::new).map_err(|e| {
                Error::Stream(StreamError::Malformed {
                    message: format!("`{}` event is not a run snapshot: {e}", ev.event),
                })
            })
        };
        Ok(match ev.event.as_str() {
            "init" => RunEvent::Init(run()?),
            "done" => RunEvent::Done(run()?),
            "status" => RunEvent::Status(json()?),
            "stream_token" => {
                let data = json()?;
                let token = str_field(&data, "token").unwrap_or_default().to_string();
                RunEvent::StreamToken { token, data }
            }
            "stream_end" => RunEvent::StreamEnd(json()?),
            "stream_reasoning" => RunEvent::StreamReasoning(json()?),
            "timeout" => {
                let data = json().unwrap_or_else(|_| Value::String(ev.data.clone()));
                RunEvent::Timeout {
                    run_id: str_field(&data, "run_id").map(str::to_string),
                    data,
                }
            }
            "error" => {
                let data = json().unwrap_or_else(|_| Value::String(ev.data.clone()));
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
                data: json()?,
            },
            name => RunEvent::Unknown {
                event: name.to_string(),
                data: ev.data.clone(),
            },
        })
    }
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
}

impl RunEventDecoder {
    /// A decoder with the default line cap.
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

    /// The run id, once an event named it.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// Whether `done`, `error` or `timeout` arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn convert(&mut self, items: Vec<crate::sse::SseItem>) -> Vec<Result<RunEvent>> {
        items
            .into_iter()
            .map(|item| {
                let ev = item.map_err(Error::from)?;
                let parsed = RunEvent::parse(&ev)?;
                if self.run_id.is_none() {
                    self.run_id = parsed.run_id().map(str::to_string);
                }
                if parsed.is_final() {
                    self.finished = true;
                }
                Ok(parsed)
            })
            .collect()
    }

    /// Feed bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<RunEvent>> {
        let items = self.sse.push(chunk);
        self.convert(items)
    }

    /// The stream closed: flush, and report an early end if no final event came.
    pub fn finish(&mut self) -> Vec<Result<RunEvent>> {
        let items = self.sse.finish();
        let mut out = self.convert(items);
        if !self.finished {
            self.finished = true;
            out.push(Err(Error::Stream(StreamError::EndedEarly {
                run_id: self.run_id.clone(),
            })));
        }
        out
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
        let items = self.decoder.push(chunk);
        self.queue.extend(items);
    }
    /// The server closed the stream.
    pub fn on_eof(&mut self) {
        let items = self.decoder.finish();
        self.queue.extend(items);
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

/// What every client's `RunStream` shares, for a type with a
/// `run_id: Option<String>` field: `run_id()`, a `note_run_id` step that
/// remembers the first run id an event names, and a `Debug` showing it.
#[macro_export]
#[doc(hidden)]
macro_rules! run_stream_common {
    ($ty:ident) => {
        impl $ty {
            /// The run id, once an event (normally `init`) named it.
            pub fn run_id(&self) -> Option<&str> {
                self.run_id.as_deref()
            }

            fn note_run_id(&mut self, item: &$crate::Result<$crate::RunEvent>) {
                if let (None, Ok(event)) = (&self.run_id, item) {
                    self.run_id = event.run_id().map(str::to_string);
                }
            }
        }

        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("run_id", &self.run_id)
                    .finish_non_exhaustive()
            }
        }
    };
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
        assert!(matches!(&evs[1], RunEvent::StreamToken { token, .. } if token == "He"));
        assert!(matches!(&evs[3], RunEvent::Unknown { data, .. } if data == "x"));
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
}
