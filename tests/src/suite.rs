//! The behaviour suite: generic functions over [`Harness`], run against
//! both clients from `tests/tests/suite.rs` (like [`crate::bounds`]).
//!
//! - [`requests`]: what a call sends, how answers and errors read, what
//!   the builder accepts;
//! - [`retries`]: retries, timeouts and transport failures;
//! - [`runs`]: streamed runs, waiting and polling;
//! - [`transfers`]: uploads and downloads;
//! - [`paging`]: paged lists.

pub mod paging;
pub mod requests;
pub mod retries;
pub mod runs;
pub mod transfers;

use crate::harness::{Harness, Opts};
use seclai_core::call::{Call, Events};
use seclai_core::raw::RawRequest;
use seclai_gen::ops;
use seclai_gen::types::AgentRunStreamRequest;
use seclai_testkit::raw::{RawServer, Script};

const UNREAD: &str = r#"{"count": 3}"#;

fn ok_json(body: &str) -> Script {
    Script::json(200, body)
}

/// The library's defaults against `server` (short back-off), key `sk-test-123`.
fn client<H: Harness>(server: &RawServer) -> H {
    H::build(&Opts::library(server.url()))
}

/// As [`client`], with `f` applied to the options.
fn client_with<H: Harness>(server: &RawServer, f: impl FnOnce(&mut Opts)) -> H {
    H::build(&opts(server, f))
}

/// The options of [`client_with`].
fn opts(server: &RawServer, f: impl FnOnce(&mut Opts)) -> Opts {
    let mut o = Opts::library(server.url());
    f(&mut o);
    o
}

/// `client.get_unread_model_alert_count()`.
fn unread<H: Harness>(c: &H) -> Call<H, ops::GetUnreadModelAlertCount> {
    Call::new(c.clone(), ops::GetUnreadModelAlertCount::new())
}

/// `client.request(method, path)`.
fn raw<H: Harness>(c: &H, method: http::Method, path: &str) -> Call<H, RawRequest> {
    Call::new(c.clone(), RawRequest::new(method, path.into()))
}

fn stream_req() -> AgentRunStreamRequest {
    serde_json::from_value(serde_json::json!({"input": "hi"})).expect("valid request")
}

/// `client.run_streaming_agent(agent, &stream_req())`.
fn run_stream<H: Harness>(c: &H, agent: &str) -> Call<H, ops::RunStreamingAgent, Events> {
    Call::new(c.clone(), ops::RunStreamingAgent::new(agent, stream_req())).into_events()
}
