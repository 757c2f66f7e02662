//! Blocking Rust client for the Seclai API, on `ureq` (no async runtime).
//!
//! The API surface is the same as the async `seclai` crate's: every operation
//! is a method of [`Client`] named as in the official SDKs, and optional
//! inputs and per-call options chain on the returned [`Call`]. The one
//! difference is how a call goes out: [`Call::send`] blocks the current
//! thread until the answer is decoded.
//!
//! ```no_run
//! # fn demo() -> seclai_blocking::Result<()> {
//! let client = seclai_blocking::Client::builder().api_key("sk-...").build()?;
//! let page = client.list_agents().limit(20).send()?;
//! let agent = client.get_agent("agent-id").timeout(std::time::Duration::from_secs(5)).send()?;
//! let meta = client.get_agent("agent-id").send_with_meta()?;
//! println!("request id {:?}, remaining {:?}", meta.request_id, meta.rate_limit);
//! # let _ = (page, agent); Ok(()) }
//! ```
//!
//! Calls may be made from any thread, including one that runs inside an async
//! runtime's worker (nothing here blocks *on* a future), though a blocking
//! call there stalls that worker for the duration of the request.
//!
//! Errors are one [`Error`] type; see its helpers (`status()`,
//! `is_retryable()`, `request_id()`, …).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod call;
mod client;
mod paging;
mod runs;
mod transfer;

pub use call::{Call, RawCall};
pub use client::{Client, ClientBuilder};
pub use paging::{ItemIter, RawPaginator};
pub use runs::RunStream;
pub use seclai_core::multipart::Upload;
pub use seclai_core::poll::PollPolicy;
pub use seclai_core::webhook::{WebhookEvent, WebhookEventKind};
pub use seclai_core::{
    ApiError, ApiVersion, CallOptions, ClientConfig, DecodeError, Error, RateLimit, Response,
    Result, RetryBudget, RetryPolicy, StreamError, TransportError, TransportKind,
};
pub use seclai_core::{RunEvent, WaitOptions};
pub use seclai_gen::{DEFAULT_VERSION, KNOWN_VERSIONS, LATEST, Operation, ops, types};
pub use transfer::Download;
pub use {bytes, http};

macro_rules! methods {
    ($($t:tt)*) => { seclai_core::operation_methods!(Client, Call; $($t)*); };
}
seclai_gen::for_each_operation!(methods);

#[allow(dead_code)]
fn _assert_traits() {
    fn is<T: Clone + Send + Sync + 'static>() {}
    is::<Client>();
    is::<RawCall>();
    is::<Call<ops::GetAgent>>();
}

#[cfg(test)]
mod tests;
