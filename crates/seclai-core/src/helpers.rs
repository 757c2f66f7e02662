//! The composite helpers (`run_streaming_agent_and_wait`,
//! `run_agent_and_poll`, `wait_for_run`, `wait_for_agent_input_upload`),
//! written once: each builds a [`Waiter`] that the client's driver runs.

use crate::call::{Driver, Target};
use crate::engine::{CallMachine, Expect};
use crate::error::Result;
use crate::poll::PollPolicy;
use crate::render::CallOptions;
use crate::wait::{CheckCall, WaitOptions, Waiter};
use seclai_gen::ops;
use seclai_gen::types::{
    AgentRunRequest, AgentRunResponse, AgentRunStreamRequest, UploadAgentInputApiResponse,
};

fn machine<T: Target>(
    config: &crate::config::ClientConfig,
    target: &T,
    expect: Expect,
) -> Result<CallMachine> {
    let prepared = target.render(config, &CallOptions::default())?;
    Ok(CallMachine::new(config, prepared, expect))
}

/// The status check of a run: `GET /agents/runs/{run_id}`.
fn run_check(config: &crate::config::ClientConfig) -> CheckCall {
    let config = config.clone();
    Box::new(move |id, left| {
        machine(&config, &ops::GetAgentRun::new(id), Expect::Whole)
            .map(|m| m.deadline_at_most(left))
    })
}

/// Stream a run, then poll it if the stream does not end it.
pub fn stream_and_wait<C: Driver>(
    client: &C,
    agent_id: String,
    body: &AgentRunStreamRequest,
    options: &WaitOptions,
) -> Waiter<AgentRunResponse> {
    let config = client.config();
    let op = ops::RunStreamingAgent::new(agent_id, body.clone());
    let stream = machine(config, &op, Expect::Stream).map(|m| m.accept("text/event-stream"));
    Waiter::stream_then_poll(config, stream, options, run_check(config))
}

/// Start a run, then poll it to a terminal status.
pub fn run_and_poll<C: Driver>(
    client: &C,
    agent_id: String,
    body: &AgentRunRequest,
    policy: &PollPolicy,
) -> Waiter<AgentRunResponse> {
    let config = client.config();
    let first = machine(
        config,
        &ops::RunAgent::new(agent_id, body.clone()),
        Expect::Whole,
    );
    Waiter::call_then_poll(config, first, policy, run_check(config))
}

/// Poll a run to a terminal status.
pub fn wait_for_run<C: Driver>(
    client: &C,
    run_id: String,
    policy: &PollPolicy,
) -> Waiter<AgentRunResponse> {
    let config = client.config();
    Waiter::poll(config, run_id, policy, run_check(config))
}

/// Poll an agent input upload until `ready` or `failed`.
pub fn wait_for_upload<C: Driver>(
    client: &C,
    agent_id: String,
    upload_id: String,
    policy: &PollPolicy,
) -> Waiter<UploadAgentInputApiResponse> {
    let config = client.config().clone();
    let check: CheckCall = Box::new(move |id, left| {
        machine(
            &config,
            &ops::GetAgentInputUploadStatus::new(agent_id.clone(), id),
            Expect::Whole,
        )
        .map(|m| m.deadline_at_most(left))
    });
    Waiter::poll(client.config(), upload_id, policy, check)
}

/// The `PUT /version` call of `update_api_version` (the known-version
/// guard applies to `Some`).
pub fn update_version<C: Driver>(client: &C, version: Option<&str>) -> Result<CallMachine> {
    let op = crate::render::update_api_version_op(client.config(), version)?;
    machine(client.config(), &op, Expect::Whole)
}

