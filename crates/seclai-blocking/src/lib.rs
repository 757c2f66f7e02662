//! Blocking Rust client for the Seclai API, on `ureq` (no async runtime).
//!
//! The API surface is the same as the async `seclai` crate's: every
//! operation is a method of [`Client`] named as in the official SDKs, and
//! optional inputs and per-call options chain on the returned [`Call`]. The
//! one difference is how a call goes out: `.send()` blocks the current
//! thread until the answer is decoded (or the stream or download opened).
//!
//! ```no_run
//! # fn demo(req: seclai_blocking::types::AgentRunStreamRequest) -> seclai_blocking::Result<()> {
//! use std::time::Duration;
//! let client = seclai_blocking::Client::builder().api_key("sk-...").build()?;
//! let page = client.list_agents().limit(20).send()?;
//! let agent = client.get_agent("agent-id").timeout(Duration::from_secs(5)).send()?;
//! let meta = client.get_agent("agent-id").send_with_meta()?;
//! println!("request id {:?}, remaining {:?}", meta.request_id, meta.rate_limit);
//! for event in client.run_streaming_agent("agent-id", &req).deadline(Duration::from_secs(300)).send()? {
//!     println!("{}", event?.name());
//! }
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

mod body;
mod client;
mod driver;

pub use body::{Download, ItemIter, RunStream};
pub use client::{Client, ClientBuilder};
pub use seclai_core::multipart::Upload;
pub use seclai_core::poll::PollPolicy;
pub use seclai_core::stream::{DownloadFeed, EventFeed};
pub use seclai_core::webhook::{WebhookEvent, WebhookEventKind};
pub use seclai_core::{
    ApiError, ApiVersion, ClientConfig, DecodeError, Error, OpenedHead, RateLimit, Response,
    Result, RetryBudget, RetryPolicy, RunEvent, StreamError, Token, TransportError, TransportKind,
    WaitOptions,
};
pub use seclai_gen::{
    DEFAULT_VERSION, KNOWN_VERSIONS, Kind, LATEST, Operation, Paginated, Pagination, ops, types,
};
pub use {bytes, http};

/// A call on this client: [`seclai_core::call::Call`] with the blocking
/// driver; `.send()` sends it.
pub type Call<T, K = seclai_core::call::Json> = seclai_core::call::Call<Client, T, K>;
/// The kinds of [`Call`]: JSON answers, event streams, downloads, uploads.
pub use seclai_core::call::{Download as DownloadKind, Events, Json, Multipart};
/// A raw request (`client.request(..)`).
pub use seclai_core::raw::RawRequest;
/// The raw paginator of `client.paginate(..)`.
pub type RawPaginator = seclai_core::raw::RawPaginator<Client>;

macro_rules! methods {
    ($($t:tt)*) => { seclai_core::operation_methods!(Client; $($t)*); };
}
seclai_gen::for_each_operation!(methods);
seclai_core::client_helpers!(Client, ClientBuilder);

#[allow(dead_code)]
fn _assert_traits() {
    fn is<T: Clone + Send + Sync + 'static>() {}
    is::<Client>();
    is::<Call<ops::GetAgent>>();
    fn send<T: Send + 'static>() {}
    send::<RunStream>();
    send::<Download>();
}

#[cfg(test)]
mod tests;
