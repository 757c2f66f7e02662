//! The small adapter that lets one test function run against both clients:
//! both are [`Driver`]s of the same core [`Call`](seclai_core::Call), so a
//! test is a generic function over `H: Harness`; the harness only says how
//! to build a client, wait for a call's result, and drain a stream.

use bytes::Bytes;
use seclai_core::call::Driver;
use seclai_core::{Result, RunEvent};
use std::time::Duration;

/// Client settings a test may change.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Base URL (the test server).
    pub base_url: String,
    /// Read timeout.
    pub read_timeout: Duration,
    /// Largest JSON answer.
    pub max_response_bytes: usize,
    /// Retries per call.
    pub max_retries: u32,
    /// API key.
    pub api_key: String,
}

impl Opts {
    /// Defaults for `base_url`: short timeouts, no retries.
    pub fn new(base_url: String) -> Self {
        Opts {
            base_url,
            read_timeout: Duration::from_secs(5),
            max_response_bytes: 1024 * 1024,
            max_retries: 0,
            api_key: "sk-test-123".into(),
        }
    }
}

/// One client under test.
pub trait Harness: Driver + Sized {
    /// The client's crate name.
    const NAME: &'static str;
    /// A client with `opts`.
    fn build(opts: &Opts) -> Self;
    /// The result of a sent call.
    fn block<T: Send + 'static>(out: Self::Out<T>) -> Result<T>;
    /// Every item of an event stream.
    fn drain(events: Self::Events) -> Vec<Result<RunEvent>>;
    /// A download's whole body.
    fn body(download: Self::Download) -> Result<Bytes>;
}

fn retries(n: u32) -> seclai_core::RetryPolicy {
    seclai_core::RetryPolicy {
        max_retries: n,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..Default::default()
    }
}

impl Harness for seclai::Client {
    const NAME: &'static str = "seclai";
    fn build(o: &Opts) -> Self {
        seclai::Client::builder()
            .ignore_env()
            .base_url(o.base_url.clone())
            .api_key(o.api_key.clone())
            .read_timeout(o.read_timeout)
            .max_response_bytes(o.max_response_bytes)
            .retry_policy(retries(o.max_retries))
            .build()
            .expect("client builds")
    }
    fn block<T: Send + 'static>(out: Self::Out<T>) -> Result<T> {
        crate::rt().block_on(out)
    }
    fn drain(events: seclai::RunStream) -> Vec<Result<RunEvent>> {
        use futures_util::StreamExt;
        crate::rt().block_on(events.collect())
    }
    fn body(download: seclai::Download) -> Result<Bytes> {
        crate::rt().block_on(download.bytes())
    }
}

impl Harness for seclai_blocking::Client {
    const NAME: &'static str = "seclai-blocking";
    fn build(o: &Opts) -> Self {
        seclai_blocking::Client::builder()
            .ignore_env()
            .base_url(o.base_url.clone())
            .api_key(o.api_key.clone())
            .read_timeout(o.read_timeout)
            .max_response_bytes(o.max_response_bytes)
            .retry_policy(retries(o.max_retries))
            .build()
            .expect("client builds")
    }
    fn block<T: Send + 'static>(out: Self::Out<T>) -> Result<T> {
        out
    }
    fn drain(events: seclai_blocking::RunStream) -> Vec<Result<RunEvent>> {
        events.collect()
    }
    fn body(download: seclai_blocking::Download) -> Result<Bytes> {
        download.bytes()
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
