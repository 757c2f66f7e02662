//! Async Rust client for the Seclai API, on `reqwest` and `tokio`.
//!
//! Every operation of the API is a method of [`Client`] named as in the
//! official SDKs. Each returns a [`Call`]: optional inputs and per-call
//! options chain on it, and you `.await` it (or `.send().await`). JSON
//! calls, event streams, uploads and downloads are all calls with the same
//! options:
//!
//! ```no_run
//! # async fn demo(req: seclai::types::AgentRunStreamRequest) -> seclai::Result<()> {
//! use std::time::Duration;
//! let client = seclai::Client::builder().api_key("sk-...").build()?;
//! let page = client.list_agents().limit(20).await?;
//! let agent = client.get_agent("agent-id").timeout(Duration::from_secs(5)).await?;
//! let meta = client.get_agent("agent-id").send_with_meta().await?;
//! println!("request id {:?}, remaining {:?}", meta.request_id, meta.rate_limit);
//! let events = client
//!     .run_streaming_agent("agent-id", &req)
//!     .deadline(Duration::from_secs(300))
//!     .header("x-trace", "svc")
//!     .await?;
//! # let _ = (page, agent, events); Ok(()) }
//! ```
//!
//! Errors are one [`Error`] type; see its helpers (`status()`,
//! `is_retryable()`, `request_id()`, …).

#![deny(missing_docs)]

mod body;
mod client;
mod driver;

pub use body::{Download, ItemStream, RunStream};
pub use client::{Client, ClientBuilder};
pub use driver::BoxFuture;
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
/// The `Stream` trait of the streams this crate returns, and the
/// combinators (`StreamExt::next`, `TryStreamExt::try_collect`) to use them
/// without adding a dependency.
pub use {futures_core, futures_util};

/// A call on this client: [`seclai_core::call::Call`] with the async driver.
/// `.await` it, or `.send().await`.
pub type Call<T, K = seclai_core::call::Json> = seclai_core::call::Call<Client, T, K>;
/// The kinds of [`Call`]: JSON answers, event streams, downloads, uploads.
pub use seclai_core::call::{Download as DownloadKind, Events, Json, Multipart};
/// A raw request (`client.request(..)`).
pub use seclai_core::raw::{RawPaginator as RawPaginatorOf, RawRequest};
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
    fn send<T: Send + 'static>() {}
    send::<RunStream>();
    send::<Download>();
}
