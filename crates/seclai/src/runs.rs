//! Streaming runs, waiting for runs and uploads, and run-and-poll.

use crate::Client;
use crate::client::{classify, read_body};
use futures_core::Stream;
use futures_util::StreamExt;
use seclai_core::poll::PollPolicy;
use seclai_core::render::prepare_long;
use seclai_core::wait::{Poller, StreamNext, StreamWaiter, WaitOptions, Watched};
use seclai_core::{Error, EventPump, FinalRun, Result, RunEvent, RunEventDecoder, StreamError};
use seclai_gen::ops;
use seclai_gen::types::{
    AgentRunRequest, AgentRunResponse, AgentRunStreamRequest, UploadAgentInputApiResponse,
};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

type Inner = Pin<Box<dyn Stream<Item = Result<RunEvent>> + Send>>;

/// The events of a streamed run: a `'static` [`Stream`] that owns its
/// connection (no background task); dropping it closes the connection.
///
/// Ends after `done`, `error` or `timeout`; a stream cut before those ends
/// with a [`StreamError::EndedEarly`] item, a silent one with
/// [`StreamError::IdleTimeout`].
pub struct RunStream {
    inner: Inner,
    run_id: Option<String>,
}

seclai_core::run_stream_common!(RunStream);

impl RunStream {
    /// Read to the end and return the `done` run (no polling): a failed
    /// run, an `error`/`timeout` event or an early end is an error.
    pub async fn final_run(mut self) -> Result<AgentRunResponse> {
        let mut fin = FinalRun::default();
        while let Some(item) = self.next().await {
            if fin.on_item(item) {
                break;
            }
        }
        fin.finish(self.run_id())
    }
}

impl Stream for RunStream {
    type Item = Result<RunEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(item)) = &next {
            self.note_run_id(item);
        }
        next
    }
}

