//! Streaming runs, waiting for runs and uploads, and run-and-poll.

use crate::Client;
use crate::client::{classify, read_body};
use seclai_core::poll::PollPolicy;
use seclai_core::render::prepare_long;
use seclai_core::wait::{Poller, StreamNext, StreamWaiter, WaitOptions, Watched};
use seclai_core::{Error, EventPump, FinalRun, Result, RunEvent, RunEventDecoder, StreamError};
use seclai_gen::ops;
use seclai_gen::types::{
    AgentRunRequest, AgentRunResponse, AgentRunStreamRequest, UploadAgentInputApiResponse,
};
use std::io::Read;
use std::time::{Duration, Instant};

/// The events of a streamed run, as a blocking [`Iterator`] that owns its
/// connection; dropping it closes the connection.
///
/// Ends after `done`, `error` or `timeout`; a stream cut before those ends
/// with a [`StreamError::EndedEarly`] item, a silent one with
/// [`StreamError::IdleTimeout`].
pub struct RunStream {
    reader: Option<ureq::BodyReader<'static>>,
    pump: EventPump,
    idle: Duration,
    buf: Vec<u8>,
    run_id: Option<String>,
}

seclai_core::run_stream_common!(RunStream);

impl RunStream {
    /// Read to the end and return the `done` run (no polling): a failed
    /// run, an `error`/`timeout` event or an early end is an error.
    pub fn final_run(mut self) -> Result<AgentRunResponse> {
        let mut fin = FinalRun::default();
        for item in self.by_ref() {
            if fin.on_item(item) {
                break;
            }
        }
        fin.finish(self.run_id())
    }
}

impl Iterator for RunStream {
    type Item = Result<RunEvent>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pump.pop() {
                self.note_run_id(&item);
                return Some(item);
            }
            if self.pump.is_done() {
                self.reader = None;
                return None;
            }
            let Some(reader) = self.reader.as_mut() else {
                self.pump.on_eof();
                continue;
            };
            match reader.read(&mut self.buf) {
                Ok(0) => {
                    self.reader = None;
                    self.pump.on_eof();
                }
                Ok(n) => self.pump.on_bytes(&self.buf[..n]),
                Err(e) => {
                    self.reader = None;
                    let err = classify(&ureq::Error::from(e)).with_maybe_sent(true);
                    if err.kind == seclai_core::TransportKind::Timeout {
                        self.pump.on_idle(self.idle);
                    } else {
                        self.pump.on_error(Error::Transport(err));
                    }
                }
            }
        }
    }
}

