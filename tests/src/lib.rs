//! Behaviour suites for both clients, written once as generic functions
//! over [`harness::Harness`] ([`suite`], [`bounds`]) and instantiated per
//! client with [`for_client!`] in `tests/tests/{suite,bounds}.rs`.

pub mod bounds;
pub mod harness;
pub mod spans;
pub mod suite;

pub use suite::{paging, requests, retries, runs, transfers};

/// A shared multi-threaded runtime for running the async client's calls
/// from plain `#[test]` functions.
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}