/// Defines the composite helpers on a client type (once per client, from
/// this one definition).
#[macro_export]
#[doc(hidden)]
macro_rules! client_helpers {
    ($client:ident, $builder:ident) => {
        impl ::std::fmt::Debug for $client {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($client))
                    .field("config", $crate::call::Driver::config(self))
                    .finish_non_exhaustive()
            }
        }

        impl $client {
            /// Start a builder.
            pub fn builder() -> $builder {
                $builder::default()
            }

            /// A client configured from the environment (`SECLAI_API_KEY`,
            /// `SECLAI_API_URL`, SSO profile).
            pub fn from_env() -> $crate::Result<$client> {
                $builder::default().build()
            }

            /// The configuration in use.
            pub fn config(&self) -> &$crate::ClientConfig {
                $crate::call::Driver::config(self)
            }

            /// Stream a run and return it once terminal, with
            /// [`WaitOptions::default`](crate::WaitOptions). Only a
            /// `completed` run is returned; a failed or cancelled one is
            /// [`StreamError::RunFailed`](crate::StreamError::RunFailed). On an
            /// `error`/`timeout` event, an early end or an idle stream it
            /// polls `GET /agents/runs/{run_id}` until a terminal status or the
            /// deadline.
            pub fn run_streaming_agent_and_wait(
                &self,
                agent_id: impl Into<String>,
                body: &$crate::seclai_gen::types::AgentRunStreamRequest,
            ) -> <$client as $crate::call::Driver>::Out<$crate::seclai_gen::types::AgentRunResponse> {
                self.run_streaming_agent_and_wait_with(agent_id, body, &$crate::WaitOptions::default())
            }

            /// `run_streaming_agent_and_wait` with explicit options; the
            /// deadline covers opening the stream, reading it and polling.
            pub fn run_streaming_agent_and_wait_with(
                &self,
                agent_id: impl Into<String>,
                body: &$crate::seclai_gen::types::AgentRunStreamRequest,
                options: &$crate::WaitOptions,
            ) -> <$client as $crate::call::Driver>::Out<$crate::seclai_gen::types::AgentRunResponse> {
                let w = $crate::helpers::stream_and_wait(self, agent_id.into(), body, options);
                $crate::call::Driver::wait(self, w)
            }

            /// Start a run (`POST /agents/{agent_id}/runs`) and poll it to a
            /// terminal status with the default
            /// [`PollPolicy`](crate::PollPolicy) (10 min deadline).
            pub fn run_agent_and_poll(
                &self,
                agent_id: impl Into<String>,
                body: &$crate::seclai_gen::types::AgentRunRequest,
            ) -> <$client as $crate::call::Driver>::Out<$crate::seclai_gen::types::AgentRunResponse> {
                self.run_agent_and_poll_with(agent_id, body, &$crate::PollPolicy::default())
            }

            /// `run_agent_and_poll` with an explicit policy.
            pub fn run_agent_and_poll_with(
                &self,
                agent_id: impl Into<String>,
                body: &$crate::seclai_gen::types::AgentRunRequest,
                policy: &$crate::PollPolicy,
            ) -> <$client as $crate::call::Driver>::Out<$crate::seclai_gen::types::AgentRunResponse> {
                let w = $crate::helpers::run_and_poll(self, agent_id.into(), body, policy);
                $crate::call::Driver::wait(self, w)
            }

            /// Poll `GET /agents/runs/{run_id}` until the run is terminal or
            /// the policy's deadline passes (the error then carries the last
            /// status).
            pub fn wait_for_run(
                &self,
                run_id: impl Into<String>,
                policy: &$crate::PollPolicy,
            ) -> <$client as $crate::call::Driver>::Out<$crate::seclai_gen::types::AgentRunResponse> {
                let w = $crate::helpers::wait_for_run(self, run_id.into(), policy);
                $crate::call::Driver::wait(self, w)
            }

            /// Poll an agent input upload until it is `ready` (returned) or
            /// `failed` ([`StreamError::RunFailed`](crate::StreamError::RunFailed)
            /// naming the upload), or the deadline.
            pub fn wait_for_agent_input_upload(
                &self,
                agent_id: impl Into<String>,
                upload_id: impl Into<String>,
                policy: &$crate::PollPolicy,
            ) -> <$client as $crate::call::Driver>::Out<$crate::seclai_gen::types::UploadAgentInputApiResponse> {
                let w = $crate::helpers::wait_for_upload(self, agent_id.into(), upload_id.into(), policy);
                $crate::call::Driver::wait(self, w)
            }

            /// An untyped request to any path (relative to the base URL), for
            /// endpoints newer than this SDK: a [`Call`](crate::Call) like
            /// any other (`.into_events()` and `.into_download()` open a stream or a
            /// download). Answers JSON, text (as a JSON string) or nothing
            /// (`null`).
            pub fn request(
                &self,
                method: $crate::__http::Method,
                path: impl Into<String>,
            ) -> $crate::call::Call<$client, $crate::raw::RawRequest> {
                $crate::call::Call::new(self.clone(), $crate::raw::RawRequest::new(method, path.into()))
            }

            /// Page through any list path, like the Python SDK's `paginate`:
            /// `client.paginate(Method::GET, "/agents").items()`.
            pub fn paginate(
                &self,
                method: $crate::__http::Method,
                path: impl Into<String>,
            ) -> $crate::raw::RawPaginator<$client> {
                $crate::raw::RawPaginator::new(self.clone(), method, path.into())
            }

            /// Pin the account's API version (`PUT /version`), or clear the
            /// pin with `None` (sent as JSON `null`). A version this SDK does
            /// not know is refused unless `allow_unknown_versions` is set.
            pub fn update_api_version(
                &self,
                version: Option<&str>,
            ) -> <$client as $crate::call::Driver>::Out<$crate::seclai_gen::types::ApiVersionResponse> {
                let m = $crate::helpers::update_version(self, version);
                $crate::call::Driver::run(self, m, |a| a.decode().map($crate::Response::into_value))
            }
        }
    };
}
