//! Waiting for runs, without I/O: what a stream's events mean for the
//! caller ([`StreamWaiter`]) and when to poll again ([`Poller`]).
//!
//! The rule both clients follow: only a terminal run is returned; a run
//! that ends `failed`/`cancelled` is an error; an `error`/`timeout` event,
//! an early end or an idle stream switch to polling `GET /agents/runs/{id}`
//! until a terminal status or the deadline.

use crate::error::{Error, Result, StreamError};
use crate::poll::{PollPolicy, PollSchedule, is_terminal_status};
use crate::run_events::RunEvent;
use seclai_gen::types::AgentRunResponse;
use std::time::{Duration, Instant};

/// What to do after one stream item.
#[derive(Debug)]
pub enum StreamNext {
    /// Keep reading.
    Continue,
    /// The run finished successfully.
    Done(Box<AgentRunResponse>),
    /// Stop reading and poll this run.
    Poll(String),
    /// Give up with this error.
    Fail(Error),
}

/// Follows a run's stream for `run_streaming_agent_and_wait`.
#[derive(Debug, Default)]
pub struct StreamWaiter {
    run_id: Option<String>,
}

impl StreamWaiter {
    /// A new waiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// The run id, once known.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    fn poll_or(&self, e: Error) -> StreamNext {
        match &self.run_id {
            Some(id) => StreamNext::Poll(id.clone()),
            None => StreamNext::Fail(e),
        }
    }

    /// Interpret one stream item.
    pub fn on_item(&mut self, item: Result<RunEvent>) -> StreamNext {
        match item {
            Ok(ev) => {
                if let Some(id) = ev.run_id() {
                    self.run_id.get_or_insert_with(|| id.to_string());
                }
                match ev {
                    RunEvent::Done(run) => finished(run),
                    RunEvent::Error {
                        run_id,
                        message,
                        data,
                    } => {
                        let e = StreamError::ServerError {
                            run_id,
                            message,
                            data,
                        };
                        self.poll_or(Error::Stream(e))
                    }
                    RunEvent::Timeout { run_id, data } => {
                        self.poll_or(Error::Stream(StreamError::ServerTimeout { run_id, data }))
                    }
                    _ => StreamNext::Continue,
                }
            }
            // A garbled event mid-stream is skipped; the stream's end decides.
            Err(Error::Stream(StreamError::Malformed { .. }))
            | Err(Error::Stream(StreamError::LineTooLong { .. }))
            | Err(Error::Stream(StreamError::EventTooLarge { .. })) => StreamNext::Continue,
            Err(e @ Error::Stream(_)) | Err(e @ Error::Transport(_)) => self.poll_or(e),
            Err(e) => StreamNext::Fail(e),
        }
    }
}

/// A terminal `done` snapshot: success, a failed run, or (not terminal) poll.
fn finished(run: Box<AgentRunResponse>) -> StreamNext {
    match run_verdict(&run) {
        Some(Ok(())) => StreamNext::Done(run),
        Some(Err(e)) => StreamNext::Fail(e),
        None => StreamNext::Poll(run.run_id.clone()),
    }
}

/// `None` while the run is still going; `Some(Ok)` when completed;
/// `Some(Err(RunFailed))` for `failed`, `cancelled` or `canceled`.
pub fn run_verdict(run: &AgentRunResponse) -> Option<Result<()>> {
    let status = run.status.as_str();
    if !is_terminal_status(status) {
        return None;
    }
    if status.eq_ignore_ascii_case("completed") {
        return Some(Ok(()));
    }
    Some(Err(Error::Stream(StreamError::RunFailed {
        run_id: run.run_id.clone(),
        status: status.to_string(),
        run: serde_json::to_value(run).unwrap_or_default(),
    })))
}

/// When to check a run (or upload) again, until the deadline.
#[derive(Debug)]
pub struct Poller {
    id: String,
    schedule: PollSchedule,
    started: Instant,
    last_status: Option<String>,
}

impl Poller {
    /// Start polling `id` under `policy`.
    pub fn new(id: impl Into<String>, policy: &PollPolicy) -> Self {
        Poller {
            id: id.into(),
            schedule: policy.schedule(),
            started: Instant::now(),
            last_status: None,
        }
    }

