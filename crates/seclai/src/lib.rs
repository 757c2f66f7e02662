//! Async Rust client for the Seclai API, on `reqwest` and `tokio`.
//!
//! Every operation of the API is a method of [`Client`] named as in the
//! official SDKs; optional inputs and per-call options chain on the returned
//! [`Call`], which you `.await`:
//!
//! ```no_run
//! # async fn demo() -> seclai::Result<()> {
//! let client = seclai::Client::builder().api_key("sk-...").build()?;
//! let page = client.list_agents().limit(20).await?;
//! let agent = client.get_agent("agent-id").timeout(std::time::Duration::from_secs(5)).await?;
//! let meta = client.get_agent("agent-id").send_with_meta().await?;
//! println!("request id {:?}, remaining {:?}", meta.request_id, meta.rate_limit);
//! # let _ = (page, agent); Ok(()) }
//! ```
//!
//! Errors are one [`Error`] type; see its helpers (`status()`,
//! `is_retryable()`, `request_id()`, …).

#![deny(missing_docs)]

mod call;
mod client;
mod paging;
mod runs;
mod transfer;

pub use call::{BoxFuture, Call, RawCall};
pub use client::{Client, ClientBuilder};
pub use paging::{ItemStream, RawPaginator};
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
/// The `Stream` trait of the streams this crate returns, and the
/// combinators (`StreamExt::next`, `TryStreamExt::try_collect`) to use them
/// without adding a dependency.
pub use {futures_core, futures_util};

macro_rules! methods {
    ($($t:tt)*) => { seclai_core::operation_methods!(Client, Call; $($t)*); };
}
seclai_gen::for_each_operation!(methods);

#[allow(dead_code)]
fn _assert_traits() {
    fn is<T: Clone + Send + Sync + 'static>() {}
    is::<Client>();
}