impl Client {
    /// Start a run and stream its events (`POST /agents/{agent_id}/runs/stream`).
    /// A 402/422 or any non-2xx is the error of this call; the idle timeout
    /// is the client's read timeout.
    ///
    /// ```no_run
    /// # async fn demo(client: seclai::Client, req: seclai::types::AgentRunStreamRequest) -> seclai::Result<()> {
    /// use futures_util::StreamExt;
    /// let mut events = client.run_streaming_agent("agent-id", &req).await?;
    /// while let Some(event) = events.next().await {
    ///     println!("{}", event?.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn run_streaming_agent(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunStreamRequest,
    ) -> Result<RunStream> {
        self.open_run_stream(agent_id.into(), body, self.config().read_timeout())
            .await
    }

    async fn open_run_stream(
        &self,
        agent_id: String,
        body: &AgentRunStreamRequest,
        idle: Duration,
    ) -> Result<RunStream> {
        let op = ops::RunStreamingAgent::new(agent_id, body.clone());
        let prepared = prepare_long(self.config(), &op, "text/event-stream")?;
        let resp = self.open(prepared, None).await?;
        let mut pump = EventPump::new(RunEventDecoder::new());
        let is_json = seclai_core::exchange::is_json_response(resp.headers());
        let resp = if is_json {
            let status = resp.status();
            let body = read_body(resp, usize::MAX)
                .await
                .map_err(Error::Transport)?;
            pump.on_json(status, &body);
            None
        } else {
            Some(resp)
        };
        let inner =
            futures_util::stream::unfold((resp, pump), move |(mut resp, mut pump)| async move {
                loop {
                    if let Some(item) = pump.pop() {
                        return Some((item, (resp, pump)));
                    }
                    if pump.is_done() {
                        return None;
                    }
                    let Some(r) = resp.as_mut() else {
                        pump.on_eof();
                        continue;
                    };
                    match tokio::time::timeout(idle, r.chunk()).await {
                        Err(_) => {
                            resp = None;
                            pump.on_idle(idle);
                        }
                        Ok(Ok(Some(bytes))) => pump.on_bytes(&bytes),
                        Ok(Ok(None)) => {
                            resp = None;
                            pump.on_eof();
                        }
                        Ok(Err(e)) => {
                            resp = None;
                            pump.on_error(Error::Transport(classify(&e).with_maybe_sent(true)));
                        }
                    }
                }
            });
        Ok(RunStream {
            inner: Box::pin(inner),
            run_id: None,
        })
    }

    /// Stream a run and return it once terminal, with [`WaitOptions::default`].
    /// Only a `completed` run is returned; a failed or cancelled one is
    /// [`StreamError::RunFailed`]. On an `error`/`timeout` event, an early
    /// end or an idle stream it polls `GET /agents/runs/{run_id}` until a
    /// terminal status or the deadline.
    pub async fn run_streaming_agent_and_wait(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunStreamRequest,
    ) -> Result<AgentRunResponse> {
        self.run_streaming_agent_and_wait_with(agent_id, body, &WaitOptions::default())
            .await
    }

    /// [`run_streaming_agent_and_wait`](Self::run_streaming_agent_and_wait) with explicit options.
    pub async fn run_streaming_agent_and_wait_with(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunStreamRequest,
        options: &WaitOptions,
    ) -> Result<AgentRunResponse> {
        let started = Instant::now();
        let mut stream = self
            .open_run_stream(agent_id.into(), body, options.idle_timeout)
            .await?;
        let mut waiter = StreamWaiter::new();
        let run_id = loop {
            let left = options.poll.deadline.saturating_sub(started.elapsed());
            let item = match tokio::time::timeout(left, stream.next()).await {
                Ok(Some(item)) => item,
                Ok(None) => Err(Error::Stream(StreamError::EndedEarly {
                    run_id: waiter.run_id().map(str::to_string),
                })),
                Err(_) => Err(Error::Stream(StreamError::Deadline {
                    run_id: waiter.run_id().map(str::to_string),
                    last_status: None,
                    waited: started.elapsed(),
                })),
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
            .await
    }

    /// Start a run (`POST /agents/{agent_id}/runs`) and poll it to a terminal
    /// status with the default [`PollPolicy`] (10 min deadline).
    pub async fn run_agent_and_poll(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunRequest,
    ) -> Result<AgentRunResponse> {
        self.run_agent_and_poll_with(agent_id, body, &PollPolicy::default())
            .await
    }

    /// [`run_agent_and_poll`](Self::run_agent_and_poll) with an explicit policy.
    pub async fn run_agent_and_poll_with(
        &self,
        agent_id: impl Into<String>,
        body: &AgentRunRequest,
        policy: &PollPolicy,
    ) -> Result<AgentRunResponse> {
        let run = self.run_agent(agent_id, body).send().await?;
        if run.is_terminal() {
            return run.into_verdict();
        }
        self.wait_for_run(run.run_id, policy).await
    }

    /// Poll `GET /agents/runs/{run_id}` until the run is terminal or the
    /// policy's deadline passes (the error then carries the last status).
    pub async fn wait_for_run(
        &self,
        run_id: impl Into<String>,
        policy: &PollPolicy,
    ) -> Result<AgentRunResponse> {
        let run_id = run_id.into();
        poll_until(run_id.clone(), policy, || {
            self.get_agent_run(run_id.clone()).send()
        })
        .await
    }

    /// Poll an agent input upload until it is `ready` (returned) or `failed`
    /// ([`StreamError::RunFailed`] naming the upload), or the deadline.
    pub async fn wait_for_agent_input_upload(
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
        .await
    }
}

/// Check with `check` on the core's schedule until [`Poller::step`] says
/// the wait is over.
async fn poll_until<T: Watched, F: Future<Output = Result<T>>>(
    id: String,
    policy: &PollPolicy,
    mut check: impl FnMut() -> F,
) -> Result<T> {
    let mut poller = Poller::new(id, policy);
    loop {
        tokio::time::sleep(poller.next_delay()?).await;
        if let Some(done) = poller.step(check().await)? {
            return Ok(done);
        }
    }
}