impl Client {
    /// Start a run and stream its events (`POST /agents/{agent_id}/runs/stream`).
    /// A 402/422 or any non-2xx is the error of this call; the idle timeout
    /// is the client's read timeout.
    ///
    /// ```no_run
    /// # fn demo(client: seclai_blocking::Client, req: seclai_blocking::types::AgentRunStreamRequest) -> seclai_blocking::Result<()> {
    /// for event in client.run_streaming_agent("agent-id", &req)? {
    ///     println!("{}", event?.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn run_streaming_agent(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunStreamRequest,
    ) -> Result<RunStream> {
        self.open_run_stream(agent_id.into(), body, self.config().read_timeout())
    }

    fn open_run_stream(
        &self,
        agent_id: String,
        body: &AgentRunStreamRequest,
        idle: Duration,
    ) -> Result<RunStream> {
        let op = ops::RunStreamingAgent::new(agent_id, body.clone());
        let prepared = prepare_long(self.config(), &op, "text/event-stream")?;
        let mut resp = self.open(prepared, Some(idle), None)?;
        let mut pump = EventPump::new(RunEventDecoder::new());
        let is_json = seclai_core::exchange::is_json_response(resp.headers());
        let reader = if is_json {
            let status = resp.status();
            let body = read_body(resp.body_mut(), u64::MAX).map_err(Error::Transport)?;
            pump.on_json(status, &body);
            None
        } else {
            Some(resp.into_body().into_reader())
        };
        Ok(RunStream {
            reader,
            pump,
            idle,
            buf: vec![0; 16 * 1024],
            run_id: None,
        })
    }

    /// Stream a run and return it once terminal, with [`WaitOptions::default`].
    /// Only a `completed` run is returned; a failed or cancelled one is
    /// [`StreamError::RunFailed`]. On an `error`/`timeout` event, an early
    /// end or an idle stream it polls `GET /agents/runs/{run_id}` until a
    /// terminal status or the deadline.
    pub fn run_streaming_agent_and_wait(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunStreamRequest,
    ) -> Result<AgentRunResponse> {
        self.run_streaming_agent_and_wait_with(agent_id, body, &WaitOptions::default())
    }

    /// [`run_streaming_agent_and_wait`](Self::run_streaming_agent_and_wait) with explicit options.
    pub fn run_streaming_agent_and_wait_with(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunStreamRequest,
        options: &WaitOptions,
    ) -> Result<AgentRunResponse> {
        let started = Instant::now();
        let idle = options
            .idle_timeout
            .min(options.poll.deadline.max(Duration::from_millis(1)));
        let mut stream = self.open_run_stream(agent_id.into(), body, idle)?;
        let mut waiter = StreamWaiter::new();
        let run_id = loop {
            let item = if started.elapsed() >= options.poll.deadline {
                Err(Error::Stream(StreamError::Deadline {
                    run_id: waiter.run_id().map(str::to_string),
                    last_status: None,
                    waited: started.elapsed(),
                }))
            } else {
                match stream.next() {
                    Some(item) => item,
                    None => Err(Error::Stream(StreamError::EndedEarly {
                        run_id: waiter.run_id().map(str::to_string),
                    })),
                }
            };
            match waiter.on_item(item) {
                StreamNext::Continue => {}
                StreamNext::Done(run) => return Ok(*run),
                StreamNext::Poll(id) => break id,
                StreamNext::Fail(e) => return Err(e),
            }
        };
        drop(stream);
        self.wait_for_run(run_id, &options.remaining(started.elapsed()))
    }

    /// Start a run (`POST /agents/{agent_id}/runs`) and poll it to a terminal
    /// status with the default [`PollPolicy`] (10 min deadline).
    pub fn run_agent_and_poll(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunRequest,
    ) -> Result<AgentRunResponse> {
        self.run_agent_and_poll_with(agent_id, body, &PollPolicy::default())
    }

    /// [`run_agent_and_poll`](Self::run_agent_and_poll) with an explicit policy.
    pub fn run_agent_and_poll_with(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunRequest,
        policy: &PollPolicy,
    ) -> Result<AgentRunResponse> {
        let run = self.run_agent(agent_id, body).send()?;
        if run.is_terminal() {
            return run.into_verdict();
        }
        self.wait_for_run(run.run_id, policy)
    }

    /// Poll `GET /agents/runs/{run_id}` until the run is terminal or the
    /// policy's deadline passes (the error then carries the last status).
    pub fn wait_for_run(
        &self,
        run_id: impl Into<String>,
        policy: &PollPolicy,
    ) -> Result<AgentRunResponse> {
        let run_id = run_id.into();
        poll_until(run_id.clone(), policy, || {
            self.get_agent_run(run_id.clone()).send()
        })
    }

    /// Poll an agent input upload until it is `ready` (returned) or `failed`
    /// ([`StreamError::RunFailed`] naming the upload), or the deadline.
    pub fn wait_for_agent_input_upload(
        &self,
        agent_id: impl Into<String>,
        upload_id: impl Into<String>,
        policy: &PollPolicy,
    ) -> Result<UploadAgentInputApiResponse> {
        let (agent_id, upload_id) = (agent_id.into(), upload_id.into());
        poll_until(upload_id.clone(), policy, || {
            self.get_agent_input_upload_status(agent_id.clone(), upload_id.clone())
                .send()
        })
    }
}

/// Check with `check` on the core's schedule until [`Poller::step`] says
/// the wait is over.
fn poll_until<T: Watched>(
    id: String,
    policy: &PollPolicy,
    mut check: impl FnMut() -> Result<T>,
) -> Result<T> {
    let mut poller = Poller::new(id, policy);
    loop {
        std::thread::sleep(poller.next_delay()?);
        if let Some(done) = poller.step(check())? {
            return Ok(done);
        }
    }
}
