//! The small adapter that lets one test function run against both clients:
//! both are [`Driver`]s of the same core [`Call`](seclai_core::Call), so a
//! test is a generic function over `H: Harness`; the harness only says how
//! to build a client, wait for a call's result, and drain a stream.

use bytes::Bytes;
use seclai_core::auth::TokenProvider;
use seclai_core::call::Driver;
use seclai_core::stream::OpenedHead;
use seclai_core::{Result, RetryBudget, RunEvent};
use seclai_gen::types::AgentRunResponse;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Client settings a test may change; `None` leaves the library default.
#[derive(Clone)]
pub struct Opts {
    /// Base URL (the test server).
    pub base_url: String,
    /// Read timeout.
    pub read_timeout: Option<Duration>,
    /// Overall timeout of one attempt.
    pub timeout: Option<Duration>,
    /// Largest JSON answer.
    pub max_response_bytes: Option<usize>,
    /// Retries per call (back-off is always short).
    pub max_retries: Option<u32>,
    /// Retry requests that may have reached the server.
    pub retry_non_idempotent: bool,
    /// The per-client retry budget.
    pub retry_budget: Option<RetryBudget>,
    /// API key.
    pub api_key: Option<String>,
    /// Header the API key is sent in.
    pub api_key_header: Option<String>,
    /// Static bearer token.
    pub access_token: Option<String>,
    /// Bearer token per request.
    pub token_provider: Option<Arc<dyn TokenProvider>>,
    /// `X-Account-Id`.
    pub account_id: Option<String>,
    /// Pinned `Seclai-Version`.
    pub api_version: Option<String>,
    /// Send no `Seclai-Version`.
    pub omit_api_version: bool,
    /// Accept unknown versions.
    pub allow_unknown_versions: bool,
    /// Headers sent with every request.
    pub default_headers: Vec<(String, String)>,
}

impl Opts {
    /// Defaults for `base_url`: short timeouts, no retries.
    pub fn new(base_url: String) -> Self {
        Opts {
            read_timeout: Some(Duration::from_secs(5)),
            max_response_bytes: Some(1024 * 1024),
            max_retries: Some(0),
            ..Opts::library(base_url)
        }
    }

    /// The library's defaults for `base_url` (short back-off), with an API
    /// key.
    pub fn library(base_url: String) -> Self {
        Opts {
            base_url,
            read_timeout: None,
            timeout: None,
            max_response_bytes: None,
            max_retries: None,
            retry_non_idempotent: false,
            retry_budget: None,
            api_key: Some("sk-test-123".into()),
            api_key_header: None,
            access_token: None,
            token_provider: None,
            account_id: None,
            api_version: None,
            omit_api_version: false,
            allow_unknown_versions: false,
            default_headers: Vec::new(),
        }
    }
}

/// One client under test.
pub trait Harness: Driver + Sized + std::fmt::Debug {
    /// The client's crate name.
    const NAME: &'static str;
    /// A client with `opts`, or the builder's error.
    fn try_build(opts: &Opts) -> Result<Self>;
    /// A client with `opts`.
    fn build(opts: &Opts) -> Self {
        Self::try_build(opts).expect("client builds")
    }
    /// The result of a sent call.
    fn block<T: Send + 'static>(out: Self::Out<T>) -> Result<T>;
    /// Every item of an event stream.
    fn drain(events: Self::Events) -> Vec<Result<RunEvent>>;
    /// An event stream read to its `done` run.
    fn final_run(events: Self::Events) -> Result<AgentRunResponse>;
    /// Every item of a paged list, or its first error.
    fn all_items<T: Send + 'static>(items: Self::Items<T>) -> Result<Vec<T>>;
    /// A download's whole body.
    fn body(download: Self::Download) -> Result<Bytes>;
    /// A download's opening response.
    fn head(download: &Self::Download) -> &OpenedHead;
    /// A download reporting its progress.
    fn progress(
        download: Self::Download,
        f: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    ) -> Self::Download;
    /// A download written to `path`.
    fn write_to(download: Self::Download, path: &Path) -> Result<PathBuf>;
}

