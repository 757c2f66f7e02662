//! Behaviour suites for both clients, written once ([`behaviour_suite!`])
//! and instantiated per client in `tests/tests/*_client.rs`.

pub mod bounds;
pub mod harness;
pub mod spans;
mod suite;

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
