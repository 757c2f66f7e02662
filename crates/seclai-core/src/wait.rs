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
        Self::started_at(id, policy, Instant::now())
    }

    /// A poller whose deadline counts from `started` (a wait that streamed
    /// first keeps its whole budget), on the system clock.
    pub fn started_at(id: impl Into<String>, policy: &PollPolicy, started: Instant) -> Self {
        Poller {
            id: id.into(),
            schedule: policy.schedule(),
            started,
            last_status: None,
        }
    }

    /// The next delay, with `now` read from the caller's clock.
    pub fn next_delay_at(&mut self, now: Instant) -> Result<Duration> {
        let elapsed = now.saturating_duration_since(self.started);
        self.schedule.next_delay(elapsed).ok_or_else(|| {
            Error::Stream(StreamError::Deadline {
                run_id: Some(self.id.clone()),
                last_status: self.last_status.clone(),
                waited: elapsed,
            })
        })
    }

    /// How long to sleep before the next check (zero for the first), or the
    /// deadline error carrying the id and the last status seen.
    /// On the system clock; see [`next_delay_at`](Self::next_delay_at).
    pub fn next_delay(&mut self) -> Result<Duration> {
        self.next_delay_at(Instant::now())
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
    /// The id to poll with once this is known not to be terminal.
    fn id(&self) -> &str;
    /// The status as the server reported it.
    fn status(&self) -> &str;
    /// Whether the status ends the wait.
    fn is_terminal(&self) -> bool;
    /// A terminal value as the wait's result: itself on success, else the
    /// error naming it.
    fn into_verdict(self) -> Result<Self>;
}

impl Watched for AgentRunResponse {
    fn id(&self) -> &str {
        &self.run_id
    }
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
    fn id(&self) -> &str {
        &self.id
    }
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

// ---------------------------------------------------------------------------
// The wait machine
// ---------------------------------------------------------------------------

/// What a driver does next while waiting for a run (or an upload).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum WaitStep<T> {
    /// Open the run's event stream (drop it on the next step that is not
    /// [`WaitStep::NextEvent`]), then [`Waiter::on_opened`].
    OpenEvents(Result<crate::engine::CallMachine>),
    /// Read the next item of the open stream (`None` at its end), then
    /// [`Waiter::on_event`].
    NextEvent,
    /// Run this call, then [`Waiter::on_answer`] with its answer.
    Fetch(Result<crate::engine::CallMachine>),
    /// Sleep, then [`Waiter::on_slept`].
    Sleep(Duration),
    /// The wait is over.
    Done(Result<T>),
}

/// Renders the status check of the watched thing, given its id.
pub type CheckCall = Box<dyn FnMut(&str, Duration) -> Result<crate::engine::CallMachine> + Send>;

enum Phase {
    First(Option<Result<crate::engine::CallMachine>>),
    Streaming(Option<Result<crate::engine::CallMachine>>),
    Polling,
    Over,
}

/// Waiting for a run or an upload: stream-then-poll
/// (`run_streaming_agent_and_wait`), call-then-poll (`run_agent_and_poll`)
/// or poll only (`wait_for_run`). One deadline covers the whole wait, the
/// stream's opening and every check included, measured on the
/// configuration's clock.
pub struct Waiter<T> {
    clock: crate::engine::SharedClock,
    started: Instant,
    policy: PollPolicy,
    phase: Phase,
    stream: StreamWaiter,
    poller: Option<Poller>,
    id: Option<String>,
    check: CheckCall,
    from_run: Option<fn(Box<AgentRunResponse>) -> T>,
}

impl<T> std::fmt::Debug for Waiter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<T: Watched + serde::de::DeserializeOwned> Waiter<T> {
    fn new(
        config: &crate::config::ClientConfig,
        policy: &PollPolicy,
        check: CheckCall,
        phase: Phase,
    ) -> Self {
        let clock = config.clock().clone();
        Waiter {
            started: clock.now(),
            clock,
            policy: policy.clone(),
            phase,
            stream: StreamWaiter::new(),
            poller: None,
            id: None,
            check,
            from_run: None,
        }
    }

    /// Poll the thing with id `id` until it is terminal.
    pub fn poll(
        config: &crate::config::ClientConfig,
        id: String,
        policy: &PollPolicy,
        check: CheckCall,
    ) -> Self {
        let mut w = Self::new(config, policy, check, Phase::Polling);
        w.id = Some(id);
        w
    }

    /// Run `first` (which answers a `T`), then poll it until terminal.
    pub fn call_then_poll(
        config: &crate::config::ClientConfig,
        first: Result<crate::engine::CallMachine>,
        policy: &PollPolicy,
        check: CheckCall,
    ) -> Self {
        Self::new(config, policy, check, Phase::First(Some(first)))
    }

    fn left(&self) -> Duration {
        self.policy
            .deadline
            .saturating_sub(self.clock.now().saturating_duration_since(self.started))
    }