/// Apply `o` to a client builder (both have the same setters).
macro_rules! configure {
    ($builder:expr, $o:expr) => {{
        let o: &Opts = $o;
        let mut policy = seclai_core::RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            retry_non_idempotent: o.retry_non_idempotent,
            ..Default::default()
        };
        if let Some(n) = o.max_retries {
            policy.max_retries = n;
        }
        let mut b = $builder
            .ignore_env()
            .base_url(o.base_url.clone())
            .retry_policy(policy);
        if let Some(d) = o.read_timeout {
            b = b.read_timeout(d);
        }
        if let Some(d) = o.timeout {
            b = b.timeout(d);
        }
        if let Some(n) = o.max_response_bytes {
            b = b.max_response_bytes(n);
        }
        if let Some(budget) = &o.retry_budget {
            b = b.retry_budget(budget.clone());
        }
        if let Some(k) = &o.api_key {
            b = b.api_key(k.clone());
        }
        if let Some(h) = &o.api_key_header {
            b = b.api_key_header(h.clone());
        }
        if let Some(t) = &o.access_token {
            b = b.access_token(t.clone());
        }
        if let Some(p) = &o.token_provider {
            let p = p.clone();
            b = b.token_provider(move || p.token());
        }
        if let Some(a) = &o.account_id {
            b = b.account_id(a.clone());
        }
        if let Some(v) = &o.api_version {
            b = b.api_version(v.clone());
        }
        if o.omit_api_version {
            b = b.omit_api_version();
        }
        if o.allow_unknown_versions {
            b = b.allow_unknown_versions(true);
        }
        for (name, value) in &o.default_headers {
            b = b.default_header(name.clone(), value.clone());
        }
        b.build()
    }};
}

impl Harness for seclai::Client {
    const NAME: &'static str = "seclai";
    fn try_build(o: &Opts) -> Result<Self> {
        configure!(seclai::Client::builder(), o)
    }
    fn block<T: Send + 'static>(out: Self::Out<T>) -> Result<T> {
        crate::rt().block_on(out)
    }
    fn drain(events: seclai::RunStream) -> Vec<Result<RunEvent>> {
        use futures_util::StreamExt;
        crate::rt().block_on(events.collect())
    }
    fn final_run(events: seclai::RunStream) -> Result<AgentRunResponse> {
        crate::rt().block_on(events.final_run())
    }
    fn all_items<T: Send + 'static>(items: seclai::ItemStream<T>) -> Result<Vec<T>> {
        use futures_util::TryStreamExt;
        crate::rt().block_on(items.try_collect())
    }
    fn body(download: seclai::Download) -> Result<Bytes> {
        crate::rt().block_on(download.bytes())
    }
    fn head(download: &seclai::Download) -> &OpenedHead {
        download
    }
    fn progress(
        download: seclai::Download,
        f: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    ) -> seclai::Download {
        download.progress(f)
    }
    fn write_to(download: seclai::Download, path: &Path) -> Result<PathBuf> {
        crate::rt().block_on(download.write_to(path))
    }
}

impl Harness for seclai_blocking::Client {
    const NAME: &'static str = "seclai-blocking";
    fn try_build(o: &Opts) -> Result<Self> {
        configure!(seclai_blocking::Client::builder(), o)
    }
    fn block<T: Send + 'static>(out: Self::Out<T>) -> Result<T> {
        out
    }
    fn drain(events: seclai_blocking::RunStream) -> Vec<Result<RunEvent>> {
        events.collect()
    }
    fn final_run(events: seclai_blocking::RunStream) -> Result<AgentRunResponse> {
        events.final_run()
    }
    fn all_items<T: Send + 'static>(items: seclai_blocking::ItemIter<T>) -> Result<Vec<T>> {
        items.collect()
    }
    fn body(download: seclai_blocking::Download) -> Result<Bytes> {
        download.bytes()
    }
    fn head(download: &seclai_blocking::Download) -> &OpenedHead {
        download
    }
    fn progress(
        download: seclai_blocking::Download,
        f: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    ) -> seclai_blocking::Download {
        download.progress(f)
    }
    fn write_to(download: seclai_blocking::Download, path: &Path) -> Result<PathBuf> {
        download.write_to(path)
    }
}

/// Instantiate generic test functions `fn name<H: Harness>()` of a module
/// for one client: `for_client!(seclai::Client; bounds::a, bounds::b);`.
#[macro_export]
macro_rules! for_client {
    ($client:ty; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::$module::$name::<$client>();
            }
        )*
    };
}