    /// How long to sleep before the next check (zero for the first), or the
    /// deadline error carrying the id and the last status seen.
    pub fn next_delay(&mut self) -> Result<Duration> {
        let elapsed = self.started.elapsed();
        self.schedule.next_delay(elapsed).ok_or_else(|| {
            Error::Stream(StreamError::Deadline {
                run_id: Some(self.id.clone()),
                last_status: self.last_status.clone(),
                waited: elapsed,
            })
        })
    }

    /// Record a status seen by a check.
    pub fn observe(&mut self, status: &str) {
        self.last_status = Some(status.to_string());
    }

    /// A failed check: transient errors (retryable statuses, transport
    /// failures) are tolerated until the deadline; others end the wait.
    pub fn on_error(&mut self, e: Error) -> Result<()> {
        if e.is_retryable() { Ok(()) } else { Err(e) }
    }

    /// Take one check's answer: `Ok(Some(value))` when it is terminal and
    /// successful, `Ok(None)` to check again after
    /// [`next_delay`](Self::next_delay), `Err` when it failed for good (a
    /// terminal failure or an error no retry can fix).
    pub fn step<T: Watched>(&mut self, answer: Result<T>) -> Result<Option<T>> {
        match answer {
            Ok(value) => {
                self.observe(value.status());
                if value.is_terminal() {
                    value.into_verdict().map(Some)
                } else {
                    Ok(None)
                }
            }
            Err(e) => self.on_error(e).map(|()| None),
        }
    }
}

/// Something a wait polls until it reaches a terminal state: a run, an
/// agent input upload.
pub trait Watched: Sized {
    /// The status as the server reported it.
    fn status(&self) -> &str;
    /// Whether the status ends the wait.
    fn is_terminal(&self) -> bool;
    /// A terminal value as the wait's result: itself on success, else the
    /// error naming it.
    fn into_verdict(self) -> Result<Self>;
}

impl Watched for AgentRunResponse {
    fn status(&self) -> &str {
        self.status.as_str()
    }
    fn is_terminal(&self) -> bool {
        is_terminal_status(self.status.as_str())
    }
    fn into_verdict(self) -> Result<Self> {
        match run_verdict(&self) {
            Some(Err(e)) => Err(e),
            _ => Ok(self),
        }
    }
}

impl Watched for seclai_gen::types::UploadAgentInputApiResponse {
    fn status(&self) -> &str {
        &self.status
    }
    fn is_terminal(&self) -> bool {
        is_upload_terminal(&self.status)
    }
    fn into_verdict(self) -> Result<Self> {
        upload_verdict(self)
    }
}

/// Upload processing states that end a wait (`ready` and `failed`).
pub fn is_upload_terminal(status: &str) -> bool {
    status.eq_ignore_ascii_case("ready") || status.eq_ignore_ascii_case("failed")
}

/// A terminal upload: `ready` is returned, `failed` becomes
/// [`StreamError::RunFailed`] naming the upload.
pub fn upload_verdict(
    upload: seclai_gen::types::UploadAgentInputApiResponse,
) -> Result<seclai_gen::types::UploadAgentInputApiResponse> {
    if upload.status.eq_ignore_ascii_case("failed") {
        Err(Error::Stream(StreamError::RunFailed {
            run_id: upload.id.clone(),
            status: upload.status.clone(),
            run: serde_json::to_value(&upload).unwrap_or_default(),
        }))
    } else {
        Ok(upload)
    }
}

/// Options for streaming a run and waiting for it.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitOptions {
    /// Longest silence on the stream (keepalive comments count as activity)
    /// before switching to polling. Default 2 min.
    pub idle_timeout: Duration,
    /// Polling schedule; its `deadline` bounds the whole wait, stream
    /// included. Default: first check at once, 1 s → 5 s, 10 min.
    pub poll: PollPolicy,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            idle_timeout: Duration::from_secs(120),
            poll: PollPolicy::default(),
        }
    }
}