    /// The first step.
    pub fn start(&mut self) -> WaitStep<T> {
        match &mut self.phase {
            Phase::First(first) => match first.take() {
                Some(m) => WaitStep::Fetch(m.map(|m| m.deadline_at_most(self.left()))),
                None => self.next_check(),
            },
            Phase::Streaming(open) => match open.take() {
                Some(m) => WaitStep::OpenEvents(m.map(|m| m.deadline_at_most(self.left()))),
                None => WaitStep::NextEvent,
            },
            Phase::Polling => self.next_check(),
            Phase::Over => WaitStep::Done(Err(Error::InvalidRequest("the wait is over".into()))),
        }
    }

    fn finish(&mut self, r: Result<T>) -> WaitStep<T> {
        self.phase = Phase::Over;
        WaitStep::Done(r)
    }

    fn next_check(&mut self) -> WaitStep<T> {
        self.phase = Phase::Polling;
        let Some(id) = self.id.clone() else {
            return self.finish(Err(Error::Stream(StreamError::EndedEarly { run_id: None })));
        };
        let started = self.started;
        let poller = self
            .poller
            .get_or_insert_with(|| Poller::started_at(id, &self.policy, started));
        match poller.next_delay_at(self.clock.now()) {
            Ok(d) if d.is_zero() => {
                let left = self.left();
                let id = self.id.clone().unwrap_or_default();
                WaitStep::Fetch((self.check)(&id, left))
            }
            Ok(d) => WaitStep::Sleep(d),
            Err(e) => self.finish(Err(e)),
        }
    }

    /// After [`WaitStep::Sleep`].
    pub fn on_slept(&mut self) -> WaitStep<T> {
        let left = self.left();
        let id = self.id.clone().unwrap_or_default();
        if left.is_zero() {
            return self.next_check();
        }
        WaitStep::Fetch((self.check)(&id, left))
    }

    /// After [`WaitStep::Fetch`].
    pub fn on_answer(&mut self, answer: Result<crate::engine::Answer>) -> WaitStep<T> {
        let value: Result<T> =
            answer.and_then(|a| a.decode().map(crate::exchange::Response::into_value));
        if let Phase::First(_) = self.phase {
            return match value {
                Ok(v) if v.is_terminal() => {
                    let r = v.into_verdict();
                    self.finish(r)
                }
                Ok(v) => {
                    self.id = Some(v.id().to_string());
                    self.next_check()
                }
                Err(e) => self.finish(Err(e)),
            };
        }
        if let Err(Error::Deadline { .. }) = value {
            // The check ran out of the wait's time: the wait's own error.
            return self.next_check();
        }
        let poller = match self.poller.as_mut() {
            Some(p) => p,
            None => return self.finish(Err(Error::InvalidRequest("no poll in progress".into()))),
        };
        match poller.step(value) {
            Ok(Some(done)) => self.finish(Ok(done)),
            Ok(None) => self.next_check(),
            Err(e) => self.finish(Err(e)),
        }
    }

    /// After [`WaitStep::OpenEvents`]: whether the stream opened.
    pub fn on_opened(&mut self, opened: Result<()>) -> WaitStep<T> {
        match opened {
            Ok(()) => WaitStep::NextEvent,
            Err(e) => self.finish(Err(e)),
        }
    }

    /// After [`WaitStep::NextEvent`].
    pub fn on_event(&mut self, item: Option<Result<RunEvent>>) -> WaitStep<T> {
        let item = item.unwrap_or_else(|| {
            Err(Error::Stream(StreamError::EndedEarly {
                run_id: self.stream.run_id().map(str::to_string),
            }))
        });
        let item = match item {
            Err(Error::Deadline { elapsed, .. }) => Err(Error::Stream(StreamError::Deadline {
                run_id: self.stream.run_id().map(str::to_string),
                last_status: None,
                waited: elapsed,
            })),
            other => other,
        };
        match self.stream.on_item(item) {
            StreamNext::Continue => WaitStep::NextEvent,
            StreamNext::Done(run) => match self.from_run {
                Some(convert) => self.finish(Ok(convert(run))),
                None => self.finish(Err(Error::InvalidRequest("not a run wait".into()))),
            },
            StreamNext::Poll(id) => {
                self.id = Some(id);
                self.next_check()
            }
            StreamNext::Fail(e) => self.finish(Err(e)),
        }
    }
}

impl Waiter<AgentRunResponse> {
    /// Open `stream` (a run's event stream) and follow it; on an
    /// `error`/`timeout` event, an early end or an idle stream, poll the
    /// run until terminal. `options.poll.deadline` covers it all.
    pub fn stream_then_poll(
        config: &crate::config::ClientConfig,
        stream: Result<crate::engine::CallMachine>,
        options: &WaitOptions,
        check: CheckCall,
    ) -> Self {
        let stream = stream.map(|m| m.idle_timeout(options.idle_timeout));
        let mut w = Self::new(config, &options.poll, check, Phase::Streaming(Some(stream)));
        w.from_run = Some(|run| *run);
        w
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
