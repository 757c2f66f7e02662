//! Transport-independent ("sans-IO") building blocks of the Seclai SDK.
//!
//! Nothing in this crate performs network I/O or depends on an async runtime.
//! The async (`reqwest`) and blocking (`ureq`) clients feed bytes, headers and
//! timings into the types defined here and act on what they return:
//!
//! - [`error`]: the single [`Error`] type and the decoding of API error bodies.
//! - [`retry`]: when to retry a failed request and how long to wait.
//! - [`sse`]: an incremental Server-Sent Events decoder.
//! - [`poll`]: the back-off schedule used while waiting for a run to finish.
//! - [`ratelimit`]: rate-limit and request-id response headers.
//! - [`secret`]: a wrapper that keeps API keys out of logs.
//! - [`sso`]: SSO profiles (`seclai auth login`) and their token refresh.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod auth;
pub mod call;
pub mod config;
pub mod download;
#[doc(hidden)]
pub mod drive;
pub mod engine;
pub mod error;
pub mod exchange;
mod flat_json;
#[doc(hidden)]
pub mod helpers;
pub mod methods;
pub mod multipart;
pub mod paging;
pub mod poll;
pub mod ratelimit;
pub mod raw;
pub mod render;
pub mod retry;
pub mod run_events;
pub mod secret;
pub mod sse;
pub mod sso;
pub mod stream;
pub mod wait;
pub mod webhook;

pub use auth::{Credentials, ResolveStep, TokenProvider};
#[doc(hidden)]
pub use bytes as __bytes;
pub use call::{Call, Download, Events, Json, Multipart};
pub use config::{ApiVersion, ClientConfig, ConfigBuilder};
pub use error::{ApiError, DecodeError, Error, Result, StreamError, TransportError, TransportKind};
pub use exchange::{Exchange, Response};
#[doc(hidden)]
pub use http as __http;
pub use poll::{PollPolicy, PollSchedule};
pub use ratelimit::RateLimit;
pub use render::{CallOptions, Prepared};
pub use retry::{Decision, Outcome, RetryBudget, RetryPolicy};
pub use run_events::{EventPump, FinalRun, RawJson, RunEvent, RunEventDecoder, Token};
pub use seclai_gen;
pub use secret::Secret;
pub use sse::{SseDecoder, SseError, SseEvent, SseEventRef};
pub use stream::OpenedHead;
pub use wait::{Poller, StreamNext, StreamWaiter, WaitOptions};