impl WaitOptions {
    /// The poll policy for what is left of the deadline after `spent`.
    pub fn remaining(&self, spent: Duration) -> PollPolicy {
        PollPolicy {
            deadline: self.poll.deadline.saturating_sub(spent),
            ..self.poll.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str) -> Box<AgentRunResponse> {
        Box::new(
            serde_json::from_value(
                serde_json::json!({"run_id":"r1","status":status,"error_count":0,
                "priority":true,"attempts":[]}),
            )
            .unwrap(),
        )
    }

    #[test]
    fn poller_step_waits_on_progress_and_transient_errors_and_ends_on_a_verdict() {
        let mut p = Poller::new("r1", &PollPolicy::default());
        assert!(matches!(p.step(Ok(*run("running"))), Ok(None)));
        let transient = Error::Transport(crate::TransportError::new(
            crate::TransportKind::Io,
            "reset",
        ));
        assert!(matches!(
            p.step::<AgentRunResponse>(Err(transient)),
            Ok(None)
        ));
        let done = p.step(Ok(*run("completed"))).unwrap().unwrap();
        assert_eq!(done.run_id, "r1");
        let e = p.step(Ok(*run("cancelled"))).unwrap_err();
        assert!(
            matches!(e, Error::Stream(StreamError::RunFailed { ref status, .. }) if status == "cancelled")
        );
        let fatal = Error::Config("no".into());
        assert!(p.step::<AgentRunResponse>(Err(fatal)).is_err());
        // The last status seen is what a deadline error reports.
        assert_eq!(p.last_status.as_deref(), Some("cancelled"));

        let upload = |status: &str| -> seclai_gen::types::UploadAgentInputApiResponse {
            serde_json::from_value(serde_json::json!({"id":"u1","status":status,
                "filename":"f","content_type":"text/plain","file_size":1}))
            .unwrap()
        };
        let mut p = Poller::new("u1", &PollPolicy::default());
        assert!(matches!(p.step(Ok(upload("processing"))), Ok(None)));
        assert_eq!(p.step(Ok(upload("ready"))).unwrap().unwrap().id, "u1");
        assert!(p.step(Ok(upload("failed"))).is_err());
    }

    #[test]
    fn done_completed_is_success_and_failed_is_an_error() {
        let mut w = StreamWaiter::new();
        assert!(matches!(
            w.on_item(Ok(RunEvent::Done(run("completed")))),
            StreamNext::Done(_)
        ));
        match w.on_item(Ok(RunEvent::Done(run("failed")))) {
            StreamNext::Fail(Error::Stream(StreamError::RunFailed { status, .. })) => {
                assert_eq!(status, "failed")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            w.on_item(Ok(RunEvent::Done(run("canceled")))),
            StreamNext::Fail(_)
        ));
        assert!(matches!(
            w.on_item(Ok(RunEvent::Done(run("processing")))),
            StreamNext::Poll(_)
        ));
    }

    #[test]
    fn errors_poll_once_the_run_is_known() {
        let mut w = StreamWaiter::new();
        let early = Error::Stream(StreamError::EndedEarly { run_id: None });
        assert!(matches!(w.on_item(Err(early)), StreamNext::Fail(_)));
        assert!(matches!(
            w.on_item(Ok(RunEvent::Init(run("pending")))),
            StreamNext::Continue
        ));
        let bad = Error::Stream(StreamError::Malformed {
            message: "x".into(),
        });
        assert!(matches!(w.on_item(Err(bad)), StreamNext::Continue));
        let ev = RunEvent::Error {
            run_id: None,
            message: "m".into(),
            data: serde_json::Value::Null,
        };
        assert!(matches!(w.on_item(Ok(ev)), StreamNext::Poll(id) if id == "r1"));
        let idle = Error::Stream(StreamError::IdleTimeout {
            after: Duration::from_secs(1),
        });
        assert!(matches!(w.on_item(Err(idle)), StreamNext::Poll(_)));
    }

    #[test]
    fn poller_deadline_carries_id_and_status() {
        let policy = PollPolicy {
            deadline: Duration::ZERO,
            ..PollPolicy::default()
        };
        let mut p = Poller::new("r1", &policy);
        assert_eq!(p.next_delay().unwrap(), Duration::ZERO);
        p.observe("processing");
        match p.next_delay() {
            Err(Error::Stream(StreamError::Deadline {
                run_id,
                last_status,
                ..
            })) => {
                assert_eq!(run_id.as_deref(), Some("r1"));
                assert_eq!(last_status.as_deref(), Some("processing"));
            }
            other => panic!("{other:?}"),
        }
        assert!(p.on_error(Error::Config("x".into())).is_err());
        assert!(is_upload_terminal("READY") && !is_upload_terminal("processing"));
    }
}
