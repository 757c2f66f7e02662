//! Test utilities for the Seclai Rust SDK.
//!
//! This crate is used by the SDK's own tests and examples, and is meant to be
//! usable from applications' tests too. It provides:
//!
//! - [`fake`]: [`FakeSeclai`], an in-process fake API server built on
//!   [`httpmock`] (re-exported so versions always match);
//! - [`raw`]: [`RawServer`], a tiny scripted HTTP/1.1 server (std only) for
//!   wire-level misbehaviour httpmock cannot express: truncated bodies,
//!   stalls, slow chunked delivery, hung connections;
//! - [`sse`]: [`SseScript`], builders for the bytes of `text/event-stream`
//!   responses, including a canned Seclai agent-run stream;
//! - [`hostile`]: [`HostileServer`](hostile::HostileServer), servers that go
//!   silent, stall, trickle, never end or echo secrets, to prove bounds;
//! - [`demo`]: [`DemoSeclai`], a small stateful fake of the API (agents,
//!   streamed and polled runs, uploads, downloads) for examples and demos;
//! - [`sso_login`]: [`FakeSsoLogin`], a fake hosted sign-in (authorize and
//!   token endpoints with PKCE) for testing `seclai auth login`.
#![deny(missing_docs)]

pub mod demo;
pub mod fake;
pub mod hostile;
pub mod raw;
pub mod sse;
pub mod sso_login;

#[cfg(test)]
mod test_support;

pub use demo::DemoSeclai;
pub use fake::FakeSeclai;
pub use httpmock;
pub use raw::{Action, RawServer, RecordedRequest, Script};
pub use sse::{LineEnding, SseScript};
pub use sso_login::FakeSsoLogin;
