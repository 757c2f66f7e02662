//! [`FakeSeclai`]: an in-process fake of the Seclai HTTP API built on
//! [`httpmock`].
//!
//! Today this is a thin wrapper: start it, point the client at
//! [`FakeSeclai::url`] and register expectations through
//! [`FakeSeclai::server`] with httpmock's own API.
//!
//! ```
//! use seclai_testkit::fake::FakeSeclai;
//!
//! let fake = FakeSeclai::start();
//! let mock = fake.server().mock(|when, then| {
//!     when.method("GET").path("/agents");
//!     then.status(200).header("content-type", "application/json").body("[]");
//! });
//! // ... exercise the client against `fake.url()` ...
//! assert_eq!(mock.calls(), 0);
//! ```

use std::fmt;

use httpmock::MockServer;

/// A fake Seclai API server running in-process on `127.0.0.1`.
///
/// Dropping it returns the underlying [`MockServer`] to httpmock's pool
/// (with all of its mocks removed).
pub struct FakeSeclai {
    server: MockServer,
}

impl fmt::Debug for FakeSeclai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSeclai")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl FakeSeclai {
    /// Starts (or takes from httpmock's pool) a local mock server.
    ///
    /// This may block while httpmock's server pool is exhausted.
    pub fn start() -> Self {
        Self {
            server: MockServer::start(),
        }
    }

    /// The base URL of the fake, e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.base_url()
    }

    /// The base URL joined with `path` (which should start with `/`).
    pub fn url_for(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The underlying httpmock server, for registering mocks with httpmock's
    /// API (`server().mock(|when, then| ...)`).
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    // -----------------------------------------------------------------------
    // Typed stubbing by operation descriptor goes here (e.g. a method taking
    // an operation descriptor plus a response and registering the matching
    // method/path mock). Keep it layered on `self.server` so raw httpmock
    // mocks and typed stubs can be mixed in one test.
    // -----------------------------------------------------------------------
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{request_raw, split_response};

    #[test]
    fn mock_is_hit_by_a_plain_tcp_request() {
        let fake = FakeSeclai::start();
        let mock = fake.server().mock(|when, then| {
            when.method("GET")
                .path("/agents/ag_1")
                .query_param("expand", "runs")
                .header("x-api-key", "secret");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"id":"ag_1"}"#);
        });

        let port = fake.server().port();
        let request = format!(
            "GET /agents/ag_1?expand=runs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             x-api-key: secret\r\nConnection: close\r\n\r\n"
        );
        let response = request_raw(&fake.url(), request.as_bytes());
        let (head, body) = split_response(&response);

        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, br#"{"id":"ag_1"}"#);
        assert_eq!(mock.calls(), 1);
        assert_eq!(fake.url_for("/x"), format!("{}/x", fake.url()));
    }
}
